// The npm package sends an idempotent request again after a 503 with Retry-After
// (the server did nothing: too many writes queued), as long as it asks, and never
// sends a create twice or a request the server did not ask for again. A stand-in
// server answers from a script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createSdk } from '../../npm/index.js';

const BUSY = { status: 503, retryAfter: '1', body: { code: 'unavailable', message: 'busy, retry' } };
const TIMED_OUT = { status: 503, body: { code: 'unavailable', message: 'the query ran over its limit' } };

async function standIn(answers) {
  let served = 0;
  const server = http.createServer((req, res) => {
    const a = answers[Math.min(served, answers.length - 1)];
    served += 1;
    req.resume();
    req.on('end', () => {
      const headers = { 'content-type': 'application/json' };
      if (a.retryAfter) headers['retry-after'] = a.retryAfter;
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
    const started = Date.now();
    assert.deepEqual(await sdk.db.getCollectionList(), ['notes']);
    assert.equal(s.served(), 3);
    assert.ok(Date.now() - started >= 1900, 'each retry waits the second Retry-After asks');
  } finally { await s.close(); }
});

test('a 503 without Retry-After is not sent again', async () => {
  const s = await standIn([TIMED_OUT, { status: 200, body: ['notes'] }]);
  try {
    const sdk = createSdk(s.url, 'key');
    await assert.rejects(sdk.db.getCollectionList(), (e) => e.status === 503 && e.code === 'unavailable');
    assert.equal(s.served(), 1);
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
