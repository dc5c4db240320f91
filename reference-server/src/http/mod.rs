//! HTTP routes: one file per module, assembled here with CORS and error recovery.

pub mod admin;
pub mod admin_page;
pub mod auth;
pub mod collections;
pub mod form;
pub mod openapi;
pub mod records;
pub mod sdk;
pub mod softuni;
pub mod uploads;

use crate::app::App;
use crate::error::ApiError;
use futures_util::{Stream, StreamExt};
use sdk_core::{ErrorCode, SESSION_COOKIE};
use serde_json::Value;
use std::sync::Arc;
use warp::{Buf, Filter, Rejection, Reply};

use crate::service::access::{Credentials, KeyRule, Principal, authenticate};
use crate::service::{Answer, Ctx, Origin, store_error};

impl Answer {
    /// The HTTP reply.
    pub fn into_response(self) -> warp::reply::Response {
        match self {
            Self::Raw(text) => raw_json(text),
            Self::Json(v, status) => json_reply(&v, status),
        }
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
    let explicit = x_authorization.or(bearer).filter(|t| !t.is_empty());
    let creds = Credentials {
        key: key.as_deref(),
        token: explicit.as_deref(),
        cookie: cookie.as_deref(),
    };
    let Principal { caller, admin, .. } = authenticate(&app, creds, KeyRule::Required).await?;
    Ok(Ctx {
        app,
        caller,
        admin,
        origin: Origin::Http,
        emitted: Default::default(),
        me: Default::default(),
        depth: 0,
    })
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
