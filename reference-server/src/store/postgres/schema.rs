//! The tables, created on first start and moved forward on later ones.
//!
//! Servers starting together on an empty database take an advisory lock, so
//! exactly one of them creates the tables and the others find them made.

use super::*;

/// The layout version this build writes.
pub const SCHEMA_VERSION: i32 = 1;

const CREATE: &str = r#"
CREATE TABLE IF NOT EXISTS rucksack_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL CONSTRAINT users_email_key UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    bucket TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    v BIGINT NOT NULL,
    blob TEXT NOT NULL,
    CONSTRAINT files_owner_name UNIQUE (user_id, filename)
);
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS collections_written (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS collection_config (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    layout TEXT
);
CREATE TABLE IF NOT EXISTS records (
    coll TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    owner TEXT COLLATE "C",
    created TEXT COLLATE "C",
    updated TEXT COLLATE "C",
    v BIGINT NOT NULL DEFAULT 0,
    doc JSONB NOT NULL,
    raw TEXT NOT NULL,
    PRIMARY KEY (coll, id)
);
-- Missing values sort first, as the evaluator's order has it: reads order by
-- `ASC NULLS FIRST` or `DESC NULLS LAST`, which these indexes give read forwards
-- or backwards.
CREATE INDEX IF NOT EXISTS records_created ON records(coll, created NULLS FIRST, id NULLS FIRST);
CREATE INDEX IF NOT EXISTS records_updated ON records(coll, updated NULLS FIRST, id NULLS FIRST);
CREATE INDEX IF NOT EXISTS records_owner_created ON records(coll, owner, created NULLS FIRST, id NULLS FIRST);
"#;

impl PgStore {
    /// Creates the tables if missing and records the layout version; refuses a
    /// database written by a newer build.
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(engine)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('rucksack_schema'))",
            &[],
        )
        .await
        .map_err(engine)?;
        tx.batch_execute(CREATE).await.map_err(engine)?;
        let found = tx
            .query_opt(
                "SELECT value FROM rucksack_meta WHERE key = 'schema_version'",
                &[],
            )
            .await
            .map_err(engine)?
            .and_then(|r| r.get::<_, String>(0).parse::<i32>().ok());
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::Engine(format!(
                    "the database was written by a newer server (layout {v}; this one knows {SCHEMA_VERSION})"
                )));
            }
            Some(v) if v == SCHEMA_VERSION => {}
            _ => {
                tx.execute(
                    "INSERT INTO rucksack_meta (key, value) VALUES ('schema_version', $1) \
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    &[&SCHEMA_VERSION.to_string()],
                )
                .await
                .map_err(engine)?;
            }
        }
        tx.commit().await.map_err(engine)
    }
}
