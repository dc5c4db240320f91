//! Which collection names and record ids are valid.
//!
//! The server and both SDKs check with the same functions, so a bad name is
//! refused before it is sent and, if sent anyway, with the same error code.

use crate::error::{ErrorBody, ErrorCode};
use crate::routes;

/// Longest accepted collection name.
pub const MAX_COLLECTION_NAME: usize = 64;
/// Longest accepted record id.
pub const MAX_ID: usize = 128;

/// Names taken by the server's own routes and stores; no collection may use them.
pub const RESERVED_NAMES: &[&str] = &[
    routes::ADMIN,
    routes::ADMIN_PAGE,
    routes::COLLECTIONS,
    routes::HEALTH,
    routes::LOGIN,
    routes::LOGOUT,
    routes::ME,
    routes::METRICS,
    routes::OPENAPI,
    routes::REGISTER,
    routes::SDK,
    routes::SDK_JS,
    "sessions",
    routes::UPLOADS,
    "users",
    routes::WS,
];

/// Checks a collection name: 1–64 characters, an ASCII letter first, then ASCII
/// letters, digits, `_` or `-`; not one of [`RESERVED_NAMES`] in any letter case.
pub fn check_collection_name(name: &str) -> Result<(), ErrorBody> {
    let mut chars = name.chars();
    let well_formed = name.len() <= MAX_COLLECTION_NAME
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !well_formed {
        return Err(ErrorBody::new(
            ErrorCode::InvalidCollectionName,
            // Plain text rather than format!: the browser build carries no
            // formatting code (a test holds the number to the constant).
            "collection names are 1-64 characters: a letter, then letters, digits, '_' or '-'",
        ));
    }
    if RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(ErrorBody::new(
            ErrorCode::ReservedName,
            ["'", name, "' is reserved by the server"].concat(),
        ));
    }
    Ok(())
}

/// Checks a record id: 1–128 characters of ASCII letters, digits, `_` or `-`.
pub fn check_id(id: &str) -> Result<(), ErrorBody> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ErrorBody::new(
            ErrorCode::InvalidId,
            "ids are 1-128 characters of letters, digits, '_' or '-'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_route_is_a_name_no_collection_may_take() {
        // Otherwise a collection of that name would be unreachable: the server
        // routes its paths itself.
        for s in routes::SEGMENTS {
            assert!(
                RESERVED_NAMES.contains(s),
                "'{s}' is a route of the server but not a reserved collection name"
            );
        }
    }

    #[test]
    fn ordinary_names_pass() {
        for n in ["messages", "usersmeta", "Chat_Rooms-2", "a"] {
            assert!(check_collection_name(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn malformed_names_are_refused_with_their_code() {
        let long = "a".repeat(65);
        for n in ["", "1abc", "_x", "a b", "a/b", "..", "é", long.as_str()] {
            let e = check_collection_name(n).expect_err(n);
            assert_eq!(e.code, ErrorCode::InvalidCollectionName, "{n}");
        }
    }

    #[test]
    fn reserved_names_are_refused_in_any_case() {
        for n in ["users", "Users", "collections", "uploads", "ws"] {
            assert_eq!(
                check_collection_name(n).expect_err(n).code,
                ErrorCode::ReservedName
            );
        }
    }

    #[test]
    fn ids_follow_their_charset() {
        assert!(check_id("5e9f2fc00fb8899611d642a4").is_ok());
        assert!(check_id("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").is_ok());
        let long = "a".repeat(129);
        for id in ["", "../etc", "a b", "x%00", long.as_str()] {
            assert_eq!(check_id(id).expect_err(id).code, ErrorCode::InvalidId);
        }
    }

    #[test]
    fn messages_state_the_limits() {
        let long = "a".repeat(MAX_COLLECTION_NAME + 1);
        let e = check_collection_name(&long).expect_err("too long");
        assert!(e.message.contains(&format!("1-{MAX_COLLECTION_NAME} ")));
        let e = check_id("").expect_err("empty");
        assert!(e.message.contains(&format!("1-{MAX_ID} ")));
    }
}
