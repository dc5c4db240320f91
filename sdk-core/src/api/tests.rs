//! Tests of the api module.

use super::*;
use crate::error::ErrorCode;
use serde_json::json;

#[test]
fn the_next_pages_cursor_is_read_from_its_header() {
    assert_eq!(
        next_after(Some("%5B%22Zo%C3%AB+a%2Bb%22%2C%22id1%22%5D")).as_deref(),
        Some(r#"["Zoë a+b","id1"]"#)
    );
    assert_eq!(next_after(None), None);
    assert_eq!(next_after(Some(" ")), None);
    // Not percent-encoding, or not UTF-8: no cursor rather than a wrong one.
    for bad in ["%zz", "%+f", "%", "%4", "%4g", "%\u{e9}", "%C3"] {
        assert_eq!(next_after(Some(bad)), None, "{bad}");
    }
    let c = Client::new("http://h", "k");
    let r = c
        .prepare(&Call::FindPage("notes".into(), vec![]))
        .expect("prepare");
    assert!(r.headers.contains(&(crate::PAGE_CURSOR_HEADER, "1".into())));
}

fn client() -> Client {
    Client::new("http://127.0.0.1:8080/", "k&1")
}

#[test]
fn calls_map_onto_backpack_routes() {
    let c = client();
    let cases = [
        (Call::GetCollectionList, Method::Get, "/collections"),
        (
            Call::GetCollection("messages".into()),
            Method::Get,
            "/messages",
        ),
        (
            Call::GetResource("messages".into(), "a1".into()),
            Method::Get,
            "/messages/a1",
        ),
        (
            Call::CreateResource("m".into(), json!({}).into()),
            Method::Post,
            "/m",
        ),
        (
            Call::UpdateResource("m".into(), "a".into(), json!({}).into()),
            Method::Patch,
            "/m/a",
        ),
        (
            Call::OverwriteResource("m".into(), "a".into(), json!({}).into()),
            Method::Put,
            "/m/a",
        ),
        (
            Call::DeleteResource("m".into(), "a".into()),
            Method::Delete,
            "/m/a",
        ),
        (Call::Logout, Method::Post, "/logout"),
    ];
    for (call, method, path) in cases {
        let r = c.prepare(&call).expect("prepare");
        assert_eq!(r.method, method);
        assert_eq!(r.url, format!("http://127.0.0.1:8080{path}"));
        assert_eq!(r.headers[0], ("authorization", "key k&1".to_owned()));
    }
}

#[test]
fn only_idempotent_requests_are_sent_again_after_a_503() {
    let c = client();
    let get = c
        .prepare(&Call::GetResource("t".into(), "a".into()))
        .expect("get");
    let create = c
        .prepare(&Call::CreateResource("t".into(), json!({}).into()))
        .expect("create");
    let delete = c
        .prepare(&Call::DeleteResource("t".into(), "a".into()))
        .expect("delete");
    let upload = c
        .prepare(&Call::OverwriteFile("f.txt".into()))
        .expect("overwrite");
    assert!(get.is_idempotent() && delete.is_idempotent());
    assert!(!create.is_idempotent(), "a POST is not sent twice");
    assert!(!upload.is_idempotent(), "a file part is read as it is sent");
    assert_eq!(get.retry_delay_ms(503, Some("1"), 0), Some(1000));
    assert_eq!(
        get.retry_delay_ms(503, Some("0"), 0),
        Some(RETRY_BACKOFF_MS)
    );
    assert_eq!(
        get.retry_delay_ms(503, Some("0"), 1),
        Some(2 * RETRY_BACKOFF_MS)
    );
    assert_eq!(
        get.retry_delay_ms(503, Some("3600"), 0),
        Some(MAX_RETRY_WAIT_MS)
    );
    assert_eq!(
        get.retry_delay_ms(503, Some("soon"), 0),
        Some(RETRY_BACKOFF_MS)
    );
    assert_eq!(
        get.retry_delay_ms(503, None, 0),
        None,
        "not without Retry-After"
    );
    assert_eq!(
        get.retry_delay_ms(503, Some("1"), RETRIES),
        None,
        "at most RETRIES"
    );
    assert_eq!(get.retry_delay_ms(500, Some("1"), 0), None);
    assert_eq!(get.retry_delay_ms(429, Some("1"), 0), None);
    assert_eq!(create.retry_delay_ms(503, Some("1"), 0), None);
    assert_eq!(
        delete.retry_delay_ms(503, Some("0"), 0),
        Some(RETRY_BACKOFF_MS)
    );
}

#[test]
fn storage_calls_map_onto_upload_routes() {
    let c = client();
    let up = Call::UploadFile {
        filename: "my photo.jpg".into(),
        bucket: "photos".into(),
    };
    let r = c.prepare(&up).expect("upload");
    assert_eq!(
        (r.method, r.url.as_str()),
        (Method::Post, "http://127.0.0.1:8080/uploads")
    );
    assert_eq!(
        r.body,
        Body::FormWithFile(vec![
            ("bucket", "photos".into()),
            ("filename", "my photo.jpg".into())
        ])
    );
    let r = c
        .prepare(&Call::GetFile("u1".into(), "my photo.jpg".into()))
        .expect("get");
    assert_eq!(r.url, "http://127.0.0.1:8080/uploads/u1/my%20photo.jpg");
    let r = c
        .prepare(&Call::DeleteFile("a.txt".into()))
        .expect("delete");
    assert_eq!(
        (r.method, r.url.as_str()),
        (Method::Delete, "http://127.0.0.1:8080/uploads/a.txt")
    );
    for bad in [
        Call::UploadFile {
            filename: "../x".into(),
            bucket: "b".into(),
        },
        Call::UploadFile {
            filename: "x".into(),
            bucket: "".into(),
        },
        Call::GetFile("../u".into(), "x".into()),
    ] {
        assert!(
            matches!(c.prepare(&bad), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn bad_arguments_are_refused_before_sending() {
    let c = client();
    for call in [
        Call::GetCollection("../users".into()),
        Call::GetResource("m".into(), "a/b".into()),
        Call::CreateResource("m".into(), json!([1, 2]).into()),
        Call::CreateNewCollection("users".into()),
        Call::CreateResource("m".into(), JsonText::new(" \n\"{}\"".into())),
        Call::InsertMany("m".into(), JsonText::new("\t{}".into())),
    ] {
        assert!(
            matches!(c.prepare(&call), Err(Error::InvalidArgument(_))),
            "{call:?}"
        );
    }
    // JSON text may start with JSON's white space.
    let spaced = Call::CreateResource("m".into(), JsonText::new(" \r\n\t{\"a\":1}".into()));
    assert!(c.prepare(&spaced).is_ok());
}

#[test]
fn login_fills_the_session_and_logout_clears_it() {
    let mut c = client();
    let login = Call::Login(Credentials {
        email: "a@b.c".into(),
        password: "pw".into(),
    });
    let v = c
        .complete(&login, 200, br#"{"id":"u1","token":"t1"}"#)
        .expect("login");
    assert_eq!(v, json!({"id":"u1"}));
    assert_eq!(c.session().token(), Some("t1"));
    let r = c.prepare(&Call::GetCollectionList).expect("prepare");
    assert!(r.headers.contains(&("x-authorization", "t1".to_owned())));
    assert!(c.ws_url().ends_with("/ws?apiKey=k%261&token=t1"));
    c.complete(&Call::Logout, 200, br#"{"message":"OK"}"#)
        .expect("logout");
    assert_eq!(c.session().token(), None);
}

#[test]
fn a_session_the_server_no_longer_knows_signs_the_client_out() {
    let mut c = client();
    c.restore_session("t1", Some("u1".into()));
    // Another refusal keeps the session.
    let _ = c.complete(
        &Call::Me,
        403,
        br#"{"code":"forbidden","message":"not yours"}"#,
    );
    assert_eq!(c.session().token(), Some("t1"));
    let e = c
        .complete(
            &Call::Me,
            401,
            br#"{"code":"unauthenticated","message":"the session has ended"}"#,
        )
        .expect_err("401");
    assert_eq!(e.code(), Some(&ErrorCode::Unauthenticated));
    assert_eq!(c.session().token(), None);
}

#[test]
fn error_answers_become_typed_errors() {
    let mut c = client();
    let e = c
        .complete(
            &Call::GetResource("m".into(), "x".into()),
            404,
            br#"{"code":"not_found","message":"no record"}"#,
        )
        .expect_err("404");
    assert_eq!(e.code(), Some(&ErrorCode::NotFound));
    let e = c
        .complete(&Call::GetCollectionList, 200, b"not json")
        .expect_err("decode");
    assert!(matches!(e, Error::Decode(_)));
}
