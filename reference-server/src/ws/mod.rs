//! Realtime: the fan-out bus, its numbered history, and the WebSocket endpoint.

pub mod channels;
pub mod conn;

use sdk_core::ws::{Channel, WriteAction, broadcast_allowed, write_frame};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// One message for the connected clients. The bus numbers events: an event
/// holding `n` frames takes the numbers `seq .. seq + n`.
#[derive(Debug)]
pub struct Event {
    /// The first sequence number, set by the bus.
    pub seq: u64,
    /// The connection that caused it, which does not receive it (it got its answer).
    pub except: Option<u64>,
    /// What happened.
    pub kind: EventKind,
}

/// What an event carries.
#[derive(Debug)]
pub enum EventKind {
    /// Records written by one request. Each reaches a connection only if the
    /// collection's read rule lets its user read it (as the On GET script shows
    /// it to them), and a record naming a channel only reaches that channel.
    Write {
        /// What happened.
        action: WriteAction,
        /// The collection.
        collection: String,
        /// Its configuration when written (read rule, On GET script, parent).
        config: Arc<crate::app::Collection>,
        /// The records, each with its channel and its Backpack message.
        items: Vec<WriteItem>,
    },
    /// A message (application, `open`/`close`, a channel announcement), to a
    /// channel's subscribers or to everyone; when `visible` names a record, only
    /// to users who may read it.
    Message {
        /// The channel key, if scoped to one.
        channel: Option<String>,
        /// The frame, shared by every connection that receives it.
        text: Utf8Bytes,
        /// A record the receiver must be able to read: (collection, record).
        visible: Option<(String, Value)>,
    },
    /// Credentials stopped being good: the connections signed in with them end.
    /// Not kept in the history (a resuming connection has live credentials).
    Revoked(Revoked),
    /// A channel was deleted: each subscribed connection gets its user's updated
    /// information record and leaves the channel.
    ChannelDeleted {
        /// The channel.
        channel: Channel,
        /// Who deleted it.
        by: Option<String>,
        /// The users' updated information records, by user id.
        records: HashMap<String, Value>,
    },
}

/// Credentials that stopped being good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// A session ended (logout): the hash of its token.
    Session(String),
    /// Every session of a user ended but `except` (a password change; a deleted account).
    User {
        /// The user.
        user: String,
        /// The hash of the session that stays, if any.
        except: Option<String>,
    },
    /// An API key was revoked: its hash.
    Key(String),
}

impl Revoked {
    /// Why a connection signed in with these credentials ends, if it does.
    pub fn ends(&self, user: Option<&str>, session: Option<&str>, key: Option<&str>) -> bool {
        match self {
            Self::Session(s) => session == Some(s.as_str()),
            Self::User { user: u, except } => {
                user == Some(u.as_str()) && (except.is_none() || session != except.as_deref())
            }
            Self::Key(k) => key == Some(k.as_str()),
        }
    }
}

/// Ends every connection signed in with credentials that stopped being good.
pub fn publish_revoked(app: &crate::app::App, what: Revoked) {
    app.bus.publish(Event {
        seq: 0,
        except: None,
        kind: EventKind::Revoked(what),
    });
}

/// One record of a write event.
#[derive(Debug)]
pub struct WriteItem {
    /// The record as written (for a delete: as it was).
    pub record: Value,
    /// Its channel key, when it names a channel.
    pub channel: Option<String>,
    /// The Backpack message for it, shared by every connection that receives it.
    pub frame: Utf8Bytes,
}

impl Event {
    /// How many sequence numbers the event takes.
    pub fn width(&self) -> u64 {
        match &self.kind {
            EventKind::Write { items, .. } => items.len().max(1) as u64,
            _ => 1,
        }
    }

    /// The last sequence number the event holds.
    pub fn last_seq(&self) -> u64 {
        self.seq + self.width() - 1
    }

    /// About how much memory the event holds: its frames, and its records
    /// (counted at their frame's size again).
    pub fn bytes(&self) -> usize {
        let records = match &self.kind {
            EventKind::Write { items, .. } => items.iter().map(|i| 2 * i.frame.len()).sum(),
            EventKind::Message { text, visible, .. } => {
                text.len() + visible.as_ref().map_or(0, |(_, v)| json_size(v))
            }
            EventKind::ChannelDeleted { records, .. } => records.values().map(json_size).sum(),
            EventKind::Revoked(_) => 0,
        };
        std::mem::size_of::<Self>() + records
    }
}

fn json_size(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(0, |b| b.len())
}

/// Fans events out to every connection of every server process that shares the
/// database, numbering them and keeping a bounded history for clients that
/// reconnect. In-process now; Redis or NATS when several processes share one database.
pub trait Bus: Send + Sync + 'static {
    /// Numbers an event and sends it to all subscribers.
    fn publish(&self, event: Event);
    /// A new subscription and the last number published before it, taken together
    /// so that every event it receives is numbered after that.
    /// An event that is gone when received (`Weak::upgrade` fails) was dropped
    /// before this subscriber read it: the subscriber fell too far behind.
    fn subscribe(&self) -> (broadcast::Receiver<Weak<Event>>, u64);
    /// This stream's id: numbers are only comparable within one stream.
    fn stream(&self) -> &str;
    /// The events after `since`, or `None` when the history no longer reaches back that far.
    fn since(&self, since: u64) -> Option<Vec<Arc<Event>>>;
}

/// The in-process bus. Events reach subscribers through a ring of `capacity`
/// weak references; the events themselves live only in the bus's own bounded
/// store (by count and by bytes), so the memory events hold is bounded however
/// large they are. A subscriber that falls more than `capacity` events behind, or
/// behind the bytes the store keeps, is disconnected (it can resume).
pub struct LocalBus {
    tx: broadcast::Sender<Weak<Event>>,
    stream: String,
    history: Mutex<History>,
}

struct History {
    next: u64,
    /// The last number of the newest event evicted from the store.
    evicted: u64,
    /// The events kept, each with its size: the newest `keep` at most.
    events: VecDeque<(Arc<Event>, usize)>,
    /// How many of the newest events a resuming client is replayed from.
    cap: usize,
    /// How many events are kept: enough for the resume history and for every
    /// subscriber within `capacity` of the newest.
    keep: usize,
    /// The size of the events kept, and the most it may be (the newest event is
    /// kept whatever its size, until the next).
    bytes: usize,
    max_bytes: usize,
}

impl LocalBus {
    /// A bus that buffers up to `capacity` events per slow subscriber and keeps
    /// the last `history` events, at most `history_bytes` of them, for clients
    /// that reconnect.
    pub fn new(capacity: usize, history: usize, history_bytes: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity.max(1)).0,
            stream: crate::clock::new_id(),
            history: Mutex::new(History {
                next: 1,
                evicted: 0,
                events: VecDeque::with_capacity(history.max(capacity).min(65_536)),
                cap: history,
                keep: history.max(capacity).max(1),
                bytes: 0,
                max_bytes: history_bytes,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        match self.history.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Bus for LocalBus {
    fn publish(&self, mut event: Event) {
        let mut h = self.lock();
        event.seq = h.next;
        h.next += event.width();
        let event = Arc::new(event);
        let size = event.bytes();
        let weak = Arc::downgrade(&event);
        h.events.push_back((event, size));
        h.bytes += size;
        while h.events.len() > 1 && (h.events.len() > h.keep || h.bytes > h.max_bytes) {
            let Some((old, n)) = h.events.pop_front() else {
                break;
            };
            h.bytes -= n;
            h.evicted = old.last_seq();
        }
        // Sent under the lock, so subscribers see events in number order.
        // No subscribers is not an error.
        let _ = self.tx.send(weak);
    }

    fn subscribe(&self) -> (broadcast::Receiver<Weak<Event>>, u64) {
        let h = self.lock();
        (self.tx.subscribe(), h.next - 1)
    }

    fn stream(&self) -> &str {
        &self.stream
    }

    fn since(&self, since: u64) -> Option<Vec<Arc<Event>>> {
        let h = self.lock();
        // Replays come from the newest `cap` events the store holds.
        let start = h.events.len().saturating_sub(h.cap);
        let floor = match start {
            0 => h.evicted,
            s => h.events.get(s - 1).map_or(h.evicted, |(e, _)| e.last_seq()),
        };
        if since < floor || since >= h.next {
            return None;
        }
        Some(
            h.events
                .iter()
                .skip(start)
                // Ended credentials concern the connections open then only.
                .filter(|(e, _)| e.last_seq() > since && !matches!(e.kind, EventKind::Revoked(_)))
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }
}

/// Broadcasts the records one write touched, except those with `broadcast: false`;
/// a record naming a channel goes to that channel's subscribers only. `http` marks
/// writes made over HTTP; `except` is the connection that made it over the socket.
pub fn publish_write(
    app: &crate::app::App,
    action: WriteAction,
    collection: &str,
    records: Vec<Value>,
    http: bool,
    except: Option<u64>,
) {
    let items: Vec<WriteItem> = records
        .into_iter()
        .filter(broadcast_allowed)
        .map(|record| WriteItem {
            channel: Channel::of(&record).map(|c| c.key()),
            frame: write_frame(action, collection, http, &record).into(),
            record,
        })
        .collect();
    if items.is_empty() {
        return;
    }
    app.bus.publish(Event {
        seq: 0,
        except,
        kind: EventKind::Write {
            action,
            collection: collection.to_owned(),
            config: app.collection(collection),
            items,
        },
    });
}

/// Sends a message to a channel's subscribers, or to everyone.
pub fn publish_message(
    app: &crate::app::App,
    channel: Option<String>,
    text: String,
    visible: Option<(String, Value)>,
    except: Option<u64>,
) {
    app.bus.publish(Event {
        seq: 0,
        except,
        kind: EventKind::Message {
            channel,
            text: text.into(),
            visible,
        },
    });
}

/// Counts of open WebSockets, so one user, one address's anonymous clients, or
/// everyone together cannot hold unbounded connections.
#[derive(Default)]
pub struct Sockets {
    inner: std::sync::Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_holder: std::collections::HashMap<Holder, usize>,
}

/// Whom a connection is counted against besides the total.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    /// A signed-in user.
    User(String),
    /// Anonymous connections from one client address.
    Address(std::net::IpAddr),
}

/// Which bound an upgrade hit.
#[derive(Debug)]
pub enum Full {
    /// The user's.
    User,
    /// The anonymous connections' of one address.
    Address,
    /// The server's.
    Server,
}

/// An open connection's place in the counts; dropping it frees the place.
pub struct Slot {
    sockets: Arc<crate::app::App>,
    holder: Option<Holder>,
}

impl Sockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// How many connections are open in all.
    pub fn open_count(&self) -> usize {
        self.lock().total
    }
}

/// Takes a place for a new connection of `user` (or, anonymous, from `ip`),
/// within the bounds.
fn open_slot(
    app: &Arc<crate::app::App>,
    user: Option<&str>,
    ip: Option<std::net::IpAddr>,
) -> Result<Slot, Full> {
    let config = &app.config;
    let (holder, most, full) = match (user, ip) {
        (Some(u), _) => (
            Some(Holder::User(u.to_owned())),
            config.max_ws_per_user,
            Full::User,
        ),
        (None, Some(ip)) => (
            Some(Holder::Address(ip)),
            config.max_ws_per_ip,
            Full::Address,
        ),
        (None, None) => (None, usize::MAX, Full::Server),
    };
    {
        let mut g = app.sockets.lock();
        if g.total >= config.max_ws {
            return Err(Full::Server);
        }
        if let Some(h) = &holder {
            let n = g.per_holder.entry(h.clone()).or_insert(0);
            if *n >= most {
                return Err(full);
            }
            *n += 1;
        }
        g.total += 1;
    }
    Ok(Slot {
        sockets: app.clone(),
        holder,
    })
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut g = self.sockets.sockets.lock();
        g.total = g.total.saturating_sub(1);
        if let Some(h) = &self.holder
            && let Some(n) = g.per_holder.get_mut(h)
        {
            *n -= 1;
            if *n == 0 {
                g.per_holder.remove(h);
            }
        }
    }
}

/// Largest accepted WebSocket message.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// A server-side WebSocket over hyper's upgraded connection.
pub type Socket =
    tokio_tungstenite::WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// Small buffers: an idle socket holds a 2 KiB read buffer and writes each frame
/// straight out, so thousands of idle connections cost little memory. Frames and
/// messages stay within [`MAX_MESSAGE`]; a client that does not read is cut off
/// at 1 MiB of unsent data.
fn socket_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(0)
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
        .or(warp::path!("ws"))
        .unify()
        // Before `warp::ws()`, which takes the upgrade out of the request; warp's
        // filter still checks the method and the upgrade headers.
        .and(warp::filters::ext::optional::<hyper::upgrade::OnUpgrade>())
        .and(warp::ws())
        .and(warp::header::<String>("sec-websocket-key"))
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .and(usable_cookie(app.config.cors_origins.clone()))
        .and(crate::http::auth::client_ip(app.clone()))
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
    use crate::http::{constant_time_eq, session_user};
    use sdk_core::ErrorCode;
    use warp::Reply;
    use warp::http::{HeaderValue, StatusCode, header};
    let user = match (query.get(sdk_core::WS_TOKEN_PARAM), cookie) {
        (Some(token), _) => Some(session_user(&app, token).await?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "the session has ended; sign in again",
            )
        })?),
        (None, Some(token)) => session_user(&app, &token).await?,
        (None, None) => None,
    };
    // A key, when sent, must be good (a revoked key is refused even with a
    // session). Without one, a live session will do: sessions only exist after a
    // request that carried a key, and Backpack apps connect with just their cookie.
    let key_ok = match query.get(sdk_core::WS_API_KEY_PARAM) {
        Some(k) => {
            constant_time_eq(k.as_bytes(), app.admin_key.as_bytes())
                || crate::http::key_accepted(&app, k).await?
        }
        None => user.is_some(),
    };
    if !key_ok {
        return Err(ApiError::new(ErrorCode::InvalidApiKey, "Check your auth tokens").into());
    }
    let admin = query
        .get(sdk_core::WS_API_KEY_PARAM)
        .is_some_and(|k| constant_time_eq(k.as_bytes(), app.admin_key.as_bytes()));
    let numbered = query.contains_key(sdk_core::realtime::WS_STREAM_PARAM);
    let resuming = query.contains_key(sdk_core::realtime::WS_RESUME_PARAM);
    // A key made with `keys create` can be revoked while the socket is open.
    let revocable_key = query
        .get(sdk_core::WS_API_KEY_PARAM)
        .filter(|k| !admin && !constant_time_eq(k.as_bytes(), app.api_key.as_bytes()))
        .map(|k| crate::auth::token_hash(k));
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
        Full::Server => ApiError::new(
            ErrorCode::Unavailable,
            "the server holds as many connections as it may; retry later",
        ),
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

    fn message(text: &str) -> Event {
        Event {
            seq: 0,
            except: None,
            kind: EventKind::Message {
                channel: None,
                text: text.to_owned().into(),
                visible: None,
            },
        }
    }

    #[test]
    fn events_live_only_in_the_bounded_store_so_large_ones_cannot_pile_up() {
        // A ring of 8 for subscribers, a resume history of 2, 10 kB in all.
        let bus = LocalBus::new(8, 2, 10_000);
        let (mut rx, latest) = bus.subscribe();
        assert_eq!(latest, 0);
        for _ in 0..3 {
            bus.publish(message("small"));
        }
        for _ in 0..3 {
            let ev = rx.try_recv().expect("an event").upgrade();
            assert!(ev.is_some(), "a subscriber within reach reads every event");
        }
        // Resuming replays from the last two only.
        assert!(bus.since(0).is_none(), "beyond the resume history");
        assert_eq!(bus.since(1).map(|v| v.len()), Some(2));
        // Five 4 kB events while the subscriber reads none: only the newest two
        // fit in 10 kB; the ones it has not read are gone when it gets to them.
        let big = "x".repeat(4_000);
        for _ in 0..5 {
            bus.publish(message(&big));
        }
        let held: usize = bus.lock().events.iter().map(|(_, n)| n).sum();
        assert!(held <= 10_000, "{held} bytes held");
        let first = rx.try_recv().expect("an event").upgrade();
        assert!(
            first.is_none(),
            "an evicted event is gone for a slow subscriber"
        );
        // An event larger than the bound still reaches those reading now.
        let (mut now, _) = bus.subscribe();
        bus.publish(message(&"y".repeat(50_000)));
        let ev = now.try_recv().expect("an event").upgrade();
        assert!(ev.is_some(), "the newest event is kept whatever its size");
    }
}
