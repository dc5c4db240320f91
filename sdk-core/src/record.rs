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
    match data.remove(OWNER) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if Some(s.as_str()) == caller => {}
        Some(_) => flag(OWNER, "may only be your own user id"),
    }
    let expected = match data.remove(VERSION) {
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
    fn version_is_taken_as_the_expected_version() {
        let (v, d) = check_client_data(json!({"__v":3,"a":1}), None).expect("ok");
        assert_eq!(v, Some(3));
        assert!(!d.contains_key("__v"));
    }
}
