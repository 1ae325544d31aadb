/**
 * GGUF downloads against a local HTTP server with Range support that can drop the connection mid-body.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadGguf, type DownloadProgress } from '../../src/core/models/gguf';
import { deleteLocalModel, listLocalModels, listPartialDownloads } from '../../src/core/models/modelsFolder';
import { ModelError } from '../../src/core/models/errors';
import { sha256Hex, startFileServer, tinyModelBytes, type FileServer } from '../fixtures';

const MODEL = tinyModelBytes(); // a real GGUF (~0.5 MB)
const SHA = sha256Hex(MODEL);
let server: FileServer;

before(async () => {
  server = await startFileServer({ files: { '/models/tiny-q8.gguf': MODEL, '/x/readme.txt': Buffer.from('hi') } });
});
after(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  server.dropAfter(0, 0);
  server.setRanges(true);
  server.setPace(64 * 1024, 0);
});

const freshDir = () => mkdtempSync(path.join(tmpdir(), 'switchyard-gguf-'));
const url = () => `${server.url}/models/tiny-q8.gguf`;
const isModelError = (kind: string) => (e: unknown) => {
  assert.ok(e instanceof ModelError, String(e));
  assert.equal(e.kind, kind, e.message);
  return true;
};

test('downloads with progress, verifies the sha256 and lists the model', async () => {
  const dir = freshDir();
  const progress: DownloadProgress[] = [];
  const result = await downloadGguf({ url: url(), dir, sha256: SHA, onProgress: (p) => progress.push(p) });
  assert.equal(result.id, 'tiny-q8');
  assert.equal(result.sha256, SHA);
  assert.ok(readFileSync(result.path).equals(MODEL));
  assert.ok(progress.length >= 3);
  assert.equal(progress.at(-1)!.receivedBytes, MODEL.length);
  assert.equal(progress.at(-1)!.totalBytes, MODEL.length);
  for (let i = 1; i < progress.length; i++)
    assert.ok(progress[i]!.receivedBytes >= progress[i - 1]!.receivedBytes, 'progress never goes back');
  assert.deepEqual(
    listLocalModels(dir).map((m) => m.id),
    ['tiny-q8'],
  );
  assert.deepEqual(readdirSync(dir), ['tiny-q8.gguf'], 'no partial or meta file left');
});

test('an interrupted download resumes with a Range request and completes with the right checksum', async () => {
  const dir = freshDir();
  server.dropAfter(200_000, 1);
  const result = await downloadGguf({ url: url(), dir, sha256: SHA });
  assert.equal(result.sha256, SHA);
  assert.ok(readFileSync(result.path).equals(MODEL));
  assert.equal(server.requests.length, 2);
  assert.equal(server.requests[0]!.range, undefined);
  assert.match(server.requests[1]!.range!, /^bytes=\d+-$/);
  const resumedAt = Number(/bytes=(\d+)-/.exec(server.requests[1]!.range!)![1]);
  assert.ok(resumedAt > 0 && resumedAt <= 200_000, `resumed at ${resumedAt}`);
  assert.ok(server.requests[1]!.ifRange, 'If-Range guards against a changed file');
});

test('a download interrupted for good keeps its partial file, and the next run resumes it', async () => {
  const dir = freshDir();
  server.dropAfter(150_000, 10);
  await assert.rejects(
    downloadGguf({ url: url(), dir, sha256: SHA, retries: 0 }),
    (e: unknown) => isModelError('unreachable')(e) && (e as ModelError).details.resumable === true,
  );
  const partials = await listPartialDownloads(dir);
  assert.equal(partials.length, 1);
  assert.equal(partials[0]!.fileName, 'tiny-q8.gguf');
  assert.ok(partials[0]!.receivedBytes > 0 && partials[0]!.receivedBytes <= 150_000);
  assert.deepEqual(listLocalModels(dir), [], 'a partial file is not a model');
  server.dropAfter(0, 0);
  server.requests.length = 0;
  const result = await downloadGguf({ url: url(), dir, sha256: SHA });
  assert.equal(result.resumedBytes, partials[0]!.receivedBytes);
  assert.equal(server.requests[0]!.range, `bytes=${partials[0]!.receivedBytes}-`);
  assert.ok(readFileSync(result.path).equals(MODEL));
});

test('a wrong checksum is rejected and the file removed', async () => {
  const dir = freshDir();
  await assert.rejects(downloadGguf({ url: url(), dir, sha256: '0'.repeat(64) }), isModelError('checksum'));
  assert.deepEqual(readdirSync(dir), []);
});

test('not enough disk space is refused before writing anything', async () => {
  const dir = freshDir();
  const probed: string[] = [];
  await assert.rejects(
    downloadGguf({ url: url(), dir, freeBytes: async (d) => (probed.push(d), 1024) }),
    (e: unknown) => isModelError('diskFull')(e) && /not enough disk space/.test((e as Error).message),
  );
  assert.deepEqual(probed, [dir]);
  assert.deepEqual(readdirSync(dir), [], 'nothing written');
});

test('cancel with a range-capable server keeps a resumable partial file; without ranges nothing is left', async () => {
  for (const ranges of [true, false]) {
    const dir = freshDir();
    server.setRanges(ranges);
    server.setPace(16 * 1024, 30);
    const controller = new AbortController();
    const sentBefore = server.bytesSent();
    await assert.rejects(
      downloadGguf({
        url: url(),
        dir,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.receivedBytes >= 48 * 1024) controller.abort();
        },
      }),
      (e: unknown) => isModelError('canceled')(e) && (e as ModelError).details.resumable === ranges,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(server.bytesSent() - sentBefore < MODEL.length / 2, `the transfer stopped (${server.bytesSent() - sentBefore} bytes sent)`);
    assert.deepEqual(listLocalModels(dir), []);
    assert.deepEqual(readdirSync(dir).sort(), ranges ? ['tiny-q8.gguf.partial', 'tiny-q8.gguf.partial.json'] : [], `ranges ${ranges}`);
  }
});

test('a server without range support restarts the download from the beginning after a drop', async () => {
  const dir = freshDir();
  server.setRanges(false);
  server.dropAfter(100_000, 1);
  // Without ranges an interruption is not resumable: the half file goes and the error says so.
  await assert.rejects(
    downloadGguf({ url: url(), dir, sha256: SHA }),
    (e: unknown) => isModelError('unreachable')(e) && (e as ModelError).details.resumable === false,
  );
  assert.deepEqual(readdirSync(dir), []);
  const result = await downloadGguf({ url: url(), dir, sha256: SHA });
  assert.ok(readFileSync(result.path).equals(MODEL));
});

test('bad input and server errors are typed: invalid name, 404, already present, delete', async () => {
  const dir = freshDir();
  await assert.rejects(downloadGguf({ url: `${server.url}/x/readme.txt`, dir }), isModelError('invalid'));
  await assert.rejects(downloadGguf({ url: 'ftp://example.invalid/a.gguf', dir }), isModelError('invalid'));
  await assert.rejects(downloadGguf({ url: url(), dir, sha256: 'abc' }), isModelError('invalid'));
  await assert.rejects(downloadGguf({ url: `${server.url}/models/none.gguf`, dir }), isModelError('notFound'));
  const first = await downloadGguf({ url: url(), dir });
  const count = server.requests.length;
  const again = await downloadGguf({ url: url(), dir, sha256: SHA });
  assert.equal(again.alreadyPresent, true);
  assert.equal(server.requests.length, count, 'no second transfer');
  assert.equal(await deleteLocalModel(dir, 'tiny-q8'), first.path);
  assert.equal(existsSync(first.path), false);
  await assert.rejects(deleteLocalModel(dir, 'tiny-q8'), isModelError('notFound'));
  await assert.rejects(deleteLocalModel(dir, '../etc/passwd'), isModelError('invalid'));
  writeFileSync(path.join(dir, 'other.gguf.partial'), 'x');
  assert.equal((await deleteLocalModel(dir, 'other.gguf')).endsWith('other.gguf'), true);
  assert.deepEqual(readdirSync(dir), []);
});
