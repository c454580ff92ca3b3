//! Money as integer minor units plus an ISO 4217 currency.
//!
//! Why: floats lose fils and halalas; and "minor unit" is not always 1/100 — KWD, BHD, OMR,
//! JOD, IQD, LYD and TND have 3 decimals, JPY and KRW none. Every amount in Wafa is an `i64`
//! count of minor units with its currency, parsed from decimal strings exactly.

use crate::error::{DomainError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::fmt;

/// ISO 4217 currencies Wafa knows, with their number of decimals.
const CURRENCIES: &[(&str, u8)] = &[
    // Gulf and the wider Arab world first: these are our merchants' currencies.
    ("SAR", 2),
    ("AED", 2),
    ("KWD", 3),
    ("BHD", 3),
    ("OMR", 3),
    ("QAR", 2),
    ("EGP", 2),
    ("JOD", 3),
    ("IQD", 3),
    ("LBP", 2),
    ("SYP", 2),
    ("YER", 2),
    ("LYD", 3),
    ("TND", 3),
    ("DZD", 2),
    ("MAD", 2),
    ("SDG", 2),
    ("MRU", 2),
    ("ILS", 2),
    ("TRY", 2),
    ("IRR", 2),
    ("PKR", 2),
    ("INR", 2),
    ("BDT", 2),
    ("IDR", 2),
    ("MYR", 2),
    ("SGD", 2),
    ("PHP", 2),
    ("THB", 2),
    ("VND", 0),
    ("CNY", 2),
    ("HKD", 2),
    ("TWD", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("USD", 2),
    ("CAD", 2),
    ("MXN", 2),
    ("BRL", 2),
    ("ARS", 2),
    ("CLP", 0),
    ("COP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("PLN", 2),
    ("CZK", 2),
    ("HUF", 2),
    ("RON", 2),
    ("RUB", 2),
    ("UAH", 2),
    ("AUD", 2),
    ("NZD", 2),
    ("ZAR", 2),
    ("NGN", 2),
    ("KES", 2),
    ("GHS", 2),
    ("ETB", 2),
    ("XOF", 0),
    ("XAF", 0),
];

/// An ISO 4217 currency code known to Wafa.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    decimals: u8,
}

impl Currency {
    /// Parse a code such as `sar` or `SAR`.
    pub fn parse(input: &str) -> Result<Currency, DomainError> {
        let upper = input.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == upper)
            .map(|&(code, decimals)| Currency { code, decimals })
            .ok_or_else(|| {
                DomainError::field(
                    ErrorCode::InvalidCurrency,
                    "currency",
                    format!("unknown currency {input:?}"),
                )
            })
    }
    pub fn code(self) -> &'static str {
        self.code
    }
    /// Number of decimals of the minor unit (2 for SAR, 3 for KWD, 0 for JPY).
    pub fn decimals(self) -> u8 {
        self.decimals
    }
    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES
            .iter()
            .map(|&(code, decimals)| Currency { code, decimals })
    }

    /// Parse a decimal amount (`"199.5"`, `"1,250.000"`, `"-3"`) into minor units, exactly.
    /// More decimals than the currency has is an error rather than silent rounding, except
    /// trailing zeros (`"10.500"` is fine for SAR).
    pub fn parse_amount(self, input: &str) -> Result<i64, DomainError> {
        let bad = |why: &str| {
            DomainError::field(
                ErrorCode::InvalidAmount,
                "amount",
                format!("{input:?}: {why}"),
            )
        };
        let s: String = input
            .trim()
            .chars()
            .filter(|c| *c != ',' && *c != '_' && *c != ' ')
            .collect();
        let s = to_ascii_digits(&s);
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(&s)),
        };
        if body.is_empty() {
            return Err(bad("empty"));
        }
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("no digits"));
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad("not a decimal number"));
        }
        let decimals = self.decimals as usize;
        let frac_trimmed = frac_part.trim_end_matches('0');
        if frac_trimmed.len() > decimals {
            return Err(bad(&format!("{} allows {} decimals", self.code, decimals)));
        }
        let mut minor: i64 = 0;
        for b in int_part.bytes() {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add((b - b'0') as i64))
                .ok_or_else(|| bad("too large"))?;
        }
        for i in 0..decimals {
            let digit = frac_trimmed
                .as_bytes()
                .get(i)
                .map(|b| (b - b'0') as i64)
                .unwrap_or(0);
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(digit))
                .ok_or_else(|| bad("too large"))?;
        }
        Ok(if neg { -minor } else { minor })
    }

    /// Format minor units as a plain decimal string (`12345` SAR → `"123.45"`).
    pub fn format_amount(self, minor: i64) -> String {
        let d = self.decimals as u32;
        if d == 0 {
            return minor.to_string();
        }
        let scale = 10i64.pow(d);
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale as u64,
            abs % scale as u64,
            width = d as usize
        )
    }
}

/// Arabic-Indic (٠-٩) and Persian (۰-۹) digits and the Arabic decimal separator → ASCII.
fn to_ascii_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            '\u{066B}' => '.',
            _ => c,
        })
        .collect()
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}
impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}
impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}
impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(|e| serde::de::Error::custom(e.detail))
    }
}

/// An amount in minor units of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Money {
            amount_minor,
            currency,
        }
    }
    pub fn parse(amount: &str, currency: &str) -> Result<Money, DomainError> {
        let currency = Currency::parse(currency)?;
        Ok(Money {
            amount_minor: currency.parse_amount(amount)?,
            currency,
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.currency.format_amount(self.amount_minor),
            self.currency.code
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_per_currency() {
        let sar = Currency::parse("sar").unwrap();
        let kwd = Currency::parse("KWD").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(sar.parse_amount("199.5").unwrap(), 19950);
        assert_eq!(sar.parse_amount("1,250.00").unwrap(), 125000);
        assert_eq!(sar.parse_amount(".5").unwrap(), 50);
        assert_eq!(kwd.parse_amount("12.345").unwrap(), 12345);
        assert_eq!(kwd.parse_amount("٣٫٥").unwrap(), 3500);
        assert_eq!(jpy.parse_amount("1500").unwrap(), 1500);
        assert_eq!(sar.parse_amount("-3").unwrap(), -300);
        assert_eq!(sar.parse_amount("10.500").unwrap(), 1050);
        assert_eq!(
            sar.parse_amount("10.505").unwrap_err().code,
            ErrorCode::InvalidAmount
        );
        assert!(sar.parse_amount("abc").is_err());
        assert!(sar.parse_amount("").is_err());
        assert!(sar.parse_amount("1.2.3").is_err());
        assert!(sar.parse_amount("99999999999999999999").is_err());
        assert_eq!(
            Currency::parse("XYZ").unwrap_err().code,
            ErrorCode::InvalidCurrency
        );
    }

    #[test]
    fn formats_with_currency_decimals() {
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(kwd.format_amount(12345), "12.345");
        assert_eq!(Currency::parse("SAR").unwrap().format_amount(-5), "-0.05");
        assert_eq!(Money::parse("7.25", "AED").unwrap().to_string(), "7.25 AED");
        for c in Currency::all() {
            for v in [0i64, 1, -1, 123456789] {
                assert_eq!(c.parse_amount(&c.format_amount(v)).unwrap(), v, "{c}");
            }
        }
    }
}
