//! The command line beside a running server: `users list`, `collections list`
//! and `collections get`, with `--data-dir` anywhere on the line; `backup` while
//! writes go on, and `restore` into a fresh data directory.

use e2e::Server;
use rucksack::{CollectionConfig, Record};
use serde_json::{Value, json};

/// Runs `rucksack-server ARGS` and returns what it printed.
fn cli(args: &[&str]) -> String {
    let out = std::process::Command::new(e2e::server_bin())
        .args(args)
        .output()
        .expect("run the command");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    let out = std::process::Command::new(e2e::server_bin())
        .args(args)
        .output()
        .expect("run the command");
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn a_backup_taken_while_writes_go_on_restores_records_users_and_files_whole() {
    let server = Server::start();
    let dir = server.data_dir.to_string_lossy().into_owned();
    let who = e2e::email("backup");
    let sdk = server.sdk();
    let id = sdk
        .auth()
        .register(&who, e2e::PASSWORD)
        .await
        .expect("register")
        .id;
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
    let restored_server = Server::start_in(&fresh);
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
