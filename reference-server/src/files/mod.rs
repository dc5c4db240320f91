//! File bytes: the `FileStore` trait, its local-disk engine (the default) and
//! its S3 engine.
//!
//! Every upload becomes a new blob with a name of its own; the metadata record
//! (in the `Store`) names the blob. Replacing a file writes a new blob, commits
//! the metadata, then removes the old blob — so a reader always streams one
//! complete blob, the old or the new, and metadata never names a partial file.

pub mod local;
pub mod s3;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;

/// A stream of body chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Why a file operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The bytes are more than the configured maximum.
    #[error("the file is over {0} bytes")]
    TooLarge(u64),
    /// No blob with that name.
    #[error("no such blob")]
    NotFound,
    /// Reading the upload failed.
    #[error("the upload could not be read: {0}")]
    Upload(String),
    /// The disk is full: nothing was kept.
    #[error("the disk is full")]
    Full,
    /// The disk failed.
    #[error("file storage failure: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for FileError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            Self::Full
        } else {
            Self::Io(e)
        }
    }
}

/// A stored blob: its name, size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The blob's name inside the store.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
}

/// Where file bytes live.
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// Streams `body` into a new blob, at most `max` bytes; durable when it returns.
    async fn put(&self, body: ByteStream, max: u64) -> Result<Blob, FileError>;
    /// Streams `len` bytes of a blob from byte `start` (the caller knows the
    /// blob's size from its metadata). A reader that has started finishes
    /// reading even if the blob is removed meanwhile.
    async fn read(&self, name: &str, start: u64, len: u64) -> Result<ByteStream, FileError>;
    /// Removes a blob (readers that already opened it finish reading it).
    async fn remove(&self, name: &str) -> Result<(), FileError>;
    /// Removes every blob not named in `keep`, and unfinished uploads; returns how many.
    async fn sweep(&self, keep: &std::collections::HashSet<String>) -> Result<usize, FileError>;
}
