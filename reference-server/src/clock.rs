//! Time stamps, record ids and random secrets.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::iso8601::{
    Config, EncodedConfig, Iso8601, TimePrecision,
};

const ISO_MS: EncodedConfig = Config::DEFAULT
    .set_time_precision(TimePrecision::Second {
        decimal_digits: std::num::NonZeroU8::new(3),
    })
    .encode();

/// Now, as ISO-8601 UTC with milliseconds: `2020-04-21T17:39:12.829Z`.
pub fn now_iso() -> String {
    OffsetDateTime::now_utc()
        .format(&Iso8601::<ISO_MS>)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// A Unix time (seconds) as ISO-8601 UTC with milliseconds.
pub fn iso_from_unix(secs: u64) -> String {
    OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .ok()
        .and_then(|t| t.format(&Iso8601::<ISO_MS>).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

/// An ISO-8601 time as milliseconds since the Unix epoch.
pub fn unix_ms_from_iso(iso: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Milliseconds since the Unix epoch as ISO-8601 UTC with milliseconds.
pub fn iso_from_unix_ms(ms: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()?
        .format(&Iso8601::<ISO_MS>)
        .ok()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `n` bytes from the operating system's generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS generator failing leaves no safe way to make secrets: stop the process.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    b
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A new 24-hex-digit record id, unique and ordered by creation time: 4 bytes of
/// seconds, 5 random bytes fixed per process, 3 bytes of a counter (the layout of
/// the ids in the Backpack examples).
pub fn new_id() -> String {
    static PROCESS: std::sync::OnceLock<[u8; 5]> = std::sync::OnceLock::new();
    static COUNTER: std::sync::OnceLock<AtomicU32> = std::sync::OnceLock::new();
    let process = PROCESS.get_or_init(random_bytes::<5>);
    let counter = COUNTER.get_or_init(|| {
        let r = random_bytes::<4>();
        AtomicU32::new(u32::from_le_bytes(r) & 0x00ff_ffff)
    });
    let secs = (unix_now() & 0xffff_ffff) as u32;
    let n = counter.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&secs.to_be_bytes());
    b[4..9].copy_from_slice(process);
    b[9..].copy_from_slice(&n.to_be_bytes()[1..]);
    hex(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_utc() {
        let t = now_iso();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.', "{t}");
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn ids_are_24_hex_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(sdk_core::names::check_id(&a).is_ok());
    }
}
