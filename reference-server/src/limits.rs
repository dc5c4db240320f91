//! Rate limits on register and login, so passwords cannot be guessed at speed
//! nor accounts mass-created from one address. In one process they are kept in
//! memory; servers sharing a NATS bus count in one JetStream key-value bucket,
//! so the limits hold across all of them.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Keyed limiters: per client address (register and login) and per email (login).
pub struct AuthLimits {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_email: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicU64,
    /// Counts shared by every server on the bus, when there is one.
    shared: Option<Shared>,
    quotas: (u32, u32),
}

/// How often (in checks) idle keys are dropped, bounding the memory the limiters hold.
const SWEEP_EVERY: u64 = 4096;

impl AuthLimits {
    /// Limits of `per_ip` and `per_email` attempts a minute (0 turns one off).
    pub fn new(per_ip: u32, per_email: u32) -> Self {
        Self {
            per_ip: NonZeroU32::new(per_ip).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            per_email: NonZeroU32::new(per_email).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            checks: AtomicU64::new(0),
            shared: None,
            quotas: (per_ip, per_email),
        }
    }

    /// The same limits, counted in `shared` (the in-memory ones stand in when
    /// it cannot be reached).
    #[must_use]
    pub fn shared(mut self, shared: Shared) -> Self {
        self.shared = Some(shared);
        self
    }

    fn sweep(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            if let Some(l) = &self.per_ip {
                l.retain_recent();
                l.shrink_to_fit();
            }
            if let Some(l) = &self.per_email {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }

    /// One attempt from `ip`; `Err(seconds)` to wait when over the limit.
    pub async fn check_ip(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        if let (Some(shared), Some(ip), Some(most)) =
            (&self.shared, ip, NonZeroU32::new(self.quotas.0))
            && let Some(verdict) = shared
                .check(&format!("ip.{}", hex(&ip.to_string())), most)
                .await
        {
            return verdict;
        }
        self.check_ip_here(ip)
    }

    fn check_ip_here(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        self.sweep();
        match (&self.per_ip, ip) {
            (Some(l), Some(ip)) => l.check_key(&ip).map_err(|n| retry_after(&n)),
            _ => Ok(()),
        }
    }

    /// One login attempt for `email` (normalized); `Err(seconds)` when over the limit.
    pub async fn check_email(&self, email: &str) -> Result<(), u64> {
        if let (Some(shared), Some(most)) = (&self.shared, NonZeroU32::new(self.quotas.1))
            && let Some(verdict) = shared
                .check(&format!("email.{}", digest(email)), most)
                .await
        {
            return verdict;
        }
        self.check_email_here(email)
    }

    fn check_email_here(&self, email: &str) -> Result<(), u64> {
        match &self.per_email {
            Some(l) => l.check_key(&email.to_owned()).map_err(|n| retry_after(&n)),
            None => Ok(()),
        }
    }
}

/// Attempt counters in a JetStream stream holding the newest message of each
/// subject: one subject per address or email and minute, incremented by
/// compare-and-set on the subject's last sequence, gone after two minutes.
pub struct Shared {
    js: async_nats::jetstream::Context,
    stream: async_nats::jetstream::stream::Stream,
    prefix: String,
}

/// Tries of one compare-and-set increment before the in-memory limit stands in.
const CAS_TRIES: usize = 16;

impl Shared {
    /// Opens (or makes) the stream `<stream>_limits`.
    pub async fn open(client: async_nats::Client, stream: &str) -> Result<Self, String> {
        use async_nats::jetstream::stream;
        let js = async_nats::jetstream::new(client);
        let name = format!("{stream}_limits");
        let prefix = format!("rucksack.{stream}.limits");
        let made = js
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![format!("{prefix}.>")],
                max_messages_per_subject: 1,
                max_age: std::time::Duration::from_secs(120),
                discard: stream::DiscardPolicy::Old,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot open the rate-limit stream '{name}': {e}"))?;
        Ok(Self {
            js,
            stream: made,
            prefix,
        })
    }

    /// The count under `subject` and the sequence to compare against (0: none).
    async fn read(&self, subject: &str) -> Result<(u64, u64), String> {
        use async_nats::jetstream::stream::LastRawMessageErrorKind;
        match self.stream.get_last_raw_message_by_subject(subject).await {
            Ok(m) => Ok((count(&m.payload), m.sequence)),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok((0, 0)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Counts one attempt under `key`: `Some(Err(seconds))` past `most` in
    /// the last minute, `None` when NATS could not count it. The count is this
    /// minute's plus the previous minute's share of the last 60 s (a sliding
    /// window), so a burst across a minute's edge is still one minute's.
    async fn check(&self, key: &str, most: NonZeroU32) -> Option<Result<(), u64>> {
        use async_nats::jetstream::message::PublishMessage;
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let (minute, into) = (ms / 60_000, ms % 60_000);
        let at = |m: u64| format!("{}.{key}.{m}", self.prefix);
        let previous = match self.read(&at(minute.saturating_sub(1))).await {
            Ok((n, _)) => n,
            Err(e) => {
                tracing::warn!(e, "the shared rate limits cannot be read");
                return None;
            }
        };
        let subject = at(minute);
        for _ in 0..CAS_TRIES {
            let (n, last) = match self.read(&subject).await {
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!(e, "the shared rate limits cannot be read");
                    return None;
                }
            };
            let publish = PublishMessage::build()
                .payload((n + 1).to_string().into())
                .expected_last_subject_sequence(last);
            let stored = match self.js.send_publish(subject.clone(), publish).await {
                Ok(ack) => ack.await.is_ok(),
                Err(_) => false,
            };
            // Otherwise another server counted first: read again.
            if stored {
                let earlier = previous * (60_000 - into) / 60_000;
                return Some(if n + 1 + earlier > u64::from(most.get()) {
                    Err((60_000 - into).div_ceil(1000).max(1))
                } else {
                    Ok(())
                });
            }
        }
        tracing::warn!("the shared rate limits are too contended; counting here");
        None
    }
}

/// A stored count.
fn count(value: &[u8]) -> u64 {
    std::str::from_utf8(value)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// A key-safe form of `text` (bucket keys take letters, digits, `-_=.` only).
fn hex(text: &str) -> String {
    hex_bytes(text.as_bytes())
}

/// An email's key: its SHA-256, so the bucket holds no addresses.
fn digest(email: &str) -> String {
    use sha2::Digest;
    hex_bytes(&sha2::Sha256::digest(email.as_bytes()))
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn retry_after(n: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u64 {
    let wait = n.wait_time_from(DefaultClock::default().now());
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address_and_per_email() {
        let l = AuthLimits::new(3, 2);
        let ip: Option<IpAddr> = "10.0.0.1".parse().ok();
        assert!((0..3).all(|_| l.check_ip_here(ip).is_ok()));
        let wait = l.check_ip_here(ip).expect_err("over the limit");
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(
            l.check_ip_here("10.0.0.2".parse().ok()).is_ok(),
            "another address"
        );
        assert!(l.check_email_here("a@b.co").is_ok() && l.check_email_here("a@b.co").is_ok());
        assert!(l.check_email_here("a@b.co").is_err());
        assert!(l.check_email_here("c@b.co").is_ok());
        let off = AuthLimits::new(0, 0);
        assert!(
            (0..100).all(|_| off.check_ip_here(ip).is_ok() && off.check_email_here("x").is_ok())
        );
    }
}
