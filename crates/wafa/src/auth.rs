//! Credentials: password hashing and opaque tokens.
//!
//! Why opaque tokens stored as SHA-256 hashes: a database leak must not hand out working
//! sessions or API keys, and lookups by hash are a single indexed read per request (no JWT
//! key rotation, immediate revocation). Passwords use Argon2id, the OWASP recommendation.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use sha2::{Digest, Sha256};

pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash that takes as long to verify as a real one, so unknown emails are not revealed by
/// timing.
pub fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let h = DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default());
    let _ = verify_password(password, h);
}

/// 32 random bytes, URL-safe base64, behind a readable prefix (`wafa_sk_…`, `wafa_ses_…`).
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // The OS RNG failing is not recoverable; a predictable token would be worse than a crash.
    getrandom::fill(&mut bytes).expect("operating system random number generator");
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A printable random password for first-run owners.
pub fn new_password() -> String {
    let mut bytes = [0u8; 15];
    getrandom::fill(&mut bytes).expect("operating system random number generator");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens() {
        let h = hash_password("s3cret-pass").unwrap();
        assert!(verify_password("s3cret-pass", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        let t = new_token("wafa_sk_");
        assert!(t.starts_with("wafa_sk_") && t.len() > 40);
        assert_ne!(new_token(""), new_token(""));
        assert_eq!(token_hash("a").len(), 64);
    }
}
