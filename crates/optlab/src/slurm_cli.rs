//! `optlab slurm FILE --array N`: writes the sbatch scripts of a job array of shards and of the
//! merge step (optlab-lab's [`optlab_lab::cluster`]; docs/cluster.md).

use std::path::{Path, PathBuf};

use optlab_lab::cluster::SlurmJob;
use optlab_lab::Plan;

use crate::error::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct SlurmArgs {
    /// Experiment file (TOML, see docs/experiments.md).
    pub experiment: PathBuf,
    /// Array tasks: the experiment's runs are split into this many shards (`--shard I/N`).
    #[arg(long, value_name = "N")]
    pub array: usize,
    /// CPUs of each array task (also its `optlab run --jobs`).
    #[arg(long, default_value_t = 1, value_name = "C")]
    pub cpus_per_task: usize,
    /// Merged output folder (default: results/<experiment name>); the scripts go to OUT/slurm/,
    /// the shards to OUT/shards/.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `--time` of each job (e.g. 02:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// `--partition` of each job.
    #[arg(long)]
    pub partition: Option<String>,
    /// The optlab binary the jobs run (default: this one).
    #[arg(long)]
    pub optlab: Option<PathBuf>,
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::Io { path: ".".into(), source: e })?;
    Ok(cwd.join(p))
}

fn slurm_word(what: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c == '\'' || c == '"' || c == '\\') {
        return Err(Error::Usage(format!("--{what} `{v}`: expected one word without quotes or spaces")));
    }
    Ok(())
}

/// `optlab slurm`.
pub fn slurm(args: &SlurmArgs) -> Result<()> {
    let exp = optlab_lab::spec::load(&args.experiment)?;
    let plan = Plan::new(&exp)?;
    let runs = plan.runs.len();
    if args.array == 0 {
        return Err(Error::Usage("--array must be at least 1".into()));
    }
    if args.array > runs {
        return Err(Error::Usage(format!(
            "--array {}: the experiment has only {runs} runs{} to share out; give at most {runs}",
            args.array,
            if plan.waiting.is_some() { " before its tuning protocol's evaluation runs" } else { "" }
        )));
    }
    if args.cpus_per_task == 0 {
        return Err(Error::Usage("--cpus-per-task must be at least 1".into()));
    }
    for (what, v) in [("time", &args.time), ("partition", &args.partition)] {
        if let Some(v) = v {
            slurm_word(what, v)?;
        }
    }
    let experiment = args
        .experiment
        .canonicalize()
        .map_err(|e| Error::Io { path: args.experiment.display().to_string(), source: e })?;
    let optlab = match &args.optlab {
        Some(p) => absolute(p)?,
        None => std::env::current_exe().map_err(|e| Error::Io { path: "the optlab binary".into(), source: e })?,
    };
    if !optlab.is_file() {
        return Err(Error::Usage(format!("--optlab `{}` is not a file", optlab.display())));
    }
    let out = absolute(&args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&plan.info.name)))?;
    let job = SlurmJob {
        optlab,
        experiment,
        name: plan.info.name.clone(),
        out: out.clone(),
        array: args.array,
        cpus_per_task: args.cpus_per_task,
        time: args.time.clone(),
        partition: args.partition.clone(),
        two_phase: plan.waiting.is_some(),
    };
    let dir = out.join("slurm");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| Error::Io { path: logs.display().to_string(), source: e })?;
    for (name, text) in job.scripts().files {
        let path = dir.join(&name);
        optlab_report::write_atomic(&path, text.as_bytes())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
        }
        println!("wrote {}", path.display());
    }
    println!(
        "{runs} runs in {} array tasks of {} CPU{}{}; submit with: bash {}",
        args.array,
        args.cpus_per_task,
        if args.cpus_per_task == 1 { "" } else { "s" },
        if job.two_phase { " (two phases: the tuning runs, then the evaluation runs)" } else { "" },
        dir.join("submit.sh").display()
    );
    println!("the merged results and the report go to {}", out.display());
    Ok(())
}
