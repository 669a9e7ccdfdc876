//! The built-in running cycle and its documented maps for speed, step rate, slope and body
//! mass.
//!
//! The baseline cycle is a set of knots per joint curve (cycle %, value), joined by a
//! periodic shape-preserving cubic (Fritsch & Carlson 1980), so every peak is exactly the
//! knot value and no curve overshoots. Shape and magnitudes follow published treadmill
//! running at preferred step rate: stance knee-flexion peak 46.3° and knee extensor moment
//! peak 2.5 N·m/kg, hip adduction peak 10° (Heiderscheit et al. 2011, Table 3, 0 %), foot
//! strike at 18° and swing peak about 110° (Hamner & Delp 2013 running data at 3.5–4 m/s),
//! stance 38 % of the cycle (35–40 % in the same data), hip abductor moment peak
//! 1.7 N·m/kg (within the 1.5–2.5 N·m/kg reported for running, e.g. Ferber et al. 2003).

use super::{stance_weight, GaitCycle, GaitSample, STANCE_RAMP_PCT};

/// End of stance (toe-off), % of the cycle, at every speed and step rate (the stance
/// fraction changes little across the ±10 % step-rate range of Heiderscheit 2011).
pub const STANCE_END_PCT: f64 = 38.0;

/// Knee flexion, degrees (+ flexion).
const KNEE_FLEXION: &[(f64, f64)] = &[
    (0.0, 18.0),
    (7.0, 33.0),
    (15.0, 46.3),
    (26.0, 36.0),
    (38.0, 21.0),
    (48.0, 50.0),
    (58.0, 88.0),
    (68.0, 110.0),
    (78.0, 94.0),
    (88.0, 42.0),
    (95.0, 14.0),
];
/// Cycle % of the stance knee-flexion peak (a knot of [`KNEE_FLEXION`]).
const KNEE_STANCE_PEAK_PCT: f64 = 15.0;
/// Cycle % of the swing knee-flexion peak.
const KNEE_SWING_PEAK_PCT: f64 = 68.0;
/// Knee extensor moment, N·m/kg (+ extension). Flexor in late swing, when the hamstrings
/// decelerate the shank.
const EXTENSOR_MOMENT: &[(f64, f64)] = &[
    (0.0, 0.0),
    (4.0, 0.9),
    (10.0, 2.1),
    (16.0, 2.5),
    (24.0, 1.9),
    (32.0, 0.8),
    (38.0, 0.0),
    (45.0, 0.25),
    (55.0, 0.1),
    (70.0, -0.2),
    (85.0, -0.8),
    (94.0, -0.4),
];
/// Hip flexion, degrees (+ flexion).
const HIP_FLEXION: &[(f64, f64)] = &[
    (0.0, 32.0),
    (15.0, 20.0),
    (38.0, -10.0),
    (50.0, 5.0),
    (65.0, 30.0),
    (85.0, 42.0),
    (95.0, 38.0),
];
/// Hip adduction, degrees (+ adduction).
const HIP_ADDUCTION: &[(f64, f64)] = &[
    (0.0, 4.0),
    (17.0, 10.0),
    (38.0, 1.0),
    (55.0, -5.0),
    (80.0, -3.0),
    (95.0, 2.0),
];
/// Cycle % of the stance hip-adduction peak.
const HIP_ADDUCTION_PEAK_PCT: f64 = 17.0;
/// Hip rotation, degrees (+ internal).
const HIP_ROTATION: &[(f64, f64)] = &[
    (0.0, 2.0),
    (20.0, 4.0),
    (38.0, 0.0),
    (65.0, -3.0),
    (90.0, 0.0),
];
/// Hip abductor moment, N·m/kg (+ abduction); zero in swing.
const HIP_ABDUCTOR_MOMENT: &[(f64, f64)] = &[
    (0.0, 0.3),
    (8.0, 1.2),
    (17.0, 1.7),
    (28.0, 1.2),
    (38.0, 0.0),
    (45.0, 0.0),
    (92.0, 0.0),
];

/// Periodic (period 100) shape-preserving cubic through `knots` (x increasing in [0, 100)).
/// Fritsch & Carlson (1980) slopes: zero at local extrema, weighted harmonic means
/// elsewhere, so the curve is monotone between knots.
pub fn periodic_pchip(knots: &[(f64, f64)], x: f64) -> f64 {
    let n = knots.len();
    let at = |i: isize| -> (f64, f64) {
        let k = i.rem_euclid(n as isize) as usize;
        let wraps = i.div_euclid(n as isize) as f64;
        (knots[k].0 + 100.0 * wraps, knots[k].1)
    };
    let slope = |i: isize| -> f64 {
        let (x0, y0) = at(i - 1);
        let (x1, y1) = at(i);
        let (x2, y2) = at(i + 1);
        let (h0, h1) = (x1 - x0, x2 - x1);
        let (d0, d1) = ((y1 - y0) / h0, (y2 - y1) / h1);
        if d0 * d1 <= 0.0 {
            0.0
        } else {
            let (w1, w2) = (2.0 * h1 + h0, h1 + 2.0 * h0);
            (w1 + w2) / (w1 / d0 + w2 / d1)
        }
    };
    let x = x.rem_euclid(100.0);
    let i = knots
        .iter()
        .rposition(|k| k.0 <= x)
        .map_or(-1, |i| i as isize);
    let (x0, y0) = at(i);
    let (x1, y1) = at(i + 1);
    let h = x1 - x0;
    let t = (x - x0) / h;
    let (m0, m1) = (slope(i) * h, slope(i + 1) * h);
    let t2 = t * t;
    let t3 = t2 * t;
    (2.0 * t3 - 3.0 * t2 + 1.0) * y0
        + (t3 - 2.0 * t2 + t) * m0
        + (-2.0 * t3 + 3.0 * t2) * y1
        + (t3 - t2) * m1
}

/// Weight in [0, 1] of a curve's bump above the chord between `from_pct` and `to_pct`,
/// normalised to 1 at `peak_pct`; zero outside the interval. Adding `Δ × weight` moves the
/// peak by Δ and leaves the ends (foot strike, toe-off) where they are.
fn bump_weight(knots: &[(f64, f64)], from_pct: f64, to_pct: f64, peak_pct: f64, x: f64) -> f64 {
    if x < from_pct || x > to_pct {
        return 0.0;
    }
    let (a, b) = (
        periodic_pchip(knots, from_pct),
        periodic_pchip(knots, to_pct),
    );
    let chord = |x: f64| a + (b - a) * (x - from_pct) / (to_pct - from_pct);
    let top = periodic_pchip(knots, peak_pct) - chord(peak_pct);
    ((periodic_pchip(knots, x) - chord(x)) / top).max(0.0)
}

/// Heiderscheit et al. (2011) Table 3 at step rate −10 %, 0 % and +10 % (constant speed):
/// (stance knee-flexion peak °, knee extensor moment peak N·m/kg, stance hip adduction
/// peak °). The 0 % adduction (10.0°) is the midpoint of the ±10 % values.
const HEIDERSCHEIT_2011: [(f64, f64, f64, f64); 3] = [
    (-10.0, 50.6, 2.7, 11.3),
    (0.0, 46.3, 2.5, 10.0),
    (10.0, 42.8, 2.2, 8.7),
];

/// Piecewise-linear interpolation in the Heiderscheit table (linear extrapolation of the
/// outer segments beyond ±10 %). Returns (knee peak °, moment peak N·m/kg, adduction °).
pub fn step_rate_map(change_pct: f64) -> (f64, f64, f64) {
    let t = &HEIDERSCHEIT_2011;
    let (a, b) = if change_pct < 0.0 {
        (t[0], t[1])
    } else {
        (t[1], t[2])
    };
    let f = (change_pct - a.0) / (b.0 - a.0);
    (
        a.1 + f * (b.1 - a.1),
        a.2 + f * (b.2 - a.2),
        a.3 + f * (b.3 - a.3),
    )
}

/// Preferred step rate at a running speed, steps/min: 172 steps/min at 2.9 m/s
/// (Heiderscheit et al. 2011's runners at their preferred speed) rising 4.5 steps/min per
/// m/s (Cavanagh & Kram 1989: a 40 % faster pace raised stride rate only 3.2 %; runners
/// lengthen the step far more than they quicken it at endurance speeds).
pub fn preferred_step_rate_spm(speed_mps: f64) -> f64 {
    172.0 + 4.5 * (speed_mps - 2.9)
}

/// Swing knee-flexion peak at a running speed, degrees: 110° at 3.5 m/s, +8° per m/s
/// (*assumption* shaped on the rise of swing flexion with speed from jogging (about 90°)
/// to sprinting (> 120°), Novacheck 1998), at least 70°.
pub fn swing_peak_deg(speed_mps: f64) -> f64 {
    (110.0 + 8.0 * (speed_mps - 3.5)).max(70.0)
}

/// Downhill slope map: (added stance knee flexion °, extensor-moment factor) for a grade
/// in % (negative = downhill). Downhill running lands on a more flexed knee and absorbs
/// more energy at the knee (Buczek & Cavanagh 1990; Telhan et al. 2010 find the changes
/// small at −7 %). *Assumption*: +0.3° and +1 % extensor moment per % of decline; uphill
/// leaves the knee unchanged (its effects are mixed in the same studies).
pub fn slope_map(slope_pct: f64) -> (f64, f64) {
    let decline = (-slope_pct).max(0.0);
    (0.3 * decline, 1.0 + 0.01 * decline)
}

/// Running conditions of the built-in cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    /// Running speed, m/s.
    pub speed_mps: f64,
    /// Step-rate change against the preferred rate at this speed, %.
    pub step_rate_change_pct: f64,
    /// Grade, % (negative = downhill).
    pub slope_pct: f64,
    /// Body mass, kg (moments are N·m/kg × mass).
    pub body_mass_kg: f64,
}

impl Conditions {
    /// Step rate, steps/min.
    pub fn step_rate_spm(&self) -> f64 {
        preferred_step_rate_spm(self.speed_mps) * (1.0 + self.step_rate_change_pct / 100.0)
    }
}

/// The built-in cycle under `c`, sampled at `frames` evenly spaced points (cycle %
/// `100 i / frames`), starting at `start_s`.
pub fn builtin_cycle(c: &Conditions, frames: usize, start_s: f64) -> GaitCycle {
    let (knee_peak, moment_peak, add_peak) = step_rate_map(c.step_rate_change_pct);
    let (slope_knee, slope_moment) = slope_map(c.slope_pct);
    let d_knee_stance = knee_peak + slope_knee - periodic_pchip(KNEE_FLEXION, KNEE_STANCE_PEAK_PCT);
    let d_knee_swing =
        swing_peak_deg(c.speed_mps) - periodic_pchip(KNEE_FLEXION, KNEE_SWING_PEAK_PCT);
    let d_add = add_peak - periodic_pchip(HIP_ADDUCTION, HIP_ADDUCTION_PEAK_PCT);
    let moment_factor = moment_peak / 2.5 * slope_moment;
    let duration_s = 120.0 / c.step_rate_spm();
    let m = c.body_mass_kg;
    let samples = (0..frames)
        .map(|i| {
            let x = 100.0 * i as f64 / frames as f64;
            let stance_bump =
                bump_weight(KNEE_FLEXION, 0.0, STANCE_END_PCT, KNEE_STANCE_PEAK_PCT, x);
            let swing_bump =
                bump_weight(KNEE_FLEXION, STANCE_END_PCT, 100.0, KNEE_SWING_PEAK_PCT, x);
            let add_bump = bump_weight(
                HIP_ADDUCTION,
                0.0,
                STANCE_END_PCT,
                HIP_ADDUCTION_PEAK_PCT,
                x,
            );
            let moment = periodic_pchip(EXTENSOR_MOMENT, x);
            let moment = if x <= STANCE_END_PCT {
                moment * moment_factor
            } else {
                moment
            };
            GaitSample {
                cycle_pct: x,
                time_s: start_s + duration_s * x / 100.0,
                knee_flexion_deg: periodic_pchip(KNEE_FLEXION, x)
                    + d_knee_stance * stance_bump
                    + d_knee_swing * swing_bump,
                knee_varus_deg: 0.0,
                tibial_rotation_deg: 0.0,
                secondary: Default::default(),
                hip_flexion_deg: periodic_pchip(HIP_FLEXION, x),
                hip_adduction_deg: periodic_pchip(HIP_ADDUCTION, x) + d_add * add_bump,
                hip_rotation_deg: periodic_pchip(HIP_ROTATION, x),
                extensor_moment_nm: moment * m,
                hip_abductor_moment_nm: builtin_abductor_moment(x) * m,
                stance: stance_weight(x, STANCE_END_PCT, STANCE_RAMP_PCT),
            }
        })
        .collect();
    GaitCycle {
        samples,
        duration_s,
        stance_end_pct: STANCE_END_PCT,
    }
}

/// Extensor moment of the built-in cycle at `cycle_pct`, N·m/kg, preferred step rate,
/// level ground (used to estimate a moment for kinematics-only OpenSim data).
pub fn builtin_extensor_moment(cycle_pct: f64) -> f64 {
    periodic_pchip(EXTENSOR_MOMENT, cycle_pct)
}

/// Hip abductor moment of the built-in cycle at `cycle_pct`, N·m/kg.
pub fn builtin_abductor_moment(cycle_pct: f64) -> f64 {
    periodic_pchip(HIP_ABDUCTOR_MOMENT, cycle_pct).max(0.0)
}

/// Stance knee-flexion peak of the built-in cycle at preferred step rate, degrees.
pub fn builtin_stance_peak_deg() -> f64 {
    periodic_pchip(KNEE_FLEXION, KNEE_STANCE_PEAK_PCT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Conditions {
        Conditions {
            speed_mps: 3.5,
            step_rate_change_pct: 0.0,
            slope_pct: 0.0,
            body_mass_kg: 70.0,
        }
    }

    fn peak(c: &GaitCycle, f: impl Fn(&GaitSample) -> f64, from: f64, to: f64) -> f64 {
        c.samples
            .iter()
            .filter(|s| s.cycle_pct >= from && s.cycle_pct <= to)
            .map(f)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    #[test]
    fn pchip_passes_through_knots_and_is_periodic() {
        for &(x, y) in KNEE_FLEXION {
            assert!((periodic_pchip(KNEE_FLEXION, x) - y).abs() < 1e-12);
        }
        let a = periodic_pchip(KNEE_FLEXION, 99.999_999);
        assert!((a - 18.0).abs() < 1e-4, "{a}");
        // No overshoot: the stance peak is the knot value.
        let c = builtin_cycle(&base(), 1000, 0.0);
        let p = peak(&c, |s| s.knee_flexion_deg, 0.0, 38.0);
        assert!((p - 46.3).abs() < 1e-9, "{p}");
    }

    #[test]
    fn builtin_cycle_has_the_published_shape() {
        let c = builtin_cycle(&base(), 200, 0.0);
        let m = 70.0;
        assert!((peak(&c, |s| s.knee_flexion_deg, 38.0, 100.0) - 110.0).abs() < 1e-9);
        assert!((peak(&c, |s| s.extensor_moment_nm, 0.0, 38.0) / m - 2.5).abs() < 1e-9);
        assert!((peak(&c, |s| s.hip_adduction_deg, 0.0, 38.0) - 10.0).abs() < 1e-9);
        assert!((c.samples[0].knee_flexion_deg - 18.0).abs() < 1e-9);
    }

    #[test]
    fn step_rate_map_reproduces_heiderscheit_table_3() {
        let (k, m, a) = step_rate_map(10.0);
        assert_eq!((k, m, a), (42.8, 2.2, 8.7));
        let (k, m, a) = step_rate_map(-10.0);
        assert_eq!((k, m, a), (50.6, 2.7, 11.3));
        let mut c = base();
        c.step_rate_change_pct = 10.0;
        let cyc = builtin_cycle(&c, 400, 0.0);
        assert!((peak(&cyc, |s| s.knee_flexion_deg, 0.0, 38.0) - 42.8).abs() < 1e-9);
        assert!((peak(&cyc, |s| s.extensor_moment_nm, 0.0, 38.0) / 70.0 - 2.2).abs() < 1e-9);
    }

    #[test]
    fn downhill_raises_stance_flexion_and_moment() {
        let mut c = base();
        c.slope_pct = -10.0;
        let down = builtin_cycle(&c, 400, 0.0);
        let level = builtin_cycle(&base(), 400, 0.0);
        let k = |c: &GaitCycle| peak(c, |s| s.knee_flexion_deg, 0.0, 38.0);
        let m = |c: &GaitCycle| peak(c, |s| s.extensor_moment_nm, 0.0, 38.0);
        assert!(k(&down) > k(&level) + 2.0);
        assert!(m(&down) > m(&level) * 1.05);
    }
}
