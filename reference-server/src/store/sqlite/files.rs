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
