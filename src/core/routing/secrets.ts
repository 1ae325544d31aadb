/**
 * The secret detector: finds credentials in text bound for a cloud model and replaces each with
 * `[redacted: <kind>]`. Pure and synchronous; the router decides when to call it (cloud candidates only) and what to
 * do with the result (redact, block, or nothing), and records the counts, never the values.
 *
 * Design for speed (a 100 KB prompt in well under 2 ms): every rule starts from a literal found with `indexOf`, and
 * a pattern runs only at those positions, with bounded quantifiers. Nothing scans the text once per character.
 *
 * What it finds: the prefix rules of secretRules.ts (provider API keys and tokens, AWS access key ids, bearer
 * tokens), PEM private key blocks, JWTs whose header decodes to JSON with "alg", passwords in URLs,
 * `password`/`secret`/`token`/`api_key` assignments with a high-entropy value (only the value is replaced), AWS
 * secret access keys in such an assignment, and literal known values (the workspace's .env values). What it does
 * not promise: a secret with no recognisable shape and no telling key name (a random string in a comment, a
 * password split across lines or computed at run time) passes through.
 */
import { assignmentFindings } from './secretAssignments';
import {
  COMMON_ENV_VALUES,
  MIN_SECRET_LENGTH,
  PEM_BEGIN,
  PEM_DASHES,
  PEM_END,
  PEM_PRIVATE,
  PREFIX_RULES,
  type PrefixRule,
  isAlnum,
  isPlaceholder,
  shannonEntropy,
} from './secretRules';

export interface SecretFinding {
  kind: string;
  start: number;
  end: number;
}

export interface ScanResult {
  /** The text with every finding replaced by `[redacted: <kind>]`; the input itself when nothing was found. */
  text: string;
  /** Findings by kind, e.g. `{ "aws-secret-access-key": 1 }`. Empty when none. */
  redactions: Record<string, number>;
  /** The number of findings (the sum of `redactions`). */
  found: number;
}

export interface ScanOptions {
  /** Literal values to redact wherever they appear, as kind `env-value` (the workspace's .env values). Values
   *  shorter than 8 characters, digits only, or common words ("true", "localhost", "production") are ignored. */
  knownValues?: readonly string[];
}

/** The text that replaces a secret of this kind. */
export function redactionMarker(kind: string): string {
  return `[redacted: ${kind}]`;
}

/** A finding of one detector; where findings overlap, the lower priority wins. */
export interface Candidate extends SecretFinding {
  priority: number;
}

function isBase64Url(c: number): boolean {
  return isAlnum(c) || c === 95 || c === 45;
}

/** Each occurrence of `needle` in `text`, in order. */
function* occurrences(text: string, needle: string, from = 0): Generator<number> {
  for (let i = text.indexOf(needle, from); i !== -1; i = text.indexOf(needle, i + 1)) yield i;
}

/** The prefix rules grouped by needle, in table order, so each needle is searched once. */
const RULES_BY_NEEDLE: ReadonlyMap<string, readonly PrefixRule[]> = (() => {
  const m = new Map<string, PrefixRule[]>();
  for (const rule of PREFIX_RULES) for (const p of rule.prefixes) m.set(p, [...(m.get(p) ?? []), rule]);
  return m;
})();

function prefixFindings(text: string, out: Candidate[]): void {
  for (const [needle, rules] of RULES_BY_NEEDLE) {
    let i = text.indexOf(needle);
    while (i !== -1) {
      let next = i + 1;
      for (const rule of rules) {
        const start = i - (rule.lead ?? 0);
        if (start < 0) continue;
        // A key starts at a word boundary: `task-…`, `my_sk-…`, `base64…AKIA…` are not keys.
        const before = start > 0 ? text.charCodeAt(start - 1) : 32;
        if (isAlnum(before) || before === 95) continue;
        rule.pattern.lastIndex = start;
        const m = rule.pattern.exec(text);
        if (!m) continue;
        next = Math.max(next, start + m[0].length); // occurrences inside this run would scan it again
        if (!rule.validate || rule.validate(m[0])) {
          out.push({ kind: rule.kind, start, end: start + m[0].length, priority: rule.priority ?? 0 });
          break;
        }
      }
      i = text.indexOf(needle, next);
    }
  }
}

/** PEM private key blocks, BEGIN through END; a block cut off before its END line is redacted to its last line. */
function pemFindings(text: string, out: Candidate[]): void {
  const label = /[A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?/y;
  const missingEnd = new Set<string>();
  let i = text.indexOf(PEM_BEGIN);
  while (i !== -1) {
    let next = i + PEM_BEGIN.length;
    label.lastIndex = next;
    const m = label.exec(text);
    if (m && m[0].includes(PEM_PRIVATE) && text.startsWith(PEM_DASHES, label.lastIndex)) {
      const endMarker = `${PEM_END}${m[0]}${PEM_DASHES}`;
      const at = missingEnd.has(endMarker) ? -1 : text.indexOf(endMarker, label.lastIndex);
      let end: number;
      if (at !== -1) end = at + endMarker.length;
      else {
        missingEnd.add(endMarker); // a later BEGIN of this label has no END either: do not search again
        // The lines that follow and look like the block's body (base64, or `Proc-Type: …` headers), on real or
        // escaped (`\n` in a JSON string) line breaks.
        const line =
          /(?:\r?\n|\\r?\\n)[ \t]*(?:[A-Za-z0-9+/=]+|[A-Za-z][A-Za-z-]{0,40}: [^\r\n\\]{0,200})(?=[ \t]*(?:\r?\n|\\r?\\n|["'`,]|$))/y;
        end = label.lastIndex + PEM_DASHES.length;
        const stop = end + 16384;
        line.lastIndex = end;
        while (end < stop && line.exec(text)) end = line.lastIndex;
      }
      out.push({ kind: 'private-key', start: i, end, priority: 0 });
      next = end;
    }
    i = text.indexOf(PEM_BEGIN, next);
  }
}

/** base64url → text, or undefined when it is not valid base64url. */
function decodeBase64Url(s: string): string | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
  return Buffer.from(s, 'base64url').toString('utf8');
}

/** JWTs: header.payload.signature in base64url, the header a JSON object with "alg". */
function jwtFindings(text: string, out: Candidate[]): void {
  // 'yJ' and a look back: indexOf is much faster on a needle whose first character is rare.
  let j = text.indexOf('yJ', 1);
  while (j !== -1) {
    const i = j - 1;
    let next = j + 2;
    const before = i > 0 ? text.charCodeAt(i - 1) : 32;
    if (text.charCodeAt(i) === 101 /* e */ && !isBase64Url(before)) {
      // Three runs of base64url separated by dots; each run is walked once.
      const runs: number[] = [i];
      let p = i;
      for (let part = 0; part < 3; part++) {
        const limit = Math.min(text.length, p + 8192);
        while (p < limit && isBase64Url(text.charCodeAt(p))) p++;
        runs.push(p);
        if (part < 2) {
          if (text.charCodeAt(p) !== 46 /* . */) break;
          p++;
          runs.push(p);
        }
      }
      next = Math.max(next, runs[1]);
      if (runs.length === 6 && runs[1] - runs[0] >= 10 && runs[3] - runs[2] >= 2) {
        const header = decodeBase64Url(text.slice(runs[0], runs[1]));
        let ok = false;
        try {
          const h = header && JSON.parse(header);
          ok = !!h && typeof h === 'object' && typeof h.alg === 'string';
        } catch {
          ok = false;
        }
        if (ok) {
          out.push({ kind: 'jwt', start: i, end: runs[5], priority: 0 });
          next = runs[5];
        }
      }
    }
    j = text.indexOf('yJ', next);
  }
}

/** `scheme://user:password@host`: the password part. */
function urlCredentialFindings(text: string, out: Candidate[]): void {
  const cred = /:\/\/[^\s/?#@:'"`<>]{1,256}:([^\s/?#@'"`<>]{1,256})@/y;
  for (const i of occurrences(text, '://')) {
    cred.lastIndex = i;
    const m = cred.exec(text);
    if (!m) continue;
    const pass = m[1];
    if (isPlaceholder(pass)) continue;
    const end = i + m[0].length - 1;
    out.push({ kind: 'url-credentials', start: end - pass.length, end, priority: 1 });
  }
}

/** The known values worth redacting: long enough, not digits only, not common words, not placeholders. */
export function usableKnownValues(values: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of values) {
    const v = raw.trim();
    if (v.length < MIN_SECRET_LENGTH) continue;
    if (/^[\d\s.,:_\-+]+$/.test(v)) continue;
    if (COMMON_ENV_VALUES.has(v.toLowerCase())) continue;
    if (/^https?:\/\/(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::\d+)?\/?$/i.test(v)) continue;
    if (isPlaceholder(v) || shannonEntropy(v) < 2) continue;
    out.add(v);
  }
  // Longest first, so a value that contains another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length);
}

function knownValueFindings(text: string, values: readonly string[], out: Candidate[]): void {
  for (const v of usableKnownValues(values)) {
    let i = text.indexOf(v);
    while (i !== -1) {
      out.push({ kind: 'env-value', start: i, end: i + v.length, priority: 1 });
      i = text.indexOf(v, i + v.length);
    }
  }
}

/**
 * Every secret in `text`, in order, not overlapping. Where two findings overlap the more specific one wins (a
 * provider key over `token = …`), then the longer.
 */
export function findSecrets(text: string, options: ScanOptions = {}): SecretFinding[] {
  const all: Candidate[] = [];
  prefixFindings(text, all);
  pemFindings(text, all);
  jwtFindings(text, all);
  urlCredentialFindings(text, all);
  assignmentFindings(text, all);
  if (options.knownValues?.length) knownValueFindings(text, options.knownValues, all);
  if (all.length === 0) return [];
  all.sort((a, b) => a.priority - b.priority || b.end - b.start - (a.end - a.start) || a.start - b.start);
  // Kept findings in start order; a candidate is kept when it overlaps neither neighbour (binary search).
  const kept: Candidate[] = [];
  for (const c of all) {
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (kept[mid].start < c.start) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && kept[lo - 1].end > c.start) continue;
    if (lo < kept.length && kept[lo].start < c.end) continue;
    kept.splice(lo, 0, c);
  }
  return kept.map(({ kind, start, end }) => ({ kind, start, end }));
}

/** `text` with every secret replaced by `[redacted: <kind>]`, and how many of each kind were replaced. */
export function redactSecrets(text: string, options: ScanOptions = {}): ScanResult {
  const findings = findSecrets(text, options);
  const redactions: Record<string, number> = {};
  if (findings.length === 0) return { text, redactions, found: 0 };
  let out = '';
  let at = 0;
  for (const f of findings) {
    out += text.slice(at, f.start) + redactionMarker(f.kind);
    redactions[f.kind] = (redactions[f.kind] ?? 0) + 1;
    at = f.end;
  }
  out += text.slice(at);
  return { text: out, redactions, found: findings.length };
}

/**
 * The values of a .env file: `KEY=value`, `export KEY=value`, single/double/backtick quotes (double-quoted values
 * may span lines and have `\n` escapes), `# comments` on their own line or after an unquoted value.
 */
export function parseDotEnvValues(text: string): string[] {
  const values: string[] = [];
  const line = /^[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.-]*[ \t]*[=:][ \t]*/gm;
  let m: RegExpExecArray | null;
  while ((m = line.exec(text))) {
    const at = m.index + m[0].length;
    const q = text[at];
    if (q === '"' || q === "'" || q === '`') {
      const close = text.indexOf(q, at + 1);
      if (close === -1) continue;
      let v = text.slice(at + 1, close);
      if (q === '"') v = v.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
      if (v) values.push(v);
      line.lastIndex = close + 1;
      continue;
    }
    const eol = text.indexOf('\n', at);
    let v = text.slice(at, eol === -1 ? text.length : eol);
    const comment = v.search(/\s#/);
    if (comment !== -1) v = v.slice(0, comment);
    v = v.trim();
    if (v && !v.startsWith('#')) values.push(v);
  }
  return values;
}
