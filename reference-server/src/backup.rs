//! `backup <file>` and `restore <file>`: a consistent copy of a data directory
//! as one tar archive, taken while the server runs, and put back into an empty
//! data directory.
//!
//! The archive holds `rucksack.sqlite3` (a snapshot: SQLite's `VACUUM INTO`
//! from one read transaction, so every record, user, session, key and file
//! record is as of one moment), the blobs under `files/blobs/` that snapshot's
//! file records name (blobs are never changed once written, only added and
//! removed), and the `api_key` and `admin_key` files when there are any. A
//! restore takes only those names, checked one by one, so an archive cannot
//! write outside the data directory.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// The database file in a data directory.
const DATABASE: &str = "rucksack.sqlite3";
/// The key files a data directory may hold beside the database.
const KEY_FILES: [&str; 2] = ["api_key", "admin_key"];
/// Where the file store keeps its blobs, in a data directory and an archive.
const BLOBS: &str = "files/blobs";

/// What went wrong, said for the person at the command line.
type Outcome<T> = Result<T, String>;

/// Creates `path` readable and writable by its owner only: archives and restored
/// files hold password hashes, session hashes and keys.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Creates `dir` (and its parents) readable by its owner only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// The directory a file named `path` goes in (`.` for a bare name), where its
/// temporary copy is written before the rename.
pub(crate) fn directory_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> String {
    let at = format!("{what} {}", path.display());
    move |e| format!("{at}: {e}")
}

/// Writes the archive of `data_dir` to `out` (through a temporary file renamed
/// at the end, so `out` is never half-written); returns a summary. With
/// `bytes_elsewhere` (file bytes in an S3 bucket, `--files s3://…`) it holds
/// the database and keys only: the bucket's own versioning backs up the bytes.
pub fn backup(data_dir: &Path, out: &Path, bytes_elsewhere: Option<&str>) -> Outcome<String> {
    let db = data_dir.join(DATABASE);
    if !db.is_file() {
        return Err(format!("no database at {}", db.display()));
    }
    let work = tempfile::Builder::new()
        .prefix(".rucksack-backup-")
        .tempdir_in(directory_of(out))
        .map_err(|e| {
            format!(
                "cannot make a temporary directory beside {}: {e}",
                out.display()
            )
        })?;
    let snapshot = work.path().join(DATABASE);
    let live = rusqlite::Connection::open_with_flags(
        &db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
    live.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    live.execute("VACUUM INTO ?1", [snapshot.to_string_lossy()])
        .map_err(|e| format!("cannot snapshot {}: {e}", db.display()))?;
    drop(live);
    let blobs: Vec<String> = {
        let c = rusqlite::Connection::open(&snapshot).map_err(|e| e.to_string())?;
        let has_files: bool = c
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'files')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| e.to_string())?;
        if has_files && bytes_elsewhere.is_none() {
            let mut st = c
                .prepare("SELECT DISTINCT blob FROM files ORDER BY blob")
                .map_err(|e| e.to_string())?;
            st.query_map([], |r| r.get(0))
                .and_then(Iterator::collect)
                .map_err(|e| e.to_string())?
        } else {
            Vec::new()
        }
    };

    let partial = work.path().join("archive.tar");
    if out.is_dir() {
        return Err(format!(
            "{} is a directory: name the archive file",
            out.display()
        ));
    }
    let file = create_private(&partial).map_err(io("cannot write", &partial))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    tar.append_path_with_name(&snapshot, DATABASE)
        .map_err(io("cannot archive", &snapshot))?;
    for name in KEY_FILES {
        let p = data_dir.join(name);
        if p.is_file() {
            tar.append_path_with_name(&p, name)
                .map_err(io("cannot archive", &p))?;
        }
    }
    let mut bytes = 0u64;
    for blob in &blobs {
        if !blob_name_ok(blob) {
            return Err(format!(
                "the database names a file blob '{blob}' that is not a blob name"
            ));
        }
        let p = data_dir.join(BLOBS).join(blob);
        let mut f = File::open(&p).map_err(|e| {
            format!(
                "the file blob {} is gone ({e}): a file was deleted during the backup; run it again",
                p.display()
            )
        })?;
        bytes += f.metadata().map(|m| m.len()).unwrap_or(0);
        tar.append_file(format!("{BLOBS}/{blob}"), &mut f)
            .map_err(io("cannot archive", &p))?;
    }
    let mut w = tar.into_inner().map_err(io("cannot finish", &partial))?;
    w.flush().map_err(io("cannot write", &partial))?;
    w.get_ref()
        .sync_all()
        .map_err(io("cannot sync", &partial))?;
    drop(w);
    std::fs::rename(&partial, out).map_err(io("cannot write", out))?;
    if let Some(store) = bytes_elsewhere {
        return Ok(format!(
            "backed up {} to {}: the database; the file bytes stay in {store} \
             (back the bucket up with its own versioning or replication)",
            data_dir.display(),
            out.display(),
        ));
    }
    Ok(format!(
        "backed up {} to {}: the database and {} file blob(s), {bytes} bytes of files",
        data_dir.display(),
        out.display(),
        blobs.len()
    ))
}

/// Whether `name` can be a blob's file name (the file store makes them from
/// hex digits; nothing with a separator or a dot).
fn blob_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Where an archive entry goes in the data directory, if it is one a backup
/// writes; `None` for anything else (other names, `..`, absolute paths).
fn destination(entry: &Path) -> Option<PathBuf> {
    let parts: Vec<&str> = entry
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [name] if *name == DATABASE || KEY_FILES.contains(name) => Some(PathBuf::from(name)),
        ["files", "blobs", blob] if blob_name_ok(blob) => Some(Path::new(BLOBS).join(blob)),
        _ => None,
    }
}

/// Puts the archive `archive` into `data_dir`, which must hold no database;
/// returns a summary. An archive with any entry a backup does not write is
/// refused before anything is kept.
pub fn restore(data_dir: &Path, archive: &Path) -> Outcome<String> {
    // Nothing of another database may be there: its log would be replayed
    // onto the restored one, its keys and blobs mixed in.
    let taken = [
        DATABASE,
        "rucksack.sqlite3-wal",
        "rucksack.sqlite3-shm",
        "rucksack.sqlite3-journal",
    ]
    .into_iter()
    .chain(KEY_FILES)
    .any(|f| data_dir.join(f).exists())
        || std::fs::read_dir(data_dir.join(BLOBS)).is_ok_and(|mut d| d.next().is_some());
    if taken {
        return Err(format!(
            "{} already holds a database (or its keys or files): restore into an empty data directory",
            data_dir.display()
        ));
    }
    create_private_dir(data_dir).map_err(io("cannot create", data_dir))?;
    // Unpacked beside the data directory first, then moved in.
    let work = tempfile::Builder::new()
        .prefix(".rucksack-restore-")
        .tempdir_in(data_dir)
        .map_err(io("cannot make a temporary directory in", data_dir))?;
    let file = File::open(archive).map_err(io("cannot read", archive))?;
    let mut tar = tar::Archive::new(std::io::BufReader::new(file));
    let mut got_db = false;
    let mut blobs = 0usize;
    let mut placed: Vec<PathBuf> = Vec::new();
    for entry in tar.entries().map_err(io("cannot read", archive))? {
        let mut entry = entry.map_err(io("cannot read", archive))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(format!(
                "{} holds something other than files",
                archive.display()
            ));
        }
        let path = entry
            .path()
            .map_err(io("cannot read", archive))?
            .into_owned();
        let Some(rel) = destination(&path) else {
            return Err(format!(
                "{} is not a Rucksack backup: it holds '{}'",
                archive.display(),
                path.display()
            ));
        };
        if placed.contains(&rel) {
            return Err(format!(
                "{} holds '{}' twice",
                archive.display(),
                rel.display()
            ));
        }
        let to = work.path().join(&rel);
        if let Some(dir) = to.parent() {
            create_private_dir(dir).map_err(io("cannot create", dir))?;
        }
        let mut out = create_private(&to).map_err(io("cannot write", &to))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(io("cannot read", archive))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(io("cannot write", &to))?;
        }
        out.sync_all().map_err(io("cannot sync", &to))?;
        got_db |= rel == Path::new(DATABASE);
        blobs += usize::from(rel.starts_with(BLOBS));
        placed.push(rel);
    }
    if !got_db {
        return Err(format!("{} holds no database", archive.display()));
    }
    // The database must be one SQLite can read whole.
    let db = work.path().join(DATABASE);
    let check: String = rusqlite::Connection::open(&db)
        .and_then(|c| c.query_row("PRAGMA quick_check", [], |r| r.get(0)))
        .map_err(|e| format!("the database in {} is damaged: {e}", archive.display()))?;
    if check != "ok" {
        return Err(format!(
            "the database in {} is damaged: {check}",
            archive.display()
        ));
    }
    // The database last: until it is there, a failed restore can run again.
    placed.sort_by_key(|rel| rel == Path::new(DATABASE));
    for rel in &placed {
        let to = data_dir.join(rel);
        if let Some(dir) = to.parent() {
            create_private_dir(dir).map_err(io("cannot create", dir))?;
        }
        std::fs::rename(work.path().join(rel), &to).map_err(io("cannot write", &to))?;
    }
    File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(io("cannot sync", data_dir))?;
    Ok(format!(
        "restored {} into {}: the database and {blobs} file blob(s)",
        archive.display(),
        data_dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_names_a_backup_writes_have_a_place() {
        assert_eq!(
            destination(Path::new("rucksack.sqlite3")),
            Some(PathBuf::from(DATABASE))
        );
        assert_eq!(
            destination(Path::new("api_key")),
            Some(PathBuf::from("api_key"))
        );
        assert_eq!(
            destination(Path::new("files/blobs/ab12")),
            Some(Path::new(BLOBS).join("ab12"))
        );
        for bad in [
            "../rucksack.sqlite3",
            "/etc/passwd",
            "files/blobs/../../x",
            "files/blobs/a.b",
            "files/tmp/x",
            "files/blobs",
            "./api_key",
            "other",
            "files/blobs/a/b",
        ] {
            assert_eq!(destination(Path::new(bad)), None, "{bad}");
        }
    }

    /// An archive with `name` (written into the header as raw bytes, as a
    /// hostile archive would) beside a database.
    fn archive_with(dir: &Path, name: &[u8]) -> PathBuf {
        let path = dir.join("evil.tar");
        let mut tar = tar::Builder::new(File::create(&path).expect("create"));
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(4);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append(&h, &b"evil"[..]).expect("append");
        tar.finish().expect("finish");
        path
    }

    #[test]
    fn a_hostile_archive_writes_nothing() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data");
        for name in [
            &b"../escaped"[..],
            b"/tmp/escaped",
            b"files/blobs/../../escaped",
        ] {
            let archive = archive_with(tmp.path(), name);
            let err = restore(&data, &archive).expect_err("refused");
            assert!(err.contains("not a Rucksack backup"), "{err}");
            assert!(!tmp.path().join("escaped").exists());
            assert!(!data.join(DATABASE).exists());
        }
    }

    #[test]
    fn restore_refuses_a_data_directory_that_holds_a_database_or_its_traces() {
        for left in [
            DATABASE,
            "rucksack.sqlite3-wal",
            "api_key",
            "files/blobs/ab12",
        ] {
            let tmp = tempfile::tempdir().expect("tmp");
            let p = tmp.path().join(left);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, b"").expect("write");
            let err = restore(tmp.path(), &tmp.path().join("any.tar")).expect_err("refused");
            assert!(err.contains("already holds a database"), "{left}: {err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_archive_and_what_it_restores_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        rusqlite::Connection::open(data.join(DATABASE))
            .and_then(|c| c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);"))
            .expect("database");
        std::fs::write(data.join("api_key"), "k").expect("key");
        let archive = tmp.path().join("b.tar");
        backup(&data, &archive, None).expect("backup");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&archive), 0o600);
        let fresh = tmp.path().join("fresh");
        restore(&fresh, &archive).expect("restore");
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&fresh.join(DATABASE)), 0o600);
        assert_eq!(mode(&fresh.join("api_key")), 0o600);
        let err = backup(&data, tmp.path(), None).expect_err("a directory");
        assert!(err.contains("is a directory"), "{err}");
    }

    #[test]
    fn with_file_bytes_in_a_bucket_the_archive_holds_the_database_only() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join(BLOBS)).expect("mkdir");
        rusqlite::Connection::open(data.join(DATABASE))
            .and_then(|c| {
                c.execute_batch(
                    "CREATE TABLE files (blob TEXT); INSERT INTO files VALUES ('ab12');",
                )
            })
            .expect("database");
        let archive = tmp.path().join("b.tar");
        // The blob is not in the data directory: a local backup must fail...
        let err = backup(&data, &archive, None).expect_err("missing blob");
        assert!(err.contains("is gone"), "{err}");
        // ...and one whose bytes live in S3 leaves them there.
        let said = backup(&data, &archive, Some("s3://b/p")).expect("backup");
        assert!(said.contains("the file bytes stay in s3://b/p"), "{said}");
        let mut names = Vec::new();
        let mut tar = tar::Archive::new(File::open(&archive).expect("archive"));
        for e in tar.entries().expect("entries") {
            let e = e.expect("entry");
            names.push(e.path().expect("path").to_string_lossy().into_owned());
        }
        assert_eq!(names, vec![DATABASE.to_owned()]);
    }
}
