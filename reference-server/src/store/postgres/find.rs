//! Reads in PostgreSQL: a query compiled to SQL where SQL decides it exactly
//! (its filter, its order on the system columns, keyset paging), the evaluator
//! over a SQL-narrowed set where it does not, and the related records loaded.

use super::filter::{Compiled, filter};
use super::records::parse_doc;
use super::*;
use crate::store::Found;
use deadpool_postgres::GenericClient;
use sdk_core::query::{Filter, FindQuery, FindResult, QueryError, get_path, project};
use sdk_core::record::{CREATED_AT, ID, UPDATED_AT};
use serde_json::Value;

/// The column a sort key can be served from, for the system fields whose
/// column always holds the record's string value.
fn sort_column(path: &sdk_core::query::Path) -> Option<&'static str> {
    match path.segments() {
        [one] if one == ID => Some("id"),
        [one] if one == CREATED_AT => Some("created"),
        [one] if one == UPDATED_AT => Some("updated"),
        _ => None,
    }
}

impl PgStore {
    /// Whether SQL gives the read's whole answer: an exact filter, an order the
    /// system columns give, and no `distinct`.
    pub(super) fn served(q: &FindQuery) -> bool {
        q.distinct.is_none()
            && q.sort.iter().all(|k| sort_column(&k.field).is_some())
            && q.after
                .as_ref()
                .is_none_or(|c| c.values.iter().all(Value::is_string))
    }

    pub(super) async fn find_in(
        &self,
        c: &impl GenericClient,
        coll: &str,
        q: &FindQuery,
        page: u64,
        load_guards: &[Option<Filter>],
    ) -> Result<Found, StoreError> {
        for r in &q.load {
            if !self.collection_known(c, &r.collection).await? {
                return Err(StoreError::Query(QueryError::new(
                    "load",
                    format!("there is no collection '{}'", r.collection),
                )));
            }
        }
        let mut sql = Compiled::new();
        sql.push(if q.count {
            "SELECT count(*) FROM records WHERE coll = "
        } else {
            "SELECT raw FROM records WHERE coll = "
        });
        sql.bind(Box::new(coll.to_owned()));
        if let Some(f) = &q.filter {
            sql.push(" AND ");
            filter(&mut sql, f, false);
        }
        let whole = sql.exact && Self::served(q);
        let docs: Vec<Value> = if whole {
            if q.count {
                let n: i64 = c
                    .query_one(&sql.text, &sql.args())
                    .await
                    .map_err(engine)?
                    .get(0);
                return Ok(Found::Count(u64::try_from(n).unwrap_or(0)));
            }
            keyset(&mut sql, q);
            let _ = std::fmt::Write::write_fmt(
                &mut sql.text,
                format_args!(
                    " LIMIT {} OFFSET {}",
                    page.min(i64::MAX as u64),
                    q.offset.min(i64::MAX as u64)
                ),
            );
            let rows = c.query(&sql.text, &sql.args()).await.map_err(engine)?;
            if q.select.is_none() && q.load.is_empty() {
                let mut out = String::with_capacity(4096);
                out.push('[');
                for (i, r) in rows.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(r.get(0));
                }
                out.push(']');
                return Ok(Found::Records(out));
            }
            rows.iter()
                .map(|r| parse_doc(r.get(0)).map(Value::Object))
                .collect::<Result<_, _>>()?
        } else {
            // The evaluator decides over what SQL narrowed down.
            if q.count {
                sql.text = sql.text.replacen("SELECT count(*)", "SELECT raw", 1);
            }
            let rows = c.query(&sql.text, &sql.args()).await.map_err(engine)?;
            let all: Vec<Value> = rows
                .iter()
                .map(|r| parse_doc(r.get(0)).map(Value::Object))
                .collect::<Result<_, _>>()?;
            let mut whole_records = q.clone();
            whole_records.select = None;
            whole_records.page_size = Some(page);
            match whole_records.apply(&all, page) {
                FindResult::Count(n) => return Ok(Found::Count(n)),
                FindResult::Records(r) => r,
            }
        };
        let mut shaped: Vec<Value> = match &q.select {
            Some(sel) => docs.iter().map(|d| project(d, sel)).collect(),
            None => docs.clone(),
        };
        for (i, rel) in q.load.iter().enumerate() {
            let guard = load_guards.get(i).cloned().flatten();
            let keys: Vec<String> = docs
                .iter()
                .filter_map(|d| get_path(d, &rel.foreign_key).and_then(Value::as_str))
                .map(str::to_owned)
                .collect();
            let rows = c
                .query(
                    "SELECT id, raw FROM records WHERE coll = $1 AND id = ANY($2)",
                    &[&rel.collection, &keys],
                )
                .await
                .map_err(engine)?;
            let mut related = std::collections::HashMap::new();
            for r in &rows {
                related.insert(r.get::<_, String>(0), Value::Object(parse_doc(r.get(1))?));
            }
            crate::store::attach_related(&mut shaped, &docs, rel, guard.as_ref(), &related);
        }
        serde_json::to_string(&shaped)
            .map(Found::Records)
            .map_err(|e| StoreError::Engine(e.to_string()))
    }
}

/// Appends the `after` condition and the `ORDER BY` of a read SQL serves (sort
/// keys on system columns, ties by `_id` in the last key's direction).
fn keyset(sql: &mut Compiled, q: &FindQuery) {
    let mut keys: Vec<(&'static str, bool)> = q
        .sort
        .iter()
        .filter_map(|k| sort_column(&k.field).map(|c| (c, k.descending)))
        .collect();
    let last_desc = q.sort.last().is_some_and(|k| k.descending);
    if keys.last().map(|k| k.0) != Some("id") {
        keys.push(("id", last_desc));
    }
    if let Some(cursor) = &q.after {
        let mut values: Vec<String> = cursor
            .values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if values.len() < keys.len() {
            values.push(cursor.id.clone());
        }
        // (k1 > v1) OR (k1 = v1 AND k2 > v2) OR …, each in its key's direction.
        sql.push(" AND (");
        for i in 0..keys.len() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("(");
            for (j, (col, _)) in keys.iter().enumerate().take(i) {
                let _ = std::fmt::Write::write_fmt(&mut sql.text, format_args!("{col} = "));
                sql.bind(Box::new(values[j].clone()));
                sql.push(" AND ");
            }
            // A missing value (NULL) sorts first: after the cursor in a
            // descending order, before it in an ascending one.
            let (col, desc) = keys[i];
            let op = if desc { "<" } else { ">" };
            let _ = std::fmt::Write::write_fmt(&mut sql.text, format_args!("({col} {op} "));
            sql.bind(Box::new(values[i].clone()));
            if desc {
                let _ =
                    std::fmt::Write::write_fmt(&mut sql.text, format_args!(" OR {col} IS NULL"));
            }
            sql.push("))");
        }
        sql.push(")");
    }
    sql.push(" ORDER BY ");
    for (i, (col, desc)) in keys.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(col);
        sql.push(if *desc {
            " DESC NULLS LAST"
        } else {
            " ASC NULLS FIRST"
        });
    }
}
