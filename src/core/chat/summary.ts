/**
 * Summaries that keep long chats: when a conversation's history no longer fits the answering model's window, the
 * older messages are summarized by the `summarize` task (turn.ts runs it) and the summary goes into the system prompt
 * in their place, instead of them being dropped. A summary covers the oldest `messages` of the history and is cached
 * with the conversation (SummaryStore); a later overflow extends it from where it ended. This module holds the
 * pieces: the prompt, the transcript fitted to the summarizing model's window, the cache key.
 */
import { estimateTokens } from '../providers/tokenEstimate';
import type { ChatMessage } from '../providers/types';

export interface HistorySummary {
  /** How many of the oldest history messages it covers. */
  messages: number;
  /** Of those messages' text: a summary is reused only for the same start of the same conversation. */
  key: string;
  text: string;
  /** Who wrote it ("providerId/model"). */
  model: string;
}

/** Where a conversation keeps its summary (the chat view: the conversation itself, saved with it). */
export interface SummaryStore {
  get(): HistorySummary | undefined;
  set(summary: HistorySummary): void;
}

export const SUMMARY_SYSTEM_PROMPT =
  'You summarize a conversation between a user and a coding assistant so that it can continue without the full transcript. ' +
  "Keep what later turns may need: the user's goals and constraints, decisions made, names of files, functions, settings " +
  'and values, facts about the code, and open questions. At most 200 words, plain sentences or short bullets, no preamble.';

/** The answer budget of a summary. */
export const SUMMARY_MAX_TOKENS = 512;

/** Room kept in the main prompt for the summary. */
export function summaryReserve(window: number): number {
  return Math.min(SUMMARY_MAX_TOKENS + 64, Math.floor(window / 6));
}

/** FNV-1a over the first `n` messages' roles and texts. */
export function historyKey(history: readonly ChatMessage[], n: number): string {
  let h = 0x811c9dc5;
  for (const m of history.slice(0, n)) {
    const s = `${m.role}\u0000${m.content}\u0001`;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return `${n}:${h.toString(16)}`;
}

/** The cached summary when it still describes the start of this history. */
export function validSummary(s: HistorySummary | undefined, history: readonly ChatMessage[]): HistorySummary | undefined {
  return s && s.messages > 0 && s.messages <= history.length && s.key === historyKey(history, s.messages) ? s : undefined;
}

const speaker = (m: ChatMessage) =>
  m.role === 'assistant' ? 'Assistant' : m.role === 'user' ? 'User' : m.role === 'tool' ? 'Tool result' : 'System';

/**
 * The summarize task's question within `tokens`: the summary so far, then the messages to add, newest kept when they
 * do not all fit (a long one is cut at its end).
 */
export function summaryQuestion(previous: string | undefined, messages: readonly ChatMessage[], tokens: number): string {
  const head = previous ? `The summary so far:\n${previous}\n\nThe conversation that follows it:\n` : 'The conversation:\n';
  const tail = previous ? '\n\nWrite the updated summary of the whole conversation.' : '\n\nWrite the summary.';
  let budget = tokens - estimateTokens(head + tail);
  const lines: string[] = [];
  for (let i = messages.length - 1; i >= 0 && budget > 0; i--) {
    let line = `${speaker(messages[i]!)}: ${messages[i]!.content}`;
    const cost = estimateTokens(line) + 1;
    if (cost > budget) line = `${line.slice(0, Math.max(0, budget * 3 - 2))}…`;
    lines.unshift(line);
    budget -= Math.min(cost, budget);
  }
  return `${head}${lines.join('\n\n')}${tail}`;
}

/** The main system prompt with the summary of the earlier conversation after it. */
export function systemWithSummary(system: string, summary: string): string {
  const part = `Summary of the earlier conversation (its messages are no longer shown):\n${summary}`;
  return system ? `${system}\n\n${part}` : part;
}
