//! The WebSocket endpoint: the upgrade, its credentials and its bounds.

pub mod channels;
pub mod conn;
mod deliver;
mod writes;

use crate::realtime::{Full, open_slot};
use std::sync::Arc;

/// How long a ticket from `POST /admin/tickets` may wait to be used.
pub const TICKET_TTL: std::time::Duration = std::time::Duration::from_secs(30);
/// The most tickets waiting at once (more are refused until some are used or expire).
const MAX_TICKETS: usize = 1_000;

/// One-time tickets that open an admin WebSocket: a browser cannot send headers
/// on a WebSocket, and the admin key must not go into a URL. A ticket is 256
/// random bits, good once, for [`TICKET_TTL`].
#[derive(Default)]
pub struct Tickets(std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>);

impl Tickets {
    /// A new ticket, or `None` when [`MAX_TICKETS`] are waiting.
    pub fn issue(&self) -> Option<String> {
        self.issue_at(std::time::Instant::now())
    }

    fn issue_at(&self, now: std::time::Instant) -> Option<String> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|_, expires| *expires > now);
        if map.len() >= MAX_TICKETS {
            return None;
        }
        let ticket = crate::clock::hex(&crate::clock::random_bytes::<32>());
        map.insert(ticket.clone(), now + TICKET_TTL);
        Some(ticket)
    }

    /// Whether `ticket` was issued, unused and unexpired; it is used up either way.
    pub fn redeem(&self, ticket: &str) -> bool {
        self.redeem_at(ticket, std::time::Instant::now())
    }

    fn redeem_at(&self, ticket: &str, now: std::time::Instant) -> bool {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(ticket).is_some_and(|expires| expires > now)
    }
}

/// Largest accepted WebSocket message.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// A server-side WebSocket over hyper's upgraded connection.
pub type Socket =
    tokio_tungstenite::WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// Frames queued for one connection are written together up to this many bytes:
/// a burst of events costs one write, not one per frame.
pub const WRITE_BUFFER: usize = 8 * 1024;

/// Small buffers: an idle socket holds a 2 KiB read buffer and a write buffer
/// that grows only as far as a burst needs ([`WRITE_BUFFER`]), so thousands of
/// idle connections cost little memory. Frames and
/// messages stay within [`MAX_MESSAGE`]; a client that does not read is cut off
/// at 1 MiB of unsent data.
fn socket_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// The WebSocket endpoint: an upgrade on `/ws` or `/`. It is signed in with a
/// live session (`token` query parameter or the session cookie) and needs an API
/// key (`apiKey` query parameter) when it has no session; a key that is sent must
/// be good. The cookie counts only when the upgrade comes from the server's own
/// origin, a listed one (`--cors-origins`) or no browser page at all (no `Origin`).
pub fn routes(app: Arc<crate::app::App>) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    use warp::Filter;
    warp::path::end()
        .or(warp::path(sdk_core::routes::WS).and(warp::path::end()))
        .unify()
        // Before `warp::ws()`, which takes the upgrade out of the request; warp's
        // filter still checks the method and the upgrade headers.
        .and(warp::filters::ext::optional::<hyper::upgrade::OnUpgrade>())
        .and(warp::ws())
        .and(warp::header::<String>("sec-websocket-key"))
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .and(usable_cookie(app.config.cors_origins.clone()))
        .and(crate::net::client_ip(app.clone()))
        .and(warp::any().map(move || app.clone()))
        .and_then(upgrade)
        .boxed()
}

/// The session cookie, when the page opening the socket may use it. A browser
/// sends the cookie whichever page opens the socket; only pages of the server's
/// own origin or a listed one may use it (no `Origin`: not a browser page).
fn usable_cookie(
    allowed: Vec<String>,
) -> impl warp::Filter<Extract = (Option<String>,), Error = warp::Rejection> + Clone {
    use warp::Filter;
    warp::cookie::optional::<String>(sdk_core::SESSION_COOKIE)
        .and(warp::header::optional::<String>("origin"))
        .and(warp::header::optional::<String>("host"))
        .map(
            move |cookie: Option<String>, origin: Option<String>, host: Option<String>| {
                cookie.filter(|_| {
                    origin.as_deref().is_none_or(|o| {
                        same_origin(o, host.as_deref()) || allowed.iter().any(|a| a == o)
                    })
                })
            },
        )
}

/// Whether `origin` (`scheme://host[:port]`) names the host the request was sent to.
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    host.is_some_and(|h| !h.is_empty() && authority.eq_ignore_ascii_case(h.trim()))
}

async fn upgrade(
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    _ws: warp::ws::Ws,
    key: String,
    query: std::collections::HashMap<String, String>,
    cookie: Option<String>,
    ip: Option<std::net::IpAddr>,
    app: Arc<crate::app::App>,
) -> Result<warp::reply::Response, warp::Rejection> {
    use crate::error::ApiError;
    use crate::service::access::{Credentials, KeyRule, Principal, authenticate};
    use sdk_core::ErrorCode;
    use warp::Reply;
    use warp::http::{HeaderValue, StatusCode, header};
    let creds = Credentials {
        key: query.get(sdk_core::WS_API_KEY_PARAM).map(String::as_str),
        token: query.get(sdk_core::WS_TOKEN_PARAM).map(String::as_str),
        cookie: cookie.as_deref(),
    };
    let principal = match query.get(sdk_core::WS_TICKET_PARAM) {
        Some(ticket) if app.ws_tickets.redeem(ticket) => Principal {
            admin: true,
            ..Principal::default()
        },
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "the ticket is unknown, used or expired; ask for another",
            )
            .into());
        }
        None => authenticate(&app, creds, KeyRule::OrSession).await?,
    };
    let Principal {
        caller: user,
        admin,
        revocable_key,
    } = principal;
    let numbered = query.contains_key(sdk_core::realtime::WS_STREAM_PARAM);
    let resuming = query.contains_key(sdk_core::realtime::WS_RESUME_PARAM);
    let (user_id, session) = match user {
        Some(u) => (Some(u.user_id), Some(u.token_hash)),
        None => (None, None),
    };
    let Some(on_upgrade) = on_upgrade else {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "this connection cannot be upgraded to a WebSocket (HTTP/1.1 is needed)",
        )
        .into());
    };
    let slot = open_slot(&app, user_id.as_deref(), ip).map_err(|full| match full {
        Full::User => ApiError::new(
            ErrorCode::RateLimited,
            "too many open connections for this user; close one first",
        ),
        Full::Address => ApiError::new(
            ErrorCode::RateLimited,
            "too many anonymous connections from this address; sign in or close one first",
        ),
        Full::Server => {
            ApiError::retry_later("the server holds as many connections as it may; retry later")
        }
    })?;
    let accept =
        tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.trim().as_bytes());
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket = Socket::from_raw_socket(
                    hyper_util::rt::TokioIo::new(upgraded),
                    tokio_tungstenite::tungstenite::protocol::Role::Server,
                    Some(socket_config()),
                )
                .await;
                let who = conn::Who {
                    user: user_id,
                    session,
                    key: revocable_key,
                    admin,
                };
                conn::serve(socket, app, who, numbered, resuming).await;
            }
            Err(e) => tracing::debug!("websocket upgrade failed: {e}"),
        }
        drop(slot);
    });
    let mut res = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = res.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let accept = HeaderValue::from_str(&accept)
        .map_err(|_| ApiError::new(ErrorCode::InvalidBody, "Sec-WebSocket-Key is not valid"))?;
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_ticket_opens_one_socket_within_its_time() {
        let tickets = Tickets::default();
        let now = Instant::now();
        let t = tickets.issue_at(now).expect("a ticket");
        assert_eq!(t.len(), 64);
        assert!(tickets.redeem_at(&t, now));
        assert!(!tickets.redeem_at(&t, now), "used once");
        let late = tickets.issue_at(now).expect("a ticket");
        assert!(!tickets.redeem_at(&late, now + TICKET_TTL), "expired");
        assert!(!tickets.redeem_at("guess", now));
        for _ in 0..MAX_TICKETS {
            assert!(tickets.issue_at(now).is_some());
        }
        assert!(tickets.issue_at(now).is_none(), "bounded");
        assert!(
            tickets.issue_at(now + TICKET_TTL).is_some(),
            "expired ones make room"
        );
    }
}
