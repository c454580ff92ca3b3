//! One-call analysis report for the `wafa analyze` command: parse a transaction export, summarise,
//! fit the models (with calibration/holdout validation when a calibration end is given), score
//! every customer and render text, CSV, SVG and JSON — all in memory, no I/O besides the `Read`.
//!
//! Fits on the calibration period are used for validation; the scoring models (BG/NBD +
//! Gamma-Gamma) are refitted on all data up to the observation end, which is also the scoring
//! date unless [`AnalyzeOptions::now`] says otherwise.

use crate::cohort::{key_metrics, monthly_cohorts, CohortRow, KeyMetrics};
use crate::models::gamma_gamma::EmpiricalSpend;
use crate::models::{
    AnyPurchaseModel, BgBb, BgNbd, EmpiricalModel, FitOutcome, Fitted, GammaGamma, MbgNbd,
    Parameters, ParetoNbd, RfHistogram,
};
use crate::money::{currency_exponent, format_money};
use crate::parse::{parse_transactions, ColumnMapping, InputFormat, ParseError, RowError};
use crate::rfm::Segment;
use crate::score::{
    score_customers, CustomerPrediction, Horizon, ModelFit, ScoringModel, SpendModel,
};
use crate::summary::{summarize, CustomerSummary, SummaryOptions, TimeUnit};
use crate::validation::{cumulative_tracking, validate_holdout, HoldoutValidation, TrackingPoint};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::fmt::Write;
use std::io::Read;

/// Options of `wafa analyze`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeOptions {
    pub time_unit: TimeUnit,
    /// Split date: fit on purchases up to and including it, validate on the rest.
    pub calibration_end: Option<NaiveDate>,
    /// Last day of data to use (default: latest transaction).
    pub observation_end: Option<NaiveDate>,
    pub columns: ColumnMapping,
    pub format: InputFormat,
    /// ISO 4217 code; decides the decimal places of amounts (default "USD").
    pub currency: String,
    pub horizon: Horizon,
    /// Scoring date (default: observation end).
    pub now: Option<NaiveDate>,
    /// Also fit Pareto/NBD, MBG/NBD and BG/BB (slower on large inputs). Default true.
    pub fit_all_models: bool,
    /// Purchase model behind the per-customer scores (default MBG/NBD, see [`ScoringModel`]).
    pub scoring_model: ScoringModel,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            time_unit: TimeUnit::Week,
            calibration_end: None,
            observation_end: None,
            columns: ColumnMapping::default(),
            format: InputFormat::Auto,
            currency: "USD".into(),
            horizon: Horizon::default(),
            now: None,
            fit_all_models: true,
            scoring_model: ScoringModel::default(),
        }
    }
}

impl std::str::FromStr for TimeUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" | "days" | "d" => Ok(TimeUnit::Day),
            "week" | "weeks" | "w" => Ok(TimeUnit::Week),
            other => Err(format!(
                "unknown time unit '{other}' (expected day or week)"
            )),
        }
    }
}

/// In-memory result of [`build_report`].
#[derive(Debug, Clone)]
pub struct Report {
    /// Human-readable summary for the terminal.
    pub summary_text: String,
    /// (file name, contents): customers.csv, cohorts.csv, validation.csv, *.svg, report.json.
    pub files: Vec<(String, Vec<u8>)>,
    /// Machine-readable summary (also in `files` as report.json).
    pub json: Value,
    /// Rows that could not be used, with line numbers.
    pub row_errors: Vec<RowError>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("no usable transactions ({rows} rows, {errors} errors; first: {first})")]
    NoTransactions {
        rows: u64,
        errors: usize,
        first: String,
    },
    #[error("invalid options: {0}")]
    InvalidOptions(String),
}

/// Description of one fitted (or not fitted) model for the JSON and text summaries.
struct ModelEntry {
    period: &'static str,
    json: Value,
    line: String,
}

fn params_json(names: &[(&'static str, f64)], gamma_alias: bool) -> Value {
    let mut m = Map::new();
    for (k, v) in names {
        m.insert((*k).to_string(), json!(v));
        if gamma_alias && *k == "v" {
            m.insert("gamma".into(), json!(v));
        }
    }
    Value::Object(m)
}

fn se_json(names: &[(&'static str, f64)], se: &[Option<f64>], gamma_alias: bool) -> Value {
    let mut m = Map::new();
    for ((k, _), s) in names.iter().zip(se) {
        m.insert((*k).to_string(), json!(s));
        if gamma_alias && *k == "v" {
            m.insert("gamma".into(), json!(s));
        }
    }
    Value::Object(m)
}

fn fitted_entry<M: Parameters>(
    fit: &Fitted<M>,
    period: &'static str,
    validation: Option<&HoldoutValidation>,
) -> ModelEntry {
    let params = fit.model.parameters();
    let gg = fit.model.model_name() == "gamma_gamma";
    let mut line = format!("  {:<12}", fit.model.model_name());
    for (k, v) in &params {
        let _ = write!(line, " {k}={v:.4}");
    }
    let _ = write!(line, "  LL={:.2}", fit.log_likelihood);
    if let Some(v) = validation {
        let _ = write!(
            line,
            "  holdout: predicted {:.1} vs actual {:.0}",
            v.predicted_total, v.actual_total
        );
    }
    ModelEntry {
        period,
        json: json!({
            "name": fit.model.model_name(),
            "period": period,
            "status": "fitted",
            "parameters": params_json(&params, gg),
            "log_likelihood": fit.log_likelihood,
            "standard_errors": se_json(&params, &fit.standard_errors, gg),
            "n_customers": fit.n_customers,
            "converged": fit.converged,
            "validation": validation.map(|v| json!({
                "holdout_duration": v.holdout_duration,
                "predicted_total": v.predicted_total,
                "actual_total": v.actual_total,
                "mean_absolute_error": v.mean_absolute_error,
                "buckets": v.buckets,
            })),
        }),
        line,
    }
}

fn insufficient_entry(name: &'static str, period: &'static str, reason: &str) -> ModelEntry {
    ModelEntry {
        period,
        json: json!({"name": name, "period": period, "status": "insufficient_data", "reason": reason}),
        line: format!("  {name:<12} not fitted: {reason}"),
    }
}

fn purchase_entry<M: Parameters + crate::models::PurchaseModel + Copy>(
    name: &'static str,
    outcome: FitOutcome<M>,
    period: &'static str,
    holdout: Option<&[CustomerSummary]>,
    validations: &mut Vec<(String, HoldoutValidation)>,
) -> (ModelEntry, Option<M>) {
    match outcome {
        FitOutcome::Fitted(f) => {
            let v = holdout.map(|s| validate_holdout(&f.model, s));
            let e = fitted_entry(&f, period, v.as_ref());
            if let Some(v) = v {
                validations.push((name.to_string(), v));
            }
            (e, Some(f.model))
        }
        FitOutcome::Insufficient { reason, .. } => {
            (insufficient_entry(name, period, &reason.to_string()), None)
        }
    }
}

/// Length of a BG/BB purchase opportunity in the report: did the customer buy in each 30-day
/// period after their first purchase.
const BGBB_PERIOD_DAYS: u32 = 30;

/// Fit BG/BB on 30-day purchase incidence; with a calibration end also validate on the holdout
/// periods (bucketed by calibration incidence count like the continuous models).
fn bgbb_entry(
    transactions: &[crate::summary::Transaction],
    calibration_end: Option<NaiveDate>,
    observation_end: NaiveDate,
    period: &'static str,
    validations: &mut Vec<(String, HoldoutValidation)>,
) -> ModelEntry {
    use crate::models::bgbb::{discrete_histogram, discrete_summaries};
    use crate::validation::HoldoutBucket;
    let summaries = discrete_summaries(
        transactions,
        BGBB_PERIOD_DAYS,
        calibration_end,
        Some(observation_end),
    );
    let h = discrete_histogram(&summaries);
    match BgBb::fit(&h) {
        FitOutcome::Fitted(fit) => {
            let validation = calibration_end.map(|_| {
                const B: usize = 8;
                let (mut count, mut actual, mut predicted) = ([0u64; B], [0.0; B], [0.0; B]);
                let mut abs_err = 0.0;
                for s in summaries.iter().filter(|s| s.n > 0) {
                    let p = fit.model.expected_purchases(
                        s.holdout_n as f64,
                        s.x as f64,
                        s.t_x as f64,
                        s.n as f64,
                    );
                    let b = (s.x as usize).min(B - 1);
                    count[b] += 1;
                    actual[b] += s.holdout_x as f64;
                    predicted[b] += p;
                    abs_err += (p - s.holdout_x as f64).abs();
                }
                let n: u64 = count.iter().sum();
                HoldoutValidation {
                    holdout_duration: summaries.iter().map(|s| s.holdout_n).max().unwrap_or(0)
                        as f64,
                    customers: n,
                    buckets: (0..B)
                        .map(|b| HoldoutBucket {
                            frequency: if b == B - 1 {
                                format!("{b}+")
                            } else {
                                b.to_string()
                            },
                            customers: count[b],
                            actual_mean: actual[b] / count[b].max(1) as f64,
                            predicted_mean: predicted[b] / count[b].max(1) as f64,
                        })
                        .collect(),
                    actual_total: actual.iter().sum(),
                    predicted_total: predicted.iter().sum(),
                    mean_absolute_error: abs_err / n.max(1) as f64,
                }
            });
            let mut entry = fitted_entry(&fit, period, validation.as_ref());
            if let Value::Object(m) = &mut entry.json {
                m.insert("period_days".into(), json!(BGBB_PERIOD_DAYS));
            }
            entry.line.push_str("  (30-day purchase incidence)");
            if let Some(v) = validation {
                validations.push(("bg_bb (30-day periods)".into(), v));
            }
            entry
        }
        FitOutcome::Insufficient { reason, .. } => {
            insufficient_entry("bg_bb", period, &reason.to_string())
        }
    }
}

fn major(minor: f64, exp: u32) -> f64 {
    minor / 10f64.powi(exp as i32)
}

fn decimal(minor: i64, exp: u32) -> String {
    crate::money::format_decimal(minor, exp)
}

/// Parse `input`, analyse it and render the report. Never panics on bad input: unusable rows are
/// listed in [`Report::row_errors`]; an input with no usable rows is an error.
pub fn build_report<R: Read>(input: R, options: &AnalyzeOptions) -> Result<Report, ReportError> {
    let exp = currency_exponent(&options.currency);
    let currency = options.currency.to_ascii_uppercase();
    let parsed = parse_transactions(input, options.format, &options.columns, exp)?;
    if parsed.transactions.is_empty() {
        return Err(ReportError::NoTransactions {
            rows: parsed.rows,
            errors: parsed.errors.len(),
            first: parsed
                .errors
                .first()
                .map(|e| format!("line {}: {}", e.line, e.message))
                .unwrap_or_else(|| "no data rows".into()),
        });
    }
    let mut transactions = parsed.transactions;
    let first_date = transactions
        .iter()
        .map(|t| t.date)
        .min()
        .unwrap_or_default();
    let last_date = transactions
        .iter()
        .map(|t| t.date)
        .max()
        .unwrap_or_default();
    let obs_end = options.observation_end.unwrap_or(last_date);
    if obs_end < first_date {
        return Err(ReportError::InvalidOptions(format!(
            "observation end {obs_end} is before the first transaction {first_date}"
        )));
    }
    transactions.retain(|t| t.date <= obs_end);
    let now = options.now.unwrap_or(obs_end).max(obs_end);
    let unit = options.time_unit;
    let mut notes: Vec<String> = Vec::new();

    // Calibration fits and validation.
    let mut entries: Vec<ModelEntry> = Vec::new();
    let mut validations: Vec<(String, HoldoutValidation)> = Vec::new();
    let mut tracking: Vec<TrackingPoint> = Vec::new();
    let mut tracking_calibration_period: Option<u32> = None;
    let calibration = match options.calibration_end {
        Some(c) if c >= first_date && c < obs_end => Some(c),
        Some(c) => {
            notes.push(format!(
                "calibration end {c} is outside the data ({first_date} … {obs_end}); no holdout validation"
            ));
            None
        }
        None => None,
    };
    if let Some(cal_end) = calibration {
        let cal = summarize(
            &transactions,
            &SummaryOptions {
                time_unit: unit,
                calibration_end: Some(cal_end),
                observation_end: Some(obs_end),
            },
        );
        let h = RfHistogram::from_summaries(&cal);
        let (entry, bg_cal) = purchase_entry(
            "bg_nbd",
            BgNbd::fit(&h),
            "calibration",
            Some(&cal),
            &mut validations,
        );
        entries.push(entry);
        if let Some(m) = bg_cal {
            tracking = cumulative_tracking(&m, &transactions, unit, cal_end, obs_end);
            tracking_calibration_period = tracking
                .iter()
                .find(|p| {
                    let days = (p.period as f64 * unit.days()).round() as i64;
                    first_date + chrono::Days::new(days.max(0) as u64) > cal_end
                })
                .map(|p| p.period);
        }
        if options.fit_all_models {
            entries.push(
                purchase_entry(
                    "pareto_nbd",
                    ParetoNbd::fit(&h),
                    "calibration",
                    Some(&cal),
                    &mut validations,
                )
                .0,
            );
            entries.push(
                purchase_entry(
                    "mbg_nbd",
                    MbgNbd::fit(&h),
                    "calibration",
                    Some(&cal),
                    &mut validations,
                )
                .0,
            );
            entries.push(bgbb_entry(
                &transactions,
                Some(cal_end),
                obs_end,
                "calibration",
                &mut validations,
            ));
        }
    }

    // Full-period summary, scoring models.
    let full = summarize(
        &transactions,
        &SummaryOptions {
            time_unit: unit,
            calibration_end: None,
            observation_end: Some(obs_end),
        },
    );
    let h_full = RfHistogram::from_summaries(&full);
    let minor_per_unit = 10f64.powi(exp as i32);
    let all_on_full = options.fit_all_models && calibration.is_none();
    let (entry, bg_model) = purchase_entry(
        "bg_nbd",
        BgNbd::fit(&h_full),
        "full",
        None,
        &mut validations,
    );
    entries.push(entry);
    let mut pareto_model = None;
    if all_on_full || options.scoring_model == ScoringModel::ParetoNbd {
        let (entry, m) = purchase_entry(
            "pareto_nbd",
            ParetoNbd::fit(&h_full),
            "full",
            None,
            &mut validations,
        );
        entries.push(entry);
        pareto_model = m;
    }
    let mut mbg_model = None;
    if all_on_full || options.scoring_model == ScoringModel::MbgNbd {
        let (entry, m) = purchase_entry(
            "mbg_nbd",
            MbgNbd::fit(&h_full),
            "full",
            None,
            &mut validations,
        );
        entries.push(entry);
        mbg_model = m;
    }
    if all_on_full {
        entries.push(bgbb_entry(
            &transactions,
            None,
            obs_end,
            "full",
            &mut validations,
        ));
    }
    let chosen = match options.scoring_model {
        ScoringModel::BgNbd => bg_model.map(AnyPurchaseModel::BgNbd),
        ScoringModel::MbgNbd => mbg_model.map(AnyPurchaseModel::MbgNbd),
        ScoringModel::ParetoNbd => pareto_model.map(AnyPurchaseModel::ParetoNbd),
    };
    let purchase = match (chosen, bg_model) {
        (Some(m), _) => m,
        (None, Some(bg)) => {
            notes.push(format!(
                "{} could not be fitted; scores use BG/NBD",
                options.scoring_model.name()
            ));
            AnyPurchaseModel::BgNbd(bg)
        }
        (None, None) => {
            notes.push("no purchase model could be fitted; scores use empirical rates".into());
            AnyPurchaseModel::Empirical(EmpiricalModel::from_histogram(&h_full))
        }
    };
    let spend_data: Vec<(f64, f64)> = full
        .iter()
        .filter(|s| s.frequency > 0)
        .map(|s| (s.frequency as f64, s.monetary_minor / minor_per_unit))
        .collect();
    let spend = match GammaGamma::fit(&spend_data) {
        FitOutcome::Fitted(f) => {
            entries.push(fitted_entry(&f, "full", None));
            SpendModel::GammaGamma(f.model)
        }
        FitOutcome::Insufficient { reason, fallback } => {
            let fallback = if spend_data.is_empty() {
                EmpiricalSpend {
                    mean_spend: full
                        .iter()
                        .map(|s| s.revenue_minor as f64 / s.orders.max(1) as f64)
                        .sum::<f64>()
                        / full.len().max(1) as f64
                        / minor_per_unit,
                }
            } else {
                fallback
            };
            notes.push(format!(
                "Gamma-Gamma not fitted: {reason}; CLV uses average spend"
            ));
            entries.push(insufficient_entry(
                "gamma_gamma",
                "full",
                &reason.to_string(),
            ));
            SpendModel::Empirical(fallback)
        }
    };
    let model_fit = ModelFit::from_models(purchase, spend, &full, unit, &currency, notes.clone());
    let predictions = score_customers(&model_fit, &full, now, options.horizon);

    let metrics = key_metrics(&transactions);
    let cohorts = monthly_cohorts(&transactions);

    // Files.
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    files.push((
        "customers.csv".into(),
        customers_csv(&full, &predictions, exp, &currency),
    ));
    files.push(("cohorts.csv".into(), cohorts_csv(&cohorts, exp)));
    if !validations.is_empty() {
        files.push(("validation.csv".into(), validation_csv(&validations)));
    }
    files.push((
        "cohort_retention.svg".into(),
        crate::svg::cohort_heatmap(&cohorts).into_bytes(),
    ));
    if let Some((name, v)) = validations.first() {
        files.push((
            "holdout_fit.svg".into(),
            crate::svg::holdout_bars(v, name).into_bytes(),
        ));
    }
    if !tracking.is_empty() {
        files.push((
            "tracking.svg".into(),
            crate::svg::tracking_lines(
                &tracking,
                tracking_calibration_period,
                unit.name(),
                "bg_nbd",
            )
            .into_bytes(),
        ));
    }
    let clv_major: Vec<f64> = predictions
        .iter()
        .map(|p| major(p.clv_minor as f64, exp))
        .collect();
    files.push((
        "clv_distribution.svg".into(),
        crate::svg::clv_histogram(&clv_major, &currency).into_bytes(),
    ));

    // Segments and CLV statistics.
    let mut segment_counts: Vec<(Segment, u64)> = Segment::ALL.iter().map(|s| (*s, 0)).collect();
    for p in &predictions {
        if let Some(e) = segment_counts.iter_mut().find(|(s, _)| *s == p.rfm.segment) {
            e.1 += 1;
        }
    }
    let mut clv_sorted: Vec<i64> = predictions.iter().map(|p| p.clv_minor).collect();
    clv_sorted.sort_unstable();
    let clv_total: i64 = clv_sorted.iter().fold(0i64, |a, b| a.saturating_add(*b));
    let clv_mean = if clv_sorted.is_empty() {
        0.0
    } else {
        clv_total as f64 / clv_sorted.len() as f64
    };
    let pct = |q: f64| -> i64 {
        if clv_sorted.is_empty() {
            0
        } else {
            clv_sorted[((clv_sorted.len() - 1) as f64 * q).round() as usize]
        }
    };
    let top_decile: i64 = clv_sorted
        .iter()
        .rev()
        .take(clv_sorted.len().div_ceil(10))
        .fold(0i64, |a, b| a.saturating_add(*b));
    let top_share = if clv_total > 0 {
        top_decile as f64 / clv_total as f64
    } else {
        0.0
    };
    let at_risk_value: i64 = predictions
        .iter()
        .filter(|p| p.churn_risk > 0.5)
        .map(|p| p.clv_minor)
        .fold(0i64, |a, b| a.saturating_add(b));

    let json = json!({
        "model_version": crate::score::MODEL_VERSION,
        "options": {
            "time_unit": unit.name(),
            "calibration_end": options.calibration_end.map(|d| d.to_string()),
            "observation_end": obs_end.to_string(),
            "scoring_date": now.to_string(),
            "currency": currency,
            "horizon_months": options.horizon.months,
            "monthly_discount_rate": options.horizon.monthly_discount_rate,
            "format": parsed.format,
        },
        "input": {
            "rows": parsed.rows,
            "transactions": transactions.len(),
            "row_errors": parsed.errors.len(),
            "first_row_errors": parsed.errors.iter().take(20).collect::<Vec<_>>(),
        },
        "period": {"first_date": first_date.to_string(), "last_date": last_date.to_string()},
        "metrics": metrics_json(&metrics, exp),
        "models": entries.iter().map(|e| e.json.clone()).collect::<Vec<_>>(),
        "tracking": {
            "model": "bg_nbd",
            "period_unit": unit.name(),
            "calibration_period": tracking_calibration_period,
            "points": tracking,
        },
        "scoring_model": model_fit,
        "notes": notes,
        "segments": segment_counts.iter().map(|(s, n)| json!({
            "segment": s, "name_en": s.name_en(), "name_ar": s.name_ar(), "customers": n
        })).collect::<Vec<_>>(),
        "clv": {
            "total": major(clv_total as f64, exp),
            "mean": major(clv_mean, exp),
            "median": major(pct(0.5) as f64, exp),
            "p90": major(pct(0.9) as f64, exp),
            "top_decile_share": top_share,
            "at_risk_value": major(at_risk_value as f64, exp),
        },
        "cohorts": cohorts.iter().map(|c| json!({
            "cohort": c.cohort, "customers": c.customers, "retention": c.retention,
            "revenue": c.revenue_minor.iter().map(|r| major(*r as f64, exp)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    files.push((
        "report.json".into(),
        serde_json::to_vec_pretty(&json).unwrap_or_default(),
    ));

    // Terminal summary.
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Wafa analysis: {} transactions, {} customers, {} … {} ({}), currency {}",
        transactions.len(),
        metrics.customers,
        first_date,
        obs_end,
        match parsed.format {
            InputFormat::Cdnow => "CDNOW format",
            _ => "CSV",
        },
        currency
    );
    if !parsed.errors.is_empty() {
        let _ = writeln!(
            t,
            "Skipped {} bad rows (first: line {}: {})",
            parsed.errors.len(),
            parsed.errors[0].line,
            parsed.errors[0].message
        );
    }
    let _ = writeln!(
        t,
        "Revenue {} · orders {} · average order {} · repeat-purchase rate {:.1}% · days between orders: mean {} / median {}",
        format_money(metrics.revenue_minor, &currency),
        metrics.orders,
        format_money(metrics.average_order_value_minor.round() as i64, &currency),
        metrics.repeat_purchase_rate * 100.0,
        metrics.mean_days_between_orders.map_or("-".into(), |v| format!("{v:.1}")),
        metrics.median_days_between_orders.map_or("-".into(), |v| format!("{v:.1}")),
    );
    let _ = writeln!(t, "Models (time unit: {}):", unit.name());
    for period in ["calibration", "full"] {
        let list: Vec<&ModelEntry> = entries.iter().filter(|e| e.period == period).collect();
        if list.is_empty() {
            continue;
        }
        let label = match (period, calibration) {
            ("calibration", Some(c)) => {
                format!(" fitted on {first_date} … {c}, validated on the rest:")
            }
            _ => format!(
                " fitted on all data to {obs_end} (scores use {} and Gamma-Gamma):",
                model_fit.purchase.model_name()
            ),
        };
        let _ = writeln!(t, "{label}");
        for e in list {
            let _ = writeln!(t, "{}", e.line);
        }
    }
    for n in &notes {
        let _ = writeln!(t, "Note: {n}");
    }
    let _ = writeln!(
        t,
        "CLV ({} months, {:.1}%/month discount): total {}, mean {}, median {}; top 10% of customers hold {:.0}% of it; {} belongs to customers more likely gone than active",
        options.horizon.months,
        options.horizon.monthly_discount_rate * 100.0,
        format_money(clv_total, &currency),
        format_money(clv_mean.round() as i64, &currency),
        format_money(pct(0.5), &currency),
        top_share * 100.0,
        format_money(at_risk_value, &currency),
    );
    let total = predictions.len().max(1) as f64;
    let seg_text: Vec<String> = segment_counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{} {} ({:.0}%)", s.name_en(), n, *n as f64 / total * 100.0))
        .collect();
    let _ = writeln!(t, "Segments: {}", seg_text.join(" · "));
    let seg_text_ar: Vec<String> = segment_counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{} {}", s.name_ar(), n))
        .collect();
    let _ = writeln!(t, "الشرائح: {}", seg_text_ar.join(" · "));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let _ = writeln!(t, "Files: {}", names.join(", "));

    Ok(Report {
        summary_text: t,
        files,
        json,
        row_errors: parsed.errors,
    })
}

fn metrics_json(m: &KeyMetrics, exp: u32) -> Value {
    json!({
        "customers": m.customers,
        "orders": m.orders,
        "revenue": major(m.revenue_minor as f64, exp),
        "revenue_minor": m.revenue_minor,
        "repeat_purchase_rate": m.repeat_purchase_rate,
        "mean_days_between_orders": m.mean_days_between_orders,
        "median_days_between_orders": m.median_days_between_orders,
        "average_order_value": major(m.average_order_value_minor, exp),
    })
}

fn write_csv(rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        let _ = w.write_record(&r);
    }
    w.into_inner().unwrap_or_default()
}

fn customers_csv(
    summaries: &[CustomerSummary],
    predictions: &[CustomerPrediction],
    exp: u32,
    currency: &str,
) -> Vec<u8> {
    let header = [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary",
        "p_alive",
        "churn_risk",
        "expected_purchases_30d",
        "expected_purchases_90d",
        "prob_purchase_30d",
        "expected_next_order",
        "expected_spend",
        "clv",
        "currency",
        "r_score",
        "f_score",
        "m_score",
        "segment",
        "segment_ar",
        "explanation_en",
        "explanation_ar",
    ];
    let rows = std::iter::once(header.iter().map(|s| s.to_string()).collect()).chain(
        summaries.iter().zip(predictions).map(|(s, p)| {
            vec![
                s.customer.clone(),
                s.frequency.to_string(),
                format!("{:.4}", s.recency),
                format!("{:.4}", s.t),
                decimal(s.monetary_minor.round() as i64, exp),
                format!("{:.4}", p.p_alive),
                format!("{:.4}", p.churn_risk),
                format!("{:.4}", p.expected_purchases_30d),
                format!("{:.4}", p.expected_purchases_90d),
                format!("{:.4}", p.prob_purchase_30d),
                p.expected_next_order
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                decimal(p.expected_spend_minor.round() as i64, exp),
                decimal(p.clv_minor, exp),
                currency.to_string(),
                p.rfm.recency.to_string(),
                p.rfm.frequency.to_string(),
                p.rfm.monetary.to_string(),
                p.rfm.segment.name_en().to_string(),
                p.rfm.segment.name_ar().to_string(),
                p.explanation_en.clone(),
                p.explanation_ar.clone(),
            ]
        }),
    );
    write_csv(rows)
}

fn cohorts_csv(rows: &[CohortRow], exp: u32) -> Vec<u8> {
    let header = vec![
        "cohort".to_string(),
        "customers".into(),
        "month_offset".into(),
        "active_customers".into(),
        "retention".into(),
        "revenue".into(),
    ];
    let mut out = vec![header];
    for r in rows {
        for k in 0..r.active.len() {
            out.push(vec![
                r.cohort.clone(),
                r.customers.to_string(),
                k.to_string(),
                r.active[k].to_string(),
                format!("{:.4}", r.retention[k]),
                decimal(r.revenue_minor[k], exp),
            ]);
        }
    }
    write_csv(out)
}

fn validation_csv(v: &[(String, HoldoutValidation)]) -> Vec<u8> {
    let mut out = vec![vec![
        "model".to_string(),
        "calibration_frequency".into(),
        "customers".into(),
        "actual_mean_holdout_purchases".into(),
        "predicted_mean_holdout_purchases".into(),
    ]];
    for (name, val) in v {
        for b in &val.buckets {
            out.push(vec![
                name.clone(),
                b.frequency.clone(),
                b.customers.to_string(),
                format!("{:.4}", b.actual_mean),
                format!("{:.4}", b.predicted_mean),
            ]);
        }
        out.push(vec![
            name.clone(),
            "total".into(),
            val.customers.to_string(),
            format!("{:.2}", val.actual_total),
            format!("{:.2}", val.predicted_total),
        ]);
    }
    write_csv(out)
}
