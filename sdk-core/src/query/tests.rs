use super::*;
use serde_json::json;

#[test]
fn where_precedence_and_over_or() {
    let f = parse_where("a = 1 OR b = 2 AND c = 3").expect("parses");
    assert_eq!(
        f,
        Filter::Or(vec![
            Filter::eq("a", 1),
            Filter::And(vec![Filter::eq("b", 2), Filter::eq("c", 3)])
        ])
    );
}

#[test]
fn where_errors_carry_the_character_position() {
    let e = parse_where("name = \"é\" AND (x >").expect_err("fails");
    assert_eq!(e.param, "where");
    assert_eq!(e.position, Some(19));
    let e = parse_where("héllo = 1").expect_err("fails");
    assert_eq!(e.position, Some(1));
    let e = parse_where("a = 'x'").expect_err("fails");
    assert_eq!(e.position, Some(4));
}

#[test]
fn mongo_round_trips_through_to_mongo() {
    let src = json!({"$or": [{"a": {"$gt": 1, "$lt": 5}}, {"b.c": {"$regex": "^x", "$options": "i"}}],
                     "d": {"$nin": [1, "1", null]}, "e": {"$exists": false}, "f": {"$like": "Ab"},
                     "$not": {"g": true}});
    let f = parse_mongo(&src.to_string())
        .expect("parses")
        .filter
        .expect("filter");
    let again = parse_mongo(&f.to_mongo().to_string())
        .expect("parses")
        .filter
        .expect("filter");
    assert_eq!(f, again);
}

#[test]
fn evaluator_follows_type_bracketing() {
    let doc = json!({"age": "30", "n": 2.0, "b": false, "o": {"x": 1}});
    assert!(!Filter::gt("age", 5).matches(&doc));
    assert!(Filter::eq("n", 2).matches(&doc));
    assert!(Filter::eq("missing", Scalar::Null).matches(&doc));
    assert!(Filter::ne("missing", 1).matches(&doc));
    assert!(!Filter::gte("missing", Scalar::Null).matches(&doc));
    assert!(Filter::lt("b", true).matches(&doc));
    assert!(Filter::eq("o.x", 1).matches(&doc));
    assert!(!Filter::eq("o", 1).matches(&doc));
}

#[test]
fn regex_is_linear_time_and_bounded() {
    let f = Filter::regex("s", "(a+)+$", "").expect("compiles");
    let long = "a".repeat(10_000) + "!";
    assert!(!f.matches(&json!({ "s": long })));
    assert!(Pattern::new(&"a".repeat(MAX_REGEX_LEN + 1), "").is_err());
}

#[test]
fn bounds_refuse_huge_filters() {
    let deep = format!("{}a = 1{}", "(".repeat(40), ")".repeat(40));
    assert!(parse_where(&deep).is_err());
    let wide = (0..600)
        .map(|i| format!("a = {i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    assert!(parse_where(&wide).is_err());
}

#[test]
fn query_string_round_trips() {
    let q = FindQuery::new()
        .filter(Filter::gte("age", 18).and(Filter::like("name", "jo")))
        .sort_desc("age")
        .sort_asc("name")
        .offset(5)
        .page_size(10)
        .select(["name", "age"])
        .load("author", "userId", "people");
    let back = FindQuery::from_pairs(q.to_pairs()).expect("parses");
    assert_eq!(q, back);
}

#[test]
fn pages_resume_after_their_last_record() {
    let docs: Vec<serde_json::Value> = (0..7)
        .map(|i| json!({"_id": format!("{i:02}"), "g": i % 3}))
        .collect();
    let mut q = FindQuery::new().sort_desc("g").page_size(3);
    let mut seen = Vec::new();
    loop {
        let FindResult::Records(page) = q.apply(&docs, 100) else {
            panic!("records");
        };
        seen.extend(
            page.iter()
                .map(|d| d["_id"].as_str().unwrap_or("").to_owned()),
        );
        // The cursor survives its trip through the query string.
        let Some(next) = q.next_page(&page) else {
            break;
        };
        q = FindQuery::from_pairs(next.to_pairs()).expect("round trip");
        assert_eq!(q, next);
    }
    // g desc, ties by _id desc: 2: 05 02, 1: 04 01, 0: 06 03 00.
    assert_eq!(seen, ["05", "02", "04", "01", "06", "03", "00"]);
}

#[test]
fn cursors_that_do_not_fit_are_refused() {
    for pairs in [
        vec![("after", "[1, 2]")],
        vec![("after", "{}")],
        vec![("after", "[]")],
        vec![("sortBy", "a,b"), ("after", r#"[1, "x"]"#)],
        vec![("count", ""), ("after", r#"["x"]"#)],
        vec![("distinct", "a"), ("after", r#"["x"]"#)],
    ] {
        let e = FindQuery::from_pairs(pairs.clone()).expect_err("refused");
        assert_eq!(e.param, "after", "{pairs:?}");
    }
    let q = FindQuery::from_pairs([("sortBy", "a"), ("after", r#"[null, "x"]"#)]).expect("fits");
    assert_eq!(
        q.after,
        Some(Cursor {
            values: vec![serde_json::Value::Null],
            id: "x".into()
        })
    );
}

#[test]
fn a_mongo_document_reads_as_the_q_parameter_holding_it() {
    let docs = [
        json!({}),
        json!({"n": {"$gt": 2}, "$orderby": {"n": -1}, "$skip": 3, "$limit": 5}),
        json!({"$or": [{"a": 1}, {"b": {"$in": [1, 2]}}], "$fields": {"a": 1}}),
        // Errors too: the same parameter and message either way.
        json!({"n": {"$nope": 1}}),
        json!({"$limit": -1}),
        json!([1, 2]),
    ];
    for doc in docs {
        let by_pair = FindQuery::from_pairs([("q", doc.to_string())]);
        assert_eq!(FindQuery::from_mongo(doc.clone()), by_pair, "{doc}");
    }
}

#[test]
fn carbond_parameter_names_read_as_ours_and_near_misses_are_refused() {
    let ours =
        FindQuery::from_pairs([("q", r#"{"a":1}"#), ("sortBy", "b desc"), ("select", "a,b")])
            .expect("ours");
    let carbond = FindQuery::from_pairs([
        ("query", r#"{"a":1}"#),
        ("sort", r#"{"b":-1}"#),
        ("projection", r#"{"a":1,"b":1}"#),
    ])
    .expect("Carbond's");
    assert_eq!(carbond, ours);
    // An operator or a reserved name in another case is no field to match.
    for (k, v) in [
        ("$where", "x"),
        ("sortby", "a"),
        ("PageSize", "3"),
        ("Query", "{}"),
    ] {
        let e = FindQuery::from_pairs([(k, v)]).expect_err(k);
        assert_eq!(e.param, k);
    }
    for (k, v) in [
        ("sort", "{"),
        ("projection", r#"{"a":0}"#),
        ("query", "[1]"),
    ] {
        let e = FindQuery::from_pairs([(k, v)]).expect_err(k);
        assert_eq!(e.param, k, "{e}");
    }
    assert!(FindQuery::from_pairs([("title", "x")]).is_ok());
}

#[test]
fn visiting_fields_renames_every_one_and_reaches_each_literal() {
    let mut q = FindQuery::from_pairs([(
        "where",
        r#"_ownerId = "u1" AND (_createdOn >= 5 OR title LIKE "x") AND tag IN ("a", "b")"#,
    )])
    .expect("query");
    let filter = q.filter.as_mut().expect("a filter");
    let mut literals = Vec::new();
    filter.visit_fields_mut(&mut |field, values| {
        field.rename_root(|name| match name {
            "_ownerId" => Some("userId"),
            "_createdOn" => Some("createdAt"),
            _ => None,
        });
        literals.push((field.to_string(), values.len()));
    });
    literals.sort();
    assert_eq!(
        literals,
        [
            ("createdAt".to_owned(), 1),
            ("tag".to_owned(), 2),
            ("title".to_owned(), 0),
            ("userId".to_owned(), 1),
        ]
    );
    let mut nested = Path::parse("_ownerId.name").expect("path");
    nested.rename_root(|n| (n == "_ownerId").then_some("userId"));
    assert_eq!(nested.to_string(), "userId.name");
}
