/**
 * The relay's tool calls (sseRelay.ts). A request that offered tools gets its tool-call events normalised as the
 * client's path normalises them (toolCalls.ts): the pieces of each event with `tool_calls` run through the same
 * ToolCallAssembler. An event that already is what the gateway would frame from those pieces (OpenAI's shape: index
 * numbering calls from 0, id, type and name on a call's first piece, argument text after) is passed on unchanged; any
 * other (object arguments from llama.cpp#20198, a missing id, other indexes, arguments before the name) is rewritten
 * with the normalised pieces, and a finish after calls says `tool_calls`. Clients get the same calls either way. The
 * usual events of a well-formed stream (a call's first piece, more argument text) are read with a pattern, without a
 * parse, so well-formed streams keep the relay's cost (bench/gateway.bench.ts, load 5).
 */
import { isObject, safeJson, sameJson } from '../json';
import { ToolCallAssembler, piecesOf } from './toolCalls';
import type { ChatEvent, RelayOptions } from './types';

/** An event with a finish reason (the relay's test too). */
export const FINISH = /"finish_reason":\s*"/;
/** The usual tool-call piece (OpenAI, llama.cpp, vLLM): more argument text for a call by index, read where it starts. */
const ARGS_PIECE = /"tool_calls":\[\{"index":(\d+),"function":\{"arguments":"((?:[^"\\]|\\.)+)"\}\}\]/y;
/** A call's first piece alone in its event, keys in OpenAI's order: index, id, type, name, string arguments. */
const CALL_START = new RegExp(
  String.raw`"tool_calls":\[\{"index":(\d+),"id":"([^"\\]+)","type":"function",` +
    String.raw`"function":\{"name":"([^"\\]+)","arguments":"((?:[^"\\]|\\.)*)"\}\}\]`,
  'y',
);

/** One relayed answer's tool calls: what it has called so far, and how each event with calls is passed on. */
export class RelayedCalls {
  /** A call started (the answer's first output, as text is). */
  calling = false;
  /** Bytes of the calls' names and argument text. */
  textLength = 0;
  private readonly calls = new ToolCallAssembler();
  /** The finish came: every call is complete. */
  private ended = false;

  constructor(
    private readonly options: RelayOptions,
    /** The usage an event with calls carried (for the ledger). */
    private readonly onUsage: (usage: Record<string, unknown>) => void,
  ) {}

  /** An event that carries tool-call pieces, or the finish of an answer that made calls. */
  carries(data: string): boolean {
    return data.includes('"tool_calls"') || (this.calls.madeCalls && !this.ended && FINISH.test(data));
  }

  /**
   * A tool-call event's data, in latin1 bytes (or the finish after calls): its pieces go through the assembler.
   * Undefined passes it on as it is (it is what the gateway would frame); else the event to send instead, as text ('':
   * drop it).
   */
  event(data: string): string | undefined {
    if (this.passesAsIs(data)) return undefined;
    const calls = this.calls;
    // Parsed as UTF-8 (a rewritten event is serialised again: \u escapes must become UTF-8, not latin1).
    const parsed = safeJson(Buffer.from(data, 'latin1').toString('utf8'));
    if (!isObject(parsed) || !Array.isArray(parsed.choices)) return undefined;
    // Only the first choice is the answer (n > 1 is never asked for), as on the client's path.
    const choice: unknown = parsed.choices.find((c: unknown) => isObject(c) && (c.index ?? 0) === 0);
    if (!isObject(choice)) return undefined;
    const delta = isObject(choice.delta) ? choice.delta : undefined;
    const raw = delta?.tool_calls;
    const pushed = raw === undefined ? [] : calls.push(raw);
    const ended: ChatEvent[] = [];
    if (choice.finish_reason && !this.ended) {
      this.ended = true;
      ended.push(...calls.end());
    }
    for (const ev of [...pushed, ...ended]) {
      if (ev.type === 'toolCall') {
        this.calling = true;
        this.textLength += ev.name.length;
      } else if (ev.type === 'toolCallArgs') this.textLength += ev.text.length;
    }
    const pieces = piecesOf(pushed);
    const finishAfterCalls = Boolean(choice.finish_reason) && calls.madeCalls;
    const endPieces = piecesOf(ended);
    if (
      (raw === undefined || sameJson(raw, pieces)) &&
      endPieces.length === 0 &&
      (!finishAfterCalls || choice.finish_reason === 'tool_calls')
    )
      return undefined;
    const all = [...pieces, ...endPieces];
    if (delta) {
      if (all.length > 0) delta.tool_calls = all;
      else delete delta.tool_calls;
    } else if (all.length > 0) choice.delta = { tool_calls: all };
    if (finishAfterCalls) choice.finish_reason = 'tool_calls';
    const empty =
      all.length === 0 &&
      (!isObject(choice.delta) || Object.keys(choice.delta).length === 0) &&
      !choice.finish_reason &&
      !isObject(parsed.usage);
    if (empty && parsed.choices.length === 1) return '';
    if ('model' in parsed) parsed.model = this.options.model;
    if (isObject(parsed.usage)) this.onUsage(parsed.usage);
    if (!this.options.includeUsage) delete parsed.usage;
    return `data: ${JSON.stringify(parsed)}\n\n`;
  }

  /**
   * The usual events of a well-formed stream, read with a pattern instead of a parse: counted and recorded, passed
   * on as they came (true).
   */
  private passesAsIs(data: string): boolean {
    const calls = this.calls;
    // Most events of a call are one piece of argument text for a call that started under the same index: passed on
    // without a parse (the only piece in the event, no finish in it).
    const at = data.indexOf('"tool_calls":[{"index":');
    if (at >= 0) {
      const alone = () => !data.includes('"tool_calls"', at + 13) && !FINISH.test(data);
      ARGS_PIECE.lastIndex = at;
      const m = ARGS_PIECE.exec(data);
      if (m && alone() && calls.continuesArgs(Number(m[1]))) {
        this.textLength += m[2]!.length;
        return true;
      }
      // A call's first piece in OpenAI's shape, starting the next call under the index it will be relayed with: what
      // the assembler would pass on as it is (the first event of every tool-call answer, so its first token).
      CALL_START.lastIndex = at;
      const s = m ? null : CALL_START.exec(data);
      if (s && alone() && calls.startsNext(Number(s[1]))) {
        // Only counted here (the events are not relayed), as argument pieces are: the text as sent, escapes and all.
        calls.push([{ index: Number(s[1]), id: s[2], function: { name: s[3], arguments: s[4] } }]);
        this.calling = true;
        this.textLength += s[3]!.length + s[4]!.length;
        return true;
      }
    }
    return false;
  }
}
