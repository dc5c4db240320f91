//! What both transports read from a connection: the client's address.

use crate::app::App;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use warp::Filter;

/// The client's address: from the configured proxy header, else the peer's.
pub fn client_ip(
    app: Arc<App>,
) -> impl Filter<Extract = (Option<IpAddr>,), Error = std::convert::Infallible> + Clone {
    warp::filters::ext::optional::<crate::PeerAddr>()
        .and(warp::header::headers_cloned())
        .map(
            move |peer: Option<crate::PeerAddr>, headers: warp::http::HeaderMap| {
                let peer = peer.map(|p| p.0.ip());
                match &app.config.client_ip_header {
                    Some(name) => forwarded_ip(&headers, name).or(peer),
                    None => peer,
                }
            },
        )
}

/// The address the proxy in front of the server saw: the right-most entry of
/// the header (the one the proxy appended; entries to its left are whatever the
/// client sent). Every line of the header counts, in order.
fn forwarded_ip(headers: &warp::http::HeaderMap, name: &str) -> Option<IpAddr> {
    let last = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())?;
    // `for=` forms and ports, as some proxies write them.
    let last = last.trim_start_matches("for=").trim_matches('"');
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
}
