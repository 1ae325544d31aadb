/**
 * Secrets in assignments: `password = "…"`, `"token": "…"`, `API_KEY=…`, `secret: …`, `client_secret => '…'`. The
 * key name says what kind of secret it holds (secretRules.ts ASSIGNMENT_WORDS, KEY_QUALIFIERS); the value is a
 * finding when it looks random rather than a word, a number, code or a path. Part of the detector in secrets.ts.
 */
import type { Candidate } from './secrets';
import {
  ASSIGNMENT_WORDS,
  KEY_QUALIFIERS,
  MIN_SECRET_LENGTH,
  entropyThreshold,
  isAlnum,
  isPlaceholder,
  shannonEntropy,
} from './secretRules';

/** Longest value read after an assignment operator. */
const MAX_VALUE = 2048;
const MAX_KEY = 128;

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}
function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}
/** Characters of a key name: identifiers plus `.` and `-` (db.password, X-Api-Key). */
function isKeyChar(c: number): boolean {
  return isAlnum(c) || c === 95 /* _ */ || c === 46 /* . */ || c === 45 /* - */ || c === 36; /* $ */
}

/** A value that is code: a name, a member access, a call (`config.apiKey`, `getToken()`, `process.env.KEY!`). */
const CODE = /^[A-Za-z_$][\w$]*(?:\??\.[A-Za-z_$][\w$]*)*(?:\(.*)?!?$/;

/** Whether an assignment's value looks like a random secret rather than a word, a number, code or a path. */
function looksSecret(value: string, quoted: boolean): boolean {
  if (value.length < MIN_SECRET_LENGTH || /\s/.test(value)) return false;
  if (/^[0-9.:_-]+$/.test(value)) return false; // numbers, versions, times
  if (/^(?:\/|\.\.?\/|~\/|[A-Za-z]:\\)/.test(value) || value.includes('://')) return false; // paths, URLs
  if (!quoted && CODE.test(value) && (/[.(!]/.test(value) || looksLikeWords(value))) return false;
  if (isPlaceholder(value)) return false;
  if (/^[a-z]+(?:[-_][a-z]+)*$/.test(value)) return false; // lower-case words: `bench-key`, `use-env-var`
  const classes = +/[a-z]/.test(value) + +/[A-Z]/.test(value) + +/[0-9]/.test(value) + +/[^A-Za-z0-9]/.test(value);
  if (value.length < 16 && classes < 2) return false;
  return shannonEntropy(value) >= entropyThreshold(value.length);
}

/**
 * An identifier made of words (`someVariable`, `adminAPIKey`, `DEFAULT_TOKEN`) rather than random characters: no
 * digits, and every camelCase/snake_case piece is a word of two or more letters or a short acronym. Random mixed-case
 * text breaks into one-letter pieces and long capital runs.
 */
function looksLikeWords(value: string): boolean {
  if (/[0-9]/.test(value)) return false;
  const pieces = value.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+/g) ?? [];
  const allCaps = !/[a-z]/.test(value);
  return pieces.length > 0 && pieces.every((w) => w.length >= 2 && (allCaps || !/^[A-Z]+$/.test(w) || w.length <= 5));
}

/** The kind of secret a key name holds, from its words, or undefined when it is not a secret's name. */
function assignmentKind(key: string): string | undefined {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[\s_.\-$]+/)
    .filter(Boolean);
  const last = words[words.length - 1];
  const prev = words[words.length - 2];
  if (!last) return undefined;
  const joined = words.join('');
  const awsSecret = words.includes('aws') && (last === 'secret' || (last === 'key' && prev === 'secret'));
  if (joined.endsWith('secretaccesskey') || awsSecret) return 'aws-secret-access-key';
  if (last === 'key') return prev ? KEY_QUALIFIERS[prev] : undefined;
  return ASSIGNMENT_WORDS[last];
}

/** The last words of secret-bearing key names, searched in the three usual casings. */
const ASSIGNMENT_NEEDLES: readonly string[] = [
  ...new Set(['pass', 'pwd', 'secret', 'token', 'key', 'credential'].flatMap((w) => [w, w[0].toUpperCase() + w.slice(1), w.toUpperCase()])),
];

/**
 * `password = "…"`, `"token": "…"`, `API_KEY=…`, `secret: …`, `client_secret => '…'`: the value, when it looks
 * random. AWS secret access keys are the same shape with a 40-character value.
 */
export function assignmentFindings(text: string, out: Candidate[]): void {
  const operator = /\\?["'`]?[ \t]*(?::=|===?|=>|[:=])[ \t]*/y;
  const seen = new Set<number>();
  for (const needle of ASSIGNMENT_NEEDLES) {
    let i = text.indexOf(needle);
    while (i !== -1) {
      let next = i + 1;
      // The key name ends here: the next character starts neither a longer word nor a member access.
      let keyEnd = i + needle.length;
      while (keyEnd < text.length && keyEnd - i < 16 && isLower(text.charCodeAt(keyEnd)) && needle !== needle.toUpperCase()) keyEnd++;
      while (keyEnd < text.length && keyEnd - i < 16 && isUpper(text.charCodeAt(keyEnd)) && needle === needle.toUpperCase()) keyEnd++;
      const after = keyEnd < text.length ? text.charCodeAt(keyEnd) : 32;
      if (!isKeyChar(after) && !seen.has(keyEnd)) {
        operator.lastIndex = keyEnd;
        const op = operator.exec(text);
        if (op && op[0].length > 0 && /[:=]/.test(op[0])) {
          seen.add(keyEnd);
          let keyStart = i;
          while (keyStart > 0 && i - keyStart < MAX_KEY && isKeyChar(text.charCodeAt(keyStart - 1))) keyStart--;
          const kind = assignmentKind(text.slice(keyStart, keyEnd));
          const found = kind ? readValue(text, keyEnd + op[0].length) : undefined;
          if (kind && found) {
            const { start, end } = found;
            const value = text.slice(start, end);
            if (kind === 'aws-secret-access-key' ? /^[A-Za-z0-9/+=]{40}$/.test(value) : looksSecret(value, found.quoted)) {
              out.push({ kind, start, end, priority: kind === 'aws-secret-access-key' ? 0 : 3 });
            }
            next = Math.max(next, end);
          }
        }
      }
      i = text.indexOf(needle, next);
    }
  }
}

/** The value after an assignment operator: quoted (up to the closing quote on the same line) or a bare word. */
function readValue(text: string, at: number): { start: number; end: number; quoted: boolean } | undefined {
  let p = at;
  let escaped = false;
  if (text.charCodeAt(p) === 92 /* \ */ && /["']/.test(text[p + 1] ?? '')) {
    escaped = true;
    p++;
  }
  const q = text[p];
  if (q === '"' || q === "'" || q === '`') {
    const start = p + 1;
    const limit = Math.min(text.length, start + MAX_VALUE);
    let end = start;
    while (end < limit) {
      const c = text[end];
      if (c === '\n' || c === '\r') return undefined;
      if (c === q && (!escaped || text[end - 1] === '\\')) break;
      if (c === '\\' && !escaped) end++; // an escaped character inside the string
      end++;
    }
    if (end >= limit) return undefined;
    if (escaped) end--; // the backslash before the closing quote
    return end > start ? { start, end, quoted: true } : undefined;
  }
  if (escaped) return undefined;
  const limit = Math.min(text.length, p + MAX_VALUE);
  let end = p;
  while (end < limit && !/[\s,;&'"`()[\]{}<>]/.test(text[end])) end++;
  return end > p ? { start: p, end, quoted: false } : undefined;
}
