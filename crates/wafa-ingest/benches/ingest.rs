//! Import throughput: write synthetic files, then decode and parse them.
//!
//! `cargo bench -p wafa-ingest` (release). Sizes can be changed with
//! `INGEST_BENCH_CUSTOMERS` and `INGEST_BENCH_ORDER_LINES` (defaults 1,000,000 each); the
//! writer is also timed on `INGEST_BENCH_SYNTH_LINES` (5,000,000) order lines into a sink.

use std::io::{self, Write};
use std::time::Instant;
use wafa_ingest::csv_import::{decode, CustomerCsv, OrderCsv};
use wafa_ingest::synth::{write_customers, write_orders, SynthConfig};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Counts bytes, keeps none.
struct Counter(u64);
impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn rate(n: u64, secs: f64) -> String {
    format!("{:>10.0} rows/s", n as f64 / secs)
}

fn main() {
    let customers = env_u64("INGEST_BENCH_CUSTOMERS", 1_000_000);
    let order_lines = env_u64("INGEST_BENCH_ORDER_LINES", 1_000_000);
    let cfg = SynthConfig {
        seed: 42,
        customers,
        order_lines,
        now_ms: 1_763_800_000_000,
    };

    // Writer.
    let t = Instant::now();
    let mut cbuf = Vec::with_capacity((customers * 220) as usize);
    write_customers(&cfg, &mut cbuf).expect("write customers");
    let s = t.elapsed().as_secs_f64();
    println!(
        "synth customers   {customers:>9} rows  {:>7.1} MB  {s:>6.2} s  {}",
        cbuf.len() as f64 / 1e6,
        rate(customers, s)
    );

    let big = SynthConfig {
        order_lines: env_u64("INGEST_BENCH_SYNTH_LINES", 5_000_000),
        ..cfg
    };
    let t = Instant::now();
    let mut sink = Counter(0);
    write_orders(&big, &mut sink).expect("write orders");
    let s = t.elapsed().as_secs_f64();
    println!(
        "synth order lines {:>9} rows  {:>7.1} MB  {s:>6.2} s  {} (to a sink)",
        big.order_lines,
        sink.0 as f64 / 1e6,
        rate(big.order_lines, s)
    );

    let t = Instant::now();
    let mut obuf = Vec::with_capacity((order_lines * 200) as usize);
    write_orders(&cfg, &mut obuf).expect("write orders");
    let s = t.elapsed().as_secs_f64();
    println!(
        "synth order lines {order_lines:>9} rows  {:>7.1} MB  {s:>6.2} s  {}",
        obuf.len() as f64 / 1e6,
        rate(order_lines, s)
    );

    // Decode (UTF-8 validation; borrowed, no copy).
    let t = Instant::now();
    let dc = decode(&cbuf).expect("decode");
    let s = t.elapsed().as_secs_f64();
    println!(
        "decode customers  {:>7.1} MB in {s:.3} s ({:?})",
        cbuf.len() as f64 / 1e6,
        dc.encoding
    );

    // Parse customers.
    let t = Instant::now();
    let (mut ok, mut bad, mut identities) = (0u64, 0u64, 0usize);
    for row in CustomerCsv::new(dc.text.as_bytes(), Some(1))
        .expect("header")
        .rows()
    {
        match row {
            Ok(r) => {
                ok += 1;
                identities += r.customer.identities.len();
            }
            Err(_) => bad += 1,
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "parse customers   {ok:>9} ok, {bad} bad, {identities} identities  {s:>6.2} s  {}",
        rate(ok + bad, s)
    );

    // Parse orders.
    let d = decode(&obuf).expect("decode");
    let t = Instant::now();
    let (mut orders, mut lines, mut bad) = (0u64, 0u64, 0u64);
    for row in OrderCsv::new(d.text.as_bytes(), Some(1))
        .expect("header")
        .rows()
    {
        match row {
            Ok(o) => {
                orders += 1;
                lines += o.order.lines.len() as u64;
            }
            Err(_) => bad += 1,
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!("parse orders      {lines:>9} lines in {orders} orders, {bad} bad  {s:>6.2} s  {} ({:.0} orders/s)", rate(lines, s), orders as f64 / s);
}
