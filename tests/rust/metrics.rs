//! `GET /metrics` after real traffic: the counters moved, and only the admin
//! key (or `--metrics-public`) may read them.

use e2e::raw::{admin, call};
use e2e::{Server, connect, next_msg};
use rucksack::{CollectionConfig, Record, ServerMessage};
use serde_json::{Value, json};

/// The value of the sample `name{labels}` (labels as written, in order), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(r: reqwest::RequestBuilder) -> (u16, String) {
    let r = r.send().await.expect("scrape");
    (r.status().as_u16(), r.text().await.expect("text"))
}

#[tokio::test]
async fn metrics_count_requests_sockets_writes_and_scripts() {
    let server = Server::start();
    let (sdk, _) = server.signed_in("metered").await;
    let config: CollectionConfig = serde_json::from_value(
        json!({"events": {"validate": "if (this.boom) throw new Error('boom');"}}),
    )
    .expect("config");
    server
        .admin_sdk()
        .db()
        .set_collection_config("metered", &config)
        .await
        .expect("configure");
    let mut live = connect(&server.sdk()).await;
    for i in 0..3 {
        let _: Record<Value> = sdk
            .db()
            .create_resource("metered", &json!({ "i": i }))
            .await
            .expect("create");
        let ServerMessage::Write(_) = next_msg(&mut live).await else {
            panic!("a write event")
        };
    }
    sdk.db()
        .create_resource::<Value>("metered", &json!({"boom": true}))
        .await
        .expect_err("the script throws");
    let _ = sdk
        .db()
        .get_resource::<Value>("metered", "000000000000000000000000")
        .await;

    let (status, text) = scrape(admin(&server, reqwest::Method::GET, "/metrics")).await;
    assert_eq!(status, 200, "{text}");
    let at =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(
        at(r#"rucksack_http_requests_total{method="POST",route="/:collection",status="201"}"#),
        3.0
    );
    assert_eq!(
        at(r#"rucksack_http_requests_total{method="GET",route="/:collection/:id",status="404"}"#),
        1.0
    );
    assert_eq!(
        at(r#"rucksack_http_request_duration_seconds_count{method="POST",route="/:collection"}"#),
        4.0
    );
    assert_eq!(at("rucksack_websockets_open"), 1.0);
    let delivered = at("rucksack_realtime_frames_delivered_total");
    assert_eq!(delivered, 3.0, "the 3 events");
    assert!(at("rucksack_writes_committed_total") >= 3.0);
    assert!(at("rucksack_write_groups_total") >= 1.0);
    assert_eq!(at("rucksack_write_queue_depth"), 0.0);
    assert_eq!(at("rucksack_script_runs_total"), 4.0);
    assert_eq!(at("rucksack_script_failures_total"), 1.0);

    // The API key alone may not read them.
    let (status, _) = scrape(call(&server, reqwest::Method::GET, "/metrics")).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn metrics_public_serves_them_without_a_key() {
    let server = Server::start_with(&["--metrics-public"]);
    let (status, text) =
        scrape(reqwest::Client::new().get(format!("{}/metrics", server.url))).await;
    assert_eq!(status, 200);
    assert!(text.contains("rucksack_websockets_open"), "{text}");
}

/// `--request-log` writes one line per request with its route, status, the
/// signed-in user and the bytes in and out; anonymous requests show `-`.
#[tokio::test]
async fn the_request_log_names_the_user_and_the_bytes() {
    let server = Server::start_logging(
        "warn,rucksack::request=info",
        &["--request-log", "--log-format", "json"],
    );
    let (sdk, id) = server.signed_in("logged").await;
    let body = json!({"title": "one line"});
    let _: Record<Value> = sdk
        .db()
        .create_resource("logged", &body)
        .await
        .expect("create");
    let missing = call(
        &server,
        reqwest::Method::GET,
        "/logged/000000000000000000000000",
    )
    .send()
    .await
    .expect("get");
    assert_eq!(missing.status(), 404);
    // The request lines so far, as JSON.
    let requests = || -> Vec<Value> {
        let lines = server.log.lock().map(|l| l.clone()).unwrap_or_default();
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["target"] == "rucksack::request")
            .map(|l| l["fields"].clone())
            .collect()
    };
    let of = |path: &str, method: &str| {
        requests()
            .into_iter()
            .find(|f| f["path"] == path && f["method"] == method)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while of("/logged/000000000000000000000000", "GET").is_none()
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let created = of("/logged", "POST").unwrap_or_else(|| panic!("no create in {:?}", requests()));
    assert_eq!(created["route"], "/:collection", "{created}");
    assert_eq!(created["status"], 201, "{created}");
    assert_eq!(created["user"], id.as_str(), "{created}");
    assert_eq!(created["bytes_in"], body.to_string().len(), "{created}");
    assert!(created["bytes_out"].as_u64() > Some(20), "{created}");
    assert!(created["ms"].as_f64() > Some(0.0), "{created}");
    let missing = of("/logged/000000000000000000000000", "GET").expect("the 404 is logged");
    assert_eq!(missing["status"], 404, "{missing}");
    assert_eq!(missing["route"], "/:collection/:id", "{missing}");
    assert_eq!(missing["user"], "-", "{missing}");
}
