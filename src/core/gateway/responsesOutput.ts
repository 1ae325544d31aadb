/**
 * The Responses API's output items (`message`, `reasoning`, `function_call`), built from the router's events, and
 * the stream events that show them as they grow (see responses.ts for the order OpenAI documents).
 */
import { randomBytes } from 'node:crypto';

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

interface MessageItem {
  type: 'message';
  id: string;
  text: string;
  done: boolean;
}
interface ReasoningItem {
  type: 'reasoning';
  id: string;
  text: string;
  done: boolean;
}
interface CallItem {
  type: 'function_call';
  id: string;
  callId: string;
  name: string;
  args: string;
  /** How much of `args` went out as deltas. */
  sent: number;
  done: boolean;
}
export type Item = MessageItem | ReasoningItem | CallItem;

/** An item as the wire shows it (in `output`, and in the item events). */
function wireItem(item: Item, status: ItemStatus): Record<string, unknown> {
  const done = status !== 'in_progress';
  switch (item.type) {
    case 'message':
      return { id: item.id, type: 'message', status, content: done ? [textPart(item.text)] : [], role: 'assistant' };
    case 'reasoning':
      return { id: item.id, type: 'reasoning', summary: [], ...(done ? { content: [reasoningPart(item.text)] } : {}), status };
    case 'function_call':
      return { id: item.id, type: 'function_call', status, arguments: done ? item.args : '', call_id: item.callId, name: item.name };
  }
}

function textPart(text: string): Record<string, unknown> {
  return { type: 'output_text', annotations: [], logprobs: [], text };
}

function reasoningPart(text: string): Record<string, unknown> {
  return { type: 'reasoning_text', text };
}

/**
 * The answer's output items, built from the router's events, in the order they started. With `emit`, it writes the
 * stream's events as it goes: only the first unfinished item streams live, later ones wait (their pieces kept) until
 * the ones before are done. A text or reasoning item is done when another item starts; a call at its end event.
 */
export class OutputBuilder {
  readonly items: Item[] = [];
  private head = 0;
  /** Whether items[head]'s opening events were written. */
  private opened = false;
  private readonly calls = new Map<number, CallItem>();

  constructor(private readonly emit?: (type: string, fields: Record<string, unknown>) => void) {}

  text(t: string): void {
    const item = this.current('message');
    item.text += t;
    if (this.live(item)) this.emit!('response.output_text.delta', { ...this.at(item), content_index: 0, delta: t, logprobs: [] });
  }

  reasoning(t: string): void {
    const item = this.current('reasoning');
    item.text += t;
    if (this.live(item)) this.emit!('response.reasoning_text.delta', { ...this.at(item), content_index: 0, delta: t });
  }

  callStart(index: number, callId: string, name: string): void {
    const item: CallItem = { type: 'function_call', id: newId('fc'), callId, name, args: '', sent: 0, done: false };
    this.calls.set(index, item);
    this.add(item);
  }

  callArgs(index: number, t: string): void {
    const item = this.calls.get(index);
    if (!item || t === '') return;
    item.args += t;
    if (this.live(item)) {
      item.sent = item.args.length;
      this.emit!('response.function_call_arguments.delta', { item_id: item.id, output_index: this.head, delta: t });
    }
  }

  callEnd(index: number): void {
    const item = this.calls.get(index);
    if (!item) return;
    // A call with no arguments at all is `{}` (as the providers give them).
    if (item.args === '') item.args = '{}';
    item.done = true;
    this.advance();
  }

  /** The answer is complete: every item is done. */
  finish(): void {
    for (const item of this.items) {
      if (item.type === 'function_call' && item.args === '') item.args = '{}';
      item.done = true;
    }
    this.advance();
  }

  get calledTools(): boolean {
    return this.calls.size > 0;
  }

  /** The output as the response object holds it. */
  output(status: ItemStatus): Record<string, unknown>[] {
    const last = this.items.length - 1;
    return this.items.map((item, i) =>
      wireItem(item, item.done ? (status === 'incomplete' && i === last ? 'incomplete' : 'completed') : 'in_progress'),
    );
  }

  /** The last item of this kind if it is still taking text, else a new one. */
  private current<T extends 'message' | 'reasoning'>(type: T): Extract<Item, { type: T }> {
    const last = this.items.at(-1);
    if (last?.type === type && !last.done) return last as Extract<Item, { type: T }>;
    const item = { type, id: newId(type === 'message' ? 'msg' : 'rs'), text: '', done: false } as Extract<Item, { type: T }>;
    this.add(item);
    return item;
  }

  private add(item: Item): void {
    // Text and reasoning have no end of their own: the next item ends them.
    const last = this.items.at(-1);
    if (last && last.type !== 'function_call') last.done = true;
    this.items.push(item);
    this.advance();
  }

  /** The head item's place in the stream's events. */
  private at(item: Item): { item_id: string; output_index: number } {
    return { item_id: item.id, output_index: this.head };
  }

  /** Whether this item's pieces go out as they come (it is the first unfinished one, and open). */
  private live(item: Item): boolean {
    return this.emit !== undefined && this.items[this.head] === item && this.opened;
  }

  /** Writes what the items from the head on can show: the head's opening, and for each finished head its closing. */
  private advance(): void {
    while (this.head < this.items.length) {
      const item = this.items[this.head]!;
      if (!this.opened) {
        this.opened = true;
        this.open(item);
      }
      if (!item.done) return;
      this.close(item);
      this.head++;
      this.opened = false;
    }
  }

  private open(item: Item): void {
    if (!this.emit) return;
    const at = this.head;
    this.emit('response.output_item.added', { output_index: at, item: wireItem(item, 'in_progress') });
    if (item.type === 'message') {
      this.emit('response.content_part.added', { item_id: item.id, output_index: at, content_index: 0, part: textPart('') });
      if (item.text !== '') this.emit('response.output_text.delta', { ...this.at(item), content_index: 0, delta: item.text, logprobs: [] });
    } else if (item.type === 'reasoning') {
      this.emit('response.content_part.added', { ...this.at(item), content_index: 0, part: reasoningPart('') });
      if (item.text !== '') this.emit('response.reasoning_text.delta', { ...this.at(item), content_index: 0, delta: item.text });
    } else if (item.args !== '') {
      item.sent = item.args.length;
      this.emit('response.function_call_arguments.delta', { item_id: item.id, output_index: at, delta: item.args });
    }
  }

  private close(item: Item): void {
    if (!this.emit) return;
    const at = this.head;
    if (item.type === 'message') {
      this.emit('response.output_text.done', { item_id: item.id, output_index: at, content_index: 0, text: item.text, logprobs: [] });
      this.emit('response.content_part.done', { item_id: item.id, output_index: at, content_index: 0, part: textPart(item.text) });
    } else if (item.type === 'reasoning') {
      this.emit('response.reasoning_text.done', { item_id: item.id, output_index: at, content_index: 0, text: item.text });
      this.emit('response.content_part.done', { ...this.at(item), content_index: 0, part: reasoningPart(item.text) });
    } else {
      // What is left of the arguments (`{}` for a call that sent none).
      if (item.sent < item.args.length) {
        this.emit('response.function_call_arguments.delta', { item_id: item.id, output_index: at, delta: item.args.slice(item.sent) });
      }
      item.sent = item.args.length;
      this.emit('response.function_call_arguments.done', { item_id: item.id, output_index: at, name: item.name, arguments: item.args });
    }
    this.emit('response.output_item.done', { output_index: at, item: wireItem(item, 'completed') });
  }
}
