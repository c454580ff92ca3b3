//! Money helpers: currency minor-unit exponents, exact decimal parsing, display.
//!
//! Amounts are integer minor units (i64) everywhere; parsing never goes through floats, so
//! "19.99" is exactly 1999 halalas/cents.

/// Number of minor-unit digits of an ISO 4217 currency (2 unless known otherwise).
pub fn currency_exponent(code: &str) -> u32 {
    match code.to_ascii_uppercase().as_str() {
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "XAF" | "XOF" | "DJF" | "KMF" | "RWF"
        | "PYG" => 0,
        _ => 2,
    }
}

/// Parse a decimal amount into minor units exactly.
///
/// Accepts an optional sign, ASCII or Arabic-Indic/Persian digits, '.' or the Arabic decimal
/// separator '٫' as decimal point, thousands separators (',' when a '.' is also present or when
/// every group after a ',' has 3 digits, '٬', '_', spaces) and surrounding currency symbols or
/// codes ("SAR 12.50", "$12.50", "12.50 ر.س" are fine). More fractional digits than the currency
/// has are accepted only if the extra digits are zeros.
pub fn parse_amount_minor(raw: &str, exponent: u32) -> Result<i64, String> {
    // Normalise digits and separators.
    let mut s = String::with_capacity(raw.len());
    for ch in raw.trim().chars() {
        let mapped = match ch {
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (ch as u32 - 0x0660) as u8),
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (ch as u32 - 0x06F0) as u8),
            '\u{066B}' => '.',
            '\u{066C}' | '_' | ' ' | '\u{00A0}' | '\u{202F}' => continue,
            c => c,
        };
        s.push(mapped);
    }
    // Strip currency symbols/codes around the number.
    let is_num = |c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | ',');
    let start = s
        .find(is_num)
        .ok_or_else(|| format!("'{raw}' is not an amount"))?;
    let end = s
        .rfind(|c: char| c.is_ascii_digit())
        .map(|i| i + 1)
        .unwrap_or(start);
    let mut core = s[start..end.max(start)].to_string();
    let negative = core.starts_with('-');
    if core.starts_with('-') || core.starts_with('+') {
        core.remove(0);
    }
    if core.contains(',') {
        let thousands = core.contains('.')
            || core
                .split(',')
                .skip(1)
                .all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
        core = if thousands {
            core.replace(',', "")
        } else {
            core.replace(',', ".")
        };
    }
    let (int_part, frac_part) = match core.split_once('.') {
        Some((i, f)) => (i, f),
        None => (core.as_str(), ""),
    };
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("'{raw}' is not an amount"));
    }
    let exp = exponent as usize;
    let (kept, extra) = if frac_part.len() > exp {
        frac_part.split_at(exp)
    } else {
        (frac_part, "")
    };
    if extra.bytes().any(|b| b != b'0') {
        return Err(format!(
            "'{raw}' has more than {exponent} decimal places for this currency"
        ));
    }
    let mut value: i64 = 0;
    let overflow = || format!("'{raw}' is too large");
    for b in int_part.bytes().chain(kept.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as i64))
            .ok_or_else(overflow)?;
    }
    for _ in kept.len()..exp {
        value = value.checked_mul(10).ok_or_else(overflow)?;
    }
    Ok(if negative { -value } else { value })
}

/// "1234.50" for 123450 minor units with exponent 2 (exact, no floats).
pub fn format_decimal(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{abs}");
    }
    let div = 10u64.pow(exponent.min(18));
    format!(
        "{sign}{}.{:0width$}",
        abs / div,
        abs % div,
        width = exponent.min(18) as usize
    )
}

/// "1234.50 SAR" for 123450 minor units of a 2-decimal currency.
pub fn format_money(minor: i64, currency: &str) -> String {
    format!(
        "{} {currency}",
        format_decimal(minor, currency_exponent(currency))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amounts_exactly() {
        assert_eq!(parse_amount_minor("19.99", 2), Ok(1999));
        assert_eq!(parse_amount_minor("0.1", 2), Ok(10));
        assert_eq!(parse_amount_minor("-5", 2), Ok(-500));
        assert_eq!(parse_amount_minor("1,234.50", 2), Ok(123_450));
        assert_eq!(parse_amount_minor("1,234", 2), Ok(123_400));
        assert_eq!(parse_amount_minor("12,5", 2), Ok(1250));
        assert_eq!(parse_amount_minor("SAR 12.50", 2), Ok(1250));
        assert_eq!(parse_amount_minor("١٢٣٫٤٥ ر.س", 2), Ok(12_345));
        assert_eq!(parse_amount_minor("1.250", 3), Ok(1250));
        assert_eq!(parse_amount_minor("2.500", 2), Ok(250));
        assert!(parse_amount_minor("2.505", 2).is_err());
        assert!(parse_amount_minor("abc", 2).is_err());
        assert!(parse_amount_minor("", 2).is_err());
        assert!(parse_amount_minor("99999999999999999999", 2).is_err());
        assert_eq!(format_money(123_450, "SAR"), "1234.50 SAR");
        assert_eq!(format_money(-5, "KWD"), "-0.005 KWD");
    }
}
