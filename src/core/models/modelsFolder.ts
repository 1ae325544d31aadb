/**
 * The models folder (the folder kind `embedded` serves) as a list: its complete GGUF files, the downloads left
 * partial (`<name>.gguf.partial` with `<name>.gguf.partial.json` saying where they came from, see gguf.ts), deleting
 * a model, and file sizes in words.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { listGgufFiles, modelIdOf, GGUF_EXTENSION } from '../providers/embedded/provider';
import { ModelError } from './errors';

export interface PartialMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  totalBytes?: number;
}

export async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

export async function readMeta(path: string): Promise<PartialMeta | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PartialMeta;
  } catch {
    return undefined;
  }
}

export interface LocalModel {
  id: string;
  path: string;
  sizeBytes: number;
}

/** Complete GGUF files in the models folder. */
export function listLocalModels(dir: string): LocalModel[] {
  return listGgufFiles(dir).map((f) => ({ id: modelIdOf(f.path), path: f.path, sizeBytes: f.sizeBytes }));
}

/** Interrupted downloads that can be resumed (or removed). */
export async function listPartialDownloads(
  dir: string,
): Promise<{ fileName: string; receivedBytes: number; totalBytes?: number; url?: string }[]> {
  const { readdir } = await import('node:fs/promises');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out = [];
  for (const n of names.filter((x) => x.endsWith(`${GGUF_EXTENSION}.partial`))) {
    const meta = await readMeta(join(dir, `${n}.json`));
    out.push({
      fileName: n.slice(0, -'.partial'.length),
      receivedBytes: (await fileSize(join(dir, n))) ?? 0,
      totalBytes: meta?.totalBytes,
      url: meta?.url,
    });
  }
  return out;
}

/** Deletes a model (by id or file name) and any partial download of it. Throws `notFound` when there is none. */
export async function deleteLocalModel(dir: string, idOrFile: string): Promise<string> {
  const name = idOrFile.toLowerCase().endsWith(GGUF_EXTENSION) ? idOrFile : `${idOrFile}${GGUF_EXTENSION}`;
  if (basename(name) !== name) throw new ModelError('invalid', `"${idOrFile}" is not a model name`);
  const path = join(dir, name);
  const had = (await fileSize(path)) !== undefined || (await fileSize(`${path}.partial`)) !== undefined;
  if (!had) throw new ModelError('notFound', `no model "${idOrFile}" in ${dir}`);
  await rm(path, { force: true });
  await rm(`${path}.partial`, { force: true });
  await rm(`${path}.partial.json`, { force: true });
  return path;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return 'unknown';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}
