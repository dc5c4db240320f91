// The SoftUni mount (`--softuni`): an app written for the SoftUni practice
// server sends the requests of its Collections document (seed 002) and gets the
// answers that server gives, over the same records as the main API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, API_KEY, ADMIN_KEY, PASSWORD, email } from '../js/harness.mjs';

let server;
before(async () => { server = await startServer(['--softuni', '127.0.0.1:0']); });
after(async () => { await server?.stop(); });

/** A request to the mount as a SoftUni app sends it; resolves to { status, body, headers }. */
async function call(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers['X-Authorization'] = token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(server.softuni + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

async function register(tag, extra = {}) {
  const address = email(tag);
  const r = await call('POST', '/users/register', { body: { email: address, password: PASSWORD, ...extra } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { ...r.body, address };
}

test('register, login, me and logout answer as the practice server does', async () => {
  const address = email('su-user');
  const reg = await call('POST', '/users/register', { body: { email: address, password: PASSWORD, username: 'Peter' } });
  assert.equal(reg.status, 200);
  assert.equal(reg.body.email, address);
  assert.equal(reg.body.username, 'Peter');
  assert.match(reg.body._id, /^\S+$/);
  assert.match(reg.body.accessToken, /^\S{20,}$/);
  assert.equal(typeof reg.body._createdOn, 'number');
  assert.ok(Math.abs(reg.body._createdOn - Date.now()) < 60_000);
  for (const secret of ['password', 'hashedPassword']) assert.equal(reg.body[secret], undefined);

  const again = await call('POST', '/users/register', { body: { email: address.toUpperCase(), password: PASSWORD } });
  assert.deepEqual([again.status, again.body], [409, { code: 409, message: 'A user with the same email already exists' }]);
  const missing = await call('POST', '/users/register', { body: { email: email('su-missing') } });
  assert.deepEqual([missing.status, missing.body], [400, { code: 400, message: 'Missing fields' }]);

  const wrong = await call('POST', '/users/login', { body: { email: address, password: 'not the password' } });
  assert.deepEqual([wrong.status, wrong.body], [403, { code: 403, message: "Login or password don't match" }]);
  const login = await call('POST', '/users/login', { body: { email: address, password: PASSWORD } });
  assert.equal(login.status, 200);
  assert.deepEqual({ ...login.body, accessToken: 'x' }, { ...reg.body, accessToken: 'x' });
  assert.notEqual(login.body.accessToken, reg.body.accessToken);

  const me = await call('GET', '/users/me', { token: login.body.accessToken });
  assert.deepEqual([me.status, me.body], [200, { email: address, username: 'Peter', _id: reg.body._id, _createdOn: reg.body._createdOn }]);
  const anonymous = await call('GET', '/users/me');
  assert.deepEqual([anonymous.status, anonymous.body], [401, { code: 401, message: 'Unauthorized' }]);

  const out = await call('GET', '/users/logout', { token: login.body.accessToken });
  assert.deepEqual([out.status, out.body], [204, undefined]);
  const stale = await call('GET', '/users/me', { token: login.body.accessToken });
  assert.deepEqual([stale.status, stale.body], [403, { code: 403, message: 'Invalid access token' }]);
  // The registration's session is another one, and still good.
  assert.equal((await call('GET', '/users/me', { token: reg.body.accessToken })).status, 200);
});

test('create, read, replace, merge and delete with the owner rule and SoftUni system fields', async () => {
  const [alice, bob] = [await register('su-alice'), await register('su-bob')];
  const coll = `recipes${Date.now()}`;
  const never = await call('GET', `/data/${coll}`);
  assert.deepEqual([never.status, never.body], [404, { code: 404, message: 'Resource not found' }]);
  const anonymous = await call('POST', `/data/${coll}`, { body: { name: 'Lasagna' } });
  assert.deepEqual([anonymous.status, anonymous.body], [401, { code: 401, message: 'Unauthorized' }]);
  const forged = await call('POST', `/data/${coll}`, { token: 'no-such-token', body: { name: 'Lasagna' } });
  assert.deepEqual([forged.status, forged.body], [403, { code: 403, message: 'Invalid access token' }]);

  const made = await call('POST', `/data/${coll}`, {
    token: alice.accessToken,
    body: { name: 'Lasagna', img: '/l.jpg', _ownerId: bob._id, _createdOn: 1 },
  });
  assert.equal(made.status, 200);
  const rec = made.body;
  assert.deepEqual(Object.keys(rec).sort(), ['_createdOn', '_id', '_ownerId', 'img', 'name']);
  assert.equal(rec._ownerId, alice._id, 'the owner is the caller, whatever the body says');
  assert.ok(rec._createdOn > 1);
  assert.deepEqual((await call('GET', `/data/${coll}/${rec._id}`)).body, rec);

  const notMine = await call('PUT', `/data/${coll}/${rec._id}`, { token: bob.accessToken, body: { name: 'Mine' } });
  assert.equal(notMine.status, 403);
  assert.equal(notMine.body.code, 403);
  const put = await call('PUT', `/data/${coll}/${rec._id}`, { token: alice.accessToken, body: { name: 'Soup' } });
  assert.equal(put.status, 200);
  assert.equal(put.body.img, undefined, 'PUT replaces the record');
  assert.deepEqual([put.body._id, put.body._ownerId, put.body._createdOn], [rec._id, alice._id, rec._createdOn]);
  assert.ok(put.body._updatedOn >= rec._createdOn);
  const patch = await call('PATCH', `/data/${coll}/${rec._id}`, { token: alice.accessToken, body: { img: '/s.jpg' } });
  assert.deepEqual([patch.status, patch.body.name, patch.body.img], [200, 'Soup', '/s.jpg']);

  const bobDeletes = await call('DELETE', `/data/${coll}/${rec._id}`, { token: bob.accessToken });
  assert.equal(bobDeletes.status, 403);
  const del = await call('DELETE', `/data/${coll}/${rec._id}`, { token: alice.accessToken });
  assert.equal(del.status, 200);
  assert.deepEqual(Object.keys(del.body), ['_deletedOn']);
  assert.ok(Math.abs(del.body._deletedOn - Date.now()) < 60_000);
  assert.deepEqual((await call('GET', `/data/${coll}/${rec._id}`)).body, { code: 404, message: 'Resource not found' });
  // A collection whose records were all deleted exists, empty.
  assert.deepEqual(await call('GET', `/data/${coll}`).then((r) => [r.status, r.body]), [200, []]);
});

test("the seed document's query examples, as written", async () => {
  const [alice, bob] = [await register('su-q-alice', { username: 'Alice' }), await register('su-q-bob', { username: 'Bob' })];
  const recipes = `recipes${Date.now()}`;
  const comments = `comments${Date.now()}`;
  const made = [];
  for (let i = 0; i < 12; i++) {
    const who = i % 3 === 0 ? bob : alice;
    const r = await call('POST', `/data/${recipes}`, {
      token: who.accessToken, body: { name: `Recipe ${String(i).padStart(2, '0')}`, img: `/${i}.jpg`, val: i % 4, category: ['main', 'soup', 'dessert'][i % 3] },
    });
    made.push(r.body);
  }
  const get = async (query) => {
    const r = await call('GET', `/data/${recipes}?${query}`);
    assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  assert.equal((await get('')).length, 10, 'the first 10 entries by default');
  assert.deepEqual((await get('offset=10&pageSize=5')).map((r) => r._id), made.slice(10).map((r) => r._id));
  assert.deepEqual(await get('select=_id%2Cname%2Cimg&pageSize=1'), [{ _id: made[0]._id, name: made[0].name, img: made[0].img }]);
  assert.equal(await get('count'), 12);
  assert.equal(await get('where=category%3D%22soup%22&count'), 4);
  assert.deepEqual((await get('sortBy=_createdOn%20desc&pageSize=3')).map((r) => r._id), made.slice(-3).reverse().map((r) => r._id));
  assert.deepEqual((await get('sortBy=val%20desc%2C_createdOn&pageSize=3')).map((r) => r._id), [made[3], made[7], made[11]].map((r) => r._id));
  assert.equal((await get('where=val%20%3E%3D%202&pageSize=20')).length, 6);
  assert.equal((await get('where=name%20LIKE%20%22recipe%2001%22')).length, 1);
  assert.equal((await get('where=category%20IN%20(%22main%22%2C%20%22soup%22)&pageSize=20')).length, 8);
  assert.equal((await get('where=val%20%3E%3D%203%20AND%20category%20IN%20(%22main%22%2C%20%22soup%22)&pageSize=20')).length, 2);
  assert.equal((await get('where=val%20%3E%3D%203%20OR%20category%20IN%20(%22main%22%2C%20%22soup%22)&pageSize=20')).length, 9);
  assert.equal((await get(`where=_ownerId%3D%22${bob._id}%22&pageSize=20`)).length, 4);
  assert.equal((await get(`where=_createdOn%20%3E%3D%20${made[11]._createdOn}&pageSize=20`)).length >= 1, true);
  const byAuthor = await get('distinct=_ownerId&select=_ownerId');
  assert.deepEqual(byAuthor.map((r) => r._ownerId).sort(), [alice._id, bob._id].sort());
  assert.equal(await get('distinct=_ownerId&count'), 2);

  // Relations: the author of a comment, filtered by recipe, as the document's example.
  const recipeId = made[4]._id;
  await call('POST', `/data/${comments}`, { token: bob.accessToken, body: { recipeId, content: 'Nice' } });
  await call('POST', `/data/${comments}`, { token: alice.accessToken, body: { recipeId: made[5]._id, content: 'Other' } });
  const r = await call('GET', `/data/${comments}?where=recipeId%3D%22${recipeId}%22&load=author%3D_ownerId%3Ausers`);
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 1);
  assert.equal(r.body[0].content, 'Nice');
  assert.deepEqual(r.body[0].author, { _id: bob._id, email: bob.address, username: 'Bob', _createdOn: bob._createdOn });
  // Profiles are written by the server alone.
  for (const coll of ['users', 'softuni_users']) {
    const forged = await call('PATCH', `/data/${coll}/${bob._id}`, { token: bob.accessToken, body: { email: 'x@example.com' } });
    assert.ok([400, 403].includes(forged.status), `${coll}: ${forged.status}`);
  }
  // Profiles load one at a time; nobody lists the users.
  const listed = await call('GET', '/data/softuni_users');
  assert.equal(listed.status, 405, JSON.stringify(listed.body));
  const mainList = await fetch(`${server.url}/softuni_users`, { headers: { 'x-api-key': API_KEY } });
  assert.equal(mainList.status, 405);
  const reconfigure = await fetch(`${server.url}/collections/softuni_users`, {
    method: 'PUT', headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' }, body: '{}',
  });
  assert.equal(reconfigure.status, 400);
  assert.equal((await reconfigure.json()).code, 'reserved_name');
  const still = await call('GET', `/data/${comments}?load=author%3D_ownerId%3Ausers&where=content%3D%22Nice%22`);
  assert.equal(still.body[0].author.email, bob.address);
  const bad = await call('GET', `/data/${recipes}?where=name%20%3F%3F%201`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 400);
});

test('CORS for any origin with X-Authorization, and the same records on the main API', async () => {
  const pre = await fetch(`${server.softuni}/data/anything`, {
    method: 'OPTIONS',
    headers: { Origin: 'http://localhost:5500', 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': 'x-authorization,content-type' },
  });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  assert.match(pre.headers.get('access-control-allow-methods'), /PATCH/);
  assert.match(pre.headers.get('access-control-allow-headers'), /X-Authorization/);
  const user = await register('su-cors');
  const coll = `ideas${Date.now()}`;
  const made = await call('POST', `/data/${coll}`, { token: user.accessToken, body: { title: 'Shared' } });
  assert.equal(made.headers.get('access-control-allow-origin'), '*');
  const main = await fetch(`${server.url}/${coll}/${made.body._id}`, { headers: { 'x-api-key': API_KEY } }).then((r) => r.json());
  assert.equal(main.title, 'Shared');
  assert.equal(main.userId, user._id);
  assert.equal(Date.parse(main.createdAt), made.body._createdOn);
  // The main API still wants its key.
  assert.equal((await fetch(`${server.url}/${coll}`)).status, 401);
});

test('a deleted account takes its public profile with it', async () => {
  const user = await register('su-gone', { username: 'Gone' });
  const coll = `posts${Date.now()}`;
  await call('POST', `/data/${coll}`, { token: user.accessToken, body: { text: 'hi' } });
  const author = async () => (await call('GET', `/data/${coll}?load=author%3D_ownerId%3Ausers`)).body[0].author;
  assert.equal((await author()).username, 'Gone');
  // The mount's session is a session of the main API too.
  const res = await fetch(`${server.url}/me`, {
    method: 'DELETE',
    headers: { 'x-api-key': API_KEY, 'x-authorization': user.accessToken, 'content-type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD }),
  });
  assert.equal(res.status, 200);
  assert.equal(await author(), null);
  assert.equal((await call('GET', `/data/softuni_users/${user._id}`)).status, 404);
  const again = await call('POST', '/users/login', { body: { email: user.address, password: PASSWORD } });
  assert.equal(again.status, 403);
});

test('a registration is whole or refused, and its profile keeps no copy of the password', async () => {
  // A fresh server: authors load before anyone has a profile.
  const fresh = await startServer(['--softuni', '127.0.0.1:0']);
  try {
    const at = (path, init) => fetch(fresh.softuni + path, init);
    const post = (path, body, token) => at(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { 'x-authorization': token } : {}) },
      body: JSON.stringify(body),
    });
    // A user of the main API, never registered on the mount.
    const address = email('su-main');
    const made = await fetch(`${fresh.url}/register`, {
      method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ email: address, password: PASSWORD }),
    });
    assert.equal(made.status, 201, await made.clone().text());
    const login = await (await post('/users/login', { email: address, password: PASSWORD })).json();
    assert.equal(login.email, address);
    assert.equal(typeof login._createdOn, 'number', JSON.stringify(login));
    const note = await (await post('/data/notes', { text: 'hi' }, login.accessToken)).json();
    const loaded = await (await at('/data/notes?load=author%3D_ownerId%3Ausers')).json();
    assert.equal(loaded.length, 1, JSON.stringify(loaded));
    assert.equal(loaded[0]._id, note._id);

    // A body the profile cannot hold leaves no account behind.
    const who = email('su-whole');
    const refused = await post('/users/register', { email: who, password: PASSWORD, $bad: 1 });
    assert.equal(refused.status, 400, await refused.clone().text());
    const retried = await post('/users/register', {
      email: who, password: PASSWORD, rePass: PASSWORD, confirmPassword: PASSWORD, repeat: PASSWORD, username: 'Whole',
    });
    assert.equal(retried.status, 200, await retried.clone().text());
    const user = await retried.json();
    for (const copy of ['rePass', 'confirmPassword', 'repeat', 'password']) assert.equal(user[copy], undefined, copy);
    const me = await (await at('/users/me', { headers: { 'x-authorization': user.accessToken } })).json();
    assert.deepEqual(Object.keys(me).sort(), ['_createdOn', '_id', 'email', 'username']);

    // `_updatedOn` alone shows on a changed record, not on an unchanged one.
    const mine = await (await post('/data/notes', { text: 'v1' }, user.accessToken)).json();
    const put = await at(`/data/notes/${mine._id}`, {
      method: 'PUT', headers: { 'content-type': 'application/json', 'x-authorization': user.accessToken },
      body: JSON.stringify({ text: 'v2' }),
    });
    assert.equal(put.status, 200);
    const selected = await (await at('/data/notes?select=_id%2C_updatedOn&sortBy=_createdOn')).json();
    assert.deepEqual(selected.map((r) => Object.keys(r).sort()), [['_id'], ['_id', '_updatedOn']]);
    assert.equal(typeof selected[1]._updatedOn, 'number');
  } finally {
    await fresh.stop();
  }
});

test("the mount's requests are counted in /metrics under routes of their own", async () => {
  const { accessToken } = await register('su-metered');
  assert.equal((await call('GET', '/data/metered', { token: accessToken })).status, 404);
  assert.equal((await call('POST', '/data/metered', { token: accessToken, body: { a: 1 } })).status, 200);
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `key ${ADMIN_KEY}` } });
  assert.equal(res.status, 200);
  const text = await res.text();
  const count = (route, status) => {
    const line = text.split('\n').find((l) => l.startsWith('rucksack_http_requests_total{')
      && l.includes(`route="${route}"`) && l.includes(`status="${status}"`));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  assert.ok(count('softuni:/users/register', 200) >= 1, text);
  assert.ok(count('softuni:/data/:collection', 404) >= 1, text);
  assert.ok(count('softuni:/data/:collection', 200) >= 1, text);
  assert.equal(text.includes('route="/data'), false, 'no mount request is counted as a main-API route');
});
