//! Server configuration, from the command line and the environment.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The Rucksack reference server.
#[derive(Debug, Clone, Parser)]
#[command(name = "rucksack-server", version, about)]
pub struct Config {
    /// Manage the database instead of serving (e.g. `keys create`).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "RUCKSACK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Also serve the SoftUni practice server's API (`/users/...`, `/data/...`)
    /// on this address, for apps written against it: `--softuni` alone listens
    /// on 127.0.0.1:3030, the address those apps call. That mount needs no API
    /// key (those apps send none); its records are the same as the API's.
    #[arg(
        long,
        env = "RUCKSACK_SOFTUNI",
        num_args = 0..=1,
        default_missing_value = "127.0.0.1:3030",
        value_name = "ADDR"
    )]
    pub softuni: Option<SocketAddr>,

    /// Directory for the database and the generated API key (it may be given
    /// anywhere on the line, before or after a command).
    #[arg(
        long,
        global = true,
        env = "RUCKSACK_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,

    /// The database: the data directory's SQLite file when not given, or a
    /// PostgreSQL server, `postgres://user@host:5432/database` (libpq's URL form;
    /// `?options=-c%20search_path%3Dschema` for a schema other than `public`).
    /// Servers sharing one PostgreSQL database serve the same records, users and
    /// files' metadata.
    #[arg(
        long,
        global = true,
        env = "RUCKSACK_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// Where file bytes live: `<data-dir>/files` when not given, or an
    /// S3-compatible bucket, `s3://bucket[/prefix]?endpoint=http://host:9000&region=…`
    /// (credentials from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`). Servers
    /// sharing one bucket may each upload and serve every file.
    #[arg(long, global = true, env = "RUCKSACK_FILES", value_name = "URL")]
    pub files: Option<String>,

    /// How realtime events reach connections: within this process when not
    /// given, or through NATS JetStream, `nats://host:4222[?stream=NAME]`, so that
    /// a write on any server process reaches every connection on every process
    /// and a client resumes on any of them. Servers sharing one database must
    /// share one bus.
    #[arg(
        long,
        global = true,
        env = "RUCKSACK_BUS",
        value_name = "URL",
        hide_env_values = true
    )]
    pub bus: Option<String>,

    /// The app's API key. When none is given, one is generated on first start,
    /// kept in `<data-dir>/api_key` and printed.
    #[arg(long, env = "RUCKSACK_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// The admin key: it may do everything the API key may, on every record, and
    /// configure collections. When none is given, one is generated on first start
    /// and kept in `<data-dir>/admin_key`. Never ship it to clients.
    #[arg(long, env = "RUCKSACK_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "RUCKSACK_MAX_BODY", default_value_t = 1024 * 1024)]
    pub max_body: u64,

    /// HTTP connections open at once; further ones wait to be accepted. A
    /// WebSocket counts until its upgrade (`--max-ws` bounds open sockets).
    #[arg(long, env = "RUCKSACK_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Seconds a client may take to send a request's headers; slower connections
    /// are closed (slowloris).
    #[arg(long, env = "RUCKSACK_HEADER_TIMEOUT", default_value_t = 30)]
    pub header_timeout: u64,

    /// Seconds a JSON request body may take to arrive (slow senders get 408).
    #[arg(long, env = "RUCKSACK_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,

    /// Open WebSockets allowed per signed-in user (more are refused with 429).
    #[arg(long, env = "RUCKSACK_MAX_WS_PER_USER", default_value_t = 16)]
    pub max_ws_per_user: usize,

    /// Open anonymous WebSockets (no session) allowed per client address (more
    /// are refused with 429).
    #[arg(long, env = "RUCKSACK_MAX_WS_PER_IP", default_value_t = 64)]
    pub max_ws_per_ip: usize,

    /// Messages one WebSocket may send per second; more are answered with a
    /// `rate_limited` error and dropped.
    #[arg(long, env = "RUCKSACK_WS_RATE", default_value_t = 100)]
    pub ws_rate: u32,

    /// Open WebSockets allowed in all (more are refused with 503).
    #[arg(long, env = "RUCKSACK_MAX_WS", default_value_t = 10_000)]
    pub max_ws: usize,

    /// Events kept for clients that reconnect and resume (0 keeps none).
    #[arg(long, env = "RUCKSACK_WS_HISTORY", default_value_t = 4096)]
    pub ws_history: usize,

    /// The most memory the resume history may hold, in bytes (default 64 MiB);
    /// the oldest events go first.
    #[arg(long, env = "RUCKSACK_WS_HISTORY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub ws_history_bytes: usize,

    /// Events a connection may fall behind before it is disconnected as too slow
    /// (it can reconnect and resume from the history).
    #[arg(long, env = "RUCKSACK_WS_QUEUE", default_value_t = 1024)]
    pub ws_queue: usize,

    /// Seconds between the server's heartbeats (WebSocket pings); a connection
    /// silent for three of them is closed.
    #[arg(long, env = "RUCKSACK_WS_HEARTBEAT", default_value_t = 30)]
    pub ws_heartbeat: u64,

    /// Channels one connection may be subscribed to at once.
    #[arg(long, env = "RUCKSACK_WS_MAX_CHANNELS", default_value_t = 256)]
    pub ws_max_channels: usize,

    /// Origins allowed to call the API from a browser with credentials (the
    /// session cookie), comma-separated, e.g. `https://app.example.com`; they may
    /// also open cookie-signed-in WebSockets. Empty allows every origin without
    /// credentials: header tokens work from anywhere, the cookie only same-origin.
    #[arg(long, env = "RUCKSACK_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// The built npm package of the JavaScript SDK, served at `/sdk.js` and
    /// `/sdk/…` for pages that load it by a script tag. By default the `npm/`
    /// directory of the source tree this server was built from; read once at start.
    #[arg(long, env = "RUCKSACK_SDK_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../npm"))]
    pub sdk_dir: PathBuf,

    /// Largest accepted file upload, in bytes (default 100 MiB).
    #[arg(long, env = "RUCKSACK_MAX_UPLOAD", default_value_t = 100 * 1024 * 1024)]
    pub max_upload: u64,

    /// Buckets whose files anyone with the API key may read (comma-separated);
    /// files in other buckets are readable by their owner only.
    #[arg(long, env = "RUCKSACK_PUBLIC_BUCKETS", value_delimiter = ',')]
    pub public_buckets: Vec<String>,

    /// Largest page a collection read may ask for (`pageSize`); larger asks are 400 `invalid_query`.
    #[arg(long, env = "RUCKSACK_MAX_PAGE", default_value_t = 1000)]
    pub max_page: u32,

    /// Records a collection read returns when it names no `pageSize`.
    #[arg(long, env = "RUCKSACK_DEFAULT_PAGE", default_value_t = 100)]
    pub default_page: u32,

    /// How long a session lives without use, in seconds (default 30 days).
    #[arg(long, env = "RUCKSACK_SESSION_TTL", default_value_t = 30 * 24 * 3600)]
    pub session_ttl: u64,

    /// argon2id memory cost in KiB (OWASP: 19456 with 2 iterations). Lower it only for tests.
    #[arg(long, env = "RUCKSACK_HASH_MEMORY_KIB", default_value_t = 19456)]
    pub hash_memory_kib: u32,

    /// argon2id iterations.
    #[arg(long, env = "RUCKSACK_HASH_ITERATIONS", default_value_t = 2)]
    pub hash_iterations: u32,

    /// Register and login attempts allowed per client address per minute.
    #[arg(long, env = "RUCKSACK_AUTH_RATE_PER_IP", default_value_t = 30)]
    pub auth_rate_per_ip: u32,

    /// Login attempts allowed per email per minute.
    #[arg(long, env = "RUCKSACK_AUTH_RATE_PER_EMAIL", default_value_t = 10)]
    pub auth_rate_per_email: u32,

    /// Mark the session cookie `Secure` (sent over HTTPS only). It is also marked
    /// when a proxy in front says the request came over HTTPS (`X-Forwarded-Proto`).
    #[arg(long, env = "RUCKSACK_SECURE_COOKIE")]
    pub secure_cookie: bool,

    /// The address clients reach the server at, e.g. `https://api.example.com`
    /// behind a TLS-terminating proxy. An `https://` address marks the session
    /// cookie `Secure`, as `--secure-cookie` does.
    #[arg(long, env = "RUCKSACK_PUBLIC_URL", value_parser = public_url)]
    pub public_url: Option<String>,

    /// A header that carries the client's address, set by a proxy in front of the
    /// server (e.g. `x-forwarded-for`, whose right-most entry, the one the proxy
    /// appended, is used; a missing or unreadable one counts as the proxy's own
    /// address). Without it the
    /// socket's peer address is the client's.
    #[arg(long, env = "RUCKSACK_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,

    /// Milliseconds one run of a collection's event script may take.
    #[arg(long, env = "RUCKSACK_SCRIPT_TIMEOUT_MS", default_value_t = 100)]
    pub script_timeout_ms: u64,

    /// Memory an event-script engine may hold, in MiB.
    #[arg(long, env = "RUCKSACK_SCRIPT_MEMORY_MIB", default_value_t = 16)]
    pub script_memory_mib: usize,

    /// Seconds to wait for open requests to finish on shutdown.
    #[arg(long, env = "RUCKSACK_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace: u64,

    /// Log lines as `text` (for people) or `json` (one object a line, for log
    /// collectors). Levels and targets come from `RUCKSACK_LOG` (e.g. `info`,
    /// `warn,rucksack::script=info`).
    #[arg(long, env = "RUCKSACK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log one line per request, on the SoftUni mount too (target
    /// `rucksack::request`, level info: method, route, path, status,
    /// milliseconds, the signed-in user's id or `-`, bytes in and out).
    #[arg(long, env = "RUCKSACK_REQUEST_LOG")]
    pub request_log: bool,

    /// Serve `GET /metrics` without the admin key (for a scraper on a private
    /// network); by default it needs the admin key.
    #[arg(long, env = "RUCKSACK_METRICS_PUBLIC")]
    pub metrics_public: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Text for people.
    Text,
    /// One JSON object a line.
    Json,
}

/// Commands that manage the data directory (the server may be running).
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// API keys besides the main one: each is stored only as its hash, and a
    /// revoked key is refused from the next request on.
    Keys {
        /// What to do.
        #[command(subcommand)]
        action: KeysAction,
    },
    /// The registered users.
    Users {
        /// What to do.
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Collections and their configuration: list them, print one's, set one's
    /// (as `PUT /collections/<name>` with the admin key does).
    Collections {
        /// What to do.
        #[command(subcommand)]
        action: CollectionsAction,
    },
    /// Writes a consistent copy of the data directory (the database as of one
    /// moment, the files it names, the key files) to one tar archive; safe while
    /// the server runs.
    Backup {
        /// The archive to write (replaced whole when done).
        file: PathBuf,
    },
    /// Puts a `backup` archive into the data directory, which must hold no
    /// database yet.
    Restore {
        /// The archive `backup` wrote.
        file: PathBuf,
    },
    /// Writes every record of a collection to a file as JSON Lines (one whole
    /// record a line, system fields included, in `_id` order).
    Export {
        /// The collection.
        collection: String,
        /// The file to write (replaced whole when done).
        file: PathBuf,
    },
    /// Adds the records of a JSON Lines file (as `export` writes it) to a
    /// collection, all or nothing. A running server sends no realtime events
    /// for them.
    Import {
        /// The collection.
        collection: String,
        /// The file to read.
        file: PathBuf,
    },
}

/// `users` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum UsersAction {
    /// Lists the users: id, email, registered.
    List,
    /// Deletes a user (by id or email) and ends their sessions; their records
    /// and files stay, as after `DELETE /me`.
    Delete {
        /// The user's id or email.
        user: String,
    },
}

/// `collections` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum CollectionsAction {
    /// Lists the collections that hold records or have a configuration.
    List,
    /// Prints a collection's configuration as JSON (`{}` when it has none).
    Get {
        /// The collection.
        name: String,
    },
    /// Sets a collection's configuration from a JSON file, checked as
    /// `PUT /collections/<name>` checks it; a running server takes it up within
    /// a second. Prints the configuration as stored.
    Set {
        /// The collection.
        name: String,
        /// The JSON file (as `collections get` prints it).
        file: PathBuf,
    },
}

/// What `keys` does.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysAction {
    /// Makes a key and prints it (the only time it is shown).
    Create {
        /// A name to recognise it by.
        #[arg(long)]
        name: String,
    },
    /// Lists the keys: id, name, created, revoked.
    List,
    /// Revokes a key by id.
    Revoke {
        /// The key's id (from `keys list`).
        id: String,
    },
}

/// A `--public-url`: `http://` or `https://`, then a host.
fn public_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or("the public URL starts with https:// or http://")?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err("the public URL names a host, e.g. https://api.example.com".into());
    }
    Ok(s.trim_end_matches('/').to_owned())
}

impl Config {
    /// Whether the session cookie is always `Secure`: `--secure-cookie`, or a
    /// `--public-url` served over HTTPS.
    pub fn always_secure_cookie(&self) -> bool {
        self.secure_cookie
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_is_an_http_or_https_address_with_a_host() {
        assert_eq!(
            public_url("https://api.example.com/").as_deref(),
            Ok("https://api.example.com")
        );
        assert!(public_url("http://10.0.0.5:8080").is_ok());
        for bad in [
            "api.example.com",
            "ftp://x",
            "https://",
            "https:// x",
            "https:///path",
        ] {
            assert!(public_url(bad).is_err(), "{bad}");
        }
        let parse = |args: &[&str]| Config::try_parse_from([&["rucksack-server"], args].concat());
        let https = parse(&["--public-url", "https://api.example.com"]).expect("parse");
        assert!(https.always_secure_cookie());
        let http = parse(&["--public-url", "http://api.example.com"]).expect("parse");
        assert!(!http.always_secure_cookie());
        assert!(parse(&["--public-url", "nope"]).is_err());
    }
}
