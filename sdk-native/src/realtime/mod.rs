//! The realtime connection over tokio-tungstenite, kept alive by a background
//! task that follows `sdk-core`'s [`Link`]: heartbeats, reconnects with backoff
//! and jitter, re-authentication with the current session, rejoining channels and
//! replaying missed events exactly once.

use futures_util::{SinkExt, StreamExt};
use sdk_core::Error;
use sdk_core::realtime::{Incoming, Link, Tick};
use sdk_core::subscribe::Subscriptions;
use sdk_core::ws::{ClientMessage, ServerMessage, WriteEvent};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

mod actions;

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Messages waiting for the app before the connection stops reading (and the
/// server, seeing a slow client, drops it; it is then resumed).
const EVENT_BUFFER: usize = 1024;

enum Command {
    Send(ClientMessage),
    Raw(String),
    Close,
}

/// A live realtime connection. [`Realtime::next`] yields each message the server
/// sends: the greeting, answers to this connection's actions, and the broadcasts
/// this client may see. The action methods send the Backpack actions; while the
/// connection is down they wait in a bounded queue and go out after the reconnect.
pub struct Realtime {
    events: mpsc::Receiver<Result<ServerMessage, Error>>,
    commands: mpsc::UnboundedSender<Command>,
    subs: Subs,
}

impl std::fmt::Debug for Realtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Realtime")
            .field("open", &!self.commands.is_closed())
            .finish_non_exhaustive()
    }
}

/// One subscription as the connection's task sees it: where its writes go, and
/// who waits for the server's answer to `subscribeWrites`.
struct Target {
    writes: mpsc::Sender<WriteEvent>,
    ready: Option<oneshot::Sender<Result<(), Error>>>,
}

/// The connection's subscriptions, shared with its background task.
type Subs = Arc<Mutex<Subscriptions<Target>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The writes to one collection whose record matches a query, from
/// [`Realtime::subscribe`]: each matching write, and the write after which a
/// record that matched no longer does (or is deleted). Dropping it ends the
/// subscription.
pub struct Subscription {
    id: u64,
    writes: mpsc::Receiver<WriteEvent>,
    subs: Subs,
    commands: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .finish()
    }
}

impl Subscription {
    /// The next write, or `None` once the connection has closed.
    pub async fn next(&mut self) -> Option<WriteEvent> {
        self.writes.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        lock(&self.subs).remove(self.id);
        let _ = self
            .commands
            .send(Command::Send(ClientMessage::UnsubscribeWrites {
                id: self.id,
            }));
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A number in `[0, 1)` for jitter, from the std hasher's random keys and the clock.
fn random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_ms());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

async fn open(url: &str) -> Result<Socket, Error> {
    let (socket, _) = connect_async(url).await.map_err(|e| match e {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            let body = resp.body().clone().unwrap_or_default();
            Error::from_response(resp.status().as_u16(), &body)
        }
        other => Error::Transport(other.to_string()),
    })?;
    Ok(socket)
}

fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

impl Realtime {
    /// Connects once (an error here is returned as is), then keeps the
    /// connection alive in the background. `url` gives the current URL (with the
    /// current session) for every reconnect.
    pub(crate) async fn connect(url: impl Fn() -> String + Send + 'static) -> Result<Self, Error> {
        let link = Link::new();
        let socket = open(&with_params(&url(), &link.url_params())).await?;
        let (events_tx, events) = mpsc::channel(EVENT_BUFFER);
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let subs = Subs::default();
        let feed = Feed {
            events: events_tx,
            subs: subs.clone(),
        };
        let ended = subs.clone();
        tokio::spawn(async move {
            run(link, socket, url, feed, commands_rx).await;
            // Whoever still waits for a subscription's answer hears the
            // connection is gone.
            for (_, t) in lock(&ended).iter_mut() {
                t.ready.take();
            }
        });
        Ok(Self {
            events,
            commands,
            subs,
        })
    }

    /// Subscribes to the writes to `collection` whose record matches `query`: a
    /// `where` string (`@me` is the signed-in user), a Mongo-style object, or
    /// `Value::Null` for every record. The server evaluates it, after the
    /// collection's read rule and On GET script, and tags the writes it
    /// concerns; this resolves once the server has it in place, or to its
    /// refusal (`invalid_query`, `forbidden`, ...). Every matching write from
    /// the call on is delivered, those that arrived meanwhile first.
    /// The same broadcasts still reach [`Realtime::next`]; while a subscription
    /// is open, those `next` has no room for (it holds 1,024 unread) are dropped
    /// for it rather than holding up the subscriptions.
    pub async fn subscribe(&self, collection: &str, query: &Value) -> Result<Subscription, Error> {
        let (tx, writes) = mpsc::channel(EVENT_BUFFER);
        let (ready, answer) = oneshot::channel();
        let id = lock(&self.subs).add(Target {
            writes: tx,
            ready: Some(ready),
        });
        let sub = Subscription {
            id,
            writes,
            subs: self.subs.clone(),
            commands: self.commands.clone(),
        };
        self.send(ClientMessage::SubscribeWrites {
            id,
            collection: collection.to_owned(),
            query: query.clone(),
            since: None,
        })?;
        match answer.await {
            Ok(Ok(())) => Ok(sub),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Transport("the realtime connection is closed".into())),
        }
    }

    /// The next message, or `None` once the connection has been closed (by
    /// [`Realtime::close`], or by the server refusing to let it back in).
    pub async fn next(&mut self) -> Option<Result<ServerMessage, Error>> {
        self.events.recv().await
    }

    /// Sends a message (delivered after a reconnect if the connection is down).
    pub fn send(&self, message: ClientMessage) -> Result<(), Error> {
        self.commands
            .send(Command::Send(message))
            .map_err(|_| Error::Transport("the realtime connection is closed".into()))
    }

    /// Sends a text frame exactly as given.
    pub fn send_text(&self, frame: impl Into<String>) -> Result<(), Error> {
        self.commands
            .send(Command::Raw(frame.into()))
            .map_err(|_| Error::Transport("the realtime connection is closed".into()))
    }

    /// Closes the connection; [`Realtime::next`] then yields what was already
    /// received and `None`.
    pub async fn close(self) -> Result<(), Error> {
        let _ = self.commands.send(Command::Close);
        let mut events = self.events;
        while events.recv().await.is_some() {}
        Ok(())
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("data".into(), other);
            m
        }
    }
}

/// Where received messages go: the app's [`Realtime::next`] and its subscriptions.
struct Feed {
    events: mpsc::Sender<Result<ServerMessage, Error>>,
    subs: Subs,
}

impl Feed {
    /// Settles the wait of `subscribe` for subscription `id`.
    fn answered(&self, id: u64, result: Result<(), Error>) {
        let mut subs = lock(&self.subs);
        if result.is_err() {
            // Refused: the subscription never existed.
            if let Some(mut t) = subs.remove(id)
                && let Some(r) = t.ready.take()
            {
                let _ = r.send(result);
            }
        } else if let Some(r) = subs.get_mut(id).and_then(|t| t.ready.take()) {
            let _ = r.send(result);
        }
    }

    /// Hands subscription `id` the writes it missed while being made.
    async fn caught_up(&self, id: u64, missed: &[String]) {
        let tx = lock(&self.subs).get(id).map(|t| t.writes.clone());
        let Some(tx) = tx else { return };
        for text in missed {
            if let Ok(ServerMessage::Write(ev)) = ServerMessage::parse(text) {
                let _ = tx.send(ev).await;
            }
        }
    }

    /// Hands a message on, to the subscriptions among `tagged` too; `false`
    /// once the app has stopped listening.
    async fn deliver(&self, msg: Result<ServerMessage, Error>, tagged: &[u64]) -> bool {
        let (targets, subscribed) = {
            let subs = lock(&self.subs);
            let targets: Vec<mpsc::Sender<WriteEvent>> = match &msg {
                Ok(ServerMessage::Write(_)) => {
                    subs.tagged(tagged).map(|(_, t)| t.writes.clone()).collect()
                }
                _ => Vec::new(),
            };
            (targets, !subs.is_empty())
        };
        if let Ok(ServerMessage::Write(ev)) = &msg {
            for tx in targets {
                // A subscription dropped meanwhile is no longer listening.
                let _ = tx.send(ev.clone()).await;
            }
        }
        if subscribed {
            return match self.events.try_send(msg) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            };
        }
        self.events.send(msg).await.is_ok()
    }
}

/// Why one socket's life ended.
enum End {
    /// The app closed the connection, or stopped listening.
    Closed,
    /// The socket dropped or went silent: reconnect.
    Lost,
}

async fn run(
    mut link: Link,
    first: Socket,
    url: impl Fn() -> String + Send + 'static,
    feed: Feed,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let events = &feed.events;
    let mut socket = Some(first);
    loop {
        let Some(s) = socket.take() else { break };
        if let End::Closed = serve(&mut link, s, &feed, &mut commands).await {
            return;
        }
        link.on_close();
        // Reconnect with backoff; messages sent meanwhile wait in the link.
        loop {
            let delay = Duration::from_millis(link.reconnect_delay_ms(random()));
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    () = &mut sleep => break,
                    cmd = commands.recv() => match cmd {
                        None | Some(Command::Close) => return,
                        Some(Command::Send(m)) => {
                            if let Err(e) = send_message(&mut link, &feed, &m) {
                                let _ = events.send(Err(Error::from_body(e))).await;
                            }
                        }
                        Some(Command::Raw(t)) => {
                            if let Err(e) = link.send_text(t, now_ms()) {
                                let _ = events.send(Err(Error::from_body(e))).await;
                            }
                        }
                    },
                }
            }
            match open(&with_params(&url(), &link.url_params())).await {
                Ok(s) => {
                    socket = Some(s);
                    break;
                }
                Err(
                    e @ Error::Api {
                        status: 401 | 403, ..
                    },
                ) => {
                    // The key was revoked or the session ended: do not hammer the server.
                    let _ = events.send(Err(e)).await;
                    return;
                }
                Err(_) => continue,
            }
        }
    }
}

/// Hands a message to the link; a `subscribeWrites` it cannot take (too many
/// wait to be sent) fails that subscription's wait.
fn send_message(
    link: &mut Link,
    feed: &Feed,
    m: &ClientMessage,
) -> Result<Option<String>, sdk_core::ErrorBody> {
    let r = link.send(m, now_ms());
    if let (Err(e), ClientMessage::SubscribeWrites { id, .. }) = (&r, m) {
        feed.answered(*id, Err(Error::from_body(e.clone())));
    }
    r
}

/// Runs one socket until it ends.
async fn serve(
    link: &mut Link,
    mut socket: Socket,
    feed: &Feed,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> End {
    let events = &feed.events;
    link.on_open(now_ms());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return End::Lost,
                    Some(Ok(_)) => {
                        // Pings and pongs: the connection is alive.
                        link.on_alive(now_ms());
                        continue;
                    }
                };
                match link.on_frame(text.as_str(), now_ms()) {
                    Incoming::Nothing => {}
                    Incoming::Deliver(t) => {
                        if !feed.deliver(ServerMessage::parse(&t), &[]).await {
                            return End::Closed;
                        }
                    }
                    Incoming::Unchanged => {
                        if !feed.deliver(ServerMessage::parse(&text), &[]).await {
                            return End::Closed;
                        }
                    }
                    Incoming::Tagged { text, subs } => {
                        if !feed.deliver(ServerMessage::parse(&text), &subs).await {
                            return End::Closed;
                        }
                    }
                    Incoming::Subscribed { id, result, missed } => {
                        feed.caught_up(id, &missed).await;
                        feed.answered(id, result.map_err(Error::from_body));
                    }
                    Incoming::Connected { greeting, send } => {
                        if let Some(g) = greeting
                            && !feed.deliver(ServerMessage::parse(&g), &[]).await
                        {
                            return End::Closed;
                        }
                        for f in send {
                            if socket.send(Message::text(f)).await.is_err() {
                                return End::Lost;
                            }
                        }
                    }
                }
            }
            cmd = commands.recv() => match cmd {
                None | Some(Command::Close) => {
                    let _ = socket.close(None).await;
                    return End::Closed;
                }
                Some(cmd @ (Command::Send(_) | Command::Raw(_))) => match match cmd {
                    Command::Send(m) => send_message(link, feed, &m),
                    Command::Raw(t) => link.send_text(t, now_ms()),
                    Command::Close => Ok(None),
                } {
                    Ok(Some(frame)) => {
                        if socket.send(Message::text(frame)).await.is_err() {
                            return End::Lost;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = events.send(Err(Error::from_body(e))).await;
                    }
                },
            },
            _ = tick.tick() => match link.tick(now_ms()) {
                Tick::Wait => {}
                Tick::Ping => {
                    if socket.send(Message::text(Link::ping_frame())).await.is_err() {
                        return End::Lost;
                    }
                }
                Tick::Reconnect => return End::Lost,
            },
        }
    }
}
