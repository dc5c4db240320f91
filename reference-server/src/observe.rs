//! Every request on every listener is counted for the metrics and, with
//! `--request-log`, logged in one line: method, route, path, status, time, the
//! signed-in user and the bytes in and out.

use crate::app::App;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

tokio::task_local! {
    /// The user a request was made by, noted where its credentials are checked.
    static USER: Arc<OnceLock<String>>;
}

/// Which listener a request came to: its routes are named apart in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mount {
    /// The main API.
    Api,
    /// The SoftUni practice server's API (`--softuni`).
    SoftUni,
}

impl Mount {
    /// The route pattern of `path` on this listener: a bounded set of names,
    /// never a record id or a collection name.
    pub fn route(self, path: &str) -> Cow<'static, str> {
        match self {
            Self::Api => crate::metrics::route_of(path),
            Self::SoftUni => Cow::Borrowed(softuni_route(path)),
        }
    }
}

/// The SoftUni mount's route patterns.
fn softuni_route(path: &str) -> &'static str {
    let mut s = path.split('/').filter(|s| !s.is_empty());
    match (s.next(), s.next(), s.next(), s.next()) {
        (Some("users"), Some("register"), None, _) => "softuni:/users/register",
        (Some("users"), Some("login"), None, _) => "softuni:/users/login",
        (Some("users"), Some("logout"), None, _) => "softuni:/users/logout",
        (Some("users"), Some("me"), None, _) => "softuni:/users/me",
        (Some("data"), Some(_), None, _) => "softuni:/data/:collection",
        (Some("data"), Some(_), Some(_), None) => "softuni:/data/:collection/:id",
        _ => "softuni:other",
    }
}

/// Notes the signed-in user of the request being served, for its log line.
/// Outside a request (a WebSocket's later messages, tests) it does nothing.
pub fn note_user(id: &str) {
    let _ = USER.try_with(|u| u.set(id.to_owned()));
}

/// What is known of a request before it is served.
pub struct Request {
    /// Its method.
    pub method: warp::http::Method,
    /// Its path.
    pub path: String,
    /// Its body's announced length, when it announced one.
    pub bytes_in: Option<u64>,
    started: Instant,
    user: Arc<OnceLock<String>>,
}

impl Request {
    /// Notes a request as it arrives.
    pub fn new<B>(req: &warp::http::Request<B>) -> Self {
        Self {
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            bytes_in: content_length(req.headers()),
            started: Instant::now(),
            user: Arc::default(),
        }
    }

    /// Serves the request with `call`, where [`note_user`] reaches it.
    pub async fn serve<F: std::future::Future>(&self, call: F) -> F::Output {
        USER.scope(self.user.clone(), call).await
    }

    /// Counts the answer and logs it.
    pub fn answered<B: hyper::body::Body>(
        &self,
        app: &App,
        mount: Mount,
        res: &warp::http::Response<B>,
    ) {
        let took = self.started.elapsed();
        let status = res.status().as_u16();
        let route = mount.route(&self.path);
        app.metrics
            .request(self.method.as_str(), route.clone(), status, took);
        if app.config.request_log {
            let bytes_out = content_length(res.headers()).or(res.body().size_hint().exact());
            tracing::info!(
                target: "rucksack::request",
                method = self.method.as_str(),
                route = %route,
                path = self.path,
                status,
                ms = took.as_secs_f64() * 1000.0,
                user = self.user.get().map_or("-", String::as_str),
                bytes_in = self.bytes_in.unwrap_or(0),
                bytes_out = bytes_out.unwrap_or(0),
            );
        }
    }
}

fn content_length(headers: &warp::http::HeaderMap) -> Option<u64> {
    headers
        .get(warp::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softuni_routes_are_patterns() {
        for (path, route) in [
            ("/users/login", "softuni:/users/login"),
            ("/users/x1", "softuni:other"),
            ("/data/games", "softuni:/data/:collection"),
            ("/data/games/6b12", "softuni:/data/:collection/:id"),
            ("/data/games/6b12/x", "softuni:other"),
            ("/", "softuni:other"),
        ] {
            assert_eq!(Mount::SoftUni.route(path), route, "{path}");
        }
    }

    #[tokio::test]
    async fn the_user_noted_while_serving_is_the_requests() {
        let req = Request::new(
            &warp::http::Request::get("/notes")
                .header("content-length", "12")
                .body(())
                .expect("a request"),
        );
        req.serve(async { note_user("u1") }).await;
        assert_eq!(req.user.get().map(String::as_str), Some("u1"));
        assert_eq!(req.bytes_in, Some(12));
        note_user("outside a request: nowhere to go");
    }
}
