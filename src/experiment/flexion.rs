//! `flexion`: quasi-static flexion sweep with a quadriceps load or extensor moment per
//! angle (the cadaver rigs of Huberti & Hayes 1984, Mizuno 2001, Sakai 2000, Goh 1995).
//! Frames run in order, each warm-started from the one before.

use super::approach;
use crate::model::{Data, Model};
use crate::scenario::FlexionPlan;
use crate::step::{step, FrameInput, FrameResult};

/// A finished sweep.
#[derive(Debug, Clone)]
pub struct FlexionRun {
    /// One result per planned angle.
    pub frames: Vec<FrameResult>,
    /// Index of the frame with the largest PF contact force.
    pub peak_frame: usize,
    /// Element pressures at the peak frame, MPa; shape (n_elements,), mesh order.
    pub peak_pressure: Vec<f64>,
}

/// Runs a flexion sweep.
pub fn run_flexion(model: &Model, plan: &FlexionPlan) -> FlexionRun {
    run_flexion_observed(model, plan, |_, _| {})
}

/// [`run_flexion`], calling `observe` after every frame with the frame and the `Data` it
/// left (its pressure field).
pub fn run_flexion_observed(
    model: &Model,
    plan: &FlexionPlan,
    mut observe: impl FnMut(&FrameResult, &Data),
) -> FlexionRun {
    let mut data = Data::new(model);
    let mut frames = Vec::with_capacity(plan.frames.len());
    let mut peak = (0, f64::NEG_INFINITY);
    let mut peak_pressure = vec![0.0; model.patella.len()];
    if let (Some(&k0), Some(&l0)) = (plan.frames.first(), plan.loads.first()) {
        approach(model, &mut data, k0, l0);
    }
    for (i, (knee, load)) in plan.frames.iter().zip(&plan.loads).enumerate() {
        let r = step(model, &FrameInput::new(*knee, *load), &mut data);
        if r.contact.force_n > peak.1 {
            peak = (i, r.contact.force_n);
            peak_pressure.copy_from_slice(&data.pressure);
        }
        observe(&r, &data);
        frames.push(r);
    }
    FlexionRun {
        frames,
        peak_frame: peak.0,
        peak_pressure,
    }
}
