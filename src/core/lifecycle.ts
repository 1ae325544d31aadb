/**
 * Lifetimes, as VS Code's own src/vs/base/common/lifecycle.ts has them: a DisposableStore owns what was registered
 * and ends it all at once, the last added first, a failing item not stopping the rest. What takes time to end (a
 * worker thread to join, a server to close, a child process to exit) returns a promise from dispose(); close() awaits
 * every one of them, which is what the extension's deactivate() does. No `vscode` here: core and the CLI may use it.
 */

/** Structurally vscode.Disposable: dispose() may return a promise of the end. */
export interface Disposable {
  dispose(): unknown;
}

export class DisposableStore implements Disposable {
  private items: Disposable[] = [];
  private ending: Promise<void> | undefined;

  /** `onError` hears each failure of an item's dispose (default: close() rejects with all of them). */
  constructor(private readonly onError?: (error: unknown) => void) {}

  get isDisposed(): boolean {
    return this.ending !== undefined;
  }

  /** Adds an item the store ends with it; added after the store ended, it is ended at once. */
  add<T extends Disposable>(item: T): T {
    if (this.ending) void endAll([item], this.onError ?? (() => {}));
    else this.items.push(item);
    return item;
  }

  /** Ends every item now (their synchronous part runs before this returns); close() awaits the rest. */
  dispose(): void {
    this.close().catch(() => {});
  }

  /** Ends every item and resolves once each promise a dispose() returned has settled. Idempotent. */
  close(): Promise<void> {
    if (!this.ending) {
      const items = this.items.reverse();
      this.items = [];
      const errors: unknown[] = [];
      this.ending = endAll(items, this.onError ?? ((e) => errors.push(e))).then(() => {
        if (errors.length) throw new AggregateError(errors, `${errors.length} disposable(s) failed to end`);
      });
    }
    return this.ending;
  }
}

/** Disposes the items in order; each one's synchronous part runs before this returns (only promises are awaited). */
function endAll(items: readonly Disposable[], onError: (error: unknown) => void): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (const item of items) {
    try {
      const result = item.dispose();
      if (isPromiseLike(result)) pending.push(Promise.resolve(result).catch(onError));
    } catch (e) {
      onError(e);
    }
  }
  return Promise.all(pending).then(() => undefined);
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
