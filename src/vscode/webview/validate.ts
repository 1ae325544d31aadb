/**
 * The host checks every message a webview posts before acting on it (a compromised or buggy webview must not be able
 * to make the host do something else): envelope shape, a known request name, and the payload's fields and types.
 * Pure (no vscode), so unit tests reach it.
 */
import type { ChatRequestName, ToChatHost } from '../../protocol/chat';
import type { Cancel, Ready, Request } from '../../protocol/envelope';
import type { SettingsRequestName, ToSettingsHost } from '../../protocol/settings';
import type { UsageRequestName } from '../../protocol/usage';
import { ERROR_ACTION_IDS, PRIVACY_MODES, PROVIDER_KINDS, TASK_NAMES } from '../../protocol/vocabulary';

export type Checked<T> = { ok: true; message: T } | { ok: false; reason: string };

type FieldType = 'string' | 'number' | 'boolean' | 'string?' | 'number?' | 'boolean?' | 'object' | 'object?' | 'array';
type Shape = Record<string, FieldType | ((v: unknown) => boolean)>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function matches(payload: unknown, shape: Shape): string | undefined {
  if (!isObj(payload)) return 'payload is not an object';
  for (const [key, want] of Object.entries(shape)) {
    const v = payload[key];
    if (typeof want === 'function') {
      if (!want(v)) return `${key} is invalid`;
      continue;
    }
    const optional = want.endsWith('?');
    const type = optional ? want.slice(0, -1) : want;
    if (v === undefined) {
      if (optional) continue;
      return `${key} is missing`;
    }
    if (type === 'array' ? !Array.isArray(v) : type === 'object' ? !isObj(v) : typeof v !== type) return `${key} must be ${type}`;
    if (type === 'string' && (v as string).length > 1_000_000) return `${key} is too long`;
  }
  return undefined;
}

/** One payload shape per request name of a webview's protocol: a request name without a shape does not compile. */
export type Shapes<Name extends string> = { [N in Name]: Shape };

/** What a webview may post: a request of its protocol, `ready` or `cancel`. */
type FromWebview<Name extends string = string> = Request<Name> | Ready | Cancel;

/** Checks the envelope, the request name against `shapes` and the payload against its shape. */
export function checkEnvelope<T extends FromWebview = FromWebview>(raw: unknown, shapes: Shapes<string>): Checked<T> {
  if (!isObj(raw)) return { ok: false, reason: 'not an object' };
  if (raw.kind === 'ready') return { ok: true, message: { kind: 'ready' } as T };
  if (raw.kind === 'cancel') {
    if (!Number.isInteger(raw.id)) return { ok: false, reason: 'cancel without an integer id' };
    return { ok: true, message: { kind: 'cancel', id: raw.id } as T };
  }
  if (raw.kind !== 'request') return { ok: false, reason: `unknown kind ${JSON.stringify(raw.kind)}` };
  if (!Number.isInteger(raw.id)) return { ok: false, reason: 'request without an integer id' };
  if (typeof raw.name !== 'string' || !Object.hasOwn(shapes, raw.name)) {
    return { ok: false, reason: `unknown request ${JSON.stringify(raw.name)}` };
  }
  const problem = matches(raw.payload, shapes[raw.name]!);
  if (problem) return { ok: false, reason: `${raw.name}: ${problem}` };
  return { ok: true, message: { kind: 'request', id: raw.id, name: raw.name, payload: raw.payload } as T };
}

const oneOf =
  (...values: readonly string[]) =>
  (v: unknown) =>
    typeof v === 'string' && values.includes(v);
const stringArrayOf =
  (...values: string[]) =>
  (v: unknown) =>
    Array.isArray(v) && v.every((x) => values.includes(x as string));
const isAction = (v: unknown) => isObj(v) && oneOf(...ERROR_ACTION_IDS)(v.id) && (v.arg === undefined || typeof v.arg === 'string');

export const CHAT_SHAPES: Shapes<ChatRequestName> = {
  'chat/send': { text: (v) => typeof v === 'string' && v.trim() !== '' && v.length < 200_000, context: stringArrayOf('selection', 'file') },
  'chat/new': {},
  'chat/open': { conversationId: 'string' },
  'chat/delete': { conversationId: 'string' },
  'chat/action': { turnId: 'string', action: isAction },
  'chat/code': { action: oneOf('copy', 'insert', 'replace', 'newFile'), code: 'string', language: 'string?' },
  'chat/openCitation': { path: 'string', root: 'string', startLine: 'number', endLine: 'number', symbol: 'string?' },
};

export function validateChatMessage(raw: unknown): Checked<ToChatHost> {
  return checkEnvelope<ToChatHost>(raw, CHAT_SHAPES);
}

const TASK = oneOf(...TASK_NAMES);
const isCandidate = (v: unknown) =>
  isObj(v) &&
  typeof v.model === 'string' &&
  /^(auto|[A-Za-z0-9][A-Za-z0-9._-]*\/.+)$/.test(v.model) &&
  (v.temperature === undefined || (typeof v.temperature === 'number' && v.temperature >= 0 && v.temperature <= 2)) &&
  (v.maxTokens === undefined || (Number.isInteger(v.maxTokens) && (v.maxTokens as number) >= 1)) &&
  (v.contextSize === undefined || (Number.isInteger(v.contextSize) && (v.contextSize as number) >= 256)) &&
  (v.tools === undefined || typeof v.tools === 'boolean') &&
  (v.vision === undefined || typeof v.vision === 'boolean');
const isProvider = (v: unknown) =>
  isObj(v) &&
  typeof v.id === 'string' &&
  /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v.id) &&
  oneOf(...PROVIDER_KINDS)(v.kind) &&
  (v.baseUrl === undefined || (typeof v.baseUrl === 'string' && /^https?:\/\/./.test(v.baseUrl))) &&
  (v.preset === undefined || typeof v.preset === 'string') &&
  (v.local === undefined || typeof v.local === 'boolean') &&
  (v.apiKeyEnv === undefined || (typeof v.apiKeyEnv === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v.apiKeyEnv)));

const PROVIDER_ID = (v: unknown) => typeof v === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v) && v.length <= 200;
/** An Ollama model name ("qwen2.5-coder:1.5b", "library/llama3:latest", "hf.co/org/repo:Q4_K_M"): no spaces, no "..". */
const OLLAMA_MODEL = (v: unknown) =>
  typeof v === 'string' && v.length <= 300 && /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/.test(v) && !v.includes('..');
/** The same rule as Download GGUF Model's input box: an http(s) URL of a .gguf file. */
const GGUF_URL = (v: unknown) => typeof v === 'string' && v.length <= 4000 && /^https?:\/\/[^\s]+\.gguf(\?[^\s]*)?$/i.test(v);
const SHA256 = (v: unknown) => v === undefined || (typeof v === 'string' && (v === '' || /^[0-9a-fA-F]{64}$/.test(v)));
/** A file name in that folder: no separator, not "." or "..". */
const GGUF_ID = (v: unknown) => typeof v === 'string' && /^[^/\\]+$/.test(v) && v !== '..' && v !== '.';
const isModelTarget = (v: unknown) =>
  isObj(v) &&
  ((v.kind === 'ollama' && PROVIDER_ID(v.providerId) && OLLAMA_MODEL(v.model)) ||
    // The host also checks that dir is one of the folders it listed, and deleteLocalModel keeps id inside it.
    (v.kind === 'gguf' && typeof v.dir === 'string' && v.dir.length <= 4000 && GGUF_ID(v.id)));

export const SETTINGS_SHAPES: Shapes<SettingsRequestName> = {
  'settings/setTask': { task: TASK, candidates: (v) => Array.isArray(v) && v.length <= 50 && v.every(isCandidate) },
  'settings/saveProvider': { previousId: 'string?', provider: isProvider },
  'settings/removeProvider': { id: 'string' },
  'settings/setKey': { providerId: 'string' },
  'settings/clearKey': { providerId: 'string' },
  'settings/test': { providerId: 'string' },
  'settings/models': { refresh: 'boolean?' },
  'settings/routes': {},
  'settings/setPrivacy': { mode: oneOf(...PRIVACY_MODES) },
  'settings/setOptOut': { value: 'boolean' },
  'settings/openJson': {},
  'settings/installed': {},
  'settings/pullModel': { providerId: PROVIDER_ID, model: OLLAMA_MODEL },
  'settings/deleteModel': { target: isModelTarget },
  'settings/downloadGguf': { url: GGUF_URL, sha256: SHA256, providerId: (v) => v === undefined || PROVIDER_ID(v) },
};

export function validateSettingsMessage(raw: unknown): Checked<ToSettingsHost> {
  return checkEnvelope<ToSettingsHost>(raw, SETTINGS_SHAPES);
}

export const USAGE_SHAPES: Shapes<UsageRequestName> = {
  'usage/range': { days: (v) => Number.isInteger(v) && (v as number) > 0 && (v as number) <= 3650 },
  'usage/egressFilter': {
    day: (v) => typeof v === 'string' && /^(\d{4}-\d{2}-\d{2})?$/.test(v),
    provider: (v) => typeof v === 'string' && v.length <= 200,
  },
  'usage/exportCsv': {},
};
