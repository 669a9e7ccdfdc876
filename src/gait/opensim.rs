//! OpenSim interop: read an inverse-kinematics `.mot` (joint angles) and optionally an
//! inverse-dynamics `.sto` (generalised forces), cut them into gait cycles and resample;
//! write results as `.sto`.
//!
//! File format (OpenSim Storage, versions 1 and later): header lines up to a line
//! `endheader` (among them `inDegrees=yes|no`), then a line of tab-separated column labels
//! starting with `time`, then one row of numbers per time. Column names follow OpenSim
//! models (`knee_angle_r`, `hip_flexion_r`, `hip_adduction_r`, `hip_rotation_r`; inverse
//! dynamics adds `_moment`). Sign conventions: hip flexion, adduction and internal rotation
//! are positive in every OpenSim lower-limb model; `knee_angle_r` is negative in flexion
//! in gait2392 and the Hamner (2010) running model and positive in Rajagopal (2016).
//!
//! **Measured tibiofemoral secondary motion.** An IK file of an OpenSim-JAM knee (Lenhart
//! 2015, Smith 2016's COMAK) may carry the knee's secondary coordinates `knee_add_r`,
//! `knee_rot_r` (rotations: degrees or radians per `inDegrees`), `knee_tx_r`, `knee_ty_r`,
//! `knee_tz_r` (translations: metres, as every OpenSim translation); `_l` for a left knee.
//! [`secondary_columns`] reads whichever are present (kneetrack units: rad, mm) and checks
//! them against [`SECONDARY_LIMITS`]; each replaces the tibiofemoral coupling's value of that
//! coordinate and the risk-factor mechanisms add on top (precedence:
//! [`crate::step::kinematics`]). [`SecondaryByFlexion`] reads the same columns against
//! `knee_flex_r` for a flexion scenario (`flexion.secondary_kinematics`).
//!
//! **What the data must mean** ([`read_cycles`], run by `check` and `run` alike):
//! `inDegrees` exactly `yes` or `no`; joint angles within [`ANGLE_LIMITS_DEG`]; a knee not
//! hyperextended by the sign for most of the file ([`KNEE_SIGN_CHECK`]); cycle starts finite,
//! inside the file, increasing and [`CYCLE_DURATION_S`] apart; the IK and ID files covering
//! every cycle used (interpolated, never extrapolated).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::builtin::{builtin_extensor_moment, builtin_stance_peak_deg, STANCE_END_PCT};
use super::{stance_weight, GaitCycle, GaitSample, STANCE_RAMP_PCT};
use crate::params::Side;
use crate::step::SecondaryCoords;

/// Why an OpenSim file could not be used. Every variant names the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpenSimError {
    /// The file could not be read.
    #[error("{path}: cannot read: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS or the reader said.
        message: String,
    },
    /// The header never ends: not a .mot/.sto file.
    #[error("{path}: no `endheader` line: not an OpenSim .mot/.sto file")]
    NoEndHeader {
        /// The file.
        path: PathBuf,
    },
    /// A header entry with a value kneetrack cannot read unambiguously.
    #[error("{path}:{line}: header `{key}={value}`: allowed {allowed}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: usize,
        /// The header key (`inDegrees`).
        key: String,
        /// Its value as written.
        value: String,
        /// The values kneetrack reads.
        allowed: String,
    },
    /// The column-label line does not start with `time`.
    #[error("{path}:{line}: column labels must start with `time`, found `{found}`")]
    BadLabels {
        /// The file.
        path: PathBuf,
        /// 1-based line of the labels.
        line: usize,
        /// The first label found.
        found: String,
    },
    /// A data row that cannot be read (a missing or non-numeric value).
    #[error("{path}:{line}: {message}")]
    BadRow {
        /// The file.
        path: PathBuf,
        /// 1-based line of the row.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A row whose time is not after the previous row's.
    #[error("{path}:{line}: time {time} s is not after the previous row's {previous} s (time must increase)")]
    NonMonotonicTime {
        /// The file.
        path: PathBuf,
        /// 1-based line of the row.
        line: usize,
        /// Its time, s.
        time: f64,
        /// The previous row's time, s.
        previous: f64,
    },
    /// A column kneetrack needs is not in the file.
    #[error("{path}: no column `{column}` (columns: {available})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column needed.
        column: String,
        /// The columns the file has.
        available: String,
    },
    /// No usable gait cycle in the file (fewer than two foot strikes, or a stride of
    /// implausible length).
    #[error("{path}: {message}")]
    Cycles {
        /// The file.
        path: PathBuf,
        /// What is missing, and what to do.
        message: String,
    },
    /// A joint coordinate outside its plausibility bounds ([`SECONDARY_LIMITS`],
    /// [`ANGLE_LIMITS_DEG`]).
    #[error("{path}:{line}: column `{column}` = {value}{unit} is out of range: allowed {min} to {max}{unit} ({why})")]
    OutOfRange {
        /// The file.
        path: PathBuf,
        /// 1-based line of the row.
        line: usize,
        /// The column.
        column: String,
        /// The value in `unit` (after the degree conversion and, for the knee, the sign).
        value: f64,
        /// Smallest plausible value, in `unit`.
        min: f64,
        /// Largest plausible value, in `unit`.
        max: f64,
        /// Unit of the value and bounds as shown (`°`, or ` mm` with a leading space).
        unit: &'static str,
        /// Why the bounds are what they are.
        why: String,
    },
    /// A foot-strike time given in [`ImportOptions::cycle_starts_s`] that cannot start a
    /// cycle (`index` from 0).
    #[error("{path}: cycle start #{index} = {} s {problem}: allowed {allowed}", show(*.value))]
    CycleStart {
        /// The kinematics file.
        path: PathBuf,
        /// Which start, from 0.
        index: usize,
        /// The time given, s.
        value: f64,
        /// What is wrong with it.
        problem: String,
        /// What would be allowed there.
        allowed: String,
    },
    /// A file whose time range does not cover the cycles used (data are interpolated, never
    /// extrapolated).
    #[error("{path}: its data cover {first_s} s to {last_s} s, but the {cycles} cycle(s) used need {from_s} s to {to_s} s; values are interpolated, never extrapolated — give data over the whole cycles, or cycle_starts_s / cycles within the file's range")]
    Coverage {
        /// The file.
        path: PathBuf,
        /// Its first time, s.
        first_s: f64,
        /// Its last time, s.
        last_s: f64,
        /// Start of the cycles used, s.
        from_s: f64,
        /// End of the cycles used, s.
        to_s: f64,
        /// Number of cycles used.
        cycles: usize,
    },
    /// The knee angles, read with the chosen sign, are a hyperextended knee.
    #[error("{path}: `{column}` read as {sign} gives a knee flexion below {bound_deg}° (hyperextension) in {share_pct:.0} % of the rows, down to {min_deg}°; allowed in at most {max_share_pct} % of them: {hint}")]
    KneeSign {
        /// The file.
        path: PathBuf,
        /// The knee-angle column.
        column: String,
        /// The sign convention it was read with (`flexion_positive`, `flexion_negative`).
        sign: String,
        /// Flexion below this is hyperextension, degrees.
        bound_deg: f64,
        /// Share of the rows below the bound, %.
        share_pct: f64,
        /// Largest share allowed, %.
        max_share_pct: f64,
        /// Smallest flexion read, degrees.
        min_deg: f64,
        /// What to do (the other sign, or `gait.knee_sign`).
        hint: String,
    },
    /// Columns that are each fine but do not fit together, or do not fit their use.
    #[error("{path}: {message}")]
    Columns {
        /// The file.
        path: PathBuf,
        /// What does not fit, and what to do.
        message: String,
    },
    /// A flexion angle the secondary-kinematics file does not cover.
    #[error("{path}: flexion {angle_deg}° is outside the file's `{column}` range {min_deg}° to {max_deg}° (the secondary coordinates are interpolated, not extrapolated)")]
    FlexionOutside {
        /// The secondary-kinematics file.
        path: PathBuf,
        /// Its knee-flexion column.
        column: String,
        /// The flexion angle asked for, degrees.
        angle_deg: f64,
        /// Smallest flexion in the file, degrees.
        min_deg: f64,
        /// Largest flexion in the file, degrees.
        max_deg: f64,
    },
}

/// A parsed Storage file.
#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    /// Where it came from (for messages).
    pub path: PathBuf,
    /// `inDegrees` from the header; `None` when absent.
    pub in_degrees: Option<bool>,
    /// Column labels, `time` first.
    pub labels: Vec<String>,
    /// Rows of numbers, one per time; shape (n_rows, labels.len()).
    pub rows: Vec<Vec<f64>>,
    /// 1-based line of each row in the file (for messages).
    pub row_lines: Vec<usize>,
    /// FNV-1a 64 hash of the file's text (a sweep's manifest hash covers the data read).
    pub fnv1a64: u64,
}

impl Storage {
    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<Self, OpenSimError> {
        let text = crate::input::read_text(
            path,
            crate::input::MAX_DATA_BYTES,
            "motion or storage file (.mot, .sto)",
        )
        .map_err(|e| OpenSimError::Io {
            path: path.into(),
            message: e.to_string(),
        })?;
        Self::parse(path, &text)
    }

    /// Parses text (`path` names it in messages).
    pub fn parse(path: &Path, text: &str) -> Result<Self, OpenSimError> {
        let mut lines = text.lines().enumerate();
        let mut in_degrees = None;
        let mut ended = false;
        for (i, line) in lines.by_ref() {
            let l = line.trim();
            if l.eq_ignore_ascii_case("endheader") {
                ended = true;
                break;
            }
            if let Some((k, v)) = l.split_once('=') {
                if k.trim().eq_ignore_ascii_case("inDegrees") {
                    // Exactly as OpenSim writes it. OpenSim's own reader takes anything but
                    // `yes` for radians (so `Yes` or `maybe` would mean radians there): any
                    // other spelling is refused rather than guessed.
                    let value = match v.trim() {
                        "yes" => true,
                        "no" => false,
                        other => {
                            return Err(OpenSimError::BadHeader {
                                path: path.into(),
                                line: i + 1,
                                key: k.trim().into(),
                                value: other.into(),
                                allowed: "`yes` (angles in degrees) or `no` (radians), lower case \
                                          as OpenSim writes it"
                                    .into(),
                            });
                        }
                    };
                    if in_degrees.is_some_and(|d| d != value) {
                        return Err(OpenSimError::BadHeader {
                            path: path.into(),
                            line: i + 1,
                            key: k.trim().into(),
                            value: v.trim().into(),
                            allowed: "one `inDegrees` per header; an earlier line says the \
                                      opposite"
                                .into(),
                        });
                    }
                    in_degrees = Some(value);
                }
            }
        }
        if !ended {
            return Err(OpenSimError::NoEndHeader { path: path.into() });
        }
        let (label_line, labels) = loop {
            match lines.next() {
                Some((_, l)) if l.trim().is_empty() => continue,
                Some((i, l)) => break (i + 1, l),
                None => {
                    return Err(OpenSimError::BadLabels {
                        path: path.into(),
                        line: text.lines().count(),
                        found: "end of file".into(),
                    })
                }
            }
        };
        let labels: Vec<String> = labels.split_whitespace().map(str::to_string).collect();
        if labels.first().map(String::as_str) != Some("time") {
            return Err(OpenSimError::BadLabels {
                path: path.into(),
                line: label_line,
                found: labels.first().cloned().unwrap_or_default(),
            });
        }
        let mut rows: Vec<Vec<f64>> = Vec::new();
        let mut row_lines = Vec::new();
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |message: String| OpenSimError::BadRow {
                path: path.into(),
                line: i + 1,
                message,
            };
            let row = line
                .split_whitespace()
                .enumerate()
                .map(|(c, v)| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| {
                            bad(format!(
                                "column `{}`: `{v}` is not a finite number",
                                labels.get(c).map_or("?", String::as_str)
                            ))
                        })
                })
                .collect::<Result<Vec<f64>, _>>()?;
            if row.len() != labels.len() {
                return Err(bad(format!(
                    "{} values but {} column labels",
                    row.len(),
                    labels.len()
                )));
            }
            if let Some(prev) = rows.last() {
                if row[0] <= prev[0] {
                    return Err(OpenSimError::NonMonotonicTime {
                        path: path.into(),
                        line: i + 1,
                        time: row[0],
                        previous: prev[0],
                    });
                }
            }
            rows.push(row);
            row_lines.push(i + 1);
        }
        if rows.len() < 2 {
            return Err(OpenSimError::BadRow {
                path: path.into(),
                line: text.lines().count(),
                message: format!("{} data rows; at least 2 are needed", rows.len()),
            });
        }
        Ok(Self {
            path: path.into(),
            in_degrees,
            labels,
            rows,
            row_lines,
            fnv1a64: crate::anatomy::mesh_knee::fnv1a64(text.as_bytes()),
        })
    }

    /// Index of a column, or a clear error.
    pub fn index(&self, name: &str) -> Result<usize, OpenSimError> {
        self.labels
            .iter()
            .position(|l| l == name)
            .ok_or_else(|| OpenSimError::MissingColumn {
                path: self.path.clone(),
                column: name.into(),
                available: self.labels.join(", "),
            })
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Result<Vec<f64>, OpenSimError> {
        let i = self.index(name)?;
        Ok(self.rows.iter().map(|r| r[i]).collect())
    }

    /// Times, s.
    pub fn time(&self) -> Vec<f64> {
        self.rows.iter().map(|r| r[0]).collect()
    }
}

/// Linear interpolation of (xs, ys) at x (xs increasing; clamped at the ends).
pub fn interp(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let i = xs.partition_point(|&v| v <= x);
    if i == 0 {
        return ys[0];
    }
    if i >= xs.len() {
        return ys[ys.len() - 1];
    }
    let (x0, x1) = (xs[i - 1], xs[i]);
    ys[i - 1] + (ys[i] - ys[i - 1]) * (x - x0) / (x1 - x0)
}

/// The knee-angle sign convention of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KneeSign {
    /// Decide from the data: a knee column that is mostly negative is flexion-negative.
    #[default]
    Auto,
    /// Rajagopal (2016): + flexion.
    FlexionPositive,
    /// gait2392, Hamner (2010): − flexion.
    FlexionNegative,
}

/// What [`read_cycles`] needs besides the files.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Which leg's columns to read (`_r` or `_l`).
    pub side: Side,
    /// Knee-angle sign convention of the file (or detect it).
    pub knee_sign: KneeSign,
    /// Foot-strike times, s (at least two); `None` = detect from the knee angle.
    pub cycle_starts_s: Option<Vec<f64>>,
    /// At most this many cycles (the first ones).
    pub max_cycles: usize,
    /// Frames each cycle is resampled to.
    pub frames_per_cycle: usize,
    /// Body mass, kg: scales the built-in N·m/kg moments when there is no ID file.
    pub body_mass_kg: f64,
}

/// Cycles read from OpenSim files, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The cycles, in time order.
    pub cycles: Vec<GaitCycle>,
    /// `flexion_positive` or `flexion_negative`, with `(detected)` or `(given)`.
    pub knee_sign: String,
    /// How the extensor moment was obtained.
    pub moment_source: String,
    /// The OpenSim-JAM secondary coordinates the file carries (`knee_add_r, knee_tx_r`), or
    /// `None`: those drive the tibia instead of the coupling.
    pub secondary: Option<String>,
}

fn suffix(side: Side) -> &'static str {
    match side {
        Side::Right => "_r",
        Side::Left => "_l",
    }
}

/// The OpenSim-JAM knee's secondary coordinates, without the side suffix, in
/// [`SecondaryColumns::values`] order: adduction, internal rotation, translations along the
/// femur frame's X (anterior), Y (proximal) and Z.
pub const SECONDARY_NAMES: [&str; 5] = ["knee_add", "knee_rot", "knee_tx", "knee_ty", "knee_tz"];

/// Plausibility bounds of the secondary coordinates, in file units after the degree
/// conversion (degrees for the rotations, mm for the translations): a value beyond them is a
/// unit or column mix-up, not a knee. *Assumptions* from the sources, wide on purpose:
/// - adduction ±20°: bone-pin and fluoroscopy studies of walking and running (Reinschmidt et
///   al. 1997, Benoit et al. 2006, Kozanek et al. 2009) measure a few degrees of tibiofemoral
///   ab/adduction; 20° needs torn collateral ligaments;
/// - internal rotation ±45°: the same studies report axial rotation of the order of 10° in
///   gait; the passive arc of axial rotation of the flexed knee is about 40–50° in all
///   (Mossberg & Smith 1983), and the screw-home motion to 120° flexion about 15° (Walker
///   1988, [`WALKER_1988`]);
/// - translations ±30 mm: anterior–posterior laxity is 5–10 mm, femoral rollback in deep
///   flexion up to about 20 mm (Johal et al. 2005), proximal–distal and medio-lateral motion
///   a few mm. A translation beyond 30 mm is usually a file in mm instead of OpenSim's metres.
///
/// [`WALKER_1988`]: crate::step::kinematics::WALKER_1988
pub const SECONDARY_LIMITS: [f64; 5] = [20.0, 45.0, 30.0, 30.0, 30.0];

/// The secondary coordinates an IK file carries, per row, in kneetrack units.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondaryColumns {
    /// Column labels found (with the side suffix), in [`SECONDARY_NAMES`] order.
    pub found: Vec<String>,
    /// Per coordinate ([`SECONDARY_NAMES`] order), the column's values per row, `None`
    /// when the file lacks it: adduction and internal rotation in rad, translations in mm.
    pub values: [Option<Vec<f64>>; 5],
}

impl SecondaryColumns {
    /// True when the file carries none of the columns.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The coordinates at one point, each column evaluated by `eval` (an interpolation over
    /// the rows).
    pub fn at(&self, eval: impl Fn(&[f64]) -> f64) -> SecondaryCoords {
        let v = |i: usize| self.values[i].as_deref().map(&eval);
        SecondaryCoords {
            adduction: v(0),
            internal_rotation: v(1),
            translation_mm: [v(2), v(3), v(4)],
        }
    }

    /// One line for summaries: which coordinates were measured (`knee_add_r, knee_rot_r`),
    /// or `None`.
    pub fn describe(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.found.join(", "))
    }
}

/// Reads the OpenSim-JAM secondary knee coordinates of `side` that `s` carries (any subset,
/// possibly none): rotations converted to rad per the file's `inDegrees` (absent = degrees,
/// as in [`read_cycles`]), translations from m to mm; every row checked against
/// [`SECONDARY_LIMITS`] (the error names the file, line, column, value and bounds).
/// Non-finite values are rejected by [`Storage::parse`].
pub fn secondary_columns(s: &Storage, side: Side) -> Result<SecondaryColumns, OpenSimError> {
    let sfx = suffix(side);
    let degrees = s.in_degrees != Some(false);
    let mut found = Vec::new();
    let mut values: [Option<Vec<f64>>; 5] = Default::default();
    for (i, base) in SECONDARY_NAMES.iter().enumerate() {
        let name = format!("{base}{sfx}");
        let Some(c) = s.labels.iter().position(|l| *l == name) else {
            continue;
        };
        let rotation = i < 2;
        // File value → the bounds' units (degrees or mm); then to kneetrack's (rad or mm).
        let (to_bound, unit) = match (rotation, degrees) {
            (true, true) => (1.0, "°"),
            (true, false) => (1f64.to_degrees(), "°"),
            (false, _) => (1000.0, " mm"),
        };
        let lim = SECONDARY_LIMITS[i];
        let mut col = Vec::with_capacity(s.rows.len());
        for (row, &line) in s.rows.iter().zip(&s.row_lines) {
            let v = row[c] * to_bound;
            if v.abs() > lim {
                return Err(OpenSimError::OutOfRange {
                    path: s.path.clone(),
                    line,
                    column: name,
                    value: v,
                    min: -lim,
                    max: lim,
                    unit,
                    why: if rotation {
                        format!(
                            "a plausible tibiofemoral {}; the file says inDegrees={}",
                            if i == 0 {
                                "ab/adduction"
                            } else {
                                "axial rotation"
                            },
                            if degrees { "yes" } else { "no" }
                        )
                    } else {
                        "a plausible tibiofemoral translation; OpenSim translations are in metres"
                            .into()
                    },
                });
            }
            col.push(if rotation { v.to_radians() } else { v });
        }
        found.push(name);
        values[i] = Some(col);
    }
    Ok(SecondaryColumns { found, values })
}

/// Secondary knee coordinates as functions of knee flexion, for a flexion scenario
/// (`flexion.secondary_kinematics`): a `.mot`/`.sto` with `knee_flex_r` (`_l`; + flexion, as
/// in the OpenSim-JAM knee; degrees or radians per `inDegrees`) changing monotonically, and
/// at least one of the [`SECONDARY_NAMES`] columns. Evaluated by linear interpolation in
/// flexion; angles outside the file's flexion range are an error, never extrapolated.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondaryByFlexion {
    /// The file (for messages).
    pub path: PathBuf,
    /// The flexion column's label (`knee_flex_r`).
    pub flexion_column: String,
    /// Knee flexion of each row, degrees, increasing.
    pub flexion_deg: Vec<f64>,
    /// The secondary coordinates per row, in the same (increasing-flexion) order.
    pub columns: SecondaryColumns,
}

impl SecondaryByFlexion {
    /// Reads the flexion table from a parsed file.
    pub fn from_storage(s: &Storage, side: Side) -> Result<Self, OpenSimError> {
        let flexion_column = format!("knee_flex{}", suffix(side));
        let to_deg = if s.in_degrees == Some(false) {
            1f64.to_degrees()
        } else {
            1.0
        };
        let mut flexion_deg: Vec<f64> = s
            .column(&flexion_column)?
            .into_iter()
            .map(|v| v * to_deg)
            .collect();
        let mut columns = secondary_columns(s, side)?;
        if columns.is_empty() {
            let want: Vec<String> = SECONDARY_NAMES
                .iter()
                .map(|b| format!("{b}{}", suffix(side)))
                .collect();
            return Err(OpenSimError::Columns {
                path: s.path.clone(),
                message: format!(
                    "none of the secondary knee coordinates {} (columns: {})",
                    want.join(", "),
                    s.labels.join(", ")
                ),
            });
        }
        let increasing = flexion_deg.windows(2).all(|w| w[1] > w[0]);
        let decreasing = flexion_deg.windows(2).all(|w| w[1] < w[0]);
        if !increasing && !decreasing {
            let i = flexion_deg
                .windows(3)
                .position(|w| (w[1] - w[0]) * (w[2] - w[1]) <= 0.0)
                .map_or(1, |i| i + 2)
                .min(s.row_lines.len() - 1);
            return Err(OpenSimError::BadRow {
                path: s.path.clone(),
                line: s.row_lines[i],
                message: format!(
                    "`{flexion_column}` = {}° does not continue the rows before it: the \
                     flexion must increase (or decrease) from row to row to interpolate by \
                     angle — keep one direction of the motion",
                    flexion_deg[i]
                ),
            });
        }
        if decreasing {
            flexion_deg.reverse();
            for c in columns.values.iter_mut().flatten() {
                c.reverse();
            }
        }
        Ok(Self {
            path: s.path.clone(),
            flexion_column,
            flexion_deg,
            columns,
        })
    }

    /// The coordinates at `flexion_deg` (degrees), or an error naming the file, column,
    /// angle and the file's range.
    pub fn at(&self, flexion_deg: f64) -> Result<SecondaryCoords, OpenSimError> {
        let (lo, hi) = (
            self.flexion_deg[0],
            self.flexion_deg[self.flexion_deg.len() - 1],
        );
        if !(lo..=hi).contains(&flexion_deg) {
            return Err(OpenSimError::FlexionOutside {
                path: self.path.clone(),
                column: self.flexion_column.clone(),
                angle_deg: flexion_deg,
                min_deg: lo,
                max_deg: hi,
            });
        }
        Ok(self
            .columns
            .at(|ys| interp(&self.flexion_deg, ys, flexion_deg)))
    }
}

/// Foot strikes from the knee angle (+ flexion, degrees): after each swing peak (a local
/// maximum in the top 30 % of the range), the first local minimum — the knee extends in
/// late swing and flexes again once the foot lands.
pub fn detect_foot_strikes(time: &[f64], knee: &[f64]) -> Vec<f64> {
    let (lo, hi) = knee
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &k| {
            (a.min(k), b.max(k))
        });
    let high = lo + 0.7 * (hi - lo);
    let mut strikes = Vec::new();
    let mut i = 1;
    let n = knee.len();
    while i + 1 < n {
        if knee[i] >= high && knee[i] >= knee[i - 1] && knee[i] > knee[i + 1] {
            // Swing peak: walk down to the next local minimum.
            let mut j = i + 1;
            while j + 1 < n && knee[j + 1] <= knee[j] {
                j += 1;
            }
            if j + 1 < n {
                strikes.push(time[j]);
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    strikes
}

/// Plausibility bounds of the imported joint angles, degrees, in the order knee flexion
/// (+ flexion, after the knee sign), hip flexion, hip adduction, hip internal rotation,
/// knee adduction (`knee_adduction_*`), knee internal rotation (`knee_rotation_*`). A value
/// beyond them is a unit (radians read as degrees), sign or column mix-up, not a joint.
/// *Assumptions*, wide on purpose, from the normal ranges of motion of the American Academy
/// of Orthopaedic Surgeons (Greene & Heckman 1994: hip flexion 120°, extension 30°,
/// adduction 30°, abduction 45°, internal and external rotation 45°; knee flexion 135°) and
/// the coordinate ranges of OpenSim's gait2392 model (hip flexion −30…120°, adduction
/// −50…30°, rotation −40…40°, knee −120…10°), with margins for deep squatting (knee flexion
/// up to about 155°, Hemmerich et al. 2006) and marker noise:
/// - knee flexion −20…160°: a few degrees of hyperextension are normal, genu recurvatum
///   beyond 15–20° is rare;
/// - hip flexion −50…150°, adduction −50…40°, internal rotation −60…60°;
/// - the knee's own adduction and rotation columns: ±20° and ±45°, as
///   [`SECONDARY_LIMITS`].
pub const ANGLE_LIMITS_DEG: [(f64, f64); 6] = [
    (-20.0, 160.0),
    (-50.0, 150.0),
    (-50.0, 40.0),
    (-60.0, 60.0),
    (-20.0, 20.0),
    (-45.0, 45.0),
];

/// Hyperextension, degrees (negative flexion), beyond which a knee sample counts as
/// hyperextended for the knee-sign check, and the largest share of a file's rows that may be
/// so: the knee of a runner or walker is flexed by 15° or more for most of the cycle and
/// does not straighten beyond a few degrees of flexion (Novacheck 1998), so the wrong sign
/// puts most rows beyond −15°, and the right one none.
pub const KNEE_SIGN_CHECK: (f64, f64) = (-15.0, 0.25);

/// Allowed duration of a gait cycle (one stride, foot strike to the same foot's next
/// strike), s. Distance running has strides of about 0.65–0.75 s (stride frequency
/// 1.3–1.6 Hz: Cavanagh & Kram 1989); sprinting at about 5 steps/s (Weyand et al. 2000)
/// makes 0.4 s; slow walking at 60 steps/min makes 2 s. Outside this, the times are not
/// foot strikes of one leg (a typo, steps instead of strides, or samples).
pub const CYCLE_DURATION_S: (f64, f64) = (0.4, 2.0);

/// A number for a message: plain, or in exponent form when plain would be a long run of
/// zeros (`1e-300`, not three hundred zeros).
fn show(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e9).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Time stamps of different files agree to this, s (well under any motion-capture sampling
/// interval; OpenSim writes times with at least 6 significant digits).
const TIME_TOLERANCE_S: f64 = 1e-6;

/// A knee column that is mostly hyperextended after the sign was applied is the other sign
/// convention ([`KNEE_SIGN_CHECK`]).
fn check_knee_sign(
    s: &Storage,
    column: &str,
    knee: &[f64],
    sign_name: &str,
    given: KneeSign,
) -> Result<(), OpenSimError> {
    let (bound, max_share) = KNEE_SIGN_CHECK;
    let beyond = knee.iter().filter(|&&k| k < bound).count();
    let share = beyond as f64 / knee.len() as f64;
    if share <= max_share {
        return Ok(());
    }
    let other = if sign_name.starts_with("flexion_positive") {
        "flexion_negative"
    } else {
        "flexion_positive"
    };
    let hint = match given {
        KneeSign::Auto => format!(
            "the detected sign does not fit these data — check `{column}` (degrees or \
             radians per inDegrees), or set gait.knee_sign = \"{other}\" if the file uses that \
             convention"
        ),
        _ => format!(
            "the file probably uses the other convention — set gait.knee_sign = \"{other}\" \
             (or \"auto\")"
        ),
    };
    Err(OpenSimError::KneeSign {
        path: s.path.clone(),
        column: column.into(),
        sign: sign_name.into(),
        bound_deg: bound,
        share_pct: 100.0 * share,
        max_share_pct: 100.0 * max_share,
        min_deg: knee.iter().copied().fold(f64::INFINITY, f64::min),
        hint,
    })
}

/// Given foot-strike times: at least two, finite, inside the file's time range `t0…t1`,
/// strictly increasing, each cycle within [`CYCLE_DURATION_S`].
fn check_cycle_starts(path: &Path, starts: &[f64], t0: f64, t1: f64) -> Result<(), OpenSimError> {
    let range = format!("{t0} to {t1} s (the file's time range)");
    let err = |index: usize, problem: String, allowed: String| OpenSimError::CycleStart {
        path: path.into(),
        index,
        value: starts[index],
        problem,
        allowed,
    };
    if starts.len() < 2 {
        return Err(OpenSimError::Cycles {
            path: path.into(),
            message: format!(
                "{} cycle start(s) given; a cycle needs two foot strikes (or leave \
                 cycle_starts_s out to detect them)",
                starts.len()
            ),
        });
    }
    for (i, &t) in starts.iter().enumerate() {
        if !t.is_finite() {
            return Err(err(i, "is not a finite time".into(), range.clone()));
        }
        if !(t0..=t1).contains(&t) {
            return Err(err(i, "is outside the file".into(), range.clone()));
        }
        if i > 0 {
            let (prev, d) = (starts[i - 1], t - starts[i - 1]);
            let (lo, hi) = CYCLE_DURATION_S;
            if !(lo..=hi).contains(&d) {
                let problem = if d <= 0.0 {
                    format!("does not come after the previous start ({prev} s)")
                } else {
                    format!(
                        "makes a {} s cycle after the previous start ({prev} s)",
                        show(d)
                    )
                };
                return Err(err(
                    i,
                    problem,
                    format!(
                        "{} to {} s (a cycle of {lo} to {hi} s: a stride of running or \
                         walking; starts must increase, within the file's time range {t0} \
                         to {t1} s)",
                        prev + lo,
                        (prev + hi).min(t1)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The file's time range must cover `from_s…to_s` (the `cycles` cycles used).
fn check_coverage(s: &Storage, from_s: f64, to_s: f64, cycles: usize) -> Result<(), OpenSimError> {
    let (first_s, last_s) = (s.rows[0][0], s.rows[s.rows.len() - 1][0]);
    if first_s > from_s + TIME_TOLERANCE_S || last_s < to_s - TIME_TOLERANCE_S {
        return Err(OpenSimError::Coverage {
            path: s.path.clone(),
            first_s,
            last_s,
            from_s,
            to_s,
            cycles,
        });
    }
    Ok(())
}

/// Reads an IK `.mot` (and optionally an ID `.sto`) into resampled gait cycles.
pub fn read_cycles(
    ik: &Storage,
    id: Option<&Storage>,
    opt: &ImportOptions,
) -> Result<Imported, OpenSimError> {
    let sfx = suffix(opt.side);
    let to_deg = if ik.in_degrees == Some(false) {
        180.0 / std::f64::consts::PI
    } else {
        1.0
    };
    let time = ik.time();
    let col = |name: &str| -> Result<Vec<f64>, OpenSimError> {
        Ok(ik
            .column(&format!("{name}{sfx}"))?
            .into_iter()
            .map(|v| v * to_deg)
            .collect())
    };
    let optional = |name: &str| -> Option<Vec<f64>> { col(name).ok() };
    let knee_raw = col("knee_angle")?;
    let hip_flex = col("hip_flexion")?;
    let hip_add = col("hip_adduction")?;
    let hip_rot = col("hip_rotation")?;
    let knee_add = optional("knee_adduction");
    let knee_rot = optional("knee_rotation");
    // OpenSim-JAM secondary coordinates replace the coupling; `knee_adduction` /
    // `knee_rotation` add to the knee's angles on top of it. Both for one rotation would
    // count it twice.
    let secondary = secondary_columns(ik, opt.side)?;
    for (legacy, present, jam) in [
        ("knee_adduction", knee_add.is_some(), 0),
        ("knee_rotation", knee_rot.is_some(), 1),
    ] {
        if present && secondary.values[jam].is_some() {
            return Err(OpenSimError::Columns {
                path: ik.path.clone(),
                message: format!(
                    "both `{legacy}{sfx}` and `{}{sfx}` give the knee's {}: keep one (the \
                     OpenSim-JAM coordinate replaces the tibiofemoral coupling's; the other \
                     adds on top of it)",
                    SECONDARY_NAMES[jam],
                    if jam == 0 {
                        "ab/adduction"
                    } else {
                        "axial rotation"
                    }
                ),
            });
        }
    }
    let (sign, sign_name) = match opt.knee_sign {
        KneeSign::FlexionPositive => (1.0, "flexion_positive (given)"),
        KneeSign::FlexionNegative => (-1.0, "flexion_negative (given)"),
        KneeSign::Auto => {
            let mean = knee_raw.iter().sum::<f64>() / knee_raw.len() as f64;
            if mean < 0.0 {
                (-1.0, "flexion_negative (detected)")
            } else {
                (1.0, "flexion_positive (detected)")
            }
        }
    };
    let knee: Vec<f64> = knee_raw.iter().map(|k| sign * k).collect();
    check_knee_sign(
        ik,
        &format!("knee_angle{sfx}"),
        &knee,
        sign_name,
        opt.knee_sign,
    )?;
    let units = match ik.in_degrees {
        Some(true) => "the file says inDegrees=yes",
        Some(false) => "the file says inDegrees=no",
        None => "no inDegrees in the header: read as degrees",
    };
    let knee_why =
        format!("a plausible knee flexion, + flexion after knee_sign {sign_name}; {units}");
    let mut checked: Vec<(String, &[f64], (f64, f64), String)> = vec![(
        format!("knee_angle{sfx}"),
        &knee,
        ANGLE_LIMITS_DEG[0],
        knee_why,
    )];
    for (i, (name, values)) in [
        ("hip_flexion", Some(&hip_flex)),
        ("hip_adduction", Some(&hip_add)),
        ("hip_rotation", Some(&hip_rot)),
        ("knee_adduction", knee_add.as_ref()),
        ("knee_rotation", knee_rot.as_ref()),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(v) = values {
            let what = name.replace('_', " ");
            checked.push((
                format!("{name}{sfx}"),
                v,
                ANGLE_LIMITS_DEG[i + 1],
                format!("a plausible {what}; {units}"),
            ));
        }
    }
    for (column, values, (lo, hi), why) in checked {
        if let Some((v, &line)) = values
            .iter()
            .zip(&ik.row_lines)
            .find(|(v, _)| !(lo..=hi).contains(*v))
        {
            return Err(OpenSimError::OutOfRange {
                path: ik.path.clone(),
                line,
                column,
                value: *v,
                min: lo,
                max: hi,
                unit: "°",
                why,
            });
        }
    }
    // Left-side models mirror adduction and rotation signs already; no change needed.
    let (t0, t1) = (time[0], time[time.len() - 1]);
    let strikes = match &opt.cycle_starts_s {
        Some(t) => {
            check_cycle_starts(&ik.path, t, t0, t1)?;
            t.clone()
        }
        None => {
            let t = detect_foot_strikes(&time, &knee);
            if t.len() < 2 {
                return Err(OpenSimError::Cycles {
                    path: ik.path.clone(),
                    message: format!(
                        "found {} foot strike(s) in `knee_angle{sfx}`; a cycle needs two — \
                         give gait.cycle_starts_s",
                        t.len()
                    ),
                });
            }
            if let Some(w) = t
                .windows(2)
                .take(opt.max_cycles)
                .find(|w| !(CYCLE_DURATION_S.0..=CYCLE_DURATION_S.1).contains(&(w[1] - w[0])))
            {
                return Err(OpenSimError::Cycles {
                    path: ik.path.clone(),
                    message: format!(
                        "the foot strikes detected in `knee_angle{sfx}` at {} s and {} s make \
                         a {} s cycle; allowed {} to {} s (a stride of running or walking) — \
                         give gait.cycle_starts_s",
                        w[0],
                        w[1],
                        w[1] - w[0],
                        CYCLE_DURATION_S.0,
                        CYCLE_DURATION_S.1
                    ),
                });
            }
            t
        }
    };
    // The cycles used, and the time they span: every file must cover it.
    let used = (strikes.len() - 1).min(opt.max_cycles);
    let (from_s, to_s) = (strikes[0], strikes[used]);
    check_coverage(ik, from_s, to_s, used)?;
    if let Some(id) = id {
        check_coverage(id, from_s, to_s, used)?;
    }

    // Moments: from the ID file, or estimated from the built-in cycle scaled to this knee.
    let m = opt.body_mass_kg;
    let (moments, moment_source) = match id {
        Some(id) => {
            let knee_m = id.column(&format!("knee_angle{sfx}_moment"))?;
            let hip_m = id.column(&format!("hip_adduction{sfx}_moment"))?;
            let id_time = id.time();
            let ext: Vec<f64> = time
                .iter()
                .map(|&t| -sign * interp(&id_time, &knee_m, t))
                .collect();
            let abd: Vec<f64> = time.iter().map(|&t| -interp(&id_time, &hip_m, t)).collect();
            (
                Some((ext, abd)),
                format!("inverse dynamics: {}", id.path.display()),
            )
        }
        None => (
            None,
            "estimated: the built-in cycle's extensor and hip-abductor moments (N·m/kg × body \
             mass), the extensor moment scaled by this cycle's stance knee-flexion peak over \
             the built-in 46.3°"
                .to_string(),
        ),
    };

    let n = opt.frames_per_cycle;
    let mut cycles = Vec::new();
    for w in strikes.windows(2).take(opt.max_cycles) {
        let (ts, te) = (w[0], w[1]);
        let dur = te - ts;
        let at = |ys: &[f64], pct: f64| interp(&time, ys, ts + dur * pct / 100.0);
        let stance_peak = (0..=200)
            .map(|i| at(&knee, STANCE_END_PCT * i as f64 / 200.0))
            .fold(f64::NEG_INFINITY, f64::max);
        let scale = stance_peak / builtin_stance_peak_deg();
        let samples = (0..n)
            .map(|i| {
                let pct = 100.0 * i as f64 / n as f64;
                let (ext, abd) = match &moments {
                    Some((e, a)) => (at(e, pct), at(a, pct)),
                    None => (
                        builtin_extensor_moment(pct) * scale * m,
                        super::builtin::builtin_abductor_moment(pct) * m,
                    ),
                };
                GaitSample {
                    cycle_pct: pct,
                    time_s: ts + dur * pct / 100.0,
                    knee_flexion_deg: at(&knee, pct),
                    knee_varus_deg: knee_add.as_ref().map_or(0.0, |v| at(v, pct)),
                    tibial_rotation_deg: knee_rot.as_ref().map_or(0.0, |v| at(v, pct)),
                    secondary: secondary.at(|ys| at(ys, pct)),
                    hip_flexion_deg: at(&hip_flex, pct),
                    hip_adduction_deg: at(&hip_add, pct),
                    hip_rotation_deg: at(&hip_rot, pct),
                    extensor_moment_nm: ext,
                    hip_abductor_moment_nm: abd,
                    stance: stance_weight(pct, STANCE_END_PCT, STANCE_RAMP_PCT),
                }
            })
            .collect();
        cycles.push(GaitCycle {
            samples,
            duration_s: dur,
            stance_end_pct: STANCE_END_PCT,
        });
    }
    Ok(Imported {
        cycles,
        knee_sign: sign_name.into(),
        moment_source,
        secondary: secondary.describe(),
    })
}

/// Renders an OpenSim Storage file (version 1, tab-separated) with `time` and the given
/// columns; each row is (time, values in column order).
pub fn write_storage(
    name: &str,
    in_degrees: bool,
    columns: &[&str],
    rows: &[(f64, Vec<f64>)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{name}");
    let _ = writeln!(s, "version=1");
    let _ = writeln!(s, "nRows={}", rows.len());
    let _ = writeln!(s, "nColumns={}", columns.len() + 1);
    let _ = writeln!(s, "inDegrees={}", if in_degrees { "yes" } else { "no" });
    let _ = writeln!(s, "endheader");
    s.push_str("time");
    for c in columns {
        s.push('\t');
        s.push_str(c);
    }
    s.push('\n');
    for (t, vals) in rows {
        let _ = write!(s, "{t}");
        for v in vals {
            let _ = write!(s, "\t{v}");
        }
        s.push('\n');
    }
    s
}

/// The IK `.mot` and ID `.sto` of gait cycles in gait2392's convention (knee flexion
/// negative; moments are generalised forces along each coordinate), for the right or left
/// leg. Used to ship a synthetic example pair made from the built-in cycle.
pub fn cycles_to_opensim(cycles: &[GaitCycle], side: Side) -> (String, String) {
    let sfx = suffix(side);
    let names = |base: &[&str], tail: &str| -> Vec<String> {
        base.iter().map(|b| format!("{b}{sfx}{tail}")).collect()
    };
    let ik_cols = names(
        &["hip_flexion", "hip_adduction", "hip_rotation", "knee_angle"],
        "",
    );
    let id_cols = names(&["hip_adduction", "knee_angle"], "_moment");
    let mut ik_rows = Vec::new();
    let mut id_rows = Vec::new();
    for c in cycles {
        for s in &c.samples {
            ik_rows.push((
                s.time_s,
                vec![
                    s.hip_flexion_deg,
                    s.hip_adduction_deg,
                    s.hip_rotation_deg,
                    -s.knee_flexion_deg,
                ],
            ));
            // knee_angle negative in flexion: a positive generalised force extends.
            id_rows.push((
                s.time_s,
                vec![-s.hip_abductor_moment_nm, s.extensor_moment_nm],
            ));
        }
    }
    fn refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    (
        write_storage("kneetrack_builtin_ik", true, &refs(&ik_cols), &ik_rows),
        write_storage("kneetrack_builtin_id", false, &refs(&id_cols), &id_rows),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOT: &str = "Coordinates\nversion=1\nnRows=3\nnColumns=2\ninDegrees=yes\nendheader\ntime\tknee_angle_r\n0\t-10\n0.1\t-20\n0.2\t-30\n";

    #[test]
    fn parses_a_minimal_file() {
        let s = Storage::parse(Path::new("a.mot"), MOT).unwrap();
        assert_eq!(s.in_degrees, Some(true));
        assert_eq!(s.column("knee_angle_r").unwrap(), vec![-10.0, -20.0, -30.0]);
    }

    #[test]
    fn rejects_bad_files_naming_file_and_column() {
        let p = Path::new("bad.mot");
        let e = Storage::parse(p, "time\tknee\n0\t1\n").unwrap_err();
        assert!(e.to_string().contains("bad.mot") && e.to_string().contains("endheader"));
        let e = Storage::parse(p, &MOT.replace("0.1\t-20", "0.3\t-20")).unwrap_err();
        assert!(
            matches!(e, OpenSimError::NonMonotonicTime { line: 10, .. }),
            "{e}"
        );
        let e = Storage::parse(p, &MOT.replace("0.1\t-20", "0.1\tx")).unwrap_err();
        assert!(e.to_string().contains("knee_angle_r"), "{e}");
        let s = Storage::parse(p, MOT).unwrap();
        let e = s.column("hip_flexion_r").unwrap_err();
        assert!(
            e.to_string().contains("bad.mot: no column `hip_flexion_r`"),
            "{e}"
        );
    }

    /// A Storage text with `time` and the given columns.
    fn mot(in_degrees: bool, columns: &[&str], rows: &[Vec<f64>]) -> String {
        let rows: Vec<(f64, Vec<f64>)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (0.1 * i as f64, r.clone()))
            .collect();
        write_storage("test", in_degrees, columns, &rows)
    }

    #[test]
    fn secondary_columns_convert_to_radians_and_millimetres() {
        let p = Path::new("jam.mot");
        let cols = [
            "knee_flex_r",
            "knee_add_r",
            "knee_rot_r",
            "knee_tx_r",
            "knee_tz_r",
        ];
        let rows = vec![
            vec![0.0, 2.0, -10.0, 0.004, -0.002],
            vec![30.0, 3.0, 5.0, 0.0025, 0.001],
        ];
        let s = Storage::parse(p, &mot(true, &cols, &rows)).unwrap();
        let c = secondary_columns(&s, Side::Right).unwrap();
        assert_eq!(
            c.found,
            ["knee_add_r", "knee_rot_r", "knee_tx_r", "knee_tz_r"]
        );
        let v = |i: usize| c.values[i].clone().unwrap();
        assert!((v(0)[1] - 3f64.to_radians()).abs() < 1e-15);
        assert!((v(1)[0] + 10f64.to_radians()).abs() < 1e-15);
        assert!((v(2)[0] - 4.0).abs() < 1e-12 && (v(4)[1] - 1.0).abs() < 1e-12);
        assert!(c.values[3].is_none());
        let at = c.at(|ys| ys[1]);
        assert_eq!(at.translation_mm[1], None);
        assert!((at.translation_mm[0].unwrap() - 2.5).abs() < 1e-12);
        // Radians stay radians; translations are metres whatever inDegrees says.
        let rad: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                vec![
                    r[0].to_radians(),
                    r[1].to_radians(),
                    r[2].to_radians(),
                    r[3],
                    r[4],
                ]
            })
            .collect();
        let s = Storage::parse(p, &mot(false, &cols, &rad)).unwrap();
        let c2 = secondary_columns(&s, Side::Right).unwrap();
        for i in [0, 1, 2, 4] {
            for (a, b) in c.values[i]
                .as_ref()
                .unwrap()
                .iter()
                .zip(c2.values[i].as_ref().unwrap())
            {
                assert!((a - b).abs() < 1e-12, "{i}: {a} vs {b}");
            }
        }
        // The other side's columns are not this knee's.
        assert!(secondary_columns(&s, Side::Left).unwrap().is_empty());
    }

    #[test]
    fn secondary_values_beyond_the_bounds_name_file_line_and_column() {
        let p = Path::new("jam.mot");
        let cols = ["knee_flex_r", "knee_tx_r"];
        // Millimetres written where OpenSim wants metres.
        let s = Storage::parse(p, &mot(true, &cols, &[vec![0.0, 0.0], vec![10.0, 4.0]])).unwrap();
        let e = secondary_columns(&s, Side::Right).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, OpenSimError::OutOfRange { line: 9, .. }), "{m}");
        assert!(
            m.contains("jam.mot:9")
                && m.contains("knee_tx_r")
                && m.contains("4000 mm")
                && m.contains("-30 to 30 mm")
                && m.contains("metres"),
            "{m}"
        );
        // 30 mm is still allowed, 31 is not.
        let ok = mot(true, &cols, &[vec![0.0, -0.03], vec![10.0, 0.03]]);
        assert!(secondary_columns(&Storage::parse(p, &ok).unwrap(), Side::Right).is_ok());
        // Rotations: 50° of axial rotation; 0.5 rad (28.6°) of adduction in a radian file.
        let s = Storage::parse(
            p,
            &mot(
                true,
                &["knee_flex_r", "knee_rot_r"],
                &[vec![0.0, 44.0], vec![9.0, -50.0]],
            ),
        )
        .unwrap();
        let m = secondary_columns(&s, Side::Right).unwrap_err().to_string();
        assert!(m.contains("knee_rot_r") && m.contains("-45 to 45°"), "{m}");
        let s = Storage::parse(
            p,
            &mot(
                false,
                &["knee_flex_r", "knee_add_l"],
                &[vec![0.0, 0.5], vec![0.1, 0.0]],
            ),
        )
        .unwrap();
        let m = secondary_columns(&s, Side::Left).unwrap_err().to_string();
        assert!(
            m.contains("knee_add_l") && m.contains("-20 to 20°") && m.contains("inDegrees=no"),
            "{m}"
        );
        // Non-finite values never get this far.
        let text = mot(true, &cols, &[vec![0.0, 0.0], vec![10.0, 0.001]]).replace("0.001", "NaN");
        let m = Storage::parse(p, &text).unwrap_err().to_string();
        assert!(
            m.contains("jam.mot:9") && m.contains("knee_tx_r") && m.contains("finite"),
            "{m}"
        );
    }

    #[test]
    fn flexion_table_interpolates_inside_its_range_only() {
        let p = Path::new("passive.mot");
        let cols = ["knee_flex_r", "knee_rot_r", "knee_ty_r"];
        let rows = vec![
            vec![0.0, 0.0, 0.0],
            vec![30.0, 6.0, -0.001],
            vec![60.0, 10.0, -0.003],
        ];
        let t = SecondaryByFlexion::from_storage(
            &Storage::parse(p, &mot(true, &cols, &rows)).unwrap(),
            Side::Right,
        )
        .unwrap();
        let c = t.at(45.0).unwrap();
        assert!((c.internal_rotation.unwrap() - 8f64.to_radians()).abs() < 1e-12);
        assert!((c.translation_mm[1].unwrap() + 2.0).abs() < 1e-12);
        assert_eq!(c.adduction, None);
        assert_eq!(t.at(0.0).unwrap().internal_rotation, Some(0.0));
        let e = t.at(61.0).unwrap_err().to_string();
        assert!(
            e.contains("passive.mot")
                && e.contains("61°")
                && e.contains("knee_flex_r")
                && e.contains("0° to 60°"),
            "{e}"
        );
        assert!(t.at(-0.5).is_err());
        // Rows in extension order give the same table.
        let rev: Vec<Vec<f64>> = rows.iter().rev().cloned().collect();
        let t2 = SecondaryByFlexion::from_storage(
            &Storage::parse(p, &mot(true, &cols, &rev)).unwrap(),
            Side::Right,
        )
        .unwrap();
        assert_eq!(t2.at(45.0).unwrap(), c);
        // Flexion then extension cannot be interpolated by angle: the turning row is named.
        let mut back = rows.clone();
        back.push(vec![40.0, 7.0, 0.0]);
        let e = SecondaryByFlexion::from_storage(
            &Storage::parse(p, &mot(true, &cols, &back)).unwrap(),
            Side::Right,
        )
        .unwrap_err();
        assert!(matches!(e, OpenSimError::BadRow { line: 11, .. }), "{e}");
        // No secondary column, or no flexion column: the file and the wanted columns.
        let e = SecondaryByFlexion::from_storage(
            &Storage::parse(
                p,
                &mot(
                    true,
                    &["knee_flex_r", "knee_angle_r"],
                    &[vec![0.0, 0.0], vec![1.0, 1.0]],
                ),
            )
            .unwrap(),
            Side::Right,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("passive.mot") && e.contains("knee_add_r") && e.contains("knee_tz_r"),
            "{e}"
        );
        let e = SecondaryByFlexion::from_storage(
            &Storage::parse(p, &mot(true, &cols, &rows)).unwrap(),
            Side::Left,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no column `knee_flex_l`"), "{e}");
    }

    #[test]
    fn gait_import_resamples_secondary_columns_and_refuses_double_rotations() {
        use crate::gait::builtin::{builtin_cycle, Conditions};
        let c = Conditions {
            speed_mps: 3.5,
            step_rate_change_pct: 0.0,
            slope_pct: 0.0,
            body_mass_kg: 70.0,
        };
        let cycle = builtin_cycle(&c, 50, 0.0);
        let (ik, _) = cycles_to_opensim(std::slice::from_ref(&cycle), Side::Right);
        // Append knee_rot_r = 40 × time (degrees) and knee_tx_r = time / 100 (m).
        let mut lines: Vec<String> = ik.lines().map(str::to_string).collect();
        let h = lines.iter().position(|l| l.starts_with("time")).unwrap();
        lines[h].push_str("\tknee_rot_r\tknee_tx_r");
        for l in &mut lines[h + 1..] {
            let t: f64 = l.split('\t').next().unwrap().parse().unwrap();
            l.push_str(&format!("\t{}\t{}", 40.0 * t, t / 100.0));
        }
        let text = lines.join("\n");
        let s = Storage::parse(Path::new("ik.mot"), &text).unwrap();
        let t_end = s.time().last().copied().unwrap();
        let opt = ImportOptions {
            side: Side::Right,
            knee_sign: KneeSign::Auto,
            cycle_starts_s: Some(vec![0.0, t_end]),
            max_cycles: 1,
            frames_per_cycle: 20,
            body_mass_kg: 70.0,
        };
        let imp = read_cycles(&s, None, &opt).unwrap();
        assert_eq!(imp.secondary.as_deref(), Some("knee_rot_r, knee_tx_r"));
        for smp in &imp.cycles[0].samples {
            let sc = smp.secondary;
            // Linear in time: interpolation is exact.
            assert!(
                (sc.internal_rotation.unwrap() - (40.0 * smp.time_s).to_radians()).abs() < 1e-9
            );
            assert!((sc.translation_mm[0].unwrap() - 10.0 * smp.time_s).abs() < 1e-9);
            assert_eq!((sc.adduction, sc.translation_mm[1]), (None, None));
            assert_eq!(smp.tibial_rotation_deg, 0.0);
        }
        // Without the columns: nothing measured.
        let plain = Storage::parse(Path::new("ik.mot"), &ik).unwrap();
        let imp = read_cycles(&plain, None, &opt).unwrap();
        assert!(imp.secondary.is_none() && imp.cycles[0].samples[5].secondary.is_empty());
        // `knee_rotation_r` and `knee_rot_r` would rotate the tibia twice.
        let both = text.replacen("knee_tx_r", "knee_rotation_r", 1);
        let e = read_cycles(
            &Storage::parse(Path::new("ik.mot"), &both).unwrap(),
            None,
            &opt,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("ik.mot") && e.contains("knee_rotation_r") && e.contains("knee_rot_r"),
            "{e}"
        );
    }

    #[test]
    fn detects_foot_strikes_after_swing_peaks() {
        use crate::gait::builtin::{builtin_cycle, Conditions};
        let c = Conditions {
            speed_mps: 3.5,
            step_rate_change_pct: 0.0,
            slope_pct: 0.0,
            body_mass_kg: 70.0,
        };
        let d = 120.0 / c.step_rate_spm();
        let mut t = Vec::new();
        let mut k = Vec::new();
        for cyc in 0..3 {
            let cy = builtin_cycle(&c, 100, cyc as f64 * d);
            for s in &cy.samples {
                t.push(s.time_s);
                k.push(s.knee_flexion_deg);
            }
        }
        let strikes = detect_foot_strikes(&t, &k);
        // One after each of the three swing peaks.
        assert_eq!(strikes.len(), 3, "{strikes:?}");
        assert!((strikes[1] - strikes[0] - d).abs() < 1e-9);
        // The late-swing minimum comes 5 % of a cycle before the built-in foot strike.
        let phase = (strikes[0] / d).fract();
        assert!((phase - 0.95).abs() < 0.011, "{phase}");
    }
}
