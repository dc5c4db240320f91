// The admin page: collections, records, configuration and API keys, through the
// server's own JavaScript SDK (records) and its admin routes (configuration,
// keys). The admin key lives in this tab's sessionStorage, never in a URL.
// Every stored value is shown with textContent: records are other people's data.

const KEY = 'rucksack-admin-key';
const SYSTEM = ['_id', 'userId', 'createdAt', 'updatedAt', '__v'];
const $ = (id) => document.getElementById(id);

let sdk = null;
const state = { collection: null, offset: 0, editing: null, total: 0 };

/** A call with the admin key (a JSON body, or a form as is); rejects with the server's error body. */
async function api(method, path, body) {
  const headers = { authorization: `key ${sessionStorage.getItem(KEY)}` };
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined || form ? body : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw Object.assign(new Error(data?.message ?? res.statusText), { status: res.status, ...data });
  return data;
}

/** An error as text: its message, then each field's problem on a line. */
function describe(e) {
  const lines = [e.message ?? String(e)];
  for (const [field, why] of Object.entries(e.errors ?? {})) {
    lines.push(`${field}: ${typeof why === 'string' ? why : JSON.stringify(why)}`);
  }
  return lines.join('\n');
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function button(text, onClick, attrs = {}) {
  const b = el('button', text, { type: 'button', ...attrs });
  b.addEventListener('click', onClick);
  return b;
}

function show(section) {
  for (const id of ['sign-in', 'collections', 'collection', 'keys', 'live', 'files']) $(id).hidden = id !== section;
  $('nav').hidden = section === 'sign-in';
  if (section !== 'live') stopLive();
}

async function loadSdk() {
  if (sdk) return sdk;
  const { createSdk } = await import('../sdk/index.js');
  sdk = createSdk(location.origin, sessionStorage.getItem(KEY));
  return sdk;
}

// --- sign-in ------------------------------------------------------------------

$('sign-in-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $('admin-key').value.trim());
  $('admin-key').value = '';
  try {
    await api('GET', '/admin/keys');
    $('sign-in-error').textContent = '';
    route();
  } catch (e) {
    sessionStorage.removeItem(KEY);
    $('sign-in-error').textContent = e.status === 401 || e.status === 403
      ? 'That is not the admin key.' : describe(e);
  }
});

$('sign-out').addEventListener('click', () => {
  stopLive();
  sessionStorage.removeItem(KEY);
  sdk = null;
  location.hash = '';
  route();
});

// --- collections ----------------------------------------------------------------

async function showCollections() {
  show('collections');
  const rows = $('collection-rows');
  rows.replaceChildren();
  try {
    const db = (await loadSdk()).db;
    for (const name of await db.getCollectionList()) {
      const count = await db.find(name, null, { count: true });
      const tr = el('tr');
      const link = el('a', name, { href: `#/c/${encodeURIComponent(name)}` });
      const td = el('td');
      td.append(link);
      tr.append(td, el('td', String(count)));
      rows.append(tr);
    }
    $('collections-error').textContent = '';
  } catch (e) {
    $('collections-error').textContent = describe(e);
  }
}

$('new-collection').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = $('new-collection-name').value.trim();
  try {
    await api('PUT', `/collections/${encodeURIComponent(name)}`, {});
    $('new-collection-name').value = '';
    location.hash = `#/c/${encodeURIComponent(name)}/config`;
  } catch (e) {
    $('collections-error').textContent = describe(e);
  }
});

// --- one collection: records --------------------------------------------------------

function query() {
  const where = $('q-where').value.trim() || null;
  const sortBy = $('q-sort').value.trim();
  const pageSize = Math.max(1, Math.min(1000, Number($('q-size').value) || 20));
  return { where, options: { ...(sortBy ? { sortBy } : {}), pageSize, offset: state.offset }, pageSize };
}

async function showRecords() {
  const { where, options, pageSize } = query();
  const db = (await loadSdk()).db;
  const table = $('records');
  try {
    const [records, total] = await Promise.all([
      db.find(state.collection, where, options),
      db.find(state.collection, where, { count: true }),
    ]);
    state.total = total;
    $('records-error').textContent = '';
    $('records-count').textContent = `${total} record${total === 1 ? '' : 's'}`;
    $('page-number').textContent = `page ${Math.floor(state.offset / pageSize) + 1} of ${Math.max(1, Math.ceil(total / pageSize))}`;
    $('prev-page').disabled = state.offset === 0;
    $('next-page').disabled = state.offset + pageSize >= total;
    const own = new Set();
    for (const r of records) for (const k of Object.keys(r)) if (!SYSTEM.includes(k)) own.add(k);
    const columns = [...SYSTEM, ...own];
    const head = el('tr');
    for (const c of columns) head.append(el('th', c));
    head.append(el('th'));
    table.tHead.replaceChildren(head);
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const r of records) {
      const tr = el('tr', undefined, { 'data-id': r._id });
      for (const c of columns) {
        const v = r[c];
        const text = v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
        tr.append(el('td', text, { title: text }));
      }
      const actions = el('td');
      actions.append(button('Edit', () => edit(r)), ' ', deleteButton(r._id));
      tr.append(actions);
      body.append(tr);
    }
  } catch (e) {
    $('records-error').textContent = describe(e);
  }
}

/** Delete asks once more on the same button instead of a dialog. */
function deleteButton(id) {
  const b = button('Delete', async () => {
    if (b.dataset.armed !== 'yes') {
      b.dataset.armed = 'yes';
      b.textContent = 'Really delete';
      return;
    }
    try {
      await (await loadSdk()).db.deleteResource(state.collection, id);
      await showRecords();
    } catch (e) {
      $('records-error').textContent = describe(e);
    }
  });
  return b;
}

function edit(record) {
  state.editing = record._id;
  const own = Object.fromEntries(Object.entries(record).filter(([k]) => !SYSTEM.includes(k)));
  $('record-json').value = JSON.stringify(own, null, 2);
  $('editor-title').textContent = `Record ${record._id}`;
  $('save-record').textContent = 'Save';
  $('cancel-edit').hidden = false;
}

function stopEditing() {
  state.editing = null;
  $('record-json').value = '{}';
  $('editor-title').textContent = 'New record';
  $('save-record').textContent = 'Create';
  $('cancel-edit').hidden = true;
}

$('cancel-edit').addEventListener('click', stopEditing);

$('save-record').addEventListener('click', async () => {
  let data;
  try {
    data = JSON.parse($('record-json').value);
  } catch (e) {
    $('records-error').textContent = `Not JSON: ${e.message}`;
    return;
  }
  try {
    const db = (await loadSdk()).db;
    if (state.editing) await db.overwriteResource(state.collection, state.editing, data);
    else await db.createResource(state.collection, data);
    stopEditing();
    await showRecords();
  } catch (e) {
    $('records-error').textContent = describe(e);
  }
});

$('query').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.offset = 0;
  showRecords();
});
$('prev-page').addEventListener('click', () => {
  state.offset = Math.max(0, state.offset - query().pageSize);
  showRecords();
});
$('next-page').addEventListener('click', () => {
  state.offset += query().pageSize;
  showRecords();
});

// --- one collection: configuration ------------------------------------------------

async function showConfig() {
  $('config-error').textContent = '';
  $('config-saved').textContent = '';
  try {
    const config = await api('GET', `/collections/${encodeURIComponent(state.collection)}`);
    $('config-json').value = JSON.stringify(config, null, 2);
  } catch (e) {
    $('config-error').textContent = describe(e);
  }
}

$('save-config').addEventListener('click', async () => {
  $('config-saved').textContent = '';
  let config;
  try {
    config = JSON.parse($('config-json').value);
  } catch (e) {
    $('config-error').textContent = `Not JSON: ${e.message}`;
    return;
  }
  try {
    const stored = await api('PUT', `/collections/${encodeURIComponent(state.collection)}`, config);
    $('config-json').value = JSON.stringify(stored, null, 2);
    $('config-error').textContent = '';
    $('config-saved').textContent = 'Saved.';
  } catch (e) {
    $('config-error').textContent = describe(e);
  }
});

function showCollection(name, tab) {
  show('collection');
  if (state.collection !== name) {
    state.collection = name;
    state.offset = 0;
    stopEditing();
  }
  $('collection-name').textContent = name;
  const base = `#/c/${encodeURIComponent(name)}`;
  $('tab-records').href = base;
  $('tab-config').href = `${base}/config`;
  $('tab-records').classList.toggle('active', tab === 'records');
  $('tab-config').classList.toggle('active', tab === 'config');
  $('records-view').hidden = tab !== 'records';
  $('config-view').hidden = tab !== 'config';
  return tab === 'records' ? showRecords() : showConfig();
}

// --- API keys ----------------------------------------------------------------------

async function showKeys() {
  show('keys');
  const rows = $('key-rows');
  rows.replaceChildren();
  try {
    for (const k of await api('GET', '/admin/keys')) {
      const tr = el('tr', undefined, { 'data-id': k.id });
      const when = (s) => (s ? new Date(s * 1000).toISOString().slice(0, 19).replace('T', ' ') : '');
      tr.append(el('td', k.id), el('td', k.name), el('td', when(k.created_at)), el('td', when(k.revoked_at)));
      const actions = el('td');
      if (!k.revoked_at) {
        actions.append(button('Revoke', async () => {
          try {
            await api('DELETE', `/admin/keys/${encodeURIComponent(k.id)}`);
            await showKeys();
          } catch (e) {
            $('keys-error').textContent = describe(e);
          }
        }));
      }
      tr.append(actions);
      rows.append(tr);
    }
    $('keys-error').textContent = '';
  } catch (e) {
    $('keys-error').textContent = describe(e);
  }
}

$('new-key').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const made = await api('POST', '/admin/keys', { name: $('new-key-name').value.trim() });
    $('new-key-name').value = '';
    $('key-made-value').textContent = made.key;
    $('key-made').hidden = false;
    await showKeys();
  } catch (e) {
    $('keys-error').textContent = describe(e);
  }
});

// --- files ---------------------------------------------------------------------------

let previews = [];

/** A file's bytes, fetched with the admin key (a link could not carry it). */
async function fileBlob(userId, filename) {
  const res = await fetch(`/uploads/${encodeURIComponent(userId)}/${encodeURIComponent(filename)}`, {
    headers: { authorization: `key ${sessionStorage.getItem(KEY)}` },
  });
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  return res.blob();
}

async function showFiles() {
  show('files');
  $('files-error').textContent = '';
  try {
    const users = await api('GET', '/admin/users');
    const select = $('file-user');
    const chosen = select.value;
    select.replaceChildren(...users.map((u) => el('option', u.email, { value: u.id })));
    if (users.some((u) => u.id === chosen)) select.value = chosen;
    await listFiles();
  } catch (e) {
    $('files-error').textContent = describe(e);
  }
}

async function listFiles() {
  for (const url of previews) URL.revokeObjectURL(url);
  previews = [];
  const rows = $('file-rows');
  rows.replaceChildren();
  const userId = $('file-user').value;
  if (!userId) return;
  try {
    const { records } = await api('GET', `/uploads/${encodeURIComponent(userId)}`);
    const buckets = [...new Set(records.map((r) => r.bucket))].sort();
    const bucketSelect = $('file-bucket');
    const bucket = buckets.includes(bucketSelect.value) ? bucketSelect.value : '';
    bucketSelect.replaceChildren(el('option', 'every bucket', { value: '' }),
      ...buckets.map((b) => el('option', b, { value: b })));
    bucketSelect.value = bucket;
    for (const f of records.filter((r) => !bucket || r.bucket === bucket)) {
      const tr = el('tr', undefined, { 'data-file': f.filename });
      const preview = el('td');
      if (/^image\/(png|jpeg|gif|webp|avif)$/.test(f.contentType) && f.size <= 10 * 1024 * 1024) {
        fileBlob(userId, f.filename).then((blob) => {
          const url = URL.createObjectURL(blob);
          previews.push(url);
          preview.append(el('img', undefined, { src: url, alt: f.filename, class: 'preview' }));
        }).catch((e) => { preview.textContent = describe(e); });
      }
      const save = button('Download', async () => {
        try {
          const url = URL.createObjectURL(await fileBlob(userId, f.filename));
          const a = el('a', undefined, { href: url, download: f.filename });
          a.click();
          setTimeout(() => URL.revokeObjectURL(url), 10_000);
        } catch (e) {
          $('files-error').textContent = describe(e);
        }
      });
      const actions = el('td');
      actions.append(save);
      tr.append(preview, el('td', f.filename), el('td', f.bucket), el('td', String(f.size)),
        el('td', f.contentType), el('td', f.createdAt), actions);
      rows.append(tr);
    }
  } catch (e) {
    $('files-error').textContent = describe(e);
  }
}

/** Uploads a file owned by the chosen user (the admin key names the owner). */
$('upload-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const file = $('upload-file').files[0];
  const userId = $('file-user').value;
  if (!file || !userId) return;
  const form = new FormData();
  form.append('bucket', $('upload-bucket').value.trim());
  form.append('filename', file.name);
  form.append('userId', userId);
  form.append('file', file, file.name);
  try {
    await api('POST', '/uploads', form);
    $('upload-file').value = '';
    $('files-error').textContent = '';
    await listFiles();
  } catch (e) {
    $('files-error').textContent = describe(e);
  }
});

$('file-user').addEventListener('change', listFiles);
$('file-bucket').addEventListener('change', listFiles);

// --- live events -------------------------------------------------------------------

let live = null;

function stopLive() {
  if (live) {
    live.onclose = null;
    live.close();
    live = null;
  }
}

/** Opens an admin WebSocket with a one-time ticket (the key stays out of the URL). */
async function showLive() {
  show('live');
  if (live) return;
  $('live-error').textContent = '';
  try {
    const { ticket } = await api('POST', '/admin/tickets');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/ws?ticket=${encodeURIComponent(ticket)}`);
    live = socket;
    socket.onopen = () => { $('live-state').textContent = 'Connected.'; };
    socket.onclose = (e) => {
      $('live-state').textContent = `Disconnected${e.reason ? `: ${e.reason}` : ''}.`;
      if (live === socket) live = null;
    };
    socket.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (m.action === 'connection') {
        $('live-state').textContent = 'Connected.';
        return;
      }
      const record = m.response && typeof m.response === 'object' ? m.response : {};
      const tr = el('tr');
      tr.append(
        el('td', new Date().toISOString().slice(11, 23)),
        el('td', String(m.action ?? '')),
        el('td', String(m.collection ?? m.channel ?? '')),
        el('td', String(record._id ?? ''), { title: JSON.stringify(record) }),
        el('td', String(record.userId ?? '')),
      );
      const rows = $('live-rows');
      rows.prepend(tr);
      while (rows.children.length > 200) rows.lastChild.remove();
    };
  } catch (e) {
    $('live-error').textContent = describe(e);
  }
}

// --- routing -------------------------------------------------------------------------

async function route() {
  if (!sessionStorage.getItem(KEY)) {
    show('sign-in');
    return;
  }
  $('key-made').hidden = true;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'keys') return showKeys();
  if (parts[0] === 'live') return showLive();
  if (parts[0] === 'files') return showFiles();
  if (parts[0] === 'c' && parts[1]) return showCollection(parts[1], parts[2] === 'config' ? 'config' : 'records');
  return showCollections();
}

window.addEventListener('hashchange', route);
route();
