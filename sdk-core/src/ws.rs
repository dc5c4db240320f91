//! Realtime messages: what the server sends over the WebSocket and the rules that
//! decide who receives a database write.

use crate::error::{Error, ErrorBody};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Text of the greeting sent on every new connection.
pub const CONNECTION_GREETING: &str = "Websocket connection established";

/// A database write, as named in broadcasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteAction {
    /// A record was created (`createResource`).
    Create,
    /// A record was replaced (`overwriteResource`).
    Update,
    /// A record was merged (`updateResource`).
    Patch,
    /// A record was deleted (`deleteResource`).
    Delete,
}

/// A broadcast of a database write: `{action, collection, httpRequest?, response}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteEvent {
    /// What happened.
    pub action: WriteAction,
    /// The collection written to.
    pub collection: String,
    /// `true` when the write came over HTTP rather than the WebSocket.
    #[serde(
        rename = "httpRequest",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub http_request: bool,
    /// The record as written (for a delete: as it was).
    pub response: Value,
}

/// A channel: the collection that holds the channel documents (`channelType`)
/// and the `_id` of one of them (`channelId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// The channel collection, e.g. `"rooms"`.
    pub channel_type: String,
    /// The channel document's id.
    pub channel_id: String,
}

impl Channel {
    /// A channel from its type and id.
    pub fn new(channel_type: impl Into<String>, channel_id: impl Into<String>) -> Self {
        Self {
            channel_type: channel_type.into(),
            channel_id: channel_id.into(),
        }
    }

    /// The routing key, `"<channelType>_<channelId>"`.
    pub fn key(&self) -> String {
        format!("{}_{}", self.channel_type, self.channel_id)
    }

    /// The channel a JSON value names with `channelType` and `channelId` (strings
    /// or numbers); `None` when either is missing or null.
    pub fn of(v: &Value) -> Option<Self> {
        let part = |k: &str| match v.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        Some(Self::new(part("channelType")?, part("channelId")?))
    }
}

/// A message from the client: the Backpack actions, and what the SDKs add for
/// staying connected. Application messages (`sendMessage`) have an action of the
/// app's own choosing and are [`ClientMessage::Message`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all_fields = "camelCase")]
pub enum ClientMessage {
    /// Records of `collection` matching a Mongo-style `query`; answered to the sender.
    #[serde(rename = "find")]
    Find {
        /// The collection.
        collection: String,
        /// A Mongo-style query object (`{field: value}`, `$gt`, `$or`, ...).
        #[serde(default)]
        query: Value,
    },
    /// The first page of a collection; answered to the sender.
    #[serde(rename = "getAll")]
    GetAll {
        /// The collection.
        collection: String,
    },
    /// One record; answered to the sender.
    #[serde(rename = "getOne")]
    GetOne {
        /// The collection.
        collection: String,
        /// The record's id.
        id: String,
    },
    /// Creates a record; broadcast.
    #[serde(rename = "create")]
    Create {
        /// The collection.
        collection: String,
        /// The record's fields.
        data: Value,
    },
    /// Replaces a record; broadcast.
    #[serde(rename = "update")]
    Update {
        /// The collection.
        collection: String,
        /// The record's id.
        id: String,
        /// The new fields.
        data: Value,
    },
    /// Merges into a record (`null` removes a field); broadcast.
    #[serde(rename = "patch")]
    Patch {
        /// The collection.
        collection: String,
        /// The record's id.
        id: String,
        /// The fields to change.
        data: Value,
    },
    /// Deletes a record; broadcast.
    #[serde(rename = "delete")]
    Delete {
        /// The collection.
        collection: String,
        /// The record's id.
        id: String,
    },
    /// Subscribes this connection to every channel in the user's information record.
    #[serde(rename = "joinUsersChannels")]
    JoinUsersChannels {
        /// The users-information collection.
        users_information_collection: String,
    },
    /// Creates a channel document in `channelType` and joins it.
    #[serde(rename = "createChannel")]
    CreateChannel {
        /// The users-information collection.
        users_information_collection: String,
        /// The channel collection.
        channel_type: String,
        /// The channel's name.
        name: String,
    },
    /// Joins a channel: it is added to the user's `channels` and made current.
    #[serde(rename = "joinChannel")]
    JoinChannel {
        /// The users-information collection.
        users_information_collection: String,
        /// The channel collection.
        channel_type: String,
        /// The channel document's id.
        channel_id: String,
    },
    /// Leaves a channel.
    #[serde(rename = "leaveChannel")]
    LeaveChannel {
        /// The users-information collection.
        users_information_collection: String,
        /// The channel collection.
        channel_type: String,
        /// The channel document's id.
        channel_id: String,
    },
    /// Makes a channel the user's current one.
    #[serde(rename = "changeChannel")]
    ChangeChannel {
        /// The users-information collection.
        users_information_collection: String,
        /// The channel collection.
        channel_type: String,
        /// The channel document's id.
        channel_id: String,
    },
    /// Deletes a channel, its messages and every subscription to it.
    #[serde(rename = "deleteChannel")]
    DeleteChannel {
        /// The users-information collection.
        users_information_collection: String,
        /// The collection holding the channel's messages.
        channel_messages_collection: String,
        /// The channel collection.
        channel_type: String,
        /// The channel document's id.
        channel_id: String,
    },
    /// Broadcast to everyone with the sender's `userId` added.
    #[serde(rename = "open")]
    Open(Map<String, Value>),
    /// Broadcast to everyone with the sender's `userId` added.
    #[serde(rename = "close")]
    Close(Map<String, Value>),
    /// From now on, record writes reach this connection as SmartNgRX
    /// notifications `{action, table, ids}` (of these collections only, if named).
    #[serde(rename = "subscribeNotifications")]
    SubscribeNotifications {
        /// The collections to be notified of; all when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        collections: Option<Vec<String>>,
    },
    /// Sent after reconnecting: rejoin `channels` and replay the events after
    /// `since` in stream `stream`.
    #[serde(rename = "resume")]
    Resume {
        /// The event stream the client last read from (the greeting's `stream`).
        stream: String,
        /// The last sequence number the client received.
        since: u64,
        /// The channels to rejoin.
        #[serde(default)]
        channels: Vec<Channel>,
        /// The notification subscription to restore, if there was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notifications: Option<Vec<String>>,
        /// Whether notifications were on (for all collections when `notifications` is absent).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        notify: bool,
    },
    /// A heartbeat; answered `{action: "pong"}`.
    #[serde(rename = "ping")]
    Ping,
    /// An application message (`sendMessage`): broadcast with the sender's
    /// `userId`, to a channel's subscribers when it names `channelType` and `channelId`.
    #[serde(skip)]
    Message(Map<String, Value>),
}

/// Actions the protocol defines; an application message may not use these names
/// (nor the names of server messages).
pub const PROTOCOL_ACTIONS: &[&str] = &[
    "find",
    "getAll",
    "getOne",
    "create",
    "update",
    "patch",
    "delete",
    "sendMessage",
    "joinUsersChannels",
    "createChannel",
    "joinChannel",
    "leaveChannel",
    "changeChannel",
    "deleteChannel",
    "open",
    "close",
    "subscribeNotifications",
    "resume",
    "ping",
    "pong",
    "connection",
    "error",
];

/// The longest application action name.
pub const MAX_ACTION_LEN: usize = 64;

impl ClientMessage {
    /// Parses one text frame from a client. Errors carry the stable code to answer
    /// with: `malformed_json`, `invalid_body` (no string `action`, or fields of the
    /// wrong shape) or `unknown_action` (a name no protocol action or application
    /// message may have).
    pub fn parse(text: &str) -> Result<Self, ErrorBody> {
        use crate::ErrorCode;
        let v: Value = serde_json::from_str(text).map_err(|e| {
            ErrorBody::new(ErrorCode::MalformedJson, format!("malformed JSON: {e}"))
        })?;
        let Value::Object(mut map) = v else {
            return Err(ErrorBody::new(
                ErrorCode::InvalidBody,
                "a message is a JSON object with an 'action'",
            ));
        };
        let Some(Value::String(action)) = map.get("action").cloned() else {
            return Err(ErrorBody::new(
                ErrorCode::InvalidBody,
                "messages need a string 'action'",
            ));
        };
        match action.as_str() {
            "sendMessage" => {
                // The explicit form: `{action: "sendMessage", message: {...}}`.
                return match map.remove("message") {
                    Some(Value::Object(m)) => match m.get("action") {
                        Some(Value::String(a)) if is_app_action(a) => Ok(Self::Message(m)),
                        _ => Err(ErrorBody::new(
                            ErrorCode::InvalidBody,
                            "the message needs an 'action' of the app's own",
                        )),
                    },
                    _ => Err(ErrorBody::new(
                        ErrorCode::InvalidBody,
                        "sendMessage takes a 'message' object",
                    )),
                };
            }
            "open" | "close" => {
                map.shift_remove("action");
                return Ok(if action == "open" {
                    Self::Open(map)
                } else {
                    Self::Close(map)
                });
            }
            "pong" | "connection" | "error" => {
                return Err(ErrorBody::new(
                    ErrorCode::UnknownAction,
                    format!("'{action}' is a message the server sends, not an action"),
                ));
            }
            a if PROTOCOL_ACTIONS.contains(&a) => {}
            a if is_app_action(a) => return Ok(Self::Message(map)),
            a => {
                return Err(ErrorBody::new(
                    ErrorCode::UnknownAction,
                    format!(
                        "unknown action '{}': use a protocol action or an application action \
                         of 1 to {MAX_ACTION_LEN} letters, digits, '_', '-', '.' or ':'",
                        a.chars().take(MAX_ACTION_LEN).collect::<String>()
                    ),
                ));
            }
        }
        serde_json::from_value(Value::Object(map))
            .map_err(|e| ErrorBody::new(ErrorCode::InvalidBody, format!("action '{action}': {e}")))
    }

    /// The frame to send.
    pub fn to_json(&self) -> String {
        match self {
            Self::Message(m) => Value::Object(m.clone()).to_string(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }

    /// The action name on the wire.
    pub fn action(&self) -> &str {
        match self {
            Self::Find { .. } => "find",
            Self::GetAll { .. } => "getAll",
            Self::GetOne { .. } => "getOne",
            Self::Create { .. } => "create",
            Self::Update { .. } => "update",
            Self::Patch { .. } => "patch",
            Self::Delete { .. } => "delete",
            Self::JoinUsersChannels { .. } => "joinUsersChannels",
            Self::CreateChannel { .. } => "createChannel",
            Self::JoinChannel { .. } => "joinChannel",
            Self::LeaveChannel { .. } => "leaveChannel",
            Self::ChangeChannel { .. } => "changeChannel",
            Self::DeleteChannel { .. } => "deleteChannel",
            Self::Open(_) => "open",
            Self::Close(_) => "close",
            Self::SubscribeNotifications { .. } => "subscribeNotifications",
            Self::Resume { .. } => "resume",
            Self::Ping => "ping",
            Self::Message(m) => m.get("action").and_then(Value::as_str).unwrap_or_default(),
        }
    }
}

/// Whether `a` may name an application message: 1 to [`MAX_ACTION_LEN`] of
/// letters, digits, `_ - . :`, and not a protocol or server action.
pub fn is_app_action(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= MAX_ACTION_LEN
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        && !PROTOCOL_ACTIONS.contains(&a)
}

/// What a SmartNgRX notification asks the client to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyAction {
    /// The rows changed (or, for the parent of a created row, gained a child).
    Update,
    /// The rows were deleted.
    Delete,
}

/// A SmartNgRX notification: `{action: "update" | "delete", table, ids}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Update or delete.
    pub action: NotifyAction,
    /// The server's table (collection) name.
    pub table: String,
    /// The rows' ids.
    pub ids: Vec<String>,
}

/// The parent of a collection's rows, for SmartNgRX: a create is announced as an
/// update of the parent row (`collection`, id in the new row's `field`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parent {
    /// The parent collection.
    pub collection: String,
    /// The field of a child row that holds its parent's id.
    pub field: String,
}

/// The SmartNgRX notifications for one write of `records` to `collection`: an
/// update or delete names the rows; a create names the parent rows where the
/// collection has a `parent`, else the new rows. Rows of one write share one message
/// per table.
pub fn notifications(
    action: WriteAction,
    collection: &str,
    parent: Option<&Parent>,
    records: &[&Value],
) -> Vec<Notification> {
    let id_of = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut out: Vec<Notification> = Vec::new();
    let mut push = |action: NotifyAction, table: &str, id: String| match out
        .iter_mut()
        .find(|n| n.table == table && n.action == action)
    {
        Some(n) => {
            if !n.ids.contains(&id) {
                n.ids.push(id);
            }
        }
        None => out.push(Notification {
            action,
            table: table.to_owned(),
            ids: vec![id],
        }),
    };
    for r in records {
        let own = r.get("_id").and_then(id_of);
        match action {
            WriteAction::Delete => {
                if let Some(id) = own {
                    push(NotifyAction::Delete, collection, id);
                }
            }
            WriteAction::Update | WriteAction::Patch => {
                if let Some(id) = own {
                    push(NotifyAction::Update, collection, id);
                }
            }
            WriteAction::Create => {
                let parent_id = parent.and_then(|p| {
                    crate::query::Path::parse(&p.field)
                        .ok()
                        .and_then(|path| crate::query::get_path(r, &path).and_then(id_of))
                        .map(|id| (p.collection.as_str(), id))
                });
                match (parent_id, own) {
                    (Some((table, id)), _) => push(NotifyAction::Update, table, id),
                    (None, Some(id)) => push(NotifyAction::Update, collection, id),
                    (None, None) => {}
                }
            }
        }
    }
    out
}

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
            Self::Channel(c) => {
                let mut m = Map::new();
                m.insert("action".into(), json!(c.action));
                if let Some(u) = &c.user_id {
                    m.insert("userId".into(), json!(u));
                }
                if let Some(ch) = &c.channel
                    && c.action != "createChannel"
                {
                    m.insert("channelType".into(), json!(ch.channel_type));
                    m.insert("channelId".into(), json!(ch.channel_id));
                }
                if let Some(r) = &c.response {
                    m.insert("response".into(), r.clone());
                }
                if matches!(c.action.as_str(), "joinUsersChannels" | "createChannel")
                    && let Some(chs) = &c.users_channels
                {
                    m.insert("usersChannels".into(), json!(chs));
                }
                if c.action == "createChannel"
                    && let Some(cur) = &c.current_channel
                {
                    m.insert("usersCurrentChannel".into(), json!(cur));
                }
                Value::Object(m).to_string()
            }
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

/// The answer to a heartbeat (`ping`).
pub const PONG_FRAME: &str = r#"{"action":"pong"}"#;

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

/// Whether a written record may be broadcast at all: a record whose `broadcast`
/// field is `false` (or the string `"false"`, which older clients send) is not.
pub fn broadcast_allowed(record: &Value) -> bool {
    !matches!(record.get("broadcast"), Some(Value::Bool(false)))
        && record.get("broadcast").and_then(Value::as_str) != Some("false")
}

/// The channel a record is scoped to, `"<channelType>_<channelId>"`, when it names one.
/// Such a record is broadcast only to that channel's members.
pub fn channel_key(record: &Value) -> Option<String> {
    Channel::of(record).map(|c| c.key())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_events_round_trip() {
        let ev = WriteEvent {
            action: WriteAction::Patch,
            collection: "messages".into(),
            http_request: true,
            response: json!({"_id": "a", "text": "hi"}),
        };
        let text = ServerMessage::Write(ev.clone()).to_json();
        assert!(text.contains(r#""httpRequest":true"#));
        assert_eq!(
            ServerMessage::parse(&text).expect("parse"),
            ServerMessage::Write(ev)
        );
    }

    #[test]
    fn the_servers_frames_read_back_as_what_they_say() {
        assert_eq!(
            ServerMessage::parse(&connection_frame(None)).expect("greeting"),
            ServerMessage::Connection(CONNECTION_GREETING.into())
        );
        let numbered: Value =
            serde_json::from_str(&connection_frame(Some(("s1", 7)))).expect("json");
        assert_eq!(
            (numbered["stream"].clone(), numbered["seq"].clone()),
            (json!("s1"), json!(7))
        );
        let body = ErrorBody::new(crate::ErrorCode::NotFound, "no record with that id");
        let e = error_frame(&body, Some("getOne"));
        assert_eq!(
            ServerMessage::parse(&e).expect("error"),
            ServerMessage::Error(body)
        );
        assert!(e.contains(r#""request":"getOne""#), "{e}");
        assert_eq!(
            ServerMessage::parse(&read_frame("find", "todos", r#"[{"_id":"a"}]"#)).expect("read"),
            ServerMessage::Read {
                action: "find".into(),
                collection: "todos".into(),
                response: json!([{"_id": "a"}]),
            }
        );
        assert!(matches!(
            ServerMessage::parse(PONG_FRAME).expect("pong"),
            ServerMessage::Other(_)
        ));
        let all: Value = serde_json::from_str(&notifications_frame(None)).expect("json");
        assert_eq!(
            all,
            json!({"action": "subscribeNotifications", "collections": null})
        );
    }

    #[test]
    fn greeting_and_unknown_messages_parse() {
        let g = ServerMessage::Connection(CONNECTION_GREETING.into()).to_json();
        assert_eq!(
            ServerMessage::parse(&g).expect("greeting"),
            ServerMessage::Connection(CONNECTION_GREETING.into())
        );
        let m = ServerMessage::parse(r#"{"action":"userTyping","userId":"u"}"#).expect("other");
        assert!(matches!(m, ServerMessage::Other(_)));
        assert!(ServerMessage::parse("{").is_err());
    }

    #[test]
    fn channel_messages_are_typed() {
        let answer = json!({"action": "joinChannel", "userId": "u", "channelType": "rooms",
            "channelId": "r1", "response": {"userId": "u", "channels": [
                {"channelType": "rooms", "channelId": "r1"}],
                "currentChannel": {"channelType": "rooms", "channelId": "r1"}}});
        let ServerMessage::Channel(c) = ServerMessage::parse(&answer.to_string()).expect("parse")
        else {
            panic!("a channel event")
        };
        assert_eq!(c.user_id.as_deref(), Some("u"));
        assert_eq!(c.channel, Some(Channel::new("rooms", "r1")));
        assert_eq!(c.users_channels, Some(vec![Channel::new("rooms", "r1")]));
        assert_eq!(c.current_channel, Some(Channel::new("rooms", "r1")));
        let back: Value = serde_json::from_str(&ServerMessage::Channel(c).to_json()).expect("json");
        assert_eq!(back, answer);
        let made =
            json!({"action": "createChannel", "response": {"_id": "r2", "channelType": "rooms"}});
        let ServerMessage::Channel(c) = ServerMessage::parse(&made.to_string()).expect("parse")
        else {
            panic!("a channel event")
        };
        assert_eq!(c.channel, Some(Channel::new("rooms", "r2")));
        assert_eq!(
            c.users_channels, None,
            "an announcement names no one's channels"
        );
    }

    #[test]
    fn broadcast_false_suppresses_in_both_spellings() {
        assert!(broadcast_allowed(&json!({"a": 1})));
        assert!(broadcast_allowed(&json!({"broadcast": true})));
        assert!(!broadcast_allowed(&json!({"broadcast": false})));
        assert!(!broadcast_allowed(&json!({"broadcast": "false"})));
    }

    #[test]
    fn channel_key_needs_both_parts() {
        assert_eq!(
            channel_key(&json!({"channelType": "rooms", "channelId": "r1"})).as_deref(),
            Some("rooms_r1")
        );
        assert_eq!(channel_key(&json!({"channelType": "rooms"})), None);
    }
}
