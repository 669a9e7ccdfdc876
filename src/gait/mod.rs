//! Running gait: where a cycle's joint angles and moments come from (the built-in cycle or
//! OpenSim files), and how the runner's risk factors turn them into knee mechanics.
//!
//! ```text
//! builtin.rs / opensim.rs -> GaitCycle (per-frame joint angles and moments)
//! mechanisms.rs           -> per frame: knee angles, extensor-moment target, IT-band and
//!                            passive rectus femoris force (the FrameInput of `step`)
//! ```

pub mod builtin;
pub mod mechanisms;
pub mod opensim;

use serde::Serialize;

use crate::step::SecondaryCoords;

/// One sample of a gait cycle: what the body does, before any risk-factor mechanism.
/// Angles in degrees, moments in N·m (already multiplied by body mass).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct GaitSample {
    /// Position in the cycle, % (0 = foot strike of this leg).
    pub cycle_pct: f64,
    /// Time from the start of the run, s.
    pub time_s: f64,
    /// Knee flexion (+ flexion), degrees.
    pub knee_flexion_deg: f64,
    /// Knee varus (+) / valgus (−), degrees.
    pub knee_varus_deg: f64,
    /// Tibial internal rotation relative to the femur (+ internal), degrees.
    pub tibial_rotation_deg: f64,
    /// Hip flexion (+ flexion), degrees.
    pub hip_flexion_deg: f64,
    /// Hip adduction (+ adduction), degrees.
    pub hip_adduction_deg: f64,
    /// Hip rotation (+ internal), degrees.
    pub hip_rotation_deg: f64,
    /// Net knee extensor moment (+ extension), N·m.
    pub extensor_moment_nm: f64,
    /// Net hip abductor moment (+ abduction), N·m.
    pub hip_abductor_moment_nm: f64,
    /// How much the foot is planted: 1 in stance, 0 in swing, smooth ramps between.
    pub stance: f64,
    /// Measured tibiofemoral secondary coordinates (OpenSim-JAM `knee_add` … `knee_tz`
    /// columns; kneetrack units, rad and mm), replacing the coupling's where given; none for
    /// the built-in cycle. `knee_varus_deg`, `tibial_rotation_deg` and the mechanisms add on
    /// top (precedence: [`crate::step::kinematics`]).
    pub secondary: SecondaryCoords,
}

/// One gait cycle, foot strike to foot strike.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GaitCycle {
    /// Samples in time order; the next cycle's foot strike is not included.
    pub samples: Vec<GaitSample>,
    /// Cycle (stride) duration, s.
    pub duration_s: f64,
    /// End of stance (toe-off), % of the cycle.
    pub stance_end_pct: f64,
}

/// Where a run's cycles came from, echoed in summary.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GaitProvenance {
    /// `builtin` or the IK file's path.
    pub kinematics: String,
    /// How the knee extensor moment was obtained.
    pub extensor_moment_source: String,
    /// The knee-angle sign convention of the OpenSim file (`flexion_positive` or
    /// `flexion_negative`) and whether it was detected or given; `None` for the built-in
    /// cycle.
    pub knee_sign_convention: Option<String>,
    /// Running speed, m/s.
    pub speed_mps: f64,
    /// Step rate (steps of both legs per minute).
    pub step_rate_spm: f64,
    /// Step-rate change against the preferred rate at this speed, %.
    pub step_rate_change_pct: f64,
    /// What drove the tibia's secondary motion (adduction, axial rotation, translations):
    /// `anatomy.tibiofemoral` (the coupling, or a hinge), or the measured OpenSim-JAM
    /// coordinates the IK file carries, the coupling keeping the others.
    pub secondary_motion: String,
}

/// Stance weight with smooth ramps of ±`ramp_pct` around foot strike (0 %) and toe-off.
pub fn stance_weight(cycle_pct: f64, stance_end_pct: f64, ramp_pct: f64) -> f64 {
    use crate::math::smoothstep;
    let c = cycle_pct.rem_euclid(100.0);
    // Distance before foot strike wraps around the end of the cycle.
    let c = if c > 100.0 - ramp_pct { c - 100.0 } else { c };
    let on = smoothstep(-ramp_pct, ramp_pct, c).0;
    let off = smoothstep(stance_end_pct - ramp_pct, stance_end_pct + ramp_pct, c).0;
    on * (1.0 - off)
}

/// Ramp half-width of the stance weight, % of the cycle (about 10 ms at 170 steps/min: the
/// foot loads and unloads quickly in running).
pub const STANCE_RAMP_PCT: f64 = 1.5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stance_weight_is_one_in_stance_zero_in_swing() {
        assert_eq!(stance_weight(20.0, 38.0, 1.5), 1.0);
        assert_eq!(stance_weight(70.0, 38.0, 1.5), 0.0);
        assert!((stance_weight(0.0, 38.0, 1.5) - 0.5).abs() < 1e-12);
        assert!((stance_weight(38.0, 38.0, 1.5) - 0.5).abs() < 1e-12);
        assert!(stance_weight(99.0, 38.0, 1.5) > 0.0);
    }
}
