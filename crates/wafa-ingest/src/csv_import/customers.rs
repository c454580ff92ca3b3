//! Shopify customer exports → [`CustomerInput`]s.
//!
//! Why Shopify's format: it is the export merchants already have (Salla and Zid exports are
//! commonly re-shaped into it), so importing it needs no spreadsheet work. Both the current
//! export (`Accepts Email Marketing`, `Default Address …`) and the older one (`Accepts
//! Marketing`, `Company`, `Address1`, …) are read. Values are kept raw where the server's
//! validation owns the rule (phones are read in the workspace's region there); emails are
//! checked here so a bad one is reported against its line.

use super::{
    missing_header_error, non_empty, norm_header, open, read_record, row_error, yes_no, FileError,
    Row, RowError, Source,
};
use csv::ByteRecord;
use serde_json::{Map, Value};
use std::io::Read;
use wafa_domain::{customer::normalize_tag, Email, ErrorCode};
use wafa_model::{ConsentInput, CustomerInput, IdentityInput};

/// The current Shopify customer export header, in order.
pub const SHOPIFY_CUSTOMERS_HEADER: &[&str] = &[
    "Customer ID",
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Default Address Company",
    "Default Address Address1",
    "Default Address Address2",
    "Default Address City",
    "Default Address Province Code",
    "Default Address Country Code",
    "Default Address Zip",
    "Default Address Phone",
    "Phone",
    "Accepts SMS Marketing",
    "Total Spent",
    "Total Orders",
    "Note",
    "Tax Exempt",
    "Tags",
];

/// Which generation of Shopify's export the header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopifyVariant {
    /// `Customer ID`, `Accepts Email Marketing`, `Default Address …` (2023 onwards).
    Current,
    /// `Accepts Marketing`, `Company`, `Address1`, `City`, `Province`, `Country Code`, `Zip`.
    Legacy,
}

#[derive(Clone, Copy)]
enum C {
    CustomerId,
    FirstName,
    LastName,
    Email,
    AcceptsEmail,
    Company,
    Address1,
    Address2,
    City,
    Province,
    CountryCode,
    Zip,
    AddressPhone,
    Phone,
    AcceptsSms,
    TotalSpent,
    TotalOrders,
    Note,
    TaxExempt,
    Tags,
}
const N: usize = 20;

/// (column, accepted normalised names in order of preference, display name)
const COLUMNS: [(C, &[&str], &str); N] = [
    (C::CustomerId, &["customer_id"], "Customer ID"),
    (C::FirstName, &["first_name"], "First Name"),
    (C::LastName, &["last_name"], "Last Name"),
    (C::Email, &["email"], "Email"),
    (
        C::AcceptsEmail,
        &["accepts_email_marketing", "accepts_marketing"],
        "Accepts Email Marketing",
    ),
    (
        C::Company,
        &["default_address_company", "company"],
        "Default Address Company",
    ),
    (
        C::Address1,
        &["default_address_address1", "address1"],
        "Default Address Address1",
    ),
    (
        C::Address2,
        &["default_address_address2", "address2"],
        "Default Address Address2",
    ),
    (
        C::City,
        &["default_address_city", "city"],
        "Default Address City",
    ),
    (
        C::Province,
        &["default_address_province_code", "province_code", "province"],
        "Default Address Province Code",
    ),
    (
        C::CountryCode,
        &["default_address_country_code", "country_code"],
        "Default Address Country Code",
    ),
    (
        C::Zip,
        &["default_address_zip", "zip"],
        "Default Address Zip",
    ),
    (
        C::AddressPhone,
        &["default_address_phone"],
        "Default Address Phone",
    ),
    (C::Phone, &["phone"], "Phone"),
    (
        C::AcceptsSms,
        &["accepts_sms_marketing"],
        "Accepts SMS Marketing",
    ),
    (C::TotalSpent, &["total_spent"], "Total Spent"),
    (C::TotalOrders, &["total_orders"], "Total Orders"),
    (C::Note, &["note"], "Note"),
    (C::TaxExempt, &["tax_exempt"], "Tax Exempt"),
    (C::Tags, &["tags"], "Tags"),
];
const REQUIRED: [C; 3] = [C::FirstName, C::LastName, C::Email];

/// How many of the header's columns are Shopify customer export names.
pub(crate) fn score(norm: &[String]) -> usize {
    norm.iter()
        .filter(|h| {
            COLUMNS
                .iter()
                .any(|(_, names, _)| names.contains(&h.as_str()))
        })
        .count()
}

pub(crate) struct Cols {
    idx: [Option<usize>; N],
    names: [&'static str; N],
    variant: ShopifyVariant,
}

impl Cols {
    pub(crate) fn from_header(norm: &[String]) -> Result<Cols, FileError> {
        let mut idx = [None; N];
        let mut names = [""; N];
        for (c, accepted, display) in COLUMNS {
            idx[c as usize] = accepted
                .iter()
                .find_map(|a| norm.iter().position(|h| h == a));
            names[c as usize] = display;
        }
        let missing: Vec<String> = REQUIRED
            .iter()
            .filter(|c| idx[**c as usize].is_none())
            .map(|c| names[*c as usize].to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(missing_header_error(missing, "Shopify customer export"));
        }
        let variant = if norm
            .iter()
            .any(|h| h == "accepts_email_marketing" || h.starts_with("default_address_"))
        {
            ShopifyVariant::Current
        } else {
            ShopifyVariant::Legacy
        };
        Ok(Cols {
            idx,
            names,
            variant,
        })
    }
}

/// One parsed customer row.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRow {
    /// 1-based physical line of the row (header = 1).
    pub line: u64,
    pub customer: CustomerInput,
    /// `Default Address Company` (`Company`): the server finds or creates the company.
    pub company: Option<String>,
    /// `Note`: stored as a note on the customer.
    pub note: Option<String>,
}

/// A Shopify customer export, header checked, ready to stream rows.
pub struct CustomerCsv<R: Read> {
    rdr: csv::Reader<Source<R>>,
    cols: Cols,
    header_len: usize,
    source_id: Option<i64>,
}

impl<R: Read> CustomerCsv<R> {
    /// Read and check the header. `reader` yields UTF-8 text (see [`decode`](crate::csv_import::decode));
    /// `source_id` is the store the `Customer ID`s belong to.
    pub fn new(reader: R, source_id: Option<i64>) -> Result<Self, FileError> {
        let (rdr, names) = open(reader)?;
        let header_len = names.len();
        let norm: Vec<String> = names.iter().map(|n| norm_header(n)).collect();
        let cols = Cols::from_header(&norm)?;
        Ok(CustomerCsv {
            rdr,
            cols,
            header_len,
            source_id,
        })
    }
    pub fn variant(&self) -> ShopifyVariant {
        self.cols.variant
    }
    /// Stream the rows: `Ok` for each good row, `Err` for each bad one; parsing continues.
    pub fn rows(self) -> CustomerRows<R> {
        CustomerRows {
            csv: self,
            rec: ByteRecord::new(),
            done: false,
        }
    }
}

/// Iterator over a [`CustomerCsv`]'s rows.
pub struct CustomerRows<R: Read> {
    csv: CustomerCsv<R>,
    rec: ByteRecord,
    done: bool,
}

impl<R: Read> Iterator for CustomerRows<R> {
    type Item = Result<CustomerRow, RowError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match read_record(&mut self.csv.rdr, &mut self.rec) {
            Ok(Some(line)) => Some(parse_row(
                &self.csv.cols,
                self.header_len(),
                self.csv.source_id,
                &self.rec,
                line,
            )),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                Some(Err(row_error(
                    line,
                    ErrorCode::BadRequest,
                    None,
                    format!("could not read the file: {e}"),
                )))
            }
        }
    }
}

impl<R: Read> CustomerRows<R> {
    fn header_len(&self) -> usize {
        self.csv.header_len
    }
}

fn parse_row(
    cols: &Cols,
    header_len: usize,
    source_id: Option<i64>,
    rec: &ByteRecord,
    line: u64,
) -> Result<CustomerRow, RowError> {
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
    let row = Row::new(rec);
    let get = |c: C| row.get(cols.idx[c as usize], line, cols.names[c as usize]);

    let mut customer = CustomerInput {
        first_name: non_empty(get(C::FirstName)?),
        last_name: non_empty(get(C::LastName)?),
        ..Default::default()
    };

    let id = get(C::CustomerId)?;
    if !id.is_empty() {
        customer.identities.push(IdentityInput {
            kind: "external".into(),
            value: id.to_owned(),
            source_id,
            verified: false,
        });
    }
    let email = get(C::Email)?;
    if !email.is_empty() {
        let e = Email::parse(email).map_err(|e| {
            row_error(
                line,
                ErrorCode::InvalidEmail,
                Some(cols.names[C::Email as usize]),
                e.detail,
            )
        })?;
        // Shopify has confirmed these addresses with the customer.
        customer.identities.push(IdentityInput {
            kind: "email".into(),
            value: e.as_str().to_owned(),
            source_id: None,
            verified: true,
        });
    }
    let phone = match get(C::Phone)? {
        "" => get(C::AddressPhone)?,
        p => p,
    };
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
            line,
            ErrorCode::ValidationFailed,
            None,
            "the row has no Customer ID, Email or Phone",
        ));
    }

    for (c, channel) in [(C::AcceptsEmail, "email"), (C::AcceptsSms, "sms")] {
        // An unreadable answer is recorded as nothing: never guess consent.
        if let Some(yes) = yes_no(get(c)?) {
            customer.consents.push(ConsentInput {
                channel: channel.into(),
                state: if yes { "granted" } else { "revoked" }.into(),
                source: Some("import".into()),
            });
        }
    }

    customer.city = non_empty(get(C::City)?);
    let country = get(C::CountryCode)?;
    let mut attributes = Map::new();
    if country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphabetic()) {
        customer.country = Some(country.to_ascii_uppercase());
    } else if !country.is_empty() {
        attributes.insert("country".into(), Value::String(country.to_owned()));
    }
    for tag in get(C::Tags)?.split(',').filter_map(normalize_tag) {
        if !customer.tags.contains(&tag) {
            customer.tags.push(tag);
        }
    }

    for (c, key) in [
        (C::Address1, "address1"),
        (C::Address2, "address2"),
        (C::Province, "province_code"),
        (C::Zip, "zip"),
        (C::TotalSpent, "shopify_total_spent"),
    ] {
        let v = get(c)?;
        if !v.is_empty() {
            attributes.insert(key.into(), Value::String(v.to_owned()));
        }
    }
    let orders = get(C::TotalOrders)?;
    if !orders.is_empty() {
        let v = orders
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(orders.to_owned()));
        attributes.insert("shopify_total_orders".into(), v);
    }
    let tax = get(C::TaxExempt)?;
    if !tax.is_empty() {
        let v = yes_no(tax)
            .map(Value::Bool)
            .unwrap_or_else(|| Value::String(tax.to_owned()));
        attributes.insert("shopify_tax_exempt".into(), v);
    }
    customer.attributes = attributes;

    let company = non_empty(get(C::Company)?);
    let note = get(C::Note)?;
    // Excel keeps CRLF inside quoted multi-line notes; store plain `\n` line breaks.
    let note = if note.is_empty() {
        None
    } else if note.contains('\r') {
        Some(note.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Some(note.to_owned())
    };
    Ok(CustomerRow {
        line,
        customer,
        company,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(csv: &str) -> Vec<Result<CustomerRow, RowError>> {
        CustomerCsv::new(csv.as_bytes(), Some(7))
            .unwrap()
            .rows()
            .collect()
    }

    #[test]
    fn maps_a_current_export_row() {
        let csv = format!(
            "{}\n'7001,نورة,القحطاني,Noura@Example.SA,yes,شركة الأفق,حي النخيل,,الرياض,RI,sa,'12345,,'+966501234567,no,1250.50,3,عميلة مميزة,no,\"vip, wholesale ,vip\"\n",
            SHOPIFY_CUSTOMERS_HEADER.join(",")
        );
        let r = rows(&csv).pop().unwrap().unwrap();
        assert_eq!(r.line, 2);
        let c = &r.customer;
        assert_eq!(c.first_name.as_deref(), Some("نورة"));
        assert_eq!(c.identities.len(), 3);
        assert_eq!(
            (
                c.identities[0].kind.as_str(),
                c.identities[0].value.as_str(),
                c.identities[0].source_id
            ),
            ("external", "7001", Some(7))
        );
        assert_eq!(
            (c.identities[1].value.as_str(), c.identities[1].verified),
            ("noura@example.sa", true)
        );
        assert_eq!(
            (c.identities[2].value.as_str(), c.identities[2].verified),
            ("+966501234567", false)
        );
        assert_eq!(
            c.consents[0],
            ConsentInput {
                channel: "email".into(),
                state: "granted".into(),
                source: Some("import".into())
            }
        );
        assert_eq!(c.consents[1].state, "revoked");
        assert_eq!(c.country.as_deref(), Some("SA"));
        assert_eq!(c.city.as_deref(), Some("الرياض"));
        assert_eq!(c.tags, vec!["vip", "wholesale"]);
        assert_eq!(c.attributes["shopify_total_spent"], "1250.50");
        assert_eq!(c.attributes["shopify_total_orders"], 3);
        assert_eq!(c.attributes["shopify_tax_exempt"], false);
        assert_eq!(c.attributes["zip"], "12345");
        assert_eq!(c.attributes["province_code"], "RI");
        assert_eq!(r.company.as_deref(), Some("شركة الأفق"));
        assert_eq!(r.note.as_deref(), Some("عميلة مميزة"));
    }

    #[test]
    fn falls_back_to_address_phone_and_reports_bad_rows() {
        let h = SHOPIFY_CUSTOMERS_HEADER.join(",");
        let csv = format!(
            "{h}\n1,A,B,,,,,,,,,,'0501234567,,,,,,,\n2,A,B,not-an-email,,,,,,,,,,,,,,,,\n,,,,,,,,,,,,,,,,,,,\n3,too,few\n4,C,D,c@d.com,maybe,,,,,,,,,,,,,,,\n"
        );
        let r = rows(&csv);
        assert_eq!(r.len(), 5);
        assert_eq!(
            r[0].as_ref().unwrap().customer.identities[1].value,
            "0501234567"
        );
        let e = r[1].as_ref().unwrap_err();
        assert_eq!(
            (e.line, e.code, e.field.as_deref()),
            (3, ErrorCode::InvalidEmail, Some("Email"))
        );
        assert_eq!(r[2].as_ref().unwrap_err().line, 4);
        assert_eq!(r[3].as_ref().unwrap_err().code, ErrorCode::ValidationFailed);
        let ok = r[4].as_ref().unwrap();
        assert_eq!(ok.line, 6);
        assert!(
            ok.customer.consents.is_empty(),
            "unreadable consent must not be recorded"
        );
    }

    #[test]
    fn line_numbers_in_crlf_files_with_blank_lines() {
        let h = SHOPIFY_CUSTOMERS_HEADER.join(",");
        let csv = format!("{h}\r\n1,A,B,,,,,,,,,,,,,,,\"x\r\ny\",,\r\n\r\n2,\"C\r\nD\",E,bad,,,,,,,,,,,,,,,,\r\n3,F,G,,,,,,,,,,,,,,,,,tag\r\n");
        let r = rows(&csv);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].as_ref().unwrap().line, 2);
        assert_eq!(r[0].as_ref().unwrap().note.as_deref(), Some("x\ny"));
        assert_eq!(r[1].as_ref().unwrap_err().line, 5);
        let last = r[2].as_ref().unwrap();
        assert_eq!(
            (last.line, last.customer.tags.clone()),
            (7, vec!["tag".to_owned()])
        );
    }

    #[test]
    fn reads_the_legacy_export() {
        let csv = "First Name,Last Name,Email,Company,Address1,Address2,City,Province,Province Code,Country,Country Code,Zip,Phone,Accepts Marketing,Total Spent,Total Orders,Tags,Note,Tax Exempt\n\
                   Ahmed,Ali,a@b.com,ACME,St 1,,Dubai,Dubai,DU,United Arab Emirates,AE,,'+971501234567,yes,10.00,1,,,no\n";
        let c = CustomerCsv::new(csv.as_bytes(), None).unwrap();
        assert_eq!(c.variant(), ShopifyVariant::Legacy);
        let r = c.rows().next().unwrap().unwrap();
        assert_eq!(r.company.as_deref(), Some("ACME"));
        assert_eq!(r.customer.attributes["province_code"], "DU");
        assert_eq!(r.customer.consents.len(), 1);
        assert_eq!(r.customer.country.as_deref(), Some("AE"));
    }

    #[test]
    fn header_errors_list_missing_columns() {
        let e = CustomerCsv::new("Customer ID,First Name,Phone\n".as_bytes(), None)
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::CsvInvalidHeader);
        assert_eq!(e.missing_columns, vec!["Last Name", "Email"]);
    }
}
