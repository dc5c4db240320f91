//! The query conformance table, run through the parser and the in-memory evaluator.
//!
//! The same table (`tests/conformance/queries.json`) runs end to end over HTTP
//! through both SDKs; here it pins down the language itself.

use sdk_core::query::{FindQuery, FindResult};
use serde_json::{Value, json};

/// The server's default page size and maximum, as documented.
const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 1000;

fn table() -> Value {
    serde_json::from_str(include_str!("conformance/queries.json")).expect("the table is JSON")
}

#[test]
fn every_case_of_the_table_holds() {
    let t = table();
    let records: Vec<Value> = t["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let n = r["n"].as_u64().expect("n");
            r["_id"] = json!(format!("{n:024x}"));
            r
        })
        .collect();
    let cases = t["cases"].as_array().expect("cases");
    assert!(cases.len() >= 150, "the table holds {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let pairs: Vec<(String, String)> = case["params"]
            .as_array()
            .expect("params")
            .iter()
            .map(|p| {
                (
                    p[0].as_str().expect("key").to_owned(),
                    p[1].as_str().expect("value").to_owned(),
                )
            })
            .collect();
        let parsed = FindQuery::from_pairs(pairs.clone()).and_then(|q| {
            q.check_page(MAX_PAGE)?;
            Ok(q)
        });
        let outcome = match (&parsed, case.get("error")) {
            (Err(e), Some(param)) => {
                let mut ok = e.param == param.as_str().expect("param");
                if let Some(at) = case.get("at") {
                    ok &= e.position == at.as_u64().map(|a| a as usize);
                }
                ok.then_some(()).ok_or(format!("wrong error {e:?}"))
            }
            (Err(e), None) => Err(format!("refused: {e}")),
            (Ok(_), Some(_)) => Err("accepted a malformed query".to_owned()),
            (Ok(q), None) => {
                let got = q.apply(&records, DEFAULT_PAGE);
                if let Some(ids) = case.get("ids") {
                    let ids: Vec<u64> = ids
                        .as_array()
                        .expect("ids")
                        .iter()
                        .map(|v| v.as_u64().expect("n"))
                        .collect();
                    match &got {
                        FindResult::Records(rs) => {
                            let got_ids: Vec<u64> =
                                rs.iter().map(|r| r["n"].as_u64().unwrap_or(0)).collect();
                            (got_ids == ids)
                                .then_some(())
                                .ok_or(format!("got {got_ids:?}, want {ids:?}"))
                        }
                        other => Err(format!("got {other:?}")),
                    }
                } else if let Some(n) = case.get("count") {
                    (got == FindResult::Count(n.as_u64().expect("count")))
                        .then_some(())
                        .ok_or(format!("got {got:?}, want count {n}"))
                } else {
                    let want = case["records"].as_array().expect("records").clone();
                    (got == FindResult::Records(want.clone()))
                        .then_some(())
                        .ok_or(format!("got {got:?}, want {want:?}"))
                }
            }
        };
        if let Err(why) = outcome {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
