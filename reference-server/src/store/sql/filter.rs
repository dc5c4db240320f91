//! Filters: comparisons, with their type guards, and the `WHERE` clause.

use super::*;

pub(super) fn number(n: &serde_json::Number) -> SqlValue {
    match n.as_i64() {
        Some(i) => SqlValue::Integer(i),
        None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// The JSON types a literal compares with, and its SQL value.
pub(super) fn typed(value: &Scalar) -> Option<(&'static str, SqlValue)> {
    match value {
        Scalar::Null => None,
        Scalar::Bool(b) => Some(("IN ('true','false')", SqlValue::Integer(i64::from(*b)))),
        Scalar::Number(n) => Some(("IN ('integer','real')", number(n))),
        Scalar::String(s) => Some(("= 'text'", SqlValue::Text(s.clone()))),
    }
}

pub(super) fn compare(sql: &mut Sql, field: &Path, op: CmpOp, value: &Scalar, layout: &Layout) {
    if op == CmpOp::Ne {
        sql.push("NOT IFNULL(");
        compare(sql, field, CmpOp::Eq, value, layout);
        sql.push(",0)");
        return;
    }
    if let Access::Plain(e, t, _) = access(field, layout) {
        // One type only: a literal of another type matches nothing, one of the
        // same type compares as it is.
        match (op, typed(value)) {
            (CmpOp::Eq, None) => {
                let _ = write!(sql.text, "({e} IS NULL)");
            }
            (op, Some((_, v))) if FieldType::of(value) == Some(t) => {
                let _ = write!(sql.text, "({e} {} ", op.sql());
                sql.bind(v);
                sql.push(")");
            }
            _ => sql.push("0"),
        }
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
pub(super) enum Guard {
    /// The comparison alone is exact.
    None,
    /// Only text must be kept out (`x < ''` holds for every number).
    NotText,
    /// The JSON type must be checked.
    Type,
}

pub(super) fn guard(op: CmpOp, value: &Scalar) -> Guard {
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

pub(super) fn filter(sql: &mut Sql, f: &Filter, layout: &Layout) {
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
                filter(sql, p, layout);
            }
            sql.push(")");
        }
        Filter::Not(inner) => {
            sql.push("NOT IFNULL(");
            filter(sql, inner, layout);
            sql.push(",0)");
        }
        Filter::Compare { field, op, value } => compare(sql, field, *op, value, layout),
        Filter::In { field, values } => {
            if let Access::Plain(e, t, _) = access(field, layout) {
                plain_in(sql, &e, t, values);
            } else {
                json_in(sql, field, values);
            }
        }
        Filter::Like { field, needle } => {
            match access(field, layout) {
                Access::Plain(_, t, _) if t != FieldType::Text => {
                    sql.push("0");
                    return;
                }
                Access::Plain(e, ..) => {
                    let _ = write!(sql.text, "(rk_like({e},");
                }
                Access::Json => {
                    let _ = write!(
                        sql.text,
                        "({} = 'text' AND rk_like({},",
                        jtype(field),
                        extract(field)
                    );
                }
            }
            sql.bind(SqlValue::Text(needle.clone()));
            sql.push("))");
        }
        Filter::Regex { field, pattern } => {
            match access(field, layout) {
                Access::Plain(_, t, _) if t != FieldType::Text => {
                    sql.push("0");
                    return;
                }
                Access::Plain(e, ..) => {
                    let _ = write!(sql.text, "(rk_regex({e},");
                }
                Access::Json => {
                    let _ = write!(
                        sql.text,
                        "({} = 'text' AND rk_regex({},",
                        jtype(field),
                        extract(field)
                    );
                }
            }
            sql.bind(SqlValue::Text(pattern.source().to_owned()));
            sql.push(",");
            sql.bind(SqlValue::Text(pattern.flags().to_owned()));
            sql.push("))");
        }
        Filter::Exists { field, exists } => {
            let not = if *exists { "NOT " } else { "" };
            match access(field, layout) {
                // A column holds no JSON null: NULL there is a missing field.
                Access::Plain(e, _, true) => {
                    let _ = write!(sql.text, "({e} IS {not}NULL)");
                }
                _ => {
                    let _ = write!(sql.text, "({} IS {not}NULL)", jtype(field));
                }
            }
        }
    }
}

/// `IN` over a value of one type: `null` matches NULL, literals of the type
/// compare as they are, literals of other types match nothing.
pub(super) fn plain_in(sql: &mut Sql, e: &str, t: FieldType, values: &[Scalar]) {
    let null = values.iter().any(|v| matches!(v, Scalar::Null));
    let same: Vec<SqlValue> = values
        .iter()
        .filter(|v| FieldType::of(v) == Some(t))
        .filter_map(|v| typed(v).map(|(_, sv)| sv))
        .collect();
    sql.push("(");
    if null {
        let _ = write!(sql.text, "{e} IS NULL");
    }
    if !same.is_empty() {
        if null {
            sql.push(" OR ");
        }
        let _ = write!(sql.text, "{e} IN (");
        for (i, v) in same.into_iter().enumerate() {
            if i > 0 {
                sql.push(",");
            }
            sql.bind(v);
        }
        sql.push(")");
    } else if !null {
        sql.push("0");
    }
    sql.push(")");
}

pub(super) fn json_in(sql: &mut Sql, field: &Path, values: &[Scalar]) {
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

/// The WHERE clause for a collection and a filter.
pub fn where_clause(sql: &mut Sql, coll: &str, f: Option<&Filter>, layout: &Layout) {
    sql.push(" WHERE coll = ");
    sql.bind(SqlValue::Text(coll.to_owned()));
    if let Some(f) = f {
        sql.push(" AND ");
        filter(sql, f, layout);
    }
}

/// Whether every record `f` matches holds `p` with one and the same JSON type:
/// then sorting by `p` needs no type rank, and an index on `p` can give the order.
pub(super) fn one_type(f: Option<&Filter>, p: &Path) -> bool {
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
