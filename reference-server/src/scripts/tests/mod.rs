use super::*;
use serde_json::json;

const LIMITS: Limits = Limits {
    time: Duration::from_millis(100),
    memory: 16 * 1024 * 1024,
};

fn rec(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Runs `src` as On Validate of `c` on `record`: the record it left, and the effects.
fn run_on(src: &str, record: Value, me: Option<&str>) -> Result<(Value, Effects), ApiError> {
    let mut record = rec(record);
    let me = me.map(|id| Me { id, user: None });
    let fx = run(
        "c",
        Event::Validate,
        src,
        &mut record,
        me,
        None,
        None,
        LIMITS,
    )?;
    Ok((Value::Object(record), fx))
}

fn fails(src: &str) -> (ErrorBody, Option<u16>) {
    let ApiError(body, status) = run(
        "posts",
        Event::Put,
        src,
        &mut rec(json!({"age": 12})),
        None,
        None,
        None,
        LIMITS,
    )
    .expect_err(src);
    (body, status.status)
}

/// A record as the server gives it to a script, with `fields` between the system fields.
fn stored(fields: Value) -> Value {
    let mut r = rec(json!({"_id": "r1", "userId": "u1"}));
    r.extend(rec(fields));
    r.extend(rec(json!({
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z", "__v": 0
    })));
    Value::Object(r)
}

/// The record `src` leaves of a stored record with `fields`.
fn scripted(src: &str, fields: Value) -> Value {
    run_on(src, stored(fields), None).expect(src).0
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn this_me_and_the_helpers() {
    let mut record = rec(json!({"a": 1, "b": 2, "secret": "x"}));
    let e = run(
        "people",
        Event::Post,
        "this.creator = me._id; this.total = this.a + this.b; hide('secret'); protect('created');",
        &mut record,
        Some(Me {
            id: "u1",
            user: None,
        }),
        None,
        None,
        LIMITS,
    )
    .expect("runs");
    assert_eq!(
        Value::Object(record),
        json!({"a": 1, "b": 2, "secret": "x", "creator": "u1", "total": 3})
    );
    assert_eq!(e.hidden, vec!["secret".to_owned()]);
    assert_eq!(e.protected, vec!["created".to_owned()]);
}

#[test]
fn a_script_that_never_names_this_leaves_the_record_as_it_was() {
    let (r, _) = run_on("// nothing to do", json!({"a": 1}), None).expect("runs");
    assert_eq!(r, json!({"a": 1}));
    // `me` and the helpers still work without the record.
    let (e, status) = fails("if (!me) cancel('sign in first', 401)");
    assert_eq!((e.message.as_str(), status), ("sign in first", Some(401)));
    let (r, fx) = run_on(
        "if (me._id !== 'u1' || me.id !== 'u1') cancel('who?'); hide('a')",
        json!({"a": 1}),
        Some("u1"),
    )
    .expect("runs");
    assert_eq!((r, fx.hidden), (json!({"a": 1}), vec!["a".to_owned()]));
    // A direct eval can reach `this`: such a script gets the record and keeps its changes.
    let (r, _) = run_on("eval('th' + 'is.b = 2')", json!({"a": 1}), None).expect("runs");
    assert_eq!(r, json!({"a": 1, "b": 2}));
}

#[test]
fn changed_and_new_values_are_kept_and_new_fields_go_before_the_trailing_system_fields() {
    let (r, _) = run_on(
        "this._id = 'forged'; this.__v = 9; this.text = this.text + '!'; this.n = 2.5; \
         this.big = 2 ** 40; this.when = new Date(0); this.tags.push('b'); this.meta.seen = true; \
         this.gone = undefined; this.f = function () {};",
        stored(json!({"text": "hi", "tags": ["a"], "meta": {}, "same": "x"})),
        None,
    )
    .expect("runs");
    assert_eq!(
        r,
        stored(
            json!({"text": "hi!", "tags": ["a", "b"], "meta": {"seen": true}, "same": "x",
                      "n": 2.5, "big": 1_099_511_627_776_u64, "when": "1970-01-01T00:00:00.000Z"})
        )
    );
    assert_eq!(
        keys(&r),
        [
            "_id",
            "userId",
            "text",
            "tags",
            "meta",
            "same",
            "n",
            "big",
            "when",
            "createdAt",
            "updatedAt",
            "__v"
        ]
    );
}

#[test]
fn deleted_reordered_and_emptied_fields_are_read_back_whole() {
    // Set to undefined: the field goes, as JSON.stringify leaves it out.
    let r = scripted("this.text = undefined", json!({"text": "hi", "n": 1}));
    assert_eq!(r, stored(json!({"n": 1})));
    // Deleted, and deleted then set again (it moves last, as in the engine).
    let r = scripted(
        "delete this.n; delete this.text; this.text = 'bye'",
        json!({"text": "hi", "n": 1, "m": 2}),
    );
    assert_eq!(
        keys(&r),
        [
            "_id",
            "userId",
            "m",
            "text",
            "createdAt",
            "updatedAt",
            "__v"
        ]
    );
    assert_eq!(r, stored(json!({"m": 2, "text": "bye"})));
    // A property defined with a getter is read through it.
    let r = scripted(
        "Object.defineProperty(this, 'x', {get: () => 7, enumerable: true})",
        json!({}),
    );
    assert_eq!(r, stored(json!({"x": 7})));
    // A new prototype does not add its properties to the record.
    let r = scripted(
        "Object.setPrototypeOf(this, {inherited: 1}); this.own = 2",
        json!({}),
    );
    assert_eq!(r, stored(json!({"own": 2})));
}

#[test]
fn a_field_named_like_the_prototype_stays_a_field() {
    // JSON allows the key; it must reach the script as a field and come back.
    let fields = json!({"__proto__": {"admin": true}, "nested": {"__proto__": 1}});
    let (r, _) = run_on(
        "if (this.admin || Object.getPrototypeOf(this) !== Object.prototype) cancel('prototype'); \
         this.seen = this.__proto__.admin === true && this.nested.__proto__ === 1;",
        stored(fields.clone()),
        None,
    )
    .expect("runs");
    let mut want = rec(fields);
    want.insert("seen".into(), json!(true));
    assert_eq!(r, stored(Value::Object(want)));
}

#[test]
fn what_a_script_left_is_read_once_and_under_the_time_limit() {
    // A toJSON with a side effect runs once, whether the record is read back
    // in place or whole (the delete makes it whole).
    for tail in ["", " delete this.b;"] {
        let src = format!("let n = 0; this.a = {{toJSON: () => ++n}};{tail}");
        let (r, _) = run_on(&src, stored(json!({"a": {}, "b": 2})), None).expect("runs");
        assert_eq!(r["a"], json!(1), "{src}");
    }
    // A getter that never returns is stopped by the time limit, as a loop is.
    let started = Instant::now();
    let e = run_on(
        "Object.defineProperty(this, 'x', {enumerable: true, get() { for (;;); }})",
        stored(json!({})),
        None,
    )
    .expect_err("a getter that never returns");
    assert!(e.0.message.contains("time limit"), "{}", e.0.message);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn unchanged_values_are_kept_as_stored_either_way() {
    let fields = json!({"big": 12_345_678_901_234_567_890_u64, "f": 1.0, "z": -0.0, "t": 1});
    for src in ["this.x = 1", "this.x = 1; delete this.t"] {
        let (r, _) = run_on(src, stored(fields.clone()), None).expect("runs");
        for k in ["big", "f", "z"] {
            assert_eq!(r[k].to_string(), fields[k].to_string(), "{src}: {k}");
        }
    }
}

#[test]
fn records_as_big_as_the_engine_allows_run_and_a_failed_hand_over_starts_afresh() {
    // Nothing of one run's record is kept for the next: two records of 7 MiB
    // each run in a 16 MiB engine, one after the other.
    for i in 0..2 {
        let big = json!({"s": "x".repeat(7 * 1024 * 1024), "i": i});
        let (r, _) = run_on("this.n = this.s.length", big, None).expect("runs");
        assert_eq!(r["n"], json!(7 * 1024 * 1024));
    }
    // A record larger than the engine is refused, and the next run is fine.
    let e = run_on(
        "this.n = 1",
        json!({"s": "x".repeat(20 * 1024 * 1024)}),
        None,
    )
    .expect_err("too big");
    assert!(e.0.message.contains("ran out of memory"), "{}", e.0.message);
    run_on("this.n = 1", json!({}), None).expect("runs after");
    // A script cannot leave a throwing setter on Object.prototype to break
    // the next record's hand-over: the built-ins are frozen.
    let e = run_on(
        "Object.defineProperty(Object.prototype, 'trap', {set() { throw new Error('trapped') }})",
        json!({}),
        None,
    )
    .expect_err("refused");
    assert!(e.0.message.contains("not extensible"), "{}", e.0.message);
    let (r, _) = run_on("this.n = 1", json!({"trap": 1}), None).expect("runs");
    assert_eq!(r, json!({"trap": 1, "n": 1}));
}

#[test]
fn a_script_cannot_change_what_the_next_script_runs_with() {
    // Sloppy-mode writes to frozen built-ins and new globals are ignored...
    run_on(
        "Array.prototype.evil = 1; leaked = 2; Math.max = null; JSON.parse = null;",
        json!({}),
        None,
    )
    .expect("runs");
    // ...strict ones throw.
    let e = run_on("'use strict'; String.prototype.x = 1", json!({}), None).expect_err("refused");
    assert!(
        e.0.message.contains("read-only") || e.0.message.contains("not extensible"),
        "{}",
        e.0.message
    );
    let (r, _) = run_on(
        "this.leaked = typeof leaked; this.evil = [].evil === undefined; \
         this.max = Math.max(1, 2); this.parsed = JSON.parse('[1]').length;",
        json!({}),
        None,
    )
    .expect("runs");
    assert_eq!(
        r,
        json!({"leaked": "undefined", "evil": true, "max": 2, "parsed": 1})
    );
    // Fields named like Object.prototype's members are fields like any other.
    let (r, _) = run_on(
        "this.seen = [typeof this.constructor, this.toString, this.valueOf]; this.constructor = 'c2';",
        json!({"constructor": "c", "toString": "t", "valueOf": 3}),
        None,
    )
    .expect("runs");
    assert_eq!(r["seen"], json!(["string", "t", 3]));
    assert_eq!(r["toString"], "t");
}

#[test]
fn system_fields_stay_as_they_were_and_in_their_places() {
    let mut record = rec(stored(json!({"text": "hi"})));
    run(
        "c",
        Event::Validate,
        "this._id = 'forged'; this.userId = 'u2'; delete this.createdAt; this.__v = 9; \
         this.extra = [1, {a: null}]; delete this.text; this.text = 'bye';",
        &mut record,
        Some(Me {
            id: "u1",
            user: None,
        }),
        None,
        None,
        LIMITS,
    )
    .expect("runs");
    let record = Value::Object(record);
    assert_eq!(
        keys(&record),
        [
            "_id",
            "userId",
            "extra",
            "text",
            "createdAt",
            "updatedAt",
            "__v"
        ]
    );
    assert_eq!(
        record,
        stored(json!({"extra": [1, {"a": null}], "text": "bye"}))
    );
}

#[test]
fn on_delete_changes_go_nowhere_and_get_changes_are_shown() {
    let mut record = rec(json!({"a": 1}));
    run(
        "c",
        Event::Delete,
        "this.a = 2; this.b = 3",
        &mut record,
        None,
        None,
        None,
        LIMITS,
    )
    .expect("runs");
    assert_eq!(Value::Object(record), json!({"a": 1}));
    let mut record = rec(json!({"a": 1}));
    run(
        "c",
        Event::Get,
        "this.a = 2",
        &mut record,
        None,
        None,
        None,
        LIMITS,
    )
    .expect("runs");
    assert_eq!(Value::Object(record), json!({"a": 2}));
}

#[test]
fn each_run_starts_from_its_own_record() {
    // The engine keeps the last record alive between runs; nothing of it may leak.
    for i in 0..3 {
        let (r, _) = run_on(
            "if (this.seen) cancel('leaked'); this.seen = true; this.i = this.n * 2",
            json!({"n": i}),
            None,
        )
        .expect("runs");
        assert_eq!(r, json!({"n": i, "seen": true, "i": i * 2}));
    }
}

#[test]
fn cancel_error_and_throw_become_answers() {
    let (e, status) = fails("cancel('nope', 401)");
    assert_eq!(
        (e.code, e.message.as_str(), status),
        (ErrorCode::Cancelled, "nope", Some(401))
    );
    assert_eq!(fails("cancel('plain')").1, Some(400));
    let (e, _) = fails("if (this.age < 18) { error('age', 'must be older than 18') }");
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    assert_eq!(e.errors, Some(rec(json!({"age": "must be older than 18"}))));
    let (e, _) = fails("var x = 1;\nnull.boom;");
    assert_eq!(e.code, ErrorCode::ScriptError);
    assert!(
        e.message.contains("On PUT")
            && e.message.contains("'posts'")
            && e.message.contains("line 2"),
        "{}",
        e.message
    );
    let (e, _) = fails("this.x = ;");
    assert!(e.message.contains("does not compile"), "{}", e.message);
}

#[test]
fn limits_stop_endless_loops_and_memory_bombs() {
    let start = Instant::now();
    let (e, _) = fails("while (true) {}");
    assert!(e.message.contains("time limit"), "{}", e.message);
    assert!(start.elapsed() < Duration::from_secs(2));
    let (e, _) = fails("var a = []; while (true) a.push(new Array(100000).fill(1));");
    assert!(
        e.message.contains("memory") || e.message.contains("time limit"),
        "{}",
        e.message
    );
    // The engine still works afterwards.
    run_on("this.ok = true", json!({}), None).expect("fresh run");
}

#[test]
fn code_that_breaks_out_of_its_function_is_stopped_in_time() {
    // The source is wrapped in a function; one that closes it early gets its
    // own code run while being compiled, which the time limit also bounds.
    let escape = "}); for (;;) {} (function () {";
    let (done, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let checked = check("c", Event::Post, escape);
        let ran = run_on(escape, json!({}), None);
        let _ = done.send((checked, ran));
    });
    let (checked, ran) = got
        .recv_timeout(Duration::from_secs(10))
        .expect("compiling did not stop");
    for e in [checked.expect_err("check"), ran.expect_err("run")] {
        assert_eq!(e.0.code, ErrorCode::ScriptError);
        assert!(
            e.0.message.contains("outside its function"),
            "{}",
            e.0.message
        );
    }
    // Code that does finish is refused too; braces in strings and comments are fine.
    let e = check(
        "c",
        Event::Post,
        "}); globalThis.leaked = 1; (function () {",
    )
    .expect_err("breaks out");
    assert!(
        e.0.message.contains("outside its function"),
        "{}",
        e.0.message
    );
    check("c", Event::Post, "this.s = '})'; /* }) */ // })").expect("compiles");
}

#[test]
fn no_file_system_network_or_process() {
    for src in [
        "require('fs')",
        "fetch('http://example.com')",
        "process.exit(1)",
        "std.loadFile('/etc/passwd')",
    ] {
        assert_eq!(fails(src).0.code, ErrorCode::ScriptError, "{src}");
    }
}

mod read_back {
    //! The in-place read-back against the full one, over generated scripts.
    use super::super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const KEYS: [&str; 9] = ["a", "b", "c", "d", "0", "__proto__", "_id", "userId", "__v"];

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            // Numbers the engine holds as floats, which would not come back
            // the same through it.
            Just(json!(1.0)),
            Just(json!(-0.0)),
            Just(json!(12_345_678_901_234_567_890_u64)),
            Just(json!(1)),
            Just(json!("s")),
            Just(json!(2.5)),
            Just(json!(null)),
            Just(json!(true)),
            Just(json!([1])),
            Just(json!({"x": 1})),
        ]
    }

    /// One statement of a script, in JavaScript.
    fn statement() -> impl Strategy<Value = String> {
        let key = proptest::sample::select(KEYS.to_vec());
        let js = proptest::sample::select(vec![
            "2",
            "'t'",
            "2 ** 40",
            "0.5",
            "null",
            "undefined",
            "[2]",
            "{y: 2}",
            "function () {}",
            "new Date(0)",
            "this.a",
        ]);
        prop_oneof![
            (key.clone(), js).prop_map(|(k, v)| format!("this['{k}'] = {v};")),
            key.clone().prop_map(|k| format!("delete this['{k}'];")),
            key.clone()
                .prop_map(|k| format!("if (Array.isArray(this['{k}'])) this['{k}'].push(3);")),
            key.prop_map(|k| format!(
                "if (this['{k}'] && typeof this['{k}'] === 'object') this['{k}'].z = 4;"
            )),
        ]
    }

    /// A record as the server keeps it: `_id` and `userId` first, the
    /// timestamps and `__v` last.
    fn record() -> impl Strategy<Value = Map<String, Value>> {
        proptest::collection::vec(
            (
                proptest::sample::select(vec!["a", "b", "c", "d", "0", "__proto__"]),
                value(),
            ),
            0..5,
        )
        .prop_map(|fields| {
            let mut m = Map::new();
            m.insert(ID.into(), json!("r1"));
            m.insert(OWNER.into(), json!("u1"));
            for (k, v) in fields {
                m.insert(k.into(), v);
            }
            m.insert(CREATED_AT.into(), json!("2026-01-01T00:00:00.000Z"));
            m.insert(UPDATED_AT.into(), json!("2026-01-01T00:00:00.000Z"));
            m.insert(VERSION.into(), json!(0));
            m
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn in_place_and_whole_agree(record in record(), body in proptest::collection::vec(statement(), 0..6)) {
            let runtime = Runtime::new().expect("runtime");
            let context = Context::full(&runtime).expect("context");
            context.with(|ctx| {
                let mut given = Vec::new();
                let this = record_to_js(&ctx, &record, &mut given).expect("built");
                let src = format!("(function () {{ {} }})", body.concat());
                let f: Function = ctx.eval(src.clone()).expect("compiles");
                f.call::<_, ()>((rquickjs::function::This(this.clone()),)).expect("runs");
                let obj = this.as_object().expect("an object");
                let whole = scripted_record(&record, obj, &given).expect("read back");
                let mut in_place = record.clone();
                if changes_in_place(&mut in_place, obj, &given).expect("read back") {
                    prop_assert_eq!(
                        in_place.into_iter().collect::<Vec<_>>(),
                        whole.into_iter().collect::<Vec<_>>(),
                        "{}", src
                    );
                }
                Ok(())
            })?;
        }
    }
}

#[test]
fn deployds_helpers_see_the_caller_and_the_record_before_the_update() {
    let prev = rec(json!({"_id": "r1", "userId": "u1", "a": 1, "b": [1]}));
    let mut next = rec(json!({"_id": "r1", "userId": "u1", "a": 1, "b": [1, 2]}));
    let src = "this.mine = isMe(this.userId); this.theirs = isMe('u2'); \
               this.was = previous.b.length; \
               this.changes = [changed('a'), changed('b'), changed('z')]; \
               console.log('seen', this.b, {x: 1});";
    run(
        "c",
        Event::Put,
        src,
        &mut next,
        Some(Me {
            id: "u1",
            user: None,
        }),
        Some(&prev),
        None,
        LIMITS,
    )
    .expect("runs");
    assert_eq!(
        (
            &next["mine"],
            &next["theirs"],
            &next["was"],
            &next["changes"]
        ),
        (
            &json!(true),
            &json!(false),
            &json!(1),
            &json!([false, true, false])
        )
    );
    // On a create there is no previous: a field changed when it is set.
    let mut made = rec(json!({"a": 1}));
    run(
        "c",
        Event::Post,
        "this.s = [changed('a'), changed('z'), previous === null, isMe('u1')]",
        &mut made,
        None,
        None,
        None,
        LIMITS,
    )
    .expect("runs");
    assert_eq!(made["s"], json!([true, false, true, false]));
    // A script that only asks what changed still sees the record.
    let mut asked = rec(json!({"a": 2}));
    let e = run(
        "c",
        Event::Put,
        "if (changed('a')) cancel('a is fixed', 400);",
        &mut asked,
        Some(Me {
            id: "u1",
            user: None,
        }),
        Some(&prev),
        None,
        LIMITS,
    )
    .expect_err("a changed");
    assert_eq!(e.0.code, ErrorCode::Cancelled);
    // Logging is bounded: a loop of long lines neither fails nor floods.
    let mut r = rec(json!({}));
    run(
        "c",
        Event::Validate,
        "const s = 'x'.repeat(3000); for (let i = 0; i < 300; i++) console.log(s, i);",
        &mut r,
        None,
        None,
        None,
        LIMITS,
    )
    .expect("runs");
}

/// Found by the `script_values` fuzz target: names holding a NUL were cut at it
/// when read back from the engine, so `a\0x_copy` and `a\0y_copy` both came back
/// as `a`, and the second insert of the same name panicked.
#[test]
fn property_names_with_nul_survive_a_script_whole() {
    let record = json!({"a\u{0}x": 1, "a\u{0}y": 2, "b": {"c\u{0}d": 3}});
    for src in [
        "for (const k of Object.keys(this)) { this[k + '_copy'] = this[k]; }",
        // Deleting makes the read-back whole rather than in place.
        "for (const k of Object.keys(this)) { this[k + '_copy'] = this[k]; } delete this.b;",
    ] {
        let (r, _) = run_on(src, record.clone(), None).expect(src);
        let mut names: Vec<&str> = r
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        let mut want = vec![
            "a\u{0}x",
            "a\u{0}x_copy",
            "a\u{0}y",
            "a\u{0}y_copy",
            "b_copy",
        ];
        if !src.contains("delete") {
            want.push("b");
        }
        want.sort_unstable();
        assert_eq!(names, want, "{src}");
        assert_eq!(r["b_copy"], json!({"c\u{0}d": 3}), "{src}");
    }
}

/// `dpd` in scripts: where it cannot run, and its calls through a fake host.
mod dpd;

#[test]
fn a_script_runs_however_deep_down_the_stack_it_is_called() {
    // The thread's engine is made near the top of its stack, then called from
    // half a megabyte further down, as a request with a large future does.
    fn deep(frames: usize, call: &dyn Fn() -> bool) -> bool {
        let pad = std::hint::black_box([1u8; 64 * 1024]);
        if frames == 0 {
            call()
        } else {
            deep(frames - 1, call) && pad[0] == 1
        }
    }
    let ran = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let call = || run_on("this.n = 1;", json!({}), None).is_ok();
            call() && deep(8, &call)
        })
        .expect("a thread")
        .join()
        .expect("no panic");
    assert!(ran, "a shallow script failed when called from deeper down");
}
