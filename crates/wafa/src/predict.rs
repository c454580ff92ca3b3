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

/// The pure part: revenue rows → predictions and fitted models (currency, customers, fit JSON).
pub fn compute(
    rows: &[RevenueRow],
    today: NaiveDate,
) -> (Vec<NewPrediction>, Vec<(String, i64, String)>) {
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
    }
    (predictions, models)
}

/// Recompute and store one workspace's predictions.
pub async fn recompute(store: &Store, workspace_id: i64) -> AppResult<RecomputeSummary> {
    let started = std::time::Instant::now();
    let rows = store.revenue_rows(workspace_id).await?;
    let today = Utc::now().date_naive();
    let (predictions, models) = tokio::task::spawn_blocking(move || compute(&rows, today))
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
