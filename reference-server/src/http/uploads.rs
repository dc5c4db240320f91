//! `/uploads`: the Backpack storage API. Bytes stream to and from the file store;
//! metadata lives in the `Store`.

use super::form::{Field, Form, RawBody, form_error, raw_body};
use super::{Ctx, Outcome, ctx, finish, json_reply, store_error};
use crate::app::App;
use crate::clock::{new_id, now_iso};
use crate::error::ApiError;
use crate::files::{Blob, FileError};
use crate::store::FileBytes;
use futures_util::TryStreamExt;
use sdk_core::api::MessageResponse;
use sdk_core::files::{
    FileDeleted, FileList, FileRecord, FileUpdated, check_bucket, check_filename,
};
use sdk_core::names::check_id;
use sdk_core::routes;
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, StatusCode, header};
use warp::{Filter, Reply};

/// Longest accepted text field in an upload form.
const MAX_FIELD: usize = 1024;
/// Most parts an upload form may have.
const MAX_PARTS: usize = 16;

type CtxResult = Result<Ctx, ApiError>;
type FormResult = Result<RawBody, ApiError>;

/// Room for the form's own bytes (boundaries, part headers, text fields) beside the file.
const FORM_OVERHEAD: u64 = 64 * 1024;
/// The most of a refused upload read (and dropped) so the client gets the answer.
const REFUSED_DRAIN: u64 = 1024 * 1024;

/// The storage routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let limit = app.config.max_upload;
    let c = {
        let app = app.clone();
        move || ctx(app.clone())
    };
    // The body, unread, or an error answered by the handler (never a rejection).
    // It is parsed only once the key and session are good; sizes are enforced
    // while streaming (the whole form, the file, each field, the number of
    // parts), so chunked uploads of unknown length work; an announced length over
    // the limit is refused before reading.
    let form = move || {
        warp::header::optional::<u64>("content-length")
            .and(raw_body())
            .map(move |len: Option<u64>, body: RawBody| {
                if len.is_some_and(|n| n > limit.saturating_add(FORM_OVERHEAD)) {
                    Err(ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        format!("the file is over {limit} bytes"),
                    ))
                } else {
                    Ok(body)
                }
            })
    };
    let name = || warp::path::param::<String>();
    let with_app = {
        let app = app.clone();
        move || {
            let app = app.clone();
            warp::any().map(move || app.clone())
        }
    };
    let upload = warp::path(routes::UPLOADS)
        .and(warp::path::end())
        .and(warp::post())
        .and(c())
        .and(form())
        .and(with_app())
        .then(|c, f, a| async move { finish(upload(c, f, a).await) });
    let list = warp::path(routes::UPLOADS)
        .and(name())
        .and(warp::path::end())
        .and(warp::get())
        .and(c())
        .then(|u, c| async move { finish(list(u, c).await) });
    let download = warp::path(routes::UPLOADS)
        .and(name())
        .and(name())
        .and(warp::path::end())
        .and(warp::get())
        .and(c())
        .and(warp::header::optional::<String>("range"))
        .and(warp::header::optional::<String>("if-none-match"))
        .then(|u, f, c, r, m| async move { finish(download(u, f, c, r, m).await) });
    let rename = warp::path(routes::UPLOADS)
        .and(name())
        .and(warp::path::end())
        .and(warp::patch())
        .and(c())
        .and(raw_body())
        .then(|f, c, b| async move { finish(rename(f, c, b).await) });
    let overwrite = warp::path(routes::UPLOADS)
        .and(name())
        .and(warp::path::end())
        .and(warp::put())
        .and(c())
        .and(form())
        .and(with_app())
        .then(|f, c, form, a| async move { finish(overwrite(f, c, form, a).await) });
    let delete = warp::path(routes::UPLOADS)
        .and(name())
        .and(warp::path::end())
        .and(warp::delete())
        .and(c())
        .then(|f, c| async move { finish(delete(f, c).await) });
    upload
        .or(list)
        .unify()
        .or(download)
        .unify()
        .or(rename)
        .unify()
        .or(overwrite)
        .unify()
        .or(delete)
        .unify()
        .boxed()
}

/// How long an upload's bytes may pause.
fn idle(app: &App) -> Duration {
    Duration::from_secs(app.config.request_timeout.max(1))
}

/// The form of an accepted upload request.
fn open_form(app: &App, body: RawBody) -> Result<Form, ApiError> {
    body.form(
        app.config.max_upload.saturating_add(FORM_OVERHEAD),
        idle(app),
    )
}

fn file_error(e: FileError) -> ApiError {
    match e {
        FileError::TooLarge(max) => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the file is over {max} bytes"),
        ),
        FileError::Upload(m) => {
            ApiError::new(ErrorCode::InvalidBody, format!("the upload broke off: {m}"))
        }
        FileError::NotFound => ApiError::internal("a file's bytes are missing"),
        FileError::Full => crate::service::storage_full(),
        other => ApiError::internal(other),
    }
}

/// A file name from a path segment: percent-decoded, then checked.
fn path_filename(raw: &str) -> Result<String, ApiError> {
    let name = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::new(ErrorCode::InvalidFilename, "the file name is not UTF-8"))?
        .into_owned();
    check_filename(&name).map_err(ApiError::from)?;
    Ok(name)
}

async fn read_text(mut part: Field) -> Result<String, ApiError> {
    let mut out = Vec::new();
    while let Some(chunk) = part.chunk().await.map_err(|e| form_error(&e))? {
        if out.len() + chunk.len() > MAX_FIELD {
            return Err(ApiError::new(
                ErrorCode::ValidationFailed,
                "a form field is over 1 KiB",
            ));
        }
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::new(ErrorCode::ValidationFailed, "a form field is not UTF-8"))
}

/// The fields of an upload form; the file part went straight to the file store.
#[derive(Default)]
struct Upload {
    filename: Option<String>,
    bucket: Option<String>,
    /// The owner an upload with the admin key names (`userId`).
    user_id: Option<String>,
    file: Option<(Blob, String)>,
}

/// Reads a form, streaming the `file` part into a new blob. `before_file` runs on the
/// fields seen so far just before the bytes are stored, so a doomed upload is refused
/// before anything is written. On any error, a stored blob is removed again.
async fn read_upload<F, Fut>(app: &App, mut form: Form, before_file: F) -> Result<Upload, ApiError>
where
    F: Fn(Option<String>, Option<String>, Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let mut up = Upload::default();
    let mut parts = 0;
    let result = async {
        while let Some(part) = form.next_field().await.map_err(|e| form_error(&e))? {
            parts += 1;
            if parts > MAX_PARTS {
                return Err(ApiError::new(
                    ErrorCode::ValidationFailed,
                    "the form has too many parts",
                ));
            }
            match part.name().unwrap_or_default() {
                "file" if up.file.is_none() => {
                    before_file(up.filename.clone(), up.bucket.clone(), up.user_id.clone()).await?;
                    let content_type = part
                        .content_type()
                        .map_or_else(|| "application/octet-stream".to_owned(), |m| m.to_string());
                    let stream = part.map_err(|e| std::io::Error::other(e.to_string()));
                    let body: crate::files::ByteStream = Box::pin(stream);
                    let blob = app
                        .files
                        .put(body, app.config.max_upload)
                        .await
                        .map_err(file_error)?;
                    up.file = Some((blob, content_type));
                }
                "file" => {
                    return Err(ApiError::new(
                        ErrorCode::ValidationFailed,
                        "only one file per request",
                    ));
                }
                "filename" => up.filename = Some(read_text(part).await?),
                "bucket" => up.bucket = Some(read_text(part).await?),
                "userId" => up.user_id = Some(read_text(part).await?),
                _ => {
                    // Unknown parts are read and dropped, within the field limit.
                    read_text(part).await?;
                }
            }
        }
        Ok::<(), ApiError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(up),
        Err(e) => {
            if let Some((blob, _)) = up.file {
                let _ = app.files.remove(&blob.name).await;
            }
            // Read (and drop) the rest of a refused upload, so the client gets the
            // answer rather than a reset connection; an oversized one is cut off.
            if e.0.code != ErrorCode::PayloadTooLarge {
                drain(&mut form, app.config.max_upload).await;
            }
            Err(e)
        }
    }
}

/// Reads and discards what is left of a form, up to `budget` bytes.
async fn drain(form: &mut Form, budget: u64) {
    let mut left = budget;
    while let Ok(Some(mut part)) = form.next_field().await {
        while let Ok(Some(chunk)) = part.chunk().await {
            left = left.saturating_sub(chunk.len() as u64);
            if left == 0 {
                return;
            }
        }
    }
}

/// A storage failure on a file, where "not found" means no such file.
fn file_store_error(e: crate::store::StoreError) -> ApiError {
    match e {
        crate::store::StoreError::NotFound => ApiError::new(ErrorCode::NotFound, "no such file"),
        other => store_error(other),
    }
}

/// The error for a required form field that is missing.
fn missing(code: ErrorCode, field: &str) -> ApiError {
    ApiError::from(
        ErrorBody::new(code, format!("the form has no {field}")).with_field(field, "required"),
    )
}

fn require_file(up: &mut Upload) -> Result<(Blob, String), ApiError> {
    up.file
        .take()
        .ok_or_else(|| missing(ErrorCode::ValidationFailed, "file"))
}

/// The context and the signed-in user's id.
fn signed_in(c: CtxResult) -> Result<(Ctx, String), ApiError> {
    let c = c?;
    let id = c.require_user()?.user_id.clone();
    Ok((c, id))
}

/// Refuses an upload before parsing it: up to 1 MiB of its raw bytes is read and
/// dropped so the client gets the answer; a larger one is cut off.
async fn refuse(app: &App, body: FormResult, e: ApiError) -> Outcome {
    if let Ok(body) = body {
        body.drain(REFUSED_DRAIN, idle(app)).await;
    }
    Err(e)
}

async fn upload(c: CtxResult, form: FormResult, app: Arc<App>) -> Outcome {
    // A signed-in user uploads their own file; the admin key may instead name
    // the owner in a `userId` field before the file (the admin page does).
    let c = match c {
        Ok(c) => c,
        Err(e) => return refuse(&app, form, e).await,
    };
    let caller = c.caller.as_ref().map(|k| k.user_id.clone());
    if caller.is_none()
        && !c.admin
        && let Err(e) = c.require_user()
    {
        return refuse(&app, form, e).await;
    }
    let admin = c.admin;
    let app = c.app.clone();
    let owner_of = move |named: Option<String>| -> Result<String, ApiError> {
        match (named, &caller) {
            (Some(id), _) if admin => Ok(id),
            (Some(_), _) => Err(ApiError::new(
                ErrorCode::Forbidden,
                "only the admin key may upload for another user (userId)",
            )),
            (None, Some(me)) => Ok(me.clone()),
            (None, None) => Err(missing(ErrorCode::ValidationFailed, "userId")),
        }
    };
    let owner_of = Arc::new(owner_of);
    let check = |filename: Option<String>, bucket: Option<String>, named: Option<String>| {
        let app = app.clone();
        let owner_of = owner_of.clone();
        async move {
            let caller = owner_of(named)?;
            if app
                .store
                .user_by_id(&caller)
                .await
                .map_err(store_error)?
                .is_none()
            {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    "no user with that userId",
                ));
            }
            if let Some(b) = &bucket {
                check_bucket(b).map_err(ApiError::from)?;
            }
            if let Some(f) = &filename {
                check_filename(f).map_err(ApiError::from)?;
                if app
                    .store
                    .file_get(&caller, f)
                    .await
                    .map_err(store_error)?
                    .is_some()
                {
                    return Err(store_error(crate::store::StoreError::FileExists));
                }
            }
            Ok(())
        }
    };
    let form = open_form(&app, form?)?;
    let mut up = read_upload(&app, form, check).await?;
    let stored = up.file.as_ref().map(|(b, _)| b.name.clone());
    let result = async {
        let caller = owner_of(up.user_id.clone())?;
        let filename = up
            .filename
            .clone()
            .ok_or_else(|| missing(ErrorCode::InvalidFilename, "filename"))?;
        check_filename(&filename).map_err(ApiError::from)?;
        let bucket = up
            .bucket
            .clone()
            .ok_or_else(|| missing(ErrorCode::ValidationFailed, "bucket"))?;
        check_bucket(&bucket).map_err(ApiError::from)?;
        let (blob, content_type) = require_file(&mut up)?;
        let now = now_iso();
        let record = FileRecord {
            id: new_id(),
            user_id: caller.clone(),
            filename,
            bucket,
            size: blob.size,
            content_type,
            sha256: blob.sha256,
            created_at: now.clone(),
            updated_at: now,
            version: 0,
        };
        app.store
            .file_insert(record, blob.name)
            .await
            .map_err(store_error)
    }
    .await;
    match result {
        Ok(record) => Ok(json_reply(&record, 201)),
        Err(e) => {
            if let Some(name) = stored {
                let _ = app.files.remove(&name).await;
            }
            Err(e)
        }
    }
}

async fn list(user: String, c: CtxResult) -> Outcome {
    let c = c?;
    check_id(&user).map_err(ApiError::from)?;
    // The admin key sees every user's files, as it does every record.
    let mine = c.admin || c.caller.as_ref().is_some_and(|k| k.user_id == user);
    let mut records = c.app.store.file_list(&user).await.map_err(store_error)?;
    if !mine {
        records.retain(|r| c.app.config.public_buckets.contains(&r.bucket));
    }
    Ok(json_reply(&FileList { records }, 200))
}

/// Whether a browser shows this type without running anything in it (others are
/// served as attachments).
fn passive(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/').unwrap_or((&essence, ""));
    match kind {
        "image" => !sub.contains("svg"),
        "audio" | "video" => true,
        "text" => sub == "plain",
        "application" => matches!(sub, "pdf" | "json" | "octet-stream"),
        _ => false,
    }
}

/// A single byte range `start..=end` of a file of `size` bytes, from a Range header.
/// `Ok(None)`: serve the whole file (no header, or a form we do not serve partially).
fn parse_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => (start, end.min(size.saturating_sub(1))),
        (Ok(start), Err(_)) if b.is_empty() => (start, size.saturating_sub(1)),
        (Err(_), Ok(suffix)) if a.is_empty() && suffix > 0 => {
            (size.saturating_sub(suffix), size.saturating_sub(1))
        }
        _ => return Ok(None),
    };
    if size == 0 || range.0 >= size {
        return Err(());
    }
    Ok(Some(range))
}

async fn download(
    user: String,
    raw_name: String,
    c: CtxResult,
    range: Option<String>,
    if_none_match: Option<String>,
) -> Outcome {
    let c = c?;
    check_id(&user).map_err(ApiError::from)?;
    let filename = path_filename(&raw_name)?;
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such file");
    let mine = c.admin || c.caller.as_ref().is_some_and(|k| k.user_id == user);
    // An overwrite may remove the bytes between reading the metadata and opening
    // them; the metadata then names the new bytes, so look again.
    let mut attempt = 0;
    let (record, etag_value, span, len, stream) = loop {
        let (record, blob) = c
            .app
            .store
            .file_get(&user, &filename)
            .await
            .map_err(store_error)?
            .ok_or_else(not_found)?;
        // Another user's private file answers exactly as a missing one.
        if !mine && !c.app.config.public_buckets.contains(&record.bucket) {
            return Err(not_found());
        }
        let etag = format!("\"{}\"", record.sha256);
        let etag_value = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
        if if_none_match
            .as_deref()
            .is_some_and(|m| m.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
        {
            let mut r = warp::reply::Response::default();
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r.headers_mut().insert(header::ETAG, etag_value);
            return Ok(r);
        }
        let size = record.size;
        let span = match parse_range(range.as_deref(), size) {
            Ok(s) => s,
            Err(()) => {
                let mut r = ApiError::new(
                    ErrorCode::RangeNotSatisfiable,
                    format!("the file has {size} bytes"),
                )
                .into_response();
                let v = HeaderValue::from_str(&format!("bytes */{size}"))
                    .map_err(ApiError::internal)?;
                r.headers_mut().insert(header::CONTENT_RANGE, v);
                return Ok(r);
            }
        };
        let (start, len) = match span {
            Some((a, b)) => (a, b - a + 1),
            None => (0, size),
        };
        match c.app.files.read(&blob, start, len).await {
            Ok(stream) => break (record, etag_value, span, len, stream),
            Err(FileError::NotFound) if attempt < 5 => attempt += 1,
            Err(e) => return Err(file_error(e)),
        }
    };
    let size = record.size;
    let mut r = warp::reply::stream(sync_wrapper::SyncStream::new(stream)).into_response();
    let h = r.headers_mut();
    let content_type = HeaderValue::from_str(&record.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ETAG, etag_value);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Stored bytes are the uploader's: opened from the API's origin they must not
    // run as its pages (stored cross-site scripting).
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if !passive(&record.content_type) {
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    if let Some((a, b)) = span {
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
        let v =
            HeaderValue::from_str(&format!("bytes {a}-{b}/{size}")).map_err(ApiError::internal)?;
        r.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    Ok(r)
}

async fn rename(raw_name: String, c: CtxResult, body: RawBody) -> Outcome {
    let c = c?;
    let caller = c.require_user()?.user_id.clone();
    let current = path_filename(&raw_name)?;
    let (new, bucket) = match body.is_multipart() {
        false => {
            let limit = super::BodyLimit::of(&c.app.config);
            let v = super::read_json_body(None, body.into_stream(), limit).await?;
            let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
            (field("filename"), field("bucket"))
        }
        true => {
            let form = open_form(&c.app, body)?;
            let up = read_upload(&c.app, form, |_, _, _| async {
                Err(ApiError::new(
                    ErrorCode::ValidationFailed,
                    "a rename carries no file",
                ))
            })
            .await?;
            (up.filename, up.bucket)
        }
    };
    let (Some(new), Some(bucket)) = (new, bucket) else {
        return Err(ApiError::from(
            ErrorBody::new(
                ErrorCode::ValidationFailed,
                "filename and bucket are required",
            )
            .with_field("filename", "required, a string")
            .with_field("bucket", "required, a string"),
        ));
    };
    check_filename(&new).map_err(ApiError::from)?;
    check_bucket(&bucket).map_err(ApiError::from)?;
    let record = c
        .app
        .store
        .file_rename(&caller, &current, &new, &bucket, now_iso())
        .await
        .map_err(file_store_error)?;
    Ok(json_reply(&FileUpdated { record }, 200))
}

async fn overwrite(raw_name: String, c: CtxResult, form: FormResult, app: Arc<App>) -> Outcome {
    let signed = signed_in(c).and_then(|(c, id)| Ok((c, id, path_filename(&raw_name)?)));
    let (c, caller, filename) = match signed {
        Ok(v) => v,
        Err(e) => return refuse(&app, form, e).await,
    };
    let app = c.app.clone();
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such file; upload it first");
    let check = |_: Option<String>, _: Option<String>, _: Option<String>| {
        let (app, caller, filename) = (app.clone(), caller.clone(), filename.clone());
        async move {
            match app
                .store
                .file_get(&caller, &filename)
                .await
                .map_err(store_error)?
            {
                Some(_) => Ok(()),
                None => Err(not_found()),
            }
        }
    };
    let form = open_form(&app, form?)?;
    let mut up = read_upload(&app, form, check).await?;
    let (blob, content_type) = require_file(&mut up)?;
    let bytes = FileBytes {
        blob: blob.name.clone(),
        size: blob.size,
        sha256: blob.sha256,
        content_type,
    };
    match app
        .store
        .file_replace(&caller, &filename, bytes, now_iso())
        .await
    {
        Ok((_, old)) => {
            // Readers that opened the old bytes finish reading them.
            let _ = app.files.remove(&old).await;
            Ok(json_reply(
                &MessageResponse {
                    message: "file overwritten".into(),
                },
                200,
            ))
        }
        Err(e) => {
            let _ = app.files.remove(&blob.name).await;
            Err(match e {
                crate::store::StoreError::NotFound => not_found(),
                other => store_error(other),
            })
        }
    }
}

async fn delete(raw_name: String, c: CtxResult) -> Outcome {
    let c = c?;
    let caller = c.require_user()?.user_id.clone();
    let filename = path_filename(&raw_name)?;
    let (record, blob) = c
        .app
        .store
        .file_delete(&caller, &filename)
        .await
        .map_err(file_store_error)?;
    let _ = c.app.files.remove(&blob).await;
    Ok(json_reply(
        &FileDeleted {
            deleted_record: record,
        },
        200,
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn only_passive_types_are_served_inline() {
        for t in [
            "image/png",
            "image/jpeg",
            "video/mp4",
            "text/plain; charset=utf-8",
            "application/pdf",
            "application/octet-stream",
        ] {
            assert!(super::passive(t), "{t}");
        }
        for t in [
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/xml",
            "application/javascript",
            "text/javascript",
            "multipart/x-mixed-replace",
            "",
            "nonsense",
        ] {
            assert!(!super::passive(t), "{t}");
        }
    }

    #[test]
    fn ranges_parse_as_http_says() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Ok(Some((0, 3))));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Ok(Some((5, 9))));
        assert_eq!(parse_range(Some("bytes=-4"), 10), Ok(Some((6, 9))));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Ok(Some((8, 9))));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), Ok(None));
        assert_eq!(parse_range(Some("items=0-1"), 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Ok(None));
    }
}
