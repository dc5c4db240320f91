//! Realtime: the fan-out bus and the WebSocket endpoint.

pub mod conn;

use sdk_core::ws::{ServerMessage, WriteAction, WriteEvent, broadcast_allowed, channel_key};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::broadcast;

/// One message for the connected clients.
#[derive(Debug)]
pub struct Event {
    /// The channel (`"<channelType>_<channelId>"`) whose members alone receive it;
    /// `None` sends it to every connection.
    pub channel: Option<String>,
    /// The JSON text frame.
    pub text: Arc<str>,
    /// For a record write: the action, the collection and the record, so each
    /// connection receives it only if the collection's read rule lets its user
    /// read it, as the collection's On GET script shows it to that user.
    pub record: Option<(WriteAction, String, Value)>,
}

/// Fans events out to every connection of every server process that shares the
/// database. In-process now; Redis or NATS when several processes share one database.
pub trait Bus: Send + Sync + 'static {
    /// Sends an event to all subscribers.
    fn publish(&self, event: Event);
    /// A new subscription.
    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>>;
}

/// The in-process bus. A subscriber that falls more than `capacity` events behind
/// is told how many it missed.
pub struct LocalBus(broadcast::Sender<Arc<Event>>);

impl LocalBus {
    /// A bus that buffers up to `capacity` events per slow subscriber.
    pub fn new(capacity: usize) -> Self {
        Self(broadcast::channel(capacity).0)
    }
}

impl Bus for LocalBus {
    fn publish(&self, event: Event) {
        // No subscribers is not an error.
        let _ = self.0.send(Arc::new(event));
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.0.subscribe()
    }
}

/// Broadcasts a database write made over HTTP, unless the record opts out with
/// `broadcast: false`; a record naming a channel goes to that channel's members only.
pub fn publish_write(bus: &dyn Bus, action: WriteAction, collection: &str, record: &Value) {
    if !broadcast_allowed(record) {
        return;
    }
    let msg = ServerMessage::Write(WriteEvent {
        action,
        collection: collection.to_owned(),
        http_request: true,
        response: record.clone(),
    });
    bus.publish(Event {
        channel: channel_key(record),
        text: msg.to_json().into(),
        record: Some((action, collection.to_owned(), record.clone())),
    });
}

/// Counts of open WebSockets, so one user (or everyone) cannot hold unbounded
/// connections.
#[derive(Default)]
pub struct Sockets {
    inner: std::sync::Mutex<(usize, std::collections::HashMap<String, usize>)>,
}

/// Which bound an upgrade hit.
#[derive(Debug)]
pub enum Full {
    /// The user's.
    User,
    /// The server's.
    Server,
}

/// An open connection's place in the counts; dropping it frees the place.
pub struct Slot {
    sockets: Arc<crate::app::App>,
    user: Option<String>,
}

impl Sockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, std::collections::HashMap<String, usize>)> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// How many connections are open in all.
    pub fn open_count(&self) -> usize {
        self.lock().0
    }
}

/// Takes a place for a new connection of `user`, within the bounds.
fn open_slot(
    app: &Arc<crate::app::App>,
    user: Option<&str>,
    per_user: usize,
    total: usize,
) -> Result<Slot, Full> {
    {
        let mut g = app.sockets.lock();
        if g.0 >= total {
            return Err(Full::Server);
        }
        if let Some(u) = user {
            let n = g.1.entry(u.to_owned()).or_insert(0);
            if *n >= per_user {
                return Err(Full::User);
            }
            *n += 1;
        }
        g.0 += 1;
    }
    Ok(Slot {
        sockets: app.clone(),
        user: user.map(str::to_owned),
    })
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut g = self.sockets.sockets.lock();
        g.0 = g.0.saturating_sub(1);
        if let Some(u) = &self.user
            && let Some(n) = g.1.get_mut(u)
        {
            *n -= 1;
            if *n == 0 {
                g.1.remove(u);
            }
        }
    }
}

/// Largest accepted WebSocket message.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// The WebSocket endpoint: an upgrade on `/ws` or `/`. It is signed in with a
/// live session (`token` query parameter or the session cookie) and needs an API
/// key (`apiKey` query parameter) when it has no session; a key that is sent must
/// be good.
pub fn routes(app: Arc<crate::app::App>) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    use warp::Filter;
    warp::path::end()
        .or(warp::path!("ws"))
        .unify()
        .and(warp::ws())
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .and(warp::cookie::optional::<String>(sdk_core::SESSION_COOKIE))
        .and(warp::any().map(move || app.clone()))
        .and_then(upgrade)
        .boxed()
}

async fn upgrade(
    ws: warp::ws::Ws,
    query: std::collections::HashMap<String, String>,
    cookie: Option<String>,
    app: Arc<crate::app::App>,
) -> Result<warp::reply::Response, warp::Rejection> {
    use crate::error::ApiError;
    use crate::http::{constant_time_eq, session_user};
    use sdk_core::ErrorCode;
    use warp::Reply;
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
    let user_id = user.map(|u| u.user_id);
    let slot = open_slot(
        &app,
        user_id.as_deref(),
        app.config.max_ws_per_user,
        app.config.max_ws,
    )
    .map_err(|full| match full {
        Full::User => ApiError::new(
            ErrorCode::RateLimited,
            "too many open connections for this user; close one first",
        ),
        Full::Server => ApiError::new(
            ErrorCode::Unavailable,
            "the server holds as many connections as it may; retry later",
        ),
    })?;
    Ok(ws
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            conn::serve(socket, app, user_id).await;
            drop(slot);
        })
        .into_response())
}
