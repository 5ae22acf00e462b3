//! Hutchinson's estimator of the Hessian diagonal, for optimizers that ask for it
//! (`adam_curvature`).
//!
//! diag(H) ≈ (1/S) Σ_s z_s ⊙ H z_s with Rademacher z_s (entries ±1, E[z zᵀ] = I), and burn having
//! first-order autodiff only, the Hessian-vector product by central differences of gradients:
//! H z ≈ (∇f(θ + h z) − ∇f(θ − h z)) / (2h). Each sample costs two gradient evaluations.
//! The probe vectors come from a generator seeded by (seed, step), so a resumed run draws the same
//! probes as an uninterrupted one.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Settings of the estimator: probe samples per step and the finite-difference step `h`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HutchinsonConfig {
    pub samples: usize,
    pub h: f32,
}

impl Default for HutchinsonConfig {
    fn default() -> Self {
        HutchinsonConfig { samples: 1, h: 1e-3 }
    }
}

impl HutchinsonConfig {
    /// Checks the settings; the error names the bad one and its value.
    pub fn validate(&self) -> Result<(), crate::NnError> {
        if self.samples == 0 {
            return Err(crate::NnError::setting("hutchinson.samples", self.samples, "must be at least 1"));
        }
        if !(self.h.is_finite() && self.h > 0.0) {
            return Err(crate::NnError::setting("hutchinson.h", self.h, "must be a finite number > 0"));
        }
        Ok(())
    }
}

/// Reusable buffers of the estimator (allocated at the first call, reused afterwards).
#[derive(Default)]
pub struct Hutchinson {
    cfg: HutchinsonConfig,
    seed: u64,
    z: Vec<Vec<f32>>,
    theta: Vec<Vec<f32>>,
    g_plus: Vec<Vec<f32>>,
    g_minus: Vec<Vec<f32>>,
}

impl Hutchinson {
    pub fn new(cfg: HutchinsonConfig, seed: u64) -> Self {
        Hutchinson { cfg, seed, ..Default::default() }
    }

    pub fn config(&self) -> HutchinsonConfig {
        self.cfg
    }

    /// Estimates the Hessian diagonal at `params` into `out` (same shapes as `params`).
    /// `grad(θ, g)` writes the gradient at θ into `g`. `step` selects the probe vectors.
    pub fn estimate<E>(
        &mut self,
        step: u64,
        params: &[Vec<f32>],
        mut grad: impl FnMut(&[Vec<f32>], &mut [Vec<f32>]) -> Result<(), E>,
        out: &mut [Vec<f32>],
    ) -> Result<(), E> {
        fit(&mut self.z, params);
        fit(&mut self.theta, params);
        fit(&mut self.g_plus, params);
        fit(&mut self.g_minus, params);
        for o in out.iter_mut() {
            o.iter_mut().for_each(|v| *v = 0.0);
        }
        let mut rng = StdRng::seed_from_u64(self.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let h = self.cfg.h;
        let scale = 1.0 / (2.0 * h * self.cfg.samples as f32);
        for _ in 0..self.cfg.samples {
            for z in self.z.iter_mut() {
                for v in z.iter_mut() {
                    *v = if rng.random::<bool>() { 1.0 } else { -1.0 };
                }
            }
            for sign in [1.0f32, -1.0] {
                for ((t, p), z) in self.theta.iter_mut().zip(params).zip(&self.z) {
                    for ((t, p), z) in t.iter_mut().zip(p).zip(z) {
                        *t = p + sign * h * z;
                    }
                }
                let g = if sign > 0.0 { &mut self.g_plus } else { &mut self.g_minus };
                grad(&self.theta, g)?;
            }
            for (((o, z), gp), gm) in out.iter_mut().zip(&self.z).zip(&self.g_plus).zip(&self.g_minus) {
                for (((o, z), gp), gm) in o.iter_mut().zip(z).zip(gp).zip(gm) {
                    *o += z * (gp - gm) * scale;
                }
            }
        }
        Ok(())
    }
}

fn fit(bufs: &mut Vec<Vec<f32>>, like: &[Vec<f32>]) {
    bufs.resize_with(like.len(), Vec::new);
    for (b, l) in bufs.iter_mut().zip(like) {
        b.resize(l.len(), 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// f(x) = ½ xᵀ A x with a dense symmetric A: gradient A x, Hessian A. The estimator's error
    /// comes from the off-diagonal terms only and shrinks like 1/√S.
    #[test]
    fn quadratic_diagonal_is_recovered() {
        let n = 6;
        let mut a = vec![0.0f32; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = if i == j { 1.0 + i as f32 } else { 0.1 * ((i + j) % 3) as f32 };
            }
        }
        let grad = |x: &[Vec<f32>], g: &mut [Vec<f32>]| -> Result<(), Infallible> {
            for i in 0..n {
                g[0][i] = (0..n).map(|j| a[i * n + j] * x[0][j]).sum();
            }
            Ok(())
        };
        let x = vec![vec![0.3f32, -1.0, 2.0, 0.0, 0.5, -0.7]];
        let mut out = vec![vec![0.0; n]];
        let mut est = Hutchinson::new(HutchinsonConfig { samples: 4000, h: 1e-2 }, 7);
        est.estimate(0, &x, grad, &mut out).unwrap();
        for (i, v) in out[0].iter().enumerate() {
            let exact = 1.0 + i as f32;
            assert!((v - exact).abs() < 0.03, "element {i}: {v} vs {exact}");
        }
        // A diagonal A is recovered exactly with a single sample (z_i² = 1).
        let diag = |x: &[Vec<f32>], g: &mut [Vec<f32>]| -> Result<(), Infallible> {
            for i in 0..n {
                g[0][i] = (1.0 + i as f32) * x[0][i];
            }
            Ok(())
        };
        let mut est = Hutchinson::new(HutchinsonConfig { samples: 1, h: 1e-2 }, 1);
        est.estimate(3, &x, diag, &mut out).unwrap();
        for (i, v) in out[0].iter().enumerate() {
            assert!((v - (1.0 + i as f32)).abs() < 1e-3, "element {i}: {v}");
        }
    }

    /// Rosenbrock (from optlab-functions, exact Hessian) at several points.
    #[test]
    fn rosenbrock_diagonal_matches_exact_hessian() {
        let f = optlab_functions::by_name("rosenbrock", Some(2)).unwrap();
        for (k, p) in [[-1.2f64, 1.0], [0.5, 0.5], [1.0, 1.0]].iter().enumerate() {
            let grad = |x: &[Vec<f32>], g: &mut [Vec<f32>]| -> Result<(), Infallible> {
                let xd: Vec<f64> = x[0].iter().map(|&v| v as f64).collect();
                let mut gd = [0.0f64; 2];
                f.gradient(&xd, &mut gd);
                for i in 0..2 {
                    g[0][i] = gd[i] as f32;
                }
                Ok(())
            };
            let mut hess = [0.0f64; 4];
            f.hessian(&p[..], &mut hess);
            let x = vec![p.iter().map(|&v| v as f32).collect::<Vec<_>>()];
            let mut out = vec![vec![0.0; 2]];
            let mut est = Hutchinson::new(HutchinsonConfig { samples: 3000, h: 1e-3 }, 11);
            est.estimate(k as u64, &x, grad, &mut out).unwrap();
            for i in 0..2 {
                let exact = hess[i * 2 + i] as f32;
                let tol = 0.05 * exact.abs().max(10.0);
                assert!((out[0][i] - exact).abs() < tol, "point {p:?} element {i}: {} vs {exact}", out[0][i]);
            }
        }
    }

    #[test]
    fn same_step_same_probes_other_step_other_probes() {
        let grad = |x: &[Vec<f32>], g: &mut [Vec<f32>]| -> Result<(), Infallible> {
            g[0][0] = x[0][0] + 2.0 * x[0][1];
            g[0][1] = 2.0 * x[0][0] + 3.0 * x[0][1];
            Ok(())
        };
        let x = vec![vec![1.0f32, 1.0]];
        let run = |step| {
            let mut out = vec![vec![0.0; 2]];
            Hutchinson::new(HutchinsonConfig { samples: 1, h: 0.1 }, 5).estimate(step, &x, grad, &mut out).unwrap();
            out
        };
        assert_eq!(run(4), run(4));
        assert!((0..20).any(|s| run(s) != run(4)));
    }

    #[test]
    fn bad_settings_are_named() {
        let e = HutchinsonConfig { samples: 0, h: 1e-3 }.validate().unwrap_err().to_string();
        assert!(e.contains("hutchinson.samples"), "{e}");
        let e = HutchinsonConfig { samples: 1, h: f32::NAN }.validate().unwrap_err().to_string();
        assert!(e.contains("hutchinson.h") && e.contains("NaN"), "{e}");
    }
}
