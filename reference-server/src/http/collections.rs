//! `GET /collections`, `POST /collections`.

use super::{Ctx, Outcome, ctx, finish, json_body, json_reply, store_error};
use crate::app::App;
use crate::error::ApiError;
use sdk_core::names::check_collection_name;
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::Value;
use std::sync::Arc;
use warp::Filter;
use warp::filters::BoxedFilter;

/// The collection-management routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let limit = app.config.max_body;
    let list = warp::path!("collections")
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|c| async move { finish(list(c).await) });
    let create = warp::path!("collections")
        .and(warp::post())
        .and(ctx(app))
        .and(json_body(limit))
        .then(|c, b| async move { finish(create(c, b).await) });
    list.or(create).unify().boxed()
}

async fn list(c: Result<Ctx, ApiError>) -> Outcome {
    let c = c?;
    let names = c.app.store.collections().await.map_err(store_error)?;
    Ok(json_reply(&names, 200))
}

async fn create(c: Result<Ctx, ApiError>, body: Result<Value, ApiError>) -> Outcome {
    let (c, body) = (c?, body?);
    c.require_user()?;
    let Some(name) = body.get("collectionName").and_then(Value::as_str) else {
        return Err(ApiError::from(
            ErrorBody::new(ErrorCode::ValidationFailed, "collectionName is required")
                .with_field("collectionName", "required, a string"),
        ));
    };
    check_collection_name(name).map_err(ApiError::from)?;
    c.app
        .store
        .declare_collection(name)
        .await
        .map_err(store_error)?;
    Ok(json_reply(&name, 201))
}
