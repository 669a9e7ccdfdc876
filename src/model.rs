//! The immutable `Model` (anatomy, geometry, contact law, tissues), shared across threads,
//! and the per-run `Data` scratch (MuJoCo's mjModel / mjData split).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use nalgebra::{Isometry3, Matrix3, Rotation3, Translation3, UnitQuaternion};
use serde::Serialize;

use crate::anatomy::landmarks::{Landmarks, LigamentLine};
use crate::anatomy::mesh_knee::{mesh_knee, FileHash, MeshKnee};
use crate::anatomy::passive_tf::PassiveEnvelope;
use crate::anatomy::{self, HEADS};
use crate::contact::ContactLaw;
use crate::geometry::trochlear_morph;
use crate::geometry::{
    FemoralSurface, FemurGeometry, MeshFemurInfo, PatellaMesh, TrochleaError, TrochleaReport,
    TrochlearKey,
};
use crate::math::{rot_x, Vec3};
use crate::params::{
    AnatomyModel, ModelParams, Side, Subject, Tibiofemoral, DEFAULT_POISSON,
    PARAMETRIC_MODULUS_MPA, PARAMETRIC_THICKNESS_MM,
};
use crate::step::QuadLoad;
use crate::tissues::{Anchor, ConstantLine, Ligament, QuadHead};

/// Patellar tendon linear stiffness of the parametric knee, N/mm (in vivo 1.5–4.5 kN/mm,
/// e.g. Hansen et al. 2006; the middle of that range). A mesh knee takes its model file's
/// bundles. Its exact value barely matters: the tendon is far stiffer than the joint's
/// other restraints.
pub const PT_STIFFNESS_N_PER_MM: f64 = 2000.0;
/// MPFL complex stiffness of the parametric knee, N/mm (DESIGN.md: about 42.5 N/mm; failure
/// about 145 N).
pub const MPFL_STIFFNESS_N_PER_MM: f64 = 42.5;
/// Lateral retinaculum / lateral PF ligament stiffness of the parametric knee, N/mm. A model
/// assumption: chosen about half the MPFL, since the lateral retinaculum contributes roughly
/// half as much restraint to medial displacement as the MPFL does to lateral (Desio et al.
/// 1998 report the lateral retinaculum contributing ~10 % and the MPFL ~53–60 % of their
/// respective restraints).
pub const LATERAL_RETINACULUM_STIFFNESS_N_PER_MM: f64 = 20.0;
/// Blankevoort (1991) toe-region transition strain.
pub const TRANSITION_STRAIN: f64 = 0.03;

/// Why a model could not be built (after range checks, only geometry can disagree).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// Trochlear parameters do not fit together; names the key to change.
    #[error("{key}: {source}")]
    Trochlea {
        /// The dotted scenario key to change.
        key: &'static str,
        /// Which trochlear parameters disagree, and the allowed range.
        #[source]
        source: TrochleaError,
    },
    /// The knee's model file or meshes could not be used; names the key that chose them.
    #[error("{message}")]
    Knee {
        /// The dotted scenario key (`anatomy.osim`, `anatomy.model`, …).
        key: &'static str,
        /// What is wrong, naming the file.
        message: String,
    },
    /// A key that acts on the parametric knee only was set for a mesh knee, or a trochlear
    /// request its morph cannot reach (names the reachable range).
    #[error("{message}")]
    Unsupported {
        /// The dotted scenario key.
        key: &'static str,
        /// Why it cannot be used here, and what to do.
        message: String,
    },
}

/// What knee a model was built on (echoed in summary.json).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KneeDescription {
    /// `lenhart2015`, `parametric`, or `osim` (a user's model file).
    pub model: String,
    /// The model file, when there is one.
    pub osim: Option<String>,
    /// Input files and their FNV-1a 64 hashes.
    pub files: Vec<FileHash>,
    /// Patella contact elements.
    pub elements: usize,
    /// Tibiofemoral motion (`seated`, `coupled` or `hinge`).
    pub tibiofemoral: Tibiofemoral,
    /// With `seated`: the solved envelope (right-knee coordinates per flexion angle, each
    /// row's residual and convergence).
    pub seated_envelope: Option<PassiveEnvelope>,
    /// Contact modulus in use, MPa.
    pub modulus_mpa: f64,
    /// Contact Poisson's ratio in use.
    pub poisson: f64,
    /// Area-weighted mean patellar layer thickness in use, mm (with the femoral one, the
    /// foundation's combined layer; the parametric knee puts all of it on the patella).
    pub mean_patella_thickness_mm: f64,
    /// Area-weighted mean femoral layer thickness in use, mm (0 on the parametric knee).
    pub mean_femur_thickness_mm: f64,
    /// The knee's own TT-TG at extension, mm (before `subject.tt_tg_mm` moves the tuberosity).
    pub own_tt_tg_mm: f64,
    /// Where the iliopatellar band's anchor came from.
    pub itb_source: String,
    /// Time to build the geometry in this process (0 when it came from the cache), s.
    pub build_seconds: f64,
    /// The quadriceps pull (N) under which the patella was seated at full extension once,
    /// with the geometry, to start every loaded run from ([`SEATING_QUADRICEPS_N`]);
    /// `None` when that solve did not converge and loaded runs start from the model
    /// file's pose too.
    pub seated_start_n: Option<f64>,
    /// A mesh knee's trochlea as measured (sulcus angle, depth, lateral inclination at
    /// mid-trochlea), and the morph that realises a requested trochlear key with its
    /// realised values; `None` for the parametric knee (its keys are realised exactly).
    pub trochlea: Option<TrochleaReport>,
}

/// Everything fixed for a knee. Built once by [`Model::new`]; read-only afterwards.
#[derive(Debug, Clone)]
pub struct Model {
    /// The parameters this model was built from (echoed in outputs).
    pub params: ModelParams,
    /// Which knee.
    pub side: Side,
    /// +1 right, −1 left: femur-frame Z of the lateral direction.
    pub lat: f64,
    /// Body weight, N.
    pub body_weight_n: f64,
    /// Femoral articular surface.
    pub femur: FemurGeometry,
    /// Patella contact elements (shared by the models of one geometry, see
    /// [`GeometryCache`]).
    pub patella: Arc<PatellaMesh>,
    /// Pressure law.
    pub law: ContactLaw,
    /// Tibiofemoral motion.
    pub tibiofemoral: Tibiofemoral,
    /// The seated envelope (right knee) when `tibiofemoral` is `Seated`.
    pub envelope: Option<PassiveEnvelope>,
    /// Quadriceps heads in the order rf, vi, vl, vlo, vml, vmo.
    pub heads: Vec<QuadHead>,
    /// Patellar tendon (anchor: tibial tuberosity).
    pub patellar_tendon: Ligament,
    /// Medial patellofemoral ligament.
    pub mpfl: Ligament,
    /// Lateral retinaculum.
    pub lateral_retinaculum: Ligament,
    /// Iliopatellar band (constant tension = ITB tension × patellar fraction).
    pub itb_band: ConstantLine,
    /// The extended-knee patella pose of the knee's landmarks (femur_from_patella): the
    /// model file's default pose, where nothing is stretched. It places the quadriceps
    /// heads' lines, and a run without quadriceps load starts from it
    /// ([`Model::start_pose`]).
    pub patella_rest: Isometry3<f64>,
    /// The geometry's patella seated at full extension under [`SEATING_QUADRICEPS_N`]
    /// (femur_from_patella; [`KneeGeometry`]): where a loaded run starts.
    pub patella_seated: Option<Isometry3<f64>>,
    /// Frontal-plane Q-angle the model actually has at full extension with its tuberosity,
    /// degrees (equals `subject.q_angle_deg` at the reference TT-TG).
    pub q_angle_effective_deg: f64,
    /// The mesh knee this model was built on (bones for the viewer), if any.
    pub mesh: Option<Arc<MeshKnee>>,
    /// What knee this is, for outputs.
    pub knee: KneeDescription,
    /// A hash of the parameters, for the summary's model echo.
    pub hash: u64,
}

/// Frontal-plane angle (+ lateral, degrees) of a direction going proximally, right knee.
fn frontal_deg(u: &Vec3) -> f64 {
    u.z.atan2(u.y).to_degrees()
}

/// The parametric knee's landmarks: the Lenhart-derived constants of [`crate::anatomy`],
/// with the patella points scaled by the subject's patella size about the patella origin.
fn parametric_landmarks(s: &Subject) -> Landmarks {
    let [t0, h0, w0] = anatomy::PATELLA_REF_SIZE;
    let scale = Vec3::new(
        s.patella_thickness_mm / t0,
        s.patella_height_mm / h0,
        s.patella_width_mm / w0,
    );
    let on_patella = |p: [f64; 3]| anatomy::to_patella_frame(p).component_mul(&scale);
    let line = |far: [f64; 3], patella: [f64; 3], slack_mm: f64, k: f64| LigamentLine {
        far: Vec3::from(far),
        patella: on_patella(patella),
        slack_mm,
        stiffness_n_per_mm: k,
    };
    let mut tub = anatomy::TIBIAL_TUBEROSITY;
    tub[2] = anatomy::GROOVE_Z_MM + Subject::default().tt_tg_mm;
    Landmarks {
        patella_rest: Isometry3::from_parts(
            Translation3::from(Vec3::from(anatomy::PATELLA_ORIGIN)),
            UnitQuaternion::identity(),
        ),
        patellar_tendon: line(
            tub,
            anatomy::PT_PATELLA,
            Subject::default().insall_salvati * s.patella_height_mm
                + anatomy::PT_LINE_MINUS_CLINICAL_MM,
            PT_STIFFNESS_N_PER_MM,
        ),
        mpfl: line(
            anatomy::MPFL_FEMUR,
            anatomy::MPFL_PATELLA,
            anatomy::MPFL_SLACK_MM,
            MPFL_STIFFNESS_N_PER_MM,
        ),
        lateral_retinaculum: line(
            anatomy::LPFL_FEMUR,
            anatomy::LPFL_PATELLA,
            anatomy::LPFL_SLACK_MM,
            LATERAL_RETINACULUM_STIFFNESS_N_PER_MM,
        ),
        itb_anchor: Vec3::from(anatomy::ITB_PATELLAR_ANCHOR),
        itb_patella: on_patella(anatomy::ITB_PATELLA),
        head_insertions: std::array::from_fn(|i| on_patella(HEADS[i].insertion)),
        // The first design's straight lines (its validated results were calibrated so).
        head_wraps: [None; 6],
        groove_z: anatomy::GROOVE_Z_MM,
        own_tt_tg_mm: Subject::default().tt_tg_mm,
        itb_source: "kneetrack's Lenhart-derived default",
    }
}

/// The trochlear keys a mesh knee realises with its trochlear morph
/// ([`crate::geometry::trochlear_morph`]): those set away from their defaults.
fn trochlear_requests(s: &Subject) -> Vec<(TrochlearKey, f64)> {
    let d = Subject::default();
    [
        (
            TrochlearKey::SulcusAngle,
            s.sulcus_angle_deg,
            d.sulcus_angle_deg,
        ),
        (
            TrochlearKey::Depth,
            s.trochlear_depth_mm,
            d.trochlear_depth_mm,
        ),
        (
            TrochlearKey::LateralInclination,
            s.lateral_trochlear_inclination_deg,
            d.lateral_trochlear_inclination_deg,
        ),
    ]
    .into_iter()
    .filter(|(_, v, d)| v != d)
    .map(|(k, v, _)| (k, v))
    .collect()
}

/// Keys that shape the parametric knee only; on a mesh knee they must keep their defaults
/// (the mesh patella is not morphed: say so, never ignore).
fn parametric_only(p: &ModelParams) -> Option<(&'static str, f64)> {
    let (s, d) = (&p.subject, Subject::default());
    [
        (
            "subject.patella_width_mm",
            s.patella_width_mm,
            d.patella_width_mm,
        ),
        (
            "subject.patella_height_mm",
            s.patella_height_mm,
            d.patella_height_mm,
        ),
        (
            "subject.patella_thickness_mm",
            s.patella_thickness_mm,
            d.patella_thickness_mm,
        ),
        (
            "subject.lateral_facet_fraction",
            s.lateral_facet_fraction,
            d.lateral_facet_fraction,
        ),
        (
            "cartilage.element_size_mm",
            p.cartilage.element_size_mm,
            1.0,
        ),
    ]
    .into_iter()
    .find(|(_, v, d)| v != d)
    .map(|(k, v, _)| (k, v))
}

/// The scenario keys a knee's geometry is built from (see [`KneeGeometry`]): which knee and
/// side, its tibiofemoral mode (a seated knee's solved envelope), the trochlear shape, the
/// parametric patella and its elements, and a constant layer thickness. Every other key —
/// muscles, ligaments, ITB, Q-angle, TT-TG, Insall–Salvati, body mass, material, solver —
/// acts on a model built on the same geometry. A unit test holds this list and
/// [`GeometryKey::of`] together.
pub const GEOMETRY_KEYS: [&str; 13] = [
    "anatomy.model",
    "anatomy.osim",
    "anatomy.tibiofemoral",
    "subject.side",
    "subject.sulcus_angle_deg",
    "subject.trochlear_depth_mm",
    "subject.lateral_trochlear_inclination_deg",
    "subject.patella_width_mm",
    "subject.patella_height_mm",
    "subject.patella_thickness_mm",
    "subject.lateral_facet_fraction",
    "cartilage.element_size_mm",
    "cartilage.thickness_mm",
];

/// The values of [`GEOMETRY_KEYS`] in a set of parameters: parameters with equal keys build
/// the same [`KneeGeometry`] (numbers compared bit for bit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GeometryKey {
    model: AnatomyModel,
    osim: Option<String>,
    tibiofemoral: Option<Tibiofemoral>,
    side: Side,
    /// Trochlear shape, parametric patella, element size (as bits).
    numbers: [u64; 8],
    /// `cartilage.thickness_mm` (as bits).
    thickness_mm: Option<u64>,
}

impl GeometryKey {
    /// The geometry keys of `p`.
    pub fn of(p: &ModelParams) -> Self {
        let s = &p.subject;
        Self {
            model: p.anatomy.model,
            osim: p.anatomy.osim.clone(),
            tibiofemoral: p.anatomy.tibiofemoral,
            side: s.side,
            numbers: [
                s.sulcus_angle_deg,
                s.trochlear_depth_mm,
                s.lateral_trochlear_inclination_deg,
                s.patella_width_mm,
                s.patella_height_mm,
                s.patella_thickness_mm,
                s.lateral_facet_fraction,
                p.cartilage.element_size_mm,
            ]
            .map(f64::to_bits),
            thickness_mm: p.cartilage.thickness_mm.map(f64::to_bits),
        }
    }
}

/// The part of a model that only [`GEOMETRY_KEYS`] decide: the knee (a mesh knee from the
/// process-wide cache), the femoral surface (with a trochlear morph when one is asked for),
/// the patella's contact elements, the landmarks, the seated envelope, and what the summary
/// says about them. Building it is most of [`Model::new`]'s work (reading and hashing the
/// model file, meshing or copying and mirroring the patella, its patches and ridge,
/// measuring or fitting the trochlea); a sweep builds it once per distinct geometry and
/// shares it ([`GeometryCache`]).
#[derive(Debug)]
pub struct KneeGeometry {
    mesh: Option<Arc<MeshKnee>>,
    tibiofemoral: Tibiofemoral,
    envelope: Option<PassiveEnvelope>,
    femur: FemurGeometry,
    patella: Arc<PatellaMesh>,
    marks: Landmarks,
    /// The anatomy's own modulus (MPa) and Poisson's ratio (when the scenario sets none).
    own_modulus_mpa: f64,
    own_poisson: f64,
    /// Mean layer of the patella elements, mm, and the femoral layer's share (0 or 1).
    h_mean: f64,
    femoral_layer: f64,
    /// The knee's description; its modulus and Poisson's ratio are the model's to fill.
    description: KneeDescription,
    /// The patella seated at full extension ([`KneeGeometry::seat`]), femur_from_patella.
    seated: Option<Isometry3<f64>>,
}

impl KneeGeometry {
    /// Builds the geometry of `params` (only its [`GEOMETRY_KEYS`] are read). The errors
    /// are [`Model::new`]'s, in its order.
    pub fn build(params: &ModelParams) -> Result<Self, ModelError> {
        let s = &params.subject;
        let lat = s.side.lateral_sign();
        let a = &params.anatomy;
        let mesh = match (a.model, &a.osim) {
            (AnatomyModel::Parametric, Some(_)) => {
                return Err(ModelError::Knee {
                    key: "anatomy.osim",
                    message: "a model file gives a mesh knee: remove anatomy.model = \"parametric\" or anatomy.osim".into(),
                })
            }
            (AnatomyModel::Parametric, None) => None,
            (_, osim) => Some(
                mesh_knee(osim.as_deref().map(Path::new)).map_err(|e| ModelError::Knee {
                    key: if osim.is_some() { "anatomy.osim" } else { "anatomy.model" },
                    message: e.0,
                })?,
            ),
        };
        if let (Some(_), Some((key, value))) = (&mesh, parametric_only(params)) {
            return Err(ModelError::Unsupported {
                key,
                message: format!(
                    "{value} shapes the parametric knee's patella only; set anatomy.model = \"parametric\" to use it (a mesh knee's patella is its own mesh and is not morphed)"
                ),
            });
        }
        let c = &params.cartilage;
        let tibiofemoral = a.tibiofemoral.unwrap_or(match &mesh {
            Some(k) if k.tibia.is_some() => Tibiofemoral::Seated,
            Some(_) => Tibiofemoral::Coupled,
            None => Tibiofemoral::Hinge,
        });
        let envelope = match (tibiofemoral, &mesh) {
            (Tibiofemoral::Seated, None) => {
                return Err(ModelError::Unsupported {
                    key: "anatomy.tibiofemoral",
                    message: "anatomy.tibiofemoral = \"seated\" solves the tibia on its cartilage and ligaments, which the parametric knee does not have: use \"coupled\" or \"hinge\"".into(),
                })
            }
            (Tibiofemoral::Seated, Some(k)) => Some(
                k.passive_envelope()
                    .map_err(|message| ModelError::Knee {
                        key: "anatomy.tibiofemoral",
                        message,
                    })?
                    .clone(),
            ),
            _ => None,
        };
        let mut geometry = match &mesh {
            None => {
                let femur = FemoralSurface::new(
                    s.sulcus_angle_deg,
                    s.lateral_trochlear_inclination_deg,
                    s.trochlear_depth_mm,
                    lat,
                )
                .map_err(|source| ModelError::Trochlea {
                    key: match source {
                        TrochleaError::NoMedialFacet { .. } => "subject.sulcus_angle_deg",
                        TrochleaError::TooDeep { .. } => "subject.trochlear_depth_mm",
                    },
                    source,
                })?;
                let h = c.thickness_mm.unwrap_or(PARAMETRIC_THICKNESS_MM);
                let patella = PatellaMesh::new(
                    s.patella_width_mm,
                    s.patella_height_mm,
                    s.patella_thickness_mm,
                    s.lateral_facet_fraction,
                    c.element_size_mm,
                    h,
                    lat,
                );
                let marks = parametric_landmarks(s);
                let description = KneeDescription {
                    model: "parametric".into(),
                    osim: None,
                    files: vec![],
                    elements: patella.len(),
                    tibiofemoral,
                    seated_envelope: envelope.clone(),
                    modulus_mpa: PARAMETRIC_MODULUS_MPA,
                    poisson: DEFAULT_POISSON,
                    mean_patella_thickness_mm: h,
                    mean_femur_thickness_mm: 0.0,
                    own_tt_tg_mm: marks.own_tt_tg_mm,
                    itb_source: marks.itb_source.into(),
                    build_seconds: 0.0,
                    seated_start_n: None,
                    trochlea: None,
                };
                KneeGeometry {
                    mesh: None,
                    tibiofemoral,
                    envelope,
                    femur: FemurGeometry::Parametric(Arc::new(femur)),
                    patella: Arc::new(patella),
                    marks,
                    own_modulus_mpa: PARAMETRIC_MODULUS_MPA,
                    own_poisson: DEFAULT_POISSON,
                    h_mean: h,
                    femoral_layer: 0.0,
                    description,
                    seated: None,
                }
            }
            Some(k) => {
                let marks = Landmarks::from_mesh_knee(k).map_err(|m| ModelError::Knee {
                    key: "anatomy.model",
                    message: m,
                })?;
                let (thick, femoral_layer) = match c.thickness_mm {
                    Some(h) => (vec![h; k.patella_thickness_mm.len()], 0.0),
                    None => (k.patella_thickness_mm.clone(), 1.0),
                };
                let mirrored: Vec<[f64; 3]> = k
                    .patella_vertices
                    .iter()
                    .map(|v| [v[0], v[1], lat * v[2]])
                    .collect();
                let patella = PatellaMesh::from_triangles(
                    &mirrored,
                    &k.patella_triangles,
                    &thick,
                    lat,
                    &k.patella_patches,
                );
                let h_mean = thick.iter().sum::<f64>() / thick.len().max(1) as f64;
                let info = MeshFemurInfo {
                    lat,
                    groove_z: marks.groove_z,
                };
                // The field is the right knee's: its groove lies at the anatomical z.
                let (femur, trochlea) = match trochlear_requests(s)[..] {
                    [] => (
                        FemurGeometry::Mesh(Arc::clone(&k.femur), info),
                        trochlear_morph::measure_native(&k.femur, marks.groove_z).map(|m| {
                            TrochleaReport {
                                section_deg: trochlear_morph::SECTION_DEG,
                                native: m,
                                requested_key: None,
                                requested_value: None,
                                morph_amplitude_mm: 0.0,
                                realised: m,
                                reachable: None,
                            }
                        }),
                    ),
                    [(key, value)] => {
                        let (morph, report) =
                            trochlear_morph::fit(&k.femur, marks.groove_z, key, value)
                                .map_err(|message| ModelError::Unsupported {
                                    key: key.key(),
                                    message,
                                })?;
                        (
                            FemurGeometry::MeshMorphed(Arc::clone(&k.femur), info, Arc::new(morph)),
                            Some(report),
                        )
                    }
                    [(first, _), (second, _), ..] => {
                        return Err(ModelError::Unsupported {
                            key: second.key(),
                            message: format!(
                                "a mesh knee's trochlear morph realises one trochlear key at a time ({} is already set; the others are measured and reported in summary.json knee.trochlea); set only one, or use anatomy.model = \"parametric\" to set sulcus angle, depth and lateral inclination together",
                                first.key()
                            ),
                        })
                    }
                };
                let description = KneeDescription {
                    model: if a.osim.is_some() {
                        "osim"
                    } else {
                        "lenhart2015"
                    }
                    .into(),
                    osim: Some(k.osim_path.display().to_string()),
                    files: k.files.clone(),
                    elements: patella.len(),
                    tibiofemoral,
                    seated_envelope: envelope.clone(),
                    modulus_mpa: k.modulus_mpa,
                    poisson: k.poisson,
                    mean_patella_thickness_mm: if c.thickness_mm.is_some() {
                        h_mean
                    } else {
                        k.mean_patella_thickness_mm
                    },
                    mean_femur_thickness_mm: femoral_layer * k.mean_femur_thickness_mm,
                    own_tt_tg_mm: marks.own_tt_tg_mm,
                    itb_source: marks.itb_source.into(),
                    build_seconds: k.build_seconds,
                    seated_start_n: None,
                    trochlea,
                };
                KneeGeometry {
                    mesh: Some(Arc::clone(k)),
                    tibiofemoral,
                    envelope,
                    femur,
                    patella: Arc::new(patella),
                    marks,
                    own_modulus_mpa: k.modulus_mpa,
                    own_poisson: k.poisson,
                    h_mean,
                    femoral_layer,
                    description,
                    seated: None,
                }
            }
        };
        geometry.seat(params);
        Ok(geometry)
    }

    /// Seats the patella once, for every model on this geometry: the equilibrium at full
    /// extension under [`SEATING_QUADRICEPS_N`] with the default soft tissues (the
    /// parameters' geometry keys, every other key at its default: the pose is the
    /// geometry's alone, so a variant run in a sweep or on its own starts from the same
    /// one). From the model file's pose, where nothing is stretched, a loaded patella flexes
    /// ≈ 12° and rises ≈ 2 mm into the groove: the hardest solve of a run (a running
    /// cycle's first, under its light first load, took 34 of the cycle's 385 contact
    /// evaluations). Loaded runs walk from the seated pose instead ([`Model::start_pose`]).
    fn seat(&mut self, params: &ModelParams) {
        let model = Model::on(&seating_params(params), self);
        let mut data = Data::new(&model);
        let input = crate::step::FrameInput::new(
            crate::step::KneeAngles::default(),
            QuadLoad::Force(SEATING_QUADRICEPS_N),
        );
        let r = crate::step::step(&model, &input, &mut data);
        self.seated = r.status.converged().then_some(r.femur_from_patella);
        self.description.seated_start_n = self.seated.map(|_| SEATING_QUADRICEPS_N);
    }
}

/// Quadriceps pull (N) under which a geometry's patella is seated at full extension to
/// start every loaded run ([`KneeGeometry::seat`]). Firm enough that the seating solve
/// converges quickly (on the Lenhart knee 18 contact evaluations at 100 N, 37 at 50 N),
/// light enough to leave the patella where a lightly loaded knee has it (a running
/// cycle's first frames pull with 45–100 N).
pub const SEATING_QUADRICEPS_N: f64 = 100.0;

/// The parameters that seat a geometry's patella: `p`'s geometry keys
/// ([`GEOMETRY_KEYS`]), every other key at its default.
fn seating_params(p: &ModelParams) -> ModelParams {
    let s = &p.subject;
    ModelParams {
        anatomy: p.anatomy.clone(),
        subject: Subject {
            side: s.side,
            sulcus_angle_deg: s.sulcus_angle_deg,
            trochlear_depth_mm: s.trochlear_depth_mm,
            lateral_trochlear_inclination_deg: s.lateral_trochlear_inclination_deg,
            patella_width_mm: s.patella_width_mm,
            patella_height_mm: s.patella_height_mm,
            patella_thickness_mm: s.patella_thickness_mm,
            lateral_facet_fraction: s.lateral_facet_fraction,
            ..Subject::default()
        },
        cartilage: crate::params::Cartilage {
            element_size_mm: p.cartilage.element_size_mm,
            thickness_mm: p.cartilage.thickness_mm,
            ..Default::default()
        },
        ..ModelParams::default()
    }
}

/// Geometries built once and shared, by [`GeometryKey`]: every model asked of the cache
/// with the same geometry keys gets the same femoral surface and patella elements (`Arc`
/// clones) and the same landmarks and description. A sweep holds one: its variants differ
/// in keys that mostly do not touch geometry, and rebuilding it per variant was most of a
/// variant's compile. At most `capacity` geometries are kept (a sweep sizes it to the
/// distinct geometries its axes can give); a geometry beyond them is built for its model
/// alone. Two threads asking for the same new geometry build it once (the second waits).
#[derive(Debug)]
pub struct GeometryCache {
    capacity: usize,
    cells: Mutex<HashMap<GeometryKey, GeometryCell>>,
    builds: AtomicUsize,
}

type GeometryCell = Arc<OnceLock<Result<Arc<KneeGeometry>, ModelError>>>;

impl GeometryCache {
    /// An empty cache that keeps at most `capacity` geometries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            cells: Mutex::new(HashMap::new()),
            builds: AtomicUsize::new(0),
        }
    }

    /// The geometry of `params`: the cached one, or built now (and kept while there is
    /// room). A geometry that cannot be built gives the same error each time it is asked.
    pub fn get(&self, params: &ModelParams) -> Result<Arc<KneeGeometry>, ModelError> {
        let key = GeometryKey::of(params);
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            match cells.get(&key) {
                Some(cell) => Some(Arc::clone(cell)),
                None if cells.len() < self.capacity => {
                    let cell = GeometryCell::default();
                    cells.insert(key, Arc::clone(&cell));
                    Some(cell)
                }
                None => None,
            }
        };
        let build = || {
            self.builds.fetch_add(1, Ordering::Relaxed);
            KneeGeometry::build(params).map(Arc::new)
        };
        match cell {
            Some(cell) => cell.get_or_init(build).clone(),
            None => build(),
        }
    }

    /// Geometries built through this cache so far (kept or not).
    pub fn builds(&self) -> usize {
        self.builds.load(Ordering::Relaxed)
    }
}

impl Model {
    /// Builds a model. Parameters are assumed range-checked (see `scenario::compile`); the
    /// anatomy's files are read (once per process, then shared) for a mesh knee.
    pub fn new(params: &ModelParams) -> Result<Self, ModelError> {
        Ok(Self::on(params, &KneeGeometry::build(params)?))
    }

    /// [`Model::new`] on the geometry `cache` holds for these parameters (built and kept on
    /// first use): the same model, without rebuilding a geometry the cache already has.
    pub fn new_shared(params: &ModelParams, cache: &GeometryCache) -> Result<Self, ModelError> {
        let geometry = cache.get(params)?;
        Ok(Self::on(params, &geometry))
    }

    /// The model of `params` on `g`, the geometry of the same parameters: the tissues, the
    /// Q-angle placement, the contact law — what the non-geometry keys set.
    fn on(params: &ModelParams, g: &KneeGeometry) -> Self {
        let s = &params.subject;
        let side = s.side;
        let lat = side.lateral_sign();
        let mirror = |v: Vec3| Vec3::new(v.x, v.y, lat * v.z);
        let c = &params.cartilage;
        let e = c.modulus_mpa.unwrap_or(g.own_modulus_mpa);
        let nu = c.poisson.unwrap_or(g.own_poisson);
        let law = ContactLaw::new(c.law, e, nu, g.h_mean, g.femoral_layer);
        let description = KneeDescription {
            modulus_mpa: e,
            poisson: nu,
            ..g.description.clone()
        };
        let marks = &g.marks;
        let origin = marks.patella_rest.translation.vector;
        // Tuberosity: the knee's own, moved medio-laterally by the requested TT-TG's
        // difference from the knee's own.
        let tub_at = |tt_tg: f64| {
            let mut t = marks.patellar_tendon.far;
            t.z += tt_tg - marks.own_tt_tg_mm;
            t
        };
        let rest_point = |p: &Vec3| marks.patella_rest * nalgebra::Point3::from(*p);
        let pt_pat_rest = rest_point(&marks.patellar_tendon.patella).coords;
        let pt_up_deg = |tt_tg: f64| frontal_deg(&(pt_pat_rest - tub_at(tt_tg)));

        // Q-angle placement. The quadriceps resultant is aimed so that the Q-angle measured
        // against the patellar tendon of a *reference* tuberosity (TT-TG 11.6 mm, the L
        // model) equals `q_angle_deg`; `tt_tg_mm` then moves the tuberosity on top of it,
        // raising the measured Q-angle as a lateralised tuberosity does clinically. (Aiming
        // the resultant against the actual tuberosity would rotate the quadriceps medially as
        // TT-TG grows and cancel the tuberosity's effect.) Heads keep their angles relative
        // to the resultant: all are rotated together about the AP axis.
        let reference_tt_tg = Subject::default().tt_tg_mm;
        let head_dirs: Vec<Vec3> = HEADS
            .iter()
            .map(|h| {
                Vec3::new(
                    h.sagittal_deg.to_radians().tan(),
                    1.0,
                    h.frontal_deg.to_radians().tan(),
                )
                .normalize()
            })
            .collect();
        let resultant: Vec3 = HEADS.iter().zip(&head_dirs).map(|(h, u)| u * h.share).sum();
        let target_deg = s.q_angle_deg + pt_up_deg(reference_tt_tg);
        let turn = rot_x((target_deg - frontal_deg(&resultant)).to_radians());
        let heads = HEADS
            .iter()
            .zip(&head_dirs)
            .enumerate()
            .map(|(i, (h, u))| {
                let ins = marks.head_insertions[i];
                let dir = turn * u;
                QuadHead {
                    name: h.name,
                    insertion: mirror(ins),
                    origin: mirror(rest_point(&ins).coords + dir * h.line_length_mm),
                    weight: h.share * params.muscles.factor(h.name),
                    wrap: marks.head_wraps[i].map(|mut w| {
                        // Mirror the cylinder for a left knee (its axis is medio-lateral).
                        let t = w.femur_from_cylinder.translation.vector;
                        w.femur_from_cylinder.translation.vector = mirror(t);
                        w
                    }),
                }
            })
            .collect();
        let q_eff = target_deg - pt_up_deg(s.tt_tg_mm);

        let lig = &params.ligaments;
        let pt = &marks.patellar_tendon;
        // Patella alta: the tendon lengthens by the Insall–Salvati ratio's change × patella
        // height (Insall & Salvati 1971: ratio = tendon length / patella height).
        let patellar_tendon = Ligament {
            name: "patellar_tendon",
            patella: mirror(pt.patella),
            anchor: Anchor::Tibia(mirror(tub_at(s.tt_tg_mm))),
            slack_mm: pt.slack_mm
                + (s.insall_salvati - Subject::default().insall_salvati) * s.patella_height_mm,
            stiffness_n_per_mm: pt.stiffness_n_per_mm * lig.patellar_tendon,
            transition_strain: TRANSITION_STRAIN,
        };
        let line = |name: &'static str, l: &LigamentLine, scale: f64| Ligament {
            name,
            patella: mirror(l.patella),
            anchor: Anchor::Femur(mirror(l.far)),
            slack_mm: l.slack_mm,
            stiffness_n_per_mm: l.stiffness_n_per_mm * scale,
            transition_strain: TRANSITION_STRAIN,
        };
        let mpfl = line("mpfl", &marks.mpfl, lig.mpfl);
        let lateral_retinaculum = line(
            "lateral_retinaculum",
            &marks.lateral_retinaculum,
            lig.lateral_retinaculum,
        );
        let itb_band = ConstantLine {
            patella: mirror(marks.itb_patella),
            anchor: mirror(marks.itb_anchor),
            tension_n: params.itb.tension_n * params.itb.patellar_fraction,
        };
        let m = Matrix3::from_diagonal(&Vec3::new(1.0, 1.0, lat));
        let r_rest = marks.patella_rest.rotation.to_rotation_matrix();
        let patella_rest = Isometry3::from_parts(
            Translation3::from(mirror(origin)),
            UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(
                m * r_rest.matrix() * m,
            )),
        );
        let hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            serde_json::to_string(params)
                .unwrap_or_default()
                .hash(&mut h);
            h.finish()
        };
        Self {
            params: params.clone(),
            side,
            lat,
            body_weight_n: s.body_mass_kg * anatomy::GRAVITY,
            femur: g.femur.clone(),
            patella: Arc::clone(&g.patella),
            law,
            tibiofemoral: g.tibiofemoral,
            envelope: g.envelope.clone(),
            heads,
            patellar_tendon,
            mpfl,
            lateral_retinaculum,
            itb_band,
            patella_rest,
            patella_seated: g.seated,
            q_angle_effective_deg: q_eff,
            mesh: g.mesh.clone(),
            knee: description,
            hash,
        }
    }

    /// Where a run under `load` starts (femur_from_patella): with quadriceps load, the
    /// seated pose; without (a zero force, or a moment target the quadriceps need not
    /// meet), the model file's pose, which is already an equilibrium of no load — a
    /// patella seated under load would have nothing to bring it back.
    pub fn start_pose(&self, load: &QuadLoad) -> Isometry3<f64> {
        let loaded = match *load {
            QuadLoad::Force(f) => f > 0.0,
            QuadLoad::ExtensorMoment(m) => m > 0.0,
        };
        match self.patella_seated {
            Some(seated) if loaded => seated,
            _ => self.patella_rest,
        }
    }

    /// Measured frontal-plane Q-angle at full extension (degrees) between the quadriceps
    /// resultant (heads at full strength) and the patellar tendon, anatomical sign
    /// (+ valgus). Recomputed from the built geometry; used to check the placement.
    pub fn measured_q_angle_deg(&self) -> f64 {
        let ins_rest = |x: &Vec3| self.patella_rest * nalgebra::Point3::from(*x);
        let share_sum: Vec3 = self
            .heads
            .iter()
            .zip(HEADS.iter())
            .map(|(h, r)| (h.origin - ins_rest(&h.insertion).coords).normalize() * r.share)
            .sum();
        let tub = match self.patellar_tendon.anchor {
            Anchor::Tibia(t) | Anchor::Femur(t) => t,
        };
        let pt_up = ins_rest(&self.patellar_tendon.patella).coords - tub;
        let f = |u: &Vec3| (self.lat * u.z).atan2(u.y).to_degrees();
        f(&share_sum) - f(&pt_up)
    }
}

/// Per-run scratch: warm start, pressure field, counters. One per thread.
#[derive(Debug, Clone)]
pub struct Data {
    /// Patella pose of the last solved frame (warm start), femur_from_patella.
    pub femur_from_patella: Isometry3<f64>,
    /// Quadriceps scale of the last frame, N (warm start for moment-driven frames).
    pub quad_scale_n: f64,
    /// Knee flexion of the last frame, radians (for the warm-start predictor).
    pub last_flexion: Option<f64>,
    /// The frame before the last: knee flexion (rad), pose and quadriceps scale (N), for
    /// the secant predictor of the warm start.
    pub before_last: Option<(f64, Isometry3<f64>, f64)>,
    /// The frame before that (same fields), for the quadratic predictor.
    pub two_before: Option<(f64, Isometry3<f64>, f64)>,
    /// Element pressures of the last evaluation, MPa; shape (n_elements,), mesh order.
    pub pressure: Vec<f64>,
    /// Contact evaluations performed by this Data (a cost counter).
    pub contact_evaluations: u64,
    /// Of those, the evaluations that summed the contact Jacobian (a cost counter).
    pub contact_jacobians: u64,
    /// Motion-bound reference of the warm contact kernel (identical results, less work).
    pub contact_cache: crate::contact::ContactCache,
}

impl Data {
    /// Fresh scratch for `model`, starting from the extended rest pose.
    pub fn new(model: &Model) -> Self {
        Self {
            femur_from_patella: model.patella_rest,
            quad_scale_n: 0.0,
            last_flexion: None,
            before_last: None,
            two_before: None,
            pressure: vec![0.0; model.patella.len()],
            contact_evaluations: 0,
            contact_jacobians: 0,
            contact_cache: Default::default(),
        }
    }

    /// Forget the warm start: the next frame starts from `start` (femur_from_patella,
    /// [`Model::start_pose`]).
    pub fn reset(&mut self, start: Isometry3<f64>) {
        self.femur_from_patella = start;
        self.quad_scale_n = 0.0;
        self.last_flexion = None;
        self.before_last = None;
        self.two_before = None;
        self.contact_cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seated start is the geometry's alone (other keys leave it bit for bit as it
    /// is), is an equilibrium of the seating pull, sits flexed and raised from the model
    /// file's pose, and only a loaded run starts from it.
    #[test]
    fn the_seated_start_is_the_geometrys_and_only_loaded_runs_take_it() {
        use crate::step::{step, FrameInput, KneeAngles};
        for model in [AnatomyModel::Lenhart2015, AnatomyModel::Parametric] {
            let base = crate::validation::knee_params(model);
            let m = Model::new(&base).unwrap();
            let seated = m.patella_seated.expect("the shipped knees seat");
            assert_eq!(m.knee.seated_start_n, Some(SEATING_QUADRICEPS_N));
            let mut p = base.clone();
            p.muscles.vmo = 0.3;
            p.subject.q_angle_deg = 20.0;
            p.subject.body_mass_kg = 95.0;
            p.ligaments.mpfl = 0.0;
            assert_eq!(GeometryKey::of(&seating_params(&p)), GeometryKey::of(&p));
            assert_eq!(
                Model::new(&p).unwrap().patella_seated,
                Some(seated),
                "{model:?}"
            );
            // An equilibrium of the seating pull with the default tissues.
            let d = Model::new(&seating_params(&base)).unwrap();
            let mut data = Data::new(&d);
            data.femur_from_patella = seated;
            let seat =
                FrameInput::new(KneeAngles::default(), QuadLoad::Force(SEATING_QUADRICEPS_N));
            let r = step(&d, &seat, &mut data);
            assert!(
                r.status.converged() && r.status.iterations() <= 1,
                "{:?}",
                r.status
            );
            assert!(
                (r.femur_from_patella.translation.vector - seated.translation.vector).norm() < 0.01
            );
            // Raised into the groove and flexed, on the mesh knee by ≈ 2 mm and ≈ 12°.
            if model == AnatomyModel::Lenhart2015 {
                let rest = m.patella_rest;
                assert!(seated.translation.y - rest.translation.y > 1.0);
                assert!(seated.rotation.angle_to(&rest.rotation).to_degrees() > 8.0);
            }
            assert_eq!(m.start_pose(&QuadLoad::Force(50.0)), seated);
            assert_eq!(m.start_pose(&QuadLoad::ExtensorMoment(2_000.0)), seated);
            assert_eq!(m.start_pose(&QuadLoad::Force(0.0)), m.patella_rest);
            assert_eq!(
                m.start_pose(&QuadLoad::ExtensorMoment(-500.0)),
                m.patella_rest
            );
        }
    }

    #[test]
    fn q_angle_placement_reproduces_the_requested_angle() {
        for q in [4.0, 14.0, 24.0] {
            let mut p = ModelParams::default();
            p.subject.q_angle_deg = q;
            let m = Model::new(&p).unwrap();
            assert!(
                (m.measured_q_angle_deg() - q).abs() < 0.3,
                "q {q}: {}",
                m.measured_q_angle_deg()
            );
            p.subject.side = Side::Left;
            let m = Model::new(&p).unwrap();
            assert!((m.measured_q_angle_deg() - q).abs() < 0.3);
        }
    }

    /// [`GEOMETRY_KEYS`] is exactly what [`GeometryKey::of`] reads: changing any key of the
    /// model sections changes the geometry key if and only if the key is listed.
    #[test]
    fn geometry_keys_are_what_the_geometry_key_reads() {
        use crate::scenario::keys::{self, Allowed};
        let base = ModelParams::default();
        let json = serde_json::to_value(&base).unwrap();
        let mut seen = Vec::new();
        for (section, fields) in json.as_object().unwrap() {
            for (field, value) in fields.as_object().unwrap() {
                let key = format!("{section}.{field}");
                let spec = keys::get(&key).unwrap_or_else(|| panic!("{key} not in KEYS"));
                let changed = match (spec.allowed, value) {
                    (Allowed::OneOf(words), v) => {
                        let other = words.iter().find(|w| v.as_str() != Some(**w)).unwrap();
                        serde_json::Value::from(*other)
                    }
                    (Allowed::Text(_), _) => serde_json::Value::from("other.osim"),
                    (_, v) if v.is_u64() => serde_json::Value::from(v.as_u64().unwrap() + 1),
                    (_, v) => serde_json::Value::from(v.as_f64().unwrap_or(1.0) * 1.1 + 0.01),
                };
                let mut j = json.clone();
                j[section][field] = changed;
                let p: ModelParams =
                    serde_json::from_value(j).unwrap_or_else(|e| panic!("{key}: {e}"));
                assert_ne!(p, base, "{key} did not change");
                assert_eq!(
                    GeometryKey::of(&p) != GeometryKey::of(&base),
                    GEOMETRY_KEYS.contains(&key.as_str()),
                    "{key}"
                );
                seen.push(key);
            }
        }
        for k in GEOMETRY_KEYS {
            assert!(seen.iter().any(|s| s == k), "{k} is not a model key");
        }
    }

    /// A model on a cached geometry is the model built afresh, and the cache builds each
    /// geometry once.
    #[test]
    fn a_cached_geometry_gives_the_same_model() {
        let cache = GeometryCache::new(4);
        let mut p = ModelParams::default();
        p.anatomy.model = AnatomyModel::Parametric;
        for vmo in [0.5, 1.0] {
            p.muscles.vmo = vmo;
            let (fresh, shared) = (
                Model::new(&p).unwrap(),
                Model::new_shared(&p, &cache).unwrap(),
            );
            assert_eq!(format!("{fresh:?}"), format!("{shared:?}"));
        }
        assert_eq!(cache.builds(), 1);
        p.subject.sulcus_angle_deg = 150.0;
        let e = Model::new(&p).unwrap_err();
        assert_eq!(Model::new_shared(&p, &cache).unwrap_err(), e);
        assert_eq!(Model::new_shared(&p, &cache).unwrap_err(), e);
        assert_eq!(cache.builds(), 2);
    }

    #[test]
    fn lateral_tuberosity_raises_the_effective_q_angle() {
        let mut p = ModelParams::default();
        let base = Model::new(&p).unwrap().q_angle_effective_deg;
        p.subject.tt_tg_mm = 20.0;
        let high = Model::new(&p).unwrap().q_angle_effective_deg;
        assert!(high > base + 5.0, "{base} -> {high}");
    }
}
