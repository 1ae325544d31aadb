// The model manager's decisions that need no editor (src/vscode/models/report.ts): which folder a GGUF file goes to,
// and the progress a pull or a download shows in its (cancellable) notification.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { downloadSteps, ggufDirFor, ggufFolders, pullSteps } from '../../src/vscode/models/report';

const STORAGE = '/storage/models';
const providers = [
  { id: 'box', kind: 'ollama' as const },
  { id: 'embedded', kind: 'embedded' as const },
  { id: 'mine', kind: 'embedded' as const, modelPath: '/data/gguf' },
  { id: 'also-mine', kind: 'embedded' as const, modelPath: '/data/gguf' },
  { id: 'one-file', kind: 'embedded' as const, modelPath: '/data/one/model.GGUF' },
];

test("model manager: a GGUF file goes to its embedded provider's folder, else to global storage", () => {
  assert.equal(ggufDirFor(providers, STORAGE, 'mine'), '/data/gguf');
  assert.equal(ggufDirFor(providers, STORAGE, 'embedded'), STORAGE, 'no modelPath: global storage');
  assert.equal(ggufDirFor(providers, STORAGE, 'one-file'), STORAGE, 'a modelPath naming one .gguf file is not a folder');
  assert.equal(ggufDirFor(providers, STORAGE, 'box'), STORAGE, 'not an embedded provider');
  assert.equal(ggufDirFor(providers, STORAGE, 'nobody'), STORAGE);
  assert.equal(ggufDirFor(providers, STORAGE), STORAGE);
});

test('model manager: the GGUF folders are global storage first, then each folder once with every provider serving it', () => {
  assert.deepEqual(ggufFolders(providers, STORAGE), [
    { dir: STORAGE, providerIds: ['embedded', 'one-file'] },
    { dir: '/data/gguf', providerIds: ['mine', 'also-mine'] },
  ]);
  assert.deepEqual(ggufFolders([], STORAGE), [{ dir: STORAGE, providerIds: [] }], 'global storage is listed with no provider');
});

test("model manager: a pull's bar follows each layer from 0 to 100, never going back, and status lines without bytes move nothing", () => {
  const step = pullSteps();
  const MB = 1024 * 1024;
  assert.deepEqual(step({ status: 'pulling manifest' }), { message: 'pulling manifest', increment: undefined });
  const a = step({ status: 'pulling aaa', digest: 'aaa', totalBytes: 100 * MB, completedBytes: 25 * MB });
  assert.equal(a.increment, 25);
  assert.match(a.message, /^pulling aaa 25(\.0)? MB \/ 100(\.0)? MB$/);
  assert.equal(step({ status: 'pulling aaa', digest: 'aaa', totalBytes: 100 * MB, completedBytes: 60 * MB }).increment, 35);
  assert.equal(
    step({ status: 'pulling aaa', digest: 'aaa', totalBytes: 100 * MB, completedBytes: 50 * MB }).increment,
    0,
    'never negative',
  );
  // The next layer starts again from 0.
  assert.equal(step({ status: 'pulling bbb', digest: 'bbb', totalBytes: 10 * MB, completedBytes: 5 * MB }).increment, 50);
  assert.deepEqual(step({ status: 'success' }), { message: 'success', increment: undefined });
});

test('model manager: a download reports once per whole percent and its last chunk, and says when it resumed', () => {
  const step = downloadSteps();
  const total = 1000;
  assert.equal(step({ receivedBytes: 0, totalBytes: total, resumedFrom: 0 }), undefined, 'nothing to show at 0%');
  assert.equal(step({ receivedBytes: 9, totalBytes: total, resumedFrom: 0 }), undefined, 'still 0%');
  assert.equal(step({ receivedBytes: 10, totalBytes: total, resumedFrom: 0 })?.increment, 1);
  assert.equal(step({ receivedBytes: 15, totalBytes: total, resumedFrom: 0 }), undefined, 'same percent');
  assert.equal(step({ receivedBytes: 500, totalBytes: total, resumedFrom: 0 })?.increment, 49);
  assert.equal(step({ receivedBytes: total, totalBytes: total, resumedFrom: 0 })?.increment, 50);
  const resumed = downloadSteps()({ receivedBytes: 600, totalBytes: total, resumedFrom: 400 });
  assert.match(resumed!.message, /\(resumed\)$/);
  assert.equal(resumed!.increment, 60);
  const unknownSize = downloadSteps()({ receivedBytes: 2048, resumedFrom: 0 });
  assert.equal(unknownSize?.increment, undefined, 'no size: no bar, only bytes');
  assert.doesNotMatch(unknownSize!.message, /\//);
});
