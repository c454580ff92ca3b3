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

/// One point of the cumulative repeat-purchase tracking curve (FHL 2005, Figure 3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackingPoint {
    /// Periods (time units) since the first day in the data.
    pub period: u32,
    pub actual_cumulative: f64,
    pub predicted_cumulative: f64,
}

/// Cumulative repeat purchases of the customers acquired up to `calibration_end`, actual vs
/// predicted by the model's unconditional expectation E[X(t)], period by period from the first
/// day in the data to `end` — the standard "tracking plot" of the calibration and holdout
/// periods. Customers are grouped by first-purchase day, so the cost is (distinct first days) ×
/// (periods) expectations regardless of the number of customers.
pub fn cumulative_tracking<M: PurchaseModel + ?Sized, C: std::hash::Hash + Eq>(
    model: &M,
    transactions: &[crate::summary::Transaction<C>],
    unit: crate::summary::TimeUnit,
    calibration_end: chrono::NaiveDate,
    end: chrono::NaiveDate,
) -> Vec<TrackingPoint> {
    use crate::summary::{day_number, group_by_customer};
    let g = group_by_customer(transactions);
    let cal_end = day_number(calibration_end);
    let end = day_number(end);
    let unit_days = unit.days();
    let mut first_days: Vec<i32> = Vec::new();
    let mut repeat_days: Vec<i32> = Vec::new();
    for span in &g.customers {
        let rows = g.rows_of(span);
        let first = rows[0].0;
        if first > cal_end {
            continue;
        }
        first_days.push(first);
        let mut prev = first;
        for &(day, _) in rows {
            if day != prev && day <= end {
                repeat_days.push(day);
            }
            prev = day;
        }
    }
    let Some(&origin) = first_days.iter().min() else {
        return Vec::new();
    };
    let periods = (((end - origin) as f64 / unit_days).ceil().max(0.0) as u32).min(10_000);
    // Customers per first day.
    first_days.sort_unstable();
    let mut cohorts: Vec<(i32, f64)> = Vec::new();
    for d in first_days {
        match cohorts.last_mut() {
            Some(last) if last.0 == d => last.1 += 1.0,
            _ => cohorts.push((d, 1.0)),
        }
    }
    repeat_days.sort_unstable();
    let mut points = Vec::with_capacity(periods as usize);
    let mut actual = 0usize;
    for p in 1..=periods {
        let boundary = origin as f64 + p as f64 * unit_days; // exclusive, in days
        while actual < repeat_days.len() && (repeat_days[actual] as f64) < boundary {
            actual += 1;
        }
        let predicted: f64 = cohorts
            .iter()
            .filter(|(d, _)| (*d as f64) < boundary)
            .map(|(d, n)| {
                n * model.expected_purchases_new_customer((boundary - *d as f64) / unit_days)
            })
            .filter(|v| v.is_finite())
            .sum();
        points.push(TrackingPoint {
            period: p,
            actual_cumulative: actual as f64,
            predicted_cumulative: predicted,
        });
    }
    points
}
