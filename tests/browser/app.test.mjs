// The npm package in a real headless Chromium, served from another origin than
// the API (so CORS and credentialed requests are exercised), against the real server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSdk } from '../../npm/index.js';
import { startServer, API_KEY, PASSWORD, email, launchChromium } from '../js/harness.mjs';

const npmDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'npm');
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

let api;
let site;
let siteUrl;
let browser;
let page;

/** Serves the npm package under /npm/ and an empty page at /. */
function startSite() {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>rucksack e2e</title><body>e2e</body>');
      return;
    }
    const rel = normalize(path.replace(/^\/npm\//, ''));
    if (!path.startsWith('/npm/') || rel.startsWith('..')) { res.writeHead(404); res.end(); return; }
    try {
      const body = await readFile(join(npmDir, rel));
      res.writeHead(200, { 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream' });
      res.end(body);
    } catch { res.writeHead(404); res.end(); }
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

before(async () => {
  api = await startServer();
  site = await startSite();
  siteUrl = `http://localhost:${site.address().port}`;
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${siteUrl}/`);
});

after(async () => {
  await browser?.close();
  site?.close();
  await api?.stop();
});

test('the page origin differs from the API origin', () => {
  assert.notEqual(new URL(siteUrl).origin, new URL(api.url).origin);
});

test('register, log in, create, read, update, overwrite, delete from the browser', async () => {
  const result = await page.evaluate(async ({ url, key, who, password }) => {
    const { createSdk } = await import('/npm/index.js');
    const sdk = createSdk(url, key);
    const out = {};
    out.register = await sdk.auth.register(who, password);
    out.logout = await sdk.auth.logout();
    out.login = await sdk.auth.login(who, password);
    out.created = await sdk.db.createResource('messages', { text: 'from chromium' });
    out.read = await sdk.db.getResource('messages', out.created._id);
    out.list = await sdk.db.getCollection('messages');
    out.merged = await sdk.db.updateResource('messages', out.created._id, { text: 'edited', extra: 1 });
    out.replaced = await sdk.db.overwriteResource('messages', out.created._id, { only: true });
    out.deleted = await sdk.db.deleteResource('messages', out.created._id);
    out.missing = await sdk.db.getResource('messages', out.created._id).catch((e) =>
      ({ name: e.name, status: e.status, code: e.code }));
    out.collections = await sdk.db.getCollectionList();
    return out;
  }, { url: api.url, key: API_KEY, who: email('chromium'), password: PASSWORD });

  assert.match(result.register.id, /^[0-9a-f]{24}$/);
  assert.deepEqual(result.logout, { message: 'OK' });
  assert.deepEqual(result.login, result.register);
  assert.equal(result.created.text, 'from chromium');
  assert.equal(result.created.userId, result.register.id);
  assert.equal(result.created.__v, 0);
  assert.deepEqual(result.read, result.created);
  assert.deepEqual(result.list, [result.created]);
  assert.equal(result.merged.text, 'edited');
  assert.equal(result.merged.extra, 1);
  assert.equal(result.merged.__v, 1);
  assert.equal(result.replaced.only, true);
  assert.ok(!('text' in result.replaced));
  assert.deepEqual(result.deleted, result.replaced);
  assert.deepEqual(result.missing, { name: 'SdkError', status: 404, code: 'not_found' });
  assert.deepEqual(result.collections, []);
});

test('a file chosen in an <input type=file> is uploaded and shown as an image', async () => {
  // A 1x1 PNG.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'picker';
    document.body.append(input);
  });
  await page.setInputFiles('#picker', { name: 'dot.png', mimeType: 'image/png', buffer: png });
  const shown = await page.evaluate(async ({ url, key, who, password }) => {
    const { createSdk } = await import('/npm/index.js');
    const sdk = createSdk(url, key);
    const { id } = await sdk.auth.register(who, password);
    const file = document.querySelector('#picker').files[0];
    const rec = await sdk.storage.uploadFile(file, file.name, 'photos');
    const resp = await sdk.storage.getFile(id, 'dot.png');
    const img = document.createElement('img');
    img.src = URL.createObjectURL(await resp.blob());
    document.body.append(img);
    await img.decode();
    return { rec, width: img.naturalWidth, height: img.naturalHeight, id };
  }, { url: api.url, key: API_KEY, who: email('picker'), password: PASSWORD });
  assert.equal(shown.rec.filename, 'dot.png');
  assert.equal(shown.rec.contentType, 'image/png');
  assert.equal(shown.rec.size, png.length);
  assert.deepEqual([shown.width, shown.height], [1, 1]);
});

test('a large upload reports its progress, and its errors as an SdkError', async () => {
  const size = 24 * 1024 * 1024;
  const out = await page.evaluate(async ({ url, key, who, password, size }) => {
    const { createSdk, SdkError } = await import('/npm/index.js');
    const sdk = createSdk(url, key);
    const { id } = await sdk.auth.register(who, password);
    const events = [];
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) bytes[i] = i & 255;
    const rec = await sdk.storage.uploadFile(new Blob([bytes]), 'big.bin', 'data', {
      onProgress: (p) => events.push(p),
    });
    const back = new Uint8Array(await (await sdk.storage.getFile(id, 'big.bin')).arrayBuffer());
    let same = back.length === size;
    for (let i = 0; same && i < size; i += 4096) same = back[i] === (i & 255);
    // The same name again: the server's refusal comes back as the SDK's error.
    const dup = await sdk.storage.uploadFile(new Blob(['x']), 'big.bin', 'data', { onProgress() {} })
      .then(() => null, (e) => ({ isSdkError: e instanceof SdkError, status: e.status, code: e.code }));
    const bad = await Promise.resolve()
      .then(() => sdk.storage.uploadFile(new Blob(['x']), 'c.bin', 'data', { onProgress: 5 }))
      .then(() => null, (e) => e.code);
    return { rec, events, same, dup, bad };
  }, { url: api.url, key: API_KEY, who: email('progress'), password: PASSWORD, size });
  assert.equal(out.rec.size, size);
  assert.ok(out.same, 'the bytes come back as sent');
  assert.ok(out.events.length >= 1, 'at least one progress event');
  const last = out.events.at(-1);
  assert.ok(last.total >= size, `the total counts the whole body: ${JSON.stringify(last)}`);
  assert.equal(last.loaded, last.total, 'the last event says everything was sent');
  for (let i = 1; i < out.events.length; i++) {
    assert.ok(out.events[i].loaded >= out.events[i - 1].loaded, 'progress never goes back');
  }
  assert.deepEqual(out.dup, { isSdkError: true, status: 409, code: 'file_exists' });
  assert.equal(out.bad, 'invalid_argument');
});

test('the page receives the websocket message caused by a second client\'s write', async () => {
  await page.evaluate(async ({ url, key }) => {
    const { createSdk } = await import('/npm/index.js');
    const ws = createSdk(url, key).ws();
    window.received = [];
    window.firstCreate = new Promise((resolveCreate, reject) => {
      ws.onmessage = (e) => {
        const msg = JSON.parse(e.data);
        window.received.push(msg);
        if (msg.action === 'create') resolveCreate(msg);
      };
      ws.onerror = () => reject(new Error('websocket error'));
    });
    await new Promise((r) => { ws.onopen = r; });
  }, { url: api.url, key: API_KEY });

  // The second client: the same npm package, in Node.js.
  const writer = createSdk(api.url, API_KEY);
  await writer.auth.register(email('writer'), PASSWORD);
  const rec = await writer.db.createResource('chat', { text: 'hello browser' });

  const msg = await page.evaluate(() =>
    Promise.race([window.firstCreate, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 10000))]));
  assert.deepEqual(msg, { action: 'create', collection: 'chat', httpRequest: true, response: rec });
  const greeting = await page.evaluate(() => window.received[0]);
  assert.deepEqual(greeting, { action: 'connection', response: 'Websocket connection established' });
});

test('two pages chat in a channel; a third page, not subscribed, receives nothing', async () => {
  // Three browser contexts: three users with their own cookies.
  const contexts = await Promise.all([0, 1, 2].map(() => browser.newContext()));
  const pages = await Promise.all(contexts.map(async (c) => {
    const p = await c.newPage();
    p.on('pageerror', (e) => console.error('page error:', e));
    await p.goto(`${siteUrl}/`);
    return p;
  }));
  // Each page signs in, connects and records every message it receives.
  const ids = await Promise.all(pages.map((p, i) => p.evaluate(async ({ url, key, who, password }) => {
    const { createSdk } = await import('/npm/index.js');
    const sdk = createSdk(url, key);
    const { id } = await sdk.auth.register(who, password);
    const ws = sdk.ws();
    window.ws = ws;
    window.inbox = [];
    window.next = (action, timeout = 10000) => new Promise((resolveMsg, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${action} in time`)), timeout);
      const f = (e) => {
        const m = JSON.parse(e.data);
        if (m.action === action) { clearTimeout(t); ws.removeEventListener('message', f); resolveMsg(m); }
      };
      ws.addEventListener('message', f);
    });
    ws.onmessage = (e) => window.inbox.push(JSON.parse(e.data));
    await window.next('connection');
    return id;
  }, { url: api.url, key: API_KEY, who: email(`page${i}`), password: PASSWORD })));
  const [alice, bob, carol] = pages;

  const room = await alice.evaluate(async () => {
    const made = window.next('createChannel');
    window.ws.actions.createChannel('browsermeta', 'browserrooms', 'Garden');
    return (await made).response._id;
  });
  await bob.evaluate(async (roomId) => {
    const joined = window.next('joinChannel');
    window.ws.actions.joinChannel('browsermeta', 'browserrooms', roomId);
    await joined;
  }, room);
  const said = (p, text) => p.evaluate(async ({ roomId, words }) => {
    window.ws.actions.sendMessage({ action: 'chat', channelType: 'browserrooms', channelId: roomId, text: words });
  }, { roomId: room, words: text });
  const heard = (p, n) => p.evaluate(async (count) => {
    const deadline = Date.now() + 10000;
    while (window.inbox.filter((m) => m.action === 'chat').length < count && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return window.inbox.filter((m) => m.action === 'chat').map((m) => [m.userId, m.text]);
  }, n);
  // Each speaks after hearing the last line: sends from two pages are otherwise
  // not ordered with each other.
  await said(alice, 'hi bob');
  await heard(bob, 1);
  await said(bob, 'hi alice');
  await heard(alice, 2);
  await said(alice, 'bye');
  const conversation = [[ids[0], 'hi bob'], [ids[1], 'hi alice'], [ids[0], 'bye']];
  assert.deepEqual(await heard(alice, 3), conversation);
  assert.deepEqual(await heard(bob, 3), conversation);
  // Carol heard that a channel exists, and nothing said in it. A broadcast sent
  // now reaches her after everything sent to her before (each connection's
  // messages arrive in publish order), so no fixed wait is needed.
  await alice.evaluate(() => window.ws.actions.sendMessage({ action: 'settled' }));
  const carolHeard = await carol.evaluate(async () => {
    const deadline = Date.now() + 10000;
    while (!window.inbox.some((m) => m.action === 'settled') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return window.inbox.map((m) => m.action);
  });
  assert.deepEqual(carolHeard, ['connection', 'createChannel', 'settled']);
  for (const c of contexts) await c.close();
});

test('a signed-in page stays signed in after a reload, and signed out after a logout', async () => {
  const p = await browser.newPage();
  await p.goto(`${siteUrl}/`);
  const args = { url: api.url, key: API_KEY };
  const id = await p.evaluate(async ({ url, key, who, password }) => {
    const { createSdk } = await import('/npm/index.js');
    return (await createSdk(url, key).auth.register(who, password)).id;
  }, { ...args, who: email('reload'), password: PASSWORD });
  await p.reload();
  const after = await p.evaluate(async ({ url, key }) => {
    const { createSdk } = await import('/npm/index.js');
    const sdk = createSdk(url, key);
    const me = await sdk.auth.me();
    const rec = await sdk.db.createResource('reloaded', { a: 1 });
    await sdk.auth.logout();
    return { me: me.id, owner: rec.userId };
  }, args);
  assert.deepEqual(after, { me: id, owner: id });
  await p.reload();
  const out = await p.evaluate(async ({ url, key }) => {
    const { createSdk } = await import('/npm/index.js');
    const sdk = createSdk(url, key);
    return { session: sdk.auth.session, me: await sdk.auth.me().then(() => 'signed in', (e) => e.code) };
  }, args);
  assert.deepEqual(out, { session: null, me: 'unauthenticated' });
  await p.close();
});
