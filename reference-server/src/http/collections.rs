//! `GET /collections`, `POST /collections`.

use super::{Ctx, ctx, json_body, json_reply, store_error};
use crate::app::App;
use crate::error::ApiError;
use sdk_core::names::check_collection_name;
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::Value;
use std::sync::Arc;
use warp::filters::BoxedFilter;
use warp::{Filter, Rejection};

/// The collection-management routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let limit = app.config.max_body;
    let list = warp::path!("collections").and(warp::get()).and(ctx(app.clone())).and_then(list);
    let create = warp::path!("collections")
        .and(warp::post())
        .and(ctx(app))
        .and(json_body(limit))
        .and_then(create);
    list.or(create).unify().boxed()
}

async fn list(c: Ctx) -> Result<warp::reply::Response, Rejection> {
    let names = c.app.store.collections().await.map_err(store_error)?;
    Ok(json_reply(&names, 200))
}

async fn create(c: Ctx, body: Value) -> Result<warp::reply::Response, Rejection> {
    c.require_user()?;
    let Some(name) = body.get("collectionName").and_then(Value::as_str) else {
        return Err(ApiError::from(
            ErrorBody::new(ErrorCode::ValidationFailed, "collectionName is required")
                .with_field("collectionName", "required, a string"),
        )
        .into());
    };
    check_collection_name(name).map_err(ApiError::from)?;
    c.app.store.declare_collection(name).await.map_err(store_error)?;
    Ok(json_reply(&name, 201))
}
