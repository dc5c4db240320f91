//! Storage: the `Store` trait every engine implements, and engine selection by URL.
//!
//! Writes that must be checked against what is stored (ownership, expected
//! version) are whole operations of the trait, so each engine does the check and
//! the write atomically.

pub mod postgres;
pub mod sql;
pub mod sqlite;

pub use sql::{FieldType, Layout};

use async_trait::async_trait;
use sdk_core::files::FileRecord;
use sdk_core::query::Filter;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Why a store operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No record with that id.
    #[error("not found")]
    NotFound,
    /// The email is already registered.
    #[error("email taken")]
    EmailTaken,
    /// The collection's rule does not let the caller change the record.
    #[error("not allowed by the rule")]
    NotOwner,
    /// The expected version does not match.
    #[error("version conflict: stored version is {0}")]
    VersionConflict(u64),
    /// The owner already has a file of that name.
    #[error("file exists")]
    FileExists,
    /// Too many writes are queued; the caller should retry.
    #[error("the write queue is full")]
    Busy,
    /// The write cannot apply as asked (the body says why, per field).
    #[error("{}", .0.message)]
    Rejected(sdk_core::ErrorBody),
    /// The query is well-formed but cannot run (e.g. `load` names no collection).
    #[error("{0}")]
    Query(sdk_core::query::QueryError),
    /// The disk is full: nothing was written.
    #[error("the disk is full")]
    Full,
    /// A read ran past its time limit (seconds) and was interrupted.
    #[error("the query ran over its {0} s limit")]
    TimedOut(u64),
    /// The engine failed.
    #[error("storage failure: {0}")]
    Engine(String),
}

/// What a collection read found.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// The page, as one JSON array text.
    Records(String),
    /// The number of matching records (`count`).
    Count(u64),
}

/// The writer's figures, as [`Records::write_stats`] reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Writes waiting for the writer.
    pub queued: u64,
    /// Transactions committed (group commits).
    pub groups: u64,
    /// Writes those transactions held.
    pub writes: u64,
}

/// The most records one bulk update or delete may touch.
pub const MAX_BULK: usize = 10_000;

/// An API key as `keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct KeyRow {
    /// The id.
    pub id: String,
    /// The name given at creation.
    pub name: String,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// Revocation time, Unix seconds.
    pub revoked_at: Option<u64>,
}

/// A user as the auth module needs it.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// The user's id.
    pub id: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// The normalized email.
    pub email: String,
    /// Registration time, Unix seconds.
    pub created_at: u64,
}

pub use sdk_core::record::Change;

/// One write of a batch computed from records as they were read: the record
/// `id`, still at `version`, replaced by `fields` (its system fields kept), or
/// deleted when `fields` is `None`.
#[derive(Debug, Clone)]
pub struct Versioned {
    /// The record's id.
    pub id: String,
    /// The version it was read at.
    pub version: u64,
    /// Its new fields, or `None` to delete it.
    pub fields: Option<Map<String, Value>>,
}

/// The collection of users' public profiles (the SoftUni mount's `users`): one
/// record per user, its `_id` the user's id, removed with the account.
pub const PROFILES: &str = "softuni_users";

/// New bytes for a file: the blob that holds them and what they are.
#[derive(Debug, Clone)]
pub struct FileBytes {
    /// The blob's name in the file store.
    pub blob: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Media type.
    pub content_type: String,
}

/// A check a write must pass on the record's application fields (the collection's
/// schema); it runs inside the write, on the record as it will be stored.
pub type Check =
    std::sync::Arc<dyn Fn(&Map<String, Value>) -> Result<(), sdk_core::ErrorBody> + Send + Sync>;

/// The storage engine behind the server: its records, its accounts and its
/// files' metadata. Every type that keeps all three is one.
pub trait Store: Records + Accounts + FileRecords {}

impl<T: Records + Accounts + FileRecords> Store for T {}

/// Files' metadata (the bytes live in a [`crate::files::FileStore`]).
#[async_trait]
pub trait FileRecords: Send + Sync + 'static {
    /// Adds a file's metadata; [`StoreError::FileExists`] if the owner has one of that name.
    async fn file_insert(&self, record: FileRecord, blob: String)
    -> Result<FileRecord, StoreError>;
    /// A file's metadata and blob name.
    async fn file_get(
        &self,
        user_id: &str,
        filename: &str,
    ) -> Result<Option<(FileRecord, String)>, StoreError>;
    /// A user's files, by name.
    async fn file_list(&self, user_id: &str) -> Result<Vec<FileRecord>, StoreError>;
    /// Points a file at new bytes; returns the new record and the old blob's name.
    async fn file_replace(
        &self,
        user_id: &str,
        filename: &str,
        bytes: FileBytes,
        now: String,
    ) -> Result<(FileRecord, String), StoreError>;
    /// Renames and refiles a file.
    async fn file_rename(
        &self,
        user_id: &str,
        filename: &str,
        new_filename: &str,
        bucket: &str,
        now: String,
    ) -> Result<FileRecord, StoreError>;
    /// Removes a file's metadata; returns it and its blob's name.
    async fn file_delete(
        &self,
        user_id: &str,
        filename: &str,
    ) -> Result<(FileRecord, String), StoreError>;
    /// Every blob some file names.
    async fn file_blobs(&self) -> Result<HashSet<String>, StoreError>;
}

/// Users, their sessions, and API keys.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Registers a user; fails with [`StoreError::EmailTaken`] if the email exists.
    async fn create_user(
        &self,
        id: &str,
        email: &str,
        password_hash: &str,
    ) -> Result<(), StoreError>;
    /// Finds a user by (normalized) email.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError>;
    /// Stores a session (by its token's hash) until `expires_at` (Unix seconds).
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: u64,
    ) -> Result<(), StoreError>;
    /// The user of a live session.
    async fn session_user(
        &self,
        token_hash: &str,
        now: u64,
    ) -> Result<Option<(String, u64)>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    /// Forgets what this process remembers of sessions another process ended:
    /// the session `token_hash`, or (with `user`) every session of `user` but
    /// `keep`. The next use asks the database.
    fn forget_sessions(&self, token_hash: Option<&str>, user: Option<&str>, keep: Option<&str>);
    /// Moves a live session's end to `expires_at` (sliding renewal).
    async fn renew_session(&self, token_hash: &str, expires_at: u64) -> Result<(), StoreError>;
    /// Stores an API key (its SHA-256 hash) under an id and a name.
    async fn create_key(&self, id: &str, name: &str, key_hash: &str) -> Result<(), StoreError>;
    /// Every API key: id, name, created (Unix seconds), revoked (Unix seconds).
    async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError>;
    /// Revokes a key and returns its hash; [`StoreError::NotFound`] for an unknown
    /// or revoked id.
    async fn revoke_key(&self, id: &str, now: u64) -> Result<String, StoreError>;
    /// Whether a key hash belongs to a live key.
    async fn key_live(&self, key_hash: &str) -> Result<bool, StoreError>;
    /// A user by id.
    async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError>;
    /// Every user, oldest first.
    async fn users(&self) -> Result<Vec<UserRow>, StoreError>;
    /// Sets a user's password hash and ends every other session of the user
    /// (all of them when `keep` is `None`).
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Deletes a user and every session of theirs; their records and files stay.
    async fn delete_user(&self, user_id: &str) -> Result<(), StoreError>;
}

/// Collections and their records.
#[async_trait]
#[allow(clippy::too_many_arguments)]
pub trait Records: Send + Sync + 'static {
    /// The write queue's state and what the writer has committed so far (for
    /// metrics); an engine without a queue of its own reports zeros.
    fn write_stats(&self) -> WriteStats {
        WriteStats::default()
    }

    /// Stores a collection's configuration (JSON text) and its layout: makes its
    /// declared indexes exist, dropping ones no longer declared, and types the
    /// fields the layout types wherever the stored records agree. From then on a
    /// write whose record holds a typed field of another type is rejected.
    async fn set_config(
        &self,
        name: &str,
        config: String,
        layout: Layout,
    ) -> Result<(), StoreError>;
    /// Whether a collection's layout is stored (a database made before layouts
    /// were kept has none until its configuration is set again).
    fn has_layout(&self, name: &str) -> bool;
    /// Every stored configuration: (collection, JSON text).
    async fn configs(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Declares a collection (it is listed only once it holds records).
    async fn declare_collection(&self, name: &str) -> Result<(), StoreError>;
    /// Names of the collections that hold records, sorted.
    async fn collections(&self) -> Result<Vec<String>, StoreError>;
    /// Whether a record was ever written to the collection (it may be empty now).
    async fn collection_written(&self, name: &str) -> Result<bool, StoreError>;
    /// A collection read: filter, sort, distinct, page, select, relations; all
    /// from one consistent snapshot. `load_guards[i]` is the read rule of the
    /// collection of `query.load[i]`: related records outside it load as `null`.
    async fn find(
        &self,
        collection: &str,
        query: sdk_core::query::FindQuery,
        page: u64,
        load_guards: Vec<Option<Filter>>,
    ) -> Result<Found, StoreError>;
    /// One record, as its stored JSON text.
    async fn get(&self, collection: &str, id: &str) -> Result<Option<String>, StoreError>;
    /// Inserts a complete record (system fields already set).
    async fn insert(
        &self,
        collection: &str,
        record: Map<String, Value>,
    ) -> Result<Value, StoreError>;
    /// Inserts complete records, all or nothing.
    async fn insert_many(
        &self,
        collection: &str,
        records: Vec<Map<String, Value>>,
    ) -> Result<Vec<Value>, StoreError>;
    /// Replaces every record of a collection with `records`, all or nothing;
    /// returns the records removed, as they were, and those written. A
    /// collection of more than [`MAX_BULK`] records is refused (each removal is
    /// broadcast, as a bulk delete's are).
    async fn replace_all(
        &self,
        collection: &str,
        records: Vec<Map<String, Value>>,
    ) -> Result<(Vec<Value>, Vec<Value>), StoreError>;
    /// Applies an update spec to every record matching `filter` (and `guard`,
    /// the caller's rule, when given), all or nothing; returns the records as written.
    /// More than [`MAX_BULK`] matches is refused.
    async fn update_many(
        &self,
        collection: &str,
        filter: Option<sdk_core::query::Filter>,
        guard: Option<Filter>,
        spec: sdk_core::update::UpdateSpec,
        now: String,
        check: Option<Check>,
    ) -> Result<Vec<Value>, StoreError>;
    /// Deletes every record matching `filter` (and `guard`, when given),
    /// all or nothing; returns them as they were.
    async fn delete_many(
        &self,
        collection: &str,
        filter: Option<sdk_core::query::Filter>,
        guard: Option<Filter>,
    ) -> Result<Vec<Value>, StoreError>;
    /// Changes a record that satisfies `guard` (the collection's update rule for the
    /// caller; any record with `None`); checks the expected version if given.
    async fn update(
        &self,
        collection: &str,
        id: &str,
        guard: Option<Filter>,
        expected_version: Option<u64>,
        change: Change,
        now: String,
        check: Option<Check>,
    ) -> Result<Value, StoreError>;
    /// Writes a batch computed from records as they were read (a scripted bulk
    /// write), all or nothing: each record must still satisfy `guard` and be at
    /// the version it was read at, else nothing is written and the answer is
    /// [`StoreError::VersionConflict`] (read again and retry). Returns the
    /// records as written, or as they were for deletes.
    async fn write_versioned(
        &self,
        collection: &str,
        guard: Option<Filter>,
        writes: Vec<Versioned>,
        now: String,
        check: Option<Check>,
    ) -> Result<Vec<Value>, StoreError>;
    /// Deletes a record that satisfies `guard` (any, for `None`) and returns it as it was.
    async fn delete(
        &self,
        collection: &str,
        id: &str,
        guard: Option<Filter>,
        expected_version: Option<u64>,
    ) -> Result<Value, StoreError>;
}

/// Opens the store `--database` names: PostgreSQL for a `postgres://` or
/// `postgresql://` URL, else the SQLite file `default_sqlite`.
pub async fn open_configured(
    database: Option<&str>,
    default_sqlite: &std::path::Path,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    match database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(std::sync::Arc::new(postgres::PgStore::open(url).await?))
        }
        Some(other) => Err(StoreError::Engine(format!(
            "no storage engine for --database '{}' (postgres://… or leave it out for SQLite)",
            other.split('@').next_back().unwrap_or_default()
        ))),
        None => open(&default_sqlite.to_string_lossy()),
    }
}

/// Puts each record's related record (`load`) into its shaped copy under the
/// relation's property: the one `related` holds for its foreign key when
/// `guard` (the related collection's read rule) lets it through, else `null`.
/// Both engines load the related records their own way and share this.
pub(crate) fn attach_related(
    shaped: &mut [Value],
    docs: &[Value],
    rel: &sdk_core::query::Relation,
    guard: Option<&Filter>,
    related: &std::collections::HashMap<String, Value>,
) {
    for (out, d) in shaped.iter_mut().zip(docs) {
        let v = sdk_core::query::get_path(d, &rel.foreign_key)
            .and_then(Value::as_str)
            .and_then(|k| related.get(k).cloned())
            .filter(|r| guard.is_none_or(|g| g.matches(r)))
            .unwrap_or(Value::Null);
        if let Value::Object(m) = out {
            m.insert(rel.property.clone(), v);
        }
    }
}

/// Opens the store a URL names. `sqlite:<path>` (or a bare path) is the embedded engine.
pub fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    if url.contains("://") && !url.starts_with("sqlite:") {
        return Err(StoreError::Engine(format!("no storage engine for '{url}'")));
    }
    Ok(std::sync::Arc::new(sqlite::SqliteStore::open(
        std::path::Path::new(path),
    )?))
}
