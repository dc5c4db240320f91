//! A full disk: the server's data directory on a small tmpfs, filled while
//! records and files are written. Every refused write answers 507
//! `storage_full` (never 500) and leaves nothing behind (no record, no
//! half-written file); reads go on; when space returns, writes succeed again
//! without a restart; after a restart every acknowledged write is there.
//!
//! Mounting a tmpfs needs root (CAP_SYS_ADMIN), as the test command has.

use e2e::{PASSWORD, Server, email};
use rucksack::{ErrorCode, Record, Upload};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tmpfs's size: room for the server's start, then a ballast file takes
/// all but [`HEADROOM`] of it.
const TMPFS_SIZE: &str = "24m";
const HEADROOM: u64 = 2 * 1024 * 1024;

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={TMPFS_SIZE}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed: the disk-full test needs root (CAP_SYS_ADMIN)"
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system holding `path` with a ballast file, then gives back
/// `HEADROOM` bytes of it.
fn fill(path: &Path) -> PathBuf {
    let ballast = path.join("ballast");
    let mut f = std::fs::File::create(&ballast).expect("ballast");
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling the tmpfs: {e}"),
        }
    }
    f.set_len(written.saturating_sub(HEADROOM))
        .expect("give back headroom");
    f.sync_all().expect("sync ballast");
    ballast
}

fn is_full(e: &rucksack::Error) -> bool {
    e.code() == Some(&ErrorCode::StorageFull) && e.status() == Some(507)
}

fn tmp_files(data: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data.join("files").join("tmp"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_507_and_recovers_without_a_restart() {
    let fs = Tmpfs::mount();
    let data = fs.path().join("data");
    let mut server = Server::start_in_local(&data);
    let sdk = server.sdk();
    let who = email("diskfull");
    let me = sdk
        .auth()
        .register(&who, PASSWORD)
        .await
        .expect("register")
        .id;
    let ballast = fill(fs.path());

    // Bulk inserts and uploads at once, until both have been refused a few times.
    let text = "x".repeat(1000);
    let writer = {
        let (sdk, text) = (sdk.clone(), text.clone());
        tokio::spawn(async move {
            let (mut acked, mut refused) = (HashMap::new(), 0);
            for n in 0u32.. {
                let items: Vec<Value> = (0..20)
                    .map(|i| json!({"n": n, "i": i, "text": text}))
                    .collect();
                match sdk.db().insert_many::<Value>("notes", &items).await {
                    Ok(made) => {
                        for r in made {
                            acked.insert(r.id, r.data);
                        }
                    }
                    Err(e) if is_full(&e) => {
                        refused += 1;
                        if refused == 5 {
                            break;
                        }
                    }
                    Err(e) => panic!("a bulk insert on a full disk: {e}"),
                }
                assert!(n < 10_000, "the disk never filled");
            }
            acked
        })
    };
    let uploader = {
        let sdk = sdk.clone();
        tokio::spawn(async move {
            let (mut acked, mut refused) = (Vec::new(), 0);
            for n in 0u32.. {
                let name = format!("f{n}.bin");
                let bytes = vec![(n % 251) as u8; 256 * 1024];
                match sdk
                    .storage()
                    .upload_file(Upload::bytes(bytes.clone()), &name, "b")
                    .await
                {
                    Ok(_) => acked.push((name, bytes)),
                    Err(e) if is_full(&e) => {
                        refused += 1;
                        if refused == 3 {
                            break;
                        }
                    }
                    Err(e) => panic!("an upload on a full disk: {e}"),
                }
                assert!(n < 10_000, "the disk never filled");
            }
            acked
        })
    };
    let mut records = writer.await.expect("writer");
    let files = uploader.await.expect("uploader");
    assert!(
        !records.is_empty(),
        "some records were written before the disk filled"
    );

    // Full: creates are refused (one may still fit where the WAL reuses its
    // space after a checkpoint), and so is a file larger than what is left.
    let mut refused = None;
    for _ in 0..100 {
        match sdk
            .db()
            .create_resource::<Value>("notes", &json!({"late": true, "text": text}))
            .await
        {
            Ok(r) => {
                records.insert(r.id, r.data);
            }
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("a create on a full disk is refused");
    assert!(is_full(&e), "{e}");
    let e = sdk
        .storage()
        .upload_file(Upload::bytes(vec![7u8; 3 * 1024 * 1024]), "late.bin", "b")
        .await
        .expect_err("an upload on a full disk");
    assert!(is_full(&e), "{e}");
    assert_eq!(
        tmp_files(&data),
        Vec::<PathBuf>::new(),
        "no half-written file"
    );
    // Reads go on.
    let some = records.keys().next().expect("a record");
    sdk.db()
        .get_resource::<Value>("notes", some)
        .await
        .expect("a read on a full disk");

    // Space returns: writes succeed again, with no restart.
    std::fs::remove_file(&ballast).expect("remove ballast");
    let late = sdk
        .db()
        .create_resource::<Value>("notes", &json!({"late": true}))
        .await
        .expect("a create once space returned");
    let late_file = ("late.bin".to_owned(), vec![7u8; 3 * 1024 * 1024]);
    sdk.storage()
        .upload_file(Upload::bytes(late_file.1.clone()), &late_file.0, "b")
        .await
        .expect("an upload once space returned");

    // After a restart, every acknowledged write is there and whole.
    assert!(server.stop(), "the server stopped cleanly");
    let server = Server::start_in_local(&data);
    let sdk = server.sdk();
    sdk.auth().login(&who, PASSWORD).await.expect("login");
    let stored: Vec<Record<Value>> = sdk.db().get_collection("notes").await.expect("notes");
    let stored: HashMap<String, Value> = stored.into_iter().map(|r| (r.id, r.data)).collect();
    assert_eq!(
        stored.len(),
        records.len() + 1,
        "acknowledged records and no others"
    );
    assert!(stored.contains_key(&late.id));
    for (id, data) in &records {
        let got = stored.get(id).expect("an acknowledged record survived");
        assert_eq!(got["text"], data["text"], "record {id} is whole");
    }
    for (name, bytes) in files.iter().chain(std::iter::once(&late_file)) {
        let got = sdk
            .storage()
            .get_file(&me, name)
            .await
            .unwrap_or_else(|e| panic!("acknowledged file {name}: {e}"));
        assert!(got == *bytes, "file {name} is whole");
    }
    eprintln!(
        "disk full: {} records and {} files acknowledged before the disk filled, all intact",
        records.len(),
        files.len()
    );
}
