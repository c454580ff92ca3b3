//! Reading loosely typed JSON exactly: ids, money, quantities, phones and timestamps.
//!
//! Numbers: serde_json (without `arbitrary_precision`) keeps every integer that fits `u64`/`i64`
//! exactly, so ids above 2^53 survive. Decimal numbers are `f64`; `Number::to_string` prints
//! the shortest representation that round-trips, which is the decimal the platform wrote for
//! every amount with up to 15 significant digits (`175.47` → `"175.47"`). That string is then
//! parsed exactly by `Currency::parse_amount`. A value that does not print as a plain decimal
//! (`1e21`) is refused rather than rounded.

use super::{MapError, MapErrorCode};
use serde_json::Value;
use wafa_domain::time::{format_ms, parse_timestamp_ms};
use wafa_domain::Currency;

pub(crate) fn parse_body(body: &[u8]) -> Result<Value, MapError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| MapError::new(MapErrorCode::InvalidJson, format!("body is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(MapError::new(
            MapErrorCode::InvalidJson,
            "body is not a JSON object",
        ));
    }
    Ok(v)
}

/// Follow a path of object keys; JSON `null` counts as absent.
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for k in path {
        cur = cur.get(*k)?;
    }
    (!cur.is_null()).then_some(cur)
}

/// A non-empty trimmed string, or a number written as a string.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_owned())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An id: a non-empty string or an integer (exact, also above 2^53); `0` counts as absent
/// (WooCommerce's guest `customer_id: 0`).
pub(crate) fn id(v: Option<&Value>, field: &str) -> Result<Option<String>, MapError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            Ok((!t.is_empty() && t != "0").then(|| t.to_owned()))
        }
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok((u != 0).then(|| u.to_string()))
            } else if let Some(i) = n.as_i64() {
                Ok(Some(i.to_string()))
            } else {
                Err(MapError::invalid(
                    field,
                    format!("{n} is not a whole-number id"),
                ))
            }
        }
        Some(other) => Err(MapError::invalid(field, format!("{other} is not an id"))),
    }
}

pub(crate) fn req_id(v: Option<&Value>, field: &str) -> Result<String, MapError> {
    id(v, field)?.ok_or_else(|| MapError::missing(field))
}

pub(crate) fn currency(code: Option<&Value>, field: &str) -> Result<Option<Currency>, MapError> {
    match text(code) {
        None => Ok(None),
        Some(c) => Currency::parse(&c)
            .map(Some)
            .map_err(|e| MapError::invalid(field, e.detail)),
    }
}

/// The decimal text of a number or string amount.
fn amount_text(v: &Value, field: &str) -> Result<String, MapError> {
    match v {
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(MapError::invalid(
            field,
            format!("{other} is not an amount"),
        )),
    }
}

/// An amount in minor units, exactly; absent or null → `None`.
pub(crate) fn money(
    v: Option<&Value>,
    cur: Currency,
    field: &str,
) -> Result<Option<i64>, MapError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let s = amount_text(v, field)?;
    if s.is_empty() {
        return Ok(None);
    }
    cur.parse_amount(&s)
        .map(Some)
        .map_err(|e| MapError::invalid(field, e.detail))
}

pub(crate) fn money0(v: Option<&Value>, cur: Currency, field: &str) -> Result<i64, MapError> {
    Ok(money(v, cur, field)?.unwrap_or(0))
}

/// An amount rounded half away from zero to the currency's decimals, on the decimal digits
/// (no floats). For platforms that send computed values such as `"114.99999999999999"`.
pub(crate) fn money_rounded(
    v: Option<&Value>,
    cur: Currency,
    field: &str,
) -> Result<Option<i64>, MapError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let s = amount_text(v, field)?;
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(m) = cur.parse_amount(&s) {
        return Ok(Some(m));
    }
    let bad = || MapError::invalid(field, format!("{s:?} is not a decimal amount"));
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.as_str()),
    };
    let (int_part, frac) = body.split_once('.').ok_or_else(bad)?;
    let d = cur.decimals() as usize;
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() <= d {
        return Err(bad());
    }
    let kept = format!("{int_part}.{}", &frac[..d]);
    let mut minor = cur.parse_amount(&kept).map_err(|_| bad())?;
    if frac.as_bytes()[d] >= b'5' {
        minor = minor.checked_add(1).ok_or_else(bad)?;
    }
    Ok(Some(if neg { -minor } else { minor }))
}

/// A positive whole quantity (`2`, `"2"`, `2.0`).
pub(crate) fn quantity(v: Option<&Value>, field: &str) -> Result<i64, MapError> {
    let q = match v {
        None | Some(Value::Null) => return Ok(1),
        Some(Value::Number(n)) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e12)
                .map(|f| f as i64)
        }),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match q {
        Some(q) if q > 0 => Ok(q),
        Some(0) => Ok(0),
        _ => Err(MapError::invalid(field, "not a positive whole quantity")),
    }
}

/// A timestamp in any form `parse_timestamp_ms` reads (RFC 3339, JavaScript date strings…);
/// an unreadable one is an error, an absent one `None`.
pub(crate) fn time(v: Option<&Value>, field: &str) -> Result<Option<i64>, MapError> {
    match text(v) {
        None => Ok(None),
        Some(s) => parse_timestamp_ms(&s)
            .map(Some)
            .ok_or_else(|| MapError::invalid(field, format!("{s:?} is not a date"))),
    }
}

pub(crate) fn rfc3339(ms: i64) -> String {
    format_ms(ms)
}

pub(crate) fn bool_of(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => Some(true),
            "0" | "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn array(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

/// Lowercase hex SHA-256.
pub(crate) fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_exact() {
        let v: Value =
            serde_json::from_str(r#"{"a":820982911946154508,"b":"x1","c":1.5,"d":0}"#).unwrap();
        assert_eq!(id(v.get("a"), "a").unwrap().unwrap(), "820982911946154508");
        assert_eq!(id(v.get("b"), "b").unwrap().unwrap(), "x1");
        assert!(id(v.get("c"), "c").is_err());
        assert_eq!(id(v.get("d"), "d").unwrap(), None);
        assert_eq!(id(v.get("zz"), "zz").unwrap(), None);
    }

    #[test]
    fn money_is_exact() {
        let sar = Currency::parse("SAR").unwrap();
        let kwd = Currency::parse("KWD").unwrap();
        let v: Value =
            serde_json::from_str(r#"{"n":175.47,"s":"12.345","i":186,"e":1e21,"big":0.1}"#)
                .unwrap();
        assert_eq!(money(v.get("n"), sar, "n").unwrap(), Some(17547));
        assert_eq!(money(v.get("s"), kwd, "s").unwrap(), Some(12345));
        assert!(money(v.get("s"), sar, "s").is_err());
        assert_eq!(money(v.get("i"), sar, "i").unwrap(), Some(18600));
        assert!(money(v.get("e"), sar, "e").is_err());
        assert_eq!(money(v.get("big"), sar, "big").unwrap(), Some(10));
        assert_eq!(money(None, sar, "x").unwrap(), None);
        let r = json!("114.99999999999999");
        assert_eq!(money_rounded(Some(&r), sar, "r").unwrap(), Some(11500));
        let r = json!("0.00000000000000");
        assert_eq!(money_rounded(Some(&r), kwd, "r").unwrap(), Some(0));
        let r = json!("10.334");
        assert_eq!(money_rounded(Some(&r), sar, "r").unwrap(), Some(1033));
        let r = json!("abc");
        assert!(money_rounded(Some(&r), sar, "r").is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity(Some(&json!(2)), "q").unwrap(), 2);
        assert_eq!(quantity(Some(&json!("3")), "q").unwrap(), 3);
        assert_eq!(quantity(Some(&json!(2.0)), "q").unwrap(), 2);
        assert!(quantity(Some(&json!(2.5)), "q").is_err());
        assert!(quantity(Some(&json!(-1)), "q").is_err());
    }
}
