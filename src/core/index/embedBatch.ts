/**
 * One batch of chunk texts embedded and stored, whatever the embedding server makes of it. A batch the server
 * refuses (it answered, with an error status) is split in halves, each tried on its own, so one input the server will
 * not take never holds back the others; one refused input is shrunk until it fits. What a model was found to take is
 * remembered per model (in the index's meta), so later inputs are cut to fit before they are sent.
 */
import { isProviderError, type ProviderError } from '../errors';
import type { Logger } from '../host';
import { RouteError, type RoutedEmbedResult } from '../routing/router';
import { embedTokens, fitTokens } from './budget';
import type { Embedder } from './service';
import type { EmbedLimit } from './store';

/** Below this many characters a refused input is not cut further: the refusal is not about its length. */
const MIN_EMBED_CHARS = 64;

export interface EmbedItem {
  hash: string;
  text: string;
}

/** What batch embedding needs of the index that runs it. */
export interface EmbedBatchHost {
  readonly logger: Logger;
  /** Aborted when the index closes. */
  readonly signal: AbortSignal;
  isClosed(): boolean;
  /** The model ("provider/model") the index's vectors are of; "" before any. */
  model(): string;
  call<T>(method: string, params: unknown): Promise<T>;
  /** The server refused a batch of `size` texts: later batches are half of it. */
  halveBatch(size: number): void;
  /** `count` vectors of `model`, `dims` long, were stored; `message`: the store dropped the older model's vectors. */
  stored(model: string, dims: number, count: number, message: string | undefined): void;
}

/** "provider/model" of the candidate whose failure this is (the last failed attempt of a route), where known. */
function refusingModel(e: unknown): string | undefined {
  if (e instanceof RouteError) {
    const failed = e.attempts.filter((a) => a.outcome === 'failed').at(-1);
    return failed ? `${failed.providerId}/${failed.model}` : undefined;
  }
  return isProviderError(e) && e.providerId && e.model ? `${e.providerId}/${e.model}` : undefined;
}

/**
 * The input limit a refusal states, where it does: llama-server "… increase the physical batch size (current batch
 * size: 512)", OpenAI "This model's maximum context length is 8192 tokens", llama.cpp "exceeds the available
 * context size (512 tokens)".
 */
function statedLimit(e: unknown): number | undefined {
  const messages: string[] = [];
  for (let x: unknown = e; x instanceof Error && messages.length < 4; x = x.cause) messages.push(x.message);
  const text = messages.join(' ');
  const m =
    /current batch size:\s*(\d+)/i.exec(text) ??
    /maximum context length is (\d+) tokens/i.exec(text) ??
    /available context size \((\d+) tokens\)/i.exec(text);
  const n = m ? Number(m[1]) : NaN;
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

type TokenCounter = (texts: string[]) => Promise<number[] | undefined>;

/**
 * The longest start of `text` (of `total` tokens) within `limit` tokens as `count` measures them, found within 1%
 * of its length by a few counts (interpolated, then bisected); cut at a line end where one is near.
 */
async function cutToTokens(count: TokenCounter, text: string, total: number, limit: number): Promise<{ text: string; tokens: number }> {
  if (total <= limit) return { text, tokens: total };
  let lo = 0;
  let loTokens = 0;
  let hi = text.length;
  let hiTokens = total;
  for (let step = 0; step < 10 && hi - lo > Math.max(8, text.length / 100); step++) {
    const guess = step % 2 === 0 ? lo + ((hi - lo) * (limit - loTokens)) / Math.max(1, hiTokens - loTokens) : (lo + hi) / 2;
    const len = Math.min(hi - 1, Math.max(lo + 1, Math.floor(guess)));
    const n = (await count([text.slice(0, len)]))?.[0];
    if (n === undefined) break;
    if (n <= limit) {
      lo = len;
      loTokens = n;
    } else {
      hi = len;
      hiTokens = n;
    }
  }
  const nl = text.lastIndexOf('\n', lo);
  if (nl <= lo * 0.95 || nl === lo) return { text: text.slice(0, lo), tokens: loTokens };
  const atLine = text.slice(0, nl);
  return { text: atLine, tokens: (await count([atLine]))?.[0] ?? loTokens };
}

/**
 * Whether the embedding server refused these inputs, as opposed to being unreachable, slow or forbidden: context
 * overflow (OpenAI's context_length_exceeded, HTTP 413), or a server error with a status, which is how llama.cpp
 * ("input is too large to process", HTTP 500) and Ollama ("the input length exceeds the context length", 400/500)
 * answer an input longer than they take. Read from the kind and status, not the message.
 */
function refusedInput(e: unknown): boolean {
  if (!isProviderError(e)) return false;
  if (e.kind === 'contextOverflow') return true;
  if (e.kind !== 'server') return false;
  const status = e.status ?? (isProviderError(e.cause) ? e.cause.status : undefined);
  return status !== undefined && status >= 400;
}

export class BatchEmbedding {
  /**
   * Per embedding model ("provider/model"), in `embedTokens` units: `cut`, the size a refused input was cut to
   * before the model took it (learned from its refusals), and `accepted`, the largest input it took whole. Inputs
   * over the larger of the two are cut before they are sent: one odd chunk (emoji, say, that the estimate counts
   * low) cannot make every ordinary chunk be cut, because ordinary chunks were taken whole before. `exact`: where
   * the model's server counts tokens itself, the longest input it took after a refusal, in its own tokens; inputs
   * are then counted by the server and cut to exactly that, whatever the estimate says.
   */
  limits = new Map<string, EmbedLimit>();

  constructor(private readonly host: EmbedBatchHost) {}

  /**
   * Embeds and stores one batch; returns the model ("provider/model") that answered. A batch the server refuses
   * (it answered, with an error status) is split in halves, each tried on its own, so one input the server will not
   * take never holds back the others; one refused input is shrunk until it fits (see `embedOne`). Anything else
   * (timeout, unreachable, auth, policy) throws: the caller pauses.
   */
  async embed(embedder: Embedder, items: EmbedItem[], timeoutMs: number | undefined): Promise<string> {
    const input = await this.fitLearned(
      embedder,
      this.host.model(),
      items.map((b) => b.text),
    );
    let result: RoutedEmbedResult;
    try {
      result = await embedder.embed({ input, timeoutMs, signal: this.host.signal });
    } catch (e) {
      if (this.host.isClosed() || !refusedInput(e)) throw e;
      if (items.length > 1) {
        this.host.halveBatch(items.length);
        this.host.logger.debug(`index: embedding batch of ${items.length} refused (${(e as ProviderError).kind}); trying it in halves`);
        const mid = Math.ceil(items.length / 2);
        await this.embed(embedder, items.slice(0, mid), timeoutMs);
        return this.embed(embedder, items.slice(mid), timeoutMs);
      }
      return this.embedOne(embedder, items[0]!, input[0]!, e, timeoutMs);
    }
    return this.store(result, items, input);
  }

  /**
   * Inputs cut to what the model is known to take: counted by its server and cut to its own-token limit where both
   * are known; else cut by the estimate to the limit learned in `embedTokens` units; else unchanged.
   */
  private async fitLearned(embedder: Embedder, model: string, texts: string[]): Promise<string[]> {
    const learned = this.limits.get(model);
    if (!learned) return texts;
    if (learned.exact !== undefined && embedder.countTokens) {
      const counter = this.counter(embedder, model);
      const exact = learned.exact;
      try {
        const counts = await counter(texts);
        if (counts) {
          const fit = async (t: string, i: number) => (counts[i]! <= exact ? t : (await cutToTokens(counter, t, counts[i]!, exact)).text);
          return await Promise.all(texts.map(fit));
        }
      } catch (e) {
        if (this.host.isClosed()) throw e;
        const why = e instanceof Error ? e.message : String(e);
        this.host.logger.debug(`index: counting tokens with ${model} failed (${why}); cutting by the estimate`);
      }
    }
    const limit = learned.cut !== undefined ? Math.max(learned.cut, learned.accepted) : undefined;
    return limit === undefined ? texts : texts.map((t) => fitTokens(t, limit));
  }

  private counter(embedder: Embedder, model: string): TokenCounter {
    return (texts) => embedder.countTokens!(model, texts, this.host.signal);
  }

  /**
   * One input the server refused. A plain server error is retried once as it was (it may have been the server, not
   * the input). Then, where the refusing model's server counts tokens (`embedOneExact`), the input is cut by its own
   * tokens; elsewhere it is cut in half until the server takes it, and the cut is refined by bisection (three
   * steps). The vector of the longest accepted start of the chunk is stored, and the size that fit is remembered
   * for the model (in `embedTokens` units, and in its own tokens where counted, in the index's meta), so later
   * inputs are cut to fit before they are sent. An input refused even when tiny is not a length problem: its error
   * is thrown.
   */
  private async embedOne(
    embedder: Embedder,
    item: EmbedItem,
    sent: string,
    first: unknown,
    timeoutMs: number | undefined,
  ): Promise<string> {
    const attempt = async (text: string): Promise<RoutedEmbedResult | undefined> => {
      try {
        return await embedder.embed({ input: [text], timeoutMs, signal: this.host.signal });
      } catch (e) {
        if (this.host.isClosed() || !refusedInput(e)) throw e;
        last = e;
        return undefined;
      }
    };
    let last: unknown = first;
    if (isProviderError(first) && first.kind !== 'contextOverflow') {
      const again = await attempt(sent);
      if (again) return this.store(again, [item], [sent]);
    }
    const exact = await this.embedOneExact(embedder, item, sent, last, attempt);
    if (exact) return exact;
    let hi = sent.length;
    let ok: { len: number; result: RoutedEmbedResult } | undefined;
    for (let len = Math.floor(hi / 2); !ok; len = Math.floor(len / 2)) {
      if (len < MIN_EMBED_CHARS) throw last;
      const r = await attempt(sent.slice(0, len));
      if (r) ok = { len, result: r };
      else hi = len;
    }
    for (let step = 0; step < 3 && hi - ok.len > 16; step++) {
      const mid = Math.floor((ok.len + hi) / 2);
      const r = await attempt(sent.slice(0, mid));
      if (r) ok = { len: mid, result: r };
      else hi = mid;
    }
    const model = `${ok.result.providerId}/${ok.result.model}`;
    await this.learnLimit(model, item, sent.slice(0, ok.len));
    return this.store(ok.result, [item], [sent.slice(0, ok.len)]);
  }

  /**
   * The exact cut of a refused input, where the refusing model's server counts tokens: the input's own-token count,
   * then starts of it cut to a number of tokens (interpolated, then halved) until the longest one the server takes
   * is found within 2%. Undefined where the server cannot count (the caller cuts by characters).
   */
  private async embedOneExact(
    embedder: Embedder,
    item: EmbedItem,
    sent: string,
    first: unknown,
    attempt: (text: string) => Promise<RoutedEmbedResult | undefined>,
  ): Promise<string | undefined> {
    const model = refusingModel(first) ?? this.host.model();
    if (!embedder.countTokens || !model) return undefined;
    const counter = this.counter(embedder, model);
    let total: number | undefined;
    try {
      total = (await counter([sent]))?.[0];
    } catch (e) {
      if (this.host.isClosed()) throw e;
      return undefined;
    }
    if (total === undefined) return undefined;
    let hi = total;
    let lo = 0;
    let ok: { text: string; tokens: number; result: RoutedEmbedResult } | undefined;
    const stated = statedLimit(first);
    let target = stated !== undefined && stated < total ? stated : Math.floor(total / 2);
    for (let step = 0; step < 12 && hi - lo > Math.max(2, hi * 0.02); step++) {
      const cut = await cutToTokens(counter, sent, total, target);
      if (cut.text.length < MIN_EMBED_CHARS && !ok) throw first;
      const r = await attempt(cut.text);
      if (r) {
        ok = { ...cut, result: r };
        lo = Math.max(lo, cut.tokens);
      } else hi = Math.min(hi, Math.max(cut.tokens, 1));
      target = ok ? Math.floor((lo + hi) / 2) : Math.floor(hi / 2);
      if (target <= lo) break;
    }
    if (!ok) throw first;
    const answered = `${ok.result.providerId}/${ok.result.model}`;
    await this.learnLimit(answered, item, ok.text, ok.tokens);
    return this.store(ok.result, [item], [ok.text]);
  }

  /** Remembers what a refusing model took (in the index's meta, so a reopened index cuts before sending). */
  private async learnLimit(model: string, item: { text: string }, fitted: string, exactTokens?: number): Promise<void> {
    const fits = embedTokens(fitted);
    const known = this.limits.get(model) ?? { accepted: 0 };
    const cutChanged = known.cut === undefined || fits < known.cut;
    const exactChanged = exactTokens !== undefined && (known.exact === undefined || exactTokens < known.exact);
    if (!cutChanged && !exactChanged) return;
    if (cutChanged) known.cut = fits;
    if (exactChanged) known.exact = exactTokens;
    this.limits.set(model, known);
    await this.host.call('setEmbedLimit', { model, ...known }).catch(() => undefined);
    const limit =
      known.exact !== undefined
        ? `${known.exact} of its own tokens (counted by its server)`
        : `${Math.max(known.cut!, known.accepted)} tokens (estimate)`;
    const refused = `${model} refused a ${embedTokens(item.text)}-token chunk (estimate)`;
    this.host.logger.info(`index: ${refused}; inputs over ${limit} are cut for it from now on`);
  }

  private async store(result: RoutedEmbedResult, items: EmbedItem[], sent: string[]): Promise<string> {
    const dims = result.vectors[0]?.length ?? 0;
    if (result.vectors.length !== items.length || dims === 0) {
      throw new Error(`the embedding server answered ${result.vectors.length} vectors for ${items.length} texts`);
    }
    const model = `${result.providerId}/${result.model}`;
    // The largest input the model took whole (kept in the index once the model has refused one).
    let whole = 0;
    for (let i = 0; i < items.length; i++) if (sent[i] === items[i]!.text) whole = Math.max(whole, embedTokens(sent[i]!));
    const learned = this.limits.get(model) ?? { accepted: 0 };
    if (whole > learned.accepted) {
      learned.accepted = whole;
      this.limits.set(model, learned);
      if (learned.cut !== undefined) await this.host.call('setEmbedLimit', { model, ...learned }).catch(() => undefined);
    }
    const message = await this.host.call<string | undefined>('putVectors', {
      model,
      dims,
      items: items.map((b, i) => ({ hash: b.hash, vector: result.vectors[i]! })),
    });
    this.host.stored(model, dims, items.length, message);
    return model;
  }
}
