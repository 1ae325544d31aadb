/**
 * Prompt assembly within the answering model's context window. What must go in: the system prompt and the question.
 * Then, while they fit: the attached context (selection, file, retrieved chunks) in the caller's priority order, and
 * the conversation's history from the newest turn back. Whatever does not fit is dropped whole and named, so the UI
 * can say what the model did not see.
 */
import type { EgressSource } from '../usage/ledger';
import { ProviderError } from '../errors';
import { estimateMessagesTokens, estimateTokens } from '../providers/tokenEstimate';
import type { ChatImage, ChatMessage } from '../providers/types';

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
  /** The system prompt; empty: none is sent. */
  system: string;
  /** Earlier turns, oldest first. */
  history: ChatMessage[];
  /** Context in priority order: the first block is the last to be dropped. */
  context: ContextBlock[];
  /** The user's message, sent with the kept context before it; absent when `after` carries the whole request. */
  question?: string;
  /** Images the user's message carries (sent with it, to models with vision). */
  questionImages?: ChatImage[];
  /** Messages that must follow the question (a tool loop's calls and their results): always sent, in order. */
  after?: ChatMessage[];
  /** Prompt tokens the request adds outside the messages (tool schemas a template renders into the prompt). */
  extraTokens?: number;
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
/** A message's share of the providers' own estimate (its text, its tool calls, the template's markers). */
const messageCost = (m: ChatMessage) => estimateMessagesTokens([m]) - PRIMER;

export function formatContext(blocks: readonly ContextBlock[]): string {
  return blocks.map((b) => `### ${b.label}\n\`\`\`\n${b.text}\n\`\`\``).join('\n\n');
}

export function assemblePrompt(input: PromptInput): AssembledPrompt {
  // The answer needs room, but never more than half the window (a small model with a big maxTokens still answers).
  const answer = Math.min(input.answerTokens, Math.floor(input.contextWindow / 2));
  const budget = input.contextWindow - answer;
  const after = input.after ?? [];
  let used =
    PRIMER +
    (input.system ? cost(input.system) : 0) +
    (input.question === undefined ? 0 : cost(input.question)) +
    after.reduce((n, m) => n + messageCost(m), 0) +
    (input.extraTokens ?? 0);
  if (used > budget) {
    throw new ProviderError(
      'contextOverflow',
      `The ${after.length ? 'request' : 'question'} alone is about ${used} tokens, ` +
        `more than the ${budget} this model's ${input.contextWindow}-token window leaves after the answer. ` +
        `Shorten it or pick a model with a larger context window.`,
    );
  }
  // Context: the framing of the user message costs a little on top of each block.
  const kept: ContextBlock[] = [];
  const droppedContext: string[] = [];
  // (Context goes with the question: a request without one has none.)
  for (const block of input.question === undefined ? [] : input.context) {
    const c = estimateTokens(formatContext([block])) + 2;
    if (used + c <= budget) {
      kept.push(block);
      used += c;
    } else droppedContext.push(block.label);
  }
  // History: newest first, while it fits; everything older than the first message that does not fit is dropped.
  const history: ChatMessage[] = [];
  let droppedMessages = 0;
  for (let i = input.history.length - 1; i >= 0; i--) {
    const m = input.history[i]!;
    const c = messageCost(m);
    if (droppedMessages === 0 && used + c <= budget) {
      history.unshift(m);
      used += c;
    } else droppedMessages++;
  }
  // The kept history starts with a user message: an answer whose question was dropped (or a tool result whose call
  // was) goes with it.
  while (history.length && history[0]!.role !== 'user' && history[0]!.role !== 'system' && droppedMessages > 0) {
    used -= messageCost(history.shift()!);
    droppedMessages++;
  }
  const question = input.question === undefined ? undefined : kept.length ? `${formatContext(kept)}\n\n${input.question}` : input.question;
  const messages: ChatMessage[] = [
    ...(input.system ? [{ role: 'system' as const, content: input.system }] : []),
    ...history,
    ...(question === undefined
      ? []
      : [{ role: 'user' as const, content: question, ...(input.questionImages?.length ? { imageParts: input.questionImages } : {}) }]),
    ...after,
  ];
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
