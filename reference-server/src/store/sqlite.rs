//! The embedded engine: one SQLite file in WAL mode.
//!
//! All writes go through one writer thread that commits them in groups: the
//! writes waiting when a transaction starts share it and its one fsync
//! (`synchronous=FULL`), and each is acknowledged only after that commit, so an
//! acknowledged write survives a crash and a power loss. Each write runs in its
//! own savepoint, so one failing write never undoes another. Reads run on a
//! small pool of read-only connections and never wait for the writer.

use super::sql::{FieldType, Layout, Sql};
use super::{Change, Check, FileBytes, Found, KeyRow, Store, StoreError, UserRow};
use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use sdk_core::files::FileRecord;
use sdk_core::query::{Filter, FindQuery, QueryError, get_path, project};
use sdk_core::record::{CREATED_AT, UPDATED_AT, VERSION};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// How many writes may wait for the writer before new ones are refused as busy.
const WRITE_QUEUE: usize = 8192;
/// The most writes one transaction takes.
const MAX_GROUP: usize = 512;
/// The most idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;
/// The longest a read may run on the blocking pool before it is interrupted.
pub const QUERY_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest a bulk write may search for its records on the writer thread
/// (every other write waits meanwhile).
const BULK_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);
/// How often, in SQLite steps, a running read checks its budget and deadline.
const CHECK_EVERY: std::ffi::c_int = 1_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    bucket TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    blob TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    v INTEGER NOT NULL,
    UNIQUE (user_id, filename)
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS collection_config (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    -- What the query compiler knows (`sql::Layout` as JSON): typed fields, indexes.
    layout TEXT
);
CREATE TABLE IF NOT EXISTS records (
    coll TEXT NOT NULL,
    id TEXT NOT NULL,
    -- The system fields as typed columns (also kept in `doc`), so indexes serve
    -- the latest records, 'my records' and counts without reading documents.
    owner TEXT,
    created TEXT,
    updated TEXT,
    v INTEGER NOT NULL DEFAULT 0,
    -- SQLite's binary JSON (JSONB): queries read fields without parsing text.
    doc BLOB NOT NULL,
    PRIMARY KEY (coll, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_created ON records(coll, created);
CREATE INDEX IF NOT EXISTS records_updated ON records(coll, updated);
CREATE INDEX IF NOT EXISTS records_owner ON records(coll, owner);
CREATE INDEX IF NOT EXISTS records_owner_created ON records(coll, owner, created);
-- Records per collection, so a count needs no scan.
CREATE TABLE IF NOT EXISTS record_counts (
    coll TEXT PRIMARY KEY,
    n INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS records_counted AFTER INSERT ON records BEGIN
    INSERT INTO record_counts (coll, n) VALUES (new.coll, 1)
    ON CONFLICT (coll) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS records_uncounted AFTER DELETE ON records BEGIN
    UPDATE record_counts SET n = n - 1 WHERE coll = old.coll;
END;
";

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;
type WriteFn<T> = Box<dyn FnOnce(&Connection) -> Result<T, StoreError> + Send>;

/// One queued write: applied inside the group's transaction, answered after commit.
trait Job: Send {
    fn apply(&mut self, conn: &Connection) -> bool;
    fn finish(self: Box<Self>, committed: bool);
}

struct WriteJob<T> {
    f: Option<WriteFn<T>>,
    result: Option<Result<T, StoreError>>,
    reply: Reply<T>,
}

impl<T: Send> Job for WriteJob<T> {
    fn apply(&mut self, conn: &Connection) -> bool {
        let r = match self.f.take() {
            Some(f) => f(conn),
            None => Err(StoreError::Engine("write applied twice".into())),
        };
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn finish(self: Box<Self>, committed: bool) {
        let r = match (committed, self.result) {
            (true, Some(r)) => r,
            (_, Some(Err(e))) => Err(e),
            _ => Err(StoreError::Engine("the transaction did not commit".into())),
        };
        // The caller may have gone away (client disconnected): nothing to tell then.
        let _ = self.reply.send(r);
    }
}

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    writer: SyncSender<Box<dyn Job>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    sessions: SessionCache,
    /// How long a read may run on the blocking pool.
    time_limit: std::time::Duration,
    /// How long a bulk write may search for its records on the writer.
    bulk_time_limit: std::time::Duration,
    /// What the compiler knows of each collection; the writer changes it, in
    /// the transaction that stores the configuration.
    layouts: Layouts,
}

/// Each collection's [`Layout`] (none: nothing typed, nothing declared).
type Layouts = Arc<std::sync::RwLock<std::collections::HashMap<String, Arc<Layout>>>>;

fn layout_of(layouts: &Layouts, coll: &str) -> Arc<Layout> {
    let map = match layouts.read() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.get(coll).cloned().unwrap_or_default()
}

/// Live sessions kept in memory, so a signed-in request does not query SQLite.
///
/// Every session write goes through this store, so the cache is exact. A lookup
/// that misses reads SQLite and fills the cache only if no session was deleted
/// meanwhile (the epoch is unchanged); a delete bumps the epoch and evicts both
/// before and after its commit, so a revoked token is refused at once.
#[derive(Default)]
struct SessionCache {
    map: Mutex<std::collections::HashMap<String, (String, u64)>>,
    epoch: std::sync::atomic::AtomicU64,
}

/// The most sessions kept in memory; beyond, the cache starts over.
const MAX_CACHED_SESSIONS: usize = 100_000;

impl SessionCache {
    fn get(&self, token_hash: &str, now: u64) -> Option<(String, u64)> {
        let map = self.map.lock().ok()?;
        map.get(token_hash)
            .filter(|(_, expires)| *expires > now)
            .cloned()
    }

    fn put(&self, token_hash: String, user: String, expires_at: u64, epoch: Option<u64>) {
        let Ok(mut map) = self.map.lock() else { return };
        if epoch.is_some_and(|e| e != self.epoch()) {
            return;
        }
        if map.len() >= MAX_CACHED_SESSIONS {
            map.clear();
        }
        map.insert(token_hash, (user, expires_at));
    }

    /// Drops every cached session of a user but `keep`.
    fn evict_user(&self, user: &str, keep: Option<&str>) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut map) = self.map.lock() {
            map.retain(|t, (u, _)| u != user || Some(t.as_str()) == keep);
        }
    }

    fn evict(&self, token_hash: &str) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut map) = self.map.lock() {
            map.remove(token_hash);
        }
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn engine(e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and starts the writer thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(engine)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;
             PRAGMA busy_timeout=5000; PRAGMA mmap_size=1073741824;",
        )
        .map_err(engine)?;
        super::sql::register_functions(&conn).map_err(engine)?;
        prepare_schema(&conn)?;
        let layouts = load_layouts(&conn)?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Box<dyn Job>>(WRITE_QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(engine)?;
        Ok(Self {
            path: path.to_owned(),
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
            sessions: SessionCache::default(),
            time_limit: QUERY_TIME_LIMIT,
            bulk_time_limit: BULK_TIME_LIMIT,
            layouts: Arc::new(std::sync::RwLock::new(layouts)),
        })
    }

    /// The same store with another time limit for reads and for bulk writes'
    /// searches.
    #[must_use]
    pub fn with_time_limit(mut self, limit: std::time::Duration) -> Self {
        self.time_limit = limit;
        self.bulk_time_limit = limit;
        self
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job = Box::new(WriteJob {
            f: Some(Box::new(f)),
            result: None,
            reply,
        });
        match self.writer.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(StoreError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(StoreError::Engine("the writer has stopped".into()));
            }
        }
        rx.await
            .map_err(|_| StoreError::Engine("the writer dropped the write".into()))?
    }

    /// Runs a point read (one row by its key) right here on the async thread when
    /// an open reader connection is free: from SQLite's page cache it takes a few
    /// microseconds, less than handing it to the blocking pool and back costs.
    /// Otherwise, as [`Self::read`].
    async fn read_point<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let Some(conn) = self.idle_reader() else {
            return self.read(f).await;
        };
        let r = f(&conn);
        self.put_back(conn);
        r
    }

    /// An open reader connection, if one is idle and the pool is not in use this
    /// very moment (the async thread never waits for the pool's lock).
    fn idle_reader(&self) -> Option<Connection> {
        self.readers.try_lock().ok().and_then(|mut pool| pool.pop())
    }

    /// Keeps a reader connection for the next read, up to [`MAX_IDLE_READERS`].
    fn put_back(&self, conn: Connection) {
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < MAX_IDLE_READERS
        {
            pool.push(conn);
        }
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let limit = self.time_limit;
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().map_err(engine)?.pop();
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let c = Connection::open_with_flags(
                        &path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(engine)?;
                    c.busy_timeout(std::time::Duration::from_secs(5))
                        .map_err(engine)?;
                    // The file mapped (up to 1 GiB): a scan reads pages from the
                    // kernel's cache, shared by all readers, without a system
                    // call per page; and each reader keeps 16 MiB of its own.
                    c.execute_batch("PRAGMA mmap_size=1073741824; PRAGMA cache_size=-16384")
                        .map_err(engine)?;
                    super::sql::register_functions(&c).map_err(engine)?;
                    c
                }
            };
            // A read that runs past the deadline is interrupted, not left to
            // hold a thread of the pool.
            let r = within(&conn, limit, || f(&conn));
            let mut pool = readers.lock().map_err(engine)?;
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
            r
        })
        .await
        .map_err(engine)?
    }
}

/// Runs `f` (reads only) on `conn`, interrupting it after `limit`:
/// [`StoreError::TimedOut`] then. An interrupted read leaves the transaction as it was.
fn within<T>(
    conn: &Connection,
    limit: std::time::Duration,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let deadline = std::time::Instant::now() + limit;
    let late = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = late.clone();
    conn.progress_handler(
        CHECK_EVERY,
        Some(move || {
            let stop = std::time::Instant::now() > deadline;
            if stop {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            stop
        }),
    );
    let r = f();
    conn.progress_handler(0, None::<fn() -> bool>);
    if late.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(StoreError::TimedOut(limit.as_secs()));
    }
    r
}

/// Makes the schema exist and brings a database made by an earlier version to
/// it, in one transaction: records made before the system columns move to the
/// table that has them (their declared indexes are made again on it, and the
/// counts taken as they move).
pub(crate) fn prepare_schema(conn: &Connection) -> Result<(), StoreError> {
    let has_column = |table: &str, column: &str| -> Result<bool, StoreError> {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
            params![table, column],
            |r| r.get(0),
        )
        .map_err(engine)
    };
    let has_table = |table: &str| -> Result<bool, StoreError> {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [table],
            |r| r.get(0),
        )
        .map_err(engine)
    };
    conn.execute_batch("BEGIN IMMEDIATE").map_err(engine)?;
    let r = (|| {
        let old = has_table("records")? && !has_column("records", "created")?;
        let mut declared: Vec<String> = Vec::new();
        if old {
            declared = conn
                .prepare(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' \
                     AND tbl_name = 'records' AND sql IS NOT NULL",
                )
                .and_then(|mut st| {
                    st.query_map([], |r| r.get(0))?
                        .collect::<Result<Vec<String>, _>>()
                })
                .map_err(engine)?;
            conn.execute_batch("ALTER TABLE records RENAME TO records_v1")
                .map_err(engine)?;
        }
        if has_table("collection_config")? && !has_column("collection_config", "layout")? {
            conn.execute_batch("ALTER TABLE collection_config ADD COLUMN layout TEXT")
                .map_err(engine)?;
        }
        conn.execute_batch(SCHEMA).map_err(engine)?;
        if old {
            let text = |f: &str| {
                format!(
                    "CASE WHEN json_type(doc,'$.{f}') = 'text' THEN json_extract(doc,'$.{f}') END"
                )
            };
            let moved = conn
                .execute(
                    &format!(
                        "INSERT INTO records (coll, id, owner, created, updated, v, doc) \
                         SELECT coll, id, {}, {}, {}, CASE WHEN json_type(doc,'$.__v') = 'integer' \
                         THEN json_extract(doc,'$.__v') ELSE 0 END, jsonb(doc) FROM records_v1",
                        text("userId"),
                        text("createdAt"),
                        text("updatedAt")
                    ),
                    [],
                )
                .map_err(engine)?;
            conn.execute_batch("DROP TABLE records_v1")
                .map_err(engine)?;
            for ix in &declared {
                conn.execute_batch(ix).map_err(engine)?;
            }
            tracing::info!(
                records = moved,
                "moved the records to the layout with system columns"
            );
        }
        fix_statistics(conn)
    })();
    match r {
        Ok(()) => conn.execute_batch("COMMIT").map_err(engine),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Gives SQLite's planner fixed statistics for the records table: many rows,
/// many per collection, few per value of any indexed field. Without statistics
/// it takes the primary key (one collection, in id order) over a declared index
/// whose equality picks a handful of rows, scanning the whole collection; with
/// measured ones, plans would change as data grows. Fixed ones make it choose
/// as the compiler plans ([`super::sql::find`]'s `inline`): the index whose
/// leading fields the filter pins. Run in the transaction that changes indexes,
/// so every connection loads them with the new schema.
fn fix_statistics(conn: &Connection) -> Result<(), StoreError> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1')",
            [],
            |r| r.get(0),
        )
        .map_err(engine)?;
    if !exists {
        // ANALYZE of a small table makes SQLite create its statistics table.
        conn.execute_batch("ANALYZE collections").map_err(engine)?;
    }
    let indexes: Vec<(String, i64)> = conn
        .prepare(
            "SELECT name, (SELECT count(*) FROM pragma_index_info(name)) FROM sqlite_master \
             WHERE type = 'index' AND tbl_name = 'records'",
        )
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(engine)?;
    conn.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'records'", [])
        .map_err(engine)?;
    // The primary key (coll, id): a million rows, ten thousand per collection.
    let mut rows = vec![("records".to_owned(), "1000000 10000 1".to_owned())];
    for (name, columns) in indexes {
        // (coll, a, b, ..): ten rows per value of the first field, one past it;
        // the owner indexes: a hundred records per user.
        let first = if name.starts_with("records_owner") {
            100
        } else {
            10
        };
        let mut stat = String::from("1000000 10000");
        for i in 1..columns {
            let _ = write!(stat, " {}", if i == 1 { first } else { 1 });
        }
        stat.push_str(" 1");
        rows.push((name, stat));
    }
    for (idx, stat) in rows {
        conn.execute(
            "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('records', ?1, ?2)",
            params![idx, stat],
        )
        .map_err(engine)?;
    }
    conn.execute_batch("ANALYZE sqlite_schema").map_err(engine)
}

/// The stored layouts, as the compiler and the writer need them.
fn load_layouts(
    conn: &Connection,
) -> Result<std::collections::HashMap<String, Arc<Layout>>, StoreError> {
    let mut st = conn
        .prepare("SELECT name, layout FROM collection_config WHERE layout IS NOT NULL")
        .map_err(engine)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(engine)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(engine)?;
    let mut out = std::collections::HashMap::new();
    for (name, text) in rows {
        let stored: StoredLayout = serde_json::from_str(&text).map_err(engine)?;
        out.insert(name, Arc::new(stored.into_layout()));
    }
    Ok(out)
}

/// A [`Layout`] as stored: fields by name, indexes as lists of field names.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct StoredLayout {
    types: std::collections::BTreeMap<String, FieldType>,
    indexes: Vec<Vec<String>>,
}

impl StoredLayout {
    fn of(layout: &Layout) -> Self {
        Self {
            types: layout.types.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            indexes: layout
                .indexes
                .iter()
                .map(|ix| ix.iter().map(ToString::to_string).collect())
                .collect(),
        }
    }

    fn into_layout(self) -> Layout {
        Layout {
            types: self.types.into_iter().collect(),
            indexes: self
                .indexes
                .into_iter()
                .map(|ix| {
                    ix.iter()
                        .filter_map(|f| sdk_core::query::Path::parse(f).ok())
                        .collect()
                })
                .collect(),
        }
    }
}

/// The typed columns of a record's system fields.
struct Columns {
    id: String,
    owner: Option<String>,
    created: Option<String>,
    updated: Option<String>,
    v: i64,
}

/// A record's system columns, checking that its system fields and typed fields
/// hold values of their types (the server sets the former; the schema check
/// before the write, the latter).
fn columns(rec: &Map<String, Value>, layout: &Layout) -> Result<Columns, StoreError> {
    use sdk_core::record::{ID, OWNER};
    let bad = |field: &str, problem: &str| {
        StoreError::Rejected(
            sdk_core::ErrorBody::new(
                sdk_core::ErrorCode::ValidationFailed,
                "the record does not match the collection's schema",
            )
            .with_field(field, problem),
        )
    };
    let text = |field: &str| -> Result<Option<String>, StoreError> {
        match rec.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(field, "a system field of another type")),
        }
    };
    for (name, t) in &layout.types {
        if let Some(v) = rec.get(name)
            && !t.admits(v)
        {
            return Err(bad(name, &format!("must be of type {t:?}").to_lowercase()));
        }
    }
    Ok(Columns {
        id: text(ID)?.ok_or_else(|| bad(ID, "a record has a string id"))?,
        owner: text(OWNER)?,
        created: text(CREATED_AT)?,
        updated: text(UPDATED_AT)?,
        v: match rec.get(VERSION) {
            None => 0,
            Some(v) => v
                .as_u64()
                .and_then(|n| i64::try_from(n).ok())
                .ok_or_else(|| bad(VERSION, "a system field of another type"))?,
        },
    })
}

pub(crate) const INSERT_RECORD: &str = "INSERT INTO records (coll, id, owner, created, updated, v, doc) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, jsonb(?7))";
const UPDATE_RECORD: &str = "UPDATE records SET owner = ?3, created = ?4, updated = ?5, v = ?6, \
                             doc = jsonb(?7) WHERE coll = ?1 AND id = ?2";

/// Writes a record's row with `statement` ([`INSERT_RECORD`] or [`UPDATE_RECORD`]).
pub(crate) fn put_record(
    c: &Connection,
    statement: &str,
    coll: &str,
    rec: Map<String, Value>,
    layout: &Layout,
) -> Result<Value, StoreError> {
    let cols = columns(&rec, layout)?;
    let doc = Value::Object(rec);
    c.prepare_cached(statement)
        .and_then(|mut st| {
            st.execute(params![
                coll,
                cols.id,
                cols.owner,
                cols.created,
                cols.updated,
                cols.v,
                doc.to_string()
            ])
        })
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Rejected(
                    sdk_core::ErrorBody::new(
                        sdk_core::ErrorCode::IdTaken,
                        format!("a record with id '{}' exists", cols.id),
                    )
                    .with_field(sdk_core::record::ID, "taken"),
                )
            }
            other => engine(other),
        })?;
    Ok(doc)
}

fn writer_loop(conn: Connection, rx: Receiver<Box<dyn Job>>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let committed = run_group(&conn, &mut group);
        for job in group {
            job.finish(committed);
        }
    }
    tracing::debug!("sqlite writer stopped");
}

fn run_group(conn: &Connection, group: &mut [Box<dyn Job>]) -> bool {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(%e, "could not begin a write transaction");
        return false;
    }
    for job in group.iter_mut() {
        let step = conn.execute_batch("SAVEPOINT w").and_then(|()| {
            if job.apply(conn) {
                conn.execute_batch("RELEASE w")
            } else {
                conn.execute_batch("ROLLBACK TO w; RELEASE w")
            }
        });
        if let Err(e) = step {
            tracing::error!(%e, "savepoint failed; abandoning the group");
            let _ = conn.execute_batch("ROLLBACK");
            return false;
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(%e, "commit failed");
            let _ = conn.execute_batch("ROLLBACK");
            false
        }
    }
}

fn load(conn: &Connection, coll: &str, id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT json(doc) FROM records WHERE coll = ?1 AND id = ?2",
            params![coll, id],
            |r| r.get(0),
        )
        .optional()
        .map_err(engine)?;
    match doc {
        None => Ok(None),
        Some(d) => match serde_json::from_str(&d).map_err(engine)? {
            Value::Object(m) => Ok(Some(m)),
            _ => Err(StoreError::Engine("stored record is not an object".into())),
        },
    }
}

/// Loads a record for a write, checking the caller's rule and the version.
fn load_owned(
    conn: &Connection,
    coll: &str,
    id: &str,
    guard: Option<&Filter>,
    expected: Option<u64>,
) -> Result<Map<String, Value>, StoreError> {
    let rec = load(conn, coll, id)?.ok_or(StoreError::NotFound)?;
    let rec = match guard {
        None => rec,
        Some(g) => {
            let doc = Value::Object(rec);
            if !g.matches(&doc) {
                return Err(StoreError::NotOwner);
            }
            let Value::Object(rec) = doc else {
                return Err(StoreError::Engine("a record is an object".into()));
            };
            rec
        }
    };
    let version = rec.get(VERSION).and_then(Value::as_u64).unwrap_or(0);
    if expected.is_some_and(|e| e != version) {
        return Err(StoreError::VersionConflict(version));
    }
    Ok(rec)
}

const FILE_COLUMNS: &str =
    "id, user_id, filename, bucket, size, content_type, sha256, created_at, updated_at, v, blob";

fn file_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(FileRecord, String)> {
    Ok((
        FileRecord {
            id: r.get(0)?,
            user_id: r.get(1)?,
            filename: r.get(2)?,
            bucket: r.get(3)?,
            size: r.get::<_, i64>(4)? as u64,
            content_type: r.get(5)?,
            sha256: r.get(6)?,
            created_at: r.get(7)?,
            updated_at: r.get(8)?,
            version: r.get::<_, i64>(9)? as u64,
        },
        r.get(10)?,
    ))
}

fn load_file(
    c: &Connection,
    user: &str,
    name: &str,
) -> Result<Option<(FileRecord, String)>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE user_id = ?1 AND filename = ?2"
    ))
    .and_then(|mut st| st.query_row(params![user, name], file_row).optional())
    .map_err(engine)
}

fn file_exists(c: &Connection, user: &str, name: &str) -> Result<bool, StoreError> {
    Ok(load_file(c, user, name)?.is_some())
}

fn save_file(c: &Connection, f: &FileRecord, blob: &str) -> Result<(), StoreError> {
    c.prepare_cached(&format!(
        "INSERT OR REPLACE INTO files ({FILE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))
    .and_then(|mut st| {
        st.execute(params![
            f.id,
            f.user_id,
            f.filename,
            f.bucket,
            f.size as i64,
            f.content_type,
            f.sha256,
            f.created_at,
            f.updated_at,
            f.version as i64,
            blob
        ])
    })
    .map_err(engine)?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn file_insert(
        &self,
        record: FileRecord,
        blob: String,
    ) -> Result<FileRecord, StoreError> {
        self.write(move |c| {
            if file_exists(c, &record.user_id, &record.filename)? {
                return Err(StoreError::FileExists);
            }
            save_file(c, &record, &blob)?;
            Ok(record)
        })
        .await
    }

    async fn file_get(
        &self,
        user_id: &str,
        filename: &str,
    ) -> Result<Option<(FileRecord, String)>, StoreError> {
        let (u, f) = (user_id.to_owned(), filename.to_owned());
        self.read(move |c| load_file(c, &u, &f)).await
    }

    async fn file_list(&self, user_id: &str) -> Result<Vec<FileRecord>, StoreError> {
        let u = user_id.to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE user_id = ?1 ORDER BY filename"
                ))
                .map_err(engine)?;
            let rows = st.query_map([u], file_row).map_err(engine)?;
            rows.map(|r| r.map(|(f, _)| f).map_err(engine)).collect()
        })
        .await
    }

    async fn file_replace(
        &self,
        user_id: &str,
        filename: &str,
        bytes: FileBytes,
        now: String,
    ) -> Result<(FileRecord, String), StoreError> {
        let (u, f) = (user_id.to_owned(), filename.to_owned());
        self.write(move |c| {
            let (mut rec, old) = load_file(c, &u, &f)?.ok_or(StoreError::NotFound)?;
            rec.size = bytes.size;
            rec.sha256 = bytes.sha256;
            rec.content_type = bytes.content_type;
            rec.updated_at = now;
            rec.version += 1;
            save_file(c, &rec, &bytes.blob)?;
            Ok((rec, old))
        })
        .await
    }

    async fn file_rename(
        &self,
        user_id: &str,
        filename: &str,
        new_filename: &str,
        bucket: &str,
        now: String,
    ) -> Result<FileRecord, StoreError> {
        let (u, f, nf, b) = (
            user_id.to_owned(),
            filename.to_owned(),
            new_filename.to_owned(),
            bucket.to_owned(),
        );
        self.write(move |c| {
            let (mut rec, blob) = load_file(c, &u, &f)?.ok_or(StoreError::NotFound)?;
            if nf != f && file_exists(c, &u, &nf)? {
                return Err(StoreError::FileExists);
            }
            rec.filename = nf;
            rec.bucket = b;
            rec.updated_at = now;
            rec.version += 1;
            save_file(c, &rec, &blob)?;
            Ok(rec)
        })
        .await
    }

    async fn file_delete(
        &self,
        user_id: &str,
        filename: &str,
    ) -> Result<(FileRecord, String), StoreError> {
        let (u, f) = (user_id.to_owned(), filename.to_owned());
        self.write(move |c| {
            let found = load_file(c, &u, &f)?.ok_or(StoreError::NotFound)?;
            c.execute("DELETE FROM files WHERE id = ?1", [&found.0.id])
                .map_err(engine)?;
            Ok(found)
        })
        .await
    }

    async fn file_blobs(&self) -> Result<HashSet<String>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare("SELECT blob FROM files").map_err(engine)?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(engine)?;
            rows.map(|r| r.map_err(engine)).collect()
        })
        .await
    }

    async fn create_user(
        &self,
        id: &str,
        email: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let (id, email, hash) = (id.to_owned(), email.to_owned(), password_hash.to_owned());
        self.write(move |c| {
            let taken: bool = c
                .query_row("SELECT 1 FROM users WHERE email = ?1", [&email], |_| {
                    Ok(true)
                })
                .optional()
                .map_err(engine)?
                .unwrap_or(false);
            if taken {
                return Err(StoreError::EmailTaken);
            }
            c.execute(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, email, hash, crate::clock::unix_now() as i64],
            )
            .map_err(engine)?;
            Ok(())
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        let email = email.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT id, password_hash, email, created_at FROM users WHERE email = ?1",
                [&email],
                user_row,
            )
            .optional()
            .map_err(engine)
        })
        .await
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let (t, u) = (token_hash.to_owned(), user_id.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![t, u, expires_at as i64],
            )
            .map_err(engine)?;
            Ok(())
        })
        .await?;
        self.sessions
            .put(token_hash.to_owned(), user_id.to_owned(), expires_at, None);
        Ok(())
    }

    async fn session_user(
        &self,
        token_hash: &str,
        now: u64,
    ) -> Result<Option<(String, u64)>, StoreError> {
        if let Some(found) = self.sessions.get(token_hash, now) {
            return Ok(Some(found));
        }
        let epoch = self.sessions.epoch();
        let t = token_hash.to_owned();
        let found: Option<(String, i64)> = self
            .read_point(move |c| {
                c.query_row(
                    "SELECT user_id, expires_at FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
                    params![t, now as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(engine)
            })
            .await?;
        Ok(found.map(|(user, expires)| {
            let expires = u64::try_from(expires).unwrap_or(0);
            self.sessions
                .put(token_hash.to_owned(), user.clone(), expires, Some(epoch));
            (user, expires)
        }))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.sessions.evict(token_hash);
        let t = token_hash.to_owned();
        let r = self
            .write(move |c| {
                c.execute("DELETE FROM sessions WHERE token_hash = ?1", [t])
                    .map_err(engine)?;
                Ok(())
            })
            .await;
        self.sessions.evict(token_hash);
        r
    }

    async fn create_key(&self, id: &str, name: &str, key_hash: &str) -> Result<(), StoreError> {
        let (id, name, hash) = (id.to_owned(), name.to_owned(), key_hash.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO api_keys (id, name, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, name, hash, crate::clock::unix_now() as i64],
            )
            .map_err(engine)?;
            Ok(())
        })
        .await
    }

    async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        self.read(|c| {
            let mut st = c
                .prepare(
                    "SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
                )
                .map_err(engine)?;
            let rows = st
                .query_map([], |r| {
                    Ok(KeyRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        revoked_at: r
                            .get::<_, Option<i64>>(3)?
                            .map(|t| u64::try_from(t).unwrap_or(0)),
                    })
                })
                .map_err(engine)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(engine)
        })
        .await
    }

    async fn revoke_key(&self, id: &str, now: u64) -> Result<String, StoreError> {
        let id = id.to_owned();
        self.write(move |c| {
            c.query_row(
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL \
                 RETURNING hash",
                params![id, now as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(engine)?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn key_live(&self, key_hash: &str) -> Result<bool, StoreError> {
        let h = key_hash.to_owned();
        self.read_point(move |c| {
            c.prepare_cached("SELECT 1 FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL")
                .and_then(|mut st| st.exists([h]))
                .map_err(engine)
        })
        .await
    }

    async fn renew_session(&self, token_hash: &str, expires_at: u64) -> Result<(), StoreError> {
        let t = token_hash.to_owned();
        let user: Option<String> = self
            .write(move |c| {
                c.query_row(
                    "UPDATE sessions SET expires_at = ?2 WHERE token_hash = ?1 RETURNING user_id",
                    params![t, expires_at as i64],
                    |r| r.get(0),
                )
                .optional()
                .map_err(engine)
            })
            .await?;
        if let Some(u) = user {
            self.sessions
                .put(token_hash.to_owned(), u, expires_at, None);
        }
        Ok(())
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT id, password_hash, email, created_at FROM users WHERE id = ?1",
                [&id],
                user_row,
            )
            .optional()
            .map_err(engine)
        })
        .await
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<(), StoreError> {
        let (u, h, k) = (
            user_id.to_owned(),
            password_hash.to_owned(),
            keep.map(str::to_owned),
        );
        self.sessions.evict_user(user_id, keep);
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                    params![u, h],
                )
                .map_err(engine)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            c.execute(
                "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2",
                params![u, k],
            )
            .map_err(engine)?;
            Ok(())
        })
        .await?;
        self.sessions.evict_user(user_id, keep);
        Ok(())
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), StoreError> {
        let u = user_id.to_owned();
        self.sessions.evict_user(user_id, None);
        self.write(move |c| {
            c.execute("DELETE FROM sessions WHERE user_id = ?1", [&u])
                .map_err(engine)?;
            c.execute("DELETE FROM users WHERE id = ?1", [&u])
                .map_err(engine)?;
            Ok(())
        })
        .await?;
        self.sessions.evict_user(user_id, None);
        Ok(())
    }

    async fn set_config(
        &self,
        name: &str,
        config: String,
        layout: Layout,
    ) -> Result<(), StoreError> {
        let name = name.to_owned();
        let layouts = self.layouts.clone();
        self.write(move |c| {
            // A field is typed only where every stored record agrees (records
            // made before the schema may not); writes keep it so from now on.
            let mut layout = layout;
            let fields: Vec<(String, FieldType)> =
                layout.types.iter().map(|(k, t)| (k.clone(), *t)).collect();
            if !fields.is_empty() {
                let checks = fields
                    .iter()
                    .map(|(f, t)| {
                        let p = sdk_core::query::Path::parse(f).map_err(engine)?;
                        Ok(format!(
                            "coalesce(max(json_type(doc,'{}') NOT IN {}), 0)",
                            p.json_path(),
                            t.json_types()
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?
                    .join(", ");
                let sql = format!("SELECT {checks} FROM records WHERE coll = ?1");
                let bad: Vec<bool> = c
                    .query_row(&sql, [&name], |r| {
                        (0..fields.len()).map(|i| r.get::<_, bool>(i)).collect()
                    })
                    .map_err(engine)?;
                for ((f, _), bad) in fields.iter().zip(bad) {
                    if bad {
                        tracing::info!(collection = %name, field = %f, "stored records hold other types: the field stays untyped");
                        layout.types.remove(f);
                    }
                }
            }
            let stored = serde_json::to_string(&StoredLayout::of(&layout)).map_err(engine)?;
            c.execute(
                "INSERT INTO collection_config (name, config, layout) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET config = excluded.config, layout = excluded.layout",
                params![name, config, stored],
            )
            .map_err(engine)?;
            let prefix = format!("rk_ix_{name}_");
            let mut wanted = Vec::new();
            for fields in &layout.indexes {
                let ix = super::sql::declared_index_name(&name, fields);
                let cols = fields
                    .iter()
                    .map(super::sql::index_column)
                    .collect::<Vec<_>>()
                    .join(", ");
                // The index's definition changed with the layout: make it again.
                let current: Option<String> = c
                    .query_row(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                        [&ix],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(engine)?;
                if current.is_some_and(|sql| !sql.contains(&cols)) {
                    c.execute_batch(&format!("DROP INDEX \"{ix}\""))
                        .map_err(engine)?;
                }
                c.execute_batch(&format!(
                    "CREATE INDEX IF NOT EXISTS \"{ix}\" ON records(coll, {cols})"
                ))
                .map_err(engine)?;
                wanted.push(ix);
            }
            let existing: Vec<String> = c
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'index' \
                     AND substr(name, 1, length(?1)) = ?1 AND length(name) = length(?1) + 16",
                )
                .and_then(|mut st| {
                    st.query_map([&prefix], |r| r.get(0))?
                        .collect::<Result<Vec<String>, _>>()
                })
                .map_err(engine)?;
            for ix in existing.iter().filter(|ix| !wanted.contains(ix)) {
                c.execute_batch(&format!("DROP INDEX IF EXISTS \"{ix}\""))
                    .map_err(engine)?;
            }
            fix_statistics(c)?;
            let mut map = match layouts.write() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            map.insert(name, Arc::new(layout));
            Ok(())
        })
        .await
    }

    fn has_layout(&self, name: &str) -> bool {
        let map = match self.layouts.read() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.contains_key(name)
    }

    async fn configs(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut st = c
                .prepare("SELECT name, config FROM collection_config ORDER BY name")
                .map_err(engine)?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(engine)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(engine)
        })
        .await
    }

    async fn declare_collection(&self, name: &str) -> Result<(), StoreError> {
        let n = name.to_owned();
        self.write(move |c| {
            c.execute("INSERT OR IGNORE INTO collections (name) VALUES (?1)", [n])
                .map_err(engine)?;
            Ok(())
        })
        .await
    }

    async fn find(
        &self,
        collection: &str,
        query: FindQuery,
        page: u64,
        load_guards: Vec<Option<Filter>>,
    ) -> Result<Found, StoreError> {
        let coll = collection.to_owned();
        let sql = super::sql::find(&coll, &query, page, &layout_of(&self.layouts, &coll));
        // An index serves the read: it visits a bounded number of rows, fewer
        // than handing it to the blocking pool and back costs.
        if sql.inline
            && let Some(conn) = self.idle_reader()
        {
            let r = find(
                &conn,
                &coll,
                &query,
                page,
                &sql,
                &load_guards,
                &self.layouts,
            );
            self.put_back(conn);
            return r;
        }
        let layouts = self.layouts.clone();
        self.read(move |c| find(c, &coll, &query, page, &sql, &load_guards, &layouts))
            .await
    }

    async fn collections(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut st = c
                .prepare_cached("SELECT coll FROM record_counts WHERE n > 0 ORDER BY coll")
                .map_err(engine)?;
            let rows = st.query_map([], |r| r.get(0)).map_err(engine)?;
            rows.collect::<Result<Vec<String>, _>>().map_err(engine)
        })
        .await
    }

    async fn get(&self, collection: &str, id: &str) -> Result<Option<String>, StoreError> {
        let (coll, id) = (collection.to_owned(), id.to_owned());
        self.read_point(move |c| {
            let mut st = c
                .prepare_cached("SELECT json(doc) FROM records WHERE coll = ?1 AND id = ?2")
                .map_err(engine)?;
            st.query_row(params![coll, id], |r| r.get(0))
                .optional()
                .map_err(engine)
        })
        .await
    }

    async fn insert(
        &self,
        collection: &str,
        record: Map<String, Value>,
    ) -> Result<Value, StoreError> {
        let coll = collection.to_owned();
        let layouts = self.layouts.clone();
        self.write(move |c| {
            put_record(c, INSERT_RECORD, &coll, record, &layout_of(&layouts, &coll))
        })
        .await
    }

    async fn insert_many(
        &self,
        collection: &str,
        records: Vec<Map<String, Value>>,
    ) -> Result<Vec<Value>, StoreError> {
        let coll = collection.to_owned();
        let layouts = self.layouts.clone();
        self.write(move |c| insert_records(c, &coll, records, &layout_of(&layouts, &coll)))
            .await
    }

    async fn replace_all(
        &self,
        collection: &str,
        records: Vec<Map<String, Value>>,
    ) -> Result<Vec<Value>, StoreError> {
        let coll = collection.to_owned();
        let layouts = self.layouts.clone();
        self.write(move |c| {
            c.execute("DELETE FROM records WHERE coll = ?1", [&coll])
                .map_err(engine)?;
            insert_records(c, &coll, records, &layout_of(&layouts, &coll))
        })
        .await
    }

    async fn update_many(
        &self,
        collection: &str,
        filter: Option<sdk_core::query::Filter>,
        guard: Option<Filter>,
        spec: sdk_core::update::UpdateSpec,
        now: String,
        check: Option<Check>,
    ) -> Result<Vec<Value>, StoreError> {
        let coll = collection.to_owned();
        let limit = self.bulk_time_limit;
        let layouts = self.layouts.clone();
        self.write(move |c| {
            let layout = layout_of(&layouts, &coll);
            let found = within(c, limit, || {
                matching(c, &coll, filter.as_ref(), guard.as_ref(), &layout)
            })?;
            let mut out = Vec::with_capacity(found.len());
            for (_, mut rec) in found {
                spec.apply(&mut rec).map_err(StoreError::Rejected)?;
                if let Some(check) = &check {
                    check(&rec).map_err(StoreError::Rejected)?;
                }
                bump(&mut rec, &now);
                out.push(put_record(c, UPDATE_RECORD, &coll, rec, &layout)?);
            }
            Ok(out)
        })
        .await
    }

    async fn delete_many(
        &self,
        collection: &str,
        filter: Option<sdk_core::query::Filter>,
        guard: Option<Filter>,
    ) -> Result<Vec<Value>, StoreError> {
        let coll = collection.to_owned();
        let limit = self.bulk_time_limit;
        let layouts = self.layouts.clone();
        self.write(move |c| {
            let layout = layout_of(&layouts, &coll);
            let found = within(c, limit, || {
                matching(c, &coll, filter.as_ref(), guard.as_ref(), &layout)
            })?;
            let mut st = c
                .prepare_cached("DELETE FROM records WHERE coll = ?1 AND id = ?2")
                .map_err(engine)?;
            let mut out = Vec::with_capacity(found.len());
            for (id, rec) in found {
                st.execute(params![coll, id]).map_err(engine)?;
                out.push(Value::Object(rec));
            }
            Ok(out)
        })
        .await
    }

    async fn update(
        &self,
        collection: &str,
        id: &str,
        guard: Option<Filter>,
        expected_version: Option<u64>,
        change: Change,
        now: String,
        check: Option<Check>,
    ) -> Result<Value, StoreError> {
        let (coll, id) = (collection.to_owned(), id.to_owned());
        let layouts = self.layouts.clone();
        self.write(move |c| {
            let mut rec = load_owned(c, &coll, &id, guard.as_ref(), expected_version)?;
            match change {
                Change::Merge(data) => {
                    for (k, v) in data {
                        if v.is_null() {
                            rec.shift_remove(&k);
                        } else {
                            rec.insert(k, v);
                        }
                    }
                }
                Change::Replace(data) => {
                    rec.retain(|k, _| sdk_core::record::is_system_field(k));
                    rec.extend(data);
                }
            }
            if let Some(check) = &check {
                check(&rec).map_err(StoreError::Rejected)?;
            }
            let version = rec.get(VERSION).and_then(Value::as_u64).unwrap_or(0) + 1;
            // Timestamps and version stay last, after the application's fields.
            for field in [CREATED_AT, UPDATED_AT, VERSION] {
                if let Some(v) = rec.shift_remove(field) {
                    rec.insert(field.into(), v);
                }
            }
            rec.insert(UPDATED_AT.into(), Value::String(now));
            rec.insert(VERSION.into(), Value::from(version));
            put_record(c, UPDATE_RECORD, &coll, rec, &layout_of(&layouts, &coll))
        })
        .await
    }

    async fn delete(
        &self,
        collection: &str,
        id: &str,
        guard: Option<Filter>,
        expected_version: Option<u64>,
    ) -> Result<Value, StoreError> {
        let (coll, id) = (collection.to_owned(), id.to_owned());
        self.write(move |c| {
            let rec = load_owned(c, &coll, &id, guard.as_ref(), expected_version)?;
            c.prepare_cached("DELETE FROM records WHERE coll = ?1 AND id = ?2")
                .and_then(|mut st| st.execute(params![coll, id]))
                .map_err(engine)?;
            Ok(Value::Object(rec))
        })
        .await
    }
}

fn insert_records(
    c: &Connection,
    coll: &str,
    records: Vec<Map<String, Value>>,
    layout: &Layout,
) -> Result<Vec<Value>, StoreError> {
    records
        .into_iter()
        .map(|record| put_record(c, INSERT_RECORD, coll, record, layout))
        .collect()
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        password_hash: r.get(1)?,
        email: r.get(2)?,
        created_at: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
    })
}

/// Stored records with their ids.
type Rows = Vec<(String, Map<String, Value>)>;

/// The records a bulk write touches: matching `filter`, owned by `owner` when given.
fn matching(
    c: &Connection,
    coll: &str,
    filter: Option<&Filter>,
    guard: Option<&Filter>,
    layout: &Layout,
) -> Result<Rows, StoreError> {
    let mut sql = super::sql::Sql::default();
    sql.text.push_str("SELECT id, json(doc) FROM records");
    let both = match (filter, guard) {
        (Some(f), Some(g)) => Some(Filter::And(vec![f.clone(), g.clone()])),
        (f, g) => f.or(g).cloned(),
    };
    super::sql::where_clause(&mut sql, coll, both.as_ref(), layout);
    sql.text
        .push_str(&format!(" ORDER BY id LIMIT {}", super::MAX_BULK + 1));
    let mut st = c.prepare(&sql.text).map_err(engine)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(engine)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(engine)?;
    if rows.len() > super::MAX_BULK {
        return Err(StoreError::Rejected(sdk_core::ErrorBody::new(
            sdk_core::ErrorCode::InvalidQuery,
            format!(
                "the filter matches more than {} records; narrow it",
                super::MAX_BULK
            ),
        )));
    }
    rows.into_iter()
        .map(|(id, d)| match serde_json::from_str(&d).map_err(engine)? {
            Value::Object(m) => Ok((id, m)),
            _ => Err(StoreError::Engine("stored record is not an object".into())),
        })
        .collect()
}

/// A write's bookkeeping: `__v` + 1, a new `updatedAt`, timestamps and version last.
fn bump(rec: &mut Map<String, Value>, now: &str) {
    let version = rec.get(VERSION).and_then(Value::as_u64).unwrap_or(0) + 1;
    rec.insert(UPDATED_AT.into(), Value::String(now.to_owned()));
    rec.insert(VERSION.into(), Value::from(version));
    for field in [CREATED_AT, UPDATED_AT, VERSION] {
        if let Some(v) = rec.shift_remove(field) {
            rec.insert(field.into(), v);
        }
    }
}

fn collection_known(c: &Connection, name: &str) -> Result<bool, StoreError> {
    c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM collections WHERE name = ?1) \
         OR EXISTS (SELECT 1 FROM records WHERE coll = ?1)",
    )
    .and_then(|mut st| st.query_row([name], |r| r.get(0)))
    .map_err(engine)
}

fn find(
    c: &Connection,
    coll: &str,
    q: &FindQuery,
    page: u64,
    sql: &Sql,
    load_guards: &[Option<Filter>],
    layouts: &Layouts,
) -> Result<Found, StoreError> {
    // With relations, one read transaction gives the page and the related
    // records from one snapshot; a lone statement is a snapshot by itself.
    let _snapshot = if q.load.is_empty() && sql.assumes_set.is_empty() {
        None
    } else {
        Some(c.unchecked_transaction().map_err(engine)?)
    };
    // The compiled read may take every record's time stamps to be set (the
    // server sets them): an index seek tells, and a collection where one is
    // missing gets the read that does not assume it.
    let exact;
    let mut sql = sql;
    for col in &sql.assumes_set {
        let missing: bool = c
            .prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM records WHERE coll = ?1 AND {col} IS NULL)"
            ))
            .and_then(|mut st| st.query_row([coll], |r| r.get(0)))
            .map_err(engine)?;
        if missing {
            exact = super::sql::find_exact(coll, q, page, &layout_of(layouts, coll));
            sql = &exact;
            break;
        }
    }
    for r in &q.load {
        if !collection_known(c, &r.collection)? {
            return Err(StoreError::Query(QueryError::new(
                "load",
                format!("there is no collection '{}'", r.collection),
            )));
        }
    }
    let mut st = c.prepare_cached(&sql.text).map_err(engine)?;
    let params = rusqlite::params_from_iter(sql.params.iter());
    if q.count {
        let n: i64 = st.query_row(params, |r| r.get(0)).map_err(engine)?;
        return Ok(Found::Count(u64::try_from(n).unwrap_or(0)));
    }
    if q.select.is_none() && q.load.is_empty() {
        // Records as stored, straight into the answer's JSON array.
        let mut out = String::with_capacity(4096);
        out.push('[');
        let mut rows = st.query(params).map_err(engine)?;
        while let Some(row) = rows.next().map_err(engine)? {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(
                row.get_ref(0)
                    .and_then(|v| v.as_str().map_err(Into::into))
                    .map_err(engine)?,
            );
        }
        out.push(']');
        return Ok(Found::Records(out));
    }
    let docs = st
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(engine)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(engine)?;
    let full = docs
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).map_err(engine))
        .collect::<Result<Vec<Value>, _>>()?;
    let mut shaped: Vec<Value> = match &q.select {
        Some(sel) => full.iter().map(|d| project(d, sel)).collect(),
        None => full.clone(),
    };
    for (i, rel) in q.load.iter().enumerate() {
        let guard = load_guards.get(i).cloned().flatten();
        let keys: Vec<&str> = full
            .iter()
            .filter_map(|d| get_path(d, &rel.foreign_key).and_then(Value::as_str))
            .collect();
        let related = load_many(c, &rel.collection, &keys)?;
        for (out, d) in shaped.iter_mut().zip(&full) {
            let v = get_path(d, &rel.foreign_key)
                .and_then(Value::as_str)
                .and_then(|k| related.get(k).cloned())
                .filter(|r| guard.as_ref().is_none_or(|g| g.matches(r)))
                .unwrap_or(Value::Null);
            if let Value::Object(m) = out {
                m.insert(rel.property.clone(), v);
            }
        }
    }
    serde_json::to_string(&shaped)
        .map(Found::Records)
        .map_err(engine)
}

fn load_many(
    c: &Connection,
    coll: &str,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, Value>, StoreError> {
    let mut out = std::collections::HashMap::new();
    let mut st = c
        .prepare_cached("SELECT json(doc) FROM records WHERE coll = ?1 AND id = ?2")
        .map_err(engine)?;
    for id in ids {
        if out.contains_key(*id) {
            continue;
        }
        let doc: Option<String> = st
            .query_row(params![coll, id], |r| r.get(0))
            .optional()
            .map_err(engine)?;
        if let Some(d) = doc {
            out.insert((*id).to_owned(), serde_json::from_str(&d).map_err(engine)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str, owner: &str) -> Map<String, Value> {
        let v = json!({"_id": id, "userId": owner, "createdAt": "t", "updatedAt": "t", "__v": 0, "a": 1});
        v.as_object().cloned().unwrap_or_default()
    }

    /// SQLite's plan for a read as the store compiles it now.
    fn plan(store: &SqliteStore, path: &Path, coll: &str, q: &FindQuery) -> (bool, String) {
        let conn = Connection::open(path).expect("conn");
        crate::store::sql::register_functions(&conn).expect("functions");
        let sql = crate::store::sql::find(coll, q, 30, &layout_of(&store.layouts, coll));
        let mut st = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
            .expect("explain");
        let rows = st
            .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
                r.get::<_, String>(3)
            })
            .expect("plan");
        let text = rows.map(|r| r.expect("row")).collect::<Vec<_>>().join("; ");
        (sql.inline, text)
    }

    fn query(pairs: &[(&str, &str)]) -> FindQuery {
        FindQuery::from_pairs(pairs.iter().copied()).expect("query")
    }

    #[tokio::test]
    async fn declared_indexes_serve_filtered_and_sorted_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let store = SqliteStore::open(&path).expect("open");
        for i in 0..200 {
            let mut r = record(&format!("id{i:03}"), "u");
            r.insert("age".into(), json!(i % 50));
            store.insert("people", r).await.expect("insert");
        }
        let q = query(&[("where", "age >= 30"), ("sortBy", "age")]);
        let (inline, before) = plan(&store, &path, "people", &q);
        assert!(!before.contains("rk_ix_") && !inline, "{before}");
        let age = sdk_core::query::Path::parse("age").expect("path");
        let typed = Layout {
            types: [("age".to_owned(), FieldType::Number)]
                .into_iter()
                .collect(),
            indexes: vec![vec![age]],
        };
        store
            .set_config("people", "{}".into(), typed.clone())
            .await
            .expect("index");
        let (inline, after) = plan(&store, &path, "people", &q);
        assert!(after.contains("USING INDEX rk_ix_people_"), "{after}");
        assert!(
            !after.contains("TEMP B-TREE"),
            "sorted by the index: {after}"
        );
        assert!(inline, "an index seek runs inline");
        let (inline, eq) = plan(&store, &path, "people", &query(&[("where", "age = 30")]));
        assert!(eq.contains("USING INDEX rk_ix_people_") && inline, "{eq}");
        // A typed field refuses another type, and nothing is written.
        let mut wrong = record("wrong", "u");
        wrong.insert("age".into(), json!("thirty"));
        let refused = store.insert("people", wrong).await;
        assert!(
            matches!(&refused, Err(StoreError::Rejected(body)) if body.code == sdk_core::ErrorCode::ValidationFailed),
            "{refused:?}"
        );
        assert_eq!(store.get("people", "wrong").await.expect("get"), None);
        // Declared no more, the index goes.
        store
            .set_config("people", "{}".into(), Layout::default())
            .await
            .expect("drop");
        assert!(!plan(&store, &path, "people", &q).1.contains("rk_ix_"));
        assert_eq!(
            store.configs().await.expect("configs"),
            vec![("people".to_owned(), "{}".to_owned())]
        );
        // A field some stored record holds with another type stays untyped.
        let mut odd = record("odd", "u");
        odd.insert("age".into(), json!("old"));
        store.insert("people", odd).await.expect("insert");
        store
            .set_config("people", "{}".into(), typed)
            .await
            .expect("config");
        assert!(layout_of(&store.layouts, "people").types.is_empty());
    }

    #[tokio::test]
    async fn the_reads_apps_run_most_are_index_seeks_and_run_inline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let store = SqliteStore::open(&path).expect("open");
        let many: Vec<_> = (0..500)
            .map(|i| record(&format!("id{i:03}"), if i % 2 == 0 { "u1" } else { "u2" }))
            .collect();
        store.insert_many("m", many).await.expect("insert");
        for pairs in [
            &[("sortBy", "createdAt desc"), ("pageSize", "30")][..],
            &[("sortBy", "_id desc")],
            &[("sortBy", "updatedAt desc")],
            &[],
            &[("where", "userId = \"u1\""), ("sortBy", "createdAt desc")],
            &[("where", "userId = \"u1\"")],
            &[
                ("where", "userId = \"u1\" AND createdAt > \"s\""),
                ("sortBy", "createdAt"),
            ],
            &[("where", "createdAt < \"u\""), ("sortBy", "createdAt desc")],
            &[("where", "_id > \"id100\"")],
            &[("count", "true")],
        ] {
            let q = query(pairs);
            let (inline, text) = plan(&store, &path, "m", &q);
            assert!(inline, "{pairs:?}: {text}");
            assert!(
                !text.contains("SCAN records") && !text.contains("TEMP B-TREE"),
                "{pairs:?}: {text}"
            );
        }
        // The next page after a cursor is one range of an index, however deep.
        let after = ("after", r#"["t","id250"]"#);
        for pairs in [
            &[("sortBy", "createdAt desc"), ("pageSize", "30"), after][..],
            &[("sortBy", "createdAt"), after],
            &[("after", r#"["id250"]"#)],
            &[("sortBy", "_id desc"), ("after", r#"["id250","id250"]"#)],
            &[
                ("where", "userId = \"u1\""),
                ("sortBy", "createdAt desc"),
                after,
            ],
        ] {
            let (inline, text) = plan(&store, &path, "m", &query(pairs));
            assert!(inline, "{pairs:?}: {text}");
            assert!(
                text.contains("id)<(")
                    || text.contains("id)>(")
                    || text.contains("id<?")
                    || text.contains("id>?"),
                "{pairs:?}: {text}"
            );
            assert!(!text.contains("TEMP B-TREE"), "{pairs:?}: {text}");
        }
        for pairs in [
            &[("where", "a = 1")][..],
            &[("where", "userId = \"u1\""), ("sortBy", "a")],
            &[("sortBy", "createdAt desc, _id")],
            &[("where", "userId = \"u1\""), ("count", "true")],
            &[("sortBy", "createdAt"), ("offset", "5000")],
        ] {
            assert!(!plan(&store, &path, "m", &query(pairs)).0, "{pairs:?}");
        }
        let Found::Count(n) = store
            .find("m", query(&[("count", "true")]), 30, Vec::new())
            .await
            .expect("count")
        else {
            panic!("a count");
        };
        assert_eq!(n, 500);
        store
            .delete_many("m", query(&[("where", "userId = \"u2\"")]).filter, None)
            .await
            .expect("delete");
        let Found::Count(n) = store
            .find("m", query(&[("count", "true")]), 30, Vec::new())
            .await
            .expect("count")
        else {
            panic!("a count");
        };
        assert_eq!(n, 250, "counts follow deletes");
    }

    #[tokio::test]
    async fn a_database_of_the_earlier_layout_is_moved_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        {
            // The layout before system columns: documents only, some as JSON text.
            let c = Connection::open(&path).expect("open");
            c.execute_batch(
                "CREATE TABLE collection_config (name TEXT PRIMARY KEY, config TEXT NOT NULL);
                 CREATE TABLE records (coll TEXT NOT NULL, id TEXT NOT NULL, doc BLOB NOT NULL,
                     PRIMARY KEY (coll, id)) WITHOUT ROWID;
                 CREATE INDEX rk_ix_m_0123456789abcdef ON records(coll, json_extract(doc,'$.n'));
                 INSERT INTO collection_config VALUES ('m', '{\"indexes\":[[\"n\"]]}');",
            )
            .expect("old schema");
            for i in 0..30 {
                let doc = json!({"_id": format!("id{i:02}"), "userId": format!("u{}", i % 3),
                    "n": i, "createdAt": format!("2020-01-01T00:00:{i:02}.000Z"),
                    "updatedAt": "2020-01-02T00:00:00.000Z", "__v": 1});
                let sql = if i % 2 == 0 {
                    "INSERT INTO records VALUES ('m', ?1, jsonb(?2))"
                } else {
                    "INSERT INTO records VALUES ('m', ?1, ?2)"
                };
                c.execute(sql, params![format!("id{i:02}"), doc.to_string()])
                    .expect("old record");
            }
        }
        let store = SqliteStore::open(&path).expect("open moves the records");
        let Found::Records(page) = store
            .find(
                "m",
                query(&[
                    ("where", "userId = \"u1\""),
                    ("sortBy", "createdAt desc"),
                    ("pageSize", "2"),
                ]),
                2,
                Vec::new(),
            )
            .await
            .expect("find")
        else {
            panic!("records");
        };
        let page: Vec<Value> = serde_json::from_str(&page).expect("json");
        let ids: Vec<_> = page.iter().map(|r| r["_id"].clone()).collect();
        assert_eq!(ids, vec![json!("id28"), json!("id25")]);
        assert!(matches!(
            store
                .find("m", query(&[("count", "true")]), 30, Vec::new())
                .await,
            Ok(Found::Count(30))
        ));
        assert_eq!(
            store.collections().await.expect("list"),
            vec!["m".to_owned()]
        );
        let c = Connection::open(&path).expect("conn");
        let kept: bool = c
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'rk_ix_m_0123456789abcdef' AND tbl_name = 'records')",
                [],
                |r| r.get(0),
            )
            .expect("index");
        assert!(kept, "the declared index is made again");
        // Its layout is not known until the configuration is set again (the
        // server does so at start).
        assert!(!store.has_layout("m"));
        let n = sdk_core::query::Path::parse("n").expect("path");
        let layout = Layout {
            types: [("n".to_owned(), FieldType::Number)].into_iter().collect(),
            indexes: vec![vec![n]],
        };
        store
            .set_config("m", r#"{"indexes":[["n"]]}"#.into(), layout)
            .await
            .expect("lay out");
        // Opening again changes nothing.
        drop(store);
        let store = SqliteStore::open(&path).expect("reopen");
        assert!(store.has_layout("m"));
        assert!(matches!(
            store
                .find("m", query(&[("count", "true")]), 30, Vec::new())
                .await,
            Ok(Found::Count(30))
        ));
    }

    #[tokio::test]
    async fn a_read_past_its_time_limit_is_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("db.sqlite"))
            .expect("open")
            .with_time_limit(std::time::Duration::from_millis(200));
        let started = std::time::Instant::now();
        // Counting to ten billion would take minutes.
        let r = store
            .read(|c| {
                c.query_row(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                     WHERE i < 10000000000) SELECT count(*) FROM n",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(engine)
            })
            .await;
        assert!(matches!(r, Err(StoreError::TimedOut(_))), "{r:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // The connection is fine for the next read.
        let one = store
            .read(|c| {
                c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                    .map_err(engine)
            })
            .await;
        assert_eq!(one.ok(), Some(1));
    }

    /// 20,000 records `id00000`.. with `n` from 0, in `nums`.
    async fn seed_numbers(store: &SqliteStore) {
        let many: Vec<_> = (0..20_000)
            .map(|i| {
                let mut r = record(&format!("id{i:05}"), "u");
                r.insert("n".into(), json!(i));
                r
            })
            .collect();
        store.insert_many("nums", many).await.expect("insert");
    }

    #[tokio::test]
    async fn a_bulk_write_that_searches_too_long_writes_nothing_and_frees_the_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("db.sqlite"))
            .expect("open")
            .with_time_limit(std::time::Duration::from_millis(1));
        seed_numbers(&store).await;
        let filter = || {
            FindQuery::from_pairs([("where", "n >= 19990")])
                .expect("query")
                .filter
        };
        let spec =
            sdk_core::update::UpdateSpec::parse(&json!({"$set": {"hit": true}})).expect("spec");
        let r = store
            .update_many("nums", filter(), None, spec, "now".into(), None)
            .await;
        assert!(matches!(r, Err(StoreError::TimedOut(_))), "{r:?}");
        let r = store.delete_many("nums", filter(), None).await;
        assert!(matches!(r, Err(StoreError::TimedOut(_))), "{r:?}");
        // Nothing was written, and the writer goes on.
        let kept = store
            .get("nums", "id19995")
            .await
            .expect("get")
            .expect("kept");
        assert!(!kept.contains("hit"), "{kept}");
        store
            .insert_many("nums", vec![record("after", "u")])
            .await
            .expect("the next write");
    }

    #[tokio::test]
    async fn an_unindexed_read_runs_once_on_the_blocking_pool() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).expect("open");
        seed_numbers(&store).await;
        store.get("nums", "id00000").await.expect("get");
        // An unindexed filter over 20,000 records is not run inline...
        let q =
            FindQuery::from_pairs([("where", "n >= 19990"), ("sortBy", "n desc")]).expect("query");
        assert!(!crate::store::sql::find("nums", &q, 100, &Layout::default()).inline);
        let Found::Records(page) = store.find("nums", q, 100, Vec::new()).await.expect("find")
        else {
            panic!("records expected");
        };
        let page: Vec<Value> = serde_json::from_str(&page).expect("json");
        let ns: Vec<_> = page.iter().map(|r| r["n"].clone()).collect();
        assert_eq!(
            ns,
            (19990..20_000).rev().map(|n| json!(n)).collect::<Vec<_>>()
        );
        // ...a count of them all is kept; the connection is usable afterwards.
        let q = FindQuery::from_pairs([("count", "true")]).expect("query");
        assert!(matches!(
            store.find("nums", q, 100, Vec::new()).await.expect("count"),
            Found::Count(20_000)
        ));
        assert!(store.get("nums", "id19999").await.expect("get").is_some());
    }

    #[tokio::test]
    async fn concurrent_writes_share_commits_and_all_land() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).expect("open"));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.insert("m", record(&format!("id{i:03}"), "u")).await
            }));
        }
        for t in tasks {
            t.await.expect("join").expect("insert");
        }
        let all: Vec<Value> = match store
            .find("m", FindQuery::new(), 1000, Vec::new())
            .await
            .expect("find")
        {
            Found::Records(t) => serde_json::from_str(&t).expect("json"),
            other => panic!("{other:?}"),
        };
        assert_eq!(all.len(), 200);
        assert_eq!(
            store.collections().await.expect("collections"),
            vec!["m".to_owned()]
        );
    }

    #[tokio::test]
    async fn a_failing_write_does_not_undo_its_neighbours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).expect("open"));
        store.insert("m", record("dup", "u")).await.expect("first");
        let (a, b, c) = tokio::join!(
            store.insert("m", record("x1", "u")),
            store.insert("m", record("dup", "u")),
            store.insert("m", record("x2", "u")),
        );
        assert!(a.is_ok() && b.is_err() && c.is_ok());
        let all: Vec<Value> = match store
            .find("m", FindQuery::new(), 10, Vec::new())
            .await
            .expect("find")
        {
            Found::Records(t) => serde_json::from_str(&t).expect("json"),
            other => panic!("{other:?}"),
        };
        assert_eq!(all.len(), 3);
    }

    #[tokio::test]
    async fn writes_check_owner_and_version_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).expect("open");
        store
            .insert("m", record("r", "alice"))
            .await
            .expect("insert");
        let merge = || {
            Change::Merge(
                json!({"b": 2, "a": null})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            )
        };
        let e = store
            .update(
                "m",
                "r",
                Some(Filter::eq("userId", "bob")),
                None,
                merge(),
                "t2".into(),
                None,
            )
            .await
            .expect_err("bob");
        assert!(matches!(e, StoreError::NotOwner));
        let e = store
            .update(
                "m",
                "r",
                Some(Filter::eq("userId", "alice")),
                Some(5),
                merge(),
                "t2".into(),
                None,
            )
            .await
            .expect_err("v");
        assert!(matches!(e, StoreError::VersionConflict(0)));
        let v = store
            .update(
                "m",
                "r",
                Some(Filter::eq("userId", "alice")),
                Some(0),
                merge(),
                "t2".into(),
                None,
            )
            .await
            .expect("ok");
        assert_eq!(v["__v"], 1);
        assert_eq!(v["b"], 2);
        assert!(v.get("a").is_none());
        assert_eq!(v["createdAt"], "t");
        let d = store
            .delete("m", "r", Some(Filter::eq("userId", "alice")), None)
            .await
            .expect("delete");
        assert_eq!(d["__v"], 1);
        assert!(store.get("m", "r").await.expect("get").is_none());
    }
}
