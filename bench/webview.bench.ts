/**
 * `npm run bench`: the webviews' cost to the user.
 *  1. Bundle sizes: each webview-ui/<name>.main.ts built as `npm run package` builds it (minified), raw and gzip.
 *  2. "Open view" → first paint, in a real VS Code (code-server + headless Chromium, the e2e harness): the wall time
 *     from the click on the Switchyard activity bar icon (chat) or the command (settings panel) to the
 *     `switchyard-first-paint` mark the webview sets in its first animation frame (after its first render), both read
 *     on the browser's clock. Each open creates the webview anew (it is not retained while hidden).
 * Numbers, not pass/fail. Part 2 needs dist/switchyard.vsix and code-server (`npm run test:e2e` prepares both);
 * without them it says so and prints only the sizes.
 */
import esbuild from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { launchVSCode, mainVsix, repoRoot, sleep } from '../test/e2e/harness';
import { webviewFrame } from '../test/e2e/webviews';

const RUNS = Number(process.env.BENCH_WEBVIEW_RUNS ?? 5);
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

async function sizes(): Promise<void> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-webview-bench-'));
  const entries = fs
    .readdirSync(path.join(repoRoot, 'webview-ui'))
    .filter((f) => /^[a-z-]+\.main\.ts$/.test(f))
    .map((f) => path.join(repoRoot, 'webview-ui', f));
  await esbuild.build({
    entryPoints: entries,
    outdir: out,
    bundle: true,
    minify: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    loader: { '.ttf': 'file' },
    logLevel: 'silent',
  });
  console.log('webview bundles (minified, as packaged):');
  let total = 0;
  for (const f of fs.readdirSync(out).sort()) {
    const bytes = fs.readFileSync(path.join(out, f));
    total += bytes.length;
    console.log(`  ${f.padEnd(28)} ${kb(bytes.length).padStart(10)}   gzip ${kb(gzipSync(bytes).length).padStart(9)}`);
  }
  console.log(`  ${'total'.padEnd(28)} ${kb(total).padStart(10)}   (the codicon font is shared by both views)`);
  fs.rmSync(out, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function firstPaint(): Promise<void> {
  const codeServer = path.join(repoRoot, 'tools', 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  if (!fs.existsSync(mainVsix) || !fs.existsSync(codeServer)) {
    console.log(
      'open view → first paint: skipped (needs dist/switchyard.vsix and code-server: run `npm run package && node scripts/ensure-code-server.mjs`)',
    );
    return;
  }
  const vs = await launchVSCode({ settings: { 'switchyard.providers': [], 'switchyard.privacy': 'local-only' } });
  try {
    await vs.waitForLog('Switchyard', /Switchyard activated in/, 60_000);
    const icon = vs.page
      .locator('.activitybar .action-item a[aria-label^="Switchyard"], .activitybar .action-item[aria-label^="Switchyard"]')
      .first();
    const paintAt = async (view: 'chat' | 'settings', after: number) => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const frame = await webviewFrame(vs.page, view, 30_000);
        const at = await frame
          .evaluate(() => {
            const m = performance.getEntriesByName('switchyard-first-paint')[0];
            return m ? performance.timeOrigin + m.startTime : undefined;
          })
          .catch(() => undefined);
        if (at !== undefined && at > after) return at;
        await sleep(20);
      }
      throw new Error(`no first paint of the ${view} view`);
    };
    const chat: number[] = [];
    for (let i = 0; i < RUNS + 1; i++) {
      const t0 = await vs.page.evaluate(() => Date.now());
      await icon.click(); // open
      const t1 = await paintAt('chat', t0);
      if (i > 0)
        chat.push(t1 - t0); // the first open also loads the extension's view provider: reported apart
      else console.log(`chat view, first open in the window: ${(t1 - t0).toFixed(0)} ms`);
      await icon.click(); // close (disposes the webview)
      await sleep(500);
    }
    console.log(
      `chat view, open → first paint: median ${median(chat).toFixed(0)} ms over ${chat.length} (${chat.map((x) => x.toFixed(0)).join(', ')})`,
    );
    const panel: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = await vs.page.evaluate(() => Date.now());
      await vs.runCommand('Switchyard: Open Model Settings');
      panel.push((await paintAt('settings', t0)) - t0);
      await vs.page.keyboard.press('Control+W');
      await sleep(500);
    }
    console.log(
      `settings panel, command → first paint: median ${median(panel).toFixed(0)} ms over ${panel.length} (${panel.map((x) => x.toFixed(0)).join(', ')}; includes the command palette)`,
    );
  } finally {
    await vs.close();
  }
}

async function main() {
  await sizes();
  await firstPaint();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
