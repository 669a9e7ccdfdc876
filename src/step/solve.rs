//! Stage 3 — solve: damped Newton (Levenberg–Marquardt) on the patella pose and, when an
//! extensor moment is prescribed, the quadriceps scale.
//!
//! Unknowns: patella translation δt (mm) and rotation vector δω (rad, femur frame, applied
//! as `R ← exp(δω)·R` about the patella origin), plus the quadriceps scale (N). Residuals:
//! net force on the patella (N), net moment / [`MOMENT_SCALE_MM`] (N), and the extensor
//! moment error / [`EXTENSOR_SCALE_MM`] (N) — written as a complementarity with the
//! scale ≥ 0 bound, so a frame whose passive tendon already exceeds the target moment
//! solves with the quadriceps silent. A prescribed medio-lateral shift removes δt_z
//! and the ML force row (that force is what holds the patella: the stability output).
//! Steps are limited (trust region) and accepted only if they reduce the residual norm;
//! otherwise the damping grows. The Jacobian is analytic, in two grades: exact (with the
//! contact's surface terms — the femoral normal turning and the layer thinning as the
//! elements slide — and the wrapped quadriceps lines turning with the insertion), which
//! gives Newton's quadratic convergence near a solution (2–3 iterations per warm running
//! frame on the Lenhart knee, from 5–7 when the surface terms were left out, a linear
//! rate of ≈ 0.3); and without the surface terms, which far from equilibrium are dominated
//! by the mesh's sharply curved rim and facet kinks and can lead the iteration into a
//! non-smooth valley. A warm frame starts exact and drops the surface terms for the rest of
//! the frame when a step's actual reduction falls below [`EXACT_MIN_GAIN`] of the
//! predicted one; a cold frame (from the rest pose) starts without them and takes them on
//! after a full step predicted within [`EXACT_PROMOTE_GAIN`]. If the Jacobian stops giving
//! descent (heavy damping needed, or no progress for three iterations — the parametric
//! surface's curvature term is left out, which matters in the intercondylar notch) the
//! frame continues with a forward-difference Jacobian. A trial step that the last step's
//! contraction says will end the frame is evaluated without the Jacobian (a converged
//! frame never uses it); the residual has the same bits either way, so this changes the
//! cost, never the path. The outcome is a [`SolveStatus`]: never a panic, never a silent
//! fallback.

use nalgebra::{Isometry3, Matrix6, SMatrix, SVector, Translation3, UnitQuaternion, Vector6};
use serde::Serialize;

use super::kinematics::Joint;
use super::tissues::{tissues, TissueLoads};
use super::{FrameInput, QuadLoad};
use crate::contact::ContactResult;
use crate::math::{rot_vec, rot_z, Vec3};
use crate::model::{Data, Model};

/// Moment residuals are divided by this lever (mm) so they weigh like forces.
pub const MOMENT_SCALE_MM: f64 = 20.0;
/// The extensor-moment residual is divided by this lever (mm), about a PT moment arm.
pub const EXTENSOR_SCALE_MM: f64 = 50.0;
/// Lever (mm) that turns the quadriceps scale (N) into the units of the extensor-moment
/// residual when the scale ≥ 0 bound is active (about a PT moment arm).
const SCALE_ARM_MM: f64 = 40.0;
/// Smoothing of the moment/scale complementarity, in residual units (N).
const FB_SMOOTHING_N: f64 = 0.01;
/// Largest translation per iteration, mm.
const MAX_STEP_MM: f64 = 2.0;
/// Largest rotation per iteration, rad.
const MAX_STEP_RAD: f64 = 0.08;
/// Damping beyond which the analytic Jacobian is judged unhelpful for the frame.
const SWITCH_TO_FD_LAMBDA: f64 = 1e3;
/// Least ratio of actual to predicted residual reduction for which a frame keeps the
/// contact's surface terms in its Jacobian (a trust-region method's "poor model" bound,
/// Nocedal & Wright 2006, Alg. 4.1: 1/4).
const EXACT_MIN_GAIN: f64 = 0.25;
/// Least gain of a full (untruncated) step without the surface terms after which a cold
/// frame takes them on (the trust-region "very good model" bound, Nocedal & Wright 2006).
const EXACT_PROMOTE_GAIN: f64 = 0.75;
/// Patellar flexion per unit knee flexion used by the warm-start predictor (patellar
/// flexion lags knee flexion at about 0.6–0.7; e.g. Amis 2007 review).
const PREDICTOR_RATIO: f64 = 0.65;

/// How a frame's solve ended (argmin-style termination reason).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SolveStatus {
    /// Residuals within tolerance.
    Converged {
        /// Newton iterations taken.
        iterations: u32,
        /// |net force| on the patella, N (without the held medio-lateral component when a
        /// shift is prescribed).
        force_residual_n: f64,
        /// Largest of |net moment| on the patella and the extensor-moment error, N·mm.
        moment_residual_nmm: f64,
    },
    /// Iteration limit reached; residuals at the last iterate.
    MaxIterations {
        /// Newton iterations taken.
        iterations: u32,
        /// |net force| on the patella, N (without the held medio-lateral component when a
        /// shift is prescribed).
        force_residual_n: f64,
        /// Largest of |net moment| on the patella and the extensor-moment error, N·mm.
        moment_residual_nmm: f64,
    },
    /// No step reduced the residual even with heavy damping.
    Stalled {
        /// Newton iterations taken.
        iterations: u32,
        /// |net force| on the patella, N (without the held medio-lateral component when a
        /// shift is prescribed).
        force_residual_n: f64,
        /// Largest of |net moment| on the patella and the extensor-moment error, N·mm.
        moment_residual_nmm: f64,
    },
    /// A trial state produced a non-finite number.
    NonFinite {
        /// Newton iterations taken before it.
        iterations: u32,
    },
    /// Not a solve: a dynamic run's state at an output sample, where the patella need not be
    /// in equilibrium — the net force and moment on it (its inertia and damping) are shown
    /// as the residuals.
    Integrated {
        /// |net force| on the patella, N.
        net_force_n: f64,
        /// |net moment| on the patella, N·mm.
        net_moment_nmm: f64,
    },
}

impl SolveStatus {
    /// True for [`SolveStatus::Converged`].
    pub fn converged(&self) -> bool {
        matches!(self, SolveStatus::Converged { .. })
    }
    /// Iterations used.
    pub fn iterations(&self) -> u32 {
        match *self {
            SolveStatus::Converged { iterations, .. }
            | SolveStatus::MaxIterations { iterations, .. }
            | SolveStatus::Stalled { iterations, .. }
            | SolveStatus::NonFinite { iterations } => iterations,
            SolveStatus::Integrated { .. } => 0,
        }
    }
    /// Short name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            SolveStatus::Converged { .. } => "converged",
            SolveStatus::MaxIterations { .. } => "max_iterations",
            SolveStatus::Stalled { .. } => "stalled",
            SolveStatus::NonFinite { .. } => "non_finite",
            SolveStatus::Integrated { .. } => "integrated",
        }
    }
    /// (force residual N, moment residual N·mm); NaN when non-finite.
    pub fn residuals(&self) -> (f64, f64) {
        match *self {
            SolveStatus::Converged {
                force_residual_n,
                moment_residual_nmm,
                ..
            }
            | SolveStatus::MaxIterations {
                force_residual_n,
                moment_residual_nmm,
                ..
            }
            | SolveStatus::Stalled {
                force_residual_n,
                moment_residual_nmm,
                ..
            } => (force_residual_n, moment_residual_nmm),
            SolveStatus::Integrated {
                net_force_n,
                net_moment_nmm,
            } => (net_force_n, net_moment_nmm),
            SolveStatus::NonFinite { .. } => (f64::NAN, f64::NAN),
        }
    }
}

/// Starting point of a solve.
#[derive(Debug, Clone, Copy)]
pub struct Guess {
    /// Patella pose, femur_from_patella (mm).
    pub pose: Isometry3<f64>,
    /// Quadriceps scale, N.
    pub scale: f64,
}

/// The solution with everything evaluated at it.
#[derive(Debug, Clone)]
pub struct Solution {
    /// Patella pose, femur_from_patella (mm).
    pub pose: Isometry3<f64>,
    /// Quadriceps scale, N.
    pub scale: f64,
    /// Tissue loads on the patella at the pose.
    pub tissues: TissueLoads,
    /// Patellofemoral contact at the pose.
    pub contact: ContactResult,
    /// How the solve ended.
    pub status: SolveStatus,
}

/// Largest |Δflexion_new / Δflexion_old| the secant predictor extrapolates with.
const SECANT_MAX_RATIO: f64 = 2.0;
/// Smallest previous flexion change (rad, 0.2°) that defines a secant.
const SECANT_MIN_STEP_RAD: f64 = 0.0035;

/// Warm start. With three solved frames behind it that run the same way in flexion with
/// comparable steps, a quadratic predictor ([`quadratic_weights`]): the pose (translation
/// and rotation vector) and the quadriceps scale are extrapolated quadratically in knee
/// flexion. On the Lenhart knee's running cycle the secant's error in late swing (the knee
/// extending 5–6° a frame) was 0.3–0.5 mm, and those frames took 8–15 iterations with
/// rejected steps; quadratic, 2–3 (contact evaluations per cycle 666 → 421). With two, a
/// secant predictor: linear in knee flexion from the last two frames — the continuation
/// predictor of path-following solvers, which tracks the patella's path and the load along
/// a smooth cycle. Otherwise the previous pose
/// rotated about the flexion axis by the predicted patellar flexion for the change of knee
/// flexion and moved radially with the groove floor (the groove spirals in toward the
/// condyles), and the previous quadriceps scale.
pub fn warm_start(model: &Model, input: &FrameInput, data: &Data) -> Guess {
    let mut pose = data.femur_from_patella;
    let mut secant_scale = None;
    let secant = match (data.last_flexion, data.before_last) {
        (Some(last), Some((before, before_pose, before_scale)))
            if (last - before).abs() > SECANT_MIN_STEP_RAD =>
        {
            let ratio = (input.knee.flexion - last) / (last - before);
            (ratio.abs() <= SECANT_MAX_RATIO).then_some((ratio, before_pose, before_scale))
        }
        _ => None,
    };
    if let (Some(([w0, w1], (p1, s1), (p0, s0))), Some(_)) =
        (quadratic_weights(input.knee.flexion, data), secant)
    {
        // Quadratic through the last three frames (Lagrange weights in flexion), on the
        // translation, the rotation vector relative to the last pose, and the scale.
        let last = pose;
        let rel = |p: &Isometry3<f64>| (p.rotation * last.rotation.inverse()).scaled_axis();
        let dt = (p1.translation.vector - last.translation.vector) * w1
            + (p0.translation.vector - last.translation.vector) * w0;
        let dw = rel(&p1) * w1 + rel(&p0) * w0;
        let q = UnitQuaternion::from_scaled_axis(dw) * last.rotation;
        pose = Isometry3::from_parts(Translation3::from(last.translation.vector + dt), q);
        let s2 = data.quad_scale_n;
        secant_scale = Some((s2 + (s1 - s2) * w1 + (s0 - s2) * w0).max(0.0));
    } else if let Some((ratio, before_pose, before_scale)) = secant {
        let dt = pose.translation.vector - before_pose.translation.vector;
        let dq = pose.rotation * before_pose.rotation.inverse();
        let q = UnitQuaternion::from_scaled_axis(dq.scaled_axis() * ratio) * pose.rotation;
        pose = Isometry3::from_parts(Translation3::from(pose.translation.vector + dt * ratio), q);
        secant_scale =
            Some((data.quad_scale_n + ratio * (data.quad_scale_n - before_scale)).max(0.0));
    } else if let Some(prev) = data.last_flexion {
        let t0 = pose.translation.vector;
        let theta0 = (-t0.y).atan2(t0.x);
        let turn = rot_z(-PREDICTOR_RATIO * (input.knee.flexion - prev));
        let q = UnitQuaternion::from_rotation_matrix(&turn);
        let mut t = q * t0;
        let theta1 = (-t.y).atan2(t.x);
        // The groove floor's radius change (parametric surface; a mesh knee has no radial
        // parameterisation and relies on the secant predictor from the second frame on).
        let dr = model
            .femur
            .parametric()
            .map_or(0.0, |f| f.radius(theta1, 0.0).0 - f.radius(theta0, 0.0).0);
        let rho = (t.x * t.x + t.y * t.y).sqrt().max(1e-9);
        t.x += dr * t.x / rho;
        t.y += dr * t.y / rho;
        pose = Isometry3::from_parts(Translation3::from(t), q * pose.rotation);
    }
    if let Some(shift) = input.shift_mm {
        pose.translation.vector.z = model.lat * shift;
    }
    let scale = match input.load {
        QuadLoad::Force(f) => f,
        QuadLoad::ExtensorMoment(m) => {
            if let Some(s) = secant_scale {
                s
            } else if data.quad_scale_n > 0.0 {
                data.quad_scale_n
            } else {
                (m / 45.0).max(0.0)
            }
        }
    };
    Guess { pose, scale }
}

/// A solved frame the predictor extrapolates from: pose and quadriceps scale (N).
type PastFrame = (Isometry3<f64>, f64);

/// The Lagrange weights (of the frame two before, of the one before) that extrapolate the
/// last three frames quadratically in knee flexion to `flexion` (the last frame's weight is
/// one less their sum: the predictor adds the weighted differences to the last frame),
/// with those two frames' poses and quadriceps scales.
/// `None` unless the three frames and the new one run the same way with comparable steps
/// (each within [`SECANT_MAX_RATIO`] of the one before and at least
/// [`SECANT_MIN_STEP_RAD`]): at a turn of the flexion the pose is not one function of the
/// angle (the loads differ on the way back), and the secant predictor takes over.
fn quadratic_weights(flexion: f64, data: &Data) -> Option<([f64; 2], PastFrame, PastFrame)> {
    let (t2, (t1, p1, s1), (t0, p0, s0)) =
        (data.last_flexion?, data.before_last?, data.two_before?);
    let (a, b, c) = (t1 - t0, t2 - t1, flexion - t2);
    let comparable = |x: f64, y: f64| {
        x.abs() > SECANT_MIN_STEP_RAD
            && y.abs() > SECANT_MIN_STEP_RAD
            && x * y > 0.0
            && (y / x).abs() <= SECANT_MAX_RATIO
            && (x / y).abs() <= SECANT_MAX_RATIO
    };
    if !(comparable(a, b) && comparable(b, c)) {
        return None;
    }
    let w1 = (flexion - t0) * (flexion - t2) / ((t1 - t0) * (t1 - t2));
    let w0 = (flexion - t1) * (flexion - t2) / ((t0 - t1) * (t0 - t2));
    Some(([w0, w1], (p1, s1), (p0, s0)))
}

/// Unknowns at most: the six pose components and the quadriceps scale.
const DIM: usize = 7;
/// Residual and step vectors, and the Jacobian, on the stack (no allocation in a solve):
/// the active unknowns come first; the inactive tail of the residual is zero and of the
/// Jacobian the identity, so the padded least-squares system is block-diagonal and its
/// tail steps are zero.
type Vec7 = SVector<f64, DIM>;
type Mat7 = SMatrix<f64, DIM, DIM>;

struct Eval {
    r: Vec7,
    /// Whether `j` and `j_exact` were computed: a trial the solve expects to end the frame
    /// is evaluated without them ([`Problem::residual`]).
    has_jacobian: bool,
    /// The Jacobian without the contact's surface terms (robust far from a solution).
    j: Mat7,
    /// The exact Jacobian (with them), for the Newton regime.
    j_exact: Mat7,
    tissues: TissueLoads,
    contact: ContactResult,
    force_res: f64,
    moment_res: f64,
}

/// Which unknowns and residual rows are active.
struct Layout {
    /// Active pose components (0..6) in order: the first `n_pose` entries.
    pose_all: [usize; 6],
    n_pose: usize,
    /// Whether the quadriceps scale is unknown (then the last active unknown).
    scale: bool,
}

impl Layout {
    /// The active pose components.
    fn pose(&self) -> &[usize] {
        &self.pose_all[..self.n_pose]
    }
    /// Active unknowns.
    fn n(&self) -> usize {
        self.n_pose + self.scale as usize
    }
    /// Zero residual tail, identity Jacobian tail.
    fn pad(&self, r: &mut Vec7, j: &mut Mat7) {
        for k in self.n()..DIM {
            r[k] = 0.0;
            j[(k, k)] = 1.0;
        }
    }
}

/// One frame's equations: what is solved, for which input and joint pose.
struct Problem<'a> {
    model: &'a Model,
    input: &'a FrameInput,
    joint: &'a Joint,
    lay: Layout,
    /// The contact's surface terms, taken at the frame's first evaluation and reused by
    /// its later ones (they change little over a frame's iterations, and cost about as
    /// much again as the rest of a Jacobian evaluation).
    surface: std::cell::Cell<Option<Matrix6<f64>>>,
}

impl<'a> Problem<'a> {
    /// The frame's equations: a prescribed shift holds δt_z and drops the ML force row; a
    /// prescribed extensor moment adds the quadriceps scale.
    fn new(model: &'a Model, input: &'a FrameInput, joint: &'a Joint) -> Self {
        let scale = matches!(input.load, QuadLoad::ExtensorMoment(_));
        let lay = if input.shift_mm.is_some() {
            Layout {
                pose_all: [0, 1, 3, 4, 5, 0],
                n_pose: 5,
                scale,
            }
        } else {
            Layout {
                pose_all: [0, 1, 2, 3, 4, 5],
                n_pose: 6,
                scale,
            }
        };
        Problem {
            model,
            input,
            joint,
            lay,
            surface: std::cell::Cell::new(None),
        }
    }

    /// Residual and Jacobian at (pose, scale); leaves the pressure field in `data`.
    fn evaluate(&self, pose: &Isometry3<f64>, scale: f64, data: &mut Data) -> Eval {
        self.at(pose, scale, data, true)
    }

    /// The residual alone at (pose, scale) (`has_jacobian` false); leaves the pressure
    /// field in `data`. The contact kernel adds its force and moment element by element
    /// whether or not it sums the Jacobian, so the residual has the same bits as
    /// [`Self::evaluate`]'s: a frame evaluated this way and re-evaluated with the
    /// Jacobian when it turns out to need one takes exactly the path it would have taken.
    fn residual(&self, pose: &Isometry3<f64>, scale: f64, data: &mut Data) -> Eval {
        self.at(pose, scale, data, false)
    }

    /// [`evaluate`] for this frame's equations.
    fn at(&self, pose: &Isometry3<f64>, scale: f64, data: &mut Data, jacobian: bool) -> Eval {
        let (model, input, joint) = (self.model, self.input, self.joint);
        let at = (pose, scale);
        evaluate(
            model,
            input,
            joint,
            at,
            &self.lay,
            data,
            &self.surface,
            jacobian,
        )
    }

    /// Forward-difference Jacobian of the residual at (pose, scale), for frames where the
    /// analytic Jacobian's neglected surface-curvature term stalls the solve (the notch).
    fn fd_jacobian(&self, pose: &Isometry3<f64>, scale: f64, base: &Vec7, data: &mut Data) -> Mat7 {
        let lay = &self.lay;
        let mut j = Mat7::zeros();
        for k in 0..lay.n() {
            let mut delta = Vec7::zeros();
            let h = match lay.pose().get(k) {
                Some(&c) if c < 3 => 1e-5,
                Some(_) => 1e-6,
                None => 1e-6 * scale.max(1.0),
            };
            delta[k] = h;
            let (p2, s2) = apply(pose, scale, lay, &delta);
            let e = self.residual(&p2, s2, data);
            j.set_column(k, &((e.r - base) / h));
        }
        let mut r = *base;
        lay.pad(&mut r, &mut j);
        j
    }
}

#[allow(clippy::too_many_arguments)]
fn evaluate(
    model: &Model,
    input: &FrameInput,
    joint: &Joint,
    (pose, scale): (&Isometry3<f64>, f64),
    lay: &Layout,
    data: &mut Data,
    surface_terms: &std::cell::Cell<Option<Matrix6<f64>>>,
    with_jacobian: bool,
) -> Eval {
    let tis = tissues(model, input, joint, pose, scale);
    let cached = surface_terms.get();
    let con = super::contact(
        model,
        pose,
        data,
        with_jacobian,
        with_jacobian && cached.is_none(),
    );
    let contact_surface = cached.unwrap_or(con.surface_jacobian);
    if with_jacobian {
        surface_terms.set(Some(contact_surface));
    }
    let f = tis.force + con.force;
    let m = tis.moment + con.moment;
    let jac = tis.jacobian + con.jacobian;
    // The exact terms: the contact's surface terms and the wrapped lines' turning.
    let surface = contact_surface + tis.wrap_jacobian;
    let w = Vector6::new(
        f.x,
        f.y,
        f.z,
        m.x / MOMENT_SCALE_MM,
        m.y / MOMENT_SCALE_MM,
        m.z / MOMENT_SCALE_MM,
    );
    let n = lay.n();
    let mut r = Vec7::zeros();
    let mut j = Mat7::zeros();
    let mut j_surface = Mat7::zeros();
    let row_scale = |row: usize| if row >= 3 { 1.0 / MOMENT_SCALE_MM } else { 1.0 };
    for (a, &row) in lay.pose().iter().enumerate() {
        r[a] = w[row];
        for (b, &col) in lay.pose().iter().enumerate() {
            j[(a, b)] = jac[(row, col)] * row_scale(row);
            j_surface[(a, b)] = surface[(row, col)] * row_scale(row);
        }
        if lay.scale {
            j[(a, n - 1)] = tis.d_quad_scale[row] * row_scale(row);
        }
    }
    let mut ext_err = 0.0;
    if let (true, QuadLoad::ExtensorMoment(target)) = (lay.scale, input.load) {
        // Complementarity between the moment error and the scale ≥ 0 bound: either the
        // quadriceps is active and meets the target (a = 0, b > 0), or it is silent and the
        // passive tendon already gives at least the target (b = 0, a ≥ 0) — deep in swing,
        // when the net moment is small. Written as the smoothed Fischer–Burmeister function
        // φ(a, b) = a + b − √(a² + b² + 2ε²), zero where a, b > 0 and a·b = ε², and smooth
        // everywhere — also at the corner a = b = 0, which a swing frame hits when the
        // passive tendon's moment equals the quadriceps floor. With ε = [`FB_SMOOTHING_N`]
        // the corner costs at most ε·EXTENSOR_SCALE_MM = 0.5 N·mm of moment error.
        let a = (tis.extensor_moment - target) / EXTENSOR_SCALE_MM;
        let b = scale * SCALE_ARM_MM / EXTENSOR_SCALE_MM;
        let root = (a * a + b * b + 2.0 * FB_SMOOTHING_N * FB_SMOOTHING_N).sqrt();
        let (da, db) = (1.0 - a / root, 1.0 - b / root);
        r[n - 1] = a + b - root;
        for (c, &col) in lay.pose().iter().enumerate() {
            j[(n - 1, c)] = da * tis.d_extensor_moment[col] / EXTENSOR_SCALE_MM;
        }
        // The extensor moment depends on the scale only through the pose.
        j[(n - 1, n - 1)] = db * SCALE_ARM_MM / EXTENSOR_SCALE_MM;
        ext_err = r[n - 1] * EXTENSOR_SCALE_MM;
    }
    lay.pad(&mut r, &mut j);
    let mut fres = Vec3::new(f.x, f.y, f.z);
    if input.shift_mm.is_some() {
        fres.z = 0.0;
    }
    Eval {
        r,
        has_jacobian: with_jacobian,
        j,
        j_exact: j + j_surface,
        tissues: tis,
        contact: con,
        force_res: fres.norm(),
        moment_res: m.norm().max(ext_err.abs()),
    }
}

fn apply(pose: &Isometry3<f64>, scale: f64, lay: &Layout, delta: &Vec7) -> (Isometry3<f64>, f64) {
    let mut d6 = [0.0; 6];
    for (a, &k) in lay.pose().iter().enumerate() {
        d6[k] = delta[a];
    }
    let dt = Vec3::new(d6[0], d6[1], d6[2]);
    let dw = Vec3::new(d6[3], d6[4], d6[5]);
    let q = UnitQuaternion::from_rotation_matrix(&rot_vec(&dw));
    let new_pose = Isometry3::from_parts(
        Translation3::from(pose.translation.vector + dt),
        q * pose.rotation,
    );
    let new_scale = if lay.scale {
        (scale + delta[lay.n() - 1]).max(0.0)
    } else {
        scale
    };
    (new_pose, new_scale)
}

/// Solves the frame from `guess`. Leaves the pressure field of the solution in `data`.
pub fn solve(
    model: &Model,
    input: &FrameInput,
    joint: &Joint,
    guess: Guess,
    data: &mut Data,
) -> Solution {
    let tol = &model.params.solver;
    let problem = Problem::new(model, input, joint);
    let lay = &problem.lay;
    let (mut pose, mut scale) = (guess.pose, guess.scale);
    let mut ev = problem.evaluate(&pose, scale, data);
    let mut lambda = 1e-6;
    let mut iterations = 0u32;
    let mut finite_differences = false;
    // The surface terms from the first iteration on a warm frame; a cold one (from the rest
    // pose) starts without them and takes them on once a full step predicts well.
    let mut exact = data.last_flexion.is_some();
    let mut may_promote = !exact;
    let mut stagnant = 0u32;
    // The residual norm's ratio over the last accepted step of this frame: near a
    // solution Newton's steps contract at least as fast again, so it predicts the next.
    let mut contraction: Option<f64> = None;
    let status = loop {
        if !ev.r.iter().all(|x| x.is_finite()) {
            break SolveStatus::NonFinite { iterations };
        }
        if ev.force_res <= tol.force_tolerance_n && ev.moment_res <= tol.moment_tolerance_nmm {
            break SolveStatus::Converged {
                iterations,
                force_residual_n: ev.force_res,
                moment_residual_nmm: ev.moment_res,
            };
        }
        if iterations >= tol.max_iterations {
            break SolveStatus::MaxIterations {
                iterations,
                force_residual_n: ev.force_res,
                moment_residual_nmm: ev.moment_res,
            };
        }
        iterations += 1;
        if finite_differences {
            ev.j = problem.fd_jacobian(&pose, scale, &ev.r, data);
        } else if !ev.has_jacobian {
            // The trial was expected to end the frame and did not: its Jacobian now, at
            // the same point (the same residual bits).
            ev = problem.evaluate(&pose, scale, data);
        }
        let use_exact = exact && !finite_differences;
        let jm = if use_exact { ev.j_exact } else { ev.j };
        let jt = jm.transpose();
        let a = jt * jm;
        let g = jt * ev.r;
        let merit = ev.r.norm_squared();
        let mut accepted = false;
        let mut demoted = false;
        while lambda < 1e12 {
            if lambda > SWITCH_TO_FD_LAMBDA && !finite_differences {
                break;
            }
            let mut damped = a;
            for i in 0..DIM {
                damped[(i, i)] += lambda * (a[(i, i)] + 1e-9);
            }
            let Some(mut delta) = damped.lu().solve(&(-g)) else {
                lambda *= 10.0;
                continue;
            };
            // Trust region on the physical step.
            let mut limit: f64 = 1.0;
            for (k, &c) in lay.pose().iter().enumerate() {
                let cap = if c < 3 { MAX_STEP_MM } else { MAX_STEP_RAD };
                limit = limit.max(delta[k].abs() / cap);
            }
            if lay.scale {
                let cap = (0.5 * scale).max(200.0);
                limit = limit.max(delta[lay.n() - 1].abs() / cap);
            }
            delta /= limit;
            let (p2, s2) = apply(&pose, scale, lay, &delta);
            // A trial the last step's contraction says will converge is evaluated without
            // the Jacobian (a third of a mesh evaluation's cost), which a converged frame
            // never uses; a wrong guess costs one more evaluation, never a different path.
            let ev2 = match contraction {
                Some(q)
                    if !finite_differences
                        && ev.force_res * q <= tol.force_tolerance_n
                        && ev.moment_res * q <= tol.moment_tolerance_nmm =>
                {
                    problem.residual(&p2, s2, data)
                }
                _ => problem.evaluate(&p2, s2, data),
            };
            let m2 = ev2.r.norm_squared();
            // The model's gain: actual over predicted reduction of the residual.
            let gain = (merit - m2) / (merit - (ev.r + jm * delta).norm_squared());
            if use_exact && !(gain >= EXACT_MIN_GAIN) {
                // The exact model must predict the step's reduction; where it does not,
                // the patella is far from equilibrium with its contact on the mesh's
                // sharply curved rim or facet kinks, and the frame goes on without the
                // surface terms (their Newton speed is for the last iterations).
                exact = false;
                may_promote = false;
                demoted = true;
            } else if may_promote && limit <= 1.0 && gain >= EXACT_PROMOTE_GAIN {
                // A full step the model predicted well: the Newton regime.
                exact = true;
                may_promote = false;
            }
            if m2.is_finite() && m2 < merit {
                stagnant = if m2 > merit * (1.0 - 1e-6) {
                    stagnant + 1
                } else {
                    0
                };
                contraction = Some((m2 / merit).sqrt());
                pose = p2;
                scale = s2;
                ev = ev2;
                lambda = (lambda * 0.2).max(1e-9);
                accepted = true;
                break;
            }
            if demoted {
                break;
            }
            lambda *= 8.0;
        }
        if demoted && !accepted {
            // Retry from the same iterate with the Jacobian without the surface terms.
            continue;
        }
        if !finite_differences && (!accepted || stagnant >= 3) {
            // The analytic Jacobian no longer gives a descent direction: continue this
            // frame with finite differences from where it is.
            finite_differences = true;
            lambda = 1e-6;
            stagnant = 0;
            if !accepted {
                ev = problem.evaluate(&pose, scale, data);
            }
            continue;
        }
        if !accepted {
            // Re-evaluate at the kept iterate so the pressure field matches the result.
            ev = problem.evaluate(&pose, scale, data);
            break SolveStatus::Stalled {
                iterations,
                force_residual_n: ev.force_res,
                moment_residual_nmm: ev.moment_res,
            };
        }
    };
    data.two_before = data.before_last;
    data.before_last = data
        .last_flexion
        .map(|f| (f, data.femur_from_patella, data.quad_scale_n));
    data.femur_from_patella = pose;
    data.quad_scale_n = scale;
    data.last_flexion = Some(input.knee.flexion);
    Solution {
        pose,
        scale,
        tissues: ev.tissues,
        contact: ev.contact,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::AnatomyModel;
    use crate::validation::knee_params;

    /// A residual-only evaluation gives the residual, metrics and pressure field of the
    /// full one bit for bit (both knees, the warm kernel, poses about a loaded frame):
    /// what lets a solve evaluate an expected last trial without its Jacobian and still
    /// take exactly the path it would have taken with it.
    #[test]
    fn residual_only_evaluation_matches_the_full_one_bit_for_bit() {
        for anatomy in [AnatomyModel::Lenhart2015, AnatomyModel::Parametric] {
            let model = Model::new(&knee_params(anatomy)).unwrap();
            let mut data = Data::new(&model);
            let knee = crate::KneeAngles {
                flexion: 40f64.to_radians(),
                ..Default::default()
            };
            let input = FrameInput::new(knee, QuadLoad::ExtensorMoment(40_000.0));
            crate::experiment::approach(&model, &mut data, knee, input.load);
            let solved = crate::step(&model, &input, &mut data);
            let joint = super::super::kinematics::kinematics(&model, &knee);
            let problem = Problem::new(&model, &input, &joint);
            let mut uniform = crate::math::uniform_stream(0x9e37_79b9_7f4a_7c15);
            let mut u = || uniform() * 2.0 - 1.0;
            for case in 0..40 {
                let pose = Isometry3::from_parts(
                    Translation3::from(
                        solved.femur_from_patella.translation.vector
                            + Vec3::new(0.5 * u(), 0.5 * u(), 0.5 * u()),
                    ),
                    UnitQuaternion::from_scaled_axis(Vec3::new(0.02 * u(), 0.02 * u(), 0.02 * u()))
                        * solved.femur_from_patella.rotation,
                );
                let scale = solved.quad_scale_n * (1.0 + 0.1 * u());
                // Either order, so each runs both from a fresh and from a warm reference.
                let (full, full_p, part, part_p) = if case % 2 == 0 {
                    let f = problem.evaluate(&pose, scale, &mut data);
                    let fp = data.pressure.clone();
                    let r = problem.residual(&pose, scale, &mut data);
                    (f, fp, r, data.pressure.clone())
                } else {
                    let r = problem.residual(&pose, scale, &mut data);
                    let rp = data.pressure.clone();
                    let f = problem.evaluate(&pose, scale, &mut data);
                    (f, data.pressure.clone(), r, rp)
                };
                assert!(full.has_jacobian && !part.has_jacobian);
                assert!(
                    full.contact.elements_in_contact > 0,
                    "{anatomy:?} case {case}"
                );
                let bits = |v: &Vec7| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&full.r), bits(&part.r), "{anatomy:?} case {case}");
                assert_eq!(full.force_res.to_bits(), part.force_res.to_bits());
                assert_eq!(full.moment_res.to_bits(), part.moment_res.to_bits());
                assert_eq!(full.contact.area, part.contact.area);
                assert_eq!(full.contact.peak_pressure, part.contact.peak_pressure);
                assert_eq!(full.contact.cop_moment, part.contact.cop_moment);
                assert_eq!(full_p, part_p);
            }
        }
    }

    /// The quadratic predictor reproduces a path quadratic in flexion exactly (translation,
    /// rotation about one axis, scale), and leaves a turn of the flexion to the secant.
    #[test]
    fn quadratic_predictor_is_exact_on_a_quadratic_path_and_stands_down_at_a_turn() {
        let model = Model::new(&knee_params(AnatomyModel::Parametric)).unwrap();
        let mut data = Data::new(&model);
        let path = |t: f64| {
            let tr = Vec3::new(40.0 + 3.0 * t + 2.0 * t * t, -5.0 * t * t, 1.0 - t);
            let q = UnitQuaternion::from_scaled_axis(Vec3::z() * (0.2 + 0.5 * t - 0.3 * t * t));
            (
                Isometry3::from_parts(Translation3::from(tr), q),
                300.0 + 80.0 * t - 40.0 * t * t,
            )
        };
        let frame = |t: f64| {
            let (p, s) = path(t);
            (t, p, s)
        };
        let (t0, t1, t2, t) = (0.50, 0.58, 0.67, 0.75);
        data.two_before = Some(frame(t0));
        data.before_last = Some(frame(t1));
        (data.femur_from_patella, data.quad_scale_n) = path(t2);
        data.last_flexion = Some(t2);
        let input = FrameInput::new(
            crate::KneeAngles {
                flexion: t,
                ..Default::default()
            },
            QuadLoad::ExtensorMoment(10_000.0),
        );
        let guess = warm_start(&model, &input, &data);
        let (want, scale) = path(t);
        assert!((guess.pose.translation.vector - want.translation.vector).norm() < 1e-9);
        assert!(guess.pose.rotation.angle_to(&want.rotation) < 1e-9);
        assert!((guess.scale - scale).abs() < 1e-9);
        // The flexion turns: the quadratic stands down (the secant, too, then).
        let back = FrameInput::new(
            crate::KneeAngles {
                flexion: 0.6,
                ..Default::default()
            },
            QuadLoad::ExtensorMoment(10_000.0),
        );
        assert!(quadratic_weights(back.knee.flexion, &data).is_none());
        // Uneven steps (the new one more than twice the last) stand down too.
        assert!(quadratic_weights(0.9, &data).is_none());
        assert!(quadratic_weights(t, &data).is_some());
    }
}
