//! Synthetic bulk CSV files for the import benchmark and load tests.
//!
//! Why hand-rolled formatting: the point is to produce a 1,000,000-customer export and a
//! 5,000,000-line orders file in seconds, so the writer builds rows in a byte buffer with
//! no `format!` on the hot path and flushes in 256 KiB chunks to any [`Write`].
//!
//! Deterministic: every customer's profile is a pure function of `(seed, index)`, so the
//! orders file can reference customers (by `customer_external_id` and email) without the
//! customer list in memory. Ids, emails and phones are unique by construction (they embed
//! the index); phones are valid mobile numbers (`+96650…`, `+97150…`, `+2010…`).
//!
//! The customers file uses the current Shopify export header and its quirks (the Excel
//! guard `'` before some phones, quoted tag lists); the orders file uses
//! [`crate::csv_import::ORDERS_HEADER`], with order-level values repeated on every row for
//! half the orders and on the first row only for the other half.

use crate::csv_import::{ORDERS_HEADER, SHOPIFY_CUSTOMERS_HEADER};
use crate::demo::PRODUCTS;
use crate::rng::SplitMix64;
use std::io::{self, Write};

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthConfig {
    pub seed: u64,
    /// Number of customers (customer external ids are `C1`..`C{customers}`).
    pub customers: u64,
    /// Number of order *lines* (rows) in the orders file.
    pub order_lines: u64,
    /// Orders are placed in the two years before this (ms since the epoch, UTC).
    pub now_ms: i64,
}

const FLUSH_AT: usize = 256 * 1024;
const DAY: i64 = 86_400_000;

const FIRST_AR: &[&str] = &[
    "محمد",
    "أحمد",
    "احمد",
    "نورة",
    "فاطمة",
    "فاطمه",
    "منى",
    "مني",
    "خالد",
    "سارة",
    "عبد الله",
    "ريم",
];
const LAST_AR: &[&str] = &[
    "العتيبي",
    "القحطاني",
    "الزهراء",
    "عبد الله",
    "الحربي",
    "المنصوري",
    "السيد",
    "العجمي",
];
const FIRST_EN: &[&str] = &[
    "John", "Sarah", "Priya", "Omar", "Maria", "Ahmed", "Fatima", "David",
];
const LAST_EN: &[&str] = &[
    "Smith",
    "Khan",
    "Sharma",
    "Hassan",
    "Santos",
    "Al-Otaibi",
    "Nair",
    "Brown",
];
const LATIN: &[&str] = &[
    "mohammed", "ahmed", "noura", "fatima", "mona", "khalid", "sara", "reem", "user",
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "hotmail.com",
    "outlook.sa",
    "yahoo.com",
    "icloud.com",
];
const TAGS: &[&str] = &[
    "",
    "",
    "",
    "vip",
    "\"vip, wholesale\"",
    "newsletter",
    "ramadan",
];
const NOTES: &[&str] = &[
    "",
    "",
    "",
    "",
    "",
    "",
    "يفضل التواصل واتساب",
    "\"Prefers evening delivery, no calls\"",
];

/// (country, currency, decimals, SAR→local rate, city, province, phone prefix, national digits after it)
type CountryRow = (
    &'static str,
    &'static str,
    u32,
    f64,
    &'static str,
    &'static str,
    &'static str,
    u32,
);
const COUNTRIES: &[CountryRow] = &[
    ("SA", "SAR", 2, 1.0, "الرياض", "RI", "+96650", 7),
    ("SA", "SAR", 2, 1.0, "Jeddah", "MK", "+96655", 7),
    ("SA", "SAR", 2, 1.0, "الدمام", "SH", "+96656", 7),
    ("AE", "AED", 2, 0.98, "Dubai", "DU", "+97150", 7),
    ("EG", "EGP", 2, 13.0, "القاهرة", "C", "+2010", 8),
    ("KW", "KWD", 3, 0.082, "Kuwait City", "KU", "", 0),
];
const COUNTRY_WEIGHTS: &[u64] = &[30, 20, 10, 15, 15, 10];

const STATUSES: &[(&str, u64)] = &[
    ("delivered", 55),
    ("paid", 10),
    ("shipped", 8),
    ("placed", 8),
    ("fulfilled", 5),
    ("cancelled", 6),
    ("returned", 4),
    ("refunded", 4),
];
const PAYMENTS: &[&str] = &[
    "cod",
    "mada",
    "visa",
    "apple_pay",
    "stc_pay",
    "tabby",
    "tamara",
    "cod",
    "mada",
    "bank_transfer",
];
const REASONS: &[&str] = &[
    "damaged",
    "wrong_item",
    "size_or_fit",
    "changed_mind",
    "Damaged box",
];

/// A customer's profile, recomputed from `(seed, index)` wherever it is needed.
struct Profile {
    country: usize,
    arabic: bool,
    first: usize,
    last: usize,
    latin: usize,
    domain: usize,
    has_email: bool,
    has_phone: bool,
}

fn profile(seed: u64, i: u64) -> Profile {
    let mut r = SplitMix64::new(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let w = r.below(100);
    let mut acc = 0;
    let mut country = 0;
    for (k, cw) in COUNTRY_WEIGHTS.iter().enumerate() {
        acc += cw;
        if w < acc {
            country = k;
            break;
        }
    }
    let arabic = r.below(100) < 80;
    let (nf, nl) = if arabic {
        (FIRST_AR.len(), LAST_AR.len())
    } else {
        (FIRST_EN.len(), LAST_EN.len())
    };
    let first = r.below(nf as u64) as usize;
    let last = r.below(nl as u64) as usize;
    let latin = r.below(LATIN.len() as u64) as usize;
    let domain = r.below(DOMAINS.len() as u64) as usize;
    // Kuwaiti customers get no generated phone (8-digit plan); they always have an email.
    let has_phone = COUNTRIES[country].7 > 0 && r.below(100) < 90;
    let has_email = !has_phone || r.below(100) < 85;
    Profile {
        country,
        arabic,
        first,
        last,
        latin,
        domain,
        has_email,
        has_phone,
    }
}

impl Profile {
    fn first(&self) -> &'static str {
        if self.arabic {
            FIRST_AR[self.first]
        } else {
            FIRST_EN[self.first]
        }
    }
    fn last(&self) -> &'static str {
        if self.arabic {
            LAST_AR[self.last]
        } else {
            LAST_EN[self.last]
        }
    }
    /// `{latin}.{i}@{domain}`: unique because it embeds the index.
    fn push_email(&self, buf: &mut Vec<u8>, i: u64) {
        buf.extend_from_slice(LATIN[self.latin].as_bytes());
        buf.push(b'.');
        push_u64(buf, i);
        buf.push(b'@');
        buf.extend_from_slice(DOMAINS[self.domain].as_bytes());
    }
}

fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut k = tmp.len();
    loop {
        k -= 1;
        tmp[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[k..]);
}

fn push_padded(buf: &mut Vec<u8>, n: u64, width: u32) {
    let mut d = 10u64.pow(width.saturating_sub(1));
    while d > 0 {
        buf.push(b'0' + ((n / d) % 10) as u8);
        d /= 10;
    }
}

/// `minor` (≥ 0) as a decimal with `decimals` places.
fn push_amount(buf: &mut Vec<u8>, minor: u64, decimals: u32) {
    if decimals == 0 {
        return push_u64(buf, minor);
    }
    let scale = 10u64.pow(decimals);
    push_u64(buf, minor / scale);
    buf.push(b'.');
    push_padded(buf, minor % scale, decimals);
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) from ms since the epoch.
fn push_datetime(buf: &mut Vec<u8>, ms: i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    push_padded(buf, y.max(0) as u64, 4);
    buf.push(b'-');
    push_padded(buf, m as u64, 2);
    buf.push(b'-');
    push_padded(buf, d as u64, 2);
    buf.push(b' ');
    push_padded(buf, sod / 3600, 2);
    buf.push(b':');
    push_padded(buf, sod / 60 % 60, 2);
    buf.push(b':');
    push_padded(buf, sod % 60, 2);
}

fn push_phone(buf: &mut Vec<u8>, p: &Profile, i: u64, excel_guard: bool) {
    let (_, _, _, _, _, _, prefix, digits) = COUNTRIES[p.country];
    if excel_guard {
        buf.push(b'\'');
    }
    buf.extend_from_slice(prefix.as_bytes());
    push_padded(buf, i % 10u64.pow(digits), digits);
}

fn flush<W: Write>(buf: &mut Vec<u8>, out: &mut W) -> io::Result<()> {
    out.write_all(buf)?;
    buf.clear();
    Ok(())
}

/// Write `cfg.customers` customers as a Shopify customer export. Returns the rows written.
///
/// Phones are unique for up to 10,000,000 customers (they embed the index).
pub fn write_customers<W: Write>(cfg: &SynthConfig, mut out: W) -> io::Result<u64> {
    let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
    buf.extend_from_slice(SHOPIFY_CUSTOMERS_HEADER.join(",").as_bytes());
    buf.extend_from_slice(b"\r\n");
    let mut r = SplitMix64::new(cfg.seed);
    for i in 1..=cfg.customers {
        let p = profile(cfg.seed, i);
        let (code, _, _, _, city, province, _, _) = COUNTRIES[p.country];
        let x = r.next_u64();
        // Customer ID
        push_u64(&mut buf, 7_000_000_000 + i);
        buf.push(b',');
        buf.extend_from_slice(p.first().as_bytes());
        buf.push(b',');
        buf.extend_from_slice(p.last().as_bytes());
        buf.push(b',');
        if p.has_email {
            p.push_email(&mut buf, i);
        }
        buf.push(b',');
        buf.extend_from_slice(if x & 1 == 0 { b"yes" } else { b"no" });
        // Company, Address1, Address2
        buf.extend_from_slice(if x.is_multiple_of(97) {
            b",Gulf Trading Est."
        } else {
            b","
        });
        buf.extend_from_slice(b",Street ");
        push_u64(&mut buf, (x >> 8) % 400 + 1);
        buf.extend_from_slice(b",,");
        buf.extend_from_slice(city.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(province.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(code.as_bytes());
        buf.extend_from_slice(b",'");
        push_padded(&mut buf, (x >> 16) % 100_000, 5);
        // Default Address Phone (empty), Phone
        buf.extend_from_slice(b",,");
        if p.has_phone {
            push_phone(&mut buf, &p, i, (x >> 20) & 3 == 0);
        }
        buf.push(b',');
        buf.extend_from_slice(if (x >> 1) & 3 == 0 { b"yes" } else { b"no" });
        buf.push(b',');
        let orders = (x >> 24) % 6;
        push_amount(&mut buf, orders * ((x >> 32) % 40_000), 2);
        buf.push(b',');
        push_u64(&mut buf, orders);
        buf.push(b',');
        buf.extend_from_slice(NOTES[((x >> 40) % NOTES.len() as u64) as usize].as_bytes());
        buf.extend_from_slice(b",no,");
        buf.extend_from_slice(TAGS[((x >> 48) % TAGS.len() as u64) as usize].as_bytes());
        buf.extend_from_slice(b"\r\n");
        if buf.len() >= FLUSH_AT {
            flush(&mut buf, &mut out)?;
        }
    }
    flush(&mut buf, &mut out)?;
    out.flush()?;
    Ok(cfg.customers)
}

/// Write `cfg.order_lines` rows of the generic orders CSV (orders of 1–4 lines, each for an
/// existing customer of [`write_customers`] with the same config). Returns the rows written.
pub fn write_orders<W: Write>(cfg: &SynthConfig, mut out: W) -> io::Result<u64> {
    let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
    buf.extend_from_slice(ORDERS_HEADER.join(",").as_bytes());
    buf.push(b'\n');
    // Titles quoted once if they need it ("Finjan Cups, Set of 12").
    let quote = |s: &str| {
        if s.contains(',') {
            format!("\"{s}\"")
        } else {
            s.to_owned()
        }
    };
    // (sku, English title, Arabic title, SAR price in whole riyals)
    let products: Vec<(String, String, String, i64)> = PRODUCTS
        .iter()
        .flat_map(|(_, prefix, items)| {
            items
                .iter()
                .enumerate()
                .map(move |(k, (en, ar, sar))| (format!("{prefix}-{:03}", k + 1), *en, *ar, *sar))
        })
        .map(|(sku, en, ar, sar)| (sku, quote(en), quote(ar), sar))
        .collect();
    let mut r = SplitMix64::new(cfg.seed ^ 0x4f52_4445_5253);
    let status_total: u64 = STATUSES.iter().map(|s| s.1).sum();
    let mut written = 0u64;
    let mut order = 0u64;
    let mut lines: [(usize, u64, u64); 4] = [(0, 0, 0); 4];
    while written < cfg.order_lines {
        order += 1;
        let n = ((r.below(4) + 1).min(cfg.order_lines - written)) as usize;
        let c = r.below(cfg.customers.max(1)) + 1;
        let p = profile(cfg.seed, c);
        let (_, currency, decimals, rate, city, _, _, _) = COUNTRIES[p.country];
        let placed = cfg.now_ms - r.range(0, 730 * DAY);
        let mut w = r.below(status_total);
        let mut status = STATUSES[0].0;
        for (s, sw) in STATUSES {
            if w < *sw {
                status = s;
                break;
            }
            w -= sw;
        }
        let mut subtotal = 0u64;
        for line in lines.iter_mut().take(n) {
            let prod = r.below(products.len() as u64) as usize;
            let qty = [1, 1, 1, 2, 3][r.below(5) as usize];
            let sar = products[prod].3 as f64;
            let step = if decimals == 3 { 50.0 } else { 100.0 };
            let local =
                ((sar * rate * 10f64.powi(decimals as i32) / step).round() * step).max(step) as u64;
            *line = (prod, qty, local);
            subtotal += qty * local;
        }
        let shipping = if subtotal > 20_000 {
            0
        } else {
            25 * 10u64.pow(decimals) / if decimals == 3 { 20 } else { 1 }
        };
        let total = subtotal + shipping;
        let repeat = order & 1 == 0;
        let payment = PAYMENTS[r.below(PAYMENTS.len() as u64) as usize];
        let reason = REASONS[r.below(REASONS.len() as u64) as usize];
        for (k, &(prod, qty, price)) in lines.iter().take(n).enumerate() {
            let head = k == 0 || repeat;
            buf.push(b'O');
            push_u64(&mut buf, order);
            buf.push(b',');
            if head {
                buf.push(b'#');
                push_u64(&mut buf, 100_000 + order);
                buf.push(b',');
                push_datetime(&mut buf, placed);
                buf.push(b',');
                buf.extend_from_slice(status.as_bytes());
                buf.push(b',');
                buf.extend_from_slice(payment.as_bytes());
                buf.push(b',');
                buf.extend_from_slice(currency.as_bytes());
                buf.push(b',');
                push_u64(&mut buf, 7_000_000_000 + c);
                buf.push(b',');
                if p.has_email {
                    p.push_email(&mut buf, c);
                }
                buf.extend_from_slice(b",,");
                buf.extend_from_slice(p.first().as_bytes());
                buf.push(b',');
                buf.extend_from_slice(p.last().as_bytes());
                buf.push(b',');
                buf.extend_from_slice(city.as_bytes());
            } else {
                buf.extend_from_slice(b",,,,,,,,,,");
            }
            let (sku, en, ar, _) = &products[prod];
            buf.push(b',');
            buf.extend_from_slice(sku.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(if p.arabic {
                ar.as_bytes()
            } else {
                en.as_bytes()
            });
            buf.push(b',');
            push_u64(&mut buf, qty);
            buf.push(b',');
            push_amount(&mut buf, price, decimals);
            if head {
                // discount, shipping, tax, total, refunded, return_reason
                buf.extend_from_slice(b",0,");
                push_amount(&mut buf, shipping, decimals);
                buf.extend_from_slice(b",0,");
                push_amount(&mut buf, total, decimals);
                buf.push(b',');
                match status {
                    "refunded" => push_amount(&mut buf, total, decimals),
                    _ => buf.push(b'0'),
                }
                buf.push(b',');
                if status == "returned" || status == "refunded" {
                    buf.extend_from_slice(reason.as_bytes());
                }
            } else {
                buf.extend_from_slice(b",,,,,,");
            }
            buf.push(b'\n');
        }
        written += n as u64;
        if buf.len() >= FLUSH_AT {
            flush(&mut buf, &mut out)?;
        }
    }
    flush(&mut buf, &mut out)?;
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_dates() {
        let mut b = Vec::new();
        push_amount(&mut b, 12_345, 3);
        b.push(b' ');
        push_amount(&mut b, 5, 2);
        b.push(b' ');
        push_datetime(&mut b, 1_709_636_400_000);
        b.push(b' ');
        push_datetime(&mut b, 951_782_400_000); // 2000-02-29
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "12.345 0.05 2024-03-05 11:00:00 2000-02-29 00:00:00"
        );
        let cases = [0i64, 1, 86_399_999, 1_763_800_000_123, 4_102_444_800_000];
        for ms in cases {
            let mut b = Vec::new();
            push_datetime(&mut b, ms);
            let s = String::from_utf8(b).unwrap();
            assert_eq!(
                wafa_domain::time::parse_timestamp_ms(&s),
                Some(ms - ms % 1000),
                "{s}"
            );
        }
    }

    #[test]
    fn small_files_are_deterministic() {
        let cfg = SynthConfig {
            seed: 1,
            customers: 50,
            order_lines: 120,
            now_ms: 1_763_800_000_000,
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_customers(&cfg, &mut a).unwrap();
        write_customers(&cfg, &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.iter().filter(|c| **c == b'\n').count(), 51);
        let mut o = Vec::new();
        assert_eq!(write_orders(&cfg, &mut o).unwrap(), 120);
        assert_eq!(o.iter().filter(|c| **c == b'\n').count(), 121);
    }
}
