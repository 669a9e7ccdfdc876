//! The raw scenario file, as serde reads it (`deny_unknown_fields`, every key optional with
//! a documented default). Nothing here is validated; `compile` does that once, against the
//! key table ([`super::keys::KEYS`]: every key's default, range, unit and meaning — the one
//! place a range is written).

use serde::{Deserialize, Serialize};

use crate::gait::opensim::KneeSign;
use crate::params::{
    Anatomy, Cartilage, Foot, Itb, Ligaments, Mechanisms, Muscles, Solver, Subject,
};

/// Experiment kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Quasi-static flexion sweep (cadaver rig).
    #[default]
    Flexion,
    /// Patella displaced medio-laterally; restraining force reported.
    Stability,
    /// Running gait cycles, each frame driven by the knee extensor moment.
    Gait,
    /// The patella as a rigid body integrated in time (rapier3d): a force pulse, a ramp to
    /// dislocation, or the running cycle in real time (`[dynamic]`).
    Dynamic,
}

/// `[scenario]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ScenarioSection {
    /// Name used for the default output folder (default: the file name without `.toml`).
    pub name: Option<String>,
    /// `flexion`, `stability`, `gait` or `dynamic` (default flexion).
    pub kind: Kind,
    /// Free text, echoed in summary.json.
    pub description: String,
}

/// A load given once for every angle or once per angle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerAngle {
    /// The same value at every angle.
    One(f64),
    /// One value per angle, in order.
    Each(Vec<f64>),
}

/// `[flexion]`: quasi-static flexion sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlexionSpec {
    /// First knee flexion angle, degrees (default 0).
    pub from_deg: f64,
    /// Last knee flexion angle, degrees (default 90; ≥ from_deg).
    pub to_deg: f64,
    /// Angle step, degrees (default 10).
    pub step_deg: f64,
    /// Explicit list of angles, degrees, increasing (overrides from/to/step).
    pub angles_deg: Option<Vec<f64>>,
    /// Total quadriceps force, N: one value or one per angle. Default
    /// 400 N when neither this nor `extensor_moment_nm` is given.
    pub quadriceps_n: Option<PerAngle>,
    /// Knee extensor moment, N·m: one value or one per angle; the
    /// quadriceps scale is then solved. Exclusive with `quadriceps_n`.
    pub extensor_moment_nm: Option<PerAngle>,
    /// Tibial internal rotation held through the sweep, degrees (default 0).
    pub tibial_rotation_deg: f64,
    /// Knee varus (+) / valgus (−) held through the sweep, degrees (default 0).
    pub varus_deg: f64,
    /// Measured tibiofemoral secondary motion per flexion angle: an OpenSim `.mot`/`.sto`
    /// (relative to the scenario file) with `knee_flex_r` (`_l` for a left knee; + flexion)
    /// and any of `knee_add_r`, `knee_rot_r`, `knee_tx_r`, `knee_ty_r`, `knee_tz_r`,
    /// interpolated linearly at each angle (every angle must lie in the file's flexion
    /// range). Those coordinates replace the coupling's; `varus_deg` and
    /// `tibial_rotation_deg` add on top. Default: none.
    pub secondary_kinematics: Option<String>,
}

impl Default for FlexionSpec {
    fn default() -> Self {
        Self {
            from_deg: 0.0,
            to_deg: 90.0,
            step_deg: 10.0,
            angles_deg: None,
            quadriceps_n: None,
            extensor_moment_nm: None,
            tibial_rotation_deg: 0.0,
            varus_deg: 0.0,
            secondary_kinematics: None,
        }
    }
}

/// Direction of a stability displacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    /// Push (or test) laterally.
    Lateral,
    /// Medially.
    Medial,
    /// Both ways (stability tests).
    Both,
}

/// `[stability]`: Amis-lab stability test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StabilitySpec {
    /// Knee flexion angles, degrees (default [0, 30, 60, 90]).
    pub flexion_deg: Vec<f64>,
    /// Displacement from the loaded neutral position, mm (default 10).
    pub displacement_mm: f64,
    /// `lateral`, `medial` or `both` (default lateral).
    pub direction: Direction,
    /// Total quadriceps force, N (default 175, Senavongse & Amis 2005).
    pub quadriceps_n: f64,
}

impl Default for StabilitySpec {
    fn default() -> Self {
        Self {
            flexion_deg: vec![0.0, 30.0, 60.0, 90.0],
            displacement_mm: 10.0,
            direction: Direction::Lateral,
            quadriceps_n: 175.0,
        }
    }
}

/// `[gait]`: running gait cycles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaitSpec {
    /// Running speed, m/s (default 3.5). Sets the preferred step rate and the
    /// steps per km.
    pub speed_mps: f64,
    /// Step rate, steps/min of both legs, within ±20 % of the preferred rate. Exclusive with
    /// `step_rate_change_pct`; default: the preferred rate at this speed.
    pub step_rate_spm: Option<f64>,
    /// Step-rate change against the preferred rate, % (default 0).
    pub step_rate_change_pct: Option<f64>,
    /// Grade, % (default 0; negative = downhill).
    pub slope_pct: f64,
    /// Frames per cycle (default 100).
    pub frames_per_cycle: usize,
    /// Number of cycles (default 1). Cycles run in parallel.
    pub cycles: usize,
    /// `"builtin"` or the path of an OpenSim IK `.mot` (relative to the scenario file).
    pub kinematics: String,
    /// Optional OpenSim inverse-dynamics `.sto` (relative to the scenario file); without
    /// it the extensor moment is estimated from the built-in cycle.
    pub kinetics: Option<String>,
    /// Knee-angle sign of the OpenSim file: `auto`, `flexion_positive`
    /// (Rajagopal 2016) or `flexion_negative` (gait2392, Hamner 2010). Default auto.
    pub knee_sign: KneeSign,
    /// Foot-strike times in the OpenSim file, s (at least two, increasing); default:
    /// detected from the knee angle.
    pub cycle_starts_s: Option<Vec<f64>>,
    /// Extra hip adduction in stance, degrees (default 0).
    pub stance_hip_adduction_deg: f64,
    /// Extra hip internal rotation in stance, degrees (default 0).
    pub stance_hip_rotation_deg: f64,
}

impl Default for GaitSpec {
    fn default() -> Self {
        Self {
            speed_mps: 3.5,
            step_rate_spm: None,
            step_rate_change_pct: None,
            slope_pct: 0.0,
            frames_per_cycle: 100,
            cycles: 1,
            kinematics: "builtin".into(),
            kinetics: None,
            knee_sign: KneeSign::Auto,
            cycle_starts_s: None,
            stance_hip_adduction_deg: 0.0,
            stance_hip_rotation_deg: 0.0,
        }
    }
}

/// `[dynamic]`: a dynamic experiment (see `kneetrack::dynamics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamicSpec {
    /// `pulse`, `ramp` or `gait` (default pulse). `gait` runs the `[gait]` section's cycles
    /// in real time.
    pub case: crate::dynamics::DynamicCase,
    /// Knee flexion of the pulse and ramp cases, degrees (default 30).
    pub flexion_deg: f64,
    /// Quadriceps force of the pulse and ramp cases, N (default 175, the stability test's
    /// load, Senavongse & Amis 2005).
    pub quadriceps_n: f64,
    /// Direction of the applied force: `lateral` or `medial` (default lateral).
    pub direction: Direction,
    /// Pulse force, N (default 100).
    pub force_n: f64,
    /// Time the pulse or ramp starts, s (default 0.02).
    pub onset_s: f64,
    /// Pulse duration, s (default 0.02).
    pub pulse_s: f64,
    /// Ramp rate, N/s (default 1000).
    pub ramp_n_per_s: f64,
    /// Force at which the ramp stops rising if the patella has not dislocated, N (default
    /// 600).
    pub ramp_max_n: f64,
    /// Simulated time, s: the pulse and ramp cases run this long (default 0.2);
    /// the gait case runs its cycles (default), or only their first `duration_s` when it is
    /// shorter (the stance phase alone, for example).
    pub duration_s: Option<f64>,
    /// Lateral displacement of the patella from its equilibrium at t = 0, mm (default 0):
    /// release from a displaced position.
    pub initial_shift_mm: f64,
    /// How each step integrates: `implicit` (default; the linearly implicit midpoint rule,
    /// steps of 0.25–0.5 ms) or `explicit` (rapier's symplectic Euler; steps ≤ ~20 µs on the
    /// real knee).
    pub integrator: crate::dynamics::Integrator,
    /// Time step, s (default 2.5e-4). Implicit: resolve the motion (a pulse's
    /// rise, a gait cycle's loading); explicit: keep it below ~1/(4ω) of the stiffest mode
    /// (the loaded cartilage layer, ω ≈ 12,000 rad/s: 2e-5).
    pub dt_s: f64,
    /// Damping of the patella's motion, 1/s (default 2000).
    pub damping_per_s: f64,
    /// Apparent density of the patella, kg/m³ (default 1300).
    pub density_kg_m3: f64,
    /// Output samples per simulated second (default 1000; at most one per step).
    pub output_hz: f64,
}

impl Default for DynamicSpec {
    fn default() -> Self {
        let p = crate::dynamics::DynamicPlan::pulse(30f64.to_radians(), 175.0);
        Self {
            case: crate::dynamics::DynamicCase::Pulse,
            flexion_deg: 30.0,
            quadriceps_n: p.quadriceps_n,
            direction: Direction::Lateral,
            force_n: p.pulse_n,
            onset_s: p.onset_s,
            pulse_s: p.pulse_s,
            ramp_n_per_s: p.ramp_n_per_s,
            ramp_max_n: p.ramp_max_n,
            duration_s: None,
            initial_shift_mm: 0.0,
            integrator: p.integrator,
            dt_s: p.dt_s,
            damping_per_s: p.damping_per_s,
            density_kg_m3: p.density_kg_m3,
            output_hz: p.output_hz,
        }
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// frames.csv (and stability.csv).
    Csv,
    /// summary.json.
    Json,
    /// The SVG plots.
    Svg,
    /// OpenSim Storage (gait runs: results over time).
    Sto,
}

/// `[output]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OutputSpec {
    /// Output folder (default `out/<scenario name>`, relative to the working directory).
    pub dir: Option<String>,
    /// Files to write (default csv, json, svg, and sto for gait runs).
    pub formats: Option<Vec<Format>>,
}

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ScenarioSpec {
    /// `[scenario]`.
    pub scenario: ScenarioSection,
    /// `[anatomy]`.
    pub anatomy: Anatomy,
    /// `[subject]`.
    pub subject: Subject,
    /// `[cartilage]`.
    pub cartilage: Cartilage,
    /// `[muscles]`.
    pub muscles: Muscles,
    /// `[ligaments]`.
    pub ligaments: Ligaments,
    /// `[itb]`.
    pub itb: Itb,
    /// `[foot]`.
    pub foot: Foot,
    /// `[mechanisms]`.
    pub mechanisms: Mechanisms,
    /// `[solver]`.
    pub solver: Solver,
    /// `[gait]`.
    pub gait: GaitSpec,
    /// `[flexion]`.
    pub flexion: FlexionSpec,
    /// `[stability]`.
    pub stability: StabilitySpec,
    /// `[dynamic]`.
    pub dynamic: DynamicSpec,
    /// `[output]`.
    pub output: OutputSpec,
}
