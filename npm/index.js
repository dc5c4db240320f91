// rucksack-sdk: createSdk(url, apiKey) for browsers and Node.js 20+.
//
// The SDK itself is Rust compiled to WebAssembly (./pkg); this file only loads
// the module the way each runtime can: from disk in Node.js, by URL elsewhere.
import init, { initSync, createSdk, sdkErrorClass } from './pkg/rucksack.js';

const wasmUrl = new URL('./pkg/rucksack_bg.wasm', import.meta.url);
const isNode = typeof process !== 'undefined' && process.versions != null && process.versions.node != null;

if (isNode && wasmUrl.protocol === 'file:') {
  const { readFile } = await import('node:fs/promises');
  initSync({ module: await readFile(wasmUrl) });
} else {
  await init({ module_or_path: wasmUrl });
}

/** The class of every error the SDK's promises reject with. */
export const SdkError = sdkErrorClass();
export { createSdk };
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
