/**
 * `npm run bench`: runs every bench/*.bench.ts in turn (each in its own process, so one area's memory and warm-up
 * do not colour another's) and prints their numbers. `npm run bench -- router` runs only files whose name matches.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const filter = process.argv[2];
const files = readdirSync(__dirname)
  .filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n## ${f.replace(/\.bench\.ts$/, '')}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`(${f} failed with exit code ${r.status})`);
  }
}
process.exitCode = failed ? 1 : 0;
