// Runs inside a real VS Code extension host (code-server), see runner/main.ts: an image attached as VS Code's
// LanguageModelDataPart (image/png) reaches the routed model as an image part (the e2e runner, test/e2e/integration.test.ts,
// checks on its side that the OpenAI test server got it as an image_url data URL after the text).
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { TINY_PNG_BASE64 } from '../fixtures/images';
import { suite, test } from './framework';

type DataPartClass = { image(data: Uint8Array, mimeType: string): unknown };

suite("Images through VS Code's Language Model API", () => {
  test('an image data part of a user message reaches the routed model; the answer streams back', async () => {
    const ext = vscode.extensions.getExtension('switchyard.switchyard');
    assert.ok(ext);
    await ext.activate();
    const DataPart = (vscode as unknown as { LanguageModelDataPart?: DataPartClass }).LanguageModelDataPart;
    assert.ok(DataPart, `this VS Code (${vscode.version}) has LanguageModelDataPart`);
    const [chat] = await vscode.lm.selectChatModels({ vendor: 'switchyard', id: 'switchyard/chat' });
    assert.ok(chat, 'switchyard/chat is offered');
    const image = DataPart.image(Buffer.from(TINY_PNG_BASE64, 'base64'), 'image/png');
    const message = vscode.LanguageModelChatMessage.User([new vscode.LanguageModelTextPart('What is in this image?'), image] as never);
    const response = await chat.sendRequest([message], {}, new vscode.CancellationTokenSource().token);
    let text = '';
    for await (const part of response.stream) if (part instanceof vscode.LanguageModelTextPart) text += part.value;
    assert.equal(text, 'Routed through Switchyard.');
  });
});
