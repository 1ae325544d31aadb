// The integration tier: test/integration/*.itest.ts run INSIDE a real VS Code extension host. code-server installs
// dist/switchyard.vsix and the test-runner extension dist/switchyard-integration-tests.vsix (built by
// scripts/build-integration-tests.mjs); the runner writes its results to SWITCHYARD_INTEGRATION_OUT, read here.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { integrationVsix, launchVSCode, resultsDir, t, waitFor } from './harness';
import { scriptedBackend, startOpenAIServer } from '../fixtures';
import { TINY_PNG_BASE64 } from '../fixtures/images';

interface Report {
  vscodeVersion: string;
  node: string;
  durationMs: number;
  passed: number;
  failed: number;
  fatal?: string;
  results: { name: string; ok: boolean; durationMs: number; error?: string }[];
}

test('integration tests pass inside the real extension host', { timeout: t(240_000) }, async () => {
  fs.mkdirSync(resultsDir, { recursive: true });
  const out = path.join(resultsDir, 'integration.json');
  fs.rmSync(out, { force: true });
  fs.rmSync(out + '.progress', { force: true });
  // A local OpenAI test server for the tests that route a request (test/integration/gateway.itest.ts).
  // Offered tools, it is an agent's model (test/integration/tools.itest.ts): it calls lookup_weather, and answers in text
  // after the tool result; requests without tools get the text answer as before.
  const server = await startOpenAIServer({
    backend: scriptedBackend({
      tokens: ['Routed', ' through', ' Switchyard', '.'],
      toolCalls: [{ name: 'lookup_weather', arguments: { city: 'Oslo' } }],
    }),
  });
  // A thinking model served without a reasoning parser, for the summarize task (test/integration/languageModels.itest.ts).
  const thinker = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['<think>', 'pondering', '</think>', 'Four', '.'] }) });
  const vs = await launchVSCode({
    extraVsix: [integrationVsix],
    env: {
      SWITCHYARD_INTEGRATION_OUT: out,
      SWITCHYARD_ITEST_OPENAI_URL: server.url,
      SWITCHYARD_GATEWAY_TOKEN: 'itest-gateway-token-0123456789',
    },
    settings: {
      'switchyard.providers': [
        { id: 'itest', kind: 'openai-compatible', baseUrl: `${server.url}/v1` },
        { id: 'thinker', kind: 'openai-compatible', baseUrl: `${thinker.url}/v1` },
      ],
      'switchyard.tasks': {
        chat: ['itest/gpt-4.1-mini'],
        explain: ['itest/gpt-4.1-mini'],
        summarize: ['thinker/gpt-4.1-mini'],
        embed: ['itest/text-embedding-3-small'],
      },
      'switchyard.privacy': 'local-only',
    },
  });
  try {
    // The extension host starts once the window connects; the runner activates on onStartupFinished.
    let report: Report;
    try {
      report = await waitFor(
        'the integration results file',
        () => (fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as Report) : undefined),
        t(180_000),
        500,
      );
    } catch (e) {
      const progress = fs.existsSync(out + '.progress') ? fs.readFileSync(out + '.progress', 'utf8') : '(no test finished)';
      await vs.screenshot('integration-timeout').catch(() => {});
      throw new Error(`${String(e)}\nprogress so far:\n${progress}\ncode-server log:\n${vs.serverLog()}`);
    }
    for (const r of report.results) {
      process.stdout.write(`# ${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.durationMs.toFixed(0)} ms)\n`);
      if (!r.ok) process.stdout.write(`${r.error}\n`);
    }
    process.stdout.write(
      `# VS Code ${report.vscodeVersion}, extension host Node ${report.node}: ${report.passed} passed, ${report.failed} failed\n`,
    );
    assert.equal(report.fatal, undefined, `the integration runner failed: ${report.fatal}`);
    assert.ok(report.results.length > 0, 'no integration test ran');
    const failures = report.results.filter((r) => !r.ok);
    assert.deepEqual(
      failures.map((f) => `${f.name}: ${f.error}`),
      [],
      `${failures.length} integration test(s) failed`,
    );
    assert.ok(server.counts['POST /v1/chat/completions'] >= 2, 'the language model and gateway requests reached the test server');
    // The tool loop as the server saw it: VS Code's tools with Required mode, then the call and its result in the history.
    const bodies = server.requests
      .filter((r) => r.path === '/v1/chat/completions')
      .map(
        (r) =>
          r.body as {
            tools?: { function: { name: string } }[];
            tool_choice?: unknown;
            messages: { role: string; tool_call_id?: string; tool_calls?: unknown[]; content?: unknown }[];
          },
      );
    const offered = bodies.filter((b) => b.tools?.length);
    assert.ok(
      offered.some((b) => b.tools![0]!.function.name === 'lookup_weather' && b.tool_choice === 'required'),
      `the tools and tool_choice "required" reached the model: ${JSON.stringify(offered.map((b) => b.tool_choice))}`,
    );
    const withResult = offered.find((b) => b.messages.some((m) => m.role === 'tool'));
    assert.ok(withResult, 'the tool result was sent back');
    const callMsg = withResult.messages.find((m) => m.role === 'assistant' && m.tool_calls?.length);
    const toolMsg = withResult.messages.find((m) => m.role === 'tool')!;
    assert.ok(callMsg, 'the assistant tool call is in the history');
    assert.equal((callMsg.tool_calls![0] as { id: string }).id, toolMsg.tool_call_id);
    assert.equal(toolMsg.content, 'Sunny, 21 °C');
    // The image of test/integration/images.itest.ts, as an image_url part after the text.
    const withImage = bodies
      .flatMap((b) => b.messages)
      .find((m) => Array.isArray(m.content) && (m.content as { type: string }[]).some((p) => p.type === 'image_url'));
    assert.deepEqual(withImage?.content, [
      { type: 'text', text: 'What is in this image?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${TINY_PNG_BASE64}` } },
    ]);
  } finally {
    await vs.close();
    await server.close();
    await thinker.close();
  }
});
