//! Realtime fan-out benchmark against a running server: opens N WebSocket
//! subscribers, measures the server's memory per idle connection (from its
//! `/proc/<pid>/status`), then writes records over HTTP at a fixed rate and
//! measures write-to-delivery latency at every subscriber.
//!
//! ```text
//! fanout --url http://127.0.0.1:8080 --key KEY --pid SERVER_PID --subscribers 1000 --writes 100 --rate 20
//! ```
//! Prints one JSON line: subscribers, memory per idle socket, p50/p99/max latency,
//! deliveries per second. `--batch B` makes each write a bulk create of B records
//! (a burst of B events at every subscriber). `--spread URL,URL` also connects
//! subscribers to those servers, round robin with `--url` (servers sharing one
//! bus), while every write goes through `--url`. The writer runs on its own
//! thread, so the subscribers' work in this process does not hold back its
//! requests.

use e2e::{arg, cpu_us, register_writer, rss_kib};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

fn micros_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The send time a benchmark record carries (`"t":<micros>`), without parsing the frame.
fn sent_at(text: &str) -> Option<u64> {
    let i = text.find("\"t\":")? + 4;
    let digits: String = text[i..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = arg("--url", "http://127.0.0.1:8080");
    let key = arg("--key", "bench-key");
    let pid = arg("--pid", "");
    let n: usize = arg("--subscribers", "1000").parse().unwrap_or(1000);
    let writes: usize = arg("--writes", "100").parse().unwrap_or(100);
    let rate: f64 = arg("--rate", "20").parse().unwrap_or(20.0);
    let batch: usize = arg("--batch", "1").parse().unwrap_or(1).max(1);
    let spread = arg("--spread", "");
    let ws_urls: Vec<String> = std::iter::once(url.as_str())
        .chain(spread.split(',').filter(|u| !u.is_empty()))
        .map(|u| format!("{}/ws?apiKey={key}", u.replacen("http", "ws", 1)))
        .collect();
    let peer = arg("--peer", "rucksack");
    if peer == "pocketbase" {
        return pocketbase(&url, &pid, n, writes, rate).await;
    }

    let before = rss_kib(&pid);
    let ready = Arc::new(AtomicUsize::new(0));
    let mut sockets = Vec::with_capacity(n);
    for i in 0..n {
        let (ws, _) = loop {
            match tokio_tungstenite::connect_async(&ws_urls[i % ws_urls.len()]).await {
                Ok(ok) => break ok,
                Err(e) => {
                    eprintln!("connect {i}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        sockets.push(ws);
    }
    // Each subscriber reads its greeting, then notes the latency of every record
    // it receives, until it has them all.
    let mut tasks = Vec::with_capacity(n);
    for mut ws in sockets {
        let ready = ready.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u64> = Vec::with_capacity(writes * batch);
            let mut greeted = false;
            while lat.len() < writes * batch {
                let Some(Ok(m)) = ws.next().await else { break };
                if let Message::Text(t) = m {
                    if !greeted {
                        greeted = true;
                        ready.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if let Some(sent) = sent_at(t.as_str()) {
                        lat.push(micros_now().saturating_sub(sent));
                    }
                }
            }
            lat
        }));
    }
    let memory = settle(&ready, n, &pid, before, Duration::from_secs(600)).await;

    // The writer: a signed-in user creating `batch` records a request at the given rate.
    let server = pid.clone();
    let written = on_own_thread(async move {
        let http = reqwest::Client::new();
        let token = register_writer(&http, &url, &key, "fanout").await;
        write_at_rate(&server, writes, rate, |i, t0| {
            let one = format!("{{\"t\":{t0},\"i\":{i}}}");
            let body = if batch == 1 {
                one
            } else {
                format!("[{}]", vec![one; batch].join(","))
            };
            http.post(format!("{url}/fanout"))
                .header("authorization", format!("key {key}"))
                .header("x-authorization", &token)
                .header("content-type", "application/json")
                .body(body)
        })
        .await
    })
    .await;
    report(&pid, n, tasks, memory, written, batch).await;
}

/// The same measurement against PocketBase: subscribers over its realtime SSE
/// (`GET /api/realtime`, then `POST /api/realtime` with the `fanout/*` topic),
/// records created through its API into a public `fanout` collection.
async fn pocketbase(url: &str, pid: &str, n: usize, writes: usize, rate: f64) {
    let before = rss_kib(pid);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_default();
    let ready = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let http = http.clone();
        let url = url.to_owned();
        let ready = ready.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u64> = Vec::with_capacity(writes);
            let Ok(resp) = http.get(format!("{url}/api/realtime")).send().await else {
                return lat;
            };
            let mut stream = resp.bytes_stream();
            let mut buf = String::new();
            let mut subscribed = false;
            while lat.len() < writes {
                let Some(Ok(chunk)) = stream.next().await else { break };
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    if !subscribed {
                        if let Some(i) = event.find("\"clientId\":\"") {
                            let rest = &event[i + 12..];
                            let id: String = rest.chars().take_while(|c| *c != '"').collect();
                            let ok = http
                                .post(format!("{url}/api/realtime"))
                                .json(&serde_json::json!({"clientId": id, "subscriptions": ["fanout/*"]}))
                                .send()
                                .await
                                .is_ok_and(|r| r.status().is_success());
                            if ok {
                                subscribed = true;
                                ready.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        continue;
                    }
                    if let Some(sent) = sent_at(&event) {
                        lat.push(micros_now().saturating_sub(sent));
                    }
                }
            }
            lat
        }));
    }
    let memory = settle(&ready, n, pid, before, Duration::from_secs(120)).await;
    let url = url.to_owned();
    let server = pid.to_owned();
    let written = on_own_thread(async move {
        let http = reqwest::Client::new();
        write_at_rate(&server, writes, rate, |i, t0| {
            http.post(format!("{url}/api/collections/fanout/records"))
                .header("content-type", "application/json")
                .body(format!("{{\"t\":{t0},\"i\":{i}}}"))
        })
        .await
    })
    .await;
    report(pid, n, tasks, memory, written, 1).await;
}

/// Runs `work` on a thread of its own with its own runtime, so this process's
/// many subscriber tasks do not delay it.
async fn on_own_thread<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the writer");
        let _ = tx.send(rt.block_on(work));
    });
    rx.await.expect("the writer thread finished")
}

/// The server's resident memory before the subscribers and once they are idle.
struct Memory {
    before: u64,
    idle: u64,
    per_socket_bytes: u64,
}

/// What the writer did: when it started, how long each write took, for how long it
/// wrote, and the server's CPU time when it started.
struct Written {
    start: Instant,
    server_cpu_us: u64,
    write_us: Vec<u64>,
    secs: f64,
}

/// Collects every subscriber's latencies and prints the JSON line.
async fn report(
    pid: &str,
    n: usize,
    tasks: Vec<tokio::task::JoinHandle<Vec<u64>>>,
    memory: Memory,
    written: Written,
    batch: usize,
) {
    let Memory {
        before,
        idle,
        per_socket_bytes,
    } = memory;
    let Written {
        start,
        server_cpu_us,
        mut write_us,
        secs: write_secs,
    } = written;
    let writes = write_us.len();
    let want = writes * batch * n;
    let mut lat = Vec::with_capacity(want);
    let deadline = Instant::now() + Duration::from_secs(30);
    for t in tasks {
        match tokio::time::timeout_at(deadline.into(), t).await {
            Ok(Ok(l)) => lat.extend(l),
            _ => break,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    // The server's CPU time from the first write until every delivery arrived.
    let cpu = cpu_us(pid).saturating_sub(server_cpu_us);
    // The rate the writer achieved: a server slow to take writes is written to less often.
    let write_rate = writes as f64 / write_secs.max(1e-9);
    lat.sort_unstable();
    write_us.sort_unstable();
    let write_p50 = write_us.get(write_us.len() / 2).copied().unwrap_or(0) as f64 / 1000.0;
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "{{\"subscribers\":{n},\"rss_before_kib\":{before},\"rss_idle_kib\":{idle},\"bytes_per_idle_socket\":{per_socket_bytes},\"writes\":{writes},\"batch\":{batch},\"delivered\":{},\"expected\":{want},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2},\"deliveries_per_s\":{:.0},\"write_p50_ms\":{write_p50:.2},\"write_rate\":{write_rate:.1},\"cpu_us\":{cpu}}}",
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat.last().copied().unwrap_or(0) as f64 / 1000.0,
        lat.len() as f64 / elapsed
    );
}

/// Waits (up to `limit`) until `n` subscribers are ready and the server has settled;
/// the server's resident memory then, and its growth per subscriber in bytes.
async fn settle(ready: &AtomicUsize, n: usize, pid: &str, before: u64, limit: Duration) -> Memory {
    let wait_until = Instant::now() + limit;
    while ready.load(Ordering::Relaxed) < n && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(pid);
    let per_socket_bytes = if n > 0 && idle > before {
        (idle - before) * 1024 / n as u64
    } else {
        0
    };
    Memory {
        before,
        idle,
        per_socket_bytes,
    }
}

/// Sends `writes` requests, one at a time, at `rate` per second; `request(i, t)`
/// builds the i-th, carrying its send time `t`.
async fn write_at_rate(
    server: &str,
    writes: usize,
    rate: f64,
    request: impl Fn(usize, u64) -> reqwest::RequestBuilder,
) -> Written {
    let gap = Duration::from_secs_f64(1.0 / rate);
    let server_cpu_us = cpu_us(server);
    let start = Instant::now();
    let mut write_us = Vec::with_capacity(writes);
    for i in 0..writes {
        tokio::time::sleep_until((start + gap * i as u32).into()).await;
        let t0 = micros_now();
        let sent = request(i, t0).send().await;
        if !sent.is_ok_and(|r| r.status().is_success()) {
            eprintln!("write {i} failed");
        }
        write_us.push(micros_now().saturating_sub(t0));
    }
    Written {
        start,
        server_cpu_us,
        write_us,
        secs: start.elapsed().as_secs_f64(),
    }
}
