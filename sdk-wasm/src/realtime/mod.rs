//! `sdk.ws()`: the realtime connection for JavaScript.
//!
//! It looks like a WebSocket to Backpack apps — `onmessage` with `e.data` as JSON
//! text, `onopen`, `onclose`, `onerror`, `addEventListener`, `close()`,
//! `readyState` — plus `actions.*` for every Backpack action and `subscribe` for
//! writes to a collection that match a query. Underneath, `sdk-core`'s [`Link`]
//! decides everything: it reconnects with backoff and jitter after a drop,
//! resumes (rejoining channels, replaying missed events exactly once), sends
//! heartbeats and queues messages while disconnected. This file only moves frames
//! between the runtime's `WebSocket` and the link, and runs the timers.

use crate::{Error, Shared, js_error, json, json_arg, to_js_error};
use sdk_core::realtime::{Incoming, Link, Outgoing, Tick};
use sdk_core::subscribe::Subscriptions;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

mod actions;

pub use actions::Actions;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    pub(crate) fn set_timeout(f: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = setInterval)]
    fn set_interval(f: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearInterval)]
    fn clear_interval(id: &JsValue);
}

struct State {
    link: Link,
    core: Shared,
    ws: Option<web_sys::WebSocket>,
    onmessage: JsValue,
    onopen: JsValue,
    onclose: JsValue,
    onerror: JsValue,
    listeners: Vec<(String, js_sys::Function)>,
    subs: Subscriptions<Target>,
    opened_once: bool,
    closed: bool,
    ticker: Option<JsValue>,
    retry: Option<JsValue>,
    /// The timer that fails a hanging handshake (cleared once it is settled, so
    /// it never keeps a Node.js process alive after `close()`).
    handshake: Option<JsValue>,
    generation: u64,
    /// The handlers of the current socket and the heartbeat timer, kept alive while in use.
    handlers: Vec<Closure<dyn FnMut(JsValue)>>,
    ticker_fn: Option<Closure<dyn FnMut()>>,
    /// A handler that does nothing, attached to every `ready` promise.
    ignore: Closure<dyn FnMut(JsValue)>,
}

type Rcs = Rc<RefCell<State>>;

/// One subscription: the app's callback, and the `ready` promise's settlers
/// until the server answers.
struct Target {
    callback: js_sys::Function,
    ready: Option<(js_sys::Function, js_sys::Function)>,
}

/// How long a connection attempt may take before it counts as failed, in ms.
const CONNECT_TIMEOUT_MS: f64 = 10_000.0;

fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// The realtime connection `sdk.ws()` returns.
#[wasm_bindgen]
pub struct Socket {
    state: Rcs,
}

pub(crate) fn open(core: Shared) -> Result<Socket, JsValue> {
    let global = js_sys::global();
    let has_ws = js_sys::Reflect::has(&global, &JsValue::from_str("WebSocket")).unwrap_or(false);
    if !has_ws {
        return Err(js_error(
            0,
            "websocket_unavailable",
            "this JavaScript runtime has no global WebSocket: on Node.js 20 run with \
             --experimental-websocket, or set globalThis.WebSocket from the 'ws' package",
            JsValue::UNDEFINED,
        ));
    }
    let state = Rc::new(RefCell::new(State {
        link: Link::new(),
        core,
        ws: None,
        onmessage: JsValue::NULL,
        onopen: JsValue::NULL,
        onclose: JsValue::NULL,
        onerror: JsValue::NULL,
        listeners: Vec::new(),
        subs: Subscriptions::new(),
        opened_once: false,
        closed: false,
        ticker: None,
        retry: None,
        handshake: None,
        generation: 0,
        handlers: Vec::new(),
        ticker_fn: None,
        ignore: Closure::new(|_: JsValue| {}),
    }));
    connect(&state)?;
    Ok(Socket { state })
}

fn connect(st: &Rcs) -> Result<(), JsValue> {
    let url = {
        let s = st.borrow();
        let base = s.core.borrow().ws_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}{}", s.link.url_params())
    };
    let ws = web_sys::WebSocket::new(&url)?;
    let weak = Rc::downgrade(st);
    let on = |f: fn(&Rcs, JsValue)| {
        let weak: Weak<RefCell<State>> = weak.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            if let Some(st) = weak.upgrade() {
                f(&st, e);
            }
        })
    };
    let handlers = vec![on(on_open), on(on_frame), on(on_close), on(on_error)];
    ws.set_onopen(Some(handlers[0].as_ref().unchecked_ref()));
    ws.set_onmessage(Some(handlers[1].as_ref().unchecked_ref()));
    ws.set_onclose(Some(handlers[2].as_ref().unchecked_ref()));
    ws.set_onerror(Some(handlers[3].as_ref().unchecked_ref()));
    let generation = {
        let mut s = st.borrow_mut();
        s.ws = Some(ws);
        s.handlers = handlers;
        s.generation += 1;
        s.generation
    };
    // A handshake that hangs counts as a failure.
    let weak = Rc::downgrade(st);
    let f = Closure::once_into_js(move || {
        if let Some(st) = weak.upgrade() {
            let stuck = {
                let s = st.borrow();
                s.generation == generation && s.ws.is_some() && !s.link.is_connected()
            };
            if stuck {
                lost(&st);
            }
        }
    });
    let timer = set_timeout(f.unchecked_ref(), CONNECT_TIMEOUT_MS);
    if let Some(old) = st.borrow_mut().handshake.replace(timer) {
        clear_timeout(&old);
    }
    Ok(())
}

/// Calls `f(event)` for each callback, with no borrow held (a callback may use the socket).
fn call_all(callbacks: Vec<JsValue>, event: &JsValue) {
    for f in callbacks {
        if let Some(f) = f.dyn_ref::<js_sys::Function>() {
            // A throwing handler must not stop the others or the connection.
            let _ = f.call1(&JsValue::NULL, event);
        }
    }
}

fn callbacks(st: &Rcs, kind: &str) -> Vec<JsValue> {
    let s = st.borrow();
    let own = match kind {
        "message" => &s.onmessage,
        "open" => &s.onopen,
        "close" => &s.onclose,
        _ => &s.onerror,
    };
    std::iter::once(own.clone())
        .chain(
            s.listeners
                .iter()
                .filter(|(t, _)| t == kind)
                .map(|(_, f)| f.clone().into()),
        )
        .collect()
}

fn event(kind: &str, data: Option<&str>) -> JsValue {
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&o, &"type".into(), &kind.into());
    if let Some(d) = data {
        let _ = js_sys::Reflect::set(&o, &"data".into(), &d.into());
    }
    o.into()
}

fn on_open(st: &Rcs, _: JsValue) {
    let first = {
        let mut s = st.borrow_mut();
        if let Some(t) = s.handshake.take() {
            clear_timeout(&t);
        }
        s.link.on_open(now());
        !std::mem::replace(&mut s.opened_once, true)
    };
    start_ticker(st);
    if first {
        call_all(callbacks(st, "open"), &event("open", None));
    }
}

fn on_frame(st: &Rcs, e: JsValue) {
    let Some(text) = js_sys::Reflect::get(&e, &"data".into())
        .ok()
        .and_then(|d| d.as_string())
    else {
        return;
    };
    let parsed = json::Js::parse(&text);
    let incoming = st
        .borrow_mut()
        .link
        .on_frame_view(&text, parsed.as_ref(), now());
    match incoming {
        Incoming::Nothing => {}
        Incoming::Deliver(t) => deliver(st, &t, &[]),
        Incoming::Tagged { text, subs } => deliver(st, &text, &subs),
        Incoming::Subscribed { id, result, missed } => {
            let callback = st.borrow().subs.get(id).map(|t| t.callback.clone());
            if let Some(f) = callback {
                for text in &missed {
                    let msg = js_sys::JSON::parse(text).unwrap_or(JsValue::NULL);
                    call_all(vec![f.clone().into()], &msg);
                }
            }
            settle(st, id, result.map_err(Error::from_body));
        }
        Incoming::Connected { greeting, send } => {
            let ws = st.borrow().ws.clone();
            if let Some(ws) = ws {
                for f in send {
                    let _ = ws.send_with_str(&f);
                }
            }
            if let Some(g) = greeting {
                deliver(st, &g, &[]);
            }
        }
    }
}

/// Hands a frame to the app's handlers, and to the subscriptions the server
/// tagged it with.
fn deliver(st: &Rcs, text: &str, tagged: &[u64]) {
    call_all(callbacks(st, "message"), &event("message", Some(text)));
    let matched: Vec<JsValue> = st
        .borrow()
        .subs
        .tagged(tagged)
        .map(|(_, t)| JsValue::from(t.callback.clone()))
        .collect();
    if !matched.is_empty() {
        let msg = js_sys::JSON::parse(text).unwrap_or(JsValue::NULL);
        call_all(matched, &msg);
    }
}

/// Rejects the `ready` promises still waiting: the connection has ended.
fn fail_pending(st: &Rcs) {
    let waiting: Vec<js_sys::Function> = st
        .borrow_mut()
        .subs
        .iter_mut()
        .filter_map(|(_, t)| t.ready.take().map(|(_, reject)| reject))
        .collect();
    for reject in waiting {
        let e = js_error(
            0,
            "unavailable",
            "the connection ended before the subscription was in place",
            JsValue::UNDEFINED,
        );
        let _ = reject.call1(&JsValue::NULL, &e);
    }
}

/// Settles subscription `id`'s `ready` promise; a refused subscription is forgotten.
fn settle(st: &Rcs, id: u64, result: Result<(), Error>) {
    let ready = {
        let mut s = st.borrow_mut();
        match &result {
            Ok(()) => s.subs.get_mut(id).and_then(|t| t.ready.take()),
            Err(_) => s.subs.remove(id).and_then(|mut t| t.ready.take()),
        }
    };
    if let Some((resolve, reject)) = ready {
        let _ = match result {
            Ok(()) => resolve.call0(&JsValue::NULL),
            Err(e) => reject.call1(&JsValue::NULL, &to_js_error(e)),
        };
    }
}

fn on_error(st: &Rcs, _: JsValue) {
    // Only a connection that never opened reports an error, as a WebSocket would;
    // later errors are part of reconnecting.
    if !st.borrow().opened_once {
        call_all(callbacks(st, "error"), &event("error", None));
    }
    // Some runtimes (Node.js 20) report a failed handshake with an error and no
    // close event: treat the socket as gone either way.
    lost(st);
}

fn on_close(st: &Rcs, _: JsValue) {
    lost(st);
}

/// The current socket is gone (closed, failed, or silent): detach it, and
/// reconnect unless the connection is over.
fn lost(st: &Rcs) {
    let (terminal, old) = {
        let mut s = st.borrow_mut();
        let Some(old) = s.ws.take() else {
            return;
        };
        s.link.on_close();
        if let Some(t) = s.ticker.take() {
            clear_interval(&t);
        }
        (s.closed || !s.opened_once, old)
    };
    old.set_onopen(None);
    old.set_onmessage(None);
    old.set_onerror(None);
    old.set_onclose(None);
    let _ = old.close();
    if terminal {
        st.borrow_mut().closed = true;
        fail_pending(st);
        call_all(callbacks(st, "close"), &event("close", None));
        return;
    }
    retry_later(st);
}

fn retry_later(st: &Rcs) {
    let delay = st
        .borrow_mut()
        .link
        .reconnect_delay_ms(js_sys::Math::random());
    let weak = Rc::downgrade(st);
    // Frees itself once called.
    let f = Closure::once_into_js(move || {
        let Some(st) = weak.upgrade() else { return };
        if st.borrow().closed {
            return;
        }
        if connect(&st).is_err() {
            // The URL was refused outright: try again later.
            retry_later(&st);
        }
    });
    let id = set_timeout(f.unchecked_ref(), delay as f64);
    st.borrow_mut().retry = Some(id);
}

fn start_ticker(st: &Rcs) {
    let weak = Rc::downgrade(st);
    let f = Closure::<dyn FnMut()>::new(move || {
        let Some(st) = weak.upgrade() else { return };
        let (tick, ws) = {
            let mut s = st.borrow_mut();
            (s.link.tick(now()), s.ws.clone())
        };
        if let Some(ws) = ws {
            match tick {
                Tick::Wait => {}
                Tick::Ping => {
                    let _ = ws.send_with_str(&Link::ping_frame());
                }
                Tick::Reconnect => lost(&st),
            }
        }
    });
    let id = set_interval(f.as_ref().unchecked_ref(), 1000.0);
    let mut s = st.borrow_mut();
    if let Some(old) = s.ticker.replace(id) {
        clear_interval(&old);
    }
    s.ticker_fn = Some(f);
}

fn send(st: &Rcs, msg: Outgoing) -> Result<(), JsValue> {
    let (frame, ws) = {
        let mut s = st.borrow_mut();
        if s.closed {
            return Err(js_error(
                0,
                "unavailable",
                "this connection is closed; open a new one with sdk.ws()",
                JsValue::UNDEFINED,
            ));
        }
        let frame = s
            .link
            .send(msg, now())
            .map_err(|e| to_js_error(Error::from_body(e)))?;
        (frame, s.ws.clone())
    };
    if let (Some(f), Some(ws)) = (frame, ws) {
        ws.send_with_str(&f)?;
    }
    Ok(())
}

/// An application message as JSON text: it must be an object.
fn object(v: &JsValue) -> Result<String, JsValue> {
    json_arg(v, "the message", false)
}

#[wasm_bindgen]
impl Socket {
    /// `websocket.actions`: the Backpack actions.
    #[wasm_bindgen(getter)]
    pub fn actions(&self) -> Actions {
        Actions {
            state: self.state.clone(),
        }
    }

    /// The `message` handler: called with `{data}` where `data` is the JSON text.
    #[wasm_bindgen(getter)]
    pub fn onmessage(&self) -> JsValue {
        self.state.borrow().onmessage.clone()
    }

    /// Sets the `message` handler.
    #[wasm_bindgen(setter)]
    pub fn set_onmessage(&self, f: JsValue) {
        self.state.borrow_mut().onmessage = f;
    }

    /// The `open` handler (called once, when the first connection opens).
    #[wasm_bindgen(getter)]
    pub fn onopen(&self) -> JsValue {
        self.state.borrow().onopen.clone()
    }

    /// Sets the `open` handler.
    #[wasm_bindgen(setter)]
    pub fn set_onopen(&self, f: JsValue) {
        self.state.borrow_mut().onopen = f;
    }

    /// The `close` handler (called once, when the connection ends for good).
    #[wasm_bindgen(getter)]
    pub fn onclose(&self) -> JsValue {
        self.state.borrow().onclose.clone()
    }

    /// Sets the `close` handler.
    #[wasm_bindgen(setter)]
    pub fn set_onclose(&self, f: JsValue) {
        self.state.borrow_mut().onclose = f;
    }

    /// The `error` handler (the first connection could not be opened).
    #[wasm_bindgen(getter)]
    pub fn onerror(&self) -> JsValue {
        self.state.borrow().onerror.clone()
    }

    /// Sets the `error` handler.
    #[wasm_bindgen(setter)]
    pub fn set_onerror(&self, f: JsValue) {
        self.state.borrow_mut().onerror = f;
    }

    /// `addEventListener('message' | 'open' | 'close' | 'error', f)`.
    #[wasm_bindgen(js_name = addEventListener)]
    pub fn add_event_listener(&self, kind: String, f: js_sys::Function) {
        self.state.borrow_mut().listeners.push((kind, f));
    }

    /// `removeEventListener(type, f)`.
    #[wasm_bindgen(js_name = removeEventListener)]
    pub fn remove_event_listener(&self, kind: String, f: js_sys::Function) {
        self.state
            .borrow_mut()
            .listeners
            .retain(|(k, g)| !(k == &kind && JsValue::from(g.clone()) == JsValue::from(f.clone())));
    }

    /// `0` connecting (or reconnecting), `1` open, `3` closed.
    #[wasm_bindgen(getter, js_name = readyState)]
    pub fn ready_state(&self) -> u16 {
        let s = self.state.borrow();
        if s.closed {
            3
        } else if s.link.is_connected() {
            1
        } else {
            0
        }
    }

    /// Calls `callback(message)` for each write to `collection` whose record
    /// matches `query` (a `where` string or a Mongo-style object; all records when
    /// absent), and for the write after which a record that matched no longer
    /// does (or is deleted). The server evaluates the query, after the
    /// collection's read rule; every matching write from the call on is
    /// delivered. Returns a function that ends the subscription; its `ready`
    /// promise resolves once the server has it in place, or rejects with the
    /// server's refusal (`invalid_query`, `forbidden`, ...).
    pub fn subscribe(
        &self,
        collection: String,
        query: JsValue,
        callback: js_sys::Function,
    ) -> Result<js_sys::Function, JsValue> {
        let query = if query.is_undefined() {
            Some("null".to_owned())
        } else {
            json::stringify(&query)
        };
        let query = query.ok_or_else(|| {
            to_js_error(Error::InvalidArgument("the query has no JSON form".into()))
        })?;
        let mut settlers = None;
        let ready = js_sys::Promise::new(&mut |resolve, reject| settlers = Some((resolve, reject)));
        // Nobody need await `ready`: a refusal nobody reads must not be an
        // unhandled rejection (which ends a Node.js process).
        let _ = ready.catch(&self.state.borrow().ignore);
        let id = self.state.borrow_mut().subs.add(Target {
            callback,
            ready: settlers,
        });
        let msg = Outgoing::SubscribeWrites {
            id,
            collection,
            query,
        };
        if let Err(e) = send(&self.state, msg) {
            self.state.borrow_mut().subs.remove(id);
            return Err(e);
        }
        let weak = Rc::downgrade(&self.state);
        let stop = Closure::once_into_js(move || {
            if let Some(st) = weak.upgrade() {
                let ended = st.borrow_mut().subs.remove(id);
                if let Some(target) = ended {
                    // Stopped before the server answered: nothing to wait for.
                    if let Some((resolve, _)) = target.ready {
                        let _ = resolve.call0(&JsValue::NULL);
                    }
                    let _ = send(&st, Outgoing::UnsubscribeWrites(id));
                }
            }
        });
        let _ = js_sys::Reflect::set(&stop, &"ready".into(), &ready);
        Ok(stop.unchecked_into())
    }

    /// `send(data)`, as a WebSocket's: one text frame, exactly the string given
    /// (an object goes as its JSON), on the open connection. Unlike `actions`,
    /// what it sends is not kept for a reconnect. Throws `unavailable` while the
    /// connection is not open.
    pub fn send(&self, data: JsValue) -> Result<(), JsValue> {
        let text = match data.as_string() {
            Some(text) => text,
            None => json::stringify(&data).ok_or_else(|| {
                to_js_error(Error::InvalidArgument("data has no JSON form".into()))
            })?,
        };
        let ws = {
            let s = self.state.borrow();
            if s.closed || !s.link.is_connected() {
                None
            } else {
                s.ws.clone()
            }
        };
        match ws {
            Some(ws) => ws.send_with_str(&text),
            None => Err(js_error(
                0,
                "unavailable",
                "the connection is not open: send after onopen, or use actions, which wait",
                JsValue::UNDEFINED,
            )),
        }
    }

    /// Closes the connection for good (no reconnect).
    pub fn close(&self) {
        let ws = {
            let mut s = self.state.borrow_mut();
            s.closed = true;
            if let Some(t) = s.ticker.take() {
                clear_interval(&t);
            }
            if let Some(t) = s.retry.take() {
                clear_timeout(&t);
            }
            if let Some(t) = s.handshake.take() {
                clear_timeout(&t);
            }
            s.ws.clone()
        };
        fail_pending(&self.state);
        match ws {
            Some(ws) => {
                let _ = ws.close();
            }
            None => call_all(callbacks(&self.state, "close"), &event("close", None)),
        }
    }
}
