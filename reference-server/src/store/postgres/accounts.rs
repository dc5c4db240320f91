//! Users, sessions and API keys in PostgreSQL.

use super::*;
use crate::store::{Accounts, KeyRow, UserRow};
use async_trait::async_trait;

fn unix(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn user_row(r: &tokio_postgres::Row) -> UserRow {
    UserRow {
        id: r.get(0),
        password_hash: r.get(1),
        email: r.get(2),
        created_at: unix(r.get(3)),
    }
}

const USER_COLUMNS: &str = "id, password_hash, email, created_at";

#[async_trait]
impl Accounts for PgStore {
    async fn create_user(
        &self,
        id: &str,
        email: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let c = self.conn().await?;
        let now = signed(crate::clock::unix_now());
        match c
            .execute(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
                &[&id, &email, &password_hash, &now],
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if violates(&e, "users_email_key") => Err(StoreError::EmailTaken),
            Err(e) => Err(engine(e)),
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        let c = self.conn().await?;
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row = c.query_opt(&sql, &[&email]).await.map_err(engine)?;
        Ok(row.as_ref().map(user_row))
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let c = self.conn().await?;
        c.execute(
            "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
            &[&token_hash, &user_id, &signed(expires_at)],
        )
        .await
        .map_err(engine)?;
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
        let c = self.conn().await?;
        let st = c
            .prepare_cached(
                "SELECT user_id, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
            )
            .await
            .map_err(engine)?;
        let row = c
            .query_opt(&st, &[&token_hash, &signed(now)])
            .await
            .map_err(engine)?;
        Ok(row.map(|r| {
            let (user, expires): (String, u64) = (r.get(0), unix(r.get(1)));
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
        let c = self.conn().await?;
        let r = c
            .execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])
            .await
            .map_err(engine);
        self.sessions.evict(token_hash);
        r.map(|_| ())
    }

    fn forget_sessions(&self, token_hash: Option<&str>, user: Option<&str>, keep: Option<&str>) {
        if let Some(h) = token_hash {
            self.sessions.evict(h);
        }
        if let Some(u) = user {
            self.sessions.evict_user(u, keep);
        }
    }

    async fn renew_session(&self, token_hash: &str, expires_at: u64) -> Result<(), StoreError> {
        // A logout racing the renewal must not leave the session cached.
        let epoch = self.sessions.epoch();
        let read_at = std::time::Instant::now();
        let c = self.conn().await?;
        let user = c
            .query_opt(
                "UPDATE sessions SET expires_at = $2 WHERE token_hash = $1 RETURNING user_id",
                &[&token_hash, &signed(expires_at)],
            )
            .await
            .map_err(engine)?;
        if let Some(u) = user {
            self.sessions.put(
                token_hash.to_owned(),
                u.get(0),
                expires_at,
                Some(epoch),
                read_at,
            );
        }
        Ok(())
    }

    async fn create_key(&self, id: &str, name: &str, key_hash: &str) -> Result<(), StoreError> {
        let c = self.conn().await?;
        c.execute(
            "INSERT INTO api_keys (id, name, hash, created_at) VALUES ($1, $2, $3, $4)",
            &[&id, &name, &key_hash, &signed(crate::clock::unix_now())],
        )
        .await
        .map_err(engine)?;
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
                &[],
            )
            .await
            .map_err(engine)?;
        Ok(rows
            .iter()
            .map(|r| KeyRow {
                id: r.get(0),
                name: r.get(1),
                created_at: unix(r.get(2)),
                revoked_at: r.get::<_, Option<i64>>(3).map(unix),
            })
            .collect())
    }

    async fn revoke_key(&self, id: &str, now: u64) -> Result<String, StoreError> {
        let c = self.conn().await?;
        let row = c
            .query_opt(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
                 RETURNING hash",
                &[&id, &signed(now)],
            )
            .await
            .map_err(engine)?;
        row.map(|r| r.get(0)).ok_or(StoreError::NotFound)
    }

    async fn key_live(&self, key_hash: &str) -> Result<bool, StoreError> {
        let c = self.conn().await?;
        let st = c
            .prepare_cached("SELECT 1 FROM api_keys WHERE hash = $1 AND revoked_at IS NULL")
            .await
            .map_err(engine)?;
        let row = c.query_opt(&st, &[&key_hash]).await.map_err(engine)?;
        Ok(row.is_some())
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let c = self.conn().await?;
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = c.query_opt(&sql, &[&id]).await.map_err(engine)?;
        Ok(row.as_ref().map(user_row))
    }

    async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let c = self.conn().await?;
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id");
        let rows = c.query(&sql, &[]).await.map_err(engine)?;
        Ok(rows.iter().map(user_row).collect())
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<(), StoreError> {
        self.sessions.evict_user(user_id, keep);
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(engine)?;
        let n = tx
            .execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[&user_id, &password_hash],
            )
            .await
            .map_err(engine)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.execute(
            "DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2",
            &[&user_id, &keep],
        )
        .await
        .map_err(engine)?;
        tx.commit().await.map_err(engine)?;
        self.sessions.evict_user(user_id, keep);
        Ok(())
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), StoreError> {
        self.sessions.evict_user(user_id, None);
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(engine)?;
        tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .await
            .map_err(engine)?;
        tx.execute("DELETE FROM users WHERE id = $1", &[&user_id])
            .await
            .map_err(engine)?;
        // The user's public profile goes with the account.
        tx.execute(
            "DELETE FROM records WHERE coll = $1 AND id = $2",
            &[&crate::store::PROFILES, &user_id],
        )
        .await
        .map_err(engine)?;
        tx.commit().await.map_err(engine)?;
        self.sessions.evict_user(user_id, None);
        Ok(())
    }
}
