//! Probability models of customer purchasing and spending.
//!
//! * [`bgnbd`]: BG/NBD (Fader, Hardie & Lee 2005) — "buy till you die" with drop-out after purchases.
//! * [`pareto`]: Pareto/NBD (Schmittlein, Morrison & Colombo 1987) — continuous-time drop-out.
//! * [`mbgnbd`]: MBG/NBD (Batislam, Denizel & Filiztekin 2007) — drop-out also possible at time 0.
//! * [`bgbb`]: BG/BB (Fader, Hardie & Shang 2010) — discrete purchase opportunities.
//! * [`gamma_gamma`]: Gamma-Gamma spend model (Fader, Hardie & Lee 2005, iso-value curves).
//!
//! All fits are maximum likelihood over log-parameters with the crate's own optimiser, on a
//! compressed histogram of unique (frequency, recency, T) cells with weights: real customer bases
//! have far fewer distinct cells than customers, which is what makes million-customer fits fast.
//! When the data cannot support a fit the result is [`FitOutcome::Insufficient`] with a reason and
//! an [`EmpiricalModel`] fallback, never nonsense parameters.

pub mod bgbb;
pub mod bgnbd;
pub mod gamma_gamma;
pub mod mbgnbd;
pub mod pareto;

use crate::summary::{CustomerSummary, FastMap};
use serde::{Deserialize, Serialize};
use std::hash::Hasher;

pub use bgbb::BgBb;
pub use bgnbd::BgNbd;
pub use gamma_gamma::GammaGamma;
pub use mbgnbd::MbgNbd;
pub use pareto::ParetoNbd;

/// One cell of the compressed (frequency, recency, T) histogram. Indices point into
/// [`RfHistogram::freqs`] and [`RfHistogram::times`].
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    pub x: u32,
    pub recency: u32,
    pub age: u32,
    pub weight: f64,
}

/// Unique (x, t_x, T) triples with weights, plus tables of the distinct frequencies and times so
/// that per-evaluation logs/lgammas are computed once per distinct value.
#[derive(Debug, Clone, Default)]
pub struct RfHistogram {
    pub freqs: Vec<f64>,
    pub times: Vec<f64>,
    pub cells: Vec<Cell>,
    pub total_weight: f64,
    pub repeat_weight: f64,
}

impl RfHistogram {
    /// Build from weighted (x, t_x, T, weight) rows. Invalid rows (negative or non-finite values,
    /// zero weight) are skipped; t_x is clamped to T.
    pub fn from_weighted(rows: impl IntoIterator<Item = (f64, f64, f64, f64)>) -> Self {
        let valid = rows.into_iter().filter_map(|(x, tx, t, w)| {
            let ok = x.is_finite() && tx.is_finite() && t.is_finite() && w.is_finite();
            (ok && x >= 0.0 && tx >= 0.0 && t >= 0.0 && w > 0.0).then(|| (x, tx.min(t), t, w))
        });
        let mut builder = HistogramBuilder::default();
        let rows: Vec<(f64, f64, f64, f64)> = valid.collect();
        if rows.len() < 100_000 {
            for &(x, tx, t, w) in &rows {
                builder.add(x, tx, t, w);
            }
            return builder.h;
        }
        // Large inputs: partition rows by a hash of the triple into 64 groups first so that each
        // group's cell map stays in cache (same triple ⇒ same group, so cells never split).
        const GROUPS: usize = 64;
        let mut groups: Vec<Vec<(f64, f64, f64, f64)>> = (0..GROUPS)
            .map(|_| Vec::with_capacity(rows.len() / GROUPS + 16))
            .collect();
        for r in rows {
            let mut hasher = crate::summary::FastHasher::default();
            hasher.write_u64(r.0.to_bits());
            hasher.write_u64(r.1.to_bits());
            hasher.write_u64(r.2.to_bits());
            groups[(hasher.finish() >> 58) as usize].push(r);
        }
        for group in groups {
            builder.cell_ix.clear();
            for (x, tx, t, w) in group {
                builder.add(x, tx, t, w);
            }
        }
        builder.h
    }

    pub fn from_triples(rows: impl IntoIterator<Item = (f64, f64, f64)>) -> Self {
        Self::from_weighted(rows.into_iter().map(|(x, tx, t)| (x, tx, t, 1.0)))
    }

    pub fn from_summaries<C>(summaries: &[CustomerSummary<C>]) -> Self {
        Self::from_triples(
            summaries
                .iter()
                .map(|s| (s.frequency as f64, s.recency, s.t)),
        )
    }

    /// About `target` cells approximating the histogram, for warm-starting fits on very large
    /// data: the heaviest third of the target are kept exactly (e.g. the thousands of one-time
    /// buyers sharing an age), the remaining light cells are sampled systematically 1-in-k with
    /// their weight multiplied by k. Keeping heavy cells exact is what makes the approximation
    /// stable: naive 1-in-k sampling of all cells can drop or double a cell worth 5% of the data.
    pub fn subsample(&self, target: usize) -> RfHistogram {
        let target = target.max(100);
        if self.cells.len() <= target {
            return self.clone();
        }
        let heavy_n = target / 3;
        let mut weights: Vec<f64> = self.cells.iter().map(|c| c.weight).collect();
        let pivot = weights.len() - heavy_n;
        weights.select_nth_unstable_by(pivot, |a, b| a.total_cmp(b));
        let threshold = weights[pivot];
        let heavy: Vec<Cell> = self
            .cells
            .iter()
            .filter(|c| c.weight > threshold)
            .copied()
            .collect();
        let light_total = self.cells.len() - heavy.len();
        let k = (light_total / (target - heavy.len().min(target - 1))).max(1);
        let mut cells = heavy;
        cells.extend(
            self.cells
                .iter()
                .filter(|c| c.weight <= threshold)
                .step_by(k)
                .map(|c| Cell {
                    weight: c.weight * k as f64,
                    ..*c
                }),
        );
        let total_weight = cells.iter().map(|c| c.weight).sum();
        let repeat_weight = cells
            .iter()
            .filter(|c| self.freqs[c.x as usize] > 0.0)
            .map(|c| c.weight)
            .sum();
        RfHistogram {
            freqs: self.freqs.clone(),
            times: self.times.clone(),
            cells,
            total_weight,
            repeat_weight,
        }
    }

    /// Iterate cells as (x, t_x, T, weight).
    pub fn rows(&self) -> impl Iterator<Item = (f64, f64, f64, f64)> + '_ {
        self.cells.iter().map(|c| {
            (
                self.freqs[c.x as usize],
                self.times[c.recency as usize],
                self.times[c.age as usize],
                c.weight,
            )
        })
    }

    /// Check that there is enough information to fit a model.
    pub fn check_fit_possible(&self) -> Result<(), ThinData> {
        if self.total_weight <= 0.0 {
            return Err(ThinData::NoCustomers);
        }
        if self.total_weight < MIN_CUSTOMERS {
            return Err(ThinData::TooFewCustomers {
                customers: self.total_weight,
                minimum: MIN_CUSTOMERS,
            });
        }
        if self.repeat_weight <= 0.0 {
            return Err(ThinData::NoRepeatPurchases);
        }
        if self.repeat_weight < MIN_REPEATERS {
            return Err(ThinData::TooFewRepeatCustomers {
                repeat_customers: self.repeat_weight,
                minimum: MIN_REPEATERS,
            });
        }
        if self.times.iter().all(|&t| t <= 0.0) {
            return Err(ThinData::NoObservationTime);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empirical_fallback_ranks_recent_customers_higher() {
        let m = EmpiricalModel {
            population_rate: 0.1,
        };
        assert!(m.p_alive(0.0, 0.0, 5.0) > m.p_alive(0.0, 0.0, 50.0));
        assert!(m.p_alive(3.0, 30.0, 31.0) > m.p_alive(3.0, 30.0, 80.0));
        let none = EmpiricalModel {
            population_rate: 0.0,
        };
        assert_eq!(none.p_alive(0.0, 0.0, 10.0), 0.5);
        assert_eq!(none.expected_purchases(10.0, 0.0, 0.0, 10.0), 0.0);
    }
}

/// Incremental construction of an [`RfHistogram`] (rows already validated).
#[derive(Default)]
struct HistogramBuilder {
    h: RfHistogram,
    freq_ix: FastMap<u64, u32>,
    time_ix: FastMap<u64, u32>,
    cell_ix: FastMap<(u64, u64, u64), usize>,
}

impl HistogramBuilder {
    /// One lookup per row on the raw triple; the value tables are only touched for new cells.
    fn add(&mut self, x: f64, tx: f64, t: f64, w: f64) {
        let h = &mut self.h;
        h.total_weight += w;
        if x > 0.0 {
            h.repeat_weight += w;
        }
        let key = (x.to_bits(), tx.to_bits(), t.to_bits());
        if let Some(&i) = self.cell_ix.get(&key) {
            h.cells[i].weight += w;
            return;
        }
        let xi = *self.freq_ix.entry(key.0).or_insert_with(|| {
            h.freqs.push(x);
            (h.freqs.len() - 1) as u32
        });
        let time_ix = &mut self.time_ix;
        let mut time = |v: f64| {
            *time_ix.entry(v.to_bits()).or_insert_with(|| {
                h.times.push(v);
                (h.times.len() - 1) as u32
            })
        };
        let ri = time(tx);
        let ti = time(t);
        self.cell_ix.insert(key, h.cells.len());
        h.cells.push(Cell {
            x: xi,
            recency: ri,
            age: ti,
            weight: w,
        });
    }
}

/// Fewer customers than this and a model fit is not attempted.
pub const MIN_CUSTOMERS: f64 = 20.0;
/// Fewer repeat customers than this and a model fit is not attempted.
pub const MIN_REPEATERS: f64 = 5.0;

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ThinData {
    #[error("no customers in the data")]
    NoCustomers,
    #[error("only {customers} customers; at least {minimum} are needed to fit a model")]
    TooFewCustomers { customers: f64, minimum: f64 },
    #[error("no customer has bought more than once, so repeat behaviour cannot be estimated")]
    NoRepeatPurchases,
    #[error("only {repeat_customers} repeat customers; at least {minimum} are needed")]
    TooFewRepeatCustomers { repeat_customers: f64, minimum: f64 },
    #[error("all customers were first seen at the end of the observation period")]
    NoObservationTime,
    #[error("the optimiser did not converge: {0}")]
    DidNotConverge(String),
    #[error("the estimate is degenerate: {0}")]
    Degenerate(String),
}

/// A successfully fitted model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fitted<M> {
    pub model: M,
    pub log_likelihood: f64,
    /// Standard errors in the order of [`Parameters::parameters`]; `None` if the Hessian was not
    /// positive definite there.
    pub standard_errors: Vec<Option<f64>>,
    pub n_customers: f64,
    pub evaluations: usize,
    pub converged: bool,
}

/// Result of fitting: a model, or a typed reason plus an empirical fallback.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FitOutcome<M, F = EmpiricalModel> {
    Fitted(Fitted<M>),
    Insufficient { reason: ThinData, fallback: F },
}

impl<M, F> FitOutcome<M, F> {
    pub fn fitted(&self) -> Option<&Fitted<M>> {
        match self {
            FitOutcome::Fitted(f) => Some(f),
            FitOutcome::Insufficient { .. } => None,
        }
    }
    pub fn into_fitted(self) -> Option<Fitted<M>> {
        match self {
            FitOutcome::Fitted(f) => Some(f),
            FitOutcome::Insufficient { .. } => None,
        }
    }
}

/// Named parameters, for reports and JSON (`r`, `alpha`, `a`, `b`, …).
pub trait Parameters {
    fn model_name(&self) -> &'static str;
    fn parameters(&self) -> Vec<(&'static str, f64)>;
}

/// Predictions every continuous-time purchase model offers. `x` = repeat purchases, `t_x` =
/// recency, `t` = age (T), all in the model's time unit; `horizon` in the same unit.
pub trait PurchaseModel {
    /// P(customer still active at age `t`).
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64;
    /// Expected purchases in (t, t + horizon] *given the customer is alive at t*. The
    /// conditional expectation is `p_alive × expected_purchases_if_alive` for all models here,
    /// and the second factor depends only on (x, t), which scoring caches.
    fn expected_purchases_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64;
    /// Expected purchases by a new customer in (0, horizon]: E[X(t)].
    fn expected_purchases_new_customer(&self, horizon: f64) -> f64;
    /// P(at least one purchase in (t, t + horizon] | alive at t).
    fn prob_purchase_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64;
    /// Median waiting time to the next purchase given the customer is alive.
    fn median_wait_if_alive(&self, x: f64, t: f64) -> f64;

    /// E[X(t, t + horizon) | x, t_x, T].
    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
        self.p_alive(x, t_x, t) * self.expected_purchases_if_alive(horizon, x, t)
    }
    /// P(at least one purchase in (t, t + horizon] | x, t_x, T).
    fn prob_purchase_within(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
        self.p_alive(x, t_x, t) * self.prob_purchase_if_alive(horizon, x, t)
    }
}

/// Fallback when no model can be fitted: a shrunk per-customer purchase rate and a heuristic
/// activity probability based on how overdue the customer is relative to their usual gap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmpiricalModel {
    /// Population repeat-purchase rate per time unit (Σx / ΣT); the prior mean.
    pub population_rate: f64,
}

impl EmpiricalModel {
    pub fn from_histogram(h: &RfHistogram) -> Self {
        let (mut sx, mut st) = (0.0, 0.0);
        for (x, _, t, w) in h.rows() {
            sx += x * w;
            st += t * w;
        }
        let rate = if st > 0.0 && sx > 0.0 { sx / st } else { 0.0 };
        EmpiricalModel {
            population_rate: rate,
        }
    }

    /// Posterior-mean purchase rate with a Gamma(1, 1/population_rate) prior.
    pub fn rate(&self, x: f64, t: f64) -> f64 {
        if self.population_rate <= 0.0 {
            return if t > 0.0 { x / t } else { 0.0 };
        }
        (x + 1.0) / (t + 1.0 / self.population_rate)
    }
}

impl PurchaseModel for EmpiricalModel {
    /// Heuristic: fully active until one usual gap (own mean gap, or the population's for
    /// one-time buyers) has passed since the last purchase, then e^−1 per further gap.
    /// 0.5 ("unknown") when nobody in the data has bought twice.
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let gap = if x > 0.0 && t_x > 0.0 {
            t_x / x
        } else if self.population_rate > 0.0 {
            1.0 / self.population_rate
        } else {
            return 0.5;
        };
        let overdue = (t - t_x).max(0.0) / gap;
        let p = (1.0 - overdue).exp().clamp(0.0, 1.0);
        if p.is_finite() {
            p
        } else {
            0.5
        }
    }
    fn expected_purchases_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        self.rate(x, t) * horizon.max(0.0)
    }
    fn expected_purchases_new_customer(&self, horizon: f64) -> f64 {
        self.population_rate * horizon.max(0.0)
    }
    fn prob_purchase_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        -(-self.rate(x, t) * horizon.max(0.0)).exp_m1()
    }
    fn median_wait_if_alive(&self, x: f64, t: f64) -> f64 {
        let rate = self.rate(x, t);
        if rate > 0.0 {
            std::f64::consts::LN_2 / rate
        } else {
            f64::INFINITY
        }
    }
}

impl Parameters for EmpiricalModel {
    fn model_name(&self) -> &'static str {
        "empirical"
    }
    fn parameters(&self) -> Vec<(&'static str, f64)> {
        vec![("population_rate", self.population_rate)]
    }
}

/// A fitted purchase model of any kind, for scoring and reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum AnyPurchaseModel {
    BgNbd(BgNbd),
    ParetoNbd(ParetoNbd),
    MbgNbd(MbgNbd),
    Empirical(EmpiricalModel),
}

macro_rules! dispatch {
    ($self:ident, $m:ident => $e:expr) => {
        match $self {
            AnyPurchaseModel::BgNbd($m) => $e,
            AnyPurchaseModel::ParetoNbd($m) => $e,
            AnyPurchaseModel::MbgNbd($m) => $e,
            AnyPurchaseModel::Empirical($m) => $e,
        }
    };
}

impl PurchaseModel for AnyPurchaseModel {
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        dispatch!(self, m => m.p_alive(x, t_x, t))
    }
    fn expected_purchases_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        dispatch!(self, m => m.expected_purchases_if_alive(horizon, x, t))
    }
    fn expected_purchases_new_customer(&self, horizon: f64) -> f64 {
        dispatch!(self, m => m.expected_purchases_new_customer(horizon))
    }
    fn prob_purchase_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        dispatch!(self, m => m.prob_purchase_if_alive(horizon, x, t))
    }
    fn median_wait_if_alive(&self, x: f64, t: f64) -> f64 {
        dispatch!(self, m => m.median_wait_if_alive(x, t))
    }
}

impl Parameters for AnyPurchaseModel {
    fn model_name(&self) -> &'static str {
        dispatch!(self, m => m.model_name())
    }
    fn parameters(&self) -> Vec<(&'static str, f64)> {
        dispatch!(self, m => m.parameters())
    }
}

/// Minimise a mean negative log-likelihood over log-parameters with the robust optimiser; for
/// large histograms first on a subsample of ~30k cells, then a BFGS polish on all cells that
/// starts from the subsample's optimum and curvature. `mean_neg_ll(h, log_params)`.
pub(crate) fn minimize_on_histogram(
    h: &RfHistogram,
    start: &[f64],
    mean_neg_ll: &dyn Fn(&RfHistogram, &[f64]) -> f64,
) -> crate::optimize::Minimum {
    use crate::optimize::{bfgs_warm, in_box, minimize_robust, numerical_gradient};
    let full = |lp: &[f64]| {
        if in_box(lp) {
            mean_neg_ll(h, lp)
        } else {
            f64::INFINITY
        }
    };
    if h.cells.len() <= 60_000 {
        return minimize_robust(&full, start);
    }
    let sub = h.subsample(30_000);
    let coarse = minimize_robust(&|lp: &[f64]| mean_neg_ll(&sub, lp), start);
    let fg = |x: &[f64], g: &mut [f64]| numerical_gradient(&full, x, g);
    let polished = bfgs_warm(&fg, &coarse.x, Some(&coarse.inverse_hessian), 100, 1e-7);
    if polished.value.is_finite() {
        polished
    } else {
        minimize_robust(&full, start)
    }
}

/// Histograms with more cells than this are fitted on a subsample first.
pub(crate) const SUBSAMPLE_ABOVE_CELLS: usize = 20_000;

/// Total negative log-likelihood at natural parameters, writing its gradient.
pub(crate) type NegLlGradient = dyn Fn(&RfHistogram, &[f64], &mut [f64]) -> f64;

/// Fit strategy for models with an analytic gradient (BG/NBD, MBG/NBD): BFGS over
/// log-parameters on the mean negative log-likelihood; for large histograms first on a 1-in-k
/// subsample of cells (an unbiased estimate), then polished on all cells reusing the learnt
/// curvature (about a third of the full-data evaluations); Nelder–Mead restart if BFGS fails.
/// Standard errors come from finite differences of the analytic gradient (8 evaluations instead
/// of 33 for a Hessian from function values).
pub(crate) fn fit_with_gradient<M>(
    h: &RfHistogram,
    fallback: EmpiricalModel,
    start: &[f64],
    neg_ll_and_gradient: &NegLlGradient,
    build: impl Fn(&[f64]) -> M,
) -> FitOutcome<M> {
    use crate::optimize::{
        bfgs, bfgs_warm, minimize_robust, newton_polish, standard_errors_from_gradient,
    };
    let n = start.len();
    let mean_fg = |hist: &RfHistogram, lp: &[f64], grad: &mut [f64]| -> f64 {
        if !crate::optimize::in_box(lp) {
            return f64::INFINITY;
        }
        let p: Vec<f64> = lp.iter().map(|v| v.exp()).collect();
        let v = neg_ll_and_gradient(hist, &p, grad);
        for i in 0..n {
            grad[i] *= p[i] / hist.total_weight;
        }
        v / hist.total_weight
    };
    let fg = |lp: &[f64], grad: &mut [f64]| mean_fg(h, lp, grad);
    // Inverse Hessian of the mean negative LL over log-parameters from Newton's last step.
    let mut newton_hessian: Option<Vec<Vec<f64>>> = None;
    let mut best = if h.cells.len() > SUBSAMPLE_ABOVE_CELLS {
        let sub = h.subsample((h.cells.len() / 4).clamp(5_000, 30_000));
        let warm = bfgs(
            &|lp: &[f64], g: &mut [f64]| mean_fg(&sub, lp, g),
            start,
            500,
            1e-7,
        );
        if warm.value.is_finite() {
            let newton = newton_polish(&fg, &warm.x, 20, 1e-9);
            if newton.converged {
                newton_hessian = Some(newton.inverse_hessian.clone());
                newton
            } else {
                bfgs_warm(&fg, &warm.x, Some(&warm.inverse_hessian), 500, 1e-9)
            }
        } else {
            bfgs(&fg, start, 500, 1e-9)
        }
    } else {
        bfgs(&fg, start, 500, 1e-9)
    };
    if !best.converged || !best.value.is_finite() {
        let f = |lp: &[f64]| {
            let mut g = vec![0.0; n];
            fg(lp, &mut g)
        };
        let robust = minimize_robust(&f, start);
        let polished = bfgs(&fg, &robust.x, 500, 1e-9);
        best = if polished.value <= robust.value {
            polished
        } else {
            robust
        };
    }
    let params: Vec<f64> = best.x.iter().map(|v| v.exp()).collect();
    let mut outcome = finish_fit(h.total_weight, fallback, best, None, &build);
    if let FitOutcome::Fitted(f) = &mut outcome {
        let gradient = |p: &[f64], g: &mut [f64]| {
            neg_ll_and_gradient(h, p, g);
        };
        f.standard_errors = match newton_hessian {
            // θ = e^φ: Var θ_i ≈ θ_i² Var φ_i, and the total LL is W × the mean.
            Some(inv) => (0..n)
                .map(|i| {
                    let v = inv[i][i] / h.total_weight;
                    (v.is_finite() && v > 0.0).then(|| params[i] * v.sqrt())
                })
                .collect(),
            None => standard_errors_from_gradient(&gradient, &params),
        };
    }
    outcome
}

/// Total negative log-likelihood at natural parameters.
pub(crate) type NegLogLikelihood<'a> = &'a dyn Fn(&[f64]) -> f64;

/// Shared tail of a fit: checks the optimum, computes standard errors, wraps the outcome.
pub(crate) fn finish_fit<M, F>(
    h_weight: f64,
    fallback: F,
    minimum: crate::optimize::Minimum,
    neg_ll_total_natural: Option<NegLogLikelihood>,
    build: impl Fn(&[f64]) -> M,
) -> FitOutcome<M, F> {
    let params: Vec<f64> = minimum.x.iter().map(|v| v.exp()).collect();
    if !minimum.value.is_finite() {
        return FitOutcome::Insufficient {
            reason: ThinData::DidNotConverge("likelihood is not finite".into()),
            fallback,
        };
    }
    if let Some(p) = params
        .iter()
        .find(|p| !p.is_finite() || p.ln().abs() > crate::optimize::LOG_PARAM_BOUND - 0.5)
    {
        return FitOutcome::Insufficient {
            reason: ThinData::Degenerate(format!(
                "a parameter ran off to {p:e}; the data do not identify the model"
            )),
            fallback,
        };
    }
    let standard_errors = match neg_ll_total_natural {
        Some(f) => crate::optimize::standard_errors(f, &params),
        None => vec![None; params.len()],
    };
    FitOutcome::Fitted(Fitted {
        model: build(&params),
        log_likelihood: -minimum.value * h_weight,
        standard_errors,
        n_customers: h_weight,
        evaluations: minimum.evaluations,
        converged: minimum.converged,
    })
}

/// Helper for the BG-family conditional expectation:
/// `c/(a−1) · [1 − (1−z)^(a−1) · 2F1(big_a, a−1; c; z)]`, with its a → 1 limit.
///
/// This is the Euler-transformed form of the textbook expression
/// `c/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x(+1); c; z)]`: the transformed series has
/// a large third parameter and small first two, so it converges in a few terms even for
/// customers with thousands of purchases, and never overflows.
pub(crate) fn bg_future_purchases(a: f64, c: f64, big_a: f64, z: f64) -> Option<f64> {
    if z <= 0.0 {
        return Some(0.0);
    }
    if c <= 0.0 || z >= 1.0 {
        return None;
    }
    let eps = a - 1.0;
    let ln1mz = (-z).ln_1p();
    if eps.abs() < 1e-7 {
        // Limit: c · [−ln(1−z) − Σ_{k≥1} (A)_k z^k / ((c)_k k)]
        let mut term = 1.0;
        let mut s = 0.0;
        for k in 0..100_000 {
            let kf = k as f64;
            term *= (big_a + kf) / (c + kf) * z;
            let add = term / (kf + 1.0);
            s += add;
            if add.abs() < 1e-17 * s.abs().max(1e-300) || term == 0.0 {
                return Some(c * (-ln1mz - s));
            }
        }
        return None;
    }
    let f = crate::special::hyp2f1_series(big_a, eps, c, z, 100_000)?;
    let v = c / eps * (-(eps * ln1mz).exp_m1() - (eps * ln1mz).exp() * (f - 1.0));
    if v.is_finite() {
        Some(v.max(0.0))
    } else {
        None
    }
}
