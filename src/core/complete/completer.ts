/**
 * One completion path, editor- and provider-independent: cache first (synchronously, no debounce), then one scheduled
 * request through an injected `fetchInfill` (the provider part: Ollama generate, llama.cpp /infill, /v1/completions,
 * embedded infill), post-processed, cached, returned.
 */
import { CompletionCache } from './cache';
import { buildFimPrompt } from './context';
import type { CompletionContext, FimPrompt } from './context';
import { postProcess } from './postprocess';
import type { MultilinePolicy } from './postprocess';
import { CompletionScheduler } from './scheduler';
import type { SchedulerOptions } from './scheduler';
import type { FimChoice } from './templates';

/**
 * What a fetch answered when it is not simply the asked model's text: a router that fell back to another candidate
 * names the model that answered (`model`, the cache key the answer is kept under) and the stops of the prompt it sent.
 */
export interface InfillAnswer {
  text: string;
  model?: string;
  stop?: readonly string[];
}

/** Sends one FIM request and returns the model's raw text (or an InfillAnswer); must pass `signal` to its fetch. */
export type FetchInfill = (
  model: string,
  prompt: FimPrompt,
  signal: AbortSignal,
  context: CompletionContext,
) => Promise<string | InfillAnswer>;

export interface CompleterOptions extends SchedulerOptions {
  fetchInfill: FetchInfill;
  cache?: CompletionCache;
  multiline?: MultilinePolicy;
  maxLines?: number;
}

export interface Completion {
  text: string;
  /** `cache`: an exact hit; `typedAhead`: the rest of a suggestion the user began typing; `model`: a new request. */
  source: 'cache' | 'typedAhead' | 'model';
  /** The model (cache key) whose answer it is: the one asked, or the one a fallback got it from. */
  model: string;
}

interface Job {
  model: string;
  choice: Extract<FimChoice, { usable: true }>;
  context: CompletionContext;
}

export class Completer {
  readonly cache: CompletionCache;
  readonly scheduler: CompletionScheduler<Job, { text: string | undefined; model: string }>;
  private readonly multiline?: MultilinePolicy;
  private readonly maxLines?: number;

  constructor(options: CompleterOptions) {
    this.cache = options.cache ?? new CompletionCache();
    this.multiline = options.multiline;
    this.maxLines = options.maxLines;
    this.scheduler = new CompletionScheduler<Job, { text: string | undefined; model: string }>(async (job, signal) => {
      const prompt = buildFimPrompt(job.choice, job.context, { multiline: this.multiline });
      const answer = await options.fetchInfill(job.model, prompt, signal, job.context);
      const { text: raw, model = job.model, stop = prompt.stop } = typeof answer === 'string' ? { text: answer } : answer;
      const text = postProcess({
        completion: raw,
        prefix: job.context.prefix,
        suffix: job.context.suffix,
        stop,
        multiline: this.multiline,
        maxLines: this.maxLines,
      });
      if (!signal.aborted) this.cache.set(model, job.context.prefix, job.context.suffix, text ?? '');
      return { text, model };
    }, options);
  }

  /** What the cache can answer now, without a request (undefined: a miss; text '' never comes back from here). */
  cached(model: string, context: CompletionContext): Completion | undefined {
    const hit = this.cache.lookup(model, context.prefix, context.suffix);
    if (!hit) return undefined;
    if (hit.completion === '') return undefined;
    return { text: hit.completion, source: hit.typedAhead > 0 ? 'typedAhead' : 'cache', model };
  }

  /**
   * A cached answer at once, else a scheduled request (superseding the previous one). Undefined: nothing to show
   * (superseded, canceled, the model had nothing, post-processing dropped it). Rejects with the provider's error.
   */
  async complete(
    model: string,
    choice: Extract<FimChoice, { usable: true }>,
    context: CompletionContext,
    signal?: AbortSignal,
  ): Promise<Completion | undefined> {
    const hit = this.cache.lookup(model, context.prefix, context.suffix);
    if (hit) {
      this.scheduler.cancelCurrent();
      return hit.completion === '' ? undefined : { text: hit.completion, source: hit.typedAhead > 0 ? 'typedAhead' : 'cache', model };
    }
    const answer = await this.scheduler.schedule({ model, choice, context }, signal);
    return answer?.text === undefined ? undefined : { text: answer.text, source: 'model', model: answer.model };
  }
}
