//! Realtime across server processes: every event goes through one NATS
//! JetStream stream, and each process hands what the stream delivers to its own
//! connections. The stream's sequence numbers the events, so every process
//! numbers them alike and a client that drops from one process resumes on
//! another; each process keeps the newest events (taken from the stream at
//! start) for those resumes. Events published together by one process share
//! one stream message, so a busy server sends NATS a message per burst rather
//! than per event.

use super::{Bus, Event, EventKind, Fanout, WriteItem};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// Numbers per stream message: the events in stream message `n` take the
/// numbers from `n * WIDTH` on, one per record of a write. A write of more
/// records goes out as several messages.
const WIDTH: u64 = 1024;

/// Most events one stream message carries.
const MOST_PER_MESSAGE: usize = 256;

/// Events waiting to be sent to NATS; past this a publish is dropped (and
/// logged) rather than holding memory while NATS is unreachable.
const PUBLISH_QUEUE: usize = 65_536;

/// Stream messages awaiting NATS's acknowledgement at once. One: what is
/// published meanwhile waits and goes out together in the next message, so
/// under load the messages grow rather than multiply (NATS's cost is per
/// message, and every process receives each). Measured on 2 cores, 3
/// processes: 5.3 events per message instead of 1.9, and 10-25% more creates.
const IN_FLIGHT: usize = 1;

/// How long a resume waits for this process to receive the number a client
/// saw on another process.
const CATCH_UP: Duration = Duration::from_secs(2);

/// The default stream name.
const DEFAULT_STREAM: &str = "RUCKSACK";

/// Where the bus lives, from `nats://host:port[?stream=NAME]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    /// The server address as async-nats takes it (credentials included).
    pub server: String,
    /// The JetStream stream's name; also names the subject and the key-value
    /// bucket of shared rate limits.
    pub stream: String,
}

impl Target {
    /// Reads a `--bus` URL.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("nats://")
            .ok_or_else(|| format!("no bus for '{}' (nats://host:4222)", redact(url)))?;
        let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
        let host = host.trim_end_matches('/');
        if host.is_empty() {
            return Err("--bus nats:// needs a host (nats://127.0.0.1:4222)".into());
        }
        let mut stream = DEFAULT_STREAM.to_owned();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("stream", v)) => stream = v.to_owned(),
                _ => {
                    return Err(format!(
                        "--bus: unknown parameter '{pair}' (stream=NAME is the one known)"
                    ));
                }
            }
        }
        let valid = !stream.is_empty()
            && stream.len() <= 64
            && stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(format!(
                "--bus: stream '{stream}' must be 1 to 64 letters, digits, '_' or '-'"
            ));
        }
        Ok(Self {
            server: format!("nats://{host}"),
            stream,
        })
    }

    /// The subject the stream holds.
    pub fn subject(&self) -> String {
        format!("rucksack.{}.events", self.stream)
    }
}

/// The URL without credentials, for messages.
fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((scheme_creds, host)) => match scheme_creds.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://…@{host}"),
            None => format!("…@{host}"),
        },
        None => url.to_owned(),
    }
}

/// What travels in a stream message: events in order, and the process that
/// sent them, whose connection ids `except` refers to.
#[derive(Serialize)]
struct Outgoing<'a> {
    origin: &'a str,
    events: &'a [Event],
}

#[derive(Deserialize)]
struct Incoming {
    origin: String,
    events: Vec<Event>,
}

/// The bus through NATS JetStream.
pub struct NatsBus {
    fanout: Arc<Fanout>,
    /// The stream's name and creation time: a stream made anew numbers anew.
    stream: String,
    out: mpsc::Sender<Event>,
    /// The newest number received, for resumes that wait to catch up.
    newest: watch::Receiver<u64>,
    /// The largest message NATS takes.
    max_payload: usize,
    /// The connection, also used for the shared rate limits.
    pub client: async_nats::Client,
    /// Where it lives.
    pub target: Target,
}

impl NatsBus {
    /// Connects, makes the stream when it is not there (keeping at most
    /// `history` events, `history_bytes` of them), takes the newest `history`
    /// events from it, and starts receiving. Fails with the reason when NATS or
    /// JetStream cannot be reached.
    pub async fn open(
        url: &str,
        capacity: usize,
        history: usize,
        history_bytes: usize,
    ) -> Result<Self, String> {
        let target = Target::parse(url)?;
        let client = async_nats::ConnectOptions::new()
            .name("rucksack-server")
            .connection_timeout(Duration::from_secs(5))
            .connect(target.server.as_str())
            .await
            .map_err(|e| format!("cannot reach NATS at {}: {e}", redact(&target.server)))?;
        let js = jetstream::new(client.clone());
        let subject = target.subject();
        let mut made = js
            .get_or_create_stream(stream::Config {
                name: target.stream.clone(),
                subjects: vec![subject.clone()],
                max_messages: history.max(1) as i64,
                max_bytes: history_bytes.max(1) as i64,
                discard: stream::DiscardPolicy::Old,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                format!(
                    "cannot open the JetStream stream '{}' (is JetStream on? nats-server -js): {e}",
                    target.stream
                )
            })?;
        let info = made
            .info()
            .await
            .map_err(|e| format!("cannot read the stream '{}': {e}", target.stream))?;
        let id = format!("{}.{}", target.stream, info.created.unix_timestamp_nanos());
        let last = info.state.last_sequence;
        let start = (last + 1)
            .saturating_sub(history as u64)
            .max(info.state.first_sequence)
            .max(1);
        let fanout = Arc::new(Fanout::new(
            capacity,
            history,
            history_bytes,
            start * WIDTH - 1,
        ));
        let origin = crate::clock::new_id();
        let (newest_tx, newest) = watch::channel(start * WIDTH - 1);
        let mut receiver = Receiver {
            stream: made,
            subject: subject.clone(),
            deliver: client.new_inbox(),
            fanout: fanout.clone(),
            origin: origin.clone(),
            newest: newest_tx,
            next_message: start,
        };
        // The history first, before any connection can subscribe.
        let mut messages = receiver.consume().await?;
        while receiver.next_message <= last {
            match tokio::time::timeout(Duration::from_secs(10), messages.next()).await {
                Ok(Some(Ok(m))) => receiver.take(&m),
                Ok(Some(Err(e))) => tracing::warn!(e = %e, "reading the event history"),
                Ok(None) | Err(_) => {
                    return Err(format!(
                        "the stream '{}' did not deliver its history",
                        target.stream
                    ));
                }
            }
        }
        tokio::spawn(receiver.run(messages));
        let (out, queue) = mpsc::channel(PUBLISH_QUEUE);
        let max_payload = client.server_info().max_payload;
        tokio::spawn(
            Publisher {
                js,
                subject,
                origin,
                max_payload,
            }
            .run(queue),
        );
        Ok(Self {
            fanout,
            stream: id,
            out,
            newest,
            max_payload,
            client,
            target,
        })
    }
}

/// Splits a write into pieces of at most [`WIDTH`] records and about half the
/// largest message NATS takes; other events go whole.
fn pieces(event: Event, max_payload: usize) -> Vec<Event> {
    let Event {
        seq,
        except,
        kind:
            EventKind::Write {
                action,
                collection,
                config,
                items,
            },
    } = event
    else {
        return vec![event];
    };
    let mut out = Vec::new();
    let mut piece: Vec<WriteItem> = Vec::new();
    let mut size = 0;
    let budget = max_payload / 2;
    for item in items {
        let n = 2 * item.frame.len();
        if !piece.is_empty() && (piece.len() as u64 == WIDTH || size + n > budget) {
            out.push(std::mem::take(&mut piece));
            size = 0;
        }
        size += n;
        piece.push(item);
    }
    out.push(piece);
    out.into_iter()
        .map(|items| Event {
            seq,
            except,
            kind: EventKind::Write {
                action,
                collection: collection.clone(),
                config: config.clone(),
                items,
            },
        })
        .collect()
}

#[async_trait::async_trait]
impl Bus for NatsBus {
    fn publish(&self, event: Event) {
        for piece in pieces(event, self.max_payload) {
            if self.out.try_send(piece).is_err() {
                tracing::warn!("NATS is not taking events; one was dropped");
            }
        }
    }

    fn subscribe(&self) -> (broadcast::Receiver<Weak<Event>>, u64) {
        self.fanout.subscribe()
    }

    fn stream(&self) -> &str {
        &self.stream
    }

    async fn since(&self, since: u64) -> Option<Vec<Arc<Event>>> {
        // The client may have seen, on another process, a number this one has
        // not received yet.
        let mut newest = self.newest.clone();
        let _ = tokio::time::timeout(CATCH_UP, newest.wait_for(|n| *n >= since)).await;
        self.fanout.since(since)
    }
}

/// Sends events to the stream in the order published: what waits goes out
/// together (within [`WIDTH`] numbers, [`MOST_PER_MESSAGE`] events and a
/// quarter of NATS's largest message), awaiting up to [`IN_FLIGHT`]
/// acknowledgements at once.
struct Publisher {
    js: jetstream::Context,
    subject: String,
    origin: String,
    max_payload: usize,
}

impl Publisher {
    async fn run(self, mut queue: mpsc::Receiver<Event>) {
        let mut acks = futures_util::stream::FuturesUnordered::new();
        let mut held: Option<Event> = None;
        loop {
            let first = match held.take() {
                Some(ev) => ev,
                None => tokio::select! {
                    next = queue.recv() => match next {
                        Some(ev) => ev,
                        None => break,
                    },
                    Some(r) = acks.next(), if !acks.is_empty() => {
                        if let Err(e) = r {
                            tracing::warn!(e = %e, "NATS did not store an event");
                        }
                        continue;
                    }
                },
            };
            let (mut width, mut bytes) = (first.width(), first.bytes());
            let mut batch = vec![first];
            while batch.len() < MOST_PER_MESSAGE {
                let Ok(ev) = queue.try_recv() else { break };
                if width + ev.width() > WIDTH || bytes + ev.bytes() > self.max_payload / 4 {
                    held = Some(ev);
                    break;
                }
                width += ev.width();
                bytes += ev.bytes();
                batch.push(ev);
            }
            for payload in self.payloads(&batch) {
                match self.js.publish(self.subject.clone(), payload.into()).await {
                    Ok(ack) => acks.push(ack.into_future()),
                    Err(e) => tracing::warn!(e = %e, "an event could not be sent to NATS"),
                }
            }
            while acks.len() >= IN_FLIGHT {
                if let Some(Err(e)) = acks.next().await {
                    tracing::warn!(e = %e, "NATS did not store an event");
                }
            }
        }
        while let Some(r) = acks.next().await {
            if let Err(e) = r {
                tracing::warn!(e = %e, "NATS did not store an event");
            }
        }
    }

    /// The messages for a batch: one, or one per event when together they are
    /// larger than NATS takes; an event larger on its own is dropped (logged).
    fn payloads(&self, batch: &[Event]) -> Vec<Vec<u8>> {
        let encode = |events: &[Event]| {
            serde_json::to_vec(&Outgoing {
                origin: &self.origin,
                events,
            })
            .map_err(|e| tracing::error!(e = %e, "an event could not be written for NATS"))
            .ok()
        };
        match encode(batch) {
            Some(b) if b.len() <= self.max_payload => return vec![b],
            None => return Vec::new(),
            Some(_) if batch.len() == 1 => {}
            Some(_) => {
                return batch.chunks(1).flat_map(|one| self.payloads(one)).collect();
            }
        }
        tracing::warn!(
            max = self.max_payload,
            "an event larger than NATS takes was not sent to other connections"
        );
        Vec::new()
    }
}

/// Takes the stream's messages, in order, to this process's connections.
struct Receiver {
    stream: stream::Stream,
    subject: String,
    deliver: String,
    fanout: Arc<Fanout>,
    origin: String,
    newest: watch::Sender<u64>,
    /// The stream sequence to read from next.
    next_message: u64,
}

type Messages = consumer::push::Ordered;

impl Receiver {
    /// An ordered consumer from the next message on (it follows the stream
    /// across reconnects and recreates itself when it misses one).
    async fn consume(&self) -> Result<Messages, String> {
        let consumer = self
            .stream
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: self.deliver.clone(),
                filter_subject: self.subject.clone(),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: self.next_message,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot follow the event stream: {e}"))?;
        consumer
            .messages()
            .await
            .map_err(|e| format!("cannot follow the event stream: {e}"))
    }

    /// Numbers one message's events and hands them to the connections.
    fn take(&mut self, m: &jetstream::Message) {
        let Ok(info) = m.info() else { return };
        let n = info.stream_sequence;
        if n < self.next_message {
            return;
        }
        self.next_message = n + 1;
        let Incoming { origin, events } = match serde_json::from_slice(&m.payload) {
            Ok(incoming) => incoming,
            Err(e) => {
                tracing::warn!(e = %e, n, "a message on the event stream is not events");
                return;
            }
        };
        let mut seq = n * WIDTH;
        let mut last = None;
        let mut h = self.fanout.lock();
        for mut event in events {
            if seq + event.width() > (n + 1) * WIDTH {
                tracing::warn!(n, "a message on the event stream holds too many records");
                break;
            }
            if origin != self.origin {
                // Connection ids are each process's own.
                event.except = None;
            }
            event.seq = seq;
            seq += event.width();
            if event.seq < h.next {
                continue;
            }
            last = Some(event.last_seq());
            self.fanout.send_locked(&mut h, event);
        }
        drop(h);
        if let Some(last) = last {
            self.newest.send_replace(last);
        }
    }

    /// Receives until the process ends, following the stream again from the
    /// next message whenever the consumer ends.
    async fn run(mut self, mut messages: Messages) {
        loop {
            while let Some(m) = messages.next().await {
                match m {
                    Ok(m) => self.take(&m),
                    Err(e) => tracing::warn!(e = %e, "the event stream"),
                }
            }
            tracing::warn!("the event stream ended; following it again");
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                match self.consume().await {
                    Ok(m) => {
                        messages = m;
                        break;
                    }
                    Err(e) => tracing::warn!(e = %e, "the event stream"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_urls_name_a_host_and_a_stream_and_nothing_else() {
        assert_eq!(
            Target::parse("nats://127.0.0.1:4222"),
            Ok(Target {
                server: "nats://127.0.0.1:4222".into(),
                stream: "RUCKSACK".into()
            })
        );
        let t = Target::parse("nats://u:p@nats:4222/?stream=app_1").expect("valid");
        assert_eq!(
            (t.server.as_str(), t.stream.as_str()),
            ("nats://u:p@nats:4222", "app_1")
        );
        assert_eq!(t.subject(), "rucksack.app_1.events");
        for bad in [
            "redis://x",
            "nats://",
            "nats://h?stream=a.b",
            "nats://h?stream=",
            "nats://h?max=3",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        let e = Target::parse("redis://user:secret@h").expect_err("not nats");
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn large_writes_go_out_in_pieces_each_within_its_numbers() {
        let item = |i: usize| WriteItem {
            record: serde_json::json!({"_id": i.to_string()}),
            channel: None,
            frame: format!("{{\"n\":{i}}}").into(),
        };
        let write = |n: usize| Event {
            seq: 0,
            except: Some(4),
            kind: EventKind::Write {
                action: sdk_core::ws::WriteAction::Create,
                collection: "c".into(),
                config: None,
                items: (0..n).map(item).collect(),
            },
        };
        let sizes = |v: Vec<Event>| {
            v.iter()
                .map(|e| match &e.kind {
                    EventKind::Write { items, .. } => items.len(),
                    _ => 0,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(pieces(write(3), 1 << 20)), vec![3]);
        assert_eq!(sizes(pieces(write(2500), 1 << 20)), vec![1024, 1024, 452]);
        // Frames of 7 bytes (14 counted) within 30: two a piece.
        assert_eq!(sizes(pieces(write(5), 60)), vec![2, 2, 1]);
    }
}
