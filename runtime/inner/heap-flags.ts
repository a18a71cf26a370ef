// V8's heap settings for the inner process, applied before anything else is loaded
// (main.ts imports this module first). The inner side's live heap is small (about 25 MiB
// after 6,300 payments, from a heap snapshot), but what a payment allocates lives for
// its fsync and its payment server round trip, long enough to be promoted, and V8 let the
// old space grow to several times the live heap before collecting it: 180–260 MiB of
// RSS at the peak, 130 MiB of it V8 pages. Optimising for size makes V8 collect sooner
// and return pages; a smaller young generation keeps its share bounded. Measured with
// the bench (--idle 0 --payments 2000): inner peak RSS 182–262 MiB -> 137–145 MiB. They
// are not free: in paired 5 s runs of the device generator on a quiet machine the inner
// side took 1.05–1.65 ms of CPU per payment with them and 0.88–1.05 ms without (peak RSS
// 166–175 against 286–288 MiB), so they trade CPU for memory and are worth re-deciding.
import v8 from 'node:v8';

export const INNER_HEAP = Object.freeze({
  semiSpaceMiB: 4, // the young generation's halves (V8's default is up to 16 MiB each)
  flags: ['--optimize-for-size'],
});

v8.setFlagsFromString(`--max-semi-space-size=${INNER_HEAP.semiSpaceMiB}`);
for (const flag of INNER_HEAP.flags) v8.setFlagsFromString(flag);
