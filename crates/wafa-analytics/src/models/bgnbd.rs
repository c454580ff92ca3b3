//! BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").
//!
//! While active a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after every
//! purchase they drop out with probability p ~ Beta(a, b). The likelihood of (x, t_x, T) is
//! `B(a,b+x)/B(a,b) · Γ(r+x)α^r/Γ(r) · [(α+T)^−(r+x) + δ(x>0) a/(b+x−1) (α+t_x)^−(r+x)]`.
//!
//! The fit uses the analytic gradient (derived from the form above) because it is the model run
//! on million-customer bases: logs are computed once per distinct time, lgamma/digamma once per
//! distinct frequency, and the per-cell work is one exp and one log.

use super::{
    bg_future_purchases, fit_with_gradient, EmpiricalModel, FitOutcome, Parameters, PurchaseModel,
    RfHistogram,
};
use crate::special::{digamma, integrate, ln_beta, ln_gamma, log_add_exp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbd {
    /// Log-likelihood of one customer.
    pub fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
        let a3 = -(r + x) * (alpha + t).ln();
        let a4 = if x > 0.0 {
            a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + t_x).ln()
        } else {
            f64::NEG_INFINITY
        };
        a1 + a2 + log_add_exp(a3, a4)
    }

    /// Total log-likelihood of a histogram.
    pub fn total_log_likelihood(&self, h: &RfHistogram) -> f64 {
        let mut g = [0.0; 4];
        -neg_ll_and_gradient(h, &[self.r, self.alpha, self.a, self.b], &mut g)
    }

    /// Maximum-likelihood fit.
    pub fn fit(h: &RfHistogram) -> FitOutcome<BgNbd> {
        let fallback = EmpiricalModel::from_histogram(h);
        if let Err(reason) = h.check_fit_possible() {
            return FitOutcome::Insufficient { reason, fallback };
        }
        let start = [0.0, (mean_age(h) / 4.0).max(1e-3).ln(), 0.0, 0.0];
        fit_with_gradient(h, fallback, &start, &neg_ll_and_gradient, |p| BgNbd {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        })
    }

    /// Fallback for [`PurchaseModel::expected_purchases_if_alive`] when the hypergeometric series
    /// is not applicable (a + b + x ≤ 1): E_p[(1 − E_λ e^{−λph}) / p], p ~ Beta(a, b+x), by
    /// quadrature after the substitution p = u^(1/a), which removes the p^(a−1) singularity.
    fn expected_if_alive_quadrature(&self, horizon: f64, x: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let shape = r + x;
        let norm = -(a.ln() + ln_beta(a, b + x));
        let v = integrate(
            |u| {
                let p = u.powf(1.0 / a).clamp(1e-300, 1.0);
                let one_minus = (1.0 - p).max(0.0);
                let weight = if one_minus > 0.0 {
                    ((b + x - 1.0) * one_minus.ln() + norm).exp()
                } else {
                    0.0
                };
                let inner = -(-shape * (p * horizon / (alpha + t)).ln_1p()).exp_m1() / p;
                weight * inner
            },
            0.0,
            1.0,
            16,
        );
        v.max(0.0)
    }
}

pub(crate) fn mean_age(h: &RfHistogram) -> f64 {
    let s: f64 = h.rows().map(|(_, _, t, w)| t * w).sum();
    (s / h.total_weight).max(1e-6)
}

/// Total negative log-likelihood at natural parameters `p = [r, α, a, b]`, writing ∂/∂p.
fn neg_ll_and_gradient(h: &RfHistogram, p: &[f64], grad: &mut [f64]) -> f64 {
    let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
    grad.iter_mut().for_each(|g| *g = 0.0);
    let all_positive = [r, alpha, a, b].iter().all(|v| *v > 0.0);
    if !all_positive || !(r * alpha * a * b).is_finite() {
        return f64::INFINITY;
    }
    let ln_t: Vec<f64> = h.times.iter().map(|t| (alpha + t).ln()).collect();
    let inv_t: Vec<f64> = h.times.iter().map(|t| 1.0 / (alpha + t)).collect();
    let ln_alpha = alpha.ln();
    let ln_a = a.ln();
    let (lg_r, lg_ab, lg_b) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b));
    let (dg_r, dg_ab, dg_b) = (digamma(r), digamma(a + b), digamma(b));
    struct PerX {
        constant: f64,
        d_r: f64,
        d_a: f64,
        d_b: f64,
        ln_bx1: f64,
        inv_bx1: f64,
        weight: f64,
    }
    let mut per_x: Vec<PerX> = h
        .freqs
        .iter()
        .map(|&x| PerX {
            constant: ln_gamma(r + x) - lg_r + r * ln_alpha + lg_ab + ln_gamma(b + x)
                - lg_b
                - ln_gamma(a + b + x),
            d_r: digamma(r + x) - dg_r + ln_alpha,
            d_a: dg_ab - digamma(a + b + x),
            d_b: dg_ab + digamma(b + x) - dg_b - digamma(a + b + x),
            ln_bx1: if x > 0.0 { (b + x - 1.0).ln() } else { 0.0 },
            inv_bx1: if x > 0.0 { 1.0 / (b + x - 1.0) } else { 0.0 },
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
        let lt = ln_t[c.age as usize];
        let a3 = -rx * lt;
        if x > 0.0 {
            let ltx = ln_t[c.recency as usize];
            let a4 = ln_a - px.ln_bx1 - rx * ltx;
            // log-sum-exp of (a3, a4) and the softmax weight of a4 with a single exp.
            let d = a4 - a3;
            let e = (-d.abs()).exp();
            let lae = a3.max(a4) + e.ln_1p();
            let w4 = if d > 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            let w3 = 1.0 - w4;
            ll += w * lae;
            g_r -= w * (w3 * lt + w4 * ltx);
            g_alpha -= w * rx * (w3 * inv_t[c.age as usize] + w4 * inv_t[c.recency as usize]);
            g_a += w * w4 / a;
            g_b -= w * w4 * px.inv_bx1;
        } else {
            ll += w * a3;
            g_r -= w * lt;
            g_alpha -= w * rx * inv_t[c.age as usize];
        }
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

impl PurchaseModel for BgNbd {
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x <= 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let ln_odds =
            a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + t).ln() - (alpha + t_x.min(t)).ln());
        1.0 / (1.0 + ln_odds.exp())
    }

    fn expected_purchases_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let z = horizon / (alpha + t + horizon);
        bg_future_purchases(a, a + b + x - 1.0, a + b - 1.0 - r, z)
            .unwrap_or_else(|| self.expected_if_alive_quadrature(horizon, x, t))
    }

    fn expected_purchases_new_customer(&self, horizon: f64) -> f64 {
        self.expected_purchases_if_alive(horizon, 0.0, 0.0)
    }

    fn prob_purchase_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        -(-(self.r + x) * (horizon.max(0.0) / (self.alpha + t)).ln_1p()).exp_m1()
    }

    fn median_wait_if_alive(&self, x: f64, t: f64) -> f64 {
        (self.alpha + t) * (std::f64::consts::LN_2 / (self.r + x)).exp_m1()
    }
}

impl Parameters for BgNbd {
    fn model_name(&self) -> &'static str {
        "bg_nbd"
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

    const PUBLISHED: BgNbd = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

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
        neg_ll_and_gradient(&h, &p, &mut g);
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
        // and the histogram LL equals the per-customer formula
        let m = BgNbd {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        };
        let direct: f64 = h
            .rows()
            .map(|(x, tx, t, _)| m.log_likelihood(x, tx, t))
            .sum();
        assert!((direct - m.total_log_likelihood(&h)).abs() < 1e-9);
    }

    #[test]
    fn subsample_newton_path_matches_plain_bfgs() {
        // Enough distinct cells to take the subsample + Newton path.
        let mut state = 1u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        // BG/NBD process with r = 1, exponential rates (mean 0.1/week) and uniform p,
        // continuous times so that nearly every customer is its own cell.
        let rows: Vec<(f64, f64, f64)> = (0..22_000)
            .map(|_| {
                let t_obs = 1.0 + 51.0 * next();
                let lambda = -(next().max(1e-12)).ln() / 10.0;
                let p = next();
                let (mut t, mut x, mut tx) = (0.0, 0.0, 0.0);
                loop {
                    t += -(next().max(1e-12)).ln() / lambda.max(1e-9);
                    if t > t_obs {
                        break;
                    }
                    x += 1.0;
                    tx = t;
                    if next() < p {
                        break;
                    }
                }
                (x, tx, t_obs)
            })
            .collect();
        let h = RfHistogram::from_triples(rows);
        assert!(
            h.cells.len() > crate::models::SUBSAMPLE_ABOVE_CELLS,
            "{}",
            h.cells.len()
        );
        let fit = BgNbd::fit(&h).into_fitted().unwrap();
        // Reference: plain BFGS from the default start on all cells.
        let w = h.total_weight;
        let fg = |lp: &[f64], g: &mut [f64]| {
            let p: Vec<f64> = lp.iter().map(|v| v.exp()).collect();
            let v = neg_ll_and_gradient(&h, &p, g);
            for i in 0..4 {
                g[i] *= p[i] / w;
            }
            v / w
        };
        let reference = crate::optimize::bfgs(&fg, &[0.0, 0.0, 0.0, 0.0], 500, 1e-10);
        let m = fit.model;
        for (got, want) in [m.r, m.alpha, m.a, m.b].iter().zip(&reference.x) {
            assert!((got.ln() - want).abs() < 1e-5, "{got} vs {}", want.exp());
        }
        let se_ref = crate::optimize::standard_errors_from_gradient(
            &|p: &[f64], g: &mut [f64]| {
                neg_ll_and_gradient(&h, p, g);
            },
            &[m.r, m.alpha, m.a, m.b],
        );
        for (a, b) in fit.standard_errors.iter().zip(&se_ref) {
            let (a, b) = (a.unwrap(), b.unwrap());
            assert!((a / b - 1.0).abs() < 1e-2, "SE {a} vs {b}");
        }
    }

    #[test]
    fn hypergeometric_expectation_matches_quadrature() {
        for &(h, x, t) in &[(10.0, 0.0, 0.0), (39.0, 2.0, 30.0), (5.0, 20.0, 100.0)] {
            let series = PUBLISHED.expected_purchases_if_alive(h, x, t);
            let quad = PUBLISHED.expected_if_alive_quadrature(h, x, t);
            assert!(
                (series - quad).abs() < 2e-3 * series.max(1e-3),
                "{series} vs {quad}"
            );
        }
        // a == 1 limit is continuous
        let near = BgNbd {
            a: 1.0 + 1e-9,
            ..PUBLISHED
        };
        let off = BgNbd {
            a: 1.0 + 1e-5,
            ..PUBLISHED
        };
        let v1 = near.expected_purchases_if_alive(20.0, 3.0, 30.0);
        let v2 = off.expected_purchases_if_alive(20.0, 3.0, 30.0);
        assert!((v1 - v2).abs() < 1e-4, "{v1} {v2}");
    }

    #[test]
    fn paper_conditional_expectation_example() {
        // Fader, Hardie & Lee (2005) §5: a customer with x=2, t_x=30.43, T=38.86 is expected to
        // make 1.226 purchases in the next 39 weeks.
        let e = PUBLISHED.expected_purchases(39.0, 2.0, 30.43, 38.86);
        assert!((e - 1.226).abs() < 1e-3, "{e}");
    }

    #[test]
    fn extreme_inputs_stay_finite() {
        for &(x, tx, t) in &[
            (0.0, 0.0, 0.0),
            (10_000.0, 52.0, 52.0),
            (3.0, 5.0, 5.0),
            (1.0, 0.0, 1e6),
        ] {
            let pa = PUBLISHED.p_alive(x, tx, t);
            let e = PUBLISHED.expected_purchases(13.0, x, tx, t);
            let p = PUBLISHED.prob_purchase_within(13.0, x, tx, t);
            let ll = PUBLISHED.log_likelihood(x, tx, t);
            assert!(pa.is_finite() && (0.0..=1.0).contains(&pa));
            assert!(e.is_finite() && e >= 0.0, "{x} {tx} {t} {e}");
            assert!(p.is_finite() && (0.0..=1.0).contains(&p));
            assert!(ll.is_finite());
        }
    }
}
