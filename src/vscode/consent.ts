/**
 * Privacy "ask": before the first cloud request of a workspace, a modal says what goes where and offers
 * Allow Once / Always for This Workspace / Stay Local. "Always" is remembered in the workspace's state, never in
 * settings a repository could ship.
 */
import * as vscode from 'vscode';
import type { AskCloud, CloudRequest } from '../core/routing/privacy';

const KEY = 'switchyard.cloudConsent';

export function cloudConsent(state: vscode.Memento): AskCloud & { reset(): Thenable<void> } {
  let pending: Promise<boolean> | undefined;
  const ask = async (request: CloudRequest): Promise<boolean> => {
    if (state.get<boolean>(KEY) === true) return true;
    // Concurrent requests share one question.
    pending ??= (async () => {
      const allowOnce = 'Allow Once';
      const always = 'Always for This Workspace';
      const stay = 'Stay Local';
      const choice = await vscode.window.showWarningMessage(
        `Send this ${request.task} request to ${request.providerId}/${request.model}, a cloud model?`,
        {
          modal: true,
          detail:
            `No local model could answer. The prompt, including any code from this workspace that it quotes, ` +
            `would be sent to ${request.providerId}. Choose "Stay Local" to keep everything on this machine.`,
        },
        // The first button is the dialog's default (Enter): it must never send workspace code to a cloud. Escape
        // and the dialog's own Cancel answer undefined, which stays local too.
        stay,
        allowOnce,
        always,
      );
      if (choice === always) await state.update(KEY, true);
      return choice === allowOnce || choice === always;
    })().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  return Object.assign(ask, { reset: () => state.update(KEY, undefined) });
}
