/**
 * The child process behind the embedded provider: node-llama-cpp on GGUF files, driven over the IPC channel
 * (protocol.ts). It runs out of the extension host's process so a native crash or an out-of-memory here ends only
 * this process; the parent reports a typed error and starts a new one on the next request.
 *
 * Built as its own entry (dist/embeddedWorker.js). The models it has loaded are workerModels.ts.
 */
import type { ChatWrapper, LlamaContextSequence } from 'node-llama-cpp';
import type { ErrorKind } from '../../errors';
import { finishReasonOf } from '../toolCalls';
import type { ToolCallArgsEvent } from '../types';
import { callForced, FunctionCallStream, functionsFor, toHistory, usesFunctions, type WorkerToolEvent } from './functions';
import type { ChatJob, ChatOutcome, FromWorker, InfillOutcome, ModelDetails, ToWorker } from './protocol';
import { pieceBatcher, type ResponseChunk } from './pieces';
import {
  DEFAULT_CONTEXT,
  WorkerError,
  countTokens,
  ensureContext,
  getLib,
  getLlamaOnce,
  grammarFor,
  modelFor,
  serial,
  settings,
  type Loaded,
  type NodeLlamaCpp,
} from './workerModels';

const aborts = new Map<number, AbortController>();

function send(message: FromWorker): void {
  process.send?.(message);
}

async function chat(id: number, req: Extract<ToWorker, { type: 'chat' }>, signal: AbortSignal): Promise<ChatOutcome> {
  const loaded = await modelFor(req.modelPath);
  return serial(loaded, async () => {
    const sequence = await ensureContext(loaded, req.contextSize);
    if (usesFunctions(req.messages, req.tools)) return chatWithFunctions(id, req, loaded, sequence, signal);
    const contextSize = loaded.context!.contextSize;
    const prompt = req.messages.reduce((n, msg) => n + countTokens(loaded.model, msg.content) + 4, 3);
    if (prompt + 1 > contextSize) {
      throw new WorkerError('contextOverflow', `the prompt needs ${prompt} tokens; the model's context holds ${contextSize}`);
    }
    if (signal.aborted) return { inputTokens: 0, outputTokens: 0, aborted: true, finishReason: 'stop' };
    const grammar = req.responseFormat ? await grammarFor(req.responseFormat) : undefined;
    const m = await getLib();
    await sequence.clearHistory();
    const session = new m.LlamaChatSession({ contextSequence: sequence, chatWrapper: loaded.chatWrapper, autoDisposeSequence: false });
    const pieces = pieceBatcher(
      (text, reasoning) => send({ type: 'text', id, text, ...(reasoning ? { reasoning: true as const } : {}) }),
      () => signal.aborted,
    );
    try {
      const turns = [...req.messages];
      const last = turns.at(-1);
      const promptText = last?.role === 'user' ? last.content : '';
      if (last?.role === 'user') turns.pop();
      session.setChatHistory(toHistory(turns));
      const before = sequence.tokenMeter.getState();
      const result = await session.promptWithMeta(promptText, {
        ...generationOptions(req, Math.max(1, Math.min(req.maxTokens, contextSize - prompt)), signal),
        ...(grammar ? { grammar } : {}),
        // Main text and a thinking model's thought segments (its chat wrapper tells them apart), in order.
        onResponseChunk: (chunk) => pieces.add(chunk),
      });
      pieces.flush();
      const used = sequence.tokenMeter.diff(before);
      return {
        inputTokens: used.usedInputTokens,
        outputTokens: used.usedOutputTokens,
        aborted: signal.aborted,
        finishReason: result.stopReason === 'maxTokens' ? 'length' : 'stop',
      };
    } finally {
      session.dispose({ disposeSequence: false });
    }
  });
}

/** Sampling and stopping options shared by both chat paths. */
function generationOptions(req: ChatJob, maxTokens: number, signal: AbortSignal) {
  return {
    maxTokens,
    temperature: req.temperature,
    ...(req.sampling?.topP !== undefined ? { topP: req.sampling.topP } : {}),
    ...(req.sampling?.seed !== undefined ? { seed: req.sampling.seed } : {}),
    ...(req.sampling?.stop?.length ? { customStopTriggers: req.sampling.stop } : {}),
    ...(req.sampling?.presencePenalty !== undefined || req.sampling?.frequencyPenalty !== undefined
      ? { repeatPenalty: { presencePenalty: req.sampling.presencePenalty, frequencyPenalty: req.sampling.frequencyPenalty } }
      : {}),
    signal,
    stopOnAbortSignal: true,
  };
}

/**
 * A chat wrapper that makes the answer start with a function call (tool choice `required` or a named function):
 * after the prompt, node-llama-cpp injects the call prefix and samples a function name from the offered ones, then
 * its parameters, under grammars. Everything else is the model's own wrapper.
 */
function forcedCall(m: NodeLlamaCpp, wrapper: ChatWrapper): ChatWrapper {
  const forced = Object.create(wrapper) as ChatWrapper;
  forced.generateContextState = (options) => {
    const state = wrapper.generateContextState(options);
    return {
      contextText: state.contextText,
      stopGenerationTriggers: state.stopGenerationTriggers,
      noPrefixTrigger: { type: 'functionCall', inject: m.LlamaText(wrapper.settings.functions.call.prefix) },
    };
  };
  return forced;
}

/**
 * Sends tool events in order after any text held before them; a call's argument pieces of one turn of the event loop
 * go as one message (node-llama-cpp hands them over token by token). `flush` sends what is held.
 */
function toolSender(id: number, flushText: () => void, signal: AbortSignal): ((event: WorkerToolEvent) => void) & { flush(): void } {
  let held: ToolCallArgsEvent | undefined;
  let timer: ReturnType<typeof setImmediate> | undefined;
  const flush = (): void => {
    if (timer) clearImmediate(timer);
    timer = undefined;
    if (held && !signal.aborted) send({ type: 'tool', id, event: held });
    held = undefined;
  };
  const emit = (event: WorkerToolEvent): void => {
    flushText();
    if (event.type === 'toolCallArgs') {
      if (held?.index === event.index) held.text += event.text;
      else {
        flush();
        held = { ...event };
      }
      timer ??= setImmediate(flush);
      return;
    }
    flush();
    if (!signal.aborted) send({ type: 'tool', id, event });
  };
  return Object.assign(emit, { flush });
}

/**
 * Function calling (requests with tools, or with calls and results in the history) with node-llama-cpp's LlamaChat,
 * which stops at the calls instead of running them: each call streams as tool events, the outcome finishes with
 * `tool_calls`, and the caller sends the results back as tool messages (function results in the history here).
 */
async function chatWithFunctions(
  id: number,
  req: ChatJob,
  loaded: Loaded,
  sequence: LlamaContextSequence,
  signal: AbortSignal,
): Promise<ChatOutcome> {
  const m = await getLib();
  const contextSize = loaded.context!.contextSize;
  const wrapper = loaded.chatWrapper!;
  const functions = functionsFor(req.tools, req.toolChoice);
  const history = toHistory(req.messages);
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  // Exact: the prompt as the model's wrapper renders it, the functions' documentation included.
  const state = wrapper.generateContextState({
    chatHistory: history,
    ...(functions ? { availableFunctions: functions, documentFunctionParams: true } : {}),
  });
  const prompt = state.contextText.tokenize(loaded.model.tokenizer).length;
  if (prompt + 1 > contextSize) {
    const tools = functions
      ? ` (the description of ${Object.keys(functions).length} tool${Object.keys(functions).length === 1 ? '' : 's'} included)`
      : '';
    throw new WorkerError('contextOverflow', `the prompt needs ${prompt} tokens${tools}; the model's context holds ${contextSize}`);
  }
  if (signal.aborted) return { inputTokens: 0, outputTokens: 0, aborted: true, finishReason: 'stop' };
  // A response format applies only when no function may be called (the calls have their own grammars).
  const grammar = !functions && req.responseFormat ? await grammarFor(req.responseFormat) : undefined;
  await sequence.clearHistory();
  const llamaChat = new m.LlamaChat({
    contextSequence: sequence,
    chatWrapper: functions && callForced(req.toolChoice) ? forcedCall(m, wrapper) : wrapper,
    autoDisposeSequence: false,
  });
  const pieces = pieceBatcher(
    (text, reasoning) => send({ type: 'text', id, text, ...(reasoning ? { reasoning: true as const } : {}) }),
    () => signal.aborted,
  );
  const sendTool = toolSender(id, () => pieces.flush(), signal);
  const calls = new FunctionCallStream(sendTool);
  try {
    const before = sequence.tokenMeter.getState();
    const options = {
      ...generationOptions(req, Math.max(1, Math.min(req.maxTokens, contextSize - prompt)), signal),
      onResponseChunk: (chunk: ResponseChunk) => pieces.add(chunk),
    };
    let finished = 0;
    const result = functions
      ? await llamaChat.generateResponse(history, {
          ...options,
          functions,
          documentFunctionParams: true,
          ...(req.parallelToolCalls === false ? { maxParallelFunctionCalls: 1 } : {}),
          onFunctionCallParamsChunk: (chunk) => calls.chunk(chunk.callIndex, chunk.functionName, chunk.paramsChunk),
          onFunctionCall: (call) => calls.end(finished++, call.functionName, call.params),
        })
      : await llamaChat.generateResponse(history, { ...options, ...(grammar ? { grammar } : {}) });
    pieces.flush();
    calls.close();
    sendTool.flush();
    const used = sequence.tokenMeter.diff(before);
    const stop = result.metadata.stopReason;
    return {
      inputTokens: used.usedInputTokens,
      outputTokens: used.usedOutputTokens,
      aborted: signal.aborted,
      finishReason: finishReasonOf(stop === 'maxTokens' ? 'length' : stop === 'functionCalls' ? 'tool_calls' : 'stop', calls.madeCalls),
    };
  } finally {
    llamaChat.dispose({ disposeSequence: false });
  }
}

/**
 * Fill-in-the-middle with node-llama-cpp's LlamaCompletion. `suffix` mode: `generateInfillCompletion` lays prefix and
 * suffix around the model's own FIM tokens, which it needs (`infillSupported`); a model without them fails
 * `unsupported`. `raw` mode: the caller's FIM string, its control tokens read as special tokens, then plain generation.
 */
async function infill(req: Extract<ToWorker, { type: 'infill' }>, signal: AbortSignal): Promise<InfillOutcome> {
  const loaded = await modelFor(req.modelPath);
  return serial(loaded, async () => {
    const sequence = await ensureContext(loaded, undefined);
    const contextSize = loaded.context!.contextSize;
    const m = await getLib();
    const completion = new m.LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false });
    try {
      if (req.mode === 'suffix' && !completion.infillSupported) {
        throw new WorkerError(
          'unsupported',
          'the model has no fill-in-the-middle tokens (prefix, suffix and middle), so it cannot fill in the middle',
        );
      }
      const input = req.mode === 'raw' ? loaded.model.tokenize(req.prompt, true) : undefined;
      const promptTokens = input ? input.length : countTokens(loaded.model, req.prompt) + countTokens(loaded.model, req.suffix ?? '') + 3;
      if (input && promptTokens + 1 > contextSize) {
        throw new WorkerError('contextOverflow', `the prompt needs ${promptTokens} tokens; the model's context holds ${contextSize}`);
      }
      if (signal.aborted) return { text: '', inputTokens: 0, outputTokens: 0, stopReason: 'abort' };
      await sequence.clearHistory();
      const before = sequence.tokenMeter.getState();
      const stops = (req.stop ?? []).filter((s) => s !== '');
      const options = {
        // An infill prompt is cut to fit by node-llama-cpp (prefix kept from its end); the answer gets what is left.
        maxTokens: Math.max(1, Math.min(req.maxTokens, contextSize - Math.min(promptTokens, contextSize - 1))),
        ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
        ...(stops.length ? { customStopTriggers: stops } : {}),
        signal,
        stopOnAbortSignal: true,
      };
      const result = input
        ? await completion.generateCompletionWithMeta(input, options)
        : await completion.generateInfillCompletionWithMeta(req.prompt, req.suffix ?? '', options);
      const used = sequence.tokenMeter.diff(before);
      return {
        text: result.response,
        inputTokens: used.usedInputTokens,
        outputTokens: used.usedOutputTokens,
        stopReason: result.metadata.stopReason,
      };
    } finally {
      completion.dispose({ disposeSequence: false });
    }
  });
}

async function embed(req: Extract<ToWorker, { type: 'embed' }>): Promise<number[][]> {
  const loaded = await modelFor(req.modelPath);
  return serial(loaded, async () => {
    loaded.embedding ??= loaded.model.createEmbeddingContext({ contextSize: Math.min(loaded.model.trainContextSize, DEFAULT_CONTEXT) });
    const ctx = await loaded.embedding;
    const out: number[][] = [];
    for (const text of req.texts) {
      if (text === '') {
        out.push(new Array<number>(loaded.model.embeddingVectorSize).fill(0));
        continue;
      }
      // node-llama-cpp refuses an input that fills the context with a plain Error; say it as a context overflow,
      // with the numbers, so the index cuts the input (by this model's own token counts) instead of pausing.
      const needed = ctx.calculateInputLength(text);
      const holds = Math.min(loaded.model.trainContextSize, DEFAULT_CONTEXT);
      if (needed >= holds)
        throw new WorkerError('contextOverflow', `the input needs ${needed} tokens; the embedding context holds ${holds - 1}`);
      out.push([...(await ctx.getEmbeddingFor(text)).vector]);
    }
    return out;
  });
}

async function handle(message: ToWorker): Promise<void> {
  if (message.type === 'abort') {
    aborts.get(message.id)?.abort();
    return;
  }
  const controller = new AbortController();
  aborts.set(message.id, controller);
  try {
    let value: unknown;
    switch (message.type) {
      case 'chat':
        value = await chat(message.id, message, controller.signal);
        break;
      case 'embed':
        value = await embed(message);
        break;
      case 'infill':
        value = await infill(message, controller.signal);
        break;
      case 'tokenize': {
        const loaded = await modelFor(message.modelPath);
        value = message.texts.map((t) => countTokens(loaded.model, t));
        break;
      }
      case 'info': {
        const loaded = await modelFor(message.modelPath);
        const l = await getLlamaOnce();
        value = {
          contextSize: loaded.context?.contextSize ?? Math.min(loaded.model.trainContextSize, DEFAULT_CONTEXT),
          trainContextSize: loaded.model.trainContextSize,
          embeddingSize: loaded.model.embeddingVectorSize,
          gpu: l.gpu,
        } satisfies ModelDetails;
        break;
      }
    }
    send({ type: 'result', id: message.id, value });
  } catch (e) {
    const kind: ErrorKind = e instanceof WorkerError ? e.kind : 'server';
    send({ type: 'error', id: message.id, kind, message: e instanceof Error ? e.message : String(e) });
  } finally {
    aborts.delete(message.id);
  }
}

process.on('message', (message: ToWorker) => void handle(message));
// The parent went away (closed the channel or died): nothing is left to answer.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', gpu: settings.gpu === false ? false : 'auto' });
