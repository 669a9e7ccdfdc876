//! One frame of the simulation: a short driver of named stages in a fixed order.
//!
//! ```text
//! kinematics  -> tibia pose and tuberosity in the femur frame            (kinematics.rs)
//! warm start  -> predicted patella pose and quadriceps scale             (solve.rs)
//! solve       -> damped Newton on the patella pose (+ quadriceps scale);
//!                each trial pose evaluates tissues (tissues.rs) and the
//!                elastic-foundation contact (crate::contact)             (solve.rs)
//! report      -> tracking, forces and contact metrics of the solution    (report.rs)
//! ```

pub mod kinematics;
pub mod report;
pub mod solve;
pub mod tissues;

use nalgebra::Isometry3;
use serde::Serialize;

use crate::math::Vec3;
use crate::model::{Data, Model};

pub use kinematics::SecondaryCoords;
pub use report::{ContactMetrics, Tracking};
pub use solve::SolveStatus;

/// Tibiofemoral angles after Grood & Suntay (1983), radians, anatomical signs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct KneeAngles {
    /// Flexion about the femoral medio-lateral axis (+ flexion).
    pub flexion: f64,
    /// Ab/adduction about the floating axis (+ varus / adduction).
    pub varus: f64,
    /// Rotation about the tibial long axis (+ internal rotation of the tibia).
    pub internal_rotation: f64,
    /// Measured secondary coordinates (OpenSim-JAM `knee_add` … `knee_tz`) that replace the
    /// tibiofemoral coupling's; `varus` and `internal_rotation` add on top (precedence in
    /// [`kinematics`]). Default: none (the coupling drives the tibia).
    pub secondary: kinematics::SecondaryCoords,
}

/// How the quadriceps is loaded in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum QuadLoad {
    /// Total quadriceps force with every head at full strength, N; each head carries its
    /// PCSA share × strength factor of it (a cadaver rig's hanging weights).
    Force(f64),
    /// Knee extensor moment through the patellar tendon about the flexion axis, N·mm; the
    /// quadriceps scale is solved (the other heads make up for a weak one).
    ExtensorMoment(f64),
}

/// Everything that drives one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameInput {
    /// Knee angles.
    pub knee: KneeAngles,
    /// Quadriceps load.
    pub load: QuadLoad,
    /// Prescribed medio-lateral position of the patella origin, anatomical (lateral +),
    /// femur frame, mm. `None` = free. Set for stability tests.
    pub shift_mm: Option<f64>,
    /// Total IT-band tension this frame, N (the patella receives `itb.patellar_fraction` of
    /// it). `None` = the model's static `itb.tension_n`. Set by the gait mechanisms.
    pub itb_tension_n: Option<f64>,
    /// Passive rectus femoris force, N, added along the RF line on top of the active heads
    /// (gait: a tight RF). 0 elsewhere.
    pub rf_passive_n: f64,
}

impl FrameInput {
    /// A frame with free patella and the model's static tissues.
    pub fn new(knee: KneeAngles, load: QuadLoad) -> Self {
        Self {
            knee,
            load,
            shift_mm: None,
            itb_tension_n: None,
            rf_passive_n: 0.0,
        }
    }
}

/// The solved state and everything reported for one frame.
#[derive(Debug, Clone)]
pub struct FrameResult {
    /// Knee angles of the frame.
    pub knee: KneeAngles,
    /// Solved patella pose.
    pub femur_from_patella: Isometry3<f64>,
    /// Tibia pose.
    pub femur_from_tibia: Isometry3<f64>,
    /// Secondary tibial motion added this frame — the tibiofemoral coupling's, or the
    /// measured coordinates of [`KneeAngles::secondary`] where given: adduction and internal
    /// rotation (rad), and the tibia's translation (femur frame, mm).
    pub tibia_coupled_varus: f64,
    /// Secondary tibial internal rotation added this frame, rad (the same sources).
    pub tibia_coupled_internal_rotation: f64,
    /// The tibia's secondary translation, femur frame, mm (the same sources).
    pub tibia_translation_mm: Vec3,
    /// Patellar tendon moment arm about the knee's flexion motion, mm: extensor moment /
    /// tendon force (the virtual-work lever; NaN without tendon force).
    pub pt_moment_arm_mm: f64,
    /// Quadriceps scale, N (the total force of full-strength heads).
    pub quad_scale_n: f64,
    /// Force of each head (rf, vi, vl, vlo, vml, vmo), N.
    pub head_forces_n: [f64; 6],
    /// Sum of the head forces, N.
    pub quadriceps_force_n: f64,
    /// Patellar tendon tension, N.
    pub patellar_tendon_n: f64,
    /// MPFL tension, N.
    pub mpfl_n: f64,
    /// Lateral retinaculum tension, N.
    pub lateral_retinaculum_n: f64,
    /// Iliopatellar band tension, N.
    pub itb_patellar_n: f64,
    /// Knee extensor moment through the patellar tendon, N·mm (+ extension).
    pub extensor_moment_nmm: f64,
    /// Contact force on the patella, femur frame, N.
    pub contact_force: Vec3,
    /// Contact metrics.
    pub contact: ContactMetrics,
    /// Bull (2002) tracking.
    pub tracking: Tracking,
    /// Medio-lateral force that must hold the patella where it is (stability tests),
    /// anatomical (lateral +), N; ≈ 0 when the shift is free.
    pub holding_force_n: f64,
    /// Solve outcome.
    pub status: SolveStatus,
}

/// The patellofemoral contact at `pose` (femur_from_patella): the model's elastic
/// foundation over its patella elements against its femur, warm (the motion bound in
/// `data`), with the 6×6 Jacobian when `jacobian` (and its surface terms when `surface`);
/// leaves the pressure field in `data`. The one call the quasi-static solve and the
/// dynamic integrators share.
pub fn contact(
    model: &Model,
    pose: &Isometry3<f64>,
    data: &mut Data,
    jacobian: bool,
    surface: bool,
) -> crate::contact::ContactResult {
    data.contact_evaluations += 1;
    data.contact_jacobians += jacobian as u64;
    data.contact_cache.scratch.skip_surface = !surface;
    crate::contact::elastic_foundation_warm(
        pose,
        &model.femur,
        &model.patella,
        &model.law,
        &mut data.contact_cache,
        &mut data.pressure,
        jacobian,
    )
}

/// Advances one frame: solves the patella's equilibrium for `input` and reports it.
/// Never panics on a hard frame: non-convergence is `FrameResult::status`.
pub fn step(model: &Model, input: &FrameInput, data: &mut Data) -> FrameResult {
    let joint = kinematics::kinematics(model, &input.knee);
    let solution = solve_continued(model, input, &joint, data, 0);
    report::report(model, input, &joint, &solution)
}

/// The warm-start state of a `Data`: pose, quadriceps scale, last flexion and the frame before.
type Saved = (
    Isometry3<f64>,
    f64,
    Option<f64>,
    Option<(f64, Isometry3<f64>, f64)>,
    Option<(f64, Isometry3<f64>, f64)>,
);

fn save(data: &Data) -> Saved {
    (
        data.femur_from_patella,
        data.quad_scale_n,
        data.last_flexion,
        data.before_last,
        data.two_before,
    )
}

fn restore(data: &mut Data, saved: Saved) {
    (
        data.femur_from_patella,
        data.quad_scale_n,
        data.last_flexion,
        data.before_last,
        data.two_before,
    ) = saved;
}

/// The first frame of a run starts from the rest pose; under a large rig load its Newton
/// path can leave the groove. If it fails, the frame is solved at half the quadriceps force
/// first (recursively, at most [`MAX_CONTINUATION_DEPTH`] halvings) and then at the full
/// force from there: continuation in the load, as in the flexion angle below. Deterministic.
fn load_continuation(
    model: &Model,
    input: &FrameInput,
    joint: &kinematics::Joint,
    data: &mut Data,
    depth: u32,
    saved: Saved,
) -> solve::Solution {
    let QuadLoad::Force(f) = input.load else {
        return solve::solve(
            model,
            input,
            joint,
            solve::warm_start(model, input, data),
            data,
        );
    };
    restore(data, saved);
    let mut half = *input;
    half.load = QuadLoad::Force(0.5 * f);
    let first = solve_continued(model, &half, joint, data, depth + 1);
    if first.status.converged() {
        // From the half-load pose, as a fresh start (no flexion history to extrapolate).
        data.last_flexion = None;
        data.before_last = None;
        data.two_before = None;
    } else {
        restore(data, saved);
    }
    let guess = solve::warm_start(model, input, data);
    solve::solve(model, input, joint, guess, data)
}

/// Deepest bisection of a knee-angle increment before a frame is reported unconverged.
pub const MAX_CONTINUATION_DEPTH: u32 = 4;

/// Solves from the warm start; if that fails after a knee-angle change, restores the last
/// solved state, solves the midpoint angle first and tries again (continuation by
/// bisection, at most [`MAX_CONTINUATION_DEPTH`] levels). Deterministic.
fn solve_continued(
    model: &Model,
    input: &FrameInput,
    joint: &kinematics::Joint,
    data: &mut Data,
    depth: u32,
) -> solve::Solution {
    let saved = save(data);
    let guess = solve::warm_start(model, input, data);
    let solution = solve::solve(model, input, joint, guess, data);
    let Some(prev) = saved.2 else {
        return if solution.status.converged() || depth >= MAX_CONTINUATION_DEPTH {
            solution
        } else {
            load_continuation(model, input, joint, data, depth, saved)
        };
    };
    if solution.status.converged()
        || depth >= MAX_CONTINUATION_DEPTH
        || (input.knee.flexion - prev).abs() < 1e-3
    {
        return solution;
    }
    restore(data, saved);
    let mut mid = *input;
    mid.knee.flexion = 0.5 * (prev + input.knee.flexion);
    let mid_joint = kinematics::kinematics(model, &mid.knee);
    let mid_solution = solve_continued(model, &mid, &mid_joint, data, depth + 1);
    if !mid_solution.status.converged() {
        restore(data, saved);
        return solve::solve(model, input, joint, guess, data);
    }
    solve_continued(model, input, joint, data, depth + 1)
}
