//! Delivering the bus's events to one connection: which of them it may see
//! (channels, read rules, On GET scripts), numbered when it asked for it.

use super::conn::{Conn, KEY_REVOKED, Out, SESSION_ENDED};
use super::writes::write_for;
use crate::app::App;
use crate::realtime::{Event, EventKind, WriteItem};
use sdk_core::collection::Access;
use sdk_core::ws::{channel_frame, notifications};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Why an event could not be taken from the bus.
pub(super) enum Missed {
    /// The connection fell this many events behind.
    Lagged(u64),
    /// The bus is gone: the server is stopping.
    Closed,
}

impl From<RecvError> for Missed {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Lagged(n) => Self::Lagged(n),
            RecvError::Closed => Self::Closed,
        }
    }
}

/// Delivers one event from the bus to the connection, or says why the
/// connection must close (it fell behind, or the server is stopping).
pub(super) fn take_event(
    app: &Arc<App>,
    conn: &mut Conn,
    ev: Result<std::sync::Weak<Event>, Missed>,
    out: &mut Out,
) -> Option<(u16, String)> {
    match ev {
        Ok(ev) => match ev.upgrade() {
            Some(ev) => {
                let before = out.len();
                deliver(app, conn, &ev, out);
                app.metrics.delivered.inc_by((out.len() - before) as u64);
                None
            }
            None => {
                app.metrics.dropped.inc();
                Some((
                    1008,
                    "too slow: the events not read yet are gone; reconnect and resume".into(),
                ))
            }
        },
        Err(Missed::Lagged(n)) => {
            app.metrics.dropped.inc_by(n);
            Some((
                1008,
                format!("too slow: fell {n} events behind; reconnect and resume"),
            ))
        }
        Err(Missed::Closed) => Some((1001, "server shutting down".into())),
    }
}

/// The frame for this connection: shared as it is, or with `"seq": n` in front
/// of its fields for numbered connections.
pub(super) fn numbered(conn: &Conn, seq: u64, text: &Utf8Bytes) -> Utf8Bytes {
    if conn.numbered && text.starts_with('{') {
        format!("{{\"seq\":{seq},{}", &text.as_str()[1..]).into()
    } else {
        text.clone()
    }
}

/// A write event's collection configuration: the one it carries, else the
/// current one (kept in `slot`), borrowed so fan-out clones nothing.
pub(super) fn config_of<'a>(
    app: &App,
    carried: &'a Option<Arc<crate::app::Collection>>,
    collection: &str,
    slot: &'a mut Option<Arc<crate::app::Collection>>,
) -> &'a crate::app::Collection {
    match carried {
        Some(c) => c,
        None => slot.insert(app.collection(collection)),
    }
}

/// Whether this connection is sent `item` of a write: it names no channel or
/// one the connection is in, and the read rule lets its user read it.
pub(super) fn sees(config: &crate::app::Collection, conn: &Conn, item: &WriteItem) -> bool {
    item.channel
        .as_ref()
        .is_none_or(|c| conn.channels.contains(c))
        && readable(config, conn, &item.record)
}

/// A record as this connection's user reads it through the On GET script
/// `src`: hidden fields go; `None` when the script cancels it.
pub(super) fn as_read(
    app: &App,
    conn: &Conn,
    collection: &str,
    src: &str,
    record: &Value,
) -> Option<Value> {
    let me = conn.user.as_deref().map(|id| crate::scripts::Me {
        id,
        user: conn.me.get(),
    });
    crate::scripts::read(app, collection, src, record.clone(), me, None).ok()
}

/// Whether this connection's user may read `record` of `collection`.
fn may_read(app: &App, conn: &Conn, collection: &str, record: &Value) -> bool {
    readable(&app.collection(collection), conn, record)
}

/// Whether this connection's user may read `record` under the collection's read rule.
fn readable(cfg: &crate::app::Collection, conn: &Conn, record: &Value) -> bool {
    match cfg
        .config
        .rules
        .read
        .access(conn.user.as_deref(), conn.admin)
    {
        Access::All => true,
        Access::Only(f) => f.matches(record),
        _ => false,
    }
}

/// Adds the frames of one event this connection should receive to `out`: a
/// channel's events reach its subscribers only, records only users who may read
/// them (as the On GET script shows them), nothing reaches the connection that
/// caused it, and nothing is sent twice.
pub fn deliver(app: &App, conn: &mut Conn, ev: &Event, out: &mut Out) {
    if ev.last_seq() <= conn.last_seq {
        return;
    }
    conn.last_seq = ev.last_seq();
    if ev.except == Some(conn.id) {
        return;
    }
    match &ev.kind {
        EventKind::Write {
            action,
            collection,
            config,
            items,
        } => {
            let mut looked_up = None;
            let config = config_of(app, config, collection, &mut looked_up);
            let visible = |conn: &Conn, item: &WriteItem| sees(config, conn, item);
            if let Some(filter) = &conn.notify {
                if filter.as_ref().is_some_and(|f| !f.contains(collection)) {
                    return;
                }
                let seen: Vec<&Value> = items
                    .iter()
                    .filter(|i| visible(conn, i))
                    .map(|i| &i.record)
                    .collect();
                for n in notifications(*action, collection, config.config.parent.as_ref(), &seen) {
                    out.push(numbered(conn, ev.last_seq(), &json!(n).to_string().into()));
                }
                return;
            }
            for (i, item) in items.iter().enumerate() {
                if !visible(conn, item) {
                    continue;
                }
                let seq = ev.seq + i as u64;
                match &config.config.events.get {
                    None => {
                        let text =
                            write_for(conn, seq, *action, collection, &item.record, &item.frame);
                        out.push(text);
                    }
                    Some(src) => {
                        if let Some(seen) = as_read(app, conn, collection, src, &item.record) {
                            let http = item.frame.contains("\"httpRequest\":true");
                            let text = sdk_core::ws::write_frame(*action, collection, http, &seen);
                            let text =
                                write_for(conn, seq, *action, collection, &seen, &text.into());
                            out.push(text);
                        }
                    }
                }
            }
        }
        EventKind::Message {
            channel,
            text,
            visible,
            user,
        } => {
            if channel.as_ref().is_some_and(|c| !conn.channels.contains(c)) {
                return;
            }
            if user.is_some() && conn.user != *user {
                return;
            }
            if let Some((coll, record)) = visible
                && !may_read(app, conn, coll, record)
            {
                return;
            }
            out.push(numbered(conn, ev.seq, text));
        }
        EventKind::Revoked(what) => {
            if what.ends(
                conn.user.as_deref(),
                conn.session.as_deref(),
                conn.key.as_deref(),
            ) {
                conn.ended = Some(
                    match what {
                        crate::realtime::Revoked::Key(_) => KEY_REVOKED,
                        _ => SESSION_ENDED,
                    }
                    .into(),
                );
            }
        }
        EventKind::ChannelDeleted {
            channel,
            by,
            records,
        } => {
            if !conn.channels.remove(&channel.key()) {
                return;
            }
            let record = conn
                .user
                .as_ref()
                .and_then(|u| records.get(u))
                .cloned()
                .unwrap_or(Value::Null);
            let text = channel_frame("deleteChannel", by.as_deref(), channel, Some(&record));
            out.push(numbered(conn, ev.seq, &text.into()));
        }
    }
}
