//! `kneetrack._kneetrack`: the native half of the `kneetrack` Python package.
//!
//! A thin layer over the Rust library — every number comes from `kneetrack` itself:
//! scenarios are read and checked by `kneetrack::scenario`, runs by `kneetrack::experiment`,
//! tables and summaries rendered by `kneetrack::output`, sweeps by `kneetrack::sweep` and
//! OpenSim files by `kneetrack::gait::opensim`. The Python package (`kneetrack/__init__.py`)
//! wraps these functions into the documented API (pandas DataFrames, numpy arrays).
//!
//! Rules at the boundary: the GIL is released while Rust computes; every library error
//! becomes a Python exception of `kneetrack._errors` carrying the error's fields; a panic
//! is caught and raised as `kneetrack.KneetrackError`, never unwinding into Python.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyo3::exceptions::{PyIndexError, PyKeyError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use kneetrack::experiment::{self, RunResult};
use kneetrack::gait::opensim::{self, OpenSimError, Storage};
use kneetrack::scenario::{self, Compiled, Format, ScenarioError};
use kneetrack::sweep::{self, ProgressMode, RunOptions, Sweep, SweepError};
use kneetrack::{contact, output};

/// Upper bound of `threads` per available core (as the CLI's `sweep --threads`).
const MAX_THREADS_PER_CORE: usize = 4;

// ---------------------------------------------------------------------------------------
// Errors

/// Builds an exception of `kneetrack._errors.<class>` with the message and keyword fields.
fn py_error(py: Python<'_>, class: &str, message: String, fields: &[(&str, Field)]) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = py.import("kneetrack._errors")?.getattr(class)?;
        let kwargs = PyDict::new(py);
        for (k, v) in fields {
            match v {
                Field::Str(s) => kwargs.set_item(k, s)?,
                Field::Int(i) => kwargs.set_item(k, i)?,
                Field::Float(x) => kwargs.set_item(k, x)?,
                Field::None => kwargs.set_item(k, py.None())?,
            }
        }
        let value = cls.call((message.clone(),), Some(&kwargs))?;
        Ok(PyErr::from_value(value))
    };
    // If the Python side cannot build its exception, still raise with the message.
    build().unwrap_or_else(|e| PyValueError::new_err(format!("{message} ({e})")))
}

/// A field value of an exception.
enum Field {
    Str(String),
    Int(i64),
    Float(f64),
    None,
}

fn path_field(p: &Path) -> Field {
    Field::Str(p.display().to_string())
}

/// The dotted key a parse message starts with (`muscles.vmoo: unknown field …`), if any.
fn key_of_message(message: &str) -> Field {
    match message.split_once(": ") {
        Some((k, _))
            if !k.is_empty()
                && k.contains('.')
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
        {
            Field::Str(k.to_string())
        }
        _ => Field::None,
    }
}

/// `kneetrack.ScenarioError` (or `class`, a subclass) from a library scenario error.
fn scenario_error_as(py: Python<'_>, class: &str, e: &ScenarioError) -> PyErr {
    let message = e.to_string();
    let fields: Vec<(&str, Field)> = match e {
        ScenarioError::Read { path, .. } | ScenarioError::Empty { path } => {
            vec![("file", path_field(path))]
        }
        ScenarioError::Parse {
            path,
            line,
            column,
            message: m,
        } => vec![
            ("file", path_field(path)),
            ("line", Field::Int(*line as i64)),
            ("column", Field::Int(*column as i64)),
            ("key", key_of_message(m)),
            ("reason", Field::Str(m.clone())),
        ],
        ScenarioError::Range {
            path,
            line,
            key,
            value,
            min,
            max,
            unit,
        } => vec![
            ("file", path_field(path)),
            ("line", Field::Int(*line as i64)),
            ("key", Field::Str(key.clone())),
            ("value", Field::Float(*value)),
            ("min", Field::Float(*min)),
            ("max", Field::Float(*max)),
            ("unit", Field::Str(unit.trim().to_string())),
        ],
        ScenarioError::OpenSim {
            path,
            line,
            key,
            source,
        } => vec![
            ("file", path_field(path)),
            ("line", Field::Int(*line as i64)),
            ("key", Field::Str(key.clone())),
            ("reason", Field::Str(source.to_string())),
        ],
        ScenarioError::Invalid {
            path,
            line,
            key,
            message: m,
        } => vec![
            ("file", path_field(path)),
            ("line", Field::Int(*line as i64)),
            ("key", Field::Str(key.clone())),
            ("reason", Field::Str(m.clone())),
        ],
    };
    py_error(py, class, message, &fields)
}

fn scenario_error(py: Python<'_>, e: &ScenarioError) -> PyErr {
    scenario_error_as(py, "ScenarioError", e)
}

fn sweep_error(py: Python<'_>, e: &SweepError) -> PyErr {
    let message = e.to_string();
    let fields: Vec<(&str, Field)> = match e {
        SweepError::Base(s) => return scenario_error(py, s),
        SweepError::Io { .. } => return PyOSError::new_err(message),
        SweepError::Read { path, .. } => vec![("file", path_field(path))],
        SweepError::Parse {
            path,
            line,
            column,
            message: m,
        } => vec![
            ("file", path_field(path)),
            ("line", Field::Int(*line as i64)),
            ("column", Field::Int(*column as i64)),
            ("reason", Field::Str(m.clone())),
        ],
        SweepError::Invalid {
            path,
            line,
            key,
            message: m,
        } => vec![
            ("file", path_field(path)),
            ("line", Field::Int(*line as i64)),
            ("key", Field::Str(key.clone())),
            ("reason", Field::Str(m.clone())),
        ],
        SweepError::Axis {
            path,
            line,
            key,
            value,
            message: m,
        } => vec![
            ("file", path_field(path)),
            ("line", Field::Int(*line as i64)),
            ("key", Field::Str(key.clone())),
            ("value", Field::Str(value.clone())),
            ("reason", Field::Str(m.clone())),
        ],
        SweepError::Folder { dir, message: m } => {
            vec![("file", path_field(dir)), ("reason", Field::Str(m.clone()))]
        }
        _ => vec![],
    };
    py_error(py, "SweepError", message, &fields)
}

fn opensim_error(py: Python<'_>, e: &OpenSimError) -> PyErr {
    let message = e.to_string();
    let (path, line, column) = match e {
        OpenSimError::Io { .. } => return PyOSError::new_err(message),
        OpenSimError::NoEndHeader { path }
        | OpenSimError::Cycles { path, .. }
        | OpenSimError::CycleStart { path, .. }
        | OpenSimError::Coverage { path, .. }
        | OpenSimError::Columns { path, .. } => (path, None, None),
        OpenSimError::BadHeader { path, line, .. }
        | OpenSimError::BadLabels { path, line, .. }
        | OpenSimError::BadRow { path, line, .. }
        | OpenSimError::NonMonotonicTime { path, line, .. } => (path, Some(*line), None),
        OpenSimError::MissingColumn { path, column, .. }
        | OpenSimError::KneeSign { path, column, .. }
        | OpenSimError::FlexionOutside { path, column, .. } => (path, None, Some(column)),
        OpenSimError::OutOfRange {
            path, line, column, ..
        } => (path, Some(*line), Some(column)),
    };
    py_error(
        py,
        "OpenSimError",
        message,
        &[
            ("file", path_field(path)),
            ("line", line.map_or(Field::None, |l| Field::Int(l as i64))),
            (
                "column",
                column.map_or(Field::None, |c| Field::Str(c.clone())),
            ),
        ],
    )
}

/// Runs `f` without the GIL; a panic becomes `kneetrack.KneetrackError`.
fn compute<T: Send>(py: Python<'_>, what: &str, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(v) => Ok(v),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown".into());
            Err(py_error(
                py,
                "KneetrackError",
                format!("{what}: internal error (panic): {msg}"),
                &[],
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// A scenario: the file's text (with any overrides written into it) and its compiled form.
#[pyclass(module = "kneetrack._kneetrack", name = "Scenario")]
struct PyScenario {
    /// Names the scenario in messages; relative paths in it are relative to its folder.
    path: PathBuf,
    /// The text, overrides included (format-preserving: comments and lines kept).
    doc: toml_edit::DocumentMut,
    compiled: Arc<Compiled>,
}

/// Parses and compiles `text` exactly as the CLI reads a file of that text at `path`.
fn compile_text(py: Python<'_>, path: &Path, text: &str) -> PyResult<Compiled> {
    let path_owned = path.to_path_buf();
    let text_owned = text.to_string();
    compute(py, "compiling the scenario", move || {
        let spec = scenario::parse(&path_owned, &text_owned)?;
        scenario::compile(spec, &path_owned, &text_owned)
    })?
    .map_err(|e| scenario_error(py, &e))
}

/// A Python value as a TOML value (bool, int, float, str, and lists / dicts of them).
fn to_toml(v: &Bound<'_, PyAny>) -> PyResult<toml_edit::Value> {
    if v.is_instance_of::<PyBool>() {
        return Ok(v.extract::<bool>()?.into());
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(v.extract::<i64>()?.into());
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(v.extract::<f64>()?.into());
    }
    if v.is_instance_of::<PyString>() {
        return Ok(v.extract::<String>()?.into());
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut a = toml_edit::Array::new();
        for item in v.try_iter()? {
            a.push(to_toml(&item?)?);
        }
        return Ok(toml_edit::Value::Array(a));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut t = toml_edit::InlineTable::new();
        for (k, x) in d.iter() {
            t.insert(&k.extract::<String>()?, to_toml(&x)?);
        }
        return Ok(toml_edit::Value::InlineTable(t));
    }
    // numpy scalars and other numbers
    if let Ok(i) = v.extract::<i64>() {
        if v.hasattr("__index__")? {
            return Ok(i.into());
        }
    }
    if let Ok(x) = v.extract::<f64>() {
        return Ok(x.into());
    }
    Err(PyTypeError::new_err(format!(
        "cannot write a {} into a scenario: use a bool, int, float, str, or a list of them",
        v.get_type().name()?
    )))
}

/// Sets `key` (dotted, `section.key`) in the document: an existing value is replaced on its
/// own line (its comment kept), a new one is added to its section (created if needed).
fn set_in_doc(
    doc: &mut toml_edit::DocumentMut,
    key: &str,
    mut value: toml_edit::Value,
) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts
        .pop()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| "is empty".to_string())?;
    let mut t: &mut dyn toml_edit::TableLike = doc.as_table_mut();
    for p in parts {
        let item = t.entry(p).or_insert(toml_edit::table());
        t = item
            .as_table_like_mut()
            .ok_or_else(|| format!("`{p}` is a value, not a section"))?;
    }
    if let Some(old) = t.get(last).and_then(toml_edit::Item::as_value) {
        *value.decor_mut() = old.decor().clone();
    }
    t.insert(last, toml_edit::Item::Value(value));
    Ok(())
}

#[pymethods]
impl PyScenario {
    /// Reads and compiles a scenario file (as `kneetrack check FILE`).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let (_, text) = scenario::load(&path).map_err(|e| scenario_error(py, &e))?;
        Self::from_toml(py, text, path)
    }

    /// Compiles scenario text; `path` names it in messages and anchors relative paths.
    #[staticmethod]
    fn from_toml(py: Python<'_>, text: String, path: PathBuf) -> PyResult<Self> {
        let compiled = compile_text(py, &path, &text)?;
        // The library accepted the text, so it is valid TOML.
        let doc = text
            .parse::<toml_edit::DocumentMut>()
            .map_err(|e| PyValueError::new_err(format!("{}: {}", path.display(), e.message())))?;
        Ok(Self {
            path,
            doc,
            compiled: Arc::new(compiled),
        })
    }

    /// An independent copy (no recompile: the compiled model is shared, read-only).
    fn copy(&self) -> Self {
        Self {
            path: self.path.clone(),
            doc: self.doc.clone(),
            compiled: self.compiled.clone(),
        }
    }

    /// Sets one key and recompiles; on an error the scenario is left unchanged.
    fn set(&mut self, py: Python<'_>, key: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = to_toml(value)?;
        let mut doc = self.doc.clone();
        set_in_doc(&mut doc, key, value).map_err(|message| {
            scenario_error(
                py,
                &ScenarioError::Invalid {
                    path: self.path.clone(),
                    line: 1,
                    key: key.into(),
                    message,
                },
            )
        })?;
        let text = doc.to_string();
        let compiled = compile_text(py, &self.path, &text)?;
        self.doc = doc;
        self.compiled = Arc::new(compiled);
        Ok(())
    }

    /// The resolved value of a key (defaults filled in) as JSON text.
    fn get_json(&self, key: &str) -> PyResult<String> {
        let spec = serde_json::to_value(&self.compiled.spec)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut v = &spec;
        for part in key.split('.') {
            v = v
                .get(part)
                .ok_or_else(|| PyKeyError::new_err(key.to_string()))?;
        }
        Ok(v.to_string())
    }

    /// The resolved scenario (every default filled in) as JSON text.
    fn spec_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.compiled.spec).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The scenario's text with the overrides written in.
    fn to_toml(&self) -> String {
        self.doc.to_string()
    }

    #[getter]
    fn path(&self) -> String {
        self.path.display().to_string()
    }

    #[getter]
    fn name(&self) -> String {
        self.compiled.name.clone()
    }

    #[getter]
    fn kind(&self) -> String {
        format!("{:?}", self.compiled.spec.scenario.kind).to_lowercase()
    }

    /// Contact elements of the knee's patella.
    #[getter]
    fn elements(&self) -> usize {
        self.compiled.model.patella.len()
    }

    /// The frontal-plane Q-angle the model has with its tuberosity, degrees.
    #[getter]
    fn q_angle_effective_deg(&self) -> f64 {
        self.compiled.model.q_angle_effective_deg
    }
}

// ---------------------------------------------------------------------------------------
// Runs

/// A finished run: the compiled scenario and its result.
#[pyclass(module = "kneetrack._kneetrack", name = "Result", frozen)]
struct PyRunResult {
    compiled: Arc<Compiled>,
    result: Arc<RunResult>,
}

/// Runs a scenario (as `kneetrack run`), without the GIL.
#[pyfunction]
fn run(py: Python<'_>, scenario: PyRef<'_, PyScenario>) -> PyResult<PyRunResult> {
    let compiled = scenario.compiled.clone();
    drop(scenario);
    let c = compiled.clone();
    let result = compute(py, "running the scenario", move || experiment::run(&c))?;
    Ok(PyRunResult {
        compiled,
        result: Arc::new(result),
    })
}

#[pymethods]
impl PyRunResult {
    /// The text outputs, as the CLI writes them: `frames.csv`, `summary.json` and, for a
    /// stability test, `stability.csv`; a dict of file name to text.
    fn tables<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let mut c = (*self.compiled).clone();
        c.formats = vec![Format::Csv, Format::Json];
        let r = self.result.clone();
        let files = compute(py, "rendering the tables", move || output::render(&c, &r))?;
        let d = PyDict::new(py);
        for (name, bytes) in files {
            d.set_item(name, String::from_utf8_lossy(&bytes).into_owned())?;
        }
        Ok(d)
    }

    /// Writes every output the scenario asks for into `dir` (as `kneetrack run --out DIR`);
    /// returns the paths written.
    fn write(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
        let (c, r) = (self.compiled.clone(), self.result.clone());
        let written = compute(py, "writing outputs", move || {
            output::write_outputs(&c, &r, &dir)
        })?
        .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(written.iter().map(|p| p.display().to_string()).collect())
    }

    /// Number of solved frames (rows of `frames.csv`; 0 for a dynamic run, whose rows are
    /// time samples).
    #[getter]
    fn solved_frames(&self) -> usize {
        match &*self.result {
            RunResult::Dynamic(_) => 0,
            r => r.all_frames().len(),
        }
    }

    #[getter]
    fn kind(&self) -> String {
        format!("{:?}", self.compiled.spec.scenario.kind).to_lowercase()
    }

    /// The element pressure field of solved frame `frame` (a row of frames.csv), evaluated
    /// by the library's contact kernel at that frame's solved patella pose. Returns a dict of
    /// flat lists: `centroid_mm` (n×3, patella frame), `centroid_femur_mm` (n×3, femur
    /// frame at this frame's pose), `area_mm2`, `lateral` (1.0 lateral facet, 0.0 medial),
    /// `pressure_mpa`.
    fn pressure<'py>(&self, py: Python<'py>, frame: isize) -> PyResult<Bound<'py, PyDict>> {
        if let RunResult::Dynamic(_) = &*self.result {
            return Err(PyValueError::new_err(
                "a dynamic run's rows are time samples of the rigid-body simulation; they carry no solved pressure field",
            ));
        }
        let n = self.result.all_frames().len() as isize;
        let i = if frame < 0 { frame + n } else { frame };
        if i < 0 || i >= n {
            return Err(PyIndexError::new_err(format!(
                "frame {frame} is out of range: the run has {n} frames (0 to {})",
                n - 1
            )));
        }
        let (c, r) = (self.compiled.clone(), self.result.clone());
        let (pressure, femur) = compute(py, "evaluating the contact", move || {
            let m = &c.model;
            let fr = r.all_frames()[i as usize];
            let mut p = vec![0.0; m.patella.len()];
            contact::elastic_foundation(
                &fr.femur_from_patella,
                &m.femur,
                &m.patella,
                &m.law,
                &mut p,
                false,
            );
            let pat = &m.patella;
            let mut femur = Vec::with_capacity(3 * pat.len());
            for k in 0..pat.len() {
                let q = fr.femur_from_patella * nalgebra::Point3::new(pat.x[k], pat.y[k], pat.z[k]);
                femur.extend([q.x, q.y, q.z]);
            }
            (p, femur)
        })?;
        let pat = &self.compiled.model.patella;
        let mut centroid = Vec::with_capacity(3 * pat.len());
        for k in 0..pat.len() {
            centroid.extend([pat.x[k], pat.y[k], pat.z[k]]);
        }
        let d = PyDict::new(py);
        d.set_item("centroid_mm", centroid)?;
        d.set_item("centroid_femur_mm", femur)?;
        d.set_item("area_mm2", pat.area.clone())?;
        d.set_item("lateral", pat.lateral.clone())?;
        d.set_item("pressure_mpa", pressure)?;
        Ok(d)
    }
}

// ---------------------------------------------------------------------------------------
// Sweeps

/// A checked sweep (as `kneetrack sweep` reads it), ready to run.
#[pyclass(module = "kneetrack._kneetrack", name = "Sweep", frozen)]
struct PySweep {
    sweep: Arc<Sweep>,
}

#[pymethods]
impl PySweep {
    /// Reads and checks a sweep file: every axis value against the base scenario.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let sweep = compute(py, "checking the sweep", move || sweep::load_sweep(&path))?
            .map_err(|e| sweep_error(py, &e))?;
        Ok(Self {
            sweep: Arc::new(sweep),
        })
    }

    #[getter]
    fn name(&self) -> String {
        self.sweep.name.clone()
    }

    #[getter]
    fn variants(&self) -> u64 {
        self.sweep.variants
    }

    #[getter]
    fn axes(&self) -> Vec<String> {
        self.sweep.axes.iter().map(|a| a.key.clone()).collect()
    }

    #[getter]
    fn plot_metric(&self) -> String {
        self.sweep.plot_metric.clone()
    }

    /// Runs every variant into `out` (sweep.csv, sweep.svg, sweep.json, exactly as the CLI's
    /// `sweep --out`), without the GIL. Returns (folder, variants run, failed, seconds).
    #[pyo3(signature = (out, threads=None))]
    fn run(
        &self,
        py: Python<'_>,
        out: PathBuf,
        threads: Option<usize>,
    ) -> PyResult<(String, u64, u64, f64)> {
        if let Some(n) = threads {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let max = MAX_THREADS_PER_CORE * cores;
            if !(1..=max).contains(&n) {
                return Err(PyValueError::new_err(format!(
                    "threads={n}: allowed 1 to {max} ({MAX_THREADS_PER_CORE} per core on this machine's {cores})"
                )));
            }
        }
        let opts = RunOptions {
            threads,
            out_dir: Some(out),
            progress: ProgressMode::Off,
            ..RunOptions::default()
        };
        let s = self.sweep.clone();
        let report = compute(py, "running the sweep", move || sweep::run_sweep(&s, &opts))?
            .map_err(|e| sweep_error(py, &e))?;
        Ok((
            report.dir.display().to_string(),
            report.ran,
            report.failed,
            report.elapsed.as_secs_f64(),
        ))
    }
}

// ---------------------------------------------------------------------------------------
// OpenSim files

/// Reads an OpenSim Storage file (.mot/.sto) with the library's reader. Returns (name line,
/// inDegrees or None, labels with `time` first, rows).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn read_opensim(
    py: Python<'_>,
    path: PathBuf,
) -> PyResult<(String, Option<bool>, Vec<String>, Vec<Vec<f64>>)> {
    let text = std::fs::read_to_string(&path)?;
    let storage = Storage::parse(&path, &text).map_err(|e| opensim_error(py, &e))?;
    // OpenSim's first header line names the data, unless it is already a `key=value` line.
    let name = text
        .lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.contains('=') && !l.eq_ignore_ascii_case("endheader"))
        .unwrap_or("")
        .to_string();
    Ok((name, storage.in_degrees, storage.labels, storage.rows))
}

/// Writes an OpenSim Storage file with the library's writer, after checking that the
/// library's reader reads it back (nothing is written otherwise).
#[pyfunction]
fn write_opensim(
    py: Python<'_>,
    path: PathBuf,
    name: &str,
    in_degrees: bool,
    columns: Vec<String>,
    time: Vec<f64>,
    rows: Vec<Vec<f64>>,
) -> PyResult<()> {
    if time.len() != rows.len() {
        return Err(PyValueError::new_err(format!(
            "{} times but {} rows",
            time.len(),
            rows.len()
        )));
    }
    if name.contains(['\n', '\r']) || name.contains('=') {
        return Err(PyValueError::new_err(format!(
            "name {name:?}: one line without `=` (it is the file's first header line)"
        )));
    }
    for c in &columns {
        if c.is_empty() || c.chars().any(char::is_whitespace) {
            return Err(PyValueError::new_err(format!(
                "column {c:?}: OpenSim column labels are tab-separated and cannot be empty or contain whitespace"
            )));
        }
    }
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    let rows: Vec<(f64, Vec<f64>)> = time.into_iter().zip(rows).collect();
    let text = opensim::write_storage(name, in_degrees, &cols, &rows);
    Storage::parse(&path, &text).map_err(|e| opensim_error(py, &e))?;
    output::write_atomic(&path, text.as_bytes()).map_err(|e| PyOSError::new_err(e.to_string()))
}

/// The package version (the same as the kneetrack library's).
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _kneetrack(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyScenario>()?;
    m.add_class::<PyRunResult>()?;
    m.add_class::<PySweep>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(read_opensim, m)?)?;
    m.add_function(wrap_pyfunction!(write_opensim, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
