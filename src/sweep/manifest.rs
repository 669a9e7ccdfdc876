//! `sweep.json`: what a sweep folder holds, so `--resume` and `merge` can check that they
//! join like with like.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::compile::Sweep;
use super::run::Shard;
use super::spec::Method;
use super::{table, SweepError};
use crate::output::write_atomic;

/// File name of the manifest in a sweep folder.
pub const MANIFEST: &str = "sweep.json";

/// `sweep.json`: what a folder holds, so resume and merge can check they join like with like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// kneetrack version.
    pub kneetrack: String,
    /// Sweep name.
    pub sweep: String,
    /// Hash of the sweep and base scenario texts and of every data file a variant reads
    /// (hex).
    pub hash: String,
    /// Sampling method.
    pub method: Method,
    /// Seed of the sampled methods.
    pub seed: u64,
    /// Variants in the whole sweep.
    pub variants: u64,
    /// Axis keys and their grid lengths.
    pub axes: Vec<AxisInfo>,
    /// Metric of sweep.svg.
    pub plot: String,
    /// Table columns.
    pub columns: Vec<String>,
    /// `i/n` for a shard, null for the whole sweep.
    pub shard: Option<String>,
    /// The slice held: variants `first..end`.
    pub first: u64,
    /// End of the slice (exclusive).
    pub end: u64,
    /// Whether sweep.csv holds the whole slice.
    pub complete: bool,
    /// Failed variants in the slice (when complete).
    pub failed: Option<u64>,
}

/// An axis in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisInfo {
    /// The dotted scenario key.
    pub key: String,
    /// Grid points (grid sweeps).
    pub len: Option<u64>,
}

impl Manifest {
    /// The manifest of a sweep's slice `range` (not yet complete).
    pub fn new(sweep: &Sweep, shard: Option<Shard>, range: &std::ops::Range<u64>) -> Self {
        Self {
            kneetrack: env!("CARGO_PKG_VERSION").into(),
            sweep: sweep.name.clone(),
            hash: format!("{:016x}", sweep.hash),
            method: sweep.method,
            seed: sweep.seed,
            variants: sweep.variants,
            axes: sweep
                .axes
                .iter()
                .map(|a| AxisInfo {
                    key: a.key.clone(),
                    len: (sweep.method == Method::Grid).then(|| a.len()),
                })
                .collect(),
            plot: sweep.plot_metric.clone(),
            columns: table::split(
                table::header(sweep.axes.iter().map(|a| a.key.as_str())).trim_end(),
            ),
            shard: shard.map(|s| format!("{}/{}", s.index, s.count)),
            first: range.start,
            end: range.end,
            complete: false,
            failed: None,
        }
    }

    /// Writes `dir/sweep.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), SweepError> {
        let mut text = serde_json::to_string_pretty(self).expect("manifest serialises");
        text.push('\n');
        write_atomic(&dir.join(MANIFEST), text.as_bytes())?;
        Ok(())
    }

    /// Reads `dir/sweep.json`; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Self>, SweepError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SweepError::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SweepError::Folder {
                dir: dir.into(),
                message: format!("{MANIFEST} is not a kneetrack sweep manifest: {e}"),
            })
    }

    /// The table's header line, newline included.
    pub fn header(&self) -> String {
        self.columns.join(",") + "\n"
    }
}
