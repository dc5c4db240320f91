//! The admin page at `/_/`: a small static page (HTML, one script, one style
//! sheet, built into the binary) that signs in with the admin key and manages
//! collections, records, their configuration and the API keys through the
//! server's own JavaScript SDK and admin routes.
//!
//! The page holds the admin key, so it is served with a strict Content Security
//! Policy (scripts of this origin only, no inline script, no framing) and shows
//! every stored value as text, never as markup.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::Response;

use sdk_core::routes::ADMIN_PAGE as SEGMENT;

const INDEX: &str = include_str!("admin_page/index.html");
const SCRIPT: &str = include_str!("admin_page/admin.js");
const STYLE: &str = include_str!("admin_page/admin.css");

/// What the page may load and do: its own scripts and the SDK's WebAssembly,
/// requests to this server, images of its files; never framed.
const POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; connect-src 'self'; img-src 'self' blob: data:; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn file(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "" | "index.html" => Some((INDEX, "text/html; charset=utf-8")),
        "admin.js" => Some((SCRIPT, "text/javascript; charset=utf-8")),
        "admin.css" => Some((STYLE, "text/css; charset=utf-8")),
        _ => None,
    }
}

fn answer(name: &str) -> warp::reply::Response {
    let built = match file(name) {
        Some((body, kind)) => Response::builder()
            .status(200)
            .header("content-type", kind)
            .header("cache-control", "no-cache")
            .header("content-security-policy", POLICY)
            .header("x-content-type-options", "nosniff")
            .header("referrer-policy", "no-referrer")
            .body(body.into()),
        None => Response::builder()
            .status(404)
            .header("content-type", "application/json")
            .body(r#"{"code":"not_found","message":"no such file in the admin page"}"#.into()),
    };
    built.unwrap_or_else(|_| warp::reply::Response::new("".into()))
}

/// `GET /_` (redirected to `/_/`), `GET /_/` and `GET /_/<file>`; no key needed
/// to load the page (it asks for the admin key).
pub fn routes() -> BoxedFilter<(warp::reply::Response,)> {
    let bare = warp::path(SEGMENT)
        .and(warp::path::end())
        .and(warp::path::full())
        .map(|full: warp::path::FullPath| {
            // `/_` only: the page's relative links need the slash.
            if full.as_str().ends_with('/') {
                answer("")
            } else {
                Response::builder()
                    .status(308)
                    .header("location", "/_/")
                    .body("".into())
                    .unwrap_or_else(|_| warp::reply::Response::new("".into()))
            }
        });
    let named = warp::path(SEGMENT)
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .map(|name: String| answer(&name));
    bare.or(named)
        .unify()
        .and(warp::get().or(warp::head()).unify())
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_served_with_its_policy_and_nothing_else() {
        for (name, kind) in [
            ("", "text/html; charset=utf-8"),
            ("admin.js", "text/javascript; charset=utf-8"),
            ("admin.css", "text/css; charset=utf-8"),
        ] {
            let res = answer(name);
            assert_eq!(res.status(), 200, "{name}");
            assert_eq!(res.headers()["content-type"], kind);
            assert!(
                res.headers()["content-security-policy"]
                    .to_str()
                    .is_ok_and(|p| p.contains("frame-ancestors 'none'"))
            );
        }
        for name in ["secret", "../Cargo.toml", "admin.js/x", "ADMIN.JS"] {
            assert_eq!(answer(name).status(), 404, "{name}");
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_for_its_policy_to_refuse() {
        assert!(!INDEX.contains("<script>") && !INDEX.contains("style="));
        assert!(
            !SCRIPT.contains("innerHTML"),
            "stored values are shown as text"
        );
    }
}
