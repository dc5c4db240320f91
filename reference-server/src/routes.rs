//! The whole server's routes: HTTP and WebSocket, with CORS and JSON errors.

use crate::app::App;
use crate::error::recover;
use crate::http::{admin, admin_page, auth, collections, openapi, records, sdk, uploads};
use std::sync::Arc;
use warp::filters::BoxedFilter;
use warp::{Filter, Reply};

/// Every route of the server, with CORS and JSON errors.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let health = warp::path(sdk_core::routes::HEALTH)
        .and(warp::path::end())
        .and(warp::get())
        .map(|| {
            warp::reply::json(&sdk_core::api::Health {
                status: "ok".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .into_response()
        });
    // Record routes come first, for every path whose first segment is not one of
    // the server's own: they carry most of the traffic, and trying the other
    // routes first cost every record request about a sixth of its time.
    let records = warp::path::peek()
        .and_then(|path: warp::path::Peek| async move {
            let first = path.segments().next().unwrap_or("");
            if first.is_empty() || sdk_core::routes::SEGMENTS.contains(&first) {
                Err(warp::reject::not_found())
            } else {
                Ok(())
            }
        })
        .untuple_one()
        .and(records::routes(app.clone()));
    let api = records
        .or(auth::routes(app.clone()))
        .unify()
        .or(admin::routes(app.clone()))
        .unify()
        .or(collections::routes(app.clone()))
        .unify()
        .or(uploads::routes(app.clone()))
        .unify()
        .or(crate::ws::routes(app.clone()))
        .unify()
        .or(admin::metrics(app.clone()))
        .unify()
        .or(sdk::routes(app.clone()))
        .unify()
        .or(openapi::routes())
        .unify()
        .or(admin_page::routes())
        .unify();
    // Any origin may call the API with header tokens; only origins listed in
    // `--cors-origins` may send the session cookie (credentialed requests), so a
    // page elsewhere cannot act as a signed-in visitor.
    let cors = if app.config.cors_origins.is_empty() {
        warp::cors().allow_any_origin().allow_credentials(false)
    } else {
        warp::cors()
            .allow_origins(app.config.cors_origins.iter().map(String::as_str))
            .allow_credentials(true)
    };
    let cors = cors
        .allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allow_headers([
            "authorization",
            "content-type",
            "x-authorization",
            "x-api-key",
            "if-match",
            "if-none-match",
            "range",
            sdk_core::PAGE_CURSOR_HEADER,
        ])
        .expose_headers([
            "etag",
            "content-range",
            "accept-ranges",
            "content-length",
            "retry-after",
            sdk_core::NEXT_AFTER_HEADER,
        ])
        .max_age(600);
    health
        .or(api)
        .unify()
        .recover(recover)
        .unify()
        .with(cors)
        .map(Reply::into_response)
        .boxed()
}
