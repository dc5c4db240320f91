//! The whole operation tree through the native SDK: bulk insert, update and
//! remove (atomic, scoped to the caller's records), whole-collection save,
//! operation switches, schemas, id generators, upserts, and configuration that
//! survives a restart.

use e2e::{Server, connect, next_msg};
use rucksack::query::Filter;
use rucksack::{
    CollectionConfig, ErrorCode, IdGenerator, NotifyAction, Record, ServerMessage, WriteAction,
};
use serde_json::{Value, json};

fn config(v: Value) -> CollectionConfig {
    serde_json::from_value(v).expect("config")
}

#[tokio::test]
async fn bulk_insert_is_all_or_nothing() {
    let server = Server::start();
    let (sdk, me) = server.signed_in("bulk").await;
    let bad = [
        json!({"a": 1}),
        json!({"a": 2, "_id": "x"}),
        json!({"a": 3}),
    ];
    let e = sdk
        .db()
        .insert_many::<Value>("items", &bad)
        .await
        .expect_err("a system field in the middle");
    assert_eq!(e.code(), Some(&ErrorCode::SystemField));
    assert_eq!(sdk.db().count("items", None).await.expect("count"), 0);

    let good: Vec<Value> = (0..50).map(|i| json!({ "i": i })).collect();
    let saved: Vec<Record<Value>> = sdk.db().insert_many("items", &good).await.expect("insert");
    assert_eq!(saved.len(), 50);
    assert!(
        saved
            .iter()
            .all(|r| r.user_id.as_deref() == Some(me.as_str()))
    );
    assert!(saved.windows(2).all(|w| w[0].id < w[1].id), "ids in order");
    assert_eq!(sdk.db().count("items", None).await.expect("count"), 50);
}

#[tokio::test]
async fn update_and_delete_many_touch_only_the_callers_matching_records() {
    let server = Server::start();
    let (alice, _) = server.signed_in("alice").await;
    let (bob, bob_id) = server.signed_in("bob").await;
    let mine: Vec<Value> = (0..10).map(|i| json!({ "i": i, "tags": ["a"] })).collect();
    alice
        .db()
        .insert_many::<Value>("t", &mine)
        .await
        .expect("alice");
    bob.db()
        .insert_many::<Value>("t", &mine)
        .await
        .expect("bob");

    let n = alice
        .db()
        .update_many(
            "t",
            Some(Filter::gte("i", 5)),
            &json!({"$inc": {"i": 100}, "$set": {"big": true}, "$push": {"tags": "b"}, "$pull": {"tags": "a"}}),
        )
        .await
        .expect("update");
    assert_eq!(n, 5);
    let changed: Vec<Record<Value>> = alice
        .db()
        .find(
            "t",
            &rucksack::query::FindQuery::new().filter(Filter::eq("big", true)),
        )
        .await
        .expect("find");
    assert_eq!(changed.len(), 5);
    assert!(
        changed
            .iter()
            .all(|r| r.version == 1 && r.data["i"].as_i64() >= Some(105))
    );
    assert!(changed.iter().all(|r| r.data["tags"] == json!(["b"])));

    // A spec that fails on one record changes none: "i" is a number, $push needs an array.
    let e = alice
        .db()
        .update_many("t", None, &json!({"$push": {"i": 1}}))
        .await
        .expect_err("push onto a number");
    assert_eq!(e.code(), Some(&ErrorCode::ValidationFailed));
    assert_eq!(
        alice
            .db()
            .count("t", Some(Filter::gte("__v", 2)))
            .await
            .expect("count"),
        0
    );

    // Unknown update operators and system fields are refused before anything is read.
    for (spec, want) in [
        (json!({"$rename": {"i": "j"}}), ErrorCode::InvalidBody),
        (json!({"$set": {"userId": "x"}}), ErrorCode::SystemField),
        (json!({}), ErrorCode::InvalidBody),
    ] {
        let e = alice
            .db()
            .update_many("t", None, &spec)
            .await
            .expect_err("refused");
        assert_eq!(e.code(), Some(&want), "{spec}: {e}");
    }

    let gone = alice
        .db()
        .delete_many("t", Some(Filter::lt("i", 3)))
        .await
        .expect("delete");
    assert_eq!(gone, 3);
    assert_eq!(
        alice.db().count("t", None).await.expect("count"),
        17,
        "bob's 10 stay"
    );
    assert_eq!(
        bob.db()
            .count(
                "t",
                Some(Filter::eq("big", true).and(Filter::eq("userId", bob_id.as_str())))
            )
            .await
            .expect("count"),
        0,
        "bob's records were not updated"
    );
    // Anonymous bulk writes are refused.
    let anon = server.sdk();
    let e = anon
        .db()
        .delete_many("t", None)
        .await
        .expect_err("anonymous");
    assert_eq!(e.code(), Some(&ErrorCode::Unauthenticated));
    // The admin key reaches every record.
    let all = server
        .admin_sdk()
        .db()
        .delete_many("t", None)
        .await
        .expect("admin");
    assert_eq!(all, 17);
}

#[tokio::test]
async fn switches_schema_ids_and_upserts() {
    let server = Server::start();
    let admin = server.admin_sdk();
    let (sdk, me) = server.signed_in("cfg").await;

    // Only the admin key configures.
    let e = sdk
        .db()
        .set_collection_config("posts", &CollectionConfig::default())
        .await
        .expect_err("not admin");
    assert_eq!(e.code(), Some(&ErrorCode::Forbidden));
    let e = admin
        .db()
        .set_collection_config("posts", &config(json!({"operations": {"delete": true}})))
        .await
        .expect_err("unknown operation");
    assert_eq!(e.code(), Some(&ErrorCode::ValidationFailed));
    let e = admin
        .db()
        .set_collection_config("posts", &config(json!({"schema": {"type": 5}})))
        .await
        .expect_err("bad schema");
    assert_eq!(e.code(), Some(&ErrorCode::ValidationFailed));

    admin
        .db()
        .set_collection_config(
            "posts",
            &config(json!({
                "properties": {"title": {"type": "String", "required": true}, "likes": {"type": "Number"}},
                "operations": {"remove": false, "removeObject": false},
                "idGenerator": "uuidv7",
                "upsert": true
            })),
        )
        .await
        .expect("configure");

    // Schema: per-field errors, nothing written.
    let e = sdk
        .db()
        .create_resource::<Value>("posts", &json!({"likes": "many"}))
        .await
        .expect_err("invalid");
    assert_eq!(e.code(), Some(&ErrorCode::ValidationFailed));
    let rucksack::Error::Api {
        errors: Some(errors),
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(
        errors.contains_key("likes") && errors.contains_key("title"),
        "{errors:?}"
    );
    assert_eq!(sdk.db().count("posts", None).await.expect("count"), 0);

    // UUIDv7 ids.
    let p: Record<Value> = sdk
        .db()
        .create_resource("posts", &json!({"title": "Hi", "likes": 1}))
        .await
        .expect("create");
    assert_eq!(p.id.len(), 36);
    assert_eq!(p.id.as_bytes()[14], b'7', "version 7: {}", p.id);

    // A merge that would break the schema is refused and changes nothing.
    let e = sdk
        .db()
        .update_resource::<Value>("posts", &p.id, &json!({"title": null}))
        .await
        .expect_err("title is required");
    assert_eq!(e.code(), Some(&ErrorCode::ValidationFailed));
    let again: Record<Value> = sdk.db().get_resource("posts", &p.id).await.expect("get");
    assert_eq!(again.version, 0);

    // Switched-off operations answer 405 operation_disabled; save is off by default.
    let e = sdk
        .db()
        .delete_resource::<Value>("posts", &p.id)
        .await
        .expect_err("removeObject is off");
    assert_eq!(e.code(), Some(&ErrorCode::OperationDisabled));
    assert_eq!(e.status(), Some(405));
    let e = admin
        .db()
        .save_collection::<Value>("posts", &[json!({"title": "x"})])
        .await
        .expect_err("save is off");
    assert_eq!(e.code(), Some(&ErrorCode::OperationDisabled));

    // Upserts: PUT on a free id creates it (201), then replaces it.
    let up: Record<Value> = sdk
        .db()
        .overwrite_resource("posts", "my-post", &json!({"title": "Mine"}))
        .await
        .expect("upsert");
    assert_eq!((up.id.as_str(), up.version), ("my-post", 0));
    assert_eq!(up.user_id.as_deref(), Some(me.as_str()));
    let up: Record<Value> = sdk
        .db()
        .overwrite_resource("posts", "my-post", &json!({"title": "Mine 2"}))
        .await
        .expect("replace");
    assert_eq!(up.version, 1);
    // A client id on create, where upserts are on; taken ids are 409 id_taken.
    let c: Record<Value> = sdk
        .db()
        .create_resource("posts", &json!({"_id": "given", "title": "G"}))
        .await
        .expect("client id");
    assert_eq!(c.id, "given");
    let e = sdk
        .db()
        .create_resource::<Value>("posts", &json!({"_id": "given", "title": "G"}))
        .await
        .expect_err("taken");
    assert_eq!(e.code(), Some(&ErrorCode::IdTaken));

    // Without upserts, PUT on a free id is 404 and a client id is a system field.
    let e = sdk
        .db()
        .overwrite_resource::<Value>("plain", "nope", &json!({"a": 1}))
        .await
        .expect_err("no upsert");
    assert_eq!(e.code(), Some(&ErrorCode::NotFound));

    // The configuration survives a restart.
    let dir = server.data_dir.clone();
    drop(admin);
    let mut server = server;
    assert!(server.stop());
    let server2 = Server::start_in(&dir);
    let cfg = server2
        .admin_sdk()
        .db()
        .collection_config("posts")
        .await
        .expect("config");
    assert_eq!(cfg.id_generator, IdGenerator::Uuidv7);
    assert!(cfg.upsert);
}

#[tokio::test]
async fn save_replaces_the_whole_collection_when_switched_on() {
    let server = Server::start();
    let admin = server.admin_sdk();
    let (sdk, _) = server.signed_in("save").await;
    sdk.db()
        .insert_many::<Value>("cfg", &[json!({"a": 1}), json!({"a": 2})])
        .await
        .expect("seed");
    admin
        .db()
        .set_collection_config("cfg", &config(json!({"operations": {"save": true}})))
        .await
        .expect("switch on");
    let e = sdk
        .db()
        .save_collection::<Value>("cfg", &[json!({"a": 3})])
        .await
        .expect_err("needs the admin key");
    assert_eq!(e.code(), Some(&ErrorCode::Forbidden));
    let before: Vec<Record<Value>> = sdk.db().get_collection("cfg").await.expect("list");
    let mut old_ids: Vec<String> = before.into_iter().map(|r| r.id).collect();
    old_ids.sort();
    let mut live = connect(&server.sdk()).await;
    let mut notified = connect(&server.sdk()).await;
    notified.subscribe_notifications(None).expect("send");
    next_msg(&mut notified).await;
    let saved: Vec<Record<Value>> = admin
        .db()
        .save_collection("cfg", &[json!({"_id": "one", "a": 3}), json!({"a": 4})])
        .await
        .expect("save");
    assert_eq!(saved.len(), 2);
    assert_eq!(saved[0].id, "one");
    let new_ids: Vec<String> = saved.iter().map(|r| r.id.clone()).collect();

    // A save is broadcast as every write is: each removed record, then each new one.
    let mut events = Vec::new();
    for _ in 0..4 {
        let ServerMessage::Write(ev) = next_msg(&mut live).await else {
            panic!("a write event")
        };
        assert_eq!(ev.collection, "cfg");
        let id = ev.response["_id"].as_str().expect("an id").to_owned();
        events.push((ev.action, id));
    }
    let mut deleted: Vec<String> = events[..2]
        .iter()
        .map(|(a, id)| {
            assert_eq!(*a, WriteAction::Delete);
            id.clone()
        })
        .collect();
    deleted.sort();
    assert_eq!(deleted, old_ids, "the removed records");
    let created: Vec<(WriteAction, String)> = events[2..].to_vec();
    assert_eq!(
        created,
        new_ids
            .iter()
            .map(|id| (WriteAction::Create, id.clone()))
            .collect::<Vec<_>>(),
        "the new records"
    );
    // SmartNgRX clients hear of it too.
    let ServerMessage::Notification(gone) = next_msg(&mut notified).await else {
        panic!("a notification")
    };
    let mut gone_ids = gone.ids.clone();
    gone_ids.sort();
    assert_eq!(
        (gone.action, gone.table.as_str(), gone_ids),
        (NotifyAction::Delete, "cfg", old_ids)
    );
    let ServerMessage::Notification(made) = next_msg(&mut notified).await else {
        panic!("a notification")
    };
    assert_eq!(
        (made.action, made.table.as_str(), made.ids),
        (NotifyAction::Update, "cfg", new_ids)
    );
    let all: Vec<Record<Value>> = sdk.db().get_collection("cfg").await.expect("list");
    let values: Vec<&Value> = all.iter().map(|r| &r.data["a"]).collect();
    assert_eq!(values.len(), 2);
    assert!(values.contains(&&json!(3)) && values.contains(&&json!(4)));
}

#[tokio::test]
async fn save_refuses_a_collection_larger_than_a_bulk_write_and_keeps_it() {
    let server = Server::start();
    let admin = server.admin_sdk();
    admin
        .db()
        .set_collection_config("big", &config(json!({"operations": {"save": true}})))
        .await
        .expect("switch on");
    let (sdk, _) = server.signed_in("big").await;
    let chunk: Vec<Value> = (0..1000).map(|i| json!({ "i": i })).collect();
    for _ in 0..10 {
        sdk.db()
            .insert_many::<Value>("big", &chunk)
            .await
            .expect("seed");
    }
    // 10,000 records are replaced whole; one more is past the bulk limit.
    let _: Vec<Record<Value>> = admin
        .db()
        .save_collection("big", &chunk)
        .await
        .expect("at the limit");
    for _ in 0..9 {
        sdk.db()
            .insert_many::<Value>("big", &chunk)
            .await
            .expect("seed");
    }
    sdk.db()
        .insert_many::<Value>("big", &[json!({"i": -1})])
        .await
        .expect("one more");
    let e = admin
        .db()
        .save_collection::<Value>("big", &[json!({"i": 0})])
        .await
        .expect_err("past the limit");
    assert_eq!(e.code(), Some(&ErrorCode::InvalidBody), "{e}");
    assert_eq!(sdk.db().count("big", None).await.expect("count"), 10_001);
}

#[tokio::test]
async fn a_patch_with_operators_applies_them_as_carbonds_update_object() {
    let server = Server::start();
    let (sdk, _) = server.signed_in("spec").await;
    let rec: Record<Value> = sdk
        .db()
        .create_resource("specs", &json!({"a": 1, "n": 1, "tags": ["x"]}))
        .await
        .expect("create");
    let updated: Record<Value> = sdk
        .db()
        .update_resource(
            "specs",
            &rec.id,
            &json!({"$set": {"a": 2}, "$inc": {"n": 5}, "$push": {"tags": "y"}}),
        )
        .await
        .expect("an update spec");
    assert_eq!(
        (&updated.data, updated.version),
        (&json!({"a": 2, "n": 6, "tags": ["x", "y"]}), 1)
    );
    // A spec that cannot apply, or a field named like an operator, writes nothing.
    for (body, code) in [
        (json!({"$inc": {"a": "one"}}), ErrorCode::InvalidBody),
        (json!({"$set": {"a": 3}, "b": 1}), ErrorCode::InvalidBody),
        (json!({"$nope": {"a": 3}}), ErrorCode::InvalidBody),
        (json!({"$set": {"_id": "x"}}), ErrorCode::SystemField),
    ] {
        let e = sdk
            .db()
            .update_resource::<Value>("specs", &rec.id, &body)
            .await
            .expect_err("refused");
        assert_eq!(e.code(), Some(&code), "{body}: {e}");
    }
    for body in [json!({"$set": {"a": 3}}), json!({"a": {"b": 1}, "$x": 1})] {
        let e = sdk
            .db()
            .create_resource::<Value>("specs", &body)
            .await
            .expect_err("no '$' field");
        assert_eq!(e.code(), Some(&ErrorCode::InvalidBody), "{body}: {e}");
        let e = sdk
            .db()
            .overwrite_resource::<Value>("specs", &rec.id, &body)
            .await
            .expect_err("no '$' field");
        assert_eq!(e.code(), Some(&ErrorCode::InvalidBody), "{body}: {e}");
    }
    let kept: Record<Value> = sdk.db().get_resource("specs", &rec.id).await.expect("get");
    assert_eq!(kept, updated, "nothing written");
}

#[tokio::test]
async fn carbonds_query_parameter_names_mean_what_carbond_says() {
    use e2e::raw::{call, json as answer};
    let server = Server::start();
    let (sdk, _) = server.signed_in("carbond").await;
    let rows: Vec<Value> = (0..5).map(|i| json!({"i": i, "odd": i % 2 == 1})).collect();
    sdk.db()
        .insert_many::<Value>("rows", &rows)
        .await
        .expect("seed");
    let enc = |s: &str| {
        s.replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
    };
    let path = format!(
        "/rows?query={}&sort={}&projection={}&skip=1&limit=2",
        enc(r#"{"odd":false}"#),
        enc(r#"{"i":-1}"#),
        enc(r#"{"i":1}"#),
    );
    let page = answer(call(&server, reqwest::Method::GET, &path)).await;
    assert_eq!(
        page,
        json!([{"i": 2}, {"i": 0}]),
        "even rows, i descending, after the first"
    );
    // A reserved name misspelt, or an operator, is an error, never a field to match.
    for bad in ["/rows?sortby=i", "/rows?Limit=2", "/rows?$where=1"] {
        let e = answer(call(&server, reqwest::Method::GET, bad)).await;
        assert_eq!(e["code"], "invalid_query", "{bad}: {e}");
    }
}

#[tokio::test]
async fn carbonds_enabled_switches_insert_and_insert_object_apart() {
    let server = Server::start();
    let admin = server.admin_sdk();
    let (sdk, _) = server.signed_in("enabled").await;
    admin
        .db()
        .set_collection_config(
            "one",
            &config(json!({"enabled": {"insert": false, "insertObject": true}})),
        )
        .await
        .expect("Carbond's spelling");
    let _: Record<Value> = sdk
        .db()
        .create_resource("one", &json!({"a": 1}))
        .await
        .expect("insertObject is on");
    let e = sdk
        .db()
        .insert_many::<Value>("one", &[json!({"a": 2})])
        .await
        .expect_err("insert is off");
    assert_eq!(e.code(), Some(&ErrorCode::OperationDisabled));
    admin
        .db()
        .set_collection_config("none", &config(json!({"enabled": {"insert": false}})))
        .await
        .expect("configure");
    let e = sdk
        .db()
        .create_resource::<Value>("none", &json!({"a": 1}))
        .await
        .expect_err("insertObject follows insert");
    assert_eq!(e.code(), Some(&ErrorCode::OperationDisabled));
    let read = admin.db().collection_config("one").await.expect("config");
    assert_eq!(read.operations.get("insertObject"), Some(&true));
}

#[tokio::test]
async fn a_bulk_update_upserts_where_the_collection_allows_it() {
    use e2e::raw::{call, json as answer};
    let server = Server::start();
    let admin = server.admin_sdk();
    let (sdk, _) = server.signed_in("reader").await;
    let enc = |s: &str| {
        s.replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
    };
    let patch = |token: &str, query: &str| {
        call(
            &server,
            reqwest::Method::PATCH,
            &format!("/stock?query={}", enc(query)),
        )
        .header("x-authorization", token.to_owned())
        .json(&json!({"$inc": {"count": 5}}))
    };
    let first = r#"{"sku":"a1","shelf":{"$gt":0}}"#;
    let (me, token) = e2e::raw::user(&server, "upserter").await;
    // Without upserts: nothing matches, nothing is made.
    assert_eq!(
        answer(patch(&token, first)).await,
        json!({"n": 0, "val": 0})
    );
    admin
        .db()
        .set_collection_config("stock", &config(json!({"upsert": true})))
        .await
        .expect("configure");
    let r = patch(&token, first).send().await.expect("send");
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"n": 1, "val": 1, "created": true})
    );
    let made: Vec<Record<Value>> = sdk.db().get_collection("stock").await.expect("list");
    assert_eq!(made.len(), 1);
    // The filter's equalities, then the spec; not its other conditions.
    assert_eq!(made[0].data, json!({"sku": "a1", "count": 5}));
    assert_eq!(
        made[0].user_id.as_deref(),
        Some(me.as_str()),
        "the caller's"
    );
    // Now a filter matches it: an update, not another record.
    assert_eq!(
        answer(patch(&token, r#"{"sku":"a1"}"#)).await,
        json!({"n": 1, "val": 1})
    );
    let again: Vec<Record<Value>> = sdk.db().get_collection("stock").await.expect("list");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].data["count"], 10);
    // System fields in the filter: an _id names the new record, the owner is the caller's.
    let r = patch(
        &token,
        r#"{"_id":"stock-b2","userId":"someone","sku":"b2"}"#,
    )
    .send()
    .await
    .expect("send");
    assert_eq!(r.status(), 201);
    let made: Record<Value> = sdk
        .db()
        .get_resource("stock", "stock-b2")
        .await
        .expect("named by the filter's _id");
    assert_eq!(made.user_id.as_deref(), Some(me.as_str()));
    assert_eq!(made.data, json!({"sku": "b2", "count": 5}));
}

#[tokio::test]
async fn a_deployd_date_property_must_hold_a_date() {
    let server = Server::start();
    let admin = server.admin_sdk();
    let (sdk, _) = server.signed_in("dates").await;
    admin
        .db()
        .set_collection_config(
            "events",
            &config(json!({"properties": {"at": {"type": "Date", "required": true}}})),
        )
        .await
        .expect("configure");
    let ok: Record<Value> = sdk
        .db()
        .create_resource("events", &json!({"at": "2026-12-04T12:00:00.000Z"}))
        .await
        .expect("a date and time");
    for bad in [json!("tomorrow"), json!("2026-13-40T25:00:00Z"), json!(42)] {
        let e = sdk
            .db()
            .create_resource::<Value>("events", &json!({ "at": bad }))
            .await
            .expect_err("not a date");
        assert_eq!(e.code(), Some(&ErrorCode::ValidationFailed), "{bad}: {e}");
        let e = sdk
            .db()
            .update_resource::<Value>("events", &ok.id, &json!({ "at": bad }))
            .await
            .expect_err("not a date");
        assert_eq!(e.code(), Some(&ErrorCode::ValidationFailed), "{bad}: {e}");
    }
}

#[tokio::test]
async fn an_update_spec_over_a_socket_applies_as_over_http() {
    let server = Server::start();
    let (sdk, _) = server.signed_in("socket-spec").await;
    let rec: Record<Value> = sdk
        .db()
        .create_resource("counters", &json!({"n": 1}))
        .await
        .expect("create");
    let mut live = connect(&sdk).await;
    live.update_resource(
        "counters",
        &rec.id,
        json!({"$inc": {"n": 2}, "$set": {"by": "socket"}}),
    )
    .expect("send");
    // With a bus shared by processes, the create's own event may still reach a
    // socket opened after it was acknowledged.
    let ev = loop {
        match next_msg(&mut live).await {
            ServerMessage::Write(ev) if ev.action == WriteAction::Create => continue,
            ServerMessage::Write(ev) => break ev,
            other => panic!("the answer, not {other:?}"),
        }
    };
    assert_eq!(ev.action, WriteAction::Patch);
    assert_eq!(
        (&ev.response["n"], &ev.response["by"], &ev.response["__v"]),
        (&json!(3), &json!("socket"), &json!(1))
    );
    live.update_resource("counters", &rec.id, json!({"$inc": {"by": 1}}))
        .expect("send");
    // The create's event may still arrive late on a shared bus.
    let e = loop {
        match next_msg(&mut live).await {
            ServerMessage::Write(ev) if ev.action == WriteAction::Create => continue,
            ServerMessage::Error(e) => break e,
            other => panic!("a spec that cannot apply, not {other:?}"),
        }
    };
    assert_eq!(e.code, ErrorCode::ValidationFailed, "$inc of a string");
}

#[tokio::test]
async fn carbond_return_options_answer_the_removed_and_upserted_records() {
    use e2e::raw;
    let server = Server::start();
    raw::configure(
        &server,
        "kept",
        json!({
            "upsert": true,
            "returnsRemovedObjects": true,
            "returnsUpsertedObjects": true,
            "events": {"get": "hide('secret');"}
        }),
    )
    .await;
    let (sdk, me) = server.signed_in("returns").await;
    let (_, token) = raw::user(&server, "returns-raw").await;
    for i in 0..3 {
        raw::create(&server, &token, "kept", json!({"i": i, "secret": "s"})).await;
    }
    // An upserting update answers the record it made, as a read shows it.
    let up = raw::json(
        raw::call(&server, reqwest::Method::PATCH, "/kept?slug=new-one")
            .header("x-authorization", &token)
            .json(&json!({"$set": {"secret": "s", "n": 1}})),
    )
    .await;
    assert_eq!(
        (up["n"].clone(), up["created"].clone()),
        (json!(1), json!(true))
    );
    let made = &up["val"][0];
    assert_eq!(
        (made["slug"].clone(), made["n"].clone()),
        (json!("new-one"), json!(1))
    );
    assert!(
        made["_id"].is_string() && made.get("secret").is_none(),
        "{up}"
    );
    // A remove answers what it removed, as it was, each through On GET.
    let gone = raw::json(
        raw::call(
            &server,
            reqwest::Method::DELETE,
            "/kept?where=i%20%3E%3D%201",
        )
        .header("x-authorization", &token),
    )
    .await;
    assert_eq!(gone["n"], json!(2), "{gone}");
    let mut removed: Vec<i64> = gone["val"]
        .as_array()
        .expect("the removed records")
        .iter()
        .map(|r| {
            assert!(r.get("secret").is_none() && r["__v"] == json!(0), "{r}");
            r["i"].as_i64().expect("i")
        })
        .collect();
    removed.sort_unstable();
    assert_eq!(removed, [1, 2]);
    // The SDKs still read the count from the same answers.
    sdk.db()
        .create_resource::<Value>("kept", &json!({"mine": true}))
        .await
        .expect("create");
    let n = sdk
        .db()
        .delete_many("kept", None)
        .await
        .expect("delete_many");
    assert_eq!(n, 1, "only the caller's own records: {me}");
    // Without the options, the answers are counts.
    raw::create(&server, &token, "plain", json!({"i": 1})).await;
    let counted = raw::json(
        raw::call(&server, reqwest::Method::DELETE, "/plain").header("x-authorization", &token),
    )
    .await;
    assert_eq!(counted, json!({"n": 1, "val": 1}));
}

#[tokio::test]
async fn a_post_at_a_records_url_updates_it_as_deployd_says() {
    use e2e::raw;
    let server = Server::start();
    let (_, token) = raw::user(&server, "deployd-post").await;
    let made = raw::create(&server, &token, "people", json!({"name": "Joe", "age": 30})).await;
    let id = made["_id"].as_str().expect("id");
    let updated = raw::json(
        raw::call(&server, reqwest::Method::POST, &format!("/people/{id}"))
            .header("x-authorization", &token)
            .json(&json!({"age": 31})),
    )
    .await;
    assert_eq!(
        (&updated["name"], &updated["age"], &updated["__v"]),
        (&json!("Joe"), &json!(31), &json!(1)),
        "only the properties sent change: {updated}"
    );
    // Another user's record is refused as a PATCH would be.
    let (_, other) = raw::user(&server, "deployd-post-other").await;
    let status = raw::status(
        raw::call(&server, reqwest::Method::POST, &format!("/people/{id}"))
            .json(&json!({"age": 1})),
        &other,
    )
    .await;
    assert_eq!(status, 403);
}
