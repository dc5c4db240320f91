//! A crash loop on one data directory: the server is killed (SIGKILL) at a
//! random moment under concurrent creates, bulk inserts, uploads and
//! overwrites, ten times. After each restart, without any repair, every
//! acknowledged record is there and whole, every bulk insert is all there or not
//! at all, every acknowledged upload matches its hash, and the overwritten file
//! is one of the versions sent, never a mix.
//!
//! A second loop aims its kills at WAL checkpoints: it watches the database
//! file, which only a checkpoint writes, and kills the server the moment it
//! changes.

use e2e::{PASSWORD, Server, email};
use rucksack::{Record, Upload};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Rounds of start, load, kill, restart and check (`CRASH_ROUNDS` sets more).
fn rounds() -> u32 {
    std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}
/// Records per bulk insert.
const BATCH: usize = 20;
const FLIP_SIZE: usize = 256 * 1024;

/// Version `v` of the overwritten file: the number, then a byte made from it
/// over the rest, so a file made of two versions shows.
fn flip(v: u32) -> Vec<u8> {
    let mut bytes = v.to_le_bytes().to_vec();
    bytes.resize(FLIP_SIZE, (v % 251 + 1) as u8);
    bytes
}

/// The version a whole file holds, or `None` for a mix.
fn flip_version(bytes: &[u8]) -> Option<u32> {
    let v = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    (bytes == flip(v).as_slice()).then_some(v)
}

/// What the server acknowledged, and what was sent without an answer.
#[derive(Default)]
struct Ledger {
    records: HashMap<String, Value>,
    batches_sent: HashSet<String>,
    batches_acked: HashSet<String>,
    files: HashMap<String, Vec<u8>>,
    flips_sent: HashSet<u32>,
}

/// A small xorshift generator seeded from the clock: each run kills at other moments.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// When a round kills the server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Moment {
    /// 50–450 ms into the load.
    Random,
    /// As soon as the database file changes (a checkpoint is writing it).
    Checkpoint,
}

#[tokio::test]
async fn acknowledged_writes_survive_repeated_kills_under_load() {
    crash_loop(Moment::Random, rounds()).await;
}

#[tokio::test]
async fn acknowledged_writes_survive_kills_during_wal_checkpoints() {
    crash_loop(Moment::Checkpoint, rounds().div_ceil(2)).await;
}

/// The database file's size and modification time: only a checkpoint (or
/// the start) writes it; commits go to the WAL.
fn db_stamp(dir: &std::path::Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(dir.join("rucksack.sqlite3")).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Waits until a checkpoint writes the database file (polling every 200 µs,
/// at most 10 s); returns whether one did.
async fn checkpoint_started(dir: &std::path::Path) -> bool {
    let before = db_stamp(dir);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if db_stamp(dir) != before {
            return true;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    false
}

async fn crash_loop(moment: Moment, rounds: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let who = email("crashloop");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64 | 1)
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut me = String::new();
    let mut aimed = 0;
    // Checkpoints are SQLite's: that loop runs on the embedded engine whatever
    // RUCKSACK_TEST_DATABASE says.
    let start = |d: &std::path::Path| match moment {
        Moment::Checkpoint => Server::start_in_local(d),
        Moment::Random => Server::start_in(d),
    };
    for round in 0..rounds {
        let mut server = start(dir.path());
        let sdk = server.sdk();
        if round == 0 {
            me = sdk
                .auth()
                .register(&who, PASSWORD)
                .await
                .expect("register")
                .id;
            sdk.storage()
                .upload_file(Upload::bytes(flip(0)), "flip.bin", "b")
                .await
                .expect("first flip");
            lock(&ledger).flips_sent.insert(0);
        } else {
            sdk.auth().login(&who, PASSWORD).await.expect("login");
            check(&sdk, &me, &ledger, round).await;
        }
        let mut tasks = Vec::new();
        for w in 0..6u32 {
            let (sdk, ledger) = (sdk.clone(), ledger.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0u32.. {
                    let body = json!({"round": round, "w": w, "n": n, "text": "x".repeat(200)});
                    match sdk.db().create_resource::<Value>("journal", &body).await {
                        Ok(r) => {
                            lock(&ledger).records.insert(r.id, body);
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        {
            let (sdk, ledger) = (sdk.clone(), ledger.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0u32.. {
                    let tag = format!("{round}-{n}");
                    let items: Vec<Value> =
                        (0..BATCH).map(|i| json!({"batch": tag, "i": i})).collect();
                    lock(&ledger).batches_sent.insert(tag.clone());
                    match sdk.db().insert_many::<Value>("batches", &items).await {
                        Ok(_) => {
                            lock(&ledger).batches_acked.insert(tag);
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        {
            let (sdk, ledger) = (sdk.clone(), ledger.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0u32.. {
                    let name = format!("f-{round}-{n}.bin");
                    let bytes: Vec<u8> = (0..64 * 1024u32)
                        .map(|i| (i.wrapping_mul(31) ^ n ^ round) as u8)
                        .collect();
                    match sdk
                        .storage()
                        .upload_file(Upload::bytes(bytes.clone()), &name, "b")
                        .await
                    {
                        Ok(_) => {
                            lock(&ledger).files.insert(name, bytes);
                        }
                        Err(_) => return,
                    }
                    let version = round * 100_000 + n + 1;
                    lock(&ledger).flips_sent.insert(version);
                    if sdk
                        .storage()
                        .overwrite_file(Upload::bytes(flip(version)), "flip.bin")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }));
        }
        match moment {
            Moment::Random => {
                let wait = 50 + next_random(&mut seed) % 400;
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            Moment::Checkpoint => {
                if checkpoint_started(dir.path()).await {
                    aimed += 1;
                }
            }
        }
        server.crash();
        for t in tasks {
            t.await.expect("a load task panicked");
        }
    }
    let server = start(dir.path());
    let sdk = server.sdk();
    sdk.auth().login(&who, PASSWORD).await.expect("login");
    check(&sdk, &me, &ledger, rounds).await;
    let l = lock(&ledger);
    eprintln!(
        "{rounds} kills ({aimed} as a checkpoint wrote the database file): \
         {} records, {} bulk inserts, {} uploads acknowledged and intact",
        l.records.len(),
        l.batches_acked.len(),
        l.files.len()
    );
    if moment == Moment::Checkpoint {
        assert!(aimed > 0, "no kill came during a checkpoint");
    }
    assert!(
        l.records.len() > 100 && !l.batches_acked.is_empty() && !l.files.is_empty(),
        "the load ran: {} records, {} batches, {} files acknowledged",
        l.records.len(),
        l.batches_acked.len(),
        l.files.len()
    );
}

fn lock(l: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    l.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn check(sdk: &rucksack::Sdk, me: &str, ledger: &Mutex<Ledger>, round: u32) {
    let journal: Vec<Record<Value>> = sdk.db().get_collection("journal").await.expect("journal");
    let stored: HashMap<String, Value> = journal.into_iter().map(|r| (r.id, r.data)).collect();
    let batches: Vec<Record<Value>> = sdk.db().get_collection("batches").await.expect("batches");
    let mut per_batch: HashMap<String, usize> = HashMap::new();
    for r in &batches {
        let tag = r.data["batch"].as_str().expect("batch tag").to_owned();
        *per_batch.entry(tag).or_default() += 1;
    }
    let flip = sdk
        .storage()
        .get_file(me, "flip.bin")
        .await
        .expect("flip.bin");
    let files: Vec<(String, Vec<u8>)> = {
        let l = lock(ledger);
        for (id, body) in &l.records {
            let got = stored
                .get(id)
                .unwrap_or_else(|| panic!("after kill {round}: acknowledged record {id} is gone"));
            for (k, v) in body.as_object().expect("object") {
                assert_eq!(&got[k], v, "after kill {round}: record {id} field {k}");
            }
        }
        for (tag, n) in &per_batch {
            assert!(
                l.batches_sent.contains(tag),
                "after kill {round}: a batch nobody sent: {tag}"
            );
            assert_eq!(*n, BATCH, "after kill {round}: batch {tag} is half-applied");
        }
        for tag in &l.batches_acked {
            assert!(
                per_batch.contains_key(tag),
                "after kill {round}: acknowledged batch {tag} is gone"
            );
        }
        assert_eq!(flip.len(), FLIP_SIZE, "after kill {round}: flip.bin's size");
        let version = flip_version(&flip);
        assert!(
            version.is_some_and(|v| l.flips_sent.contains(&v)),
            "after kill {round}: flip.bin mixes versions or holds one never sent ({version:?})"
        );
        l.files
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    for (name, bytes) in files {
        let got = sdk.storage().get_file(me, &name).await.unwrap_or_else(|e| {
            panic!("after kill {round}: acknowledged upload {name} is gone: {e}")
        });
        assert_eq!(
            Sha256::digest(&got),
            Sha256::digest(&bytes),
            "after kill {round}: upload {name} differs"
        );
    }
}
