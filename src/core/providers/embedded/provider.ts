/**
 * Kind `embedded`: GGUF models run by llama.cpp (node-llama-cpp) in a child process, so Switchyard has a local
 * model without Ollama or a llama.cpp server. A provider entry names a GGUF file or a folder of them (`modelPath`);
 * without one it serves the models folder (the extension's global storage, or the CLI's models folder). Model ids
 * are file names without `.gguf`: `embedded/qwen2.5-coder-1.5b-instruct-q4_k_m`.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  BaseProvider,
  DEFAULT_ANSWER_TOKENS,
  completionTemperature,
  type Classified,
  type ProviderDeps,
  type ProviderOptions,
} from '../base';
import type {
  ChatEvent,
  ChatRequest,
  CompletionRequest,
  CompletionResult,
  EmbedResult,
  FinishReason,
  ModelInfo,
  ProviderConfig,
} from '../types';
import type { ChatOutcome } from './protocol';
import { EmbeddedError, EmbeddedRuntime } from './runtime';

export const GGUF_EXTENSION = '.gguf';

/** The model id of a GGUF file: its name without the extension. */
export function modelIdOf(file: string): string {
  const name = basename(file);
  return name.toLowerCase().endsWith(GGUF_EXTENSION) ? name.slice(0, -GGUF_EXTENSION.length) : name;
}

/** GGUF files in a folder (not partial downloads), sorted by name. A missing folder has none. */
export function listGgufFiles(dir: string): { path: string; sizeBytes: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.toLowerCase().endsWith(GGUF_EXTENSION))
    .sort()
    .flatMap((n) => {
      try {
        const s = statSync(join(dir, n));
        return s.isFile() ? [{ path: join(dir, n), sizeBytes: s.size }] : [];
      } catch {
        return [];
      }
    });
}

let sharedRuntime: EmbeddedRuntime | undefined;

export class EmbeddedProvider extends BaseProvider {
  readonly runtime: EmbeddedRuntime;

  constructor(config: ProviderConfig, deps: ProviderDeps, options: ProviderOptions = {}) {
    // A cold model loads inside the first-token window; embedding batches are local and unbounded by a network.
    super(config, deps, { embedBatchSize: 16, ...options });
    this.runtime = deps.embedded ?? (sharedRuntime ??= new EmbeddedRuntime({ logger: deps.logger }));
  }

  /** The file or folder this provider serves. */
  get location(): string | undefined {
    return this.config.modelPath ?? this.runtime.modelsDir;
  }

  /** The GGUF file for a model id; throws `modelMissing` (so the router tries the next candidate) when absent. */
  resolveModel(model: string): string {
    const where = this.location;
    if (!where) {
      throw this.newError(
        'config',
        `no modelPath is set and there is no models folder: add "modelPath" to this switchyard.providers entry`,
        { model },
      );
    }
    let stat: ReturnType<typeof statSync> | undefined;
    try {
      stat = statSync(where);
    } catch {
      stat = undefined;
    }
    if (stat?.isFile()) {
      if (model === modelIdOf(where) || model === basename(where)) return where;
    } else if (stat?.isDirectory()) {
      for (const name of [model, `${model}${GGUF_EXTENSION}`]) {
        if (basename(name) !== name) continue; // no paths out of the folder
        try {
          if (statSync(join(where, name)).isFile()) return join(where, name);
        } catch {
          // try the next spelling
        }
      }
    }
    throw this.newError(
      'modelMissing',
      `model "${model}" is not at ${where}: ` +
        `download a GGUF file with "Switchyard: Download GGUF Model" (or \`switchyard pull <url>\`), or fix modelPath`,
      { model },
    );
  }

  protected async *streamChat(request: ChatRequest, signal: AbortSignal): AsyncIterable<ChatEvent> {
    if (request.messages.some((m) => m.imageParts?.length)) {
      throw this.newError(
        'unsupported',
        'the embedded provider takes no images (no vision support in this build): route image requests to a model with vision',
        { model: request.model },
      );
    }
    const modelPath = this.resolveModel(request.model);
    const queue: ChatEvent[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let failure: unknown;
    let outcome: ChatOutcome | undefined;
    const push = (event: ChatEvent): void => {
      queue.push(event);
      wake?.();
    };
    const done = this.runtime
      .chat(
        {
          modelPath,
          messages: request.messages,
          maxTokens: request.maxTokens ?? DEFAULT_ANSWER_TOKENS,
          temperature: request.temperature,
          contextSize: request.contextSize,
          sampling: request.sampling,
          ...(request.responseFormat ? { responseFormat: request.responseFormat } : {}),
          ...(request.tools?.length
            ? { tools: request.tools, toolChoice: request.toolChoice, parallelToolCalls: request.parallelToolCalls }
            : {}),
        },
        (text, reasoning) => push({ type: reasoning ? 'reasoning' : 'text', text }),
        signal,
        push,
      )
      .then(
        (o) => {
          outcome = o;
        },
        (e: unknown) => {
          failure = e;
        },
      )
      .finally(() => {
        finished = true;
        wake?.();
      });
    while (true) {
      if (queue.length > 0) {
        yield queue.shift()!;
        continue;
      }
      if (finished) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    await done;
    if (failure !== undefined) throw failure;
    if (outcome) {
      if (!outcome.aborted) yield { type: 'finish', reason: outcome.finishReason };
      yield { type: 'usage', inputTokens: outcome.inputTokens, outputTokens: outcome.outputTokens };
    }
  }

  protected async embedBatch(model: string, input: string[], signal: AbortSignal): Promise<EmbedResult> {
    const modelPath = this.resolveModel(model);
    const [vectors, counts] = await Promise.all([
      this.runtime.embed(modelPath, input, signal),
      this.runtime.tokenize(modelPath, input, signal),
    ]);
    return { vectors, inputTokens: counts.reduce((a, b) => a + b, 0) };
  }

  /**
   * Fill-in-the-middle in the child process (node-llama-cpp's LlamaCompletion): `suffix` mode with the model's own FIM
   * tokens (`unsupported` for a model without them), `raw` mode with the caller's FIM string. Aborting stops the
   * generation in the child.
   */
  async complete(request: CompletionRequest): Promise<CompletionResult> {
    return this.runCompletion(request, async (signal) => {
      const modelPath = this.resolveModel(request.model);
      const outcome = await this.runtime.infill(
        modelPath,
        {
          mode: request.mode,
          prompt: request.prompt,
          ...(request.suffix !== undefined ? { suffix: request.suffix } : {}),
          maxTokens: request.maxTokens ?? 128,
          temperature: completionTemperature(request.temperature),
          ...(request.stop?.length ? { stop: [...request.stop] } : {}),
        },
        signal,
      );
      const finishReason: FinishReason = outcome.stopReason === 'maxTokens' ? 'length' : 'stop';
      return { text: outcome.text, finishReason, inputTokens: outcome.inputTokens, outputTokens: outcome.outputTokens };
    });
  }

  /** Exact token counts by the model's own tokenizer, for prompt and chunk budgets. */
  countTokens(model: string, texts: string[], signal?: AbortSignal): Promise<number[]> {
    return this.run(
      (s) => this.runtime.tokenize(this.resolveModel(model), texts, s),
      { model, action: 'tokenize' },
      this.requestTimeoutMs,
      signal,
    );
  }

  protected async discover(): Promise<ModelInfo[]> {
    const where = this.location;
    if (!where) return [];
    let files: { path: string; sizeBytes: number }[];
    try {
      const s = statSync(where);
      files = s.isFile() ? [{ path: where, sizeBytes: s.size }] : listGgufFiles(where);
    } catch {
      files = [];
    }
    return files.map((f) => ({
      id: modelIdOf(f.path),
      providerId: this.config.id,
      sizeBytes: f.sizeBytes,
      family: 'gguf',
      // The file does not say chat or embedding without loading it: go by the name, as "auto" does for Ollama.
      // Any GGUF still embeds when a task names it explicitly.
      // Chat models call tools through node-llama-cpp's function calling (grammar-constrained); no image input here.
      capabilities: /embed/i.test(modelIdOf(f.path)) ? { chat: false, embeddings: true } : { chat: true, tools: true, vision: false },
    }));
  }

  protected async probe(): Promise<{ modelCount?: number }> {
    const models = await this.discover();
    if (this.config.modelPath && models.length === 0) {
      throw this.newError('modelMissing', `no GGUF model at ${this.config.modelPath}`);
    }
    return { modelCount: models.length };
  }

  protected classify(error: unknown): Classified | undefined {
    if (error instanceof EmbeddedError) return { kind: error.kind, detail: error.message };
    return undefined;
  }
}
