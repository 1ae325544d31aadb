// The secret detector (issue 12, "Secrets never reach a cloud request"): each rule finds its shape and replaces only
// the secret with `[redacted: <kind>]`, counts per kind, and leaves hashes, UUIDs, lockfile integrity strings, base64
// images and ordinary code alone. Fixtures are built at run time from pieces and a seeded generator, so the
// repository holds no real-looking secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findSecrets, parseDotEnvValues, redactSecrets, redactionMarker } from '../../src/core/routing/secrets';
import { SECRET_KINDS } from '../../src/core/routing/secretRules';

/** Deterministic pseudo-random characters from an alphabet. */
function rand(n: number, seed: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'): string {
  let x = seed >>> 0;
  let s = '';
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += alphabet[(x >>> 8) % alphabet.length];
  }
  return s;
}
const UPPER_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const HEX = '0123456789abcdef';
const D5 = '-'.repeat(5);
const PK = ['PRIVATE', 'KEY'].join(' ');
const b64url = (s: string) => Buffer.from(s).toString('base64url');

/** Asserts `text` redacts to exactly the expected kinds, with none of the secret values left in the output. */
function assertRedacts(text: string, secretsInText: string[], kinds: Record<string, number>, knownValues?: string[]) {
  const r = redactSecrets(text, { knownValues });
  assert.deepEqual(r.redactions, kinds, `kinds for: ${text.slice(0, 120)}\n→ ${r.text.slice(0, 200)}`);
  assert.equal(
    r.found,
    Object.values(kinds).reduce((a, b) => a + b, 0),
  );
  for (const s of secretsInText) assert.ok(!r.text.includes(s), `value left in: ${r.text}`);
  for (const k of Object.keys(kinds)) assert.ok(r.text.includes(redactionMarker(k)), `marker for ${k} in: ${r.text}`);
  return r.text;
}
function assertClean(text: string, knownValues?: string[]) {
  const found = findSecrets(text, { knownValues });
  assert.deepEqual(
    found.map((f) => ({ ...f, text: text.slice(f.start, f.end) })),
    [],
    `no secret expected in: ${text.slice(0, 200)}`,
  );
}

// ---- Provider key shapes -------------------------------------------------------------------------------------

const shapes: [kind: string, value: string][] = [
  ['openai-api-key', 'sk-' + rand(48, 1)],
  ['openai-api-key', 'sk-' + 'proj-' + rand(74, 2, B64.slice(0, 62) + '_-') + 'T3' + rand(80, 3)],
  ['openai-api-key', 'sk-' + 'svcacct-' + rand(60, 4)],
  ['anthropic-api-key', 'sk-' + 'ant-' + 'api03-' + rand(93, 5, B64.slice(0, 62) + '_-') + 'AA'],
  ['google-api-key', 'AI' + 'za' + 'Sy' + rand(33, 6, B64.slice(0, 62) + '_-')],
  ['xai-api-key', 'xai' + '-' + rand(80, 7)],
  ['github-token', 'gh' + 'p_' + rand(36, 8)],
  ['github-token', 'gh' + 'o_' + rand(36, 9)],
  ['github-token', 'gh' + 'u_' + rand(36, 10)],
  ['github-token', 'gh' + 's_' + rand(36, 11)],
  ['github-token', 'gh' + 'r_' + rand(36, 12)],
  ['github-token', 'github' + '_pat_' + rand(22, 13) + '_' + rand(59, 14)],
  ['gitlab-token', 'gl' + 'pat-' + rand(20, 15)],
  ['slack-token', 'xo' + 'xb-' + rand(12, 16, '0123456789') + '-' + rand(13, 17, '0123456789') + '-' + rand(24, 18)],
  ['slack-token', 'xo' + 'xp-' + rand(12, 19, '0123456789') + '-' + rand(24, 20)],
  [
    'slack-webhook',
    'https://' + 'hooks.slack.com/services/T' + rand(8, 21, UPPER_DIGITS) + '/B' + rand(8, 22, UPPER_DIGITS) + '/' + rand(24, 23),
  ],
  ['stripe-key', 'sk' + '_live_' + rand(24, 24)],
  ['stripe-key', 'rk' + '_live_' + rand(24, 25)],
  ['stripe-key', 'sk' + '_test_' + rand(24, 26)],
  ['openrouter-api-key', 'sk-' + 'or-v1-' + rand(64, 140, HEX)],
  ['npm-token', 'np' + 'm_' + rand(36, 141)],
  ['huggingface-token', 'h' + 'f_' + rand(34, 142)],
  ['groq-api-key', 'gs' + 'k_' + rand(52, 143)],
  ['aws-access-key-id', 'AK' + 'IA' + rand(16, 27, UPPER_DIGITS)],
  ['aws-access-key-id', 'AS' + 'IA' + rand(16, 28, UPPER_DIGITS)],
];

for (const [kind, value] of shapes) {
  test(`${kind}: ${value.slice(0, 12)}… is redacted in code, JSON, env and prose`, () => {
    const secretPart = kind === 'slack-webhook' ? value.slice('https://'.length) : value;
    for (const text of [
      `const client = new Client({ apiKey: "${value}" });`,
      `{"credentials": {"value": "${value}"}}`,
      `SOME_SETTING=${value}\n`,
      `I pasted ${value} by mistake, sorry.`,
      value,
    ]) {
      const out = assertRedacts(text, [secretPart], { [kind]: 1 });
      if (kind === 'slack-webhook') assert.ok(out.includes('https://'), out);
    }
  });
}

test('each provider key counts once per occurrence, and only the key is replaced', () => {
  const a = 'gh' + 'p_' + rand(36, 30);
  const b = 'gh' + 'p_' + rand(36, 31);
  const text = `first ${a}, second ${b}, first again ${a}.`;
  const r = redactSecrets(text);
  assert.equal(r.text, `first [redacted: github-token], second [redacted: github-token], first again [redacted: github-token].`);
  assert.deepEqual(r.redactions, { 'github-token': 3 });
  assert.equal(r.found, 3);
});

test('a key glued to a longer word, or a kebab-case word that starts like a key, is not a key', () => {
  assertClean('task-management-and-planning-for-everyone-here');
  assertClean('risk-' + rand(30, 40));
  assertClean('const desk = "sk-' + 'learn-style-kebab-case-names";');
  assertClean('xAI: xai-grok-model-family-names-are-words');
  assertClean('id: A' + 'KIA' + rand(16, 41, UPPER_DIGITS).toLowerCase());
  assertClean('bearer token docs: use the header Authorization: Bearer <token>');
  assertClean('Authorization: Bearer ${process.env.TOKEN}');
});

// ---- Context rules ---------------------------------------------------------------------------------------------

test('aws-secret-access-key: a 40-character value in an aws_secret_access_key assignment, in each syntax', () => {
  const v = rand(40, 50, B64);
  for (const text of [
    `aws_secret_access_key = ${v}`,
    `AWS_SECRET_ACCESS_KEY=${v}`,
    `export AWS_SECRET_ACCESS_KEY="${v}"`,
    `"SecretAccessKey": "${v}"`,
    `secretAccessKey: '${v}'`,
  ]) {
    const out = assertRedacts(text, [v], { 'aws-secret-access-key': 1 });
    assert.match(out, /secret_access_key|SECRET_ACCESS_KEY|SecretAccessKey|secretAccessKey/, 'the key name stays');
  }
});

test('aws: an access key id and its secret in a credentials file give one of each', () => {
  const id = 'AK' + 'IA' + rand(16, 51, UPPER_DIGITS);
  const secret = rand(40, 52, B64);
  const text = `[default]\naws_access_key_id = ${id}\naws_secret_access_key = ${secret}\nregion = eu-west-1\n`;
  const out = assertRedacts(text, [id, secret], { 'aws-access-key-id': 1, 'aws-secret-access-key': 1 });
  assert.ok(out.includes('region = eu-west-1'));
});

test('jwt: three base64url parts whose header is JSON with "alg"', () => {
  const jwt = [
    b64url('{"alg":"HS256","typ":"JWT"}'),
    b64url(`{"sub":"${rand(8, 60)}","iat":1700000000}`),
    rand(43, 61, B64.slice(0, 62) + '_-'),
  ].join('.');
  assertRedacts(`Authorization: Bearer ${jwt}`, [jwt], { jwt: 1 });
  assertRedacts(`{"id_token":"${jwt}"}`, [jwt], { jwt: 1 });
  assertRedacts(`cookie=${jwt}; Path=/`, [jwt], { jwt: 1 });
  // Base64url JSON that is not a JWT header (no "alg"), and dotted identifiers starting with eyJ, are left alone.
  assertClean(`${b64url('{"name":"not a header"}')}.${b64url('{"a":1}')}.${rand(20, 62)}`);
  assertClean('eyJustAWord.andAnother.thing');
});

test('private-key: a whole PEM block, BEGIN through END, for each label; a truncated block to its last body line', () => {
  const body = Array.from({ length: 6 }, (_, i) => rand(64, 70 + i, B64)).join('\n') + '\n' + rand(20, 79, B64) + '==';
  for (const label of ['', 'RSA ', 'EC ', 'OPENSSH ', 'ENCRYPTED ', 'DSA ']) {
    const block = `${D5}BEGIN ${label}${PK}${D5}\n${body}\n${D5}END ${label}${PK}${D5}`;
    const out = assertRedacts(`key file:\n${block}\nthe end`, [body.slice(0, 64), PK], { 'private-key': 1 });
    assert.equal(out, 'key file:\n[redacted: private-key]\nthe end');
  }
  const pgp = `${D5}BEGIN PGP ${PK} BLOCK${D5}\n\n${body}\n${D5}END PGP ${PK} BLOCK${D5}`;
  assertRedacts(pgp, [body.slice(0, 64)], { 'private-key': 1 });
  // Inside a JSON string with escaped line breaks (a service account file).
  const json = `{"private_key": "${D5}BEGIN ${PK}${D5}\\n${body.replace(/\n/g, '\\n')}\\n${D5}END ${PK}${D5}\\n", "client_email": "a@b.c"}`;
  const out = assertRedacts(json, [body.slice(0, 64)], { 'private-key': 1 });
  assert.ok(out.includes('"client_email": "a@b.c"'), out);
  // Cut off before END (a truncated paste): the body lines go, the prose after them stays.
  const cut = `${D5}BEGIN RSA ${PK}${D5}\nProc-Type: 4,ENCRYPTED\n${body}\nand here the text goes on.`;
  assert.equal(
    assertRedacts(cut, [body.slice(0, 64), body.slice(-30)], { 'private-key': 1 }),
    '[redacted: private-key]\nand here the text goes on.',
  );
  // Public keys and certificates are not secrets.
  assertClean(`${D5}BEGIN PUBLIC KEY${D5}\n${body}\n${D5}END PUBLIC KEY${D5}`);
  assertClean(`${D5}BEGIN CERTIFICATE${D5}\n${body}\n${D5}END CERTIFICATE${D5}`);
});

test('url-credentials: only the password part of scheme://user:password@host', () => {
  const pass = rand(16, 80);
  const out = assertRedacts(`DATABASE_URL=postgres://app:${pass}@db.internal:5432/app`, [pass], { 'url-credentials': 1 });
  assert.equal(out, 'DATABASE_URL=postgres://app:[redacted: url-credentials]@db.internal:5432/app');
  assertRedacts(`git clone https://bob:${pass}@git.example.com/x.git`, [pass], { 'url-credentials': 1 });
  assertRedacts(`redis://default:${pass}@cache:6379`, [pass], { 'url-credentials': 1 });
  // A token as the password of a URL is the token's own kind.
  const gh = 'gh' + 'p_' + rand(36, 81);
  assertRedacts(`https://x-access-token:${gh}@github.com/o/r.git`, [gh], { 'github-token': 1 });
  // No credentials, or a placeholder for them.
  assertClean('https://example.com:8443/path?q=1#frag and http://localhost:3000/ and https://user@host/');
  assertClean('postgres://app:${DB_PASSWORD}@db:5432/app');
  assertClean('https://user:<password>@host/');
});

test('password/secret/token/api_key assignments: only a high-entropy value, never the key name', () => {
  let seed = 1000;
  const v = () => rand(24, seed++);
  const cases: [string, string][] = [
    ['password', 'password = "VALUE"'],
    ['password', "db_password: 'VALUE'"],
    ['password', 'DB_PASSWORD=VALUE'],
    ['password', '"password": "VALUE"'],
    ['password', 'spring.datasource.password=VALUE'],
    ['password', 'Password := "VALUE"'],
    ['password', 'passwd=VALUE'],
    ['secret', 'client_secret = "VALUE"'],
    ['secret', '"clientSecret": "VALUE"'],
    ['secret', 'JWT_SECRET=VALUE'],
    ['secret', 'secret: VALUE'],
    ['secret', 'private_key: "VALUE"'],
    ['token', 'token = "VALUE"'],
    ['token', '"access_token": "VALUE"'],
    ['token', 'refreshToken: `VALUE`'],
    ['token', 'export NPM_TOKEN=VALUE'],
    ['token', 'curl "https://api.example.com/x?token=VALUE&page=2"'],
    ['token', 'cfg := Config{Token: "VALUE"}'],
    ['api-key', 'api_key: VALUE'],
    ['api-key', '"apiKey": "VALUE"'],
    ['api-key', 'X-Api-Key: VALUE'],
    ['api-key', 'MY_SERVICE_API_KEY="VALUE"'],
    ['api-key', 'const body = "{\\"api_key\\": \\"VALUE\\"}";'],
    ['password', 'connect(host="db", password="VALUE", port=5432)'],
  ];
  for (const [kind, template] of cases) {
    const value = v();
    const text = template.replace('VALUE', value);
    const out = assertRedacts(text, [value], { [kind]: 1 });
    assert.equal(out, template.replace('VALUE', redactionMarker(kind)), 'only the value is replaced');
  }
  // Short, low-entropy or placeholder values and code are not secrets.
  for (const text of [
    'password = "changeme"',
    'password: "<your-password>"',
    'token: "${TOKEN}"',
    'token = process.env.GITHUB_TOKEN',
    'apiKey: process.env.OPENAI_API_KEY ?? ""',
    'api_key = os.environ["API_KEY"]',
    'secret: {{ .Values.secret }}',
    'password = "xxxxxxxxxxxx"',
    'token = "********"',
    'PASSWORD=',
    'password = "short"',
    'password: "aaaaaaaaaaaaaaaa"',
    'token = getToken(options)',
    'const token = this.tokenStore.current;',
    'token: string;',
    'password?: string',
    'secret = await readSecret(name)',
    'token = tokens[tokens.length - 1]',
    'maxTokens: 4096',
    'max_tokens = 1024',
    'tokenizer = new Tokenizer(vocabulary)',
    'secretName: "my-app-secret-name"',
    'tokenType: "Bearer"',
    'key: "c6a3f5e1-9b7d-4e2f-8a1c-3d5e7f9b1a2c"',
    'cacheKey = `${path}:${hash}`',
    'password_hash: "$2b$12$' + rand(53, 90, B64.slice(0, 64).replace('+', '.')) + '"',
    'PWD=/home/user/projects/switchyard',
    'token_url: "https://oauth2.example.com/token"',
    'label: "Password"',
    'error: "Invalid token"',
    // Code seen in real libraries and this repository (each was once a false positive).
    'return { run, coldFirstToken: firstToken!, worker };',
    'this.adminAPIKey = adminAPIKey;',
    "const c = new OpenAI({ baseURL, apiKey: 'bench-key' });",
  ])
    assertClean(text);
});

test('env-value: the values of .env files are redacted wherever they appear, common ones are not', () => {
  const env = [
    '# comment',
    'export DB_PASS=' + 'hunter2' + rand(6, 100),
    'SERVICE_URL="https://internal.' + rand(6, 101).toLowerCase() + '.corp/api"',
    "SINGLE='single quoted " + rand(6, 102) + "'",
    'INLINE=inline' + rand(6, 103) + ' # trailing comment',
    'DEBUG=true',
    'HOST=localhost',
    'PORT=1234567890',
    'NODE_ENV=production',
    'EMPTY=',
    'SHORT=abc12',
    'MULTI="line one\\nline two ' + rand(4, 104) + '"',
  ].join('\n');
  const values = parseDotEnvValues(env);
  assert.ok(values.includes('true') && values.includes('localhost'), 'the parser returns every value; filtering is the scanner’s');
  assert.ok(!values.some((v) => v.includes('#')), `comments are not values: ${values}`);
  assert.ok(values.includes(`line one\nline two ${rand(4, 104)}`));
  const secretValues = values.filter((v) => /hunter2|internal|single|inline/.test(v));
  assert.equal(secretValues.length, 4, String(values));
  const prompt = `Here is my config: ${secretValues.join(' and ')}; debug is true on localhost port 1234567890 in production.`;
  const out = assertRedacts(prompt, secretValues, { 'env-value': 4 }, values);
  assert.ok(out.includes('debug is true on localhost port 1234567890 in production'), out);
});

test('parseDotEnvValues: export, quotes, comments, spaces around =', () => {
  assert.deepEqual(
    parseDotEnvValues('A=1\nexport B = "two words"\n  C=\'three\'\n# D=commented\nE=five # note\nF=`six`\nG="has # hash"\n'),
    ['1', 'two words', 'three', 'five', 'six', 'has # hash'],
  );
});

test('overlaps: a provider key in a token assignment is the provider key, counted once', () => {
  const key = 'sk-' + 'proj-' + rand(80, 110);
  assert.equal(redactSecrets(`OPENAI_API_KEY=${key}`).text, 'OPENAI_API_KEY=[redacted: openai-api-key]');
  assert.deepEqual(redactSecrets(`"token": "${key}"`, { knownValues: [key] }).redactions, { 'openai-api-key': 1 });
  const gh = 'gh' + 'p_' + rand(36, 111);
  assert.equal(redactSecrets(`token = "Bearer ${gh}"`).text, 'token = "Bearer [redacted: github-token]"');
});

// ---- Things that must never match ------------------------------------------------------------------------------

test('negatives: hashes, commit ids, UUIDs, data URLs, lockfile integrity, yarn checksums, code, CSS, URLs', () => {
  const sha1 = rand(40, 120, HEX);
  const sha256 = rand(64, 121, HEX);
  assertClean(`commit ${sha1}\nAuthor: A <a@b.c>\n\n    Merge ${sha1.slice(0, 7)}\n`);
  assertClean(`sha256sum: ${sha256}  file.tar.gz\nsha1=${sha1}\n"sha": "${sha1}"`);
  assertClean(`"id": "${rand(8, 122, HEX)}-${rand(4, 123, HEX)}-4${rand(3, 124, HEX)}-a${rand(3, 125, HEX)}-${rand(12, 126, HEX)}"`);
  assertClean(`<img src="data:image/png;base64,iVBORw0KGgo${rand(2000, 127, B64)}==">`);
  assertClean(`background: url(data:image/svg+xml;base64,PHN2Zy${rand(500, 128, B64)});`);
  assertClean(
    `"node_modules/openai": {\n  "version": "6.1.0",\n  "resolved": "https://registry.npmjs.org/openai/-/openai-6.1.0.tgz",\n  "integrity": "sha512-${rand(86, 129, B64)}=="\n}`,
  );
  assertClean(`integrity sha1-${rand(27, 130, B64)}=\n  checksum: ${rand(128, 131, HEX)}\n`);
  assertClean(
    `"@babel/core@npm:7.0.0":\n  version: 7.0.0\n  resolution: "@babel/core@npm:7.0.0"\n  checksum: 10c0/${rand(128, 132, HEX)}\n`,
  );
  assertClean('export function resolveCandidateForTaskWithFallbackAndHealthCache(task: Task): Candidate[] { return []; }');
  assertClean('const x=function(a,b){return a.key===b.key?a.token:b.secret},y=n=>n.password||"";var t={key:1,token:2};');
  assertClean('.btn { color: #ff00aa; background: #1e1e1e; border-color: rgba(0,0,0,.5); } :root { --accent-key-color: #abcdef12; }');
  assertClean('internationalizationConfigurationProviderFactoryImplementation and aVeryLongCamelCaseIdentifierName42');
  assertClean('see https://github.com/owner/repo/blob/main/src/index.ts#L10 and https://example.com/?q=search&lang=en');
  assertClean('process.env.npm_config_registry_url_for_this_package ?? hf_hub_download_from_the_model_repository(x)');
  assertClean(`const ghost = "ghost_" + id; const github = "github_username"; const AIzaWord = 1;`);
  assertClean(`"model": "gpt-4.1-mini", "tokens": ${rand(6, 133, '0123456789')}, "key": "${rand(12, 134)}"`);
});

test('pathological inputs finish and find nothing or what is there (no catastrophic backtracking)', () => {
  const size = 100 * 1024;
  for (const text of [
    'a'.repeat(size),
    '='.repeat(size),
    'password='.repeat(size / 9),
    'token: "'.repeat(size / 8),
    'sk-'.repeat(size / 3),
    'eyJ'.repeat(size / 3),
    '://a:'.repeat(size / 5),
    `${D5}BEGIN ${PK}${D5}\n`.repeat(size / 29),
    `token = "${'a'.repeat(size)}`,
    `token = "${rand(size, 150)}"`,
    `password = ${'Ab1'.repeat(size / 3)}`,
  ]) {
    const r = redactSecrets(text);
    assert.ok(r.found >= 0);
  }
});

test('no secret: the text is returned as it was, with no redactions', () => {
  const text = 'Explain this function:\nfunction add(a, b) { return a + b; }\n';
  assert.deepEqual(redactSecrets(text), { text, redactions: {}, found: 0 });
});

test('SECRET_KINDS lists every kind a finding can have, in kebab-case', () => {
  for (const [kind] of shapes) assert.ok(SECRET_KINDS.includes(kind), kind);
  for (const kind of [
    'private-key',
    'jwt',
    'url-credentials',
    'aws-secret-access-key',
    'password',
    'secret',
    'token',
    'api-key',
    'env-value',
    'bearer-token',
  ]) {
    assert.ok(SECRET_KINDS.includes(kind), kind);
  }
  for (const kind of SECRET_KINDS) assert.match(kind, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
});
