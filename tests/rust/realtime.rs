//! Database writes reach connected WebSocket clients as Backpack messages.

use e2e::{PASSWORD, Server, email};
use rucksack::{Record, ServerMessage, WriteAction};
use serde_json::{Value, json};
use std::time::Duration;

async fn next(live: &mut rucksack::Realtime) -> ServerMessage {
    tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .expect("a message within 10 s")
        .expect("connection open")
        .expect("well-formed message")
}

#[tokio::test]
async fn every_http_write_is_broadcast_to_other_clients() {
    let server = Server::start();
    let watcher = server.sdk();
    let mut live = watcher
        .ws()
        .await
        .expect("anonymous connection with the API key");
    assert!(matches!(
        next(&mut live).await,
        ServerMessage::Connection(_)
    ));

    let writer = server.sdk();
    writer
        .auth()
        .register(&email("ws"), PASSWORD)
        .await
        .expect("register");
    let rec: Record<Value> = writer
        .db()
        .create_resource("messages", &json!({"text": "hi"}))
        .await
        .expect("create");
    let _: Record<Value> = writer
        .db()
        .update_resource("messages", &rec.id, &json!({"text": "edited"}))
        .await
        .expect("patch");
    let _: Record<Value> = writer
        .db()
        .overwrite_resource("messages", &rec.id, &json!({"text": "new"}))
        .await
        .expect("put");
    let _: Record<Value> = writer
        .db()
        .delete_resource("messages", &rec.id)
        .await
        .expect("delete");

    let expected = [
        (WriteAction::Create, "hi"),
        (WriteAction::Patch, "edited"),
        (WriteAction::Update, "new"),
        (WriteAction::Delete, "new"),
    ];
    for (action, text) in expected {
        let ServerMessage::Write(ev) = next(&mut live).await else {
            panic!("expected a write event")
        };
        assert_eq!(ev.action, action);
        assert_eq!(ev.collection, "messages");
        assert!(ev.http_request);
        assert_eq!(ev.response["_id"], json!(rec.id));
        assert_eq!(ev.response["text"], json!(text));
    }
}

#[tokio::test]
async fn broadcast_false_and_channel_records_do_not_reach_outsiders() {
    let server = Server::start();
    let mut live = server.sdk().ws().await.expect("connect");
    next(&mut live).await;
    let writer = server.sdk();
    writer
        .auth()
        .register(&email("quiet"), PASSWORD)
        .await
        .expect("register");
    let _: Record<Value> = writer
        .db()
        .create_resource("usersmeta", &json!({"broadcast": false}))
        .await
        .expect("quiet");
    let _: Record<Value> = writer
        .db()
        .create_resource(
            "messages",
            &json!({"channelType": "rooms", "channelId": "r1", "text": "members only"}),
        )
        .await
        .expect("channel message");
    let _: Record<Value> = writer
        .db()
        .create_resource("messages", &json!({"text": "public"}))
        .await
        .expect("loud");
    let ServerMessage::Write(ev) = next(&mut live).await else {
        panic!("expected a write event")
    };
    assert_eq!(
        ev.response["text"],
        json!("public"),
        "the first event seen is the public one"
    );
}

#[tokio::test]
async fn signed_in_connections_and_bad_credentials() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("wsauth"), PASSWORD)
        .await
        .expect("register");
    let mut live = sdk.ws().await.expect("connection with a session token");
    assert!(matches!(
        next(&mut live).await,
        ServerMessage::Connection(_)
    ));

    // Bad frames are answered with an error each, and the connection stays up.
    for (frame, code) in [
        (
            r#"{"action": "no such action!"}"#,
            rucksack::ErrorCode::UnknownAction,
        ),
        (r#"{"action": "error"}"#, rucksack::ErrorCode::UnknownAction),
        (r#"{"no": "action"}"#, rucksack::ErrorCode::InvalidBody),
        (r#"{"action": 5}"#, rucksack::ErrorCode::InvalidBody),
        (r#"[1, 2]"#, rucksack::ErrorCode::InvalidBody),
        (
            r#"{"action": "getOne", "collection": 5}"#,
            rucksack::ErrorCode::InvalidBody,
        ),
        (
            r#"{"action": "find", "collection": "m", "query": {"$bogus": 1}}"#,
            rucksack::ErrorCode::InvalidQuery,
        ),
        ("{not json", rucksack::ErrorCode::MalformedJson),
    ] {
        live.send_text(frame).expect("send");
        let ServerMessage::Error(e) = next(&mut live).await else {
            panic!("expected an error message for {frame}")
        };
        assert_eq!(e.code, code, "{frame}");
    }
    live.send(rucksack::ClientMessage::Ping).expect("send");
    live.get_collection("m").expect("send");
    assert!(matches!(next(&mut live).await, ServerMessage::Read { .. }));

    let bad = rucksack::Sdk::new(&server.url, "wrong-key").expect("sdk");
    let e = bad.ws().await.expect_err("refused");
    assert_eq!(e.code(), Some(&rucksack::ErrorCode::InvalidApiKey));
}

#[tokio::test]
async fn a_backpack_app_connects_to_the_root_with_only_its_cookie() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("cookie"), PASSWORD)
        .await
        .expect("register");
    let token = sdk.session_token().expect("token");
    let ws_url = server.url.replacen("http://", "ws://", 1) + "/";
    let connect = |cookie: Option<String>| {
        let mut req = ws_url.as_str().into_client_request().expect("request");
        if let Some(c) = cookie {
            req.headers_mut()
                .insert("cookie", c.parse().expect("header value"));
        }
        tokio_tungstenite::connect_async(req)
    };
    let (mut ws, _) = connect(Some(format!("rucksack_session={token}")))
        .await
        .expect("the cookie alone opens the connection");
    let greeting = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("a greeting")
        .expect("open")
        .expect("a frame");
    assert!(greeting.is_text());
    // Neither a key nor a session, or an unknown session and no key: refused
    // with 401 and the code of a missing key (a good session stands for it).
    for (cookie, code) in [
        (None, "invalid_api_key"),
        (
            Some("rucksack_session=not-a-session".to_owned()),
            "invalid_api_key",
        ),
    ] {
        match connect(cookie.clone()).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 401, "{cookie:?}");
                let body: Value =
                    serde_json::from_slice(resp.body().as_deref().unwrap_or_default())
                        .expect("a JSON error");
                assert_eq!(body["code"], code, "{cookie:?}");
            }
            Err(e) => panic!("{cookie:?}: refused, but not by an HTTP answer: {e}"),
            Ok(_) => panic!("{cookie:?}: opened"),
        }
    }
}

#[tokio::test]
async fn a_native_subscription_hears_matching_writes_and_the_one_that_moves_a_record_out() {
    let server = Server::start();
    let watcher = server.sdk();
    let live = watcher.ws().await.expect("connection");
    let mut urgent = live
        .subscribe("tasks", &json!("priority >= 3"))
        .await
        .expect("a where string");
    let mut done = live
        .subscribe("tasks", &json!({"done": true}))
        .await
        .expect("a query object");
    // The server parses the query: its refusal carries the stable code.
    let bad = live.subscribe("tasks", &json!("priority >>> 3")).await;
    assert!(
        matches!(&bad, Err(e) if e.code() == Some(&rucksack::ErrorCode::InvalidQuery)),
        "{bad:?}"
    );
    // The app reads only its subscriptions, never `next`: the connection goes on.
    let writer = server.sdk();
    writer
        .auth()
        .register(&email("subscriber"), PASSWORD)
        .await
        .expect("register");
    let db = writer.db();
    let low: Record<Value> = db
        .create_resource("tasks", &json!({"priority": 1}))
        .await
        .expect("create");
    let high: Record<Value> = db
        .create_resource("tasks", &json!({"priority": 5}))
        .await
        .expect("create");
    let _: Record<Value> = db
        .update_resource("tasks", &high.id, &json!({"priority": 2, "done": true}))
        .await
        .expect("patch");
    let _: Record<Value> = db.delete_resource("tasks", &low.id).await.expect("delete");
    let _: Record<Value> = db
        .create_resource("notes", &json!({"priority": 9}))
        .await
        .expect("another collection");

    async fn write(sub: &mut rucksack::Subscription) -> (WriteAction, Value) {
        let ev = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("a write within 10 s")
            .expect("connection open");
        (ev.action, ev.response["priority"].clone())
    }
    // Created at 5, then moved out by the patch to 2.
    assert_eq!(write(&mut urgent).await, (WriteAction::Create, json!(5)));
    assert_eq!(write(&mut urgent).await, (WriteAction::Patch, json!(2)));
    assert_eq!(write(&mut done).await, (WriteAction::Patch, json!(2)));
    // 1,100 writes the app never reads through `next` do not hold up the
    // subscriptions (`next` keeps 1,024).
    let token = writer.session_token().expect("token");
    let notes: Vec<Value> = (0..550).map(|i| json!({"i": i})).collect();
    for _ in 0..2 {
        let resp = reqwest::Client::new()
            .post(format!("{}/notes", server.url))
            .header("authorization", format!("key {}", e2e::API_KEY))
            .header("x-authorization", &token)
            .json(&notes)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 201);
    }
    let _: Record<Value> = db
        .create_resource("tasks", &json!({"priority": 7}))
        .await
        .expect("create");
    assert_eq!(write(&mut urgent).await, (WriteAction::Create, json!(7)));
    // Nothing else: the low task and the notes never matched either.
    for sub in [&mut urgent, &mut done] {
        let more = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
        assert!(more.is_err(), "no other write: {more:?}");
    }
}

/// A bulk write sends a burst of events, which go out to each connection many
/// frames to a write: every socket still gets every record, whole and in order.
#[tokio::test]
async fn a_burst_of_events_reaches_every_socket_whole_and_in_order() {
    let server = Server::start();
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let mut live = server.sdk().ws().await.expect("connect");
        assert!(matches!(
            next(&mut live).await,
            ServerMessage::Connection(_)
        ));
        sockets.push(live);
    }
    let (writer, _) = server.signed_in("burst").await;
    // Large enough records that a burst fills the socket's write buffer many times.
    let pad = "x".repeat(500);
    for round in 0..2 {
        let items: Vec<Value> = (0..1000)
            .map(|i| json!({"round": round, "i": i, "pad": pad}))
            .collect();
        let saved: Vec<Record<Value>> = writer
            .db()
            .insert_many("bursts", &items)
            .await
            .expect("bulk insert");
        assert_eq!(saved.len(), 1000);
    }
    for live in &mut sockets {
        for round in 0..2 {
            for i in 0..1000 {
                let ServerMessage::Write(ev) = next(live).await else {
                    panic!("expected a write event")
                };
                assert_eq!(ev.action, WriteAction::Create);
                assert_eq!(
                    (ev.response["round"].clone(), ev.response["i"].clone()),
                    (json!(round), json!(i))
                );
                assert_eq!(ev.response["pad"], json!(pad));
            }
        }
    }
}

/// Subscriptions are evaluated on the server, after the read rule: a user's
/// subscription to every record of an owner-only collection hears only the
/// user's own writes, however broad the query; a collection nobody may read
/// refuses the subscription.
#[tokio::test]
async fn a_subscription_never_shows_a_record_its_reader_may_not_read() {
    use e2e::raw::configure;
    let server = Server::start();
    configure(&server, "diaries", json!({"rules": {"read": "owner"}})).await;
    configure(&server, "vault", json!({"rules": {"read": "admin"}})).await;
    let (ann, bob) = (server.sdk(), server.sdk());
    ann.auth()
        .register(&email("sub-ann"), PASSWORD)
        .await
        .expect("register");
    bob.auth()
        .register(&email("sub-bob"), PASSWORD)
        .await
        .expect("register");
    let live = ann.ws().await.expect("connection");
    let mut all = live
        .subscribe("diaries", &Value::Null)
        .await
        .expect("every record ann may read");
    let refused = live.subscribe("vault", &Value::Null).await;
    assert!(
        matches!(&refused, Err(e) if e.code() == Some(&rucksack::ErrorCode::Forbidden)),
        "{refused:?}"
    );
    let _: Record<Value> = bob
        .db()
        .create_resource("diaries", &json!({"text": "bob's secret"}))
        .await
        .expect("create");
    let _: Record<Value> = ann
        .db()
        .create_resource("diaries", &json!({"text": "ann's own"}))
        .await
        .expect("create");
    let ev = tokio::time::timeout(Duration::from_secs(10), all.next())
        .await
        .expect("a write within 10 s")
        .expect("connection open");
    assert_eq!(ev.response["text"], "ann's own");
    let more = tokio::time::timeout(Duration::from_millis(300), all.next()).await;
    assert!(more.is_err(), "bob's record never reaches ann: {more:?}");
}

/// The protocol under the SDKs' `subscribe`: a subscription asked for with
/// `since` (the last number the client had) is answered with the numbers of
/// the writes sent to it after that, before the subscription was in place,
/// that it concerns; later writes arrive tagged with its id.
#[tokio::test]
async fn a_subscription_names_the_writes_its_client_received_while_it_was_made() {
    use e2e::raw::{create, user};
    use e2e::text_frame;
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let server = Server::start();
    let (_, token) = user(&server, "since").await;
    // A record from before the connection: never named.
    create(&server, &token, "scores", json!({"score": 90})).await;
    let url = format!(
        "{}/ws?apiKey={}&token={token}&stream=1",
        server.url.replacen("http://", "ws://", 1),
        e2e::API_KEY
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let greeting = text_frame(&mut ws).await;
    let since = greeting["seq"].as_u64().expect("a numbered greeting");
    // Every write frame received before subscribing, by number: on a shared
    // bus, the write from before the connection may still arrive after it
    // opened, and it counts then (it was sent to this connection).
    let mut matching = Vec::new();
    for score in [50, 5, 70] {
        create(&server, &token, "scores", json!({ "score": score })).await;
        loop {
            let w = text_frame(&mut ws).await;
            assert!(w.get("subs").is_none(), "no subscription yet: {w}");
            let got = w["response"]["score"].as_i64().expect("a scores write");
            if got >= 10 {
                matching.push(w["seq"].as_u64().expect("numbered"));
            }
            if got == score {
                break;
            }
        }
    }
    for (id, since) in [(1, since), (2, 0)] {
        let ask = json!({"action": "subscribeWrites", "id": id, "collection": "scores",
                         "query": "score >= 10", "since": since});
        ws.send(Message::text(ask.to_string())).await.expect("send");
    }
    let first = text_frame(&mut ws).await;
    assert_eq!(first["action"], "subscribeWrites");
    assert_eq!(first["matched"], json!(matching), "{first}");
    // `since` 0 reaches no further back than the connection: the record from
    // before it is not named.
    let second = text_frame(&mut ws).await;
    assert_eq!(second["matched"], json!(matching), "{second}");
    create(&server, &token, "scores", json!({"score": 99})).await;
    let live = text_frame(&mut ws).await;
    assert_eq!(live["subs"], json!([1, 2]), "{live}");
    assert_eq!(live["response"]["score"], 99);
    // An application message may not carry the server's fields: it could pass
    // for another event's number or fire another client's subscriptions.
    for forged in [
        json!({"action": "typing", "subs": [1]}),
        json!({"action": "typing", "seq": 1}),
    ] {
        ws.send(Message::text(forged.to_string()))
            .await
            .expect("send");
        let refused = text_frame(&mut ws).await;
        assert_eq!(refused["code"], "invalid_body", "{refused}");
    }
    // A connection's subscriptions hold 8 regular expressions at most.
    for id in 10..=18 {
        let ask = json!({"action": "subscribeWrites", "id": id, "collection": "scores",
                         "query": {"name": {"$regex": format!("^a{id}")}}});
        ws.send(Message::text(ask.to_string())).await.expect("send");
        let answer = text_frame(&mut ws).await;
        if id < 18 {
            assert_eq!(answer["action"], "subscribeWrites", "{answer}");
        } else {
            assert_eq!(answer["code"], "rate_limited", "{answer}");
            assert_eq!(answer["id"], 18);
        }
    }
}
