//! `export <collection> <file>` and `import <collection> <file>`: a collection
//! as JSON Lines, one whole record (system fields included) per line, in `_id`
//! order. An export reads page by page, each page a snapshot of its own: records
//! written meanwhile may or may not be in it. An import takes such a file back:
//! every line is checked before anything is written (a valid `_id` given once,
//! RFC 3339 times, a version), and the records are inserted all or nothing. As
//! the admin's tool it applies no access rules, scripts or JSON Schema; the
//! store still refuses a typed field of another type.

use crate::store::{Found, Store, StoreError};
use sdk_core::query::{Cursor, FindQuery};
use sdk_core::record::{CREATED_AT, ID, OWNER, UPDATED_AT, VERSION};
use serde_json::{Map, Value};
use std::io::{BufRead, Write};
use std::path::Path;

/// Records read per page while exporting.
const PAGE: u64 = 1_000;

/// Writes every record of `collection` to `out` (through a temporary file
/// renamed when whole); returns a summary.
pub async fn export(store: &dyn Store, collection: &str, out: &Path) -> Result<String, String> {
    if let Err(e) = sdk_core::names::check_collection_name(collection) {
        // A collection made before its name was reserved can still be taken out.
        let exists = store
            .collections()
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .any(|c| c == collection);
        if !(e.code == sdk_core::ErrorCode::ReservedName && exists) {
            return Err(e.message);
        }
    }
    let tmp = tempfile::NamedTempFile::new_in(crate::backup::directory_of(out))
        .map_err(|e| format!("cannot write beside {}: {e}", out.display()))?;
    let mut w = std::io::BufWriter::new(tmp);
    let mut after: Option<Cursor> = None;
    let mut n = 0u64;
    loop {
        let mut q = FindQuery::new().page_size(PAGE);
        if let Some(c) = after.take() {
            q = q.after(c);
        }
        let page = match store.find(collection, q, PAGE, Vec::new()).await {
            Ok(Found::Records(text)) => text,
            Ok(Found::Count(_)) => return Err("the store answered a count".into()),
            Err(e) => return Err(e.to_string()),
        };
        let records: Vec<Value> = serde_json::from_str(&page).map_err(|e| e.to_string())?;
        for r in &records {
            serde_json::to_writer(&mut w, r).map_err(|e| e.to_string())?;
            w.write_all(b"\n").map_err(|e| e.to_string())?;
        }
        n += records.len() as u64;
        match records.last() {
            Some(last) if records.len() as u64 == PAGE => {
                after = Cursor::after_record(last, &[]);
            }
            _ => break,
        }
    }
    let tmp = w.into_inner().map_err(|e| e.to_string())?;
    tmp.as_file().sync_all().map_err(|e| e.to_string())?;
    tmp.persist(out)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(format!(
        "exported {n} record(s) of {collection} to {}",
        out.display()
    ))
}

/// Reads `file` (as `export` writes it) into `collection`; returns a summary.
/// Nothing is written unless every line is a whole record and every record
/// can be stored.
pub async fn import(store: &dyn Store, collection: &str, file: &Path) -> Result<String, String> {
    sdk_core::names::check_collection_name(collection).map_err(|e| e.message)?;
    let f =
        std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut records: Vec<Map<String, Value>> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let at = i + 1;
        let line = line.map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec = match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(format!("line {at}: not a JSON object")),
            Err(e) => return Err(format!("line {at}: not JSON ({e})")),
        };
        check_record(&rec).map_err(|why| format!("line {at}: {why}"))?;
        let id = rec.get(ID).and_then(Value::as_str).unwrap_or_default();
        if !ids.insert(id.to_owned()) {
            return Err(format!("line {at}: the id '{id}' comes twice"));
        }
        records.push(rec);
    }
    let n = records.len();
    store
        .insert_many(collection, records)
        .await
        .map_err(|e| match e {
            StoreError::Rejected(body) => {
                let fields = body
                    .errors
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!(" {k}: {v}"))
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                format!("nothing imported: {}{fields}", body.message)
            }
            other => format!("nothing imported: {other}"),
        })?;
    Ok(format!("imported {n} record(s) into {collection}"))
}

/// Whether `rec` is a whole record: a valid `_id`, the times as strings, a
/// version, and an owner (if any) as a string.
fn check_record(rec: &Map<String, Value>) -> Result<(), String> {
    let id = rec.get(ID).and_then(Value::as_str).ok_or("no string _id")?;
    sdk_core::names::check_id(id).map_err(|e| e.message)?;
    for f in [CREATED_AT, UPDATED_AT] {
        let ok = rec.get(f).and_then(Value::as_str).is_some_and(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
        });
        if !ok {
            return Err(format!("no {f} (an RFC 3339 time)"));
        }
    }
    if !rec.get(VERSION).is_some_and(Value::is_u64) {
        return Err(format!("no {VERSION} (a non-negative integer)"));
    }
    if rec.get(OWNER).is_some_and(|v| !v.is_string()) {
        return Err(format!("{OWNER} is not a string"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_line_must_be_a_whole_record() {
        let t = "2026-12-04T15:55:09.215Z";
        let ok = json!({"_id": "a1", "createdAt": t, "updatedAt": t, "__v": 0, "x": 1});
        assert!(check_record(ok.as_object().expect("object")).is_ok());
        for (bad, why) in [
            (json!({"createdAt": t, "updatedAt": t, "__v": 0}), "_id"),
            (
                json!({"_id": "../x", "createdAt": t, "updatedAt": t, "__v": 0}),
                "ids",
            ),
            (json!({"_id": "a", "updatedAt": t, "__v": 0}), "createdAt"),
            (
                json!({"_id": "a", "createdAt": "yesterday", "updatedAt": t, "__v": 0}),
                "createdAt",
            ),
            (
                json!({"_id": "a", "createdAt": t, "updatedAt": t, "__v": -1}),
                "__v",
            ),
            (
                json!({"_id": "a", "createdAt": t, "updatedAt": t, "__v": 0, "userId": 5}),
                "userId",
            ),
        ] {
            let err = check_record(bad.as_object().expect("object")).expect_err("refused");
            assert!(err.contains(why), "{err}");
        }
    }
}
