//! A to-do list against a running server: sign up (or in), add, tick off, list
//! and count, keeping the session in a file so the next run starts signed in.
//!
//! ```sh
//! cargo run -p reference-server --bin rucksack-server -- --api-key my-api-key-0123456789 &
//! cargo run -p sdk-native --example todos -- http://127.0.0.1:8080 my-api-key-0123456789
//! ```

use rucksack::query::{Filter, FindQuery};
use rucksack::{ErrorCode, Sdk};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Serialize, Deserialize)]
struct Todo {
    title: String,
    done: bool,
}

const SESSION_FILE: &str = "todos-session.txt";

#[tokio::main]
async fn main() -> Result<(), rucksack::Error> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let key = args
        .next()
        .unwrap_or_else(|| "my-api-key-0123456789".into());

    // Start signed in when an earlier run kept its session.
    let mut builder = Sdk::builder(&url, &key).timeout(Duration::from_secs(10));
    if let Ok(token) = std::fs::read_to_string(SESSION_FILE) {
        builder = builder.session_token(token.trim());
    }
    let sdk = builder.build()?;
    match sdk.auth().me().await {
        Ok(me) => println!("signed in again as {}", me.email),
        Err(e)
            if e.code() == Some(&ErrorCode::Unauthenticated) || sdk.session_token().is_none() =>
        {
            let (email, password) = ("todo-example@example.com", "todo example password");
            if sdk.auth().login(email, password).await.is_err() {
                sdk.auth().register(email, password).await?;
            }
            println!("signed in as {email}");
        }
        Err(e) => return Err(e),
    }
    if let Some(token) = sdk.session_token() {
        // Readable by this user only, in a real app (a keychain, 0600 file).
        let _ = std::fs::write(SESSION_FILE, token);
    }

    let db = sdk.db();
    let milk = db
        .create_resource::<Todo>(
            "todos",
            &Todo {
                title: "buy milk".into(),
                done: false,
            },
        )
        .await?;
    db.create_resource::<Todo>(
        "todos",
        &Todo {
            title: "call Ann".into(),
            done: false,
        },
    )
    .await?;
    // A merge: only `done` changes; the version goes up by one.
    let ticked = db
        .update_resource::<Todo>("todos", &milk.id, &serde_json::json!({"done": true}))
        .await?;
    println!("'{}' done at version {}", ticked.data.title, ticked.version);

    let open = FindQuery::new()
        .filter(Filter::eq("done", false))
        .sort_desc("createdAt")
        .page_size(20);
    for todo in db.find::<Todo>("todos", &open).await? {
        println!("to do: {}", todo.data.title);
    }
    let total = db.count("todos", None).await?;
    println!("{total} to-dos in all");
    Ok(())
}
