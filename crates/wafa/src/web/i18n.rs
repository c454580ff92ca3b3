//! The console's languages: translation tables and locale-aware formatting of numbers,
//! money, percentages and dates (Gregorian with Arabic month names, and the Hijri date).
//!
//! Every word the console shows comes from `locales/{en,ar}.json`; templates only hold keys.
//! Arabic numbers use Arabic-Indic digits with the Arabic separators (CLDR `ar`), while
//! identifiers (phones, emails, order numbers) stay in Latin digits inside `<bdi>`.

use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ar,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().get(..2) {
            Some("ar") => Some(Lang::Ar),
            Some("en") => Some(Lang::En),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
        }
    }
    pub fn dir(self) -> &'static str {
        match self {
            Lang::Ar => "rtl",
            Lang::En => "ltr",
        }
    }
    /// The first supported language of an `Accept-Language` header, by its q-values.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(l) = Lang::parse(tag) {
                if q > 0.0 && best.map(|(bq, _)| q > bq).unwrap_or(true) {
                    best = Some((q, l));
                }
            }
        }
        best.map(|(_, l)| l)
    }
}

type Table = HashMap<String, String>;

fn load(json: &str) -> Table {
    // The tables are compiled in; a broken file is a build-time bug caught by the tests.
    serde_json::from_str(json).unwrap_or_default()
}

static EN: LazyLock<Table> = LazyLock::new(|| load(include_str!("locales/en.json")));
static AR: LazyLock<Table> = LazyLock::new(|| load(include_str!("locales/ar.json")));

pub fn table(lang: Lang) -> &'static Table {
    match lang {
        Lang::Ar => &AR,
        Lang::En => &EN,
    }
}

/// The text for `key`; falls back to English, then to the key itself (visible, never empty).
pub fn t(lang: Lang, key: &str) -> String {
    table(lang)
        .get(key)
        .or_else(|| EN.get(key))
        .cloned()
        .unwrap_or_else(|| key.to_owned())
}

/// `t` with `{name}` placeholders filled.
pub fn t_with(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let mut s = t(lang, key);
    for (k, v) in args {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

fn localize_digits(s: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        match c {
            '0'..='9' => {
                out.push(char::from_u32('٠' as u32 + (c as u32 - '0' as u32)).unwrap_or(c))
            }
            ',' => out.push('٬'),
            '.' => out.push('٫'),
            '%' => out.push('٪'),
            // The Arabic letter mark keeps a minus sign on the number's right side.
            '-' => out.push_str("\u{061C}-"),
            _ => out.push(c),
        }
    }
    out
}

fn group(int_part: &str) -> String {
    let bytes: Vec<char> = int_part.chars().collect();
    let mut out = String::new();
    for (i, c) in bytes.iter().enumerate() {
        let from_end = bytes.len() - i;
        if i > 0 && from_end.is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    out
}

/// An integer with thousands separators in the locale's digits.
pub fn int(n: i64, lang: Lang) -> String {
    let s = group(&n.unsigned_abs().to_string());
    localize_digits(&if n < 0 { format!("-{s}") } else { s }, lang)
}

/// A decimal with `places` fraction digits.
pub fn decimal(x: f64, places: usize, lang: Lang) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    // Half away from zero (12.5 → 13), as people round; `format!` alone rounds half to even.
    let factor = 10f64.powi(places as i32);
    let s = format!("{:.*}", places, (x.abs() * factor).round() / factor);
    let (i, f) = s.split_once('.').unwrap_or((&s, ""));
    let mut out = group(i);
    if !f.is_empty() {
        out.push('.');
        out.push_str(f);
    }
    if x < 0.0 && x.abs() >= 0.5 * 10f64.powi(-(places as i32)) {
        out.insert(0, '-');
    }
    localize_digits(&out, lang)
}

/// A fraction (0.125) as a percentage ("12.5%").
pub fn percent(x: f64, lang: Lang) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let p = x * 100.0;
    let places = if p.abs() >= 10.0 || p == 0.0 { 0 } else { 1 };
    localize_digits(&format!("{}%", decimal(p, places, Lang::En)), lang)
}

fn currency_symbol(code: &str, lang: Lang) -> String {
    let ar = match code {
        "SAR" => "ر.س",
        "AED" => "د.إ",
        "KWD" => "د.ك",
        "BHD" => "د.ب",
        "OMR" => "ر.ع",
        "QAR" => "ر.ق",
        "EGP" => "ج.م",
        "JOD" => "د.أ",
        "IQD" => "د.ع",
        "LBP" => "ل.ل",
        "MAD" => "د.م",
        "TND" => "د.ت",
        "DZD" => "د.ج",
        "USD" => "$",
        _ => code,
    };
    match lang {
        Lang::Ar => ar.to_owned(),
        Lang::En => code.to_owned(),
    }
}

/// Integer minor units as money in the locale: "SAR 1,234.50" / "١٬٢٣٤٫٥٠ ر.س".
/// KWD/BHD/OMR/JOD show three decimals, as their minor units are thousandths.
pub fn money(minor: i64, currency: &str, lang: Lang) -> String {
    let decimals = wafa_domain::Currency::parse(currency)
        .map(|c| c.decimals() as u32)
        .unwrap_or(2);
    let scale = 10i64.pow(decimals);
    let abs = minor.unsigned_abs();
    let whole = group(&(abs / scale as u64).to_string());
    let mut s = whole;
    if decimals > 0 {
        s.push('.');
        s.push_str(&format!(
            "{:0width$}",
            abs % scale as u64,
            width = decimals as usize
        ));
    }
    if minor < 0 {
        s.insert(0, '-');
    }
    let sym = currency_symbol(currency, lang);
    match lang {
        Lang::En => format!("{sym}\u{a0}{s}"),
        Lang::Ar => format!("{}\u{a0}{sym}", localize_digits(&s, lang)),
    }
}

/// Compact money for chart axes: "12.5K" style, locale digits.
pub fn compact(x: f64, lang: Lang) -> String {
    let (v, suffix) = if x.abs() >= 1e6 {
        (x / 1e6, t(lang, "unit.million"))
    } else if x.abs() >= 1e3 {
        (x / 1e3, t(lang, "unit.thousand"))
    } else {
        (x, String::new())
    };
    let places = if v.abs() < 10.0 && v.fract().abs() > 0.05 {
        1
    } else {
        0
    };
    format!("{}{suffix}", decimal(v, places, lang))
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_AR: [&str; 12] = [
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
];
const HIJRI_MONTHS: [&str; 12] = [
    "محرم",
    "صفر",
    "ربيع الأول",
    "ربيع الآخر",
    "جمادى الأولى",
    "جمادى الآخرة",
    "رجب",
    "شعبان",
    "رمضان",
    "شوال",
    "ذو القعدة",
    "ذو الحجة",
];
const HIJRI_MONTHS_EN: [&str; 12] = [
    "Muharram",
    "Safar",
    "Rabi I",
    "Rabi II",
    "Jumada I",
    "Jumada II",
    "Rajab",
    "Sha'ban",
    "Ramadan",
    "Shawwal",
    "Dhu al-Qa'dah",
    "Dhu al-Hijjah",
];

pub fn month_name(month: i8, lang: Lang) -> &'static str {
    let i = (month.clamp(1, 12) - 1) as usize;
    match lang {
        Lang::Ar => MONTHS_AR[i],
        Lang::En => MONTHS_EN[i],
    }
}

/// A UTC instant in the workspace's time zone (unknown zones fall back to UTC).
pub fn zoned(ms: i64, tz: &str) -> Option<jiff::Zoned> {
    let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    Some(ts.to_zoned(zone))
}

pub fn date(ms: i64, tz: &str, lang: Lang) -> String {
    let Some(z) = zoned(ms, tz) else {
        return "—".into();
    };
    let s = format!("{} {} {}", z.day(), month_name(z.month(), lang), z.year());
    localize_digits(&s, lang)
}

pub fn datetime(ms: i64, tz: &str, lang: Lang) -> String {
    let Some(z) = zoned(ms, tz) else {
        return "—".into();
    };
    let s = format!(
        "{} {} {}، {:02}:{:02}",
        z.day(),
        month_name(z.month(), lang),
        z.year(),
        z.hour(),
        z.minute()
    );
    let s = if lang == Lang::En {
        s.replace('،', ",")
    } else {
        s
    };
    localize_digits(&s, lang)
}

/// The tabular Islamic (civil) calendar date of a Gregorian date: within a day or two of the
/// Umm al-Qura calendar Saudi Arabia uses, which is close enough to place a date in Ramadan
/// or Dhu al-Hijjah at a glance (the console labels it approximate).
pub fn hijri_of(year: i32, month: i32, day: i32) -> (i32, i32, i32) {
    // Julian day number of the Gregorian date.
    let a = (14 - month) / 12;
    let y = year + 4800 - a;
    let m = month + 12 * a - 3;
    let jd = day + (153 * m + 2) / 5 + 365 * y + y / 4 - y / 100 + y / 400 - 32045;
    // Civil Islamic calendar from the JDN (epoch 16 July 622, JDN 1948440).
    let l = jd - 1948440 + 10632;
    let n = (l - 1) / 10631;
    let l = l - 10631 * n + 354;
    let j = ((10985 - l) / 5316) * ((50 * l) / 17719) + (l / 5670) * ((43 * l) / 15238);
    let l = l - ((30 - j) / 15) * ((17719 * j) / 50) - (j / 16) * ((15238 * j) / 43) + 29;
    let hm = (24 * l) / 709;
    let hd = l - (709 * hm) / 24;
    let hy = 30 * n + j - 30;
    (hy, hm, hd)
}

pub fn hijri(ms: i64, tz: &str, lang: Lang) -> String {
    let Some(z) = zoned(ms, tz) else {
        return String::new();
    };
    let (y, m, d) = hijri_of(z.year() as i32, z.month() as i32, z.day() as i32);
    let i = (m.clamp(1, 12) - 1) as usize;
    match lang {
        Lang::Ar => localize_digits(&format!("{d} {} {y} هـ", HIJRI_MONTHS[i]), lang),
        Lang::En => format!("{d} {} {y} AH", HIJRI_MONTHS_EN[i]),
    }
}

/// Parse an RFC 3339 instant (the API's wire format) to UTC milliseconds.
pub fn parse_instant(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_the_same_keys() {
        let en: std::collections::BTreeSet<_> = EN.keys().collect();
        let ar: std::collections::BTreeSet<_> = AR.keys().collect();
        assert!(en.len() > 100, "English table loaded ({} keys)", en.len());
        let missing_ar: Vec<_> = en.difference(&ar).collect();
        let missing_en: Vec<_> = ar.difference(&en).collect();
        assert!(missing_ar.is_empty(), "missing in ar.json: {missing_ar:?}");
        assert!(missing_en.is_empty(), "missing in en.json: {missing_en:?}");
    }

    #[test]
    fn numbers_and_money() {
        assert_eq!(int(1234567, Lang::En), "1,234,567");
        assert_eq!(int(1234567, Lang::Ar), "١٬٢٣٤٬٥٦٧");
        assert_eq!(money(123450, "SAR", Lang::En), "SAR\u{a0}1,234.50");
        assert_eq!(money(123450, "SAR", Lang::Ar), "١٬٢٣٤٫٥٠\u{a0}ر.س");
        assert_eq!(money(1500, "KWD", Lang::En), "KWD\u{a0}1.500");
        assert_eq!(money(-250, "AED", Lang::En), "AED\u{a0}-2.50");
        assert_eq!(percent(0.125, Lang::En), "13%");
        assert_eq!(percent(0.0125, Lang::En), "1.3%");
        assert_eq!(percent(0.5, Lang::Ar), "٥٠٪");
    }

    #[test]
    fn accept_language() {
        assert_eq!(
            Lang::from_accept_language("ar-SA,ar;q=0.9,en;q=0.8"),
            Some(Lang::Ar)
        );
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,ar;q=0.5"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("fr-FR"), None);
        assert_eq!(Lang::from_accept_language("fr,ar;q=0.3"), Some(Lang::Ar));
    }

    #[test]
    fn dates_in_both_languages_and_hijri() {
        // 2026-11-22T12:00:00Z
        let ms = 1_795_348_800_000;
        assert_eq!(date(ms, "Asia/Riyadh", Lang::En), "22 Nov 2026");
        assert_eq!(date(ms, "Asia/Riyadh", Lang::Ar), "٢٢ نوفمبر ٢٠٢٦");
        // 1 Ramadan 1447 ≈ 18/19 February 2026 (Umm al-Qura: 18 Feb).
        let (y, m, d) = hijri_of(2026, 2, 19);
        assert_eq!((y, m), (1447, 9));
        assert!((1..=2).contains(&d), "day {d}");
        // Unknown zone: UTC, not a panic.
        assert_eq!(date(ms, "Mars/Olympus", Lang::En), "22 Nov 2026");
    }
}
