//! The admin key's routes: `/admin/keys`, the same key management as the
//! `rucksack-server keys` command, over HTTP; `/admin/tickets` for admin
//! WebSockets opened by a browser page; and `GET /metrics`.

use super::{Ctx, Outcome, ctx, finish, json_body, json_reply, store_error};
use crate::app::App;
use crate::error::ApiError;
use sdk_core::routes;
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::{Value, json};
use std::sync::Arc;
use warp::Filter;
use warp::filters::BoxedFilter;

/// The admin routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let limit = super::BodyLimit::of(&app.config);
    let list = warp::path(routes::ADMIN)
        .and(warp::path(routes::KEYS))
        .and(warp::path::end())
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|c| async move { finish(list(c).await) });
    let create = warp::path(routes::ADMIN)
        .and(warp::path(routes::KEYS))
        .and(warp::path::end())
        .and(warp::post())
        .and(ctx(app.clone()))
        .and(json_body(limit))
        .then(|c, b| async move { finish(create(c, b).await) });
    let revoke = warp::path(routes::ADMIN)
        .and(warp::path(routes::KEYS))
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::delete())
        .and(ctx(app.clone()))
        .then(|id, c| async move { finish(revoke(id, c).await) });
    let users = warp::path(routes::ADMIN)
        .and(warp::path(routes::USERS))
        .and(warp::path::end())
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|c| async move { finish(users(c).await) });
    let ticket = warp::path(routes::ADMIN)
        .and(warp::path(routes::TICKETS))
        .and(warp::path::end())
        .and(warp::post())
        .and(ctx(app))
        .then(|c| async move { finish(ticket(c).await) });
    list.or(create)
        .unify()
        .or(revoke)
        .unify()
        .or(ticket)
        .unify()
        .or(users)
        .unify()
        .boxed()
}

/// `GET /admin/users`: every user, as `users list` shows them (never a hash).
async fn users(c: Result<Ctx, ApiError>) -> Outcome {
    let c = admin(c)?;
    let users = c.app.store.users().await.map_err(store_error)?;
    let listed: Vec<sdk_core::api::Me> = users
        .into_iter()
        .map(|u| sdk_core::api::Me {
            id: u.id,
            email: u.email,
            created_at: crate::clock::iso_from_unix(u.created_at),
        })
        .collect();
    Ok(json_reply(&listed, 200))
}

/// `POST /admin/tickets`: a one-time ticket that opens an admin WebSocket
/// (`/ws?ticket=…`) within 30 s, for a page that keeps the admin key out of URLs.
async fn ticket(c: Result<Ctx, ApiError>) -> Outcome {
    let c = admin(c)?;
    let ticket = c.app.ws_tickets.issue().ok_or_else(|| {
        ApiError::retry_later("too many tickets are waiting to be used; retry later")
    })?;
    Ok(json_reply(
        &json!({ "ticket": ticket, "expiresIn": crate::ws::TICKET_TTL.as_secs() }),
        201,
    ))
}

/// `GET /metrics`: the server's metrics in Prometheus' text format, for the
/// admin key (for anyone with `--metrics-public`).
pub fn metrics(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    warp::path(routes::METRICS)
        .and(warp::path::end())
        .and(warp::get())
        .and(ctx(app.clone()))
        .map(move |c: Result<Ctx, ApiError>| {
            if !app.config.metrics_public {
                match c {
                    Ok(c) if c.admin => {}
                    Ok(_) => {
                        return ApiError::new(ErrorCode::Forbidden, "metrics need the admin key")
                            .into_response();
                    }
                    Err(e) => return e.into_response(),
                }
            }
            warp::http::Response::builder()
                .header(
                    "content-type",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )
                .body(app.metrics.encode(&app).into())
                .unwrap_or_else(|_| warp::reply::Response::new("".into()))
        })
        .boxed()
}

fn admin(c: Result<Ctx, ApiError>) -> Result<Ctx, ApiError> {
    let c = c?;
    if c.admin {
        Ok(c)
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "key management needs the admin key",
        ))
    }
}

async fn list(c: Result<Ctx, ApiError>) -> Outcome {
    let c = admin(c)?;
    let keys = c.app.store.list_keys().await.map_err(store_error)?;
    Ok(json_reply(&keys, 200))
}

async fn create(c: Result<Ctx, ApiError>, body: Result<Value, ApiError>) -> Outcome {
    let (c, body) = (admin(c)?, body?);
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty() && n.len() <= 100)
        .ok_or_else(|| {
            ApiError::from(
                ErrorBody::new(ErrorCode::ValidationFailed, "a key needs a name")
                    .with_field("name", "required, 1-100 characters"),
            )
        })?;
    let (id, key) = crate::make_key(c.app.store.as_ref(), name)
        .await
        .map_err(store_error)?;
    Ok(json_reply(
        &json!({ "id": id, "name": name, "key": key }),
        201,
    ))
}

async fn revoke(id: String, c: Result<Ctx, ApiError>) -> Outcome {
    let c = admin(c)?;
    let hash = c
        .app
        .store
        .revoke_key(&id, crate::clock::unix_now())
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => {
                ApiError::new(ErrorCode::NotFound, "no live key with that id")
            }
            other => store_error(other),
        })?;
    // Sockets opened with the key end now.
    crate::realtime::publish_revoked(&c.app, crate::realtime::Revoked::Key(hash));
    Ok(json_reply(&json!({ "message": "revoked" }), 200))
}
