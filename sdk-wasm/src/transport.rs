//! Requests over the runtime's `fetch`. sdk-core builds each request and
//! interprets each answer; `js/http.js` only carries them (fetch, the waits
//! between retries, an upload's progress), so the WebAssembly holds no
//! futures, no promise machinery and no bindings to `fetch`.

use super::*;
use sdk_core::json::JsonView;

#[wasm_bindgen(module = "/js/http.js")]
extern "C" {
    /// The object `createSdk` returns: one function per method of `core`.
    #[wasm_bindgen(js_name = makeSdk)]
    pub(crate) fn make_sdk(core: Core) -> JsValue;
    /// The `Blob` a file argument stands for, or `null`.
    #[wasm_bindgen(js_name = asBlob)]
    pub(crate) fn as_blob(file: &JsValue) -> JsValue;
}

/// How a call's answer is carried and read (`js/http.js` runs each kind).
#[derive(Clone)]
pub(crate) enum Kind {
    /// The result.
    One,
    /// One page and the next page's cursor.
    Page,
    /// Every page.
    All,
    /// A file's `Response`.
    File,
    /// A call that sends `blob` as its form's part `file`, telling `on_progress`.
    Upload {
        /// The bytes.
        blob: JsValue,
        /// `onProgress`, or `undefined`.
        on_progress: JsValue,
    },
}

/// One call on its way: the request sdk-core prepared for it, and what reads
/// its answer.
#[wasm_bindgen]
pub struct Pending {
    core: Shared,
    call: Call,
    req: HttpRequest,
    kind: Kind,
}

impl Pending {
    pub(crate) fn new(core: &Shared, call: Call, kind: Kind) -> Result<Self, JsValue> {
        let req = core.borrow().prepare(&call).map_err(to_js_error)?;
        Ok(Self {
            core: core.clone(),
            call,
            req,
            kind,
        })
    }
}

#[wasm_bindgen]
impl Pending {
    /// The request, as `[kind, method, url, headers, body, form, file,
    /// onProgress]`: `kind` says how to carry it (0 the result, 1 one page, 2
    /// every page, 3 a file's `Response`, 4 an upload); `headers` and `form`
    /// (the text fields of an upload's form) are `[name, value, ...]`; `body`
    /// is the JSON text, if any; `file` and `onProgress` are an upload's.
    pub fn request(&self) -> js_sys::Array {
        let strings = |pairs: &[(&'static str, String)]| -> js_sys::Array {
            pairs
                .iter()
                .flat_map(|(k, v)| [JsValue::from_str(k), JsValue::from_str(v)])
                .collect()
        };
        let (kind, file, on_progress) = match &self.kind {
            Kind::One => (0, JsValue::UNDEFINED, JsValue::UNDEFINED),
            Kind::Page => (1, JsValue::UNDEFINED, JsValue::UNDEFINED),
            Kind::All => (2, JsValue::UNDEFINED, JsValue::UNDEFINED),
            Kind::File => (3, JsValue::UNDEFINED, JsValue::UNDEFINED),
            Kind::Upload { blob, on_progress } => (4, blob.clone(), on_progress.clone()),
        };
        let (body, form) = match &self.req.body {
            Body::Json(text) => (JsValue::from_str(text), js_sys::Array::new()),
            Body::FormWithFile(fields) => (JsValue::UNDEFINED, strings(fields)),
            _ => (JsValue::UNDEFINED, js_sys::Array::new()),
        };
        [
            JsValue::from(kind),
            JsValue::from_str(self.req.method.as_str()),
            JsValue::from_str(&self.req.url),
            strings(&self.req.headers).into(),
            body,
            form.into(),
            file,
            on_progress,
        ]
        .into_iter()
        .collect()
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
    pub fn complete(&self, status: u16, body: JsValue) -> Result<JsValue, JsValue> {
        answer(&self.core, &self.call, status, &body)
    }

    /// One page: `{ records, after }`, `after` the next page's cursor (from
    /// the answer's `X-Next-After`, `next`) or `null` after the last page.
    pub fn page(
        &self,
        status: u16,
        body: JsValue,
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
        body: JsValue,
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
                Pending::new(&self.core, call, Kind::All).map(Some)
            }
            _ => Ok(None),
        }
    }

    fn records(&self, status: u16, body: &JsValue) -> Result<JsValue, JsValue> {
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

/// The app's result for an answer: the body (a JavaScript string, never
/// copied into the wasm unless it is an error that is not JSON) through the JS
/// engine's `JSON.parse`, read by sdk-core through its JSON view.
fn answer(core: &Shared, call: &Call, status: u16, body: &JsValue) -> Result<JsValue, JsValue> {
    let ok = (200..300).contains(&status);
    let json = if call.answer_is_bytes() && ok {
        None
    } else {
        json::Js::parse_value(body)
    };
    let text = if ok {
        String::new()
    } else {
        body.as_string().unwrap_or_default()
    };
    let made = core
        .borrow_mut()
        .complete_view(call, status, json.as_ref(), &text);
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
