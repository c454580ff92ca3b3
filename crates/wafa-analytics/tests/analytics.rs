//! Integration tests: published fits on CDNOW and the donations data, and the report.

use chrono::NaiveDate;
use wafa_analytics::models::{
    BgBb, BgNbd, FitOutcome, GammaGamma, MbgNbd, ParetoNbd, PurchaseModel, RfHistogram, ThinData,
};
use wafa_analytics::report::{build_report, AnalyzeOptions};
use wafa_analytics::score::{customer_value, score_customers, Horizon, ModelFit};
use wafa_analytics::summary::{summarize, SummaryOptions, TimeUnit, Transaction};
use wafa_analytics::validation::validate_holdout;

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
    // Standard errors: lifetimes' BetaGeoFitter.standard_errors_ on the same data gives
    // r 0.012557, α 0.37822, a 0.18572, b 0.70535.
    let se: Vec<f64> = fit.standard_errors.iter().map(|s| s.unwrap()).collect();
    for (got, want, name) in [
        (se[0], 0.012557, "se r"),
        (se[1], 0.37822, "se alpha"),
        (se[2], 0.18572, "se a"),
        (se[3], 0.70535, "se b"),
    ] {
        close(got, want, 1e-3 * want, name);
    }
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

#[test]
fn bgnbd_holdout_validation_on_cdnow_matches_paper_figure() {
    let s = cdnow_calibration();
    let h = RfHistogram::from_summaries(&s);
    let m = BgNbd::fit(&h).into_fitted().unwrap().model;
    let v = validate_holdout(&m, &s);
    eprintln!("{v:#?}");
    // 39-week holdout; the sample's repeat purchase days in weeks 40–78. lifetimes'
    // calibration_and_holdout_data gives the same 1,882 actual and 1,653.41 predicted.
    close(v.holdout_duration, 39.0, 1e-9, "holdout weeks");
    assert_eq!(v.actual_total, 1882.0);
    assert_eq!(v.buckets[0].customers, 1411);
    // As in the paper's Figure 4, BG/NBD slightly under-predicts the holdout for light buyers
    // but tracks it overall: x=0 → 0.225 vs 0.237 actual, 7+ → 6.16 vs 6.36.
    close(
        v.buckets[0].predicted_mean,
        0.2251,
        1e-3,
        "bucket 0 predicted",
    );
    close(v.buckets[0].actual_mean, 0.2367, 1e-3, "bucket 0 actual");
    close(
        v.buckets[7].predicted_mean,
        v.buckets[7].actual_mean,
        0.3,
        "bucket 7+",
    );
    assert!(
        (v.predicted_total / v.actual_total - 1.0).abs() < 0.15,
        "{v:?}"
    );
    // Paper's worked example of a conditional expectation.
    close(
        m.expected_purchases(39.0, 2.0, 30.43, 38.86),
        1.226,
        2e-3,
        "E[Y(39)|2,30.43,38.86]",
    );
}

#[test]
fn report_on_cdnow_sample_reproduces_published_values_in_json() {
    let input = fixture("CDNOW_sample.txt");
    let options = AnalyzeOptions {
        time_unit: TimeUnit::Week,
        calibration_end: NaiveDate::from_ymd_opt(1997, 9, 30),
        observation_end: NaiveDate::from_ymd_opt(1998, 6, 30),
        currency: "USD".into(),
        ..Default::default()
    };
    let report = build_report(input.as_bytes(), &options).expect("report");
    println!("{}", report.summary_text);
    assert!(report.row_errors.is_empty());
    let models = report.json["models"].as_array().unwrap();
    let find = |name: &str, period: &str| {
        models
            .iter()
            .find(|m| m["name"] == name && m["period"] == period)
            .unwrap_or_else(|| panic!("{name} {period} missing"))
    };
    let bg = find("bg_nbd", "calibration");
    close(bg["parameters"]["r"].as_f64().unwrap(), 0.243, 5e-4, "r");
    close(
        bg["parameters"]["alpha"].as_f64().unwrap(),
        4.414,
        5e-3,
        "alpha",
    );
    close(bg["parameters"]["a"].as_f64().unwrap(), 0.793, 5e-4, "a");
    close(bg["parameters"]["b"].as_f64().unwrap(), 2.426, 5e-3, "b");
    close(bg["log_likelihood"].as_f64().unwrap(), -9582.4, 0.05, "LL");
    assert!(bg["standard_errors"]["r"].as_f64().unwrap() > 0.0);
    assert_eq!(bg["validation"]["actual_total"].as_f64().unwrap(), 1882.0);
    let pareto = find("pareto_nbd", "calibration");
    close(pareto["parameters"]["s"].as_f64().unwrap(), 0.61, 5e-3, "s");
    close(
        pareto["log_likelihood"].as_f64().unwrap(),
        -9595.0,
        0.5,
        "LL",
    );
    assert!(
        find("mbg_nbd", "calibration")["validation"]["predicted_total"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let bgbb = find("bg_bb", "calibration");
    for key in ["alpha", "beta", "gamma", "delta"] {
        assert!(bgbb["parameters"][key].as_f64().unwrap() > 0.0, "{bgbb}");
        assert!(bgbb["standard_errors"][key].as_f64().is_some(), "{bgbb}");
    }
    let (pred, act) = (
        bgbb["validation"]["predicted_total"].as_f64().unwrap(),
        bgbb["validation"]["actual_total"].as_f64().unwrap(),
    );
    eprintln!("bg_bb holdout: predicted {pred} actual {act}");
    assert!((pred / act - 1.0).abs() < 0.25, "{pred} vs {act}");
    // Tracking plot (FHL 2005 Figure 3): cumulative repeat purchases week by week.
    let tracking = &report.json["tracking"];
    assert_eq!(tracking["calibration_period"], 39);
    let points = tracking["points"].as_array().unwrap();
    assert_eq!(points.len(), 78);
    let at = |week: usize, key: &str| points[week - 1][key].as_f64().unwrap();
    eprintln!(
        "tracking week 39: {} vs {}; week 78: {} vs {}",
        at(39, "actual_cumulative"),
        at(39, "predicted_cumulative"),
        at(78, "actual_cumulative"),
        at(78, "predicted_cumulative")
    );
    // Identical to lifetimes' expected_cumulative_transactions(freq='D', freq_multiplier=7):
    // weeks 39 and 78: actual 2457 / 4339, predicted 2501.5262 / 4165.6638.
    close(at(39, "actual_cumulative"), 2457.0, 0.0, "actual week 39");
    close(at(78, "actual_cumulative"), 4339.0, 0.0, "actual week 78");
    close(
        at(39, "predicted_cumulative"),
        2501.526223,
        1e-3,
        "predicted week 39",
    );
    close(
        at(78, "predicted_cumulative"),
        4165.663843,
        1e-3,
        "predicted week 78",
    );
    let gg = find("gamma_gamma", "full");
    assert!(gg["parameters"]["gamma"] == gg["parameters"]["v"]);
    assert!(gg["standard_errors"]["q"].as_f64().is_some());
    // Files are all there and the customer CSV has one row per customer plus header.
    let names: Vec<&str> = report.files.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "customers.csv",
        "cohorts.csv",
        "validation.csv",
        "cohort_retention.svg",
        "holdout_fit.svg",
        "tracking.svg",
        "clv_distribution.svg",
        "report.json",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let csv = &report
        .files
        .iter()
        .find(|(n, _)| n == "customers.csv")
        .unwrap()
        .1;
    let text = String::from_utf8(csv.clone()).unwrap();
    assert_eq!(text.lines().count(), 2358);
    assert!(text.contains("P(alive)") && text.contains("احتمال"));
    for (name, bytes) in &report.files {
        if name.ends_with(".svg") {
            let svg = String::from_utf8(bytes.clone()).unwrap();
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{name}");
        }
    }
    assert!(report.summary_text.contains("bg_nbd"));
}

#[test]
fn cdnow_master_file_parses_summarises_and_scores_quickly() {
    let input = fixture("CDNOW_master.txt");
    let started = std::time::Instant::now();
    let options = AnalyzeOptions {
        calibration_end: NaiveDate::from_ymd_opt(1997, 9, 30),
        fit_all_models: false,
        ..Default::default()
    };
    let report = build_report(input.as_bytes(), &options).expect("report");
    eprintln!("{}\n{:?}", report.summary_text, started.elapsed());
    assert_eq!(report.json["input"]["transactions"], 69_659);
    assert_eq!(report.json["metrics"]["customers"], 23_570);
    assert!(report.row_errors.is_empty());
    let bg = report.json["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "bg_nbd" && m["period"] == "calibration")
        .unwrap()
        .clone();
    // The full master file gives parameters close to the 1/10 sample's.
    let r = bg["parameters"]["r"].as_f64().unwrap();
    assert!((0.2..0.3).contains(&r), "{bg}");
    let v = &bg["validation"];
    let ratio = v["predicted_total"].as_f64().unwrap() / v["actual_total"].as_f64().unwrap();
    assert!((ratio - 1.0).abs() < 0.2, "{v}");
}

fn tx(c: &str, d: &str, a: i64) -> Transaction {
    Transaction {
        customer: c.into(),
        date: NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap(),
        amount_minor: a,
    }
}

#[test]
fn thin_data_is_reported_and_scores_stay_finite() {
    let now = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
    // Empty input.
    let h = RfHistogram::from_summaries::<String>(&[]);
    assert!(matches!(
        BgNbd::fit(&h),
        FitOutcome::Insufficient {
            reason: ThinData::NoCustomers,
            ..
        }
    ));
    // One customer.
    let one = summarize(&[tx("a", "2024-01-01", 500)], &SummaryOptions::default());
    let fit = ModelFit::fit(&one, TimeUnit::Week, "SAR");
    assert!(fit.is_empirical() && !fit.notes.is_empty());
    let p = score_customers(&fit, &one, now, Horizon::default());
    assert_eq!(p.len(), 1);
    assert!(p[0].p_alive.is_finite() && p[0].clv_minor >= 0);
    assert!(p[0].explanation_ar.contains("البيانات غير كافية"));
    // All one-time buyers.
    let log: Vec<Transaction> = (0..50)
        .map(|i| {
            tx(
                &format!("c{i}"),
                &format!("2024-01-{:02}", 1 + i % 28),
                1000,
            )
        })
        .collect();
    let s = summarize(&log, &SummaryOptions::default());
    let h = RfHistogram::from_summaries(&s);
    assert!(matches!(
        ParetoNbd::fit(&h),
        FitOutcome::Insufficient {
            reason: ThinData::NoRepeatPurchases,
            ..
        }
    ));
    let fit = ModelFit::fit(&s, TimeUnit::Day, "SAR");
    for p in score_customers(&fit, &s, now, Horizon::default()) {
        assert!(p.p_alive.is_finite() && p.expected_purchases_90d.is_finite());
    }
    // Huge frequencies and T = t_x with a real model.
    let m = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    for (x, tx_, t) in [(50_000.0, 52.0, 52.0), (0.0, 0.0, 0.0), (10.0, 5.0, 5.0)] {
        for v in [
            m.p_alive(x, tx_, t),
            m.expected_purchases(52.0, x, tx_, t),
            m.prob_purchase_within(4.0, x, tx_, t),
        ] {
            assert!(v.is_finite(), "{x} {tx_} {t}");
        }
    }
    // Report on a tiny CSV works, explains the fallback, and rejects an unusable input.
    let csv =
        "customer,date,amount\na,2024-01-01,10.00\na,2024-02-01,12.50\nb,2024-01-15,7\nb,bad,1\n";
    let r = build_report(csv.as_bytes(), &AnalyzeOptions::default()).unwrap();
    assert_eq!(r.row_errors.len(), 1);
    assert_eq!(r.row_errors[0].line, 5);
    assert!(r.summary_text.contains("not fitted"));
    assert!(build_report(
        "customer,date,amount\n".as_bytes(),
        &AnalyzeOptions::default()
    )
    .is_err());
}

/// Reference values computed with Python `lifetimes` 0.11.3 for the same parameters
/// (see bench/compare_lifetimes.sh for the environment).
#[test]
fn predictions_match_lifetimes_reference_values() {
    let bg = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let pareto = ParetoNbd {
        r: 0.55,
        alpha: 10.58,
        s: 0.61,
        beta: 11.67,
    };
    let mbg = MbgNbd {
        r: 0.525,
        alpha: 6.183,
        a: 0.891,
        b: 1.614,
    };
    let tol = 1e-6;
    close(
        bg.p_alive(2.0, 30.43, 38.86),
        0.726578570080673,
        tol,
        "bg p_alive",
    );
    close(
        bg.expected_purchases(39.0, 2.0, 30.43, 38.86),
        1.2260281747671318,
        tol,
        "bg cond",
    );
    close(
        bg.expected_purchases(39.0, 0.0, 0.0, 38.86),
        0.19509805201125396,
        tol,
        "bg cond x=0",
    );
    close(
        bg.expected_purchases_new_customer(39.0),
        1.1967231933207985,
        tol,
        "bg E[X(39)]",
    );
    close(
        pareto.p_alive(2.0, 30.43, 38.86),
        0.8684109171320921,
        tol,
        "pareto p_alive",
    );
    close(
        pareto.p_alive(0.0, 0.0, 38.86),
        0.2937739504674206,
        tol,
        "pareto p_alive x=0",
    );
    close(
        pareto.expected_purchases(39.0, 2.0, 30.43, 38.86),
        1.450371374791711,
        tol,
        "pareto cond",
    );
    close(
        pareto.expected_purchases(39.0, 0.0, 0.0, 38.86),
        0.10582535589031981,
        tol,
        "pareto cond 0",
    );
    close(
        pareto.expected_purchases_new_customer(39.0),
        1.2023523628319928,
        tol,
        "pareto E[X]",
    );
    close(
        mbg.p_alive(2.0, 30.43, 38.86),
        0.7062022651184873,
        tol,
        "mbg p_alive",
    );
    close(
        mbg.p_alive(0.0, 0.0, 38.86),
        0.3897350809187629,
        tol,
        "mbg p_alive x=0",
    );
    close(
        mbg.expected_purchases(39.0, 2.0, 30.43, 38.86),
        1.2629606232673432,
        tol,
        "mbg cond",
    );
    close(
        mbg.expected_purchases(39.0, 0.0, 0.0, 38.86),
        0.15401274667514553,
        tol,
        "mbg cond 0",
    );
    close(
        mbg.expected_purchases_new_customer(39.0),
        1.1829536655971713,
        tol,
        "mbg E[X]",
    );
    let gg = GammaGamma {
        p: 6.25,
        q: 3.74,
        gamma: 15.44,
    };
    close(
        gg.expected_spend(2.0, 30.0),
        30.938320209973753,
        tol,
        "gg spend",
    );
    close(
        gg.expected_spend(0.0, 0.0),
        35.21897810218978,
        tol,
        "gg population mean",
    );
    // lifetimes' customer_lifetime_value(time=12, discount_rate=0.01, freq='W') uses months of
    // 4.345 weeks.
    let horizon = Horizon {
        months: 12,
        monthly_discount_rate: 0.01,
        days_per_month: 4.345 * 7.0,
    };
    let clv = customer_value(
        &bg,
        gg.expected_spend(2.0, 30.0),
        2.0,
        30.43,
        38.86,
        TimeUnit::Week,
        &horizon,
    );
    close(clv, 45.52141814624569, 1e-6, "CLV");
    let bb = BgBb {
        alpha: 1.204,
        beta: 0.750,
        gamma: 0.657,
        delta: 2.783,
    };
    close(bb.p_alive(3.0, 4.0, 6.0), 0.47233626, 1e-7, "bgbb p_alive");
    close(
        bb.expected_purchases(5.0, 3.0, 4.0, 6.0),
        1.0342285,
        1e-6,
        "bgbb cond",
    );
}

/// Deterministic pseudo-random inputs (splitmix64).
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Log-uniform in [lo, hi].
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (lo.ln() + u * (hi.ln() - lo.ln())).exp()
    }
}

#[test]
fn predictions_are_finite_for_random_parameters_and_histories() {
    let mut rng = Mix(7);
    for _ in 0..300 {
        let (r, alpha, a, b) = (
            rng.log_uniform(0.01, 50.0),
            rng.log_uniform(0.01, 500.0),
            rng.log_uniform(0.01, 50.0),
            rng.log_uniform(0.01, 50.0),
        );
        let s = rng.log_uniform(0.01, 50.0);
        let t = [0.0, rng.log_uniform(0.01, 2000.0)][(rng.next() % 2) as usize];
        let t_x = t * (rng.next() % 1001) as f64 / 1000.0;
        let x = if t_x == 0.0 {
            0.0
        } else {
            (rng.next() % 3000) as f64
        };
        let horizon = rng.log_uniform(0.1, 500.0);
        let models: [&dyn PurchaseModel; 3] = [
            &BgNbd { r, alpha, a, b },
            &ParetoNbd {
                r,
                alpha,
                s,
                beta: b * 10.0,
            },
            &MbgNbd { r, alpha, a, b },
        ];
        for (i, m) in models.iter().enumerate() {
            let pa = m.p_alive(x, t_x, t);
            let e = m.expected_purchases(horizon, x, t_x, t);
            let pw = m.prob_purchase_within(horizon, x, t_x, t);
            let u = m.expected_purchases_new_customer(horizon);
            let w = m.median_wait_if_alive(x, t);
            let ctx = format!(
                "model {i} r={r} alpha={alpha} a={a} b={b} s={s} x={x} tx={t_x} T={t} h={horizon}"
            );
            assert!((0.0..=1.0).contains(&pa), "p_alive {pa} {ctx}");
            assert!(e.is_finite() && e >= 0.0, "E {e} {ctx}");
            assert!((0.0..=1.0).contains(&pw), "P(window) {pw} {ctx}");
            assert!(u.is_finite() && u >= 0.0, "E[X] {u} {ctx}");
            assert!(!w.is_nan() && w >= 0.0, "wait {w} {ctx}");
        }
        let ll = [
            BgNbd { r, alpha, a, b }.log_likelihood(x, t_x, t),
            ParetoNbd {
                r,
                alpha,
                s,
                beta: b * 10.0,
            }
            .log_likelihood(x, t_x, t),
            MbgNbd { r, alpha, a, b }.log_likelihood(x, t_x, t),
        ];
        assert!(
            ll.iter().all(|v| v.is_finite()), // a density in the purchase times: may be > 0
            "{ll:?} x={x} tx={t_x} T={t}"
        );
    }
}

#[test]
fn garbage_input_never_panics() {
    let mut rng = Mix(11);
    for case in 0..200 {
        let len = (rng.next() % 400) as usize;
        let alphabet = b"0123456789,;.-/: \n\t\"abcTZ\xd9\xa0";
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
            .collect();
        let prefix: &[u8] = if case % 2 == 0 {
            b"customer,date,amount\n"
        } else {
            b""
        };
        let input = [prefix, &bytes[..]].concat();
        let _ = build_report(&input[..], &AnalyzeOptions::default());
    }
}

#[test]
fn day_units_rescale_only_the_rate_parameters() {
    // Changing the time unit from weeks to days multiplies α (and β) by 7 and leaves the shape
    // parameters unchanged: a check of the summary's unit handling and of the fits.
    let days = summarize(
        &cdnow_sample(),
        &SummaryOptions {
            time_unit: TimeUnit::Day,
            calibration_end: NaiveDate::from_ymd_opt(1997, 9, 30),
            observation_end: NaiveDate::from_ymd_opt(1998, 6, 30),
        },
    );
    let h = RfHistogram::from_summaries(&days);
    let bg = BgNbd::fit(&h).into_fitted().unwrap();
    close(bg.model.r, 0.2426, 2e-4, "r (days)");
    close(bg.model.alpha / 7.0, 4.4136, 2e-3, "alpha/7 (days)");
    close(bg.model.a, 0.7929, 2e-4, "a (days)");
    close(bg.model.b, 2.4259, 2e-3, "b (days)");
    // LL differs by the Jacobian of the x purchase times: x·ln 7 per customer.
    let x_total: f64 = days.iter().map(|s| s.frequency as f64).sum();
    close(
        bg.log_likelihood + x_total * 7f64.ln(),
        -9582.43,
        0.05,
        "LL (days, rescaled)",
    );
    let report = build_report(
        fixture("CDNOW_sample.txt").as_bytes(),
        &AnalyzeOptions {
            time_unit: "day".parse().unwrap(),
            ..Default::default()
        },
    )
    .unwrap();
    let models = report.json["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(
        names,
        ["bg_nbd", "pareto_nbd", "mbg_nbd", "bg_bb", "gamma_gamma"]
    );
    assert!(models
        .iter()
        .all(|m| m["period"] == "full" && m["status"] == "fitted"));
    assert!(models.iter().all(|m| m["validation"].is_null()));
}

#[test]
fn boundary_data_gives_a_fit_or_a_reason_never_nonsense() {
    // Customers who never drop out (pure Poisson buyers): the BG/NBD/MBG drop-out parameters run
    // to the boundary. Whatever happens, the outcome is typed and scores are finite.
    let mut rng = Mix(3);
    let start = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    let mut log = Vec::new();
    for c in 0..300 {
        let rate = 0.02 + (rng.next() % 100) as f64 / 1000.0; // purchases per day
        let mut day = (rng.next() % 100) as f64;
        while day < 365.0 {
            log.push(Transaction {
                customer: format!("c{c}"),
                date: start + chrono::Days::new(day as u64),
                amount_minor: 1000 + (rng.next() % 5000) as i64,
            });
            let u = ((rng.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            day += -u.ln() / rate;
        }
    }
    let s = summarize(&log, &SummaryOptions::default());
    let h = RfHistogram::from_summaries(&s);
    // No drop-out in the data: the drop-out parameters hit the box and the fits say so.
    for outcome in [
        BgNbd::fit(&h).fitted().map(|f| f.log_likelihood),
        MbgNbd::fit(&h).fitted().map(|f| f.log_likelihood),
    ]
    .into_iter()
    .flatten()
    {
        assert!(outcome.is_finite());
    }
    assert!(matches!(
        BgNbd::fit(&h),
        FitOutcome::Insufficient {
            reason: ThinData::Degenerate(_),
            ..
        }
    ));
    let fit = ModelFit::fit(&s, TimeUnit::Week, "SAR");
    let now = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    for p in score_customers(&fit, &s, now, Horizon::default()) {
        assert!(p.p_alive.is_finite() && p.expected_purchases_90d.is_finite());
        assert!(p.clv_minor >= 0 && p.expected_spend_minor.is_finite());
    }
    // A tiny store: 25 customers, a handful of repeaters.
    let tiny: Vec<Transaction> = (0..40)
        .map(|i| Transaction {
            customer: format!("t{}", i % 25),
            date: start + chrono::Days::new((i * 7) as u64),
            amount_minor: 2500,
        })
        .collect();
    let r = build_report(
        {
            let mut csv = String::from("customer,date,amount\n");
            for t in &tiny {
                csv.push_str(&format!(
                    "{},{},{}\n",
                    t.customer,
                    t.date,
                    t.amount_minor as f64 / 100.0
                ));
            }
            std::io::Cursor::new(csv)
        },
        &AnalyzeOptions {
            currency: "SAR".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(r.json["models"].as_array().unwrap().len() >= 2);
    assert!(r.summary_text.contains("SAR"));
}
