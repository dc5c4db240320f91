//! The smaller findings of the security review: rate limits on password checks
//! and behind proxies, answers that reveal no hidden record, switches on upserts,
//! On GET on write answers, cookie and download headers, private data files.

use e2e::raw::{call, configure, create, status, user};
use e2e::{API_KEY, PASSWORD, Server, email};
use serde_json::{Value, json};

#[tokio::test]
async fn password_checks_are_rate_limited_like_logins() {
    let server = Server::start_with(&["--auth-rate-per-email", "2"]);
    let (_, token) = user(&server, "guess").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = call(&server, reqwest::Method::POST, "/me/password")
            .header("x-authorization", &token)
            .json(&json!({"currentPassword": "wrong guess 1", "newPassword": "whatever long"}))
            .send()
            .await
            .expect("change password");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
    let r = call(&server, reqwest::Method::DELETE, "/me")
        .header("x-authorization", &token)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 429, "the same user's budget");
}

#[tokio::test]
async fn behind_a_proxy_the_address_is_the_one_the_proxy_appended() {
    let server = Server::start_with(&[
        "--client-ip-header",
        "x-forwarded-for",
        "--auth-rate-per-ip",
        "2",
    ]);
    let login = |forwarded: &'static str| {
        call(&server, reqwest::Method::POST, "/login")
            .header("x-forwarded-for", forwarded)
            .json(&json!({"email": "nobody@example.com", "password": "wrong password"}))
            .send()
    };
    // The client writes what it likes to the left; the proxy's entry is last.
    let mut statuses = Vec::new();
    for spoofed in ["1.1.1.1, 9.9.9.9", "2.2.2.2, 9.9.9.9", "3.3.3.3, 9.9.9.9"] {
        statuses.push(login(spoofed).await.expect("login").status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
    // Another client behind the proxy has its own budget.
    assert_eq!(login("8.8.8.8").await.expect("login").status(), 401);
    // An unreadable entry does not lift the limit: it counts as the proxy's.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(login("garbage").await.expect("login").status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
}

#[tokio::test]
async fn writes_to_a_record_the_caller_may_not_read_answer_as_for_a_missing_one() {
    let server = Server::start();
    let (_, owner) = user(&server, "owner").await;
    let (_, other) = user(&server, "other").await;
    configure(&server, "diaries", json!({"rules": {"read": "owner"}})).await;
    let made: Value = create(&server, &owner, "diaries", json!({"text": "dear diary"})).await;
    let id = made["_id"].as_str().expect("id");
    let path = format!("/diaries/{id}");
    let change = json!({"text": "x"});
    for (method, body) in [
        (reqwest::Method::PATCH, Some(&change)),
        (reqwest::Method::PUT, Some(&change)),
        (reqwest::Method::DELETE, None),
        (reqwest::Method::GET, None),
    ] {
        let mut r = call(&server, method.clone(), &path);
        if let Some(b) = body {
            r = r.json(b);
        }
        assert_eq!(status(r, &other).await, 404, "{method}");
    }
    // A record everyone may read but only its owner change: 403, as before.
    let public: Value = create(&server, &owner, "notes", json!({"text": "hello"})).await;
    let r = call(
        &server,
        reqwest::Method::PATCH,
        &format!("/notes/{}", public["_id"].as_str().expect("id")),
    )
    .header("x-authorization", &other)
    .json(&json!({"text": "x"}))
    .send()
    .await
    .expect("write");
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn an_upsert_obeys_the_insert_switch() {
    let server = Server::start();
    let (_, token) = user(&server, "upserter").await;
    configure(
        &server,
        "fixed",
        json!({"upsert": true, "operations": {"insert": false}}),
    )
    .await;
    let r = call(
        &server,
        reqwest::Method::PUT,
        "/fixed/0123456789abcdef01234567",
    )
    .header("x-authorization", &token)
    .json(&json!({"n": 1}))
    .send()
    .await
    .expect("upsert");
    assert_eq!(r.status(), 405);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["code"], "operation_disabled");
}

#[tokio::test]
async fn write_answers_show_the_record_as_on_get_does() {
    let server = Server::start();
    let (_, token) = user(&server, "hider").await;
    configure(
        &server,
        "vault",
        json!({"events": {"get": "hide('secret')"}}),
    )
    .await;
    let made: Value = create(
        &server,
        &token,
        "vault",
        json!({"name": "a", "secret": "s"}),
    )
    .await;
    assert_eq!(made["name"], "a");
    assert!(made.get("secret").is_none(), "{made}");
    let path = format!("/vault/{}", made["_id"].as_str().expect("id"));
    let patched: Value = call(&server, reqwest::Method::PATCH, &path)
        .header("x-authorization", &token)
        .json(&json!({"name": "b"}))
        .send()
        .await
        .expect("patch")
        .json()
        .await
        .expect("json");
    assert_eq!(patched["name"], "b");
    assert!(patched.get("secret").is_none(), "{patched}");
    let gone: Value = call(&server, reqwest::Method::DELETE, &path)
        .header("x-authorization", &token)
        .send()
        .await
        .expect("delete")
        .json()
        .await
        .expect("json");
    assert!(gone.get("secret").is_none(), "{gone}");
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_https() {
    let server = Server::start();
    let cookie = |proto: Option<&'static str>| {
        let mut r = call(&server, reqwest::Method::POST, "/register")
            .json(&json!({"email": email("cookie"), "password": PASSWORD}));
        if let Some(p) = proto {
            r = r.header("x-forwarded-proto", p);
        }
        async move {
            let r = r.send().await.expect("register");
            r.headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        }
    };
    assert!(cookie(Some("https")).await.contains("; Secure"));
    assert!(!cookie(None).await.contains("Secure"));
    let always = Server::start_with(&["--secure-cookie"]);
    let r = call(&always, reqwest::Method::POST, "/register")
        .json(&json!({"email": email("cookie"), "password": PASSWORD}))
        .send()
        .await
        .expect("register");
    let set = r.headers().get("set-cookie").and_then(|v| v.to_str().ok());
    assert!(set.is_some_and(|c| c.contains("; Secure")), "{set:?}");
    // An https:// public address means HTTPS; an http:// one does not.
    for (url, secure) in [
        ("https://api.example.com", true),
        ("http://10.0.0.5:8080", false),
    ] {
        let public = Server::start_with(&["--public-url", url]);
        let r = call(&public, reqwest::Method::POST, "/register")
            .json(&json!({"email": email("cookie"), "password": PASSWORD}))
            .send()
            .await
            .expect("register");
        let set = r.headers().get("set-cookie").and_then(|v| v.to_str().ok());
        assert_eq!(
            set.is_some_and(|c| c.contains("; Secure")),
            secure,
            "{url}: {set:?}"
        );
    }
}

#[tokio::test]
async fn uploaded_pages_are_downloaded_not_rendered() {
    let server = Server::start();
    let (id, token) = user(&server, "pages").await;
    for (name, kind) in [("page.html", "text/html"), ("pic.png", "image/png")] {
        let part = reqwest::multipart::Part::bytes(b"<script>alert(1)</script>".to_vec())
            .file_name(name)
            .mime_str(kind)
            .expect("mime");
        let form = reqwest::multipart::Form::new()
            .text("filename", name)
            .text("bucket", "public")
            .part("file", part);
        let r = call(&server, reqwest::Method::POST, "/uploads")
            .header("x-authorization", &token)
            .multipart(form)
            .send()
            .await
            .expect("upload");
        assert_eq!(r.status(), 201);
    }
    let get = |name: &'static str| {
        call(
            &server,
            reqwest::Method::GET,
            &format!("/uploads/{id}/{name}"),
        )
        .header("x-authorization", &token)
        .send()
    };
    let page = get("page.html").await.expect("download");
    let h = page.headers();
    assert_eq!(
        h.get("content-disposition").and_then(|v| v.to_str().ok()),
        Some("attachment")
    );
    let csp = h
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(csp.contains("sandbox"), "{csp}");
    let pic = get("pic.png").await.expect("download");
    assert!(pic.headers().get("content-disposition").is_none());
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start_local();
    user(&server, "private").await;
    let mode = |p: std::path::PathBuf| {
        std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(server.data_dir.clone()), 0o700);
    for f in ["rucksack.sqlite3", "rucksack.sqlite3-wal"] {
        assert_eq!(mode(server.data_dir.join(f)), 0o600, "{f}");
    }
}

#[tokio::test]
async fn anonymous_sockets_are_bounded_per_address_and_every_socket_in_rate() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = Server::start_with(&["--max-ws-per-ip", "2", "--ws-rate", "5"]);
    let url = |q: String| format!("{}/ws?{q}", server.url.replacen("http://", "ws://", 1));
    let anon = || tokio_tungstenite::connect_async(url(format!("apiKey={API_KEY}")));
    let (mut first, _) = anon().await.expect("first");
    let _second = anon().await.expect("second");
    match anon().await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 429),
        other => panic!("a third anonymous socket: {:?}", other.map(|_| ())),
    }
    // Signed-in users count apart.
    let (_, token) = user(&server, "ws-bounds").await;
    tokio_tungstenite::connect_async(url(format!("apiKey={API_KEY}&token={token}")))
        .await
        .expect("signed in");

    // Twenty messages at once on a socket allowed five a second.
    first.next().await.expect("greeting").expect("frame");
    for _ in 0..20 {
        first
            .send(Message::text(json!({"action": "ping"}).to_string()))
            .await
            .expect("send");
    }
    let (mut pongs, mut limited) = (0, 0);
    while pongs + limited < 20 {
        let m = tokio::time::timeout(std::time::Duration::from_secs(5), first.next())
            .await
            .expect("an answer")
            .expect("open")
            .expect("frame");
        let Message::Text(t) = m else { continue };
        let v: Value = serde_json::from_str(t.as_str()).expect("json");
        match v["action"].as_str() {
            Some("pong") => pongs += 1,
            _ if v["code"] == "rate_limited" => limited += 1,
            _ => panic!("{v}"),
        }
    }
    assert!((5..=10).contains(&pongs), "{pongs} answered");
    assert_eq!(pongs + limited, 20);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start_with(&["--header-timeout", "1"]);
    let host = server.url.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    s.write_all(format!("GET /health HTTP/1.1\r\nhost: {host}\r\nx-slow: ").as_bytes())
        .await
        .expect("write");
    // The headers never end: the server closes the connection (an answer, if
    // any, then end of stream) instead of waiting for ever.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection was still open after 5 s");
    // Others are served as usual.
    let ok = reqwest::get(format!("{}/health", server.url))
        .await
        .expect("health");
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let server = Server::start_with(&["--max-connections", "2"]);
    let host = server.url.trim_start_matches("http://").to_owned();
    let first = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let _second = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let url = format!("{}/health", server.url);
    let mut third = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status()) });
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(500), &mut third)
            .await
            .is_err(),
        "a third connection was served while two were open"
    );
    drop(first);
    let status = tokio::time::timeout(std::time::Duration::from_secs(5), third)
        .await
        .expect("served once a connection closed")
        .expect("task")
        .expect("answer");
    assert_eq!(status, 200);
}
