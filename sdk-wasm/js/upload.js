// Sends a built request whose body is a form with a file, reporting the upload's
// progress: `fetch` cannot, so XMLHttpRequest carries it where there is one (in
// browsers); elsewhere (Node.js) `fetch` does, and progress is reported once,
// when the request has been sent. Resolves to a `Response` either way.
export function sendWithProgress(request, body, size, onProgress) {
  // The request's own content type names the boundary of its copy of the form;
  // the form sent here gets its own.
  const headers = new Headers(request.headers);
  headers.delete('content-type');
  const report = (loaded, total) => {
    try { onProgress({ loaded, total }); } catch (e) { console.error(e); }
  };
  if (typeof XMLHttpRequest === 'undefined') {
    return fetch(request.url, { method: request.method, headers, body, credentials: 'same-origin' })
      .then((response) => { report(size, size); return response; });
  }
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(request.method, request.url);
    xhr.responseType = 'blob';
    headers.forEach((value, name) => xhr.setRequestHeader(name, value));
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
    xhr.onerror = () => reject(new TypeError('Failed to fetch'));
    xhr.onabort = () => reject(new TypeError('the upload was aborted'));
    xhr.ontimeout = () => reject(new TypeError('the upload timed out'));
    xhr.send(body);
  });
}
