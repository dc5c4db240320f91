//! The life of a realtime connection, sans IO: what to send after (re)connecting,
//! which frames reach the app, when to send a heartbeat, when to give up on a
//! silent connection, and how long to wait before reconnecting.
//!
//! Both SDKs drive one [`Link`] with the frames they read, the time from their
//! clock and a random number; it never touches a socket or a timer itself, so
//! the native and the browser clients reconnect, resume and dedupe identically.
//!
//! The server numbers the events it broadcasts (`seq`, per `stream`) and keeps a
//! bounded history of them. After a reconnect the link sends one `resume` message
//! with the stream and the last number it saw, and the channels and notification
//! subscription the connection had; the server rejoins those and replays what was
//! missed, or answers `gap: true` when the history no longer reaches back that far
//! (then the app should re-read what it shows).

use crate::error::{ErrorBody, error_parts};
use crate::json::{JsonView, ObjectWriter, push_string, push_uint};
use crate::ws::{Channel, ClientMessage};
use serde_json::Value;
use std::collections::VecDeque;

/// Query parameter that asks the server for numbered events (`seq`) and a stream id.
pub const WS_STREAM_PARAM: &str = "stream";
/// Query parameter that says the connection will send `resume` first, so the
/// server holds events until it has rejoined the channels and replayed.
pub const WS_RESUME_PARAM: &str = "resume";
/// How often the link sends a heartbeat on an otherwise quiet connection, in ms.
pub const HEARTBEAT_MS: u64 = 25_000;
/// How long without any frame before the connection counts as dead, in ms.
pub const DEAD_AFTER_MS: u64 = 60_000;
/// The first reconnect delay, in ms.
pub const BACKOFF_BASE_MS: u64 = 250;
/// The longest reconnect delay, in ms.
pub const BACKOFF_MAX_MS: u64 = 30_000;
/// The most messages held while disconnected.
pub const MAX_OUTBOX: usize = 1_000;

/// The most write frames kept while a subscription waits for its answer.
pub const MAX_RECENT: usize = 1_024;
/// The most channels a link remembers to rejoin (servers allow far fewer).
pub const MAX_CHANNELS: usize = 4_096;

/// What a frame from the server means for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Hand this frame (as JSON text, without the link's own fields) to the app.
    Deliver(String),
    /// Hand the frame to the app exactly as it was received.
    Unchanged,
    /// A write that concerns these write subscriptions (`subscribeWrites`):
    /// hand the frame (without `seq` and `subs`) to the app, and to each.
    Tagged {
        /// The frame as JSON text.
        text: String,
        /// The subscriptions' ids, in the order they were made.
        subs: Vec<u64>,
    },
    /// The server's answer to `subscribeWrites`: the subscription is in place,
    /// or refused (it is then forgotten, and not restored after a reconnect).
    Subscribed {
        /// The subscription's id.
        id: u64,
        /// `Err` with the server's error when refused.
        result: Result<(), ErrorBody>,
        /// The write frames (as delivered) that reached the app after the
        /// subscription was asked for and before it was in place, and that it
        /// concerns: hand them to it first.
        missed: Vec<String>,
    },
    /// The greeting: hand `greeting` to the app (on the first connect only) and
    /// send these frames now (a `resume` after a reconnect, then what was queued).
    Connected {
        /// The greeting for the app, without the link's own fields.
        greeting: Option<String>,
        /// Frames to send.
        send: Vec<String>,
    },
    /// Nothing for the app (a heartbeat answer, a duplicate, a quiet resume).
    Nothing,
}

/// A message the app sends through a [`Link`]. The frames are built as text,
/// so a browser needs no JSON serializer: payloads (records, queries,
/// application messages) are JSON text the caller already has.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A frame sent as it is: an action, an application message.
    Frame(String),
    /// `subscribeNotifications` (of these collections, or all), restored after a reconnect.
    Notifications(Option<Vec<String>>),
    /// `subscribeWrites`, answered by the server and restored after a reconnect.
    SubscribeWrites {
        /// The client's number for it.
        id: u64,
        /// The collection.
        collection: String,
        /// The query as JSON text: a `where` string, a Mongo-style object, or `null`.
        query: String,
        /// The last event number the caller had received, when it knows
        /// better than the link (by default, the link's own).
        since: Option<u64>,
    },
    /// `unsubscribeWrites`.
    UnsubscribeWrites(u64),
}

impl From<&ClientMessage> for Outgoing {
    fn from(m: &ClientMessage) -> Self {
        match m {
            ClientMessage::SubscribeNotifications { collections } => {
                Self::Notifications(collections.clone())
            }
            ClientMessage::SubscribeWrites {
                id,
                collection,
                query,
                since,
            } => Self::SubscribeWrites {
                id: *id,
                collection: collection.clone(),
                query: query.to_string(),
                since: *since,
            },
            ClientMessage::UnsubscribeWrites { id } => Self::UnsubscribeWrites(*id),
            other => Self::Frame(other.to_json()),
        }
    }
}

/// A write subscription the link restores after a reconnect.
#[derive(Debug, Clone, PartialEq)]
struct Restore {
    id: u64,
    collection: String,
    /// JSON text.
    query: String,
}

/// What the clock says to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Nothing yet.
    Wait,
    /// Send this heartbeat frame.
    Ping,
    /// The server has been silent too long: drop the connection and reconnect.
    Reconnect,
}

/// One logical realtime connection across any number of sockets.
#[derive(Debug, Default)]
pub struct Link {
    stream: Option<String>,
    last_seq: u64,
    /// Kept in a list (a handful at most): a tree set is code the browser
    /// build need not carry.
    channels: Vec<Channel>,
    notify: Option<Option<Vec<String>>>,
    /// The write subscriptions to restore after a reconnect, by id.
    writes: Vec<Restore>,
    /// Write subscriptions asked for and not answered yet.
    pending: Vec<u64>,
    /// While some are pending, the untagged write frames received, by number:
    /// the answer says which of them the subscription concerns.
    recent: VecDeque<(u64, String)>,
    attempt: u32,
    connected: bool,
    greeted_once: bool,
    last_frame_ms: u64,
    last_sent_ms: u64,
    outbox: VecDeque<String>,
}

impl Link {
    /// A link that has not connected yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The channels this connection is subscribed to, as far as the server has said.
    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        self.channels.iter()
    }

    /// The last event number received.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Whether a socket is open and greeted.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The query parameters to add to the WebSocket URL for the next connect:
    /// always a numbered stream, and `resume` once there is something to resume.
    pub fn url_params(&self) -> String {
        if self.greeted_once && self.stream.is_some() {
            [WS_STREAM_PARAM, "=1&", WS_RESUME_PARAM, "=1"].concat()
        } else {
            [WS_STREAM_PARAM, "=1"].concat()
        }
    }

    /// A socket opened at `now_ms`; frames wait for the greeting.
    pub fn on_open(&mut self, now_ms: u64) {
        self.last_frame_ms = now_ms;
        self.last_sent_ms = now_ms;
    }

    /// The socket closed: messages are queued until the next greeting.
    pub fn on_close(&mut self) {
        self.connected = false;
    }

    /// Something other than a text frame arrived at `now_ms` (a ping or pong):
    /// the connection is alive.
    pub fn on_alive(&mut self, now_ms: u64) {
        self.last_frame_ms = now_ms;
    }

    /// A message the app sends: the frame to send now, or `None` when it was
    /// queued until the connection is back. Fails when the queue is full.
    pub fn send(
        &mut self,
        msg: impl Into<Outgoing>,
        now_ms: u64,
    ) -> Result<Option<String>, ErrorBody> {
        let frame = match msg.into() {
            Outgoing::Frame(f) => f,
            Outgoing::Notifications(collections) => {
                let mut w = ObjectWriter::action("subscribeNotifications");
                if let Some(c) = &collections {
                    w = w.strings("collections", c.iter().map(String::as_str));
                }
                self.notify = Some(collections);
                w.finish()
            }
            Outgoing::SubscribeWrites {
                id,
                collection,
                query,
                since,
            } => {
                // Numbered from what was received so far, so the answer can
                // name the writes that arrive before the server has it.
                let frame = ObjectWriter::action("subscribeWrites")
                    .uint("id", id)
                    .str("collection", &collection)
                    .raw("query", &query)
                    .uint("since", since.unwrap_or(self.last_seq))
                    .finish();
                let sent = self.send_text(frame, now_ms)?;
                // Kept only once it is sent or queued.
                self.writes.retain(|w| w.id != id);
                self.writes.push(Restore {
                    id,
                    collection,
                    query,
                });
                if !self.pending.contains(&id) {
                    self.pending.push(id);
                }
                return Ok(sent);
            }
            Outgoing::UnsubscribeWrites(id) => {
                self.writes.retain(|w| w.id != id);
                ObjectWriter::action("unsubscribeWrites")
                    .uint("id", id)
                    .finish()
            }
        };
        self.send_text(frame, now_ms)
    }

    /// A frame the app sends as is: as [`Link::send`].
    pub fn send_text(&mut self, frame: String, now_ms: u64) -> Result<Option<String>, ErrorBody> {
        if self.connected {
            self.last_sent_ms = now_ms;
            return Ok(Some(frame));
        }
        if self.outbox.len() >= MAX_OUTBOX {
            return Err(ErrorBody::new(
                crate::ErrorCode::Unavailable,
                [
                    "not connected, and ",
                    &crate::json::uint_text(MAX_OUTBOX as u64),
                    " messages already wait to be sent; retry later",
                ]
                .concat(),
            ));
        }
        self.outbox.push_back(frame);
        Ok(None)
    }

    /// A text frame from the server, received at `now_ms`.
    pub fn on_frame(&mut self, text: &str, now_ms: u64) -> Incoming {
        let json = serde_json::from_str::<Value>(text).ok();
        self.on_frame_view(json.as_ref().as_ref(), now_ms)
    }

    /// [`Link::on_frame`] for a frame already parsed (`json`, `None` when it
    /// is not JSON), whoever parsed it (a browser's `JSON.parse`): the link
    /// never needs the text itself, so a browser need not copy it.
    pub fn on_frame_view<J: JsonView>(&mut self, json: Option<&J>, now_ms: u64) -> Incoming {
        self.last_frame_ms = now_ms;
        let Some(m) = json.filter(|m| m.is_object()) else {
            return Incoming::Unchanged;
        };
        let action = m.str_at("action").unwrap_or_default();
        let uint = |k: &str| m.get(k).and_then(|v| v.uint());
        match action.as_str() {
            "connection" => return self.greeted(m),
            "pong" | "unsubscribeWrites" => return Incoming::Nothing,
            "subscribeWrites" => {
                let Some(id) = uint("id") else {
                    return Incoming::Nothing;
                };
                let matched: Vec<u64> = m
                    .get("matched")
                    .and_then(|a| a.items())
                    .map(|a| a.iter().filter_map(JsonView::uint).collect())
                    .unwrap_or_default();
                let missed = self
                    .recent
                    .iter()
                    .filter(|(seq, _)| matched.contains(seq))
                    .map(|(_, text)| text.clone())
                    .collect();
                self.answered(id);
                return Incoming::Subscribed {
                    id,
                    result: Ok(()),
                    missed,
                };
            }
            "error" if m.str_at("request").as_deref() == Some("subscribeWrites") => {
                if let Some(id) = uint("id") {
                    self.writes.retain(|w| w.id != id);
                    self.answered(id);
                    let body = match error_parts(m) {
                        Some((code, message)) => ErrorBody {
                            code,
                            message,
                            // Where the parser is serde_json's; a browser reads
                            // them from the frame it parsed.
                            errors: m.get("errors").and_then(|e| match e.owned() {
                                Some(Value::Object(map)) => Some(map),
                                _ => None,
                            }),
                        },
                        None => ErrorBody::new(
                            crate::ErrorCode::Internal,
                            "the subscription was refused",
                        ),
                    };
                    return Incoming::Subscribed {
                        id,
                        result: Err(body),
                        missed: Vec::new(),
                    };
                }
            }
            "resume" => {
                // Each field the answer holds updates the link; one it lacks
                // leaves the link's own.
                if let Some(chs) = m.get("channels").and_then(|c| c.items()) {
                    self.channels.clear();
                    for c in chs.iter().filter_map(Channel::from_view) {
                        self.join(c);
                    }
                }
                let gap = m.get("gap").and_then(|g| g.boolean()) == Some(true);
                if let Some(seq) = uint("seq") {
                    // After a gap (a restarted server, say) numbering starts over.
                    self.last_seq = if gap { seq } else { self.last_seq.max(seq) };
                }
                if let Some(s) = m.str_at("stream") {
                    self.stream = Some(s);
                }
                if gap {
                    return Incoming::Unchanged;
                }
                return Incoming::Nothing;
            }
            _ => {}
        }
        // Only a write frame can concern a subscription.
        let write = matches!(action.as_str(), "create" | "update" | "patch" | "delete")
            && m.get("collection").is_some();
        let numbered = uint("seq");
        if let Some(seq) = numbered {
            if seq <= self.last_seq {
                return Incoming::Nothing;
            }
            self.last_seq = seq;
        }
        let subs: Vec<u64> = if write {
            m.get("subs")
                .and_then(|a| a.items())
                .map(|a| a.iter().filter_map(JsonView::uint).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        self.track_channels(m, &action);
        let own: &[&str] = if write { &["seq", "subs"] } else { &["seq"] };
        // Only a frame that carries the link's own fields is written anew.
        let Some(text) = (numbered.is_some() || (write && m.get("subs").is_some()))
            .then(|| m.to_json_without(own))
        else {
            return Incoming::Unchanged;
        };
        // Tagged or not: a write that concerned other subscriptions may
        // concern the one being made too.
        if let Some(seq) = numbered
            && write
            && !self.pending.is_empty()
        {
            if self.recent.len() >= MAX_RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back((seq, text.clone()));
        }
        if subs.is_empty() {
            Incoming::Deliver(text)
        } else {
            Incoming::Tagged { text, subs }
        }
    }

    fn greeted<J: JsonView>(&mut self, m: &J) -> Incoming {
        self.connected = true;
        self.attempt = 0;
        let stream = m.str_at("stream");
        let seq = m.get("seq").and_then(|v| v.uint());
        let mut send = Vec::new();
        let first = !self.greeted_once;
        self.greeted_once = true;
        match &self.stream {
            Some(old) if !first => send.push(self.resume_frame(old)),
            _ => {
                self.stream = stream;
                self.last_seq = seq.unwrap_or(0);
            }
        }
        send.extend(self.outbox.drain(..));
        // The app sees the greeting once, as the Backpack server sends it.
        let greeting = first.then(|| m.to_json_without(&["stream", "seq"]));
        Incoming::Connected { greeting, send }
    }

    /// The `resume` frame: the stream, the last event number, and what the
    /// connection had (channels, notifications, write subscriptions).
    fn resume_frame(&self, stream: &str) -> String {
        let mut channels = String::from("[");
        for (i, c) in self.channels.iter().enumerate() {
            if i > 0 {
                channels.push(',');
            }
            channels.push_str(
                &ObjectWriter::new()
                    .str("channelType", &c.channel_type)
                    .str("channelId", &c.channel_id)
                    .finish(),
            );
        }
        channels.push(']');
        let mut w = ObjectWriter::action("resume")
            .str("stream", stream)
            .uint("since", self.last_seq)
            .raw("channels", &channels);
        if let Some(notify) = &self.notify {
            if let Some(c) = notify {
                w = w.strings("notifications", c.iter().map(String::as_str));
            }
            w = w.bool("notify", true);
        }
        if !self.writes.is_empty() {
            let mut writes = String::from("[");
            for (i, r) in self.writes.iter().enumerate() {
                if i > 0 {
                    writes.push(',');
                }
                writes.push_str("{\"id\":");
                push_uint(&mut writes, r.id);
                writes.push_str(",\"collection\":");
                push_string(&mut writes, &r.collection);
                writes.push_str(",\"query\":");
                writes.push_str(&r.query);
                writes.push('}');
            }
            writes.push(']');
            w = w.raw("writes", &writes);
        }
        w.finish()
    }

    /// Subscription `id` has its answer: once none waits, the frames kept
    /// for them go.
    fn answered(&mut self, id: u64) {
        self.pending.retain(|p| *p != id);
        if self.pending.is_empty() {
            self.recent.clear();
        }
    }

    /// Notes a joined channel (once; at most [`MAX_CHANNELS`], whatever a
    /// server says).
    fn join(&mut self, c: Channel) {
        if self.channels.len() < MAX_CHANNELS && !self.channels.contains(&c) {
            self.channels.push(c);
        }
    }

    /// Keeps the set of joined channels from the server's answers.
    fn track_channels<J: JsonView>(&mut self, m: &J, action: &str) {
        let mine = m.get("response").is_some();
        match action {
            "joinUsersChannels" => {
                if let Some(chs) = m.get("usersChannels").and_then(|c| c.items()) {
                    for c in chs.iter().filter_map(Channel::from_view) {
                        self.join(c);
                    }
                }
            }
            "createChannel" if m.get("usersChannels").is_some() => {
                if let Some(r) = m.get("response")
                    && let Some(id) = r.str_at("_id")
                    && let Some(t) = r.str_at("channelType")
                {
                    self.join(Channel::new(t, id));
                }
            }
            "joinChannel" if mine => {
                if let Some(c) = Channel::from_view(m) {
                    self.join(c);
                }
            }
            "leaveChannel" | "deleteChannel" if mine || action == "deleteChannel" => {
                if let Some(c) = Channel::from_view(m) {
                    self.channels.retain(|k| *k != c);
                }
            }
            _ => {}
        }
    }

    /// What to do at `now_ms`: a heartbeat after [`HEARTBEAT_MS`] without sending,
    /// a reconnect after [`DEAD_AFTER_MS`] without hearing anything.
    pub fn tick(&mut self, now_ms: u64) -> Tick {
        if !self.connected {
            return Tick::Wait;
        }
        if now_ms.saturating_sub(self.last_frame_ms) >= DEAD_AFTER_MS {
            return Tick::Reconnect;
        }
        if now_ms.saturating_sub(self.last_sent_ms) >= HEARTBEAT_MS {
            self.last_sent_ms = now_ms;
            return Tick::Ping;
        }
        Tick::Wait
    }

    /// The heartbeat frame.
    pub fn ping_frame() -> String {
        ObjectWriter::action("ping").finish()
    }

    /// How long to wait before the next reconnect attempt: exponential from
    /// [`BACKOFF_BASE_MS`] to [`BACKOFF_MAX_MS`], with "equal jitter" from
    /// `random` in `[0, 1)` so that clients dropped together do not return together.
    pub fn reconnect_delay_ms(&mut self, random: f64) -> u64 {
        let exp = BACKOFF_BASE_MS.saturating_mul(1u64 << self.attempt.min(16));
        let cap = exp.min(BACKOFF_MAX_MS);
        self.attempt = self.attempt.saturating_add(1);
        let r = random.clamp(0.0, 1.0);
        let half = cap / 2;
        half + (half as f64 * r) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn greet(l: &mut Link, stream: &str, seq: u64) -> Incoming {
        l.on_frame(
            &json!({"action": "connection", "response": "hi", "stream": stream, "seq": seq})
                .to_string(),
            0,
        )
    }

    #[test]
    fn first_greeting_reaches_the_app_without_link_fields() {
        let mut l = Link::new();
        assert_eq!(
            greet(&mut l, "s1", 7),
            Incoming::Connected {
                greeting: Some(r#"{"action":"connection","response":"hi"}"#.into()),
                send: vec![]
            }
        );
        assert_eq!(l.last_seq(), 7);
    }

    #[test]
    fn duplicates_are_dropped_and_seq_is_stripped() {
        let mut l = Link::new();
        greet(&mut l, "s1", 0);
        let ev = |n: u64| json!({"seq": n, "action": "create", "collection": "m"}).to_string();
        assert_eq!(
            l.on_frame(&ev(1), 0),
            Incoming::Deliver(r#"{"action":"create","collection":"m"}"#.into())
        );
        assert_eq!(l.on_frame(&ev(1), 0), Incoming::Nothing);
        assert!(matches!(l.on_frame(&ev(3), 0), Incoming::Deliver(_)));
        assert_eq!(l.on_frame(&ev(2), 0), Incoming::Nothing);
    }

    #[test]
    fn reconnect_resumes_with_channels_and_queued_messages() {
        let mut l = Link::new();
        greet(&mut l, "s1", 0);
        l.on_frame(
            &json!({"action": "joinChannel", "userId": "u", "channelType": "rooms",
                "channelId": "r1", "response": {}})
            .to_string(),
            0,
        );
        l.on_frame(&json!({"seq": 4, "action": "x"}).to_string(), 0);
        l.on_close();
        let queued = l
            .send(
                &ClientMessage::GetAll {
                    collection: "m".into(),
                },
                0,
            )
            .expect("queued");
        assert_eq!(queued, None);
        let Incoming::Connected {
            greeting: None,
            send: frames,
        } = greet(&mut l, "s1", 9)
        else {
            panic!("expected frames to send and no second greeting");
        };
        let resume: Value = serde_json::from_str(&frames[0]).expect("json");
        assert_eq!(resume["action"], "resume");
        assert_eq!(resume["since"], 4);
        assert_eq!(resume["stream"], "s1");
        assert_eq!(resume["channels"][0]["channelId"], "r1");
        assert!(frames[1].contains("getAll"));
        // A quiet resume answer is the link's own business; a gap reaches the app.
        assert_eq!(
            l.on_frame(r#"{"action":"resume","stream":"s1","seq":9}"#, 0),
            Incoming::Nothing
        );
        assert_eq!(
            l.on_frame(r#"{"action":"resume","gap":true}"#, 0),
            Incoming::Unchanged
        );
        // A frame without the link's fields reaches the app as it came.
        assert_eq!(
            l.on_frame(r#"{"action":"typing",  "userId":"u"}"#, 0),
            Incoming::Unchanged
        );
        assert_eq!(l.on_frame("not json", 0), Incoming::Unchanged);
    }

    #[test]
    fn leaving_and_deleting_channels_forgets_them() {
        let mut l = Link::new();
        greet(&mut l, "s", 0);
        l.on_frame(
            r#"{"action":"joinUsersChannels","usersChannels":[{"channelType":"r","channelId":"1"},{"channelType":"r","channelId":"2"}]}"#,
            0,
        );
        l.on_frame(
            r#"{"action":"leaveChannel","channelType":"r","channelId":"1","response":{}}"#,
            0,
        );
        // Another user leaving is not this connection leaving.
        l.on_frame(
            r#"{"action":"leaveChannel","userId":"x","channelType":"r","channelId":"2"}"#,
            0,
        );
        assert_eq!(l.channels().count(), 1);
        l.on_frame(
            r#"{"action":"deleteChannel","channelType":"r","channelId":"2","response":{}}"#,
            0,
        );
        assert_eq!(l.channels().count(), 0);
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let mut l = Link::new();
        let d: Vec<u64> = (0..20).map(|_| l.reconnect_delay_ms(0.999)).collect();
        assert!(d[0] >= BACKOFF_BASE_MS / 2 && d[0] < BACKOFF_BASE_MS);
        assert!(d[3] > d[2] && d[2] > d[1]);
        assert!(d.iter().all(|&x| x < BACKOFF_MAX_MS));
        let mut l2 = Link::new();
        assert_eq!(l2.reconnect_delay_ms(0.0), BACKOFF_BASE_MS / 2);
    }

    #[test]
    fn heartbeat_then_dead_connection() {
        let mut l = Link::new();
        l.on_open(0);
        greet(&mut l, "s", 0);
        assert_eq!(l.tick(1_000), Tick::Wait);
        assert_eq!(l.tick(HEARTBEAT_MS), Tick::Ping);
        assert_eq!(l.tick(HEARTBEAT_MS + 1), Tick::Wait);
        assert_eq!(l.tick(DEAD_AFTER_MS), Tick::Reconnect);
    }

    #[test]
    fn a_full_outbox_refuses() {
        let mut l = Link::new();
        for _ in 0..MAX_OUTBOX {
            l.send(&ClientMessage::Ping, 0).expect("fits");
        }
        assert!(l.send(&ClientMessage::Ping, 0).is_err());
    }

    #[test]
    fn write_subscriptions_are_answered_tagged_and_restored_on_resume() {
        let mut l = Link::new();
        greet(&mut l, "s1", 0);
        let sub = |id: u64, q: Value| ClientMessage::SubscribeWrites {
            id,
            collection: "tasks".into(),
            query: q,
            since: None,
        };
        l.send(&sub(1, json!("done = true")), 0).expect("sent");
        l.send(&sub(2, json!({"n": {"$gt": 1}})), 0).expect("sent");
        l.send(&sub(3, Value::Null), 0).expect("sent");
        assert_eq!(
            l.on_frame(
                r#"{"action":"subscribeWrites","id":1,"collection":"tasks"}"#,
                0
            ),
            Incoming::Subscribed {
                id: 1,
                result: Ok(()),
                missed: vec![]
            }
        );
        let refused = l.on_frame(
            r#"{"code":"invalid_query","message":"no","action":"error","request":"subscribeWrites","id":2}"#,
            0,
        );
        let Incoming::Subscribed {
            id: 2,
            result: Err(e),
            ..
        } = refused
        else {
            panic!("expected the refusal of 2, got {refused:?}");
        };
        assert_eq!(e.code, crate::ErrorCode::InvalidQuery);
        // The per-field problems of a refusal reach the caller.
        l.send(&sub(6, json!("a >>> 1")), 0).expect("sent");
        let refused = l.on_frame(
            r#"{"code":"invalid_query","message":"no","errors":{"where":"bad"},"action":"error","request":"subscribeWrites","id":6}"#,
            0,
        );
        let Incoming::Subscribed { result: Err(e), .. } = refused else {
            panic!("expected the refusal of 6, got {refused:?}");
        };
        assert_eq!(
            e.errors.and_then(|m| m.get("where").cloned()),
            Some(json!("bad"))
        );
        l.send(&ClientMessage::UnsubscribeWrites { id: 3 }, 0)
            .expect("sent");
        assert_eq!(
            l.on_frame(r#"{"action":"unsubscribeWrites","id":3}"#, 0),
            Incoming::Nothing
        );
        // A tagged write reaches the app without the link's fields.
        assert_eq!(
            l.on_frame(
                r#"{"seq":1,"subs":[1],"action":"create","collection":"tasks","response":{}}"#,
                0
            ),
            Incoming::Tagged {
                text: r#"{"action":"create","collection":"tasks","response":{}}"#.into(),
                subs: vec![1]
            }
        );
        // After a drop, resume restores only the subscription still in place.
        l.on_close();
        let Incoming::Connected { send, .. } = greet(&mut l, "s1", 5) else {
            panic!("expected to be connected");
        };
        let resume: Value = serde_json::from_str(&send[0]).expect("json");
        assert_eq!(
            resume["writes"],
            json!([{"id": 1, "collection": "tasks", "query": "done = true"}])
        );
    }

    #[test]
    fn writes_received_while_a_subscription_is_made_are_handed_to_it() {
        let mut l = Link::new();
        greet(&mut l, "s1", 5);
        let frame = l
            .send(
                &ClientMessage::SubscribeWrites {
                    id: 4,
                    collection: "tasks".into(),
                    query: json!("n > 1"),
                    since: None,
                },
                0,
            )
            .expect("sent")
            .expect("connected");
        // It says how far the client had read.
        let sent: Value = serde_json::from_str(&frame).expect("json");
        assert_eq!(sent["since"], 5);
        let w = |seq: u64, n: u64| {
            json!({"seq": seq, "action": "create", "collection": "tasks", "response": {"n": n}})
                .to_string()
        };
        assert!(matches!(l.on_frame(&w(6, 1), 0), Incoming::Deliver(_)));
        assert!(matches!(l.on_frame(&w(7, 2), 0), Incoming::Deliver(_)));
        // One already tagged for another subscription may concern this one too.
        let tagged =
            r#"{"seq":8,"subs":[1],"action":"create","collection":"tasks","response":{"n":3}}"#;
        assert!(matches!(l.on_frame(tagged, 0), Incoming::Tagged { .. }));
        // Only a write frame can be tagged: an app message's "subs" stays its own.
        let message = r#"{"seq":9,"action":"typing","subs":[4],"userId":"u"}"#;
        assert_eq!(
            l.on_frame(message, 0),
            Incoming::Deliver(r#"{"action":"typing","subs":[4],"userId":"u"}"#.into())
        );
        let answer = l.on_frame(
            r#"{"action":"subscribeWrites","id":4,"collection":"tasks","matched":[7,8]}"#,
            0,
        );
        let create = |n: u64| {
            format!(r#"{{"action":"create","collection":"tasks","response":{{"n":{n}}}}}"#)
        };
        assert_eq!(
            answer,
            Incoming::Subscribed {
                id: 4,
                result: Ok(()),
                missed: vec![create(2), create(3)]
            }
        );
        // Nothing waits any more: nothing is kept.
        l.on_frame(&w(10, 3), 0);
        assert!(l.recent.is_empty());
    }

    #[test]
    fn frames_built_as_text_are_the_messages_the_server_parses() {
        let mut l = Link::new();
        greet(&mut l, "s1", 3);
        let mut sent = |o: Outgoing| {
            let frame = l.send(o, 0).expect("sent").expect("connected");
            ClientMessage::parse(&frame).expect("the server reads it")
        };
        assert_eq!(
            sent(Outgoing::Notifications(Some(vec!["a\"b".into()]))),
            ClientMessage::SubscribeNotifications {
                collections: Some(vec!["a\"b".into()])
            }
        );
        assert_eq!(
            sent(Outgoing::Notifications(None)),
            ClientMessage::SubscribeNotifications { collections: None }
        );
        assert_eq!(
            sent(Outgoing::SubscribeWrites {
                id: 2,
                collection: "tasks".into(),
                query: r#"{"n":{"$gt":1}}"#.into(),
                since: None
            }),
            ClientMessage::SubscribeWrites {
                id: 2,
                collection: "tasks".into(),
                query: json!({"n": {"$gt": 1}}),
                since: Some(3)
            }
        );
        assert_eq!(
            sent(Outgoing::UnsubscribeWrites(2)),
            ClientMessage::UnsubscribeWrites { id: 2 }
        );
        assert_eq!(
            ClientMessage::parse(&Link::ping_frame()).expect("parsed"),
            ClientMessage::Ping
        );
        // A resume with everything the link restores.
        l.send(
            Outgoing::SubscribeWrites {
                id: 5,
                collection: "c".into(),
                query: "null".into(),
                since: None,
            },
            0,
        )
        .expect("sent");
        l.on_frame(
            r#"{"action":"joinChannel","channelType":"rooms","channelId":"r\"1","response":{}}"#,
            0,
        );
        l.on_close();
        let Incoming::Connected { send, .. } = greet(&mut l, "s1", 9) else {
            panic!("expected to be connected");
        };
        assert_eq!(
            ClientMessage::parse(&send[0]).expect("parsed"),
            ClientMessage::Resume {
                stream: "s1".into(),
                since: 3,
                channels: vec![Channel::new("rooms", "r\"1")],
                notifications: None,
                notify: true,
                writes: vec![crate::ws::WriteSubscription {
                    id: 5,
                    collection: "c".into(),
                    query: Value::Null
                }],
            }
        );
    }
}
