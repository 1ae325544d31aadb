// Preloaded into the gateway process by bench/gateway.bench.ts (with --expose-gc): on SIGUSR2, collect garbage and
// append the live heap size to $BENCH_HEAP_FILE, so the soak can tell a leak from the allocator's high-water mark.
const fs = require('node:fs');
process.on('SIGUSR2', () => {
  global.gc();
  fs.appendFileSync(process.env.BENCH_HEAP_FILE, `${process.memoryUsage().heapUsed}\n`);
});
