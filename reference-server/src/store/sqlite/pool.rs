//! The connections: the writer thread's queue, the pool of readers, and the
//! time limit every read on the blocking pool runs under.

use super::*;

impl SqliteStore {
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job = Box::new(WriteJob {
            f: Some(Box::new(f)),
            result: None,
            reply,
        });
        // Counted before it is sent, so the writer never takes more than were counted.
        self.counters
            .queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.writer.try_send(job) {
            Ok(()) => {}
            Err(e) => {
                self.counters
                    .queued
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                return Err(match e {
                    TrySendError::Full(_) => StoreError::Busy,
                    TrySendError::Disconnected(_) => {
                        StoreError::Engine("the writer has stopped".into())
                    }
                });
            }
        }
        rx.await
            .map_err(|_| StoreError::Engine("the writer dropped the write".into()))?
    }

    /// Runs a point read (one row by its key) right here on the async thread when
    /// an open reader connection is free: from SQLite's page cache it takes a few
    /// microseconds, less than handing it to the blocking pool and back costs.
    /// Otherwise, as [`Self::read`].
    pub(super) async fn read_point<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let Some(conn) = self.idle_reader() else {
            return self.read(f).await;
        };
        let r = f(&conn);
        self.put_back(conn);
        r
    }

    /// An open reader connection, if one is idle and the pool is not in use this
    /// very moment (the async thread never waits for the pool's lock).
    pub(super) fn idle_reader(&self) -> Option<Connection> {
        self.readers.try_lock().ok().and_then(|mut pool| pool.pop())
    }

    /// Keeps a reader connection for the next read, up to [`MAX_IDLE_READERS`].
    pub(super) fn put_back(&self, conn: Connection) {
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < MAX_IDLE_READERS
        {
            pool.push(conn);
        }
    }

    pub(super) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let limit = self.time_limit;
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().map_err(|e| engine(e.to_string()))?.pop();
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let c = Connection::open_with_flags(
                        &path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(engine)?;
                    c.busy_timeout(std::time::Duration::from_secs(5))
                        .map_err(engine)?;
                    // The file mapped (up to 1 GiB): a scan reads pages from the
                    // kernel's cache, shared by all readers, without a system
                    // call per page; and each reader keeps 16 MiB of its own.
                    c.execute_batch("PRAGMA mmap_size=1073741824; PRAGMA cache_size=-16384")
                        .map_err(engine)?;
                    crate::store::sql::register_functions(&c).map_err(engine)?;
                    c
                }
            };
            // A read that runs past the deadline is interrupted, not left to
            // hold a thread of the pool.
            let r = within(&conn, limit, || f(&conn));
            let mut pool = readers.lock().map_err(|e| engine(e.to_string()))?;
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
            r
        })
        .await
        .map_err(engine)?
    }
}

/// Runs `f` (reads only) on `conn`, interrupting it after `limit`:
/// [`StoreError::TimedOut`] then. An interrupted read leaves the transaction as it was.
pub(super) fn within<T>(
    conn: &Connection,
    limit: std::time::Duration,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let deadline = std::time::Instant::now() + limit;
    let late = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = late.clone();
    conn.progress_handler(
        CHECK_EVERY,
        Some(move || {
            let stop = std::time::Instant::now() > deadline;
            if stop {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            stop
        }),
    );
    let r = f();
    conn.progress_handler(0, None::<fn() -> bool>);
    if late.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(StoreError::TimedOut(limit.as_secs()));
    }
    r
}
