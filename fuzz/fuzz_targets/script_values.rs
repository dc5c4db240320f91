//! Record data handed to collection event scripts: any JSON object goes into
//! the script engine and what the script made of it comes back as JSON. A
//! script that changes nothing gives the record back as it was; scripts that
//! copy, round-trip, change and refuse values never panic the server.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::scripts::{Event, Limits, Me, run};
use serde_json::{Map, Value};
use std::time::Duration;

const LIMITS: Limits = Limits {
    time: Duration::from_millis(200),
    memory: 16 * 1024 * 1024,
};

const SCRIPTS: [&str; 4] = [
    "for (const k of Object.keys(this)) { this[k + '_copy'] = this[k]; }",
    "this.round = JSON.parse(JSON.stringify(this)); this.keys = Object.keys(this).length;",
    "for (const k of Object.keys(this)) { const v = this[k]; \
     if (typeof v === 'number') this[k] = v * 2; \
     else if (typeof v === 'string') this[k] = v + '!'; \
     else if (Array.isArray(v)) v.push(k); \
     else if (v && typeof v === 'object') delete this[k]; }",
    "if (Object.keys(this).length > 3) error('size', 'too many fields'); hide('a'); protect('b');",
];

/// The signed-in user the scripts run for.
const ME: Me<'static> = Me {
    id: "u1",
    user: None,
};

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(record)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut same: Map<String, Value> = record.clone();
    if run(
        "c",
        Event::Validate,
        "void 0",
        &mut same,
        Some(ME),
        None,
        None,
        LIMITS,
    )
    .is_ok()
    {
        assert_eq!(
            same, record,
            "a script that changes nothing changed the record"
        );
    }
    for (i, src) in SCRIPTS.iter().enumerate() {
        let event = [Event::Validate, Event::Post, Event::Put, Event::Get][i];
        let mut r = record.clone();
        let _ = run(
            "c",
            event,
            src,
            &mut r,
            Some(ME),
            Some(&record),
            Some(&record),
            LIMITS,
        );
    }
});
