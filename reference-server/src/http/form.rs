//! Multipart bodies (uploads), read within bounds that hold whatever a client
//! sends: nothing is parsed before the request's key and session are checked, the
//! whole body has a size limit, the bytes before the first boundary and each
//! part's headers have a small one (a body that never names its boundary cannot
//! make the parser buffer it), and a body that stalls is cut off.

use crate::error::ApiError;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use sdk_core::ErrorCode;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use warp::{Buf, Filter};

/// The most bytes allowed before the first boundary, and for one part's headers.
pub const MAX_HEAD: usize = 16 * 1024;

/// A multipart form being read.
pub type Form = multer::Multipart<'static>;
/// One part of a form.
pub type Field = multer::Field<'static>;
/// A request body, unread.
pub type Body = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// A request body not read yet, with its `Content-Type`.
pub struct RawBody {
    content_type: Option<String>,
    body: Body,
}

/// The body of a request, unread, and its content type.
pub fn raw_body() -> impl Filter<Extract = (RawBody,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(warp::body::stream())
        .map(|content_type: Option<String>, body| {
            let body = TryStreamExt::map_ok(body, to_bytes)
                .map_err(|e: warp::Error| std::io::Error::other(e.to_string()));
            RawBody::new(content_type, Box::pin(body))
        })
}

fn to_bytes<B: Buf>(mut b: B) -> Bytes {
    let n = b.remaining();
    b.copy_to_bytes(n)
}

impl RawBody {
    /// A body and its `Content-Type`, as a request brings them.
    pub fn new(content_type: Option<String>, body: Body) -> Self {
        Self { content_type, body }
    }

    /// Whether the body says it is a multipart form.
    pub fn is_multipart(&self) -> bool {
        self.content_type.as_deref().is_some_and(|ct| {
            ct.trim_start()
                .get(..10)
                .is_some_and(|p| p.eq_ignore_ascii_case("multipart/"))
        })
    }

    /// The body as a form of at most `max` bytes, whose bytes must keep coming
    /// (at most `idle` between two of them).
    pub fn form(self, max: u64, idle: Duration) -> Result<Form, ApiError> {
        let boundary = self
            .content_type
            .as_deref()
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidBody,
                    "a multipart/form-data body with a boundary is expected",
                )
            })?;
        let guarded = Guard::new(self.body, &boundary, idle);
        let limits =
            multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(max));
        Ok(multer::Multipart::with_constraints(
            guarded, boundary, limits,
        ))
    }

    /// Reads and drops up to `budget` bytes of the body (so the client gets the
    /// answer rather than a reset connection), within `idle` per read.
    pub async fn drain(mut self, budget: u64, idle: Duration) {
        let mut left = budget;
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout(idle, self.body.next()).await {
            left = left.saturating_sub(chunk.len() as u64);
            if left == 0 {
                return;
            }
        }
    }

    /// The body, unread.
    pub fn into_stream(self) -> Body {
        self.body
    }
}

/// The error for a form the parser refused.
pub fn form_error(e: &multer::Error) -> ApiError {
    match e {
        multer::Error::StreamSizeExceeded { limit } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is over {limit} bytes"),
        ),
        multer::Error::StreamReadFailed(inner) if inner.to_string().contains(STALLED) => {
            ApiError::new(ErrorCode::RequestTimeout, inner.to_string())
        }
        other => ApiError::new(
            ErrorCode::InvalidBody,
            format!("the multipart body is malformed: {other}"),
        ),
    }
}

const STALLED: &str = "the body stopped arriving";

/// Where the scan of a form's bytes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the first boundary.
    Preamble,
    /// A part's headers, up to the blank line.
    Headers,
    /// A part's data, up to the next boundary.
    Data,
}

/// Watches the bytes on their way to the parser: the parser buffers whatever it
/// has not matched yet, so the stretches it must buffer (before the first
/// boundary, a part's headers) are bounded here; and a stalled body ends.
struct Guard {
    inner: Body,
    /// `\r\n--<boundary>`; the first boundary is the same without `\r\n`.
    delimiter: Vec<u8>,
    stage: Stage,
    /// Bytes seen in this stage so far.
    run: usize,
    /// The last bytes of the previous chunk, where a pattern may begin.
    tail: Vec<u8>,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    failed: bool,
}

impl Guard {
    fn new(inner: Body, boundary: &str, idle: Duration) -> Self {
        Self {
            inner,
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            stage: Stage::Preamble,
            run: 0,
            tail: Vec::new(),
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            failed: false,
        }
    }

    fn pattern(&self) -> &[u8] {
        match self.stage {
            Stage::Preamble => &self.delimiter[2..],
            Stage::Headers => b"\r\n\r\n",
            Stage::Data => &self.delimiter,
        }
    }

    /// Scans one chunk; `false` when a bounded stretch grew too long.
    fn feed(&mut self, chunk: &[u8]) -> bool {
        let mut rest = chunk;
        while let Some(end) = find_across(&self.tail, rest, self.pattern()) {
            rest = &rest[end..];
            self.tail.clear();
            self.stage = match self.stage {
                Stage::Preamble | Stage::Data => Stage::Headers,
                Stage::Headers => Stage::Data,
            };
            self.run = 0;
        }
        self.run = self.run.saturating_add(rest.len());
        let keep = self.pattern().len() - 1;
        if rest.len() >= keep {
            self.tail.clear();
            self.tail.extend_from_slice(&rest[rest.len() - keep..]);
        } else {
            self.tail.extend_from_slice(rest);
            let cut = self.tail.len().saturating_sub(keep);
            self.tail.drain(..cut);
        }
        self.stage == Stage::Data || self.run <= MAX_HEAD
    }
}

/// Where `pattern` ends in `chunk` when it is found in `tail` followed by `chunk`
/// (`tail` is shorter than the pattern, so a match always reaches into `chunk`).
fn find_across(tail: &[u8], chunk: &[u8], pattern: &[u8]) -> Option<usize> {
    if !tail.is_empty() {
        let n = (pattern.len() - 1).min(chunk.len());
        let mut joint = Vec::with_capacity(tail.len() + n);
        joint.extend_from_slice(tail);
        joint.extend_from_slice(&chunk[..n]);
        if let Some(i) = memchr::memmem::find(&joint, pattern) {
            return Some(i + pattern.len() - tail.len());
        }
    }
    memchr::memmem::find(chunk, pattern).map(|i| i + pattern.len())
}

impl Stream for Guard {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let deadline = tokio::time::Instant::now() + self.idle;
                self.timer.as_mut().reset(deadline);
                if self.feed(&chunk) {
                    Poll::Ready(Some(Ok(chunk)))
                } else {
                    self.failed = true;
                    Poll::Ready(Some(Err(std::io::Error::other(format!(
                        "no boundary or end of part headers within {MAX_HEAD} bytes"
                    )))))
                }
            }
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.failed = true;
                    Poll::Ready(Some(Err(std::io::Error::other(format!(
                        "{STALLED} for {} s",
                        self.idle.as_secs()
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> (bool, Stage) {
        let body: Body = Box::pin(futures_util::stream::empty());
        let mut g = Guard::new(body, "XYZ", Duration::from_secs(1));
        let ok = chunks.iter().all(|c| g.feed(c));
        (ok, g.stage)
    }

    #[tokio::test]
    async fn a_form_passes_whatever_its_chunks() {
        let form = b"--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--XYZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nmore\r\n--XYZ--\r\n";
        for size in [1, 2, 3, 5, 7, 64, form.len()] {
            let chunks: Vec<&[u8]> = form.chunks(size).collect();
            let (ok, stage) = scan(&chunks);
            assert!(ok, "chunks of {size}");
            assert_eq!(
                stage,
                Stage::Headers,
                "after the closing boundary, chunks of {size}"
            );
        }
    }

    #[tokio::test]
    async fn long_data_is_fine_but_a_missing_boundary_or_endless_headers_are_not() {
        let big = vec![b'a'; 4 * MAX_HEAD];
        let head = b"--XYZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n";
        assert!(scan(&[head, &big, &big, b"\r\n--XYZ--"]).0);
        assert!(!scan(&[&big]).0, "no boundary at all");
        assert!(
            !scan(&[b"--XYZ\r\nX-Long: ", &big]).0,
            "headers without end"
        );
        assert!(
            !scan(&[head, b"data\r\n--XYZ\r\nX: ", &big]).0,
            "the second part's headers without end"
        );
        // A slow sender's many small chunks count once each.
        let bytes = vec![b'h'; MAX_HEAD - 100];
        let mut chunks: Vec<&[u8]> = vec![b"--XYZ\r\n"];
        chunks.extend(bytes.chunks(1));
        assert!(scan(&chunks).0);
    }
}
