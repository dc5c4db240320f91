//! More than one server process: three servers on one PostgreSQL database, one
//! NATS JetStream stream and one S3 bucket serve one app. Writes, channels,
//! sessions, files and rate limits cross between them; a client that loses its
//! server resumes on another with every event once; a server killed with
//! SIGKILL loses no acknowledged write.

use e2e::{API_KEY, PASSWORD, Proxy, S3, Server, connect, email, next_json, next_msg, quiet};
use rucksack::{ErrorCode, Record, ServerMessage, Upload};
use serde_json::{Value, json};
use std::time::Duration;

const UIC: &str = "usersmeta";

/// Servers sharing one database schema, one bus stream and one bucket; the
/// schema and the stream go with it.
struct Cluster {
    servers: Vec<Server>,
    shared: tempfile::TempDir,
    db: String,
    bus: String,
    _s3: S3,
    _s3_root: tempfile::TempDir,
}

impl Cluster {
    /// `n` servers, each with `extra` flags.
    fn start(n: usize, extra: &[&str]) -> Self {
        let shared = tempfile::tempdir().expect("shared directory");
        let db = e2e::postgres_schema(shared.path());
        let bus = e2e::nats_bus(shared.path());
        let s3_root = tempfile::tempdir().expect("S3 root");
        let s3 = S3::start(s3_root.path());
        let mut cluster = Self {
            servers: Vec::new(),
            shared,
            db,
            bus,
            _s3: s3,
            _s3_root: s3_root,
        };
        for _ in 0..n {
            let server = cluster.another(extra);
            cluster.servers.push(server);
        }
        cluster
    }

    /// One more server on the same database, bus and bucket.
    fn another(&self, extra: &[&str]) -> Server {
        let mut flags = vec![
            "--database",
            self.db.as_str(),
            "--bus",
            self.bus.as_str(),
            "--files",
            self._s3.files_url.as_str(),
        ];
        flags.extend_from_slice(extra);
        Server::start_with(&flags)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.servers.clear();
        e2e::drop_postgres_schema(self.shared.path());
    }
}

/// An SDK on `server` signed in with a session made elsewhere.
fn same_session(server: &Server, from: &rucksack::Sdk, user: &str) -> rucksack::Sdk {
    rucksack::Sdk::builder(&server.url, API_KEY)
        .session(from.session_token().expect("a session"), user)
        .build()
        .expect("sdk")
}

/// Reads write events until `want` have arrived; their `n` fields.
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

/// Whether the connection ends within 10 s.
async fn ends(live: &mut rucksack::Realtime) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, live.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[tokio::test]
async fn three_servers_share_writes_channels_sessions_files_and_limits() {
    let cluster = Cluster::start(3, &["--auth-rate-per-email", "3"]);
    let [a, b, c] = &cluster.servers[..] else {
        panic!("three servers")
    };

    // A session made on A works on C.
    let (on_a, me) = a.signed_in("scale-a").await;
    let on_c = same_session(c, &on_a, &me);
    assert_eq!(on_c.auth().me().await.expect("me on C").id, me);

    // A write through A reaches a socket on C, in order.
    let mut live_c = connect(&on_c).await;
    for n in 0..50u64 {
        let _: Record<Value> = on_a
            .db()
            .create_resource("ticks", &json!({"n": n}))
            .await
            .expect("create on A");
    }
    assert_eq!(collect(&mut live_c, 50).await, (0..50).collect::<Vec<_>>());

    // A channel joined on B receives a message sent on A.
    let (other_on_b, other) = b.signed_in("scale-b").await;
    let mut live_a = connect(&on_a).await;
    let mut live_b = connect(&other_on_b).await;
    live_a.create_channel(UIC, "rooms", "Across").expect("send");
    let made = next_json(&mut live_a).await;
    let room = made["response"]["_id"].as_str().expect("id").to_owned();
    // Everyone hears of a new channel, on every server.
    let announced = next_json(&mut live_b).await;
    assert_eq!(announced["response"]["_id"], json!(room), "{announced}");
    live_b.join_channel(UIC, "rooms", &room).expect("send");
    let joined = next_json(&mut live_b).await;
    assert_eq!(joined["action"], "joinChannel", "{joined}");
    let notice = next_json(&mut live_a).await;
    assert_eq!(notice["userId"], json!(other), "{notice}");
    live_a
        .send_message(
            json!({"action": "chat", "channelType": "rooms", "channelId": room, "text": "hi"}),
        )
        .expect("send");
    let heard = next_json(&mut live_b).await;
    assert_eq!(
        (heard["text"].as_str(), heard["userId"].as_str()),
        (Some("hi"), Some(me.as_str())),
        "{heard}"
    );
    quiet(&mut live_b).await;

    // A file uploaded through A downloads whole through C, and by range.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    on_a.storage()
        .upload_file(Upload::bytes(data.clone()), "big.bin", "b")
        .await
        .expect("upload on A");
    assert!(
        on_c.storage()
            .get_file(&me, "big.bin")
            .await
            .expect("download on C")
            == data
    );
    let part = reqwest::Client::new()
        .get(format!("{}/uploads/{me}/big.bin", c.url))
        .header("authorization", format!("key {API_KEY}"))
        .header("x-authorization", on_a.session_token().unwrap_or_default())
        .header("range", "bytes=1000000-1000099")
        .send()
        .await
        .expect("range on C");
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(
        part.bytes().await.expect("body").as_ref(),
        &data[1_000_000..1_000_100]
    );

    // Its logout on B closes its sockets on A and C.
    let on_b = same_session(b, &on_a, &me);
    on_b.auth().logout().await.expect("logout on B");
    assert!(
        ends(&mut live_a).await,
        "the socket on A outlived the logout"
    );
    assert!(
        ends(&mut live_c).await,
        "the socket on C outlived the logout"
    );
    let gone = on_c.auth().me().await.expect_err("signed out everywhere");
    assert_eq!(gone.code(), Some(&ErrorCode::Unauthenticated));

    // Three guesses of one password, one on each server: the fourth attempt,
    // with the right password, is refused.
    let target = email("scale-limited");
    a.sdk()
        .auth()
        .register(&target, PASSWORD)
        .await
        .expect("register");
    for server in [a, b, c] {
        let e = server
            .sdk()
            .auth()
            .login(&target, "wrong guess!")
            .await
            .expect_err("wrong");
        assert_eq!(e.code(), Some(&ErrorCode::InvalidCredentials));
    }
    let e = b
        .sdk()
        .auth()
        .login(&target, PASSWORD)
        .await
        .expect_err("over the shared limit");
    assert_eq!(e.code(), Some(&ErrorCode::RateLimited), "{e}");
}

#[tokio::test]
async fn a_client_dropped_from_one_server_resumes_on_another_with_every_event_once() {
    let cluster = Cluster::start(3, &[]);
    let [a, b, c] = &cluster.servers[..] else {
        panic!("three servers")
    };
    // The client reaches the servers through a balancer, at A first.
    let balancer = Proxy::start(&a.url).await;
    let reader = rucksack::Sdk::new(&balancer.url, API_KEY).expect("sdk");
    reader
        .auth()
        .register(&email("scale-resumer"), PASSWORD)
        .await
        .expect("register");
    let mut live = connect(&reader).await;
    live.create_channel(UIC, "rooms", "resume").expect("send");
    let made = next_json(&mut live).await;
    let room = made["response"]["_id"].as_str().expect("id").to_owned();

    // Writes through B, half of them in the reader's channel.
    let (writer, _) = b.signed_in("scale-writer").await;
    let total = 300u64;
    let stream = tokio::spawn(async move {
        for n in 0..total {
            let body = if n.is_multiple_of(2) {
                json!({"n": n})
            } else {
                json!({"n": n, "channelType": "rooms", "channelId": room})
            };
            let _: Record<Value> = writer
                .db()
                .create_resource("ticks", &body)
                .await
                .expect("create on B");
        }
    });
    let mut seen = collect(&mut live, 60).await;
    // A goes out of the balancer; the client's connection drops and comes back
    // on C while the writes go on.
    balancer.retarget(&c.url);
    balancer.cut();
    seen.extend(collect(&mut live, (total as usize) - seen.len()).await);
    stream.await.expect("writer");
    assert_eq!(
        seen,
        (0..total).collect::<Vec<_>>(),
        "every event once, in order"
    );
    quiet(&mut live).await;
}

#[tokio::test]
async fn a_server_killed_with_sigkill_loses_no_acknowledged_write_and_its_clients_resume_elsewhere()
{
    let mut cluster = Cluster::start(3, &[]);
    let (a_url, b_url) = (
        cluster.servers[0].url.clone(),
        cluster.servers[1].url.clone(),
    );
    let balancer = Proxy::start(&b_url).await;
    let reader = rucksack::Sdk::new(&balancer.url, API_KEY).expect("sdk");
    reader
        .auth()
        .register(&email("scale-survivor"), PASSWORD)
        .await
        .expect("register");
    let mut live = connect(&reader).await;

    // Four writers hammer B until it dies; what it acknowledged is kept.
    let (writer, _) = cluster.servers[1].signed_in("scale-doomed").await;
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let writer = writer.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                let made: Result<Record<Value>, _> = writer
                    .db()
                    .create_resource("kept", &json!({"w": w, "i": i}))
                    .await;
                match made {
                    Ok(r) => acknowledged.push(r.id),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    cluster.servers[1].crash();
    // The balancer takes B out.
    balancer.retarget(&a_url);
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.expect("writer"));
    }
    assert!(
        acknowledged.len() > 20,
        "B acknowledged {}",
        acknowledged.len()
    );

    // Every acknowledged record is there, read through A.
    let mut stored = std::collections::HashSet::new();
    let mut page = 0;
    loop {
        let r = reqwest::Client::new()
            .get(format!("{a_url}/kept?pageSize=1000&offset={}", page * 1000))
            .header("authorization", format!("key {}", e2e::ADMIN_KEY))
            .send()
            .await
            .expect("read on A");
        assert_eq!(r.status().as_u16(), 200);
        let rows: Vec<Value> = r.json().await.expect("json");
        let n = rows.len();
        stored.extend(
            rows.into_iter()
                .filter_map(|r| r["_id"].as_str().map(str::to_owned)),
        );
        if n < 1000 {
            break;
        }
        page += 1;
    }
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(lost.is_empty(), "{} acknowledged writes lost", lost.len());

    // The reader, cut off with B, resumes on A and hears what is written next.
    let (after, _) = cluster.servers[2].signed_in("scale-after").await;
    for n in 0..20u64 {
        let _: Record<Value> = after
            .db()
            .create_resource("later", &json!({"n": n}))
            .await
            .expect("create on C");
    }
    let mut heard = Vec::new();
    let mut kept = std::collections::HashSet::new();
    while heard.len() < 20 {
        match next_msg(&mut live).await {
            ServerMessage::Write(ev) if ev.collection == "later" => {
                heard.push(ev.response["n"].as_u64().expect("n"))
            }
            // B's writes, each once.
            ServerMessage::Write(ev) => {
                assert_eq!(ev.collection, "kept");
                let id = ev.response["_id"].as_str().expect("id").to_owned();
                assert!(stored.contains(&id), "an event of a write not stored");
                assert!(kept.insert(id), "an event twice");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(heard, (0..20).collect::<Vec<_>>());
    // A server started after the kill joins the same app: it counts what A
    // counts. (Not `stored` itself: a write B had sent when it was killed may
    // still commit after A was read, acknowledged to nobody.)
    let d = cluster.another(&[]);
    let count = async |url: &str| -> u64 {
        let count: Value = reqwest::Client::new()
            .get(format!("{url}/kept?count=1"))
            .header("authorization", format!("key {}", e2e::ADMIN_KEY))
            .send()
            .await
            .expect("count")
            .json()
            .await
            .expect("json");
        count.as_u64().expect("a number")
    };
    let (on_a, on_d) = (count(&a_url).await, count(&d.url).await);
    assert_eq!(on_d, on_a);
    assert!(on_d >= stored.len() as u64, "{on_d} < {}", stored.len());
}
