//! Rate limits on register and login, so passwords cannot be guessed at speed
//! nor accounts mass-created from one address.

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
        }
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
    pub fn check_ip(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        self.sweep();
        match (&self.per_ip, ip) {
            (Some(l), Some(ip)) => l.check_key(&ip).map_err(|n| retry_after(&n)),
            _ => Ok(()),
        }
    }

    /// One login attempt for `email` (normalized); `Err(seconds)` when over the limit.
    pub fn check_email(&self, email: &str) -> Result<(), u64> {
        match &self.per_email {
            Some(l) => l.check_key(&email.to_owned()).map_err(|n| retry_after(&n)),
            None => Ok(()),
        }
    }
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
        assert!((0..3).all(|_| l.check_ip(ip).is_ok()));
        let wait = l.check_ip(ip).expect_err("over the limit");
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(
            l.check_ip("10.0.0.2".parse().ok()).is_ok(),
            "another address"
        );
        assert!(l.check_email("a@b.co").is_ok() && l.check_email("a@b.co").is_ok());
        assert!(l.check_email("a@b.co").is_err());
        assert!(l.check_email("c@b.co").is_ok());
        let off = AuthLimits::new(0, 0);
        assert!((0..100).all(|_| off.check_ip(ip).is_ok() && off.check_email("x").is_ok()));
    }
}
