//! The storage API through the native SDK, and bad file input over raw HTTP.

use e2e::{API_KEY, MAX_UPLOAD, PASSWORD, Server, email};
use rucksack::{ErrorCode, Sdk, Upload};
use sha2::{Digest, Sha256};

/// `n` pseudo-random bytes (xorshift), different per seed.
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

/// The names of the files `sdk`'s caller can list for `user`.
async fn file_names(sdk: &Sdk, user: &str) -> Vec<String> {
    let list = sdk
        .storage()
        .get_list_of_user_files(user)
        .await
        .expect("list");
    list.records.into_iter().map(|r| r.filename).collect()
}

/// The blobs the file store holds (files named in hex; an S3 server may keep
/// other files of its own beside them).
pub fn blob_count(server: &Server) -> usize {
    std::fs::read_dir(server.blob_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit())
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_20_mb_file_round_trips_from_disk_intact() {
    let server = Server::start();
    let (sdk, me) = server.signed_in("big").await;
    let data = noise(20 * 1024 * 1024, 7);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.bin");
    std::fs::write(&path, &data).expect("write");
    let upload = Upload::path(&path)
        .await
        .expect("open")
        .content_type("application/x-test")
        .expect("mime");
    let rec = sdk
        .storage()
        .upload_file(upload, "big.bin", "archive")
        .await
        .expect("upload");
    assert_eq!(
        (rec.size, rec.filename.as_str(), rec.bucket.as_str()),
        (data.len() as u64, "big.bin", "archive")
    );
    assert_eq!(
        (rec.user_id.as_str(), rec.content_type.as_str(), rec.version),
        (me.as_str(), "application/x-test", 0)
    );
    let expected: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        rec.sha256, expected,
        "the server hashed exactly the bytes sent"
    );
    let back = sdk
        .storage()
        .get_file(&me, "big.bin")
        .await
        .expect("download");
    let got: String = Sha256::digest(&back)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(got, expected, "the downloaded bytes hash the same");
    assert!(back == data, "the downloaded bytes differ");
}

#[tokio::test]
async fn list_rename_overwrite_delete() {
    let server = Server::start();
    let (sdk, me) = server.signed_in("files").await;
    let st = sdk.storage();
    let a = st
        .upload_file(Upload::bytes(b"first".to_vec()), "my photo.jpg", "photos")
        .await
        .expect("a");
    let b = st
        .upload_file(Upload::bytes(b"second".to_vec()), "notes.txt", "public")
        .await
        .expect("b");
    let list = st.get_list_of_user_files(&me).await.expect("list");
    assert_eq!(list.records, vec![a.clone(), b.clone()]);

    let renamed = st
        .update_file("my photo.jpg", "new_photo_name.jpg", "archived_photos")
        .await
        .expect("rename")
        .record;
    assert_eq!(
        (
            renamed.filename.as_str(),
            renamed.bucket.as_str(),
            renamed.version
        ),
        ("new_photo_name.jpg", "archived_photos", 1)
    );
    assert_eq!(
        (renamed.id.as_str(), renamed.sha256.as_str()),
        (a.id.as_str(), a.sha256.as_str())
    );
    let e = st
        .get_file(&me, "my photo.jpg")
        .await
        .expect_err("old name");
    assert_eq!(e.code(), Some(&ErrorCode::NotFound));
    assert_eq!(
        st.get_file(&me, "new_photo_name.jpg")
            .await
            .expect("new name"),
        b"first"
    );

    let done = st
        .overwrite_file(
            Upload::bytes(b"replaced bytes".to_vec()),
            "new_photo_name.jpg",
        )
        .await
        .expect("overwrite");
    assert_eq!(done.message, "file overwritten");
    assert_eq!(
        st.get_file(&me, "new_photo_name.jpg").await.expect("get"),
        b"replaced bytes"
    );

    let gone = st
        .delete_file("new_photo_name.jpg")
        .await
        .expect("delete")
        .deleted_record;
    assert_eq!(
        (gone.id.as_str(), gone.version, gone.size),
        (a.id.as_str(), 2, 14)
    );
    let e = st
        .get_file(&me, "new_photo_name.jpg")
        .await
        .expect_err("deleted");
    assert_eq!(e.code(), Some(&ErrorCode::NotFound));
    assert_eq!(
        blob_count(&server),
        1,
        "the deleted and replaced bytes are gone from disk"
    );
}

#[tokio::test]
async fn other_users_see_public_files_only_and_change_nothing() {
    let server = Server::start();
    let (owner, me) = server.signed_in("owner").await;
    owner
        .storage()
        .upload_file(Upload::bytes(b"secret".to_vec()), "diary.txt", "private")
        .await
        .expect("private");
    owner
        .storage()
        .upload_file(Upload::bytes(b"hello".to_vec()), "hello.txt", "public")
        .await
        .expect("public");
    let (other, _) = server.signed_in("other").await;
    let anon = server.sdk();
    for sdk in [&other, &anon] {
        let e = sdk
            .storage()
            .get_file(&me, "diary.txt")
            .await
            .expect_err("private");
        assert_eq!(e.code(), Some(&ErrorCode::NotFound));
        assert_eq!(
            sdk.storage()
                .get_file(&me, "hello.txt")
                .await
                .expect("public"),
            b"hello"
        );
        assert_eq!(file_names(sdk, &me).await, vec!["hello.txt".to_owned()]);
    }
    // Writes name the caller's own files, so another user's are out of reach.
    let e = other
        .storage()
        .delete_file("diary.txt")
        .await
        .expect_err("delete");
    assert_eq!(e.code(), Some(&ErrorCode::NotFound));
    let e = anon
        .storage()
        .upload_file(Upload::bytes(b"x".to_vec()), "x.txt", "b")
        .await
        .expect_err("anon");
    assert_eq!(e.code(), Some(&ErrorCode::Unauthenticated));
    assert_eq!(
        owner
            .storage()
            .get_file(&me, "diary.txt")
            .await
            .expect("intact"),
        b"secret"
    );
}

#[tokio::test]
async fn a_duplicate_upload_is_refused_before_any_byte_is_written() {
    let server = Server::start();
    let (sdk, me) = server.signed_in("dup").await;
    sdk.storage()
        .upload_file(Upload::bytes(b"original".to_vec()), "a.txt", "b")
        .await
        .expect("first");
    let before = blob_count(&server);
    let e = sdk
        .storage()
        .upload_file(Upload::bytes(b"impostor".to_vec()), "a.txt", "b")
        .await
        .expect_err("dup");
    assert_eq!(
        (e.code(), e.status()),
        (Some(&ErrorCode::FileExists), Some(409))
    );
    assert_eq!(
        sdk.storage().get_file(&me, "a.txt").await.expect("get"),
        b"original"
    );
    assert_eq!(blob_count(&server), before);
}

#[tokio::test]
async fn readers_never_see_a_mixed_file_during_overwrites() {
    let server = Server::start();
    let (sdk, me) = server.signed_in("race").await;
    let size = 2 * 1024 * 1024;
    sdk.storage()
        .upload_file(Upload::bytes(vec![b'a'; size]), "flip.bin", "b")
        .await
        .expect("upload");
    // The writer flips the file between two contents until the reader is done,
    // so reads and overwrites overlap.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let sdk = sdk.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 2000 {
                let fill = if i.is_multiple_of(2) { b'b' } else { b'a' };
                sdk.storage()
                    .overwrite_file(Upload::bytes(vec![fill; size]), "flip.bin")
                    .await
                    .expect("overwrite");
                i += 1;
            }
            i
        })
    };
    let mut seen = std::collections::HashSet::new();
    let mut reads = 0;
    // At least 40 reads, and on until both versions were read (400 at most).
    while reads < 40 || (seen.len() < 2 && reads < 400) {
        let bytes = sdk.storage().get_file(&me, "flip.bin").await.expect("read");
        assert_eq!(bytes.len(), size);
        assert!(
            bytes.iter().all(|&b| b == bytes[0]),
            "a download mixed two versions"
        );
        seen.insert(bytes[0]);
        reads += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let overwrites = writer.await.expect("writer");
    assert_eq!(
        seen.len(),
        2,
        "the reads overlapped the overwrites and saw both versions \
         ({reads} reads, {overwrites} overwrites)"
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_leaves_nothing() {
    let server = Server::start();
    let (sdk, me) = server.signed_in("huge").await;
    let too_big = vec![0u8; MAX_UPLOAD as usize + 1024];
    let r = sdk
        .storage()
        .upload_file(Upload::bytes(too_big), "huge.bin", "b")
        .await;
    match r {
        Err(e) if e.code().is_some() => assert_eq!(e.code(), Some(&ErrorCode::PayloadTooLarge)),
        // The server may answer and close before the client finished sending.
        Err(rucksack::Error::Transport(_)) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        sdk.storage()
            .get_list_of_user_files(&me)
            .await
            .expect("list")
            .records
            .is_empty()
    );
    assert_eq!(blob_count(&server), 0);
}

#[tokio::test]
async fn a_crash_during_an_upload_leaves_neither_bytes_nor_metadata() {
    // The local engine's temporary files; files_s3.rs has the S3 engine's case.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start_in_local(dir.path());
    let who = email("crash");
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
    for _ in 0..8 {
        if tx.send(vec![7u8; 256 * 1024]).await.is_err() {
            panic!("the upload ended early: {:?}", uploading.await);
        }
    }
    // Once the server is writing the upload, kill it mid-upload.
    let tmp_files = || {
        std::fs::read_dir(dir.path().join("files/tmp"))
            .map(Iterator::count)
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tmp_files() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        tmp_files(),
        1,
        "the upload is under way when the server dies"
    );
    server.crash();
    drop(tx);
    assert!(
        uploading.await.expect("join").is_err(),
        "a cut upload cannot succeed"
    );

    let server = Server::start_in_local(dir.path());
    let sdk = server.sdk();
    sdk.auth()
        .login(&who, PASSWORD)
        .await
        .expect("login after the crash");
    assert_eq!(file_names(&sdk, &me).await, vec!["kept.txt".to_owned()]);
    assert_eq!(blob_count(&server), 1, "no stray bytes after restart");
    let tmp = std::fs::read_dir(dir.path().join("files/tmp"))
        .expect("tmp")
        .count();
    assert_eq!(tmp, 0, "no unfinished upload left behind");
}

/// Raw multipart requests for what the SDK refuses to send.
async fn raw_upload(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    fields: &[(&str, &str)],
    file: Option<&[u8]>,
) -> (u16, serde_json::Value) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    if let Some(bytes) = file {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("f"),
        );
    }
    let resp = reqwest::Client::new()
        .request(
            method.parse().expect("method"),
            format!("{}{path}", server.url),
        )
        .header("authorization", format!("key {API_KEY}"))
        .header("x-authorization", token)
        .multipart(form)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("text");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// Method, path, form fields, file part, expected status, expected code.
type FormCase = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    Option<&'static [u8]>,
    u16,
    &'static str,
);

#[tokio::test]
async fn bad_file_names_and_forms_are_refused_and_write_nothing() {
    let server = Server::start();
    let (sdk, me) = server.signed_in("names").await;
    sdk.storage()
        .upload_file(Upload::bytes(b"keep".to_vec()), "keep.txt", "b")
        .await
        .expect("upload");
    let token = sdk.session_token().expect("token");
    let long = "n".repeat(256);
    for (name, code) in [
        ("..", "invalid_filename"),
        ("../../etc/passwd", "invalid_filename"),
        ("a/b.txt", "invalid_filename"),
        ("a\\b.txt", "invalid_filename"),
        ("nul\0.txt", "invalid_filename"),
        ("line\nbreak.txt", "invalid_filename"),
        (long.as_str(), "invalid_filename"),
        ("", "invalid_filename"),
    ] {
        let (s, v) = raw_upload(
            &server,
            &token,
            "POST",
            "/uploads",
            &[("bucket", "b"), ("filename", name)],
            Some(b"x"),
        )
        .await;
        assert_eq!((s, v["code"].as_str()), (400, Some(code)), "{name:?}: {v}");
    }
    let cases: Vec<FormCase> = vec![
        (
            "POST",
            "/uploads",
            vec![("bucket", ""), ("filename", "ok.txt")],
            Some(b"x"),
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/uploads",
            vec![("filename", "ok.txt")],
            Some(b"x"),
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/uploads",
            vec![("bucket", "b"), ("filename", "ok.txt")],
            None,
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/uploads",
            vec![("bucket", "b")],
            Some(b"x"),
            400,
            "invalid_filename",
        ),
        (
            "PUT",
            "/uploads/missing.txt",
            vec![],
            Some(b"x"),
            404,
            "not_found",
        ),
        (
            "PUT",
            "/uploads/keep.txt",
            vec![("filename", "keep.txt")],
            None,
            400,
            "validation_failed",
        ),
        (
            "PUT",
            "/uploads/%2E%2E%2Fetc",
            vec![],
            Some(b"x"),
            400,
            "invalid_filename",
        ),
        (
            "PUT",
            "/uploads/a%2Fb",
            vec![],
            Some(b"x"),
            400,
            "invalid_filename",
        ),
        (
            "PUT",
            "/uploads/a%00b",
            vec![],
            Some(b"x"),
            400,
            "invalid_filename",
        ),
        (
            "DELETE",
            "/uploads/..%2Fkeep.txt",
            vec![],
            None,
            400,
            "invalid_filename",
        ),
        (
            "PATCH",
            "/uploads/keep.txt",
            vec![("filename", "../x"), ("bucket", "b")],
            None,
            400,
            "invalid_filename",
        ),
        (
            "PATCH",
            "/uploads/keep.txt",
            vec![("filename", "y.txt"), ("bucket", "b")],
            Some(b"x"),
            400,
            "validation_failed",
        ),
    ];
    for (method, path, fields, file, status, code) in cases {
        let (s, v) = raw_upload(&server, &token, method, path, &fields, file).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {fields:?}: {v}"
        );
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/uploads", server.url))
        .header("authorization", format!("key {API_KEY}"))
        .header("x-authorization", &token)
        .body("not a form")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let records = sdk
        .storage()
        .get_list_of_user_files(&me)
        .await
        .expect("list")
        .records;
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].filename.as_str(), records[0].version),
        ("keep.txt", 0)
    );
    assert_eq!(blob_count(&server), 1);
}

#[tokio::test]
async fn downloads_honour_range_and_if_none_match() {
    let server = Server::start();
    let (sdk, me) = server.signed_in("range").await;
    let rec = sdk
        .storage()
        .upload_file(
            Upload::bytes(b"0123456789".to_vec())
                .content_type("text/plain")
                .expect("mime"),
            "digits.txt",
            "b",
        )
        .await
        .expect("upload");
    let url = format!("{}/uploads/{me}/digits.txt", server.url);
    let get = |headers: Vec<(&'static str, String)>| {
        let mut b = reqwest::Client::new()
            .get(&url)
            .header("authorization", format!("key {API_KEY}"))
            .header("x-authorization", sdk.session_token().unwrap_or_default());
        for (k, v) in headers {
            b = b.header(k, v);
        }
        b.send()
    };
    let full = get(vec![]).await.expect("get");
    assert_eq!(full.status().as_u16(), 200);
    assert_eq!(full.headers()["content-type"], "text/plain");
    assert_eq!(
        full.headers()["etag"],
        format!("\"{}\"", rec.sha256).as_str()
    );
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    let part = get(vec![("range", "bytes=2-5".into())])
        .await
        .expect("range");
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 2-5/10");
    assert_eq!(part.bytes().await.expect("body").as_ref(), b"2345");
    let tail = get(vec![("range", "bytes=-3".into())])
        .await
        .expect("suffix");
    assert_eq!(tail.bytes().await.expect("body").as_ref(), b"789");
    let outside = get(vec![("range", "bytes=20-".into())]).await.expect("416");
    assert_eq!(outside.status().as_u16(), 416);
    assert_eq!(outside.headers()["content-range"], "bytes */10");
    let cached = get(vec![("if-none-match", format!("\"{}\"", rec.sha256))])
        .await
        .expect("304");
    assert_eq!(cached.status().as_u16(), 304);
    let stale = get(vec![("if-none-match", "\"other\"".into())])
        .await
        .expect("200");
    assert_eq!(stale.status().as_u16(), 200);
}
