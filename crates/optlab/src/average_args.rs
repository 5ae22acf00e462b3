//! The weight-averaging options of `optlab train` and `optlab trace` (SWA and EMA of the
//! weights, torch.optim.swa_utils' semantics: `optlab_optim::average`).

use crate::error::{Error, Result};
use optlab_optim::average::{Anneal, AverageConfig, AverageMethod, AverageUnit};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct AverageArgs {
    /// Average the weights: swa (running mean) or ema (exponential moving average); validation,
    /// the reported metrics and weights (and a trace's points) are then the averaged weights.
    #[arg(long, value_parser = ["swa", "ema"])]
    pub average: Option<String>,
    /// What --swa-start, --swa-freq and --anneal-epochs count: step or epoch (default step).
    #[arg(long, value_parser = ["step", "epoch"])]
    pub average_unit: Option<String>,
    /// Units before the first averaging update (which follows unit swa_start + 1; default 0).
    #[arg(long)]
    pub swa_start: Option<u64>,
    /// Units between averaging updates (default 1).
    #[arg(long)]
    pub swa_freq: Option<u64>,
    /// SWALR: anneal the learning rate to this value from the first averaged unit on.
    #[arg(long)]
    pub swa_lr: Option<f64>,
    /// SWALR's annealing length in units (default 10; needs --swa-lr).
    #[arg(long)]
    pub anneal_epochs: Option<u64>,
    /// SWALR's curve: cos or linear (default cos; needs --swa-lr).
    #[arg(long, value_parser = ["cos", "linear"])]
    pub anneal_strategy: Option<String>,
    /// EMA's decay in [0, 1] (default 0.999; with --average ema).
    #[arg(long)]
    pub ema_decay: Option<f64>,
}

impl AverageArgs {
    /// The averaging settings (None without --average); an averaging option without --average,
    /// or a setting of the other method, is refused with its name.
    pub fn to_config(&self) -> Result<Option<AverageConfig>> {
        let Some(method) = &self.average else {
            let given = [
                ("--average-unit", self.average_unit.is_some()),
                ("--swa-start", self.swa_start.is_some()),
                ("--swa-freq", self.swa_freq.is_some()),
                ("--swa-lr", self.swa_lr.is_some()),
                ("--anneal-epochs", self.anneal_epochs.is_some()),
                ("--anneal-strategy", self.anneal_strategy.is_some()),
                ("--ema-decay", self.ema_decay.is_some()),
            ];
            return match given.iter().find(|g| g.1) {
                Some((name, _)) => Err(Error::Usage(format!("{name} needs --average swa or --average ema"))),
                None => Ok(None),
            };
        };
        let cfg = AverageConfig {
            method: if method == "ema" { AverageMethod::Ema } else { AverageMethod::Swa },
            unit: if self.average_unit.as_deref() == Some("epoch") { AverageUnit::Epoch } else { AverageUnit::Step },
            swa_start: self.swa_start.unwrap_or(0),
            swa_freq: self.swa_freq.unwrap_or(1),
            swa_lr: self.swa_lr,
            anneal_epochs: self.anneal_epochs,
            anneal_strategy: self.anneal_strategy.as_deref().map(|s| {
                if s == "linear" {
                    Anneal::Linear
                } else {
                    Anneal::Cos
                }
            }),
            ema_decay: self.ema_decay,
        };
        cfg.check().map_err(|e| Error::Usage(format!("--average: {e}")))?;
        Ok(Some(cfg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averaging_options_build_the_settings_and_refuse_strays() {
        let a =
            AverageArgs { average: Some("swa".into()), swa_start: Some(5), swa_lr: Some(0.05), ..Default::default() };
        let c = a.to_config().unwrap().unwrap();
        assert_eq!((c.method, c.swa_start, c.swa_freq, c.swa_lr), (AverageMethod::Swa, 5, 1, Some(0.05)));
        assert_eq!(AverageArgs::default().to_config().unwrap(), None);
        let e = AverageArgs { swa_lr: Some(0.1), ..Default::default() }.to_config().unwrap_err().to_string();
        assert!(e.contains("--swa-lr needs --average"), "{e}");
        let e = AverageArgs { average: Some("swa".into()), ema_decay: Some(0.9), ..Default::default() }
            .to_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("ema_decay") && e.contains("EMA's"), "{e}");
        let e = AverageArgs { average: Some("ema".into()), ema_decay: Some(1.5), ..Default::default() }
            .to_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("ema_decay") && e.contains("[0, 1]"), "{e}");
        let e = AverageArgs { average: Some("swa".into()), anneal_epochs: Some(3), ..Default::default() }
            .to_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("anneal_epochs") && e.contains("swa_lr"), "{e}");
        let e = AverageArgs { average: Some("swa".into()), swa_freq: Some(0), ..Default::default() }
            .to_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("swa_freq"), "{e}");
    }
}
