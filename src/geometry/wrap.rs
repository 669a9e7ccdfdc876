//! A muscle line wrapping over a cylinder (OpenSim's `WrapCylinder` with a quadrant): the
//! quadriceps tendon over the femur in flexion.
//!
//! Without it a head pulls from its patellar insertion straight toward its femoral origin;
//! beyond about 70° of flexion that line passes through the trochlea, and the patella is
//! pulled into the groove by its base (contact on the proximal pole, patellar tendon nearly
//! slack: a patellar tendon / quadriceps ratio of 0.2 at 90° against the measured 0.6–0.7,
//! van Eijden 1986). Lenhart et al. (2015) wrap the vasti and rectus femoris over cylinders
//! about the femoral medio-lateral axis (`KnExt_at_fem_r`, radius 25.9 mm). The path is then
//! insertion → tangent point → arc → tangent point → origin, a helix on the cylinder
//! (a geodesic), and the force on the patella acts along the first straight segment.
//!
//! The path engages when the straight line would cross the cylinder on the allowed side
//! (`quadrant`, in the cylinder's own axes) and neither end is inside it (OpenSim skips the
//! wrap then too). At engagement the wrapped direction equals the straight one, so the
//! line of action is continuous in the patella pose.

use nalgebra::Isometry3;

use crate::math::{Mat3, Vec3};

/// A wrap cylinder, fixed in the femur frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WrapCylinder {
    /// Pose of the cylinder (local z = axis) in the femur frame, mm.
    pub femur_from_cylinder: Isometry3<f64>,
    /// Radius, mm.
    pub radius_mm: f64,
    /// Allowed side in the cylinder's axes: (axis 0 = x / 1 = y, sign), or `None` = all.
    pub quadrant: Option<(usize, f64)>,
}

/// The first straight segment of a (possibly wrapped) path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathStart {
    /// Unit direction from the insertion along the path, femur frame.
    pub direction: Vec3,
    /// Length of the straight segment from the insertion (to the tangent point, or to the
    /// origin when not wrapped), mm — the lever of the direction's change with the insertion.
    pub segment_mm: f64,
    /// Whether the path wraps.
    pub wrapped: bool,
    /// ∂direction/∂insertion, femur frame, 1/mm (origin and cylinder fixed): exact for the
    /// wrapped path too, where the tangent point slides round the cylinder and the helix's
    /// pitch follows the insertion — the insertion's axial motion is shared by the whole
    /// path (planar length / first segment), so the line's stiffness along the cylinder
    /// axis is far below a straight line's. −(I − u uᵀ)/length when straight.
    pub d_direction: Mat3,
}

impl WrapCylinder {
    /// Parses an OpenSim quadrant name ("all", "x", "-x", "y", "-y").
    pub fn quadrant_from(name: &str) -> Option<(usize, f64)> {
        match name {
            "x" => Some((0, 1.0)),
            "-x" => Some((0, -1.0)),
            "y" => Some((1, 1.0)),
            "-y" => Some((1, -1.0)),
            _ => None,
        }
    }
}

/// The path from `insertion` to `origin` (femur frame, mm) over `cyl`: its starting
/// direction and straight-segment length.
pub fn wrap_path(insertion: &Vec3, origin: &Vec3, cyl: &WrapCylinder) -> PathStart {
    let straight = || {
        let d = origin - insertion;
        let l = d.norm();
        let u = d / l;
        PathStart {
            direction: u,
            segment_mm: l,
            wrapped: false,
            d_direction: -(Mat3::identity() - u * u.transpose()) / l,
        }
    };
    let to_local = |v: &Vec3| {
        cyl.femur_from_cylinder
            .inverse_transform_point(&(*v).into())
            .coords
    };
    let (p, o) = (to_local(insertion), to_local(origin));
    let r = cyl.radius_mm;
    let (pp, oo) = (
        (p.x * p.x + p.y * p.y).sqrt(),
        (o.x * o.x + o.y * o.y).sqrt(),
    );
    if pp <= r || oo <= r {
        return straight();
    }
    // Closest approach of the planar segment to the axis.
    let (dx, dy) = (o.x - p.x, o.y - p.y);
    let dd = dx * dx + dy * dy;
    let t = if dd > 0.0 {
        (-(p.x * dx + p.y * dy) / dd).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (mx, my) = (p.x + t * dx, p.y + t * dy);
    if mx * mx + my * my >= r * r {
        return straight();
    }
    if let Some((axis, sign)) = cyl.quadrant {
        if [mx, my][axis] * sign <= 0.0 {
            return straight();
        }
    }
    // Tangent points on the side of the closest approach.
    // The tangent point of the side the line crosses, and that side (+1: at φ + α).
    let tangent = |x: f64, y: f64, len: f64| {
        let phi = y.atan2(x);
        let a = (r / len).acos();
        let c1 = (r * (phi + a).cos(), r * (phi + a).sin());
        let c2 = (r * (phi - a).cos(), r * (phi - a).sin());
        if c1.0 * mx + c1.1 * my >= c2.0 * mx + c2.1 * my {
            (c1, 1.0)
        } else {
            (c2, -1.0)
        }
    };
    let (t1, side) = tangent(p.x, p.y, pp);
    let (t2, _) = tangent(o.x, o.y, oo);
    let l1 = (pp * pp - r * r).sqrt();
    let l2 = (oo * oo - r * r).sqrt();
    let cosang = ((t1.0 * t2.0 + t1.1 * t2.1) / (r * r)).clamp(-1.0, 1.0);
    let arc = r * cosang.acos();
    let planar = l1 + arc + l2;
    let dz = (o.z - p.z) * l1 / planar;
    let local = Vec3::new(t1.0 - p.x, t1.1 - p.y, dz);
    let seg = local.norm();
    // ∂local/∂p (rows: the vector's components; columns: p's), by the chain rule through
    // ρ = |p_xy|, the tangent point's angle β = atan2(p_y, p_x) ± acos(r/ρ), l1, the arc
    // and the helix's rise dz.
    let drho = [p.x / pp, p.y / pp, 0.0];
    let dphi = [-p.y / (pp * pp), p.x / (pp * pp), 0.0];
    let dalpha = drho.map(|v| r / (pp * l1) * v);
    let dbeta: [f64; 3] = std::array::from_fn(|k| dphi[k] + side * dalpha[k]);
    let dl1 = drho.map(|v| pp / l1 * v);
    // The arc grows as t1 turns away from t2: dθ/dβ = sign(sin(β − β2)).
    let turn = if t2.0 * t1.1 - t2.1 * t1.0 >= 0.0 {
        1.0
    } else {
        -1.0
    };
    let dplanar: [f64; 3] = std::array::from_fn(|k| dl1[k] + r * turn * dbeta[k]);
    let rise = o.z - p.z;
    let mut dv = Mat3::zeros();
    for k in 0..3 {
        dv[(0, k)] = -t1.1 * dbeta[k] - if k == 0 { 1.0 } else { 0.0 };
        dv[(1, k)] = t1.0 * dbeta[k] - if k == 1 { 1.0 } else { 0.0 };
        dv[(2, k)] = rise * (dl1[k] / planar - l1 * dplanar[k] / (planar * planar))
            - if k == 2 { l1 / planar } else { 0.0 };
    }
    let u = local / seg;
    let du = (Mat3::identity() - u * u.transpose()) * dv / seg;
    let rot = cyl.femur_from_cylinder.rotation.to_rotation_matrix();
    let rot = rot.matrix();
    PathStart {
        direction: cyl.femur_from_cylinder.rotation * u,
        segment_mm: seg,
        wrapped: true,
        d_direction: rot * du * rot.transpose(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Translation3, UnitQuaternion};

    fn cyl() -> WrapCylinder {
        WrapCylinder {
            femur_from_cylinder: Isometry3::from_parts(
                Translation3::new(0.0, 0.0, 0.0),
                UnitQuaternion::identity(),
            ),
            radius_mm: 20.0,
            quadrant: Some((0, 1.0)),
        }
    }

    #[test]
    fn a_line_clear_of_the_cylinder_is_straight_and_one_across_it_leaves_tangentially() {
        let c = cyl();
        let s = wrap_path(
            &Vec3::new(30.0, -40.0, 0.0),
            &Vec3::new(40.0, 200.0, 0.0),
            &c,
        );
        assert!(!s.wrapped);
        // from below-front to above-front passing through the cylinder: wraps over +x
        let p = Vec3::new(10.0, -40.0, 2.0);
        let s = wrap_path(&p, &Vec3::new(10.0, 200.0, 5.0), &c);
        assert!(s.wrapped);
        // tangent: the segment's end lies on the circle and is perpendicular to the radius
        let t = p + s.direction * s.segment_mm;
        assert!(((t.x * t.x + t.y * t.y).sqrt() - 20.0).abs() < 1e-9);
        assert!((t.x * s.direction.x + t.y * s.direction.y).abs() < 1e-9);
        assert!(t.x > 0.0, "wraps over the allowed side");
        // the same line on the −x side does not wrap (quadrant x)
        assert!(
            !wrap_path(
                &Vec3::new(-10.0, -40.0, 0.0),
                &Vec3::new(-10.0, 200.0, 0.0),
                &c
            )
            .wrapped
        );
    }

    /// The direction's derivative matches central differences, wrapped (on either side,
    /// with a rise along the axis, in a tilted cylinder) and straight.
    #[test]
    fn the_direction_derivative_matches_central_differences() {
        let tilted = WrapCylinder {
            femur_from_cylinder: Isometry3::from_parts(
                Translation3::new(3.0, -2.0, 1.0),
                UnitQuaternion::from_euler_angles(0.3, -0.2, 0.5),
            ),
            radius_mm: 20.0,
            quadrant: None,
        };
        let cases = [
            (
                cyl(),
                Vec3::new(10.0, -40.0, 2.0),
                Vec3::new(10.0, 200.0, 25.0),
                true,
            ),
            (
                cyl(),
                Vec3::new(12.0, -35.0, -8.0),
                Vec3::new(15.0, 180.0, 30.0),
                true,
            ),
            (
                tilted,
                Vec3::new(-12.0, -35.0, -8.0),
                Vec3::new(-15.0, 180.0, 30.0),
                true,
            ),
            (
                cyl(),
                Vec3::new(30.0, -40.0, 0.0),
                Vec3::new(40.0, 200.0, 0.0),
                false,
            ),
        ];
        for (c, p, o, wrapped) in cases {
            let s = wrap_path(&p, &o, &c);
            assert_eq!(s.wrapped, wrapped);
            let h = 1e-5;
            for k in 0..3 {
                let mut e = Vec3::zeros();
                e[k] = h;
                let fd = (wrap_path(&(p + e), &o, &c).direction
                    - wrap_path(&(p - e), &o, &c).direction)
                    / (2.0 * h);
                for i in 0..3 {
                    let an = s.d_direction[(i, k)];
                    assert!((an - fd[i]).abs() < 1e-7, "({i},{k}): {an} vs {}", fd[i]);
                }
            }
        }
    }

    #[test]
    fn the_direction_is_continuous_as_the_wrap_engages() {
        let c = cyl();
        let o = Vec3::new(21.0, 200.0, 3.0);
        let mut last: Option<Vec3> = None;
        for i in 0..200 {
            let p = Vec3::new(25.0 - 0.05 * i as f64, -40.0, 0.0);
            let d = wrap_path(&p, &o, &c).direction;
            if let Some(l) = last {
                assert!((d - l).norm() < 2e-3, "jump at step {i}");
            }
            last = Some(d);
        }
    }
}
