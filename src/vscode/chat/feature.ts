/**
 * What users see: the chat view, Explain commands, the model settings panel and Select Model for Task, registered as
 * one feature of activation (cheap: nothing loads until a view opens or a command runs).
 */
import * as vscode from 'vscode';
import type { Services } from '../services';
import { registerChat } from './chatView';
import { selectModelForTask } from './selectModel';
import { SettingsPanel } from '../settingsPanel/panel';

export function registerUi(services: Services): vscode.Disposable[] {
  return [
    ...registerChat(services),
    vscode.commands.registerCommand('switchyard.openSettings', () => void SettingsPanel.show(services)),
    vscode.commands.registerCommand('switchyard.selectModel', (task?: string) => selectModelForTask(services, typeof task === 'string' ? task : undefined)),
    { dispose: () => SettingsPanel.current?.dispose() },
  ];
}
