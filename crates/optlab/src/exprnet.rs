//! `optlab exprnet`: trains a network written as expressions (`optlab_nn::exprnet`, see
//! docs/formulas.md) on a CSV table with one optimizer. Prints CSV `step,loss` (the batch loss)
//! to stdout, then a summary (whole-table loss before and after, accuracy, parameters) to stderr.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use optlab_nn::exprnet::{train, CsvTable, ExprNet, ExprTrainConfig, ExprTrainResult};

/// `optlab exprnet` options.
#[derive(clap::Args, Debug, Clone)]
pub struct ExprNetArgs {
    /// The network: a text file of lines `NAME = EXPRESSION` (docs/formulas.md).
    #[arg(long)]
    pub net: PathBuf,
    /// The data: `csv:PATH`, a CSV table with a header line of column names.
    #[arg(long)]
    pub data: String,
    /// The label column of the CSV table (`y` in the network's `loss` line).
    #[arg(long)]
    pub label: String,
    /// Optimizer name (see `optlab optimizers`).
    #[arg(long)]
    pub optimizer: String,
    /// Hyperparameter KEY=VALUE (repeatable), e.g. --set lr=0.01.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Schedule KEY=SCHEDULE (repeatable), e.g. --schedule 'lr=cosine(t_max=1000)'.
    #[arg(long = "schedule", value_name = "KEY=SCHEDULE")]
    pub schedule: Vec<String>,
    /// Optimizer steps.
    #[arg(long, default_value_t = 2000)]
    pub steps: u64,
    /// Samples per step.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Seed of the initial parameters and of the batches.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Initial parameters uniform in [-INIT, INIT].
    #[arg(long, default_value_t = 1.0)]
    pub init: f64,
    /// Print the batch loss every K steps (and at the last step).
    #[arg(long, default_value_t = 100)]
    pub every: u64,
}

/// The CSV table of `--data csv:PATH`.
pub fn load_data(data: &str, label: &str) -> Result<CsvTable> {
    let Some(path) = data.strip_prefix("csv:") else {
        return Err(Error::Usage(format!("--data `{data}`: expected csv:PATH")));
    };
    CsvTable::load(Path::new(path), label).map_err(|e| Error::Usage(format!("--data: {e}")))
}

/// Compiles the network of `--net` for the table's columns; errors name the file, line and column.
pub fn load_net(path: &Path, table: &CsvTable) -> Result<ExprNet> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
    ExprNet::parse(&text, &table.columns).map_err(|e| Error::Usage(format!("--net {}: {e}", path.display())))
}

/// Runs the command, writing the curve to `out`.
/// Returns the result and the number of rows of the table.
pub fn run(args: &ExprNetArgs, out: &mut dyn Write) -> Result<(ExprTrainResult, usize)> {
    let optimizer = crate::cli::optim_config(&args.optimizer, &args.set, &args.schedule)?;
    let table = load_data(&args.data, &args.label)?;
    let net = load_net(&args.net, &table)?;
    let cfg = ExprTrainConfig {
        optimizer,
        steps: args.steps,
        batch_size: args.batch_size,
        seed: args.seed,
        init: args.init,
        every: args.every,
    };
    let r = train(&net, &table, &cfg)?;
    let io = |e| Error::Io { path: "stdout".into(), source: e };
    writeln!(out, "step,loss").map_err(io)?;
    for (s, l) in &r.curve {
        writeln!(out, "{s},{l}").map_err(io)?;
    }
    Ok((r, table.rows()))
}

/// The summary printed after the curve.
pub fn summary(r: &ExprTrainResult, rows: usize) -> String {
    let acc = r.accuracy.map(|a| format!(", accuracy {:.4}", a)).unwrap_or_default();
    let params = r.params.iter().map(|(n, v)| format!("{n}={v:.6}")).collect::<Vec<_>>().join(" ");
    format!(
        "loss on the {rows} rows: {:.6} before, {:.6} after training{acc}\nparameters: {params}",
        r.initial_loss, r.final_loss
    )
}

pub fn cli_run(args: &ExprNetArgs) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (r, rows) = run(args, &mut out)?;
    let _ = out.flush();
    eprintln!("{}", summary(&r, rows));
    Ok(())
}
