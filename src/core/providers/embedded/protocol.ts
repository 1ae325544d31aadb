/**
 * Messages between the extension host (EmbeddedRuntime) and the child process that runs llama.cpp (worker.ts).
 * Plain JSON over the Node IPC channel: one request id per operation, streamed text as `text` messages, exactly
 * one `result` or `error` per request. The child never outlives its parent's channel.
 */
import type { ErrorKind } from '../../errors';
import type { ChatMessage, FinishReason, ResponseFormat, SamplingOptions, ToolChoice, ToolSpec } from '../types';
import type { WorkerToolEvent } from './functions';

export interface WorkerSettings {
  /** "auto": CUDA/Vulkan/Metal when a binary for it is installed and a device answers, else CPU. */
  gpu: 'auto' | false;
  /** Threads for generation; llama.cpp's default (max(cores, 4)) crawls on small machines. */
  maxThreads: number;
  /** Models kept in memory at once; loading another unloads the least recently used. */
  maxLoadedModels: number;
}

export type ToWorker =
  | ({ type: 'chat'; id: number } & ChatJob)
  | { type: 'embed'; id: number; modelPath: string; texts: string[] }
  | { type: 'tokenize'; id: number; modelPath: string; texts: string[] }
  | { type: 'info'; id: number; modelPath: string }
  | ({ type: 'infill'; id: number; modelPath: string } & InfillJob)
  | { type: 'abort'; id: number };

/**
 * One chat request. With `tools` (or tool calls and results in `messages`) the worker runs node-llama-cpp's function
 * calling and stops at the calls: they come as `tool` messages and the outcome's finish reason is `tool_calls`.
 */
export interface ChatJob {
  modelPath: string;
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  contextSize?: number;
  sampling?: SamplingOptions;
  /** Not with functions offered (node-llama-cpp samples calls under its own grammars): then only when none are. */
  responseFormat?: ResponseFormat;
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
}

/**
 * One fill-in-the-middle request: `suffix` mode uses the model's own FIM tokens (node-llama-cpp's
 * `generateInfillCompletion`, which needs them: `unsupported` otherwise); `raw` mode evaluates the caller's FIM
 * string as is, its control tokens parsed as special tokens.
 */
export interface InfillJob {
  mode: 'raw' | 'suffix';
  prompt: string;
  suffix?: string;
  maxTokens: number;
  temperature?: number;
  stop?: string[];
}

export interface InfillOutcome {
  text: string;
  inputTokens: number;
  outputTokens: number;
  /** node-llama-cpp's stop reason: eogToken, stopGenerationTrigger, customStopTrigger, maxTokens, abort. */
  stopReason: string;
}

export interface ChatOutcome {
  inputTokens: number;
  outputTokens: number;
  aborted: boolean;
  /** `tool_calls` when the answer made calls, `length` when the answer budget ended it. */
  finishReason: FinishReason;
}

export interface ModelDetails {
  /** The window the loaded context serves. */
  contextSize: number;
  trainContextSize: number;
  embeddingSize: number;
  gpu: string | false;
}

export type FromWorker =
  | { type: 'ready'; gpu: string | false }
  /** A piece of the answer; `reasoning` marks a thinking model's thought segments (not answer text). */
  | { type: 'text'; id: number; text: string; reasoning?: true }
  /** A tool call starts, gets argument text, or ends (in that order per call; after any text sent before it). */
  | { type: 'tool'; id: number; event: WorkerToolEvent }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; kind: ErrorKind; message: string };
