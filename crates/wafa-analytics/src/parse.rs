//! Input parsing for reports: CSV with a header (columns found by name or explicit mapping) or
//! the raw CDNOW whitespace format (`id YYYYMMDD n_cds amount`, or the sample's 5-column
//! `id sample_id YYYYMMDD n_cds amount`). Bad rows are collected with their line numbers and
//! skipped; parsing never panics.

use crate::money::parse_amount_minor;
use crate::summary::Transaction;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    #[default]
    Auto,
    Csv,
    Cdnow,
}

impl FromStr for InputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(InputFormat::Auto),
            "csv" => Ok(InputFormat::Csv),
            "cdnow" => Ok(InputFormat::Cdnow),
            other => Err(format!(
                "unknown format '{other}' (expected auto, csv or cdnow)"
            )),
        }
    }
}

/// Which CSV columns hold the customer, date and amount. `None` = detect by common names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMapping {
    pub customer: Option<String>,
    pub date: Option<String>,
    pub amount: Option<String>,
}

impl FromStr for ColumnMapping {
    type Err = String;
    /// `customer=email,date=created_at,amount=total` (any subset, any order).
    fn from_str(spec: &str) -> Result<Self, String> {
        let mut m = ColumnMapping::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' is not key=column"))?;
            let value = Some(value.trim().to_string());
            match key.trim().to_ascii_lowercase().as_str() {
                "customer" | "customer_id" | "id" => m.customer = value,
                "date" => m.date = value,
                "amount" | "value" | "total" => m.amount = value,
                other => {
                    return Err(format!(
                        "unknown column key '{other}' (expected customer, date, amount)"
                    ))
                }
            }
        }
        Ok(m)
    }
}

/// A row that could not be used. `line` is the 1-based line number in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedLog {
    pub transactions: Vec<Transaction>,
    pub errors: Vec<RowError>,
    /// The format actually used (never `Auto`).
    pub format: InputFormat,
    /// Data rows seen (header excluded).
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("could not read input: {0}")]
    Io(String),
    #[error("input is empty")]
    Empty,
    #[error("no {role} column: give it with --columns {role}=NAME (columns found: {available})")]
    MissingColumn {
        role: &'static str,
        available: String,
    },
    #[error("could not read the CSV header: {0}")]
    BadHeader(String),
}

/// Parse a date written as YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, or an ISO date-time (the date part
/// is taken as written; no time-zone conversion). Arabic-Indic digits are accepted.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let mut digits = [0u32; 8];
    let mut n = 0;
    let mut seps = 0;
    for (i, ch) in raw.trim().chars().enumerate() {
        let d = match ch {
            '0'..='9' => Some(ch as u32 - '0' as u32),
            '\u{0660}'..='\u{0669}' => Some(ch as u32 - 0x0660),
            '\u{06F0}'..='\u{06F9}' => Some(ch as u32 - 0x06F0),
            _ => None,
        };
        match d {
            Some(d) => {
                if n == 8 {
                    return None;
                }
                digits[n] = d;
                n += 1;
            }
            None => {
                let is_sep = matches!(ch, '-' | '/' | '.');
                if is_sep && (n == 4 || n == 6) && seps < 2 && i > 0 {
                    seps += 1;
                    continue;
                }
                // Start of a time part ('T' or ' ') after a complete date.
                if n == 8 && (seps == 2 || seps == 0) && matches!(ch, 'T' | 't' | ' ') {
                    break;
                }
                return None;
            }
        }
    }
    if n != 8 || (seps != 0 && seps != 2) {
        return None;
    }
    let num = |a: usize, b: usize| digits[a..b].iter().fold(0u32, |acc, d| acc * 10 + d);
    NaiveDate::from_ymd_opt(num(0, 4) as i32, num(4, 6), num(6, 8))
}

const CUSTOMER_NAMES: &[&str] = &[
    "customer_id",
    "customer",
    "customerid",
    "customer id",
    "client_id",
    "user_id",
    "customer_email",
    "email",
    "phone",
    "mobile",
    "id",
    "رقم العميل",
    "العميل",
    "البريد الإلكتروني",
    "الجوال",
    "رقم الجوال",
];
const DATE_NAMES: &[&str] = &[
    "date",
    "order_date",
    "order date",
    "created_at",
    "created",
    "processed_at",
    "paid_at",
    "purchased_at",
    "timestamp",
    "datetime",
    "تاريخ الطلب",
    "التاريخ",
];
const AMOUNT_NAMES: &[&str] = &[
    "amount",
    "total",
    "total_price",
    "order_total",
    "grand_total",
    "revenue",
    "value",
    "dollar_value",
    "sales",
    "price",
    "subtotal",
    "الإجمالي",
    "المبلغ",
    "المجموع",
    "القيمة",
];

/// Parse transactions from `input` (amounts into minor units with `currency_exponent` digits).
pub fn parse_transactions<R: Read>(
    mut input: R,
    format: InputFormat,
    columns: &ColumnMapping,
    currency_exponent: u32,
) -> Result<ParsedLog, ParseError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| ParseError::Io(e.to_string()))?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let first_line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .ok_or(ParseError::Empty)?;
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first_line.bytes().filter(|b| b == d).count())
        .filter(|d| first_line.bytes().any(|b| b == *d));
    let format = match format {
        InputFormat::Auto if delimiter.is_some() => InputFormat::Csv,
        InputFormat::Auto => InputFormat::Cdnow,
        f => f,
    };
    match format {
        InputFormat::Cdnow => Ok(parse_cdnow(text, currency_exponent)),
        _ => parse_csv(text, delimiter.unwrap_or(b','), columns, currency_exponent),
    }
}

fn parse_cdnow(text: &str, exponent: u32) -> ParsedLog {
    let mut transactions = Vec::new();
    let mut errors = Vec::new();
    let mut rows = 0u64;
    let mut seen_data = false;
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let line_no = i as u64 + 1;
        let (id, date, amount) = match fields.len() {
            4 => (fields[0], fields[1], fields[3]),
            5 => (fields[0], fields[2], fields[4]),
            n => {
                rows += 1;
                errors.push(RowError {
                    line: line_no,
                    message: format!("expected 4 or 5 fields, found {n}"),
                });
                continue;
            }
        };
        let Some(date) = parse_date(date) else {
            if !seen_data && fields.iter().all(|f| parse_date(f).is_none()) {
                continue; // header line
            }
            rows += 1;
            errors.push(RowError {
                line: line_no,
                message: format!("bad date '{date}'"),
            });
            continue;
        };
        seen_data = true;
        rows += 1;
        match parse_amount_minor(amount, exponent) {
            Ok(amount_minor) => transactions.push(Transaction {
                customer: id.to_string(),
                date,
                amount_minor,
            }),
            Err(message) => errors.push(RowError {
                line: line_no,
                message,
            }),
        }
    }
    ParsedLog {
        transactions,
        errors,
        format: InputFormat::Cdnow,
        rows,
    }
}

fn find_column(
    headers: &[String],
    explicit: &Option<String>,
    candidates: &[&str],
    role: &'static str,
) -> Result<usize, ParseError> {
    // Case-, space-, underscore- and hyphen-insensitive ("Created at" = "created_at").
    let norm = |s: &str| -> String {
        s.trim()
            .to_lowercase()
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .collect()
    };
    let found = match explicit {
        Some(name) => headers.iter().position(|h| norm(h) == norm(name)),
        None => candidates
            .iter()
            .find_map(|c| headers.iter().position(|h| norm(h) == norm(c))),
    };
    found.ok_or_else(|| ParseError::MissingColumn {
        role,
        available: headers.join(", "),
    })
}

fn parse_csv(
    text: &str,
    delimiter: u8,
    columns: &ColumnMapping,
    exponent: u32,
) -> Result<ParsedLog, ParseError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ParseError::BadHeader(e.to_string()))?
        .iter()
        .map(|h| h.to_string())
        .collect();
    let ci = find_column(&headers, &columns.customer, CUSTOMER_NAMES, "customer")?;
    let di = find_column(&headers, &columns.date, DATE_NAMES, "date")?;
    let ai = find_column(&headers, &columns.amount, AMOUNT_NAMES, "amount")?;
    let mut transactions = Vec::new();
    let mut errors = Vec::new();
    let mut rows = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        let line_no = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                rows += 1;
                errors.push(RowError {
                    line: line_no,
                    message: e.to_string(),
                });
                if errors.len() > 1_000_000 {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line_no);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        rows += 1;
        let get = |i: usize| record.get(i).map(str::trim).unwrap_or("");
        let customer = get(ci);
        if customer.is_empty() {
            errors.push(RowError {
                line,
                message: "missing customer".into(),
            });
            continue;
        }
        let Some(date) = parse_date(get(di)) else {
            errors.push(RowError {
                line,
                message: format!("bad date '{}'", get(di)),
            });
            continue;
        };
        match parse_amount_minor(get(ai), exponent) {
            Ok(amount_minor) => transactions.push(Transaction {
                customer: customer.to_string(),
                date,
                amount_minor,
            }),
            Err(message) => errors.push(RowError { line, message }),
        }
    }
    Ok(ParsedLog {
        transactions,
        errors,
        format: InputFormat::Csv,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_all_supported_forms() {
        let d = NaiveDate::from_ymd_opt(1997, 1, 12);
        assert_eq!(parse_date("1997-01-12"), d);
        assert_eq!(parse_date("19970112"), d);
        assert_eq!(parse_date("1997/01/12"), d);
        assert_eq!(parse_date("1997-01-12T23:59:59+03:00"), d);
        assert_eq!(parse_date("1997-01-12 10:00"), d);
        assert_eq!(parse_date("١٩٩٧-٠١-١٢"), d);
        assert_eq!(parse_date("1997-13-01"), None);
        assert_eq!(parse_date("12/01/1997"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("199701123"), None);
    }

    #[test]
    fn csv_with_mapping_and_bad_rows() {
        let csv = "email,created_at,total,status\n\
                   a@x.com,2024-01-01T10:00:00Z,\"1,250.50\",paid\n\
                   b@x.com,not-a-date,10,paid\n\
                   ,2024-01-02,10,paid\n\
                   c@x.com,2024-01-03,ten,paid\n\
                   c@x.com,20240104,5,paid\n";
        let parsed = parse_transactions(
            csv.as_bytes(),
            InputFormat::Auto,
            &ColumnMapping::default(),
            2,
        )
        .unwrap();
        assert_eq!(parsed.format, InputFormat::Csv);
        assert_eq!(parsed.transactions.len(), 2);
        assert_eq!(parsed.transactions[0].amount_minor, 125_050);
        assert_eq!(parsed.rows, 5);
        let lines: Vec<u64> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        let mapping: ColumnMapping = "customer=email, date=created_at, amount=total"
            .parse()
            .unwrap();
        assert_eq!(mapping.amount.as_deref(), Some("total"));
        let shopify = "Name,Email,Financial Status,Created at,Total\n#1001,a@x.com,paid,2024-03-01 10:00:00 +0300,12.50\n";
        let parsed = parse_transactions(
            shopify.as_bytes(),
            InputFormat::Auto,
            &ColumnMapping::default(),
            2,
        )
        .unwrap();
        assert_eq!(parsed.transactions[0].customer, "a@x.com");
        assert_eq!(parsed.transactions[0].amount_minor, 1250);
        let arabic = "رقم العميل,تاريخ الطلب,الإجمالي\n7,2024-03-01,١٥٠٫٥٠\n";
        let parsed = parse_transactions(
            arabic.as_bytes(),
            InputFormat::Auto,
            &ColumnMapping::default(),
            2,
        )
        .unwrap();
        assert_eq!(parsed.transactions[0].amount_minor, 15_050);
        let err = parse_transactions(
            "a,b\n1,2\n".as_bytes(),
            InputFormat::Csv,
            &ColumnMapping::default(),
            2,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ParseError::MissingColumn {
                role: "customer",
                ..
            }
        ));
    }

    #[test]
    fn cdnow_formats() {
        let four = " customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n 00002 19970112  5   77.00\n";
        let p = parse_transactions(
            four.as_bytes(),
            InputFormat::Auto,
            &ColumnMapping::default(),
            2,
        )
        .unwrap();
        assert_eq!(p.format, InputFormat::Cdnow);
        assert_eq!(p.transactions.len(), 2);
        assert!(p.errors.is_empty());
        assert_eq!(p.transactions[1].amount_minor, 7700);
        let five = " 00004 0001 19970101  2   29.33\n 00004 0001 1997xx18  2   29.73\n";
        let p = parse_transactions(
            five.as_bytes(),
            InputFormat::Cdnow,
            &ColumnMapping::default(),
            2,
        )
        .unwrap();
        assert_eq!(p.transactions.len(), 1);
        assert_eq!(p.errors[0].line, 2);
        assert!(matches!(
            parse_transactions(
                "".as_bytes(),
                InputFormat::Auto,
                &ColumnMapping::default(),
                2
            ),
            Err(ParseError::Empty)
        ));
    }
}
