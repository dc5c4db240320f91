//! Backpack WebSocket actions: reads answer the caller only; writes answer the
//! caller and reach every other connection once; application, `open` and
//! `close` messages carry the session's user, never the message's.

use e2e::{Server, connect, next_json, next_msg, quiet};
use rucksack::{ErrorCode, Record, ServerMessage, WriteAction};
use serde_json::{Value, json};

#[tokio::test]
async fn reads_answer_only_the_caller() {
    let server = Server::start();
    let (a, _) = server.signed_in("reader-a").await;
    let mut la = connect(&a).await;
    let mut watcher = connect(&server.sdk()).await;
    for text in ["x", "y"] {
        let _: Record<Value> = a
            .db()
            .create_resource("notes", &json!({ "text": text }))
            .await
            .expect("create");
    }
    for _ in 0..2 {
        assert!(matches!(next_msg(&mut la).await, ServerMessage::Write(_)));
        assert!(matches!(
            next_msg(&mut watcher).await,
            ServerMessage::Write(_)
        ));
    }
    la.find_resource("notes", json!({"text": "y"}))
        .expect("send");
    let v = next_json(&mut la).await;
    assert_eq!(v["action"], "find");
    assert_eq!(v["collection"], "notes");
    assert_eq!(v["response"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["response"][0]["text"], "y");
    la.get_collection("notes").expect("send");
    let v = next_json(&mut la).await;
    assert_eq!(v["action"], "getAll");
    assert_eq!(v["response"].as_array().map(Vec::len), Some(2));
    let id = v["response"][0]["_id"].as_str().expect("id").to_owned();
    la.get_resource("notes", &id).expect("send");
    let v = next_json(&mut la).await;
    assert_eq!(v["action"], "getOne");
    assert_eq!(v["response"]["_id"], json!(id));
    la.get_resource("notes", "000000000000000000000000")
        .expect("send");
    let ServerMessage::Error(e) = next_msg(&mut la).await else {
        panic!("a missing record is an error")
    };
    assert_eq!(e.code, ErrorCode::NotFound);
    quiet(&mut watcher).await;
}

#[tokio::test]
async fn socket_writes_answer_the_caller_and_reach_the_others_once() {
    let server = Server::start();
    let (a, a_id) = server.signed_in("writer-a").await;
    let (b, _) = server.signed_in("writer-b").await;
    let mut la = connect(&a).await;
    let mut lb = connect(&b).await;
    la.create_resource("messages", json!({"text": "first", "userId": a_id}))
        .expect("send");
    let ServerMessage::Write(mine) = next_msg(&mut la).await else {
        panic!("the caller gets its answer")
    };
    assert_eq!(mine.action, WriteAction::Create);
    assert!(!mine.http_request);
    assert_eq!(
        mine.response["userId"],
        json!(a_id),
        "the owner is the session's"
    );
    let id = mine.response["_id"].as_str().expect("id").to_owned();
    let ServerMessage::Write(seen) = next_msg(&mut lb).await else {
        panic!("the others get the broadcast")
    };
    assert_eq!(seen.response, mine.response);

    la.update_resource("messages", &id, json!({"text": "edited"}))
        .expect("send");
    la.overwrite_resource("messages", &id, json!({"text": "replaced"}))
        .expect("send");
    la.delete_resource("messages", &id).expect("send");
    for (action, text) in [
        (WriteAction::Patch, "edited"),
        (WriteAction::Update, "replaced"),
        (WriteAction::Delete, "replaced"),
    ] {
        for live in [&mut la, &mut lb] {
            let ServerMessage::Write(ev) = next_msg(live).await else {
                panic!("expected {action:?}")
            };
            assert_eq!(
                (ev.action, ev.response["text"].as_str()),
                (action, Some(text))
            );
        }
    }
    quiet(&mut la).await;

    // The rules of HTTP apply: another user's record, a forged owner, no session.
    let rec: Record<Value> = a
        .db()
        .create_resource("messages", &json!({"text": "a's"}))
        .await
        .expect("create");
    next_msg(&mut la).await;
    next_msg(&mut lb).await;
    lb.update_resource("messages", &rec.id, json!({"text": "b was here"}))
        .expect("send");
    let ServerMessage::Error(e) = next_msg(&mut lb).await else {
        panic!("not the owner")
    };
    assert_eq!(e.code, ErrorCode::Forbidden);
    lb.create_resource("messages", json!({"userId": a_id}))
        .expect("send");
    let ServerMessage::Error(e) = next_msg(&mut lb).await else {
        panic!("another user's id")
    };
    assert_eq!(e.code, ErrorCode::SystemField);
    let mut anon = connect(&server.sdk()).await;
    anon.create_resource("messages", json!({"text": "anon"}))
        .expect("send");
    let ServerMessage::Error(e) = next_msg(&mut anon).await else {
        panic!("anonymous create")
    };
    assert_eq!(e.code, ErrorCode::Unauthenticated);
    let kept: Record<Value> = a.db().get_resource("messages", &rec.id).await.expect("get");
    assert_eq!(kept.data["text"], "a's");
    quiet(&mut la).await;
}

#[tokio::test]
async fn messages_open_and_close_carry_the_session_user() {
    let server = Server::start();
    let (a, a_id) = server.signed_in("talker").await;
    let mut la = connect(&a).await;
    let mut watcher = connect(&server.sdk()).await;
    la.send_message(json!({"action": "userTyping", "userId": "someone-else", "n": 1}))
        .expect("send");
    for live in [&mut la, &mut watcher] {
        let v = next_json(live).await;
        assert_eq!(v, json!({"action": "userTyping", "userId": a_id, "n": 1}));
    }
    la.send_open(json!({"status": "here"})).expect("send");
    la.send_close(json!({})).expect("send");
    for live in [&mut la, &mut watcher] {
        assert_eq!(
            next_json(live).await,
            json!({"status": "here", "action": "open", "userId": a_id})
        );
        assert_eq!(
            next_json(live).await,
            json!({"action": "close", "userId": a_id})
        );
    }
    // Anonymous messages carry no user at all.
    watcher
        .send_message(json!({"action": "wave", "userId": a_id}))
        .expect("send");
    assert_eq!(next_json(&mut la).await, json!({"action": "wave"}));
}
