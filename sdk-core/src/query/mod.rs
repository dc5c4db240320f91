//! One query language with three spellings.
//!
//! A collection read is described by a [`FindQuery`]: a [`Filter`] plus sorting,
//! paging, projection, distinct and relations. The filter can be written three ways,
//! and all of them parse into the same [`Filter`] tree:
//!
//! * `where` — an SQL-like expression: `val >= 5 AND (category IN ("main", "soup") OR
//!   NOT title LIKE "lasagna")` ([`parse_where`]);
//! * plain `field=value` pairs in the query string (equality);
//! * `q` — a Mongo-style JSON query: `{"age": {"$gte": 18}, "name": {"$regex": "^j",
//!   "$options": "i"}}` ([`parse_mongo`]).
//!
//! The same tree is evaluated over JSON records by [`Filter::matches`] (the SDKs use
//! it for realtime filters; the server compiles it to SQL) and written back as a `q`
//! document by [`Filter::to_mongo`], which is how the native SDK's typed builder sends
//! it. Semantics, exactly:
//!
//! * a comparison matches only values of the literal's own JSON type: `age > 5` never
//!   matches the string `"10"`; numbers compare by value, strings by Unicode code
//!   point (byte order of UTF-8), `false < true`;
//! * `= null` matches a missing field too; a range comparison with `null` matches nothing;
//! * `!=` is the exact negation of `=` (so it matches records without the field);
//! * `LIKE "x"` matches strings that contain `x`, ignoring case;
//! * `$regex` uses the `regex-lite` syntax with the flags `i`, `m`, `s`, `x`;
//! * a dot path (`address.city`) reaches into nested objects; arrays are values,
//!   not containers to search.

mod eval;
mod find;
mod mongo;
mod options;
mod parse_where;

pub use eval::{compare_values, distinct_key, get_path, project, sort_rank, sort_records};
pub use find::{Cursor, FindQuery, FindResult, MAX_RELATIONS, QUERY_PARAMS, Relation, SortKey};
pub use mongo::{MongoQuery, parse_mongo, parse_mongo_value};
pub use options::find_params;
pub use parse_where::{parse_where, parse_where_as};

use crate::error::{ErrorBody, ErrorCode};
use serde_json::{Number, Value};
use std::fmt;
use std::sync::Arc;

/// The most nodes one filter may hold (bounds the work a query can ask for).
pub const MAX_FILTER_NODES: usize = 512;
/// The deepest nesting of `(`, `NOT`, `$and`, `$or` and `$not`.
pub const MAX_FILTER_DEPTH: usize = 32;
/// The most values of one `IN` list.
pub const MAX_IN_VALUES: usize = 1000;
/// The longest regular expression, in bytes.
pub const MAX_REGEX_LEN: usize = 1024;
/// The deepest field path (`a.b.c` has three segments).
pub const MAX_PATH_SEGMENTS: usize = 8;
/// The longest segment of a field path.
pub const MAX_SEGMENT_LEN: usize = 64;

/// A malformed query: which parameter, where in it, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// The query parameter at fault (`where`, `q`, `sortBy`, a field name, ...).
    pub param: String,
    /// The character offset (0-based) of the problem in that parameter, when known.
    pub position: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl QueryError {
    /// A problem with a parameter as a whole.
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            position: None,
            message: message.into(),
        }
    }

    /// A problem at a character offset of a parameter.
    pub fn at(param: impl Into<String>, position: usize, message: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            position: Some(position),
            message: message.into(),
        }
    }

    /// The same problem, of parameter `param` (one that another's parser read).
    pub fn of(mut self, param: &str) -> Self {
        self.param = param.to_owned();
        self
    }

    /// The wire error: 400 `invalid_query`, with `errors` naming the parameter.
    pub fn to_error_body(&self) -> ErrorBody {
        ErrorBody::new(ErrorCode::InvalidQuery, self.to_string())
            .with_field(&self.param, self.detail())
    }

    fn detail(&self) -> String {
        match self.position {
            Some(p) => format!("at {p}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.param, self.detail())
    }
}

impl std::error::Error for QueryError {}

/// A field path: one or more segments, `a.b.c` reaching into nested objects.
///
/// Segments hold ASCII letters, digits, `_` and `-`, up to
/// [`MAX_SEGMENT_LEN`] each and [`MAX_PATH_SEGMENTS`] deep.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(Vec<String>);

impl Path {
    /// Parses `a.b.c`; the error says what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("a field name is empty".into());
        }
        let segs: Vec<String> = s.split('.').map(str::to_owned).collect();
        if segs.len() > MAX_PATH_SEGMENTS {
            return Err(format!(
                "field path '{s}' is deeper than {MAX_PATH_SEGMENTS} levels"
            ));
        }
        for seg in &segs {
            if seg.is_empty() {
                return Err(format!("field path '{s}' has an empty segment"));
            }
            if seg.len() > MAX_SEGMENT_LEN {
                return Err(format!(
                    "a segment of field path '{s}' is over {MAX_SEGMENT_LEN} characters"
                ));
            }
            if !seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(format!(
                    "field name '{s}' may hold only ASCII letters, digits, '_', '-' and '.' between nested names"
                ));
            }
        }
        Ok(Self(segs))
    }

    /// The segments.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// Renames the top-level field when `rename` maps its name to another
    /// (`_ownerId.x` to `userId.x`); the names a compatibility mount uses for
    /// system fields become the engine's.
    pub fn rename_root(&mut self, rename: impl Fn(&str) -> Option<&'static str>) {
        if let Some(new) = self.0.first().and_then(|first| rename(first)) {
            self.0[0] = new.to_owned();
        }
    }

    /// The path as a SQLite JSON path (`$.a.b`). Segments are restricted to
    /// characters that need no quoting, so this is safe to inline.
    pub fn json_path(&self) -> String {
        let mut s = String::from("$");
        for seg in &self.0 {
            s.push('.');
            s.push_str(seg);
        }
        s
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

impl std::str::FromStr for Path {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

/// A literal a field is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null` (equal to a missing field too).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
}

impl Scalar {
    /// The literal from a JSON value; arrays and objects are not literals.
    pub fn from_json(v: &Value) -> Option<Self> {
        Some(match v {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Number(n.clone()),
            Value::String(s) => Self::String(s.clone()),
            Value::Array(_) | Value::Object(_) => return None,
        })
    }

    /// The literal as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::String(s) => Value::String(s.clone()),
        }
    }
}

impl From<&str> for Scalar {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}
impl From<String> for Scalar {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}
impl From<bool> for Scalar {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}
impl From<i64> for Scalar {
    fn from(n: i64) -> Self {
        Self::Number(n.into())
    }
}
impl From<i32> for Scalar {
    fn from(n: i32) -> Self {
        Self::Number(n.into())
    }
}
impl From<u64> for Scalar {
    fn from(n: u64) -> Self {
        Self::Number(n.into())
    }
}
impl From<f64> for Scalar {
    /// A non-finite float becomes `null` (JSON has no NaN or infinity).
    fn from(n: f64) -> Self {
        Number::from_f64(n).map_or(Self::Null, Self::Number)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`, `$eq`
    Eq,
    /// `!=`, `<>`, `$ne`: exactly the negation of `Eq`.
    Ne,
    /// `<`, `$lt`
    Lt,
    /// `<=`, `$lte`
    Lte,
    /// `>`, `$gt`
    Gt,
    /// `>=`, `$gte`
    Gte,
}

impl CmpOp {
    /// The Mongo-style operator name.
    pub fn mongo(self) -> &'static str {
        match self {
            Self::Eq => "$eq",
            Self::Ne => "$ne",
            Self::Lt => "$lt",
            Self::Lte => "$lte",
            Self::Gt => "$gt",
            Self::Gte => "$gte",
        }
    }

    /// The SQL operator (for `Eq`..`Gte`; `Ne` is compiled as a negated `Eq`).
    pub fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Gt => ">",
            Self::Gte => ">=",
        }
    }
}

/// A compiled regular expression with the source and flags it came from.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    flags: String,
    regex: Arc<regex_lite::Regex>,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.flags == other.flags
    }
}

impl Pattern {
    /// Compiles `source` with `flags` (any of `i`, `m`, `s`, `x`).
    pub fn new(source: &str, flags: &str) -> Result<Self, String> {
        if source.len() > MAX_REGEX_LEN {
            return Err(format!(
                "the regular expression is over {MAX_REGEX_LEN} bytes"
            ));
        }
        let mut b = regex_lite::RegexBuilder::new(source);
        for f in flags.chars() {
            match f {
                'i' => b.case_insensitive(true),
                'm' => b.multi_line(true),
                's' => b.dot_matches_new_line(true),
                'x' => b.ignore_whitespace(true),
                other => return Err(format!("unknown regular expression flag '{other}'")),
            };
        }
        let regex = b
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("invalid regular expression: {e}"))?;
        Ok(Self {
            source: source.to_owned(),
            flags: flags.to_owned(),
            regex: Arc::new(regex),
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The flags as written.
    pub fn flags(&self) -> &str {
        &self.flags
    }

    /// Whether the expression matches somewhere in `s`.
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
}

/// Whether `haystack` contains `needle`, ignoring case: what `LIKE` means.
pub fn like_matches(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// A filter over records: the tree all three query spellings parse into.
///
/// Exhaustive on purpose: the SQL compiler and every evaluator must handle each
/// kind, so a new kind is a compile error wherever it is not handled yet.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches every record.
    All,
    /// Every part matches (an empty list matches everything).
    And(Vec<Filter>),
    /// Some part matches (an empty list matches nothing).
    Or(Vec<Filter>),
    /// The part does not match.
    Not(Box<Filter>),
    /// `field <op> value`.
    Compare {
        /// The field.
        field: Path,
        /// The operator.
        op: CmpOp,
        /// The literal.
        value: Scalar,
    },
    /// The field equals one of the values.
    In {
        /// The field.
        field: Path,
        /// The values.
        values: Vec<Scalar>,
    },
    /// The field is a string containing `needle`, ignoring case.
    Like {
        /// The field.
        field: Path,
        /// What the string must contain.
        needle: String,
    },
    /// The field is a string the regular expression matches.
    Regex {
        /// The field.
        field: Path,
        /// The expression.
        pattern: Pattern,
    },
    /// The field is present (`true`, a `null` value counts) or absent (`false`).
    Exists {
        /// The field.
        field: Path,
        /// Whether it must be present.
        exists: bool,
    },
}

fn path(field: &str) -> Path {
    Path::parse(field).unwrap_or_else(|_| Path(vec![field.to_owned()]))
}

impl Filter {
    /// Calls `visit` with every field the filter names and the literals it is
    /// compared with (none for `LIKE`, regular expressions and `exists`), so a
    /// compatibility mount can rename fields and convert their literals.
    pub fn visit_fields_mut(&mut self, visit: &mut dyn FnMut(&mut Path, &mut [Scalar])) {
        match self {
            Self::All => {}
            Self::And(parts) | Self::Or(parts) => {
                for p in parts {
                    p.visit_fields_mut(visit);
                }
            }
            Self::Not(inner) => inner.visit_fields_mut(visit),
            Self::Compare { field, value, .. } => visit(field, std::slice::from_mut(value)),
            Self::In { field, values } => visit(field, values),
            Self::Like { field, .. } | Self::Regex { field, .. } | Self::Exists { field, .. } => {
                visit(field, &mut [])
            }
        }
    }

    /// `field = value`. A field name that is not a valid path is kept as one
    /// segment, and the server refuses it with `invalid_query`.
    pub fn eq(field: &str, value: impl Into<Scalar>) -> Self {
        Self::cmp(field, CmpOp::Eq, value)
    }
    /// `field != value`.
    pub fn ne(field: &str, value: impl Into<Scalar>) -> Self {
        Self::cmp(field, CmpOp::Ne, value)
    }
    /// `field < value`.
    pub fn lt(field: &str, value: impl Into<Scalar>) -> Self {
        Self::cmp(field, CmpOp::Lt, value)
    }
    /// `field <= value`.
    pub fn lte(field: &str, value: impl Into<Scalar>) -> Self {
        Self::cmp(field, CmpOp::Lte, value)
    }
    /// `field > value`.
    pub fn gt(field: &str, value: impl Into<Scalar>) -> Self {
        Self::cmp(field, CmpOp::Gt, value)
    }
    /// `field >= value`.
    pub fn gte(field: &str, value: impl Into<Scalar>) -> Self {
        Self::cmp(field, CmpOp::Gte, value)
    }
    /// `field <op> value`.
    pub fn cmp(field: &str, op: CmpOp, value: impl Into<Scalar>) -> Self {
        Self::Compare {
            field: path(field),
            op,
            value: value.into(),
        }
    }
    /// `field IN (values...)`.
    pub fn is_in<V: Into<Scalar>>(field: &str, values: impl IntoIterator<Item = V>) -> Self {
        Self::In {
            field: path(field),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
    /// `field LIKE needle`: a string field containing `needle`, ignoring case.
    pub fn like(field: &str, needle: &str) -> Self {
        Self::Like {
            field: path(field),
            needle: needle.to_owned(),
        }
    }
    /// `field` matches a regular expression with flags (`i`, `m`, `s`, `x`).
    pub fn regex(field: &str, source: &str, flags: &str) -> Result<Self, String> {
        Ok(Self::Regex {
            field: path(field),
            pattern: Pattern::new(source, flags)?,
        })
    }
    /// `field` is present (or, with `false`, absent).
    pub fn exists(field: &str, exists: bool) -> Self {
        Self::Exists {
            field: path(field),
            exists,
        }
    }
    /// Both this and `other`.
    #[must_use]
    pub fn and(self, other: Filter) -> Self {
        match (self, other) {
            (Self::All, f) | (f, Self::All) => f,
            (Self::And(mut a), Self::And(b)) => {
                a.extend(b);
                Self::And(a)
            }
            (Self::And(mut a), f) => {
                a.push(f);
                Self::And(a)
            }
            (f, g) => Self::And(vec![f, g]),
        }
    }
    /// This or `other`.
    #[must_use]
    pub fn or(self, other: Filter) -> Self {
        match (self, other) {
            (Self::Or(mut a), Self::Or(b)) => {
                a.extend(b);
                Self::Or(a)
            }
            (Self::Or(mut a), f) => {
                a.push(f);
                Self::Or(a)
            }
            (f, g) => Self::Or(vec![f, g]),
        }
    }
    /// Not this.
    #[allow(clippy::should_implement_trait)]
    #[must_use]
    pub fn not(self) -> Self {
        Self::Not(Box::new(self))
    }

    /// How many nodes the tree holds.
    pub fn node_count(&self) -> usize {
        match self {
            Self::And(v) | Self::Or(v) => 1 + v.iter().map(Filter::node_count).sum::<usize>(),
            Self::Not(f) => 1 + f.node_count(),
            Self::In { values, .. } => 1 + values.len(),
            _ => 1,
        }
    }

    /// How deep the tree nests.
    pub fn depth(&self) -> usize {
        match self {
            Self::And(v) | Self::Or(v) => 1 + v.iter().map(Filter::depth).max().unwrap_or(0),
            Self::Not(f) => 1 + f.depth(),
            _ => 1,
        }
    }

    /// Checks the size bounds a server enforces; `param` names the error's source.
    pub fn check_bounds(&self, param: &str) -> Result<(), QueryError> {
        if self.node_count() > MAX_FILTER_NODES {
            return Err(QueryError::new(
                param,
                format!("the filter has more than {MAX_FILTER_NODES} parts"),
            ));
        }
        if self.depth() > MAX_FILTER_DEPTH {
            return Err(QueryError::new(
                param,
                format!("the filter nests deeper than {MAX_FILTER_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// Every field path the filter reads.
    pub fn fields(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    /// How many regular expressions (`$regex`) the filter holds:
    /// each is compiled and kept while the filter lives.
    pub fn regexes(&self) -> usize {
        match self {
            Self::And(v) | Self::Or(v) => v.iter().map(Self::regexes).sum(),
            Self::Not(f) => f.regexes(),
            Self::Regex { .. } => 1,
            _ => 0,
        }
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a Path>) {
        match self {
            Self::All => {}
            Self::And(v) | Self::Or(v) => v.iter().for_each(|f| f.collect_fields(out)),
            Self::Not(f) => f.collect_fields(out),
            Self::Compare { field, .. }
            | Self::In { field, .. }
            | Self::Like { field, .. }
            | Self::Regex { field, .. }
            | Self::Exists { field, .. } => out.push(field),
        }
    }
}

#[cfg(test)]
mod tests;
