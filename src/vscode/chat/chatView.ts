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
import type { ChatNotifications, ChatRequests, ChatState, Conversation, ToChatView } from '../../protocol/chat';
import type { Services } from '../services';
import { CommandSet, describeError, describeFallback, openCitation, runCodeAction, runErrorAction } from './actions';
import { editorBlocks } from './editorContext';
import { ChatLiveState } from './liveState';
import { WebviewHost } from '../webview/host';
import { webviewHtml, webviewOptions } from '../webview/html';
import { CHAT_SHAPES } from '../webview/validate';

export const CHAT_VIEW_ID = 'switchyard.chat';

type ChatHost = WebviewHost<ChatRequests, ChatNotifications, keyof ChatRequests>;

export class ChatController implements vscode.WebviewViewProvider, vscode.Disposable {
  private view?: vscode.WebviewView;
  private host?: ChatHost;
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
    this.live = new ChatLiveState(
      services,
      (m) => this.post(m),
      () => this.view !== undefined,
    );
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
    const host = this.listen(view.webview);
    this.host = host;
    const subs: vscode.Disposable[] = [host];
    view.onDidChangeVisibility(
      () => {
        if (view.visible) void this.live.refreshRoute();
      },
      null,
      subs,
    );
    view.onDidDispose(
      () => {
        if (this.view === view) {
          this.view = undefined;
          this.host = undefined;
        }
        for (const s of subs) s.dispose();
      },
      null,
      subs,
    );
  }

  private post(message: ToChatView): void {
    this.host?.post(message);
  }

  /** The editor the composer's Selection / File read. */
  editor(): vscode.TextEditor | undefined {
    return this.live.editor();
  }

  private state(): ChatState {
    return { conversation: this.conversation, history: this.store.list(), streaming: this.running?.requestId, ...this.live.state() };
  }

  private pushState(): void {
    this.host?.notify('chat/state', this.state());
  }

  /** The view's protocol: one handler per request of ChatRequests (src/protocol/chat.ts). */
  private listen(webview: vscode.Webview): ChatHost {
    return (
      new WebviewHost<ChatRequests, ChatNotifications>(webview, {
        shapes: CHAT_SHAPES,
        label: 'chat view',
        log: this.services.log,
        onReady: () => {
          this.pushState();
          void this.live.refreshRoute();
        },
        onCancel: (id) => {
          if (this.running?.requestId === id) this.running.controller.abort();
        },
        // A send's failures are shown in its turn; the view's other requests (code actions, citations, history) have no
        // place of their own to show one, so the user hears of it here.
        onFailure: (name, message) => {
          if (name === 'chat/send') return;
          this.services.log.warn(`chat view: ${name} failed: ${message}`);
          void vscode.window.showErrorMessage(`Switchyard: ${message}`);
        },
      })
        // After each answer (or failure) the header says what would answer now, from the health that answer left.
        .on('chat/send', (p, { id }) =>
          this.send(chatRequest(p.text, editorBlocks(this.editor(), p.context)), id).finally(() => void this.live.refreshRoute()),
        )
        .on('chat/new', () => this.newChat())
        .on('chat/open', (p) => this.open(p.conversationId))
        .on('chat/delete', (p) => this.delete(p.conversationId))
        .on('chat/action', async (p) => {
          if (p.action.id === 'retry') await this.send(retryRequest(this.conversation, p.turnId));
          else await runErrorAction(this.services, p.action);
          return null;
        })
        .on('chat/code', async (p) => {
          await runCodeAction(p.action, p.code, p.language, this.editor());
          return null;
        })
        .on('chat/openCitation', async (p) => {
          await openCitation(p);
          return null;
        })
        .listen()
    );
  }

  private open(conversationId: string): null {
    const c = this.store.get(conversationId);
    if (!c) throw new Error('That conversation no longer exists.');
    this.running?.controller.abort();
    this.conversation = settleInterrupted(c);
    this.pushState();
    return null;
  }

  private async delete(conversationId: string): Promise<null> {
    await this.store.delete(conversationId);
    if (this.conversation.id === conversationId) {
      this.running?.controller.abort();
      this.conversation = this.store.create();
    }
    this.pushState();
    return null;
  }

  newChat(): null {
    this.running?.controller.abort();
    this.conversation = this.store.create();
    this.pushState();
    return null;
  }

  /** Runs one exchange into the current conversation, streaming into the view. */
  async send(request: ExchangeRequest, requestId = this.hostRequestId--): Promise<{ turnId: string }> {
    this.running?.controller.abort();
    const conversation = this.conversation;
    const running = { requestId, controller: new AbortController() };
    this.running = running;
    const shown = () => this.conversation === conversation;
    const deps: TurnDeps = {
      router: this.services.switchyard.router,
      providers: this.services.switchyard.registry,
      index: this.services.workspaceIndex.current,
    };
    const turn = await runExchange(
      deps,
      conversation,
      request,
      {
        begun: () => this.pushState(),
        changed: (t) => shown() && this.post({ kind: 'notify', name: 'chat/turn', payload: t }),
        piece: (turnId, kind, text) =>
          shown() && this.post({ kind: 'notify', name: kind === 'text' ? 'chat/chunk' : 'chat/reasoning', payload: { turnId, text } }),
        save: () => this.store.save(conversation),
        fallback: (route) => describeFallback(this.services, this.commands, route),
        error: async (e) => {
          await this.commands.refresh().catch(() => undefined);
          const error = describeError(this.services, this.commands, e);
          this.services.log.warn(`chat: ${error.kind}: ${error.message}`);
          return error;
        },
      },
      running.controller.signal,
    );
    if (this.running === running) this.running = undefined;
    if (shown()) {
      this.post({ kind: 'notify', name: 'chat/turn', payload: turn });
      this.pushState();
    }
    return { turnId: turn.id };
  }
}
