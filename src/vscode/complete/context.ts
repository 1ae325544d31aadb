/**
 * The other files a completion request carries (the service's `extra`, llama.cpp's `input_extra`, a repository-level
 * FIM prompt): the lines around the last edit of recently edited files, then of files visible in other editors, then
 * a few index chunks for the identifiers near the cursor. Pure (no `vscode`): the provider feeds it documents' events.
 *
 * The core cuts the list to its token budget (most relevant first, as ordered here); this module only chooses.
 * Index lookups never hold a keystroke up: a query's result is cached, and a query not seen yet starts one search in
 * the background and counts for the next request (the identifiers near the cursor change far less often than keys).
 */
import type { Snippet } from '../../core/complete/templates';

/** Lines of a recent file kept around its last edit (before, after). */
export const RECENT_LINES_BEFORE = 12;
export const RECENT_LINES_AFTER = 12;
/** Files remembered, and snippets of them sent. */
const RECENT_FILES = 12;
export const RECENT_SNIPPETS = 3;
export const INDEX_SNIPPETS = 2;

export interface RecentFile {
  /** Identifies the document (its URI). */
  key: string;
  /** As the model should see it (workspace-relative). */
  filename: string;
  /** The 0-based line of the last edit (or of the cursor, for a file only seen). */
  line: number;
  edited: boolean;
}

/** Recently edited and visible documents, newest first; an edit outranks a mere view. */
export class RecentFiles {
  private readonly files: RecentFile[] = [];

  constructor(private readonly capacity = RECENT_FILES) {}

  /** The document was edited at `line`. */
  edited(key: string, filename: string, line: number): void {
    this.put({ key, filename, line, edited: true });
  }

  /** The document is visible with its cursor at `line`; an earlier edit's place is kept. */
  seen(key: string, filename: string, line: number): void {
    const old = this.files.find((f) => f.key === key);
    this.put(old?.edited ? { ...old, filename } : { key, filename, line, edited: false });
  }

  forget(key: string): void {
    const i = this.files.findIndex((f) => f.key === key);
    if (i >= 0) this.files.splice(i, 1);
  }

  /** Edited files (newest first), then seen ones; `except` (the current document) left out. */
  list(except?: string): RecentFile[] {
    const others = this.files.filter((f) => f.key !== except);
    return [...others.filter((f) => f.edited), ...others.filter((f) => !f.edited)];
  }

  private put(file: RecentFile): void {
    this.forget(file.key);
    this.files.unshift(file);
    if (this.files.length > this.capacity) this.files.length = this.capacity;
  }
}

/** Whole lines of `text` around the 0-based `line` (each with its newline but the last). */
export function linesAround(text: string, line: number, before = RECENT_LINES_BEFORE, after = RECENT_LINES_AFTER): string {
  const lines = text.split('\n');
  const at = Math.max(0, Math.min(line, lines.length - 1));
  return lines.slice(Math.max(0, at - before), at + after + 1).join('\n');
}

/** Snippets of the recent files other than `except`, at most `max`; a file whose text is gone is skipped. */
export function recentSnippets(
  recent: RecentFiles,
  textOf: (key: string) => string | undefined,
  except?: string,
  max = RECENT_SNIPPETS,
): Snippet[] {
  const out: Snippet[] = [];
  for (const f of recent.list(except)) {
    if (out.length >= max) break;
    const text = textOf(f.key);
    if (text === undefined) continue;
    const window = linesAround(text, f.line);
    if (window.trim() === '') continue;
    out.push({ filename: f.filename, text: window });
  }
  return out;
}

/** Words too common in code to find anything by (keywords of the usual languages, and a few names). */
const COMMON = new Set(
  (
    'abstract and any as async await bool boolean break case catch char class const continue def default defer del delete do double ' +
    'elif else enum export extends false final finally float fn for from func function get go if impl import in instanceof int interface ' +
    'internal is lambda let long match mod module mut new nil none not null number object of or override package pass private protected ' +
    'pub public raise readonly return self set static str string struct ' +
    'super switch this throw throws trait true try type typeof undefined ' +
    'union unsafe use using val var void where while with yield console log print println'
  ).split(' '),
);

/**
 * The identifiers near the cursor, nearest first: those of the cursor's line up to the cursor, then of the lines above
 * (up to `linesAbove`), then of the rest of the cursor's line; common words and names under 3 characters left out.
 */
export function nearbyIdentifiers(prefix: string, suffix: string, max = 4, linesAbove = 3): string[] {
  const before = prefix.split('\n').slice(-(linesAbove + 1));
  const rest = suffix.slice(0, suffix.indexOf('\n') < 0 ? suffix.length : suffix.indexOf('\n'));
  const out: string[] = [];
  const add = (text: string, nearestLast: boolean) => {
    const words = text.match(/[A-Za-z_$][\w$]*/g) ?? [];
    for (const w of nearestLast ? words.reverse() : words) {
      if (out.length >= max) return;
      if (w.length < 3 || COMMON.has(w.toLowerCase()) || out.includes(w)) continue;
      out.push(w);
    }
  };
  for (let i = before.length - 1; i >= 0 && out.length < max; i--) add(before[i]!, true);
  if (out.length < max) add(rest, false);
  return out;
}

export interface IndexHit {
  /** Workspace-relative, forward slashes. */
  path: string;
  text: string;
}

export type IndexSearch = (query: string) => Promise<readonly IndexHit[]>;

/** Queries remembered. */
const INDEX_CACHE = 32;

/**
 * Index chunks for a query, from a cache; a query not cached yet is searched in the background (one search at a time,
 * the newest query waiting next) and answers from the next request on.
 */
export class IndexSnippets {
  private readonly cache = new Map<string, readonly IndexHit[]>();
  private running: string | undefined;
  private runningSearch: Promise<void> | undefined;
  private next: string | undefined;
  /** Searches started (for tests and the log). */
  searches = 0;

  constructor(
    private readonly search: () => IndexSearch | undefined,
    private readonly onError: (message: string) => void = () => undefined,
    private readonly max = INDEX_SNIPPETS,
  ) {}

  /** Snippets for the identifiers, leaving out chunks of `currentPath` (its text is in the prefix and suffix). */
  get(identifiers: readonly string[], currentPath: string): Snippet[] {
    if (identifiers.length === 0) return [];
    const query = identifiers.join(' ');
    const hits = this.cache.get(query);
    if (!hits) {
      this.start(query);
      return [];
    }
    // Least recently used goes first.
    this.cache.delete(query);
    this.cache.set(query, hits);
    return hits
      .filter((h) => h.path !== currentPath)
      .slice(0, this.max)
      .map((h) => ({ filename: h.path, text: h.text }));
  }

  /** Forgets what was found (the index changed). */
  clear(): void {
    this.cache.clear();
  }

  /** Resolves when no search is running or waiting (tests). */
  async idle(): Promise<void> {
    while (this.runningSearch) await this.runningSearch;
  }

  private start(query: string): void {
    if (this.running === query || this.next === query) return;
    if (this.running !== undefined) {
      this.next = query;
      return;
    }
    const search = this.search();
    if (!search) return;
    this.running = query;
    this.searches++;
    this.runningSearch = Promise.resolve()
      .then(() => search(query))
      .then(
        (hits) => this.remember(query, hits),
        (e: unknown) => {
          this.remember(query, []);
          this.onError(e instanceof Error ? e.message : String(e));
        },
      )
      .finally(() => {
        this.running = undefined;
        this.runningSearch = undefined;
        const next = this.next;
        this.next = undefined;
        if (next !== undefined && !this.cache.has(next)) this.start(next);
      });
  }

  private remember(query: string, hits: readonly IndexHit[]): void {
    this.cache.set(query, hits);
    while (this.cache.size > INDEX_CACHE) this.cache.delete(this.cache.keys().next().value as string);
  }
}
