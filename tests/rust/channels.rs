//! Backpack channels end to end: create, join, messages scoped to subscribers,
//! change, leave, `joinUsersChannels` on a new connection, and `deleteChannel`'s
//! cascade. A third user who never joins receives none of it.

use e2e::{Server, connect, next_json, next_msg, quiet};
use rucksack::{ErrorCode, Record, ServerMessage};
use serde_json::{Value, json};

const UIC: &str = "usersmeta";

#[tokio::test]
async fn a_chat_room_from_creation_to_deletion() {
    let server = Server::start();
    let (a, a_id) = server.signed_in("room-a").await;
    let (b, b_id) = server.signed_in("room-b").await;
    let (c, _) = server.signed_in("room-c").await;
    let mut la = connect(&a).await;
    let mut lb = connect(&b).await;
    let mut lc = connect(&c).await;

    // createChannel: the creator gets its channels; everyone else the channel.
    la.create_channel(UIC, "rooms", "Bikers").expect("send");
    let mine = next_json(&mut la).await;
    assert_eq!(mine["action"], "createChannel");
    assert_eq!(mine["response"]["name"], "Bikers");
    assert_eq!(mine["response"]["userId"], json!(a_id));
    let room = mine["response"]["_id"].as_str().expect("id").to_owned();
    let chan = json!({"channelType": "rooms", "channelId": room});
    assert_eq!(mine["usersChannels"], json!([chan]));
    assert_eq!(mine["usersCurrentChannel"], chan);
    for live in [&mut lb, &mut lc] {
        let v = next_json(live).await;
        assert_eq!(
            v,
            json!({"action": "createChannel", "response": mine["response"]})
        );
    }

    // joinChannel: the joiner gets its record; the channel's others a notice.
    lb.join_channel(UIC, "rooms", &room).expect("send");
    let joined = next_json(&mut lb).await;
    assert_eq!(joined["action"], "joinChannel");
    assert_eq!(joined["userId"], json!(b_id));
    assert_eq!(joined["response"]["userId"], json!(b_id));
    assert_eq!(joined["response"]["channels"], json!([chan]));
    assert_eq!(joined["response"]["currentChannel"], chan);
    assert_eq!(
        next_json(&mut la).await,
        json!({"action": "joinChannel", "userId": b_id, "channelType": "rooms", "channelId": room})
    );

    // Messages and records naming the channel reach its subscribers only.
    la.send_message(
        json!({"action": "chat", "channelType": "rooms", "channelId": room, "text": "hi"}),
    )
    .expect("send");
    for live in [&mut la, &mut lb] {
        let v = next_json(live).await;
        assert_eq!(
            (v["text"].as_str(), v["userId"].as_str()),
            (Some("hi"), Some(a_id.as_str()))
        );
    }
    lb.create_resource(
        "messages",
        json!({"channelType": "rooms", "channelId": room, "text": "from b"}),
    )
    .expect("send");
    for live in [&mut lb, &mut la] {
        let ServerMessage::Write(ev) = next_msg(live).await else {
            panic!("write")
        };
        assert_eq!(ev.response["text"], "from b");
    }
    let _: Record<Value> = a
        .db()
        .create_resource(
            "messages",
            &json!({"channelType": "rooms", "channelId": room, "text": "over http"}),
        )
        .await
        .expect("create");
    for live in [&mut la, &mut lb] {
        let ServerMessage::Write(ev) = next_msg(live).await else {
            panic!("write")
        };
        assert!(ev.http_request);
    }
    lc.send_message(json!({"action": "chat", "channelType": "rooms", "channelId": room}))
        .expect("send");
    let ServerMessage::Error(e) = next_msg(&mut lc).await else {
        panic!("not a member")
    };
    assert_eq!(e.code, ErrorCode::Forbidden);
    quiet(&mut lc).await;

    // changeChannel answers the caller only.
    lb.change_channel(UIC, "rooms", &room).expect("send");
    let ServerMessage::Channel(changed) = next_msg(&mut lb).await else {
        panic!("a typed channel event")
    };
    assert_eq!(changed.action, "changeChannel");
    assert_eq!(changed.user_id.as_deref(), Some(b_id.as_str()));
    assert_eq!(
        changed.current_channel,
        Some(rucksack::Channel::new("rooms", &room))
    );
    assert_eq!(
        changed.users_channels,
        Some(vec![rucksack::Channel::new("rooms", &room)])
    );

    // A second connection of B rejoins from its record.
    let mut lb2 = connect(&b).await;
    lb2.join_users_channels(UIC).expect("send");
    assert_eq!(
        next_json(&mut lb2).await,
        json!({"action": "joinUsersChannels", "usersChannels": [chan]})
    );
    la.send_message(
        json!({"action": "chat", "channelType": "rooms", "channelId": room, "text": "all of b"}),
    )
    .expect("send");
    for live in [&mut la, &mut lb, &mut lb2] {
        assert_eq!(next_json(live).await["text"], "all of b");
    }

    // leaveChannel: B's record loses it; its messages stop reaching B.
    lb.leave_channel(UIC, "rooms", &room).expect("send");
    let left = next_json(&mut lb).await;
    assert_eq!(left["response"]["channels"], json!([]));
    assert_eq!(
        left["response"]["currentChannel"],
        json!({"channelType": null, "channelId": null})
    );
    for live in [&mut la, &mut lb2] {
        let v = next_json(live).await;
        assert_eq!(
            (v["action"].as_str(), v["userId"].as_str()),
            (Some("leaveChannel"), Some(b_id.as_str()))
        );
    }
    lb2.leave_channel(UIC, "rooms", &room).expect("send");
    next_json(&mut lb2).await;
    next_json(&mut la).await;
    la.send_message(json!({"action": "chat", "channelType": "rooms", "channelId": room}))
        .expect("send");
    next_json(&mut la).await;
    quiet(&mut lb).await;

    // Only the channel's owner (the delete rule) may delete it.
    lb.join_channel(UIC, "rooms", &room).expect("send");
    next_json(&mut lb).await;
    next_json(&mut la).await;
    lb.delete_channel(UIC, "messages", "rooms", &room)
        .expect("send");
    let ServerMessage::Error(e) = next_msg(&mut lb).await else {
        panic!("not the owner")
    };
    assert_eq!(e.code, ErrorCode::Forbidden);

    // deleteChannel: messages, the channel and every subscription go; each
    // subscribed connection gets its user's record.
    let _: Record<Value> = a
        .db()
        .create_resource("messages", &json!({"text": "elsewhere"}))
        .await
        .expect("create");
    for live in [&mut la, &mut lb, &mut lc] {
        next_msg(live).await;
    }
    la.delete_channel(UIC, "messages", "rooms", &room)
        .expect("send");
    for (live, user) in [(&mut la, &a_id), (&mut lb, &b_id)] {
        let v = next_json(live).await;
        assert_eq!(v["action"], "deleteChannel");
        assert_eq!(v["userId"], json!(a_id));
        assert_eq!(v["channelId"], json!(room));
        assert_eq!(v["response"]["userId"], json!(user));
        assert_eq!(v["response"]["channels"], json!([]));
        assert_eq!(
            v["response"]["currentChannel"],
            json!({"channelType": null, "channelId": null})
        );
    }
    let left: Vec<Record<Value>> = a.db().get_collection("messages").await.expect("list");
    assert_eq!(
        left.len(),
        1,
        "only the message outside the channel is left"
    );
    let gone = a
        .db()
        .get_resource::<Value>("rooms", &room)
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Some(&ErrorCode::NotFound));
    la.send_message(json!({"action": "chat", "channelType": "rooms", "channelId": room}))
        .expect("send");
    let ServerMessage::Error(e) = next_msg(&mut la).await else {
        panic!("no longer a member")
    };
    assert_eq!(e.code, ErrorCode::Forbidden);
    quiet(&mut lb).await;
    quiet(&mut lc).await;
}

#[tokio::test]
async fn channel_actions_need_a_session_and_a_readable_channel() {
    let server = Server::start();
    let mut anon = connect(&server.sdk()).await;
    anon.create_channel(UIC, "rooms", "x").expect("send");
    let ServerMessage::Error(e) = next_msg(&mut anon).await else {
        panic!("anonymous")
    };
    assert_eq!(e.code, ErrorCode::Unauthenticated);
    let (a, _) = server.signed_in("nochan").await;
    let mut la = connect(&a).await;
    // An anonymous connection cannot slip into a channel through `resume` either.
    la.create_channel(UIC, "rooms", "members").expect("send");
    let room = next_json(&mut la).await["response"]["_id"]
        .as_str()
        .expect("id")
        .to_owned();
    next_json(&mut anon).await;
    anon.send_text(
        json!({"action": "resume", "stream": "old", "since": 0,
            "channels": [{"channelType": "rooms", "channelId": room}]})
        .to_string(),
    )
    .expect("send");
    let resumed = next_json(&mut anon).await;
    assert_eq!(resumed["channels"], json!([]));
    la.send_message(json!({"action": "chat", "channelType": "rooms", "channelId": room}))
        .expect("send");
    next_json(&mut la).await;
    quiet(&mut anon).await;
    la.join_channel(UIC, "rooms", "000000000000000000000000")
        .expect("send");
    let ServerMessage::Error(e) = next_msg(&mut la).await else {
        panic!("no such channel")
    };
    assert_eq!(e.code, ErrorCode::NotFound);
    la.join_channel("bad name!", "rooms", "x").expect("send");
    assert!(matches!(next_msg(&mut la).await, ServerMessage::Error(_)));
}
