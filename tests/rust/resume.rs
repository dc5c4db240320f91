//! Staying connected: a client whose connection drops during a stream of writes
//! reconnects, rejoins its channel and receives every event exactly once, in
//! order; when the server's history no longer reaches back, it is told so.

use e2e::{API_KEY, PASSWORD, Proxy, Server, connect, email, next_json, next_msg, quiet};
use rucksack::{Record, ServerMessage};
use serde_json::{Value, json};

/// Reads write events until `n` have arrived; returns their `n` fields.
async fn collect(live: &mut rucksack::Realtime, want: usize) -> Vec<u64> {
    let mut seen = Vec::new();
    while seen.len() < want {
        match next_msg(live).await {
            ServerMessage::Write(ev) => seen.push(ev.response["n"].as_u64().expect("n")),
            other => panic!("unexpected {other:?}"),
        }
    }
    seen
}

#[tokio::test]
async fn a_dropped_connection_resumes_with_every_event_once_in_order() {
    let server = Server::start();
    let proxy = Proxy::start(&server.url).await;
    let reader = rucksack::Sdk::new(&proxy.url, API_KEY).expect("sdk");
    reader
        .auth()
        .register(&email("resumer"), PASSWORD)
        .await
        .expect("register");
    let (writer, _) = server.signed_in("stream-writer").await;
    let mut live = connect(&reader).await;
    live.create_channel("usersmeta", "rooms", "stream")
        .expect("send");
    let made = next_json(&mut live).await;
    let room = made["response"]["_id"].as_str().expect("id").to_owned();

    // Half the writes are public, half scoped to the channel the reader joined.
    let total = 300u64;
    let write = move |n: u64| {
        let writer = writer.clone();
        let room = room.clone();
        async move {
            let body = if n.is_multiple_of(2) {
                json!({"n": n})
            } else {
                json!({"n": n, "channelType": "rooms", "channelId": room})
            };
            let _: Record<Value> = writer
                .db()
                .create_resource("ticks", &body)
                .await
                .expect("create");
        }
    };
    let stream = tokio::spawn(async move {
        for n in 0..total {
            write(n).await;
        }
    });
    let mut seen = collect(&mut live, 50).await;
    // The network drops twice: once briefly, once while writes go on without us.
    proxy.cut();
    seen.extend(collect(&mut live, 50).await);
    proxy.down();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    proxy.up();
    seen.extend(collect(&mut live, (total as usize) - seen.len()).await);
    stream.await.expect("writer");
    assert_eq!(
        seen,
        (0..total).collect::<Vec<_>>(),
        "every event once, in order"
    );
    // Nothing more.
    quiet(&mut live).await;
}

#[tokio::test]
async fn a_gap_older_than_the_history_is_reported() {
    let server = Server::start_with(&["--ws-history", "5"]);
    let proxy = Proxy::start(&server.url).await;
    let reader = rucksack::Sdk::new(&proxy.url, API_KEY).expect("sdk");
    let (writer, _) = server.signed_in("gap-writer").await;
    let mut live = connect(&reader).await;
    proxy.down();
    for n in 0..20 {
        let _: Record<Value> = writer
            .db()
            .create_resource("ticks", &json!({"n": n}))
            .await
            .expect("create");
    }
    proxy.up();
    let v = next_json(&mut live).await;
    assert_eq!(v["action"], "resume");
    assert_eq!(v["gap"], true, "told to re-read");
    // Live events flow again after the gap.
    let _: Record<Value> = writer
        .db()
        .create_resource("ticks", &json!({"n": 99}))
        .await
        .expect("create");
    assert_eq!(collect(&mut live, 1).await, vec![99]);
}
