//! The native SDK sends an idempotent request again after a `503` with
//! `Retry-After` (the server did nothing: too many writes queued), as long as it
//! asks, and never sends a create twice or a request the server did not ask for
//! again. A stand-in server answers from a script, so the
//! busy answers come when the test says.

use e2e::API_KEY;
use rucksack::ErrorCode;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A busy answer, as the server gives when too many writes are queued.
fn busy() -> String {
    answer(
        "503 Service Unavailable",
        "retry-after: 1\r\n",
        r#"{"code":"unavailable","message":"busy, retry"}"#,
    )
}

/// A 503 without `Retry-After`, as for a read over its time limit.
fn timed_out() -> String {
    answer(
        "503 Service Unavailable",
        "",
        r#"{"code":"unavailable","message":"the query ran over its limit"}"#,
    )
}

/// Serves `answers` in turn, one per connection; counts the requests.
async fn stand_in(answers: Vec<String>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        for answer in answers {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 65536];
            let mut got = Vec::new();
            // The whole request head (these requests have small or no bodies).
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            count.fetch_add(1, Ordering::SeqCst);
            let _ = s.write_all(answer.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    (url, served)
}

fn ok(body: &str) -> String {
    answer("200 OK", "", body)
}

fn answer(status: &str, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn an_idempotent_read_is_sent_again_after_a_busy_answer() {
    let (url, served) = stand_in(vec![busy(), busy(), ok(r#"["notes"]"#)]).await;
    let sdk = rucksack::Sdk::new(&url, API_KEY).expect("sdk");
    let started = std::time::Instant::now();
    let names = sdk.db().get_collection_list().await.expect("third time");
    assert_eq!(names, vec!["notes".to_owned()]);
    assert_eq!(served.load(Ordering::SeqCst), 3);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1900),
        "each retry waits the second Retry-After asks: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_503_without_retry_after_is_not_sent_again() {
    let (url, served) = stand_in(vec![timed_out(), ok(r#"["notes"]"#)]).await;
    let sdk = rucksack::Sdk::new(&url, API_KEY).expect("sdk");
    let e = sdk
        .db()
        .get_collection_list()
        .await
        .expect_err("the read's own 503");
    assert_eq!(e.code(), Some(&ErrorCode::Unavailable));
    assert_eq!(served.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retries_end_with_the_busy_answer() {
    let (url, served) = stand_in(vec![busy(); 5]).await;
    let sdk = rucksack::Sdk::new(&url, API_KEY).expect("sdk");
    let e = sdk
        .db()
        .get_collection_list()
        .await
        .expect_err("busy throughout");
    assert_eq!(e.code(), Some(&ErrorCode::Unavailable));
    assert_eq!(
        served.load(Ordering::SeqCst),
        1 + sdk_core::api::RETRIES as usize
    );
}

#[tokio::test]
async fn a_create_is_never_sent_twice() {
    let (url, served) = stand_in(vec![busy(), ok(r#"{"_id":"x"}"#)]).await;
    let sdk = rucksack::Sdk::new(&url, API_KEY).expect("sdk");
    let e = sdk
        .db()
        .create_resource::<Value>("notes", &serde_json::json!({"t": 1}))
        .await
        .expect_err("busy");
    assert_eq!(e.code(), Some(&ErrorCode::Unavailable));
    assert_eq!(served.load(Ordering::SeqCst), 1);
}
