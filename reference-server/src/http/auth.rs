//! `POST /register`, `POST /login`, `POST /logout`, and the signed-in user's
//! `GET /me`, `POST /me/password`, `DELETE /me`.

use super::{Ctx, Outcome, ctx, finish, json_body, json_reply, store_error};
use crate::app::App;
use crate::auth::{blocking, check_password, new_token, normalize_email, token_hash};
use crate::clock::{new_id, unix_now};
use crate::error::ApiError;
use crate::net::client_ip;
use crate::realtime::Revoked;
use crate::store::UserRow;
use sdk_core::api::{AuthResponse, Me, MessageResponse};
use sdk_core::routes;
use sdk_core::{ErrorBody, ErrorCode, SESSION_COOKIE};
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;
use warp::filters::BoxedFilter;
use warp::http::header::SET_COOKIE;
use warp::{Filter, Reply};

/// The auth routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let limit = super::BodyLimit::of(&app.config);
    let register = warp::path(routes::REGISTER)
        .and(warp::path::end())
        .and(warp::post())
        .and(ctx(app.clone()))
        .and(client_ip(app.clone()))
        .and(https(app.clone()))
        .and(json_body(limit))
        .then(|c, ip, s, b| async move { finish(register(c, ip, s, b).await) });
    let login = warp::path(routes::LOGIN)
        .and(warp::path::end())
        .and(warp::post())
        .and(ctx(app.clone()))
        .and(client_ip(app.clone()))
        .and(https(app.clone()))
        .and(json_body(limit))
        .then(|c, ip, s, b| async move { finish(login(c, ip, s, b).await) });
    let logout = warp::path(routes::LOGOUT)
        .and(warp::path::end())
        .and(warp::post())
        .and(ctx(app.clone()))
        .then(|c| async move { finish(logout(c).await) });
    let me = warp::path(routes::ME)
        .and(warp::path::end())
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|c| async move { finish(me(c).await) });
    let password = warp::path(routes::ME)
        .and(warp::path(routes::PASSWORD))
        .and(warp::path::end())
        .and(warp::post())
        .and(ctx(app.clone()))
        .and(client_ip(app.clone()))
        .and(json_body(limit))
        .then(|c, ip, b| async move { finish(change_password(c, ip, b).await) });
    let delete = warp::path(routes::ME)
        .and(warp::path::end())
        .and(warp::delete())
        .and(ctx(app.clone()))
        .and(client_ip(app))
        .and(json_body(limit))
        .then(|c, ip, b| async move { finish(delete_account(c, ip, b).await) });
    register
        .or(login)
        .unify()
        .or(logout)
        .unify()
        .or(me)
        .unify()
        .or(password)
        .unify()
        .or(delete)
        .unify()
        .boxed()
}

/// Email and password from a body, with a per-field error for each missing one.
fn credentials(body: &Value) -> Result<(String, String), ErrorBody> {
    if !body.is_object() {
        return Err(ErrorBody::new(
            ErrorCode::InvalidBody,
            "the body must be a JSON object",
        ));
    }
    let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    match (field("email"), field("password")) {
        (Some(e), Some(p)) => Ok((e, p)),
        (e, p) => {
            let mut err = ErrorBody::new(
                ErrorCode::ValidationFailed,
                "email and password are required",
            );
            if e.is_none() {
                err = err.with_field("email", "required, a string");
            }
            if p.is_none() {
                err = err.with_field("password", "required, a string");
            }
            Err(err)
        }
    }
}

/// Whether the session cookie is `Secure`: always with `--secure-cookie` or an
/// `https://` `--public-url`, and when a proxy says the request came over HTTPS
/// (`X-Forwarded-Proto: https`).
fn https(app: Arc<App>) -> impl Filter<Extract = (bool,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("x-forwarded-proto").map(move |proto: Option<String>| {
        app.config.always_secure_cookie()
            || proto.is_some_and(|p| {
                p.split(',')
                    .next_back()
                    .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
            })
    })
}

/// The 429 answer, with `Retry-After`.
fn too_many(retry_after: u64) -> warp::reply::Response {
    let reply = json_reply(
        &ErrorBody::new(
            ErrorCode::RateLimited,
            format!("too many attempts; retry in {retry_after} s"),
        ),
        429,
    );
    warp::reply::with_header(reply, "retry-after", retry_after.to_string()).into_response()
}

async fn register(
    c: Result<Ctx, ApiError>,
    ip: Option<IpAddr>,
    secure: bool,
    body: Result<Value, ApiError>,
) -> Outcome {
    let (c, body) = (c?, body?);
    if let Err(wait) = c.app.auth_limits.check_ip(ip).await {
        return Ok(too_many(wait));
    }
    let (email, password) = credentials(&body).map_err(ApiError::from)?;
    let id = create_account(&c.app, &email, password).await?;
    start_session(&c.app, id, 201, secure).await
}

async fn login(
    c: Result<Ctx, ApiError>,
    ip: Option<IpAddr>,
    secure: bool,
    body: Result<Value, ApiError>,
) -> Outcome {
    let (c, body) = (c?, body?);
    if let Err(wait) = c.app.auth_limits.check_ip(ip).await {
        return Ok(too_many(wait));
    }
    let (email, password) = credentials(&body).map_err(ApiError::from)?;
    match check_credentials(&c.app, &email, password).await? {
        Ok(user) => start_session(&c.app, user.id, 200, secure).await,
        Err(wait) => Ok(too_many(wait)),
    }
}

/// Makes an account: the email normalized and free, the password acceptable
/// and hashed. Returns the new user's id.
pub(crate) async fn create_account(
    app: &App,
    email: &str,
    password: String,
) -> Result<String, ApiError> {
    let email = normalize_email(email).map_err(ApiError::from)?;
    check_password(&password).map_err(ApiError::from)?;
    let hasher = app.hasher.clone();
    let hash = blocking(move || hasher.hash(&password))
        .await?
        .map_err(ApiError::internal)?;
    let id = new_id();
    app.store
        .create_user(&id, &email, &hash)
        .await
        .map_err(store_error)?;
    Ok(id)
}

/// The user an email and password name, or 401 `invalid_credentials`; `Ok(Err)`
/// holds the seconds to wait when the email is over its attempt limit.
pub(crate) async fn check_credentials(
    app: &App,
    email: &str,
    password: String,
) -> Result<Result<UserRow, u64>, ApiError> {
    let key = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    if let Err(wait) = app.auth_limits.check_email(&key).await {
        return Ok(Err(wait));
    }
    // An invalid email cannot be registered; treat it as unknown so the answer
    // is the same as for any other failed login.
    let user = match normalize_email(email) {
        Ok(e) => app.store.user_by_email(&e).await.map_err(store_error)?,
        Err(_) => None,
    };
    let hasher = app.hasher.clone();
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let ok = blocking(move || hasher.verify(&password, phc.as_deref())).await?;
    match user {
        Some(u) if ok => Ok(Ok(u)),
        _ => Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "the email or password is wrong",
        )),
    }
}

/// Opens a session for a user; returns its token.
pub(crate) async fn open_session(app: &App, user_id: &str) -> Result<String, ApiError> {
    let token = new_token();
    app.store
        .create_session(
            &token_hash(&token),
            user_id,
            unix_now() + app.config.session_ttl,
        )
        .await
        .map_err(store_error)?;
    Ok(token)
}

async fn start_session(app: &App, user_id: String, status: u16, secure: bool) -> Outcome {
    let token = open_session(app, &user_id).await?;
    let ttl = app.config.session_ttl;
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{SESSION_COOKIE}={token}; HttpOnly; Path=/; SameSite=Lax; Max-Age={ttl}{secure}");
    let reply = json_reply(&AuthResponse { id: user_id, token }, status);
    Ok(warp::reply::with_header(reply, SET_COOKIE, cookie).into_response())
}

async fn logout(c: Result<Ctx, ApiError>) -> Outcome {
    let c = c?;
    if let Some(caller) = &c.caller {
        c.app
            .store
            .delete_session(&caller.token_hash)
            .await
            .map_err(store_error)?;
        // Sockets signed in with the session end with it.
        revoke(&c, Revoked::Session(caller.token_hash.clone()));
    }
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0");
    let reply = json_reply(
        &MessageResponse {
            message: "OK".into(),
        },
        200,
    );
    Ok(warp::reply::with_header(reply, SET_COOKIE, clear).into_response())
}

/// Ends the sockets signed in with credentials that stopped being good.
fn revoke(c: &Ctx, what: Revoked) {
    crate::realtime::publish_revoked(&c.app, what);
}

async fn me(c: Result<Ctx, ApiError>) -> Outcome {
    let c = c?;
    let caller = c.require_user()?;
    let user = c
        .app
        .store
        .user_by_id(&caller.user_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "the account is gone"))?;
    Ok(json_reply(
        &Me {
            id: user.id,
            email: user.email,
            created_at: crate::clock::iso_from_unix(user.created_at),
        },
        200,
    ))
}

/// Checks `password` against the signed-in user's; a wrong one is 401
/// `invalid_credentials` after the same hashing work as a login. Attempts are
/// limited as logins are: per address, and per user (as per email). `Ok(Err)`
/// is the 429 answer.
async fn verify_current(
    c: &Ctx,
    ip: Option<IpAddr>,
    user_id: &str,
    password: String,
) -> Result<Result<(), warp::reply::Response>, ApiError> {
    let limits = &c.app.auth_limits;
    let checked = match limits.check_ip(ip).await {
        Ok(()) => limits.check_email(&format!("user:{user_id}")).await,
        over => over,
    };
    if let Err(wait) = checked {
        return Ok(Err(too_many(wait)));
    }
    let user = c.app.store.user_by_id(user_id).await.map_err(store_error)?;
    let hasher = c.app.hasher.clone();
    let phc = user.map(|u| u.password_hash);
    if blocking(move || hasher.verify(&password, phc.as_deref())).await? {
        Ok(Ok(()))
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "the current password is wrong",
        ))
    }
}

fn string_field(body: &Value, field: &str) -> Result<String, ApiError> {
    body.get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::from(
                ErrorBody::new(ErrorCode::ValidationFailed, format!("{field} is required"))
                    .with_field(field, "required, a string"),
            )
        })
}

async fn change_password(
    c: Result<Ctx, ApiError>,
    ip: Option<IpAddr>,
    body: Result<Value, ApiError>,
) -> Outcome {
    let (c, body) = (c?, body?);
    let caller = c.require_user()?.clone();
    let current = string_field(&body, "currentPassword")?;
    let new = string_field(&body, "newPassword")?;
    check_password(&new).map_err(|e| {
        ApiError::from(ErrorBody {
            errors: e.errors.map(|m| {
                m.into_iter()
                    .map(|(_, v)| ("newPassword".to_owned(), v))
                    .collect()
            }),
            ..e
        })
    })?;
    if let Err(refused) = verify_current(&c, ip, &caller.user_id, current).await? {
        return Ok(refused);
    }
    let hasher = c.app.hasher.clone();
    let hash = blocking(move || hasher.hash(&new))
        .await?
        .map_err(ApiError::internal)?;
    // Every other session ends: a stolen token dies with the old password.
    c.app
        .store
        .set_password(&caller.user_id, &hash, Some(&caller.token_hash))
        .await
        .map_err(store_error)?;
    revoke(
        &c,
        Revoked::User {
            user: caller.user_id.clone(),
            except: Some(caller.token_hash.clone()),
        },
    );
    Ok(json_reply(
        &MessageResponse {
            message: "password changed; other sessions ended".into(),
        },
        200,
    ))
}

async fn delete_account(
    c: Result<Ctx, ApiError>,
    ip: Option<IpAddr>,
    body: Result<Value, ApiError>,
) -> Outcome {
    let (c, body) = (c?, body?);
    let caller = c.require_user()?.clone();
    let password = string_field(&body, "password")?;
    if let Err(refused) = verify_current(&c, ip, &caller.user_id, password).await? {
        return Ok(refused);
    }
    c.app
        .store
        .delete_user(&caller.user_id)
        .await
        .map_err(store_error)?;
    revoke(
        &c,
        Revoked::User {
            user: caller.user_id.clone(),
            except: None,
        },
    );
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0");
    let reply = json_reply(
        &MessageResponse {
            message: "account deleted".into(),
        },
        200,
    );
    Ok(warp::reply::with_header(reply, SET_COOKIE, clear).into_response())
}
