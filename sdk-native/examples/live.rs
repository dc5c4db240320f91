//! Watches a collection live: every write whose record matches a query, as it
//! happens, from any client (run the `todos` example meanwhile).
//!
//! ```sh
//! cargo run -p sdk-native --example live -- http://127.0.0.1:8080 my-api-key-0123456789 'done = false'
//! ```

use rucksack::Sdk;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), rucksack::Error> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let key = args
        .next()
        .unwrap_or_else(|| "my-api-key-0123456789".into());
    let query = args.next().map_or(Value::Null, Value::String);

    let sdk = Sdk::new(&url, &key)?;
    // Reconnects, resumes and replays missed events by itself.
    let live = sdk.ws().await?;
    let mut todos = live.subscribe("todos", &query).await?;
    println!("watching todos ({query}); Ctrl-C to stop");
    while let Some(write) = todos.next().await {
        println!("{:?}: {}", write.action, write.response);
    }
    Ok(())
}
