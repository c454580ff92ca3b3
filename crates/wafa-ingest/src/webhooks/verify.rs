//! Signature checks over the raw body bytes, before anything is parsed.
//!
//! | platform | what is checked |
//! |---|---|
//! | Shopify | `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(secret, body)) |
//! | WooCommerce | `X-WC-Webhook-Signature` = base64(HMAC-SHA256(secret, body)); an unsigned form body `webhook_id=N` is the creation ping |
//! | Salla | `X-Salla-Security-Strategy: Signature` (or absent) → `X-Salla-Signature` = hex(HMAC-SHA256(secret, body)); `Token` → `Authorization: Bearer <secret>` |
//! | Zid | Zid does not sign deliveries (see the README): a shared token in the target URL's query (`?token=`) or the `X-Wafa-Webhook-Token` header |
//!
//! Every comparison is constant-time (`Mac::verify_slice`, or `subtle` over SHA-256 digests
//! of both tokens so that not even the length leaks).

use super::{Platform, Request};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A delivery that passed its check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Genuine: store it and map it.
    Verified,
    /// WooCommerce's unsigned `webhook_id=N` creation ping: answer 200, store nothing.
    Ping,
}

/// Why a delivery was refused (answer 401 and store nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// The source has no secret configured; nothing can be verified.
    NoSecret,
    /// The signature (or token) header/parameter is absent.
    MissingSignature,
    /// The signature is not valid base64/hex of a SHA-256 MAC.
    MalformedSignature,
    /// The signature or token does not match.
    BadSignature,
}

impl VerifyError {
    /// Stable machine code.
    pub fn code(self) -> &'static str {
        match self {
            VerifyError::NoSecret => "webhook_no_secret",
            VerifyError::MissingSignature => "webhook_missing_signature",
            VerifyError::MalformedSignature => "webhook_malformed_signature",
            VerifyError::BadSignature => "webhook_bad_signature",
        }
    }
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
impl std::error::Error for VerifyError {}

/// Header carrying a shared token for Zid (when a query parameter is not wanted).
pub const ZID_TOKEN_HEADER: &str = "X-Wafa-Webhook-Token";
/// Query parameter carrying the shared token for Zid.
pub const ZID_TOKEN_PARAM: &str = "token";

/// Check a delivery of `platform` against the source's `secret`.
pub fn verify(
    platform: Platform,
    req: &Request<'_>,
    secret: &str,
) -> Result<Verified, VerifyError> {
    match platform {
        Platform::Shopify => {
            let sig = req
                .header("X-Shopify-Hmac-Sha256")
                .ok_or(VerifyError::MissingSignature)?;
            need_secret(secret)?;
            check_base64_hmac(secret, req.body, sig)
        }
        Platform::WooCommerce => match req.header("X-WC-Webhook-Signature") {
            Some(sig) => {
                need_secret(secret)?;
                check_base64_hmac(secret, req.body, sig)
            }
            None if is_woo_ping(req.body) => Ok(Verified::Ping),
            None => Err(VerifyError::MissingSignature),
        },
        Platform::Salla => {
            let strategy = req
                .header("X-Salla-Security-Strategy")
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if strategy == "token" {
                let auth = req
                    .header("Authorization")
                    .ok_or(VerifyError::MissingSignature)?;
                let token = strip_bearer(auth).ok_or(VerifyError::MalformedSignature)?;
                need_secret(secret)?;
                check_token(secret, token)
            } else {
                // "Signature" is Salla's default strategy; an absent strategy header is read
                // as it too, so a stripped header cannot downgrade the check to a token.
                let sig = req
                    .header("X-Salla-Signature")
                    .ok_or(VerifyError::MissingSignature)?;
                need_secret(secret)?;
                let mac = decode_hex(sig.trim()).ok_or(VerifyError::MalformedSignature)?;
                check_hmac(secret, req.body, &mac)
            }
        }
        Platform::Zid => {
            let token = req
                .query_param(ZID_TOKEN_PARAM)
                .or_else(|| req.header(ZID_TOKEN_HEADER))
                .ok_or(VerifyError::MissingSignature)?;
            need_secret(secret)?;
            check_token(secret, token.trim())
        }
    }
}

fn need_secret(secret: &str) -> Result<(), VerifyError> {
    if secret.is_empty() {
        Err(VerifyError::NoSecret)
    } else {
        Ok(())
    }
}

fn check_base64_hmac(secret: &str, body: &[u8], sig: &str) -> Result<Verified, VerifyError> {
    let mac = base64::engine::general_purpose::STANDARD
        .decode(sig.trim())
        .map_err(|_| VerifyError::MalformedSignature)?;
    check_hmac(secret, body, &mac)
}

fn check_hmac(secret: &str, body: &[u8], mac: &[u8]) -> Result<Verified, VerifyError> {
    if mac.len() != 32 {
        return Err(VerifyError::MalformedSignature);
    }
    let mut m = HmacSha256::new_from_slice(secret.as_bytes()).map_err(|_| VerifyError::NoSecret)?;
    m.update(body);
    m.verify_slice(mac)
        .map(|_| Verified::Verified)
        .map_err(|_| VerifyError::BadSignature)
}

/// Compare digests so that neither content nor length leaks through timing.
fn check_token(secret: &str, token: &str) -> Result<Verified, VerifyError> {
    let a = Sha256::digest(secret.as_bytes());
    let b = Sha256::digest(token.as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(Verified::Verified)
    } else {
        Err(VerifyError::BadSignature)
    }
}

fn strip_bearer(auth: &str) -> Option<&str> {
    let auth = auth.trim();
    let (scheme, rest) = auth.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        let t = rest.trim();
        (!t.is_empty()).then_some(t)
    } else {
        None
    }
}

/// WooCommerce's ping when a webhook is saved: form-encoded `webhook_id=<digits>`, unsigned.
pub fn is_woo_ping(body: &[u8]) -> bool {
    let b = body.trim_ascii();
    match b.strip_prefix(b"webhook_id=") {
        Some(rest) => !rest.is_empty() && rest.len() <= 20 && rest.iter().all(u8::is_ascii_digit),
        None => false,
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("sha256=").unwrap_or(s);
    if s.len() & 1 == 1 {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// Lowercase hex HMAC-SHA256 (Salla's form); for tests and tools.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mac = hmac_raw(secret, body);
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

/// Base64 HMAC-SHA256 (Shopify's and WooCommerce's form); for tests and tools.
pub fn hmac_base64(secret: &str, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_raw(secret, body))
}

fn hmac_raw(secret: &str, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn shopify_good_bad_missing() {
        let body = br#"{"id":820982911946154508}"#;
        let sig = hmac_base64("s3cret", body);
        let hs = h(&[("x-shopify-hmac-sha256", &sig)]);
        let req = Request::new(&hs, &[], body);
        assert_eq!(
            verify(Platform::Shopify, &req, "s3cret"),
            Ok(Verified::Verified)
        );
        assert_eq!(
            verify(Platform::Shopify, &req, "other"),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(Platform::Shopify, &req, ""),
            Err(VerifyError::NoSecret)
        );
        let tampered = br#"{"id":820982911946154509}"#;
        let req = Request::new(&hs, &[], tampered);
        assert_eq!(
            verify(Platform::Shopify, &req, "s3cret"),
            Err(VerifyError::BadSignature)
        );
        let req = Request::new(&[], &[], body);
        assert_eq!(
            verify(Platform::Shopify, &req, "s3cret"),
            Err(VerifyError::MissingSignature)
        );
        let hs = h(&[("X-Shopify-Hmac-Sha256", "not base64!!")]);
        let req = Request::new(&hs, &[], body);
        assert_eq!(
            verify(Platform::Shopify, &req, "s3cret"),
            Err(VerifyError::MalformedSignature)
        );
        let hs = h(&[("X-Shopify-Hmac-Sha256", "AAAA")]);
        let req = Request::new(&hs, &[], body);
        assert_eq!(
            verify(Platform::Shopify, &req, "s3cret"),
            Err(VerifyError::MalformedSignature)
        );
    }

    #[test]
    fn woo_ping_and_signature() {
        let req = Request::new(&[], &[], b"webhook_id=15");
        assert_eq!(verify(Platform::WooCommerce, &req, "k"), Ok(Verified::Ping));
        let req = Request::new(&[], &[], b"webhook_id=15&x=1");
        assert_eq!(
            verify(Platform::WooCommerce, &req, "k"),
            Err(VerifyError::MissingSignature)
        );
        let req = Request::new(&[], &[], b"{}");
        assert_eq!(
            verify(Platform::WooCommerce, &req, "k"),
            Err(VerifyError::MissingSignature)
        );
        // A signed body is checked even when it looks like a ping.
        let hs = h(&[(
            "X-WC-Webhook-Signature",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )]);
        let req = Request::new(&hs, &[], b"webhook_id=15");
        assert_eq!(
            verify(Platform::WooCommerce, &req, "k"),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn salla_signature_and_token() {
        let body = br#"{"event":"order.created"}"#;
        let sig = hmac_hex("salla-secret", body);
        assert_eq!(sig.len(), 64);
        let hs = h(&[
            ("X-Salla-Security-Strategy", "Signature"),
            ("X-Salla-Signature", &sig),
        ]);
        let req = Request::new(&hs, &[], body);
        assert_eq!(
            verify(Platform::Salla, &req, "salla-secret"),
            Ok(Verified::Verified)
        );
        assert_eq!(
            verify(Platform::Salla, &req, "nope"),
            Err(VerifyError::BadSignature)
        );
        let up = sig.to_ascii_uppercase();
        let hs = h(&[("x-salla-signature", &up)]);
        let req = Request::new(&hs, &[], body);
        assert_eq!(
            verify(Platform::Salla, &req, "salla-secret"),
            Ok(Verified::Verified)
        );
        let hs = h(&[("X-Salla-Signature", "zz")]);
        let req = Request::new(&hs, &[], body);
        assert_eq!(
            verify(Platform::Salla, &req, "salla-secret"),
            Err(VerifyError::MalformedSignature)
        );
        // Token strategy.
        let hs = h(&[
            ("X-Salla-Security-Strategy", "Token"),
            ("Authorization", "Bearer tok-1"),
        ]);
        let req = Request::new(&hs, &[], body);
        assert_eq!(
            verify(Platform::Salla, &req, "tok-1"),
            Ok(Verified::Verified)
        );
        assert_eq!(
            verify(Platform::Salla, &req, "tok-2"),
            Err(VerifyError::BadSignature)
        );
        let hs = h(&[("X-Salla-Security-Strategy", "token")]);
        let req = Request::new(&hs, &[], body);
        assert_eq!(
            verify(Platform::Salla, &req, "tok-1"),
            Err(VerifyError::MissingSignature)
        );
        // No strategy and only a bearer token: the signature is required.
        let hs = h(&[("Authorization", "Bearer tok-1")]);
        let req = Request::new(&hs, &[], body);
        assert_eq!(
            verify(Platform::Salla, &req, "tok-1"),
            Err(VerifyError::MissingSignature)
        );
    }

    #[test]
    fn zid_token() {
        let q = h(&[("event", "order.create"), ("token", "z-1")]);
        let req = Request::new(&[], &q, b"{}");
        assert_eq!(verify(Platform::Zid, &req, "z-1"), Ok(Verified::Verified));
        assert_eq!(
            verify(Platform::Zid, &req, "z-2"),
            Err(VerifyError::BadSignature)
        );
        let hs = h(&[("x-wafa-webhook-token", "z-1")]);
        let req = Request::new(&hs, &[], b"{}");
        assert_eq!(verify(Platform::Zid, &req, "z-1"), Ok(Verified::Verified));
        let req = Request::new(&[], &[], b"{}");
        assert_eq!(
            verify(Platform::Zid, &req, "z-1"),
            Err(VerifyError::MissingSignature)
        );
    }
}
