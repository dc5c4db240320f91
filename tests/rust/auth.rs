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
