//! Requests and responses: one definition of every call, shared by the server and
//! both SDKs, and the sans-IO client that turns calls into HTTP requests and HTTP
//! answers into results.

use crate::error::Error;
use crate::files::{BUCKET_RULE, bucket_ok, filename_problem};
use crate::json::{JsonView, ObjectWriter};
use crate::names::{check_collection_name, check_id};
use crate::routes::{COLLECTIONS, HEALTH, LOGIN, LOGOUT, ME, PASSWORD, REGISTER, UPLOADS, path};
use crate::session::Session;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Body of `POST /register` and `POST /login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Credentials {
    /// The user's email, used as the user name.
    pub email: String,
    /// The user's password.
    pub password: String,
}

/// Answer of `POST /register` and `POST /login`: the user's id and a session token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AuthResponse {
    /// The user's id.
    pub id: String,
    /// The opaque session token; send it as `X-Authorization` on later requests.
    pub token: String,
}

/// What the SDKs return from `register` and `login`: the user's id, as Backpack does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UserId {
    /// The user's id.
    pub id: String,
}

/// Answer of `GET /me`: the signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Me {
    /// The user's id.
    pub id: String,
    /// The normalized email.
    pub email: String,
    /// Registration time, ISO-8601 UTC.
    #[serde(rename = "createdAt")]
    pub created_at: String,
}

/// A plain acknowledgement, e.g. `{"message": "OK"}` from logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MessageResponse {
    /// The acknowledgement text.
    pub message: String,
}

/// Body of `POST /collections`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CreateCollectionRequest {
    /// The name of the collection to create.
    #[serde(rename = "collectionName")]
    pub collection_name: String,
}

/// Answer of `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Health {
    /// `"ok"` while the server accepts requests.
    pub status: String,
    /// The server's version.
    pub version: String,
}

/// Body of `POST /me/password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    /// The password the user has now.
    pub current_password: String,
    /// The new one (8 to 1,024 characters).
    pub new_password: String,
}

/// Body of `DELETE /me`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AccountDeletion {
    /// The user's password.
    pub password: String,
}

/// Body of `POST /admin/keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NewKey {
    /// What the key is for (1 to 100 characters).
    pub name: String,
}

/// Answer of `POST /admin/keys`: the key itself, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeyMade {
    /// The key's id (for `DELETE /admin/keys/<id>`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The key; only its hash is stored.
    pub key: String,
}

/// A JSON value as the text a call sends: the native SDK's `serde_json`
/// values become text once, and a browser's `JSON.stringify` gives it as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(String);

impl JsonText {
    /// Wraps text that is JSON (a browser's `JSON.stringify`, say); the
    /// server checks it all the same.
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the value starts with `c` (JSON's white space is ASCII).
    fn starts_with(&self, c: u8) -> bool {
        self.0.trim_ascii_start().as_bytes().first() == Some(&c)
    }
}

impl From<&Value> for JsonText {
    fn from(v: &Value) -> Self {
        Self(v.to_string())
    }
}

impl From<Value> for JsonText {
    fn from(v: Value) -> Self {
        Self(v.to_string())
    }
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// One SDK method call, before it becomes HTTP.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Call {
    /// `auth.register(email, password)`
    Register(Credentials),
    /// `auth.login(email, password)`
    Login(Credentials),
    /// `auth.logout()`
    Logout,
    /// `auth.me()`: the signed-in user.
    Me,
    /// `auth.changePassword(currentPassword, newPassword)`: ends every other session.
    ChangePassword {
        /// The password now.
        current: String,
        /// The new one.
        new: String,
    },
    /// `auth.deleteAccount(password)`: deletes the user and signs out.
    DeleteAccount(String),
    /// `db.getCollectionList()`
    GetCollectionList,
    /// `db.createNewCollection(name)`
    CreateNewCollection(String),
    /// `db.getCollection(collection)`
    GetCollection(String),
    /// `db.find(collection, query, options)`: a collection read with query-string
    /// parameters (`where`, `q`, `sortBy`, `pageSize`, ... or `field=value`), sent
    /// as given. Answers an array of records, or a number with `count`.
    Find(String, Vec<(String, String)>),
    /// `db.findPage(collection, query, options)` and each page of
    /// `db.getCollection`: as [`Call::Find`], asking the server for the next
    /// page's cursor ([`crate::PAGE_CURSOR_HEADER`]); read it from the answer
    /// with [`next_after`].
    FindPage(String, Vec<(String, String)>),
    /// `db.insertMany(collection, objects)`: `POST /<c>` with an array, all or nothing.
    InsertMany(String, JsonText),
    /// `db.updateMany(collection, filter, spec)`: `PATCH /<c>?<filter>` with an update spec.
    UpdateMany(String, Vec<(String, String)>, JsonText),
    /// `db.deleteMany(collection, filter)`: `DELETE /<c>?<filter>`.
    DeleteMany(String, Vec<(String, String)>),
    /// `db.saveCollection(collection, objects)`: `PUT /<c>`, replacing every record (admin key).
    SaveCollection(String, JsonText),
    /// The admin's `GET /collections/<name>`: the collection's configuration.
    GetCollectionConfig(String),
    /// The admin's `PUT /collections/<name>`: sets the collection's configuration.
    SetCollectionConfig(String, JsonText),
    /// `db.getResource(collection, id)`
    GetResource(String, String),
    /// `db.createResource(collection, data)`
    CreateResource(String, JsonText),
    /// `db.updateResource(collection, id, data)`: merge; a `null` value removes the field.
    UpdateResource(String, String, JsonText),
    /// `db.overwriteResource(collection, id, data)`: replace.
    OverwriteResource(String, String, JsonText),
    /// `db.deleteResource(collection, id)`
    DeleteResource(String, String),
    /// `storage.uploadFile(file, filename, bucket)`: the transport adds the file as the
    /// multipart part `file`.
    UploadFile {
        /// The file's name.
        filename: String,
        /// The bucket to file it under.
        bucket: String,
    },
    /// `storage.getFile(userId, filename)`: the answer is the file's bytes.
    GetFile(String, String),
    /// `storage.getListOfUserFiles(userId)`
    GetListOfUserFiles(String),
    /// `storage.updateFile(currentFilename, newFilename, bucket)`: renames and refiles.
    UpdateFile {
        /// The file's current name.
        current: String,
        /// Its new name.
        new: String,
        /// Its new bucket.
        bucket: String,
    },
    /// `storage.overwriteFile(file, filename)`: the transport adds the new bytes as `file`.
    OverwriteFile(String),
    /// `storage.deleteFile(filename)`
    DeleteFile(String),
    /// The server's health.
    Health,
}

impl Call {
    /// Whether a successful answer is raw bytes (a file) rather than JSON.
    pub fn answer_is_bytes(&self) -> bool {
        matches!(self, Self::GetFile(..))
    }
}

/// The next page's `after` cursor from the [`crate::NEXT_AFTER_HEADER`] of an
/// answer to [`Call::FindPage`] (form-urlencoded there); `None` after the last
/// page.
pub fn next_after(header: Option<&str>) -> Option<String> {
    // HTTP's white space around a header value is ASCII.
    let h = header?.trim_ascii();
    if h.is_empty() {
        return None;
    }
    url_decode(h)
}

/// Decodes one form-urlencoded value (`+` is a space); `None` when it is not
/// valid percent-encoded UTF-8.
fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |j: usize| char::from(*b.get(j)?).to_digit(16);
                // Two hex digits make at most 255.
                out.push((digit(i + 1)? * 16 + digit(i + 2)?) as u8);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// What an answer gives the app, from [`Client::complete_view`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The body as the server sent it (JSON text), for the app as it is.
    Body,
    /// JSON text the SDK returns instead of the body (register and login give `{ id }`).
    Json(String),
    /// The body is bytes (a file), not JSON.
    Bytes,
}

/// What a request carries.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Nothing.
    Empty,
    /// JSON text (sent with `content-type: application/json`).
    Json(String),
    /// A multipart form with these text fields, then the caller's file as the part `file`.
    FormWithFile(Vec<(&'static str, String)>),
}

/// A request ready to be carried: the transport sends exactly this.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Headers to send, besides the transport's own.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

/// How many times an idempotent request is sent again after a `503` answer.
pub const RETRIES: u32 = 2;
/// The longest wait before sending a request again, whatever `Retry-After` asks.
pub const MAX_RETRY_WAIT_MS: u64 = 10_000;
/// The first wait when the answer names none; it doubles with each attempt.
pub const RETRY_BACKOFF_MS: u64 = 250;

impl HttpRequest {
    /// Whether sending it twice does what sending it once does: `GET`, `PUT` and
    /// `DELETE`, without a file (a file part is read as it is sent).
    pub fn is_idempotent(&self) -> bool {
        matches!(self.method, Method::Get | Method::Put | Method::Delete)
            && !matches!(self.body, Body::FormWithFile(_))
    }

    /// How long to wait before sending this request again after an answer with
    /// `status` and `retry_after` (its `Retry-After` header, in seconds), where
    /// `attempt` counts the retries made so far. Only a `503` that carries
    /// `Retry-After` (the server did nothing because it is full: too many writes
    /// queued, too many sockets) to an idempotent request is retried, [`RETRIES`]
    /// times at most; the wait is the seconds asked or [`RETRY_BACKOFF_MS`]
    /// doubled per attempt, whichever is longer, and never more than
    /// [`MAX_RETRY_WAIT_MS`]. A 503 without it (a read over its time limit) would
    /// cost as much again. `None`: hand the answer to the caller.
    pub fn retry_delay_ms(
        &self,
        status: u16,
        retry_after: Option<&str>,
        attempt: u32,
    ) -> Option<u64> {
        if status != 503 || attempt >= RETRIES || !self.is_idempotent() {
            return None;
        }
        let asked = retry_after?
            .trim_ascii()
            .parse::<u64>()
            .map_or(0, |secs| secs.saturating_mul(1000));
        let backoff = RETRY_BACKOFF_MS.saturating_mul(1 << attempt.min(16));
        Some(asked.max(backoff).min(MAX_RETRY_WAIT_MS))
    }
}

/// The sans-IO client: the server's address, the API key and the session.
///
/// Call [`Client::prepare`] to get the request for a call, carry it, then hand the
/// answer to [`Client::complete`].
#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    api_key: String,
    session: Session,
}

impl Client {
    /// A client for the server at `url` (e.g. `http://127.0.0.1:8080/`) with the app's API key.
    pub fn new(url: &str, api_key: &str) -> Self {
        Self {
            base_url: url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            session: Session::default(),
        }
    }

    /// The current session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Takes up a session token kept from an earlier run (see [`Session::restore`]).
    pub fn restore_session(&mut self, token: impl Into<String>, user_id: Option<String>) {
        self.session.restore(token.into(), user_id);
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The headers every request carries: the API key and, when signed in, the session token.
    pub fn auth_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![(crate::AUTHORIZATION, ["key ", &self.api_key].concat())];
        if let Some(t) = self.session.token() {
            h.push((crate::SESSION_HEADER, t.to_owned()));
        }
        h
    }

    /// The request for `call`, or an error if its arguments are invalid (nothing is sent then).
    pub fn prepare(&self, call: &Call) -> Result<HttpRequest, Error> {
        use Method::*;
        let coll = |c: &str| -> Result<String, Error> {
            check_collection_name(c).map_err(|e| Error::InvalidArgument(e.message))?;
            Ok(path(c))
        };
        let item = |c: &str, id: &str| -> Result<String, Error> {
            check_id(id).map_err(|e| Error::InvalidArgument(e.message))?;
            Ok([coll(c)?.as_str(), "/", id].concat())
        };
        // The same rules as the server's, without building its error bodies.
        let file = |f: &str| -> Result<String, Error> {
            match filename_problem(f) {
                Some(p) => Err(Error::InvalidArgument(["the file name ", p].concat())),
                None => Ok(encode_query(f)),
            }
        };
        let bucket = |b: &str| -> Result<(), Error> {
            if bucket_ok(b) {
                Ok(())
            } else {
                Err(Error::InvalidArgument(
                    ["the bucket name must be ", BUCKET_RULE].concat(),
                ))
            }
        };
        let user = |u: &str| -> Result<String, Error> {
            check_id(u).map_err(|e| Error::InvalidArgument(["user ", &e.message].concat()))?;
            Ok(u.to_owned())
        };
        let object = |v: &JsonText| -> Result<Body, Error> {
            if v.starts_with(b'{') {
                Ok(Body::Json(v.0.clone()))
            } else {
                Err(Error::InvalidArgument("data must be an object".into()))
            }
        };
        let array = |v: &JsonText| -> Result<Body, Error> {
            if v.starts_with(b'[') {
                Ok(Body::Json(v.0.clone()))
            } else {
                Err(Error::InvalidArgument("objects must be an array".into()))
            }
        };
        let credentials = |c: &Credentials| {
            let w = ObjectWriter::new().str("email", &c.email);
            Body::Json(w.str("password", &c.password).finish())
        };
        let (method, path, body) = match call {
            Call::Register(c) => (Post, path(REGISTER), credentials(c)),
            Call::Login(c) => (Post, path(LOGIN), credentials(c)),
            Call::Logout => (Post, path(LOGOUT), Body::Empty),
            Call::Me => (Get, path(ME), Body::Empty),
            Call::ChangePassword { current, new } => (
                Post,
                ["/", ME, "/", PASSWORD].concat(),
                Body::Json(
                    ObjectWriter::new()
                        .str("currentPassword", current)
                        .str("newPassword", new)
                        .finish(),
                ),
            ),
            Call::DeleteAccount(password) => {
                let body = ObjectWriter::new().str("password", password).finish();
                (Delete, path(ME), Body::Json(body))
            }
            Call::GetCollectionList => (Get, path(COLLECTIONS), Body::Empty),
            Call::CreateNewCollection(name) => {
                check_collection_name(name).map_err(|e| Error::InvalidArgument(e.message))?;
                let body = ObjectWriter::new().str("collectionName", name).finish();
                (Post, path(COLLECTIONS), Body::Json(body))
            }
            Call::GetCollection(c) => (Get, coll(c)?, Body::Empty),
            Call::Find(c, params) | Call::FindPage(c, params) => {
                (Get, with_query(coll(c)?, params), Body::Empty)
            }
            Call::InsertMany(c, items) => (Post, coll(c)?, array(items)?),
            Call::UpdateMany(c, params, spec) => {
                (Patch, with_query(coll(c)?, params), object(spec)?)
            }
            Call::DeleteMany(c, params) => (Delete, with_query(coll(c)?, params), Body::Empty),
            Call::SaveCollection(c, items) => (Put, coll(c)?, array(items)?),
            Call::GetCollectionConfig(c) => {
                (Get, [path(COLLECTIONS), coll(c)?].concat(), Body::Empty)
            }
            Call::SetCollectionConfig(c, cfg) => {
                (Put, [path(COLLECTIONS), coll(c)?].concat(), object(cfg)?)
            }
            Call::GetResource(c, id) => (Get, item(c, id)?, Body::Empty),
            Call::CreateResource(c, data) => (Post, coll(c)?, object(data)?),
            Call::UpdateResource(c, id, data) => (Patch, item(c, id)?, object(data)?),
            Call::OverwriteResource(c, id, data) => (Put, item(c, id)?, object(data)?),
            Call::DeleteResource(c, id) => (Delete, item(c, id)?, Body::Empty),
            Call::UploadFile {
                filename,
                bucket: b,
            } => {
                file(filename)?;
                bucket(b)?;
                let fields = vec![("bucket", b.clone()), ("filename", filename.clone())];
                (Post, path(UPLOADS), Body::FormWithFile(fields))
            }
            Call::GetFile(u, f) => (
                Get,
                [uploads(&user(u)?).as_str(), "/", &file(f)?].concat(),
                Body::Empty,
            ),
            Call::GetListOfUserFiles(u) => (Get, uploads(&user(u)?), Body::Empty),
            Call::UpdateFile {
                current,
                new,
                bucket: b,
            } => {
                let path = uploads(&file(current)?);
                file(new)?;
                bucket(b)?;
                let body = ObjectWriter::new().str("filename", new).str("bucket", b);
                (Patch, path, Body::Json(body.finish()))
            }
            Call::OverwriteFile(f) => {
                let path = uploads(&file(f)?);
                (Put, path, Body::FormWithFile(vec![("filename", f.clone())]))
            }
            Call::DeleteFile(f) => (Delete, uploads(&file(f)?), Body::Empty),
            Call::Health => (Get, path(HEALTH), Body::Empty),
        };
        let mut headers = self.auth_headers();
        if matches!(call, Call::FindPage(..)) {
            headers.push((crate::PAGE_CURSOR_HEADER, "1".into()));
        }
        Ok(HttpRequest {
            method,
            url: [self.base_url.as_str(), &path].concat(),
            headers,
            body,
        })
    }

    /// Turns the answer to `call` into its result, updating the session on
    /// register, login and logout. The result is the JSON value the Backpack
    /// document shows for that method.
    pub fn complete(&mut self, call: &Call, status: u16, body: &[u8]) -> Result<Value, Error> {
        let json = serde_json::from_slice::<Value>(body).ok();
        match self.complete_view(call, status, json.as_ref().as_ref(), "") {
            // Rebuilt with the per-field errors and the text of a body that is not JSON.
            Err(Error::Api { .. }) => Err(Error::from_response(status, body)),
            Err(e) => Err(e),
            Ok(Answer::Body) => match json {
                Some(v) => Ok(v),
                None => decode(body),
            },
            Ok(Answer::Json(text)) => decode(text.as_bytes()),
            Ok(Answer::Bytes) => Ok(Value::Null),
        }
    }

    /// [`Client::complete`] for an answer already parsed (`json`, `None` when
    /// the body is not JSON; `text` is the body, for an error that is not
    /// JSON), whoever parsed it: a browser parses with its own `JSON.parse`,
    /// once. [`Answer::Body`] says to hand the body over as it is. Errors, the
    /// session's changes and the answers the SDK reshapes are handled here;
    /// an error's per-field `errors` are the caller's to add from its `json`.
    pub fn complete_view<J: JsonView>(
        &mut self,
        call: &Call,
        status: u16,
        json: Option<&J>,
        text: &str,
    ) -> Result<Answer, Error> {
        if matches!(call, Call::Logout) && matches!(status, 200..=299 | 401)
            || matches!(call, Call::DeleteAccount(_)) && (200..300).contains(&status)
        {
            self.session.clear();
        }
        if !(200..300).contains(&status) {
            let e = Error::from_answer(status, json, text);
            // The server no longer knows the session (it expired, or ended
            // elsewhere): the client is signed out.
            if status == 401 && e.code() == Some(&crate::ErrorCode::Unauthenticated) {
                self.session.clear();
            }
            return Err(e);
        }
        let not_json = || Error::Decode("the answer is not JSON".into());
        match call {
            Call::Register(_) | Call::Login(_) => {
                let v = json.ok_or_else(not_json)?;
                let (Some(id), Some(token)) = (v.str_at("id"), v.str_at("token")) else {
                    return Err(Error::Decode("the answer lacks the id or the token".into()));
                };
                let answer = ObjectWriter::new().str("id", &id).finish();
                self.session.sign_in(id, token);
                Ok(Answer::Json(answer))
            }
            Call::Me => {
                if let Some(id) = json.ok_or_else(not_json)?.str_at("id") {
                    self.session.learn_user_id(&id);
                }
                Ok(Answer::Body)
            }
            c if c.answer_is_bytes() => Ok(Answer::Bytes),
            _ => Ok(Answer::Body),
        }
    }

    /// The WebSocket URL for this server, carrying the API key and, when signed in,
    /// the session token as query parameters.
    pub fn ws_url(&self) -> String {
        let base = if let Some(rest) = self.base_url.strip_prefix("https://") {
            ["wss://", rest].concat()
        } else if let Some(rest) = self.base_url.strip_prefix("http://") {
            ["ws://", rest].concat()
        } else {
            self.base_url.clone()
        };
        let key = encode_query(&self.api_key);
        let mut url = [
            &base,
            "/",
            crate::routes::WS,
            "?",
            crate::WS_API_KEY_PARAM,
            "=",
            &key,
        ]
        .concat();
        if let Some(t) = self.session.token() {
            url.push_str(&["&", crate::WS_TOKEN_PARAM, "=", &encode_query(t)].concat());
        }
        url
    }
}

/// `/uploads/<rest>`.
fn uploads(rest: &str) -> String {
    ["/", UPLOADS, "/", rest].concat()
}

/// `path?k=v&...`, each part percent-encoded.
fn with_query(mut path: String, params: &[(String, String)]) -> String {
    for (i, (k, v)) in params.iter().enumerate() {
        path.push(if i == 0 { '?' } else { '&' });
        path.push_str(&encode_query(k));
        path.push('=');
        path.push_str(&encode_query(v));
    }
    path
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Decode(e.to_string()))
}

/// Percent-encodes a query parameter value (everything but RFC 3986 unreserved characters).
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests;
