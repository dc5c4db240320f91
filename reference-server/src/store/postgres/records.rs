//! Records in PostgreSQL: one row per record (system fields in columns, the
//! whole record in `doc`), reads compiled to SQL where SQL decides them exactly
//! and the evaluator over a SQL-narrowed set where it does not.

use super::filter::{Compiled, access, filter};
use super::*;
use crate::store::sqlite::records::columns;
use crate::store::{Change, Check, Found, Layout, MAX_BULK, Records, Versioned};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use sdk_core::query::{Filter, FindQuery};
use sdk_core::record::{ID, VERSION};
use serde_json::{Map, Value};
use std::sync::Arc;

pub(super) fn parse_doc(text: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(StoreError::Engine("stored record is not an object".into())),
        Err(e) => Err(StoreError::Engine(e.to_string())),
    }
}

/// The answer to a record holding U+0000.
pub(super) fn nul_refused() -> StoreError {
    StoreError::Rejected(sdk_core::ErrorBody::new(
        sdk_core::ErrorCode::ValidationFailed,
        "the record holds the character U+0000, which this server's database \
         (PostgreSQL) cannot store",
    ))
}

pub(super) fn id_taken(id: &str) -> StoreError {
    StoreError::Rejected(
        sdk_core::ErrorBody::new(
            sdk_core::ErrorCode::IdTaken,
            format!("a record with id '{id}' exists"),
        )
        .with_field(ID, "taken"),
    )
}

/// Writes a record's row (a new one, or the existing one of its id).
pub(super) async fn put(
    c: &impl GenericClient,
    insert: bool,
    coll: &str,
    rec: Map<String, Value>,
    layout: &Layout,
) -> Result<Value, StoreError> {
    let cols = columns(&rec, layout)?;
    let doc = Value::Object(rec);
    // `doc` is what filters read; `raw` is the record as written, fields in
    // the order the client sent them, which reads return.
    let raw = doc.to_string();
    let sql = if insert {
        "INSERT INTO records (coll, id, owner, created, updated, v, doc, raw) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    } else {
        "UPDATE records SET owner = $3, created = $4, updated = $5, v = $6, doc = $7, raw = $8 \
         WHERE coll = $1 AND id = $2"
    };
    let st = c.prepare_cached(sql).await.map_err(engine)?;
    match c
        .execute(
            &st,
            &[
                &coll,
                &cols.id,
                &cols.owner,
                &cols.created,
                &cols.updated,
                &cols.v,
                &doc,
                &raw,
            ],
        )
        .await
    {
        Ok(_) => Ok(doc),
        Err(e) if violates(&e, "records_pkey") => Err(id_taken(&cols.id)),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNTRANSLATABLE_CHARACTER) => {
            Err(StoreError::Rejected(sdk_core::ErrorBody::new(
                sdk_core::ErrorCode::ValidationFailed,
                "the record holds the character U+0000, which this server's database \
                 (PostgreSQL) cannot store",
            )))
        }
        Err(e) => Err(engine(e)),
    }
}

/// The record of `id`, locked for the rest of the transaction, checked against
/// the caller's rule and the expected version.
async fn load_owned(
    tx: &impl GenericClient,
    coll: &str,
    id: &str,
    guard: Option<&Filter>,
    expected: Option<u64>,
) -> Result<Map<String, Value>, StoreError> {
    let st = tx
        .prepare_cached("SELECT raw FROM records WHERE coll = $1 AND id = $2 FOR UPDATE")
        .await
        .map_err(engine)?;
    let row = tx
        .query_opt(&st, &[&coll, &id])
        .await
        .map_err(engine)?
        .ok_or(StoreError::NotFound)?;
    let rec = parse_doc(row.get(0))?;
    let doc = Value::Object(rec);
    if guard.is_some_and(|g| !g.matches(&doc)) {
        return Err(StoreError::NotOwner);
    }
    let Value::Object(rec) = doc else {
        return Err(StoreError::Engine("a record is an object".into()));
    };
    let version = rec.get(VERSION).and_then(Value::as_u64).unwrap_or(0);
    if expected.is_some_and(|e| e != version) {
        return Err(StoreError::VersionConflict(version));
    }
    Ok(rec)
}

/// The records a bulk write touches, locked: matching `filter` and `guard`.
async fn matching(
    tx: &impl GenericClient,
    coll: &str,
    filter_: Option<&Filter>,
    guard: Option<&Filter>,
) -> Result<Vec<(String, Map<String, Value>)>, StoreError> {
    let both = match (filter_, guard) {
        (Some(f), Some(g)) => Some(Filter::And(vec![f.clone(), g.clone()])),
        (f, g) => f.or(g).cloned(),
    };
    let mut sql = Compiled::new();
    sql.push("SELECT id, raw FROM records WHERE coll = ");
    sql.bind(Box::new(coll.to_owned()));
    if let Some(f) = &both {
        sql.push(" AND ");
        filter(&mut sql, f, false);
    }
    let _ = std::fmt::Write::write_fmt(
        &mut sql.text,
        format_args!(" ORDER BY id LIMIT {} FOR UPDATE", MAX_BULK + 1),
    );
    let rows = tx.query(&sql.text, &sql.args()).await.map_err(engine)?;
    if rows.len() > MAX_BULK {
        return Err(StoreError::Rejected(sdk_core::ErrorBody::new(
            sdk_core::ErrorCode::InvalidQuery,
            format!("the filter matches more than {MAX_BULK} records; narrow it"),
        )));
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let rec = parse_doc(r.get(1))?;
        let doc = Value::Object(rec);
        if both.as_ref().is_some_and(|f| !f.matches(&doc)) {
            continue;
        }
        if let Value::Object(rec) = doc {
            out.push((r.get(0), rec));
        }
    }
    Ok(out)
}

impl PgStore {
    /// Counts a committed transaction of `n` writes (for the metrics).
    fn committed(&self, n: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.groups.fetch_add(1, Relaxed);
        self.writes.fetch_add(n as u64, Relaxed);
    }

    pub(super) fn layout_of(&self, coll: &str) -> Arc<Layout> {
        let map = match self.layouts.read() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.get(coll).cloned().unwrap_or_default()
    }

    /// Notes that `coll` has had a record (once per process and collection).
    async fn written(&self, c: &impl GenericClient, coll: &str) -> Result<(), StoreError> {
        let known = self
            .written
            .lock()
            .map(|w| w.contains(coll))
            .unwrap_or(false);
        if !known {
            c.execute(
                "INSERT INTO collections_written (name) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&coll],
            )
            .await
            .map_err(engine)?;
            if let Ok(mut w) = self.written.lock() {
                w.insert(coll.to_owned());
            }
        }
        Ok(())
    }

    pub(super) async fn collection_known(
        &self,
        c: &impl GenericClient,
        name: &str,
    ) -> Result<bool, StoreError> {
        let row = c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM collections WHERE name = $1) \
                 OR EXISTS (SELECT 1 FROM records WHERE coll = $1)",
                &[&name],
            )
            .await
            .map_err(engine)?;
        Ok(row.get(0))
    }
}

#[async_trait]
#[allow(clippy::too_many_arguments)]
impl Records for PgStore {
    fn write_stats(&self) -> crate::store::WriteStats {
        use std::sync::atomic::Ordering::Relaxed;
        crate::store::WriteStats {
            queued: 0,
            groups: self.groups.load(Relaxed),
            writes: self.writes.load(Relaxed),
        }
    }

    async fn set_config(
        &self,
        name: &str,
        config: String,
        layout: Layout,
    ) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(engine)?;
        // A field is typed only where every stored record agrees (records made
        // before the schema may not); writes keep it so from now on.
        let mut layout = layout;
        let typed: Vec<(String, crate::store::FieldType)> =
            layout.types.iter().map(|(k, t)| (k.clone(), *t)).collect();
        for (field, t) in typed {
            let Ok(path) = sdk_core::query::Path::parse(&field) else {
                layout.types.remove(&field);
                continue;
            };
            let kinds = match t {
                crate::store::FieldType::Text => "'string'",
                crate::store::FieldType::Number => "'number'",
                crate::store::FieldType::Bool => "'boolean'",
            };
            let x = access(&path);
            let other: bool = tx
                .query_one(
                    &format!(
                        "SELECT EXISTS (SELECT 1 FROM records WHERE coll = $1 \
                         AND jsonb_typeof({x}) NOT IN ('null', {kinds}))"
                    ),
                    &[&name],
                )
                .await
                .map_err(engine)?
                .get(0);
            if other {
                layout.types.remove(&field);
            }
        }
        let text = serde_json::to_string(&crate::store::sqlite::schema::StoredLayout::of(&layout))
            .map_err(|e| StoreError::Engine(e.to_string()))?;
        tx.execute(
            "INSERT INTO collection_config (name, config, layout) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config, layout = EXCLUDED.layout",
            &[&name, &config, &text],
        )
        .await
        .map_err(engine)?;
        // Declared indexes: an expression index per collection, named by a hash
        // of its definition; ones no longer declared are dropped.
        let prefix = format!("rk_ix_{}_", index_tag(name));
        let mut wanted = Vec::new();
        for fields in &layout.indexes {
            let exprs: Vec<String> = fields.iter().map(access).collect();
            let definition = format!("({})", exprs.join(", "));
            let ix = format!("{prefix}{}", index_tag(&definition));
            tx.batch_execute(&format!(
                "CREATE INDEX IF NOT EXISTS \"{ix}\" ON records {definition} WHERE coll = '{name}'"
            ))
            .await
            .map_err(engine)?;
            wanted.push(ix);
        }
        let existing = tx
            .query(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() \
                 AND tablename = 'records' AND starts_with(indexname, $1)",
                &[&prefix],
            )
            .await
            .map_err(engine)?;
        for r in existing {
            let ix: String = r.get(0);
            if !wanted.contains(&ix) {
                tx.batch_execute(&format!("DROP INDEX IF EXISTS \"{ix}\""))
                    .await
                    .map_err(engine)?;
            }
        }
        tx.commit().await.map_err(engine)?;
        let mut map = match self.layouts.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.insert(name.to_owned(), Arc::new(layout));
        Ok(())
    }

    fn has_layout(&self, name: &str) -> bool {
        let map = match self.layouts.read() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.contains_key(name)
    }

    async fn configs(&self) -> Result<Vec<(String, String)>, StoreError> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT name, config FROM collection_config ORDER BY name COLLATE \"C\"",
                &[],
            )
            .await
            .map_err(engine)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn declare_collection(&self, name: &str) -> Result<(), StoreError> {
        let c = self.conn().await?;
        c.execute(
            "INSERT INTO collections (name) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&name],
        )
        .await
        .map_err(engine)?;
        Ok(())
    }

    async fn collections(&self) -> Result<Vec<String>, StoreError> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT w.name FROM collections_written w \
                 WHERE EXISTS (SELECT 1 FROM records r WHERE r.coll = w.name) \
                 ORDER BY w.name COLLATE \"C\"",
                &[],
            )
            .await
            .map_err(engine)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn collection_written(&self, name: &str) -> Result<bool, StoreError> {
        let c = self.conn().await?;
        let row = c
            .query_opt(
                "SELECT 1 FROM collections_written WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(engine)?;
        Ok(row.is_some())
    }

    async fn find(
        &self,
        collection: &str,
        query: FindQuery,
        page: u64,
        load_guards: Vec<Option<Filter>>,
    ) -> Result<Found, StoreError> {
        let mut c = self.conn().await?;
        if query.load.is_empty() {
            return self
                .find_in(&c, collection, &query, page, &load_guards)
                .await;
        }
        // The page and its related records from one snapshot.
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(engine)?;
        let found = self
            .find_in(&tx, collection, &query, page, &load_guards)
            .await?;
        tx.commit().await.map_err(engine)?;
        Ok(found)
    }

    async fn get(&self, collection: &str, id: &str) -> Result<Option<String>, StoreError> {
        let c = self.conn().await?;
        let st = c
            .prepare_cached("SELECT raw FROM records WHERE coll = $1 AND id = $2")
            .await
            .map_err(engine)?;
        let row = c
            .query_opt(&st, &[&collection, &id])
            .await
            .map_err(engine)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn insert(
        &self,
        collection: &str,
        record: Map<String, Value>,
    ) -> Result<Value, StoreError> {
        let known = self
            .written
            .lock()
            .map(|w| w.contains(collection))
            .unwrap_or(false);
        if !known {
            let c = self.conn().await?;
            self.written(&c, collection).await?;
        }
        let layout = self.layout_of(collection);
        let out = super::batch::insert(&self.batcher, collection, record, layout).await?;
        // The batcher counts its transactions.
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(out)
    }

    async fn insert_many(
        &self,
        collection: &str,
        mut records: Vec<Map<String, Value>>,
    ) -> Result<Vec<Value>, StoreError> {
        // One record (a single create over HTTP or the socket) joins others
        // arriving together in one transaction.
        if records.len() == 1
            && let Some(one) = records.pop()
        {
            return Ok(vec![self.insert(collection, one).await?]);
        }
        let mut c = self.conn().await?;
        self.written(&c, collection).await?;
        let layout = self.layout_of(collection);
        let tx = c.transaction().await.map_err(engine)?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            out.push(put(&tx, true, collection, r, &layout).await?);
        }
        tx.commit().await.map_err(engine)?;
        self.committed(out.len());
        Ok(out)
    }

    async fn replace_all(
        &self,
        collection: &str,
        records: Vec<Map<String, Value>>,
    ) -> Result<(Vec<Value>, Vec<Value>), StoreError> {
        let mut c = self.conn().await?;
        self.written(&c, collection).await?;
        let layout = self.layout_of(collection);
        let tx = c.transaction().await.map_err(engine)?;
        let found = matching(&tx, collection, None, None)
            .await
            .map_err(|e| match e {
                StoreError::Rejected(_) => StoreError::Rejected(sdk_core::ErrorBody::new(
                    sdk_core::ErrorCode::InvalidBody,
                    format!(
                        "save replaces at most {MAX_BULK} records, and the collection holds more; \
                     delete some first"
                    ),
                )),
                other => other,
            })?;
        tx.execute("DELETE FROM records WHERE coll = $1", &[&collection])
            .await
            .map_err(engine)?;
        let removed = found.into_iter().map(|(_, r)| Value::Object(r)).collect();
        let mut written = Vec::with_capacity(records.len());
        for r in records {
            written.push(put(&tx, true, collection, r, &layout).await?);
        }
        tx.commit().await.map_err(engine)?;
        self.committed(written.len().max(1));
        Ok((removed, written))
    }

    async fn update_many(
        &self,
        collection: &str,
        filter: Option<Filter>,
        guard: Option<Filter>,
        spec: sdk_core::update::UpdateSpec,
        now: String,
        check: Option<Check>,
    ) -> Result<Vec<Value>, StoreError> {
        let mut c = self.conn().await?;
        let layout = self.layout_of(collection);
        let tx = c.transaction().await.map_err(engine)?;
        let found = matching(&tx, collection, filter.as_ref(), guard.as_ref()).await?;
        let mut out = Vec::with_capacity(found.len());
        for (_, mut rec) in found {
            spec.apply(&mut rec).map_err(StoreError::Rejected)?;
            if let Some(check) = &check {
                check(&rec).map_err(StoreError::Rejected)?;
            }
            sdk_core::record::bump(&mut rec, &now);
            out.push(put(&tx, false, collection, rec, &layout).await?);
        }
        tx.commit().await.map_err(engine)?;
        self.committed(out.len());
        Ok(out)
    }

    async fn delete_many(
        &self,
        collection: &str,
        filter: Option<Filter>,
        guard: Option<Filter>,
    ) -> Result<Vec<Value>, StoreError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(engine)?;
        let found = matching(&tx, collection, filter.as_ref(), guard.as_ref()).await?;
        let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
        tx.execute(
            "DELETE FROM records WHERE coll = $1 AND id = ANY($2)",
            &[&collection, &ids],
        )
        .await
        .map_err(engine)?;
        tx.commit().await.map_err(engine)?;
        self.committed(found.len());
        Ok(found.into_iter().map(|(_, r)| Value::Object(r)).collect())
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
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(engine)?;
        let mut rec = load_owned(&tx, collection, id, guard.as_ref(), expected_version).await?;
        change.apply(&mut rec).map_err(StoreError::Rejected)?;
        if let Some(check) = &check {
            check(&rec).map_err(StoreError::Rejected)?;
        }
        sdk_core::record::bump(&mut rec, &now);
        let out = put(&tx, false, collection, rec, &self.layout_of(collection)).await?;
        tx.commit().await.map_err(engine)?;
        self.committed(1);
        Ok(out)
    }

    async fn write_versioned(
        &self,
        collection: &str,
        guard: Option<Filter>,
        writes: Vec<Versioned>,
        now: String,
        check: Option<Check>,
    ) -> Result<Vec<Value>, StoreError> {
        let mut c = self.conn().await?;
        let layout = self.layout_of(collection);
        let tx = c.transaction().await.map_err(engine)?;
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            let mut rec =
                load_owned(&tx, collection, &w.id, guard.as_ref(), Some(w.version)).await?;
            match w.fields {
                Some(fields) => {
                    Change::Replace(fields)
                        .apply(&mut rec)
                        .map_err(StoreError::Rejected)?;
                    if let Some(check) = &check {
                        check(&rec).map_err(StoreError::Rejected)?;
                    }
                    sdk_core::record::bump(&mut rec, &now);
                    out.push(put(&tx, false, collection, rec, &layout).await?);
                }
                None => {
                    tx.execute(
                        "DELETE FROM records WHERE coll = $1 AND id = $2",
                        &[&collection, &w.id],
                    )
                    .await
                    .map_err(engine)?;
                    out.push(Value::Object(rec));
                }
            }
        }
        tx.commit().await.map_err(engine)?;
        self.committed(out.len());
        Ok(out)
    }

    async fn delete(
        &self,
        collection: &str,
        id: &str,
        guard: Option<Filter>,
        expected_version: Option<u64>,
    ) -> Result<Value, StoreError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(engine)?;
        let rec = load_owned(&tx, collection, id, guard.as_ref(), expected_version).await?;
        tx.execute(
            "DELETE FROM records WHERE coll = $1 AND id = $2",
            &[&collection, &id],
        )
        .await
        .map_err(engine)?;
        tx.commit().await.map_err(engine)?;
        self.committed(1);
        Ok(Value::Object(rec))
    }
}

/// A short stable tag of a text for index names (hex of a SHA-256 prefix).
fn index_tag(text: &str) -> String {
    use sha2::Digest;
    crate::clock::hex(&sha2::Sha256::digest(text.as_bytes())[..6])
}
