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
//! carries them with `fetch` (gloo-net) and opens the browser's `WebSocket`.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use gloo_net::http::{Method as HttpMethod, RequestBuilder};
use sdk_core::api::{Call, Client, Credentials, HttpRequest, Method};
use sdk_core::{Error, ErrorCode};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::RequestCredentials;

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

    /// `sdk.ws()`: a standard `WebSocket` to the server, authenticated with the
    /// API key and, when signed in, the session. Read messages with `onmessage`.
    pub fn ws(&self) -> Result<web_sys::WebSocket, JsValue> {
        let global = js_sys::global();
        let has_ws =
            js_sys::Reflect::has(&global, &JsValue::from_str("WebSocket")).unwrap_or(false);
        if !has_ws {
            return Err(js_error(
                0,
                "websocket_unavailable",
                "this JavaScript runtime has no global WebSocket: on Node.js 20 run with \
                 --experimental-websocket, or set globalThis.WebSocket from the 'ws' package",
                JsValue::UNDEFINED,
            ));
        }
        let url = self.core.borrow().ws_url();
        web_sys::WebSocket::new(&url)
    }
}

/// `sdk.auth`.
#[wasm_bindgen]
pub struct Auth {
    core: Shared,
}

#[wasm_bindgen]
impl Auth {
    /// Registers a user and signs them in: `{ id }`.
    pub async fn register(&self, email: String, password: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::Register(Credentials { email, password })).await
    }

    /// Signs a user in: `{ id }`.
    pub async fn login(&self, email: String, password: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::Login(Credentials { email, password })).await
    }

    /// Signs the current user out: `{ message: "OK" }`.
    pub async fn logout(&self) -> Result<JsValue, JsValue> {
        run(&self.core, Call::Logout).await
    }
}

/// `sdk.db`.
#[wasm_bindgen]
pub struct Db {
    core: Shared,
}

#[wasm_bindgen]
impl Db {
    /// The names of the collections that hold records.
    #[wasm_bindgen(js_name = getCollectionList)]
    pub async fn get_collection_list(&self) -> Result<JsValue, JsValue> {
        run(&self.core, Call::GetCollectionList).await
    }

    /// The same as `getCollectionList` (the document uses both spellings).
    #[wasm_bindgen(js_name = getCollectionsList)]
    pub async fn get_collections_list(&self) -> Result<JsValue, JsValue> {
        run(&self.core, Call::GetCollectionList).await
    }

    /// Declares a collection; returns its name.
    #[wasm_bindgen(js_name = createNewCollection)]
    pub async fn create_new_collection(&self, collection_name: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::CreateNewCollection(collection_name)).await
    }

    /// The records of a collection.
    #[wasm_bindgen(js_name = getCollection)]
    pub async fn get_collection(&self, collection: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::GetCollection(collection)).await
    }

    /// One record.
    #[wasm_bindgen(js_name = getResource)]
    pub async fn get_resource(&self, collection: String, id: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::GetResource(collection, id)).await
    }

    /// Creates a record; returns it with `_id`, `createdAt`, `updatedAt`, `__v`.
    #[wasm_bindgen(js_name = createResource)]
    pub async fn create_resource(
        &self,
        collection: String,
        data: JsValue,
    ) -> Result<JsValue, JsValue> {
        let data = to_json(&data)?;
        run(&self.core, Call::CreateResource(collection, data)).await
    }

    /// Merges `data` into a record (a `null` value removes the field); returns the record.
    #[wasm_bindgen(js_name = updateResource)]
    pub async fn update_resource(
        &self,
        collection: String,
        id: String,
        data: JsValue,
    ) -> Result<JsValue, JsValue> {
        let data = to_json(&data)?;
        run(&self.core, Call::UpdateResource(collection, id, data)).await
    }

    /// Replaces a record's fields with `data`; returns the record.
    #[wasm_bindgen(js_name = overwriteResource)]
    pub async fn overwrite_resource(
        &self,
        collection: String,
        id: String,
        data: JsValue,
    ) -> Result<JsValue, JsValue> {
        let data = to_json(&data)?;
        run(&self.core, Call::OverwriteResource(collection, id, data)).await
    }

    /// Deletes a record; returns it as it was.
    #[wasm_bindgen(js_name = deleteResource)]
    pub async fn delete_resource(
        &self,
        collection: String,
        id: String,
    ) -> Result<JsValue, JsValue> {
        run(&self.core, Call::DeleteResource(collection, id)).await
    }
}

fn js_error(status: u16, code: &str, message: &str, errors: JsValue) -> JsValue {
    JsSdkError::new(message, status, code, errors).into()
}

fn to_js_error(e: Error) -> JsValue {
    match e {
        Error::Api {
            status,
            code,
            message,
            errors,
        } => {
            let errors = errors
                .and_then(|m| js_sys::JSON::parse(&serde_json::Value::Object(*m).to_string()).ok())
                .unwrap_or(JsValue::UNDEFINED);
            js_error(status, code.as_str(), &message, errors)
        }
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

/// A JS value as JSON, through `JSON.stringify` (so `toJSON`, dates and the
/// like behave exactly as in any JS client).
fn to_json(v: &JsValue) -> Result<serde_json::Value, JsValue> {
    let invalid = || to_js_error(Error::InvalidArgument("data must be an object".into()));
    let text = js_sys::JSON::stringify(v).map_err(|_| invalid())?;
    let text = text.as_string().ok_or_else(invalid)?;
    serde_json::from_str(&text).map_err(|_| invalid())
}

async fn run(core: &Shared, call: Call) -> Result<JsValue, JsValue> {
    let req = core.borrow().prepare(&call).map_err(to_js_error)?;
    let (status, body) = send(req).await.map_err(to_js_error)?;
    let value = core
        .borrow_mut()
        .complete(&call, status, body.as_bytes())
        .map_err(to_js_error)?;
    js_sys::JSON::parse(&value.to_string())
        .map_err(|_| to_js_error(Error::Decode("the answer is not JSON".into())))
}

async fn send(req: HttpRequest) -> Result<(u16, String), Error> {
    let method = match req.method {
        Method::Get => HttpMethod::GET,
        Method::Post => HttpMethod::POST,
        Method::Put => HttpMethod::PUT,
        Method::Patch => HttpMethod::PATCH,
        Method::Delete => HttpMethod::DELETE,
    };
    let mut b = RequestBuilder::new(&req.url)
        .method(method)
        // Send the session cookie too, as Backpack's SDK does.
        .credentials(RequestCredentials::Include);
    for (name, value) in &req.headers {
        b = b.header(name, value);
    }
    let transport = |e: gloo_net::Error| Error::Transport(e.to_string());
    let request = match req.body {
        Some(body) => b
            .header("content-type", "application/json")
            .body(body)
            .map_err(transport)?,
        None => b.build().map_err(transport)?,
    };
    let resp = request.send().await.map_err(transport)?;
    let status = resp.status();
    let text = resp.text().await.map_err(transport)?;
    Ok((status, text))
}
