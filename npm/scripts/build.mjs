// Builds the WebAssembly SDK (../sdk-wasm) into ./pkg with wasm-pack, then
// shrinks it with binaryen's wasm-opt from node_modules when installed
// (`npm install` here). Prints the raw and gzipped sizes.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
/** The `.js` files under `dir`, at any depth. */
const jsUnder = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? jsUnder(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []);
const pkg = join(here, 'pkg');
const wasm = join(pkg, 'rucksack_bg.wasm');

// Size-first settings for the wasm build only; the server's release build keeps its own.
// The shipped build uses the nightly compiler that the fuzz targets need too: it
// rebuilds the standard library for size and makes a panic an immediate trap, so
// no panic message, location or formatting code is carried (-Zbuild-std,
// panic=immediate-abort; about 8 KB gzipped). RUCKSACK_WASM_STABLE=1 builds on
// stable instead: larger, and not held to the goal below.
const stable = process.env.RUCKSACK_WASM_STABLE === '1';
const env = {
  ...process.env,
  CARGO_PROFILE_RELEASE_OPT_LEVEL: 'z',
  CARGO_PROFILE_RELEASE_LTO: 'true',
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS: '1',
  CARGO_PROFILE_RELEASE_PANIC: stable ? 'abort' : 'immediate-abort',
  ...(stable ? {} : {
    RUSTUP_TOOLCHAIN: 'nightly',
    // JavaScript values live in the glue's table rather than in wasm
    // reference types: no externref shim per export (smaller in all).
    RUSTFLAGS: [process.env.RUSTFLAGS, '-Ctarget-feature=-reference-types,-multivalue'].filter(Boolean).join(' '),
  }),
};
const nightlyFlags = stable ? [] : ['--', '-Zbuild-std=std,panic_abort', '-Zpanic-immediate-abort'];
// A snippet the sources no longer use must not stay behind.
rmSync(join(pkg, 'snippets'), { recursive: true, force: true });
try {
  execFileSync(
    'wasm-pack',
    ['build', join(here, '..', 'sdk-wasm'), '--release', '--target', 'web', '--no-pack',
     '--out-dir', pkg, '--out-name', 'rucksack', ...nightlyFlags],
    { stdio: 'inherit', env },
  );
} catch (e) {
  if (!stable) {
    console.error('the size-optimized build needs the nightly toolchain with rust-src ' +
      '(bash scripts/setup.sh, or: rustup toolchain install nightly --component rust-src); ' +
      'RUCKSACK_WASM_STABLE=1 builds on stable instead');
  }
  process.exit(typeof e.status === 'number' ? e.status : 1);
}
rmSync(join(pkg, '.gitignore'), { force: true });

const wasmOpt = join(here, 'node_modules', '.bin', 'wasm-opt');
if (existsSync(wasmOpt)) {
  // The names the glue and the wasm know each other by (wasm-bindgen's carry a
  // hash: `__wbg_String_e464a15f453fb08e`) become one or two letters in both;
  // about 1.5 KB gzipped. wasm-opt prints the mapping.
  const mapping = execFileSync(wasmOpt, ['-Oz', '--strip-debug', '--strip-producers',
    '--minify-imports-and-exports-and-modules', wasm, '-o', wasm], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  renameInGlue(JSON.parse(mapping), readFileSync(wasm));
} else {
  console.warn('wasm-opt not installed (npm install in npm/); the wasm is not size-optimized');
}

/**
 * Rewrites wasm-bindgen's glue (pkg/rucksack.js) to the import, export and
 * module names wasm-opt gave the wasm (`mapping`: `{ imports: [[module, name,
 * new]], exports: [[name, new]] }`). The glue names an import as a key of the
 * imports object, the module as its quoted key, and an export as `wasm.name`.
 * The build fails if any old name is left.
 */
function renameInGlue(mapping, bytes) {
  const glue = join(pkg, 'rucksack.js');
  let code = readFileSync(glue, 'utf8');
  const word = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const modules = [...new Set(mapping.imports.map(([m]) => m))];
  const minified = [...new Set(WebAssembly.Module.imports(new WebAssembly.Module(bytes)).map((i) => i.module))];
  if (modules.length !== 1 || minified.length !== 1) {
    throw new Error(`expected the wasm to import from one module, found ${modules} and ${minified}`);
  }
  code = code.replaceAll(JSON.stringify(modules[0]), JSON.stringify(minified[0]));
  for (const [, from, to] of mapping.imports) {
    code = code.replace(new RegExp(`(?<![\\w$])${word(from)}(?=\\s*:)`, 'g'), () => to);
  }
  for (const [from, to] of mapping.exports) {
    code = code.replace(new RegExp(`\\bwasm\\.${word(from)}(?![\\w$])`, 'g'), () => `wasm.${to}`);
  }
  const left = [...mapping.imports.map(([, from]) => from), ...mapping.exports.map(([from]) => `wasm.${from}`), modules[0]]
    .filter((name) => new RegExp(`(?<![\\w$])${word(name)}(?![\\w$])`).test(code));
  if (left.length) throw new Error(`the glue still names ${left.join(', ')} after renaming`);
  writeFileSync(glue, code);
}

// The generated JavaScript (wasm-bindgen's glue and the snippets it copies) is
// minified with esbuild; the package's own files (index.js, sdk.js) stay as
// written. SdkError names itself (js/errors.js), so no names need keeping.
const generated = [join(pkg, 'rucksack.js'), ...jsUnder(join(pkg, 'snippets'))];
let esbuild = null;
try {
  esbuild = await import('esbuild');
} catch {
  console.warn('esbuild not installed (npm install in npm/); the glue is not minified');
}
if (esbuild) {
  for (const f of generated) {
    const out = esbuild.transformSync(readFileSync(f, 'utf8'), {
      minify: true, format: 'esm', legalComments: 'none',
    });
    writeFileSync(f, out.code);
  }
}

// The package's own files stay as written for bundlers (which minify them).
// What a Rucksack server serves is made here: /sdk.js, the script-tag loader,
// minified; /sdk/index.js, one minified module holding index.js, the glue and
// the snippets (with the wasm, all a page downloads). Each file a page fetches
// costs a round trip and is compressed alone, so one file is smaller too.
const loader = join('pkg', 'sdk.min.js');
const bundle = join('pkg', 'index.min.js');
const loaderCode = readFileSync(join(here, 'sdk.js'), 'utf8');
writeFileSync(join(here, loader), esbuild
  ? esbuild.transformSync(loaderCode, { minify: true, legalComments: 'none' }).code
  : loaderCode);
if (esbuild) {
  await esbuild.build({
    entryPoints: [join(here, 'index.js')], outfile: join(here, bundle), bundle: true, minify: true,
    format: 'esm', platform: 'neutral', legalComments: 'none', logLevel: 'warning',
  });
} else {
  writeFileSync(join(here, bundle), readFileSync(join(here, 'index.js')));
}

// What a browser downloads through /sdk.js (a bundler's minified output is
// alike), each file gzipped alone. The build fails when it grows past GOAL,
// 40 KB in all (when built as shipped: nightly, wasm-opt, esbuild);
// RUCKSACK_SIZE_CHECK=0 only reports (bench/wasm_size.sh measures either way).
const GOAL = 40_000;
const files = [loader, bundle, join('pkg', 'rucksack_bg.wasm'), ...(esbuild ? [] : [join('pkg', 'rucksack.js'),
  ...jsUnder(join(pkg, 'snippets')).map((f) => relative(here, f))])];
let total = 0;
for (const f of files) {
  const body = readFileSync(join(here, f));
  const gz = gzipSync(body, { level: 9 }).length;
  total += gz;
  console.log(`${f}: ${body.length} bytes raw, ${gz} bytes gzipped`);
}
console.log(`a browser downloads ${total} bytes gzipped (goal ${GOAL})`);
if (existsSync(wasmOpt) && esbuild && !stable && total > GOAL && process.env.RUCKSACK_SIZE_CHECK !== '0') {
  console.error(`the SDK grew past its goal of ${GOAL} bytes gzipped`);
  process.exit(1);
}
