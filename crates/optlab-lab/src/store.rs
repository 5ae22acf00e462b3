//! The results store: one SQLite database (`results.sqlite` in the output folder).
//!
//! Tables: `schema_version`, `experiment` (one row: name and the [`ExperimentInfo`] as JSON),
//! `runs` (one row per run: identity, hash UNIQUE, configuration JSON, summary columns, status,
//! error, wall time) and `series` (one row per point); `step_series` (network runs: one row per
//! logged step: step, epoch, loss, lr, gradient norm); `plan` (the runs of the plan last run),
//! `meta` (plan digest, shard) and `claims` (runs being run, by whom). Each run's rows are
//! written in one transaction, in WAL mode, so a process killed at any moment leaves every
//! completed run and nothing of the others. A new store is created inside one write transaction,
//! so processes opening it at once all succeed; sources of a merge or a report are opened
//! read-only ([`Store::open_read_only`]). Non-finite floats are kept faithfully: a finite value
//! is a REAL, and NaN, ±inf and −0 are stored as the text `NaN`, `inf`, `-inf`, `-0` (in `x`
//! JSON arrays, as strings).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, ToSql, TransactionBehavior};
use sha2::{Digest, Sha256};

use crate::error::{LabError, Result};
use crate::plan::Shard;
use crate::record::{ExperimentInfo, Point, RunRecord, Status, StepPoint, Summary};

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
    time_to_target,
    termination TEXT,
    evals INTEGER
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
        "pruned" => Some(Status::Pruned),
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

/// One run of the plan a store was last run with (the `plan` table): what is needed to tell
/// which runs of the current plan are stored, and to name the missing ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanEntry {
    pub hash: String,
    pub plan_index: usize,
    pub comparison: String,
    pub task: String,
    pub label: String,
    pub seed: u64,
}

/// A stored run as the runner sees it before running: its row id and whether it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredRun {
    pub id: i64,
    pub failed: bool,
}

/// Who runs a run: one call of the runner in one process on one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Unique: host, pid, start time and a counter.
    pub token: String,
    pub pid: u32,
    pub host: String,
}

static LIVE_OWNERS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl Owner {
    /// A new owner for this process (registered as live until dropped with [`Owner::retire`]).
    pub fn new() -> Owner {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let host = crate::process::host_name();
        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = format!("{host}:{pid}:{}:{n}", now_s());
        LIVE_OWNERS.lock().unwrap_or_else(|e| e.into_inner()).push(token.clone());
        Owner { token, pid, host }
    }

    /// Marks this owner as finished (its leftover claims, if any, may be taken over at once).
    pub fn retire(&self) {
        LIVE_OWNERS.lock().unwrap_or_else(|e| e.into_inner()).retain(|t| t != &self.token);
    }

    /// Whether the owner of a claim (token, pid, host) is certainly gone: a process of this host
    /// that is not alive, or this process but no owner of it that is still running.
    fn is_gone(&self, token: &str, pid: u32, host: &str) -> bool {
        if host != self.host {
            return false;
        }
        if pid == self.pid {
            return !LIVE_OWNERS.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|t| t == token);
        }
        crate::process::pid_alive(pid) == Some(false)
    }
}

impl Default for Owner {
    fn default() -> Self {
        Owner::new()
    }
}

/// What [`Store::claim`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The run is now claimed by the caller: run it, then store it with [`Store::insert_claimed`].
    Claimed,
    /// The run is stored already (by another process since the caller looked): skip it.
    Stored,
    /// Another live process is running it: skip it. The text names the process.
    Busy(String),
}

/// A claim older than this (with no run finished by its owner since) may be taken over even when
/// its owner cannot be seen to be dead (another host): 12 hours.
pub const CLAIM_LEASE_S: f64 = 12.0 * 3600.0;

fn now_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Tables added after schema version 1 was first released; created when missing, so a store of
/// an older optlab keeps working (and older optlab versions ignore them).
const EXTRA_TABLES: &str = "
CREATE TABLE IF NOT EXISTS plan (
    hash TEXT PRIMARY KEY,
    plan_index INTEGER NOT NULL,
    comparison TEXT NOT NULL,
    task TEXT NOT NULL,
    label TEXT NOT NULL,
    seed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (
    hash TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    since REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS step_series (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    loss,
    lr,
    grad_norm,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS step_histograms (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    step INTEGER NOT NULL,
    grad TEXT NOT NULL,
    upd TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS landscapes (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    loss TEXT NOT NULL
);
";

/// An open results store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Opened with [`Store::open_read_only`].
    read_only: bool,
    /// Has the tables `plan`, `meta` and `claims` of [`EXTRA_TABLES`] (false only for an older
    /// store opened read-only).
    extra: bool,
    /// Has the `step_series` table (false only for a store of an optlab before step logging,
    /// opened read-only: its runs have no step series).
    steps_table: bool,
    /// Has the `step_histograms` table (false only for an older store opened read-only).
    hist_table: bool,
    /// Has the `landscapes` table (false only for an older store opened read-only).
    land_table: bool,
    /// Table `runs` has the `termination` column (false only for an older store opened read-only).
    termination: bool,
    /// Table `runs` has the `evals` column (false only for an older store opened read-only).
    evals: bool,
    /// Read-only without a write-ahead log: opened as immutable; the file's length and mtime when
    /// opened, to tell a file changed under the reader.
    immutable_stamp: Option<(u64, Option<std::time::SystemTime>)>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

fn not_a_database(p: &str) -> impl Fn(rusqlite::Error) -> LabError + '_ {
    move |e| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
            LabError::Store(format!("`{p}` is not an SQLite database (not an optlab results store)"))
        }
        e => LabError::Sqlite { path: p.to_string(), source: e },
    }
}

/// Checks the layout of an open database: Ok(true) for an optlab store of this schema version,
/// Ok(false) for an empty database, an error for anything else.
fn check_schema(conn: &Connection, p: &str) -> Result<bool> {
    let sq = not_a_database(p);
    let has_version: bool = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(&sq)?
        > 0;
    if has_version {
        let v: Option<i64> =
            conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).optional().map_err(&sq)?;
        if v != Some(SCHEMA_VERSION) {
            return Err(LabError::Store(format!(
                "`{p}` was made by an incompatible version of optlab (schema version {}, this optlab reads {SCHEMA_VERSION}); use another output folder",
                v.map_or("missing".to_string(), |v| v.to_string())
            )));
        }
        Ok(true)
    } else {
        let tables: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0)).map_err(&sq)?;
        if tables > 0 {
            return Err(LabError::Store(format!(
                "`{p}` is an SQLite database but not an optlab results store (no schema_version table)"
            )));
        }
        Ok(false)
    }
}

/// Inside the caller's write transaction: checks the layout, creates the tables of a new store,
/// adds the tables a store of an older optlab lacks.
fn create_if_new(conn: &Connection, p: &str) -> Result<()> {
    let sq = |e: rusqlite::Error| LabError::Sqlite { path: p.to_string(), source: e };
    if !check_schema(conn, p)? {
        conn.execute_batch(&format!("{SCHEMA} INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION});"))
            .map_err(sq)?;
    }
    conn.execute_batch(EXTRA_TABLES).map_err(sq)?;
    for (name, ty) in LATE_COLUMNS {
        if !has_column(conn, name).map_err(sq)? {
            conn.execute_batch(&format!("ALTER TABLE runs ADD COLUMN {name} {ty}")).map_err(sq)?;
        }
    }
    Ok(())
}

/// Columns of table `runs` added after schema version 1 was first released, with their types:
/// `termination` (why a run stopped) and `evals` (function evaluations, added with lbfgs). A store
/// of an older optlab gains them when opened for writing; read-only, a missing one reads as None.
const LATE_COLUMNS: [(&str, &str); 2] = [("termination", "TEXT"), ("evals", "INTEGER")];

/// Whether table `runs` has the column `name`.
fn has_column(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    let n: i64 =
        conn.query_row("SELECT count(*) FROM pragma_table_info('runs') WHERE name = ?1", [name], |r| r.get(0))?;
    Ok(n > 0)
}

/// `file:` URI of a path, percent-encoding what a URI may not hold.
fn file_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut s = String::from("file:");
    for b in abs.to_string_lossy().replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~:".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn file_stamp(path: &Path) -> (u64, Option<std::time::SystemTime>) {
    std::fs::metadata(path).map_or((0, None), |m| (m.len(), m.modified().ok()))
}

impl Store {
    /// Opens (creating if needed) the store at `path`, for reading and writing. Several processes
    /// may open a new store at once: the check of the layout and its creation happen in one write
    /// transaction, so exactly one creates it and the others find it made.
    pub fn open(path: &Path) -> Result<Store> {
        let p = path.display().to_string();
        let sq = |e: rusqlite::Error| LabError::Sqlite { path: p.clone(), source: e };
        let conn = Connection::open(path).map_err(sq)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sq)?;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(not_a_database(&p))?;
        match create_if_new(&conn, &p) {
            Ok(()) => conn.execute_batch("COMMIT").map_err(sq)?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        // Switching a rollback-journal file to WAL needs every other connection out of the way,
        // and SQLite answers "database is locked" at once there instead of waiting through the
        // busy timeout: while other processes open the same new store, retry for as long.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(e) => return Err(sq(e)),
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sq)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sq)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            read_only: false,
            extra: true,
            steps_table: true,
            hist_table: true,
            land_table: true,
            termination: true,
            evals: true,
            immutable_stamp: None,
        })
    }

    /// Opens an existing store for reading only (the sources of `optlab merge`, the store of
    /// `optlab report`): nothing in the file changes, and no `-wal`/`-shm` file is created, so a
    /// store on a read-only disk or in a read-only folder can be read. Without a `-wal` file
    /// beside it the file is complete and is read as immutable; with one (left by a killed run),
    /// the log is read too, which needs its `-shm` file (or a writable folder to make one).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let p = path.display().to_string();
        let sq = |e: rusqlite::Error| LabError::Sqlite { path: p.clone(), source: e };
        if !path.is_file() {
            return Err(LabError::Store(format!("`{p}` does not exist (no results store there)")));
        }
        let wal = PathBuf::from(format!("{p}-wal"));
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
            | rusqlite::OpenFlags::SQLITE_OPEN_URI
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let (conn, immutable_stamp) = if wal.exists() {
            let c = Connection::open_with_flags(path, flags).map_err(sq)?;
            (c, None)
        } else {
            let stamp = file_stamp(path);
            let c = Connection::open_with_flags(format!("{}?immutable=1", file_uri(path)), flags).map_err(sq)?;
            (c, Some(stamp))
        };
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sq)?;
        let opened = check_schema(&conn, &p).map_err(|e| match e {
            LabError::Sqlite { source: rusqlite::Error::SqliteFailure(f, m), .. }
                if f.code == rusqlite::ErrorCode::CannotOpen && wal.exists() =>
            {
                LabError::Store(format!(
                    "`{p}` has a write-ahead log (`{}`, left by an interrupted run) that cannot be read in a read-only folder without its -shm file: copy the folder somewhere writable and use the copy ({})",
                    wal.display(),
                    m.unwrap_or_default()
                ))
            }
            e => e,
        })?;
        if !opened {
            return Err(LabError::Store(format!("`{p}` is an empty SQLite database, not an optlab results store")));
        }
        let extra: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('plan', 'meta', 'claims')",
                [],
                |r| r.get(0),
            )
            .map_err(sq)?;
        let steps_table: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'step_series'", [], |r| {
                r.get(0)
            })
            .map_err(sq)?;
        let hist_table: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'step_histograms'",
                [],
                |r| r.get(0),
            )
            .map_err(sq)?;
        let land_table: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'landscapes'", [], |r| {
                r.get(0)
            })
            .map_err(sq)?;
        let termination = has_column(&conn, "termination").map_err(sq)?;
        let evals = has_column(&conn, "evals").map_err(sq)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            read_only: true,
            land_table: land_table == 1,
            extra: extra == 3,
            steps_table: steps_table == 1,
            hist_table: hist_table == 1,
            termination,
            evals,
            immutable_stamp,
        })
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

    fn writable(&self) -> Result<()> {
        if self.read_only {
            return Err(LabError::Store(format!("`{}` was opened read-only", self.path.display())));
        }
        Ok(())
    }

    /// For a store read as immutable: an error if the file changed since it was opened (a process
    /// wrote to it while it was read, so what was read may be inconsistent).
    fn check_unchanged(&self) -> Result<()> {
        if let Some(stamp) = self.immutable_stamp {
            let wal = PathBuf::from(format!("{}-wal", self.path.display()));
            if file_stamp(&self.path) != stamp || wal.exists() {
                return Err(LabError::Store(format!(
                    "`{}` was written to while it was being read (is an `optlab run` still using it?); try again when it has finished",
                    self.path.display()
                )));
            }
        }
        Ok(())
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
    /// an error that says so; so is a store holding runs of a comparison the experiment no longer
    /// declares (renamed or removed), before anything is written. The same experiment's
    /// description is updated (e.g. a seed added).
    pub fn set_experiment(&mut self, info: &ExperimentInfo) -> Result<()> {
        self.writable()?;
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
        let stored: Vec<(String, i64)> = {
            let mut st =
                self.conn.prepare("SELECT comparison, count(*) FROM runs GROUP BY comparison").map_err(self.sq())?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.sq())?;
            rows.collect::<rusqlite::Result<_>>().map_err(self.sq())?
        };
        let gone: Vec<&(String, i64)> =
            stored.iter().filter(|(c, _)| !info.comparisons.iter().any(|d| &d.name == c)).collect();
        if !gone.is_empty() {
            let new: Vec<String> = info
                .comparisons
                .iter()
                .filter(|d| !stored.iter().any(|(c, _)| c == &d.name))
                .map(|d| format!("`{}`", d.name))
                .collect();
            return Err(LabError::Store(format!(
                "`{}` holds {} of comparison{} {}, which experiment `{}` no longer declares{}: use --force to discard the stored results, or another --out folder (nothing was run)",
                self.path.display(),
                gone.iter().map(|(_, n)| format!("{n} run{}", if *n == 1 { "" } else { "s" })).collect::<Vec<_>>().join(" and "),
                if gone.len() == 1 { "" } else { "s" },
                gone.iter().map(|(c, _)| format!("`{c}`")).collect::<Vec<_>>().join(", "),
                info.name,
                if new.is_empty() {
                    String::new()
                } else {
                    format!(" (it declares {} instead: renamed?)", new.join(", "))
                }
            )));
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

    /// Records the plan the store is being run with (replacing the one recorded before, if it
    /// differs), in one transaction.
    pub fn set_plan(&mut self, entries: &[PlanEntry]) -> Result<()> {
        self.writable()?;
        let mut digest = Sha256::new();
        for e in entries {
            digest.update(e.hash.as_bytes());
            digest.update(format!(" {}\n", e.plan_index).as_bytes());
        }
        let digest: String = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
        if self.meta("plan_digest")?.as_deref() == Some(digest.as_str()) {
            return Ok(());
        }
        let path = self.path.display().to_string();
        let sq = |e: rusqlite::Error| LabError::Sqlite { path: path.clone(), source: e };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sq)?;
        tx.execute("DELETE FROM plan", []).map_err(sq)?;
        {
            let mut st = tx
                .prepare("INSERT INTO plan (hash, plan_index, comparison, task, label, seed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(sq)?;
            for e in entries {
                st.execute(params![e.hash, e.plan_index as i64, e.comparison, e.task, e.label, e.seed as i64])
                    .map_err(sq)?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('plan_digest', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
            params![digest],
        )
        .map_err(sq)?;
        tx.commit().map_err(sq)
    }

    /// The plan recorded by [`Store::set_plan`], in plan order (empty for a store of an older
    /// optlab, which did not record it).
    pub fn plan_entries(&self) -> Result<Vec<PlanEntry>> {
        if !self.extra {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn
            .prepare("SELECT hash, plan_index, comparison, task, label, seed FROM plan ORDER BY plan_index")
            .map_err(self.sq())?;
        let rows = st
            .query_map([], |r| {
                Ok(PlanEntry {
                    hash: r.get(0)?,
                    plan_index: r.get::<_, i64>(1)? as usize,
                    comparison: r.get(2)?,
                    task: r.get(3)?,
                    label: r.get(4)?,
                    seed: r.get::<_, i64>(5)? as u64,
                })
            })
            .map_err(self.sq())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(self.sq())
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        if !self.extra {
            return Ok(None);
        }
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| r.get(0))
            .optional()
            .map_err(self.sq())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.writable()?;
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                params![key, value],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    /// Records the shard the store was last run for (`None`: the whole plan).
    pub fn set_shard(&mut self, shard: Option<Shard>) -> Result<()> {
        self.set_meta("shard", &shard.map_or("all".to_string(), |s| format!("{}/{}", s.index, s.count)))
    }

    /// The shard recorded by [`Store::set_shard`]: `Ok(None)` for the whole plan or when nothing
    /// was recorded (a merged store, or one of an older optlab).
    pub fn shard(&self) -> Result<Option<Shard>> {
        match self.meta("shard")? {
            None => Ok(None),
            Some(s) if s == "all" => Ok(None),
            Some(s) => s.parse::<Shard>().map(Some).map_err(|_| {
                LabError::Store(format!("`{}`: unreadable shard `{s}` in table meta", self.path.display()))
            }),
        }
    }

    /// The stored runs by hash (for the runner: which to skip, which failed ones to retry).
    pub fn stored_runs(&self) -> Result<std::collections::HashMap<String, StoredRun>> {
        let mut st = self.conn.prepare("SELECT hash, id, status FROM runs").map_err(self.sq())?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, StoredRun { id: r.get(1)?, failed: r.get::<_, String>(2)? == "failed" }))
            })
            .map_err(self.sq())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.sq())
    }

    /// Claims run `hash` for `owner`, in one write transaction: [`Claim::Stored`] if it is stored
    /// (unless it is the failed row `retry` the caller means to run again), [`Claim::Busy`] if
    /// another owner holds a claim on it that is alive (a claim of a dead process of this host, or
    /// one older than [`CLAIM_LEASE_S`], is taken over), else [`Claim::Claimed`].
    pub fn claim(&mut self, hash: &str, owner: &Owner, retry: Option<i64>) -> Result<Claim> {
        self.writable()?;
        let path = self.path.display().to_string();
        let sq = |e: rusqlite::Error| LabError::Sqlite { path: path.clone(), source: e };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sq)?;
        let row: Option<(i64, String)> = tx
            .query_row("SELECT id, status FROM runs WHERE hash = ?1", params![hash], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(sq)?;
        if let Some((id, status)) = row {
            if !(status == "failed" && retry == Some(id)) {
                return Ok(Claim::Stored);
            }
        }
        let held: Option<(String, i64, String, f64)> = tx
            .query_row("SELECT owner, pid, host, since FROM claims WHERE hash = ?1", params![hash], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .map_err(sq)?;
        let now = now_s();
        if let Some((token, pid, host, since)) = held {
            let expired = now - since > CLAIM_LEASE_S;
            if token != owner.token && !expired && !owner.is_gone(&token, pid as u32, &host) {
                return Ok(Claim::Busy(format!("process {pid} on host {host}")));
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO claims (hash, owner, pid, host, since) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![hash, owner.token, owner.pid as i64, owner.host, now],
        )
        .map_err(sq)?;
        tx.commit().map_err(sq)?;
        Ok(Claim::Claimed)
    }

    /// Stores a run claimed by `owner` and drops the claim, in one transaction; the owner's other
    /// claims are renewed (so the lease counts from its last finished run). Returns whether the
    /// run was stored (false: stored already).
    pub fn insert_claimed(&mut self, plan_index: usize, r: &RunRecord, owner: &Owner) -> Result<bool> {
        self.writable()?;
        let path = self.path.display().to_string();
        let sq = |e: rusqlite::Error| LabError::Sqlite { path: path.clone(), source: e };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sq)?;
        let stored = insert_tx(&tx, plan_index, r, true, &path)?;
        tx.execute("DELETE FROM claims WHERE hash = ?1 AND owner = ?2", params![r.hash, owner.token]).map_err(sq)?;
        tx.execute("UPDATE claims SET since = ?1 WHERE owner = ?2", params![now_s(), owner.token]).map_err(sq)?;
        tx.commit().map_err(sq)?;
        Ok(stored)
    }

    /// Drops every claim of `owner` (when a runner stops early).
    pub fn release_claims(&mut self, owner: &Owner) -> Result<()> {
        self.writable()?;
        self.conn.execute("DELETE FROM claims WHERE owner = ?1", params![owner.token]).map_err(self.sq())?;
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

    /// Stores a run (its row and all its points in one transaction). A stored failed run of the
    /// same hash is replaced (a retry); otherwise returns false, storing nothing, when a run with
    /// the same hash is there already.
    pub fn insert(&mut self, plan_index: usize, r: &RunRecord) -> Result<bool> {
        self.insert_with(plan_index, r, true)
    }

    fn insert_with(&mut self, plan_index: usize, r: &RunRecord, replace_failed: bool) -> Result<bool> {
        self.writable()?;
        let path = self.path.display().to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LabError::Sqlite { path: path.clone(), source: e })?;
        let stored = insert_tx(&tx, plan_index, r, replace_failed, &path)?;
        tx.commit().map_err(|e| LabError::Sqlite { path: path.clone(), source: e })?;
        Ok(stored)
    }

    /// Every run with its plan index, in plan order.
    pub fn runs_indexed(&self) -> Result<Vec<(usize, RunRecord)>> {
        self.read_runs(true)
    }

    /// Every run in plan order without its series (`series` empty): what the tuning protocol's
    /// choice reads, without loading every point.
    pub fn summaries(&self) -> Result<Vec<RunRecord>> {
        Ok(self.read_runs(false)?.into_iter().map(|(_, r)| r).collect())
    }

    fn read_runs(&self, with_series: bool) -> Result<Vec<(usize, RunRecord)>> {
        // One read transaction: the runs and their series come from the same snapshot, even while
        // other processes store runs (between two separate SELECTs a run committed elsewhere
        // showed up as "series rows of a missing run").
        let snapshot = self.conn.unchecked_transaction().map_err(self.sq())?;
        let out = self.runs_in_snapshot(with_series)?;
        snapshot.commit().map_err(self.sq())?;
        self.check_unchanged()?;
        Ok(out)
    }

    /// The body of [`Store::read_runs`], inside its read transaction.
    fn runs_in_snapshot(&self, with_series: bool) -> Result<Vec<(usize, RunRecord)>> {
        let p = self.path.display().to_string();
        let bad = |what: String| LabError::Store(format!("`{p}`: {what}"));
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT id, plan_index, hash, comparison, task, optimizer, label, swept, seed, config, status, error,
                        wall_s, steps, epochs, final_loss, min_loss, final_val_loss, min_val_loss, final_accuracy,
                        best_accuracy, steps_to_target, time_to_target, {}, {}
                 FROM runs ORDER BY plan_index, id",
                if self.termination { "termination" } else { "NULL" },
                if self.evals { "evals" } else { "NULL" }
            ))
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
                    termination: r.get(23)?,
                    evals: r.get::<_, Option<i64>>(24)?.map(|v| v as u64),
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
                    step_series: Vec::new(),
                    histograms: Vec::new(),
                    landscape: None,
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
        if !with_series {
            return Ok(out);
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
        if self.steps_table {
            let mut st = self
                .conn
                .prepare("SELECT run_id, step, epoch, loss, lr, grad_norm FROM step_series ORDER BY run_id, idx")
                .map_err(self.sq())?;
            let pts = st
                .query_map([], |r| {
                    let p = StepPoint {
                        step: r.get::<_, i64>(1)? as u64,
                        epoch: r.get(2)?,
                        loss: req_f(r.get_ref(3)?, "loss")?,
                        lr: read_f(r.get_ref(4)?, "lr")?,
                        grad_norm: read_f(r.get_ref(5)?, "grad_norm")?,
                    };
                    Ok((r.get::<_, i64>(0)?, p))
                })
                .map_err(self.sq())?;
            for row in pts {
                let (id, p) = row.map_err(self.sq())?;
                let i = *ids.get(&id).ok_or_else(|| bad(format!("step_series rows of a missing run (id {id})")))?;
                out[i].1.step_series.push(p);
            }
        }
        if self.hist_table {
            let mut st = self
                .conn
                .prepare("SELECT run_id, step, grad, upd FROM step_histograms ORDER BY run_id, idx")
                .map_err(self.sq())?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .map_err(self.sq())?;
            for row in rows {
                let (id, step, grad, upd) = row.map_err(self.sq())?;
                let counts = |t: &str, what: &str| -> Result<Vec<u64>> {
                    let v = t
                        .split(',')
                        .map(|c| c.parse::<u64>())
                        .collect::<std::result::Result<Vec<u64>, _>>()
                        .map_err(|e| bad(format!("step_histograms of run id {id}, step {step}: {what}: {e}")))?;
                    if v.len() != optlab_nn::histogram::BINS {
                        return Err(bad(format!(
                            "step_histograms of run id {id}, step {step}: {what} has {} counts, expected {}",
                            v.len(),
                            optlab_nn::histogram::BINS
                        )));
                    }
                    Ok(v)
                };
                let h = optlab_nn::StepHistogram { step, grad: counts(&grad, "grad")?, update: counts(&upd, "upd")? };
                let i = *ids.get(&id).ok_or_else(|| bad(format!("step_histograms rows of a missing run (id {id})")))?;
                out[i].1.histograms.push(h);
            }
        }
        if self.land_table {
            let mut st = self.conn.prepare("SELECT run_id, a, b, loss FROM landscapes").map_err(self.sq())?;
            let rows = st
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
                })
                .map_err(self.sq())?;
            for row in rows {
                let (id, a, b, loss) = row.map_err(self.sq())?;
                let nums = |t: &str, what: &str| -> Result<Vec<f64>> {
                    t.split(',')
                        .map(|c| c.parse::<f64>())
                        .collect::<std::result::Result<Vec<f64>, _>>()
                        .map_err(|e| bad(format!("landscapes of run id {id}: {what}: {e}")))
                };
                let s =
                    optlab_nn::landscape::Surface { a: nums(&a, "a")?, b: nums(&b, "b")?, loss: nums(&loss, "loss")? };
                if s.loss.len() != s.a.len() * s.b.len() || s.a.len() < 2 || s.b.len() < 2 {
                    return Err(bad(format!(
                        "landscapes of run id {id}: {} losses for a grid of {} × {} points",
                        s.loss.len(),
                        s.a.len(),
                        s.b.len()
                    )));
                }
                let i = *ids.get(&id).ok_or_else(|| bad(format!("landscapes row of a missing run (id {id})")))?;
                out[i].1.landscape = Some(s);
            }
        }
        Ok(out)
    }

    /// The status and per-epoch series (step, epoch, time, losses, accuracy; no iterates) of
    /// the stored runs among `hashes`, by hash (a run not stored is absent): what a pruned trial
    /// reads of the earlier trials of its group ([`crate::prune`]).
    pub fn curves(&self, hashes: &[&str]) -> Result<HashMap<String, (Status, Vec<Point>)>> {
        let p = self.path.display().to_string();
        let snapshot = self.conn.unchecked_transaction().map_err(self.sq())?;
        let mut run = self.conn.prepare("SELECT id, status FROM runs WHERE hash = ?1").map_err(self.sq())?;
        let mut series = self
            .conn
            .prepare("SELECT step, epoch, time_s, loss, val_loss, accuracy FROM series WHERE run_id = ?1 ORDER BY idx")
            .map_err(self.sq())?;
        let mut out = HashMap::new();
        for &h in hashes {
            let row: Option<(i64, String)> =
                run.query_row(params![h], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(self.sq())?;
            let Some((id, status)) = row else { continue };
            let status = status_of(&status)
                .ok_or_else(|| LabError::Store(format!("`{p}`: run {h}: unknown status `{status}`")))?;
            let pts = series
                .query_map(params![id], |r| {
                    Ok(Point {
                        step: r.get::<_, i64>(0)? as u64,
                        epoch: r.get(1)?,
                        time_s: req_f(r.get_ref(2)?, "time_s")?,
                        loss: req_f(r.get_ref(3)?, "loss")?,
                        val_loss: read_f(r.get_ref(4)?, "val_loss")?,
                        accuracy: read_f(r.get_ref(5)?, "accuracy")?,
                        x: None,
                    })
                })
                .map_err(self.sq())?
                .collect::<rusqlite::Result<Vec<Point>>>()
                .map_err(self.sq())?;
            out.insert(h.to_string(), (status, pts));
        }
        drop((run, series));
        snapshot.commit().map_err(self.sq())?;
        Ok(out)
    }

    /// Every run, in plan order.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        Ok(self.runs_indexed()?.into_iter().map(|(_, r)| r).collect())
    }

    /// Adds the runs of `other` (a shard's store of the same experiment) that are not here yet
    /// (a run stored here as failed is replaced by one of `other` that did not fail), and the
    /// plan `other` recorded when none is recorded here.
    pub fn merge_from(&mut self, other: &Store) -> Result<MergeStats> {
        self.writable()?;
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
        if self.plan_entries()?.is_empty() {
            let plan = other.plan_entries()?;
            if !plan.is_empty() {
                self.set_plan(&plan)?;
            }
        }
        let mut stats = MergeStats::default();
        for (idx, r) in other.runs_indexed()? {
            if self.insert_with(idx, &r, false)? {
                stats.added += 1;
            } else {
                stats.skipped += 1;
            }
        }
        Ok(stats)
    }
}

/// Inserts a run inside `tx`. An existing row of the same hash is kept (returns false) unless it
/// failed and `replace_failed` is set (a retried run) or the new run did not fail (a merge).
fn insert_tx(
    tx: &rusqlite::Transaction<'_>,
    plan_index: usize,
    r: &RunRecord,
    replace_failed: bool,
    path: &str,
) -> Result<bool> {
    let sq = |e: rusqlite::Error| LabError::Sqlite { path: path.to_string(), source: e };
    let existing: Option<(i64, String)> = tx
        .query_row("SELECT id, status FROM runs WHERE hash = ?1", params![r.hash], |q| Ok((q.get(0)?, q.get(1)?)))
        .optional()
        .map_err(sq)?;
    if let Some((id, status)) = existing {
        if status != "failed" || !(replace_failed || r.status != Status::Failed) {
            return Ok(false);
        }
        tx.execute("DELETE FROM series WHERE run_id = ?1", params![id]).map_err(sq)?;
        tx.execute("DELETE FROM step_series WHERE run_id = ?1", params![id]).map_err(sq)?;
        tx.execute("DELETE FROM step_histograms WHERE run_id = ?1", params![id]).map_err(sq)?;
        tx.execute("DELETE FROM landscapes WHERE run_id = ?1", params![id]).map_err(sq)?;
        tx.execute("DELETE FROM runs WHERE id = ?1", params![id]).map_err(sq)?;
    }
    let s = &r.summary;
    let n = tx
            .execute(
                "INSERT INTO runs (plan_index, hash, comparison, task, optimizer, label, swept, seed, config,
                    status, error, wall_s, steps, epochs, final_loss, min_loss, final_val_loss, min_val_loss,
                    final_accuracy, best_accuracy, steps_to_target, time_to_target, termination, evals)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
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
                    s.termination,
                    s.evals.map(|v| v as i64),
                ],
            )
            .map_err(sq)?;
    debug_assert_eq!(n, 1);
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
        let mut st = tx
            .prepare_cached(
                "INSERT INTO step_series (run_id, idx, step, epoch, loss, lr, grad_norm)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(sq)?;
        for (i, p) in r.step_series.iter().enumerate() {
            st.execute(params![id, i as i64, p.step as i64, p.epoch, F(p.loss), p.lr.map(F), p.grad_norm.map(F)])
                .map_err(sq)?;
        }
        let mut st = tx
            .prepare_cached("INSERT INTO step_histograms (run_id, idx, step, grad, upd) VALUES (?1, ?2, ?3, ?4, ?5)")
            .map_err(sq)?;
        let text = |c: &[u64]| c.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",");
        for (i, h) in r.histograms.iter().enumerate() {
            st.execute(params![id, i as i64, h.step as i64, text(&h.grad), text(&h.update)]).map_err(sq)?;
        }
        if let Some(s) = &r.landscape {
            let text = |v: &[f64]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",");
            tx.execute(
                "INSERT INTO landscapes (run_id, a, b, loss) VALUES (?1, ?2, ?3, ?4)",
                params![id, text(&s.a), text(&s.b), text(&s.loss)],
            )
            .map_err(sq)?;
        }
    }
    Ok(true)
}

/// What a merge should warn about: shards run with different shard counts, and the plan's runs
/// that are missing (how many, per shard, and the first few by name).
pub fn merge_warnings(
    shards: &[(String, Option<Shard>)],
    plan: &[PlanEntry],
    present: &HashSet<String>,
    out: &Path,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut counts: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (dir, s) in shards {
        if let Some(s) = s {
            counts.entry(s.count).or_default().push(format!("`{dir}` (shard {}/{})", s.index, s.count));
        }
    }
    if counts.len() > 1 {
        lines.push(format!(
            "the shards were run with different shard counts: {}; shards of different counts overlap and leave runs out",
            counts.values().flatten().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if plan.is_empty() {
        lines.push("the shards do not record their plan (made by an older optlab): missing runs cannot be told".into());
        return lines;
    }
    let missing: Vec<&PlanEntry> = plan.iter().filter(|e| !present.contains(&e.hash)).collect();
    if missing.is_empty() {
        return lines;
    }
    lines.push(format!(
        "{} of the plan's {} runs are missing from `{}`; run them (e.g. the missing shards with `optlab run FILE --shard I/N`) and merge again",
        missing.len(),
        plan.len(),
        out.display()
    ));
    for &n in counts.keys() {
        let per: Vec<String> = (1..=n)
            .filter_map(|i| {
                let of = plan.iter().filter(|e| e.plan_index % n == i - 1).count();
                let m = missing.iter().filter(|e| e.plan_index % n == i - 1).count();
                (m > 0).then(|| format!("shard {i}/{n}: {m} of its {of} runs"))
            })
            .collect();
        lines.push(format!("missing by shard of {n}: {}", per.join(", ")));
    }
    for e in missing.iter().take(5) {
        lines.push(format!(
            "missing: plan index {}: `{}` on `{}` (comparison `{}`, seed {})",
            e.plan_index, e.label, e.task, e.comparison, e.seed
        ));
    }
    if missing.len() > 5 {
        lines.push(format!("... and {} more missing runs", missing.len() - 5));
    }
    lines
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
                termination: Some("diverged".into()),
                evals: Some(40),
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
            step_series: losses
                .iter()
                .enumerate()
                .map(|(i, &l)| StepPoint {
                    step: i as u64 * 3,
                    epoch: 1 + i as u32 / 2,
                    loss: l * 0.5,
                    lr: if i % 2 == 0 { Some(1e-3 / (i as f64 + 1.0)) } else { None },
                    grad_norm: if i % 3 == 0 { None } else { Some(l.abs() + 0.1) },
                })
                .collect(),
            histograms: (0..losses.len().min(2))
                .map(|i| {
                    let mut grad = vec![0; optlab_nn::histogram::BINS];
                    let mut update = vec![0; optlab_nn::histogram::BINS];
                    grad[10 + i] = 7 + i as u64;
                    update[0] = 3;
                    update[57] = u64::MAX;
                    optlab_nn::StepHistogram { step: i as u64 * 3, grad, update }
                })
                .collect(),
            landscape: (losses.len() >= 2).then(|| optlab_nn::landscape::Surface {
                a: vec![-1.0, 0.0, 1.0 / 3.0],
                b: vec![-0.5, 0.5],
                loss: vec![losses[0], 0.1, f64::NAN, f64::INFINITY, 2.5e-7, losses[1]],
            }),
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

    /// A store of an older optlab lacks a late column (`termination`, or `evals` from before
    /// lbfgs): read-only it reads as None, and opened for writing it gets the column.
    #[test]
    fn a_store_without_a_late_column_reads_and_gains_it() {
        type Clear = fn(&mut RunRecord);
        let cases: [(&str, Clear); 2] =
            [("termination", |r| r.summary.termination = None), ("evals", |r| r.summary.evals = None)];
        assert_eq!(cases.map(|c| c.0), LATE_COLUMNS.map(|c| c.0));
        for (column, clear) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(DB_FILE);
            let mut old = record("h1", &[1.0]);
            {
                let mut st = Store::open(&path).unwrap();
                st.set_experiment(&info("e")).unwrap();
                st.insert(0, &old).unwrap();
            }
            {
                let c = Connection::open(&path).unwrap();
                c.execute_batch(&format!("ALTER TABLE runs DROP COLUMN {column}")).unwrap();
                assert!(!has_column(&c, column).unwrap(), "{column}");
            }
            clear(&mut old);
            let ro = Store::open_read_only(&path).unwrap();
            assert!(same(&ro.runs().unwrap()[0], &old), "{column}");
            drop(ro);
            let mut st = Store::open(&path).unwrap();
            let new = record("h2", &[2.0]);
            st.insert(1, &new).unwrap();
            assert!(has_column(&st.conn, column).unwrap(), "{column}");
            let runs = st.runs().unwrap();
            assert!(same(&runs[0], &old) && same(&runs[1], &new), "{column}");
            assert_eq!(runs[1].summary.termination.as_deref(), Some("diverged"));
            assert_eq!(runs[1].summary.evals, Some(40));
            assert!(st.summaries().unwrap().iter().all(|r| r.series.is_empty()));
        }
    }

    #[test]
    fn parallel_first_opens_of_a_new_store_all_succeed() {
        for _ in 0..8 {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join(DB_FILE);
            let barrier = std::sync::Barrier::new(8);
            let results: Vec<std::result::Result<(), String>> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            Store::open(&p).map(|_| ()).map_err(|e| e.to_string())
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for r in &results {
                assert!(r.is_ok(), "{results:?}");
            }
            let st = Store::open(&p).unwrap();
            let n: i64 = st.conn.query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0)).unwrap();
            assert_eq!(n, 1);
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_read_only_open_changes_nothing_and_makes_no_side_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(DB_FILE);
        {
            let mut st = Store::open(&p).unwrap();
            st.set_experiment(&info("e")).unwrap();
            st.set_shard(Some(Shard::new(2, 3).unwrap())).unwrap();
            st.insert(1, &record("h1", &[1.0, 2.0])).unwrap();
        }
        assert_eq!(listing(dir.path()), [DB_FILE]);
        let bytes = std::fs::read(&p).unwrap();
        let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
        let mut ro = Store::open_read_only(&p).unwrap();
        assert_eq!(ro.runs().unwrap().len(), 1);
        assert_eq!(ro.experiment().unwrap(), info("e"));
        assert_eq!(ro.shard().unwrap(), Some(Shard::new(2, 3).unwrap()));
        assert!(ro.plan_entries().unwrap().is_empty());
        let e = ro.insert(0, &record("h0", &[1.0])).unwrap_err().to_string();
        assert!(e.contains("opened read-only"), "{e}");
        // A merge reads it.
        let mut m = Store::open(&dir.path().join("m.sqlite")).unwrap();
        assert_eq!(m.merge_from(&ro).unwrap(), MergeStats { added: 1, skipped: 0 });
        drop(m);
        std::fs::remove_file(dir.path().join("m.sqlite")).unwrap();
        drop(ro);
        assert_eq!(listing(dir.path()), [DB_FILE], "no -wal or -shm file may be made");
        assert_eq!(std::fs::read(&p).unwrap(), bytes);
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), mtime);
        let e = Store::open_read_only(&dir.path().join("none.sqlite")).unwrap_err().to_string();
        assert!(e.contains("none.sqlite") && e.contains("does not exist"), "{e}");
    }

    #[test]
    fn a_store_from_before_step_logging_reads_without_step_series_and_gains_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(DB_FILE);
        {
            let mut st = Store::open(&p).unwrap();
            st.set_experiment(&info("e")).unwrap();
            let mut r = record("h1", &[1.0, 2.0]);
            r.step_series.clear();
            st.insert(0, &r).unwrap();
            st.conn.execute_batch("DROP TABLE step_series; PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        }
        let ro = Store::open_read_only(&p).unwrap();
        let runs = ro.runs().unwrap();
        assert_eq!((runs.len(), runs[0].series.len(), runs[0].step_series.len()), (1, 2, 0));
        drop(ro);
        let mut st = Store::open(&p).unwrap();
        let b = record("h2", &[3.0, 4.0, 5.0]);
        st.insert(1, &b).unwrap();
        let runs = st.runs().unwrap();
        assert!(same(&runs[1], &b), "{:?}", runs[1]);
        assert_eq!(runs[1].step_series.len(), 3);
    }

    #[test]
    fn a_read_only_open_reads_the_log_a_killed_writer_left() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(DB_FILE);
        {
            let mut st = Store::open(&p).unwrap();
            st.set_experiment(&info("e")).unwrap();
            st.insert(0, &record("h0", &[1.0])).unwrap();
        }
        let mut st = Store::open(&p).unwrap();
        st.insert(1, &record("h1", &[2.0])).unwrap();
        // Like `kill -9`: the connection is never closed, so the log is not checkpointed.
        std::mem::forget(st);
        assert!(dir.path().join(format!("{DB_FILE}-wal")).exists());
        let ro = Store::open_read_only(&p).unwrap();
        let hashes: Vec<String> = ro.runs().unwrap().into_iter().map(|r| r.hash).collect();
        assert_eq!(hashes, ["h0", "h1"]);
    }

    #[test]
    fn an_immutable_read_notices_a_file_written_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(DB_FILE);
        {
            let mut st = Store::open(&p).unwrap();
            st.set_experiment(&info("e")).unwrap();
        }
        let ro = Store::open_read_only(&p).unwrap();
        let mut w = Store::open(&p).unwrap();
        w.insert(0, &record("h0", &[1.0])).unwrap();
        let e = ro.runs().unwrap_err().to_string();
        assert!(e.contains("was written to while it was being read"), "{e}");
    }

    #[test]
    fn claims_skip_stored_and_busy_runs_and_are_taken_over_from_dead_owners() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::open_dir(dir.path()).unwrap();
        st.set_experiment(&info("e")).unwrap();
        let (a, b) = (Owner::new(), Owner::new());
        assert_eq!(st.claim("h", &a, None).unwrap(), Claim::Claimed);
        assert_eq!(st.claim("h", &a, None).unwrap(), Claim::Claimed, "its own claim");
        assert!(
            matches!(st.claim("h", &b, None).unwrap(), Claim::Busy(m) if m.contains(&format!("process {}", a.pid)))
        );
        // A dead process of this host: taken over.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        st.conn.execute("UPDATE claims SET owner = 'gone', pid = ?1", params![dead as i64]).unwrap();
        let expect_dead = crate::process::pid_alive(dead) == Some(false);
        assert_eq!(st.claim("h", &b, None).unwrap() == Claim::Claimed, expect_dead);
        // Another host: busy until the lease has run out.
        st.conn.execute("UPDATE claims SET owner = 'far', pid = 1, host = 'elsewhere'", []).unwrap();
        assert!(matches!(st.claim("h", &a, None).unwrap(), Claim::Busy(m) if m.contains("host elsewhere")));
        st.conn.execute("UPDATE claims SET since = since - ?1", params![CLAIM_LEASE_S + 1.0]).unwrap();
        assert_eq!(st.claim("h", &a, None).unwrap(), Claim::Claimed);
        // A retired owner of this process: taken over.
        let c = Owner::new();
        assert_eq!(st.claim("g", &c, None).unwrap(), Claim::Claimed);
        assert!(matches!(st.claim("g", &a, None).unwrap(), Claim::Busy(_)));
        c.retire();
        assert_eq!(st.claim("g", &a, None).unwrap(), Claim::Claimed);
        // Stored: the claim goes with the insert; then the run is stored for everyone.
        assert!(st.insert_claimed(0, &record("h", &[1.0]), &a).unwrap());
        assert_eq!(st.claim("h", &b, None).unwrap(), Claim::Stored);
        st.release_claims(&a).unwrap();
        let n: i64 = st.conn.query_row("SELECT count(*) FROM claims", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn a_failed_run_is_replaced_by_a_retry_and_by_a_merged_result() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::open_dir(dir.path()).unwrap();
        st.set_experiment(&info("e")).unwrap();
        let mut failed = record("h", &[5.0]);
        failed.status = Status::Failed;
        failed.error = Some("missing data".into());
        assert!(st.insert(0, &failed).unwrap());
        let id = st.stored_runs().unwrap()["h"];
        assert!(id.failed);
        let a = Owner::new();
        assert_eq!(st.claim("h", &a, None).unwrap(), Claim::Stored, "not retried unless asked");
        assert_eq!(st.claim("h", &a, Some(id.id)).unwrap(), Claim::Claimed);
        let ok = record("h", &[1.0, 2.0]);
        assert!(st.insert_claimed(0, &ok, &a).unwrap());
        let runs = st.runs().unwrap();
        assert_eq!(runs.len(), 1);
        assert!(same(&runs[0], &ok));
        let n: i64 = st.conn.query_row("SELECT count(*) FROM series", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2, "the failed run's points went with it");
        let n: i64 = st.conn.query_row("SELECT count(*) FROM step_series", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2, "the failed run's logged steps went with it");
        // The row changed: a second process that saw the failed row does not run it again.
        assert_eq!(st.claim("h", &a, Some(id.id)).unwrap(), Claim::Stored);
        // A merge replaces a failed run by one that did not fail, not by another failure.
        let mut m = Store::open(&dir.path().join("m.sqlite")).unwrap();
        m.set_experiment(&info("e")).unwrap();
        m.insert(0, &failed).unwrap();
        let mut f2 = Store::open(&dir.path().join("f.sqlite")).unwrap();
        f2.set_experiment(&info("e")).unwrap();
        f2.insert(0, &failed).unwrap();
        assert_eq!(m.merge_from(&f2).unwrap(), MergeStats { added: 0, skipped: 1 });
        assert_eq!(m.merge_from(&st).unwrap(), MergeStats { added: 1, skipped: 0 });
        assert_eq!(m.runs().unwrap()[0].status, Status::Diverged);
    }

    #[test]
    fn runs_of_a_comparison_no_longer_declared_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::open_dir(dir.path()).unwrap();
        st.set_experiment(&info("e")).unwrap();
        st.insert(0, &record("h", &[1.0])).unwrap();
        let mut renamed = info("e");
        renamed.comparisons[0].name = "d".into();
        renamed.description = "renamed".into();
        let e = st.set_experiment(&renamed).unwrap_err().to_string();
        assert!(
            e.contains("holds 1 run of comparison `c`, which experiment `e` no longer declares (it declares `d` instead: renamed?)")
                && e.contains("--force"),
            "{e}"
        );
        assert_eq!(st.experiment().unwrap(), info("e"), "nothing written");
        let mut added = info("e");
        added.comparisons.push(ComparisonInfo { name: "more".into(), ..Default::default() });
        st.set_experiment(&added).unwrap();
    }

    #[test]
    fn the_plan_is_recorded_and_replaced_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::open_dir(dir.path()).unwrap();
        let entry = |h: &str, i: usize| PlanEntry {
            hash: h.into(),
            plan_index: i,
            comparison: "c".into(),
            task: "sphere".into(),
            label: "adam".into(),
            seed: i as u64,
        };
        assert!(st.plan_entries().unwrap().is_empty());
        st.set_plan(&[entry("b", 1), entry("a", 0)]).unwrap();
        assert_eq!(st.plan_entries().unwrap(), [entry("a", 0), entry("b", 1)]);
        st.set_plan(&[entry("c", 0)]).unwrap();
        assert_eq!(st.plan_entries().unwrap(), [entry("c", 0)]);
        assert_eq!(st.shard().unwrap(), None);
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
