//! The points and tissue constants a `Model` is built from, from one of two sources: the
//! constants of this module's parent (the parametric knee, scaled to the subject's patella)
//! or an OpenSim-JAM model file (a mesh knee: bundle means of its ligaments, its quadriceps
//! insertions, its patella pose).
//!
//! Frames (right knee; `Model` mirrors a left one): femur points in the femur frame, patella
//! points in the patella frame, tibia points in the tibia frame (= the femur frame at zero
//! knee angles), mm.

use nalgebra::Isometry3;

use super::{mesh_knee::MeshKnee, HEADS};
use crate::geometry::wrap::WrapCylinder;
use crate::math::Vec3;
use crate::osim::KneeFrame;
use crate::osim::{LigamentSpec, OsimKnee, PointFrame};

/// One patellar ligament as a single line: bundle-mean attachments, slack length and the
/// bundles' combined stiffness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LigamentLine {
    /// Femoral (or tibial, for the patellar tendon) attachment, mm.
    pub far: Vec3,
    /// Patellar attachment, patella frame, mm.
    pub patella: Vec3,
    /// Slack length, mm.
    pub slack_mm: f64,
    /// Linear-region stiffness, N/mm.
    pub stiffness_n_per_mm: f64,
}

/// Where each tissue attaches, and the ligament constants (right knee).
#[derive(Debug, Clone, PartialEq)]
pub struct Landmarks {
    /// The extended-knee patella pose (femur_from_patella).
    pub patella_rest: Isometry3<f64>,
    /// Patellar tendon: `far` is the tuberosity in the tibia frame at the knee's own TT-TG.
    pub patellar_tendon: LigamentLine,
    /// Medial patellofemoral ligament: `far` is its femoral attachment.
    pub mpfl: LigamentLine,
    /// Lateral retinaculum / lateral patellofemoral ligament: `far` is its femoral
    /// attachment.
    pub lateral_retinaculum: LigamentLine,
    /// Iliopatellar band anchor (femur frame, mm).
    pub itb_anchor: Vec3,
    /// Iliopatellar band attachment on the lateral patella (patella frame, mm).
    pub itb_patella: Vec3,
    /// Quadriceps insertions (rf, vi, vl, vlo, vml, vmo), patella frame, mm.
    pub head_insertions: [Vec3; 6],
    /// The cylinder each head wraps over (femur frame), if any.
    pub head_wraps: [Option<WrapCylinder>; 6],
    /// Groove medio-lateral position, femur frame, mm.
    pub groove_z: f64,
    /// The knee's own TT-TG (tuberosity z − groove z at extension), mm.
    pub own_tt_tg_mm: f64,
    /// Where the iliopatellar anchor came from (the model's IT band, or kneetrack's default).
    pub itb_source: &'static str,
}

fn mean(points: impl Iterator<Item = Vec3>) -> Option<Vec3> {
    let (mut s, mut n) = (Vec3::zeros(), 0usize);
    for p in points {
        s += p;
        n += 1;
    }
    (n > 0).then(|| s / n as f64)
}

/// The bundles whose names start with `prefix` (case-sensitive, as in the model file) as one
/// line: mean attachments on `far_frame` and the patella, and the bundles' stiffnesses in
/// parallel, Σ kᵢ/L₀ᵢ (Blankevoort 1991 stiffness is force per unit strain; per mm of
/// stretch it is k/L₀). The line's slack length keeps the bundles' mean strain at the
/// model's default pose (OpenSim-JAM sets each bundle's slack length from a reference
/// strain there, Lenhart 2015 / Smith 2016): `L_line(default) / (1 + mean εᵢ(default))`. The
/// bundles' mean slack length would not do: the line between mean attachments is shorter
/// than the mean bundle (the Lenhart patellar tendon's by 1.6 mm, so a loaded patella rose
/// several millimetres before its tendon took load).
fn bundle_line(
    osim: &OsimKnee,
    prefix: &str,
    far_frame: PointFrame,
    file: &str,
) -> Result<LigamentLine, String> {
    let ligs = &osim.ligaments;
    let b: Vec<&LigamentSpec> = ligs.iter().filter(|l| l.name.starts_with(prefix)).collect();
    let err =
        |what: &str| format!("{file}: Blankevoort1991Ligament bundles named {prefix}*: {what}");
    if b.is_empty() {
        return Err(err("none in the model; kneetrack needs them"));
    }
    let end = |l: &LigamentSpec, f: PointFrame| {
        l.points
            .iter()
            .find(|p| p.frame == f)
            .map(|p| Vec3::from(p.location_mm))
    };
    let far = mean(b.iter().filter_map(|l| end(l, far_frame)))
        .ok_or_else(|| err("no attachment on the expected body"))?;
    let patella = mean(b.iter().filter_map(|l| end(l, PointFrame::Patella)))
        .ok_or_else(|| err("no attachment on the patella"))?;
    // Positions at the model's default pose, femur frame.
    let femur_from_tibia = osim.femur_from_tibia(&osim.default_coords);
    let femur_from_patella = osim.femur_from_patella_default;
    let at = |f: PointFrame, p: Vec3| -> Vec3 {
        let x = nalgebra::Point3::from(p);
        match f {
            PointFrame::Tibia => (femur_from_tibia * x).coords,
            PointFrame::Patella => (femur_from_patella * x).coords,
            PointFrame::Femur => p,
        }
    };
    let strain = b
        .iter()
        .map(|l| {
            let pts: Vec<Vec3> = l
                .points
                .iter()
                .map(|p| at(p.frame, Vec3::from(p.location_mm)))
                .collect();
            let len: f64 = pts.windows(2).map(|w| (w[1] - w[0]).norm()).sum();
            len / l.slack_length_mm - 1.0
        })
        .sum::<f64>()
        / b.len() as f64;
    let line_length = (at(far_frame, far) - at(PointFrame::Patella, patella)).norm();
    let slack_mm = line_length / (1.0 + strain);
    let stiffness_n_per_mm = b
        .iter()
        .map(|l| l.linear_stiffness_n / l.slack_length_mm)
        .sum::<f64>();
    Ok(LigamentLine {
        far,
        patella,
        slack_mm,
        stiffness_n_per_mm,
    })
}

impl Landmarks {
    /// The landmarks of a mesh knee's model file. Quadriceps insertions: the patellar path
    /// point of the model's rectus femoris, vastus intermedius, vastus lateralis and vastus
    /// medialis (→ VML); the oblique heads (VLO, VMO), which the model does not have, keep
    /// the parametric knee's literature points (Panagiotopoulos 2006). The iliopatellar band
    /// leaves the model's IT band (`ITB*` ligament) where its path crosses 20 mm proximal of
    /// the joint line (just proximal of the lateral epicondyle) and inserts at the lateral
    /// retinaculum's patellar attachment.
    pub fn from_mesh_knee(k: &MeshKnee) -> Result<Self, String> {
        let file = k.osim_path.display().to_string();
        let ligs = &k.osim.ligaments;
        let pt = bundle_line(&k.osim, "PT", PointFrame::Tibia, &file)?;
        let mpfl = bundle_line(&k.osim, "mPFL", PointFrame::Femur, &file)?;
        let lpfl = bundle_line(&k.osim, "lPFL", PointFrame::Femur, &file)?;
        let rest = k.osim.femur_from_patella_default;
        let to_patella = |femur_point: [f64; 3]| {
            rest.inverse_transform_point(&nalgebra::Point3::from(Vec3::from(femur_point)))
                .coords
        };
        let muscle = |names: &[&str]| {
            k.osim
                .muscles
                .iter()
                .find(|m| names.iter().any(|n| m.name.starts_with(n)))
                .and_then(|m| m.points.iter().find(|p| p.frame == PointFrame::Patella))
                .map(|p| Vec3::from(p.location_mm))
        };
        let need = |v: Option<Vec3>, name: &str| {
            v.ok_or_else(|| {
                format!("{file}: no {name} muscle with a path point on the patella; kneetrack needs the quadriceps insertions")
            })
        };
        let head_insertions = [
            need(muscle(&["recfem", "rect_fem"]), "rectus femoris (recfem_*)")?,
            need(
                muscle(&["vasint", "vas_int"]),
                "vastus intermedius (vasint_*)",
            )?,
            need(
                muscle(&["vaslat", "vas_lat"]),
                "vastus lateralis (vaslat_*)",
            )?,
            to_patella(HEADS[3].insertion),
            need(muscle(&["vasmed", "vas_med"]), "vastus medialis (vasmed_*)")?,
            to_patella(HEADS[5].insertion),
        ];
        // Each head wraps over the first femur-fixed cylinder its model muscle names (VLO as
        // the vastus lateralis, VMO as the vastus medialis).
        let wrap_of = |names: &[&str]| -> Option<WrapCylinder> {
            let m = k
                .osim
                .muscles
                .iter()
                .find(|m| names.iter().any(|n| m.name.starts_with(n)))?;
            m.wrap_objects.iter().find_map(|w| {
                let c = k.osim.wrap_cylinder(w)?;
                (c.frame == KneeFrame::Femur).then(|| WrapCylinder {
                    femur_from_cylinder: c.frame_from_cylinder,
                    radius_mm: c.radius_mm,
                    quadrant: WrapCylinder::quadrant_from(&c.quadrant),
                })
            })
        };
        let rf_w = wrap_of(&["recfem", "rect_fem"]);
        let vi_w = wrap_of(&["vasint", "vas_int"]);
        let vl_w = wrap_of(&["vaslat", "vas_lat"]);
        let vm_w = wrap_of(&["vasmed", "vas_med"]);
        let head_wraps = [rf_w, vi_w, vl_w, vl_w, vm_w, vm_w];
        let itb = ligs.iter().find(|l| l.name.starts_with("ITB"));
        let (itb_anchor, itb_source) = match itb.and_then(|l| crossing(l, 20.0)) {
            Some(p) => (p, "the model's IT band (ITB*), where it crosses y = 20 mm"),
            None => (
                Vec3::from(super::ITB_PATELLAR_ANCHOR),
                "kneetrack's Lenhart-derived default (the model has no ITB* ligament crossing y = 20 mm)",
            ),
        };
        Ok(Self {
            patella_rest: rest,
            own_tt_tg_mm: pt.far.z - k.groove_z,
            patellar_tendon: pt,
            mpfl,
            itb_patella: lpfl.patella,
            lateral_retinaculum: lpfl,
            itb_anchor,
            head_insertions,
            head_wraps,
            groove_z: k.groove_z,
            itb_source,
        })
    }
}

/// The point where a ligament path (femur and tibia points, tibia at zero knee angles)
/// crosses height `y` (femur frame, mm), linearly interpolated.
fn crossing(l: &LigamentSpec, y: f64) -> Option<Vec3> {
    let pts: Vec<Vec3> = l
        .points
        .iter()
        .filter(|p| p.frame != PointFrame::Patella)
        .map(|p| Vec3::from(p.location_mm))
        .collect();
    pts.windows(2).find_map(|w| {
        let (a, b) = (w[0], w[1]);
        let (lo, hi) = (a.y.min(b.y), a.y.max(b.y));
        (lo <= y && y <= hi && hi > lo).then(|| a + (b - a) * ((y - a.y) / (b.y - a.y)))
    })
}
