//! A WebSocket soak against a running server: holds N sockets open for a
//! number of minutes while a writer creates records at a fixed rate and, every
//! second, the oldest sockets leave and as many new ones join. Every socket checks it
//! received every record written while it was open, in order (each carries its
//! number `n`); the server's memory is reported every minute.
//!
//! ```text
//! soak --url http://127.0.0.1:8080 --key KEY --pid SERVER_PID --sockets 10000 --minutes 10 --rate 5 --churn 20
//! ```
//! Prints a JSON line per minute and one at the end.

use e2e::{arg, register_writer, rss_kib};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// The record number a write event carries (`"n":<number>`), without parsing the frame.
fn number(text: &str) -> Option<u64> {
    let i = text.find("\"n\":")? + 4;
    let digits: String = text[i..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What all sockets saw.
#[derive(Default)]
struct Tally {
    delivered: AtomicU64,
    /// Records a socket should have received (between its first and last) and did not.
    missing: AtomicU64,
    /// Records received twice or out of order.
    disordered: AtomicU64,
    /// Sockets the server closed.
    closed_by_server: AtomicUsize,
    open: AtomicUsize,
}

/// One socket: counts the records it receives until told to leave (or the
/// server closes it), checking they are consecutive.
async fn hold(ws_url: String, tally: Arc<Tally>, mut leave: tokio::sync::oneshot::Receiver<()>) {
    let mut ws = loop {
        match tokio_tungstenite::connect_async(&ws_url).await {
            Ok((ws, _)) => break ws,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    tally.open.fetch_add(1, Ordering::Relaxed);
    let mut last: Option<u64> = None;
    loop {
        tokio::select! {
            _ = &mut leave => break,
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let Some(n) = number(t.as_str()) else { continue };
                    tally.delivered.fetch_add(1, Ordering::Relaxed);
                    match last {
                        Some(l) if n == l + 1 => {}
                        Some(l) if n > l + 1 => {
                            tally.missing.fetch_add(n - l - 1, Ordering::Relaxed);
                        }
                        Some(_) => {
                            tally.disordered.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {}
                    }
                    last = Some(n);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    tally.closed_by_server.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    tally.open.fetch_sub(1, Ordering::Relaxed);
}

#[tokio::main]
async fn main() {
    let url = arg("--url", "http://127.0.0.1:8080");
    let key = arg("--key", "bench-key");
    let pid = arg("--pid", "");
    let n: usize = arg("--sockets", "10000").parse().unwrap_or(10_000);
    let minutes: u64 = arg("--minutes", "10").parse().unwrap_or(10);
    let rate: f64 = arg("--rate", "5").parse().unwrap_or(5.0);
    let churn: usize = arg("--churn", "20").parse().unwrap_or(20);
    let ws_url = format!("{}/ws?apiKey={key}", url.replacen("http", "ws", 1));
    let tally = Arc::new(Tally::default());
    let rss_start = rss_kib(&pid);

    let mut leaves = std::collections::VecDeque::with_capacity(n);
    let mut holders = Vec::new();
    for _ in 0..n {
        let (tx, rx) = tokio::sync::oneshot::channel();
        holders.push(tokio::spawn(hold(ws_url.clone(), tally.clone(), rx)));
        leaves.push_back(tx);
    }
    while tally.open.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss_open = rss_kib(&pid);

    // The writer: a signed-in user creating records at a fixed rate.
    let http = reqwest::Client::new();
    let token = register_writer(&http, &url, &key, "soak").await;
    let written = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (http, url, key, token) = (http.clone(), url.clone(), key.clone(), token.clone());
        let (written, failed, stop) = (written.clone(), failed.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let ok = http
                    .post(format!("{url}/soak"))
                    .header("authorization", format!("key {key}"))
                    .header("x-authorization", &token)
                    .header("content-type", "application/json")
                    .body(format!("{{\"n\":{n}}}"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    written.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
        })
    };

    let start = Instant::now();
    let mut next_report = 1;
    let mut rss_max = rss_open;
    while start.elapsed() < Duration::from_secs(minutes * 60) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Churn: the oldest sockets leave, as many new ones join.
        for _ in 0..churn {
            if let Some(tx) = leaves.pop_front() {
                let _ = tx.send(());
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            holders.push(tokio::spawn(hold(ws_url.clone(), tally.clone(), rx)));
            leaves.push_back(tx);
        }
        holders.retain(|h| !h.is_finished());
        let rss = rss_kib(&pid);
        rss_max = rss_max.max(rss);
        if start.elapsed() >= Duration::from_secs(next_report * 60) {
            next_report += 1;
            println!(
                "{{\"minute\":{},\"server_rss_kib\":{rss},\"open\":{},\"written\":{},\"delivered\":{},\"missing\":{},\"disordered\":{},\"closed_by_server\":{}}}",
                next_report - 1,
                tally.open.load(Ordering::Relaxed),
                written.load(Ordering::Relaxed),
                tally.delivered.load(Ordering::Relaxed),
                tally.missing.load(Ordering::Relaxed),
                tally.disordered.load(Ordering::Relaxed),
                tally.closed_by_server.load(Ordering::Relaxed),
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = writer.await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for tx in leaves {
        let _ = tx.send(());
    }
    for h in holders {
        let _ = h.await;
    }
    println!(
        "{{\"sockets\":{n},\"minutes\":{minutes},\"rate\":{rate},\"churn_per_s\":{churn},\"server_rss_kib_start\":{rss_start},\"server_rss_kib_open\":{rss_open},\"server_rss_kib_max\":{rss_max},\"written\":{},\"write_failures\":{},\"delivered\":{},\"missing\":{},\"disordered\":{},\"closed_by_server\":{}}}",
        written.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        tally.delivered.load(Ordering::Relaxed),
        tally.missing.load(Ordering::Relaxed),
        tally.disordered.load(Ordering::Relaxed),
        tally.closed_by_server.load(Ordering::Relaxed),
    );
}
