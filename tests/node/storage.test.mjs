// sdk.storage in Node.js: Blob and Uint8Array uploads, the Backpack return shapes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createSdk } from '../../npm/index.js';
import { startServer, API_KEY, PASSWORD, email } from '../js/harness.mjs';

let server;
let sdk;
let me;
before(async () => {
  server = await startServer();
  sdk = createSdk(server.url, API_KEY);
  me = (await sdk.auth.register(email('files'), PASSWORD)).id;
});
after(async () => { await server?.stop(); });

test('upload, list, download, rename, overwrite, delete', async () => {
  const bytes = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) % 251);
  const rec = await sdk.storage.uploadFile(bytes, 'data.bin', 'photos');
  assert.equal(rec.filename, 'data.bin');
  assert.equal(rec.bucket, 'photos');
  assert.equal(rec.userId, me);
  assert.equal(rec.size, bytes.length);
  assert.equal(rec.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(rec.__v, 0);

  const blob = new Blob(['hello from a blob'], { type: 'text/plain' });
  const text = await sdk.storage.uploadFile(blob, 'hello.txt', 'docs');
  assert.equal(text.contentType, 'text/plain');

  assert.deepEqual(await sdk.storage.getListOfUserFiles(me), { records: [rec, text] });

  const resp = await sdk.storage.getFile(me, 'data.bin');
  assert.ok(resp instanceof Response);
  const back = new Uint8Array(await (await resp.blob()).arrayBuffer());
  assert.deepEqual(back, bytes);

  const { record } = await sdk.storage.updateFile('hello.txt', 'renamed.txt', 'archive');
  assert.equal(record.filename, 'renamed.txt');
  assert.equal(record.bucket, 'archive');
  assert.equal(record._id, text._id);

  assert.deepEqual(await sdk.storage.overwriteFile(new Blob(['new words']), 'renamed.txt'), { message: 'file overwritten' });
  assert.equal(await (await sdk.storage.getFile(me, 'renamed.txt')).text(), 'new words');

  const { deletedRecord } = await sdk.storage.deleteFile('renamed.txt');
  assert.equal(deletedRecord._id, text._id);
  await assert.rejects(sdk.storage.getFile(me, 'renamed.txt'), { status: 404, code: 'not_found' });
});

test('bad names and duplicates are refused', async () => {
  await assert.rejects(sdk.storage.uploadFile(new Blob(['x']), '../escape.txt', 'b'), { code: 'invalid_argument' });
  await sdk.storage.uploadFile(new Blob(['one']), 'once.txt', 'b');
  await assert.rejects(sdk.storage.uploadFile(new Blob(['two']), 'once.txt', 'b'), { status: 409, code: 'file_exists' });
  // A refused upload is read to its end, so the client gets the answer, not a reset.
  const large = new Blob([new Uint8Array(768 * 1024)]);
  await assert.rejects(sdk.storage.uploadFile(large, 'once.txt', 'b'), { status: 409, code: 'file_exists' });
  await assert.rejects(createSdk(server.url, API_KEY).storage.uploadFile(large, 'anon.txt', 'b'),
    { status: 401, code: 'unauthenticated' });
  assert.equal(await (await sdk.storage.getFile(me, 'once.txt')).text(), 'one');
  await assert.rejects(sdk.storage.uploadFile(42, 'n.txt', 'b'), { code: 'invalid_argument' });
  await assert.rejects(sdk.storage.uploadFile(new FormData(), 'n.txt', 'b'), { code: 'invalid_argument' });
});

test('a FormData upload takes its file entry, as Backpack apps pass it', async () => {
  const form = new FormData();
  form.append('note', 'not the file');
  form.append('file', new Blob(['from a form'], { type: 'text/plain' }), 'picked.txt');
  const rec = await sdk.storage.uploadFile(form, 'form.txt', 'forms');
  assert.equal(rec.contentType, 'text/plain');
  assert.equal(await (await sdk.storage.getFile(me, 'form.txt')).text(), 'from a form');
});

test('onProgress hears of the upload in Node.js too, once the bytes are sent', async () => {
  const events = [];
  const bytes = new Uint8Array(300_000).fill(7);
  const rec = await sdk.storage.uploadFile(bytes, 'progress.bin', 'data', { onProgress: (p) => events.push(p) });
  assert.equal(rec.size, bytes.length);
  assert.deepEqual(events, [{ loaded: bytes.length, total: bytes.length }]);
  await assert.rejects(
    sdk.storage.uploadFile(bytes, 'other.bin', 'data', { onProgress: 'no' }),
    (e) => e.code === 'invalid_argument',
  );
});
