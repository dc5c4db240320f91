//! The command line beside a running server: `users list`, `collections list`
//! and `collections get`, with `--data-dir` anywhere on the line.

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
