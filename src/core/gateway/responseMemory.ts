/**
 * The Responses API's memory of the gateway's last answers (see responsesWire.ts: stateless by design, ids of earlier
 * answers resolve only while the gateway runs). In memory only, never on disk, bounded.
 */
import type { ChatMessage, ToolCall } from '../providers/types';

/** What an earlier answer left behind: its conversation (for `previous_response_id`) and its items (for `item_reference`). */
interface Remembered {
  history: ChatMessage[];
  items: string[];
  size: number;
}

/** An output item as a later request's input: a message's text, a function call, or nothing (reasoning is not sent back). */
export type RememberedItem = { kind: 'message'; text: string } | { kind: 'call'; call: ToolCall } | { kind: 'reasoning' };

/**
 * The gateway's last answers, in memory only: by response id and by output item id, the oldest dropped past
 * `maxResponses` or `maxChars` of text in all.
 */
export class ResponseMemory {
  private readonly responses = new Map<string, Remembered>();
  private readonly items = new Map<string, RememberedItem>();
  private chars = 0;

  constructor(
    private readonly maxResponses = 256,
    private readonly maxChars = 16 * 1024 * 1024,
  ) {}

  get size(): number {
    return this.responses.size;
  }

  history(responseId: string): ChatMessage[] | undefined {
    return this.responses.get(responseId)?.history;
  }

  item(itemId: string): RememberedItem | undefined {
    return this.items.get(itemId);
  }

  remember(responseId: string, history: ChatMessage[], items: readonly { id: string; item: RememberedItem }[]): void {
    const size = history.reduce((n, m) => n + m.content.length + (m.toolCalls ?? []).reduce((k, c) => k + c.arguments.length, 0), 0);
    if (size > this.maxChars) return;
    for (const { id, item } of items) this.items.set(id, item);
    this.responses.set(responseId, { history, items: items.map((i) => i.id), size });
    this.chars += size;
    for (const [id, r] of this.responses) {
      if (this.responses.size <= this.maxResponses && this.chars <= this.maxChars) break;
      this.responses.delete(id);
      this.chars -= r.size;
      for (const i of r.items) this.items.delete(i);
    }
  }
}
