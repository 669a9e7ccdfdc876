//! `stability`: the Amis-lab test (Senavongse & Amis 2005; Merican, Iranpour & Amis 2009).
//! At each knee angle the quadriceps-loaded patella is solved free (neutral), then moved a
//! set distance medially or laterally from there with its other five DOFs free; the
//! medio-lateral force needed to hold it is the restraining force.

use serde::Serialize;

use super::{approach, par_map};
use crate::model::{Data, Model};
use crate::scenario::StabilityPlan;
use crate::step::{step, FrameInput, FrameResult, KneeAngles, QuadLoad};

/// Displacement increment used to walk the patella out to the test distance, mm.
const DISPLACEMENT_STEP_MM: f64 = 2.0;

/// One angle and direction of a stability test.
#[derive(Debug, Clone, Serialize)]
pub struct StabilityRow {
    /// Knee flexion, degrees.
    pub flexion_deg: f64,
    /// +1 lateral, −1 medial.
    pub direction: f64,
    /// Force resisting the displacement (positive when the knee pulls the patella back), N.
    pub restraining_force_n: f64,
    /// Neutral (free) frame at this angle.
    #[serde(skip)]
    pub neutral: FrameResult,
    /// Displaced frame.
    #[serde(skip)]
    pub displaced: FrameResult,
}

/// A finished stability test.
#[derive(Debug, Clone)]
pub struct StabilityRun {
    /// One row per angle × direction, angles in plan order, lateral before medial.
    pub rows: Vec<StabilityRow>,
}

/// Runs a stability test; angles run in parallel (each on its own `Data`).
pub fn run_stability(model: &Model, plan: &StabilityPlan) -> StabilityRun {
    let load = QuadLoad::Force(plan.quadriceps_n);
    let per_angle = par_map(&plan.flexion, |&flexion| {
        let knee = KneeAngles {
            flexion,
            ..Default::default()
        };
        let mut data = Data::new(model);
        approach(model, &mut data, knee, load);
        let neutral = step(model, &FrameInput::new(knee, load), &mut data);
        plan.directions
            .iter()
            .map(|&dir| {
                let mut d = data.clone();
                let n = (plan.displacement_mm / DISPLACEMENT_STEP_MM)
                    .ceil()
                    .max(1.0) as usize;
                let mut last = neutral.clone();
                for i in 1..=n {
                    let shift = neutral.tracking.shift_mm
                        + dir * plan.displacement_mm * i as f64 / n as f64;
                    last = step(
                        model,
                        &FrameInput {
                            shift_mm: Some(shift),
                            ..FrameInput::new(knee, load)
                        },
                        &mut d,
                    );
                }
                StabilityRow {
                    flexion_deg: flexion.to_degrees(),
                    direction: dir,
                    restraining_force_n: dir * last.holding_force_n,
                    neutral: neutral.clone(),
                    displaced: last,
                }
            })
            .collect::<Vec<_>>()
    });
    StabilityRun {
        rows: per_angle.into_iter().flatten().collect(),
    }
}
