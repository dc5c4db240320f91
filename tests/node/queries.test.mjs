// db.find in Node.js: the query conformance table (shared with sdk-core and the
// native SDK) through the npm package, against the real server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createSdk, SdkError } from '../../npm/index.js';
import { startServer, API_KEY, PASSWORD, email } from '../js/harness.mjs';

const table = JSON.parse(
  readFileSync(new URL('../../sdk-core/tests/conformance/queries.json', import.meta.url), 'utf8'),
);

let server;
let sdk;
before(async () => {
  server = await startServer();
  sdk = createSdk(server.url, API_KEY);
  await sdk.auth.register(email('find'), PASSWORD);
  for (const r of table.records) await sdk.db.createResource('people', r);
});
after(async () => { await server?.stop(); });

/** The case's parameters as `db.find(collection, query, options)` arguments. */
function toArgs(params) {
  let query;
  const options = {};
  const extra = {};
  for (const [k, v] of params) {
    if (k === 'where' && query === undefined) query = v;
    else if (k === 'where') options.where = v;
    else if (k === 'q' && query === undefined) {
      let parsed;
      try { parsed = JSON.parse(v); } catch { parsed = undefined; }
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) query = parsed;
      else options.q = v;
    } else if (k === 'q') options.q = v;
    else if (k === 'count' && (v === '' || v === 'true')) options.count = true;
    else if (['sortBy', 'offset', 'pageSize', 'select', 'distinct', 'load'].includes(k)) options[k] = v;
    else extra[k] = v;
  }
  if (Object.keys(extra).length) options.params = extra;
  return [query, options];
}

test(`the ${table.cases.length}-case conformance table holds through db.find`, async () => {
  assert.ok(table.cases.length >= 150);
  const failures = [];
  for (const c of table.cases) {
    const [query, options] = toArgs(c.params);
    let got;
    let err;
    try { got = await sdk.db.find('people', query, options); } catch (e) { err = e; }
    const fail = (why) => failures.push(`${c.name}: ${why}`);
    if (c.error) {
      if (!(err instanceof SdkError) || err.status !== 400 || err.code !== 'invalid_query') {
        fail(`expected invalid_query, got ${err ? `${err.code} ${err.message}` : JSON.stringify(got)}`);
      } else if (!err.errors || typeof err.errors[c.error] !== 'string') {
        fail(`errors lacks ${c.error}: ${JSON.stringify(err.errors)}`);
      } else if (c.at !== undefined && !err.errors[c.error].startsWith(`at ${c.at}:`)) {
        fail(`position: ${err.errors[c.error]}`);
      }
      continue;
    }
    if (err) { fail(`refused: ${err.code} ${err.message}`); continue; }
    if (c.ids) {
      const ns = got.map((r) => r.n);
      try { assert.deepEqual(ns, c.ids); } catch { fail(`got ${JSON.stringify(ns)}, want ${JSON.stringify(c.ids)}`); }
    } else {
      const want = c.count ?? c.records;
      try { assert.deepEqual(got, want); } catch { fail(`got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`); }
    }
  }
  assert.deepEqual(failures, []);
});

test('find takes arrays for list options and a count', async () => {
  const rows = await sdk.db.find('people', { active: true }, {
    sortBy: ['age desc', 'n'], select: ['n', 'age'], pageSize: 3,
  });
  assert.deepEqual(rows, [{ n: 3, age: 35.5 }, { n: 1, age: 30 }, { n: 11, age: 30 }]);
  assert.equal(await sdk.db.find('people', 'age >= 30', { count: true }), 5);
});

test('find refuses a bad query before sending, and reports server errors with the position', async () => {
  await assert.rejects(sdk.db.find('people', 42), (e) => e instanceof SdkError && e.code === 'invalid_argument');
  await assert.rejects(sdk.db.find('people', null, { sortby: 'n' }), (e) => e.code === 'invalid_argument');
  await assert.rejects(sdk.db.find('people', 'age > '), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.code, 'invalid_query');
    assert.match(e.errors.where, /^at 6:/);
    return true;
  });
});
