//! Reads: a page of records (or a count) and one record.

use super::*;

pub(crate) async fn list(coll: String, c: CtxResult, query: QueryInput) -> Outcome {
    list_page(coll, c, query, false).await.map(|(a, _)| a)
}

/// A collection read, and with `cursor` the `after` cursor of the next page:
/// `None` for a count, or when the page is shorter than the page size (nothing
/// follows it) or its last record lacks the fields the cursor needs.
pub(crate) async fn list_page(
    coll: String,
    c: CtxResult,
    query: QueryInput,
    cursor: bool,
) -> Result<(Answer, Option<String>), ApiError> {
    let c = c?;
    check_collection(&coll)?;
    let cfg = c.app.collection(&coll);
    require(&cfg, Operation::Find)?;
    let rule = grant(cfg.config.rules.read.access(me(&c), c.admin), "read")?;
    // What On GET sees as `query`: the request's parameters, or its document.
    let asked = match (&cfg.config.events.get, &query) {
        (None, _) => None,
        (Some(_), QueryInput::Pairs(raw)) => Some(
            form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect::<Map<String, Value>>(),
        ),
        (Some(_), QueryInput::Mongo(Value::Object(doc))) => Some(doc.clone()),
        (Some(_), _) => Some(Map::new()),
    };
    let mut q = find_query(query, c.app.config.max_page, me(&c))?;
    ready_for_scripts(&c, &cfg, !q.load.is_empty()).await?;
    // The rule is part of the query, so pages and counts hold only readable records.
    q.filter = and(rule, q.filter.take());
    // A related record is read as a direct read of it would be: under its
    // collection's switch, read rule and On GET script.
    let mut load_guards = Vec::with_capacity(q.load.len());
    let mut load_scripts = Vec::new();
    for r in &q.load {
        let related = c.app.collection(&r.collection);
        require(&related, Operation::FindObject)?;
        load_guards.push(match related.config.rules.read.access(me(&c), c.admin) {
            Access::All => None,
            Access::Only(f) => Some(f),
            // Related records the caller may not read at all load as null.
            Access::SignIn | Access::Refused => Some(QFilter::Or(Vec::new())),
        });
        if related.config.events.get.is_some() {
            load_scripts.push((r.property.clone(), r.collection.clone(), related));
        }
    }
    let page = q
        .page_size
        .unwrap_or(u64::from(c.app.config.default_page).min(u64::from(c.app.config.max_page)));
    // The cursor is built from the last record as the caller sees it (after
    // On GET, so it carries nothing the script hides), when a full page says
    // more may follow. None with `distinct` (`after` does not combine with
    // it), nor when a sort field is missing from the record (`select` dropped
    // it, or the script hid it): a cursor without it would skip or repeat.
    let sort = (cursor && q.distinct.is_none()).then(|| q.sort.clone());
    let next = |stored: usize, last: Option<&Value>| -> Option<String> {
        let sort = sort.as_ref()?;
        let last = last?;
        if (stored as u64) < page
            || sort
                .iter()
                .any(|k| sdk_core::query::get_path(last, &k.field).is_none())
        {
            return None;
        }
        let cursor = sdk_core::query::Cursor::after_record(last, sort)?.encode();
        // Percent-encoded: a header carries visible ASCII only.
        Some(form_urlencoded::byte_serialize(cursor.as_bytes()).collect())
    };
    let answer = match c
        .app
        .store
        .find(&coll, q, page, load_guards)
        .await
        .map_err(store_error)?
    {
        Found::Records(text) if cfg.config.events.get.is_none() && load_scripts.is_empty() => {
            let after = match &sort {
                Some(_) => {
                    let rows: Vec<Value> =
                        serde_json::from_str(&text).map_err(ApiError::internal)?;
                    next(rows.len(), rows.last())
                }
                None => None,
            };
            return Ok((Answer::Raw(text), after));
        }
        Found::Records(text) => {
            let rows: Vec<Value> = serde_json::from_str(&text).map_err(ApiError::internal)?;
            let stored = rows.len();
            let mut out = Vec::with_capacity(rows.len());
            for mut row in rows {
                for (property, related, rcfg) in &load_scripts {
                    let (Some(src), Some(slot)) = (&rcfg.config.events.get, row.get_mut(property))
                    else {
                        continue;
                    };
                    if slot.is_object() {
                        *slot = match read_scripted(&c, related, src, slot.take(), None).await {
                            Ok(v) => v,
                            // A related record its script cancels loads as a missing one.
                            Err(e) if scripts::is_cancel(&e) => Value::Null,
                            Err(e) => return Err(e),
                        };
                    }
                }
                match &cfg.config.events.get {
                    None => out.push(row),
                    Some(src) => match read_scripted(&c, &coll, src, row, asked.as_ref()).await {
                        Ok(v) => out.push(v),
                        Err(e) if scripts::is_cancel(&e) => {}
                        Err(e) => return Err(e),
                    },
                }
            }
            let after = next(stored, out.last());
            return Ok((Answer::Json(Value::Array(out), 200), after));
        }
        Found::Count(n) => Answer::Json(json!(n), 200),
    };
    Ok((answer, None))
}

pub(crate) async fn get(coll: String, id: String, c: CtxResult) -> Outcome {
    let c = c?;
    check_item(&coll, &id)?;
    let cfg = c.app.collection(&coll);
    require(&cfg, Operation::FindObject)?;
    let rule = grant(cfg.config.rules.read.access(me(&c), c.admin), "read")?;
    ready_for_scripts(&c, &cfg, false).await?;
    let not_found = || ApiError::new(ErrorCode::NotFound, "no record with that id");
    let doc = c
        .app
        .store
        .get(&coll, &id)
        .await
        .map_err(store_error)?
        .ok_or_else(not_found)?;
    if rule.is_none() && cfg.config.events.get.is_none() {
        return Ok(Answer::Raw(doc));
    }
    let v: Value = serde_json::from_str(&doc).map_err(ApiError::internal)?;
    if rule.is_some_and(|r| !r.matches(&v)) {
        // A record the caller may not read does not exist for them.
        return Err(not_found());
    }
    // Deployd's `query` of a read by id.
    let asked: Map<String, Value> = [("id".to_owned(), Value::String(id.clone()))]
        .into_iter()
        .collect();
    match &cfg.config.events.get {
        Some(src) => Ok(Answer::Json(
            read_scripted(&c, &coll, src, v, Some(&asked)).await?,
            200,
        )),
        None => Ok(Answer::Json(v, 200)),
    }
}
