//! The per-thread engine: its lockdown, its compiled scripts, and how a
//! thrown value becomes a message.

use super::*;

/// The wrapper every script runs through: collects `error`, `hide`, `protect`,
/// turns `cancel` into a recognisable throw, and gives Deployd's helpers:
/// `isMe(id)`, `previous` (the record before an update), `changed(field)` and
/// `console.log` (to the server's log, through `log`, at most 100 lines of
/// 1 KiB a run) and `emit([to,] event, data)` (a realtime message, collected as
/// JSON text and sent once the script has finished), and `dpd.<collection>`
/// (`get`, `post`, `put`, `del`: each a request handed to the host through
/// `call(op, collection, argsJson, id)` and a promise the host settles through
/// `run.settle`, with Deployd's callback `(result, error)` when one is given).
/// Evaluated as a function of the host's `log(label, text)` and `call`; gives
/// the run function, with `run.state()` (`[0 running | 1 done | 2 failed,
/// reason, requests unanswered]`), `run.settle(id, ok, json)` and
/// `run.outcome()`.
pub(super) const RUNNER: &str = r#"(function (log, call) {
  let errors = null;
  let hidden = null;
  let prot = null;
  let emitted = null;
  let self = null;
  let me = null;
  let previous = null;
  let label = '';
  let lines = 0;
  const cancel = function (message, status) {
    throw { __rucksackCancel: true, message: String(message), status: status | 0 };
  };
  const error = function (field, message) { (errors = errors || {})[String(field)] = String(message); };
  const hide = function (p) { (hidden = hidden || []).push(String(p)); };
  const protect = function (p) { (prot = prot || []).push(String(p)); };
  const isMe = function (id) { return me !== null && String(id) === me; };
  const same = function (a, b) {
    try { return JSON.stringify(a) === JSON.stringify(b); } catch (e) { return a === b; }
  };
  const changed = function (field) {
    const f = String(field);
    const now = self === null || self === undefined ? undefined : self[f];
    return previous === null ? now !== undefined : !same(now, previous[f]);
  };
  const text = function (v) {
    if (typeof v === 'string') return v;
    try { const j = JSON.stringify(v); return j === undefined ? String(v) : j; } catch (e) { return String(v); }
  };
  const write = function () {
    if (++lines > 100) return;
    let t = Array.prototype.map.call(arguments, text).join(' ');
    if (t.length > 1024) t = t.slice(0, 1024) + '…';
    log(label, t);
  };
  const console = Object.freeze({ log: write, info: write, warn: write, error: write, debug: write });
  const none = Object.freeze({});
  let result = 0;
  let reason = null;
  let waiting = null;
  let calls = 0;
  const request = function (op, name, args) {
    let cb = null;
    if (args.length > 0 && typeof args[args.length - 1] === 'function') cb = args.pop();
    const id = ++calls;
    const refused = call(op, name, JSON.stringify(args), id);
    if (refused !== '') throw new Error(refused);
    const p = new Promise(function (resolve, reject) {
      (waiting = waiting || new Map()).set(id, [resolve, reject]);
    });
    if (cb !== null) p.then(function (r) { cb(r, null); }, function (e) { cb(null, e); });
    return p;
  };
  const collection = function (name) {
    const args = function (a) { return Array.prototype.slice.call(a); };
    return Object.freeze({
      get: function () { return request('get', name, args(arguments)); },
      post: function () { return request('post', name, args(arguments)); },
      put: function () { return request('put', name, args(arguments)); },
      del: function () { return request('del', name, args(arguments)); },
    });
  };
  const dpd = new Proxy(Object.freeze({}), {
    get: function (target, name) { return typeof name === 'string' ? collection(name) : undefined; },
  });
  const outcome = function () {
    // Nothing allocated and nothing to read back unless the script used a helper.
    return errors === null && hidden === null && prot === null && emitted === null
      ? null : [errors, hidden, prot, emitted];
  };
  const emit = function (a, b, c) {
    const targeted = typeof a === 'object' && a !== null;
    if ((emitted = emitted || []).length >= 16) throw new Error('emit: at most 16 messages a run');
    const data = targeted ? c : b;
    emitted.push(JSON.stringify({ to: targeted ? a : null, event: String(targeted ? b : a),
      data: data === undefined ? null : data }));
  };
  const run = function (fn, record, id, user, before, asked, where) {
    errors = null;
    hidden = null;
    prot = null;
    emitted = null;
    result = 0;
    reason = null;
    waiting = null;
    calls = 0;
    self = record;
    me = id;
    previous = before;
    label = where;
    lines = 0;
    const r = fn.call(record, me === null ? null : (user === null ? { id: me, _id: me } : user), cancel, error, hide, protect,
      isMe, previous, changed, console, emit, asked === null ? none : asked, dpd);
    if (r instanceof Promise) {
      r.then(function () { result = 1; }, function (e) { result = 2; reason = e; });
    } else {
      result = 1;
    }
    return outcome();
  };
  run.outcome = outcome;
  run.state = function () { return [result, reason, waiting === null ? 0 : waiting.size]; };
  run.settle = function (id, ok, text) {
    const w = waiting === null ? undefined : waiting.get(id);
    if (w === undefined) return;
    waiting.delete(id);
    w[ok ? 0 : 1](JSON.parse(text));
  };
  return run;
})"#;

/// Run once in every new engine, before any script: the built-ins (their
/// constructors, prototypes and everything reachable from them) are frozen and
/// no global can be added, so a script cannot change what the scripts of other
/// collections run with (`Array.prototype.x = ...`, `leaked = 1`): such writes
/// fail (silently, as in sloppy mode, or with a TypeError).
pub(super) const LOCKDOWN: &str = r#"(function () {
  const seen = new Set();
  const freeze = function (o) {
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) return;
    seen.add(o);
    Object.freeze(o);
    for (const k of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k);
      if (d && 'value' in d) freeze(d.value);
    }
    freeze(Object.getPrototypeOf(o));
  };
  for (const k of Reflect.ownKeys(globalThis)) {
    const d = Object.getOwnPropertyDescriptor(globalThis, k);
    if (d && 'value' in d) freeze(d.value);
  }
  Object.freeze(globalThis);
})()"#;

/// Names the frozen `Object.prototype` holds: a record's field of such a name
/// is defined on the record, since assigning it would hit the frozen property.
pub(super) const PROTOTYPE_NAMES: [&str; 12] = [
    "__proto__",
    "constructor",
    "toString",
    "toLocaleString",
    "valueOf",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

pub(super) struct Engine {
    // Dropped after the context and the persistent values (field order).
    pub(super) compiled: HashMap<u64, (String, Persistent<Function<'static>>)>,
    pub(super) runner: Persistent<Function<'static>>,
    /// The property names of the last record given to a script (up to
    /// [`KEPT_NAMES`]), kept interned so the next record of the collection is
    /// built without creating them again. Names only: no values are kept.
    pub(super) names: Vec<Persistent<rquickjs::Atom<'static>>>,
    pub(super) context: Context,
    pub(super) runtime: Runtime,
    pub(super) deadline: Deadline,
    /// The `dpd` requests a run made and the host has not taken yet.
    pub(super) requests: Rc<RefCell<Vec<Request>>>,
    pub(super) memory: usize,
    /// Set by a run that leaves the engine unfit for the next (it ran out of
    /// memory, or could not be handed a record): the next run starts afresh.
    pub(super) spoiled: Cell<bool>,
}

/// When the running script must stop, read by the engine's interrupt handler
/// (which the engine requires to be `Send`).
#[derive(Clone, Default)]
pub(super) struct Deadline(std::sync::Arc<std::sync::Mutex<Option<Instant>>>);

impl Deadline {
    /// Sets or clears the moment.
    pub(super) fn set(&self, at: Option<Instant>) {
        match self.0.lock() {
            Ok(mut g) => *g = at,
            Err(poisoned) => *poisoned.into_inner() = at,
        }
    }

    /// The moment, if one is set.
    pub(super) fn get(&self) -> Option<Instant> {
        match self.0.lock() {
            Ok(g) => *g,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

/// How a failure to hand a record to the engine is described.
pub(super) const NOT_RECEIVED: &str = "could not receive the record";

/// Most property names kept interned between runs.
pub(super) const KEPT_NAMES: usize = 256;

/// Compiled scripts kept per thread; beyond, the cache starts over.
pub(super) const MAX_COMPILED: usize = 256;

thread_local! {
    pub(super) static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

pub(super) fn failure(message: String) -> ApiError {
    ApiError::new(ErrorCode::ScriptError, message)
}

/// A `dpd` call a script made: `op` on `collection` with the JSON array of its
/// arguments (the callback taken off), answered by settling `id`.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub(super) id: u32,
    pub(super) op: String,
    pub(super) collection: String,
    pub(super) args: String,
}

/// Most `dpd` calls one run may make.
pub(super) const MAX_DPD_CALLS: usize = 32;

impl Engine {
    /// A fresh engine; with `dpd`, its scripts' `dpd` calls are queued in
    /// [`Engine::requests`] for the host, else they fail (where no host can
    /// answer them: broadcasts).
    pub(super) fn new(memory: usize, dpd: bool) -> Result<Self, String> {
        let runtime = Runtime::new().map_err(|e| e.to_string())?;
        runtime.set_memory_limit(memory);
        runtime.set_max_stack_size(256 * 1024);
        let deadline = Deadline::default();
        let d = deadline.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            d.get().is_some_and(|t| Instant::now() > t)
        })));
        let context = Context::full(&runtime).map_err(|e| e.to_string())?;
        let requests: Rc<RefCell<Vec<Request>>> = Rc::default();
        let runner = context.with(|ctx| -> Result<_, String> {
            let make: Function = ctx.eval(RUNNER).map_err(|e| e.to_string())?;
            let log = Function::new(ctx.clone(), |label: String, text: String| {
                tracing::info!(target: "rucksack::script", script = %label, "{text}");
            })
            .map_err(|e| e.to_string())?;
            let queue = requests.clone();
            let call = Function::new(
                ctx.clone(),
                // Answers why the call is refused ('' when queued): the runner
                // throws it as an `Error` (built in the engine, whose frozen
                // prototype would refuse setting `message` from here).
                move |op: String, collection: String, args: String, id: u32| -> String {
                    if !dpd {
                        return "dpd is not available in a broadcast".to_owned();
                    }
                    if id as usize > MAX_DPD_CALLS {
                        return format!("dpd: at most {MAX_DPD_CALLS} calls a run");
                    }
                    queue.borrow_mut().push(Request {
                        id,
                        op,
                        collection,
                        args,
                    });
                    String::new()
                },
            )
            .map_err(|e| e.to_string())?;
            let f: Function = make.call((log, call)).map_err(|e| e.to_string())?;
            let () = ctx.eval(LOCKDOWN).map_err(|e| e.to_string())?;
            Ok(Persistent::save(&ctx, f))
        })?;
        Ok(Self {
            compiled: HashMap::new(),
            runner,
            names: Vec::new(),
            context,
            runtime,
            deadline,
            requests,
            memory,
            spoiled: Cell::new(false),
        })
    }
}

/// The message of a thrown value, with the script line when the stack names it.
pub(super) fn describe<'js>(
    ctx: &Ctx<'js>,
    thrown: JsValue<'js>,
    file: &str,
) -> (String, Option<(String, u16)>) {
    if let Some(obj) = thrown.as_object() {
        if obj.get::<_, bool>("__rucksackCancel").unwrap_or(false) {
            let message: String = obj.get("message").unwrap_or_default();
            let status: i32 = obj.get("status").unwrap_or(0);
            let status = u16::try_from(status)
                .ok()
                .filter(|s| (400..600).contains(s))
                .unwrap_or(400);
            return (String::new(), Some((message, status)));
        }
        let message: String = obj
            .get("message")
            .ok()
            .filter(|m: &String| !m.is_empty())
            .unwrap_or_else(|| "an exception".to_owned());
        let stack: String = obj.get("stack").unwrap_or_default();
        let line = stack
            .split(&format!("{file}:"))
            .nth(1)
            .and_then(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|n| n.parse::<u32>().ok())
            })
            // The script starts on the wrapper's second line.
            .map(|n| n.saturating_sub(1));
        return match line {
            Some(n) => (format!("{message} (line {n})"), None),
            None => (message, None),
        };
    }
    let text = ctx
        .json_stringify(thrown)
        .ok()
        .flatten()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| "a value".to_owned());
    (format!("threw {text}"), None)
}

/// The name scripts of `event` in `collection` carry in stack traces.
pub(super) fn file_name(collection: &str, event: Event) -> String {
    format!("{collection}/{}", event.label().replace(' ', "_"))
}

/// Compiles a script into the function a run calls. A source that closes the
/// function it is wrapped in (`}); ...; (function () {`) would have code of its
/// own run right here, outside any run: it is refused, and such code is stopped
/// by the engine's time limit like any run.
pub(super) fn compile<'js>(
    ctx: &Ctx<'js>,
    collection: &str,
    event: Event,
    source: &str,
) -> Result<Function<'js>, ApiError> {
    // A script that calls `dpd` is the body of an async function: it may `await`.
    let prefix = if uses_dpd(source) { "async " } else { "" };
    let file = file_name(collection, event);
    let refuse = |why: String| {
        failure(format!(
            "the {} script of '{collection}' does not compile: {why}",
            event.label()
        ))
    };
    let outside = || refuse("it reaches outside its function (a `}` closes it early)".into());
    let mut opts = rquickjs::context::EvalOptions::default();
    opts.global = true;
    opts.strict = false;
    opts.filename = Some(file.clone());
    let function = format!(
        "{prefix}function (me, cancel, error, hide, protect, isMe, previous, changed, console, emit, query, dpd) {{\n{source}\n}}"
    );
    let v: JsValue = ctx
        .eval_with_options(format!("({function})"), opts)
        .map_err(|_| {
            let (m, _) = describe(ctx, ctx.catch(), &file);
            if m.contains("interrupted") {
                outside()
            } else {
                refuse(m)
            }
        })?;
    // The source text of what came back is the whole wrapper only if the source
    // stayed inside it.
    let text = v
        .as_function()
        .and_then(|f| f.get::<_, Function>("toString").ok().map(|t| (f, t)))
        .and_then(|(f, t)| {
            t.call::<_, String>((rquickjs::function::This(f.clone()),))
                .ok()
        });
    match (v.into_function(), text) {
        (Some(f), Some(t)) if t == function => Ok(f),
        _ => Err(outside()),
    }
}
