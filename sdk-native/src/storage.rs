//! `sdk.storage`: files, streamed both ways.

use crate::{Error, MessageResponse, Result, Sdk};
use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use sdk_core::api::Call;
use sdk_core::files::{FileDeleted, FileList, FileRecord, FileUpdated};
use std::path::Path;

/// The bytes of an upload: in memory, from a file on disk, or any stream.
pub struct Upload {
    part: reqwest::multipart::Part,
}

impl Upload {
    /// Bytes in memory.
    pub fn bytes(data: impl Into<Vec<u8>>) -> Self {
        Self {
            part: reqwest::multipart::Part::bytes(data.into()),
        }
    }

    /// A file on disk, streamed (never read whole into memory).
    pub async fn path(path: impl AsRef<Path>) -> Result<Self> {
        let file = tokio::fs::File::open(path.as_ref())
            .await
            .map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.as_ref().display())))?;
        let len = file
            .metadata()
            .await
            .map_err(|e| Error::InvalidArgument(e.to_string()))?
            .len();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
        let body = reqwest::Body::wrap_stream(stream);
        Ok(Self {
            part: reqwest::multipart::Part::stream_with_length(body, len),
        })
    }

    /// Any stream of chunks.
    pub fn stream<S>(stream: S) -> Self
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + 'static,
    {
        Self {
            part: reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream)),
        }
    }

    /// Sets the media type stored with the file (default `application/octet-stream`).
    pub fn content_type(self, mime: &str) -> Result<Self> {
        let part = self
            .part
            .mime_str(mime)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Ok(Self { part })
    }
}

/// `sdk.storage`: the signed-in user's files.
pub struct Storage<'a> {
    pub(crate) sdk: &'a Sdk,
}

impl Storage<'_> {
    /// Uploads a file as `filename` in `bucket`; returns its metadata record.
    pub async fn upload_file(
        &self,
        file: Upload,
        filename: &str,
        bucket: &str,
    ) -> Result<FileRecord> {
        let call = Call::UploadFile {
            filename: filename.into(),
            bucket: bucket.into(),
        };
        self.sdk.request(call, Some(file.part)).await
    }

    /// Replaces the bytes of one of the user's files.
    pub async fn overwrite_file(&self, file: Upload, filename: &str) -> Result<MessageResponse> {
        self.sdk
            .request(Call::OverwriteFile(filename.into()), Some(file.part))
            .await
    }

    /// Renames a file and files it under `bucket`.
    pub async fn update_file(&self, current: &str, new: &str, bucket: &str) -> Result<FileUpdated> {
        let call = Call::UpdateFile {
            current: current.into(),
            new: new.into(),
            bucket: bucket.into(),
        };
        self.sdk.call_as(call).await
    }

    /// Deletes one of the user's files; returns its metadata as it was.
    pub async fn delete_file(&self, filename: &str) -> Result<FileDeleted> {
        self.sdk.call_as(Call::DeleteFile(filename.into())).await
    }

    /// A user's files: all of them for the user themself, the public ones for others.
    pub async fn get_list_of_user_files(&self, user_id: &str) -> Result<FileList> {
        self.sdk
            .call_as(Call::GetListOfUserFiles(user_id.into()))
            .await
    }

    /// A file's bytes, in memory.
    pub async fn get_file(&self, user_id: &str, filename: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut s = Box::pin(self.get_file_stream(user_id, filename).await?);
        while let Some(chunk) = s.try_next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// A file's bytes as a stream of chunks (memory stays flat whatever the size).
    pub async fn get_file_stream(
        &self,
        user_id: &str,
        filename: &str,
    ) -> Result<impl Stream<Item = Result<Bytes>> + use<>> {
        let call = Call::GetFile(user_id.into(), filename.into());
        let req = self.sdk.with_core(|c| c.prepare(&call))?;
        let resp = crate::transport::start(&self.sdk.inner.http, req, None).await?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let body = resp
                .bytes()
                .await
                .map_err(|e| Error::Transport(e.to_string()))?;
            return Err(self
                .sdk
                .with_core(|c| c.complete(&call, status, &body))
                .err()
                .unwrap_or_else(|| Error::Decode(format!("unexpected status {status}"))));
        }
        Ok(resp
            .bytes_stream()
            .map_err(|e| Error::Transport(e.to_string())))
    }
}
