//! One WebSocket connection: greeting, actions, fan-out of events, heartbeats,
//! resume. Its write subscriptions are in [`super::writes`].

use super::Socket;
use super::deliver::{Missed, take_event};
use super::writes::{matched_since, own_write, subscribe_writes};
use crate::app::App;
use crate::error::ApiError;
use crate::service::records::{self, Outcome, QueryInput};
use crate::service::{Caller, Ctx, Origin};
use futures_util::{SinkExt, StreamExt};
use sdk_core::subscribe::{MAX_WRITE_SUBSCRIPTIONS, WriteFilters};
use sdk_core::ws::{
    ClientMessage, PONG_FRAME, WriteAction, WriteSubscription, connection_frame, error_frame,
    notifications_frame, read_frame, subscribed_frame, subscription_error_frame,
    unsubscribed_frame,
};
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How long one frame may take to reach a client before it counts as too slow.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a resuming connection's events wait for its `resume` message.
const RESUME_WAIT: Duration = Duration::from_secs(10);
/// Most events taken from the bus in one wake-up and sent in one write.
const BURST: usize = 64;

/// Who opened a connection: the credentials it stays open on.
#[derive(Debug, Clone, Default)]
pub struct Who {
    /// The signed-in user, from the session at connect.
    pub user: Option<String>,
    /// The hash of the session's token.
    pub session: Option<String>,
    /// The hash of the API key it came with, when that is a key made with
    /// `keys create` (which can be revoked).
    pub key: Option<String>,
    /// Whether it came with the admin key.
    pub admin: bool,
}

/// What the server knows about one connection.
pub struct Conn {
    /// Unique within this process.
    pub id: u64,
    /// The signed-in user, from the session at connect.
    pub user: Option<String>,
    /// The user as scripts see it (`me`), read at connect when signed in.
    pub me: Arc<std::sync::OnceLock<Map<String, Value>>>,
    /// The hash of the session's token, when signed in.
    pub session: Option<String>,
    /// The hash of a revocable API key it came with.
    pub key: Option<String>,
    /// Why the connection must end now (its credentials stopped being good).
    pub ended: Option<String>,
    /// Whether the connection came with the admin key.
    pub admin: bool,
    /// Keys of the channels it is subscribed to.
    pub channels: HashSet<String>,
    /// SmartNgRX mode: `Some(None)` for every collection, `Some(Some(set))` for those.
    pub notify: Option<Option<HashSet<String>>>,
    /// Write subscriptions (`subscribeWrites`): write frames carry the ids of
    /// those they concern.
    pub writes: WriteFilters,
    /// Whether frames carry `seq` (the client asked for a resumable stream).
    pub numbered: bool,
    /// The last event number handled, so a replay and live events never overlap.
    pub last_seq: u64,
    /// The number after which events were sent to this connection (the
    /// greeting's, or a resume's `since`): nothing before it was.
    pub first_seq: u64,
}

impl Conn {
    /// The context actions run in, as an HTTP request of the same user would.
    pub fn ctx(&self, app: &Arc<App>, origin: Origin) -> Ctx {
        Ctx {
            app: app.clone(),
            caller: self.user.as_ref().map(|u| Caller {
                user_id: u.clone(),
                token_hash: String::new(),
            }),
            admin: self.admin,
            origin,
            emitted: Default::default(),
            me: self.me.clone(),
            depth: 0,
        }
    }

    /// The user, or the error for an action that needs one.
    pub fn require_user(&self) -> Result<&str, ErrorBody> {
        self.user.as_deref().ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::Unauthenticated,
                "sign in first: channels belong to signed-in users",
            )
        })
    }
}

/// Serves one upgraded connection until either side closes it, it falls too far
/// behind, it stops answering heartbeats, or the server stops.
pub async fn serve(socket: Socket, app: Arc<App>, who: Who, numbered: bool, resuming: bool) {
    let (mut tx, mut rx) = socket.split();
    let (mut events, latest) = app.bus.subscribe();
    let mut shutdown = app.shutdown.clone();
    let mut conn = Conn {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        user: who.user,
        me: Arc::default(),
        session: who.session,
        key: who.key,
        ended: None,
        admin: who.admin,
        channels: HashSet::new(),
        notify: None,
        writes: WriteFilters::new(),
        numbered,
        last_seq: latest,
        first_seq: latest,
    };
    tracing::debug!(user = ?conn.user, id = conn.id, "websocket connected");
    // Scripts run for this user on every broadcast it gets: `me` is read once.
    if let Err(e) = conn.ctx(&app, Origin::Quiet).load_me().await {
        tracing::warn!(e = %e.0.message, "could not read the user of a websocket");
    }
    let greeting = connection_frame(numbered.then(|| (app.bus.stream(), latest)));
    if tx.send(Message::text(greeting)).await.is_err() {
        return;
    }
    let beat = Duration::from_secs(app.config.ws_heartbeat.max(1));
    let mut heartbeat = tokio::time::interval_at(Instant::now() + beat, beat);
    let mut heard = Instant::now();
    let mut out = Out::default();
    let mut rate = Rate::new(app.config.ws_rate);
    // A client that is resuming sends `resume` first; events wait until it has
    // rejoined its channels and been replayed what it missed (or for RESUME_WAIT).
    let mut waiting = resuming;
    let resume_deadline = tokio::time::sleep(RESUME_WAIT);
    tokio::pin!(resume_deadline);
    let close: Option<(u16, String)> = loop {
        // Biased, events first: a wake-up for an event polls only the event
        // queue, which keeps fan-out to many idle connections cheap; the other
        // branches are polled whenever no event is waiting.
        tokio::select! {
            biased;
            ev = events.recv(), if !waiting => {
                // The events already queued behind this one go out in the same
                // write: one flush per burst rather than one per frame.
                let mut next = Some(ev.map_err(Missed::from));
                let mut taken = 0;
                let mut cut = None;
                while let Some(ev) = next.take() {
                    cut = take_event(&app, &mut conn, ev, &mut out);
                    taken += 1;
                    if cut.is_some() || taken == BURST {
                        break;
                    }
                    next = match events.try_recv() {
                        Ok(ev) => Some(Ok(ev)),
                        Err(TryRecvError::Empty) => None,
                        Err(TryRecvError::Lagged(n)) => Some(Err(Missed::Lagged(n))),
                        Err(TryRecvError::Closed) => Some(Err(Missed::Closed)),
                    };
                }
                if cut.is_some() {
                    break cut;
                }
            }
            incoming = rx.next() => match incoming {
                None | Some(Err(_)) => break None,
                Some(Ok(m)) if m.is_close() => break None,
                Some(Ok(m)) => {
                    heard = Instant::now();
                    if m.is_ping() || m.is_pong() {
                        continue;
                    }
                    if rate.admit() {
                        // Boxed: an action's state is large, an idle connection's stays small.
                        Box::pin(answer(&app, &mut conn, m, &mut out)).await;
                    } else {
                        out.push(error_frame(
                            &ErrorBody::new(
                                ErrorCode::RateLimited,
                                format!(
                                    "over {} messages a second; this one was dropped",
                                    app.config.ws_rate
                                ),
                            ),
                            None,
                        ));
                    }
                    waiting = false;
                }
            },
            () = &mut resume_deadline, if waiting => waiting = false,
            _ = heartbeat.tick() => {
                if heard.elapsed() > beat * 3 {
                    break Some((1001, "no heartbeat; reconnect".into()));
                }
                // Credentials can also end where no event tells this process (a
                // key revoked from the command line, a session that expired).
                if let Some(reason) = credentials_ended(&app, &conn).await {
                    break Some((1008, reason));
                }
                out.0.push(Message::Ping(Default::default()));
            },
            _ = shutdown.changed() => break Some((1001, "server shutting down".into())),
        };
        if let Some(reason) = conn.ended.take() {
            break Some((1008, reason));
        }
        if !flush(&mut tx, &mut out).await {
            break None;
        }
    };
    if let Some((code, reason)) = close {
        tracing::debug!(id = conn.id, reason, "websocket closed by the server");
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::Close(Some(frame)))).await;
    } else {
        // The client closed, or the connection broke: complete the closing
        // handshake (the reply to a client's close frame is sent here), so the
        // client sees a clean close rather than 1006.
        let _ = tokio::time::timeout(SEND_TIMEOUT, tx.close()).await;
    }
    tracing::debug!(user = ?conn.user, id = conn.id, "websocket closed");
}

/// Messages a connection may send: `per_second` in each second.
struct Rate {
    per_second: u32,
    window: Instant,
    used: u32,
}

impl Rate {
    fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window: Instant::now(),
            used: 0,
        }
    }

    /// Counts one message; `false` when it is over the rate.
    fn admit(&mut self) -> bool {
        if self.window.elapsed() >= Duration::from_secs(1) {
            self.window = Instant::now();
            self.used = 0;
        }
        self.used += 1;
        self.per_second == 0 || self.used <= self.per_second
    }
}

/// Why the connection's session or key is no longer good, if it is not. A
/// storage hiccup keeps the connection (the next heartbeat checks again).
async fn credentials_ended(app: &App, conn: &Conn) -> Option<String> {
    if let Some(s) = &conn.session
        && let Ok(None) = app.store.session_user(s, crate::clock::unix_now()).await
    {
        return Some(SESSION_ENDED.into());
    }
    if let Some(k) = &conn.key
        && let Ok(false) = app.store.key_live(k).await
    {
        return Some(KEY_REVOKED.into());
    }
    None
}

pub(super) const SESSION_ENDED: &str = "the session has ended; sign in again";
pub(super) const KEY_REVOKED: &str = "the API key was revoked";

/// Frames waiting to be sent to one connection.
#[derive(Default)]
pub struct Out(pub Vec<Message>);

impl Out {
    /// Queues a text frame.
    pub fn push(&mut self, text: impl Into<Utf8Bytes>) {
        self.0.push(Message::Text(text.into()));
    }

    /// How many frames wait.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Sends what is waiting in one write (the socket's buffer takes up to
/// [`super::WRITE_BUFFER`] before it writes); `false` when the connection is gone
/// or too slow to take it.
async fn flush(tx: &mut futures_util::stream::SplitSink<Socket, Message>, out: &mut Out) -> bool {
    if out.0.is_empty() {
        return true;
    }
    let send = async {
        for m in out.0.drain(..) {
            tx.feed(m).await?;
        }
        tx.flush().await
    };
    matches!(tokio::time::timeout(SEND_TIMEOUT, send).await, Ok(Ok(())))
}

/// Handles one frame from the client; answers go to `out`. Errors are answered
/// as `{action: "error", code, message, request}` and the connection stays up.
async fn answer(app: &Arc<App>, conn: &mut Conn, m: Message, out: &mut Out) {
    let Message::Text(text) = m else {
        out.push(error_frame(
            &ErrorBody::new(ErrorCode::InvalidBody, "messages must be JSON text frames"),
            None,
        ));
        return;
    };
    let msg = match ClientMessage::parse(text.as_str()) {
        Ok(msg) => msg,
        Err(e) => {
            out.push(error_frame(&e, None));
            return;
        }
    };
    let action = msg.action().to_owned();
    if let Err(e) = act(app, conn, msg, out).await {
        out.push(error_frame(&e, Some(&action)));
    }
}

fn body(outcome: Outcome) -> Result<String, ErrorBody> {
    outcome.map(|a| a.into_text()).map_err(|ApiError(e, _)| e)
}

/// Runs one action.
async fn act(
    app: &Arc<App>,
    conn: &mut Conn,
    msg: ClientMessage,
    out: &mut Out,
) -> Result<(), ErrorBody> {
    let write = match &msg {
        ClientMessage::Patch { .. } => WriteAction::Patch,
        _ => WriteAction::Update,
    };
    let c = conn.ctx(app, Origin::Socket(conn.id));
    let ctx = || Ok(c.clone());
    match msg {
        ClientMessage::Find { collection, query } => {
            let query = match query {
                Value::Null => QueryInput::Mongo(Value::Object(Map::new())),
                Value::Object(_) => QueryInput::Mongo(query),
                _ => {
                    return Err(ErrorBody::new(
                        ErrorCode::InvalidQuery,
                        "find takes a query object",
                    ));
                }
            };
            let text = body(records::list(collection.clone(), ctx(), query).await)?;
            out.push(read_frame("find", &collection, &text));
        }
        ClientMessage::GetAll { collection } => {
            let text = body(
                records::list(collection.clone(), ctx(), QueryInput::Pairs(String::new())).await,
            )?;
            out.push(read_frame("getAll", &collection, &text));
        }
        ClientMessage::GetOne { collection, id } => {
            let text = body(records::get(collection.clone(), id, ctx()).await)?;
            out.push(read_frame("getOne", &collection, &text));
        }
        ClientMessage::Create { collection, data } => {
            let text = body(records::create(collection.clone(), ctx(), Ok(data)).await)?;
            out.push(own_write(conn, WriteAction::Create, &collection, &text));
        }
        ClientMessage::Update {
            collection,
            id,
            data,
        }
        | ClientMessage::Patch {
            collection,
            id,
            data,
        } => {
            let outcome = records::write(collection.clone(), id, ctx(), None, Ok(data), write);
            let text = body(outcome.await)?;
            out.push(own_write(conn, write, &collection, &text));
        }
        ClientMessage::Delete { collection, id } => {
            let text = body(records::delete(collection.clone(), id, ctx(), None).await)?;
            out.push(own_write(conn, WriteAction::Delete, &collection, &text));
        }
        ClientMessage::Open(m) => broadcast_with_user(app, conn, "open", m, None)?,
        ClientMessage::Close(m) => broadcast_with_user(app, conn, "close", m, None)?,
        ClientMessage::Message(m) => {
            let channel = sdk_core::ws::Channel::of(&Value::Object(m.clone())).map(|c| c.key());
            if let Some(c) = &channel
                && !conn.channels.contains(c)
            {
                return Err(ErrorBody::new(
                    ErrorCode::Forbidden,
                    "join the channel before sending messages to it",
                ));
            }
            let action = m
                .get("action")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            broadcast_with_user(app, conn, &action, m, channel)?;
        }
        ClientMessage::SubscribeNotifications { collections } => {
            conn.notify = Some(collections.clone().map(|c| c.into_iter().collect()));
            out.push(notifications_frame(collections.as_deref()));
        }
        ClientMessage::SubscribeWrites {
            id,
            collection,
            query,
            since,
        } => {
            // The same id again is the client restoring it (resume has it in
            // place already): nothing it received is looked at twice.
            let again = conn.writes.contains(id);
            let sub = WriteSubscription {
                id,
                collection: collection.clone(),
                query,
            };
            match subscribe_writes(app, conn, sub) {
                Ok(()) => {
                    let matched = match since {
                        Some(since) if conn.numbered && !again => {
                            matched_since(app, conn, id, since).await
                        }
                        _ => Vec::new(),
                    };
                    out.push(subscribed_frame(id, &collection, &matched));
                }
                // The error names the subscription, so the client can tell which failed.
                Err(e) => out.push(subscription_error_frame(&e, id)),
            }
        }
        ClientMessage::UnsubscribeWrites { id } => {
            conn.writes.remove(id);
            out.push(unsubscribed_frame(id));
        }
        ClientMessage::Ping => out.push(PONG_FRAME.to_owned()),
        ClientMessage::Resume {
            stream,
            since,
            channels,
            notifications,
            notify,
            writes,
        } => {
            if notify {
                conn.notify = Some(notifications.map(|c| c.into_iter().collect()));
            }
            conn.first_seq = conn.first_seq.min(since);
            // In place before the replay, so replayed writes are tagged as live
            // ones are. Each is answered, as when it was first asked for: one
            // whose answer the drop lost is settled, one refused now (the rules
            // changed) is dropped by the client.
            for sub in writes.into_iter().take(MAX_WRITE_SUBSCRIPTIONS) {
                let (id, collection) = (sub.id, sub.collection.clone());
                out.push(match subscribe_writes(app, conn, sub) {
                    Ok(()) => subscribed_frame(id, &collection, &[]),
                    Err(e) => subscription_error_frame(&e, id),
                });
            }
            super::channels::resume(app, conn, &stream, since, channels, out).await;
        }
        other => super::channels::act(app, conn, other, out).await?,
    }
    Ok(())
}

/// Sends an application message, `open` or `close` with the sender's `userId`
/// (the session's, never the message's) to a channel or to everyone.
fn broadcast_with_user(
    app: &App,
    conn: &Conn,
    action: &str,
    mut m: Map<String, Value>,
    channel: Option<String>,
) -> Result<(), ErrorBody> {
    // The server's own fields of a frame: a message carrying them could pass
    // for another event's number or another client's subscription.
    if let Some(k) = ["seq", "subs"].into_iter().find(|k| m.contains_key(*k)) {
        return Err(ErrorBody::new(
            ErrorCode::InvalidBody,
            format!("'{k}' is a field the server puts in frames; name the message's own otherwise"),
        ));
    }
    m.insert("action".into(), json!(action));
    match &conn.user {
        Some(u) => {
            m.insert("userId".into(), json!(u));
        }
        None => {
            m.shift_remove("userId");
        }
    }
    crate::realtime::publish_message(app, channel, Value::Object(m).to_string(), None, None);
    Ok(())
}
