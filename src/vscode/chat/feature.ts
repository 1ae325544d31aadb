/**
 * What users see: the chat view, the editor commands that stream into it (Explain), the model settings panel and
 * Select Model for Task, registered as one feature of activation (cheap: nothing loads until a view opens or a command
 * runs).
 */
import * as vscode from 'vscode';
import type { Services } from '../services';
import { CHAT_VIEW_ID, ChatController } from './chatView';
import { editorCode } from './editorContext';
import { selectModelForTask } from './selectModel';
import { SettingsPanel } from '../settingsPanel/panel';

/** Explain Selection / Explain File: the `explain` task streamed into the chat view. */
async function explain(services: Services, chat: ChatController, which: 'selection' | 'file'): Promise<void> {
  const editor = chat.editor();
  if (!editor) {
    void vscode.window.showInformationMessage('Switchyard: open a file and select code to explain.');
    return;
  }
  const { block, language } = editorCode(editor, which);
  await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
  await chat.send({
    task: 'explain',
    text: `Explain this ${language} code (${block.label}).`,
    display: `Explain ${block.label}`,
    context: [block],
    contextLabels: [block.label],
    retrieve: services.workspaceIndex.current ? block.text.slice(0, 2000) : undefined,
  });
}

function registerChat(services: Services): vscode.Disposable[] {
  const chat = new ChatController(services);
  // Which optional commands (switchyard.pullModel) exist is asked after activation, never during it.
  setTimeout(() => void chat.commands.refresh(), 2000);
  return [
    chat,
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chat, { webviewOptions: { retainContextWhenHidden: false } }),
    vscode.commands.registerCommand('switchyard.explainSelection', () => explain(services, chat, 'selection')),
    vscode.commands.registerCommand('switchyard.explainFile', () => explain(services, chat, 'file')),
    vscode.commands.registerCommand('switchyard.newChat', async () => {
      await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
      chat.newChat();
    }),
  ];
}

export function registerUi(services: Services): vscode.Disposable[] {
  return [
    ...registerChat(services),
    vscode.commands.registerCommand('switchyard.openSettings', () => void SettingsPanel.show(services)),
    vscode.commands.registerCommand('switchyard.selectModel', (task?: string) => selectModelForTask(services, typeof task === 'string' ? task : undefined)),
    { dispose: () => SettingsPanel.current?.dispose() },
  ];
}
