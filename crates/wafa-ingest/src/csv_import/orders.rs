//! The generic orders CSV → [`OrderInput`](wafa_model::OrderInput)s, one order per group of consecutive rows.
//!
//! Why one row per line item: it is what every spreadsheet and store export can produce,
//! and it keeps a one-line order to a single row. Rows of one order must be consecutive
//! (same `order_id`), so orders are assembled with one row of look-ahead and a file of
//! five million lines streams in constant memory (plus an 8-byte hash per order to catch an
//! `order_id` that reappears later, which would otherwise silently split an order).
//!
//! Why an order is rejected whole: half an order has the wrong total, the wrong revenue and
//! the wrong products; the merchant fixes the line and re-imports, and the import is
//! idempotent on `order_id` on the server.
//!
//! # Format
//!
//! UTF-8 (or any encoding [`decode`](crate::csv_import::decode) reads), comma-separated (`;` or TAB are
//! recognised from the header line, as is Excel's `sep=;` line), one header row. Header
//! names are case-insensitive; spaces and dashes count as underscores; unknown columns are
//! ignored. Required columns are marked *.
//!
//! | column | meaning |
//! |---|---|
//! | `order_id`* | the order's id at the store; rows with the same id, consecutive, form one order |
//! | `order_number` | the number shown to the customer (`#1042`) |
//! | `placed_at`* | RFC 3339 (`2024-03-05T14:00:00+03:00`), `YYYY-MM-DD HH:MM:SS` (UTC) or `YYYY-MM-DD` |
//! | `status` | `placed` (default), `paid`, `fulfilled`, `shipped`, `delivered`, `cancelled`, `returned`, `refunded` |
//! | `payment_method` | `card`, `cash_on_delivery`, … or loose names: `cod`, `mada`, `tabby`, `stc_pay`, … |
//! | `currency`* | ISO 4217 (`SAR`, `AED`, `KWD`, `EGP`, …) |
//! | `customer_external_id` | the customer's id at the same store |
//! | `customer_email` | |
//! | `customer_phone` | any common form; read in the workspace's region by the server |
//! | `customer_first_name`, `customer_last_name` | |
//! | `city` | delivery city |
//! | `sku`, `product_title` | the line's product (title defaults to the SKU) |
//! | `quantity` | positive whole number (`3`, `3.00`, `٣`), default 1 |
//! | `unit_price` | decimal in the currency (`12.500` KWD), required when the row has a line |
//! | `discount`, `shipping`, `tax` | order-level decimals, default 0 |
//! | `total` | order-level decimal; default lines + shipping + tax − discount |
//! | `refunded` | order-level decimal amount refunded, default 0, at most the total |
//! | `return_reason` | `damaged`, `wrong_item`, `not_as_described`, `size_or_fit`, `changed_mind`, `late_delivery`, other text → `other` |
//!
//! At least one of `customer_external_id`, `customer_email`, `customer_phone` must be a
//! column, and each order must have a value in one of them. Order-level columns (all but
//! `sku`, `product_title`, `quantity`, `unit_price`) may be repeated on every row of the order
//! or given on its first row only; two different non-empty values are an error. A row with no
//! line columns filled adds no line (an order may be given by its `total` alone). Amounts are
//! exact in the currency's decimals (3 for KWD, BHD, OMR); negative values, unknown
//! currencies and unreadable dates reject the order.

use super::{
    missing_header_error, norm_header, open, read_record, row_error, FileError, Row, RowError,
    Source,
};
use csv::ByteRecord;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::Read;
use wafa_domain::time::{format_ms, parse_timestamp_ms};
use wafa_domain::{Currency, Email, ErrorCode, OrderStatus, PaymentMethod, ReturnReason};
use wafa_model::{CustomerInput, IdentityInput, OrderInput, OrderLineInput};

/// The orders CSV header, in the documented order.
pub const ORDERS_HEADER: &[&str] = &[
    "order_id",
    "order_number",
    "placed_at",
    "status",
    "payment_method",
    "currency",
    "customer_external_id",
    "customer_email",
    "customer_phone",
    "customer_first_name",
    "customer_last_name",
    "city",
    "sku",
    "product_title",
    "quantity",
    "unit_price",
    "discount",
    "shipping",
    "tax",
    "total",
    "refunded",
    "return_reason",
];
const N: usize = 22;

// Column indexes into ORDERS_HEADER.
const ORDER_ID: usize = 0;
const ORDER_NUMBER: usize = 1;
const PLACED_AT: usize = 2;
const STATUS: usize = 3;
const PAYMENT_METHOD: usize = 4;
const CURRENCY: usize = 5;
const CUSTOMER_EXTERNAL_ID: usize = 6;
const CUSTOMER_EMAIL: usize = 7;
const CUSTOMER_PHONE: usize = 8;
const CUSTOMER_FIRST_NAME: usize = 9;
const CUSTOMER_LAST_NAME: usize = 10;
const CITY: usize = 11;
const SKU: usize = 12;
const PRODUCT_TITLE: usize = 13;
const QUANTITY: usize = 14;
const UNIT_PRICE: usize = 15;
const DISCOUNT: usize = 16;
const SHIPPING: usize = 17;
const TAX: usize = 18;
const TOTAL: usize = 19;
const REFUNDED: usize = 20;
const RETURN_REASON: usize = 21;

const LINE_COLUMNS: [usize; 4] = [SKU, PRODUCT_TITLE, QUANTITY, UNIT_PRICE];
const REQUIRED: [usize; 3] = [ORDER_ID, PLACED_AT, CURRENCY];

fn is_line_column(c: usize) -> bool {
    LINE_COLUMNS.contains(&c)
}

/// How many of the header's columns are orders CSV names.
pub(crate) fn score(norm: &[String]) -> usize {
    norm.iter()
        .filter(|h| ORDERS_HEADER.contains(&h.as_str()))
        .count()
}

pub(crate) struct Cols {
    idx: [Option<usize>; N],
}

impl Cols {
    pub(crate) fn from_header(norm: &[String]) -> Result<Cols, FileError> {
        let mut idx = [None; N];
        for (c, name) in ORDERS_HEADER.iter().enumerate() {
            idx[c] = norm.iter().position(|h| h == name);
        }
        let mut missing: Vec<String> = REQUIRED
            .iter()
            .filter(|c| idx[**c].is_none())
            .map(|c| ORDERS_HEADER[*c].to_owned())
            .collect();
        if [CUSTOMER_EXTERNAL_ID, CUSTOMER_EMAIL, CUSTOMER_PHONE]
            .iter()
            .all(|c| idx[*c].is_none())
        {
            missing.push("customer_external_id|customer_email|customer_phone".to_owned());
        }
        if !missing.is_empty() {
            return Err(missing_header_error(missing, "orders CSV"));
        }
        Ok(Cols { idx })
    }
}

/// One order assembled from its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    /// The physical line of the order's first row (header = 1).
    pub first_line: u64,
    /// Identities (external id with the source, email, phone; unverified) and names only.
    pub customer: CustomerInput,
    /// `customer_id` is 0: the server resolves `customer` and fills it in.
    pub order: OrderInput,
    /// Minor units refunded (0 if none).
    pub refunded_minor: i64,
    /// A [`ReturnReason`] wire value, when given.
    pub return_reason: Option<String>,
}

/// An orders CSV, header checked, ready to stream orders.
pub struct OrderCsv<R: Read> {
    rdr: csv::Reader<Source<R>>,
    cols: Cols,
    header_len: usize,
    source_id: Option<i64>,
}

impl<R: Read> OrderCsv<R> {
    /// Read and check the header. `reader` yields UTF-8 text (see [`decode`](crate::csv_import::decode));
    /// `source_id` is the store the order and customer ids belong to.
    pub fn new(reader: R, source_id: Option<i64>) -> Result<Self, FileError> {
        let (rdr, names) = open(reader)?;
        let header_len = names.len();
        let norm: Vec<String> = names.iter().map(|n| norm_header(n)).collect();
        let cols = Cols::from_header(&norm)?;
        Ok(OrderCsv {
            rdr,
            cols,
            header_len,
            source_id,
        })
    }
    /// Stream orders: `Ok` per good order, one `Err` per rejected order; parsing continues.
    pub fn rows(self) -> OrderRows<R> {
        OrderRows {
            csv: self,
            recs: vec![ByteRecord::new()],
            lines: vec![0],
            have_pending: false,
            done: false,
            read_error: None,
            seen: HashSet::new(),
        }
    }
}

/// Iterator over a [`OrderCsv`]'s orders.
pub struct OrderRows<R: Read> {
    csv: OrderCsv<R>,
    /// `recs[0]` holds the first row of the next order when `have_pending`.
    recs: Vec<ByteRecord>,
    /// The physical line of each of `recs`.
    lines: Vec<u64>,
    have_pending: bool,
    done: bool,
    read_error: Option<RowError>,
    /// Hashes of the order ids already seen.
    seen: HashSet<u64>,
}

enum Read1 {
    Row,
    Eof,
    Failed(RowError),
}

impl<R: Read> OrderRows<R> {
    fn read_into(&mut self, i: usize) -> Read1 {
        if self.recs.len() <= i {
            self.recs.push(ByteRecord::new());
        }
        if self.lines.len() <= i {
            self.lines.push(0);
        }
        match read_record(&mut self.csv.rdr, &mut self.recs[i]) {
            Ok(Some(line)) => {
                self.lines[i] = line;
                Read1::Row
            }
            Ok(None) => Read1::Eof,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                Read1::Failed(row_error(
                    line,
                    ErrorCode::BadRequest,
                    None,
                    format!("could not read the file: {e}"),
                ))
            }
        }
    }

    fn order_id(&self, i: usize) -> &[u8] {
        match self.csv.cols.idx[ORDER_ID].and_then(|c| self.recs[i].get(c)) {
            Some(b) => b.trim_ascii(),
            None => b"",
        }
    }
}

impl<R: Read> Iterator for OrderRows<R> {
    type Item = Result<OrderRow, RowError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return self.read_error.take().map(Err);
        }
        if !self.have_pending {
            match self.read_into(0) {
                Read1::Row => {}
                Read1::Eof => {
                    self.done = true;
                    return None;
                }
                Read1::Failed(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        let mut n = 1;
        let mut eof = false;
        loop {
            match self.read_into(n) {
                Read1::Row => {
                    let id = self.order_id(0);
                    if !id.is_empty() && id == self.order_id(n) {
                        n += 1;
                        continue;
                    }
                    break;
                }
                Read1::Eof => {
                    eof = true;
                    break;
                }
                Read1::Failed(e) => {
                    self.read_error = Some(e);
                    eof = true;
                    break;
                }
            }
        }
        let mut result = build_order(
            &self.csv.cols,
            self.csv.header_len,
            self.csv.source_id,
            &self.recs[..n],
            &self.lines[..n],
        );
        let id = self.order_id(0).to_vec();
        if !id.is_empty() {
            let mut h = DefaultHasher::new();
            id.hash(&mut h);
            if !self.seen.insert(h.finish()) && result.is_ok() {
                let line = self.lines[0];
                result = Err(row_error(
                    line,
                    ErrorCode::ValidationFailed,
                    Some("order_id"),
                    format!(
                        "order {:?} appeared earlier in the file; the rows of one order must be consecutive",
                        String::from_utf8_lossy(&id)
                    ),
                ));
            }
        }
        if eof {
            self.done = true;
            self.have_pending = false;
        } else {
            self.recs.swap(0, n);
            self.lines.swap(0, n);
            self.have_pending = true;
        }
        Some(result)
    }
}

/// Assemble one order from its rows, or the first error (prefixed with the order id).
fn build_order(
    cols: &Cols,
    header_len: usize,
    source_id: Option<i64>,
    recs: &[ByteRecord],
    lines: &[u64],
) -> Result<OrderRow, RowError> {
    let id_text = String::from_utf8_lossy(
        cols.idx[ORDER_ID]
            .and_then(|c| recs[0].get(c))
            .map(|b| b.trim_ascii())
            .unwrap_or(b""),
    )
    .into_owned();
    build_order_inner(cols, header_len, source_id, recs, lines).map_err(|mut e| {
        if !id_text.is_empty() {
            let lines = if recs.len() > 1 {
                format!(" ({} lines, all rejected)", recs.len())
            } else {
                String::new()
            };
            e.message = format!("order {id_text}{lines}: {}", e.message);
        }
        e
    })
}

fn build_order_inner(
    cols: &Cols,
    header_len: usize,
    source_id: Option<i64>,
    recs: &[ByteRecord],
    rec_lines: &[u64],
) -> Result<OrderRow, RowError> {
    let first_line = rec_lines[0];
    // Order-level values: (value, line it came from), first non-empty wins, conflicts fail.
    let mut vals: [(&str, u64); N] = [("", first_line); N];
    let mut lines = Vec::with_capacity(recs.len());
    // Line fields are parsed after the currency is known; collect them first.
    let mut raw_lines: Vec<(u64, [&str; 4])> = Vec::with_capacity(recs.len());
    for (rec, &line) in recs.iter().zip(rec_lines) {
        if rec.len() != header_len {
            return Err(row_error(
                line,
                ErrorCode::ValidationFailed,
                None,
                format!(
                    "the row has {} fields but the header has {header_len} (a missing quote?)",
                    rec.len()
                ),
            ));
        }
        let mut lf = [""; 4];
        let row = Row::new(rec);
        for (c, name) in ORDERS_HEADER.iter().enumerate() {
            let v = row.get(cols.idx[c], line, name)?;
            if is_line_column(c) {
                lf[LINE_COLUMNS.iter().position(|x| *x == c).unwrap_or(0)] = v;
            } else if !v.is_empty() {
                let slot = &mut vals[c];
                if slot.0.is_empty() {
                    *slot = (v, line);
                } else if slot.0 != v {
                    return Err(row_error(
                        line,
                        ErrorCode::ValidationFailed,
                        Some(name),
                        format!("{name} is {v:?} here but {:?} on line {}", slot.0, slot.1),
                    ));
                }
            }
        }
        if lf.iter().any(|v| !v.is_empty()) {
            raw_lines.push((line, lf));
        }
    }
    let get = |c: usize| vals[c].0;
    let at = |c: usize| vals[c].1;
    let err = |c: usize, code: ErrorCode, msg: String| {
        row_error(at(c), code, Some(ORDERS_HEADER[c]), msg)
    };

    if get(ORDER_ID).is_empty() {
        return Err(err(
            ORDER_ID,
            ErrorCode::ValidationFailed,
            "order_id is required".into(),
        ));
    }
    let cur = match get(CURRENCY) {
        "" => {
            return Err(err(
                CURRENCY,
                ErrorCode::InvalidCurrency,
                "currency is required".into(),
            ))
        }
        c => Currency::parse(c).map_err(|e| err(CURRENCY, ErrorCode::InvalidCurrency, e.detail))?,
    };
    let placed_at = match get(PLACED_AT) {
        "" => return Err(err(PLACED_AT, ErrorCode::ValidationFailed, "placed_at is required".into())),
        s => parse_timestamp_ms(s)
            .ok_or_else(|| err(PLACED_AT, ErrorCode::ValidationFailed, format!("placed_at {s:?} is not a date (use RFC 3339, YYYY-MM-DD HH:MM:SS or YYYY-MM-DD)")))?,
    };
    let status = match get(STATUS) {
        "" => OrderStatus::Placed,
        s => parse_status(s).ok_or_else(|| {
            err(STATUS, ErrorCode::ValidationFailed, format!("status {s:?} is not one of placed, paid, fulfilled, shipped, delivered, cancelled, returned, refunded"))
        })?,
    };
    let payment_method = match get(PAYMENT_METHOD) {
        "" => None,
        s => Some(PaymentMethod::parse_loose(s).as_str().to_owned()),
    };
    let amount = |c: usize| -> Result<Option<i64>, RowError> {
        let s = get(c);
        if s.is_empty() {
            return Ok(None);
        }
        let v = cur.parse_amount(s).map_err(|e| {
            err(
                c,
                ErrorCode::InvalidAmount,
                format!("{}: {}", ORDERS_HEADER[c], e.detail),
            )
        })?;
        if v < 0 {
            return Err(err(
                c,
                ErrorCode::InvalidAmount,
                format!("{} must not be negative", ORDERS_HEADER[c]),
            ));
        }
        Ok(Some(v))
    };
    let discount = amount(DISCOUNT)?.unwrap_or(0);
    let shipping = amount(SHIPPING)?.unwrap_or(0);
    let tax = amount(TAX)?.unwrap_or(0);
    let total = amount(TOTAL)?;
    let refunded = amount(REFUNDED)?.unwrap_or(0);

    let mut subtotal: i64 = 0;
    for (line, [sku, title, qty, price]) in raw_lines {
        let lerr = |c: usize, code: ErrorCode, msg: String| {
            row_error(line, code, Some(ORDERS_HEADER[c]), msg)
        };
        let quantity = match qty {
            "" => 1,
            q => match parse_quantity(q) {
                Some(q) if q > 0 => q,
                _ => {
                    return Err(lerr(
                        QUANTITY,
                        ErrorCode::InvalidQuantity,
                        format!("quantity {q:?} is not a positive whole number"),
                    ))
                }
            },
        };
        let unit_price = match price {
            "" => {
                return Err(lerr(
                    UNIT_PRICE,
                    ErrorCode::InvalidAmount,
                    "unit_price is required for a line".into(),
                ))
            }
            p => cur.parse_amount(p).map_err(|e| {
                lerr(
                    UNIT_PRICE,
                    ErrorCode::InvalidAmount,
                    format!("unit_price: {}", e.detail),
                )
            })?,
        };
        if unit_price < 0 {
            return Err(lerr(
                UNIT_PRICE,
                ErrorCode::InvalidAmount,
                "unit_price must not be negative".into(),
            ));
        }
        let title = match (title, sku) {
            ("", "") => {
                return Err(lerr(
                    PRODUCT_TITLE,
                    ErrorCode::ValidationFailed,
                    "a line needs a product_title or sku".into(),
                ))
            }
            ("", s) => s,
            (t, _) => t,
        };
        subtotal = unit_price
            .checked_mul(quantity)
            .and_then(|l| subtotal.checked_add(l))
            .ok_or_else(|| {
                lerr(
                    UNIT_PRICE,
                    ErrorCode::InvalidAmount,
                    "the order's amounts are too large".into(),
                )
            })?;
        lines.push(OrderLineInput {
            product_id: None,
            sku: if sku.is_empty() {
                None
            } else {
                Some(sku.to_owned())
            },
            title: title.to_owned(),
            quantity,
            unit_price_minor: unit_price,
        });
    }
    let effective_total = total.unwrap_or(
        subtotal
            .saturating_add(shipping)
            .saturating_add(tax)
            .saturating_sub(discount),
    );
    if refunded > effective_total {
        return Err(err(
            REFUNDED,
            ErrorCode::InvalidAmount,
            format!(
                "refunded {} is more than the order total {}",
                cur.format_amount(refunded),
                cur.format_amount(effective_total)
            ),
        ));
    }
    if total.is_none() && effective_total < 0 {
        return Err(err(
            DISCOUNT,
            ErrorCode::InvalidAmount,
            "the discount is larger than the order".into(),
        ));
    }
    let return_reason = match get(RETURN_REASON) {
        "" => None,
        s => Some(parse_return_reason(s).as_str().to_owned()),
    };

    let mut customer = CustomerInput::default();
    let ext = get(CUSTOMER_EXTERNAL_ID);
    if !ext.is_empty() {
        customer.identities.push(IdentityInput {
            kind: "external".into(),
            value: ext.to_owned(),
            source_id,
            verified: false,
        });
    }
    let email = get(CUSTOMER_EMAIL);
    if !email.is_empty() {
        let e = Email::parse(email)
            .map_err(|e| err(CUSTOMER_EMAIL, ErrorCode::InvalidEmail, e.detail))?;
        customer.identities.push(IdentityInput {
            kind: "email".into(),
            value: e.as_str().to_owned(),
            source_id: None,
            verified: false,
        });
    }
    let phone = get(CUSTOMER_PHONE);
    if !phone.is_empty() {
        customer.identities.push(IdentityInput {
            kind: "phone".into(),
            value: phone.to_owned(),
            source_id: None,
            verified: false,
        });
    }
    if customer.identities.is_empty() {
        return Err(row_error(
            first_line,
            ErrorCode::ValidationFailed,
            None,
            "the order has no customer_external_id, customer_email or customer_phone",
        ));
    }
    let opt = |c: usize| {
        if get(c).is_empty() {
            None
        } else {
            Some(get(c).to_owned())
        }
    };
    customer.first_name = opt(CUSTOMER_FIRST_NAME);
    customer.last_name = opt(CUSTOMER_LAST_NAME);

    let order = OrderInput {
        customer_id: 0,
        source_id,
        external_id: Some(get(ORDER_ID).to_owned()),
        number: opt(ORDER_NUMBER),
        currency: cur.code().to_owned(),
        status: Some(status.as_str().to_owned()),
        payment_method,
        placed_at: Some(format_ms(placed_at)),
        lines,
        discount_minor: discount,
        shipping_minor: shipping,
        tax_minor: tax,
        total_minor: total,
        city: opt(CITY),
    };
    Ok(OrderRow {
        first_line,
        customer,
        order,
        refunded_minor: refunded,
        return_reason,
    })
}

/// A whole number as spreadsheets write it: `3`, `3.00`, `٣` (Arabic-Indic digits).
fn parse_quantity(s: &str) -> Option<i64> {
    let whole = match s.split_once('.') {
        Some((w, frac)) if frac.bytes().all(|b| b == b'0') => w,
        Some(_) => return None,
        None => s,
    };
    if whole.is_empty() || whole.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for c in whole.chars() {
        let d = match c {
            '0'..='9' => c as u32 - '0' as u32,
            '\u{0660}'..='\u{0669}' => c as u32 - 0x0660,
            '\u{06F0}'..='\u{06F9}' => c as u32 - 0x06F0,
            _ => return None,
        };
        n = n.checked_mul(10)?.checked_add(d as i64)?;
    }
    Some(n)
}

fn parse_status(s: &str) -> Option<OrderStatus> {
    let l = s.trim().to_ascii_lowercase();
    OrderStatus::parse(&l).or(match l.as_str() {
        "canceled" => Some(OrderStatus::Cancelled),
        _ => None,
    })
}

/// Known reasons by their wire name (any case, spaces allowed); anything else is `other`.
fn parse_return_reason(s: &str) -> ReturnReason {
    use ReturnReason::*;
    let l = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    [
        Damaged,
        WrongItem,
        NotAsDescribed,
        SizeOrFit,
        ChangedMind,
        LateDelivery,
        Other,
    ]
    .into_iter()
    .find(|r| r.as_str() == l)
    .unwrap_or(Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "order_id,placed_at,currency,customer_email,customer_phone,sku,product_title,quantity,unit_price,shipping,total,status,payment_method,refunded,return_reason";

    fn orders(body: &str) -> Vec<Result<OrderRow, RowError>> {
        OrderCsv::new(format!("{H}\n{body}").as_bytes(), Some(3))
            .unwrap()
            .rows()
            .collect()
    }

    #[test]
    fn groups_lines_and_parses_kwd() {
        let r = orders(
            "A1,2024-03-05 10:00:00,KWD,sara@x.com,,OUD-1,Oud,2,12.345,1.500,,paid,knet,,\n\
             A1,,,,,DT-1,Dates,1,3.1,,,,,,\n\
             A2,2024-03-06,SAR,,0501234567,,,,,,99.50,delivered,COD,,\n",
        );
        assert_eq!(r.len(), 2);
        let a1 = r[0].as_ref().unwrap();
        assert_eq!(a1.first_line, 2);
        assert_eq!(a1.order.lines.len(), 2);
        assert_eq!(a1.order.lines[0].unit_price_minor, 12_345);
        assert_eq!(a1.order.lines[1].unit_price_minor, 3_100);
        assert_eq!(a1.order.shipping_minor, 1_500);
        assert_eq!(a1.order.currency, "KWD");
        assert_eq!(a1.order.status.as_deref(), Some("paid"));
        assert_eq!(
            a1.order.placed_at.as_deref(),
            Some("2024-03-05T10:00:00.000Z")
        );
        assert_eq!(a1.order.external_id.as_deref(), Some("A1"));
        assert_eq!(a1.order.customer_id, 0);
        assert_eq!(a1.order.source_id, Some(3));
        assert_eq!(a1.customer.identities[0].value, "sara@x.com");
        let a2 = r[1].as_ref().unwrap();
        assert_eq!(a2.first_line, 4);
        assert!(a2.order.lines.is_empty());
        assert_eq!(a2.order.total_minor, Some(9_950));
        assert_eq!(a2.order.payment_method.as_deref(), Some("cash_on_delivery"));
        assert_eq!(a2.customer.identities[0].kind, "phone");
    }

    #[test]
    fn a_bad_line_rejects_the_whole_order_and_parsing_continues() {
        let r = orders(
            "B1,2024-01-01,SAR,a@b.com,,S1,Tea,1,10,,,,,,\n\
             B1,2024-01-01,SAR,a@b.com,,S2,Cup,-1,5,,,,,,\n\
             B2,2024-01-01,SAR,a@b.com,,S1,Tea,1,10.001,,,,,,\n\
             B3,2024-01-01,XXX,a@b.com,,S1,Tea,1,10,,,,,,\n\
             B4,yesterday,SAR,a@b.com,,S1,Tea,1,10,,,,,,\n\
             B5,2024-01-01,SAR,,,S1,Tea,1,10,,,,,,\n\
             B6,2024-01-01,SAR,a@b.com,,S1,Tea,1,10,,5,,,6,damaged box\n\
             B7,2024-01-01,SAR,a@b.com,,S1,Tea,1,10,,,returned,,5,Damaged\n\
             B8,2024-01-01,SAR,a@b.com,,S1,Tea,1,10,,,,,,\n\
             B8,2024-01-02,SAR,a@b.com,,S1,Tea,1,10,,,,,,\n\
             B9,2024-01-01,SAR,a@b.com,,S1,Tea,1,10,,,,,,\n\
             B1,2024-01-01,SAR,a@b.com,,S1,Tea,1,10,,,,,,\n\
             B10,2024-01-01,SAR,a@b.com,,S1,Tea,1,-10,,,,,,\n",
        );
        let codes: Vec<_> = r
            .iter()
            .map(|x| {
                x.as_ref()
                    .map(|o| o.order.external_id.clone().unwrap())
                    .map_err(|e| (e.line, e.code))
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                Err((3, ErrorCode::InvalidQuantity)),
                Err((4, ErrorCode::InvalidAmount)),
                Err((5, ErrorCode::InvalidCurrency)),
                Err((6, ErrorCode::ValidationFailed)),
                Err((7, ErrorCode::ValidationFailed)),
                Err((8, ErrorCode::InvalidAmount)),
                Ok("B7".to_owned()),
                Err((11, ErrorCode::ValidationFailed)),
                Ok("B9".to_owned()),
                Err((13, ErrorCode::ValidationFailed)),
                Err((14, ErrorCode::InvalidAmount)),
            ]
        );
        let e = r[0].as_ref().unwrap_err();
        assert!(
            e.message.starts_with("order B1 (2 lines, all rejected)"),
            "{}",
            e.message
        );
        assert_eq!(e.field.as_deref(), Some("quantity"));
        let b7 = r[6].as_ref().unwrap();
        assert_eq!(
            (b7.refunded_minor, b7.return_reason.as_deref()),
            (500, Some("damaged"))
        );
        assert_eq!(parse_return_reason("damaged box"), ReturnReason::Other);
    }

    #[test]
    fn line_numbers_survive_blank_lines_and_multiline_cells() {
        let r = orders(
            "\n\nC1,2024-01-01,SAR,a@b.com,,S1,\"Tea\nbox\",1,10,,,,,,\n\n\nC2,2024-01-01,SAR,bad,,S1,Tea,1,10,,,,,,\n\nC3,2024-01-01,SAR,a@b.com,,S1,Tea,1,10,,,,,,",
        );
        assert_eq!(r[0].as_ref().unwrap().first_line, 4);
        assert_eq!(r[1].as_ref().unwrap_err().line, 8);
        assert_eq!(r[2].as_ref().unwrap().first_line, 10);
    }

    #[test]
    fn quantities_as_spreadsheets_write_them() {
        assert_eq!(parse_quantity("3"), Some(3));
        assert_eq!(parse_quantity("3.00"), Some(3));
        assert_eq!(parse_quantity("٣"), Some(3));
        assert_eq!(parse_quantity("۱۲"), Some(12));
        for bad in ["", "2.5", "-1", "x", "1e3", ".0", "99999999999999999999"] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_requires_columns() {
        let e = OrderCsv::new("order_id,currency\n".as_bytes(), None)
            .err()
            .unwrap();
        assert_eq!(
            e.missing_columns,
            vec![
                "placed_at",
                "customer_external_id|customer_email|customer_phone"
            ]
        );
        assert!(OrderCsv::new(
            "Order ID,Placed At,CURRENCY,Customer Email\n".as_bytes(),
            None
        )
        .is_ok());
    }
}
