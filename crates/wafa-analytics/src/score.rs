//! Per-customer scoring for the server and the report: P(alive), churn risk, expected purchases,
//! probability of ordering soon, expected next order date, CLV, RFM segment and bilingual
//! explanations.
//!
//! CLV follows `lifetimes`' `customer_lifetime_value`: for month i = 1..=months the expected
//! purchases in that month times the Gamma-Gamma expected spend, discounted by
//! (1 + monthly rate)^i. Speed: conditional expectations factor as P(alive) × E[purchases | alive],
//! and the second factor depends only on (frequency, age), which many customers share, so it is
//! cached; scoring a million customers takes well under a second.

use crate::explain::{explain, ExplainInput};
use crate::models::gamma_gamma::EmpiricalSpend;
use crate::models::{
    AnyPurchaseModel, BgNbd, EmpiricalModel, FitOutcome, GammaGamma, MbgNbd, ParetoNbd,
    PurchaseModel, RfHistogram,
};
use crate::money::{currency_exponent, format_money};
use crate::rfm::{rfm_scores, RfmInput, RfmScore};
use crate::summary::{
    ages_at, date_from_day_number, day_number, CustomerSummary, FastMap, TimeUnit,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Version of the scoring logic; stored with scores so they can be recomputed when it changes.
pub const MODEL_VERSION: &str = "wafa-analytics/0.1.0 scoring-1 (mbg-nbd default, gamma-gamma)";

/// Which purchase model drives the scores.
///
/// MBG/NBD is the default because plain BG/NBD assumes every one-time buyer is still active
/// (P(alive) = 1 for frequency 0), which would label the typical 60–70% of one-order customers
/// "no churn risk" however long ago they bought. MBG/NBD fits CDNOW as well (LL −9582.1 vs
/// −9582.4) and gives one-time buyers a P(alive) that decays with time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoringModel {
    BgNbd,
    #[default]
    MbgNbd,
    ParetoNbd,
}

impl ScoringModel {
    pub fn name(self) -> &'static str {
        match self {
            ScoringModel::BgNbd => "BG/NBD",
            ScoringModel::MbgNbd => "MBG/NBD",
            ScoringModel::ParetoNbd => "Pareto/NBD",
        }
    }
}

impl std::str::FromStr for ScoringModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['/', '-', '_'], "")
            .as_str()
        {
            "bgnbd" => Ok(ScoringModel::BgNbd),
            "mbgnbd" => Ok(ScoringModel::MbgNbd),
            "paretonbd" | "pareto" => Ok(ScoringModel::ParetoNbd),
            other => Err(format!(
                "unknown model '{other}' (bg-nbd, mbg-nbd, pareto-nbd)"
            )),
        }
    }
}

/// Spend model used for CLV.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum SpendModel {
    GammaGamma(GammaGamma),
    Empirical(EmpiricalSpend),
}

impl SpendModel {
    /// Expected mean spend per purchase (in spend-model units).
    pub fn expected_spend(&self, x: f64, mean_spend: f64) -> f64 {
        match self {
            SpendModel::GammaGamma(m) => m.expected_spend(x, mean_spend),
            SpendModel::Empirical(m) => m.expected_spend(x, mean_spend),
        }
    }
}

/// Everything needed to score customers; serialisable so the server can store it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFit {
    pub model_version: String,
    pub purchase: AnyPurchaseModel,
    pub spend: SpendModel,
    /// Spend-model unit in minor units (spend is modelled in major units, e.g. 100 for SAR).
    pub minor_per_spend_unit: f64,
    pub currency: String,
    pub time_unit: TimeUnit,
    /// Typical days between orders of repeat customers (for explaining one-time buyers).
    pub population_gap_days: Option<f64>,
    /// Why a fallback was used, if any (English).
    pub notes: Vec<String>,
}

impl ModelFit {
    /// Fit the default scoring model (MBG/NBD) + Gamma-Gamma, falling back to BG/NBD and then
    /// to empirical estimates (with a note) when the data are too thin.
    pub fn fit<C>(summaries: &[CustomerSummary<C>], time_unit: TimeUnit, currency: &str) -> Self {
        Self::fit_with(summaries, time_unit, currency, ScoringModel::default())
    }

    /// Like [`ModelFit::fit`] with an explicit purchase model.
    pub fn fit_with<C>(
        summaries: &[CustomerSummary<C>],
        time_unit: TimeUnit,
        currency: &str,
        model: ScoringModel,
    ) -> Self {
        let h = RfHistogram::from_summaries(summaries);
        let mut notes = Vec::new();
        let chosen = match model {
            ScoringModel::BgNbd => BgNbd::fit(&h)
                .into_fitted()
                .map(|f| AnyPurchaseModel::BgNbd(f.model)),
            ScoringModel::MbgNbd => MbgNbd::fit(&h)
                .into_fitted()
                .map(|f| AnyPurchaseModel::MbgNbd(f.model)),
            ScoringModel::ParetoNbd => ParetoNbd::fit(&h)
                .into_fitted()
                .map(|f| AnyPurchaseModel::ParetoNbd(f.model)),
        };
        let purchase = match chosen {
            Some(m) => m,
            None => match BgNbd::fit(&h) {
                FitOutcome::Fitted(f) => {
                    notes.push(format!(
                        "{} could not be fitted; using BG/NBD",
                        model.name()
                    ));
                    AnyPurchaseModel::BgNbd(f.model)
                }
                FitOutcome::Insufficient { reason, fallback } => {
                    notes.push(format!(
                        "no purchase model fitted: {reason}; using empirical rates"
                    ));
                    AnyPurchaseModel::Empirical(fallback)
                }
            },
        };
        let minor_per_spend_unit = 10f64.powi(currency_exponent(currency) as i32);
        let spend_data: Vec<(f64, f64)> = summaries
            .iter()
            .filter(|s| s.frequency > 0)
            .map(|s| (s.frequency as f64, s.monetary_minor / minor_per_spend_unit))
            .collect();
        let spend = match GammaGamma::fit(&spend_data) {
            FitOutcome::Fitted(f) => SpendModel::GammaGamma(f.model),
            FitOutcome::Insufficient {
                reason,
                mut fallback,
            } => {
                if spend_data.is_empty() {
                    // No repeat spend at all: use first-order values.
                    let n = summaries.len().max(1) as f64;
                    fallback.mean_spend = summaries
                        .iter()
                        .map(|s| s.revenue_minor as f64 / s.orders.max(1) as f64)
                        .sum::<f64>()
                        / n
                        / minor_per_spend_unit;
                }
                notes.push(format!(
                    "Gamma-Gamma not fitted: {reason}; using average spend"
                ));
                SpendModel::Empirical(fallback)
            }
        };
        Self::from_models(purchase, spend, summaries, time_unit, currency, notes)
    }

    /// Assemble from already fitted models.
    pub fn from_models<C>(
        purchase: AnyPurchaseModel,
        spend: SpendModel,
        summaries: &[CustomerSummary<C>],
        time_unit: TimeUnit,
        currency: &str,
        notes: Vec<String>,
    ) -> Self {
        let (mut gaps, mut n) = (0.0, 0.0);
        for s in summaries.iter().filter(|s| s.frequency > 0) {
            gaps += s.recency / s.frequency as f64;
            n += 1.0;
        }
        ModelFit {
            model_version: MODEL_VERSION.to_string(),
            purchase,
            spend,
            minor_per_spend_unit: 10f64.powi(currency_exponent(currency) as i32),
            currency: currency.to_string(),
            time_unit,
            population_gap_days: (n > 0.0).then(|| gaps / n * time_unit.days()),
            notes,
        }
    }

    pub fn is_empirical(&self) -> bool {
        matches!(self.purchase, AnyPurchaseModel::Empirical(_))
    }
}

/// CLV horizon and discounting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Horizon {
    pub months: u32,
    /// Monthly discount rate, e.g. 0.01.
    pub monthly_discount_rate: f64,
    /// Length of a month in days (default 365.25/12; `lifetimes` uses 4.345 weeks = 30.415).
    pub days_per_month: f64,
}

impl Default for Horizon {
    fn default() -> Self {
        Horizon {
            months: 12,
            monthly_discount_rate: 0.01,
            days_per_month: 365.25 / 12.0,
        }
    }
}

/// Σ_{i=1..months} (E_i − E_{i−1}) / (1+d)^i where E_i = expected purchases in the first i months
/// given the customer is alive (multiply by P(alive) and spend to get CLV).
fn discounted_purchases_if_alive<M: PurchaseModel + ?Sized>(
    model: &M,
    x: f64,
    t: f64,
    month: f64,
    horizon: &Horizon,
) -> f64 {
    let discount = 1.0 + horizon.monthly_discount_rate.max(0.0);
    let months = horizon.months.min(1200); // a century is plenty; bounds the work
    let mut discounted = 0.0;
    let mut prev = 0.0;
    let mut factor = 1.0;
    for i in 1..=months {
        let e = sanitize(model.expected_purchases_if_alive(month * i as f64, x, t));
        factor /= discount;
        discounted += (e - prev).max(0.0) * factor;
        prev = e;
    }
    discounted
}

/// CLV of one customer (same units as `expected_spend`): P(alive) × discounted expected
/// purchases over the horizon × expected spend per purchase. `x`, `t_x`, `t` are in
/// `time_unit`s. Matches `lifetimes`' `customer_lifetime_value` when `days_per_month` is set to
/// its convention.
pub fn customer_value<M: PurchaseModel + ?Sized>(
    model: &M,
    expected_spend: f64,
    x: f64,
    t_x: f64,
    t: f64,
    time_unit: TimeUnit,
    horizon: &Horizon,
) -> f64 {
    let month = horizon.days_per_month / time_unit.days();
    sanitize_prob(model.p_alive(x, t_x, t))
        * discounted_purchases_if_alive(model, x, t, month, horizon)
        * expected_spend
}

/// Scores of one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerPrediction<C = String> {
    pub customer: C,
    pub p_alive: f64,
    /// 1 − P(alive).
    pub churn_risk: f64,
    pub expected_purchases_30d: f64,
    pub expected_purchases_90d: f64,
    /// P(at least one order in the next 30 days).
    pub prob_purchase_30d: f64,
    /// `now` + median wait to the next order if the customer is more likely active than not.
    pub expected_next_order: Option<NaiveDate>,
    /// Expected spend per order, minor units.
    pub expected_spend_minor: f64,
    /// Discounted expected revenue over the horizon, minor units.
    pub clv_minor: i64,
    pub rfm: RfmScore,
    pub explanation_en: String,
    pub explanation_ar: String,
}

/// Options for [`score_customers_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreOptions {
    /// Build the bilingual explanations (string formatting is the costliest part of scoring).
    pub explanations: bool,
}

/// Score customers as of `now` (ages are recomputed from first/last purchase dates, so pass
/// summaries of all purchases up to `now`). RFM quintiles are relative to this batch.
pub fn score_customers<C: Clone>(
    fit: &ModelFit,
    customers: &[CustomerSummary<C>],
    now: NaiveDate,
    horizon: Horizon,
) -> Vec<CustomerPrediction<C>> {
    score_customers_with(
        fit,
        customers,
        now,
        horizon,
        ScoreOptions { explanations: true },
    )
}

/// Cached per-(frequency, age) quantities given the customer is alive.
#[derive(Clone, Copy)]
struct IfAlive {
    e30: f64,
    e90: f64,
    p30: f64,
    /// Σ_i (E_i − E_{i−1}) / (1+d)^i over the horizon months.
    discounted: f64,
    median_wait_days: f64,
}

pub fn score_customers_with<C: Clone>(
    fit: &ModelFit,
    customers: &[CustomerSummary<C>],
    now: NaiveDate,
    horizon: Horizon,
    options: ScoreOptions,
) -> Vec<CustomerPrediction<C>> {
    let unit = fit.time_unit.days();
    let model = &fit.purchase;
    let now_day = day_number(now);
    let month = horizon.days_per_month / unit;
    let mut cache: FastMap<(u32, u64), IfAlive> = FastMap::default();
    let rfm = rfm_scores(
        &customers
            .iter()
            .map(|s| RfmInput {
                days_since_last: (now_day - day_number(s.last_purchase)).max(0) as f64,
                orders: s.frequency as f64 + 1.0,
                revenue: s.revenue_minor as f64,
            })
            .collect::<Vec<_>>(),
    );
    let empirical = fit.is_empirical();
    let mut out = Vec::with_capacity(customers.len());
    for (s, rfm) in customers.iter().zip(rfm) {
        let (t_x, t) = ages_at(s, now, fit.time_unit);
        let x = s.frequency as f64;
        let p_alive = sanitize_prob(model.p_alive(x, t_x, t));
        let cached = *cache.entry((s.frequency, t.to_bits())).or_insert_with(|| {
            let d30 = 30.0 / unit;
            IfAlive {
                e30: sanitize(model.expected_purchases_if_alive(d30, x, t)),
                e90: sanitize(model.expected_purchases_if_alive(3.0 * d30, x, t)),
                p30: sanitize_prob(model.prob_purchase_if_alive(d30, x, t)),
                discounted: discounted_purchases_if_alive(model, x, t, month, &horizon),
                median_wait_days: model.median_wait_if_alive(x, t) * unit,
            }
        });
        let spend_units = sanitize(
            fit.spend
                .expected_spend(x, s.monetary_minor / fit.minor_per_spend_unit),
        );
        let spend_minor = spend_units * fit.minor_per_spend_unit;
        let clv = p_alive * cached.discounted * spend_minor;
        let clv_minor = if clv.is_finite() {
            clv.round().clamp(0.0, i64::MAX as f64 / 2.0) as i64
        } else {
            0
        };
        let expected_next_order = (p_alive >= 0.5
            && cached.median_wait_days.is_finite()
            && cached.median_wait_days < 3660.0)
            .then(|| date_from_day_number(now_day as i64 + cached.median_wait_days.round() as i64));
        let e90 = p_alive * cached.e90;
        let (explanation_en, explanation_ar) = if options.explanations {
            let clv_text = format_money(clv_minor, &fit.currency);
            explain(&ExplainInput {
                p_alive,
                orders: s.frequency + 1,
                days_since_last: (now_day - day_number(s.last_purchase)).max(0) as f64,
                usual_gap_days: (s.frequency > 0).then(|| t_x * unit / x),
                population_gap_days: fit.population_gap_days,
                expected_purchases: e90,
                expected_window_days: 90,
                clv_text: &clv_text,
                horizon_months: horizon.months,
                segment_en: rfm.segment.name_en(),
                segment_ar: rfm.segment.name_ar(),
                empirical,
            })
        } else {
            (String::new(), String::new())
        };
        out.push(CustomerPrediction {
            customer: s.customer.clone(),
            p_alive,
            churn_risk: 1.0 - p_alive,
            expected_purchases_30d: p_alive * cached.e30,
            expected_purchases_90d: e90,
            prob_purchase_30d: p_alive * cached.p30,
            expected_next_order,
            expected_spend_minor: spend_minor,
            clv_minor,
            rfm,
            explanation_en,
            explanation_ar,
        });
    }
    out
}

fn sanitize(v: f64) -> f64 {
    if v.is_finite() {
        v.max(0.0)
    } else {
        0.0
    }
}

fn sanitize_prob(v: f64) -> f64 {
    if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Empirical purchase model from summaries (exposed for callers that want the fallback).
pub fn empirical_model<C>(summaries: &[CustomerSummary<C>]) -> EmpiricalModel {
    EmpiricalModel::from_histogram(&RfHistogram::from_summaries(summaries))
}
