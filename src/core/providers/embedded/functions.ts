/**
 * Function calling for the embedded provider, the parts that need no llama.cpp: our conversation as node-llama-cpp's
 * chat history (assistant tool calls and their results as its function-call items), the tools as its functions, and
 * the stream of a call's parameter chunks as our tool-call events.
 *
 * node-llama-cpp's LlamaChat samples a call under a grammar (the function's name from the offered ones, then JSON of
 * its parameter schema), so even a small model's call is well-formed. It does not run the functions here: it stops at
 * the calls (stop reason `functionCalls`) and the caller (router, gateway, agent) runs them and sends the results back
 * in the history.
 */
import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelFunctions, ChatModelResponse } from 'node-llama-cpp';
import { isObject } from '../../json';
import { argumentsObject, newToolCallId, toolNameFor } from '../toolCalls';
import type { ChatMessage, ToolCallArgsEvent, ToolCallEndEvent, ToolCallStartEvent, ToolChoice, ToolSpec } from '../types';

export type WorkerToolEvent = ToolCallStartEvent | ToolCallArgsEvent | ToolCallEndEvent;

/** Whether a request takes the function-calling path: it offers tools, or its history has calls or results. */
export function usesFunctions(messages: readonly ChatMessage[], tools: readonly ToolSpec[] | undefined): boolean {
  return (tools?.length ?? 0) > 0 || messages.some((m) => m.role === 'tool' || (m.toolCalls?.length ?? 0) > 0);
}

/**
 * The functions the model may call under a tool choice: none for `none`, only the named one for a named choice
 * (unknown: none, so the model answers in text rather than call a function the caller did not offer).
 */
export function functionsFor(tools: readonly ToolSpec[] | undefined, choice: ToolChoice | undefined): ChatModelFunctions | undefined {
  if (!tools?.length || choice === 'none') return undefined;
  const offered = typeof choice === 'object' ? tools.filter((t) => t.name === choice.name) : tools;
  if (offered.length === 0) return undefined;
  const out: Record<string, ChatModelFunctions[string]> = {};
  for (const t of offered) {
    // The caller's JSON Schema: node-llama-cpp's converter reads the subset it knows and treats the rest as any JSON.
    out[t.name] = {
      ...(t.description ? { description: t.description } : {}),
      ...(hasParameters(t) ? { params: t.parameters as never } : {}),
    };
  }
  return out;
}

/** A call must be made: `required` or a named function (node-llama-cpp then starts the answer with a call). */
export function callForced(choice: ToolChoice | undefined): boolean {
  return choice === 'required' || typeof choice === 'object';
}

/** A function without parameters (no schema, or an object schema with no properties) is called with `{}`. */
function hasParameters(t: ToolSpec): boolean {
  const p = t.parameters;
  if (!p) return false;
  return !(
    p.type === 'object' &&
    (!isObject(p.properties) || Object.keys(p.properties).length === 0) &&
    (p.additionalProperties === undefined || p.additionalProperties === false)
  );
}

/** A tool message's content as the function's result: its JSON when it is JSON, else the text. */
function resultOf(content: string): unknown {
  try {
    return JSON.parse(content) as unknown;
  } catch {
    return content;
  }
}

/**
 * Our conversation as node-llama-cpp's chat history. An assistant message's tool calls become function-call items of
 * its response, each with the result of the tool message that answers it (by call id); a result whose call is not in
 * the history becomes user text naming the function, so nothing the caller sent is dropped.
 */
export function toHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const out: ChatHistoryItem[] = [];
  const pending = new Map<string, ChatModelFunctionCall>();
  messages.forEach((msg, i) => {
    if (msg.role === 'system') {
      out.push({ type: 'system', text: msg.content });
      return;
    }
    if (msg.role === 'assistant') {
      const response: ChatModelResponse['response'] = msg.content !== '' || !msg.toolCalls?.length ? [msg.content] : [];
      msg.toolCalls?.forEach((call, n) => {
        const item: ChatModelFunctionCall = {
          type: 'functionCall',
          name: call.name,
          params: argumentsObject(call.arguments),
          result: undefined,
          ...(n === 0 ? { startsNewChunk: true } : {}),
        };
        pending.set(call.id, item);
        response.push(item);
      });
      out.push({ type: 'model', response });
      return;
    }
    if (msg.role === 'tool') {
      const call = msg.toolCallId !== undefined ? pending.get(msg.toolCallId) : undefined;
      if (call) {
        call.result = resultOf(msg.content);
        pending.delete(msg.toolCallId!);
        return;
      }
      out.push({ type: 'user', text: `Result of ${toolNameFor(messages, i) ?? 'a tool call'}: ${msg.content}` });
      return;
    }
    out.push({ type: 'user', text: msg.content });
  });
  // A call without a result yet (the caller sent none): an empty result, as node-llama-cpp's history needs one.
  for (const call of pending.values()) call.result = '';
  return out;
}

/**
 * node-llama-cpp's parameter chunks (and finished calls) as our events: a call starts at its first chunk (or when it
 * ends, for a function without parameters), argument text follows as it is sampled, and it ends with the call. The
 * grammar's end marker (blank lines after the JSON) is held back and dropped, so the pieces joined are the JSON.
 */
export class FunctionCallStream {
  private readonly started = new Map<number, { sentArgs: boolean; held: string; ended: boolean }>();

  constructor(private readonly emit: (event: WorkerToolEvent) => void) {}

  get madeCalls(): boolean {
    return this.started.size > 0;
  }

  /** A chunk of call `callIndex`'s parameters (node-llama-cpp's onFunctionCallParamsChunk). */
  chunk(callIndex: number, functionName: string, text: string): void {
    const state = this.start(callIndex, functionName);
    if (state.ended) return;
    const body = (state.held + text).replace(/\n+$/, '');
    state.held = (state.held + text).slice(body.length);
    if (body === '') return;
    state.sentArgs = true;
    this.emit({ type: 'toolCallArgs', index: callIndex, text: body });
  }

  /** Call `callIndex` is complete with these parameters (node-llama-cpp's onFunctionCall). */
  end(callIndex: number, functionName: string, params: unknown): void {
    const state = this.start(callIndex, functionName);
    if (state.ended) return;
    state.ended = true;
    if (!state.sentArgs) this.emit({ type: 'toolCallArgs', index: callIndex, text: params === undefined ? '{}' : JSON.stringify(params) });
    this.emit({ type: 'toolCallEnd', index: callIndex });
  }

  /** Ends the calls a stop (answer budget, abort) cut short, with the argument text they got. */
  close(): void {
    for (const [index, state] of this.started) {
      if (state.ended) continue;
      state.ended = true;
      if (!state.sentArgs) this.emit({ type: 'toolCallArgs', index, text: '{}' });
      this.emit({ type: 'toolCallEnd', index });
    }
  }

  private start(index: number, name: string): { sentArgs: boolean; held: string; ended: boolean } {
    let state = this.started.get(index);
    if (!state) {
      state = { sentArgs: false, held: '', ended: false };
      this.started.set(index, state);
      this.emit({ type: 'toolCall', index, id: newToolCallId(), name });
    }
    return state;
  }
}
