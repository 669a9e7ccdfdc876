//! Writers: frames.csv, summary.json and SVG plots. Everything is rendered in memory first,
//! then the whole set is written into a temporary folder and moved into place
//! ([`set::write_set`]), so a crash, a kill or a full disk never leaves a partial set, and
//! no file of an earlier run stays beside the new ones. Single files (a sweep's table,
//! plot and manifest) go through [`write_atomic`]: a uniquely named temporary file in the
//! same folder, synced, then renamed.

pub mod csv;
pub mod set;
pub mod svg;

pub use set::{check_target, write_set, write_set_from};

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::experiment::{summarize, Metrics, RunResult};
use crate::scenario::{Compiled, Format, ScenarioSpec};

/// Writing outputs failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Reading or writing failed (exit code 1).
    #[error("{path}: cannot write: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The output folder cannot be used (a file, the root…): the user's input (exit code 2).
    #[error("{path}: {message}")]
    Target {
        /// The output folder given.
        path: PathBuf,
        /// Why it cannot be used.
        message: String,
    },
}

impl OutputError {
    /// Whether the error is the user's input (exit code 2) rather than I/O (exit code 1).
    pub fn is_input(&self) -> bool {
        matches!(self, OutputError::Target { .. })
    }
}

/// summary.json.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// kneetrack version that produced the file.
    pub version: &'static str,
    /// The scenario with every default resolved.
    pub scenario: &'a ScenarioSpec,
    /// Hash of the model parameters (hex).
    pub model_hash: String,
    /// Number of patella contact elements.
    pub elements: usize,
    /// What knee it was: model, files and their hashes, element count, layer thickness.
    pub knee: &'a crate::model::KneeDescription,
    /// Q-angle the model has with its tuberosity, degrees.
    pub q_angle_effective_deg: f64,
    /// The metrics.
    pub metrics: Metrics,
}

/// Writes `bytes` to `path` atomically: a uniquely named temporary file in the same folder
/// (two processes never share one; it is removed if anything fails), synced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let err = |source| OutputError::Io {
        path: path.into(),
        source,
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let mut f = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.as_file().sync_all().map_err(err)?;
    f.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Renders every requested output of a run. Returns (file name, contents) pairs.
pub fn render(compiled: &Compiled, run: &RunResult) -> Vec<(String, Vec<u8>)> {
    let model = &compiled.model;
    let mut files = Vec::new();
    for format in &compiled.formats {
        match format {
            Format::Csv => {
                files.push((
                    "frames.csv".to_string(),
                    csv::frames_csv(model, run).into_bytes(),
                ));
                if let RunResult::Stability(s) = run {
                    files.push((
                        "stability.csv".to_string(),
                        csv::stability_csv(s).into_bytes(),
                    ));
                }
            }
            Format::Json => {
                let summary = Summary {
                    version: env!("CARGO_PKG_VERSION"),
                    scenario: &compiled.spec,
                    model_hash: format!("{:016x}", model.hash),
                    elements: model.patella.len(),
                    knee: &model.knee,
                    q_angle_effective_deg: model.q_angle_effective_deg,
                    metrics: summarize(model, run),
                };
                let mut text = serde_json::to_string_pretty(&summary).expect("summary serialises");
                text.push('\n');
                files.push(("summary.json".to_string(), text.into_bytes()));
            }
            Format::Sto => {
                if let RunResult::Gait(g) = run {
                    files.push(("results.sto".to_string(), sto(compiled, g).into_bytes()));
                }
            }
            Format::Svg => files.extend(
                svg::plots(compiled, run)
                    .into_iter()
                    .map(|(n, s)| (n, s.into_bytes())),
            ),
        }
    }
    files
}

/// Columns of results.sto (OpenSim Storage, degrees; forces in N).
pub const STO_COLUMNS: &[&str] = &[
    "cycle_pct",
    "knee_angle",
    "hip_adduction",
    "hip_rotation",
    "quadriceps_force",
    "patellar_tendon_force",
    "pf_contact_force",
    "pf_lateral_force",
    "lateral_share",
    "contact_area_mm2",
    "peak_pressure_mpa",
    "patella_lateral_shift_mm",
    "patella_lateral_tilt",
    "patella_flexion",
    "itb_tension",
    "converged",
];

/// A gait run's results over time as an OpenSim Storage file, so they load into OpenSim's
/// plotting and analysis tools next to the IK/ID data.
pub fn sto(compiled: &Compiled, g: &crate::experiment::GaitRun) -> String {
    let rows: Vec<(f64, Vec<f64>)> = g
        .frames
        .iter()
        .map(|f| {
            let r = &f.result;
            (
                f.sample.time_s,
                vec![
                    f.sample.cycle_pct,
                    r.knee.flexion.to_degrees(),
                    f.drive.hip_adduction_deg,
                    f.drive.hip_rotation_deg,
                    r.quadriceps_force_n,
                    r.patellar_tendon_n,
                    r.contact.force_n,
                    r.contact.lateral_force_n,
                    r.contact.lateral_share,
                    r.contact.area_mm2,
                    r.contact.peak_pressure_mpa,
                    r.tracking.shift_mm,
                    r.tracking.tilt.to_degrees(),
                    r.tracking.flexion.to_degrees(),
                    f.drive.itb_tension_n,
                    f64::from(u8::from(r.status.converged())),
                ],
            )
        })
        .collect();
    crate::gait::opensim::write_storage(
        &format!("kneetrack_{}", compiled.name),
        true,
        STO_COLUMNS,
        &rows,
    )
}

/// Writes a run's outputs into `dir` as one set, all or nothing ([`set::write_set`]).
/// Returns the paths written.
pub fn write_outputs(
    compiled: &Compiled,
    run: &RunResult,
    dir: &Path,
) -> Result<Vec<PathBuf>, OutputError> {
    write_set(dir, render(compiled, run))
}
