/**
 * The chat view's protocol (host ⇄ webview-ui/chat.main.ts), on the envelope of envelope.ts. State lives in the host:
 * on `ready` the host sends `chat/state`, and a re-created view rehydrates from it. A `chat/send` request streams its
 * answer as `chat/chunk` notifications and is finished by its reply; `{ kind: 'cancel', id }` of that request stops it.
 */
import type { Cancel, Notification, Ready, Reply, Request } from './envelope';
import type { ErrorActionId } from './vocabulary';

export type { ErrorActionId };

type TurnStatus = 'streaming' | 'done' | 'stopped' | 'error';

/** A place in the workspace the answer drew on: opens the file at these lines. */
export interface Citation {
  /** Path relative to root, forward slashes. */
  path: string;
  /** Absolute folder path (host side only resolves it; the webview just echoes it back). */
  root: string;
  startLine: number;
  endLine: number;
  symbol?: string;
}

export interface AnswerInfo {
  providerId: string;
  model: string;
  local: boolean;
  /** Set when an earlier candidate was skipped or failed: "box/qwen… failed (unreachable): …". */
  fallbackReason?: string;
  /** Actions for what the fallback skipped (Pull for a model an Ollama server lacks). */
  fallbackActions?: ErrorAction[];
  inputTokens?: number;
  outputTokens?: number;
  /** True when the token counts are estimates. */
  estimated?: boolean;
  ms?: number;
  ttftMs?: number;
}

export interface ErrorAction {
  id: ErrorActionId;
  label: string;
  /** Argument for the action (provider id, model ref). */
  arg?: string;
}

export interface TurnError {
  kind: string;
  /** The kind in words ("model not found"), shown as the error's title. */
  title?: string;
  message: string;
  actions: ErrorAction[];
}

export interface Turn {
  id: string;
  role: 'user' | 'assistant';
  /** Markdown (assistant) or plain text (user). */
  text: string;
  /** Assistant turns of a thinking model: its reasoning, shown as plain text and never sent back to a model. */
  reasoning?: string;
  at: string;
  task?: string;
  status?: TurnStatus;
  /** User turns: what was attached ("selection in a.ts:3-9", "@workspace: 4 chunks"). */
  contextLabels?: string[];
  /** Assistant turns. */
  answer?: AnswerInfo;
  citations?: Citation[];
  /** What was left out to fit the context window, or why @workspace had nothing. */
  notices?: string[];
  error?: TurnError;
}

export interface Conversation {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  turns: Turn[];
  /** Host only: the summary that stands for the oldest messages once the history outgrew a model's window. */
  earlier?: EarlierSummary;
}

/** A summary of a conversation's oldest history messages (core/chat/summary.ts), written by the summarize task. */
export interface EarlierSummary {
  messages: number;
  key: string;
  text: string;
  model: string;
}

export interface ConversationSummary {
  id: string;
  title: string;
  updatedAt: string;
  turns: number;
}

/**
 * The editor the composer's Selection / File attachments read now, so the composer shows exactly what a send would
 * attach (file and line range). Empty when no text editor is open.
 */
export interface EditorContext {
  /** Workspace-relative path of the editor's file. */
  file?: string;
  /** 1-based first and last line of a non-empty selection. */
  selection?: { startLine: number; endLine: number };
}

export interface ChatState {
  conversation: Conversation;
  history: ConversationSummary[];
  /** The id of the request streaming now, if any. */
  streaming?: number;
  /** The chat route as the router plans it now ("box/qwen2.5-coder:7b (local)"). */
  route?: string;
  /** Whether `@workspace` can search an index now, and if not why. */
  workspaceIndex: { available: boolean; note?: string };
  /** What Selection / File would attach now (also sent as `chat/editor` when it changes). */
  editor?: EditorContext;
  /** No model can answer chat now (nothing configured or found): the empty view shows how to get one. */
  noModel?: boolean;
}

export type ContextKind = 'selection' | 'file';
export type CodeAction = 'copy' | 'insert' | 'replace' | 'newFile';

/** Webview → host requests: name → [payload, reply payload]. */
export interface ChatRequests {
  'chat/send': [{ text: string; context: ContextKind[] }, { turnId: string }];
  'chat/new': [Record<string, never>, null];
  'chat/open': [{ conversationId: string }, null];
  'chat/delete': [{ conversationId: string }, null];
  'chat/action': [{ turnId: string; action: ErrorAction }, null];
  'chat/code': [{ action: CodeAction; code: string; language?: string }, null];
  'chat/openCitation': [Citation, null];
}

/** Host → webview notifications. */
export interface ChatNotifications {
  'chat/state': ChatState;
  /** A token piece of the streaming assistant turn. */
  'chat/chunk': { turnId: string; text: string };
  /** A piece of a thinking model's reasoning for the streaming assistant turn (before or between its text). */
  'chat/reasoning': { turnId: string; text: string };
  /** A turn added or changed (route known, finished, failed). */
  'chat/turn': Turn;
  /** The active editor or its selection changed: what Selection / File would attach now. */
  'chat/editor': EditorContext;
  /** Put text into the input box (e.g. from a command) and focus it. */
  'chat/focusInput': { text?: string };
  /** The chat route changed (a server went down or came back, settings changed): the header and the empty view. */
  'chat/route': { route?: string; noModel: boolean };
  /** The workspace index's status changed: the composer's note. */
  'chat/index': ChatState['workspaceIndex'];
}

export type ChatRequestName = keyof ChatRequests;
export type ChatRequest = { [N in ChatRequestName]: Request<N, ChatRequests[N][0]> }[ChatRequestName];
type ChatNotification = { [N in keyof ChatNotifications]: Notification<N, ChatNotifications[N]> }[keyof ChatNotifications];

export type ToChatHost = ChatRequest | Ready | Cancel;
export type ToChatView = ChatNotification | Reply;
