// The Backpack SDK's install in a real headless Chromium: a plain HTML page on
// another origin loads the SDK from the server by a script tag and runs the
// Backpack document's auth, db, storage and websocket examples, calling
// `createSdk` and `sdk.ws()` at once, before the SDK has finished loading.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, API_KEY, launchChromium } from '../js/harness.mjs';

const npmDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'npm');

let api;
let site;
let browser;

// The page: the script tag, then the document's examples as an app would write
// them, each result kept in `window.results` for the test to read.
const page = (apiUrl) => `<!doctype html>
<title>A Backpack app</title>
<script src="${apiUrl}/sdk.js"></script>
<script>
  window.results = { inbox: [] };
  window.results.loadedBeforeCreate = window.rucksack.SdkError !== undefined;
  const sdk = createSdk('${apiUrl}/', '${API_KEY}');

  const websocket = sdk.ws();
  websocket.onmessage = (e) => {
    const message = JSON.parse(e.data);
    window.results.inbox.push(message);
    if (message.action === 'connection') websocket.actions.sendMessage({ action: 'userTyping' });
  };

  (async () => {
    const r = window.results;
    r.register = await sdk.auth.register('user@users.com', 'my_password123');
    r.login = await sdk.auth.login('user@users.com', 'my_password123');
    r.created = await sdk.db.createNewCollection('messages');
    r.message = await sdk.db.createResource('messages', { "text": "I am a message!" });
    r.list = await sdk.db.getCollectionList();
    r.collection = await sdk.db.getCollection('messages');
    r.read = await sdk.db.getResource('messages', r.message._id);
    r.updated = await sdk.db.updateResource('messages', r.message._id, {"text": "updated message"});
    r.deleted = await sdk.db.deleteResource('messages', r.message._id);

    const file = new File(['a photo'], 'my_photo.jpg', { type: 'image/jpeg' });
    r.uploaded = await sdk.storage.uploadFile(file, 'my_photo.jpg', 'photos');
    r.fileText = await (await sdk.storage.getFile(r.login.id, 'my_photo.jpg')).text();
    r.files = await sdk.storage.getListOfUserFiles(r.login.id);
    r.renamed = await sdk.storage.updateFil('my_photo.jpg', 'new_photo_name.jpg', 'archived_photos');
    r.overwritten = await sdk.storage.overwriteFile(new File(['another photo'], 'x.jpg'), 'new_photo_name.jpg');
    r.fileDeleted = await sdk.storage.deleteFile('new_photo_name.jpg');
    r.logout = await sdk.auth.logout();
    r.afterLogout = await sdk.db.createResource('messages', { text: 'no' }).catch((e) => ({ status: e.status, code: e.code }));
    r.errorClass = rucksack.SdkError.name;
    r.done = true;
  })().catch((e) => { window.results.error = String(e && e.message || e); });
</script>
<body>app</body>`;

// The loader over a stand-in module that logs what reaches it, to see the order
// in which calls and assignments made before loading are applied.
const FAKE_MODULE = `export const log = [];
export class SdkError extends Error {}
export function createSdk(url, key) {
  log.push('createSdk ' + url);
  const socket = { actions: { send(m) { log.push('send ' + m); } } };
  Object.defineProperty(socket, 'onmessage', { set() { log.push('onmessage'); } });
  return {
    auth: { restoreSession(t) { log.push('restore ' + t); return 'restored'; }, get session() { return 'the session'; } },
    ws() { log.push('ws'); return socket; },
  };
}`;
const ORDER_PAGE = `<!doctype html>
<script src="/fake/sdk.js"></script>
<script>
  const sdk = createSdk('u', 'k');
  const restored = sdk.auth.restoreSession('t');
  sdk.ws().actions.send('a');
  const w = sdk.ws();
  w.onmessage = () => {};
  w.actions.send('b');
  window.order = rucksack.ready.then(async () => ({
    log: (await import('/fake/sdk/index.js')).log,
    restored: await restored,
    session: await sdk.auth.session,
  }));
</script>`;

before(async () => {
  api = await startServer(['--sdk-dir', npmDir]);
  const loader = await readFile(join(npmDir, 'sdk.js'));
  site = await new Promise((r) => {
    const s = createServer((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      if (path === '/fake/sdk.js' || path === '/fake/sdk/index.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(path === '/fake/sdk.js' ? loader : FAKE_MODULE);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(path === '/order' ? ORDER_PAGE : page(api.url));
    });
    s.listen(0, '127.0.0.1', () => r(s));
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  site?.close();
  await api?.stop();
});

test('a plain page with <script src=/sdk.js> runs the Backpack examples as written', async () => {
  const p = await browser.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  const fetched = [];
  p.on('request', (req) => {
    const u = new URL(req.url());
    if (u.origin === new URL(api.url).origin && u.pathname.startsWith('/sdk')) fetched.push(u.pathname);
  });
  await p.goto(`http://localhost:${site.address().port}/`);
  await p.waitForFunction(() => window.results.done || window.results.error, null, { timeout: 30_000 });
  await p.waitForFunction(() => window.results.inbox.some((m) => m.action === 'userTyping'), null, { timeout: 10_000 });
  const r = await p.evaluate(() => window.results);
  assert.equal(r.error, undefined);
  assert.deepEqual(errors, []);
  // createSdk and sdk.ws() ran before the SDK had loaded.
  assert.equal(r.loadedBeforeCreate, false);

  assert.match(r.register.id, /\S/);
  assert.equal(r.login.id, r.register.id);
  assert.equal(r.created, 'messages');
  assert.equal(r.message.text, 'I am a message!');
  assert.equal(r.message.userId, r.login.id);
  assert.ok(r.list.includes('messages'));
  assert.deepEqual(r.collection.map((m) => m._id), [r.message._id]);
  assert.deepEqual(r.read, r.message);
  assert.equal(r.updated.text, 'updated message');
  assert.equal(r.deleted._id, r.message._id);

  assert.equal(r.uploaded.filename, 'my_photo.jpg');
  assert.equal(r.uploaded.bucket, 'photos');
  assert.equal(r.fileText, 'a photo');
  assert.deepEqual(r.files.records.map((f) => f.filename), ['my_photo.jpg']);
  assert.equal(r.renamed.record.filename, 'new_photo_name.jpg');
  assert.equal(r.renamed.record.bucket, 'archived_photos');
  assert.equal(r.overwritten.message, 'file overwritten');
  assert.equal(r.fileDeleted.deletedRecord.filename, 'new_photo_name.jpg');
  assert.deepEqual(r.afterLogout, { status: 401, code: 'unauthenticated' });
  assert.equal(r.errorClass, 'SdkError');
  // The whole SDK is three downloads: the loader, one module, the wasm.
  assert.deepEqual(fetched, ['/sdk.js', '/sdk/index.js', '/sdk/pkg/rucksack_bg.wasm']);

  // The socket opened before the SDK loaded: greeted, and its own broadcast came back.
  const actions = r.inbox.map((m) => m.action);
  assert.equal(actions[0], 'connection');
  assert.ok(actions.includes('userTyping'));
  await p.close();
});

test('the SDK files come with their types and ETags, and nothing else is served under /sdk/', async () => {
  const js = await fetch(`${api.url}/sdk.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  const etag = js.headers.get('etag');
  assert.match(etag, /^"[0-9a-f]+"$/);
  const again = await fetch(`${api.url}/sdk.js`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  const wasm = await fetch(`${api.url}/sdk/pkg/rucksack_bg.wasm`);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
  // Sent as written (fetch would resolve the dots before sending).
  const raw = (path) => new Promise((resolveRaw, reject) => {
    get(`${api.url}${path}`, { path }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolveRaw({ status: res.statusCode, body }));
    }).on('error', reject);
  });
  for (const path of ['/sdk/package.json', '/sdk/../Cargo.toml', '/sdk/%2e%2e/Cargo.toml',
    '/sdk/pkg/../index.js', '/sdk/pkg/%2e%2e/index.js', '/sdk/', '/sdk//etc/passwd']) {
    const r = await raw(path);
    assert.equal(r.status, 404, path);
    assert.equal(JSON.parse(r.body).code, 'not_found', path);
  }
});

test('calls and assignments made before the SDK loads reach it in the order they were made', async () => {
  const p = await browser.newPage();
  await p.goto(`http://localhost:${site.address().port}/order`);
  const got = await p.evaluate(() => window.order);
  assert.deepEqual(got.log, ['createSdk u', 'restore t', 'ws', 'send a', 'ws', 'onmessage', 'send b']);
  assert.equal(got.restored, 'restored');
  assert.equal(got.session, 'the session');
  await p.close();
});
