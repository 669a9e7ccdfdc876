//! Validate once: turn a [`ScenarioSpec`] into an immutable, shared [`Model`] and a typed
//! run plan. Every check happens here; nothing downstream re-validates.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::spec::{Direction, Format, Kind, PerAngle, ScenarioSpec};
use super::{keys, locate, ScenarioError};
use crate::dynamics::{DynamicCase, DynamicPlan};
use crate::gait::builtin::{builtin_cycle, preferred_step_rate_spm, Conditions};
use crate::gait::opensim::{read_cycles, ImportOptions, OpenSimError, SecondaryByFlexion, Storage};
use crate::gait::{GaitCycle, GaitProvenance};
use crate::model::{GeometryCache, Model, ModelError};
use crate::params::{ModelParams, Tibiofemoral};
use crate::step::{KneeAngles, QuadLoad, SecondaryCoords};

/// Default quadriceps force of a flexion sweep when none is given, N.
pub const DEFAULT_QUADRICEPS_N: f64 = 400.0;

/// A flexion sweep, ready to run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlexionPlan {
    /// Knee angles of each frame (radians).
    pub frames: Vec<KneeAngles>,
    /// Quadriceps load of each frame.
    pub loads: Vec<QuadLoad>,
}

/// A stability test, ready to run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StabilityPlan {
    /// Knee flexion angles, radians.
    pub flexion: Vec<f64>,
    /// Displacement, mm.
    pub displacement_mm: f64,
    /// Signed directions to test: +1 lateral, −1 medial.
    pub directions: Vec<f64>,
    /// Quadriceps force, N.
    pub quadriceps_n: f64,
}

/// Running gait, ready to run: the cycles (joint angles and moments per frame) and what
/// the mechanisms add in stance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GaitPlan {
    /// The cycles, each solved independently (in parallel).
    pub cycles: Vec<GaitCycle>,
    /// Where they came from.
    pub provenance: GaitProvenance,
    /// Stance offsets of hip adduction and rotation, degrees.
    pub stance_hip_adduction_deg: f64,
    /// Stance offset of hip internal rotation, degrees.
    pub stance_hip_rotation_deg: f64,
}

impl GaitPlan {
    /// `cycles` back-to-back built-in cycles of `frames` frames under `c`, no stance offsets.
    pub fn builtin(c: &Conditions, frames: usize, cycles: usize) -> Self {
        let dur = 120.0 / c.step_rate_spm();
        Self {
            cycles: (0..cycles)
                .map(|i| builtin_cycle(c, frames, i as f64 * dur))
                .collect(),
            provenance: GaitProvenance {
                kinematics: "builtin".into(),
                extensor_moment_source: "built-in cycle (N·m/kg × body mass)".into(),
                knee_sign_convention: None,
                speed_mps: c.speed_mps,
                step_rate_spm: c.step_rate_spm(),
                step_rate_change_pct: c.step_rate_change_pct,
                secondary_motion: "anatomy.tibiofemoral (the built-in cycle measures none)".into(),
            },
            stance_hip_adduction_deg: 0.0,
            stance_hip_rotation_deg: 0.0,
        }
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum RunPlan {
    /// A flexion sweep.
    Flexion(FlexionPlan),
    /// A stability test.
    Stability(StabilityPlan),
    /// Running gait.
    Gait(GaitPlan),
    /// A dynamic run (rapier3d).
    Dynamic(Box<DynamicPlan>),
}

/// A compiled scenario.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Scenario name.
    pub name: String,
    /// The spec with every default resolved (echoed in summary.json).
    pub spec: ScenarioSpec,
    /// The knee, shared across threads.
    pub model: Arc<Model>,
    /// What to run.
    pub plan: RunPlan,
    /// Where outputs go (before any `--out` override): `output.dir` resolved against the
    /// scenario file's folder, or `out/<name>` relative to the working directory.
    pub out_dir: PathBuf,
    /// Set when `output.dir` is absolute or leaves the scenario's folder
    /// ([`Compiled::check_out_dir`]).
    pub out_dir_outside: Option<OutsideDir>,
    /// Which files to write.
    pub formats: Vec<Format>,
    /// Every data file the run reads: the knee's model and meshes, OpenSim data (sorted).
    pub data_files: Vec<DataFile>,
}

impl Compiled {
    /// Refuses an `output.dir` outside the scenario's folder unless `allow` (the command
    /// line's `--allow-outside`).
    pub fn check_out_dir(&self, allow: bool) -> Result<(), ScenarioError> {
        match &self.out_dir_outside {
            Some(o) if !allow => Err(o.error()),
            _ => Ok(()),
        }
    }
}

/// What compiles of many scenarios on one base share (a sweep's variants): the knee
/// geometries ([`GeometryCache`]) and the OpenSim data files read, by path. A variant that
/// changes no geometry key then builds no geometry and reads no file: its compile is the
/// checks, the plan and the tissues. Files are read once, so every variant of a sweep sees
/// the content its inputs hash was taken from, even if a file changes while the sweep runs.
#[derive(Debug)]
pub struct Shared {
    /// The geometries, by their keys.
    pub geometry: GeometryCache,
    storage: Mutex<HashMap<PathBuf, Arc<Storage>>>,
}

impl Shared {
    /// Shares at most `geometries` distinct geometries (see [`GeometryCache::new`]) and every
    /// data file.
    pub fn new(geometries: usize) -> Self {
        Self {
            geometry: GeometryCache::new(geometries),
            storage: Mutex::default(),
        }
    }
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
    /// Data files read so far (path, content hash).
    files: std::cell::RefCell<Vec<DataFile>>,
    /// Parts shared with other compiles, if any.
    shared: Option<&'a Shared>,
}

/// A data file a scenario reads, and the FNV-1a 64 hash of its content.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DataFile {
    /// The file, as resolved against the scenario's folder.
    pub path: PathBuf,
    /// FNV-1a 64 of its content.
    pub fnv1a64: u64,
}

impl Ctx<'_> {
    /// Reads an OpenSim data file (once per path with shared parts; errors are not kept).
    fn storage(&self, path: &Path) -> Result<Arc<Storage>, OpenSimError> {
        let Some(shared) = self.shared else {
            return Storage::read(path).map(Arc::new);
        };
        let lock = || shared.storage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = lock().get(path) {
            return Ok(Arc::clone(s));
        }
        let s = Arc::new(Storage::read(path)?);
        // Another thread may have read it meanwhile: keep the first, so all share one.
        Ok(Arc::clone(lock().entry(path.into()).or_insert(s)))
    }

    fn record(&self, s: &Storage) {
        self.files.borrow_mut().push(DataFile {
            path: s.path.clone(),
            fnv1a64: s.fnv1a64,
        });
    }

    /// Checks `value` against the key's range in the key table ([`keys::KEYS`]).
    ///
    /// # Panics
    /// When `key` has no numeric range in the table: a programming error (a unit test checks
    /// every key this file checks).
    fn check(&self, key: &str, value: f64) -> Result<(), ScenarioError> {
        let (min, max, _) = numeric_key(key);
        self.within(key, value, min, max)
    }

    /// Checks `value` against `min`…`max` where another key narrows the table's range
    /// (`flexion.to_deg` ≥ `flexion.from_deg`); the unit is the table's.
    fn within(&self, key: &str, value: f64, min: f64, max: f64) -> Result<(), ScenarioError> {
        if value >= min && value <= max {
            return Ok(());
        }
        let (_, _, unit) = numeric_key(key);
        Err(ScenarioError::Range {
            path: self.path.into(),
            line: locate(self.text, key),
            key: key.into(),
            value,
            min,
            max,
            unit: if unit.is_empty() {
                String::new()
            } else {
                format!(" {unit}")
            },
        })
    }

    fn invalid(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.into(),
            line: locate(self.text, key),
            key: key.into(),
            message: message.into(),
        }
    }

    fn per_angle(&self, key: &str, v: &PerAngle, n: usize) -> Result<Vec<f64>, ScenarioError> {
        let values = match v {
            PerAngle::One(x) => vec![*x; n],
            PerAngle::Each(xs) if xs.len() == n => xs.clone(),
            PerAngle::Each(xs) => {
                return Err(self.invalid(
                    key,
                    format!(
                        "has {} values but there are {n} angles (give one value, or one per angle)",
                        xs.len()
                    ),
                ))
            }
        };
        // Each value's range: section_ranges, which runs before any plan.
        Ok(values)
    }
}

/// Checks every value and builds the model and plan. `text` is the file's text (for line
/// numbers), `path` its name (for messages).
pub fn compile(spec: ScenarioSpec, path: &Path, text: &str) -> Result<Compiled, ScenarioError> {
    compile_in(spec, path, text, None)
}

/// [`compile()`] with parts shared with other compiles ([`Shared`]): the same checks, errors
/// and result, without rebuilding a geometry or re-reading a data file `shared` holds.
pub fn compile_shared(
    spec: ScenarioSpec,
    path: &Path,
    text: &str,
    shared: &Shared,
) -> Result<Compiled, ScenarioError> {
    compile_in(spec, path, text, Some(shared))
}

fn compile_in(
    spec: ScenarioSpec,
    path: &Path,
    text: &str,
    shared: Option<&Shared>,
) -> Result<Compiled, ScenarioError> {
    let cx = Ctx {
        path,
        text,
        files: Default::default(),
        shared,
    };
    let mut anatomy = spec.anatomy.clone();
    if let Some(osim) = &anatomy.osim {
        // Relative to the scenario file, as every other path in it.
        let base = path.parent().unwrap_or(Path::new(""));
        anatomy.osim = Some(base.join(osim).display().to_string());
    }
    let params = ModelParams {
        anatomy,
        subject: spec.subject.clone(),
        cartilage: spec.cartilage.clone(),
        muscles: spec.muscles.clone(),
        ligaments: spec.ligaments.clone(),
        itb: spec.itb.clone(),
        foot: spec.foot.clone(),
        mechanisms: spec.mechanisms.clone(),
        solver: spec.solver.clone(),
    };
    // Every numeric key of the model sections (a key of another section has no value in
    // `params`; only the keys that default to the anatomy's own value can be absent).
    let numerics = params.numerics();
    for k in keys::KEYS.iter().filter(|k| k.bounds().is_some()) {
        if let Some(v) = numerics.get(k.key) {
            cx.check(k.key, v)?;
        }
    }
    // Every range before the model is built: a bad value is reported at once.
    section_ranges(&cx, &spec)?;
    let model = match shared {
        Some(shared) => Model::new_shared(&params, &shared.geometry),
        None => Model::new(&params),
    };
    let model = model.map_err(|e| match e {
        ModelError::Trochlea { key, source } => cx.invalid(key, source.to_string()),
        ModelError::Knee { key, message } | ModelError::Unsupported { key, message } => {
            cx.invalid(key, message)
        }
    })?;

    let plan = match spec.scenario.kind {
        Kind::Flexion => RunPlan::Flexion(flexion_plan(&cx, &spec)?),
        Kind::Stability => RunPlan::Stability(stability_plan(&cx, &spec)?),
        Kind::Gait => RunPlan::Gait(gait_plan(&cx, &spec, model.tibiofemoral)?),
        Kind::Dynamic => RunPlan::Dynamic(Box::new(dynamic_plan(&cx, &spec, model.tibiofemoral)?)),
    };
    let folder = output_folder(
        spec.scenario.name.as_deref(),
        path,
        "scenario",
        spec.output.dir.as_deref(),
        locate(text, "output.dir"),
    )
    .map_err(|m| {
        let key = if m.starts_with("output.dir") {
            "output.dir"
        } else {
            "scenario.name"
        };
        cx.invalid(key, m)
    })?;
    let name = folder.name;
    let formats = spec.output.formats.clone().unwrap_or_else(|| {
        let mut f = vec![Format::Csv, Format::Json, Format::Svg];
        if spec.scenario.kind == Kind::Gait {
            f.push(Format::Sto);
        }
        f
    });
    if formats.contains(&Format::Sto) && spec.scenario.kind != Kind::Gait {
        return Err(cx.invalid(
            "output.formats",
            "\"sto\" (OpenSim results over time) is written for gait runs only",
        ));
    }
    if formats.is_empty() {
        return Err(cx.invalid(
            "output.formats",
            "is empty: list at least one of \"csv\", \"json\", \"svg\", \"sto\"",
        ));
    }
    let mut data_files = cx.files.take();
    data_files.extend(model.knee.files.iter().map(|f| DataFile {
        path: PathBuf::from(&f.file),
        fnv1a64: u64::from_str_radix(&f.fnv1a64, 16).unwrap_or(0),
    }));
    data_files.sort();
    data_files.dedup();
    let mut spec = spec;
    spec.scenario.name = Some(name.clone());
    spec.output.formats = Some(formats.clone());
    Ok(Compiled {
        name,
        spec,
        model: Arc::new(model),
        plan,
        out_dir: folder.dir,
        out_dir_outside: folder.outside,
        formats,
        data_files,
    })
}

/// Range checks of every numeric key of the experiment sections, whatever the kind: a key
/// the kind does not use is still checked (NaN, ±1e308 or a typo there is an error in
/// `check` as in `run`, not something a later edit of `scenario.kind` brings to light).
/// The bounds are the key table's ([`keys::KEYS`]); checks that relate two keys stay with
/// the plan that uses them.
fn section_ranges(cx: &Ctx, spec: &ScenarioSpec) -> Result<(), ScenarioError> {
    let f = &spec.flexion;
    for &a in f.angles_deg.as_deref().unwrap_or_default() {
        cx.check("flexion.angles_deg", a)?;
    }
    cx.check("flexion.from_deg", f.from_deg)?;
    cx.check("flexion.to_deg", f.to_deg)?;
    cx.check("flexion.step_deg", f.step_deg)?;
    cx.check("flexion.tibial_rotation_deg", f.tibial_rotation_deg)?;
    cx.check("flexion.varus_deg", f.varus_deg)?;
    let each = |v: &PerAngle| match v {
        PerAngle::One(x) => vec![*x],
        PerAngle::Each(xs) => xs.clone(),
    };
    for x in f.quadriceps_n.as_ref().map(each).unwrap_or_default() {
        cx.check("flexion.quadriceps_n", x)?;
    }
    for x in f.extensor_moment_nm.as_ref().map(each).unwrap_or_default() {
        cx.check("flexion.extensor_moment_nm", x)?;
    }

    let s = &spec.stability;
    for &a in &s.flexion_deg {
        cx.check("stability.flexion_deg", a)?;
    }
    cx.check("stability.displacement_mm", s.displacement_mm)?;
    cx.check("stability.quadriceps_n", s.quadriceps_n)?;

    let g = &spec.gait;
    cx.check("gait.speed_mps", g.speed_mps)?;
    cx.check("gait.slope_pct", g.slope_pct)?;
    cx.check("gait.frames_per_cycle", g.frames_per_cycle as f64)?;
    cx.check("gait.cycles", g.cycles as f64)?;
    cx.check("gait.stance_hip_adduction_deg", g.stance_hip_adduction_deg)?;
    cx.check("gait.stance_hip_rotation_deg", g.stance_hip_rotation_deg)?;
    if let Some(spm) = g.step_rate_spm {
        cx.check("gait.step_rate_spm", spm)?;
    }
    if let Some(c) = g.step_rate_change_pct {
        cx.check("gait.step_rate_change_pct", c)?;
    }
    // A run that reads the cycles checks the starts against the data file (finite, inside
    // it, increasing, a plausible stride apart); otherwise only what no file could accept.
    let uses_gait = spec.scenario.kind == Kind::Gait
        || (spec.scenario.kind == Kind::Dynamic && spec.dynamic.case == DynamicCase::Gait);
    if !uses_gait {
        for &t in g.cycle_starts_s.as_deref().unwrap_or_default() {
            cx.check("gait.cycle_starts_s", t)?;
        }
    }

    let d = &spec.dynamic;
    cx.check("dynamic.flexion_deg", d.flexion_deg)?;
    cx.check("dynamic.quadriceps_n", d.quadriceps_n)?;
    cx.check("dynamic.force_n", d.force_n)?;
    cx.check("dynamic.onset_s", d.onset_s)?;
    cx.check("dynamic.pulse_s", d.pulse_s)?;
    cx.check("dynamic.ramp_n_per_s", d.ramp_n_per_s)?;
    cx.check("dynamic.ramp_max_n", d.ramp_max_n)?;
    if let Some(t) = d.duration_s {
        cx.check("dynamic.duration_s", t)?;
    }
    cx.check("dynamic.initial_shift_mm", d.initial_shift_mm)?;
    cx.check("dynamic.dt_s", d.dt_s)?;
    cx.check("dynamic.damping_per_s", d.damping_per_s)?;
    cx.check("dynamic.density_kg_m3", d.density_kg_m3)?;
    // At most one sample per step (one check, against the tighter of the table's maximum
    // and the step rate, so the message names the bound that holds).
    let (min_hz, max_hz, _) = numeric_key("dynamic.output_hz");
    cx.within(
        "dynamic.output_hz",
        d.output_hz,
        min_hz,
        max_hz.min(1.0 / d.dt_s),
    )?;
    // Not a range, but a value serde reads that no run takes.
    dynamic_direction(cx, d.direction)?;
    Ok(())
}

/// Bounds and unit of a numeric key of the table.
///
/// # Panics
/// When the table has no such numeric key (a programming error in this file).
fn numeric_key(key: &str) -> (f64, f64, &'static str) {
    keys::bounds(key)
        .unwrap_or_else(|| panic!("`{key}` has no numeric range in scenario::keys::KEYS"))
}

fn flexion_plan(cx: &Ctx, spec: &ScenarioSpec) -> Result<FlexionPlan, ScenarioError> {
    let f = &spec.flexion;
    let angles = match &f.angles_deg {
        Some(list) => {
            if list.is_empty() {
                return Err(cx.invalid("flexion.angles_deg", "is empty: give at least one angle"));
            }
            // The ranges of every key: section_ranges.
            if list.windows(2).any(|w| w[1] <= w[0]) {
                return Err(cx.invalid("flexion.angles_deg", "must be strictly increasing"));
            }
            list.clone()
        }
        None => {
            // The ranges of every key: section_ranges; the last angle is not below the first.
            let (_, max, _) = numeric_key("flexion.to_deg");
            cx.within("flexion.to_deg", f.to_deg, f.from_deg, max)?;
            let n = ((f.to_deg - f.from_deg) / f.step_deg + 1e-9).floor() as usize + 1;
            (0..n).map(|i| f.from_deg + i as f64 * f.step_deg).collect()
        }
    };
    let secondary = secondary_by_angle(cx, spec, &angles)?;
    let n = angles.len();
    let loads = match (&f.quadriceps_n, &f.extensor_moment_nm) {
        (Some(_), Some(_)) => {
            return Err(cx.invalid(
                "flexion.extensor_moment_nm",
                "give either quadriceps_n or extensor_moment_nm, not both",
            ))
        }
        (Some(q), None) => cx
            .per_angle("flexion.quadriceps_n", q, n)?
            .into_iter()
            .map(QuadLoad::Force)
            .collect(),
        (None, Some(m)) => cx
            .per_angle("flexion.extensor_moment_nm", m, n)?
            .into_iter()
            .map(|nm| QuadLoad::ExtensorMoment(nm * 1000.0))
            .collect(),
        (None, None) => vec![QuadLoad::Force(DEFAULT_QUADRICEPS_N); n],
    };
    let frames = angles
        .iter()
        .zip(secondary)
        .map(|(a, secondary)| KneeAngles {
            flexion: a.to_radians(),
            varus: f.varus_deg.to_radians(),
            internal_rotation: f.tibial_rotation_deg.to_radians(),
            secondary,
        })
        .collect();
    Ok(FlexionPlan { frames, loads })
}

/// The measured secondary coordinates at each angle of a flexion sweep, from
/// `flexion.secondary_kinematics` (path relative to the scenario file), or none.
fn secondary_by_angle(
    cx: &Ctx,
    spec: &ScenarioSpec,
    angles: &[f64],
) -> Result<Vec<SecondaryCoords>, ScenarioError> {
    const KEY: &str = "flexion.secondary_kinematics";
    let Some(file) = &spec.flexion.secondary_kinematics else {
        return Ok(vec![SecondaryCoords::default(); angles.len()]);
    };
    let err = |source| ScenarioError::OpenSim {
        path: cx.path.into(),
        line: locate(cx.text, KEY),
        key: KEY.into(),
        source: Box::new(source),
    };
    let base = cx.path.parent().unwrap_or(Path::new(""));
    let storage = cx.storage(&base.join(file)).map_err(err)?;
    cx.record(&storage);
    let table = SecondaryByFlexion::from_storage(&storage, spec.subject.side).map_err(err)?;
    angles.iter().map(|&a| table.at(a).map_err(err)).collect()
}

/// Largest number of integration steps a dynamic run may take (an input-size limit: at
/// ~0.3–0.5 ms a step on this kind of machine, about half an hour).
pub const MAX_DYNAMIC_STEPS: f64 = 5.0e6;
/// Simulated time of a pulse or ramp run when `dynamic.duration_s` is not given, s.
pub const DEFAULT_DURATION_S: f64 = 0.2;

/// The sign of `dynamic.direction`: +1 lateral, −1 medial; `both` is refused.
fn dynamic_direction(cx: &Ctx, direction: Direction) -> Result<f64, ScenarioError> {
    match direction {
        Direction::Lateral => Ok(1.0),
        Direction::Medial => Ok(-1.0),
        Direction::Both => Err(cx.invalid(
            "dynamic.direction",
            "\"both\" is for stability tests: a dynamic run pushes one way (lateral or medial)",
        )),
    }
}

fn dynamic_plan(
    cx: &Ctx,
    spec: &ScenarioSpec,
    tibiofemoral: Tibiofemoral,
) -> Result<DynamicPlan, ScenarioError> {
    let d = &spec.dynamic;
    // The ranges of every key: section_ranges.
    let direction = dynamic_direction(cx, d.direction)?;
    let gait = match d.case {
        DynamicCase::Gait => Some(gait_plan(cx, spec, tibiofemoral)?),
        _ => None,
    };
    let simulated = match (&gait, d.duration_s) {
        (Some(g), t) => g
            .cycles
            .iter()
            .map(|c| c.duration_s)
            .sum::<f64>()
            .min(t.unwrap_or(f64::INFINITY)),
        (None, Some(t)) => t,
        (None, None) => DEFAULT_DURATION_S,
    };
    if simulated / d.dt_s > MAX_DYNAMIC_STEPS {
        return Err(cx.invalid(
            "dynamic.dt_s",
            format!(
                "{simulated:.3} s at dt = {} s is {:.0} steps; at most {MAX_DYNAMIC_STEPS:.0} (raise dt_s or shorten the run)",
                d.dt_s,
                simulated / d.dt_s
            ),
        ));
    }
    Ok(DynamicPlan {
        case: d.case,
        flexion: d.flexion_deg.to_radians(),
        quadriceps_n: d.quadriceps_n,
        direction,
        pulse_n: d.force_n,
        onset_s: d.onset_s,
        pulse_s: d.pulse_s,
        ramp_n_per_s: d.ramp_n_per_s,
        ramp_max_n: d.ramp_max_n,
        duration_s: simulated,
        initial_shift_mm: d.initial_shift_mm,
        integrator: d.integrator,
        dt_s: d.dt_s,
        damping_per_s: d.damping_per_s,
        density_kg_m3: d.density_kg_m3,
        output_hz: d.output_hz,
        gait,
        without_contact: false,
    })
}

fn stability_plan(cx: &Ctx, spec: &ScenarioSpec) -> Result<StabilityPlan, ScenarioError> {
    let s = &spec.stability;
    if s.flexion_deg.is_empty() {
        return Err(cx.invalid("stability.flexion_deg", "is empty: give at least one angle"));
    }
    // The ranges of every key: section_ranges.
    let directions = match s.direction {
        Direction::Lateral => vec![1.0],
        Direction::Medial => vec![-1.0],
        Direction::Both => vec![1.0, -1.0],
    };
    Ok(StabilityPlan {
        flexion: s.flexion_deg.iter().map(|a| a.to_radians()).collect(),
        displacement_mm: s.displacement_mm,
        directions,
        quadriceps_n: s.quadriceps_n,
    })
}

fn gait_plan(
    cx: &Ctx,
    spec: &ScenarioSpec,
    tibiofemoral: Tibiofemoral,
) -> Result<GaitPlan, ScenarioError> {
    let g = &spec.gait;
    // The ranges of every key: section_ranges.
    let preferred = preferred_step_rate_spm(g.speed_mps);
    let change = match (g.step_rate_spm, g.step_rate_change_pct) {
        (Some(_), Some(_)) => {
            return Err(cx.invalid(
                "gait.step_rate_change_pct",
                "give either step_rate_spm or step_rate_change_pct, not both",
            ))
        }
        (Some(spm), None) => {
            let c = 100.0 * (spm / preferred - 1.0);
            // The step-rate map's span: the range of `gait.step_rate_change_pct`.
            let (lo, hi, _) = numeric_key("gait.step_rate_change_pct");
            if !(lo..=hi).contains(&c) {
                return Err(cx.invalid(
                    "gait.step_rate_spm",
                    format!(
                        "= {spm} is {c:+.1} % from the preferred {preferred:.1} steps/min at \
                         {} m/s; the step-rate map covers {lo} % to +{hi} %",
                        g.speed_mps
                    ),
                ));
            }
            c
        }
        (None, Some(c)) => c,
        (None, None) => 0.0,
    };
    let mass = spec.subject.body_mass_kg;
    let builtin = g.kinematics == "builtin";
    if !builtin {
        if g.slope_pct != 0.0 {
            return Err(cx.invalid(
                "gait.slope_pct",
                "slope only shapes the built-in cycle; OpenSim data carry their own — remove it",
            ));
        }
        if change != 0.0 {
            return Err(cx.invalid(
                "gait.step_rate_change_pct",
                "the step rate of OpenSim data is measured, not set: remove step_rate_spm / step_rate_change_pct",
            ));
        }
    } else if g.kinetics.is_some() || g.cycle_starts_s.is_some() {
        return Err(cx.invalid(
            "gait.kinetics",
            "kinetics and cycle_starts_s need OpenSim kinematics (gait.kinematics = \"path/to/ik.mot\")",
        ));
    }
    let mode = match tibiofemoral {
        Tibiofemoral::Coupled => "anatomy.tibiofemoral = coupled (Walker 1988)",
        Tibiofemoral::Hinge => "anatomy.tibiofemoral = hinge (no secondary motion)",
        Tibiofemoral::Seated => {
            "anatomy.tibiofemoral = seated (Walker 1988 rotation; contact- and ligament-seated translations)"
        }
    };
    let (cycles, mut provenance) = if builtin {
        let c = Conditions {
            speed_mps: g.speed_mps,
            step_rate_change_pct: change,
            slope_pct: g.slope_pct,
            body_mass_kg: mass,
        };
        let plan = GaitPlan::builtin(&c, g.frames_per_cycle, g.cycles);
        (plan.cycles, plan.provenance)
    } else {
        let base = cx.path.parent().unwrap_or(Path::new(""));
        let read = |key: &str, file: &str| {
            let s = cx
                .storage(&base.join(file))
                .map_err(|source| ScenarioError::OpenSim {
                    path: cx.path.into(),
                    line: locate(cx.text, key),
                    key: key.into(),
                    source: Box::new(source),
                })?;
            cx.record(&s);
            Ok(s)
        };
        let ik = read("gait.kinematics", &g.kinematics)?;
        let id = g
            .kinetics
            .as_deref()
            .map(|f| read("gait.kinetics", f))
            .transpose()?;
        let imported = read_cycles(
            &ik,
            id.as_deref(),
            &ImportOptions {
                side: spec.subject.side,
                knee_sign: g.knee_sign,
                cycle_starts_s: g.cycle_starts_s.clone(),
                max_cycles: g.cycles,
                frames_per_cycle: g.frames_per_cycle,
                body_mass_kg: mass,
            },
        )
        .map_err(|source| {
            // The key the error is about: the cycle starts, the knee sign, or the file it
            // names.
            let key = match &source {
                OpenSimError::CycleStart { .. } => "gait.cycle_starts_s",
                OpenSimError::Cycles { .. } if g.cycle_starts_s.is_some() => "gait.cycle_starts_s",
                OpenSimError::KneeSign { .. } => "gait.knee_sign",
                OpenSimError::Coverage { path, .. }
                    if id.as_ref().is_some_and(|s| s.path == *path) =>
                {
                    "gait.kinetics"
                }
                _ => "gait.kinematics",
            };
            ScenarioError::OpenSim {
                path: cx.path.into(),
                line: locate(cx.text, key),
                key: key.into(),
                source: Box::new(source),
            }
        })?;
        let mean_dur = imported.cycles.iter().map(|c| c.duration_s).sum::<f64>()
            / imported.cycles.len() as f64;
        let spm = 120.0 / mean_dur;
        (
            imported.cycles,
            GaitProvenance {
                kinematics: g.kinematics.clone(),
                extensor_moment_source: imported.moment_source,
                knee_sign_convention: Some(imported.knee_sign),
                speed_mps: g.speed_mps,
                step_rate_spm: spm,
                step_rate_change_pct: 100.0 * (spm / preferred - 1.0),
                secondary_motion: match &imported.secondary {
                    Some(cols) => format!(
                        "measured: {cols} from {}; the other coordinates: {mode}",
                        g.kinematics
                    ),
                    None => mode.into(),
                },
            },
        )
    };
    if builtin {
        provenance.secondary_motion = mode.into();
    }
    Ok(GaitPlan {
        cycles,
        provenance,
        stance_hip_adduction_deg: g.stance_hip_adduction_deg,
        stance_hip_rotation_deg: g.stance_hip_rotation_deg,
    })
}

/// Longest run or sweep name, characters (it names a folder; file systems take 255 bytes).
pub const MAX_NAME_CHARS: usize = 128;

/// Where a run's outputs go, as the scenario or sweep file says.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFolder {
    /// The run's name (a valid folder name).
    pub name: String,
    /// The output folder: `output.dir` resolved against the file's folder, or `out/<name>`
    /// relative to the working directory.
    pub dir: PathBuf,
    /// Set when `output.dir` is absolute or climbs out of the file's folder: such a folder
    /// is used only when the command line allows it ([`OutsideDir::error`]).
    pub outside: Option<OutsideDir>,
}

/// An `output.dir` outside the file's folder, kept until the command line says whether it
/// is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct OutsideDir {
    /// The scenario or sweep file.
    pub path: PathBuf,
    /// Line of `output.dir` in it.
    pub line: usize,
    /// The value as written.
    pub dir: String,
}

impl OutsideDir {
    /// The refusal (exit code 2) when the command line does not allow the folder.
    pub fn error(&self) -> ScenarioError {
        let why = if Path::new(&self.dir).is_absolute() {
            "is absolute"
        } else {
            "climbs out of the file's folder"
        };
        ScenarioError::Invalid {
            path: self.path.clone(),
            line: self.line,
            key: "output.dir".into(),
            message: format!(
                "= \"{}\" {why}: a relative output.dir is resolved against the file's folder and stays inside it; pass --allow-outside to write there, or --out DIR",
                self.dir.escape_debug()
            ),
        }
    }
}

/// Checks that `name` can name an output folder on any file system: not empty, at most
/// [`MAX_NAME_CHARS`] characters, no slash, backslash, NUL or other control character, not
/// starting with `.`.
pub fn check_name(name: &str) -> Result<(), String> {
    let shown = name.escape_debug().to_string();
    let why = if name.is_empty() {
        Some("is empty".to_string())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some(format!(
            "has {} characters; allowed 1 to {MAX_NAME_CHARS}",
            name.chars().count()
        ))
    } else if name.contains(['/', '\\']) {
        Some("contains a slash".into())
    } else if name.chars().any(char::is_control) {
        Some("contains a control character (NUL, newline, tab…)".into())
    } else if name.starts_with('.') {
        Some("starts with '.'".into())
    } else if name.trim() != name {
        Some("starts or ends with a space".into())
    } else {
        None
    };
    match why {
        Some(w) => Err(format!(
            "\"{}\" cannot name an output folder: it {w} (allowed: 1 to {MAX_NAME_CHARS} characters, no slashes or control characters, not starting with '.')",
            if shown.chars().count() > 60 { shown.chars().take(60).collect::<String>() + "…" } else { shown }
        )),
        None => Ok(()),
    }
}

/// The name of a run (given, or the file name without `.toml`, or `fallback`) and its output
/// folder: `dir` (the file's `output.dir`) resolved against the folder of `path`, else
/// `out/<name>` relative to the working directory. The name must be usable as a folder name.
pub fn output_folder(
    name: Option<&str>,
    path: &Path,
    fallback: &str,
    dir: Option<&str>,
    dir_line: usize,
) -> Result<OutputFolder, String> {
    let name = name.map(str::to_string).unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| fallback.into())
    });
    check_name(&name)?;
    let Some(d) = dir else {
        return Ok(OutputFolder {
            dir: PathBuf::from("out").join(&name),
            name,
            outside: None,
        });
    };
    if d.is_empty() || d.contains('\0') {
        return Err(format!(
            "output.dir = \"{}\" is not a folder name",
            d.escape_debug()
        ));
    }
    let given = Path::new(d);
    // Lexical depth below the file's folder: `..` past it leaves the folder.
    let mut depth = 0i64;
    let mut climbs = false;
    for c in given.components() {
        match c {
            std::path::Component::ParentDir => {
                depth -= 1;
                climbs |= depth < 0;
            }
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    let outside = (given.is_absolute() || climbs).then(|| OutsideDir {
        path: path.into(),
        line: dir_line,
        dir: d.into(),
    });
    let base = path.parent().unwrap_or(Path::new(""));
    Ok(OutputFolder {
        name,
        dir: base.join(given),
        outside,
    })
}

/// Reads, parses and compiles a scenario file.
pub fn load_and_compile(path: &Path) -> Result<Compiled, ScenarioError> {
    let (spec, text) = super::load(path)?;
    compile(spec, path, &text)
}
