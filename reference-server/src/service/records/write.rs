//! Writes: creates, updates, deletes and the bulk operations, with their scripts.

use super::*;
use crate::store::Versioned;

pub(crate) async fn create(coll: String, c: CtxResult, body: BodyResult) -> Outcome {
    let c = c?;
    check_collection(&coll)?;
    let cfg = c.app.collection(&coll);
    ready_for_scripts(&c, &cfg, false).await?;
    let body = body?;
    require(
        &cfg,
        if body.is_array() {
            Operation::Insert
        } else {
            Operation::InsertObject
        },
    )?;
    let guard = grant(
        cfg.config.rules.create.create_access(me(&c), c.admin),
        "create records",
    )?;
    match body {
        Value::Array(items) => {
            if items.is_empty() || items.len() > MAX_INSERT {
                return Err(ApiError::from(ErrorBody::new(
                    ErrorCode::InvalidBody,
                    format!("an array insert takes 1 to {MAX_INSERT} objects"),
                )));
            }
            let mut records = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                records.push(
                    new_record(&c, &coll, &cfg, guard.as_ref(), item, None)
                        .await
                        .map_err(|ApiError(e, status)| ApiError(at_index(i, e), status))?,
                );
            }
            let saved = c
                .app
                .store
                .insert_many(&coll, records)
                .await
                .map_err(store_error)?;
            c.publish(WriteAction::Create, &coll, saved.clone());
            let mut out = Vec::with_capacity(saved.len());
            for r in saved {
                out.push(shown(&c, &coll, &cfg, r).await?);
            }
            let shown = out;
            Ok(Answer::Json(Value::Array(shown), 201))
        }
        body => {
            let record = new_record(&c, &coll, &cfg, guard.as_ref(), body, None).await?;
            let mut saved = c
                .app
                .store
                .insert_many(&coll, vec![record])
                .await
                .map_err(store_error)?;
            let saved = saved.pop().unwrap_or(Value::Null);
            c.publish(WriteAction::Create, &coll, vec![saved.clone()]);
            Ok(Answer::Json(shown(&c, &coll, &cfg, saved).await?, 201))
        }
    }
}

pub(crate) async fn update_many(
    coll: String,
    c: CtxResult,
    raw: String,
    body: BodyResult,
) -> Outcome {
    let c = c?;
    check_collection(&coll)?;
    let cfg = c.app.collection(&coll);
    require(&cfg, Operation::Update)?;
    let guard = grant(
        cfg.config.rules.update.access(me(&c), c.admin),
        "update records",
    )?;
    let filter = bulk_filter(&raw, me(&c))?;
    let spec = UpdateSpec::parse(&body?).map_err(ApiError::from)?;
    let saved = if cfg.config.events.validate.is_some() || cfg.config.events.put.is_some() {
        ready_for_scripts(&c, &cfg, false).await?;
        scripted_many(&c, &coll, &cfg, filter.clone(), guard, Some(&spec)).await?
    } else {
        c.app
            .store
            .update_many(
                &coll,
                filter.clone(),
                guard,
                spec.clone(),
                now_iso(),
                cfg.check.clone(),
            )
            .await
            .map_err(store_error)?
    };
    if saved.is_empty() && cfg.config.upsert {
        return upsert_many(&c, &coll, &cfg, filter.as_ref(), &spec).await;
    }
    Ok(bulk_answer(&c, WriteAction::Patch, &coll, saved))
}

/// Carbond's upserting `update`: nothing matched, so one record is made, as a
/// create, of the filter's equalities (an `_id` among them names it) with the
/// spec applied. Answers `201 {"n": 1, "val": 1, "created": true}`.
async fn upsert_many(
    c: &Ctx,
    coll: &str,
    cfg: &Collection,
    filter: Option<&QFilter>,
    spec: &UpdateSpec,
) -> Outcome {
    let mut set = Map::new();
    equalities(filter, &mut set);
    let id = match set.shift_remove(ID) {
        Some(Value::String(id)) => Some(id),
        _ => None,
    };
    // The other system fields are the server's to set (the owner is the caller).
    set.retain(|k, _| !is_system_field(k.split('.').next().unwrap_or_default()));
    let mut fields = Map::new();
    if !set.is_empty() {
        UpdateSpec::parse(&json!({ "$set": set }))
            .and_then(|s| s.apply(&mut fields))
            .map_err(ApiError::from)?;
    }
    spec.apply(&mut fields).map_err(ApiError::from)?;
    let saved = create_one(c, coll, cfg, fields, id).await?;
    let val = if cfg.config.returns_upserted_objects {
        Value::Array(readable(c, coll, cfg, vec![saved]).await?)
    } else {
        json!(1)
    };
    Ok(Answer::Json(
        json!({ "n": 1, "val": val, "created": true }),
        201,
    ))
}

/// Records a write touched, as the caller may read them: those outside the read
/// rule left out, each through the On GET script.
async fn readable(
    c: &Ctx,
    coll: &str,
    cfg: &Collection,
    records: Vec<Value>,
) -> Result<Vec<Value>, ApiError> {
    let rule = match cfg.config.rules.read.access(me(c), c.admin) {
        Access::All => None,
        Access::Only(f) => Some(f),
        Access::SignIn | Access::Refused => return Ok(Vec::new()),
    };
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        if rule.as_ref().is_none_or(|f| f.matches(&r)) {
            out.push(shown(c, coll, cfg, r).await?);
        }
    }
    Ok(out)
}

/// An upsert's create: the `insertObject` switch, the create rule, the
/// schema and scripts, then the write and its broadcast. The record as stored.
async fn create_one(
    c: &Ctx,
    coll: &str,
    cfg: &Collection,
    fields: Map<String, Value>,
    id: Option<String>,
) -> Result<Value, ApiError> {
    require(cfg, Operation::InsertObject)?;
    let create = grant(
        cfg.config.rules.create.create_access(me(c), c.admin),
        "create records",
    )?;
    let record = new_record(c, coll, cfg, create.as_ref(), Value::Object(fields), id).await?;
    let mut saved = c
        .app
        .store
        .insert_many(coll, vec![record])
        .await
        .map_err(store_error)?;
    let saved = saved.pop().unwrap_or(Value::Null);
    c.publish(WriteAction::Create, coll, vec![saved.clone()]);
    Ok(saved)
}

/// The `field = value` parts a record must have to match `filter` (through
/// `AND`s), by field path.
fn equalities(filter: Option<&QFilter>, out: &mut Map<String, Value>) {
    match filter {
        Some(QFilter::And(parts)) => {
            for p in parts {
                equalities(Some(p), out);
            }
        }
        Some(QFilter::Compare {
            field,
            op: CmpOp::Eq,
            value,
        }) => {
            out.insert(field.to_string(), value.to_json());
        }
        Some(QFilter::In { field, values }) if values.len() == 1 => {
            out.insert(field.to_string(), values[0].to_json());
        }
        _ => {}
    }
}

/// A bulk update (`spec`) or delete (`None`) on a collection with scripts for
/// it: the matching records are read, each goes through its scripts as a
/// single write would (On Validate and On PUT with `previous`, or On DELETE),
/// and all are written at once only if none changed meanwhile (else again, up
/// to [`SCRIPTED_RETRIES`] times). A cancel or field error of any record fails
/// the whole request (its errors named by the record's index), and nothing is
/// written. At most [`MAX_INSERT`] records.
async fn scripted_many(
    c: &Ctx,
    coll: &str,
    cfg: &Collection,
    filter: Option<QFilter>,
    guard: Option<QFilter>,
    spec: Option<&UpdateSpec>,
) -> Result<Vec<Value>, ApiError> {
    let q = FindQuery {
        filter: and(guard.clone(), filter),
        ..FindQuery::default()
    };
    for _ in 0..SCRIPTED_RETRIES {
        let found = c
            .app
            .store
            .find(coll, q.clone(), MAX_INSERT as u64 + 1, Vec::new())
            .await
            .map_err(store_error)?;
        let Found::Records(text) = found else {
            return Err(ApiError::internal("a find answered a count"));
        };
        let rows: Vec<Map<String, Value>> =
            serde_json::from_str(&text).map_err(ApiError::internal)?;
        if rows.len() > MAX_INSERT {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "the filter matches more than {MAX_INSERT} records, the most a bulk write \
                     with event scripts takes; narrow it"
                ),
            ));
        }
        c.forget_emitted();
        let mut writes = Vec::with_capacity(rows.len());
        for (i, prev) in rows.into_iter().enumerate() {
            let id = prev
                .get(ID)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let version = prev.get(VERSION).and_then(Value::as_u64).unwrap_or(0);
            let at = |ApiError(e, status): ApiError| ApiError(at_index(i, e), status);
            let fields = match spec {
                Some(spec) => {
                    let mut next = prev.clone();
                    spec.apply(&mut next).map_err(ApiError::from).map_err(at)?;
                    let next = write_scripts(c, coll, cfg, next, Some(&prev))
                        .await
                        .map_err(at)?;
                    Some(
                        next.into_iter()
                            .filter(|(k, _)| !is_system_field(k))
                            .collect(),
                    )
                }
                None => {
                    let mut gone = prev.clone();
                    let src = cfg.config.events.delete.as_deref().unwrap_or_default();
                    let fx =
                        run_script(c, coll, scripts::Event::Delete, src, &mut gone, None, None)
                            .await
                            .map_err(at)?;
                    c.hold(fx.emitted);
                    None
                }
            };
            writes.push(Versioned {
                id,
                version,
                fields,
            });
        }
        match c
            .app
            .store
            .write_versioned(coll, guard.clone(), writes, now_iso(), cfg.check.clone())
            .await
        {
            Err(StoreError::VersionConflict(_)) => continue,
            other => return other.map_err(store_error),
        }
    }
    Err(store_error(StoreError::Busy))
}

/// Broadcasts each record a bulk write touched and answers `{"n": count}` (and
/// Carbond's `{"val": count}`).
fn bulk_answer(c: &Ctx, action: WriteAction, coll: &str, records: Vec<Value>) -> Answer {
    let n = records.len();
    c.publish(action, coll, records);
    Answer::Json(json!({ "n": n, "val": n }), 200)
}

pub(crate) async fn delete_many(coll: String, c: CtxResult, raw: String) -> Outcome {
    let c = c?;
    check_collection(&coll)?;
    let cfg = c.app.collection(&coll);
    require(&cfg, Operation::Remove)?;
    let guard = grant(
        cfg.config.rules.delete.access(me(&c), c.admin),
        "delete records",
    )?;
    let filter = bulk_filter(&raw, me(&c))?;
    let gone = if cfg.config.events.delete.is_some() {
        ready_for_scripts(&c, &cfg, false).await?;
        scripted_many(&c, &coll, &cfg, filter, guard, None).await?
    } else {
        c.app
            .store
            .delete_many(&coll, filter, guard)
            .await
            .map_err(store_error)?
    };
    if cfg.config.returns_removed_objects {
        let n = gone.len();
        c.publish(WriteAction::Delete, &coll, gone.clone());
        let val = readable(&c, &coll, &cfg, gone).await?;
        return Ok(Answer::Json(json!({ "n": n, "val": val }), 200));
    }
    Ok(bulk_answer(&c, WriteAction::Delete, &coll, gone))
}

pub(crate) async fn save_all(coll: String, c: CtxResult, body: BodyResult) -> Outcome {
    let c = c?;
    check_collection(&coll)?;
    let cfg = c.app.collection(&coll);
    require(&cfg, Operation::Save)?;
    if !c.admin {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "replacing a whole collection needs the admin key",
        ));
    }
    let Value::Array(items) = body? else {
        return Err(ApiError::from(ErrorBody::new(
            ErrorCode::InvalidBody,
            "the body must be an array of objects",
        )));
    };
    if items.len() > MAX_INSERT {
        return Err(ApiError::from(ErrorBody::new(
            ErrorCode::InvalidBody,
            format!("at most {MAX_INSERT} objects"),
        )));
    }
    let mut records = Vec::with_capacity(items.len());
    for (i, mut item) in items.into_iter().enumerate() {
        let id = match item.as_object_mut().and_then(|o| o.shift_remove(ID)) {
            Some(Value::String(id)) => {
                check_id(&id).map_err(|e| ApiError::from(at_index(i, e)))?;
                Some(id)
            }
            None => None,
            Some(_) => {
                return Err(ApiError::from(at_index(
                    i,
                    ErrorBody::new(ErrorCode::InvalidId, "ids are strings"),
                )));
            }
        };
        records.push(
            new_record(&c, &coll, &cfg, None, item, id)
                .await
                .map_err(|ApiError(e, status)| ApiError(at_index(i, e), status))?,
        );
    }
    let (removed, saved) = c
        .app
        .store
        .replace_all(&coll, records)
        .await
        .map_err(store_error)?;
    // As every write: one message per record, the removals first.
    c.publish(WriteAction::Delete, &coll, removed);
    c.publish(WriteAction::Create, &coll, saved.clone());
    Ok(Answer::Json(Value::Array(saved), 200))
}

pub(crate) async fn write(
    coll: String,
    id: String,
    c: CtxResult,
    if_match: Option<String>,
    body: BodyResult,
    action: WriteAction,
) -> Outcome {
    let c = c?;
    check_item(&coll, &id)?;
    let cfg = c.app.collection(&coll);
    ready_for_scripts(&c, &cfg, false).await?;
    let op = if action == WriteAction::Patch {
        Operation::UpdateObject
    } else {
        Operation::SaveObject
    };
    require(&cfg, op)?;
    let guard = grant(
        cfg.config.rules.update.access(me(&c), c.admin),
        "update records",
    )?;
    let body = body?;
    // A PATCH that holds operators is an update spec (Carbond's updateObject).
    let (body_version, change, claims) = if action == WriteAction::Patch && is_update_spec(&body) {
        let spec = UpdateSpec::parse(&body).map_err(ApiError::from)?;
        (None, Change::Update(spec), Claims::default())
    } else {
        let UpdateData {
            expected,
            data,
            claims,
        } = check_update_data(body, me(&c)).map_err(ApiError::from)?;
        let change = if action == WriteAction::Patch {
            Change::Merge(data)
        } else {
            Change::Replace(data)
        };
        (expected, change, claims)
    };
    let expected = expected_version(if_match, body_version)?;
    let scripted = cfg.config.events.validate.is_some() || cfg.config.events.put.is_some();
    let result = if scripted {
        let edit = Edit {
            change: &change,
            claims: &claims,
        };
        scripted_update(&c, &coll, &cfg, &id, guard, expected, edit).await
    } else {
        c.app
            .store
            .update(
                &coll,
                &id,
                guard,
                expected,
                change.clone(),
                now_iso(),
                with_claims(cfg.check.clone(), claims.clone()),
            )
            .await
            .map_err(Failed::Store)
    };
    let saved = match result {
        Err(Failed::Store(StoreError::NotFound)) if cfg.config.upsert && expected.is_none() => {
            // Upsert: create the record with the client's id, as a create. Of
            // the system fields, only the id in the path may be repeated.
            let path_id: Map<String, Value> =
                std::iter::once((ID.to_owned(), Value::from(id.as_str()))).collect();
            claims.check(&path_id).map_err(ApiError::from)?;
            // The record the change makes of nothing.
            let mut fields = Map::new();
            change.apply(&mut fields).map_err(ApiError::from)?;
            let saved = create_one(&c, &coll, &cfg, fields, Some(id)).await?;
            return Ok(Answer::Json(shown(&c, &coll, &cfg, saved).await?, 201));
        }
        Err(Failed::Store(StoreError::NotOwner)) => {
            return Err(refused(&c, &coll, &cfg, &id).await);
        }
        Err(Failed::Store(e)) => return Err(store_error(e)),
        Err(Failed::Script(e)) => return Err(e),
        Ok(saved) => saved,
    };
    c.publish(action, &coll, vec![saved.clone()]);
    Ok(Answer::Json(shown(&c, &coll, &cfg, saved).await?, 200))
}

/// Why a scripted write did not happen: the store's reason (which the caller
/// may act on) or a script's answer.
enum Failed {
    Store(StoreError),
    Script(ApiError),
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The schema check of a collection, after the check that the system fields a
/// body repeated are the stored ones.
fn with_claims(schema: Option<Check>, claims: Claims) -> Option<Check> {
    if claims.is_empty() {
        return schema;
    }
    Some(std::sync::Arc::new(move |rec: &Map<String, Value>| {
        claims.check(rec)?;
        schema.as_ref().map_or(Ok(()), |check| check(rec))
    }))
}

/// What an update asks: its change, and the system fields it repeats.
struct Edit<'a> {
    change: &'a Change,
    claims: &'a Claims,
}

/// An update through On Validate and On PUT: read the record, compute the new
/// one, run the scripts, and write it if nobody wrote in between (else again).
async fn scripted_update(
    c: &Ctx,
    coll: &str,
    cfg: &Collection,
    id: &str,
    guard: Option<QFilter>,
    expected: Option<u64>,
    edit: Edit<'_>,
) -> Result<Value, Failed> {
    for _ in 0..SCRIPTED_RETRIES {
        let (prev, version) = load_for_write(c, coll, id, guard.as_ref(), expected).await?;
        edit.claims
            .check(&prev)
            .map_err(|e| Failed::Store(StoreError::Rejected(e)))?;
        let mut next = prev.clone();
        edit.change
            .clone()
            .apply(&mut next)
            .map_err(|e| Failed::Store(StoreError::Rejected(e)))?;
        c.forget_emitted();
        let next = write_scripts(c, coll, cfg, next, Some(&prev))
            .await
            .map_err(Failed::Script)?;
        let fields: Map<String, Value> = next
            .into_iter()
            .filter(|(k, _)| !is_system_field(k))
            .collect();
        match c
            .app
            .store
            .update(
                coll,
                id,
                guard.clone(),
                Some(version),
                Change::Replace(fields),
                now_iso(),
                cfg.check.clone(),
            )
            .await
        {
            Err(StoreError::VersionConflict(_)) if expected.is_none() => continue,
            other => return Ok(other?),
        }
    }
    Err(StoreError::Busy.into())
}

pub(crate) async fn delete(
    coll: String,
    id: String,
    c: CtxResult,
    if_match: Option<String>,
) -> Outcome {
    let c = c?;
    check_item(&coll, &id)?;
    let cfg = c.app.collection(&coll);
    require(&cfg, Operation::RemoveObject)?;
    ready_for_scripts(&c, &cfg, false).await?;
    let guard = grant(
        cfg.config.rules.delete.access(me(&c), c.admin),
        "delete records",
    )?;
    let expected = expected_version(if_match, None)?;
    let gone = match &cfg.config.events.delete {
        None => c
            .app
            .store
            .delete(&coll, &id, guard, expected)
            .await
            .map_err(Failed::Store),
        Some(src) => scripted_delete(&c, &coll, &id, src, guard, expected).await,
    };
    let gone = match gone {
        Err(Failed::Store(StoreError::NotOwner)) => {
            return Err(refused(&c, &coll, &cfg, &id).await);
        }
        Err(Failed::Store(e)) => return Err(store_error(e)),
        Err(Failed::Script(e)) => return Err(e),
        Ok(gone) => gone,
    };
    c.publish(WriteAction::Delete, &coll, vec![gone.clone()]);
    Ok(Answer::Json(shown(&c, &coll, &cfg, gone).await?, 200))
}

/// A delete through On DELETE: read the record, run the script (which may
/// cancel), and delete it if nobody wrote in between (else again).
async fn scripted_delete(
    c: &Ctx,
    coll: &str,
    id: &str,
    src: &str,
    guard: Option<QFilter>,
    expected: Option<u64>,
) -> Result<Value, Failed> {
    for _ in 0..SCRIPTED_RETRIES {
        let (mut prev, version) = load_for_write(c, coll, id, guard.as_ref(), expected).await?;
        c.forget_emitted();
        let fx = run_script(c, coll, scripts::Event::Delete, src, &mut prev, None, None)
            .await
            .map_err(Failed::Script)?;
        c.hold(fx.emitted);
        match c
            .app
            .store
            .delete(coll, id, guard.clone(), Some(version))
            .await
        {
            Err(StoreError::VersionConflict(_)) if expected.is_none() => continue,
            other => return Ok(other?),
        }
    }
    Err(StoreError::Busy.into())
}
