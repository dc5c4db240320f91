//! Prometheus metrics, served at `GET /metrics` in the text format: requests by
//! route and status with latency histograms, open WebSockets, realtime events
//! delivered and dropped, the write queue and its group commits, and script runs
//! and failures. Counters that other parts keep (the writer's, the scripts')
//! are read when the metrics are scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::borrow::Cow;
use std::time::Duration;

/// A request's labels: method, route pattern (never a raw path, so the number
/// of series stays bounded) and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Cow<'static, str>,
    status: u16,
}

/// A route's labels, for its latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: Cow<'static, str>,
}

/// A method's label: the methods the server routes, or `OTHER`.
fn method_label(m: &str) -> &'static str {
    ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
        .into_iter()
        .find(|k| *k == m)
        .unwrap_or("OTHER")
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 13 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    sockets: Gauge,
    /// Realtime frames written to sockets (events, notifications, messages).
    pub delivered: Counter,
    /// Events a connection never got because it fell behind and was cut.
    pub dropped: Counter,
    queued: Gauge,
    groups: Counter,
    writes: Counter,
    script_runs: Counter,
    script_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered, at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rucksack");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer, by method and route",
            latency.clone(),
        );
        let sockets = Gauge::default();
        registry.register("websockets_open", "Open WebSockets", sockets.clone());
        let delivered = Counter::default();
        registry.register(
            "realtime_frames_delivered",
            "Realtime frames written to sockets",
            delivered.clone(),
        );
        let dropped = Counter::default();
        registry.register(
            "realtime_events_dropped",
            "Events not delivered because the connection fell behind and was cut",
            dropped.clone(),
        );
        let queued = Gauge::default();
        registry.register(
            "write_queue_depth",
            "Writes waiting for the writer",
            queued.clone(),
        );
        let groups = Counter::default();
        registry.register(
            "write_groups",
            "Write transactions committed (group commits; writes / groups is the group size)",
            groups.clone(),
        );
        let writes = Counter::default();
        registry.register("writes_committed", "Writes committed", writes.clone());
        let script_runs = Counter::default();
        registry.register("script_runs", "Event script runs", script_runs.clone());
        let script_failures = Counter::default();
        registry.register(
            "script_failures",
            "Event script runs that failed (threw, did not compile, or broke a limit)",
            script_failures.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            sockets,
            delivered,
            dropped,
            queued,
            groups,
            writes,
            script_runs,
            script_failures,
        }
    }

    /// Counts an answered request (allocating nothing for the routes of records).
    pub fn request(&self, method: &str, route: Cow<'static, str>, status: u16, took: Duration) {
        let method = method_label(method);
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(took.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    /// The metrics in Prometheus' text format, with the figures kept elsewhere
    /// brought up to date first.
    pub fn encode(&self, app: &crate::app::App) -> String {
        self.sockets.set(app.sockets.open_count() as i64);
        let w = app.store.write_stats();
        self.queued.set(i64::try_from(w.queued).unwrap_or(i64::MAX));
        catch_up(&self.groups, w.groups);
        catch_up(&self.writes, w.writes);
        let (runs, failures) = crate::scripts::counts();
        catch_up(&self.script_runs, runs);
        catch_up(&self.script_failures, failures);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Moves a counter up to a total kept elsewhere.
fn catch_up(c: &Counter, total: u64) {
    let now = c.get();
    if total > now {
        c.inc_by(total - now);
    }
}

/// A path's route pattern: the server's own words kept, anything else a
/// placeholder (`/notes/abc` is `/:collection/:id`, `/uploads/u1/a.png` is
/// `/uploads/:param/:param`).
pub fn route_of(path: &str) -> Cow<'static, str> {
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let Some(first) = segments.next() else {
        return Cow::Borrowed("/");
    };
    let own = |s: &str| {
        sdk_core::routes::SEGMENTS.contains(&s)
            || s == sdk_core::routes::PASSWORD
            || s == sdk_core::routes::KEYS
            || s == sdk_core::routes::USERS
            || s == sdk_core::routes::TICKETS
    };
    if !own(first) {
        return match (segments.next(), segments.next()) {
            (None, _) => Cow::Borrowed("/:collection"),
            (Some(_), None) => Cow::Borrowed("/:collection/:id"),
            (Some(_), Some(_)) => Cow::Borrowed("/:collection/:id/:param"),
        };
    }
    let mut route = String::new();
    for s in std::iter::once(first).chain(segments) {
        route.push('/');
        route.push_str(if own(s) { s } else { ":param" });
    }
    Cow::Owned(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_patterns_not_paths() {
        for (path, route) in [
            ("/", "/"),
            ("/notes", "/:collection"),
            ("/notes/6b12", "/:collection/:id"),
            ("/me/password", "/me/password"),
            ("/admin/keys/k1", "/admin/keys/:param"),
            ("/uploads/u1/a.png", "/uploads/:param/:param"),
            ("/collections/notes", "/collections/:param"),
            ("/metrics", "/metrics"),
        ] {
            assert_eq!(route_of(path), route, "{path}");
        }
    }
}
