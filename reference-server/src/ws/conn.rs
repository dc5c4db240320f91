//! One WebSocket connection: greeting, fan-out of events, answers to messages.

use super::Event;
use crate::app::App;
use futures_util::{SinkExt, StreamExt};
use sdk_core::collection::Access;
use sdk_core::ws::{CONNECTION_GREETING, ServerMessage};
use sdk_core::{ErrorBody, ErrorCode};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use warp::ws::{Message, WebSocket};

/// Serves one upgraded connection until either side closes it or the server stops.
pub async fn serve(socket: WebSocket, app: Arc<App>, user: Option<String>) {
    let (mut tx, mut rx) = socket.split();
    let mut events = app.bus.subscribe();
    let mut shutdown = app.shutdown.clone();
    let channels: HashSet<String> = HashSet::new();
    tracing::debug!(?user, "websocket connected");
    let greeting = ServerMessage::Connection(CONNECTION_GREETING.into()).to_json();
    if tx.send(Message::text(greeting)).await.is_err() {
        return;
    }
    loop {
        let out: Option<String> = tokio::select! {
            incoming = rx.next() => match incoming {
                None | Some(Err(_)) => break,
                Some(Ok(m)) if m.is_close() => break,
                Some(Ok(m)) => answer(&m),
            },
            ev = events.recv() => match ev {
                Ok(ev) => deliver(&app, user.as_deref(), &ev, &channels),
                Err(RecvError::Lagged(n)) => Some(
                    ServerMessage::Error(ErrorBody::new(
                        ErrorCode::Unavailable,
                        format!("this connection fell behind and missed {n} events"),
                    ))
                    .to_json(),
                ),
                Err(RecvError::Closed) => break,
            },
            _ = shutdown.changed() => {
                let _ = tx.send(Message::close_with(1001u16, "server shutting down")).await;
                break;
            }
        };
        if let Some(text) = out
            && tx.send(Message::text(text)).await.is_err()
        {
            break;
        }
    }
    tracing::debug!(?user, "websocket closed");
}

/// The frame for this connection, if its user may see the event: a channel's
/// records reach its members only, and a record reaches only users the
/// collection's read rule lets read it.
fn deliver(
    app: &App,
    user: Option<&str>,
    ev: &Event,
    channels: &HashSet<String>,
) -> Option<String> {
    if ev.channel.as_ref().is_some_and(|c| !channels.contains(c)) {
        return None;
    }
    if let Some((action, collection, record)) = &ev.record {
        let cfg = app.collection(collection);
        match cfg.config.rules.read.access(user, false) {
            Access::All => {}
            Access::Only(f) if f.matches(record) => {}
            _ => return None,
        }
        if let Some(src) = &cfg.config.events.get {
            // The record as this user would read it: hidden fields go, a cancel skips it.
            let seen = crate::scripts::read(app, collection, src, record.clone(), user).ok()?;
            return Some(
                ServerMessage::Write(sdk_core::ws::WriteEvent {
                    action: *action,
                    collection: collection.clone(),
                    http_request: true,
                    response: seen,
                })
                .to_json(),
            );
        }
    }
    Some(ev.text.to_string())
}

/// The answer to a frame from the client. Pings and pongs are handled by the
/// socket itself; binary frames and unknown actions get an error message and the
/// connection stays up.
fn answer(m: &Message) -> Option<String> {
    if m.is_ping() || m.is_pong() {
        return None;
    }
    let err = |code, msg: &str| Some(ServerMessage::Error(ErrorBody::new(code, msg)).to_json());
    let Ok(text) = m.to_str() else {
        return err(ErrorCode::InvalidBody, "messages must be JSON text frames");
    };
    let v: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return err(ErrorCode::MalformedJson, &format!("malformed JSON: {e}")),
    };
    match v.get("action").and_then(serde_json::Value::as_str) {
        None => err(ErrorCode::InvalidBody, "messages need a string 'action'"),
        Some(a) => err(
            ErrorCode::UnknownAction,
            &format!("action '{a}' is not supported by this server"),
        ),
    }
}
