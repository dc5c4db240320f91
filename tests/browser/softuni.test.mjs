// A small app written the way SoftUni's exercises are (plain ES modules, `fetch`
// to http://localhost:3030, the token in sessionStorage) runs unchanged in
// Chromium against the server's SoftUni mount, from another origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, PASSWORD, email, launchChromium } from '../js/harness.mjs';

const appDir = join(dirname(fileURLToPath(import.meta.url)), 'softuni-app');
const FILES = { '/': 'index.html', '/api.js': 'api.js', '/app.js': 'app.js' };

let api;
let site;
let browser;

before(async () => {
  api = await startServer(['--softuni', '127.0.0.1:0']);
  // The app is served as written, but for the port: the tests cannot count on
  // 3030 being free, so the mount's address replaces it.
  site = createServer(async (req, res) => {
    const file = FILES[new URL(req.url, 'http://x').pathname];
    if (!file) { res.writeHead(404); res.end(); return; }
    let body = await readFile(join(appDir, file), 'utf8');
    if (file === 'api.js') body = body.replace('http://localhost:3030', api.softuni);
    res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html' });
    res.end(body);
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  site?.close();
  await api?.stop();
});

test('register, share, list with authors, edit, delete, log out and log in again', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const origin = `http://localhost:${site.address().port}`;
  assert.notEqual(new URL(origin).origin, new URL(api.softuni).origin);
  await page.goto(`${origin}/`);
  await page.waitForSelector('body.ready');
  assert.equal(await page.textContent('#user'), 'Guest');
  assert.equal(await page.locator('#ideas li').count(), 0, 'no ideas yet: the 404 is an empty list');

  const address = email('su-browser');
  await page.fill('#register [name=email]', address);
  await page.fill('#register [name=password]', PASSWORD);
  await page.fill('#register [name=username]', 'Ada');
  await page.click('#register button');
  await page.waitForFunction(() => document.getElementById('user').textContent === 'Welcome, Ada');

  for (const title of ['First idea', 'Second idea']) {
    await page.fill('#create [name=title]', title);
    await page.click('#create button');
    await page.waitForFunction((t) => document.getElementById('ideas').textContent.includes(t), title);
  }
  const items = () => page.locator('#ideas li').evaluateAll((lis) => lis.map((li) => li.firstChild.textContent));
  assert.deepEqual(await items(), ['Second idea by Ada', 'First idea by Ada']);

  await page.click('#ideas li:nth-child(2) .edit');
  await page.waitForFunction(() => document.getElementById('ideas').textContent.includes('First idea (edited)'));
  await page.click('#ideas li:nth-child(1) .delete');
  await page.waitForFunction(() => document.querySelectorAll('#ideas li').length === 1);
  assert.deepEqual(await items(), ['First idea (edited) by Ada']);

  await page.click('#logout');
  await page.waitForFunction(() => document.getElementById('user').textContent === 'Guest');
  assert.equal(await page.locator('#ideas .edit').count(), 0, 'a guest sees no edit buttons');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('userData')), null);

  await page.fill('#login [name=email]', address);
  await page.fill('#login [name=password]', 'not the password');
  await page.click('#login button');
  await page.waitForFunction(() => document.getElementById('error').textContent !== '');
  assert.equal(await page.textContent('#error'), "Login or password don't match");
  await page.fill('#login [name=password]', PASSWORD);
  await page.click('#login button');
  await page.waitForFunction(() => document.getElementById('user').textContent === 'Welcome, Ada');
  assert.equal(await page.locator('#ideas .edit').count(), 1);
  assert.deepEqual(errors, []);
  await page.close();
});
