//! A reconnect storm: many clients hear one stream of writes; the network
//! drops every connection at once while the writes go on; every client
//! reconnects through the SDK (backoff with jitter), resumes, and receives
//! every event exactly once, in order (the events written while it was away
//! reach it only through the resume). Prints how long the storm took and the
//! server's CPU and memory during it.
//!
//! `STORM_CLIENTS` sets how many clients (200 unless set); RELIABILITY.md gives
//! the figures for 1,000.

use e2e::{API_KEY, Proxy, Server, connect, next_msg};
use rucksack::{Record, ServerMessage};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn clients() -> usize {
    std::env::var("STORM_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

/// The server's CPU time so far (user + system, in clock ticks) and its
/// resident memory (KiB), from `/proc`.
fn usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are the 14th and 15th fields of the line (11 and 12 here).
    (ticks(11) + ticks(12), e2e::rss_kib(&pid.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cut_at_once_all_resume_with_every_event_once_in_order() {
    let n = clients();
    let total = 120u64;
    let server = Server::start_with(&["--max-ws-per-ip", "1000000"]);
    let pid = server.pid().expect("server pid");
    let proxy = Proxy::start(&server.url).await;
    let (writer, _) = server.signed_in("storm-writer").await;

    let mut listeners = Vec::with_capacity(n);
    for _ in 0..n {
        let sdk = rucksack::Sdk::new(&proxy.url, API_KEY).expect("sdk");
        let live = connect(&sdk).await;
        listeners.push(tokio::spawn(async move {
            let mut live = live;
            let mut seen = Vec::with_capacity(total as usize);
            while seen.len() < total as usize {
                match next_msg(&mut live).await {
                    ServerMessage::Write(ev) => seen.push(ev.response["n"].as_u64().expect("n")),
                    other => panic!("unexpected {other:?}"),
                }
            }
            (seen, Instant::now())
        }));
    }

    let write = |n: u64| {
        let writer = writer.clone();
        async move {
            let _: Record<Value> = writer
                .db()
                .create_resource("ticks", &json!({"n": n}))
                .await
                .expect("create");
        }
    };
    for i in 0..total / 3 {
        write(i).await;
    }
    let (cpu_before, rss_before) = usage(pid);
    let mut rss_peak = rss_before;
    let cut = Instant::now();
    proxy.cut();
    for i in total / 3..total {
        write(i).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        rss_peak = rss_peak.max(usage(pid).1);
    }
    let mut last = cut;
    for l in listeners {
        let (seen, done) = tokio::time::timeout(Duration::from_secs(120), l)
            .await
            .expect("every client got every event within 2 minutes")
            .expect("listener");
        assert_eq!(
            seen,
            (0..total).collect::<Vec<_>>(),
            "every event once, in order"
        );
        last = last.max(done);
        rss_peak = rss_peak.max(usage(pid).1);
    }
    let (cpu_after, _) = usage(pid);
    eprintln!(
        "storm: {n} clients cut at once; every client had all {total} events \
         {:.2} s after the cut; server CPU {:.2} s during it; RSS {} KiB before, {} KiB at most",
        last.duration_since(cut).as_secs_f64(),
        (cpu_after - cpu_before) as f64 / 100.0,
        rss_before,
        rss_peak
    );
}
