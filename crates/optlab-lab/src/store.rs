//! The results store: one SQLite database (`results.sqlite` in the output folder).
//!
//! Tables: `schema_version`, `experiment` (one row: name and the [`ExperimentInfo`] as JSON),
//! `runs` (one row per run: identity, hash UNIQUE, configuration JSON, summary columns, status,
//! error, wall time) and `series` (one row per point). Each run's rows are written in one
//! transaction, in WAL mode, so a process killed at any moment leaves every completed run and
//! nothing of the others. Non-finite floats are kept faithfully: a finite value is a REAL, and
//! NaN, ±inf and −0 are stored as the text `NaN`, `inf`, `-inf`, `-0` (in `x` JSON arrays, as
//! strings).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, ToSql};

use crate::error::{LabError, Result};
use crate::record::{ExperimentInfo, Point, RunRecord, Status, Summary};

/// Version of the table layout; a store with another version is refused.
pub const SCHEMA_VERSION: i64 = 1;
/// File name of the database in an output folder.
pub const DB_FILE: &str = "results.sqlite";

const SCHEMA: &str = "
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE experiment (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    info TEXT NOT NULL
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    plan_index INTEGER NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    comparison TEXT NOT NULL,
    task TEXT NOT NULL,
    optimizer TEXT NOT NULL,
    label TEXT NOT NULL,
    swept TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    wall_s,
    steps INTEGER NOT NULL,
    epochs INTEGER,
    final_loss,
    min_loss,
    final_val_loss,
    min_val_loss,
    final_accuracy,
    best_accuracy,
    steps_to_target INTEGER,
    time_to_target
);
CREATE TABLE series (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    step INTEGER NOT NULL,
    epoch INTEGER,
    time_s,
    loss,
    val_loss,
    accuracy,
    x TEXT,
    PRIMARY KEY (run_id, idx)
);
";

/// A float stored faithfully (see the module documentation).
struct F(f64);

impl ToSql for F {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let x = self.0;
        Ok(if x.is_finite() && !(x == 0.0 && x.is_sign_negative()) {
            ToSqlOutput::Owned(SqlValue::Real(x))
        } else {
            ToSqlOutput::Owned(SqlValue::Text(float_text(x)))
        })
    }
}

fn float_text(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x == f64::INFINITY {
        "inf".into()
    } else if x == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        format!("{x:?}")
    }
}

fn read_f(v: ValueRef<'_>, what: &str) -> rusqlite::Result<Option<f64>> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Real(x) => Ok(Some(x)),
        ValueRef::Integer(i) => Ok(Some(i as f64)),
        ValueRef::Text(t) => {
            let s = std::str::from_utf8(t).unwrap_or("");
            s.parse::<f64>().map(Some).map_err(|_| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    format!("{what}: `{s}` is not a number").into(),
                )
            })
        }
        ValueRef::Blob(_) => Err(rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            format!("{what}: a blob is not a number").into(),
        )),
    }
}

fn req_f(v: ValueRef<'_>, what: &str) -> rusqlite::Result<f64> {
    read_f(v, what)?.ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Null, format!("{what} is NULL").into())
    })
}

fn x_json(x: &[f64]) -> String {
    let v: Vec<serde_json::Value> = x
        .iter()
        .map(|&a| if a.is_finite() { serde_json::Value::from(a) } else { serde_json::Value::String(float_text(a)) })
        .collect();
    serde_json::to_string(&v).expect("JSON")
}

fn parse_x(s: &str) -> std::result::Result<Vec<f64>, String> {
    let v: Vec<serde_json::Value> = serde_json::from_str(s).map_err(|e| e.to_string())?;
    v.iter()
        .map(|a| match a {
            serde_json::Value::Number(n) => n.as_f64().ok_or_else(|| format!("`{n}` is not a float")),
            serde_json::Value::String(t) => t.parse::<f64>().map_err(|_| format!("`{t}` is not a number")),
            other => Err(format!("`{other}` is not a number")),
        })
        .collect()
}

fn status_of(s: &str) -> Option<Status> {
    match s {
        "ok" => Some(Status::Ok),
        "diverged" => Some(Status::Diverged),
        "failed" => Some(Status::Failed),
        _ => None,
    }
}

/// What a merge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeStats {
    pub added: usize,
    /// Runs already present (same hash).
    pub skipped: usize,
}

/// An open results store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let p = path.display().to_string();
        let sq = |e: rusqlite::Error| LabError::Sqlite { path: p.clone(), source: e };
        let conn = Connection::open(path).map_err(sq)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sq)?;
        let has_version: bool = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                    LabError::Store(format!("`{p}` is not an SQLite database (not an optlab results store)"))
                }
                e => sq(e),
            })?
            > 0;
        if has_version {
            let v: Option<i64> =
                conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).optional().map_err(sq)?;
            if v != Some(SCHEMA_VERSION) {
                return Err(LabError::Store(format!(
                    "`{p}` was made by an incompatible version of optlab (schema version {}, this optlab reads {SCHEMA_VERSION}); use another output folder",
                    v.map_or("missing".to_string(), |v| v.to_string())
                )));
            }
        } else {
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))
                .map_err(sq)?;
            if tables > 0 {
                return Err(LabError::Store(format!(
                    "`{p}` is an SQLite database but not an optlab results store (no schema_version table)"
                )));
            }
        }
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sq)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sq)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sq)?;
        if !has_version {
            conn.execute_batch(&format!(
                "BEGIN; {SCHEMA} INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION}); COMMIT;"
            ))
            .map_err(sq)?;
        }
        Ok(Store { conn, path: path.to_path_buf() })
    }

    /// Opens the store of an output folder (`DIR/results.sqlite`), creating the folder.
    pub fn open_dir(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| LabError::Io { path: dir.display().to_string(), source: e })?;
        Store::open(&dir.join(DB_FILE))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sq(&self) -> impl Fn(rusqlite::Error) -> LabError + '_ {
        move |e| LabError::Sqlite { path: self.path.display().to_string(), source: e }
    }

    /// The stored experiment, if any.
    pub fn experiment_opt(&self) -> Result<Option<ExperimentInfo>> {
        let s: Option<String> = self
            .conn
            .query_row("SELECT info FROM experiment WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(self.sq())?;
        match s {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s).map(Some).map_err(|e| {
                LabError::Store(format!("`{}`: the stored experiment is unreadable: {e}", self.path.display()))
            }),
        }
    }

    /// The stored experiment (an error if the store has none yet).
    pub fn experiment(&self) -> Result<ExperimentInfo> {
        self.experiment_opt()?
            .ok_or_else(|| LabError::Store(format!("`{}` holds no experiment yet", self.path.display())))
    }

    /// Records the experiment the store is for. A store holding another experiment (by name) is
    /// an error that says so; the same experiment's description is updated (e.g. a seed added).
    pub fn set_experiment(&mut self, info: &ExperimentInfo) -> Result<()> {
        if let Some(old) = self.experiment_opt()? {
            if old.name != info.name {
                return Err(LabError::Store(format!(
                    "`{}` holds results of experiment `{}`, not `{}`: use another --out folder, or --force to discard them",
                    self.path.display(),
                    old.name,
                    info.name
                )));
            }
        }
        let json = serde_json::to_string(info).expect("JSON");
        self.conn
            .execute(
                "INSERT INTO experiment (id, name, info) VALUES (1, ?1, ?2) ON CONFLICT(id) DO UPDATE SET name = ?1, info = ?2",
                params![info.name, json],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    /// Hashes of the runs stored.
    pub fn done_hashes(&self) -> Result<HashSet<String>> {
        let mut st = self.conn.prepare("SELECT hash FROM runs").map_err(self.sq())?;
        let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(self.sq())?;
        rows.collect::<rusqlite::Result<HashSet<_>>>().map_err(self.sq())
    }

    /// Number of runs stored.
    pub fn count(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT count(*) FROM runs", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(self.sq())
    }

    /// Stores a run (its row and all its points in one transaction). Returns false, storing
    /// nothing, when a run with the same hash is there already.
    pub fn insert(&mut self, plan_index: usize, r: &RunRecord) -> Result<bool> {
        let path = self.path.display().to_string();
        let sq = |e: rusqlite::Error| LabError::Sqlite { path: path.clone(), source: e };
        let tx = self.conn.transaction().map_err(sq)?;
        let s = &r.summary;
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO runs (plan_index, hash, comparison, task, optimizer, label, swept, seed, config,
                    status, error, wall_s, steps, epochs, final_loss, min_loss, final_val_loss, min_val_loss,
                    final_accuracy, best_accuracy, steps_to_target, time_to_target)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
                params![
                    plan_index as i64,
                    r.hash,
                    r.comparison,
                    r.task,
                    r.optimizer,
                    r.label,
                    serde_json::to_string(&r.swept).expect("JSON"),
                    r.seed as i64,
                    serde_json::to_string(&r.config).expect("JSON"),
                    r.status.as_str(),
                    r.error,
                    F(r.wall_s),
                    s.steps as i64,
                    s.epochs,
                    F(s.final_loss),
                    F(s.min_loss),
                    s.final_val_loss.map(F),
                    s.min_val_loss.map(F),
                    s.final_accuracy.map(F),
                    s.best_accuracy.map(F),
                    s.steps_to_target.map(|v| v as i64),
                    s.time_to_target.map(F),
                ],
            )
            .map_err(sq)?;
        if n == 0 {
            return Ok(false);
        }
        let id = tx.last_insert_rowid();
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO series (run_id, idx, step, epoch, time_s, loss, val_loss, accuracy, x)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(sq)?;
            for (i, p) in r.series.iter().enumerate() {
                st.execute(params![
                    id,
                    i as i64,
                    p.step as i64,
                    p.epoch,
                    F(p.time_s),
                    F(p.loss),
                    p.val_loss.map(F),
                    p.accuracy.map(F),
                    p.x.as_deref().map(x_json),
                ])
                .map_err(sq)?;
            }
        }
        tx.commit().map_err(sq)?;
        Ok(true)
    }

    /// Every run with its plan index, in plan order.
    pub fn runs_indexed(&self) -> Result<Vec<(usize, RunRecord)>> {
        let p = self.path.display().to_string();
        let bad = |what: String| LabError::Store(format!("`{p}`: {what}"));
        let mut st = self
            .conn
            .prepare(
                "SELECT id, plan_index, hash, comparison, task, optimizer, label, swept, seed, config, status, error,
                        wall_s, steps, epochs, final_loss, min_loss, final_val_loss, min_val_loss, final_accuracy,
                        best_accuracy, steps_to_target, time_to_target
                 FROM runs ORDER BY plan_index, id",
            )
            .map_err(self.sq())?;
        type Row = (i64, usize, RunRecord, String, String, String);
        let rows = st
            .query_map([], |r| {
                let summary = Summary {
                    steps: r.get::<_, i64>(13)? as u64,
                    epochs: r.get(14)?,
                    final_loss: req_f(r.get_ref(15)?, "final_loss")?,
                    min_loss: req_f(r.get_ref(16)?, "min_loss")?,
                    final_val_loss: read_f(r.get_ref(17)?, "final_val_loss")?,
                    min_val_loss: read_f(r.get_ref(18)?, "min_val_loss")?,
                    final_accuracy: read_f(r.get_ref(19)?, "final_accuracy")?,
                    best_accuracy: read_f(r.get_ref(20)?, "best_accuracy")?,
                    steps_to_target: r.get::<_, Option<i64>>(21)?.map(|v| v as u64),
                    time_to_target: read_f(r.get_ref(22)?, "time_to_target")?,
                };
                let rec = RunRecord {
                    hash: r.get(2)?,
                    comparison: r.get(3)?,
                    task: r.get(4)?,
                    optimizer: r.get(5)?,
                    label: r.get(6)?,
                    swept: Default::default(),
                    seed: r.get::<_, i64>(8)? as u64,
                    config: serde_json::Value::Null,
                    status: Status::Failed,
                    error: r.get(11)?,
                    wall_s: req_f(r.get_ref(12)?, "wall_s")?,
                    summary,
                    series: Vec::new(),
                };
                Ok((r.get(0)?, r.get::<_, i64>(1)? as usize, rec, r.get(7)?, r.get(9)?, r.get(10)?))
            })
            .map_err(self.sq())?
            .collect::<rusqlite::Result<Vec<Row>>>()
            .map_err(self.sq())?;
        let mut out = Vec::with_capacity(rows.len());
        let mut ids = std::collections::HashMap::new();
        for (id, idx, mut rec, swept, config, status) in rows {
            rec.swept = serde_json::from_str(&swept).map_err(|e| bad(format!("run {}: swept: {e}", rec.hash)))?;
            rec.config = serde_json::from_str(&config).map_err(|e| bad(format!("run {}: config: {e}", rec.hash)))?;
            rec.status =
                status_of(&status).ok_or_else(|| bad(format!("run {}: unknown status `{status}`", rec.hash)))?;
            ids.insert(id, out.len());
            out.push((idx, rec));
        }
        let mut st = self
            .conn
            .prepare("SELECT run_id, step, epoch, time_s, loss, val_loss, accuracy, x FROM series ORDER BY run_id, idx")
            .map_err(self.sq())?;
        let pts = st
            .query_map([], |r| {
                let p = Point {
                    step: r.get::<_, i64>(1)? as u64,
                    epoch: r.get(2)?,
                    time_s: req_f(r.get_ref(3)?, "time_s")?,
                    loss: req_f(r.get_ref(4)?, "loss")?,
                    val_loss: read_f(r.get_ref(5)?, "val_loss")?,
                    accuracy: read_f(r.get_ref(6)?, "accuracy")?,
                    x: None,
                };
                Ok((r.get::<_, i64>(0)?, p, r.get::<_, Option<String>>(7)?))
            })
            .map_err(self.sq())?;
        for row in pts {
            let (id, mut p, x) = row.map_err(self.sq())?;
            if let Some(x) = x {
                p.x = Some(parse_x(&x).map_err(|e| bad(format!("series of run id {id}: x: {e}")))?);
            }
            let i = *ids.get(&id).ok_or_else(|| bad(format!("series rows of a missing run (id {id})")))?;
            out[i].1.series.push(p);
        }
        Ok(out)
    }

    /// Every run, in plan order.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        Ok(self.runs_indexed()?.into_iter().map(|(_, r)| r).collect())
    }

    /// Adds the runs of `other` (a shard's store of the same experiment) that are not here yet.
    pub fn merge_from(&mut self, other: &Store) -> Result<MergeStats> {
        let theirs = other.experiment()?;
        match self.experiment_opt()? {
            None => self.set_experiment(&theirs)?,
            Some(mine) if mine.name != theirs.name => {
                return Err(LabError::Store(format!(
                    "cannot merge `{}` (experiment `{}`) into `{}` (experiment `{}`)",
                    other.path.display(),
                    theirs.name,
                    self.path.display(),
                    mine.name
                )))
            }
            Some(mine) if mine.source != theirs.source => {
                return Err(LabError::Store(format!(
                    "cannot merge `{}`: it ran another version of experiment `{}` (the experiment files differ)",
                    other.path.display(),
                    mine.name
                )))
            }
            Some(_) => {}
        }
        let mut stats = MergeStats::default();
        for (idx, r) in other.runs_indexed()? {
            if self.insert(idx, &r)? {
                stats.added += 1;
            } else {
                stats.skipped += 1;
            }
        }
        Ok(stats)
    }
}

/// Removes a store and its WAL side files (for `--force`).
pub fn remove_store(dir: &Path) -> Result<()> {
    for name in [DB_FILE.to_string(), format!("{DB_FILE}-wal"), format!("{DB_FILE}-shm")] {
        let p = dir.join(name);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LabError::Io { path: p.display().to_string(), source: e }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ComparisonInfo;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn info(name: &str) -> ExperimentInfo {
        ExperimentInfo {
            name: name.into(),
            title: "T".into(),
            description: "d".into(),
            source: "[experiment]\n".into(),
            comparisons: vec![ComparisonInfo {
                name: "c".into(),
                tasks: vec!["sphere".into()],
                swept: vec!["lr".into()],
                targets: BTreeMap::from([("sphere".to_string(), 1e-6)]),
                ..Default::default()
            }],
        }
    }

    fn record(hash: &str, losses: &[f64]) -> RunRecord {
        RunRecord {
            hash: hash.into(),
            comparison: "c".into(),
            task: "sphere".into(),
            optimizer: "adam".into(),
            label: "adam lr=0.1".into(),
            swept: BTreeMap::from([("lr".to_string(), "0.1".to_string())]),
            seed: u64::MAX - 3,
            config: serde_json::json!({"a": 1, "b": [0.1, 1e-300, -2.5], "c": {"d": null}}),
            status: Status::Diverged,
            error: Some("non-finite f".into()),
            wall_s: 0.125,
            summary: Summary {
                steps: 17,
                epochs: Some(3),
                final_loss: f64::NAN,
                min_loss: -0.0,
                final_val_loss: Some(f64::INFINITY),
                min_val_loss: None,
                final_accuracy: Some(0.1 + 0.2),
                best_accuracy: Some(f64::NAN),
                steps_to_target: Some(5),
                time_to_target: Some(f64::NEG_INFINITY),
            },
            series: losses
                .iter()
                .enumerate()
                .map(|(i, &l)| Point {
                    step: i as u64 * 7,
                    epoch: if i % 2 == 0 { Some(i as u32) } else { None },
                    time_s: i as f64 / 3.0,
                    loss: l,
                    val_loss: if i % 3 == 0 { None } else { Some(l * 2.0) },
                    accuracy: Some(1.0 / (i as f64 + 1.0)),
                    x: if i % 4 == 0 { None } else { Some(vec![l, -l, f64::NAN, 1.0 / 3.0, -0.0]) },
                })
                .collect(),
        }
    }

    /// Equality that treats NaN as equal to NaN and tells -0 from 0 (Debug text does both).
    fn same(a: &RunRecord, b: &RunRecord) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn round_trip_is_exact_including_non_finite_floats() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::open_dir(dir.path()).unwrap();
        st.set_experiment(&info("e")).unwrap();
        let a = record("h1", &[1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.1 + 0.2, 1e-310, -0.0]);
        let b = record("h0", &[]);
        assert!(st.insert(5, &a).unwrap());
        assert!(st.insert(2, &b).unwrap());
        drop(st);
        let st = Store::open(&dir.path().join(DB_FILE)).unwrap();
        assert_eq!(st.experiment().unwrap(), info("e"));
        let runs = st.runs().unwrap();
        assert_eq!(runs.len(), 2);
        // Plan order, not insertion order.
        assert!(same(&runs[0], &b), "{:?}\n{:?}", runs[0], b);
        assert!(same(&runs[1], &a), "{:?}\n{:?}", runs[1], a);
        assert!(runs[1].summary.min_loss.is_sign_negative());
        assert_eq!(st.done_hashes().unwrap(), ["h0".to_string(), "h1".to_string()].into_iter().collect());
    }

    #[test]
    fn a_second_insert_of_a_hash_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::open_dir(dir.path()).unwrap();
        st.set_experiment(&info("e")).unwrap();
        assert!(st.insert(0, &record("h", &[1.0, 2.0])).unwrap());
        assert!(!st.insert(0, &record("h", &[3.0])).unwrap());
        let runs = st.runs().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].series.len(), 2);
        let n: i64 = st.conn.query_row("SELECT count(*) FROM series", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn another_experiment_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::open_dir(dir.path()).unwrap();
        st.set_experiment(&info("first")).unwrap();
        let e = st.set_experiment(&info("second")).unwrap_err().to_string();
        assert!(e.contains("holds results of experiment `first`, not `second`") && e.contains("--force"), "{e}");
        // The same experiment with an edited description is fine.
        let mut i = info("first");
        i.description = "more seeds".into();
        st.set_experiment(&i).unwrap();
        assert_eq!(st.experiment().unwrap().description, "more seeds");
        drop(st);
        remove_store(dir.path()).unwrap();
        let mut st = Store::open_dir(dir.path()).unwrap();
        st.set_experiment(&info("second")).unwrap();
    }

    #[test]
    fn incompatible_schema_and_foreign_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(DB_FILE);
        drop(Store::open(&p).unwrap());
        let c = Connection::open(&p).unwrap();
        c.execute("UPDATE schema_version SET version = 99", []).unwrap();
        drop(c);
        let e = Store::open(&p).unwrap_err().to_string();
        assert!(e.contains("incompatible version of optlab (schema version 99, this optlab reads 1)"), "{e}");

        let other = dir.path().join("other.sqlite");
        let c = Connection::open(&other).unwrap();
        c.execute("CREATE TABLE t (a)", []).unwrap();
        drop(c);
        let e = Store::open(&other).unwrap_err().to_string();
        assert!(e.contains("not an optlab results store"), "{e}");

        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
        let e = Store::open(&junk).unwrap_err().to_string();
        assert!(e.contains("junk.sqlite") && e.contains("not an SQLite database"), "{e}");
    }

    #[test]
    fn merge_adds_missing_runs_and_refuses_other_experiments() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Store::open(&dir.path().join("a.sqlite")).unwrap();
        let mut b = Store::open(&dir.path().join("b.sqlite")).unwrap();
        a.set_experiment(&info("e")).unwrap();
        b.set_experiment(&info("e")).unwrap();
        a.insert(0, &record("h0", &[1.0])).unwrap();
        b.insert(1, &record("h1", &[2.0])).unwrap();
        b.insert(0, &record("h0", &[1.0])).unwrap();
        let mut m = Store::open(&dir.path().join("m.sqlite")).unwrap();
        assert_eq!(m.merge_from(&b).unwrap(), MergeStats { added: 2, skipped: 0 });
        assert_eq!(m.merge_from(&a).unwrap(), MergeStats { added: 0, skipped: 1 });
        let hashes: Vec<String> = m.runs().unwrap().into_iter().map(|r| r.hash).collect();
        assert_eq!(hashes, ["h0", "h1"]);
        let mut c = Store::open(&dir.path().join("c.sqlite")).unwrap();
        c.set_experiment(&info("other")).unwrap();
        let e = m.merge_from(&c).unwrap_err().to_string();
        assert!(e.contains("experiment `other`") && e.contains("experiment `e`"), "{e}");
        let mut d = Store::open(&dir.path().join("d.sqlite")).unwrap();
        let mut changed = info("e");
        changed.source.push_str("# edited\n");
        d.set_experiment(&changed).unwrap();
        let e = m.merge_from(&d).unwrap_err().to_string();
        assert!(e.contains("another version of experiment `e`"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_floats_round_trip(v in proptest::collection::vec(proptest::num::f64::ANY, 0..20)) {
            let dir = tempfile::tempdir().unwrap();
            let mut st = Store::open_dir(dir.path()).unwrap();
            st.set_experiment(&info("e")).unwrap();
            let r = record("h", &v);
            st.insert(0, &r).unwrap();
            let back = st.runs().unwrap();
            // NaN payloads are not kept (every NaN reads back as the one NaN); compare bit-exactly otherwise.
            let norm = |x: f64| if x.is_nan() { f64::NAN.to_bits() } else { x.to_bits() };
            prop_assert_eq!(back[0].series.len(), r.series.len());
            for (p, q) in back[0].series.iter().zip(&r.series) {
                prop_assert_eq!(norm(p.loss), norm(q.loss));
                prop_assert_eq!(p.val_loss.map(norm), q.val_loss.map(norm));
                prop_assert_eq!(p.x.as_ref().map(|x| x.iter().map(|&a| norm(a)).collect::<Vec<_>>()), q.x.as_ref().map(|x| x.iter().map(|&a| norm(a)).collect::<Vec<_>>()));
            }
        }
    }
}
