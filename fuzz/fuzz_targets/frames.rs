//! WebSocket frames, one per line: the server's parser (`ClientMessage`), the
//! client's (`ServerMessage`), and the client's realtime link fed the frames
//! across closes, reconnects and ticks. Nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_core::realtime::Link;
use sdk_core::ws::{ClientMessage, ServerMessage};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = ClientMessage::parse(text);
    let _ = ServerMessage::parse(text);
    let mut link = Link::new();
    let mut now = 0;
    link.on_open(now);
    for (i, frame) in text.split('\n').enumerate() {
        now += 997;
        let _ = ClientMessage::parse(frame);
        let _ = ServerMessage::parse(frame);
        let _ = link.on_frame(frame, now);
        // The frame's first byte picks what the connection does next.
        match frame.bytes().next().unwrap_or(0) % 5 {
            0 => {
                link.on_close();
                let _ = link.reconnect_delay_ms((i % 10) as f64 / 10.0);
                link.on_open(now);
            }
            1 => {
                let _ = link.tick(now + 60_000);
            }
            2 => {
                let _ = link.url_params();
            }
            _ => {}
        }
    }
});
