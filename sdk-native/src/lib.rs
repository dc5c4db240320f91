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

mod http;
mod realtime;
mod storage;

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
        let (status, body) = http::send(&self.inner.http, req, file).await?;
        let v = self.with_core(|c| c.complete(&call, status, &body))?;
        serde_json::from_value(v).map_err(|e| Error::Decode(e.to_string()))
    }

    async fn call_as<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        self.request(call, None).await
    }
}

/// The query-string form of a bulk write's filter.
fn filter_pairs(filter: Option<Filter>) -> Vec<(String, String)> {
    FindQuery {
        filter,
        ..FindQuery::default()
    }
    .to_pairs()
}

fn to_object(data: &impl Serialize) -> Result<Value> {
    match serde_json::to_value(data) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Error::InvalidArgument(
            "data must serialize to a JSON object".into(),
        )),
        Err(e) => Err(Error::InvalidArgument(e.to_string())),
    }
}

/// `sdk.auth`: sign-up, sign-in and sign-out.
pub struct Auth<'a> {
    sdk: &'a Sdk,
}

impl Auth<'_> {
    /// Registers a user and signs them in. Returns the new user's id.
    pub async fn register(&self, email: &str, password: &str) -> Result<UserId> {
        let c = Credentials {
            email: email.into(),
            password: password.into(),
        };
        self.sdk.call_as(Call::Register(c)).await
    }

    /// Signs a user in. Returns the user's id.
    pub async fn login(&self, email: &str, password: &str) -> Result<UserId> {
        let c = Credentials {
            email: email.into(),
            password: password.into(),
        };
        self.sdk.call_as(Call::Login(c)).await
    }

    /// The signed-in user: id, email, registration time.
    pub async fn me(&self) -> Result<Me> {
        self.sdk.call_as(Call::Me).await
    }

    /// Changes the password; every other session of the user ends.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<MessageResponse> {
        self.sdk
            .call_as(Call::ChangePassword {
                current: current.into(),
                new: new.into(),
            })
            .await
    }

    /// Deletes the account (the password confirms it) and signs out. Records and
    /// files the user made stay.
    pub async fn delete_account(&self, password: &str) -> Result<MessageResponse> {
        self.sdk.call_as(Call::DeleteAccount(password.into())).await
    }

    /// Ends the session on the server and forgets it here.
    pub async fn logout(&self) -> Result<MessageResponse> {
        self.sdk.call_as(Call::Logout).await
    }
}

/// `sdk.db`: collections and records. `T` is the type of a record's own fields.
pub struct Db<'a> {
    sdk: &'a Sdk,
}

impl Db<'_> {
    /// Names of the collections that hold records.
    pub async fn get_collection_list(&self) -> Result<Vec<String>> {
        self.sdk.call_as(Call::GetCollectionList).await
    }

    /// Declares a collection; it is listed once it holds a record. Returns the name.
    pub async fn create_new_collection(&self, name: &str) -> Result<String> {
        self.sdk
            .call_as(Call::CreateNewCollection(name.into()))
            .await
    }

    /// Every record of a collection, oldest first, read page by page (see
    /// [`Db::find_all`]).
    pub async fn get_collection<T: DeserializeOwned>(
        &self,
        collection: &str,
    ) -> Result<Vec<Record<T>>> {
        self.find_all(collection, &FindQuery::new()).await
    }

    /// Every record a query selects, read page by page: each page resumes after
    /// the last record of the one before (the `after` cursor), so a deep page
    /// costs what the first does and no record is skipped or repeated while
    /// others are added. The page size is the query's, or the server's default.
    ///
    /// ```no_run
    /// # async fn demo(sdk: &rucksack::Sdk) -> rucksack::Result<()> {
    /// use rucksack::query::FindQuery;
    /// let q = FindQuery::new().sort_desc("createdAt").page_size(500);
    /// let all = sdk.db().find_all::<serde_json::Value>("messages", &q).await?;
    /// # Ok(()) }
    /// ```
    pub async fn find_all<T: DeserializeOwned>(
        &self,
        collection: &str,
        query: &FindQuery,
    ) -> Result<Vec<Record<T>>> {
        let mut out = Vec::new();
        let mut next = Some(query.clone());
        while let Some(q) = next {
            let page: Vec<Value> = self.find_as(collection, &q).await?;
            next = q.next_page(&page).filter(|n| n.after != q.after);
            for v in page {
                out.push(serde_json::from_value(v).map_err(|e| Error::Decode(e.to_string()))?);
            }
        }
        Ok(out)
    }

    /// The records a query selects, as typed records.
    ///
    /// ```no_run
    /// # async fn demo(sdk: &rucksack::Sdk) -> rucksack::Result<()> {
    /// use rucksack::query::{Filter, FindQuery};
    /// #[derive(serde::Deserialize)]
    /// struct Recipe { title: String, likes: i64 }
    ///
    /// let q = FindQuery::new()
    ///     .filter(Filter::gte("likes", 10).and(Filter::like("title", "lasagna")))
    ///     .sort_desc("likes")
    ///     .page_size(20);
    /// let top = sdk.db().find::<Recipe>("recipes", &q).await?;
    /// for r in top {
    ///     println!("{} {}: {}", r.id, r.data.title, r.data.likes);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn find<T: DeserializeOwned>(
        &self,
        collection: &str,
        query: &FindQuery,
    ) -> Result<Vec<Record<T>>> {
        self.find_as(collection, query).await
    }

    /// The answer to a query, decoded as `T`: use it with `select` or `load`
    /// (`Vec<serde_json::Value>` or a struct of the selected fields).
    pub async fn find_as<T: DeserializeOwned>(
        &self,
        collection: &str,
        query: &FindQuery,
    ) -> Result<T> {
        self.sdk
            .call_as(Call::Find(collection.into(), query.to_pairs()))
            .await
    }

    /// How many records match `filter` (all of them with `None`).
    pub async fn count(&self, collection: &str, filter: Option<Filter>) -> Result<u64> {
        let mut q = FindQuery::new();
        q.filter = filter;
        q.count = true;
        self.find_as(collection, &q).await
    }

    /// A read with query-string parameters exactly as written, e.g. taken from a
    /// URL: `[("where", "age >= 18"), ("sortBy", "age desc")]`.
    pub async fn find_with_params(
        &self,
        collection: &str,
        params: &[(&str, &str)],
    ) -> Result<Value> {
        let params = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.sdk
            .call_as(Call::Find(collection.into(), params))
            .await
    }

    /// Creates records from `objects`, all or nothing (at most 1,000).
    pub async fn insert_many<T: DeserializeOwned>(
        &self,
        collection: &str,
        objects: &[impl Serialize],
    ) -> Result<Vec<Record<T>>> {
        let items = objects.iter().map(to_object).collect::<Result<Vec<_>>>()?;
        self.sdk
            .call_as(Call::InsertMany(collection.into(), Value::Array(items)))
            .await
    }

    /// Applies an update spec (`{"$set": {...}, "$inc": {...}}`) to every record
    /// matching `filter` that the caller may change (all with the admin key), all
    /// or nothing. Returns how many changed.
    pub async fn update_many(
        &self,
        collection: &str,
        filter: Option<Filter>,
        spec: &Value,
    ) -> Result<u64> {
        let call = Call::UpdateMany(collection.into(), filter_pairs(filter), spec.clone());
        self.count_of(call).await
    }

    /// Deletes every record matching `filter` that the caller may delete, all or
    /// nothing. Returns how many were deleted.
    pub async fn delete_many(&self, collection: &str, filter: Option<Filter>) -> Result<u64> {
        let call = Call::DeleteMany(collection.into(), filter_pairs(filter));
        self.count_of(call).await
    }

    /// The `n` of a bulk write's `{"n": ...}` answer.
    async fn count_of(&self, call: Call) -> Result<u64> {
        let n: Value = self.sdk.call_as(call).await?;
        n["n"]
            .as_u64()
            .ok_or_else(|| Error::Decode(format!("expected {{\"n\": <count>}}, got {n}")))
    }

    /// Replaces every record of the collection (the admin key, and `save`
    /// switched on for the collection).
    pub async fn save_collection<T: DeserializeOwned>(
        &self,
        collection: &str,
        objects: &[impl Serialize],
    ) -> Result<Vec<Record<T>>> {
        let items = objects.iter().map(to_object).collect::<Result<Vec<_>>>()?;
        self.sdk
            .call_as(Call::SaveCollection(collection.into(), Value::Array(items)))
            .await
    }

    /// A collection's configuration (the admin key).
    pub async fn collection_config(&self, collection: &str) -> Result<CollectionConfig> {
        self.sdk
            .call_as(Call::GetCollectionConfig(collection.into()))
            .await
    }

    /// Sets a collection's configuration: schema, switches, id generator, upserts,
    /// indexes (the admin key).
    pub async fn set_collection_config(
        &self,
        collection: &str,
        config: &CollectionConfig,
    ) -> Result<CollectionConfig> {
        self.sdk
            .call_as(Call::SetCollectionConfig(
                collection.into(),
                to_object(config)?,
            ))
            .await
    }

    /// One record.
    pub async fn get_resource<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Record<T>> {
        self.sdk
            .call_as(Call::GetResource(collection.into(), id.into()))
            .await
    }

    /// Creates a record owned by the signed-in user.
    pub async fn create_resource<T: DeserializeOwned>(
        &self,
        collection: &str,
        data: &impl Serialize,
    ) -> Result<Record<T>> {
        self.sdk
            .call_as(Call::CreateResource(collection.into(), to_object(data)?))
            .await
    }

    /// Merges `data` into a record; a `null` value removes that field.
    pub async fn update_resource<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
        data: &impl Serialize,
    ) -> Result<Record<T>> {
        self.sdk
            .call_as(Call::UpdateResource(
                collection.into(),
                id.into(),
                to_object(data)?,
            ))
            .await
    }

    /// Replaces a record's fields with `data`.
    pub async fn overwrite_resource<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
        data: &impl Serialize,
    ) -> Result<Record<T>> {
        self.sdk
            .call_as(Call::OverwriteResource(
                collection.into(),
                id.into(),
                to_object(data)?,
            ))
            .await
    }

    /// Deletes a record and returns it as it was.
    pub async fn delete_resource<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Record<T>> {
        self.sdk
            .call_as(Call::DeleteResource(collection.into(), id.into()))
            .await
    }
}
