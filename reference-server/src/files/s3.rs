//! Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, …),
//! through the `object_store` crate.
//!
//! `s3://<bucket>[/<prefix>]?endpoint=<url>&region=<region>`: objects are named
//! `<prefix>/blobs/<hex>`. Credentials come from the environment, as every AWS
//! tool reads them (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`), never from the URL, so they appear in no
//! process list or log.
//!
//! An upload is one `PUT` when it fits in [`PART`] bytes, else a multipart
//! upload of `PART`-sized parts, at most [`IN_FLIGHT`] of them sending at once (so
//! a server holds at most `PART × (IN_FLIGHT + 1)` bytes of one upload); S3
//! makes an object visible only when it is whole, so a reader never sees part of
//! one. A refused or cut upload is aborted. Several server processes may share a
//! bucket: the start-up sweep removes only unnamed blobs older than [`SWEEP_AGE`],
//! never one another process is still uploading.

use super::{Blob, ByteStream, FileError, FileStore};
use crate::clock::{hex, random_bytes};
use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Bytes of one multipart part (S3 wants at least 5 MiB for all parts but the last).
pub const PART: usize = 8 * 1024 * 1024;
/// Parts of one upload sending at once.
pub const IN_FLIGHT: usize = 4;
/// How old an unnamed blob must be before the start-up sweep removes it.
pub const SWEEP_AGE: Duration = Duration::from_secs(3600);

/// The S3 file store.
pub struct S3Files {
    store: AmazonS3,
    prefix: String,
    url: String,
}

impl std::fmt::Debug for S3Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Files").field("url", &self.url).finish()
    }
}

fn engine(e: object_store::Error) -> FileError {
    match e {
        object_store::Error::NotFound { .. } => FileError::NotFound,
        other => FileError::Io(std::io::Error::other(other.to_string())),
    }
}

impl S3Files {
    /// Opens `s3://bucket[/prefix]?endpoint=…&region=…` (see the module's
    /// documentation). Query keys: `endpoint` (for a server other than AWS;
    /// `http://` allowed), `region` (default `us-east-1` when an endpoint is
    /// given), `virtual_hosted` (`true` for `bucket.host` addressing; path style
    /// otherwise when an endpoint is given).
    pub fn open(url: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("bad --files URL: {e}"))?;
        if parsed.scheme() != "s3" {
            return Err("bad --files URL: not s3://".into());
        }
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| "bad --files URL: no bucket".to_owned())?
            .to_owned();
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(
                "the file store URL holds credentials: give them in AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY instead, where no process list or log shows them"
                    .into(),
            );
        }
        let prefix = parsed.path().trim_matches('/').to_owned();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        let mut region = None;
        let mut endpoint = None;
        let mut virtual_hosted = false;
        for (k, v) in parsed.query_pairs() {
            match k.as_ref() {
                "endpoint" => endpoint = Some(v.into_owned()),
                "region" => region = Some(v.into_owned()),
                "virtual_hosted" => virtual_hosted = v == "true",
                other => {
                    return Err(format!(
                        "bad --files URL: unknown parameter '{other}' \
                         (endpoint, region, virtual_hosted)"
                    ));
                }
            }
        }
        if let Some(e) = &endpoint {
            builder = builder
                .with_endpoint(e)
                .with_allow_http(e.starts_with("http://"))
                .with_virtual_hosted_style_request(virtual_hosted);
            if region.is_none() && std::env::var_os("AWS_REGION").is_none() {
                region = Some("us-east-1".into());
            }
        }
        if let Some(r) = region {
            builder = builder.with_region(r);
        }
        // Transient failures are retried, but briefly: a store that is down
        // fails the request (and a start) within seconds, not minutes.
        let retry = object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(10),
            ..object_store::RetryConfig::default()
        };
        let store = builder
            .with_retry(retry)
            .build()
            .map_err(|e| format!("cannot use the file store s3://{bucket}: {e}"))?;
        // The URL without its query, for logs (the query names no secret, but
        // keep log lines short).
        let shown = format!("s3://{bucket}/{prefix}");
        Ok(Self {
            store,
            prefix,
            url: shown,
        })
    }

    /// The object name of a blob.
    fn path(&self, name: &str) -> Result<Path, FileError> {
        // Blob names are ours (hex), never a client's; refuse anything else outright.
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FileError::NotFound);
        }
        Ok(self.blobs().join(name))
    }

    fn blobs(&self) -> Path {
        if self.prefix.is_empty() {
            Path::from("blobs")
        } else {
            Path::from(self.prefix.as_str()).join("blobs")
        }
    }

    /// Checks that the bucket answers (at start, so a wrong URL or key fails
    /// the start rather than the first upload).
    pub async fn check(&self) -> Result<(), String> {
        let mut list = self.store.list(Some(&self.blobs()));
        match list.next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(format!("the file store {} cannot be used: {e}", self.url)),
        }
    }
}

/// An upload under way: the bytes held back until they fill a part, and the
/// multipart upload once they did.
struct Sending {
    held: Vec<bytes::Bytes>,
    held_len: usize,
    multipart: Option<WriteMultipart>,
}

impl Sending {
    async fn push(
        &mut self,
        store: &AmazonS3,
        path: &Path,
        chunk: bytes::Bytes,
    ) -> Result<(), FileError> {
        self.held_len += chunk.len();
        self.held.push(chunk);
        if self.held_len < PART {
            return Ok(());
        }
        if self.multipart.is_none() {
            let upload = store.put_multipart(path).await.map_err(engine)?;
            self.multipart = Some(WriteMultipart::new_with_chunk_size(upload, PART));
        }
        if let Some(m) = self.multipart.as_mut() {
            m.wait_for_capacity(IN_FLIGHT).await.map_err(engine)?;
            for c in self.held.drain(..) {
                m.put(c);
            }
            self.held_len = 0;
        }
        Ok(())
    }

    async fn finish(self, store: &AmazonS3, path: &Path) -> Result<(), FileError> {
        match self.multipart {
            None => {
                let payload: PutPayload = self.held.into_iter().collect();
                store.put(path, payload).await.map_err(engine)?;
            }
            Some(mut m) => {
                for c in self.held {
                    m.put(c);
                }
                m.finish().await.map_err(engine)?;
            }
        }
        Ok(())
    }

    async fn abort(self) {
        if let Some(m) = self.multipart {
            // Best effort: a bucket lifecycle rule removes what an abort misses.
            let _ = m.abort().await;
        }
    }
}

#[async_trait]
impl FileStore for S3Files {
    async fn put(&self, mut body: ByteStream, max: u64) -> Result<Blob, FileError> {
        let name = hex(&random_bytes::<16>());
        let path = self.path(&name)?;
        let mut sending = Sending {
            held: Vec::new(),
            held_len: 0,
            multipart: None,
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let read = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| FileError::Upload(e.to_string()))?;
                size += chunk.len() as u64;
                if size > max {
                    return Err(FileError::TooLarge(max));
                }
                hasher.update(&chunk);
                sending.push(&self.store, &path, chunk).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = read {
            sending.abort().await;
            return Err(e);
        }
        sending.finish(&self.store, &path).await?;
        Ok(Blob {
            name,
            size,
            sha256: hex(&hasher.finalize()),
        })
    }

    async fn read(&self, name: &str, start: u64, len: u64) -> Result<ByteStream, FileError> {
        let path = self.path(name)?;
        if len == 0 {
            // No range can name zero bytes: ask whether the object is there.
            self.store.head(&path).await.map_err(engine)?;
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..start + len)),
            ..GetOptions::default()
        };
        let got = self.store.get_opts(&path, options).await.map_err(engine)?;
        let chunks = got
            .into_stream()
            .map_err(|e| std::io::Error::other(e.to_string()));
        Ok(Box::pin(chunks))
    }

    async fn remove(&self, name: &str) -> Result<(), FileError> {
        match self.store.delete(&self.path(name)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn sweep(&self, keep: &std::collections::HashSet<String>) -> Result<usize, FileError> {
        let now = std::time::SystemTime::now();
        let mut removed = 0;
        let mut list = self.store.list(Some(&self.blobs()));
        while let Some(meta) = list.next().await {
            let meta = meta.map_err(engine)?;
            let Some(name) = meta.location.filename().map(str::to_owned) else {
                continue;
            };
            let age = now
                .duration_since(meta.last_modified.into())
                .unwrap_or_default();
            if keep.contains(&name) || age < SWEEP_AGE {
                continue;
            }
            match self.store.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
                Err(e) => return Err(engine(e)),
            }
        }
        Ok(removed)
    }
}
