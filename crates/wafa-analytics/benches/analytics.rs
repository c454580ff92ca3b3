//! Benchmarks (plain `Instant` timing; run with `cargo bench -p wafa-analytics`).
//!
//! Data are synthetic and deterministic (splitmix64):
//! * transaction logs of 1M and 10M rows: row i has customer `mix(1, i) % n_customers`, day
//!   `mix(2, i) % 730` after 2020-01-01 and amount `500 + mix(3, i) % 20000` cents — a
//!   counter-based generator that `bench/compare_lifetimes.py` reproduces exactly in numpy;
//! * customer bases of 100k and 1M simulated from a BG/NBD process (r=0.243, α=4.414 weeks,
//!   a=0.793, b=2.426), acquired uniformly over two years, observed to day 730, purchase times
//!   rounded to days, T and recency in weeks.
//!
//! Set `WAFA_BENCH_EXPORT_DIR=/some/dir` to also write the customer bases as CSV (for the
//! lifetimes comparison) and `WAFA_BENCH_QUICK=1` to skip the 10M-row run.
//! Lines starting with `RESULT` are machine-readable for the comparison script.

use chrono::NaiveDate;
use std::io::Write;
use std::time::Instant;
use wafa_analytics::models::{AnyPurchaseModel, GammaGamma};
use wafa_analytics::models::{BgNbd, MbgNbd, Parameters, ParetoNbd, RfHistogram};
use wafa_analytics::score::{
    score_customers, score_customers_with, Horizon, ModelFit, ScoreOptions, SpendModel,
};
use wafa_analytics::summary::{summarize, CustomerSummary, SummaryOptions, TimeUnit, Transaction};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64 finaliser of `seed + (i + 1)·golden` (counter-based, numpy-reproducible).
fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add((i + 1).wrapping_mul(GOLDEN));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Sequential splitmix64 for the simulations.
struct Rng(u64, u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.1 += 1;
        mix(self.0, self.1)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    /// Gamma(shape, scale 1), Marsaglia–Tsang with the shape < 1 boost.
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
    fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        x / (x + y)
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()
}

fn transactions_u64(rows: u64, customers: u64) -> Vec<Transaction<u64>> {
    let base = epoch();
    (0..rows)
        .map(|i| Transaction {
            customer: mix(1, i) % customers,
            date: base + chrono::Days::new(mix(2, i) % 730),
            amount_minor: 500 + (mix(3, i) % 20_000) as i64,
        })
        .collect()
}

/// BG/NBD customer base: (x, t_x, T) in weeks plus a mean spend.
fn simulate_customers(n: usize, seed: u64) -> Vec<CustomerSummary> {
    let (r, alpha, a, b) = (0.243, 4.414, 0.793, 2.426);
    let mut rng = Rng(seed, 0);
    let end = 730i64;
    let base = epoch();
    (0..n)
        .map(|i| {
            let first = (rng.uniform() * 730.0) as i64;
            let lambda = rng.gamma(r) / alpha; // per week
            let p = rng.beta(a, b);
            let mut t = first as f64;
            let mut last = first;
            let mut x = 0u32;
            loop {
                t += -rng.uniform().ln() / lambda.max(1e-12) * 7.0;
                let day = t.floor() as i64;
                if day > end {
                    break;
                }
                if day != last {
                    x += 1;
                    last = day;
                }
                if rng.uniform() < p {
                    break;
                }
            }
            let spend = 2000.0 + 3000.0 * rng.gamma(2.0);
            CustomerSummary {
                customer: format!("c{i}"),
                first_purchase: base + chrono::Days::new(first as u64),
                last_purchase: base + chrono::Days::new(last as u64),
                frequency: x,
                recency: (last - first) as f64 / 7.0,
                t: (end - first) as f64 / 7.0,
                monetary_minor: if x > 0 { spend } else { 0.0 },
                revenue_minor: (spend * (x + 1) as f64) as i64,
                orders: x + 1,
                holdout_frequency: 0,
                holdout_duration: 0.0,
                holdout_revenue_minor: 0,
            }
        })
        .collect()
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn bench_summary(rows: u64, customers: u64) {
    let log = transactions_u64(rows, customers);
    let opts = SummaryOptions {
        time_unit: TimeUnit::Day,
        ..Default::default()
    };
    let t = Instant::now();
    let s = summarize(&log, &opts);
    let el = secs(t);
    println!(
        "summary  {rows:>9} rows (u64 ids)    {:>8.3} s  {:>6.1} M rows/s  ({} customers)",
        el,
        rows as f64 / el / 1e6,
        s.len()
    );
    let freq_sum: u64 = s.iter().map(|c| c.frequency as u64).sum();
    let t_sum: f64 = s.iter().map(|c| c.t).sum();
    let monetary_sum: f64 = s.iter().map(|c| c.monetary_minor).sum();
    println!(
        "RESULT summary_{rows}_u64 seconds={el:.4} customers={} frequency_sum={freq_sum} t_sum={t_sum:.1} monetary_sum={:.4}",
        s.len(),
        monetary_sum / 100.0
    );
    drop(s);
    let log_s: Vec<Transaction> = log
        .into_iter()
        .map(|t| Transaction {
            customer: t.customer.to_string(),
            date: t.date,
            amount_minor: t.amount_minor,
        })
        .collect();
    let t = Instant::now();
    let s = summarize(&log_s, &opts);
    let el = secs(t);
    println!(
        "summary  {rows:>9} rows (String ids) {:>8.3} s  {:>6.1} M rows/s",
        el,
        rows as f64 / el / 1e6
    );
    println!(
        "RESULT summary_{rows}_string seconds={el:.4} customers={}",
        s.len()
    );
}

fn export(dir: &str, name: &str, customers: &[CustomerSummary]) {
    let path = format!("{dir}/{name}.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("export file"));
    writeln!(f, "frequency,recency,T").unwrap();
    for c in customers {
        writeln!(f, "{},{:.17},{:.17}", c.frequency, c.recency, c.t).unwrap();
    }
}

fn bench_fit(n: usize, label: &str, export_dir: Option<&str>) -> Vec<CustomerSummary> {
    let customers = simulate_customers(n, 42 + n as u64);
    if let Some(dir) = export_dir {
        export(dir, &format!("customers_{label}"), &customers);
    }
    let t = Instant::now();
    let h = RfHistogram::from_summaries(&customers);
    let t_hist = secs(t);
    let fit = BgNbd::fit(&h).into_fitted().expect("BG/NBD fit");
    let el = secs(t);
    let p = fit.model.parameters();
    println!(
        "bgnbd    {label:>5} customers ({} cells) {el:>8.3} s (histogram {t_hist:.3} s, {} evaluations)  LL {:.3}  {}",
        h.cells.len(),
        fit.evaluations,
        fit.log_likelihood,
        p.iter().map(|(k, v)| format!("{k}={v:.6}")).collect::<Vec<_>>().join(" ")
    );
    println!(
        "RESULT bgnbd_{label} seconds={el:.4} r={:.10} alpha={:.10} a={:.10} b={:.10} ll={:.6}",
        fit.model.r, fit.model.alpha, fit.model.a, fit.model.b, fit.log_likelihood
    );
    customers
}

fn main() {
    let quick = std::env::var("WAFA_BENCH_QUICK").is_ok();
    let export_dir = std::env::var("WAFA_BENCH_EXPORT_DIR").ok();
    println!("wafa-analytics benchmarks (release, single thread)");
    bench_summary(1_000_000, 100_000);
    if !quick {
        bench_summary(10_000_000, 1_000_000);
    }
    bench_fit(100_000, "100k", export_dir.as_deref());
    let million = bench_fit(1_000_000, "1m", export_dir.as_deref());

    // Pareto/NBD and MBG/NBD (numerical gradients: informational).
    let h = RfHistogram::from_summaries(&million);
    let t = Instant::now();
    if let Some(f) = ParetoNbd::fit(&h).into_fitted() {
        println!(
            "pareto    1m customers ({} cells) {:>8.3} s  LL {:.3}  {}",
            h.cells.len(),
            secs(t),
            f.log_likelihood,
            f.model
                .parameters()
                .iter()
                .map(|(k, v)| format!("{k}={v:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let t = Instant::now();
    if let Some(f) = MbgNbd::fit(&h).into_fitted() {
        println!(
            "mbgnbd    1m customers ({} cells) {:>8.3} s  LL {:.3}  {}",
            h.cells.len(),
            secs(t),
            f.log_likelihood,
            f.model
                .parameters()
                .iter()
                .map(|(k, v)| format!("{k}={v:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }

    // Scoring 1M customers.
    let fit = ModelFit::from_models(
        // the default scoring model (MBG/NBD), CDNOW parameters
        AnyPurchaseModel::MbgNbd(MbgNbd {
            r: 0.525,
            alpha: 6.183,
            a: 0.891,
            b: 1.614,
        }),
        SpendModel::GammaGamma(GammaGamma {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        }),
        &million,
        TimeUnit::Week,
        "USD",
        Vec::new(),
    );
    let now = epoch() + chrono::Days::new(730);
    let t = Instant::now();
    let scores = score_customers_with(
        &fit,
        &million,
        now,
        Horizon::default(),
        ScoreOptions {
            explanations: false,
        },
    );
    let el = secs(t);
    println!(
        "score    1m customers (numbers, RFM)        {el:>8.3} s  (mean CLV {:.2})",
        scores.iter().map(|s| s.clv_minor as f64).sum::<f64>() / scores.len() as f64 / 100.0
    );
    println!("RESULT score_1m seconds={el:.4}");
    let t = Instant::now();
    let scores = score_customers(&fit, &million, now, Horizon::default());
    let el = secs(t);
    println!("score    1m customers (+ en/ar explanations) {el:>8.3} s",);
    println!(
        "RESULT score_1m_explained seconds={el:.4} n={}",
        scores.len()
    );
}
