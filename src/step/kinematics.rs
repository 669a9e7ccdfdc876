//! Stage 1 — kinematics: pose the tibia from the Grood & Suntay (1983) angles.
//!
//! The tibia rotates about the femoral flexion axis (femur Z through the origin, the Lenhart
//! knee-joint frame), then about the floating ab/adduction axis, then about its long axis:
//! `femur_from_tibia = T(t(θ)) · Rz(−flexion) · Rx(lat·varus) · Ry(lat·internal_rotation)`.
//!
//! **Coupled secondary motion** (default, `anatomy.tibiofemoral = "coupled"`): a real knee is
//! not a hinge. As it flexes, the tibia rotates internally (about 15° over 0–120°, most of it
//! in the first 60°: the screw-home motion reversed), adducts slightly and translates
//! (femoral rollback). The coupling here is Walker et al. (1988) as encoded in the
//! `walker_knee_r` joint of Rajagopal et al. (2016) ([`WALKER_1988`]): its rotation2 (about
//! the joint frame's z ≈ femoral AP) adds to the varus angle, rotation3 (about the joint y ≈
//! tibial long axis) to the internal rotation, and translation1/translation2 move the tibia
//! along the joint frame's y and z axes expressed in the femur frame ([`WALKER_AXIS_Y`],
//! [`WALKER_AXIS_Z`]; the Rajagopal joint frame is within 7° of the femur frame). The knee's
//! own varus and rotation inputs (gait data, risk-factor mechanisms) add on top.
//! `"hinge"` keeps the fixed axis for comparison.
//!
//! **Measured secondary motion** ([`SecondaryCoords`], from an IK file's OpenSim-JAM columns
//! `knee_add`, `knee_rot`, `knee_tx`, `knee_ty`, `knee_tz` or a flexion scenario's
//! `flexion.secondary_kinematics`). The formula above is the Lenhart (2015) `knee_r` joint's
//! own transform (`T(tx, ty, tz) · Rz(−knee_flex) · Rx(knee_add) · Ry(knee_rot)`, parent =
//! femur frame), so measured coordinates enter it directly. Precedence, per coordinate:
//! 1. a measured coordinate **replaces** the coupling's value of that coordinate (in either
//!    mode: with `"hinge"` it replaces the hinge's zero);
//! 2. a coordinate the data do not give keeps the coupling's (or the hinge's) value;
//! 3. the knee's own varus and internal-rotation inputs — a file's `knee_adduction` /
//!    `knee_rotation` columns, the flexion scenario's `varus_deg` / `tibial_rotation_deg`,
//!    and the risk-factor mechanisms that rotate the tibia (pronation, hip-driven femoral
//!    rotation, a tight biceps femoris) — **add on top** of the result.
//!
//! The coupled-motion fields of [`Joint`] (and frames.csv's `tibia_coupled_*` columns) report
//! the secondary motion actually applied, whichever its source.
//!
//! The extensor moment of the patellar tendon is the generalised force of the flexion
//! coordinate: `M = f · ∂x_tub/∂θ` (virtual work), so with the coupling it includes the
//! tibia's rollback and rotation — as OpenSim computes moment arms of coupled joints.
//! Measured coordinates are independent generalised coordinates (as in the 6-DOF
//! OpenSim-JAM knee): they are held fixed in that derivative, so the lever is the partial
//! one of `knee_flex` (the coupling still moves the coordinates the data do not give).

use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion};
use serde::Serialize;

use super::KneeAngles;
use crate::math::{rot_x, rot_y, rot_z, Vec3};
use crate::model::Model;
use crate::params::Tibiofemoral;
use crate::tissues::Anchor;

/// Walker et al. (1988) coupling as in Rajagopal et al. (2016) `walker_knee_r` (values copied
/// from the model file): knee flexion (rad) → rotation2 (adduction, rad), rotation3 (tibial
/// internal rotation, rad), translation1 and translation2 (m).
// The flexion column is the model file's, rounded as published (10° steps in radians to four
// places), not approximations of π fractions to replace by the constants.
#[allow(clippy::approx_constant)]
pub const WALKER_1988: [[f64; 5]; 13] = [
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [0.1745, 0.0126809, 0.059461, 0.000479, 0.000988],
    [0.3491, 0.0226969, 0.109399, 0.000835, 0.001899],
    [0.5236, 0.0296054, 0.150618, 0.001086, 0.002734],
    [0.6981, 0.0332049, 0.18392, 0.001251, 0.003492],
    [0.8727, 0.0335354, 0.210107, 0.001346, 0.004173],
    [1.0472, 0.0308779, 0.229983, 0.001391, 0.004777],
    [1.2217, 0.0257548, 0.24435, 0.001403, 0.005305],
    [1.3963, 0.0189295, 0.254012, 0.0014, 0.005756],
    [1.5708, 0.011407, 0.25977, 0.0014, 0.00613],
    [1.7453, 0.00443314, 0.262428, 0.001421, 0.006427],
    [1.9199, -0.00050475, 0.262788, 0.001481, 0.006648],
    [2.0944, -0.0016782, 0.261654, 0.001599, 0.006792],
];

/// Rajagopal 2016 walker knee: the joint frame's y axis in the femur frame (orientation
/// (−1.64157, 1.44618, 1.5708) rad, body-fixed XYZ): nearly the femoral long axis.
pub const WALKER_AXIS_Y: [f64; 3] = [-0.124, 0.990, -0.070];
/// The joint frame's z axis in the femur frame: nearly femoral anterior.
pub const WALKER_AXIS_Z: [f64; 3] = [0.992, 0.124, -0.009];

/// Secondary tibial motion at knee flexion `x` (rad): (adduction rad, internal rotation rad,
/// translation along [`WALKER_AXIS_Y`] mm, along [`WALKER_AXIS_Z`] mm). Natural cubic
/// interpolation would follow OpenSim's spline more closely; piecewise-cubic Hermite with
/// centred slopes (C¹) is used, held constant outside 0…120° (hyperextension takes the 0°
/// values, deep flexion the 120° ones).
pub fn walker_coupling(x: f64) -> [f64; 4] {
    let t = &WALKER_1988;
    let mut out: [f64; 4] = std::array::from_fn(|c| {
        crate::math::hermite_centred(t.len(), |i| t[i][0], |i| t[i][c + 1], x)
    });
    out[2] *= 1000.0;
    out[3] *= 1000.0;
    out
}

/// Measured tibiofemoral secondary coordinates: the OpenSim-JAM knee's (Lenhart 2015
/// `knee_r`) `knee_add`, `knee_rot`, `knee_tx`, `knee_ty`, `knee_tz`, converted to kneetrack
/// units; `None` where the data do not give a coordinate. A given coordinate replaces the
/// coupling's value of it; the knee's varus and rotation inputs still add on top (see the
/// module doc). Default: nothing measured (the coupling drives every coordinate).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct SecondaryCoords {
    /// Ab/adduction about the floating (femoral anterior) axis, rad, + adduction (varus)
    /// (`knee_add`).
    pub adduction: Option<f64>,
    /// Rotation about the tibial long axis, rad, + internal rotation of the tibia
    /// (`knee_rot`).
    pub internal_rotation: Option<f64>,
    /// Translation of the tibia frame's origin in the femur frame, mm: X anterior
    /// (`knee_tx`), Y proximal (`knee_ty`), Z along the femur frame's Z (`knee_tz`): lateral
    /// for a right knee, medial for a left one — OpenSim's left legs keep the ground's Z (the
    /// subject's right), as kneetrack's mirrored left femur frame does.
    pub translation_mm: [Option<f64>; 3],
}

impl SecondaryCoords {
    /// True when no coordinate is given.
    pub fn is_empty(&self) -> bool {
        self.adduction.is_none()
            && self.internal_rotation.is_none()
            && self.translation_mm.iter().all(Option::is_none)
    }

    /// Every given coordinate times `f` (the approach frames ramp them from zero).
    pub fn scaled(&self, f: f64) -> Self {
        Self {
            adduction: self.adduction.map(|v| v * f),
            internal_rotation: self.internal_rotation.map(|v| v * f),
            translation_mm: self.translation_mm.map(|t| t.map(|v| v * f)),
        }
    }
}

/// Output of the kinematics stage.
#[derive(Debug, Clone, Copy)]
pub struct Joint {
    /// Tibia pose in the femur frame.
    pub femur_from_tibia: Isometry3<f64>,
    /// Tibial tuberosity (patellar tendon insertion), femur frame, mm.
    pub tuberosity: Vec3,
    /// ∂(tuberosity)/∂(knee flexion), femur frame, mm/rad: the lever of the extensor moment
    /// (`M = f_PT · this`).
    pub tuberosity_rate: Vec3,
    /// Secondary motion added to the input angles — the coupling's, or the measured
    /// coordinates where [`KneeAngles::secondary`] gives them: adduction (rad), internal
    /// rotation (rad), and the tibial translation (femur frame, mm).
    pub coupled_varus: f64,
    /// Secondary tibial internal rotation added, rad (the same sources).
    pub coupled_internal_rotation: f64,
    /// Secondary tibial translation, femur frame, mm (the same sources).
    pub coupled_translation: Vec3,
}

/// The secondary motion of a frame: adduction (rad), internal rotation (rad), translation
/// (femur frame, mm) — the coupling's (or the hinge's zero), each coordinate replaced by
/// its measured value where `knee.secondary` gives one.
pub fn secondary_motion(model: &Model, knee: &KneeAngles) -> (f64, f64, Vec3) {
    let lat = model.lat;
    let (cv, cr, mut t) = match model.tibiofemoral {
        Tibiofemoral::Hinge => (0.0, 0.0, Vec3::zeros()),
        Tibiofemoral::Coupled => {
            let [a, r, ty, tz] = walker_coupling(knee.flexion);
            let (ay, az) = (Vec3::from(WALKER_AXIS_Y), Vec3::from(WALKER_AXIS_Z));
            let mut t = ay * ty + az * tz;
            t.z *= lat;
            (a, r, t)
        }
        Tibiofemoral::Seated => {
            let [a, r, tx, ty, tz] = model
                .envelope
                .as_ref()
                .expect("Model::new solves the envelope of a seated knee")
                .at(knee.flexion);
            (a, r, Vec3::new(tx, ty, lat * tz))
        }
    };
    let m = &knee.secondary;
    for (i, v) in m.translation_mm.iter().enumerate() {
        if let Some(v) = v {
            t[i] = *v;
        }
    }
    (
        m.adduction.unwrap_or(cv),
        m.internal_rotation.unwrap_or(cr),
        t,
    )
}

/// The tibia pose alone, with the secondary motion added (see the module doc).
fn tibia_pose(model: &Model, knee: &KneeAngles) -> (Isometry3<f64>, f64, f64, Vec3) {
    let lat = model.lat;
    let (cv, cr, t) = secondary_motion(model, knee);
    let r = rot_z(-knee.flexion)
        * rot_x(lat * (knee.varus + cv))
        * rot_y(lat * (knee.internal_rotation + cr));
    (
        Isometry3::from_parts(
            Translation3::from(t),
            UnitQuaternion::from_rotation_matrix(&r),
        ),
        cv,
        cr,
        t,
    )
}

/// Poses the tibia and its tuberosity.
pub fn kinematics(model: &Model, knee: &KneeAngles) -> Joint {
    let (femur_from_tibia, cv, cr, t) = tibia_pose(model, knee);
    let at = |pose: &Isometry3<f64>| match model.patellar_tendon.anchor {
        Anchor::Tibia(p) => (pose * Point3::from(p)).coords,
        Anchor::Femur(p) => p,
    };
    let tub = at(&femur_from_tibia);
    // Central difference of the tuberosity path (the coupling is C¹; 1e-4 rad keeps the
    // truncation error below 1e-6 mm/rad).
    const H: f64 = 1e-4;
    let mut k1 = *knee;
    let mut k0 = *knee;
    k1.flexion += H;
    k0.flexion -= H;
    let rate = (at(&tibia_pose(model, &k1).0) - at(&tibia_pose(model, &k0).0)) / (2.0 * H);
    Joint {
        femur_from_tibia,
        tuberosity: tub,
        tuberosity_rate: rate,
        coupled_varus: cv,
        coupled_internal_rotation: cr,
        coupled_translation: t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walker_coupling_passes_through_its_table_and_rotates_internally_with_flexion() {
        for row in WALKER_1988 {
            let c = walker_coupling(row[0]);
            assert!((c[0] - row[1]).abs() < 1e-12 && (c[1] - row[2]).abs() < 1e-12);
            assert!((c[2] - 1000.0 * row[3]).abs() < 1e-9 && (c[3] - 1000.0 * row[4]).abs() < 1e-9);
        }
        let r60 = walker_coupling(60f64.to_radians())[1].to_degrees();
        assert!((12.0..14.0).contains(&r60), "{r60}");
        assert_eq!(walker_coupling(-0.2), walker_coupling(0.0));
    }

    fn parametric(tibiofemoral: Tibiofemoral, side: crate::params::Side) -> Model {
        let mut p = crate::params::ModelParams::default();
        p.anatomy.model = crate::params::AnatomyModel::Parametric;
        p.anatomy.tibiofemoral = Some(tibiofemoral);
        p.subject.side = side;
        Model::new(&p).unwrap()
    }

    #[test]
    fn measured_coordinates_replace_the_coupling_one_by_one() {
        use crate::params::Side;
        let model = parametric(Tibiofemoral::Coupled, Side::Right);
        let flexion = 60f64.to_radians();
        let coupled = secondary_motion(
            &model,
            &KneeAngles {
                flexion,
                ..Default::default()
            },
        );
        let knee = KneeAngles {
            flexion,
            secondary: SecondaryCoords {
                adduction: Some(0.05),
                internal_rotation: None,
                translation_mm: [None, Some(-2.0), Some(1.5)],
            },
            ..Default::default()
        };
        let (a, r, t) = secondary_motion(&model, &knee);
        assert_eq!(a, 0.05);
        // Absent coordinates keep the coupling's values (13° of rotation at 60°).
        assert_eq!(r, coupled.1);
        assert!(r.to_degrees() > 12.0);
        assert_eq!(t.x, coupled.2.x);
        assert!(t.x.abs() > 0.1, "{t}");
        assert_eq!((t.y, t.z), (-2.0, 1.5));
        // A hinge takes the measured values too; the rest stay zero.
        let hinge = parametric(Tibiofemoral::Hinge, Side::Right);
        let (a, r, t) = secondary_motion(&hinge, &knee);
        assert_eq!((a, r, t.x, t.y, t.z), (0.05, 0.0, 0.0, -2.0, 1.5));
        // The knee's own varus and rotation inputs add on top of the measured motion.
        let j = kinematics(
            &hinge,
            &KneeAngles {
                varus: 0.02,
                internal_rotation: 0.1,
                ..knee
            },
        );
        let (v, ir) = (0.05 + 0.02, 0.1);
        let expect = rot_z(-flexion) * rot_x(v) * rot_y(ir);
        let got = j.femur_from_tibia.rotation.to_rotation_matrix();
        assert!((got.matrix() - expect.matrix()).norm() < 1e-12);
        assert_eq!(
            j.femur_from_tibia.translation.vector,
            Vec3::new(0.0, -2.0, 1.5)
        );
        assert_eq!(j.coupled_varus, 0.05);
    }

    /// The pose with every coordinate measured is the OpenSim-JAM knee's own: the Lenhart
    /// `knee_r` joint transform at the same coordinates (right knee), and its mirror image
    /// for a left knee (`knee_tz` along the femur frame's Z, which is medial there).
    #[test]
    fn measured_pose_is_the_lenhart_knee_joint_transform() {
        use crate::osim::{load_osim, KneeCoords};
        use crate::params::Side;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/lenhart2015/lenhart2015.osim");
        let osim = load_osim(&path, Side::Right).unwrap();
        let c = KneeCoords {
            flex_rad: 0.9,
            add_rad: 0.06,
            rot_rad: -0.2,
            tx_mm: 3.0,
            ty_mm: -1.5,
            tz_mm: 2.5,
        };
        let knee = KneeAngles {
            flexion: c.flex_rad,
            secondary: SecondaryCoords {
                adduction: Some(c.add_rad),
                internal_rotation: Some(c.rot_rad),
                translation_mm: [Some(c.tx_mm), Some(c.ty_mm), Some(c.tz_mm)],
            },
            ..Default::default()
        };
        let want = osim.femur_from_tibia(&c);
        for side in [Side::Right, Side::Left] {
            let got = kinematics(&parametric(Tibiofemoral::Coupled, side), &knee).femur_from_tibia;
            let m = nalgebra::Matrix3::from_diagonal(&Vec3::new(1.0, 1.0, side.lateral_sign()));
            let want_r = m * want.rotation.to_rotation_matrix().matrix() * m;
            let want_t = want.translation.vector;
            assert!(
                (got.rotation.to_rotation_matrix().matrix() - want_r).norm() < 1e-9,
                "{side:?}"
            );
            // The translation is in the femur frame as the file gives it (no mirroring).
            assert!((got.translation.vector - want_t).norm() < 1e-9, "{side:?}");
        }
    }
}
