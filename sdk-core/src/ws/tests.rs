use super::*;
use serde_json::json;

#[test]
fn write_events_round_trip() {
    let ev = WriteEvent {
        action: WriteAction::Patch,
        collection: "messages".into(),
        http_request: true,
        response: json!({"_id": "a", "text": "hi"}),
    };
    let text = ServerMessage::Write(ev.clone()).to_json();
    assert!(text.contains(r#""httpRequest":true"#));
    assert_eq!(
        ServerMessage::parse(&text).expect("parse"),
        ServerMessage::Write(ev)
    );
}

#[test]
fn the_servers_frames_read_back_as_what_they_say() {
    assert_eq!(
        ServerMessage::parse(&connection_frame(None)).expect("greeting"),
        ServerMessage::Connection(CONNECTION_GREETING.into())
    );
    let numbered: Value = serde_json::from_str(&connection_frame(Some(("s1", 7)))).expect("json");
    assert_eq!(
        (numbered["stream"].clone(), numbered["seq"].clone()),
        (json!("s1"), json!(7))
    );
    let body = ErrorBody::new(crate::ErrorCode::NotFound, "no record with that id");
    let e = error_frame(&body, Some("getOne"));
    assert_eq!(
        ServerMessage::parse(&e).expect("error"),
        ServerMessage::Error(body)
    );
    assert!(e.contains(r#""request":"getOne""#), "{e}");
    assert_eq!(
        ServerMessage::parse(&read_frame("find", "todos", r#"[{"_id":"a"}]"#)).expect("read"),
        ServerMessage::Read {
            action: "find".into(),
            collection: "todos".into(),
            response: json!([{"_id": "a"}]),
        }
    );
    assert!(matches!(
        ServerMessage::parse(PONG_FRAME).expect("pong"),
        ServerMessage::Other(_)
    ));
    let all: Value = serde_json::from_str(&notifications_frame(None)).expect("json");
    assert_eq!(
        all,
        json!({"action": "subscribeNotifications", "collections": null})
    );
}

#[test]
fn greeting_and_unknown_messages_parse() {
    let g = ServerMessage::Connection(CONNECTION_GREETING.into()).to_json();
    assert_eq!(
        ServerMessage::parse(&g).expect("greeting"),
        ServerMessage::Connection(CONNECTION_GREETING.into())
    );
    let m = ServerMessage::parse(r#"{"action":"userTyping","userId":"u"}"#).expect("other");
    assert!(matches!(m, ServerMessage::Other(_)));
    assert!(ServerMessage::parse("{").is_err());
}

#[test]
fn channel_messages_are_typed() {
    let answer = json!({"action": "joinChannel", "userId": "u", "channelType": "rooms",
        "channelId": "r1", "response": {"userId": "u", "channels": [
            {"channelType": "rooms", "channelId": "r1"}],
            "currentChannel": {"channelType": "rooms", "channelId": "r1"}}});
    let ServerMessage::Channel(c) = ServerMessage::parse(&answer.to_string()).expect("parse")
    else {
        panic!("a channel event")
    };
    assert_eq!(c.user_id.as_deref(), Some("u"));
    assert_eq!(c.channel, Some(Channel::new("rooms", "r1")));
    assert_eq!(c.users_channels, Some(vec![Channel::new("rooms", "r1")]));
    assert_eq!(c.current_channel, Some(Channel::new("rooms", "r1")));
    let back: Value = serde_json::from_str(&ServerMessage::Channel(c).to_json()).expect("json");
    assert_eq!(back, answer);
    let made =
        json!({"action": "createChannel", "response": {"_id": "r2", "channelType": "rooms"}});
    let ServerMessage::Channel(c) = ServerMessage::parse(&made.to_string()).expect("parse") else {
        panic!("a channel event")
    };
    assert_eq!(c.channel, Some(Channel::new("rooms", "r2")));
    assert_eq!(
        c.users_channels, None,
        "an announcement names no one's channels"
    );
}

#[test]
fn broadcast_false_suppresses_in_both_spellings() {
    assert!(broadcast_allowed(&json!({"a": 1})));
    assert!(broadcast_allowed(&json!({"broadcast": true})));
    assert!(!broadcast_allowed(&json!({"broadcast": false})));
    assert!(!broadcast_allowed(&json!({"broadcast": "false"})));
}

#[test]
fn channel_key_needs_both_parts() {
    assert_eq!(
        channel_key(&json!({"channelType": "rooms", "channelId": "r1"})).as_deref(),
        Some("rooms_r1")
    );
    assert_eq!(channel_key(&json!({"channelType": "rooms"})), None);
}

#[test]
fn channel_frames_keep_the_backpack_shapes_and_read_back() {
    let ch = Channel::new("rooms", "r1");
    let told = channel_frame("joinChannel", Some("u1"), &ch, None);
    assert_eq!(
        told,
        r#"{"action":"joinChannel","userId":"u1","channelType":"rooms","channelId":"r1"}"#
    );
    let rec = json!({"userId": "u1", "channels": [ch], "currentChannel": ch});
    let answered = channel_frame("deleteChannel", None, &ch, Some(&rec));
    assert_eq!(
        answered,
        format!(
            r#"{{"action":"deleteChannel","userId":null,"channelType":"rooms","channelId":"r1","response":{rec}}}"#
        )
    );
    let ServerMessage::Channel(ev) = ServerMessage::parse(&answered).expect("parse") else {
        panic!("not a channel message: {answered}");
    };
    assert_eq!(ev.channel, Some(ch.clone()));
    assert_eq!(ev.users_channels, Some(vec![ch.clone()]));
    assert_eq!(ev.current_channel, Some(ch.clone()));

    let joined = users_channels_frame(std::slice::from_ref(&ch));
    assert_eq!(
        joined,
        r#"{"action":"joinUsersChannels","usersChannels":[{"channelType":"rooms","channelId":"r1"}]}"#
    );

    let doc = json!({"_id": "r1", "channelType": "rooms", "name": "Lobby"});
    assert_eq!(
        channel_created_frame(&doc, None),
        format!(r#"{{"action":"createChannel","response":{doc}}}"#)
    );
    let none = json!({"channelType": null, "channelId": null});
    let created = channel_created_frame(&doc, Some((None, Some(&none))));
    assert_eq!(
        created,
        format!(
            r#"{{"action":"createChannel","response":{doc},"usersChannels":null,"usersCurrentChannel":{none}}}"#
        )
    );
    let ServerMessage::Channel(ev) = ServerMessage::parse(&created).expect("parse") else {
        panic!("not a channel message: {created}");
    };
    assert_eq!(ev.channel, Some(ch));
    assert_eq!(ev.current_channel, None);
}

#[test]
fn resume_answers_keep_their_shape_and_the_link_reads_them() {
    let r = Resumed {
        stream: "s1".into(),
        seq: 42,
        channels: vec![Channel::new("rooms", "r1")],
        replayed: 3,
        gap: false,
    };
    let text = r.to_frame();
    assert_eq!(
        text,
        r#"{"action":"resume","stream":"s1","seq":42,"channels":[{"channelType":"rooms","channelId":"r1"}],"replayed":3,"gap":false}"#
    );
    // The client's link reads it back: the number and the channels.
    let mut link = crate::realtime::Link::new();
    link.on_open(0);
    let _ = link.on_frame(&text, 1);
    assert_eq!(link.last_seq(), 42);
    assert_eq!(
        link.channels().cloned().collect::<Vec<_>>(),
        vec![Channel::new("rooms", "r1")]
    );
}

#[test]
fn tagged_frames_put_seq_and_subs_in_front() {
    let f = r#"{"action":"create","collection":"c","response":{}}"#;
    assert_eq!(tagged_frame(f, None, &[]), f);
    assert_eq!(
        tagged_frame(f, Some(7), &[1, 3]),
        r#"{"seq":7,"subs":[1,3],"action":"create","collection":"c","response":{}}"#
    );
    assert_eq!(
        tagged_frame(f, None, &[2]),
        r#"{"subs":[2],"action":"create","collection":"c","response":{}}"#
    );
    assert_eq!(tagged_frame("{}", Some(1), &[]), r#"{"seq":1}"#);
    assert_eq!(tagged_frame("{}", None, &[]), "{}");
    let v: Value = serde_json::from_str(&tagged_frame(f, Some(7), &[1, 3])).expect("still JSON");
    assert_eq!(v["subs"], json!([1, 3]));
}
