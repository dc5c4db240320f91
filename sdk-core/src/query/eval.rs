//! Evaluating a filter, a sort and a projection over JSON records.

use super::{CmpOp, Filter, Path, Scalar, SortKey, like_matches};
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// The value at `path` in `doc`, descending through objects only.
pub fn get_path<'a>(doc: &'a Value, path: &Path) -> Option<&'a Value> {
    let mut cur = doc;
    for seg in path.segments() {
        cur = cur.as_object()?.get(seg)?;
    }
    Some(cur)
}

fn num_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// Compares a stored value with a literal of the same JSON type; `None` when the
/// types differ (then no comparison matches).
fn same_type_cmp(v: &Value, lit: &Scalar) -> Option<Ordering> {
    match (v, lit) {
        (Value::Number(a), Scalar::Number(b)) => num_cmp(a, b),
        (Value::String(a), Scalar::String(b)) => Some(a.as_str().cmp(b.as_str())),
        (Value::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn equals(v: Option<&Value>, lit: &Scalar) -> bool {
    match (v, lit) {
        (None | Some(Value::Null), Scalar::Null) => true,
        (Some(v), lit) => same_type_cmp(v, lit) == Some(Ordering::Equal),
        (None, _) => false,
    }
}

impl Filter {
    /// Whether the record `doc` matches.
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            Self::All => true,
            Self::And(parts) => parts.iter().all(|f| f.matches(doc)),
            Self::Or(parts) => parts.iter().any(|f| f.matches(doc)),
            Self::Not(f) => !f.matches(doc),
            Self::Compare { field, op, value } => {
                let v = get_path(doc, field);
                match op {
                    CmpOp::Eq => equals(v, value),
                    CmpOp::Ne => !equals(v, value),
                    range => {
                        let Some(ord) = v.and_then(|v| same_type_cmp(v, value)) else {
                            return false;
                        };
                        match range {
                            CmpOp::Lt => ord.is_lt(),
                            CmpOp::Lte => ord.is_le(),
                            CmpOp::Gt => ord.is_gt(),
                            _ => ord.is_ge(),
                        }
                    }
                }
            }
            Self::In { field, values } => {
                let v = get_path(doc, field);
                values.iter().any(|lit| equals(v, lit))
            }
            Self::Like { field, needle } => match get_path(doc, field) {
                Some(Value::String(s)) => like_matches(s, needle),
                _ => false,
            },
            Self::Regex { field, pattern } => match get_path(doc, field) {
                Some(Value::String(s)) => pattern.is_match(s),
                _ => false,
            },
            Self::Exists { field, exists } => get_path(doc, field).is_some() == *exists,
        }
    }
}

/// Where a value's type sorts: missing and `null` first, then numbers, strings,
/// objects and arrays (by their JSON text), and booleans last.
pub fn sort_rank(v: Option<&Value>) -> u8 {
    match v {
        None | Some(Value::Null) => 0,
        Some(Value::Number(_)) => 1,
        Some(Value::String(_)) => 2,
        Some(Value::Object(_) | Value::Array(_)) => 3,
        Some(Value::Bool(_)) => 4,
    }
}

/// The total order of sorting: by [`sort_rank`], then by value within a type.
pub fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let (ra, rb) = (sort_rank(a), sort_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            num_cmp(x, y).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x @ (Value::Object(_) | Value::Array(_))), Some(y)) => {
            x.to_string().cmp(&y.to_string())
        }
        _ => Ordering::Equal,
    }
}

impl SortKey {
    /// Compares two records by this key alone.
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        let o = compare_values(get_path(a, &self.field), get_path(b, &self.field));
        if self.descending { o.reverse() } else { o }
    }
}

/// Sorts records by `keys`, then by `_id` in the direction of the last key (so
/// an index can give the whole order), as the server does.
pub fn sort_records(records: &mut [Value], keys: &[SortKey]) {
    let id = |v: &Value| {
        v.get(crate::record::ID)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let ids_descending = keys.last().is_some_and(|k| k.descending);
    records.sort_by(|a, b| {
        keys.iter()
            .map(|k| k.compare(a, b))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| {
                let o = id(a).cmp(&id(b));
                if ids_descending { o.reverse() } else { o }
            })
    });
}

/// The values `distinct` compares a record by: one per path, `null` and missing alike.
pub fn distinct_key(doc: &Value, paths: &[Path]) -> Vec<(u8, Value)> {
    paths
        .iter()
        .map(|p| {
            let v = get_path(doc, p);
            let norm = match v {
                // 1 and 1.0 are the same number.
                Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Value::from(i),
                    (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                        Value::from(f as i64)
                    }
                    _ => Value::Number(n.clone()),
                },
                Some(Value::Null) | None => Value::Null,
                Some(other) => other.clone(),
            };
            (sort_rank(v), norm)
        })
        .collect()
}

/// The record with only the `select`ed fields (nested paths keep their nesting);
/// fields the record lacks are left out.
pub fn project(doc: &Value, select: &[Path]) -> Value {
    fn put(out: &mut Map<String, Value>, segs: &[String], v: &Value) {
        match segs {
            [] => {}
            [last] => {
                out.insert(last.clone(), v.clone());
            }
            [first, rest @ ..] => {
                let next = out
                    .entry(first.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !next.is_object() {
                    *next = Value::Object(Map::new());
                }
                if let Value::Object(m) = next {
                    put(m, rest, v);
                }
            }
        }
    }
    let mut out = Map::new();
    for p in select {
        if let Some(v) = get_path(doc, p) {
            put(&mut out, p.segments(), v);
        }
    }
    Value::Object(out)
}
