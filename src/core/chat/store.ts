/**
 * Conversations per workspace, persisted through a small key-value interface (the adapter passes VS Code's
 * workspaceState; tests pass a Map). Each conversation is its own key, plus an index of ids, so a write touches one
 * conversation. A streaming answer is saved as it grows (throttled by the caller), so a crash loses at most the last
 * moment of it.
 */
import type { Conversation, ConversationSummary, Turn } from '../../protocol/chat';

export interface KeyValueStore {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void> | Promise<void>;
}

type Thenable<T> = PromiseLike<T>;

const INDEX_KEY = 'switchyard.chat.index';
const convKey = (id: string) => `switchyard.chat.conversation.${id}`;
/** Oldest conversations beyond this are deleted. */
export const MAX_CONVERSATIONS = 50;

export function newId(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

export function titleFrom(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 60 ? `${line.slice(0, 57)}…` : line || 'New chat';
}

export class ConversationStore {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private index(): ConversationSummary[] {
    const raw = this.kv.get<unknown>(INDEX_KEY);
    return Array.isArray(raw) ? (raw as ConversationSummary[]).filter((s) => s && typeof s.id === 'string') : [];
  }

  /** Newest first. */
  list(): ConversationSummary[] {
    return [...this.index()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  get(id: string): Conversation | undefined {
    const c = this.kv.get<Conversation>(convKey(id));
    return c && Array.isArray(c.turns) ? c : undefined;
  }

  create(): Conversation {
    const at = this.now().toISOString();
    return { id: newId('c'), title: 'New chat', createdAt: at, updatedAt: at, turns: [] };
  }

  /** Writes the conversation and its index entry. Empty conversations are not stored. */
  async save(c: Conversation): Promise<void> {
    if (c.turns.length === 0) return;
    c.updatedAt = this.now().toISOString();
    if (c.title === 'New chat') {
      const first = c.turns.find((t) => t.role === 'user');
      if (first) c.title = titleFrom(first.text);
    }
    await this.kv.update(convKey(c.id), c);
    const summary: ConversationSummary = { id: c.id, title: c.title, updatedAt: c.updatedAt, turns: c.turns.length };
    const index = this.index().filter((s) => s.id !== c.id);
    index.push(summary);
    index.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    const evicted = index.splice(MAX_CONVERSATIONS);
    for (const e of evicted) await this.kv.update(convKey(e.id), undefined);
    await this.kv.update(INDEX_KEY, index);
  }

  async delete(id: string): Promise<void> {
    await this.kv.update(convKey(id), undefined);
    await this.kv.update(
      INDEX_KEY,
      this.index().filter((s) => s.id !== id),
    );
  }

  /** The most recent conversation, or a new empty one. */
  latest(): Conversation {
    for (const s of this.list()) {
      const c = this.get(s.id);
      if (c) return c;
    }
    return this.create();
  }
}

/** A turn that was streaming when the window closed is shown as stopped, not as streaming forever. */
export function settleInterrupted(c: Conversation): Conversation {
  for (const t of c.turns) if (t.status === 'streaming') t.status = 'stopped';
  return c;
}

export function historyMessages(turns: readonly Turn[]): { role: 'user' | 'assistant'; content: string }[] {
  return turns
    .filter((t) => (t.role === 'user' || (t.status !== 'error' && t.text)) && t.text.trim() !== '')
    .map((t) => ({ role: t.role, content: t.text }));
}
