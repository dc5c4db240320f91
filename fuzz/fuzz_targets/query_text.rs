//! Query parameters as a client sends them (`key=value` lines): the `where`
//! language, `q` documents, `sortBy`, `select`, `distinct`, `load`, `after` and
//! paging. Each parses or is refused, never panics; and a query that parses
//! means the same after it travels as its own pairs (the native SDK sends a
//! query that way), on a fixed set of records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rucksack_fuzz::records;
use sdk_core::query::{FindQuery, parse_mongo, parse_where};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_where(text);
    let _ = parse_mongo(text);
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .collect();
    let Ok(q) = FindQuery::from_pairs_as(pairs, Some("u1")) else {
        return;
    };
    let again = FindQuery::from_pairs(q.to_pairs())
        .unwrap_or_else(|e| panic!("{q:?} sent as {:?} is refused: {e:?}", q.to_pairs()));
    let docs = records();
    assert_eq!(
        again.apply(&docs, 100),
        q.apply(&docs, 100),
        "{q:?} means something else sent as {:?}",
        q.to_pairs()
    );
});
