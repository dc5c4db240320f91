//! Channels: the Backpack channel actions, the users-information records they
//! keep (`channels`, `currentChannel`), and resuming a connection's subscriptions.
//!
//! A user's information record in the users-information collection is the one
//! whose `userId` is theirs; the actions create it when there is none. Channel
//! documents live in the collection named by `channelType` and follow its rules:
//! a user joins only channels they may read, and deletes only those the delete
//! rule lets them.

use super::conn::Conn;
use super::deliver::deliver;
use crate::app::App;
use crate::error::ApiError;
use crate::service::records;
use crate::service::{Caller, Ctx, Origin, store_error};
use crate::store::{Found, StoreError};
use sdk_core::collection::Operation;
use sdk_core::names::check_collection_name;
use sdk_core::query::{Filter, FindQuery};
use sdk_core::ws::{
    Channel, ClientMessage, Resumed, WriteAction, channel_created_frame, channel_frame,
    users_channels_frame,
};
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// How many times an information record update retries after a concurrent write.
const RETRIES: usize = 8;
/// Records read per page while deleting a channel's messages and subscriptions.
const PAGE: u64 = 1000;

fn no_channel() -> Value {
    json!({"channelType": null, "channelId": null})
}

fn err(e: StoreError) -> ErrorBody {
    store_error(e).0
}

fn check_name(name: &str) -> Result<(), ErrorBody> {
    check_collection_name(name)
}

/// The user's information record, if there is one.
async fn info(app: &App, uic: &str, user: &str) -> Result<Option<Map<String, Value>>, ErrorBody> {
    let q = FindQuery::new()
        .filter(Filter::eq("userId", user))
        .sort_asc("_id")
        .page_size(1);
    match app.store.find(uic, q, 1, Vec::new()).await.map_err(err)? {
        Found::Records(text) => {
            let rows: Vec<Value> = serde_json::from_str(&text)
                .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))?;
            Ok(rows.into_iter().find_map(|r| match r {
                Value::Object(m) => Some(m),
                _ => None,
            }))
        }
        Found::Count(_) => Ok(None),
    }
}

fn channels_of(rec: &Map<String, Value>) -> Vec<Channel> {
    match rec.get("channels") {
        Some(Value::Array(a)) => a.iter().filter_map(Channel::of).collect(),
        _ => Vec::new(),
    }
}

fn channel_value(c: &Channel) -> Value {
    json!(c)
}

/// The first channel left, or no channel.
fn first_or_none(chans: &[Channel]) -> Value {
    chans.first().map_or_else(no_channel, channel_value)
}

/// Changes a user's `channels` and `currentChannel` (creating their information
/// record when they have none), as that user: through the collection's switches,
/// rules, event scripts and schema, as any write; retried when another write got
/// there first.
async fn update_info(
    app: &Arc<App>,
    uic: &str,
    user: &str,
    f: impl Fn(&mut Vec<Channel>, &mut Value),
) -> Result<Value, ErrorBody> {
    let ctx = as_user(app, user);
    for _ in 0..RETRIES {
        let answer = match info(app, uic, user).await? {
            None => {
                let mut chans = Vec::new();
                let mut current = no_channel();
                f(&mut chans, &mut current);
                let rec = json!({
                    "channels": chans.iter().map(channel_value).collect::<Vec<_>>(),
                    "currentChannel": current,
                    "broadcast": false,
                });
                records::create(uic.to_owned(), Ok(ctx.clone()), Ok(rec)).await
            }
            Some(rec) => {
                let mut chans = channels_of(&rec);
                let mut current = rec
                    .get("currentChannel")
                    .cloned()
                    .unwrap_or_else(no_channel);
                f(&mut chans, &mut current);
                let id = rec.get("_id").and_then(Value::as_str).unwrap_or_default();
                let version = rec.get("__v").and_then(Value::as_u64).unwrap_or(0);
                let change = json!({
                    "channels": chans.iter().map(channel_value).collect::<Vec<_>>(),
                    "currentChannel": current,
                });
                records::write(
                    uic.to_owned(),
                    id.to_owned(),
                    Ok(ctx.clone()),
                    Some(version.to_string()),
                    Ok(change),
                    WriteAction::Patch,
                )
                .await
            }
        };
        match answer {
            Err(ApiError(e, _)) if e.code == ErrorCode::VersionConflict => continue,
            Err(ApiError(e, _)) => return Err(e),
            Ok(a) => {
                return serde_json::from_str(&a.into_text())
                    .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()));
            }
        }
    }
    Err(err(StoreError::Busy))
}

/// The context of a write made for `user` (a channel action's step, not broadcast).
fn as_user(app: &Arc<App>, user: &str) -> Ctx {
    Ctx {
        app: app.clone(),
        caller: Some(Caller {
            user_id: user.to_owned(),
            token_hash: String::new(),
        }),
        admin: false,
        origin: Origin::Quiet,
        emitted: Default::default(),
        me: Default::default(),
        depth: 0,
    }
}

/// Refuses, before anything is written, a channel action whose information
/// record write the collection would refuse the caller.
async fn check_info_write(app: &Arc<App>, conn: &Conn, uic: &str) -> Result<(), ErrorBody> {
    let user = conn.require_user()?;
    let op = match info(app, uic, user).await? {
        None => Operation::InsertObject,
        Some(_) => Operation::UpdateObject,
    };
    records::allowed(&conn.ctx(app, Origin::Quiet), uic, op).map_err(|ApiError(e, _)| e)
}

/// The channel document, if this connection's user may read it.
async fn channel_doc(app: &Arc<App>, conn: &Conn, ch: &Channel) -> Result<Value, ErrorBody> {
    let answer = records::get(
        ch.channel_type.clone(),
        ch.channel_id.clone(),
        Ok(conn.ctx(app, Origin::Quiet)),
    )
    .await
    .map_err(|ApiError(e, _)| e)?;
    serde_json::from_str(&answer.into_text())
        .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))
}

/// Refuses a subscription to one more channel beyond the connection's limit.
fn room_for(app: &App, conn: &Conn, ch: Option<&Channel>) -> Result<(), ErrorBody> {
    let known = ch.is_some_and(|c| conn.channels.contains(&c.key()));
    if !known && conn.channels.len() >= app.config.ws_max_channels {
        return Err(ErrorBody::new(
            ErrorCode::RateLimited,
            format!(
                "a connection may be subscribed to {} channels at most; leave one first",
                app.config.ws_max_channels
            ),
        ));
    }
    Ok(())
}

fn subscribe(app: &App, conn: &mut Conn, ch: &Channel) -> Result<(), ErrorBody> {
    room_for(app, conn, Some(ch))?;
    conn.channels.insert(ch.key());
    Ok(())
}

/// Runs a channel action.
pub async fn act(
    app: &Arc<App>,
    conn: &mut Conn,
    msg: ClientMessage,
    out: &mut super::conn::Out,
) -> Result<(), ErrorBody> {
    match msg {
        ClientMessage::JoinUsersChannels {
            users_information_collection: uic,
        } => {
            check_name(&uic)?;
            let user = conn.require_user()?.to_owned();
            let chans = match info(app, &uic, &user).await? {
                Some(rec) => channels_of(&rec),
                None => Vec::new(),
            };
            for ch in &chans {
                if channel_doc(app, conn, ch).await.is_ok() {
                    subscribe(app, conn, ch)?;
                }
            }
            out.push(users_channels_frame(&chans));
        }
        ClientMessage::CreateChannel {
            users_information_collection: uic,
            channel_type,
            name,
        } => {
            check_name(&uic)?;
            let user = conn.require_user()?.to_owned();
            // Everything that can be known to fail is checked before writing.
            check_info_write(app, conn, &uic).await?;
            room_for(app, conn, None)?;
            let doc = records::create(
                channel_type.clone(),
                Ok(conn.ctx(app, Origin::Quiet)),
                Ok(json!({"channelType": channel_type, "name": name})),
            )
            .await
            .map_err(|ApiError(e, _)| e)?
            .into_text();
            let doc: Value = serde_json::from_str(&doc)
                .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))?;
            let id = doc.get("_id").and_then(Value::as_str).unwrap_or_default();
            let ch = Channel::new(channel_type.clone(), id);
            let rec = match update_info(app, &uic, &user, |chans, current| {
                if !chans.contains(&ch) {
                    chans.push(ch.clone());
                }
                *current = channel_value(&ch);
            })
            .await
            {
                Ok(rec) => rec,
                Err(e) => {
                    // A script or the schema refused the record: the channel
                    // document goes again, so nothing is half-made.
                    if let Err(undo) = app.store.delete(&channel_type, id, None, None).await {
                        tracing::warn!(%undo, "could not remove a channel whose creation failed");
                    }
                    return Err(e);
                }
            };
            subscribe(app, conn, &ch)?;
            crate::realtime::publish_message(
                app,
                None,
                channel_created_frame(&doc, None),
                Some((channel_type, doc.clone())),
                Some(conn.id),
            );
            out.push(channel_created_frame(
                &doc,
                Some((rec.get("channels"), rec.get("currentChannel"))),
            ));
        }
        ClientMessage::JoinChannel {
            users_information_collection: uic,
            channel_type,
            channel_id,
        } => {
            check_name(&uic)?;
            let user = conn.require_user()?.to_owned();
            let ch = Channel::new(channel_type, channel_id);
            channel_doc(app, conn, &ch).await?;
            room_for(app, conn, Some(&ch))?;
            let rec = update_info(app, &uic, &user, |chans, current| {
                if !chans.contains(&ch) {
                    chans.push(ch.clone());
                }
                *current = channel_value(&ch);
            })
            .await?;
            subscribe(app, conn, &ch)?;
            announce(app, conn, "joinChannel", &user, &ch, rec, out);
        }
        ClientMessage::LeaveChannel {
            users_information_collection: uic,
            channel_type,
            channel_id,
        } => {
            check_name(&uic)?;
            let user = conn.require_user()?.to_owned();
            let ch = Channel::new(channel_type, channel_id);
            let rec = update_info(app, &uic, &user, |chans, current| {
                chans.retain(|c| c != &ch);
                *current = first_or_none(chans);
            })
            .await?;
            announce(app, conn, "leaveChannel", &user, &ch, rec, out);
            conn.channels.remove(&ch.key());
        }
        ClientMessage::ChangeChannel {
            users_information_collection: uic,
            channel_type,
            channel_id,
        } => {
            check_name(&uic)?;
            let user = conn.require_user()?.to_owned();
            let ch = Channel::new(channel_type, channel_id);
            channel_doc(app, conn, &ch).await?;
            let rec = update_info(app, &uic, &user, |_, current| {
                *current = channel_value(&ch);
            })
            .await?;
            out.push(answer("changeChannel", &user, &ch, rec));
        }
        ClientMessage::DeleteChannel {
            users_information_collection: uic,
            channel_messages_collection: cmc,
            channel_type,
            channel_id,
        } => {
            check_name(&uic)?;
            check_name(&cmc)?;
            let user = conn.require_user()?.to_owned();
            let ch = Channel::new(channel_type, channel_id);
            delete_channel(app, conn, &uic, &cmc, &user, ch, out).await?;
        }
        other => {
            return Err(ErrorBody::new(
                ErrorCode::UnknownAction,
                format!("action '{}' is not a channel action", other.action()),
            ));
        }
    }
    Ok(())
}

/// `{action, userId, channelType, channelId, response}` for the caller.
fn answer(action: &str, user: &str, ch: &Channel, rec: Value) -> String {
    channel_frame(action, Some(user), ch, Some(&rec))
}

/// Tells the channel's other subscribers that `user` joined or left, and the caller its record.
fn announce(
    app: &App,
    conn: &Conn,
    action: &str,
    user: &str,
    ch: &Channel,
    rec: Value,
    out: &mut super::conn::Out,
) {
    crate::realtime::publish_message(
        app,
        Some(ch.key()),
        channel_frame(action, Some(user), ch, None),
        None,
        Some(conn.id),
    );
    out.push(answer(action, user, ch, rec));
}

/// Deletes the channel document (under its collection's delete rule), then its
/// messages, then it from every subscriber's information record, and tells every
/// subscribed connection.
async fn delete_channel(
    app: &Arc<App>,
    conn: &Conn,
    uic: &str,
    cmc: &str,
    user: &str,
    ch: Channel,
    out: &mut super::conn::Out,
) -> Result<(), ErrorBody> {
    // The messages go with the channel its owner deletes, but only from a
    // collection that lets the caller delete and has no On DELETE script (which
    // a bulk delete would skip): checked before anything is deleted.
    let ctx = conn.ctx(app, Origin::Quiet);
    records::allowed(&ctx, cmc, Operation::Remove).map_err(|ApiError(e, _)| e)?;
    if app.collection(cmc).config.events.delete.is_some() {
        return Err(ErrorBody::new(
            ErrorCode::OperationDisabled,
            format!(
                "'{cmc}' has an On DELETE script, so a channel's messages cannot be \
                 deleted with it; delete them one by one first"
            ),
        ));
    }
    records::delete(
        ch.channel_type.clone(),
        ch.channel_id.clone(),
        Ok(conn.ctx(app, Origin::Quiet)),
        None,
    )
    .await
    .map_err(|ApiError(e, _)| e)?;
    let in_channel = Filter::eq("channelType", ch.channel_type.as_str())
        .and(Filter::eq("channelId", ch.channel_id.as_str()));
    loop {
        let q = FindQuery::new()
            .filter(in_channel.clone())
            .select(["_id"])
            .page_size(PAGE);
        let rows = page(app, cmc, q).await?;
        let ids: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.get("_id").and_then(Value::as_str))
            .collect();
        if ids.is_empty() {
            break;
        }
        let page = in_channel.clone().and(Filter::is_in("_id", ids));
        app.store
            .delete_many(cmc, Some(page), None)
            .await
            .map_err(err)?;
    }
    // Every user whose information record lists the channel.
    let mut users = Vec::new();
    let mut offset = 0;
    loop {
        let q = FindQuery::new()
            .filter(Filter::exists("channels", true))
            .sort_asc("_id")
            .offset(offset)
            .page_size(PAGE);
        let rows = page(app, uic, q).await?;
        let n = rows.len() as u64;
        for r in rows {
            if let Value::Object(m) = r
                && channels_of(&m).contains(&ch)
                && let Some(u) = m.get("userId").and_then(Value::as_str)
            {
                users.push(u.to_owned());
            }
        }
        if n < PAGE {
            break;
        }
        offset += PAGE;
    }
    // Each subscriber's record is changed as that user changes it (their rules,
    // scripts and schema); one that refuses keeps naming the deleted channel.
    let mut records = HashMap::new();
    for u in users {
        let rec = update_info(app, uic, &u, |chans, current| {
            chans.retain(|c| c != &ch);
            if Channel::of(current).as_ref() == Some(&ch) || chans.is_empty() {
                *current = first_or_none(chans);
            }
        })
        .await;
        match rec {
            Ok(rec) => {
                records.insert(u, rec);
            }
            Err(e) => {
                tracing::info!(user = u, code = ?e.code, "a subscriber's record kept a deleted channel")
            }
        }
    }
    let mine = records.get(user).cloned().unwrap_or(Value::Null);
    if !conn.channels.contains(&ch.key()) {
        // The caller is not subscribed here, so the event will not reach it.
        out.push(answer("deleteChannel", user, &ch, mine));
    }
    app.bus.publish(crate::realtime::Event {
        seq: 0,
        except: None,
        kind: crate::realtime::EventKind::ChannelDeleted {
            channel: ch,
            by: Some(user.to_owned()),
            records,
        },
    });
    Ok(())
}

/// One page of records.
async fn page(app: &App, collection: &str, q: FindQuery) -> Result<Vec<Value>, ErrorBody> {
    match app
        .store
        .find(collection, q, PAGE, Vec::new())
        .await
        .map_err(err)?
    {
        Found::Records(text) => serde_json::from_str(&text)
            .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string())),
        Found::Count(_) => Ok(Vec::new()),
    }
}

/// Rejoins the channels a reconnecting client had (those its user may still
/// read; none for an anonymous connection), replays the events it missed, and answers
/// `{action: "resume", stream, seq, channels, replayed, gap}`.
pub async fn resume(
    app: &Arc<App>,
    conn: &mut Conn,
    stream: &str,
    since: u64,
    channels: Vec<Channel>,
    out: &mut super::conn::Out,
) {
    let mut accepted = Vec::new();
    // Channels belong to signed-in users, as joinChannel does.
    let channels = if conn.user.is_some() {
        channels
    } else {
        Vec::new()
    };
    for ch in channels.into_iter().take(app.config.ws_max_channels) {
        if channel_doc(app, conn, &ch).await.is_ok() && subscribe(app, conn, &ch).is_ok() {
            accepted.push(ch);
        }
    }
    // A number past this connection's start is fine: the client may have seen
    // it on another connection, or on another process sharing the bus.
    let replay = if stream == app.bus.stream() {
        app.bus.since(since).await
    } else {
        None
    };
    let gap = replay.is_none();
    let mut replayed = 0usize;
    if let Some(events) = replay {
        conn.last_seq = since;
        let before = out.len();
        for ev in events {
            deliver(app, conn, &ev, out);
        }
        replayed = out.len() - before;
    }
    out.push(
        Resumed {
            stream: app.bus.stream().to_owned(),
            seq: conn.last_seq,
            channels: accepted,
            replayed,
            gap,
        }
        .to_frame(),
    );
}
