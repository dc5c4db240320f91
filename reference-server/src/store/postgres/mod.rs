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
//! Under construction: accounts and files' metadata are here; the records
//! (`Records`) are not yet, so `--database postgres://…` is not offered.

mod accounts;
mod files;
mod schema;
#[cfg(test)]
mod tests;

use super::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
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
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// A pooled connection.
    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}
