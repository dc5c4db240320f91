//! HTTP routes: one file per module, assembled here with CORS and error recovery.

pub mod admin;
pub mod auth;
pub mod collections;
pub mod form;
pub mod records;
pub mod uploads;

use crate::app::App;
use crate::auth::token_hash;
use crate::error::{ApiError, recover};
use crate::store::StoreError;
use futures_util::{Stream, StreamExt};
use sdk_core::{ErrorCode, SESSION_COOKIE};
use serde_json::Value;
use std::sync::Arc;
use warp::filters::BoxedFilter;
use warp::{Buf, Filter, Rejection, Reply};

/// The signed-in user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user's id.
    pub user_id: String,
    /// The hash of the session token the request carried.
    pub token_hash: String,
}

/// What every handler gets: the app and, when signed in, the caller.
#[derive(Clone)]
pub struct Ctx {
    /// Shared state.
    pub app: Arc<App>,
    /// The signed-in user, if any.
    pub caller: Option<Caller>,
    /// Whether the request carries the admin key.
    pub admin: bool,
    /// Where the request came from, which decides how its writes are broadcast.
    pub origin: Origin,
}

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An HTTP request: its writes are broadcast with `httpRequest: true`.
    Http,
    /// A WebSocket action on the connection with this id: its writes are broadcast
    /// to the other connections, and the caller gets the answer directly.
    Socket(u64),
    /// A step of a larger action (a channel action) that announces itself: its
    /// writes are not broadcast.
    Quiet,
}

impl Ctx {
    /// Broadcasts the records one write touched.
    pub fn publish(
        &self,
        action: sdk_core::ws::WriteAction,
        collection: &str,
        records: Vec<Value>,
    ) {
        let (http, except) = match self.origin {
            Origin::Quiet => return,
            Origin::Http => (true, None),
            Origin::Socket(id) => (false, Some(id)),
        };
        crate::realtime::publish_write(&self.app, action, collection, records, http, except);
    }
}

/// A handler's answer before it becomes an HTTP reply or a WebSocket message.
#[derive(Debug)]
pub enum Answer {
    /// JSON text as the store produced it.
    Raw(String),
    /// A value and the HTTP status.
    Json(Value, u16),
}

impl Answer {
    /// The HTTP reply.
    pub fn into_response(self) -> warp::reply::Response {
        match self {
            Self::Raw(text) => raw_json(text),
            Self::Json(v, status) => json_reply(&v, status),
        }
    }

    /// The JSON text.
    pub fn into_text(self) -> String {
        match self {
            Self::Raw(text) => text,
            Self::Json(v, _) => v.to_string(),
        }
    }
}

impl Ctx {
    /// The caller, or 401 `unauthenticated`.
    pub fn require_user(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "sign in first: this needs a session",
            )
        })
    }
}

/// What a handler produces: a reply, or an error that becomes one.
///
/// Once a route's path and method match, nothing rejects any more: key, session
/// and body problems arrive in the handler as `Err` values and are answered
/// there, so warp never tries another route with a body already read.
pub type Outcome = Result<warp::reply::Response, ApiError>;

/// The reply for an outcome.
pub fn finish(outcome: Outcome) -> warp::reply::Response {
    outcome.unwrap_or_else(ApiError::into_response)
}

/// The first path segments of the server's own routes (the rest are collections).
const SERVER_SEGMENTS: &[&str] = &[
    "admin",
    "collections",
    "health",
    "login",
    "logout",
    "me",
    "register",
    "uploads",
    "ws",
];

/// Every route of the server, with CORS and JSON errors.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let health = warp::path!("health").and(warp::get()).map(|| {
        warp::reply::json(&sdk_core::api::Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        })
        .into_response()
    });
    // Record routes come first, for every path whose first segment is not one of
    // the server's own: they carry most of the traffic, and trying the other
    // routes first cost every record request about a sixth of its time.
    let records = warp::path::peek()
        .and_then(|path: warp::path::Peek| async move {
            let first = path.segments().next().unwrap_or("");
            if first.is_empty() || SERVER_SEGMENTS.contains(&first) {
                Err(warp::reject::not_found())
            } else {
                Ok(())
            }
        })
        .untuple_one()
        .and(records::routes(app.clone()));
    let api = records
        .or(auth::routes(app.clone()))
        .unify()
        .or(admin::routes(app.clone()))
        .unify()
        .or(collections::routes(app.clone()))
        .unify()
        .or(uploads::routes(app.clone()))
        .unify()
        .or(crate::ws::routes(app.clone()))
        .unify();
    // Any origin may call the API with header tokens; only origins listed in
    // `--cors-origins` may send the session cookie (credentialed requests), so a
    // page elsewhere cannot act as a signed-in visitor.
    let cors = if app.config.cors_origins.is_empty() {
        warp::cors().allow_any_origin().allow_credentials(false)
    } else {
        warp::cors()
            .allow_origins(app.config.cors_origins.iter().map(String::as_str))
            .allow_credentials(true)
    };
    let cors = cors
        .allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allow_headers([
            "authorization",
            "content-type",
            "x-authorization",
            "x-api-key",
            "if-match",
            "if-none-match",
            "range",
        ])
        .expose_headers(["etag", "content-range", "accept-ranges", "content-length"])
        .max_age(600);
    health
        .or(api)
        .unify()
        .recover(recover)
        .unify()
        .with(cors)
        .map(Reply::into_response)
        .boxed()
}

/// Checks the API key and resolves the session. The key comes from
/// `Authorization: key <KEY>` (or `API <KEY>`) or `X-API-Key`; the session token
/// from `X-Authorization`, `Authorization: Bearer <TOKEN>` or the session cookie.
pub fn ctx(
    app: Arc<App>,
) -> impl Filter<Extract = (Result<Ctx, ApiError>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>("x-api-key"))
        .and(warp::header::optional::<String>("x-authorization"))
        .and(warp::cookie::optional::<String>(SESSION_COOKIE))
        .and(warp::any().map(move || app.clone()))
        .then(resolve)
}

async fn resolve(
    authorization: Option<String>,
    x_api_key: Option<String>,
    x_authorization: Option<String>,
    cookie: Option<String>,
    app: Arc<App>,
) -> Result<Ctx, ApiError> {
    let mut key = x_api_key;
    let mut bearer = None;
    if let Some(h) = authorization.as_deref() {
        let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h, ""));
        let rest = rest.trim().to_owned();
        if scheme.eq_ignore_ascii_case("key") || scheme.eq_ignore_ascii_case("api") {
            key = Some(rest);
        } else if scheme.eq_ignore_ascii_case("bearer") {
            bearer = Some(rest);
        }
    }
    let admin = key
        .as_ref()
        .is_some_and(|k| constant_time_eq(k.as_bytes(), app.admin_key.as_bytes()));
    let accepted = match key.as_deref() {
        _ if admin => true,
        Some(k) => key_accepted(&app, k).await?,
        None => false,
    };
    if !accepted {
        return Err(ApiError::new(
            ErrorCode::InvalidApiKey,
            "Check your auth tokens",
        ));
    }
    let explicit = x_authorization.or(bearer).filter(|t| !t.is_empty());
    let caller = match (explicit, cookie) {
        (Some(token), _) => Some(session_user(&app, &token).await?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "the session has ended; sign in again",
            )
        })?),
        // A stale cookie makes the request anonymous rather than failing it.
        (None, Some(token)) => session_user(&app, &token).await?,
        (None, None) => None,
    };
    Ok(Ctx {
        app,
        caller,
        admin,
        origin: Origin::Http,
    })
}

/// The signed-in user for a session token, if the session is live. A session
/// used in the second half of its lifetime is renewed for a full lifetime.
pub async fn session_user(app: &Arc<App>, token: &str) -> Result<Option<Caller>, ApiError> {
    let hash = token_hash(token);
    let now = crate::clock::unix_now();
    let found = app
        .store
        .session_user(&hash, now)
        .await
        .map_err(store_error)?;
    let Some((user_id, expires)) = found else {
        return Ok(None);
    };
    let ttl = app.config.session_ttl;
    if expires.saturating_sub(now) <= ttl / 2 {
        let (app, hash) = (app.clone(), hash.clone());
        tokio::spawn(async move {
            if let Err(e) = app.store.renew_session(&hash, now + ttl).await {
                tracing::warn!(%e, "could not renew a session");
            }
        });
    }
    Ok(Some(Caller {
        user_id,
        token_hash: hash,
    }))
}

/// Whether `key` is the app's main API key or a live key made with `keys create`.
/// Keys are looked up by hash on every use, so a revoked key fails at once.
pub async fn key_accepted(app: &App, key: &str) -> Result<bool, ApiError> {
    if constant_time_eq(key.as_bytes(), app.api_key.as_bytes()) {
        return Ok(true);
    }
    if key.is_empty() || key.len() > 256 {
        return Ok(false);
    }
    app.store
        .key_live(&token_hash(key))
        .await
        .map_err(store_error)
}

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request body as JSON, read up to the configured limit whatever the
/// transfer encoding; anything else is a 400 or 413 with its code.
pub fn json_body(
    limit: BodyLimit,
) -> impl Filter<Extract = (Result<Value, ApiError>,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .then(move |len: Option<u64>, body| read_json_body(len, body, limit))
}

/// Reads a JSON body within the limits: 413 when too large, 408 when it does
/// not arrive in time, 400 when it is not JSON.
pub async fn read_json_body<S, B, E>(
    len: Option<u64>,
    body: S,
    limit: BodyLimit,
) -> Result<Value, ApiError>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    match tokio::time::timeout(limit.timeout, read_json(len, body, limit.max)).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::new(
            ErrorCode::RequestTimeout,
            format!(
                "the body did not arrive within {} s",
                limit.timeout.as_secs()
            ),
        )),
    }
}

/// How large a JSON body may be and how long it may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    /// Largest body, in bytes.
    pub max: u64,
    /// Longest time to receive it.
    pub timeout: std::time::Duration,
}

impl BodyLimit {
    /// The configured limits.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            max: config.max_body,
            timeout: std::time::Duration::from_secs(config.request_timeout),
        }
    }
}

async fn read_json<S, B, E>(len: Option<u64>, body: S, limit: u64) -> Result<Value, ApiError>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is over {limit} bytes"),
        )
    };
    if len.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(len.unwrap_or(0) as usize);
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidBody,
                format!("the body could not be read: {e}"),
            )
        })?;
        if (buf.len() + chunk.remaining()) as u64 > limit {
            return Err(too_large());
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            buf.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::MalformedJson,
            "the body is empty; JSON is expected",
        ));
    }
    serde_json::from_slice(&buf).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!(
                "malformed JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Maps a storage failure onto its error answer.
pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::new(ErrorCode::NotFound, "no record with that id"),
        StoreError::FileExists => ApiError::new(
            ErrorCode::FileExists,
            "you already have a file of that name; overwrite it or pick another name",
        ),
        StoreError::EmailTaken => ApiError::new(
            ErrorCode::EmailTaken,
            "a user with that email is already registered",
        ),
        StoreError::NotOwner => ApiError::new(
            ErrorCode::Forbidden,
            "only the record's owner may change it",
        ),
        StoreError::VersionConflict(v) => ApiError::new(
            ErrorCode::VersionConflict,
            format!("the record has changed: its version is now {v}"),
        ),
        StoreError::Busy => {
            ApiError::new(ErrorCode::Unavailable, "the server is busy; retry shortly")
        }
        StoreError::TimedOut(s) => ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "the query ran over its {s} s limit and was stopped; \
                 narrow it (an indexed filter, a smaller page) or retry when the server is less busy"
            ),
        ),
        StoreError::Query(q) => ApiError::from(q),
        StoreError::Rejected(body) => ApiError::from(body),
        StoreError::Script(body, status) => ApiError(body, Some(status)),
        other => ApiError::internal(other),
    }
}

/// A 200 reply whose body is JSON text already (records as stored).
pub fn raw_json(text: String) -> warp::reply::Response {
    let mut r = warp::reply::Response::new(text.into());
    r.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/json"),
    );
    r
}

/// A JSON reply with a status.
pub fn json_reply(value: &impl serde::Serialize, status: u16) -> warp::reply::Response {
    let status = warp::http::StatusCode::from_u16(status).unwrap_or(warp::http::StatusCode::OK);
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_segment_is_a_name_no_collection_may_take() {
        // Otherwise a collection of that name would be unreachable: its paths
        // would skip the record routes.
        for s in SERVER_SEGMENTS {
            assert!(
                sdk_core::names::RESERVED_NAMES.contains(s),
                "'{s}' is a route of the server but not a reserved collection name"
            );
        }
    }
}
