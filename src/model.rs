//! The immutable `Model` (anatomy, geometry, contact law, tissues), shared across threads,
//! and the per-run `Data` scratch (MuJoCo's mjModel / mjData split).

use std::path::Path;
use std::sync::Arc;

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
    /// Patella contact elements.
    pub patella: PatellaMesh,
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
    /// The extended-knee patella pose used to start a run (femur_from_patella).
    pub patella_rest: Isometry3<f64>,
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

impl Model {
    /// Builds a model. Parameters are assumed range-checked (see `scenario::compile`); the
    /// anatomy's files are read (once per process, then shared) for a mesh knee.
    pub fn new(params: &ModelParams) -> Result<Self, ModelError> {
        let s = &params.subject;
        let side = s.side;
        let lat = side.lateral_sign();
        let mirror = |v: Vec3| Vec3::new(v.x, v.y, lat * v.z);
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
        let (femur, patella, marks, law, description) = match &mesh {
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
                let e = c.modulus_mpa.unwrap_or(PARAMETRIC_MODULUS_MPA);
                let nu = c.poisson.unwrap_or(DEFAULT_POISSON);
                let patella = PatellaMesh::new(
                    s.patella_width_mm,
                    s.patella_height_mm,
                    s.patella_thickness_mm,
                    s.lateral_facet_fraction,
                    c.element_size_mm,
                    h,
                    lat,
                );
                let law = ContactLaw::new(c.law, e, nu, h, 0.0);
                let marks = parametric_landmarks(s);
                let d = KneeDescription {
                    model: "parametric".into(),
                    osim: None,
                    files: vec![],
                    elements: patella.len(),
                    tibiofemoral,
                    seated_envelope: envelope.clone(),
                    modulus_mpa: e,
                    poisson: nu,
                    mean_patella_thickness_mm: h,
                    mean_femur_thickness_mm: 0.0,
                    own_tt_tg_mm: marks.own_tt_tg_mm,
                    itb_source: marks.itb_source.into(),
                    build_seconds: 0.0,
                    trochlea: None,
                };
                (FemurGeometry::Parametric(femur), patella, marks, law, d)
            }
            Some(k) => {
                let marks = Landmarks::from_mesh_knee(k).map_err(|m| ModelError::Knee {
                    key: "anatomy.model",
                    message: m,
                })?;
                let e = c.modulus_mpa.unwrap_or(k.modulus_mpa);
                let nu = c.poisson.unwrap_or(k.poisson);
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
                let law = ContactLaw::new(c.law, e, nu, h_mean, femoral_layer);
                let d = KneeDescription {
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
                    modulus_mpa: e,
                    poisson: nu,
                    mean_patella_thickness_mm: if c.thickness_mm.is_some() {
                        h_mean
                    } else {
                        k.mean_patella_thickness_mm
                    },
                    mean_femur_thickness_mm: femoral_layer * k.mean_femur_thickness_mm,
                    own_tt_tg_mm: marks.own_tt_tg_mm,
                    itb_source: marks.itb_source.into(),
                    build_seconds: k.build_seconds,
                    trochlea: None,
                };
                let info = MeshFemurInfo {
                    lat,
                    groove_z: marks.groove_z,
                };
                // The field is the right knee's: its groove lies at the anatomical z.
                let (geom, trochlea) = match trochlear_requests(s)[..] {
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
                let d = KneeDescription { trochlea, ..d };
                (geom, patella, marks, law, d)
            }
        };

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
        Ok(Self {
            params: params.clone(),
            side,
            lat,
            body_weight_n: s.body_mass_kg * anatomy::GRAVITY,
            femur,
            patella,
            law,
            tibiofemoral,
            envelope,
            heads,
            patellar_tendon,
            mpfl,
            lateral_retinaculum,
            itb_band,
            patella_rest,
            q_angle_effective_deg: q_eff,
            mesh,
            knee: description,
            hash,
        })
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
    /// Element pressures of the last evaluation, MPa; shape (n_elements,), mesh order.
    pub pressure: Vec<f64>,
    /// Contact evaluations performed by this Data (a cost counter).
    pub contact_evaluations: u64,
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
            pressure: vec![0.0; model.patella.len()],
            contact_evaluations: 0,
            contact_cache: Default::default(),
        }
    }

    /// Forget the warm start (the next frame starts from the rest pose).
    pub fn reset(&mut self, model: &Model) {
        self.femur_from_patella = model.patella_rest;
        self.quad_scale_n = 0.0;
        self.last_flexion = None;
        self.before_last = None;
        self.contact_cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn lateral_tuberosity_raises_the_effective_q_angle() {
        let mut p = ModelParams::default();
        let base = Model::new(&p).unwrap().q_angle_effective_deg;
        p.subject.tt_tg_mm = 20.0;
        let high = Model::new(&p).unwrap().q_angle_effective_deg;
        assert!(high > base + 5.0, "{base} -> {high}");
    }
}
