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

use sdk_core::api::{Body, Call, Client, Credentials, HttpRequest};
use sdk_core::{Error, ErrorCode};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::RequestCredentials;

mod socket;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` of browsers, workers and Node.js 18+.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> js_sys::Promise;
}

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
    pub fn ws(&self) -> Result<socket::Socket, JsValue> {
        socket::open(self.core.clone())
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

    /// The signed-in user: `{ id, email, createdAt }`.
    pub async fn me(&self) -> Result<JsValue, JsValue> {
        run(&self.core, Call::Me).await
    }

    /// Changes the password; every other session ends: `{ message }`.
    #[wasm_bindgen(js_name = changePassword)]
    pub async fn change_password(
        &self,
        current_password: String,
        new_password: String,
    ) -> Result<JsValue, JsValue> {
        let call = Call::ChangePassword {
            current: current_password,
            new: new_password,
        };
        run(&self.core, call).await
    }

    /// Deletes the account (the password confirms it) and signs out: `{ message }`.
    #[wasm_bindgen(js_name = deleteAccount)]
    pub async fn delete_account(&self, password: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::DeleteAccount(password)).await
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

    /// Every record of a collection, oldest first: read page by page, each page
    /// resuming after the last record of the one before (the `after` cursor).
    #[wasm_bindgen(js_name = getCollection)]
    pub async fn get_collection(&self, collection: String) -> Result<JsValue, JsValue> {
        let mut all = Vec::new();
        let mut next = Some(sdk_core::query::FindQuery::new());
        while let Some(q) = next {
            let page = match run_value(
                &self.core,
                Call::Find(collection.clone(), q.to_pairs()),
                None,
            )
            .await?
            {
                serde_json::Value::Array(page) => page,
                _ => {
                    return Err(to_js_error(Error::Decode(
                        "the answer is not a list".into(),
                    )));
                }
            };
            // A server that ignored the cursor would give the same page again.
            next = q.next_page(&page).filter(|n| n.after != q.after);
            all.extend(page);
        }
        js_sys::JSON::parse(&serde_json::Value::Array(all).to_string())
            .map_err(|_| to_js_error(Error::Decode("the answer is not JSON".into())))
    }

    /// A query: `find(collection, query?, options?)`. `query` is a `where` string
    /// (`'age >= 18 AND city = "Paris"'`) or a Mongo-style object (`{ age: { $gte: 18 } }`);
    /// `options` may hold `where`, `q`, `sortBy`, `offset`, `pageSize`, `select`,
    /// `distinct`, `load` (strings or arrays of strings), `count: true` (the answer is a
    /// number), and `params` (more `field: value` equalities).
    pub async fn find(
        &self,
        collection: String,
        query: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let query = if query.is_undefined() || query.is_null() {
            serde_json::Value::Null
        } else {
            to_json(&query)?
        };
        let options = if options.is_undefined() || options.is_null() {
            serde_json::Value::Null
        } else {
            to_json(&options)?
        };
        let params = find_params(&query, &options).map_err(to_js_error)?;
        run(&self.core, Call::Find(collection, params)).await
    }

    /// One page of a query and where the next starts: `{ records, after }`, where
    /// `after` (a string, or `null` after the last page) goes into the next call's
    /// options as `after`. Takes `find`'s arguments; each page costs what the
    /// first does, however deep.
    #[wasm_bindgen(js_name = findPage)]
    pub async fn find_page(
        &self,
        collection: String,
        query: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let query = if query.is_undefined() || query.is_null() {
            serde_json::Value::Null
        } else {
            to_json(&query)?
        };
        let options = if options.is_undefined() || options.is_null() {
            serde_json::Value::Null
        } else {
            to_json(&options)?
        };
        let params = find_params(&query, &options).map_err(to_js_error)?;
        let q = sdk_core::query::FindQuery::from_pairs(params.iter().map(|(k, v)| (k, v)))
            .map_err(|e| to_js_error(Error::InvalidArgument(e.to_string())))?;
        let records = match run_value(&self.core, Call::Find(collection, params), None).await? {
            serde_json::Value::Array(page) => page,
            _ => {
                return Err(to_js_error(Error::InvalidArgument(
                    "findPage reads records, not a count".into(),
                )));
            }
        };
        let after = q
            .next_page(&records)
            .and_then(|n| n.after)
            .map(|c| c.encode());
        let out = serde_json::json!({ "records": records, "after": after });
        js_sys::JSON::parse(&out.to_string())
            .map_err(|_| to_js_error(Error::Decode("the answer is not JSON".into())))
    }

    /// Creates records from an array of objects, all or nothing; resolves to them.
    #[wasm_bindgen(js_name = insertMany)]
    pub async fn insert_many(
        &self,
        collection: String,
        objects: JsValue,
    ) -> Result<JsValue, JsValue> {
        let items = to_json(&objects)?;
        run(&self.core, Call::InsertMany(collection, items)).await
    }

    /// Applies an update spec (`{ $set: {...}, $inc: {...} }`) to every matching
    /// record the caller owns, all or nothing; resolves to `{ n }`.
    #[wasm_bindgen(js_name = updateMany)]
    pub async fn update_many(
        &self,
        collection: String,
        query: JsValue,
        spec: JsValue,
    ) -> Result<JsValue, JsValue> {
        let params = filter_params(&query)?;
        let spec = to_json(&spec)?;
        run(&self.core, Call::UpdateMany(collection, params, spec)).await
    }

    /// Deletes every matching record the caller owns, all or nothing; resolves to `{ n }`.
    #[wasm_bindgen(js_name = deleteMany)]
    pub async fn delete_many(
        &self,
        collection: String,
        query: JsValue,
    ) -> Result<JsValue, JsValue> {
        let params = filter_params(&query)?;
        run(&self.core, Call::DeleteMany(collection, params)).await
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

/// `sdk.storage`.
#[wasm_bindgen]
pub struct Storage {
    core: Shared,
}

#[wasm_bindgen]
impl Storage {
    /// Uploads a `File`, `Blob` or `Uint8Array` as `filename` in `bucket`; resolves to
    /// its metadata record.
    #[wasm_bindgen(js_name = uploadFile)]
    pub async fn upload_file(
        &self,
        file: JsValue,
        filename: String,
        bucket: String,
    ) -> Result<JsValue, JsValue> {
        run_with(
            &self.core,
            Call::UploadFile { filename, bucket },
            Some(as_blob(file)?),
        )
        .await
    }

    /// Resolves to the `Response` carrying the file (call `.blob()` on it).
    #[wasm_bindgen(js_name = getFile)]
    pub async fn get_file(&self, user_id: String, filename: String) -> Result<JsValue, JsValue> {
        let call = Call::GetFile(user_id, filename);
        let req = self.core.borrow().prepare(&call).map_err(to_js_error)?;
        let resp = fetch(req, None).await.map_err(to_js_error)?;
        if resp.ok() {
            return Ok(resp.into());
        }
        let (status, body) = read(resp).await.map_err(to_js_error)?;
        let err = self
            .core
            .borrow_mut()
            .complete(&call, status, body.as_bytes())
            .err();
        Err(to_js_error(err.unwrap_or_else(|| {
            Error::Decode(format!("unexpected status {status}"))
        })))
    }

    /// Resolves to `{ records: [...] }`: all of a user's files for the user, the public ones for others.
    #[wasm_bindgen(js_name = getListOfUserFiles)]
    pub async fn get_list_of_user_files(&self, user_id: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::GetListOfUserFiles(user_id)).await
    }

    /// Renames a file and files it under `bucket`; resolves to `{ record }`.
    #[wasm_bindgen(js_name = updateFile)]
    pub async fn update_file(
        &self,
        current_filename: String,
        new_filename: String,
        bucket: String,
    ) -> Result<JsValue, JsValue> {
        let call = Call::UpdateFile {
            current: current_filename,
            new: new_filename,
            bucket,
        };
        run(&self.core, call).await
    }

    /// Replaces a file's bytes; resolves to `{ message: "file overwritten" }`.
    #[wasm_bindgen(js_name = overwriteFile)]
    pub async fn overwrite_file(
        &self,
        file: JsValue,
        filename: String,
    ) -> Result<JsValue, JsValue> {
        run_with(
            &self.core,
            Call::OverwriteFile(filename),
            Some(as_blob(file)?),
        )
        .await
    }

    /// Deletes a file; resolves to `{ deletedRecord }`.
    #[wasm_bindgen(js_name = deleteFile)]
    pub async fn delete_file(&self, filename: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::DeleteFile(filename)).await
    }
}

/// A `Blob` (or `File`) as is; a `FormData`'s `file` entry (else its first file); a
/// `Uint8Array`, `ArrayBuffer` or string wrapped in a `Blob`.
fn as_blob(file: JsValue) -> Result<web_sys::Blob, JsValue> {
    if file.is_instance_of::<web_sys::Blob>() {
        return Ok(file.unchecked_into());
    }
    if let Some(form) = file.dyn_ref::<web_sys::FormData>() {
        let named = form.get("file");
        if named.is_instance_of::<web_sys::Blob>() {
            return Ok(named.unchecked_into());
        }
        let entries = js_sys::try_iter(&form.values()).ok().flatten();
        for entry in entries.into_iter().flatten().flatten() {
            if entry.is_instance_of::<web_sys::Blob>() {
                return Ok(entry.unchecked_into());
            }
        }
        return Err(to_js_error(Error::InvalidArgument(
            "the FormData holds no file".into(),
        )));
    }
    if file.is_instance_of::<js_sys::Uint8Array>()
        || file.is_instance_of::<js_sys::ArrayBuffer>()
        || file.is_string()
    {
        let parts = js_sys::Array::of1(&file);
        return web_sys::Blob::new_with_u8_array_sequence(&parts);
    }
    Err(to_js_error(Error::InvalidArgument(
        "file must be a File, Blob, FormData, Uint8Array, ArrayBuffer or string".into(),
    )))
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
/// The filter parameters of a bulk write: a `where` string, a query object, or nothing.
fn filter_params(query: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    let q = if query.is_undefined() || query.is_null() {
        serde_json::Value::Null
    } else {
        to_json(query)?
    };
    find_params(&q, &serde_json::Value::Null).map_err(to_js_error)
}

/// The query-string parameters for `db.find(collection, query, options)`.
fn find_params(
    query: &serde_json::Value,
    options: &serde_json::Value,
) -> Result<Vec<(String, String)>, Error> {
    use serde_json::Value;
    let bad = |m: &str| Error::InvalidArgument(m.to_owned());
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => Some("null".into()),
            _ => None,
        }
    };
    let mut out = Vec::new();
    match query {
        Value::Null => {}
        Value::String(w) => out.push(("where".into(), w.clone())),
        Value::Object(_) => out.push(("q".into(), query.to_string())),
        _ => return Err(bad("the query must be a where string or a query object")),
    }
    let opts = match options {
        Value::Null => return Ok(out),
        Value::Object(m) => m,
        _ => return Err(bad("options must be an object")),
    };
    for (k, v) in opts {
        match (k.as_str(), v) {
            (_, Value::Null) => {}
            ("q", Value::Object(_)) => out.push(("q".into(), v.to_string())),
            ("count", Value::Bool(b)) => {
                if *b {
                    out.push(("count".into(), "true".into()));
                }
            }
            ("params", Value::Object(m)) => {
                for (f, fv) in m {
                    let t = text(fv)
                        .ok_or_else(|| bad("params values must be strings, numbers or booleans"))?;
                    out.push((f.clone(), t));
                }
            }
            (
                "where" | "q" | "sortBy" | "offset" | "pageSize" | "select" | "distinct" | "load"
                | "after",
                v,
            ) => {
                let t = match v {
                    Value::Array(items) => items
                        .iter()
                        .map(|i| text(i).ok_or_else(|| bad("list options hold strings")))
                        .collect::<Result<Vec<_>, _>>()?
                        .join(","),
                    other => text(other).ok_or_else(|| {
                        bad(&format!("option '{k}' must be a string, number or array"))
                    })?,
                };
                out.push((k.clone(), t));
            }
            (other, _) => return Err(bad(&format!("unknown find option '{other}'"))),
        }
    }
    Ok(out)
}

fn to_json(v: &JsValue) -> Result<serde_json::Value, JsValue> {
    let invalid = || to_js_error(Error::InvalidArgument("data must be an object".into()));
    let text = js_sys::JSON::stringify(v).map_err(|_| invalid())?;
    let text = text.as_string().ok_or_else(invalid)?;
    serde_json::from_str(&text).map_err(|_| invalid())
}

async fn run(core: &Shared, call: Call) -> Result<JsValue, JsValue> {
    run_with(core, call, None).await
}

async fn run_with(
    core: &Shared,
    call: Call,
    file: Option<web_sys::Blob>,
) -> Result<JsValue, JsValue> {
    let value = run_value(core, call, file).await?;
    js_sys::JSON::parse(&value.to_string())
        .map_err(|_| to_js_error(Error::Decode("the answer is not JSON".into())))
}

/// Carries one call and checks its answer, as JSON.
async fn run_value(
    core: &Shared,
    call: Call,
    file: Option<web_sys::Blob>,
) -> Result<serde_json::Value, JsValue> {
    let req = core.borrow().prepare(&call).map_err(to_js_error)?;
    let resp = fetch(req, file).await.map_err(to_js_error)?;
    let (status, body) = read(resp).await.map_err(to_js_error)?;
    core.borrow_mut()
        .complete(&call, status, body.as_bytes())
        .map_err(to_js_error)
}

fn transport(e: JsValue) -> Error {
    let text = js_sys::Reflect::get(&e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the request failed".into());
    Error::Transport(text)
}

/// Carries one request with `fetch`; `file` becomes the form part `file`.
async fn fetch(req: HttpRequest, file: Option<web_sys::Blob>) -> Result<web_sys::Response, Error> {
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
            form.append_with_blob_and_filename("file", &file, name)
                .map_err(transport)?;
            init.set_body(&form);
        }
        other => {
            return Err(Error::InvalidArgument(format!(
                "unsupported body {other:?}"
            )));
        }
    }
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(&req.url, &init).map_err(transport)?;
    let resp = JsFuture::from(global_fetch(&request))
        .await
        .map_err(transport)?;
    resp.dyn_into::<web_sys::Response>().map_err(transport)
}

/// The status and the body text of a response.
async fn read(resp: web_sys::Response) -> Result<(u16, String), Error> {
    let status = resp.status();
    let text = JsFuture::from(resp.text().map_err(transport)?)
        .await
        .map_err(transport)?;
    Ok((status, text.as_string().unwrap_or_default()))
}
