//! The native SDK's per-request cost next to a bare reqwest call: the same
//! `GET /<collection>/<id>` made one after another over one kept-alive
//! connection, through `rucksack::Sdk::db().get_resource` (request built by
//! sdk-core, answer checked and decoded into a typed record) and through a
//! bare `reqwest::Client` (send, read the body). Each way runs `--rounds`
//! rounds of `--requests` requests after a warm-up; the median round counts.
//!
//! ```text
//! sdk-overhead --url http://127.0.0.1:8080 --key KEY --collection messages --id ID
//! ```
//! Prints one JSON line: microseconds per request each way and their ratio.

use e2e::arg;
use serde::Deserialize;
use std::time::Instant;

#[derive(Deserialize)]
#[allow(dead_code)] // decoded to measure decoding; never read
struct Message {
    text: String,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = arg("--url", "http://127.0.0.1:8080");
    let key = arg("--key", "bench-key");
    let collection = arg("--collection", "messages");
    let id = arg("--id", "");
    let requests: usize = arg("--requests", "2000").parse()?;
    let rounds: usize = arg("--rounds", "5").parse()?;

    let sdk = rucksack::Sdk::new(&url, &key)?;
    let bare = reqwest::Client::new();
    let target = format!("{}/{collection}/{id}", url.trim_end_matches('/'));
    let sdk_round = async || -> Result<f64, Box<dyn std::error::Error>> {
        let start = Instant::now();
        for _ in 0..requests {
            sdk.db().get_resource::<Message>(&collection, &id).await?;
        }
        Ok(start.elapsed().as_secs_f64() * 1e6 / requests as f64)
    };
    let bare_round = async || -> Result<f64, Box<dyn std::error::Error>> {
        let start = Instant::now();
        for _ in 0..requests {
            let res = bare
                .get(&target)
                .header("authorization", format!("key {key}"))
                .send()
                .await?;
            if !res.status().is_success() {
                return Err(format!("GET {target}: {}", res.status()).into());
            }
            res.bytes().await?;
        }
        Ok(start.elapsed().as_secs_f64() * 1e6 / requests as f64)
    };
    // Warm-up: connections open, allocators and caches settled.
    sdk_round().await?;
    bare_round().await?;
    let (mut with_sdk, mut with_bare) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        with_sdk.push(sdk_round().await?);
        with_bare.push(bare_round().await?);
    }
    let (s, b) = (median(with_sdk), median(with_bare));
    println!(
        "{{\"requests\":{requests},\"rounds\":{rounds},\"sdk_us\":{s:.1},\"reqwest_us\":{b:.1},\"ratio\":{:.3}}}",
        s / b
    );
    Ok(())
}
