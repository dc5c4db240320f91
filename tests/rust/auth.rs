//! Register, login, logout and API keys, through the native SDK.

use e2e::{API_KEY, PASSWORD, Server, email};
use rucksack::{Error, ErrorCode, Sdk};
use serde_json::json;

fn code(e: &Error) -> ErrorCode {
    e.code().cloned().unwrap_or(ErrorCode::Other(e.to_string()))
}

#[tokio::test]
async fn register_login_logout_round_trip() {
    let server = Server::start();
    let sdk = server.sdk();
    let who = email("ann");
    let reg = sdk.auth().register(&who, PASSWORD).await.expect("register");
    assert_eq!(reg.id.len(), 24);
    assert_eq!(sdk.user_id().as_deref(), Some(reg.id.as_str()));

    let other = server.sdk();
    let login = other
        .auth()
        .login(&who.to_uppercase(), PASSWORD)
        .await
        .expect("login, any case");
    assert_eq!(login.id, reg.id);

    let out = other.auth().logout().await.expect("logout");
    assert_eq!(out.message, "OK");
    assert_eq!(other.session_token(), None);
    let e = other
        .db()
        .create_resource::<serde_json::Value>("notes", &json!({"a": 1}))
        .await;
    assert_eq!(
        code(&e.expect_err("signed out")),
        ErrorCode::Unauthenticated
    );
    // The first client's session is untouched by the second's logout.
    sdk.db()
        .create_resource::<serde_json::Value>("notes", &json!({"a": 1}))
        .await
        .expect("still signed in");
}

#[tokio::test]
async fn a_logged_out_token_is_refused_by_the_server() {
    let server = Server::start();
    let sdk = server.sdk();
    sdk.auth()
        .register(&email("tok"), PASSWORD)
        .await
        .expect("register");
    let token = sdk.session_token().expect("token");
    sdk.auth().logout().await.expect("logout");
    let resp = reqwest::Client::new()
        .post(format!("{}/notes", server.url))
        .header("authorization", format!("key {API_KEY}"))
        .header("x-authorization", token)
        .body(r#"{"a":1}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401);
    let body: serde_json::Value =
        serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    assert_eq!(body["code"], "unauthenticated");
}

#[tokio::test]
async fn duplicate_registration_is_a_conflict() {
    let server = Server::start();
    let who = email("dup");
    server
        .sdk()
        .auth()
        .register(&who, PASSWORD)
        .await
        .expect("first");
    let e = server
        .sdk()
        .auth()
        .register(&who, PASSWORD)
        .await
        .expect_err("second");
    assert_eq!(code(&e), ErrorCode::EmailTaken);
    assert_eq!(e.status(), Some(409));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let server = Server::start();
    let who = email("pw");
    server
        .sdk()
        .auth()
        .register(&who, PASSWORD)
        .await
        .expect("register");
    let wrong = server
        .sdk()
        .auth()
        .login(&who, "not the password")
        .await
        .expect_err("wrong");
    let unknown = server
        .sdk()
        .auth()
        .login(&email("nobody"), PASSWORD)
        .await
        .expect_err("unknown");
    assert_eq!(code(&wrong), ErrorCode::InvalidCredentials);
    assert_eq!(wrong.to_string(), unknown.to_string());
}

#[tokio::test]
async fn weak_password_and_bad_email_fail_validation_per_field() {
    let server = Server::start();
    let e = server
        .sdk()
        .auth()
        .register(&email("short"), "short")
        .await
        .expect_err("short");
    assert_eq!(code(&e), ErrorCode::ValidationFailed);
    let Error::Api {
        errors: Some(errors),
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(errors.contains_key("password"));
    let e = server
        .sdk()
        .auth()
        .register("not-an-email", PASSWORD)
        .await
        .expect_err("email");
    let Error::Api {
        errors: Some(errors),
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(errors.contains_key("email"));
}

#[tokio::test]
async fn wrong_or_missing_api_key_is_refused() {
    let server = Server::start();
    let wrong = Sdk::new(&server.url, "not-the-key").expect("sdk");
    let e = wrong
        .db()
        .get_collection_list()
        .await
        .expect_err("wrong key");
    assert_eq!(code(&e), ErrorCode::InvalidApiKey);
    assert_eq!(e.status(), Some(401));
    let resp = reqwest::get(format!("{}/collections", server.url))
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401);
    // Both header spellings Backpack apps use are accepted.
    for scheme in ["key", "API"] {
        let resp = reqwest::Client::new()
            .get(format!("{}/collections", server.url))
            .header("authorization", format!("{scheme} {API_KEY}"))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn me_change_password_and_delete_account() {
    let server = Server::start();
    let addr = email("Acct");
    let a = server.sdk();
    let id = a
        .auth()
        .register(&addr, PASSWORD)
        .await
        .expect("register")
        .id;
    let me = a.auth().me().await.expect("me");
    assert_eq!(
        (me.id.as_str(), me.email.as_str()),
        (id.as_str(), addr.to_lowercase().as_str())
    );
    assert!(me.created_at.ends_with('Z'));
    let e = server.sdk().auth().me().await.expect_err("anonymous");
    assert_eq!(e.code(), Some(&ErrorCode::Unauthenticated));

    // A second session of the same user ends when the password changes.
    let b = server.sdk();
    b.auth().login(&addr, PASSWORD).await.expect("login b");
    let e = a
        .auth()
        .change_password("not the password", "another good password")
        .await
        .expect_err("wrong current password");
    assert_eq!(e.code(), Some(&ErrorCode::InvalidCredentials));
    let e = a
        .auth()
        .change_password(PASSWORD, "short")
        .await
        .expect_err("weak new password");
    assert_eq!(e.code(), Some(&ErrorCode::ValidationFailed));
    a.auth()
        .change_password(PASSWORD, "another good password")
        .await
        .expect("change");
    assert_eq!(a.auth().me().await.expect("still signed in").id, id);
    let e = b.auth().me().await.expect_err("the other session ended");
    assert_eq!(e.code(), Some(&ErrorCode::Unauthenticated));
    let e = server
        .sdk()
        .auth()
        .login(&addr, PASSWORD)
        .await
        .expect_err("old password");
    assert_eq!(e.code(), Some(&ErrorCode::InvalidCredentials));

    // Deleting the account needs the password, ends its sessions, keeps records.
    let rec: rucksack::Record<serde_json::Value> = a
        .db()
        .create_resource("notes", &serde_json::json!({"t": 1}))
        .await
        .expect("note");
    let c = server.sdk();
    c.auth()
        .login(&addr, "another good password")
        .await
        .expect("login c");
    let e = a
        .auth()
        .delete_account(PASSWORD)
        .await
        .expect_err("wrong password");
    assert_eq!(code(&e), ErrorCode::InvalidCredentials);
    a.auth()
        .delete_account("another good password")
        .await
        .expect("delete");
    assert!(a.session_token().is_none(), "signed out here");
    let e = c.auth().me().await.expect_err("every session ended");
    assert_eq!(e.code(), Some(&ErrorCode::Unauthenticated));
    let e = server
        .sdk()
        .auth()
        .login(&addr, "another good password")
        .await
        .expect_err("gone");
    assert_eq!(e.code(), Some(&ErrorCode::InvalidCredentials));
    let kept: rucksack::Record<serde_json::Value> = server
        .sdk()
        .db()
        .get_resource("notes", &rec.id)
        .await
        .expect("kept");
    assert_eq!(kept.id, rec.id);
}

#[tokio::test]
async fn sessions_expire_and_renew_when_used() {
    let server = Server::start_with(&["--session-ttl", "4"]);
    let addr = email("ttl");
    let idle = server.sdk();
    idle.auth()
        .register(&addr, PASSWORD)
        .await
        .expect("register");
    let busy = server.sdk();
    busy.auth().login(&addr, PASSWORD).await.expect("login");
    // Past half of the lifetime, a request renews the session for a full one.
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    busy.auth().me().await.expect("renewing request");
    // Times are whole seconds: 4.6 s after login the first lifetime is over
    // (idle), while the renewed one runs at least 6 s from login.
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    busy.auth()
        .me()
        .await
        .expect("renewed: alive past its first end");
    let e = idle
        .auth()
        .me()
        .await
        .expect_err("the unused session expired");
    assert_eq!(e.code(), Some(&ErrorCode::Unauthenticated));
}

fn keys_cli(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = e2e::command_on(data_dir)
        .arg("keys")
        .args(args)
        .output()
        .expect("run the keys command");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn keys_from_the_command_line_work_until_revoked() {
    let server = Server::start();
    let made = keys_cli(&server.data_dir, &["create", "--name", "mobile app"]);
    let field = |name: &str| {
        made.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .expect("printed")
    };
    let (id, key) = (field("id "), field("key "));
    assert!(key.starts_with("rk_") && key.len() == 51, "{key}");
    let listed = keys_cli(&server.data_dir, &["list"]);
    assert!(
        listed.contains(&id) && listed.contains("mobile app"),
        "{listed}"
    );
    assert!(
        !listed.contains(&key),
        "the key itself is never shown again"
    );

    // The running server accepts the new key at once, for HTTP and WebSocket.
    let app = Sdk::new(&server.url, &key).expect("sdk");
    app.auth()
        .register(&email("keyed"), PASSWORD)
        .await
        .expect("works with the new key");
    app.ws().await.expect("websocket with the new key");

    keys_cli(&server.data_dir, &["revoke", &id]);
    let e = app.db().get_collection_list().await.expect_err("revoked");
    assert_eq!(code(&e), ErrorCode::InvalidApiKey);
    let e = app.ws().await.expect_err("no websocket with a revoked key");
    assert_eq!(code(&e), ErrorCode::InvalidApiKey);
    // The main key is untouched.
    server
        .sdk()
        .db()
        .get_collection_list()
        .await
        .expect("main key");
}

#[tokio::test]
async fn the_admin_key_manages_keys_over_http() {
    let server = Server::start();
    let http = reqwest::Client::new();
    let admin =
        |r: reqwest::RequestBuilder| r.header("authorization", format!("key {}", e2e::ADMIN_KEY));
    let made: serde_json::Value = admin(http.post(format!("{}/admin/keys", server.url)))
        .body(json!({"name": "ci"}).to_string())
        .send()
        .await
        .expect("create")
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("json"))
        .expect("body");
    let key = made["key"].as_str().expect("key").to_owned();
    let id = made["id"].as_str().expect("id").to_owned();
    Sdk::new(&server.url, &key)
        .expect("sdk")
        .db()
        .get_collection_list()
        .await
        .expect("works");
    // The app key cannot manage keys.
    let r = http
        .get(format!("{}/admin/keys", server.url))
        .header("authorization", format!("key {API_KEY}"))
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), 403);
    let r = admin(http.delete(format!("{}/admin/keys/{id}", server.url)))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200);
    let e = Sdk::new(&server.url, &key)
        .expect("sdk")
        .db()
        .get_collection_list()
        .await
        .expect_err("revoked");
    assert_eq!(code(&e), ErrorCode::InvalidApiKey);
    let listed: serde_json::Value = admin(http.get(format!("{}/admin/keys", server.url)))
        .send()
        .await
        .expect("list")
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("json"))
        .expect("body");
    assert!(
        listed[0]["revokedAt"].is_number() || listed[0]["revoked_at"].is_number(),
        "{listed}"
    );
}

#[tokio::test]
async fn register_and_login_are_rate_limited() {
    let server = Server::start_with(&["--auth-rate-per-ip", "1000", "--auth-rate-per-email", "3"]);
    let addr = email("limited");
    server
        .sdk()
        .auth()
        .register(&addr, PASSWORD)
        .await
        .expect("register");
    // Guessing one account's password: the fourth attempt in a minute is refused.
    for _ in 0..3 {
        let e = server
            .sdk()
            .auth()
            .login(&addr, "wrong guess!")
            .await
            .expect_err("wrong");
        assert_eq!(code(&e), ErrorCode::InvalidCredentials);
    }
    let e = server
        .sdk()
        .auth()
        .login(&addr, PASSWORD)
        .await
        .expect_err("limited, even with the right password");
    assert_eq!(code(&e), ErrorCode::RateLimited);
    assert_eq!(e.status(), Some(429));
    // The same for one address, and Retry-After says how long to wait.
    let server = Server::start_with(&["--auth-rate-per-ip", "2"]);
    let http = reqwest::Client::new();
    let mut last = None;
    for i in 0..3 {
        last = Some(
            http.post(format!("{}/register", server.url))
                .header("authorization", format!("key {API_KEY}"))
                .body(json!({"email": email(&format!("r{i}")), "password": PASSWORD}).to_string())
                .send()
                .await
                .expect("register"),
        );
    }
    let r = last.expect("answer");
    assert_eq!(r.status(), 429);
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn a_session_kept_from_an_earlier_run_is_taken_up_by_the_builder() {
    let server = Server::start();
    let (first, user_id) = server.signed_in("kept").await;
    let token = first.session_token().expect("signed in");

    let again = rucksack::Sdk::builder(&server.url, API_KEY)
        .timeout(std::time::Duration::from_secs(10))
        .connect_timeout(std::time::Duration::from_secs(2))
        .session_token(token.clone())
        .build()
        .expect("client");
    assert_eq!(again.session_token().as_deref(), Some(token.as_str()));
    assert_eq!(again.user_id(), None, "not known before me()");
    let me = again.auth().me().await.expect("the kept session is live");
    assert_eq!(
        (me.id.as_str(), again.user_id()),
        (user_id.as_str(), Some(user_id.clone()))
    );
    let rec: rucksack::Record<serde_json::Value> = again
        .db()
        .create_resource("notes", &serde_json::json!({"t": 1}))
        .await
        .expect("writes as the user");
    assert_eq!(rec.user_id.as_deref(), Some(user_id.as_str()));

    // A session that has ended is a 401, not a silent anonymous client.
    first.auth().logout().await.expect("logout");
    let stale = rucksack::Sdk::builder(&server.url, API_KEY)
        .session(token, user_id)
        .build()
        .expect("client");
    let err = stale.auth().me().await.expect_err("ended session");
    assert_eq!(err.code(), Some(&ErrorCode::Unauthenticated));
}
