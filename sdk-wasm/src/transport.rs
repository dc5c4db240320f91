//! Requests over the runtime's `fetch`. sdk-core builds each request and
//! interprets each answer; `js/http.js` only carries them (fetch, the waits
//! between retries, an upload's progress), so the WebAssembly holds no
//! futures, no promise machinery and no bindings to `fetch`.

use super::*;
use sdk_core::json::JsonView;

#[wasm_bindgen(module = "/js/http.js")]
extern "C" {
    /// The app's result of a call.
    fn run(p: Pending) -> Promise;
    /// One page and the next page's cursor, `{ records, after }`.
    #[wasm_bindgen(js_name = runPage)]
    fn run_page(p: Pending) -> Promise;
    /// Every page of a collection.
    #[wasm_bindgen(js_name = runAll)]
    fn run_all(p: Pending) -> Promise;
    /// A file's `Response`.
    #[wasm_bindgen(js_name = runFile)]
    fn run_file(p: Pending) -> Promise;
    /// A call with a file as its form's part `file`.
    #[wasm_bindgen(js_name = runUpload)]
    fn run_upload(p: Pending, file: &JsValue, on_progress: &JsValue) -> Promise;
    /// The `Blob` a file argument stands for, or `null`.
    #[wasm_bindgen(js_name = asBlob)]
    pub(crate) fn as_blob(file: &JsValue) -> JsValue;
}

/// How a call's answer is carried and read.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// The result, as [`run`].
    One,
    /// One page, as [`run_page`].
    Page,
    /// Every page, as [`run_all`].
    All,
    /// A file, as [`run_file`].
    File,
}

/// The promise of `call`'s result, or a rejection when the call could not be
/// made (invalid arguments: nothing is sent).
pub(crate) fn call(core: &Shared, call: Result<Call, JsValue>) -> Promise {
    call_as(core, call, Kind::One)
}

/// [`call`], carried and read as `kind` says.
pub(crate) fn call_as(core: &Shared, call: Result<Call, JsValue>, kind: Kind) -> Promise {
    match call.and_then(|c| Pending::new(core, c)) {
        Ok(p) => match kind {
            Kind::One => run(p),
            Kind::Page => run_page(p),
            Kind::All => run_all(p),
            Kind::File => run_file(p),
        },
        Err(e) => Promise::reject(&e),
    }
}

/// [`call`] for a call that sends `file` (a `Blob`).
pub(crate) fn upload(
    core: &Shared,
    call: Result<Call, JsValue>,
    file: &JsValue,
    on_progress: &JsValue,
) -> Promise {
    match call.and_then(|c| Pending::new(core, c)) {
        Ok(p) => run_upload(p, file, on_progress),
        Err(e) => Promise::reject(&e),
    }
}

/// One call on its way: the request sdk-core prepared for it, and what reads
/// its answer.
#[wasm_bindgen]
pub struct Pending {
    core: Shared,
    call: Call,
    req: HttpRequest,
}

impl Pending {
    fn new(core: &Shared, call: Call) -> Result<Self, JsValue> {
        let req = core.borrow().prepare(&call).map_err(to_js_error)?;
        Ok(Self {
            core: core.clone(),
            call,
            req,
        })
    }

    fn pairs(pairs: &[(&'static str, String)]) -> Vec<String> {
        pairs
            .iter()
            .flat_map(|(k, v)| [(*k).to_owned(), v.clone()])
            .collect()
    }
}

#[wasm_bindgen]
impl Pending {
    /// The method.
    #[wasm_bindgen(getter)]
    pub fn method(&self) -> String {
        self.req.method.as_str().to_owned()
    }

    /// The absolute URL.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.req.url.clone()
    }

    /// The headers, as `[name, value, name, value, ...]`.
    pub fn headers(&self) -> Vec<String> {
        Self::pairs(&self.req.headers)
    }

    /// The JSON body, if the request has one.
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> Option<String> {
        match &self.req.body {
            Body::Json(text) => Some(text.clone()),
            _ => None,
        }
    }

    /// The text fields of a form with a file, as `[name, value, ...]`.
    pub fn form(&self) -> Vec<String> {
        match &self.req.body {
            Body::FormWithFile(fields) => Self::pairs(fields),
            _ => Vec::new(),
        }
    }

    /// How many ms to wait before sending again after an answer with `status`
    /// and `retry_after` (its `Retry-After`), this being attempt `attempt`;
    /// `-1`: do not.
    #[wasm_bindgen(js_name = retryDelay)]
    pub fn retry_delay(&self, status: u16, retry_after: Option<String>, attempt: u32) -> f64 {
        self.req
            .retry_delay_ms(status, retry_after.as_deref(), attempt)
            .map_or(-1.0, |ms| ms as f64)
    }

    /// The `SdkError` for a request that got no answer (`e`: what `fetch` threw).
    pub fn failed(&self, e: JsValue) -> JsValue {
        let text = js_sys::Reflect::get(&e, &JsValue::from_str("message"))
            .ok()
            .and_then(|m| m.as_string())
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "the request failed".into());
        to_js_error(Error::Transport(text))
    }

    /// The app's result for the answer `status` `body`, or the error it says.
    pub fn complete(&self, status: u16, body: String) -> Result<JsValue, JsValue> {
        answer(&self.core, &self.call, status, &body)
    }

    /// One page: `{ records, after }`, `after` the next page's cursor (from
    /// the answer's `X-Next-After`, `next`) or `null` after the last page.
    pub fn page(
        &self,
        status: u16,
        body: String,
        next: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let records = self.records(status, &body)?;
        let after: JsValue =
            sdk_core::api::next_after(next.as_deref()).map_or(JsValue::NULL, Into::into);
        let out = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&out, &"records".into(), &records);
        let _ = js_sys::Reflect::set(&out, &"after".into(), &after);
        Ok(out.into())
    }

    /// Adds one page's records to `all`; the call for the next page, if any.
    pub fn collect(
        &self,
        all: &js_sys::Array,
        status: u16,
        body: String,
        next: Option<String>,
    ) -> Result<Option<Pending>, JsValue> {
        let records = self.records(status, &body)?;
        for r in js_sys::Array::from(&records).iter() {
            all.push(&r);
        }
        let Call::FindPage(collection, params) = &self.call else {
            return Ok(None);
        };
        let next = sdk_core::api::next_after(next.as_deref());
        let after = params.iter().find(|(k, _)| k == "after").map(|(_, v)| v);
        // A server that ignored the cursor would give the same one again.
        match next {
            Some(n) if Some(&n) != after => {
                let call = Call::FindPage(collection.clone(), vec![("after".to_owned(), n)]);
                Pending::new(&self.core, call).map(Some)
            }
            _ => Ok(None),
        }
    }

    fn records(&self, status: u16, body: &str) -> Result<JsValue, JsValue> {
        let records = answer(&self.core, &self.call, status, body)?;
        if js_sys::Array::is_array(&records) {
            Ok(records)
        } else {
            Err(to_js_error(Error::InvalidArgument(
                "a page holds records, not a count".into(),
            )))
        }
    }
}

/// The app's result for an answer: the body through the JS engine's
/// `JSON.parse` (once, with no copy through Rust's JSON), read by sdk-core
/// through its JSON view.
fn answer(core: &Shared, call: &Call, status: u16, body: &str) -> Result<JsValue, JsValue> {
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
