//! Deployd's `dpd.<collection>.get/post/put/del` inside event scripts: a script
//! that calls `dpd` runs as an async function on an engine of its own, on a
//! thread of its own, and its calls are made by the request's host (the same
//! records service, as the same user, under the same rules and scripts) while
//! that thread waits. Nothing of the engine crosses threads: the request and
//! the script's thread exchange JSON values over channels.

use super::*;
use std::future::Future;
use std::pin::Pin;

/// What a `dpd` call asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum DpdCall {
    /// `get(id)`: one record.
    Get(String),
    /// `get(query)` or `get()`: a list, the query a Mongo-style document.
    Find(Value),
    /// `post(body)`: a new record.
    Post(Value),
    /// `put(id, body)` or `put({id, ...})`: a change merged into a record.
    Put(String, Value),
    /// `del(id)`: a record deleted.
    Del(String),
}

/// A `dpd` call as the host runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct DpdRequest {
    /// The collection the script named (`dpd.<collection>`).
    pub collection: String,
    /// The operation.
    pub call: DpdCall,
}

/// The answer to a `dpd` call: the record or records, or the error the same
/// request over HTTP would get.
pub type DpdFuture = Pin<Box<dyn Future<Output = Result<Value, ApiError>> + Send>>;

/// Who makes a script's `dpd` calls: the records service, as the request's user.
pub trait DpdHost: Sync {
    /// Makes one call.
    fn call(&self, request: DpdRequest) -> DpdFuture;
}

/// Longest a run may wait for its `dpd` calls, all together.
pub const DPD_WAIT: Duration = Duration::from_secs(10);

impl DpdRequest {
    /// The call a script's arguments (a JSON array, the callback taken off) make.
    fn parse(op: &str, collection: String, args: &str) -> Result<Self, String> {
        let args: Vec<Value> =
            serde_json::from_str(args).map_err(|e| format!("dpd: arguments: {e}"))?;
        let id_of = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(m) => m
                .get("id")
                .or_else(|| m.get(ID))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        let first = args.first();
        let call = match op {
            "get" => match first {
                Some(Value::String(id)) => DpdCall::Get(id.clone()),
                Some(Value::Object(q)) => match q.get("id").and_then(Value::as_str) {
                    Some(id) if q.len() == 1 => DpdCall::Get(id.to_owned()),
                    _ => DpdCall::Find(Value::Object(q.clone())),
                },
                None | Some(Value::Null) => DpdCall::Find(Value::Object(Map::new())),
                Some(_) => return Err("dpd: get takes an id or a query".into()),
            },
            "post" => match first {
                Some(body @ Value::Object(_)) => DpdCall::Post(body.clone()),
                _ => return Err("dpd: post takes an object".into()),
            },
            "put" => match (first, args.get(1)) {
                (Some(Value::String(id)), Some(body @ Value::Object(_))) => {
                    DpdCall::Put(id.clone(), body.clone())
                }
                (Some(body @ Value::Object(m)), None) => {
                    let id = id_of(body).ok_or("dpd: put needs an id")?;
                    let mut body = m.clone();
                    body.remove("id");
                    body.remove(ID);
                    DpdCall::Put(id, Value::Object(body))
                }
                _ => return Err("dpd: put takes an id and an object".into()),
            },
            "del" => DpdCall::Del(first.and_then(id_of).ok_or("dpd: del takes an id")?),
            other => return Err(format!("dpd: no operation '{other}'")),
        };
        Ok(Self { collection, call })
    }
}

/// An engine one run owns from start to end, across the waits for its `dpd`
/// calls, with the record it handed the script (`this` and what it was given).
/// Fields drop in order: the saved values before the engine that holds them.
struct OwnedRun {
    this: Option<Persistent<JsValue<'static>>>,
    given: Vec<(
        Persistent<rquickjs::Atom<'static>>,
        Persistent<JsValue<'static>>,
    )>,
    engine: Engine,
}

impl OwnedRun {
    /// Runs `f` in the engine with what is left of the time budget; a run
    /// over it fails whatever `f` answered.
    fn enter<R>(
        &mut self,
        budget: &mut Duration,
        limits: Limits,
        where_: &str,
        f: impl FnOnce(&Ctx<'_>, &mut Self) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let started = Instant::now();
        self.engine.deadline.set(Some(started + *budget));
        let context = self.engine.context.clone();
        let r = context.with(|ctx| f(&ctx, self));
        self.engine.deadline.set(None);
        *budget = budget.saturating_sub(started.elapsed());
        if budget.is_zero() {
            return Err(failure(format!(
                "{where_} ran over its time limit of {} ms",
                limits.time.as_millis()
            )));
        }
        r
    }
}

/// What a script's thread sends the request: calls to make, or the end.
enum FromScript {
    /// `dpd` calls to answer (or the reason a call could not be read).
    Calls(Vec<(u32, Result<DpdRequest, String>)>),
    /// The run ended: its effects and the record as the script left it.
    Done(Result<(Effects, Map<String, Value>), ApiError>),
}

/// The answers to a batch of calls: `(id, Ok(answer) | Err(error object))`.
type Answers = Vec<(u32, Result<Value, Value>)>;

/// Script runs that call `dpd` at once; beyond, a run is refused (503).
const MAX_DPD_RUNS: usize = 64;

static DPD_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs a script that calls `dpd` (see [`run`] for the rest): on an engine and
/// a thread of its own, each call made through `host` while that thread waits,
/// until the script's promise settles and no call is left unanswered. The time
/// limit counts the script's own running time; the waits may take [`DPD_WAIT`]
/// in all. At most [`MAX_DPD_RUNS`] such runs at once (nested calls included).
#[allow(clippy::too_many_arguments)]
pub async fn run_async(
    collection: &str,
    event: Event,
    source: &str,
    record: &mut Map<String, Value>,
    me: Option<Me<'_>>,
    previous: Option<&Map<String, Value>>,
    query: Option<&Map<String, Value>>,
    limits: Limits,
    host: &dyn DpdHost,
) -> Result<Effects, ApiError> {
    use std::sync::atomic::Ordering::SeqCst;
    struct Slot;
    impl Drop for Slot {
        fn drop(&mut self) {
            DPD_RUNS.fetch_sub(1, SeqCst);
        }
    }
    if DPD_RUNS.fetch_add(1, SeqCst) >= MAX_DPD_RUNS {
        DPD_RUNS.fetch_sub(1, SeqCst);
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "too many scripts are waiting for dpd; retry shortly",
        ));
    }
    let _slot = Slot;
    let (to_request, mut from_script) = tokio::sync::mpsc::unbounded_channel::<FromScript>();
    let (to_script, answers) = std::sync::mpsc::channel::<Answers>();
    let owned = (
        collection.to_owned(),
        source.to_owned(),
        record.clone(),
        me.map(|m| (m.id.to_owned(), m.user.cloned())),
        previous.cloned(),
        query.cloned(),
    );
    let spawned = std::thread::Builder::new()
        .name("rucksack-dpd".into())
        .spawn(move || {
            let (collection, source, mut record, me, previous, query) = owned;
            let me = me.as_ref().map(|(id, user)| Me {
                id,
                user: user.as_ref(),
            });
            let sender = to_request.clone();
            let wait = move |calls| -> Result<Answers, ApiError> {
                sender
                    .send(FromScript::Calls(calls))
                    .map_err(|_| failure("the request ended".into()))?;
                answers
                    .recv_timeout(DPD_WAIT)
                    .map_err(|_| failure(format!("waited over {} s for dpd", DPD_WAIT.as_secs())))
            };
            RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let out = run_on_thread(
                (&collection, event, &source),
                &mut record,
                me,
                previous.as_ref(),
                query.as_ref(),
                limits,
                wait,
            );
            if out
                .as_ref()
                .is_err_and(|e| e.0.code == ErrorCode::ScriptError)
            {
                FAILURES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let _ = to_request.send(FromScript::Done(out.map(|fx| (fx, record))));
        });
    if let Err(e) = spawned {
        return Err(failure(format!("the script could not start: {e}")));
    }
    let waits_until = tokio::time::Instant::now() + DPD_WAIT;
    while let Some(msg) = from_script.recv().await {
        match msg {
            FromScript::Done(out) => {
                let (fx, left) = out?;
                *record = left;
                return Ok(fx);
            }
            FromScript::Calls(calls) => {
                let mut out = Vec::with_capacity(calls.len());
                for (id, call) in calls {
                    let answer = match call {
                        Err(m) => {
                            Err(json!({ "status": 400, "code": "invalid_body", "message": m }))
                        }
                        Ok(req) => match tokio::time::timeout_at(waits_until, host.call(req)).await
                        {
                            Err(_) => Err(json!({
                                "status": 503, "code": "unavailable",
                                "message": format!("dpd took over {} s", DPD_WAIT.as_secs()),
                            })),
                            Ok(Ok(v)) => Ok(v),
                            Ok(Err(ApiError(body, answering))) => Err(json!({
                                "status": answering.status.unwrap_or_else(|| body.code.status()),
                                "code": body.code,
                                "message": body.message,
                                "errors": body.errors,
                            })),
                        },
                    };
                    out.push((id, answer));
                }
                if to_script.send(out).is_err() {
                    break;
                }
            }
        }
    }
    Err(failure(format!(
        "the {} script of '{collection}' stopped without an answer",
        event.label()
    )))
}

/// The run itself, on its own thread: `wait` hands calls to the request and
/// blocks until they are answered.
fn run_on_thread(
    (collection, event, source): (&str, Event, &str),
    record: &mut Map<String, Value>,
    me: Option<Me<'_>>,
    previous: Option<&Map<String, Value>>,
    query: Option<&Map<String, Value>>,
    limits: Limits,
    wait: impl Fn(Vec<(u32, Result<DpdRequest, String>)>) -> Result<Answers, ApiError>,
) -> Result<Effects, ApiError> {
    let file = file_name(collection, event);
    let where_ = format!("the {} script of '{collection}'", event.label());
    let mut run = OwnedRun {
        this: None,
        given: Vec::new(),
        engine: Engine::new(limits.memory, true)
            .map_err(|e| failure(format!("the script engine did not start: {e}")))?,
    };
    let spoiled = Cell::new(false);
    let mut budget = limits.time;
    let (budget, file, where_, spoiled) = (&mut budget, file.as_str(), where_.as_str(), &spoiled);
    let js_err = |e: rquickjs::Error| failure(format!("{where_}: {e}"));
    // Start: the script runs up to its first wait.
    run.enter(budget, limits, where_, |ctx, run| {
        let thrown = |e: rquickjs::Error| thrown_error(ctx, e, file, where_, limits, spoiled);
        let f = compile(ctx, collection, event, source)?;
        let runner = run.engine.runner.clone().restore(ctx).map_err(js_err)?;
        let mut given = Vec::new();
        let this = record_to_js(ctx, record, &mut given).map_err(thrown)?;
        let me_js: JsValue = match me {
            Some(me) => rquickjs::String::from_str(ctx.clone(), me.id)
                .map(rquickjs::String::into_value)
                .map_err(js_err)?,
            None => JsValue::new_null(ctx.clone()),
        };
        let js = |m: Option<&Map<String, Value>>| match m {
            Some(m) => record_to_js(ctx, m, &mut Vec::new()).map_err(js_err),
            None => Ok(JsValue::new_null(ctx.clone())),
        };
        let label =
            rquickjs::String::from_str(ctx.clone(), &format!("{collection} {}", event.label()))
                .map_err(js_err)?;
        let _: Option<rquickjs::Array> = runner
            .call((
                f,
                this.clone(),
                me_js,
                js(me.and_then(|m| m.user))?,
                js(previous)?,
                js(query)?,
                label,
            ))
            .map_err(thrown)?;
        run.this = Some(Persistent::save(ctx, this));
        run.given = given
            .into_iter()
            .map(|(k, v)| (Persistent::save(ctx, k), Persistent::save(ctx, v)))
            .collect();
        Ok(())
    })?;
    loop {
        // The script's jobs run (callbacks, code after an `await`) until it
        // waits for calls again, or has finished.
        let (done, requests) = run.enter(budget, limits, where_, |ctx, run| {
            if !drain_jobs(ctx, run.engine.deadline.get()) {
                return Err(failure(format!(
                    "{where_} ran over its time limit of {} ms",
                    limits.time.as_millis()
                )));
            }
            let runner = run.engine.runner.clone().restore(ctx).map_err(js_err)?;
            let state: rquickjs::Array = runner
                .get::<_, Function>("state")
                .and_then(|f| f.call(()))
                .map_err(js_err)?;
            let code: i32 = state.get(0).map_err(js_err)?;
            Ok((
                code != 0,
                std::mem::take(&mut *run.engine.requests.borrow_mut()),
            ))
        })?;
        if requests.is_empty() {
            if done {
                break;
            }
            return Err(failure(format!(
                "{where_} did not finish: it waits for something that never comes"
            )));
        }
        let answers = wait(
            requests
                .into_iter()
                .map(|r| (r.id, DpdRequest::parse(&r.op, r.collection, &r.args)))
                .collect(),
        )?;
        run.enter(budget, limits, where_, |ctx, run| {
            let runner = run.engine.runner.clone().restore(ctx).map_err(js_err)?;
            let settle: Function = runner.get("settle").map_err(js_err)?;
            for (id, answer) in answers {
                let (ok, v) = match answer {
                    Ok(v) => (true, v),
                    Err(v) => (false, v),
                };
                settle
                    .call::<_, ()>((id, ok, v.to_string()))
                    .map_err(js_err)?;
            }
            Ok(())
        })?;
    }
    // Finished: what the script left, read as a synchronous run's is.
    run.enter(budget, limits, where_, |ctx, run| {
        let thrown = |e: rquickjs::Error| thrown_error(ctx, e, file, where_, limits, spoiled);
        let runner = run.engine.runner.clone().restore(ctx).map_err(js_err)?;
        settled(ctx, &runner, file, where_).map_err(|e| e.unwrap_or_else(thrown))?;
        let outcome: Option<rquickjs::Array> = runner
            .get::<_, Function>("outcome")
            .and_then(|f| f.call(()))
            .map_err(thrown)?;
        let this = match run.this.take() {
            Some(p) => Some(p.restore(ctx).map_err(js_err)?),
            None => None,
        };
        let given = std::mem::take(&mut run.given)
            .into_iter()
            .map(|(k, v)| Ok((k.restore(ctx)?, v.restore(ctx)?)))
            .collect::<rquickjs::Result<Vec<_>>>()
            .map_err(js_err)?;
        finish(
            collection, event, outcome, this, record, &given, where_, &thrown,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_read_as_deployd_writes_them() {
        let parse = |op: &str, args: &str| DpdRequest::parse(op, "c".into(), args).map(|r| r.call);
        assert_eq!(parse("get", r#"["r1"]"#), Ok(DpdCall::Get("r1".into())));
        assert_eq!(
            parse("get", r#"[{"id": "r1"}]"#),
            Ok(DpdCall::Get("r1".into()))
        );
        assert_eq!(
            parse("get", r#"[{"done": true}]"#),
            Ok(DpdCall::Find(json!({"done": true})))
        );
        assert_eq!(parse("get", "[]"), Ok(DpdCall::Find(json!({}))));
        assert_eq!(
            parse("put", r#"["r1", {"a": 1}]"#),
            Ok(DpdCall::Put("r1".into(), json!({"a": 1})))
        );
        assert_eq!(
            parse("put", r#"[{"id": "r1", "a": 1}]"#),
            Ok(DpdCall::Put("r1".into(), json!({"a": 1})))
        );
        assert_eq!(
            parse("del", r#"[{"_id": "r1"}]"#),
            Ok(DpdCall::Del("r1".into()))
        );
        assert!(parse("post", "[1]").is_err());
        assert!(parse("drop", "[]").is_err());
    }
}
