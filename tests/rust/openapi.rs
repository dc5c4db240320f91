//! `GET /openapi.json` describes exactly the routes the server serves: every
//! operation in it reaches a handler, and every route found by walking the
//! server's own path segments is in it.

use e2e::Server;
use e2e::raw::admin;
use serde_json::Value;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Whether the server routed the request to a handler: any answer but its
/// "no such route" 404 or its `method_not_allowed` 405 (a switched-off
/// operation's 405 `operation_disabled` comes from the handler).
async fn routed(server: &Server, method: &str, path: &str) -> bool {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let res = admin(server, method, path)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("an answer");
    let status = res.status().as_u16();
    let body = res.text().await.unwrap_or_default();
    !((status == 405 && body.contains("\"method_not_allowed\""))
        || (status == 404 && body.contains("no such route")))
}

/// Whether `path` is an instance of the template `template` (`{x}` stands for
/// one segment; `/sdk/{file}` for any path under `/sdk`).
fn instance(template: &str, path: &str) -> bool {
    if template == "/sdk/{file}" {
        return path == "/sdk" || path.starts_with("/sdk/");
    }
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

/// A path for a template: each parameter filled with a plausible value.
fn fill(template: &str) -> String {
    template
        .split('/')
        .map(|s| match s {
            "{collection}" => "probes",
            "{id}" => "000000000000000000000000",
            "{name}" => "probes",
            "{userId}" => "000000000000000000000000",
            "{filename}" => "probe.txt",
            "{file}" => "index.js",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_openapi_document_and_the_served_routes_agree() {
    let server = Server::start();
    let res = reqwest::get(format!("{}/openapi.json", server.url))
        .await
        .expect("the document, with no key");
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    assert!(documented.len() > 30, "{documented:?}");

    // Every documented operation reaches a handler.
    for (method, template) in &documented {
        let path = fill(template);
        assert!(
            routed(&server, method, &path).await,
            "{method} {template} (as {path}) is documented but not served"
        );
    }

    // Every route found by walking the server's segments is documented.
    let mut firsts: Vec<&str> = sdk_core_segments();
    firsts.push("probes");
    let tails = [
        "",
        "/a",
        "/a/b",
        "/a/b/c",
        "/keys",
        "/keys/a",
        "/password",
        "/a/password",
    ];
    let mut found = 0;
    for first in firsts {
        for tail in tails {
            let path = format!("/{first}{tail}");
            for method in METHODS {
                if !routed(&server, method, &path).await {
                    continue;
                }
                found += 1;
                assert!(
                    documented
                        .iter()
                        .any(|(m, t)| m == method && instance(t, &path)),
                    "{method} {path} is served but not documented"
                );
            }
        }
    }
    assert!(found > 30, "the walk found {found} routes");
    assert!(routed(&server, "GET", "/").await);
}

/// The server's own first path segments, as the SDK's route table names them.
fn sdk_core_segments() -> Vec<&'static str> {
    sdk_core::routes::SEGMENTS.to_vec()
}
