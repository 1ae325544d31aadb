/**
 * The model settings panel's UI: providers, per-task candidate lists, privacy. It shows the host's `settings/state`
 * (settings.json, re-sent on every change) and sends edits as typed requests; it never holds an API key.
 */
import '@vscode/codicons/dist/codicon.css';
import './settings.css';
import type {
  CandidateView,
  InstalledModels,
  ModelTarget,
  ModelOption,
  PrivacyModeView,
  ProviderEdit,
  ProviderKindView,
  ProviderView,
  RouteView,
  SettingsNotifications,
  SettingsRequests,
  SettingsState,
  SettingsTask,
} from '../src/protocol/settings';
import { PRESET_IDS, PROVIDER_KINDS, TASK_NAMES } from '../src/protocol/vocabulary';
import { h, icon, Messenger } from './messenger';

const messenger = new Messenger<SettingsRequests, SettingsNotifications>();
const app = document.getElementById('app')!;

const TASKS: readonly SettingsTask[] = TASK_NAMES;
const TASK_HELP: Record<SettingsTask, string> = {
  chat: 'The chat view.',
  explain: 'Explain Selection / Explain File.',
  edit: 'Code edits.',
  commitMessage: 'Commit messages.',
  summarize: 'Summaries.',
  embed: 'Embeddings for the workspace index (embedding models only).',
  complete: 'Inline code completions (code models that fill in the middle; cloud only with switchyard.completion.allowCloud).',
};
const PRESETS = ['', ...PRESET_IDS];

let state: SettingsState | undefined;
let models: ModelOption[] = [];
let routes: Partial<Record<SettingsTask, RouteView>> = {};
const testResults = new Map<string, HTMLElement>();
let editing: { previousId?: string; draft: ProviderEdit } | undefined;
let status = '';
let installed: InstalledModels | undefined;
/** Drafts of the Models section's inputs, kept across re-renders (settings/state re-renders the whole page). */
const pullDrafts = new Map<string, string>();
/** Candidate number fields being edited, by element id (see numberInput). */
const paramDrafts = new Map<string, string>();
/** True while render() swaps the page: a focused field that is removed then must not commit its draft. */
let rendering = false;
let ggufDraft = { url: '', sha256: '' };
let modelBusy = false;

function setStatus(text: string): void {
  status = text;
  const el = document.getElementById('status');
  if (el) el.textContent = text;
}

async function act<T>(p: Promise<T>, done?: string): Promise<T | undefined> {
  try {
    const v = await p;
    if (done) setStatus(done);
    return v;
  } catch (e) {
    setStatus(`Error: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

async function loadModels(refresh = false): Promise<void> {
  models = (await act(messenger.request('settings/models', { refresh }))) ?? models;
  render();
}

async function loadRoutes(): Promise<void> {
  routes = (await act(messenger.request('settings/routes', {}))) ?? routes;
  render();
}

async function loadInstalled(): Promise<void> {
  installed = (await act(messenger.request('settings/installed', {}))) ?? installed;
  render();
}

/** Runs a Models action on the host (which shows progress, cancel and any confirmation), then lists again. */
async function modelAction<T>(p: Promise<T>, ok: (v: T) => string | undefined): Promise<void> {
  modelBusy = true;
  render();
  const v = await act(p);
  modelBusy = false;
  if (v !== undefined) {
    const text = ok(v);
    if (text) setStatus(text);
  }
  await loadInstalled();
  void loadModels();
}

// ---- models (install, delete) --------------------------------------------------------------------------------------
function deleteButton(target: ModelTarget, label: string): HTMLElement {
  return h(
    'button',
    {
      class: 'icon-button delete-model',
      title: `Delete ${label}`,
      'aria-label': `Delete ${label}`,
      disabled: modelBusy,
      onclick: () =>
        void modelAction(messenger.request('settings/deleteModel', { target }), (r) => (r.deleted ? `Deleted ${label}.` : undefined)),
    },
    icon('trash'),
  );
}

function modelsSection(): HTMLElement {
  const body: (HTMLElement | undefined)[] = [];
  if (!installed) body.push(h('p', { class: 'muted' }, icon('loading codicon-modifier-spin'), ' listing models…'));
  for (const o of installed?.ollama ?? []) {
    const input = h('input', {
      class: 'pull-name',
      value: pullDrafts.get(o.providerId) ?? '',
      placeholder: 'Ollama model, e.g. qwen2.5-coder:1.5b',
      'aria-label': `Model to pull into ${o.providerId}`,
      oninput: (e: Event) => pullDrafts.set(o.providerId, (e.target as HTMLInputElement).value),
    });
    const pull = () => {
      const model = input.value.trim();
      if (!/^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/.test(model))
        return setStatus('An Ollama model name is letters, digits and . _ : / @ - (e.g. qwen2.5-coder:1.5b).');
      pullDrafts.delete(o.providerId);
      void modelAction(messenger.request('settings/pullModel', { providerId: o.providerId, model }), (r) =>
        r.done ? `Pulled ${model} into ${o.providerId}.` : `Pull of ${model} did not finish.`,
      );
    };
    body.push(
      h(
        'div',
        { class: 'model-group', 'data-ollama': o.providerId },
        h('h3', {}, icon('server'), ` ${o.providerId} `, h('span', { class: 'muted small' }, `Ollama · ${o.baseUrl}`)),
        o.error
          ? h('p', { class: 'warning' }, icon('warning'), ` Cannot list models: ${o.error}`)
          : o.models.length
            ? h(
                'table',
                {},
                h('thead', {}, h('tr', {}, ...['Model', 'Size', 'Family', ''].map((t) => h('th', {}, t)))),
                h(
                  'tbody',
                  {},
                  ...o.models.map((m) =>
                    h(
                      'tr',
                      { class: 'installed-model', 'data-model': m.name },
                      h('td', { class: 'name' }, m.name),
                      h('td', { class: 'size' }, m.size),
                      h('td', { class: 'family' }, [m.family, m.parameterSize, m.quantization].filter(Boolean).join(' · ')),
                      h(
                        'td',
                        { class: 'actions' },
                        deleteButton({ kind: 'ollama', providerId: o.providerId, model: m.name }, `${m.name} from ${o.providerId}`),
                      ),
                    ),
                  ),
                ),
              )
            : h('p', { class: 'muted' }, 'No models installed.'),
        h(
          'form',
          { class: 'row pull-form', onsubmit: (e: Event) => (e.preventDefault(), pull()) },
          input,
          h('button', { type: 'submit', class: 'pull', disabled: modelBusy }, icon('cloud-download'), 'Pull'),
        ),
      ),
    );
  }
  for (const g of installed?.gguf ?? []) {
    if (!g.files.length && !g.providerIds.length) continue;
    body.push(
      h(
        'div',
        { class: 'model-group', 'data-gguf-dir': g.dir },
        h(
          'h3',
          {},
          icon('file-binary'),
          ' GGUF ',
          h('span', { class: 'muted small' }, `${g.providerIds.length ? `${g.providerIds.join(', ')} · ` : ''}${g.dir}`),
        ),
        g.files.length
          ? h(
              'table',
              {},
              h(
                'tbody',
                {},
                ...g.files.map((f) =>
                  h(
                    'tr',
                    { class: 'installed-model', 'data-model': f.id },
                    h('td', { class: 'name' }, f.id),
                    h('td', { class: 'size' }, f.size),
                    h('td', { class: 'family' }, 'gguf'),
                    h('td', { class: 'actions' }, deleteButton({ kind: 'gguf', dir: g.dir, id: f.id }, f.id)),
                  ),
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No GGUF files yet.'),
      ),
    );
  }
  const url = h('input', {
    id: 'gguf-url',
    value: ggufDraft.url,
    placeholder: 'https://huggingface.co/…/resolve/main/model-q4_k_m.gguf',
    'aria-label': 'GGUF file URL',
    oninput: (e: Event) => (ggufDraft.url = (e.target as HTMLInputElement).value),
  });
  const sha = h('input', {
    id: 'gguf-sha256',
    value: ggufDraft.sha256,
    placeholder: 'sha256 (optional)',
    'aria-label': 'sha256 of the file (optional)',
    oninput: (e: Event) => (ggufDraft.sha256 = (e.target as HTMLInputElement).value),
  });
  const download = () => {
    const u = url.value.trim();
    const sum = sha.value.trim();
    if (!/^https?:\/\/\S+\.gguf(\?\S*)?$/i.test(u)) return setStatus('Give an http(s) URL of a .gguf file.');
    if (sum && !/^[0-9a-fA-F]{64}$/.test(sum)) return setStatus('A sha256 is 64 hex digits (or leave it empty).');
    ggufDraft = { url: '', sha256: '' };
    void modelAction(messenger.request('settings/downloadGguf', { url: u, sha256: sum }), (r) =>
      r.done ? 'Downloaded the GGUF model.' : 'The download did not finish.',
    );
  };
  return h(
    'section',
    { class: 'card', id: 'models', 'aria-labelledby': 'models-h' },
    h(
      'h2',
      { id: 'models-h' },
      icon('package'),
      ' Models',
      h('span', { class: 'spacer' }),
      h(
        'button',
        {
          class: 'icon-button',
          id: 'refresh-installed',
          title: 'List installed models again',
          'aria-label': 'List installed models again',
          onclick: () => void loadInstalled(),
        },
        icon('refresh'),
      ),
    ),
    ...body,
    h(
      'form',
      { class: 'row download-form', onsubmit: (e: Event) => (e.preventDefault(), download()) },
      url,
      sha,
      h('button', { type: 'submit', class: 'download', disabled: modelBusy }, icon('desktop-download'), 'Download GGUF'),
    ),
    h('p', { class: 'muted small' }, 'Pulls and downloads show their progress (with Cancel) in a notification; deleting asks first.'),
  );
}

// ---- privacy -------------------------------------------------------------------------------------------------------
function privacySection(s: SettingsState): HTMLElement {
  const modes: [PrivacyModeView, string][] = [
    ['local-only', 'Nothing leaves this machine (or hosts you marked local).'],
    ['ask', 'Ask before the first cloud request of a workspace.'],
    ['allow', 'Use cloud candidates whenever they come first or local ones fail.'],
  ];
  return h(
    'section',
    { class: 'card', id: 'privacy', 'aria-labelledby': 'privacy-h' },
    h('h2', { id: 'privacy-h' }, icon('shield'), ' Privacy'),
    h(
      'div',
      { role: 'radiogroup', 'aria-label': 'Privacy mode' },
      ...modes.map(([mode, help]) =>
        h(
          'label',
          { class: 'radio' },
          h('input', {
            type: 'radio',
            name: 'privacy',
            value: mode,
            checked: s.privacy === mode,
            onchange: () => void act(messenger.request('settings/setPrivacy', { mode }), `Privacy set to ${mode} (user settings).`),
          }),
          h('strong', {}, mode),
          h('span', { class: 'muted' }, ` — ${help}`),
        ),
      ),
    ),
    h(
      'label',
      { class: 'checkbox' },
      h('input', {
        type: 'checkbox',
        id: 'opt-out',
        checked: s.workspaceOptOut,
        disabled: !s.hasWorkspace,
        onchange: (e: Event) => void act(messenger.request('settings/setOptOut', { value: (e.target as HTMLInputElement).checked })),
      }),
      'Keep this workspace local-only (workspace setting)',
    ),
    !s.trusted
      ? h('p', { class: 'warning' }, icon('warning'), ' This workspace is not trusted: it is local-only whatever is set here.')
      : undefined,
    s.optOutAnywhere && !s.workspaceOptOut
      ? h('p', { class: 'muted' }, 'Another settings level opts this workspace out of cloud use.')
      : undefined,
    h('p', { class: 'muted small' }, 'Privacy is saved in your user settings only, so no workspace can loosen it.'),
  );
}

// ---- providers -----------------------------------------------------------------------------------------------------
function providerRow(p: ProviderView): HTMLElement {
  const result = testResults.get(p.id) ?? h('span', { class: 'test-result' });
  testResults.set(p.id, result);
  const cloud = !p.effectiveLocal;
  return h(
    'tr',
    { 'data-provider': p.id },
    h(
      'td',
      {},
      h('strong', {}, p.id),
      // Only a server that answered is "found"; the other standard ports are listed as what they are.
      p.implicit && p.answered ? h('span', { class: 'muted small found' }, ' (found on this machine)') : undefined,
      p.implicit && !p.answered ? h('span', { class: 'muted small not-running' }, ' (standard port, nothing answering)') : undefined,
    ),
    h('td', {}, p.kind, p.preset ? h('span', { class: 'muted' }, ` · ${p.preset}`) : undefined),
    h('td', { class: 'url' }, p.effectiveBaseUrl),
    h('td', {}, h('span', { class: `badge ${cloud ? 'cloud' : 'local'}` }, cloud ? 'cloud' : 'local')),
    h(
      'td',
      {},
      cloud || p.apiKeyEnv
        ? p.hasStoredKey
          ? h('span', {}, icon('key'), ' stored')
          : h('span', { class: 'muted' }, p.apiKeyEnv ? `env ${p.apiKeyEnv}` : 'none')
        : h('span', { class: 'muted' }, '—'),
    ),
    h(
      'td',
      { class: 'actions' },
      h('button', { class: 'secondary test', title: 'Test connection', onclick: () => void testProvider(p.id) }, icon('plug'), 'Test'),
      cloud || p.apiKeyEnv
        ? h(
            'button',
            {
              class: 'icon-button',
              title: p.hasStoredKey ? 'Replace API key' : 'Set API key',
              'aria-label': 'Set API key',
              onclick: () => void act(messenger.request('settings/setKey', { providerId: p.id })),
            },
            icon('key'),
          )
        : undefined,
      p.hasStoredKey
        ? h(
            'button',
            {
              class: 'icon-button',
              title: 'Clear API key',
              'aria-label': 'Clear API key',
              onclick: () => void act(messenger.request('settings/clearKey', { providerId: p.id }), `Key for ${p.id} removed.`),
            },
            icon('close'),
          )
        : undefined,
      !p.implicit
        ? h('button', { class: 'icon-button', title: 'Edit', 'aria-label': `Edit ${p.id}`, onclick: () => startEdit(p) }, icon('edit'))
        : undefined,
      !p.implicit
        ? h(
            'button',
            {
              class: 'icon-button',
              title: 'Remove',
              'aria-label': `Remove ${p.id}`,
              onclick: () => void act(messenger.request('settings/removeProvider', { id: p.id }), `Removed ${p.id}.`),
            },
            icon('trash'),
          )
        : undefined,
      result,
    ),
  );
}

async function testProvider(id: string): Promise<void> {
  const el = testResults.get(id);
  if (el) el.replaceChildren(icon('loading codicon-modifier-spin'), ' testing…');
  const r = await act(messenger.request('settings/test', { providerId: id }));
  if (!el || !r) return;
  el.className = `test-result ${r.ok ? 'ok' : 'failed'}`;
  el.replaceChildren(
    r.ok
      ? `✓ ${r.latencyMs} ms${r.version ? ` · v${r.version}` : ''}${r.modelCount !== undefined ? ` · ${r.modelCount} model${r.modelCount === 1 ? '' : 's'}` : ''}`
      : `✗ ${r.message ?? r.errorKind ?? 'failed'}`,
  );
  if (r.errorKind) el.dataset.kind = r.errorKind;
  else delete el.dataset.kind;
}

function startEdit(p?: ProviderView): void {
  editing = p
    ? { previousId: p.id, draft: { id: p.id, kind: p.kind, baseUrl: p.baseUrl, preset: p.preset, local: p.local, apiKeyEnv: p.apiKeyEnv } }
    : { draft: { id: '', kind: 'ollama', baseUrl: state?.defaultUrls?.ollama ?? 'http://127.0.0.1:11434' } };
  render();
}

function providerForm(): HTMLElement | undefined {
  if (!editing) return undefined;
  const d = editing.draft;
  const field = (label: string, input: HTMLElement) => h('label', { class: 'field' }, h('span', {}, label), input);
  // Every field writes into the draft as the user types: the page re-renders on routes, discovery and settings answers.
  const keep = (write: (v: string) => void) => (e: Event) => write((e.target as HTMLInputElement | HTMLSelectElement).value);
  const kind = h(
    'select',
    {
      id: 'provider-kind',
      onchange: keep((v) => {
        // A URL that is empty or still the old kind's standard one follows the kind; one the user typed stays.
        const defaults = state?.defaultUrls ?? {};
        const current = url.value.trim();
        const follows = !current || current === defaults[d.kind];
        d.kind = v as ProviderKindView;
        if (follows) {
          d.baseUrl = defaults[d.kind] ?? '';
          url.value = d.baseUrl;
        }
      }),
    },
    ...PROVIDER_KINDS.filter((k) => k !== 'embedded').map((k) => h('option', { value: k, selected: d.kind === k }, k)),
  );
  const preset = h(
    'select',
    { id: 'provider-preset', onchange: keep((v) => (d.preset = v || undefined)) },
    ...PRESETS.map((k) => h('option', { value: k, selected: (d.preset ?? '') === k }, k || '(none)')),
  );
  const local = h(
    'select',
    { id: 'provider-local', onchange: keep((v) => (d.local = v === '' ? undefined : v === 'true')) },
    h('option', { value: '', selected: d.local === undefined }, 'by host name'),
    h('option', { value: 'true', selected: d.local === true }, 'local'),
    h('option', { value: 'false', selected: d.local === false }, 'cloud'),
  );
  const id = h('input', {
    id: 'provider-id',
    value: d.id,
    placeholder: 'e.g. ollama',
    pattern: '[A-Za-z0-9][A-Za-z0-9._-]*',
    required: true,
    oninput: keep((v) => (d.id = v)),
  });
  const url = h('input', {
    id: 'provider-url',
    value: d.baseUrl ?? '',
    placeholder: 'http://127.0.0.1:11434 (optional with a preset)',
    oninput: keep((v) => (d.baseUrl = v)),
  });
  const env = h('input', {
    id: 'provider-env',
    value: d.apiKeyEnv ?? '',
    placeholder: 'optional, e.g. OPENAI_API_KEY',
    oninput: keep((v) => (d.apiKeyEnv = v)),
  });
  const save = async () => {
    const draft: ProviderEdit = {
      id: id.value.trim(),
      kind: kind.value as ProviderKindView,
      baseUrl: url.value.trim() || undefined,
      preset: preset.value || undefined,
      local: local.value === '' ? undefined : local.value === 'true',
      apiKeyEnv: env.value.trim() || undefined,
    };
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(draft.id)) return setStatus('A provider id is letters, digits, ".", "_" or "-".');
    if (!draft.baseUrl && !draft.preset) return setStatus('Give a base URL or a preset.');
    const ok = await act(
      messenger.request('settings/saveProvider', { previousId: editing?.previousId, provider: draft }),
      `Saved ${draft.id} (user settings).`,
    );
    if (ok !== undefined) {
      editing = undefined;
      render();
    }
  };
  return h(
    'form',
    { class: 'provider-form', onsubmit: (e: Event) => (e.preventDefault(), void save()) },
    h('h3', {}, editing.previousId ? `Edit ${editing.previousId}` : 'Add provider'),
    field('Id', id),
    field('Kind', kind),
    field('Preset', preset),
    field('Base URL', url),
    field('Counts as', local),
    field('Key variable', env),
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'submit' }, 'Save'),
      h('button', { type: 'button', class: 'secondary', onclick: () => ((editing = undefined), render()) }, 'Cancel'),
    ),
    h('p', { class: 'muted small' }, 'API keys are set with the key button after saving; they go to SecretStorage, never to settings.'),
  );
}

function providersSection(s: SettingsState): HTMLElement {
  return h(
    'section',
    { class: 'card', id: 'providers', 'aria-labelledby': 'providers-h' },
    h('h2', { id: 'providers-h' }, icon('server'), ' Providers'),
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...['Id', 'Kind', 'Base URL', 'Where', 'Key', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...s.providers.map(providerRow)),
    ),
    providerForm() ?? h('button', { class: 'secondary', id: 'add-provider', onclick: () => startEdit() }, icon('add'), 'Add provider'),
  );
}

// ---- tasks ---------------------------------------------------------------------------------------------------------
function optionLabel(o: ModelOption): string {
  const bits = [o.local ? 'local' : 'cloud'];
  if (o.contextLength) bits.push(`${o.contextLength >= 1024 ? `${Math.round(o.contextLength / 1024)}k` : o.contextLength} ctx`);
  if (o.price) bits.push(`$${o.price.input}/$${o.price.output} per 1M`);
  if (o.tools) bits.push('tools');
  if (o.vision) bits.push('vision');
  if (o.embeddings) bits.push('embeddings');
  if (o.catalogOnly) bits.push('catalog');
  return `${o.ref} — ${bits.join(', ')}`;
}

function saveTask(task: SettingsTask, list: CandidateView[]): void {
  void act(messenger.request('settings/setTask', { task, candidates: list }), `Saved ${task} (settings.json).`).then(() => loadRoutes());
}

/**
 * A candidate's number field. What the user types is kept as a draft (by the field's id) until it is committed on
 * change or blur, so a re-render while they type (routes and discovery answers re-render the page) neither loses it
 * nor commits a half-typed value.
 */
function numberInput(
  id: string,
  label: string,
  value: number | undefined,
  attrs: Record<string, string>,
  onSet: (v: number | undefined) => void,
): HTMLElement {
  const saved = value === undefined ? '' : String(value);
  const commit = (e: Event) => {
    if (rendering || !paramDrafts.has(id)) return;
    paramDrafts.delete(id);
    const v = (e.target as HTMLInputElement).value.trim();
    if (v !== saved) onSet(v === '' ? undefined : Number(v));
  };
  const input = h('input', {
    id,
    type: 'number',
    value: paramDrafts.get(id) ?? saved,
    ...attrs,
    'aria-label': label,
    oninput: (e: Event) => paramDrafts.set(id, (e.target as HTMLInputElement).value),
    onchange: commit,
    onblur: commit,
  });
  return h('label', { class: 'param' }, h('span', { class: 'muted small' }, label), input);
}

function candidateRow(task: SettingsTask, list: CandidateView[], i: number): HTMLElement {
  const c = list[i]!;
  const move = (to: number) => {
    const next = [...list];
    const [item] = next.splice(i, 1);
    next.splice(to, 0, item!);
    saveTask(task, next);
  };
  const update = (patch: Partial<CandidateView>) => {
    const next = list.map((x, j) => (j === i ? { ...x, ...patch } : x));
    saveTask(task, next);
  };
  const option = models.find((o) => o.ref === c.model);
  // Keyed by model, so a draft follows its candidate when the list is reordered; a model listed twice (settings.json
  // edited by hand) gets its occurrence number, so the two rows never share a field id or a draft.
  const repeat = list.slice(0, i).filter((x) => x.model === c.model).length;
  const paramId = (name: string) => `param-${task}-${encodeURIComponent(c.model)}${repeat ? `~${repeat}` : ''}-${name}`;
  const li = h(
    'li',
    { class: 'candidate', 'data-model': c.model, draggable: 'true' },
    h('span', { class: 'grip', 'aria-hidden': 'true' }, icon('gripper')),
    h('span', { class: 'rank' }, `${i + 1}.`),
    h('span', { class: 'model' }, c.model),
    option ? h('span', { class: `badge ${option.local ? 'local' : 'cloud'}` }, option.local ? 'local' : 'cloud') : undefined,
    h('span', { class: 'spacer' }),
    task !== 'embed'
      ? numberInput(paramId('temperature'), 'temp', c.temperature, { min: '0', max: '2', step: '0.1', class: 'temperature' }, (v) =>
          update({ temperature: v }),
        )
      : undefined,
    task !== 'embed'
      ? numberInput(paramId('max-tokens'), 'max tokens', c.maxTokens, { min: '1', step: '1', class: 'max-tokens' }, (v) =>
          update({ maxTokens: v }),
        )
      : undefined,
    numberInput(paramId('context-size'), 'context', c.contextSize, { min: '256', step: '256', class: 'context-size' }, (v) =>
      update({ contextSize: v }),
    ),
    h(
      'button',
      { class: 'icon-button up', title: 'Move up', 'aria-label': `Move ${c.model} up`, disabled: i === 0, onclick: () => move(i - 1) },
      icon('arrow-up'),
    ),
    h(
      'button',
      {
        class: 'icon-button down',
        title: 'Move down',
        'aria-label': `Move ${c.model} down`,
        disabled: i === list.length - 1,
        onclick: () => move(i + 1),
      },
      icon('arrow-down'),
    ),
    h(
      'button',
      {
        class: 'icon-button remove',
        title: 'Remove',
        'aria-label': `Remove ${c.model}`,
        onclick: () =>
          saveTask(
            task,
            list.filter((_, j) => j !== i),
          ),
      },
      icon('close'),
    ),
  );
  li.addEventListener('dragstart', (e) => e.dataTransfer?.setData('text/x-switchyard-index', `${task}:${i}`));
  li.addEventListener('dragover', (e) => e.preventDefault());
  li.addEventListener('drop', (e) => {
    e.preventDefault();
    const [fromTask, from] = (e.dataTransfer?.getData('text/x-switchyard-index') ?? '').split(':');
    if (fromTask === task && from !== undefined && Number(from) !== i) {
      const next = [...list];
      const [item] = next.splice(Number(from), 1);
      next.splice(i, 0, item!);
      saveTask(task, next);
    }
  });
  return li;
}

function taskCard(s: SettingsState, task: SettingsTask): HTMLElement {
  const list = s.tasks[task];
  const fitting = models.filter((o) => (task === 'embed' ? o.embeddings : o.chat) && !list.some((c) => c.model === o.ref));
  const select = h(
    'select',
    { class: 'add-model', 'aria-label': `Add a model to ${task}` },
    h('option', { value: '' }, fitting.length ? 'Add a model…' : 'No more models found'),
    ...fitting.map((o) => h('option', { value: o.ref }, optionLabel(o))),
    !list.some((c) => c.model === 'auto') ? h('option', { value: 'auto' }, 'auto — models found on local servers') : undefined,
  );
  const route = routes[task];
  return h(
    'section',
    { class: 'card task', 'data-task': task },
    h('h3', {}, task, h('span', { class: 'muted small' }, ` ${TASK_HELP[task]}`)),
    h('ol', { class: 'candidates' }, ...list.map((_, i) => candidateRow(task, list, i))),
    list.length === 0 ? h('p', { class: 'muted' }, 'No candidates: this task cannot run.') : undefined,
    h(
      'div',
      { class: 'row' },
      select,
      h(
        'button',
        { class: 'secondary add-model-button', onclick: () => select.value && saveTask(task, [...list, { model: select.value }]) },
        icon('add'),
        'Add',
      ),
    ),
    h(
      'div',
      { class: 'route-now', title: route?.skipped.join('\n') ?? '' },
      icon('arrow-swap'),
      ' Now: ',
      route ? h('span', { class: 'route-answer' }, route.answer) : h('span', { class: 'muted' }, 'checking…'),
      route?.skipped.length ? h('span', { class: 'muted small' }, ` (skipped: ${route.skipped.join('; ')})`) : undefined,
    ),
  );
}

// ---- page ----------------------------------------------------------------------------------------------------------
function render(): void {
  if (!state) return;
  const s = state;
  const focused = document.activeElement?.id;
  const parts: (HTMLElement | undefined)[] = [
    h(
      'header',
      { class: 'page-header' },
      h('h1', {}, 'Switchyard Model Settings'),
      h('span', { class: 'spacer' }),
      h(
        'button',
        { class: 'secondary', id: 'refresh-models', title: 'Discover models again', onclick: () => void loadModels(true).then(loadRoutes) },
        icon('refresh'),
        'Refresh',
      ),
      h(
        'button',
        { class: 'secondary', id: 'open-json', onclick: () => void act(messenger.request('settings/openJson', {})) },
        icon('json'),
        'Open settings.json',
      ),
    ),
    h('div', { id: 'status', class: 'status', role: 'status', 'aria-live': 'polite' }, status),
    s.problems.length
      ? h('div', { class: 'problems', role: 'alert' }, ...s.problems.map((p) => h('p', {}, icon('warning'), ` ${p}`)))
      : undefined,
    privacySection(s),
    providersSection(s),
    modelsSection(),
    h('h2', { class: 'section-title' }, icon('list-ordered'), ' Models per task'),
    h('p', { class: 'muted' }, 'Each task tries its models in order; the first healthy one the privacy policy allows answers.'),
    ...TASKS.map((t) => taskCard(s, t)),
  ];
  rendering = true;
  try {
    app.replaceChildren(...parts.filter((p): p is HTMLElement => p !== undefined));
    if (focused) document.getElementById(focused)?.focus();
    // A draft whose candidate is gone (removed, or its task edited elsewhere) is dropped with it.
    for (const id of paramDrafts.keys()) if (!document.getElementById(id)) paramDrafts.delete(id);
  } finally {
    rendering = false;
  }
}

messenger.on('settings/state', (s) => {
  const first = !state;
  state = s;
  render();
  // Every settings change can change what is found (a key set, a provider added): models are asked again each time
  // (discovery answers from its cache unless the change made it forget that provider).
  void loadModels();
  if (first) void loadInstalled();
  void loadRoutes();
});
// A model pulled, deleted or downloaded anywhere (the command palette too): its list and the pickers follow at once.
messenger.on('settings/installed', (list) => {
  installed = list;
  render();
  void loadModels();
});
messenger.ready();
requestAnimationFrame(() => performance.mark('switchyard-first-paint'));
