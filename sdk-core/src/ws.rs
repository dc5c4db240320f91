//! Realtime messages: what the server sends over the WebSocket and the rules that
//! decide who receives a database write.

use crate::error::{Error, ErrorBody};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
    /// Any other message (channel actions, application messages), as received.
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
            Self::Other(v) => v.to_string(),
        }
    }
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
    let part = |k: &str| match record.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Some(format!("{}_{}", part("channelType")?, part("channelId")?))
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
