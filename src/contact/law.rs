//! Elastic-foundation pressure laws.

use crate::params::{Cartilage, ContactLawKind};

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
}

/// Depth, as a fraction of h, beyond which the logarithmic law is continued linearly (C¹),
/// so a deep trial step of the solve stays finite; real contact depths are far smaller.
const LOG_LINEAR_FROM: f64 = 0.9;

impl ContactLaw {
    /// Builds the law from the cartilage parameters.
    pub fn new(c: &Cartilage) -> Self {
        let (e, nu, h) = (c.modulus_mpa, c.poisson, c.thickness_mm);
        Self {
            kind: c.law,
            k: (1.0 - nu) * e / ((1.0 + nu) * (1.0 - 2.0 * nu) * h),
            h,
        }
    }

    /// Pressure (MPa) and its derivative dp/dd (MPa/mm) at overlap depth `d` > 0 (mm).
    #[inline]
    pub fn pressure(&self, d: f64) -> (f64, f64) {
        match self.kind {
            ContactLawKind::Linear => (self.k * d, self.k),
            ContactLawKind::Log => {
                // p = −k·h·ln(1 − d/h) (Blankevoort et al. 1991); slope k at d = 0.
                let kh = self.k * self.h;
                let d0 = LOG_LINEAR_FROM * self.h;
                if d < d0 {
                    (-kh * (1.0 - d / self.h).ln(), kh / (self.h - d))
                } else {
                    let s = kh / (self.h - d0);
                    (-kh * (1.0 - LOG_LINEAR_FROM).ln() + s * (d - d0), s)
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
        let lin = ContactLaw::new(&Cartilage::default());
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
}
