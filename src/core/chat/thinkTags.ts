/**
 * A thinking model served without a reasoning parser (llama.cpp with `--reasoning-format none`, vLLM without
 * `--reasoning-parser`, LM Studio with reasoning separation off, Ollama before 0.9) writes its thinking into the
 * answer text, between `<think>` and `</think>` at the start. For people reading the answer (the chat view,
 * `switchyard ask`) that part is reasoning: shown apart, never sent back to the model as part of the answer.
 *
 * Only a `<think>` at the very start of the answer (after whitespace) opens reasoning; the same tag later in an
 * answer (code, an explanation of tags) is text. Tags split across streamed pieces are recognised. The gateway does not
 * use this: its clients get the server's text as the server sent it.
 */
import type { RoutedChatEvent } from '../routing/router';

const OPEN = '<think>';
const CLOSE = '</think>';

export interface ThinkPiece {
  reasoning: boolean;
  text: string;
}

/** The length of the longest end of `s` that is the start of `tag` (a tag that may be completed by the next piece). */
function partialTagAtEnd(s: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, s.length); n > 0; n--) if (tag.startsWith(s.slice(s.length - n))) return n;
  return 0;
}

export class ThinkTagSplitter {
  private state: 'start' | 'thinking' | 'text' = 'start';
  private held = '';
  /** After `</think>`: the blank lines before the answer are dropped. */
  private trimAnswerStart = false;

  /** The next piece of answer text as the model sent it; returns what can be said of it now. */
  push(text: string): ThinkPiece[] {
    const out: ThinkPiece[] = [];
    if (this.state === 'start') {
      this.held += text;
      const trimmed = this.held.trimStart();
      if (trimmed === '' || (trimmed.length < OPEN.length && OPEN.startsWith(trimmed))) return out;
      if (!trimmed.startsWith(OPEN)) {
        this.state = 'text';
        const all = this.held;
        this.held = '';
        out.push({ reasoning: false, text: all });
        return out;
      }
      this.state = 'thinking';
      text = trimmed.slice(OPEN.length);
      this.held = '';
    }
    if (this.state === 'thinking') {
      const buffer = this.held + text;
      const close = buffer.indexOf(CLOSE);
      if (close < 0) {
        const keep = partialTagAtEnd(buffer, CLOSE);
        this.held = buffer.slice(buffer.length - keep);
        const thought = buffer.slice(0, buffer.length - keep);
        if (thought) out.push({ reasoning: true, text: thought });
        return out;
      }
      const thought = buffer.slice(0, close);
      if (thought) out.push({ reasoning: true, text: thought });
      this.held = '';
      this.state = 'text';
      this.trimAnswerStart = true;
      text = buffer.slice(close + CLOSE.length);
    }
    if (this.trimAnswerStart) {
      text = text.trimStart();
      if (text === '') return out;
      this.trimAnswerStart = false;
    }
    if (text) out.push({ reasoning: false, text });
    return out;
  }

  /** The answer ended: what was held back (an unterminated thought is reasoning; a lone "<thi" is text). */
  end(): ThinkPiece[] {
    const held = this.held;
    this.held = '';
    if (!held) return [];
    return [{ reasoning: this.state === 'thinking', text: held }];
  }
}

/**
 * The router's events with `<think>…</think>` at the start of the answer text turned into reasoning events (see
 * above). Reasoning the server already sent apart passes through as it is.
 */
export async function* splitThinkTags(events: AsyncIterable<RoutedChatEvent>): AsyncGenerator<RoutedChatEvent> {
  const splitter = new ThinkTagSplitter();
  const pieces = function* (list: ThinkPiece[]): Generator<RoutedChatEvent> {
    for (const p of list) yield { type: p.reasoning ? 'reasoning' : 'text', text: p.text };
  };
  for await (const ev of events) {
    if (ev.type === 'text') {
      yield* pieces(splitter.push(ev.text));
      continue;
    }
    if (ev.type === 'done') yield* pieces(splitter.end());
    yield ev;
  }
}
