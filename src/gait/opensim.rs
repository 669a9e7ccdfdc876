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

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::builtin::{builtin_extensor_moment, builtin_stance_peak_deg, STANCE_END_PCT};
use super::{stance_weight, GaitCycle, GaitSample, STANCE_RAMP_PCT};
use crate::params::Side;

/// Why an OpenSim file could not be used. Every variant names the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpenSimError {
    #[error("{path}: cannot read: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: no `endheader` line: not an OpenSim .mot/.sto file")]
    NoEndHeader { path: PathBuf },
    #[error("{path}:{line}: column labels must start with `time`, found `{found}`")]
    BadLabels {
        path: PathBuf,
        line: usize,
        found: String,
    },
    #[error("{path}:{line}: {message}")]
    BadRow {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}:{line}: time {time} s is not after the previous row's {previous} s (time must increase)")]
    NonMonotonicTime {
        path: PathBuf,
        line: usize,
        time: f64,
        previous: f64,
    },
    #[error("{path}: no column `{column}` (columns: {available})")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },
    #[error("{path}: {message}")]
    Cycles { path: PathBuf, message: String },
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
}

impl Storage {
    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<Self, OpenSimError> {
        let text = std::fs::read_to_string(path).map_err(|e| OpenSimError::Io {
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
        for (_, line) in lines.by_ref() {
            let l = line.trim();
            if l.eq_ignore_ascii_case("endheader") {
                ended = true;
                break;
            }
            if let Some((k, v)) = l.split_once('=') {
                if k.trim().eq_ignore_ascii_case("inDegrees") {
                    in_degrees = Some(v.trim().eq_ignore_ascii_case("yes"));
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
    pub side: Side,
    pub knee_sign: KneeSign,
    /// Foot-strike times, s (at least two); `None` = detect from the knee angle.
    pub cycle_starts_s: Option<Vec<f64>>,
    /// At most this many cycles (the first ones).
    pub max_cycles: usize,
    pub frames_per_cycle: usize,
    pub body_mass_kg: f64,
}

/// Cycles read from OpenSim files, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub cycles: Vec<GaitCycle>,
    /// `flexion_positive` or `flexion_negative`, with `(detected)` or `(given)`.
    pub knee_sign: String,
    /// How the extensor moment was obtained.
    pub moment_source: String,
}

fn suffix(side: Side) -> &'static str {
    match side {
        Side::Right => "_r",
        Side::Left => "_l",
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
    // Left-side models mirror adduction and rotation signs already; no change needed.
    let strikes = match &opt.cycle_starts_s {
        Some(t) => t.clone(),
        None => detect_foot_strikes(&time, &knee),
    };
    let (t0, t1) = (time[0], time[time.len() - 1]);
    if let Some(t) = strikes.iter().find(|&&t| t < t0 || t > t1) {
        return Err(OpenSimError::Cycles {
            path: ik.path.clone(),
            message: format!("cycle start {t} s is outside the file's time range {t0}…{t1} s"),
        });
    }
    if strikes.len() < 2 {
        return Err(OpenSimError::Cycles {
            path: ik.path.clone(),
            message: format!(
                "found {} foot strike(s) in `knee_angle{sfx}`; a cycle needs two — give \
                 gait.cycle_starts_s",
                strikes.len()
            ),
        });
    }
    if strikes.windows(2).any(|w| w[1] <= w[0]) {
        return Err(OpenSimError::Cycles {
            path: ik.path.clone(),
            message: "cycle start times must increase".into(),
        });
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
