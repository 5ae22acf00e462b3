//! `optlab landscape`: the loss landscape of a trained network (crate `optlab-nn`'s
//! `landscape` module computes it, `optlab-report`'s `net_landscape` draws it).

use crate::error::{Error, Result};
use clap::Args;
use optlab_nn::landscape::{self, EvalChoice, EvalSet, LandscapeConfig};
use optlab_nn::NetworkSettings;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct LandscapeArgs {
    /// The checkpoint folder of `optlab train --checkpoint DIR` (its checkpoint.bin; with
    /// iterates.bin from --keep-iterates also the trajectory).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Output folder: grid.csv, curve.csv, contour/surface/curve .png and .svg (and the
    /// trajectory's files).
    #[arg(long)]
    pub out: PathBuf,
    /// Points per axis of the 2-D grid (odd puts θ on the grid).
    #[arg(long, default_value_t = 41)]
    pub grid: usize,
    /// The grid spans a, b in [-RANGE, RANGE] (in units of the filter-normalised directions).
    #[arg(long, default_value_t = 1.0)]
    pub range: f64,
    /// Points of the 1-D curve along d1.
    #[arg(long, default_value_t = 101)]
    pub points_1d: usize,
    /// Seed of the directions (d1 from it, d2 from it + 1) and of the evaluation subset.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The evaluation set: train (the run's training set) or val (its validation split).
    #[arg(long, default_value = "train")]
    pub eval: String,
    /// Samples of the evaluation set (a seeded random subset); `all` for the whole set; `auto`:
    /// 500 for the fully connected tasks, 50 for the convolutional ones (mnist-cnn's 41×41 grid
    /// then takes seconds, not minutes).
    #[arg(long, default_value = "auto")]
    pub samples: String,
    /// Also project the training path on the plane of the first two principal directions of the
    /// iterates (needs iterates.bin: `optlab train --checkpoint DIR --keep-iterates`).
    #[arg(long)]
    pub trajectory: bool,
    /// The run's MLP widths, when it was trained with --widths.
    #[arg(long)]
    pub widths: Option<String>,
    /// The run's blobs-two-layer hidden units, when it was trained with --hidden.
    #[arg(long)]
    pub hidden: Option<usize>,
}

impl LandscapeArgs {
    /// The computation's settings and the network settings the checkpoint does not record.
    pub fn to_config(&self) -> Result<(LandscapeConfig, NetworkSettings)> {
        let set: EvalSet = self.eval.parse().map_err(|e| Error::Usage(format!("--eval {e}")))?;
        let samples = match self.samples.as_str() {
            "all" => None,
            // Resolved by the task once the checkpoint is read ([`cli_run`]).
            "auto" => Some(landscape::DEFAULT_SAMPLES),
            s => Some(s.parse::<usize>().map_err(|_| {
                Error::Usage(format!("--samples `{s}`: expected a number of samples (at least 1), `all` or `auto`"))
            })?),
        };
        let lc = LandscapeConfig {
            grid: self.grid,
            range: self.range,
            points_1d: self.points_1d,
            seed: self.seed,
            eval: EvalChoice { set, samples },
            trajectory: self.trajectory,
        };
        lc.validate().map_err(|e| match e {
            optlab_nn::NnError::Setting { key, value, why } => {
                Error::Usage(format!("--{} {value}: {why}", key.replace('_', "-")))
            }
            other => Error::Nn(other),
        })?;
        let widths = match &self.widths {
            None => None,
            Some(w) => Some(
                w.split('-').map(|p| p.trim().parse::<usize>()).collect::<std::result::Result<Vec<_>, _>>().map_err(
                    |_| Error::Usage(format!("--widths `{w}`: expected numbers joined by `-`, e.g. 784-256-10")),
                )?,
            ),
        };
        Ok((lc, NetworkSettings { widths, hidden: self.hidden, ..NetworkSettings::default() }))
    }
}

/// Runs `optlab landscape`: a summary on stdout, the files in `--out`.
pub fn cli_run(args: &LandscapeArgs) -> Result<()> {
    let (mut lc, net) = args.to_config()?;
    let trained = landscape::load_trained(&args.checkpoint, net)?;
    if args.samples == "auto" {
        lc.eval.samples = Some(landscape::default_samples(&trained.cfg.task));
    }
    if args.trajectory && trained.iterates.is_empty() {
        return Err(Error::Usage(format!(
            "--trajectory: `{}` has no iterates.bin; train with `optlab train --checkpoint DIR --keep-iterates`",
            args.checkpoint.display()
        )));
    }
    let l = landscape::landscape(&trained.cfg, &trained.weights, &trained.iterates, &lc)?;
    println!(
        "{} after {} epochs: loss at θ {:.4} ({}); {}×{} grid over [-{r}, {r}]², {} evaluations in {:.1} s on {} threads",
        l.task,
        trained.epochs_done,
        l.centre,
        l.eval,
        lc.grid,
        lc.grid,
        l.evaluations,
        l.seconds,
        l.threads,
        r = lc.range
    );
    let (lo, hi) = l.surface.loss.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let bad = l.surface.loss.iter().filter(|v| !v.is_finite()).count();
    println!(
        "grid loss from {lo:.4} to {hi:.4}{}",
        if bad > 0 { format!(", {bad} points not finite") } else { String::new() }
    );
    if let Some(tr) = &l.trajectory {
        println!(
            "trajectory: {} iterates; explained variance PC1 {:.1} %, PC2 {:.1} %",
            tr.points.len(),
            100.0 * tr.explained[0],
            100.0 * tr.explained[1]
        );
    }
    for f in optlab_report::net_landscape::write_landscape(&l, &args.out)? {
        println!("wrote {}", f.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> LandscapeArgs {
        LandscapeArgs {
            checkpoint: "ck".into(),
            out: "out".into(),
            grid: 41,
            range: 1.0,
            points_1d: 101,
            seed: 0,
            eval: "train".into(),
            samples: "500".into(),
            trajectory: false,
            widths: None,
            hidden: None,
        }
    }

    #[test]
    fn bad_arguments_name_the_option_and_value() {
        let e = |a: LandscapeArgs| a.to_config().unwrap_err().to_string();
        let m = e(LandscapeArgs { grid: 1, ..args() });
        assert!(m.contains("--grid") && m.contains('1'), "{m}");
        let m = e(LandscapeArgs { range: 0.0, ..args() });
        assert!(m.contains("--range") && m.contains('0'), "{m}");
        let m = e(LandscapeArgs { points_1d: 2, ..args() });
        assert!(m.contains("--points-1d"), "{m}");
        let m = e(LandscapeArgs { eval: "test".into(), ..args() });
        assert!(m.contains("--eval") && m.contains("test"), "{m}");
        let m = e(LandscapeArgs { samples: "many".into(), ..args() });
        assert!(m.contains("--samples") && m.contains("many") && m.contains("`auto`"), "{m}");
        let m = e(LandscapeArgs { samples: "0".into(), ..args() });
        assert!(m.contains("--samples"), "{m}");
        let m = e(LandscapeArgs { widths: Some("784-a".into()), ..args() });
        assert!(m.contains("784-a"), "{m}");
        let (lc, _) = LandscapeArgs { samples: "all".into(), ..args() }.to_config().unwrap();
        assert_eq!(lc.eval.samples, None);
        assert!(LandscapeArgs { samples: "auto".into(), ..args() }.to_config().is_ok());
    }
}
