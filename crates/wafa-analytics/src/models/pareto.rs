//! Pareto/NBD model (Schmittlein, Morrison & Colombo 1987), with the likelihood in the form of
//! Fader & Hardie's note "A note on deriving the Pareto/NBD model and related expressions" (2005).
//!
//! Purchases: Poisson with λ ~ Gamma(r, α). Lifetime: exponential with μ ~ Gamma(s, β).
//! L = Γ(r+x)α^rβ^s/Γ(r) · [ (α+T)^−(r+x) (β+T)^−s + s/(r+s+x) · A₀ ], where A₀ is a difference
//! of two Gauss hypergeometric functions.
//!
//! Numerical care: A₀ = (r+s+x)∫_{t_x}^{T} (β+τ)^−(s+1) (α+τ)^−(r+x) dτ. We evaluate it with
//! the Euler-transformed series 2F1(1, ·; r+s+x+1; z) in log space (positive terms, ratio < z)
//! when z ≤ 0.95, and by Gauss–Legendre quadrature of the integral (in u = ln(κ+τ), relative to
//! the integrand's maximum) when z is close to 1, where the series would converge slowly.

use super::{
    finish_fit, minimize_on_histogram, EmpiricalModel, FitOutcome, Parameters, PurchaseModel,
    RfHistogram,
};
use crate::special::{integrate, ln_gamma, log_add_exp};
use crate::summary::FastMap;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

/// ln(1 − e^d) for d ≤ 0.
fn ln_one_minus_exp(d: f64) -> f64 {
    if d >= 0.0 {
        f64::NEG_INFINITY
    } else if d > -std::f64::consts::LN_2 {
        (-d.exp_m1()).ln()
    } else {
        (-d.exp()).ln_1p()
    }
}

/// 2F1(1, b; c; z) for 0 < b < c, 0 ≤ z < 1: the terms Π (b+j)/(c+j) · z^k are all in (0, 1],
/// so plain summation cannot overflow, and they shrink at least geometrically with ratio z.
fn hyp2f1_first_param_one(b: f64, c: f64, z: f64) -> Option<f64> {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 0..20_000 {
        let kf = k as f64;
        term *= (b + kf) / (c + kf) * z;
        sum += term;
        if term <= 1e-17 * sum {
            return Some(sum);
        }
    }
    None
}

impl ParetoNbd {
    /// One of the two series terms of ln A₀ for a customer with `x` repeat purchases, evaluated
    /// at age `age`: ln[2F1(…; z)/(κ+age)^(r+s+x)] with κ = max(α, β). `None` when z > 0.95
    /// (use quadrature) or the series does not converge. ln A₀ = l(t_x) + ln(1 − e^(l(T) − l(t_x))).
    fn ln_a0_term(&self, x: f64, age: f64) -> Option<f64> {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let m = r + s + x;
        // Larger of α, β goes into the denominator so that z ∈ [0, 1); Euler's transformation
        // turns 2F1(m, s+1; m+1; z) into (1−z)^−s 2F1(1, r+x; m+1; z) (α ≥ β), and
        // 2F1(m, r+x; m+1; z) into (1−z)^(1−r−x) 2F1(1, s+1; m+1; z) (α < β).
        let (big, small, second, power) = if alpha >= beta {
            (alpha, beta, r + x, s)
        } else {
            (beta, alpha, s + 1.0, r + x - 1.0)
        };
        let z = (big - small) / (big + age);
        if z > 0.95 {
            return None;
        }
        let f = hyp2f1_first_param_one(second, m + 1.0, z)?;
        Some(f.ln() - power * (-z).ln_1p() - m * (big + age).ln())
    }

    /// ln A₀ (see module docs); `-inf` when t_x = T.
    pub fn ln_a0(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let t_x = t_x.min(t);
        if t_x >= t {
            return f64::NEG_INFINITY;
        }
        match (self.ln_a0_term(x, t_x), self.ln_a0_term(x, t)) {
            (Some(l1), Some(l2)) => l1 + ln_one_minus_exp(l2 - l1),
            _ => self.ln_a0_quadrature(x, t_x, t),
        }
    }

    fn ln_a0_quadrature(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let m = r + s + x;
        let kappa = alpha.min(beta);
        // integrand in u = ln(κ+τ): (κ+τ)·(β+τ)^−(s+1)·(α+τ)^−(r+x)
        let ln_f = |tau: f64| -> f64 {
            (kappa + tau).ln() - (s + 1.0) * (beta + tau).ln() - (r + x) * (alpha + tau).ln()
        };
        let u0 = (kappa + t_x).ln();
        let u1 = (kappa + t).ln();
        let top = ln_f(t_x);
        let pieces = (((u1 - u0) * (m + 1.0) / 2.0).ceil() as usize).clamp(4, 100);
        let integral = integrate(
            |u| {
                let tau = (u.exp() - kappa).max(t_x);
                (ln_f(tau) - top).exp()
            },
            u0,
            u1,
            pieces,
        );
        m.ln() + top + integral.max(1e-300).ln()
    }

    /// Log-likelihood of one customer.
    pub fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let head = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
        let alive = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
        let dead = (s / (r + s + x)).ln() + self.ln_a0(x, t_x, t);
        head + log_add_exp(alive, dead)
    }

    /// Total log-likelihood of a histogram. Many cells share a (frequency, age) pair, so the
    /// hypergeometric series terms are memoised per pair, and lgamma/logs per distinct value:
    /// about 10× fewer series evaluations than cells on real data.
    pub fn total_log_likelihood(&self, h: &RfHistogram) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let head: Vec<f64> = h
            .freqs
            .iter()
            .map(|&x| ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln())
            .collect();
        let ln_ab: Vec<(f64, f64)> = h
            .times
            .iter()
            .map(|&t| ((alpha + t).ln(), (beta + t).ln()))
            .collect();
        let mut memo: FastMap<(u32, u32), Option<f64>> = FastMap::default();
        let mut term = |xi: u32, ti: u32| -> Option<f64> {
            *memo
                .entry((xi, ti))
                .or_insert_with(|| self.ln_a0_term(h.freqs[xi as usize], h.times[ti as usize]))
        };
        let mut total = 0.0;
        for c in &h.cells {
            let x = h.freqs[c.x as usize];
            let (la, lb) = ln_ab[c.age as usize];
            let (t_x, t) = (h.times[c.recency as usize], h.times[c.age as usize]);
            let alive = -(r + x) * la - s * lb;
            let ln_a0 = if t_x >= t {
                f64::NEG_INFINITY
            } else {
                match (term(c.x, c.recency), term(c.x, c.age)) {
                    (Some(l1), Some(l2)) => l1 + ln_one_minus_exp(l2 - l1),
                    _ => self.ln_a0_quadrature(x, t_x, t),
                }
            };
            let ln_ratio = (s / (r + s + x)).ln();
            total += c.weight * (head[c.x as usize] + log_add_exp(alive, ln_ratio + ln_a0));
        }
        total
    }

    pub fn fit(h: &RfHistogram) -> FitOutcome<ParetoNbd> {
        let fallback = EmpiricalModel::from_histogram(h);
        if let Err(reason) = h.check_fit_possible() {
            return FitOutcome::Insufficient { reason, fallback };
        }
        let w = h.total_weight;
        let build = |p: &[f64]| ParetoNbd {
            r: p[0],
            alpha: p[1],
            s: p[2],
            beta: p[3],
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
        let start = [
            0.0,
            (age / 4.0).max(1e-3).ln(),
            0.0,
            (age / 4.0).max(1e-3).ln(),
        ];
        let best = minimize_on_histogram(h, &start, &mean_neg_ll);
        finish_fit(w, fallback, best, Some(&total), build)
    }
}

impl PurchaseModel for ParetoNbd {
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let ln_a0 = self.ln_a0(x, t_x, t);
        if ln_a0 == f64::NEG_INFINITY {
            return 1.0;
        }
        let ln_odds =
            (s / (r + s + x)).ln() + (r + x) * (alpha + t).ln() + s * (beta + t).ln() + ln_a0;
        let p = 1.0 / (1.0 + ln_odds.exp());
        if p.is_finite() {
            p
        } else {
            0.0
        }
    }

    fn expected_purchases_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let ParetoNbd { r, alpha, s, beta } = *self;
        // (r+x)(β+T)/((α+T)(s−1)) · [1 − ((β+T)/(β+T+h))^(s−1)], with the s → 1 limit.
        let l = (horizon / (beta + t)).ln_1p();
        let sm1 = s - 1.0;
        let factor = if sm1.abs() < 1e-10 {
            l
        } else {
            -(-sm1 * l).exp_m1() / sm1
        };
        ((r + x) * (beta + t) / (alpha + t) * factor).max(0.0)
    }

    fn expected_purchases_new_customer(&self, horizon: f64) -> f64 {
        self.expected_purchases_if_alive(horizon, 0.0, 0.0)
    }

    /// P(purchase before min(death, horizon) | alive): 1 − E_D[g(min(D, h))] with
    /// g(m) = ((α+T)/(α+T+m))^(r+x) and D ~ Lomax(s, β+T), by 20-point quadrature.
    fn prob_purchase_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let ParetoNbd { r, alpha, s, beta } = *self;
        let g = |m: f64| (-(r + x) * (m / (alpha + t)).ln_1p()).exp();
        let survive = |d: f64| (-s * (d / (beta + t)).ln_1p()).exp();
        let density = |d: f64| s / (beta + t + d) * survive(d);
        let no_purchase =
            integrate(|d| g(d) * density(d), 0.0, horizon, 2) + g(horizon) * survive(horizon);
        (1.0 - no_purchase).clamp(0.0, 1.0)
    }

    fn median_wait_if_alive(&self, x: f64, t: f64) -> f64 {
        (self.alpha + t) * (std::f64::consts::LN_2 / (self.r + x)).exp_m1()
    }
}

impl Parameters for ParetoNbd {
    fn model_name(&self) -> &'static str {
        "pareto_nbd"
    }
    fn parameters(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("r", self.r),
            ("alpha", self.alpha),
            ("s", self.s),
            ("beta", self.beta),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: ParetoNbd = ParetoNbd {
        r: 0.55,
        alpha: 10.58,
        s: 0.61,
        beta: 11.67,
    };

    #[test]
    fn series_and_quadrature_agree() {
        for &(x, tx, t) in &[(0.0, 0.0, 38.0), (3.0, 20.0, 38.0), (50.0, 30.0, 60.0)] {
            for m in [
                M,
                ParetoNbd {
                    alpha: 40.0,
                    beta: 2.0,
                    ..M
                },
            ] {
                let a = m.ln_a0(x, tx, t);
                let b = m.ln_a0_quadrature(x, tx, t);
                assert!((a - b).abs() < 1e-8, "{x} {tx} {t}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn memoised_histogram_ll_matches_per_customer_ll() {
        let h = RfHistogram::from_triples(vec![
            (0.0, 0.0, 38.0),
            (0.0, 0.0, 38.0),
            (2.0, 20.0, 38.0),
            (2.0, 38.0, 38.0),
            (40.0, 1.0, 60.0),
        ]);
        for m in [
            M,
            ParetoNbd {
                alpha: 400.0,
                beta: 0.5,
                ..M
            },
        ] {
            let direct: f64 = h
                .rows()
                .map(|(x, tx, t, w)| w * m.log_likelihood(x, tx, t))
                .sum();
            assert!((direct - m.total_log_likelihood(&h)).abs() < 1e-9);
        }
    }

    #[test]
    fn extreme_inputs_stay_finite() {
        let skewed = ParetoNbd {
            alpha: 1e4,
            beta: 1e-3,
            ..M
        };
        for m in [M, skewed] {
            for &(x, tx, t) in &[
                (0.0, 0.0, 0.0),
                (0.0, 0.0, 1e5),
                (5_000.0, 50.0, 52.0),
                (3.0, 10.0, 10.0),
            ] {
                let ll = m.log_likelihood(x, tx, t);
                let pa = m.p_alive(x, tx, t);
                let e = m.expected_purchases(10.0, x, tx, t);
                let p = m.prob_purchase_within(10.0, x, tx, t);
                assert!(ll.is_finite(), "{x} {tx} {t} {ll}");
                assert!((0.0..=1.0).contains(&pa));
                assert!(e.is_finite() && e >= 0.0);
                assert!((0.0..=1.0).contains(&p));
            }
        }
    }
}
