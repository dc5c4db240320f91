//! The machine's ceiling for small JSON answers: a minimal hyper HTTP/1.1 server
//! that answers every request with `200 {"status":"ok"}`, on the same tokio
//! runtime the reference server uses. The benchmark harness loads it with the
//! same tool and the same cores as the servers it compares, so each of their
//! figures reads as a fraction of what this machine can do at all.
//!
//! ```text
//! ceiling --listen 127.0.0.1:0      # prints "listening on http://ADDR"
//! ```

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;

const BODY: &[u8] = br#"{"status":"ok"}"#;

async fn answer(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::from_static(BODY)));
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = e2e::arg("--listen", "127.0.0.1:0");
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            // A client that goes away mid-request is not an error worth reporting here.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
