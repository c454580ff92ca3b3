//! Special functions the likelihoods need (log-gamma, digamma, log-beta, Gauss hypergeometric).
//!
//! Why hand-written: the models only need a handful of well-understood functions, and owning them
//! lets us evaluate them in log space where the textbook formulas would overflow (customers with
//! thousands of purchases) without pulling a large numerics dependency into the workspace.

/// Natural log of the gamma function for `x > 0` (Lanczos, g = 7, 9 terms; ~1e-15 relative).
/// Returns `+inf` for `x <= 0` (the models never need the negative branch).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return f64::INFINITY;
    }
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1-x) = π / sin(πx)
        let s = (std::f64::consts::PI * x).sin();
        return std::f64::consts::PI.ln() - s.ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = COEF[0];
    let t = x + G + 0.5;
    for (i, c) in COEF.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Digamma ψ(x) for `x > 0`: recurrence up to x ≥ 10, then the asymptotic series.
pub fn digamma(mut x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut result = 0.0;
    while x < 10.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    result + x.ln()
        - 0.5 * inv
        - inv2
            * (1.0 / 12.0
                - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 / 132.0))))
}

/// ln B(a, b).
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln(e^a + e^b) without overflow; handles `-inf` operands.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// Gauss hypergeometric 2F1(a, b; c; z) by its power series, for `0 <= z < 1` and `c > 0`.
///
/// Parameters may be negative (the Euler-transformed forms used by the models have small or
/// negative `a`, `b` and a large `c`, where the series converges quickly). Returns `None` if the
/// series did not converge within `max_terms`.
pub fn hyp2f1_series(a: f64, b: f64, c: f64, z: f64, max_terms: usize) -> Option<f64> {
    if !(0.0..1.0).contains(&z) || c <= 0.0 {
        return None;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 0..max_terms {
        let kf = k as f64;
        term *= (a + kf) * (b + kf) / ((c + kf) * (kf + 1.0)) * z;
        sum += term;
        if term == 0.0 || (term.abs() <= 1e-16 * sum.abs() && kf > (a * b / c).abs() * z) {
            return if sum.is_finite() { Some(sum) } else { None };
        }
    }
    None
}

/// ln 2F1(a, b; c; z) for `a, b, c > 0` and `0 <= z < 1`, summed in log space so that huge
/// parameters (large purchase counts) cannot overflow. `None` if it fails to converge.
pub fn ln_hyp2f1_positive(a: f64, b: f64, c: f64, z: f64, max_terms: usize) -> Option<f64> {
    if !(0.0..1.0).contains(&z) || a <= 0.0 || b <= 0.0 || c <= 0.0 {
        return None;
    }
    if z == 0.0 {
        return Some(0.0);
    }
    let ln_z = z.ln();
    // Running sum kept as scale * exp(offset): rescale whenever a term would overflow.
    let mut ln_term = 0.0_f64;
    let mut offset = 0.0_f64;
    let mut sum = 1.0_f64;
    for k in 0..max_terms {
        let kf = k as f64;
        ln_term += ((a + kf) * (b + kf) / ((c + kf) * (kf + 1.0))).ln() + ln_z;
        let rel = ln_term - offset;
        if rel > 600.0 {
            sum *= (offset - ln_term).exp();
            offset = ln_term;
            sum += 1.0;
        } else {
            let t = rel.exp();
            sum += t;
            // Terms decrease once the ratio is below one; stop when negligible.
            let ratio = (a + kf + 1.0) * (b + kf + 1.0) / ((c + kf + 1.0) * (kf + 2.0)) * z;
            if ratio < 1.0 && t <= 1e-17 * sum * (1.0 - ratio) {
                return Some(offset + sum.ln());
            }
        }
    }
    None
}

/// Nodes and weights of 20-point Gauss–Legendre quadrature on [-1, 1].
pub const GAUSS_LEGENDRE_20: [(f64, f64); 10] = [
    (0.076_526_521_133_497_33, 0.152_753_387_130_725_85),
    (0.227_785_851_141_645_08, 0.149_172_986_472_603_75),
    (0.373_706_088_715_419_56, 0.142_096_109_318_382_05),
    (0.510_867_001_950_827_1, 0.131_688_638_449_176_63),
    (0.636_053_680_726_515, 0.118_194_531_961_518_42),
    (0.746_331_906_460_150_8, 0.101_930_119_817_240_44),
    (0.839_116_971_822_218_8, 0.083_276_741_576_704_75),
    (0.912_234_428_251_326, 0.062_672_048_334_109_06),
    (0.963_971_927_277_913_8, 0.040_601_429_800_386_94),
    (0.993_128_599_185_094_9, 0.017_614_007_139_152_12),
];

/// ∫_lo^hi f with 20-point Gauss–Legendre on `pieces` equal sub-intervals.
pub fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64, pieces: usize) -> f64 {
    let pieces = pieces.max(1);
    let width = (hi - lo) / pieces as f64;
    let mut total = 0.0;
    for p in 0..pieces {
        let a = lo + width * p as f64;
        let mid = a + 0.5 * width;
        let half = 0.5 * width;
        let mut s = 0.0;
        for &(x, w) in GAUSS_LEGENDRE_20.iter() {
            s += w * (f(mid - half * x) + f(mid + half * x));
        }
        total += s * half;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-14);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.1) - 2.252_712_651_734_206).abs() < 1e-12);
        assert!((ln_gamma(1000.5) - 5_908.674_175_848_678).abs() < 1e-8);
    }

    #[test]
    fn digamma_known_values() {
        assert!((digamma(1.0) + 0.577_215_664_901_532_9).abs() < 1e-12);
        assert!((digamma(0.5) + 1.963_510_026_021_423_5).abs() < 1e-12);
        assert!((digamma(10.0) - 2.251_752_589_066_721).abs() < 1e-12);
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // 2F1(1,1;2;z) = -ln(1-z)/z
        let z = 0.7;
        let v = hyp2f1_series(1.0, 1.0, 2.0, z, 10_000).unwrap();
        assert!((v - (-(1.0f64 - z).ln() / z)).abs() < 1e-12);
        let lv = ln_hyp2f1_positive(1.0, 1.0, 2.0, z, 10_000).unwrap();
        assert!((lv - v.ln()).abs() < 1e-12);
        // huge parameters stay finite in log space: 2F1(a,b;b;z) = (1-z)^-a
        let lv = ln_hyp2f1_positive(2000.0, 5.0, 5.0, 0.5, 100_000).unwrap();
        assert!((lv - (-2000.0 * 0.5f64.ln())).abs() < 1e-8);
    }

    #[test]
    fn quadrature_integrates_polynomials() {
        let v = integrate(|x| x * x, 0.0, 3.0, 1);
        assert!((v - 9.0).abs() < 1e-12);
    }
}
