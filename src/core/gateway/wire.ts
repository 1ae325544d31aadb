/**
 * OpenAI's wire format as the gateway speaks it: error bodies and status codes, request validation (chat and
 * embeddings), and how a router failure kind becomes a status. Pure functions, no I/O.
 */
import type { ErrorKind } from '../errors';
import { isObject } from '../json';
import type { ChatMessage, Role, SamplingOptions } from '../providers/types';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error the gateway answers with: status plus OpenAI's error body. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** Status, type and code for a router failure (after its fallbacks were tried). */
export function statusForKind(kind: ErrorKind): { status: number; type: string; code: string } {
  switch (kind) {
    case 'policy':
      return { status: 403, type: 'permission_error', code: 'privacy_policy' };
    case 'modelMissing':
      return { status: 404, type: 'invalid_request_error', code: 'model_not_found' };
    case 'contextOverflow':
      return { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded' };
    case 'rateLimited':
      return { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' };
    case 'timeout':
      return { status: 504, type: 'server_error', code: 'upstream_timeout' };
    case 'auth':
      // Our caller's token was fine; an upstream provider refused Switchyard's key.
      return { status: 502, type: 'server_error', code: 'upstream_auth' };
    case 'config':
      return { status: 503, type: 'server_error', code: 'no_model_available' };
    case 'canceled':
      return { status: 499, type: 'invalid_request_error', code: 'canceled' };
    case 'unreachable':
      return { status: 503, type: 'server_error', code: 'upstream_unavailable' };
    case 'server':
    default:
      return { status: 502, type: 'server_error', code: 'upstream_error' };
  }
}

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  includeUsage: boolean;
  temperature?: number;
  maxTokens?: number;
  /** stop, top_p, seed, presence_penalty, frequency_penalty: undefined when none is set. */
  sampling?: SamplingOptions;
}

export interface EmbeddingsRequest {
  model: string;
  input: string[];
  format: 'float' | 'base64';
  dimensions?: number;
}

function requireModel(body: Record<string, unknown>): string {
  const model = body.model;
  if (typeof model !== 'string' || model.trim() === '') {
    throw new GatewayError(400, 'You must provide a model parameter, e.g. "switchyard/chat" (GET /v1/models lists them).', 'invalid_request_error', 'missing_required_parameter', 'model');
  }
  return model.trim();
}

/** Text of a message's content: a string, or an array of parts of which the text parts are kept. */
function contentText(content: unknown, index: number): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    const texts: string[] = [];
    for (const part of content) {
      if (isObject(part) && part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
      else if (isObject(part) && typeof part.type === 'string' && part.type !== 'text') {
        throw new GatewayError(400, `messages[${index}]: content parts of type "${part.type}" are not supported; Switchyard's gateway takes text.`, 'invalid_request_error', 'unsupported_content', `messages[${index}].content`);
      }
    }
    return texts.join('');
  }
  throw new GatewayError(400, `messages[${index}].content must be a string or an array of text parts.`, 'invalid_request_error', 'invalid_value', `messages[${index}].content`);
}

/**
 * OpenAI's roles and what they become. A Map, not an object: a lookup keyed by request data must not reach
 * Object.prototype (`"__proto__"`, `"constructor"`, `"toString"` are not roles).
 */
const ROLES: ReadonlyMap<string, Role> = new Map<string, Role>([
  ['system', 'system'],
  ['developer', 'system'],
  ['user', 'user'],
  ['assistant', 'assistant'],
  ['tool', 'user'],
]);

function optionalNumber(body: Record<string, unknown>, key: string, min: number, max: number, integer = false): number | undefined {
  const v = Object.hasOwn(body, key) ? body[key] : undefined;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new GatewayError(400, `${key} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}.`, 'invalid_request_error', 'invalid_value', key);
  }
  return v;
}

function unsupported(param: string, what: string): GatewayError {
  return new GatewayError(400, `${what} Switchyard's gateway answers with text only: remove '${param}', or call the provider directly for this request.`, 'invalid_request_error', 'unsupported_parameter', param);
}

/**
 * Parameters that would change what kind of answer the client gets back (tool calls, JSON mode, log probabilities)
 * are refused, not ignored: an agent that silently got prose instead of the tool call it asked for fails somewhere
 * far from the cause. Empty or "off" values pass (clients often send them by default).
 */
function refuseUnsupported(body: Record<string, unknown>): void {
  const toolsOff = body.tool_choice === 'none';
  if (Array.isArray(body.tools) && body.tools.length > 0 && !toolsOff) throw unsupported('tools', 'Tool calling is not supported yet.');
  if (Array.isArray(body.functions) && body.functions.length > 0 && body.function_call !== 'none') throw unsupported('functions', 'Function calling is not supported yet.');
  const format = body.response_format;
  if (isObject(format) && format.type !== undefined && format.type !== 'text') throw unsupported('response_format', `response_format "${String(format.type)}" (structured output) is not supported yet.`);
  if (body.logprobs === true) throw unsupported('logprobs', 'Log probabilities are not available through the router.');
  if (Array.isArray(body.modalities) && body.modalities.some((m) => m !== 'text')) throw unsupported('modalities', 'Only text output is supported.');
}

export function parseChatRequest(body: unknown): ChatCompletionRequest {
  if (!isObject(body)) throw new GatewayError(400, 'The request body must be a JSON object.', 'invalid_request_error', 'invalid_json');
  const model = requireModel(body);
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new GatewayError(400, "Missing required parameter: 'messages'.", 'invalid_request_error', 'missing_required_parameter', 'messages');
  }
  const messages: ChatMessage[] = body.messages.map((m: unknown, i: number) => {
    const role = isObject(m) && typeof m.role === 'string' ? ROLES.get(m.role) : undefined;
    if (!isObject(m) || role === undefined) {
      throw new GatewayError(400, `messages[${i}].role must be one of ${[...ROLES.keys()].join(', ')}.`, 'invalid_request_error', 'invalid_value', `messages[${i}].role`);
    }
    return { role, content: contentText(m.content, i) };
  });
  const n = optionalNumber(body, 'n', 1, 1, true);
  void n;
  refuseUnsupported(body);
  const maxCompletion = optionalNumber(body, 'max_completion_tokens', 1, 10_000_000, true);
  const maxTokens = maxCompletion ?? optionalNumber(body, 'max_tokens', 1, 10_000_000, true);
  const streamOptions = body.stream_options;
  return {
    model,
    messages,
    stream: body.stream === true,
    includeUsage: body.stream === true && isObject(streamOptions) && streamOptions.include_usage === true,
    temperature: optionalNumber(body, 'temperature', 0, 2),
    maxTokens,
    sampling: parseSampling(body),
  };
}

/** OpenAI's `stop` (a string or up to 4 strings; empty ones dropped). */
function parseStop(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length > 4 || !list.every((s) => typeof s === 'string')) {
    throw new GatewayError(400, "'stop' must be a string or an array of up to 4 strings.", 'invalid_request_error', 'invalid_value', 'stop');
  }
  const stop = (list as string[]).filter((s) => s !== '');
  return stop.length > 0 ? stop : undefined;
}

/** Sampling parameters every provider kind passes on, validated in OpenAI's ranges (OpenAI's names: also read from vscode.lm modelOptions). */
export function parseSampling(body: Record<string, unknown>): SamplingOptions | undefined {
  const sampling: SamplingOptions = {
    stop: parseStop(body.stop),
    topP: optionalNumber(body, 'top_p', 0, 1),
    seed: optionalNumber(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true),
    presencePenalty: optionalNumber(body, 'presence_penalty', -2, 2),
    frequencyPenalty: optionalNumber(body, 'frequency_penalty', -2, 2),
  };
  return Object.values(sampling).some((v) => v !== undefined) ? sampling : undefined;
}

export function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (!isObject(body)) throw new GatewayError(400, 'The request body must be a JSON object.', 'invalid_request_error', 'invalid_json');
  const model = requireModel(body);
  const raw = body.input;
  let input: string[] | undefined;
  if (typeof raw === 'string') input = [raw];
  else if (Array.isArray(raw) && raw.length > 0 && raw.every((x) => typeof x === 'string')) input = raw as string[];
  if (!input) {
    throw new GatewayError(400, "'input' must be a string or a non-empty array of strings (token arrays are not supported).", 'invalid_request_error', 'invalid_value', 'input');
  }
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    throw new GatewayError(400, `Invalid value for 'encoding_format': '${String(format)}'. Supported values are: 'float' and 'base64'.`, 'invalid_request_error', 'invalid_value', 'encoding_format');
  }
  return { model, input, format, dimensions: optionalNumber(body, 'dimensions', 1, 100_000, true) };
}

/** Little-endian float32 bytes in base64: OpenAI's `encoding_format: "base64"`. */
export function floatsToBase64(v: readonly number[]): string {
  const f = new Float32Array(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

/** OpenAI's `dimensions`: the first N components, renormalised. */
export function shorten(v: readonly number[], dims: number | undefined): number[] {
  if (dims === undefined || dims >= v.length) return [...v];
  const cut = v.slice(0, dims);
  const n = Math.hypot(...cut) || 1;
  return cut.map((x) => x / n);
}
