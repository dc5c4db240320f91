//! Realtime: the fan-out bus that carries writes and messages to every
//! connected client, its numbered history, and the counts of open connections.

mod nats;
mod sockets;

pub use nats::NatsBus;

pub use sockets::{Full, Slot, Sockets, open_slot};

use sdk_core::ws::{Channel, WriteAction, broadcast_allowed, write_frame};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// One message for the connected clients. The bus numbers events: an event
/// holding `n` frames takes the numbers `seq .. seq + n`.
///
/// An event is plain data (serde), so a bus shared by several server processes
/// can carry it; the one thing it does not carry is the collection's
/// configuration, which the publishing process attaches as a shortcut and a
/// receiving process looks up.
#[derive(Debug, Serialize, Deserialize)]
pub struct Event {
    /// The first sequence number, set by the bus.
    pub seq: u64,
    /// The connection that caused it, which does not receive it (it got its
    /// answer). Connection ids are this process's own.
    pub except: Option<u64>,
    /// What happened.
    pub kind: EventKind,
}

/// What an event carries.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum EventKind {
    /// Records written by one request. Each reaches a connection only if the
    /// collection's read rule lets its user read it (as the On GET script shows
    /// it to them), and a record naming a channel only reaches that channel.
    Write {
        /// What happened.
        action: WriteAction,
        /// The collection.
        collection: String,
        /// Its configuration when written (read rule, On GET script, parent),
        /// attached by the process that published it; `None` after crossing a
        /// process boundary, where the receiver uses its own.
        #[serde(skip)]
        config: Option<Arc<crate::app::Collection>>,
        /// The records, each with its channel and its Backpack message.
        items: Vec<WriteItem>,
    },
    /// A message (application, `open`/`close`, a channel announcement), to a
    /// channel's subscribers or to everyone; when `visible` names a record, only
    /// to users who may read it.
    Message {
        /// The channel key, if scoped to one.
        channel: Option<String>,
        /// The frame, shared by every connection that receives it.
        #[serde(with = "text")]
        text: Utf8Bytes,
        /// A record the receiver must be able to read: (collection, record).
        visible: Option<(String, Value)>,
        /// Only this user's connections receive it (a script's `emit`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    /// Credentials stopped being good: the connections signed in with them end.
    /// Not kept in the history (a resuming connection has live credentials).
    Revoked(Revoked),
    /// A channel was deleted: each subscribed connection gets its user's updated
    /// information record and leaves the channel.
    ChannelDeleted {
        /// The channel.
        channel: Channel,
        /// Who deleted it.
        by: Option<String>,
        /// The users' updated information records, by user id.
        records: HashMap<String, Value>,
    },
}

/// Credentials that stopped being good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Revoked {
    /// A session ended (logout): the hash of its token.
    Session(String),
    /// Every session of a user ended but `except` (a password change; a deleted account).
    User {
        /// The user.
        user: String,
        /// The hash of the session that stays, if any.
        except: Option<String>,
    },
    /// An API key was revoked: its hash.
    Key(String),
}

impl Revoked {
    /// Why a connection signed in with these credentials ends, if it does.
    pub fn ends(&self, user: Option<&str>, session: Option<&str>, key: Option<&str>) -> bool {
        match self {
            Self::Session(s) => session == Some(s.as_str()),
            Self::User { user: u, except } => {
                user == Some(u.as_str()) && (except.is_none() || session != except.as_deref())
            }
            Self::Key(k) => key == Some(k.as_str()),
        }
    }
}

/// Ends every connection signed in with credentials that stopped being good.
pub fn publish_revoked(app: &crate::app::App, what: Revoked) {
    app.bus.publish(Event {
        seq: 0,
        except: None,
        kind: EventKind::Revoked(what),
    });
}

/// Keeps this process's remembered sessions in step with credentials ended
/// anywhere on the bus (a logout on another server), so none outlives its end
/// here by the session cache's second. Runs until the bus closes.
pub async fn forget_revoked(app: Arc<crate::app::App>) {
    let (mut events, _) = app.bus.subscribe();
    loop {
        let ev = match events.recv().await {
            Ok(ev) => ev,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(ev) = ev.upgrade() else { continue };
        match &ev.kind {
            EventKind::Revoked(Revoked::Session(hash)) => {
                app.store.forget_sessions(Some(hash), None, None);
            }
            EventKind::Revoked(Revoked::User { user, except }) => {
                app.store
                    .forget_sessions(None, Some(user), except.as_deref());
            }
            _ => {}
        }
    }
}

/// One record of a write event.
#[derive(Debug, Serialize, Deserialize)]
pub struct WriteItem {
    /// The record as written (for a delete: as it was).
    pub record: Value,
    /// Its channel key, when it names a channel.
    pub channel: Option<String>,
    /// The Backpack message for it, shared by every connection that receives it.
    #[serde(with = "text")]
    pub frame: Utf8Bytes,
}

/// A frame as a JSON string.
mod text {
    use serde::{Deserialize, Deserializer, Serializer};
    use tokio_tungstenite::tungstenite::Utf8Bytes;

    pub fn serialize<S: Serializer>(t: &Utf8Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Utf8Bytes, D::Error> {
        String::deserialize(d).map(Utf8Bytes::from)
    }
}

impl Event {
    /// How many sequence numbers the event takes.
    pub fn width(&self) -> u64 {
        match &self.kind {
            EventKind::Write { items, .. } => items.len().max(1) as u64,
            _ => 1,
        }
    }

    /// The last sequence number the event holds.
    pub fn last_seq(&self) -> u64 {
        self.seq + self.width() - 1
    }

    /// About how much memory the event holds: its frames, and its records
    /// (counted at their frame's size again).
    pub fn bytes(&self) -> usize {
        let records = match &self.kind {
            EventKind::Write { items, .. } => items.iter().map(|i| 2 * i.frame.len()).sum(),
            EventKind::Message { text, visible, .. } => {
                text.len() + visible.as_ref().map_or(0, |(_, v)| json_size(v))
            }
            EventKind::ChannelDeleted { records, .. } => records.values().map(json_size).sum(),
            EventKind::Revoked(_) => 0,
        };
        std::mem::size_of::<Self>() + records
    }
}

fn json_size(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(0, |b| b.len())
}

/// Fans events out to every connection of every server process that shares the
/// database, numbering them and keeping a bounded history for clients that
/// reconnect: [`LocalBus`] in one process, [`NatsBus`] across processes.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Numbers an event and sends it to all subscribers.
    fn publish(&self, event: Event);
    /// A new subscription and the last number published before it, taken together
    /// so that every event it receives is numbered after that.
    /// An event that is gone when received (`Weak::upgrade` fails) was dropped
    /// before this subscriber read it: the subscriber fell too far behind.
    fn subscribe(&self) -> (broadcast::Receiver<Weak<Event>>, u64);
    /// This stream's id: numbers are only comparable within one stream.
    fn stream(&self) -> &str;
    /// The events after `since`, or `None` when the history no longer reaches
    /// back that far (or `since` is a number this stream has not reached).
    async fn since(&self, since: u64) -> Option<Vec<Arc<Event>>>;
}

/// The in-process bus: numbers events in publishing order and hands them to a
/// [`Fanout`].
pub struct LocalBus {
    fanout: Fanout,
    stream: String,
}

impl LocalBus {
    /// A bus that buffers up to `capacity` events per slow subscriber and keeps
    /// the last `history` events, at most `history_bytes` of them, for clients
    /// that reconnect.
    pub fn new(capacity: usize, history: usize, history_bytes: usize) -> Self {
        Self {
            fanout: Fanout::new(capacity, history, history_bytes, 0),
            stream: crate::clock::new_id(),
        }
    }
}

#[async_trait::async_trait]
impl Bus for LocalBus {
    fn publish(&self, mut event: Event) {
        let mut h = self.fanout.lock();
        event.seq = h.next;
        self.fanout.send_locked(&mut h, event);
    }

    fn subscribe(&self) -> (broadcast::Receiver<Weak<Event>>, u64) {
        self.fanout.subscribe()
    }

    fn stream(&self) -> &str {
        &self.stream
    }

    async fn since(&self, since: u64) -> Option<Vec<Arc<Event>>> {
        self.fanout.since(since)
    }
}

/// Hands numbered events to this process's subscribers. Events reach them
/// through a ring of `capacity` weak references; the events themselves live only
/// in the fan-out's own bounded store (by count and by bytes), so the memory
/// events hold is bounded however large they are. A subscriber that falls more
/// than `capacity` events behind, or behind the bytes the store keeps, is
/// disconnected (it can resume).
pub struct Fanout {
    tx: broadcast::Sender<Weak<Event>>,
    history: Mutex<History>,
}

/// The events a [`Fanout`] keeps.
pub struct History {
    /// The number after the newest event's last.
    pub next: u64,
    /// The last number of the newest event evicted from the store.
    evicted: u64,
    /// The events kept, each with its size: the newest `keep` at most.
    events: VecDeque<(Arc<Event>, usize)>,
    /// How many of the newest events a resuming client is replayed from.
    cap: usize,
    /// How many events are kept: enough for the resume history and for every
    /// subscriber within `capacity` of the newest.
    keep: usize,
    /// The size of the events kept, and the most it may be (the newest event is
    /// kept whatever its size, until the next).
    bytes: usize,
    max_bytes: usize,
}

impl Fanout {
    /// A fan-out whose first event is numbered after `floor`, buffering up to
    /// `capacity` events per slow subscriber and keeping the last `history`
    /// events, at most `history_bytes` of them, for clients that reconnect.
    pub fn new(capacity: usize, history: usize, history_bytes: usize, floor: u64) -> Self {
        Self {
            tx: broadcast::channel(capacity.max(1)).0,
            history: Mutex::new(History {
                next: floor + 1,
                evicted: floor,
                events: VecDeque::with_capacity(history.max(capacity).min(65_536)),
                cap: history,
                keep: history.max(capacity).max(1),
                bytes: 0,
                max_bytes: history_bytes,
            }),
        }
    }

    /// The store, locked: events are numbered and sent under this lock.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        match self.history.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Keeps a numbered event (numbered after every event kept before) and
    /// sends it to the subscribers.
    pub fn send_locked(&self, h: &mut History, event: Event) {
        h.next = event.last_seq() + 1;
        let event = Arc::new(event);
        let size = event.bytes();
        let weak = Arc::downgrade(&event);
        h.events.push_back((event, size));
        h.bytes += size;
        while h.events.len() > 1 && (h.events.len() > h.keep || h.bytes > h.max_bytes) {
            let Some((old, n)) = h.events.pop_front() else {
                break;
            };
            h.bytes -= n;
            h.evicted = old.last_seq();
        }
        // Sent under the lock, so subscribers see events in number order.
        // No subscribers is not an error.
        let _ = self.tx.send(weak);
    }

    /// A new subscription and the last number sent before it.
    pub fn subscribe(&self) -> (broadcast::Receiver<Weak<Event>>, u64) {
        let h = self.lock();
        (self.tx.subscribe(), h.next - 1)
    }

    /// The events after `since`, or `None` when the history no longer reaches back that far.
    pub fn since(&self, since: u64) -> Option<Vec<Arc<Event>>> {
        let h = self.lock();
        // Replays come from the newest `cap` events the store holds.
        let start = h.events.len().saturating_sub(h.cap);
        let floor = match start {
            0 => h.evicted,
            s => h.events.get(s - 1).map_or(h.evicted, |(e, _)| e.last_seq()),
        };
        if since < floor || since >= h.next {
            return None;
        }
        Some(
            h.events
                .iter()
                .skip(start)
                // Ended credentials concern the connections open then only.
                .filter(|(e, _)| e.last_seq() > since && !matches!(e.kind, EventKind::Revoked(_)))
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }
}

/// Broadcasts the records one write touched, except those with `broadcast: false`;
/// a record naming a channel goes to that channel's subscribers only. `http` marks
/// writes made over HTTP; `except` is the connection that made it over the socket.
pub fn publish_write(
    app: &crate::app::App,
    action: WriteAction,
    collection: &str,
    records: Vec<Value>,
    http: bool,
    except: Option<u64>,
) {
    let items: Vec<WriteItem> = records
        .into_iter()
        .filter(broadcast_allowed)
        .map(|record| WriteItem {
            channel: Channel::of(&record).map(|c| c.key()),
            frame: write_frame(action, collection, http, &record).into(),
            record,
        })
        .collect();
    if items.is_empty() {
        return;
    }
    app.bus.publish(Event {
        seq: 0,
        except,
        kind: EventKind::Write {
            action,
            collection: collection.to_owned(),
            config: Some(app.collection(collection)),
            items,
        },
    });
}

/// Sends a message to a channel's subscribers, or to everyone.
pub fn publish_message(
    app: &crate::app::App,
    channel: Option<String>,
    text: String,
    visible: Option<(String, Value)>,
    except: Option<u64>,
) {
    app.bus.publish(Event {
        seq: 0,
        except,
        kind: EventKind::Message {
            channel,
            text: text.into(),
            visible,
            user: None,
        },
    });
}

/// Sends a script's message to a channel's subscribers, a user's connections, or everyone.
pub fn publish_to(
    app: &crate::app::App,
    channel: Option<String>,
    user: Option<String>,
    text: String,
) {
    app.bus.publish(Event {
        seq: 0,
        except: None,
        kind: EventKind::Message {
            channel,
            text: text.into(),
            visible: None,
            user,
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Event {
        Event {
            seq: 0,
            except: None,
            kind: EventKind::Message {
                channel: None,
                text: text.to_owned().into(),
                visible: None,
                user: None,
            },
        }
    }

    #[test]
    fn events_cross_a_process_boundary_as_json_without_the_configuration() {
        let write = Event {
            seq: 7,
            except: Some(3),
            kind: EventKind::Write {
                action: WriteAction::Patch,
                collection: "notes".into(),
                config: None,
                items: vec![WriteItem {
                    record: serde_json::json!({"_id": "a", "text": "hi"}),
                    channel: Some("rooms:r1".into()),
                    frame: r#"{"action":"patch"}"#.to_owned().into(),
                }],
            },
        };
        let gone = Event {
            seq: 8,
            except: None,
            kind: EventKind::Revoked(Revoked::User {
                user: "u1".into(),
                except: Some("h".into()),
            }),
        };
        let ended = |what: Revoked| Event {
            seq: 9,
            except: None,
            kind: EventKind::Revoked(what),
        };
        for ev in [
            write,
            gone,
            message("hello"),
            ended(Revoked::Session("h".into())),
            ended(Revoked::Key("k".into())),
        ] {
            let text = serde_json::to_string(&ev).expect("serializable");
            let back: Event = serde_json::from_str(&text).expect("deserializable");
            assert_eq!(format!("{back:?}"), format!("{ev:?}"), "{text}");
            assert_eq!((back.last_seq(), back.bytes()), (ev.last_seq(), ev.bytes()));
        }
    }

    #[test]
    fn events_live_only_in_the_bounded_store_so_large_ones_cannot_pile_up() {
        // A ring of 8 for subscribers, a resume history of 2, 10 kB in all.
        let bus = LocalBus::new(8, 2, 10_000);
        let (mut rx, latest) = bus.subscribe();
        assert_eq!(latest, 0);
        for _ in 0..3 {
            bus.publish(message("small"));
        }
        for _ in 0..3 {
            let ev = rx.try_recv().expect("an event").upgrade();
            assert!(ev.is_some(), "a subscriber within reach reads every event");
        }
        // Resuming replays from the last two only.
        assert!(bus.fanout.since(0).is_none(), "beyond the resume history");
        assert_eq!(bus.fanout.since(1).map(|v| v.len()), Some(2));
        // Five 4 kB events while the subscriber reads none: only the newest two
        // fit in 10 kB; the ones it has not read are gone when it gets to them.
        let big = "x".repeat(4_000);
        for _ in 0..5 {
            bus.publish(message(&big));
        }
        let held: usize = bus.fanout.lock().events.iter().map(|(_, n)| n).sum();
        assert!(held <= 10_000, "{held} bytes held");
        let first = rx.try_recv().expect("an event").upgrade();
        assert!(
            first.is_none(),
            "an evicted event is gone for a slow subscriber"
        );
        // An event larger than the bound still reaches those reading now.
        let (mut now, _) = bus.subscribe();
        bus.publish(message(&"y".repeat(50_000)));
        let ev = now.try_recv().expect("an event").upgrade();
        assert!(ev.is_some(), "the newest event is kept whatever its size");
    }
}
