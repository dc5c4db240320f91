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

/// Settings for an [`Sdk`], from [`Sdk::builder`].
#[must_use]
#[derive(Debug)]
pub struct SdkBuilder {
    url: String,
    api_key: String,
    http: Option<reqwest::Client>,
    timeout: Option<std::time::Duration>,
    connect_timeout: Option<std::time::Duration>,
    session: Option<(String, Option<String>)>,
}

impl SdkBuilder {
    /// Carries requests with this client (its proxy, TLS roots, pool settings);
    /// the builder's time limits then do not apply, the client's own do.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The longest a request may take, from connecting to the last byte of the
    /// answer (uploads and downloads included).
    pub fn timeout(mut self, limit: std::time::Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The longest connecting to the server may take.
    pub fn connect_timeout(mut self, limit: std::time::Duration) -> Self {
        self.connect_timeout = Some(limit);
        self
    }

    /// Starts signed in with a session token kept from an earlier run
    /// ([`Sdk::session_token`]). The user's id is learnt from the next
    /// [`Auth::me`]; a token whose session has ended fails requests with 401
    /// `unauthenticated`.
    pub fn session_token(mut self, token: impl Into<String>) -> Self {
        self.session = Some((token.into(), None));
        self
    }

    /// As [`SdkBuilder::session_token`], with the user's id kept beside it.
    pub fn session(mut self, token: impl Into<String>, user_id: impl Into<String>) -> Self {
        self.session = Some((token.into(), Some(user_id.into())));
        self
    }

    /// The client.
    pub fn build(self) -> Result<Sdk> {
        let http = match self.http {
            Some(c) => c,
            None => {
                let mut b = reqwest::Client::builder()
                    .user_agent(concat!("rucksack-sdk-rust/", env!("CARGO_PKG_VERSION")));
                if let Some(t) = self.timeout {
                    b = b.timeout(t);
                }
                if let Some(t) = self.connect_timeout {
                    b = b.connect_timeout(t);
                }
                b.build().map_err(|e| Error::Transport(e.to_string()))?
            }
        };
        let mut core = Client::new(&self.url, &self.api_key);
        if let Some((token, user_id)) = self.session {
            core.restore_session(token, user_id);
        }
        Ok(Sdk {
            inner: Arc::new(Inner {
                core: Mutex::new(core),
                http,
            }),
        })
    }
}

/// A connection to one Rucksack server: `createSdk(url, apiKey)` in JavaScript.
/// Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct Sdk {
    inner: Arc<Inner>,
}

impl Sdk {
    /// A client for the server at `url` with the app's API key, with the
    /// defaults: no session, no time limit beyond the server's own.
    pub fn new(url: &str, api_key: &str) -> Result<Self> {
        Self::builder(url, api_key).build()
    }

    /// A client with more settings: an HTTP client of the app's own, time
    /// limits, a session kept from an earlier run.
    ///
    /// ```no_run
    /// # fn demo(saved: String) -> Result<(), rucksack::Error> {
    /// let sdk = rucksack::Sdk::builder("https://api.example.com", "my-api-key")
    ///     .timeout(std::time::Duration::from_secs(10))
    ///     .session_token(saved)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder(url: &str, api_key: &str) -> SdkBuilder {
        SdkBuilder {
            url: url.to_owned(),
            api_key: api_key.to_owned(),
            http: None,
            timeout: None,
            connect_timeout: None,
            session: None,
        }
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
