//! Print a sample of the demo store: `cargo run -p wafa-ingest --example demo_peek`.

fn main() {
    let s =
        wafa_ingest::demo::generate(&wafa_ingest::demo::DemoConfig::new(2026, 1_763_800_000_000));
    for c in s
        .customers
        .iter()
        .take(14)
        .chain(s.customers.iter().skip(1500).take(6))
    {
        let i = &c.input;
        println!(
            "{:?} {:?} | {:?} | {:?} | {:?} {:?} {:?} | {:?} | co={:?} notes={:?} bday={:?}",
            i.first_name,
            i.last_name,
            i.phone,
            i.email,
            i.language,
            i.city,
            i.country,
            i.tags,
            c.company,
            c.notes,
            i.birthday
        );
    }
    for o in s.orders.iter().rev().take(4).chain(
        s.orders
            .iter()
            .filter(|o| o.input.currency == "KWD")
            .take(2),
    ) {
        println!(
            "{} {} {:?} {:?} total={:?} lines={:?} hist={:?}",
            o.input.number.as_deref().unwrap_or(""),
            o.input.currency,
            o.input.status,
            o.input.payment_method,
            o.input.total_minor,
            o.input
                .lines
                .iter()
                .map(|l| (l.title.clone(), l.quantity, l.unit_price_minor))
                .collect::<Vec<_>>(),
            o.history.iter().map(|h| h.0.as_str()).collect::<Vec<_>>()
        );
    }
    println!("{:?}", s.carts[0].input);
}
