//! Recomputing a workspace's predictions: orders → revenue log → analytics → stored scores.
//!
//! Which orders count is the domain's revenue rule (paid and not refunded; cash on delivery
//! once delivered), net of partial refunds. Customers are scored in the currency most of
//! their orders use, one model fit per currency, because spend cannot be pooled across
//! currencies without exchange rates. The analytics are pure and CPU-bound, so they run on a
//! blocking thread.

use crate::error::{AppError, AppResult};
use crate::store::{NewPrediction, RevenueRow, Store};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use std::collections::HashMap;
use wafa_analytics::{
    score_customers, summarize, Horizon, ModelFit, SummaryOptions, TimeUnit, Transaction,
    MODEL_VERSION,
};
use wafa_domain::{OrderStatus, PaymentMethod};

#[derive(Debug, Clone, serde::Serialize)]
pub struct RecomputeSummary {
    pub customers: usize,
    /// (currency, customers scored in it)
    pub per_currency: Vec<(String, usize)>,
    pub seconds: f64,
}

fn date_of(ms: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

/// What the console's analytics screen draws, per currency: the RFM grid (recency ×
/// frequency scores), monthly cohort retention, the CLV distribution and the holdout
/// tracking curve (a fit on all but the last 13 weeks, predicting those weeks).
pub fn insights(
    txs: &[Transaction<i64>],
    scored: &[NewPrediction],
    today: NaiveDate,
    currency: &str,
) -> serde_json::Value {
    let mut grid = [[0u64; 5]; 5];
    for p in scored {
        let (r, f) = (p.rfm.0.clamp(1, 5) as usize, p.rfm.1.clamp(1, 5) as usize);
        grid[r - 1][f - 1] += 1;
    }
    // CLV distribution: bins with bounds at "nice" multiples of the major unit.
    let major = wafa_domain::Currency::parse(currency)
        .map(|c| 10i64.pow(c.decimals() as u32))
        .unwrap_or(100);
    let bounds: Vec<i64> = [0, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
        .iter()
        .map(|b| b * major)
        .collect();
    let mut bins = vec![0u64; bounds.len()];
    for p in scored {
        let i = bounds.iter().rposition(|b| p.clv_minor >= *b).unwrap_or(0);
        bins[i] += 1;
    }
    let mut cohorts = wafa_analytics::cohort::monthly_cohorts(txs);
    if cohorts.len() > 12 {
        cohorts.drain(..cohorts.len() - 12);
    }
    let cohorts: Vec<serde_json::Value> = cohorts
        .iter()
        .map(|c| {
            serde_json::json!({
                "cohort": c.cohort,
                "customers": c.customers,
                "retention": c.retention.iter().take(13).map(|r| (r * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut tracking = serde_json::Value::Null;
    let first = txs.iter().map(|t| t.date).min();
    let cal_end = today - chrono::Duration::weeks(13);
    if let Some(first) = first {
        if (cal_end - first).num_days() >= 13 * 7 {
            let opts = SummaryOptions {
                time_unit: TimeUnit::Week,
                calibration_end: Some(cal_end),
                observation_end: Some(today),
            };
            let cal: Vec<Transaction<i64>> =
                txs.iter().filter(|t| t.date <= cal_end).cloned().collect();
            let summaries = summarize(&cal, &opts);
            let fit = ModelFit::fit(&summaries, TimeUnit::Week, currency);
            let points = wafa_analytics::validation::cumulative_tracking(
                &fit.purchase,
                txs,
                TimeUnit::Week,
                cal_end,
                today,
            );
            let cal_period = (cal_end - first).num_days() / 7;
            tracking = serde_json::json!({
                "calibration_end_week": cal_period,
                "points": points.iter().map(|p| [p.period as f64, (p.actual_cumulative * 10.0).round() / 10.0, (p.predicted_cumulative * 10.0).round() / 10.0]).collect::<Vec<_>>(),
            });
        }
    }
    serde_json::json!({
        "customers": scored.len(),
        "rfm_grid": grid,
        "clv_bins": bounds.iter().zip(&bins).map(|(b, n)| serde_json::json!([b, n])).collect::<Vec<_>>(),
        "cohorts": cohorts,
        "tracking": tracking,
    })
}

/// The pure part: revenue rows → predictions and fitted models (currency, customers, fit JSON).
pub fn compute(
    rows: &[RevenueRow],
    today: NaiveDate,
) -> (Vec<NewPrediction>, Vec<(String, i64, String)>) {
    let (p, m, _) = compute_with_insights(rows, today);
    (p, m)
}

/// [`compute`] plus the analytics screen's insights per currency.
#[allow(clippy::type_complexity)]
pub fn compute_with_insights(
    rows: &[RevenueRow],
    today: NaiveDate,
) -> (
    Vec<NewPrediction>,
    Vec<(String, i64, String)>,
    Vec<(String, serde_json::Value)>,
) {
    let mut by_currency: HashMap<&str, Vec<Transaction<i64>>> = HashMap::new();
    let mut counts: HashMap<(i64, &str), usize> = HashMap::new();
    for r in rows {
        let status = OrderStatus::parse(&r.status).unwrap_or(OrderStatus::Placed);
        let method = PaymentMethod::parse_loose(&r.payment_method);
        if !wafa_domain::order::counts_as_revenue(status, method, &[]) {
            continue;
        }
        let date = date_of(r.placed_at);
        if date > today {
            continue;
        }
        *counts
            .entry((r.customer_id, r.currency.as_str()))
            .or_default() += 1;
        by_currency
            .entry(r.currency.as_str())
            .or_default()
            .push(Transaction {
                customer: r.customer_id,
                date,
                amount_minor: (r.total_minor - r.refunded_minor).max(0),
            });
    }
    // Each customer's dominant currency (ties: alphabetical, for determinism).
    let mut dominant: HashMap<i64, (&str, usize)> = HashMap::new();
    for ((c, cur), n) in &counts {
        let e = dominant.entry(*c).or_insert((cur, *n));
        if *n > e.1 || (*n == e.1 && *cur < e.0) {
            *e = (cur, *n);
        }
    }
    let mut predictions = Vec::new();
    let mut models = Vec::new();
    let mut all_insights = Vec::new();
    let mut currencies: Vec<&str> = by_currency.keys().copied().collect();
    currencies.sort();
    for cur in currencies {
        let txs: Vec<Transaction<i64>> = by_currency[cur]
            .iter()
            .filter(|t| dominant.get(&t.customer).map(|d| d.0) == Some(cur))
            .cloned()
            .collect();
        if txs.is_empty() {
            continue;
        }
        let opts = SummaryOptions {
            time_unit: TimeUnit::Week,
            calibration_end: None,
            observation_end: Some(today),
        };
        let summaries = summarize(&txs, &opts);
        let fit = ModelFit::fit(&summaries, TimeUnit::Week, cur);
        let scored = score_customers(&fit, &summaries, today, Horizon::default());
        models.push((
            cur.to_owned(),
            scored.len() as i64,
            serde_json::to_string(&fit).unwrap_or_else(|_| "{}".into()),
        ));
        let first_new = predictions.len();
        for p in scored {
            let next = p
                .expected_next_order
                .map(|d| d.and_time(NaiveTime::MIN).and_utc().timestamp_millis());
            let segment = serde_json::to_value(p.rfm.segment)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            predictions.push(NewPrediction {
                customer_id: p.customer,
                currency: cur.to_owned(),
                clv_minor: p.clv_minor,
                p_alive: if p.p_alive.is_finite() {
                    p.p_alive
                } else {
                    0.0
                },
                expected_orders_90d: if p.expected_purchases_90d.is_finite() {
                    p.expected_purchases_90d
                } else {
                    0.0
                },
                next_order_at: next,
                rfm: (p.rfm.recency, p.rfm.frequency, p.rfm.monetary),
                rfm_segment: segment,
                explanation_en: p.explanation_en,
                explanation_ar: p.explanation_ar,
            });
        }
        all_insights.push((
            cur.to_owned(),
            insights(&txs, &predictions[first_new..], today, cur),
        ));
    }
    (predictions, models, all_insights)
}

/// Recompute and store one workspace's predictions.
pub async fn recompute(store: &Store, workspace_id: i64) -> AppResult<RecomputeSummary> {
    let started = std::time::Instant::now();
    let rows = store.revenue_rows(workspace_id).await?;
    let today = Utc::now().date_naive();
    let (predictions, models, insights) =
        tokio::task::spawn_blocking(move || compute_with_insights(&rows, today))
            .await
            .map_err(|e| AppError::internal(format!("analytics task failed: {e}")))?;
    let mut per_currency: HashMap<String, usize> = HashMap::new();
    for p in &predictions {
        *per_currency.entry(p.currency.clone()).or_default() += 1;
    }
    let customers = predictions.len();
    store
        .replace_predictions(workspace_id, MODEL_VERSION, predictions, models)
        .await?;
    store.replace_insights(workspace_id, insights).await?;
    let mut per_currency: Vec<(String, usize)> = per_currency.into_iter().collect();
    per_currency.sort();
    Ok(RecomputeSummary {
        customers,
        per_currency,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Recompute every workspace now, then every `interval`, until the process ends.
pub fn spawn_schedule(store: Store, interval: std::time::Duration) {
    tokio::spawn(async move {
        loop {
            match store.list_workspaces().await {
                Ok(all) => {
                    for w in all {
                        match recompute(&store, w.id).await {
                            Ok(s) => tracing::info!(
                                workspace = w.id,
                                customers = s.customers,
                                seconds = s.seconds,
                                "predictions recomputed"
                            ),
                            Err(e) => {
                                tracing::warn!(workspace = w.id, error = %e, "predictions not recomputed")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list workspaces for predictions"),
            }
            tokio::time::sleep(interval).await;
        }
    });
}
