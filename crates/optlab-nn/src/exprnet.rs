//! Expression networks: small networks written node by node as expressions, in the style of the
//! computational-graph primer (`xw = ap*xp + aq*xq + ar*xr + as*xs`), trained on a CSV table
//! with any optlab optimizer. See `docs/formulas.md`.
//!
//! A description is a text of lines `NAME = EXPR` (`#` starts a comment). In an expression,
//!
//! - a name that is a feature column of the data is an input;
//! - `y` is the sample's label;
//! - a name defined by an earlier line is that node's value;
//! - every other name is a learnable parameter (in order of first appearance).
//!
//! The last node defined is the network's output. A line `loss = EXPR` (in terms of `y`, the
//! nodes and the parameters) defines the per-sample loss; without one the loss is the squared
//! error `(y - OUT)^2` of the primer. The loss of a step is the mean over its batch; gradients
//! are exact, by reverse-mode automatic differentiation of the expression graph
//! ([`optlab_functions::expr`]), and the Hessian diagonal for the optimizers that use one by
//! forward-mode second-order jets.
//!
//! Example, the primer's multi-neuron classifier on four features `xp, xq, xr, xs`:
//!
//! ```text
//! xw = sigmoid(ap*xp + aq*xq + ar*xr + as*xs + ab)
//! xz = sigmoid(bp*xp + bq*xq + br*xr + bs*xs + bb)
//! xo = sigmoid(cw*xw + cz*xz + cb)
//! ```

pub use optlab_data::CsvTable;
use optlab_functions::expr::{is_reserved, parse_expr, Ast, ExprError, Tape};
use optlab_optim::{registry, Layout, OptimConfig};

use crate::error::NnError;

/// The label's name in expressions.
pub const LABEL_NAME: &str = "y";

/// A compiled expression network.
#[derive(Clone, Debug)]
pub struct ExprNet {
    /// Feature columns the network reads, as indices into the data's columns.
    pub inputs: Vec<usize>,
    /// The parameters' names, in order of first appearance.
    pub params: Vec<String>,
    /// The nodes' names, in order of definition (the last is the output).
    pub nodes: Vec<String>,
    /// Whether a `loss = ...` line defines the loss.
    pub custom_loss: bool,
    /// Variables: the inputs, then the parameters, then the label.
    tape: Tape,
    output: u32,
    loss: u32,
}

fn line_err(line: usize, e: ExprError, offset: usize) -> NnError {
    NnError::ExprNet { line, column: e.column + offset, what: e.message }
}

impl ExprNet {
    /// Compiles a description for data with feature columns `columns`. Errors name the line and
    /// column.
    pub fn parse(text: &str, columns: &[String]) -> Result<ExprNet, NnError> {
        // First pass: the definitions (names and expressions), with each expression's column.
        let mut defs: Vec<(usize, String, Ast, usize)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let ln = i + 1;
            let line = raw.split('#').next().unwrap_or("");
            if line.trim().is_empty() {
                continue;
            }
            let Some(eq) = line.find('=') else {
                let col = line.len() - line.trim_start().len() + 1;
                return Err(line_err(ln, ExprError::new(col, "expected a definition `NAME = EXPRESSION`"), 0));
            };
            let name = line[..eq].trim();
            let ncol = line.len() - line.trim_start().len() + 1;
            let valid = !name.is_empty()
                && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(line_err(ln, ExprError::new(ncol, format!("`{name}` is not a node name")), 0));
            }
            if is_reserved(name) || name == LABEL_NAME {
                return Err(line_err(ln, ExprError::new(ncol, format!("`{name}` is reserved")), 0));
            }
            if columns.iter().any(|c| c == name) {
                return Err(line_err(ln, ExprError::new(ncol, format!("`{name}` is a column of the data")), 0));
            }
            if defs.iter().any(|d| d.1 == name) {
                return Err(line_err(ln, ExprError::new(ncol, format!("node `{name}` is defined twice")), 0));
            }
            let body = &line[eq + 1..];
            let offset = line[..eq + 1].chars().count();
            let ast = parse_expr(body).map_err(|e| line_err(ln, e, offset))?;
            defs.push((ln, name.to_string(), ast, offset));
        }
        let custom_loss = defs.last().is_some_and(|d| d.1 == "loss");
        if let Some(d) = defs.iter().find(|d| d.1 == "loss").filter(|_| !custom_loss) {
            return Err(line_err(d.0, ExprError::new(1, "the `loss` line must be the last"), 0));
        }
        let n_nodes = defs.len() - custom_loss as usize;
        if n_nodes == 0 {
            return Err(NnError::ExprNet { line: 1, column: 1, what: "the network defines no node".into() });
        }
        // Second pass: the free names, in order of first appearance.
        let node_names: Vec<String> = defs.iter().map(|d| d.1.clone()).collect();
        let mut inputs: Vec<usize> = Vec::new();
        let mut params: Vec<String> = Vec::new();
        for (k, d) in defs.iter().enumerate() {
            let mut names = Vec::new();
            collect_names(&d.2, &mut names);
            for (s, col) in names {
                if let Some(j) = node_names.iter().position(|n| *n == s) {
                    if j >= k {
                        let what = if j == k { "itself" } else { "a node defined later" };
                        return Err(line_err(
                            d.0,
                            ExprError::new(col, format!("`{s}` is {what}: a node can use only earlier nodes")),
                            d.3,
                        ));
                    }
                } else if s == LABEL_NAME {
                    if k < n_nodes {
                        return Err(line_err(
                            d.0,
                            ExprError::new(col, "the label `y` can only be used in the `loss` line"),
                            d.3,
                        ));
                    }
                } else if let Some(c) = columns.iter().position(|c| *c == s) {
                    if !inputs.contains(&c) {
                        inputs.push(c);
                    }
                } else if !params.contains(&s) {
                    params.push(s);
                }
            }
        }
        if params.is_empty() {
            return Err(NnError::ExprNet { line: 1, column: 1, what: "the network has no learnable parameter".into() });
        }
        let (ni, np) = (inputs.len(), params.len());
        let mut tape = Tape::new(ni + np + 1);
        let vars: Vec<u32> = (0..ni + np + 1).map(|i| tape.var(i)).collect();
        let mut node_idx: Vec<u32> = Vec::new();
        for d in &defs {
            let idx = tape
                .compile(&d.2, &mut |s, _| {
                    if let Some(j) = node_names.iter().position(|n| n == s) {
                        return Ok(node_idx[j]);
                    }
                    if s == LABEL_NAME {
                        return Ok(vars[ni + np]);
                    }
                    if let Some(c) = columns.iter().position(|c| c == s) {
                        return Ok(vars[inputs.iter().position(|&i| i == c).expect("collected")]);
                    }
                    Ok(vars[ni + params.iter().position(|p| p == s).expect("collected")])
                })
                .map_err(|e| line_err(d.0, e, d.3))?;
            node_idx.push(idx);
        }
        let output = node_idx[n_nodes - 1];
        let loss = if custom_loss {
            node_idx[n_nodes]
        } else {
            // (y - out)^2
            use optlab_functions::expr::{BinOp, Op};
            let diff = tape.push(Op::Bin(BinOp::Sub, vars[ni + np], output));
            tape.push(Op::PowI(diff, 2))
        };
        Ok(ExprNet { inputs, params, nodes: node_names[..n_nodes].to_vec(), custom_loss, tape, output, loss })
    }

    fn fill(&self, v: &mut [f64], features: &[f64], theta: &[f64], y: f64) {
        let ni = self.inputs.len();
        for (k, &c) in self.inputs.iter().enumerate() {
            v[k] = features[c];
        }
        v[ni..ni + theta.len()].copy_from_slice(theta);
        v[ni + theta.len()] = y;
    }

    /// The output and the loss of one sample.
    pub fn forward(&self, features: &[f64], theta: &[f64], y: f64) -> (f64, f64) {
        let mut x = vec![0.0; self.tape.nvars()];
        self.fill(&mut x, features, theta, y);
        let mut vals = Vec::with_capacity(self.tape.len());
        self.tape.eval(&x, &mut vals);
        (vals[self.output as usize], vals[self.loss as usize])
    }

    /// Mean loss over `rows` of `data` and its gradient (and, with `hess`, the mean of the loss
    /// Hessian's diagonal) with respect to the parameters.
    pub fn loss_and_grad(
        &self,
        data: &CsvTable,
        rows: &[usize],
        theta: &[f64],
        g: &mut [f64],
        mut hess: Option<&mut [f64]>,
    ) -> f64 {
        let (ni, np) = (self.inputs.len(), self.params.len());
        let nv = self.tape.nvars();
        let mut x = vec![0.0; nv];
        let mut vals = Vec::with_capacity(self.tape.len());
        let mut adj = Vec::with_capacity(self.tape.len());
        let mut gall = vec![0.0; nv];
        let (mut gj, mut hj) = (Vec::new(), Vec::new());
        g.fill(0.0);
        if let Some(h) = hess.as_deref_mut() {
            h.fill(0.0);
        }
        let mut total = 0.0;
        for &r in rows {
            self.fill(&mut x, data.row(r), theta, data.labels[r]);
            self.tape.eval(&x, &mut vals);
            total += vals[self.loss as usize];
            gall.fill(0.0);
            self.tape.backprop(&vals, self.loss, 1.0, &mut adj, &mut gall);
            g.iter_mut().zip(&gall[ni..ni + np]).for_each(|(a, b)| *a += b);
            if let Some(h) = hess.as_deref_mut() {
                gj.resize(nv, 0.0);
                hj.resize(nv * nv, 0.0);
                self.tape.hessian(&x, self.loss, &mut gj, &mut hj);
                for (k, hk) in h.iter_mut().enumerate() {
                    *hk += hj[(ni + k) * nv + ni + k];
                }
            }
        }
        let m = rows.len().max(1) as f64;
        g.iter_mut().for_each(|v| *v /= m);
        if let Some(h) = hess {
            h.iter_mut().for_each(|v| *v /= m);
        }
        total / m
    }

    /// Mean loss over the whole table and the accuracy (output > 0.5 predicts label 1) when every
    /// label is 0 or 1.
    pub fn evaluate(&self, data: &CsvTable, theta: &[f64]) -> (f64, Option<f64>) {
        let binary = data.labels.iter().all(|&y| y == 0.0 || y == 1.0);
        let (mut loss, mut right) = (0.0, 0usize);
        for r in 0..data.rows() {
            let (out, l) = self.forward(data.row(r), theta, data.labels[r]);
            loss += l;
            right += ((out > 0.5) == (data.labels[r] == 1.0)) as usize;
        }
        let n = data.rows() as f64;
        (loss / n, binary.then(|| right as f64 / n))
    }
}

fn collect_names(a: &Ast, out: &mut Vec<(String, usize)>) {
    match a {
        Ast::Num(_) => {}
        Ast::Name(s, c) => out.push((s.clone(), *c)),
        Ast::Neg(x) | Ast::Call(_, x) => collect_names(x, out),
        Ast::Bin(_, x, y) => {
            collect_names(x, out);
            collect_names(y, out);
        }
    }
}

/// How an expression network is trained.
#[derive(Clone, Debug)]
pub struct ExprTrainConfig {
    pub optimizer: OptimConfig,
    /// Optimizer steps.
    pub steps: u64,
    /// Samples per step (drawn without replacement, a new shuffle every pass over the data).
    pub batch_size: usize,
    /// Seed of the initial parameters (uniform in `[-init, init]`) and of the shuffles.
    pub seed: u64,
    /// Half-width of the initial parameters' range.
    pub init: f64,
    /// Record the batch loss every this many steps (and at the last).
    pub every: u64,
}

/// A trained expression network.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprTrainResult {
    /// `(step, batch loss)` every `every` steps (the loss before that step's update) and at the end.
    pub curve: Vec<(u64, f64)>,
    /// The parameters after training (the evaluation weights, for Schedule-Free).
    pub params: Vec<(String, f64)>,
    /// Mean loss over the whole table with the initial and with the final parameters.
    pub initial_loss: f64,
    pub final_loss: f64,
    /// Accuracy on the whole table (labels 0/1 only).
    pub accuracy: Option<f64>,
}

/// SplitMix64 (the initial parameters and the shuffles).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            v.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
    }
}

/// Trains `net` on `data`. A non-finite loss or gradient ends training with an error naming the
/// step.
pub fn train(net: &ExprNet, data: &CsvTable, cfg: &ExprTrainConfig) -> Result<ExprTrainResult, NnError> {
    if cfg.batch_size == 0 {
        return Err(NnError::setting("batch_size", 0, "must be at least 1"));
    }
    if cfg.every == 0 {
        return Err(NnError::setting("every", 0, "must be at least 1"));
    }
    if !(cfg.init.is_finite() && cfg.init >= 0.0) {
        return Err(NnError::setting("init", cfg.init, "must be a finite number >= 0"));
    }
    let np = net.params.len();
    let mut opt = registry::build::<f64>(Layout::single("params", np), &cfg.optimizer)?;
    let needs_h = opt.spec().needs_hessian;
    let mut rng = Mix(cfg.seed ^ 0x6578_7072_6e65_7400);
    let mut theta: Vec<f64> = (0..np).map(|_| cfg.init * (2.0 * rng.uniform() - 1.0)).collect();
    let initial_loss = net.evaluate(data, &theta).0;
    let mut order: Vec<usize> = (0..data.rows()).collect();
    rng.shuffle(&mut order);
    let mut at = 0;
    let (mut g, mut h) = (vec![0.0; np], vec![0.0; np]);
    let mut batch = Vec::with_capacity(cfg.batch_size);
    let mut curve = Vec::new();
    for step in 0..cfg.steps {
        batch.clear();
        while batch.len() < cfg.batch_size.min(data.rows()) {
            if at == order.len() {
                rng.shuffle(&mut order);
                at = 0;
            }
            batch.push(order[at]);
            at += 1;
        }
        let loss = net.loss_and_grad(data, &batch, &theta, &mut g, needs_h.then_some(&mut h[..]));
        if !loss.is_finite() || g.iter().any(|v| !v.is_finite()) {
            return Err(NnError::Diverged(format!(
                "expression network: non-finite loss {loss} or gradient at step {step}"
            )));
        }
        if step % cfg.every == 0 || step + 1 == cfg.steps {
            curve.push((step, loss));
        }
        let hs = [&h[..]];
        opt.step(&mut [&mut theta[..]], &[&g[..]], needs_h.then_some(&hs[..]))
            .map_err(|e| NnError::Diverged(format!("expression network, step {step}: {e}")))?;
    }
    let mut eval = theta.clone();
    opt.eval_params(&[&theta[..]], &mut [&mut eval[..]])?;
    let (final_loss, accuracy) = net.evaluate(data, &eval);
    if !final_loss.is_finite() {
        return Err(NnError::Diverged(format!("expression network: the final loss is {final_loss}")));
    }
    Ok(ExprTrainResult {
        curve,
        params: net.params.iter().cloned().zip(eval).collect(),
        initial_loss,
        final_loss,
        accuracy,
    })
}
