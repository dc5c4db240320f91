//! The attacks of the security review, each tried against the real server as an
//! attacker would: over raw HTTP and raw WebSockets where the SDK would not send
//! such a thing. See SECURITY.md for the threat model and the table of findings.

use e2e::raw::{admin, call, configure, create, json, make_key, user};
use e2e::{API_KEY, PASSWORD, Server, text_frame};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How many records a collection holds, as the admin sees them.
async fn count(server: &Server, coll: &str) -> u64 {
    admin(server, reqwest::Method::GET, &format!("/{coll}?count=1"))
        .send()
        .await
        .expect("count")
        .json::<Value>()
        .await
        .expect("json")
        .as_u64()
        .expect("a number")
}

/// The server process's memory (`VmRSS` or `VmHWM`, the peak) in KiB.
fn memory_kib(server: &Server, field: &str) -> u64 {
    let pid = server.pid().expect("a running server");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .expect("a memory figure")
}

/// Sends a chunked multipart upload whose body never contains its boundary, up
/// to `total` bytes or until the server stops reading; returns the status line
/// the server answered with, if any.
async fn endless_upload(server: &Server, headers: &str, total: usize) -> Option<String> {
    let host = server.url.trim_start_matches("http://").to_owned();
    let s = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let (mut rd, mut wr) = s.into_split();
    let head = format!(
        "POST /uploads HTTP/1.1\r\nhost: {host}\r\n{headers}\
         content-type: multipart/form-data; boundary=XYZ\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let reader = tokio::spawn(async move {
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(30), rd.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                _ => break,
            }
        }
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .map(str::to_owned)
    });
    let chunk = vec![b'a'; 1024 * 1024];
    let framed = [
        format!("{:x}\r\n", chunk.len()).into_bytes(),
        chunk,
        b"\r\n".to_vec(),
    ]
    .concat();
    if wr.write_all(head.as_bytes()).await.is_ok() {
        let mut sent = 0;
        while sent < total {
            if wr.write_all(&framed).await.is_err() {
                break;
            }
            sent += 1024 * 1024;
        }
        let _ = wr.write_all(b"0\r\n\r\n").await;
    }
    reader.await.ok().flatten()
}

#[tokio::test]
async fn an_upload_without_a_boundary_holds_no_memory_with_or_without_a_key() {
    let server = Server::start();
    let (_, token) = user(&server, "uploader").await;
    // Let the server settle, then take its peak as the baseline.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = memory_kib(&server, "VmHWM:");
    let wrong_key = endless_upload(&server, "authorization: key wrong-key\r\n", 200 << 20).await;
    let signed_in = endless_upload(
        &server,
        &format!("authorization: key {API_KEY}\r\nx-authorization: {token}\r\n"),
        200 << 20,
    )
    .await;
    let grown_kib = memory_kib(&server, "VmHWM:").saturating_sub(before);
    eprintln!("peak memory growth for 2 x 200 MiB of boundary-less upload: {grown_kib} KiB");
    let grown_mib = grown_kib / 1024;
    assert!(
        grown_mib < 64,
        "the server's peak memory grew by {grown_mib} MiB for 2 x 200 MiB sent"
    );
    let wrong_key = wrong_key.unwrap_or_default();
    assert!(wrong_key.contains(" 401 "), "{wrong_key}");
    let signed_in = signed_in.unwrap_or_default();
    assert!(
        signed_in.contains(" 400 ") || signed_in.contains(" 413 "),
        "{signed_in}"
    );
    // The server is unharmed and still takes uploads.
    let form = reqwest::multipart::Form::new()
        .text("filename", "ok.txt")
        .text("bucket", "public")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"fine".to_vec()).file_name("ok.txt"),
        );
    let ok = call(&server, reqwest::Method::POST, "/uploads")
        .header("x-authorization", &token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn relations_load_records_as_a_direct_read_shows_them() {
    let server = Server::start();
    let (_, token) = user(&server, "loader").await;
    configure(
        &server,
        "cards",
        json!({"events": {"get": "hide('secret')"}}),
    )
    .await;
    configure(
        &server,
        "vaults",
        json!({"events": {"get": "if (this.sealed) cancel('sealed', 403)"}}),
    )
    .await;
    configure(
        &server,
        "ledgers",
        json!({"operations": {"findObject": false, "find": false}}),
    )
    .await;
    let card = create(
        &server,
        &token,
        "cards",
        json!({"name": "ace", "secret": "s3cr3t"}),
    )
    .await;
    let card_id = card["_id"].as_str().expect("id");
    let vault = create(&server, &token, "vaults", json!({"sealed": true})).await;
    let ledger = create(&server, &token, "ledgers", json!({"total": 1})).await;
    create(
        &server,
        &token,
        "notes",
        json!({"card": card_id, "vault": vault["_id"], "ledger": ledger["_id"]}),
    )
    .await;

    let read = |query: &str| {
        call(&server, reqwest::Method::GET, &format!("/{query}")).header("x-authorization", &token)
    };
    // The same collection, loaded into itself.
    let own = json(read("cards?load=raw=_id:cards")).await;
    assert_eq!(own[0]["raw"]["name"], "ace", "{own}");
    assert!(own[0]["raw"].get("secret").is_none(), "{own}");
    assert!(own[0].get("secret").is_none(), "{own}");
    // From another collection.
    let notes = json(read("notes?load=c=card:cards,v=vault:vaults")).await;
    assert_eq!(notes[0]["c"]["name"], "ace", "{notes}");
    assert!(notes[0]["c"].get("secret").is_none(), "{notes}");
    // A record the GET script cancels loads as null, as a missing one does.
    assert_eq!(notes[0]["v"], Value::Null, "{notes}");
    // A collection whose reads are switched off cannot be read through a relation.
    let off = read("notes?load=l=ledger:ledgers")
        .send()
        .await
        .expect("read");
    assert_eq!(off.status(), 405);
    let off: Value = off.json().await.expect("json");
    assert_eq!(off["code"], "operation_disabled");
    // The socket's find goes the same way.
    let ws_url = format!(
        "{}/ws?apiKey={API_KEY}&token={token}",
        server.url.replacen("http://", "ws://", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("connect");
    text_frame(&mut ws).await;
    ws.send(Message::text(
        json!({"action": "find", "collection": "cards", "query": {}}).to_string(),
    ))
    .await
    .expect("send");
    let found = text_frame(&mut ws).await;
    assert!(found["response"][0].get("secret").is_none(), "{found}");
}

#[tokio::test]
async fn no_origin_gets_credentialed_access_unless_listed() {
    let server = Server::start();
    let (_, token) = user(&server, "cors").await;
    let r = reqwest::Client::new()
        .get(format!("{}/me", server.url))
        .header("authorization", format!("key {API_KEY}"))
        .header("cookie", format!("rucksack_session={token}"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("request");
    let h = r.headers();
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "credentials allowed to any origin: {h:?}"
    );
    // Header tokens work from any origin.
    let pre = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}/me", server.url))
        .header("origin", "http://anywhere.example")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization, x-authorization",
        )
        .send()
        .await
        .expect("preflight");
    assert!(pre.headers().get("access-control-allow-origin").is_some());
    assert!(
        pre.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );

    // A listed origin gets credentials; others nothing.
    let listed = Server::start_with(&["--cors-origins", "https://app.example.com"]);
    let r = reqwest::Client::new()
        .get(format!("{}/health", listed.url))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.headers()
            .get("access-control-allow-credentials")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
}

/// Opens a raw WebSocket on `/` with these headers; the HTTP status on refusal.
async fn raw_ws(server: &Server, query: &str, headers: &[(&str, String)]) -> Result<Ws, u16> {
    let url = format!("{}/{query}", server.url.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request().expect("request");
    for (k, v) in headers {
        req.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn a_page_of_another_origin_cannot_use_the_cookie_on_a_websocket() {
    let server = Server::start();
    let (_, token) = user(&server, "cswsh").await;
    let cookie = ("cookie", format!("rucksack_session={token}"));
    let evil = ("origin", "http://evil.example".to_owned());
    // The cookie alone, from a foreign page: refused, as without a session.
    assert_eq!(
        raw_ws(&server, "", &[cookie.clone(), evil.clone()])
            .await
            .err(),
        Some(401)
    );
    // With the (public) API key it connects, but not as the user.
    let mut ws = raw_ws(
        &server,
        &format!("?apiKey={API_KEY}"),
        &[cookie.clone(), evil],
    )
    .await
    .expect("anonymous connection");
    text_frame(&mut ws).await;
    ws.send(Message::text(
        json!({"action": "create", "collection": "posts", "data": {"t": 1}}).to_string(),
    ))
    .await
    .expect("send");
    let answer = text_frame(&mut ws).await;
    assert_eq!(answer["code"], "unauthenticated", "{answer}");
    assert_eq!(count(&server, "posts").await, 0);
    // The server's own origin, and a client that is no browser page, keep working.
    let own = ("origin", server.url.clone());
    let mut ws = raw_ws(&server, "", &[cookie.clone(), own])
        .await
        .expect("same origin");
    text_frame(&mut ws).await;
    raw_ws(&server, "", &[cookie]).await.expect("no origin");
    // A listed origin may use the cookie.
    let listed = Server::start_with(&["--cors-origins", "https://app.example.com"]);
    let (_, token) = user(&listed, "cswsh-listed").await;
    raw_ws(
        &listed,
        "",
        &[
            ("cookie", format!("rucksack_session={token}")),
            ("origin", "https://app.example.com".into()),
        ],
    )
    .await
    .expect("listed origin");
}

/// Whether the server ends the connection within 5 s (frames before that are read).
async fn ended(ws: &mut Ws) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn signed_in_ws(server: &Server, token: &str) -> Ws {
    let mut ws = raw_ws(server, &format!("ws?apiKey={API_KEY}&token={token}"), &[])
        .await
        .expect("connect");
    text_frame(&mut ws).await;
    ws
}

#[tokio::test]
async fn sockets_end_with_their_session_or_key() {
    let server = Server::start();
    // Logout.
    let (_, token) = user(&server, "logout-ws").await;
    let mut ws = signed_in_ws(&server, &token).await;
    let r = call(&server, reqwest::Method::POST, "/logout")
        .header("x-authorization", &token)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 200);
    assert!(ended(&mut ws).await, "the socket outlived its logout");

    // A password change ends the other sessions' sockets, not the one that changed it.
    let (_, first) = user(&server, "password-ws").await;
    let me: Value = call(&server, reqwest::Method::GET, "/me")
        .header("x-authorization", &first)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    let login: Value = call(&server, reqwest::Method::POST, "/login")
        .json(&json!({"email": me["email"], "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let second = login["token"].as_str().expect("token").to_owned();
    let mut kept = signed_in_ws(&server, &first).await;
    let mut other = signed_in_ws(&server, &second).await;
    let r = call(&server, reqwest::Method::POST, "/me/password")
        .header("x-authorization", &first)
        .json(&json!({"currentPassword": PASSWORD, "newPassword": "another long secret"}))
        .send()
        .await
        .expect("change password");
    assert_eq!(r.status(), 200);
    assert!(
        ended(&mut other).await,
        "a socket outlived a password change"
    );
    kept.send(Message::text(json!({"action": "ping"}).to_string()))
        .await
        .expect("send");
    assert_eq!(text_frame(&mut kept).await["action"], "pong");

    // Account deletion.
    let (_, token) = user(&server, "delete-ws").await;
    let mut ws = signed_in_ws(&server, &token).await;
    let r = call(&server, reqwest::Method::DELETE, "/me")
        .header("x-authorization", &token)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("delete account");
    assert_eq!(r.status(), 200);
    assert!(ended(&mut ws).await, "a socket outlived its account");

    // A revoked key.
    let (id, key) = make_key(&server, "kiosk").await;
    let mut ws = raw_ws(&server, &format!("ws?apiKey={key}"), &[])
        .await
        .expect("connect with the key");
    text_frame(&mut ws).await;
    let r = admin(
        &server,
        reqwest::Method::DELETE,
        &format!("/admin/keys/{id}"),
    )
    .send()
    .await
    .expect("revoke");
    assert_eq!(r.status(), 200);
    assert!(ended(&mut ws).await, "a socket outlived its revoked key");
}

/// Sends a socket action and returns the answer to it.
async fn act(ws: &mut Ws, action: Value) -> Value {
    ws.send(Message::text(action.to_string()))
        .await
        .expect("send");
    text_frame(ws).await
}

#[tokio::test]
async fn channel_actions_follow_the_named_collections_rules_switches_and_scripts() {
    let server = Server::start();
    let (_, token) = user(&server, "channels-attacker").await;
    configure(&server, "lockedmeta", json!({"rules": {"create": "none"}})).await;
    configure(
        &server,
        "frozenmeta",
        json!({"operations": {"insert": false}}),
    )
    .await;
    configure(
        &server,
        "vettedmeta",
        json!({"events": {"validate": "cancel('not here', 403)"}}),
    )
    .await;
    configure(&server, "archive", json!({"rules": {"delete": "none"}})).await;
    let mut ws = signed_in_ws(&server, &token).await;

    // createChannel into a collection nobody may create in writes nothing anywhere.
    let r = act(
        &mut ws,
        json!({"action": "createChannel", "usersInformationCollection": "lockedmeta",
               "channelType": "rooms", "name": "x"}),
    )
    .await;
    assert_eq!(r["action"], "error", "{r}");
    assert_eq!(r["code"], "forbidden", "{r}");
    assert_eq!(count(&server, "lockedmeta").await, 0);
    assert_eq!(count(&server, "rooms").await, 0, "no half-made channel");

    // A room made properly, then joined through collections that refuse.
    let made = act(
        &mut ws,
        json!({"action": "createChannel", "usersInformationCollection": "usersmeta",
               "channelType": "rooms", "name": "ok"}),
    )
    .await;
    let room = made["response"]["_id"].as_str().expect("room").to_owned();
    for (uic, code) in [
        ("lockedmeta", "forbidden"),
        ("frozenmeta", "operation_disabled"),
        ("vettedmeta", "cancelled"),
    ] {
        let r = act(
            &mut ws,
            json!({"action": "joinChannel", "usersInformationCollection": uic,
                   "channelType": "rooms", "channelId": room}),
        )
        .await;
        assert_eq!(r["action"], "error", "{uic}: {r}");
        assert_eq!(r["code"], code, "{uic}: {r}");
        assert_eq!(count(&server, uic).await, 0, "{uic}");
    }

    // leaveChannel under an update rule that now refuses.
    configure(&server, "usersmeta", json!({"rules": {"update": "none"}})).await;
    let r = act(
        &mut ws,
        json!({"action": "leaveChannel", "usersInformationCollection": "usersmeta",
               "channelType": "rooms", "channelId": room}),
    )
    .await;
    assert_eq!(r["action"], "error", "{r}");
    assert_eq!(r["code"], "forbidden", "{r}");
    let info: Value = admin(&server, reqwest::Method::GET, "/usersmeta")
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(info[0]["channels"][0]["channelId"], room.as_str(), "{info}");
    configure(&server, "usersmeta", json!({})).await;

    // deleteChannel whose messages live where nobody may delete: nothing is deleted.
    let r = call(&server, reqwest::Method::POST, "/archive")
        .header("x-authorization", &token)
        .json(&json!({"channelType": "rooms", "channelId": room, "text": "kept"}))
        .send()
        .await
        .expect("message");
    assert_eq!(r.status(), 201);
    let told = text_frame(&mut ws).await;
    assert_eq!(
        told["action"], "create",
        "the member hears of the message: {told}"
    );
    let r = act(
        &mut ws,
        json!({"action": "deleteChannel", "usersInformationCollection": "usersmeta",
               "channelMessagesCollection": "archive", "channelType": "rooms", "channelId": room}),
    )
    .await;
    assert_eq!(r["action"], "error", "{r}");
    assert_eq!(r["code"], "forbidden", "{r}");
    assert_eq!(count(&server, "archive").await, 1);
    assert_eq!(count(&server, "rooms").await, 1, "the channel stays");
}

#[tokio::test]
async fn the_realtime_history_is_bounded_in_bytes() {
    let server = Server::start_with(&["--ws-history-bytes", "1000000"]);
    let (_, token) = user(&server, "history").await;
    let mut first = raw_ws(&server, &format!("ws?apiKey={API_KEY}&stream=1"), &[])
        .await
        .expect("connect");
    let hello = text_frame(&mut first).await;
    let stream = hello["stream"].as_str().expect("stream").to_owned();
    let start = hello["seq"].as_u64().expect("seq");
    let big = "x".repeat(200_000);
    for i in 0..8 {
        let r = call(&server, reqwest::Method::POST, "/blobs")
            .header("x-authorization", &token)
            .json(&json!({"i": i, "text": big}))
            .send()
            .await
            .expect("create");
        assert_eq!(r.status(), 201);
    }
    let resume = |since: u64| {
        let (server, stream) = (&server, stream.clone());
        async move {
            let mut ws = raw_ws(
                server,
                &format!("ws?apiKey={API_KEY}&stream=1&resume=1"),
                &[],
            )
            .await
            .expect("connect");
            text_frame(&mut ws).await;
            ws.send(Message::text(
                json!({"action": "resume", "stream": stream, "since": since}).to_string(),
            ))
            .await
            .expect("send");
            loop {
                let m = text_frame(&mut ws).await;
                if m["action"] == "resume" {
                    return m;
                }
            }
        }
    };
    // 1.6 MB of events do not fit in 1 MB: the oldest are gone.
    let all = resume(start).await;
    assert_eq!(all["gap"], true, "{all}");
    // The newest still replays: resumed from the number before it (numbers
    // need not be consecutive; a bus shared by processes spaces them).
    let mut newest = 0;
    for _ in 0..8 {
        newest = text_frame(&mut first).await["seq"]
            .as_u64()
            .expect("numbered");
    }
    let last = resume(newest - 1).await;
    assert_eq!(last["gap"], false, "{last}");
    assert_eq!(last["replayed"], 1, "{last}");
}

#[tokio::test]
async fn a_key_revoked_from_the_command_line_ends_its_sockets_by_the_next_heartbeat() {
    let server = Server::start_with(&["--ws-heartbeat", "1"]);
    let (id, key) = make_key(&server, "cli").await;
    let mut ws = raw_ws(&server, &format!("ws?apiKey={key}"), &[])
        .await
        .expect("connect with the key");
    text_frame(&mut ws).await;
    // Another process, sharing only the database, revokes it.
    let out = e2e::command_on(&server.data_dir)
        .args(["keys", "revoke", &id])
        .output()
        .expect("run the command");
    assert!(out.status.success(), "{out:?}");
    assert!(ended(&mut ws).await, "a socket outlived its revoked key");
}

/// `POST /admin/tickets` gives the admin a one-time ticket that opens one
/// WebSocket with the admin key's power, so a browser page need not put the key
/// in a URL; used, guessed or asked for with another key, it opens nothing.
#[tokio::test]
async fn an_admin_ticket_opens_one_socket_once() {
    let server = Server::start();
    let ticket = |key_holder: reqwest::RequestBuilder| async move {
        let r = key_holder.send().await.expect("ticket");
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or_default())
    };
    let (status, _) = ticket(call(&server, reqwest::Method::POST, "/admin/tickets")).await;
    assert_eq!(status, 403, "the app's key gets no ticket");
    let (status, body) = ticket(admin(&server, reqwest::Method::POST, "/admin/tickets")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expiresIn"], 30);
    let t = body["ticket"].as_str().expect("a ticket").to_owned();
    let ws = |t: &str| format!("{}/ws?ticket={t}", server.url.replacen("http", "ws", 1));

    let (mut socket, _) = tokio_tungstenite::connect_async(ws(&t))
        .await
        .expect("opens");
    let greeting = socket.next().await.expect("a frame").expect("a message");
    assert!(
        greeting.to_text().is_ok_and(|g| g.contains("connection")),
        "{greeting:?}"
    );
    // An admin socket hears writes to a collection only the admin may read.
    let config: rucksack::CollectionConfig =
        serde_json::from_value(json!({"rules": {"read": "admin"}})).expect("config");
    server
        .admin_sdk()
        .db()
        .set_collection_config("audit", &config)
        .await
        .expect("configure");
    let (writer, _) = server.signed_in("audited").await;
    let _: rucksack::Record<Value> = writer
        .db()
        .create_resource("audit", &json!({"what": "login"}))
        .await
        .expect("create");
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("in time")
        .expect("a frame")
        .expect("a message");
    assert!(
        heard.to_text().is_ok_and(|h| h.contains("\"audit\"")),
        "{heard:?}"
    );

    for bad in [t.as_str(), "0123456789abcdef"] {
        let refused = tokio_tungstenite::connect_async(ws(bad)).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
            other => panic!("{bad}: expected 401, got {other:?}"),
        }
    }
}

/// The admin key lists the users (never a hash) and reads any user's private
/// files; the app's key does neither.
#[tokio::test]
async fn the_admin_key_lists_users_and_reads_every_file() {
    let server = Server::start();
    let (owner, id) = server.signed_in("private-files").await;
    owner
        .storage()
        .upload_file(
            rucksack::Upload::bytes(b"secret plans".to_vec()),
            "plans.txt",
            "private",
        )
        .await
        .expect("upload");
    let users = json(admin(&server, reqwest::Method::GET, "/admin/users")).await;
    let listed = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["id"] == id.as_str()))
        .unwrap_or_else(|| panic!("{users}"));
    assert!(
        listed["email"]
            .as_str()
            .is_some_and(|e| e.contains("private-files"))
    );
    assert!(!users.to_string().contains("argon2"), "{users}");
    let as_app = call(&server, reqwest::Method::GET, "/admin/users")
        .send()
        .await
        .expect("get");
    assert_eq!(as_app.status(), 403);

    let path = format!("/uploads/{id}/plans.txt");
    let by_app = call(&server, reqwest::Method::GET, &path)
        .send()
        .await
        .expect("get");
    assert_eq!(by_app.status(), 404, "another user's private file");
    let by_admin = admin(&server, reqwest::Method::GET, &path)
        .send()
        .await
        .expect("get");
    assert_eq!(by_admin.status(), 200);
    assert_eq!(
        by_admin.bytes().await.expect("bytes").as_ref(),
        b"secret plans"
    );
    let list = json(admin(
        &server,
        reqwest::Method::GET,
        &format!("/uploads/{id}"),
    ))
    .await;
    assert_eq!(list["records"][0]["filename"], "plans.txt", "{list}");
}

/// An upload names its owner with `userId` only under the admin key: the admin
/// page uploads for a user; a user cannot upload into another's files.
#[tokio::test]
async fn only_the_admin_key_uploads_for_another_user() {
    let server = Server::start();
    let (owner, id) = server.signed_in("gets-a-file").await;
    let (_, token) = user(&server, "tries-to-plant").await;
    let form = |user_id: &str| {
        reqwest::multipart::Form::new()
            .text("bucket", "docs")
            .text("filename", "planted.txt")
            .text("userId", user_id.to_owned())
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("planted.txt"),
            )
    };
    let by_user = call(&server, reqwest::Method::POST, "/uploads")
        .header("x-authorization", &token)
        .multipart(form(&id))
        .send()
        .await
        .expect("upload");
    assert_eq!(by_user.status(), 403);
    let unknown = admin(&server, reqwest::Method::POST, "/uploads")
        .multipart(form("000000000000000000000000"))
        .send()
        .await
        .expect("upload");
    assert_eq!(unknown.status(), 404);
    let by_admin = admin(&server, reqwest::Method::POST, "/uploads")
        .multipart(form(&id))
        .send()
        .await
        .expect("upload");
    assert_eq!(by_admin.status(), 201);
    let record: Value = by_admin.json().await.expect("json");
    assert_eq!(record["userId"], id.as_str());
    let mine = owner
        .storage()
        .get_list_of_user_files(&id)
        .await
        .expect("list");
    assert_eq!(mine.records.len(), 1, "the owner sees it as theirs");
    let no_owner = admin(&server, reqwest::Method::POST, "/uploads")
        .multipart(
            reqwest::multipart::Form::new()
                .text("bucket", "docs")
                .text("filename", "x.txt")
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"),
                ),
        )
        .send()
        .await
        .expect("upload");
    assert_eq!(no_owner.status(), 400, "the admin key names the owner");
}
