//! The SQL compiler and the evaluator in `sdk_core::query` must agree on every
//! query: random records and random queries run through both.

use super::*;
use proptest::prelude::*;
use sdk_core::query::{FindResult, Relation};
use serde_json::{Value, json};

const FIELDS: [&str; 6] = ["a", "b", "c", "o.x", "o", "t"];
const STRINGS: [&str; 10] = ["", "a", "A", "ab", "B", "é", "É", "aé", "[]", "[\"a\"]"];

fn scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        Just(Scalar::Null),
        any::<bool>().prop_map(Scalar::Bool),
        (-3i64..4).prop_map(Scalar::from),
        prop::sample::select(vec![-1.5f64, 0.5, 1.5, 2.5]).prop_map(Scalar::from),
        prop::sample::select(STRINGS.to_vec()).prop_map(Scalar::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = || scalar().prop_map(|s| s.to_json());
    prop_oneof![
        4 => leaf(),
        1 => leaf().prop_map(|v| json!({ "x": v })),
        1 => prop::collection::vec(leaf(), 0..3).prop_map(Value::Array),
    ]
}

fn doc() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (prop::sample::select(vec!["a", "b", "c", "o", "t"]), value()),
        0..5,
    )
    .prop_map(|kv| {
        let mut m = serde_json::Map::new();
        for (k, v) in kv {
            m.insert(k.to_owned(), v);
        }
        Value::Object(m)
    })
}

fn field_of(fields: &'static [&'static str]) -> impl Strategy<Value = Path> + Clone {
    prop::sample::select(fields.to_vec()).prop_map(|f| Path::parse(f).expect("path"))
}

fn op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Lte,
        CmpOp::Gt,
        CmpOp::Gte,
    ])
}

fn leaf(fields: &'static [&'static str]) -> impl Strategy<Value = Filter> {
    let field = || field_of(fields);
    prop_oneof![
        4 => (field(), op(), scalar()).prop_map(|(field, op, value)| Filter::Compare { field, op, value }),
        1 => (field(), prop::collection::vec(scalar(), 0..4)).prop_map(|(field, values)| Filter::In { field, values }),
        1 => (field(), prop::sample::select(vec!["", "a", "É", "b"])).prop_map(|(field, n)| Filter::Like { field, needle: n.to_owned() }),
        1 => (field(), prop::sample::select(vec!["^a", "b$", "(?:a|é)", "A"]), prop::sample::select(vec!["", "i"]))
            .prop_map(|(field, p, f)| Filter::Regex { field, pattern: Pattern::new(p, f).expect("pattern") }),
        1 => (field(), any::<bool>()).prop_map(|(field, exists)| Filter::Exists { field, exists }),
        1 => Just(Filter::All),
    ]
}

fn filter_tree(fields: &'static [&'static str]) -> impl Strategy<Value = Filter> {
    leaf(fields).prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn query(fields: &'static [&'static str]) -> impl Strategy<Value = FindQuery> {
    let field = || field_of(fields);
    (
        prop::option::of(filter_tree(fields)),
        prop::collection::vec((field(), any::<bool>()), 0..3),
        prop::option::of(prop::collection::vec(field(), 1..3)),
        0u64..4,
        1u64..8,
        prop::bool::weighted(0.15),
    )
        .prop_map(|(filter, sort, distinct, offset, page, count)| FindQuery {
            filter,
            sort: if count {
                Vec::new()
            } else {
                sort.into_iter()
                    .map(|(field, descending)| SortKey { field, descending })
                    .collect()
            },
            offset: if count { 0 } else { offset },
            page_size: Some(page),
            select: None,
            distinct,
            count,
            load: Vec::<Relation>::new(),
            after: None,
        })
}

/// A cursor for `q` (none for counts and distinct reads): after one of the
/// records when `pick` names one, else made of arbitrary values.
type Pick = Option<(prop::sample::Index, bool, Vec<Value>, usize)>;

fn pick() -> impl Strategy<Value = Pick> {
    prop::option::weighted(
        0.4,
        (
            any::<prop::sample::Index>(),
            any::<bool>(),
            prop::collection::vec(value(), 3),
            0usize..12,
        ),
    )
}

fn with_cursor(mut q: FindQuery, docs: &[Value], pick: Pick) -> FindQuery {
    let Some((i, from_doc, values, id)) = pick else {
        return q;
    };
    if q.count || q.distinct.is_some() {
        return q;
    }
    q.after = if from_doc && !docs.is_empty() {
        Cursor::after_record(&docs[i.index(docs.len())], &q.sort)
    } else {
        Some(Cursor {
            values: values.into_iter().take(q.sort.len()).collect(),
            id: format!("{id:024x}"),
        })
    };
    q
}

fn run_sql(docs: &[Value], q: &FindQuery) -> FindResult {
    run_sql_in(docs, q, &Layout::default())
}

/// Runs `q` over `docs` stored as the store stores them, with `layout`.
fn run_sql_in(docs: &[Value], q: &FindQuery, layout: &Layout) -> FindResult {
    crate::store::sqlite::in_memory::find_over(docs, q, layout).expect("the store answers")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn sql_and_evaluator_agree(docs in prop::collection::vec(doc(), 0..12), q in query(&FIELDS), pick in pick()) {
        let docs: Vec<Value> = docs
            .into_iter()
            .enumerate()
            .map(|(i, mut d)| {
                d["_id"] = json!(format!("{i:024x}"));
                d
            })
            .collect();
        let q = with_cursor(q, &docs, pick);
        let want = q.apply(&docs, q.page_size.unwrap_or(100));
        let got = run_sql(&docs, &q);
        prop_assert_eq!(got, want, "query {:?}", q);
    }
}

/// Fields of records whose system fields are columns and whose `n`, `s` and
/// `b` the schema types.
const TYPED_FIELDS: [&str; 9] = [
    "_id",
    "userId",
    "createdAt",
    "updatedAt",
    "__v",
    "n",
    "s",
    "b",
    "a",
];

fn typed_layout() -> Layout {
    let p = |f: &str| Path::parse(f).expect("path");
    Layout {
        types: [
            ("n", FieldType::Number),
            ("s", FieldType::Text),
            ("b", FieldType::Bool),
        ]
        .into_iter()
        .map(|(k, t)| (k.to_owned(), t))
        .collect(),
        // `n` and `b` in property columns, `s` read from the document.
        columns: [("n".to_owned(), 3), ("b".to_owned(), 0)]
            .into_iter()
            .collect(),
        indexes: vec![vec![p("n")], vec![p("userId"), p("s")]],
    }
}

fn typed_doc() -> impl Strategy<Value = Value> {
    let times = vec![
        "2026-01-01T00:00:00.000Z",
        "2026-01-01T00:00:00.001Z",
        "2025-12-31T23:59:59.999Z",
    ];
    (
        prop::option::of(prop::sample::select(vec!["u1", "u2", "U"])),
        prop::option::of(prop::sample::select(times.clone())),
        prop::sample::select(times),
        0u64..3,
        prop::option::of(prop_oneof![
            Just(Value::Null),
            (-3i64..4).prop_map(Value::from),
            prop::sample::select(vec![-1.5f64, 0.5, 1.5]).prop_map(Value::from),
        ]),
        prop::option::of(prop_oneof![
            Just(Value::Null),
            prop::sample::select(STRINGS.to_vec()).prop_map(Value::from),
        ]),
        prop::option::of(prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from)
        ]),
        prop::option::of(value()),
    )
        .prop_map(|(owner, created, updated, v, n, s, b, a)| {
            let mut m = serde_json::Map::new();
            if let Some(o) = owner {
                m.insert("userId".into(), json!(o));
            }
            for (k, x) in [("n", n), ("s", s), ("b", b), ("a", a)] {
                if let Some(x) = x {
                    m.insert(k.into(), x);
                }
            }
            if let Some(c) = created {
                m.insert("createdAt".into(), json!(c));
            }
            m.insert("updatedAt".into(), json!(updated));
            m.insert("__v".into(), json!(v));
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn sql_over_columns_and_typed_fields_agrees_with_the_evaluator(
        docs in prop::collection::vec(typed_doc(), 0..12),
        q in query(&TYPED_FIELDS),
        pick in pick(),
    ) {
        let docs: Vec<Value> = docs
            .into_iter()
            .enumerate()
            .map(|(i, mut d)| {
                // Ids out of insertion order, so sorting by id is seen.
                d["_id"] = json!(format!("{:024x}", (i * 7) % 12));
                d
            })
            .collect();
        let q = with_cursor(q, &docs, pick);
        let want = q.apply(&docs, q.page_size.unwrap_or(100));
        let got = run_sql_in(&docs, &q, &typed_layout());
        prop_assert_eq!(got, want, "query {:?}", q);
    }
}

#[test]
fn type_guards_hold_at_their_edges() {
    // Booleans read as 0 and 1, objects and arrays as text: none may meet a
    // number or string literal, at exactly the literals where guards are dropped.
    let docs: Vec<Value> = [
        json!(true),
        json!(false),
        json!("x"),
        json!([]),
        json!({"x": 1}),
        json!(1),
        json!(0),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, v)| json!({"_id": format!("{i:024x}"), "a": v}))
    .collect();
    for w in [
        "a >= 1",
        "a > 1",
        "a > 0",
        "a >= 0",
        "a > 0.5",
        "a >= 2",
        "a > 1.5",
        "a < 1",
        "a <= 0",
        "a < 0",
        "a <= -1",
        "a < 0.5",
        "a = 1",
        "a = 0",
        "a = 2",
        "a = \"[]\"",
        "a IN (0, 1)",
        "a IN (1, 2)",
        "a IN (\"[]\", \"x\")",
        "a IN (\"x\")",
        "a != 1",
        "a > \"a\"",
    ] {
        let q = FindQuery::from_pairs([("where", w)])
            .expect("parses")
            .page_size(100);
        assert_eq!(run_sql(&docs, &q), q.apply(&docs, 100), "{w}");
    }
}

#[test]
fn only_parameters_carry_values() {
    let q = FindQuery::from_pairs([("where", "a = \"x'); DROP TABLE records; --\" OR b > 1")])
        .expect("parses");
    let sql = find("m", &q, 10, &Layout::default());
    assert!(!sql.text.contains("DROP"), "{}", sql.text);
    assert_eq!(
        sql.params.get(1),
        Some(&SqlValue::Text("x'); DROP TABLE records; --".into()))
    );
}
