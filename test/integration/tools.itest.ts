// Runs inside a real VS Code extension host (code-server), see runner/main.ts: a full tool loop through VS Code's
// Language Model API, as an agent drives it. The e2e runner's OpenAI test server (test/e2e/integration.test.ts) is an
// agent's model: offered tools it calls `lookup_weather`, and after a tool result it answers in text. The runner then
// checks on its side what reached the server (the tools, the Required tool mode, the tool result message).
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { suite, test } from './framework';

const TOOLS: vscode.LanguageModelChatTool[] = [
  {
    name: 'lookup_weather',
    description: 'The weather in a city',
    inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
];

async function parts(response: vscode.LanguageModelChatResponse): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const part of response.stream) out.push(part);
  return out;
}

suite("Tool calls through VS Code's Language Model API", () => {
  test('a routed model calls a tool, gets its result in the history and answers (toolMode Required reaches the model)', async () => {
    const ext = vscode.extensions.getExtension('switchyard.switchyard');
    assert.ok(ext);
    await ext.activate();
    const [chat] = await vscode.lm.selectChatModels({ vendor: 'switchyard', id: 'switchyard/chat' });
    assert.ok(chat, 'switchyard/chat is offered');
    const token = new vscode.CancellationTokenSource().token;
    const ask = vscode.LanguageModelChatMessage.User('What is the weather in Oslo?');

    const first = await parts(await chat.sendRequest([ask], { tools: TOOLS, toolMode: vscode.LanguageModelChatToolMode.Required }, token));
    const calls = first.filter((p): p is vscode.LanguageModelToolCallPart => p instanceof vscode.LanguageModelToolCallPart);
    assert.equal(calls.length, 1, `one tool call, got ${JSON.stringify(first)}`);
    assert.equal(calls[0]!.name, 'lookup_weather');
    assert.deepEqual(calls[0]!.input, { city: 'Oslo' });
    assert.ok(calls[0]!.callId.length > 0);

    const second = await parts(
      await chat.sendRequest(
        [
          ask,
          vscode.LanguageModelChatMessage.Assistant([calls[0]!]),
          vscode.LanguageModelChatMessage.User([
            new vscode.LanguageModelToolResultPart(calls[0]!.callId, [new vscode.LanguageModelTextPart('Sunny, 21 °C')]),
          ]),
        ],
        { tools: TOOLS },
        token,
      ),
    );
    const text = second
      .filter((p): p is vscode.LanguageModelTextPart => p instanceof vscode.LanguageModelTextPart)
      .map((p) => p.value)
      .join('');
    assert.equal(text, 'Routed through Switchyard.');
    assert.equal(second.filter((p) => p instanceof vscode.LanguageModelToolCallPart).length, 0, 'no second call after the result');
  });
});
