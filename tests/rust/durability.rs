//! Acknowledged writes survive a crash (SIGKILL) and a clean restart.

use e2e::{PASSWORD, Server, email};
use rucksack::Record;
use serde_json::{Value, json};

#[tokio::test]
async fn acknowledged_records_survive_a_crash_and_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let who = email("dur");
    let mut ids = Vec::new();
    {
        let mut server = Server::start_in(dir.path());
        let sdk = server.sdk();
        sdk.auth().register(&who, PASSWORD).await.expect("register");
        // Concurrent writes share group commits; every acknowledged one must survive.
        let mut tasks = Vec::new();
        for i in 0..50 {
            let sdk = sdk.clone();
            tasks.push(tokio::spawn(async move {
                sdk.db()
                    .create_resource::<Value>("journal", &json!({"n": i}))
                    .await
            }));
        }
        for t in tasks {
            ids.push(t.await.expect("join").expect("create").id);
        }
        server.crash();
    }
    let mut server = Server::start_in(dir.path());
    let sdk = server.sdk();
    let all: Vec<Record<Value>> = sdk.db().get_collection("journal").await.expect("list");
    let mut got: Vec<String> = all.into_iter().map(|r| r.id).collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    // The user and the password survive too.
    sdk.auth()
        .login(&who, PASSWORD)
        .await
        .expect("login after crash");
    let kept: Record<Value> = sdk
        .db()
        .create_resource("journal", &json!({"after": "crash"}))
        .await
        .expect("write");
    assert!(server.stop(), "clean exit on SIGTERM");

    let server = Server::start_in(dir.path());
    let again: Record<Value> = server
        .sdk()
        .db()
        .get_resource("journal", &kept.id)
        .await
        .expect("after restart");
    assert_eq!(again, kept);
}
