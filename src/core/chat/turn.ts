/**
 * One chat turn, the same code for every front end (the chat view, `switchyard ask`, VS Code's model picker):
 * retrieval from the workspace index, the prompt assembled within the context window of the candidate that actually
 * answers, `<think>…</think>` written into the answer split off as reasoning, and notices saying what was left out.
 *
 * The router decides the candidate once: it asks for the messages per candidate it tries (RoutedChatRequest.promptFor),
 * so a fallback to a model with a smaller window gets a prompt that fits it, and one to a larger window is not cut
 * for the first model's size. What the caller hears (notices, citations) is about the prompt that was answered.
 */
import type { Citation } from '../../protocol/chat';
import type { RetrievedChunk, Retriever } from '../index/types';
import { DEFAULT_ANSWER_TOKENS } from '../providers/base';
import { estimateTokens } from '../providers/tokenEstimate';
import { imageCount } from '../providers/images';
import type { AnswerOptions, ChatImage, ChatMessage } from '../providers/types';
import type { Candidate, CandidatePrompt, ProviderSource, RoutedChatEvent, Router } from '../routing/router';
import { DEFAULT_CONTEXT_WINDOW, contextWindow } from '../routing/window';
import { assemblePrompt, sentSources, type AssembledPrompt, type ContextBlock, type PromptInput } from './prompt';
import {
  SUMMARY_MAX_TOKENS,
  SUMMARY_SYSTEM_PROMPT,
  historyKey,
  summaryQuestion,
  summaryReserve,
  systemWithSummary,
  validSummary,
  type HistorySummary,
  type SummaryStore,
} from './summary';
import { splitThinkTags } from './thinkTags';

export interface TurnDeps {
  router: Router;
  /** The provider registry: what each candidate's context window is. */
  providers: ProviderSource;
  /** The workspace index for `retrieve`; absent: retrieval says it is not available. */
  index?: Retriever;
}

export interface TurnRequest extends AnswerOptions {
  /** A task or virtual model name. */
  task: string;
  /** The system prompt; absent or empty: none. */
  system?: string;
  /** Earlier messages, oldest first: the newest that fit the window are sent. */
  history?: readonly ChatMessage[];
  /** Attached context in priority order (selection, file), sent with the question while it fits. */
  context?: readonly ContextBlock[];
  /** The user's message; absent when `after` carries the whole request. */
  question?: string;
  /** Images the user's message carries (VS Code's image data parts): the route then needs a model with vision. */
  questionImages?: ChatImage[];
  /** Messages that must follow the question (a tool loop's calls and their results). */
  after?: readonly ChatMessage[];
  /**
   * The question sized to each candidate tried, in place of `question` (a diff fitted to the window): called with the
   * tokens it may take; its notice (what it left out) is said when that candidate answers.
   */
  questionFor?: (tokens: number) => { text: string; notice?: string };
  /** Search the workspace index for this query and add what it finds as context (after `context`). */
  retrieve?: string;
  /**
   * The conversation's summary cache: when the history does not fit, its older messages are summarized by the
   * `summarize` task instead of dropped (summary.ts). Absent: they are dropped.
   */
  summaries?: SummaryStore;
  signal?: AbortSignal;
  only?: string;
}

/** What the answering candidate's prompt carried. */
export interface TurnContext {
  /** The candidate's context window the prompt was fitted to. */
  window: number;
  /** The workspace chunks it kept, as citations. */
  citations: Citation[];
  /** How many chunks the index gave for `retrieve` (before fitting). */
  retrieved: number;
  /** What `questionFor` said it left out. */
  questionNotice?: string;
  /** The summary that stands for the oldest history messages in the prompt. */
  summary?: HistorySummary;
  prompt: AssembledPrompt;
}

export type TurnEvent =
  | RoutedChatEvent
  /** Said once, before the route event of the candidate that answers: what its prompt carried. */
  | { type: 'context'; context: TurnContext }
  /** One sentence for the user (what was left out, why @workspace found nothing, …). */
  | { type: 'notice'; text: string };

/** A retrieval query takes at most this share of the window. */
const RETRIEVAL_SHARE = 3;
const RETRIEVAL_K = 8;

const key = (c: { providerId: string; model: string }) => `${c.providerId}/${c.model}`;

/** The tokens a question may take in a window: what assemblePrompt leaves after the answer, the system prompt and framing. */
function questionBudget(window: number, answerTokens: number, system: string): number {
  const FRAMING = 16;
  return Math.max(0, window - Math.min(answerTokens, Math.floor(window / 2)) - (system ? estimateTokens(system) : 0) - FRAMING);
}

export function chunkLabel(c: RetrievedChunk): string {
  return `${c.path}:${c.startLine}-${c.endLine}${c.symbol ? ` (${c.symbol})` : ''}`;
}

/**
 * The prompts of one turn, one per candidate the router tries, and what the user is told about them: retrieval (once,
 * again only for a larger window), the history summarized when it does not fit, the notices said when one answers.
 */
class TurnPrompts {
  /** Said before the next route event. */
  readonly notices: string[] = [];
  /** Each candidate's prompt, by "providerId/model". */
  readonly prompts = new Map<string, TurnContext>();
  readonly summaryFailures: string[] = [];
  private retrieval: { budget: number; chunks: RetrievedChunk[] } | undefined;

  constructor(
    private readonly deps: TurnDeps,
    private readonly request: TurnRequest,
  ) {}

  private async retrieve(budget: number): Promise<RetrievedChunk[]> {
    const { deps, request } = this;
    if (request.retrieve === undefined) return [];
    if (!deps.index) {
      if (!this.retrieval)
        this.notices.push(
          '@workspace: the workspace index is not available (disabled, untrusted ' +
            'workspace, or not built yet), so no workspace files were searched.',
        );
      this.retrieval ??= { budget: Number.POSITIVE_INFINITY, chunks: [] };
      return [];
    }
    // Once per turn; again only for a fallback whose larger window may hold more.
    if (this.retrieval && this.retrieval.budget >= budget) return this.retrieval.chunks;
    const first = this.retrieval === undefined;
    const chunks = await deps.index.search(request.retrieve || request.question || '', {
      k: RETRIEVAL_K,
      tokenBudget: budget,
      signal: request.signal,
    });
    this.retrieval = { budget, chunks };
    if (first) {
      if (deps.index.status().keywordOnly) this.notices.push('@workspace: keyword search only (no embeddings yet).');
      if (chunks.length === 0) this.notices.push('@workspace: the index found nothing relevant.');
    }
    return chunks;
  }

  readonly promptFor = async (c: Candidate): Promise<CandidatePrompt> => {
    const { deps, request } = this;
    const window = (await contextWindow(c, deps.providers, request.signal)) ?? DEFAULT_CONTEXT_WINDOW;
    const chunks = await this.retrieve(Math.floor(window / RETRIEVAL_SHARE));
    const context: ContextBlock[] = [
      ...(request.context ?? []),
      ...chunks.map((ch) => ({
        label: chunkLabel(ch),
        text: ch.text,
        source: { path: ch.path, startLine: ch.startLine, endLine: ch.endLine },
      })),
    ];
    const answerTokens = request.maxTokens ?? c.maxTokens ?? DEFAULT_ANSWER_TOKENS;
    const fitted = request.questionFor?.(questionBudget(window, answerTokens, request.system ?? ''));
    const input: PromptInput = {
      system: request.system ?? '',
      history: [...(request.history ?? [])],
      context,
      question: fitted ? fitted.text : request.question,
      ...(request.questionImages?.length ? { questionImages: request.questionImages } : {}),
      after: request.after ? [...request.after] : undefined,
      extraTokens: request.tools?.length && request.toolChoice !== 'none' ? estimateTokens(JSON.stringify(request.tools)) : 0,
      contextWindow: window,
      answerTokens,
    };
    let prompt = assemblePrompt(input);
    let summary: HistorySummary | undefined;
    if (prompt.droppedMessages > 0 && request.summaries) {
      const kept = await this.summarized(input, request.summaries);
      if (kept) ({ prompt, summary } = kept);
    }
    const citations = chunks
      .filter((ch) => !prompt.droppedContext.includes(chunkLabel(ch)))
      .map((ch): Citation => ({ path: ch.path, root: ch.root, startLine: ch.startLine, endLine: ch.endLine, symbol: ch.symbol }));
    this.prompts.set(key(c), { window, citations, retrieved: chunks.length, prompt, questionNotice: fitted?.notice, summary });
    return { messages: prompt.messages, sources: sentSources(context, prompt.droppedContext) };
  };

  /**
   * The prompt with the oldest history messages replaced by a summary: the cached one when it covers at least what
   * must go, else one written now (extending the cached one). Undefined when no summary could be written (the
   * messages are then dropped, and the notice says so).
   */
  private async summarized(
    input: PromptInput,
    store: SummaryStore,
  ): Promise<{ prompt: AssembledPrompt; summary: HistorySummary } | undefined> {
    const history = input.history;
    // What goes into the summary: enough that the rest takes at most half of the history's room, so the next turns
    // fit without writing it again at once.
    let mustGo: number;
    try {
      const reserve = (input.extraTokens ?? 0) + summaryReserve(input.contextWindow);
      const bare = assemblePrompt({ ...input, history: [], extraTokens: reserve });
      mustGo = assemblePrompt({ ...input, extraTokens: reserve + Math.floor((bare.budget - bare.tokens) / 2) }).droppedMessages;
    } catch {
      return undefined;
    }
    let summary = validSummary(store.get(), history);
    if (!summary || summary.messages < mustGo) {
      const written = await this.writeSummary(summary, history, mustGo);
      if (!written) return undefined;
      summary = written;
      store.set(summary);
    }
    const prompt = assemblePrompt({
      ...input,
      system: systemWithSummary(input.system, summary.text),
      history: history.slice(summary.messages),
    });
    return { prompt, summary };
  }

  /** A summary of the first `mustGo` messages by the `summarize` task, extending `previous`; undefined if none came. */
  private async writeSummary(
    previous: HistorySummary | undefined,
    history: ChatMessage[],
    mustGo: number,
  ): Promise<HistorySummary | undefined> {
    const { request } = this;
    const messages = history.slice(previous?.messages ?? 0, mustGo);
    let text = '';
    let model = '';
    try {
      const events = runTurn(this.deps, {
        task: 'summarize',
        system: SUMMARY_SYSTEM_PROMPT,
        questionFor: (tokens) => ({ text: summaryQuestion(previous?.text, messages, tokens) }),
        maxTokens: SUMMARY_MAX_TOKENS,
        signal: request.signal,
      });
      for await (const ev of events) {
        if (ev.type === 'text') text += ev.text;
        else if (ev.type === 'route') model = `${ev.route.providerId}/${ev.route.model}`;
      }
    } catch (e) {
      if (request.signal?.aborted) throw e;
      if (!this.summaryFailures.length)
        this.summaryFailures.push(
          `Earlier turns could not be summarized (${e instanceof Error ? e.message : String(e)}), so they were left out.`,
        );
      return undefined;
    }
    if (!text.trim()) return undefined;
    return { messages: mustGo, key: historyKey(history, mustGo), text: text.trim(), model };
  }

  /** What is said when this candidate answers: its prompt's context, then the notices (its own, and those before). */
  answeredBy(route: { providerId: string; model: string }): { context?: TurnContext; notices: string[] } {
    const answered = this.prompts.get(key(route));
    if (answered) {
      if (answered.questionNotice) this.notices.push(answered.questionNotice);
      if (answered.summary)
        this.notices.push(
          `Earlier turns summarized by ${answered.summary.model} (${answered.summary.messages} messages) ` +
            `to fit the model's ${answered.window}-token window.`,
        );
      else this.notices.push(...this.summaryFailures);
      if (answered.prompt.notice) this.notices.push(answered.prompt.notice);
    }
    return { context: answered, notices: this.notices.splice(0) };
  }
}

/**
 * Runs one turn: the router's events with reasoning split from `<think>` text, plus a `context` event and `notice`
 * events. Throws what the router throws (RouteError) when no candidate answers.
 */
export async function* runTurn(deps: TurnDeps, request: TurnRequest): AsyncGenerator<TurnEvent> {
  const prompts = new TurnPrompts(deps, request);
  const events = deps.router.chat({
    task: request.task,
    promptFor: prompts.promptFor,
    signal: request.signal,
    temperature: request.temperature,
    maxTokens: request.maxTokens,
    sampling: request.sampling,
    tools: request.tools,
    toolChoice: request.toolChoice,
    parallelToolCalls: request.parallelToolCalls,
    responseFormat: request.responseFormat,
    only: request.only,
    images: (request.questionImages?.length ?? 0) + imageCount(request.history) + imageCount(request.after) > 0,
  });
  let text = '';
  let reasoning = '';
  for await (const ev of splitThinkTags(events)) {
    if (ev.type === 'route') {
      const { context, notices } = prompts.answeredBy(ev.route);
      if (context) yield { type: 'context', context };
      for (const n of notices) yield { type: 'notice', text: n };
    } else if (ev.type === 'text') text += ev.text;
    else if (ev.type === 'reasoning') reasoning += ev.text;
    else if (ev.type === 'toolCall' && !request.tools?.length) {
      // Offered no tools, the model called one anyway: nothing here runs it, so say so instead of a silent empty answer.
      yield {
        type: 'notice',
        text:
          `The model asked to call the tool "${ev.name}". The Switchyard chat view ` +
          `does not run tools: use VS Code's Agent mode or the gateway for that.`,
      };
    } else if (ev.type === 'done' && reasoning && !text.trim() && !request.signal?.aborted && ev.finish !== 'tool_calls') {
      // Its answer budget ran out while it was still thinking (the reasoning counts against it).
      yield {
        type: 'notice',
        text:
          "Stopped while still thinking: the reasoning used up the answer budget. Raise this model's " +
          'max tokens (Switchyard: Open Model Settings, or maxTokens in switchyard.tasks) or ask again.',
      };
    }
    yield ev;
  }
}

/**
 * A whole message list (VS Code's Language Model API, a tool loop) as a turn: leading system messages are the system
 * prompt, the last user message is the question, what follows it (assistant tool calls, tool results) must be sent
 * with it, and everything before it is history that is cut, oldest first, to the answering model's window.
 */
export function turnOfMessages(
  messages: readonly ChatMessage[],
): Pick<TurnRequest, 'system' | 'history' | 'question' | 'questionImages' | 'after'> {
  let start = 0;
  const system: string[] = [];
  while (start < messages.length && messages[start]!.role === 'system') system.push(messages[start++]!.content);
  let last = -1;
  for (let i = messages.length - 1; i >= start; i--) {
    if (messages[i]!.role === 'user') {
      last = i;
      break;
    }
  }
  if (last < 0) return { system: system.join('\n\n'), history: [], after: messages.slice(start) };
  const images = messages[last]!.imageParts;
  return {
    system: system.join('\n\n'),
    history: messages.slice(start, last),
    question: messages[last]!.content,
    ...(images?.length ? { questionImages: images } : {}),
    after: messages.slice(last + 1),
  };
}
