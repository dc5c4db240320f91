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

use crate::error::ErrorBody;
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
                    // A browser reads the per-field errors from the frame it parsed.
                    let body = ErrorBody::from_view(m).unwrap_or_else(|| {
                        ErrorBody::new(crate::ErrorCode::Internal, "the subscription was refused")
                    });
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
mod tests;
