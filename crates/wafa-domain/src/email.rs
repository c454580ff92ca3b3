//! Email addresses, validated and folded to lower case.
//!
//! Why lower case: providers treat the local part case-insensitively in practice, and two
//! store accounts `Sara@X.com` and `sara@x.com` are the same person for identity resolution.

use crate::error::{DomainError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, DomainError> {
        let err = |why: &str| {
            DomainError::field(
                ErrorCode::InvalidEmail,
                "email",
                format!("{input:?}: {why}"),
            )
        };
        let s = input.trim();
        if s.len() > 254 {
            return Err(err("too long"));
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(|| err("missing @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(err("bad local part"));
        }
        if local.contains('@')
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(err("bad local part"));
        }
        let ok_local = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
        if !local.chars().all(ok_local) {
            return Err(err("bad character"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(err("domain needs a dot"));
        }
        for l in &labels {
            if l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-') {
                return Err(err("bad domain"));
            }
            if !l.chars().all(|c| c.is_alphanumeric() || c == '-') {
                return Err(err("bad domain"));
            }
        }
        Ok(Email(s.to_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn from_stored_unchecked(s: String) -> Email {
        Email(s)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_fold() {
        assert_eq!(
            Email::parse(" Sara.Ali@Example.COM ").unwrap().as_str(),
            "sara.ali@example.com"
        );
        assert!(Email::parse("a+tag@mail.example.sa").is_ok());
        for bad in [
            "",
            "no-at",
            "@x.com",
            "a@",
            "a@b",
            "a b@c.com",
            "a..b@c.com",
            "a@-c.com",
            "a@c..com",
        ] {
            assert_eq!(
                Email::parse(bad).unwrap_err().code,
                ErrorCode::InvalidEmail,
                "{bad}"
            );
        }
    }
}
