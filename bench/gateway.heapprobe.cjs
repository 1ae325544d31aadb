// Preloaded into the gateway process by bench/gateway.bench.ts (with --expose-gc): on SIGUSR2, note the memory V8 has
// committed (heapTotal, and its young generation: new space grows in one step under a high allocation rate), then
// collect garbage and append the live heap and the memory outside it (Buffers, ArrayBuffers), as one
// "heapUsed external heapTotal newSpace" line to $BENCH_HEAP_FILE, so the soak can tell a leak from high-water marks.
const fs = require('node:fs');
const v8 = require('node:v8');
process.on('SIGUSR2', () => {
  const committed = process.memoryUsage().heapTotal;
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  global.gc();
  const m = process.memoryUsage();
  fs.appendFileSync(process.env.BENCH_HEAP_FILE, `${m.heapUsed} ${m.external} ${committed} ${young ? young.space_size : 0}\n`);
});
