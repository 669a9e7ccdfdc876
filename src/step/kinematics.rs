//! Stage 1 — kinematics: pose the tibia from the Grood & Suntay (1983) angles.
//!
//! The tibia rotates about a fixed flexion axis (femur Z through the origin, the L knee
//! flexion axis), then about the floating ab/adduction axis, then about its long axis:
//! `femur_from_tibia = Rz(−flexion) · Rx(lat·varus) · Ry(lat·internal_rotation)`. A fixed
//! axis ignores the small tibiofemoral translations of a 6-DOF knee; it keeps the extensor
//! moment a moment about one well-defined axis.

use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion};

use super::KneeAngles;
use crate::math::{rot_x, rot_y, rot_z, Vec3};
use crate::model::Model;
use crate::tissues::Anchor;

/// Output of the kinematics stage.
#[derive(Debug, Clone, Copy)]
pub struct Joint {
    /// Tibia pose in the femur frame.
    pub femur_from_tibia: Isometry3<f64>,
    /// Tibial tuberosity (patellar tendon insertion), femur frame, mm.
    pub tuberosity: Vec3,
}

/// Poses the tibia and its tuberosity.
pub fn kinematics(model: &Model, knee: &KneeAngles) -> Joint {
    let lat = model.lat;
    let r = rot_z(-knee.flexion) * rot_x(lat * knee.varus) * rot_y(lat * knee.internal_rotation);
    let femur_from_tibia = Isometry3::from_parts(
        Translation3::identity(),
        UnitQuaternion::from_rotation_matrix(&r),
    );
    let tub = match model.patellar_tendon.anchor {
        Anchor::Tibia(p) => femur_from_tibia * Point3::from(p),
        Anchor::Femur(p) => Point3::from(p),
    };
    Joint {
        femur_from_tibia,
        tuberosity: tub.coords,
    }
}
