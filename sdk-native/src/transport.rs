//! Carries core requests over HTTP with reqwest.

use sdk_core::Error;
use sdk_core::api::{Body, HttpRequest, Method};

fn transport(e: reqwest::Error) -> Error {
    Error::Transport(e.to_string())
}

/// Sends one request, with `file` as the multipart part `file` when the body is a
/// form; returns the response once its status is known. An idempotent request
/// answered `503` is sent again as sdk-core's retry policy says.
pub(crate) async fn start(
    http: &reqwest::Client,
    req: HttpRequest,
    mut file: Option<reqwest::multipart::Part>,
) -> Result<reqwest::Response, Error> {
    if !req.is_idempotent() {
        // Never sent again: no copy of it is kept.
        return send_once(http, req, file).await;
    }
    let mut attempt = 0;
    loop {
        let resp = send_once(http, req.clone(), file.take()).await?;
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok());
        let Some(ms) = req.retry_delay_ms(resp.status().as_u16(), retry_after, attempt) else {
            return Ok(resp);
        };
        drop(resp);
        attempt += 1;
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

async fn send_once(
    http: &reqwest::Client,
    req: HttpRequest,
    file: Option<reqwest::multipart::Part>,
) -> Result<reqwest::Response, Error> {
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
    b = match req.body {
        Body::Empty => b,
        Body::Json(json) => b.header("content-type", "application/json").body(json),
        Body::FormWithFile(fields) => {
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in fields {
                form = form.text(name, value);
            }
            let file =
                file.ok_or_else(|| Error::InvalidArgument("this call needs a file".into()))?;
            b.multipart(form.part("file", file))
        }
        other => {
            return Err(Error::InvalidArgument(format!(
                "unsupported body {other:?}"
            )));
        }
    };
    b.send().await.map_err(transport)
}

/// Sends one request (see [`start`]); returns the status and the whole body.
pub(crate) async fn send(
    http: &reqwest::Client,
    req: HttpRequest,
    file: Option<reqwest::multipart::Part>,
) -> Result<(u16, Vec<u8>), Error> {
    let resp = start(http, req, file).await?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(transport)?;
    Ok((status, body.to_vec()))
}
