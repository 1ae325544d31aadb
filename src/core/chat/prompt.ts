/**
 * Prompt assembly within the answering model's context window. What must go in: the system prompt and the question.
 * Then, while they fit: the attached context (selection, file, retrieved chunks) in the caller's priority order, and
 * the conversation's history from the newest turn back. Whatever does not fit is dropped whole and named, so the UI
 * can say what the model did not see.
 */
import type { EgressSource } from '../usage/ledger';
import { ProviderError } from '../errors';
import { estimateTokens } from '../providers/base';
import type { ChatMessage } from '../providers/types';

/** Per-message overhead of chat templates (role markers), plus the reply primer: the providers' own estimate. */
const MESSAGE_OVERHEAD = 4;
const PRIMER = 3;

export interface ContextBlock {
  /** What the UI calls it: "selection in src/a.ts:3-9", "src/b.ts:10-40 (parse)". */
  label: string;
  text: string;
  /** The workspace file (and lines) the text comes from, for the egress record of a cloud request. */
  source?: EgressSource;
}

/** The sources of the blocks a prompt kept (a block left out to fit the window was not sent). */
export function sentSources(blocks: readonly ContextBlock[], dropped: readonly string[]): EgressSource[] {
  return blocks.filter((b) => b.source && !dropped.includes(b.label)).map((b) => b.source!);
}

export interface PromptInput {
  system: string;
  /** Earlier turns, oldest first. */
  history: ChatMessage[];
  /** Context in priority order: the first block is the last to be dropped. */
  context: ContextBlock[];
  question: string;
  /** The answering model's context window in tokens. */
  contextWindow: number;
  /** Tokens kept free for the answer. */
  answerTokens: number;
}

export interface AssembledPrompt {
  messages: ChatMessage[];
  /** Estimated prompt tokens. */
  tokens: number;
  budget: number;
  /** Labels of dropped context blocks. */
  droppedContext: string[];
  /** How many earlier messages were left out. */
  droppedMessages: number;
  /** One sentence for the user, or undefined when nothing was dropped. */
  notice?: string;
}

const cost = (text: string) => estimateTokens(text) + MESSAGE_OVERHEAD;

export function formatContext(blocks: readonly ContextBlock[]): string {
  return blocks.map((b) => `### ${b.label}\n\`\`\`\n${b.text}\n\`\`\``).join('\n\n');
}

export function assemblePrompt(input: PromptInput): AssembledPrompt {
  // The answer needs room, but never more than half the window (a small model with a big maxTokens still answers).
  const answer = Math.min(input.answerTokens, Math.floor(input.contextWindow / 2));
  const budget = input.contextWindow - answer;
  let used = PRIMER + cost(input.system) + cost(input.question);
  if (used > budget) {
    throw new ProviderError(
      'contextOverflow',
      `The question alone is about ${used} tokens, more than the ${budget} this model's ${input.contextWindow}-token window leaves after the answer. Shorten it or pick a model with a larger context window.`,
    );
  }
  // Context: the framing of the user message costs a little on top of each block.
  const kept: ContextBlock[] = [];
  const droppedContext: string[] = [];
  for (const block of input.context) {
    const c = estimateTokens(formatContext([block])) + 2;
    if (used + c <= budget) {
      kept.push(block);
      used += c;
    } else droppedContext.push(block.label);
  }
  // History: newest first; a turn pair is dropped together when the user half no longer fits.
  const history: ChatMessage[] = [];
  let droppedMessages = 0;
  for (let i = input.history.length - 1; i >= 0; i--) {
    const m = input.history[i]!;
    const c = cost(m.content);
    if (droppedMessages === 0 && used + c <= budget) {
      history.unshift(m);
      used += c;
    } else droppedMessages++;
  }
  const content = kept.length ? `${formatContext(kept)}\n\n${input.question}` : input.question;
  const messages: ChatMessage[] = [{ role: 'system', content: input.system }, ...history, { role: 'user', content }];
  const parts: string[] = [];
  if (droppedContext.length) parts.push(`context left out: ${droppedContext.join(', ')}`);
  if (droppedMessages) parts.push(`${droppedMessages} earlier message${droppedMessages === 1 ? '' : 's'} left out`);
  return {
    messages,
    tokens: used,
    budget,
    droppedContext,
    droppedMessages,
    notice: parts.length ? `To fit the model's ${input.contextWindow}-token window: ${parts.join('; ')}.` : undefined,
  };
}
