/**
 * OpenAI's Responses API (`POST /v1/responses`) as the gateway reads it: a request's `input` (a string, or items:
 * messages with `input_text` / `output_text` parts, `function_call` and `function_call_output` items), `instructions`,
 * function `tools`, `tool_choice`, `text.format` and sampling become the same routed chat request the chat
 * completions path makes. What the router cannot give (built-in tools, background runs, stored conversations, log
 * probabilities, images) is a 400 that names the parameter. Pure functions plus a bounded memory, no I/O.
 *
 * Stateless by design: a client sends the whole conversation. So that clients which refer to earlier answers by id
 * still work while the gateway runs (the AI SDK sends its earlier answers as `item_reference`, some agents chain with
 * `previous_response_id`), the gateway remembers its last answers in memory only (never on disk, bounded); an id it
 * does not know is a 400 saying to send the conversation instead.
 */
import { isObject } from '../json';
import type { ChatMessage, JsonSchema, ResponseFormat, ToolCall, ToolChoice, ToolSpec } from '../providers/types';
import type { ResponseMemory } from './responseMemory';
import { GatewayError, callArguments, invalid, optionalNumber, requireModel, toolSpec } from './wire';

export interface ResponsesRequest {
  model: string;
  /** The conversation as the router takes it: instructions first, then earlier turns, then this input. */
  messages: ChatMessage[];
  /** The same without the instructions (what a later `previous_response_id` carries on: instructions do not). */
  history: ChatMessage[];
  stream: boolean;
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  /** Whether the client lets the answer be remembered (`store`, default true): only then can later requests refer to it. */
  store: boolean;
  /** Fields of the request the response object repeats, as OpenAI's does. */
  echo: {
    instructions: string | null;
    tools: unknown[];
    tool_choice: unknown;
    text: { format: unknown };
    previous_response_id: string | null;
    metadata: Record<string, unknown>;
    user: string | null;
    truncation: 'auto' | 'disabled';
    reasoning: { effort: unknown; summary: unknown };
  };
}

function unsupported(param: string, message: string): GatewayError {
  return new GatewayError(400, message, 'invalid_request_error', 'unsupported_parameter', param);
}

/** Built-in tools OpenAI runs on its side: none of them exists behind the router. */
const HOSTED_TOOL = new RegExp(
  String.raw`^(web_search|file_search|computer|code_interpreter|image_generation|` +
    String.raw`mcp|local_shell|shell|apply_patch|tool_search|programmatic_tool_calling)`,
);

/** The text of a message's content: a string, or parts of which text parts are kept (images and files refused). */
function partsText(content: unknown, param: string, allowed: ReadonlySet<string>): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalid(param, `${param} must be a string or an array of content parts.`);
  let text = '';
  content.forEach((part: unknown, j: number) => {
    const p = `${param}[${j}]`;
    if (!isObject(part) || typeof part.type !== 'string')
      throw invalid(p, `${p} must be a content part like { "type": "input_text", "text": … }.`);
    if (allowed.has(part.type)) {
      const value = part.type === 'refusal' ? part.refusal : part.text;
      if (typeof value !== 'string') throw invalid(`${p}.text`, `${p}.text must be a string.`);
      text += value;
      return;
    }
    throw new GatewayError(
      400,
      `${p}: content parts of type "${part.type}" are not supported; Switchyard's gateway takes text (${[...allowed].join(', ')}).`,
      'invalid_request_error',
      'unsupported_content',
      `${p}.type`,
    );
  });
  return text;
}

const USER_PARTS: ReadonlySet<string> = new Set(['input_text']);
const ASSISTANT_PARTS: ReadonlySet<string> = new Set(['output_text', 'refusal', 'input_text']);
const ROLE: ReadonlyMap<string, ChatMessage['role']> = new Map([
  ['user', 'user'],
  ['assistant', 'assistant'],
  ['system', 'system'],
  ['developer', 'system'],
]);

/** Appends calls to the conversation: to the assistant message they follow, else as a new assistant message. */
function pushCall(messages: ChatMessage[], call: ToolCall): void {
  const last = messages.at(-1);
  if (last?.role === 'assistant') last.toolCalls = [...(last.toolCalls ?? []), call];
  else messages.push({ role: 'assistant', content: '', toolCalls: [call] });
}

/** `input` as messages (after `previous` ones), with item references resolved from the memory. */
function parseInput(input: unknown, memory: ResponseMemory): ChatMessage[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  if (!Array.isArray(input))
    throw new GatewayError(400, "'input' must be a string or an array of input items.", 'invalid_request_error', 'invalid_value', 'input');
  const messages: ChatMessage[] = [];
  input.forEach((item: unknown, i: number) => {
    const param = `input[${i}]`;
    if (!isObject(item)) throw invalid(param, `${param} must be an input item object.`);
    const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
    if (type === 'message') {
      const role = typeof item.role === 'string' ? ROLE.get(item.role) : undefined;
      if (!role) throw invalid(`${param}.role`, `${param}.role must be one of user, assistant, system, developer.`);
      const content = partsText(item.content, `${param}.content`, role === 'assistant' ? ASSISTANT_PARTS : USER_PARTS);
      messages.push({ role, content });
    } else if (type === 'function_call') {
      if (typeof item.call_id !== 'string' || item.call_id === '' || typeof item.name !== 'string' || item.name === '') {
        throw invalid(param, `${param} must be { "type": "function_call", "call_id": …, "name": …, "arguments": "…" }.`);
      }
      pushCall(messages, { id: item.call_id, name: item.name, arguments: callArguments(item.arguments, `${param}.arguments`) });
    } else if (type === 'function_call_output') {
      if (typeof item.call_id !== 'string' || item.call_id === '') {
        throw new GatewayError(
          400,
          `${param}.call_id is required (the call_id of the function_call it answers).`,
          'invalid_request_error',
          'missing_required_parameter',
          `${param}.call_id`,
        );
      }
      const output = partsText(item.output ?? '', `${param}.output`, USER_PARTS);
      messages.push({ role: 'tool', content: output, toolCallId: item.call_id });
    } else if (type === 'reasoning') {
      // A thinking model's reasoning is not sent back to models (as on the chat path).
    } else if (type === 'item_reference') {
      const id = item.id;
      const known = typeof id === 'string' ? memory.item(id) : undefined;
      if (!known) {
        throw new GatewayError(
          400,
          `${param}: item "${String(id).slice(0, 100)}" is not known. ` +
            `Switchyard's gateway is stateless: it remembers its last answers only while it runs, in memory. ` +
            `Send the item itself (with the AI SDK: providerOptions.openai.store = false).`,
          'invalid_request_error',
          'item_not_found',
          `${param}.id`,
        );
      }
      if (known.kind === 'message') messages.push({ role: 'assistant', content: known.text });
      else if (known.kind === 'call') pushCall(messages, { ...known.call });
    } else {
      throw unsupported(
        `${param}.type`,
        `${param}: input items of type ${JSON.stringify(type)} are not supported; the gateway ` +
          `takes message, function_call, function_call_output, reasoning and item_reference items.`,
      );
    }
  });
  return messages;
}

/** `tools`: function tools only. */
function parseTools(value: unknown): { tools: ToolSpec[]; echo: unknown[] } {
  if (value === undefined || value === null) return { tools: [], echo: [] };
  if (!Array.isArray(value)) throw invalid('tools', 'tools must be an array of { "type": "function", "name": …, "parameters": { … } }.');
  const tools: ToolSpec[] = [];
  const echo: unknown[] = [];
  value.forEach((t: unknown, i: number) => {
    const type = isObject(t) ? t.type : undefined;
    if (type !== 'function') {
      const hosted = typeof type === 'string' && HOSTED_TOOL.test(type);
      throw unsupported(
        `tools[${i}].type`,
        hosted
          ? `tools[${i}]: the built-in tool "${type}" runs on OpenAI's servers and is not ` +
              `available through Switchyard's router; only tools of type "function" are supported.`
          : `tools[${i}]: only tools of type "function" are supported (got ${JSON.stringify(type ?? null)}).`,
      );
    }
    const spec = toolSpec(t, `tools[${i}]`);
    tools.push(spec);
    const fn = t as Record<string, unknown>;
    echo.push({
      type: 'function',
      name: spec.name,
      description: spec.description ?? null,
      parameters: spec.parameters ?? null,
      strict: typeof fn.strict === 'boolean' ? fn.strict : null,
    });
  });
  return { tools, echo };
}

/** `tool_choice`, and the tools it leaves (`allowed_tools` narrows them). */
function parseToolChoice(value: unknown, tools: ToolSpec[]): { toolChoice?: ToolChoice; tools: ToolSpec[] } {
  if (value === undefined || value === null) return { tools };
  if (value === 'auto' || value === 'none' || value === 'required') return { toolChoice: value, tools };
  const names = new Set(tools.map((t) => t.name));
  if (isObject(value) && value.type === 'function') {
    if (typeof value.name !== 'string' || !names.has(value.name))
      throw invalid(
        'tool_choice.name',
        `tool_choice names the function ${JSON.stringify(value.name)}, which is not among the tools given.`,
      );
    return { toolChoice: { name: value.name }, tools };
  }
  if (isObject(value) && value.type === 'allowed_tools') {
    if ((value.mode !== 'auto' && value.mode !== 'required') || !Array.isArray(value.tools))
      throw invalid(
        'tool_choice',
        'tool_choice of type "allowed_tools" must be { "mode": "auto" | "required", "tools": [{ "type": "function", "name": … }] }.',
      );
    const allowed = new Set<string>();
    value.tools.forEach((t: unknown, i: number) => {
      if (!isObject(t) || t.type !== 'function' || typeof t.name !== 'string')
        throw unsupported(
          `tool_choice.tools[${i}]`,
          `tool_choice.tools[${i}] must be { "type": "function", "name": … } (only function tools are supported).`,
        );
      if (!names.has(t.name))
        throw invalid(
          `tool_choice.tools[${i}].name`,
          `tool_choice.tools[${i}] names the function "${t.name}", which is not among the tools given.`,
        );
      allowed.add(t.name);
    });
    return { toolChoice: value.mode, tools: tools.filter((t) => allowed.has(t.name)) };
  }
  throw unsupported(
    'tool_choice',
    `tool_choice must be "auto", "none", "required", { "type": "function", "name": … } or ` +
      `{ "type": "allowed_tools", … } (built-in and custom tool choices are not supported).`,
  );
}

/** `text.format`: text (or none), json_object, json_schema. */
function parseTextFormat(text: unknown): { responseFormat?: ResponseFormat; echo: unknown } {
  const plain = { type: 'text' };
  if (text === undefined || text === null) return { echo: plain };
  if (!isObject(text)) throw invalid('text', 'text must be an object like { "format": { "type": "json_object" } }.');
  const f = text.format;
  if (f === undefined || f === null) return { echo: plain };
  if (!isObject(f))
    throw invalid('text.format', 'text.format must be an object like { "type": "json_schema", "name": …, "schema": { … } }.');
  if (f.type === 'text') return { echo: plain };
  if (f.type === 'json_object') return { responseFormat: { type: 'json_object' }, echo: { type: 'json_object' } };
  if (f.type === 'json_schema') {
    if (!isObject(f.schema))
      throw invalid(
        'text.format.schema',
        'text.format.schema must be a JSON Schema object (with "type": "json_schema", the name and schema sit in text.format itself).',
      );
    const responseFormat: ResponseFormat = {
      type: 'json_schema',
      schema: f.schema as JsonSchema,
      ...(typeof f.name === 'string' ? { name: f.name } : {}),
      ...(typeof f.strict === 'boolean' ? { strict: f.strict } : {}),
    };
    return {
      responseFormat,
      echo: {
        type: 'json_schema',
        name: f.name ?? null,
        schema: f.schema,
        strict: typeof f.strict === 'boolean' ? f.strict : null,
        ...(typeof f.description === 'string' ? { description: f.description } : {}),
      },
    };
  }
  throw invalid('text.format.type', `text.format.type ${JSON.stringify(f.type)} is not one of text, json_object, json_schema.`);
}

/**
 * What would change the kind of answer (or where it is kept) is refused, not ignored: background runs, server-side
 * conversations and prompt templates, log probabilities, compaction. Off or empty values pass (clients send them).
 */
function refuseUnsupported(body: Record<string, unknown>): void {
  if (body.background === true)
    throw unsupported(
      'background',
      "Background responses are not supported: Switchyard's gateway answers " +
        "while the request is open. Remove 'background' (or set it to false).",
    );
  if (body.conversation !== undefined && body.conversation !== null)
    throw unsupported(
      'conversation',
      "Conversations are not stored by Switchyard's gateway (it is stateless): " +
        "send the conversation's items in 'input' instead of 'conversation'.",
    );
  if (body.prompt !== undefined && body.prompt !== null)
    throw unsupported(
      'prompt',
      "Stored prompt templates are OpenAI's, not available through " +
        "Switchyard's router: send 'instructions' and 'input' instead of 'prompt'.",
    );
  if (typeof body.top_logprobs === 'number' && body.top_logprobs > 0)
    throw unsupported('top_logprobs', 'Log probabilities are not available through the router: remove top_logprobs.');
  if (Array.isArray(body.include) && body.include.includes('message.output_text.logprobs'))
    throw unsupported(
      'include',
      "Log probabilities are not available through the router: remove 'message.output_text.logprobs' from include.",
    );
  if (Array.isArray(body.context_management) && body.context_management.length > 0)
    throw unsupported(
      'context_management',
      "Server-side compaction is not available through Switchyard's router: remove context_management.",
    );
}

/**
 * A Responses API request as the routed chat request it becomes. `previous_response_id` continues a remembered
 * answer; unknown, it is a 400 (code previous_response_not_found, as OpenAI's).
 */
export function parseResponsesRequest(body: unknown, memory: ResponseMemory): ResponsesRequest {
  if (!isObject(body)) throw new GatewayError(400, 'The request body must be a JSON object.', 'invalid_request_error', 'invalid_json');
  const model = requireModel(body);
  refuseUnsupported(body);
  let earlier: ChatMessage[] = [];
  const previous = body.previous_response_id;
  if (previous !== undefined && previous !== null) {
    const found = typeof previous === 'string' ? memory.history(previous) : undefined;
    if (!found) {
      throw new GatewayError(
        400,
        `Previous response with id '${String(previous).slice(0, 100)}' not found. Switchyard's ` +
          `gateway is stateless: it remembers its last answers only while it runs (in memory, not with ` +
          `store: false). Send the whole conversation in 'input' instead of previous_response_id.`,
        'invalid_request_error',
        'previous_response_not_found',
        'previous_response_id',
      );
    }
    earlier = found.map((m) => ({ ...m }));
  }
  if (body.input === undefined || body.input === null) {
    throw new GatewayError(400, "Missing required parameter: 'input'.", 'invalid_request_error', 'missing_required_parameter', 'input');
  }
  const history = [...earlier, ...parseInput(body.input, memory)];
  if (history.length === 0) throw new GatewayError(400, "'input' must not be empty.", 'invalid_request_error', 'invalid_value', 'input');
  const instructions = body.instructions;
  if (instructions !== undefined && instructions !== null && typeof instructions !== 'string')
    throw invalid('instructions', 'instructions must be a string.');
  const messages: ChatMessage[] =
    typeof instructions === 'string' && instructions !== '' ? [{ role: 'system', content: instructions }, ...history] : history;
  const parsedTools = parseTools(body.tools);
  const { toolChoice, tools } = parseToolChoice(body.tool_choice, parsedTools.tools);
  const parallel = body.parallel_tool_calls;
  if (parallel !== undefined && parallel !== null && typeof parallel !== 'boolean')
    throw invalid('parallel_tool_calls', 'parallel_tool_calls must be a boolean.');
  const { responseFormat, echo: format } = parseTextFormat(body.text);
  const truncation = body.truncation ?? 'disabled';
  if (truncation !== 'auto' && truncation !== 'disabled') throw invalid('truncation', "truncation must be 'auto' or 'disabled'.");
  const reasoning = isObject(body.reasoning) ? body.reasoning : {};
  return {
    model,
    messages,
    history,
    stream: body.stream === true,
    temperature: optionalNumber(body, 'temperature', 0, 2),
    topP: optionalNumber(body, 'top_p', 0, 1),
    maxOutputTokens: optionalNumber(body, 'max_output_tokens', 1, 10_000_000, true),
    ...(tools.length > 0
      ? { tools, ...(toolChoice ? { toolChoice } : {}), ...(typeof parallel === 'boolean' ? { parallelToolCalls: parallel } : {}) }
      : {}),
    ...(responseFormat ? { responseFormat } : {}),
    store: body.store !== false,
    echo: {
      instructions: typeof instructions === 'string' ? instructions : null,
      tools: parsedTools.echo,
      tool_choice: body.tool_choice ?? 'auto',
      text: { format },
      previous_response_id: typeof previous === 'string' ? previous : null,
      metadata: isObject(body.metadata) ? body.metadata : {},
      user: typeof body.user === 'string' ? body.user : null,
      truncation,
      reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    },
  };
}
