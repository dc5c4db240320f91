//! `/<collection>` and `/<collection>/<id>`: the Backpack `db` methods.

use super::{Ctx, Outcome, ctx, finish, json_body, json_reply, raw_json, store_error};
use crate::app::App;
use crate::clock::{new_id, now_iso};
use crate::error::ApiError;
use crate::store::{Change, Found};
use crate::ws::publish_write;
use sdk_core::names::{check_collection_name, check_id};
use sdk_core::query::FindQuery;
use sdk_core::record::{CREATED_AT, ID, OWNER, UPDATED_AT, VERSION, check_client_data};
use sdk_core::ws::WriteAction;
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::{Map, Value};
use std::sync::Arc;
use warp::Filter;
use warp::filters::BoxedFilter;

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

/// The record routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let limit = app.config.max_body;
    let c = move || ctx(app.clone());
    let if_match = || warp::header::optional::<String>("if-match");
    let list = warp::path!(String)
        .and(warp::get())
        .and(c())
        .and(raw_query())
        .then(|coll, c, q| async move { finish(list(coll, c, q).await) });
    let create = warp::path!(String)
        .and(warp::post())
        .and(c())
        .and(json_body(limit))
        .then(|coll, c, b| async move { finish(create(coll, c, b).await) });
    let get = warp::path!(String / String)
        .and(warp::get())
        .and(c())
        .then(|coll, id, c| async move { finish(get(coll, id, c).await) });
    let patch = warp::path!(String / String)
        .and(warp::patch())
        .and(c())
        .and(if_match())
        .and(json_body(limit))
        .then(|coll, id, c, m, b| async move {
            finish(write(coll, id, c, m, b, WriteAction::Patch).await)
        });
    let put = warp::path!(String / String)
        .and(warp::put())
        .and(c())
        .and(if_match())
        .and(json_body(limit))
        .then(|coll, id, c, m, b| async move {
            finish(write(coll, id, c, m, b, WriteAction::Update).await)
        });
    let delete = warp::path!(String / String)
        .and(warp::delete())
        .and(c())
        .and(if_match())
        .then(|coll, id, c, m| async move { finish(delete(coll, id, c, m).await) });
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(patch)
        .unify()
        .or(put)
        .unify()
        .or(delete)
        .unify()
        .boxed()
}

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

type CtxResult = Result<Ctx, ApiError>;
type BodyResult = Result<Value, ApiError>;

/// The raw query string, empty when there is none.
fn raw_query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// Parses a read's query string into a [`FindQuery`] within the server's page limits.
fn find_query(raw: &str, max_page: u32) -> Result<FindQuery, ApiError> {
    let q = FindQuery::from_pairs(form_urlencoded::parse(raw.as_bytes()))
        .map_err(|e| ApiError::from(e.to_error_body()))?;
    q.check_page(u64::from(max_page))
        .map_err(|e| ApiError::from(e.to_error_body()))?;
    Ok(q)
}

async fn list(coll: String, c: CtxResult, raw: String) -> Outcome {
    let c = c?;
    check_collection(&coll)?;
    let q = find_query(&raw, c.app.config.max_page)?;
    let page = q
        .page_size
        .unwrap_or(u64::from(c.app.config.default_page).min(u64::from(c.app.config.max_page)));
    match c
        .app
        .store
        .find(&coll, q, page)
        .await
        .map_err(store_error)?
    {
        Found::Records(text) => Ok(raw_json(text)),
        Found::Count(n) => Ok(json_reply(&n, 200)),
    }
}

async fn get(coll: String, id: String, c: CtxResult) -> Outcome {
    let c = c?;
    check_item(&coll, &id)?;
    match c.app.store.get(&coll, &id).await.map_err(store_error)? {
        Some(doc) => Ok(raw_json(doc)),
        None => Err(ApiError::new(ErrorCode::NotFound, "no record with that id")),
    }
}

async fn create(coll: String, c: CtxResult, body: BodyResult) -> Outcome {
    let c = c?;
    check_collection(&coll)?;
    let caller = c.require_user()?;
    let (version, data) =
        check_client_data(body?, Some(&caller.user_id)).map_err(ApiError::from)?;
    if version.is_some() {
        return Err(ApiError::from(
            ErrorBody::new(
                ErrorCode::SystemField,
                "a new record has no version to expect",
            )
            .with_field(VERSION, "set by the server"),
        ));
    }
    let now = now_iso();
    let mut record = Map::with_capacity(data.len() + 5);
    record.insert(ID.into(), Value::String(new_id()));
    record.insert(OWNER.into(), Value::String(caller.user_id.clone()));
    record.extend(data);
    record.insert(CREATED_AT.into(), Value::String(now.clone()));
    record.insert(UPDATED_AT.into(), Value::String(now));
    record.insert(VERSION.into(), Value::from(0u64));
    let saved = c
        .app
        .store
        .insert(&coll, record)
        .await
        .map_err(store_error)?;
    publish_write(c.app.bus.as_ref(), WriteAction::Create, &coll, &saved);
    Ok(json_reply(&saved, 201))
}

async fn write(
    coll: String,
    id: String,
    c: CtxResult,
    if_match: Option<String>,
    body: BodyResult,
    action: WriteAction,
) -> Outcome {
    let c = c?;
    check_item(&coll, &id)?;
    let caller = c.require_user()?;
    let (body_version, data) =
        check_client_data(body?, Some(&caller.user_id)).map_err(ApiError::from)?;
    let expected = expected_version(if_match, body_version)?;
    let change = if action == WriteAction::Patch {
        Change::Merge(data)
    } else {
        Change::Replace(data)
    };
    let saved = c
        .app
        .store
        .update(&coll, &id, &caller.user_id, expected, change, now_iso())
        .await
        .map_err(store_error)?;
    publish_write(c.app.bus.as_ref(), action, &coll, &saved);
    Ok(json_reply(&saved, 200))
}

async fn delete(coll: String, id: String, c: CtxResult, if_match: Option<String>) -> Outcome {
    let c = c?;
    check_item(&coll, &id)?;
    let caller = c.require_user()?;
    let expected = expected_version(if_match, None)?;
    let gone = c
        .app
        .store
        .delete(&coll, &id, &caller.user_id, expected)
        .await
        .map_err(store_error)?;
    publish_write(c.app.bus.as_ref(), WriteAction::Delete, &coll, &gone);
    Ok(json_reply(&gone, 200))
}
