//! The server's own routes, as path segments: defined once for the server's
//! filters, the clients' request builder and the reserved collection names.
//! Every other first segment names a collection (`/<collection>[/<id>]`).

/// `GET /health`.
pub const HEALTH: &str = "health";
/// `POST /register`.
pub const REGISTER: &str = "register";
/// `POST /login`.
pub const LOGIN: &str = "login";
/// `POST /logout`.
pub const LOGOUT: &str = "logout";
/// `GET /me`, `DELETE /me`.
pub const ME: &str = "me";
/// `POST /me/password`, under [`ME`].
pub const PASSWORD: &str = "password";
/// `GET|POST /collections`, `GET|PUT /collections/<name>`.
pub const COLLECTIONS: &str = "collections";
/// `/uploads[/<user>]/<file>`.
pub const UPLOADS: &str = "uploads";
/// `/admin/keys[/<id>]`.
pub const ADMIN: &str = "admin";
/// The API keys, under [`ADMIN`].
pub const KEYS: &str = "keys";
/// The users, under [`ADMIN`].
pub const USERS: &str = "users";
/// One-time WebSocket tickets for the admin, under [`ADMIN`].
pub const TICKETS: &str = "tickets";
/// The WebSocket upgrade, `/ws` (the server also accepts it at `/`).
pub const WS: &str = "ws";
/// `GET /metrics`: Prometheus metrics (the admin key, or `--metrics-public`).
pub const METRICS: &str = "metrics";
/// `GET /sdk.js`: the JavaScript SDK for a script tag (defines `createSdk`).
pub const SDK_JS: &str = "sdk.js";
/// `GET /openapi.json`: the OpenAPI 3.1 description of the HTTP routes.
pub const OPENAPI: &str = "openapi.json";
/// `GET /sdk/<file>`: the files `/sdk.js` loads (the npm package's module and wasm).
pub const SDK: &str = "sdk";

/// `GET /_/`: the admin page (no collection name can start with `_`).
pub const ADMIN_PAGE: &str = "_";

/// Every first segment the server routes itself; no collection may take one.
pub const SEGMENTS: &[&str] = &[
    ADMIN_PAGE,
    ADMIN,
    COLLECTIONS,
    HEALTH,
    LOGIN,
    LOGOUT,
    ME,
    METRICS,
    OPENAPI,
    REGISTER,
    SDK,
    SDK_JS,
    UPLOADS,
    WS,
];

/// `/<segment>`: the path of a route with one segment.
pub fn path(segment: &str) -> String {
    ["/", segment].concat()
}
