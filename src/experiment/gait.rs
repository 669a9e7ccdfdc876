//! `gait`: running cycles. Each frame's quadriceps scale is solved to the extensor moment
//! the mechanisms ask for, warm-started from the previous frame. Cycles are independent
//! (each starts from rest and walks to its first frame), so they run in parallel and the
//! result is the same for any thread count.

use super::{approach, par_map};
use crate::gait::mechanisms::{drive, Drive, Factors, StanceOffsets};
use crate::gait::{GaitCycle, GaitProvenance, GaitSample};
use crate::model::{Data, Model};
use crate::scenario::GaitPlan;
use crate::step::{step, FrameResult};

/// One solved gait frame.
#[derive(Debug, Clone)]
pub struct GaitFrame {
    /// Cycle index (0-based).
    pub cycle: usize,
    /// The body's state this frame, before the mechanisms.
    pub sample: GaitSample,
    /// What the risk-factor mechanisms did.
    pub drive: Drive,
    /// The patellofemoral solve.
    pub result: FrameResult,
}

/// A finished gait run.
#[derive(Debug, Clone)]
pub struct GaitRun {
    /// Frames of every cycle, cycle by cycle, in time order.
    pub frames: Vec<GaitFrame>,
    /// Duration of each cycle, s.
    pub cycle_durations_s: Vec<f64>,
    /// Index into `frames` of the largest PF contact force.
    pub peak_frame: usize,
    /// Element pressures at the peak frame, MPa; shape (n_elements,), mesh order.
    pub peak_pressure: Vec<f64>,
    /// Where the cycles came from (speed, step rate, moment source).
    pub provenance: GaitProvenance,
}

/// The factors the mechanisms read, from the model and plan.
pub fn factors<'a>(model: &'a Model, plan: &GaitPlan) -> Factors<'a> {
    let p = &model.params;
    Factors {
        muscles: &p.muscles,
        itb: &p.itb,
        foot: &p.foot,
        mechanisms: &p.mechanisms,
        body_mass_kg: p.subject.body_mass_kg,
        offsets: StanceOffsets {
            hip_adduction_deg: plan.stance_hip_adduction_deg,
            hip_rotation_deg: plan.stance_hip_rotation_deg,
        },
    }
}

/// Solves one cycle with its own `Data`. Returns its frames and the pressure field of its
/// largest PF force.
pub fn run_cycle(
    model: &Model,
    f: &Factors,
    index: usize,
    cycle: &GaitCycle,
    data: &mut Data,
) -> (Vec<GaitFrame>, Vec<f64>) {
    run_cycle_observed(model, f, index, cycle, data, |_, _| {})
}

/// [`run_cycle`], calling `observe` after every frame with the frame and the `Data` it left
/// (its pressure field): how the viewer records a cycle with the CLI's own driver.
pub fn run_cycle_observed(
    model: &Model,
    f: &Factors,
    index: usize,
    cycle: &GaitCycle,
    data: &mut Data,
    mut observe: impl FnMut(&GaitFrame, &Data),
) -> (Vec<GaitFrame>, Vec<f64>) {
    let mut frames = Vec::with_capacity(cycle.samples.len());
    let mut peak = f64::NEG_INFINITY;
    let mut peak_pressure = vec![0.0; model.patella.len()];
    if let Some(first) = cycle.samples.first() {
        let (input, _) = drive(first, f);
        approach(model, data, input.knee, input.load);
    }
    for sample in &cycle.samples {
        let (input, d) = drive(sample, f);
        let result = step(model, &input, data);
        if result.contact.force_n > peak {
            peak = result.contact.force_n;
            peak_pressure.copy_from_slice(&data.pressure);
        }
        let frame = GaitFrame {
            cycle: index,
            sample: *sample,
            drive: d,
            result,
        };
        observe(&frame, data);
        frames.push(frame);
    }
    (frames, peak_pressure)
}

/// Joins solved cycles (frames and peak pressure field of each) into a run.
pub fn assemble(plan: &GaitPlan, per_cycle: Vec<(Vec<GaitFrame>, Vec<f64>)>) -> GaitRun {
    let mut frames = Vec::new();
    let mut peak = (0, f64::NEG_INFINITY);
    let mut peak_pressure = Vec::new();
    let cycles = per_cycle.len();
    for (cycle_frames, pressure) in per_cycle {
        for fr in cycle_frames {
            if fr.result.contact.force_n > peak.1 {
                peak = (frames.len(), fr.result.contact.force_n);
                peak_pressure.clone_from(&pressure);
            }
            frames.push(fr);
        }
    }
    GaitRun {
        frames,
        cycle_durations_s: plan
            .cycles
            .iter()
            .take(cycles)
            .map(|c| c.duration_s)
            .collect(),
        peak_frame: peak.0,
        peak_pressure,
        provenance: plan.provenance.clone(),
    }
}

/// Runs every cycle of a gait plan (in parallel with the `parallel` feature).
pub fn run_gait(model: &Model, plan: &GaitPlan) -> GaitRun {
    let f = factors(model, plan);
    let indexed: Vec<(usize, &GaitCycle)> = plan.cycles.iter().enumerate().collect();
    let per_cycle = par_map(&indexed, |(i, c)| {
        let mut data = Data::new(model);
        run_cycle(model, &f, *i, c, &mut data)
    });
    assemble(plan, per_cycle)
}
