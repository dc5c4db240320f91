//! What the fuzz targets share: a fixed set of records that covers every JSON
//! type, missing fields, system fields and typed properties, and the layout
//! that types some of them.

use reference_server::store::sql::{FieldType, Layout};
use sdk_core::query::Path;
use serde_json::{Value, json};

/// Records as the store holds them: ids, owners and time stamps (one without
/// `createdAt`), `n` always a number or null, `s` a string or null, `b` a
/// boolean or null (so they fit [`typed_layout`]), `a` and `o` anything.
pub fn records() -> Vec<Value> {
    let t = |ms: u32| format!("2026-01-01T00:00:00.{ms:03}Z");
    let rows = [
        json!({"n": 1, "s": "a", "b": true, "a": 1, "o": {"x": 1}}),
        json!({"n": 2.5, "s": "A", "b": false, "a": "1", "o": {"x": "a"}}),
        json!({"n": -3, "s": "ab", "a": [1, 2], "o": {"x": [1, "a"]}}),
        json!({"n": null, "s": "é", "b": null, "a": null, "o": null}),
        json!({"s": "É", "a": true, "o": {"y": 1}}),
        json!({"n": 0, "s": "", "a": false, "o": {}}),
        json!({"n": 1e20, "s": "[\"a\"]", "a": [], "o": []}),
        json!({"n": -0.5, "s": "aé", "a": {"x": 1}, "o": {"x": null}}),
        json!({"n": 9007199254740993u64, "s": "b%_", "a": "a\\b", "o": {"x": {"y": 2}}}),
        json!({"a": "2026-01-01", "o": {"x": true}}),
        json!({"n": 7, "s": null, "b": true, "a": [[1]], "o": "x"}),
        json!({"n": 2, "s": "B", "b": false, "a": -1.5}),
    ];
    rows.into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            let i = i as u32;
            r["_id"] = json!(format!("{:024x}", (i * 7) % 12));
            r["userId"] = json!(["u1", "u2", "U"][i as usize % 3]);
            if i != 4 {
                r["createdAt"] = json!(t(i % 5));
            }
            r["updatedAt"] = json!(t(11 - i));
            r["__v"] = json!(i % 3);
            r
        })
        .collect()
}

/// A layout that types `n`, `s` and `b`, keeps `n` and `b` in property
/// columns and declares two indexes.
pub fn typed_layout() -> Layout {
    let p = |f: &str| Path::parse(f).expect("a fixed path parses");
    Layout {
        types: [
            ("n", FieldType::Number),
            ("s", FieldType::Text),
            ("b", FieldType::Bool),
        ]
        .into_iter()
        .map(|(k, t)| (k.to_owned(), t))
        .collect(),
        columns: [("n".to_owned(), 3), ("b".to_owned(), 0)]
            .into_iter()
            .collect(),
        indexes: vec![vec![p("n")], vec![p("userId"), p("s")]],
    }
}
