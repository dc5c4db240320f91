//! The embedded engine: one SQLite file in WAL mode.
//!
//! All writes go through one writer thread that commits them in groups: the
//! writes waiting when a transaction starts share it and its one fsync
//! (`synchronous=FULL`), and each is acknowledged only after that commit, so an
//! acknowledged write survives a crash and a power loss. Each write runs in its
//! own savepoint, so one failing write never undoes another. Reads run on a
//! small pool of read-only connections and never wait for the writer.

use super::sql::{FieldType, Layout, Sql};
use super::{
    Accounts, Change, Check, FileBytes, FileRecords, Found, KeyRow, Records, StoreError, UserRow,
    Versioned,
};
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

pub(crate) mod accounts;
mod files;
pub mod in_memory;
mod pool;
pub(crate) mod records;
pub(crate) mod schema;
#[cfg(test)]
mod tests;
mod writer;

use accounts::*;
use pool::*;
use records::*;
pub(crate) use records::{Put, put_record};
pub(crate) use schema::prepare_schema;
use schema::*;
use writer::*;

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

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    writer: SyncSender<Box<dyn Job>>,
    counters: Arc<Counters>,
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

/// A failure of the engine as the store reports it: a full disk as
/// [`StoreError::Full`], anything else as [`StoreError::Engine`].
fn engine<E: std::fmt::Display + 'static>(e: E) -> StoreError {
    match (&e as &dyn std::any::Any).downcast_ref::<rusqlite::Error>() {
        Some(e) if disk_full(e) => StoreError::Full,
        _ => StoreError::Engine(e.to_string()),
    }
}

/// Whether SQLite failed because the disk is full (`SQLITE_FULL`).
fn disk_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and starts the writer thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(engine)?;
        // temp_store=MEMORY keeps the writer's per-job savepoint journal in
        // memory, emptied as each savepoint is released. SQLite's default spills
        // it to a temporary file past 64 KiB and then keeps it for the rest of
        // the group: every page a job touched was written there once more.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;
             PRAGMA busy_timeout=5000; PRAGMA mmap_size=1073741824; PRAGMA temp_store=MEMORY;",
        )
        .map_err(engine)?;
        super::sql::register_functions(&conn).map_err(engine)?;
        prepare_schema(&conn)?;
        let (mut layouts, unfilled) = load_layouts(&conn)?;
        if !unfilled.is_empty() {
            // Layouts stored before property columns: give them columns now.
            conn.execute_batch("BEGIN IMMEDIATE").map_err(engine)?;
            let filled = unfilled.iter().try_for_each(|name| {
                let stored = layouts.get(name).map(|l| (**l).clone()).unwrap_or_default();
                let layout = store_layout(&conn, name, None, stored, None)?;
                layouts.insert(name.clone(), Arc::new(layout));
                Ok::<(), StoreError>(())
            });
            match filled {
                Ok(()) => conn.execute_batch("COMMIT").map_err(engine)?,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Box<dyn Job>>(WRITE_QUEUE);
        let counters = Arc::new(Counters::default());
        let theirs = counters.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, theirs))
            .map_err(engine)?;
        Ok(Self {
            path: path.to_owned(),
            writer: tx,
            counters,
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
}

#[async_trait]
impl Records for SqliteStore {
    fn write_stats(&self) -> crate::store::WriteStats {
        use std::sync::atomic::Ordering::Relaxed;
        crate::store::WriteStats {
            queued: self.counters.queued.load(Relaxed),
            groups: self.counters.groups.load(Relaxed),
            writes: self.counters.writes.load(Relaxed),
        }
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
            let previous = layout_of(&layouts, &name);
            let layout = store_layout(c, &name, Some(&config), layout, Some(&previous))?;
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

    async fn collection_written(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.read(move |c| {
            c.prepare_cached("SELECT 1 FROM record_counts WHERE coll = ?1")
                .and_then(|mut st| st.exists([&name]))
                .map_err(engine)
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
        self.write(move |c| put_record(c, Put::Insert, &coll, record, &layout_of(&layouts, &coll)))
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
    ) -> Result<(Vec<Value>, Vec<Value>), StoreError> {
        let coll = collection.to_owned();
        let limit = self.bulk_time_limit;
        let layouts = self.layouts.clone();
        self.write(move |c| {
            let layout = layout_of(&layouts, &coll);
            let found = within(c, limit, || matching(c, &coll, None, None, &layout)).map_err(
                |e| match e {
                    StoreError::Rejected(_) => StoreError::Rejected(sdk_core::ErrorBody::new(
                        sdk_core::ErrorCode::InvalidBody,
                        format!(
                            "save replaces at most {} records, and the collection holds more; \
                             delete some first",
                            crate::store::MAX_BULK
                        ),
                    )),
                    other => other,
                },
            )?;
            c.execute("DELETE FROM records WHERE coll = ?1", [&coll])
                .map_err(engine)?;
            let removed = found.into_iter().map(|(_, r)| Value::Object(r)).collect();
            Ok((removed, insert_records(c, &coll, records, &layout)?))
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
                sdk_core::record::bump(&mut rec, &now);
                out.push(put_record(c, Put::Update, &coll, rec, &layout)?);
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
            change.apply(&mut rec).map_err(StoreError::Rejected)?;
            if let Some(check) = &check {
                check(&rec).map_err(StoreError::Rejected)?;
            }
            sdk_core::record::bump(&mut rec, &now);
            put_record(c, Put::Update, &coll, rec, &layout_of(&layouts, &coll))
        })
        .await
    }

    async fn write_versioned(
        &self,
        collection: &str,
        guard: Option<Filter>,
        writes: Vec<Versioned>,
        now: String,
        check: Option<Check>,
    ) -> Result<Vec<Value>, StoreError> {
        let coll = collection.to_owned();
        let layouts = self.layouts.clone();
        self.write(move |c| {
            let layout = layout_of(&layouts, &coll);
            let mut out = Vec::with_capacity(writes.len());
            for w in writes {
                let rec = load_owned(c, &coll, &w.id, guard.as_ref(), Some(w.version))?;
                match w.fields {
                    Some(fields) => {
                        let mut rec = rec;
                        Change::Replace(fields)
                            .apply(&mut rec)
                            .map_err(StoreError::Rejected)?;
                        if let Some(check) = &check {
                            check(&rec).map_err(StoreError::Rejected)?;
                        }
                        sdk_core::record::bump(&mut rec, &now);
                        out.push(put_record(c, Put::Update, &coll, rec, &layout)?);
                    }
                    None => {
                        c.prepare_cached("DELETE FROM records WHERE coll = ?1 AND id = ?2")
                            .and_then(|mut st| st.execute(params![coll, w.id]))
                            .map_err(engine)?;
                        out.push(Value::Object(rec));
                    }
                }
            }
            Ok(out)
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

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        password_hash: r.get(1)?,
        email: r.get(2)?,
        created_at: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
    })
}
