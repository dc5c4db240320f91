//! Collection event scripts: every example of the Deployd document's "Collection
//! Event Handlers" section, verbatim, with the answers it shows; limits; errors.

use e2e::Server;
use rucksack::query::Filter;
use rucksack::{CollectionConfig, Error, ErrorCode, Record, ServerMessage};
use serde_json::{Value, json};
use std::time::Duration;

async fn configure(server: &Server, coll: &str, config: Value) {
    let config: CollectionConfig = serde_json::from_value(config).expect("config");
    server
        .admin_sdk()
        .db()
        .set_collection_config(coll, &config)
        .await
        .expect("configure");
}

fn api(
    e: &Error,
) -> (
    u16,
    ErrorCode,
    String,
    Option<serde_json::Map<String, Value>>,
) {
    match e {
        Error::Api {
            status,
            code,
            message,
            errors,
        } => (
            *status,
            code.clone(),
            message.clone(),
            errors.clone().map(|b| *b),
        ),
        other => panic!("not an answer: {other:?}"),
    }
}

#[tokio::test]
async fn the_documents_examples_give_the_documents_answers() {
    let server = Server::start();
    let (alice, alice_id) = server.signed_in("alice").await;
    let (bob, _) = server.signed_in("bob").await;

    // On POST: this.dateCreated = new Date();  and  this.creator = me._id;
    // On Validate: this.totalScore = this.level1Points + this.level2Points;
    configure(
        &server,
        "scores",
        json!({"events": {
            "post": "this.dateCreated = new Date();\nthis.creator = me._id;",
            "validate": "this.totalScore = this.level1Points + this.level2Points;"
        }}),
    )
    .await;
    let r: Record<Value> = alice
        .db()
        .create_resource("scores", &json!({"level1Points": 3, "level2Points": 4}))
        .await
        .expect("create");
    assert_eq!(r.data["totalScore"], 7);
    assert_eq!(r.data["creator"], json!(alice_id));
    assert!(
        r.data["dateCreated"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z'))
    );

    // On DELETE: cancel('This post is protected and cannot be deleted') -> 400 {message}.
    // On PUT: cancel("You cannot edit this post because it is not yours!", 401).
    // On Get: hide('lastName'); hide('age') for other readers.
    // On Put: protect('createdDate').
    configure(
        &server,
        "posts",
        json!({
            "rules": {"update": "signedIn", "delete": "signedIn"},
            "events": {
                "delete": "if (this.protected) {\n  cancel('This post is protected and cannot be deleted');\n}",
                "put": "protect('createdDate');\nif (this.creator !== me._id) {\n  cancel(\"You cannot edit this post because it is not yours!\", 401);\n}",
                "get": "if (this.creator !== me._id) {\n  hide('lastName');\n  hide('age');\n}",
                "post": "this.creator = me._id;"
            }
        }),
    )
    .await;
    let post: Record<Value> = alice
        .db()
        .create_resource(
            "posts",
            &json!({"title": "t", "protected": true, "lastName": "Smith", "age": 40, "createdDate": "2020-01-01"}),
        )
        .await
        .expect("post");
    let e = alice
        .db()
        .delete_resource::<Value>("posts", &post.id)
        .await
        .expect_err("protected");
    let (status, code, message, _) = api(&e);
    assert_eq!((status, code), (400, ErrorCode::Cancelled));
    assert_eq!(message, "This post is protected and cannot be deleted");

    let e = bob
        .db()
        .update_resource::<Value>("posts", &post.id, &json!({"title": "mine now"}))
        .await
        .expect_err("not yours");
    let (status, _, message, _) = api(&e);
    assert_eq!(status, 401);
    assert_eq!(
        message,
        "You cannot edit this post because it is not yours!"
    );

    let edited: Record<Value> = alice
        .db()
        .update_resource(
            "posts",
            &post.id,
            &json!({"title": "edited", "createdDate": "2099-01-01"}),
        )
        .await
        .expect("owner edits");
    assert_eq!(edited.data["title"], "edited");
    assert_eq!(edited.data["createdDate"], "2020-01-01", "protected");

    let seen_by_bob: Value = bob
        .db()
        .get_resource::<Value>("posts", &post.id)
        .await
        .expect("get")
        .data;
    assert!(seen_by_bob.get("lastName").is_none() && seen_by_bob.get("age").is_none());
    let seen_by_alice = alice
        .db()
        .get_resource::<Value>("posts", &post.id)
        .await
        .expect("get")
        .data;
    assert_eq!(seen_by_alice["lastName"], "Smith");
    let list = bob.db().find_with_params("posts", &[]).await.expect("list");
    assert!(list[0].get("age").is_none(), "hidden in lists too");

    // On Validate: error('age', 'must be older than 18') -> 400 {errors: {age: ...}}.
    configure(
        &server,
        "people",
        json!({"events": {"validate": "if (this.age < 18) {\n  error('age', 'must be older than 18')\n}"}}),
    )
    .await;
    let e = alice
        .db()
        .create_resource::<Value>(
            "people",
            &json!({"firstName": "Joe", "lastName": "Smith", "age": 12}),
        )
        .await
        .expect_err("too young");
    let (status, code, _, errors) = api(&e);
    assert_eq!((status, code), (400, ErrorCode::ValidationFailed));
    assert_eq!(
        errors,
        json!({"age": "must be older than 18"}).as_object().cloned()
    );
    assert_eq!(
        alice.db().count("people", None).await.expect("count"),
        0,
        "nothing written"
    );

    // The querystring filtering of the document: GET /people?firstName=Joe&lastName=Smith.
    for (f, l, a) in [("Joe", "Smith", 23), ("John", "Doe", 36)] {
        alice
            .db()
            .create_resource::<Value>("people", &json!({"firstName": f, "lastName": l, "age": a}))
            .await
            .expect("person");
    }
    let joe = alice
        .db()
        .find_with_params("people", &[("firstName", "Joe"), ("lastName", "Smith")])
        .await
        .expect("filter");
    assert_eq!(joe.as_array().map(Vec::len), Some(1));
    assert_eq!(joe[0]["age"], 23);
}

#[tokio::test]
async fn broken_scripts_and_limits_write_nothing() {
    let server = Server::start_with(&["--script-timeout-ms", "50"]);
    let (sdk, _) = server.signed_in("lim").await;
    for (coll, src, expect) in [
        ("loops", "while (true) {}", "time limit"),
        (
            "bombs",
            "var a = []; for (;;) a.push(new Array(1e5).fill(7));",
            "memory",
        ),
        ("throws", "var x = 1;\nundefinedFunction();", "line 2"),
    ] {
        configure(&server, coll, json!({"events": {"validate": src}})).await;
        let e = sdk
            .db()
            .create_resource::<Value>(coll, &json!({"a": 1}))
            .await
            .expect_err(coll);
        let (status, code, message, _) = api(&e);
        assert_eq!((status, code), (500, ErrorCode::ScriptError), "{message}");
        assert!(
            message.contains(coll) && message.contains("On Validate"),
            "{message}"
        );
        assert!(
            message.contains(expect) || (expect == "memory" && message.contains("time limit")),
            "{message}"
        );
        assert_eq!(sdk.db().count(coll, None).await.expect("count"), 0);
    }
    // A script that does not compile is refused when configured, naming the event.
    let config: CollectionConfig =
        serde_json::from_value(json!({"events": {"post": "this.x = ;"}})).expect("config");
    let e = server
        .admin_sdk()
        .db()
        .set_collection_config("bad", &config)
        .await
        .expect_err("syntax error");
    let (_, code, _, errors) = api(&e);
    assert_eq!(code, ErrorCode::ValidationFailed);
    assert!(errors.is_some_and(|m| m.contains_key("events.post")));
}

/// Bulk PATCH and DELETE run the scripts of each record they touch, as single
/// writes would, and write all the records or none.
#[tokio::test]
async fn bulk_writes_run_each_records_scripts_all_or_nothing() {
    let server = Server::start();
    let (alice, alice_email, _) = server.registered("alice").await;
    configure(
        &server,
        "tasks",
        json!({"events": {
            "validate": "if (this.n > 2) error('n', 'too big');",
            "put": "this.bumped = (previous.bumped || 0) + 1; if (changed('done')) this.doneBy = me.email;",
            "delete": "if (this.locked) cancel('locked', 403); emit('gone', this.n);"
        }}),
    )
    .await;
    for n in 0..3 {
        let _: Record<Value> = alice
            .db()
            .create_resource("tasks", &json!({"n": n, "locked": n == 2}))
            .await
            .expect("create");
    }
    let all = || async {
        let mut v = alice
            .db()
            .find_with_params("tasks", &[("sortBy", "n")])
            .await
            .expect("list");
        std::mem::take(v.as_array_mut().expect("records"))
    };
    let n = alice
        .db()
        .update_many("tasks", None, &json!({"$set": {"done": true}}))
        .await
        .expect("bulk update");
    assert_eq!(n, 3);
    for r in all().await {
        assert_eq!(
            (&r["bumped"], &r["doneBy"]),
            (&json!(1), &json!(alice_email)),
            "{r}"
        );
    }
    // One record's Validate refuses: nothing is written.
    let e = alice
        .db()
        .update_many("tasks", None, &json!({"$inc": {"n": 1}}))
        .await
        .expect_err("n would pass 2");
    let (status, code, _, errors) = api(&e);
    assert_eq!((status, code), (400, ErrorCode::ValidationFailed));
    assert!(errors.is_some_and(|m| m.contains_key("2.n")), "{e:?}");
    let ns: Vec<Value> = all().await.iter().map(|r| r["n"].clone()).collect();
    assert_eq!(ns, [json!(0), json!(1), json!(2)]);
    // One record's On DELETE cancels: nothing is deleted, nothing emitted.
    let mut live = alice.ws().await.expect("ws");
    assert!(matches!(
        next(&mut live).await,
        ServerMessage::Connection(_)
    ));
    let e = alice
        .db()
        .delete_many("tasks", None)
        .await
        .expect_err("a locked task");
    assert_eq!(api(&e).0, 403);
    assert_eq!(all().await.len(), 3);
    let gone = alice
        .db()
        .delete_many("tasks", Some(Filter::eq("locked", false)))
        .await
        .expect("the unlocked ones");
    assert_eq!(gone, 2);
    assert_eq!(all().await.len(), 1);
    let mut emitted = Vec::new();
    while emitted.len() < 2 {
        let v = e2e::next_json(&mut live).await;
        if v["action"] == "gone" {
            emitted.push(v["data"].clone());
        }
    }
    emitted.sort_by_key(|v| v.as_i64());
    assert_eq!(emitted, [json!(0), json!(1)]);
}

async fn next(live: &mut rucksack::Realtime) -> ServerMessage {
    tokio::time::timeout(Duration::from_secs(5), live.next())
        .await
        .expect("a message")
        .expect("open")
        .expect("well-formed")
}

#[tokio::test]
async fn hidden_properties_stay_hidden_in_broadcasts() {
    let server = Server::start();
    configure(
        &server,
        "cards",
        json!({"events": {"get": "if (!me || this.userId !== me._id) { hide('secret'); }"}}),
    )
    .await;
    let (owner, _) = server.signed_in("owner").await;
    let (other, _) = server.signed_in("other").await;
    let mut mine = owner.ws().await.expect("ws");
    let mut theirs = other.ws().await.expect("ws");
    assert!(matches!(
        next(&mut mine).await,
        ServerMessage::Connection(_)
    ));
    assert!(matches!(
        next(&mut theirs).await,
        ServerMessage::Connection(_)
    ));
    owner
        .db()
        .create_resource::<Value>("cards", &json!({"secret": "42", "title": "t"}))
        .await
        .expect("create");
    let ServerMessage::Write(w) = next(&mut mine).await else {
        panic!("a write")
    };
    assert_eq!(w.response["secret"], "42");
    let ServerMessage::Write(w) = next(&mut theirs).await else {
        panic!("a write")
    };
    assert!(w.response.get("secret").is_none(), "{:?}", w.response);
    assert_eq!(w.response["title"], "t");
}

#[tokio::test]
async fn scripted_writes_keep_every_field_the_client_sent() {
    let server = Server::start();
    let (sdk, _) = server.signed_in("keeper").await;
    configure(
        &server,
        "kept",
        json!({
            "rules": {"update": "signedIn"},
            "events": {"validate": "this.checked = (this.checked || 0) + 1;", "put": "this.big = this.big * 2;"}
        }),
    )
    .await;
    // A field named like the prototype, whole numbers beyond 32 bits, nesting.
    let sent =
        json!({"__proto__": {"admin": true}, "big": 3_000_000_000_u64, "nested": {"a": [1, 2]}});
    let r: Record<Value> = sdk
        .db()
        .create_resource("kept", &sent)
        .await
        .expect("create");
    let got: Record<Value> = sdk.db().get_resource("kept", &r.id).await.expect("get");
    let mut want = sent.as_object().cloned().unwrap_or_default();
    want.insert("checked".into(), json!(1));
    assert_eq!(got.data, Value::Object(want.clone()));
    assert_eq!(
        got.data.to_string(),
        Value::Object(want.clone()).to_string(),
        "the order"
    );
    // An update runs On Validate and On PUT on the stored record: nothing else changes.
    let u: Record<Value> = sdk
        .db()
        .update_resource("kept", &r.id, &json!({"extra": "x"}))
        .await
        .expect("update");
    want.insert("big".into(), json!(6_000_000_000_u64));
    want.insert("checked".into(), json!(2));
    want.insert("extra".into(), json!("x"));
    assert_eq!(u.data, Value::Object(want));
}

#[tokio::test]
async fn a_scripted_update_takes_a_record_written_back_whole_and_checks_its_system_fields() {
    let server = Server::start();
    let (sdk, _) = server.signed_in("whole").await;
    configure(
        &server,
        "scores",
        json!({"events": {"validate": "this.total = this.a + this.b;"}}),
    )
    .await;
    let made: Record<Value> = sdk
        .db()
        .create_resource("scores", &json!({"a": 1, "b": 2}))
        .await
        .expect("create");
    let mut back = serde_json::to_value(&made).expect("json");
    back["a"] = json!(10);
    let put: Record<Value> = sdk
        .db()
        .overwrite_resource("scores", &made.id, &back)
        .await
        .expect("PUT of the whole record");
    assert_eq!((put.version, &put.data["total"]), (1, &json!(12)));
    let mut changed = serde_json::to_value(&put).expect("json");
    changed["createdAt"] = json!("2020-01-01T00:00:00.000Z");
    let e = sdk
        .db()
        .update_resource::<Value>("scores", &made.id, &changed)
        .await
        .expect_err("a changed stamp");
    assert_eq!(e.code(), Some(&ErrorCode::SystemField), "{e}");
    let kept: Record<Value> = sdk
        .db()
        .get_resource("scores", &made.id)
        .await
        .expect("get");
    assert_eq!(kept, put, "nothing written");
}

#[tokio::test]
async fn deployds_previous_changed_and_is_me_reach_scripts_through_the_server() {
    let server = Server::start();
    let (alice, alice_id) = server.signed_in("alice").await;
    configure(
        &server,
        "posts",
        json!({"events": {
            "validate": "if (!isMe(this.userId)) cancel('not yours', 403);",
            "put": "if (changed('title')) { this.retitled = (previous.retitled || 0) + 1; \
                    console.log('retitled', previous.title, '->', this.title); }"
        }}),
    )
    .await;
    let made: Record<Value> = alice
        .db()
        .create_resource("posts", &json!({"title": "a"}))
        .await
        .expect("create");
    assert_eq!(made.user_id.as_deref(), Some(alice_id.as_str()));
    let same: Record<Value> = alice
        .db()
        .update_resource("posts", &made.id, &json!({"body": "x"}))
        .await
        .expect("the title did not change");
    assert!(same.data.get("retitled").is_none());
    let once: Record<Value> = alice
        .db()
        .update_resource("posts", &made.id, &json!({"title": "b"}))
        .await
        .expect("retitled");
    let twice: Record<Value> = alice
        .db()
        .update_resource("posts", &made.id, &json!({"title": "c"}))
        .await
        .expect("retitled again");
    assert_eq!(
        (&once.data["retitled"], &twice.data["retitled"]),
        (&json!(1), &json!(2))
    );
}

/// Deployd's `me` is the whole user (never a secret) in every event, and
/// On GET sees the request's `query`: the parameters of a list, `{id}` of a read
/// by id, `{}` in a broadcast.
#[tokio::test]
async fn scripts_see_the_whole_user_as_me_and_the_query_in_get() {
    let server = Server::start();
    let (alice, alice_email, alice_id) = server.registered("alice").await;
    configure(
        &server,
        "notes",
        json!({"events": {
            "post": "this.by = me.email; this.since = me.createdAt; \
                     this.secrets = Object.keys(me).filter(k => /pass|hash|token/i.test(k));",
            "get": "this.viewer = me ? me.email : null; this.asked = query;"
        }}),
    )
    .await;
    let mut live = alice.ws().await.expect("ws");
    assert!(matches!(
        next(&mut live).await,
        ServerMessage::Connection(_)
    ));
    let made: Record<Value> = alice
        .db()
        .create_resource("notes", &json!({"text": "hi"}))
        .await
        .expect("create");
    assert_eq!(made.data["by"], json!(alice_email));
    assert!(
        made.data["since"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(made.data["secrets"], json!([]));
    assert_eq!(made.user_id.as_deref(), Some(alice_id.as_str()));
    let ServerMessage::Write(w) = next(&mut live).await else {
        panic!("a write")
    };
    assert_eq!(
        (&w.response["viewer"], &w.response["asked"]),
        (&json!(alice_email), &json!({}))
    );
    let listed = alice
        .db()
        .find_with_params("notes", &[("where", "text = \"hi\""), ("pageSize", "5")])
        .await
        .expect("list");
    assert_eq!(
        listed[0]["asked"],
        json!({"where": "text = \"hi\"", "pageSize": "5"})
    );
    assert_eq!(listed[0]["viewer"], json!(alice_email));
    let one: Record<Value> = server
        .sdk()
        .db()
        .get_resource("notes", &made.id)
        .await
        .expect("read by id");
    assert_eq!(
        (&one.data["viewer"], &one.data["asked"]),
        (&Value::Null, &json!({"id": made.id}))
    );
}

/// `emit` from an event script: to everyone, to one user's connections, to a
/// channel's subscribers; sent once the write succeeds, never for a refused one.
#[tokio::test]
async fn emit_sends_realtime_messages_once_the_write_succeeds() {
    use e2e::{connect, next_json, quiet};
    let server = Server::start();
    let (a, _) = server.signed_in("emit-a").await;
    let (b, _) = server.signed_in("emit-b").await;
    let mut la = connect(&a).await;
    let mut lb = connect(&b).await;
    // b joins a room that a's script will speak to.
    lb.create_channel("emitmeta", "rooms", "Lobby")
        .expect("send");
    let made = next_json(&mut lb).await;
    let room = made["response"]["_id"].as_str().expect("id").to_owned();
    assert_eq!(next_json(&mut la).await["action"], "createChannel");
    configure(
        &server,
        "orders",
        json!({"events": {
            "validate": "emit('validated', {total: this.total}); \
                         if (this.total < 0) cancel('no negative totals', 400);",
            "post": format!(
                "emit('ordered', {{total: this.total}}); \
                 emit({{userId: this.userId}}, 'receipt', {{total: this.total}}); \
                 emit({{channelType: 'rooms', channelId: '{room}'}}, 'roomy', this.total);"
            ),
            "delete": "emit('cancelledOrder', {total: this.total});"
        }}),
    )
    .await;

    let order: Record<Value> = a
        .db()
        .create_resource("orders", &json!({"total": 5}))
        .await
        .expect("create");
    // The writer's own connection: the record's broadcast is the HTTP answer's
    // echo, then the messages in the order the scripts sent them.
    let mut seen_a = Vec::new();
    for _ in 0..4 {
        let m = next_json(&mut la).await;
        seen_a.push((
            m["action"].as_str().unwrap_or_default().to_owned(),
            m["data"].clone(),
        ));
    }
    assert_eq!(
        seen_a,
        [
            ("create".to_owned(), Value::Null),
            ("validated".to_owned(), json!({"total": 5})),
            ("ordered".to_owned(), json!({"total": 5})),
            ("receipt".to_owned(), json!({"total": 5})),
        ]
    );
    quiet(&mut la).await;
    let mut seen_b = Vec::new();
    for _ in 0..4 {
        let m = next_json(&mut lb).await;
        assert!(m.get("action").is_some(), "{m}");
        if m["action"] != "create" {
            assert_eq!(m["collection"], "orders");
        }
        seen_b.push((
            m["action"].as_str().unwrap_or_default().to_owned(),
            m["data"].clone(),
        ));
    }
    assert_eq!(
        seen_b,
        [
            ("create".to_owned(), Value::Null),
            ("validated".to_owned(), json!({"total": 5})),
            ("ordered".to_owned(), json!({"total": 5})),
            ("roomy".to_owned(), json!(5)),
        ],
        "b gets no receipt, and the room's message as a subscriber"
    );
    quiet(&mut lb).await;

    // A cancelled create emits nothing, not even what ran before the cancel.
    let e = a
        .db()
        .create_resource::<Value>("orders", &json!({"total": -1}))
        .await
        .expect_err("cancelled");
    assert_eq!(api(&e).0, 400);
    quiet(&mut la).await;
    quiet(&mut lb).await;

    // A message that cannot be one fails the script: nothing is written.
    configure(
        &server,
        "bad",
        json!({"events": {"post": "emit('create', 1);"}}),
    )
    .await;
    let e = a
        .db()
        .create_resource::<Value>("bad", &json!({"x": 1}))
        .await
        .expect_err("a protocol action's name");
    assert_eq!(api(&e).1, ErrorCode::ScriptError, "{e}");
    assert_eq!(a.db().count("bad", None).await.expect("count"), 0);

    a.db()
        .delete_resource::<Value>("orders", &order.id)
        .await
        .expect("delete");
    assert_eq!(next_json(&mut lb).await["action"], "delete");
    let gone = next_json(&mut lb).await;
    assert_eq!(
        (gone["action"].clone(), gone["data"].clone()),
        (json!("cancelledOrder"), json!({"total": 5}))
    );
}

/// Deployd's `dpd.<collection>` in event scripts: reads and writes of other
/// collections as the same user, under their rules and scripts, awaited or with
/// Deployd's `(result, error)` callback; a cancel after an `await` still
/// refuses; calls nest a bounded depth.
#[tokio::test]
async fn dpd_reaches_other_collections_through_the_same_rules() {
    let server = Server::start();
    let (alice, _) = server.signed_in("alice").await;
    configure(&server, "secrets", json!({"rules": {"read": "admin"}})).await;
    configure(
        &server,
        "orders",
        json!({"events": {
            "post": "let product;
                     try { product = await dpd.products.get(this.productId); }
                     catch (e) { cancel('no such product (' + e.status + ')', 404); }
                     this.price = product.price;
                     this.label = product.label;
                     try { await dpd.secrets.get({}); this.secret = 'read'; }
                     catch (e) { this.secret = e.code; }
                     dpd.counters.get({name: 'orders'}, function (list, err) {
                       if (err) return;
                       dpd.counters.put(list[0]._id, {n: list[0].n + 1});
                     });
                     await dpd.logs.post({text: 'ordered ' + product.label});"
        }}),
    )
    .await;
    configure(
        &server,
        "products",
        json!({"events": {"get": "this.label = this.name.toUpperCase();"}}),
    )
    .await;
    configure(
        &server,
        "loops",
        json!({"events": {"post": "await dpd.loops.post({});"}}),
    )
    .await;
    configure(
        &server,
        "views",
        json!({"events": {"get": "this.product = (await dpd.products.get(this.productId)).label;"}}),
    )
    .await;
    let product: Record<Value> = alice
        .db()
        .create_resource("products", &json!({"name": "tea", "price": 3}))
        .await
        .expect("product");
    let _: Record<Value> = alice
        .db()
        .create_resource("counters", &json!({"name": "orders", "n": 0}))
        .await
        .expect("counter");
    let order: Record<Value> = alice
        .db()
        .create_resource("orders", &json!({"productId": product.id}))
        .await
        .expect("order");
    assert_eq!(
        (
            &order.data["price"],
            &order.data["label"],
            &order.data["secret"]
        ),
        (&json!(3), &json!("TEA"), &json!("forbidden"))
    );
    let counters = alice
        .db()
        .find_with_params("counters", &[])
        .await
        .expect("counters");
    assert_eq!(
        counters[0]["n"],
        json!(1),
        "the callback's put ran: {counters}"
    );
    let logs = alice
        .db()
        .find_with_params("logs", &[])
        .await
        .expect("logs");
    assert_eq!(logs[0]["text"], json!("ordered TEA"));
    assert_eq!(
        logs[0]["userId"],
        json!(order.user_id),
        "written as the same user"
    );

    let e = alice
        .db()
        .create_resource::<Value>("orders", &json!({"productId": "missing"}))
        .await
        .expect_err("no such product");
    let (status, code, message, _) = api(&e);
    assert_eq!((status, code), (404, ErrorCode::Cancelled));
    assert_eq!(message, "no such product (404)");
    assert_eq!(
        alice.db().count("orders", None).await.expect("count"),
        1,
        "the refused order is not written"
    );

    let e = alice
        .db()
        .create_resource::<Value>("loops", &json!({}))
        .await
        .expect_err("endless nesting");
    let (status, code, message, _) = api(&e);
    assert_eq!((status, code), (500, ErrorCode::ScriptError), "{message}");
    assert_eq!(alice.db().count("loops", None).await.expect("count"), 0);

    let _: Record<Value> = alice
        .db()
        .create_resource("views", &json!({"productId": product.id}))
        .await
        .expect("view");
    let views = alice
        .db()
        .find_with_params("views", &[])
        .await
        .expect("views");
    assert_eq!(views[0]["product"], json!("TEA"));

    // A refused call's messages are never sent, not even with a later call's write.
    configure(
        &server,
        "notes",
        json!({"events": {"validate": "emit('noted', this.n); if (this.n === 1) error('n', 'bad');"}}),
    )
    .await;
    configure(
        &server,
        "batches",
        json!({"events": {"post": "try { await dpd.notes.post({n: 1}); } catch (e) {}
                                    await dpd.notes.post({n: 2});"}}),
    )
    .await;
    let mut live = alice.ws().await.expect("ws");
    assert!(matches!(
        next(&mut live).await,
        ServerMessage::Connection(_)
    ));
    let _: Record<Value> = alice
        .db()
        .create_resource("batches", &json!({}))
        .await
        .expect("batch");
    let mut noted = Vec::new();
    loop {
        let v = e2e::next_json(&mut live).await;
        if v["action"] == "noted" {
            noted.push(v["data"].clone());
        }
        if v["action"] == "create" && v["collection"] == "batches" {
            break;
        }
    }
    assert_eq!(noted, [json!(2)]);
}

/// `console.log` in a script writes a line to the server's log, naming the
/// collection and event, at most 100 lines a run.
#[tokio::test]
async fn console_log_writes_to_the_server_log() {
    let server = Server::start_logging("warn,rucksack::script=info", &[]);
    let (alice, _) = server.signed_in("alice").await;
    configure(
        &server,
        "diary",
        json!({"events": {"post": "console.log('saving', this.title, {n: 1}); \
                                   for (let i = 0; i < 150; i++) console.info('line', i);"}}),
    )
    .await;
    let _: Record<Value> = alice
        .db()
        .create_resource("diary", &json!({"title": "day one"}))
        .await
        .expect("create");
    let lines = || server.log.lock().map(|l| l.clone()).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !lines().iter().any(|l| l.contains("line 98")) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = lines();
    let saving: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("saving day one"))
        .collect();
    assert_eq!(saving.len(), 1, "{log:?}");
    assert!(
        saving[0].contains("diary On POST") && saving[0].contains(r#"{"n":1}"#),
        "{}",
        saving[0]
    );
    let from_script = log
        .iter()
        .filter(|l| l.contains("rucksack::script"))
        .count();
    assert_eq!(from_script, 100, "the rest of the run's lines are dropped");
}
