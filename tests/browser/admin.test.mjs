// The admin page at /_/ in headless Chromium against the real server: sign in
// with the admin key, create a collection, set its rules and a script (and see
// the compile error first), create, edit and delete records through the table,
// query them, make and revoke an API key, upload an image for a user and see it
// previewed, and watch a write arrive live. RUCKSACK_SCREENSHOTS=<dir> saves a
// screenshot of each view there (the README's come from this test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, ADMIN_KEY, API_KEY, PASSWORD, email, launchChromium } from '../js/harness.mjs';

let server;
let browser;
const shots = process.env.RUCKSACK_SCREENSHOTS;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
  if (shots) mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function shot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

test('the admin page manages collections, records, configuration and keys', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  // /_ leads to the page, which asks for the admin key; another key is refused.
  await page.goto(`${server.url}/_`);
  assert.equal(new URL(page.url()).pathname, '/_/');
  await page.fill('#admin-key', API_KEY);
  await page.click('#sign-in-form button');
  await page.waitForSelector('#sign-in-error:has-text("not the admin key")');
  await shot(page, 'sign-in');
  await page.fill('#admin-key', ADMIN_KEY);
  await page.click('#sign-in-form button');
  await page.waitForSelector('#collections:not([hidden])');
  assert.equal(page.url().includes(ADMIN_KEY), false, 'the key is never in the URL');

  // A new collection opens on its configuration.
  await page.fill('#new-collection-name', 'tasks');
  await page.click('#new-collection button');
  await page.waitForSelector('#config-view:not([hidden])');
  await page.waitForFunction(() => document.getElementById('config-json').value.includes('rules'));

  // A script that does not compile is refused, with the reason in place.
  const config = (validate) => JSON.stringify({
    properties: { title: { type: 'String', required: true }, done: { type: 'Boolean' } },
    rules: { read: 'public', create: 'signedIn', update: 'owner', delete: 'admin' },
    events: { validate },
  }, null, 2);
  await page.fill('#config-json', config("if (this.title === 'x') error('title', 'not x'"));
  await page.click('#save-config');
  await page.waitForSelector('#config-error:has-text("events.validate")');
  await shot(page, 'configuration-error');
  await page.fill('#config-json', config("if (this.title === 'x') error('title', 'not x');"));
  await page.click('#save-config');
  await page.waitForSelector('#config-saved:has-text("Saved")');
  assert.equal(await page.textContent('#config-error'), '');
  const stored = await (await fetch(`${server.url}/collections/tasks`, {
    headers: { authorization: `key ${ADMIN_KEY}` },
  })).json();
  assert.equal(stored.rules.delete, 'admin');
  assert.match(stored.events.validate, /error\('title', 'not x'\);/);

  // Records through the table: the script and schema hold, as for any client.
  await page.click('#tab-records');
  await page.waitForSelector('#records-view:not([hidden])');
  for (const title of ['write docs', 'ship it', 'x']) {
    await page.fill('#record-json', JSON.stringify({ title, done: false }));
    await page.click('#save-record');
    if (title === 'x') {
      await page.waitForSelector('#records-error:has-text("not x")');
    } else {
      await page.waitForSelector(`#records td:has-text("${title}")`);
    }
  }
  await page.waitForSelector('#records-count:has-text("2 records")');

  // Edit one: its own fields come into the editor; saving replaces them.
  const row = page.locator('#records tbody tr', { hasText: 'write docs' });
  await row.getByRole('button', { name: 'Edit' }).click();
  const editing = JSON.parse(await page.inputValue('#record-json'));
  assert.deepEqual(editing, { title: 'write docs', done: false });
  await page.fill('#record-json', JSON.stringify({ title: 'write docs', done: true }));
  await page.click('#save-record');
  await page.waitForSelector('#records tbody tr:has-text("write docs") td:has-text("true")');

  // The query form: where and sortBy go to the server.
  await page.fill('#q-where', 'done = true');
  await page.click('#query button');
  await page.waitForSelector('#records-count:has-text("1 record")');
  await shot(page, 'records');
  await page.fill('#q-where', '');
  await page.fill('#q-sort', 'title desc');
  await page.click('#query button');
  await page.waitForSelector('#records-count:has-text("2 records")');
  const titles = await page.locator('#records tbody tr').evaluateAll((rows) =>
    rows.map((r) => [...r.children].map((c) => c.textContent)));
  assert.deepEqual(titles.map((cells) => cells.find((c) => c === 'ship it' || c === 'write docs')), ['write docs', 'ship it']);

  // Delete asks again on the same button, then the record is gone.
  const doomed = page.locator('#records tbody tr', { hasText: 'ship it' });
  await doomed.getByRole('button', { name: 'Delete' }).click();
  await doomed.getByRole('button', { name: 'Really delete' }).click();
  await page.waitForSelector('#records-count:has-text("1 record")');
  const left = await (await fetch(`${server.url}/tasks`, { headers: { 'x-api-key': API_KEY } })).json();
  assert.deepEqual(left.map((r) => r.title), ['write docs']);

  // A stored value is shown as text, never as markup.
  await fetch(`${server.url}/tasks`, {
    method: 'POST',
    headers: { authorization: `key ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: '<img src=x onerror="window.owned=1">' }),
  });
  await page.click('#query button');
  await page.waitForSelector('#records td:has-text("<img src=x")');
  assert.equal(await page.evaluate(() => window.owned), undefined);

  // The collections list shows it with its count.
  await page.click('#nav-collections');
  await page.waitForSelector('#collection-rows tr:has-text("tasks")');
  assert.match(await page.textContent('#collection-rows tr:has-text("tasks")'), /tasks\s*2/);
  await shot(page, 'collections');

  // API keys: made once-shown, it works; revoked, it does not.
  await page.click('#nav-keys');
  await page.fill('#new-key-name', 'mobile app');
  await page.click('#new-key button');
  await page.waitForSelector('#key-made:not([hidden])');
  const made = await page.textContent('#key-made-value');
  assert.match(made, /^rk_/);
  const withKey = () => fetch(`${server.url}/tasks`, { headers: { 'x-api-key': made } });
  assert.equal((await withKey()).status, 200);
  await shot(page, 'keys');
  await page.locator('#key-rows tr', { hasText: 'mobile app' }).getByRole('button', { name: 'Revoke' }).click();
  await page.waitForSelector('#key-rows tr:has-text("mobile app") >> text=/\\d{4}-\\d\\d-\\d\\d .*\\d{4}-/');
  assert.equal((await withKey()).status, 401);

  // Files: a user's upload is listed by user and bucket; an image the admin
  // uploads for the user is theirs and previewed, though its bucket is private.
  const reg = await (await fetch(`${server.url}/register`, {
    method: 'POST',
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ email: email('photographer'), password: PASSWORD }),
  })).json();
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
  const form = new FormData();
  form.append('bucket', 'notes');
  form.append('filename', 'todo.txt');
  form.append('file', new Blob(['buy milk'], { type: 'text/plain' }), 'todo.txt');
  const up = await fetch(`${server.url}/uploads`, {
    method: 'POST', headers: { 'x-api-key': API_KEY, 'x-authorization': reg.token }, body: form,
  });
  assert.equal(up.status, 201, await up.text());
  await page.click('#nav-files');
  await page.waitForSelector(`#file-user option[value="${reg.id}"]`, { state: 'attached' });
  await page.selectOption('#file-user', reg.id);
  await page.waitForSelector('#file-rows tr[data-file="todo.txt"]');
  // The admin uploads an image for the user from the page.
  await page.setInputFiles('#upload-file', { name: 'dot.png', mimeType: 'image/png', buffer: png });
  await page.fill('#upload-bucket', 'photos');
  await page.click('#upload-form button');
  await page.waitForFunction(() => {
    const img = document.querySelector('#file-rows tr[data-file="dot.png"] img');
    return img && img.complete && img.naturalWidth === 1;
  });
  await page.selectOption('#file-bucket', 'photos');
  await page.waitForFunction(() => document.querySelectorAll('#file-rows tr').length === 1);
  assert.equal(await page.getAttribute('#file-rows tr', 'data-file'), 'dot.png');
  await shot(page, 'files');
  const theirs = await (await fetch(`${server.url}/uploads/${reg.id}`, {
    headers: { 'x-api-key': API_KEY, 'x-authorization': reg.token },
  })).json();
  assert.deepEqual(theirs.records.map((r) => [r.filename, r.userId]).sort(),
    [['dot.png', reg.id], ['todo.txt', reg.id]]);

  // Live: an admin socket opened with a one-time ticket shows each write as it
  // happens, whoever makes it, and the key is in no URL it opened.
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.click('#nav-live');
  await page.waitForSelector('#live-state:has-text("Connected")');
  await fetch(`${server.url}/tasks`, {
    method: 'POST',
    headers: { authorization: `key ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'seen live' }),
  });
  await page.waitForSelector('#live-rows tr:has-text("create"):has-text("tasks")');
  await shot(page, 'live');
  assert.equal(sockets.length, 1);
  assert.match(sockets[0], /\/ws\?ticket=[0-9a-f]{64}$/);
  assert.equal(sockets.some((u) => u.includes(ADMIN_KEY)), false);

  // Signing out forgets the key.
  await page.click('#sign-out');
  await page.waitForSelector('#sign-in:not([hidden])');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.deepEqual(errors.filter((e) => !e.includes('status of 4')), []);
  await page.close();
});
