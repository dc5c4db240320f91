//! The shared state every handler sees.

use crate::auth::Hasher;
use crate::config::Config;
use crate::files::FileStore;
use crate::realtime::Bus;
use crate::store::{Check, FieldType, Layout, Store};
use sdk_core::collection::CollectionConfig;
use sdk_core::record::is_system_field;
use sdk_core::{ErrorBody, ErrorCode};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::RwLock;
use tokio::sync::watch;

/// Everything the handlers share: storage, the realtime bus, keys and settings.
pub struct App {
    /// The storage engine.
    pub store: Arc<dyn Store>,
    /// File bytes.
    pub files: Arc<dyn FileStore>,
    /// Realtime fan-out.
    pub bus: Arc<dyn Bus>,
    /// The app's API key.
    pub api_key: String,
    /// The admin key.
    pub admin_key: String,
    /// Password hashing.
    pub hasher: Hasher,
    /// The settings the server started with.
    pub config: Config,
    /// Rate limits on register and login.
    pub auth_limits: crate::limits::AuthLimits,
    /// Open WebSockets, per signed-in user and in all.
    pub sockets: crate::realtime::Sockets,
    /// The configuration of collections that have none of their own.
    pub default_collection: Arc<Collection>,
    /// Collection configurations, by name.
    pub collections: RwLock<HashMap<String, Arc<Collection>>>,
    /// The stored text of each configuration in use, by collection. Held while a
    /// configuration is stored here or taken up from the database, so the two
    /// never cross (see [`crate::follow_configs`]).
    pub config_texts: tokio::sync::Mutex<HashMap<String, String>>,
    /// Flips to `true` when the server is shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Prometheus metrics.
    pub metrics: crate::metrics::Metrics,
    /// One-time tickets for admin WebSockets opened by a browser page.
    pub ws_tickets: crate::ws::Tickets,
}

/// A collection's configuration, ready to use: the settings and the compiled schema check.
pub struct Collection {
    /// The settings.
    pub config: CollectionConfig,
    /// The schema check, when the collection has a schema.
    pub check: Option<Check>,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("config", &self.config)
            .field("has_schema_check", &self.check.is_some())
            .finish()
    }
}

impl Collection {
    /// Compiles a configuration; a bad schema is a 400 naming `schema`.
    pub fn compile(config: CollectionConfig) -> Result<Self, ErrorBody> {
        config.check()?;
        let check = match config.effective_schema() {
            None => None,
            Some(schema) => {
                // Formats are checked, not only labels: a Deployd `Date` is a
                // `date-time` string and must be one.
                let validator = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .map_err(|e| {
                        ErrorBody::new(
                            ErrorCode::ValidationFailed,
                            "the schema is not a valid JSON Schema",
                        )
                        .with_field("schema", e.to_string())
                    })?;
                let check: Check = Arc::new(move |rec: &Map<String, Value>| {
                    let own: Map<String, Value> = rec
                        .iter()
                        .filter(|(k, _)| !is_system_field(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    let instance = Value::Object(own);
                    let mut body: Option<ErrorBody> = None;
                    for e in validator.iter_errors(&instance) {
                        let field = match e.kind() {
                            jsonschema::error::ValidationErrorKind::Required { property } => {
                                property.as_str().map(str::to_owned).unwrap_or_default()
                            }
                            _ => e
                                .instance_path()
                                .as_str()
                                .trim_start_matches('/')
                                .replace('/', "."),
                        };
                        let field = if field.is_empty() {
                            "_".to_owned()
                        } else {
                            field
                        };
                        let b = body.take().unwrap_or_else(|| {
                            ErrorBody::new(
                                ErrorCode::ValidationFailed,
                                "the record does not match the collection's schema",
                            )
                        });
                        let known = b.errors.as_ref().is_some_and(|m| m.contains_key(&field));
                        body = Some(if known {
                            b
                        } else {
                            b.with_field(&field, e.to_string())
                        });
                    }
                    body.map_or(Ok(()), Err)
                });
                Some(check)
            }
        };
        Ok(Self { config, check })
    }
}

impl Collection {
    /// What the store's query compiler may rely on: the top-level fields whose
    /// JSON type the schema fixes, and the declared indexes.
    pub fn layout(&self) -> Layout {
        let mut types = std::collections::HashMap::new();
        if let Some(schema) = self.config.effective_schema()
            && let Some(props) = schema.get("properties").and_then(Value::as_object)
        {
            for (name, spec) in props {
                let t = match spec.get("type").and_then(Value::as_str) {
                    Some("string") => FieldType::Text,
                    Some("number" | "integer") => FieldType::Number,
                    Some("boolean") => FieldType::Bool,
                    _ => continue,
                };
                if !is_system_field(name) && sdk_core::query::Path::parse(name).is_ok() {
                    types.insert(name.clone(), t);
                }
            }
        }
        Layout {
            types,
            columns: Default::default(),
            indexes: self.config.index_paths(),
        }
    }
}

impl App {
    /// A collection's configuration (the defaults when none was set).
    pub fn collection(&self, name: &str) -> Arc<Collection> {
        let map = match self.collections.read() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.get(name)
            .cloned()
            .unwrap_or_else(|| self.default_collection.clone())
    }

    /// Replaces a collection's configuration in the cache.
    pub fn set_collection(&self, name: &str, c: Collection) {
        let mut map = match self.collections.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.insert(name.to_owned(), Arc::new(c));
    }
}
