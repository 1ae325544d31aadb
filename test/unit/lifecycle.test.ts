import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DisposableStore } from '../../src/core/lifecycle';

test('a store ends its items once, the last added first, and a failing one does not stop the rest', async () => {
  const ended: string[] = [];
  const errors: unknown[] = [];
  const store = new DisposableStore((e) => errors.push(e));
  store.add({ dispose: () => ended.push('a') });
  store.add({
    dispose: () => {
      throw new Error('b failed');
    },
  });
  store.add({ dispose: () => ended.push('c') });
  store.dispose();
  // The synchronous part of every dispose() has run when dispose() returns (VS Code's subscriptions are synchronous).
  assert.deepEqual(ended, ['c', 'a']);
  await store.close();
  store.dispose();
  assert.deepEqual(ended, ['c', 'a']);
  assert.deepEqual(
    errors.map((e) => (e as Error).message),
    ['b failed'],
  );
  assert.equal(store.isDisposed, true);
});

test('close() awaits the promises dispose() returns, and rejects with the failures when nobody listens for them', async () => {
  let release!: () => void;
  let closed = false;
  const store = new DisposableStore();
  store.add({ dispose: () => new Promise<void>((resolve) => (release = resolve)).then(() => (closed = true)) });
  store.add({ dispose: () => Promise.reject(new Error('worker would not stop')) });
  const done = store.close();
  let settled = false;
  void done.catch(() => {}).finally(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'close() waits for the slow item');
  release();
  await assert.rejects(done, (e: unknown) => e instanceof AggregateError && (e.errors[0] as Error).message === 'worker would not stop');
  assert.equal(closed, true);
});

test('an item added to an ended store is ended at once', () => {
  const store = new DisposableStore();
  store.dispose();
  let ended = false;
  store.add({ dispose: () => (ended = true) });
  assert.equal(ended, true);
});
