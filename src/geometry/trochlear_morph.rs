//! Trochlear dysplasia on a mesh knee: a smooth, compactly supported morph of the trochlear
//! groove applied when the baked distance field is queried (the field is never rebuilt, so
//! every variant shares the one field of its geometry), and the clinical measures of the
//! groove (sulcus angle, depth, lateral trochlear inclination) read off the surface.
//!
//! **The morph.** The articular surface is displaced along the radial direction of the
//! flexion axis e_r (femur Z through the origin; at θ = 0 this is the femur's anterior
//! direction, and across the trochlea, θ = −30…30°, it stays within 30° of it) by
//! `δ(p) = A · T(θ) · B(u) · W(ρ)`:
//! * `A`, the amplitude (mm): positive raises the groove floor (a shallower, flatter groove:
//!   dysplasia), negative deepens it;
//! * `B(u)`, the profile across, centred on the groove (`u` = medio-lateral distance from
//!   the groove, lateral +): laterally `(1 − (u/w)²)²` with w = [`LATERAL_HALF_WIDTH_MM`]
//!   (out to the lateral facet high, which barely moves: the lateral facet flattens);
//!   medially 1 out to [`MEDIAL_PLATEAU_MM`] (past the medial facet high: the medial facet
//!   rises with the floor and keeps its inclination), then a smoothstep to 0 over
//!   [`MEDIAL_TAPER_MM`] on the medial condyle's flank. C¹ everywhere. This is the flat
//!   *lateral* trochlea of dysplasia (Dejour type A–B: the lateral facet flattened, the
//!   groove raised; Senavongse & Amis 2005's flattened lateral facet), the same pattern as
//!   the parametric knee's keys (its medial facet angle is 180° − sulcus − LTI);
//! * `T(θ)`, the taper along the groove (θ from anterior toward distal, the parametric knee's
//!   angle): smoothstep up over [`TAPER_DEG`]`[0..2]` (proximal of the cartilage, over the
//!   anterior femur), 1 over the trochlea, smoothstep down over `[2..4]` before the
//!   intercondylar notch;
//! * `W(ρ)`, a smoothstep over [`AXIS_WINDOW_MM`] that keeps the map regular near the axis
//!   (far inside the bone; no articular surface lies there).
//!
//! A query at p is answered from the field at the warped point `p' = p − δ(p)·e_r(p)`:
//! `f(p) = d(p')` vanishes exactly on the displaced surface `{q + δ·e_r}`, and
//! `∇f = DWᵀ n = n − (n·e_r) ∇δ − (δ/ρ)(n·e_t) e_t` (n the field normal at p', e_t the
//! in-plane tangent). The gap reported is `f/|∇f|` and the normal `∇f/|∇f|` (tilted by
//! ∇δ). To first order this is the brief's `d(p) − δ(p)(n·e_r)`; it is exact for a
//! locally constant δ on a surface of revolution about the axis and its error grows with
//! |∇δ|² and with the surface's curvature times the depth — the morph's slope is therefore
//! limited to [`MAX_SLOPE`] (the reachable range reported when a request is refused). The
//! femoral layer thickness is read at p' (the layer moves with the surface). Where δ = 0
//! the field is queried at p itself: outside the morph's support — and for a knee with no
//! trochlear request, which never gets a morph — results are bit-identical to the plain
//! field.
//!
//! **The measures** ([`measure`]), on the radial section θ = [`SECTION_DEG`] (mid-trochlea,
//! the section where the parametric knee realises its keys, `geometry::femur`), following
//! Dejour et al. (1994) and Brattström (1964) for the sulcus angle and Pfirrmann et al. (2000)
//! for the depth, as the parametric knee defines them: the deepest groove point (least
//! radius within [`FLOOR_SEARCH_MM`] of the groove) and the highest medial and lateral
//! facet points (greatest radius on each side); the **sulcus angle** is the angle between
//! the two lines from the deepest point to the highs (normal 138° ± 6°, dysplastic > 145°);
//! the **depth** is the mean height of the two highs above the deepest point (normal 5–6 mm,
//! dysplastic < 3 mm); the **lateral trochlear inclination** is the lateral line's angle to
//! the section's medio-lateral axis (Carrillon et al. 2000 measure it against the posterior
//! condylar line on the most proximal axial slice with cartilage; the section's ML axis
//! stands in for that line here; normal ≥ 11°, dysplastic < 11°; Biedert & Bachmann 2009
//! review the three).
//!
//! **The parameterisation.** One amplitude A realises one requested key exactly (by
//! bisection on the measured value, which is monotone in A); the other two are whatever
//! the morphed knee then measures and are reported beside it (summary.json
//! `knee.trochlea`). A is limited to [−(floor cartilage − [`MIN_LAYER_MM`]), A_max]: deeper
//! would lower the groove into the subchondral bone (the bone is not morphed), and A_max is
//! where the groove flattens to [`MIN_DEPTH_MM`] or the slope reaches [`MAX_SLOPE`].

use crate::geometry::femur_mesh::FieldCell;
use serde::Serialize;

use super::femur_mesh::{FemurSdf, FieldSample};
use crate::math::smoothstep;

/// Lateral half-width of the morph's cross profile, mm: out to the lateral facet high of the
/// Lenhart trochlea at mid-trochlea (the parametric knee's lateral facet is 20 mm wide).
pub const LATERAL_HALF_WIDTH_MM: f64 = 20.0;
/// Medial side of the cross profile: 1 from the groove to this distance (past the Lenhart
/// medial facet high, 10–15.5 mm medial of the groove), mm — the medial facet is raised
/// with the floor and keeps its inclination …
pub const MEDIAL_PLATEAU_MM: f64 = 13.0;
/// … then falls to 0 over this distance (a smoothstep over the medial condyle's flank), mm.
pub const MEDIAL_TAPER_MM: f64 = 14.0;
/// Medial extent of the profile, mm.
pub const MEDIAL_HALF_WIDTH_MM: f64 = MEDIAL_PLATEAU_MM + MEDIAL_TAPER_MM;
/// Taper along the groove, degrees of θ (0 anterior, 90 distal): 0 below the first, 1
/// between the second and the third, 0 beyond the fourth (the intercondylar notch opens at
/// about 35–40°).
pub const TAPER_DEG: [f64; 4] = [-70.0, -35.0, 15.0, 50.0];
/// Radial window near the flexion axis, mm: the morph fades in between these radii (the
/// articular surface lies at 17–40 mm).
pub const AXIS_WINDOW_MM: (f64, f64) = (4.0, 12.0);
/// Largest slope |∇δ| of the displacement where the articular surface lies (radius ≥
/// [`SURFACE_MIN_RADIUS_MM`]): the limit of the first-order distance (exact for a linear δ
/// over a plane; its error grows with δ's curvature times the depth).
pub const MAX_SLOPE: f64 = 1.0;
/// Least radius of the articular surface from the flexion axis, mm (distal condyles 17 mm).
pub const SURFACE_MIN_RADIUS_MM: f64 = 15.0;
/// Shallowest groove the morph makes, mm: flatter than this the deepest point and the facet
/// highs stop being defined (a flat or convex trochlea: use the parametric knee).
pub const MIN_DEPTH_MM: f64 = 0.5;
/// Cartilage a deepened groove floor keeps above the (unmorphed) bone, mm (the project's
/// lower clamp of a measured layer).
pub const MIN_LAYER_MM: f64 = 1.0;
/// Section where the measures are taken, degrees of θ (mid-trochlea; see the module doc).
pub const SECTION_DEG: f64 = 10.0;
/// The deepest point is sought within this distance of the groove, mm.
pub const FLOOR_SEARCH_MM: f64 = 8.0;
/// The facet highs are sought this far from the deepest point, mm: lateral, medial.
pub const HIGH_SEARCH_MM: (f64, f64) = (26.0, 22.0);
/// Spacing of the rays across the section, mm.
const RAY_STEP_MM: f64 = 0.25;

/// The clinical measures of one trochlear section (see the module doc), degrees and mm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrochleaMeasures {
    /// Sulcus angle: between the lines from the deepest point to the two facet highs,
    /// degrees.
    pub sulcus_angle_deg: f64,
    /// Depth: the facet highs' mean height above the deepest point, mm.
    pub depth_mm: f64,
    /// Lateral trochlear inclination: the lateral line's slope to the medio-lateral axis,
    /// degrees.
    pub lateral_inclination_deg: f64,
    /// Medial facet inclination: the medial line's slope, degrees.
    pub medial_inclination_deg: f64,
    /// Medio-lateral positions (lateral +, from the groove landmark) of the deepest point
    /// and the lateral and medial highs, mm.
    pub floor_u_mm: f64,
    /// Medio-lateral position of the lateral facet high, mm.
    pub lateral_high_u_mm: f64,
    /// Medio-lateral position of the medial facet high, mm.
    pub medial_high_u_mm: f64,
    /// Radius of the deepest point from the flexion axis, mm.
    pub floor_radius_mm: f64,
}

/// The trochlear keys the morph realises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TrochlearKey {
    /// `subject.sulcus_angle_deg`.
    SulcusAngle,
    /// `subject.trochlear_depth_mm`.
    Depth,
    /// `subject.lateral_trochlear_inclination_deg`.
    LateralInclination,
}

impl TrochlearKey {
    /// The scenario key.
    pub fn key(self) -> &'static str {
        match self {
            TrochlearKey::SulcusAngle => "subject.sulcus_angle_deg",
            TrochlearKey::Depth => "subject.trochlear_depth_mm",
            TrochlearKey::LateralInclination => "subject.lateral_trochlear_inclination_deg",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            TrochlearKey::Depth => "mm",
            _ => "degrees",
        }
    }

    /// This key's value in a set of measures.
    pub fn of(self, m: &TrochleaMeasures) -> f64 {
        match self {
            TrochlearKey::SulcusAngle => m.sulcus_angle_deg,
            TrochlearKey::Depth => m.depth_mm,
            TrochlearKey::LateralInclination => m.lateral_inclination_deg,
        }
    }
}

/// The morph (see the module doc). Coordinates are the field's (right-knee femur frame).
#[derive(Debug, Clone, PartialEq)]
pub struct TrochlearMorph {
    /// Amplitude A, mm (+ raises the groove floor).
    pub amplitude_mm: f64,
    /// Groove position in the field frame, mm.
    groove_z: f64,
    /// Upper bound of the warp's Lipschitz constant ‖DW‖ (for the warm kernel's bounds).
    pub warp_lipschitz: f64,
}

/// Largest |∇δ| where the articular surface lies (ρ ≥ [`SURFACE_MIN_RADIUS_MM`]), and
/// largest |∇δ| + |δ|/ρ anywhere, of the unit-amplitude morph, sampled finely over its
/// support (the profiles are smooth and their extrema lie inside the sampled ranges);
/// computed once per process.
fn unit_slopes() -> (f64, f64) {
    static SLOPES: std::sync::OnceLock<(f64, f64)> = std::sync::OnceLock::new();
    *SLOPES.get_or_init(sample_unit_slopes)
}

fn sample_unit_slopes() -> (f64, f64) {
    let m = TrochlearMorph {
        amplitude_mm: 1.0,
        groove_z: 0.0,
        warp_lipschitz: 1.0,
    };
    let (mut g_max, mut w_max) = (0f64, 0f64);
    for ir in 0..=56 {
        let rho = 3.0 + ir as f64;
        for it in 0..=130 {
            let th = (-75.0 + it as f64).to_radians();
            for iu in 0..=70 {
                let z = -MEDIAL_HALF_WIDTH_MM
                    + iu as f64 / 70.0 * (LATERAL_HALF_WIDTH_MM + MEDIAL_HALF_WIDTH_MM);
                let (d, g) = m.displacement(rho * th.cos(), -rho * th.sin(), z);
                let gn = (g[0] * g[0] + g[1] * g[1] + g[2] * g[2]).sqrt();
                if rho >= SURFACE_MIN_RADIUS_MM {
                    g_max = g_max.max(gn);
                }
                w_max = w_max.max(gn + d.abs() / rho);
            }
        }
    }
    (g_max, w_max)
}

/// A field-frame point pulled along its radius from the femoral axis by `d` (mm, d ≠ 0):
/// where the plain field is sampled for the morphed one.
#[inline]
fn warp(x: f64, y: f64, z: f64, d: f64) -> [f64; 3] {
    let rho = (x * x + y * y).sqrt();
    let k = (rho - d) / rho;
    [x * k, y * k, z]
}

impl TrochlearMorph {
    /// A morph of amplitude `amplitude_mm` about the groove at field-frame `groove_z`.
    pub fn new(amplitude_mm: f64, groove_z: f64) -> Self {
        let (_, w) = unit_slopes();
        Self {
            amplitude_mm,
            groove_z,
            // 5 % margin over the sampled maximum.
            warp_lipschitz: 1.0 + 1.05 * amplitude_mm.abs() * w,
        }
    }

    /// δ (mm) and its gradient at a field-frame point.
    #[inline]
    pub fn displacement(&self, x: f64, y: f64, z: f64) -> (f64, [f64; 3]) {
        let u = z - self.groove_z;
        let (b, db) = if u >= 0.0 {
            let s = u / LATERAL_HALF_WIDTH_MM;
            if s >= 1.0 {
                return (0.0, [0.0; 3]);
            }
            let q = 1.0 - s * s;
            (q * q, -4.0 * s * q / LATERAL_HALF_WIDTH_MM)
        } else {
            if u <= -MEDIAL_HALF_WIDTH_MM {
                return (0.0, [0.0; 3]);
            }
            smoothstep(-MEDIAL_HALF_WIDTH_MM, -MEDIAL_PLATEAU_MM, u)
        };
        let th = (-y).atan2(x).to_degrees();
        let (up, dup) = smoothstep(TAPER_DEG[0], TAPER_DEG[1], th);
        let (down, ddown) = smoothstep(TAPER_DEG[2], TAPER_DEG[3], th);
        let t = up * (1.0 - down);
        if t == 0.0 {
            return (0.0, [0.0; 3]);
        }
        // d/dθ in radians.
        let dt = (dup * (1.0 - down) - up * ddown).to_degrees();
        let rho = (x * x + y * y).sqrt();
        let (wr, dwr) = smoothstep(AXIS_WINDOW_MM.0, AXIS_WINDOW_MM.1, rho);
        if wr == 0.0 {
            return (0.0, [0.0; 3]);
        }
        let a = self.amplitude_mm;
        let d = a * t * b * wr;
        // ∇θ = e_θ/ρ with e_θ = (y, −x)/ρ; ∇ρ = e_r = (x, y)/ρ.
        let (er, et) = ([x / rho, y / rho], [y / rho, -x / rho]);
        let d_th = a * dt * b * wr / rho;
        let d_rho = a * t * b * dwr;
        (
            d,
            [
                d_th * et[0] + d_rho * er[0],
                d_th * et[1] + d_rho * er[1],
                a * t * db * wr,
            ],
        )
    }

    /// [`Self::sample`], with the plain field's cell where δ = 0 (there the plain field's
    /// surface derivatives hold; inside the morphed region none are given, and the contact
    /// Jacobian there leaves out the surface terms).
    #[inline]
    pub(crate) fn sample_in_cell(
        &self,
        sdf: &FemurSdf,
        x: f64,
        y: f64,
        z: f64,
    ) -> (FieldSample, Option<FieldCell>) {
        let (s, cell, _) = self.sample_warped(sdf, x, y, z);
        (s, cell)
    }

    /// [`Self::sample_in_cell`], with the point where the plain field was sampled: the
    /// field-frame point pulled along its radius by δ (itself wherever δ = 0). One
    /// displacement per sample.
    #[inline]
    pub(crate) fn sample_warped(
        &self,
        sdf: &FemurSdf,
        x: f64,
        y: f64,
        z: f64,
    ) -> (FieldSample, Option<FieldCell>, [f64; 3]) {
        let (d, g) = self.displacement(x, y, z);
        if d == 0.0 {
            let (s, cell) = sdf.sample_in_cell(x, y, z);
            return (s, cell, [x, y, z]);
        }
        let p = warp(x, y, z, d);
        (self.displaced(sdf, x, y, d, g, p), None, p)
    }

    /// The morphed field's sample at a field-frame point (see the module doc): the plain
    /// field's own sample wherever δ = 0.
    #[inline]
    pub fn sample(&self, sdf: &FemurSdf, x: f64, y: f64, z: f64) -> FieldSample {
        self.sample_in_cell(sdf, x, y, z).0
    }

    /// The sample where the groove is displaced by `d` (mm) with gradient `g`, the plain
    /// field sampled at the warped point ([`warp`]).
    fn displaced(
        &self,
        sdf: &FemurSdf,
        x: f64,
        y: f64,
        d: f64,
        g: [f64; 3],
        [wx, wy, wz]: [f64; 3],
    ) -> FieldSample {
        let rho = (x * x + y * y).sqrt();
        let w = sdf.sample(wx, wy, wz);
        let n = w.normal;
        if n == [0.0; 3] {
            // Early out (or far): no contact here; the warped distance is reported.
            return w;
        }
        let (er, et) = ([x / rho, y / rho], [-y / rho, x / rho]);
        let ne = n[0] * er[0] + n[1] * er[1];
        let nt = (n[0] * et[0] + n[1] * et[1]) * d / rho;
        let gf = [
            n[0] - ne * g[0] - nt * et[0],
            n[1] - ne * g[1] - nt * et[1],
            n[2] - ne * g[2],
        ];
        let gn = (gf[0] * gf[0] + gf[1] * gf[1] + gf[2] * gf[2]).sqrt();
        let inv = 1.0 / gn;
        FieldSample {
            gap: w.gap * inv,
            normal: [gf[0] * inv, gf[1] * inv, gf[2] * inv],
            thickness: w.thickness,
            trilinear: w.trilinear,
        }
    }
}

/// The surface radius on the ray at angle θ (rad) and field z, searched inward from 60 mm
/// (sphere tracing on the gap, then bisection); `None` when the ray meets no surface.
fn surface_radius(gap: &impl Fn(f64, f64, f64) -> f64, theta: f64, z: f64) -> Option<f64> {
    let (c, s) = (theta.cos(), -theta.sin());
    let at = |rho: f64| gap(rho * c, rho * s, z);
    let (mut outer, mut rho) = (60.0, 60.0);
    let mut g = at(rho);
    while g >= 0.0 {
        outer = rho;
        rho -= (0.8 * g).clamp(0.05, 2.0);
        if rho < 8.0 {
            return None;
        }
        g = at(rho);
    }
    let mut inner = rho;
    for _ in 0..30 {
        let mid = 0.5 * (inner + outer);
        if at(mid) < 0.0 {
            inner = mid;
        } else {
            outer = mid;
        }
    }
    Some(0.5 * (inner + outer))
}

/// The clinical measures of the section θ = `section_deg` of the surface whose signed gap
/// (field frame, mm) is `gap`, about the groove at field-frame `groove_z` (module doc).
/// `None` when the section has no groove with two facet highs.
pub fn measure(
    gap: impl Fn(f64, f64, f64) -> f64,
    groove_z: f64,
    section_deg: f64,
) -> Option<TrochleaMeasures> {
    let theta = section_deg.to_radians();
    let (hl, hm) = HIGH_SEARCH_MM;
    let n = ((FLOOR_SEARCH_MM + hl.max(hm)) / RAY_STEP_MM).round() as i64;
    let profile: Vec<(f64, f64)> = (-n..=n)
        .filter_map(|i| {
            let u = i as f64 * RAY_STEP_MM;
            surface_radius(&gap, theta, groove_z + u).map(|r| (u, r))
        })
        .collect();
    let (u0, r0) = profile
        .iter()
        .filter(|(u, _)| u.abs() <= FLOOR_SEARCH_MM)
        .copied()
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let high = |lo: f64, hi: f64| {
        profile
            .iter()
            .filter(|(u, _)| *u > lo && *u < hi)
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1))
    };
    let (ul, rl) = high(u0, u0 + hl + 1e-9)?;
    let (um, rm) = high(u0 - hm - 1e-9, u0)?;
    if rl <= r0 || rm <= r0 {
        return None;
    }
    let lti = (rl - r0).atan2(ul - u0).to_degrees();
    let mti = (rm - r0).atan2(u0 - um).to_degrees();
    Some(TrochleaMeasures {
        sulcus_angle_deg: 180.0 - lti - mti,
        depth_mm: 0.5 * (rl + rm) - r0,
        lateral_inclination_deg: lti,
        medial_inclination_deg: mti,
        floor_u_mm: u0,
        lateral_high_u_mm: ul,
        medial_high_u_mm: um,
        floor_radius_mm: r0,
    })
}

/// What summary.json reports about a mesh knee's trochlea (`knee.trochlea`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrochleaReport {
    /// Section of the measures, degrees of θ (see [`measure`]).
    pub section_deg: f64,
    /// The knee's own trochlea.
    pub native: TrochleaMeasures,
    /// The requested key and value, when a morph was asked for.
    pub requested_key: Option<&'static str>,
    /// The requested value, in the key's unit.
    pub requested_value: Option<f64>,
    /// The morph's amplitude, mm (0: none).
    pub morph_amplitude_mm: f64,
    /// The morphed trochlea's measures (equal to `native` without a morph).
    pub realised: TrochleaMeasures,
    /// The range of the requested key the morph reaches on this knee, when one was asked
    /// for: (least, greatest).
    pub reachable: Option<(f64, f64)>,
}

/// The measures of the plain field.
pub fn measure_native(sdf: &FemurSdf, groove_z: f64) -> Option<TrochleaMeasures> {
    measure(|x, y, z| sdf.sample(x, y, z).gap, groove_z, SECTION_DEG)
}

/// Fits the morph that realises `key = target` on the field `sdf` (groove at field-frame
/// `groove_z`). An error names the key, the value, the reachable range and the parametric
/// knee.
pub fn fit(
    sdf: &FemurSdf,
    groove_z: f64,
    key: TrochlearKey,
    target: f64,
) -> Result<(TrochlearMorph, TrochleaReport), String> {
    let native = measure_native(sdf, groove_z)
        .ok_or_else(|| "this knee's trochlea has no measurable groove at mid-trochlea, so it cannot be morphed; use anatomy.model = \"parametric\"".to_string())?;
    let (g1, _) = unit_slopes();
    let measured = |a: f64| {
        let m = TrochlearMorph::new(a, groove_z);
        measure(|x, y, z| m.sample(sdf, x, y, z).gap, groove_z, SECTION_DEG)
    };
    // Deepest: keep MIN_LAYER_MM of cartilage under the floor (and within the slope limit).
    let floor = {
        let t = SECTION_DEG.to_radians();
        let r = native.floor_radius_mm;
        sdf.sample(r * t.cos(), -r * t.sin(), groove_z + native.floor_u_mm)
            .thickness
    };
    let a_lo = -(floor - MIN_LAYER_MM).max(0.0).min(MAX_SLOPE / g1);
    // Highest: the slope limit, or where the groove flattens to MIN_DEPTH_MM.
    let shallow_enough = |a: f64| measured(a).is_some_and(|m| m.depth_mm >= MIN_DEPTH_MM);
    let mut a_hi = MAX_SLOPE / g1;
    if !shallow_enough(a_hi) {
        let (mut lo, mut hi) = (0.0, a_hi);
        for _ in 0..30 {
            let mid = 0.5 * (lo + hi);
            if shallow_enough(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        a_hi = lo;
    }
    let value = |a: f64| measured(a).map(|m| key.of(&m));
    let (v_lo, v_hi) = (value(a_lo), value(a_hi));
    let (Some(v_lo), Some(v_hi)) = (v_lo, v_hi) else {
        return Err(format!("{} cannot be morphed on this knee (no groove at the morph's limits); use anatomy.model = \"parametric\"", key.key()));
    };
    let (least, most) = (v_lo.min(v_hi), v_lo.max(v_hi));
    if !(least..=most).contains(&target) {
        return Err(format!(
            "{} = {target} is beyond what the trochlear morph of this mesh knee reaches: {least:.1} to {most:.1} {} (its own trochlea: {:.1}; the morph keeps {MIN_LAYER_MM} mm of cartilage under a deepened groove, a groove at least {MIN_DEPTH_MM} mm deep and a slope within {MAX_SLOPE}); use anatomy.model = \"parametric\" for this shape",
            key.key(),
            key.unit(),
            key.of(&native),
        ));
    }
    // Bisection on the amplitude (the measure is monotone in it).
    let rising = v_hi > v_lo;
    let (mut lo, mut hi) = (a_lo, a_hi);
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        let below = value(mid).is_some_and(|v| v < target);
        if below == rising {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let a = 0.5 * (lo + hi);
    let realised = measured(a).ok_or_else(|| {
        format!(
            "{} = {target}: the morphed groove could not be measured; use anatomy.model = \"parametric\"",
            key.key()
        )
    })?;
    Ok((
        TrochlearMorph::new(a, groove_z),
        TrochleaReport {
            section_deg: SECTION_DEG,
            native,
            requested_key: Some(key.key()),
            requested_value: Some(target),
            morph_amplitude_mm: a,
            realised,
            reachable: Some((least, most)),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::FemurGeometry;
    use crate::model::Model;
    use crate::params::{AnatomyModel, ModelParams};

    fn default_field() -> (std::sync::Arc<FemurSdf>, f64) {
        let m = Model::new(&ModelParams::default()).unwrap();
        match &m.femur {
            FemurGeometry::Mesh(sdf, info) => (sdf.clone(), info.groove_z),
            _ => panic!("the default knee is a mesh knee"),
        }
    }

    fn mesh_with(f: impl Fn(&mut ModelParams)) -> Result<Model, crate::model::ModelError> {
        let mut p = ModelParams::default();
        f(&mut p);
        Model::new(&p)
    }

    /// The realised value of the requested key matches it within 0.05 (° or mm); the
    /// report carries the other two and the knee's own values.
    #[test]
    fn realises_the_requested_key() {
        let cases: [(TrochlearKey, f64, fn(&mut ModelParams, f64)); 6] = [
            (TrochlearKey::SulcusAngle, 132.0, |p, v| {
                p.subject.sulcus_angle_deg = v
            }),
            (TrochlearKey::SulcusAngle, 145.0, |p, v| {
                p.subject.sulcus_angle_deg = v
            }),
            (TrochlearKey::SulcusAngle, 150.0, |p, v| {
                p.subject.sulcus_angle_deg = v
            }),
            (TrochlearKey::Depth, 4.0, |p, v| {
                p.subject.trochlear_depth_mm = v
            }),
            (TrochlearKey::LateralInclination, 13.0, |p, v| {
                p.subject.lateral_trochlear_inclination_deg = v
            }),
            (TrochlearKey::LateralInclination, 24.0, |p, v| {
                p.subject.lateral_trochlear_inclination_deg = v
            }),
        ];
        for (key, v, set) in cases {
            let m = mesh_with(|p| set(p, v)).unwrap();
            assert!(matches!(m.femur, FemurGeometry::MeshMorphed(..)), "{key:?}");
            let r = m.knee.trochlea.clone().unwrap();
            let got = key.of(&r.realised);
            println!(
                "{} = {v}: realised {got:.3}, amplitude {:.3} mm, {:?}",
                key.key(),
                r.morph_amplitude_mm,
                r.realised
            );
            assert!((got - v).abs() < 0.05, "{key:?} {v}: realised {got}");
            assert_eq!(r.requested_key, Some(key.key()));
            let (lo, hi) = r.reachable.unwrap();
            assert!(lo <= v && v <= hi);
        }
    }

    /// The knee's own trochlea is normal by every definition (Dejour / Pfirrmann /
    /// Carrillon thresholds).
    #[test]
    fn the_lenhart_trochlea_measures_normal() {
        let m = Model::new(&ModelParams::default()).unwrap();
        let r = m.knee.trochlea.clone().unwrap();
        assert_eq!(r.morph_amplitude_mm, 0.0);
        let n = r.native;
        println!("{n:?}");
        assert!((132.0..=145.0).contains(&n.sulcus_angle_deg), "{n:?}");
        assert!(
            n.depth_mm >= 3.0 && n.lateral_inclination_deg >= 11.0,
            "{n:?}"
        );
    }

    /// Requests the morph cannot reach, and two keys at once, are errors that name the key,
    /// the value, the reachable range and the parametric knee.
    #[test]
    fn unreachable_requests_are_errors() {
        let cases: [(fn(&mut ModelParams), &str, &str); 4] = [
            (
                |p| p.subject.sulcus_angle_deg = 175.0,
                "subject.sulcus_angle_deg",
                "175",
            ),
            (
                |p| p.subject.trochlear_depth_mm = 10.0,
                "subject.trochlear_depth_mm",
                "= 10 ",
            ),
            (
                |p| p.subject.lateral_trochlear_inclination_deg = 2.0,
                "subject.lateral_trochlear_inclination_deg",
                "= 2 ",
            ),
            (
                |p| {
                    p.subject.sulcus_angle_deg = 150.0;
                    p.subject.trochlear_depth_mm = 3.0;
                },
                "subject.trochlear_depth_mm",
                "one trochlear key at a time",
            ),
        ];
        for (set, key, text) in cases {
            let e = mesh_with(set).unwrap_err();
            let msg = e.to_string();
            println!("{msg}");
            match &e {
                crate::model::ModelError::Unsupported { key: k, .. } => assert_eq!(*k, key),
                other => panic!("{other:?}"),
            }
            assert!(msg.contains(text) && msg.contains("parametric"), "{msg}");
            if !text.contains("one trochlear") {
                assert!(
                    msg.contains(" to ") && msg.contains("its own trochlea"),
                    "{msg}"
                );
            }
        }
        // The patella keys stay refused.
        let e = mesh_with(|p| p.subject.patella_width_mm = 50.0).unwrap_err();
        assert!(e.to_string().contains("parametric"), "{e}");
    }

    /// The displaced surface is where the morphed field says it is (exactly: δ does not vary
    /// along e_r there, so original surface points moved by δ·e_r have a zero morphed gap);
    /// inside it, along the morphed normal, the gap is the depth within twice the field's own
    /// tolerance (0.01 mm + 2 % of the depth; 1.3× measured) down to 1.5 mm, over the groove
    /// (θ = −25…30°) at the largest amplitude (4.9 mm); points
    /// outside the support see the plain field bit for bit.
    #[test]
    fn morphed_field_places_the_displaced_surface() {
        let (sdf, gz) = default_field();
        let (g1, _) = unit_slopes();
        let m = TrochlearMorph::new(MAX_SLOPE / g1, gz);
        let gap = |x: f64, y: f64, z: f64| sdf.sample(x, y, z).gap;
        let (mut worst_on, mut worst_in, mut worst_plain) = (0f64, 0f64, 0f64);
        for th in (-25..=30).step_by(5) {
            let t = (th as f64).to_radians();
            for i in -8..=14 {
                let z = gz + i as f64;
                let Some(r) = surface_radius(&gap, t, z) else {
                    continue;
                };
                let (x, y) = (r * t.cos(), -r * t.sin());
                let (d, _) = m.displacement(x, y, z);
                let p = [x + d * t.cos(), y - d * t.sin(), z];
                let s = m.sample(&sdf, p[0], p[1], p[2]);
                worst_on = worst_on.max(s.gap.abs());
                let nn = s.normal.iter().map(|v| v * v).sum::<f64>().sqrt();
                assert!((nn - 1.0).abs() < 1e-9, "{nn}");
                let s0 = sdf.sample(x, y, z);
                for depth in [0.5, 1.0, 1.5] {
                    let q = |n: [f64; 3], o: [f64; 3]| {
                        [
                            o[0] - depth * n[0],
                            o[1] - depth * n[1],
                            o[2] - depth * n[2],
                        ]
                    };
                    let a = q(s.normal, p);
                    let e = (m.sample(&sdf, a[0], a[1], a[2]).gap + depth).abs();
                    worst_in = worst_in.max(e / (0.01 + 0.02 * depth));
                    let b = q(s0.normal, [x, y, z]);
                    let e0 = (sdf.sample(b[0], b[1], b[2]).gap + depth).abs();
                    worst_plain = worst_plain.max(e0 / (0.01 + 0.02 * depth));
                }
            }
        }
        println!(
            "amplitude {:.2} mm: worst |gap| on the displaced surface {worst_on:.2e} mm; along the normal {worst_in:.2} of the tolerance (plain field {worst_plain:.2})",
            m.amplitude_mm
        );
        assert!(worst_on < 1e-6, "{worst_on}");
        assert!(worst_in < 2.0, "{worst_in}");
        for p in [
            [5.0, 40.0, 0.0],
            [10.0, -40.0, 0.0],
            [35.0, 0.0, gz - 28.0],
            [35.0, 0.0, gz + 21.0],
        ] {
            assert_eq!(m.displacement(p[0], p[1], p[2]).0, 0.0, "{p:?}");
            assert_eq!(
                m.sample(&sdf, p[0], p[1], p[2]),
                sdf.sample(p[0], p[1], p[2])
            );
        }
    }

    #[test]
    #[ignore = "exploration: prints the sections"]
    fn print_sections() {
        let (sdf, gz) = default_field();
        for th in [-20.0, -10.0, 0.0, 10.0, 20.0, 30.0] {
            println!(
                "θ {th}: {:?}",
                measure(|x, y, z| sdf.sample(x, y, z).gap, gz, th)
            );
        }
        let mut p = ModelParams::default();
        p.anatomy.model = AnatomyModel::Parametric;
        let par = Model::new(&p).unwrap();
        let f = par.femur.parametric().unwrap().clone();
        let g = f.groove_z;
        println!(
            "parametric: {:?}",
            measure(
                |x, y, z| f.distance(&crate::math::Vec3::new(x, y, z)).gap,
                g,
                10.0
            )
        );
        for a in [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0] {
            let m = TrochlearMorph::new(a, gz);
            println!(
                "A {a}: {:?}",
                measure(|x, y, z| m.sample(&sdf, x, y, z).gap, gz, SECTION_DEG)
            );
        }
        println!("slopes {:?}", unit_slopes());
    }
}
