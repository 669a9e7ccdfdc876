//! Summary metrics of a run (DESIGN.md §9). Gait-only metrics are `null` for rig
//! experiments: they have no stance phase, step or distance.
//!
//! Gait definitions: a *step* is one foot contact; `impulse_per_step_bw_s` integrates this
//! knee's PF contact force over its stance (frames with stance weight ≥ ½, rectangle rule)
//! in body-weight seconds, averaged over cycles; `steps_per_km` counts the steps of both
//! legs (1000 m / step length, step length = speed / step rate); `load_per_km_bw_s` is this
//! knee's cumulative load per km: its impulse per step × its own steps (half of
//! `steps_per_km`).

use serde::Serialize;

use super::{GaitRun, RunResult, StabilityRow};
use crate::gait::GaitProvenance;
use crate::model::Model;
use crate::step::FrameResult;

/// The metrics of summary.json.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// Largest patellofemoral contact force over the frames (stability: the neutral
    /// frames), N.
    pub peak_pf_force_n: f64,
    /// The same in body weights.
    pub peak_pf_force_bw: f64,
    /// Largest lateral component of the contact force, N.
    pub peak_lateral_force_n: f64,
    /// Lateral facet's share of the contact force at the peak-force frame (NaN for dynamic
    /// runs).
    pub lateral_share_at_peak: f64,
    /// Highest element pressure over the frames, MPa (NaN for dynamic runs).
    pub peak_pressure_mpa: f64,
    /// Mean contact pressure at the peak-force frame, MPa (NaN for dynamic runs).
    pub mean_pressure_at_peak_mpa: f64,
    /// Contact area at the peak-force frame, mm² (NaN for dynamic runs).
    pub contact_area_at_peak_mm2: f64,
    /// Largest Bull lateral shift of the patella, mm.
    pub max_lateral_shift_mm: f64,
    /// Largest Bull lateral tilt of the patella, degrees.
    pub max_lateral_tilt_deg: f64,
    /// Gait only: peak knee flexion in stance, degrees.
    pub peak_knee_flexion_stance_deg: Option<f64>,
    /// Peak knee extensor moment per kg body mass, N·m/kg (gait: the body's net moment;
    /// NaN for dynamic runs).
    pub peak_extensor_moment_nm_per_kg: f64,
    /// Peak patellar tendon force, body weights.
    pub peak_pt_force_bw: f64,
    /// Gait only.
    pub impulse_per_step_bw_s: Option<f64>,
    /// Gait only.
    pub steps_per_km: Option<f64>,
    /// Gait only.
    pub load_per_km_bw_s: Option<f64>,
    /// Frames whose solve converged.
    pub frames_converged: usize,
    /// Frames solved.
    pub frames_total: usize,
    /// Stability runs: the restraining force per angle and direction.
    pub restraining_force_n: Option<Vec<StabilityRow>>,
    /// Gait runs: where the cycles came from.
    pub gait: Option<GaitProvenance>,
    /// Dynamic runs: how the run ended (the PF and tracking metrics above are then over
    /// the dynamic samples).
    pub dynamic_status: Option<crate::dynamics::DynamicStatus>,
    /// Dynamic runs: their own metrics.
    pub dynamic: Option<crate::dynamics::DynamicMetrics>,
}

fn max_by(frames: &[&FrameResult], f: impl Fn(&FrameResult) -> f64) -> f64 {
    frames
        .iter()
        .map(|r| f(r))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Summarises a run.
pub fn summarize(model: &Model, run: &RunResult) -> Metrics {
    if let RunResult::Dynamic(d) = run {
        return dynamic_metrics(model, d);
    }
    let frames: Vec<&FrameResult> = match run {
        RunResult::Flexion(r) => r.frames.iter().collect(),
        RunResult::Stability(r) => r.rows.iter().map(|row| &row.neutral).collect(),
        RunResult::Gait(g) => g.frames.iter().map(|f| &f.result).collect(),
        RunResult::Dynamic(_) => unreachable!("handled above"),
    };
    let peak = frames
        .iter()
        .copied()
        .max_by(|a, b| a.contact.force_n.total_cmp(&b.contact.force_n))
        .expect("a run has at least one frame");
    let bw = model.body_weight_n;
    let all = run.all_frames();
    let mass = model.params.subject.body_mass_kg;
    let mut m = Metrics {
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
        peak_extensor_moment_nm_per_kg: max_by(&frames, |r| r.extensor_moment_nmm) / 1000.0 / mass,
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
        gait: None,
        dynamic_status: None,
        dynamic: None,
    };
    if let RunResult::Gait(g) = run {
        add_gait_metrics(&mut m, g, bw, mass);
    }
    m
}

/// The gait-only metrics (definitions in the module doc).
fn add_gait_metrics(m: &mut Metrics, g: &GaitRun, bw: f64, mass: f64) {
    let stance = |f: &&super::GaitFrame| f.sample.stance >= 0.5;
    m.peak_knee_flexion_stance_deg = Some(
        g.frames
            .iter()
            .filter(stance)
            .map(|f| f.sample.knee_flexion_deg)
            .fold(f64::NEG_INFINITY, f64::max),
    );
    // The body's net moment (inverse dynamics or the built-in cycle), not the quadriceps
    // target, which adds the floor and antagonists.
    m.peak_extensor_moment_nm_per_kg = g
        .frames
        .iter()
        .map(|f| f.sample.extensor_moment_nm)
        .fold(f64::NEG_INFINITY, f64::max)
        / mass;
    let cycles = g.cycle_durations_s.len();
    let impulse: f64 = (0..cycles)
        .map(|c| {
            let fr: Vec<_> = g.frames.iter().filter(|f| f.cycle == c).collect();
            let dt = g.cycle_durations_s[c] / fr.len().max(1) as f64;
            fr.iter()
                .filter(|f| f.sample.stance >= 0.5)
                .map(|f| f.result.contact.force_n * dt)
                .sum::<f64>()
        })
        .sum::<f64>()
        / cycles.max(1) as f64
        / bw;
    let p = &g.provenance;
    let step_length_m = p.speed_mps * 60.0 / p.step_rate_spm;
    let steps_per_km = 1000.0 / step_length_m;
    m.impulse_per_step_bw_s = Some(impulse);
    m.steps_per_km = Some(steps_per_km);
    m.load_per_km_bw_s = Some(impulse * steps_per_km / 2.0);
    m.gait = Some(p.clone());
}

/// A dynamic run's metrics: the PF and tracking maxima over its samples, and its own.
fn dynamic_metrics(model: &Model, d: &crate::dynamics::DynamicRun) -> Metrics {
    let s = &d.samples;
    let bw = model.body_weight_n;
    let max = |f: &dyn Fn(&crate::dynamics::DynamicSample) -> f64| {
        s.iter().map(f).fold(f64::NEG_INFINITY, f64::max)
    };
    let peak_pf = max(&|x| x.pf_force_n);
    Metrics {
        peak_pf_force_n: peak_pf,
        peak_pf_force_bw: peak_pf / bw,
        peak_lateral_force_n: max(&|x| x.pf_lateral_n),
        lateral_share_at_peak: f64::NAN,
        peak_pressure_mpa: f64::NAN,
        mean_pressure_at_peak_mpa: f64::NAN,
        contact_area_at_peak_mm2: f64::NAN,
        max_lateral_shift_mm: max(&|x| x.shift_mm),
        max_lateral_tilt_deg: max(&|x| x.tilt_deg),
        peak_knee_flexion_stance_deg: None,
        peak_extensor_moment_nm_per_kg: f64::NAN,
        peak_pt_force_bw: max(&|x| x.patellar_tendon_n) / bw,
        impulse_per_step_bw_s: None,
        steps_per_km: None,
        load_per_km_bw_s: None,
        // A run that went unstable counts its last sample (the one before the blow-up) as
        // not converged, so the CLI and sweeps flag it.
        frames_converged: match d.status {
            crate::dynamics::DynamicStatus::Unstable { .. } => s.len().saturating_sub(1),
            _ => s.len(),
        },
        frames_total: s.len(),
        restraining_force_n: None,
        gait: d.quasi_static.as_ref().map(|g| g.provenance.clone()),
        dynamic_status: Some(d.status.clone()),
        dynamic: Some(d.metrics.clone()),
    }
}
