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

mod files;
mod pool;
mod records;
mod schema;
mod sessions;
#[cfg(test)]
mod tests;
mod writer;

use files::*;
use pool::*;
use records::*;
pub(crate) use records::{Put, put_record};
pub(crate) use schema::prepare_schema;
use schema::*;
use sessions::*;
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
            put_record(c, Put::Update, &coll, rec, &layout_of(&layouts, &coll))
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
