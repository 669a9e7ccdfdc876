//! The immutable `Model` (anatomy, geometry, contact law, tissues), shared across threads,
//! and the per-run `Data` scratch (MuJoCo's mjModel / mjData split).

use nalgebra::{Isometry3, Translation3, UnitQuaternion};

use crate::anatomy::{self, HEADS};
use crate::contact::ContactLaw;
use crate::geometry::{FemoralSurface, PatellaMesh, TrochleaError};
use crate::math::{rot_x, Vec3};
use crate::params::{ModelParams, Side};
use crate::tissues::{Anchor, ConstantLine, Ligament, QuadHead};

/// Patellar tendon linear stiffness, N/mm (in vivo 1.5–4.5 kN/mm, e.g. Hansen et al. 2006;
/// the middle of that range). Its exact value barely matters: the tendon is far stiffer
/// than the joint's other restraints.
pub const PT_STIFFNESS_N_PER_MM: f64 = 2000.0;
/// MPFL complex stiffness, N/mm (DESIGN.md: about 42.5 N/mm; failure about 145 N).
pub const MPFL_STIFFNESS_N_PER_MM: f64 = 42.5;
/// Lateral retinaculum / lateral PF ligament stiffness, N/mm. A model assumption: chosen
/// about half the MPFL, since the lateral retinaculum contributes roughly half as much
/// restraint to medial displacement as the MPFL does to lateral (Desio et al. 1998 report
/// the lateral retinaculum contributing ~10 % and the MPFL ~53–60 % of their respective
/// restraints).
pub const LATERAL_RETINACULUM_STIFFNESS_N_PER_MM: f64 = 20.0;
/// Blankevoort (1991) toe-region transition strain.
pub const TRANSITION_STRAIN: f64 = 0.03;

/// Why a model could not be built (after range checks, only geometry can disagree).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// Trochlear parameters do not fit together; names the key to change.
    #[error("{key}: {source}")]
    Trochlea {
        key: &'static str,
        #[source]
        source: TrochleaError,
    },
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
    pub femur: FemoralSurface,
    /// Patella contact elements.
    pub patella: PatellaMesh,
    /// Pressure law.
    pub law: ContactLaw,
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
    /// A hash of the parameters, for the summary's model echo.
    pub hash: u64,
}

/// Frontal-plane angle (+ lateral, degrees) of a direction going proximally, right knee.
fn frontal_deg(u: &Vec3) -> f64 {
    u.z.atan2(u.y).to_degrees()
}

impl Model {
    /// Builds a model. Parameters are assumed range-checked (see `scenario::compile`).
    pub fn new(params: &ModelParams) -> Result<Self, ModelError> {
        let s = &params.subject;
        let side = s.side;
        let lat = side.lateral_sign();
        let mirror = |v: Vec3| Vec3::new(v.x, v.y, lat * v.z);
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
        let c = &params.cartilage;
        let patella = PatellaMesh::new(
            s.patella_width_mm,
            s.patella_height_mm,
            s.patella_thickness_mm,
            s.lateral_facet_fraction,
            c.element_size_mm,
            lat,
        );
        let law = ContactLaw::new(c);

        // Patella attachments scale with the patella's size about its origin.
        let [t0, h0, w0] = anatomy::PATELLA_REF_SIZE;
        let scale = Vec3::new(
            s.patella_thickness_mm / t0,
            s.patella_height_mm / h0,
            s.patella_width_mm / w0,
        );
        let on_patella = |p: [f64; 3]| mirror(anatomy::to_patella_frame(p).component_mul(&scale));
        let origin = Vec3::from(anatomy::PATELLA_ORIGIN);

        // Tuberosity: ML position = groove + TT-TG (tibia frame = femur frame at extension).
        let tub_at = |tt_tg: f64| {
            let mut t = Vec3::from(anatomy::TIBIAL_TUBEROSITY);
            t.z = anatomy::GROOVE_Z_MM + tt_tg;
            t
        };
        let pt_pat_rest =
            origin + anatomy::to_patella_frame(anatomy::PT_PATELLA).component_mul(&scale);
        let pt_up_deg = |tt_tg: f64| frontal_deg(&(pt_pat_rest - tub_at(tt_tg)));

        // Q-angle placement. The quadriceps resultant is aimed so that the Q-angle measured
        // against the patellar tendon of a *reference* tuberosity (TT-TG 11.6 mm, the L
        // model) equals `q_angle_deg`; `tt_tg_mm` then moves the tuberosity on top of it,
        // raising the measured Q-angle as a lateralised tuberosity does clinically. (Aiming
        // the resultant against the actual tuberosity would rotate the quadriceps medially as
        // TT-TG grows and cancel the tuberosity's effect.) Heads keep their angles relative
        // to the resultant: all are rotated together about the AP axis.
        let reference_tt_tg = crate::params::Subject::default().tt_tg_mm;
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
            .map(|(h, u)| {
                let ins = anatomy::to_patella_frame(h.insertion).component_mul(&scale);
                let dir = turn * u;
                QuadHead {
                    name: h.name,
                    insertion: mirror(ins),
                    origin: mirror(origin + ins + dir * h.line_length_mm),
                    weight: h.share * params.muscles.factor(h.name),
                }
            })
            .collect();
        let q_eff = target_deg - pt_up_deg(s.tt_tg_mm);

        let lig = &params.ligaments;
        let patellar_tendon = Ligament {
            name: "patellar_tendon",
            patella: on_patella(anatomy::PT_PATELLA),
            anchor: Anchor::Tibia(mirror(tub_at(s.tt_tg_mm))),
            slack_mm: s.insall_salvati * s.patella_height_mm + anatomy::PT_LINE_MINUS_CLINICAL_MM,
            stiffness_n_per_mm: PT_STIFFNESS_N_PER_MM * lig.patellar_tendon,
            transition_strain: TRANSITION_STRAIN,
        };
        let mpfl = Ligament {
            name: "mpfl",
            patella: on_patella(anatomy::MPFL_PATELLA),
            anchor: Anchor::Femur(mirror(Vec3::from(anatomy::MPFL_FEMUR))),
            slack_mm: anatomy::MPFL_SLACK_MM,
            stiffness_n_per_mm: MPFL_STIFFNESS_N_PER_MM * lig.mpfl,
            transition_strain: TRANSITION_STRAIN,
        };
        let lateral_retinaculum = Ligament {
            name: "lateral_retinaculum",
            patella: on_patella(anatomy::LPFL_PATELLA),
            anchor: Anchor::Femur(mirror(Vec3::from(anatomy::LPFL_FEMUR))),
            slack_mm: anatomy::LPFL_SLACK_MM,
            stiffness_n_per_mm: LATERAL_RETINACULUM_STIFFNESS_N_PER_MM * lig.lateral_retinaculum,
            transition_strain: TRANSITION_STRAIN,
        };
        let itb_band = ConstantLine {
            patella: on_patella(anatomy::ITB_PATELLA),
            anchor: mirror(Vec3::from(anatomy::ITB_PATELLAR_ANCHOR)),
            tension_n: params.itb.tension_n * params.itb.patellar_fraction,
        };
        let patella_rest = Isometry3::from_parts(
            Translation3::from(mirror(origin)),
            UnitQuaternion::identity(),
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
            heads,
            patellar_tendon,
            mpfl,
            lateral_retinaculum,
            itb_band,
            patella_rest,
            q_angle_effective_deg: q_eff,
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
