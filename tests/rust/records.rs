//! The eight Backpack `db` methods through the native SDK, with typed records.

use e2e::{PASSWORD, Server, email};
use rucksack::{ErrorCode, Record};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Message {
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    likes: Option<u32>,
}

#[tokio::test]
async fn create_read_update_overwrite_delete() {
    let server = Server::start();
    let sdk = server.sdk();
    let me = sdk
        .auth()
        .register(&email("crud"), PASSWORD)
        .await
        .expect("register")
        .id;

    let msg = Message {
        text: "I am a message!".into(),
        likes: Some(1),
    };
    let created: Record<Message> = sdk
        .db()
        .create_resource("messages", &msg)
        .await
        .expect("create");
    assert_eq!(created.data, msg);
    assert_eq!(created.version, 0);
    assert_eq!(created.user_id.as_deref(), Some(me.as_str()));
    assert_eq!(created.created_at, created.updated_at);
    assert!(created.created_at.ends_with('Z') && created.created_at.len() == 24);

    let got: Record<Message> = sdk
        .db()
        .get_resource("messages", &created.id)
        .await
        .expect("get");
    assert_eq!(got, created);

    let all: Vec<Record<Message>> = sdk.db().get_collection("messages").await.expect("list");
    assert_eq!(all, vec![created.clone()]);

    // updateResource merges; a null removes the field.
    let merged: Record<Value> = sdk
        .db()
        .update_resource(
            "messages",
            &created.id,
            &json!({"text": "updated", "likes": null, "extra": true}),
        )
        .await
        .expect("merge");
    assert_eq!(merged.data, json!({"text": "updated", "extra": true}));
    assert_eq!(merged.version, 1);
    assert_eq!(merged.created_at, created.created_at);

    // overwriteResource replaces every own field.
    let replaced: Record<Value> = sdk
        .db()
        .overwrite_resource("messages", &created.id, &json!({"new_key": "some value"}))
        .await
        .expect("overwrite");
    assert_eq!(replaced.data, json!({"new_key": "some value"}));
    assert_eq!(replaced.version, 2);
    assert_eq!(replaced.user_id.as_deref(), Some(me.as_str()));

    let deleted: Record<Value> = sdk
        .db()
        .delete_resource("messages", &created.id)
        .await
        .expect("delete");
    assert_eq!(deleted, replaced);
    let e = sdk
        .db()
        .get_resource::<Value>("messages", &created.id)
        .await
        .expect_err("gone");
    assert_eq!(e.code(), Some(&ErrorCode::NotFound));
    assert_eq!(e.status(), Some(404));
}

#[tokio::test]
async fn collections_are_listed_once_they_hold_records() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("coll"), PASSWORD)
        .await
        .expect("register");
    assert_eq!(
        sdk.db()
            .create_new_collection("comments")
            .await
            .expect("create"),
        "comments"
    );
    assert!(
        sdk.db()
            .get_collection_list()
            .await
            .expect("list")
            .is_empty()
    );
    let _: Record<Value> = sdk
        .db()
        .create_resource("comments", &json!({"a": 1}))
        .await
        .expect("insert");
    assert_eq!(
        sdk.db().get_collection_list().await.expect("list"),
        vec!["comments".to_owned()]
    );
    let e = sdk
        .db()
        .create_new_collection("users")
        .await
        .expect_err("reserved");
    assert!(matches!(e, rucksack::Error::InvalidArgument(_)), "{e:?}");
}

#[tokio::test]
async fn only_the_owner_changes_a_record_and_nothing_else_changes_it() {
    let server = Server::start();
    let alice = server.sdk();
    alice
        .auth()
        .register(&email("alice"), PASSWORD)
        .await
        .expect("alice");
    let bob = server.sdk();
    bob.auth()
        .register(&email("bob"), PASSWORD)
        .await
        .expect("bob");
    let rec: Record<Value> = alice
        .db()
        .create_resource("notes", &json!({"text": "mine"}))
        .await
        .expect("create");

    let e = bob
        .db()
        .update_resource::<Value>("notes", &rec.id, &json!({"text": "yours"}))
        .await
        .expect_err("patch");
    assert_eq!(e.code(), Some(&ErrorCode::Forbidden));
    let e = bob
        .db()
        .overwrite_resource::<Value>("notes", &rec.id, &json!({}))
        .await
        .expect_err("put");
    assert_eq!(e.code(), Some(&ErrorCode::Forbidden));
    let e = bob
        .db()
        .delete_resource::<Value>("notes", &rec.id)
        .await
        .expect_err("delete");
    assert_eq!(e.status(), Some(403));
    assert_eq!(e.code(), Some(&ErrorCode::Forbidden));
    // Anyone may read (the default rule), and the record is as alice left it.
    let anon = server.sdk();
    let now: Record<Value> = anon
        .db()
        .get_resource("notes", &rec.id)
        .await
        .expect("read");
    assert_eq!(now, rec);
}

#[tokio::test]
async fn a_stale_version_is_refused_so_no_update_is_lost() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("ver"), PASSWORD)
        .await
        .expect("register");
    let rec: Record<Value> = sdk
        .db()
        .create_resource("docs", &json!({"body": "v0"}))
        .await
        .expect("create");
    let _: Record<Value> = sdk
        .db()
        .update_resource("docs", &rec.id, &json!({"body": "first editor", "__v": 0}))
        .await
        .expect("first editor");
    let e = sdk
        .db()
        .update_resource::<Value>("docs", &rec.id, &json!({"body": "second editor", "__v": 0}))
        .await
        .expect_err("second editor");
    assert_eq!(e.code(), Some(&ErrorCode::VersionConflict));
    let now: Record<Value> = sdk.db().get_resource("docs", &rec.id).await.expect("get");
    assert_eq!(now.data, json!({"body": "first editor"}));
}

#[tokio::test]
async fn own_user_id_is_accepted_as_backpack_apps_send_it() {
    let server = Server::start();
    let sdk = server.sdk();
    let me = sdk
        .auth()
        .register(&email("meta"), PASSWORD)
        .await
        .expect("register")
        .id;
    let rec: Record<Value> = sdk
        .db()
        .create_resource(
            "usersmeta",
            &json!({"userId": me, "username": "Sally", "channels": []}),
        )
        .await
        .expect("own id");
    assert_eq!(rec.user_id.as_deref(), Some(me.as_str()));
    let e = sdk
        .db()
        .create_resource::<Value>("usersmeta", &json!({"userId": "someone-else"}))
        .await
        .expect_err("other id");
    assert_eq!(e.code(), Some(&ErrorCode::SystemField));
}

#[tokio::test]
async fn a_record_read_and_written_back_whole_is_accepted_unless_a_system_field_changed() {
    let server = Server::start();
    let (sdk, _) = server.signed_in("whole").await;
    let made: Record<Message> = sdk
        .db()
        .create_resource(
            "messages",
            &Message {
                text: "hi".into(),
                likes: None,
            },
        )
        .await
        .expect("create");

    // Read, change, write back the whole record: id, owner, stamps and version included.
    let mut read: Record<Message> = sdk
        .db()
        .get_resource("messages", &made.id)
        .await
        .expect("get");
    read.data.likes = Some(1);
    let put: Record<Message> = sdk
        .db()
        .overwrite_resource("messages", &read.id, &read)
        .await
        .expect("PUT of the whole record");
    assert_eq!((put.version, put.data.likes), (1, Some(1)));
    let mut read = put;
    read.data.text = "hello".into();
    let patched: Record<Message> = sdk
        .db()
        .update_resource("messages", &read.id, &read)
        .await
        .expect("PATCH of the whole record");
    assert_eq!((patched.version, patched.data.text.as_str()), (2, "hello"));
    assert_eq!(
        (&patched.id, &patched.user_id, &patched.created_at),
        (&made.id, &made.user_id, &made.created_at)
    );

    // Its version is the one expected: a copy read before the last write is stale.
    let e = sdk
        .db()
        .update_resource::<Message>("messages", &read.id, &read)
        .await
        .expect_err("stale copy");
    assert_eq!(e.code(), Some(&ErrorCode::VersionConflict));

    // A system field that differs from the stored one is refused, and nothing changes.
    for (field, value) in [
        ("_id", json!("000000000000000000000001")),
        ("createdAt", json!("2020-01-01T00:00:00.000Z")),
        ("updatedAt", json!("2020-01-01T00:00:00.000Z")),
        ("userId", json!("someone-else")),
    ] {
        let mut body = serde_json::to_value(&patched).expect("json");
        body[field] = value;
        body["text"] = json!("changed");
        let e = sdk
            .db()
            .overwrite_resource::<Value>("messages", &made.id, &body)
            .await
            .expect_err(field);
        assert_eq!(e.code(), Some(&ErrorCode::SystemField), "{field}");
        let rucksack::Error::Api { errors, .. } = &e else {
            panic!("an answer from the server")
        };
        assert!(
            errors.as_ref().is_some_and(|m| m.contains_key(field)),
            "{field}: {e}"
        );
    }
    let kept: Record<Message> = sdk
        .db()
        .get_resource("messages", &made.id)
        .await
        .expect("get");
    assert_eq!(kept, patched, "nothing written");
}
