//! Compiling the query language to SQLite SQL over the `records` table.
//!
//! The system fields live in typed columns (`_id` → `id`, `userId` → `owner`,
//! `createdAt` → `created`, `updatedAt` → `updated`, `__v` → `v`), so filters and
//! sorts on them read no document and indexes serve them. A collection's fields
//! whose JSON type its schema fixes ([`Types`]) are compared and sorted as plain
//! values; every other field is read from the JSON column `doc`.
//!
//! Only bound parameters carry values. Field paths are inlined as JSON path
//! literals, which is safe because [`Path`] admits only ASCII letters, digits,
//! `_` and `-` in segments, and necessary so expression indexes on
//! `json_extract(doc, '$.field')` match the query.
//!
//! Every comparison on an untyped field checks the JSON type (`json_type`) as
//! well as the value, so the SQL agrees with the evaluator in `sdk_core::query`
//! (a differential test holds them to it). SQL's NULLs only arise from missing
//! fields; in AND/OR they act as false, and under NOT the operand is wrapped in
//! `IFNULL(.., 0)` so the negation of "unknown" is "true", exactly as the
//! evaluator's.

mod filter;
mod layout;
mod order;
mod plan;
#[cfg(test)]
mod tests;

pub use filter::*;
pub use layout::*;
pub use order::*;
use plan::*;

use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Error as SqlError};
use sdk_core::query::{
    CmpOp, Cursor, Filter, FindQuery, Path, Pattern, Scalar, SortKey, like_matches, sort_rank,
};
use sdk_core::record::{CREATED_AT, ID, OWNER, UPDATED_AT, VERSION};
use std::fmt::Write;

/// SQL text and its bound parameters.
#[derive(Debug, Default)]
pub struct Sql {
    /// The text.
    pub text: String,
    /// The parameters, in order (`?` placeholders).
    pub params: Vec<SqlValue>,
    /// Whether an index serves the read, so it visits a bounded number of rows.
    pub inline: bool,
    /// System columns the text takes to hold no `NULL` in this collection (a
    /// record's time stamps are always set by the server): before running it, the
    /// store checks that they do, else compiles the read with [`find_exact`].
    pub assumes_set: Vec<&'static str>,
}

impl Sql {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn bind(&mut self, v: SqlValue) {
        self.text.push('?');
        self.params.push(v);
    }
}

/// The statement for a read: one column, either `doc` per record or a count.
/// `inline` says whether an index serves it (see [`served`]).
pub fn find(coll: &str, q: &FindQuery, page: u64, layout: &Layout) -> Sql {
    compile(coll, q, page, layout, true)
}

/// As [`find`], for a collection where a record may lack a time stamp.
pub fn find_exact(coll: &str, q: &FindQuery, page: u64, layout: &Layout) -> Sql {
    compile(coll, q, page, layout, false)
}

fn compile(coll: &str, q: &FindQuery, page: u64, layout: &Layout, assume: bool) -> Sql {
    let index = served(coll, q, page, layout, assume);
    let mut sql = Sql {
        inline: index.is_some(),
        ..Sql::default()
    };
    // The system index the compiler planned with, so SQLite takes the same
    // one (two may fit a filter equally, one of them needing a sort). A declared
    // index is left to the planner, which the store's fixed statistics lead to
    // it: a reader may plan before a new index is visible to it.
    let from = match index.as_deref() {
        Some(PRIMARY_KEY) => " FROM records NOT INDEXED".to_owned(),
        Some(name) if SYSTEM_INDEX_NAMES.contains(&name) => {
            format!(" FROM records INDEXED BY {name}")
        }
        _ => " FROM records".to_owned(),
    };
    let order = order_by(&q.sort, q.filter.as_ref(), layout);
    match (&q.distinct, q.count) {
        (None, true) if q.filter.is_none() => {
            // Kept by the store on every insert and delete.
            sql.push("SELECT coalesce((SELECT n FROM record_counts WHERE coll = ");
            sql.bind(SqlValue::Text(coll.to_owned()));
            sql.push("), 0)");
            return sql;
        }
        (None, true) => {
            sql.push("SELECT count(*) FROM records");
            where_clause(&mut sql, coll, q.filter.as_ref(), layout);
            return sql;
        }
        (Some(d), true) => {
            sql.push("SELECT count(*) FROM (SELECT 1 FROM records");
            where_clause(&mut sql, coll, q.filter.as_ref(), layout);
            let _ = write!(sql.text, " GROUP BY {})", partition(d, layout));
            return sql;
        }
        (None, false) => {
            sql.push("SELECT json(doc)");
            sql.push(&from);
            where_clause(&mut sql, coll, q.filter.as_ref(), layout);
            if let Some(c) = &q.after {
                after_clause(&mut sql, &q.sort, c, layout, assume);
            }
            sql.push(&order);
        }
        (Some(d), false) => {
            let _ = write!(
                sql.text,
                "SELECT json(doc) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {}{order}) AS rk_row FROM records",
                partition(d, layout)
            );
            where_clause(&mut sql, coll, q.filter.as_ref(), layout);
            sql.push(") WHERE rk_row = 1");
            sql.push(&order);
        }
    }
    sql.push(" LIMIT ");
    sql.bind(SqlValue::Integer(i64::try_from(page).unwrap_or(i64::MAX)));
    sql.push(" OFFSET ");
    sql.bind(SqlValue::Integer(
        i64::try_from(q.offset).unwrap_or(i64::MAX),
    ));
    sql
}

/// Registers the functions compiled filters call: `rk_like(text, needle)` and
/// `rk_regex(text, source, flags)`, the evaluator's own code.
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("rk_like", 2, flags, |ctx| {
        let (Ok(h), Ok(n)) = (ctx.get_raw(0).as_str(), ctx.get_raw(1).as_str()) else {
            return Ok(false);
        };
        Ok(like_matches(h, n))
    })?;
    conn.create_scalar_function("rk_regex", 3, flags, |ctx| {
        let pattern = ctx.get_or_create_aux(1, |v| -> Result<Pattern, SqlError> {
            let src = v
                .as_str()
                .map_err(|e| SqlError::UserFunctionError(e.into()))?;
            let fl = ctx
                .get_raw(2)
                .as_str()
                .map_err(|e| SqlError::UserFunctionError(e.into()))?;
            Pattern::new(src, fl).map_err(|e| SqlError::UserFunctionError(e.into()))
        })?;
        Ok(match ctx.get_raw(0).as_str() {
            Ok(s) => pattern.is_match(s),
            Err(_) => false,
        })
    })?;
    Ok(())
}
