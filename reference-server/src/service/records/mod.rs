//! What each record route does: the rules, scripts, schema, store calls and
//! broadcasts behind `list`, `get`, `create`, `write`, `delete` and the bulk
//! operations (the WebSocket actions call the same).

use super::{Answer, Ctx, store_error};
use crate::app::Collection;
use crate::clock::{new_id, now_iso};
use crate::error::ApiError;
use crate::scripts;
use crate::store::{Change, Check, Found, StoreError};
use sdk_core::collection::{Access, IdGenerator, Operation};
use sdk_core::names::{check_collection_name, check_id};
use sdk_core::query::{CmpOp, Filter as QFilter, FindQuery, QueryError};
use sdk_core::record::{
    CREATED_AT, Claims, ID, OWNER, UPDATED_AT, UpdateData, VERSION, check_client_data,
    check_update_data, is_system_field, is_update_spec,
};
use sdk_core::update::UpdateSpec;
use sdk_core::ws::WriteAction;
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::{Map, Value, json};

mod read;
mod write;

pub(crate) use read::{get, list, list_page};
pub(crate) use write::{create, delete, delete_many, save_all, update_many, write};

/// Routes that belong to the server itself: other methods on them are 405, not a collection.
const OWN_ROUTES: &[&str] = &[
    "register",
    "login",
    "logout",
    "collections",
    "health",
    "ws",
    "uploads",
];

pub(crate) type CtxResult = Result<Ctx, ApiError>;
/// A handler's outcome.
pub type Outcome = Result<Answer, ApiError>;
pub(crate) type BodyResult = Result<Value, ApiError>;

/// The most records one `POST` may create.
pub const MAX_INSERT: usize = 1000;

fn check_collection(name: &str) -> Result<(), ApiError> {
    if OWN_ROUTES.contains(&name) {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "this method is not allowed on this route",
        ));
    }
    check_collection_name(name).map_err(ApiError::from)
}

fn check_item(coll: &str, id: &str) -> Result<(), ApiError> {
    check_collection(coll)?;
    check_id(id).map_err(ApiError::from)
}

/// The expected version from `If-Match` (a number, quoted or not), else from the body's `__v`.
fn expected_version(
    if_match: Option<String>,
    body_version: Option<u64>,
) -> Result<Option<u64>, ApiError> {
    match if_match {
        None => Ok(body_version),
        Some(h) => h
            .trim()
            .trim_matches('"')
            .parse::<u64>()
            .map(Some)
            .map_err(|_| {
                ApiError::from(
                    ErrorBody::new(
                        ErrorCode::ValidationFailed,
                        "If-Match must be a record version",
                    )
                    .with_field("If-Match", "a non-negative integer"),
                )
            }),
    }
}

/// Parses a read's query string into a [`FindQuery`] within the server's page limits.
/// A read's query as it arrived.
#[derive(Debug)]
pub(crate) enum QueryInput {
    /// A query string (an HTTP request's).
    Pairs(String),
    /// One Mongo-style document (a WebSocket `find`'s).
    Mongo(Value),
    /// A query already parsed (by a compatibility mount that renames fields).
    Parsed(FindQuery),
}

fn find_query(input: QueryInput, max_page: u32, me: Option<&str>) -> Result<FindQuery, ApiError> {
    let q = match input {
        QueryInput::Pairs(raw) => parse_query(&raw, me)?,
        QueryInput::Mongo(doc) => FindQuery::from_mongo(doc)?,
        QueryInput::Parsed(q) => q,
    };
    q.check_page(u64::from(max_page))?;
    Ok(q)
}

/// The query string as query parameters, `@me` standing for the caller.
fn parse_query(raw: &str, me: Option<&str>) -> Result<FindQuery, QueryError> {
    FindQuery::from_pairs_as(form_urlencoded::parse(raw.as_bytes()), me)
}

/// The filter of a bulk write: filter parameters only.
fn bulk_filter(raw: &str, me: Option<&str>) -> Result<Option<QFilter>, ApiError> {
    let q = parse_query(raw, me)?;
    if !q.sort.is_empty()
        || q.offset != 0
        || q.page_size.is_some()
        || q.select.is_some()
        || q.distinct.is_some()
        || q.count
        || !q.load.is_empty()
        || q.after.is_some()
    {
        return Err(QueryError::new(
            "where",
            "a bulk write takes only filters (where, q, field=value)",
        )
        .into());
    }
    Ok(q.filter)
}

/// Refuses an operation the collection has switched off.
fn require(cfg: &Collection, op: Operation) -> Result<(), ApiError> {
    if cfg.config.enabled(op) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::OperationDisabled,
            format!(
                "the operation '{}' is switched off for this collection",
                op.name()
            ),
        ))
    }
}

/// The signed-in user's id, if any.
/// Reads the caller for scripts' `me` when this collection has a script (or
/// the read loads related records, which may have one).
async fn ready_for_scripts(c: &Ctx, cfg: &Collection, loads: bool) -> Result<(), ApiError> {
    let e = &cfg.config.events;
    let scripted = e.get.is_some()
        || e.validate.is_some()
        || e.post.is_some()
        || e.put.is_some()
        || e.delete.is_some();
    if scripted || loads {
        c.load_me().await?;
    }
    Ok(())
}

fn me(c: &Ctx) -> Option<&str> {
    c.caller.as_ref().map(|u| u.user_id.as_str())
}

/// What a rule lets the caller touch: every record (`None`) or those matching a
/// filter; or the error when it lets them touch nothing.
fn grant(access: Access, what: &str) -> Result<Option<QFilter>, ApiError> {
    match access {
        Access::All => Ok(None),
        Access::Only(f) => Ok(Some(f)),
        Access::SignIn => Err(ApiError::new(
            ErrorCode::Unauthenticated,
            format!("sign in first: to {what} needs a session"),
        )),
        Access::Refused => Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("this collection's rules do not allow you to {what}"),
        )),
    }
}

/// Refuses what the caller may not do on `coll` at all: the operation's switch,
/// and a rule that lets them touch no record of it. The checks `op` itself makes
/// first, for a larger action to make before it writes anything.
pub(crate) fn allowed(c: &Ctx, coll: &str, op: Operation) -> Result<(), ApiError> {
    check_collection(coll)?;
    let cfg = c.app.collection(coll);
    require(&cfg, op)?;
    let rules = &cfg.config.rules;
    let (access, what) = match op {
        Operation::Insert | Operation::InsertObject => {
            (rules.create.create_access(me(c), c.admin), "create records")
        }
        Operation::Update | Operation::UpdateObject | Operation::SaveObject | Operation::Save => {
            (rules.update.access(me(c), c.admin), "update records")
        }
        Operation::Remove | Operation::RemoveObject => {
            (rules.delete.access(me(c), c.admin), "delete records")
        }
        Operation::Find | Operation::FindObject => (rules.read.access(me(c), c.admin), "read"),
    };
    grant(access, what).map(|_| ())
}

/// Both filters, when both are there.
fn and(a: Option<QFilter>, b: Option<QFilter>) -> Option<QFilter> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.and(b)),
        (a, b) => a.or(b),
    }
}

/// Refuses a new record the create rule does not let the caller make.
fn check_create(
    guard: Option<&QFilter>,
    record: Map<String, Value>,
) -> Result<Map<String, Value>, ErrorBody> {
    let Some(g) = guard else { return Ok(record) };
    let doc = Value::Object(record);
    if !g.matches(&doc) {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            "this collection's rules do not allow you to create this record",
        ));
    }
    match doc {
        Value::Object(m) => Ok(m),
        _ => Err(ErrorBody::new(ErrorCode::Internal, "a record is an object")),
    }
}

fn new_id_for(cfg: &Collection) -> String {
    match cfg.config.id_generator {
        IdGenerator::ObjectId => new_id(),
        IdGenerator::Uuidv7 => uuid::Uuid::now_v7().to_string(),
    }
}

/// A complete new record from client data: the id (given, where upserts allow it,
/// or generated), owner, fields, timestamps, version; schema-checked.
pub(crate) fn build_record(
    cfg: &Collection,
    owner: Option<&str>,
    body: Value,
    given_id: Option<String>,
) -> Result<Map<String, Value>, ErrorBody> {
    let mut body = body;
    let mut id = given_id;
    if cfg.config.upsert
        && let Some(obj) = body.as_object_mut()
        && let Some(Value::String(client_id)) = obj.get(ID).cloned()
    {
        check_id(&client_id)?;
        obj.shift_remove(ID);
        id = Some(client_id);
    }
    let (version, data) = check_client_data(body, owner)?;
    if version.is_some() {
        return Err(ErrorBody::new(
            ErrorCode::SystemField,
            "a new record has no version to expect",
        )
        .with_field(VERSION, "set by the server"));
    }
    let now = now_iso();
    // Room for the fields an On Validate or On POST script typically adds, so
    // adding them does not move the record.
    let events = &cfg.config.events;
    let spare = if events.validate.is_some() || events.post.is_some() {
        4
    } else {
        0
    };
    let mut record = Map::with_capacity(data.len() + 5 + spare);
    record.insert(
        ID.into(),
        Value::String(id.unwrap_or_else(|| new_id_for(cfg))),
    );
    if let Some(o) = owner {
        record.insert(OWNER.into(), Value::String(o.to_owned()));
    }
    for (k, v) in data {
        record.insert(k, v);
    }
    record.insert(CREATED_AT.into(), Value::String(now.clone()));
    record.insert(UPDATED_AT.into(), Value::String(now));
    record.insert(VERSION.into(), Value::from(0u64));
    Ok(record)
}

fn script_limits(c: &Ctx) -> scripts::Limits {
    scripts::Limits::of(&c.app.config)
}

/// How deep `dpd` calls may nest (a script's call whose own scripts call `dpd`...).
const MAX_DPD_DEPTH: u8 = 3;

/// Makes a script's `dpd` calls: the records service as the request's user,
/// one level deeper, each call a request of its own (its own broadcast, its own
/// scripts' `emit`s).
struct Dpd(Ctx);

impl scripts::DpdHost for Dpd {
    fn call(&self, request: scripts::DpdRequest) -> scripts::DpdFuture {
        // Each call holds its own scripts' messages: a refused call's never
        // reach another call's publish.
        let c = Ctx {
            emitted: std::sync::Arc::default(),
            ..self.0.clone()
        };
        Box::pin(dpd_call(c, request))
    }
}

async fn dpd_call(c: Ctx, request: scripts::DpdRequest) -> Result<Value, ApiError> {
    if c.depth > MAX_DPD_DEPTH {
        return Err(ApiError::new(
            ErrorCode::ScriptError,
            format!("dpd calls nest at most {MAX_DPD_DEPTH} deep"),
        ));
    }
    let coll = request.collection;
    let answer = match request.call {
        scripts::DpdCall::Get(id) => read::get(coll, id, Ok(c)).await?,
        scripts::DpdCall::Find(q) => read::list(coll, Ok(c), QueryInput::Mongo(q)).await?,
        scripts::DpdCall::Post(body) => write::create(coll, Ok(c), Ok(body)).await?,
        scripts::DpdCall::Put(id, body) => {
            write::write(coll, id, Ok(c), None, Ok(body), WriteAction::Patch).await?
        }
        scripts::DpdCall::Del(id) => write::delete(coll, id, Ok(c), None).await?,
    };
    match answer {
        Answer::Raw(text) => serde_json::from_str(&text).map_err(ApiError::internal),
        Answer::Json(v, _) => Ok(v),
    }
}

/// Runs one event script on `record` for the request: a script that calls
/// `dpd` through [`scripts::run_async`], its calls made as the caller, others
/// on this thread's engine.
async fn run_script(
    c: &Ctx,
    coll: &str,
    event: scripts::Event,
    src: &str,
    record: &mut Map<String, Value>,
    previous: Option<&Map<String, Value>>,
    query: Option<&Map<String, Value>>,
) -> Result<scripts::Effects, ApiError> {
    if scripts::uses_dpd(src) {
        let host = Dpd(c.nested());
        let run = scripts::run_async(
            coll,
            event,
            src,
            record,
            c.script_me(),
            previous,
            query,
            script_limits(c),
            &host,
        );
        // The future is boxed: a dpd call's own scripts may run this again.
        let run: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>> =
            Box::pin(run);
        run.await
    } else {
        scripts::run(
            coll,
            event,
            src,
            record,
            c.script_me(),
            previous,
            query,
            script_limits(c),
        )
    }
}

/// On GET for a record the request reads (see [`scripts::read`]), `dpd`
/// available: the record as the caller sees it, or the script's error.
async fn read_scripted(
    c: &Ctx,
    coll: &str,
    src: &str,
    doc: Value,
    query: Option<&Map<String, Value>>,
) -> Result<Value, ApiError> {
    if !scripts::uses_dpd(src) {
        return scripts::read(&c.app, coll, src, doc, c.script_me(), query);
    }
    let Value::Object(mut out) = doc else {
        return Ok(doc);
    };
    let fx = run_script(c, coll, scripts::Event::Get, src, &mut out, None, query).await?;
    scripts::publish_emitted(&c.app, fx.emitted);
    for h in &fx.hidden {
        out.shift_remove(h);
    }
    Ok(Value::Object(out))
}

/// Runs On Validate, then On POST (a create, `previous` is `None`) or On PUT (an
/// update), on a record about to be written; `protect` on PUT keeps a property
/// as it was. Returns the record to write.
async fn write_scripts(
    c: &Ctx,
    coll: &str,
    cfg: &Collection,
    mut record: Map<String, Value>,
    previous: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, ApiError> {
    let events = &cfg.config.events;
    let second = match previous {
        None => (scripts::Event::Post, events.post.as_deref()),
        Some(_) => (scripts::Event::Put, events.put.as_deref()),
    };
    for (event, src) in [
        (scripts::Event::Validate, events.validate.as_deref()),
        second,
    ] {
        let Some(src) = src else { continue };
        let fx = run_script(c, coll, event, src, &mut record, previous, None).await?;
        c.hold(fx.emitted);
        if let Some(prev) = previous {
            for p in fx.protected.iter().filter(|p| !is_system_field(p)) {
                match prev.get(p) {
                    Some(v) => {
                        record.insert(p.clone(), v.clone());
                    }
                    None => {
                        record.shift_remove(p);
                    }
                }
            }
        }
    }
    Ok(record)
}

/// How many times a write that runs scripts retries when another write got there first.
const SCRIPTED_RETRIES: usize = 5;

/// The record as stored and its version, for a write that runs scripts on it:
/// checked against the caller's rule and the version the caller expects.
async fn load_for_write(
    c: &Ctx,
    coll: &str,
    id: &str,
    guard: Option<&QFilter>,
    expected: Option<u64>,
) -> Result<(Map<String, Value>, u64), StoreError> {
    let text = c
        .app
        .store
        .get(coll, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let prev = match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(StoreError::Engine(
                "a stored record is not an object".into(),
            ));
        }
    };
    if guard.is_some_and(|g| !g.matches(&Value::Object(prev.clone()))) {
        return Err(StoreError::NotOwner);
    }
    let version = prev.get(VERSION).and_then(Value::as_u64).unwrap_or(0);
    if expected.is_some_and(|e| e != version) {
        return Err(StoreError::VersionConflict(version));
    }
    Ok((prev, version))
}

/// A new record from client data, through the scripts, the create rule and the schema.
async fn new_record(
    c: &Ctx,
    coll: &str,
    cfg: &Collection,
    guard: Option<&QFilter>,
    body: Value,
    given_id: Option<String>,
) -> Result<Map<String, Value>, ApiError> {
    let record = build_record(cfg, me(c), body, given_id)?;
    let record = write_scripts(c, coll, cfg, record, None).await?;
    let record = check_create(guard, record)?;
    if let Some(check) = &cfg.check {
        check(&record)?;
    }
    Ok(record)
}

/// A written record as the writer may read it: through the On GET script (its
/// `hide()`s), as every read and broadcast of it is. When the script cancels,
/// the answer keeps only the system fields (the write itself happened).
async fn shown(c: &Ctx, coll: &str, cfg: &Collection, record: Value) -> Result<Value, ApiError> {
    let Some(src) = &cfg.config.events.get else {
        return Ok(record);
    };
    let system: Map<String, Value> = match &record {
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| is_system_field(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => Map::new(),
    };
    match read_scripted(c, coll, src, record, None).await {
        Ok(v) => Ok(v),
        Err(e) if scripts::is_cancel(&e) => Ok(Value::Object(system)),
        Err(e) => Err(e),
    }
}

/// The answer to a write the caller's rule refused: 403 when they may read the
/// record (they know it exists), else 404 as for a missing one, so that writes
/// do not reveal records reads hide.
async fn refused(c: &Ctx, coll: &str, cfg: &Collection, id: &str) -> ApiError {
    let forbidden = || store_error(StoreError::NotOwner);
    let not_found = ApiError::new(ErrorCode::NotFound, "no record with that id");
    match cfg.config.rules.read.access(me(c), c.admin) {
        Access::All => forbidden(),
        Access::Only(rule) => match c.app.store.get(coll, id).await {
            Ok(Some(text)) => match serde_json::from_str::<Value>(&text) {
                Ok(v) if rule.matches(&v) => forbidden(),
                _ => not_found,
            },
            _ => not_found,
        },
        Access::SignIn | Access::Refused => not_found,
    }
}

/// Prefixes each field of a per-field error with the index of the array element.
fn at_index(i: usize, mut e: ErrorBody) -> ErrorBody {
    if let Some(errors) = e.errors.take() {
        e.errors = Some(
            errors
                .into_iter()
                .map(|(k, v)| (format!("{i}.{k}"), v))
                .collect(),
        );
    } else {
        e = e.with_field(&i.to_string(), "refused");
    }
    e
}
