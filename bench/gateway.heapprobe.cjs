// Preloaded into the gateway process by bench/gateway.bench.ts (with --expose-gc): on SIGUSR2, collect garbage and
// append the live heap and the memory outside it (Buffers, ArrayBuffers) as one "heapUsed external" line to
// $BENCH_HEAP_FILE, so the soak can tell a leak from the allocator's high-water mark.
const fs = require('node:fs');
process.on('SIGUSR2', () => {
  global.gc();
  const m = process.memoryUsage();
  fs.appendFileSync(process.env.BENCH_HEAP_FILE, `${m.heapUsed} ${m.external}\n`);
});
