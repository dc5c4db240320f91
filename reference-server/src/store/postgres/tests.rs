//! The PostgreSQL engine against a real PostgreSQL (`RUCKSACK_TEST_POSTGRES`,
//! by default `postgres://postgres@127.0.0.1:5432/test`), each test in a schema
//! of its own that it drops at the end.

use super::*;
use crate::store::{Accounts, FileBytes, FileRecords};
use sdk_core::files::FileRecord;

/// The database the tests use.
pub(crate) fn test_url() -> String {
    std::env::var("RUCKSACK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of its own for one test: its URL, and a guard that drops it.
pub(crate) struct Scratch {
    pub url: String,
    schema: String,
}

impl Scratch {
    pub(crate) async fn new() -> Self {
        let schema = format!(
            "rk_test_{}",
            crate::clock::hex(&crate::clock::random_bytes::<6>())
        );
        let (client, conn) = tokio_postgres::connect(&test_url(), tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL at RUCKSACK_TEST_POSTGRES");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("schema");
        let sep = if test_url().contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}options=-c%20search_path%3D{schema}", test_url());
        Self { url, schema }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let schema = self.schema.clone();
        // Dropped from a plain thread: a test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&test_url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

fn file(id: &str, user: &str, name: &str) -> FileRecord {
    FileRecord {
        id: id.into(),
        user_id: user.into(),
        filename: name.into(),
        bucket: "b".into(),
        size: 3,
        content_type: "text/plain".into(),
        sha256: "00".into(),
        created_at: "t0".into(),
        updated_at: "t0".into(),
        version: 0,
    }
}

#[tokio::test]
async fn accounts_sessions_and_keys_keep_their_rules() {
    let scratch = Scratch::new().await;
    let s = PgStore::open(&scratch.url).await.expect("open");
    s.create_user("u1", "a@x.io", "h1").await.expect("user");
    assert!(matches!(
        s.create_user("u2", "a@x.io", "h2").await,
        Err(StoreError::EmailTaken)
    ));
    let u = s
        .user_by_email("a@x.io")
        .await
        .expect("read")
        .expect("found");
    assert_eq!((u.id.as_str(), u.password_hash.as_str()), ("u1", "h1"));
    assert_eq!(
        s.user_by_id("u1").await.expect("read").map(|u| u.email),
        Some("a@x.io".into())
    );
    s.create_user("u2", "b@x.io", "h2")
        .await
        .expect("second user");
    let ids: Vec<String> = s
        .users()
        .await
        .expect("users")
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids.len(), 2);

    s.create_session("t1", "u1", 100).await.expect("session");
    s.create_session("t2", "u1", 100).await.expect("session");
    assert_eq!(
        s.session_user("t1", 50).await.expect("read"),
        Some(("u1".into(), 100))
    );
    assert_eq!(
        s.session_user("t1", 100).await.expect("read"),
        None,
        "expired"
    );
    s.renew_session("t1", 200).await.expect("renew");
    assert_eq!(
        s.session_user("t1", 150).await.expect("read"),
        Some(("u1".into(), 200))
    );
    // A password change ends every other session.
    s.set_password("u1", "h1b", Some("t1"))
        .await
        .expect("password");
    assert!(s.session_user("t1", 50).await.expect("read").is_some());
    assert!(s.session_user("t2", 50).await.expect("read").is_none());
    assert!(matches!(
        s.set_password("nobody", "h", None).await,
        Err(StoreError::NotFound)
    ));
    s.delete_session("t1").await.expect("logout");
    assert!(s.session_user("t1", 50).await.expect("read").is_none());

    s.create_key("k1", "web", "kh1").await.expect("key");
    assert!(s.key_live("kh1").await.expect("live"));
    assert_eq!(s.revoke_key("k1", 5).await.expect("revoke"), "kh1");
    assert!(!s.key_live("kh1").await.expect("live"));
    assert!(matches!(
        s.revoke_key("k1", 6).await,
        Err(StoreError::NotFound)
    ));
    let keys = s.list_keys().await.expect("keys");
    assert_eq!((keys.len(), keys[0].revoked_at), (1, Some(5)));

    s.create_session("t3", "u2", 100).await.expect("session");
    s.delete_user("u2").await.expect("delete");
    assert!(s.user_by_id("u2").await.expect("read").is_none());
    assert!(s.session_user("t3", 50).await.expect("read").is_none());
}

#[tokio::test]
async fn servers_racing_on_one_email_or_one_file_name_never_both_win() {
    let scratch = Scratch::new().await;
    // Two stores, as two server processes: both create the tables at once.
    let (a, b) = tokio::join!(PgStore::open(&scratch.url), PgStore::open(&scratch.url));
    let (a, b) = (a.expect("open a"), b.expect("open b"));
    for round in 0..20 {
        let email = format!("race{round}@x.io");
        let (ida, idb) = (format!("a{round}"), format!("b{round}"));
        let (ra, rb) = tokio::join!(
            a.create_user(&ida, &email, "h"),
            b.create_user(&idb, &email, "h")
        );
        assert!(
            ra.is_ok() != rb.is_ok(),
            "exactly one registers: {ra:?} {rb:?}"
        );
        let name = format!("f{round}.txt");
        let (fa, fb) = tokio::join!(
            a.file_insert(file(&format!("fa{round}"), "u", &name), "blob-a".into()),
            b.file_insert(file(&format!("fb{round}"), "u", &name), "blob-b".into())
        );
        assert!(
            fa.is_ok() != fb.is_ok(),
            "one file of that name: {fa:?} {fb:?}"
        );
        assert!(matches!(
            fa.err().or(fb.err()),
            Some(StoreError::FileExists)
        ));
    }
}

#[tokio::test]
async fn file_metadata_changes_whole_and_names_stay_unique() {
    let scratch = Scratch::new().await;
    let s = PgStore::open(&scratch.url).await.expect("open");
    s.file_insert(file("f1", "u", "a.txt"), "blob1".into())
        .await
        .expect("insert");
    s.file_insert(file("f2", "u", "b.txt"), "blob2".into())
        .await
        .expect("insert");
    s.file_insert(file("f3", "v", "a.txt"), "blob3".into())
        .await
        .expect("another user's file of the same name");
    let (rec, old) = s
        .file_replace(
            "u",
            "a.txt",
            FileBytes {
                blob: "blob4".into(),
                size: 9,
                sha256: "11".into(),
                content_type: "image/png".into(),
            },
            "t1".into(),
        )
        .await
        .expect("replace");
    assert_eq!((old.as_str(), rec.version, rec.size), ("blob1", 1, 9));
    assert_eq!(
        s.file_get("u", "a.txt").await.expect("get").map(|(_, b)| b),
        Some("blob4".into())
    );
    assert!(matches!(
        s.file_rename("u", "a.txt", "b.txt", "b", "t2".into()).await,
        Err(StoreError::FileExists)
    ));
    let moved = s
        .file_rename("u", "a.txt", "c.txt", "pics", "t2".into())
        .await
        .expect("rename");
    assert_eq!((moved.bucket.as_str(), moved.version), ("pics", 2));
    let names: Vec<String> = s
        .file_list("u")
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.filename)
        .collect();
    assert_eq!(names, vec!["b.txt".to_owned(), "c.txt".to_owned()]);
    let (gone, blob) = s.file_delete("u", "b.txt").await.expect("delete");
    assert_eq!((gone.id.as_str(), blob.as_str()), ("f2", "blob2"));
    assert!(matches!(
        s.file_delete("u", "b.txt").await,
        Err(StoreError::NotFound)
    ));
    let blobs = s.file_blobs().await.expect("blobs");
    assert_eq!(
        blobs,
        ["blob3", "blob4"].into_iter().map(String::from).collect()
    );
}

#[tokio::test]
async fn a_database_from_a_newer_server_is_refused() {
    let scratch = Scratch::new().await;
    let s = PgStore::open(&scratch.url).await.expect("open");
    let c = s.conn().await.expect("conn");
    c.execute(
        "UPDATE rucksack_meta SET value = '999' WHERE key = 'schema_version'",
        &[],
    )
    .await
    .expect("bump");
    drop(c);
    let err = PgStore::open(&scratch.url).await.expect_err("refused");
    assert!(err.to_string().contains("newer server"), "{err}");
    assert!(matches!(
        PgStore::open("postgres://nobody@127.0.0.1:1/none").await,
        Err(StoreError::Engine(_))
    ));
}

/// A small xorshift generator: the same cases every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize].clone()
    }
}

fn value(r: &mut Rng) -> Option<serde_json::Value> {
    use serde_json::json;
    r.pick(&[
        None,
        Some(json!(null)),
        Some(json!(0)),
        Some(json!(1)),
        Some(json!(2.5)),
        Some(json!(-3)),
        Some(json!(1e20)),
        Some(json!("")),
        Some(json!("a")),
        Some(json!("B")),
        Some(json!("abc")),
        Some(json!("é")),
        Some(json!("1")),
        Some(json!(true)),
        Some(json!(false)),
        Some(json!([1, 2])),
        Some(json!({"b": 1})),
        Some(json!({"b": "a"})),
    ])
}

fn scalar(r: &mut Rng) -> sdk_core::query::Scalar {
    use sdk_core::query::Scalar;
    r.pick(&[
        Scalar::Null,
        Scalar::Bool(true),
        Scalar::Bool(false),
        Scalar::Number(0.into()),
        Scalar::Number(1.into()),
        Scalar::Number(serde_json::Number::from_f64(2.5).expect("number")),
        Scalar::Number((-3).into()),
        Scalar::String(String::new()),
        Scalar::String("a".into()),
        Scalar::String("abc".into()),
        Scalar::String("B".into()),
        Scalar::String("1".into()),
    ])
}

fn gen_filter(r: &mut Rng, depth: u32) -> sdk_core::query::Filter {
    use sdk_core::query::{CmpOp, Filter, Path, Pattern};
    let field = Path::parse(r.pick(&["a", "c", "a.b", "n.0", "_id", "createdAt"])).expect("path");
    let kind = if depth == 0 {
        r.next() % 6
    } else {
        r.next() % 9
    };
    match kind {
        0 | 1 => Filter::Compare {
            field,
            op: r.pick(&[
                CmpOp::Eq,
                CmpOp::Ne,
                CmpOp::Lt,
                CmpOp::Lte,
                CmpOp::Gt,
                CmpOp::Gte,
            ]),
            value: scalar(r),
        },
        2 => Filter::In {
            field,
            values: (0..r.next() % 3).map(|_| scalar(r)).collect(),
        },
        3 => Filter::Exists {
            field,
            exists: r.next().is_multiple_of(2),
        },
        4 => Filter::Like {
            field,
            needle: r.pick(&["A", "b", "É", ""]).into(),
        },
        5 => Filter::Regex {
            field,
            pattern: Pattern::new(r.pick(&["^a", "c$", "[0-9]"]), "i").expect("pattern"),
        },
        6 => Filter::Not(Box::new(gen_filter(r, depth - 1))),
        7 => Filter::And((0..3).map(|_| gen_filter(r, depth - 1)).collect()),
        _ => Filter::Or((0..3).map(|_| gen_filter(r, depth - 1)).collect()),
    }
}

#[tokio::test]
async fn reads_answer_exactly_as_the_evaluator_does() {
    use crate::store::{Found, Records};
    use sdk_core::query::{FindQuery, FindResult};
    let scratch = Scratch::new().await;
    let s = PgStore::open(&scratch.url).await.expect("open");
    let mut r = Rng(0x5eed_1234_abcd_0001);
    let mut records = Vec::new();
    for i in 0..120 {
        let mut m = serde_json::Map::new();
        m.insert("_id".into(), format!("id{:03}", (i * 37) % 120).into());
        m.insert("userId".into(), "u".into());
        // Some records lack a time stamp: they sort first, as missing values do.
        if i % 10 != 0 {
            m.insert(
                "createdAt".into(),
                format!("2026-01-{:02}", 1 + i % 28).into(),
            );
        }
        m.insert("updatedAt".into(), "2026-02-01".into());
        m.insert("__v".into(), 0.into());
        for f in ["a", "c", "n"] {
            if let Some(v) = value(&mut r) {
                m.insert(f.into(), v);
            }
        }
        records.push(serde_json::Value::Object(m.clone()));
        s.insert("things", m).await.expect("insert");
    }
    for case in 0..400 {
        // A third without a filter, a third with one leaf, a third deeper:
        // reads SQL serves whole and reads the evaluator finishes.
        let mut q = match case % 3 {
            0 => FindQuery::new(),
            1 => FindQuery::new().filter(gen_filter(&mut r, 0)),
            _ => FindQuery::new().filter(gen_filter(&mut r, 2)),
        };
        match case % 5 {
            1 => q = q.sort_desc("createdAt"),
            4 => q = q.sort_asc("createdAt").sort_desc("_id"),
            2 => q.count = true,
            3 => q = q.sort_asc("c"),
            _ => {}
        }
        q.offset = r.next() % 3;
        let want = q.apply(&records, 25);
        let got = s.find("things", q.clone(), 25, vec![]).await.expect("find");
        match (want, got) {
            (FindResult::Count(a), Found::Count(b)) => assert_eq!(a, b, "case {case}: {q:?}"),
            (FindResult::Records(a), Found::Records(b)) => {
                let b: Vec<serde_json::Value> = serde_json::from_str(&b).expect("json");
                assert_eq!(a, b, "case {case}: {q:?}");
                // The next page resumes where this one ended.
                if let Some(next) = q.next_page(&a) {
                    let want = next.apply(&records, 25);
                    let got = s
                        .find("things", next.clone(), 25, vec![])
                        .await
                        .expect("page");
                    let (FindResult::Records(a), Found::Records(b)) = (want, got) else {
                        panic!("case {case}: a page");
                    };
                    let b: Vec<serde_json::Value> = serde_json::from_str(&b).expect("json");
                    assert_eq!(a, b, "case {case}, next page: {next:?}");
                }
            }
            (a, b) => panic!("case {case}: {a:?} against {b:?}"),
        }
    }
}

#[tokio::test]
async fn creates_sent_together_share_a_transaction_yet_each_gets_its_own_answer() {
    use crate::store::Records;
    let scratch = Scratch::new().await;
    let s = std::sync::Arc::new(PgStore::open(&scratch.url).await.expect("open"));
    let rec = |id: &str, text: &str| {
        serde_json::json!({"_id": id, "userId": "u", "createdAt": "t", "updatedAt": "t", "__v": 0, "text": text})
            .as_object()
            .cloned()
            .unwrap_or_default()
    };
    s.insert("notes", rec("old", "first")).await.expect("first");
    let mut tasks = Vec::new();
    for i in 0..300 {
        let s = s.clone();
        // Every 50th repeats an id of this burst, every 70th the stored one, and
        // one holds a character PostgreSQL cannot store.
        let id = match i {
            i if i % 70 == 69 => "old".to_owned(),
            i if i % 50 == 49 => format!("n{}", i - 1),
            i => format!("n{i}"),
        };
        let text = if i == 123 {
            "bad\u{0}".to_owned()
        } else {
            format!("note {i}")
        };
        tasks.push(tokio::spawn(async move {
            (id.clone(), s.insert("notes", rec(&id, &text)).await)
        }));
    }
    let mut ok = std::collections::HashSet::new();
    let (mut taken, mut refused) = (0, 0);
    for t in tasks {
        let (id, r) = t.await.expect("task");
        match r {
            Ok(v) => {
                assert_eq!(v["_id"], id.as_str());
                assert!(ok.insert(id), "one create per id succeeds");
            }
            Err(StoreError::Rejected(b)) if b.code == sdk_core::ErrorCode::IdTaken => taken += 1,
            Err(StoreError::Rejected(b)) if b.code == sdk_core::ErrorCode::ValidationFailed => {
                refused += 1
            }
            Err(e) => panic!("{id}: {e}"),
        }
    }
    // 4 "old" and 6 repeats are taken, n123 is refused; the rest are written.
    assert_eq!((taken, refused, ok.len()), (10, 1, 289));
    let stored = s
        .find(
            "notes",
            sdk_core::query::FindQuery::new().page_size(1000),
            1000,
            vec![],
        )
        .await
        .expect("read");
    let crate::store::Found::Records(text) = stored else {
        panic!("records")
    };
    let all: Vec<serde_json::Value> = serde_json::from_str(&text).expect("json");
    assert_eq!(all.len(), 290, "the 289 and the first");
    assert!(
        s.write_stats().groups < 200,
        "creates shared transactions: {:?}",
        s.write_stats()
    );
}
