//! OpenSim 4 frame and joint kinematics: `PhysicalOffsetFrame` orientations and the
//! `CustomJoint` `SpatialTransform`.
//!
//! Conventions (OpenSim 4 / Simbody `MobilizedBody::FunctionBased`):
//! * an `orientation` (offset frame, contact geometry) is a body-fixed X-Y-Z Euler sequence,
//!   R = Rx(a)·Ry(b)·Rz(c);
//! * a `SpatialTransform` gives the child frame M in the parent frame F as
//!   X_FM = (R1·R2·R3, t): R_i is the rotation by f_i(q) about the unit axis of
//!   `rotation{i}`, each axis expressed in the frame left by the rotations before it
//!   (a body-fixed sequence); t = Σ f_j(q)·axis_j over `translation1..3`, axes fixed in F.

use nalgebra::{Isometry3, Translation3, Unit, UnitQuaternion, Vector3};

use super::function::OsimFunction;

/// Whether a transform axis rotates or translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisKind {
    /// `rotation1..3`: the function value is an angle, rad.
    Rotation,
    /// `translation1..3`: the function value is a distance, m (OpenSim units).
    Translation,
}

/// One `TransformAxis` of a joint's `SpatialTransform`.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformAxis {
    /// `rotation1`, `rotation2`, `rotation3`, `translation1`, `translation2` or `translation3`.
    pub name: String,
    /// Rotation or translation.
    pub kind: AxisKind,
    /// The coordinate the function takes, if any (`None`: a constant axis).
    pub coordinate: Option<String>,
    /// Unit axis. A rotation axis is expressed in the frame left by the rotations listed
    /// before it (body-fixed sequence; the first is in the joint's parent frame); a
    /// translation axis is fixed in the joint's parent frame.
    pub axis: [f64; 3],
    /// Axis value as a function of the coordinate, in OpenSim units: argument rad or m,
    /// value rad (rotation) or m (translation).
    pub function: OsimFunction,
}

impl TransformAxis {
    /// The function's value with `value_of` giving each coordinate's value (OpenSim units);
    /// a constant axis evaluates its function at 0.
    pub fn value(&self, value_of: &dyn Fn(&str) -> f64) -> f64 {
        let x = self.coordinate.as_deref().map(value_of).unwrap_or(0.0);
        self.function.value(x)
    }
}

/// Child-in-parent transform X_FM of a joint whose axes are `axes`, metres. `value_of`
/// gives each coordinate's value in OpenSim units (rad or m).
pub fn child_in_parent_m(axes: &[TransformAxis], value_of: &dyn Fn(&str) -> f64) -> Isometry3<f64> {
    let mut rotation = UnitQuaternion::identity();
    let mut translation = Vector3::zeros();
    for axis in axes.iter().filter(|a| a.kind == AxisKind::Rotation) {
        let angle = axis.value(value_of);
        rotation *= UnitQuaternion::from_axis_angle(&unit(axis.axis), angle);
    }
    for axis in axes.iter().filter(|a| a.kind == AxisKind::Translation) {
        translation += unit(axis.axis).into_inner() * axis.value(value_of);
    }
    Isometry3::from_parts(Translation3::from(translation), rotation)
}

/// Body-fixed X-Y-Z rotation Rx(a)·Ry(b)·Rz(c) (OpenSim `orientation`).
pub fn rotation_xyz(angles: [f64; 3]) -> UnitQuaternion<f64> {
    UnitQuaternion::from_axis_angle(&Vector3::x_axis(), angles[0])
        * UnitQuaternion::from_axis_angle(&Vector3::y_axis(), angles[1])
        * UnitQuaternion::from_axis_angle(&Vector3::z_axis(), angles[2])
}

/// An offset frame's transform from its `translation` (m) and `orientation` (rad).
pub fn offset_m(translation: [f64; 3], orientation: [f64; 3]) -> Isometry3<f64> {
    Isometry3::from_parts(
        Translation3::new(translation[0], translation[1], translation[2]),
        rotation_xyz(orientation),
    )
}

/// The same transform with its translation in mm.
pub fn to_mm(x: &Isometry3<f64>) -> Isometry3<f64> {
    Isometry3::from_parts(
        Translation3::from(x.translation.vector * 1000.0),
        x.rotation,
    )
}

fn unit(a: [f64; 3]) -> Unit<Vector3<f64>> {
    Unit::new_normalize(Vector3::new(a[0], a[1], a[2]))
}
