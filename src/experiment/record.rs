//! Recording a run for a viewer: the CLI's own drivers with an observer that keeps each
//! frame's pressure field and tissue lines, plus the run's summary metrics. Gait scenarios
//! record their first cycle (a viewer shows one cycle); flexion scenarios every angle;
//! dynamic runs every output sample (the integrated state, not an equilibrium).

use super::flexion::run_flexion_observed;
use super::gait::{assemble, factors, run_cycle_observed};
use super::{summarize, Metrics, RunResult};
use crate::gait::mechanisms::glute_med_force_n;
use crate::model::Data;
use crate::scenario::{Compiled, RunPlan};
use crate::step::tissues::{tissue_lines, TissueLine};
use crate::step::FrameResult;

/// One recorded frame.
#[derive(Debug, Clone)]
pub struct RecordedFrame {
    /// Abscissa: cycle % (gait), knee flexion, degrees (flexion), or time, ms (dynamic).
    pub x: f64,
    /// The solved frame.
    pub result: FrameResult,
    /// Element pressures, MPa; shape (n_elements,), mesh order.
    pub pressure: Vec<f64>,
    /// The patellar tissues as lines with their tensions.
    pub lines: Vec<TissueLine>,
    /// Gluteus medius force, N (gait; `None` for rig experiments).
    pub glute_med_n: Option<f64>,
    /// Stance weight 0…1 (gait; 0 for rig experiments).
    pub stance: f64,
}

impl RecordedFrame {
    /// A rig or dynamic frame (no gluteus medius, no stance): the solved (or integrated)
    /// frame with its tissue lines and the pressure field it left in `data`.
    fn rig(model: &crate::model::Model, x: f64, r: &FrameResult, data: &Data) -> Self {
        Self {
            x,
            lines: tissue_lines(model, r),
            result: r.clone(),
            pressure: data.pressure.clone(),
            glute_med_n: None,
            stance: 0.0,
        }
    }
}

/// A recorded run.
#[derive(Debug, Clone)]
pub struct Recording {
    /// What `x` is.
    pub x_label: &'static str,
    /// The frames, in order of `x`.
    pub frames: Vec<RecordedFrame>,
    /// Summary metrics of the recorded frames.
    pub metrics: Metrics,
    /// Cycles in the scenario (only the first is recorded).
    pub cycles_in_scenario: usize,
}

/// Why a scenario cannot be recorded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the viewer shows gait, flexion and dynamic scenarios; a stability test has no motion to play"
)]
pub struct NotRecordable;

/// Runs `compiled` with the CLI's drivers and records every frame.
pub fn record(compiled: &Compiled) -> Result<Recording, NotRecordable> {
    let model = &compiled.model;
    let mut frames = Vec::new();
    match &compiled.plan {
        RunPlan::Gait(plan) => {
            let f = factors(model, plan);
            let mut data = Data::new(model);
            let Some(cycle) = plan.cycles.first() else {
                return Err(NotRecordable);
            };
            let strength = model.params.muscles.glute_med;
            let k = &model.params.mechanisms;
            let solved = run_cycle_observed(model, &f, 0, cycle, &mut data, |fr, d| {
                frames.push(RecordedFrame {
                    x: fr.sample.cycle_pct,
                    lines: tissue_lines(model, &fr.result),
                    result: fr.result.clone(),
                    pressure: d.pressure.clone(),
                    glute_med_n: Some(glute_med_force_n(
                        strength,
                        fr.sample.hip_abductor_moment_nm,
                        k,
                    )),
                    stance: fr.sample.stance,
                });
            });
            let run = RunResult::Gait(assemble(plan, vec![solved]));
            Ok(Recording {
                x_label: "gait cycle, %",
                frames,
                metrics: summarize(model, &run),
                cycles_in_scenario: plan.cycles.len(),
            })
        }
        RunPlan::Flexion(plan) => {
            let run = run_flexion_observed(model, plan, |r, d| {
                frames.push(RecordedFrame::rig(model, r.knee.flexion.to_degrees(), r, d));
            });
            Ok(Recording {
                x_label: "knee flexion, degrees",
                frames,
                metrics: summarize(model, &RunResult::Flexion(run)),
                cycles_in_scenario: 1,
            })
        }
        RunPlan::Dynamic(plan) => {
            let run = crate::dynamics::run_dynamic_observed(model, plan, |s, r, d| {
                frames.push(RecordedFrame::rig(model, s.time_s * 1e3, r, d));
            });
            Ok(Recording {
                x_label: "time, ms",
                frames,
                metrics: summarize(model, &RunResult::Dynamic(Box::new(run))),
                cycles_in_scenario: 1,
            })
        }
        RunPlan::Stability(_) => Err(NotRecordable),
    }
}
