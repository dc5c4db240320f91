//! A connection's write subscriptions (`subscribeWrites`): putting one in
//! place, tagging the write frames it concerns, and naming the writes a new
//! one missed while it was being made.

use super::conn::Conn;
use super::deliver::{as_read, config_of, numbered, sees};
use crate::app::App;
use crate::realtime::EventKind;
use sdk_core::collection::Access;
use sdk_core::subscribe::{MAX_SUBSCRIPTION_REGEXES, MAX_WRITE_SUBSCRIPTIONS, subscription_filter};
use sdk_core::ws::{WriteAction, WriteSubscription, read_frame, tagged_frame};
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::Value;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A write frame for this connection: numbered as [`numbered`] does, and
/// tagged with the ids of the write subscriptions `record` (as this user sees
/// it) concerns.
pub(super) fn write_for(
    conn: &mut Conn,
    seq: u64,
    action: WriteAction,
    collection: &str,
    record: &Value,
    text: &Utf8Bytes,
) -> Utf8Bytes {
    if conn.writes.is_empty() {
        return numbered(conn, seq, text);
    }
    let subs = conn
        .writes
        .on_write(collection, record, action == WriteAction::Delete);
    if subs.is_empty() {
        return numbered(conn, seq, text);
    }
    tagged_frame(text.as_str(), conn.numbered.then_some(seq), &subs).into()
}

/// Puts a write subscription in place, or says why not: the collection must
/// be one this user may read, the query must parse, and a connection holds
/// [`MAX_WRITE_SUBSCRIPTIONS`] at most.
pub(super) fn subscribe_writes(
    app: &App,
    conn: &mut Conn,
    sub: WriteSubscription,
) -> Result<(), ErrorBody> {
    if conn.writes.has(sub.id, &sub.collection, &sub.query) {
        // The same one again (restored by resume, then sent from the
        // client's queue): kept with the records it remembers.
        return Ok(());
    }
    sdk_core::names::check_collection_name(&sub.collection)?;
    if !conn.writes.contains(sub.id) && conn.writes.len() >= MAX_WRITE_SUBSCRIPTIONS {
        return Err(ErrorBody::new(
            ErrorCode::RateLimited,
            format!(
                "a connection may hold {MAX_WRITE_SUBSCRIPTIONS} write subscriptions at most; \
                 end one first"
            ),
        ));
    }
    let cfg = app.collection(&sub.collection);
    match cfg
        .config
        .rules
        .read
        .access(conn.user.as_deref(), conn.admin)
    {
        Access::All | Access::Only(_) => {}
        Access::SignIn => {
            return Err(ErrorBody::new(
                ErrorCode::Unauthenticated,
                format!("sign in to read '{}'", sub.collection),
            ));
        }
        Access::Refused => {
            return Err(ErrorBody::new(
                ErrorCode::Forbidden,
                format!("'{}' may not be read by this user", sub.collection),
            ));
        }
    }
    let filter =
        subscription_filter(&sub.query, conn.user.as_deref()).map_err(|e| e.to_error_body())?;
    let regexes = filter.as_ref().map_or(0, |f| f.regexes());
    if regexes > 0 && conn.writes.regexes_besides(sub.id) + regexes > MAX_SUBSCRIPTION_REGEXES {
        return Err(ErrorBody::new(
            ErrorCode::RateLimited,
            format!(
                "a connection's subscriptions may hold {MAX_SUBSCRIPTION_REGEXES} regular \
                 expressions at most; end one first"
            ),
        ));
    }
    conn.writes.add(sub.id, sub.collection, sub.query, filter);
    Ok(())
}

/// Most recent records looked at for a new subscription's `since` (a bound
/// on the work one `subscribeWrites` can ask of the server).
const SUBSCRIBE_LOOKBACK: usize = 1_024;

/// The numbers of the writes this connection was sent after `since` (among
/// the last [`SUBSCRIBE_LOOKBACK`] records) that the new subscription `id`
/// concerns: the ones its subscriber received between asking for it and the
/// server having it in place, untagged. In ascending order.
pub(super) async fn matched_since(
    app: &Arc<App>,
    conn: &mut Conn,
    id: u64,
    since: u64,
) -> Vec<u64> {
    let since = since.max(conn.first_seq);
    if since >= conn.last_seq || conn.notify.is_some() {
        return Vec::new();
    }
    let Some(events) = app.bus.since(since).await else {
        return Vec::new();
    };
    // The newest events whose records fit the budget, looked at in order.
    let mut start = events.len();
    let mut records = 0;
    while start > 0 {
        let n = match &events[start - 1].kind {
            EventKind::Write { items, .. } => items.len(),
            _ => 0,
        };
        if records + n > SUBSCRIBE_LOOKBACK {
            break;
        }
        records += n;
        start -= 1;
    }
    let mut matched = Vec::new();
    for ev in &events[start..] {
        if ev.seq <= since || ev.last_seq() > conn.last_seq || ev.except == Some(conn.id) {
            continue;
        }
        let EventKind::Write {
            action,
            collection,
            config,
            items,
        } = &ev.kind
        else {
            continue;
        };
        if !conn.writes.watches(collection) {
            continue;
        }
        let mut looked_up = None;
        let config = config_of(app, config, collection, &mut looked_up);
        let deleted = *action == WriteAction::Delete;
        for (i, item) in items.iter().enumerate() {
            if !sees(config, conn, item) {
                continue;
            }
            let hit = match &config.config.events.get {
                None => conn
                    .writes
                    .on_write_one(id, collection, &item.record, deleted),
                Some(src) => as_read(app, conn, collection, src, &item.record)
                    .is_some_and(|seen| conn.writes.on_write_one(id, collection, &seen, deleted)),
            };
            if hit {
                matched.push(ev.seq + i as u64);
            }
        }
    }
    matched
}

/// The answer to the author's own record write, `{action, collection,
/// response}`, tagged with the write subscriptions it concerns as the
/// broadcast to everyone else is.
pub(super) fn own_write(
    conn: &mut Conn,
    action: WriteAction,
    collection: &str,
    text: &str,
) -> String {
    let name = action.as_str();
    let frame = read_frame(name, collection, text);
    if !conn.writes.watches(collection) {
        return frame;
    }
    let Ok(record) = serde_json::from_str::<Value>(text) else {
        return frame;
    };
    let subs = conn
        .writes
        .on_write(collection, &record, action == WriteAction::Delete);
    tagged_frame(&frame, None, &subs)
}
