//! Phone numbers in E.164, parsed with libphonenumber's metadata (the `phonenumber` crate).
//!
//! Why: the same customer types 0501234567 in one store, +966 50 123 4567 in another and
//! 00966501234567 on WhatsApp. Identity resolution and search only work if all of them
//! become `+966501234567`. Numbers without a country code are read in the workspace's
//! default region.

use crate::error::{DomainError, ErrorCode};
use phonenumber::country::Id;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A region (ISO 3166-1 alpha-2) used to read national-format numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(Id);

impl Region {
    pub fn parse(input: &str) -> Result<Region, DomainError> {
        Id::from_str(&input.trim().to_ascii_uppercase())
            .map(Region)
            .map_err(|_| {
                DomainError::field(
                    ErrorCode::ValidationFailed,
                    "default_region",
                    format!("unknown region {input:?}"),
                )
            })
    }
    pub fn code(self) -> String {
        format!("{:?}", self.0)
    }
}

impl Default for Region {
    fn default() -> Self {
        Region(Id::SA)
    }
}

/// A valid phone number, held in E.164 form (`+966501234567`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Parse any common written form; national numbers are read in `region`.
    pub fn parse(input: &str, region: Region) -> Result<Phone, DomainError> {
        let err = || {
            DomainError::field(
                ErrorCode::InvalidPhone,
                "phone",
                format!("{input:?} is not a valid phone number"),
            )
        };
        let cleaned = clean(input);
        if cleaned.is_empty() || cleaned.len() > 20 {
            return Err(err());
        }
        let try_parse = |s: &str, region: Option<Id>| -> Option<Phone> {
            let n = phonenumber::parse(region, s).ok()?;
            if !phonenumber::is_valid(&n) {
                return None;
            }
            Some(Phone(n.format().mode(phonenumber::Mode::E164).to_string()))
        };
        if cleaned.starts_with('+') {
            return try_parse(&cleaned, None).ok_or_else(err);
        }
        // National form first; then digits that already carry a country code but lost their
        // `+` (Salla sends `mobile` as the number 966501234567).
        try_parse(&cleaned, Some(region.0))
            .or_else(|| {
                if cleaned.len() >= 10 {
                    try_parse(&format!("+{cleaned}"), None)
                } else {
                    None
                }
            })
            .ok_or_else(err)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Trust a value already stored in E.164 by this type.
    pub fn from_e164_unchecked(s: String) -> Phone {
        Phone(s)
    }
}

/// Keep digits and a leading `+`; Arabic-Indic digits become ASCII; an international
/// `00` prefix becomes `+`.
fn clean(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.trim().chars() {
        match c {
            '0'..='9' => out.push(c),
            '\u{0660}'..='\u{0669}' => out.push(char::from(b'0' + (c as u32 - 0x0660) as u8)),
            '\u{06F0}'..='\u{06F9}' => out.push(char::from(b'0' + (c as u32 - 0x06F0) as u8)),
            '+' if out.is_empty() => out.push('+'),
            ' '
            | '-'
            | '('
            | ')'
            | '.'
            | '/'
            | '\u{00A0}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}' => {}
            _ => return String::new(),
        }
    }
    if let Some(rest) = out.strip_prefix("00") {
        out = format!("+{rest}");
    }
    out
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa() -> Region {
        Region::parse("SA").unwrap()
    }

    #[test]
    fn all_common_forms_agree() {
        for form in [
            "0501234567",
            "+966 50 123 4567",
            "00966501234567",
            "966501234567",
            "٠٥٠١٢٣٤٥٦٧",
            "+966-50-123-4567",
            "(050) 123 4567",
        ] {
            assert_eq!(
                Phone::parse(form, sa()).unwrap().as_str(),
                "+966501234567",
                "{form}"
            );
        }
    }

    #[test]
    fn regions_and_invalid() {
        let eg = Region::parse("eg").unwrap();
        assert_eq!(
            Phone::parse("01012345678", eg).unwrap().as_str(),
            "+201012345678"
        );
        assert_eq!(
            Phone::parse("+971501234567", sa()).unwrap().as_str(),
            "+971501234567"
        );
        assert_eq!(
            Phone::parse("+96550123456", sa()).unwrap().as_str(),
            "+96550123456"
        );
        for bad in [
            "",
            "abc",
            "123",
            "05012345678901234567890",
            "+",
            "050x1234567",
        ] {
            assert_eq!(
                Phone::parse(bad, sa()).unwrap_err().code,
                ErrorCode::InvalidPhone,
                "{bad}"
            );
        }
        assert!(Region::parse("XX").is_err());
    }
}
