//! `/<collection>` and `/<collection>/<id>`: the Backpack `db` methods and the
//! whole operation tree (bulk insert, update, remove, save; upserts).

use super::{Answer, Ctx, ctx, finish, json_body, store_error};
use crate::app::{App, Collection};
use crate::clock::{new_id, now_iso};
use crate::error::ApiError;
use crate::scripts;
use crate::store::{Change, Found, StoreError};
use sdk_core::collection::{Access, IdGenerator, Operation};
use sdk_core::names::{check_collection_name, check_id};
use sdk_core::query::{Filter as QFilter, FindQuery, QueryError};
use sdk_core::record::{
    CREATED_AT, ID, OWNER, UPDATED_AT, VERSION, check_client_data, is_system_field,
};
use sdk_core::update::UpdateSpec;
use sdk_core::ws::WriteAction;
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use warp::Filter;
use warp::filters::BoxedFilter;

mod ops;

use ops::*;
pub(crate) use ops::{allowed, create, delete, get, list, write};

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
    let limit = super::BodyLimit::of(&app.config);
    let c = move || ctx(app.clone());
    let if_match = || warp::header::optional::<String>("if-match");
    let list = warp::path!(String)
        .and(warp::get())
        .and(c())
        .and(raw_query())
        .then(
            |coll, c, q| async move { finish(list(coll, c, q).await.map(Answer::into_response)) },
        );
    let create = warp::path!(String)
        .and(warp::post())
        .and(c())
        .and(json_body(limit))
        .then(
            |coll, c, b| async move { finish(create(coll, c, b).await.map(Answer::into_response)) },
        );
    let update_all = warp::path!(String)
        .and(warp::patch())
        .and(c())
        .and(raw_query())
        .and(json_body(limit))
        .then(|coll, c, q, b| async move {
            finish(update_many(coll, c, q, b).await.map(Answer::into_response))
        });
    let remove_all = warp::path!(String)
        .and(warp::delete())
        .and(c())
        .and(raw_query())
        .then(|coll, c, q| async move {
            finish(delete_many(coll, c, q).await.map(Answer::into_response))
        });
    let save_all =
        warp::path!(String)
            .and(warp::put())
            .and(c())
            .and(json_body(limit))
            .then(|coll, c, b| async move {
                finish(save_all(coll, c, b).await.map(Answer::into_response))
            });
    let get =
        warp::path!(String / String)
            .and(warp::get())
            .and(c())
            .then(|coll, id, c| async move {
                finish(get(coll, id, c).await.map(Answer::into_response))
            });
    let patch = warp::path!(String / String)
        .and(warp::patch())
        .and(c())
        .and(if_match())
        .and(json_body(limit))
        .then(|coll, id, c, m, b| async move {
            finish(
                write(coll, id, c, m, b, WriteAction::Patch)
                    .await
                    .map(Answer::into_response),
            )
        });
    let put = warp::path!(String / String)
        .and(warp::put())
        .and(c())
        .and(if_match())
        .and(json_body(limit))
        .then(|coll, id, c, m, b| async move {
            finish(
                write(coll, id, c, m, b, WriteAction::Update)
                    .await
                    .map(Answer::into_response),
            )
        });
    let delete = warp::path!(String / String)
        .and(warp::delete())
        .and(c())
        .and(if_match())
        .then(|coll, id, c, m| async move {
            finish(delete(coll, id, c, m).await.map(Answer::into_response))
        });
    list.or(create)
        .unify()
        .or(update_all)
        .unify()
        .or(remove_all)
        .unify()
        .or(save_all)
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

pub(crate) type CtxResult = Result<Ctx, ApiError>;
/// A handler's outcome.
pub type Outcome = Result<Answer, ApiError>;
pub(crate) type BodyResult = Result<Value, ApiError>;

/// The most records one `POST` may create.
pub const MAX_INSERT: usize = 1000;

/// The raw query string, empty when there is none.
fn raw_query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}
