// V8's flags for each side, on the node command line of whatever starts it: `ferry start`
// (the supervisor), the systemd units (deploy/systemd, kept in step by
// test/install.test.ts), the process gateway of the tests and simulations, and the bench.
// They must be on the command line: V8 sizes the young generation when the process
// starts, and --max-semi-space-size set from inside the process changes nothing.
//
// Measured with `npm run bench` (BENCHMARKS.md, "Memory"):
// - A small young generation (V8's default is up to 2 × 16 MiB) and --optimize-for-size
//   (the old space grows less before it is collected): what a payment allocates lives for
//   its fsync and its payment-server round trip, and with the defaults the inner side's
//   RSS reached several times its live heap (about 30 MiB).
// - --liftoff-only on the outer side: undici parses HTTP with llhttp compiled to
//   WebAssembly, and V8's optimising WebAssembly compiler took about 30 MiB for a fraction
//   of a second at the first payment, which set the outer side's peak RSS (106-110 MiB
//   against 78-80 without it). The baseline compiler's code parses a response as well.
export const SIDE_NODE_FLAGS = Object.freeze({
  inner: Object.freeze(['--max-semi-space-size=2', '--optimize-for-size']),
  outer: Object.freeze(['--max-semi-space-size=1', '--optimize-for-size', '--liftoff-only']),
} satisfies Record<'inner' | 'outer', readonly string[]>);

export type Side = keyof typeof SIDE_NODE_FLAGS;
