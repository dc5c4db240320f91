//! The `q` spelling: a Mongo-style JSON query, and writing a filter back as one.
//!
//! Top level: `{"field": value}` (equality), `{"field": {"$op": value, ...}}`,
//! `$and` / `$or` / `$nor` (arrays of queries), `$not` (a query), and the options
//! `$orderby` (alias `$sort`: `{"field": 1 | -1}`), `$skip`, `$limit` and `$fields`
//! (`{"field": 1}`). Field operators: `$eq $ne $gt $gte $lt $lte $in $nin $exists
//! $regex` (with `$options`), `$like` (contains, ignoring case) and `$not` (an operator
//! object). Several operators on one field must all hold.

use super::{
    CmpOp, Filter, MAX_FILTER_DEPTH, MAX_IN_VALUES, Path, Pattern, QueryError, Scalar, SortKey,
};
use serde_json::{Map, Value, json};

/// A parsed `q`: the filter and the options it carried.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MongoQuery {
    /// The filter.
    pub filter: Option<Filter>,
    /// `$orderby` / `$sort`.
    pub sort: Vec<SortKey>,
    /// `$skip`.
    pub skip: Option<u64>,
    /// `$limit`.
    pub limit: Option<u64>,
    /// `$fields`.
    pub fields: Option<Vec<Path>>,
}

fn err(msg: impl Into<String>) -> QueryError {
    QueryError::new("q", msg)
}

/// Parses a `q` document from its JSON text; JSON syntax errors carry the offset.
pub fn parse_mongo(src: &str) -> Result<MongoQuery, QueryError> {
    let v: Value = serde_json::from_str(src).map_err(|e| {
        let offset = src
            .lines()
            .take(e.line().saturating_sub(1))
            .map(|l| l.chars().count() + 1)
            .sum::<usize>()
            + e.column().saturating_sub(1);
        QueryError::at("q", offset, format!("malformed JSON: {e}"))
    })?;
    parse_mongo_value(v)
}

/// Parses a `q` document already read as JSON (a WebSocket `find` carries one).
pub fn parse_mongo_value(v: Value) -> Result<MongoQuery, QueryError> {
    let Value::Object(top) = v else {
        return Err(err("q must be a JSON object"));
    };
    let mut out = MongoQuery::default();
    let mut rest = Map::new();
    for (k, v) in top {
        match k.as_str() {
            "$orderby" | "$sort" => out.sort = parse_sort(&v)?,
            "$skip" => out.skip = Some(non_negative(&k, &v)?),
            "$limit" => out.limit = Some(non_negative(&k, &v)?),
            "$fields" => {
                let Value::Object(m) = v else {
                    return Err(err("$fields must be an object like {\"name\": 1}"));
                };
                let mut fields = Vec::new();
                for (f, on) in m {
                    if !(on == json!(1) || on == json!(true)) {
                        return Err(err(format!(
                            "$fields.{f}: only 1 or true (fields to return) is supported"
                        )));
                    }
                    fields.push(Path::parse(&f).map_err(err)?);
                }
                out.fields = Some(fields);
            }
            _ => {
                rest.insert(k, v);
            }
        }
    }
    if !rest.is_empty() {
        let f = query(&rest, 0)?;
        f.check_bounds("q")?;
        out.filter = Some(f);
    }
    Ok(out)
}

fn non_negative(k: &str, v: &Value) -> Result<u64, QueryError> {
    v.as_u64()
        .ok_or_else(|| err(format!("{k} must be a non-negative integer")))
}

fn parse_sort(v: &Value) -> Result<Vec<SortKey>, QueryError> {
    let Value::Object(m) = v else {
        return Err(err("$orderby must be an object like {\"age\": -1}"));
    };
    m.iter()
        .map(|(f, dir)| {
            let descending = match dir {
                v if v == &json!(1) => false,
                v if v == &json!(-1) => true,
                Value::String(s) if s.eq_ignore_ascii_case("asc") => false,
                Value::String(s) if s.eq_ignore_ascii_case("desc") => true,
                _ => {
                    return Err(err(format!(
                        "$orderby.{f} must be 1 (ascending) or -1 (descending)"
                    )));
                }
            };
            Ok(SortKey {
                field: Path::parse(f).map_err(err)?,
                descending,
            })
        })
        .collect()
}

fn one(mut parts: Vec<Filter>) -> Filter {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        Filter::And(parts)
    }
}

fn query(m: &Map<String, Value>, depth: usize) -> Result<Filter, QueryError> {
    if depth > MAX_FILTER_DEPTH {
        return Err(err(format!(
            "the query nests deeper than {MAX_FILTER_DEPTH} levels"
        )));
    }
    let mut parts = Vec::with_capacity(m.len());
    for (k, v) in m {
        parts.push(match k.as_str() {
            "$and" | "$or" | "$nor" => {
                let Value::Array(items) = v else {
                    return Err(err(format!("{k} takes an array of queries")));
                };
                let subs = items
                    .iter()
                    .map(|i| match i {
                        Value::Object(o) => query(o, depth + 1),
                        _ => Err(err(format!("each entry of {k} must be a query object"))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                match k.as_str() {
                    "$and" => Filter::And(subs),
                    "$or" => Filter::Or(subs),
                    _ => Filter::Not(Box::new(Filter::Or(subs))),
                }
            }
            "$not" => match v {
                Value::Object(o) => Filter::Not(Box::new(query(o, depth + 1)?)),
                _ => return Err(err("$not takes a query object")),
            },
            k if k.starts_with('$') => {
                return Err(err(format!("unknown operator '{k}'")));
            }
            field => {
                let path = Path::parse(field).map_err(err)?;
                field_query(&path, v, depth)?
            }
        });
    }
    Ok(match parts.len() {
        0 => Filter::All,
        _ => one(parts),
    })
}

fn scalar(path: &Path, op: &str, v: &Value) -> Result<Scalar, QueryError> {
    Scalar::from_json(v).ok_or_else(|| {
        err(format!(
            "{path}: {op} takes a string, number, boolean or null (reach nested fields by dot path)"
        ))
    })
}

fn field_query(path: &Path, v: &Value, depth: usize) -> Result<Filter, QueryError> {
    let ops = match v {
        Value::Object(o) if o.keys().any(|k| k.starts_with('$')) => o,
        Value::Object(o) if o.is_empty() => {
            return Err(err(format!(
                "{path}: an empty object is not a value to compare"
            )));
        }
        Value::Object(_) | Value::Array(_) => {
            return Err(err(format!(
                "{path}: compare nested fields by dot path (\"{path}.name\"), not with an object or array"
            )));
        }
        _ => {
            return Ok(Filter::Compare {
                field: path.clone(),
                op: CmpOp::Eq,
                value: scalar(path, "equality", v)?,
            });
        }
    };
    if let Some(k) = ops.keys().find(|k| !k.starts_with('$')) {
        return Err(err(format!(
            "{path}: '{k}' mixed with operators; use a dot path for nested fields"
        )));
    }
    let mut parts = Vec::with_capacity(ops.len());
    for (op, arg) in ops {
        let cmp = |o: CmpOp| -> Result<Filter, QueryError> {
            Ok(Filter::Compare {
                field: path.clone(),
                op: o,
                value: scalar(path, op, arg)?,
            })
        };
        parts.push(match op.as_str() {
            "$eq" => cmp(CmpOp::Eq)?,
            "$ne" => cmp(CmpOp::Ne)?,
            "$gt" => cmp(CmpOp::Gt)?,
            "$gte" => cmp(CmpOp::Gte)?,
            "$lt" => cmp(CmpOp::Lt)?,
            "$lte" => cmp(CmpOp::Lte)?,
            "$in" | "$nin" => {
                let Value::Array(items) = arg else {
                    return Err(err(format!("{path}: {op} takes an array")));
                };
                if items.len() > MAX_IN_VALUES {
                    return Err(err(format!(
                        "{path}: {op} takes at most {MAX_IN_VALUES} values"
                    )));
                }
                let values = items
                    .iter()
                    .map(|i| scalar(path, op, i))
                    .collect::<Result<Vec<_>, _>>()?;
                let f = Filter::In {
                    field: path.clone(),
                    values,
                };
                if op == "$in" {
                    f
                } else {
                    Filter::Not(Box::new(f))
                }
            }
            "$exists" => match arg {
                Value::Bool(b) => Filter::Exists {
                    field: path.clone(),
                    exists: *b,
                },
                _ => return Err(err(format!("{path}: $exists takes true or false"))),
            },
            "$like" => match arg {
                Value::String(s) => Filter::Like {
                    field: path.clone(),
                    needle: s.clone(),
                },
                _ => return Err(err(format!("{path}: $like takes a string"))),
            },
            "$regex" => {
                let Value::String(src) = arg else {
                    return Err(err(format!("{path}: $regex takes a string")));
                };
                let flags = match ops.get("$options") {
                    None => "",
                    Some(Value::String(f)) => f.as_str(),
                    Some(_) => return Err(err(format!("{path}: $options takes a string"))),
                };
                Filter::Regex {
                    field: path.clone(),
                    pattern: Pattern::new(src, flags).map_err(|e| err(format!("{path}: {e}")))?,
                }
            }
            "$options" => {
                if !ops.contains_key("$regex") {
                    return Err(err(format!("{path}: $options needs $regex")));
                }
                continue;
            }
            "$not" => match arg {
                Value::Object(o) if !o.is_empty() && o.keys().all(|k| k.starts_with('$')) => {
                    if depth >= MAX_FILTER_DEPTH {
                        return Err(err(format!(
                            "the query nests deeper than {MAX_FILTER_DEPTH} levels"
                        )));
                    }
                    Filter::Not(Box::new(field_query(path, arg, depth + 1)?))
                }
                _ => {
                    return Err(err(format!(
                        "{path}: $not takes an operator object like {{\"$gt\": 5}}"
                    )));
                }
            },
            other => return Err(err(format!("{path}: unknown operator '{other}'"))),
        });
    }
    Ok(one(parts))
}

impl Filter {
    /// The filter as a `q` document that parses back to an equal filter.
    pub fn to_mongo(&self) -> Value {
        fn field_op(field: &Path, op: &str, v: Value) -> Value {
            let mut inner = Map::new();
            inner.insert(op.to_owned(), v);
            let mut m = Map::new();
            m.insert(field.to_string(), Value::Object(inner));
            Value::Object(m)
        }
        match self {
            Self::All => json!({}),
            Self::And(v) => json!({ "$and": v.iter().map(Filter::to_mongo).collect::<Vec<_>>() }),
            Self::Or(v) => json!({ "$or": v.iter().map(Filter::to_mongo).collect::<Vec<_>>() }),
            Self::Not(f) => json!({ "$not": f.to_mongo() }),
            Self::Compare { field, op, value } => field_op(field, op.mongo(), value.to_json()),
            Self::In { field, values } => field_op(
                field,
                "$in",
                Value::Array(values.iter().map(Scalar::to_json).collect()),
            ),
            Self::Like { field, needle } => field_op(field, "$like", Value::String(needle.clone())),
            Self::Regex { field, pattern } => {
                let mut inner = Map::new();
                inner.insert("$regex".into(), Value::String(pattern.source().to_owned()));
                if !pattern.flags().is_empty() {
                    inner.insert("$options".into(), Value::String(pattern.flags().to_owned()));
                }
                let mut m = Map::new();
                m.insert(field.to_string(), Value::Object(inner));
                Value::Object(m)
            }
            Self::Exists { field, exists } => field_op(field, "$exists", Value::Bool(*exists)),
        }
    }
}
