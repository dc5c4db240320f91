// The objects createSdk returns, and the carrying of their calls: each method
// hands its arguments to the WebAssembly's `Core`, which checks them and
// prepares the request (a `Pending`: method, URL, headers, body); the runtime's
// `fetch` carries it, and the answer goes back to the `Pending`, which says
// whether to send again after a 503, what the app gets, or what went wrong.
// Nothing here decides anything about the protocol; it only moves bytes and waits.

/**
 * `{ auth, db, storage, ws() }` for `core`: one function per method it names
 * (`db.getResource`, ...), returning a promise; `auth.session` and
 * `auth.restoreSession` keep a session across page loads.
 */
export function makeSdk(core) {
  const sdk = { auth: {}, db: {}, storage: {} };
  for (const op of core.methods()) {
    const [module, name] = op.split('.');
    sdk[module][name] = (...args) => {
      let p;
      try {
        p = core.prepare(op, args);
      } catch (e) {
        return Promise.reject(e);
      }
      return RUN[p.kind](p);
    };
  }
  Object.defineProperty(sdk.auth, 'session', { get: () => core.session, enumerable: true });
  sdk.auth.restoreSession = (token, userId) => core.restoreSession(token, userId);
  sdk.ws = () => core.ws();
  return sdk;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The answer to `p` as `[status, text, nextAfter]`, sending it again as long as
// `p.retryDelay` says to (an idempotent request answered 503).
async function carry(p, init) {
  for (let attempt = 0; ; attempt++) {
    const response = await send(p, init);
    const wait = p.retryDelay(response.status, response.headers.get('retry-after') ?? undefined, attempt);
    if (wait < 0) return response;
    await sleep(wait);
  }
}

// One `fetch` of `p`, with `body` instead of `p`'s own when given (a form).
// The session travels in the token header; the cookie goes along only to an
// API on the page's own origin.
async function send(p, body) {
  const h = p.headers();
  const headers = new Headers();
  for (let i = 0; i < h.length; i += 2) headers.append(h[i], h[i + 1]);
  const init = { method: p.method, headers, credentials: 'same-origin' };
  if (body !== undefined) init.body = body;
  else if (p.body !== undefined) {
    headers.set('content-type', 'application/json');
    init.body = p.body;
  }
  try {
    return await fetch(p.url, init);
  } catch (e) {
    throw p.failed(e);
  }
}

async function text(p, response) {
  try {
    return await response.text();
  } catch (e) {
    throw p.failed(e);
  }
}

// `work(p)`, then `p`'s memory in the WebAssembly is freed.
async function freed(p, work) {
  try {
    return await work(p);
  } finally {
    p.free();
  }
}

/** The app's result of `p`. */
function run(p) {
  return freed(p, async () => {
    const response = await carry(p);
    return p.complete(response.status, await text(p, response));
  });
}

/** One page of a query and the next page's cursor: `{ records, after }`. */
function runPage(p) {
  return freed(p, async () => {
    const response = await carry(p);
    const next = response.headers.get('x-next-after') ?? undefined;
    return p.page(response.status, await text(p, response), next);
  });
}

/** Every page, each after the last record of the one before. */
async function runAll(p) {
  const all = [];
  while (p) {
    p = await freed(p, async () => {
      const response = await carry(p);
      const next = response.headers.get('x-next-after') ?? undefined;
      return p.collect(all, response.status, await text(p, response), next);
    });
  }
  return all;
}

/** A file's `Response` (call `.blob()` on it), or the error answered. */
function runFile(p) {
  return freed(p, async () => {
    const response = await carry(p);
    if (response.ok) return response;
    return p.complete(response.status, await text(p, response));
  });
}

/**
 * Sends `p` with `file` (a Blob) as its form's part `file`, reporting the
 * upload's progress to `onProgress({ loaded, total })` when given: `fetch`
 * cannot, so XMLHttpRequest carries it where there is one (in browsers);
 * elsewhere (Node.js) `fetch` does, and progress is reported once, when the
 * request has been sent.
 */
function runUpload(p) {
  return freed(p, () => upload(p, p.file, p.onProgress));
}

async function upload(p, file, onProgress) {
  const form = new FormData();
  const fields = p.form();
  let name = 'file';
  for (let i = 0; i < fields.length; i += 2) {
    form.append(fields[i], fields[i + 1]);
    if (fields[i] === 'filename') name = fields[i + 1];
  }
  form.append('file', file, name);
  const report = (loaded, total) => {
    try { onProgress({ loaded, total }); } catch (e) { console.error(e); }
  };
  let response;
  if (!onProgress || typeof XMLHttpRequest === 'undefined') {
    response = await send(p, form);
    if (onProgress) report(file.size, file.size);
  } else {
    response = await new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(p.method, p.url);
      xhr.responseType = 'blob';
      const h = p.headers();
      for (let i = 0; i < h.length; i += 2) xhr.setRequestHeader(h[i], h[i + 1]);
      xhr.upload.onprogress = (e) => report(e.loaded, e.lengthComputable ? e.total : undefined);
      xhr.onload = () => {
        const answered = new Headers();
        for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
          const i = line.indexOf(':');
          if (i > 0) answered.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
        }
        const empty = xhr.status === 204 || xhr.status === 304;
        resolve(new Response(empty ? null : xhr.response, { status: xhr.status, headers: answered }));
      };
      xhr.onerror = () => reject(p.failed(new TypeError('Failed to fetch')));
      xhr.onabort = () => reject(p.failed(new TypeError('the upload was aborted')));
      xhr.ontimeout = () => reject(p.failed(new TypeError('the upload timed out')));
      xhr.send(form);
    });
  }
  return p.complete(response.status, await text(p, response));
}

/**
 * A Blob (or File) as is; a FormData's `file` entry (else its first file); a
 * Uint8Array, ArrayBuffer or string wrapped in a Blob. `null` for anything else,
 * and for a FormData without a file.
 */
export function asBlob(file) {
  if (file instanceof Blob) return file;
  if (typeof FormData !== 'undefined' && file instanceof FormData) {
    const named = file.get('file');
    if (named instanceof Blob) return named;
    for (const v of file.values()) if (v instanceof Blob) return v;
    return null;
  }
  if (file instanceof Uint8Array || file instanceof ArrayBuffer || typeof file === 'string') {
    return new Blob([file]);
  }
  return null;
}

// By `Pending.kind`.
const RUN = [run, runPage, runAll, runFile, runUpload];
