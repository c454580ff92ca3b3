//! MBG/NBD model (Batislam, Denizel & Filiztekin 2007): the BG/NBD with an extra drop-out
//! opportunity right after the first purchase, so customers with no repeat purchases can be
//! inactive (BG/NBD assumes they are alive with certainty).
//!
//! LL = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x+1) − ln B(a, b) − (r+x) ln(α+T)
//!      + ln[1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x)]   (the form used by `lifetimes`).

use super::{
    bg_future_purchases, finish_fit, minimize_on_histogram, EmpiricalModel, FitOutcome, Parameters,
    PurchaseModel, RfHistogram,
};
use crate::special::ln_gamma;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MbgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// ln(1 + e^v) without overflow.
fn softplus(v: f64) -> f64 {
    if v > 35.0 {
        v
    } else {
        v.exp().ln_1p()
    }
}

impl MbgNbd {
    pub fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x + 1.0) - ln_gamma(b) - ln_gamma(a + b + x + 1.0);
        let a3 = -(r + x) * (alpha + t).ln();
        let a4 = a.ln() - (b + x).ln() + (r + x) * ((alpha + t).ln() - (alpha + t_x).ln());
        a1 + a2 + a3 + softplus(a4)
    }

    pub fn total_log_likelihood(&self, h: &RfHistogram) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        // Per-frequency constants once, per-time logs once.
        let consts: Vec<f64> = h
            .freqs
            .iter()
            .map(|&x| {
                ln_gamma(r + x) - ln_gamma(r)
                    + r * alpha.ln()
                    + ln_gamma(a + b)
                    + ln_gamma(b + x + 1.0)
                    - ln_gamma(b)
                    - ln_gamma(a + b + x + 1.0)
            })
            .collect();
        let ln_t: Vec<f64> = h.times.iter().map(|t| (alpha + t).ln()).collect();
        let ln_a_bx: Vec<f64> = h.freqs.iter().map(|&x| a.ln() - (b + x).ln()).collect();
        let mut ll = 0.0;
        for c in &h.cells {
            let x = h.freqs[c.x as usize];
            let lt = ln_t[c.age as usize];
            let ltx = ln_t[c.recency as usize];
            let a4 = ln_a_bx[c.x as usize] + (r + x) * (lt - ltx);
            ll += c.weight * (consts[c.x as usize] - (r + x) * lt + softplus(a4));
        }
        ll
    }

    pub fn fit(h: &RfHistogram) -> FitOutcome<MbgNbd> {
        let fallback = EmpiricalModel::from_histogram(h);
        if let Err(reason) = h.check_fit_possible() {
            return FitOutcome::Insufficient { reason, fallback };
        }
        let w = h.total_weight;
        let build = |p: &[f64]| MbgNbd {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        };
        let total = |p: &[f64]| {
            if p.iter().any(|v| v.is_nan() || *v <= 0.0 || !v.is_finite()) {
                return f64::INFINITY;
            }
            let v = -build(p).total_log_likelihood(h);
            if v.is_nan() {
                f64::INFINITY
            } else {
                v
            }
        };
        let mean_neg_ll = |hist: &RfHistogram, lp: &[f64]| {
            let m = build(&lp.iter().map(|v| v.exp()).collect::<Vec<_>>());
            let v = -m.total_log_likelihood(hist) / hist.total_weight;
            if v.is_nan() {
                f64::INFINITY
            } else {
                v
            }
        };
        let age = h.rows().map(|(_, _, t, w)| t * w).sum::<f64>() / w;
        let start = [0.0, (age / 4.0).max(1e-3).ln(), 0.0, 0.0];
        let best = minimize_on_histogram(h, &start, &mean_neg_ll);
        finish_fit(w, fallback, best, Some(&total), build)
    }
}

impl PurchaseModel for MbgNbd {
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let ln_odds =
            a.ln() - (b + x).ln() + (r + x) * ((alpha + t).ln() - (alpha + t_x.min(t)).ln());
        1.0 / (1.0 + ln_odds.exp())
    }

    fn expected_purchases_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let MbgNbd { r, alpha, a, b } = *self;
        let z = horizon / (alpha + t + horizon);
        // c = a+b+x > 0 always, so the series form always applies.
        bg_future_purchases(a, a + b + x, a + b - r, z).unwrap_or(0.0)
    }

    fn expected_purchases_new_customer(&self, horizon: f64) -> f64 {
        self.p_alive(0.0, 0.0, 0.0) * self.expected_purchases_if_alive(horizon, 0.0, 0.0)
    }

    fn prob_purchase_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        -(-(self.r + x) * (horizon.max(0.0) / (self.alpha + t)).ln_1p()).exp_m1()
    }

    fn median_wait_if_alive(&self, x: f64, t: f64) -> f64 {
        (self.alpha + t) * (std::f64::consts::LN_2 / (self.r + x)).exp_m1()
    }
}

impl Parameters for MbgNbd {
    fn model_name(&self) -> &'static str {
        "mbg_nbd"
    }
    fn parameters(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("r", self.r),
            ("alpha", self.alpha),
            ("a", self.a),
            ("b", self.b),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_ll_matches_per_customer_ll() {
        let m = MbgNbd {
            r: 0.5,
            alpha: 6.0,
            a: 0.9,
            b: 1.6,
        };
        let h = RfHistogram::from_triples(vec![(0.0, 0.0, 30.0), (4.0, 20.0, 30.0)]);
        let direct: f64 = h
            .rows()
            .map(|(x, tx, t, _)| m.log_likelihood(x, tx, t))
            .sum();
        assert!((direct - m.total_log_likelihood(&h)).abs() < 1e-10);
        let e = m.expected_purchases(1e4, 10_000.0, 30.0, 31.0);
        assert!(e.is_finite() && e >= 0.0);
    }
}
