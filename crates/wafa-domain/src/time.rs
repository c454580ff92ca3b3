//! Timestamps: milliseconds since the Unix epoch, UTC, everywhere.
//!
//! Why integers: the same column type and comparison semantics on SQLite and PostgreSQL, no
//! time-zone drift, and cheap cursor pagination. Parsing accepts what stores and CSV exports
//! actually send, including JavaScript `Date.toString()` output from Salla.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parse a timestamp in any of the forms we meet; naive times are taken as UTC.
pub fn parse_timestamp_ms(input: &str) -> Option<i64> {
    let s = input.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(s) {
        return Some(dt.timestamp_millis());
    }
    // "2024-03-05 14:00:00 +0300", "2024-03-05 14:00:00 +03:00"
    for f in [
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%d %H:%M:%S%.f %z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(dt) = DateTime::<FixedOffset>::parse_from_str(s, f) {
            return Some(dt.timestamp_millis());
        }
    }
    // JavaScript: "Tue Mar 05 2024 14:00:00 GMT+0300 (Arabian Standard Time)"
    if let Some(idx) = s.find(" GMT") {
        let head = &s[..idx];
        let tz: String = s[idx + 4..]
            .chars()
            .take_while(|c| *c == '+' || *c == '-' || c.is_ascii_digit())
            .collect();
        let tz = if tz.is_empty() {
            "+0000".to_owned()
        } else {
            tz
        };
        if let Ok(dt) = DateTime::<FixedOffset>::parse_from_str(
            &format!("{head} {tz}"),
            "%a %b %d %Y %H:%M:%S %z",
        ) {
            return Some(dt.timestamp_millis());
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%d/%m/%Y %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&dt).timestamp_millis());
        }
    }
    for f in ["%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(
                Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?)
                    .timestamp_millis(),
            );
        }
    }
    // Unix seconds or milliseconds.
    if let Ok(n) = s.parse::<i64>() {
        if n > 100_000_000_000 {
            return Some(n);
        }
        if n > 0 {
            return Some(n * 1000);
        }
    }
    None
}

/// RFC 3339 in UTC with milliseconds, for the API.
pub fn format_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = parse_timestamp_ms("2024-03-05T11:00:00Z").unwrap();
        assert_eq!(parse_timestamp_ms("2024-03-05T14:00:00+03:00"), Some(t));
        assert_eq!(
            parse_timestamp_ms("Tue Mar 05 2024 14:00:00 GMT+0300 (Arabian Standard Time)"),
            Some(t)
        );
        assert_eq!(parse_timestamp_ms("2024-03-05 11:00:00"), Some(t));
        assert_eq!(parse_timestamp_ms("2024-03-05 14:00:00 +0300"), Some(t));
        assert_eq!(parse_timestamp_ms("1709636400"), Some(t));
        assert!(parse_timestamp_ms("yesterday").is_none());
        assert_eq!(format_ms(t), "2024-03-05T11:00:00.000Z");
    }
}
