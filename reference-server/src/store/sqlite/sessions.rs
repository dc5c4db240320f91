//! The in-memory cache of live sessions.

use super::*;

/// Live sessions kept in memory, so a signed-in request does not query SQLite.
///
/// Every session write goes through this store, so the cache is exact. A lookup
/// that misses reads SQLite and fills the cache only if no session was deleted
/// meanwhile (the epoch is unchanged); a delete bumps the epoch and evicts both
/// before and after its commit, so a revoked token is refused at once.
#[derive(Default)]
pub(super) struct SessionCache {
    map: Mutex<std::collections::HashMap<String, (String, u64)>>,
    epoch: std::sync::atomic::AtomicU64,
}

/// The most sessions kept in memory; beyond, the cache starts over.
pub(super) const MAX_CACHED_SESSIONS: usize = 100_000;

impl SessionCache {
    pub(super) fn get(&self, token_hash: &str, now: u64) -> Option<(String, u64)> {
        let map = self.map.lock().ok()?;
        map.get(token_hash)
            .filter(|(_, expires)| *expires > now)
            .cloned()
    }

    pub(super) fn put(
        &self,
        token_hash: String,
        user: String,
        expires_at: u64,
        epoch: Option<u64>,
    ) {
        let Ok(mut map) = self.map.lock() else { return };
        if epoch.is_some_and(|e| e != self.epoch()) {
            return;
        }
        if map.len() >= MAX_CACHED_SESSIONS {
            map.clear();
        }
        map.insert(token_hash, (user, expires_at));
    }

    /// Drops every cached session of a user but `keep`.
    pub(super) fn evict_user(&self, user: &str, keep: Option<&str>) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut map) = self.map.lock() {
            map.retain(|t, (u, _)| u != user || Some(t.as_str()) == keep);
        }
    }

    pub(super) fn evict(&self, token_hash: &str) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut map) = self.map.lock() {
            map.remove(token_hash);
        }
    }

    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }
}
