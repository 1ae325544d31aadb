/**
 * The parent side of the embedded llama.cpp provider: one child process (worker.ts) shared by every `embedded`
 * provider of a Switchyard, started on the first request, stopped after an idle timeout, and started again after
 * a crash. A crash or out-of-memory in llama.cpp ends only the child: requests in flight fail with a typed
 * `server` error and the next request gets a fresh process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { ErrorKind } from '../../errors';
import { silentLogger, type Logger } from '../../host';
import type { WorkerToolEvent } from './functions';
import type { ChatJob, ChatOutcome, FromWorker, InfillJob, InfillOutcome, ModelDetails, ToWorker, WorkerSettings } from './protocol';

export interface EmbeddedRuntimeOptions {
  /** Where GGUF files live when a provider entry names no `modelPath` (the extension's global storage). */
  modelsDir?: string;
  /** Stop the child (freeing every model) after this long without a request. 0 keeps it. Default 5 minutes. */
  idleTimeoutMs?: number;
  /** Models kept in memory at once. Default 1. */
  maxLoadedModels?: number;
  /** "auto" uses a GPU when one is usable; false forces the CPU. Default "auto". */
  gpu?: 'auto' | false;
  /** Generation threads. Default: cores - 1 (at least 1). */
  maxThreads?: number;
  /** The worker script; default dist/embeddedWorker.js next to the bundle, or worker.ts under tsx from source. */
  workerPath?: string;
  logger?: Logger;
}

/** A failure of the child or reported by it; the provider turns it into a ProviderError naming itself. */
export class EmbeddedError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'EmbeddedError';
  }
}

export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;

/** A request to the worker before it gets its id. */
type WorkerRequest = ToWorker extends infer M ? (M extends { type: 'abort' } ? never : Omit<M, 'id'>) : never;

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  onText?(text: string, reasoning: boolean): void;
  onTool?(event: WorkerToolEvent): void;
}

/** The worker next to this file: the bundled .js in dist, or the .ts source (run through tsx) in tests. */
function defaultWorker(): { path: string; execArgv: string[] } {
  const bundled = join(__dirname, 'embeddedWorker.js');
  if (existsSync(bundled)) return { path: bundled, execArgv: [] };
  return { path: join(__dirname, 'worker.ts'), execArgv: ['--import', 'tsx'] };
}

export class EmbeddedRuntime {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private options: EmbeddedRuntimeOptions;
  private readonly logger: Logger;
  /** Child processes started so far (1 + restarts). */
  starts = 0;

  constructor(options: EmbeddedRuntimeOptions = {}) {
    this.options = { ...options };
    this.logger = options.logger ?? silentLogger;
  }

  get modelsDir(): string | undefined {
    return this.options.modelsDir;
  }

  /** The child's process id while it runs (tests kill it to prove a crash is contained). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** New settings: the idle timeout applies at once; thread, GPU and model limits from the next child. */
  configure(options: Partial<EmbeddedRuntimeOptions>): void {
    const restart = options.maxLoadedModels !== this.options.maxLoadedModels || options.gpu !== this.options.gpu;
    this.options = { ...this.options, ...options };
    if (restart && this.child && this.pending.size === 0) this.stop('settings changed');
    this.armIdle();
  }

  private settings(): WorkerSettings {
    return {
      gpu: this.options.gpu ?? 'auto',
      maxThreads: this.options.maxThreads ?? Math.max(1, availableParallelism() - 1),
      maxLoadedModels: this.options.maxLoadedModels ?? 1,
    };
  }

  private start(): ChildProcess {
    const worker = this.options.workerPath
      ? { path: this.options.workerPath, execArgv: this.options.workerPath.endsWith('.ts') ? ['--import', 'tsx'] : [] }
      : defaultWorker();
    const child = fork(worker.path, [], {
      execArgv: worker.execArgv,
      env: { ...process.env, SWITCHYARD_EMBEDDED_SETTINGS: JSON.stringify(this.settings()) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.starts++;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    child.on('message', (m: FromWorker) => this.onMessage(m));
    child.on('error', (e) => this.logger.warn(`embedded llama.cpp process: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.pending.size === 0) return;
      const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
      const tail = stderr.trim().split('\n').slice(-3).join(' | ');
      const message =
        `the embedded llama.cpp process ${how}${tail ? `: ${tail}` : ''}. ` +
        `It restarts on the next request; if this repeats, the model may need more memory than is free.`;
      this.logger.warn(message);
      const failed = [...this.pending.values()];
      this.pending.clear();
      for (const p of failed) p.reject(new EmbeddedError('server', message));
    });
    this.logger.info(`embedded llama.cpp process started (pid ${child.pid})`);
    return child;
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'ready') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'text') {
      p.onText?.(m.text, m.reasoning === true);
      return;
    }
    if (m.type === 'tool') {
      p.onTool?.(m.event);
      return;
    }
    this.pending.delete(m.id);
    if (m.type === 'result') p.resolve(m.value);
    else p.reject(new EmbeddedError(m.kind, m.message));
    this.armIdle();
  }

  /** Lets the host process exit while the child has nothing to do (a CLI must not hang on an idle model). */
  private setRef(ref: boolean): void {
    const child = this.child;
    if (!child) return;
    // The IPC channel and the stderr pipe are handles of their own: each keeps the event loop alive until unref'd.
    const handles = [child.channel, child.stderr] as ({ ref?(): void; unref?(): void } | null | undefined)[];
    if (ref) {
      child.ref();
      for (const h of handles) h?.ref?.();
    } else {
      child.unref();
      for (const h of handles) h?.unref?.();
    }
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.pending.size > 0 || !this.child) return;
    this.setRef(false);
    const ms = this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (ms > 0) {
      this.idleTimer = setTimeout(() => this.stop('idle'), ms);
      this.idleTimer.unref();
    }
  }

  private request<T>(
    message: WorkerRequest,
    signal?: AbortSignal,
    onText?: (t: string, reasoning: boolean) => void,
    onTool?: (event: WorkerToolEvent) => void,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(new DOMException('aborted', 'AbortError'));
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.child ??= this.start();
    this.setRef(true);
    const child = this.child;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        // The child stops generating and answers with what it has; the caller stops waiting now.
        if (child.connected) child.send({ type: 'abort', id } satisfies ToWorker);
        this.pending.delete(id);
        this.armIdle();
        reject(new DOMException('aborted', 'AbortError'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v as T);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
        onText,
        onTool,
      });
      child.send({ ...message, id } as ToWorker, (e) => {
        if (!e) return;
        this.pending.delete(id);
        reject(new EmbeddedError('server', `cannot reach the embedded llama.cpp process: ${e.message}`));
      });
    });
  }

  /** A chat answer: text pieces to `onText`, tool calls (requests with tools) to `onTool`, in the order made. */
  chat(
    request: ChatJob,
    onText: (text: string, reasoning: boolean) => void,
    signal?: AbortSignal,
    onTool?: (event: WorkerToolEvent) => void,
  ): Promise<ChatOutcome> {
    return this.request<ChatOutcome>({ type: 'chat', ...request }, signal, onText, onTool);
  }

  embed(modelPath: string, texts: string[], signal?: AbortSignal): Promise<number[][]> {
    return this.request<number[][]>({ type: 'embed', modelPath, texts }, signal);
  }

  /** Exact token counts with the model's own tokenizer (loads the model when needed). */
  tokenize(modelPath: string, texts: string[], signal?: AbortSignal): Promise<number[]> {
    return this.request<number[]>({ type: 'tokenize', modelPath, texts }, signal);
  }

  /** Fills in the middle (see InfillJob). */
  infill(modelPath: string, job: InfillJob, signal?: AbortSignal): Promise<InfillOutcome> {
    return this.request<InfillOutcome>({ type: 'infill', modelPath, ...job }, signal);
  }

  info(modelPath: string, signal?: AbortSignal): Promise<ModelDetails> {
    return this.request<ModelDetails>({ type: 'info', modelPath }, signal);
  }

  /** Stops the child (every model leaves memory); the next request starts a new one. */
  stop(reason = 'stopped'): void {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.logger.info(`embedded llama.cpp process stopped (${reason})`);
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const p of failed) p.reject(new EmbeddedError('canceled', `the embedded llama.cpp process was stopped (${reason})`));
    child.kill();
  }

  dispose(): void {
    this.stop('disposed');
  }

  /** As dispose(), resolving once the child has exited (at most 2 s: a child stuck in native code is not waited on). */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      timer.unref();
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.stop('disposed');
    await exited;
  }
}
