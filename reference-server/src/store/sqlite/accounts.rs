//! Users, sessions and API keys on disk, with the in-memory cache of live sessions.

use super::*;

/// Live sessions kept in memory, so a signed-in request does not query SQLite.
///
/// Every session write this process makes goes through this store, so for
/// those the cache is exact. A lookup that misses reads SQLite and fills the
/// cache only if no session was deleted meanwhile (the epoch is unchanged); a
/// delete bumps the epoch and evicts both before and after its commit, so a
/// revoked token is refused at once. Sessions ended by another process on the
/// same database (the command line's `users delete`) are seen within
/// [`SESSION_RECHECK`]: an entry older than that is read again.
#[derive(Default)]
pub(crate) struct SessionCache {
    map: Mutex<std::collections::HashMap<String, (String, u64, std::time::Instant)>>,
    epoch: std::sync::atomic::AtomicU64,
}

/// How long a cached session is trusted before SQLite is asked again.
pub(super) const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The most sessions kept in memory; beyond, the cache starts over.
pub(super) const MAX_CACHED_SESSIONS: usize = 100_000;

impl SessionCache {
    pub(crate) fn get(&self, token_hash: &str, now: u64) -> Option<(String, u64)> {
        let map = self.map.lock().ok()?;
        map.get(token_hash)
            .filter(|(_, expires, at)| *expires > now && at.elapsed() < SESSION_RECHECK)
            .map(|(user, expires, _)| (user.clone(), *expires))
    }

    pub(crate) fn put(
        &self,
        token_hash: String,
        user: String,
        expires_at: u64,
        epoch: Option<u64>,
        read_at: std::time::Instant,
    ) {
        let Ok(mut map) = self.map.lock() else { return };
        if epoch.is_some_and(|e| e != self.epoch()) {
            return;
        }
        if map.len() >= MAX_CACHED_SESSIONS {
            map.clear();
        }
        map.insert(token_hash, (user, expires_at, read_at));
    }

    /// Drops every cached session of a user but `keep`.
    pub(crate) fn evict_user(&self, user: &str, keep: Option<&str>) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut map) = self.map.lock() {
            map.retain(|t, (u, ..)| u != user || Some(t.as_str()) == keep);
        }
    }

    pub(crate) fn evict(&self, token_hash: &str) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut map) = self.map.lock() {
            map.remove(token_hash);
        }
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn create_user(
        &self,
        id: &str,
        email: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let (id, email, hash) = (id.to_owned(), email.to_owned(), password_hash.to_owned());
        self.write(move |c| {
            let taken: bool = c
                .query_row("SELECT 1 FROM users WHERE email = ?1", [&email], |_| {
                    Ok(true)
                })
                .optional()
                .map_err(engine)?
                .unwrap_or(false);
            if taken {
                return Err(StoreError::EmailTaken);
            }
            c.execute(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, email, hash, crate::clock::unix_now() as i64],
            )
            .map_err(engine)?;
            Ok(())
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        let email = email.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT id, password_hash, email, created_at FROM users WHERE email = ?1",
                [&email],
                user_row,
            )
            .optional()
            .map_err(engine)
        })
        .await
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let (t, u) = (token_hash.to_owned(), user_id.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![t, u, expires_at as i64],
            )
            .map_err(engine)?;
            Ok(())
        })
        .await?;
        self.sessions.put(
            token_hash.to_owned(),
            user_id.to_owned(),
            expires_at,
            None,
            std::time::Instant::now(),
        );
        Ok(())
    }

    async fn session_user(
        &self,
        token_hash: &str,
        now: u64,
    ) -> Result<Option<(String, u64)>, StoreError> {
        if let Some(found) = self.sessions.get(token_hash, now) {
            return Ok(Some(found));
        }
        let epoch = self.sessions.epoch();
        let read_at = std::time::Instant::now();
        let t = token_hash.to_owned();
        let found: Option<(String, i64)> = self
            .read_point(move |c| {
                c.query_row(
                    "SELECT user_id, expires_at FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
                    params![t, now as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(engine)
            })
            .await?;
        Ok(found.map(|(user, expires)| {
            let expires = u64::try_from(expires).unwrap_or(0);
            self.sessions.put(
                token_hash.to_owned(),
                user.clone(),
                expires,
                Some(epoch),
                read_at,
            );
            (user, expires)
        }))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.sessions.evict(token_hash);
        let t = token_hash.to_owned();
        let r = self
            .write(move |c| {
                c.execute("DELETE FROM sessions WHERE token_hash = ?1", [t])
                    .map_err(engine)?;
                Ok(())
            })
            .await;
        self.sessions.evict(token_hash);
        r
    }

    fn forget_sessions(&self, token_hash: Option<&str>, user: Option<&str>, keep: Option<&str>) {
        if let Some(h) = token_hash {
            self.sessions.evict(h);
        }
        if let Some(u) = user {
            self.sessions.evict_user(u, keep);
        }
    }

    async fn create_key(&self, id: &str, name: &str, key_hash: &str) -> Result<(), StoreError> {
        let (id, name, hash) = (id.to_owned(), name.to_owned(), key_hash.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO api_keys (id, name, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, name, hash, crate::clock::unix_now() as i64],
            )
            .map_err(engine)?;
            Ok(())
        })
        .await
    }

    async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        self.read(|c| {
            let mut st = c
                .prepare(
                    "SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
                )
                .map_err(engine)?;
            let rows = st
                .query_map([], |r| {
                    Ok(KeyRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        revoked_at: r
                            .get::<_, Option<i64>>(3)?
                            .map(|t| u64::try_from(t).unwrap_or(0)),
                    })
                })
                .map_err(engine)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(engine)
        })
        .await
    }

    async fn revoke_key(&self, id: &str, now: u64) -> Result<String, StoreError> {
        let id = id.to_owned();
        self.write(move |c| {
            c.query_row(
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL \
                 RETURNING hash",
                params![id, now as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(engine)?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn key_live(&self, key_hash: &str) -> Result<bool, StoreError> {
        let h = key_hash.to_owned();
        self.read_point(move |c| {
            c.prepare_cached("SELECT 1 FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL")
                .and_then(|mut st| st.exists([h]))
                .map_err(engine)
        })
        .await
    }

    async fn renew_session(&self, token_hash: &str, expires_at: u64) -> Result<(), StoreError> {
        // A logout racing the renewal must not leave the session cached.
        let epoch = self.sessions.epoch();
        let read_at = std::time::Instant::now();
        let t = token_hash.to_owned();
        let user: Option<String> = self
            .write(move |c| {
                c.query_row(
                    "UPDATE sessions SET expires_at = ?2 WHERE token_hash = ?1 RETURNING user_id",
                    params![t, expires_at as i64],
                    |r| r.get(0),
                )
                .optional()
                .map_err(engine)
            })
            .await?;
        if let Some(u) = user {
            self.sessions
                .put(token_hash.to_owned(), u, expires_at, Some(epoch), read_at);
        }
        Ok(())
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT id, password_hash, email, created_at FROM users WHERE id = ?1",
                [&id],
                user_row,
            )
            .optional()
            .map_err(engine)
        })
        .await
    }

    async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        self.read(move |c| {
            let mut st = c
                .prepare("SELECT id, password_hash, email, created_at FROM users ORDER BY created_at, id")
                .map_err(engine)?;
            st.query_map([], user_row)
                .map_err(engine)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(engine)
        })
        .await
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<(), StoreError> {
        let (u, h, k) = (
            user_id.to_owned(),
            password_hash.to_owned(),
            keep.map(str::to_owned),
        );
        self.sessions.evict_user(user_id, keep);
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                    params![u, h],
                )
                .map_err(engine)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            c.execute(
                "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2",
                params![u, k],
            )
            .map_err(engine)?;
            Ok(())
        })
        .await?;
        self.sessions.evict_user(user_id, keep);
        Ok(())
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), StoreError> {
        let u = user_id.to_owned();
        self.sessions.evict_user(user_id, None);
        self.write(move |c| {
            c.execute("DELETE FROM sessions WHERE user_id = ?1", [&u])
                .map_err(engine)?;
            c.execute("DELETE FROM users WHERE id = ?1", [&u])
                .map_err(engine)?;
            // The user's public profile goes with the account.
            c.execute(
                "DELETE FROM records WHERE coll = ?1 AND id = ?2",
                [crate::store::PROFILES, u.as_str()],
            )
            .map_err(engine)?;
            Ok(())
        })
        .await?;
        self.sessions.evict_user(user_id, None);
        Ok(())
    }
}
