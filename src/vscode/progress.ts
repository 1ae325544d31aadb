/**
 * One cancellable progress notification for every long task the user may stop (pulling a model, downloading a GGUF
 * file, a commit message, a rebuild of the index): Cancel aborts the signal the task gets, and the cancellation
 * listener ends with the task instead of staying on the token.
 */
import * as vscode from 'vscode';

export interface CancellableProgressOptions {
  location?: vscode.ProgressLocation;
  /** Whether the notification has a Cancel button (default true). */
  cancellable?: boolean;
  /** Another way to stop the task (a newer sync, Stop Indexing): aborting it aborts the task's signal too. */
  signal?: AbortSignal;
}

export function withCancellableProgress<T>(
  title: string,
  task: (progress: vscode.Progress<{ message?: string; increment?: number }>, signal: AbortSignal) => Promise<T>,
  options: CancellableProgressOptions = {},
): Thenable<T> {
  const { location = vscode.ProgressLocation.Notification, cancellable = true, signal: outer } = options;
  return vscode.window.withProgress({ location, title, cancellable }, async (progress, token) => {
    const controller = new AbortController();
    const abort = () => controller.abort();
    const sub = token.onCancellationRequested(abort);
    if (outer?.aborted) abort();
    else outer?.addEventListener('abort', abort, { once: true });
    try {
      return await task(progress, controller.signal);
    } finally {
      sub.dispose();
      outer?.removeEventListener('abort', abort);
    }
  });
}
