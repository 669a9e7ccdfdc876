//! Small numeric helpers shared by the geometry, contact and solve code.
//!
//! Everything here is a pure function over `f64`/nalgebra types; nothing allocates.

use nalgebra::{Matrix3, Rotation3, Unit, Vector3};

/// 3-vector in millimetres (positions) or newtons (forces), frame given by the caller.
pub type Vec3 = Vector3<f64>;
/// 3×3 matrix.
pub type Mat3 = Matrix3<f64>;
/// Rotation matrix.
pub type Rot3 = Rotation3<f64>;

/// Cross-product matrix: `skew(a) * b == a.cross(&b)`.
#[inline]
pub fn skew(a: &Vec3) -> Mat3 {
    Mat3::new(0.0, -a.z, a.y, a.z, 0.0, -a.x, -a.y, a.x, 0.0)
}

/// Rotation about the X axis by `a` radians.
#[inline]
pub fn rot_x(a: f64) -> Rot3 {
    Rot3::from_axis_angle(&Vector3::x_axis(), a)
}

/// Rotation about the Y axis by `a` radians.
#[inline]
pub fn rot_y(a: f64) -> Rot3 {
    Rot3::from_axis_angle(&Vector3::y_axis(), a)
}

/// Rotation about the Z axis by `a` radians.
#[inline]
pub fn rot_z(a: f64) -> Rot3 {
    Rot3::from_axis_angle(&Vector3::z_axis(), a)
}

/// Rotation by a rotation vector (axis × angle, radians).
#[inline]
pub fn rot_vec(w: &Vec3) -> Rot3 {
    let a = w.norm();
    if a < 1e-300 {
        Rot3::identity()
    } else {
        Rot3::from_axis_angle(&Unit::new_unchecked(w / a), a)
    }
}

/// Decompose `r = Rz(a) · Rx(b) · Ry(c)` (body-fixed Z, then floating X, then Y) into
/// `(a, b, c)` radians. This is the joint-coordinate order of Bull et al. (2002) for the
/// patella and of the Lenhart (2015) `pf_r` joint: flexion about the femoral ML axis,
/// spin about the floating AP axis, tilt about the patellar long axis.
pub fn decompose_zxy(r: &Rot3) -> (f64, f64, f64) {
    let m = r.matrix();
    let b = m[(2, 1)].clamp(-1.0, 1.0).asin();
    let c = (-m[(2, 0)]).atan2(m[(2, 2)]);
    let a = (-m[(0, 1)]).atan2(m[(1, 1)]);
    (a, b, c)
}

/// `atan2(y, x)` with an absolute error below 1.1e-5 rad (Hastings 1955 minimax
/// polynomial for atan on [-1, 1], 11th order). At a 40 mm radius that is 0.4 µm along the
/// groove, far below the contact tolerance; it is several times cheaper than libm's atan2
/// on the per-element path. The contact test checks the whole distance against an exact
/// reference.
#[inline]
pub fn fast_atan2(y: f64, x: f64) -> f64 {
    // Branch-free (selects only), so loops over many points vectorise.
    let ax = x.abs();
    let ay = y.abs();
    let swap = ay > ax;
    let num = if swap { ax } else { ay };
    let den = if swap { ay } else { ax };
    // den = 0 only at the origin, where num = 0 too: the result is 0.
    let t = num / den.max(f64::MIN_POSITIVE);
    let t2 = t * t;
    let mut r = t
        * (0.999_977_26
            + t2 * (-0.332_623_47
                + t2 * (0.193_543_46
                    + t2 * (-0.116_432_87 + t2 * (0.052_653_32 + t2 * -0.011_721_20)))));
    r = if swap {
        std::f64::consts::FRAC_PI_2 - r
    } else {
        r
    };
    r = if x < 0.0 { std::f64::consts::PI - r } else { r };
    if y < 0.0 {
        -r
    } else {
        r
    }
}

/// Smooth maximum of `p` and `q` with rounding `k` (same unit as p, q): the hyperbola
/// `(p+q)/2 + sqrt(((p-q)/2)² + k²)`. Returns the value and the weights
/// `(∂/∂p, ∂/∂q)`, which sum to one.
#[inline]
pub fn smooth_max(p: f64, q: f64, k: f64) -> (f64, f64, f64) {
    let h = 0.5 * (p - q);
    let s = (h * h + k * k).sqrt();
    let v = 0.5 * (p + q) + s;
    let w = if s > 0.0 { h / s } else { 0.0 };
    (v, 0.5 + 0.5 * w, 0.5 - 0.5 * w)
}

/// Smooth minimum, the mirror of [`smooth_max`]; returns value and `(∂/∂p, ∂/∂q)`.
#[inline]
pub fn smooth_min(p: f64, q: f64, k: f64) -> (f64, f64, f64) {
    let (v, wp, wq) = smooth_max(-p, -q, k);
    (-v, wp, wq)
}

/// C¹ smoothstep from 0 at `a` to 1 at `b`; returns value and derivative.
#[inline]
pub fn smoothstep(a: f64, b: f64, x: f64) -> (f64, f64) {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    let v = t * t * (3.0 - 2.0 * t);
    let d = if t > 0.0 && t < 1.0 {
        6.0 * t * (1.0 - t) / (b - a)
    } else {
        0.0
    };
    (v, d)
}

/// Degrees to radians.
#[inline]
pub fn deg(x: f64) -> f64 {
    x.to_radians()
}

/// A deterministic uniform stream on [0, 1) for tests (xorshift64, Marsaglia 2003): fixed
/// pseudo-random cases without an RNG dependency.
#[cfg(test)]
pub(crate) fn uniform_stream(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_atan2_matches_libm_everywhere() {
        let mut worst: f64 = 0.0;
        for i in 0..2000 {
            let a = i as f64 * std::f64::consts::TAU / 2000.0 - std::f64::consts::PI;
            for r in [1e-3, 1.0, 40.0] {
                let (y, x) = (r * a.sin(), r * a.cos());
                worst = worst.max((fast_atan2(y, x) - y.atan2(x)).abs());
            }
        }
        assert!(worst < 1.1e-5, "worst {worst}");
    }

    #[test]
    fn zxy_decomposition_round_trips() {
        let (a, b, c) = (0.7, -0.2, 0.3);
        let r = rot_z(a) * rot_x(b) * rot_y(c);
        let (a2, b2, c2) = decompose_zxy(&r);
        assert!((a - a2).abs() < 1e-12 && (b - b2).abs() < 1e-12 && (c - c2).abs() < 1e-12);
    }

    #[test]
    fn smooth_max_brackets_max_and_has_unit_weights() {
        let (v, wp, wq) = smooth_max(3.0, 1.0, 0.5);
        assert!(v > 3.0 && v < 3.0 + 0.5);
        assert!((wp + wq - 1.0).abs() < 1e-12 && wp > wq);
        let (v, _, _) = smooth_min(3.0, 1.0, 0.5);
        assert!(v < 1.0 && v > 0.5);
    }
}

/// Piecewise-cubic Hermite interpolation with centred slopes (C¹; one-sided at the ends) of
/// a table of `n ≥ 2` rows with increasing abscissae `x(i)` and ordinates `y(i)`, held
/// constant outside the table. Used by the tibiofemoral couplings and envelopes, whose
/// tendon lever is a derivative of the interpolated path.
pub fn hermite_centred(
    n: usize,
    x: impl Fn(usize) -> f64,
    y: impl Fn(usize) -> f64,
    at: f64,
) -> f64 {
    let at = at.clamp(x(0), x(n - 1));
    let i = (0..n - 1).find(|&i| at <= x(i + 1)).unwrap_or(n - 2);
    let h = x(i + 1) - x(i);
    let s = (at - x(i)) / h;
    let slope = |j: usize| {
        let (a, b) = (j.saturating_sub(1), (j + 1).min(n - 1));
        (y(b) - y(a)) / (x(b) - x(a))
    };
    let (s2, s3) = (s * s, s * s * s);
    (2.0 * s3 - 3.0 * s2 + 1.0) * y(i)
        + (s3 - 2.0 * s2 + s) * (slope(i) * h)
        + (-2.0 * s3 + 3.0 * s2) * y(i + 1)
        + (s3 - s2) * (slope(i + 1) * h)
}
