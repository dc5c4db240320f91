//! The writer thread: queued writes applied in groups, one transaction and one
//! fsync each, every write in its own savepoint.

use super::*;

pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;
pub(super) type WriteFn<T> = Box<dyn FnOnce(&Connection) -> Result<T, StoreError> + Send>;

/// One queued write: applied inside the group's transaction, answered after commit.
pub(super) trait Job: Send {
    fn apply(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: with the job's result if the group committed, else
    /// with why it did not (`full`: the disk is full).
    fn finish(self: Box<Self>, committed: Result<(), Uncommitted>);
}

pub(super) struct WriteJob<T> {
    pub(super) f: Option<WriteFn<T>>,
    pub(super) result: Option<Result<T, StoreError>>,
    pub(super) reply: Reply<T>,
}

impl<T: Send> Job for WriteJob<T> {
    fn apply(&mut self, conn: &Connection) -> bool {
        let r = match self.f.take() {
            Some(f) => f(conn),
            None => Err(StoreError::Engine("write applied twice".into())),
        };
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), Uncommitted>) {
        let r = match (committed, self.result) {
            (Ok(()), Some(r)) => r,
            (_, Some(Err(e))) => Err(e),
            (Err(Uncommitted::Full), _) => Err(StoreError::Full),
            _ => Err(StoreError::Engine("the transaction did not commit".into())),
        };
        // The caller may have gone away (client disconnected): nothing to tell then.
        let _ = self.reply.send(r);
    }
}

/// Why a group's transaction did not commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Uncommitted {
    /// The disk is full.
    Full,
    /// Any other failure (logged).
    Failed,
}

impl Uncommitted {
    fn of(e: &rusqlite::Error) -> Self {
        if disk_full(e) {
            Self::Full
        } else {
            Self::Failed
        }
    }
}

/// What the writer has done, for metrics: writes queued and not yet taken,
/// groups committed and the writes they held.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) queued: std::sync::atomic::AtomicU64,
    pub(super) groups: std::sync::atomic::AtomicU64,
    pub(super) writes: std::sync::atomic::AtomicU64,
}

pub(super) fn writer_loop(conn: Connection, rx: Receiver<Box<dyn Job>>, counters: Arc<Counters>) {
    use std::sync::atomic::Ordering::Relaxed;
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        counters.queued.fetch_sub(group.len() as u64, Relaxed);
        let committed = run_group(&conn, &mut group);
        if committed.is_ok() {
            counters.groups.fetch_add(1, Relaxed);
            counters.writes.fetch_add(group.len() as u64, Relaxed);
        }
        for job in group {
            job.finish(committed);
        }
    }
    tracing::debug!("sqlite writer stopped");
}

pub(super) fn run_group(conn: &Connection, group: &mut [Box<dyn Job>]) -> Result<(), Uncommitted> {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(%e, "could not begin a write transaction");
        return Err(Uncommitted::of(&e));
    }
    for job in group.iter_mut() {
        // Cached statements: a savepoint per job is parsed once, not per write.
        let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut st| st.execute([]));
        let step = run("SAVEPOINT w").and_then(|_| {
            if job.apply(conn) {
                run("RELEASE w")
            } else {
                run("ROLLBACK TO w").and_then(|_| run("RELEASE w"))
            }
        });
        if let Err(e) = step {
            tracing::error!(%e, "savepoint failed; abandoning the group");
            let _ = conn.execute_batch("ROLLBACK");
            return Err(Uncommitted::of(&e));
        }
    }
    conn.execute_batch("COMMIT").map_err(|e| {
        let why = Uncommitted::of(&e);
        if why == Uncommitted::Full {
            tracing::warn!("a write group was rolled back: the disk is full");
        } else {
            tracing::error!(%e, "commit failed");
        }
        let _ = conn.execute_batch("ROLLBACK");
        why
    })
}
