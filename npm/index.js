// rucksack-sdk: createSdk(url, apiKey) for browsers and Node.js 20+.
//
// The SDK itself is Rust compiled to WebAssembly (./pkg); this file only loads
// the module the way each runtime can: from disk in Node.js, by URL elsewhere.
import init, { initSync, createSdk as createRawSdk, sdkErrorClass } from './pkg/rucksack.js';

const wasmUrl = new URL('./pkg/rucksack_bg.wasm', import.meta.url);
const isNode = typeof process !== 'undefined' && process.versions != null && process.versions.node != null;

if (isNode && wasmUrl.protocol === 'file:') {
  // Left to the runtime by bundlers: the name is not a literal, so esbuild does
  // not try to resolve it, and webpack and Vite are told to leave it (none can
  // bundle `node:` modules for a browser, where this branch never runs).
  const fsModule = 'node:fs/promises';
  const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsModule);
  initSync({ module: await readFile(wasmUrl) });
} else {
  await init({ module_or_path: wasmUrl });
}

/** The class of every error the SDK's promises reject with. */
export const SdkError = sdkErrorClass();

/** The page's localStorage, where there is one that works (not in Node.js). */
function browserStorage() {
  try {
    if (typeof window === 'undefined' || !window.localStorage) return null;
    const probe = '__rucksack_probe__';
    window.localStorage.setItem(probe, '1');
    window.localStorage.removeItem(probe);
    return window.localStorage;
  } catch {
    return null; // storage disabled (private mode, a sandboxed frame)
  }
}

/**
 * Wraps an object of the SDK so that, after each of its calls settles, `check`
 * sees whether the session changed (a sign-in, a sign-out, a session the server
 * no longer knows).
 */
function watched(target, check, extra = {}) {
  return new Proxy(target, {
    get(t, p) {
      if (Object.prototype.hasOwnProperty.call(extra, p)) return extra[p];
      const v = Reflect.get(t, p);
      if (typeof v !== 'function') return v;
      return (...args) => {
        const r = v.apply(t, args);
        if (r && typeof r.then === 'function') return r.finally(check);
        check(); // restoreSession changes the session at once
        return r;
      };
    },
  });
}

/**
 * Creates an SDK for the server at `url` with the app's API key, as the Backpack
 * SDK's createSdk does. The session survives a page load: it is kept in
 * `options.storage` (any object with getItem, setItem and removeItem; by default
 * the page's localStorage, and nothing in Node.js; `null` keeps it in memory
 * only) under `options.storageKey`. `sdk.auth.onAuthChange(callback)` calls
 * `callback({ token, userId })` on each sign-in and `callback(null)` on each
 * sign-out, including a session the server no longer knows; it returns the
 * function that stops the calls.
 */
export function createSdk(url, apiKey, options = {}) {
  const raw = createRawSdk(url, apiKey);
  const rawAuth = raw.auth;
  const storage = options.storage === undefined ? browserStorage() : options.storage;
  const key = options.storageKey ?? `rucksack.session:${String(url).replace(/\/+$/, '')}`;
  const listeners = new Set();
  if (storage) {
    try {
      const saved = JSON.parse(storage.getItem(key) ?? 'null');
      if (saved && typeof saved.token === 'string') rawAuth.restoreSession(saved.token, saved.userId ?? undefined);
    } catch {
      // A damaged entry is no session.
    }
  }
  let last = rawAuth.session;
  const check = () => {
    const now = rawAuth.session;
    if ((now?.token ?? null) === (last?.token ?? null) && (now?.userId ?? null) === (last?.userId ?? null)) return;
    const signedChange = (now?.token ?? null) !== (last?.token ?? null);
    last = now;
    if (storage) {
      try {
        if (now) storage.setItem(key, JSON.stringify(now));
        else storage.removeItem(key);
      } catch {
        // A full or disabled storage keeps the session in memory only.
      }
    }
    if (!signedChange) return;
    for (const f of [...listeners]) {
      try { f(now); } catch (e) { console.error(e); }
    }
  };
  const onAuthChange = (callback) => {
    if (typeof callback !== 'function') throw new TypeError('onAuthChange needs a function');
    listeners.add(callback);
    return () => listeners.delete(callback);
  };
  const auth = watched(rawAuth, check, { onAuthChange });
  const db = watched(raw.db, check);
  const files = watched(raw.storage, check);
  return {
    get auth() { return auth; },
    get db() { return db; },
    get storage() { return files; },
    ws() { return raw.ws(); },
  };
}
export default createSdk;

/**
 * Connects SmartNgRX to a Rucksack server: opens `sdk.ws()`, asks for
 * notifications, maps each server table to the client's and calls
 * `handleSocketNotification(table, action, ids)`.
 *
 * `tables` maps a server collection to the client's table: a string renames it;
 * `{ table, prefix }` renames it and prefixes every id (`docs` →
 * `departmentChildren` with ids `docs:<id>`); a function receives
 * `{ action, table, ids }` and returns the notification to pass on, or null to
 * drop it. Tables without an entry pass through unchanged. `collections`, when
 * given, limits the notifications the server sends.
 *
 * Returns `{ socket, close() }`.
 */
export function connectSmartNgRX(sdk, { handleSocketNotification, tables = {}, collections } = {}) {
  if (typeof handleSocketNotification !== 'function') {
    throw new TypeError('connectSmartNgRX needs a handleSocketNotification(table, action, ids) function');
  }
  const socket = sdk.ws();
  socket.addEventListener('message', (e) => {
    let n;
    try { n = JSON.parse(e.data); } catch { return; }
    if ((n.action !== 'update' && n.action !== 'delete') || typeof n.table !== 'string' || !Array.isArray(n.ids)) return;
    const mapped = mapNotification(n, tables[n.table]);
    if (mapped) handleSocketNotification(mapped.table, mapped.action, mapped.ids);
  });
  socket.actions.subscribeNotifications(collections);
  return { socket, close: () => socket.close() };
}

function mapNotification(n, rule) {
  if (rule === undefined || rule === null) return n;
  if (typeof rule === 'string') return { ...n, table: rule };
  if (typeof rule === 'function') return rule({ ...n, ids: [...n.ids] });
  const prefix = rule.prefix ?? '';
  return { action: n.action, table: rule.table ?? n.table, ids: n.ids.map((id) => `${prefix}${id}`) };
}
