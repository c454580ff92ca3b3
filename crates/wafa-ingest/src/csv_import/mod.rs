//! CSV imports: decode bytes, recognise the format from the header, stream rows into inputs.
//!
//! Why streaming: merchants bring exports of a million customers and several million order
//! lines. The decoded text may sit in memory (it is the file), but parsed rows are produced
//! one at a time by iterators so the server can write them in batches and report progress.
//!
//! Why per-row errors: one bad phone or a typo'd currency in row 40,213 must not sink the
//! whole import. A bad header is different: nothing in the file can be trusted to be in the
//! right column, so it is a file-level [`FileError`] before any row is read.
//!
//! Typical use by the server:
//! ```
//! use wafa_ingest::csv_import::{decode, detect_format, CsvFormat, CustomerCsv, OrderCsv};
//! let bytes = b"order_id,placed_at,currency,customer_email,product_title,quantity,unit_price\n\
//!               1001,2024-03-05,KWD,sara@example.com,Oud,2,12.500\n";
//! let decoded = decode(bytes).unwrap();
//! match detect_format(&decoded.text).unwrap() {
//!     CsvFormat::ShopifyCustomers => {
//!         for row in CustomerCsv::new(decoded.text.as_bytes(), Some(1)).unwrap().rows() { let _ = row; }
//!     }
//!     CsvFormat::GenericOrders => {
//!         let rows: Vec<_> = OrderCsv::new(decoded.text.as_bytes(), Some(1)).unwrap().rows().collect();
//!         assert_eq!(rows[0].as_ref().unwrap().order.lines[0].unit_price_minor, 12_500);
//!     }
//! }
//! ```

mod customers;
mod encoding;
/// The generic orders CSV: its format is documented on this module (and in `ORDERS_CSV.md`).
pub mod orders;

pub use customers::{
    CustomerCsv, CustomerRow, CustomerRows, ShopifyVariant, SHOPIFY_CUSTOMERS_HEADER,
};
pub use encoding::{decode, Decoded, TextEncoding};
pub use orders::{OrderCsv, OrderRow, OrderRows, ORDERS_HEADER};

use csv::ByteRecord;
use serde::Serialize;
use std::fmt;
use std::io::{self, Chain, Cursor, Read};
use wafa_domain::ErrorCode;

/// A problem with the file as a whole (encoding, header). Nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    /// `CsvInvalidEncoding` or `CsvInvalidHeader` (or `BadRequest` if the reader failed).
    pub code: ErrorCode,
    pub message: String,
    /// For a header error: the required columns that are missing (as documented names).
    pub missing_columns: Vec<String>,
}

impl FileError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        FileError {
            code,
            message: message.into(),
            missing_columns: Vec::new(),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}
impl std::error::Error for FileError {}

/// One rejected row (or, for orders, one rejected order: `line` is the offending line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based physical line in the file; the header is line 1.
    pub line: u64,
    pub code: ErrorCode,
    /// The column (as named in the file's header) at fault, if one is.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}
impl std::error::Error for RowError {}

/// The formats [`detect_format`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvFormat {
    /// Shopify's customer export (current or older column names) → [`CustomerCsv`].
    ShopifyCustomers,
    /// Wafa's generic one-row-per-line-item orders CSV → [`OrderCsv`].
    GenericOrders,
}

/// Read the header of decoded CSV text and say which supported format it is.
///
/// The format with more recognised column names wins; if it lacks required columns the error
/// lists them. A header matching neither is `CsvInvalidHeader` too.
pub fn detect_format(text: &str) -> Result<CsvFormat, FileError> {
    let names = read_header_names(text.as_bytes())?;
    detect_format_from_header(&names)
}

/// Like [`detect_format`], for header names already split.
pub fn detect_format_from_header<S: AsRef<str>>(names: &[S]) -> Result<CsvFormat, FileError> {
    let norm: Vec<String> = names.iter().map(|n| norm_header(n.as_ref())).collect();
    let shopify = customers::score(&norm);
    let orders = orders::score(&norm);
    if shopify == 0 && orders == 0 {
        return Err(FileError::new(
            ErrorCode::CsvInvalidHeader,
            format!(
                "the header matches no supported format; expected a Shopify customer export ({}) or the orders CSV ({})",
                SHOPIFY_CUSTOMERS_HEADER.join(","),
                ORDERS_HEADER.join(",")
            ),
        ));
    }
    if orders > shopify {
        orders::Cols::from_header(&norm)?;
        Ok(CsvFormat::GenericOrders)
    } else {
        customers::Cols::from_header(&norm)?;
        Ok(CsvFormat::ShopifyCustomers)
    }
}

/// Header names compared case-insensitively, trimmed, with a stray BOM removed; spaces and
/// dashes are treated as underscores (`Customer ID` ≡ `customer_id`).
pub(crate) fn norm_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .trim()
        .chars()
        .map(|c| {
            if c == ' ' || c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect::<String>()
        .to_lowercase()
}

/// What the csv reader reads: the sniffed head of the file, the rest of the caller's reader,
/// and a final `\n` so the last record is terminated like the others (an extra blank line is
/// skipped) and [`read_record`]'s line arithmetic is exact.
pub(crate) type Source<R> = Chain<Chain<Cursor<Vec<u8>>, R>, &'static [u8]>;

/// The first line (at most 64 KiB) of the input, read ahead to choose the delimiter.
fn read_head<R: Read>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    while head.len() < 64 * 1024 && !head.contains(&b'\n') {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(head)
}

/// The delimiter of a file from its first line: an Excel `sep=X` line, else the most frequent
/// of `,` `;` TAB outside quotes (Excel's "Unicode text" is tab-separated UTF-16; some
/// regional Excel settings save `;`). Ties and none → `,`.
pub(crate) fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|b| *b == b'\n').next().unwrap_or(b"");
    let line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
    if let Some(rest) = line.strip_prefix(b"sep=") {
        if let Some(&d) = rest.first() {
            if d != b'\r' {
                return d;
            }
        }
    }
    let (mut counts, mut quoted) = ([0usize; 3], false);
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3)
        .max_by_key(|i| (counts[*i], std::cmp::Reverse(*i)))
        .unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        [b',', b';', b'\t'][best]
    }
}

/// Open a CSV: sniff the delimiter, read the header (after an Excel `sep=` line, if any).
/// Returns the reader positioned after the header, and the header's names.
pub(crate) fn open<R: Read>(
    mut reader: R,
) -> Result<(csv::Reader<Source<R>>, Vec<String>), FileError> {
    let head = read_head(&mut reader).map_err(|e| {
        FileError::new(
            ErrorCode::BadRequest,
            format!("could not read the file: {e}"),
        )
    })?;
    let delimiter = sniff_delimiter(&head);
    let mut rdr = csv::ReaderBuilder::new()
        // Field counts are checked per row, so a ragged row is a row error, not the end.
        .flexible(true)
        .has_headers(false)
        .delimiter(delimiter)
        // Records end at `\n` only: with csv's default CRLF handling a record ending in
        // `\r\n` leaves its `\n` to the next record, and line numbers in Excel/Shopify (CRLF)
        // files would be one short. The `\r` trails the last field; fields are trimmed.
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(64 * 1024)
        .from_reader(Cursor::new(head).chain(reader).chain(&b"\n"[..]));
    let mut names = read_header(&mut rdr)?;
    if names.len() <= 2
        && names
            .first()
            .is_some_and(|n| n.to_ascii_lowercase().starts_with("sep="))
    {
        names = read_header(&mut rdr)?;
    }
    Ok((rdr, names))
}

fn read_header_names(bytes: &[u8]) -> Result<Vec<String>, FileError> {
    open(bytes).map(|(_, names)| names)
}

/// Read the next record as a header: its names, trimmed, without a stray BOM.
fn read_header<R: Read>(rdr: &mut csv::Reader<R>) -> Result<Vec<String>, FileError> {
    let mut rec = ByteRecord::new();
    match read_record(rdr, &mut rec) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(FileError::new(
                ErrorCode::CsvInvalidHeader,
                "the file is empty",
            ))
        }
        Err(e) => {
            return Err(FileError::new(
                ErrorCode::BadRequest,
                format!("could not read the file: {e}"),
            ))
        }
    }
    let mut names = Vec::with_capacity(rec.len());
    for f in rec.iter() {
        match std::str::from_utf8(f) {
            Ok(s) => names.push(s.trim().trim_start_matches('\u{feff}').trim().to_owned()),
            Err(_) => {
                return Err(FileError::new(
                    ErrorCode::CsvInvalidEncoding,
                    "the header is not valid UTF-8 text",
                ))
            }
        }
    }
    Ok(names)
}

pub(crate) fn missing_header_error(missing: Vec<String>, what: &str) -> FileError {
    FileError {
        code: ErrorCode::CsvInvalidHeader,
        message: format!(
            "the {what} header is missing required column(s): {}",
            missing.join(", ")
        ),
        missing_columns: missing,
    }
}

/// A line holding nothing but whitespace (`\r` of a blank CRLF line): skipped like csv's
/// own blank lines.
fn is_blank(rec: &ByteRecord) -> bool {
    rec.len() == 1 && rec[0].trim_ascii().is_empty()
}

/// Read the next non-blank record; `Ok(Some(line))` with the physical line it starts on.
///
/// Why not just `rec.position()`: csv takes a record's position *before* skipping blank
/// lines, so every record after a blank line would be reported a line early. The reader's
/// line count after the record, less the newlines inside it (quoted multi-line cells) and
/// its terminator, is exact (every record is terminated, see [`Source`]).
pub(crate) fn read_record<R: Read>(
    rdr: &mut csv::Reader<R>,
    rec: &mut ByteRecord,
) -> csv::Result<Option<u64>> {
    loop {
        if !rdr.read_byte_record(rec)? {
            return Ok(None);
        }
        if is_blank(rec) {
            continue;
        }
        let before = rec.position().map(|p| p.line()).unwrap_or(1);
        let data = rec.as_slice();
        let embedded = if data.contains(&b'\n') {
            data.iter().filter(|b| **b == b'\n').count() as u64
        } else {
            0
        };
        let after = rdr.position().line();
        return Ok(Some(before.max(after.saturating_sub(embedded + 1))));
    }
}

/// A field's text, trimmed; Shopify's Excel guard `'` before a number (`'+9665…`, `'0501…`)
/// is removed. Missing columns read as empty.
pub(crate) fn field<'r>(
    rec: &'r ByteRecord,
    idx: Option<usize>,
    line: u64,
    name: &str,
) -> Result<&'r str, RowError> {
    let Some(i) = idx else { return Ok("") };
    let Some(bytes) = rec.get(i) else {
        return Ok("");
    };
    let s = std::str::from_utf8(bytes).map_err(|_| RowError {
        line,
        code: ErrorCode::CsvInvalidEncoding,
        field: Some(name.to_owned()),
        message: format!("{name} is not valid UTF-8 text"),
    })?;
    Ok(clean_value(s))
}

/// A record whose fields are read as text. Why: checking UTF-8 once per record instead of
/// once per field is a measurable share of the parse time; when the record is not valid
/// UTF-8 (or a multi-byte character is split across a delimiter) each field is checked on
/// its own, so the error names the column and bad bytes in unused columns do not matter.
pub(crate) struct Row<'r> {
    rec: &'r ByteRecord,
    text: Option<&'r str>,
}

impl<'r> Row<'r> {
    pub(crate) fn new(rec: &'r ByteRecord) -> Row<'r> {
        let text = std::str::from_utf8(rec.as_slice()).ok().filter(|t| {
            (0..rec.len()).all(|i| rec.range(i).is_some_and(|r| t.is_char_boundary(r.start)))
        });
        Row { rec, text }
    }

    /// The field at `idx` (see [`field`]); missing columns read as empty.
    pub(crate) fn get(
        &self,
        idx: Option<usize>,
        line: u64,
        name: &str,
    ) -> Result<&'r str, RowError> {
        match self.text {
            Some(t) => Ok(idx
                .and_then(|i| self.rec.range(i))
                .and_then(|r| t.get(r))
                .map(clean_value)
                .unwrap_or("")),
            None => field(self.rec, idx, line, name),
        }
    }
}

pub(crate) fn clean_value(s: &str) -> &str {
    let t = trim(s);
    if let Some(rest) = t.strip_prefix('\'') {
        if rest.starts_with(|c: char| c.is_ascii_digit() || c == '+') {
            return trim(rest);
        }
    }
    t
}

/// `str::trim` with an ASCII fast path (most cells start and end with ASCII).
fn trim(s: &str) -> &str {
    let t = s.trim_ascii();
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(a), Some(b)) if *a >= 0x80 || *b >= 0x80 => t.trim(),
        _ => t,
    }
}

pub(crate) fn non_empty(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s.to_owned())
    }
}

pub(crate) fn row_error(
    line: u64,
    code: ErrorCode,
    field: Option<&str>,
    message: impl Into<String>,
) -> RowError {
    RowError {
        line,
        code,
        field: field.map(str::to_owned),
        message: message.into(),
    }
}

/// yes/no as exports write it (also true/false, 1/0, نعم/لا).
pub(crate) fn yes_no(s: &str) -> Option<bool> {
    let s = s.trim();
    let is = |words: &[&str]| words.iter().any(|w| s.eq_ignore_ascii_case(w));
    if is(&["yes", "y", "true", "1", "نعم"]) {
        Some(true)
    } else if is(&["no", "n", "false", "0", "لا"]) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_normalise() {
        assert_eq!(norm_header("\u{feff} Customer ID "), "customer_id");
        assert_eq!(
            norm_header("Default Address Province Code"),
            "default_address_province_code"
        );
        assert_eq!(norm_header("ORDER-ID"), "order_id");
    }

    #[test]
    fn detects_formats() {
        let shopify = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/shopify_customers_export.header.csv"
        ))
        .unwrap_or_else(|_| SHOPIFY_CUSTOMERS_HEADER.join(","));
        assert_eq!(
            detect_format(&shopify).unwrap(),
            CsvFormat::ShopifyCustomers
        );
        assert_eq!(
            detect_format(&ORDERS_HEADER.join(",")).unwrap(),
            CsvFormat::GenericOrders
        );
        let old = "First Name,Last Name,Email,Company,Address1,Address2,City,Province,Province Code,Country,Country Code,Zip,Phone,Accepts Marketing,Total Spent,Total Orders,Tags,Note,Tax Exempt";
        assert_eq!(detect_format(old).unwrap(), CsvFormat::ShopifyCustomers);
        let e = detect_format("name,age,colour\n").unwrap_err();
        assert_eq!(e.code, ErrorCode::CsvInvalidHeader);
        let e = detect_format("order_id,customer_email,sku,quantity\n").unwrap_err();
        assert_eq!(e.code, ErrorCode::CsvInvalidHeader);
        assert_eq!(
            e.missing_columns,
            vec!["placed_at".to_owned(), "currency".to_owned()]
        );
        assert!(
            e.message.contains("placed_at") && e.message.contains("currency"),
            "{}",
            e.message
        );
        assert_eq!(
            detect_format("").unwrap_err().code,
            ErrorCode::CsvInvalidHeader
        );
    }

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter(b"a,b;c,d\n1;2;3;4;5"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\r\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc,d"), b'\t');
        assert_eq!(sniff_delimiter(b"\"x;y;z\",b"), b',');
        assert_eq!(sniff_delimiter(b"sep=;\r\na,b,c"), b';');
        assert_eq!(sniff_delimiter(b"single"), b',');
        assert_eq!(sniff_delimiter(b""), b',');
        let semi = "sep=;\r\norder_id;placed_at;currency;customer_email\r\n";
        assert_eq!(detect_format(semi).unwrap(), CsvFormat::GenericOrders);
    }

    #[test]
    fn cleans_excel_guards() {
        assert_eq!(clean_value(" '+966501234567 "), "+966501234567");
        assert_eq!(clean_value("'0501234567"), "0501234567");
        assert_eq!(clean_value("'Abd"), "'Abd");
        assert_eq!(clean_value("\u{a0}محمد\u{3000} "), "محمد");
        assert_eq!(clean_value(" \t"), "");
        // A multi-byte character split by a delimiter: valid UTF-8 as a whole, not per field.
        let mut rec = ByteRecord::new();
        rec.push_field(b"ok");
        rec.push_field(b"\xD9");
        rec.push_field(b"\x85x");
        let row = Row::new(&rec);
        assert_eq!(row.get(Some(0), 2, "a").unwrap(), "ok");
        assert_eq!(
            row.get(Some(1), 2, "b").unwrap_err().field.as_deref(),
            Some("b")
        );
        assert_eq!(row.get(Some(7), 2, "c").unwrap(), "");
        assert_eq!(yes_no("Yes"), Some(true));
        assert_eq!(yes_no("no"), Some(false));
        assert_eq!(yes_no(" TRUE "), Some(true));
        assert_eq!(yes_no("نعم"), Some(true));
        assert_eq!(yes_no("maybe"), None);
    }
}
