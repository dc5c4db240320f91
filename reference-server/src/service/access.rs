//! Credentials: API keys and session tokens, as both transports check them.

use super::{Caller, store_error};
use crate::app::App;
use crate::auth::token_hash;
use crate::error::ApiError;
use std::sync::Arc;

/// The signed-in user for a session token, if the session is live. A session
/// used in the second half of its lifetime is renewed for a full lifetime.
pub async fn session_user(app: &Arc<App>, token: &str) -> Result<Option<Caller>, ApiError> {
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

/// Whether `key` is the app's main API key or a live key made with `keys create`.
/// Keys are looked up by hash on every use, so a revoked key fails at once.
pub async fn key_accepted(app: &App, key: &str) -> Result<bool, ApiError> {
    if constant_time_eq(key.as_bytes(), app.api_key.as_bytes()) {
        return Ok(true);
    }
    if key.is_empty() || key.len() > 256 {
        return Ok(false);
    }
    app.store
        .key_live(&token_hash(key))
        .await
        .map_err(store_error)
}

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
