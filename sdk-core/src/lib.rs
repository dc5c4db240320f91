//! The Rucksack protocol core.
//!
//! This crate holds everything the server and the two SDKs must agree on, and
//! nothing that moves bytes: it has no sockets, no runtime and no clock, so it
//! builds for `wasm32-unknown-unknown` and natively alike.
//!
//! * [`api`] — one definition of every request ([`api::Call`]): how it becomes an
//!   HTTP request ([`api::Client::prepare`]) and how an HTTP answer becomes a result
//!   or a typed [`Error`] ([`api::Client::complete`]).
//! * [`collection`] — per-collection configuration: schema, switches, ids, indexes.
//! * [`session`] — who is signed in and the token that proves it.
//! * [`record`] — the record type with its system fields.
//! * [`names`] — which collection names and ids are valid.
//! * [`ws`] — realtime messages.
//! * [`realtime`] — a realtime connection's life: resume, heartbeats, backoff.
//! * [`files`] — file names, buckets and file metadata records.
//! * [`query`] — the query language: one filter tree, three spellings, an evaluator.
//! * [`update`] — update specs (`$set`, `$inc`, ...) for writes to many records.
//! * [`json`] — JSON read through a view and written by hand, so the browser
//!   build uses the JavaScript engine's JSON.
//! * [`error`] — the wire error body, the stable error codes, the client error.
//!
//! The native SDK and the WASM SDK only carry [`api::HttpRequest`]s to the server
//! and hand the answers back, so both clients behave identically by construction.

pub mod api;
pub mod collection;
pub mod error;
pub mod files;
pub mod json;
pub mod names;
pub mod query;
pub mod realtime;
pub mod record;
pub mod routes;
pub mod session;
pub mod subscribe;
pub mod update;
pub mod ws;

pub use error::{Error, ErrorBody, ErrorCode};
pub use record::Record;

/// Header that carries the app's API key: `Authorization: key <API_KEY>` (or the
/// older `Authorization: API <API_KEY>`).
pub const AUTHORIZATION: &str = "authorization";
/// Alternative header for the API key, used when `Authorization` carries a bearer token.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Header that carries a signed-in user's session token.
pub const SESSION_HEADER: &str = "x-authorization";
/// Name of the httpOnly cookie that login sets and browsers send back.
pub const SESSION_COOKIE: &str = "rucksack_session";
/// Request header of a collection read (`GET /<collection>`) asking for the
/// next page's cursor: `X-Page-Cursor: 1`.
pub const PAGE_CURSOR_HEADER: &str = "x-page-cursor";
/// Response header that carries the `after` cursor of the page after this one,
/// when the read asked with [`PAGE_CURSOR_HEADER`] and a next page may exist.
pub const NEXT_AFTER_HEADER: &str = "x-next-after";
/// Query parameter that carries the API key on a WebSocket upgrade (browsers cannot set headers there).
pub const WS_API_KEY_PARAM: &str = "apiKey";
/// Query parameter that carries the session token on a WebSocket upgrade.
pub const WS_TOKEN_PARAM: &str = "token";
/// Query parameter of the WebSocket URL carrying a one-time admin ticket
/// (`POST /admin/tickets`), for a browser page that must not put the admin key
/// in a URL.
pub const WS_TICKET_PARAM: &str = "ticket";
