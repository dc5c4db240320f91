// sdk.db in Node.js: the eight Backpack methods with their documented return shapes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSdk } from '../../npm/index.js';
import { startServer, API_KEY, PASSWORD, email } from '../js/harness.mjs';

let server;
let sdk;
let me;
before(async () => {
  server = await startServer();
  sdk = createSdk(server.url, API_KEY);
  me = (await sdk.auth.register(email('db'), PASSWORD)).id;
});
after(async () => { await server?.stop(); });

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('createResource adds _id, timestamps, __v and the owner', async () => {
  const rec = await sdk.db.createResource('messages', { text: 'I am a message!' });
  assert.match(rec._id, /^[0-9a-f]{24}$/);
  assert.equal(rec.text, 'I am a message!');
  assert.equal(rec.userId, me);
  assert.match(rec.createdAt, ISO);
  assert.equal(rec.updatedAt, rec.createdAt);
  assert.equal(rec.__v, 0);
  assert.deepEqual(await sdk.db.getResource('messages', rec._id), rec);
});

test('getCollection returns every record; both list spellings agree', async () => {
  await sdk.db.createNewCollection('things');
  assert.ok(!(await sdk.db.getCollectionList()).includes('things'));
  const a = await sdk.db.createResource('things', { n: 1 });
  const b = await sdk.db.createResource('things', { n: 2 });
  assert.deepEqual(await sdk.db.getCollection('things'), [a, b]);
  const list = await sdk.db.getCollectionList();
  assert.ok(list.includes('things'));
  assert.deepEqual(await sdk.db.getCollectionsList(), list);
  assert.equal(await sdk.db.createNewCollection('more'), 'more');
});

test('getCollection walks past the default page; findPage hands over the next cursor', async () => {
  const made = [];
  for (let start = 0; start < 250; start += 100) {
    made.push(...await sdk.db.insertMany('many', Array.from({ length: Math.min(100, 250 - start) }, (_, i) => ({ n: start + i }))));
  }
  const all = await sdk.db.getCollection('many');
  assert.equal(all.length, 250);
  assert.deepEqual(all.map((r) => r._id), made.map((r) => r._id).sort());
  const seen = [];
  let after;
  for (;;) {
    const page = await sdk.db.findPage('many', 'n >= 10', { sortBy: 'n desc', pageSize: 70, ...(after ? { after } : {}) });
    seen.push(...page.records.map((r) => r.n));
    if (page.after === null) break;
    after = page.after;
  }
  assert.deepEqual(seen, Array.from({ length: 240 }, (_, i) => 249 - i));
});

test('updateResource merges, overwriteResource replaces, deleteResource returns the record', async () => {
  const rec = await sdk.db.createResource('notes', { text: 'a', keep: true, drop: 1 });
  const merged = await sdk.db.updateResource('notes', rec._id, { text: 'b', drop: null });
  assert.equal(merged.text, 'b');
  assert.equal(merged.keep, true);
  assert.ok(!('drop' in merged));
  assert.equal(merged.__v, 1);
  assert.equal(merged.createdAt, rec.createdAt);
  const replaced = await sdk.db.overwriteResource('notes', rec._id, { new_key: 'some value' });
  assert.deepEqual(Object.keys(replaced).sort(), ['__v', '_id', 'createdAt', 'new_key', 'updatedAt', 'userId']);
  assert.equal(replaced.__v, 2);
  assert.deepEqual(await sdk.db.deleteResource('notes', rec._id), replaced);
  await assert.rejects(sdk.db.getResource('notes', rec._id), { status: 404, code: 'not_found' });
});

test('a record read and written back whole is accepted; a changed system field is not', async () => {
  const rec = await sdk.db.createResource('notes', { text: 'a' });
  const read = await sdk.db.getResource('notes', rec._id);
  const put = await sdk.db.overwriteResource('notes', rec._id, { ...read, text: 'b' });
  assert.equal(put.text, 'b');
  assert.equal(put.__v, 1);
  const patched = await sdk.db.updateResource('notes', rec._id, { ...put, text: 'c' });
  assert.equal(patched.__v, 2);
  await assert.rejects(sdk.db.updateResource('notes', rec._id, { ...put, text: 'd' }),
    { status: 409, code: 'version_conflict' });
  await assert.rejects(sdk.db.updateResource('notes', rec._id, { ...patched, createdAt: '2020-01-01T00:00:00.000Z' }),
    (e) => e.status === 400 && e.code === 'system_field' && 'createdAt' in e.errors);
  assert.deepEqual(await sdk.db.getResource('notes', rec._id), patched);
});

test('another user cannot change the record', async () => {
  const rec = await sdk.db.createResource('private', { text: 'mine' });
  const other = createSdk(server.url, API_KEY);
  await other.auth.register(email('other'), PASSWORD);
  await assert.rejects(other.db.updateResource('private', rec._id, { text: 'x' }), { status: 403, code: 'forbidden' });
  await assert.rejects(other.db.deleteResource('private', rec._id), { status: 403, code: 'forbidden' });
  assert.deepEqual(await other.db.getResource('private', rec._id), rec);
});

test('invalid arguments are refused before anything is sent', async () => {
  await assert.rejects(sdk.db.createResource('messages', [1, 2]), { code: 'invalid_argument' });
  await assert.rejects(sdk.db.createResource('messages', undefined), { code: 'invalid_argument' });
  await assert.rejects(sdk.db.getResource('messages', '../etc/passwd'), { code: 'invalid_argument' });
  await assert.rejects(sdk.db.getCollection('users'), { code: 'invalid_argument' });
});

test('insertMany, updateMany and deleteMany act on the caller\'s records, all or nothing', async () => {
  const made = await sdk.db.insertMany('bulk', [{ i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }]);
  assert.equal(made.length, 4);
  assert.ok(made.every((r) => r.userId === me && r.__v === 0));
  await assert.rejects(sdk.db.insertMany('bulk', [{ i: 5 }, { _id: 'x' }]), (e) => e.code === 'system_field');
  assert.equal(await sdk.db.find('bulk', null, { count: true }), 4);

  assert.deepEqual(await sdk.db.updateMany('bulk', 'i >= 3', { $inc: { i: 10 }, $set: { big: true } }), { n: 2, val: 2 });
  assert.deepEqual((await sdk.db.find('bulk', { big: true }, { sortBy: 'i' })).map((r) => [r.i, r.__v]), [[13, 1], [14, 1]]);
  await assert.rejects(sdk.db.updateMany('bulk', null, { $rename: { i: 'j' } }), (e) => e.status === 400 && e.code === 'invalid_body');

  const other = createSdk(server.url, API_KEY);
  await other.auth.register(email('bulk-other'), PASSWORD);
  assert.deepEqual(await other.db.deleteMany('bulk', null), { n: 0, val: 0 }, 'not the owner: nothing to delete');
  assert.deepEqual(await sdk.db.deleteMany('bulk', { i: { $lt: 3 } }), { n: 2, val: 2 });
  assert.equal(await sdk.db.find('bulk', null, { count: true }), 2);
});
