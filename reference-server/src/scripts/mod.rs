//! Collection event scripts (Deployd's On GET, On Validate, On POST, On PUT,
//! On DELETE) in an embedded QuickJS engine.
//!
//! A script sees the record as `this` (its changes are kept on Validate, POST and
//! PUT), the signed-in user as `me` (`{id, _id, email, createdAt}` or `null`),
//! the request's `query` (On GET), and `cancel(message, [status])`,
//! `error(field, message)`, `hide(property)`, `protect(property)` and Deployd's
//! helpers (see [`engine::RUNNER`]). Nothing else: QuickJS has no file system, network or process access of its
//! own, and none is given to it. Each run has a time limit (an interrupt stops
//! it) and the engine a memory limit. Each thread keeps one engine with its
//! compiled scripts, so a request never starts a runtime.

use crate::error::ApiError;
use rquickjs::{Context, Ctx, Function, Persistent, Runtime, Value as JsValue};
use sdk_core::record::{CREATED_AT, ID, OWNER, UPDATED_AT, VERSION, is_system_field};
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::{Map, Value, json};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

mod convert;
mod dpd;
mod engine;

pub use dpd::{DPD_WAIT, DpdCall, DpdFuture, DpdHost, DpdRequest, run_async};

use convert::*;
use engine::*;

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
    /// Realtime messages the script sent with `emit`, to publish.
    pub emitted: Vec<Emitted>,
}

/// A realtime message a script sent with `emit([to,] event, data)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    /// A user's connections (`{userId}`), a channel's subscribers
    /// (`{channelType, channelId}`), or every connection (`None`).
    pub to: Option<EmitTarget>,
    /// The frame: `{action: event, collection, data}`.
    pub frame: String,
}

/// Who an emitted message is for.
#[derive(Debug, Clone, PartialEq)]
pub enum EmitTarget {
    /// Every connection of this user.
    User(String),
    /// The subscribers of this channel.
    Channel(sdk_core::ws::Channel),
}

/// Whether a script calls `dpd` (and so runs as an async function that only a
/// request's own reads and writes can serve).
pub fn uses_dpd(source: &str) -> bool {
    source.contains("dpd")
}

/// The signed-in user a script runs for (`me`).
#[derive(Debug, Clone, Copy)]
pub struct Me<'a> {
    /// The user's id.
    pub id: &'a str,
    /// The user as [`me_of`] made it, when it was read; else `me` is `{id, _id}`.
    pub user: Option<&'a Map<String, Value>>,
}

/// The user as scripts see it: `{id, _id, email, createdAt}`, never a secret
/// (the password hash and sessions stay out); `{id, _id}` for a user who is gone.
pub fn me_of(id: &str, user: Option<&crate::store::UserRow>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::String(id.to_owned()));
    m.insert(ID.into(), Value::String(id.to_owned()));
    if let Some(u) = user {
        m.insert("email".into(), Value::String(u.email.clone()));
        m.insert(
            CREATED_AT.into(),
            Value::String(crate::clock::iso_from_unix(u.created_at)),
        );
    }
    m
}

/// The largest frame `emit` may send.
const MAX_EMIT_FRAME: usize = 64 * 1024;

/// An `emit` call's JSON text as a message to publish, or why it cannot be one.
fn emitted(collection: &str, text: &str) -> Result<Emitted, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("emit: {e}"))?;
    let event = v["event"].as_str().unwrap_or_default();
    if !sdk_core::ws::is_app_action(event) {
        return Err(format!(
            "emit: '{event}' cannot name a message (1 to 64 letters, digits, '_', '-', '.', ':', not a protocol action)"
        ));
    }
    let str_of = |k: &str| v["to"].get(k).and_then(Value::as_str).map(str::to_owned);
    let to = match &v["to"] {
        Value::Null => None,
        _ => match (str_of("userId"), str_of("channelType"), str_of("channelId")) {
            (Some(user), None, None) => Some(EmitTarget::User(user)),
            (None, Some(t), Some(id)) => {
                Some(EmitTarget::Channel(sdk_core::ws::Channel::new(t, id)))
            }
            _ => {
                return Err("emit: the target is {userId} or {channelType, channelId}".to_owned());
            }
        },
    };
    let frame = serde_json::json!({ "action": event, "collection": collection, "data": v["data"] })
        .to_string();
    if frame.len() > MAX_EMIT_FRAME {
        return Err(format!("emit: the message is over {MAX_EMIT_FRAME} bytes"));
    }
    Ok(Emitted { to, frame })
}

/// Publishes what scripts emitted.
pub fn publish_emitted(app: &crate::app::App, emitted: Vec<Emitted>) {
    for e in emitted {
        let (channel, user) = match e.to {
            None => (None, None),
            Some(EmitTarget::User(u)) => (None, Some(u)),
            Some(EmitTarget::Channel(ch)) => (Some(ch.key()), None),
        };
        crate::realtime::publish_to(app, channel, user, e.frame);
    }
}

/// Script runs since the server started, and those that failed (threw, did not
/// compile, or broke a limit), for metrics.
static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static FAILURES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The script runs so far, and how many failed.
pub fn counts() -> (u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (RUNS.load(Relaxed), FAILURES.load(Relaxed))
}

/// Runs `source` for `event` of `collection` on `record`, with `me` the signed-in
/// user and `previous` the record before an update (On PUT), and leaves in
/// `record` what the script made of it (On DELETE's changes are dropped). A cancel, `error()` calls, a throw or a broken limit
/// come back as the error body to answer with; the record may then be partly
/// changed and is not to be written.
#[allow(clippy::too_many_arguments)]
pub fn run(
    collection: &str,
    event: Event,
    source: &str,
    record: &mut Map<String, Value>,
    me: Option<Me<'_>>,
    previous: Option<&Map<String, Value>>,
    query: Option<&Map<String, Value>>,
    limits: Limits,
) -> Result<Effects, ApiError> {
    if source.trim().is_empty() {
        // Nothing to run.
        return Ok(Effects {
            hidden: Vec::new(),
            protected: Vec::new(),
            emitted: Vec::new(),
        });
    }
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|e| e.memory != limits.memory) {
            *slot = Some(
                Engine::new(limits.memory, false)
                    .map_err(|e| failure(format!("the script engine did not start: {e}")))?,
            );
        }
        let Some(engine) = slot.as_mut() else {
            return Err(failure("the script engine did not start".into()));
        };
        let result = run_in(
            engine, collection, event, source, record, me, previous, query, limits,
        );
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if result
            .as_ref()
            .is_err_and(|e| e.0.code == ErrorCode::ScriptError)
        {
            FAILURES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        engine.deadline.set(None);
        if engine.spoiled.get() {
            // Start the next run on a fresh engine.
            *slot = None;
        }
        result
    })
}

#[allow(clippy::too_many_arguments)]
fn run_in(
    engine: &mut Engine,
    collection: &str,
    event: Event,
    source: &str,
    record: &mut Map<String, Value>,
    me: Option<Me<'_>>,
    previous: Option<&Map<String, Value>>,
    query: Option<&Map<String, Value>>,
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
        spoiled,
        ..
    } = engine;
    let spoiled = &*spoiled;
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
        let touches_record =
            source.contains("this") || source.contains("eval") || source.contains("changed");
        let mut given = Vec::new();
        let this = if touches_record {
            // Building a plain object fails when memory runs out, or when an
            // earlier script left a throwing setter on `Object.prototype`;
            // either way the next run starts on a fresh engine.
            let this = record_to_js(&ctx, record, &mut given).map_err(|_| {
                spoiled.set(true);
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
            Some(me) => {
                rquickjs::String::from_str(ctx.clone(), me.id).map(rquickjs::String::into_value)
            }
            None => Ok(JsValue::new_null(ctx.clone())),
        }
        .map_err(|e| failure(e.to_string()))?;
        // The whole user, built only for a script that may name `me`.
        let user_js = match me.and_then(|m| m.user) {
            Some(user) if source.contains("me") => {
                record_to_js(&ctx, user, &mut Vec::new()).map_err(|e| failure(e.to_string()))?
            }
            _ => JsValue::new_null(ctx.clone()),
        };
        // The record before the update, for `previous` and `changed`, built only
        // for a script that names them.
        let previous_js = match previous {
            Some(prev) if source.contains("previous") || source.contains("changed") => {
                record_to_js(&ctx, prev, &mut Vec::new()).map_err(|e| failure(e.to_string()))?
            }
            _ => JsValue::new_null(ctx.clone()),
        };
        // The request's query (On GET), built only for a script that names it.
        let query_js = match query {
            Some(q) if source.contains("query") => {
                record_to_js(&ctx, q, &mut Vec::new()).map_err(|e| failure(e.to_string()))?
            }
            _ => JsValue::new_null(ctx.clone()),
        };
        let label =
            rquickjs::String::from_str(ctx.clone(), &format!("{collection} {}", event.label()))
                .map_err(|e| failure(e.to_string()))?;
        // What the script threw, or a failure of the engine, as the answer. The
        // time limit holds until the record is read back: a getter or `toJSON`
        // the script left runs then.
        let thrown =
            |e: rquickjs::Error| thrown_error(&ctx, e, &file(), &where_(), limits, spoiled);
        deadline.set(Some(Instant::now() + limits.time));
        let outcome: Option<rquickjs::Array> = runner
            .call((
                f,
                this.clone(),
                me_js,
                user_js,
                previous_js,
                query_js,
                label,
            ))
            .map_err(thrown)?;
        let outcome = if uses_dpd(source) {
            // Only a request's own reads and writes can serve `dpd` (see
            // [`run_async`]): here its calls fail, and the script's promise
            // settles once its jobs have run.
            if !drain_jobs(&ctx, deadline.get()) {
                return Err(failure(format!(
                    "{} ran over its time limit of {} ms",
                    where_(),
                    limits.time.as_millis()
                )));
            }
            settled(&ctx, &runner, &file(), &where_()).map_err(|e| e.unwrap_or_else(thrown))?;
            runner
                .get::<_, Function>("outcome")
                .and_then(|f| f.call(()))
                .map_err(thrown)?
        } else {
            outcome
        };
        let this = touches_record.then_some(this);
        finish(
            collection,
            event,
            outcome,
            this,
            record,
            &given,
            &where_(),
            &thrown,
        )
    });
    let _ = runtime;
    out
}

/// What a script threw (or a failure of the engine) as the answer.
fn thrown_error(
    ctx: &Ctx<'_>,
    e: rquickjs::Error,
    file: &str,
    where_: &str,
    limits: Limits,
    spoiled: &Cell<bool>,
) -> ApiError {
    if !matches!(e, rquickjs::Error::Exception) {
        return failure(format!("{where_}: {e}"));
    }
    let (m, cancel) = describe(ctx, ctx.catch(), file);
    match cancel {
        Some((message, status)) => ApiError::new(ErrorCode::Cancelled, message).with_status(status),
        None if m.contains("interrupted") => failure(format!(
            "{where_} ran over its time limit of {} ms",
            limits.time.as_millis()
        )),
        None if m.contains("out of memory") => {
            spoiled.set(true);
            failure(format!(
                "{where_} ran out of memory (limit {} MiB)",
                limits.memory / (1024 * 1024)
            ))
        }
        None => failure(format!("{where_} failed: {m}")),
    }
}

/// Runs the engine's pending jobs (promise callbacks, code after an `await`)
/// until none is left; `false` when the deadline passed first (a chain of
/// short jobs is not stopped by the interrupt, which counts within one job).
fn drain_jobs(ctx: &Ctx<'_>, deadline: Option<Instant>) -> bool {
    loop {
        if deadline.is_some_and(|d| Instant::now() > d) {
            return false;
        }
        if !ctx.execute_pending_job() {
            return true;
        }
    }
}

/// Whether an async script (one that calls `dpd`) has finished: `Ok` when it
/// did, the answer when it failed (`Err(Ok)`), or the engine's error to
/// describe (`Err(Err)`); one still waiting is a failure here.
fn settled<'js>(
    ctx: &Ctx<'js>,
    runner: &Function<'js>,
    file: &str,
    where_: &str,
) -> Result<(), Result<ApiError, rquickjs::Error>> {
    let state: rquickjs::Array = runner
        .get::<_, Function>("state")
        .and_then(|f| f.call(()))
        .map_err(Err)?;
    let code: i32 = state.get(0).map_err(Err)?;
    match code {
        1 => Ok(()),
        2 => {
            let reason: JsValue = state.get(1).map_err(Err)?;
            let (m, cancel) = describe(ctx, reason, file);
            Err(Ok(match cancel {
                Some((message, status)) => {
                    ApiError::new(ErrorCode::Cancelled, message).with_status(status)
                }
                None => failure(format!("{where_} failed: {m}")),
            }))
        }
        _ => Err(Ok(failure(format!(
            "{where_} did not finish: dpd is not available in a broadcast"
        )))),
    }
}

/// What a run left: the effects of its helpers and, unless it ran On DELETE,
/// the record as `this` holds it (`None`: the script never named `this`).
#[allow(clippy::too_many_arguments)]
fn finish<'js>(
    collection: &str,
    event: Event,
    outcome: Option<rquickjs::Array<'js>>,
    this: Option<JsValue<'js>>,
    record: &mut Map<String, Value>,
    given: &[(rquickjs::Atom<'js>, JsValue<'js>)],
    where_: &str,
    thrown: &dyn Fn(rquickjs::Error) -> ApiError,
) -> Result<Effects, ApiError> {
    let (mut hidden, mut protected, mut sent) = (Vec::new(), Vec::new(), Vec::new());
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
        for text in strings(3)? {
            sent.push(emitted(collection, &text).map_err(|m| failure(format!("{where_}: {m}")))?);
        }
    }
    // On DELETE's changes go nowhere.
    if let Some(this) = this
        && event != Event::Delete
    {
        let Some(obj) = this.as_object() else {
            return Err(failure(format!("{where_} left `this` as a non-object")));
        };
        if !changes_in_place(record, obj, given).map_err(thrown)? {
            *record = scripted_record(record, obj, given).map_err(thrown)?;
        }
    }
    Ok(Effects {
        hidden,
        protected,
        emitted: sent,
    })
}

/// Runs On GET on a record being read, as the user `me`, with `query` the
/// request's query (`{}` where there is none, as for a broadcast): the record as that user
/// sees it (`hide` applied, changes shown but not kept), or the script's error (a
/// `cancel` comes back as [`ErrorCode::Cancelled`]: lists and broadcasts leave
/// such a record out).
pub fn read(
    app: &crate::app::App,
    coll: &str,
    src: &str,
    doc: Value,
    me: Option<Me<'_>>,
    query: Option<&Map<String, Value>>,
) -> Result<Value, ApiError> {
    let Value::Object(mut out) = doc else {
        return Ok(doc);
    };
    let limits = Limits::of(&app.config);
    let fx = run(coll, Event::Get, src, &mut out, me, None, query, limits)?;
    publish_emitted(app, fx.emitted);
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

/// Whether an error is a script's `cancel`.
pub fn is_cancel(e: &ApiError) -> bool {
    e.0.code == ErrorCode::Cancelled
}

#[cfg(test)]
mod tests;
