//! Errors: the JSON body the server sends, its stable codes, and the client error.

use crate::json::JsonView;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A stable, machine-readable error code. The server sends it as the `code` field
/// of every error body; clients match on it. New codes may be added, so the enum is
/// non-exhaustive and keeps codes it does not know in [`ErrorCode::Other`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The API key is missing or wrong (401).
    InvalidApiKey,
    /// Email or password is wrong (401).
    InvalidCredentials,
    /// The request needs a signed-in user and carries no live session (401).
    Unauthenticated,
    /// The signed-in user may not do this, e.g. change another user's record (403).
    Forbidden,
    /// The body is not valid JSON (400).
    MalformedJson,
    /// The body is valid JSON of the wrong shape, e.g. an array where an object is required (400).
    InvalidBody,
    /// One or more fields failed validation; see `errors` (400).
    ValidationFailed,
    /// The body tries to set a field only the server may set (400).
    SystemField,
    /// The id in the path is not a well-formed id (400).
    InvalidId,
    /// The collection name is not a well-formed name (400).
    InvalidCollectionName,
    /// The collection name is reserved for the server's own routes (400).
    ReservedName,
    /// No record, collection or route with that name (404).
    NotFound,
    /// The method is not allowed on this route (405).
    MethodNotAllowed,
    /// The email is already registered (409).
    EmailTaken,
    /// The expected version (`__v`) does not match the stored one (409).
    VersionConflict,
    /// A record with the client-given id exists already (409).
    IdTaken,
    /// The collection has this operation switched off (405).
    OperationDisabled,
    /// The body is larger than the server accepts (413).
    PayloadTooLarge,
    /// Too many attempts; retry after the seconds `Retry-After` gives (429).
    RateLimited,
    /// The request body did not arrive in time (408).
    RequestTimeout,
    /// A collection's event script called `cancel(message, status)`; the status
    /// is the script's (400 when it gives none).
    Cancelled,
    /// A collection's event script failed: it threw, or ran over its time or
    /// memory limit; the message names the collection, event and line (500).
    ScriptError,
    /// A WebSocket message names an action the server does not know (400).
    UnknownAction,
    /// A query parameter is malformed: an unknown operator, a syntax error (with its
    /// position), an invalid regular expression, a page size over the maximum (400).
    InvalidQuery,
    /// A file name is empty, too long, or holds a path trick or control character (400).
    InvalidFilename,
    /// The user already has a file of that name (409).
    FileExists,
    /// The requested byte range lies outside the file (416).
    RangeNotSatisfiable,
    /// The server failed; nothing was written (500).
    Internal,
    /// The server is shutting down or overloaded; retry later (503).
    Unavailable,
    /// The server's disk is full: nothing was written. The same request succeeds
    /// once space is freed, without a restart (507).
    StorageFull,
    /// A code this version of the SDK does not know.
    Other(String),
}

impl ErrorCode {
    /// The code as it travels on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidApiKey => "invalid_api_key",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::MalformedJson => "malformed_json",
            Self::InvalidBody => "invalid_body",
            Self::ValidationFailed => "validation_failed",
            Self::SystemField => "system_field",
            Self::InvalidId => "invalid_id",
            Self::InvalidCollectionName => "invalid_collection_name",
            Self::ReservedName => "reserved_name",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::EmailTaken => "email_taken",
            Self::VersionConflict => "version_conflict",
            Self::IdTaken => "id_taken",
            Self::OperationDisabled => "operation_disabled",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::RequestTimeout => "request_timeout",
            Self::Cancelled => "cancelled",
            Self::ScriptError => "script_error",
            Self::UnknownAction => "unknown_action",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidFilename => "invalid_filename",
            Self::FileExists => "file_exists",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::StorageFull => "storage_full",
            Self::Other(s) => s,
        }
    }

    /// Parses a wire code; unknown codes become [`ErrorCode::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "invalid_api_key" => Self::InvalidApiKey,
            "invalid_credentials" => Self::InvalidCredentials,
            "unauthenticated" => Self::Unauthenticated,
            "forbidden" => Self::Forbidden,
            "malformed_json" => Self::MalformedJson,
            "invalid_body" => Self::InvalidBody,
            "validation_failed" => Self::ValidationFailed,
            "system_field" => Self::SystemField,
            "invalid_id" => Self::InvalidId,
            "invalid_collection_name" => Self::InvalidCollectionName,
            "reserved_name" => Self::ReservedName,
            "not_found" => Self::NotFound,
            "method_not_allowed" => Self::MethodNotAllowed,
            "email_taken" => Self::EmailTaken,
            "version_conflict" => Self::VersionConflict,
            "id_taken" => Self::IdTaken,
            "operation_disabled" => Self::OperationDisabled,
            "payload_too_large" => Self::PayloadTooLarge,
            "rate_limited" => Self::RateLimited,
            "request_timeout" => Self::RequestTimeout,
            "cancelled" => Self::Cancelled,
            "script_error" => Self::ScriptError,
            "unknown_action" => Self::UnknownAction,
            "invalid_query" => Self::InvalidQuery,
            "invalid_filename" => Self::InvalidFilename,
            "file_exists" => Self::FileExists,
            "range_not_satisfiable" => Self::RangeNotSatisfiable,
            "internal" => Self::Internal,
            "unavailable" => Self::Unavailable,
            "storage_full" => Self::StorageFull,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The HTTP status the server answers with for this code.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidApiKey | Self::InvalidCredentials | Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::MalformedJson
            | Self::InvalidBody
            | Self::ValidationFailed
            | Self::SystemField
            | Self::InvalidId
            | Self::InvalidCollectionName
            | Self::ReservedName
            | Self::UnknownAction
            | Self::InvalidQuery
            | Self::InvalidFilename => 400,
            Self::NotFound => 404,
            Self::MethodNotAllowed | Self::OperationDisabled => 405,
            Self::EmailTaken | Self::VersionConflict | Self::FileExists | Self::IdTaken => 409,
            Self::PayloadTooLarge => 413,
            Self::RateLimited => 429,
            Self::RequestTimeout => 408,
            Self::Cancelled => 400,
            Self::ScriptError => 500,
            Self::RangeNotSatisfiable => 416,
            Self::Internal | Self::Other(_) => 500,
            Self::Unavailable => 503,
            Self::StorageFull => 507,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// The JSON body of every error answer: `{code, message, errors?}`.
///
/// `message` is for people (and is what Backpack clients read); `code` is for
/// programs; `errors` maps field names to what is wrong with each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    /// The stable error code.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
    /// Per-field problems, for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Map<String, Value>>,
}

impl ErrorBody {
    /// An error body without per-field errors.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            errors: None,
        }
    }

    /// The error body a JSON value holds: a string `code` and `message`, and
    /// optionally an `errors` object (read by hand rather than by serde, so
    /// the browser build carries no typed decoding).
    pub fn from_json(v: &Value) -> Option<Self> {
        Self::from_view(&v)
    }

    /// [`ErrorBody::from_json`], however the value was parsed; the per-field
    /// `errors` are kept where the parser is serde_json's ([`JsonView::owned_at`]).
    pub fn from_view<J: JsonView>(v: &J) -> Option<Self> {
        let (code, message) = error_parts(v)?;
        let errors = match v.owned_at("errors") {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        };
        Some(Self {
            code,
            message,
            errors,
        })
    }

    /// Adds one per-field error.
    #[must_use]
    pub fn with_field(mut self, field: &str, problem: impl Into<String>) -> Self {
        self.errors
            .get_or_insert_with(Map::new)
            .insert(field.to_owned(), Value::String(problem.into()));
        self
    }
}

/// Everything that can go wrong in a client call.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error body.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The stable error code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
        /// Per-field problems, if any.
        errors: Option<Box<Map<String, Value>>>,
    },
    /// The arguments were rejected before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The request could not be carried to the server or the answer not read.
    #[error("transport error: {0}")]
    Transport(String),
    /// The server's answer could not be understood.
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl Error {
    /// The stable error code, for errors the server sent.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, for errors the server sent.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The client error for an error body, with the status its code stands for.
    pub fn from_body(b: ErrorBody) -> Self {
        Self::Api {
            status: b.code.status(),
            code: b.code,
            message: b.message,
            errors: b.errors.map(Box::new),
        }
    }

    /// Builds the client error for a non-2xx answer. Bodies that are not our error
    /// shape (a proxy's HTML page, say) still give a usable error.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        let json = serde_json::from_slice::<Value>(body).ok();
        let mut e = Self::from_answer(
            status,
            json.as_ref().as_ref(),
            &String::from_utf8_lossy(body),
        );
        if let (Self::Api { errors, .. }, Some(b)) =
            (&mut e, json.as_ref().and_then(ErrorBody::from_json))
        {
            *errors = b.errors.map(Box::new);
        }
        e
    }

    /// [`Error::from_response`] for a body already parsed (`json`, when it is
    /// JSON) and its text, whoever parsed it; per-field `errors` are left to
    /// the caller, who has them in its own JSON values.
    pub fn from_answer<J: JsonView>(status: u16, json: Option<&J>, text: &str) -> Self {
        if let Some((code, message)) = json.and_then(error_parts) {
            return Self::Api {
                status,
                code,
                message,
                errors: None,
            };
        }
        let message = json
            .and_then(|v| v.str_at("message"))
            .unwrap_or_else(|| text.chars().take(200).collect());
        let code = match status {
            401 => ErrorCode::Unauthenticated,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            413 => ErrorCode::PayloadTooLarge,
            503 => ErrorCode::Unavailable,
            507 => ErrorCode::StorageFull,
            _ => ErrorCode::Other(["http_", &crate::json::uint_text(status.into())].concat()),
        };
        Self::Api {
            status,
            code,
            message,
            errors: None,
        }
    }
}

/// The `code` and `message` of an error body (`{code, message, errors?}`,
/// with `errors` an object or absent), however it was parsed.
pub fn error_parts<J: JsonView>(v: &J) -> Option<(ErrorCode, String)> {
    let code = ErrorCode::parse(&v.str_at("code")?);
    let message = v.str_at("message")?;
    match v.get("errors") {
        Some(e) if !e.is_null() && !e.is_object() => None,
        _ => Some((code, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_wire_names() {
        let all = [
            ErrorCode::InvalidApiKey,
            ErrorCode::InvalidCredentials,
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::MalformedJson,
            ErrorCode::InvalidBody,
            ErrorCode::ValidationFailed,
            ErrorCode::SystemField,
            ErrorCode::InvalidId,
            ErrorCode::InvalidCollectionName,
            ErrorCode::ReservedName,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::EmailTaken,
            ErrorCode::VersionConflict,
            ErrorCode::IdTaken,
            ErrorCode::OperationDisabled,
            ErrorCode::PayloadTooLarge,
            ErrorCode::RateLimited,
            ErrorCode::RequestTimeout,
            ErrorCode::Cancelled,
            ErrorCode::ScriptError,
            ErrorCode::UnknownAction,
            ErrorCode::InvalidQuery,
            ErrorCode::InvalidFilename,
            ErrorCode::FileExists,
            ErrorCode::RangeNotSatisfiable,
            ErrorCode::Internal,
            ErrorCode::Unavailable,
            ErrorCode::StorageFull,
        ];
        for code in all {
            assert_eq!(ErrorCode::parse(code.as_str()), code);
            assert!((400..600).contains(&code.status()));
        }
        assert_eq!(
            ErrorCode::parse("brand_new"),
            ErrorCode::Other("brand_new".into())
        );
    }

    #[test]
    fn error_body_becomes_typed_client_error() {
        let body = br#"{"code":"email_taken","message":"that email is registered"}"#;
        let err = Error::from_response(409, body);
        assert_eq!(err.code(), Some(&ErrorCode::EmailTaken));
        assert_eq!(err.status(), Some(409));
    }

    #[test]
    fn foreign_error_bodies_still_give_a_code_and_message() {
        let err = Error::from_response(401, br#"{"message":"Check your auth tokens"}"#);
        assert_eq!(err.code(), Some(&ErrorCode::Unauthenticated));
        assert!(err.to_string().contains("Check your auth tokens"));
        let err = Error::from_response(502, b"<html>bad gateway</html>");
        assert_eq!(err.code(), Some(&ErrorCode::Other("http_502".into())));
    }
}
