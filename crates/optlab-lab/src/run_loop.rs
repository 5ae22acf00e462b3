//! The lab's parts of the one run loop ([`optlab_optim::executor`]): a test function as an
//! executor [`Problem`], and the trajectory collector that stores a run's iterates.

use optlab_functions::TestFunction;
use optlab_optim::executor::{Control, Iterate, Observer, Problem};
use optlab_optim::Float;

/// A test function as a problem in element type `T`: the point is converted to f64, f and ∇f
/// (and the Hessian diagonal) are computed in f64 and the derivatives converted back to `T`
/// (for f64, the conversions are exact copies).
pub struct FunctionProblem<'f, T> {
    f: &'f dyn TestFunction,
    xd: Vec<f64>,
    gd: Vec<f64>,
    hd: Vec<f64>,
    _t: std::marker::PhantomData<T>,
}

impl<'f, T: Float> FunctionProblem<'f, T> {
    pub fn new(f: &'f dyn TestFunction) -> Self {
        let n = f.dim();
        FunctionProblem { f, xd: vec![0.0; n], gd: vec![0.0; n], hd: Vec::new(), _t: std::marker::PhantomData }
    }
}

impl<T: Float> Problem<T> for FunctionProblem<'_, T> {
    fn dim(&self) -> usize {
        self.f.dim()
    }
    fn eval(&mut self, x: &[T], g: &mut [T]) -> f64 {
        self.xd.iter_mut().zip(x).for_each(|(d, s)| *d = s.to_f64());
        let v = self.f.value_and_gradient(&self.xd, &mut self.gd);
        g.iter_mut().zip(&self.gd).for_each(|(d, s)| *d = T::of(*s));
        v
    }
    fn value(&mut self, x: &[T]) -> f64 {
        self.xd.iter_mut().zip(x).for_each(|(d, s)| *d = s.to_f64());
        self.f.value(&self.xd)
    }
    fn has_hessian_diag(&self) -> bool {
        true
    }
    fn hessian_diag(&mut self, x: &[T], h: &mut [T]) -> bool {
        self.xd.iter_mut().zip(x).for_each(|(d, s)| *d = s.to_f64());
        self.hd.resize(self.xd.len(), 0.0);
        self.f.hessian_diag(&self.xd, &mut self.hd);
        h.iter_mut().zip(&self.hd).for_each(|(d, s)| *d = T::of(*s));
        true
    }
}

/// Collects every iterate of a run as rows `f, θ_0, ..., θ_{d−1}` appended to a buffer (the
/// start and the last included), for storing; thin it afterwards with [`crate::task::thin`].
pub struct Trajectory<'a> {
    pub rows: &'a mut Vec<f64>,
}

impl<'a> Trajectory<'a> {
    pub fn new(rows: &'a mut Vec<f64>) -> Self {
        Trajectory { rows }
    }
}

impl<T: Float, E> Observer<T, E> for Trajectory<'_> {
    fn observe(&mut self, it: &Iterate<'_, T>) -> Result<Control, E> {
        // The evaluation weights (the iterate itself except for Schedule-Free).
        self.rows.push(it.eval_f);
        self.rows.extend(it.eval_x.iter().map(|v| v.to_f64()));
        Ok(Control::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use optlab_optim::executor::{Executor, MaxSteps};
    use optlab_optim::{registry, Layout, OptimConfig, OptimError};

    #[test]
    fn a_test_function_runs_in_f32_and_f64_and_the_trajectory_has_every_iterate() {
        let f = optlab_functions::by_name("rosenbrock", Some(3)).unwrap();
        let cfg = OptimConfig::new("adam_curvature").set("lr", 0.01);
        // f64: identical to stepping by hand with the function's own derivatives.
        let mut o = registry::build::<f64>(Layout::single("x", 3), &cfg).unwrap();
        let mut rows = Vec::new();
        let mut tr = Trajectory::new(&mut rows);
        let r = Executor::<f64, _, OptimError>::new(FunctionProblem::new(&*f), &mut *o, vec![-1.0, 0.5, 2.0])
            .unwrap()
            .stop_when(MaxSteps(4))
            .observe(&mut tr)
            .run()
            .unwrap();
        let mut o2 = registry::build::<f64>(Layout::single("x", 3), &cfg).unwrap();
        let mut x = vec![-1.0, 0.5, 2.0];
        let (mut g, mut h) = (vec![0.0; 3], vec![0.0; 3]);
        let mut want = Vec::new();
        for s in 0..=4 {
            want.push(f.value_and_gradient(&x, &mut g));
            want.extend_from_slice(&x);
            if s < 4 {
                f.hessian_diag(&x, &mut h);
                o2.step(&mut [&mut x[..]], &[&g[..]], Some(&[&h[..]][..])).unwrap();
            }
        }
        assert_eq!(rows, want);
        assert_eq!(r.x, x);
        // f32: the same function, the point rounded to f32.
        let mut o = registry::build::<f32>(Layout::single("x", 3), &cfg).unwrap();
        let r = Executor::<f32, _, OptimError>::new(FunctionProblem::new(&*f), &mut *o, vec![-1.0, 0.5, 2.0])
            .unwrap()
            .stop_when(MaxSteps(4))
            .run()
            .unwrap();
        assert!(r.x.iter().zip(&x).all(|(a, b)| (*a as f64 - b).abs() < 1e-4), "{:?} vs {x:?}", r.x);
    }
}
