//! `optlab ema`: the EMA of a series for several β, with and without bias correction, and the
//! three momentum formulations of the course notes (see [`optlab_report::ema`]).

use crate::error::{Error, Result};
use clap::Args;
use optlab_nn::optlab_data;
use optlab_report::ema::{self, EmaInput, MomentumInput};
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct EmaArgs {
    /// A CSV file with a header line (default: the shipped Seattle daily temperatures,
    /// data/seattle-weather/, NOAA, public domain).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// The column to average (default for the shipped file: temp_max; required with --csv).
    #[arg(long)]
    pub column: Option<String>,
    /// The EMA weights β, each in [0, 1).
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.9,0.98", allow_hyphen_values = true)]
    pub betas: Vec<f64>,
    /// Output directory for ema.csv, ema.png/.svg, momentum.csv and momentum.png/.svg.
    #[arg(long)]
    pub out: PathBuf,
    /// Step size α of the momentum comparison (forms A and B; C gets α/(1 − β)).
    #[arg(long, default_value_t = 5e-4)]
    pub alpha: f64,
    /// Friction β of the momentum comparison, in [0, 1).
    #[arg(long, default_value_t = 0.9)]
    pub momentum_beta: f64,
    /// Steps of the momentum comparison (on 2-D Rosenbrock from (-1.5, 2)).
    #[arg(long, default_value_t = 500)]
    pub steps: usize,
}

pub fn cli_run(a: &EmaArgs) -> Result<()> {
    ema::check_betas(&a.betas).map_err(|e| Error::Usage(format!("--betas: {e}")))?;
    if !(a.alpha.is_finite() && a.alpha > 0.0) {
        return Err(Error::Usage(format!("--alpha {}: must be a finite number > 0", a.alpha)));
    }
    if !(0.0..1.0).contains(&a.momentum_beta) {
        return Err(Error::Usage(format!("--momentum-beta {}: must be in [0, 1)", a.momentum_beta)));
    }
    if a.steps == 0 {
        return Err(Error::Usage("--steps 0: the momentum comparison needs at least one step".into()));
    }
    let (name, values) = match &a.csv {
        Some(path) => {
            let Some(col) = &a.column else {
                return Err(Error::Usage(format!(
                    "--csv {}: give the column to average with --column NAME",
                    path.display()
                )));
            };
            let v = optlab_data::read_csv_column(path, col).map_err(|e| Error::Usage(e.to_string()))?;
            (format!("{} `{col}`", path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()), v)
        }
        None => {
            let col = a.column.as_deref().unwrap_or("temp_max");
            let v = optlab_data::csv_column(optlab_data::SEATTLE_WEATHER_CSV, optlab_data::SEATTLE_WEATHER_NAME, col)
                .map_err(|e| Error::Usage(e.to_string()))?;
            let what =
                if col == "temp_max" { "daily maximum temperature (°C)".to_string() } else { format!("`{col}`") };
            (format!("Seattle {what}, 2012–2015"), v)
        }
    };
    let f = optlab_functions::by_name("rosenbrock", None)?;
    let mom = MomentumInput {
        function: f.as_ref(),
        start: &[-1.5, 2.0],
        alpha: a.alpha,
        beta: a.momentum_beta,
        steps: a.steps,
    };
    let out = ema::write_outputs(&EmaInput { name: &name, values: &values, betas: &a.betas }, &mom, &a.out)?;
    println!("{}: {} values, betas {:?}", name, values.len(), a.betas);
    println!(
        "momentum forms on rosenbrock, {} steps: largest relative gap from (A): (B) {:.1e}, (C with alpha/(1-beta)) {:.1e}",
        a.steps, out.gap_b, out.gap_c
    );
    for p in &out.files {
        println!("wrote {}", p.display());
    }
    Ok(())
}
