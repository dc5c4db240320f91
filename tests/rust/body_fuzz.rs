//! Generated request bodies against every route that reads one: whatever
//! arrives, the server answers below 500, every refusal is a JSON error with a
//! stable code, and afterwards it serves as before.

use e2e::{ADMIN_KEY, API_KEY, PASSWORD, Server, email};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{Value, json};

/// JSON built from the words request bodies use, often nested.
fn body_value() -> impl Strategy<Value = Value> {
    let words = vec![
        "_id",
        "userId",
        "__v",
        "createdAt",
        "updatedAt",
        "text",
        "n",
        "email",
        "password",
        "currentPassword",
        "newPassword",
        "collectionName",
        "filename",
        "bucket",
        "$set",
        "$inc",
        "$push",
        "$unset",
        "$rename",
        "rules",
        "read",
        "create",
        "events",
        "validate",
        "properties",
        "type",
        "Number",
        "String",
        "indexes",
        "schema",
        "operations",
        "insert",
        "parent",
        "broadcast",
        "channelType",
        "channelId",
        "x",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(words.clone()).prop_map(|s| json!(s)),
        ".{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, move |inner| {
        let keys = prop::sample::select(words.clone());
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// A body: JSON, JSON cut short, or any bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => body_value().prop_map(|v| v.to_string().into_bytes()),
        1 => (body_value(), any::<prop::sample::Index>()).prop_map(|(v, i)| {
            let t = v.to_string().into_bytes();
            let cut = i.index(t.len().max(1));
            t[..cut].to_vec()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

#[tokio::test]
async fn generated_bodies_get_answers_below_500_with_a_code() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("fuzz"), PASSWORD)
        .await
        .expect("register");
    let token = sdk.session_token().expect("token");
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/items", server.url))
        .header("authorization", format!("key {API_KEY}"))
        .header("x-authorization", &token)
        .body(r#"{"text":"kept"}"#)
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["_id"].as_str().expect("id").to_owned();
    let routes: Vec<(&str, String, &str)> = vec![
        ("POST", "/items".into(), API_KEY),
        ("PATCH", format!("/items/{id}"), API_KEY),
        ("PUT", "/other/some-id".into(), API_KEY),
        ("PUT", "/scratch".into(), API_KEY),
        ("PATCH", "/items?where=n%20%3D%201".into(), API_KEY),
        ("POST", "/register".into(), API_KEY),
        ("POST", "/login".into(), API_KEY),
        ("POST", "/me/password".into(), API_KEY),
        ("PUT", "/collections/fuzzed".into(), ADMIN_KEY),
        ("POST", "/collections".into(), ADMIN_KEY),
        ("POST", "/admin/keys".into(), ADMIN_KEY),
        ("PATCH", "/uploads/missing.txt".into(), API_KEY),
    ];
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = (0..routes.len(), body());
    for case in 0..600 {
        let (r, bytes) = strategy.new_tree(&mut runner).expect("generate").current();
        let (method, path, key) = &routes[r];
        let resp = http
            .request(
                method.parse().expect("method"),
                format!("{}{path}", server.url),
            )
            .header("authorization", format!("key {key}"))
            .header("x-authorization", &token)
            .header("content-type", "application/json")
            .body(bytes.clone())
            .send()
            .await
            .expect("an answer");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let shown = String::from_utf8_lossy(&bytes);
        assert!(
            status < 500,
            "case {case}: {method} {path} with {shown} answered {status}: {text}"
        );
        if status >= 400 {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            assert!(
                v["code"].as_str().is_some_and(|c| !c.is_empty()),
                "case {case}: {method} {path} with {shown}: {status} without a code: {text}"
            );
        }
    }
    // The server still serves, and no generated body removed the record made
    // first (no route above deletes or replaces the items).
    sdk.db().get_collection_list().await.expect("still serving");
    let kept: rucksack::Record<Value> = sdk
        .db()
        .get_resource("items", &id)
        .await
        .expect("the first record is still there");
    assert_eq!(kept.id, id);
}
