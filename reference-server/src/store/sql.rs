//! Compiling the query language to SQLite SQL over the JSON column `doc`.
//!
//! Only bound parameters carry values. Field paths are inlined as JSON path
//! literals, which is safe because [`Path`] admits only ASCII letters, digits,
//! `_` and `-` in segments, and necessary so expression indexes on
//! `json_extract(doc, '$.field')` match the query.
//!
//! Every comparison checks the JSON type (`json_type`) as well as the value, so
//! the SQL agrees with the evaluator in `sdk_core::query` (a differential test
//! holds them to it). SQL's NULLs only arise from missing fields; in AND/OR they
//! act as false, and under NOT the operand is wrapped in `IFNULL(.., 0)` so the
//! negation of "unknown" is "true", exactly as the evaluator's.

use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Error as SqlError};
use sdk_core::query::{CmpOp, Filter, FindQuery, Path, Pattern, Scalar, SortKey, like_matches};
use std::fmt::Write;

/// SQL text and its bound parameters.
#[derive(Debug, Default)]
pub struct Sql {
    /// The text.
    pub text: String,
    /// The parameters, in order (`?` placeholders).
    pub params: Vec<SqlValue>,
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

fn extract(p: &Path) -> String {
    format!("json_extract(doc,'{}')", p.json_path())
}

fn jtype(p: &Path) -> String {
    format!("json_type(doc,'{}')", p.json_path())
}

/// The sort class of a field's JSON type, as `sdk_core::query::sort_rank`.
pub fn rank(p: &Path) -> String {
    format!(
        "(CASE {} WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 \
         WHEN 'object' THEN 3 WHEN 'array' THEN 3 WHEN 'true' THEN 4 WHEN 'false' THEN 4 ELSE 0 END)",
        jtype(p)
    )
}

fn number(n: &serde_json::Number) -> SqlValue {
    match n.as_i64() {
        Some(i) => SqlValue::Integer(i),
        None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// The JSON types a literal compares with, and its SQL value.
fn typed(value: &Scalar) -> Option<(&'static str, SqlValue)> {
    match value {
        Scalar::Null => None,
        Scalar::Bool(b) => Some(("IN ('true','false')", SqlValue::Integer(i64::from(*b)))),
        Scalar::Number(n) => Some(("IN ('integer','real')", number(n))),
        Scalar::String(s) => Some(("= 'text'", SqlValue::Text(s.clone()))),
    }
}

fn compare(sql: &mut Sql, field: &Path, op: CmpOp, value: &Scalar) {
    if op == CmpOp::Ne {
        sql.push("NOT IFNULL(");
        compare(sql, field, CmpOp::Eq, value);
        sql.push(",0)");
        return;
    }
    match (op, typed(value)) {
        (CmpOp::Eq, None) => {
            let _ = write!(sql.text, "({} IS NULL)", extract(field));
        }
        (_, None) => sql.push("0"),
        (op, Some((types, v))) => {
            let _ = write!(sql.text, "({} {} ", extract(field), op.sql());
            sql.bind(v);
            match guard(op, value) {
                Guard::None => sql.push(")"),
                Guard::NotText => {
                    let _ = write!(sql.text, " AND {} < '')", extract(field));
                }
                Guard::Type => {
                    let _ = write!(sql.text, " AND {} {types})", jtype(field));
                }
            }
        }
    }
}

/// What must be added to `json_extract(..) <op> literal` so only values of the
/// literal's JSON type match. `json_extract` gives numbers as numbers, booleans as
/// 0 and 1, strings as text and arrays and objects as their JSON text; SQLite
/// orders numbers before all text. Each lookup of a field costs, so the type
/// check (a second lookup) is left out where the comparison alone cannot match
/// another type.
enum Guard {
    /// The comparison alone is exact.
    None,
    /// Only text must be kept out (`x < ''` holds for every number).
    NotText,
    /// The JSON type must be checked.
    Type,
}

fn guard(op: CmpOp, value: &Scalar) -> Guard {
    match value {
        Scalar::String(s) if op == CmpOp::Eq && !s.starts_with(['{', '[']) => Guard::None,
        Scalar::Number(n) => {
            let Some(f) = n.as_f64() else {
                return Guard::Type;
            };
            // Booleans read as 0 and 1: rule them out by the literal where possible.
            match op {
                CmpOp::Eq if f != 0.0 && f != 1.0 => Guard::None,
                CmpOp::Gt if f >= 1.0 => Guard::NotText,
                CmpOp::Gte if f > 1.0 => Guard::NotText,
                CmpOp::Lt if f <= 0.0 => Guard::None,
                CmpOp::Lte if f < 0.0 => Guard::None,
                _ => Guard::Type,
            }
        }
        _ => Guard::Type,
    }
}

fn filter(sql: &mut Sql, f: &Filter) {
    match f {
        Filter::All => sql.push("1"),
        Filter::And(parts) | Filter::Or(parts) if parts.is_empty() => {
            sql.push(if matches!(f, Filter::And(_)) {
                "1"
            } else {
                "0"
            });
        }
        Filter::And(parts) | Filter::Or(parts) => {
            let joiner = if matches!(f, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                filter(sql, p);
            }
            sql.push(")");
        }
        Filter::Not(inner) => {
            sql.push("NOT IFNULL(");
            filter(sql, inner);
            sql.push(",0)");
        }
        Filter::Compare { field, op, value } => compare(sql, field, *op, value),
        Filter::In { field, values } => {
            // Group the values by type: one `IN (...)` per type keeps indexes usable.
            let mut groups: Vec<(&'static str, Vec<SqlValue>)> = Vec::new();
            let mut null = false;
            for v in values {
                match typed(v) {
                    None => null = true,
                    Some((t, sv)) => match groups.iter_mut().find(|(gt, _)| *gt == t) {
                        Some((_, vs)) => vs.push(sv),
                        None => groups.push((t, vec![sv])),
                    },
                }
            }
            sql.push("(");
            let mut first = true;
            if null {
                let _ = write!(sql.text, "{} IS NULL", extract(field));
                first = false;
            }
            for (t, vs) in groups {
                if !first {
                    sql.push(" OR ");
                }
                first = false;
                let exact = vs.iter().all(|v| match v {
                    SqlValue::Text(s) => !s.starts_with(['{', '[']),
                    SqlValue::Integer(i) => *i != 0 && *i != 1,
                    SqlValue::Real(f) => *f != 0.0 && *f != 1.0,
                    _ => false,
                }) && t != "IN ('true','false')";
                let _ = write!(sql.text, "({} IN (", extract(field));
                for (i, v) in vs.into_iter().enumerate() {
                    if i > 0 {
                        sql.push(",");
                    }
                    sql.bind(v);
                }
                if exact {
                    sql.push("))");
                } else {
                    let _ = write!(sql.text, ") AND {} {t})", jtype(field));
                }
            }
            if first {
                sql.push("0");
            }
            sql.push(")");
        }
        Filter::Like { field, needle } => {
            let _ = write!(
                sql.text,
                "({} = 'text' AND rk_like({},",
                jtype(field),
                extract(field)
            );
            sql.bind(SqlValue::Text(needle.clone()));
            sql.push("))");
        }
        Filter::Regex { field, pattern } => {
            let _ = write!(
                sql.text,
                "({} = 'text' AND rk_regex({},",
                jtype(field),
                extract(field)
            );
            sql.bind(SqlValue::Text(pattern.source().to_owned()));
            sql.push(",");
            sql.bind(SqlValue::Text(pattern.flags().to_owned()));
            sql.push("))");
        }
        Filter::Exists { field, exists } => {
            let _ = write!(
                sql.text,
                "({} IS {}NULL)",
                jtype(field),
                if *exists { "NOT " } else { "" }
            );
        }
    }
}

/// The WHERE clause for a collection and a filter.
pub fn where_clause(sql: &mut Sql, coll: &str, f: Option<&Filter>) {
    sql.push(" WHERE coll = ");
    sql.bind(SqlValue::Text(coll.to_owned()));
    if let Some(f) = f {
        sql.push(" AND ");
        filter(sql, f);
    }
}

/// Whether every record `f` matches holds `p` with one and the same JSON type:
/// then sorting by `p` needs no type rank, and an index on `p` can give the order.
fn one_type(f: Option<&Filter>, p: &Path) -> bool {
    let kind = |v: &Scalar| match v {
        Scalar::Null => 0,
        Scalar::Bool(_) => 1,
        Scalar::Number(_) => 2,
        Scalar::String(_) => 3,
    };
    match f {
        Some(Filter::Compare { field, op, value }) => {
            field == p && *op != CmpOp::Ne && !matches!(value, Scalar::Null)
        }
        Some(Filter::In { field, values }) => {
            field == p
                && values
                    .first()
                    .is_some_and(|v| kind(v) != 0 && values.iter().all(|w| kind(w) == kind(v)))
        }
        Some(Filter::Like { field, .. } | Filter::Regex { field, .. }) => field == p,
        Some(Filter::And(parts)) => parts.iter().any(|x| one_type(Some(x), p)),
        _ => false,
    }
}

fn order_by(sort: &[SortKey], f: Option<&Filter>) -> String {
    let mut s = String::from(" ORDER BY ");
    for k in sort {
        let dir = if k.descending { " DESC" } else { "" };
        if one_type(f, &k.field) {
            let _ = write!(s, "{}{dir}, ", extract(&k.field));
        } else {
            let _ = write!(s, "{}{dir}, {}{dir}, ", rank(&k.field), extract(&k.field));
        }
    }
    // Ties go by id in the direction of the last key, so an index on the sort
    // fields gives the whole order (no sorting step).
    s.push_str(if sort.last().is_some_and(|k| k.descending) {
        "id DESC"
    } else {
        "id"
    });
    s
}

fn partition(paths: &[Path]) -> String {
    paths
        .iter()
        .map(|p| format!("{}, {}", rank(p), extract(p)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statement for a read: one column, either `doc` per record or a count.
pub fn find(coll: &str, q: &FindQuery, page: u64) -> Sql {
    let mut sql = Sql::default();
    let order = order_by(&q.sort, q.filter.as_ref());
    match (&q.distinct, q.count) {
        (None, true) => {
            sql.push("SELECT count(*) FROM records");
            where_clause(&mut sql, coll, q.filter.as_ref());
            return sql;
        }
        (Some(d), true) => {
            sql.push("SELECT count(*) FROM (SELECT 1 FROM records");
            where_clause(&mut sql, coll, q.filter.as_ref());
            let _ = write!(sql.text, " GROUP BY {})", partition(d));
            return sql;
        }
        (None, false) => {
            sql.push("SELECT json(doc) FROM records");
            where_clause(&mut sql, coll, q.filter.as_ref());
            sql.push(&order);
        }
        (Some(d), false) => {
            let _ = write!(
                sql.text,
                "SELECT json(doc) FROM (SELECT doc, id, ROW_NUMBER() OVER (PARTITION BY {}{order}) AS rk_row FROM records",
                partition(d)
            );
            where_clause(&mut sql, coll, q.filter.as_ref());
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

#[cfg(test)]
mod tests {
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

    fn field() -> impl Strategy<Value = Path> {
        prop::sample::select(FIELDS.to_vec()).prop_map(|f| Path::parse(f).expect("path"))
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

    fn leaf() -> impl Strategy<Value = Filter> {
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

    fn filter_tree() -> impl Strategy<Value = Filter> {
        leaf().prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::And),
                prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::Or),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
    }

    fn query() -> impl Strategy<Value = FindQuery> {
        (
            prop::option::of(filter_tree()),
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
            })
    }

    fn run_sql(docs: &[Value], q: &FindQuery) -> FindResult {
        let c = Connection::open_in_memory().expect("open");
        register_functions(&c).expect("functions");
        c.execute_batch("CREATE TABLE records (coll TEXT, id TEXT, doc BLOB, PRIMARY KEY (coll, id)) WITHOUT ROWID")
            .expect("schema");
        for d in docs {
            c.execute(
                "INSERT INTO records VALUES ('m', ?1, jsonb(?2))",
                rusqlite::params![d["_id"].as_str().expect("id"), d.to_string()],
            )
            .expect("insert");
        }
        let sql = find("m", q, q.page_size.unwrap_or(100));
        let mut st = c.prepare(&sql.text).expect("prepare");
        let params = rusqlite::params_from_iter(sql.params.iter());
        if q.count {
            let n: i64 = st.query_row(params, |r| r.get(0)).expect("count");
            return FindResult::Count(n as u64);
        }
        let rows = st
            .query_map(params, |r| r.get::<_, String>(0))
            .expect("query")
            .map(|r| serde_json::from_str(&r.expect("row")).expect("json"))
            .collect();
        FindResult::Records(rows)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn sql_and_evaluator_agree(docs in prop::collection::vec(doc(), 0..12), q in query()) {
            let docs: Vec<Value> = docs
                .into_iter()
                .enumerate()
                .map(|(i, mut d)| {
                    d["_id"] = json!(format!("{i:024x}"));
                    d
                })
                .collect();
            let want = q.apply(&docs, q.page_size.unwrap_or(100));
            let got = run_sql(&docs, &q);
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
        let sql = find("m", &q, 10);
        assert!(!sql.text.contains("DROP"), "{}", sql.text);
        assert_eq!(
            sql.params.get(1),
            Some(&SqlValue::Text("x'); DROP TABLE records; --".into()))
        );
    }
}
