//! Records on disk: their typed columns beside the document, and the reads and
//! searches the store runs over them.

use super::*;

/// The typed columns of a record's system fields.
pub(crate) struct Columns {
    /// `_id`.
    pub(crate) id: String,
    /// `userId`.
    pub(crate) owner: Option<String>,
    /// `createdAt`.
    pub(crate) created: Option<String>,
    /// `updatedAt`.
    pub(crate) updated: Option<String>,
    /// `__v`.
    pub(crate) v: i64,
}

/// A record's system columns, checking that its system fields and typed fields
/// hold values of their types (the server sets the former; the schema check
/// before the write, the latter).
pub(crate) fn columns(rec: &Map<String, Value>, layout: &Layout) -> Result<Columns, StoreError> {
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

/// How [`put_record`] writes a row.
#[derive(Clone, Copy)]
pub(crate) enum Put {
    /// A new row.
    Insert,
    /// The row of an existing record.
    Update,
}

impl Put {
    /// The statement: the system columns, the document and the collection's
    /// property columns (`?8`.. in the order of [`Layout::columns`]).
    fn text(self, layout: &Layout) -> String {
        let props: Vec<String> = layout.columns.values().map(|i| format!("p{i}")).collect();
        match self {
            Self::Insert => {
                let mut names = String::new();
                let mut values = String::new();
                for (n, col) in props.iter().enumerate() {
                    let _ = write!(names, ", {col}");
                    let _ = write!(values, ", ?{}", n + 8);
                }
                format!(
                    "INSERT INTO records (coll, id, owner, created, updated, v, doc{names}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, jsonb(?7){values})"
                )
            }
            Self::Update => {
                let mut sets = String::new();
                for (n, col) in props.iter().enumerate() {
                    let _ = write!(sets, ", {col} = ?{}", n + 8);
                }
                format!(
                    "UPDATE records SET owner = ?3, created = ?4, updated = ?5, v = ?6, \
                     doc = jsonb(?7){sets} WHERE coll = ?1 AND id = ?2"
                )
            }
        }
    }
}

/// Writes a record's row, its system columns and property columns from it.
pub(crate) fn put_record(
    c: &Connection,
    put: Put,
    coll: &str,
    rec: Map<String, Value>,
    layout: &Layout,
) -> Result<Value, StoreError> {
    let cols = columns(&rec, layout)?;
    let props: Vec<rusqlite::types::Value> = layout
        .columns
        .keys()
        .map(|f| {
            rec.get(f)
                .map_or(rusqlite::types::Value::Null, crate::store::sql::extracted)
        })
        .collect();
    let doc = Value::Object(rec);
    c.prepare_cached(&put.text(layout))
        .and_then(|mut st| {
            let system: [&dyn rusqlite::ToSql; 7] = [
                &coll,
                &cols.id,
                &cols.owner,
                &cols.created,
                &cols.updated,
                &cols.v,
                &doc.to_string(),
            ];
            let all = system
                .into_iter()
                .chain(props.iter().map(|v| v as &dyn rusqlite::ToSql));
            st.execute(rusqlite::params_from_iter(all))
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

pub(super) fn load(
    conn: &Connection,
    coll: &str,
    id: &str,
) -> Result<Option<Map<String, Value>>, StoreError> {
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
pub(super) fn load_owned(
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

pub(super) fn insert_records(
    c: &Connection,
    coll: &str,
    records: Vec<Map<String, Value>>,
    layout: &Layout,
) -> Result<Vec<Value>, StoreError> {
    records
        .into_iter()
        .map(|record| put_record(c, Put::Insert, coll, record, layout))
        .collect()
}

/// Stored records with their ids.
pub(super) type Rows = Vec<(String, Map<String, Value>)>;

/// The records a bulk write touches: matching `filter`, owned by `owner` when given.
pub(super) fn matching(
    c: &Connection,
    coll: &str,
    filter: Option<&Filter>,
    guard: Option<&Filter>,
    layout: &Layout,
) -> Result<Rows, StoreError> {
    let mut sql = crate::store::sql::Sql::default();
    sql.text.push_str("SELECT id, json(doc) FROM records");
    let both = match (filter, guard) {
        (Some(f), Some(g)) => Some(Filter::And(vec![f.clone(), g.clone()])),
        (f, g) => f.or(g).cloned(),
    };
    crate::store::sql::where_clause(&mut sql, coll, both.as_ref(), layout);
    sql.text.push_str(&format!(
        " ORDER BY id LIMIT {}",
        crate::store::MAX_BULK + 1
    ));
    let mut st = c.prepare(&sql.text).map_err(engine)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(engine)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(engine)?;
    if rows.len() > crate::store::MAX_BULK {
        return Err(StoreError::Rejected(sdk_core::ErrorBody::new(
            sdk_core::ErrorCode::InvalidQuery,
            format!(
                "the filter matches more than {} records; narrow it",
                crate::store::MAX_BULK
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

pub(super) fn collection_known(c: &Connection, name: &str) -> Result<bool, StoreError> {
    c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM collections WHERE name = ?1) \
         OR EXISTS (SELECT 1 FROM records WHERE coll = ?1)",
    )
    .and_then(|mut st| st.query_row([name], |r| r.get(0)))
    .map_err(engine)
}

pub(super) fn find(
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
            exact = crate::store::sql::find_exact(coll, q, page, &layout_of(layouts, coll));
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
        crate::store::attach_related(&mut shaped, &full, rel, guard.as_ref(), &related);
    }
    serde_json::to_string(&shaped)
        .map(Found::Records)
        .map_err(engine)
}

pub(super) fn load_many(
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
