/**
 * Makes code searchable by words: `parseHttpHeader`, `parse_http_header`, `ParseHTTPHeader` and "parse http header"
 * meet. FTS5's unicode61 tokenizer already splits at `_` and punctuation; what it cannot do is split camelCase, so the
 * indexed body carries each compound identifier's parts after the text, and a query asks for an identifier's parts
 * as well as the identifier itself.
 */

const IDENT = /[\p{L}\p{N}_$]+/gu;

/** "parseHTTPHeader2" → ["parse", "http", "header", "2"]; "" parts dropped. */
export function identifierParts(word: string): string[] {
  return word
    .replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, '$1 $2')
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2')
    .replace(/(\p{L})(\p{N})/gu, '$1 $2')
    .split(/[\s_$]+/)
    .filter((p) => p.length > 0)
    .map((p) => p.toLowerCase());
}

const CAMEL_WORD = /[A-Za-z_$][A-Za-z0-9_$]{3,}/g;
const HAS_CAMEL = /[a-z0-9][A-Z]|[A-Z][A-Z][a-z]/;

/** The text FTS5 indexes for a chunk: the text, then the parts of every camelCase identifier in it. */
export function ftsBody(text: string): string {
  const words = new Set<string>();
  for (const m of text.matchAll(CAMEL_WORD)) {
    if (HAS_CAMEL.test(m[0])) words.add(m[0]);
  }
  if (words.size === 0) return text;
  const extra = new Set<string>();
  for (const w of words) for (const p of identifierParts(w)) extra.add(p);
  return `${text}\n${[...extra].join(' ')}`;
}

/** The terms FTS5 is asked for: the query's words and, for compound identifiers, their parts (lower case). */
export function queryTerms(query: string): string[] {
  const terms = new Set<string>();
  for (const m of query.matchAll(IDENT)) {
    const w = m[0].toLowerCase();
    if (!w.includes('_') && !w.includes('$')) terms.add(w);
    for (const p of identifierParts(m[0])) terms.add(p);
  }
  return [...terms];
}

/** The query's words split into their parts ("parseHttpHeader" → parse, http, header), lower case. */
export function queryParts(query: string): string[] {
  const parts = new Set<string>();
  for (const m of query.matchAll(IDENT)) for (const p of identifierParts(m[0])) parts.add(p);
  return [...parts];
}

/** An FTS5 expression that needs every term. */
export function ftsAll(terms: readonly string[]): string | undefined {
  return terms.length ? terms.map((t) => `"${t.replace(/"/g, '""')}"`).join(' AND ') : undefined;
}

/** An FTS5 MATCH expression: any of the terms (bm25 ranks chunks with more of them higher). */
export function ftsQuery(query: string | readonly string[]): string | undefined {
  const terms = typeof query === 'string' ? queryTerms(query) : query;
  if (terms.length === 0) return undefined;
  return terms.map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
}

/**
 * An FTS5 expression that finds chunks whose symbol is named by one of the query's identifiers ("resolveTaskName",
 * "parse_http_header", or the one word of a one-word query), or undefined when the query names none.
 */
export function symbolQuery(query: string): string | undefined {
  const terms: string[] = [];
  const words = [...query.matchAll(IDENT)].map((m) => m[0]);
  for (const w of words) {
    // A word of a sentence ("parse http header") names no symbol; an identifier, or a query of one word, does.
    if (w.length < 3 || (words.length > 1 && !w.includes('_') && !HAS_CAMEL.test(w))) continue;
    const parts = identifierParts(w);
    // snake_case is several tokens to FTS5: a phrase; anything else is one token.
    terms.push(w.includes('_') ? `"${parts.join(' ')}"` : `"${w.toLowerCase().replace(/"/g, '""')}"`);
  }
  return terms.length ? `symbol : (${terms.join(' OR ')})` : undefined;
}

/** Stems words the way the index's tokenizer does (word → stem; a word it has no stem for maps to itself). */
export type Stemmer = (words: readonly string[]) => Map<string, string>;

/** A thesaurus looked up by stem: each word or phrase's stems (space-joined) → the groups that hold it. */
export interface Thesaurus {
  groups: readonly (readonly string[])[];
  byStem: Map<string, number[]>;
  /** The longest entry, in words. */
  longest: number;
}

const stemKey = (phrase: string, stem: Map<string, string>) =>
  phrase
    .split(' ')
    .map((w) => stem.get(w) ?? w)
    .join(' ');

/** Indexes a thesaurus's groups by the stems of their entries. */
export function thesaurus(groups: readonly (readonly string[])[], stem: Stemmer): Thesaurus {
  const words = [...new Set(groups.flatMap((g) => g.flatMap((e) => e.split(' '))))];
  const stems = stem(words);
  const byStem = new Map<string, number[]>();
  let longest = 1;
  groups.forEach((g, i) => {
    for (const entry of g) {
      longest = Math.max(longest, entry.split(' ').length);
      const key = stemKey(entry, stems);
      const list = byStem.get(key) ?? [];
      if (!list.includes(i)) list.push(i);
      byStem.set(key, list);
    }
  });
  return { groups, byStem, longest };
}

/** At most this many expansion terms per query (each one is another term FTS5 scores). */
export const MAX_EXPANSIONS = 24;

/**
 * The thesaurus's words for the query's words and phrases (by stem, camelCase and snake_case parts included), minus
 * those the query already has: what a question's "copy" also asks for (clone, duplicate…). Two-word entries come out
 * as one term ("leave out"): FTS5 reads a quoted term with a space as a phrase.
 */
export function expansionTerms(query: string, th: Thesaurus, stem: Stemmer): string[] {
  const parts = [...query.matchAll(IDENT)].flatMap((m) => identifierParts(m[0]));
  if (parts.length === 0) return [];
  const stems = stem(parts);
  const seq = parts.map((p) => stems.get(p) ?? p);
  const own = new Set(seq);
  const groups = new Set<number>();
  for (let i = 0; i < seq.length; i++) {
    for (let n = 1; n <= th.longest && i + n <= seq.length; n++) {
      for (const g of th.byStem.get(seq.slice(i, i + n).join(' ')) ?? []) groups.add(g);
    }
  }
  if (groups.size === 0) return [];
  const out = new Set<string>();
  for (const g of groups) {
    for (const entry of th.groups[g]!) {
      const words = entry.split(' ');
      // An entry whose every word the query has adds nothing ("leave out" for "leaving out", "clone" for "clones").
      const es = stem(words);
      if (words.every((w) => own.has(es.get(w) ?? w))) continue;
      out.add(entry);
    }
  }
  return [...out].slice(0, MAX_EXPANSIONS);
}
