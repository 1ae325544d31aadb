/**
 * An LRU cache of post-processed completions keyed by a digest of (model, prefix, suffix), which also serves the most
 * common next request: the user typed the first characters of the suggestion being shown. Then the new prefix is the
 * old prefix plus those characters and the suffix is unchanged, and the answer is the rest of the same suggestion,
 * with no model request.
 *
 * The typed-ahead match compares the end of the old prefix (its last TAIL_CHARS characters), not all of it, so it still
 * holds when the prefix window (cut at line boundaries within a token budget) dropped a line at its top meanwhile.
 */
import { createHash } from 'node:crypto';

export const DEFAULT_CACHE_ENTRIES = 256;
/** How much of the old prefix's end must precede the typed characters. */
const TAIL_CHARS = 256;
/** Suggestions remembered per (model, suffix) for typed-ahead matching, newest first. */
const PER_SUFFIX = 8;

export interface CacheHit {
  /** What to show now: the whole suggestion, or the part the user has not typed yet ('' = the model had nothing). */
  completion: string;
  /** How many characters of the cached suggestion the user already typed (0 for an exact hit). */
  typedAhead: number;
}

interface Entry {
  key: string;
  sideKey: string;
  prefixTail: string;
  /** The tail is the whole old prefix: the new one must be exactly it plus the typed characters. */
  whole: boolean;
  completion: string;
}

function digest(...parts: string[]): string {
  const h = createHash('sha256');
  // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
  for (const p of parts) h.update(`${p.length}:`).update(p);
  return h.digest('base64');
}

export class CompletionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly bySuffix = new Map<string, Entry[]>();

  constructor(readonly capacity = DEFAULT_CACHE_ENTRIES) {}

  get size(): number {
    return this.entries.size;
  }

  /** Remembers a completion ('' records that the model had nothing here, so the context is not asked again). */
  set(model: string, prefix: string, suffix: string, completion: string): void {
    const key = digest(model, prefix, suffix);
    const old = this.entries.get(key);
    if (old) this.remove(old);
    const entry: Entry = {
      key,
      sideKey: digest(model, suffix),
      prefixTail: prefix.slice(-TAIL_CHARS),
      whole: prefix.length <= TAIL_CHARS,
      completion,
    };
    this.entries.set(key, entry);
    const side = this.bySuffix.get(entry.sideKey) ?? [];
    side.unshift(entry);
    if (side.length > PER_SUFFIX) side.length = PER_SUFFIX;
    this.bySuffix.set(entry.sideKey, side);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.values().next().value as Entry;
      this.remove(oldest);
    }
  }

  /** An exact hit, or the rest of a suggestion whose first characters the user typed; undefined otherwise. */
  lookup(model: string, prefix: string, suffix: string): CacheHit | undefined {
    const key = digest(model, prefix, suffix);
    const exact = this.entries.get(key);
    if (exact) {
      this.touch(exact);
      return { completion: exact.completion, typedAhead: 0 };
    }
    const side = this.bySuffix.get(digest(model, suffix));
    if (!side) return undefined;
    for (const e of side) {
      const typed = typedLength(prefix, e);
      if (typed > 0) {
        this.touch(e);
        return { completion: e.completion.slice(typed), typedAhead: typed };
      }
    }
    return undefined;
  }

  /** The completion to show, or undefined on a miss (see `lookup`). */
  get(model: string, prefix: string, suffix: string): string | undefined {
    return this.lookup(model, prefix, suffix)?.completion;
  }

  clear(): void {
    this.entries.clear();
    this.bySuffix.clear();
  }

  private touch(e: Entry): void {
    this.entries.delete(e.key);
    this.entries.set(e.key, e);
  }

  private remove(e: Entry): void {
    this.entries.delete(e.key);
    const side = this.bySuffix.get(e.sideKey);
    if (!side) return;
    const i = side.indexOf(e);
    if (i >= 0) side.splice(i, 1);
    if (side.length === 0) this.bySuffix.delete(e.sideKey);
  }
}

/**
 * How many characters t (0 < t < completion.length) the user typed: `prefix` ends with the old prefix's tail +
 * completion[0, t) (and is exactly old prefix + completion[0, t) when the tail is the whole old prefix).
 * The shortest such t wins (typing is usually one character at a time). 0 when none.
 */
function typedLength(prefix: string, e: Entry): number {
  const { prefixTail: tail, completion } = e;
  const max = Math.min(completion.length - 1, prefix.length - tail.length);
  if (e.whole && prefix.length - tail.length > max) return 0;
  const last = prefix.charCodeAt(prefix.length - 1);
  for (let t = 1; t <= max; t++) {
    if (completion.charCodeAt(t - 1) !== last) continue;
    if (!prefix.endsWith(completion.slice(0, t))) continue;
    if (e.whole && prefix.length !== tail.length + t) continue;
    if (prefix.startsWith(tail, prefix.length - t - tail.length)) return t;
  }
  return 0;
}
