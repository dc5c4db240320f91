//! What the server sends: the typed message a client reads, and the frames the
//! server writes.

use super::{CONNECTION_GREETING, Channel, Notification, WriteAction, WriteEvent};
use crate::error::{Error, ErrorBody};
use serde::Serialize;
use serde_json::{Value, json};

/// What a channel action sends: to the caller, its answer (`response` is the
/// user's information record, or for `createChannel` the channel document;
/// `users_channels` and `current_channel` are the user's channels after it);
/// to others, an announcement (`user_id` and `channel` only, or for
/// `createChannel` the channel document).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelEvent {
    /// `joinUsersChannels`, `createChannel`, `joinChannel`, `leaveChannel`,
    /// `changeChannel` or `deleteChannel`.
    pub action: String,
    /// The user who acted.
    pub user_id: Option<String>,
    /// The channel acted on.
    pub channel: Option<Channel>,
    /// The channel document or the user's information record.
    pub response: Option<Value>,
    /// The user's channels after the action, where the message names them.
    pub users_channels: Option<Vec<Channel>>,
    /// The user's current channel after the action, where the message names it.
    pub current_channel: Option<Channel>,
}

impl ChannelEvent {
    fn of(v: Value) -> Self {
        let action = v
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let response = v.get("response").filter(|r| !r.is_null()).cloned();
        let channels = |x: Option<&Value>| {
            x.and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Channel::of).collect::<Vec<_>>())
        };
        let users_channels = channels(v.get("usersChannels"))
            .or_else(|| channels(response.as_ref().and_then(|r| r.get("channels"))));
        let current_channel = v
            .get("usersCurrentChannel")
            .and_then(Channel::of)
            .or_else(|| {
                response
                    .as_ref()
                    .and_then(|r| r.get("currentChannel"))
                    .and_then(Channel::of)
            });
        let channel = Channel::of(&v).or_else(|| {
            (action == "createChannel")
                .then_some(response.as_ref())
                .flatten()
                .and_then(|r| {
                    Some(Channel::new(
                        r.get("channelType")?.as_str()?,
                        r.get("_id")?.as_str()?,
                    ))
                })
        });
        Self {
            user_id: v.get("userId").and_then(Value::as_str).map(str::to_owned),
            channel,
            response,
            users_channels,
            current_channel,
            action,
        }
    }
}

/// A message from the server.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// The greeting on connect: `{action: "connection", response}`.
    Connection(String),
    /// A database write.
    Write(WriteEvent),
    /// An error caused by something this client sent: `{action: "error", code, message}`.
    Error(ErrorBody),
    /// The answer to `find`, `getAll` or `getOne`: `{action, collection, response}`.
    Read {
        /// `find`, `getAll` or `getOne`.
        action: String,
        /// The collection read.
        collection: String,
        /// The records (or, for `getOne`, the record).
        response: Value,
    },
    /// A SmartNgRX notification (after `subscribeNotifications`).
    Notification(Notification),
    /// A channel action's answer or announcement.
    Channel(ChannelEvent),
    /// Any other message (application messages, `open`, `close`), as received.
    Other(Value),
}

impl ServerMessage {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let v: Value = serde_json::from_str(text).map_err(|e| Error::Decode(e.to_string()))?;
        let action = v.get("action").and_then(Value::as_str).unwrap_or_default();
        let decode = |e: serde_json::Error| Error::Decode(e.to_string());
        Ok(match action {
            "connection" => Self::Connection(
                v.get("response")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            ),
            "create" | "update" | "patch" | "delete" if v.get("collection").is_some() => {
                Self::Write(serde_json::from_value(v).map_err(decode)?)
            }
            "error" => Self::Error(serde_json::from_value(v).map_err(decode)?),
            "joinUsersChannels" | "createChannel" | "joinChannel" | "leaveChannel"
            | "changeChannel" | "deleteChannel" => Self::Channel(ChannelEvent::of(v)),
            "find" | "getAll" | "getOne" => Self::Read {
                action: action.to_owned(),
                collection: v
                    .get("collection")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                response: v.get("response").cloned().unwrap_or(Value::Null),
            },
            "update" | "delete" if v.get("table").is_some() => {
                Self::Notification(serde_json::from_value(v).map_err(decode)?)
            }
            _ => Self::Other(v),
        })
    }

    /// The message as a JSON text frame.
    pub fn to_json(&self) -> String {
        match self {
            Self::Connection(text) => json!({"action": "connection", "response": text}).to_string(),
            Self::Write(ev) => json!(ev).to_string(),
            Self::Error(body) => {
                let mut v = json!(body);
                if let Some(o) = v.as_object_mut() {
                    o.insert("action".into(), json!("error"));
                }
                v.to_string()
            }
            Self::Read {
                action,
                collection,
                response,
            } => json!({"action": action, "collection": collection, "response": response})
                .to_string(),
            Self::Notification(n) => json!(n).to_string(),
            Self::Channel(c) => match (c.action.as_str(), &c.channel) {
                ("joinUsersChannels", _) => {
                    users_channels_frame(c.users_channels.as_deref().unwrap_or_default())
                }
                ("createChannel", _) => {
                    let doc = c.response.clone().unwrap_or(Value::Null);
                    let chs = c.users_channels.as_ref().map(|v| json!(v));
                    let cur = c.current_channel.as_ref().map(|v| json!(v));
                    let creator =
                        (chs.is_some() || cur.is_some()).then_some((chs.as_ref(), cur.as_ref()));
                    channel_created_frame(&doc, creator)
                }
                (action, Some(ch)) => {
                    channel_frame(action, c.user_id.as_deref(), ch, c.response.as_ref())
                }
                (action, None) => {
                    json!({"action": action, "userId": c.user_id, "response": c.response})
                        .to_string()
                }
            },
            Self::Other(v) => v.to_string(),
        }
    }
}

/// The greeting a connection gets first, `{action: "connection", response}`;
/// on a numbered connection (`stream` asked for) it names the stream and the
/// last number published before the connection, `(stream, seq)`.
pub fn connection_frame(numbered: Option<(&str, u64)>) -> String {
    let mut v = json!({"action": "connection", "response": CONNECTION_GREETING});
    if let Some((stream, seq)) = numbered {
        v["stream"] = json!(stream);
        v["seq"] = json!(seq);
    }
    v.to_string()
}

/// An error answer, `{code, message, errors?, action: "error", request?}`;
/// `request` names the action it answers.
pub fn error_frame(body: &ErrorBody, request: Option<&str>) -> String {
    let mut v = json!(body);
    if let Some(o) = v.as_object_mut() {
        o.insert("action".into(), json!("error"));
        if let Some(r) = request {
            o.insert("request".into(), json!(r));
        }
    }
    v.to_string()
}

/// The answer to a record action (`find`, `getAll`, `getOne`, `create`,
/// `update`, `patch`, `delete`), `{action, collection, response}`, with the
/// response given as JSON text (records as stored).
pub fn read_frame(action: &str, collection: &str, response: &str) -> String {
    format!(
        "{{\"action\":{},\"collection\":{},\"response\":{}}}",
        json!(action),
        json!(collection),
        response
    )
}

/// The answer to `subscribeWrites`: `{action: "subscribeWrites", id,
/// collection, matched?}`, `matched` naming the writes after the request's
/// `since`, sent before the subscription was in place, that it concerns.
pub fn subscribed_frame(id: u64, collection: &str, matched: &[u64]) -> String {
    let mut v = json!({"action": "subscribeWrites", "id": id, "collection": collection});
    if !matched.is_empty() {
        v["matched"] = json!(matched);
    }
    v.to_string()
}

/// The answer to `unsubscribeWrites`: `{action: "unsubscribeWrites", id}`.
pub fn unsubscribed_frame(id: u64) -> String {
    json!({"action": "unsubscribeWrites", "id": id}).to_string()
}

/// A `subscribeWrites` refused: the error frame, with the subscription's `id`.
pub fn subscription_error_frame(body: &ErrorBody, id: u64) -> String {
    let mut v = json!(body);
    if let Some(o) = v.as_object_mut() {
        o.insert("action".into(), json!("error"));
        o.insert("request".into(), json!("subscribeWrites"));
        o.insert("id".into(), json!(id));
    }
    v.to_string()
}

/// A frame with `"seq": n` (when numbered) and `"subs": [ids]` (when a write
/// concerns subscriptions) put in front of its fields; `frame` must be a JSON
/// object's text. The one place these fields are spliced in, so every path
/// (live, replayed, an answer to the author) spells them alike.
pub fn tagged_frame(frame: &str, seq: Option<u64>, subs: &[u64]) -> String {
    use std::fmt::Write as _;
    let Some(rest) = frame.strip_prefix('{') else {
        return frame.to_owned();
    };
    let mut out = String::with_capacity(frame.len() + 32);
    out.push('{');
    if let Some(n) = seq {
        let _ = write!(out, "\"seq\":{n},");
    }
    if !subs.is_empty() {
        out.push_str("\"subs\":[");
        for (i, id) in subs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{id}");
        }
        out.push_str("],");
    }
    if rest.trim_start().starts_with('}') {
        // An empty object: no comma after the last field put in.
        out.pop();
        if out.is_empty() {
            out.push('{');
        }
    }
    out.push_str(rest);
    out
}

/// The answer to a heartbeat (`ping`).
pub const PONG_FRAME: &str = r#"{"action":"pong"}"#;

/// A channel action's frame, `{action, userId, channelType, channelId,
/// response?}`: with `response` (the user's information record, or `null`) it
/// answers the caller of `joinChannel`, `leaveChannel`, `changeChannel` or
/// `deleteChannel`; without, it tells the channel's other members.
pub fn channel_frame(
    action: &str,
    user: Option<&str>,
    channel: &Channel,
    response: Option<&Value>,
) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Frame<'a> {
        action: &'a str,
        user_id: Option<&'a str>,
        channel_type: &'a str,
        channel_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        response: Option<&'a Value>,
    }
    serde_json::to_string(&Frame {
        action,
        user_id: user,
        channel_type: &channel.channel_type,
        channel_id: &channel.channel_id,
        response,
    })
    .unwrap_or_default()
}

/// The answer to `joinUsersChannels`, `{action, usersChannels}`: the channels
/// the user is now subscribed to.
pub fn users_channels_frame(channels: &[Channel]) -> String {
    json!({"action": "joinUsersChannels", "usersChannels": channels}).to_string()
}

/// A new channel, `{action: "createChannel", response}` with its document; to
/// its creator also `usersChannels` and `usersCurrentChannel` as its information
/// record now holds them (`null` where it holds none).
pub fn channel_created_frame(
    doc: &Value,
    creator: Option<(Option<&Value>, Option<&Value>)>,
) -> String {
    let mut v = json!({"action": "createChannel", "response": doc});
    if let Some((channels, current)) = creator {
        v["usersChannels"] = json!(channels);
        v["usersCurrentChannel"] = json!(current);
    }
    v.to_string()
}

/// The answer to `resume`: `{action: "resume", stream, seq, channels,
/// replayed, gap}`. With `gap` the server could not replay from the asked
/// number (another stream, or history gone), so numbering starts over at `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resumed {
    /// The server's event stream.
    pub stream: String,
    /// The last event number the connection has now seen.
    pub seq: u64,
    /// The channels rejoined.
    pub channels: Vec<Channel>,
    /// How many missed events were sent again before this answer.
    pub replayed: usize,
    /// Whether events may have been missed without being replayed.
    pub gap: bool,
}

impl Resumed {
    /// The answer as a text frame.
    pub fn to_frame(&self) -> String {
        #[derive(Serialize)]
        struct Frame<'a> {
            action: &'static str,
            #[serde(flatten)]
            resumed: &'a Resumed,
        }
        serde_json::to_string(&Frame {
            action: "resume",
            resumed: self,
        })
        .unwrap_or_default()
    }
}

/// The acknowledgement of `subscribeNotifications`: the collections it names,
/// `null` for all.
pub fn notifications_frame(collections: Option<&[String]>) -> String {
    json!({"action": "subscribeNotifications", "collections": collections}).to_string()
}

/// The Backpack message for one written record, `{action, collection,
/// httpRequest?, response}`, without copying the record.
pub fn write_frame(action: WriteAction, collection: &str, http: bool, record: &Value) -> String {
    #[derive(Serialize)]
    struct Frame<'a> {
        action: WriteAction,
        collection: &'a str,
        #[serde(rename = "httpRequest", skip_serializing_if = "std::ops::Not::not")]
        http_request: bool,
        response: &'a Value,
    }
    serde_json::to_string(&Frame {
        action,
        collection,
        http_request: http,
        response: record,
    })
    .unwrap_or_default()
}
