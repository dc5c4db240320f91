//! The Rucksack SDK for Rust.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Message {
//!     text: String,
//! }
//!
//! # async fn demo() -> Result<(), rucksack::Error> {
//! let sdk = rucksack::Sdk::new("http://127.0.0.1:8080", "my-api-key")?;
//! sdk.auth().login("ann@example.com", "correct horse").await?;
//! let created = sdk
//!     .db()
//!     .create_resource::<Message>("messages", &Message { text: "hi".into() })
//!     .await?;
//! let again = sdk.db().get_resource::<Message>("messages", &created.id).await?;
//! assert_eq!(again.data.text, "hi");
//!
//! let mut live = sdk.ws().await?;
//! while let Some(event) = live.next().await {
//!     println!("{:?}", event?);
//! }
//! # Ok(()) }
//! ```
//!
//! Every method mirrors one of the JavaScript SDK's (`auth.login` is
//! [`Auth::login`], `db.getResource` is [`Db::get_resource`]); requests are built
//! and answers interpreted by `sdk-core`, so both SDKs behave the same.

mod auth;
mod db;
mod realtime;
mod storage;
mod transport;

pub use auth::Auth;
pub use db::Db;

pub use realtime::{Realtime, Subscription};
pub use sdk_core::api::{Me, MessageResponse, UserId};
pub use sdk_core::collection::{CollectionConfig, IdGenerator, Operation, PropertySpec};
pub use sdk_core::files::{FileDeleted, FileList, FileRecord, FileUpdated};
pub use sdk_core::ws::{
    Channel, ClientMessage, Notification, NotifyAction, Parent, ServerMessage, WriteAction,
    WriteEvent,
};
pub use sdk_core::{Error, ErrorCode, Record};
/// The query language: filters, sorting, paging, projection, relations.
pub mod query {
    pub use sdk_core::query::{
        CmpOp, Cursor, Filter, FindQuery, Path, Pattern, QueryError, Relation, Scalar, SortKey,
    };
}
pub use storage::{Storage, Upload};

use query::{Filter, FindQuery};
use sdk_core::api::{Call, Client, Credentials};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// A result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

struct Inner {
    core: Mutex<Client>,
    http: reqwest::Client,
}

/// A connection to one Rucksack server: `createSdk(url, apiKey)` in JavaScript.
/// Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct Sdk {
    inner: Arc<Inner>,
}

impl Sdk {
    /// A client for the server at `url` with the app's API key.
    pub fn new(url: &str, api_key: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("rucksack-sdk-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                core: Mutex::new(Client::new(url, api_key)),
                http,
            }),
        })
    }

    /// Sign-up, sign-in and sign-out.
    pub fn auth(&self) -> Auth<'_> {
        Auth { sdk: self }
    }

    /// Collections and records.
    pub fn db(&self) -> Db<'_> {
        Db { sdk: self }
    }

    /// The signed-in user's files.
    pub fn storage(&self) -> Storage<'_> {
        Storage { sdk: self }
    }

    /// Opens a realtime connection that yields every broadcast this client may see.
    pub async fn ws(&self) -> Result<Realtime> {
        let sdk = self.clone();
        Realtime::connect(move || sdk.with_core(|c| c.ws_url())).await
    }

    /// The signed-in user's id.
    pub fn user_id(&self) -> Option<String> {
        self.with_core(|c| c.session().user_id().map(str::to_owned))
    }

    /// The session token, to keep a session across restarts of the app.
    pub fn session_token(&self) -> Option<String> {
        self.with_core(|c| c.session().token().map(str::to_owned))
    }

    fn with_core<T>(&self, f: impl FnOnce(&mut Client) -> T) -> T {
        let mut guard = match self.inner.core.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Prepares `call` in the core, carries it (with `file` as the form's file part
    /// when the call uploads), and decodes the core's result as `T`.
    async fn request<T: DeserializeOwned>(
        &self,
        call: Call,
        file: Option<reqwest::multipart::Part>,
    ) -> Result<T> {
        let req = self.with_core(|c| c.prepare(&call))?;
        let (status, body) = transport::send(&self.inner.http, req, file).await?;
        let v = self.with_core(|c| c.complete(&call, status, &body))?;
        serde_json::from_value(v).map_err(|e| Error::Decode(e.to_string()))
    }

    async fn call_as<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        self.request(call, None).await
    }
}
