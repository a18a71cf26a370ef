// V8's flags for each side, on the node command line of whatever starts it: `ferry start`
// (the supervisor), the systemd units (deploy/systemd, kept in step by
// test/install.test.ts), the process gateway of the tests and simulations, and the bench.
// They must be on the command line: V8 sizes the young generation when the process
// starts, and --max-semi-space-size set from inside the process changes nothing.
//
// Measured with `npm run bench` and --trace-gc (BENCHMARKS.md, "Memory"):
// - A small young generation (V8's default is up to 2 × 16 MiB) and an old space that
//   grows by 30 % over what the last full collection kept: what a payment allocates lives
//   for its fsync and its payment-server round trip, and with V8's defaults the inner
//   side's RSS reached several times its live heap (about 30 MiB): 221 MiB at the peak.
// - Not --optimize-for-size on the inner side: it held the peak about 10 MiB lower, but
//   ran a memory-reducing full collection every few hundred payments (175 in one short
//   bench, pauses up to 33 ms, the tail at half rate) and cost 0.3-0.5 ms of CPU per
//   payment.
// - --liftoff-only on the outer side: undici parses HTTP with llhttp compiled to
//   WebAssembly, and V8's optimising WebAssembly compiler took about 30 MiB for a fraction
//   of a second at the first payment, which set the outer side's peak RSS (106-110 MiB
//   against 78-80 without it). The baseline compiler's code parses a response as well.
export const SIDE_NODE_FLAGS = Object.freeze({
  inner: Object.freeze(['--max-semi-space-size=2', '--heap-growing-percent=30']),
  outer: Object.freeze(['--max-semi-space-size=1', '--optimize-for-size', '--liftoff-only']),
} satisfies Record<'inner' | 'outer', readonly string[]>);

export type Side = keyof typeof SIDE_NODE_FLAGS;
