/**
 * The values of a workspace's `.env*` files (`.env`, `.env.local`, `.env.production`, …): secrets the scanner's
 * rules cannot know by shape, redacted from cloud requests by value. Read from disk with bounds (depth, file count,
 * size), never following links out of the folder; the values stay in memory only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseDotEnvValues } from './secrets';

const SKIP_DIRS = new Set(['.git', '.hg', '.svn', 'node_modules', '.venv', 'venv', '__pycache__', 'dist', 'build', 'out', 'target']);
const MAX_FILES = 50;
const MAX_BYTES = 256 * 1024;
const MAX_DEPTH = 4;

/** `.env`, `.env.local`, `.envrc`, `prod.env` — not `.env.example`-style templates, whose values are placeholders. */
export function isDotEnvName(name: string): boolean {
  const lower = name.toLowerCase();
  if (/\.(example|sample|template|dist|defaults)$/.test(lower)) return false;
  return lower === '.env' || lower.startsWith('.env.') || lower === '.envrc' || lower.endsWith('.env');
}

/** The values of every `.env*` file under the folders (bounded; unreadable files are skipped). */
export function dotEnvValues(roots: readonly string[]): string[] {
  const values = new Set<string>();
  let files = 0;
  const visit = (root: string, dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (files >= MAX_FILES) return;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < MAX_DEPTH && !SKIP_DIRS.has(e.name)) visit(root, p, depth + 1);
      } else if (isDotEnvName(e.name) && (e.isFile() || e.isSymbolicLink())) {
        try {
          const real = fs.realpathSync(p);
          if (path.relative(root, real).startsWith('..')) continue;
          const st = fs.statSync(real);
          if (!st.isFile() || st.size > MAX_BYTES) continue;
          files++;
          for (const v of parseDotEnvValues(fs.readFileSync(real, 'utf8'))) values.add(v);
        } catch {
          // unreadable: nothing to redact from it
        }
      }
    }
  };
  for (const r of roots) {
    try {
      visit(fs.realpathSync(r), r, 0);
    } catch {
      // a folder that does not exist has no .env files
    }
  }
  return [...values];
}
