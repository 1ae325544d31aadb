/**
 * Ollama's models: list (with size and family), pull with progress and cancel (`POST /api/pull`, an NDJSON
 * stream), delete (`DELETE /api/delete`). Speaks the REST API with fetch so a pull's stream and its cancellation
 * are under our control; failures are ModelErrors with kinds, never messages to parse.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UNREACHABLE_CODES, systemErrorCode } from '../errors';
import { ModelError } from './errors';

export interface OllamaModel {
  name: string;
  sizeBytes: number;
  family?: string;
  parameterSize?: string;
  quantization?: string;
  modifiedAt?: string;
}

export interface PullProgress {
  /** Ollama's status line: "pulling manifest", "pulling <digest>", "verifying sha256 digest", "success", … */
  status: string;
  digest?: string;
  totalBytes?: number;
  completedBytes?: number;
}

export interface OllamaTarget {
  baseUrl: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

function root(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '');
}

async function call(target: OllamaTarget, path: string, init: RequestInit, what: string): Promise<Response> {
  const doFetch = target.fetch ?? ((input: string | URL | Request, i?: RequestInit) => globalThis.fetch(input, i));
  try {
    return await doFetch(`${root(target.baseUrl)}${path}`, { ...init, signal: target.signal });
  } catch (e) {
    throw failure(e, target, what);
  }
}

function failure(e: unknown, target: OllamaTarget, what: string): ModelError {
  if (target.signal?.aborted || (e as { name?: unknown } | undefined)?.name === 'AbortError')
    return new ModelError('canceled', `${what} canceled`);
  if (e instanceof ModelError) return e;
  const code = systemErrorCode(e);
  if ((code && UNREACHABLE_CODES.has(code)) || e instanceof TypeError) {
    return new ModelError(
      'unreachable',
      `cannot reach Ollama at ${root(target.baseUrl)}${code ? ` (${code})` : ''}: is it running? (\`ollama serve\`)`,
      { cause: e },
    );
  }
  return new ModelError('server', `${what} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

async function errorText(response: Response): Promise<string> {
  const text = (await response.text().catch(() => '')).slice(0, 500);
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === 'string') return body.error;
  } catch {
    // plain text
  }
  return text.trim() || `HTTP ${response.status}`;
}

export async function listOllamaModels(target: OllamaTarget): Promise<OllamaModel[]> {
  const response = await call(target, '/api/tags', { method: 'GET' }, 'listing Ollama models');
  if (!response.ok)
    throw new ModelError('http', `Ollama could not list its models: ${await errorText(response)}`, { status: response.status });
  const body = (await response.json()) as {
    models?: {
      name?: string;
      model?: string;
      size?: number;
      modified_at?: string;
      details?: { family?: string; parameter_size?: string; quantization_level?: string };
    }[];
  };
  return (body.models ?? []).map((m) => ({
    name: m.name ?? m.model ?? '',
    sizeBytes: m.size ?? 0,
    family: m.details?.family,
    parameterSize: m.details?.parameter_size,
    quantization: m.details?.quantization_level,
    modifiedAt: m.modified_at,
  }));
}

/**
 * Pulls a model, calling `onProgress` for each status line in the order Ollama sends them. Resolves after
 * "success"; a stream that ends without it, or an `error` line, rejects. Aborting the signal cancels the pull
 * (Ollama keeps the layers it already has, so pulling again continues).
 */
export async function pullOllamaModel(target: OllamaTarget, name: string, onProgress?: (p: PullProgress) => void): Promise<void> {
  if (!name.trim()) throw new ModelError('invalid', 'give a model name, e.g. qwen2.5-coder:1.5b');
  const what = `pulling ${name}`;
  const response = await call(
    target,
    '/api/pull',
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: name, stream: true }) },
    what,
  );
  if (!response.ok)
    throw new ModelError(response.status === 404 ? 'notFound' : 'http', `Ollama could not pull ${name}: ${await errorText(response)}`, {
      status: response.status,
    });
  if (!response.body) throw new ModelError('server', `Ollama answered the pull of ${name} without a body`);
  const decoder = new TextDecoder();
  let buffer = '';
  let succeeded = false;
  const handle = (line: string): void => {
    if (!line.trim()) return;
    let event: { status?: unknown; digest?: unknown; total?: unknown; completed?: unknown; error?: unknown };
    try {
      event = JSON.parse(line);
    } catch {
      throw new ModelError('server', `Ollama sent an unreadable progress line while pulling ${name}`);
    }
    if (typeof event.error === 'string') throw new ModelError('server', `Ollama could not pull ${name}: ${event.error}`);
    const status = typeof event.status === 'string' ? event.status : '';
    if (status === 'success') succeeded = true;
    onProgress?.({
      status,
      digest: typeof event.digest === 'string' ? event.digest : undefined,
      totalBytes: typeof event.total === 'number' ? event.total : undefined,
      completedBytes: typeof event.completed === 'number' ? event.completed : undefined,
    });
  };
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        handle(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    }
    handle(buffer + decoder.decode());
  } catch (e) {
    throw failure(e, target, what);
  }
  if (target.signal?.aborted) throw new ModelError('canceled', `${what} canceled`);
  if (!succeeded)
    throw new ModelError('server', `the pull of ${name} ended before Ollama reported success: try again (downloaded layers are kept)`);
}

export async function deleteOllamaModel(target: OllamaTarget, name: string): Promise<void> {
  const response = await call(
    target,
    '/api/delete',
    { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: name }) },
    `deleting ${name}`,
  );
  if (response.status === 404) {
    await response.body?.cancel();
    throw new ModelError('notFound', `Ollama has no model "${name}"`, { status: 404 });
  }
  if (!response.ok)
    throw new ModelError('http', `Ollama could not delete ${name}: ${await errorText(response)}`, { status: response.status });
  await response.body?.cancel();
}

/**
 * Where `ollama` would run from in a shell with this environment: the first executable named ollama (ollama.exe and
 * the other PATHEXT names on Windows) on PATH, or undefined when it is not installed there (then "Start Ollama" says
 * where to get it instead of opening a terminal that answers "command not found").
 */
export function findOllamaExecutable(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  const pathValue = env.PATH ?? env.Path ?? '';
  const names =
    platform === 'win32'
      ? (env.PATHEXT ?? '.EXE;.CMD;.BAT')
          .split(';')
          .filter(Boolean)
          .map((ext) => `ollama${ext.toLowerCase()}`)
      : ['ollama'];
  for (const dir of pathValue.split(platform === 'win32' ? ';' : ':')) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      try {
        const st = fs.statSync(candidate);
        if (st.isFile() && (platform === 'win32' || (st.mode & 0o111) !== 0)) return candidate;
      } catch {
        // not in this directory
      }
    }
  }
  return undefined;
}
