//! The PostgreSQL storage engine, for servers that share one database.
//!
//! Users, sessions, API keys, files' metadata, collection configurations and
//! records live in one database (in the connection's `search_path` schema),
//! created on first start. Each operation is one transaction on a pooled
//! connection; a write is acknowledged after PostgreSQL committed it (its own
//! group commit and `synchronous_commit` decide the fsync). Checks that must
//! see what is stored (an email taken, a file name in use) are unique
//! constraints, so two servers racing cannot both pass them.
//!
//! Reads are compiled to SQL where SQL decides them exactly (see `filter`);
//! otherwise SQL narrows the rows down and the evaluator of `sdk_core::query`
//! decides, so every read answers as on SQLite.

mod accounts;
mod batch;
mod files;
mod filter;
mod find;
mod records;
mod schema;
#[cfg(test)]
mod tests;

use super::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    /// Single creates, written in shared transactions.
    batcher: batch::Batcher,
    /// Each configured collection's layout (typed fields, declared indexes).
    layouts: std::sync::RwLock<std::collections::HashMap<String, std::sync::Arc<super::Layout>>>,
    /// Collections this process has seen written (so it notes each once).
    written: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Live sessions, trusted for a second (the SQLite engine's cache: a session
    /// another server ends is refused here within that second).
    sessions: super::sqlite::accounts::SessionCache,
    /// Transactions that wrote records, and the records they wrote.
    groups: std::sync::Arc<std::sync::atomic::AtomicU64>,
    writes: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// Connections the pool keeps at most.
pub const POOL_SIZE: usize = 32;

/// A driver error as a store error: constraint and capacity failures keep
/// their meaning, the rest is an engine failure.
pub(crate) fn engine(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == tokio_postgres::error::SqlState::DISK_FULL {
            return StoreError::Full;
        }
        if *code == tokio_postgres::error::SqlState::QUERY_CANCELED {
            return StoreError::TimedOut(0);
        }
    }
    StoreError::Engine(e.to_string())
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Engine(format!("no database connection: {e}"))
}

/// Whether a driver error is a unique-constraint violation of `constraint`.
pub(crate) fn violates(e: &tokio_postgres::Error, constraint: &str) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
            && db.constraint() == Some(constraint)
    })
}

impl PgStore {
    /// Connects to `postgres://user@host:port/database?…` (libpq's URL form;
    /// `options=-c search_path=…` picks a schema), and creates or updates the
    /// tables.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Engine(format!("bad database URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Engine(format!("cannot make the pool: {e}")))?;
        let groups = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let store = Self {
            batcher: batch::start(pool.clone(), groups.clone()),
            pool,
            layouts: Default::default(),
            written: Default::default(),
            sessions: Default::default(),
            groups,
            writes: Default::default(),
        };
        store.migrate().await?;
        store.load_layouts().await?;
        Ok(store)
    }

    /// Reads the stored layouts.
    async fn load_layouts(&self) -> Result<(), StoreError> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT name, layout FROM collection_config WHERE layout IS NOT NULL",
                &[],
            )
            .await
            .map_err(engine)?;
        let mut map = match self.layouts.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        for r in rows {
            let text: String = r.get(1);
            let stored: super::sqlite::schema::StoredLayout = serde_json::from_str(&text)
                .map_err(|e| StoreError::Engine(format!("a stored layout is unreadable: {e}")))?;
            map.insert(r.get(0), std::sync::Arc::new(stored.into_layout()));
        }
        Ok(())
    }

    /// A pooled connection.
    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}
