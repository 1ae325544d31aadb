// Runs inside a real VS Code extension host (code-server): Switchyard's models in VS Code's Language Model API run the
// chat view's turn (core/chat/turn.ts). A thinking model served without a reasoning parser writes `<think>…</think>`
// into its answer text: the caller gets the answer as text and the reasoning as a thinking part where this VS Code
// has LanguageModelThinkingPart, never the raw tags. The e2e runner routes summarize to such a server.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { suite, test } from './framework';

suite("Switchyard models in VS Code's Language Model API", () => {
  test('<think> text from the model is not passed as answer text', async () => {
    const ext = vscode.extensions.getExtension('switchyard.switchyard');
    assert.ok(ext);
    await ext.activate();
    const [model] = await vscode.lm.selectChatModels({ vendor: 'switchyard', id: 'switchyard/summarize' });
    assert.ok(model, 'switchyard/summarize is offered');
    const response = await model.sendRequest(
      [vscode.LanguageModelChatMessage.User('What is 2 + 2?')],
      {},
      new vscode.CancellationTokenSource().token,
    );
    const parts: unknown[] = [];
    for await (const part of response.stream) parts.push(part);
    const text = parts
      .filter((p): p is vscode.LanguageModelTextPart => p instanceof vscode.LanguageModelTextPart)
      .map((p) => p.value)
      .join('');
    assert.equal(text, 'Four.');
    const Thinking = (vscode as unknown as { LanguageModelThinkingPart?: new (v: string) => { value: string | string[] } })
      .LanguageModelThinkingPart;
    if (Thinking) {
      const thought = parts
        .filter((p) => p instanceof Thinking)
        .map((p) => [(p as { value: string | string[] }).value].flat().join(''))
        .join('');
      assert.equal(thought, 'pondering');
    }
    assert.ok(!JSON.stringify(parts).includes('<think>'), JSON.stringify(parts));
  });
});
