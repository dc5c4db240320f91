//! Group commit for single-record creates: creates that arrive together share
//! one `INSERT` statement and one transaction (one commit, one WAL flush),
//! instead of one each. Each create still gets its own answer: a taken id is
//! refused for that create alone, and a batch the database refuses as a whole
//! is sent again one create at a time.

use super::records::{id_taken, put};
use super::*;
use crate::store::Layout;
use crate::store::sqlite::records::columns;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// The most creates one statement carries (8 parameters each).
pub const MAX_BATCH: usize = 256;
/// Batches being written at once. One: the creates that arrive while a batch
/// is being written wait and go together in the next, so the busier the
/// server, the larger the batches and the fewer the commits (each commit costs
/// PostgreSQL a WAL flush and a transaction, whatever its size). Measured on 2
/// cores: 1 writer made batches of 22 and 14.0k creates/s, 4 made batches of
/// 7 and 10.2k/s.
const WRITERS: usize = 1;
/// Creates waiting for the batcher; beyond, a create waits for room.
const QUEUE: usize = 4096;

/// One create waiting to be written.
pub(crate) struct Job {
    coll: String,
    rec: Map<String, Value>,
    layout: Arc<Layout>,
    done: oneshot::Sender<Result<Value, StoreError>>,
}

/// The sending side the store keeps.
pub(crate) type Batcher = mpsc::Sender<Job>;

/// Starts the task that writes queued creates in batches.
/// `groups` counts the transactions it commits.
pub(crate) fn start(pool: deadpool_postgres::Pool, groups: Arc<AtomicU64>) -> Batcher {
    let (tx, rx) = mpsc::channel::<Job>(QUEUE);
    // Each writer takes what has queued up when it is free; with more than one
    // (WRITERS), they take turns at the queue, each on its own connection.
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..WRITERS {
        let (rx, pool, groups) = (rx.clone(), pool.clone(), groups.clone());
        tokio::spawn(async move {
            let mut jobs = Vec::with_capacity(MAX_BATCH);
            loop {
                let got = rx.lock().await.recv_many(&mut jobs, MAX_BATCH).await;
                if got == 0 {
                    break;
                }
                let n = write(&pool, std::mem::take(&mut jobs)).await;
                groups.fetch_add(n, Ordering::Relaxed);
            }
        });
    }
    tx
}

/// Queues a create and waits for its answer.
pub(crate) async fn insert(
    batcher: &Batcher,
    coll: &str,
    rec: Map<String, Value>,
    layout: Arc<Layout>,
) -> Result<Value, StoreError> {
    let (done, answer) = oneshot::channel();
    let job = Job {
        coll: coll.to_owned(),
        rec,
        layout,
        done,
    };
    batcher
        .send(job)
        .await
        .map_err(|_| StoreError::Engine("the batch writer stopped".into()))?;
    answer
        .await
        .map_err(|_| StoreError::Engine("the batch writer stopped".into()))?
}

/// Whether a value holds the character U+0000 (in a string or a key), which
/// PostgreSQL cannot store.
fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Writes a batch; returns how many transactions it committed.
async fn write(pool: &deadpool_postgres::Pool, jobs: Vec<Job>) -> u64 {
    // Records that break the layout, and later creates of an id already in
    // this batch, are answered at once; the rest go in one statement.
    let mut rows = Vec::with_capacity(jobs.len());
    let mut seen = std::collections::HashSet::new();
    for job in jobs {
        match columns(&job.rec, &job.layout) {
            Err(e) => {
                let _ = job.done.send(Err(e));
            }
            Ok(cols) if !seen.insert((job.coll.clone(), cols.id.clone())) => {
                let _ = job.done.send(Err(id_taken(&cols.id)));
            }
            Ok(_)
                if job
                    .rec
                    .iter()
                    .any(|(k, v)| k.contains('\0') || holds_nul(v)) =>
            {
                let _ = job.done.send(Err(super::records::nul_refused()));
            }
            Ok(cols) => {
                let doc = Value::Object(job.rec);
                let raw = doc.to_string();
                rows.push((job.coll, cols, doc, raw, job.layout, job.done));
            }
        }
    }
    if rows.is_empty() {
        return 0;
    }
    let mut text = String::from(
        "INSERT INTO records (coll, id, owner, created, updated, v, doc, raw) VALUES ",
    );
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
    for (i, (coll, cols, doc, raw, ..)) in rows.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        let b = i * 8;
        text.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7,
            b + 8
        ));
        params.extend([
            coll as &(dyn tokio_postgres::types::ToSql + Sync),
            &cols.id,
            &cols.owner,
            &cols.created,
            &cols.updated,
            &cols.v,
            doc,
            raw,
        ]);
    }
    text.push_str(" ON CONFLICT (coll, id) DO NOTHING RETURNING id");
    let result = async {
        let c = pool
            .get()
            .await
            .map_err(|e| StoreError::Engine(format!("no database connection: {e}")))?;
        let st = c.prepare_cached(&text).await.map_err(engine)?;
        c.query(&st, &params).await.map_err(engine)
    }
    .await;
    drop(params);
    match result {
        Ok(written) => {
            let ids: std::collections::HashSet<String> =
                written.iter().map(|r| r.get::<_, String>(0)).collect();
            for (_, cols, doc, _, _, done) in rows {
                let _ = done.send(if ids.contains(&cols.id) {
                    Ok(doc)
                } else {
                    Err(id_taken(&cols.id))
                });
            }
            1
        }
        Err(_) => {
            // Something in the batch was refused (a character PostgreSQL cannot
            // store, say): each create alone, so only the culprit fails.
            let mut committed = 0;
            for (coll, _, doc, _, layout, done) in rows {
                let Value::Object(rec) = doc else { continue };
                let answer = match pool.get().await {
                    Ok(c) => put(&c, true, &coll, rec, &layout).await,
                    Err(e) => Err(StoreError::Engine(format!("no database connection: {e}"))),
                };
                committed += u64::from(answer.is_ok());
                let _ = done.send(answer);
            }
            committed
        }
    }
}
