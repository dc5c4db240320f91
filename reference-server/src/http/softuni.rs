//! The SoftUni practice server's API over the same engine (`--softuni`), so an
//! app written against that server runs unchanged: `/users/register|login|logout|me`
//! and `/data/<collection>[/<id>]`, `X-Authorization` tokens and no API key,
//! records with `_ownerId`, `_createdOn` and `_updatedOn` (epoch milliseconds),
//! errors as `{code, message}` with the HTTP status as `code`, and CORS for any
//! origin. Every read and write goes through the same rules, scripts, schemas
//! and broadcasts as the main API's; the names are translated at the edge.
//!
//! Users' public profiles (the email and whatever else they registered with,
//! never a password) are records of [`PROFILES`], whose `_id` is the user's id,
//! so `load=author=_ownerId:users` attaches the author as the practice server does.

use super::{BodyLimit, json_body, json_reply};
use crate::app::App;
use crate::clock::{iso_from_unix_ms, unix_ms_from_iso};
use crate::error::{ApiError, rejection_error};
use crate::http::auth::{check_credentials, create_account, open_session};
use crate::net::client_ip;
use crate::service::access::{Credentials, KeyRule, Principal, authenticate};
use crate::service::records::{self, QueryInput};
use crate::service::{Answer, Ctx, Origin, store_error};
use crate::store::UserRow;
use sdk_core::ErrorCode;
use sdk_core::collection::{CollectionConfig, NamedRule, Rule, Rules};
use sdk_core::query::{Path, Scalar};
use sdk_core::record::{CREATED_AT, ID, OWNER, UPDATED_AT, VERSION};
use sdk_core::ws::WriteAction;
use serde_json::{Map, Value, json};
use std::net::IpAddr;
use std::sync::Arc;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, StatusCode};
use warp::{Filter, Rejection, Reply};

pub use crate::store::PROFILES;
/// The collection name SoftUni apps load authors from.
const USERS: &str = "users";
/// Records a list answers when the app names no page size, as the seed document says.
const DEFAULT_PAGE: u64 = 10;

type Reply_ = Result<warp::reply::Response, ApiError>;

/// The configuration of [`PROFILES`]: anyone may read a profile by its id (as
/// `load` does), nobody may list them (no enumeration of users), and only the
/// server writes them (at registration).
pub fn profiles_config() -> CollectionConfig {
    CollectionConfig {
        operations: [("find".to_owned(), false)].into_iter().collect(),
        rules: Rules {
            read: Rule::Named(NamedRule::Public),
            create: Rule::Named(NamedRule::None),
            update: Rule::Named(NamedRule::None),
            delete: Rule::Named(NamedRule::None),
        },
        ..CollectionConfig::default()
    }
}

/// The mount's routes, with its CORS headers and error bodies.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let limit = BodyLimit::of(&app.config);
    let a = app.clone();
    let caller = move || {
        warp::header::optional::<String>("x-authorization")
            .and(warp::any().map({
                let a = a.clone();
                move || a.clone()
            }))
            .then(resolve)
    };
    let with_app = {
        let app = app.clone();
        move || {
            let app = app.clone();
            warp::any().map(move || app.clone())
        }
    };
    let register = warp::path!("users" / "register")
        .and(warp::post())
        .and(with_app())
        .and(client_ip(app.clone()))
        .and(json_body(limit))
        .then(|app, ip, body| async move { finish(register(app, ip, body).await) });
    let login = warp::path!("users" / "login")
        .and(warp::post())
        .and(with_app())
        .and(client_ip(app.clone()))
        .and(json_body(limit))
        .then(|app, ip, body| async move { finish(login(app, ip, body).await) });
    let logout = warp::path!("users" / "logout")
        .and(warp::get())
        .and(caller())
        .then(|c| async move { finish(logout(c).await) });
    let me = warp::path!("users" / "me")
        .and(warp::get())
        .and(caller())
        .then(|c| async move { finish(me(c).await) });
    let list = warp::path!("data" / String)
        .and(warp::get())
        .and(caller())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(|coll, c, q| async move { finish(list(coll, c, q).await) });
    let create = warp::path!("data" / String)
        .and(warp::post())
        .and(caller())
        .and(json_body(limit))
        .then(|coll, c, body| async move { finish(create(coll, c, body).await) });
    let get = warp::path!("data" / String / String)
        .and(warp::get())
        .and(caller())
        .then(|coll, id, c| async move { finish(get(coll, id, c).await) });
    let put = warp::path!("data" / String / String)
        .and(warp::put())
        .and(caller())
        .and(json_body(limit))
        .then(|coll, id, c, body| async move {
            finish(write(coll, id, c, body, WriteAction::Update).await)
        });
    let patch = warp::path!("data" / String / String)
        .and(warp::patch())
        .and(caller())
        .and(json_body(limit))
        .then(|coll, id, c, body| async move {
            finish(write(coll, id, c, body, WriteAction::Patch).await)
        });
    let delete = warp::path!("data" / String / String)
        .and(warp::delete())
        .and(caller())
        .then(|coll, id, c| async move { finish(delete(coll, id, c).await) });
    let preflight = warp::options().map(preflight);
    preflight
        .or(register)
        .unify()
        .or(login)
        .unify()
        .or(logout)
        .unify()
        .or(me)
        .unify()
        .or(list)
        .unify()
        .or(create)
        .unify()
        .or(get)
        .unify()
        .or(put)
        .unify()
        .or(patch)
        .unify()
        .or(delete)
        .unify()
        .recover(|err: Rejection| async move {
            Ok::<_, std::convert::Infallible>(error_reply(rejection_error(&err)))
        })
        .unify()
        .map(|mut r: warp::reply::Response| {
            r.headers_mut()
                .insert("access-control-allow-origin", HeaderValue::from_static("*"));
            r
        })
        .boxed()
}

/// The answer to a CORS preflight, as the practice server gives it.
fn preflight() -> warp::reply::Response {
    let mut r = warp::reply::Response::default();
    let h = r.headers_mut();
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(
            "X-Requested-With, X-HTTP-Method-Override, Content-Type, Accept, X-Authorization",
        ),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    r
}

fn finish(outcome: Reply_) -> warp::reply::Response {
    outcome.unwrap_or_else(error_reply)
}

/// An error as the practice server writes it: `{code: <status>, message}`, with
/// its messages where its apps show them to users.
fn error_reply(e: ApiError) -> warp::reply::Response {
    let status = e.1.status.unwrap_or_else(|| e.0.code.status());
    let (status, message) = match e.0.code {
        ErrorCode::Unauthenticated => (401, "Unauthorized".to_owned()),
        ErrorCode::NotFound => (404, "Resource not found".to_owned()),
        ErrorCode::InvalidCredentials => (403, "Login or password don't match".to_owned()),
        ErrorCode::EmailTaken => (409, "A user with the same email already exists".to_owned()),
        _ => (status, e.0.message),
    };
    let mut body = json!({ "code": status, "message": message });
    if let Some(errors) = e.0.errors {
        body["errors"] = Value::Object(errors);
    }
    let mut r = json_reply(&body, status);
    if let Some(v) =
        e.1.retry_after
            .and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok())
    {
        r.headers_mut().insert("retry-after", v);
    }
    r
}

/// The caller behind `X-Authorization`: anonymous without one, 403 with one
/// that names no live session (as the practice server answers).
async fn resolve(token: Option<String>, app: Arc<App>) -> Result<Ctx, ApiError> {
    let token = token.filter(|t| !t.trim().is_empty());
    let key = app.api_key.clone();
    let creds = Credentials {
        key: Some(&key),
        token: token.as_deref(),
        cookie: None,
    };
    match authenticate(&app, creds, KeyRule::Required).await {
        Ok(Principal { caller, .. }) => Ok(Ctx {
            app,
            caller,
            admin: false,
            origin: Origin::Http,
            emitted: Default::default(),
            me: Default::default(),
            depth: 0,
        }),
        Err(e) if e.0.code == ErrorCode::Unauthenticated => {
            Err(ApiError::new(ErrorCode::Forbidden, "Invalid access token"))
        }
        Err(e) => Err(e),
    }
}

fn missing_fields() -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed, "Missing fields")
}

fn rate_limited(wait: u64) -> ApiError {
    let mut e = ApiError::new(
        ErrorCode::RateLimited,
        format!("too many attempts; retry in {wait} s"),
    );
    e.1.retry_after = Some(u32::try_from(wait).unwrap_or(u32::MAX));
    e
}

/// A non-empty string field of a body, if there is one.
fn text(body: &Map<String, Value>, field: &str) -> Option<String> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// What a registration body keeps as the public profile: not the password, nor
/// any copy of it (`rePass`, `confirmPassword`, … or any field holding the
/// same text), nor the fields the server sets.
fn profile_fields(mut fields: Map<String, Value>, password: &str) -> Map<String, Value> {
    fields.retain(|k, v| {
        let key = k.to_ascii_lowercase();
        let secret = key.contains("pass") || key.contains("pwd") || v.as_str() == Some(password);
        let server_set = matches!(
            k.as_str(),
            "_id" | "_ownerId" | "_createdOn" | "_updatedOn" | "email"
        ) || [CREATED_AT, UPDATED_AT, OWNER, VERSION].contains(&k.as_str());
        !secret && !server_set
    });
    fields
}

async fn register(app: Arc<App>, ip: Option<IpAddr>, body: Result<Value, ApiError>) -> Reply_ {
    let Value::Object(fields) = body? else {
        return Err(missing_fields());
    };
    let (Some(email), Some(password)) = (text(&fields, "email"), text(&fields, "password")) else {
        return Err(missing_fields());
    };
    app.auth_limits.check_ip(ip).await.map_err(rate_limited)?;
    let fields = profile_fields(fields, &password);
    // The profile is checked before the account exists: a body the profile
    // cannot hold is refused whole, not left as an account without a profile.
    let cfg = app.collection(PROFILES);
    let mut check = fields.clone();
    check.insert("email".into(), Value::String(email.clone()));
    records::build_record(&cfg, Some("-"), Value::Object(check), Some("-".to_owned()))?;
    let id = create_account(&app, &email, password).await?;
    let made = async {
        let stored = app.store.user_by_id(&id).await.map_err(store_error)?;
        let mut fields = fields;
        fields.insert(
            "email".into(),
            Value::String(stored.map_or(email, |u| u.email)),
        );
        let record =
            records::build_record(&cfg, Some(&id), Value::Object(fields), Some(id.clone()))?;
        app.store
            .insert(PROFILES, record)
            .await
            .map_err(store_error)
    };
    let profile = match made.await {
        Ok(profile) => profile,
        Err(e) => {
            // No account without its profile: the registration can be retried.
            let _ = app.store.delete_user(&id).await;
            return Err(e);
        }
    };
    let token = open_session(&app, &id).await?;
    Ok(json_reply(&signed_in(profile, &id, token), 200))
}

async fn login(app: Arc<App>, ip: Option<IpAddr>, body: Result<Value, ApiError>) -> Reply_ {
    let Value::Object(fields) = body? else {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "no credentials",
        ));
    };
    let (Some(email), Some(password)) = (text(&fields, "email"), text(&fields, "password")) else {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "no credentials",
        ));
    };
    app.auth_limits.check_ip(ip).await.map_err(rate_limited)?;
    let user = check_credentials(&app, &email, password)
        .await?
        .map_err(rate_limited)?;
    let profile = profile(&app, &user).await?;
    let token = open_session(&app, &user.id).await?;
    Ok(json_reply(&signed_in(profile, &user.id, token), 200))
}

/// A user's profile record; a user made through the main API has none, and
/// gets `{_id, email, _createdOn}`.
async fn profile(app: &App, user: &UserRow) -> Result<Value, ApiError> {
    match app
        .store
        .get(PROFILES, &user.id)
        .await
        .map_err(store_error)?
    {
        Some(text) => serde_json::from_str(&text).map_err(ApiError::internal),
        None => Ok(json!({
            ID: user.id,
            "email": user.email,
            "_createdOn": user.created_at.saturating_mul(1000),
        })),
    }
}

/// The answer to a registration or a login: the profile and the token.
fn signed_in(profile: Value, id: &str, token: String) -> Value {
    let mut out = user_out(profile);
    out["_id"] = Value::String(id.to_owned());
    out["accessToken"] = Value::String(token);
    out
}

/// A profile as the practice server shows a user: no owner field of its own.
fn user_out(mut profile: Value) -> Value {
    record_out(&mut profile, &[]);
    if let Value::Object(m) = &mut profile {
        m.remove("_ownerId");
        m.remove("_updatedOn");
    }
    profile
}

async fn logout(c: Result<Ctx, ApiError>) -> Reply_ {
    let c = c?;
    let Some(caller) = &c.caller else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "User session does not exist",
        ));
    };
    c.app
        .store
        .delete_session(&caller.token_hash)
        .await
        .map_err(store_error)?;
    crate::realtime::publish_revoked(
        &c.app,
        crate::realtime::Revoked::Session(caller.token_hash.clone()),
    );
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

async fn me(c: Result<Ctx, ApiError>) -> Reply_ {
    let c = c?;
    let caller = c.require_user()?;
    let user = c
        .app
        .store
        .user_by_id(&caller.user_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "no such user"))?;
    let profile = profile(&c.app, &user).await?;
    Ok(json_reply(&user_out(profile), 200))
}

/// A SoftUni field name as the engine's.
fn engine_name(name: &str) -> Option<&'static str> {
    match name {
        "_ownerId" => Some(OWNER),
        "_createdOn" => Some(CREATED_AT),
        "_updatedOn" => Some(UPDATED_AT),
        _ => None,
    }
}

/// The query string, parsed by the engine's parser, with SoftUni's names
/// translated: system fields in `where`, `sortBy`, `select`, `distinct` and
/// `load`, epoch milliseconds compared with `_createdOn`/`_updatedOn` as times,
/// and `users` in `load` as the profiles. Without `pageSize`, 10 records.
fn translate_query(
    raw: &str,
    me: Option<&str>,
    max_page: u64,
) -> Result<sdk_core::query::FindQuery, ApiError> {
    // `users` is a name the engine keeps for itself: authors are loaded from
    // the profiles, named so before the relation is parsed.
    let pairs = form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| {
        let v = if k == "load" {
            v.split(',')
                .map(|item| match item.rsplit_once(':') {
                    Some((head, coll)) if coll.trim() == USERS => format!("{head}:{PROFILES}"),
                    _ => item.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(",")
        } else {
            v.into_owned()
        };
        (k, v)
    });
    let mut q = sdk_core::query::FindQuery::from_pairs_as(pairs, me)?;
    let rename = |p: &mut Path| p.rename_root(engine_name);
    if let Some(f) = q.filter.as_mut() {
        f.visit_fields_mut(&mut |field, values| {
            let time = matches!(
                field.segments().first().map(String::as_str),
                Some("_createdOn" | "_updatedOn")
            ) && field.segments().len() == 1;
            rename(field);
            if time {
                for v in values.iter_mut() {
                    if let Some(iso) = match v {
                        Scalar::Number(n) => n.as_i64().and_then(iso_from_unix_ms),
                        _ => None,
                    } {
                        *v = Scalar::String(iso);
                    }
                }
            }
        });
    }
    for k in &mut q.sort {
        rename(&mut k.field);
    }
    for p in q.select.iter_mut().flatten() {
        rename(p);
    }
    // `_updatedOn` shows once a record has changed, which its version tells.
    if let Some(select) = q.select.as_mut()
        && select.iter().any(|p| p.segments() == [UPDATED_AT])
        && !select.iter().any(|p| p.segments() == [VERSION])
        && let Ok(version) = Path::parse(VERSION)
    {
        select.push(version);
    }
    for p in q.distinct.iter_mut().flatten() {
        rename(p);
    }
    for r in &mut q.load {
        rename(&mut r.foreign_key);
    }
    if q.page_size.is_none() && !q.count {
        q.page_size = Some(DEFAULT_PAGE.min(max_page));
    }
    Ok(q)
}

/// A record as SoftUni apps see it: `_ownerId`, `_createdOn` and (once changed)
/// `_updatedOn` in epoch milliseconds, no version; the records under `loaded`
/// properties likewise (authors as users, without their owner field).
fn record_out(v: &mut Value, loaded: &[(String, bool)]) {
    let Value::Object(m) = v else { return };
    if let Some(owner) = m.remove(OWNER) {
        m.insert("_ownerId".into(), owner);
    }
    let changed = m
        .remove(VERSION)
        .and_then(|v| v.as_u64())
        .is_some_and(|n| n > 0);
    let ms = |v: Value| match v.as_str().and_then(unix_ms_from_iso) {
        Some(ms) => json!(ms),
        None => v,
    };
    if let Some(created) = m.remove(CREATED_AT) {
        m.insert("_createdOn".into(), ms(created));
    }
    match m.remove(UPDATED_AT) {
        Some(updated) if changed => {
            m.insert("_updatedOn".into(), ms(updated));
        }
        _ => {}
    }
    for (property, is_user) in loaded {
        if let Some(related) = m.get_mut(property) {
            if *is_user {
                *related = user_out(related.take());
            } else {
                record_out(related, &[]);
            }
        }
    }
}

/// An engine answer (records or one record) in SoftUni's shape.
fn answer_out(answer: Answer, loaded: &[(String, bool)], status: u16) -> Reply_ {
    let mut v: Value = match answer {
        Answer::Raw(text) => serde_json::from_str(&text).map_err(ApiError::internal)?,
        Answer::Json(v, _) => v,
    };
    match &mut v {
        Value::Array(items) => items.iter_mut().for_each(|r| record_out(r, loaded)),
        one => record_out(one, loaded),
    }
    Ok(json_reply(&v, status))
}

/// A body as the engine takes it: the fields the server sets are not the client's.
fn body_in(body: Result<Value, ApiError>) -> Result<Value, ApiError> {
    let mut body = body?;
    if let Value::Object(m) = &mut body {
        for k in ["_id", "_ownerId", "_createdOn", "_updatedOn"] {
            m.remove(k);
        }
    }
    Ok(body)
}

async fn list(coll: String, c: Result<Ctx, ApiError>, raw: String) -> Reply_ {
    let c = c?;
    // A collection nothing was ever written to does not exist (404); one whose
    // records were all deleted is empty.
    if !c
        .app
        .store
        .collection_written(&coll)
        .await
        .map_err(store_error)?
    {
        return Err(ApiError::new(ErrorCode::NotFound, "no such collection"));
    }
    let me = c.caller.as_ref().map(|u| u.user_id.clone());
    let q = translate_query(&raw, me.as_deref(), u64::from(c.app.config.max_page))?;
    let loaded: Vec<(String, bool)> = q
        .load
        .iter()
        .map(|r| (r.property.clone(), r.collection == PROFILES))
        .collect();
    let answer = records::list(coll, Ok(c), QueryInput::Parsed(q)).await?;
    answer_out(answer, &loaded, 200)
}

async fn get(coll: String, id: String, c: Result<Ctx, ApiError>) -> Reply_ {
    let answer = records::get(coll, id, c).await?;
    answer_out(answer, &[], 200)
}

async fn create(coll: String, c: Result<Ctx, ApiError>, body: Result<Value, ApiError>) -> Reply_ {
    let answer = records::create(coll, c, body_in(body)).await?;
    answer_out(answer, &[], 200)
}

async fn write(
    coll: String,
    id: String,
    c: Result<Ctx, ApiError>,
    body: Result<Value, ApiError>,
    action: WriteAction,
) -> Reply_ {
    let answer = records::write(coll, id, c, None, body_in(body), action).await?;
    answer_out(answer, &[], 200)
}

async fn delete(coll: String, id: String, c: Result<Ctx, ApiError>) -> Reply_ {
    records::delete(coll, id, c, None).await?;
    let now = crate::clock::unix_ms_from_iso(&crate::clock::now_iso()).unwrap_or(0);
    Ok(json_reply(&json!({ "_deletedOn": now }), 200))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_name_system_fields_and_authors_as_the_engine_does() {
        let q = translate_query(
            "where=_ownerId%3D%22u1%22%20AND%20_createdOn%3E%3D0&sortBy=_createdOn%20desc\
             &select=_id,_ownerId&load=author%3D_ownerId%3Ausers",
            None,
            100,
        )
        .expect("query");
        let text = format!("{q:?}");
        assert!(text.contains("\"userId\""), "{text}");
        assert!(text.contains("1970-01-01T00:00:00.000Z"), "{text}");
        assert!(
            !text.contains("_ownerId") && !text.contains("_createdOn"),
            "{text}"
        );
        assert_eq!(q.load[0].collection, PROFILES);
        assert_eq!(q.page_size, Some(DEFAULT_PAGE));
        let counted = translate_query("count=true", None, 100).expect("count");
        assert!(counted.count && counted.page_size.is_none());
        assert_eq!(
            translate_query("pageSize=3", None, 100)
                .expect("page")
                .page_size,
            Some(3)
        );
        // The default page never passes the server's largest.
        assert_eq!(translate_query("", None, 4).expect("q").page_size, Some(4));
        // `_updatedOn` alone still knows whether the record changed.
        let updated = translate_query("select=_updatedOn", None, 100).expect("q");
        let names: Vec<String> = updated
            .select
            .iter()
            .flatten()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(names, [UPDATED_AT, VERSION]);
    }

    #[test]
    fn profiles_keep_no_password_nor_any_copy_of_it() {
        let body = json!({
            "email": "a@b.c", "password": "s3cret!!", "rePass": "s3cret!!",
            "confirmPassword": "typo", "repeat": "s3cret!!", "username": "ann",
            "_ownerId": "x", "__v": 3, "gender": "female"
        });
        let Value::Object(fields) = body else {
            unreachable!()
        };
        let kept = profile_fields(fields, "s3cret!!");
        assert_eq!(
            Value::Object(kept),
            json!({ "username": "ann", "gender": "female" })
        );
    }

    #[test]
    fn records_show_softuni_names_and_epoch_milliseconds() {
        let mut fresh = json!({
            "_id": "r1", "title": "t", "userId": "u1", "__v": 0,
            "createdAt": "2026-01-02T03:04:05.678Z", "updatedAt": "2026-01-02T03:04:05.678Z",
            "author": { "_id": "u1", "userId": "u1", "email": "a@b.c", "__v": 0,
                        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z" }
        });
        record_out(&mut fresh, &[("author".into(), true)]);
        assert_eq!(
            fresh,
            json!({
                "_id": "r1", "title": "t", "_ownerId": "u1", "_createdOn": 1_767_323_045_678_i64,
                "author": { "_id": "u1", "email": "a@b.c", "_createdOn": 1_767_225_600_000_i64 }
            })
        );
        let mut changed = json!({ "_id": "r1", "userId": "u1", "__v": 2,
            "createdAt": "2026-01-02T03:04:05.678Z", "updatedAt": "2026-01-02T03:04:06.000Z" });
        record_out(&mut changed, &[]);
        assert_eq!(changed["_updatedOn"], json!(1_767_323_046_000_i64));
    }
}
