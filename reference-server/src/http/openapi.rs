//! `GET /openapi.json`: an OpenAPI 3.1 description of every route, built from the
//! route table below and the JSON Schemas of the request and response types the
//! server and the SDKs share (derived with schemars, never written by hand). A
//! test walks the running server to check the table and the routes agree.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use sdk_core::api::{
    AccountDeletion, AuthResponse, CreateCollectionRequest, Credentials, Health, KeyMade, Me,
    MessageResponse, NewKey, PasswordChange,
};
use sdk_core::collection::CollectionConfig;
use sdk_core::files::{FileDeleted, FileList, FileRecord, FileUpdated, RenameFile};
use sdk_core::{ErrorBody, Record};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use warp::Filter;

/// Who may make a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Anyone, with no key.
    Open,
    /// An API key.
    Key,
    /// An API key and a signed-in user.
    Session,
    /// The admin key.
    Admin,
}

/// A body or an answer.
#[derive(Clone, Copy)]
enum Content {
    /// JSON of this schema.
    Json(fn(&mut SchemaGenerator) -> Schema),
    /// A multipart form with these fields (`file` is the file's bytes).
    Form(&'static [&'static str]),
    /// Bytes of this media type.
    Bytes(&'static str),
}

/// One operation the server serves.
struct Op {
    method: &'static str,
    /// The path, with `{name}` for each parameter.
    path: &'static str,
    summary: &'static str,
    auth: Auth,
    body: Option<Content>,
    /// The status of success and what comes with it.
    answer: (u16, Option<Content>),
    /// Whether it takes the collection-read query parameters.
    query: bool,
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// A JSON record: the system fields and any others.
type AnyRecord = Record<Map<String, Value>>;

/// Answer of `POST /admin/tickets`.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct TicketMade {
    /// Opens one admin WebSocket: `/ws?ticket=<ticket>`.
    ticket: String,
    /// Seconds it stays good.
    expires_in: u64,
}

/// A record, or an array of them (a bulk create).
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum OneOrMany {
    One(Map<String, Value>),
    Many(Vec<Map<String, Value>>),
}

const ANY: Content = Content::Json(schema::<Value>);
const RECORD: Content = Content::Json(schema::<AnyRecord>);
const RECORDS: Content = Content::Json(schema::<Vec<AnyRecord>>);
const FIELDS: Content = Content::Json(schema::<Map<String, Value>>);
const MESSAGE: Content = Content::Json(schema::<MessageResponse>);

/// Every route the server serves (the WebSocket upgrade as its `GET`), one a line.
#[rustfmt::skip]
const OPS: &[Op] = &[
    Op { method: "get", path: "/health", summary: "Whether the server is up, and its version", auth: Auth::Open, body: None, answer: (200, Some(Content::Json(schema::<Health>))), query: false },
    Op { method: "get", path: "/openapi.json", summary: "This document", auth: Auth::Open, body: None, answer: (200, Some(ANY)), query: false },
    Op { method: "get", path: "/metrics", summary: "Prometheus metrics (the admin key, or none with --metrics-public)", auth: Auth::Admin, body: None, answer: (200, Some(Content::Bytes("application/openmetrics-text"))), query: false },
    Op { method: "get", path: "/sdk.js", summary: "The JavaScript SDK for a script tag (defines createSdk)", auth: Auth::Open, body: None, answer: (200, Some(Content::Bytes("text/javascript"))), query: false },
    Op { method: "get", path: "/sdk/{file}", summary: "A file /sdk.js loads (the file may be a path: pkg/rucksack_bg.wasm)", auth: Auth::Open, body: None, answer: (200, Some(Content::Bytes("application/octet-stream"))), query: false },
    Op { method: "get", path: "/_", summary: "Redirects to the admin page, /_/", auth: Auth::Open, body: None, answer: (308, None), query: false },
    Op { method: "get", path: "/_/", summary: "The admin page (it asks for the admin key)", auth: Auth::Open, body: None, answer: (200, Some(Content::Bytes("text/html"))), query: false },
    Op { method: "get", path: "/_/{file}", summary: "The admin page's script and style sheet", auth: Auth::Open, body: None, answer: (200, Some(Content::Bytes("text/javascript"))), query: false },
    Op { method: "post", path: "/register", summary: "Register and sign in", auth: Auth::Key, body: Some(Content::Json(schema::<Credentials>)), answer: (201, Some(Content::Json(schema::<AuthResponse>))), query: false },
    Op { method: "post", path: "/login", summary: "Sign in", auth: Auth::Key, body: Some(Content::Json(schema::<Credentials>)), answer: (200, Some(Content::Json(schema::<AuthResponse>))), query: false },
    Op { method: "post", path: "/logout", summary: "End the session the request carries", auth: Auth::Key, body: None, answer: (200, Some(MESSAGE)), query: false },
    Op { method: "get", path: "/me", summary: "The signed-in user", auth: Auth::Session, body: None, answer: (200, Some(Content::Json(schema::<Me>))), query: false },
    Op { method: "delete", path: "/me", summary: "Delete the signed-in user's account", auth: Auth::Session, body: Some(Content::Json(schema::<AccountDeletion>)), answer: (200, Some(MESSAGE)), query: false },
    Op { method: "post", path: "/me/password", summary: "Change the password; every other session ends", auth: Auth::Session, body: Some(Content::Json(schema::<PasswordChange>)), answer: (200, Some(MESSAGE)), query: false },
    Op { method: "get", path: "/collections", summary: "The collections that hold records", auth: Auth::Key, body: None, answer: (200, Some(Content::Json(schema::<Vec<String>>))), query: false },
    Op { method: "post", path: "/collections", summary: "Declare a collection", auth: Auth::Session, body: Some(Content::Json(schema::<CreateCollectionRequest>)), answer: (201, Some(Content::Json(schema::<String>))), query: false },
    Op { method: "get", path: "/collections/{name}", summary: "A collection's configuration", auth: Auth::Admin, body: None, answer: (200, Some(Content::Json(schema::<CollectionConfig>))), query: false },
    Op { method: "put", path: "/collections/{name}", summary: "Set a collection's configuration (rules, schema, scripts, indexes)", auth: Auth::Admin, body: Some(Content::Json(schema::<CollectionConfig>)), answer: (200, Some(Content::Json(schema::<CollectionConfig>))), query: false },
    Op { method: "get", path: "/admin/keys", summary: "The API keys made with keys create", auth: Auth::Admin, body: None, answer: (200, Some(Content::Json(schema::<Vec<crate::store::KeyRow>>))), query: false },
    Op { method: "post", path: "/admin/keys", summary: "Make an API key (shown once)", auth: Auth::Admin, body: Some(Content::Json(schema::<NewKey>)), answer: (201, Some(Content::Json(schema::<KeyMade>))), query: false },
    Op { method: "delete", path: "/admin/keys/{id}", summary: "Revoke an API key", auth: Auth::Admin, body: None, answer: (200, Some(MESSAGE)), query: false },
    Op { method: "get", path: "/admin/users", summary: "Every user (id, email, registration time)", auth: Auth::Admin, body: None, answer: (200, Some(Content::Json(schema::<Vec<Me>>))), query: false },
    Op { method: "post", path: "/admin/tickets", summary: "A one-time ticket for an admin WebSocket (/ws?ticket=…), good for 30 s", auth: Auth::Admin, body: None, answer: (201, Some(Content::Json(schema::<TicketMade>))), query: false },
    Op { method: "post", path: "/uploads", summary: "Upload a file", auth: Auth::Session, body: Some(Content::Form(&["bucket", "filename", "file"])), answer: (201, Some(Content::Json(schema::<FileRecord>))), query: false },
    Op { method: "get", path: "/uploads/{userId}", summary: "A user's files (another user's: public buckets only)", auth: Auth::Key, body: None, answer: (200, Some(Content::Json(schema::<FileList>))), query: false },
    Op { method: "get", path: "/uploads/{userId}/{filename}", summary: "A file's bytes (Range and ETag honoured)", auth: Auth::Key, body: None, answer: (200, Some(Content::Bytes("application/octet-stream"))), query: false },
    Op { method: "patch", path: "/uploads/{filename}", summary: "Rename a file or move it to another bucket", auth: Auth::Session, body: Some(Content::Json(schema::<RenameFile>)), answer: (200, Some(Content::Json(schema::<FileUpdated>))), query: false },
    Op { method: "put", path: "/uploads/{filename}", summary: "Overwrite a file's bytes", auth: Auth::Session, body: Some(Content::Form(&["file"])), answer: (200, Some(MESSAGE)), query: false },
    Op { method: "delete", path: "/uploads/{filename}", summary: "Delete a file", auth: Auth::Session, body: None, answer: (200, Some(Content::Json(schema::<FileDeleted>))), query: false },
    Op { method: "get", path: "/ws", summary: "The WebSocket (an upgrade; messages in PROTOCOL.md)", auth: Auth::Key, body: None, answer: (101, None), query: false },
    Op { method: "get", path: "/", summary: "The WebSocket at the root, as Backpack apps open it", auth: Auth::Key, body: None, answer: (101, None), query: false },
    Op { method: "get", path: "/{collection}", summary: "Read records (getCollection, find); with count, their number", auth: Auth::Key, body: None, answer: (200, Some(RECORDS)), query: true },
    Op { method: "post", path: "/{collection}", summary: "Create a record, or up to 1,000 all or nothing", auth: Auth::Session, body: Some(Content::Json(schema::<OneOrMany>)), answer: (201, Some(ANY)), query: false },
    Op { method: "put", path: "/{collection}", summary: "Replace the whole collection (save)", auth: Auth::Session, body: Some(Content::Json(schema::<Vec<Map<String, Value>>>)), answer: (200, Some(ANY)), query: false },
    Op { method: "patch", path: "/{collection}", summary: "Update the records a filter selects (update)", auth: Auth::Session, body: Some(FIELDS), answer: (200, Some(ANY)), query: true },
    Op { method: "delete", path: "/{collection}", summary: "Delete the records a filter selects (remove)", auth: Auth::Session, body: None, answer: (200, Some(ANY)), query: true },
    Op { method: "get", path: "/{collection}/{id}", summary: "Read one record", auth: Auth::Key, body: None, answer: (200, Some(RECORD)), query: false },
    Op { method: "patch", path: "/{collection}/{id}", summary: "Merge fields into a record (updateResource)", auth: Auth::Session, body: Some(FIELDS), answer: (200, Some(RECORD)), query: false },
    Op { method: "post", path: "/{collection}/{id}", summary: "The same as PATCH (Deployd)", auth: Auth::Session, body: Some(FIELDS), answer: (200, Some(RECORD)), query: false },
    Op { method: "put", path: "/{collection}/{id}", summary: "Replace a record's fields (overwriteResource)", auth: Auth::Session, body: Some(FIELDS), answer: (200, Some(RECORD)), query: false },
    Op { method: "delete", path: "/{collection}/{id}", summary: "Delete a record (answers it)", auth: Auth::Session, body: None, answer: (200, Some(RECORD)), query: false },
];

/// The operations as (method, path template), for the route test.
pub fn operations() -> impl Iterator<Item = (&'static str, &'static str)> {
    OPS.iter().map(|o| (o.method, o.path))
}

fn content(c: Content, g: &mut SchemaGenerator) -> Value {
    match c {
        Content::Json(f) => json!({"application/json": {"schema": f(g)}}),
        Content::Bytes(media) => {
            json!({ media.to_owned(): {"schema": {"type": "string", "contentMediaType": media}} })
        }
        Content::Form(fields) => {
            let props: Map<String, Value> = fields
                .iter()
                .map(|f| {
                    let s = if *f == "file" {
                        json!({"type": "string", "contentMediaType": "application/octet-stream"})
                    } else {
                        json!({"type": "string"})
                    };
                    ((*f).to_owned(), s)
                })
                .collect();
            json!({"multipart/form-data": {"schema": {"type": "object", "properties": props}}})
        }
    }
}

fn security(auth: Auth) -> Value {
    match auth {
        Auth::Open => json!([]),
        Auth::Key => json!([{"apiKey": []}, {"apiKeyHeader": []}]),
        Auth::Session => json!([
            {"apiKey": [], "session": []},
            {"apiKeyHeader": [], "session": []},
            {"apiKey": [], "sessionCookie": []},
        ]),
        Auth::Admin => json!([{"apiKey": []}, {"apiKeyHeader": []}]),
    }
}

/// The document.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "#/components/schemas/".into())
        .into_generator();
    let error = schema::<ErrorBody>(&mut g);
    let mut paths = Map::new();
    for op in OPS {
        let mut params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if op.query {
            params.extend(sdk_core::query::QUERY_PARAMS.iter().map(|p| {
                json!({"name": p, "in": "query", "required": false, "schema": {"type": "string"},
                       "description": "see PROTOCOL.md, Queries"})
            }));
        }
        let mut answer = json!({"description": "success"});
        if let Some(c) = op.answer.1 {
            answer["content"] = content(c, &mut g);
        }
        let mut operation = json!({
            "summary": op.summary,
            "parameters": params,
            "security": security(op.auth),
            "responses": {
                op.answer.0.to_string(): answer,
                "default": {
                    "description": "an error: a stable code, a message, per-field problems",
                    "content": {"application/json": {"schema": error.clone()}},
                },
            },
        });
        if op.auth == Auth::Admin {
            operation["description"] = json!("Needs the admin key.");
        }
        if let Some(body) = op.body {
            operation["requestBody"] = json!({"required": true, "content": content(body, &mut g)});
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Rucksack",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Rucksack backend's HTTP API. PROTOCOL.md is the full contract: \
                            queries, rules, limits, error codes and the WebSocket messages.",
        },
        "paths": paths,
        "components": {
            "schemas": g.take_definitions(true),
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "An API key, or the admin key (also as `Authorization: key <key>`)"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "Authorization",
                                 "description": "`key <API key>`"},
                "session": {"type": "apiKey", "in": "header", "name": "X-Authorization",
                            "description": "A session token from register or login (also `Authorization: Bearer <token>`)"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "rucksack_session"},
            },
        },
    })
}

/// `GET /openapi.json`, with no key.
pub fn routes() -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    warp::path(sdk_core::routes::OPENAPI)
        .and(warp::path::end())
        .and(warp::get())
        .map(|| warp::Reply::into_response(warp::reply::json(document())))
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_and_every_operation_has_an_answer() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in ["CollectionConfig", "ErrorBody", "Credentials", "FileRecord"] {
            assert!(schemas.contains_key(name), "{name}");
        }
        for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &r[..r.find('"').expect("end of the reference")];
            assert!(
                schemas.contains_key(name),
                "{name} is referenced but not defined"
            );
        }
        let paths = doc["paths"].as_object().expect("paths");
        assert_eq!(
            paths
                .values()
                .map(|p| p.as_object().map_or(0, Map::len))
                .sum::<usize>(),
            OPS.len()
        );
        assert!(
            paths["/{collection}"]["get"]["parameters"]
                .as_array()
                .is_some_and(|p| p.len() == sdk_core::query::QUERY_PARAMS.len() + 1)
        );
    }
}
