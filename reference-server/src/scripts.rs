//! Collection event scripts (Deployd's On GET, On Validate, On POST, On PUT,
//! On DELETE) in an embedded QuickJS engine.
//!
//! A script sees the record as `this` (its changes are kept on Validate, POST and
//! PUT), the signed-in user as `me` (`{id, _id}` or `null`), and `cancel(message,
//! [status])`, `error(field, message)`, `hide(property)`, `protect(property)`.
//! Nothing else: QuickJS has no file system, network or process access of its
//! own, and none is given to it. Each run has a time limit (an interrupt stops
//! it) and the engine a memory limit. Each thread keeps one engine with its
//! compiled scripts, so a request never starts a runtime.

use crate::error::ApiError;
use rquickjs::{Context, Ctx, Function, Persistent, Runtime, Value as JsValue};
use sdk_core::record::{CREATED_AT, ID, OWNER, UPDATED_AT, VERSION, is_system_field};
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The events a collection may have a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A record is read (each record of a list, and each broadcast).
    Get,
    /// Before a create or an update is written.
    Validate,
    /// A record is created.
    Post,
    /// A record is updated.
    Put,
    /// A record is deleted.
    Delete,
}

impl Event {
    /// The event's name in messages: `On POST`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Get => "On GET",
            Self::Validate => "On Validate",
            Self::Post => "On POST",
            Self::Put => "On PUT",
            Self::Delete => "On DELETE",
        }
    }
}

/// Limits of one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest run.
    pub time: Duration,
    /// Most memory the engine may hold.
    pub memory: usize,
}

impl Limits {
    /// The configured limits.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            time: Duration::from_millis(config.script_timeout_ms),
            memory: config.script_memory_mib * 1024 * 1024,
        }
    }
}

/// What a script did besides changing the record.
#[derive(Debug, Clone, PartialEq)]
pub struct Effects {
    /// Properties to leave out of answers (`hide`).
    pub hidden: Vec<String>,
    /// Properties an update may not change (`protect`).
    pub protected: Vec<String>,
}

/// The wrapper every script runs through: collects `error`, `hide`, `protect`,
/// turns `cancel` into a recognisable throw, and passes data as JSON text.
const RUNNER: &str = r#"(function () {
  let errors = null;
  let hidden = null;
  let prot = null;
  const cancel = function (message, status) {
    throw { __rucksackCancel: true, message: String(message), status: status | 0 };
  };
  const error = function (field, message) { (errors = errors || {})[String(field)] = String(message); };
  const hide = function (p) { (hidden = hidden || []).push(String(p)); };
  const protect = function (p) { (prot = prot || []).push(String(p)); };
  return function (fn, record, me) {
    errors = null;
    hidden = null;
    prot = null;
    fn.call(record, me === null ? null : { id: me, _id: me }, cancel, error, hide, protect);
    // Nothing allocated and nothing to read back unless the script used a helper.
    return errors === null && hidden === null && prot === null ? null : [errors, hidden, prot];
  };
})()"#;

/// Run once in every new engine, before any script: the built-ins (their
/// constructors, prototypes and everything reachable from them) are frozen and
/// no global can be added, so a script cannot change what the scripts of other
/// collections run with (`Array.prototype.x = ...`, `leaked = 1`): such writes
/// fail (silently, as in sloppy mode, or with a TypeError).
const LOCKDOWN: &str = r#"(function () {
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
const PROTOTYPE_NAMES: [&str; 12] = [
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

/// A JSON value as a JavaScript value.
fn to_js<'js>(ctx: &Ctx<'js>, v: &Value) -> rquickjs::Result<JsValue<'js>> {
    use rquickjs::IntoJs;
    Ok(match v {
        Value::Null => JsValue::new_null(ctx.clone()),
        Value::Bool(b) => JsValue::new_bool(ctx.clone(), *b),
        Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => JsValue::new_int(ctx.clone(), i),
            None => JsValue::new_float(ctx.clone(), n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => s.as_str().into_js(ctx)?,
        Value::Array(a) => {
            let arr = rquickjs::Array::new(ctx.clone())?;
            for (i, x) in a.iter().enumerate() {
                arr.set(i, to_js(ctx, x)?)?;
            }
            arr.into_value()
        }
        Value::Object(m) => object_to_js(ctx, m)?,
    })
}

fn object_to_js<'js>(ctx: &Ctx<'js>, m: &Map<String, Value>) -> rquickjs::Result<JsValue<'js>> {
    let obj = rquickjs::Object::new(ctx.clone())?;
    for (k, x) in m {
        put(&obj, k, k.as_str(), to_js(ctx, x)?)?;
    }
    Ok(obj.into_value())
}

/// Gives `obj` the JSON field `name` (its key `key`) as an own, plain data
/// property, as `JSON.parse` does: a field named `__proto__` (or another name of
/// the frozen `Object.prototype`) is defined rather than assigned, so it stays a
/// field instead of replacing the prototype or failing on the frozen property
/// (any other name is assigned, which costs less).
fn put<'js>(
    obj: &rquickjs::Object<'js>,
    name: &str,
    key: impl rquickjs::IntoAtom<'js>,
    value: JsValue<'js>,
) -> rquickjs::Result<()> {
    if PROTOTYPE_NAMES.contains(&name) {
        let field = rquickjs::object::Property::from(value)
            .writable()
            .enumerable()
            .configurable();
        obj.prop(key, field)
    } else {
        obj.set(key, value)
    }
}

/// The largest integer a JavaScript number holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A JavaScript value as JSON, as `JSON.stringify` would give it (functions and
/// `undefined` properties are left out, dates become ISO strings).
fn from_js<'js>(v: JsValue<'js>, depth: usize) -> rquickjs::Result<Option<Value>> {
    use rquickjs::Type;
    if depth > 64 {
        return Ok(Some(Value::Null));
    }
    Ok(match v.type_of() {
        Type::Null => Some(Value::Null),
        Type::Undefined
        | Type::Uninitialized
        | Type::Function
        | Type::Constructor
        | Type::Symbol => None,
        Type::Bool => v.as_bool().map(Value::Bool),
        Type::Int => v.as_int().map(Value::from),
        Type::Float => Some(match v.as_float() {
            // A whole number is written as one, as JSON.stringify does (the
            // engine keeps numbers beyond 32 bits as floats).
            Some(f) if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER => Value::from(f as i64),
            f => f
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
        }),
        Type::String => Some(Value::String(
            v.as_string()
                .map(|s| s.to_string())
                .transpose()?
                .unwrap_or_default(),
        )),
        Type::Array => {
            let mut out = Vec::new();
            if let Some(arr) = v.as_array() {
                for x in arr.iter::<JsValue>() {
                    out.push(from_js(x?, depth + 1)?.unwrap_or(Value::Null));
                }
            }
            Some(Value::Array(out))
        }
        Type::Object | Type::Exception | Type::Promise | Type::Proxy => {
            let Some(obj) = v.as_object() else {
                return Ok(None);
            };
            // Dates and anything else with toJSON serialise as JSON.stringify would.
            if let Ok(to_json) = obj.get::<_, Function>("toJSON") {
                let r: JsValue = to_json.call((rquickjs::function::This(v.clone()),))?;
                return from_js(r, depth + 1);
            }
            let mut out = Map::new();
            for prop in obj.props::<String, JsValue>() {
                let (k, x) = prop?;
                if let Some(x) = from_js(x, depth + 1)? {
                    out.insert(k, x);
                }
            }
            Some(Value::Object(out))
        }
        _ => None,
    })
}

struct Engine {
    // Dropped after the context and the persistent values (field order).
    compiled: HashMap<u64, (String, Persistent<Function<'static>>)>,
    runner: Persistent<Function<'static>>,
    /// The property names of the last record given to a script (up to
    /// [`KEPT_NAMES`]), kept interned so the next record of the collection is
    /// built without creating them again. Names only: no values are kept.
    names: Vec<Persistent<rquickjs::Atom<'static>>>,
    context: Context,
    runtime: Runtime,
    deadline: Rc<Cell<Option<Instant>>>,
    memory: usize,
}

/// How a failure to hand a record to the engine is described (and recognised:
/// the engine is then started afresh).
const NOT_RECEIVED: &str = "could not receive the record";

/// Most property names kept interned between runs.
const KEPT_NAMES: usize = 256;

/// Compiled scripts kept per thread; beyond, the cache starts over.
const MAX_COMPILED: usize = 256;

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

fn failure(message: String) -> ApiError {
    ApiError::new(ErrorCode::ScriptError, message)
}

impl Engine {
    fn new(memory: usize) -> Result<Self, String> {
        let runtime = Runtime::new().map_err(|e| e.to_string())?;
        runtime.set_memory_limit(memory);
        runtime.set_max_stack_size(256 * 1024);
        let deadline: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
        let d = deadline.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            d.get().is_some_and(|t| Instant::now() > t)
        })));
        let context = Context::full(&runtime).map_err(|e| e.to_string())?;
        let runner = context.with(|ctx| -> Result<_, String> {
            let f: Function = ctx.eval(RUNNER).map_err(|e| e.to_string())?;
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
            memory,
        })
    }
}

/// The message of a thrown value, with the script line when the stack names it.
fn describe<'js>(
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

/// Runs `source` for `event` of `collection` on `record`, with `me` the signed-in
/// user's id, and leaves in `record` what the script made of it (On DELETE's
/// changes are dropped). A cancel, `error()` calls, a throw or a broken limit
/// come back as the error body to answer with; the record may then be partly
/// changed and is not to be written.
pub fn run(
    collection: &str,
    event: Event,
    source: &str,
    record: &mut Map<String, Value>,
    me: Option<&str>,
    limits: Limits,
) -> Result<Effects, ApiError> {
    if source.trim().is_empty() {
        // Nothing to run.
        return Ok(Effects {
            hidden: Vec::new(),
            protected: Vec::new(),
        });
    }
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|e| e.memory != limits.memory) {
            *slot = Some(
                Engine::new(limits.memory)
                    .map_err(|e| failure(format!("the script engine did not start: {e}")))?,
            );
        }
        let Some(engine) = slot.as_mut() else {
            return Err(failure("the script engine did not start".into()));
        };
        let result = run_in(engine, collection, event, source, record, me, limits);
        engine.deadline.set(None);
        if let Err(e) = &result
            && e.0.code == ErrorCode::ScriptError
            && (e.0.message.contains("ran out of memory") || e.0.message.contains(NOT_RECEIVED))
        {
            // Start the next run on a fresh engine.
            *slot = None;
        }
        result
    })
}

fn run_in(
    engine: &mut Engine,
    collection: &str,
    event: Event,
    source: &str,
    record: &mut Map<String, Value>,
    me: Option<&str>,
    limits: Limits,
) -> Result<Effects, ApiError> {
    // Only needed to describe a failure.
    let file = || file_name(collection, event);
    let where_ = || format!("the {} script of '{collection}'", event.label());
    if engine.compiled.len() >= MAX_COMPILED {
        engine.compiled.clear();
    }
    // Keyed by collection and event (short to hash); the stored source must equal
    // this one, so an edited script compiles afresh.
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (collection, event.label(), source.len()).hash(&mut h);
        h.finish()
    };
    let deadline = engine.deadline.clone();
    let Engine {
        compiled,
        runner,
        names,
        context,
        runtime,
        ..
    } = engine;
    let out = context.with(|ctx| -> Result<Effects, ApiError> {
        // Compiling runs none of the script, unless it reaches outside its function.
        deadline.set(Some(Instant::now() + limits.time));
        let f = match compiled.get(&key).filter(|(src, _)| src == source) {
            Some((_, p)) => p
                .clone()
                .restore(&ctx)
                .map_err(|e| failure(e.to_string()))?,
            None => {
                let f = compile(&ctx, collection, event, source)?;
                compiled.insert(key, (source.to_owned(), Persistent::save(&ctx, f.clone())));
                f
            }
        };
        let runner = runner
            .clone()
            .restore(&ctx)
            .map_err(|e| failure(e.to_string()))?;
        // A script that never names `this` cannot see or change the record (a
        // direct `eval` could, hence the second test): it runs without building
        // the record in the engine and reading it back.
        let touches_record = source.contains("this") || source.contains("eval");
        let mut given = Vec::new();
        let this = if touches_record {
            // Building a plain object fails when memory runs out, or when an
            // earlier script left a throwing setter on `Object.prototype`;
            // either way the next run starts on a fresh engine.
            let this = record_to_js(&ctx, record, &mut given).map_err(|_| {
                let (m, _) = describe(&ctx, ctx.catch(), &file());
                let why = if m.contains("out of memory") || m == "threw null" {
                    format!(
                        "ran out of memory (limit {} MiB)",
                        limits.memory / (1024 * 1024)
                    )
                } else {
                    m
                };
                failure(format!("{} {NOT_RECEIVED}: {why}", where_()))
            })?;
            if given.len() <= KEPT_NAMES {
                *names = given
                    .iter()
                    .map(|(k, _)| Persistent::save(&ctx, k.clone()))
                    .collect();
            }
            this
        } else {
            JsValue::new_undefined(ctx.clone())
        };
        let me_js = match me {
            Some(id) => {
                rquickjs::String::from_str(ctx.clone(), id).map(rquickjs::String::into_value)
            }
            None => Ok(JsValue::new_null(ctx.clone())),
        }
        .map_err(|e| failure(e.to_string()))?;
        // What the script threw, or a failure of the engine, as the answer. The
        // time limit holds until the record is read back: a getter or `toJSON`
        // the script left runs then.
        let thrown = |e: rquickjs::Error| {
            if !matches!(e, rquickjs::Error::Exception) {
                return failure(format!("{}: {e}", where_()));
            }
            let (m, cancel) = describe(&ctx, ctx.catch(), &file());
            match cancel {
                Some((message, status)) => {
                    ApiError::new(ErrorCode::Cancelled, message).with_status(status)
                }
                None if m.contains("interrupted") => failure(format!(
                    "{} ran over its time limit of {} ms",
                    where_(),
                    limits.time.as_millis()
                )),
                None if m.contains("out of memory") => failure(format!(
                    "{} ran out of memory (limit {} MiB)",
                    where_(),
                    limits.memory / (1024 * 1024)
                )),
                None => failure(format!("{} failed: {m}", where_())),
            }
        };
        deadline.set(Some(Instant::now() + limits.time));
        let outcome: Option<rquickjs::Array> =
            runner.call((f, this.clone(), me_js)).map_err(thrown)?;
        let (mut hidden, mut protected) = (Vec::new(), Vec::new());
        if let Some(outcome) = outcome {
            let errors: JsValue = outcome.get(0).map_err(thrown)?;
            if !errors.is_null() {
                let mut b = ErrorBody::new(ErrorCode::ValidationFailed, "the record is not valid");
                if let Some(Value::Object(m)) = from_js(errors, 0).map_err(thrown)? {
                    b.errors = Some(m);
                }
                return Err(ApiError::from(b));
            }
            let strings = |i: usize| -> Result<Vec<String>, ApiError> {
                let v: JsValue = outcome.get(i).map_err(thrown)?;
                Ok(match from_js(v, 0).map_err(thrown)? {
                    Some(Value::Array(a)) => a
                        .into_iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                })
            };
            (hidden, protected) = (strings(1)?, strings(2)?);
        }
        // On DELETE's changes go nowhere.
        if touches_record && event != Event::Delete {
            let Some(obj) = this.as_object() else {
                return Err(failure(format!("{} left `this` as a non-object", where_())));
            };
            if !changes_in_place(record, obj, &given).map_err(thrown)? {
                *record = scripted_record(record, obj, &given).map_err(thrown)?;
            }
        }
        Ok(Effects { hidden, protected })
    });
    let _ = runtime;
    out
}

/// The record as the object a script sees as `this`, noting in `given` each
/// property's key and value as set, so that what the script left unchanged is
/// recognised without reading it back.
fn record_to_js<'js>(
    ctx: &Ctx<'js>,
    record: &Map<String, Value>,
    given: &mut Vec<(rquickjs::Atom<'js>, JsValue<'js>)>,
) -> rquickjs::Result<JsValue<'js>> {
    let obj = rquickjs::Object::new(ctx.clone())?;
    given.reserve(record.len());
    for (k, x) in record {
        let key = rquickjs::Atom::from_str(ctx.clone(), k)?;
        let value = to_js(ctx, x)?;
        put(&obj, k, key.clone(), value.clone())?;
        given.push((key, value));
    }
    Ok(obj.into_value())
}

/// Applies to `record` what a script did to `this` when it kept the properties
/// it was given, in their order, and perhaps added some (the usual case): a
/// property whose value is the very one it was given is not read back (objects
/// and arrays always are: they can change inside); one now `undefined` or a
/// function goes; new properties go before `createdAt`, `updatedAt` and `__v`.
/// System fields stay as they were. `false`, with nothing read and the record
/// untouched, when the script deleted or reordered properties: only a whole
/// read-back puts that right. The keys are compared first, so no getter or
/// `toJSON` runs twice.
fn changes_in_place<'js>(
    record: &mut Map<String, Value>,
    this: &rquickjs::Object<'js>,
    given: &[(rquickjs::Atom<'js>, JsValue<'js>)],
) -> rquickjs::Result<bool> {
    let keys = this
        .keys::<rquickjs::Atom>()
        .collect::<rquickjs::Result<Vec<_>>>()?;
    if keys.len() < given.len() || keys.iter().zip(given).any(|(k, (k0, _))| *k != *k0) {
        return Ok(false);
    }
    let mut gone = Vec::new();
    for ((name, slot), (key, v0)) in record.iter_mut().zip(given) {
        if is_system_field(name) {
            continue;
        }
        let v: JsValue = this.get(key.clone())?;
        if v == *v0 && !v.is_object() {
            continue;
        }
        match from_js(v, 1)? {
            Some(x) => *slot = x,
            None => gone.push(name.clone()),
        }
    }
    let mut added = Vec::new();
    for key in &keys[given.len()..] {
        let name = key.to_string()?;
        if !is_system_field(&name)
            && let Some(x) = from_js(this.get(key.clone())?, 1)?
        {
            added.push((name, x));
        }
    }
    for name in gone {
        record.shift_remove(&name);
    }
    // New properties go before the trailing system fields, as in a whole read-back.
    let tail = record
        .keys()
        .rev()
        .take_while(|k| matches!(k.as_str(), CREATED_AT | UPDATED_AT | VERSION))
        .count();
    for (name, x) in added {
        record.shift_insert(record.len() - tail, name, x);
    }
    Ok(true)
}

/// The record a script left in `this`, read back whole in one pass: `_id` and
/// `userId` first and `createdAt`, `updatedAt`, `__v` last, all as in `original`
/// (a script cannot change them), the script's own fields between, in its order.
/// `given` is what [`record_to_js`] noted.
fn scripted_record<'js>(
    original: &Map<String, Value>,
    this: &rquickjs::Object<'js>,
    given: &[(rquickjs::Atom<'js>, JsValue<'js>)],
) -> rquickjs::Result<Map<String, Value>> {
    let mut out = Map::with_capacity(original.len() + 4);
    for k in [ID, OWNER] {
        if let Some(v) = original.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    // A value the script left as it was given is kept as stored, as the
    // in-place read-back keeps it (a number the engine holds as a float, such
    // as 1.0 or a u64 beyond 2^53, is not rounded through it).
    let as_given: std::collections::HashMap<&str, (&JsValue<'js>, &Value)> = original
        .iter()
        .zip(given)
        .map(|((k, v), (_, js))| (k.as_str(), (js, v)))
        .collect();
    for prop in this.props::<String, JsValue>() {
        let (k, x) = prop?;
        if is_system_field(&k) {
            continue;
        }
        let kept = as_given
            .get(k.as_str())
            .filter(|(js, _)| **js == x && !x.is_object())
            .map(|(_, v)| (*v).clone());
        if let Some(x) = kept.map_or_else(|| from_js(x, 1), |v| Ok(Some(v)))? {
            out.insert(k, x);
        }
    }
    for k in [CREATED_AT, UPDATED_AT, VERSION] {
        if let Some(v) = original.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    Ok(out)
}

/// Runs On GET on a record being read, as the user `me`: the record as that user
/// sees it (`hide` applied, changes shown but not kept), or the script's error (a
/// `cancel` comes back as [`ErrorCode::Cancelled`]: lists and broadcasts leave
/// such a record out).
pub fn read(
    app: &crate::app::App,
    coll: &str,
    src: &str,
    doc: Value,
    me: Option<&str>,
) -> Result<Value, ApiError> {
    let Value::Object(mut out) = doc else {
        return Ok(doc);
    };
    let limits = Limits::of(&app.config);
    let fx = run(coll, Event::Get, src, &mut out, me, limits)?;
    for h in &fx.hidden {
        out.shift_remove(h);
    }
    Ok(Value::Object(out))
}

/// Longest a configuration check may spend compiling a script.
const CHECK_TIME: Duration = Duration::from_millis(500);

/// Compiles a script without running it: the error names the line of a syntax error.
pub fn check(collection: &str, event: Event, source: &str) -> Result<(), ApiError> {
    let runtime = Runtime::new().map_err(|e| failure(e.to_string()))?;
    runtime.set_memory_limit(16 * 1024 * 1024);
    // Code that reaches outside its function runs while compiling: bound it.
    let deadline = Instant::now() + CHECK_TIME;
    runtime.set_interrupt_handler(Some(Box::new(move || Instant::now() > deadline)));
    let context = Context::full(&runtime).map_err(|e| failure(e.to_string()))?;
    context.with(|ctx| compile(&ctx, collection, event, source).map(|_| ()))
}

/// The name scripts of `event` in `collection` carry in stack traces.
fn file_name(collection: &str, event: Event) -> String {
    format!("{collection}/{}", event.label().replace(' ', "_"))
}

/// Compiles a script into the function a run calls. A source that closes the
/// function it is wrapped in (`}); ...; (function () {`) would have code of its
/// own run right here, outside any run: it is refused, and such code is stopped
/// by the engine's time limit like any run.
fn compile<'js>(
    ctx: &Ctx<'js>,
    collection: &str,
    event: Event,
    source: &str,
) -> Result<Function<'js>, ApiError> {
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
    let function = format!("function (me, cancel, error, hide, protect) {{\n{source}\n}}");
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

/// Whether an error is a script's `cancel`.
pub fn is_cancel(e: &ApiError) -> bool {
    e.0.code == ErrorCode::Cancelled
}

#[cfg(test)]
mod tests;
