// The settings panel's webview script in jsdom against a scripted host (test/fixtures/webviewDom.ts): requests are
// answered when the test says so, so re-renders can be placed exactly where a user is typing. The e2e suite drives the
// same panel in code-server, where that timing is luck.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { SettingsState } from '../../src/protocol/settings';
import { type DomElement as Input, loadWebview, webviewBundle } from '../fixtures/webviewDom';

const BUNDLE = webviewBundle('settings');

interface Sent {
  kind: string;
  id?: number;
  name?: string;
  payload?: unknown;
}

/** The panel in jsdom; `requests` holds what it asked the host, `reply` answers one. */
function openPanel() {
  const page = loadWebview<Sent>('settings', '<div id="app"></div>');
  return {
    ...page,
    requests: (name: string) => page.sent.filter((m) => m.kind === 'request' && m.name === name),
    notify: (name: string, payload: unknown) => page.deliver({ kind: 'notify', name, payload }),
    reply: async (m: Sent, payload: unknown) => {
      page.deliver({ kind: 'reply', id: m.id, ok: true, payload });
      // Let the awaiting code (act → render) run.
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    },
  };
}

function state(): SettingsState {
  const tasks = {
    chat: [{ model: 'box/qwen' }, { model: 'cloud/gpt' }],
    explain: [],
    edit: [],
    commitMessage: [],
    summarize: [],
    embed: [],
    complete: [],
  };
  return {
    providers: [],
    tasks,
    privacy: 'allow',
    workspaceOptOut: false,
    optOutAnywhere: false,
    trusted: true,
    hasWorkspace: true,
    problems: [],
  };
}

const routes = { chat: { answer: 'box/qwen', skipped: [] } };
const TEMP = 'param-chat-box%2Fqwen-temperature';

test(
  'settings panel (jsdom): a number being typed survives re-renders and is saved once, on blur',
  { skip: !fs.existsSync(BUNDLE) && 'run esbuild first' },
  async () => {
    const p = openPanel();
    try {
      assert.ok(
        p.sent.some((m) => m.kind === 'ready'),
        'the panel says ready',
      );
      p.notify('settings/state', state());
      const [routesAsk] = p.requests('settings/routes');
      assert.ok(routesAsk, 'routes are asked for after the state arrives');
      const before = p.window.document.getElementById(TEMP);
      assert.ok(before, 'a temperature field per chat candidate');
      p.type(before, '0.3');

      // The routes answer arrives while the user is typing: the page re-renders.
      await p.reply(routesAsk, routes);
      const after = p.window.document.getElementById(TEMP)!;
      assert.notEqual(after, before, 'the page was rendered again');
      assert.equal(after.value, '0.3', 'what the user typed is still there');
      assert.equal(p.window.document.activeElement, after, 'and the field still has focus');
      assert.equal(p.requests('settings/setTask').length, 0, 'nothing is saved while typing');

      // A settings change from elsewhere (a hand edit of settings.json) re-renders too.
      const other = state();
      other.privacy = 'ask';
      p.notify('settings/state', other);
      assert.equal(p.window.document.getElementById(TEMP)!.value, '0.3');

      p.window.document.getElementById(TEMP)!.blur();
      const saves = p.requests('settings/setTask');
      assert.equal(saves.length, 1, 'leaving the field saves it');
      assert.deepEqual(saves[0]!.payload, { task: 'chat', candidates: [{ model: 'box/qwen', temperature: 0.3 }, { model: 'cloud/gpt' }] });

      // Saved: the next state carries the value, and the field shows the saved value from then on (no stale draft).
      await p.reply(saves[0]!, null);
      const saved = state();
      saved.tasks.chat[0]!.temperature = 0.3;
      p.notify('settings/state', saved);
      const field = p.window.document.getElementById(TEMP)!;
      assert.equal(field.value, '0.3');
      field.focus();
      field.blur();
      assert.equal(p.requests('settings/setTask').length, 1, 'focus and blur without typing saves nothing');

      // Typing the value it already has saves nothing either; clearing it removes the parameter.
      p.type(field, '0.3');
      field.blur();
      assert.equal(p.requests('settings/setTask').length, 1);
      p.type(p.window.document.getElementById(TEMP)!, '');
      p.window.document.getElementById(TEMP)!.dispatchEvent(new p.window.Event('change', { bubbles: true }));
      const cleared = p.requests('settings/setTask');
      assert.equal(cleared.length, 2);
      assert.deepEqual(cleared[1]!.payload, { task: 'chat', candidates: [{ model: 'box/qwen' }, { model: 'cloud/gpt' }] });
    } finally {
      p.window.close();
    }
  },
);

test(
  'settings panel (jsdom): the Add provider form keeps what was typed across re-renders and saves it',
  { skip: !fs.existsSync(BUNDLE) && 'run esbuild first' },
  async () => {
    const p = openPanel();
    try {
      p.notify('settings/state', state());
      p.byId('add-provider').click();
      p.type(p.byId('provider-id'), 'lab');
      p.choose(p.byId('provider-kind'), 'openai-compatible');
      p.type(p.byId('provider-url'), 'http://10.0.0.5:8000/v1');
      p.choose(p.byId('provider-local'), 'true');
      p.type(p.byId('provider-env'), 'LAB_KEY');

      // Routes and a settings change arrive while the form is open.
      await p.reply(p.requests('settings/routes')[0]!, routes);
      p.notify('settings/state', { ...state(), privacy: 'ask' });
      assert.deepEqual(
        ['provider-id', 'provider-kind', 'provider-url', 'provider-local', 'provider-env'].map((id) => p.byId(id).value),
        ['lab', 'openai-compatible', 'http://10.0.0.5:8000/v1', 'true', 'LAB_KEY'],
      );

      p.byId('provider-id')
        .closest('form')!
        .dispatchEvent(new p.window.Event('submit', { bubbles: true, cancelable: true }));
      const [save] = p.requests('settings/saveProvider');
      assert.deepEqual(save?.payload, {
        provider: { id: 'lab', kind: 'openai-compatible', baseUrl: 'http://10.0.0.5:8000/v1', local: true, apiKeyEnv: 'LAB_KEY' },
      });
      await p.reply(save!, null);
      assert.equal(p.window.document.getElementById('provider-id'), null, 'the form closes once saved');
      assert.ok(p.byId('add-provider'));
    } finally {
      p.window.close();
    }
  },
);

test(
  'settings panel (jsdom): dragging a candidate onto another reorders the task; a drag from another task does nothing',
  { skip: !fs.existsSync(BUNDLE) && 'run esbuild first' },
  async () => {
    const p = openPanel();
    try {
      const s = state();
      s.tasks.chat.push({ model: 'lab/third' });
      s.tasks.explain = [{ model: 'box/qwen' }, { model: 'cloud/gpt' }];
      p.notify('settings/state', s);
      const row = (task: string, model: string) =>
        p.window.document.querySelector(`[data-task="${task}"] .candidate[data-model="${model}"]`)!;
      // jsdom has no DataTransfer: one object carries the data from dragstart to drop, as the browser's does.
      const carried = new Map<string, string>();
      const dataTransfer = { setData: (k: string, v: string) => carried.set(k, v), getData: (k: string) => carried.get(k) ?? '' };
      const drag = (type: string, el: Input) => {
        const e = new p.window.Event(type, { bubbles: true, cancelable: true });
        Object.defineProperty(e, 'dataTransfer', { value: dataTransfer });
        el.dispatchEvent(e);
      };
      drag('dragstart', row('chat', 'lab/third'));
      drag('drop', row('chat', 'box/qwen'));
      const saves = p.requests('settings/setTask');
      assert.equal(saves.length, 1);
      assert.deepEqual(saves[0]!.payload, {
        task: 'chat',
        candidates: [{ model: 'lab/third' }, { model: 'box/qwen' }, { model: 'cloud/gpt' }],
      });

      drag('dragstart', row('chat', 'cloud/gpt'));
      drag('drop', row('explain', 'box/qwen'));
      assert.equal(p.requests('settings/setTask').length, 1, 'a candidate dragged to another task is not moved there');
    } finally {
      p.window.close();
    }
  },
);

test(
  'settings panel (jsdom): a model listed twice in a task (a hand edit) gets two fields, each saving its own row',
  { skip: !fs.existsSync(BUNDLE) && 'run esbuild first' },
  async () => {
    const p = openPanel();
    try {
      const twice = state();
      twice.tasks.chat = [{ model: 'box/qwen' }, { model: 'cloud/gpt' }, { model: 'box/qwen', temperature: 0.9 }];
      p.notify('settings/state', twice);
      const fields = [...p.window.document.querySelectorAll('input.temperature')];
      assert.equal(fields.length, 3);
      assert.equal(new Set(fields.map((f) => f.id)).size, 3, 'no two fields share an id');
      const second = fields[2]!;
      assert.equal(second.value, '0.9');
      p.type(second, '0.5');
      second.blur();
      const saves = p.requests('settings/setTask');
      assert.equal(saves.length, 1);
      assert.deepEqual(
        saves[0]!.payload,
        { task: 'chat', candidates: [{ model: 'box/qwen' }, { model: 'cloud/gpt' }, { model: 'box/qwen', temperature: 0.5 }] },
        'the row typed into, not its namesake',
      );
    } finally {
      p.window.close();
    }
  },
);
