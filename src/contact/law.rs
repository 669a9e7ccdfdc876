//! Elastic-foundation pressure laws.

use crate::params::ContactLawKind;

/// Pressure as a function of overlap depth for a thin elastic layer on a rigid base.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContactLaw {
    /// Which law.
    pub kind: ContactLawKind,
    /// Foundation modulus k = (1−ν)E / ((1+ν)(1−2ν)h), MPa/mm (Bei & Fregly 2004; with the
    /// Lenhart 2015 defaults E = 10 MPa, ν = 0.45, h = 3 mm: 12.6 MPa/mm).
    pub k: f64,
    /// Layer thickness h, mm.
    pub h: f64,
    /// Aggregate modulus (1−ν)E / ((1+ν)(1−2ν)), MPa: k = c / h for a layer of thickness h
    /// (the per-element law of a measured, variable-thickness layer).
    pub c: f64,
    /// 1 when the femoral layer's own thickness (from the contact point) is added to each
    /// patella element's layer (a measured mesh knee); 0 when the element carries the whole
    /// combined layer (the parametric knee, or a constant `cartilage.thickness_mm`).
    pub femoral_layer: f64,
}

/// Depth, as a fraction of h, beyond which the logarithmic law is continued linearly (C¹),
/// so a deep trial step of the solve stays finite; real contact depths are far smaller.
const LOG_LINEAR_FROM: f64 = 0.9;

impl ContactLaw {
    /// Builds the law: modulus `e` (MPa), Poisson's ratio `nu`, reference thickness `h` (mm)
    /// and whether the femoral layer adds to the element's (see [`Self::femoral_layer`]).
    pub fn new(kind: ContactLawKind, e: f64, nu: f64, h: f64, femoral_layer: f64) -> Self {
        let agg = (1.0 - nu) * e / ((1.0 + nu) * (1.0 - 2.0 * nu));
        Self {
            kind,
            k: agg / h,
            h,
            c: agg,
            femoral_layer,
        }
    }

    /// Pressure (MPa) and its derivative dp/dd (MPa/mm) at overlap depth `d` > 0 (mm), for
    /// the law's own thickness.
    #[inline]
    pub fn pressure(&self, d: f64) -> (f64, f64) {
        self.pressure_h(d, self.h)
    }

    /// Pressure (MPa) and dp/dd (MPa/mm) at overlap depth `d` (mm) for a layer of combined
    /// thickness `h` (mm): k = c / h (Bei & Fregly 2004 lumped layer; both cartilage layers'
    /// thicknesses summed, as in Smith 2018's articular contact).
    #[inline]
    pub fn pressure_h(&self, d: f64, h: f64) -> (f64, f64) {
        let k = self.c / h;
        match self.kind {
            ContactLawKind::Linear => (k * d, k),
            ContactLawKind::Log => {
                // p = −k·h·ln(1 − d/h) (Blankevoort et al. 1991); slope k at d = 0.
                let kh = self.c;
                let d0 = LOG_LINEAR_FROM * h;
                if d < d0 {
                    (-kh * (1.0 - d / h).ln(), kh / (h - d))
                } else {
                    let s = kh / (h - d0);
                    (-kh * (1.0 - LOG_LINEAR_FROM).ln() + s * (d - d0), s)
                }
            }
        }
    }

    /// ∂p/∂h (MPa/mm): how the pressure at overlap `d` (mm) changes with the combined layer
    /// thickness `h` (mm) — the contact Jacobian's layer-thickness term (the femoral layer
    /// thins toward the cartilage's edges). Linear: p = c·d/h, so −p/h. Logarithmic:
    /// −c·d / (h(h − d)) below the linear continuation; beyond it, the continuation
    /// p = −c·ln(1 − β) + c(d − βh)/((1 − β)h) gives −c·d / ((1 − β)h²) (β = 0.9).
    #[inline]
    pub fn pressure_dh(&self, d: f64, h: f64) -> f64 {
        match self.kind {
            ContactLawKind::Linear => -self.c * d / (h * h),
            ContactLawKind::Log => {
                if d < LOG_LINEAR_FROM * h {
                    -self.c * d / (h * (h - d))
                } else {
                    -self.c * d / ((1.0 - LOG_LINEAR_FROM) * h * h)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenhart_defaults_give_the_documented_modulus_and_laws_agree_at_small_depth() {
        let lin = ContactLaw::new(ContactLawKind::Linear, 10.0, 0.45, 3.0, 0.0);
        assert!((lin.k - 12.64).abs() < 0.01, "{}", lin.k);
        let log = ContactLaw {
            kind: ContactLawKind::Log,
            ..lin
        };
        let (pl, _) = lin.pressure(0.01);
        let (pg, _) = log.pressure(0.01);
        assert!((pl - pg).abs() / pl < 0.01);
        // the log law stiffens, and stays finite and monotone past h
        assert!(log.pressure(1.5).0 > lin.pressure(1.5).0);
        assert!(log.pressure(3.5).0.is_finite() && log.pressure(3.5).0 > log.pressure(2.8).0);
    }

    #[test]
    fn thickness_derivative_matches_central_differences() {
        for kind in [ContactLawKind::Linear, ContactLawKind::Log] {
            let law = ContactLaw::new(kind, 5.0, 0.45, 4.0, 1.0);
            // Below and beyond the log law's linear continuation (0.9·h).
            for (d, h) in [(0.3, 4.0), (1.5, 3.0), (2.9, 3.0), (3.2, 3.0)] {
                let e = 1e-6;
                let fd = (law.pressure_h(d, h + e).0 - law.pressure_h(d, h - e).0) / (2.0 * e);
                let an = law.pressure_dh(d, h);
                assert!(
                    (an - fd).abs() <= 1e-6 * fd.abs().max(1.0),
                    "{kind:?} {d} {h}: {an} vs {fd}"
                );
            }
        }
    }
}
