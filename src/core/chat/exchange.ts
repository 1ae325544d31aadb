/**
 * One exchange of a conversation (the chat view's send, Explain): the user's turn and the assistant's turn added to
 * the conversation, the answer run by runTurn (turn.ts) and streamed into the assistant turn: who answered, notices,
 * citations, reasoning, tokens and time, a failure's words and actions. The view only shows what the hooks hand it.
 */
import type { AnswerInfo, Conversation, EarlierSummary, Turn, TurnError } from '../../protocol/chat';
import { isProviderError } from '../errors';
import type { RouteEvent } from '../routing/router';
import type { ContextBlock } from './prompt';
import { historyMessages, newId } from './store';
import { runTurn, type TurnDeps, type TurnEvent } from './turn';

export const CHAT_SYSTEM_PROMPT =
  'You are Switchyard, a coding assistant inside VS Code. Answer concisely in Markdown. Put code in fenced ' +
  'blocks with a language. When context from the workspace is given, rely on it and name the files you use.';
export const EXPLAIN_SYSTEM_PROMPT =
  'You are Switchyard, a coding assistant inside VS Code. Explain the given ' +
  'code: what it does, how, and anything surprising. Be concise; use Markdown.';

export const SUMMARIZE_CODE_SYSTEM_PROMPT =
  'You are Switchyard, a coding assistant inside VS Code. Summarize the given code: its purpose, its main parts and ' +
  'how they fit together, and anything a reader should watch out for. A short paragraph and a few bullets in Markdown.';

export type ExchangeTask = 'chat' | 'explain' | 'summarize';

export function systemPromptFor(task: ExchangeTask): string {
  return task === 'explain' ? EXPLAIN_SYSTEM_PROMPT : task === 'summarize' ? SUMMARIZE_CODE_SYSTEM_PROMPT : CHAT_SYSTEM_PROMPT;
}

function exchangeTaskOf(task: string | undefined): ExchangeTask {
  return task === 'explain' || task === 'summarize' ? task : 'chat';
}

const WORKSPACE = /(^|\s)@workspace\b/g;

/** A message the user typed: `@workspace` in it asks for retrieval, with the message without it as the query. */
export function chatRequest(text: string, context: ContextBlock[] = []): ExchangeRequest {
  const retrieve = text.match(WORKSPACE) ? text.replace(WORKSPACE, ' ').trim() : undefined;
  return { task: 'chat', text, context, contextLabels: context.map((b) => b.label), retrieve };
}

/**
 * Retry of a failed answer: its exchange is taken out of the conversation and the request to ask again returned
 * (the same words and task; attachments are not kept with a turn, so they are not sent again).
 */
export function retryRequest(conversation: Conversation, assistantTurnId: string): ExchangeRequest {
  const i = conversation.turns.findIndex((t) => t.id === assistantTurnId);
  const user = i > 0 ? conversation.turns[i - 1] : undefined;
  if (!user || user.role !== 'user') throw new Error('Nothing to retry.');
  conversation.turns.splice(i - 1, 2);
  return { ...chatRequest(user.text), task: exchangeTaskOf(user.task) };
}

export interface ExchangeRequest {
  task: ExchangeTask;
  text: string;
  /** Shown to the user instead of text (Explain: "Explain selection in a.ts:3-9"). */
  display?: string;
  context: ContextBlock[];
  contextLabels: string[];
  /** Query for index retrieval, when the message asks for it (or Explain). */
  retrieve?: string;
}

export interface ExchangeHooks {
  /** The two turns were added to the conversation (and saved). */
  begun(user: Turn, assistant: Turn): void;
  /** The assistant turn changed (route known, notices, finished or failed). */
  changed(turn: Turn): void;
  /** A piece of the answer text or of its reasoning. */
  piece(turnId: string, kind: 'text' | 'reasoning', text: string): void;
  /** Persist the conversation (throttled while streaming). */
  save(): Promise<void>;
  /** The words of a fallback: why earlier candidates were passed over, what the user can do about it. */
  fallback?(route: RouteEvent): Pick<AnswerInfo, 'fallbackReason' | 'fallbackActions'>;
  /** A failure in words and actions. */
  error(e: unknown): TurnError | Promise<TurnError>;
}

const SAVE_EVERY_MS = 1000;

/** `save`, called at most once every SAVE_EVERY_MS (counted from now) while an answer streams. */
function throttled(save: () => Promise<void>): () => void {
  let lastSave = Date.now();
  return () => {
    if (Date.now() - lastSave > SAVE_EVERY_MS) {
      lastSave = Date.now();
      void save();
    }
  };
}

/** One event of the answer recorded into the exchange's two turns, and handed to the view through the hooks. */
function record(ev: TurnEvent, userTurn: Turn, turn: Turn, wantsCitations: boolean, hooks: ExchangeHooks, saveSoon: () => void): void {
  if (ev.type === 'context') {
    if (wantsCitations) {
      turn.citations = ev.context.citations;
      const n = ev.context.citations.length;
      if (n) userTurn.contextLabels!.push(`@workspace: ${n} chunk${n === 1 ? '' : 's'}`);
    }
  } else if (ev.type === 'notice') {
    turn.notices!.push(ev.text);
  } else if (ev.type === 'route') {
    const r = ev.route;
    turn.answer = { providerId: r.providerId, model: r.model, local: r.local, ...(r.fallback ? hooks.fallback?.(r) : {}) };
    hooks.changed(turn);
  } else if (ev.type === 'text' || ev.type === 'reasoning') {
    if (ev.type === 'text') turn.text += ev.text;
    else turn.reasoning = (turn.reasoning ?? '') + ev.text;
    hooks.piece(turn.id, ev.type, ev.text);
    saveSoon();
  } else if (ev.type === 'done') {
    const u = ev.usage;
    turn.answer = {
      ...turn.answer!,
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      estimated: u.tokensEstimated,
      ms: Math.round(u.durationMs),
      ttftMs: u.ttftMs === undefined ? undefined : Math.round(u.ttftMs),
    };
  }
}

/** Runs one exchange into `conversation`; resolves with the assistant turn once it is done, stopped or failed. */
export async function runExchange(
  deps: TurnDeps,
  conversation: Conversation,
  request: ExchangeRequest,
  hooks: ExchangeHooks,
  signal: AbortSignal,
): Promise<Turn> {
  const history = historyMessages(conversation.turns);
  const at = new Date().toISOString();
  const userTurn: Turn = {
    id: newId('t'),
    role: 'user',
    text: request.display ?? request.text,
    at,
    task: request.task,
    contextLabels: [...request.contextLabels],
  };
  const turn: Turn = { id: newId('t'), role: 'assistant', text: '', at, task: request.task, status: 'streaming', notices: [] };
  conversation.turns.push(userTurn, turn);
  await hooks.save();
  hooks.begun(userTurn, turn);

  const saveSoon = throttled(() => hooks.save());
  const started = performance.now();
  try {
    // Older turns that no longer fit are summarized, once per conversation (extended as it grows), and kept with it.
    const summaries = { get: () => conversation.earlier, set: (s: EarlierSummary) => void (conversation.earlier = s) };
    const events = runTurn(deps, {
      task: request.task,
      system: systemPromptFor(request.task),
      history,
      context: request.context,
      question: request.text,
      retrieve: request.retrieve,
      summaries,
      signal,
    });
    const wantsCitations = request.retrieve !== undefined && !!deps.index;
    for await (const ev of events) record(ev, userTurn, turn, wantsCitations, hooks, saveSoon);
    turn.status = signal.aborted ? 'stopped' : 'done';
  } catch (e) {
    if (signal.aborted || (isProviderError(e) && e.kind === 'canceled')) turn.status = 'stopped';
    else {
      turn.status = 'error';
      turn.error = await hooks.error(e);
    }
  } finally {
    if (turn.answer && turn.answer.ms === undefined) turn.answer.ms = Math.round(performance.now() - started);
    await hooks.save();
  }
  return turn;
}
