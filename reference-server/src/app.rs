//! The shared state every handler sees.

use crate::auth::Hasher;
use crate::config::Config;
use crate::files::FileStore;
use crate::store::Store;
use crate::ws::Bus;
use std::sync::Arc;
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
    /// Password hashing.
    pub hasher: Hasher,
    /// The settings the server started with.
    pub config: Config,
    /// Flips to `true` when the server is shutting down.
    pub shutdown: watch::Receiver<bool>,
}
