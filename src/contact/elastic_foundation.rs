//! Elastic-foundation contact between the patella elements and the femoral surface: one
//! pass over the elements giving pressures, the net wrench, its Jacobian and the contact
//! metrics.
//!
//! Per element i (centroid x_i in the patella frame, area A_i): overlap depth
//! d_i = −gap(p_i) with p_i = femur_from_patella · x_i, pressure p_i = law(d_i), force on the
//! patella f_i = p_i·A_i·n_i along the femoral outward normal, moment r_i × f_i about the
//! patella origin (r_i = p_i − t). The Jacobian with respect to a patella twist
//! (δt, δω) — translation and rotation vector, femur frame — is
//! `−Σ p'_i A_i g_i g_iᵀ + [0 0; 0 Σ [f_i]×[r_i]×]` with g_i = (n_i, r_i × n_i), plus, on a
//! mesh field, the surface terms: the femoral normal turning and the femoral layer thinning
//! as the element slides (`jacobian_lanes.rs`; without them the running peak's
//! contact stiffness was overestimated by up to 2× medio-laterally and the Newton solve
//! converged linearly at a rate of ≈ 0.3). The parametric surface leaves its curvature
//! term out. `tests/kneetrack.rs` checks both against finite differences.

use nalgebra::{Isometry3, Matrix6};

use super::jacobian_lanes::{ElementTerms, JacobianLanes, JacobianSums};
use super::law::ContactLaw;
use crate::geometry::femur::{reserve_total, BatchBuffers, SurfaceDistance};
use crate::geometry::femur_mesh::{
    DerivativeSums, FieldCell, FieldDerivative, FieldSample, RefineSums, EARLY_OUT_MM, FAR_GAP_MM,
    NODE_X, NODE_Y, REACH_SPAN_MM,
};
use crate::geometry::patches::Patch;
use crate::geometry::{FemurGeometry, FemurSdf, PatellaMesh};
use crate::math::Vec3;

/// What one contact evaluation returns.
#[derive(Debug, Clone, Default)]
pub struct ContactResult {
    /// Net contact force on the patella, femur frame, N.
    pub force: Vec3,
    /// Net contact moment on the patella about its origin, femur frame, N·mm.
    pub moment: Vec3,
    /// ∂(force, moment)/∂(δt, δω) without the surface terms: the overlap stiffness and
    /// the geometric term (rows N and N·mm, columns mm and rad). Zero unless asked. A
    /// robust approximation (negative semi-definite in its stiffness part) for steps from
    /// far away; `jacobian + surface_jacobian` is the exact derivative.
    pub jacobian: Matrix6<f64>,
    /// The surface terms of the Jacobian (a mesh field's normal turning and layer
    /// thinning as the elements slide; same units): exact near a solution, but dominated
    /// by the sharply curved rim and facet kinks of the mesh when the patella is far from
    /// equilibrium, so the solve adds it only once its model predicts well. Zero unless
    /// asked, and on the parametric knee.
    pub surface_jacobian: Matrix6<f64>,
    /// Sum of element normal loads Σ p·A, N.
    pub load: f64,
    /// Normal load carried by lateral-facet elements, N.
    pub lateral_load: f64,
    /// Contact area (elements with p > 0), mm².
    pub area: f64,
    /// Contact area on the lateral facet, mm².
    pub lateral_area: f64,
    /// Highest element pressure, MPa.
    pub peak_pressure: f64,
    /// Highest pressure on the lateral / medial facet, MPa.
    pub peak_lateral_pressure: f64,
    /// Highest pressure on the medial facet, MPa.
    pub peak_medial_pressure: f64,
    /// Σ p·A·x over contacting elements, patella frame, N·mm (centre of pressure = this / load).
    pub cop_moment: Vec3,
    /// Number of elements in contact.
    pub elements_in_contact: usize,
}

impl ContactResult {
    /// Centre of pressure in the patella frame, mm; `None` without contact.
    pub fn centre_of_pressure(&self) -> Option<Vec3> {
        (self.load > 0.0).then(|| self.cop_moment / self.load)
    }

    /// Mean contact pressure over the contact area, MPa (0 without contact).
    pub fn mean_pressure(&self) -> f64 {
        if self.area > 0.0 {
            self.load / self.area
        } else {
            0.0
        }
    }
}

/// Evaluates the contact of `patella` (posed by `femur_from_patella`) against `femur`.
/// Writes every element's pressure (MPa, 0 where not in contact) into `pressure`
/// (shape (n,), same order as the mesh). With `jacobian = false` the Jacobian is left zero.
/// Allocates its scratch; the solve uses [`super::elastic_foundation_warm`] with the
/// per-run scratch instead (same result).
pub fn elastic_foundation(
    femur_from_patella: &Isometry3<f64>,
    femur: &FemurGeometry,
    patella: &PatellaMesh,
    law: &ContactLaw,
    pressure: &mut [f64],
    jacobian: bool,
) -> ContactResult {
    let mut scratch = ContactScratch::default();
    evaluate(
        femur_from_patella,
        femur,
        patella,
        law,
        &mut scratch,
        Elements::All,
        pressure,
        jacobian,
        false,
    )
}

/// [`elastic_foundation()`] with caller-owned scratch: no allocation once the scratch has
/// been sized by a first call.
pub fn elastic_foundation_in(
    femur_from_patella: &Isometry3<f64>,
    femur: &FemurGeometry,
    patella: &PatellaMesh,
    law: &ContactLaw,
    scratch: &mut ContactScratch,
    pressure: &mut [f64],
    jacobian: bool,
) -> ContactResult {
    evaluate(
        femur_from_patella,
        femur,
        patella,
        law,
        scratch,
        Elements::All,
        pressure,
        jacobian,
        false,
    )
}

/// Per-run scratch of the contact kernels (in `Data`): element positions in the femur frame
/// and the batched surface query's arrays, so an evaluation does not allocate.
#[derive(Debug, Clone, Default)]
pub struct ContactScratch {
    /// Indices of the elements evaluated (warm kernel: those not skipped).
    pub(crate) active: Vec<u32>,
    /// Element centroids in the femur frame, mm; shape (active,).
    px: Vec<f64>,
    py: Vec<f64>,
    pz: Vec<f64>,
    /// The batched surface query's buffers.
    pub(crate) batch: BatchBuffers,
    /// After an evaluation of every element: each element's `radial` and `rho` for the
    /// motion bounds ([`BatchBuffers`]; on a mesh field the plain trilinear distance and the
    /// field's motion bound [`FemurSdf::reach`]; a culled patch's elements get its lower
    /// bound and the bound over its ball); shape (n,).
    pub(crate) radial_all: Vec<f64>,
    pub(crate) rho_all: Vec<f64>,
    /// When set, a Jacobian evaluation leaves out the surface terms
    /// (`ContactResult::surface_jacobian` stays zero): the dynamic integrators, and solve
    /// iterations that reuse their frame's surface terms, do not pay for them.
    pub(crate) skip_surface: bool,
    /// The Jacobian's lanes, between evaluations.
    lanes: Option<Box<JacobianLanes>>,
}

impl ContactScratch {
    /// Elements the last evaluation visited one by one (not rejected by their patch or, in
    /// the warm kernel, by their motion bound): a cost figure.
    pub fn visited(&self) -> usize {
        self.active.len()
    }
}

/// Which elements an evaluation visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elements {
    /// Every element.
    All,
    /// Those listed in `scratch.active` (increasing).
    Active,
}

/// One evaluation over all or the active elements: positions, the batched surface query,
/// then the sums over the elements in contact in element order. `portable` keeps to the
/// scalar path where a vector path exists (same bits; for the tests that check it).
#[allow(clippy::too_many_arguments)]
pub(crate) fn evaluate(
    femur_from_patella: &Isometry3<f64>,
    femur: &FemurGeometry,
    patella: &PatellaMesh,
    law: &ContactLaw,
    scratch: &mut ContactScratch,
    which: Elements,
    pressure: &mut [f64],
    jacobian: bool,
    portable: bool,
) -> ContactResult {
    // The parametric surface gives no derivatives: its lanes skip the surface sums.
    let surface =
        jacobian && !scratch.skip_surface && !matches!(femur, FemurGeometry::Parametric(_));
    // The AVX2 paths (kernel and lanes) where the CPU has them and the caller allows.
    #[cfg(target_arch = "x86_64")]
    let vector = !portable && std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let vector = false;
    // The lanes live in the scratch (boxed, allocated at the first Jacobian evaluation):
    // 2.8 kB that would otherwise be built and copied per evaluation.
    let lanes = jacobian.then(|| {
        let mut lanes = scratch
            .lanes
            .take()
            .unwrap_or_else(|| Box::new(JacobianLanes::new(vector, surface)));
        lanes.reset(vector, surface);
        lanes
    });
    let mut acc = Accumulator::new(femur_from_patella, patella, pressure, lanes);
    let n = patella.len();
    if which == Elements::All {
        scratch.active.clear();
        scratch.active.reserve(n);
        scratch.radial_all.resize(n, 0.0);
        scratch.rho_all.resize(n, 0.0);
        match femur {
            // Patch rejection: one bound per patch; its elements are visited only when the
            // femoral field may come within the early-out distance of the patch's ball.
            FemurGeometry::Mesh(sdf, info) if !patella.patches.is_empty() => {
                #[cfg(target_arch = "x86_64")]
                if vector {
                    // SAFETY: AVX2 is present (`vector`).
                    unsafe { cull_patches_avx2(&acc, sdf, info.lat, &patella.patches, scratch) };
                } else {
                    cull_patches(&acc, sdf, info.lat, &patella.patches, scratch);
                }
                #[cfg(not(target_arch = "x86_64"))]
                cull_patches(&acc, sdf, info.lat, &patella.patches, scratch);
            }
            _ => scratch.active.extend(0..n as u32),
        }
    }
    acc.pressure.fill(0.0);
    if let FemurGeometry::Mesh(sdf, info) = femur {
        // The field's query is per point and cheap: one fused pass (place, sample, add)
        // with no intermediate arrays. Same order, same arithmetic as the batched path.
        let ContactScratch {
            active,
            radial_all,
            rho_all,
            ..
        } = scratch;
        let refs = (which == Elements::All).then_some((&mut radial_all[..], &mut rho_all[..]));
        let pass = MeshPass {
            sdf,
            lat: info.lat,
            patella,
            law,
        };
        #[cfg(target_arch = "x86_64")]
        if vector {
            // SAFETY: AVX2 is present (`vector`).
            unsafe { pass.run_avx2(&mut acc, active, refs) };
            return acc.finish(&mut scratch.lanes);
        }
        pass.run(&mut acc, active, refs);
        return acc.finish(&mut scratch.lanes);
    }
    let m = scratch.active.len();
    // Capacity for every element once, so no later evaluation grows a buffer.
    scratch.batch.reserve(n);
    for v in [&mut scratch.px, &mut scratch.py, &mut scratch.pz] {
        reserve_total(v, n);
        v.resize(m, 0.0);
    }
    for (k, &i) in scratch.active.iter().enumerate() {
        let (p, _) = acc.place(patella, i as usize);
        scratch.px[k] = p.x;
        scratch.py[k] = p.y;
        scratch.pz[k] = p.z;
    }
    femur.contact_batch(&scratch.px, &scratch.py, &scratch.pz, &mut scratch.batch);
    if which == Elements::All {
        for (k, &i) in scratch.active.iter().enumerate() {
            scratch.radial_all[i as usize] = scratch.batch.radial[k];
            scratch.rho_all[i as usize] = scratch.batch.rho[k];
        }
    }
    let b = &scratch.batch;
    let field = match femur {
        FemurGeometry::Mesh(sdf, info) | FemurGeometry::MeshMorphed(sdf, info, _) => {
            Some((sdf, info.lat))
        }
        FemurGeometry::Parametric(_) => None,
    };
    for (j, &k) in b.hits.iter().enumerate() {
        let i = scratch.active[k as usize] as usize;
        let (_, r) = acc.place(patella, i);
        let surface = match (field, b.hit_cell.get(j)) {
            (Some((sdf, lat)), Some(&cell)) if acc.surface() => sdf.derivative_in(cell, lat),
            _ => None,
        };
        acc.add(
            patella,
            law,
            i,
            r,
            SurfaceDistance {
                gap: b.hit_gap[j],
                normal: b.hit_normal[j],
            },
            b.hit_h[j],
            surface.as_ref(),
        );
    }
    acc.finish(&mut scratch.lanes)
}

/// Patch `p` with lower bound `lb`: rejected (its elements get the bound as their motion
/// reference, with the field's motion bound `reach()` for a start anywhere in the patch's
/// ball) or its elements listed for the element pass.
#[inline(always)]
fn cull(p: &Patch, lb: f64, reach: impl Fn() -> f64, scratch: &mut ContactScratch) {
    let range = p.start as usize..p.end as usize;
    if lb >= EARLY_OUT_MM {
        scratch.radial_all[range.clone()].fill(lb);
        scratch.rho_all[range].fill(reach());
    } else {
        scratch.active.extend(p.start..p.end);
    }
}

/// Patch rejection: one bound per patch; its elements are visited only when the femoral
/// field may come within the early-out distance of the patch's ball.
fn cull_patches(
    acc: &Accumulator,
    sdf: &FemurSdf,
    lat: f64,
    patches: &[Patch],
    scratch: &mut ContactScratch,
) {
    for p in patches {
        let (c, _) = acc.place_point(p.centre);
        let (x, y, z) = (c.x, c.y, lat * c.z);
        cull(
            p,
            sdf.patch_lower_bound(x, y, z, p.radius),
            || sdf.reach(x, y, z, p.radius, REACH_SPAN_MM),
            scratch,
        );
    }
}

/// [`cull_patches`] four patches at a time (the same bounds, bit for bit).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn cull_patches_avx2(
    acc: &Accumulator,
    sdf: &FemurSdf,
    lat: f64,
    patches: &[Patch],
    scratch: &mut ContactScratch,
) {
    use std::arch::x86_64::*;
    let m = acc.m;
    let t = acc.t;
    let b = |v: f64| _mm256_set1_pd(v);
    let chunks = patches.chunks_exact(4);
    let tail = chunks.remainder();
    for ch in chunks {
        let get = |f: fn(&Patch) -> f64| _mm256_setr_pd(f(&ch[0]), f(&ch[1]), f(&ch[2]), f(&ch[3]));
        let ex = get(|p| p.centre[0]);
        let ey = get(|p| p.centre[1]);
        let ez = get(|p| p.centre[2]);
        let r = get(|p| p.radius);
        let row = |k: usize| {
            _mm256_add_pd(
                _mm256_add_pd(_mm256_mul_pd(b(m[k][0]), ex), _mm256_mul_pd(b(m[k][1]), ey)),
                _mm256_mul_pd(b(m[k][2]), ez),
            )
        };
        let cx = _mm256_add_pd(row(0), b(t.x));
        let cy = _mm256_add_pd(row(1), b(t.y));
        let cz = _mm256_mul_pd(b(lat), _mm256_add_pd(row(2), b(t.z)));
        let (lb, ok) = sdf.patch_lower_bound4(cx, cy, cz, r);
        let lb: [f64; 4] = std::mem::transmute(lb);
        // A lane the vector bound covers has a radius of at most half a block, so its
        // reach is the table's entry at the centre, as `reach4` reads it.
        let reach: [f64; 4] = std::mem::transmute(sdf.reach4(cx, cy, cz));
        for (l, p) in ch.iter().enumerate() {
            if ok >> l & 1 == 1 {
                cull(p, lb[l], || reach[l], scratch);
            } else {
                let (c, _) = acc.place_point(p.centre);
                let (x, y, z) = (c.x, c.y, lat * c.z);
                cull(
                    p,
                    sdf.patch_lower_bound(x, y, z, p.radius),
                    || sdf.reach(x, y, z, p.radius, REACH_SPAN_MM),
                    scratch,
                );
            }
        }
    }
    cull_patches(acc, sdf, lat, tail, scratch);
}

/// The fused element pass on a mesh field: place each element, sample the field, add it
/// when in contact; with `refs`, record each element's trilinear distance for the motion
/// bounds.
struct MeshPass<'a> {
    sdf: &'a FemurSdf,
    lat: f64,
    patella: &'a PatellaMesh,
    law: &'a ContactLaw,
}

type MotionRefs<'r> = Option<(&'r mut [f64], &'r mut [f64])>;

impl MeshPass<'_> {
    /// One element, scalar.
    #[inline(always)]
    fn visit(&self, acc: &mut Accumulator, i: usize, refs: &mut MotionRefs) {
        let (p, r) = acc.place(self.patella, i);
        let (s, cell) = self.sdf.sample_in_cell(p.x, p.y, self.lat * p.z);
        if let Some((radial, rho)) = refs {
            radial[i] = s.trilinear;
            rho[i] = self.sdf.reach(p.x, p.y, self.lat * p.z, 0.0, REACH_SPAN_MM);
        }
        self.add(acc, i, r, &s, cell);
    }

    /// Adds the element when in contact; `cell` (the fine cell of a refined sample) gives
    /// the surface's derivatives for the Jacobian (a coarse-grid sample has none: never in
    /// contact in a converged frame).
    #[inline(always)]
    fn add(
        &self,
        acc: &mut Accumulator,
        i: usize,
        r: [f64; 3],
        s: &FieldSample,
        cell: Option<FieldCell>,
    ) {
        if s.gap < 0.0 {
            let surface = if acc.surface() {
                self.sdf.derivative_in(cell, self.lat)
            } else {
                None
            };
            self.add_in_contact(acc, i, r, s, surface.as_ref());
        }
    }

    /// Adds element `i`, in contact (`s.gap < 0`), with the surface's derivatives when
    /// the Jacobian takes them.
    #[inline(always)]
    fn add_in_contact(
        &self,
        acc: &mut Accumulator,
        i: usize,
        r: [f64; 3],
        s: &FieldSample,
        surface: Option<&FieldDerivative>,
    ) {
        let normal = Vec3::new(s.normal[0], s.normal[1], self.lat * s.normal[2]);
        acc.add(
            self.patella,
            self.law,
            i,
            r,
            SurfaceDistance { gap: s.gap, normal },
            s.thickness,
            surface,
        );
    }

    /// The listed elements in order, scalar.
    fn run(&self, acc: &mut Accumulator, active: &[u32], mut refs: MotionRefs) {
        for &i in active {
            self.visit(acc, i as usize, &mut refs);
        }
    }

    /// [`Self::run`] in two passes per run of [`CHUNK`] elements: first, four elements at
    /// a time and without branches, placing and the plain trilinear distance in AVX2 lanes
    /// (the same operations as the scalar path, so the same bits), keeping the lanes within
    /// the early-out distance (or outside the fine blocks) and prefetching their normals;
    /// then, in element order, the near-contact refinement and the sums for the kept lanes
    /// (lanes outside the fine blocks take the scalar path).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&self, acc: &mut Accumulator, active: &[u32], mut refs: MotionRefs) {
        use std::arch::x86_64::*;
        let p = self.patella;
        let n = p.len();
        assert!(p.x.len() == n && p.y.len() == n && p.z.len() == n);
        assert!(active.iter().all(|&i| (i as usize) < n));
        if let Some((radial, rho)) = &refs {
            assert!(radial.len() == n && rho.len() == n);
        }
        let m = acc.m;
        let t = acc.t;
        let b = |v: f64| _mm256_set1_pd(v);
        let (m00, m01, m02) = (b(m[0][0]), b(m[0][1]), b(m[0][2]));
        let (m10, m11, m12) = (b(m[1][0]), b(m[1][1]), b(m[1][2]));
        let (m20, m21, m22) = (b(m[2][0]), b(m[2][1]), b(m[2][2]));
        let (tx, ty, tz) = (b(t.x), b(t.y), b(t.z));
        let lat = b(self.lat);
        let early = b(EARLY_OUT_MM);
        let nt = self.sdf.normal_thick_ptr();
        let mut near = [Near::default(); CHUNK];
        const { assert!(CHUNK.is_multiple_of(4)) };
        let mut samples = [FieldSample::apart(FAR_GAP_MM); CHUNK];
        let mut sums = [RefineSums::default(); CHUNK];
        let mut dsums = [DerivativeSums::default(); CHUNK];
        let mut dlane = [0u8; CHUNK];
        let mut derivs = [FieldDerivative::default(); CHUNK];
        let dist = self.sdf.dist_ptr();
        let mut located = [(self.sdf.locate4(tx, ty, tz), [tx; 3], [tx; 3]); CHUNK / 4];
        for run in active.chunks(CHUNK) {
            let groups = run.chunks_exact(4);
            let tail = groups.remainder();
            let count = groups.len();
            // Pass 1a: place and locate every lane, prefetching its cell's node distances
            // (no long-latency load waits on another here, so the misses overlap).
            for (g, slot) in groups.clone().zip(located.iter_mut()) {
                let idx = _mm_loadu_si128(g.as_ptr() as *const __m128i);
                let ex = _mm256_i32gather_pd::<8>(p.x.as_ptr(), idx);
                let ey = _mm256_i32gather_pd::<8>(p.y.as_ptr(), idx);
                let ez = _mm256_i32gather_pd::<8>(p.z.as_ptr(), idx);
                let rx = _mm256_add_pd(
                    _mm256_add_pd(_mm256_mul_pd(m00, ex), _mm256_mul_pd(m01, ey)),
                    _mm256_mul_pd(m02, ez),
                );
                let ry = _mm256_add_pd(
                    _mm256_add_pd(_mm256_mul_pd(m10, ex), _mm256_mul_pd(m11, ey)),
                    _mm256_mul_pd(m12, ez),
                );
                let rz = _mm256_add_pd(
                    _mm256_add_pd(_mm256_mul_pd(m20, ex), _mm256_mul_pd(m21, ey)),
                    _mm256_mul_pd(m22, ez),
                );
                let px = _mm256_add_pd(rx, tx);
                let py = _mm256_add_pd(ry, ty);
                let pz = _mm256_mul_pd(lat, _mm256_add_pd(rz, tz));
                let q = self.sdf.locate4(px, py, pz);
                let base: [u32; 4] = std::mem::transmute(q.base);
                for b in base {
                    for o in [0, NODE_Y, NODE_X, NODE_X + NODE_Y] {
                        _mm_prefetch::<_MM_HINT_T0>(dist.add(b as usize + o) as *const i8);
                    }
                }
                *slot = (q, [rx, ry, rz], [px, py, pz]);
            }
            // Pass 1b: the plain trilinear distances; keep the near lanes.
            let mut kept = 0usize;
            for (g, &(q, [rx, ry, rz], [px, py, pz])) in groups.zip(located[..count].iter()) {
                let mut d0 = self.sdf.trilinear_at4(q.base, q.fx, q.fy, q.fz);
                if q.fine != 0b1111 {
                    // Lanes outside the box are apart at FAR_GAP_MM; lanes in the coarse
                    // grid are apart at its distance when that is beyond the early-out
                    // (else the scalar path samples them).
                    let lane = |bits: u32| {
                        _mm256_castsi256_pd(_mm256_cmpeq_epi64(
                            _mm256_and_si256(
                                _mm256_set1_epi64x(bits as i64),
                                _mm256_setr_epi64x(1, 2, 4, 8),
                            ),
                            _mm256_setr_epi64x(1, 2, 4, 8),
                        ))
                    };
                    let coarse = q.inside & !q.fine;
                    if coarse != 0 {
                        d0 = _mm256_blendv_pd(d0, self.sdf.coarse4(px, py, pz), lane(coarse));
                    }
                    d0 = _mm256_blendv_pd(_mm256_set1_pd(FAR_GAP_MM), d0, lane(q.inside));
                }
                let far = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(d0, early)) as u32;
                let keep = !far & 0b1111;
                let d0: [f64; 4] = std::mem::transmute(d0);
                if let Some((radial, rho)) = &mut refs {
                    // The motion bound by slot in the fine blocks, elsewhere (rare) from the
                    // position; kept lanes outside the fine blocks are written again by the
                    // scalar path.
                    let mut reach = self.sdf.reach_fine4(&q);
                    if q.fine != 0b1111 {
                        let fine = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm_cmpeq_epi32(
                            _mm_and_si128(
                                _mm_set1_epi32(q.fine as i32),
                                _mm_setr_epi32(1, 2, 4, 8),
                            ),
                            _mm_setr_epi32(1, 2, 4, 8),
                        )));
                        reach = _mm256_blendv_pd(self.sdf.reach4(px, py, pz), reach, fine);
                    }
                    let reach: [f64; 4] = std::mem::transmute(reach);
                    for l in 0..4 {
                        let i = *g.get_unchecked(l) as usize;
                        *radial.get_unchecked_mut(i) = d0[l];
                        *rho.get_unchecked_mut(i) = reach[l];
                    }
                }
                if keep == 0 {
                    // Most groups away from the contact keep no lane: nothing to list.
                    continue;
                }
                let lanes = |v: __m256d| std::mem::transmute::<__m256d, [f64; 4]>(v);
                let (rx, ry, rz) = (lanes(rx), lanes(ry), lanes(rz));
                let (fx, fy, fz) = (lanes(q.fx), lanes(q.fy), lanes(q.fz));
                let base: [u32; 4] = std::mem::transmute(q.base);
                // The kept lanes, in lane order.
                let mut lanes = keep;
                while lanes != 0 {
                    let l = lanes.trailing_zeros() as usize;
                    lanes &= lanes - 1;
                    let fine = q.fine >> l & 1 == 1;
                    *near.get_unchecked_mut(kept) = Near {
                        i: *g.get_unchecked(l),
                        base: if fine { base[l] } else { u32::MAX },
                        f: [fx[l], fy[l], fz[l]],
                        d0: d0[l],
                        r: [rx[l], ry[l], rz[l]],
                    };
                    kept += 1;
                }
                let mut pre = keep & q.fine;
                while pre != 0 {
                    let l = pre.trailing_zeros() as usize;
                    pre &= pre - 1;
                    for o in [0, NODE_Y, NODE_X, NODE_X + NODE_Y] {
                        let a = nt.add(base[l] as usize + o) as *const i8;
                        _mm_prefetch::<_MM_HINT_T0>(a);
                        _mm_prefetch::<_MM_HINT_T0>(a.add(31));
                    }
                }
            }
            // Pass 2a: the kept lanes' refined samples (d0 < EARLY_OUT_MM: as `sample`):
            // the corner sums one element at a time, then the normalisations (a square
            // root and a division each) four at a time, apart from the sums so they do not
            // wait behind them (lanes outside the fine blocks are computed and not used).
            for (e, s) in near[..kept].iter().zip(sums.iter_mut()) {
                if e.base != u32::MAX {
                    *s = self
                        .sdf
                        .refine_sums(e.base as usize, e.f[0], e.f[1], e.f[2]);
                }
            }
            for k in (0..kept).step_by(4) {
                let d0: [f64; 4] = std::array::from_fn(|l| near[(k + l).min(kept - 1)].d0);
                let group: [RefineSums; 4] = std::array::from_fn(|l| sums[(k + l).min(kept - 1)]);
                // All four (a run's kept lanes are at most CHUNK, a multiple of four, so
                // the group's slots exist; those past `kept` are not read): a fixed-size
                // store.
                let out: &mut [FieldSample; 4] =
                    (&mut samples[k..k + 4]).try_into().expect("four slots");
                *out = self.sdf.refined4(&d0, &group);
            }
            // Pass 2b: with the surface terms, the in-contact fine lanes' derivatives: the
            // corner sums one element at a time, the rest four at a time.
            let surface = acc.surface();
            if surface {
                let mut m = 0;
                for (k, (e, s)) in near[..kept].iter().zip(samples.iter()).enumerate() {
                    if e.base != u32::MAX && s.gap < 0.0 {
                        dsums[m] =
                            self.sdf
                                .derivative_sums(e.base as usize, e.f[0], e.f[1], e.f[2]);
                        dlane[m] = k as u8;
                        m += 1;
                    }
                }
                for j in (0..m).step_by(4) {
                    let group: [DerivativeSums; 4] =
                        std::array::from_fn(|l| dsums[(j + l).min(m - 1)]);
                    let out = self.sdf.derivative4(&group);
                    for (l, d) in out.iter().enumerate().take(m - j) {
                        derivs[dlane[j + l] as usize] = d.mirrored(self.lat);
                    }
                }
            }
            // Pass 2c: the sums, in element order.
            for (k, (e, s)) in near[..kept].iter().zip(samples.iter()).enumerate() {
                let i = e.i as usize;
                if e.base == u32::MAX {
                    self.visit(acc, i, &mut refs);
                } else if s.gap < 0.0 {
                    self.add_in_contact(acc, i, e.r, s, surface.then_some(&derivs[k]));
                }
            }
            for &i in tail {
                self.visit(acc, i as usize, &mut refs);
            }
        }
    }
}

/// Elements per two-pass run of the vector element pass (its kept lanes' normals stay in
/// the first-level cache between the passes).
#[cfg(target_arch = "x86_64")]
const CHUNK: usize = 64;

/// A lane kept by the vector element pass: element, cell (`u32::MAX`: outside the fine
/// blocks) and fractions, plain trilinear distance, lever.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Default)]
struct Near {
    i: u32,
    base: u32,
    f: [f64; 3],
    d0: f64,
    r: [f64; 3],
}

/// The per-element sums of one contact evaluation, shared by the kernels.
pub(crate) struct Accumulator<'a> {
    m: [[f64; 3]; 3],
    t: Vec3,
    pub(crate) pressure: &'a mut [f64],
    /// The Jacobian's sums (when asked): the overlap stiffness Σ w g gᵀ, the geometric
    /// term Σ r fᵀ, Σ f·r and, when it takes them, the surface terms (the normal turning
    /// and the layer thinning along the surface, [`FieldDerivative`]; zero without
    /// derivatives), in four lanes ([`JacobianLanes`]).
    lanes: Option<Box<JacobianLanes>>,
    out: ContactResult,
    f: [f64; 3],
    mo: [f64; 3],
}

impl<'a> Accumulator<'a> {
    pub(crate) fn new(
        femur_from_patella: &Isometry3<f64>,
        patella: &PatellaMesh,
        pressure: &'a mut [f64],
        lanes: Option<Box<JacobianLanes>>,
    ) -> Self {
        assert_eq!(
            pressure.len(),
            patella.len(),
            "pressure buffer must have one slot per element"
        );
        let rm = femur_from_patella.rotation.to_rotation_matrix();
        let m = rm.matrix();
        Self {
            m: [
                [m[(0, 0)], m[(0, 1)], m[(0, 2)]],
                [m[(1, 0)], m[(1, 1)], m[(1, 2)]],
                [m[(2, 0)], m[(2, 1)], m[(2, 2)]],
            ],
            t: femur_from_patella.translation.vector,
            pressure,
            lanes,
            out: ContactResult::default(),
            f: [0.0; 3],
            mo: [0.0; 3],
        }
    }

    /// Whether the Jacobian takes the surface terms (its callers then give the surface's
    /// derivatives).
    #[inline]
    pub(crate) fn surface(&self) -> bool {
        self.lanes.as_ref().is_some_and(|l| l.surface())
    }

    /// Element `i` in the femur frame: its position, and its lever r = position − t.
    #[inline]
    pub(crate) fn place(&self, patella: &PatellaMesh, i: usize) -> (Vec3, [f64; 3]) {
        self.place_point([patella.x[i], patella.y[i], patella.z[i]])
    }

    /// A patella-frame point in the femur frame, and its lever r = position − t.
    #[inline]
    pub(crate) fn place_point(&self, [ex, ey, ez]: [f64; 3]) -> (Vec3, [f64; 3]) {
        let m = &self.m;
        let rx = m[0][0] * ex + m[0][1] * ey + m[0][2] * ez;
        let ry = m[1][0] * ex + m[1][1] * ey + m[1][2] * ez;
        let rz = m[2][0] * ex + m[2][1] * ey + m[2][2] * ez;
        (
            Vec3::new(rx + self.t.x, ry + self.t.y, rz + self.t.z),
            [rx, ry, rz],
        )
    }

    /// Adds element `i` in contact with surface distance `s`, where the femoral layer is
    /// `femoral_h` mm thick (the patella element carries its own layer thickness), with
    /// the surface's derivatives at the element when the geometry gives them (femur frame).
    #[inline]
    #[allow(clippy::needless_range_loop)] // the 6×6 upper triangle, indexed
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add(
        &mut self,
        patella: &PatellaMesh,
        law: &ContactLaw,
        i: usize,
        [rx, ry, rz]: [f64; 3],
        s: SurfaceDistance,
        femoral_h: f64,
        surface: Option<&FieldDerivative>,
    ) {
        let d = -s.gap;
        let h = patella.thickness[i] + law.femoral_layer * femoral_h;
        let (pr, dpr) = law.pressure_h(d, h);
        self.pressure[i] = pr;
        let a = patella.area[i];
        let load = pr * a;
        let n = s.normal;
        let (efx, efy, efz) = (load * n.x, load * n.y, load * n.z);
        self.f[0] += efx;
        self.f[1] += efy;
        self.f[2] += efz;
        self.mo[0] += ry * efz - rz * efy;
        self.mo[1] += rz * efx - rx * efz;
        self.mo[2] += rx * efy - ry * efx;
        let out = &mut self.out;
        out.load += load;
        out.area += a;
        out.elements_in_contact += 1;
        out.peak_pressure = out.peak_pressure.max(pr);
        let lat = patella.lateral[i];
        out.lateral_load += lat * load;
        out.lateral_area += lat * a;
        if lat > 0.5 {
            out.peak_lateral_pressure = out.peak_lateral_pressure.max(pr);
        } else {
            out.peak_medial_pressure = out.peak_medial_pressure.max(pr);
        }
        out.cop_moment += Vec3::new(patella.x[i], patella.y[i], patella.z[i]) * load;
        if let Some(lanes) = &mut self.lanes {
            let dload_dh = match surface {
                Some(_) if lanes.surface() => a * law.pressure_dh(d, h) * law.femoral_layer,
                _ => 0.0,
            };
            lanes.push(&ElementTerms {
                w: dpr * a,
                load,
                dload_dh,
                n: [n.x, n.y, n.z],
                r: [rx, ry, rz],
                dv: surface.copied().unwrap_or_default(),
            });
        }
    }

    /// The sums; the Jacobian's lanes go back to `store` for the next evaluation.
    pub(crate) fn finish(mut self, store: &mut Option<Box<JacobianLanes>>) -> ContactResult {
        let mut out = self.out;
        out.force = Vec3::new(self.f[0], self.f[1], self.f[2]);
        out.moment = Vec3::new(self.mo[0], self.mo[1], self.mo[2]);
        if let Some(mut lanes) = self.lanes.take() {
            let JacobianSums { k, rf, fr, kc } = lanes.finish();
            *store = Some(lanes);
            let mut j = Matrix6::zeros();
            let mut idx = 0;
            for r in 0..6 {
                for c in r..6 {
                    j[(r, c)] = -k[idx];
                    j[(c, r)] = -k[idx];
                    idx += 1;
                }
            }
            for r in 0..3 {
                for c in 0..3 {
                    j[(3 + r, 3 + c)] += rf[3 * r + c] - if r == c { fr } else { 0.0 };
                }
            }
            out.jacobian = j;
            out.surface_jacobian = Matrix6::from_row_slice(&kc);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{step, Data, FrameInput, KneeAngles, Model, ModelParams, QuadLoad};
    use nalgebra::{Translation3, UnitQuaternion, Vector3};

    /// The vector path (where the CPU has one) gives the scalar path's result bit for bit:
    /// wrench, Jacobian, every pressure, the elements visited and their motion-bound
    /// references, over poses from deep overlap to clear of the femur.
    #[test]
    fn vector_and_portable_paths_agree_bit_for_bit() {
        for side in [crate::params::Side::Right, crate::params::Side::Left] {
            let mut params = ModelParams::default();
            params.subject.side = side;
            vector_and_portable_paths_agree_on(&Model::new(&params).unwrap());
        }
    }

    /// Exact bits of a matrix's entries.
    fn bits(m: &nalgebra::Matrix6<f64>) -> Vec<u64> {
        m.iter().map(|x| x.to_bits()).collect()
    }

    /// 150 poses about the loaded 30° pose of knee `m`: the vector and the portable path
    /// give the same wrench, Jacobian (with its surface terms), metrics, pressures and
    /// motion-bound references, bit for bit.
    fn vector_and_portable_paths_agree_on(m: &Model) {
        let mut d = Data::new(m);
        let knee = KneeAngles {
            flexion: 30f64.to_radians(),
            ..Default::default()
        };
        let load = QuadLoad::Force(400.0);
        crate::experiment::approach(m, &mut d, knee, load);
        let r = step(m, &FrameInput::new(knee, load), &mut d);
        let n = m.patella.len();
        let (mut pv, mut pp) = (vec![0.0; n], vec![0.0; n]);
        let (mut sv, mut sp) = (ContactScratch::default(), ContactScratch::default());
        // A fixed pseudo-random walk (no RNG dependency): translations within ±3 mm,
        // rotations within ±0.1 rad of the loaded pose.
        let mut uniform = crate::math::uniform_stream(0x2545_f491_4f6c_dd1d);
        let mut u = || uniform() * 2.0 - 1.0;
        for case in 0..150 {
            let pose = nalgebra::Isometry3::from_parts(
                Translation3::from(
                    r.femur_from_patella.translation.vector
                        + Vector3::new(3.0 * u(), 3.0 * u(), 3.0 * u()),
                ),
                UnitQuaternion::from_scaled_axis(Vector3::new(0.1 * u(), 0.1 * u(), 0.1 * u()))
                    * r.femur_from_patella.rotation,
            );
            let jac = case % 2 == 0;
            let run = |s: &mut ContactScratch, p: &mut [f64], portable| {
                evaluate(
                    &pose,
                    &m.femur,
                    &m.patella,
                    &m.law,
                    s,
                    Elements::All,
                    p,
                    jac,
                    portable,
                )
            };
            let v = run(&mut sv, &mut pv, false);
            let p = run(&mut sp, &mut pp, true);
            assert_eq!(v.force, p.force, "case {case}");
            assert_eq!(v.moment, p.moment);
            assert_eq!(bits(&v.jacobian), bits(&p.jacobian));
            assert_eq!(bits(&v.surface_jacobian), bits(&p.surface_jacobian));
            assert!(
                !jac || v.surface_jacobian != nalgebra::Matrix6::zeros()
                    || v.elements_in_contact == 0
            );
            assert_eq!(v.load, p.load);
            assert_eq!(v.area, p.area);
            assert_eq!(v.peak_pressure, p.peak_pressure);
            assert_eq!(v.cop_moment, p.cop_moment);
            assert_eq!(v.elements_in_contact, p.elements_in_contact);
            assert_eq!(pv, pp);
            assert_eq!(sv.active, sp.active);
            assert_eq!(sv.radial_all, sp.radial_all);
            assert_eq!(sv.rho_all, sp.rho_all);
        }
    }
}
