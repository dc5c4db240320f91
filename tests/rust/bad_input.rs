//! Bad input over raw HTTP (the SDKs refuse to send most of it): every case gets
//! a 4xx with its stable code, and nothing is written.

use e2e::{API_KEY, PASSWORD, Server, email};
use serde_json::{Value, json};

struct Raw {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Raw {
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut b = self
            .http
            .request(
                method.parse().expect("method"),
                format!("{}{path}", self.url),
            )
            .header("authorization", format!("key {API_KEY}"))
            .header("x-authorization", &self.token);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if let Some(body) = body {
            b = b.body(body);
        }
        let resp = b.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn count(&self, coll: &str) -> usize {
        let (s, v) = self.send("GET", &format!("/{coll}"), None, &[]).await;
        assert_eq!(s, 200);
        v.as_array().map(Vec::len).unwrap_or(0)
    }
}

/// Method, path, body, expected status, expected code.
type Case = (&'static str, String, Option<Vec<u8>>, u16, &'static str);

#[tokio::test]
async fn bad_input_gets_a_coded_4xx_and_writes_nothing() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("bad"), PASSWORD)
        .await
        .expect("register");
    let raw = Raw {
        url: server.url.clone(),
        token: sdk.session_token().expect("token"),
        http: reqwest::Client::new(),
    };
    let (s, rec) = raw
        .send("POST", "/items", Some(br#"{"n":1}"#.to_vec()), &[])
        .await;
    assert_eq!(s, 201);
    let id = rec["_id"].as_str().expect("id").to_owned();
    let item = format!("/items/{id}");

    let cases: Vec<Case> = vec![
        (
            "POST",
            "/items".into(),
            Some(br#"{"n":"#.to_vec()),
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/items".into(),
            Some(b"".to_vec()),
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/items".into(),
            Some(b"\xff\xfe".to_vec()),
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/items".into(),
            Some(b"[1,2]".to_vec()),
            400,
            "invalid_body",
        ),
        (
            "POST",
            "/items".into(),
            Some(b"\"text\"".to_vec()),
            400,
            "invalid_body",
        ),
        (
            "POST",
            "/items".into(),
            Some(b"null".to_vec()),
            400,
            "invalid_body",
        ),
        (
            "POST",
            "/items".into(),
            Some(br#"{"_id":"x"}"#.to_vec()),
            400,
            "system_field",
        ),
        (
            "POST",
            "/items".into(),
            Some(br#"{"createdAt":"x"}"#.to_vec()),
            400,
            "system_field",
        ),
        (
            "POST",
            "/items".into(),
            Some(br#"{"__v":3}"#.to_vec()),
            400,
            "system_field",
        ),
        (
            "POST",
            "/items".into(),
            Some(br#"{"userId":"other"}"#.to_vec()),
            400,
            "system_field",
        ),
        (
            "POST",
            "/bad%20name".into(),
            Some(b"{}".to_vec()),
            400,
            "invalid_collection_name",
        ),
        (
            "POST",
            "/users".into(),
            Some(b"{}".to_vec()),
            400,
            "reserved_name",
        ),
        (
            "PATCH",
            item.clone(),
            Some(b"{".to_vec()),
            400,
            "malformed_json",
        ),
        (
            "PATCH",
            item.clone(),
            Some(b"[]".to_vec()),
            400,
            "invalid_body",
        ),
        (
            "PATCH",
            item.clone(),
            Some(br#"{"_id":"other"}"#.to_vec()),
            400,
            "system_field",
        ),
        (
            "PATCH",
            item.clone(),
            Some(br#"{"__v":"one"}"#.to_vec()),
            400,
            "system_field",
        ),
        (
            "PUT",
            item.clone(),
            Some(b"42".to_vec()),
            400,
            "invalid_body",
        ),
        (
            "PATCH",
            "/items/000000000000000000000000".into(),
            Some(b"{}".to_vec()),
            404,
            "not_found",
        ),
        (
            "GET",
            "/items/000000000000000000000000".into(),
            None,
            404,
            "not_found",
        ),
        ("GET", "/items/bad.id".into(), None, 400, "invalid_id"),
        ("DELETE", "/items/bad.id".into(), None, 400, "invalid_id"),
        (
            "DELETE",
            "/items/000000000000000000000000".into(),
            None,
            404,
            "not_found",
        ),
        ("GET", "/items/a/b".into(), None, 404, "not_found"),
        ("GET", "/login".into(), None, 405, "method_not_allowed"),
        (
            "POST",
            "/login".into(),
            Some(b"{}".to_vec()),
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/login".into(),
            Some(b"[]".to_vec()),
            400,
            "invalid_body",
        ),
        (
            "POST",
            "/register".into(),
            Some(br#"{"email":1,"password":2}"#.to_vec()),
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/collections".into(),
            Some(br#"{"collectionName":"../x"}"#.to_vec()),
            400,
            "invalid_collection_name",
        ),
        (
            "POST",
            "/collections".into(),
            Some(br#"{}"#.to_vec()),
            400,
            "validation_failed",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (s, v) = raw.send(method, &path, body, &[]).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {v}"
        );
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: {v}"
        );
    }
    let (s, v) = raw
        .send(
            "PATCH",
            &item,
            Some(b"{}".to_vec()),
            &[("if-match", "not-a-number")],
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("validation_failed")));

    // An announced body over the limit is refused before it is read.
    for (method, path) in [
        ("POST", "/items"),
        ("PUT", item.as_str()),
        ("PATCH", item.as_str()),
    ] {
        let answer = raw_head(&server.url, method, path, &raw.token, 2 * 1024 * 1024).await;
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "{method} {path}: {answer}"
        );
        assert!(answer.contains("payload_too_large"), "{answer}");
    }

    // Nothing above was written: one record, unchanged.
    assert_eq!(raw.count("items").await, 1);
    let (_, now) = raw.send("GET", &item, None, &[]).await;
    assert_eq!(now, rec);
    let (_, colls) = raw.send("GET", "/collections", None, &[]).await;
    assert_eq!(colls, json!(["items"]));
}

#[tokio::test]
async fn chunked_bodies_are_read_and_limited_too() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("chunk"), PASSWORD)
        .await
        .expect("register");
    let token = sdk.session_token().expect("token");
    let send = |chunks: Vec<Vec<u8>>| {
        let stream = futures_stream(chunks);
        reqwest::Client::new()
            .post(format!("{}/chunks", server.url))
            .header("authorization", format!("key {API_KEY}"))
            .header("x-authorization", token.clone())
            .body(reqwest::Body::wrap_stream(stream))
            .send()
    };
    let ok = send(vec![br#"{"a":"#.to_vec(), b"1}".to_vec()])
        .await
        .expect("send");
    assert_eq!(ok.status().as_u16(), 201);
    let big = send(vec![vec![b' '; 700 * 1024], vec![b' '; 700 * 1024]])
        .await
        .expect("send");
    assert_eq!(big.status().as_u16(), 413);
}

fn futures_stream(
    chunks: Vec<Vec<u8>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures_util::stream::iter(chunks.into_iter().map(Ok))
}

/// Sends only the head of a request announcing a `length`-byte body; returns the answer.
async fn raw_head(url: &str, method: &str, path: &str, token: &str, length: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: key {API_KEY}\r\n\
         x-authorization: {token}\r\ncontent-length: {length}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}
