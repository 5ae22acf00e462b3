//! Scripts that run an experiment on a Slurm cluster as a job array of shards and merge them
//! (`optlab slurm`; docs/cluster.md).
//!
//! Array task `i` (0-based, `SLURM_ARRAY_TASK_ID`) runs `optlab run FILE --shard i+1/N` into
//! `OUT/shards/shard-(i+1)-of-N`; the merge job, which starts when every array task has ended
//! successfully (`--dependency=afterok`), merges them into `OUT` and renders the report there.
//! An experiment with a tuning protocol gets a second array and merge: its evaluation runs
//! (phase two) can only be planned from every shard's tuning runs, so each task of the second
//! array starts from a copy of the merged store.
//!
//! Every path in the scripts is absolute, so they can be submitted from anywhere.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the scripts run.
#[derive(Clone, Debug, PartialEq)]
pub struct SlurmJob {
    /// The `optlab` binary (absolute).
    pub optlab: PathBuf,
    /// The experiment file (absolute).
    pub experiment: PathBuf,
    /// The experiment's name (the jobs' names).
    pub name: String,
    /// The merged output folder (absolute); the scripts go to `OUT/slurm/`.
    pub out: PathBuf,
    /// Array tasks (shards), at least 1.
    pub array: usize,
    /// CPUs per task (`--cpus-per-task`, and `optlab run --jobs`).
    pub cpus_per_task: usize,
    /// `--time` of each job, when given.
    pub time: Option<String>,
    /// `--partition`, when given.
    pub partition: Option<String>,
    /// Whether the experiment has a tuning protocol (a second array and merge).
    pub two_phase: bool,
}

/// The files `optlab slurm` writes, as `(file name under OUT/slurm, text)`.
#[derive(Clone, Debug, PartialEq)]
pub struct SlurmScripts {
    pub files: Vec<(String, String)>,
}

/// A word for a POSIX shell: single-quoted, with `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn q(p: &Path) -> String {
    shell_quote(&p.display().to_string())
}

impl SlurmJob {
    fn shards_dir(&self, phase: u32) -> PathBuf {
        self.out.join(if phase == 1 { "shards".to_string() } else { format!("shards-phase{phase}") })
    }

    fn header(&self, what: &str, array: bool) -> String {
        let mut s = String::from("#!/bin/bash\n");
        let _ = writeln!(s, "# Written by `optlab slurm`: {what}.");
        let _ = writeln!(s, "#SBATCH --job-name={}", self.name);
        if array {
            let _ = writeln!(s, "#SBATCH --array=0-{}", self.array - 1);
            let _ = writeln!(s, "#SBATCH --cpus-per-task={}", self.cpus_per_task);
            let _ = writeln!(s, "#SBATCH --output={}/slurm/logs/%x-%A_%a.out", self.out.display());
        } else {
            let _ = writeln!(s, "#SBATCH --cpus-per-task=1");
            let _ = writeln!(s, "#SBATCH --output={}/slurm/logs/%x-merge-%j.out", self.out.display());
        }
        if let Some(t) = &self.time {
            let _ = writeln!(s, "#SBATCH --time={t}");
        }
        if let Some(p) = &self.partition {
            let _ = writeln!(s, "#SBATCH --partition={p}");
        }
        s.push_str("set -euo pipefail\n");
        s
    }

    fn array_script(&self, phase: u32) -> String {
        let n = self.array;
        let dir = self.shards_dir(phase);
        let mut s = self.header(&format!("array of {n} shards (phase {phase})"), true);
        s.push_str("i=$((SLURM_ARRAY_TASK_ID + 1))\n");
        let _ = writeln!(s, "shard={}/shard-$i-of-{n}", q(&dir));
        if phase == 2 {
            // Phase two plans its evaluation runs from every shard's tuning runs: the merged store.
            s.push_str("mkdir -p \"$shard\"\n");
            let _ = writeln!(s, "cp {} \"$shard/results.sqlite\"", q(&self.out.join("results.sqlite")));
        }
        let _ = writeln!(
            s,
            "exec {} run {} --shard \"$i/{n}\" --out \"$shard\" --jobs {}",
            q(&self.optlab),
            q(&self.experiment),
            self.cpus_per_task
        );
        s
    }

    fn merge_script(&self, phase: u32) -> String {
        let n = self.array;
        let dir = self.shards_dir(phase);
        let mut s = self.header(&format!("merge of the {n} shards (phase {phase}) and the report"), false);
        let shards: Vec<String> = (1..=n).map(|i| q(&dir.join(format!("shard-{i}-of-{n}")))).collect();
        let _ = writeln!(s, "exec {} merge --out {} {}", q(&self.optlab), q(&self.out), shards.join(" "));
        s
    }

    fn submit_script(&self) -> String {
        let dir = self.out.join("slurm");
        let mut s = String::from("#!/bin/bash\n# Written by `optlab slurm`: submits the array, then the merge once every array task has\n# succeeded. Prints the job ids (the last one is the merge that writes the report).\nset -euo pipefail\n");
        let _ = writeln!(s, "cd {}", q(&dir));
        s.push_str("a1=$(sbatch --parsable array.sbatch)\n");
        s.push_str("m1=$(sbatch --parsable --kill-on-invalid-dep=yes --dependency=afterok:${a1%%;*} merge.sbatch)\n");
        if self.two_phase {
            s.push_str("a2=$(sbatch --parsable --kill-on-invalid-dep=yes --dependency=afterok:${m1%%;*} array-phase2.sbatch)\n");
            s.push_str("m2=$(sbatch --parsable --kill-on-invalid-dep=yes --dependency=afterok:${a2%%;*} merge-phase2.sbatch)\n");
            s.push_str("echo \"array $a1, merge $m1, phase-two array $a2, merge $m2\"\necho \"$m2\" > last-job-id\n");
        } else {
            s.push_str("echo \"array $a1, merge $m1\"\necho \"$m1\" > last-job-id\n");
        }
        s
    }

    /// The scripts: `array.sbatch`, `merge.sbatch` (and `array-phase2.sbatch`,
    /// `merge-phase2.sbatch` for a tuning protocol) and `submit.sh`, which submits them with
    /// their dependencies and writes the last job's id to `last-job-id`.
    pub fn scripts(&self) -> SlurmScripts {
        let mut files = vec![
            ("array.sbatch".to_string(), self.array_script(1)),
            ("merge.sbatch".to_string(), self.merge_script(1)),
        ];
        if self.two_phase {
            files.push(("array-phase2.sbatch".to_string(), self.array_script(2)));
            files.push(("merge-phase2.sbatch".to_string(), self.merge_script(2)));
        }
        files.push(("submit.sh".to_string(), self.submit_script()));
        SlurmScripts { files }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(two_phase: bool) -> SlurmJob {
        SlurmJob {
            optlab: "/opt/optlab/bin/optlab".into(),
            experiment: "/home/me/it's.toml".into(),
            name: "exp".into(),
            out: "/scratch/exp".into(),
            array: 4,
            cpus_per_task: 2,
            time: Some("01:00:00".into()),
            partition: None,
            two_phase,
        }
    }

    #[test]
    fn the_array_runs_one_shard_per_task_and_the_merge_takes_them_all() {
        let s = job(false).scripts();
        let names: Vec<&str> = s.files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, ["array.sbatch", "merge.sbatch", "submit.sh"]);
        let array = &s.files[0].1;
        assert!(array.contains("#SBATCH --array=0-3\n#SBATCH --cpus-per-task=2\n"), "{array}");
        assert!(array.contains("#SBATCH --time=01:00:00\n") && !array.contains("--partition"), "{array}");
        assert!(
            array.contains(
                "exec '/opt/optlab/bin/optlab' run '/home/me/it'\\''s.toml' --shard \"$i/4\" --out \"$shard\" --jobs 2"
            ),
            "{array}"
        );
        assert!(array.contains("shard='/scratch/exp/shards'/shard-$i-of-4\n"), "{array}");
        let merge = &s.files[1].1;
        assert!(merge.contains("merge --out '/scratch/exp' '/scratch/exp/shards/shard-1-of-4' '/scratch/exp/shards/shard-2-of-4' '/scratch/exp/shards/shard-3-of-4' '/scratch/exp/shards/shard-4-of-4'\n"), "{merge}");
        let submit = &s.files[2].1;
        assert!(submit.contains("--dependency=afterok:${a1%%;*} merge.sbatch"), "{submit}");
        assert!(!submit.contains("phase2"), "{submit}");
    }

    #[test]
    fn a_tuning_protocol_gets_a_second_array_from_the_merged_store() {
        let s = job(true).scripts();
        assert_eq!(s.files.len(), 5);
        let a2 = &s.files[2].1;
        assert!(a2.contains("cp '/scratch/exp/results.sqlite' \"$shard/results.sqlite\""), "{a2}");
        assert!(a2.contains("shard='/scratch/exp/shards-phase2'/shard-$i-of-4"), "{a2}");
        let submit = &s.files[4].1;
        assert!(
            submit.contains("afterok:${m1%%;*} array-phase2.sbatch")
                && submit.contains("afterok:${a2%%;*} merge-phase2.sbatch")
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
