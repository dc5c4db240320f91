//! The server's one error type and the `recover` that turns every rejection into
//! a JSON `{code, message, errors?}` body with the right status.

use sdk_core::{ErrorBody, ErrorCode};
use warp::http::StatusCode;
use warp::reject::Reject;
use warp::{Rejection, Reply};

/// An error answer: the wire body and how it is answered.
#[derive(Debug)]
pub struct ApiError(pub ErrorBody, pub Answering);

/// How an error is answered besides its body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answering {
    /// The status, when not the code's own (a script's `cancel(message, status)`).
    pub status: Option<u16>,
    /// Seconds after which the request may be sent again (`Retry-After`), for a
    /// refusal that did nothing because the server is full.
    pub retry_after: Option<u32>,
}

impl Reject for ApiError {}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(code, message), Answering::default())
    }

    /// The 503 answer for a request refused before anything was done because the
    /// server is full (too many writes queued, too many sockets): the client may
    /// send it again in a second.
    pub fn retry_later(message: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorCode::Unavailable, message);
        e.1.retry_after = Some(1);
        e
    }

    /// The same error answered with another status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.1.status = Some(status);
        self
    }

    /// The 500 answer for a failure inside the server; the cause is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            ErrorCode::Internal,
            "the server failed; nothing was written",
        )
    }

    /// The HTTP response for this error.
    pub fn into_response(self) -> warp::reply::Response {
        let status = StatusCode::from_u16(self.1.status.unwrap_or_else(|| self.0.code.status()))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let reply = warp::reply::with_status(warp::reply::json(&self.0), status);
        match self.1.retry_after {
            // Nothing was done; the SDKs send idempotent requests again after it.
            Some(secs) => {
                warp::reply::with_header(reply, "retry-after", secs.to_string()).into_response()
            }
            None => reply.into_response(),
        }
    }
}

impl From<sdk_core::query::QueryError> for ApiError {
    fn from(e: sdk_core::query::QueryError) -> Self {
        Self::from(e.to_error_body())
    }
}

impl From<ErrorBody> for ApiError {
    fn from(b: ErrorBody) -> Self {
        Self(b, Answering::default())
    }
}

/// Turns any rejection into our JSON error body. Never fails.
pub async fn recover(err: Rejection) -> Result<warp::reply::Response, std::convert::Infallible> {
    Ok(rejection_error(&err).into_response())
}

/// The error a rejection stands for.
pub fn rejection_error(err: &Rejection) -> ApiError {
    use warp::reject;
    if let Some(ApiError(body, status)) = err.find::<ApiError>() {
        ApiError(body.clone(), *status)
    } else if err.is_not_found() {
        ApiError::new(ErrorCode::NotFound, "no such route")
    } else if err.find::<reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            ErrorCode::MethodNotAllowed,
            "this method is not allowed on this route",
        )
    } else if err.find::<reject::PayloadTooLarge>().is_some() {
        ApiError::new(ErrorCode::PayloadTooLarge, "the body is too large")
    } else if err.find::<reject::InvalidQuery>().is_some() {
        ApiError::new(ErrorCode::InvalidBody, "the query string is malformed")
    } else if let Some(h) = err.find::<reject::InvalidHeader>() {
        ApiError::new(
            ErrorCode::InvalidBody,
            format!("the {} header is malformed", h.name()),
        )
    } else if let Some(h) = err.find::<reject::MissingHeader>() {
        ApiError::new(
            ErrorCode::InvalidBody,
            format!("the {} header is required", h.name()),
        )
    } else if let Some(e) = err.find::<warp::filters::ws::MissingConnectionUpgrade>() {
        ApiError::new(ErrorCode::InvalidBody, e.to_string())
    } else {
        tracing::warn!(?err, "unhandled rejection");
        ApiError::new(
            ErrorCode::Internal,
            "the server failed; nothing was written",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_server_says_when_to_retry_and_other_errors_do_not() {
        let busy = ApiError::retry_later("busy").into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            busy.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        for other in [
            ApiError::new(ErrorCode::NotFound, "no"),
            // A read over its time limit would take as long again.
            ApiError::new(ErrorCode::Unavailable, "the query ran over its limit"),
        ] {
            assert!(other.into_response().headers().get("retry-after").is_none());
        }
    }
}
