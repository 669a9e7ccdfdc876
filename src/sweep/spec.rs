//! The raw sweep file, as serde reads it (`deny_unknown_fields`). Nothing is validated
//! here; [`super::compile::compile_sweep`] does that once.
//!
//! ```toml
//! [sweep]
//! base = "../runner_baseline.toml"     # scenario the variants start from (relative to this file)
//! method = "grid"                      # grid | latin_hypercube | random
//! samples = 50                         # latin_hypercube / random only
//! seed = 1                             # latin_hypercube / random only
//! plot = "peak_lateral_force_n"        # metric of sweep.svg
//!
//! [[sweep.axis]]
//! key = "muscles.vmo"
//! values = [0.25, 0.5, 0.75, 1.0]
//!
//! [[sweep.axis]]
//! key = "subject.q_angle_deg"
//! from = 8.0
//! to = 24.0
//! steps = 5
//!
//! [output]
//! dir = "out/vmo_q_angle"
//! ```

use serde::{Deserialize, Serialize};

/// How variants are drawn from the axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Every combination of the axis values (first axis slowest).
    #[default]
    Grid,
    /// `samples` variants, each axis split into `samples` equal strata used once each
    /// (McKay, Beckman & Conover 1979), jittered within the stratum.
    LatinHypercube,
    /// `samples` independent uniform draws per axis.
    Random,
}

/// `[[sweep.axis]]`: one swept scenario key, as a list of values or a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AxisSpec {
    /// Dotted scenario key, e.g. `muscles.vmo` or `gait.speed_mps`.
    pub key: String,
    /// Explicit values (numbers, strings or booleans, as the key takes).
    pub values: Option<Vec<toml::Value>>,
    /// Range start (with `to`).
    pub from: Option<f64>,
    /// Range end, inclusive.
    pub to: Option<f64>,
    /// Grid points of the range, ends included (grid only; ≥ 1).
    pub steps: Option<u64>,
}

/// `[sweep]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SweepSection {
    /// Name of the output folder (default: the file name without `.toml`).
    pub name: Option<String>,
    /// Free text.
    pub description: String,
    /// Base scenario file, relative to the sweep file.
    pub base: String,
    /// Sampling method (default grid).
    pub method: Method,
    /// Number of variants for latin_hypercube / random.
    pub samples: Option<u64>,
    /// Seed of latin_hypercube / random (default 0). The same seed gives the same variants
    /// on every machine.
    pub seed: u64,
    /// Metric plotted in sweep.svg (default `peak_lateral_force_n`).
    pub plot: Option<String>,
    /// The axes.
    pub axis: Vec<AxisSpec>,
}

/// `[output]` of a sweep file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SweepOutputSpec {
    /// Output folder (default `out/<name>`).
    pub dir: Option<String>,
}

/// A whole sweep file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SweepSpec {
    /// `[sweep]`.
    pub sweep: SweepSection,
    /// `[output]`.
    pub output: SweepOutputSpec,
}
