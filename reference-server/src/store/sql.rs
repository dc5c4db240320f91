//! Compiling the query language to SQLite SQL over the `records` table.
//!
//! The system fields live in typed columns (`_id` → `id`, `userId` → `owner`,
//! `createdAt` → `created`, `updatedAt` → `updated`, `__v` → `v`), so filters and
//! sorts on them read no document and indexes serve them. A collection's fields
//! whose JSON type its schema fixes ([`Types`]) are compared and sorted as plain
//! values; every other field is read from the JSON column `doc`.
//!
//! Only bound parameters carry values. Field paths are inlined as JSON path
//! literals, which is safe because [`Path`] admits only ASCII letters, digits,
//! `_` and `-` in segments, and necessary so expression indexes on
//! `json_extract(doc, '$.field')` match the query.
//!
//! Every comparison on an untyped field checks the JSON type (`json_type`) as
//! well as the value, so the SQL agrees with the evaluator in `sdk_core::query`
//! (a differential test holds them to it). SQL's NULLs only arise from missing
//! fields; in AND/OR they act as false, and under NOT the operand is wrapped in
//! `IFNULL(.., 0)` so the negation of "unknown" is "true", exactly as the
//! evaluator's.

use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Error as SqlError};
use sdk_core::query::{
    CmpOp, Cursor, Filter, FindQuery, Path, Pattern, Scalar, SortKey, like_matches, sort_rank,
};
use sdk_core::record::{CREATED_AT, ID, OWNER, UPDATED_AT, VERSION};
use std::fmt::Write;

/// SQL text and its bound parameters.
#[derive(Debug, Default)]
pub struct Sql {
    /// The text.
    pub text: String,
    /// The parameters, in order (`?` placeholders).
    pub params: Vec<SqlValue>,
    /// Whether an index serves the read, so it visits a bounded number of rows.
    pub inline: bool,
    /// System columns the text takes to hold no `NULL` in this collection (a
    /// record's time stamps are always set by the server): before running it, the
    /// store checks that they do, else compiles the read with [`find_exact`].
    pub assumes_set: Vec<&'static str>,
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

/// The JSON type a collection's schema fixes for a top-level field: every stored
/// value of it is of this type or `null`, or the field is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Strings.
    Text,
    /// Numbers, integer or not.
    Number,
    /// `true` and `false`.
    Bool,
}

impl FieldType {
    /// The type of a literal (`None` for `null`).
    fn of(lit: &Scalar) -> Option<Self> {
        match lit {
            Scalar::Null => None,
            Scalar::Bool(_) => Some(Self::Bool),
            Scalar::Number(_) => Some(Self::Number),
            Scalar::String(_) => Some(Self::Text),
        }
    }

    /// Whether a stored value may be kept in a field of this type.
    pub fn admits(self, v: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        matches!(
            (self, v),
            (_, J::Null)
                | (Self::Text, J::String(_))
                | (Self::Number, J::Number(_))
                | (Self::Bool, J::Bool(_))
        )
    }

    /// The `json_type` names of the values it admits, as an SQL list.
    pub fn json_types(self) -> &'static str {
        match self {
            Self::Text => "('text','null')",
            Self::Number => "('integer','real','null')",
            Self::Bool => "('true','false','null')",
        }
    }
}

/// What the compiler knows of one collection: the fields its schema types, the
/// columns that hold some of them, and the indexes it declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Top-level fields with a fixed JSON type.
    pub types: std::collections::HashMap<String, FieldType>,
    /// Typed fields kept in a property column beside the document (by its
    /// number: `p0`..), so filters and sorts on them read no document. Each such
    /// column holds what `json_extract` reads from the document, on every row
    /// of the collection; the store keeps it so on every write.
    pub columns: std::collections::BTreeMap<String, usize>,
    /// Declared indexes, each a list of fields.
    pub indexes: Vec<Vec<Path>>,
}

/// How many property columns the records table has.
pub const PROPERTY_COLUMNS: usize = 8;

impl Layout {
    /// The property column that holds a typed field, if one does.
    pub fn column(&self, field: &str) -> Option<String> {
        self.columns.get(field).map(|i| format!("p{i}"))
    }

    /// Gives typed fields property columns: those `previous` gave one keep it
    /// (if still typed), then fields of declared indexes, then the others by
    /// name, while columns are free.
    pub fn assign_columns(&mut self, previous: Option<&Layout>) {
        self.columns.clear();
        if let Some(prev) = previous {
            for (f, i) in &prev.columns {
                if self.types.contains_key(f) && *i < PROPERTY_COLUMNS {
                    self.columns.insert(f.clone(), *i);
                }
            }
        }
        let mut indexed: Vec<&String> = Vec::new();
        for ix in &self.indexes {
            for p in ix {
                if let [name] = p.segments()
                    && let Some((name, _)) = self.types.get_key_value(name.as_str())
                    && !indexed.contains(&name)
                {
                    indexed.push(name);
                }
            }
        }
        let mut rest: Vec<&String> = self.types.keys().filter(|f| !indexed.contains(f)).collect();
        rest.sort();
        let wanted: Vec<String> = indexed.into_iter().chain(rest).cloned().collect();
        for f in wanted {
            if self.columns.contains_key(&f) {
                continue;
            }
            let Some(free) = (0..PROPERTY_COLUMNS).find(|i| !self.columns.values().any(|u| u == i))
            else {
                break;
            };
            self.columns.insert(f, free);
        }
    }
}

/// The system fields and the typed columns that hold them.
pub const SYSTEM_COLUMNS: [(&str, &str, FieldType); 5] = [
    (ID, "id", FieldType::Text),
    (OWNER, "owner", FieldType::Text),
    (CREATED_AT, "created", FieldType::Text),
    (UPDATED_AT, "updated", FieldType::Text),
    (VERSION, "v", FieldType::Number),
];

/// The indexes every collection has, as lists of fields (each ends with `_id`
/// implicitly): the primary key, the latest or oldest by time, and "my records"
/// by id and by time.
const SYSTEM_INDEXES: [&[&str]; 5] = [
    &[],
    &[CREATED_AT],
    &[UPDATED_AT],
    &[OWNER],
    &[OWNER, CREATED_AT],
];

/// The primary key's place in [`SYSTEM_INDEX_NAMES`] (no index of its own).
const PRIMARY_KEY: &str = "records";

/// The names of [`SYSTEM_INDEXES`] in the store's schema.
const SYSTEM_INDEX_NAMES: [&str; 5] = [
    PRIMARY_KEY,
    "records_created",
    "records_updated",
    "records_owner",
    "records_owner_created",
];

/// The name of a collection's declared index on `fields`: stable for the same
/// collection and fields, whatever else the configuration changes.
pub fn declared_index_name(coll: &str, fields: &[Path]) -> String {
    use sha2::Digest;
    let key = fields
        .iter()
        .map(Path::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let digest = sha2::Sha256::digest(format!("{coll}\n{key}").as_bytes());
    format!("rk_ix_{coll}_{}", crate::clock::hex(&digest[..8]))
}

/// How a field is read.
enum Access {
    /// A value of one type (or NULL): a system column, or a typed field of the
    /// document (`true` when it is a column, which holds no JSON `null`).
    Plain(String, FieldType, bool),
    /// Any JSON value, read from the document.
    Json,
}

fn access(p: &Path, layout: &Layout) -> Access {
    let [name] = p.segments() else {
        return Access::Json;
    };
    if let Some((_, col, t)) = SYSTEM_COLUMNS.iter().find(|(f, ..)| f == name) {
        return Access::Plain((*col).to_owned(), *t, true);
    }
    match layout.types.get(name) {
        Some(t) => Access::Plain(layout.column(name).unwrap_or_else(|| extract(p)), *t, false),
        None => Access::Json,
    }
}

/// The expression a declared index holds for a field: its column for a system
/// field or a field with a property column, else the value read from the
/// document (the expression queries use).
pub fn index_column(p: &Path, layout: &Layout) -> String {
    match p.segments() {
        [name] => match SYSTEM_COLUMNS.iter().find(|(f, ..)| f == name) {
            Some((_, col, _)) => (*col).to_owned(),
            None => layout.column(name).unwrap_or_else(|| extract(p)),
        },
        _ => extract(p),
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

fn compare(sql: &mut Sql, field: &Path, op: CmpOp, value: &Scalar, layout: &Layout) {
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

fn filter(sql: &mut Sql, f: &Filter, layout: &Layout) {
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
fn plain_in(sql: &mut Sql, e: &str, t: FieldType, values: &[Scalar]) {
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

fn json_in(sql: &mut Sql, field: &Path, values: &[Scalar]) {
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

/// The SQL that sorts by a field: its value where it has one type, else its
/// type's rank, then its value.
fn sort_terms(p: &Path, f: Option<&Filter>, layout: &Layout, dir: &str) -> String {
    match access(p, layout) {
        Access::Plain(e, ..) => format!("{e}{dir}"),
        Access::Json if one_type(f, p) => format!("{}{dir}", extract(p)),
        Access::Json => format!("{}{dir}, {}{dir}", rank(p), extract(p)),
    }
}

fn order_by(sort: &[SortKey], f: Option<&Filter>, layout: &Layout) -> String {
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
fn type_rank(t: FieldType) -> u8 {
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
fn row_value(
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
fn after_clause(sql: &mut Sql, sort: &[SortKey], c: &Cursor, layout: &Layout, assume: bool) {
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
fn key_equal(sql: &mut Sql, k: &SortKey, v: &serde_json::Value, layout: &Layout) {
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
fn key_after(sql: &mut Sql, k: &SortKey, v: &serde_json::Value, layout: &Layout) {
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

fn partition(paths: &[Path], layout: &Layout) -> String {
    paths
        .iter()
        .map(|p| sort_terms(p, None, layout, ""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The most rows a read may visit and still run on the async thread.
const INLINE_ROWS: u64 = 1_000;

/// Whether an index gives a read's page directly: every condition of the filter
/// is an equality on the index's leading fields or a range on the field it
/// sorts by next, and the sort is the index's order (ties by `_id`, which ends
/// every index). Such a read visits about `offset + page` rows, whatever the
/// collection's size, so it runs inline; any other may scan and runs on the
/// blocking pool. This is the compiler's own plan, checked against SQLite's in
/// the store's tests.
fn served(coll: &str, q: &FindQuery, page: u64, layout: &Layout, assume: bool) -> Option<String> {
    if q.count {
        return (q.filter.is_none() && q.distinct.is_none()).then(String::new);
    }
    // After a cursor, the index must give the rest as one range.
    if let Some(c) = &q.after {
        let mut assumed = Vec::new();
        match row_value(&q.sort, c, layout, assume.then_some(&mut assumed)) {
            Some((_, nullable)) if nullable.is_empty() => {}
            _ => return None,
        }
    }
    if q.distinct.is_some()
        || q.offset.saturating_add(page) > INLINE_ROWS
        || (!q.load.is_empty() && page > 100)
        || q.sort
            .windows(2)
            .any(|w| w[0].descending != w[1].descending)
    {
        return None;
    }
    let mut terms = Vec::new();
    if let Some(f) = &q.filter
        && !conjuncts(f, &mut terms)
    {
        return None;
    }
    // Each term must compare a one-typed field with a literal of its type (or,
    // for an untyped field, be an equality SQL compares exactly).
    let mut eqs: Vec<&Path> = Vec::new();
    let mut ranges: Vec<&Path> = Vec::new();
    for (field, op, value) in &terms {
        let exact = match access(field, layout) {
            Access::Plain(_, t, _) => FieldType::of(value) == Some(t),
            Access::Json => *op == CmpOp::Eq && matches!(guard(*op, value), Guard::None),
        };
        if !exact {
            return None;
        }
        if *op == CmpOp::Eq {
            eqs.push(field);
        } else {
            ranges.push(field);
        }
    }
    let sorted: Vec<&Path> = q.sort.iter().map(|k| &k.field).collect();
    let id = Path::parse(ID).ok();
    let declared = layout
        .indexes
        .iter()
        .map(|ix| ix.iter().collect::<Vec<_>>());
    let system = SYSTEM_INDEXES.iter().map(|ix| {
        ix.iter()
            .filter_map(|f| Path::parse(f).ok())
            .collect::<Vec<_>>()
    });
    let system: Vec<Vec<Path>> = system.collect();
    let mut candidates: Vec<(String, Vec<&Path>)> = system
        .iter()
        .zip(SYSTEM_INDEX_NAMES)
        .map(|(ix, name)| ((*name).to_owned(), ix.iter().collect()))
        .collect();
    candidates.extend(
        declared
            .zip(&layout.indexes)
            .map(|(ix, fields)| (declared_index_name(coll, fields), ix)),
    );
    candidates.into_iter().find_map(|(name, mut ix)| {
        if let Some(id) = &id {
            ix.push(id);
        }
        // Sorting by a typed declared field or a column only: an untyped
        // field's sort has a rank the index does not hold.
        if sorted
            .iter()
            .any(|p| matches!(access(p, layout), Access::Json))
        {
            return None;
        }
        let mut left: Vec<&Path> = eqs.clone();
        let mut at = 0;
        while at < ix.len() {
            match left.iter().position(|p| *p == ix[at]) {
                Some(i) => {
                    left.swap_remove(i);
                    at += 1;
                }
                None => break,
            }
        }
        let rest = &ix[at..];
        // The order asked for, then `_id`, must be the rest of the index.
        let mut want: Vec<&Path> = sorted.clone();
        if let Some(id) = &id
            && want.last() != Some(&id)
        {
            want.push(id);
        }
        if rest != want.as_slice() {
            return None;
        }
        // Whatever is left must be a range (or equality) on the next field.
        left.iter()
            .chain(ranges.iter())
            .all(|p| Some(*p) == rest.first().copied())
            .then_some(name)
    })
}

/// The comparisons `f` is a conjunction of; `false` if it holds anything else.
fn conjuncts<'a>(f: &'a Filter, out: &mut Vec<(&'a Path, CmpOp, &'a Scalar)>) -> bool {
    match f {
        Filter::All => true,
        Filter::And(parts) => parts.iter().all(|p| conjuncts(p, out)),
        Filter::Compare { field, op, value } if *op != CmpOp::Ne => {
            out.push((field, *op, value));
            true
        }
        _ => false,
    }
}

/// The statement for a read: one column, either `doc` per record or a count.
/// `inline` says whether an index serves it (see [`served`]).
pub fn find(coll: &str, q: &FindQuery, page: u64, layout: &Layout) -> Sql {
    compile(coll, q, page, layout, true)
}

/// As [`find`], for a collection where a record may lack a time stamp.
pub fn find_exact(coll: &str, q: &FindQuery, page: u64, layout: &Layout) -> Sql {
    compile(coll, q, page, layout, false)
}

fn compile(coll: &str, q: &FindQuery, page: u64, layout: &Layout, assume: bool) -> Sql {
    let index = served(coll, q, page, layout, assume);
    let mut sql = Sql {
        inline: index.is_some(),
        ..Sql::default()
    };
    // The system index the compiler planned with, so SQLite takes the same
    // one (two may fit a filter equally, one of them needing a sort). A declared
    // index is left to the planner, which the store's fixed statistics lead to
    // it: a reader may plan before a new index is visible to it.
    let from = match index.as_deref() {
        Some(PRIMARY_KEY) => " FROM records NOT INDEXED".to_owned(),
        Some(name) if SYSTEM_INDEX_NAMES.contains(&name) => {
            format!(" FROM records INDEXED BY {name}")
        }
        _ => " FROM records".to_owned(),
    };
    let order = order_by(&q.sort, q.filter.as_ref(), layout);
    match (&q.distinct, q.count) {
        (None, true) if q.filter.is_none() => {
            // Kept by the store on every insert and delete.
            sql.push("SELECT coalesce((SELECT n FROM record_counts WHERE coll = ");
            sql.bind(SqlValue::Text(coll.to_owned()));
            sql.push("), 0)");
            return sql;
        }
        (None, true) => {
            sql.push("SELECT count(*) FROM records");
            where_clause(&mut sql, coll, q.filter.as_ref(), layout);
            return sql;
        }
        (Some(d), true) => {
            sql.push("SELECT count(*) FROM (SELECT 1 FROM records");
            where_clause(&mut sql, coll, q.filter.as_ref(), layout);
            let _ = write!(sql.text, " GROUP BY {})", partition(d, layout));
            return sql;
        }
        (None, false) => {
            sql.push("SELECT json(doc)");
            sql.push(&from);
            where_clause(&mut sql, coll, q.filter.as_ref(), layout);
            if let Some(c) = &q.after {
                after_clause(&mut sql, &q.sort, c, layout, assume);
            }
            sql.push(&order);
        }
        (Some(d), false) => {
            let _ = write!(
                sql.text,
                "SELECT json(doc) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {}{order}) AS rk_row FROM records",
                partition(d, layout)
            );
            where_clause(&mut sql, coll, q.filter.as_ref(), layout);
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
        let c = Connection::open_in_memory().expect("open");
        register_functions(&c).expect("functions");
        crate::store::sqlite::prepare_schema(&c).expect("schema");
        for d in docs {
            let rec = d.as_object().cloned().expect("object");
            crate::store::sqlite::put_record(
                &c,
                crate::store::sqlite::Put::Insert,
                "m",
                rec,
                layout,
            )
            .expect("insert");
        }
        let mut sql = find("m", q, q.page_size.unwrap_or(100), layout);
        // As the store: where a record lacks a time stamp the read assumes set,
        // the read that does not assume it.
        let stamp = |col: &str| match col {
            "created" => CREATED_AT,
            _ => UPDATED_AT,
        };
        if sql
            .assumes_set
            .iter()
            .any(|col| docs.iter().any(|d| d.get(stamp(col)).is_none()))
        {
            sql = find_exact("m", q, q.page_size.unwrap_or(100), layout);
        }
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
}
