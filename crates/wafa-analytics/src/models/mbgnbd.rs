//! MBG/NBD model (Batislam, Denizel & Filiztekin 2007): the BG/NBD with an extra drop-out
//! opportunity right after the first purchase, so customers with no repeat purchases can be
//! inactive (BG/NBD assumes they are alive with certainty).
//!
//! LL = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x+1) − ln B(a, b) − (r+x) ln(α+T)
//!      + ln[1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x)]   (the form used by `lifetimes`).

use super::{
    bg_future_purchases, fit_with_gradient, EmpiricalModel, FitOutcome, Parameters, PurchaseModel,
    RfHistogram,
};
use crate::special::{digamma, ln_gamma};
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
        let start = [
            0.0,
            (super::bgnbd::mean_age(h) / 4.0).max(1e-3).ln(),
            0.0,
            0.0,
        ];
        fit_with_gradient(h, fallback, &start, &neg_ll_and_gradient, |p| MbgNbd {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        })
    }
}

/// Total negative log-likelihood at p = [r, α, a, b], writing ∂/∂p. With σ = logistic(A4):
/// ∂r = ψ(r+x) − ψ(r) + ln α − ln(α+T) + σ(ln(α+T) − ln(α+t_x));
/// ∂α = r/α − (r+x)/(α+T) + σ(r+x)(1/(α+T) − 1/(α+t_x));
/// ∂a = ψ(a+b) − ψ(a+b+x+1) + σ/a;  ∂b = ψ(a+b) + ψ(b+x+1) − ψ(b) − ψ(a+b+x+1) − σ/(b+x).
fn neg_ll_and_gradient(h: &RfHistogram, p: &[f64], grad: &mut [f64]) -> f64 {
    let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
    grad.iter_mut().for_each(|g| *g = 0.0);
    let all_positive = [r, alpha, a, b].iter().all(|v| *v > 0.0);
    if !all_positive || !(r * alpha * a * b).is_finite() {
        return f64::INFINITY;
    }
    let ln_t: Vec<f64> = h.times.iter().map(|t| (alpha + t).ln()).collect();
    let inv_t: Vec<f64> = h.times.iter().map(|t| 1.0 / (alpha + t)).collect();
    let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
    let (lg_r, lg_ab, lg_b) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b));
    let (dg_r, dg_ab, dg_b) = (digamma(r), digamma(a + b), digamma(b));
    struct PerX {
        constant: f64,
        d_r: f64,
        d_a: f64,
        d_b: f64,
        ln_a_bx: f64,
        inv_bx: f64,
        weight: f64,
    }
    let mut per_x: Vec<PerX> = h
        .freqs
        .iter()
        .map(|&x| PerX {
            constant: ln_gamma(r + x) - lg_r + r * ln_alpha + lg_ab + ln_gamma(b + x + 1.0)
                - lg_b
                - ln_gamma(a + b + x + 1.0),
            d_r: digamma(r + x) - dg_r + ln_alpha,
            d_a: dg_ab - digamma(a + b + x + 1.0),
            d_b: dg_ab + digamma(b + x + 1.0) - dg_b - digamma(a + b + x + 1.0),
            ln_a_bx: ln_a - (b + x).ln(),
            inv_bx: 1.0 / (b + x),
            weight: 0.0,
        })
        .collect();
    let mut ll = 0.0;
    let (mut g_r, mut g_alpha, mut g_a, mut g_b) = (0.0, 0.0, 0.0, 0.0);
    for c in &h.cells {
        let x = h.freqs[c.x as usize];
        let px = &mut per_x[c.x as usize];
        px.weight += c.weight;
        let w = c.weight;
        let rx = r + x;
        let (lt, ltx) = (ln_t[c.age as usize], ln_t[c.recency as usize]);
        let a4 = px.ln_a_bx + rx * (lt - ltx);
        // softplus and logistic with one exp
        let e = (-a4.abs()).exp();
        let softplus = a4.max(0.0) + e.ln_1p();
        let sigma = if a4 > 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        ll += w * (-rx * lt + softplus);
        g_r += w * (-lt + sigma * (lt - ltx));
        let (it, itx) = (inv_t[c.age as usize], inv_t[c.recency as usize]);
        g_alpha += w * (-rx * it + sigma * rx * (it - itx));
        g_a += w * sigma / a;
        g_b -= w * sigma * px.inv_bx;
    }
    for px in &per_x {
        ll += px.weight * px.constant;
        g_r += px.weight * px.d_r;
        g_a += px.weight * px.d_a;
        g_b += px.weight * px.d_b;
    }
    g_alpha += h.total_weight * r / alpha;
    grad[0] = -g_r;
    grad[1] = -g_alpha;
    grad[2] = -g_a;
    grad[3] = -g_b;
    if ll.is_finite() {
        -ll
    } else {
        f64::INFINITY
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
    fn analytic_gradient_matches_numerical() {
        let h = RfHistogram::from_triples(vec![
            (0.0, 0.0, 30.0),
            (2.0, 10.0, 35.0),
            (5.0, 30.0, 31.0),
            (1.0, 3.0, 20.0),
        ]);
        let p = [0.5, 3.0, 0.7, 2.0];
        let mut g = [0.0; 4];
        let v = neg_ll_and_gradient(&h, &p, &mut g);
        let m = MbgNbd {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        };
        assert!((v + m.total_log_likelihood(&h)).abs() < 1e-9);
        for i in 0..4 {
            let mut q = p;
            let e = 1e-6;
            q[i] += e;
            let mut d = [0.0; 4];
            let up = neg_ll_and_gradient(&h, &q, &mut d);
            q[i] -= 2.0 * e;
            let down = neg_ll_and_gradient(&h, &q, &mut d);
            let num = (up - down) / (2.0 * e);
            assert!(
                (num - g[i]).abs() < 1e-5 * (1.0 + num.abs()),
                "{i}: {num} vs {}",
                g[i]
            );
        }
    }

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
