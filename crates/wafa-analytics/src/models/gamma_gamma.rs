//! Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves",
//! after Colombo & Jiang 1999). A customer's transaction values are Gamma(p, ν) with
//! ν ~ Gamma(q, γ); we observe x repeat transactions with mean m̄. Assumes spend is independent
//! of purchase frequency (check the correlation before trusting CLV).
//!
//! Fitted on customers with x ≥ 1 and m̄ > 0. Spend is in whatever unit the caller passes
//! (the report uses major currency units, so γ is in e.g. dollars or riyals).

use super::{finish_fit, FitOutcome, Parameters, ThinData, MIN_REPEATERS};
use crate::optimize::minimize_robust;
use crate::special::ln_gamma;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    /// The scale parameter γ (called `v` in `lifetimes`).
    pub gamma: f64,
}

/// Fallback spend estimate: the plain mean of the observed mean spends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmpiricalSpend {
    pub mean_spend: f64,
}

impl EmpiricalSpend {
    /// Shrink an individual mean towards the population mean with one pseudo-observation.
    pub fn expected_spend(&self, x: f64, mean_spend: f64) -> f64 {
        if x > 0.0 && mean_spend > 0.0 {
            (x * mean_spend + self.mean_spend) / (x + 1.0)
        } else {
            self.mean_spend
        }
    }
}

impl GammaGamma {
    pub fn log_likelihood(&self, x: f64, mean_spend: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let px = p * x;
        ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q)
            + q * gamma.ln()
            + (px - 1.0) * mean_spend.ln()
            + px * x.ln()
            - (px + q) * (gamma + mean_spend * x).ln()
    }

    /// E[mean spend | x, m̄]; the population mean pγ/(q−1) when x = 0.
    pub fn expected_spend(&self, x: f64, mean_spend: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        if x > 0.0 && mean_spend > 0.0 {
            p * (gamma + x * mean_spend) / (p * x + q - 1.0)
        } else {
            p * gamma / (q - 1.0)
        }
    }

    /// Fit on (x, mean spend) pairs; pairs with x < 1 or spend ≤ 0 are ignored.
    pub fn fit(data: &[(f64, f64)]) -> FitOutcome<GammaGamma, EmpiricalSpend> {
        // Compress duplicate pairs.
        let mut pairs: Vec<(f64, f64)> = data
            .iter()
            .copied()
            .filter(|&(x, m)| x >= 1.0 && m > 0.0 && x.is_finite() && m.is_finite())
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut cells: Vec<(f64, f64, f64)> = Vec::new();
        for (x, m) in pairs {
            match cells.last_mut() {
                Some(last) if last.0 == x && last.1 == m => last.2 += 1.0,
                _ => cells.push((x, m, 1.0)),
            }
        }
        let n: f64 = cells.iter().map(|c| c.2).sum();
        let mean = if n > 0.0 {
            cells.iter().map(|c| c.1 * c.2).sum::<f64>() / n
        } else {
            0.0
        };
        let fallback = EmpiricalSpend { mean_spend: mean };
        if n == 0.0 {
            return FitOutcome::Insufficient {
                reason: ThinData::NoRepeatPurchases,
                fallback,
            };
        }
        if n < MIN_REPEATERS {
            return FitOutcome::Insufficient {
                reason: ThinData::TooFewRepeatCustomers {
                    repeat_customers: n,
                    minimum: MIN_REPEATERS,
                },
                fallback,
            };
        }
        // Fit on spends divided by their mean (γ is a scale parameter: γ_original = γ' · mean),
        // so the optimiser works at the same scale for halalas, dollars or rials.
        let scale = mean;
        let scaled: Vec<(f64, f64, f64)> =
            cells.iter().map(|&(x, m, w)| (x, m / scale, w)).collect();
        let build = |p: &[f64]| GammaGamma {
            p: p[0],
            q: p[1],
            gamma: p[2],
        };
        let total_on = |data: &[(f64, f64, f64)], p: &[f64]| {
            if p.iter().any(|v| v.is_nan() || *v <= 0.0 || !v.is_finite()) {
                return f64::INFINITY;
            }
            let m = build(p);
            let v: f64 = -data
                .iter()
                .map(|&(x, s, w)| w * m.log_likelihood(x, s))
                .sum::<f64>();
            if v.is_nan() {
                f64::INFINITY
            } else {
                v
            }
        };
        let total_scaled = |p: &[f64]| total_on(&scaled, p);
        let f = |lp: &[f64]| {
            let p: Vec<f64> = lp.iter().map(|v| v.exp()).collect();
            total_scaled(&p) / n
        };
        let best = minimize_robust(&f, &[0.0, 0.0, 0.0]);
        let mut outcome = finish_fit(n, fallback, best, Some(&total_scaled), build);
        if let FitOutcome::Fitted(fit) = &mut outcome {
            if fit.model.q <= 1.0 {
                return FitOutcome::Insufficient {
                    reason: ThinData::Degenerate(
                        "q ≤ 1 implies an infinite mean spend".to_string(),
                    ),
                    fallback,
                };
            }
            fit.model.gamma *= scale;
            if let Some(se) = fit.standard_errors.get_mut(2) {
                *se = se.map(|v| v * scale);
            }
            let m = fit.model;
            fit.log_likelihood = -total_on(&cells, &[m.p, m.q, m.gamma]);
        }
        outcome
    }
}

impl Parameters for GammaGamma {
    fn model_name(&self) -> &'static str {
        "gamma_gamma"
    }
    /// `v` and `gamma` are the same parameter (`lifetimes` calls it `v`).
    fn parameters(&self) -> Vec<(&'static str, f64)> {
        vec![("p", self.p), ("q", self.q), ("v", self.gamma)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thin_data_falls_back_to_mean() {
        match GammaGamma::fit(&[(1.0, 10.0), (2.0, 20.0)]) {
            FitOutcome::Insufficient { fallback, .. } => {
                assert!((fallback.mean_spend - 15.0).abs() < 1e-12)
            }
            FitOutcome::Fitted(_) => panic!("two customers must not be fitted"),
        }
        assert!(matches!(
            GammaGamma::fit(&[]),
            FitOutcome::Insufficient {
                reason: ThinData::NoRepeatPurchases,
                ..
            }
        ));
    }
}
