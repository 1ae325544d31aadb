/**
 * How many tokens a text or a chat is taken to be when sizing prompts and context (the chat turn, completions, the
 * index's chunks, a provider's usage when its server reports no counts). No HTTP client and no provider code here: the
 * index worker's bundle imports it.
 */
import type { ChatMessage } from './types';

/**
 * A conservative token estimate: about one token per three characters. Real tokenizers average closer to four
 * characters per token for English and code, so this over-counts, which is the safe side for context sizing.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 3);
}

/** Per-message overhead of chat templates (role markers, separators), plus the primer of the answer. */
const MESSAGE_OVERHEAD_TOKENS = 4;
const REPLY_PRIMER_TOKENS = 3;

export function estimateMessagesTokens(messages: readonly ChatMessage[]): number {
  let total = REPLY_PRIMER_TOKENS;
  for (const m of messages) {
    total += estimateTokens(m.content) + MESSAGE_OVERHEAD_TOKENS;
    // An assistant turn's calls are in the prompt too (name and arguments, plus the template's call markers).
    for (const call of m.toolCalls ?? []) total += estimateTokens(call.name) + estimateTokens(call.arguments) + MESSAGE_OVERHEAD_TOKENS;
  }
  return total;
}
