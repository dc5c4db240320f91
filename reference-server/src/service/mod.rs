//! The transport-neutral core of a request: who makes it, where it came from,
//! and what it answers. HTTP handlers and WebSocket actions both work through it.

pub mod access;
pub mod records;

use crate::app::App;
use crate::error::ApiError;
use crate::store::StoreError;
use sdk_core::ErrorCode;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The signed-in user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user's id.
    pub user_id: String,
    /// The hash of the session token the request carried.
    pub token_hash: String,
}

/// What every handler gets: the app and, when signed in, the caller.
#[derive(Clone)]
pub struct Ctx {
    /// Shared state.
    pub app: Arc<App>,
    /// The signed-in user, if any.
    pub caller: Option<Caller>,
    /// Whether the request carries the admin key.
    pub admin: bool,
    /// Where the request came from, which decides how its writes are broadcast.
    pub origin: Origin,
    /// What the request's scripts emitted, held until its write succeeds.
    pub emitted: Arc<std::sync::Mutex<Vec<crate::scripts::Emitted>>>,
    /// The signed-in user as scripts see it (`me`), once read for them.
    pub me: Arc<std::sync::OnceLock<Map<String, Value>>>,
    /// How many `dpd` calls deep this request is (0: a client's own).
    pub depth: u8,
}

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An HTTP request: its writes are broadcast with `httpRequest: true`.
    Http,
    /// A WebSocket action on the connection with this id: its writes are broadcast
    /// to the other connections, and the caller gets the answer directly.
    Socket(u64),
    /// A step of a larger action (a channel action) that announces itself: its
    /// writes are not broadcast.
    Quiet,
}

impl Ctx {
    /// Reads the signed-in user for scripts' `me`, once per request: its id,
    /// email and registration time, never a secret.
    pub async fn load_me(&self) -> Result<(), ApiError> {
        let Some(caller) = &self.caller else {
            return Ok(());
        };
        if self.me.get().is_some() {
            return Ok(());
        }
        let user = self
            .app
            .store
            .user_by_id(&caller.user_id)
            .await
            .map_err(store_error)?;
        let _ = self
            .me
            .set(crate::scripts::me_of(&caller.user_id, user.as_ref()));
        Ok(())
    }

    /// The context of a script's `dpd` call: the same user, one level deeper,
    /// its writes broadcast as a client's (unless this request's are not) and
    /// its own scripts' messages held for its own write.
    pub fn nested(&self) -> Ctx {
        Ctx {
            app: self.app.clone(),
            caller: self.caller.clone(),
            admin: self.admin,
            origin: match self.origin {
                Origin::Quiet => Origin::Quiet,
                _ => Origin::Http,
            },
            emitted: Arc::default(),
            me: self.me.clone(),
            depth: self.depth.saturating_add(1),
        }
    }

    /// The signed-in user for scripts: what [`Ctx::load_me`] read, or the id alone.
    pub fn script_me(&self) -> Option<crate::scripts::Me<'_>> {
        self.caller.as_ref().map(|c| crate::scripts::Me {
            id: &c.user_id,
            user: self.me.get(),
        })
    }

    /// Broadcasts the records one write touched, then what its scripts emitted.
    pub fn publish(
        &self,
        action: sdk_core::ws::WriteAction,
        collection: &str,
        records: Vec<Value>,
    ) {
        let target = match self.origin {
            Origin::Quiet => None,
            Origin::Http => Some((true, None)),
            Origin::Socket(id) => Some((false, Some(id))),
        };
        if let Some((http, except)) = target {
            crate::realtime::publish_write(&self.app, action, collection, records, http, except);
        }
        let emitted = std::mem::take(&mut *self.held());
        crate::scripts::publish_emitted(&self.app, emitted);
    }

    /// Keeps what a write's scripts emitted until the write succeeds.
    pub fn hold(&self, emitted: Vec<crate::scripts::Emitted>) {
        self.held().extend(emitted);
    }

    /// Drops what an attempt's scripts emitted: the attempt is run again.
    pub fn forget_emitted(&self) {
        self.held().clear();
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Vec<crate::scripts::Emitted>> {
        self.emitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A handler's answer before it becomes an HTTP reply or a WebSocket message.
#[derive(Debug)]
pub enum Answer {
    /// JSON text as the store produced it.
    Raw(String),
    /// A value and the HTTP status.
    Json(Value, u16),
}

impl Answer {
    /// The JSON text.
    pub fn into_text(self) -> String {
        match self {
            Self::Raw(text) => text,
            Self::Json(v, _) => v.to_string(),
        }
    }
}

impl Ctx {
    /// The caller, or 401 `unauthenticated`.
    pub fn require_user(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "sign in first: this needs a session",
            )
        })
    }
}

/// The answer to a write refused because the disk is full.
pub fn storage_full() -> ApiError {
    tracing::warn!("a write was refused: the disk is full");
    ApiError::new(
        ErrorCode::StorageFull,
        "the server's disk is full; nothing was written. Retry once space is freed",
    )
}

/// Maps a storage failure onto its error answer.
pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::new(ErrorCode::NotFound, "no record with that id"),
        StoreError::FileExists => ApiError::new(
            ErrorCode::FileExists,
            "you already have a file of that name; overwrite it or pick another name",
        ),
        StoreError::EmailTaken => ApiError::new(
            ErrorCode::EmailTaken,
            "a user with that email is already registered",
        ),
        StoreError::NotOwner => ApiError::new(
            ErrorCode::Forbidden,
            "only the record's owner may change it",
        ),
        StoreError::VersionConflict(v) => ApiError::new(
            ErrorCode::VersionConflict,
            format!("the record has changed: its version is now {v}"),
        ),
        StoreError::Busy => ApiError::retry_later("the server is busy; retry shortly"),
        StoreError::Full => storage_full(),
        StoreError::TimedOut(s) => ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "the query ran over its {s} s limit and was stopped; \
                 narrow it (an indexed filter, a smaller page) or retry when the server is less busy"
            ),
        ),
        StoreError::Query(q) => ApiError::from(q),
        StoreError::Rejected(body) => ApiError::from(body),
        other => ApiError::internal(other),
    }
}
