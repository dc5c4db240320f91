//! `GET /sdk.js` and `GET /sdk/<file>`: the JavaScript SDK served by the server
//! itself, so a page needs only `<script src="…/sdk.js"></script>` and then
//! `createSdk(url, apiKey)`, the Backpack SDK's install. The files are the npm
//! package's, built from the same sources (`npm run build --prefix npm`) and read
//! once at start from `--sdk-dir`. Only the package's own files are served, each
//! by its exact name from memory: no request reaches the file system.

use crate::app::App;
use crate::error::ApiError;
use sdk_core::ErrorCode;
use sdk_core::routes;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{Response, StatusCode};

/// The file `/sdk.js` serves: the loader for a script tag.
const LOADER: &str = "sdk.js";
/// The package's files under `/sdk/`, beside the wasm-bindgen snippets under
/// `pkg/snippets/`. The loader imports `index.js`, which loads the wasm (and,
/// when not bundled, the glue and the snippets).
const MODULE_FILES: [&str; 3] = ["index.js", "pkg/rucksack.js", "pkg/rucksack_bg.wasm"];
/// Where wasm-bindgen puts the JavaScript its Rust code imports.
const SNIPPETS: &str = "pkg/snippets";
/// What the npm build makes of the package's own files, served in their place
/// when present (bundlers minify the originals themselves): the loader
/// minified, and `index.js` bundled with the glue and the snippets into one
/// minified module, so a page fetches only it and the wasm.
const MINIFIED: [(&str, &str); 2] = [
    ("sdk.js", "pkg/sdk.min.js"),
    ("index.js", "pkg/index.min.js"),
];

/// One file, ready to answer with.
struct Asset {
    body: bytes::Bytes,
    content_type: &'static str,
    etag: String,
}

/// The SDK's files by the name they are served under (`sdk.js`, or the path
/// below `/sdk/`).
#[derive(Default)]
pub struct SdkFiles {
    files: HashMap<String, Asset>,
}

impl SdkFiles {
    /// Reads the npm package in `dir`. Nothing is served unless the loader and
    /// every module file are there (a package that was never built has no wasm).
    pub fn load(dir: &Path) -> Self {
        let mut names: Vec<String> = std::iter::once(LOADER)
            .chain(MODULE_FILES)
            .map(str::to_owned)
            .collect();
        snippets(&dir.join(SNIPPETS), SNIPPETS, &mut names);
        let mut files = HashMap::new();
        for name in names {
            let minified = MINIFIED
                .iter()
                .find(|(served, _)| *served == name)
                .and_then(|(_, copy)| std::fs::read(dir.join(copy)).ok());
            let Some(body) = minified.or_else(|| std::fs::read(dir.join(&name)).ok()) else {
                return Self::default();
            };
            let content_type = if name.ends_with(".wasm") {
                "application/wasm"
            } else {
                "text/javascript; charset=utf-8"
            };
            let etag = {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(&body);
                format!("\"{}\"", crate::clock::hex(&digest[..12]))
            };
            files.insert(
                name,
                Asset {
                    body: body.into(),
                    content_type,
                    etag,
                },
            );
        }
        Self { files }
    }

    /// Whether the SDK was found.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The answer for the file served as `name`: the file, or 304 when the
    /// client's `If-None-Match` holds its ETag.
    fn answer(&self, name: &str, if_none_match: Option<&str>) -> warp::reply::Response {
        let Some(asset) = self.files.get(name) else {
            let message = if self.is_empty() {
                "this server has no JavaScript SDK to serve: build it with `npm run build --prefix npm` \
                 (or point --sdk-dir at a built rucksack-sdk package) and restart"
            } else {
                "no such file of the SDK"
            };
            return ApiError::new(ErrorCode::NotFound, message).into_response();
        };
        let fresh = if_none_match.is_some_and(|h| {
            h.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == asset.etag)
        });
        let builder = Response::builder()
            .header("etag", &asset.etag)
            // Revalidated on every load (a 304 costs no body), so a rebuilt
            // SDK reaches pages at once: the names carry no version.
            .header("cache-control", "no-cache")
            .header("x-content-type-options", "nosniff");
        let reply = if fresh {
            builder
                .status(StatusCode::NOT_MODIFIED)
                .body(bytes::Bytes::new().into())
        } else {
            builder
                .header("content-type", asset.content_type)
                .body(asset.body.clone().into())
        };
        reply.unwrap_or_else(|_| warp::reply::Response::new(bytes::Bytes::new().into()))
    }
}

/// The JavaScript files under `dir` (wasm-bindgen's snippets), by their names
/// below the package (`prefix/…`).
fn snippets(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let rel = format!("{prefix}/{name}");
        if kind.is_dir() {
            snippets(&entry.path(), &rel, out);
        } else if kind.is_file() && name.ends_with(".js") {
            out.push(rel);
        }
    }
}

/// `GET|HEAD /sdk.js` and `GET|HEAD /sdk/<file>`.
pub fn routes(app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
    let files = Arc::new(SdkFiles::load(&app.config.sdk_dir));
    if files.is_empty() {
        tracing::warn!(
            dir = %app.config.sdk_dir.display(),
            "no built JavaScript SDK there: /sdk.js answers 404 (npm run build --prefix npm)"
        );
    }
    let loader = warp::path(routes::SDK_JS)
        .and(warp::path::end())
        .map(|| LOADER.to_owned());
    let module = warp::path(routes::SDK)
        .and(warp::path::tail())
        .map(|tail: warp::path::Tail| tail.as_str().to_owned());
    loader
        .or(module)
        .unify()
        .and(warp::get().or(warp::head()).unify())
        .and(warp::header::optional::<String>("if-none-match"))
        .map(move |name: String, inm: Option<String>| files.answer(&name, inm.as_deref()))
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path();
        std::fs::create_dir_all(p.join("pkg/snippets/sdk-wasm-1/inline")).expect("mkdir");
        std::fs::write(p.join("sdk.js"), "window.createSdk = 1;").expect("write");
        std::fs::write(p.join("index.js"), "export {};").expect("write");
        std::fs::write(p.join("pkg/rucksack.js"), "export default 1;").expect("write");
        std::fs::write(p.join("pkg/rucksack_bg.wasm"), b"\0asm\x01\0\0\0").expect("write");
        std::fs::write(p.join("pkg/snippets/sdk-wasm-1/inline/a.js"), "1").expect("write");
        std::fs::write(p.join("package.json"), "{\"secret\": true}").expect("write");
        dir
    }

    #[test]
    fn serves_the_minified_copies_of_the_packages_own_files() {
        let dir = package();
        std::fs::write(dir.path().join("pkg/index.min.js"), "export{};").expect("write");
        let files = SdkFiles::load(dir.path());
        let body = |name: &str| files.files.get(name).map(|a| a.body.clone());
        assert_eq!(body("index.js").as_deref(), Some(&b"export{};"[..]));
        // Without a minified copy, the file itself.
        assert_eq!(
            body("sdk.js").as_deref(),
            Some(&b"window.createSdk = 1;"[..])
        );
        // The copies are not served under names of their own.
        assert_eq!(files.answer("pkg/index.min.js", None).status(), 404);
    }

    #[test]
    fn serves_the_package_files_by_exact_name_only() {
        let dir = package();
        let files = SdkFiles::load(dir.path());
        for name in [
            "sdk.js",
            "index.js",
            "pkg/rucksack.js",
            "pkg/rucksack_bg.wasm",
            "pkg/snippets/sdk-wasm-1/inline/a.js",
        ] {
            assert_eq!(files.answer(name, None).status(), 200, "{name}");
        }
        let wasm = files.answer("pkg/rucksack_bg.wasm", None);
        assert_eq!(wasm.headers()["content-type"], "application/wasm");
        for name in [
            "package.json",
            "../Cargo.toml",
            "pkg/../index.js",
            "pkg/./rucksack.js",
            "",
            "pkg",
            "/etc/passwd",
        ] {
            assert_eq!(files.answer(name, None).status(), 404, "{name}");
        }
    }

    #[test]
    fn an_etag_the_client_holds_gets_304() {
        let dir = package();
        let files = SdkFiles::load(dir.path());
        let first = files.answer("sdk.js", None);
        let etag = first.headers()["etag"].to_str().expect("etag").to_owned();
        assert_eq!(first.headers()["cache-control"], "no-cache");
        assert_eq!(files.answer("sdk.js", Some(&etag)).status(), 304);
        let list = format!("\"other\", W/{etag}");
        assert_eq!(files.answer("sdk.js", Some(&list)).status(), 304);
        assert_eq!(files.answer("sdk.js", Some("\"other\"")).status(), 200);
    }

    #[test]
    fn an_unbuilt_package_serves_nothing_and_says_how_to_build_it() {
        let dir = package();
        std::fs::remove_file(dir.path().join("pkg/rucksack_bg.wasm")).expect("rm");
        let files = SdkFiles::load(dir.path());
        assert!(files.is_empty());
        let r = files.answer("sdk.js", None);
        assert_eq!(r.status(), 404);
    }
}
