/**
 * The secret detector's rules, kept as data: one row per credential shape whose text starts with a fixed prefix.
 * secrets.ts finds each prefix with `indexOf` (cheap, and a rule whose prefix is absent costs one pass) and only
 * then runs the row's sticky pattern at that position. Every quantifier is bounded, so no input backtracks for long.
 *
 * Shapes that need context rather than a prefix (`password = "…"` assignments, AWS secret access keys, URL
 * credentials, PEM blocks, JWTs, the workspace's .env values) are handled in secrets.ts itself.
 *
 * Markers such as the PEM armour are built from pieces so that this file holds nothing a repository secret scanner
 * would flag.
 */

export interface PrefixRule {
  /** The redaction kind, kebab-case: `[redacted: <kind>]`. */
  kind: string;
  /** Literal, case-sensitive needles searched with `indexOf`; a match starts at one of them, `lead` characters
   *  before it. (indexOf is fastest for a needle that starts with a rare character: `_live_` rather than `sk_live_`.) */
  prefixes: readonly string[];
  /** How many characters of the match stand before the needle. Default 0. */
  lead?: number;
  /** A sticky (`y`) pattern tried at each prefix occurrence; the whole match is the secret. */
  pattern: RegExp;
  /** Further checks on the matched text (e.g. "has a digit", so kebab-case words are not keys). */
  validate?: (match: string) => boolean;
  /** Lower runs first when two findings overlap. Specific provider shapes are 0, generic ones higher. */
  priority?: number;
}

const hasDigit = (s: string) => /[0-9]/.test(s);
const hasLetter = (s: string) => /[A-Za-z]/.test(s);
/** A random key body: letters and digits both (kebab-case words and all-x placeholders are neither). */
const randomish = (s: string) => hasDigit(s) && hasLetter(s) && !/x{6,}|X{6,}/.test(s);

export const PREFIX_RULES: readonly PrefixRule[] = [
  {
    kind: 'anthropic-api-key',
    prefixes: ['k-'],
    lead: 1,
    pattern: /sk-ant-[A-Za-z0-9_-]{20,512}/y,
    validate: randomish,
  },
  {
    kind: 'openrouter-api-key',
    prefixes: ['k-'],
    lead: 1,
    pattern: /sk-or-v1-[A-Za-z0-9]{32,128}/y,
    validate: randomish,
  },
  {
    // Legacy `sk-…`, project `sk-proj-…`, service account `sk-svcacct-…`, admin `sk-admin-…` keys.
    kind: 'openai-api-key',
    prefixes: ['k-'],
    lead: 1,
    pattern: /sk-(?!ant-|or-v1-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,512}/y,
    validate: randomish,
  },
  {
    kind: 'google-api-key',
    prefixes: ['AIza'],
    pattern: /AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/y,
  },
  {
    kind: 'xai-api-key',
    prefixes: ['xai-'],
    pattern: /xai-[A-Za-z0-9_-]{20,512}/y,
    validate: randomish,
  },
  {
    kind: 'github-token',
    prefixes: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
    pattern: /gh[pousr]_[A-Za-z0-9]{30,255}/y,
    validate: randomish,
  },
  {
    kind: 'github-token',
    prefixes: ['_pat_'],
    lead: 6,
    pattern: /github_pat_[A-Za-z0-9_]{22,255}/y,
    validate: randomish,
  },
  {
    kind: 'gitlab-token',
    prefixes: ['glpat-'],
    pattern: /glpat-[A-Za-z0-9_-]{20,255}/y,
    validate: randomish,
  },
  {
    kind: 'slack-token',
    prefixes: ['xoxa-', 'xoxb-', 'xoxe-', 'xoxo-', 'xoxp-', 'xoxr-', 'xoxs-'],
    pattern: /xox[abeoprs]-[A-Za-z0-9-]{10,255}/y,
    validate: hasDigit,
  },
  {
    kind: 'slack-webhook',
    prefixes: ['hooks.slack.com/'],
    pattern: /hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/-]{8,255}/y,
  },
  {
    kind: 'stripe-key',
    prefixes: ['_live_', '_test_'],
    lead: 2,
    pattern: /[sr]k_(?:live|test)_[A-Za-z0-9]{16,255}/y,
    validate: randomish,
  },
  {
    kind: 'npm-token',
    prefixes: ['npm_'],
    pattern: /npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])/y,
    validate: randomish,
  },
  {
    kind: 'huggingface-token',
    prefixes: ['hf_'],
    pattern: /hf_[A-Za-z0-9]{34}(?![A-Za-z0-9])/y,
    validate: randomish,
  },
  {
    kind: 'groq-api-key',
    prefixes: ['gsk_'],
    pattern: /gsk_[A-Za-z0-9]{48,64}(?![A-Za-z0-9])/y,
    validate: randomish,
  },
  {
    kind: 'aws-access-key-id',
    prefixes: ['AKIA', 'ASIA', 'ABIA', 'ACCA'],
    pattern: /A(?:KI|SI|BI|CC)A[0-9A-Z]{16}(?![0-9A-Za-z])/y,
  },
  {
    // `Authorization: Bearer <opaque token>`.
    kind: 'bearer-token',
    prefixes: ['Bearer ', 'bearer '],
    pattern: /[Bb]earer [A-Za-z0-9._~+/=-]{16,2048}/y,
    validate: (m) => randomish(m.slice(7)),
    priority: 2,
  },
];

/**
 * Key names of `key = value` assignments whose value is a secret when it looks random. The scanner finds the
 * key's LAST word (camelCase, snake_case, kebab-case or dotted), so `GITHUB_TOKEN`, `clientSecret`, `db.password`
 * and `X-Api-Key` count and `maxTokens`, `tokenizer`, `secretName` do not. `key` counts only after a qualifier.
 */
export const ASSIGNMENT_WORDS: Readonly<Record<string, string>> = {
  password: 'password',
  passwd: 'password',
  pwd: 'password',
  pass: 'password',
  passphrase: 'password',
  secret: 'secret',
  credential: 'secret',
  credentials: 'secret',
  token: 'token',
  apikey: 'api-key',
  key: 'api-key',
};
/** The words that may stand before `key` for it to be a secret (api_key, secretKey, private-key, …). */
export const KEY_QUALIFIERS: Readonly<Record<string, string>> = {
  api: 'api-key',
  access: 'api-key',
  secret: 'secret',
  private: 'secret',
  signing: 'secret',
  encryption: 'secret',
  client: 'secret',
  master: 'secret',
  auth: 'api-key',
  license: 'api-key',
};

/**
 * Values that are not secrets however random they look: placeholders, references to a variable or a lookup, and
 * examples. Tested against the trimmed value.
 */
export const PLACEHOLDER_PATTERNS: readonly RegExp[] = [
  new RegExp(
    String.raw`^(?:changeme|change_me|change-me|password\d*|secret|token|example|dummy|` +
      String.raw`sample|test|testing|null|nil|none|undefined|` +
      String.raw`true|false|required|optional|string|redacted|hidden|empty)$`,
    'i',
  ),
  /^<[^>]*>$/, // <your-token>
  /^\[[^\]]*\]$/, // [redacted: …], [TOKEN]
  /\$\{|\{\{|\$\(|%\(|^\$[A-Za-z_]/, // ${VAR}, {{ var }}, $(cmd), %(name)s, $VAR
  /process\.env|import\.meta\.env|os\.environ|getenv|ENV\[|env\(|secrets\./i,
  /x{4,}|X{4,}|\*{3,}|\.{3}|#{4,}|_{4,}|-{4,}|0{8,}/,
  /your[-_ ]?|placeholder|redacted|example|insert|replace[-_ ]?me/i,
];

export function isPlaceholder(value: string): boolean {
  return PLACEHOLDER_PATTERNS.some((p) => p.test(value));
}

/** An ASCII letter or digit (a character code). */
export function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (!s) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Minimum length of an assignment value or a .env value that is treated as a secret. */
export const MIN_SECRET_LENGTH = 8;

/**
 * High entropy for a value of this length: 3 bits a character from 16 characters on (random base64 has ~5, hex ~4,
 * English words ~2.5-3.3 but fail the character-class test below); shorter values can reach at most log2(length).
 */
export function entropyThreshold(length: number): number {
  return Math.min(3.0, Math.log2(length) - 0.25);
}

/** The PEM armour, built from pieces (see the file comment). */
export const PEM_DASHES = '-'.repeat(5);
export const PEM_BEGIN = `${PEM_DASHES}BEGIN `;
export const PEM_END = `${PEM_DASHES}END `;
export const PEM_PRIVATE = ['PRIVATE', 'KEY'].join(' ');

/** .env values too common to redact wherever they appear. Compared lower-cased. */
export const COMMON_ENV_VALUES: ReadonlySet<string> = new Set([
  'true',
  'false',
  'yes',
  'no',
  'on',
  'off',
  'null',
  'none',
  'undefined',
  'localhost',
  '127.0.0.1',
  '0.0.0.0',
  '::1',
  'development',
  'production',
  'staging',
  'test',
  'testing',
  'local',
  'debug',
  'info',
  'warning',
  'error',
  'http://localhost',
  'https://localhost',
  'utf-8',
  'utf8',
  'changeme',
  'password',
  'postgres',
  'postgresql',
  'mysql',
  'sqlite',
  'redis',
  'mongodb',
  'default',
  'enabled',
  'disabled',
]);

/** Every kind the detector reports, for documentation and for the ledger's column names. */
export const SECRET_KINDS: readonly string[] = [
  ...new Set([
    ...PREFIX_RULES.map((r) => r.kind),
    'private-key',
    'jwt',
    'url-credentials',
    'aws-secret-access-key',
    ...new Set(Object.values(ASSIGNMENT_WORDS)),
    ...new Set(Object.values(KEY_QUALIFIERS)),
    'env-value',
  ]),
];
