//! Orders and cursors: `ORDER BY`, and the rows after a cursor.

use super::*;

/// The SQL that sorts by a field: its value where it has one type, else its
/// type's rank, then its value.
pub(super) fn sort_terms(p: &Path, f: Option<&Filter>, layout: &Layout, dir: &str) -> String {
    match access(p, layout) {
        Access::Plain(e, ..) => format!("{e}{dir}"),
        Access::Json if one_type(f, p) => format!("{}{dir}", extract(p)),
        Access::Json => format!("{}{dir}, {}{dir}", rank(p), extract(p)),
    }
}

pub(super) fn order_by(sort: &[SortKey], f: Option<&Filter>, layout: &Layout) -> String {
    let mut s = String::from(" ORDER BY ");
    for k in sort {
        let dir = if k.descending { " DESC" } else { "" };
        let _ = write!(s, "{}, ", sort_terms(&k.field, f, layout, dir));
    }
    // Ties go by id in the direction of the last key, so an index on the sort
    // fields gives the whole order (no sorting step); sorted by id, none remain.
    if sort.last().is_some_and(|k| k.field.segments() == [ID]) {
        s.truncate(s.len() - 2);
        return s;
    }
    s.push_str(if sort.last().is_some_and(|k| k.descending) {
        "id DESC"
    } else {
        "id"
    });
    s
}

/// A value as `json_extract` reads it from a document (a cursor's, or a
/// property column's).
pub fn extracted(v: &serde_json::Value) -> SqlValue {
    use serde_json::Value as J;
    match v {
        J::Null => SqlValue::Null,
        J::Bool(b) => SqlValue::Integer(i64::from(*b)),
        J::Number(n) => number(n),
        J::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// The sort class of the values a typed field holds (`null` aside).
pub(super) fn type_rank(t: FieldType) -> u8 {
    match t {
        FieldType::Number => 1,
        FieldType::Text => 2,
        FieldType::Bool => 4,
    }
}

/// `(a, b, ..) > (?, ?, ..)` (or `<`) over the sort columns and `id`, which an
/// index on them serves as one range: possible when every key is a plain value,
/// the cursor holds a value of its type for each, and all keys go one way. Going
/// down, `NULL`s (which sort first) come after the cursor: `extra` names the
/// keys that may hold one.
pub(super) fn row_value(
    sort: &[SortKey],
    c: &Cursor,
    layout: &Layout,
    assumed: Option<&mut Vec<&'static str>>,
) -> Option<(String, Vec<(usize, String)>)> {
    let mut assumed = assumed;
    let descending = sort.first().is_some_and(|k| k.descending);
    let mut cols = Vec::new();
    let mut nullable = Vec::new();
    for (k, v) in sort.iter().zip(&c.values) {
        let Access::Plain(e, t, column) = access(&k.field, layout) else {
            return None;
        };
        if k.descending != descending || v.is_null() || sort_rank(Some(v)) != type_rank(t) {
            return None;
        }
        let mut never_null = column && matches!(e.as_str(), "id" | "v");
        if column
            && descending
            && let Some(a) = assumed.as_deref_mut()
        {
            for stamp in ["created", "updated"] {
                if e == stamp {
                    never_null = true;
                    if !a.contains(&stamp) {
                        a.push(stamp);
                    }
                }
            }
        }
        if !never_null {
            nullable.push((cols.len(), e.clone()));
        }
        cols.push(e);
    }
    if sort.last().is_none_or(|k| k.field.segments() != [ID]) {
        cols.push("id".into());
    }
    let op = if descending { "<" } else { ">" };
    let lhs = format!("({}) {op} ", cols.join(", "));
    Some((lhs, if descending { nullable } else { Vec::new() }))
}

/// `AND` the records after the cursor in the read's order: later by the first
/// key that differs, or by `_id` (in the direction of the last key) when all are
/// equal; as `sdk_core::query::Cursor::precedes`.
pub(super) fn after_clause(
    sql: &mut Sql,
    sort: &[SortKey],
    c: &Cursor,
    layout: &Layout,
    assume: bool,
) {
    let mut assumed = Vec::new();
    let plan = row_value(sort, c, layout, assume.then_some(&mut assumed));
    sql.assumes_set = assumed;
    if let Some((lhs, nullable)) = plan {
        sql.push(" AND (");
        sql.push(&lhs);
        sql.push("(");
        for (i, v) in c.values.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(extracted(v));
        }
        if sort.last().is_none_or(|k| k.field.segments() != [ID]) {
            if !c.values.is_empty() {
                sql.push(", ");
            }
            sql.bind(SqlValue::Text(c.id.clone()));
        }
        sql.push(")");
        // Going down, a key that is NULL where all before it are equal is later.
        for (i, e) in &nullable {
            let i = *i;
            sql.push(" OR (");
            for (j, k) in sort.iter().enumerate().take(i) {
                key_equal(sql, k, &c.values[j], layout);
                sql.push(" AND ");
            }
            let _ = write!(sql.text, "{e} IS NULL)");
        }
        sql.push(")");
        return;
    }
    sql.push(" AND (");
    for i in 0..=sort.len() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(");
        for (j, k) in sort.iter().enumerate().take(i) {
            key_equal(sql, k, &c.values[j], layout);
            sql.push(" AND ");
        }
        match sort.get(i) {
            Some(k) => key_after(sql, k, &c.values[i], layout),
            None => {
                let op = if sort.last().is_some_and(|k| k.descending) {
                    "<"
                } else {
                    ">"
                };
                let _ = write!(sql.text, "id {op} ");
                sql.bind(SqlValue::Text(c.id.clone()));
            }
        }
        sql.push(")");
    }
    sql.push(")");
}

/// The key's value equals the cursor's, in the sort's total order.
pub(super) fn key_equal(sql: &mut Sql, k: &SortKey, v: &serde_json::Value, layout: &Layout) {
    let r = sort_rank(Some(v));
    match access(&k.field, layout) {
        Access::Plain(e, ..) if r == 0 => {
            let _ = write!(sql.text, "({e} IS NULL)");
        }
        Access::Plain(e, t, _) if r == type_rank(t) => {
            let _ = write!(sql.text, "({e} = ");
            sql.bind(extracted(v));
            sql.push(")");
        }
        Access::Plain(..) => sql.push("0"),
        Access::Json if r == 0 => {
            let _ = write!(sql.text, "({} = 0)", rank(&k.field));
        }
        Access::Json => {
            let _ = write!(
                sql.text,
                "({} = {r} AND {} = ",
                rank(&k.field),
                extract(&k.field)
            );
            sql.bind(extracted(v));
            sql.push(")");
        }
    }
}

/// The key's value comes after the cursor's, in the key's direction.
pub(super) fn key_after(sql: &mut Sql, k: &SortKey, v: &serde_json::Value, layout: &Layout) {
    let r = sort_rank(Some(v));
    let down = k.descending;
    match access(&k.field, layout) {
        Access::Plain(e, t, _) => {
            let tr = type_rank(t);
            match (r, down) {
                // A stored value is NULL (rank 0) or of the field's type.
                (0, false) => {
                    let _ = write!(sql.text, "({e} IS NOT NULL)");
                }
                (0, true) => sql.push("0"),
                (r, false) if r == tr => {
                    let _ = write!(sql.text, "({e} > ");
                    sql.bind(extracted(v));
                    sql.push(")");
                }
                (r, true) if r == tr => {
                    let _ = write!(sql.text, "({e} < ");
                    sql.bind(extracted(v));
                    let _ = write!(sql.text, " OR {e} IS NULL)");
                }
                (r, false) if r > tr => sql.push("0"),
                (r, true) if r > tr => sql.push("1"),
                (_, false) => {
                    let _ = write!(sql.text, "({e} IS NOT NULL)");
                }
                (_, true) => {
                    let _ = write!(sql.text, "({e} IS NULL)");
                }
            }
        }
        Access::Json => {
            let (rk, x) = (rank(&k.field), extract(&k.field));
            let op = if down { "<" } else { ">" };
            if r == 0 {
                if down {
                    sql.push("0");
                } else {
                    let _ = write!(sql.text, "({rk} > 0)");
                }
                return;
            }
            let _ = write!(sql.text, "({rk} {op} {r} OR ({rk} = {r} AND {x} {op} ");
            sql.bind(extracted(v));
            sql.push("))");
        }
    }
}

pub(super) fn partition(paths: &[Path], layout: &Layout) -> String {
    paths
        .iter()
        .map(|p| sort_terms(p, None, layout, ""))
        .collect::<Vec<_>>()
        .join(", ")
}
