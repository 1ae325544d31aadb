/**
 * GGUF downloads into the models folder (the folder kind `embedded` serves): progress, resume after an interruption
 * with an HTTP Range request (validated by ETag / Last-Modified through If-Range), a sha256 check, a free-space
 * check before the first byte is written, and cancel. While downloading the bytes live in `<name>.gguf.partial`
 * (with `<name>.gguf.partial.json` saying where they came from); only a complete, verified file gets its real name,
 * so a model list never shows half a model. A canceled or broken download keeps its partial file only when the
 * server supports ranges (it can resume); otherwise it is removed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { modelIdOf, GGUF_EXTENSION } from '../providers/embedded/provider';
import { ModelError } from './errors';
import { fileSize, formatBytes, readMeta, type PartialMeta } from './modelsFolder';

export interface DownloadProgress {
  /** Bytes of the file on disk so far (including a resumed part). */
  receivedBytes: number;
  /** The whole file's size, when the server said. */
  totalBytes?: number;
  /** Bytes that were already there when this attempt started (a resume). */
  resumedFrom: number;
}

export interface DownloadOptions {
  url: string;
  /** The models folder. */
  dir: string;
  /** File name to save as (default: the URL's last path segment); must end in .gguf. */
  fileName?: string;
  /** Expected sha256 (hex). A mismatch removes the file. */
  sha256?: string;
  signal?: AbortSignal;
  onProgress?(p: DownloadProgress): void;
  /** Reconnects (each resuming where the last stopped) after the connection drops mid-body. Default 3. */
  retries?: number;
  /** Free bytes on the disk holding `dir` (default: fs.statfs). Tests inject it. */
  freeBytes?(dir: string): Promise<number>;
  fetch?: typeof fetch;
  /** Headers for the request (e.g. a hub token); never logged. */
  headers?: Record<string, string>;
}

export interface DownloadResult {
  path: string;
  id: string;
  sizeBytes: number;
  sha256: string;
  /** Bytes taken over from an earlier, interrupted download. */
  resumedBytes: number;
  /** The file was already there (and matched the checksum when one was given). */
  alreadyPresent: boolean;
}

/** Room kept free beyond the file itself. */
const SPACE_MARGIN_BYTES = 16 * 1024 * 1024;

export async function diskFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** The file name a URL saves as: its last path segment, which must be a plain `.gguf` name. */
export function ggufFileName(url: string, given?: string): string {
  let name = given;
  if (!name) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ModelError('invalid', `"${url}" is not a URL`);
    }
    name = decodeURIComponent(parsed.pathname.split('/').filter(Boolean).at(-1) ?? '');
  }
  if (!name || basename(name) !== name || name.startsWith('.') || !name.toLowerCase().endsWith(GGUF_EXTENSION)) {
    throw new ModelError('invalid', `"${name || url}" is not a .gguf file name: give a URL ending in .gguf, or a file name`);
  }
  return name;
}

function checkUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ModelError('invalid', `"${url}" is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new ModelError('invalid', `only https and http URLs can be downloaded, not ${u.protocol}`);
  return u;
}

/** URLs without credentials or query strings (signed hub URLs carry tokens there), for messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

async function sha256Of(path: string, upTo?: number): Promise<ReturnType<typeof createHash>> {
  const hash = createHash('sha256');
  if (upTo === 0) return hash;
  for await (const chunk of createReadStream(path, upTo === undefined ? {} : { end: upTo - 1 })) hash.update(chunk as Buffer);
  return hash;
}

function isAbort(e: unknown): boolean {
  const name = (e as { name?: unknown } | undefined)?.name;
  return name === 'AbortError';
}

function totalFrom(response: Response, offset: number): number | undefined {
  const range = response.headers.get('content-range');
  const m = range ? /\/(\d+)\s*$/.exec(range) : null;
  if (m) return Number(m[1]);
  const length = response.headers.get('content-length');
  return length !== null && /^\d+$/.test(length) ? Number(length) + offset : undefined;
}

/**
 * Downloads a GGUF file into `dir`. Resolves with the verified file; rejects with ModelError (kinds: invalid,
 * unreachable, http, diskFull, checksum, canceled).
 */
export async function downloadGguf(options: DownloadOptions): Promise<DownloadResult> {
  checkUrl(options.url);
  const fileName = ggufFileName(options.url, options.fileName);
  const expected = options.sha256?.trim().toLowerCase();
  if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected))
    throw new ModelError('invalid', `"${options.sha256}" is not a sha256 (64 hex digits)`);
  const download = new GgufDownload(options, fileName, expected);
  await mkdir(options.dir, { recursive: true });
  return (await download.present()) ?? download.run();
}

/** One download's state: where its bytes go, how far it got, and whether the server lets it resume. */
class GgufDownload {
  private readonly doFetch: typeof fetch;
  private readonly dest: string;
  private readonly partial: string;
  private readonly metaPath: string;
  private readonly where: string;
  private meta: PartialMeta | undefined;
  private offset = 0;
  private resumedBytes = 0;
  private resumable = false;
  private retriesLeft: number;
  private spaceChecked = false;

  constructor(
    private readonly options: DownloadOptions,
    private readonly fileName: string,
    private readonly expected: string | undefined,
  ) {
    this.doFetch = options.fetch ?? ((input: string | URL | Request, init?: RequestInit) => globalThis.fetch(input, init));
    this.dest = join(options.dir, fileName);
    this.partial = `${this.dest}.partial`;
    this.metaPath = `${this.partial}.json`;
    this.where = displayUrl(options.url);
    this.retriesLeft = options.retries ?? 3;
  }

  /** The file when it is there already (and matches the checksum when one was given). */
  async present(): Promise<DownloadResult | undefined> {
    const existing = await fileSize(this.dest);
    if (existing === undefined) return undefined;
    const digest = (await sha256Of(this.dest)).digest('hex');
    if (this.expected === undefined || digest === this.expected) {
      return { path: this.dest, id: modelIdOf(this.dest), sizeBytes: existing, sha256: digest, resumedBytes: 0, alreadyPresent: true };
    }
    const again = 'delete it first to download it again';
    throw new ModelError('checksum', `${this.fileName} is already in ${this.options.dir} with another sha256 (${digest}); ${again}`);
  }

  async run(): Promise<DownloadResult> {
    const { options } = this;
    // A partial file is only resumed when it came from the same URL.
    this.meta = await readMeta(this.metaPath);
    this.offset = (await fileSize(this.partial)) ?? 0;
    if (this.offset > 0 && this.meta?.url !== options.url) {
      await rm(this.partial, { force: true });
      this.offset = 0;
      this.meta = undefined;
    }
    this.resumedBytes = this.offset;
    while (true) {
      if (options.signal?.aborted) throw await this.canceled();
      const response = await this.request();
      if (!response) continue;
      if (response.status === 416 && this.offset > 0) {
        // The range starts at the end: the partial file may already be the whole file. Verify it.
        await response.body?.cancel();
        if (this.meta?.totalBytes === this.offset) return this.finish((await sha256Of(this.partial)).digest('hex'), this.offset);
        await rm(this.partial, { force: true });
        this.offset = 0;
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel();
        const status = response.status;
        const hint = status === 401 || status === 403 ? ' (the file may need a token or accepting its license on the hub)' : '';
        throw new ModelError(status === 404 ? 'notFound' : 'http', `cannot download ${this.where}: HTTP ${status}${hint}`, { status });
      }
      if (this.offset > 0 && response.status !== 206) {
        // The server ignored the range (or the file changed, per If-Range): start over.
        this.offset = 0;
      }
      this.resumable = response.headers.get('accept-ranges') === 'bytes' || response.status === 206;
      const totalBytes = totalFrom(response, this.offset);
      const etag = response.headers.get('etag') ?? undefined;
      this.meta = { url: options.url, etag, lastModified: response.headers.get('last-modified') ?? undefined, totalBytes };
      await this.checkSpace(response, totalBytes);
      const got = await this.receive(response, totalBytes);
      if (got) return this.finish(got.digest, got.received);
    }
  }

  /** The request for what is still missing; undefined when it failed and is to be tried again. */
  private async request(): Promise<Response | undefined> {
    const { options, offset } = this;
    const headers: Record<string, string> = { ...options.headers, 'Accept-Encoding': 'identity' };
    if (offset > 0) {
      headers.Range = `bytes=${offset}-`;
      const validator = this.meta?.etag ?? this.meta?.lastModified;
      if (validator) headers['If-Range'] = validator;
    }
    try {
      return await this.doFetch(options.url, { headers, signal: options.signal, redirect: 'follow' });
    } catch (e) {
      if (options.signal?.aborted || isAbort(e)) throw await this.canceled();
      if (this.retriesLeft-- > 0 && offset > 0 && this.resumable) return undefined;
      const kept = offset > 0 ? ' (the part already downloaded is kept; try again to resume)' : '';
      throw new ModelError('unreachable', `cannot download ${this.where}: ${describe(e)}${kept}`, { cause: e, resumable: offset > 0 });
    }
  }

  /** Before the first byte of a download (and of a restart from 0), whether the disk has room for what is missing. */
  private async checkSpace(response: Response, totalBytes: number | undefined): Promise<void> {
    if (this.spaceChecked && this.offset !== 0) return;
    if (totalBytes !== undefined) {
      const needed = totalBytes - this.offset;
      let free: number;
      try {
        free = await (this.options.freeBytes ?? diskFreeBytes)(this.options.dir);
      } catch {
        free = Infinity; // a file system that cannot tell: proceed; a full disk still fails the write
      }
      if (free < needed + SPACE_MARGIN_BYTES) {
        await response.body?.cancel();
        const has = `it needs ${formatBytes(needed)} and ${this.options.dir} has ${formatBytes(free)} free`;
        throw new ModelError('diskFull', `not enough disk space for ${this.fileName}: ${has}. Free some space or choose another folder.`);
      }
    }
    this.spaceChecked = true;
  }

  /** Writes the body after what is there; undefined when the connection dropped and the download is to resume. */
  private async receive(response: Response, totalBytes: number | undefined): Promise<{ received: number; digest: string } | undefined> {
    const { options, offset, partial } = this;
    const hash = offset > 0 ? await sha256Of(partial, offset) : createHash('sha256');
    await writeFile(this.metaPath, JSON.stringify(this.meta));
    const file = await open(partial, offset > 0 ? 'r+' : 'w');
    let received = offset;
    options.onProgress?.({ receivedBytes: received, totalBytes, resumedFrom: offset });
    try {
      if (offset > 0) await file.truncate(offset);
      const body = response.body;
      if (!body) throw new ModelError('http', `cannot download ${this.where}: the answer has no body`);
      for await (const chunk of body) {
        await file.write(chunk, 0, chunk.length, received);
        hash.update(chunk);
        received += chunk.length;
        options.onProgress?.({ receivedBytes: received, totalBytes, resumedFrom: offset });
      }
      if (totalBytes !== undefined && received !== totalBytes) {
        throw Object.assign(new Error(`the connection closed after ${received} of ${totalBytes} bytes`), { code: 'ETRUNCATED' });
      }
    } catch (e) {
      await file.close();
      if (options.signal?.aborted || isAbort(e)) throw await this.canceled(this.resumable);
      if (e instanceof ModelError) throw e;
      this.offset = received;
      if (this.resumable && this.retriesLeft-- > 0) return undefined;
      if (!this.resumable) await this.removePartial();
      const resume = this.resumable ? ': run it again to resume' : '';
      const message = `the download of ${this.where} was interrupted after ${formatBytes(received)}${resume} (${describe(e)})`;
      throw new ModelError('unreachable', message, { cause: e, resumable: this.resumable });
    }
    await file.close();
    return { received, digest: hash.digest('hex') };
  }

  /** Checks the whole file's sha256 (when one was given) and gives it its real name. */
  private async finish(digest: string, sizeBytes: number): Promise<DownloadResult> {
    if (this.expected !== undefined && digest !== this.expected) {
      await this.removePartial();
      const why = `has sha256 ${digest}, not the expected ${this.expected}: the file was removed`;
      throw new ModelError('checksum', `${this.fileName} from ${this.where} ${why}`);
    }
    await rename(this.partial, this.dest);
    await rm(this.metaPath, { force: true });
    return { path: this.dest, id: modelIdOf(this.dest), sizeBytes, sha256: digest, resumedBytes: this.resumedBytes, alreadyPresent: false };
  }

  private async removePartial(): Promise<void> {
    await rm(this.partial, { force: true });
    await rm(this.metaPath, { force: true });
  }

  private async canceled(keep = false): Promise<ModelError> {
    if (!keep) await this.removePartial();
    const kept = keep ? ' (the part downloaded is kept: download it again to resume)' : '';
    return new ModelError('canceled', `download of ${this.fileName} canceled${kept}`, { resumable: keep });
  }
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code !== 'ETRUNCATED') return code;
  return e instanceof Error ? e.message : String(e);
}
