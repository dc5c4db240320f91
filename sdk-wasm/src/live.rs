//! `sdk.ws()`: the realtime connection's decisions, for `js/socket.js`.
//!
//! The socket the app gets looks like a WebSocket to Backpack apps (`onmessage`
//! with `e.data` as JSON text, `onopen`, `onclose`, `onerror`,
//! `addEventListener`, `close()`, `readyState`), plus `actions.*` for every
//! Backpack action and `subscribe` for writes that match a query. `js/socket.js`
//! holds the runtime's `WebSocket` and the timers and moves frames; [`Live`]
//! (sdk-core's [`Link`]) decides everything: the URL, the frames of each action,
//! what a frame means for the app, when to send a heartbeat, when to give up on
//! a silent connection, how long to wait before reconnecting, and what to send
//! after reconnecting (a `resume` that rejoins channels and replays what was
//! missed, exactly once, then what was queued meanwhile).

use crate::calls::Args;
use crate::{Error, Shared, json, json_arg, to_js_error, to_js_error_with};
use sdk_core::json::{JsonView, ObjectWriter};
use sdk_core::realtime::{Incoming, Link, Outgoing, Tick};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/socket.js")]
extern "C" {
    /// The socket `sdk.ws()` returns, driven by `live`.
    #[wasm_bindgen(js_name = openSocket, catch)]
    pub(crate) fn open_socket(live: Live) -> Result<JsValue, JsValue>;
}

/// The Backpack actions of `websocket.actions`, separated by commas.
const ACTIONS: &str = concat!(
    "sendMessage,",
    "findResource,",
    "getCollection,",
    "getResource,",
    "createResource,",
    "overwriteResource,",
    "updateResource,",
    "deleteResource,",
    "joinUsersChannels,",
    "createChannel,",
    "joinChannel,",
    "leaveChannel,",
    "changeChannel,",
    "deleteChannel,",
    "open,",
    "close,",
    "subscribeNotifications",
);

/// One realtime connection's state across its sockets.
#[wasm_bindgen]
pub struct Live {
    link: Link,
    client: Shared,
}

impl Live {
    pub(crate) fn new(client: Shared) -> Self {
        Self {
            link: Link::new(),
            client,
        }
    }

    fn send(&mut self, out: Outgoing, now: f64) -> Result<Option<String>, JsValue> {
        self.link
            .send(out, now as u64)
            .map_err(|e| to_js_error(Error::from_body(e)))
    }
}

/// The frame of action `name` with `a`, its arguments.
fn action_frame(name: &str, a: &Args) -> Result<Outgoing, JsValue> {
    let s = |i: u32, what: &str| a.str(i, what);
    let frame = |w: ObjectWriter| Ok(Outgoing::Frame(w.finish()));
    let coll = |action: &str| {
        let w = ObjectWriter::action(action);
        Ok::<_, JsValue>(w.str("collection", &s(0, "collection")?))
    };
    let users = |action: &str| {
        let w = ObjectWriter::action(action);
        Ok::<_, JsValue>(w.str(
            "usersInformationCollection",
            &s(0, "usersInformationCollection")?,
        ))
    };
    let channel = |action: &str| {
        let w = users(action)?.str("channelType", &s(1, "channelType")?);
        frame(w.str("channelId", &s(2, "channelId")?))
    };
    let data = |i: u32| json_arg(&a.get(i), "data", false);
    match name {
        // The message as it is: its own `action` names it.
        "sendMessage" => Ok(Outgoing::Frame(json_arg(&a.get(0), "the message", false)?)),
        "findResource" => {
            let w = coll("find")?;
            let q = a.get(1);
            if q.is_undefined() || q.is_null() {
                return frame(w);
            }
            frame(w.raw("query", &json_arg(&q, "the query", false)?))
        }
        "getCollection" => frame(coll("getAll")?),
        "getResource" => frame(coll("getOne")?.str("id", &s(1, "id")?)),
        "createResource" => frame(coll("create")?.raw("data", &data(1)?)),
        "overwriteResource" => frame(
            coll("update")?
                .str("id", &s(1, "id")?)
                .raw("data", &data(2)?),
        ),
        "updateResource" => frame(
            coll("patch")?
                .str("id", &s(1, "id")?)
                .raw("data", &data(2)?),
        ),
        "deleteResource" => frame(coll("delete")?.str("id", &s(1, "id")?)),
        "joinUsersChannels" => frame(users("joinUsersChannels")?),
        "createChannel" => {
            let w = users("createChannel")?.str("channelType", &s(1, "channelType")?);
            frame(w.str("name", &s(2, "name")?))
        }
        "joinChannel" | "leaveChannel" | "changeChannel" => channel(name),
        "deleteChannel" => {
            let w = users("deleteChannel")?
                .str(
                    "channelMessagesCollection",
                    &s(1, "channelMessagesCollection")?,
                )
                .str("channelType", &s(2, "channelType")?);
            frame(w.str("channelId", &s(3, "channelId")?))
        }
        "open" | "close" => {
            // The app's fields, with `action` set to the name.
            let m = a.get(0);
            json_arg(&m, "the message", false)?;
            let copy = js_sys::Object::assign(&js_sys::Object::new(), m.unchecked_ref());
            let _ = js_sys::Reflect::set(&copy, &"action".into(), &name.into());
            Ok(Outgoing::Frame(json_arg(&copy, "the message", false)?))
        }
        "subscribeNotifications" => {
            let c = a.get(0);
            if c.is_undefined() || c.is_null() {
                return Ok(Outgoing::Notifications(None));
            }
            let names: Option<Vec<String>> = js_sys::Array::is_array(&c)
                .then(|| {
                    js_sys::Array::from(&c)
                        .iter()
                        .map(|v| v.as_string())
                        .collect()
                })
                .flatten();
            names
                .map(|n| Outgoing::Notifications(Some(n)))
                .ok_or_else(|| {
                    to_js_error(Error::InvalidArgument(
                        "collections must be an array of names".into(),
                    ))
                })
        }
        _ => Err(to_js_error(Error::InvalidArgument(
            ["no action ", name].concat(),
        ))),
    }
}

#[wasm_bindgen]
impl Live {
    /// The URL of the next socket: the server's, with the API key, the
    /// session token and the link's own parameters.
    pub fn url(&self) -> String {
        let base = self.client.borrow().ws_url();
        let sep = if base.contains('?') { "&" } else { "?" };
        [base.as_str(), sep, &self.link.url_params()].concat()
    }

    /// A socket opened at `now` (ms).
    pub fn opened(&mut self, now: f64) {
        self.link.on_open(now as u64);
    }

    /// The socket closed.
    pub fn closed(&mut self) {
        self.link.on_close();
    }

    /// Whether a socket is open and greeted.
    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> bool {
        self.link.is_connected()
    }

    /// What text frame `text`, received at `now`, means: `undefined` (nothing
    /// for the app), `[0, text, subs?]` (hand `text` to the app, and to the
    /// subscriptions `subs`), `[1, id, error?, missed]` (subscription `id` is in
    /// place, or refused with `error`; hand it `missed` first) or `[2, send,
    /// greeting?]` (connected: send the frames `send`, then hand `greeting` to
    /// the app).
    pub fn frame(&mut self, text: JsValue, now: f64) -> JsValue {
        // The text stays a JavaScript string: parsed there, handed back as it is.
        let parsed = json::Js::parse_value(&text);
        let strings =
            |v: Vec<String>| -> js_sys::Array { v.into_iter().map(JsValue::from).collect() };
        let out = js_sys::Array::new();
        match self.link.on_frame_view(parsed.as_ref(), now as u64) {
            Incoming::Nothing => return JsValue::UNDEFINED,
            Incoming::Deliver(t) => {
                out.push(&0.into());
                out.push(&t.into());
            }
            Incoming::Unchanged => {
                out.push(&0.into());
                out.push(&text);
            }
            Incoming::Tagged { text, subs } => {
                out.push(&0.into());
                out.push(&text.into());
                let ids: js_sys::Array = subs.iter().map(|&i| JsValue::from(i as f64)).collect();
                out.push(&ids);
            }
            Incoming::Subscribed { id, result, missed } => {
                out.push(&1.into());
                out.push(&(id as f64).into());
                let error = match result {
                    Ok(()) => JsValue::UNDEFINED,
                    Err(e) => {
                        // The refusal's per-field problems, as the frame holds them.
                        let errors = parsed
                            .as_ref()
                            .and_then(|m| m.get("errors"))
                            .filter(JsonView::is_object)
                            .map_or(JsValue::UNDEFINED, |e| e.0);
                        to_js_error_with(Error::from_body(e), errors)
                    }
                };
                out.push(&error);
                out.push(&strings(missed));
            }
            Incoming::Connected { greeting, send } => {
                out.push(&2.into());
                out.push(&strings(send));
                out.push(&greeting.map_or(JsValue::UNDEFINED, Into::into));
            }
        }
        out.into()
    }

    /// The names of `websocket.actions`, separated by commas.
    pub fn actions(&self) -> String {
        ACTIONS.to_owned()
    }

    /// Action `name` with `args`, at `now`: the frame to send now, or
    /// `undefined` when it was queued until the connection is back. Throws
    /// `invalid_argument` for wrong arguments, `unavailable` when the queue is full.
    pub fn action(
        &mut self,
        name: &str,
        args: js_sys::Array,
        now: f64,
    ) -> Result<Option<String>, JsValue> {
        let out = action_frame(name, &Args(args))?;
        self.send(out, now)
    }

    /// Subscription `id` to the writes to `collection` whose record matches
    /// `query` (a `where` string, a Mongo-style object, or `undefined`/`null`
    /// for all): as [`Live::action`].
    pub fn subscribe(
        &mut self,
        id: f64,
        collection: String,
        query: JsValue,
        now: f64,
    ) -> Result<Option<String>, JsValue> {
        let query = if query.is_undefined() {
            Some("null".to_owned())
        } else {
            json::stringify(&query)
        };
        let query = query.ok_or_else(|| {
            to_js_error(Error::InvalidArgument("the query has no JSON form".into()))
        })?;
        let out = Outgoing::SubscribeWrites {
            id: id as u64,
            collection,
            query,
            since: None,
        };
        self.send(out, now)
    }

    /// The end of subscription `id`: as [`Live::action`].
    pub fn unsubscribe(&mut self, id: f64, now: f64) -> Result<Option<String>, JsValue> {
        self.send(Outgoing::UnsubscribeWrites(id as u64), now)
    }

    /// What to do at `now`: 0 nothing, 1 send [`Live::ping`], 2 drop the
    /// silent socket and reconnect.
    pub fn tick(&mut self, now: f64) -> u8 {
        match self.link.tick(now as u64) {
            Tick::Wait => 0,
            Tick::Ping => 1,
            Tick::Reconnect => 2,
        }
    }

    /// The heartbeat frame.
    pub fn ping(&self) -> String {
        Link::ping_frame()
    }

    /// How long to wait before the next connection attempt, in ms, from
    /// `random` in `[0, 1)`.
    pub fn delay(&mut self, random: f64) -> f64 {
        self.link.reconnect_delay_ms(random) as f64
    }
}
