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
