/**
 * The request scheduler for inline completions: each call waits a debounce (so a burst of keystrokes makes one
 * request, not one per key), and each new call supersedes the previous one: a previous call still waiting resolves
 * undefined, and one already running has its AbortController aborted, so the cancel reaches the fetch (an Ollama that
 * is not disconnected keeps generating for nobody).
 *
 * The debounce adapts to the model (as Tabby's does): it is the base debounce, or half the moving p50 of the model's
 * recent latencies when that is longer, capped at `maxDebounceMs`. A slow model is asked less often while the user
 * types; a fast one answers soon after the user pauses.
 *
 * Time comes from an injected clock, so tests drive it without real sleeps.
 */
import { isAbortError } from '../errors';

export const DEFAULT_DEBOUNCE_MS = 250;
export const DEFAULT_MAX_DEBOUNCE_MS = 1000;
/** How many recent latencies the p50 is taken over. */
export const DEFAULT_LATENCY_WINDOW = 16;

export interface SchedulerClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: SchedulerClock = {
  now: () => performance.now(),
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface SchedulerOptions {
  debounceMs?: number;
  maxDebounceMs?: number;
  latencyWindow?: number;
  clock?: SchedulerClock;
}

/** Runs one completion request; must pass `signal` on to its fetch. Undefined: nothing to show. */
export type CompletionRun<Req, Res> = (request: Req, signal: AbortSignal) => Promise<Res | undefined>;

interface Pending {
  controller: AbortController;
  settle: (value: undefined) => void;
  timer?: unknown;
  unlink?: () => void;
}

export class CompletionScheduler<Req, Res> {
  private readonly base: number;
  private readonly max: number;
  private readonly window: number;
  private readonly clock: SchedulerClock;
  private readonly latencies: number[] = [];
  private current: Pending | undefined;
  /** Requests handed to `run` (for the status bar, the bench and tests). */
  started = 0;

  constructor(
    private readonly run: CompletionRun<Req, Res>,
    options: SchedulerOptions = {},
  ) {
    this.base = Math.max(0, options.debounceMs ?? DEFAULT_DEBOUNCE_MS);
    this.max = Math.max(this.base, options.maxDebounceMs ?? DEFAULT_MAX_DEBOUNCE_MS);
    this.window = Math.max(1, options.latencyWindow ?? DEFAULT_LATENCY_WINDOW);
    this.clock = options.clock ?? systemClock;
  }

  /** The moving p50 of recent successful requests' latencies (ms), undefined before the first. */
  p50LatencyMs(): number | undefined {
    if (this.latencies.length === 0) return undefined;
    const s = [...this.latencies].sort((a, b) => a - b);
    return s[Math.floor((s.length - 1) / 2)];
  }

  /** The debounce the next call waits. */
  debounceMs(): number {
    const p50 = this.p50LatencyMs();
    return Math.min(this.max, Math.max(this.base, p50 === undefined ? 0 : Math.round(p50 / 2)));
  }

  /**
   * Waits the debounce, then runs the request. Resolves undefined when superseded by a later call, when `signal`
   * aborts, or when the run was aborted; rejects with the run's error otherwise.
   */
  schedule(request: Req, signal?: AbortSignal): Promise<Res | undefined> {
    this.cancelCurrent();
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise<Res | undefined>((resolve, reject) => {
      const pending: Pending = { controller: new AbortController(), settle: resolve };
      this.current = pending;
      if (signal) {
        const onAbort = () => this.cancel(pending);
        signal.addEventListener('abort', onAbort, { once: true });
        pending.unlink = () => signal.removeEventListener('abort', onAbort);
      }
      const start = () => {
        pending.timer = undefined;
        if (pending.controller.signal.aborted) return;
        this.started++;
        const t0 = this.clock.now();
        let running: Promise<Res | undefined>;
        try {
          running = this.run(request, pending.controller.signal);
        } catch (err) {
          running = Promise.reject(err); // a run that throws before its first await rejects like any other
        }
        running.then(
          (value) => {
            if (pending.controller.signal.aborted) return resolve(undefined);
            this.record(this.clock.now() - t0);
            this.finish(pending);
            resolve(value);
          },
          (err: unknown) => {
            this.finish(pending);
            if (pending.controller.signal.aborted || isAbortError(err)) resolve(undefined);
            else reject(err);
          },
        );
      };
      // No debounce (the CLI, a setting of 0): start on a microtask, not a timer (Node's shortest is ~1 ms).
      const delay = this.debounceMs();
      if (delay > 0) pending.timer = this.clock.setTimeout(start, delay);
      else queueMicrotask(start);
    });
  }

  /** Cancels whatever is waiting or running (the editor lost focus, completions were turned off). */
  cancelCurrent(): void {
    if (this.current) this.cancel(this.current);
  }

  private cancel(p: Pending): void {
    if (p.timer !== undefined) this.clock.clearTimeout(p.timer);
    p.timer = undefined;
    p.controller.abort();
    this.finish(p);
    p.settle(undefined);
  }

  private finish(p: Pending): void {
    p.unlink?.();
    p.unlink = undefined;
    if (this.current === p) this.current = undefined;
  }

  private record(ms: number): void {
    this.latencies.push(ms);
    if (this.latencies.length > this.window) this.latencies.shift();
  }
}
