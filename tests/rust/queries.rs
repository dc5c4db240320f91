//! The query conformance table end to end: the real server, through the native
//! SDK, each case sent as written (`where`, `q`, `field=value`, ...) and again
//! through the typed `FindQuery` (which travels as `q`).

use e2e::{PASSWORD, Server, email};
use rucksack::query::{Filter, FindQuery};
use rucksack::{Error, ErrorCode};
use serde_json::{Value, json};

fn table() -> Value {
    serde_json::from_str(include_str!(
        "../../sdk-core/tests/conformance/queries.json"
    ))
    .expect("the table is JSON")
}

/// Checks an answer against a case; `Err` says why it does not hold.
fn check(case: &Value, got: Result<Value, Error>) -> Result<(), String> {
    if let Some(param) = case.get("error").and_then(Value::as_str) {
        return match got {
            Err(Error::Api {
                status: 400,
                code: ErrorCode::InvalidQuery,
                errors: Some(errors),
                ..
            }) => {
                let detail = errors
                    .get(param)
                    .and_then(Value::as_str)
                    .ok_or(format!("errors lacks '{param}': {errors:?}"))?;
                match case.get("at").and_then(Value::as_u64) {
                    Some(at) if !detail.starts_with(&format!("at {at}:")) => {
                        Err(format!("position: {detail}"))
                    }
                    _ => Ok(()),
                }
            }
            other => Err(format!("expected invalid_query on {param}, got {other:?}")),
        };
    }
    let got = got.map_err(|e| format!("refused: {e}"))?;
    if let Some(ids) = case.get("ids") {
        let got_ids: Vec<Value> = got
            .as_array()
            .ok_or(format!("not an array: {got}"))?
            .iter()
            .map(|r| r["n"].clone())
            .collect();
        return (&Value::Array(got_ids.clone()) == ids)
            .then_some(())
            .ok_or(format!("got {got_ids:?}, want {ids}"));
    }
    let want = case
        .get("count")
        .or(case.get("records"))
        .ok_or("no expectation")?;
    (&got == want)
        .then_some(())
        .ok_or(format!("got {got}, want {want}"))
}

#[tokio::test]
async fn the_conformance_table_holds_over_http() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("table"), PASSWORD)
        .await
        .expect("register");
    let t = table();
    for r in t["records"].as_array().expect("records") {
        sdk.db()
            .create_resource::<Value>("people", r)
            .await
            .expect("seed");
    }
    let cases = t["cases"].as_array().expect("cases");
    assert!(cases.len() >= 150);
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let pairs: Vec<(&str, &str)> = case["params"]
            .as_array()
            .expect("params")
            .iter()
            .map(|p| (p[0].as_str().expect("k"), p[1].as_str().expect("v")))
            .collect();
        let got = sdk.db().find_with_params("people", &pairs).await;
        if let Err(why) = check(case, got) {
            failures.push(format!("{name} (as written): {why}"));
        }
        if case.get("error").is_none() {
            let typed = FindQuery::from_pairs(pairs.iter().copied()).expect("parses");
            let got = sdk.db().find_as::<Value>("people", &typed).await;
            if let Err(why) = check(case, got) {
                failures.push(format!("{name} (typed): {why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn typed_queries_relations_and_counts() {
    let server = Server::start();
    let sdk = server.sdk();
    let me = sdk
        .auth()
        .register(&email("rel"), PASSWORD)
        .await
        .expect("register")
        .id;
    let author: rucksack::Record<Value> = sdk
        .db()
        .create_resource("authors", &json!({"name": "Ann"}))
        .await
        .expect("author");
    for (i, title) in ["Soup", "Lasagna", "Cake"].iter().enumerate() {
        sdk.db()
            .create_resource::<Value>(
                "posts",
                &json!({"title": title, "likes": i * 10, "authorId": author.id}),
            )
            .await
            .expect("post");
    }
    sdk.db()
        .create_resource::<Value>("posts", &json!({"title": "Orphan", "authorId": "nobody"}))
        .await
        .expect("orphan");

    #[derive(serde::Deserialize, Debug)]
    struct Post {
        title: String,
        likes: Option<i64>,
    }
    let q = FindQuery::new()
        .filter(Filter::gte("likes", 10))
        .sort_desc("likes");
    let posts = sdk.db().find::<Post>("posts", &q).await.expect("find");
    let titles: Vec<&str> = posts.iter().map(|p| p.data.title.as_str()).collect();
    assert_eq!(titles, ["Cake", "Lasagna"]);
    assert_eq!(posts[0].data.likes, Some(20));
    assert_eq!(posts[0].user_id.as_deref(), Some(me.as_str()));

    assert_eq!(sdk.db().count("posts", None).await.expect("count"), 4);
    assert_eq!(
        sdk.db()
            .count("posts", Some(Filter::exists("likes", false)))
            .await
            .expect("count"),
        1
    );

    // load: the related record, or null when the key matches nothing.
    let q = FindQuery::new()
        .select(["title"])
        .load("author", "authorId", "authors");
    let rows: Vec<Value> = sdk.db().find_as("posts", &q).await.expect("load");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["title"], "Soup");
    assert_eq!(rows[0]["author"]["name"], "Ann");
    assert_eq!(rows[0]["author"]["_id"], json!(author.id));
    assert_eq!(rows[3]["author"], Value::Null);
    assert_eq!(rows[0].as_object().map(|m| m.len()), Some(2));

    // load from a collection that does not exist, or from the users: 400.
    for coll in ["nothing", "users"] {
        let e = sdk
            .db()
            .find_with_params("posts", &[("load", &format!("a=authorId:{coll}"))])
            .await
            .expect_err("unknown collection");
        assert_eq!(e.code(), Some(&ErrorCode::InvalidQuery), "{coll}: {e}");
    }
}

#[tokio::test]
async fn default_page_and_maximum() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("page"), PASSWORD)
        .await
        .expect("register");
    for i in 0..105 {
        sdk.db()
            .create_resource::<Value>("items", &json!({ "i": i }))
            .await
            .expect("create");
    }
    let all = sdk.db().find_with_params("items", &[]).await.expect("list");
    assert_eq!(all.as_array().map(Vec::len), Some(100), "default page");
    let rest = sdk
        .db()
        .find_with_params("items", &[("offset", "100"), ("pageSize", "1000")])
        .await
        .expect("rest");
    assert_eq!(rest.as_array().map(Vec::len), Some(5));
    let e = sdk
        .db()
        .find_with_params("items", &[("pageSize", "1001")])
        .await
        .expect_err("over the maximum");
    assert_eq!(e.code(), Some(&ErrorCode::InvalidQuery));
}

#[tokio::test]
async fn pages_and_counts_stay_correct_while_others_write() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("pages"), PASSWORD)
        .await
        .expect("register");
    let seed: Vec<Value> = (0..300).map(|i| json!({ "i": i, "old": true })).collect();
    sdk.db()
        .insert_many::<Value>("stream", &seed)
        .await
        .expect("seed");

    // Another client keeps adding records while this one pages and counts.
    let writer = server.sdk();
    writer
        .auth()
        .register(&email("writer"), PASSWORD)
        .await
        .expect("register");
    let adding = tokio::spawn(async move {
        for i in 0..200 {
            writer
                .db()
                .create_resource::<Value>("stream", &json!({ "i": 1000 + i }))
                .await
                .expect("write");
        }
    });

    let mut seen = std::collections::HashSet::new();
    let mut last_count = 0;
    for page in 0.. {
        let q = FindQuery::new()
            .filter(Filter::eq("old", true))
            .offset(page * 50)
            .page_size(50);
        let rows: Vec<Value> = sdk.db().find_as("stream", &q).await.expect("page");
        for r in &rows {
            assert!(
                seen.insert(r["_id"].as_str().expect("id").to_owned()),
                "a record came twice"
            );
        }
        let n = sdk.db().count("stream", None).await.expect("count");
        assert!(
            n >= last_count && (300..=500).contains(&n),
            "count {n} after {last_count}"
        );
        last_count = n;
        if rows.len() < 50 {
            break;
        }
    }
    assert_eq!(seen.len(), 300, "every old record exactly once");
    adding.await.expect("writer");
    assert_eq!(sdk.db().count("stream", None).await.expect("count"), 500);
}

#[tokio::test]
async fn keyset_pages_walk_every_record_once_while_others_write() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("keyset"), PASSWORD)
        .await
        .expect("register");
    let seed: Vec<Value> = (0..250).map(|i| json!({ "i": i })).collect();
    sdk.db()
        .insert_many::<Value>("feed", &seed)
        .await
        .expect("seed");
    let writer = server.sdk();
    writer
        .auth()
        .register(&email("keyset-writer"), PASSWORD)
        .await
        .expect("register");
    let adding = tokio::spawn(async move {
        for i in 0..100 {
            writer
                .db()
                .create_resource::<Value>("feed", &json!({ "i": 1000 + i }))
                .await
                .expect("write");
        }
    });
    // Newest first, 40 a page: the records there at the start come once each,
    // in order, whatever is added meanwhile.
    let q = FindQuery::new().sort_desc("createdAt").page_size(40);
    let rows = sdk.db().find_all::<Value>("feed", &q).await.expect("pages");
    let old: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.data["i"].as_i64())
        .filter(|i| *i < 1000)
        .collect();
    let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let times: Vec<&str> = rows.iter().map(|r| r.created_at.as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(old.len(), 250, "every old record, once");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "no record twice");
    adding.await.expect("writer");
    // getCollection is every record, past the default page of 100.
    let all = sdk.db().get_collection::<Value>("feed").await.expect("all");
    assert_eq!(all.len(), 350);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");

    // A cursor from another read, or a malformed one, is refused.
    for params in [
        &[("after", "not a cursor")][..],
        &[("after", r#"["x","id"]"#)],
        &[("sortBy", "i"), ("after", r#"["id"]"#)],
        &[("count", "true"), ("after", r#"["id"]"#)],
    ] {
        let e = sdk
            .db()
            .find_with_params("feed", params)
            .await
            .expect_err("refused");
        assert_eq!(e.code(), Some(&ErrorCode::InvalidQuery), "{params:?}");
    }
}

/// `X-Page-Cursor: 1` asks the server for the next page's cursor: it comes in
/// `X-Next-After` (form-urlencoded: sort values with spaces, `+` and accents
/// survive), goes back as `after`, and is absent after the last page; a read
/// that does not ask gets none.
#[tokio::test]
async fn the_server_hands_over_the_next_pages_cursor_when_asked() {
    use e2e::raw::call;
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("cursor"), PASSWORD)
        .await
        .expect("register");
    let names = ["Zoë a+b", "ab c", "a%20d", "Émile", "x&y=z"];
    let seed: Vec<Value> = names.iter().map(|n| json!({ "name": n })).collect();
    sdk.db()
        .insert_many::<Value>("people", &seed)
        .await
        .expect("seed");
    let page = |after: Option<String>| {
        let mut params = vec![("sortBy", "name".to_owned()), ("pageSize", "2".into())];
        params.extend(after.map(|a| ("after", a)));
        call(&server, reqwest::Method::GET, "/people")
            .query(&params)
            .header(sdk_core::PAGE_CURSOR_HEADER, "1")
    };
    let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let resp = page(after.clone()).send().await.expect("read");
        assert_eq!(resp.status().as_u16(), 200);
        let header = resp
            .headers()
            .get(sdk_core::NEXT_AFTER_HEADER)
            .map(|h| h.to_str().expect("visible ASCII").to_owned());
        let rows: Vec<Value> = resp.json().await.expect("records");
        seen.extend(
            rows.iter()
                .map(|r| r["name"].as_str().unwrap_or_default().to_owned()),
        );
        pages += 1;
        match sdk_core::api::next_after(header.as_deref()) {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut sorted: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    sorted.sort();
    assert_eq!(seen, sorted, "every record once, in order");
    assert_eq!(pages, 3, "2 + 2 + 1: the short page is the last");
    // Not asked: no header (the read costs nothing more).
    let plain = call(&server, reqwest::Method::GET, "/people?pageSize=2")
        .send()
        .await
        .expect("read");
    assert!(plain.headers().get(sdk_core::NEXT_AFTER_HEADER).is_none());
    // No cursor that would page wrongly or tell what the reader may not see:
    // none with distinct, none when select drops a sort field, none when the
    // On GET script hides one.
    let cursor_of = |query: &'static str| {
        let server = &server;
        async move {
            let resp = call(server, reqwest::Method::GET, &format!("/people?{query}"))
                .header(sdk_core::PAGE_CURSOR_HEADER, "1")
                .send()
                .await
                .expect("read");
            assert_eq!(resp.status().as_u16(), 200, "{query}");
            resp.headers().get(sdk_core::NEXT_AFTER_HEADER).cloned()
        }
    };
    assert!(cursor_of("sortBy=name&pageSize=2").await.is_some());
    assert!(
        cursor_of("sortBy=name&pageSize=2&distinct=name")
            .await
            .is_none()
    );
    assert!(
        cursor_of("sortBy=name&pageSize=2&select=_id")
            .await
            .is_none()
    );
    e2e::raw::configure(
        &server,
        "people",
        json!({"events": {"get": "hide('name')"}}),
    )
    .await;
    assert!(cursor_of("sortBy=name&pageSize=2").await.is_none());
    // Sorted by _id alone, the shown record still has all it needs.
    assert!(cursor_of("pageSize=2").await.is_some());
}
