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
  for (const op of core.methods().split(',')) {
    const [module, name] = op.split('.');
    sdk[module][name] = (...args) => {
      let p;
      try {
        p = core.prepare(op, args);
      } catch (e) {
        return Promise.reject(e);
      }
      const r = request(p);
      return RUN[r.kind](r);
    };
  }
  Object.defineProperty(sdk.auth, 'session', { get: () => core.session, enumerable: true });
  sdk.auth.restoreSession = (token, userId) => core.restoreSession(token, userId);
  sdk.ws = () => core.ws();
  return sdk;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The request a `Pending` holds, by name.
function request(p) {
  const [kind, method, url, headers, body, form, file, onProgress] = p.request();
  return { p, kind, method, url, headers, body, form, file, onProgress };
}

// The response to request `r`, sent again as long as its `Pending` says to
// (an idempotent request answered 503).
async function carry(r) {
  for (let attempt = 0; ; attempt++) {
    const response = await send(r);
    const wait = r.p.retryDelay(response.status, response.headers.get('retry-after') ?? undefined, attempt);
    if (wait < 0) return response;
    await sleep(wait);
  }
}

// One `fetch` of request `r`, with `form` as its body when given (an upload).
// The session travels in the token header; the cookie goes along only to an
// API on the page's own origin.
async function send(r, form) {
  try {
    // A header the runtime refuses (a key with a line break, say) fails the
    // request as a network error, as fetch's own refusals do.
    const headers = new Headers();
    for (let i = 0; i < r.headers.length; i += 2) headers.append(r.headers[i], r.headers[i + 1]);
    const init = { method: r.method, headers, credentials: 'same-origin' };
    if (form !== undefined) init.body = form;
    else if (r.body !== undefined) {
      headers.set('content-type', 'application/json');
      init.body = r.body;
    }
    return await fetch(r.url, init);
  } catch (e) {
    throw r.p.failed(e);
  }
}

async function text(r, response) {
  try {
    return await response.text();
  } catch (e) {
    throw r.p.failed(e);
  }
}

// `work()`, then the memory of `r`'s `Pending` in the WebAssembly is freed.
async function freed(r, work) {
  try {
    return await work();
  } finally {
    r.p.free();
  }
}

/** The app's result of request `r`. */
function run(r) {
  return freed(r, async () => {
    const response = await carry(r);
    return r.p.complete(response.status, await text(r, response));
  });
}

/** One page of a query and the next page's cursor: `{ records, after }`. */
function runPage(r) {
  return freed(r, async () => {
    const response = await carry(r);
    const next = response.headers.get('x-next-after') ?? undefined;
    return r.p.page(response.status, await text(r, response), next);
  });
}

/** Every page, each after the last record of the one before. */
async function runAll(r) {
  const all = [];
  while (r) {
    const page = r;
    const next = await freed(page, async () => {
      const response = await carry(page);
      const after = response.headers.get('x-next-after') ?? undefined;
      return page.p.collect(all, response.status, await text(page, response), after);
    });
    r = next && request(next);
  }
  return all;
}

/** A file's `Response` (call `.blob()` on it), or the error answered. */
function runFile(r) {
  return freed(r, async () => {
    const response = await carry(r);
    if (response.ok) return response;
    return r.p.complete(response.status, await text(r, response));
  });
}

/**
 * Sends request `r` with `r.file` (a Blob) as its form's part `file`, reporting
 * the upload's progress to `r.onProgress({ loaded, total })` when given: `fetch`
 * cannot, so XMLHttpRequest carries it where there is one (in browsers);
 * elsewhere (Node.js) `fetch` does, and progress is reported once, when the
 * request has been sent.
 */
function runUpload(r) {
  return freed(r, () => upload(r));
}

async function upload(r) {
  const { file, onProgress } = r;
  const form = new FormData();
  let name = 'file';
  for (let i = 0; i < r.form.length; i += 2) {
    form.append(r.form[i], r.form[i + 1]);
    if (r.form[i] === 'filename') name = r.form[i + 1];
  }
  form.append('file', file, name);
  const report = (loaded, total) => {
    try { onProgress({ loaded, total }); } catch (e) { console.error(e); }
  };
  let response;
  if (!onProgress || typeof XMLHttpRequest === 'undefined') {
    response = await send(r, form);
    if (onProgress) report(file.size, file.size);
  } else {
    response = await new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      try {
        xhr.open(r.method, r.url);
        for (let i = 0; i < r.headers.length; i += 2) xhr.setRequestHeader(r.headers[i], r.headers[i + 1]);
      } catch (e) {
        reject(r.p.failed(e));
        return;
      }
      xhr.responseType = 'blob';
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
      xhr.onerror = () => reject(r.p.failed(new TypeError('Failed to fetch')));
      xhr.onabort = () => reject(r.p.failed(new TypeError('the upload was aborted')));
      xhr.ontimeout = () => reject(r.p.failed(new TypeError('the upload timed out')));
      xhr.send(form);
    });
  }
  return r.p.complete(response.status, await text(r, response));
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
