//! File storage: names, buckets and the metadata record of a stored file.

use crate::error::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};

/// Longest accepted file name, in bytes.
pub const MAX_FILENAME: usize = 255;
/// Longest accepted bucket name.
pub const MAX_BUCKET: usize = 64;

/// Checks a file name: 1–255 bytes; no `/`, `\`, `..`, NUL or other control
/// characters; not starting or ending with white space.
pub fn check_filename(name: &str) -> Result<(), ErrorBody> {
    match filename_problem(name) {
        None => Ok(()),
        Some(p) => Err(
            ErrorBody::new(ErrorCode::InvalidFilename, format!("the file name {p}"))
                .with_field("filename", p),
        ),
    }
}

/// What is wrong with a file name (see [`check_filename`]), if anything.
pub fn filename_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > MAX_FILENAME {
        Some("must be at most 255 bytes")
    } else if name.contains(['/', '\\']) {
        Some("must not contain '/' or '\\'")
    } else if name.as_bytes().windows(2).any(|w| w == b"..") {
        Some("must not contain '..'")
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        Some("must not start or end with white space")
    } else {
        None
    }
}

/// What a bucket name must be.
pub const BUCKET_RULE: &str = "1-64 characters of letters, digits, '_', '-' or '.'";

/// Checks a bucket name: 1–64 characters of ASCII letters, digits, `_`, `-` or `.`.
pub fn check_bucket(bucket: &str) -> Result<(), ErrorBody> {
    if bucket_ok(bucket) {
        Ok(())
    } else {
        Err(
            ErrorBody::new(ErrorCode::ValidationFailed, "the bucket name is not valid")
                .with_field("bucket", BUCKET_RULE),
        )
    }
}

/// Whether a bucket name is valid (see [`check_bucket`]).
pub fn bucket_ok(bucket: &str) -> bool {
    !bucket.is_empty()
        && bucket.len() <= MAX_BUCKET
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The metadata record of a stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FileRecord {
    /// The record's id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The owner, who uploaded it.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// The file's name, unique per owner.
    pub filename: String,
    /// The bucket it is filed under.
    pub bucket: String,
    /// Size in bytes.
    pub size: u64,
    /// The media type given at upload (`application/octet-stream` when none was).
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// SHA-256 of the bytes, lowercase hex; also the download's ETag.
    pub sha256: String,
    /// Upload time.
    #[serde(rename = "createdAt")]
    pub created_at: String,
    /// Time of the last change to the bytes or the metadata.
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
    /// Version: 0 on upload, +1 on every change.
    #[serde(rename = "__v")]
    pub version: u64,
}

/// Answer of `GET /uploads/<userId>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FileList {
    /// The user's files, by name.
    pub records: Vec<FileRecord>,
}

/// Answer of `PATCH /uploads/<filename>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FileUpdated {
    /// The changed metadata record.
    pub record: FileRecord,
}

/// Answer of `DELETE /uploads/<filename>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FileDeleted {
    /// The metadata record as it was.
    #[serde(rename = "deletedRecord")]
    pub deleted_record: FileRecord,
}

/// Body of `PATCH /uploads/<filename>` (JSON, or the same fields as multipart form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RenameFile {
    /// The new name.
    pub filename: String,
    /// The new bucket.
    pub bucket: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_file_names_pass() {
        for n in [
            "my_photo.jpg",
            "new photo (2).png",
            "résumé.pdf",
            "a",
            ".hidden",
            "x.tar.gz",
        ] {
            assert!(check_filename(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn path_tricks_and_control_characters_are_refused() {
        let long = "a".repeat(256);
        for n in [
            "",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "a\0b",
            "a\nb",
            "x..y",
            " lead",
            "trail ",
            "\u{a0}lead",
            "trail\u{2003}",
            long.as_str(),
        ] {
            let e = check_filename(n).expect_err(n);
            assert_eq!(e.code, ErrorCode::InvalidFilename, "{n:?}");
        }
    }

    #[test]
    fn buckets_follow_their_charset() {
        assert!(check_bucket("photos").is_ok());
        assert!(check_bucket("none").is_ok());
        for b in ["", "a b", "a/b", &"b".repeat(65)] {
            assert!(check_bucket(b).is_err(), "{b}");
        }
    }
}
