// sdk.auth in Node.js: the Backpack return shapes and the SdkError fields.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSdk, SdkError } from '../../npm/index.js';
import { startServer, API_KEY, PASSWORD, email } from '../js/harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

test('register and login resolve to { id } and logout to { message: "OK" }', async () => {
  const sdk = createSdk(server.url, API_KEY);
  const who = email('node');
  const reg = await sdk.auth.register(who, PASSWORD);
  assert.deepEqual(Object.keys(reg), ['id']);
  assert.match(reg.id, /^[0-9a-f]{24}$/);
  const login = await createSdk(server.url, API_KEY).auth.login(who, PASSWORD);
  assert.deepEqual(login, reg);
  assert.deepEqual(await sdk.auth.logout(), { message: 'OK' });
  await assert.rejects(sdk.db.createResource('notes', { a: 1 }), { code: 'unauthenticated', status: 401 });
});

test('duplicate registration rejects with email_taken', async () => {
  const who = email('dup');
  await createSdk(server.url, API_KEY).auth.register(who, PASSWORD);
  const err = await createSdk(server.url, API_KEY).auth.register(who, PASSWORD).catch((e) => e);
  assert.ok(err instanceof SdkError);
  assert.ok(err instanceof Error);
  assert.equal(err.status, 409);
  assert.equal(err.code, 'email_taken');
  assert.equal(typeof err.message, 'string');
});

test('wrong password rejects with invalid_credentials', async () => {
  const who = email('pw');
  await createSdk(server.url, API_KEY).auth.register(who, PASSWORD);
  await assert.rejects(createSdk(server.url, API_KEY).auth.login(who, 'wrong password'),
    { name: 'SdkError', status: 401, code: 'invalid_credentials' });
});

test('a weak password is reported per field', async () => {
  const err = await createSdk(server.url, API_KEY).auth.register(email('weak'), 'short').catch((e) => e);
  assert.equal(err.code, 'validation_failed');
  assert.equal(typeof err.errors.password, 'string');
});

test('a wrong API key rejects every call with invalid_api_key', async () => {
  const sdk = createSdk(server.url, 'not-the-key');
  await assert.rejects(sdk.db.getCollectionList(), { status: 401, code: 'invalid_api_key' });
  await assert.rejects(sdk.auth.login(email('k'), PASSWORD), { status: 401, code: 'invalid_api_key' });
});

test('an unreachable server rejects with network_error', async () => {
  const sdk = createSdk('http://127.0.0.1:9', API_KEY);
  await assert.rejects(sdk.db.getCollectionList(), { status: 0, code: 'network_error' });
});

test('me, changePassword and deleteAccount', async () => {
  const addr = email('acct');
  const sdk = createSdk(server.url, API_KEY);
  const { id } = await sdk.auth.register(addr, PASSWORD);
  const me = await sdk.auth.me();
  assert.equal(me.id, id);
  assert.equal(me.email, addr.toLowerCase());
  const other = createSdk(server.url, API_KEY);
  await other.auth.login(addr, PASSWORD);
  await assert.rejects(sdk.auth.changePassword('wrong password', 'new password 123'), (e) => e.code === 'invalid_credentials');
  await sdk.auth.changePassword(PASSWORD, 'new password 123');
  await assert.rejects(other.auth.me(), (e) => e.status === 401, 'the other session ended');
  assert.equal((await sdk.auth.me()).id, id);
  await assert.rejects(sdk.auth.deleteAccount(PASSWORD), (e) => e.code === 'invalid_credentials');
  await sdk.auth.deleteAccount('new password 123');
  await assert.rejects(sdk.auth.me(), (e) => e.status === 401);
  await assert.rejects(createSdk(server.url, API_KEY).auth.login(addr, 'new password 123'), (e) => e.code === 'invalid_credentials');
});

/** A localStorage stand-in: what a page keeps between loads. */
function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => { m.set(k, String(v)); },
    removeItem: (k) => { m.delete(k); },
    size: () => m.size,
  };
}

test('the session is kept in the given storage, taken up by the next createSdk, and reported', async () => {
  const storage = memoryStorage();
  const first = createSdk(server.url, API_KEY, { storage });
  const seen = [];
  const stop = first.auth.onAuthChange((s) => seen.push(s && s.userId));
  assert.equal(first.auth.session, null);
  const { id } = await first.auth.register(email('kept'), PASSWORD);
  assert.deepEqual(seen, [id]);
  assert.equal(storage.size(), 1);

  // A new page load with the same storage is signed in as the same user.
  const second = createSdk(server.url, API_KEY, { storage });
  assert.equal(second.auth.session.userId, id);
  assert.equal((await second.auth.me()).id, id);
  const rec = await second.db.createResource('kept', { a: 1 });
  assert.equal(rec.userId, id);

  // Logging out anywhere clears it; the other page learns it at its next call.
  await second.auth.logout();
  assert.equal(storage.size(), 0);
  await assert.rejects(first.db.createResource('kept', { a: 2 }), { code: 'unauthenticated' });
  assert.equal(first.auth.session, null);
  assert.deepEqual(seen, [id, null], 'signed in, then out');
  stop();

  // A kept session the server no longer knows is dropped at the first answer.
  storage.setItem(`rucksack.session:${server.url.replace(/\/+$/, '')}`, JSON.stringify({ token: 'gone', userId: id }));
  const stale = createSdk(server.url, API_KEY, { storage });
  await assert.rejects(stale.auth.me(), { code: 'unauthenticated' });
  assert.equal(stale.auth.session, null);
  assert.equal(storage.size(), 0);
});

test('in Node.js the session stays in memory unless a storage is given', async () => {
  const sdk = createSdk(server.url, API_KEY);
  await sdk.auth.register(email('memory'), PASSWORD);
  assert.ok(sdk.auth.session.token);
  assert.equal(createSdk(server.url, API_KEY).auth.session, null);
});
