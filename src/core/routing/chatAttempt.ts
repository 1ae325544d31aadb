/**
 * Chat's attempt at one candidate (tool calls included): the candidate's prompt (fitted to it by `promptFor`, with
 * secrets redacted for a cloud one), the request with the caller's overrides, the first-token timeout, then the
 * provider's events passed on as they stream. The candidate loop around it is `runWithFallback` (fallback.ts).
 */
import { ProviderError } from '../errors';
import { imageCount } from '../providers/images';
import type { ChatEvent, ChatMessage, ChatOutputEvent, ChatRequest, FinishReason, RelayedAnswer } from '../providers/types';
import type { EgressSource, UsageRecord } from '../usage/ledger';
import type { AttemptOne } from './fallback';
import type { Candidate, CandidatePrompt, RoutedChatEvent, RoutedChatRequest } from './types';

/** What an answer has counted while it streams. */
interface Tally {
  text: string;
  /** Characters of tool calls' names and arguments. */
  callText: number;
  relayed?: RelayedAnswer;
  inputTokens?: number;
  outputTokens?: number;
  finish?: FinishReason;
}

/**
 * Chat's `attemptOne`: streams one candidate's answer; its first event must come within `firstTokenTimeoutMs`, the
 * router's setting, which the provider is given too (its own default must not cut a slower first token short).
 */
export function chatAttempt(request: RoutedChatRequest, firstTokenTimeoutMs: number): AttemptOne<RoutedChatEvent, UsageRecord> {
  return async function* (attempt, provider) {
    const c = attempt.c;
    const prompt: CandidatePrompt = request.promptFor ? await request.promptFor(c) : { messages: request.messages ?? [] };
    const sources = withImageNote(prompt.sources ?? request.sources, imageCount(prompt.messages));
    const sent = attempt.outbound(messageTexts(prompt.messages), sources);
    if (!sent) return undefined;
    const messages = c.local ? prompt.messages : withTexts(prompt.messages, sent);
    attempt.start();
    const controller = new AbortController();
    const onAbort = () => controller.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const tally: Tally = { text: '', callText: 0 };
    const outputChars = () => tally.relayed?.textLength ?? tally.text.length + tally.callText;
    attempt.partial = () => ({ inputTokens: tally.inputTokens, outputTokens: tally.outputTokens, outputChars: outputChars() });
    let finished = false;
    try {
      const iterator = provider.chat(chatRequest(request, c, messages, controller.signal, firstTokenTimeoutMs))[Symbol.asyncIterator]();
      const first = await firstEvent(iterator, controller, firstTokenTimeoutMs, c);
      yield { type: 'route', route: attempt.answered() };
      yield* passOn(iterator, first, tally);
      if (request.signal?.aborted) {
        throw new ProviderError('canceled', 'The request was canceled.', { providerId: c.providerId, model: c.model, afterOutput: true });
      }
      const usage = attempt.done({
        inputTokens: tally.inputTokens ?? Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4),
        outputTokens: tally.outputTokens ?? Math.ceil(outputChars() / 4),
        estimated: tally.inputTokens === undefined || tally.outputTokens === undefined,
        ttftMs: attempt.ttftMs,
      });
      finished = true;
      yield tally.finish ? { type: 'done', usage, finish: tally.finish } : { type: 'done', usage };
      return usage;
    } finally {
      request.signal?.removeEventListener('abort', onAbort);
      // Cancels the provider's request when the consumer stopped early or it failed; a finished one has nothing to
      // cancel (and an abort costs a DOMException with a stack trace on every answer).
      if (!finished) controller.abort();
    }
  };
}

/** The provider's request for one candidate: its model and parameters, the caller's overrides, tools, format, timeout. */
function chatRequest(
  request: RoutedChatRequest,
  c: Candidate,
  messages: ChatMessage[],
  signal: AbortSignal,
  firstTokenTimeoutMs: number,
): ChatRequest {
  const tools = request.tools?.length ? request.tools : undefined;
  return {
    model: c.model,
    messages,
    temperature: request.temperature ?? c.temperature,
    maxTokens: request.maxTokens ?? c.maxTokens,
    contextSize: c.contextSize,
    sampling: request.sampling,
    signal,
    firstTokenTimeoutMs,
    relay: request.relay ? { includeUsage: request.relay.includeUsage, model: `${c.providerId}/${c.model}` } : undefined,
    ...(tools ? { tools, toolChoice: request.toolChoice, parallelToolCalls: request.parallelToolCalls } : {}),
    ...(request.responseFormat ? { responseFormat: request.responseFormat } : {}),
  };
}

/** Passes the stream's output events on from `first`, counting them; the finish reason and usage go to the tally. */
async function* passOn(
  iterator: AsyncIterator<ChatEvent>,
  first: IteratorResult<ChatEvent>,
  tally: Tally,
): AsyncGenerator<ChatOutputEvent> {
  for (let next = first; !next.done; next = await iterator.next()) {
    const ev = next.value;
    if (ev.type === 'finish') {
      tally.finish = ev.reason;
    } else if (ev.type === 'usage') {
      tally.inputTokens = ev.inputTokens ?? tally.inputTokens;
      tally.outputTokens = ev.outputTokens ?? tally.outputTokens;
    } else if (ev.type === 'text') {
      tally.text += ev.text;
      yield { type: 'text', text: ev.text };
    } else {
      if (ev.type === 'relay') tally.relayed = ev.answer;
      else if (ev.type === 'toolCall') tally.callText += ev.name.length;
      else if (ev.type === 'toolCallArgs') tally.callText += ev.text.length;
      yield ev;
    }
  }
}

/** Waits for the first event of a stream, or fails with `timeout` and aborts the request. */
async function firstEvent<T>(
  iterator: AsyncIterator<T>,
  controller: AbortController,
  timeoutMs: number,
  c: Candidate,
): Promise<IteratorResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new ProviderError('timeout', `no first token within ${timeoutMs} ms`, { providerId: c.providerId, model: c.model });
      controller.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every text a chat request carries to a model, in order: each message's content, then its tool calls' arguments. */
function messageTexts(messages: readonly ChatMessage[]): string[] {
  return messages.flatMap((m) => [m.content, ...(m.toolCalls ?? []).map((t) => t.arguments)]);
}

/**
 * The egress record's sources with the images the request carries named too: redaction reads text only, so an image
 * leaves as it is, and the record says so ("2 images (not redacted)").
 */
function withImageNote(sources: readonly EgressSource[] | undefined, images: number): readonly EgressSource[] | undefined {
  if (images === 0) return sources;
  return [...(sources ?? []), { path: `${images} image${images === 1 ? '' : 's'} (not redacted)` }];
}

/** The messages with their texts replaced, in messageTexts' order. */
function withTexts(messages: readonly ChatMessage[], texts: readonly string[]): ChatMessage[] {
  let i = 0;
  return messages.map((m) => {
    const content = texts[i++]!;
    const toolCalls = m.toolCalls?.map((t) => ({ ...t, arguments: texts[i++]! }));
    return toolCalls ? { ...m, content, toolCalls } : { ...m, content };
  });
}
