// Builds the WebAssembly SDK (../sdk-wasm) into ./pkg with wasm-pack, then
// shrinks it with binaryen's wasm-opt from node_modules when installed
// (`npm install` here). Prints the raw and gzipped sizes.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const pkg = join(here, 'pkg');
const wasm = join(pkg, 'rucksack_bg.wasm');

// Size-first settings for the wasm build only; the server's release build keeps its own.
const env = {
  ...process.env,
  CARGO_PROFILE_RELEASE_OPT_LEVEL: 'z',
  CARGO_PROFILE_RELEASE_LTO: 'true',
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS: '1',
  CARGO_PROFILE_RELEASE_PANIC: 'abort',
};
execFileSync(
  'wasm-pack',
  ['build', join(here, '..', 'sdk-wasm'), '--release', '--target', 'web', '--no-pack',
   '--out-dir', pkg, '--out-name', 'rucksack'],
  { stdio: 'inherit', env },
);
rmSync(join(pkg, '.gitignore'), { force: true });

const wasmOpt = join(here, 'node_modules', '.bin', 'wasm-opt');
if (existsSync(wasmOpt)) {
  execFileSync(wasmOpt, ['-Oz', '--strip-debug', '--strip-producers', wasm, '-o', wasm], { stdio: 'inherit' });
} else {
  console.warn('wasm-opt not installed (npm install in npm/); the wasm is not size-optimized');
}

const raw = statSync(wasm).size;
const gz = gzipSync(readFileSync(wasm), { level: 9 }).length;
console.log(`rucksack_bg.wasm: ${raw} bytes raw, ${gz} bytes gzipped`);
