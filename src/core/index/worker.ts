/**
 * The index's worker thread (bundled as dist/indexWorker.js). Parsing, hashing and SQL happen here, so the extension
 * host's event loop never waits on them. Requests come as { id, method, params } and are answered with
 * { id, result } or { id, error }; { type: 'cancel' } stops a running sync between two files; progress is posted as
 * { type: 'progress', progress }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IndexEngine, type EngineOptions } from './engine';

export type WorkerRequest =
  | { id: number; method: 'sync'; params: { force?: boolean } }
  | { id: number; method: 'update'; params: { paths: string[] } }
  | { id: number; method: 'clear'; params: Record<string, never> }
  | { id: number; method: 'pending'; params: { limit: number } }
  | { id: number; method: 'release'; params: { hashes: string[] } }
  | { id: number; method: 'putVectors'; params: { model: string; dims: number; items: { hash: string; vector: number[] }[] } }
  | { id: number; method: 'embedLimits'; params: Record<string, never> }
  | { id: number; method: 'setEmbedLimit'; params: { model: string } & import('./store').EmbedLimit }
  | { id: number; method: 'search'; params: import('./engine').SearchRequest }
  | { id: number; method: 'counts'; params: Record<string, never> }
  | { id: number; method: 'messages'; params: Record<string, never> }
  | { id: number; method: 'close'; params: Record<string, never> };

const port = parentPort!;
let engine: IndexEngine | undefined;
let openError: unknown;
try {
  engine = new IndexEngine(workerData as EngineOptions);
} catch (e) {
  openError = e;
}

function errorOf(e: unknown): { message: string; code?: string } {
  return { message: e instanceof Error ? e.message : String(e), code: (e as { code?: string }).code };
}

async function handle(req: WorkerRequest): Promise<unknown> {
  if (!engine) throw openError;
  switch (req.method) {
    case 'sync':
      return engine.sync((progress) => port.postMessage({ type: 'progress', progress }), req.params.force, req.id);
    case 'update':
      return engine.update(req.params.paths);
    case 'clear':
      return engine.clear();
    case 'pending':
      return engine.pending(req.params.limit);
    case 'release':
      return engine.release(req.params.hashes);
    case 'putVectors':
      return engine.putVectors(req.params.model, req.params.dims, req.params.items);
    case 'embedLimits':
      return engine.store.embedLimits();
    case 'setEmbedLimit':
      return engine.store.setEmbedLimit(req.params.model, req.params);
    case 'search':
      return engine.search(req.params);
    case 'counts':
      return engine.counts();
    case 'messages':
      return engine.messages;
    case 'close':
      engine.close();
      engine = undefined;
      openError = new Error('the index is closed');
      return undefined;
  }
}

port.on('message', (msg: WorkerRequest | { type: 'cancel' }) => {
  if ('type' in msg) {
    engine?.cancel();
    return;
  }
  handle(msg).then(
    (result) => port.postMessage({ id: msg.id, result }),
    (e: unknown) => port.postMessage({ id: msg.id, error: errorOf(e) }),
  );
});
