//! Realtime messages: what the server sends over the WebSocket and the rules that
//! decide who receives a database write.

use crate::error::ErrorBody;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

impl WriteAction {
    /// The name on the wire: `create`, `update`, `patch` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
        }
    }
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
        Self::from_view(&v)
    }

    /// [`Channel::of`], however the value was parsed.
    pub fn from_view<J: crate::json::JsonView>(v: &J) -> Option<Self> {
        let part = |k: &str| {
            let p = v.get(k)?;
            p.string().or_else(|| p.number().and(p.scalar_text()))
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
    /// From now on, write frames whose record matches `query` carry `id` in
    /// their `subs` list (see [`crate::subscribe`]); answered
    /// `{action: "subscribeWrites", id, collection, matched?}`, or an error
    /// frame with this `id`. The same id again replaces the subscription.
    #[serde(rename = "subscribeWrites")]
    SubscribeWrites {
        /// The client's number for it, echoed in `subs`.
        id: u64,
        /// The collection.
        collection: String,
        /// A `where` string, a Mongo-style object, or `null` for every record.
        #[serde(default)]
        query: Value,
        /// The last event number the client had received when it subscribed:
        /// the answer names the writes numbered after it (and already sent)
        /// that the subscription concerns, so none is missed while it is made.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
    },
    /// Ends a write subscription; answered `{action: "unsubscribeWrites", id}`.
    #[serde(rename = "unsubscribeWrites")]
    UnsubscribeWrites {
        /// The subscription's id.
        id: u64,
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
        /// The write subscriptions to restore before the replay, so replayed
        /// writes are tagged as live ones are.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        writes: Vec<WriteSubscription>,
    },
    /// A heartbeat; answered `{action: "pong"}`.
    #[serde(rename = "ping")]
    Ping,
    /// An application message (`sendMessage`): broadcast with the sender's
    /// `userId`, to a channel's subscribers when it names `channelType` and `channelId`.
    #[serde(skip)]
    Message(Map<String, Value>),
}

/// A write subscription as `subscribeWrites` makes it and `resume` restores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteSubscription {
    /// The client's number for it.
    pub id: u64,
    /// The collection.
    pub collection: String,
    /// A `where` string, a Mongo-style object, or `null`.
    #[serde(default)]
    pub query: Value,
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
    "subscribeWrites",
    "unsubscribeWrites",
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
            Self::SubscribeWrites { .. } => "subscribeWrites",
            Self::UnsubscribeWrites { .. } => "unsubscribeWrites",
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

mod notify;
mod server;

pub use notify::*;
pub use server::*;

#[cfg(test)]
mod tests;
