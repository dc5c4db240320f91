//! `/<collection>` and `/<collection>/<id>`: the Backpack `db` methods and the
//! whole operation tree (bulk insert, update, remove, save; upserts).

use super::{Answer, ctx, finish, json_body};
use crate::app::App;
use sdk_core::ws::WriteAction;
use std::sync::Arc;
use warp::Filter;
use warp::filters::BoxedFilter;

use crate::service::records::*;

/// The record routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let limit = super::BodyLimit::of(&app.config);
    let c = move || ctx(app.clone());
    let if_match = || warp::header::optional::<String>("if-match");
    let list = warp::path!(String)
        .and(warp::get())
        .and(c())
        .and(raw_query())
        .and(warp::header::optional::<String>(
            sdk_core::PAGE_CURSOR_HEADER,
        ))
        .then(|coll, c, q, cursor: Option<String>| async move {
            let asked = cursor.is_some_and(|v| v == "1");
            finish(list_page(coll, c, QueryInput::Pairs(q), asked).await.map(
                |(answer, after): (Answer, Option<String>)| {
                    let mut resp = answer.into_response();
                    if let Some(after) = after
                        && let Ok(v) = warp::http::HeaderValue::from_str(&after)
                    {
                        resp.headers_mut().insert(sdk_core::NEXT_AFTER_HEADER, v);
                    }
                    resp
                },
            ))
        });
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
    // Deployd: "a PUT (or POST) request at an object's URL will update the
    // properties specified", so POST at a record's URL merges, as PATCH does.
    let patch = warp::path!(String / String)
        .and(warp::patch().or(warp::post()).unify())
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

/// The raw query string, empty when there is none.
fn raw_query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}
