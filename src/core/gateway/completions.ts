/**
 * POST /v1/completions: OpenAI's legacy completions (`prompt`, `suffix`, `max_tokens`, `stop`, `stream`) through the
 * `complete` task's route (issue 15), so other editors and tools get the same fill-in-the-middle routing as the
 * editor: `model` is "switchyard/complete", an alias of it, or one of the models the task routes to.
 *
 * Each candidate is asked in its own FIM format (templates.ts): `prompt` is the text before the cursor and `suffix`
 * the text after it. The answer is returned as the model gave it, cut at the stops (no editor post-processing: the
 * client does its own). Streamed requests get OpenAI's `text_completion` chunks; the providers answer completions
 * whole, so the text comes in one chunk, then the finish chunk, the usage chunk when asked, and `[DONE]`.
 */
import type { ServerResponse } from 'node:http';
import { buildFimPrompt } from '../complete/context';
import { cutAtStop } from '../complete/postprocess';
import { isTaskName, type SwitchyardConfig } from '../config/config';
import { isObject } from '../json';
import type { Logger } from '../host';
import { RouteError, resolveTaskName, type Router } from '../routing/router';
import { describeAttempts, describeCandidate } from '../describe';
import { loggedEnd } from './endpoint';
import { routeHeaders, sendJson, writeEventStreamHead } from './http';
import { GatewayError } from './wire';

/** OpenAI's default `max_tokens` for legacy completions. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;
/** OpenAI takes up to 4 stop sequences. */
const MAX_STOPS = 4;

export interface LegacyCompletionRequest {
  model: string;
  prompt: string;
  suffix: string;
  maxTokens: number;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
  temperature?: number;
}

const invalid = (message: string, param: string, code = 'invalid_value') =>
  new GatewayError(400, message, 'invalid_request_error', code, param);

/** Validates a legacy completions body as OpenAI does (one prompt; no echo, logprobs, n or best_of beyond 1). */
export function parseCompletionRequest(body: unknown): LegacyCompletionRequest {
  if (!isObject(body)) throw invalid('The request body must be a JSON object.', 'body', 'invalid_json');
  const model = body.model;
  if (typeof model !== 'string' || model.trim() === '') {
    throw invalid(
      'You must provide a model parameter, e.g. "switchyard/complete" (GET /v1/models lists them).',
      'model',
      'missing_required_parameter',
    );
  }
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') prompt = prompt[0];
  if (prompt === undefined || prompt === null)
    throw invalid("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  if (typeof prompt !== 'string') {
    throw invalid(
      "'prompt' must be a string (or an array of one string): the gateway takes one prompt per request and no token arrays.",
      'prompt',
    );
  }
  const suffix = body.suffix ?? '';
  if (typeof suffix !== 'string') throw invalid("'suffix' must be a string.", 'suffix');
  const max = body.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1)
    throw invalid("'max_tokens' must be an integer of at least 1.", 'max_tokens');
  const rawStop = body.stop ?? [];
  const stop = typeof rawStop === 'string' ? [rawStop] : rawStop;
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string') || stop.length > MAX_STOPS) {
    throw invalid(`'stop' must be a string or an array of at most ${MAX_STOPS} strings.`, 'stop');
  }
  const stream = body.stream ?? false;
  if (typeof stream !== 'boolean') throw invalid("'stream' must be true or false.", 'stream');
  const temperature = body.temperature ?? undefined;
  if (temperature !== undefined && (typeof temperature !== 'number' || temperature < 0 || temperature > 2))
    throw invalid("'temperature' must be a number from 0 to 2.", 'temperature');
  for (const [name, ok] of [
    ['n', body.n === undefined || body.n === null || body.n === 1],
    ['best_of', body.best_of === undefined || body.best_of === null || body.best_of === 1],
    ['echo', body.echo === undefined || body.echo === null || body.echo === false],
    ['logprobs', body.logprobs === undefined || body.logprobs === null],
  ] as const) {
    if (!ok)
      throw invalid(
        `'${name}' is not supported by Switchyard's gateway (one completion, no echo or logprobs).`,
        name,
        'unsupported_parameter',
      );
  }
  const options = isObject(body.stream_options) ? body.stream_options : {};
  return {
    model: model.trim(),
    prompt,
    suffix,
    maxTokens: max,
    stop: (stop as string[]).filter((s) => s !== ''),
    stream,
    includeUsage: stream && options.include_usage === true,
    ...(temperature !== undefined ? { temperature } : {}),
  };
}

/** What the handler needs of the gateway. */
export interface CompletionsHost {
  readonly source: { readonly router: Router; readonly config: SwitchyardConfig };
  readonly logger: Logger;
}

/** The task (and, for a real model name, the one candidate) of a requested name: completions route `complete` only. */
async function resolveComplete(host: CompletionsHost, requested: string): Promise<{ only?: string }> {
  const config = host.source.config;
  const task = resolveTaskName(requested, config.aliases);
  if (task === 'complete') return {};
  if (task) {
    throw new GatewayError(
      400,
      `"${requested}" is the ${task} task; /v1/completions fills in code through ` +
        `switchyard/complete (or an alias of it). Use /v1/chat/completions for ${task}.`,
      'invalid_request_error',
      'model_not_found',
      'model',
    );
  }
  if (!requested.startsWith('switchyard/') && !isTaskName(requested) && requested.includes('/')) {
    // One of the task's candidates that the privacy policy allows (whether it can answer now is the route's business).
    const router = host.source.router;
    const [plan, all] = await Promise.all([
      router.plan('complete').catch(() => undefined),
      router.candidates('complete').catch(() => undefined),
    ]);
    const refused = new Set(plan?.skipped.filter((s) => s.kind === 'policy').map((s) => `${s.providerId}/${s.model}`));
    if (all?.list.some((c) => `${c.providerId}/${c.model}` === requested && !refused.has(requested))) return { only: requested };
  }
  throw new GatewayError(
    400,
    `"${requested}" is not a model /v1/completions routes to. Use switchyard/complete, ` +
      `an alias of it, or a model of switchyard.tasks.complete (GET /v1/models lists them).`,
    'invalid_request_error',
    'model_not_found',
    'model',
  );
}

export async function completions(host: CompletionsHost, res: ServerResponse, body: unknown, signal: AbortSignal): Promise<void> {
  const request = parseCompletionRequest(body);
  const { only } = await resolveComplete(host, request.model);
  const id = `cmpl-sy${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
  const created = Math.floor(Date.now() / 1000);
  let stops: string[] = request.stop;
  let result;
  try {
    result = await host.source.router.complete({
      task: only ? 'complete' : request.model,
      only,
      signal,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      prompt: (choice) => {
        // The client decides how long the answer is (max_tokens, stop): no single-line stop of the editor's.
        const fim = buildFimPrompt(choice, { prefix: request.prompt, suffix: request.suffix, extra: [] }, { multiline: 'always' });
        return { ...fim, maxTokens: request.maxTokens, stop: [...request.stop, ...fim.stop.filter((s) => !request.stop.includes(s))] };
      },
    });
  } catch (e) {
    if (loggedEnd(host.logger, 'completions', request.model, e, signal)) return;
    // Every candidate was passed over for not filling in the middle: no model for completions, not an upstream error.
    if (e instanceof RouteError && e.kind === 'unsupported') throw new GatewayError(503, e.message, 'server_error', 'no_model_available');
    throw e;
  }
  stops = result.sent.stop ? [...result.sent.stop] : stops;
  const text = cutAtStop(result.text, stops);
  const model = `${result.providerId}/${result.model}`;
  const route = result.route;
  const fallback = route.fallback ? ` after ${describeAttempts(route.attempts.filter((a) => a.outcome !== 'answered'))}` : '';
  host.logger.info(
    `gateway completions: ${request.model} → ${describeCandidate({ ...result, local: route.local }, 'task complete')}${fallback}`,
  );
  const finish = result.finishReason === 'length' || (result.usage.outputTokens ?? 0) >= request.maxTokens ? 'length' : 'stop';
  const inputTokens = result.usage.inputTokens ?? 0;
  const outputTokens = result.usage.outputTokens ?? 0;
  const usage = { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens };
  if (!request.stream) {
    sendJson(
      res,
      200,
      { id, object: 'text_completion', created, model, choices: [{ text, index: 0, logprobs: null, finish_reason: finish }], usage },
      routeHeaders(route),
    );
    return;
  }
  if (res.destroyed) return;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: 'text_completion', created, choices, model, ...extra })}\n\n`;
  writeEventStreamHead(res, route);
  if (text !== '') res.write(chunk([{ text, index: 0, logprobs: null, finish_reason: null }]));
  res.write(chunk([{ text: '', index: 0, logprobs: null, finish_reason: finish }]));
  if (request.includeUsage) res.write(chunk([], { usage }));
  res.end('data: [DONE]\n\n');
}
