//! Upload bodies: the first line is the `Content-Type`, the rest the body, cut
//! into chunks of a size its first byte picks. The form is read as an upload
//! reads it (within the size and head limits, every part and file name
//! checked); each body is read or refused, never panics.
#![no_main]

use bytes::Bytes;
use futures_util::stream;
use libfuzzer_sys::fuzz_target;
use reference_server::http::form::RawBody;
use std::sync::OnceLock;
use std::time::Duration;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime starts")
    })
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let content_type = String::from_utf8_lossy(head).into_owned();
    let step = usize::from(body.first().copied().unwrap_or(1)).max(1);
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(step)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let raw = RawBody::new(Some(content_type), Box::pin(stream::iter(chunks)));
    let _ = raw.is_multipart();
    runtime().block_on(async {
        let Ok(mut form) = raw.form(64 * 1024, Duration::from_secs(1)) else {
            return;
        };
        while let Ok(Some(mut part)) = form.next_field().await {
            if let Some(name) = part.file_name() {
                let _ = sdk_core::files::check_filename(name);
            }
            let _ = part.content_type();
            let _ = part.name();
            while let Ok(Some(_)) = part.chunk().await {}
        }
    });
});
