//! # wafa-analytics
//!
//! Pure customer-base analytics for Wafa (no file, network or database access: inputs are slices,
//! structs or any [`std::io::Read`]; outputs are structs, strings and byte vectors).
//!
//! * [`summary`]: transaction log → per-customer frequency / recency / T / monetary (day or
//!   week units, same-day purchases merged, optional calibration/holdout split). Fast: ~10M rows/s.
//! * [`models`]: BG/NBD, Pareto/NBD, MBG/NBD, BG/BB and Gamma-Gamma maximum-likelihood fits with
//!   standard errors, P(alive), conditional and unconditional expected purchases, probability of
//!   buying within a window, median time to the next purchase; typed "too little data" outcomes
//!   with empirical fallbacks. Fits reproduce the published CDNOW / donations results.
//! * [`score`]: per-customer predictions for the server (CLV, churn risk, next order date, RFM
//!   segment, English/Arabic explanation) and [`score::MODEL_VERSION`]. Scores default to
//!   MBG/NBD ([`score::ScoringModel`]) because BG/NBD treats every one-time buyer as alive.
//! * [`rfm`], [`cohort`], [`validation`], [`explain`], [`money`], [`parse`], [`svg`].
//! * [`report`]: everything above behind one call for the `wafa analyze` command.
//!
//! ## Money and revenue rules
//! Amounts are integer minor units (`i64`) with an ISO 4217 currency code; decimal strings are
//! parsed exactly ([`money::parse_amount_minor`]). Which orders count as revenue (paid and not
//! refunded; cash-on-delivery only once delivered) is the **caller's** decision: pass only those
//! transactions.
//!
//! ## Wiring `wafa analyze` (app crate)
//! ```no_run
//! use wafa_analytics::report::{build_report, AnalyzeOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut options = AnalyzeOptions::default();
//! options.time_unit = "week".parse()?;                                // --time-unit day|week
//! options.calibration_end = Some("1997-09-30".parse()?);              // --calibration-end
//! options.columns = "customer=email,date=created_at,amount=total".parse()?; // --columns
//! options.format = "auto".parse()?;                                   // --format auto|csv|cdnow
//! let file = std::fs::File::open("transactions.csv")?;
//! let report = build_report(std::io::BufReader::new(file), &options)?;
//! print!("{}", report.summary_text);
//! for (name, bytes) in &report.files {                                // --out DIR
//!     std::fs::write(std::path::Path::new("out").join(name), bytes)?;
//! }
//! std::fs::write("report.json", serde_json::to_vec_pretty(&report.json)?)?; // --json FILE
//! # Ok(()) }
//! ```
//!
//! ## Scoring on the server
//! ```no_run
//! use wafa_analytics::score::{score_customers, Horizon, ModelFit};
//! use wafa_analytics::summary::{summarize, SummaryOptions, TimeUnit, Transaction};
//! # let transactions: Vec<Transaction> = Vec::new();
//! # let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
//! let summaries = summarize(&transactions, &SummaryOptions { time_unit: TimeUnit::Week, ..Default::default() });
//! let fit = ModelFit::fit(&summaries, TimeUnit::Week, "SAR"); // store it (serde) with MODEL_VERSION
//! let predictions = score_customers(&fit, &summaries, today, Horizon::default());
//! ```

pub mod cohort;
pub mod explain;
pub mod models;
pub mod money;
pub mod optimize;
pub mod parse;
pub mod report;
pub mod rfm;
pub mod score;
pub mod special;
pub mod summary;
pub mod svg;
pub mod validation;

pub use report::{build_report, AnalyzeOptions, Report};
pub use score::{
    score_customers, CustomerPrediction, Horizon, ModelFit, ScoringModel, MODEL_VERSION,
};
pub use summary::{summarize, CustomerSummary, SummaryOptions, TimeUnit, Transaction};
