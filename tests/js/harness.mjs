// Starts the real rucksack-server binary on a free port with its own data
// directory, for the JavaScript end-to-end tests. With RUCKSACK_TEST_FILES=s3
// each server keeps its file bytes in an S3 bucket of a real S3-protocol server
// (s3s-fs, installed by scripts/setup.sh) started beside it. With
// RUCKSACK_TEST_DATABASE=postgres each server keeps its data in a PostgreSQL
// schema of its own (RUCKSACK_TEST_POSTGRES, by default the machine's `test`
// database), dropped when the server stops. With RUCKSACK_TEST_BUS=nats each
// server shares realtime through a NATS JetStream stream of its own (the
// machine's NATS), deleted when the server stops.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const API_KEY = 'js-test-key-0123456789';
export const ADMIN_KEY = 'js-admin-key-9876543210';
export const PASSWORD = 'correct horse battery';

let n = 0;
/** A unique email for a test user. */
export const email = (tag) => `${tag}-${process.pid}-${Date.now()}-${n++}@example.com`;

export function serverBin() {
  return process.env.RUCKSACK_SERVER_BIN ?? join(root, 'target', 'debug', 'rucksack-server');
}

const S3_KEYS = ['rucksack-test', 'rucksack-test-secret'];
const POSTGRES = process.env.RUCKSACK_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
let schemas = 0;

/** Makes a PostgreSQL schema of its own; returns its name and the --database URL. */
function makeSchema() {
  const name = `rk_js_${process.pid}_${Date.now()}_${schemas++}`;
  execFileSync('psql', [POSTGRES, '-q', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE SCHEMA ${name}`]);
  const sep = POSTGRES.includes('?') ? '&' : '?';
  return { name, url: `${POSTGRES}${sep}options=-c%20search_path%3D${name}` };
}

let streams = 0;

/**
 * Deletes JetStream streams by name, speaking NATS's text protocol to the
 * JetStream API and waiting for each answer (2 s at most).
 */
export function dropStreams(names) {
  return new Promise((done) => {
    const sock = connect(4222, '127.0.0.1');
    let seen = '';
    const finish = () => { clearTimeout(timer); sock.destroy(); done(); };
    const timer = setTimeout(finish, 2000);
    sock.on('error', finish);
    sock.on('connect', () => {
      let out = 'CONNECT {"verbose":false}\r\nSUB _INBOX.rk_drop 1\r\n';
      for (const n of names) out += `PUB $JS.API.STREAM.DELETE.${n} _INBOX.rk_drop 0\r\n\r\n`;
      sock.write(out);
    });
    sock.on('data', (d) => {
      seen += d;
      if ((seen.match(/MSG _INBOX\.rk_drop/g) ?? []).length >= names.length) finish();
    });
  });
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Starts s3s-fs storing under `dir` with the bucket `rucksack`; resolves to { url, child }. */
async function startS3(dir) {
  mkdirSync(join(dir, 'rucksack'), { recursive: true });
  const port = await freePort();
  const child = spawn('s3s-fs', ['--host', '127.0.0.1', '--port', String(port),
    '--access-key', S3_KEYS[0], '--secret-key', S3_KEYS[1], dir], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((r) => {
      const sock = connect(port, '127.0.0.1', () => { sock.destroy(); r(true); });
      sock.once('error', () => r(false));
    });
    if (up) return { url: `s3://rucksack?endpoint=http://127.0.0.1:${port}`, child };
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill();
  throw new Error(`s3s-fs did not listen on port ${port}`);
}

/**
 * Starts a server (with `extraArgs` added to its command line); resolves to
 * { url, softuni, stop() }, `softuni` the SoftUni mount's URL when `--softuni` is given.
 */
export async function startServer(extraArgs = []) {
  const bin = serverBin();
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: run cargo build -p reference-server`);
  const dataDir = mkdtempSync(join(tmpdir(), 'rucksack-js-'));
  const s3 = process.env.RUCKSACK_TEST_FILES === 's3' ? await startS3(join(dataDir, '.s3')) : null;
  const files = s3 ? ['--files', s3.url] : [];
  const pg = process.env.RUCKSACK_TEST_DATABASE === 'postgres' ? makeSchema() : null;
  if (pg) files.push('--database', pg.url);
  const stream = process.env.RUCKSACK_TEST_BUS === 'nats' ? `rk_js_${process.pid}_${Date.now()}_${streams++}` : null;
  if (stream) files.push('--bus', `nats://127.0.0.1:4222?stream=${stream}`);
  const child = spawn(bin, [
    '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--api-key', API_KEY, '--admin-key', ADMIN_KEY,
    '--hash-memory-kib', '64', '--hash-iterations', '1', '--shutdown-grace', '2', ...files, ...extraArgs,
  ], {
    env: {
      ...process.env, RUCKSACK_LOG: 'warn', RUCKSACK_AUTH_RATE_PER_IP: '100000', RUCKSACK_AUTH_RATE_PER_EMAIL: '100000',
      AWS_ACCESS_KEY_ID: S3_KEYS[0], AWS_SECRET_ACCESS_KEY: S3_KEYS[1],
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const mounted = extraArgs.includes('--softuni');
  const { url, softuni } = await new Promise((resolveUrls, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start in 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    const found = {};
    createInterface({ input: child.stdout }).on('line', (line) => {
      const api = line.match(/listening on (\S+)/);
      if (api) found.url = api[1];
      const mount = line.match(/serves the SoftUni API \(no API key\) on (\S+)/);
      if (mount) found.softuni = mount[1];
      if (found.url && (!mounted || found.softuni)) { clearTimeout(timer); resolveUrls(found); }
    });
  });
  return {
    url,
    softuni,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (s3) {
        const gone = new Promise((r) => s3.child.once('exit', r));
        s3.child.kill();
        await gone;
      }
      if (pg) execFileSync('psql', [POSTGRES, '-q', '-c', `DROP SCHEMA IF EXISTS ${pg.name} CASCADE`]);
      if (stream) await dropStreams([stream, `${stream}_limits`]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium as the browser tests run it (`CHROMIUM_PATH`, default Debian's). */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
}

/** The next message on a WebSocket that satisfies `pred`, as parsed JSON. */
export function nextMessage(ws, pred = () => true, timeoutMs = 10_000) {
  return new Promise((resolveMsg, reject) => {
    const timer = setTimeout(() => reject(new Error('no matching message in time')), timeoutMs);
    const onMessage = (e) => {
      const msg = JSON.parse(e.data);
      if (pred(msg)) {
        clearTimeout(timer);
        ws.removeEventListener('message', onMessage);
        resolveMsg(msg);
      }
    };
    ws.addEventListener('message', onMessage);
  });
}

/** A TCP proxy in front of `target` whose connections can be cut: a real network failure. */
export async function startProxy(target) {
  const { createServer, connect } = await import('node:net');
  const { hostname, port } = new URL(target);
  const open = new Set();
  let down = false;
  const server = createServer((client) => {
    if (down) { client.destroy(); return; }
    const upstream = connect(Number(port), hostname);
    const pair = [client, upstream];
    open.add(pair);
    const end = () => { client.destroy(); upstream.destroy(); open.delete(pair); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const cut = () => { for (const [a, b] of open) { a.destroy(); b.destroy(); } open.clear(); };
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut,
    down() { down = true; cut(); },
    up() { down = false; },
    close() { cut(); server.close(); },
  };
}

/** Collects every message of a socket, parsed. */
export function recorder(ws) {
  const seen = [];
  ws.addEventListener('message', (e) => seen.push(JSON.parse(e.data)));
  return seen;
}
