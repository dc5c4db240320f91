//! Query parameters (`key=value` lines) compiled to SQL and run by SQLite over
//! a fixed set of records, untyped and with typed property columns: the answer
//! is the one `sdk_core`'s evaluator gives (the socket path and the SDKs
//! evaluate queries with it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::store::sql::Layout;
use reference_server::store::sqlite::in_memory::{find_in, store};
use rucksack_fuzz::{records, typed_layout};
use rusqlite::Connection;
use sdk_core::query::FindQuery;

thread_local! {
    /// The records, stored once per layout.
    static STORES: Vec<(Layout, Connection)> = [Layout::default(), typed_layout()]
        .into_iter()
        .map(|l| {
            let c = store(&records(), &l).expect("the records are stored");
            (l, c)
        })
        .collect();
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs = text.lines().map(|l| l.split_once('=').unwrap_or((l, "")));
    let Ok(mut q) = FindQuery::from_pairs_as(pairs, Some("u1")) else {
        return;
    };
    // Projection and relations are later steps, over the page this one answers
    // (the store projects with the evaluator's own `project`).
    q.load.clear();
    q.select = None;
    let docs = records();
    let want = q.apply(&docs, q.page_size.unwrap_or(100));
    STORES.with(|stores| {
        for (layout, c) in stores {
            let got = find_in(c, &docs, &q, layout)
                .unwrap_or_else(|e| panic!("{q:?} fails in SQLite: {e}"));
            assert_eq!(got, want, "{q:?} with {layout:?}");
        }
    });
});
