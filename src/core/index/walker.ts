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

/** Walks `root` depth-first; folders reached twice through symlinks are visited once. */
export function walk(root: string, options: WalkOptions, isCanceled: () => boolean = () => false): WalkResult {
  const files: WalkEntry[] = [];
  const skipped: Skip[] = [];
  const excluded = excluder(options.exclude);
  const maxBytes = options.maxFileSizeKb * 1024;
  const seen = new Set<string>();

  const visit = (absDir: string, relDir: string, levels: IgnoreLevel[]) => {
    if (isCanceled()) return;
    let real: string;
    try {
      real = fs.realpathSync(absDir);
    } catch (e) {
      skipped.push({ rel: relDir || '.', reason: `unreadable folder (${(e as NodeJS.ErrnoException).code ?? String(e)})` });
      return;
    }
    if (seen.has(real)) {
      skipped.push({ rel: relDir, reason: 'symlink loop (folder already indexed)' });
      return;
    }
    seen.add(real);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(absDir, { withFileTypes: true });
    } catch (e) {
      skipped.push({ rel: relDir || '.', reason: `unreadable folder (${(e as NodeJS.ErrnoException).code ?? String(e)})` });
      return;
    }
    let here = levels;
    if (entries.some((e) => e.name === '.gitignore' && !e.isDirectory())) {
      try {
        const ig = ignore().add(fs.readFileSync(path.join(absDir, '.gitignore'), 'utf8'));
        here = [...levels, { base: relDir, ig }];
      } catch {
        /* unreadable .gitignore: nothing to honour */
      }
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      const abs = path.join(absDir, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      let stat: fs.Stats | undefined;
      if (e.isSymbolicLink()) {
        try {
          stat = fs.statSync(abs);
          isDir = stat.isDirectory();
          isFile = stat.isFile();
        } catch {
          skipped.push({ rel, reason: 'broken or looping symlink' });
          continue;
        }
      }
      if (excluded(rel) || ignoredBy(here, rel, isDir)) continue;
      if (isDir) {
        visit(abs, rel, here);
      } else if (isFile) {
        try {
          stat ??= fs.statSync(abs);
        } catch (err) {
          skipped.push({ rel, reason: `unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
          continue;
        }
        if (stat.size > maxBytes) {
          skipped.push({ rel, reason: `larger than ${options.maxFileSizeKb} KB (switchyard.index.maxFileSizeKb)` });
          continue;
        }
        files.push({ rel, abs, size: stat.size, mtimeMs: stat.mtimeMs });
      }
    }
  };
  visit(root, '', []);
  return { files, skipped };
}

/** Whether one path (relative to the folder) would be indexed: the walk's rules for a single file event. */
export function isIncluded(root: string, rel: string, options: WalkOptions): boolean {
  if (excluder(options.exclude)(rel)) return false;
  const parts = rel.split('/');
  const levels: IgnoreLevel[] = [];
  for (let i = 0; i < parts.length; i++) {
    const base = parts.slice(0, i).join('/');
    if (i > 0 && excluder(options.exclude)(base)) return false;
    const file = path.join(root, base, '.gitignore');
    try {
      levels.push({ base, ig: ignore().add(fs.readFileSync(file, 'utf8')) });
    } catch {
      /* none here */
    }
    const sub = parts.slice(0, i + 1).join('/');
    if (ignoredBy(levels, sub, i < parts.length - 1)) return false;
  }
  return true;
}

const GENERATED_NAMES = /(^|\/)(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|Cargo\.lock|composer\.lock|poetry\.lock|go\.sum)$|\.(min\.js|min\.css|map|lock)$/i;

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
