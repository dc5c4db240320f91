//! Access rules end to end: the authorization matrix (every operation × every
//! rule × anonymous / owner / other user / admin key), and private records kept
//! from other users in queries, relations and broadcasts.

use e2e::{ADMIN_KEY, PASSWORD, Server, email};
use rucksack::query::FindQuery;
use rucksack::{CollectionConfig, Error, Record, ServerMessage, WriteAction};
use serde_json::{Value, json};
use std::time::Duration;

const RULES: [(&str, &str); 6] = [
    ("public", r#""public""#),
    ("signedin", r#""signedIn""#),
    ("owner", r#""owner""#),
    ("admin", r#""admin""#),
    ("none", r#""none""#),
    ("where", r#"{"where": "userId = @me OR public = true"}"#),
];
const OPS: [&str; 8] = [
    "find", "count", "get", "create", "update", "bulkupd", "delete", "bulkdel",
];

/// The expected outcome of every cell (shared with the Node.js suite).
const MATRIX: &str = include_str!("../data/rules-matrix.txt");

fn outcome<T>(r: Result<T, Error>, count: impl Fn(&T) -> Option<u64>) -> String {
    match r {
        Ok(v) => count(&v).map_or("ok".to_owned(), |n| n.to_string()),
        Err(e) => e.status().map_or_else(|| format!("{e}"), |s| s.to_string()),
    }
}

#[tokio::test]
async fn the_authorization_matrix_holds() {
    let server = Server::start();
    let owner_email = email("owner");
    let owner = server.sdk();
    owner
        .auth()
        .register(&owner_email, PASSWORD)
        .await
        .expect("owner");
    let other = server.sdk();
    other
        .auth()
        .register(&email("other"), PASSWORD)
        .await
        .expect("other");
    let anon = server.sdk();
    let admin = server.admin_sdk();
    // The seeder holds the admin key and the owner's session: it may create
    // anywhere, and its records belong to the owner.
    let seeder = rucksack::Sdk::new(&server.url, ADMIN_KEY).expect("seeder");
    seeder
        .auth()
        .login(&owner_email, PASSWORD)
        .await
        .expect("login");

    let mut failures = Vec::new();
    let mut cells = 0;
    for line in MATRIX
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (rule_name, actor_name, expected) = (cols[0], cols[1], &cols[2..]);
        let rule = RULES.iter().find(|(n, _)| *n == rule_name).expect("rule").1;
        let actor = match actor_name {
            "anon" => &anon,
            "owner" => &owner,
            "other" => &other,
            _ => &admin,
        };
        for (op, want) in OPS.iter().zip(expected) {
            let coll = format!("m_{rule_name}_{actor_name}_{op}");
            let config: CollectionConfig = serde_json::from_str(&format!(
                r#"{{"rules": {{"read": {rule}, "create": {rule}, "update": {rule}, "delete": {rule}}}}}"#
            ))
            .expect("config");
            admin
                .db()
                .set_collection_config(&coll, &config)
                .await
                .expect("configure");
            seeder
                .db()
                .create_resource::<Value>(&coll, &json!({"public": true, "k": "p"}))
                .await
                .expect("P");
            let q: Record<Value> = seeder
                .db()
                .create_resource(&coll, &json!({"public": false, "k": "q"}))
                .await
                .expect("Q");
            let db = actor.db();
            let got = match *op {
                "find" => outcome(db.find_with_params(&coll, &[]).await, |v| {
                    v.as_array().map(|a| a.len() as u64)
                }),
                "count" => outcome(db.count(&coll, None).await, |n| Some(*n)),
                "get" => outcome(db.get_resource::<Value>(&coll, &q.id).await, |_| None),
                "create" => outcome(
                    db.create_resource::<Value>(&coll, &json!({"public": false}))
                        .await,
                    |_| None,
                ),
                "update" => outcome(
                    db.update_resource::<Value>(&coll, &q.id, &json!({"k": "changed"}))
                        .await,
                    |_| None,
                ),
                "bulkupd" => outcome(
                    db.update_many(&coll, None, &json!({"$set": {"k": "bulk"}}))
                        .await,
                    |n| Some(*n),
                ),
                "delete" => outcome(db.delete_resource::<Value>(&coll, &q.id).await, |_| None),
                _ => outcome(db.delete_many(&coll, None).await, |n| Some(*n)),
            };
            cells += 1;
            if got != *want {
                failures.push(format!(
                    "{rule_name} × {actor_name} × {op}: got {got}, want {want}"
                ));
            }
        }
    }
    assert!(cells >= 100, "{cells} cells");
    assert!(
        failures.is_empty(),
        "{} of {cells} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn next(live: &mut rucksack::Realtime) -> Option<ServerMessage> {
    tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .ok()
        .flatten()
        .map(|m| m.expect("well-formed message"))
}

#[tokio::test]
async fn private_records_stay_private_in_relations_and_broadcasts() {
    let server = Server::start();
    let admin = server.admin_sdk();
    let private: CollectionConfig =
        serde_json::from_value(json!({"rules": {"read": "owner"}})).expect("config");
    admin
        .db()
        .set_collection_config("notes", &private)
        .await
        .expect("configure");
    let owner = server.sdk();
    owner
        .auth()
        .register(&email("o"), PASSWORD)
        .await
        .expect("owner");
    let other = server.sdk();
    other
        .auth()
        .register(&email("x"), PASSWORD)
        .await
        .expect("other");

    let mut owner_live = owner.ws().await.expect("ws");
    let mut other_live = other.ws().await.expect("ws");
    assert!(matches!(
        next(&mut owner_live).await,
        Some(ServerMessage::Connection(_))
    ));
    assert!(matches!(
        next(&mut other_live).await,
        Some(ServerMessage::Connection(_))
    ));

    let note: Record<Value> = owner
        .db()
        .create_resource("notes", &json!({"text": "secret"}))
        .await
        .expect("note");
    owner
        .db()
        .create_resource::<Value>("posts", &json!({"title": "t", "noteId": note.id}))
        .await
        .expect("post");

    // Broadcasts: the owner hears of the note; the other user only of the public post.
    match next(&mut owner_live).await {
        Some(ServerMessage::Write(w)) => {
            assert_eq!(
                (w.action, w.collection.as_str()),
                (WriteAction::Create, "notes")
            );
        }
        other => panic!("the owner should hear of the note: {other:?}"),
    }
    match next(&mut other_live).await {
        Some(ServerMessage::Write(w)) => assert_eq!(w.collection, "posts", "{w:?}"),
        other => panic!("the other user should hear of the post: {other:?}"),
    }

    // Queries and counts: nothing of the note for the other user.
    assert_eq!(other.db().count("notes", None).await.expect("count"), 0);
    let q = FindQuery::new().load("note", "noteId", "notes");
    let theirs: Vec<Value> = other.db().find_as("posts", &q).await.expect("posts");
    assert_eq!(
        theirs[0]["note"],
        Value::Null,
        "no private record by relation"
    );
    let mine: Vec<Value> = owner.db().find_as("posts", &q).await.expect("posts");
    assert_eq!(mine[0]["note"]["text"], "secret");
    // `@me` in a query means the caller.
    let own = owner
        .db()
        .find_with_params("notes", &[("where", "userId = @me")])
        .await
        .expect("@me");
    assert_eq!(own.as_array().map(Vec::len), Some(1));

    // A forged owner is refused and writes nothing.
    let e = other
        .db()
        .create_resource::<Value>("posts", &json!({"title": "x", "userId": note.user_id}))
        .await
        .expect_err("forged owner");
    assert_eq!(e.code(), Some(&rucksack::ErrorCode::SystemField));
    assert_eq!(owner.db().count("posts", None).await.expect("count"), 1);
}
