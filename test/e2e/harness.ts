// A real VS Code for tests: code-server (VS Code in a browser, from npm) driven by Debian's chromium through
// playwright-core. code-server does not accept --extensionDevelopmentPath, so the packaged dist/switchyard.vsix is
// installed into a fresh extensions dir. Every process started here is killed by close(), and on process exit.
//
//   const vs = await launchVSCode({ settings: { 'switchyard.privacy': 'local-only' } });
//   try { await vs.runCommand('Switchyard: Show Logs'); } finally { await vs.close(); }
//
// Timeouts: SWITCHYARD_E2E_TIMEOUT_SCALE=<factor> multiplies every timeout here, in the tests (each node:test timeout
// too) and in test/integration (default 1; 2 under CI=1), e.g. `SWITCHYARD_E2E_TIMEOUT_SCALE=3 npm run test:e2e` on a
// busy machine. Write every timeout as `t(ms)` (./timeouts); synchronise on events (a DOM state, a log line, a file's
// content, a server's request count), never on a fixed sleep.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { t } from './timeouts';

export { t, timeoutScale } from './timeouts';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const resultsDir = path.join(repoRoot, 'test-results');
export const mainVsix = path.join(repoRoot, 'dist', 'switchyard.vsix');
export const integrationVsix = path.join(repoRoot, 'dist', 'switchyard-integration-tests.vsix');
const codeServerEntry = path.join(repoRoot, 'tools', 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const chromiumPath = process.env.SWITCHYARD_CHROMIUM ?? '/usr/bin/chromium';
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/** Settings that keep the workbench quiet and deterministic under test; callers' settings override them. */
const baseSettings = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'workbench.enableExperiments': false,
};

export interface LaunchOptions {
  /** User settings (settings.json) merged over quiet test defaults. */
  settings?: Record<string, unknown>;
  /** Extra environment for code-server; it reaches the extension host. */
  env?: Record<string, string>;
  /** Folder to open; default: a fresh empty temp folder. */
  workspace?: string;
  /** More .vsix files to install after dist/switchyard.vsix. */
  extraVsix?: string[];
  /** Install dist/switchyard.vsix (default true). */
  installMain?: boolean;
  /** Open the browser (default true). The extension host starts only when a window connects. */
  openBrowser?: boolean;
}

export interface VSCode {
  page: Page;
  url: string;
  port: number;
  tempDir: string;
  userDataDir: string;
  extensionsDir: string;
  workspace: string;
  /** F1, type the title, Enter; retries once (the first command after start-up can time out). */
  runCommand(title: string): Promise<void>;
  /** Texts of the notification toasts/center entries currently in the DOM. */
  notifications(): Promise<string[]>;
  waitForNotification(re: RegExp, timeoutMs?: number): Promise<string>; // timeoutMs default t(15_000)
  /** The extension's LogOutputChannel file ("<name>.log" under the user-data-dir's logs); '' if none yet. */
  outputChannelText(name: string): Promise<string>;
  /** Polls outputChannelText(name) until it matches. */
  waitForLog(name: string, re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>; // default t(20_000)
  /** A PNG under test-results/; returns its path. */
  screenshot(name: string): Promise<string>;
  /** code-server's own stdout/stderr so far. */
  serverLog(): string;
  close(): Promise<void>;
}

export function nodeForCodeServer(): string {
  // code-server needs Node 24. Under `npm run` process.execPath already is the pinned Node 24.
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 24) return process.execPath;
  return path.join(repoRoot, 'node_modules', '.bin', 'node');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && (v as unknown) !== false) return v;
    } catch (e) {
      lastError = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Every live process group we started, so an exiting test process never leaves orphans. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const pid of liveGroups) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    liveGroups.clear();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

async function killGroup(child: ChildProcess | undefined, graceMs = t(3000)): Promise<void> {
  if (!child?.pid) return;
  const pid = child.pid;
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  if (!gone()) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    await Promise.race([exited, sleep(graceMs)]);
  }
  // The group may hold children (extension host, pty host, watcher) even after the leader exited.
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* no such group: all gone */
  }
  liveGroups.delete(pid);
}

function codeServerArgs(userDataDir: string, extensionsDir: string): string[] {
  // Our own (empty) config file, so code-server never reads or writes ~/.config/code-server.
  const config = path.join(path.dirname(userDataDir), 'code-server.yaml');
  if (!fs.existsSync(config)) fs.writeFileSync(config, '');
  return [
    codeServerEntry,
    '--config',
    config,
    '--user-data-dir',
    userDataDir,
    '--extensions-dir',
    extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
  ];
}

/** `code-server --install-extension` for each .vsix (one process, several flags). */
export function installExtensions(vsixFiles: string[], userDataDir: string, extensionsDir: string): void {
  if (vsixFiles.length === 0) return;
  for (const f of vsixFiles) {
    if (!fs.existsSync(f)) {
      throw new Error(`${f} is missing: run \`npm run package\` (and scripts/build-integration-tests.mjs for the test runner)`);
    }
  }
  const args = [...codeServerArgs(userDataDir, extensionsDir), ...vsixFiles.flatMap((f) => ['--install-extension', f]), '--force'];
  const r = spawnSync(nodeForCodeServer(), args, { encoding: 'utf8', timeout: t(120_000) });
  if (r.status !== 0 || /Failed Installing|error/i.test(r.stderr ?? '')) {
    throw new Error(`code-server --install-extension failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** Chromium's helpers can still be writing into its profile for a moment after close: retry, never throw. */
async function removeDir(dir: string): Promise<void> {
  const deadline = Date.now() + t(5000);
  while (Date.now() < deadline) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
      if (!fs.existsSync(dir)) return;
    } catch {
      /* retry */
    }
    await sleep(250);
  }
  process.stderr.write(`harness: could not remove ${dir}\n`);
}

function findFiles(dir: string, name: string, out: string[] = []): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findFiles(p, name, out);
    else if (e.name === name) out.push(p);
  }
  return out;
}

export async function launchVSCode(options: LaunchOptions = {}): Promise<VSCode> {
  installExitHook();
  if (!fs.existsSync(codeServerEntry)) {
    throw new Error(`code-server is not installed: run \`node scripts/ensure-code-server.mjs\` (test:e2e does it).`);
  }
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-e2e-'));
  const userDataDir = path.join(tempDir, 'user-data');
  const extensionsDir = path.join(tempDir, 'extensions');
  const browserProfile = path.join(tempDir, 'chromium');
  const workspace = options.workspace ? path.resolve(options.workspace) : path.join(tempDir, 'workspace');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.mkdirSync(workspace, { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...baseSettings, ...options.settings }, null, 2));

  let server: ChildProcess | undefined;
  let context: BrowserContext | undefined;
  let log = '';
  const logFile = path.join(tempDir, 'code-server.log');
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      await context?.close();
    } catch {
      /* browser already gone */
    }
    await killGroup(server);
    if (!process.env.SWITCHYARD_KEEP_E2E_TEMP) await removeDir(tempDir);
  };

  try {
    const vsix = [...(options.installMain === false ? [] : [mainVsix]), ...(options.extraVsix ?? [])];
    installExtensions(vsix, userDataDir, extensionsDir);

    const port = await freePort();
    const args = [
      ...codeServerArgs(userDataDir, extensionsDir),
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      workspace,
    ];
    server = spawn(nodeForCodeServer(), args, {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so close() reaches its children too
    });
    if (server.pid) liveGroups.add(server.pid);
    const logStream = fs.createWriteStream(logFile);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      logStream.write(chunk);
    };
    server.stdout!.on('data', onData);
    server.stderr!.on('data', onData);
    server.once('exit', () => logStream.end());

    const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`;
    await waitFor(
      'code-server to answer',
      async () => {
        if (server!.exitCode !== null) throw new Error(`code-server exited with ${server!.exitCode}`);
        try {
          const r = await fetch(`http://127.0.0.1:${port}/healthz`);
          return r.ok;
        } catch {
          return false;
        }
      },
      t(30_000),
    );

    let page: Page | undefined;
    if (options.openBrowser !== false) {
      context = await chromium.launchPersistentContext(browserProfile, {
        executablePath: chromiumPath,
        headless: true,
        args: chromiumArgs,
        viewport: { width: 1400, height: 900 },
      });
      page = context.pages()[0] ?? (await context.newPage());
      await page.goto(url, { waitUntil: 'domcontentloaded', timeout: t(60_000) });
      await settle(page);
    }

    const vs: VSCode = {
      get page() {
        if (!page) throw new Error('launched with openBrowser: false');
        return page;
      },
      url,
      port,
      tempDir,
      userDataDir,
      extensionsDir,
      workspace,
      runCommand: async (title) => {
        try {
          await runCommandOnce(vs.page, title);
        } catch (first) {
          // ENVIRONMENT.md: the first command right after start-up can time out once.
          await vs.page.keyboard.press('Escape').catch(() => {});
          await vs.page
            .locator('.quick-input-widget')
            .waitFor({ state: 'hidden', timeout: t(10_000) })
            .catch(() => {});
          try {
            await runCommandOnce(vs.page, title);
          } catch (second) {
            throw new Error(`command "${title}" failed twice: ${String(first)} / ${String(second)}`);
          }
        }
      },
      notifications: async () => {
        const texts = await vs.page.locator('.notification-list-item .notification-list-item-message').allInnerTexts();
        return texts.map((t) => t.trim()).filter(Boolean);
      },
      waitForNotification: async (re, timeoutMs = t(15_000)) =>
        waitFor(`a notification matching ${re}`, async () => (await vs.notifications()).find((t) => re.test(t)), timeoutMs),
      outputChannelText: async (name) => {
        const files = findFiles(path.join(userDataDir, 'logs'), `${name}.log`);
        return files.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
      },
      waitForLog: async (name, re, timeoutMs = t(20_000)) =>
        waitFor(`"${name}" log to match ${re}`, async () => (await vs.outputChannelText(name)).match(re) ?? undefined, timeoutMs),
      screenshot: async (name) => {
        fs.mkdirSync(resultsDir, { recursive: true });
        const file = path.join(resultsDir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
        await vs.page.screenshot({ path: file });
        return file;
      },
      serverLog: () => log,
      close,
    };
    return vs;
  } catch (e) {
    process.stderr.write(`\n--- code-server log (${logFile}) ---\n${log || '(empty)'}\n--- end of code-server log ---\n`);
    await close();
    throw e;
  }
}

/** Waits until the workbench is up and idle: status bar rendered, no progress bar busy for a moment. */
async function settle(page: Page): Promise<void> {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: t(60_000) });
  await page.locator('.statusbar').waitFor({ state: 'visible', timeout: t(30_000) });
  // The explorer shows the folder once the remote file system is connected.
  await page
    .locator('.explorer-folders-view, .explorer-viewlet')
    .first()
    .waitFor({ state: 'attached', timeout: t(30_000) })
    .catch(() => {});
  let quietSince = Date.now();
  const deadline = Date.now() + t(15_000);
  while (Date.now() < deadline) {
    const busy = await page.locator('.monaco-progress-container.active').count();
    if (busy > 0) quietSince = Date.now();
    else if (Date.now() - quietSince > 1500) break;
    await sleep(250);
  }
}

async function runCommandOnce(page: Page, title: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  await page
    .locator('.monaco-workbench')
    .click({ position: { x: 700, y: 300 } })
    .catch(() => {});
  await page.keyboard.press('F1');
  await input.waitFor({ state: 'visible', timeout: t(10_000) });
  await input.fill(`>${title}`);
  // Wait for the exact entry, then accept it.
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: t(10_000) });
  await page.keyboard.press('Enter');
  // Done when the palette has closed, or when the command replaced it with its own quick pick (input no longer '>…').
  const widget = page.locator('.quick-input-widget:not(.quick-input-widget-closing)');
  await waitFor(
    `the command palette to accept "${title}"`,
    async () => !(await widget.isVisible()) || !(await input.inputValue()).startsWith('>'),
    t(10_000),
    100,
  );
}
