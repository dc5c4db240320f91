//! The options object of the JavaScript SDK's `find` as query-string pairs, so
//! every SDK maps it the same way.

use crate::Error;

/// The query-string parameters for the JavaScript SDK's `db.find(collection,
/// query, options)`: `query` is a `where` string, a Mongo-style object or
/// `null`; `options` may hold `where`, `q`, `sortBy`, `offset`, `pageSize`,
/// `select`, `distinct`, `load`, `after` (strings, numbers or arrays of them),
/// `count: true` and `params` (more `field: value` equalities).
pub fn find_params(
    query: &serde_json::Value,
    options: &serde_json::Value,
) -> Result<Vec<(String, String)>, Error> {
    use serde_json::Value;
    let bad = |m: &str| Error::InvalidArgument(m.to_owned());
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => Some("null".into()),
            _ => None,
        }
    };
    let mut out = Vec::new();
    match query {
        Value::Null => {}
        Value::String(w) => out.push(("where".into(), w.clone())),
        Value::Object(_) => out.push(("q".into(), query.to_string())),
        _ => return Err(bad("the query must be a where string or a query object")),
    }
    let opts = match options {
        Value::Null => return Ok(out),
        Value::Object(m) => m,
        _ => return Err(bad("options must be an object")),
    };
    for (k, v) in opts {
        match (k.as_str(), v) {
            (_, Value::Null) => {}
            ("q", Value::Object(_)) => out.push(("q".into(), v.to_string())),
            ("count", Value::Bool(b)) => {
                if *b {
                    out.push(("count".into(), "true".into()));
                }
            }
            ("params", Value::Object(m)) => {
                for (f, fv) in m {
                    let t = text(fv)
                        .ok_or_else(|| bad("params values must be strings, numbers or booleans"))?;
                    out.push((f.clone(), t));
                }
            }
            (
                "where" | "q" | "sortBy" | "offset" | "pageSize" | "select" | "distinct" | "load"
                | "after",
                v,
            ) => {
                let t = match v {
                    Value::Array(items) => items
                        .iter()
                        .map(|i| text(i).ok_or_else(|| bad("list options hold strings")))
                        .collect::<Result<Vec<_>, _>>()?
                        .join(","),
                    other => text(other).ok_or_else(|| {
                        bad(&format!("option '{k}' must be a string, number or array"))
                    })?,
                };
                out.push((k.clone(), t));
            }
            (other, _) => return Err(bad(&format!("unknown find option '{other}'"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn find_options_become_the_query_strings_parameters() {
        let pairs = find_params(
            &json!("likes >= 10"),
            &json!({"sortBy": "likes desc", "pageSize": 20, "select": ["title", "likes"],
                    "count": false, "params": {"lang": "fr", "draft": false}, "offset": null}),
        )
        .expect("valid options");
        let want = [
            ("where", "likes >= 10"),
            ("sortBy", "likes desc"),
            ("pageSize", "20"),
            ("select", "title,likes"),
            ("lang", "fr"),
            ("draft", "false"),
        ];
        let got: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, want);
        let q = find_params(&json!({"a": 1}), &json!({"count": true})).expect("valid");
        assert_eq!(
            q,
            [
                ("q".to_owned(), r#"{"a":1}"#.to_owned()),
                ("count".to_owned(), "true".to_owned())
            ]
        );
        for (query, options) in [
            (json!(3), json!(null)),
            (json!(null), json!([1])),
            (json!(null), json!({"limitt": 3})),
            (json!(null), json!({"select": [{"a": 1}]})),
            (json!(null), json!({"params": {"a": [1]}})),
        ] {
            assert!(
                matches!(
                    find_params(&query, &options),
                    Err(Error::InvalidArgument(_))
                ),
                "{query} {options}"
            );
        }
    }
}
