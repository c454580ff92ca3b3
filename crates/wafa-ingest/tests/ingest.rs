//! End-to-end tests of wafa-ingest on real-looking files: encodings, both CSV formats, bad
//! rows among good ones, the demo store's validity, and the synthetic writer round-tripping
//! through the parsers.

use std::collections::{HashMap, HashSet};
use wafa_domain::customer::parse_birthday;
use wafa_domain::time::parse_timestamp_ms;
use wafa_domain::{
    Channel, ConsentState, Currency, Email, ErrorCode, Language, OrderStatus, Phone, Region,
};
use wafa_ingest::csv_import::{
    decode, detect_format, CsvFormat, CustomerCsv, OrderCsv, TextEncoding, ORDERS_HEADER,
    SHOPIFY_CUSTOMERS_HEADER,
};
use wafa_ingest::demo::{generate, DemoConfig};
use wafa_ingest::synth;

fn shopify_header() -> String {
    // The real export header (with its CRLF), when the shared fixtures are beside the repo.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/shopify_customers_export.header.csv"
    );
    match std::fs::read_to_string(path) {
        Ok(h) => {
            assert_eq!(
                h.trim_end(),
                SHOPIFY_CUSTOMERS_HEADER.join(","),
                "the fixture header changed"
            );
            h.trim_end().to_owned()
        }
        Err(_) => SHOPIFY_CUSTOMERS_HEADER.join(","),
    }
}

const SHOPIFY_BODY: &str = "\
'7001,محمد,العتيبي,mohammed@example.sa,yes,,حي الملقا,,الرياض,RI,SA,13521,,'+966501234567,yes,1200.00,4,\"عميل مميز\nيفضل الواتساب\",no,\"vip, oud\"\r
7002,فاطمه,الزهراء,fatma@@example.com,no,,,,Cairo,C,EG,,,+201012345678,no,0.00,0,,no,\r
7003,Sarah,Khan,sarah.khan@example.ae,no,Gulf Gifts LLC,,,Dubai,DU,AE,,'0097150 123 4567,,,350.5,2,,yes,wholesale\r
7004,منى,الشهري,,,,,,,,,,,,,,,,,\r
";

#[test]
fn shopify_export_utf8_bom_with_bad_rows() {
    let text = format!("{}\r\n{SHOPIFY_BODY}", shopify_header());
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    let d = decode(&bytes).unwrap();
    assert_eq!(d.encoding, TextEncoding::Utf8Bom);
    assert_eq!(detect_format(&d.text).unwrap(), CsvFormat::ShopifyCustomers);
    let rows: Vec<_> = CustomerCsv::new(d.text.as_bytes(), Some(9))
        .unwrap()
        .rows()
        .collect();
    assert_eq!(rows.len(), 4);

    let r = rows[0].as_ref().unwrap();
    assert_eq!(r.line, 2);
    assert_eq!(r.note.as_deref(), Some("عميل مميز\nيفضل الواتساب"));
    assert_eq!(
        r.customer.identities[0].value, "7001",
        "the Excel guard is stripped from ids too"
    );
    assert_eq!(r.customer.identities[2].value, "+966501234567");
    assert_eq!(r.customer.tags, vec!["vip", "oud"]);
    assert_eq!(r.customer.consents.len(), 2);

    // The quoted note spans two physical lines, so the next record starts on line 4.
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!(
        (e.line, e.code, e.field.as_deref()),
        (4, ErrorCode::InvalidEmail, Some("Email"))
    );

    let r = rows[2].as_ref().unwrap();
    assert_eq!(r.line, 5);
    assert_eq!(r.company.as_deref(), Some("Gulf Gifts LLC"));
    assert_eq!(
        r.customer.identities[2].value, "0097150 123 4567",
        "Default Address Phone is the fallback"
    );
    assert_eq!(r.customer.attributes["shopify_tax_exempt"], true);

    // Only a Customer ID: still a customer (an external identity).
    let r = rows[3].as_ref().unwrap();
    assert_eq!(r.customer.identities.len(), 1);
    assert_eq!(r.customer.first_name.as_deref(), Some("منى"));
}

#[test]
fn windows_1256_arabic_excel_export() {
    let text = format!("{}\r\n{SHOPIFY_BODY}", shopify_header());
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1256.encode(&text);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the sample must not be UTF-8"
    );
    let d = decode(&bytes).unwrap();
    assert_eq!(d.encoding, TextEncoding::Windows1256);
    let names: Vec<_> = CustomerCsv::new(d.text.as_bytes(), None)
        .unwrap()
        .rows()
        .filter_map(Result::ok)
        .map(|r| {
            format!(
                "{} {}",
                r.customer.first_name.unwrap(),
                r.customer.last_name.unwrap()
            )
        })
        .collect();
    assert_eq!(names, vec!["محمد العتيبي", "Sarah Khan", "منى الشهري"]);
}

#[test]
fn utf16_orders_file_with_kwd_and_a_rejected_order() {
    let body = "\
order_id,order_number,placed_at,status,payment_method,currency,customer_external_id,customer_email,customer_phone,customer_first_name,customer_last_name,city,sku,product_title,quantity,unit_price,discount,shipping,tax,total,refunded,return_reason
K-1,#1,2024-03-05T14:00:00+03:00,paid,knet,KWD,c-1,sara@example.com,+96550123456,سارة,العنزي,الكويت,OUD-1,دهن عود,1,12.345,0.500,1.250,0,,,
K-1,,,,,,,,,,,,DAT-1,تمر سكري,2,\"1,003.125\",,,,,,
K-2,#2,2024-03-06 09:30:00,delivered,COD,SAR,,,0501234567,محمد,,الرياض,S1,Tea,1,10,,,,,,
K-2,,,,,,,,,,,,S2,Cup,1,10.555,,,,,,
K-2,,,,,,,,,,,,S3,Pot,1,20,,,,,,
K-3,#3,2024-03-07,refunded,mada,KWD,c-3,,,,,,OUD-1,دهن عود,1,12.345,,,,12.345,12.345,Damaged
";
    let mut bytes = vec![0xFF, 0xFE];
    for u in body.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let d = decode(&bytes).unwrap();
    assert_eq!(d.encoding, TextEncoding::Utf16Le);
    assert_eq!(detect_format(&d.text).unwrap(), CsvFormat::GenericOrders);
    let rows: Vec<_> = OrderCsv::new(d.text.as_bytes(), Some(2))
        .unwrap()
        .rows()
        .collect();
    assert_eq!(rows.len(), 3);

    let k1 = rows[0].as_ref().unwrap();
    assert_eq!(k1.first_line, 2);
    assert_eq!(
        k1.order
            .lines
            .iter()
            .map(|l| l.unit_price_minor)
            .collect::<Vec<_>>(),
        vec![12_345, 1_003_125]
    );
    assert_eq!(
        (k1.order.discount_minor, k1.order.shipping_minor),
        (500, 1_250)
    );
    assert_eq!(k1.order.payment_method.as_deref(), Some("other"));
    assert_eq!(k1.customer.first_name.as_deref(), Some("سارة"));
    assert_eq!(k1.customer.identities.len(), 3);

    // One bad line (10.555 SAR has three decimals) rejects all three lines of K-2.
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!(
        (e.line, e.code, e.field.as_deref()),
        (5, ErrorCode::InvalidAmount, Some("unit_price"))
    );
    assert!(
        e.message.contains("K-2") && e.message.contains("3 lines"),
        "{}",
        e.message
    );

    let k3 = rows[2].as_ref().unwrap();
    assert_eq!(k3.first_line, 7);
    assert_eq!(
        (k3.refunded_minor, k3.order.total_minor),
        (12_345, Some(12_345))
    );
    assert_eq!(k3.return_reason.as_deref(), Some("damaged"));
    assert_eq!(k3.order.payment_method.as_deref(), Some("card"));
}

#[test]
fn wrong_headers_are_file_errors() {
    let e = detect_format("Name,Mobile,City\nAli,050,Riyadh\n").unwrap_err();
    assert_eq!(e.code, ErrorCode::CsvInvalidHeader);
    let e = OrderCsv::new(
        "order_id,placed_at,customer_email,sku\n1,2024-01-01,a@b.co,x\n".as_bytes(),
        None,
    )
    .err()
    .unwrap();
    assert_eq!(
        (e.code, e.missing_columns.clone()),
        (ErrorCode::CsvInvalidHeader, vec!["currency".to_owned()])
    );
    assert!(e.message.contains("currency"));
    // A customers file given to the orders parser is refused before any row.
    let e = OrderCsv::new(SHOPIFY_CUSTOMERS_HEADER.join(",").as_bytes(), None)
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::CsvInvalidHeader);
    let e = CustomerCsv::new(ORDERS_HEADER.join(",").as_bytes(), None)
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::CsvInvalidHeader);
    assert_eq!(
        decode(b"PK\x03\x04\x00\x00\xff").unwrap_err().code,
        ErrorCode::CsvInvalidEncoding
    );
}

#[test]
fn demo_store_is_valid_and_realistic() {
    let now = 1_763_800_000_000; // 2025-11-22
    let cfg = DemoConfig::new(2026, now);
    let s = generate(&cfg);
    let sa = Region::default();

    assert_eq!(s.customers.len(), 3_000);
    assert_eq!(s.products.len(), 60);
    assert_eq!(s.companies.len(), 8);
    for p in &s.products {
        assert!(p.price_minor > 0 && Currency::parse(&p.currency).is_ok());
        assert!(p
            .title_ar
            .as_deref()
            .is_some_and(|t| t.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))));
    }
    let mut per_company = vec![0; s.companies.len()];
    let mut phones = HashSet::new();
    let mut emails = HashSet::new();
    let mut first_names = HashSet::new();
    for c in &s.customers {
        let i = &c.input;
        if let Some(co) = c.company {
            per_company[co] += 1;
        }
        assert!(i.phone.is_some() || i.email.is_some());
        if let Some(p) = &i.phone {
            let p = Phone::parse(p, sa).unwrap_or_else(|e| panic!("{p}: {e}"));
            assert!(phones.insert(p), "duplicate phone");
        }
        if let Some(e) = &i.email {
            let e = Email::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
            assert!(emails.insert(e), "duplicate email");
        }
        if let Some(b) = &i.birthday {
            assert!(parse_birthday(b).is_some(), "{b}");
        }
        assert!(Language::parse(i.language.as_deref().unwrap()).is_some());
        assert!(matches!(i.gender.as_deref(), Some("male" | "female")));
        for t in &i.tags {
            assert_eq!(
                wafa_domain::customer::normalize_tag(t).as_deref(),
                Some(t.as_str())
            );
        }
        assert!(i.country.as_deref().is_some_and(|c| c.len() == 2));
        for consent in &i.consents {
            assert!(
                Channel::parse(&consent.channel).is_some()
                    && ConsentState::parse(&consent.state).is_some()
            );
        }
        assert!(parse_timestamp_ms(i.created_at.as_deref().unwrap()).unwrap() <= now);
        first_names.insert(i.first_name.clone().unwrap());
    }
    assert!(
        per_company.iter().all(|k| (2..=5).contains(k)),
        "{per_company:?}"
    );
    for (a, b) in [
        ("أحمد", "احمد"),
        ("فاطمة", "فاطمه"),
        ("منى", "مني"),
        ("نورة", "نوره"),
        ("ليلى", "ليلي"),
    ] {
        assert!(
            first_names.contains(a) && first_names.contains(b),
            "{a}/{b}"
        );
    }
    assert!(first_names.iter().any(|n| n.is_ascii()), "expat names");
    let notes: Vec<&String> = s.customers.iter().flat_map(|c| &c.notes).collect();
    assert!(notes.iter().any(|n| n.is_ascii()) && notes.iter().any(|n| !n.is_ascii()));

    let currency_of = HashMap::from([
        ("SA", "SAR"),
        ("AE", "AED"),
        ("KW", "KWD"),
        ("EG", "EGP"),
        ("BH", "BHD"),
        ("QA", "QAR"),
        ("OM", "OMR"),
    ]);
    let (mut cod, mut cancelled, mut returned, mut kwd) = (0, 0, 0, 0);
    let mut per_customer = vec![0; s.customers.len()];
    let mut last_placed = i64::MIN;
    for o in &s.orders {
        let i = &o.input;
        per_customer[o.customer] += 1;
        let country = s.customers[o.customer].input.country.as_deref().unwrap();
        assert_eq!(i.currency, currency_of[country]);
        let cur = Currency::parse(&i.currency).unwrap();
        assert_eq!(o.line_products.len(), i.lines.len());
        assert!(!i.lines.is_empty());
        let mut sum = 0;
        for (l, p) in i.lines.iter().zip(&o.line_products) {
            assert!(l.quantity > 0 && l.unit_price_minor > 0);
            assert_eq!(l.sku, s.products[*p].sku);
            assert_eq!(
                cur.parse_amount(&cur.format_amount(l.unit_price_minor))
                    .unwrap(),
                l.unit_price_minor
            );
            sum += l.quantity * l.unit_price_minor;
        }
        assert!(i.discount_minor >= 0 && i.shipping_minor >= 0 && i.tax_minor >= 0);
        let total = i.total_minor.unwrap();
        assert_eq!(
            total,
            sum + i.shipping_minor + i.tax_minor - i.discount_minor
        );
        assert!(total >= 0 && o.refunded_minor >= 0 && o.refunded_minor <= total);

        let h = &o.history;
        assert_eq!(h[0].0, OrderStatus::Placed);
        assert_eq!(
            parse_timestamp_ms(i.placed_at.as_deref().unwrap()),
            Some(h[0].1)
        );
        assert!(h[0].1 >= last_placed, "orders sorted by placed_at");
        last_placed = h[0].1;
        assert!(h[0].1 >= now - 731 * 86_400_000);
        for w in h.windows(2) {
            assert!(w[0].0.can_move_to(w[1].0), "{:?} -> {:?}", w[0].0, w[1].0);
            assert!(w[0].1 <= w[1].1);
        }
        assert!(h.last().unwrap().1 <= now);
        let last = h.last().unwrap().0;
        assert_eq!(i.status.as_deref(), Some(last.as_str()));
        assert_eq!(o.refunded_minor > 0, last == OrderStatus::Refunded);
        for (st, _, reason) in h {
            if *st == OrderStatus::Returned {
                assert!(reason.is_some());
            }
        }
        cod += (i.payment_method.as_deref() == Some("cash_on_delivery")) as usize;
        cancelled += h.iter().any(|x| x.0 == OrderStatus::Cancelled) as usize;
        returned += h.iter().any(|x| x.0 == OrderStatus::Returned) as usize;
        if i.currency == "KWD" {
            kwd += 1;
        }
    }
    let n = s.orders.len() as f64;
    eprintln!(
        "demo: {} customers, {} orders, COD {cod}, cancelled {cancelled}, returned {returned}, KWD {kwd}, {} carts",
        s.customers.len(),
        s.orders.len(),
        s.carts.len()
    );
    let share = |k: usize| k as f64 / n;
    assert!(n > 4_000.0 && n < 20_000.0, "{n} orders");
    assert!((0.20..=0.35).contains(&share(cod)), "COD {}", share(cod));
    assert!(
        (0.03..=0.07).contains(&share(cancelled)),
        "cancelled {}",
        share(cancelled)
    );
    assert!(
        (0.025..=0.055).contains(&share(returned)),
        "returned {}",
        share(returned)
    );
    assert!(kwd > 50);
    let buyers = per_customer.iter().filter(|k| **k > 0).count();
    let one_time = per_customer.iter().filter(|k| **k == 1).count();
    let loyal = per_customer.iter().filter(|k| **k >= 8).count();
    assert!(
        one_time as f64 > 0.35 * buyers as f64,
        "{one_time}/{buyers}"
    );
    eprintln!("demo: {buyers} buyers, {one_time} one-time, {loyal} with 8+ orders");
    assert!(loyal > 30 && buyers < s.customers.len());
    assert!(s
        .customers
        .iter()
        .any(|c| c.input.tags.iter().any(|t| t == "vip")));

    assert!((250..=400).contains(&s.carts.len()));
    let statuses: HashSet<_> = s
        .carts
        .iter()
        .map(|c| c.input.status.clone().unwrap())
        .collect();
    assert_eq!(statuses.len(), 3);
    for c in &s.carts {
        assert!(Currency::parse(&c.input.currency).is_ok() && !c.input.lines.is_empty());
        assert!(parse_timestamp_ms(c.input.updated_at.as_deref().unwrap()).unwrap() <= now);
        assert_eq!(c.line_products.len(), c.input.lines.len());
    }
    assert!(s.carts.iter().any(|c| c.customer.is_none()));
}

#[test]
fn synthetic_files_round_trip_through_the_parsers() {
    let cfg = synth::SynthConfig {
        seed: 5,
        customers: 2_000,
        order_lines: 6_000,
        now_ms: 1_763_800_000_000,
    };
    let mut customers = Vec::new();
    let written = synth::write_customers(&cfg, &mut customers).unwrap();
    assert_eq!(written, 2_000);
    let mut orders = Vec::new();
    let lines = synth::write_orders(&cfg, &mut orders).unwrap();
    assert_eq!(lines, 6_000);

    let d = decode(&customers).unwrap();
    assert_eq!(detect_format(&d.text).unwrap(), CsvFormat::ShopifyCustomers);
    let mut ids = HashSet::new();
    let mut emails = HashSet::new();
    let mut phones = HashSet::new();
    for row in CustomerCsv::new(d.text.as_bytes(), Some(1)).unwrap().rows() {
        let row = row.unwrap();
        for i in &row.customer.identities {
            let fresh = match i.kind.as_str() {
                "external" => ids.insert(i.value.clone()),
                "email" => emails.insert(i.value.clone()),
                _ => phones.insert(Phone::parse(&i.value, Region::default()).unwrap()),
            };
            assert!(fresh, "duplicate {} {}", i.kind, i.value);
        }
    }
    assert_eq!(ids.len(), 2_000);
    assert!(emails.len() > 1_500 && phones.len() > 1_500);

    let d = decode(&orders).unwrap();
    assert_eq!(detect_format(&d.text).unwrap(), CsvFormat::GenericOrders);
    let mut n_lines = 0;
    for row in OrderCsv::new(d.text.as_bytes(), Some(1)).unwrap().rows() {
        let row = row.unwrap();
        n_lines += row.order.lines.len().max(1);
        let ext = row
            .customer
            .identities
            .iter()
            .find(|i| i.kind == "external")
            .unwrap();
        assert!(
            ids.contains(&ext.value),
            "order references an existing customer"
        );
        if let Some(e) = row.customer.identities.iter().find(|i| i.kind == "email") {
            assert!(emails.contains(&e.value));
        }
    }
    assert_eq!(n_lines, 6_000);
    // Deterministic.
    let mut again = Vec::new();
    synth::write_orders(&cfg, &mut again).unwrap();
    assert_eq!(again, orders);
}

/// A reader that hands out at most 3 bytes per call, as a slow upload stream would.
struct Trickle<'a>(&'a [u8]);
impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(buf.len()).min(3);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn any_reader_streams_the_same_rows() {
    let cfg = synth::SynthConfig {
        seed: 9,
        customers: 300,
        order_lines: 500,
        now_ms: 1_763_800_000_000,
    };
    let (mut c, mut o) = (Vec::new(), Vec::new());
    synth::write_customers(&cfg, &mut c).unwrap();
    synth::write_orders(&cfg, &mut o).unwrap();
    let a: Vec<_> = CustomerCsv::new(&c[..], None).unwrap().rows().collect();
    let b: Vec<_> = CustomerCsv::new(Trickle(&c), None)
        .unwrap()
        .rows()
        .collect();
    assert_eq!(a.len(), 300);
    assert_eq!(a, b);
    let a: Vec<_> = OrderCsv::new(&o[..], None).unwrap().rows().collect();
    let b: Vec<_> = OrderCsv::new(Trickle(&o), None).unwrap().rows().collect();
    assert_eq!(a, b);
    assert!(a.iter().all(Result::is_ok));
}

#[test]
fn garbage_never_panics() {
    // Mutate valid files at random (quotes, separators, newlines, stray bytes, truncation)
    // and run everything on the result: every outcome must be an Ok or an Err, not a panic.
    let cfg = synth::SynthConfig {
        seed: 3,
        customers: 30,
        order_lines: 40,
        now_ms: 1_763_800_000_000,
    };
    let (mut c, mut o) = (Vec::new(), Vec::new());
    synth::write_customers(&cfg, &mut c).unwrap();
    synth::write_orders(&cfg, &mut o).unwrap();
    let mut rng = wafa_ingest::rng::SplitMix64::new(77);
    let noise = [
        b'"', b',', b'\n', b'\r', b'\'', 0xFF, 0xD8, 0x00, b'-', b'.', b'9',
    ];
    let mut errors = 0;
    for round in 0..400 {
        let mut bytes = if round % 2 == 0 { c.clone() } else { o.clone() };
        for _ in 0..rng.range(1, 12) {
            let at = rng.below(bytes.len() as u64) as usize;
            match rng.below(3) {
                0 => bytes[at] = *rng.pick(&noise),
                1 => bytes.insert(at, *rng.pick(&noise)),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        if rng.chance(0.2) {
            bytes.truncate(rng.below(bytes.len() as u64) as usize);
        }
        let Ok(d) = decode(&bytes) else {
            errors += 1;
            continue;
        };
        let _ = detect_format(&d.text);
        if let Ok(p) = CustomerCsv::new(d.text.as_bytes(), Some(1)) {
            errors += p.rows().filter(Result::is_err).count();
        }
        if let Ok(p) = OrderCsv::new(d.text.as_bytes(), Some(1)) {
            errors += p.rows().filter(Result::is_err).count();
        }
    }
    assert!(
        errors > 100,
        "the mutations should produce errors ({errors})"
    );
}

#[test]
fn the_documented_example_parses() {
    // The example in ORDERS_CSV.md is what merchants copy: it must stay valid.
    let doc = include_str!("../ORDERS_CSV.md");
    let start = doc.find("```csv\n").expect("example block") + 7;
    let example = &doc[start..start + doc[start..].find("```").expect("end of block")];
    assert_eq!(detect_format(example).unwrap(), CsvFormat::GenericOrders);
    let rows: Vec<_> = OrderCsv::new(example.as_bytes(), Some(1))
        .unwrap()
        .rows()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].order.lines.len(), 2);
    assert_eq!(rows[0].order.lines[1].unit_price_minor, 3_125);
    assert_eq!(rows[0].order.shipping_minor, 1_250);
    assert_eq!(rows[1].order.total_minor, Some(19_950));
    assert_eq!(
        rows[1].order.payment_method.as_deref(),
        Some("cash_on_delivery")
    );
}

#[test]
fn excel_unicode_text_and_semicolon_files() {
    // Excel "Unicode Text": UTF-16 LE with BOM, tab-separated, CRLF.
    let text = format!("{}\r\n{}", shopify_header(), SHOPIFY_BODY).replace(',', "\t");
    // The quoted tag list had a comma inside quotes; as TSV it is a tab inside quotes, still one cell.
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let d = decode(&bytes).unwrap();
    assert_eq!(d.encoding, TextEncoding::Utf16Le);
    assert_eq!(detect_format(&d.text).unwrap(), CsvFormat::ShopifyCustomers);
    let rows: Vec<_> = CustomerCsv::new(d.text.as_bytes(), Some(1))
        .unwrap()
        .rows()
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[0].as_ref().unwrap().customer.identities[2].value,
        "+966501234567"
    );
    assert_eq!(rows[2].as_ref().unwrap().line, 5);

    // Semicolons with Excel's `sep=` line: the header is line 2.
    let semi =
        "sep=;\r\norder_id;placed_at;currency;customer_email;product_title;quantity;unit_price\r\n\
                S1;2024-05-01;SAR;a@b.com;\"Cups, set of 12\";2;\"1,250.50\"\r\n\
                S2;2024-05-01;SAR;a@b.com;Tea;x;1\r\n";
    let rows: Vec<_> = OrderCsv::new(semi.as_bytes(), None)
        .unwrap()
        .rows()
        .collect();
    let s1 = rows[0].as_ref().unwrap();
    assert_eq!(s1.first_line, 3);
    assert_eq!(
        (
            s1.order.lines[0].title.as_str(),
            s1.order.lines[0].unit_price_minor
        ),
        ("Cups, set of 12", 125_050)
    );
    assert_eq!(rows[1].as_ref().unwrap_err().line, 4);
}
