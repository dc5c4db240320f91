// The packed npm package in a fresh app built by the bundlers front-end
// developers use, with no configuration: Vite's dev server, Vite's production
// build and webpack's, each app loaded in headless Chromium against the real
// server; and esbuild's, with the one step the README gives for it (esbuild
// does not copy the files `new URL(…, import.meta.url)` names).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as viteBuild, createServer as viteServer } from 'vite';
import webpack from 'webpack';
import * as esbuild from 'esbuild';
import { startServer, API_KEY, PASSWORD, email, launchChromium } from '../js/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const npmDir = resolve(here, '..', '..', 'npm');
const fixture = resolve(here, '..', 'bundlers', 'app');
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

let api;
let app;
let browser;
const servers = [];

/** Serves the files of `dir` on a port of its own; resolves to its URL. */
function serveDir(dir) {
  const server = createServer(async (req, res) => {
    let rel = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (rel.endsWith('/')) rel += 'index.html';
    if (rel.includes('..')) { res.writeHead(404); res.end(); return; }
    try {
      const body = await readFile(join(dir, rel));
      res.writeHead(200, { 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream' });
      res.end(body);
    } catch { res.writeHead(404); res.end(); }
  });
  servers.push(server);
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${server.address().port}/`)));
}

/** Opens `url`, waits for the app, runs it; resolves to what it returns. */
async function runAt(url) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.appReady === true, null, { timeout: 60_000 });
    const who = email('bundled');
    const out = await page.evaluate(
      ({ u, k, e, p }) => window.runApp(u, k, e, p),
      { u: api.url, k: API_KEY, e: who, p: PASSWORD },
    );
    assert.deepEqual(errors, []);
    return out;
  } finally {
    await page.close();
  }
}

function checkRun(out) {
  assert.match(out.id, /\S/);
  assert.equal(out.owner, out.id);
  assert.equal(out.text, 'from a bundle');
  assert.deepEqual(out.missing, { isSdkError: true, status: 404, code: 'not_found' });
  assert.equal(out.greeting, 'connection');
}

before(async () => {
  api = await startServer();
  // A fresh app with the package installed as `npm publish` would ship it.
  app = mkdtempSync(join(tmpdir(), 'rucksack-bundled-'));
  cpSync(fixture, app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'bundled-app', private: true, type: 'module' }));
  execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', app], { cwd: npmDir });
  const tarball = readdirSync(app).find((f) => f.endsWith('.tgz'));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `./${tarball}`], { cwd: app });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.close();
  await api?.stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

test('Vite: the dev server serves the app and the SDK works in it', async () => {
  const server = await viteServer({
    root: app, configFile: false, logLevel: 'error', server: { host: '127.0.0.1', port: 0 },
  });
  await server.listen();
  try {
    checkRun(await runAt(server.resolvedUrls.local[0]));
  } finally {
    await server.close();
  }
});

test('Vite: a production build of the app works', async () => {
  const outDir = join(app, 'dist-vite');
  await viteBuild({ root: app, configFile: false, logLevel: 'error', build: { outDir } });
  checkRun(await runAt(await serveDir(outDir)));
});

test('webpack: a production build of the app works', async () => {
  const outDir = join(app, 'dist-webpack');
  const stats = await new Promise((resolveStats, reject) => {
    webpack({
      mode: 'production',
      context: app,
      entry: './main.js',
      output: { path: outDir, filename: 'main.js' },
    }, (err, s) => (err ? reject(err) : resolveStats(s)));
  });
  assert.equal(stats.hasErrors(), false, stats.toString({ all: false, errors: true }));
  writeFileSync(join(outDir, 'index.html'),
    '<!doctype html><title>A bundled app</title><script src="main.js"></script><body>app</body>');
  checkRun(await runAt(await serveDir(outDir)));
});

test('esbuild: a bundle of the app works once the wasm is copied beside it', async () => {
  const outDir = join(app, 'dist-esbuild');
  const result = await esbuild.build({
    absWorkingDir: app,
    entryPoints: ['main.js'],
    bundle: true,
    format: 'esm',
    outdir: outDir,
    logLevel: 'silent',
  });
  assert.deepEqual(result.errors, []);
  // The README's step: the wasm goes to pkg/ beside the bundle.
  mkdirSync(join(outDir, 'pkg'), { recursive: true });
  cpSync(join(app, 'node_modules', 'rucksack-sdk', 'pkg', 'rucksack_bg.wasm'),
    join(outDir, 'pkg', 'rucksack_bg.wasm'));
  writeFileSync(join(outDir, 'index.html'),
    '<!doctype html><title>A bundled app</title><script type="module" src="main.js"></script><body>app</body>');
  checkRun(await runAt(await serveDir(outDir)));
});
