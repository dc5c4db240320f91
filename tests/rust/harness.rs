//! Starts the real `rucksack-server` binary on a free port for end-to-end tests.
//!
//! The binary is found through `RUCKSACK_SERVER_BIN`, else next to the test
//! executable's directory (`target/<profile>/rucksack-server`); build it first with
//! `cargo build -p reference-server`.
//!
//! `RUCKSACK_TEST_FILES=s3` keeps every server's file bytes in an S3 bucket: the
//! harness starts a real S3-protocol server (`s3s-fs`, which `scripts/setup.sh`
//! installs) beside each server, storing under `<data-dir>/.s3`, and points the
//! server at it with `--files s3://…`.
//!
//! `RUCKSACK_TEST_DATABASE=postgres` keeps every server's data in PostgreSQL
//! (`RUCKSACK_TEST_POSTGRES`, by default `postgres://postgres@127.0.0.1:5432/test`):
//! each data directory gets a schema of its own, made with `psql` and named
//! in `<data-dir>/.pg_schema`, so a server started again on the directory finds
//! its data.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A command-line option of the benchmark tools (`tests/rust/bin/`): the value
/// after `name`, or `default`.
pub fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// The API key the test servers use.
pub const API_KEY: &str = "test-key-0123456789";

/// The admin key the test servers use.
pub const ADMIN_KEY: &str = "test-admin-key-9876543210";

/// The largest upload the test servers accept.
pub const MAX_UPLOAD: u64 = 24 * 1024 * 1024;

/// A running server process with its own data directory.
pub struct Server {
    child: Option<Child>,
    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The server's log lines so far, for a server started with [`Server::start_logging`].
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The S3 server holding the file bytes, with `RUCKSACK_TEST_FILES=s3`.
    s3: Option<S3>,
    _tmp: Option<tempfile::TempDir>,
}

/// A real S3-protocol server (`s3s-fs`) on a free port: its bucket `rucksack`
/// lives under a directory of the caller's.
pub struct S3 {
    child: Child,
    /// The `--files` URL that reaches its bucket.
    pub files_url: String,
}

/// The access key and secret the harness's S3 servers take.
pub const S3_KEYS: (&str, &str) = ("rucksack-test", "rucksack-test-secret");

/// The PostgreSQL server the tests use.
pub fn test_postgres() -> String {
    std::env::var("RUCKSACK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether the tests keep their data in PostgreSQL (`RUCKSACK_TEST_DATABASE=postgres`).
pub fn postgres_wanted() -> bool {
    std::env::var("RUCKSACK_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// The `--database` URL of a data directory's own PostgreSQL schema, made on
/// first use.
pub fn postgres_schema(data_dir: &Path) -> String {
    let marker = data_dir.join(".pg_schema");
    let schema = match std::fs::read_to_string(&marker) {
        Ok(s) => s.trim().to_owned(),
        Err(_) => {
            let name = format!(
                "rk_e2e_{}_{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default()
            );
            let ok = Command::new("psql")
                .args([&test_postgres(), "-q", "-v", "ON_ERROR_STOP=1", "-c"])
                .arg(format!("CREATE SCHEMA {name}"))
                .status()
                .expect("psql (PostgreSQL's client)");
            assert!(ok.success(), "cannot make the schema {name}");
            std::fs::create_dir_all(data_dir).expect("data directory");
            std::fs::write(&marker, &name).expect("schema marker");
            name
        }
    };
    let url = test_postgres();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// The server binary run as a command on `data_dir`: with the `--database` of
/// the data directory's PostgreSQL schema when a server there keeps its data
/// in PostgreSQL.
pub fn command_on(data_dir: &Path) -> Command {
    let mut c = Command::new(server_bin());
    c.arg("--data-dir").arg(data_dir);
    if data_dir.join(".pg_schema").exists() {
        c.args(["--database", &postgres_schema(data_dir)]);
    }
    c
}

/// Drops the schema [`postgres_schema`] made for a data directory, if any.
pub fn drop_postgres_schema(data_dir: &Path) {
    drop_nats_stream(data_dir);
    if let Ok(schema) = std::fs::read_to_string(data_dir.join(".pg_schema")) {
        let _ = Command::new("psql")
            .args([&test_postgres(), "-q", "-c"])
            .arg(format!("DROP SCHEMA IF EXISTS {} CASCADE", schema.trim()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Whether test servers share realtime through NATS (`RUCKSACK_TEST_BUS=nats`):
/// each data directory gets its own JetStream stream.
pub fn nats_wanted() -> bool {
    std::env::var("RUCKSACK_TEST_BUS").is_ok_and(|v| v == "nats")
}

/// The `--bus` URL of a data directory's own stream (named on first use, so a
/// restarted server finds its events again).
pub fn nats_bus(data_dir: &Path) -> String {
    let marker = data_dir.join(".nats_stream");
    let stream = match std::fs::read_to_string(&marker) {
        Ok(s) => s.trim().to_owned(),
        Err(_) => {
            let name = format!(
                "rk_e2e_{}_{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default()
            );
            std::fs::create_dir_all(data_dir).expect("data directory");
            std::fs::write(&marker, &name).expect("stream marker");
            name
        }
    };
    format!("nats://127.0.0.1:4222?stream={stream}")
}

/// Deletes a data directory's stream and its rate-limit stream, speaking NATS's
/// text protocol (a request to the JetStream API, waiting for each answer).
fn drop_nats_stream(data_dir: &Path) {
    use std::io::{Read, Write};
    let Ok(name) = std::fs::read_to_string(data_dir.join(".nats_stream")) else {
        return;
    };
    let name = name.trim();
    let Ok(mut s) = std::net::TcpStream::connect("127.0.0.1:4222") else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut asks = String::from("CONNECT {\"verbose\":false}\r\nSUB _INBOX.rk_drop 1\r\n");
    for stream in [name.to_owned(), format!("{name}_limits")] {
        asks.push_str(&format!(
            "PUB $JS.API.STREAM.DELETE.{stream} _INBOX.rk_drop 0\r\n\r\n"
        ));
    }
    if s.write_all(asks.as_bytes()).is_err() {
        return;
    }
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while seen.matches("MSG _INBOX.rk_drop").count() < 2 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
}

impl S3 {
    /// Starts `s3s-fs` storing under `root` (created, with the bucket, if missing).
    pub fn start(root: &Path) -> Self {
        std::fs::create_dir_all(root.join("rucksack")).expect("S3 root");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", S3_KEYS.0, "--secret-key", S3_KEYS.1])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs (install it with `bash scripts/setup.sh`)");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self {
                    child,
                    files_url: format!("s3://rucksack?endpoint=http://127.0.0.1:{port}"),
                };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("s3s-fs did not listen on port {port}");
    }

    /// Whether the tests keep file bytes in S3 (`RUCKSACK_TEST_FILES=s3`).
    pub fn wanted() -> bool {
        std::env::var("RUCKSACK_TEST_FILES").is_ok_and(|v| v == "s3")
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resident memory in KiB, from `/proc/<pid>/status` (0 if unknown).
pub fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The CPU time (user + system) a process has used, in microseconds, from its
/// `/proc/<pid>/stat` (clock ticks of 1/100 s, Linux's `USER_HZ`); 0 when unknown.
pub fn cpu_us(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let field = |i: usize| -> u64 {
        rest.split_whitespace()
            .nth(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (field(11) + field(12)) * 10_000
}

/// Registers a new user for a load generator's writes and returns its session
/// token; exits the process if the server cannot be reached.
pub async fn register_writer(http: &reqwest::Client, url: &str, key: &str, tag: &str) -> String {
    let email = format!(
        "{tag}-{}@example.com",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros())
    );
    let signed: serde_json::Value = match http
        .post(format!("{url}/register"))
        .header("authorization", format!("key {key}"))
        .json(&serde_json::json!({"email": email, "password": format!("{tag}-password-123")}))
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(e) => {
            eprintln!("register: {e}");
            std::process::exit(1);
        }
    };
    signed["token"].as_str().unwrap_or_default().to_owned()
}

/// Path of the server binary.
pub fn server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("RUCKSACK_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    profile_dir.join(format!("rucksack-server{}", std::env::consts::EXE_SUFFIX))
}

impl Server {
    /// Starts a server on a fresh temporary data directory.
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("temporary data directory");
        let mut s = Self::start_in(tmp.path());
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on a fresh temporary data directory with extra flags
    /// (flags the harness does not pass itself: the rate limits, `--session-ttl`, ...).
    pub fn start_with(args: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("temporary data directory");
        let mut s = Self::launch(tmp.path(), args, None);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on `data_dir` (kept after the server stops).
    pub fn start_in(data_dir: &Path) -> Self {
        Self::launch(data_dir, &[], None)
    }

    /// As [`Server::start_in`], with extra flags.
    pub fn start_in_with(data_dir: &Path, extra: &[&str]) -> Self {
        Self::launch(data_dir, extra, None)
    }

    /// As [`Server::start_in`], with the database (SQLite) and the file bytes
    /// in the data directory whatever `RUCKSACK_TEST_FILES` and
    /// `RUCKSACK_TEST_DATABASE` say: for tests of the embedded engines (their
    /// files, their disk, their backups, their checkpoints).
    pub fn start_in_local(data_dir: &Path) -> Self {
        Self::launch_with(data_dir, &[], None, true)
    }

    /// As [`Server::start`], with everything in the data directory (see
    /// [`Server::start_in_local`]).
    pub fn start_local() -> Self {
        let tmp = tempfile::tempdir().expect("temporary data directory");
        let mut s = Self::start_in_local(tmp.path());
        s._tmp = Some(tmp);
        s
    }

    /// The directory that holds the file blobs, one file each: the data
    /// directory's, or the S3 bucket's folder when the bytes are in S3.
    pub fn blob_dir(&self) -> PathBuf {
        match self.s3 {
            Some(_) => self.data_dir.join(".s3/rucksack/blobs"),
            None => self.data_dir.join("files/blobs"),
        }
    }

    /// A server whose log (at `filter`, as `RUCKSACK_LOG` takes it) is kept in
    /// [`Server::log`], started with the `extra` flags.
    pub fn start_logging(filter: &str, extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("temporary data directory");
        let mut s = Self::launch(tmp.path(), extra, Some(filter));
        s._tmp = Some(tmp);
        s
    }

    fn launch(data_dir: &Path, extra: &[&str], log: Option<&str>) -> Self {
        Self::launch_with(data_dir, extra, log, false)
    }

    fn launch_with(data_dir: &Path, extra: &[&str], log: Option<&str>, local: bool) -> Self {
        let in_s3 = S3::wanted() && !local;
        let bin = server_bin();
        assert!(
            bin.exists(),
            "no server binary at {}: run `cargo build -p reference-server`",
            bin.display()
        );
        // A test that names its own file store (`--files`) gets no S3 server of ours.
        let own_files = extra.contains(&"--files");
        let s3 = (in_s3 && !own_files).then(|| S3::start(&data_dir.join(".s3")));
        let mut command = Command::new(&bin);
        if postgres_wanted() && !local && !extra.contains(&"--database") {
            command.args(["--database", &postgres_schema(data_dir)]);
        }
        if let Some(s3) = &s3 {
            command.args(["--files", &s3.files_url]);
        }
        if nats_wanted() && !extra.contains(&"--bus") {
            command.args(["--bus", &nats_bus(data_dir)]);
        }
        command
            .env("AWS_ACCESS_KEY_ID", S3_KEYS.0)
            .env("AWS_SECRET_ACCESS_KEY", S3_KEYS.1);
        let mut child = command
            .args(["--listen", "127.0.0.1:0", "--api-key", API_KEY])
            .args(["--admin-key", ADMIN_KEY])
            .arg("--data-dir")
            .arg(data_dir)
            .args([
                "--public-buckets",
                "public",
                "--max-upload",
                &MAX_UPLOAD.to_string(),
            ])
            .args([
                "--hash-memory-kib",
                "64",
                "--hash-iterations",
                "1",
                "--shutdown-grace",
                "2",
            ])
            .args(extra)
            // Tests sign many users in from one address; the limits get their own test.
            .env("RUCKSACK_AUTH_RATE_PER_IP", "100000")
            .env("RUCKSACK_AUTH_RATE_PER_EMAIL", "100000")
            .env("RUCKSACK_LOG", log.unwrap_or("warn"))
            .stdout(Stdio::piped())
            .stderr(if log.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("start the server");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut l) = lines.lock() {
                        l.push(line);
                    }
                }
            });
        }
        let stdout = child.stdout.take().expect("server stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split("listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server announced its address");
        Self {
            child: Some(child),
            url,
            data_dir: data_dir.to_owned(),
            log: lines,
            s3,
            _tmp: None,
        }
    }

    /// An SDK for this server with the admin key (server-side use only).
    pub fn admin_sdk(&self) -> rucksack::Sdk {
        rucksack::Sdk::new(&self.url, ADMIN_KEY).expect("admin sdk")
    }

    /// A new user registered and signed in on a fresh SDK: the SDK and the user's id.
    pub async fn signed_in(&self, tag: &str) -> (rucksack::Sdk, String) {
        let (sdk, _, id) = self.registered(tag).await;
        (sdk, id)
    }

    /// As [`Server::signed_in`], with the user's email too (to sign in again).
    pub async fn registered(&self, tag: &str) -> (rucksack::Sdk, String, String) {
        let sdk = self.sdk();
        let who = email(tag);
        let id = sdk
            .auth()
            .register(&who, PASSWORD)
            .await
            .expect("register")
            .id;
        (sdk, who, id)
    }

    /// An SDK for this server with the app's API key.
    pub fn sdk(&self) -> rucksack::Sdk {
        rucksack::Sdk::new(&self.url, API_KEY).expect("sdk")
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Asks the process to stop (SIGTERM) and waits; returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(status)) = c.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.crash();
        // A temporary data directory goes with the server, and its schema too.
        if self._tmp.is_some() {
            drop_postgres_schema(&self.data_dir);
        }
    }
}

/// A unique email for a test user.
pub fn email(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}-{}-{}@example.com",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A password that passes the server's rules.
pub const PASSWORD: &str = "correct horse battery";

/// A TCP proxy in front of a server, whose connections can be cut at will: a
/// real network failure for the realtime tests.
pub struct Proxy {
    /// The proxy's base URL, to give the SDK instead of the server's.
    pub url: String,
    cut: tokio::sync::watch::Sender<u64>,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    target: std::sync::Arc<std::sync::Mutex<String>>,
}

/// A base URL's `host:port`.
fn host_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

impl Proxy {
    /// Listens on a free port and forwards every connection to `target` (a base URL).
    pub async fn start(target: &str) -> Self {
        let target = std::sync::Arc::new(std::sync::Mutex::new(host_port(target)));
        let to = target.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy port");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let cuts = cut.clone();
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_down = down.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if is_down.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let addr = to.lock().map(|a| a.clone()).unwrap_or_default();
                let Ok(mut server) = tokio::net::TcpStream::connect(&addr).await else {
                    continue;
                };
                let mut rx = cuts.subscribe();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = rx.changed() => {}
                    }
                });
            }
        });
        Self {
            url,
            cut,
            down,
            target,
        }
    }

    /// Sends new connections to another server (a load balancer's choice);
    /// those open stay where they are until cut.
    pub fn retarget(&self, url: &str) {
        if let Ok(mut t) = self.target.lock() {
            *t = host_port(url);
        }
    }

    /// Drops every connection open through the proxy right now.
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Drops every connection and refuses new ones until [`Proxy::up`].
    pub fn down(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut();
    }

    /// Lets connections through again.
    pub fn up(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The next realtime message, within 10 s.
pub async fn next_msg(live: &mut rucksack::Realtime) -> rucksack::ServerMessage {
    tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .expect("a message within 10 s")
        .expect("connection open")
        .expect("well-formed message")
}

/// The next realtime message as JSON (whatever its kind).
pub async fn next_json(live: &mut rucksack::Realtime) -> serde_json::Value {
    let m = next_msg(live).await;
    serde_json::from_str(&m.to_json()).expect("json")
}

/// Asserts that nothing has reached `live` that the test has not read: a message
/// here would be one the connection must not get. No fixed wait: `live` asks for
/// a collection nobody writes, and the server handles a connection's requests
/// only after delivering the events already published to it, so anything
/// published to `live` before the question arrives before its answer.
pub async fn quiet(live: &mut rucksack::Realtime) {
    live.get_collection("quiet-marker")
        .expect("send the marker");
    let m = next_json(live).await;
    assert!(
        m["action"] == "getAll" && m["collection"] == "quiet-marker",
        "expected nothing before the marker's answer, got {m}"
    );
}

/// Connects and reads the greeting.
pub async fn connect(sdk: &rucksack::Sdk) -> rucksack::Realtime {
    let mut live = sdk.ws().await.expect("connect");
    match next_msg(&mut live).await {
        rucksack::ServerMessage::Connection(_) => live,
        other => panic!("expected the greeting, got {other:?}"),
    }
}

/// The next text frame of a raw socket, as JSON, within 5 s.
pub async fn text_frame<S, E>(ws: &mut S) -> serde_json::Value
where
    S: futures_util::Stream<Item = Result<tokio_tungstenite::tungstenite::Message, E>> + Unpin,
    E: std::fmt::Debug,
{
    use futures_util::StreamExt;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("open")
            .expect("a frame");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).expect("json");
        }
    }
}

/// Raw HTTP, for requests the SDK would not send as an attacker does.
pub mod raw {
    use super::{ADMIN_KEY, API_KEY, PASSWORD, Server, email};
    use serde_json::{Value, json};

    /// A request with the app's key.
    pub fn call(server: &Server, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        with_key(server, method, path, API_KEY)
    }

    /// A request with the admin key.
    pub fn admin(server: &Server, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        with_key(server, method, path, ADMIN_KEY)
    }

    fn with_key(
        server: &Server,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", server.url))
            .header("authorization", format!("key {key}"))
    }

    /// The answer's JSON body.
    pub async fn json(r: reqwest::RequestBuilder) -> Value {
        r.send()
            .await
            .expect("request")
            .json()
            .await
            .expect("a JSON answer")
    }

    /// Registers a user: the user's id and session token.
    pub async fn user(server: &Server, tag: &str) -> (String, String) {
        let r = json(
            call(server, reqwest::Method::POST, "/register")
                .json(&json!({"email": email(tag), "password": PASSWORD})),
        )
        .await;
        (
            r["id"].as_str().expect("id").to_owned(),
            r["token"].as_str().expect("token").to_owned(),
        )
    }

    /// Sets a collection's configuration with the admin key.
    pub async fn configure(server: &Server, coll: &str, config: Value) {
        let r = admin(
            server,
            reqwest::Method::PUT,
            &format!("/collections/{coll}"),
        )
        .json(&config)
        .send()
        .await
        .expect("configure");
        assert!(r.status().is_success(), "configure {coll}: {}", r.status());
    }

    /// Makes an API key with the admin key: its id and the key.
    pub async fn make_key(server: &Server, name: &str) -> (String, String) {
        let made = json(
            admin(server, reqwest::Method::POST, "/admin/keys").json(&json!({ "name": name })),
        )
        .await;
        (
            made["id"].as_str().expect("id").to_owned(),
            made["key"].as_str().expect("key").to_owned(),
        )
    }

    /// Creates a record as the user of `token`; the answer's body.
    pub async fn create(server: &Server, token: &str, coll: &str, body: Value) -> Value {
        json(
            call(server, reqwest::Method::POST, &format!("/{coll}"))
                .header("x-authorization", token)
                .json(&body),
        )
        .await
    }

    /// The status of a request made with a session token.
    pub async fn status(r: reqwest::RequestBuilder, token: &str) -> u16 {
        r.header("x-authorization", token)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }
}
