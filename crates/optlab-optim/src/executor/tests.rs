use super::*;
use crate::{registry, Layout, NonFinite, OptimConfig};

/// f(x) = sum c_i x_i^2 / 2 with c_i = 1 + i; counts its own calls; Hessian diagonal c_i when
/// `with_h`.
struct Quad {
    n: usize,
    with_h: bool,
    evals: u64,
    hess: u64,
    /// Gradient replaced by NaN from this evaluation on (counted from 0).
    nan_from: Option<u64>,
}

impl Quad {
    fn new(n: usize) -> Self {
        Quad { n, with_h: false, evals: 0, hess: 0, nan_from: None }
    }
    fn c(i: usize) -> f64 {
        1.0 + i as f64
    }
}

impl Problem<f64> for Quad {
    fn dim(&self) -> usize {
        self.n
    }
    fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
        let bad = self.nan_from.is_some_and(|k| self.evals >= k);
        self.evals += 1;
        let mut f = 0.0;
        for i in 0..self.n {
            g[i] = if bad { f64::NAN } else { Self::c(i) * x[i] };
            f += 0.5 * Self::c(i) * x[i] * x[i];
        }
        f
    }
    fn has_hessian_diag(&self) -> bool {
        self.with_h
    }
    fn hessian_diag(&mut self, _x: &[f64], h: &mut [f64]) -> bool {
        if !self.with_h {
            return false;
        }
        self.hess += 1;
        for (i, v) in h.iter_mut().enumerate() {
            *v = Self::c(i);
        }
        true
    }
}

fn opt(name: &str, n: usize) -> Box<dyn Optimizer<f64>> {
    registry::build::<f64>(Layout::single("x", n), &OptimConfig::new(name).set("lr", 0.1)).unwrap()
}

fn start(n: usize) -> Vec<f64> {
    (0..n).map(|i| 1.0 - 0.3 * i as f64).collect()
}

/// Records every iterate it sees (step, f, x) and the finish call.
#[derive(Default)]
struct Log {
    seen: Vec<(u64, f64, Vec<f64>, bool)>,
    finished: Vec<(u64, Termination)>,
    after: Vec<(u64, bool)>,
    stop_at: Option<u64>,
}

impl Observer<f64> for Log {
    fn observe(&mut self, it: &Iterate<'_, f64>) -> Result<Control> {
        self.seen.push((it.step, it.f, it.x.to_vec(), it.terminating.is_some()));
        Ok(match self.stop_at {
            Some(s) if s == it.step => Control::Stop(format!("asked at {s}")),
            _ => Control::Continue,
        })
    }
    fn finish(&mut self, last: &Iterate<'_, f64>, why: &Termination) -> Result<()> {
        assert_eq!(last.terminating, Some(why));
        self.finished.push((last.step, why.clone()));
        Ok(())
    }
    fn after_step(&mut self, step: u64, _o: &StepOutcome, elapsed: Option<Duration>) -> Result<()> {
        self.after.push((step, elapsed.is_some()));
        Ok(())
    }
}

#[test]
fn rules_are_asked_in_the_order_they_were_added() {
    // At step 0 both fire: the first added wins.
    let mut o = opt("sgd", 2);
    let r = Executor::<f64, _>::new(Quad::new(2), &mut *o, start(2))
        .unwrap()
        .stop_when(MaxSteps(0))
        .stop_when(Target { value: 0.5, tol: 1.0 })
        .run()
        .unwrap();
    assert_eq!(r.termination, Termination::MaxSteps { steps: 0 });
    let mut o = opt("sgd", 2);
    let r = Executor::<f64, _>::new(Quad::new(2), &mut *o, start(2))
        .unwrap()
        .stop_when(Target { value: 0.5, tol: 1.0 })
        .stop_when(MaxSteps(0))
        .run()
        .unwrap();
    assert!(matches!(r.termination, Termination::TargetReached { target, .. } if target == 0.5), "{r:?}");
    assert_eq!((r.steps, r.evals), (0, 1));
    // A rule later in the order is not asked once an earlier one fired.
    let mut asked = 0;
    let mut o = opt("sgd", 2);
    let r = Executor::<f64, _>::new(Quad::new(2), &mut *o, start(2))
        .unwrap()
        .stop_when(MaxSteps(3))
        .stop_when(|_: &Iterate<'_, f64>| {
            asked += 1;
            None
        })
        .run()
        .unwrap();
    assert_eq!(r.termination, Termination::MaxSteps { steps: 3 });
    assert_eq!(asked, 3, "asked at steps 0, 1, 2 only");
}

#[test]
fn observers_see_every_iterate_the_last_marked_and_finish_once() {
    let mut o = opt("adam", 3);
    let mut log = Log::default();
    let r = Executor::<f64, _>::new(Quad::new(3), &mut *o, start(3))
        .unwrap()
        .stop_when(MaxSteps(5))
        .observe(&mut log)
        .run()
        .unwrap();
    assert_eq!(log.seen.iter().map(|s| s.0).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(log.seen.iter().map(|s| s.3).collect::<Vec<_>>(), vec![false, false, false, false, false, true]);
    assert_eq!(log.seen[0].2, start(3));
    assert_eq!(log.seen[5].2, r.x);
    assert_eq!(log.seen[5].1, r.f);
    assert_eq!(log.finished, vec![(5, Termination::MaxSteps { steps: 5 })]);
    assert_eq!(log.after, (1..=5).map(|s| (s, false)).collect::<Vec<_>>(), "not timed unless asked");
}

#[test]
fn an_observer_can_stop_the_run_and_the_others_still_see_that_iterate() {
    let mut o = opt("adam", 2);
    let (mut a, mut b) = (Log { stop_at: Some(2), ..Log::default() }, Log::default());
    let r = Executor::<f64, _>::new(Quad::new(2), &mut *o, start(2))
        .unwrap()
        .stop_when(MaxSteps(10))
        .observe(&mut a)
        .observe(&mut b)
        .run()
        .unwrap();
    assert_eq!(r.termination, Termination::Requested { reason: "asked at 2".into() });
    assert_eq!(r.steps, 2, "no step after the request");
    assert_eq!(b.seen.len(), 3);
    assert!(!b.seen[2].3, "the request comes after the rules: not yet marked terminating when observed");
    assert_eq!(b.finished, vec![(2, Termination::Requested { reason: "asked at 2".into() })]);
}

#[test]
fn every_passes_step_zero_each_kth_and_the_last_at_the_budget() {
    let run = |k: u64, steps: u64, stop: Option<u64>, any_final: bool| {
        let mut o = opt("sgd", 1);
        let inner = Log { stop_at: stop, ..Log::default() };
        let mut every = if any_final { Every::new(k, inner).with_final() } else { Every::new(k, inner) };
        let mut stopper = Log { stop_at: stop, ..Log::default() };
        Executor::<f64, _>::new(Quad::new(1), &mut *o, vec![1.0])
            .unwrap()
            .stop_when(MaxSteps(steps))
            .observe(&mut stopper)
            .observe(&mut every)
            .run()
            .unwrap();
        every.inner.seen.iter().map(|s| s.0).collect::<Vec<_>>()
    };
    assert_eq!(run(3, 10, None, false), vec![0, 3, 6, 9, 10]);
    assert_eq!(run(5, 10, None, false), vec![0, 5, 10], "the last once");
    assert_eq!(run(1, 3, None, false), vec![0, 1, 2, 3]);
    // Stopped early (at 7): the last is passed on only with `with_final`.
    assert_eq!(run(3, 10, Some(7), false), vec![0, 3, 6]);
    assert_eq!(run(3, 10, Some(7), true), vec![0, 3, 6, 7]);
    assert_eq!(run(3, 10, Some(6), true), vec![0, 3, 6], "not twice");
}

#[test]
fn evaluations_are_counted_apart_from_steps() {
    let mut o = opt("adam", 4);
    let mut p = Quad::new(4);
    p.with_h = true; // available, but adam does not need it: never evaluated
    let mut counts = Vec::new();
    let mut obs = |it: &Iterate<'_, f64>| -> Result<Control> {
        counts.push((it.step, it.evals, it.hessian_evals));
        Ok(Control::Continue)
    };
    let r = Executor::<f64, _>::new(&mut p, &mut *o, start(4))
        .unwrap()
        .stop_when(MaxSteps(7))
        .observe(&mut obs)
        .run()
        .unwrap();
    assert_eq!((r.steps, r.evals, r.hessian_evals), (7, 8, 0));
    assert_eq!((p.evals, p.hess), (8, 0), "the problem saw exactly the counted calls");
    assert_eq!(counts, (0..=7).map(|s| (s, s + 1, 0)).collect::<Vec<_>>());
    // The wrapper counts whoever calls it (a line search would call it inside a step).
    let mut c = Counted::new(Quad::new(2));
    let mut g = [0.0; 2];
    for _ in 0..3 {
        c.eval(&[1.0, 2.0], &mut g);
    }
    assert_eq!((c.evals(), c.hessian_evals(), c.inner().evals), (3, 0, 3));
}

#[test]
fn an_optimizer_that_needs_the_hessian_is_refused_a_problem_without_one() {
    let mut o = opt("adam_curvature", 2);
    let mut p = Quad::new(2);
    let e = Executor::<f64, _>::new(&mut p, &mut *o, start(2)).err().expect("refused").to_string();
    assert!(e.contains("adam_curvature") && e.contains("Hessian diagonal"), "{e}");
    assert_eq!(p.evals, 0, "refused before anything was evaluated");
}

#[test]
fn the_hessian_is_fed_to_an_optimizer_that_needs_it() {
    let mut o = opt("adam_curvature", 3);
    let mut p = Quad::new(3);
    p.with_h = true;
    let r = Executor::<f64, _>::new(&mut p, &mut *o, start(3)).unwrap().stop_when(MaxSteps(6)).run().unwrap();
    assert_eq!((r.evals, r.hessian_evals, p.hess), (7, 7, 7));
    // The same steps by hand, with the Hessian diagonal c_i.
    let mut o2 = opt("adam_curvature", 3);
    let mut x = start(3);
    let h: Vec<f64> = (0..3).map(Quad::c).collect();
    for _ in 0..6 {
        let g: Vec<f64> = (0..3).map(|i| Quad::c(i) * x[i]).collect();
        o2.step(&mut [&mut x[..]], &[&g[..]], Some(&[&h[..]][..])).unwrap();
    }
    assert_eq!(r.x, x, "bit for bit");
}

#[test]
fn several_tensors_get_their_parts_of_the_flat_point() {
    let layout = Layout::new().with("a", &[2]).unwrap().with("b", &[3]).unwrap();
    let cfg = OptimConfig::new("adam").set("lr", 0.05);
    let mut o = registry::build::<f64>(layout.clone(), &cfg).unwrap();
    let r = Executor::<f64, _>::new(Quad::new(5), &mut *o, start(5)).unwrap().stop_when(MaxSteps(9)).run().unwrap();
    let mut o2 = registry::build::<f64>(layout, &cfg).unwrap();
    let x = start(5);
    let (mut a, mut b) = (x[..2].to_vec(), x[2..].to_vec());
    for _ in 0..9 {
        let ga: Vec<f64> = (0..2).map(|i| Quad::c(i) * a[i]).collect();
        let gb: Vec<f64> = (0..3).map(|i| Quad::c(i + 2) * b[i]).collect();
        o2.step(&mut [&mut a[..], &mut b[..]], &[&ga[..], &gb[..]], None).unwrap();
    }
    assert_eq!(r.x, [a, b].concat());
    // Sizes that disagree are refused, naming both.
    let layout = Layout::new().with("a", &[2]).unwrap();
    let mut o3 = registry::build::<f64>(layout, &cfg).unwrap();
    let e = Executor::<f64, _>::new(Quad::new(5), &mut *o3, start(5)).err().expect("refused").to_string();
    assert!(e.contains("5 coordinates") && e.contains("(a) 2"), "{e}");
}

#[test]
fn a_refused_non_finite_gradient_ends_the_run_and_skip_goes_on() {
    let mut o = opt("sgd", 2);
    let mut p = Quad::new(2);
    p.nan_from = Some(3);
    let mut log = Log::default();
    let r = Executor::<f64, _>::new(&mut p, &mut *o, start(2))
        .unwrap()
        .stop_when(MaxSteps(10))
        .observe(&mut log)
        .run()
        .unwrap();
    assert!(
        matches!(&r.termination, Termination::NonFiniteInput { step: 4, error } if error.contains("non-finite gradient")),
        "{r:?}"
    );
    assert!(r.termination.is_divergence());
    assert_eq!(r.steps, 3);
    assert_eq!(log.finished.len(), 1);
    assert_eq!(log.finished[0].0, 3);
    let cfg = OptimConfig::new("sgd").set("lr", 0.1).non_finite(NonFinite::Skip);
    let mut o = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
    let mut p = Quad::new(2);
    p.nan_from = Some(3);
    let r = Executor::<f64, _>::new(&mut p, &mut *o, start(2)).unwrap().stop_when(MaxSteps(10)).run().unwrap();
    assert_eq!((r.termination, r.steps, r.skipped), (Termination::MaxSteps { steps: 10 }, 10, 7));
}

#[test]
fn loss_stalled_and_time_limit_rules() {
    // A loss that is not finite.
    struct Inf;
    impl Problem<f64> for Inf {
        fn dim(&self) -> usize {
            1
        }
        fn eval(&mut self, _x: &[f64], g: &mut [f64]) -> f64 {
            g[0] = 0.0;
            f64::INFINITY
        }
    }
    let mut o = opt("sgd", 1);
    let r = Executor::<f64, _>::new(Inf, &mut *o, vec![0.0]).unwrap().stop_when(NonFiniteLoss).run().unwrap();
    assert_eq!(r.termination, Termination::Diverged { step: 0, what: "loss is inf".into() });
    // A zero gradient: θ never changes, so `patience` calm steps stall the run.
    for patience in [0, 1, 4] {
        let mut o = opt("sgd", 1);
        let r = Executor::<f64, _>::new(Inf, &mut *o, vec![0.0])
            .unwrap()
            .stop_when(Stalled::new(1e-12, patience))
            .stop_when(MaxSteps(100))
            .run()
            .unwrap();
        assert_eq!((r.termination, r.steps), (Termination::Stalled { steps: patience }, patience as u64));
    }
    // Moving steps are not calm: sgd with lr 0.1 on x^2/2 moves by 10% of x each step.
    let mut o = opt("sgd", 1);
    let r = Executor::<f64, _>::new(Quad::new(1), &mut *o, vec![1.0])
        .unwrap()
        .stop_when(Stalled::new(1e-3, 2))
        .stop_when(MaxSteps(20))
        .run()
        .unwrap();
    assert_eq!(r.termination, Termination::MaxSteps { steps: 20 });
    // A zero time budget fires at the first step the clock is read (step 0, then every 4th).
    let mut o = opt("sgd", 1);
    let tl = TimeLimit { limit: Duration::ZERO, every: 4 };
    let r = Executor::<f64, _>::new(Quad::new(1), &mut *o, vec![1.0]).unwrap().stop_when(tl).run().unwrap();
    assert!(matches!(r.termination, Termination::TimeLimit { .. }) && r.steps == 0, "{r:?}");
}

#[test]
fn steps_are_timed_only_when_asked() {
    let mut o = opt("adam", 2);
    let mut log = Log::default();
    Executor::<f64, _>::new(Quad::new(2), &mut *o, start(2))
        .unwrap()
        .stop_when(MaxSteps(3))
        .time_steps(true)
        .observe(&mut log)
        .run()
        .unwrap();
    assert_eq!(log.after, vec![(1, true), (2, true), (3, true)]);
}

#[test]
fn observer_errors_end_the_run_with_that_error() {
    let mut o = opt("adam", 2);
    let mut failing = |it: &Iterate<'_, f64>| -> Result<Control> {
        if it.step == 2 {
            Err(OptimError::Malformed("disk full".into()))
        } else {
            Ok(Control::Continue)
        }
    };
    let e = Executor::<f64, _>::new(Quad::new(2), &mut *o, start(2))
        .unwrap()
        .stop_when(MaxSteps(5))
        .observe(&mut failing)
        .run()
        .unwrap_err();
    assert_eq!(e.to_string(), "disk full");
    assert_eq!(o.steps_taken(), 2);
}
