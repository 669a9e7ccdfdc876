//! Soft-tissue force elements acting on the patella: quadriceps heads, ligaments (patellar
//! tendon, MPFL, lateral retinaculum) and the iliopatellar band of the IT band.
//!
//! Each element is a straight line from a patella point (patella frame) to an anchor (femur
//! or tibia frame). Their tension laws live here; their evaluation at a pose lives in
//! `step::tissues`. The quadriceps tendon's wrap over the trochlea in deep flexion
//! (tendofemoral contact, beyond ~90°) is not modelled: the heads pull straight toward
//! their origins and that load is carried by the patellofemoral contact instead. (A fixed
//! wrapping cylinder was tried and removed: the patella itself moves inside any cylinder
//! large enough to matter, which makes the line of action jump.)

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
    /// The cylinder its path wraps over in flexion (mesh knees: the model file's; the
    /// parametric knee's heads are straight lines).
    pub wrap: Option<crate::geometry::wrap::WrapCylinder>,
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
        assert!(
            (db - 42.5).abs() < 1e-9,
            "linear-region stiffness is the N/mm given"
        );
    }
}
