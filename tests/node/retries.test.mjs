// The npm package sends an idempotent request again after a 503 (the server did
// nothing: too many writes queued), as Retry-After asks, and never sends a
// create twice. A stand-in server answers from a script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createSdk } from '../../npm/index.js';

const BUSY = { status: 503, body: { code: 'unavailable', message: 'busy, retry' } };

async function standIn(answers) {
  let served = 0;
  const server = http.createServer((req, res) => {
    const a = answers[Math.min(served, answers.length - 1)];
    served += 1;
    req.resume();
    req.on('end', () => {
      const headers = { 'content-type': 'application/json' };
      if (a.status === 503) headers['retry-after'] = '0';
      res.writeHead(a.status, headers);
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    served: () => served,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

test('an idempotent read is sent again after a busy answer', async () => {
  const s = await standIn([BUSY, BUSY, { status: 200, body: ['notes'] }]);
  try {
    const sdk = createSdk(s.url, 'key');
    assert.deepEqual(await sdk.db.getCollectionList(), ['notes']);
    assert.equal(s.served(), 3);
  } finally { await s.close(); }
});

test('retries end with the busy answer', async () => {
  const s = await standIn([BUSY]);
  try {
    const sdk = createSdk(s.url, 'key');
    await assert.rejects(sdk.db.getCollectionList(), (e) => e.status === 503 && e.code === 'unavailable');
    assert.equal(s.served(), 3, 'the first send and two retries');
  } finally { await s.close(); }
});

test('a create is never sent twice', async () => {
  const s = await standIn([BUSY, { status: 201, body: { _id: 'x' } }]);
  try {
    const sdk = createSdk(s.url, 'key');
    await assert.rejects(sdk.db.createResource('notes', { t: 1 }), (e) => e.code === 'unavailable');
    assert.equal(s.served(), 1);
  } finally { await s.close(); }
});
