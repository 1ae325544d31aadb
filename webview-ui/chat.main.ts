/**
 * The chat view's UI. Renders what the host sends (state lives in the host) and posts user intents as typed requests.
 * Model output goes through the sanitizer in markdown.ts; everything else is set as text.
 */
import '@vscode/codicons/dist/codicon.css';
import './chat.css';
import type {
  ChatNotifications,
  ChatRequests,
  ChatState,
  CodeAction,
  ContextKind,
  EditorContext,
  ErrorAction,
  Turn,
} from '../src/protocol/chat';
import { createMarkdownRenderer } from './markdown';
import { h, icon, Messenger } from './messenger';

const messenger = new Messenger<ChatRequests, ChatNotifications>();
const markdown = createMarkdownRenderer(window);
const app = document.getElementById('app')!;

let state: ChatState | undefined;
/** The id of the streaming request, as the host reports it or as we sent it. */
let streamingId: number | undefined;
/** A chat/send of this webview awaits its reply. */
let localSend = false;
/** What the next message attaches (reset after each send): shown in the composer with the file and lines. */
const attach = new Set<ContextKind>();
/** What Selection / File read in the editor now, as the host reports it. */
let editor: EditorContext = {};
let showHistory = false;
const dirty = new Set<string>();
/** Reasoning blocks the user opened or closed (by turn id); the rest are open while the model thinks, then closed. */
const reasoningOpen = new Map<string, boolean>();
let frame = 0;

// ---- layout (built once) -------------------------------------------------------------------------------------------
const routeLabel = h('span', { class: 'route', title: 'The model that would answer now' });
const header = h(
  'header',
  { class: 'toolbar' },
  routeLabel,
  h('span', { class: 'spacer' }),
  h(
    'button',
    { class: 'icon-button', id: 'history-toggle', title: 'History', 'aria-label': 'Show chat history', onclick: () => toggleHistory() },
    icon('history'),
  ),
  h(
    'button',
    {
      class: 'icon-button',
      id: 'new-chat',
      title: 'New Chat',
      'aria-label': 'New chat',
      onclick: () => void messenger.request('chat/new', {}),
    },
    icon('add'),
  ),
);
const historyList = h('nav', { class: 'history', id: 'history', 'aria-label': 'Chat history', hidden: true });
const log = h('main', { class: 'log', id: 'log', role: 'log', 'aria-label': 'Conversation', 'aria-live': 'polite' });
const prompt = h('textarea', {
  id: 'prompt',
  rows: '3',
  placeholder: 'Ask about your code… (@workspace to search the index)',
  'aria-label': 'Message',
});
const chips: Record<ContextKind, HTMLElement> = {
  selection: h(
    'button',
    {
      class: 'chip',
      id: 'attach-selection',
      'aria-pressed': 'false',
      title: 'Attach the current selection to the next message',
      onclick: () => toggleAttach('selection'),
    },
    icon('selection'),
    h('span', { class: 'chip-label' }, 'Selection'),
  ),
  file: h(
    'button',
    {
      class: 'chip',
      id: 'attach-file',
      'aria-pressed': 'false',
      title: 'Attach the current file to the next message',
      onclick: () => toggleAttach('file'),
    },
    icon('file'),
    h('span', { class: 'chip-label' }, 'File'),
  ),
};
/** Exactly what the next message carries, each with a remove button. */
const attachments = h('div', { class: 'attachments', id: 'attachments', 'aria-label': 'Attached to the next message' });
const sendButton = h('button', { class: 'primary', id: 'send', title: 'Send (Enter)', onclick: () => send() }, icon('send'), 'Send');
const stopButton = h(
  'button',
  { class: 'secondary', id: 'stop', title: 'Stop (Escape)', hidden: true, onclick: () => stop() },
  icon('debug-stop'),
  'Stop',
);
const indexNote = h('div', { class: 'index-note', id: 'index-note' });
const composer = h(
  'footer',
  { class: 'composer' },
  attachments,
  prompt,
  h(
    'div',
    { class: 'composer-row' },
    chips.selection,
    chips.file,
    h('span', { class: 'spacer' }),
    h('span', { class: 'send-buttons' }, stopButton, sendButton),
  ),
  indexNote,
);
app.append(header, historyList, log, composer);

prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  } else if (e.key === 'Escape' && streamingId !== undefined) {
    e.preventDefault();
    stop();
  }
});

function toggleAttach(kind: ContextKind): void {
  if (attach.has(kind)) attach.delete(kind);
  else attach.add(kind);
  renderAttachments();
}

/** What an attachment of this kind carries now: the words shown, and whether it carries anything. */
function attachmentLabel(kind: ContextKind): { label: string; title: string; empty: boolean } {
  const file = editor.file;
  if (!file) return { label: 'no file open', title: 'Open a file: nothing is attached until then', empty: true };
  if (kind === 'file') return { label: file, title: `The whole of ${file}`, empty: false };
  const s = editor.selection;
  if (!s) return { label: `no selection in ${file}`, title: 'Select code in the editor: nothing is attached until then', empty: true };
  const lines = s.startLine === s.endLine ? `${s.startLine}` : `${s.startLine}-${s.endLine}`;
  return { label: `${file}:${lines}`, title: `Lines ${lines} of ${file}`, empty: false };
}

function renderAttachments(): void {
  for (const kind of ['selection', 'file'] as const) chips[kind].setAttribute('aria-pressed', String(attach.has(kind)));
  attachments.replaceChildren(
    ...(['selection', 'file'] as const)
      .filter((kind) => attach.has(kind))
      .map((kind) => {
        const { label, title, empty } = attachmentLabel(kind);
        return h(
          'span',
          { class: `attachment${empty ? ' empty' : ''}`, 'data-kind': kind, title },
          icon(kind === 'selection' ? 'selection' : 'file'),
          h('span', { class: 'attachment-label' }, label),
          h(
            'button',
            {
              class: 'icon-button attachment-remove',
              title: 'Remove',
              'aria-label': `Remove ${kind} ${label}`,
              onclick: () => toggleAttach(kind),
            },
            icon('close'),
          ),
        );
      }),
  );
}

function toggleHistory(): void {
  showHistory = !showHistory;
  historyList.hidden = !showHistory;
  renderHistory();
}

function send(): void {
  const text = prompt.value.trim();
  if (!text || streamingId !== undefined) return;
  prompt.value = '';
  localSend = true;
  const context = [...attach];
  // Attachments belong to one message: the next one starts with none.
  attach.clear();
  renderAttachments();
  void messenger
    .request('chat/send', { text, context }, (id) => {
      streamingId = id;
      renderBusy();
    })
    .catch(() => undefined)
    .finally(() => {
      localSend = false;
      streamingId = undefined;
      renderBusy();
    });
}

function stop(): void {
  if (streamingId !== undefined) messenger.cancel(streamingId);
}

// ---- rendering -----------------------------------------------------------------------------------------------------
function renderBusy(): void {
  const busy = streamingId !== undefined;
  // Stop takes Send's place while an answer streams: the row keeps its width, so nothing wraps under the input.
  stopButton.hidden = !busy;
  sendButton.hidden = busy;
  sendButton.disabled = busy;
  log.setAttribute('aria-busy', String(busy));
}

function renderHistory(): void {
  historyList.replaceChildren();
  if (!showHistory || !state) return;
  if (state.history.length === 0) historyList.append(h('p', { class: 'muted' }, 'No saved conversations yet.'));
  for (const s of state.history) {
    const current = s.id === state.conversation.id;
    historyList.append(
      h(
        'div',
        { class: `history-item${current ? ' current' : ''}` },
        h(
          'button',
          {
            class: 'link history-open',
            title: `${s.title} (${new Date(s.updatedAt).toLocaleString()})`,
            onclick: () => void messenger.request('chat/open', { conversationId: s.id }).then(() => toggleHistory()),
          },
          h('span', { class: 'history-title' }, s.title.trim() || 'Untitled chat'),
          h('span', { class: 'history-date muted' }, whenText(s.updatedAt)),
        ),
        h('span', { class: 'muted history-count', title: `${s.turns} messages` }, `${s.turns}`),
        h(
          'button',
          {
            class: 'icon-button delete',
            title: 'Delete',
            'aria-label': `Delete conversation ${s.title}`,
            onclick: () => void messenger.request('chat/delete', { conversationId: s.id }),
          },
          icon('trash'),
        ),
      ),
    );
  }
}

/** "14:05" today, "Yesterday 14:05", "Nov 26" this year, "Nov 26, 2025" before: when a conversation was last used. */
function whenText(iso: string, now = new Date()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const time = at.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const day = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(now) - day(at)) / 86_400_000);
  if (days === 0) return `Today ${time}`;
  if (days === 1) return `Yesterday ${time}`;
  return at.toLocaleDateString(
    undefined,
    at.getFullYear() === now.getFullYear() ? { month: 'short', day: 'numeric' } : { year: 'numeric', month: 'short', day: 'numeric' },
  );
}

function meta(turn: Turn): HTMLElement | undefined {
  const a = turn.answer;
  if (!a) return undefined;
  const parts: string[] = [];
  if (a.outputTokens !== undefined || a.inputTokens !== undefined)
    parts.push(`${a.inputTokens ?? '?'} → ${a.outputTokens ?? '?'} tokens${a.estimated ? ' (est.)' : ''}`);
  if (a.ms !== undefined) parts.push(`${(a.ms / 1000).toFixed(1)} s`);
  return h(
    'div',
    { class: 'answer-meta' },
    icon(a.local ? 'vm' : 'cloud'),
    h('span', { class: 'who' }, `${a.providerId}/${a.model}`),
    h('span', { class: `badge ${a.local ? 'local' : 'cloud'}` }, a.local ? 'local' : 'cloud'),
    parts.length ? h('span', { class: 'muted stats' }, parts.join(' · ')) : undefined,
  );
}

/**
 * A thinking model's reasoning: plain text (never markdown or HTML) in a disclosure, open while the model thinks
 * and closed once the answer starts, unless the user chose otherwise.
 */
function reasoningBlock(turn: Turn): HTMLElement | undefined {
  if (!turn.reasoning) return undefined;
  const thinking = turn.status === 'streaming' && !turn.text;
  const text = h('div', { class: 'reasoning-text' }, turn.reasoning);
  const details = h(
    'details',
    // Open until there is an answer to read (an answer that never came leaves it open).
    { class: 'reasoning', open: reasoningOpen.get(turn.id) ?? !turn.text },
    h(
      'summary',
      { onclick: () => reasoningOpen.set(turn.id, !details.open) },
      icon('chevron-right chevron'),
      icon(thinking ? 'loading codicon-modifier-spin' : 'lightbulb'),
      thinking ? 'Thinking…' : 'Reasoning',
    ),
    text,
  );
  // Follow the newest reasoning while it streams.
  if (thinking) requestAnimationFrame(() => (text.scrollTop = text.scrollHeight));
  return details;
}

function renderTurn(turn: Turn): HTMLElement {
  if (turn.role === 'user') {
    return h(
      'section',
      { class: 'turn user', 'data-turn': turn.id },
      h('div', { class: 'user-text' }, turn.text),
      turn.contextLabels?.length
        ? h('div', { class: 'context-labels muted' }, icon('paperclip'), turn.contextLabels.join(', '))
        : undefined,
    );
  }
  const body = h('div', { class: 'markdown' });
  body.innerHTML = markdown.render(turn.text);
  addCodeActions(body);
  const el = h(
    'section',
    { class: 'turn assistant', 'data-turn': turn.id, 'data-status': turn.status ?? 'done' },
    meta(turn),
    turn.answer?.fallbackReason
      ? h(
          'div',
          { class: 'fallback-notice', role: 'note' },
          icon('warning'),
          h(
            'div',
            { class: 'fallback-body' },
            h('div', {}, `Fallback: ${turn.answer.fallbackReason}`),
            turn.answer.fallbackActions?.length
              ? h(
                  'div',
                  { class: 'error-actions' },
                  ...turn.answer.fallbackActions.map((a) =>
                    h(
                      'button',
                      {
                        class: 'secondary fallback-action',
                        'data-action': a.id,
                        onclick: () => void messenger.request('chat/action', { turnId: turn.id, action: a }),
                      },
                      a.label,
                    ),
                  ),
                )
              : undefined,
          ),
        )
      : undefined,
    ...(turn.notices ?? []).map((n) => h('div', { class: 'notice muted', role: 'note' }, icon('info'), n)),
    reasoningBlock(turn),
    body,
    turn.status === 'streaming' && !turn.text && !turn.reasoning
      ? h('div', { class: 'muted thinking' }, icon('loading codicon-modifier-spin'), 'Waiting for the model…')
      : undefined,
    turn.status === 'stopped' ? h('div', { class: 'muted stopped' }, icon('debug-stop'), 'Stopped.') : undefined,
  );
  if (turn.citations?.length) {
    el.append(
      h(
        'div',
        { class: 'citations' },
        h('span', { class: 'muted' }, 'Sources: '),
        ...turn.citations.map((c) =>
          h(
            'button',
            {
              class: 'citation link',
              title: `Open ${c.path} at line ${c.startLine}`,
              onclick: () => void messenger.request('chat/openCitation', c),
            },
            `${c.path}:${c.startLine}-${c.endLine}`,
          ),
        ),
      ),
    );
  }
  if (turn.error) {
    el.append(
      h(
        'div',
        { class: 'turn-error', role: 'alert', 'data-kind': turn.error.kind },
        h(
          'div',
          { class: 'error-head' },
          icon('error'),
          h(
            'div',
            { class: 'error-body' },
            turn.error.title ? h('div', { class: 'error-title' }, capitalize(turn.error.title)) : undefined,
            h('div', { class: 'error-message' }, turn.error.message),
          ),
        ),
        h(
          'div',
          { class: 'error-actions' },
          ...turn.error.actions.map((a) =>
            h(
              'button',
              {
                class: 'secondary error-action',
                'data-action': a.id,
                onclick: () => void messenger.request('chat/action', { turnId: turn.id, action: a }),
              },
              a.label,
            ),
          ),
        ),
      ),
    );
  }
  return el;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const CODE_ACTION_ICONS: Record<CodeAction, string> = { copy: 'copy', insert: 'insert', replace: 'replace', newFile: 'new-file' };

function addCodeActions(root: HTMLElement): void {
  const actions: [CodeAction, string, string][] = [
    ['copy', CODE_ACTION_ICONS.copy, 'Copy'],
    ['insert', CODE_ACTION_ICONS.insert, 'Insert at Cursor'],
    ['replace', CODE_ACTION_ICONS.replace, 'Replace Selection'],
    ['newFile', CODE_ACTION_ICONS.newFile, 'New File'],
  ];
  for (const pre of root.querySelectorAll<HTMLPreElement>('pre.code-block')) {
    const code = pre.querySelector('code')?.textContent ?? '';
    const bar = h('div', { class: 'code-actions' });
    for (const [action, codicon, label] of actions) {
      const button = h(
        'button',
        {
          class: 'icon-button',
          title: label,
          'aria-label': label,
          'data-code-action': action,
          onclick: () => void codeAction(button, action, code, pre.dataset.lang),
        },
        icon(codicon),
      );
      bar.append(button);
    }
    // One frame per block: a header with the language and the actions, then the code, on one background.
    const frame = h('div', { class: 'code-frame', 'data-lang': pre.dataset.lang || undefined });
    pre.replaceWith(frame);
    frame.append(h('div', { class: 'code-header' }, h('span', { class: 'code-lang' }, pre.dataset.lang || 'text'), bar), pre);
  }
}

/** Runs a code action on the host; the button shows a check (and says "Copied" / "Done") for a moment when it worked. */
async function codeAction(button: HTMLElement, action: CodeAction, code: string, language: string | undefined): Promise<void> {
  const label = button.getAttribute('aria-label') ?? '';
  try {
    await messenger.request('chat/code', { action, code, language: language || undefined });
  } catch {
    return; // the host has shown the error
  }
  const done = action === 'copy' ? 'Copied' : 'Done';
  button.replaceChildren(icon('check'));
  button.setAttribute('aria-label', done);
  button.title = done;
  button.dataset.done = 'true';
  setTimeout(() => {
    button.replaceChildren(icon(CODE_ACTION_ICONS[action]));
    button.setAttribute('aria-label', label);
    button.title = label;
    delete button.dataset.done;
  }, 1500);
}

/** The empty conversation; on a first run with no model anywhere, how to get one. */
function emptyState(noModel: boolean): HTMLElement {
  if (!noModel)
    return h(
      'div',
      { class: 'empty muted' },
      icon('comment-discussion'),
      h('p', {}, 'Ask a question. Answers say which model gave them, local or cloud.'),
    );
  const action = (id: ErrorAction['id'], label: string, primary = false) =>
    h(
      'button',
      {
        class: `${primary ? '' : 'secondary '}first-run-action`,
        'data-action': id,
        onclick: () => void messenger.request('chat/action', { turnId: '', action: { id, label } }).catch(() => undefined),
      },
      label,
    );
  return h(
    'div',
    { class: 'empty first-run', id: 'first-run' },
    icon('server-environment'),
    h('h2', {}, 'No model found yet'),
    h(
      'p',
      { class: 'muted' },
      'Start a local server: Ollama (port 11434), a llama.cpp server (8080), LM Studio (1234) or vLLM (8000). It is found as soon as it answers. No server? Download a GGUF model and Switchyard runs it itself.',
    ),
    h(
      'div',
      { class: 'first-run-actions' },
      action('walkthrough', 'Get Started', true),
      action('startOllama', 'Start Ollama'),
      action('downloadGguf', 'Download a GGUF Model'),
      action('openSettings', 'Open Model Settings'),
    ),
  );
}

function renderRoute(): void {
  if (!state) return;
  routeLabel.replaceChildren(icon('arrow-swap'), ` ${state.route ?? 'finding a model…'}`);
  // A narrow sidebar cuts the label short: the tooltip has all of it.
  routeLabel.title = `The model that would answer now: ${state.route ?? 'finding a model…'}`;
}

function renderIndexNote(): void {
  if (!state) return;
  indexNote.textContent = state.workspaceIndex.note ?? '';
}

function renderAll(): void {
  if (!state) return;
  renderRoute();
  renderIndexNote();
  const turns = state.conversation.turns;
  log.replaceChildren(...(turns.length ? turns.map(renderTurn) : [emptyState(state.noModel === true)]));
  renderHistory();
  renderBusy();
  log.scrollTop = log.scrollHeight;
}

function scheduleTurn(id: string): void {
  dirty.add(id);
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    for (const turnId of dirty) {
      const turn = state?.conversation.turns.find((t) => t.id === turnId);
      const old = log.querySelector(`[data-turn="${CSS.escape(turnId)}"]`);
      if (turn && old) old.replaceWith(renderTurn(turn));
      else if (turn) renderAll();
    }
    dirty.clear();
    if (stick) log.scrollTop = log.scrollHeight;
  });
}

messenger.on('chat/state', (s) => {
  state = s;
  editor = s.editor ?? {};
  renderAttachments();
  streamingId = s.streaming ?? (localSend ? streamingId : undefined);
  renderAll();
});
messenger.on('chat/turn', (turn) => {
  if (!state) return;
  const turns = state.conversation.turns;
  const i = turns.findIndex((t) => t.id === turn.id);
  if (i >= 0) turns[i] = turn;
  else turns.push(turn);
  scheduleTurn(turn.id);
});
messenger.on('chat/chunk', ({ turnId, text }) => {
  const turn = state?.conversation.turns.find((t) => t.id === turnId);
  if (!turn) return;
  turn.text += text;
  scheduleTurn(turnId);
});
messenger.on('chat/reasoning', ({ turnId, text }) => {
  const turn = state?.conversation.turns.find((t) => t.id === turnId);
  if (!turn) return;
  turn.reasoning = (turn.reasoning ?? '') + text;
  scheduleTurn(turnId);
});
messenger.on('chat/editor', (e) => {
  editor = e;
  renderAttachments();
});
messenger.on('chat/route', ({ route, noModel }) => {
  if (!state) return;
  const emptyChanged = state.conversation.turns.length === 0 && state.noModel !== noModel;
  state.route = route;
  state.noModel = noModel;
  renderRoute();
  // The empty view shows how to get a model only while there is none.
  if (emptyChanged) renderAll();
});
messenger.on('chat/index', (workspaceIndex) => {
  if (!state) return;
  state.workspaceIndex = workspaceIndex;
  renderIndexNote();
});
messenger.on('chat/focusInput', ({ text }) => {
  if (text !== undefined) prompt.value = text;
  prompt.focus();
});

// "Focus on Chat View" (and any other way the view gets focus) lands in the prompt, unless the user was elsewhere in
// the page (a history entry, a code action).
window.addEventListener('focus', () => {
  if (document.activeElement === document.body || document.activeElement === null) prompt.focus();
});

renderBusy();
messenger.ready();
prompt.focus();
// First paint, for the benchmark: the harness reads this mark from the webview.
requestAnimationFrame(() => performance.mark('switchyard-first-paint'));
