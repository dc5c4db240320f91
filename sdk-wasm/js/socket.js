// The socket `sdk.ws()` returns. It holds the runtime's WebSocket and the
// timers, and moves frames; `live` (the WebAssembly's `Live`, sdk-core's link)
// decides everything: the URL, each action's frame, what a frame means for the
// app, heartbeats, when a silent connection is dead, the waits between
// attempts, and what to send after reconnecting.
import { SdkError } from './errors.js';

// How long a connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT_MS = 10000;

/** A socket driven by `live`; throws when the runtime has no WebSocket. */
export function openSocket(live) {
  if (typeof WebSocket === 'undefined') {
    throw new SdkError(
      'this JavaScript runtime has no global WebSocket: on Node.js 20 run with ' +
        '--experimental-websocket, or set globalThis.WebSocket from the \'ws\' package',
      0, 'websocket_unavailable');
  }
  let ws = null;
  let openedOnce = false;
  let closed = false;
  // Whether the app has been told the connection ended (once).
  let ended = false;
  let ticker = null;
  let retry = null;
  let handshake = null;
  let generation = 0;
  const listeners = [];
  // Write subscriptions by id, in the order they were made: the callback, and
  // the `ready` promise's settlers until the server answers.
  const subs = new Map();
  let nextId = 1;

  const unavailable = (message) => new SdkError(message, 0, 'unavailable');

  // Calls each handler of `kind` with `event`; a throwing handler stops
  // neither the others nor the connection.
  const emit = (kind, event) => {
    const own = socket['on' + kind];
    const all = [own, ...listeners.filter((l) => l[0] === kind).map((l) => l[1])];
    for (const f of all) {
      if (typeof f !== 'function') continue;
      try { f(event); } catch (e) { console.error(e); }
    }
  };
  const tell = (f, message) => {
    try { f(message); } catch (e) { console.error(e); }
  };

  // Hands a frame to the app's handlers, and to the subscriptions the server
  // tagged it with.
  const deliver = (text, tagged) => {
    emit('message', { type: 'message', data: text });
    if (!tagged || tagged.length === 0) return;
    let message;
    for (const [id, t] of subs) {
      if (!tagged.includes(id)) continue;
      message ??= JSON.parse(text);
      tell(t.callback, message);
    }
  };

  // Settles subscription `id`'s `ready`; a refused subscription is forgotten.
  const settle = (id, error) => {
    const t = subs.get(id);
    if (!t) return;
    if (error) subs.delete(id);
    const ready = t.ready;
    t.ready = null;
    if (ready) {
      if (error) ready.reject(error);
      else ready.resolve();
    }
  };

  // Rejects the `ready` promises still waiting: the connection has ended.
  const failPending = () => {
    for (const t of subs.values()) {
      if (!t.ready) continue;
      const { reject } = t.ready;
      t.ready = null;
      reject(unavailable('the connection ended before the subscription was in place'));
    }
  };

  const onFrame = (e) => {
    if (typeof e.data !== 'string') return;
    const r = live.frame(e.data, Date.now());
    if (!r) return;
    if (r[0] === 0) {
      deliver(r[1], r[2]);
    } else if (r[0] === 1) {
      const t = subs.get(r[1]);
      if (t) for (const text of r[3]) tell(t.callback, JSON.parse(text));
      settle(r[1], r[2]);
    } else {
      for (const f of r[1]) ws?.send(f);
      if (r[2] !== undefined) deliver(r[2]);
    }
  };

  const onOpen = () => {
    clearTimeout(handshake);
    handshake = null;
    live.opened(Date.now());
    startTicker();
    if (!openedOnce) {
      openedOnce = true;
      emit('open', { type: 'open' });
    }
  };

  // The current socket is gone (closed, failed, or silent): detach it, and
  // reconnect unless the connection is over.
  const lost = () => {
    const old = ws;
    if (!old) return;
    ws = null;
    live.closed();
    clearInterval(ticker);
    clearTimeout(handshake);
    ticker = handshake = null;
    old.onopen = old.onmessage = old.onerror = old.onclose = null;
    try { old.close(); } catch { /* already closing */ }
    if (closed || !openedOnce) {
      closed = true;
      end();
      return;
    }
    retryLater();
  };

  // The connection is over: pending subscriptions fail, the app hears `close` once.
  const end = () => {
    failPending();
    if (ended) return;
    ended = true;
    emit('close', { type: 'close' });
  };

  const retryLater = () => {
    retry = setTimeout(() => {
      if (closed) return;
      try {
        connect();
      } catch {
        retryLater(); // the URL was refused outright: try again later
      }
    }, live.delay(Math.random()));
  };

  const startTicker = () => {
    clearInterval(ticker);
    ticker = setInterval(() => {
      if (!ws) return;
      const t = live.tick(Date.now());
      if (t === 1) ws.send(live.ping());
      else if (t === 2) lost();
    }, 1000);
  };

  const connect = () => {
    const s = new WebSocket(live.url());
    ws = s;
    s.onopen = onOpen;
    s.onmessage = onFrame;
    s.onclose = lost;
    // Only a connection that never opened reports an error, as a WebSocket
    // would; later errors are part of reconnecting. Some runtimes (Node.js 20)
    // report a failed handshake with an error and no close event.
    s.onerror = () => {
      if (!openedOnce) emit('error', { type: 'error' });
      lost();
    };
    const mine = ++generation;
    clearTimeout(handshake);
    // A handshake that hangs counts as a failure.
    handshake = setTimeout(() => {
      if (mine === generation && ws && !live.connected) lost();
    }, CONNECT_TIMEOUT_MS);
  };

  // Sends what `live` made of a message now, unless it queued it.
  const push = (frame) => {
    if (frame !== undefined && ws) ws.send(frame);
  };
  const usable = () => {
    if (closed) throw unavailable('this connection is closed; open a new one with sdk.ws()');
  };

  const actions = {};
  for (const name of live.actions().split(',')) {
    actions[name] = (...args) => {
      usable();
      push(live.action(name, args, Date.now()));
    };
  }

  const socket = {
    onmessage: null,
    onopen: null,
    onclose: null,
    onerror: null,
    actions,
    /** `0` connecting (or reconnecting), `1` open, `3` closed. */
    get readyState() {
      return closed ? 3 : live.connected ? 1 : 0;
    },
    addEventListener(kind, f) {
      listeners.push([kind, f]);
    },
    removeEventListener(kind, f) {
      for (let i = listeners.length - 1; i >= 0; i--) {
        if (listeners[i][0] === kind && listeners[i][1] === f) listeners.splice(i, 1);
      }
    },
    /**
     * Calls `callback(message)` for each write to `collection` whose record
     * matches `query` (evaluated by the server, after the read rule). Returns
     * the function that ends it; its `ready` settles on the server's answer.
     */
    subscribe(collection, query, callback) {
      if (typeof callback !== 'function') {
        throw new SdkError('the callback must be a function', 0, 'invalid_argument');
      }
      usable();
      const id = nextId++;
      let ready;
      const promise = new Promise((resolve, reject) => { ready = { resolve, reject }; });
      // Nobody need await `ready`: a refusal nobody reads must not be an
      // unhandled rejection (which ends a Node.js process).
      promise.catch(() => {});
      subs.set(id, { callback, ready });
      try {
        push(live.subscribe(id, collection, query, Date.now()));
      } catch (e) {
        subs.delete(id);
        throw e;
      }
      const stop = () => {
        const t = subs.get(id);
        if (!t) return;
        subs.delete(id);
        // Stopped before the server answered: nothing to wait for.
        t.ready?.resolve();
        if (!closed) {
          try { push(live.unsubscribe(id, Date.now())); } catch { /* the queue is full */ }
        }
      };
      stop.ready = promise;
      return stop;
    },
    /**
     * One text frame, exactly the string given (an object goes as its JSON), on
     * the open connection; not kept for a reconnect.
     */
    send(data) {
      let text;
      try {
        text = typeof data === 'string' ? data : JSON.stringify(data);
      } catch {
        // A BigInt or a cycle.
      }
      if (text === undefined) throw new SdkError('data has no JSON form', 0, 'invalid_argument');
      if (closed || !live.connected || !ws) {
        throw unavailable('the connection is not open: send after onopen, or use actions, which wait');
      }
      ws.send(text);
    },
    /** Closes the connection for good (no reconnect). */
    close() {
      closed = true;
      clearInterval(ticker);
      clearTimeout(retry);
      clearTimeout(handshake);
      ticker = retry = handshake = null;
      if (ws) {
        failPending();
        ws.close(); // its close event ends the connection
      } else {
        end();
      }
    },
  };
  connect();
  return socket;
}
