/**
 * OpenAI's chat completion request as the gateway reads it: messages (text and image parts, assistant tool calls,
 * tool results, the legacy functions API), tools and tool choice, structured output, sampling, and the parameters
 * refused. Pure functions, no I/O; the errors and the checks shared with the other endpoints are in wire.ts.
 */
import { isObject } from '../json';
import { parseImageUrl } from '../providers/images';
import type {
  AnswerOptions,
  ChatImage,
  ChatMessage,
  JsonSchema,
  ResponseFormat,
  Role,
  SamplingOptions,
  ToolCall,
  ToolChoice,
  ToolSpec,
} from '../providers/types';
import { GatewayError, callArguments, invalid, optionalNumber, requireModel, toolSpec } from './wire';

/**
 * A chat completion request in our terms. `sampling`: stop, top_p, seed, presence_penalty, frequency_penalty
 * (undefined when none is set); `tools`: `tools`, or the legacy `functions` mapped to tools.
 */
export interface ChatCompletionRequest extends AnswerOptions {
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  includeUsage: boolean;
  /**
   * The client used the legacy `functions` / `function_call` parameters: it expects `message.function_call` (one call)
   * and finish reason `function_call` back, as OpenAI answers such requests.
   */
  legacyFunctions?: boolean;
}

/**
 * A message's content: a string, or an array of parts: text parts joined, `image_url` parts (user messages only) as
 * images. An image must come inline as a data URL; a remote URL is refused (never fetched, see images.ts).
 */
function contentOf(content: unknown, index: number, role: Role): { text: string; images: ChatImage[] } {
  if (typeof content === 'string') return { text: content, images: [] };
  if (content === null || content === undefined) return { text: '', images: [] };
  if (Array.isArray(content)) {
    const texts: string[] = [];
    const images: ChatImage[] = [];
    content.forEach((part: unknown, j: number) => {
      if (isObject(part) && part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
      else if (isObject(part) && part.type === 'image_url') images.push(imagePart(part, `messages[${index}].content[${j}]`, role));
      else if (isObject(part) && typeof part.type === 'string' && part.type !== 'text') {
        throw new GatewayError(
          400,
          `messages[${index}]: content parts of type "${part.type}" are not supported; ` +
            "Switchyard's gateway takes text and image_url parts.",
          'invalid_request_error',
          'unsupported_content',
          `messages[${index}].content`,
        );
      }
    });
    return { text: texts.join(''), images };
  }
  throw new GatewayError(
    400,
    `messages[${index}].content must be a string or an array of text and image_url parts.`,
    'invalid_request_error',
    'invalid_value',
    `messages[${index}].content`,
  );
}

/** An `image_url` part (`{ image_url: { url, detail } }`, or the URL as a plain string) of a user message. */
function imagePart(part: Record<string, unknown>, at: string, role: Role): ChatImage {
  const param = `${at}.image_url`;
  if (role !== 'user') throw invalid(param, `${at}: image parts are only allowed in user messages.`);
  const ref = part.image_url;
  const url = isObject(ref) ? ref.url : ref;
  if (typeof url !== 'string' || url === '') throw invalid(`${param}.url`, `${param}.url must be a data URL (data:image/png;base64,…).`);
  const parsed = parseImageUrl(url, isObject(ref) ? ref.detail : undefined);
  if ('error' in parsed) {
    throw new GatewayError(
      400,
      `${param}.url: ${parsed.error}.`,
      'invalid_request_error',
      parsed.remote ? 'image_url_not_supported' : 'invalid_image_url',
      `${param}.url`,
    );
  }
  return parsed.image;
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
  ['tool', 'tool'],
  // The legacy functions API's result message (`name` + `content`).
  ['function', 'tool'],
]);

/** An assistant message's `tool_calls` (or legacy `function_call`, given the id it is known by). */
function assistantCalls(m: Record<string, unknown>, i: number, legacyId: () => string): ToolCall[] | undefined {
  if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0) {
    return m.tool_calls.map((call: unknown, j: number) => {
      const param = `messages[${i}].tool_calls[${j}]`;
      if (
        !isObject(call) ||
        typeof call.id !== 'string' ||
        call.id === '' ||
        !isObject(call.function) ||
        typeof call.function.name !== 'string' ||
        call.function.name === ''
      ) {
        throw invalid(param, `${param} must be { id, type: "function", function: { name, arguments } }.`);
      }
      if (call.type !== undefined && call.type !== 'function') throw invalid(`${param}.type`, `${param}.type must be "function".`);
      return { id: call.id, name: call.function.name, arguments: callArguments(call.function.arguments, `${param}.function.arguments`) };
    });
  }
  if (isObject(m.function_call)) {
    const fc = m.function_call;
    if (typeof fc.name !== 'string' || fc.name === '')
      throw invalid(`messages[${i}].function_call.name`, `messages[${i}].function_call.name must be a function name.`);
    return [{ id: legacyId(), name: fc.name, arguments: callArguments(fc.arguments, `messages[${i}].function_call.arguments`) }];
  }
  return undefined;
}

/** OpenAI's `tool_choice` (or the legacy `function_call`) in our terms; undefined when not set. */
function parseToolChoice(value: unknown, param: 'tool_choice' | 'function_call', names: ReadonlySet<string>): ToolChoice | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'auto' || value === 'none' || (value === 'required' && param === 'tool_choice')) return value;
  const name =
    param === 'tool_choice'
      ? isObject(value) && value.type === 'function' && isObject(value.function)
        ? value.function.name
        : undefined
      : isObject(value)
        ? value.name
        : undefined;
  if (typeof name !== 'string') {
    throw invalid(
      param,
      param === 'tool_choice'
        ? `tool_choice must be "auto", "none", "required" or { "type": "function", "function": { "name": … } }.`
        : `function_call must be "auto", "none" or { "name": … }.`,
    );
  }
  if (!names.has(name))
    throw invalid(
      param,
      `${param} names the function "${name}", which is not among the ${param === 'tool_choice' ? 'tools' : 'functions'} given.`,
    );
  return { name };
}

/** OpenAI's `response_format`: undefined for text (or not set). */
function parseResponseFormat(value: unknown): ResponseFormat | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid('response_format', 'response_format must be an object like { "type": "json_object" }.');
  if (value.type === undefined || value.type === 'text') return undefined;
  if (value.type === 'json_object') return { type: 'json_object' };
  if (value.type === 'json_schema') {
    const js = value.json_schema;
    if (!isObject(js) || !isObject(js.schema))
      throw invalid('response_format.json_schema', 'response_format.json_schema must be { "name": …, "schema": { … } }.');
    return {
      type: 'json_schema',
      schema: js.schema as JsonSchema,
      ...(typeof js.name === 'string' ? { name: js.name } : {}),
      ...(typeof js.strict === 'boolean' ? { strict: js.strict } : {}),
    };
  }
  throw invalid('response_format.type', `response_format.type "${String(value.type)}" is not one of text, json_object, json_schema.`);
}

/** The request's functions: `tools` (function tools only), else the legacy `functions`. */
function parseTools(body: Record<string, unknown>): {
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  legacy: boolean;
} {
  const parallel = body.parallel_tool_calls;
  if (parallel !== undefined && parallel !== null && typeof parallel !== 'boolean')
    throw invalid('parallel_tool_calls', 'parallel_tool_calls must be a boolean.');
  const parallelToolCalls = typeof parallel === 'boolean' ? parallel : undefined;
  if (body.tools !== undefined && body.tools !== null) {
    if (!Array.isArray(body.tools)) throw invalid('tools', 'tools must be an array of { "type": "function", "function": { … } }.');
    const tools = body.tools.map((t: unknown, i: number) => {
      if (!isObject(t) || t.type !== 'function') {
        throw new GatewayError(
          400,
          `tools[${i}]: only tools of type "function" are supported (got ${isObject(t) ? JSON.stringify(t.type) : 'no object'}).`,
          'invalid_request_error',
          'unsupported_parameter',
          `tools[${i}].type`,
        );
      }
      return toolSpec(t.function, `tools[${i}].function`);
    });
    if (tools.length > 0) {
      return {
        tools,
        toolChoice: parseToolChoice(body.tool_choice, 'tool_choice', new Set(tools.map((t) => t.name))),
        parallelToolCalls,
        legacy: false,
      };
    }
  }
  if (Array.isArray(body.functions) && body.functions.length > 0) {
    const tools = body.functions.map((f: unknown, i: number) => toolSpec(f, `functions[${i}]`));
    // The legacy API made one call per turn.
    return {
      tools,
      toolChoice: parseToolChoice(body.function_call, 'function_call', new Set(tools.map((t) => t.name))),
      parallelToolCalls: false,
      legacy: true,
    };
  }
  return { parallelToolCalls, legacy: false };
}

function unsupported(param: string, what: string): GatewayError {
  return new GatewayError(
    400,
    `${what} Switchyard's gateway answers with text only (and tool calls): ` +
      `remove '${param}', or call the provider directly for this request.`,
    'invalid_request_error',
    'unsupported_parameter',
    param,
  );
}

/**
 * Parameters that would change what kind of answer the client gets back (log probabilities, audio) are refused, not
 * ignored: an agent that silently got something other than what it asked for fails somewhere far from the cause.
 * Empty or "off" values pass (clients often send them by default). Tool calls and structured output are served.
 */
function refuseUnsupported(body: Record<string, unknown>): void {
  if (body.logprobs === true) throw unsupported('logprobs', 'Log probabilities are not available through the router.');
  if (Array.isArray(body.modalities) && body.modalities.some((m) => m !== 'text'))
    throw unsupported('modalities', 'Only text output is supported.');
}

export function parseChatRequest(body: unknown): ChatCompletionRequest {
  if (!isObject(body)) throw new GatewayError(400, 'The request body must be a JSON object.', 'invalid_request_error', 'invalid_json');
  const model = requireModel(body);
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new GatewayError(
      400,
      "Missing required parameter: 'messages'.",
      'invalid_request_error',
      'missing_required_parameter',
      'messages',
    );
  }
  // Legacy function calls carry no id: each gets one, and a `function` result message answers the latest call of its name.
  const legacyIds: { id: string; name: string }[] = [];
  const messages: ChatMessage[] = body.messages.map((m: unknown, i: number) => {
    const role = isObject(m) && typeof m.role === 'string' ? ROLES.get(m.role) : undefined;
    if (!isObject(m) || role === undefined) {
      throw new GatewayError(
        400,
        `messages[${i}].role must be one of ${[...ROLES.keys()].join(', ')}.`,
        'invalid_request_error',
        'invalid_value',
        `messages[${i}].role`,
      );
    }
    const { text: content, images } = contentOf(m.content, i, role);
    if (role === 'assistant') {
      const toolCalls = assistantCalls(m, i, () => {
        const id = `call_legacy${i}`;
        legacyIds.push({ id, name: isObject(m.function_call) ? String(m.function_call.name) : '' });
        return id;
      });
      return toolCalls ? { role, content, toolCalls } : { role, content };
    }
    if (role === 'tool') {
      if (m.role === 'function') {
        if (typeof m.name !== 'string' || m.name === '')
          throw invalid(`messages[${i}].name`, `messages[${i}].name is required for a function message (the function's name).`);
        const call = [...legacyIds].reverse().find((c) => c.name === m.name);
        return { role, content, toolName: m.name, toolCallId: call?.id ?? `call_legacy_${m.name}` };
      }
      if (typeof m.tool_call_id !== 'string' || m.tool_call_id === '') {
        throw new GatewayError(
          400,
          `messages[${i}].tool_call_id is required for a tool message (the id of the call it answers).`,
          'invalid_request_error',
          'missing_required_parameter',
          `messages[${i}].tool_call_id`,
        );
      }
      return { role, content, toolCallId: m.tool_call_id };
    }
    return images.length ? { role, content, imageParts: images } : { role, content };
  });
  const n = optionalNumber(body, 'n', 1, 1, true);
  void n;
  refuseUnsupported(body);
  const { tools, toolChoice, parallelToolCalls, legacy } = parseTools(body);
  const responseFormat = parseResponseFormat(body.response_format);
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
    ...(tools ? { tools, ...(toolChoice ? { toolChoice } : {}), ...(legacy ? { legacyFunctions: true } : {}) } : {}),
    ...(parallelToolCalls !== undefined && tools ? { parallelToolCalls } : {}),
    ...(responseFormat ? { responseFormat } : {}),
  };
}

/** OpenAI's `stop` (a string or up to 4 strings; empty ones dropped). */
function parseStop(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length > 4 || !list.every((s) => typeof s === 'string')) {
    throw new GatewayError(
      400,
      "'stop' must be a string or an array of up to 4 strings.",
      'invalid_request_error',
      'invalid_value',
      'stop',
    );
  }
  const stop = (list as string[]).filter((s) => s !== '');
  return stop.length > 0 ? stop : undefined;
}

/**
 * Sampling parameters every provider kind passes on, validated in OpenAI's ranges (OpenAI's names: also read from
 * vscode.lm modelOptions).
 */
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
