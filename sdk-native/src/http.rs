//! Carries core requests over HTTP with reqwest.

use sdk_core::Error;
use sdk_core::api::{HttpRequest, Method};

/// Sends one request; returns the status and the body.
pub(crate) async fn send(
    http: &reqwest::Client,
    req: HttpRequest,
) -> Result<(u16, Vec<u8>), Error> {
    let method = match req.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    };
    let mut b = http.request(method, &req.url);
    for (name, value) in req.headers {
        b = b.header(name, value);
    }
    if let Some(body) = req.body {
        b = b.header("content-type", "application/json").body(body);
    }
    let resp = b
        .send()
        .await
        .map_err(|e| Error::Transport(e.to_string()))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| Error::Transport(e.to_string()))?;
    Ok((status, body.to_vec()))
}
