//! `optlab trace`: one optimizer on one test function, as CSV rows `step,evals,loss,x0,x1,...`
//! (`evals`: evaluations of f and its gradient so far, this row's included: one per step for a
//! first-order optimizer, more for lbfgs, whose line search evaluates).

use crate::error::{Error, Result};
use optlab_functions::{by_name, TestFunction};
use optlab_lab::run_loop::FunctionProblem;
use optlab_optim::executor::{Control, Every, Executor, Iterate, MaxSteps, NonFiniteLoss, Termination};
use optlab_optim::registry::{self, RegistryFloat};
use optlab_optim::{Layout, OptimConfig};
use std::io::Write;

/// What to trace.
#[derive(Clone, Debug)]
pub struct TraceSpec {
    pub optimizer: OptimConfig,
    pub function: String,
    pub dim: Option<usize>,
    pub start: Option<Vec<f64>>,
    pub steps: u64,
    pub every: u64,
}

/// One CSV row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub step: u64,
    /// Evaluations of f and ∇f so far (the executor's count, this iterate's included).
    pub evals: u64,
    pub loss: f64,
    pub x: Vec<f64>,
}

/// Element type of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
}

impl std::str::FromStr for Dtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Dtype::F32),
            "f64" => Ok(Dtype::F64),
            _ => Err(Error::Usage(format!("--dtype `{s}`: expected f32 or f64"))),
        }
    }
}

/// Resolves the function and start point, checking the start's dimension.
pub fn resolve(spec: &TraceSpec) -> Result<(Box<dyn TestFunction>, Vec<f64>)> {
    // The range every function accepts (1..=MAX_DIM), checked before anything is allocated.
    if let Some(d) = spec.dim {
        optlab_functions::check_dim(d).map_err(|e| Error::Usage(format!("--dim {d}: {e}")))?;
    }
    if let Some(s) = &spec.start {
        optlab_functions::check_dim(s.len())
            .map_err(|e| Error::Usage(format!("--start has {} coordinates: {e}", s.len())))?;
    }
    let dim =
        spec.dim.or(spec.start.as_ref().map(Vec::len)).filter(|_| optlab_functions::is_variable_dim(&spec.function));
    let f = by_name(&spec.function, dim.or(spec.dim))?;
    let start = match &spec.start {
        Some(s) => {
            if s.len() != f.dim() {
                return Err(Error::Usage(format!(
                    "--start has {} coordinates, but {} is {}-dimensional",
                    s.len(),
                    f.name(),
                    f.dim()
                )));
            }
            if let Some(bad) = s.iter().find(|v| !v.is_finite()) {
                return Err(Error::Usage(format!("--start coordinate `{bad}` is not a finite number")));
            }
            s.clone()
        }
        None => f.default_starts().into_iter().next().expect("every function has a default start"),
    };
    Ok((f, start))
}

/// Runs a trace in element type `T` on the executor ([`optlab_optim::executor`]). After all
/// input is validated it calls `begin` with the dimension, then `emit` for each kept row (step 0,
/// every `every`-th step, and the last: the [`Every`] observer). A non-finite loss, or a gradient
/// the optimizer refuses as non-finite, ends the trace with [`Error::Diverged`].
pub fn run<T: RegistryFloat>(
    spec: &TraceSpec,
    begin: impl FnOnce(usize) -> Result<()>,
    mut emit: impl FnMut(&Row) -> Result<()>,
) -> Result<()> {
    if spec.every == 0 {
        return Err(Error::Usage("--every must be at least 1".into()));
    }
    let (f, start) = resolve(spec)?;
    let n = f.dim();
    let mut opt = registry::build::<T>(Layout::single("x", n), &spec.optimizer)?;
    begin(n)?;
    let mut row = Row { step: 0, evals: 0, loss: 0.0, x: vec![0.0; n] };
    let mut rows = Every::new(spec.every, |it: &Iterate<'_, T>| -> Result<Control> {
        row.step = it.step;
        row.evals = it.evals;
        // The evaluation weights (the iterate itself except for Schedule-Free).
        row.loss = it.eval_f;
        row.x.iter_mut().zip(it.eval_x).for_each(|(d, s)| *d = s.to_f64());
        emit(&row)?;
        Ok(Control::Continue)
    });
    let x0: Vec<T> = start.iter().map(|&v| T::of(v)).collect();
    let report = Executor::<T, _, Error>::new(FunctionProblem::new(&*f), &mut *opt, x0)?
        .stop_when(MaxSteps(spec.steps))
        .stop_when(NonFiniteLoss)
        .observe(&mut rows)
        .run()?;
    match report.termination {
        Termination::MaxSteps { .. } => Ok(()),
        Termination::Diverged { step, what } => Err(Error::Diverged { step, what }),
        Termination::NonFiniteInput { step, error } => Err(Error::Diverged { step, what: error }),
        other => Err(Error::Usage(format!("trace ended by a rule it does not set: {other:?}"))),
    }
}

/// Writes the CSV header `step,evals,loss,x0,...`.
pub fn write_header(out: &mut dyn Write, dim: usize) -> std::io::Result<()> {
    let cols: Vec<String> = (0..dim).map(|i| format!("x{i}")).collect();
    writeln!(out, "step,evals,loss,{}", cols.join(","))
}

/// Writes one CSV row with shortest round-trip formatting of every number.
pub fn write_row(out: &mut dyn Write, r: &Row) -> std::io::Result<()> {
    write!(out, "{},{},{:?}", r.step, r.evals, r.loss)?;
    for v in &r.x {
        write!(out, ",{v:?}")?;
    }
    writeln!(out)
}

/// Runs a trace and writes it as CSV.
pub fn run_csv(spec: &TraceSpec, dtype: Dtype, out: &mut dyn Write) -> Result<()> {
    let io = |e| Error::Io { path: "<stdout>".into(), source: e };
    let out = std::cell::RefCell::new(out);
    let begin = |n: usize| write_header(*out.borrow_mut(), n).map_err(io);
    let emit = |r: &Row| write_row(*out.borrow_mut(), r).map_err(io);
    match dtype {
        Dtype::F64 => run::<f64>(spec, begin, emit),
        Dtype::F32 => run::<f32>(spec, begin, emit),
    }
}
