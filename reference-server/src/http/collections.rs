//! `GET /collections`, `POST /collections`, and the admin's
//! `GET`/`PUT /collections/<name>` (configuration).

use super::{Ctx, Outcome, ctx, finish, json_body, json_reply, store_error};
use crate::app::{App, Collection};
use crate::error::ApiError;
use crate::scripts::Event;
use sdk_core::collection::CollectionConfig;
use sdk_core::names::check_collection_name;
use sdk_core::routes;
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::Value;
use std::sync::Arc;
use warp::Filter;
use warp::filters::BoxedFilter;

/// The collection-management routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let limit = super::BodyLimit::of(&app.config);
    let list = warp::path(routes::COLLECTIONS)
        .and(warp::path::end())
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|c| async move { finish(list(c).await) });
    let create = warp::path(routes::COLLECTIONS)
        .and(warp::path::end())
        .and(warp::post())
        .and(ctx(app.clone()))
        .and(json_body(limit))
        .then(|c, b| async move { finish(create(c, b).await) });
    let get_config = warp::path(routes::COLLECTIONS)
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|n, c| async move { finish(get_config(n, c).await) });
    let put_config = warp::path(routes::COLLECTIONS)
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::put())
        .and(ctx(app))
        .and(json_body(limit))
        .then(|n, c, b| async move { finish(put_config(n, c, b).await) });
    list.or(create)
        .unify()
        .or(get_config)
        .unify()
        .or(put_config)
        .unify()
        .boxed()
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

fn require_admin(c: &Ctx) -> Result<(), ApiError> {
    if c.admin {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "collection configuration needs the admin key",
        ))
    }
}

async fn get_config(name: String, c: Result<Ctx, ApiError>) -> Outcome {
    let c = c?;
    require_admin(&c)?;
    check_collection_name(&name).map_err(ApiError::from)?;
    Ok(json_reply(&c.app.collection(&name).config, 200))
}

async fn put_config(
    name: String,
    c: Result<Ctx, ApiError>,
    body: Result<Value, ApiError>,
) -> Outcome {
    let (c, body) = (c?, body?);
    require_admin(&c)?;
    let compiled = checked_config(&name, body)?;
    let text = serde_json::to_string(&compiled.config).map_err(ApiError::internal)?;
    let mut texts = c.app.config_texts.lock().await;
    c.app
        .store
        .set_config(&name, text.clone(), compiled.layout())
        .await
        .map_err(store_error)?;
    let answer = compiled.config.clone();
    c.app.set_collection(&name, compiled);
    texts.insert(name, text);
    Ok(json_reply(&answer, 200))
}

/// A collection configuration as the admin sends it, checked and compiled: the
/// name, the shape, every event script's syntax, the JSON Schema, the indexes.
/// `PUT /collections/<name>` and the `collections set` command take it alike.
pub fn checked_config(name: &str, body: Value) -> Result<Collection, ApiError> {
    check_collection_name(name).map_err(ApiError::from)?;
    if name == crate::store::PROFILES {
        return Err(ApiError::new(
            ErrorCode::ReservedName,
            format!("'{name}' holds users' public profiles; its rules are the server's"),
        ));
    }
    let config: CollectionConfig = serde_json::from_value(body).map_err(|e| {
        ApiError::from(
            ErrorBody::new(
                ErrorCode::ValidationFailed,
                "the collection configuration is not valid",
            )
            .with_field("config", e.to_string()),
        )
    })?;
    let events = &config.events;
    for (field, event, src) in [
        ("events.get", Event::Get, &events.get),
        ("events.validate", Event::Validate, &events.validate),
        ("events.post", Event::Post, &events.post),
        ("events.put", Event::Put, &events.put),
        ("events.delete", Event::Delete, &events.delete),
    ] {
        if let Some(src) = src {
            crate::scripts::check(name, event, src).map_err(|ApiError(e, _)| {
                ApiError::from(
                    ErrorBody::new(ErrorCode::ValidationFailed, "a script does not compile")
                        .with_field(field, e.message),
                )
            })?;
        }
    }
    Collection::compile(config).map_err(ApiError::from)
}
