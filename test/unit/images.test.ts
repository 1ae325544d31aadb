/**
 * Images in chat requests (issue 14): `image_url` parts as data URLs (remote URLs refused, never fetched) reach only
 * models with vision. Ollama gets `images` (base64 without the data: prefix), OpenAI-compatible servers and
 * llama.cpp content parts; the embedded provider refuses them. The router skips a candidate known to take no images
 * (Ollama /api/show, llama.cpp /props `modalities.vision`, the catalog, `"vision"` in switchyard.tasks) with "no image
 * input" and falls back; privacy is unchanged, and an image to the cloud is named in the egress record (redaction
 * reads text only). The gateway takes image parts from the real openai client. The fixtures record what they got.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { parseConfig, type PrivacyMode } from '../../src/core/config/config';
import { Gateway } from '../../src/core/gateway/server';
import { parseImageUrl } from '../../src/core/providers/images';
import type { ChatImage, ChatMessage } from '../../src/core/providers/types';
import { RouteError, type RoutedChatEvent } from '../../src/core/routing/router';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { runTurn, turnOfMessages } from '../../src/core/chat/turn';
import { validateSettingsMessage } from '../../src/vscode/webview/validate';
import { TINY_PNG_BASE64 } from '../fixtures/images';
import { scriptedBackend, startLlamaCppServer, startOllamaServer, startOpenAIServer, tinyModelPath, type FixtureServer } from '../fixtures';

const PNG = TINY_PNG_BASE64;
const IMAGE: ChatImage = { mimeType: 'image/png', data: PNG };
const KEY = 'sk-images-test-0123456789';
const withImage: ChatMessage[] = [{ role: 'user', content: 'What is in this picture?', imageParts: [IMAGE] }];

let ollama: FixtureServer;
let llamaVision: FixtureServer;
let llamaPlain: FixtureServer;
let cloud: FixtureServer;
let modelsDir: string;

before(async () => {
  const backend = scriptedBackend({ tokens: ['A', ' red', ' dot', '.'] });
  // llava:7b lists `vision` in /api/show; qwen2.5-coder:7b does not.
  ollama = await startOllamaServer({
    backend,
    models: [
      { name: 'qwen2.5-coder:7b', contextLength: 32768 },
      { name: 'llava:7b', contextLength: 4096, vision: true },
    ],
  });
  llamaVision = await startLlamaCppServer({ backend, modelAlias: 'gemma', vision: true });
  llamaPlain = await startLlamaCppServer({ backend, modelAlias: 'qwen' });
  cloud = await startOpenAIServer({
    backend,
    apiKey: KEY,
    models: [
      { name: 'gpt-4.1-mini', contextLength: 1047576 },
      { name: 'grok-code-fast-1', contextLength: 256000 },
    ],
  });
  modelsDir = mkdtempSync(path.join(tmpdir(), 'switchyard-images-'));
  copyFileSync(await tinyModelPath(), path.join(modelsDir, 'tiny.gguf'));
});
after(async () => {
  await Promise.all([ollama.close(), llamaVision.close(), llamaPlain.close(), cloud.close()]);
});
beforeEach(() => {
  for (const s of [ollama, llamaVision, llamaPlain, cloud]) s.reset();
});

function setup(chat: unknown[], privacy: PrivacyMode = 'local-only') {
  const usage = new MemoryLedger();
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
      { id: 'eye', kind: 'llamacpp', baseUrl: llamaVision.url },
      { id: 'plain', kind: 'llamacpp', baseUrl: llamaPlain.url },
      { id: 'emb', kind: 'embedded', modelPath: modelsDir },
      { id: 'openai', kind: 'openai-compatible', preset: 'openai', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_IMAGES_KEY' },
      { id: 'xai', kind: 'openai-compatible', preset: 'xai', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_IMAGES_KEY' },
    ],
    'switchyard.tasks': { chat },
    'switchyard.privacy': privacy,
    'switchyard.embedded.gpu': 'off',
  });
  assert.deepEqual(problems, []);
  const embeddedWorkerPath = path.resolve(__dirname, '../../dist/embeddedWorker.js');
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async (_id, env) => (env === 'SY_IMAGES_KEY' ? KEY : undefined) },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    usage,
    embeddedWorkerPath,
  });
  return { sy, usage };
}

async function run(events: AsyncIterable<RoutedChatEvent>) {
  let text = '';
  let route;
  for await (const ev of events) {
    if (ev.type === 'text') text += ev.text;
    else if (ev.type === 'route') route = ev.route;
  }
  return { text, route: route! };
}

function bodies(server: FixtureServer, p: string): any[] {
  return server.requests.filter((r) => r.method === 'POST' && r.path === p).map((r) => r.body);
}

test('image URLs: data URLs parse; remote URLs are refused with a reason, never fetched; broken data is refused', () => {
  assert.deepEqual(parseImageUrl(`data:image/png;base64,${PNG}`, 'low'), { image: { mimeType: 'image/png', data: PNG, detail: 'low' } });
  const remote = parseImageUrl('https://example.com/cat.png');
  assert.ok('error' in remote && remote.remote && /not fetched \(https: URL\).*data URL/.test(remote.error));
  for (const bad of ['data:image/png;base64,@@@', 'data:text/plain;base64,aGk=', 'data:image/png,rawbytes', 'data:image/png;base64,']) {
    const r = parseImageUrl(bad);
    assert.ok('error' in r && !r.remote, bad);
  }
});

test('Ollama: a vision model gets the images as base64 without the data: prefix; a model without vision is skipped with "no image input"', async () => {
  const { sy } = setup(['box/qwen2.5-coder:7b', 'box/llava:7b']);
  const r = await run(sy.router.chat({ task: 'chat', messages: withImage }));
  assert.equal(r.text, 'A red dot.');
  assert.equal(r.route.model, 'llava:7b');
  assert.equal(r.route.attempts[0]!.outcome, 'skipped');
  assert.equal(r.route.attempts[0]!.missing, 'images');
  assert.match(r.route.attempts[0]!.reason!, /^no image input \(box reports that qwen2\.5-coder:7b takes no images\)/);
  const [body] = bodies(ollama, '/api/chat');
  assert.equal(body.model, 'llava:7b');
  assert.deepEqual(body.messages.at(-1).images, [PNG]);
  assert.equal(body.messages.at(-1).content, 'What is in this picture?');
  // Text-only requests are unchanged: the first candidate answers and no `images` is sent.
  ollama.reset();
  const plain = await run(sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hi' }] }));
  assert.equal(plain.route.model, 'qwen2.5-coder:7b');
  assert.equal(bodies(ollama, '/api/chat')[0].messages[0].images, undefined);
});

test('Ollama: image data that names a file on this machine is sent as those bytes, never as the file (the ollama client reads paths)', async () => {
  // The Node ollama client's encodeImage sends the content of an existing file when handed a string naming it.
  const dir = mkdtempSync(path.join(tmpdir(), 'syimg'));
  let file = path.join(dir, 'secretfile');
  while (file.length % 4 !== 0) file += 'x';
  writeFileSync(file, 'the private key of this machine');
  assert.ok(!('error' in parseImageUrl(`data:image/png;base64,${file}`)), 'the path is valid base64');
  const { sy } = setup(['box/llava:7b']);
  await run(
    sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'see', imageParts: [{ mimeType: 'image/png', data: file }] }] }),
  );
  const [body] = bodies(ollama, '/api/chat');
  assert.equal(body.messages[0].images[0], Buffer.from(file, 'base64').toString('base64'));
  assert.notEqual(body.messages[0].images[0], Buffer.from('the private key of this machine').toString('base64'));
});

test('llama.cpp: /props modalities.vision decides; a multimodal server gets OpenAI content parts, a plain one is skipped', async () => {
  const { sy } = setup(['plain/qwen', 'eye/gemma']);
  const r = await run(
    sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'Describe', imageParts: [{ ...IMAGE, detail: 'high' }] }] }),
  );
  assert.equal(r.route.providerId, 'eye');
  assert.match(r.route.attempts[0]!.reason!, /^no image input \(plain reports that qwen takes no images\)/);
  assert.equal(bodies(llamaPlain, '/v1/chat/completions').length, 0);
  const [body] = bodies(llamaVision, '/v1/chat/completions');
  assert.deepEqual(body.messages.at(-1).content, [
    { type: 'text', text: 'Describe' },
    { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'high' } },
  ]);
  // "vision": true in the task overrides discovery: the plain server gets the parts and refuses them as llama-server
  // does (HTTP 500 "image input is not supported"), and the router falls back to the next candidate.
  llamaVision.reset();
  const { sy: forced } = setup([{ model: 'plain/qwen', vision: true }, 'eye/gemma']);
  const f = await run(forced.router.chat({ task: 'chat', messages: withImage }));
  assert.equal(f.route.providerId, 'eye');
  assert.equal(f.route.attempts[0]!.outcome, 'failed');
  assert.match(f.route.attempts[0]!.reason!, /image input is not supported/);
});

test('"vision": false in switchyard.tasks skips a vision model; the embedded provider is skipped (it reports no vision) or, forced, refuses as unsupported', async () => {
  const { sy } = setup([{ model: 'box/llava:7b', vision: false }, 'emb/tiny', 'eye/gemma']);
  const r = await run(sy.router.chat({ task: 'chat', messages: withImage }));
  assert.equal(r.route.providerId, 'eye');
  assert.deepEqual(
    r.route.attempts.filter((a) => a.outcome === 'skipped').map((a) => a.reason),
    ['no image input ("vision": false in switchyard.tasks)', 'no image input (emb reports that tiny takes no images)'],
  );
  assert.equal(bodies(ollama, '/api/chat').length, 0);
  const { sy: forced } = setup([{ model: 'emb/tiny', vision: true }, 'eye/gemma']);
  const f = await run(forced.router.chat({ task: 'chat', messages: withImage }));
  assert.equal(f.route.providerId, 'eye');
  assert.equal(f.route.attempts[0]!.kind, 'unsupported');
  assert.match(f.route.attempts[0]!.reason!, /takes no images/);
  // Nothing at all can take the image: the route error says why for each.
  const { sy: none } = setup(['box/qwen2.5-coder:7b', 'plain/qwen']);
  await assert.rejects(
    run(none.router.chat({ task: 'chat', messages: withImage })),
    (e: unknown) => e instanceof RouteError && e.attempts.every((a) => a.missing === 'images'),
  );
});

test('cloud: privacy unchanged (local-only never sends the image), the catalog decides vision, and egress names the image as not redacted', async () => {
  const { sy, usage } = setup(['openai/gpt-4.1-mini', 'box/llava:7b']);
  const local = await run(sy.router.chat({ task: 'chat', messages: withImage }));
  assert.equal(local.route.providerId, 'box');
  assert.equal(local.route.attempts[0]!.kind, 'policy');
  assert.equal(cloud.counts.total, 0);
  assert.equal(usage.egressRecords.length, 0);

  // The catalog lists grok-code-fast-1 without vision, gpt-4.1-mini with it.
  const { sy: allow, usage: ledger } = setup(['xai/grok-code-fast-1', 'openai/gpt-4.1-mini', 'box/llava:7b'], 'allow');
  // AWS's documented example key id, put together at run time so no key-shaped string is committed.
  const secret = ['AKIA', 'IOSFODNN7EXAMPLE'].join('');
  const r = await run(
    allow.router.chat({ task: 'chat', messages: [{ role: 'user', content: `key ${secret}, and this:`, imageParts: [IMAGE] }] }),
  );
  assert.equal(r.route.providerId, 'openai');
  assert.match(r.route.attempts[0]!.reason!, /^no image input \(the model catalog lists grok-code-fast-1 without vision\)/);
  const [body] = bodies(cloud, '/v1/chat/completions');
  assert.equal(body.model, 'gpt-4.1-mini');
  assert.equal(body.messages[0].content[1].image_url.url, `data:image/png;base64,${PNG}`);
  assert.ok(!JSON.stringify(body).includes(secret), 'the text was redacted');
  const record = ledger.egressRecords.at(-1)!;
  assert.equal(record.providerId, 'openai');
  assert.deepEqual(record.sources, [{ path: '1 image (not redacted)' }]);
  assert.ok(Object.keys(record.redactions).length > 0);
});

test('the gateway: the real openai client sends image parts; remote URLs, images outside user messages and routes without vision are 400s', async () => {
  const { sy } = setup(['box/qwen2.5-coder:7b', 'box/llava:7b']);
  const token = 'sy-gw-images-0123456789';
  const gateway = new Gateway({ source: sy, token, port: 0 });
  await gateway.start();
  try {
    const client = new OpenAI({ baseURL: gateway.url, apiKey: token, maxRetries: 0 });
    const content: OpenAI.Chat.Completions.ChatCompletionContentPart[] = [
      { type: 'text', text: 'What is ' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'low' } },
      { type: 'text', text: 'this?' },
    ];
    const answer = await client.chat.completions.create({ model: 'switchyard/chat', messages: [{ role: 'user', content }] });
    assert.equal(answer.choices[0]!.message.content, 'A red dot.');
    assert.equal(answer.model, 'box/llava:7b');
    const [body] = bodies(ollama, '/api/chat');
    assert.equal(body.messages[0].content, 'What is this?');
    assert.deepEqual(body.messages[0].images, [PNG]);
    // Streamed too.
    ollama.reset();
    let streamed = '';
    for await (const chunk of await client.chat.completions.create({
      model: 'switchyard/chat',
      messages: [{ role: 'user', content }],
      stream: true,
    }))
      streamed += chunk.choices[0]?.delta.content ?? '';
    assert.equal(streamed, 'A red dot.');
    assert.equal(bodies(ollama, '/api/chat')[0].model, 'llava:7b');

    ollama.reset();
    const refused = async (messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[], model = 'switchyard/chat') => {
      try {
        await client.chat.completions.create({ model, messages });
      } catch (e) {
        assert.ok(e instanceof OpenAI.APIError);
        return e;
      }
      assert.fail('expected a 400');
    };
    const remote = await refused([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }]);
    assert.equal(remote.status, 400);
    assert.equal(remote.code, 'image_url_not_supported');
    assert.equal(remote.param, 'messages[0].content[0].image_url.url');
    assert.match(remote.message, /not fetched.*data URL/);
    const broken = await refused([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,%%%' } }] }]);
    assert.equal(broken.code, 'invalid_image_url');
    const system = await refused([
      { role: 'system', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] as never },
      { role: 'user', content: 'hi' },
    ]);
    assert.equal(system.status, 400);
    assert.match(system.message, /only allowed in user messages/);
    assert.equal(bodies(ollama, '/api/chat').length, 0, 'nothing was sent for a refused request');
  } finally {
    await gateway.stop();
  }
  const { sy: blind } = setup(['box/qwen2.5-coder:7b', 'plain/qwen']);
  const gw = new Gateway({ source: blind, token: 'sy-gw-images-0123456789', port: 0 });
  await gw.start();
  try {
    const client = new OpenAI({ baseURL: gw.url, apiKey: 'sy-gw-images-0123456789', maxRetries: 0 });
    await assert.rejects(
      client.chat.completions.create({
        model: 'switchyard/chat',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] }],
      }),
      (e: unknown) =>
        e instanceof OpenAI.APIError && e.status === 400 && e.code === 'image_input_not_supported' && /no image input/.test(e.message),
    );
  } finally {
    await gw.stop();
  }
});

test("a whole message list (VS Code's Language Model API) keeps the question's images, and the turn routes them to a vision model", async () => {
  const turn = turnOfMessages([{ role: 'system', content: 'terse' }, ...withImage]);
  assert.deepEqual(turn.questionImages, [IMAGE]);
  const { sy } = setup(['box/qwen2.5-coder:7b', 'box/llava:7b']);
  let model = '';
  for await (const ev of runTurn({ router: sy.router, providers: sy.registry }, { task: 'chat', ...turn }))
    if (ev.type === 'route') model = ev.route.model;
  assert.equal(model, 'llava:7b');
  assert.deepEqual(bodies(ollama, '/api/chat')[0].messages.at(-1).images, [PNG]);
  // What VS Code's model picker reports as imageInput: a known vision candidate the policy may reach.
  assert.equal(await sy.router.routeTakesImages('switchyard/chat'), true);
  assert.equal(await setup(['box/qwen2.5-coder:7b', 'openai/gpt-4.1-mini']).sy.router.routeTakesImages('chat'), false);
  assert.equal(await setup(['box/qwen2.5-coder:7b', 'openai/gpt-4.1-mini'], 'allow').sy.router.routeTakesImages('chat'), true);
});

test('settings: a candidate\'s "vision" is read as a boolean, reported otherwise, and kept by the settings panel\'s setTask check', () => {
  const ok = parseConfig({
    'switchyard.tasks': {
      chat: [
        { model: 'box/llava:7b', vision: true },
        { model: 'box/qwen2.5-coder:7b', vision: false },
      ],
    },
  });
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.config.tasks.chat, [
    { ref: 'box/llava:7b', vision: true },
    { ref: 'box/qwen2.5-coder:7b', vision: false },
  ]);
  const bad = parseConfig({ 'switchyard.tasks': { chat: [{ model: 'box/llava:7b', vision: 'yes' }] } });
  assert.ok(
    bad.problems.some((p) => p.key === 'switchyard.tasks'),
    JSON.stringify(bad.problems),
  );
  const req = (candidates: unknown) =>
    validateSettingsMessage({ kind: 'request', id: 1, name: 'settings/setTask', payload: { task: 'chat', candidates } });
  assert.equal(req([{ model: 'box/llava:7b', vision: true }]).ok, true);
  assert.equal(req([{ model: 'box/llava:7b', vision: 'yes' }]).ok, false);
});
