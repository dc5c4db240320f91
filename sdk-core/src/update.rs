//! Update specs for writes to many records: `$set`, `$unset`, `$inc`, `$push`,
//! `$pull`, `$min`, `$max`, `$rename`-free and predictable.
//!
//! ```json
//! { "$set": { "status": "done", "meta.by": "ann" }, "$inc": { "views": 1 },
//!   "$push": { "tags": "new" }, "$pull": { "tags": "old" }, "$unset": { "draft": "" } }
//! ```
//!
//! Paths reach into nested objects (`$set` creates the objects on the way). System
//! fields cannot be targeted. A spec that cannot apply to a record (`$inc` on a
//! string, `$push` onto a non-array) fails the whole write.

use crate::error::{ErrorBody, ErrorCode};
use crate::query::{Path, Scalar, get_path};
use crate::record::is_system_field;
use serde_json::{Map, Value};

/// One change of an update spec.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOp {
    /// Set the field to the value.
    Set(Path, Value),
    /// Remove the field.
    Unset(Path),
    /// Add a number to the field (a missing field counts as 0).
    Inc(Path, serde_json::Number),
    /// Append the value to the array (a missing field becomes a one-element array).
    Push(Path, Value),
    /// Remove every element equal to the value from the array.
    Pull(Path, Value),
    /// Set the field to the value if that is smaller (or the field is missing).
    Min(Path, Scalar),
    /// Set the field to the value if that is larger (or the field is missing).
    Max(Path, Scalar),
}

/// A parsed update spec.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateSpec {
    /// The changes, applied in order.
    pub ops: Vec<UpdateOp>,
}

fn invalid(field: &str, problem: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidBody, "the update spec is not valid")
        .with_field(field, problem)
}

impl UpdateSpec {
    /// Parses `{"$set": {...}, "$inc": {...}, ...}`.
    pub fn parse(v: &Value) -> Result<Self, ErrorBody> {
        let Value::Object(top) = v else {
            return Err(ErrorBody::new(
                ErrorCode::InvalidBody,
                "the update spec must be an object like {\"$set\": {\"field\": value}}",
            ));
        };
        if top.is_empty() {
            return Err(ErrorBody::new(
                ErrorCode::InvalidBody,
                "the update spec is empty",
            ));
        }
        let mut ops = Vec::new();
        for (op, fields) in top {
            let Value::Object(fields) = fields else {
                return Err(invalid(op, "takes an object of fields"));
            };
            for (field, arg) in fields {
                let path = Path::parse(field).map_err(|m| invalid(field, m))?;
                if is_system_field(&path.segments()[0]) {
                    return Err(ErrorBody::new(
                        ErrorCode::SystemField,
                        "the update changes fields only the server may set",
                    )
                    .with_field(field, "set by the server"));
                }
                ops.push(match op.as_str() {
                    "$set" => UpdateOp::Set(path, arg.clone()),
                    "$unset" => UpdateOp::Unset(path),
                    "$inc" => match arg {
                        Value::Number(n) => UpdateOp::Inc(path, n.clone()),
                        _ => return Err(invalid(field, "$inc takes a number")),
                    },
                    "$push" => UpdateOp::Push(path, arg.clone()),
                    "$pull" => UpdateOp::Pull(path, arg.clone()),
                    "$min" | "$max" => {
                        let s = Scalar::from_json(arg)
                            .filter(|s| !matches!(s, Scalar::Null))
                            .ok_or_else(|| invalid(field, format!("{op} takes a number, string or boolean")))?;
                        if op == "$min" {
                            UpdateOp::Min(path, s)
                        } else {
                            UpdateOp::Max(path, s)
                        }
                    }
                    other => {
                        return Err(invalid(
                            other,
                            "unknown update operator; use $set, $unset, $inc, $push, $pull, $min or $max",
                        ));
                    }
                });
            }
        }
        Ok(Self { ops })
    }

    /// Applies the spec to a record's fields; the error names the field that could not change.
    pub fn apply(&self, rec: &mut Map<String, Value>) -> Result<(), ErrorBody> {
        for op in &self.ops {
            match op {
                UpdateOp::Set(p, v) => set(rec, p, v.clone())?,
                UpdateOp::Unset(p) => unset(rec, p),
                UpdateOp::Inc(p, n) => {
                    let cur = get_path(&Value::Object(rec.clone()), p).cloned();
                    let next = match cur {
                        None | Some(Value::Null) => Value::Number(n.clone()),
                        Some(Value::Number(c)) => {
                            add(&c, n).ok_or_else(|| cannot(p, "the sum is out of range"))?
                        }
                        Some(_) => return Err(cannot(p, "$inc needs a number")),
                    };
                    set(rec, p, next)?;
                }
                UpdateOp::Push(p, v) => {
                    let cur = get_path(&Value::Object(rec.clone()), p).cloned();
                    let next = match cur {
                        None | Some(Value::Null) => Value::Array(vec![v.clone()]),
                        Some(Value::Array(mut a)) => {
                            a.push(v.clone());
                            Value::Array(a)
                        }
                        Some(_) => return Err(cannot(p, "$push needs an array")),
                    };
                    set(rec, p, next)?;
                }
                UpdateOp::Pull(p, v) => match get_path(&Value::Object(rec.clone()), p).cloned() {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(mut a)) => {
                        a.retain(|x| x != v);
                        set(rec, p, Value::Array(a))?;
                    }
                    Some(_) => return Err(cannot(p, "$pull needs an array")),
                },
                UpdateOp::Min(p, s) | UpdateOp::Max(p, s) => {
                    let cur = get_path(&Value::Object(rec.clone()), p).cloned();
                    let lit = s.to_json();
                    let replace = match &cur {
                        None | Some(Value::Null) => true,
                        Some(c) => {
                            let o = crate::query::compare_values(Some(&lit), Some(c));
                            if matches!(op, UpdateOp::Min(..)) {
                                o.is_lt()
                            } else {
                                o.is_gt()
                            }
                        }
                    };
                    if replace {
                        set(rec, p, lit)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn cannot(p: &Path, why: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::ValidationFailed,
        "the update does not apply to a record",
    )
    .with_field(&p.to_string(), why)
}

fn add(a: &serde_json::Number, b: &serde_json::Number) -> Option<Value> {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x.checked_add(y).map(Value::from),
        _ => serde_json::Number::from_f64(a.as_f64()? + b.as_f64()?).map(Value::Number),
    }
}

fn set(rec: &mut Map<String, Value>, p: &Path, v: Value) -> Result<(), ErrorBody> {
    let segs = p.segments();
    let mut cur = rec;
    for seg in &segs[..segs.len() - 1] {
        let next = cur
            .entry(seg.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        match next {
            Value::Object(m) => cur = m,
            _ => return Err(cannot(p, "a field on the way is not an object")),
        }
    }
    if let Some(last) = segs.last() {
        cur.insert(last.clone(), v);
    }
    Ok(())
}

fn unset(rec: &mut Map<String, Value>, p: &Path) {
    let segs = p.segments();
    let mut cur = rec;
    for seg in &segs[..segs.len() - 1] {
        match cur.get_mut(seg) {
            Some(Value::Object(m)) => cur = m,
            _ => return,
        }
    }
    if let Some(last) = segs.last() {
        cur.shift_remove(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applies_every_operator() {
        let spec = UpdateSpec::parse(&json!({
            "$set": {"a.b": 1, "s": "x"}, "$inc": {"n": 2, "m": 1.5}, "$push": {"t": "z"},
            "$pull": {"u": 1}, "$unset": {"gone": ""}, "$min": {"lo": 3}, "$max": {"hi": 3}
        }))
        .expect("parses");
        let mut rec = json!({"n": 1, "u": [1, 2, 1], "t": ["y"], "gone": true, "lo": 5, "hi": 5})
            .as_object()
            .cloned()
            .expect("object");
        spec.apply(&mut rec).expect("applies");
        assert_eq!(
            Value::Object(rec),
            json!({"n": 3, "u": [2], "t": ["y", "z"], "lo": 3, "hi": 5, "a": {"b": 1}, "s": "x", "m": 1.5})
        );
    }

    #[test]
    fn refuses_system_fields_unknown_operators_and_wrong_types() {
        for bad in [
            json!({"$set": {"_id": "x"}}),
            json!({"$set": {"userId": "x"}}),
            json!({"$rename": {"a": "b"}}),
            json!({"$inc": {"a": "1"}}),
            json!({"$set": 5}),
            json!({}),
            json!([1]),
        ] {
            assert!(UpdateSpec::parse(&bad).is_err(), "{bad}");
        }
        let spec = UpdateSpec::parse(&json!({"$inc": {"s": 1}})).expect("parses");
        let mut rec = json!({"s": "text"}).as_object().cloned().expect("object");
        assert!(spec.apply(&mut rec).is_err());
    }
}
