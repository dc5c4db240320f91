//! The writer thread: queued writes applied in groups, one transaction and one
//! fsync each, every write in its own savepoint.

use super::*;

pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;
pub(super) type WriteFn<T> = Box<dyn FnOnce(&Connection) -> Result<T, StoreError> + Send>;

/// One queued write: applied inside the group's transaction, answered after commit.
pub(super) trait Job: Send {
    fn apply(&mut self, conn: &Connection) -> bool;
    fn finish(self: Box<Self>, committed: bool);
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

    fn finish(self: Box<Self>, committed: bool) {
        let r = match (committed, self.result) {
            (true, Some(r)) => r,
            (_, Some(Err(e))) => Err(e),
            _ => Err(StoreError::Engine("the transaction did not commit".into())),
        };
        // The caller may have gone away (client disconnected): nothing to tell then.
        let _ = self.reply.send(r);
    }
}

pub(super) fn writer_loop(conn: Connection, rx: Receiver<Box<dyn Job>>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let committed = run_group(&conn, &mut group);
        for job in group {
            job.finish(committed);
        }
    }
    tracing::debug!("sqlite writer stopped");
}

pub(super) fn run_group(conn: &Connection, group: &mut [Box<dyn Job>]) -> bool {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(%e, "could not begin a write transaction");
        return false;
    }
    for job in group.iter_mut() {
        let step = conn.execute_batch("SAVEPOINT w").and_then(|()| {
            if job.apply(conn) {
                conn.execute_batch("RELEASE w")
            } else {
                conn.execute_batch("ROLLBACK TO w; RELEASE w")
            }
        });
        if let Err(e) = step {
            tracing::error!(%e, "savepoint failed; abandoning the group");
            let _ = conn.execute_batch("ROLLBACK");
            return false;
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(%e, "commit failed");
            let _ = conn.execute_batch("ROLLBACK");
            false
        }
    }
}
