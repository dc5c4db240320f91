//! Tests of the realtime module.

use super::*;
use serde_json::json;

fn greet(l: &mut Link, stream: &str, seq: u64) -> Incoming {
    l.on_frame(
        &json!({"action": "connection", "response": "hi", "stream": stream, "seq": seq})
            .to_string(),
        0,
    )
}

#[test]
fn first_greeting_reaches_the_app_without_link_fields() {
    let mut l = Link::new();
    assert_eq!(
        greet(&mut l, "s1", 7),
        Incoming::Connected {
            greeting: Some(r#"{"action":"connection","response":"hi"}"#.into()),
            send: vec![]
        }
    );
    assert_eq!(l.last_seq(), 7);
}

#[test]
fn duplicates_are_dropped_and_seq_is_stripped() {
    let mut l = Link::new();
    greet(&mut l, "s1", 0);
    let ev = |n: u64| json!({"seq": n, "action": "create", "collection": "m"}).to_string();
    assert_eq!(
        l.on_frame(&ev(1), 0),
        Incoming::Deliver(r#"{"action":"create","collection":"m"}"#.into())
    );
    assert_eq!(l.on_frame(&ev(1), 0), Incoming::Nothing);
    assert!(matches!(l.on_frame(&ev(3), 0), Incoming::Deliver(_)));
    assert_eq!(l.on_frame(&ev(2), 0), Incoming::Nothing);
}

#[test]
fn reconnect_resumes_with_channels_and_queued_messages() {
    let mut l = Link::new();
    greet(&mut l, "s1", 0);
    l.on_frame(
        &json!({"action": "joinChannel", "userId": "u", "channelType": "rooms",
            "channelId": "r1", "response": {}})
        .to_string(),
        0,
    );
    l.on_frame(&json!({"seq": 4, "action": "x"}).to_string(), 0);
    l.on_close();
    let queued = l
        .send(
            &ClientMessage::GetAll {
                collection: "m".into(),
            },
            0,
        )
        .expect("queued");
    assert_eq!(queued, None);
    let Incoming::Connected {
        greeting: None,
        send: frames,
    } = greet(&mut l, "s1", 9)
    else {
        panic!("expected frames to send and no second greeting");
    };
    let resume: Value = serde_json::from_str(&frames[0]).expect("json");
    assert_eq!(resume["action"], "resume");
    assert_eq!(resume["since"], 4);
    assert_eq!(resume["stream"], "s1");
    assert_eq!(resume["channels"][0]["channelId"], "r1");
    assert!(frames[1].contains("getAll"));
    // A quiet resume answer is the link's own business; a gap reaches the app.
    assert_eq!(
        l.on_frame(r#"{"action":"resume","stream":"s1","seq":9}"#, 0),
        Incoming::Nothing
    );
    assert_eq!(
        l.on_frame(r#"{"action":"resume","gap":true}"#, 0),
        Incoming::Unchanged
    );
    // A frame without the link's fields reaches the app as it came.
    assert_eq!(
        l.on_frame(r#"{"action":"typing",  "userId":"u"}"#, 0),
        Incoming::Unchanged
    );
    assert_eq!(l.on_frame("not json", 0), Incoming::Unchanged);
}

#[test]
fn leaving_and_deleting_channels_forgets_them() {
    let mut l = Link::new();
    greet(&mut l, "s", 0);
    l.on_frame(
        r#"{"action":"joinUsersChannels","usersChannels":[{"channelType":"r","channelId":"1"},{"channelType":"r","channelId":"2"}]}"#,
        0,
    );
    l.on_frame(
        r#"{"action":"leaveChannel","channelType":"r","channelId":"1","response":{}}"#,
        0,
    );
    // Another user leaving is not this connection leaving.
    l.on_frame(
        r#"{"action":"leaveChannel","userId":"x","channelType":"r","channelId":"2"}"#,
        0,
    );
    assert_eq!(l.channels().count(), 1);
    l.on_frame(
        r#"{"action":"deleteChannel","channelType":"r","channelId":"2","response":{}}"#,
        0,
    );
    assert_eq!(l.channels().count(), 0);
}

#[test]
fn backoff_grows_with_jitter_and_caps() {
    let mut l = Link::new();
    let d: Vec<u64> = (0..20).map(|_| l.reconnect_delay_ms(0.999)).collect();
    assert!(d[0] >= BACKOFF_BASE_MS / 2 && d[0] < BACKOFF_BASE_MS);
    assert!(d[3] > d[2] && d[2] > d[1]);
    assert!(d.iter().all(|&x| x < BACKOFF_MAX_MS));
    let mut l2 = Link::new();
    assert_eq!(l2.reconnect_delay_ms(0.0), BACKOFF_BASE_MS / 2);
}

#[test]
fn heartbeat_then_dead_connection() {
    let mut l = Link::new();
    l.on_open(0);
    greet(&mut l, "s", 0);
    assert_eq!(l.tick(1_000), Tick::Wait);
    assert_eq!(l.tick(HEARTBEAT_MS), Tick::Ping);
    assert_eq!(l.tick(HEARTBEAT_MS + 1), Tick::Wait);
    assert_eq!(l.tick(DEAD_AFTER_MS), Tick::Reconnect);
}

#[test]
fn a_full_outbox_refuses() {
    let mut l = Link::new();
    for _ in 0..MAX_OUTBOX {
        l.send(&ClientMessage::Ping, 0).expect("fits");
    }
    assert!(l.send(&ClientMessage::Ping, 0).is_err());
}

#[test]
fn write_subscriptions_are_answered_tagged_and_restored_on_resume() {
    let mut l = Link::new();
    greet(&mut l, "s1", 0);
    let sub = |id: u64, q: Value| ClientMessage::SubscribeWrites {
        id,
        collection: "tasks".into(),
        query: q,
        since: None,
    };
    l.send(&sub(1, json!("done = true")), 0).expect("sent");
    l.send(&sub(2, json!({"n": {"$gt": 1}})), 0).expect("sent");
    l.send(&sub(3, Value::Null), 0).expect("sent");
    assert_eq!(
        l.on_frame(
            r#"{"action":"subscribeWrites","id":1,"collection":"tasks"}"#,
            0
        ),
        Incoming::Subscribed {
            id: 1,
            result: Ok(()),
            missed: vec![]
        }
    );
    let refused = l.on_frame(
        r#"{"code":"invalid_query","message":"no","action":"error","request":"subscribeWrites","id":2}"#,
        0,
    );
    let Incoming::Subscribed {
        id: 2,
        result: Err(e),
        ..
    } = refused
    else {
        panic!("expected the refusal of 2, got {refused:?}");
    };
    assert_eq!(e.code, crate::ErrorCode::InvalidQuery);
    // The per-field problems of a refusal reach the caller.
    l.send(&sub(6, json!("a >>> 1")), 0).expect("sent");
    let refused = l.on_frame(
        r#"{"code":"invalid_query","message":"no","errors":{"where":"bad"},"action":"error","request":"subscribeWrites","id":6}"#,
        0,
    );
    let Incoming::Subscribed { result: Err(e), .. } = refused else {
        panic!("expected the refusal of 6, got {refused:?}");
    };
    assert_eq!(
        e.errors.and_then(|m| m.get("where").cloned()),
        Some(json!("bad"))
    );
    l.send(&ClientMessage::UnsubscribeWrites { id: 3 }, 0)
        .expect("sent");
    assert_eq!(
        l.on_frame(r#"{"action":"unsubscribeWrites","id":3}"#, 0),
        Incoming::Nothing
    );
    // A tagged write reaches the app without the link's fields.
    assert_eq!(
        l.on_frame(
            r#"{"seq":1,"subs":[1],"action":"create","collection":"tasks","response":{}}"#,
            0
        ),
        Incoming::Tagged {
            text: r#"{"action":"create","collection":"tasks","response":{}}"#.into(),
            subs: vec![1]
        }
    );
    // After a drop, resume restores only the subscription still in place.
    l.on_close();
    let Incoming::Connected { send, .. } = greet(&mut l, "s1", 5) else {
        panic!("expected to be connected");
    };
    let resume: Value = serde_json::from_str(&send[0]).expect("json");
    assert_eq!(
        resume["writes"],
        json!([{"id": 1, "collection": "tasks", "query": "done = true"}])
    );
}

#[test]
fn writes_received_while_a_subscription_is_made_are_handed_to_it() {
    let mut l = Link::new();
    greet(&mut l, "s1", 5);
    let frame = l
        .send(
            &ClientMessage::SubscribeWrites {
                id: 4,
                collection: "tasks".into(),
                query: json!("n > 1"),
                since: None,
            },
            0,
        )
        .expect("sent")
        .expect("connected");
    // It says how far the client had read.
    let sent: Value = serde_json::from_str(&frame).expect("json");
    assert_eq!(sent["since"], 5);
    let w = |seq: u64, n: u64| {
        json!({"seq": seq, "action": "create", "collection": "tasks", "response": {"n": n}})
            .to_string()
    };
    assert!(matches!(l.on_frame(&w(6, 1), 0), Incoming::Deliver(_)));
    assert!(matches!(l.on_frame(&w(7, 2), 0), Incoming::Deliver(_)));
    // One already tagged for another subscription may concern this one too.
    let tagged =
        r#"{"seq":8,"subs":[1],"action":"create","collection":"tasks","response":{"n":3}}"#;
    assert!(matches!(l.on_frame(tagged, 0), Incoming::Tagged { .. }));
    // Only a write frame can be tagged: an app message's "subs" stays its own.
    let message = r#"{"seq":9,"action":"typing","subs":[4],"userId":"u"}"#;
    assert_eq!(
        l.on_frame(message, 0),
        Incoming::Deliver(r#"{"action":"typing","subs":[4],"userId":"u"}"#.into())
    );
    let answer = l.on_frame(
        r#"{"action":"subscribeWrites","id":4,"collection":"tasks","matched":[7,8]}"#,
        0,
    );
    let create =
        |n: u64| format!(r#"{{"action":"create","collection":"tasks","response":{{"n":{n}}}}}"#);
    assert_eq!(
        answer,
        Incoming::Subscribed {
            id: 4,
            result: Ok(()),
            missed: vec![create(2), create(3)]
        }
    );
    // Nothing waits any more: nothing is kept.
    l.on_frame(&w(10, 3), 0);
    assert!(l.recent.is_empty());
}

#[test]
fn frames_built_as_text_are_the_messages_the_server_parses() {
    let mut l = Link::new();
    greet(&mut l, "s1", 3);
    let mut sent = |o: Outgoing| {
        let frame = l.send(o, 0).expect("sent").expect("connected");
        ClientMessage::parse(&frame).expect("the server reads it")
    };
    assert_eq!(
        sent(Outgoing::Notifications(Some(vec!["a\"b".into()]))),
        ClientMessage::SubscribeNotifications {
            collections: Some(vec!["a\"b".into()])
        }
    );
    assert_eq!(
        sent(Outgoing::Notifications(None)),
        ClientMessage::SubscribeNotifications { collections: None }
    );
    assert_eq!(
        sent(Outgoing::SubscribeWrites {
            id: 2,
            collection: "tasks".into(),
            query: r#"{"n":{"$gt":1}}"#.into(),
            since: None
        }),
        ClientMessage::SubscribeWrites {
            id: 2,
            collection: "tasks".into(),
            query: json!({"n": {"$gt": 1}}),
            since: Some(3)
        }
    );
    assert_eq!(
        sent(Outgoing::UnsubscribeWrites(2)),
        ClientMessage::UnsubscribeWrites { id: 2 }
    );
    assert_eq!(
        ClientMessage::parse(&Link::ping_frame()).expect("parsed"),
        ClientMessage::Ping
    );
    // A resume with everything the link restores.
    l.send(
        Outgoing::SubscribeWrites {
            id: 5,
            collection: "c".into(),
            query: "null".into(),
            since: None,
        },
        0,
    )
    .expect("sent");
    l.on_frame(
        r#"{"action":"joinChannel","channelType":"rooms","channelId":"r\"1","response":{}}"#,
        0,
    );
    l.on_close();
    let Incoming::Connected { send, .. } = greet(&mut l, "s1", 9) else {
        panic!("expected to be connected");
    };
    assert_eq!(
        ClientMessage::parse(&send[0]).expect("parsed"),
        ClientMessage::Resume {
            stream: "s1".into(),
            since: 3,
            channels: vec![Channel::new("rooms", "r\"1")],
            notifications: None,
            notify: true,
            writes: vec![crate::ws::WriteSubscription {
                id: 5,
                collection: "c".into(),
                query: Value::Null
            }],
        }
    );
}
