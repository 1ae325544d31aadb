/**
 * What users see: the chat view, the editor commands that stream into it (Explain, Summarize), the model settings panel and
 * Select Model for Task, registered as one feature of activation (cheap: nothing loads until a view opens or a command
 * runs).
 */
import * as vscode from 'vscode';
import type { Services } from '../services';
import { CHAT_VIEW_ID, ChatController } from './chatView';
import { editorCode } from './editorContext';
import { selectModelForTask } from './selectModel';
import { SettingsPanel } from '../settingsPanel/panel';

/**
 * Explain / Summarize Selection or File: the `explain` or `summarize` task streamed into the chat view, with the
 * code attached (Explain also searches the workspace index for what the code uses).
 */
async function codeTask(
  services: Services,
  chat: ChatController,
  task: 'explain' | 'summarize',
  which: 'selection' | 'file',
): Promise<void> {
  const editor = chat.editor();
  const verb = task === 'explain' ? 'Explain' : 'Summarize';
  if (!editor) {
    void vscode.window.showInformationMessage(`Switchyard: open a file and select code to ${verb.toLowerCase()}.`);
    return;
  }
  const { block, language } = editorCode(editor, which);
  await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
  await chat.send({
    task,
    text: `${verb} this ${language} code (${block.label}).`,
    display: `${verb} ${block.label}`,
    context: [block],
    contextLabels: [block.label],
    retrieve: task === 'explain' && services.workspaceIndex.current ? block.text.slice(0, 2000) : undefined,
  });
}

function registerChat(services: Services): vscode.Disposable[] {
  const chat = new ChatController(services);
  // Which optional commands (switchyard.pullModel) exist is asked after activation, never during it.
  setTimeout(() => void chat.commands.refresh(), 2000);
  return [
    chat,
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chat, { webviewOptions: { retainContextWhenHidden: false } }),
    vscode.commands.registerCommand('switchyard.explainSelection', () => codeTask(services, chat, 'explain', 'selection')),
    vscode.commands.registerCommand('switchyard.explainFile', () => codeTask(services, chat, 'explain', 'file')),
    vscode.commands.registerCommand('switchyard.summarizeSelection', () => codeTask(services, chat, 'summarize', 'selection')),
    vscode.commands.registerCommand('switchyard.summarizeFile', () => codeTask(services, chat, 'summarize', 'file')),
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
    vscode.commands.registerCommand('switchyard.selectModel', (task?: string) =>
      selectModelForTask(services, typeof task === 'string' ? task : undefined),
    ),
    { dispose: () => SettingsPanel.current?.dispose() },
  ];
}
