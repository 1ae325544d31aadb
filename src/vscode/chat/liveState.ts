/**
 * What the chat view shows of the world around the conversation, kept live: the editor the composer's Selection /
 * File read, the header's route (from the router's health, the one source of truth it shares with the status bar),
 * and the composer's note on the workspace index. Each is sent to the view only when it changed.
 */
import * as vscode from 'vscode';
import { describePlan } from '../../core/describe';
import type { ChatState, ToChatView } from '../../protocol/chat';
import type { Services } from '../services';
import { editorInfo, isChatEditor } from './editorContext';

type HeldMessage = Extract<ToChatView, { name: 'chat/editor' | 'chat/index' }>;

export class ChatLiveState implements vscode.Disposable {
  private route?: string;
  private noModel = false;
  private lastEditor?: vscode.TextEditor;
  /** What the view last got of each notification sent only on change, as JSON. */
  private readonly held = new Map<string, string>();
  private routeSoon: ReturnType<typeof setTimeout> | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  /** `post` sends to the view when there is one (`shown` says whether there is). */
  constructor(
    private readonly services: Services,
    private readonly post: (m: ToChatView) => void,
    private readonly shown: () => boolean,
  ) {
    this.lastEditor = vscode.window.activeTextEditor;
    vscode.window.onDidChangeActiveTextEditor(
      (e) => {
        if (e && isChatEditor(e)) this.lastEditor = e;
        this.postEditor();
      },
      null,
      this.disposables,
    );
    vscode.window.onDidChangeTextEditorSelection(() => this.postEditor(), null, this.disposables);
    vscode.workspace.onDidChangeConfiguration(
      (e) => {
        if (e.affectsConfiguration('switchyard')) void this.refreshRoute();
      },
      null,
      this.disposables,
    );
    // The header and the first-run state follow servers that start or stop while VS Code runs.
    vscode.window.onDidChangeWindowState(
      (s) => {
        if (s.focused && this.shown()) void this.refreshRoute();
      },
      null,
      this.disposables,
    );
    // When a provider goes down or comes back (seen by a request, a probe, the index's embedding) the header says so
    // at once, as the status bar does; so does a key set or cleared (a chat's action, the panel, another window).
    const soon = () => {
      if (!this.shown()) return;
      clearTimeout(this.routeSoon);
      this.routeSoon = setTimeout(() => void this.refreshRoute(), 50);
    };
    this.disposables.push(services.switchyard.router.health.onChange(soon));
    services.secrets.onDidChangeStoredKey(soon, null, this.disposables);
    // And the composer's note follows the index (built, embeddings paused or resumed) without a reload.
    services.workspaceIndex.changed.event(() => this.postIndex(), null, this.disposables);
  }

  dispose(): void {
    clearTimeout(this.routeSoon);
    for (const d of this.disposables) d.dispose();
  }

  /** The editor the composer's Selection / File read: the active one, or the last text editor before the chat. */
  editor(): vscode.TextEditor | undefined {
    return vscode.window.activeTextEditor ?? this.lastEditor;
  }

  /** The parts of the view's state kept here; what the view then holds is not sent again until it changes. */
  state(): Pick<ChatState, 'route' | 'workspaceIndex' | 'editor' | 'noModel'> {
    const editor = editorInfo(this.editor());
    const workspaceIndex = this.indexView();
    this.held.set('chat/editor', JSON.stringify(editor));
    this.held.set('chat/index', JSON.stringify(workspaceIndex));
    return { route: this.route, workspaceIndex, editor, noModel: this.noModel };
  }

  /** Re-plans the chat route and sends the header (never the conversation: a route change mid-answer must not re-render it). */
  async refreshRoute(): Promise<void> {
    try {
      const plan = await this.services.switchyard.router.plan('chat');
      // The header names the candidate only (Show Routes and the status bar's tooltip say when it asks first).
      this.route = describePlan({ candidate: plan.candidate });
      this.noModel = !plan.candidate;
    } catch (e) {
      this.route = e instanceof Error ? e.message : String(e);
    }
    this.post({ kind: 'notify', name: 'chat/route', payload: { route: this.route, noModel: this.noModel } });
  }

  private indexView(): ChatState['workspaceIndex'] {
    const index = this.services.workspaceIndex.current;
    return index
      ? { available: true, note: index.status().message }
      : { available: false, note: 'No workspace index yet: @workspace answers without workspace search.' };
  }

  private postChanged(message: HeldMessage): void {
    if (!this.shown()) return;
    const key = JSON.stringify(message.payload);
    if (this.held.get(message.name) === key) return;
    this.held.set(message.name, key);
    this.post(message);
  }

  private postEditor(): void {
    this.postChanged({ kind: 'notify', name: 'chat/editor', payload: editorInfo(this.editor()) });
  }

  private postIndex(): void {
    this.postChanged({ kind: 'notify', name: 'chat/index', payload: this.indexView() });
  }
}
