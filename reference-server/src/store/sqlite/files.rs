//! Upload records on disk.

use super::*;

pub(super) const FILE_COLUMNS: &str =
    "id, user_id, filename, bucket, size, content_type, sha256, created_at, updated_at, v, blob";

pub(super) fn file_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(FileRecord, String)> {
    Ok((
        FileRecord {
            id: r.get(0)?,
            user_id: r.get(1)?,
            filename: r.get(2)?,
            bucket: r.get(3)?,
            size: r.get::<_, i64>(4)? as u64,
            content_type: r.get(5)?,
            sha256: r.get(6)?,
            created_at: r.get(7)?,
            updated_at: r.get(8)?,
            version: r.get::<_, i64>(9)? as u64,
        },
        r.get(10)?,
    ))
}

pub(super) fn load_file(
    c: &Connection,
    user: &str,
    name: &str,
) -> Result<Option<(FileRecord, String)>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE user_id = ?1 AND filename = ?2"
    ))
    .and_then(|mut st| st.query_row(params![user, name], file_row).optional())
    .map_err(engine)
}

pub(super) fn file_exists(c: &Connection, user: &str, name: &str) -> Result<bool, StoreError> {
    Ok(load_file(c, user, name)?.is_some())
}

pub(super) fn save_file(c: &Connection, f: &FileRecord, blob: &str) -> Result<(), StoreError> {
    c.prepare_cached(&format!(
        "INSERT OR REPLACE INTO files ({FILE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))
    .and_then(|mut st| {
        st.execute(params![
            f.id,
            f.user_id,
            f.filename,
            f.bucket,
            f.size as i64,
            f.content_type,
            f.sha256,
            f.created_at,
            f.updated_at,
            f.version as i64,
            blob
        ])
    })
    .map_err(engine)?;
    Ok(())
}

#[async_trait]
impl FileRecords for SqliteStore {
    async fn file_insert(
        &self,
        record: FileRecord,
        blob: String,
    ) -> Result<FileRecord, StoreError> {
        self.write(move |c| {
            if file_exists(c, &record.user_id, &record.filename)? {
                return Err(StoreError::FileExists);
            }
            save_file(c, &record, &blob)?;
            Ok(record)
        })
        .await
    }

    async fn file_get(
        &self,
        user_id: &str,
        filename: &str,
    ) -> Result<Option<(FileRecord, String)>, StoreError> {
        let (u, f) = (user_id.to_owned(), filename.to_owned());
        self.read(move |c| load_file(c, &u, &f)).await
    }

    async fn file_list(&self, user_id: &str) -> Result<Vec<FileRecord>, StoreError> {
        let u = user_id.to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE user_id = ?1 ORDER BY filename"
                ))
                .map_err(engine)?;
            let rows = st.query_map([u], file_row).map_err(engine)?;
            rows.map(|r| r.map(|(f, _)| f).map_err(engine)).collect()
        })
        .await
    }

    async fn file_replace(
        &self,
        user_id: &str,
        filename: &str,
        bytes: FileBytes,
        now: String,
    ) -> Result<(FileRecord, String), StoreError> {
        let (u, f) = (user_id.to_owned(), filename.to_owned());
        self.write(move |c| {
            let (mut rec, old) = load_file(c, &u, &f)?.ok_or(StoreError::NotFound)?;
            rec.size = bytes.size;
            rec.sha256 = bytes.sha256;
            rec.content_type = bytes.content_type;
            rec.updated_at = now;
            rec.version += 1;
            save_file(c, &rec, &bytes.blob)?;
            Ok((rec, old))
        })
        .await
    }

    async fn file_rename(
        &self,
        user_id: &str,
        filename: &str,
        new_filename: &str,
        bucket: &str,
        now: String,
    ) -> Result<FileRecord, StoreError> {
        let (u, f, nf, b) = (
            user_id.to_owned(),
            filename.to_owned(),
            new_filename.to_owned(),
            bucket.to_owned(),
        );
        self.write(move |c| {
            let (mut rec, blob) = load_file(c, &u, &f)?.ok_or(StoreError::NotFound)?;
            if nf != f && file_exists(c, &u, &nf)? {
                return Err(StoreError::FileExists);
            }
            rec.filename = nf;
            rec.bucket = b;
            rec.updated_at = now;
            rec.version += 1;
            save_file(c, &rec, &blob)?;
            Ok(rec)
        })
        .await
    }

    async fn file_delete(
        &self,
        user_id: &str,
        filename: &str,
    ) -> Result<(FileRecord, String), StoreError> {
        let (u, f) = (user_id.to_owned(), filename.to_owned());
        self.write(move |c| {
            let found = load_file(c, &u, &f)?.ok_or(StoreError::NotFound)?;
            c.execute("DELETE FROM files WHERE id = ?1", [&found.0.id])
                .map_err(engine)?;
            Ok(found)
        })
        .await
    }

    async fn file_blobs(&self) -> Result<HashSet<String>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare("SELECT blob FROM files").map_err(engine)?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(engine)?;
            rows.map(|r| r.map_err(engine)).collect()
        })
        .await
    }
}
