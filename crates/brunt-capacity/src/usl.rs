//! The Universal Scalability Law, X(N) = λN / (1 + σ(N−1) + κN(N−1)), fitted to closed-model
//! steps. The fit is ordinary least squares on the linearised form N/X(N) = a + b(N−1) + cN(N−1)
//! (a = 1/λ, b = σ/λ, c = κ/λ): a quadratic with three unknowns, solved from its normal
//! equations, so no optimiser (and no crate) is needed. Goodness of fit is judged where it
//! matters, on throughput: R² and a residual per measured point.

use serde::Serialize;
use std::fmt::Write;

/// A peak exists only when coherency is positive; below this it is read as zero.
const KAPPA_EPSILON: f64 = 1e-12;

#[derive(Debug, Clone, Serialize)]
pub struct UslFit {
    /// Throughput of one VU alone, requests/s (the slope of ideal, linear scaling).
    pub lambda: f64,
    /// Contention: the share of the work that serialises (queueing on a shared resource).
    pub sigma: f64,
    /// Coherency: the cost of keeping VUs' views consistent, which makes throughput fall past
    /// the peak.
    pub kappa: f64,
    /// N* = sqrt((1 − σ)/κ) and X(N*); None when κ ≈ 0 (throughput rises to λ/σ and stays).
    pub peak: Option<Peak>,
    /// 1 − SS_res/SS_tot of the predicted against the measured throughput.
    pub r_squared: f64,
    pub points: Vec<Residual>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Peak {
    pub concurrency: f64,
    pub throughput: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Residual {
    pub concurrency: u64,
    pub measured: f64,
    pub predicted: f64,
    /// measured − predicted, requests/s.
    pub residual: f64,
}

impl UslFit {
    /// Fits `(concurrency, throughput)` points; an error, as a sentence, when they cannot be
    /// fitted (fewer than three levels, a level with no throughput, or a degenerate system).
    pub fn fit(points: &[(u64, f64)]) -> Result<UslFit, String> {
        let mut levels: Vec<u64> = points.iter().map(|p| p.0).collect();
        levels.sort_unstable();
        levels.dedup();
        if levels.len() < 3 {
            return Err(format!(
                "the USL has three parameters: it needs at least three concurrency levels, got {}",
                levels.len()
            ));
        }
        if let Some((n, _)) = points.iter().find(|(_, x)| x.is_nan() || *x <= 0.0) {
            return Err(format!("no USL fit: the step at {n} VUs had no throughput"));
        }
        // Normal equations AᵀA·p = Aᵀy for rows [1, N−1, N(N−1)] and y = N/X.
        let mut ata = [[0.0; 3]; 3];
        let mut aty = [0.0; 3];
        for &(n, x) in points {
            let n = n as f64;
            let row = [1.0, n - 1.0, n * (n - 1.0)];
            let y = n / x;
            for i in 0..3 {
                aty[i] += row[i] * y;
                for j in 0..3 {
                    ata[i][j] += row[i] * row[j];
                }
            }
        }
        let [a, b, c] = solve3(ata, aty).ok_or("no USL fit: the levels do not determine it")?;
        if a.is_nan() || a <= 0.0 {
            return Err("no USL fit: the points give no positive single-VU throughput".into());
        }
        let lambda = 1.0 / a;
        let mut fit = UslFit {
            lambda,
            sigma: b * lambda,
            kappa: c * lambda,
            peak: None,
            r_squared: 1.0,
            points: Vec::new(),
        };
        fit.peak = (fit.kappa > KAPPA_EPSILON && fit.sigma < 1.0).then(|| {
            let n = ((1.0 - fit.sigma) / fit.kappa).sqrt();
            Peak {
                concurrency: n,
                throughput: fit.predict(n),
            }
        });
        fit.points = points
            .iter()
            .map(|&(n, x)| {
                let p = fit.predict(n as f64);
                Residual {
                    concurrency: n,
                    measured: x,
                    predicted: p,
                    residual: x - p,
                }
            })
            .collect();
        let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
        let ss_tot: f64 = points.iter().map(|p| (p.1 - mean).powi(2)).sum();
        let ss_res: f64 = fit.points.iter().map(|r| r.residual.powi(2)).sum();
        if ss_tot > 0.0 {
            fit.r_squared = 1.0 - ss_res / ss_tot;
        }
        Ok(fit)
    }

    /// The fit's parameters, peak and residuals, as printed below the capacity table.
    pub fn text(&self) -> String {
        let mut out = format!(
            "  USL fit (least squares on N/X): λ {:.2}/s per VU, σ {:.4} (contention), κ {:.6} (coherency), R² {:.4}\n",
            self.lambda, self.sigma, self.kappa, self.r_squared
        );
        let largest = self.points.iter().map(|p| p.concurrency).max().unwrap_or(0);
        match &self.peak {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "  predicted peak: {:.1} VUs at {:.1}/s{}",
                    p.concurrency,
                    p.throughput,
                    if p.concurrency > largest as f64 {
                        format!(" (beyond the largest level measured, {largest}: extrapolated)")
                    } else {
                        String::new()
                    }
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  no predicted peak: κ ≈ 0, throughput levels off towards {}",
                    if self.sigma > 0.0 {
                        format!("{:.1}/s (λ/σ)", self.lambda / self.sigma)
                    } else {
                        "no limit (linear scaling)".to_string()
                    }
                );
            }
        }
        let _ = writeln!(out, "     VUs  measured/s  predicted/s  residual");
        for r in &self.points {
            let _ = writeln!(
                out,
                "  {:>6}  {:>10.1}  {:>11.1}  {:>+8.1} ({:+.1}%)",
                r.concurrency,
                r.measured,
                r.predicted,
                r.residual,
                r.residual / r.predicted * 100.0
            );
        }
        out
    }

    /// X(N) on the fitted curve.
    pub fn predict(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }
}

/// Solves a 3x3 linear system by Gaussian elimination with partial pivoting; None when singular.
fn solve3(mut m: [[f64; 3]; 3], mut v: [f64; 3]) -> Option<[f64; 3]> {
    let scale = m.iter().flatten().fold(0.0f64, |s, x| s.max(x.abs()));
    for col in 0..3 {
        let pivot = (col..3).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() <= scale * 1e-14 {
            return None;
        }
        m.swap(col, pivot);
        v.swap(col, pivot);
        let top = m[col];
        for row in col + 1..3 {
            let f = m[row][col] / top[col];
            for (x, t) in m[row].iter_mut().zip(top).skip(col) {
                *x -= f * t;
            }
            v[row] -= f * v[col];
        }
    }
    let mut x = [0.0; 3];
    for row in (0..3).rev() {
        let rest: f64 = (row + 1..3).map(|k| m[row][k] * x[k]).sum();
        x[row] = (v[row] - rest) / m[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(lambda: f64, sigma: f64, kappa: f64, levels: &[u64]) -> Vec<(u64, f64)> {
        levels
            .iter()
            .map(|&n| {
                let f = n as f64;
                (
                    n,
                    lambda * f / (1.0 + sigma * (f - 1.0) + kappa * f * (f - 1.0)),
                )
            })
            .collect()
    }

    #[test]
    fn recovers_the_parameters_of_an_exact_curve_and_its_peak() {
        let fit = UslFit::fit(&curve(100.0, 0.05, 0.001, &[1, 2, 4, 8, 16, 32, 64])).unwrap();
        assert!((fit.lambda - 100.0).abs() < 1e-6, "{fit:?}");
        assert!((fit.sigma - 0.05).abs() < 1e-9, "{fit:?}");
        assert!((fit.kappa - 0.001).abs() < 1e-9, "{fit:?}");
        assert!((fit.r_squared - 1.0).abs() < 1e-9);
        let peak = fit.peak.clone().unwrap();
        // sqrt(0.95 / 0.001) = 30.8
        assert!((peak.concurrency - 30.82).abs() < 0.01, "{peak:?}");
        assert!((peak.throughput - fit.predict(peak.concurrency)).abs() < 1e-9);
        assert!(fit.points.iter().all(|r| r.residual.abs() < 1e-6));
    }

    #[test]
    fn linear_or_contention_only_scaling_has_no_peak() {
        let fit = UslFit::fit(&curve(50.0, 0.1, 0.0, &[1, 2, 4, 8])).unwrap();
        assert!(fit.peak.is_none(), "{fit:?}");
        assert!((fit.sigma - 0.1).abs() < 1e-9);
    }

    #[test]
    fn too_few_levels_or_a_dead_level_are_refused_by_name() {
        let e = UslFit::fit(&[(1, 10.0), (2, 19.0), (2, 18.0)]).unwrap_err();
        assert!(
            e.contains("at least three concurrency levels, got 2"),
            "{e}"
        );
        let e = UslFit::fit(&[(1, 10.0), (2, 19.0), (4, 0.0)]).unwrap_err();
        assert!(e.contains("the step at 4 VUs had no throughput"), "{e}");
    }

    #[test]
    fn noisy_points_give_residuals_and_an_r_squared_below_one() {
        let mut points = curve(100.0, 0.02, 0.0005, &[1, 2, 4, 8, 16, 32]);
        points[3].1 *= 1.05;
        let fit = UslFit::fit(&points).unwrap();
        assert!(fit.r_squared < 1.0 && fit.r_squared > 0.95, "{fit:?}");
        assert!(fit.points[3].residual > 0.0, "{fit:?}");
    }
}
