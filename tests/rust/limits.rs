//! Resource bounds: WebSockets per user, slow request bodies, allowed origins.

use e2e::{API_KEY, PASSWORD, Server, email};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_websockets() {
    let server = Server::start_with(&["--max-ws-per-user", "2"]);
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("ws-bound"), PASSWORD)
        .await
        .expect("register");
    let first = sdk.ws().await.expect("first");
    let _second = sdk.ws().await.expect("second");
    let e = sdk.ws().await.expect_err("a third is refused");
    assert_eq!(e.code(), Some(&rucksack::ErrorCode::RateLimited), "{e}");
    // Anonymous connections are counted apart from the user's.
    server.sdk().ws().await.expect("anonymous");
    first.close().await.expect("close");
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(ws) = sdk.ws().await {
            reopened = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reopened.is_some(), "a closed connection frees its place");
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off() {
    let server = Server::start_with(&["--request-timeout", "1"]);
    let host = server.url.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let head = format!(
        "POST /register HTTP/1.1\r\nhost: {host}\r\nauthorization: key {API_KEY}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"email\":"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server answered within 10 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test]
async fn only_configured_origins_may_call_from_a_browser() {
    let server = Server::start_with(&["--cors-origins", "https://app.example.com"]);
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            format!("{}/collections", server.url),
        )
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
    };
    let ok = preflight("https://app.example.com")
        .await
        .expect("preflight");
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example.com")
    );
    let other = preflight("https://evil.example.com")
        .await
        .expect("preflight");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
