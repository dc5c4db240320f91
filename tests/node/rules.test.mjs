// Access rules through the npm package: the same authorization matrix as the
// Rust suite (tests/data/rules-matrix.txt), run in Node.js.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createSdk } from '../../npm/index.js';
import { startServer, API_KEY, ADMIN_KEY, PASSWORD, email } from '../js/harness.mjs';

const RULES = {
  public: 'public', signedin: 'signedIn', owner: 'owner', admin: 'admin', none: 'none',
  where: { where: 'userId = @me OR public = true' },
};
const OPS = ['find', 'count', 'get', 'create', 'update', 'bulkupd', 'delete', 'bulkdel'];
const rows = readFileSync(new URL('../data/rules-matrix.txt', import.meta.url), 'utf8')
  .split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.trim().split(/\s+/));

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function configure(name, rule) {
  const r = await fetch(`${server.url}/collections/${name}`, {
    method: 'PUT',
    headers: { authorization: `key ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ rules: { read: rule, create: rule, update: rule, delete: rule } }),
  });
  assert.equal(r.status, 200, await r.text());
}

const outcome = async (p, count = () => undefined) => {
  try {
    const v = await p;
    const n = count(v);
    return n === undefined ? 'ok' : String(n);
  } catch (e) {
    return String(e.status);
  }
};

test(`the ${rows.length * OPS.length}-cell authorization matrix holds through the npm package`, async () => {
  const ownerEmail = email('owner');
  const owner = createSdk(server.url, API_KEY);
  await owner.auth.register(ownerEmail, PASSWORD);
  const other = createSdk(server.url, API_KEY);
  await other.auth.register(email('other'), PASSWORD);
  const anon = createSdk(server.url, API_KEY);
  const admin = createSdk(server.url, ADMIN_KEY);
  const seeder = createSdk(server.url, ADMIN_KEY);
  await seeder.auth.login(ownerEmail, PASSWORD);
  const actors = { anon, owner, other, admin };

  const failures = [];
  for (const [rule, actor, ...expected] of rows) {
    for (const [i, op] of OPS.entries()) {
      const coll = `j_${rule}_${actor}_${op}`;
      await configure(coll, RULES[rule]);
      await seeder.db.createResource(coll, { public: true, k: 'p' });
      const q = await seeder.db.createResource(coll, { public: false, k: 'q' });
      const db = actors[actor].db;
      const got = await {
        find: () => outcome(db.find(coll), (v) => v.length),
        count: () => outcome(db.find(coll, null, { count: true }), (n) => n),
        get: () => outcome(db.getResource(coll, q._id)),
        create: () => outcome(db.createResource(coll, { public: false })),
        update: () => outcome(db.updateResource(coll, q._id, { k: 'changed' })),
        bulkupd: () => outcome(db.updateMany(coll, null, { $set: { k: 'bulk' } }), (r) => r.n),
        delete: () => outcome(db.deleteResource(coll, q._id)),
        bulkdel: () => outcome(db.deleteMany(coll, null), (r) => r.n),
      }[op]();
      if (got !== expected[i]) failures.push(`${rule} × ${actor} × ${op}: got ${got}, want ${expected[i]}`);
    }
  }
  assert.deepEqual(failures, []);
});
