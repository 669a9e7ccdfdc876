//! Soft-tissue force elements acting on the patella: quadriceps heads, ligaments (patellar
//! tendon, MPFL, lateral retinaculum) and the iliopatellar band of the IT band.
//!
//! Each element is a straight line from a patella point (patella frame) to an anchor (femur
//! or tibia frame); the quadriceps may wrap over the trochlea. Their tension laws live here;
//! their evaluation at a pose lives in `step::tissues`.

use crate::math::Vec3;

/// Where the far end of a line is fixed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Anchor {
    /// A point fixed in the femur frame, mm.
    Femur(Vec3),
    /// A point fixed in the tibia frame, mm (moves with the knee angles).
    Tibia(Vec3),
}

/// A quadriceps head: tension = quadriceps scale × PCSA share × strength factor.
#[derive(Debug, Clone, PartialEq)]
pub struct QuadHead {
    /// Head name (`rf`, `vi`, `vl`, `vlo`, `vml`, `vmo`).
    pub name: &'static str,
    /// Insertion on the patella base, patella frame, mm.
    pub insertion: Vec3,
    /// Origin (or the previous via point), femur frame, mm.
    pub origin: Vec3,
    /// share × strength: the fraction of the quadriceps scale this head carries.
    pub weight: f64,
}

/// Blankevoort et al. (1991) ligament: quadratic toe region up to 2·ε_l, linear beyond,
/// tension only.
#[derive(Debug, Clone, PartialEq)]
pub struct Ligament {
    /// Name for outputs.
    pub name: &'static str,
    /// Attachment on the patella, patella frame, mm.
    pub patella: Vec3,
    /// Far attachment.
    pub anchor: Anchor,
    /// Slack (zero-force) length, mm.
    pub slack_mm: f64,
    /// Linear-region stiffness, N/mm (0 = cut).
    pub stiffness_n_per_mm: f64,
    /// Toe-region transition strain ε_l (0.03, Blankevoort 1991).
    pub transition_strain: f64,
}

impl Ligament {
    /// Tension (N) and dT/dL (N/mm) at length `l` (mm).
    #[inline]
    pub fn tension(&self, l: f64) -> (f64, f64) {
        let l0 = self.slack_mm;
        let e = (l - l0) / l0;
        let ke = self.stiffness_n_per_mm * l0; // N per unit strain
        let el = self.transition_strain;
        if e <= 0.0 || ke == 0.0 {
            (0.0, 0.0)
        } else if e <= 2.0 * el {
            (ke * e * e / (4.0 * el), ke * e / (2.0 * el) / l0)
        } else {
            (ke * (e - el), ke / l0)
        }
    }
}

/// A line of constant tension (the iliopatellar band carrying its fraction of a static ITB
/// tension).
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantLine {
    /// Attachment on the patella, patella frame, mm.
    pub patella: Vec3,
    /// Anchor, femur frame, mm.
    pub anchor: Vec3,
    /// Tension, N.
    pub tension_n: f64,
}

/// Direction (unit, from `p` toward `o`) and free length of a quadriceps line that may wrap
/// over a cylinder of radius `r` about the flexion axis (femur Z). In the sagittal
/// projection, when the straight segment would cut the cylinder, the line leaves `p`
/// tangent to it on the side the segment cut through; the z slope is spread over the
/// wrapped path length. A cylinder wrap stands in for the L model's quadriceps wrapping
/// surfaces over the distal femur.
pub fn wrapped_direction(p: &Vec3, o: &Vec3, r: f64) -> (Vec3, f64) {
    let straight = || {
        let d = o - p;
        let l = d.norm();
        (d / l, l)
    };
    let (px, py, ox, oy) = (p.x, p.y, o.x, o.y);
    let rp = (px * px + py * py).sqrt();
    if rp <= r {
        return straight();
    }
    let (dx, dy) = (ox - px, oy - py);
    let dd = dx * dx + dy * dy;
    let tc = (-(px * dx + py * dy) / dd).clamp(0.0, 1.0);
    let (cx, cy) = (px + tc * dx, py + tc * dy);
    if tc <= 0.0 || tc >= 1.0 || (cx * cx + cy * cy).sqrt() >= r {
        return straight();
    }
    // Tangent points from p: angle ±acos(r/|p|) from p's direction.
    let alpha = (r / rp).acos();
    let base = py.atan2(px);
    let cang = cy.atan2(cx);
    let diff = |a: f64| ((a - cang + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI).abs();
    let (a1, a2) = (base + alpha, base - alpha);
    let ta = if diff(a1) < diff(a2) { a1 } else { a2 };
    let (tx, ty) = (r * ta.cos(), r * ta.sin());
    let (ux, uy) = (tx - px, ty - py);
    let lt = (ux * ux + uy * uy).sqrt();
    // Rest of the path: arc to the tangent point from o, then straight to o (approximated
    // by the chord to o, adequate for spreading the z slope).
    let rest = ((ox - tx).powi(2) + (oy - ty).powi(2)).sqrt();
    let dz = (o.z - p.z) / (lt + rest).max(1e-9);
    let u = Vec3::new(ux / lt, uy / lt, dz);
    let n = u.norm();
    (u / n, lt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blankevoort_law_is_continuous_and_tension_only() {
        let l = Ligament {
            name: "t",
            patella: Vec3::zeros(),
            anchor: Anchor::Femur(Vec3::zeros()),
            slack_mm: 40.0,
            stiffness_n_per_mm: 42.5,
            transition_strain: 0.03,
        };
        assert_eq!(l.tension(39.0).0, 0.0);
        let at = 40.0 * (1.0 + 0.06);
        let (a, da) = l.tension(at - 1e-9);
        let (b, db) = l.tension(at + 1e-9);
        assert!((a - b).abs() < 1e-6 && (da - db).abs() < 1e-6);
        assert!((db - 42.5).abs() < 1e-9, "linear-region stiffness is the N/mm given");
    }

    #[test]
    fn wrap_engages_only_when_the_line_cuts_the_cylinder() {
        let (u, l) = wrapped_direction(&Vec3::new(50.0, 0.0, 0.0), &Vec3::new(50.0, 150.0, 0.0), 38.0);
        assert!((u - Vec3::new(0.0, 1.0, 0.0)).norm() < 1e-12 && (l - 150.0).abs() < 1e-9);
        // a deep-flexion patella below the trochlea pulling toward a proximal origin
        let p = Vec3::new(30.0, -35.0, 0.0);
        let (u, _) = wrapped_direction(&p, &Vec3::new(38.0, 150.0, 0.0), 38.0);
        let straight = (Vec3::new(38.0, 150.0, 0.0) - p).normalize();
        assert!(u.x > straight.x, "wrapped line leaves more anteriorly");
        // tangent: the line from p along u stays outside the cylinder
        let t = -(p.x * u.x + p.y * u.y) / (u.x * u.x + u.y * u.y);
        let c = p + u * t;
        assert!((c.x * c.x + c.y * c.y).sqrt() > 38.0 - 1e-6);
    }
}
