// sdk.ws() in Node.js: every Backpack action with its recipients, channels, the
// subscribe helper, resuming after a dropped connection, and the SmartNgRX adapter.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSdk, connectSmartNgRX } from '../../npm/index.js';
import {
  startServer, startProxy, nextMessage, recorder, API_KEY, ADMIN_KEY, PASSWORD, email,
} from '../js/harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Once a message broadcast now reaches `to`, everything sent to it before has
// arrived: the server delivers each connection's messages in the order it
// publishes them. So "nothing else arrived" is checked without a fixed wait.
async function settled(from, to) {
  const tag = `settled-${Math.random()}`;
  const got = nextMessage(to, (m) => m.action === 'settled' && m.tag === tag);
  from.actions.sendMessage({ action: 'settled', tag });
  await got;
}
const unsettled = (seen) => seen.filter((m) => m.action !== 'settled');

async function user(tag, url = server.url) {
  const sdk = createSdk(url, API_KEY);
  const { id } = await sdk.auth.register(email(tag), PASSWORD);
  const ws = sdk.ws();
  await nextMessage(ws, (m) => m.action === 'connection');
  return { sdk, id, ws };
}

test('send() puts a frame on the socket as given, as a WebSocket does', async () => {
  const a = await user('js-send');
  const all = nextMessage(a.ws, (m) => m.action === 'getAll');
  a.ws.send(JSON.stringify({ action: 'getAll', collection: 'sendnotes' }));
  assert.deepEqual(await all, { action: 'getAll', collection: 'sendnotes', response: [] });
  // An object goes as its JSON: an application message, broadcast with the sender's id.
  const echoed = nextMessage(a.ws, (m) => m.action === 'hello');
  a.ws.send({ action: 'hello', text: 'hi' });
  assert.deepEqual(await echoed, { action: 'hello', text: 'hi', userId: a.id });
  const refused = nextMessage(a.ws, (m) => m.action === 'error');
  a.ws.send('not json');
  assert.equal((await refused).code, 'malformed_json');
  a.ws.close();
  assert.throws(() => a.ws.send('{}'), (e) => e.code === 'unavailable');
});

test("a client's close gets the server's close in reply, not a dropped connection", async () => {
  const url = `${server.url.replace(/^http/, 'ws').replace(/\/$/, '')}/ws?apiKey=${API_KEY}`;
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const closed = new Promise((resolve) => { ws.onclose = resolve; });
  ws.close();
  const e = await closed;
  assert.equal(e.wasClean, true);
  assert.notEqual(e.code, 1006, 'abnormal closure: the server dropped the connection');
});

test('reads answer the caller; writes answer the caller and reach the others once', async () => {
  const a = await user('js-a');
  const b = await user('js-b');
  const seenByB = recorder(b.ws);
  const created = nextMessage(a.ws, (m) => m.action === 'create');
  a.ws.actions.createResource('jsnotes', { text: 'one', userId: 'forged?' });
  const err = await nextMessage(a.ws, (m) => m.action === 'error');
  assert.equal(err.request, 'create', 'a foreign userId is refused');
  assert.equal(err.code, 'system_field');
  a.ws.actions.createResource('jsnotes', { text: 'one' });
  const mine = (await created).response;
  assert.equal(mine.userId, a.id);
  const found = nextMessage(a.ws, (m) => m.action === 'find');
  a.ws.actions.findResource('jsnotes', { text: 'one' });
  assert.deepEqual((await found).response, [mine]);
  const all = nextMessage(a.ws, (m) => m.action === 'getAll');
  a.ws.actions.getCollection('jsnotes');
  assert.deepEqual(await all, { action: 'getAll', collection: 'jsnotes', response: [mine] });
  const one = nextMessage(a.ws, (m) => m.action === 'getOne');
  a.ws.actions.getResource('jsnotes', mine._id);
  assert.deepEqual((await one).response, mine);
  const patched = nextMessage(a.ws, (m) => m.action === 'patch');
  a.ws.actions.updateResource('jsnotes', mine._id, { text: 'two' });
  assert.equal((await patched).response.text, 'two');
  const replaced = nextMessage(a.ws, (m) => m.action === 'update');
  a.ws.actions.overwriteResource('jsnotes', mine._id, { text: 'three' });
  assert.equal((await replaced).response.text, 'three');
  const deleted = nextMessage(a.ws, (m) => m.action === 'delete');
  a.ws.actions.deleteResource('jsnotes', mine._id);
  assert.equal((await deleted).response._id, mine._id);
  // B is not the owner.
  const refused = nextMessage(b.ws, (m) => m.action === 'error');
  b.ws.actions.deleteResource('jsnotes', mine._id);
  assert.equal((await refused).code, 'not_found');
  await settled(a.ws, b.ws);
  assert.deepEqual(seenByB.filter((m) => m.collection === 'jsnotes').map((m) => m.action),
    ['create', 'patch', 'update', 'delete'], 'B saw each write once and no answers of A');
  for (const u of [a, b]) u.ws.close();
});

test('two users chat in a channel; a third hears nothing of it', async () => {
  const a = await user('chat-a');
  const b = await user('chat-b');
  const c = await user('chat-c');
  const seenByC = recorder(c.ws);
  const made = nextMessage(a.ws, (m) => m.action === 'createChannel');
  a.ws.actions.createChannel('jsmeta', 'jsrooms', 'Lobby');
  const room = (await made).response;
  assert.deepEqual((await made).usersCurrentChannel, { channelType: 'jsrooms', channelId: room._id });
  const joined = nextMessage(b.ws, (m) => m.action === 'joinChannel');
  const notice = nextMessage(a.ws, (m) => m.action === 'joinChannel');
  b.ws.actions.joinChannel('jsmeta', 'jsrooms', room._id);
  assert.deepEqual((await joined).response.channels, [{ channelType: 'jsrooms', channelId: room._id }]);
  assert.deepEqual(await notice, { action: 'joinChannel', userId: b.id, channelType: 'jsrooms', channelId: room._id });
  const toA = nextMessage(a.ws, (m) => m.action === 'chat');
  const toB = nextMessage(b.ws, (m) => m.action === 'chat');
  b.ws.actions.sendMessage({ action: 'chat', channelType: 'jsrooms', channelId: room._id, text: 'hello' });
  assert.equal((await toA).userId, b.id);
  assert.equal((await toB).text, 'hello');
  const rec = nextMessage(b.ws, (m) => m.action === 'create' && m.collection === 'jsmsgs');
  await a.sdk.db.createResource('jsmsgs', { channelType: 'jsrooms', channelId: room._id, text: 'http' });
  assert.equal((await rec).httpRequest, true);
  const gone = nextMessage(b.ws, (m) => m.action === 'deleteChannel');
  a.ws.actions.deleteChannel('jsmeta', 'jsmsgs', 'jsrooms', room._id);
  assert.deepEqual((await gone).response.channels, []);
  assert.deepEqual(await a.sdk.db.getCollection('jsmsgs'), []);
  await settled(a.ws, c.ws);
  assert.deepEqual(unsettled(seenByC).map((m) => m.action), ['createChannel'], 'C only heard that a channel exists');
  for (const u of [a, b, c]) u.ws.close();
});

test('subscribe filters writes by collection and query', async () => {
  const a = await user('subs');
  const hits = [];
  const stop = a.ws.subscribe('jsscores', 'score >= 10', (m) => hits.push([m.action, m.response.score]));
  const done = nextMessage(a.ws, (m) => m.collection === 'jsscores' && m.response.score === 99);
  const low = await a.sdk.db.createResource('jsscores', { score: 1 });
  const high = await a.sdk.db.createResource('jsscores', { score: 50 });
  await a.sdk.db.updateResource('jsscores', high._id, { score: 5 });
  await a.sdk.db.updateResource('jsscores', low._id, { score: 20 });
  await a.sdk.db.deleteResource('jsscores', low._id);
  await a.sdk.db.createResource('jsscores', { score: 99 });
  await done;
  assert.deepEqual(hits, [['create', 50], ['patch', 5], ['patch', 20], ['delete', 20], ['create', 99]]);
  stop();
  const after = nextMessage(a.ws, (m) => m.collection === 'jsscores');
  await a.sdk.db.createResource('jsscores', { score: 100 });
  await after;
  assert.equal(hits.length, 5, 'nothing after unsubscribing');
  // The server parses the query; its refusal rejects `ready` with the stable code.
  const bad = a.ws.subscribe('jsscores', 'score >>> 1', () => {});
  await assert.rejects(bad.ready, (e) => e.code === 'invalid_query' && e.status === 400);
  // A refusal nobody awaits is no unhandled rejection (it would end this process).
  a.ws.subscribe('jsscores', { score: { $nope: 1 } }, () => {});
  a.ws.close();
});

test('a subscription stopped or closed before the server answers settles ready', async () => {
  const a = await user('subs-settle');
  const stopped = a.ws.subscribe('jsscores', null, () => {});
  stopped();
  await stopped.ready;
  const cut = a.ws.subscribe('jsscores', null, () => {});
  a.ws.close();
  await assert.rejects(cut.ready, (e) => e.code === 'unavailable');
});

test('a dropped connection resumes: every event once, in order, channel included', async () => {
  const proxy = await startProxy(server.url);
  const r = await user('js-resume', proxy.url);
  const made = nextMessage(r.ws, (m) => m.action === 'createChannel');
  r.ws.actions.createChannel('jsmeta', 'jsrooms', 'resume');
  const room = (await made).response._id;
  const w = createSdk(server.url, API_KEY);
  await w.auth.register(email('js-writer'), PASSWORD);
  const seen = [];
  r.ws.subscribe('jsticks', null, (m) => seen.push(m.response.n));
  const total = 120;
  const writes = (async () => {
    for (let n = 0; n < total; n++) {
      const body = n % 2 ? { n, channelType: 'jsrooms', channelId: room } : { n };
      await w.db.createResource('jsticks', body);
      if (n === 30) proxy.cut();
      if (n === 60) proxy.down();
      if (n === 90) proxy.up();
    }
  })();
  await writes;
  const deadline = Date.now() + 15_000;
  while (seen.length < total && Date.now() < deadline) await sleep(50);
  assert.deepEqual(seen, [...Array(total).keys()]);
  r.ws.close();
  proxy.close();
});

test('SmartNgRX: the adapter maps tables and ids as the document does', async () => {
  const put = await fetch(`${server.url}/collections/jsdocs`, {
    method: 'PUT',
    headers: { authorization: `key ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ parent: { collection: 'jsdepartments', field: 'departmentId' } }),
  });
  assert.equal(put.status, 200);
  const calls = [];
  const sdk = createSdk(server.url, API_KEY);
  await sdk.auth.register(email('ngrx'), PASSWORD);
  const { socket, close } = connectSmartNgRX(sdk, {
    handleSocketNotification: (table, action, ids) => calls.push([table, action, ids]),
    tables: {
      jsdocs: { table: 'departmentChildren', prefix: 'docs:' },
      jsdepartments: 'departments',
    },
  });
  await nextMessage(socket, (m) => m.action === 'subscribeNotifications');
  for (const bad of ['jsdocs', [1], { 0: 'jsdocs' }]) {
    assert.throws(() => socket.actions.subscribeNotifications(bad), (e) => e.code === 'invalid_argument', String(bad));
  }
  const doc = await sdk.db.createResource('jsdocs', { departmentId: 'd7', title: 't' });
  await sdk.db.updateResource('jsdocs', doc._id, { title: 'u' });
  await sdk.db.deleteResource('jsdocs', doc._id);
  const other = await sdk.db.createResource('jslists', { name: 'l' });
  const deadline = Date.now() + 10_000;
  while (calls.length < 4 && Date.now() < deadline) await sleep(20);
  assert.deepEqual(calls, [
    ['departments', 'update', ['d7']],
    ['departmentChildren', 'update', [`docs:${doc._id}`]],
    ['departmentChildren', 'delete', [`docs:${doc._id}`]],
    ['jslists', 'update', [other._id]],
  ]);
  assert.throws(() => connectSmartNgRX(sdk, {}), TypeError);
  close();
});

test('the other channel actions and open/close, with their recipients', async () => {
  const a = await user('more-a');
  const b = await user('more-b');
  const c = await user('more-c');
  const seenByC = recorder(c.ws);
  const made = nextMessage(a.ws, (m) => m.action === 'createChannel');
  a.ws.actions.createChannel('jsmeta2', 'jsrooms2', 'Porch');
  const room = (await made).response._id;
  const chan = { channelType: 'jsrooms2', channelId: room };
  // joinUsersChannels on a second connection of A subscribes it from A's record.
  const a2 = a.sdk.ws();
  await nextMessage(a2, (m) => m.action === 'connection');
  const listed = nextMessage(a2, (m) => m.action === 'joinUsersChannels');
  a2.actions.joinUsersChannels('jsmeta2');
  assert.deepEqual(await listed, { action: 'joinUsersChannels', usersChannels: [chan] });
  const joinNotice = nextMessage(a2, (m) => m.action === 'joinChannel');
  const joined = nextMessage(b.ws, (m) => m.action === 'joinChannel');
  b.ws.actions.joinChannel('jsmeta2', 'jsrooms2', room);
  await joined;
  assert.equal((await joinNotice).userId, b.id);
  const changed = nextMessage(b.ws, (m) => m.action === 'changeChannel');
  b.ws.actions.changeChannel('jsmeta2', 'jsrooms2', room);
  assert.deepEqual((await changed).response.currentChannel, chan);
  const leaveNotice = nextMessage(a.ws, (m) => m.action === 'leaveChannel');
  const left = nextMessage(b.ws, (m) => m.action === 'leaveChannel');
  b.ws.actions.leaveChannel('jsmeta2', 'jsrooms2', room);
  assert.deepEqual((await left).response.channels, []);
  assert.deepEqual((await left).response.currentChannel, { channelType: null, channelId: null });
  assert.deepEqual(await leaveNotice, { action: 'leaveChannel', userId: b.id, ...chan });
  // open and close reach everyone, C included, with the sender's id.
  const opened = nextMessage(c.ws, (m) => m.action === 'open');
  const closed = nextMessage(c.ws, (m) => m.action === 'close');
  b.ws.actions.open({ status: 'online' });
  b.ws.actions.close({});
  assert.deepEqual(await opened, { status: 'online', action: 'open', userId: b.id });
  assert.deepEqual(await closed, { action: 'close', userId: b.id });
  // B left: the room's messages no longer reach B.
  const toA = nextMessage(a2, (m) => m.action === 'chat');
  a.ws.actions.sendMessage({ action: 'chat', ...chan, text: 'after b left' });
  await toA;
  await settled(a.ws, c.ws);
  assert.deepEqual(unsettled(seenByC).map((m) => m.action), ['createChannel', 'open', 'close']);
  for (const s of [a.ws, a2, b.ws, c.ws]) s.close();
});
