//! Validate a sweep once: read the base scenario, check every axis against it (each value
//! compiled on its own, so a bad key or value is reported with the sweep file's line before
//! anything runs), and count the variants.
//!
//! A variant compiles once, from the base parsed once: its axis values are set in a copy of
//! the base file's table, which serde reads straight into the typed scenario (no TOML text
//! written and read again), and the scenario compiles on the sweep's [`Shared`] parts — the
//! knee geometry of the base (and of each distinct geometry the axes give) and the data
//! files, built and read once. Only an error takes the long way: the variant is compiled
//! again from its table written out as a scenario file, the path that defines a variant's
//! error messages (a type error quotes the key and its range from the text), so messages
//! stay exactly those of a file with the values written in.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::sample::{grid_index, latin_hypercube, uniform};
use super::spec::{Method, SweepSpec};
pub use super::table::show;
use super::SweepError;
use crate::model::GEOMETRY_KEYS;
use crate::scenario::{self, Compiled, ScenarioError, ScenarioSpec, Shared};

/// Most distinct knee geometries a sweep keeps for its variants (besides the base's): a
/// mesh knee's is about 0.3 MB (its patella elements); past this many, a geometry is built
/// for its variant alone.
pub const MAX_SHARED_GEOMETRIES: u64 = 256;

/// Metric plotted when the sweep names none.
pub const DEFAULT_PLOT_METRIC: &str = "peak_lateral_force_n";

/// The values of one axis.
#[derive(Debug, Clone, PartialEq)]
pub enum AxisValues {
    /// An explicit list (any TOML scalar the key takes).
    List(Vec<toml::Value>),
    /// A closed range; `steps` grid points (grid), or a continuous interval (sampled).
    Range {
        /// Range start.
        from: f64,
        /// Range end, inclusive.
        to: f64,
        /// Grid points, ends included (grid sweeps).
        steps: Option<u64>,
        /// The key takes an integer (e.g. `gait.cycles`): values are rounded.
        integer: bool,
    },
}

/// One swept key.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted scenario key.
    pub key: String,
    /// 1-based line of the axis in the sweep file (for messages).
    pub line: usize,
    /// The values.
    pub values: AxisValues,
}

impl Axis {
    /// Number of grid points.
    pub fn len(&self) -> u64 {
        match &self.values {
            AxisValues::List(v) => v.len() as u64,
            AxisValues::Range { steps, .. } => steps.unwrap_or(1),
        }
    }

    /// Whether the axis has no value (never true after compile).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Grid point `k`.
    fn grid(&self, k: u64) -> toml::Value {
        match &self.values {
            AxisValues::List(v) => v[k as usize].clone(),
            AxisValues::Range {
                from,
                to,
                steps,
                integer,
            } => {
                let n = steps.unwrap_or(1);
                let x = if n <= 1 {
                    *from
                } else {
                    from + (to - from) * k as f64 / (n - 1) as f64
                };
                number(x, *integer)
            }
        }
    }

    /// The value at unit coordinate `u` ∈ [0, 1) (sampled methods).
    fn at_unit(&self, u: f64) -> toml::Value {
        match &self.values {
            AxisValues::List(v) => v[((u * v.len() as f64) as usize).min(v.len() - 1)].clone(),
            AxisValues::Range {
                from, to, integer, ..
            } => number(from + (to - from) * u, *integer),
        }
    }

    /// Values checked before the sweep runs: every listed value, or the range's ends.
    fn probes(&self) -> Vec<toml::Value> {
        match &self.values {
            AxisValues::List(v) => v.clone(),
            AxisValues::Range {
                from, to, integer, ..
            } => {
                vec![number(*from, *integer), number(*to, *integer)]
            }
        }
    }
}

fn number(x: f64, integer: bool) -> toml::Value {
    if integer {
        toml::Value::Integer(x.round() as i64)
    } else {
        toml::Value::Float(x)
    }
}

/// A compiled sweep: immutable, shared by every task.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Name (output folder).
    pub name: String,
    /// The sweep file and its text.
    pub path: PathBuf,
    /// The sweep file's text.
    pub text: String,
    /// The base scenario file, its parsed table and its compiled form.
    pub base_path: PathBuf,
    base_text: String,
    base_table: toml::Table,
    /// What the variants share: the geometries and data files (see the module doc).
    shared: Arc<Shared>,
    /// The base scenario, compiled.
    pub base: Compiled,
    /// How variants are drawn.
    pub method: Method,
    /// Seed of the sampled methods.
    pub seed: u64,
    /// The axes, in file order.
    pub axes: Vec<Axis>,
    /// Total number of variants.
    pub variants: u64,
    /// Metric of sweep.svg.
    pub plot_metric: String,
    /// Default output folder: `output.dir` resolved against the sweep file's folder, or
    /// `out/<name>` relative to the working directory.
    pub out_dir: PathBuf,
    /// Set when `output.dir` is absolute or leaves the sweep file's folder: used only with
    /// `--allow-outside` (or replaced by `--out`).
    pub out_dir_outside: Option<scenario::compile::OutsideDir>,
    /// FNV-1a hash of the sweep and base texts and of the content of every data file a
    /// variant reads (the knee's model and meshes, OpenSim data): a resumed or merged
    /// output must come from the same inputs.
    pub hash: u64,
}

/// FNV-1a, 64 bit: a stable hash (std's `DefaultHasher` may change between releases).
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The sweep's hash: its text, the base's text, and each data file's path and content hash
/// (sorted, each once).
fn inputs_hash(text: &str, base_text: &str, mut files: Vec<scenario::DataFile>) -> u64 {
    files.sort();
    files.dedup();
    let mut parts: Vec<Vec<u8>> = vec![text.as_bytes().to_vec(), base_text.as_bytes().to_vec()];
    for f in &files {
        parts.push(f.path.to_string_lossy().as_bytes().to_vec());
        parts.push(f.fnv1a64.to_le_bytes().to_vec());
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    fnv1a(&refs)
}

impl Sweep {
    /// The axis values of variant `i` (in axis order).
    pub fn values(&self, i: u64) -> Vec<toml::Value> {
        match self.method {
            Method::Grid => {
                let lens: Vec<u64> = self.axes.iter().map(Axis::len).collect();
                let mut idx = vec![0; lens.len()];
                grid_index(i, &lens, &mut idx);
                self.axes.iter().zip(idx).map(|(a, k)| a.grid(k)).collect()
            }
            Method::LatinHypercube => self
                .axes
                .iter()
                .enumerate()
                .map(|(k, a)| a.at_unit(latin_hypercube(self.seed, k as u64, i, self.variants)))
                .collect(),
            Method::Random => self
                .axes
                .iter()
                .enumerate()
                .map(|(k, a)| a.at_unit(uniform(self.seed, k as u64, i)))
                .collect(),
        }
    }

    /// Compiles the scenario of variant `i` (see the module doc).
    pub fn variant(&self, i: u64) -> Result<Compiled, String> {
        let values = self.values(i);
        let pairs: Vec<(&str, toml::Value)> = self
            .axes
            .iter()
            .map(|a| a.key.as_str())
            .zip(values)
            .collect();
        self.base_with(&pairs).map_err(|e| describe(&e))
    }

    /// Compiles the scenario of variant `i` the long way: its table written out as a
    /// scenario file and read back, on fresh parts (nothing shared). The reference that
    /// [`Self::variant`] must equal; for tests and benchmarks.
    #[doc(hidden)]
    pub fn variant_via_text(&self, i: u64) -> Result<Compiled, String> {
        let pairs: Vec<(&str, toml::Value)> = self
            .axes
            .iter()
            .map(|a| a.key.as_str())
            .zip(self.values(i))
            .collect();
        via_text(&self.base_path, &self.base_table, &pairs, None).map_err(|e| describe(&e))
    }

    /// The parts the variants share (their geometry cache counts the builds).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The base with `pairs` set, compiled on the shared parts.
    fn base_with(&self, pairs: &[(&str, toml::Value)]) -> Result<Compiled, ScenarioError> {
        compile_with(
            &self.base_path,
            &self.base_text,
            &self.base_table,
            pairs,
            &self.shared,
        )
    }
}

/// The base table with `pairs` set, compiled as if it were the base file, on `shared`: the
/// table read straight into the typed scenario; on any error, [`via_text`]'s error.
fn compile_with(
    base_path: &Path,
    base_text: &str,
    base: &toml::Table,
    pairs: &[(&str, toml::Value)],
    shared: &Shared,
) -> Result<Compiled, ScenarioError> {
    match direct(base_path, base_text, base, pairs, shared) {
        Some(c) => Ok(c),
        None => via_text(base_path, base, pairs, Some(shared)),
    }
}

/// [`compile_with`]'s way for a variant that compiles: the table read straight into the
/// typed scenario. `None` on any error.
fn direct(
    base_path: &Path,
    base_text: &str,
    base: &toml::Table,
    pairs: &[(&str, toml::Value)],
    shared: &Shared,
) -> Option<Compiled> {
    let mut table = base.clone();
    for (key, value) in pairs {
        set(&mut table, key, value.clone()).ok()?;
    }
    let spec: ScenarioSpec = toml::Value::Table(table).try_into().ok()?;
    // The base's text for line numbers: they only appear in errors, which are redone.
    scenario::compile_shared(spec, base_path, base_text, shared).ok()
}

/// The base table with `pairs` set, written out as TOML and compiled as if it were the base
/// file: the path whose errors a variant reports (a parse error names the key and its range
/// from the text). On `shared` parts when given (a geometry's error is the same either way).
fn via_text(
    base_path: &Path,
    base: &toml::Table,
    pairs: &[(&str, toml::Value)],
    shared: Option<&Shared>,
) -> Result<Compiled, ScenarioError> {
    let mut table = base.clone();
    for (key, value) in pairs {
        set(&mut table, key, value.clone()).map_err(|message| ScenarioError::Invalid {
            path: base_path.into(),
            line: 1,
            key: (*key).into(),
            message,
        })?;
    }
    let text = toml::to_string(&table).map_err(|e| ScenarioError::Invalid {
        path: base_path.into(),
        line: 1,
        key: String::new(),
        message: e.to_string(),
    })?;
    let spec = scenario::parse(base_path, &text)?;
    match shared {
        Some(shared) => scenario::compile_shared(spec, base_path, &text, shared),
        None => scenario::compile(spec, base_path, &text),
    }
}

/// Whether sweeping `key` can change the knee's geometry ([`GEOMETRY_KEYS`]).
pub fn touches_geometry(key: &str) -> bool {
    GEOMETRY_KEYS.contains(&key)
}

/// How many geometries the variants of `s` share: the base's, and every distinct geometry
/// its geometry axes can give when they give a finite number of them (lists, grid ranges),
/// up to [`MAX_SHARED_GEOMETRIES`]. A sampled range of a geometry key gives each variant a
/// geometry of its own: nothing to share beyond the base.
fn shared_geometries(s: &super::spec::SweepSection) -> usize {
    let mut distinct: u64 = 1;
    for a in s.axis.iter().filter(|a| touches_geometry(a.key.trim())) {
        let n = match (&a.values, a.steps, s.method) {
            (Some(v), _, _) => v.len() as u64,
            (None, Some(n), Method::Grid) => n,
            _ => 0,
        };
        distinct = distinct.saturating_mul(n);
    }
    1 + distinct.min(MAX_SHARED_GEOMETRIES) as usize
}

/// Sets a dotted key in a TOML table, creating sections as needed.
fn set(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().filter(|l| !l.is_empty()).ok_or("is empty")?;
    let mut t = table;
    for p in parts {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{p}` is a value, not a section"))?;
    }
    t.insert(last.to_string(), value);
    Ok(())
}

/// A scenario error without the (meaningless for a variant) file and line.
pub fn describe(e: &ScenarioError) -> String {
    match e {
        ScenarioError::Range {
            key,
            value,
            min,
            max,
            unit,
            ..
        } => format!(
            "{key} = {} is out of range: allowed {min} to {max}{unit}",
            scenario::show_number(*value)
        ),
        ScenarioError::Parse { message, .. } => message.clone(),
        ScenarioError::Invalid { key, message, .. } if key.is_empty() => message.clone(),
        ScenarioError::Invalid { key, message, .. } => format!("{key}: {message}"),
        other => other.to_string(),
    }
}

/// 1-based line of the `k`-th `[[sweep.axis]]` (its `key =` line when present).
fn axis_line(text: &str, k: usize) -> usize {
    let mut seen = 0;
    let mut header = None;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with("[[") && t.trim_matches(['[', ']', ' ']) == "sweep.axis" {
            if header.is_some() {
                break;
            }
            if seen == k {
                header = Some(i + 1);
            }
            seen += 1;
            continue;
        }
        if header.is_some() {
            if t.starts_with('[') {
                break;
            }
            if t.split('=').next().map(str::trim) == Some("key") {
                return i + 1;
            }
        }
    }
    header.unwrap_or_else(|| scenario::locate(text, "sweep.axis"))
}

/// Reads, parses and compiles a sweep file.
pub fn load_sweep(path: &Path) -> Result<Sweep, SweepError> {
    let text = crate::input::read_text(path, crate::input::MAX_SCENARIO_BYTES, "sweep file")
        .map_err(|source| SweepError::Read {
            path: path.into(),
            source,
        })?;
    let spec: SweepSpec = toml::from_str(&text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|s| scenario::line_col(&text, s.start))
            .unwrap_or((1, 1));
        SweepError::Parse {
            path: path.into(),
            line,
            column,
            message: e.message().trim().replace('\n', " "),
        }
    })?;
    compile_sweep(spec, path, text)
}

/// Checks a parsed sweep (see the module doc).
pub fn compile_sweep(spec: SweepSpec, path: &Path, text: String) -> Result<Sweep, SweepError> {
    let s = &spec.sweep;
    let invalid = |line: usize, key: &str, message: String| SweepError::Invalid {
        path: path.into(),
        line,
        key: key.into(),
        message,
    };
    let line_of = |k: &str| scenario::locate(&text, k);
    if s.base.trim().is_empty() {
        return Err(invalid(
            line_of("sweep.base"),
            "sweep.base",
            "is missing: name the base scenario file (relative to this sweep file)".into(),
        ));
    }
    let base_path = path.parent().unwrap_or(Path::new("")).join(&s.base);
    let (base_spec, base_text) = scenario::load(&base_path)?;
    let base_table: toml::Table = toml::from_str(&base_text).map_err(|e| SweepError::Parse {
        path: base_path.clone(),
        line: 1,
        column: 1,
        message: e.message().to_string(),
    })?;
    // The base compiles on the parts its variants share: its geometry is theirs.
    let shared = Arc::new(Shared::new(shared_geometries(s)));
    let base = scenario::compile_shared(base_spec, &base_path, &base_text, &shared)?;
    let resolved = toml::Table::try_from(&base.spec).unwrap_or_default();

    if s.axis.is_empty() {
        return Err(invalid(
            line_of("sweep"),
            "sweep.axis",
            "no axes: add at least one [[sweep.axis]] with a key and values (or from/to)".into(),
        ));
    }
    let sampled = s.method != Method::Grid;
    let mut axes = Vec::new();
    // Every data file a variant may read: the base's, and those an axis value names.
    let mut data_files = base.data_files.clone();
    for (k, a) in s.axis.iter().enumerate() {
        let line = axis_line(&text, k);
        let key = a.key.trim();
        let bad = |m: String| invalid(line, &format!("sweep.axis[{k}]"), m);
        if key.is_empty() {
            return Err(bad("has no key (e.g. key = \"muscles.vmo\")".into()));
        }
        if axes.iter().any(|b: &Axis| b.key == key) {
            return Err(bad(format!("`{key}` is swept twice")));
        }
        let integer = matches!(lookup(&resolved, key), Some(toml::Value::Integer(_)));
        let values = match (&a.values, a.from, a.to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(bad(format!(
                    "`{key}`: give either values or from/to, not both"
                )))
            }
            (Some(v), None, None) if v.is_empty() => {
                return Err(bad(format!("`{key}`: the axis is empty (values = [])")))
            }
            (Some(v), None, None) => {
                if a.steps.is_some() {
                    return Err(bad(format!("`{key}`: steps goes with from/to, not values")));
                }
                AxisValues::List(v.clone())
            }
            (None, Some(from), Some(to)) => {
                if !from.is_finite() || !to.is_finite() {
                    return Err(bad(format!("`{key}`: from and to must be finite numbers")));
                }
                match (sampled, a.steps) {
                    (false, None) => {
                        return Err(bad(format!(
                        "`{key}`: a grid range needs steps (the number of values, ends included)"
                    )))
                    }
                    (false, Some(0)) => {
                        return Err(bad(format!(
                            "`{key}`: steps = 0 makes the axis empty; allowed 1 to 1000000"
                        )))
                    }
                    (true, Some(_)) => {
                        return Err(bad(format!(
                        "`{key}`: steps is for method = \"grid\"; {:?} draws from the whole range",
                        s.method
                    )))
                    }
                    _ => {}
                }
                AxisValues::Range {
                    from,
                    to,
                    steps: a.steps,
                    integer,
                }
            }
            _ => {
                return Err(bad(format!(
                    "`{key}`: give values = [..] or from = .., to = .. (with steps for a grid)"
                )))
            }
        };
        let axis = Axis {
            key: key.to_string(),
            line,
            values,
        };
        // Each value alone on the base: an unknown key, a wrong type or a value out of
        // range stops the sweep here. Values that only clash with the base's other values
        // (`Invalid`, e.g. a groove too deep for its facet angles) may work with other axis
        // values, so they are left to the variants (failed rows).
        for v in axis.probes() {
            match compile_with(
                &base_path,
                &base_text,
                &base_table,
                &[(key, v.clone())],
                &shared,
            ) {
                Ok(c) => data_files.extend(c.data_files),
                Err(ScenarioError::Invalid { .. }) => {}
                Err(e) => {
                    return Err(SweepError::Axis {
                        path: path.into(),
                        line,
                        key: key.into(),
                        value: show(&v),
                        message: describe(&e),
                    })
                }
            }
        }
        axes.push(axis);
    }

    let variants = match (s.method, s.samples) {
        (Method::Grid, Some(_)) => {
            return Err(invalid(
                line_of("sweep.samples"),
                "sweep.samples",
                "is for latin_hypercube and random; a grid runs every combination".into(),
            ))
        }
        (Method::Grid, None) => axes
            .iter()
            .try_fold(1u64, |acc, a| acc.checked_mul(a.len()))
            .unwrap_or(u64::MAX),
        (_, None) | (_, Some(0)) => {
            return Err(invalid(
                line_of("sweep.samples"),
                "sweep.samples",
                format!("{:?} needs samples ≥ 1 (the number of variants)", s.method),
            ))
        }
        (_, Some(n)) => n,
    };
    let plot_metric = s.plot.clone().unwrap_or_else(|| DEFAULT_PLOT_METRIC.into());
    if !super::table::METRICS.iter().any(|m| m.0 == plot_metric) {
        return Err(invalid(
            line_of("sweep.plot"),
            "sweep.plot",
            format!(
                "`{plot_metric}` is not a metric; one of: {}",
                super::table::METRICS
                    .iter()
                    .map(|m| m.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let folder = scenario::compile::output_folder(
        s.name.as_deref(),
        path,
        "sweep",
        spec.output.dir.as_deref(),
        line_of("output.dir"),
    )
    .map_err(|m| {
        if m.starts_with("output.dir") {
            invalid(line_of("output.dir"), "output.dir", m)
        } else {
            invalid(line_of("sweep.name"), "sweep.name", m)
        }
    })?;
    Ok(Sweep {
        name: folder.name,
        out_dir_outside: folder.outside,
        hash: inputs_hash(&text, &base_text, data_files),
        path: path.into(),
        text,
        base_path,
        base_text,
        base_table,
        shared,
        base,
        method: s.method,
        seed: s.seed,
        axes,
        variants,
        plot_metric,
        out_dir: folder.dir,
    })
}

fn lookup<'a>(t: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let (section, field) = key.split_once('.')?;
    t.get(section)?.as_table()?.get(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variants of the shipped sweeps compile the direct way (no TOML text written per
    /// variant), on the geometry the sweep already holds.
    #[test]
    fn shipped_variants_compile_without_text() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps");
        for name in ["vmo_q_angle.toml", "trochlea_tt_tg.toml"] {
            let sw = load_sweep(&dir.join(name)).unwrap();
            let builds = sw.shared.geometry.builds();
            for i in 0..sw.variants {
                let values = sw.values(i);
                let pairs: Vec<(&str, toml::Value)> =
                    sw.axes.iter().map(|a| a.key.as_str()).zip(values).collect();
                let compiled = direct(
                    &sw.base_path,
                    &sw.base_text,
                    &sw.base_table,
                    &pairs,
                    &sw.shared,
                );
                assert!(compiled.is_some(), "{name}: variant {i}");
            }
            // Every geometry was built while the sweep was checked (its axis values).
            assert_eq!(sw.shared.geometry.builds(), builds, "{name}");
        }
    }

    #[test]
    fn geometry_axes_size_the_shared_geometries() {
        let spec = |axes: &str, method: &str| -> super::super::spec::SweepSection {
            let s: SweepSpec =
                toml::from_str(&format!("[sweep]\nbase = \"b\"\n{method}\n{axes}")).unwrap();
            s.sweep
        };
        let vmo = "[[sweep.axis]]\nkey = \"muscles.vmo\"\nfrom = 0.1\nto = 1.0\nsteps = 50\n";
        let depth =
            "[[sweep.axis]]\nkey = \"subject.trochlear_depth_mm\"\nvalues = [3.0, 4.0, 5.0]\n";
        let side = "[[sweep.axis]]\nkey = \"subject.side\"\nvalues = [\"left\", \"right\"]\n";
        let sampled =
            "[[sweep.axis]]\nkey = \"subject.sulcus_angle_deg\"\nfrom = 130.0\nto = 145.0\n";
        assert_eq!(shared_geometries(&spec(vmo, "")), 2);
        assert_eq!(
            shared_geometries(&spec(&format!("{vmo}{depth}{side}"), "")),
            7
        );
        assert_eq!(
            shared_geometries(&spec(
                &format!("{depth}{sampled}"),
                "method = \"random\"\nsamples = 9"
            )),
            1
        );
        let wide = "[[sweep.axis]]\nkey = \"subject.tt_tg_mm\"\nfrom = 0.0\nto = 1.0\nsteps = 3\n[[sweep.axis]]\nkey = \"subject.patella_width_mm\"\nfrom = 35.0\nto = 50.0\nsteps = 1000\n";
        assert_eq!(
            shared_geometries(&spec(wide, "")),
            1 + MAX_SHARED_GEOMETRIES as usize
        );
    }
}
