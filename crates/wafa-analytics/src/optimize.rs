//! Small, dependency-free optimiser for the maximum-likelihood fits.
//!
//! Why this design: every model has 3–4 positive parameters, so we optimise over their logs
//! (unconstrained, and scale-free). Nelder–Mead is robust from a poor start and needs no
//! gradient; BFGS then polishes to full precision quickly. When the caller has an analytic
//! gradient (BG/NBD on a million customers) BFGS is used from the start because each likelihood
//! evaluation is comparatively expensive.

/// Objective value, treating NaN as +inf so that invalid regions are simply "uphill".
fn sanitize(v: f64) -> f64 {
    if v.is_nan() {
        f64::INFINITY
    } else {
        v
    }
}

/// Result of a minimisation.
#[derive(Debug, Clone)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
    pub evaluations: usize,
    pub converged: bool,
    /// BFGS inverse-Hessian approximation at the end (empty for Nelder–Mead).
    pub inverse_hessian: Vec<Vec<f64>>,
}

/// Nelder–Mead simplex minimisation (standard coefficients, adaptive restarts not needed here).
pub fn nelder_mead(
    f: &dyn Fn(&[f64]) -> f64,
    x0: &[f64],
    step: f64,
    max_evals: usize,
    ftol: f64,
) -> Minimum {
    let n = x0.len();
    let mut evals = 0usize;
    let eval = |x: &[f64], evals: &mut usize| {
        *evals += 1;
        sanitize(f(x))
    };
    let mut simplex: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    simplex.push(x0.to_vec());
    for i in 0..n {
        let mut p = x0.to_vec();
        p[i] += step;
        simplex.push(p);
    }
    let mut values: Vec<f64> = simplex.iter().map(|p| eval(p, &mut evals)).collect();
    let mut converged = false;
    while evals < max_evals {
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        let spread = (values[n] - values[0]).abs();
        let size = simplex
            .iter()
            .skip(1)
            .map(|p| {
                p.iter()
                    .zip(&simplex[0])
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            })
            .fold(0.0, f64::max);
        if values[0].is_finite() && spread <= ftol * (1.0 + values[0].abs()) && size < 1e-6 {
            converged = true;
            break;
        }
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|p| p[j]).sum::<f64>() / n as f64)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            (0..n)
                .map(|j| centroid[j] + t * (simplex[n][j] - centroid[j]))
                .collect()
        };
        let reflected = along(-1.0);
        let fr = eval(&reflected, &mut evals);
        if fr < values[0] {
            let expanded = along(-2.0);
            let fe = eval(&expanded, &mut evals);
            if fe < fr {
                simplex[n] = expanded;
                values[n] = fe;
            } else {
                simplex[n] = reflected;
                values[n] = fr;
            }
        } else if fr < values[n - 1] {
            simplex[n] = reflected;
            values[n] = fr;
        } else {
            let (contracted, fc) = if fr < values[n] {
                let c = along(-0.5);
                let fc = eval(&c, &mut evals);
                (c, fc)
            } else {
                let c = along(0.5);
                let fc = eval(&c, &mut evals);
                (c, fc)
            };
            if fc < values[n].min(fr) {
                simplex[n] = contracted;
                values[n] = fc;
            } else {
                // Shrink towards the best point.
                for i in 1..=n {
                    let shrunk: Vec<f64> = (0..n)
                        .map(|j| simplex[0][j] + 0.5 * (simplex[i][j] - simplex[0][j]))
                        .collect();
                    values[i] = eval(&shrunk, &mut evals);
                    simplex[i] = shrunk;
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    Minimum {
        x: simplex[best].clone(),
        value: values[best],
        evaluations: evals,
        converged,
        inverse_hessian: Vec::new(),
    }
}

/// Central-difference gradient of `f` at `x`; returns f(x).
pub fn numerical_gradient(f: &dyn Fn(&[f64]) -> f64, x: &[f64], grad: &mut [f64]) -> f64 {
    let fx = sanitize(f(x));
    let mut p = x.to_vec();
    for i in 0..x.len() {
        let h = 1e-6 * (1.0 + x[i].abs());
        p[i] = x[i] + h;
        let fp = sanitize(f(&p));
        p[i] = x[i] - h;
        let fm = sanitize(f(&p));
        p[i] = x[i];
        grad[i] = (fp - fm) / (2.0 * h);
    }
    fx
}

/// BFGS with a backtracking (Armijo) line search. `fg` returns f(x) and writes ∇f(x).
pub fn bfgs(
    fg: &dyn Fn(&[f64], &mut [f64]) -> f64,
    x0: &[f64],
    max_iter: usize,
    gtol: f64,
) -> Minimum {
    bfgs_warm(fg, x0, None, max_iter, gtol)
}

/// BFGS starting from a known inverse-Hessian approximation (e.g. from a fit on a subsample).
pub fn bfgs_warm(
    fg: &dyn Fn(&[f64], &mut [f64]) -> f64,
    x0: &[f64],
    h0: Option<&[Vec<f64>]>,
    max_iter: usize,
    gtol: f64,
) -> Minimum {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; n];
    let mut fx = sanitize(fg(&x, &mut g));
    let mut evals = 1usize;
    let mut h_inv = match h0 {
        Some(h) if h.len() == n && h.iter().flatten().all(|v| v.is_finite()) => h.to_vec(),
        _ => identity(n),
    };
    let mut converged = false;
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Minimum {
            x,
            value: fx,
            evaluations: evals,
            converged,
            inverse_hessian: h_inv,
        };
    }
    let mut g_new = vec![0.0; n];
    for _ in 0..max_iter {
        let gnorm = g.iter().map(|v| v.abs()).fold(0.0, f64::max);
        if gnorm < gtol {
            converged = true;
            break;
        }
        let mut dir: Vec<f64> = (0..n)
            .map(|i| -(0..n).map(|j| h_inv[i][j] * g[j]).sum::<f64>())
            .collect();
        let mut slope: f64 = dir.iter().zip(&g).map(|(d, gi)| d * gi).sum();
        if slope >= 0.0 || !slope.is_finite() {
            // Not a descent direction: reset to steepest descent.
            h_inv = identity(n);
            dir = g.iter().map(|v| -v).collect();
            slope = -g.iter().map(|v| v * v).sum::<f64>();
        }
        // Limit the step so log-parameters cannot jump by more than ~5 (a factor of 150).
        let max_comp = dir.iter().map(|v| v.abs()).fold(0.0, f64::max);
        let mut t = if max_comp > 5.0 { 5.0 / max_comp } else { 1.0 };
        let mut accepted = false;
        let mut x_new = x.clone();
        let mut f_new = fx;
        for _ in 0..60 {
            for i in 0..n {
                x_new[i] = x[i] + t * dir[i];
            }
            f_new = sanitize(fg(&x_new, &mut g_new));
            evals += 1;
            if f_new.is_finite()
                && g_new.iter().all(|v| v.is_finite())
                && f_new <= fx + 1e-4 * t * slope
            {
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            // Cannot make progress along this direction: accept convergence if the change is tiny.
            converged = gnorm < gtol * 1e3;
            break;
        }
        let s: Vec<f64> = (0..n).map(|i| x_new[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| g_new[i] - g[i]).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        let improvement = fx - f_new;
        x.copy_from_slice(&x_new);
        g.copy_from_slice(&g_new);
        fx = f_new;
        if sy > 1e-12 {
            // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| h_inv[i][j] * y[j]).sum())
                .collect();
            let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
            for i in 0..n {
                for j in 0..n {
                    h_inv[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j])
                        + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
        }
        if improvement.abs() < 1e-15 * (1.0 + fx.abs())
            && s.iter().map(|v| v.abs()).fold(0.0, f64::max) < 1e-12
        {
            converged = g.iter().map(|v| v.abs()).fold(0.0, f64::max) < gtol * 1e3;
            break;
        }
    }
    Minimum {
        x,
        value: fx,
        evaluations: evals,
        converged,
        inverse_hessian: h_inv,
    }
}

/// Newton's method with the Hessian from forward differences of the gradient (n extra gradient
/// evaluations per step) and a backtracking line search. Converges in 2–3 steps from a good
/// start (e.g. the optimum of a subsample), which is cheaper and steadier than BFGS re-learning
/// the curvature. Returns `converged: false` if the Hessian is not positive definite.
pub fn newton_polish(
    fg: &dyn Fn(&[f64], &mut [f64]) -> f64,
    x0: &[f64],
    max_iter: usize,
    gtol: f64,
) -> Minimum {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; n];
    let mut fx = sanitize(fg(&x, &mut g));
    let mut evals = 1;
    let mut hess = vec![vec![0.0; n]; n];
    let mut gp = vec![0.0; n];
    let mut converged = false;
    let mut inverse = identity(n);
    for _ in 0..max_iter {
        if !fx.is_finite() {
            break;
        }
        if g.iter().map(|v| v.abs()).fold(0.0, f64::max) < gtol {
            converged = true;
            break;
        }
        let mut p = x.clone();
        for i in 0..n {
            let h = 1e-6 * (1.0 + x[i].abs());
            p[i] = x[i] + h;
            fg(&p, &mut gp);
            evals += 1;
            p[i] = x[i];
            for j in 0..n {
                hess[i][j] = (gp[j] - g[j]) / h;
            }
        }
        #[allow(clippy::needless_range_loop)]
        for i in 0..n {
            for j in 0..i {
                let v = 0.5 * (hess[i][j] + hess[j][i]);
                hess[i][j] = v;
                hess[j][i] = v;
            }
        }
        let Some(inv) = invert(&hess) else { break };
        let step: Vec<f64> = (0..n)
            .map(|i| -(0..n).map(|j| inv[i][j] * g[j]).sum::<f64>())
            .collect();
        let slope: f64 = step.iter().zip(&g).map(|(s, gi)| s * gi).sum();
        if slope.is_nan() || slope >= 0.0 {
            break; // not positive definite here
        }
        inverse = inv;
        // Newton decrement below the objective's rounding noise: nothing left to gain.
        if -slope < 1e-15 * (1.0 + fx.abs()) {
            converged = true;
            break;
        }
        let mut t = 1.0;
        let mut accepted = false;
        let mut x_new = x.clone();
        let mut g_new = vec![0.0; n];
        for _ in 0..30 {
            for i in 0..n {
                x_new[i] = x[i] + t * step[i];
            }
            let f_new = sanitize(fg(&x_new, &mut g_new));
            evals += 1;
            // Armijo, with slack for rounding noise in f near the optimum.
            if f_new.is_finite() && f_new <= fx + 1e-4 * t * slope + 1e-15 * fx.abs() {
                x.copy_from_slice(&x_new);
                g.copy_from_slice(&g_new);
                fx = f_new;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            // At the optimum to machine precision if the gradient is small.
            converged = g.iter().map(|v| v.abs()).fold(0.0, f64::max) < gtol * 1e3;
            break;
        }
    }
    Minimum {
        x,
        value: fx,
        evaluations: evals,
        converged,
        inverse_hessian: inverse,
    }
}

fn identity(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect()
}

/// Log-parameters are confined to ±this (parameters in [3e−7, 3.3e6]); beyond it the objective
/// is treated as +∞. Real customer data never need more, and the box stops degenerate fits from
/// wandering into regions where special functions get expensive. A fit that ends at the box is
/// reported as degenerate.
pub const LOG_PARAM_BOUND: f64 = 15.0;

/// True when a point lies inside the log-parameter box.
pub fn in_box(x: &[f64]) -> bool {
    x.iter().all(|v| v.abs() <= LOG_PARAM_BOUND)
}

/// Robust minimisation over log-parameters: Nelder–Mead from `x0`, then BFGS polish with a
/// numerical gradient. `f` must be the negative log-likelihood per customer (scale ~1) so the
/// tolerances are meaningful.
pub fn minimize_robust(f: &dyn Fn(&[f64]) -> f64, x0: &[f64]) -> Minimum {
    let boxed = |x: &[f64]| if in_box(x) { f(x) } else { f64::INFINITY };
    let f: &dyn Fn(&[f64]) -> f64 = &boxed;
    let coarse = nelder_mead(f, x0, 0.5, 4_000, 1e-10);
    let fg = |x: &[f64], g: &mut [f64]| numerical_gradient(f, x, g);
    let polished = bfgs(&fg, &coarse.x, 200, 1e-7);
    if polished.value.is_finite() && polished.value <= coarse.value {
        Minimum {
            evaluations: coarse.evaluations + polished.evaluations * (2 * x0.len() + 1),
            converged: polished.converged || coarse.converged,
            ..polished
        }
    } else {
        coarse
    }
}

/// Hessian of `f` at `x` by central differences with relative steps.
pub fn numerical_hessian(f: &dyn Fn(&[f64]) -> f64, x: &[f64]) -> Vec<Vec<f64>> {
    let n = x.len();
    let h: Vec<f64> = x.iter().map(|v| 1e-4 * v.abs().max(1e-3)).collect();
    let mut hess = vec![vec![0.0; n]; n];
    let f0 = f(x);
    let mut p = x.to_vec();
    for i in 0..n {
        for j in i..n {
            let value = if i == j {
                p[i] = x[i] + h[i];
                let fp = f(&p);
                p[i] = x[i] - h[i];
                let fm = f(&p);
                p[i] = x[i];
                (fp - 2.0 * f0 + fm) / (h[i] * h[i])
            } else {
                let mut corner = |si: f64, sj: f64| {
                    p[i] = x[i] + si * h[i];
                    p[j] = x[j] + sj * h[j];
                    let v = f(&p);
                    p[i] = x[i];
                    p[j] = x[j];
                    v
                };
                (corner(1.0, 1.0) - corner(1.0, -1.0) - corner(-1.0, 1.0) + corner(-1.0, -1.0))
                    / (4.0 * h[i] * h[j])
            };
            hess[i][j] = value;
            hess[j][i] = value;
        }
    }
    hess
}

/// Inverse of a small square matrix by Gauss–Jordan elimination with partial pivoting.
pub fn invert(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m.to_vec();
    let mut inv = identity(n);
    for col in 0..n {
        let pivot = (col..n).max_by(|&r1, &r2| a[r1][col].abs().total_cmp(&a[r2][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 || !a[pivot][col].is_finite() {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let d = a[col][col];
        for j in 0..n {
            a[col][j] /= d;
            inv[col][j] /= d;
        }
        for r in 0..n {
            if r != col {
                let factor = a[r][col];
                if factor != 0.0 {
                    for j in 0..n {
                        a[r][j] -= factor * a[col][j];
                        inv[r][j] -= factor * inv[col][j];
                    }
                }
            }
        }
    }
    Some(inv)
}

/// Standard errors from a Hessian built by forward differences of an analytic gradient of the
/// total negative log-likelihood (natural parameters): n + 1 gradient evaluations, relative
/// step 1e-6 (error ~1e-6 relative, far below the SEs' own sampling uncertainty).
pub fn standard_errors_from_gradient(
    gradient: &dyn Fn(&[f64], &mut [f64]),
    params: &[f64],
) -> Vec<Option<f64>> {
    let n = params.len();
    let mut hess = vec![vec![0.0; n]; n];
    let mut p = params.to_vec();
    let mut g0 = vec![0.0; n];
    gradient(params, &mut g0);
    let mut gp = vec![0.0; n];
    for i in 0..n {
        let h = 1e-6 * params[i].abs().max(1e-3);
        p[i] = params[i] + h;
        gradient(&p, &mut gp);
        p[i] = params[i];
        for (cell, (up, base)) in hess[i].iter_mut().zip(gp.iter().zip(&g0)) {
            *cell = (up - base) / h;
        }
    }
    // Symmetrise.
    #[allow(clippy::needless_range_loop)]
    for i in 0..n {
        for j in 0..i {
            let v = 0.5 * (hess[i][j] + hess[j][i]);
            hess[i][j] = v;
            hess[j][i] = v;
        }
    }
    se_from_hessian(&hess)
}

fn se_from_hessian(hess: &[Vec<f64>]) -> Vec<Option<f64>> {
    let n = hess.len();
    match invert(hess) {
        Some(cov) => (0..n)
            .map(|i| {
                let v = cov[i][i];
                if v.is_finite() && v > 0.0 {
                    Some(v.sqrt())
                } else {
                    None
                }
            })
            .collect(),
        None => vec![None; n],
    }
}

/// Standard errors from the Hessian of the *total* negative log-likelihood (in natural
/// parameters) at the optimum: sqrt of the diagonal of its inverse. `None` where not finite or
/// where the Hessian is not positive definite.
pub fn standard_errors(neg_ll_total: &dyn Fn(&[f64]) -> f64, params: &[f64]) -> Vec<Option<f64>> {
    se_from_hessian(&numerical_hessian(neg_ll_total, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64]) -> f64 {
        (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
    }

    #[test]
    fn robust_minimizer_finds_rosenbrock_minimum() {
        let m = minimize_robust(&rosenbrock, &[-1.2, 1.0]);
        assert!((m.x[0] - 1.0).abs() < 1e-5, "{:?}", m);
        assert!((m.x[1] - 1.0).abs() < 1e-5, "{:?}", m);
    }

    #[test]
    fn hessian_inverse_of_quadratic() {
        let f = |x: &[f64]| 2.0 * x[0] * x[0] + x[0] * x[1] + 3.0 * x[1] * x[1];
        let h = numerical_hessian(&f, &[1.0, 2.0]);
        assert!((h[0][0] - 4.0).abs() < 1e-4 && (h[0][1] - 1.0).abs() < 1e-4);
        let inv = invert(&h).unwrap();
        // inverse of [[4,1],[1,6]] = 1/23 [[6,-1],[-1,4]]
        assert!((inv[0][0] - 6.0 / 23.0).abs() < 1e-5);
    }
}
