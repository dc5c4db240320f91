// The README's JavaScript example runs as written against a real server: the
// only changes are the server's address and key, and the package's path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startServer, API_KEY } from '../js/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

/** The first ```js block after `heading` in `file`. */
function example(file, heading) {
  const text = readFileSync(join(root, file), 'utf8');
  const from = text.indexOf(heading);
  assert.ok(from >= 0, `${file} has "${heading}"`);
  const m = text.slice(from).match(/```js\n([\s\S]*?)```/);
  assert.ok(m, `${file} has a js example under "${heading}"`);
  return m[1];
}

test("the README's JavaScript example runs as written", () => {
  const src = example('README.md', '## JavaScript');
  const program = src
    .replace("from 'rucksack-sdk'", `from '${pathToFileURL(join(root, 'npm', 'index.js')).href}'`)
    .replace("'http://127.0.0.1:8080/'", `'${server.url}'`)
    .replace("'YOUR_API_KEY'", `'${API_KEY}'`);
  assert.notEqual(program, src, 'the address and key were found');
  const dir = join(root, 'tests', '.artifacts');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'readme-example.mjs');
  writeFileSync(file, program);
  const run = spawnSync(process.execPath, ['--experimental-websocket', '--no-warnings', file], {
    encoding: 'utf8', timeout: 60_000,
  });
  assert.equal(run.status, 0, `the example failed:\n${run.stderr}\n${run.stdout}`);
  assert.match(run.stdout, /updated message/, 'it printed the collection');
  assert.match(run.stdout, /404 not_found/, 'it printed the error');
});
