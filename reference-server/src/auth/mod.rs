//! Users, passwords and sessions.
//!
//! Passwords are hashed with argon2id. Session tokens are 256 random bits, given
//! to the client once and stored only as their SHA-256 hash, so a copy of the
//! database does not hold usable tokens.

use crate::clock::{hex, random_bytes};
use crate::error::ApiError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sdk_core::{ErrorBody, ErrorCode};
use sha2::{Digest, Sha256};

/// Shortest accepted password.
pub const MIN_PASSWORD: usize = 8;
/// Longest accepted password (bounds the hashing work one request can cause).
pub const MAX_PASSWORD: usize = 1024;
/// Longest accepted email.
pub const MAX_EMAIL: usize = 254;

/// Password hashing with the configured argon2id cost.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// A hash of a random password, verified against when the email is unknown so
    /// that an unknown email costs as much time as a wrong password.
    dummy: String,
}

impl Hasher {
    /// A hasher with `memory_kib` KiB and `iterations` passes.
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self, String> {
        let params = Params::new(memory_kib, iterations, 1, None).map_err(|e| e.to_string())?;
        let mut h = Self {
            params,
            dummy: String::new(),
        };
        h.dummy = h.hash(&hex(&random_bytes::<16>()))?;
        Ok(h)
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The PHC string for `password`.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let salt_bytes = random_bytes::<16>();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
        self.argon()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    }

    /// Whether `password` matches `phc`; with `None`, spends the same time and says no.
    pub fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let target = phc.unwrap_or(&self.dummy);
        let Ok(parsed) = PasswordHash::new(target) else {
            return false;
        };
        let ok = self
            .argon()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && phc.is_some()
    }
}

/// A new session token (64 hex digits, 256 bits).
pub fn new_token() -> String {
    hex(&random_bytes::<32>())
}

/// The hash under which a token is stored.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Normalizes and checks an email: trimmed, lowercased, one `@` with text on
/// both sides, a dot in the domain, no spaces, at most 254 characters.
pub fn normalize_email(email: &str) -> Result<String, ErrorBody> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= MAX_EMAIL
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && match e.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if valid {
        Ok(e)
    } else {
        Err(
            ErrorBody::new(ErrorCode::ValidationFailed, "the email is not valid")
                .with_field("email", "must be a valid email address"),
        )
    }
}

/// Checks a new password's length.
pub fn check_password(password: &str) -> Result<(), ErrorBody> {
    let n = password.chars().count();
    if n < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        return Err(ErrorBody::new(
            ErrorCode::ValidationFailed,
            "the password is not acceptable",
        )
        .with_field(
            "password",
            format!("must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long"),
        ));
    }
    Ok(())
}

/// Runs a CPU-heavy hash off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_unknown_users_never_match() {
        let h = Hasher::new(64, 1).expect("hasher");
        let phc = h.hash("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(h.verify("correct horse", Some(&phc)));
        assert!(!h.verify("wrong horse", Some(&phc)));
        assert!(!h.verify("correct horse", None));
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("  Ann@Example.COM ").expect("ok"),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "a@b",
            "a b@x.com",
            "a@@x.com",
            "a@x.com.",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_256_bits_and_stored_hashed() {
        let t = new_token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, new_token());
        assert_eq!(token_hash(&t).len(), 64);
        assert_ne!(token_hash(&t), t);
    }
}
