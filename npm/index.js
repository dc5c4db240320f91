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
