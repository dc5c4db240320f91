//! `dpd` in scripts: where no request can serve it, and calls through a fake host.

use super::*;

#[test]
fn dpd_fails_where_no_request_can_serve_it() {
    let (body, _) = fails("this.x = 1; await dpd.other.get('r1');");
    assert_eq!(body.code, ErrorCode::ScriptError);
    assert!(
        body.message.contains("not available in a broadcast"),
        "{}",
        body.message
    );
    // A chain of short jobs is stopped by the time limit, not run forever.
    let (body, _) = fails("dpd; const f = function () { Promise.resolve().then(f); }; f();");
    assert!(body.message.contains("time limit"), "{}", body.message);
}

/// Answers `get` with `{_id, n: 1}` and refuses anything else, noting each call.
struct FakeHost(std::sync::Mutex<Vec<DpdRequest>>);

impl DpdHost for FakeHost {
    fn call(&self, request: DpdRequest) -> DpdFuture {
        let answer = match &request.call {
            DpdCall::Get(id) => Ok(json!({"_id": id, "n": 1})),
            _ => Err(ApiError::new(ErrorCode::Forbidden, "not yours")),
        };
        if let Ok(mut seen) = self.0.lock() {
            seen.push(request);
        }
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn dpd_calls_are_awaited_or_called_back_and_the_record_kept() {
    let host = FakeHost(std::sync::Mutex::new(Vec::new()));
    let mut record = rec(stored(json!({"a": 1})));
    let fx = run_async(
        "c",
        Event::Post,
        "const r = await dpd.others.get('x1');
         this.got = r.n + this.a;
         dpd.others.post({b: 2}, function (result, error) { emit('refused', error.code); });
         try { await dpd.others.del('x1'); } catch (e) { this.status = e.status; }
         hide('a');",
        &mut record,
        Some(Me {
            id: "u1",
            user: None,
        }),
        None,
        None,
        LIMITS,
        &host,
    )
    .await
    .expect("run");
    assert_eq!(
        (&record["got"], &record["status"]),
        (&json!(2), &json!(403))
    );
    assert_eq!(fx.hidden, ["a"]);
    assert_eq!(fx.emitted.len(), 1);
    assert!(
        fx.emitted[0].frame.contains("\"data\":\"forbidden\""),
        "{:?}",
        fx.emitted
    );
    let calls = host.0.lock().map(|c| c.len()).unwrap_or_default();
    assert_eq!(calls, 3);
    // A cancel after an await refuses, with its status.
    let e = run_async(
        "c",
        Event::Post,
        "await dpd.others.get('x1'); cancel('no', 409);",
        &mut rec(stored(json!({}))),
        None,
        None,
        None,
        LIMITS,
        &host,
    )
    .await
    .expect_err("cancelled");
    assert_eq!((e.0.code, e.1.status), (ErrorCode::Cancelled, Some(409)));
    // A run makes a bounded number of calls.
    let e = run_async(
        "c",
        Event::Post,
        "for (let i = 0; i < 40; i++) dpd.others.get('x' + i);",
        &mut rec(stored(json!({}))),
        None,
        None,
        None,
        LIMITS,
        &host,
    )
    .await
    .expect_err("too many calls");
    assert!(e.0.message.contains("at most 32 calls"), "{}", e.0.message);
}
