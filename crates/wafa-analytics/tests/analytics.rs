//! Integration tests: published fits on CDNOW and the donations data, and the report.

use chrono::NaiveDate;
use wafa_analytics::models::{
    BgBb, BgNbd, FitOutcome, GammaGamma, MbgNbd, ParetoNbd, PurchaseModel, RfHistogram,
};
use wafa_analytics::summary::{summarize, SummaryOptions, TimeUnit, Transaction};

fn fixture(name: &str) -> String {
    let shared = format!("/work/shared/data/cdnow/{name}");
    let local = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&shared)
        .or_else(|_| std::fs::read_to_string(&local))
        .unwrap_or_else(|e| panic!("fixture {name} missing from {shared} and {local}: {e}"))
}

/// CDNOW sample: `customer sample_id YYYYMMDD cds dollars`; amounts in cents.
fn cdnow_sample() -> Vec<Transaction> {
    fixture("CDNOW_sample.txt")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 5 {
                return None;
            }
            let date = NaiveDate::parse_from_str(f[2], "%Y%m%d").ok()?;
            let cents = (f[4].parse::<f64>().ok()? * 100.0).round() as i64;
            Some(Transaction {
                customer: f[0].to_string(),
                date,
                amount_minor: cents,
            })
        })
        .collect()
}

fn cdnow_calibration() -> Vec<wafa_analytics::summary::CustomerSummary> {
    summarize(
        &cdnow_sample(),
        &SummaryOptions {
            time_unit: TimeUnit::Week,
            calibration_end: NaiveDate::from_ymd_opt(1997, 9, 30),
            observation_end: NaiveDate::from_ymd_opt(1998, 6, 30),
        },
    )
}

fn close(actual: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: got {actual}, published {expected}"
    );
}

#[test]
fn bgnbd_reproduces_fader_hardie_lee_2005_on_cdnow() {
    let s = cdnow_calibration();
    assert_eq!(s.len(), 2357);
    let h = RfHistogram::from_summaries(&s);
    let fit = BgNbd::fit(&h).into_fitted().expect("fit");
    let m = fit.model;
    eprintln!("{fit:?} cells={}", h.cells.len());
    close(m.r, 0.243, 5e-4, "r");
    close(m.alpha, 4.414, 5e-3, "alpha");
    close(m.a, 0.793, 5e-4, "a");
    close(m.b, 2.426, 5e-3, "b");
    close(fit.log_likelihood, -9582.4, 0.05, "LL");
}

#[test]
fn pareto_nbd_reproduces_published_fit_on_cdnow() {
    let h = RfHistogram::from_summaries(&cdnow_calibration());
    let fit = ParetoNbd::fit(&h).into_fitted().expect("fit");
    eprintln!("{fit:?}");
    let m = fit.model;
    close(m.r, 0.55, 5e-3, "r");
    close(m.alpha, 10.58, 5e-2, "alpha");
    close(m.s, 0.61, 5e-3, "s");
    close(m.beta, 11.67, 5e-2, "beta");
    close(fit.log_likelihood, -9595.0, 0.5, "LL");
}

#[test]
fn mbgnbd_fit_on_cdnow() {
    let h = RfHistogram::from_summaries(&cdnow_calibration());
    let fit = MbgNbd::fit(&h).into_fitted().expect("fit");
    eprintln!("{fit:?}");
    let m = fit.model;
    close(m.r, 0.525, 5e-3, "r");
    close(m.alpha, 6.183, 5e-2, "alpha");
    close(m.a, 0.891, 5e-3, "a");
    close(m.b, 1.614, 5e-2, "b");
}

#[test]
fn gamma_gamma_reproduces_published_fit_on_cdnow() {
    let s = cdnow_calibration();
    let data: Vec<(f64, f64)> = s
        .iter()
        .filter(|c| c.frequency > 0)
        .map(|c| (c.frequency as f64, c.monetary_minor / 100.0))
        .collect();
    assert_eq!(data.len(), 946);
    let fit = GammaGamma::fit(&data).into_fitted().expect("fit");
    eprintln!("{fit:?}");
    close(fit.model.p, 6.25, 5e-3, "p");
    close(fit.model.q, 3.74, 5e-3, "q");
    close(fit.model.gamma, 15.44, 1.5e-2, "gamma");
}

#[test]
fn bgbb_reproduces_fader_hardie_shang_2010_on_donations() {
    let text = fixture("donations.csv");
    let rows: Vec<(f64, f64, f64, f64)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<f64> = l.split(',').filter_map(|v| v.trim().parse().ok()).collect();
            (f.len() == 4).then(|| (f[0], f[1], f[2], f[3]))
        })
        .collect();
    let h = RfHistogram::from_weighted(rows);
    assert_eq!(h.total_weight, 11104.0);
    let fit = match BgBb::fit(&h) {
        FitOutcome::Fitted(f) => f,
        FitOutcome::Insufficient { reason, .. } => panic!("{reason}"),
    };
    eprintln!("{fit:?}");
    close(fit.model.alpha, 1.204, 5e-4, "alpha");
    close(fit.model.beta, 0.750, 5e-4, "beta");
    close(fit.model.gamma, 0.657, 5e-4, "gamma");
    close(fit.model.delta, 2.783, 5e-3, "delta");
    close(fit.log_likelihood, -33225.6, 0.05, "LL");
    let _ = fit.model.p_alive(3.0, 6.0, 6.0);
}
