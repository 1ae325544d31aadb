/**
 * The attempts of the request kinds whose answer comes whole, embeddings and completions: what one candidate is sent
 * and how its answer is read, under a per-candidate time limit. The candidate loop around them is `runWithFallback`
 * (fallback.ts); chat's attempt is chatAttempt.ts.
 */
import { ProviderError, isProviderError, marksUnhealthy } from '../errors';
import type { CompletionRequest } from '../providers/types';
import { fimChoice } from './capabilities';
import type { Attempt, AttemptOne, FallbackRequest } from './fallback';
import type { RoutedCompleteRequest, RoutedCompleteResult, RoutedEmbedRequest, RoutedEmbedResult, RoutingContext } from './types';

/**
 * Starts the attempt and runs `op` under the caller's signal and `timeoutMs`; a failure the limit caused is `timeout`
 * ("no answer within …"), whatever the provider made of the abort.
 */
async function timed<T>(
  attempt: Attempt,
  timeoutMs: number,
  outer: AbortSignal | undefined,
  op: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  attempt.start();
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    return await op(outer ? AbortSignal.any([outer, timeout]) : timeout);
  } catch (e) {
    if (timeout.aborted && !outer?.aborted && !(isProviderError(e) && e.kind === 'timeout')) {
      const { providerId, model } = attempt.c;
      throw new ProviderError('timeout', `no answer within ${timeoutMs} ms`, { providerId, model, cause: e });
    }
    throw e;
  }
}

/** Embed's `attemptOne`: one candidate's vectors for every input, within `timeoutMs`. */
export function embedAttempt(request: RoutedEmbedRequest, timeoutMs: number): AttemptOne<never, RoutedEmbedResult> {
  return async (attempt, provider) => {
    const c = attempt.c;
    const input = attempt.outbound(request.input, request.sources);
    if (!input) return undefined;
    const embed = (signal: AbortSignal) => provider.embed({ model: c.model, input: [...input], signal, timeoutMs });
    const result = await timed(attempt, timeoutMs, request.signal, embed);
    const route = attempt.answered();
    const inputTokens = result.inputTokens ?? Math.ceil(request.input.reduce((n, t) => n + t.length, 0) / 4);
    const usage = attempt.done({ inputTokens, outputTokens: 0, estimated: result.inputTokens === undefined });
    return { vectors: result.vectors, providerId: c.providerId, model: c.model, local: c.local, route, usage };
  };
}

/**
 * The loop's rules for completions. Nothing reaches the user before the answer: whatever went wrong, the next
 * candidate may answer. A 500 to one completion is about that answer (llama-server refuses generated text that is
 * not valid UTF-8 with one): the server is up, so the other tasks it serves, and the next keystroke, may still use
 * it. A server that refuses fill-in-the-middle is not asked for it again.
 */
export function completeRules(ctx: RoutingContext): Pick<FallbackRequest, 'fallsBack' | 'cools' | 'onFailure'> {
  return {
    fallsBack: () => true,
    cools: (err) => marksUnhealthy(err) && !(err.kind === 'server' && err.status === 500),
    onFailure: (c, err) => {
      if (err.kind === 'unsupported') ctx.noFim.set(`${c.providerId}/${c.model}`, err.message);
    },
  };
}

/** Complete's `attemptOne`: one fill-in-the-middle answer, in the candidate model's own template, within `timeoutMs`. */
export function completeAttempt(
  ctx: RoutingContext,
  request: RoutedCompleteRequest,
  timeoutMs: number,
): AttemptOne<never, RoutedCompleteResult> {
  return async (attempt, provider) => {
    const c = attempt.c;
    const choice = fimChoice(ctx, c);
    if (!choice.usable) return undefined;
    if (!provider.complete) {
      attempt.skip('no fill-in-the-middle: this provider kind has no completions endpoint', 'unsupported', 'fim');
      return undefined;
    }
    const built = request.prompt(choice, c);
    const extra = built.extra ?? [];
    const sent = attempt.outbound([built.prompt, built.suffix ?? '', ...extra.map((s) => s.text)], request.sources);
    if (!sent) return undefined;
    const body: Omit<CompletionRequest, 'model' | 'signal'> = c.local
      ? built
      : {
          ...built,
          prompt: sent[0]!,
          ...(built.suffix !== undefined ? { suffix: sent[1]! } : {}),
          extra: extra.map((s, i) => ({ filename: s.filename, text: sent[2 + i]! })),
        };
    const complete = provider.complete.bind(provider);
    const temperature = request.temperature ?? body.temperature ?? c.temperature;
    const ask = (signal: AbortSignal) => complete({ ...body, model: c.model, temperature, signal, timeoutMs });
    const result = await timed(attempt, timeoutMs, request.signal, ask);
    if (request.signal?.aborted) throw new ProviderError('canceled', 'The request was canceled.');
    const route = attempt.answered();
    const usage = attempt.done({
      inputTokens: result.inputTokens ?? Math.ceil(sent.reduce((n, t) => n + t.length, 0) / 4),
      outputTokens: result.outputTokens ?? Math.ceil(result.text.length / 4),
      estimated: result.inputTokens === undefined || result.outputTokens === undefined,
      ttftMs: attempt.ttftMs,
    });
    const { providerId, model, local } = c;
    return { text: result.text, finishReason: result.finishReason, providerId, model, local, choice, sent: body, route, usage };
  };
}
