/**
 * The sidebar chat (a WebviewView in the "Switchyard" activity bar container) and the Explain commands that stream
 * into it. State lives here, in the host: the webview renders what it is sent and rehydrates from `chat/state` on
 * `ready`. Every answer goes through router.chat(), so it says who answered, local or cloud, after which fallback,
 * with tokens and time; errors carry the typed kind and actions.
 */
import * as vscode from 'vscode';
import { assemblePrompt, sentSources, type ContextBlock } from '../../core/chat/prompt';
import { ConversationStore, historyMessages, newId, settleInterrupted } from '../../core/chat/store';
import { splitThinkTags } from '../../core/chat/thinkTags';
import { isProviderError, type ErrorKind } from '../../core/errors';
import { findOllamaExecutable } from '../../core/models';
import { RouteError, type RouteAttempt } from '../../core/routing/router';
import type { ChatState, Citation, Conversation, ContextKind, EditorContext, ErrorAction, ToChatHost, ToChatView, Turn, TurnError } from '../../protocol/chat';
import { readSettings } from '../settings';
import type { Services } from '../services';
import { errorActions, errorText, fallbackActions, fallbackReason } from './errorActions';
import { validateChatMessage } from './validate';
import { webviewHtml, webviewOptions } from './webviewHtml';

export const CHAT_VIEW_ID = 'switchyard.chat';

const SYSTEM_PROMPT =
  'You are Switchyard, a coding assistant inside VS Code. Answer concisely in Markdown. Put code in fenced blocks with a language. When context from the workspace is given, rely on it and name the files you use.';
const EXPLAIN_PROMPT =
  'You are Switchyard, a coding assistant inside VS Code. Explain the given code: what it does, how, and anything surprising. Be concise; use Markdown.';
const DEFAULT_WINDOW = 8192;
const DEFAULT_ANSWER = 1024;

interface Running {
  requestId: number;
  turnId: string;
  controller: AbortController;
}

interface SendOptions {
  task: 'chat' | 'explain';
  text: string;
  /** Shown to the user instead of text (Explain: "Explain selection in a.ts:3-9"). */
  display?: string;
  context: ContextBlock[];
  contextLabels: string[];
  /** Query for index retrieval, when the message asks for it (or Explain). */
  retrieve?: string;
  requestId: number;
}

export class ChatController implements vscode.WebviewViewProvider, vscode.Disposable {
  private view?: vscode.WebviewView;
  private readonly store: ConversationStore;
  private conversation: Conversation;
  private running?: Running;
  private hostRequestId = -1;
  private routeText?: string;
  private noModel = false;
  private lastEditor?: vscode.TextEditor;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly services: Services) {
    this.store = new ConversationStore(services.context.workspaceState);
    this.conversation = settleInterrupted(this.store.latest());
    this.lastEditor = vscode.window.activeTextEditor;
    vscode.window.onDidChangeActiveTextEditor((e) => {
      if (e && (e.document.uri.scheme === 'file' || e.document.uri.scheme === 'untitled' || e.document.uri.scheme === 'vscode-remote')) this.lastEditor = e;
      this.postEditor();
    }, null, this.disposables);
    vscode.window.onDidChangeTextEditorSelection(() => this.postEditor(), null, this.disposables);
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('switchyard')) void this.refreshRoute();
    }, null, this.disposables);
    // The header and the first-run state follow servers that start or stop while VS Code runs.
    vscode.window.onDidChangeWindowState((s) => {
      if (s.focused && this.view) void this.refreshRoute();
    }, null, this.disposables);
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
      if (view.visible) void this.refreshRoute();
    }, null, subs);
    view.onDidDispose(() => {
      if (this.view === view) this.view = undefined;
      for (const s of subs) s.dispose();
    }, null, subs);
  }

  private post(message: ToChatView): void {
    void this.view?.webview.postMessage(message);
  }

  /** What the composer's Selection / File would attach now (the same editor editorContext() reads at send). */
  private editorInfo(): EditorContext {
    const editor = vscode.window.activeTextEditor ?? this.lastEditor;
    if (!editor) return {};
    const s = editor.selection;
    return { file: vscode.workspace.asRelativePath(editor.document.uri), ...(s.isEmpty ? {} : { selection: { startLine: s.start.line + 1, endLine: s.end.line + 1 } }) };
  }

  private lastEditorInfo = '';
  private postEditor(): void {
    if (!this.view) return;
    const info = this.editorInfo();
    const key = JSON.stringify(info);
    if (key === this.lastEditorInfo) return;
    this.lastEditorInfo = key;
    this.post({ kind: 'notify', name: 'chat/editor', payload: info });
  }

  private state(): ChatState {
    const index = this.services.workspaceIndex.current;
    const editor = this.editorInfo();
    // What the view now holds: chat/editor is sent again only when it changes from this.
    this.lastEditorInfo = JSON.stringify(editor);
    return {
      conversation: this.conversation,
      history: this.store.list(),
      streaming: this.running?.requestId,
      route: this.routeText,
      workspaceIndex: index ? { available: true, note: index.status().message } : { available: false, note: 'No workspace index yet: @workspace answers without workspace search.' },
      editor,
      noModel: this.noModel,
    };
  }

  private pushState(): void {
    this.post({ kind: 'notify', name: 'chat/state', payload: this.state() });
  }

  private async refreshRoute(): Promise<void> {
    try {
      const plan = await this.services.switchyard.router.plan('chat');
      this.routeText = plan.candidate ? `${plan.candidate.providerId}/${plan.candidate.model} (${plan.candidate.local ? 'local' : 'cloud'})` : 'no model available';
      this.noModel = !plan.candidate;
    } catch (e) {
      this.routeText = e instanceof Error ? e.message : String(e);
    }
    this.pushState();
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
      void this.refreshRoute();
      return;
    }
    if (m.kind === 'cancel') {
      if (this.running?.requestId === m.id) this.running.controller.abort();
      return;
    }
    const reply = (payload: unknown) => this.post({ kind: 'reply', id: m.id, ok: true, payload });
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
          const { blocks, labels } = this.editorContext(m.payload.context);
          const wantsIndex = /(^|\s)@workspace\b/.test(m.payload.text);
          const text = m.payload.text;
          // After each answer (or failure) the header says what would answer now, from the health that answer left.
          return this.send({ task: 'chat', text, context: blocks, contextLabels: labels, retrieve: wantsIndex ? text.replace(/(^|\s)@workspace\b/g, ' ').trim() : undefined, requestId: m.id }).finally(() => void this.refreshRoute());
        }
        case 'chat/new':
          this.newChat();
          return null;
        case 'chat/open': {
          const c = this.store.get(m.payload.conversationId);
          if (!c) throw new Error('That conversation no longer exists.');
          this.stop();
          this.conversation = settleInterrupted(c);
          this.pushState();
          return null;
        }
        case 'chat/delete':
          await this.store.delete(m.payload.conversationId);
          if (this.conversation.id === m.payload.conversationId) {
            this.stop();
            this.conversation = this.store.create();
          }
          this.pushState();
          return null;
        case 'chat/action':
          await this.runAction(m.payload.turnId, m.payload.action);
          return null;
        case 'chat/code':
          await this.codeAction(m.payload.action, m.payload.code, m.payload.language);
          return null;
        case 'chat/openCitation':
          await this.openCitation(m.payload);
          return null;
      }
    };
    run().then(reply, fail);
  }

  private stop(): void {
    this.running?.controller.abort();
  }

  newChat(): void {
    this.stop();
    this.conversation = this.store.create();
    this.pushState();
  }

  /** The current selection or file of the last text editor, as context blocks. */
  private editorContext(kinds: readonly ContextKind[]): { blocks: ContextBlock[]; labels: string[] } {
    const blocks: ContextBlock[] = [];
    const editor = vscode.window.activeTextEditor ?? this.lastEditor;
    if (!editor || kinds.length === 0) return { blocks, labels: [] };
    const doc = editor.document;
    const name = vscode.workspace.asRelativePath(doc.uri);
    if (kinds.includes('selection') && !editor.selection.isEmpty) {
      const s = editor.selection;
      blocks.push({ label: `selection in ${name}:${s.start.line + 1}-${s.end.line + 1}`, text: doc.getText(s), source: { path: name, startLine: s.start.line + 1, endLine: s.end.line + 1 } });
    }
    if (kinds.includes('file')) blocks.push({ label: `file ${name}`, text: doc.getText(), source: { path: name } });
    return { blocks, labels: blocks.map((b) => b.label) };
  }

  /** The context window of the model that would answer now (its catalog/discovered length, capped by contextSize). */
  private async window(task: 'chat' | 'explain', signal: AbortSignal): Promise<{ window: number; answer: number }> {
    try {
      const plan = await this.services.switchyard.router.plan(task, { signal });
      const c = plan.candidate;
      if (!c) return { window: DEFAULT_WINDOW, answer: DEFAULT_ANSWER };
      const models = this.services.switchyard.registry.cachedModels(c.providerId) ?? (await this.services.switchyard.registry.discover(c.providerId, signal).catch(() => []));
      const info = models.find((m) => m.id === c.model || m.id === `${c.model}:latest`);
      const window = Math.min(c.contextSize ?? Number.POSITIVE_INFINITY, info?.contextLength ?? DEFAULT_WINDOW);
      return { window, answer: c.maxTokens ?? DEFAULT_ANSWER };
    } catch {
      return { window: DEFAULT_WINDOW, answer: DEFAULT_ANSWER };
    }
  }

  /** Runs one exchange: user turn, retrieval, prompt assembly, the routed stream into an assistant turn. */
  async send(o: SendOptions): Promise<{ turnId: string }> {
    this.stop();
    const conversation = this.conversation;
    const history = historyMessages(conversation.turns);
    const at = new Date().toISOString();
    const userTurn: Turn = { id: newId('t'), role: 'user', text: o.display ?? o.text, at, task: o.task, contextLabels: [...o.contextLabels] };
    const turn: Turn = { id: newId('t'), role: 'assistant', text: '', at, task: o.task, status: 'streaming', notices: [] };
    conversation.turns.push(userTurn, turn);
    const controller = new AbortController();
    const running: Running = { requestId: o.requestId, turnId: turn.id, controller };
    this.running = running;
    await this.store.save(conversation);
    this.pushState();

    let lastSave = Date.now();
    const started = performance.now();
    try {
      const { window, answer } = await this.window(o.task, controller.signal);
      const context = [...o.context];
      if (o.retrieve !== undefined) {
        const index = this.services.workspaceIndex.current;
        if (!index) {
          turn.notices!.push('@workspace: the workspace index is not available (disabled, untrusted workspace, or not built yet), so no workspace files were searched.');
        } else {
          const status = index.status();
          const chunks = await index.search(o.retrieve || o.text, { k: 8, tokenBudget: Math.floor(window / 3), signal: controller.signal });
          if (status.keywordOnly) turn.notices!.push('@workspace: keyword search only (no embeddings yet).');
          if (chunks.length === 0) turn.notices!.push('@workspace: the index found nothing relevant.');
          turn.citations = chunks.map((c): Citation => ({ path: c.path, root: c.root, startLine: c.startLine, endLine: c.endLine, symbol: c.symbol }));
          for (const c of chunks) context.push({ label: `${c.path}:${c.startLine}-${c.endLine}${c.symbol ? ` (${c.symbol})` : ''}`, text: c.text, source: { path: c.path, startLine: c.startLine, endLine: c.endLine } });
          if (chunks.length) userTurn.contextLabels!.push(`@workspace: ${chunks.length} chunk${chunks.length === 1 ? '' : 's'}`);
        }
      }
      const prompt = assemblePrompt({ system: o.task === 'explain' ? EXPLAIN_PROMPT : SYSTEM_PROMPT, history, context, question: o.text, contextWindow: window, answerTokens: answer });
      if (prompt.notice) turn.notices!.push(prompt.notice);
      if (turn.citations && prompt.droppedContext.length) {
        turn.citations = turn.citations.filter((c) => !prompt.droppedContext.some((l) => l.startsWith(`${c.path}:${c.startLine}-${c.endLine}`)));
      }
      this.post({ kind: 'notify', name: 'chat/turn', payload: turn });
      // `<think>…</think>` written into the answer (a server without a reasoning parser) is shown as reasoning too.
      for await (const ev of splitThinkTags(this.services.switchyard.router.chat({ task: o.task, messages: prompt.messages, signal: controller.signal, sources: sentSources(context, prompt.droppedContext) }))) {
        if (ev.type === 'route') {
          const r = ev.route;
          turn.answer = {
            providerId: r.providerId,
            model: r.model,
            local: r.local,
            fallbackReason: r.fallback ? fallbackReason(r.attempts) : undefined,
            // A fallback past a missing Ollama model offers to pull it.
            fallbackActions: r.fallback ? fallbackActions(r.attempts, this.services.switchyard.registry.list(), { pullModel: this.commands.has('switchyard.pullModel') }) : undefined,
          };
          this.post({ kind: 'notify', name: 'chat/turn', payload: turn });
        } else if (ev.type === 'text' || ev.type === 'reasoning') {
          if (ev.type === 'text') turn.text += ev.text;
          else turn.reasoning = (turn.reasoning ?? '') + ev.text;
          this.post({ kind: 'notify', name: ev.type === 'text' ? 'chat/chunk' : 'chat/reasoning', payload: { turnId: turn.id, text: ev.text } });
          if (Date.now() - lastSave > 1000) {
            lastSave = Date.now();
            void this.store.save(conversation);
          }
        } else if (ev.type === 'done') {
          const u = ev.usage;
          turn.answer = { ...turn.answer!, inputTokens: u.inputTokens, outputTokens: u.outputTokens, estimated: u.tokensEstimated, ms: Math.round(u.durationMs), ttftMs: u.ttftMs === undefined ? undefined : Math.round(u.ttftMs) };
        }
      }
      turn.status = controller.signal.aborted ? 'stopped' : 'done';
      if (turn.status === 'done' && turn.reasoning && !turn.text.trim()) {
        // Its answer budget ran out while it was still thinking (the reasoning counts against it).
        turn.notices!.push("Stopped while still thinking: the reasoning used up the answer budget. Raise this model's max tokens (Switchyard: Open Model Settings) or ask again.");
      }
    } catch (e) {
      if (controller.signal.aborted || (isProviderError(e) && e.kind === 'canceled')) {
        turn.status = 'stopped';
      } else {
        turn.status = 'error';
        await this.refreshCommands().catch(() => undefined);
        turn.error = this.describeError(e);
        this.services.log.warn(`chat: ${turn.error.kind}: ${turn.error.message}`);
      }
    } finally {
      if (turn.answer && turn.answer.ms === undefined) turn.answer.ms = Math.round(performance.now() - started);
      if (this.running === running) this.running = undefined;
      await this.store.save(conversation);
      if (this.conversation === conversation) {
        this.post({ kind: 'notify', name: 'chat/turn', payload: turn });
        this.pushState();
      }
    }
    return { turnId: turn.id };
  }

  private describeError(e: unknown): TurnError {
    const kind: ErrorKind | 'error' = isProviderError(e) ? e.kind : 'error';
    const attempts: RouteAttempt[] = e instanceof RouteError ? e.attempts : [];
    // A task left with no model because its settings entries were ignored: say so (not "start a server").
    const task = e instanceof RouteError ? e.task : undefined;
    const problem = task === undefined ? undefined : readSettings().problems.find((p) => p.emptiedTasks?.some((t) => t === task));
    const ignored = task !== undefined && problem ? { task, problem: problem.message } : undefined;
    const { title, message } = errorText(kind, e instanceof Error ? e.message : String(e), attempts, ignored);
    const has = { pullModel: this.commands.has('switchyard.pullModel'), ignoredEntries: ignored !== undefined };
    return { kind, title, message, actions: errorActions(kind, attempts, this.services.switchyard.registry.list(), has) };
  }

  private commands = new Set<string>();
  async refreshCommands(): Promise<void> {
    this.commands = new Set(await vscode.commands.getCommands(true));
  }

  private async runAction(turnId: string, action: ErrorAction): Promise<void> {
    switch (action.id) {
      case 'retry': {
        const i = this.conversation.turns.findIndex((t) => t.id === turnId);
        const user = i > 0 ? this.conversation.turns[i - 1] : undefined;
        if (!user || user.role !== 'user') throw new Error('Nothing to retry.');
        // Drop the failed exchange and ask again with the same words.
        this.conversation.turns.splice(i - 1, 2);
        const wantsIndex = /(^|\s)@workspace\b/.test(user.text);
        await this.send({ task: user.task === 'explain' ? 'explain' : 'chat', text: user.text, context: [], contextLabels: [], retrieve: wantsIndex ? user.text.replace(/(^|\s)@workspace\b/g, ' ').trim() : undefined, requestId: this.hostRequestId-- });
        return;
      }
      case 'startOllama': {
        if (!findOllamaExecutable()) {
          const get = 'Get Ollama';
          const gguf = 'Download a GGUF Model';
          const choice = await vscode.window.showErrorMessage(
            'Switchyard: Ollama is not installed here (no `ollama` on PATH). Install it from ollama.com, or run models without it: download a GGUF model for the built-in runtime.',
            get,
            gguf,
          );
          if (choice === get) await vscode.env.openExternal(vscode.Uri.parse('https://ollama.com/download'));
          else if (choice === gguf) await vscode.commands.executeCommand('switchyard.downloadGgufModel');
          return;
        }
        const terminal = vscode.window.createTerminal({ name: 'Ollama' });
        terminal.show();
        terminal.sendText('ollama serve');
        this.services.switchyard.router.health.clear();
        setTimeout(() => this.services.refreshRoutes(), 3000);
        return;
      }
      case 'pullModel':
        await vscode.commands.executeCommand('switchyard.pullModel', action.arg);
        return;
      case 'setApiKey':
        await vscode.commands.executeCommand('switchyard.setApiKey', action.arg);
        return;
      case 'openSettings':
        await vscode.commands.executeCommand('switchyard.openSettings');
        return;
      case 'showLogs':
        await vscode.commands.executeCommand('switchyard.showLogs');
        return;
      case 'downloadGguf':
        await vscode.commands.executeCommand('switchyard.downloadGgufModel');
        return;
      case 'walkthrough':
        await vscode.commands.executeCommand('workbench.action.openWalkthrough', `${this.services.context.extension.id}#switchyard.start`, false);
        return;
    }
  }

  private async codeAction(action: 'copy' | 'insert' | 'replace' | 'newFile', code: string, language?: string): Promise<void> {
    if (action === 'copy') {
      await vscode.env.clipboard.writeText(code);
      return;
    }
    if (action === 'newFile') {
      const doc = await vscode.workspace.openTextDocument({ content: code, language: language || undefined });
      await vscode.window.showTextDocument(doc);
      return;
    }
    let editor = vscode.window.activeTextEditor ?? this.lastEditor;
    if (!editor) throw new Error('Open a file first: there is no editor to put the code in.');
    if (!vscode.window.visibleTextEditors.includes(editor)) {
      // The editor the chat came from was closed or hidden since: bring its document back, at the same selection.
      const doc = editor.document.isClosed ? await vscode.workspace.openTextDocument(editor.document.uri) : editor.document;
      editor = await vscode.window.showTextDocument(doc, { viewColumn: editor.viewColumn, selection: editor.selection });
    }
    const target = editor;
    const applied = await target.edit((b) => {
      if (action === 'replace') b.replace(target.selection, code);
      else b.insert(target.selection.active, code);
    });
    if (!applied) throw new Error(`Could not edit ${vscode.workspace.asRelativePath(target.document.uri)} (is it read-only?).`);
    await vscode.window.showTextDocument(target.document, target.viewColumn);
  }

  private async openCitation(c: Citation): Promise<void> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    // Only files inside an open workspace folder: a message cannot open arbitrary paths.
    const folder = folders.find((f) => f.uri.fsPath === c.root) ?? folders[0];
    if (!folder) throw new Error('No workspace folder is open.');
    const uri = vscode.Uri.joinPath(folder.uri, ...c.path.split('/').filter((p) => p && p !== '..'));
    const doc = await vscode.workspace.openTextDocument(uri);
    const range = new vscode.Range(Math.max(0, c.startLine - 1), 0, Math.max(0, c.endLine - 1), Number.MAX_SAFE_INTEGER);
    await vscode.window.showTextDocument(doc, { selection: range, preview: true });
  }

  /** Explain Selection / Explain File: the `explain` task streamed into the chat view. */
  async explain(which: 'selection' | 'file'): Promise<void> {
    const editor = vscode.window.activeTextEditor ?? this.lastEditor;
    if (!editor) {
      void vscode.window.showInformationMessage('Switchyard: open a file and select code to explain.');
      return;
    }
    const doc = editor.document;
    const name = vscode.workspace.asRelativePath(doc.uri);
    const useSelection = which === 'selection' && !editor.selection.isEmpty;
    const s = editor.selection;
    const label = useSelection ? `selection in ${name}:${s.start.line + 1}-${s.end.line + 1}` : `file ${name}`;
    const code = useSelection ? doc.getText(s) : doc.getText();
    await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
    const lang = doc.languageId;
    await this.send({
      task: 'explain',
      text: `Explain this ${lang} code (${label}).`,
      display: `Explain ${label}`,
      context: [{ label, text: code, source: useSelection ? { path: name, startLine: s.start.line + 1, endLine: s.end.line + 1 } : { path: name } }],
      contextLabels: [label],
      retrieve: this.services.workspaceIndex.current ? code.slice(0, 2000) : undefined,
      requestId: this.hostRequestId--,
    });
  }
}

export function registerChat(services: Services): vscode.Disposable[] {
  const chat = new ChatController(services);
  // Which optional commands (switchyard.pullModel) exist is asked after activation, never during it.
  setTimeout(() => void chat.refreshCommands(), 2000);
  return [
    chat,
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chat, { webviewOptions: { retainContextWhenHidden: false } }),
    vscode.commands.registerCommand('switchyard.explainSelection', () => chat.explain('selection')),
    vscode.commands.registerCommand('switchyard.explainFile', () => chat.explain('file')),
    vscode.commands.registerCommand('switchyard.newChat', async () => {
      await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
      chat.newChat();
    }),
  ];
}
