//! Records and their system fields.

use crate::error::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The record's id field.
pub const ID: &str = "_id";
/// Creation time, ISO-8601 UTC with milliseconds.
pub const CREATED_AT: &str = "createdAt";
/// Time of the last write, ISO-8601 UTC with milliseconds.
pub const UPDATED_AT: &str = "updatedAt";
/// Version: 0 on create, +1 on every write.
pub const VERSION: &str = "__v";
/// The owner's user id, set by the server from the session.
pub const OWNER: &str = "userId";

/// Every field only the server sets.
pub const SYSTEM_FIELDS: [&str; 5] = [ID, OWNER, CREATED_AT, UPDATED_AT, VERSION];

/// Whether `field` is one of the [`SYSTEM_FIELDS`].
pub fn is_system_field(field: &str) -> bool {
    SYSTEM_FIELDS.contains(&field)
}

/// A stored record: the system fields plus the application's own fields `T`.
///
/// `T` defaults to a JSON object, so `Record` alone holds any record; use your own
/// `#[derive(Deserialize)]` type for typed access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Record<T = Map<String, Value>> {
    /// The record's id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The owner's user id; absent on records created without a session.
    #[serde(rename = "userId", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Creation time, ISO-8601 UTC with milliseconds.
    #[serde(rename = "createdAt")]
    pub created_at: String,
    /// Time of the last write, ISO-8601 UTC with milliseconds.
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
    /// Version: 0 on create, +1 on every write.
    #[serde(rename = "__v")]
    pub version: u64,
    /// The application's own fields.
    #[serde(flatten)]
    pub data: T,
}

/// The data a client may send for a write: a JSON object without system fields.
///
/// A client may send `userId` only when it equals its own user id (Backpack apps do
/// that), and `__v` only as a non-negative integer, meaning "the version I expect".
/// On success it returns the expected version, if one was sent, and the object with
/// those two fields removed.
pub fn check_client_data(
    body: Value,
    caller: Option<&str>,
) -> Result<(Option<u64>, Map<String, Value>), ErrorBody> {
    let Value::Object(mut data) = body else {
        return Err(ErrorBody::new(
            ErrorCode::InvalidBody,
            "the body must be a JSON object",
        ));
    };
    let mut err: Option<ErrorBody> = None;
    let mut flag = |field: &str, problem: &str| {
        let e = err.take().unwrap_or_else(|| {
            ErrorBody::new(
                ErrorCode::SystemField,
                "the body sets fields only the server may set",
            )
        });
        err = Some(e.with_field(field, problem));
    };
    for field in [ID, CREATED_AT, UPDATED_AT] {
        if data.contains_key(field) {
            flag(field, "set by the server");
        }
    }
    // `$` starts operators (update specs, queries), never a field's name.
    if let Some(op) = data.keys().find(|k| k.starts_with('$')) {
        return Err(ErrorBody::new(
            ErrorCode::InvalidBody,
            format!(
                "'{op}': a field's name may not start with '$'; operators such as $set belong in a PATCH of one record or a bulk PATCH"
            ),
        )
        .with_field(op, "starts with '$'"));
    }
    match data.shift_remove(OWNER) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if Some(s.as_str()) == caller => {}
        Some(_) => flag(OWNER, "may only be your own user id"),
    }
    let expected = match data.shift_remove(VERSION) {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(n),
            None => {
                flag(
                    VERSION,
                    "must be a non-negative integer (the version you expect)",
                );
                None
            }
        },
    };
    match err {
        Some(e) => Err(e),
        None => Ok((expected, data)),
    }
}

/// The system fields an update's body repeats from the record it was read as
/// (a client that reads a record and writes it back whole): accepted when each
/// equals the stored value, refused (`system_field`) when one would change it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims(Map<String, Value>);

impl Claims {
    /// Whether the body repeated no system field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks the claims against the record as stored.
    pub fn check(&self, stored: &Map<String, Value>) -> Result<(), ErrorBody> {
        let mut err: Option<ErrorBody> = None;
        for (field, claimed) in &self.0 {
            if stored.get(field).unwrap_or(&Value::Null) != claimed {
                let e = err.take().unwrap_or_else(|| {
                    ErrorBody::new(
                        ErrorCode::SystemField,
                        "the body changes fields only the server may set",
                    )
                });
                err = Some(e.with_field(field, "differs from the stored record's"));
            }
        }
        err.map_or(Ok(()), Err)
    }
}

/// What an update's body holds, once checked by [`check_update_data`].
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateData {
    /// The version the client expects (`__v`), if it sent one.
    pub expected: Option<u64>,
    /// The application's fields.
    pub data: Map<String, Value>,
    /// The system fields it repeated, to check against the stored record.
    pub claims: Claims,
}

/// The data of an update (`PUT`, `PATCH`): as [`check_client_data`], except that
/// `_id`, `createdAt`, `updatedAt` and a `userId` other than the caller's are
/// taken as [`Claims`] to check against the stored record rather than refused.
pub fn check_update_data(body: Value, caller: Option<&str>) -> Result<UpdateData, ErrorBody> {
    let Value::Object(mut data) = body else {
        return check_client_data(body, caller).map(|(expected, data)| UpdateData {
            expected,
            data,
            claims: Claims::default(),
        });
    };
    let mut claims = Map::new();
    for field in [ID, CREATED_AT, UPDATED_AT, OWNER] {
        // The caller's own id and a null owner are accepted as they always were.
        let kept = field == OWNER
            && data
                .get(OWNER)
                .is_some_and(|v| v.is_null() || caller.is_some_and(|me| v.as_str() == Some(me)));
        if !kept && let Some(v) = data.shift_remove(field) {
            claims.insert(field.to_owned(), v);
        }
    }
    let (expected, data) = check_client_data(Value::Object(data), caller)?;
    Ok(UpdateData {
        expected,
        data,
        claims: Claims(claims),
    })
}

/// How a write changes a stored record.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Merge the fields in; a `null` value removes that field.
    Merge(Map<String, Value>),
    /// Replace every non-system field.
    Replace(Map<String, Value>),
    /// Apply an update spec (`{"$set": …, "$inc": …}`, Carbond's `updateObject`).
    Update(crate::update::UpdateSpec),
}

/// Whether a `PATCH` body is an update spec rather than fields to merge: an
/// object with an operator (a key that starts with `$`).
pub fn is_update_spec(body: &Value) -> bool {
    body.as_object()
        .is_some_and(|o| o.keys().any(|k| k.starts_with('$')))
}

impl Change {
    /// Applies the change to a stored record. A merged field keeps its place
    /// (a new one goes last); a replace keeps the system fields and puts the new
    /// fields after them. The version and time stamps are [`bump`]'s. Only an
    /// update spec can fail (`$inc` of a string, say), leaving `rec` partly
    /// changed: it is then not to be written.
    pub fn apply(self, rec: &mut Map<String, Value>) -> Result<(), ErrorBody> {
        match self {
            Self::Merge(data) => {
                for (k, v) in data {
                    if v.is_null() {
                        rec.shift_remove(&k);
                    } else {
                        rec.insert(k, v);
                    }
                }
            }
            Self::Replace(data) => {
                rec.retain(|k, _| is_system_field(k));
                rec.extend(data);
            }
            Self::Update(spec) => return spec.apply(rec),
        }
        Ok(())
    }
}

/// Marks a record as written at `now`: `updatedAt` is `now`, `__v` one more, and
/// the time stamps and the version go last, after the application's fields,
/// as every engine stores them.
pub fn bump(rec: &mut Map<String, Value>, now: &str) {
    let version = rec.get(VERSION).and_then(Value::as_u64).unwrap_or(0) + 1;
    rec.insert(UPDATED_AT.into(), Value::String(now.to_owned()));
    rec.insert(VERSION.into(), Value::from(version));
    for field in [CREATED_AT, UPDATED_AT, VERSION] {
        if let Some(v) = rec.shift_remove(field) {
            rec.insert(field.into(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn record_round_trips_with_flattened_data() {
        let v = json!({"_id":"a1","text":"hi","createdAt":"2020-04-21T17:39:12.829Z",
                       "updatedAt":"2020-04-21T17:39:12.829Z","__v":0});
        let r: Record = serde_json::from_value(v.clone()).expect("record");
        assert_eq!(r.id, "a1");
        assert_eq!(r.data.get("text"), Some(&json!("hi")));
        assert_eq!(serde_json::to_value(&r).expect("json"), v);
    }

    #[test]
    fn plain_objects_pass_and_arrays_do_not() {
        let (v, d) = check_client_data(json!({"text":"x"}), None).expect("ok");
        assert_eq!(v, None);
        assert_eq!(d.len(), 1);
        assert_eq!(
            check_client_data(json!([1]), None).expect_err("array").code,
            ErrorCode::InvalidBody
        );
    }

    #[test]
    fn system_fields_are_refused_field_by_field() {
        let e = check_client_data(json!({"_id":"x","createdAt":"y","__v":"z"}), None)
            .expect_err("system fields");
        assert_eq!(e.code, ErrorCode::SystemField);
        let errors = e.errors.expect("errors");
        assert!(errors.contains_key("_id") && errors.contains_key("createdAt"));
        assert!(errors.contains_key("__v"));
    }

    #[test]
    fn own_user_id_is_accepted_and_another_refused() {
        let (_, d) = check_client_data(json!({"userId":"me","a":1}), Some("me")).expect("own id");
        assert!(!d.contains_key("userId"));
        let e = check_client_data(json!({"userId":"other"}), Some("me")).expect_err("other");
        assert_eq!(e.code, ErrorCode::SystemField);
        assert!(check_client_data(json!({"userId":"me"}), None).is_err());
    }

    #[test]
    fn an_update_may_repeat_the_stored_system_fields_but_not_change_them() {
        let stored = json!({"_id": "r", "userId": "u", "createdAt": "t0", "updatedAt": "t1", "__v": 2, "a": 1});
        let Value::Object(stored) = stored else {
            unreachable!("an object literal")
        };
        // The record as read, sent back whole with one field changed.
        let mut back = stored.clone();
        back.insert("a".into(), json!(2));
        let u = check_update_data(Value::Object(back), Some("me")).expect("whole");
        assert_eq!(u.expected, Some(2));
        assert_eq!(
            u.data,
            json!({"a": 2}).as_object().cloned().expect("object")
        );
        assert_eq!(u.claims.check(&stored), Ok(()));
        // The application's fields keep the order they were sent in.
        let u = check_update_data(
            json!({"x": 1, "_id": "r", "y": 2, "z": 3, "createdAt": "t0"}),
            Some("me"),
        )
        .expect("whole");
        assert_eq!(u.data.keys().collect::<Vec<_>>(), ["x", "y", "z"]);
        // The caller's own id is not a claim (it is not a transfer either).
        let u = check_update_data(json!({"userId": "me", "a": 3}), Some("me")).expect("own id");
        assert!(u.claims.is_empty());
        // A changed id, stamp or owner is refused, field by field.
        let u = check_update_data(
            json!({"_id": "r2", "createdAt": "t0", "updatedAt": "t9", "userId": "x"}),
            Some("me"),
        )
        .expect("claims");
        let e = u.claims.check(&stored).expect_err("changes");
        assert_eq!(e.code, ErrorCode::SystemField);
        let errors = e.errors.expect("errors");
        let mut fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["_id", "updatedAt", "userId"]);
        // A null owner is no claim, as before.
        let u = check_update_data(json!({"userId": null}), None).expect("null owner");
        assert!(u.claims.is_empty());
        // What is not an object stays refused as before.
        assert_eq!(
            check_update_data(json!([1]), None).expect_err("array").code,
            ErrorCode::InvalidBody
        );
    }

    #[test]
    fn version_is_taken_as_the_expected_version() {
        let (v, d) = check_client_data(json!({"__v":3,"a":1}), None).expect("ok");
        assert_eq!(v, Some(3));
        assert!(!d.contains_key("__v"));
    }

    #[test]
    fn a_write_merges_or_replaces_then_bumps_keeping_the_stamps_last() {
        let stored = serde_json::json!({
            "_id": "a", "userId": "u", "text": "hi", "tags": [1],
            "createdAt": "t0", "updatedAt": "t0", "__v": 2
        });
        let Value::Object(stored) = stored else {
            unreachable!("an object literal")
        };
        let fields = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let mut merged = stored.clone();
        Change::Merge(fields(
            serde_json::json!({"tags": null, "text": "yo", "n": 1}),
        ))
        .apply(&mut merged)
        .expect("a merge applies");
        bump(&mut merged, "t1");
        assert_eq!(
            Value::Object(merged).to_string(),
            r#"{"_id":"a","userId":"u","text":"yo","n":1,"createdAt":"t0","updatedAt":"t1","__v":3}"#
        );
        let mut replaced = stored;
        Change::Replace(fields(serde_json::json!({"z": true})))
            .apply(&mut replaced)
            .expect("a replace applies");
        bump(&mut replaced, "t2");
        assert_eq!(
            Value::Object(replaced).to_string(),
            r#"{"_id":"a","userId":"u","z":true,"createdAt":"t0","updatedAt":"t2","__v":3}"#
        );
    }
}
