//! The OpenSim 4 `Function` types a knee joint's `TransformAxis` uses.
//!
//! Values are in OpenSim units: the argument is a coordinate value (rad for a rotational
//! coordinate, m for a translational one) and the result is an angle (rad, on a rotation
//! axis) or a distance (m, on a translation axis).

/// A function of one coordinate, as written in a `TransformAxis`.
#[derive(Debug, Clone, PartialEq)]
pub enum OsimFunction {
    /// `Constant`: `value`, whatever the argument.
    Constant(f64),
    /// `LinearFunction`: y = slope·x + intercept (OpenSim `coefficients` = [slope, intercept]).
    Linear {
        /// dy/dx.
        slope: f64,
        /// y at x = 0.
        intercept: f64,
    },
    /// `PolynomialFunction`: coefficients in order of decreasing power (SimTK convention),
    /// y = c₀·xⁿ + c₁·xⁿ⁻¹ + … + cₙ.
    Polynomial(Vec<f64>),
    /// `PiecewiseLinearFunction`: straight lines between the knots, extended with the end
    /// segments' slopes outside them.
    PiecewiseLinear {
        /// Knot abscissae, increasing.
        x: Vec<f64>,
        /// Knot values, one per `x`.
        y: Vec<f64>,
    },
    /// `SimmSpline`: OpenSim's interpolating cubic spline (see [`SimmSpline`]).
    SimmSpline(SimmSpline),
    /// `MultiplierFunction`: scale · function(x).
    Multiplier {
        /// The factor.
        scale: f64,
        /// The function it scales.
        function: Box<OsimFunction>,
    },
}

impl OsimFunction {
    /// The identity y = x (what OpenSim uses for a `TransformAxis` that names a coordinate
    /// but gives no function).
    pub fn identity() -> Self {
        OsimFunction::Linear {
            slope: 1.0,
            intercept: 0.0,
        }
    }

    /// y(x).
    pub fn value(&self, x: f64) -> f64 {
        match self {
            OsimFunction::Constant(v) => *v,
            OsimFunction::Linear { slope, intercept } => slope * x + intercept,
            OsimFunction::Polynomial(c) => c.iter().fold(0.0, |acc, &ci| acc * x + ci),
            OsimFunction::PiecewiseLinear { x: xs, y: ys } => {
                let (k, _) = segment(xs, x);
                let slope = (ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k]);
                ys[k] + slope * (x - xs[k])
            }
            OsimFunction::SimmSpline(s) => s.value(x),
            OsimFunction::Multiplier { scale, function } => scale * function.value(x),
        }
    }

    /// dy/dx at x.
    pub fn slope(&self, x: f64) -> f64 {
        match self {
            OsimFunction::Constant(_) => 0.0,
            OsimFunction::Linear { slope, .. } => *slope,
            OsimFunction::Polynomial(c) => {
                let n = c.len();
                let mut d = 0.0;
                for (i, &ci) in c.iter().enumerate().take(n.saturating_sub(1)) {
                    let power = (n - 1 - i) as f64;
                    d = d * x + power * ci;
                }
                d
            }
            OsimFunction::PiecewiseLinear { x: xs, y: ys } => {
                let (k, _) = segment(xs, x);
                (ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k])
            }
            OsimFunction::SimmSpline(s) => s.slope(x),
            OsimFunction::Multiplier { scale, function } => scale * function.slope(x),
        }
    }

    /// True when the value does not depend on the argument.
    pub fn is_constant(&self) -> bool {
        match self {
            OsimFunction::Constant(_) => true,
            OsimFunction::Multiplier { scale, function } => *scale == 0.0 || function.is_constant(),
            _ => false,
        }
    }
}

/// Index k of the segment [x_k, x_k+1] that holds `t` (the first or last segment when `t` is
/// outside the knots), and whether `t` is inside. Needs at least 2 increasing knots.
fn segment(xs: &[f64], t: f64) -> (usize, bool) {
    let n = xs.len();
    if t < xs[0] {
        return (0, false);
    }
    if t > xs[n - 1] {
        return (n - 2, false);
    }
    // First knot strictly greater than t, minus one, kept within [0, n-2].
    let k = xs.partition_point(|&xi| xi <= t);
    (k.saturating_sub(1).min(n - 2), true)
}

/// OpenSim's `SimmSpline`: an interpolating cubic spline through (x, y) with the
/// Forsythe–Malcolm–Moler end conditions (the third derivative at each end matches the one
/// of the cubic through the four end knots), so it reproduces any cubic exactly. It is not a
/// natural spline. Outside the knots it continues as a straight line with the end slope.
/// Two knots give a straight line; three give a parabola-like spline with constant end
/// curvature. Coefficients as OpenSim computes them (`SimmSpline::calcCoefficients`,
/// after SIMM's `calc_natural_cubic_coefficients`):
/// y = y_k + b_k·dx + c_k·dx² + d_k·dx³ with dx = x − x_k on [x_k, x_k+1].
#[derive(Debug, Clone, PartialEq)]
pub struct SimmSpline {
    x: Vec<f64>,
    y: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    d: Vec<f64>,
}

/// SIMM's floor on a knot spacing.
const TINY_SPACING: f64 = 1.0e-7;

impl SimmSpline {
    /// Builds the spline. Needs at least two knots, as many y as x, and increasing x.
    pub fn new(x: Vec<f64>, y: Vec<f64>) -> Result<Self, String> {
        let n = x.len();
        if n != y.len() {
            return Err(format!("{} x values but {} y values", n, y.len()));
        }
        if n < 2 {
            return Err(format!("needs at least 2 knots, has {n}"));
        }
        if let Some(i) = (1..n).find(|&i| x[i] <= x[i - 1]) {
            return Err(format!(
                "x values must increase, but x[{}] = {} follows x[{}] = {}",
                i,
                x[i],
                i - 1,
                x[i - 1]
            ));
        }
        let (b, c, d) = fmm_coefficients(&x, &y);
        Ok(SimmSpline { x, y, b, c, d })
    }

    /// The knots' x values.
    pub fn knots_x(&self) -> &[f64] {
        &self.x
    }

    /// The knots' y values.
    pub fn knots_y(&self) -> &[f64] {
        &self.y
    }

    /// y(t).
    pub fn value(&self, t: f64) -> f64 {
        let n = self.x.len();
        if t < self.x[0] {
            return self.y[0] + (t - self.x[0]) * self.b[0];
        }
        if t > self.x[n - 1] {
            return self.y[n - 1] + (t - self.x[n - 1]) * self.b[n - 1];
        }
        let (k, _) = segment(&self.x, t);
        let dx = t - self.x[k];
        self.y[k] + dx * (self.b[k] + dx * (self.c[k] + dx * self.d[k]))
    }

    /// dy/dt at t (the end slope outside the knots).
    pub fn slope(&self, t: f64) -> f64 {
        let n = self.x.len();
        if t < self.x[0] {
            return self.b[0];
        }
        if t > self.x[n - 1] {
            return self.b[n - 1];
        }
        let (k, _) = segment(&self.x, t);
        let dx = t - self.x[k];
        self.b[k] + dx * (2.0 * self.c[k] + 3.0 * dx * self.d[k])
    }
}

/// Cubic coefficients (b, c, d) per knot of the Forsythe–Malcolm–Moler spline.
fn fmm_coefficients(x: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = x.len();
    if n == 2 {
        let slope = (y[1] - y[0]) / (x[1] - x[0]).max(TINY_SPACING);
        return (vec![slope; 2], vec![0.0; 2], vec![0.0; 2]);
    }
    let h: Vec<f64> = (0..n - 1)
        .map(|i| (x[i + 1] - x[i]).max(TINY_SPACING))
        .collect();
    let delta: Vec<f64> = (0..n - 1).map(|i| (y[i + 1] - y[i]) / h[i]).collect();

    // Tridiagonal system for sigma = y''/6 at each knot (so c = 3·sigma): diagonal `diag`,
    // off-diagonal h, right-hand side `rhs`.
    let mut diag = vec![0.0; n];
    let mut rhs = vec![0.0; n];
    for i in 1..n - 1 {
        diag[i] = 2.0 * (h[i - 1] + h[i]);
        rhs[i] = delta[i] - delta[i - 1];
    }
    // End conditions: third derivative from the divided differences of the end knots.
    diag[0] = -h[0];
    diag[n - 1] = -h[n - 2];
    if n > 3 {
        let second = |i: usize| delta[i] - delta[i - 1]; // rhs before elimination
        let lo = second(2) / (x[3] - x[1]).max(TINY_SPACING)
            - second(1) / (x[2] - x[0]).max(TINY_SPACING);
        rhs[0] = lo * h[0] * h[0] / (x[3] - x[0]).max(TINY_SPACING);
        let hi = second(n - 2) / (x[n - 1] - x[n - 3]).max(TINY_SPACING)
            - second(n - 3) / (x[n - 2] - x[n - 4]).max(TINY_SPACING);
        rhs[n - 1] = -hi * h[n - 2] * h[n - 2] / (x[n - 1] - x[n - 4]).max(TINY_SPACING);
    }
    // Forward elimination, then back substitution.
    for i in 1..n {
        let t = h[i - 1] / diag[i - 1];
        diag[i] -= t * h[i - 1];
        rhs[i] -= t * rhs[i - 1];
    }
    let mut sigma = vec![0.0; n];
    sigma[n - 1] = rhs[n - 1] / diag[n - 1];
    for i in (0..n - 1).rev() {
        sigma[i] = (rhs[i] - h[i] * sigma[i + 1]) / diag[i];
    }
    // Polynomial coefficients.
    let mut b = vec![0.0; n];
    let mut c = vec![0.0; n];
    let mut d = vec![0.0; n];
    for i in 0..n - 1 {
        b[i] = delta[i] - h[i] * (sigma[i + 1] + 2.0 * sigma[i]);
        d[i] = (sigma[i + 1] - sigma[i]) / h[i];
        c[i] = 3.0 * sigma[i];
    }
    b[n - 1] = delta[n - 2] + h[n - 2] * (sigma[n - 2] + 2.0 * sigma[n - 1]);
    c[n - 1] = 3.0 * sigma[n - 1];
    d[n - 1] = d[n - 2];
    (b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cubic(x: f64) -> f64 {
        1.0 - 2.0 * x + 0.5 * x * x + 0.3 * x * x * x
    }

    #[test]
    fn simm_spline_interpolates_and_reproduces_cubics() {
        // Uneven knots: the Forsythe–Malcolm–Moler end conditions make the spline exact for
        // any cubic (a natural spline would not be: its end curvature is forced to 0).
        let x = vec![0.0, 0.3, 0.7, 1.2, 2.0, 2.1, 3.0];
        let y: Vec<f64> = x.iter().map(|&t| cubic(t)).collect();
        let s = SimmSpline::new(x.clone(), y.clone()).unwrap();
        for (xi, yi) in x.iter().zip(&y) {
            assert!((s.value(*xi) - yi).abs() < 1e-12);
        }
        for i in 0..=300 {
            let t = i as f64 / 100.0;
            assert!((s.value(t) - cubic(t)).abs() < 1e-10, "t = {t}");
            let d = -2.0 + t + 0.9 * t * t;
            assert!((s.slope(t) - d).abs() < 1e-9, "t = {t}");
        }
        // Outside the knots: straight lines with the end slopes.
        assert!((s.value(-1.0) - (cubic(0.0) - s.slope(0.0))).abs() < 1e-12);
        assert!((s.value(4.0) - (cubic(3.0) + s.slope(3.0))).abs() < 1e-12);
        assert_eq!(s.slope(-5.0), s.slope(0.0));
    }

    #[test]
    fn simm_spline_small_and_bad_inputs() {
        let line = SimmSpline::new(vec![0.0, 2.0], vec![1.0, 5.0]).unwrap();
        assert!((line.value(0.5) - 2.0).abs() < 1e-15 && (line.value(3.0) - 7.0).abs() < 1e-15);
        let three = SimmSpline::new(vec![0.0, 1.0, 3.0], vec![0.0, 1.0, 0.0]).unwrap();
        for (x, y) in [(0.0, 0.0), (1.0, 1.0), (3.0, 0.0)] {
            assert!((three.value(x) - y).abs() < 1e-12);
        }
        assert!(SimmSpline::new(vec![0.0, 1.0], vec![0.0]).is_err());
        assert!(SimmSpline::new(vec![0.0], vec![0.0]).is_err());
        assert!(SimmSpline::new(vec![0.0, 1.0, 1.0], vec![0.0, 1.0, 2.0]).is_err());
    }

    #[test]
    #[allow(clippy::approx_constant)] // knots copied verbatim from the model file (10° steps)
    fn simm_spline_is_c2_on_the_lenhart_left_knee_data() {
        // knee_l rotation3 (knee_flex_l → rad) from the Lenhart file.
        let x = vec![
            -0.174533, 0.0, 0.174533, 0.349066, 0.523599, 0.698132, 0.872665, 1.0472, 1.22173,
            1.39626, 1.5708, 1.74533, 1.91986, 2.0944,
        ];
        let y = vec![
            0.0568237, 0.0, -0.0473143, -0.0858667, -0.116487, -0.140093, -0.157672, -0.170252,
            -0.178879, -0.184595, -0.18842, -0.191344, -0.194325, -0.198293,
        ];
        let s = SimmSpline::new(x.clone(), y.clone()).unwrap();
        assert_eq!(s.value(0.0), 0.0);
        let h = 1e-6;
        for &k in &x[1..x.len() - 1] {
            // Value, slope and curvature continuous at interior knots.
            assert!((s.value(k - h) - s.value(k + h)).abs() < 1e-6);
            assert!((s.slope(k - h) - s.slope(k + h)).abs() < 1e-5);
            let curv = |t: f64| (s.slope(t + 1e-7) - s.slope(t - 1e-7)) / 2e-7;
            assert!((curv(k - 1e-4) - curv(k + 1e-4)).abs() < 1e-2);
        }
    }

    #[test]
    fn other_functions() {
        let lin = OsimFunction::Linear {
            slope: -1.0,
            intercept: 0.5,
        };
        assert_eq!(lin.value(2.0), -1.5);
        let poly = OsimFunction::Polynomial(vec![2.0, 0.0, -1.0]); // 2x² − 1
        assert_eq!(poly.value(3.0), 17.0);
        assert_eq!(poly.slope(3.0), 12.0);
        let pl = OsimFunction::PiecewiseLinear {
            x: vec![0.0, 1.0, 3.0],
            y: vec![0.0, 2.0, 3.0],
        };
        assert_eq!(pl.value(0.5), 1.0);
        assert_eq!(pl.value(2.0), 2.5);
        assert_eq!(pl.value(5.0), 4.0);
        assert_eq!(pl.value(-1.0), -2.0);
        let m = OsimFunction::Multiplier {
            scale: 0.5,
            function: Box::new(poly),
        };
        assert_eq!(m.value(3.0), 8.5);
        assert_eq!(m.slope(3.0), 6.0);
        assert!(OsimFunction::Multiplier {
            scale: 2.0,
            function: Box::new(OsimFunction::Constant(0.0))
        }
        .is_constant());
        assert!(!lin.is_constant());
    }
}
