//! The one table of every scenario key: dotted name, default, allowed values, unit and a
//! one-line meaning ([`KEYS`]).
//!
//! Everything that states a key's range reads it here: the range checks of
//! [`compile`](super::compile()) look their bounds up by key name ([`bounds`]), a parse
//! error on a numeric key quotes them, `kneetrack keys` prints the table, and README's
//! scenario reference is its markdown ([`markdown`]; a test fails when the README differs).
//! Conditions that relate two keys (`flexion.to_deg` ≥ `flexion.from_deg`, a step rate
//! within ±20 % of the preferred one, …) are checked by hand in `compile`; the table states
//! them in [`KeySpec::note`]. The physics behind each model default is documented where the
//! parameter lives (`params.rs`); the table's line is the short user-facing meaning.

/// What values a key takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowed {
    /// A number from `min` to `max`, both included.
    Number {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A whole number from `min` to `max`, both included.
    Integer {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A list of numbers, each from `min` to `max`.
    Each {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// One of these words (a TOML string).
    OneOf(&'static [&'static str]),
    /// A non-empty list of these words.
    SomeOf(&'static [&'static str]),
    /// Text; what it must be.
    Text(&'static str),
}

/// A key's value when the file does not give it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyDefault {
    /// This TOML value (a test checks that it is serde's default).
    Value(&'static str),
    /// Worked out when the key is absent (the anatomy's own value, the file name, …); the
    /// text says how.
    Derived(&'static str),
}

/// One scenario key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeySpec {
    /// Dotted name, `section.field` (`flexion.from_deg`).
    pub key: &'static str,
    /// Value when absent.
    pub default: KeyDefault,
    /// Allowed values.
    pub allowed: Allowed,
    /// Conditions beyond [`KeySpec::allowed`] (other keys, the data), shown after the
    /// range; empty for none.
    pub note: &'static str,
    /// Unit of the value as range errors name it (`degrees`, `N·m`); empty for none.
    pub unit: &'static str,
    /// What the key does, in one line.
    pub doc: &'static str,
}

impl KeySpec {
    /// The `[section]` the key is written in.
    pub fn section(&self) -> &'static str {
        self.key.split_once('.').map_or(self.key, |(s, _)| s)
    }

    /// The key's name inside its section.
    pub fn field(&self) -> &'static str {
        self.key.split_once('.').map_or(self.key, |(_, f)| f)
    }

    /// Inclusive bounds of a numeric key (a number, a whole number or a list of numbers).
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match self.allowed {
            Allowed::Number { min, max }
            | Allowed::Integer { min, max }
            | Allowed::Each { min, max } => Some((min, max)),
            _ => None,
        }
    }

    /// The default as the table shows it (a string value in backticks for markdown).
    fn default_cell(&self, markdown: bool) -> String {
        match self.default {
            KeyDefault::Value(v) if markdown && v.starts_with('"') => format!("`{v}`"),
            KeyDefault::Value(v) | KeyDefault::Derived(v) => v.to_string(),
        }
    }

    /// The allowed values as the table shows them, with the note.
    pub fn range_text(&self) -> String {
        let words = |w: &[&str]| {
            w.iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let range = match self.allowed {
            Allowed::Number { min, max } | Allowed::Integer { min, max } => {
                format!("{} to {}", show_bound(min), show_bound(max))
            }
            Allowed::Each { min, max } => {
                format!("each {} to {}", show_bound(min), show_bound(max))
            }
            Allowed::OneOf(w) => words(w),
            Allowed::SomeOf(w) => format!("one or more of {}", words(w)),
            Allowed::Text(t) => t.to_string(),
        };
        if self.note.is_empty() {
            range
        } else {
            format!("{range}; {}", self.note)
        }
    }

    const fn with_note(self, note: &'static str) -> Self {
        KeySpec { note, ..self }
    }

    const fn derived(self, how: &'static str) -> Self {
        KeySpec {
            default: KeyDefault::Derived(how),
            ..self
        }
    }
}

/// A bound as the table shows it: plain, or in exponent form when very large or small
/// (`1e-6`, `1e6`).
pub fn show_bound(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

const fn num(
    key: &'static str,
    default: &'static str,
    min: f64,
    max: f64,
    unit: &'static str,
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        key,
        default: KeyDefault::Value(default),
        allowed: Allowed::Number { min, max },
        note: "",
        unit,
        doc,
    }
}

const fn int(
    key: &'static str,
    default: &'static str,
    min: f64,
    max: f64,
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        allowed: Allowed::Integer { min, max },
        ..num(key, default, min, max, "", doc)
    }
}

const fn each(
    key: &'static str,
    default: &'static str,
    min: f64,
    max: f64,
    unit: &'static str,
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        allowed: Allowed::Each { min, max },
        ..num(key, default, min, max, unit, doc)
    }
}

const fn one_of(
    key: &'static str,
    default: &'static str,
    words: &'static [&'static str],
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        key,
        default: KeyDefault::Value(default),
        allowed: Allowed::OneOf(words),
        note: "",
        unit: "",
        doc,
    }
}

const fn text(
    key: &'static str,
    default: &'static str,
    what: &'static str,
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        allowed: Allowed::Text(what),
        ..one_of(key, default, &[], doc)
    }
}

const DEG: &str = "degrees";

/// The sections of a scenario file, in the order the table lists them.
pub const SECTIONS: &[&str] = &[
    "scenario",
    "anatomy",
    "subject",
    "cartilage",
    "muscles",
    "ligaments",
    "itb",
    "foot",
    "mechanisms",
    "solver",
    "flexion",
    "stability",
    "gait",
    "dynamic",
    "output",
];

/// Every key a scenario file accepts, section by section (in [`SECTIONS`] order).
pub static KEYS: &[KeySpec] = &[
    // [scenario]
    text(
        "scenario.name",
        "",
        "1 to 128 characters; no `/`, `\\`, NUL or other control character; not starting with `.`",
        "names the default output folder `out/<name>`",
    )
    .derived("the file name without `.toml`"),
    one_of(
        "scenario.kind",
        "\"flexion\"",
        &["flexion", "stability", "gait", "dynamic"],
        "the experiment: a quasi-static flexion sweep, a stability test, running gait cycles, or a dynamic run (`[dynamic]`)",
    ),
    text("scenario.description", "\"\"", "any text", "echoed in summary.json"),
    // [anatomy]
    one_of(
        "anatomy.model",
        "\"lenhart2015\"",
        &["lenhart2015", "parametric"],
        "the real (mesh) knee of Lenhart 2015, or the analytic one",
    ),
    text(
        "anatomy.osim",
        "",
        "a path, relative to the scenario file",
        "your OpenSim-JAM knee model (`.osim`, meshes beside it or in `Geometry/`); a mesh knee",
    )
    .derived("none"),
    one_of(
        "anatomy.tibiofemoral",
        "",
        &["seated", "coupled", "hinge"],
        "tibial secondary motion: Walker 1988's rotation with the other coordinates solved from the knee's own contact and ligaments (`seated`), the whole Walker coupling as in Rajagopal 2016 (`coupled`), or a fixed axis (`hinge`); see *The model*",
    )
    .derived("the knee's: `seated` (mesh knee with a tibial contact mesh), `coupled` (mesh knee without), `hinge` (parametric)"),
    // [subject]
    num("subject.body_mass_kg", "70", 20.0, 250.0, "kg", "body mass: body-weight (BW) outputs, the gait cycle's moments"),
    one_of(
        "subject.side",
        "\"right\"",
        &["right", "left"],
        "which knee; left mirrors the model, outputs stay anatomical",
    ),
    num(
        "subject.q_angle_deg",
        "14",
        -10.0,
        40.0,
        DEG,
        "Q-angle, measured against a normal tuberosity (TT-TG 11.6 mm)",
    ),
    num(
        "subject.tt_tg_mm",
        "11.6",
        -5.0,
        35.0,
        "mm",
        "tuberosity lateral of the groove; raises the effective Q-angle",
    ),
    num(
        "subject.insall_salvati",
        "1.2",
        0.6,
        2.0,
        "",
        "tendon length / patella height (alta > 1.2)",
    ),
    num(
        "subject.sulcus_angle_deg",
        "138",
        110.0,
        175.0,
        DEG,
        "angle between the trochlear facet lines (mesh knee: morphed†)",
    ),
    num(
        "subject.trochlear_depth_mm",
        "5.5",
        0.3,
        10.0,
        "mm",
        "mean crest height above the groove floor, mid-trochlea (mesh knee: morphed†)",
    )
    .with_note("and at most what the facets allow"),
    num(
        "subject.lateral_trochlear_inclination_deg",
        "20",
        0.0,
        45.0,
        DEG,
        "lateral facet slope (mesh knee: morphed†)",
    ),
    num(
        "subject.patella_width_mm",
        "44",
        30.0,
        60.0,
        "mm",
        "articular width (parametric*)",
    ),
    num(
        "subject.patella_height_mm",
        "34.4",
        25.0,
        50.0,
        "mm",
        "bone height; the articular height is 0.87 × (parametric*)",
    ),
    num(
        "subject.patella_thickness_mm",
        "22",
        15.0,
        30.0,
        "mm",
        "antero-posterior thickness including cartilage (parametric*)",
    ),
    num(
        "subject.lateral_facet_fraction",
        "0.58",
        0.4,
        0.8,
        "",
        "facet split: share of the articular width lateral of the ridge (parametric*)",
    ),
    // [cartilage]
    num(
        "cartilage.modulus_mpa",
        "",
        0.5,
        100.0,
        "MPa",
        "Young's modulus E of the elastic foundation",
    )
    .derived("the knee's: 5 (Lenhart model file), 10 (parametric)"),
    num("cartilage.poisson", "", 0.0, 0.49, "", "Poisson's ratio ν")
        .derived("the knee's: 0.45"),
    num(
        "cartilage.thickness_mm",
        "",
        0.5,
        10.0,
        "mm",
        "a constant combined thickness h, overriding the measured layers",
    )
    .derived("the knee's: measured per element (mesh), 3 (parametric)"),
    one_of(
        "cartilage.law",
        "\"linear\"",
        &["linear", "log"],
        "pressure law: p = k·d (Bei & Fregly 2004) or logarithmic (Blankevoort 1991)",
    ),
    num(
        "cartilage.element_size_mm",
        "1",
        0.3,
        3.0,
        "mm",
        "patella element size (1 mm ≈ 1,040 elements); a mesh knee's elements are its triangles (parametric*)",
    ),
    // [muscles]
    num("muscles.rf", "1", 0.0, 3.0, "", "rectus femoris strength factor (1 normal, 0 unloaded)"),
    num("muscles.vi", "1", 0.0, 3.0, "", "vastus intermedius strength factor"),
    num("muscles.vl", "1", 0.0, 3.0, "", "vastus lateralis strength factor (also scales the VLO)"),
    num("muscles.vml", "1", 0.0, 3.0, "", "vastus medialis longus strength factor"),
    num("muscles.vmo", "1", 0.0, 3.0, "", "vastus medialis obliquus strength factor (weakness < 1)"),
    num("muscles.glute_med", "1", 0.0, 3.0, "", "gluteus medius strength factor (gait)"),
    num(
        "muscles.rf_tightness",
        "0",
        0.0,
        1.0,
        "",
        "rectus femoris tightness: 0 normal … 1 severe (gait)",
    ),
    num(
        "muscles.biceps_femoris_tightness",
        "0",
        0.0,
        1.0,
        "",
        "biceps femoris tightness: 0 normal … 1 severe (gait)",
    ),
    // [ligaments]
    num("ligaments.mpfl", "1", 0.0, 5.0, "", "MPFL stiffness scale (0 = cut, > 1 = tight)"),
    num(
        "ligaments.lateral_retinaculum",
        "1",
        0.0,
        5.0,
        "",
        "lateral retinaculum stiffness scale (0 = cut, > 1 = tight)",
    ),
    num(
        "ligaments.patellar_tendon",
        "1",
        0.0,
        5.0,
        "",
        "patellar tendon stiffness scale (0 = ruptured: the solve does not converge)",
    ),
    // [itb]
    num("itb.tension_n", "0", 0.0, 1000.0, "N", "static IT-band tension"),
    num(
        "itb.patellar_fraction",
        "0.2",
        0.0,
        1.0,
        "",
        "share of the tension reaching the lateral patella (iliopatellar band)",
    ),
    num(
        "itb.stiffness_scale",
        "1",
        0.0,
        10.0,
        "",
        "× the band's path stiffness, 20 N/mm (gait)",
    ),
    // [foot]
    num(
        "foot.pronation_deg",
        "0",
        -15.0,
        20.0,
        DEG,
        "extra rearfoot eversion in stance (gait)",
    ),
    // [mechanisms]
    num(
        "mechanisms.glute_med_share",
        "0.65",
        0.0,
        1.0,
        "",
        "gluteus medius share of the stance hip-abductor moment (Ward 2009)",
    ),
    num(
        "mechanisms.tfl_compensation",
        "0.3",
        0.0,
        1.0,
        "",
        "share of a gluteus-medius deficit the TFL takes over, pulling on the IT band (assumption)",
    ),
    num(
        "mechanisms.tfl_moment_arm_mm",
        "45",
        10.0,
        100.0,
        "mm",
        "TFL hip-abduction moment arm (assumption)",
    ),
    num(
        "mechanisms.hip_frontal_stiffness_nm_per_kg_deg",
        "0.1",
        0.01,
        10.0,
        "N·m/kg/deg",
        "hip frontal-plane stiffness against an uncompensated abductor deficit (calibrated)",
    ),
    num(
        "mechanisms.femoral_ir_per_adduction",
        "1",
        0.0,
        3.0,
        "",
        "femoral internal rotation per degree of extra hip adduction",
    ),
    num(
        "mechanisms.rotation_transfer",
        "1",
        0.0,
        1.0,
        "",
        "share of extra femoral internal rotation seen as tibial external rotation at the knee in stance",
    ),
    num(
        "mechanisms.pronation_tibial_coupling",
        "0.68",
        0.0,
        2.0,
        "",
        "tibial internal rotation per degree of extra rearfoot eversion",
    ),
    num(
        "mechanisms.pronation_femoral_follow",
        "1",
        0.0,
        3.0,
        "",
        "femoral internal rotation per degree of pronation-driven tibial rotation (assumption)",
    ),
    num(
        "mechanisms.itb_adduction_arm_mm",
        "40",
        0.0,
        100.0,
        "mm",
        "IT-band lengthening per radian of hip adduction (assumption)",
    ),
    num(
        "mechanisms.itb_rotation_arm_mm",
        "10",
        0.0,
        50.0,
        "mm",
        "IT-band lengthening per radian of hip internal rotation (assumption)",
    ),
    num(
        "mechanisms.rf_slack_knee_deg",
        "110",
        30.0,
        160.0,
        DEG,
        "knee flexion (neutral hip) where a normal rectus femoris starts to pull (assumption)",
    ),
    num(
        "mechanisms.rf_tightness_shift_deg",
        "40",
        0.0,
        90.0,
        DEG,
        "how far `muscles.rf_tightness = 1` moves that onset (assumption)",
    ),
    num(
        "mechanisms.bf_slack_hip_deg",
        "35",
        -10.0,
        90.0,
        DEG,
        "hip flexion (straight knee) where a normal biceps femoris starts to pull (assumption)",
    ),
    num(
        "mechanisms.bf_tightness_shift_deg",
        "35",
        0.0,
        90.0,
        DEG,
        "how far `muscles.biceps_femoris_tightness = 1` moves that onset (assumption)",
    ),
    num(
        "mechanisms.knee_rotation_stiffness_nm_per_deg",
        "0.5",
        0.05,
        20.0,
        "N·m/deg",
        "knee rotational stiffness against the biceps femoris' external-rotation moment (assumption)",
    ),
    num(
        "mechanisms.quadriceps_floor_nm",
        "2",
        0.0,
        50.0,
        "N·m",
        "smallest knee extensor moment the quadriceps supplies (assumption)",
    ),
    // [solver]
    int(
        "solver.max_iterations",
        "60",
        1.0,
        10000.0,
        "Newton iteration limit per frame",
    ),
    num(
        "solver.force_tolerance_n",
        "0.05",
        1e-6,
        10.0,
        "N",
        "converged when the net force on the patella is below this",
    ),
    num(
        "solver.moment_tolerance_nmm",
        "2",
        1e-6,
        1000.0,
        "N·mm",
        "… and the net moment (and the extensor-moment error) below this",
    ),
    // [flexion]
    num("flexion.from_deg", "0", -5.0, 140.0, DEG, "first knee flexion angle"),
    num("flexion.to_deg", "90", -5.0, 140.0, DEG, "last knee flexion angle")
        .with_note("at least `from_deg`"),
    num("flexion.step_deg", "10", 0.5, 45.0, DEG, "angle step"),
    each(
        "flexion.angles_deg",
        "",
        -5.0,
        140.0,
        DEG,
        "explicit angles (override from/to/step)",
    )
    .with_note("increasing")
    .derived("none"),
    num(
        "flexion.quadriceps_n",
        "",
        0.0,
        10000.0,
        "N",
        "total quadriceps force: one value, or one per angle",
    )
    .derived("400 if no extensor moment"),
    num(
        "flexion.extensor_moment_nm",
        "",
        0.0,
        400.0,
        "N·m",
        "knee extensor moment, one value or one per angle; the quadriceps scale is solved (exclusive with `quadriceps_n`)",
    )
    .derived("none"),
    num(
        "flexion.tibial_rotation_deg",
        "0",
        -30.0,
        30.0,
        DEG,
        "tibial internal rotation held through the sweep",
    ),
    num(
        "flexion.varus_deg",
        "0",
        -15.0,
        15.0,
        DEG,
        "varus (+) / valgus (-) held through the sweep",
    ),
    text(
        "flexion.secondary_kinematics",
        "",
        "a `.mot`/`.sto` path (relative to the scenario file) whose `knee_flex_r` covers every angle",
        "measured tibiofemoral secondary motion per angle (see *Measured secondary motion*)",
    )
    .derived("none"),
    // [stability]
    each(
        "stability.flexion_deg",
        "[0, 30, 60, 90]",
        -5.0,
        120.0,
        DEG,
        "knee flexion angles",
    )
    .with_note("at least one"),
    num(
        "stability.displacement_mm",
        "10",
        0.5,
        25.0,
        "mm",
        "displacement from the loaded neutral position",
    ),
    one_of(
        "stability.direction",
        "\"lateral\"",
        &["lateral", "medial", "both"],
        "which way the patella is displaced",
    ),
    num(
        "stability.quadriceps_n",
        "175",
        0.0,
        3000.0,
        "N",
        "total quadriceps force (Senavongse & Amis 2005)",
    ),
    // [gait]
    num(
        "gait.speed_mps",
        "3.5",
        1.5,
        8.0,
        "m/s",
        "running speed: sets the preferred step rate and the steps per km",
    ),
    num(
        "gait.step_rate_spm",
        "",
        120.0,
        240.0,
        "steps/min",
        "step rate of both legs (exclusive with `step_rate_change_pct`)",
    )
    .with_note("within ±20 % of the preferred rate")
    .derived("the preferred rate at this speed"),
    num(
        "gait.step_rate_change_pct",
        "",
        -20.0,
        20.0,
        "%",
        "step rate against the preferred rate at this speed",
    )
    .derived("0"),
    num(
        "gait.slope_pct",
        "0",
        -30.0,
        30.0,
        "%",
        "grade (negative downhill); built-in cycle only",
    ),
    int(
        "gait.frames_per_cycle",
        "100",
        10.0,
        2000.0,
        "frames per cycle",
    ),
    int("gait.cycles", "1", 1.0, 1000.0, "number of cycles (run in parallel)"),
    text(
        "gait.kinematics",
        "\"builtin\"",
        "`builtin` or a `.mot` path (relative to the scenario file)",
        "the built-in cycle, or an OpenSim IK file",
    ),
    text(
        "gait.kinetics",
        "",
        "a `.sto` path (relative to the scenario file)",
        "OpenSim ID file (with OpenSim kinematics); without it the extensor moment is estimated",
    )
    .derived("none"),
    one_of(
        "gait.knee_sign",
        "\"auto\"",
        &["auto", "flexion_positive", "flexion_negative"],
        "knee-angle sign of the OpenSim file: Rajagopal 2016 is +, gait2392 (Hamner 2010) is -",
    ),
    each(
        "gait.cycle_starts_s",
        "",
        0.0,
        1.0e6,
        "s",
        "foot-strike times in the OpenSim kinematics file",
    )
    .with_note("at least two, increasing, inside the file, 0.4 to 2 s apart")
    .derived("detected from the knee angle"),
    num(
        "gait.stance_hip_adduction_deg",
        "0",
        -15.0,
        15.0,
        DEG,
        "extra hip adduction in stance",
    ),
    num(
        "gait.stance_hip_rotation_deg",
        "0",
        -20.0,
        20.0,
        DEG,
        "extra hip internal rotation in stance",
    ),
    // [dynamic]
    one_of(
        "dynamic.case",
        "\"pulse\"",
        &["pulse", "ramp", "gait"],
        "a force pulse, a force ramp to dislocation, or the `[gait]` section's cycles in real time",
    ),
    num(
        "dynamic.flexion_deg",
        "30",
        -5.0,
        120.0,
        DEG,
        "knee flexion of the pulse and ramp (held)",
    ),
    num(
        "dynamic.quadriceps_n",
        "175",
        0.0,
        3000.0,
        "N",
        "quadriceps force of the pulse and ramp (Senavongse & Amis 2005's stability load)",
    ),
    one_of(
        "dynamic.direction",
        "\"lateral\"",
        &["lateral", "medial"],
        "direction of the applied force",
    ),
    num("dynamic.force_n", "100", 0.0, 2000.0, "N", "pulse force"),
    num(
        "dynamic.onset_s",
        "0.02",
        0.0,
        10.0,
        "s",
        "time the pulse or ramp starts",
    ),
    num("dynamic.pulse_s", "0.02", 0.0005, 1.0, "s", "pulse duration"),
    num(
        "dynamic.ramp_n_per_s",
        "1000",
        1.0,
        100000.0,
        "N/s",
        "ramp rate",
    ),
    num(
        "dynamic.ramp_max_n",
        "600",
        1.0,
        5000.0,
        "N",
        "force at which the ramp stops rising",
    ),
    num(
        "dynamic.duration_s",
        "",
        0.001,
        10.0,
        "s",
        "simulated time (gait: the first `duration_s` of the cycles)",
    )
    .with_note("at most 5,000,000 steps of `dt_s`")
    .derived("0.2 (pulse, ramp); the cycles (gait)"),
    num(
        "dynamic.initial_shift_mm",
        "0",
        -15.0,
        15.0,
        "mm",
        "release the patella this far lateral of its equilibrium",
    ),
    one_of(
        "dynamic.integrator",
        "\"implicit\"",
        &["implicit", "explicit"],
        "the linearly implicit midpoint rule, or rapier's symplectic Euler (the reference; see *Dynamics*)",
    ),
    num(
        "dynamic.dt_s",
        "2.5e-4",
        1e-6,
        2e-3,
        "s",
        "time step (implicit: resolve the motion; explicit: below ~1/4 of the stiffest period, 2e-5 on the real knee)",
    ),
    num(
        "dynamic.damping_per_s",
        "2000",
        0.0,
        100000.0,
        "1/s",
        "damping of the patella's motion (see *Dynamics*)",
    ),
    num(
        "dynamic.density_kg_m3",
        "1300",
        500.0,
        3000.0,
        "kg/m³",
        "patella density (mass and inertia from its bone mesh)",
    ),
    num(
        "dynamic.output_hz",
        "1000",
        1.0,
        1.0e6,
        "Hz",
        "output samples per simulated second",
    )
    .with_note("at most 1/`dt_s`"),
    // [output]
    text(
        "output.dir",
        "",
        "relative, inside the scenario's folder: an absolute path or one that climbs out (`../..`) needs `--allow-outside`",
        "output folder, resolved against the scenario file's folder; `--out DIR` always wins",
    )
    .derived("`out/<name>` (relative to the working directory)"),
    KeySpec {
        key: "output.formats",
        default: KeyDefault::Derived("csv, json, svg (+ sto for gait)"),
        allowed: Allowed::SomeOf(&["csv", "json", "svg", "sto"]),
        note: "`sto` for gait runs only",
        unit: "",
        doc: "files to write",
    },
];

/// The key named `key`, if the table has it.
pub fn get(key: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.key == key)
}

/// Bounds and unit of a numeric key: the range its values are checked against.
pub fn bounds(key: &str) -> Option<(f64, f64, &'static str)> {
    let k = get(key)?;
    k.bounds().map(|(min, max)| (min, max, k.unit))
}

/// The keys that `filters` select, in table order: each filter is a section (`gait`) or a
/// dotted key (`gait.speed_mps`); no filter selects every key. A filter that selects
/// nothing is an error naming the sections.
pub fn select<S: AsRef<str>>(filters: &[S]) -> Result<Vec<&'static KeySpec>, String> {
    for f in filters {
        let f = f.as_ref();
        if !KEYS.iter().any(|k| k.section() == f || k.key == f) {
            return Err(format!(
                "no scenario key or section `{f}` (sections: {})",
                SECTIONS.join(", ")
            ));
        }
    }
    Ok(KEYS
        .iter()
        .filter(|k| {
            filters.is_empty()
                || filters
                    .iter()
                    .any(|f| k.section() == f.as_ref() || k.key == f.as_ref())
        })
        .collect())
}

/// The keys as one markdown table (README's scenario reference holds these tables).
pub fn markdown(keys: &[&KeySpec]) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out =
        String::from("| key | default | range | unit | meaning |\n|---|---|---|---|---|\n");
    for k in keys {
        out += &format!(
            "| `{}` | {} | {} | {} | {} |\n",
            k.key,
            cell(&k.default_cell(true)),
            cell(&k.range_text()),
            cell(k.unit),
            cell(k.doc)
        );
    }
    out
}

/// Widest default and range columns of the text table, characters (longer cells wrap).
const TEXT_COLUMN: usize = 24;
/// Width of the meaning column of the text table, characters.
const TEXT_DOC: usize = 56;

/// The keys as a plain aligned text table, a blank line between sections, long cells
/// wrapped; then what the marks `*` and `†` mean.
pub fn text_table(keys: &[&KeySpec]) -> String {
    let plain = |s: &str| s.replace('`', "");
    let rows: Vec<[String; 5]> = keys
        .iter()
        .map(|k| {
            [
                k.key.to_string(),
                plain(&k.default_cell(false)),
                plain(&k.range_text()),
                k.unit.to_string(),
                plain(k.doc),
            ]
        })
        .collect();
    let header = ["key", "default", "range", "unit", "meaning"].map(String::from);
    let width = |i: usize, cap: usize| {
        rows.iter()
            .chain([&header])
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
            .min(cap)
    };
    let widths = [
        width(0, usize::MAX),
        width(1, TEXT_COLUMN),
        width(2, TEXT_COLUMN),
        width(3, usize::MAX),
        width(4, TEXT_DOC),
    ];
    let mut out = String::new();
    let line = |cells: &[String; 5], out: &mut String| {
        let wrapped: Vec<Vec<String>> = cells.iter().zip(widths).map(|(c, w)| wrap(c, w)).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for i in 0..height {
            let mut l = String::new();
            for (j, col) in wrapped.iter().enumerate() {
                let c = col.get(i).map_or("", String::as_str);
                l += c;
                if j + 1 < wrapped.len() {
                    l += &" ".repeat(widths[j].saturating_sub(c.chars().count()) + 2);
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        }
    };
    line(&header, &mut out);
    let mut section = None;
    for (k, r) in keys.iter().zip(&rows) {
        if section.is_some_and(|s| s != k.section()) {
            out.push('\n');
        }
        section = Some(k.section());
        line(r, &mut out);
    }
    let marked = |m: &str| keys.iter().any(|k| k.doc.contains(m));
    if marked("parametric*") || marked("†") {
        out.push('\n');
    }
    if marked("parametric*") {
        out += "* parametric knee only: on a mesh knee the key must keep its default.\n";
    }
    if marked("†") {
        out += "† on a mesh knee the groove is morphed to the value (one trochlear key at a time; README, Scenario reference).\n";
    }
    out
}

/// `s` in lines of at most `width` characters, broken at spaces (a longer word gets a line
/// of its own).
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in s.split(' ') {
        let last = lines.last_mut().expect("one line at least");
        let n = last.chars().count();
        if n == 0 {
            last.push_str(word);
        } else if n + 1 + word.chars().count() <= width {
            last.push(' ');
            last.push_str(word);
        } else {
            lines.push(word.to_string());
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::scenario::{compile, parse, ScenarioError, ScenarioSpec};

    /// A parametric scenario (no mesh to load) with `field = value` in `[section]` (as it
    /// is written when the key is `anatomy.model`).
    fn scenario(key: &KeySpec, value: &str) -> String {
        let line = format!("{} = {value}\n", key.field());
        match key.section() {
            "anatomy" if key.field() == "model" => format!("[anatomy]\n{line}"),
            "anatomy" => format!("[anatomy]\nmodel = \"parametric\"\n{line}"),
            s => format!("[anatomy]\nmodel = \"parametric\"\n[{s}]\n{line}"),
        }
    }

    fn parsed(key: &KeySpec, value: &str) -> Result<ScenarioSpec, ScenarioError> {
        parse(Path::new("keys.toml"), &scenario(key, value))
    }

    fn compiled(key: &KeySpec, value: &str) -> Result<(), ScenarioError> {
        let text = scenario(key, value);
        let spec = parse(Path::new("keys.toml"), &text)
            .unwrap_or_else(|e| panic!("{}: {value} does not parse: {e}", key.key));
        compile(spec, Path::new("keys.toml"), &text).map(|_| ())
    }

    /// The table lists each key once, section by section in [`SECTIONS`] order, and exactly
    /// the keys serde accepts: every field of every section (defaults included, `None` ones
    /// as null) is a row, and every row is a field.
    #[test]
    fn the_table_lists_exactly_the_keys_serde_accepts() {
        let json = serde_json::to_value(ScenarioSpec::default()).unwrap();
        let mut fields = BTreeSet::new();
        for (section, table) in json.as_object().unwrap() {
            for field in table.as_object().unwrap().keys() {
                fields.insert(format!("{section}.{field}"));
            }
        }
        let table: BTreeSet<String> = KEYS.iter().map(|k| k.key.to_string()).collect();
        assert_eq!(table.len(), KEYS.len(), "a key is listed twice");
        let missing: Vec<_> = fields.difference(&table).collect();
        let extra: Vec<_> = table.difference(&fields).collect();
        assert!(
            missing.is_empty(),
            "serde accepts keys the table lacks: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "the table lists keys serde refuses: {extra:?}"
        );
        let order: Vec<usize> = KEYS
            .iter()
            .map(|k| {
                SECTIONS
                    .iter()
                    .position(|s| *s == k.section())
                    .unwrap_or_else(|| panic!("{}: section not in SECTIONS", k.key))
            })
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] <= w[1]),
            "keys out of section order"
        );
        assert_eq!(json.as_object().unwrap().len(), SECTIONS.len());
    }

    /// Each row's kind of value is the one serde reads (a number, a whole number, a list of
    /// numbers, free text or a word), each default is serde's default, and each word list is
    /// serde's (a word serde reads but the table leaves out is refused by `compile`).
    #[test]
    fn each_rows_type_default_and_words_are_serdes() {
        let default = ScenarioSpec::default();
        let json = serde_json::to_value(&default).unwrap();
        for k in KEYS {
            let reads = |v: &str| parsed(k, v).is_ok();
            let kind = if reads("1.5") {
                "number"
            } else if reads("1") {
                "integer"
            } else if reads("[1.5]") {
                "each"
            } else if reads("\"x\"") {
                "text"
            } else {
                "words"
            };
            let table_kind = match k.allowed {
                Allowed::Number { .. } => "number",
                Allowed::Integer { .. } => "integer",
                Allowed::Each { .. } => "each",
                Allowed::Text(_) => "text",
                Allowed::OneOf(_) | Allowed::SomeOf(_) => "words",
            };
            assert_eq!(kind, table_kind, "{}: serde reads a {kind}", k.key);

            let serde_default = &json[k.section()][k.field()];
            match k.default {
                KeyDefault::Value(v) => {
                    let text = format!("[{}]\n{} = {v}\n", k.section(), k.field());
                    let spec = parse(Path::new("keys.toml"), &text)
                        .unwrap_or_else(|e| panic!("{}: default {v} does not parse: {e}", k.key));
                    assert!(spec == default, "{}: {v} is not serde's default", k.key);
                }
                KeyDefault::Derived(how) => assert!(
                    serde_default.is_null(),
                    "{}: serde's default is {serde_default}, the table says `{how}`",
                    k.key
                ),
            }

            let (words, quote): (&[&str], fn(&str) -> String) = match k.allowed {
                Allowed::OneOf(w) => (w, |w| format!("\"{w}\"")),
                Allowed::SomeOf(w) => (w, |w| format!("[\"{w}\"]")),
                _ => continue,
            };
            for w in words {
                assert!(reads(&quote(w)), "{}: serde refuses `{w}`", k.key);
            }
            let e = parsed(k, &quote("no_such_word")).unwrap_err().to_string();
            let expected = e.split("expected").nth(1).unwrap_or_else(|| panic!("{e}"));
            let serde_words: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            assert!(!serde_words.is_empty(), "{e}");
            for w in words {
                assert!(
                    serde_words.contains(w),
                    "{}: serde does not know `{w}`: {e}",
                    k.key
                );
            }
            for w in serde_words.iter().filter(|w| !words.contains(w)) {
                match compiled(k, &quote(w)) {
                    Err(ScenarioError::Invalid { key, .. }) if key == k.key => {}
                    other => panic!("{}: serde reads `{w}`, compile gives {other:?}", k.key),
                }
            }
        }
    }

    /// Every numeric key is range-checked with the table's bounds and unit, whatever the
    /// scenario's kind: NaN, a value above the maximum and one below the minimum are each a
    /// range error naming the key (so a row without a check, or a check with other bounds,
    /// fails here).
    #[test]
    fn every_numeric_key_is_checked_against_its_row() {
        let mut checked = 0;
        for k in KEYS {
            let Some((min, max)) = k.bounds() else {
                continue;
            };
            let step = max.abs().max(min.abs()).max(1.0) * 0.5;
            let integer = matches!(k.allowed, Allowed::Integer { .. });
            let mut values = vec![(max + step, true)];
            if integer {
                values = vec![(max + 1.0, true)];
                if min >= 1.0 {
                    values.push((min - 1.0, true));
                }
            } else {
                values.push((min - step, true));
                values.push((f64::NAN, false));
            }
            for (x, bounded) in values {
                let shown = if x.is_nan() {
                    "nan".to_string()
                } else if integer {
                    format!("{}", x as i64)
                } else {
                    format!("{x:?}")
                };
                let shown = match k.allowed {
                    Allowed::Each { .. } => format!("[{shown}]"),
                    _ => shown,
                };
                match compiled(k, &shown) {
                    Err(ScenarioError::Range {
                        key,
                        min: m0,
                        max: m1,
                        unit,
                        ..
                    }) if key == k.key => {
                        if bounded {
                            // One key's maximum narrows with another's value (at most one
                            // output sample per step): the message names the bound that holds.
                            let max = if k.key == "dynamic.output_hz" {
                                max.min(1.0 / crate::dynamics::DEFAULT_DT_S)
                            } else {
                                max
                            };
                            assert_eq!((m0, m1), (min, max), "{}: the check's bounds", k.key);
                        }
                        assert_eq!(unit.trim(), k.unit, "{}: the check's unit", k.key);
                    }
                    other => panic!("{} = {shown}: expected a range error, got {other:?}", k.key),
                }
            }
            checked += 1;
        }
        assert!(checked > 70, "{checked} numeric keys");
    }

    /// Every key `compile` checks by name is a numeric row of the table (a missing one would
    /// panic at run time).
    #[test]
    fn every_key_compile_names_is_a_numeric_row() {
        let source = include_str!("compile.rs");
        let mut n = 0;
        for call in ["check(\"", "within(\"", "numeric_key(\""] {
            for (i, _) in source.match_indices(call) {
                let rest = &source[i + call.len()..];
                let key = &rest[..rest.find('"').unwrap()];
                assert!(
                    bounds(key).is_some(),
                    "compile.rs checks `{key}`: no numeric row"
                );
                n += 1;
            }
        }
        assert!(n > 30, "{n} checks found");
    }

    /// The texts that quote a constant of the code quote its value.
    #[test]
    fn texts_quote_the_codes_constants() {
        use crate::params::{DEFAULT_POISSON, PARAMETRIC_MODULUS_MPA, PARAMETRIC_THICKNESS_MM};
        use crate::scenario::compile::{
            DEFAULT_DURATION_S, DEFAULT_QUADRICEPS_N, MAX_DYNAMIC_STEPS, MAX_NAME_CHARS,
        };
        let text = |key: &str| {
            let k = get(key).unwrap();
            format!("{} {} {}", k.default_cell(false), k.range_text(), k.doc)
        };
        let quotes = |key: &str, what: String| {
            assert!(
                text(key).contains(&what),
                "{key}: `{what}` not in {}",
                text(key)
            );
        };
        quotes("scenario.name", format!("1 to {MAX_NAME_CHARS} characters"));
        quotes(
            "dynamic.duration_s",
            format!("{DEFAULT_DURATION_S} (pulse, ramp)"),
        );
        assert_eq!(MAX_DYNAMIC_STEPS, 5.0e6);
        quotes("dynamic.duration_s", "at most 5,000,000 steps".into());
        quotes(
            "flexion.quadriceps_n",
            format!("{DEFAULT_QUADRICEPS_N} if no"),
        );
        quotes(
            "cartilage.modulus_mpa",
            format!("{PARAMETRIC_MODULUS_MPA} (parametric)"),
        );
        quotes(
            "cartilage.thickness_mm",
            format!("{PARAMETRIC_THICKNESS_MM} (parametric)"),
        );
        quotes("cartilage.poisson", format!("{DEFAULT_POISSON}"));
        quotes(
            "itb.stiffness_scale",
            format!("{} N/mm", crate::gait::mechanisms::ITB_STIFFNESS_N_PER_MM),
        );
    }

    /// The markdown has one row of five cells per key; the text table names every key;
    /// a filter that matches nothing is an error.
    #[test]
    fn markdown_and_text_tables_list_every_key() {
        let all = select::<&str>(&[]).unwrap();
        assert_eq!(all.len(), KEYS.len());
        let md = markdown(&all);
        let rows: Vec<&str> = md.lines().skip(2).collect();
        assert_eq!(rows.len(), KEYS.len());
        for (row, k) in rows.iter().zip(KEYS) {
            assert!(row.starts_with(&format!("| `{}` |", k.key)), "{row}");
            let cells = row.replace("\\|", "").matches('|').count();
            assert_eq!(cells, 6, "{row}");
        }
        let text = text_table(&all);
        for k in KEYS {
            assert!(text.lines().any(|l| l.starts_with(k.key)), "{}", k.key);
        }
        assert_eq!(select(&["gait"]).unwrap().len(), 12);
        assert_eq!(select(&["gait.speed_mps", "foot"]).unwrap().len(), 2);
        assert!(select(&["gaits"])
            .unwrap_err()
            .contains("sections: scenario"));
    }
}
