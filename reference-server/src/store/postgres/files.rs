//! Files' metadata in PostgreSQL. A change reads the row `FOR UPDATE`, so two
//! servers changing one file take turns; a name in use is the unique
//! constraint `files_owner_name`.

use super::*;
use crate::store::{FileBytes, FileRecords};
use async_trait::async_trait;
use sdk_core::files::FileRecord;
use std::collections::HashSet;

const FILE_COLUMNS: &str =
    "id, user_id, filename, bucket, size, content_type, sha256, created_at, updated_at, v, blob";

fn file_row(r: &tokio_postgres::Row) -> (FileRecord, String) {
    (
        FileRecord {
            id: r.get(0),
            user_id: r.get(1),
            filename: r.get(2),
            bucket: r.get(3),
            size: u64::try_from(r.get::<_, i64>(4)).unwrap_or(0),
            content_type: r.get(5),
            sha256: r.get(6),
            created_at: r.get(7),
            updated_at: r.get(8),
            version: u64::try_from(r.get::<_, i64>(9)).unwrap_or(0),
        },
        r.get(10),
    )
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Writes a file's row (its id names it), inserting it when new.
async fn save(
    c: &impl deadpool_postgres::GenericClient,
    f: &FileRecord,
    blob: &str,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (id) DO UPDATE SET filename = EXCLUDED.filename, bucket = EXCLUDED.bucket, \
         size = EXCLUDED.size, content_type = EXCLUDED.content_type, sha256 = EXCLUDED.sha256, \
         updated_at = EXCLUDED.updated_at, v = EXCLUDED.v, blob = EXCLUDED.blob"
    );
    match c
        .execute(
            &sql,
            &[
                &f.id,
                &f.user_id,
                &f.filename,
                &f.bucket,
                &signed(f.size),
                &f.content_type,
                &f.sha256,
                &f.created_at,
                &f.updated_at,
                &signed(f.version),
                &blob,
            ],
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if violates(&e, "files_owner_name") => Err(StoreError::FileExists),
        Err(e) => Err(engine(e)),
    }
}

async fn locked(
    tx: &deadpool_postgres::Transaction<'_>,
    user: &str,
    name: &str,
) -> Result<(FileRecord, String), StoreError> {
    let sql =
        format!("SELECT {FILE_COLUMNS} FROM files WHERE user_id = $1 AND filename = $2 FOR UPDATE");
    let row = tx.query_opt(&sql, &[&user, &name]).await.map_err(engine)?;
    row.as_ref().map(file_row).ok_or(StoreError::NotFound)
}

#[async_trait]
impl FileRecords for PgStore {
    async fn file_insert(
        &self,
        record: FileRecord,
        blob: String,
    ) -> Result<FileRecord, StoreError> {
        let c = self.conn().await?;
        save(&c, &record, &blob).await?;
        Ok(record)
    }

    async fn file_get(
        &self,
        user_id: &str,
        filename: &str,
    ) -> Result<Option<(FileRecord, String)>, StoreError> {
        let c = self.conn().await?;
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE user_id = $1 AND filename = $2");
        let row = c
            .query_opt(&sql, &[&user_id, &filename])
            .await
            .map_err(engine)?;
        Ok(row.as_ref().map(file_row))
    }

    async fn file_list(&self, user_id: &str) -> Result<Vec<FileRecord>, StoreError> {
        let c = self.conn().await?;
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE user_id = $1 ORDER BY filename COLLATE \"C\""
        );
        let rows = c.query(&sql, &[&user_id]).await.map_err(engine)?;
        Ok(rows.iter().map(|r| file_row(r).0).collect())
    }

    async fn file_replace(
        &self,
        user_id: &str,
        filename: &str,
        bytes: FileBytes,
        now: String,
    ) -> Result<(FileRecord, String), StoreError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(engine)?;
        let (mut rec, old) = locked(&tx, user_id, filename).await?;
        rec.size = bytes.size;
        rec.sha256 = bytes.sha256;
        rec.content_type = bytes.content_type;
        rec.updated_at = now;
        rec.version += 1;
        save(&tx, &rec, &bytes.blob).await?;
        tx.commit().await.map_err(engine)?;
        Ok((rec, old))
    }

    async fn file_rename(
        &self,
        user_id: &str,
        filename: &str,
        new_filename: &str,
        bucket: &str,
        now: String,
    ) -> Result<FileRecord, StoreError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(engine)?;
        let (mut rec, blob) = locked(&tx, user_id, filename).await?;
        rec.filename = new_filename.to_owned();
        rec.bucket = bucket.to_owned();
        rec.updated_at = now;
        rec.version += 1;
        save(&tx, &rec, &blob).await?;
        tx.commit().await.map_err(engine)?;
        Ok(rec)
    }

    async fn file_delete(
        &self,
        user_id: &str,
        filename: &str,
    ) -> Result<(FileRecord, String), StoreError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(engine)?;
        let found = locked(&tx, user_id, filename).await?;
        tx.execute("DELETE FROM files WHERE id = $1", &[&found.0.id])
            .await
            .map_err(engine)?;
        tx.commit().await.map_err(engine)?;
        Ok(found)
    }

    async fn file_blobs(&self) -> Result<HashSet<String>, StoreError> {
        let c = self.conn().await?;
        let rows = c
            .query("SELECT blob FROM files", &[])
            .await
            .map_err(engine)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}
