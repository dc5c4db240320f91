//! The command line beside a running server: `users list`, `collections list`,
//! `get` and `set`, with `--data-dir` anywhere on the line; `backup` while
//! writes go on, and `restore` into a fresh data directory.

use e2e::Server;
use rucksack::{CollectionConfig, Record};
use serde_json::{Value, json};

/// Runs `rucksack-server ARGS`, expecting `ok`; returns what it printed (to
/// stdout when it succeeded, to stderr when it failed).
fn run(args: &[&str], ok: bool) -> String {
    // A data directory whose server keeps its data in PostgreSQL: the command
    // goes to the same database.
    let database = args
        .iter()
        .position(|a| *a == "--data-dir")
        .and_then(|i| args.get(i + 1))
        .map(std::path::Path::new)
        .filter(|d| d.join(".pg_schema").exists())
        .map(e2e::postgres_schema);
    let mut command = std::process::Command::new(e2e::server_bin());
    if let Some(url) = &database {
        command.args(["--database", url]);
    }
    let out = command.args(args).output().expect("run the command");
    assert_eq!(
        out.status.success(),
        ok,
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(if ok { &out.stdout } else { &out.stderr }).into_owned()
}

/// Runs `rucksack-server ARGS` and returns what it printed.
fn cli(args: &[&str]) -> String {
    run(args, true)
}

#[tokio::test]
async fn users_and_collections_are_listed_from_the_command_line() {
    let server = Server::start();
    let dir = server.data_dir.to_string_lossy().into_owned();
    let (sdk, id) = server.signed_in("listed").await;
    let _: Record<Value> = sdk
        .db()
        .create_resource("notes", &json!({"a": 1}))
        .await
        .expect("create");
    let config: CollectionConfig = serde_json::from_value(json!({"upsert": true})).expect("config");
    server
        .admin_sdk()
        .db()
        .set_collection_config("configured", &config)
        .await
        .expect("configure");

    let users = cli(&["users", "list", "--data-dir", &dir]);
    let mine = users
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} in\n{users}"));
    assert!(mine.contains("listed"), "{mine}");

    // --data-dir before the command works as well.
    let names = cli(&["--data-dir", &dir, "collections", "list"]);
    assert_eq!(names.lines().collect::<Vec<_>>(), ["configured", "notes"]);
    let got: Value = serde_json::from_str(&cli(&[
        "collections",
        "get",
        "configured",
        "--data-dir",
        &dir,
    ]))
    .expect("JSON");
    assert_eq!(got["upsert"], true);
    let none: Value =
        serde_json::from_str(&cli(&["collections", "get", "notes", "--data-dir", &dir]))
            .expect("JSON");
    assert_eq!(none, json!({}));
}

/// Runs `rucksack-server ARGS`, expecting it to fail; returns what it said.
fn cli_fails(args: &[&str]) -> String {
    run(args, false)
}

#[tokio::test]
async fn a_backup_taken_while_writes_go_on_restores_records_users_and_files_whole() {
    // The archive holds the file bytes only when they are in the data directory.
    let server = Server::start_local();
    let dir = server.data_dir.to_string_lossy().into_owned();
    let (sdk, who, id) = server.registered("backup").await;
    for i in 0..50 {
        let _: Record<Value> = sdk
            .db()
            .create_resource("notes", &json!({"i": i, "text": format!("note {i}")}))
            .await
            .expect("create");
    }
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    sdk.storage()
        .upload_file(
            rucksack::Upload::bytes(photo.clone()),
            "photo.jpg",
            "photos",
        )
        .await
        .expect("upload");

    // Writes go on while the backup is taken.
    let writer = {
        let sdk = server.sdk();
        sdk.auth().login(&who, e2e::PASSWORD).await.expect("login");
        tokio::spawn(async move {
            for i in 50..250 {
                let _: Record<Value> = sdk
                    .db()
                    .create_resource("notes", &json!({"i": i, "text": format!("note {i}")}))
                    .await
                    .expect("create");
            }
        })
    };
    let work = tempfile::tempdir().expect("tmp");
    let archive = work.path().join("backup.tar");
    let archive_s = archive.to_string_lossy().into_owned();
    let said = cli(&["backup", &archive_s, "--data-dir", &dir]);
    assert!(said.contains("1 file blob"), "{said}");
    writer.await.expect("writer");
    let live: Vec<Record<Value>> = sdk.db().get_collection("notes").await.expect("live");
    assert_eq!(live.len(), 250);

    // Into a fresh data directory; a server there has it all.
    let fresh = work.path().join("restored");
    let fresh_s = fresh.to_string_lossy().into_owned();
    cli(&["--data-dir", &fresh_s, "restore", &archive_s]);
    let restored_server = Server::start_in_local(&fresh);
    let again = restored_server.sdk();
    assert_eq!(
        again
            .auth()
            .login(&who, e2e::PASSWORD)
            .await
            .expect("login")
            .id,
        id
    );
    let restored: Vec<Record<Value>> = again.db().get_collection("notes").await.expect("read");
    // As of one moment: the first 50 and a run of the later ones, each exactly as written.
    assert!(restored.len() >= 50, "{}", restored.len());
    let by_id: std::collections::HashMap<&str, &Record<Value>> =
        live.iter().map(|r| (r.id.as_str(), r)).collect();
    for (n, r) in restored.iter().enumerate() {
        assert_eq!(r.data["i"], json!(n), "records in order, none missing");
        assert_eq!(r, by_id[r.id.as_str()]);
    }
    let bytes = again
        .storage()
        .get_file(&id, "photo.jpg")
        .await
        .expect("file");
    assert!(bytes == photo, "the file comes back byte for byte");

    // A data directory that holds a database is never overwritten.
    let err = cli_fails(&["restore", &archive_s, "--data-dir", &fresh_s]);
    assert!(err.contains("already holds a database"), "{err}");
}

#[tokio::test]
async fn a_collection_exported_as_json_lines_imports_whole_or_not_at_all() {
    let server = Server::start();
    let dir = server.data_dir.to_string_lossy().into_owned();
    let (sdk, _) = server.signed_in("exporter").await;
    // More than one export page, so the pages are walked.
    let mut made: Vec<Record<Value>> = Vec::new();
    for block in 0..3 {
        let batch: Vec<Value> = (0..500).map(|i| json!({"i": block * 500 + i})).collect();
        let part: Vec<Record<Value>> = sdk
            .db()
            .insert_many("exported", &batch)
            .await
            .expect("insert");
        made.extend(part);
    }
    let work = tempfile::tempdir().expect("tmp");
    let file = work.path().join("exported.jsonl");
    let file_s = file.to_string_lossy().into_owned();
    let said = cli(&["export", "exported", &file_s, "--data-dir", &dir]);
    assert!(said.contains("1500 record"), "{said}");
    let text = std::fs::read_to_string(&file).expect("read");
    assert_eq!(text.lines().count(), 1_500);

    // Into another collection of a fresh server: the same records, system fields and all.
    let other = Server::start();
    let other_dir = other.data_dir.to_string_lossy().into_owned();
    cli(&["import", "copied", &file_s, "--data-dir", &other_dir]);
    let mut copied: Vec<Record<Value>> = other
        .sdk()
        .db()
        .get_collection("copied")
        .await
        .expect("read");
    let mut want = made.clone();
    copied.sort_by(|a, b| a.id.cmp(&b.id));
    want.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(copied, want);

    // A bad line anywhere, or ids already there: nothing is written.
    let bad = work.path().join("bad.jsonl");
    let mut lines: Vec<&str> = text.lines().take(10).collect();
    lines.push("{\"_id\": \"x1\", \"createdAt\": \"t\"}");
    std::fs::write(&bad, lines.join("\n")).expect("write");
    let err = cli_fails(&[
        "import",
        "fresh",
        &bad.to_string_lossy(),
        "--data-dir",
        &other_dir,
    ]);
    assert!(err.contains("line 11"), "{err}");
    let err = cli_fails(&["import", "copied", &file_s, "--data-dir", &other_dir]);
    assert!(err.contains("nothing imported"), "{err}");
    assert_eq!(
        other
            .sdk()
            .db()
            .get_collection::<Value>("copied")
            .await
            .expect("read")
            .len(),
        1_500
    );
    assert!(
        other
            .sdk()
            .db()
            .get_collection::<Value>("fresh")
            .await
            .expect("read")
            .is_empty()
    );
}

#[tokio::test]
async fn a_user_deleted_from_the_command_line_is_signed_out_and_gone() {
    let server = Server::start();
    let dir = server.data_dir.to_string_lossy().into_owned();
    let (sdk, who, id) = server.registered("deleted").await;
    let said = cli(&["users", "delete", &who, "--data-dir", &dir]);
    assert!(said.contains(&id), "{said}");
    // The running server trusts a session it has seen for at most a second
    // before it asks the database again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let e = loop {
        match sdk
            .db()
            .create_resource::<Value>("notes", &json!({"a": 1}))
            .await
        {
            Err(e) => break e,
            Ok(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Ok(r) => panic!("still signed in: {r:?}"),
        }
    };
    assert_eq!(
        e.code(),
        Some(&rucksack::ErrorCode::Unauthenticated),
        "{e:?}"
    );
    assert!(!cli(&["users", "list", "--data-dir", &dir]).contains(&id));
    let err = cli_fails(&["users", "delete", &id, "--data-dir", &dir]);
    assert!(err.contains("no user"), "{err}");
}

/// `collections set` checks a configuration file as the HTTP route does, stores
/// it, and a running server takes it up within a second; a file with a script
/// that does not compile is refused with the reason and changes nothing.
#[tokio::test]
async fn collections_set_from_a_file_reaches_the_running_server() {
    let server = Server::start();
    let dir = server.data_dir.to_string_lossy().into_owned();
    let (sdk, _) = server.signed_in("configured").await;
    let _: Record<Value> = sdk
        .db()
        .create_resource("drafts", &json!({"title": "before"}))
        .await
        .expect("create before");
    let work = tempfile::tempdir().expect("tmp");
    let file = work.path().join("drafts.json");
    let file_s = file.to_string_lossy().into_owned();

    std::fs::write(
        &file,
        r#"{"events": {"validate": "if (!this.title) error('title', 'needed'"}}"#,
    )
    .expect("write");
    let said = cli_fails(&["collections", "set", "drafts", &file_s, "--data-dir", &dir]);
    assert!(said.contains("events.validate"), "{said}");
    std::fs::write(&file, "{not json").expect("write");
    let said = cli_fails(&["collections", "set", "drafts", &file_s, "--data-dir", &dir]);
    assert!(said.contains("not JSON"), "{said}");
    std::fs::write(&file, "{}").expect("write");
    let said = cli_fails(&[
        "collections",
        "set",
        "softuni_users",
        &file_s,
        "--data-dir",
        &dir,
    ]);
    assert!(said.contains("public profiles"), "{said}");
    let said = cli_fails(&[
        "collections",
        "set",
        "bad name!",
        &file_s,
        "--data-dir",
        &dir,
    ]);
    assert!(said.contains("name"), "{said}");
    assert_eq!(
        cli(&["collections", "get", "drafts", "--data-dir", &dir]).trim(),
        "{}",
        "nothing stored"
    );

    std::fs::write(
        &file,
        r#"{"events": {"validate": "if (!this.title) error('title', 'needed');"}}"#,
    )
    .expect("write");
    let stored: Value = serde_json::from_str(&cli(&[
        "--data-dir",
        &dir,
        "collections",
        "set",
        "drafts",
        &file_s,
    ]))
    .expect("the stored configuration as JSON");
    assert!(stored["events"]["validate"].is_string(), "{stored}");
    let got: Value =
        serde_json::from_str(&cli(&["collections", "get", "drafts", "--data-dir", &dir]))
            .expect("JSON");
    assert_eq!(got, stored);

    // The running server refuses a record without a title within a few seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let refused = sdk
            .db()
            .create_resource::<Value>("drafts", &json!({"text": "no title"}))
            .await;
        match refused {
            Err(e) => {
                assert_eq!(e.status(), Some(400), "{e:?}");
                break;
            }
            Ok(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Ok(_) => panic!("the running server did not take up the configuration"),
        }
    }
    let config = server
        .admin_sdk()
        .db()
        .collection_config("drafts")
        .await
        .expect("config over HTTP");
    assert!(config.events.validate.is_some());
}
