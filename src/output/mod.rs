//! Writers: frames.csv, summary.json and SVG plots. Everything is rendered in memory first
//! and each file is written to a temporary name and renamed into place, so a crash or a
//! full disk never leaves a half-written output.

pub mod csv;
pub mod svg;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::experiment::{summarize, Metrics, RunResult};
use crate::scenario::{Compiled, Format, ScenarioSpec};

/// Writing outputs failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot write: {source}")]
pub struct OutputError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
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

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let err = |source| OutputError {
        path: path.into(),
        source,
    };
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out")
    ));
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err)
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

/// Writes a run's outputs into `dir` (created if needed). Returns the paths written.
pub fn write_outputs(
    compiled: &Compiled,
    run: &RunResult,
    dir: &Path,
) -> Result<Vec<PathBuf>, OutputError> {
    let files = render(compiled, run);
    std::fs::create_dir_all(dir).map_err(|source| OutputError {
        path: dir.into(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}
