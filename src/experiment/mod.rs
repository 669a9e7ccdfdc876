//! Experiment drivers: they turn a run plan into frames by calling [`step`] — the same
//! `step` the viewer will call. Each run owns its `Data`; the `Model` is shared.

pub mod flexion;
pub mod gait;
pub mod record;
pub mod stability;
pub mod summary;

use crate::model::{Data, Model};
use crate::scenario::{Compiled, RunPlan};
use crate::step::{step, FrameInput, FrameResult, KneeAngles, QuadLoad};

pub use flexion::{run_flexion, FlexionRun};
pub use gait::{run_gait, GaitFrame, GaitRun};
pub use stability::{run_stability, StabilityRow, StabilityRun};
pub use summary::{summarize, Metrics};

/// Largest knee-angle increment when a run walks from full extension to its first frame, deg.
/// Small enough that the warm start's quadratic predictor follows the walk: at 5° the walk
/// to the running cycle's foot strike (18°) took 97 contact evaluations (7–13 iterations a
/// step), at 3° 70 (the cycle's total 421 → 385).
pub const APPROACH_STEP_DEG: f64 = 3.0;

/// The result of running a compiled scenario.
#[derive(Debug, Clone)]
pub enum RunResult {
    /// A flexion sweep: one frame per angle.
    Flexion(FlexionRun),
    /// A stability test: per angle and direction, the neutral and displaced frames.
    Stability(StabilityRun),
    /// Running gait: the frames of every cycle.
    Gait(GaitRun),
    /// A dynamic run: the samples over time.
    Dynamic(Box<crate::dynamics::DynamicRun>),
}

impl RunResult {
    /// Every solved frame in output order (stability: neutral then displaced per test).
    pub fn all_frames(&self) -> Vec<&FrameResult> {
        match self {
            RunResult::Flexion(f) => f.frames.iter().collect(),
            RunResult::Stability(s) => s
                .rows
                .iter()
                .flat_map(|r| [&r.neutral, &r.displaced])
                .collect(),
            RunResult::Gait(g) => g.frames.iter().map(|f| &f.result).collect(),
            // The quasi-static frames a dynamic gait run is compared with.
            RunResult::Dynamic(d) => d
                .quasi_static
                .iter()
                .flat_map(|g| g.frames.iter().map(|f| &f.result))
                .collect(),
        }
    }
}

/// Runs a compiled scenario.
pub fn run(compiled: &Compiled) -> RunResult {
    match &compiled.plan {
        RunPlan::Flexion(p) => RunResult::Flexion(run_flexion(&compiled.model, p)),
        RunPlan::Stability(p) => RunResult::Stability(run_stability(&compiled.model, p)),
        RunPlan::Gait(p) => RunResult::Gait(run_gait(&compiled.model, p)),
        RunPlan::Dynamic(p) => {
            RunResult::Dynamic(Box::new(crate::dynamics::run_dynamic(&compiled.model, p)))
        }
    }
}

/// Walks the patella from its start pose at full extension ([`Model::start_pose`]) to
/// `knee` under `load`, in increments of at most [`APPROACH_STEP_DEG`], so the first
/// reported frame starts warm. These frames are not reported.
pub fn approach(model: &Model, data: &mut Data, knee: KneeAngles, load: QuadLoad) {
    data.reset(model.start_pose(&load));
    let n = (knee.flexion.abs().to_degrees() / APPROACH_STEP_DEG).ceil() as usize;
    for i in 0..n {
        let f = i as f64 / n as f64;
        let k = KneeAngles {
            flexion: knee.flexion * f,
            varus: knee.varus * f,
            internal_rotation: knee.internal_rotation * f,
            secondary: knee.secondary.scaled(f),
        };
        step(model, &FrameInput::new(k, load), data);
    }
}

/// Order-preserving map, in parallel with the `parallel` feature. The result is identical
/// for any thread count because every item is computed independently.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        items.par_iter().map(f).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        items.iter().map(f).collect()
    }
}
