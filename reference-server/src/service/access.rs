//! Credentials: API keys and session tokens, as both transports check them.

use super::{Caller, store_error};
use crate::app::App;
use crate::auth::token_hash;
use crate::error::ApiError;
use sdk_core::ErrorCode;
use std::sync::Arc;

/// The credentials a request or a connection came with, as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// The API key, if one was sent.
    pub key: Option<&'a str>,
    /// A session token sent explicitly (a header or a query parameter): it must be live.
    pub token: Option<&'a str>,
    /// The session cookie: a stale one makes the caller anonymous instead of failing.
    pub cookie: Option<&'a str>,
}

/// Whether an API key is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    /// Always (HTTP requests).
    Required,
    /// Unless a live session comes instead (WebSocket upgrades: sessions only
    /// exist after a request that carried a key, and Backpack apps connect with
    /// just their cookie). A key that is sent must still be good.
    OrSession,
}

/// Who is calling, once their credentials are checked.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    /// The signed-in user, if any.
    pub caller: Option<Caller>,
    /// Whether the admin key came with it.
    pub admin: bool,
    /// The hash of the API key, when it is one made with `keys create` (which
    /// can be revoked while a connection is open).
    pub revocable_key: Option<String>,
}

fn invalid_key() -> ApiError {
    ApiError::new(ErrorCode::InvalidApiKey, "Check your auth tokens")
}

/// The one check of credentials both transports make: the key (the admin key,
/// the main key or a live key made with `keys create`) and the session.
///
/// A key that is sent must be good; `rule` says whether one must be sent. An
/// explicit token must name a live session (401 `unauthenticated`); a stale
/// cookie is ignored. With [`KeyRule::Required`] the key is checked first.
pub async fn authenticate(
    app: &Arc<App>,
    creds: Credentials<'_>,
    rule: KeyRule,
) -> Result<Principal, ApiError> {
    let kind = match creds.key {
        Some(k) => Some(key_kind(app, k).await?),
        None => None,
    };
    let admin = kind == Some(KeyKind::Admin);
    let key_ok = kind.as_ref().map(|k| *k != KeyKind::Refused);
    if rule == KeyRule::Required && key_ok != Some(true) {
        return Err(invalid_key());
    }
    let caller = match (creds.token, creds.cookie) {
        (Some(token), _) => Some(session_user(app, token).await?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "the session has ended; sign in again",
            )
        })?),
        (None, Some(token)) => session_user(app, token).await?,
        (None, None) => None,
    };
    if !key_ok.unwrap_or(caller.is_some()) {
        return Err(invalid_key());
    }
    if let Some(c) = &caller {
        crate::observe::note_user(&c.user_id);
    }
    let revocable_key = match kind {
        Some(KeyKind::Made(hash)) => Some(hash),
        _ => None,
    };
    Ok(Principal {
        caller,
        admin,
        revocable_key,
    })
}

/// The signed-in user for a session token, if the session is live. A session
/// used in the second half of its lifetime is renewed for a full lifetime.
async fn session_user(app: &Arc<App>, token: &str) -> Result<Option<Caller>, ApiError> {
    let hash = token_hash(token);
    let now = crate::clock::unix_now();
    let found = app
        .store
        .session_user(&hash, now)
        .await
        .map_err(store_error)?;
    let Some((user_id, expires)) = found else {
        return Ok(None);
    };
    let ttl = app.config.session_ttl;
    if expires.saturating_sub(now) <= ttl / 2 {
        let (app, hash) = (app.clone(), hash.clone());
        tokio::spawn(async move {
            if let Err(e) = app.store.renew_session(&hash, now + ttl).await {
                tracing::warn!(%e, "could not renew a session");
            }
        });
    }
    Ok(Some(Caller {
        user_id,
        token_hash: hash,
    }))
}

/// Which key a request sent.
#[derive(Debug, PartialEq, Eq)]
enum KeyKind {
    /// The admin key.
    Admin,
    /// The app's main API key.
    Main,
    /// A live key made with `keys create`: its hash.
    Made(String),
    /// Anything else (unknown or revoked).
    Refused,
}

/// Which key `key` is. Made keys are looked up by hash on every use, so a
/// revoked key fails at once.
async fn key_kind(app: &App, key: &str) -> Result<KeyKind, ApiError> {
    if constant_time_eq(key.as_bytes(), app.admin_key.as_bytes()) {
        return Ok(KeyKind::Admin);
    }
    if constant_time_eq(key.as_bytes(), app.api_key.as_bytes()) {
        return Ok(KeyKind::Main);
    }
    if key.is_empty() || key.len() > 256 {
        return Ok(KeyKind::Refused);
    }
    let hash = token_hash(key);
    let live = app.store.key_live(&hash).await.map_err(store_error)?;
    Ok(if live {
        KeyKind::Made(hash)
    } else {
        KeyKind::Refused
    })
}

/// Compares secrets in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
