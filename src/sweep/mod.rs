//! Parameter sweeps: a base scenario plus axes (DESIGN.md §8), run in parallel with one
//! task per variant, streamed to disk as variants finish, resumable after a kill, and
//! splittable into deterministic shards for a cluster job array (§10).
//!
//! Data flow: sweep TOML → [`load_sweep`] (parse + validate every axis against the base
//! scenario) → [`run_sweep`] (variants → journal `sweep.csv.partial` → sorted `sweep.csv`,
//! `sweep.json` manifest, `sweep.svg`) → optionally [`merge()`] of shard folders.
//!
//! Modules, lowest first (each uses only those above it): [`spec`] (the file as serde reads
//! it), [`sample`] (variant → unit coordinates), [`table`] (rows and their CSV),
//! [`compile`] (the checked sweep), [`manifest`] (`sweep.json`), [`plot`] (`sweep.svg`),
//! [`lock`] (one process per folder), [`journal`] (checksummed rows, resume, the sorted
//! table), [`progress`], [`pool`] (the workers), [`run`] and [`mod@merge`].

pub mod compile;
pub mod journal;
pub mod lock;
pub mod manifest;
pub mod merge;
pub mod plot;
pub mod pool;
pub mod progress;
pub mod run;
pub mod sample;
pub mod spec;
pub mod table;

use std::path::PathBuf;

pub use compile::{load_sweep, Axis, AxisValues, Sweep};
pub use manifest::Manifest;
pub use merge::{merge, MergeReport};
pub use progress::ProgressMode;
pub use run::{run_sweep, RunOptions, Shard, SweepReport};
pub use spec::{Method, SweepSpec};
pub use table::{Row, METRICS};

/// Sweeps above this many variants need an explicit `--allow-huge`.
pub const MAX_VARIANTS: u64 = 10_000_000;

/// A sweep that cannot be run or merged. The CLI exits with code 2 for input errors and 1
/// for I/O errors.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The sweep file could not be read.
    #[error("{path}: cannot read the sweep file: {source}")]
    Read {
        /// The sweep file.
        path: PathBuf,
        #[source]
        /// What the OS or the reader said.
        source: std::io::Error,
    },
    /// TOML syntax, unknown key or wrong type in the sweep file.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, and what to do.
        message: String,
    },
    /// A sweep setting that cannot be used.
    #[error("{path}:{line}: {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: usize,
        /// The dotted key.
        key: String,
        /// What is wrong, and what to do.
        message: String,
    },
    /// An axis whose key or value the base scenario does not accept.
    #[error("{path}:{line}: axis {key} = {value}: {message}")]
    Axis {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: usize,
        /// The dotted key.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong, and what to do.
        message: String,
    },
    /// The base scenario is itself invalid.
    #[error(transparent)]
    Base(#[from] crate::scenario::ScenarioError),
    /// Too many variants or too much output without `--allow-huge`.
    #[error("{0}")]
    TooLarge(String),
    /// `--resume` on a folder that holds another sweep, or a run over an unfinished one.
    #[error("{dir}: {message}")]
    Folder {
        /// The folder.
        dir: PathBuf,
        /// What is wrong, and what to do.
        message: String,
    },
    /// The worker pool could not be started (checked before the folder is touched).
    #[error("--threads {threads}: cannot start the worker pool: {message}")]
    Threads {
        /// Workers asked for.
        threads: usize,
        /// What the pool said.
        message: String,
    },
    /// Shards that do not add up to the whole sweep.
    #[error("merge: {0}")]
    Merge(String),
    /// Reading or writing outputs failed.
    #[error("{path}: {source}")]
    Io {
        /// The sweep file.
        path: PathBuf,
        #[source]
        /// What the OS or the reader said.
        source: std::io::Error,
    },
}

impl From<crate::output::OutputError> for SweepError {
    fn from(e: crate::output::OutputError) -> Self {
        match e {
            crate::output::OutputError::Io { path, source } => SweepError::Io { path, source },
            crate::output::OutputError::Target { path, message } => {
                SweepError::Folder { dir: path, message }
            }
        }
    }
}

impl SweepError {
    /// Whether the error is the user's input (exit code 2) rather than I/O (exit code 1).
    pub fn is_input(&self) -> bool {
        !matches!(self, SweepError::Io { .. })
    }
}
