// A minimal test framework for tests that run inside a real VS Code extension host (see runner/main.ts).
// `test(name, fn)` registers a test; `run()` runs them in order, each with a timeout, and reports results.
// Use node:assert for assertions. Timeouts scale with SWITCHYARD_E2E_TIMEOUT_SCALE (see test/e2e/timeouts.ts): the
// extension host inherits it from code-server's environment.
import { t as scaled } from '../e2e/timeouts';

export { t } from '../e2e/timeouts';

export interface TestResult {
  name: string;
  ok: boolean;
  durationMs: number;
  error?: string;
}

interface Registered {
  name: string;
  fn: () => unknown | Promise<unknown>;
  timeoutMs: number;
}

const registered: Registered[] = [];
let prefix: string[] = [];

export function suite(name: string, body: () => void): void {
  prefix.push(name);
  try {
    body();
  } finally {
    prefix.pop();
  }
}

/** `timeoutMs` is the budget on an idle machine; it is scaled here. */
export function test(name: string, fn: () => unknown | Promise<unknown>, timeoutMs = 30_000): void {
  registered.push({ name: [...prefix, name].join(' › '), fn, timeoutMs: scaled(timeoutMs) });
}

export async function run(onResult?: (r: TestResult) => void): Promise<TestResult[]> {
  const results: TestResult[] = [];
  for (const t of registered) {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let result: TestResult;
    try {
      await Promise.race([
        Promise.resolve().then(t.fn),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${t.timeoutMs} ms`)), t.timeoutMs);
        }),
      ]);
      result = { name: t.name, ok: true, durationMs: performance.now() - started };
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      result = { name: t.name, ok: false, durationMs: performance.now() - started, error };
    } finally {
      clearTimeout(timer);
    }
    results.push(result);
    onResult?.(result);
  }
  return results;
}

/** For the runner's own check: zero registered tests is a failure, not a pass. */
export function registeredCount(): number {
  return registered.length;
}
