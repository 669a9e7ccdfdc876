//! Parametric femoral articular surface (trochlea, notch, condyles) with an analytic,
//! allocation-free signed distance.
//!
//! The surface is a radial height field around the flexion axis (femur Z):
//! a point at angle θ (from +X toward −Y, i.e. 0 = anterior, 90° = distal) and
//! medio-lateral position z lies on the surface when its distance from the axis is
//! `R(θ, z) = R_s(θ) + s(θ)·Ĥ(u) − N(θ, u)`, with
//! * `R_s(θ)` the groove floor radius (Lenhart 2015 cartilage, [`crate::anatomy::SULCUS_RADIUS`]),
//! * `u = z_anat − z_groove` the anatomical (lateral-positive) distance from the groove,
//! * `s(θ)` the height scale along the groove: the cross-section keeps its width and its
//!   facets steepen distally, as in the L cartilage (sulcus angle 151° at θ = −30…−20°,
//!   138° at 10°, 133° at 30°; depth 4.1 → 7.2 mm),
//! * `Ĥ` the cross-section profile: a medial and a lateral facet line meeting in a rounded
//!   sulcus, each ending in a rounded crest beyond which the condyle falls away,
//! * `N` the intercondylar notch that opens distal of the trochlea.
//!
//! **How the clinical measures map onto the surface.** The lateral facet line rises at the
//! lateral trochlear inclination (LTI); the medial facet line rises at
//! `180° − sulcus angle − LTI`, so the sulcus angle is exactly the angle between the facet
//! lines at mid-trochlea (s = 1, θ ≈ 10°; flatter proximally, steeper distally). The facets crest at fixed widths (lateral [`LATERAL_FACET_WIDTH_MM`], medial
//! [`MEDIAL_FACET_WIDTH_MM`]), so the lateral crest stands higher. The trochlear depth (mean
//! crest height above the floor) is then set by how much the sulcus is rounded off: a
//! shallow groove with normal facet angles has a wide, rounded floor. Sulcus angle, LTI and
//! depth are therefore independent, within one limit: the depth cannot exceed what the
//! facet lines reach at the crests (compile reports the allowed maximum).
//!
//! The distance is the first-order signed distance `F/|∇F|` with `F = ρ − R(θ, z)`, refined
//! by [`REFINE_STEPS`] projections near the surface; it agrees with the exact
//! point-to-surface distance (a parry3d mesh query) within 0.01 mm + 2 % of the depth,
//! tested in `tests/kneetrack.rs` (`contact_distance_matches_exact_reference`). The
//! cross-section profile is baked into a C¹ table once per model; the along-groove
//! functions into a second table.

use crate::anatomy;
use crate::math::{fast_atan2, smooth_max, smooth_min, smoothstep, Vec3};

/// Lateral facet half-width from the groove to the lateral crest, mm. The lateral facet is
/// the wider one (DESIGN.md §3); with the medial width it spans 34 mm, matching the L
/// patella's facets (lateral 22.8–25.5 mm, medial 15.5–19 mm wide) that ride on it.
pub const LATERAL_FACET_WIDTH_MM: f64 = 20.0;
/// Medial facet half-width from the groove to the medial crest, mm.
pub const MEDIAL_FACET_WIDTH_MM: f64 = 14.0;
/// Crest rounding (hyperbola parameter), mm: cartilage has no sharp edges.
pub const CREST_ROUNDING_MM: f64 = 0.6;
/// Slope of the condylar flanks beyond the crests (40°), where the patella's edges overhang.
pub const FLANK_SLOPE_DEG: f64 = 40.0;
/// Smallest sulcus rounding, mm; it bounds the deepest groove that fits the facet lines.
pub const MIN_SULCUS_ROUNDING_MM: f64 = 0.3;

/// Points whose first-order distance is below this (mm) get the refined distance: every
/// point in contact, plus a thin margin so none is misclassified at the contact edge.
pub const REFINE_BELOW_MM: f64 = 0.05;
/// Projection steps of the refinement (two reach the exact-reference tolerance).
pub const REFINE_STEPS: usize = 2;

const TABLE_THETA0_DEG: f64 = -90.0;
const TABLE_THETA1_DEG: f64 = 185.0;
const TABLE_STEP_DEG: f64 = 0.25;

/// One row of the along-groove table: floor radius, depth scale and notch shape with their
/// θ-derivatives, so the per-element path has no trigonometry, smoothstep or division.
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    /// Groove floor radius R_s, mm.
    r: f64,
    /// dR_s/dθ, mm/rad.
    dr: f64,
    /// Depth scale s, unitless.
    s: f64,
    /// ds/dθ, 1/rad.
    ds: f64,
    /// Notch depth, mm (0 proximal of [`anatomy::NOTCH_START_DEG`]).
    notch_depth: f64,
    /// d(notch depth)/dθ, mm/rad.
    d_notch_depth: f64,
    /// 1 / notch half-width, 1/mm.
    inv_half: f64,
    /// d(notch half-width)/dθ, mm/rad.
    d_half: f64,
}

/// Geometry error from inconsistent trochlear parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrochleaError {
    /// `sulcus + LTI` leaves no room for a medial facet.
    #[error("the medial facet would be inclined {medial_deg:.1}° (180° − sulcus angle − LTI); it must be at least 1°")]
    NoMedialFacet {
        /// The medial facet's inclination those angles leave, degrees.
        medial_deg: f64,
    },
    /// Depth deeper than the facet lines reach.
    #[error("a trochlear depth of {depth:.2} mm does not fit these facet angles; allowed {min:.2} to {max:.2} mm")]
    TooDeep {
        /// The depth asked for, mm.
        depth: f64,
        /// Shallowest depth these facet angles allow, mm.
        min: f64,
        /// Deepest depth these facet angles allow, mm.
        max: f64,
    },
}

/// The femoral articular surface in the femur frame. Immutable; built once per model.
#[derive(Debug, Clone)]
pub struct FemoralSurface {
    /// +1 right knee, −1 left knee (femur-frame Z of the lateral direction).
    lat: f64,
    /// Groove medio-lateral position, anatomical (lateral +), mm.
    pub groove_z: f64,
    tan_lat: f64,
    tan_med: f64,
    crest_lat: f64,
    crest_med: f64,
    sulcus_rounding: f64,
    tan_flank: f64,
    inv_step: f64,
    table: Vec<Row>,
    /// The cross-section profile Ĥ(u) and dĤ/du baked every [`PROFILE_STEP_MM`] over
    /// ±[`PROFILE_HALF_RANGE_MM`], interpolated with cubic Hermite (C¹, within 1 µm of the
    /// analytic profile; no square roots or divisions on the per-element path).
    profile_table: Vec<[f64; 2]>,
    /// Upper bound of |∂R/∂u| over the table (facets, flanks and notch), for motion bounds.
    pub bound_r_u: f64,
    /// Upper bound of |∂R/∂θ|, mm/rad, for motion bounds.
    pub bound_r_theta: f64,
}

/// Sample spacing of the baked cross-section profile, mm.
pub const PROFILE_STEP_MM: f64 = 0.02;
/// Half range of the baked profile, mm (the patella is at most 60 mm wide).
pub const PROFILE_HALF_RANGE_MM: f64 = 60.0;

/// Reusable arrays of [`FemoralSurface::contact_batch`] (shape (m,) for m points unless
/// noted); kept in the per-run `Data` so the per-step path does not allocate.
#[derive(Debug, Clone, Default)]
pub struct BatchBuffers {
    /// The motion bound's second reference: on the parametric surface the distance from the
    /// flexion axis (mm); on a mesh field the field's local bound of its fall per mm
    /// ([`crate::geometry::FemurSdf::reach`]).
    pub rho: Vec<f64>,
    /// Radial excess ρ − R(θ, u), mm.
    pub radial: Vec<f64>,
    /// ∂R/∂θ (mm/rad) and ∂R/∂u at the point's (θ, u).
    pub r_t: Vec<f64>,
    /// ∂R/∂u at the point's (θ, u), mm/mm.
    pub r_u: Vec<f64>,
    /// Points not rejected by the first pass.
    pub cand: Vec<u32>,
    /// Points in contact, increasing; shape (hits,).
    pub hits: Vec<u32>,
    /// Their signed distance (negative), mm; shape (hits,).
    pub hit_gap: Vec<f64>,
    /// Their outward femoral normal, femur frame; shape (hits,).
    pub hit_normal: Vec<Vec3>,
    /// Their femoral cartilage layer thickness, mm; shape (hits,) (0 on the parametric
    /// surface: its whole layer is carried by the patella elements).
    pub hit_h: Vec<f64>,
    /// On a mesh field, each hit's fine cell (its (0, 0, 0) node and the point's fractions)
    /// where the sample has surface derivatives ([`crate::geometry::FieldDerivative`]);
    /// shape (hits,); empty on the parametric surface.
    pub hit_cell: Vec<Option<crate::geometry::femur_mesh::FieldCell>>,
}

impl BatchBuffers {
    /// Capacity for `n` points in every buffer, so later queries of up to `n` points never
    /// grow one (a frame's solve allocates nothing, whatever the contact set did before).
    pub fn reserve(&mut self, n: usize) {
        for v in [
            &mut self.rho,
            &mut self.radial,
            &mut self.r_t,
            &mut self.r_u,
            &mut self.hit_gap,
            &mut self.hit_h,
        ] {
            reserve_total(v, n);
        }
        reserve_total(&mut self.cand, n);
        reserve_total(&mut self.hits, n);
        reserve_total(&mut self.hit_normal, n);
        reserve_total(&mut self.hit_cell, n);
    }

    fn resize(&mut self, m: usize) {
        for v in [
            &mut self.rho,
            &mut self.radial,
            &mut self.r_t,
            &mut self.r_u,
        ] {
            v.resize(m, 0.0);
        }
    }
}

/// Capacity for `n` items in `v` in all (`Vec::reserve` counts from the length).
pub(crate) fn reserve_total<T>(v: &mut Vec<T>, n: usize) {
    v.reserve(n.saturating_sub(v.len()));
}

/// Result of one distance query.
#[derive(Debug, Clone, Copy)]
pub struct SurfaceDistance {
    /// Signed distance, mm: positive outside the femur (in the joint space), negative when
    /// the point lies inside the femoral cartilage surface.
    pub gap: f64,
    /// Outward unit normal of the femoral surface near the point (femur frame).
    pub normal: Vec3,
}

impl FemoralSurface {
    /// Builds the surface from the clinical trochlear measures (degrees, mm).
    pub fn new(
        sulcus_angle_deg: f64,
        lateral_inclination_deg: f64,
        depth_mm: f64,
        lat: f64,
    ) -> Result<Self, TrochleaError> {
        let medial_deg = 180.0 - sulcus_angle_deg - lateral_inclination_deg;
        if medial_deg < 1.0 {
            return Err(TrochleaError::NoMedialFacet { medial_deg });
        }
        let tan_lat = lateral_inclination_deg.to_radians().tan();
        let tan_med = medial_deg.to_radians().tan();
        let crest_lat = LATERAL_FACET_WIDTH_MM * tan_lat;
        let crest_med = MEDIAL_FACET_WIDTH_MM * tan_med;
        let depth_with =
            |rounding: f64| unit_profile_depth(tan_lat, tan_med, crest_lat, crest_med, rounding);
        let max_depth = depth_with(MIN_SULCUS_ROUNDING_MM);
        if depth_mm.is_nan() || depth_mm > max_depth {
            return Err(TrochleaError::TooDeep {
                depth: depth_mm,
                min: 0.3,
                max: max_depth,
            });
        }
        // The realised depth falls monotonically as the sulcus rounding grows: bisect.
        let (mut lo, mut hi) = (MIN_SULCUS_ROUNDING_MM, 0.5 * (crest_lat + crest_med) + 20.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if depth_with(mid) > depth_mm {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let sulcus_rounding = 0.5 * (lo + hi);
        let n = ((TABLE_THETA1_DEG - TABLE_THETA0_DEG) / TABLE_STEP_DEG).round() as usize + 1;
        let table: Vec<Row> = (0..n)
            .map(|i| {
                let th = TABLE_THETA0_DEG + i as f64 * TABLE_STEP_DEG;
                let (r, dr_deg) = hermite(&anatomy::SULCUS_RADIUS, th);
                let (s, ds_deg) = anatomy::depth_scale(th);
                let (nd, dnd) =
                    smoothstep(anatomy::NOTCH_START_DEG, anatomy::NOTCH_FULL_DEPTH_DEG, th);
                let (nw, dnw) = smoothstep(anatomy::NOTCH_START_DEG, 90.0, th);
                let (w0, w1) = anatomy::NOTCH_HALF_WIDTH_MM;
                let deg_per_rad = 180.0 / std::f64::consts::PI;
                Row {
                    r,
                    dr: dr_deg.to_degrees(),
                    s,
                    ds: ds_deg,
                    notch_depth: anatomy::NOTCH_DEPTH_MM * nd,
                    d_notch_depth: anatomy::NOTCH_DEPTH_MM * dnd * deg_per_rad,
                    inv_half: 1.0 / (w0 + (w1 - w0) * nw),
                    d_half: (w1 - w0) * dnw * deg_per_rad,
                }
            })
            .collect();
        let profile_table: Vec<[f64; 2]> = {
            let n = (2.0 * PROFILE_HALF_RANGE_MM / PROFILE_STEP_MM).round() as usize + 1;
            let tf = FLANK_SLOPE_DEG.to_radians().tan();
            (0..n)
                .map(|i| {
                    let u = -PROFILE_HALF_RANGE_MM + i as f64 * PROFILE_STEP_MM;
                    let (h, dh) = unit_profile(
                        tan_lat,
                        tan_med,
                        crest_lat,
                        crest_med,
                        sulcus_rounding,
                        tf,
                        u,
                    );
                    [h, dh]
                })
                .collect()
        };
        // Bounds of the partials over the whole table, from the separable form
        // R = R_s(θ) + s(θ)·Ĥ(u) − depth(θ)·φ(u/w(θ)) with |φ| ≤ 1, |dφ/dx| ≤ 8/(3√3)
        // (φ = (1 − x²)², steepest at x = 1/√3). The Hermite interpolant between profile
        // samples can exceed the sampled slopes slightly: 5 % margin.
        let (h_max, dh_max) = profile_table.iter().fold((0f64, 0f64), |a, v| {
            (a.0.max(v[0].abs()), a.1.max(v[1].abs()))
        });
        let dphi_max = 8.0 / (3.0 * 3f64.sqrt());
        let (mut bound_r_u, mut bound_r_theta) = (0f64, 0f64);
        for row in &table {
            let r: &Row = row;
            bound_r_u = bound_r_u.max(r.s.abs() * dh_max + r.notch_depth * dphi_max * r.inv_half);
            bound_r_theta = bound_r_theta.max(
                r.dr.abs()
                    + r.ds.abs() * h_max
                    + r.d_notch_depth.abs()
                    + r.notch_depth * dphi_max * r.d_half.abs() * r.inv_half,
            );
        }
        Ok(Self {
            bound_r_u: 1.05 * bound_r_u,
            bound_r_theta: 1.05 * bound_r_theta,
            lat,
            groove_z: anatomy::GROOVE_Z_MM,
            tan_lat,
            tan_med,
            crest_lat,
            crest_med,
            sulcus_rounding,
            tan_flank: FLANK_SLOPE_DEG.to_radians().tan(),
            inv_step: 1.0 / TABLE_STEP_DEG.to_radians(),
            table,
            profile_table,
        })
    }

    /// Cross-section profile Ĥ(u) at unit height scale and its slope dĤ/du, evaluated
    /// analytically (the baked table is checked against this).
    pub fn profile_exact(&self, u: f64) -> (f64, f64) {
        unit_profile(
            self.tan_lat,
            self.tan_med,
            self.crest_lat,
            self.crest_med,
            self.sulcus_rounding,
            self.tan_flank,
            u,
        )
    }

    /// Cross-section profile Ĥ(u) and dĤ/du from the baked table (cubic Hermite).
    #[inline(always)]
    fn profile(&self, u: f64) -> (f64, f64) {
        // Signed integer conversions: a single instruction each (usize ones are not).
        let last = self.profile_table.len() as i64 - 2;
        let f = (u + PROFILE_HALF_RANGE_MM) * (1.0 / PROFILE_STEP_MM);
        let i = (f as i64).clamp(0, last);
        let t = (f - i as f64).clamp(0.0, 1.0);
        let i = i as usize;
        let [y0, m0] = self.profile_table[i];
        let [y1, m1] = self.profile_table[i + 1];
        let d = PROFILE_STEP_MM;
        let (t2, t3) = (t * t, t * t * t);
        let y = (2.0 * t3 - 3.0 * t2 + 1.0) * y0
            + (t3 - 2.0 * t2 + t) * d * m0
            + (-2.0 * t3 + 3.0 * t2) * y1
            + (t3 - t2) * d * m1;
        let dy = ((6.0 * t2 - 6.0 * t) * (y0 - y1)) / d
            + (3.0 * t2 - 4.0 * t + 1.0) * m0
            + (3.0 * t2 - 2.0 * t) * m1;
        (y, dy)
    }

    /// Surface radius `R(θ, u)` and its partials `(∂R/∂θ [mm/rad], ∂R/∂u)` at angle θ
    /// (radians) and anatomical distance u (mm, lateral +) from the groove.
    #[inline(always)]
    pub fn radius(&self, theta: f64, u: f64) -> (f64, f64, f64) {
        let g = self.along_groove(theta);
        let (h, dh) = self.profile(u);
        let mut r = g.r + g.s * h;
        let mut r_theta = g.dr + g.ds * h;
        let mut r_u = g.s * dh;
        // Notch profile across: depth·(1 − x²)² for |x| < 1, x = u / half-width (depth 0
        // proximal of the notch). Branch-free (a 0/1 mask) so loops over points vectorise.
        let x = u * g.inv_half;
        let inside = if x.abs() < 1.0 { 1.0 } else { 0.0 };
        let q = 1.0 - x * x;
        let phi = q * q * inside;
        let dphi = -4.0 * x * q * inside;
        r -= g.notch_depth * phi;
        r_u -= g.notch_depth * dphi * g.inv_half;
        r_theta -= g.d_notch_depth * phi + g.notch_depth * dphi * (-x * g.d_half * g.inv_half);
        (r, r_theta, r_u)
    }

    /// [`Self::radius`] for four points at once (`wide` lanes: packed where the target has
    /// them, else lane by lane), with the same IEEE operations in the same order per lane,
    /// so the same bits; the table rows are looked up per lane.
    #[inline]
    pub fn radius4(&self, theta: [f64; 4], u: [f64; 4]) -> [[f64; 4]; 3] {
        use wide::f64x4;
        let v = |a: [f64; 4]| f64x4::from(a);
        let s = f64x4::splat;
        // The along-groove rows, per lane (the scalar path's index arithmetic).
        let theta0 = TABLE_THETA0_DEG.to_radians();
        let last = self.table.len() as i64 - 2;
        let mut ta = [0.0; 4];
        let (mut ra, mut rb) = ([Row::default(); 4], [Row::default(); 4]);
        for l in 0..4 {
            let f = (theta[l] - theta0) * self.inv_step;
            let i = (f as i64).clamp(0, last);
            ta[l] = (f - i as f64).clamp(0.0, 1.0);
            ra[l] = self.table[i as usize];
            rb[l] = self.table[i as usize + 1];
        }
        let t = v(ta);
        let field = |get: fn(&Row) -> f64| {
            let (p, q) = (
                v(std::array::from_fn(|l| get(&ra[l]))),
                v(std::array::from_fn(|l| get(&rb[l]))),
            );
            p + t * (q - p)
        };
        let (g_r, g_dr, g_s, g_ds) = (
            field(|r| r.r),
            field(|r| r.dr),
            field(|r| r.s),
            field(|r| r.ds),
        );
        let (notch_depth, d_notch_depth) = (field(|r| r.notch_depth), field(|r| r.d_notch_depth));
        let (inv_half, d_half) = (field(|r| r.inv_half), field(|r| r.d_half));
        // The profile, per lane lookups (as `profile`).
        let plast = self.profile_table.len() as i64 - 2;
        let mut pt = [0.0; 4];
        let (mut y0, mut m0, mut y1, mut m1) = ([0.0; 4], [0.0; 4], [0.0; 4], [0.0; 4]);
        for l in 0..4 {
            let f = (u[l] + PROFILE_HALF_RANGE_MM) * (1.0 / PROFILE_STEP_MM);
            let i = (f as i64).clamp(0, plast);
            pt[l] = (f - i as f64).clamp(0.0, 1.0);
            [y0[l], m0[l]] = self.profile_table[i as usize];
            [y1[l], m1[l]] = self.profile_table[i as usize + 1];
        }
        let (y0, m0, y1, m1) = (v(y0), v(m0), v(y1), v(m1));
        let t = v(pt);
        let d = s(PROFILE_STEP_MM);
        let (t2, t3) = (t * t, t * t * t);
        let h = (s(2.0) * t3 - s(3.0) * t2 + s(1.0)) * y0
            + (t3 - s(2.0) * t2 + t) * d * m0
            + (s(-2.0) * t3 + s(3.0) * t2) * y1
            + (t3 - t2) * d * m1;
        let dh = ((s(6.0) * t2 - s(6.0) * t) * (y0 - y1)) / d
            + (s(3.0) * t2 - s(4.0) * t + s(1.0)) * m0
            + (s(3.0) * t2 - s(2.0) * t) * m1;
        let mut r = g_r + g_s * h;
        let mut r_theta = g_dr + g_ds * h;
        let mut r_u = g_s * dh;
        let x = v(u) * inv_half;
        let xa = x.to_array();
        let inside = v(std::array::from_fn(|l| {
            if xa[l].abs() < 1.0 {
                1.0
            } else {
                0.0
            }
        }));
        let q = s(1.0) - x * x;
        let phi = q * q * inside;
        let dphi = s(-4.0) * x * q * inside;
        r -= notch_depth * phi;
        r_u -= notch_depth * dphi * inv_half;
        r_theta -= d_notch_depth * phi + notch_depth * dphi * (-x * d_half * inv_half);
        [r.to_array(), r_theta.to_array(), r_u.to_array()]
    }

    /// The along-groove row at θ (rad), linearly interpolated.
    #[inline(always)]
    fn along_groove(&self, theta: f64) -> Row {
        let f = (theta - TABLE_THETA0_DEG.to_radians()) * self.inv_step;
        // Signed integer conversions: a single instruction each (usize ones are not).
        let last = self.table.len() as i64 - 2;
        let i = (f as i64).clamp(0, last);
        let t = (f - i as f64).clamp(0.0, 1.0);
        let i = i as usize;
        let a = self.table[i];
        let b = self.table[i + 1];
        let l = |p: f64, q: f64| p + t * (q - p);
        Row {
            r: l(a.r, b.r),
            dr: l(a.dr, b.dr),
            s: l(a.s, b.s),
            ds: l(a.ds, b.ds),
            notch_depth: l(a.notch_depth, b.notch_depth),
            d_notch_depth: l(a.d_notch_depth, b.d_notch_depth),
            inv_half: l(a.inv_half, b.inv_half),
            d_half: l(a.d_half, b.d_half),
        }
    }

    /// The contact query: `None` when the point is outside the surface, otherwise the
    /// refined distance (negative = overlap) and normal. Agrees exactly with the sign of
    /// [`Self::distance`]; points clearly outside cost one radius evaluation.
    #[inline]
    pub fn contact(&self, p: &Vec3) -> Option<SurfaceDistance> {
        self.contact_radial(p).2
    }

    /// [`Self::contact`], also returning the radial excess `F = ρ − R(θ, u)` (mm) and ρ
    /// (mm) of the point, for motion bounds.
    #[inline]
    pub fn contact_radial(&self, p: &Vec3) -> (f64, f64, Option<SurfaceDistance>) {
        let rho = (p.x * p.x + p.y * p.y).sqrt().max(1e-9);
        let theta = fast_atan2(-p.y, p.x);
        let (r, r_theta, r_u) = self.radius(theta, self.lat * p.z - self.groove_z);
        // gap = (ρ − R)/|∇F| with 1 ≤ |∇F| ≤ 1 + |R_θ|/ρ + |R_u|: points whose gap is surely
        // beyond the refinement band are rejected without the normal's sqrt and divisions.
        let radial = rho - r;
        if radial > 0.0
            && radial * rho > REFINE_BELOW_MM * (rho * (1.0 + r_u.abs()) + r_theta.abs())
        {
            return (radial, rho, None);
        }
        let d = self.refine(p, self.first_order_from(p, rho, r, r_theta, r_u));
        (radial, rho, (d.gap < 0.0).then_some(d))
    }

    /// The contact query for many points at once, in passes over arrays (polar
    /// coordinates, surface radius, rejection, then the refinement of the few candidates)
    /// rather than one long chain per point: the passes vectorise and overlap. Results are
    /// those of [`Self::contact_radial`] for each point, bit for bit (same arithmetic).
    ///
    /// Inputs: femur-frame points `(px, py, pz)[k]`, mm. Outputs in `buf`: `radial[k]`,
    /// `rho[k]` for every point, and the points in contact (`hits`, increasing k) with their
    /// gap and normal.
    pub fn contact_batch(&self, px: &[f64], py: &[f64], pz: &[f64], buf: &mut BatchBuffers) {
        let m = px.len();
        assert!(py.len() == m && pz.len() == m);
        buf.resize(m);
        // Pass 1: polar coordinates and the surface radius with its partials, four points
        // at a time (the same bits as one at a time), then the rest.
        let quads = m / 4 * 4;
        for k in (0..quads).step_by(4) {
            let mut theta = [0.0; 4];
            let mut u = [0.0; 4];
            for l in 0..4 {
                let (x, y) = (px[k + l], py[k + l]);
                let rho = (x * x + y * y).sqrt().max(1e-9);
                theta[l] = fast_atan2(-y, x);
                u[l] = self.lat * pz[k + l] - self.groove_z;
                buf.rho[k + l] = rho;
            }
            let [r, r_t, r_u] = self.radius4(theta, u);
            for l in 0..4 {
                buf.radial[k + l] = buf.rho[k + l] - r[l];
                buf.r_t[k + l] = r_t[l];
                buf.r_u[k + l] = r_u[l];
            }
        }
        for k in quads..m {
            let (x, y) = (px[k], py[k]);
            let rho = (x * x + y * y).sqrt().max(1e-9);
            let theta = fast_atan2(-y, x);
            let (r, r_t, r_u) = self.radius(theta, self.lat * pz[k] - self.groove_z);
            buf.rho[k] = rho;
            buf.radial[k] = rho - r;
            buf.r_t[k] = r_t;
            buf.r_u[k] = r_u;
        }
        // Pass 2: reject points surely beyond the refinement band (as `contact_radial`).
        buf.cand.clear();
        for k in 0..m {
            let (radial, rho) = (buf.radial[k], buf.rho[k]);
            let apart = radial > 0.0
                && radial * rho
                    > REFINE_BELOW_MM * (rho * (1.0 + buf.r_u[k].abs()) + buf.r_t[k].abs());
            if !apart {
                buf.cand.push(k as u32);
            }
        }
        // Pass 3: first-order distance and refinement of the candidates.
        buf.hits.clear();
        buf.hit_gap.clear();
        buf.hit_normal.clear();
        // Four candidates at a time: the projection steps' radii in lanes (the same bits
        // as `refine` one at a time; a lane that needs no refinement is computed and not
        // used), then the rest one at a time.
        let quads = buf.cand.len() / 4 * 4;
        for c in (0..quads).step_by(4) {
            let ks: [usize; 4] = std::array::from_fn(|l| buf.cand[c + l] as usize);
            let p: [Vec3; 4] = std::array::from_fn(|l| Vec3::new(px[ks[l]], py[ks[l]], pz[ks[l]]));
            let first: [SurfaceDistance; 4] = std::array::from_fn(|l| {
                let k = ks[l];
                let rho = buf.rho[k];
                self.first_order_from(&p[l], rho, rho - buf.radial[k], buf.r_t[k], buf.r_u[k])
            });
            let mut gap: [f64; 4] = std::array::from_fn(|l| first[l].gap);
            let mut t = first;
            if first.iter().any(|s| s.gap < REFINE_BELOW_MM) {
                for _ in 0..REFINE_STEPS {
                    let q: [Vec3; 4] = std::array::from_fn(|l| p[l] - t[l].normal * gap[l]);
                    let rho: [f64; 4] = std::array::from_fn(|l| {
                        (q[l].x * q[l].x + q[l].y * q[l].y).sqrt().max(1e-9)
                    });
                    let theta = std::array::from_fn(|l| fast_atan2(-q[l].y, q[l].x));
                    let u = std::array::from_fn(|l| self.lat * q[l].z - self.groove_z);
                    let [r, r_t, r_u] = self.radius4(theta, u);
                    for l in 0..4 {
                        t[l] = self.first_order_from(&q[l], rho[l], r[l], r_t[l], r_u[l]);
                        gap[l] += t[l].gap;
                    }
                }
            }
            for l in 0..4 {
                let d = if first[l].gap >= REFINE_BELOW_MM {
                    first[l]
                } else {
                    SurfaceDistance {
                        gap: gap[l],
                        normal: t[l].normal,
                    }
                };
                if d.gap < 0.0 {
                    buf.hits.push(ks[l] as u32);
                    buf.hit_gap.push(d.gap);
                    buf.hit_normal.push(d.normal);
                }
            }
        }
        for &k in &buf.cand[quads..] {
            let k = k as usize;
            let p = Vec3::new(px[k], py[k], pz[k]);
            let rho = buf.rho[k];
            let r = rho - buf.radial[k];
            let d = self.refine(
                &p,
                self.first_order_from(&p, rho, r, buf.r_t[k], buf.r_u[k]),
            );
            if d.gap < 0.0 {
                buf.hits.push(k as u32);
                buf.hit_gap.push(d.gap);
                buf.hit_normal.push(d.normal);
            }
        }
    }

    /// Whether a point whose radial excess was `radial` at distance `rho` from the axis
    /// surely has no contact after moving at most `moved` mm: then [`Self::contact`]
    /// would return `None` there. `F = ρ − R` changes by at most
    /// `(1 + |R_u| + |R_θ|/ρ)·moved` (its gradient bound, with ρ ≥ rho − moved along the
    /// way), and `contact` rejects every point with `F > 0.05·(1 + |R_u| + |R_θ|/ρ)`.
    #[inline]
    pub fn surely_apart(&self, radial: f64, rho: f64, moved: f64) -> bool {
        let rho_min = rho - moved;
        rho_min > 0.0
            && radial * rho_min
                > (moved + REFINE_BELOW_MM)
                    * ((1.0 + self.bound_r_u) * rho_min + self.bound_r_theta)
    }

    /// Signed distance from a femur-frame point (mm) to the surface, with the outward
    /// normal. Allocation-free; this is the per-element kernel of the contact model.
    ///
    /// First the first-order estimate `F/|∇F|`; for points closer than
    /// [`REFINE_BELOW_MM`] (everything that can be in contact) [`REFINE_STEPS`] projection
    /// steps follow: from the estimated foot point `q = p − gap·n` the
    /// residual distance of `q` is added and the normal is taken at `q`. That removes the
    /// curvature error of the first-order estimate in the rounded sulcus and the notch.
    #[inline]
    pub fn distance(&self, p: &Vec3) -> SurfaceDistance {
        self.refine(p, self.distance_first_order(p))
    }

    /// The refinement of a first-order estimate `s` at `p` (see [`Self::distance`]).
    #[inline]
    fn refine(&self, p: &Vec3, s: SurfaceDistance) -> SurfaceDistance {
        if s.gap >= REFINE_BELOW_MM {
            return s;
        }
        let mut gap = s.gap;
        let mut t = s;
        // A fixed number of steps (no early exit) keeps the distance a smooth function of
        // the point, which the Newton solve needs.
        for _ in 0..REFINE_STEPS {
            let q = p - t.normal * gap;
            t = self.distance_first_order(&q);
            gap += t.gap;
        }
        SurfaceDistance {
            gap,
            normal: t.normal,
        }
    }

    /// The first-order signed distance `F/|∇F|` alone.
    #[inline]
    pub fn distance_first_order(&self, p: &Vec3) -> SurfaceDistance {
        let rho = (p.x * p.x + p.y * p.y).sqrt().max(1e-9);
        let theta = fast_atan2(-p.y, p.x);
        let (r, r_theta, r_u) = self.radius(theta, self.lat * p.z - self.groove_z);
        self.first_order_from(p, rho, r, r_theta, r_u)
    }

    /// First-order distance from the already evaluated radius and its partials.
    #[inline]
    fn first_order_from(
        &self,
        p: &Vec3,
        rho: f64,
        r: f64,
        r_theta: f64,
        r_u: f64,
    ) -> SurfaceDistance {
        let inv_rho = 1.0 / rho;
        let (cx, cy) = (p.x * inv_rho, p.y * inv_rho);
        // ∇F = e_ρ − (R_θ/ρ) e_θ − R_z e_z with e_ρ = (cx, cy, 0), e_θ = (cy, −cx, 0).
        let a = r_theta * inv_rho;
        let gx = cx - a * cy;
        let gy = cy + a * cx;
        let gz = -self.lat * r_u;
        let g = (gx * gx + gy * gy + gz * gz).sqrt();
        let inv_g = 1.0 / g;
        SurfaceDistance {
            gap: (rho - r) * inv_g,
            normal: Vec3::new(gx * inv_g, gy * inv_g, gz * inv_g),
        }
    }

    /// The surface point at angle θ (radians) and anatomical ML offset u from the groove,
    /// femur frame, mm. Used to tessellate the surface (exact reference, plots, viewer).
    pub fn point(&self, theta: f64, u: f64) -> Vec3 {
        let (r, _, _) = self.radius(theta, u);
        Vec3::new(
            r * theta.cos(),
            -r * theta.sin(),
            self.lat * (u + self.groove_z),
        )
    }

    /// Depth realised by the surface at angle θ (mean crest height above the groove floor),
    /// found by scanning the profile: for checks and reports.
    pub fn realised_depth(&self, theta: f64) -> f64 {
        let floor = self.radius(theta, 0.0).0;
        let scan = |sign: f64| {
            (0..400)
                .map(|i| self.radius(theta, sign * i as f64 * 0.1).0)
                .fold(f64::MIN, f64::max)
        };
        0.5 * (scan(1.0) + scan(-1.0)) - floor
    }
}

/// The cross-section profile Ĥ(v) (mm above the groove line) and dĤ/dv: facet lines
/// meeting in a sulcus rounded by `rounding`, cut by the condylar flanks beyond the crests.
#[inline]
fn unit_profile(
    tan_lat: f64,
    tan_med: f64,
    crest_lat: f64,
    crest_med: f64,
    rounding: f64,
    tan_flank: f64,
    v: f64,
) -> (f64, f64) {
    let (vv, wl, wm) = smooth_max(tan_lat * v, -tan_med * v, rounding);
    let dv = wl * tan_lat - wm * tan_med;
    let flank_l = crest_lat - tan_flank * (v - LATERAL_FACET_WIDTH_MM);
    let (a, wa, wf) = smooth_min(vv, flank_l, CREST_ROUNDING_MM);
    let da = wa * dv - wf * tan_flank;
    let flank_m = crest_med + tan_flank * (v + MEDIAL_FACET_WIDTH_MM);
    let (h, wa2, wf2) = smooth_min(a, flank_m, CREST_ROUNDING_MM);
    (h, wa2 * da + wf2 * tan_flank)
}

/// Depth of the unit profile: mean of the two crest heights minus the floor, found by
/// scanning each side at 0.02 mm.
fn unit_profile_depth(
    tan_lat: f64,
    tan_med: f64,
    crest_lat: f64,
    crest_med: f64,
    rounding: f64,
) -> f64 {
    let tf = FLANK_SLOPE_DEG.to_radians().tan();
    let h = |v: f64| unit_profile(tan_lat, tan_med, crest_lat, crest_med, rounding, tf, v).0;
    let crest = |sign: f64, width: f64| {
        (0..=((width + 5.0) / 0.02) as usize)
            .map(|i| h(sign * i as f64 * 0.02))
            .fold(f64::MIN, f64::max)
    };
    0.5 * (crest(1.0, LATERAL_FACET_WIDTH_MM) + crest(-1.0, MEDIAL_FACET_WIDTH_MM)) - h(0.0)
}

/// Cubic Hermite interpolation through `(x, y)` knots with centred-difference slopes;
/// returns value and dy/dx. Outside the knots the end values are held.
fn hermite(knots: &[(f64, f64)], x: f64) -> (f64, f64) {
    let n = knots.len();
    if x <= knots[0].0 {
        return (knots[0].1, 0.0);
    }
    if x >= knots[n - 1].0 {
        return (knots[n - 1].1, 0.0);
    }
    let slope = |i: usize| -> f64 {
        if i == 0 || i == n - 1 {
            0.0
        } else {
            (knots[i + 1].1 - knots[i - 1].1) / (knots[i + 1].0 - knots[i - 1].0)
        }
    };
    let i = knots.windows(2).position(|w| x < w[1].0).unwrap_or(n - 2);
    let (x0, y0) = knots[i];
    let (x1, y1) = knots[i + 1];
    let h = x1 - x0;
    let t = (x - x0) / h;
    let (m0, m1) = (slope(i) * h, slope(i + 1) * h);
    let t2 = t * t;
    let t3 = t2 * t;
    let y = (2.0 * t3 - 3.0 * t2 + 1.0) * y0
        + (t3 - 2.0 * t2 + t) * m0
        + (-2.0 * t3 + 3.0 * t2) * y1
        + (t3 - t2) * m1;
    let dy = ((6.0 * t2 - 6.0 * t) * y0
        + (3.0 * t2 - 4.0 * t + 1.0) * m0
        + (-6.0 * t2 + 6.0 * t) * y1
        + (3.0 * t2 - 2.0 * t) * m1)
        / h;
    (y, dy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_surface() -> FemoralSurface {
        FemoralSurface::new(138.0, 20.0, 5.5, 1.0).unwrap()
    }

    /// The batched query (radii four points at a time) gives, bit for bit, what the
    /// one-point query gives: the radius and partials of every point, and the same contacts
    /// (gap and normal) in the same order — on a right and a left knee's surface, over points
    /// from deep inside to clear of the surface and across the notch.
    #[test]
    fn batched_query_matches_the_one_point_query_bit_for_bit() {
        let mut next = crate::math::uniform_stream(0x9e37_79b9_7f4a_7c15);
        for lat in [1.0, -1.0] {
            let surf = FemoralSurface::new(138.0, 20.0, 5.5, lat).unwrap();
            let n = 1003; // not a multiple of four: the scalar remainder runs too
            let (mut px, mut py, mut pz) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            let mut expected = Vec::new();
            for k in 0..n {
                let theta = (-60.0 + 200.0 * next()).to_radians();
                let u = -25.0 + 50.0 * next();
                let r = surf.radius(theta, u).0 + (-2.0 + 3.0 * next());
                let p = Vec3::new(r * theta.cos(), -r * theta.sin(), lat * (u + surf.groove_z));
                (px[k], py[k], pz[k]) = (p.x, p.y, p.z);
                let four = surf.radius4([theta; 4], [u; 4]);
                let one = surf.radius(theta, u);
                assert_eq!(
                    [
                        four[0][2].to_bits(),
                        four[1][2].to_bits(),
                        four[2][2].to_bits()
                    ],
                    [one.0.to_bits(), one.1.to_bits(), one.2.to_bits()]
                );
                if let Some(d) = surf.contact(&p) {
                    expected.push((k as u32, d.gap.to_bits(), d.normal.map(f64::to_bits)));
                }
            }
            let mut buf = BatchBuffers::default();
            surf.contact_batch(&px, &py, &pz, &mut buf);
            let got: Vec<_> = (0..buf.hits.len())
                .map(|j| {
                    (
                        buf.hits[j],
                        buf.hit_gap[j].to_bits(),
                        buf.hit_normal[j].map(f64::to_bits),
                    )
                })
                .collect();
            assert!(expected.len() > 100, "{} contacts", expected.len());
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn realised_depth_matches_requested_at_mid_trochlea() {
        for depth in [2.0, 4.0, 5.5] {
            let s = FemoralSurface::new(138.0, 20.0, depth, 1.0).unwrap();
            let got = s.realised_depth(15f64.to_radians());
            assert!(
                (got - depth * anatomy::depth_scale(15.0).0).abs() < 0.35,
                "depth {depth}: got {got}"
            );
        }
    }

    #[test]
    fn baked_profile_matches_the_analytic_profile() {
        for (sulcus, lti, depth) in [(138.0, 20.0, 5.5), (150.0, 11.0, 3.0), (156.0, 2.0, 2.0)] {
            let s = FemoralSurface::new(sulcus, lti, depth, 1.0).unwrap();
            for i in 0..=8000 {
                let u = -40.0 + i as f64 * 0.01;
                let (a, da) = s.profile_exact(u);
                let (b, db) = s.profile(u);
                assert!((a - b).abs() < 1e-6, "value at {u}: {a} vs {b}");
                assert!((da - db).abs() < 2e-3, "slope at {u}: {da} vs {db}");
            }
        }
    }

    #[test]
    fn too_deep_groove_is_rejected_with_the_allowed_range() {
        let e = FemoralSurface::new(150.0, 11.0, 8.0, 1.0).unwrap_err();
        assert!(matches!(e, TrochleaError::TooDeep { max, .. } if max < 8.0));
        assert!(FemoralSurface::new(170.0, 20.0, 1.0, 1.0).is_err());
    }

    #[test]
    fn radius_partials_match_finite_differences() {
        let s = default_surface();
        for &(th, u) in &[
            (0.1, 3.0),
            (0.5, -8.0),
            (0.8, 1.0),
            (1.2, -4.0),
            (-0.3, 15.0),
        ] {
            let (_, rt, ru) = s.radius(th, u);
            let h = 1e-6;
            let fd_t = (s.radius(th + h, u).0 - s.radius(th - h, u).0) / (2.0 * h);
            let fd_u = (s.radius(th, u + h).0 - s.radius(th, u - h).0) / (2.0 * h);
            assert!(
                (rt - fd_t).abs() < 0.05 * fd_t.abs().max(1.0),
                "θ {th} u {u}: {rt} vs {fd_t}"
            );
            assert!((ru - fd_u).abs() < 1e-4, "θ {th} u {u}: {ru} vs {fd_u}");
        }
    }

    #[test]
    fn points_on_the_surface_have_zero_gap_and_a_left_knee_mirrors() {
        let r = default_surface();
        let l = FemoralSurface::new(138.0, 20.0, 5.5, -1.0).unwrap();
        for &(th, u) in &[(0.0, 0.0), (0.4, 10.0), (0.9, -6.0)] {
            let p = r.point(th, u);
            assert!(r.distance(&p).gap.abs() < 1e-4);
            let q = l.point(th, u);
            assert!((q - Vec3::new(p.x, p.y, -p.z)).norm() < 1e-12);
            let (dr, dl) = (
                r.distance(&(p + Vec3::new(1.0, 0.5, 2.0))),
                l.distance(&(q + Vec3::new(1.0, 0.5, -2.0))),
            );
            assert!((dr.gap - dl.gap).abs() < 1e-12 && (dr.normal.z + dl.normal.z).abs() < 1e-12);
        }
    }

    #[test]
    fn lateral_crest_stands_more_anterior_than_medial() {
        let s = default_surface();
        let th = 10f64.to_radians();
        assert!(
            s.radius(th, LATERAL_FACET_WIDTH_MM).0 > s.radius(th, -MEDIAL_FACET_WIDTH_MM).0 + 1.0
        );
    }
}
