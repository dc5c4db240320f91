//! A query run over records held in a fresh in-memory database, laid out and
//! read exactly as the store lays them out and reads them. The differential
//! tests and fuzz targets compare its answer with `sdk_core`'s evaluator.

use super::*;
use sdk_core::query::FindResult;

/// Stores `docs` (objects) in collection `m` of a new in-memory database with
/// `layout`, then answers `q` as a read of the store would, page size
/// `q.page_size` or 100.
pub fn find_over(docs: &[Value], q: &FindQuery, layout: &Layout) -> Result<FindResult, String> {
    find_in(&store(docs, layout)?, docs, q, layout)
}

/// A new in-memory database holding `docs` (objects) in collection `m`, laid
/// out with `layout`.
pub fn store(docs: &[Value], layout: &Layout) -> Result<Connection, String> {
    let c = Connection::open_in_memory().map_err(|e| e.to_string())?;
    crate::store::sql::register_functions(&c).map_err(|e| e.to_string())?;
    prepare_schema(&c).map_err(|e| e.to_string())?;
    for d in docs {
        let rec = d.as_object().cloned().ok_or("a record is not an object")?;
        put_record(&c, Put::Insert, "m", rec, layout).map_err(|e| e.to_string())?;
    }
    Ok(c)
}

/// Answers `q` over `c`, made by [`store`] from `docs` and `layout`, as a read
/// of the store would, page size `q.page_size` or 100.
pub fn find_in(
    c: &Connection,
    docs: &[Value],
    q: &FindQuery,
    layout: &Layout,
) -> Result<FindResult, String> {
    let page = q.page_size.unwrap_or(100);
    let mut sql = crate::store::sql::find("m", q, page, layout);
    // As the store: where a record lacks a time stamp the read assumes set,
    // the read that does not assume it.
    let stamp = |col: &str| match col {
        "created" => CREATED_AT,
        _ => UPDATED_AT,
    };
    if sql
        .assumes_set
        .iter()
        .any(|col| docs.iter().any(|d| d.get(stamp(col)).is_none()))
    {
        sql = crate::store::sql::find_exact("m", q, page, layout);
    }
    let mut st = c.prepare(&sql.text).map_err(|e| e.to_string())?;
    let params = rusqlite::params_from_iter(sql.params.iter());
    if q.count {
        let n: i64 = st
            .query_row(params, |r| r.get(0))
            .map_err(|e| e.to_string())?;
        return Ok(FindResult::Count(n as u64));
    }
    let rows = st
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for row in rows {
        let text = row.map_err(|e| e.to_string())?;
        out.push(serde_json::from_str(&text).map_err(|e| e.to_string())?);
    }
    Ok(FindResult::Records(out))
}
