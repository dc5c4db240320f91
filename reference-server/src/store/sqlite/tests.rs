use super::*;
use serde_json::json;

fn record(id: &str, owner: &str) -> Map<String, Value> {
    let v =
        json!({"_id": id, "userId": owner, "createdAt": "t", "updatedAt": "t", "__v": 0, "a": 1});
    v.as_object().cloned().unwrap_or_default()
}

/// SQLite's plan for a read as the store compiles it now.
fn plan(store: &SqliteStore, path: &Path, coll: &str, q: &FindQuery) -> (bool, String) {
    let conn = Connection::open(path).expect("conn");
    crate::store::sql::register_functions(&conn).expect("functions");
    let sql = crate::store::sql::find(coll, q, 30, &layout_of(&store.layouts, coll));
    let mut st = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
        .expect("explain");
    let rows = st
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            r.get::<_, String>(3)
        })
        .expect("plan");
    let text = rows.map(|r| r.expect("row")).collect::<Vec<_>>().join("; ");
    (sql.inline, text)
}

fn query(pairs: &[(&str, &str)]) -> FindQuery {
    FindQuery::from_pairs(pairs.iter().copied()).expect("query")
}

#[tokio::test]
async fn declared_indexes_serve_filtered_and_sorted_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    let store = SqliteStore::open(&path).expect("open");
    for i in 0..200 {
        let mut r = record(&format!("id{i:03}"), "u");
        r.insert("age".into(), json!(i % 50));
        store.insert("people", r).await.expect("insert");
    }
    let q = query(&[("where", "age >= 30"), ("sortBy", "age")]);
    let (inline, before) = plan(&store, &path, "people", &q);
    assert!(!before.contains("rk_ix_") && !inline, "{before}");
    let age = sdk_core::query::Path::parse("age").expect("path");
    let typed = Layout {
        types: [("age".to_owned(), FieldType::Number)]
            .into_iter()
            .collect(),
        indexes: vec![vec![age]],
        ..Layout::default()
    };
    store
        .set_config("people", "{}".into(), typed.clone())
        .await
        .expect("index");
    let (inline, after) = plan(&store, &path, "people", &q);
    assert!(after.contains("USING INDEX rk_ix_people_"), "{after}");
    assert!(
        !after.contains("TEMP B-TREE"),
        "sorted by the index: {after}"
    );
    assert!(inline, "an index seek runs inline");
    let (inline, eq) = plan(&store, &path, "people", &query(&[("where", "age = 30")]));
    assert!(eq.contains("USING INDEX rk_ix_people_") && inline, "{eq}");
    // A typed field refuses another type, and nothing is written.
    let mut wrong = record("wrong", "u");
    wrong.insert("age".into(), json!("thirty"));
    let refused = store.insert("people", wrong).await;
    assert!(
        matches!(&refused, Err(StoreError::Rejected(body)) if body.code == sdk_core::ErrorCode::ValidationFailed),
        "{refused:?}"
    );
    assert_eq!(store.get("people", "wrong").await.expect("get"), None);
    // Declared no more, the index goes.
    store
        .set_config("people", "{}".into(), Layout::default())
        .await
        .expect("drop");
    assert!(!plan(&store, &path, "people", &q).1.contains("rk_ix_"));
    assert_eq!(
        store.configs().await.expect("configs"),
        vec![("people".to_owned(), "{}".to_owned())]
    );
    // A field some stored record holds with another type stays untyped.
    let mut odd = record("odd", "u");
    odd.insert("age".into(), json!("old"));
    store.insert("people", odd).await.expect("insert");
    store
        .set_config("people", "{}".into(), typed)
        .await
        .expect("config");
    assert!(layout_of(&store.layouts, "people").types.is_empty());
}

#[tokio::test]
async fn the_reads_apps_run_most_are_index_seeks_and_run_inline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    let store = SqliteStore::open(&path).expect("open");
    let many: Vec<_> = (0..500)
        .map(|i| record(&format!("id{i:03}"), if i % 2 == 0 { "u1" } else { "u2" }))
        .collect();
    store.insert_many("m", many).await.expect("insert");
    for pairs in [
        &[("sortBy", "createdAt desc"), ("pageSize", "30")][..],
        &[("sortBy", "_id desc")],
        &[("sortBy", "updatedAt desc")],
        &[],
        &[("where", "userId = \"u1\""), ("sortBy", "createdAt desc")],
        &[("where", "userId = \"u1\"")],
        &[
            ("where", "userId = \"u1\" AND createdAt > \"s\""),
            ("sortBy", "createdAt"),
        ],
        &[("where", "createdAt < \"u\""), ("sortBy", "createdAt desc")],
        &[("where", "_id > \"id100\"")],
        &[("count", "true")],
    ] {
        let q = query(pairs);
        let (inline, text) = plan(&store, &path, "m", &q);
        assert!(inline, "{pairs:?}: {text}");
        assert!(
            !text.contains("SCAN records") && !text.contains("TEMP B-TREE"),
            "{pairs:?}: {text}"
        );
    }
    // The next page after a cursor is one range of an index, however deep.
    let after = ("after", r#"["t","id250"]"#);
    for pairs in [
        &[("sortBy", "createdAt desc"), ("pageSize", "30"), after][..],
        &[("sortBy", "createdAt"), after],
        &[("after", r#"["id250"]"#)],
        &[("sortBy", "_id desc"), ("after", r#"["id250","id250"]"#)],
        &[
            ("where", "userId = \"u1\""),
            ("sortBy", "createdAt desc"),
            after,
        ],
    ] {
        let (inline, text) = plan(&store, &path, "m", &query(pairs));
        assert!(inline, "{pairs:?}: {text}");
        assert!(
            text.contains("id)<(")
                || text.contains("id)>(")
                || text.contains("id<?")
                || text.contains("id>?"),
            "{pairs:?}: {text}"
        );
        assert!(!text.contains("TEMP B-TREE"), "{pairs:?}: {text}");
    }
    for pairs in [
        &[("where", "a = 1")][..],
        &[("where", "userId = \"u1\""), ("sortBy", "a")],
        &[("sortBy", "createdAt desc, _id")],
        &[("where", "userId = \"u1\""), ("count", "true")],
        &[("sortBy", "createdAt"), ("offset", "5000")],
    ] {
        assert!(!plan(&store, &path, "m", &query(pairs)).0, "{pairs:?}");
    }
    let Found::Count(n) = store
        .find("m", query(&[("count", "true")]), 30, Vec::new())
        .await
        .expect("count")
    else {
        panic!("a count");
    };
    assert_eq!(n, 500);
    store
        .delete_many("m", query(&[("where", "userId = \"u2\"")]).filter, None)
        .await
        .expect("delete");
    let Found::Count(n) = store
        .find("m", query(&[("count", "true")]), 30, Vec::new())
        .await
        .expect("count")
    else {
        panic!("a count");
    };
    assert_eq!(n, 250, "counts follow deletes");
}

#[tokio::test]
async fn a_database_of_the_earlier_layout_is_moved_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    {
        // The layout before system columns: documents only, some as JSON text.
        let c = Connection::open(&path).expect("open");
        c.execute_batch(
            "CREATE TABLE collection_config (name TEXT PRIMARY KEY, config TEXT NOT NULL);
             CREATE TABLE records (coll TEXT NOT NULL, id TEXT NOT NULL, doc BLOB NOT NULL,
                 PRIMARY KEY (coll, id)) WITHOUT ROWID;
             CREATE INDEX rk_ix_m_0123456789abcdef ON records(coll, json_extract(doc,'$.n'));
             INSERT INTO collection_config VALUES ('m', '{\"indexes\":[[\"n\"]]}');",
        )
        .expect("old schema");
        for i in 0..30 {
            let doc = json!({"_id": format!("id{i:02}"), "userId": format!("u{}", i % 3),
                "n": i, "createdAt": format!("2020-01-01T00:00:{i:02}.000Z"),
                "updatedAt": "2020-01-02T00:00:00.000Z", "__v": 1});
            let sql = if i % 2 == 0 {
                "INSERT INTO records VALUES ('m', ?1, jsonb(?2))"
            } else {
                "INSERT INTO records VALUES ('m', ?1, ?2)"
            };
            c.execute(sql, params![format!("id{i:02}"), doc.to_string()])
                .expect("old record");
        }
    }
    let store = SqliteStore::open(&path).expect("open moves the records");
    let Found::Records(page) = store
        .find(
            "m",
            query(&[
                ("where", "userId = \"u1\""),
                ("sortBy", "createdAt desc"),
                ("pageSize", "2"),
            ]),
            2,
            Vec::new(),
        )
        .await
        .expect("find")
    else {
        panic!("records");
    };
    let page: Vec<Value> = serde_json::from_str(&page).expect("json");
    let ids: Vec<_> = page.iter().map(|r| r["_id"].clone()).collect();
    assert_eq!(ids, vec![json!("id28"), json!("id25")]);
    assert!(matches!(
        store
            .find("m", query(&[("count", "true")]), 30, Vec::new())
            .await,
        Ok(Found::Count(30))
    ));
    assert_eq!(
        store.collections().await.expect("list"),
        vec!["m".to_owned()]
    );
    let c = Connection::open(&path).expect("conn");
    let kept: bool = c
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'rk_ix_m_0123456789abcdef' AND tbl_name = 'records')",
            [],
            |r| r.get(0),
        )
        .expect("index");
    assert!(kept, "the declared index is made again");
    // Its layout is not known until the configuration is set again (the
    // server does so at start).
    assert!(!store.has_layout("m"));
    let n = sdk_core::query::Path::parse("n").expect("path");
    let layout = Layout {
        types: [("n".to_owned(), FieldType::Number)].into_iter().collect(),
        indexes: vec![vec![n]],
        ..Layout::default()
    };
    store
        .set_config("m", r#"{"indexes":[["n"]]}"#.into(), layout)
        .await
        .expect("lay out");
    // Opening again changes nothing.
    drop(store);
    let store = SqliteStore::open(&path).expect("reopen");
    assert!(store.has_layout("m"));
    assert!(matches!(
        store
            .find("m", query(&[("count", "true")]), 30, Vec::new())
            .await,
        Ok(Found::Count(30))
    ));
}

#[tokio::test]
async fn a_read_past_its_time_limit_is_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("db.sqlite"))
        .expect("open")
        .with_time_limit(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    // Counting to ten billion would take minutes.
    let r = store
        .read(|c| {
            c.query_row(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                 WHERE i < 10000000000) SELECT count(*) FROM n",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(engine)
        })
        .await;
    assert!(matches!(r, Err(StoreError::TimedOut(_))), "{r:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The connection is fine for the next read.
    let one = store
        .read(|c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map_err(engine)
        })
        .await;
    assert_eq!(one.ok(), Some(1));
}

/// 20,000 records `id00000`.. with `n` from 0, in `nums`.
async fn seed_numbers(store: &SqliteStore) {
    let many: Vec<_> = (0..20_000)
        .map(|i| {
            let mut r = record(&format!("id{i:05}"), "u");
            r.insert("n".into(), json!(i));
            r
        })
        .collect();
    store.insert_many("nums", many).await.expect("insert");
}

#[tokio::test]
async fn a_bulk_write_that_searches_too_long_writes_nothing_and_frees_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("db.sqlite"))
        .expect("open")
        .with_time_limit(std::time::Duration::from_millis(1));
    seed_numbers(&store).await;
    let filter = || {
        FindQuery::from_pairs([("where", "n >= 19990")])
            .expect("query")
            .filter
    };
    let spec = sdk_core::update::UpdateSpec::parse(&json!({"$set": {"hit": true}})).expect("spec");
    let r = store
        .update_many("nums", filter(), None, spec, "now".into(), None)
        .await;
    assert!(matches!(r, Err(StoreError::TimedOut(_))), "{r:?}");
    let r = store.delete_many("nums", filter(), None).await;
    assert!(matches!(r, Err(StoreError::TimedOut(_))), "{r:?}");
    // Nothing was written, and the writer goes on.
    let kept = store
        .get("nums", "id19995")
        .await
        .expect("get")
        .expect("kept");
    assert!(!kept.contains("hit"), "{kept}");
    store
        .insert_many("nums", vec![record("after", "u")])
        .await
        .expect("the next write");
}

#[tokio::test]
async fn an_unindexed_read_runs_once_on_the_blocking_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("db.sqlite")).expect("open");
    seed_numbers(&store).await;
    store.get("nums", "id00000").await.expect("get");
    // An unindexed filter over 20,000 records is not run inline...
    let q = FindQuery::from_pairs([("where", "n >= 19990"), ("sortBy", "n desc")]).expect("query");
    assert!(!crate::store::sql::find("nums", &q, 100, &Layout::default()).inline);
    let Found::Records(page) = store.find("nums", q, 100, Vec::new()).await.expect("find") else {
        panic!("records expected");
    };
    let page: Vec<Value> = serde_json::from_str(&page).expect("json");
    let ns: Vec<_> = page.iter().map(|r| r["n"].clone()).collect();
    assert_eq!(
        ns,
        (19990..20_000).rev().map(|n| json!(n)).collect::<Vec<_>>()
    );
    // ...a count of them all is kept; the connection is usable afterwards.
    let q = FindQuery::from_pairs([("count", "true")]).expect("query");
    assert!(matches!(
        store.find("nums", q, 100, Vec::new()).await.expect("count"),
        Found::Count(20_000)
    ));
    assert!(store.get("nums", "id19999").await.expect("get").is_some());
}

#[tokio::test]
async fn concurrent_writes_share_commits_and_all_land() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).expect("open"));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.insert("m", record(&format!("id{i:03}"), "u")).await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("insert");
    }
    let all: Vec<Value> = match store
        .find("m", FindQuery::new(), 1000, Vec::new())
        .await
        .expect("find")
    {
        Found::Records(t) => serde_json::from_str(&t).expect("json"),
        other => panic!("{other:?}"),
    };
    assert_eq!(all.len(), 200);
    assert_eq!(
        store.collections().await.expect("collections"),
        vec!["m".to_owned()]
    );
}

#[tokio::test]
async fn a_failing_write_does_not_undo_its_neighbours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).expect("open"));
    store.insert("m", record("dup", "u")).await.expect("first");
    let (a, b, c) = tokio::join!(
        store.insert("m", record("x1", "u")),
        store.insert("m", record("dup", "u")),
        store.insert("m", record("x2", "u")),
    );
    assert!(a.is_ok() && c.is_ok());
    match b {
        Err(StoreError::Rejected(body)) => assert_eq!(body.code, sdk_core::ErrorCode::IdTaken),
        other => panic!("the duplicate id should be refused as taken: {other:?}"),
    }
    let all: Vec<Value> = match store
        .find("m", FindQuery::new(), 10, Vec::new())
        .await
        .expect("find")
    {
        Found::Records(t) => serde_json::from_str(&t).expect("json"),
        other => panic!("{other:?}"),
    };
    assert_eq!(all.len(), 3);
}

#[tokio::test]
async fn writes_check_owner_and_version_atomically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("db.sqlite")).expect("open");
    store
        .insert("m", record("r", "alice"))
        .await
        .expect("insert");
    let merge = || {
        Change::Merge(
            json!({"b": 2, "a": null})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
    };
    let e = store
        .update(
            "m",
            "r",
            Some(Filter::eq("userId", "bob")),
            None,
            merge(),
            "t2".into(),
            None,
        )
        .await
        .expect_err("bob");
    assert!(matches!(e, StoreError::NotOwner));
    let e = store
        .update(
            "m",
            "r",
            Some(Filter::eq("userId", "alice")),
            Some(5),
            merge(),
            "t2".into(),
            None,
        )
        .await
        .expect_err("v");
    assert!(matches!(e, StoreError::VersionConflict(0)));
    let v = store
        .update(
            "m",
            "r",
            Some(Filter::eq("userId", "alice")),
            Some(0),
            merge(),
            "t2".into(),
            None,
        )
        .await
        .expect("ok");
    assert_eq!(v["__v"], 1);
    assert_eq!(v["b"], 2);
    assert!(v.get("a").is_none());
    assert_eq!(v["createdAt"], "t");
    let d = store
        .delete("m", "r", Some(Filter::eq("userId", "alice")), None)
        .await
        .expect("delete");
    assert_eq!(d["__v"], 1);
    assert!(store.get("m", "r").await.expect("get").is_none());
}

/// The `_id`s a read gives, in order.
async fn ids_of(store: &SqliteStore, coll: &str, pairs: &[(&str, &str)]) -> Vec<String> {
    let Ok(Found::Records(page)) = store.find(coll, query(pairs), 100, Vec::new()).await else {
        panic!("records");
    };
    let page: Vec<Value> = serde_json::from_str(&page).expect("json");
    page.iter()
        .map(|r| r["_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A property column's values for a collection, by record id.
fn column_values(path: &Path, coll: &str, col: &str) -> Vec<(String, Option<i64>)> {
    let c = Connection::open(path).expect("conn");
    let mut st = c
        .prepare(&format!(
            "SELECT id, {col} FROM records WHERE coll = ?1 ORDER BY id"
        ))
        .expect("select");
    st.query_map([coll], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect()
}

#[tokio::test]
async fn typed_fields_live_in_property_columns_kept_on_every_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    let store = SqliteStore::open(&path).expect("open");
    for i in 0..6 {
        let mut r = record(&format!("id{i}"), "u");
        r.insert("j".into(), json!(i % 3));
        store.insert("m", r).await.expect("insert");
    }
    let j = sdk_core::query::Path::parse("j").expect("path");
    let typed = Layout {
        types: [("j".to_owned(), FieldType::Number)].into_iter().collect(),
        ..Layout::default()
    };
    store
        .set_config("m", "{}".into(), typed.clone())
        .await
        .expect("config");
    // The records stored before the schema get the column filled.
    let layout = layout_of(&store.layouts, "m");
    assert_eq!(layout.column("j").as_deref(), Some("p0"));
    let sql = crate::store::sql::find("m", &query(&[("where", "j = 1")]), 30, &layout);
    assert!(
        sql.text.contains("p0") && !sql.text.contains("json_extract(doc,'$.j')"),
        "{}",
        sql.text
    );
    assert_eq!(
        ids_of(&store, "m", &[("where", "j = 1")]).await,
        ["id1", "id4"]
    );
    // Updates, merges that remove the field, and bulk inserts keep it.
    store
        .update(
            "m",
            "id0",
            None,
            None,
            Change::Merge(json!({"j": 1}).as_object().cloned().unwrap_or_default()),
            "t2".into(),
            None,
        )
        .await
        .expect("update");
    store
        .update(
            "m",
            "id4",
            None,
            None,
            Change::Merge(json!({"j": null}).as_object().cloned().unwrap_or_default()),
            "t2".into(),
            None,
        )
        .await
        .expect("remove");
    let more: Vec<_> = (6..8)
        .map(|i| {
            let mut r = record(&format!("id{i}"), "u");
            r.insert("j".into(), json!(1.0));
            r
        })
        .collect();
    store.insert_many("m", more).await.expect("bulk");
    assert_eq!(
        ids_of(&store, "m", &[("where", "j = 1")]).await,
        ["id0", "id1", "id6", "id7"]
    );
    assert_eq!(
        ids_of(&store, "m", &[("sortBy", "j desc"), ("where", "j >= 1")]).await,
        ["id5", "id2", "id7", "id6", "id1", "id0"].map(str::to_owned),
        "ties by id, descending"
    );
    // Indexed, the index is on the column.
    let indexed = Layout {
        indexes: vec![vec![j]],
        ..typed
    };
    store
        .set_config("m", "{}".into(), indexed)
        .await
        .expect("index");
    let c = Connection::open(&path).expect("conn");
    let ix: String = c
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'rk_ix_m_%'",
            [],
            |r| r.get(0),
        )
        .expect("index");
    assert!(ix.ends_with("ON records(coll, p0)"), "{ix}");
    let (inline, plan_text) = plan(&store, &path, "m", &query(&[("where", "j = 1")]));
    assert!(
        inline && plan_text.contains("USING INDEX rk_ix_m_"),
        "{plan_text}"
    );
    // No longer typed, the column is emptied and reads go to the document.
    store
        .set_config("m", "{}".into(), Layout::default())
        .await
        .expect("untyped");
    assert!(
        column_values(&path, "m", "p0")
            .iter()
            .all(|(_, v)| v.is_none())
    );
    assert_eq!(
        ids_of(&store, "m", &[("where", "j = 1")]).await,
        ["id0", "id1", "id6", "id7"]
    );
}

#[tokio::test]
async fn layouts_stored_before_property_columns_get_them_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    let store = SqliteStore::open(&path).expect("open");
    for i in 0..4 {
        let mut r = record(&format!("id{i}"), "u");
        r.insert("k".into(), json!(i % 2));
        store.insert("m", r).await.expect("insert");
    }
    drop(store);
    // As the previous version left it: a typed, indexed field read from the
    // document, a layout without columns.
    let c = Connection::open(&path).expect("conn");
    c.execute_batch(
        "INSERT INTO collection_config (name, config, layout) VALUES ('m', '{}', \
         '{\"types\":{\"k\":\"number\"},\"indexes\":[[\"k\"]]}'); \
         CREATE INDEX \"rk_ix_m_0123456789abcdef\" ON records(coll, json_extract(doc,'$.k'));",
    )
    .expect("old layout");
    drop(c);
    let store = SqliteStore::open(&path).expect("open fills the columns");
    assert_eq!(
        column_values(&path, "m", "p0"),
        [("id0", 0), ("id1", 1), ("id2", 0), ("id3", 1)].map(|(id, k)| (id.to_owned(), Some(k)))
    );
    assert_eq!(
        ids_of(&store, "m", &[("where", "k = 1")]).await,
        ["id1", "id3"]
    );
    let (_, plan_text) = plan(&store, &path, "m", &query(&[("where", "k = 1")]));
    assert!(plan_text.contains("USING INDEX rk_ix_m_"), "{plan_text}");
    let c = Connection::open(&path).expect("conn");
    let stale: bool = c
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'rk_ix_m_0123456789abcdef')",
            [],
            |r| r.get(0),
        )
        .expect("index");
    assert!(!stale, "the index on the document's field is dropped");
}

#[tokio::test]
async fn a_versioned_batch_writes_all_its_records_or_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("db.sqlite")).expect("open");
    for id in ["a", "b", "c"] {
        store.insert("t", record(id, "u1")).await.expect("insert");
    }
    let edit = |id: &str, version: u64, a: i64| Versioned {
        id: id.to_owned(),
        version,
        fields: json!({ "a": a }).as_object().cloned(),
    };
    let gone = |id: &str| Versioned {
        id: id.to_owned(),
        version: 0,
        fields: None,
    };
    // "b" is not at version 5: nothing of the batch is written.
    let r = store
        .write_versioned(
            "t",
            None,
            vec![edit("a", 0, 2), edit("b", 5, 2), gone("c")],
            "t2".into(),
            None,
        )
        .await;
    assert!(matches!(r, Err(StoreError::VersionConflict(0))), "{r:?}");
    for id in ["a", "b", "c"] {
        let doc = store.get("t", id).await.expect("get").expect("kept");
        assert!(doc.contains("\"a\":1"), "{doc}");
    }
    // At the versions read, all of it is written, system fields kept.
    let out = store
        .write_versioned(
            "t",
            None,
            vec![edit("a", 0, 2), edit("b", 0, 3), gone("c")],
            "t2".into(),
            None,
        )
        .await
        .expect("batch");
    assert_eq!(out.len(), 3);
    assert_eq!(
        (&out[0]["a"], &out[0]["__v"], &out[0]["userId"]),
        (&json!(2), &json!(1), &json!("u1"))
    );
    assert_eq!(out[2]["_id"], json!("c"));
    assert!(store.get("t", "c").await.expect("get").is_none());
    // A guard the record fails refuses the whole batch.
    let other = Filter::eq("userId", "u2");
    let r = store
        .write_versioned("t", Some(other), vec![edit("a", 1, 9)], "t3".into(), None)
        .await;
    assert!(matches!(r, Err(StoreError::NotOwner)), "{r:?}");
}
