//! The query parsers meet arbitrary input: they answer a filter or an error, never
//! panic, and never take long.

use proptest::prelude::*;
use sdk_core::query::{FindQuery, parse_mongo, parse_where};

/// Pieces of the where language, so random input often gets deep into the grammar.
fn where_like() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "a", "b.c", "=", "!=", "<>", ">=", "<", "AND", "OR", "NOT", "(", ")", ",", "IN", "LIKE",
        "IS", "NULL", "true", "\"x\"", "\"", "'", "-", "1e999", "0.5", "@me", "@you", "$", "\\",
        "é",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn where_never_panics(s in where_like()) {
        let _ = parse_where(&s);
    }

    #[test]
    fn any_text_never_panics(s in ".{0,200}") {
        let _ = parse_where(&s);
        let _ = parse_mongo(&s);
        let _ = FindQuery::from_pairs([("sortBy", s.as_str()), ("load", s.as_str()), ("select", s.as_str())]);
        let _ = FindQuery::from_pairs([(s.as_str(), s.as_str())]);
    }

    #[test]
    fn json_shaped_q_never_panics(v in json_value()) {
        let _ = parse_mongo(&v.to_string());
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(|n| json!(n)),
        prop::sample::select(vec!["$eq", "$in", "$regex", "(", "a", "$options", "i", "z"])
            .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(5, 40, 5, |inner| {
        let keys = prop::sample::select(vec![
            "a", "b.c", "$and", "$or", "$nor", "$not", "$gt", "$in", "$nin", "$regex", "$options",
            "$exists", "$like", "$orderby", "$limit", "$skip", "$fields", "$foo",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{}a = 1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(parse_where(&deep).is_err());
    let nots = format!("{}a = 1", "NOT ".repeat(100_000));
    assert!(parse_where(&nots).is_err());
    let q = format!(
        "{}{}",
        "{\"$not\":".repeat(120),
        "{}".to_owned() + &"}".repeat(120)
    );
    let e = parse_mongo(&q).expect_err("too deep");
    assert!(e.message.contains("deeper"), "{e}");
    let q = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_mongo(&q).is_err(), "serde_json's own depth limit");
}
