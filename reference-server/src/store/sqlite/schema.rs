//! The database's schema: made on open, moved on from earlier layouts, with the
//! planner's fixed statistics and the collections' stored layouts.

use super::*;

pub(super) const SCHEMA: &str = "
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
    -- Property columns: typed fields a collection's layout gives one (see
    -- `sql::Layout::columns`), as `json_extract` reads them from `doc`. No
    -- declared type, so SQLite keeps each value as it is.
    p0, p1, p2, p3, p4, p5, p6, p7,
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
        // Tables made before the property columns get them at the end.
        if has_table("records")? && !has_column("records", "p0")? {
            for i in 0..crate::store::sql::PROPERTY_COLUMNS {
                conn.execute_batch(&format!("ALTER TABLE records ADD COLUMN p{i}"))
                    .map_err(engine)?;
            }
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
/// as the compiler plans ([`crate::store::sql::find`]'s `inline`): the index whose
/// leading fields the filter pins. Run in the transaction that changes indexes,
/// so every connection loads them with the new schema.
pub(super) fn fix_statistics(conn: &Connection) -> Result<(), StoreError> {
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

/// Each collection's layout, by name.
pub(super) type LayoutMap = std::collections::HashMap<String, Arc<Layout>>;

/// The stored layouts, as the compiler and the writer need them, and the names
/// of those stored before property columns (their columns are yet to fill).
pub(super) fn load_layouts(conn: &Connection) -> Result<(LayoutMap, Vec<String>), StoreError> {
    let mut st = conn
        .prepare("SELECT name, layout FROM collection_config WHERE layout IS NOT NULL")
        .map_err(engine)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(engine)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(engine)?;
    let mut out = std::collections::HashMap::new();
    let mut unfilled = Vec::new();
    for (name, text) in rows {
        let stored: StoredLayout = serde_json::from_str(&text).map_err(engine)?;
        if stored.columns.is_none() {
            unfilled.push(name.clone());
        }
        out.insert(name, Arc::new(stored.into_layout()));
    }
    Ok((out, unfilled))
}

/// A [`Layout`] as stored: fields by name, indexes as lists of field names.
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub(crate) struct StoredLayout {
    types: std::collections::BTreeMap<String, FieldType>,
    /// Missing in layouts stored before property columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    columns: Option<std::collections::BTreeMap<String, usize>>,
    indexes: Vec<Vec<String>>,
}

impl StoredLayout {
    /// The stored form of a layout.
    pub(crate) fn of(layout: &Layout) -> Self {
        Self {
            types: layout.types.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            columns: Some(layout.columns.clone()),
            indexes: layout
                .indexes
                .iter()
                .map(|ix| ix.iter().map(ToString::to_string).collect())
                .collect(),
        }
    }

    /// The layout it stores.
    pub(crate) fn into_layout(self) -> Layout {
        Layout {
            types: self.types.into_iter().collect(),
            columns: self.columns.unwrap_or_default(),
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

/// Stores a collection's layout (and its configuration, unless `None`: the
/// layout alone, as on start) in the writer's transaction: keeps typed only the
/// fields every stored record agrees with, gives typed fields property columns
/// and fills them (clearing those no longer used), and makes the declared
/// indexes as the layout defines them. `previous` is the layout the records
/// were written with (`None`: no property column of the collection is filled).
pub(super) fn store_layout(
    c: &Connection,
    name: &str,
    config: Option<&str>,
    layout: Layout,
    previous: Option<&Layout>,
) -> Result<Layout, StoreError> {
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
            .query_row(&sql, [name], |r| {
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
    layout.assign_columns(previous);
    let before = previous.map(|p| p.columns.clone()).unwrap_or_default();
    for (f, i) in &before {
        let reused = layout.columns.values().any(|j| j == i);
        if layout.columns.get(f) != Some(i) && !reused {
            c.execute(
                &format!("UPDATE records SET p{i} = NULL WHERE coll = ?1 AND p{i} IS NOT NULL"),
                [name],
            )
            .map_err(engine)?;
        }
    }
    for (f, i) in &layout.columns {
        if before.get(f) != Some(i) {
            let p = sdk_core::query::Path::parse(f).map_err(engine)?;
            let filled = c
                .execute(
                    &format!(
                        "UPDATE records SET p{i} = json_extract(doc,'{}') WHERE coll = ?1",
                        p.json_path()
                    ),
                    [name],
                )
                .map_err(engine)?;
            tracing::info!(collection = %name, field = %f, column = %format!("p{i}"), records = filled, "filled a property column");
        }
    }
    let stored = serde_json::to_string(&StoredLayout::of(&layout)).map_err(engine)?;
    match config {
        Some(config) => c.execute(
            "INSERT INTO collection_config (name, config, layout) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET config = excluded.config, layout = excluded.layout",
            params![name, config, stored],
        ),
        None => c.execute(
            "UPDATE collection_config SET layout = ?2 WHERE name = ?1",
            params![name, stored],
        ),
    }
    .map_err(engine)?;
    let prefix = format!("rk_ix_{name}_");
    let mut wanted = Vec::new();
    for fields in &layout.indexes {
        let ix = crate::store::sql::declared_index_name(name, fields);
        let cols = fields
            .iter()
            .map(|p| crate::store::sql::index_column(p, &layout))
            .collect::<Vec<_>>()
            .join(", ");
        let definition = format!("ON records(coll, {cols})");
        // The index's definition changed with the layout: make it again.
        let current: Option<String> = c
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                [&ix],
                |r| r.get(0),
            )
            .optional()
            .map_err(engine)?;
        if current.is_some_and(|sql| !sql.ends_with(&definition)) {
            c.execute_batch(&format!("DROP INDEX \"{ix}\""))
                .map_err(engine)?;
        }
        c.execute_batch(&format!("CREATE INDEX IF NOT EXISTS \"{ix}\" {definition}"))
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
    Ok(layout)
}
