/**
 * Which files of a folder the index reads, and how their bytes become text. Honours nested .gitignore files,
 * `files.exclude`-style globs and `switchyard.index.exclude`; skips binary, minified and generated files, files over
 * the size limit and symlink loops; decodes UTF-16 and legacy 8-bit text, and says why it skipped anything.
 */
import fs from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import ignore, { type Ignore } from 'ignore';
import picomatch from 'picomatch';

/** Always left out: version-control folders and installed dependencies. */
export const DEFAULT_EXCLUDES = ['**/.git', '**/.hg', '**/.svn', '**/node_modules', '**/.DS_Store'];

export interface WalkOptions {
  /** Glob patterns (relative to the folder) of files and folders to leave out. */
  exclude: readonly string[];
  maxFileSizeKb: number;
}

export interface WalkEntry {
  /** Relative path with forward slashes. */
  rel: string;
  abs: string;
  size: number;
  mtimeMs: number;
}

export interface Skip {
  rel: string;
  reason: string;
}

export interface WalkResult {
  files: WalkEntry[];
  /** Files over the size limit, symlink loops, unreadable folders. */
  skipped: Skip[];
}

export type Excluder = (rel: string) => boolean;

export function excluder(patterns: readonly string[]): Excluder {
  const all = [...DEFAULT_EXCLUDES, ...patterns].filter((p) => p.trim() !== '');
  const m = picomatch(all, { dot: true });
  // A folder is left out when it or anything under it matches a folder pattern ("out/**" leaves out "out").
  return (rel) => m(rel) || m(`${rel}/`);
}

interface IgnoreLevel {
  base: string; // relative folder of the .gitignore ('' for the root)
  ig: Ignore;
}

function ignoredBy(levels: readonly IgnoreLevel[], rel: string, dir: boolean): boolean {
  for (const l of levels) {
    const sub = l.base ? rel.slice(l.base.length + 1) : rel;
    if (sub && l.ig.ignores(dir ? `${sub}/` : sub)) return true;
  }
  return false;
}

/** Whether `real` (a resolved path) is `rootReal` or inside it. */
export function isWithin(rootReal: string, real: string): boolean {
  if (real === rootReal) return true;
  const rel = path.relative(rootReal, real);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** What kind of non-regular file a Dirent or Stats is ("FIFO", "socket", "device"), for a skip reason. */
export function specialKind(s: fs.Dirent | fs.Stats): string | undefined {
  if (s.isFIFO()) return 'FIFO';
  if (s.isSocket()) return 'socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'device';
  return undefined;
}

export const OUTSIDE_REASON = 'link to a path outside the indexed folder (not followed)';

/**
 * Walks `root` depth-first. Links are resolved: one whose real path is outside the folder (`docs -> ../../.ssh`,
 * a link to /proc) is skipped with a reason, as ripgrep and VS Code's search do; one to a folder or file inside it is
 * skipped too, because that folder or file is indexed at its own path (no loops, nothing indexed twice). FIFOs,
 * sockets and devices are skipped: only regular files are read. `within`: the real path every entry must stay in
 * (default: the real path of `root`).
 */
export function walk(root: string, options: WalkOptions, isCanceled: () => boolean = () => false, within?: string): WalkResult {
  const excluded = excluder(options.exclude);
  let rootReal: string;
  try {
    rootReal = within ?? fs.realpathSync(root);
  } catch (e) {
    return { files: [], skipped: [{ rel: '.', reason: unreadableFolder(e) }] };
  }
  const walker = new Walker(rootReal, options.maxFileSizeKb, excluded, isCanceled);
  walker.visit(root, '', []);
  return { files: walker.files, skipped: walker.skipped };
}

function unreadableFolder(e: unknown): string {
  return `unreadable folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
}

/** One walk's state: what it found and skipped, and the real paths of the folders it entered. */
class Walker {
  readonly files: WalkEntry[] = [];
  readonly skipped: Skip[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly rootReal: string,
    private readonly maxFileSizeKb: number,
    private readonly excluded: Excluder,
    private readonly isCanceled: () => boolean,
  ) {}

  visit(absDir: string, relDir: string, levels: IgnoreLevel[]): void {
    if (this.isCanceled()) return;
    const opened = this.open(absDir, relDir, levels);
    if (!opened) return;
    for (const e of opened.entries) {
      if (this.isCanceled()) return;
      this.entry(e, absDir, relDir, opened.here);
    }
  }

  /** A folder's entries, sorted by name, and the .gitignore levels that apply in it; undefined when it is skipped. */
  private open(absDir: string, relDir: string, levels: IgnoreLevel[]): { entries: fs.Dirent[]; here: IgnoreLevel[] } | undefined {
    let real: string;
    try {
      real = fs.realpathSync(absDir);
    } catch (e) {
      this.skipped.push({ rel: relDir || '.', reason: unreadableFolder(e) });
      return undefined;
    }
    if (!isWithin(this.rootReal, real)) {
      this.skipped.push({ rel: relDir || '.', reason: OUTSIDE_REASON });
      return undefined;
    }
    if (this.seen.has(real)) {
      this.skipped.push({ rel: relDir, reason: 'symlink loop (folder already indexed)' });
      return undefined;
    }
    this.seen.add(real);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(absDir, { withFileTypes: true });
    } catch (e) {
      this.skipped.push({ rel: relDir || '.', reason: unreadableFolder(e) });
      return undefined;
    }
    let here = levels;
    if (entries.some((e) => e.name === '.gitignore' && e.isFile())) {
      const ig = readIgnore(path.join(absDir, '.gitignore'));
      if (ig) here = [...levels, { base: relDir, ig }];
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { entries, here };
  }

  private entry(e: fs.Dirent, absDir: string, relDir: string, here: IgnoreLevel[]): void {
    const rel = relDir ? `${relDir}/${e.name}` : e.name;
    const abs = path.join(absDir, e.name);
    if (e.isSymbolicLink()) {
      this.link(rel, abs, here);
      return;
    }
    const isDir = e.isDirectory();
    if (this.excluded(rel) || ignoredBy(here, rel, isDir)) return;
    if (isDir) {
      this.visit(abs, rel, here);
    } else if (e.isFile()) {
      this.file(rel, abs);
    } else {
      const special = specialKind(e);
      if (special) this.skipped.push({ rel, reason: `not a regular file (${special})` });
    }
  }

  /** A link is never followed: skipped with the reason (outside the folder, or indexed at its own path). */
  private link(rel: string, abs: string, here: IgnoreLevel[]): void {
    let target: string;
    let stat: fs.Stats;
    try {
      target = fs.realpathSync(abs);
      stat = fs.statSync(target);
    } catch {
      this.skipped.push({ rel, reason: 'broken or looping symlink' });
      return;
    }
    if (this.excluded(rel) || ignoredBy(here, rel, stat.isDirectory())) return;
    if (!isWithin(this.rootReal, target)) {
      this.skipped.push({ rel, reason: OUTSIDE_REASON });
    } else if (stat.isDirectory()) {
      const reason = this.seen.has(target)
        ? 'symlink loop (folder already indexed)'
        : 'link to a folder inside the indexed folder (indexed at its own path)';
      this.skipped.push({ rel, reason });
    } else {
      this.skipped.push({ rel, reason: 'link to a file inside the indexed folder (indexed at its own path)' });
    }
  }

  private file(rel: string, abs: string): void {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(abs);
    } catch (err) {
      this.skipped.push({ rel, reason: `unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
      return;
    }
    const special = specialKind(stat);
    if (special || !stat.isFile()) {
      this.skipped.push({ rel, reason: `not a regular file (${special ?? 'special file'})` });
    } else if (stat.size > this.maxFileSizeKb * 1024) {
      this.skipped.push({ rel, reason: tooLarge(this.maxFileSizeKb) });
    } else {
      this.files.push({ rel, abs, size: stat.size, mtimeMs: stat.mtimeMs });
    }
  }
}

export function tooLarge(maxFileSizeKb: number): string {
  return `larger than ${maxFileSizeKb} KB (switchyard.index.maxFileSizeKb)`;
}

/** A .gitignore's rules, read with a bound (a .gitignore that is a FIFO or huge is not honoured rather than hanging). */
function readIgnore(file: string): Ignore | undefined {
  const r = readBounded(file, 1024 * 1024);
  return 'bytes' in r ? ignore().add(r.bytes.toString('utf8')) : undefined;
}

export type BoundedRead = { bytes: Buffer } | { skip: string; code?: string };

/**
 * Reads a regular file with a bound: at most `maxBytes` + 1 bytes from the opened descriptor (more: skipped as too
 * large, whatever size the walk saw), opened with O_NONBLOCK so a FIFO put in its place cannot block the open, and
 * checked with fstat after the open so only a regular file is read. With `rootReal`, the file's real path must be
 * inside it (a file replaced by a link to elsewhere after the walk is not followed).
 */
export function readBounded(abs: string, maxBytes: number, rootReal?: string, maxFileSizeKb?: number): BoundedRead {
  let target = abs;
  let fd: number;
  try {
    if (rootReal !== undefined) {
      target = fs.realpathSync(abs);
      if (!isWithin(rootReal, target)) return { skip: OUTSIDE_REASON };
    }
    fd = fs.openSync(
      target,
      fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (rootReal !== undefined ? (fs.constants.O_NOFOLLOW ?? 0) : 0),
    );
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { skip: `unreadable (${code ?? String(e)})`, code };
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { skip: `not a regular file (${specialKind(st) ?? 'special file'})` };
    const cap = maxBytes + 1;
    let buf = Buffer.allocUnsafe(Math.min(cap, Math.max(st.size, 0) + 1, 64 * 1024 * 1024));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (buf.length >= cap) break;
        const bigger = Buffer.allocUnsafe(Math.min(cap, buf.length * 2));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      let got: number;
      try {
        got = fs.readSync(fd, buf, n, buf.length - n, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return { skip: 'not a regular file (would block)' };
        throw e;
      }
      if (got === 0) break;
      n += got;
    }
    if (n > maxBytes) return { skip: tooLarge(maxFileSizeKb ?? Math.floor(maxBytes / 1024)) };
    // A "regular" file that says it is empty but has data is a kernel pseudo-file (/proc, /sys, debugfs…).
    if (st.size === 0 && n > 0) return { skip: 'special file (reports size 0 but streams data, as /proc and /sys files do)' };
    return { bytes: buf.subarray(0, n) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { skip: `unreadable (${code ?? String(e)})`, code };
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether one path (relative to the folder) would be indexed: the walk's rules for a single file event. */
export function isIncluded(root: string, rel: string, options: WalkOptions): boolean {
  if (excluder(options.exclude)(rel)) return false;
  const parts = rel.split('/');
  const levels: IgnoreLevel[] = [];
  for (let i = 0; i < parts.length; i++) {
    const base = parts.slice(0, i).join('/');
    if (i > 0 && excluder(options.exclude)(base)) return false;
    const ig = readIgnore(path.join(root, base, '.gitignore'));
    if (ig) levels.push({ base, ig });
    const sub = parts.slice(0, i + 1).join('/');
    if (ignoredBy(levels, sub, i < parts.length - 1)) return false;
  }
  return true;
}

const GENERATED_NAMES = new RegExp(
  String.raw`(^|\/)(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|` +
    String.raw`Cargo\.lock|composer\.lock|poetry\.lock|go\.sum)$|` +
    String.raw`\.(min\.js|min\.css|map|lock)$`,
  'i',
);

export type Decoded = { text: string; note?: string } | { skip: string };

/** Text of a file's bytes, or why it is not indexed (binary, minified, generated, undecodable). */
export function decode(rel: string, bytes: Buffer): Decoded {
  if (GENERATED_NAMES.test(rel)) return { skip: 'generated file (lock file, source map or minified bundle)' };
  let text: string;
  let note: string | undefined;
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) {
    text = iconv.decode(bytes.subarray(2), 'utf-16le');
    note = 'decoded from UTF-16LE';
  } else if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) {
    text = iconv.decode(bytes.subarray(2), 'utf-16be');
    note = 'decoded from UTF-16BE';
  } else {
    const head = bytes.subarray(0, 8192);
    if (head.includes(0)) return { skip: 'binary file' };
    const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start));
    } catch {
      let control = 0;
      for (const b of head) if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) control++;
      if (control > head.length * 0.01) return { skip: 'binary file (not valid UTF-8, control bytes)' };
      text = iconv.decode(bytes, 'windows-1252');
      note = 'not valid UTF-8: decoded as Windows-1252';
    }
  }
  if (text.length > 2000) {
    let longest = 0;
    let lines = 1;
    let lineStart = 0;
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        longest = Math.max(longest, i - lineStart);
        lineStart = i + 1;
        lines++;
      }
    }
    longest = Math.max(longest, text.length - lineStart);
    if (longest > 5000 || text.length / lines > 400) return { skip: 'minified or generated (very long lines)' };
  }
  if (/^.{0,80}(@generated|DO NOT EDIT|auto-generated|autogenerated)/im.test(text.slice(0, 400))) {
    return { skip: 'generated file (marked generated in its header)' };
  }
  return { text, note };
}
