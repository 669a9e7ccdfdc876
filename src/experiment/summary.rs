//! Summary metrics of a run (DESIGN.md §9). Gait-only metrics are `null` for rig
//! experiments: they have no stance phase, step or distance.

use serde::Serialize;

use super::{RunResult, StabilityRow};
use crate::model::Model;
use crate::step::FrameResult;

/// The metrics of summary.json.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub peak_pf_force_n: f64,
    pub peak_pf_force_bw: f64,
    pub peak_lateral_force_n: f64,
    pub lateral_share_at_peak: f64,
    pub peak_pressure_mpa: f64,
    pub mean_pressure_at_peak_mpa: f64,
    pub contact_area_at_peak_mm2: f64,
    pub max_lateral_shift_mm: f64,
    pub max_lateral_tilt_deg: f64,
    /// Gait only.
    pub peak_knee_flexion_stance_deg: Option<f64>,
    pub peak_extensor_moment_nm_per_kg: f64,
    pub peak_pt_force_bw: f64,
    /// Gait only.
    pub impulse_per_step_bw_s: Option<f64>,
    /// Gait only.
    pub steps_per_km: Option<f64>,
    /// Gait only.
    pub load_per_km_bw_s: Option<f64>,
    pub frames_converged: usize,
    pub frames_total: usize,
    /// Stability runs: the restraining force per angle and direction.
    pub restraining_force_n: Option<Vec<StabilityRow>>,
}

fn max_by(frames: &[&FrameResult], f: impl Fn(&FrameResult) -> f64) -> f64 {
    frames
        .iter()
        .map(|r| f(r))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Summarises a run.
pub fn summarize(model: &Model, run: &RunResult) -> Metrics {
    let frames: Vec<&FrameResult> = match run {
        RunResult::Flexion(r) => r.frames.iter().collect(),
        RunResult::Stability(r) => r.rows.iter().map(|row| &row.neutral).collect(),
    };
    let peak = frames
        .iter()
        .copied()
        .max_by(|a, b| a.contact.force_n.total_cmp(&b.contact.force_n))
        .expect("a run has at least one frame");
    let bw = model.body_weight_n;
    let all: Vec<&FrameResult> = match run {
        RunResult::Flexion(r) => r.frames.iter().collect(),
        RunResult::Stability(r) => r
            .rows
            .iter()
            .flat_map(|row| [&row.neutral, &row.displaced])
            .collect(),
    };
    Metrics {
        peak_pf_force_n: peak.contact.force_n,
        peak_pf_force_bw: peak.contact.force_n / bw,
        peak_lateral_force_n: max_by(&frames, |r| r.contact.lateral_force_n),
        lateral_share_at_peak: peak.contact.lateral_share,
        peak_pressure_mpa: max_by(&frames, |r| r.contact.peak_pressure_mpa),
        mean_pressure_at_peak_mpa: peak.contact.mean_pressure_mpa,
        contact_area_at_peak_mm2: peak.contact.area_mm2,
        max_lateral_shift_mm: max_by(&frames, |r| r.tracking.shift_mm),
        max_lateral_tilt_deg: max_by(&frames, |r| r.tracking.tilt.to_degrees()),
        peak_knee_flexion_stance_deg: None,
        peak_extensor_moment_nm_per_kg: max_by(&frames, |r| r.extensor_moment_nmm)
            / 1000.0
            / model.params.subject.body_mass_kg,
        peak_pt_force_bw: max_by(&frames, |r| r.patellar_tendon_n) / bw,
        impulse_per_step_bw_s: None,
        steps_per_km: None,
        load_per_km_bw_s: None,
        frames_converged: all.iter().filter(|r| r.status.converged()).count(),
        frames_total: all.len(),
        restraining_force_n: match run {
            RunResult::Stability(r) => Some(r.rows.clone()),
            _ => None,
        },
    }
}
