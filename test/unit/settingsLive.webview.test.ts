// The settings panel never shows a stale or false picture (jsdom, scripted host; test/fixtures/webviewDom.ts):
// "(found on this machine)" only for a zero-config server that answered; switching a provider's Kind moves a URL that
// was the old kind's standard one to the new kind's; models are asked again on every settings change (a key set, a
// provider added); Test connection shows the host's words.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { InstalledModels, ProviderView, SettingsState } from '../../src/protocol/settings';
import { loadWebview, webviewBundle } from '../fixtures/webviewDom';

const skip = !fs.existsSync(webviewBundle('settings')) && 'run esbuild first';
interface Sent {
  kind: string;
  id?: number;
  name?: string;
  payload?: unknown;
}

const provider = (id: string, kind: ProviderView['kind'], url: string, extra: Partial<ProviderView> = {}): ProviderView => ({
  id,
  kind,
  effectiveBaseUrl: url,
  effectiveLocal: true,
  hasStoredKey: false,
  implicit: false,
  ...extra,
});

function state(): SettingsState {
  return {
    providers: [
      provider('box', 'ollama', 'http://127.0.0.1:21434', { baseUrl: 'http://127.0.0.1:21434' }),
      provider('cloud', 'openai-compatible', 'https://api.example.com/v1', {
        effectiveLocal: false,
        baseUrl: 'https://api.example.com/v1',
      }),
      provider('ollama', 'ollama', 'http://127.0.0.1:11434', { implicit: true, answered: true }),
      provider('llamacpp', 'llamacpp', 'http://127.0.0.1:8080', { implicit: true, answered: false }),
    ],
    tasks: { chat: [], explain: [], edit: [], commitMessage: [], summarize: [], embed: [], complete: [] },
    privacy: 'ask',
    workspaceOptOut: false,
    optOutAnywhere: false,
    trusted: true,
    hasWorkspace: true,
    problems: [],
    defaultUrls: { ollama: 'http://127.0.0.1:11434', llamacpp: 'http://127.0.0.1:8080', 'openai-compatible': 'http://127.0.0.1:1234/v1' },
  };
}

function open() {
  const page = loadWebview<Sent>('settings', '<div id="app"></div>');
  const doc = page.window.document;
  return {
    ...page,
    doc,
    requests: (name: string) => page.sent.filter((m) => m.kind === 'request' && m.name === name),
    notify: (payload: SettingsState) => page.deliver({ kind: 'notify', name: 'settings/state', payload }),
    row: (id: string) => doc.querySelector(`tr[data-provider="${id}"]`)!,
    reply: async (m: Sent, payload: unknown) => {
      page.deliver({ kind: 'reply', id: m.id, ok: true, payload });
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    },
  };
}

test('settings panel (jsdom): "(found on this machine)" only for a server that answered', { skip }, () => {
  const p = open();
  try {
    p.notify(state());
    assert.match(p.row('ollama').textContent ?? '', /\(found on this machine\)/);
    assert.doesNotMatch(p.row('llamacpp').textContent ?? '', /found on this machine/, 'nothing answered on 8080');
    assert.match(p.row('llamacpp').textContent ?? '', /nothing answering/);
    assert.doesNotMatch(p.row('box').textContent ?? '', /found on this machine|nothing answering/, 'a configured provider is neither');
  } finally {
    p.window.close();
  }
});

test("settings panel (jsdom): switching Kind moves a standard URL to the new kind's; a URL the user typed stays", { skip }, () => {
  const p = open();
  try {
    p.notify(state());
    p.byId('add-provider').click();
    assert.equal(p.byId('provider-url').value, 'http://127.0.0.1:11434', 'a new provider starts as Ollama on its port');
    p.choose(p.byId('provider-kind'), 'llamacpp');
    assert.equal(p.byId('provider-url').value, 'http://127.0.0.1:8080', 'llama.cpp: its standard port');
    p.choose(p.byId('provider-kind'), 'openai-compatible');
    assert.equal(p.byId('provider-url').value, 'http://127.0.0.1:1234/v1');
    p.type(p.byId('provider-url'), 'http://10.0.0.5:8000/v1');
    p.choose(p.byId('provider-kind'), 'ollama');
    assert.equal(p.byId('provider-url').value, 'http://10.0.0.5:8000/v1', "a typed URL is the user's: it stays");
    // And the draft survives a re-render with the kind's URL.
    p.notify({ ...state(), privacy: 'allow' });
    assert.deepEqual([p.byId('provider-kind').value, p.byId('provider-url').value], ['ollama', 'http://10.0.0.5:8000/v1']);
  } finally {
    p.window.close();
  }
});

test(
  "settings panel (jsdom): models are asked again on every settings change, and Test connection shows the host's words",
  { skip },
  async () => {
    const p = open();
    try {
      p.notify(state());
      assert.equal(p.requests('settings/models').length, 1);
      const withKey = state();
      withKey.providers[1] = { ...withKey.providers[1]!, hasStoredKey: true };
      p.notify(withKey);
      assert.equal(p.requests('settings/models').length, 2, 'a key set (state re-sent) asks for the models again: no manual Refresh');

      (p.row('cloud').querySelector('button.test') as unknown as { click(): void }).click();
      const [ask] = p.requests('settings/test');
      assert.deepEqual(ask!.payload, { providerId: 'cloud' });
      await p.reply(ask!, {
        ok: false,
        errorKind: 'auth',
        message: 'no API key set for cloud: set one with the key button (it is kept in SecretStorage)',
      });
      const result = p.row('cloud').querySelector('.test-result')!;
      assert.equal(result.textContent, '✗ no API key set for cloud: set one with the key button (it is kept in SecretStorage)');
      assert.equal(result.getAttribute('data-kind'), 'auth');
    } finally {
      p.window.close();
    }
  },
);

test('settings panel (jsdom): a model pulled elsewhere (the command palette) shows in the open panel at once', { skip }, async () => {
  const p = open();
  const list = (names: string[]): InstalledModels => ({
    ollama: [
      { providerId: 'box', baseUrl: 'http://127.0.0.1:21434', models: names.map((name) => ({ name, sizeBytes: 1000, size: '1.0 KB' })) },
    ],
    gguf: [],
  });
  try {
    p.notify(state());
    const [first] = p.requests('settings/installed');
    await p.reply(first!, list(['qwen2.5-coder:7b']));
    const names = () =>
      [...p.doc.querySelectorAll('#models [data-ollama="box"] tr.installed-model')].map((r) => r.getAttribute('data-model'));
    assert.deepEqual(names(), ['qwen2.5-coder:7b']);
    const modelsAsked = p.requests('settings/models').length;
    // The host's notification after Switchyard: Pull Model finished: no request from the panel, no Refresh click.
    p.deliver({ kind: 'notify', name: 'settings/installed', payload: list(['qwen2.5-coder:7b', 'smollm2:135m']) });
    assert.deepEqual(names(), ['qwen2.5-coder:7b', 'smollm2:135m']);
    assert.equal(p.requests('settings/models').length, modelsAsked + 1, 'the task pickers ask for models again too');
  } finally {
    p.window.close();
  }
});
