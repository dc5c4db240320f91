//! The options object of the JavaScript SDK's `find` as query-string pairs, so
//! every SDK maps it the same way.

use crate::Error;
use crate::json::JsonView;

/// The query-string parameters for the JavaScript SDK's `db.find(collection,
/// query, options)`: `query` is a `where` string, a Mongo-style object or
/// `null`; `options` may hold `where`, `q`, `sortBy`, `offset`, `pageSize`,
/// `select`, `distinct`, `load`, `after` (strings, numbers or arrays of them),
/// `count: true` and `params` (more `field: value` equalities).
pub fn find_params<J: JsonView>(query: &J, options: &J) -> Result<Vec<(String, String)>, Error> {
    let bad = |m: &str| Error::InvalidArgument(m.to_owned());
    let mut out = Vec::new();
    if let Some(w) = query.string() {
        out.push(("where".into(), w));
    } else if query.is_object() {
        out.push(("q".into(), query.to_json()));
    } else if !query.is_null() {
        return Err(bad("the query must be a where string or a query object"));
    }
    if options.is_null() {
        return Ok(out);
    }
    let Some(members) = options.members() else {
        return Err(bad("options must be an object"));
    };
    for (k, v) in members {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "q" if v.is_object() => out.push(("q".into(), v.to_json())),
            "count" if v.boolean().is_some() => {
                if v.boolean() == Some(true) {
                    out.push(("count".into(), "true".into()));
                }
            }
            "params" if v.is_object() => {
                for (f, fv) in v.members().unwrap_or_default() {
                    let t = fv
                        .scalar_text()
                        .ok_or_else(|| bad("params values must be strings, numbers or booleans"))?;
                    out.push((f, t));
                }
            }
            "where" | "q" | "sortBy" | "offset" | "pageSize" | "select" | "distinct" | "load"
            | "after" => {
                let t = match v.items() {
                    Some(items) => items
                        .iter()
                        .map(|i| {
                            i.scalar_text()
                                .ok_or_else(|| bad("list options hold strings"))
                        })
                        .collect::<Result<Vec<_>, _>>()?
                        .join(","),
                    None => v.scalar_text().ok_or_else(|| {
                        bad(&["option '", &k, "' must be a string, number or array"].concat())
                    })?,
                };
                out.push((k, t));
            }
            other => return Err(bad(&["unknown find option '", other, "'"].concat())),
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
            &&json!("likes >= 10"),
            &&json!({"sortBy": "likes desc", "pageSize": 20, "select": ["title", "likes"],
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
        let q = find_params(&&json!({"a": 1}), &&json!({"count": true})).expect("valid");
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
                    find_params(&&query, &&options),
                    Err(Error::InvalidArgument(_))
                ),
                "{query} {options}"
            );
        }
    }
}
