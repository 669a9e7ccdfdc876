//! The raw scenario file, as serde reads it (`deny_unknown_fields`, every key optional with
//! a documented default). Nothing here is validated; `compile` does that once.

use serde::{Deserialize, Serialize};

use crate::params::{Cartilage, Itb, Ligaments, Muscles, Solver, Subject};

/// Experiment kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Quasi-static flexion sweep (cadaver rig).
    #[default]
    Flexion,
    /// Patella displaced medio-laterally; restraining force reported.
    Stability,
}

/// `[scenario]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ScenarioSection {
    /// Name used for the default output folder (default: the file name without `.toml`).
    pub name: Option<String>,
    /// `flexion` or `stability` (default flexion).
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
    /// First knee flexion angle, degrees (default 0; range −5…140).
    pub from_deg: f64,
    /// Last knee flexion angle, degrees (default 90; range −5…140, ≥ from_deg).
    pub to_deg: f64,
    /// Angle step, degrees (default 10; range 0.5…45).
    pub step_deg: f64,
    /// Explicit list of angles, degrees, increasing (overrides from/to/step).
    pub angles_deg: Option<Vec<f64>>,
    /// Total quadriceps force, N (range 0…10000): one value or one per angle. Default
    /// 400 N when neither this nor `extensor_moment_nm` is given.
    pub quadriceps_n: Option<PerAngle>,
    /// Knee extensor moment, N·m (range 0…400): one value or one per angle; the
    /// quadriceps scale is then solved. Exclusive with `quadriceps_n`.
    pub extensor_moment_nm: Option<PerAngle>,
    /// Tibial internal rotation held through the sweep, degrees (default 0; −30…30).
    pub tibial_rotation_deg: f64,
    /// Knee varus (+) / valgus (−) held through the sweep, degrees (default 0; −15…15).
    pub varus_deg: f64,
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
        }
    }
}

/// Direction of a stability displacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Lateral,
    Medial,
    Both,
}

/// `[stability]`: Amis-lab stability test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StabilitySpec {
    /// Knee flexion angles, degrees (default [0, 30, 60, 90]; each −5…120).
    pub flexion_deg: Vec<f64>,
    /// Displacement from the loaded neutral position, mm (default 10; 0.5…25).
    pub displacement_mm: f64,
    /// `lateral`, `medial` or `both` (default lateral).
    pub direction: Direction,
    /// Total quadriceps force, N (default 175, Senavongse & Amis 2005; 0…3000).
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

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Json,
    Svg,
}

/// `[output]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputSpec {
    /// Output folder (default `out/<scenario name>`, relative to the working directory).
    pub dir: Option<String>,
    /// Files to write (default all of csv, json, svg).
    pub formats: Vec<Format>,
}

impl Default for OutputSpec {
    fn default() -> Self {
        Self {
            dir: None,
            formats: vec![Format::Csv, Format::Json, Format::Svg],
        }
    }
}

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ScenarioSpec {
    pub scenario: ScenarioSection,
    pub subject: Subject,
    pub cartilage: Cartilage,
    pub muscles: Muscles,
    pub ligaments: Ligaments,
    pub itb: Itb,
    pub solver: Solver,
    pub flexion: FlexionSpec,
    pub stability: StabilitySpec,
    pub output: OutputSpec,
}
