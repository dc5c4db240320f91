//! Filters compiled to PostgreSQL over the `doc` JSONB column.
//!
//! Every comparison the compiler emits gives the evaluator's answer
//! (`sdk_core::query`): JSONB equality is type-exact (`1` is not `"1"`), a
//! range compares only values of the literal's type, strings compare by code
//! point (`COLLATE "C"`), and each leaf is `COALESCE(…, false)` so `NOT` of a
//! missing field is true, as in the evaluator. A leaf that SQL cannot decide
//! exactly — `$like` (case folding differs), `$regex`, a path that could step
//! into an array — compiles to `true` (or `false` under an odd number of
//! `NOT`s), making the clause a superset, and the read says it is not
//! [`Compiled::exact`]: the store then runs the evaluator over what it returns.
//!
//! Values travel only as bound parameters. Field paths are inlined as text-array
//! literals, which is safe because [`Path`] admits only ASCII letters, digits,
//! `_` and `-` in segments, and lets expression indexes on `(doc #> '{…}')` match.

use sdk_core::query::{CmpOp, Filter, Path, Scalar};
use std::fmt::Write;
use tokio_postgres::types::ToSql;

/// A bound parameter.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// SQL text and its parameters (`$1`…).
#[derive(Default)]
pub(crate) struct Compiled {
    /// The text.
    pub text: String,
    /// The parameters, in order.
    pub params: Vec<Param>,
    /// Whether the text decides the filter exactly (else it is a superset).
    pub exact: bool,
}

impl Compiled {
    /// An empty statement, exact so far.
    pub fn new() -> Self {
        Self {
            exact: true,
            ..Self::default()
        }
    }

    /// Appends text.
    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Appends a placeholder for `v`.
    pub fn bind(&mut self, v: Param) {
        self.params.push(v);
        let _ = write!(self.text, "${}", self.params.len());
    }

    /// The parameters as the driver takes them.
    pub fn args(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The JSONB value at `path`: `(doc #> '{a,b}')`.
pub(crate) fn access(path: &Path) -> String {
    format!("(doc #> '{{{}}}')", path.segments().join(","))
}

/// Whether `#>` reads `path` as the evaluator does (through objects only): a
/// segment after the first that is all digits would index into an array.
fn object_path(path: &Path) -> bool {
    path.segments()
        .iter()
        .skip(1)
        .all(|s| !s.bytes().all(|b| b.is_ascii_digit()))
}

fn json(v: &Scalar) -> serde_json::Value {
    v.to_json()
}

/// Appends `f` as a boolean SQL expression. `negated` says whether it sits under
/// an odd number of `NOT`s (an inexact leaf then compiles to `false`).
pub(crate) fn filter(sql: &mut Compiled, f: &Filter, negated: bool) {
    match f {
        Filter::All => sql.push("true"),
        Filter::And(parts) | Filter::Or(parts) if parts.is_empty() => {
            sql.push(if matches!(f, Filter::And(_)) {
                "true"
            } else {
                "false"
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
                filter(sql, p, negated);
            }
            sql.push(")");
        }
        Filter::Not(inner) => {
            sql.push("(NOT ");
            filter(sql, inner, !negated);
            sql.push(")");
        }
        Filter::Compare { field, .. } | Filter::In { field, .. } | Filter::Exists { field, .. }
            if !object_path(field) =>
        {
            inexact(sql, negated);
        }
        Filter::Compare { field, op, value } => compare(sql, field, *op, value),
        Filter::In { field, values } => {
            sql.push("(");
            if values.is_empty() {
                sql.push("false");
            }
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                compare(sql, field, CmpOp::Eq, v);
            }
            sql.push(")");
        }
        Filter::Exists { field, exists } => {
            let not = if *exists { "NOT " } else { "" };
            let _ = write!(sql.text, "({} IS {not}NULL)", access(field));
        }
        Filter::Like { .. } | Filter::Regex { .. } => inexact(sql, negated),
    }
}

fn inexact(sql: &mut Compiled, negated: bool) {
    sql.exact = false;
    sql.push(if negated { "false" } else { "true" });
}

/// `field <op> value`, never NULL.
fn compare(sql: &mut Compiled, field: &Path, op: CmpOp, value: &Scalar) {
    let x = access(field);
    match (op, value) {
        (CmpOp::Eq, Scalar::Null) => {
            let _ = write!(sql.text, "({x} IS NULL OR {x} = 'null'::jsonb)");
        }
        (CmpOp::Ne, _) => {
            sql.push("(NOT ");
            compare(sql, field, CmpOp::Eq, value);
            sql.push(")");
        }
        (CmpOp::Eq, v) => {
            let _ = write!(sql.text, "COALESCE({x} = ");
            sql.bind(Box::new(json(v)));
            sql.push(", false)");
        }
        // A range against `null` matches nothing.
        (_, Scalar::Null) => sql.push("false"),
        (op, Scalar::String(s)) => {
            let _ = write!(
                sql.text,
                "COALESCE(jsonb_typeof({x}) = 'string' AND ({x} #>> '{{}}') COLLATE \"C\" {} ",
                op.sql()
            );
            sql.bind(Box::new(s.clone()));
            sql.push(", false)");
        }
        (op, v) => {
            let t = if matches!(v, Scalar::Bool(_)) {
                "boolean"
            } else {
                "number"
            };
            let _ = write!(
                sql.text,
                "COALESCE(jsonb_typeof({x}) = '{t}' AND {x} {} ",
                op.sql()
            );
            sql.bind(Box::new(json(v)));
            sql.push(", false)");
        }
    }
}
