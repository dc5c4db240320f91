//! Blobs as files under `<data-dir>/files/`: uploads stream into `tmp/`, are
//! fsynced, then renamed into `blobs/` (and the directory fsynced), so a blob is
//! either whole or absent, also after a crash.

use super::{Blob, ByteStream, FileError, FileStore};
use crate::clock::{hex, random_bytes};
use async_trait::async_trait;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// How many written bytes start a background flush to disk during an upload.
const SYNC_EVERY: u64 = 2 * 1024 * 1024;

/// The local-disk file store.
pub struct LocalFiles {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl LocalFiles {
    /// A store under `root`, creating its folders.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&blobs)?;
        std::fs::create_dir_all(&tmp)?;
        Ok(Self { blobs, tmp })
    }

    fn path(&self, name: &str) -> Result<PathBuf, FileError> {
        // Blob names are ours (hex), never a client's; refuse anything else outright.
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FileError::NotFound);
        }
        Ok(self.blobs.join(name))
    }
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let d = tokio::fs::File::open(dir).await?;
    d.sync_all().await
}

#[async_trait]
impl FileStore for LocalFiles {
    async fn put(&self, mut body: ByteStream, max: u64) -> Result<Blob, FileError> {
        let name = hex(&random_bytes::<16>());
        let tmp = self.tmp.join(&name);
        let result = async {
            // Large buffered writes: each tokio file write is a trip to a blocking thread.
            let mut file = tokio::io::BufWriter::with_capacity(
                1024 * 1024,
                tokio::fs::File::create(&tmp).await?,
            );
            // Data already written is flushed to disk in the background while the
            // upload goes on, so the final fsync has little left to wait for.
            let syncer = file.get_ref().try_clone().await?.into_std().await;
            let syncer = std::sync::Arc::new(syncer);
            let mut pending: Option<tokio::task::JoinHandle<std::io::Result<()>>> = None;
            let mut unsynced = 0u64;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| FileError::Upload(e.to_string()))?;
                size += chunk.len() as u64;
                if size > max {
                    return Err(FileError::TooLarge(max));
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
                unsynced += chunk.len() as u64;
                if unsynced >= SYNC_EVERY && pending.as_ref().is_none_or(|p| p.is_finished()) {
                    if let Some(p) = pending.take() {
                        p.await.map_err(std::io::Error::other)??;
                    }
                    file.flush().await?;
                    let f = syncer.clone();
                    pending = Some(tokio::task::spawn_blocking(move || f.sync_data()));
                    unsynced = 0;
                }
            }
            if let Some(p) = pending.take() {
                p.await.map_err(std::io::Error::other)??;
            }
            file.flush().await?;
            file.into_inner().sync_all().await?;
            Ok((size, hex(&hasher.finalize())))
        }
        .await;
        match result {
            Ok((size, sha256)) => {
                if let Err(e) = tokio::fs::rename(&tmp, self.blobs.join(&name)).await {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(e.into());
                }
                sync_dir(&self.blobs).await?;
                Ok(Blob { name, size, sha256 })
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    async fn read(&self, name: &str, start: u64, len: u64) -> Result<ByteStream, FileError> {
        let mut file = match tokio::fs::File::open(self.path(name)?).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FileError::NotFound),
            Err(e) => return Err(e.into()),
        };
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start)).await?;
        }
        let chunks = tokio_util::io::ReaderStream::with_capacity(file.take(len), 64 * 1024);
        Ok(Box::pin(chunks))
    }

    async fn remove(&self, name: &str) -> Result<(), FileError> {
        match tokio::fs::remove_file(self.path(name)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn sweep(&self, keep: &std::collections::HashSet<String>) -> Result<usize, FileError> {
        let mut removed = 0;
        let mut tmp = tokio::fs::read_dir(&self.tmp).await?;
        while let Some(entry) = tmp.next_entry().await? {
            tokio::fs::remove_file(entry.path()).await?;
            removed += 1;
        }
        let mut blobs = tokio::fs::read_dir(&self.blobs).await?;
        while let Some(entry) = blobs.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) {
                tokio::fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(chunks: Vec<&'static [u8]>) -> ByteStream {
        Box::pin(futures_util::stream::iter(
            chunks.into_iter().map(|c| Ok(bytes::Bytes::from_static(c))),
        ))
    }

    #[tokio::test]
    async fn blobs_are_whole_hashed_and_limited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalFiles::open(dir.path()).expect("open");
        let blob = store
            .put(stream(vec![b"hello ", b"world"]), 100)
            .await
            .expect("put");
        assert_eq!(blob.size, 11);
        assert_eq!(
            blob.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let read = |start, len| {
            let store = &store;
            let name = blob.name.clone();
            async move {
                let chunks: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(
                    store.read(&name, start, len).await.expect("read"),
                )
                .await
                .expect("chunks");
                String::from_utf8(chunks.concat()).expect("text")
            }
        };
        assert_eq!(read(0, 11).await, "hello world");
        assert_eq!(read(6, 3).await, "wor");

        let e = store
            .put(stream(vec![b"0123456789", b"0123456789"]), 15)
            .await
            .expect_err("too large");
        assert!(matches!(e, FileError::TooLarge(15)));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .count(),
            0
        );

        assert!(matches!(
            store.read("../etc", 0, 1).await,
            Err(FileError::NotFound)
        ));
        let keep = std::collections::HashSet::from([blob.name.clone()]);
        assert_eq!(store.sweep(&keep).await.expect("sweep"), 0);
        assert_eq!(store.sweep(&Default::default()).await.expect("sweep"), 1);
        assert!(matches!(
            store.read(&blob.name, 0, 1).await,
            Err(FileError::NotFound)
        ));
    }
}
