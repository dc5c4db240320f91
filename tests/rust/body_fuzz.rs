//! Generated request bodies against every route that reads one: whatever
//! arrives, the server answers below 500, every refusal is a JSON error with a
//! stable code, and afterwards it serves as before.

use e2e::{ADMIN_KEY, API_KEY, PASSWORD, Server, email};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{Value, json};
use sha2::Digest;

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

/// What every answer to generated input must be: below 500, and a refusal
/// a JSON error with a code. `what` names the case.
fn check_answer(what: &str, status: u16, text: &str) {
    assert!(status < 500, "{what} answered {status}: {text}");
    if status >= 400 {
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        assert!(
            v["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{what}: {status} without a code: {text}"
        );
    }
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
        check_answer(
            &format!("case {case}: {method} {path} with {shown}"),
            status,
            &text,
        );
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

/// One part of a generated form: its name, its `filename` parameter, its
/// content type and its bytes.
type Part = (String, Option<String>, Option<String>, Vec<u8>);

/// Names, file names and values as uploads use them, path tricks included.
fn form_word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "file",
            "filename",
            "bucket",
            "public",
            "notes.txt",
            "../etc/passwd",
            "a/b.txt",
            "..",
            ".",
            "",
            "x\r\ny",
            "a\"b",
            "name; x=y",
            "\u{0}",
            "é.txt",
            "CON",
        ])
        .prop_map(str::to_owned),
        ".{0,24}",
    ]
}

fn part() -> impl Strategy<Value = Part> {
    (
        prop_oneof![
            3 => prop::sample::select(vec!["file", "filename", "bucket"]).prop_map(str::to_owned),
            1 => form_word(),
        ],
        prop::option::of(form_word()),
        prop::option::of(prop::sample::select(vec![
            "text/plain",
            "application/octet-stream",
            "image/png",
            "",
            "not a type",
            "text/plain; charset=\"",
        ])),
        prop_oneof![
            form_word().prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..2048),
        ],
    )
        .prop_map(|(name, filename, ct, bytes)| (name, filename, ct.map(str::to_owned), bytes))
}

/// A multipart body with its boundary, then spoiled in one of several ways:
/// cut short, its closing boundary missing, or bytes changed.
fn form_body() -> impl Strategy<Value = (String, Vec<u8>)> {
    let boundary = prop_oneof![Just("b0undary".to_owned()), "[a-zA-Z0-9'()+_,./:=?-]{1,70}"];
    // Often the form an upload sends, its values generated; else any parts.
    let upload = (
        form_word(),
        prop_oneof![Just("b".to_owned()), Just("public".to_owned()), form_word()],
        prop::collection::vec(any::<u8>(), 0..4096),
    )
        .prop_map(|(name, bucket, bytes)| {
            vec![
                ("filename".to_owned(), None, None, name.into_bytes()),
                ("bucket".to_owned(), None, None, bucket.into_bytes()),
                ("file".to_owned(), Some("f".to_owned()), None, bytes),
            ]
        });
    let parts = prop_oneof![upload, prop::collection::vec(part(), 0..5)];
    let spoil = prop_oneof![3 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)];
    (
        boundary,
        parts,
        spoil,
        any::<prop::sample::Index>(),
        any::<u8>(),
    )
        .prop_map(|(b, parts, spoil, at, byte)| {
            let mut body = Vec::new();
            for (name, filename, ct, bytes) in parts {
                body.extend_from_slice(format!("--{b}\r\n").as_bytes());
                let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
                if let Some(f) = filename {
                    disposition.push_str(&format!("; filename=\"{f}\""));
                }
                body.extend_from_slice(disposition.as_bytes());
                body.extend_from_slice(b"\r\n");
                if let Some(ct) = ct {
                    body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(&bytes);
                body.extend_from_slice(b"\r\n");
            }
            if spoil != 1 {
                body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
            }
            match spoil {
                2 => body.truncate(at.index(body.len().max(1))),
                3 if !body.is_empty() => {
                    let i = at.index(body.len());
                    body[i] = byte;
                }
                _ => {}
            }
            (b, body)
        })
}

#[tokio::test]
async fn generated_multipart_forms_get_answers_below_500_and_leave_no_partial_file() {
    let server = Server::start();
    let sdk = server.sdk();
    let me = sdk
        .auth()
        .register(&email("formfuzz"), PASSWORD)
        .await
        .expect("register")
        .id;
    let token = sdk.session_token().expect("token");
    sdk.storage()
        .upload_file(rucksack::Upload::bytes(b"kept".to_vec()), "kept.txt", "b")
        .await
        .expect("first upload");
    let http = reqwest::Client::new();
    let routes = [
        ("POST", "/uploads"),
        ("PUT", "/uploads/kept.txt"),
        ("PUT", "/uploads/other.txt"),
    ];
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = (0..routes.len(), form_body(), 0..8u8);
    let mut answers: std::collections::BTreeMap<u16, usize> = Default::default();
    for case in 0..400 {
        let (r, (boundary, bytes), header) =
            strategy.new_tree(&mut runner).expect("generate").current();
        let (method, path) = routes[r];
        // The header's boundary is usually the body's, sometimes not, or absent.
        let content_type = match header {
            0 => "multipart/form-data".to_owned(),
            1 => "multipart/form-data; boundary=other".to_owned(),
            2 => "application/json".to_owned(),
            _ => format!("multipart/form-data; boundary={boundary}"),
        };
        let resp = http
            .request(
                method.parse().expect("method"),
                format!("{}{path}", server.url),
            )
            .header("authorization", format!("key {API_KEY}"))
            .header("x-authorization", &token)
            .header("content-type", content_type)
            .body(bytes.clone())
            .send()
            .await
            .expect("an answer");
        let status = resp.status().as_u16();
        *answers.entry(status).or_default() += 1;
        let text = resp.text().await.expect("body");
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned();
        check_answer(
            &format!("case {case}: {method} {path} with {shown:?}"),
            status,
            &text,
        );
    }
    eprintln!("multipart forms, answers by status: {answers:?}");
    let accepted: usize = answers.range(200..300).map(|(_, n)| n).sum();
    assert!(
        (10..400).contains(&accepted),
        "the forms reach both the upload and its refusals: {answers:?}"
    );
    // No upload left a temporary file behind, and every file listed is whole:
    // its bytes are there and match the size and hash recorded.
    let tmp: Vec<_> = std::fs::read_dir(server.data_dir.join("files").join("tmp"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "temporary files left behind: {tmp:?}");
    let list = sdk
        .storage()
        .get_list_of_user_files(&me)
        .await
        .expect("still serving");
    assert!(list.records.iter().any(|f| f.filename == "kept.txt"));
    for f in &list.records {
        let bytes = sdk
            .storage()
            .get_file(&me, &f.filename)
            .await
            .unwrap_or_else(|e| panic!("listed file {}: {e}", f.filename));
        assert_eq!(bytes.len() as u64, f.size, "{} is whole", f.filename);
        let hash: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash, f.sha256, "{} matches its hash", f.filename);
    }
}
