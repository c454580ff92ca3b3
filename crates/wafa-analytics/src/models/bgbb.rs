//! BG/BB model for discrete purchase opportunities (Fader, Hardie & Shang 2010): at each
//! opportunity an active customer transacts with probability p ~ Beta(α, β) and drops out before
//! the next opportunity with probability θ ~ Beta(γ, δ).
//!
//! Data are (x transactions, t_x = opportunity of the last one, n opportunities), usually as
//! weighted counts — exactly the [`RfHistogram`] cells with T = n.

use super::{finish_fit, FitOutcome, Parameters, RfHistogram};
use crate::optimize::minimize_robust;
use crate::special::{digamma, ln_beta, ln_gamma, log_add_exp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgBb {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub delta: f64,
}

/// Fallback when BG/BB cannot be fitted: the observed share of opportunities with a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmpiricalOpportunityRate {
    pub transaction_rate: f64,
}

impl BgBb {
    /// ln of the "still alive after n" term and of the full likelihood.
    fn ln_terms(&self, x: f64, t_x: f64, n: f64) -> (f64, f64) {
        let BgBb {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let lb_ab = ln_beta(alpha, beta);
        let lb_gd = ln_beta(gamma, delta);
        let alive = ln_beta(alpha + x, beta + n - x) - lb_ab + ln_beta(gamma, delta + n) - lb_gd;
        let mut total = alive;
        let gap = (n - t_x).round().max(0.0) as i64;
        for i in 0..gap {
            let i = i as f64;
            total = log_add_exp(
                total,
                ln_beta(alpha + x, beta + t_x - x + i) - lb_ab
                    + ln_beta(gamma + 1.0, delta + t_x + i)
                    - lb_gd,
            );
        }
        (alive, total)
    }

    pub fn log_likelihood(&self, x: f64, t_x: f64, n: f64) -> f64 {
        self.ln_terms(x, t_x, n).1
    }

    pub fn total_log_likelihood(&self, h: &RfHistogram) -> f64 {
        h.rows()
            .map(|(x, tx, n, w)| w * self.log_likelihood(x, tx, n))
            .sum()
    }

    /// P(still alive at opportunity n | x, t_x, n) (lifetimes: `conditional_probability_alive(0, …)`).
    pub fn p_alive(&self, x: f64, t_x: f64, n: f64) -> f64 {
        let (alive, total) = self.ln_terms(x, t_x, n);
        (alive - total).exp().clamp(0.0, 1.0)
    }

    /// [Γ(1+δ+n)/Γ(γ+δ+n) − Γ(1+δ+n+m)/Γ(γ+δ+n+m)] / (γ−1), with the γ → 1 limit.
    fn future_factor(&self, n: f64, m: f64) -> f64 {
        let BgBb { gamma, delta, .. } = *self;
        let eps = gamma - 1.0;
        if eps.abs() < 1e-7 {
            return digamma(1.0 + delta + n + m) - digamma(1.0 + delta + n);
        }
        let g = |k: f64| (ln_gamma(1.0 + delta + k) - ln_gamma(gamma + delta + k)).exp();
        (g(n) - g(n + m)) / eps
    }

    /// Expected transactions in the next `m` opportunities given (x, t_x, n).
    pub fn expected_purchases(&self, m: f64, x: f64, t_x: f64, n: f64) -> f64 {
        let BgBb {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let (_, total) = self.ln_terms(x, t_x, n);
        let ln_head = ln_beta(alpha + x + 1.0, beta + n - x) - ln_beta(alpha, beta)
            + delta.ln()
            + ln_gamma(gamma + delta)
            - ln_gamma(1.0 + delta)
            - total;
        let v = ln_head.exp() * self.future_factor(n, m);
        if v.is_finite() {
            v.max(0.0)
        } else {
            0.0
        }
    }

    /// E[X(n)]: expected transactions of a new customer in the first n opportunities.
    pub fn expected_purchases_new_customer(&self, n: f64) -> f64 {
        let BgBb {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let ratio = (ln_gamma(gamma + delta) - ln_gamma(1.0 + delta)).exp();
        (alpha / (alpha + beta) * delta * ratio * self.future_factor(0.0, n)).max(0.0)
    }

    /// P(no transaction in the next `m` opportunities | alive at n). Each opportunity starts
    /// with a survival draw (the model's convention: n opportunities alive ⇔ (1−θ)^n), then an
    /// active customer transacts with probability p. Averaged over the posterior
    /// p ~ Beta(α+x, β+n−x), θ ~ Beta(γ, δ+n):
    /// Σ_{k=1}^{m} E(1−p)^(k−1) · E[(1−θ)^(k−1) θ] + E(1−p)^m · E(1−θ)^m.
    fn prob_none_if_alive(&self, m: u32, x: f64, n: f64) -> f64 {
        let BgBb {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        if m == 0 {
            return 1.0;
        }
        let lb_p = ln_beta(alpha + x, beta + n - x);
        let lb_t = ln_beta(gamma, delta + n);
        let e_q = |k: f64| (ln_beta(alpha + x, beta + n - x + k) - lb_p).exp();
        let mut total = 0.0;
        for k in 1..=m {
            let k = k as f64;
            total += e_q(k - 1.0) * (ln_beta(gamma + 1.0, delta + n + k - 1.0) - lb_t).exp();
        }
        let mf = m as f64;
        total += e_q(mf) * (ln_beta(gamma, delta + n + mf) - lb_t).exp();
        total.clamp(0.0, 1.0)
    }

    /// P(at least one transaction in the next `m` opportunities | x, t_x, n).
    pub fn prob_purchase_within(&self, m: u32, x: f64, t_x: f64, n: f64) -> f64 {
        (self.p_alive(x, t_x, n) * (1.0 - self.prob_none_if_alive(m, x, n))).clamp(0.0, 1.0)
    }

    /// Median number of opportunities until the next transaction if the customer is alive
    /// (None if that is beyond 1,000 opportunities, i.e. "not expected").
    pub fn median_periods_to_next_purchase(&self, x: f64, n: f64) -> Option<u32> {
        (1..=1000).find(|&m| self.prob_none_if_alive(m, x, n) <= 0.5)
    }

    /// Discounted expected transactions over the next `periods` opportunities × `spend`:
    /// Σ_k (E[X(n, n+k)] − E[X(n, n+k−1)]) · spend / (1+d)^k.
    pub fn clv(
        &self,
        periods: u32,
        discount_per_period: f64,
        spend: f64,
        x: f64,
        t_x: f64,
        n: f64,
    ) -> f64 {
        let mut prev = 0.0;
        let mut factor = 1.0;
        let mut total = 0.0;
        for k in 1..=periods {
            let e = self.expected_purchases(k as f64, x, t_x, n);
            factor /= 1.0 + discount_per_period.max(0.0);
            total += (e - prev).max(0.0) * factor;
            prev = e;
        }
        total * spend
    }

    pub fn fit(h: &RfHistogram) -> FitOutcome<BgBb, EmpiricalOpportunityRate> {
        let (mut sx, mut sn) = (0.0, 0.0);
        for (x, _, n, w) in h.rows() {
            sx += x * w;
            sn += n * w;
        }
        let fallback = EmpiricalOpportunityRate {
            transaction_rate: if sn > 0.0 { sx / sn } else { 0.0 },
        };
        if let Err(reason) = h.check_fit_possible() {
            return FitOutcome::Insufficient { reason, fallback };
        }
        let w = h.total_weight;
        let build = |p: &[f64]| BgBb {
            alpha: p[0],
            beta: p[1],
            gamma: p[2],
            delta: p[3],
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
        let f = |lp: &[f64]| {
            let p: Vec<f64> = lp.iter().map(|v| v.exp()).collect();
            total(&p) / w
        };
        let best = minimize_robust(&f, &[0.0; 4]);
        finish_fit(w, fallback, best, Some(&total), build)
    }
}

impl Parameters for BgBb {
    fn model_name(&self) -> &'static str {
        "bg_bb"
    }
    fn parameters(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("alpha", self.alpha),
            ("beta", self.beta),
            ("gamma", self.gamma),
            ("delta", self.delta),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_of_all_histories_sum_to_one() {
        // For n = 3 opportunities, the likelihoods of all (x, t_x) summaries weighted by the
        // number of sequences with that summary must sum to 1.
        let m = BgBb {
            alpha: 1.2,
            beta: 0.75,
            gamma: 0.66,
            delta: 2.8,
        };
        let n = 3.0;
        // sequences per (x, t_x): binomial(t_x − 1, x − 1) for x ≥ 1; 1 for x = 0.
        let mut total = m.log_likelihood(0.0, 0.0, n).exp();
        for tx in 1..=3 {
            for x in 1..=tx {
                let ways = binom(tx - 1, x - 1);
                total += ways * m.log_likelihood(x as f64, tx as f64, n).exp();
            }
        }
        assert!((total - 1.0).abs() < 1e-12, "{total}");
        let limit = BgBb { gamma: 1.0, ..m };
        let near = BgBb {
            gamma: 1.0 + 1e-5,
            ..m
        };
        assert!(
            (limit.expected_purchases(5.0, 2.0, 3.0, 6.0)
                - near.expected_purchases(5.0, 2.0, 3.0, 6.0))
            .abs()
                < 1e-4
        );
    }

    #[test]
    fn window_probabilities_are_consistent() {
        let m = BgBb {
            alpha: 1.204,
            beta: 0.750,
            gamma: 0.657,
            delta: 2.783,
        };
        let pa = m.p_alive(3.0, 4.0, 6.0);
        let mut last = 0.0;
        for w in 1..=10 {
            let p = m.prob_purchase_within(w, 3.0, 4.0, 6.0);
            assert!(p >= last && p <= pa + 1e-12);
            last = p;
        }
        // One opportunity: P(purchase) = P(alive) · E[1−θ] · E[p].
        let one = m.prob_purchase_within(1, 3.0, 4.0, 6.0);
        let survive = (2.783 + 6.0) / (0.657 + 2.783 + 6.0);
        assert!((one - pa * survive * (1.204 + 3.0) / (1.204 + 0.75 + 6.0)).abs() < 1e-12);
        // and E[X(n, n+1)] equals the same quantity
        assert!((m.expected_purchases(1.0, 3.0, 4.0, 6.0) - one).abs() < 1e-9);
        assert!(m.median_periods_to_next_purchase(6.0, 6.0).is_some());
        assert!(m.clv(10, 0.1, 50.0, 3.0, 4.0, 6.0) > 0.0);
    }

    fn binom(n: usize, k: usize) -> f64 {
        (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
    }
}

/// Per-customer discrete-time summary for BG/BB: opportunities are consecutive periods of
/// `period_days` after the first purchase (period 0 is the acquisition period and is not an
/// opportunity); only complete periods count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscreteSummary {
    /// Periods 1..=n with at least one purchase.
    pub x: u32,
    /// Last period with a purchase (0 if none).
    pub t_x: u32,
    /// Complete periods observed in calibration.
    pub n: u32,
    /// Holdout periods with a purchase, and the number of complete holdout periods.
    pub holdout_x: u32,
    pub holdout_n: u32,
}

/// Turn a transaction log into [`DiscreteSummary`]s (customers first seen after the calibration
/// end are skipped). `period_days` of 0 is treated as 1.
pub fn discrete_summaries<C: std::hash::Hash + Eq>(
    transactions: &[crate::summary::Transaction<C>],
    period_days: u32,
    calibration_end: Option<chrono::NaiveDate>,
    observation_end: Option<chrono::NaiveDate>,
) -> Vec<DiscreteSummary> {
    use crate::summary::{day_number, group_by_customer};
    let g = group_by_customer(transactions);
    let p = period_days.max(1) as i64;
    let obs_end = observation_end.map(day_number).unwrap_or(g.max_day) as i64;
    let cal_end = calibration_end
        .map(day_number)
        .map_or(obs_end, |d| d as i64);
    let mut out = Vec::with_capacity(g.customers.len());
    for span in &g.customers {
        let rows = g.rows_of(span);
        let first = rows[0].0 as i64;
        if first > cal_end {
            continue;
        }
        let complete = |end: i64| ((end - first + 1) / p - 1).max(0);
        let n = complete(cal_end);
        let total = complete(obs_end).max(n);
        let (mut x, mut t_x, mut hx) = (0u32, 0i64, 0u32);
        let mut last_period = 0i64;
        for &(day, _) in rows {
            let k = (day as i64 - first) / p;
            if k == last_period || k < 1 {
                continue;
            }
            last_period = k;
            if k <= n {
                x += 1;
                t_x = k;
            } else if k <= total {
                hx += 1;
            }
        }
        out.push(DiscreteSummary {
            x,
            t_x: t_x as u32,
            n: n as u32,
            holdout_x: hx,
            holdout_n: (total - n) as u32,
        });
    }
    out
}

/// Histogram of discrete summaries for [`BgBb::fit`] (customers with no complete period are
/// left out: they carry no information).
pub fn discrete_histogram(summaries: &[DiscreteSummary]) -> RfHistogram {
    RfHistogram::from_triples(
        summaries
            .iter()
            .filter(|s| s.n > 0)
            .map(|s| (s.x as f64, s.t_x as f64, s.n as f64)),
    )
}

#[cfg(test)]
mod discrete_tests {
    use super::*;
    use crate::summary::Transaction;
    use chrono::NaiveDate;

    #[test]
    fn periods_are_counted_from_the_first_purchase() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let tx = |day: &str| Transaction {
            customer: "a".to_string(),
            date: d(day),
            amount_minor: 1,
        };
        // first 01-01; 7-day periods: p1 = 01-08..01-14, p2 = 01-15..01-21, p3 = 01-22..01-28
        let log = vec![
            tx("2024-01-01"),
            tx("2024-01-03"), // period 0: not an opportunity
            tx("2024-01-09"),
            tx("2024-01-10"), // same period: one incidence
            tx("2024-01-23"), // period 3 (holdout)
        ];
        let s = discrete_summaries(&log, 7, Some(d("2024-01-21")), Some(d("2024-01-28")));
        assert_eq!(
            s,
            vec![DiscreteSummary {
                x: 1,
                t_x: 1,
                n: 2,
                holdout_x: 1,
                holdout_n: 1
            }]
        );
    }
}
