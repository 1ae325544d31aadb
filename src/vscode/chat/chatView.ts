/**
 * The sidebar chat (a WebviewView in the "Switchyard" activity bar container) and the editor commands that stream
 * into it (Explain). Webview plumbing only: state lives here, in the host, and the webview renders what it is sent
 * and rehydrates from `chat/state` on `ready`. An exchange is core's runExchange (core/chat/exchange.ts, over the
 * turn of core/chat/turn.ts); the buttons' effects are in actions.ts.
 */
import * as vscode from 'vscode';
import { chatRequest, retryRequest, runExchange, type ExchangeRequest } from '../../core/chat/exchange';
import { ConversationStore, settleInterrupted } from '../../core/chat/store';
import type { TurnDeps } from '../../core/chat/turn';
import { isProviderError } from '../../core/errors';
import type { ChatState, Conversation, ToChatHost, ToChatView } from '../../protocol/chat';
import type { Services } from '../services';
import { CommandSet, describeError, describeFallback, openCitation, runCodeAction, runErrorAction } from './actions';
import { editorBlocks } from './editorContext';
import { ChatLiveState } from './liveState';
import { validateChatMessage } from './validate';
import { webviewHtml, webviewOptions } from './webviewHtml';

export const CHAT_VIEW_ID = 'switchyard.chat';

export class ChatController implements vscode.WebviewViewProvider, vscode.Disposable {
  private view?: vscode.WebviewView;
  private readonly store: ConversationStore;
  private conversation: Conversation;
  private running?: { requestId: number; controller: AbortController };
  private hostRequestId = -1;
  private readonly live: ChatLiveState;
  readonly commands = new CommandSet();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly services: Services) {
    this.store = new ConversationStore(services.context.workspaceState);
    this.conversation = settleInterrupted(this.store.latest());
    this.live = new ChatLiveState(services, (m) => this.post(m), () => this.view !== undefined);
    this.disposables.push(this.live);
  }

  dispose(): void {
    this.running?.controller.abort();
    for (const d of this.disposables) d.dispose();
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const extensionUri = this.services.context.extensionUri;
    view.webview.options = webviewOptions(extensionUri);
    view.webview.html = webviewHtml(view.webview, extensionUri, 'chat', 'Switchyard Chat');
    const subs: vscode.Disposable[] = [];
    view.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m), null, subs);
    view.onDidChangeVisibility(() => {
      if (view.visible) void this.live.refreshRoute();
    }, null, subs);
    view.onDidDispose(() => {
      if (this.view === view) this.view = undefined;
      for (const s of subs) s.dispose();
    }, null, subs);
  }

  private post(message: ToChatView): void {
    void this.view?.webview.postMessage(message);
  }

  /** The editor the composer's Selection / File read. */
  editor(): vscode.TextEditor | undefined {
    return this.live.editor();
  }

  private state(): ChatState {
    return { conversation: this.conversation, history: this.store.list(), streaming: this.running?.requestId, ...this.live.state() };
  }

  private pushState(): void {
    this.post({ kind: 'notify', name: 'chat/state', payload: this.state() });
  }

  private onMessage(raw: unknown): void {
    const checked = validateChatMessage(raw);
    if (!checked.ok) {
      this.services.log.warn(`chat view: ignored an invalid message (${checked.reason})`);
      return;
    }
    const m: ToChatHost = checked.message;
    if (m.kind === 'ready') {
      this.pushState();
      void this.live.refreshRoute();
      return;
    }
    if (m.kind === 'cancel') {
      if (this.running?.requestId === m.id) this.running.controller.abort();
      return;
    }
    const fail = (e: unknown) => {
      const message = e instanceof Error ? e.message : String(e);
      this.post({ kind: 'reply', id: m.id, ok: false, error: { kind: isProviderError(e) ? e.kind : 'error', message } });
      // A send's failures are shown in its turn; the view's other requests (code actions, citations, history) have no
      // place of their own to show one, so the user hears of it here.
      if (m.name !== 'chat/send') {
        this.services.log.warn(`chat view: ${m.name} failed: ${message}`);
        void vscode.window.showErrorMessage(`Switchyard: ${message}`);
      }
    };
    const run = async (): Promise<unknown> => {
      switch (m.name) {
        case 'chat/send': {
          // After each answer (or failure) the header says what would answer now, from the health that answer left.
          return this.send(chatRequest(m.payload.text, editorBlocks(this.editor(), m.payload.context)), m.id).finally(() => void this.live.refreshRoute());
        }
        case 'chat/new':
          this.newChat();
          return null;
        case 'chat/open': {
          const c = this.store.get(m.payload.conversationId);
          if (!c) throw new Error('That conversation no longer exists.');
          this.running?.controller.abort();
          this.conversation = settleInterrupted(c);
          this.pushState();
          return null;
        }
        case 'chat/delete':
          await this.store.delete(m.payload.conversationId);
          if (this.conversation.id === m.payload.conversationId) {
            this.running?.controller.abort();
            this.conversation = this.store.create();
          }
          this.pushState();
          return null;
        case 'chat/action':
          if (m.payload.action.id === 'retry') await this.send(retryRequest(this.conversation, m.payload.turnId));
          else await runErrorAction(this.services, m.payload.action);
          return null;
        case 'chat/code':
          await runCodeAction(m.payload.action, m.payload.code, m.payload.language, this.editor());
          return null;
        case 'chat/openCitation':
          await openCitation(m.payload);
          return null;
      }
    };
    run().then((payload) => this.post({ kind: 'reply', id: m.id, ok: true, payload }), fail);
  }

  newChat(): void {
    this.running?.controller.abort();
    this.conversation = this.store.create();
    this.pushState();
  }

  /** Runs one exchange into the current conversation, streaming into the view. */
  async send(request: ExchangeRequest, requestId = this.hostRequestId--): Promise<{ turnId: string }> {
    this.running?.controller.abort();
    const conversation = this.conversation;
    const running = { requestId, controller: new AbortController() };
    this.running = running;
    const shown = () => this.conversation === conversation;
    const deps: TurnDeps = { router: this.services.switchyard.router, providers: this.services.switchyard.registry, index: this.services.workspaceIndex.current };
    const turn = await runExchange(deps, conversation, request, {
      begun: () => this.pushState(),
      changed: (t) => shown() && this.post({ kind: 'notify', name: 'chat/turn', payload: t }),
      piece: (turnId, kind, text) => shown() && this.post({ kind: 'notify', name: kind === 'text' ? 'chat/chunk' : 'chat/reasoning', payload: { turnId, text } }),
      save: () => this.store.save(conversation),
      fallback: (route) => describeFallback(this.services, this.commands, route),
      error: async (e) => {
        await this.commands.refresh().catch(() => undefined);
        const error = describeError(this.services, this.commands, e);
        this.services.log.warn(`chat: ${error.kind}: ${error.message}`);
        return error;
      },
    }, running.controller.signal);
    if (this.running === running) this.running = undefined;
    if (shown()) {
      this.post({ kind: 'notify', name: 'chat/turn', payload: turn });
      this.pushState();
    }
    return { turnId: turn.id };
  }
}
