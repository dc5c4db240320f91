//! `createSdk(url, apiKey)` for JavaScript, compiled to WebAssembly.
//!
//! The modules and methods follow the Backpack SDK document name for name:
//! `sdk.auth.register/login/logout`, `sdk.db.getCollectionList` (also spelled
//! `getCollectionsList`), `createNewCollection`, `getCollection`, `getResource`,
//! `createResource`, `updateResource`, `overwriteResource`, `deleteResource`, and
//! `sdk.ws()`. Every method returns a Promise of plain JSON values; failures reject
//! with an `SdkError` carrying `status`, `code`, `message` and `errors`.
//!
//! Requests are built and answers interpreted by `sdk-core`; this crate only
//! carries them with the runtime's `fetch` and opens its `WebSocket` (web-sys).

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use js_sys::Promise;
use sdk_core::api::{Answer, Body, Call, Client, Credentials, HttpRequest};
use sdk_core::{Error, ErrorCode};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

mod auth;
mod db;
mod json;
mod realtime;
mod storage;
mod transport;

pub use auth::Auth;
pub use db::Db;
pub use storage::Storage;
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

type Shared = Rc<RefCell<Client>>;

/// Creates an SDK for the server at `url` with the app's API key.
#[wasm_bindgen(js_name = createSdk)]
pub fn create_sdk(url: &str, api_key: &str) -> Sdk {
    Sdk {
        core: Rc::new(RefCell::new(Client::new(url, api_key))),
    }
}

/// The object `createSdk` returns.
#[wasm_bindgen]
pub struct Sdk {
    core: Shared,
}

#[wasm_bindgen]
impl Sdk {
    /// `sdk.auth`: register, login, logout.
    #[wasm_bindgen(getter)]
    pub fn auth(&self) -> Auth {
        Auth {
            core: self.core.clone(),
        }
    }

    /// `sdk.db`: collections and records.
    #[wasm_bindgen(getter)]
    pub fn db(&self) -> Db {
        Db {
            core: self.core.clone(),
        }
    }

    /// `sdk.storage`: the signed-in user's files.
    #[wasm_bindgen(getter)]
    pub fn storage(&self) -> Storage {
        Storage {
            core: self.core.clone(),
        }
    }

    /// `sdk.ws()`: the realtime connection, with `actions`, `onmessage` and
    /// `addEventListener` as a WebSocket has them; it reconnects and resumes by itself.
    pub fn ws(&self) -> Result<realtime::Socket, JsValue> {
        realtime::open(self.core.clone())
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
        other => js_error(
            0,
            ErrorCode::Internal.as_str(),
            &other.to_string(),
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
