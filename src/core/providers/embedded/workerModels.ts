/**
 * The embedded worker's models (worker.ts): node-llama-cpp and the llama.cpp runtime, loaded once; GGUF models loaded
 * on first use, the least recently used unloaded beyond `maxLoadedModels`; one job at a time per model (its context
 * has one sequence). node-llama-cpp is ESM with top-level await: it is imported with `await import()`, never required.
 */
import type {
  ChatWrapper,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaEmbeddingContext,
  LlamaGrammar,
  LlamaModel,
} from 'node-llama-cpp';
import type { ErrorKind } from '../../errors';
import type { ResponseFormat } from '../types';
import type { WorkerSettings } from './protocol';

export type NodeLlamaCpp = typeof import('node-llama-cpp');

export interface Loaded {
  path: string;
  model: LlamaModel;
  context?: LlamaContext;
  sequence?: LlamaContextSequence;
  chatWrapper?: ChatWrapper;
  embedding?: Promise<LlamaEmbeddingContext>;
  /** One request at a time per model: the context has one sequence. */
  tail: Promise<unknown>;
  lastUsed: number;
}

/** An error of a kind the parent reports as that ProviderError kind. */
export class WorkerError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export const settings: WorkerSettings = JSON.parse(process.env.SWITCHYARD_EMBEDDED_SETTINGS ?? '{}') as WorkerSettings;
let lib: Promise<NodeLlamaCpp> | undefined;
let llama: Promise<Llama> | undefined;
const models = new Map<string, Promise<Loaded>>();

export function getLib(): Promise<NodeLlamaCpp> {
  lib ??= import('node-llama-cpp');
  return lib;
}

export function getLlamaOnce(): Promise<Llama> {
  llama ??= getLib().then((m) =>
    m.getLlama({
      gpu: settings.gpu === false ? false : 'auto',
      build: 'never',
      maxThreads: Math.max(1, settings.maxThreads || 1),
      logLevel: m.LlamaLogLevel.error,
    }),
  );
  return llama;
}

async function unload(entry: Promise<Loaded>): Promise<void> {
  const loaded = await entry.catch(() => undefined);
  if (!loaded) return;
  await loaded.tail.catch(() => undefined);
  if (loaded.embedding) await (await loaded.embedding.catch(() => undefined))?.dispose();
  await loaded.context?.dispose();
  await loaded.model.dispose();
}

/** The model at `path`, loading it (and unloading the least recently used beyond the limit) when needed. */
export async function modelFor(path: string): Promise<Loaded> {
  let entry = models.get(path);
  if (!entry) {
    const limit = Math.max(1, settings.maxLoadedModels || 1);
    while (models.size >= limit) {
      const all = await Promise.all([...models].map(async ([p, e]) => ({ p, e, used: (await e.catch(() => undefined))?.lastUsed ?? 0 })));
      const oldest = all.sort((a, b) => a.used - b.used)[0]!;
      models.delete(oldest.p);
      await unload(oldest.e);
    }
    entry = (async () => {
      const l = await getLlamaOnce();
      const model = await l.loadModel({ modelPath: path });
      return { path, model, tail: Promise.resolve(), lastUsed: Date.now() } satisfies Loaded;
    })();
    models.set(path, entry);
    entry.catch(() => models.delete(path));
  }
  const loaded = await entry;
  loaded.lastUsed = Date.now();
  return loaded;
}

export function serial<T>(loaded: Loaded, job: () => Promise<T>): Promise<T> {
  const run = loaded.tail.then(job);
  loaded.tail = run.catch(() => undefined);
  return run;
}

export const DEFAULT_CONTEXT = 4096;

export async function ensureContext(loaded: Loaded, requested: number | undefined): Promise<LlamaContextSequence> {
  if (loaded.sequence) return loaded.sequence;
  const m = await getLib();
  const size = Math.min(loaded.model.trainContextSize, requested ?? DEFAULT_CONTEXT);
  loaded.context = await loaded.model.createContext({ contextSize: size });
  loaded.sequence = loaded.context.getSequence();
  // Resolving the chat template costs ~300 ms: once per model, not per request.
  const probe = new m.LlamaChatSession({ contextSequence: loaded.sequence, autoDisposeSequence: false });
  loaded.chatWrapper = probe.chatWrapper;
  probe.dispose({ disposeSequence: false });
  return loaded.sequence;
}

/**
 * Structured output as a grammar: llama.cpp can only sample tokens that keep the answer valid JSON (of the schema),
 * so even a small model's answer parses. A schema llama.cpp's converter does not take is the caller's error.
 */
export async function grammarFor(format: ResponseFormat): Promise<LlamaGrammar> {
  const l = await getLlamaOnce();
  if (format.type === 'json_object') return l.getGrammarFor('json');
  try {
    // The schema is the caller's JSON: its type is only known at run time (the converter checks it).
    return await l.createGrammarForJsonSchema(format.schema as never);
  } catch (e) {
    throw new WorkerError('server', `the JSON schema cannot be used as a grammar: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function countTokens(model: LlamaModel, text: string): number {
  return text === '' ? 0 : model.tokenize(text).length;
}
