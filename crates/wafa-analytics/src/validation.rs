//! Calibration/holdout validation (Fader, Hardie & Lee 2005, Figure 4 / Table): fit on the
//! calibration period, then compare the model's conditional expectation of holdout purchases
//! with what customers actually did, by calibration frequency bucket (0, 1, …, 6, 7+) and in total.

use crate::models::PurchaseModel;
use crate::summary::CustomerSummary;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutBucket {
    /// "0" … "6", "7+".
    pub frequency: String,
    pub customers: u64,
    pub actual_mean: f64,
    pub predicted_mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutValidation {
    pub holdout_duration: f64,
    pub customers: u64,
    pub buckets: Vec<HoldoutBucket>,
    pub actual_total: f64,
    pub predicted_total: f64,
    /// Mean absolute error of per-customer predictions.
    pub mean_absolute_error: f64,
}

/// Compare predicted and actual holdout purchases. `summaries` must come from
/// [`crate::summary::summarize`] with a calibration end (so holdout columns are filled).
pub fn validate_holdout<M: PurchaseModel + ?Sized, C>(
    model: &M,
    summaries: &[CustomerSummary<C>],
) -> HoldoutValidation {
    const BUCKETS: usize = 8;
    let mut count = [0u64; BUCKETS];
    let mut actual = [0.0f64; BUCKETS];
    let mut predicted = [0.0f64; BUCKETS];
    let mut abs_err = 0.0;
    let duration = summaries.first().map(|s| s.holdout_duration).unwrap_or(0.0);
    for s in summaries {
        let x = s.frequency as f64;
        let p = model.expected_purchases(s.holdout_duration, x, s.recency, s.t);
        let p = if p.is_finite() { p } else { 0.0 };
        let b = (s.frequency as usize).min(BUCKETS - 1);
        count[b] += 1;
        actual[b] += s.holdout_frequency as f64;
        predicted[b] += p;
        abs_err += (p - s.holdout_frequency as f64).abs();
    }
    let n = summaries.len() as u64;
    HoldoutValidation {
        holdout_duration: duration,
        customers: n,
        buckets: (0..BUCKETS)
            .map(|b| HoldoutBucket {
                frequency: if b == BUCKETS - 1 {
                    format!("{b}+")
                } else {
                    b.to_string()
                },
                customers: count[b],
                actual_mean: if count[b] > 0 {
                    actual[b] / count[b] as f64
                } else {
                    0.0
                },
                predicted_mean: if count[b] > 0 {
                    predicted[b] / count[b] as f64
                } else {
                    0.0
                },
            })
            .collect(),
        actual_total: actual.iter().sum(),
        predicted_total: predicted.iter().sum(),
        mean_absolute_error: if n > 0 { abs_err / n as f64 } else { 0.0 },
    }
}
