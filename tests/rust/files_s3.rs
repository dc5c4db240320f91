//! File bytes in an S3 bucket (`--files s3://…`), against a real S3-protocol
//! server (`s3s-fs`): multipart uploads, ranged reads, servers sharing a
//! bucket, a crash mid-upload, and a bucket that cannot be used. The rest of the
//! storage suite runs on S3 too with `RUCKSACK_TEST_FILES=s3`.

use e2e::{PASSWORD, S3, S3_KEYS, Server, email};
use rucksack::Upload;
use sha2::{Digest, Sha256};

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The objects the bucket holds under `blobs/` (s3s-fs keeps one file each).
fn objects(root: &std::path::Path) -> usize {
    std::fs::read_dir(root.join("rucksack/blobs"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit())
                })
                .count()
        })
        .unwrap_or(0)
}

async fn ranged(server: &Server, token: &str, path: &str, range: &str) -> (u16, Vec<u8>) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", server.url))
        .header("x-api-key", e2e::API_KEY)
        .header("authorization", format!("Bearer {token}"))
        .header("range", range)
        .send()
        .await
        .expect("download");
    let status = r.status().as_u16();
    (status, r.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn servers_sharing_a_bucket_stream_large_files_whole_and_never_sweep_each_others() {
    let root = tempfile::tempdir().expect("S3 root");
    let s3 = S3::start(root.path());
    let a = Server::start_with(&["--files", &s3.files_url]);
    let (sdk, me) = a.signed_in("s3-big").await;
    // Over one multipart part (8 MiB): sent as parts, visible only when whole.
    let data = noise(20 * 1024 * 1024 + 5, 11);
    let rec = sdk
        .storage()
        .upload_file(Upload::bytes(data.clone()), "big.bin", "b")
        .await
        .expect("upload");
    let sha: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        (rec.size, rec.sha256.as_str()),
        (data.len() as u64, sha.as_str())
    );
    assert_eq!(objects(root.path()), 1, "one object, whole");
    let small = sdk
        .storage()
        .upload_file(Upload::bytes(b"tiny".to_vec()), "tiny.txt", "b")
        .await
        .expect("small upload");
    assert_eq!(small.size, 4);

    // A second server with its own database on the same bucket: its start-up
    // sweep finds blobs its database does not name, and must leave them (they
    // may be another process's upload under way).
    let b = Server::start_with(&["--files", &s3.files_url]);
    assert_eq!(objects(root.path()), 2, "the other server's blobs stay");
    drop(b);

    let back = sdk
        .storage()
        .get_file(&me, "big.bin")
        .await
        .expect("download");
    assert!(back == data, "the file comes back whole");
    let token = sdk.session_token().expect("token");
    let path = format!("/uploads/{me}/big.bin");
    let (status, part) = ranged(&a, &token, &path, "bytes=9000000-9000999").await;
    assert_eq!(status, 206);
    assert!(
        part == data[9_000_000..9_001_000],
        "the range across a part boundary"
    );
    let (status, tail) = ranged(&a, &token, &path, "bytes=-7").await;
    assert_eq!((status, tail.as_slice()), (206, &data[data.len() - 7..]));

    // Overwrite and delete remove the old bytes from the bucket.
    sdk.storage()
        .overwrite_file(Upload::bytes(b"now small".to_vec()), "big.bin")
        .await
        .expect("overwrite");
    assert_eq!(
        sdk.storage().get_file(&me, "big.bin").await.expect("again"),
        b"now small"
    );
    sdk.storage().delete_file("tiny.txt").await.expect("delete");
    assert_eq!(
        objects(root.path()),
        1,
        "replaced and deleted bytes are gone"
    );
}

#[tokio::test]
async fn a_crash_during_a_multipart_upload_leaves_no_object_and_no_metadata() {
    let root = tempfile::tempdir().expect("S3 root");
    let s3 = S3::start(root.path());
    let data = tempfile::tempdir().expect("data");
    let files = ["--files", s3.files_url.as_str()];
    let mut server = Server::start_in_with(data.path(), &files);
    let who = email("s3-crash");
    let sdk = server.sdk();
    let me = sdk
        .auth()
        .register(&who, PASSWORD)
        .await
        .expect("register")
        .id;
    sdk.storage()
        .upload_file(Upload::bytes(b"kept".to_vec()), "kept.txt", "b")
        .await
        .expect("upload");
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|c| (Ok::<_, std::io::Error>(bytes::Bytes::from(c)), rx))
    });
    let uploading = {
        let sdk = sdk.clone();
        tokio::spawn(async move {
            sdk.storage()
                .upload_file(Upload::stream(chunks), "cut.bin", "b")
                .await
        })
    };
    // 20 MiB: two parts are sending or sent when the server dies.
    for _ in 0..80 {
        if tx.send(vec![7u8; 256 * 1024]).await.is_err() {
            panic!("the upload ended early: {:?}", uploading.await);
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    server.crash();
    drop(tx);
    assert!(
        uploading.await.expect("join").is_err(),
        "a cut upload cannot succeed"
    );

    let server = Server::start_in_with(data.path(), &files);
    let sdk = server.sdk();
    sdk.auth().login(&who, PASSWORD).await.expect("login");
    let names: Vec<String> = sdk
        .storage()
        .get_list_of_user_files(&me)
        .await
        .expect("list")
        .records
        .into_iter()
        .map(|r| r.filename)
        .collect();
    assert_eq!(names, vec!["kept.txt".to_owned()]);
    assert_eq!(objects(root.path()), 1, "no object of the cut upload");
    assert_eq!(
        sdk.storage().get_file(&me, "kept.txt").await.expect("kept"),
        b"kept"
    );
}

/// Runs the server binary with `args` and the harness's S3 keys; returns its
/// exit success and what it printed to stderr.
fn start_fails(args: &[&str], secret: &str) -> String {
    let dir = tempfile::tempdir().expect("data");
    let out = std::process::Command::new(e2e::server_bin())
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(args)
        .env("AWS_ACCESS_KEY_ID", S3_KEYS.0)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the server");
    assert!(!out.status.success(), "{args:?} must not start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_file_store_that_cannot_be_used_stops_the_start_with_the_reason() {
    let root = tempfile::tempdir().expect("S3 root");
    let s3 = S3::start(root.path());
    let err = start_fails(&["--files", &s3.files_url], "not-the-secret");
    assert!(err.contains("cannot be used"), "{err}");
    let err = start_fails(
        &["--files", "s3://rucksack?endpoint=http://127.0.0.1:9"],
        S3_KEYS.1,
    );
    assert!(err.contains("cannot be used"), "{err}");
    let err = start_fails(&["--files", "s3://rucksack?colour=blue"], S3_KEYS.1);
    assert!(err.contains("unknown parameter 'colour'"), "{err}");
    let err = start_fails(&["--files", "s3://AKIA:secret@rucksack"], S3_KEYS.1);
    assert!(err.contains("holds credentials"), "{err}");
    assert!(!err.contains("secret@"), "the secret is not echoed: {err}");
    let err = start_fails(&["--files", "ftp://example.com/x"], S3_KEYS.1);
    assert!(err.contains("no file store for"), "{err}");
}
