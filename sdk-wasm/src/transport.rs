//! Requests over the runtime's `fetch`: sending what `sdk-core` builds and
//! handing back what it interprets.

use super::*;
use js_sys::Promise;
use sdk_core::json::JsonView;
use std::future::Future;
use std::pin::Pin;

/// The promise of a call's result: `call` is the call, or why it could not be
/// made (a rejection). Every method that sends one call goes through here, so
/// the promise machinery exists once in the wasm rather than once per method.
pub(crate) fn call(core: &Shared, call: Result<Call, JsValue>) -> Promise {
    call_with(core, call.map(|c| (c, None)))
}

/// [`call`] with the file a call sends, if any.
pub(crate) fn call_with(core: &Shared, call: Result<(Call, Option<Upload>), JsValue>) -> Promise {
    let core = core.clone();
    boxed(async move {
        let (call, file) = call?;
        run_with(&core, call, file).await
    })
}

/// The promise of a method's own work (one promise type for all of them).
pub(crate) fn boxed(work: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let work: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(work);
    wasm_bindgen_futures::future_to_promise(work)
}

#[wasm_bindgen(module = "/js/upload.js")]
extern "C" {
    /// Sends `request` with `body` (its form), calling `on_progress({loaded, total})`
    /// as the upload goes; resolves to the `Response`.
    #[wasm_bindgen(js_name = sendWithProgress)]
    fn send_with_progress(
        request: &web_sys::Request,
        body: &web_sys::FormData,
        size: f64,
        on_progress: &js_sys::Function,
    ) -> js_sys::Promise;
}

/// A file to send as the form part `file`, and who hears of the upload's progress.
pub(crate) struct Upload {
    /// The bytes.
    pub blob: web_sys::Blob,
    /// `onProgress`, when given.
    pub on_progress: Option<js_sys::Function>,
}

impl From<web_sys::Blob> for Upload {
    fn from(blob: web_sys::Blob) -> Self {
        Self {
            blob,
            on_progress: None,
        }
    }
}

pub(crate) async fn run_with(
    core: &Shared,
    call: Call,
    file: Option<Upload>,
) -> Result<JsValue, JsValue> {
    let req = core.borrow().prepare(&call).map_err(to_js_error)?;
    let (status, body) = send(req, file).await.map_err(to_js_error)?;
    answer(core, &call, status, &body)
}

/// The app's result for an answer: the body through the JS engine's
/// `JSON.parse` (once, with no copy through Rust's JSON), read by sdk-core
/// through its JSON view.
pub(crate) fn answer(
    core: &Shared,
    call: &Call,
    status: u16,
    body: &str,
) -> Result<JsValue, JsValue> {
    let json = if call.answer_is_bytes() && (200..300).contains(&status) {
        None
    } else {
        json::Js::parse(body)
    };
    let made = core
        .borrow_mut()
        .complete_view(call, status, json.as_ref(), body);
    let not_json = || to_js_error(Error::Decode("the answer is not JSON".into()));
    match made {
        Ok(Answer::Json(text)) => js_sys::JSON::parse(&text).map_err(|_| not_json()),
        Ok(Answer::Bytes) => Ok(JsValue::NULL),
        Ok(_) => json.map(|j| j.0).ok_or_else(not_json),
        Err(e) => {
            let errors = json
                .and_then(|j| j.get("errors"))
                .filter(JsonView::is_object)
                .map_or(JsValue::UNDEFINED, |e| e.0);
            Err(to_js_error_with(e, errors))
        }
    }
}

/// Runs a [`Call::FindPage`]: the page, and the next page's `after` cursor
/// (`None` after the last page).
pub(crate) async fn run_page(
    core: &Shared,
    call: Call,
) -> Result<(JsValue, Option<String>), JsValue> {
    let req = core.borrow().prepare(&call).map_err(to_js_error)?;
    let resp = fetch(req, None).await.map_err(to_js_error)?;
    let header = resp
        .headers()
        .get(sdk_core::NEXT_AFTER_HEADER)
        .ok()
        .flatten();
    let (status, body) = read(resp).await.map_err(to_js_error)?;
    let page = answer(core, &call, status, &body)?;
    Ok((page, sdk_core::api::next_after(header.as_deref())))
}

/// Carries one request and reads its answer (see [`fetch`]).
async fn send(req: HttpRequest, file: Option<Upload>) -> Result<(u16, String), Error> {
    read(fetch(req, file).await?).await
}

/// Carries one request with `fetch`; `file` becomes the form part `file`. An
/// idempotent request answered `503` is sent again as sdk-core's retry policy
/// says.
pub(crate) async fn fetch(
    req: HttpRequest,
    mut file: Option<Upload>,
) -> Result<web_sys::Response, Error> {
    if !req.is_idempotent() {
        // Never sent again: no copy of it is kept.
        return fetch_once(req, file).await;
    }
    let mut attempt = 0;
    loop {
        let resp = fetch_once(req.clone(), file.take()).await?;
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        let Some(ms) = req.retry_delay_ms(resp.status(), retry_after.as_deref(), attempt) else {
            return Ok(resp);
        };
        attempt += 1;
        sleep_ms(ms).await;
    }
}

/// Waits `ms` milliseconds on the runtime's timer.
async fn sleep_ms(ms: u64) {
    let wait = js_sys::Promise::new(&mut |resolve, _| {
        let _ = crate::realtime::set_timeout(&resolve, ms as f64);
    });
    let _ = JsFuture::from(wait).await;
}

pub(crate) fn transport(e: JsValue) -> Error {
    let text = js_sys::Reflect::get(&e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the request failed".into());
    Error::Transport(text)
}

async fn fetch_once(req: HttpRequest, file: Option<Upload>) -> Result<web_sys::Response, Error> {
    let mut progress = None;
    let headers = web_sys::Headers::new().map_err(transport)?;
    for (name, value) in &req.headers {
        headers.append(name, value).map_err(transport)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(req.method.as_str());
    // The session travels in the token header; the cookie goes along only to an
    // API on the page's own origin. Cross-origin credentialed requests would need
    // the server to list the page's origin (`--cors-origins`), and fail otherwise.
    init.set_credentials(RequestCredentials::SameOrigin);
    match req.body {
        Body::Empty => {}
        Body::Json(json) => {
            headers
                .append("content-type", "application/json")
                .map_err(transport)?;
            init.set_body(&JsValue::from_str(&json));
        }
        Body::FormWithFile(fields) => {
            let form = web_sys::FormData::new().map_err(transport)?;
            for (name, value) in &fields {
                form.append_with_str(name, value).map_err(transport)?;
            }
            let file =
                file.ok_or_else(|| Error::InvalidArgument("this call needs a file".into()))?;
            let name = fields
                .iter()
                .find(|(k, _)| *k == "filename")
                .map_or("file", |(_, v)| v);
            form.append_with_blob_and_filename("file", &file.blob, name)
                .map_err(transport)?;
            init.set_body(&form);
            if let Some(f) = file.on_progress {
                progress = Some((form, file.blob.size(), f));
            }
        }
        _ => {
            return Err(Error::InvalidArgument(
                "this call's body cannot be sent from a browser".into(),
            ));
        }
    }
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(&req.url, &init).map_err(transport)?;
    let sent = match &progress {
        Some((form, size, f)) => send_with_progress(&request, form, *size, f),
        None => global_fetch(&request),
    };
    let resp = JsFuture::from(sent).await.map_err(transport)?;
    resp.dyn_into::<web_sys::Response>().map_err(transport)
}

/// The status and the body text of a response.
pub(crate) async fn read(resp: web_sys::Response) -> Result<(u16, String), Error> {
    let status = resp.status();
    let text = JsFuture::from(resp.text().map_err(transport)?)
        .await
        .map_err(transport)?;
    Ok((status, text.as_string().unwrap_or_default()))
}
