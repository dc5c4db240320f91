// sdk.ws() in Node.js (run with --experimental-websocket on Node 20).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSdk } from '../../npm/index.js';
import { startServer, nextMessage, API_KEY, PASSWORD, email } from '../js/harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

test('a second client\'s writes arrive as Backpack messages', async () => {
  const watcher = createSdk(server.url, API_KEY);
  const ws = watcher.ws();
  const hello = await nextMessage(ws);
  assert.deepEqual(hello, { action: 'connection', response: 'Websocket connection established' });

  const writer = createSdk(server.url, API_KEY);
  await writer.auth.register(email('writer'), PASSWORD);
  // Listen before writing: the broadcast may arrive before the HTTP answer.
  const onCreate = nextMessage(ws, (m) => m.action === 'create');
  const rec = await writer.db.createResource('messages', { text: 'hello' });
  const created = await onCreate;
  assert.deepEqual(created, { action: 'create', collection: 'messages', httpRequest: true, response: rec });

  const onPatch = nextMessage(ws, (m) => m.action === 'patch');
  const patched = await writer.db.updateResource('messages', rec._id, { text: 'edited' });
  assert.deepEqual((await onPatch).response, patched);
  const onUpdate = nextMessage(ws, (m) => m.action === 'update');
  const replaced = await writer.db.overwriteResource('messages', rec._id, { text: 'new' });
  assert.deepEqual((await onUpdate).response, replaced);
  const onDelete = nextMessage(ws, (m) => m.action === 'delete');
  await writer.db.deleteResource('messages', rec._id);
  assert.equal((await onDelete).response._id, rec._id);
  ws.close();
});

test('a wrong API key cannot open a connection', async () => {
  const ws = createSdk(server.url, 'wrong-key').ws();
  const outcome = await new Promise((r) => {
    ws.onopen = () => r('open');
    ws.onerror = () => r('error');
  });
  assert.equal(outcome, 'error');
});
