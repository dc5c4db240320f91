//! `createSdk(url, apiKey)` for JavaScript, compiled to WebAssembly.
//!
//! The modules and methods follow the Backpack SDK document name for name (see
//! [`calls`]), and `sdk.ws()`. Every method returns a Promise of plain JSON
//! values; failures reject with an `SdkError` carrying `status`, `code`,
//! `message` and `errors`.
//!
//! Requests are built and answers interpreted by `sdk-core`; the JavaScript
//! beside this crate (`js/`) only carries them with the runtime's `fetch` and
//! opens its `WebSocket`.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use sdk_core::api::{Answer, Body, Call, Client, Credentials, HttpRequest};
use sdk_core::{Error, ErrorCode};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

mod calls;
mod json;
mod live;
mod transport;

use calls::{Args, METHODS, call_for};
pub use transport::Pending;
use transport::*;

#[wasm_bindgen(module = "/js/errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = SdkError)]
    type JsSdkError;

    #[wasm_bindgen(constructor, js_class = "SdkError")]
    fn new(message: &str, status: u16, code: &str, errors: JsValue) -> JsSdkError;

    #[wasm_bindgen(thread_local_v2, js_name = SdkError)]
    static SDK_ERROR_CLASS: JsValue;
}

/// The `SdkError` class, so the JS package can export it for `instanceof` checks.
#[wasm_bindgen(js_name = sdkErrorClass)]
pub fn sdk_error_class() -> JsValue {
    SDK_ERROR_CLASS.with(JsValue::clone)
}

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

type Shared = Rc<RefCell<Client>>;

/// Creates an SDK for the server at `url` with the app's API key: `{ auth, db,
/// storage, ws() }`, each method returning a Promise of plain JSON values;
/// failures reject with an `SdkError` carrying `status`, `code`, `message` and
/// `errors`.
#[wasm_bindgen(js_name = createSdk)]
pub fn create_sdk(url: &str, api_key: &str) -> JsValue {
    make_sdk(Core {
        client: Rc::new(RefCell::new(Client::new(url, api_key))),
    })
}

/// The sans-IO client behind one `createSdk`: sdk-core's [`Client`] (the
/// address, the API key, the session).
#[wasm_bindgen]
pub struct Core {
    client: Shared,
}

#[wasm_bindgen]
impl Core {
    /// The methods, as `module.name` (`db.getResource`), separated by commas.
    pub fn methods(&self) -> String {
        METHODS.to_owned()
    }

    /// The call of method `op` with `args`, ready to carry; throws an
    /// `SdkError` (`invalid_argument`) when the arguments are wrong.
    pub fn prepare(&self, op: &str, args: js_sys::Array) -> Result<Pending, JsValue> {
        let (call, kind) = call_for(op, &Args(args))?;
        Pending::new(&self.client, call, kind)
    }

    /// The current session, `{ token, userId }` (`userId` `null` until known),
    /// or `null` when signed out: for keeping it across page loads.
    #[wasm_bindgen(getter)]
    pub fn session(&self) -> JsValue {
        let core = self.client.borrow();
        let s = core.session();
        let Some(token) = s.token() else {
            return JsValue::NULL;
        };
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &"token".into(), &token.into());
        let user: JsValue = s.user_id().map_or(JsValue::NULL, Into::into);
        let _ = js_sys::Reflect::set(&o, &"userId".into(), &user);
        o.into()
    }

    /// Takes up a session kept from an earlier page load (see `session`).
    #[wasm_bindgen(js_name = restoreSession)]
    pub fn restore_session(&self, token: String, user_id: Option<String>) {
        self.client.borrow_mut().restore_session(token, user_id);
    }

    /// `sdk.ws()`: the realtime connection, with `actions`, `onmessage` and
    /// `addEventListener` as a WebSocket has them; it reconnects and resumes by itself.
    pub fn ws(&self) -> Result<JsValue, JsValue> {
        live::open_socket(live::Live::new(self.client.clone()))
    }
}

fn js_error(status: u16, code: &str, message: &str, errors: JsValue) -> JsValue {
    JsSdkError::new(message, status, code, errors).into()
}

fn to_js_error(e: Error) -> JsValue {
    to_js_error_with(e, JsValue::UNDEFINED)
}

/// The `SdkError` for `e`, with `errors` (the answer's per-field errors, as
/// the JavaScript engine parsed them) for an error from the server.
fn to_js_error_with(e: Error, errors: JsValue) -> JsValue {
    match e {
        Error::Api {
            status,
            code,
            message,
            ..
        } => js_error(status, code.as_str(), &message, errors),
        Error::InvalidArgument(m) => js_error(0, "invalid_argument", &m, JsValue::UNDEFINED),
        Error::Transport(m) => js_error(0, "network_error", &m, JsValue::UNDEFINED),
        Error::Decode(m) => js_error(0, "invalid_response", &m, JsValue::UNDEFINED),
        // A kind of error this build does not know yet (the enum is
        // non-exhaustive); its text would need the formatting code.
        _ => js_error(
            0,
            ErrorCode::Internal.as_str(),
            "the SDK failed",
            JsValue::UNDEFINED,
        ),
    }
}

/// `v` as JSON text (`JSON.stringify`), for an argument that must be an
/// object (`what` says which), or an array when `array`.
fn json_arg(v: &JsValue, what: &str, array: bool) -> Result<String, JsValue> {
    let shape = if array {
        js_sys::Array::is_array(v)
    } else {
        v.is_object() && !js_sys::Array::is_array(v)
    };
    let text = shape.then(|| json::stringify(v)).flatten();
    let kind = if array {
        " must be an array"
    } else {
        " must be an object"
    };
    text.ok_or_else(|| to_js_error(Error::InvalidArgument([what, kind].concat())))
}

/// `v` as a value read through sdk-core's JSON view; `undefined` reads as `null`.
fn view(v: &JsValue) -> json::Js {
    json::Js(v.clone())
}
