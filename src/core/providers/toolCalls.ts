/**
 * Tool calls, normalised once for every provider kind: whatever a server sends (OpenAI's fragments keyed by index,
 * Ollama's whole calls with object arguments and no ids, llama.cpp builds that send arguments as objects), callers
 * see `toolCall` → `toolCallArgs`… → `toolCallEnd` events with an id, a name and arguments that are a JSON string,
 * and an answer that made a call finishes with `tool_calls`.
 */
import { randomBytes } from 'node:crypto';
import { isObject } from '../json';
import type { ChatEvent, ChatMessage, FinishReason, ToolCall } from './types';

/** A server's tool call that cannot be used (no function name): the answer is malformed, like a cut stream. */
export class MalformedToolCallError extends Error {
  constructor(detail: string) {
    super(`the server sent a malformed tool call: ${detail}`);
    this.name = 'MalformedToolCallError';
  }
}

/** An id in OpenAI's shape (`call_` and 24 letters), for servers that send none (Ollama before ids, some builds). */
export function newToolCallId(): string {
  return `call_${randomBytes(18).toString('base64url')}`;
}

/**
 * Arguments as JSON text: a string is kept as it is (OpenAI's form; validity is the model's), an object or array is
 * serialised (Ollama, llama.cpp#20198), nothing at all is `{}` (a call of a function without parameters).
 */
export function argumentsText(value: unknown): string {
  if (typeof value === 'string') return value.trim() === '' ? '{}' : value;
  if (value === undefined || value === null) return '{}';
  return JSON.stringify(value);
}

/** Arguments as an object, for servers that take them so (Ollama): `{}` when the text is not a JSON object. */
export function argumentsObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/** One complete call from a server's message (`{ id?, function: { name, arguments } }`), normalised. */
export function toolCallFrom(raw: unknown): ToolCall {
  const call = isObject(raw) ? raw : {};
  const fn = isObject(call.function) ? call.function : {};
  if (typeof fn.name !== 'string' || fn.name === '') throw new MalformedToolCallError('a call without a function name');
  const id = typeof call.id === 'string' && call.id !== '' ? call.id : newToolCallId();
  return { id, name: fn.name, arguments: argumentsText(fn.arguments) };
}

/** The calls of a non-streamed message (`message.tool_calls`), normalised; [] when it has none. */
export function toolCallsFrom(raw: unknown): ToolCall[] {
  return Array.isArray(raw) ? raw.map(toolCallFrom) : [];
}

/** The events of one call that arrived whole (Ollama's chunks). */
export function wholeCallEvents(index: number, call: ToolCall): ChatEvent[] {
  return [
    { type: 'toolCall', index, id: call.id, name: call.name },
    { type: 'toolCallArgs', index, text: call.arguments },
    { type: 'toolCallEnd', index },
  ];
}

/** A server's finish reason in our terms; an answer that made a call finished for it, whatever the server said. */
export function finishReasonOf(raw: unknown, madeCalls: boolean): FinishReason {
  if (raw === 'length') return 'length';
  if (raw === 'content_filter') return 'content_filter';
  if (madeCalls || raw === 'tool_calls' || raw === 'function_call') return 'tool_calls';
  return 'stop';
}

/**
 * The name of the function a tool message answers: its own `toolName`, else the name of the earlier assistant call
 * with its `toolCallId` (Ollama's `tool_name`; OpenAI needs only the id).
 */
export function toolNameFor(messages: readonly ChatMessage[], at: number): string | undefined {
  const m = messages[at];
  if (!m) return undefined;
  if (m.toolName) return m.toolName;
  for (let i = at - 1; i >= 0; i--) {
    const call = messages[i]!.toolCalls?.find((c) => c.id === m.toolCallId);
    if (call) return call.name;
  }
  return undefined;
}

interface CallState {
  index: number;
  id: string | undefined;
  name: string | undefined;
  started: boolean;
  /** Argument text received before the name (sent once the call starts). */
  held: string;
  /** Any argument text at all was sent for this call. */
  sentArgs: boolean;
  /** Arguments that came as an object (llama.cpp#20198): their JSON text, sent when the call ends. */
  whole: string | undefined;
  ended: boolean;
}

/**
 * Reassembles streamed `delta.tool_calls` (OpenAI's protocol and its many servers) into our events.
 *
 * - Pieces are keyed by the server's `index`; `id` and `name` come on a call's first piece only, `arguments` as
 *   fragments to concatenate, and parallel calls may interleave by index. Our indexes number calls 0, 1, … in the
 *   order they started, whatever the server's indexes were.
 * - A piece without `index` (servers that send each call whole) continues the last call unless it brings a new id.
 * - `arguments` sent as an object (llama.cpp#20198) is the call's whole arguments: serialised, sent at its end.
 * - A call whose name has not come yet holds its argument text until it does; one that never names its function
 *   fails the answer (MalformedToolCallError).
 */
export class ToolCallAssembler {
  private readonly byServerIndex = new Map<number, CallState>();
  private readonly calls: CallState[] = [];
  private last: CallState | undefined;

  /** Whether any call was made (the answer finishes with `tool_calls`). */
  get madeCalls(): boolean {
    return this.calls.length > 0;
  }

  /** The events for one delta's `tool_calls` (in order). */
  push(toolCalls: unknown): ChatEvent[] {
    if (!Array.isArray(toolCalls)) return [];
    const out: ChatEvent[] = [];
    for (const raw of toolCalls) {
      if (!isObject(raw)) continue;
      const fn = isObject(raw.function) ? raw.function : {};
      const id = typeof raw.id === 'string' && raw.id !== '' ? raw.id : undefined;
      const state = this.stateFor(raw.index, id);
      if (state.id === undefined && id !== undefined) state.id = id;
      if (!state.started && typeof fn.name === 'string' && fn.name !== '') state.name = fn.name;
      if (!state.started && state.name !== undefined) {
        state.started = true;
        state.id ??= newToolCallId();
        out.push({ type: 'toolCall', index: state.index, id: state.id, name: state.name });
        if (state.held !== '') {
          out.push({ type: 'toolCallArgs', index: state.index, text: state.held });
          state.held = '';
          state.sentArgs = true;
        }
      }
      const args = fn.arguments;
      if (args === undefined || args === null) continue;
      if (typeof args !== 'string') {
        // The whole arguments as an object: kept (the latest, should a server resend it as it grows) until the end.
        state.whole = JSON.stringify(args);
        continue;
      }
      const text = args;
      if (text === '') continue;
      if (state.started) {
        out.push({ type: 'toolCallArgs', index: state.index, text });
        state.sentArgs = true;
      } else state.held += text;
    }
    return out;
  }

  /**
   * A piece that only adds argument text (non-empty) to the call with this server index, already started under the same
   * index: what push would pass on as it is. Records it (true), or leaves the piece to push (false). The relay's
   * shortcut for the usual piece, read without parsing its event (sseRelay.ts).
   */
  continuesArgs(serverIndex: number): boolean {
    const state = this.byServerIndex.get(serverIndex);
    if (!state || !state.started || state.ended || state.index !== serverIndex) return false;
    state.sentArgs = true;
    this.last = state;
    return true;
  }

  /**
   * Whether a piece under this server index would start the next call with the same index (nothing held for that
   * index yet): a well-formed start, which push passes on as it is. The relay's shortcut for a call's first piece.
   */
  startsNext(serverIndex: number): boolean {
    return !this.byServerIndex.has(serverIndex) && this.calls.length === serverIndex;
  }

  /** Ends every call still open (at the finish reason, or the end of the stream): `{}` for a call sent no arguments. */
  end(): ChatEvent[] {
    const out: ChatEvent[] = [];
    for (const state of this.calls) {
      if (state.ended) continue;
      if (!state.started) throw new MalformedToolCallError(`call ${state.index} never named its function`);
      state.ended = true;
      if (state.whole !== undefined && !state.sentArgs) out.push({ type: 'toolCallArgs', index: state.index, text: state.whole });
      else if (!state.sentArgs) out.push({ type: 'toolCallArgs', index: state.index, text: '{}' });
      out.push({ type: 'toolCallEnd', index: state.index });
    }
    return out;
  }

  private stateFor(serverIndex: unknown, id: string | undefined): CallState {
    if (typeof serverIndex === 'number' && Number.isInteger(serverIndex)) {
      const known = this.byServerIndex.get(serverIndex);
      if (known) return (this.last = known);
      const state = this.newState();
      this.byServerIndex.set(serverIndex, state);
      return state;
    }
    if (this.last && (id === undefined || id === this.last.id)) return this.last;
    return this.newState();
  }

  private newState(): CallState {
    const state: CallState = {
      index: this.calls.length,
      id: undefined,
      name: undefined,
      started: false,
      held: '',
      sentArgs: false,
      whole: undefined,
      ended: false,
    };
    this.calls.push(state);
    this.last = state;
    return state;
  }
}

/** A streamed `tool_calls` piece as OpenAI frames it (what the gateway sends for the events of toolCalls.ts). */
export type ToolCallPiece =
  | { index: number; id: string; type: 'function'; function: { name: string; arguments: string } }
  | { index: number; function: { arguments: string } };

/** The pieces that frame tool-call events: a call's start (with any argument text that came with it), then argument text. */
export function piecesOf(events: readonly ChatEvent[]): ToolCallPiece[] {
  const out: ToolCallPiece[] = [];
  for (const ev of events) {
    if (ev.type === 'toolCall') out.push({ index: ev.index, id: ev.id, type: 'function', function: { name: ev.name, arguments: '' } });
    else if (ev.type === 'toolCallArgs') {
      const last = out.at(-1);
      if (last && 'id' in last && last.index === ev.index && last.function.arguments === '') last.function.arguments = ev.text;
      else out.push({ index: ev.index, function: { arguments: ev.text } });
    }
  }
  return out;
}
