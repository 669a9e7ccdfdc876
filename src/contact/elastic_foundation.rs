//! Elastic-foundation contact between the patella elements and the femoral surface: one
//! pass over the elements giving pressures, the net wrench, its Jacobian and the contact
//! metrics.
//!
//! Per element i (centroid x_i in the patella frame, area A_i): overlap depth
//! d_i = −gap(p_i) with p_i = femur_from_patella · x_i, pressure p_i = law(d_i), force on the
//! patella f_i = p_i·A_i·n_i along the femoral outward normal, moment r_i × f_i about the
//! patella origin (r_i = p_i − t). The Jacobian with respect to a patella twist
//! (δt, δω) — translation and rotation vector, femur frame — is
//! `−Σ p'_i A_i g_i g_iᵀ + [0 0; 0 Σ [f_i]×[r_i]×]` with g_i = (n_i, r_i × n_i): exact except
//! for the change of the femoral normal along the surface (its curvature), which is small
//! next to the stiffness term; `tests/kneetrack.rs` checks it against finite differences.

use nalgebra::{Isometry3, Matrix6};

use super::law::ContactLaw;
use crate::geometry::femur::{BatchBuffers, SurfaceDistance};
use crate::geometry::femur_mesh::EARLY_OUT_MM;
use crate::geometry::{FemurGeometry, PatellaMesh};
use crate::math::Vec3;

/// What one contact evaluation returns.
#[derive(Debug, Clone, Default)]
pub struct ContactResult {
    /// Net contact force on the patella, femur frame, N.
    pub force: Vec3,
    /// Net contact moment on the patella about its origin, femur frame, N·mm.
    pub moment: Vec3,
    /// ∂(force, moment)/∂(δt, δω): rows N and N·mm, columns mm and rad. Zero unless asked.
    pub jacobian: Matrix6<f64>,
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
    /// motion bounds ([`BatchBuffers`]; a culled patch's elements get its lower bound);
    /// shape (n,).
    pub(crate) radial_all: Vec<f64>,
    pub(crate) rho_all: Vec<f64>,
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
/// then the sums over the elements in contact in element order.
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
) -> ContactResult {
    let mut acc = Accumulator::new(femur_from_patella, patella, pressure, jacobian);
    let n = patella.len();
    if which == Elements::All {
        scratch.active.clear();
        scratch.radial_all.resize(n, 0.0);
        scratch.rho_all.resize(n, 0.0);
        match femur {
            // Patch rejection: one bound per patch; its elements are visited only when the
            // femoral field may come within the early-out distance of the patch's ball.
            FemurGeometry::Mesh(sdf, info) if !patella.patches.is_empty() => {
                for p in &patella.patches {
                    let (c, _) = acc.place_point(p.centre);
                    let lb = sdf.patch_lower_bound(c.x, c.y, info.lat * c.z, p.radius);
                    let range = p.start as usize..p.end as usize;
                    if lb >= EARLY_OUT_MM {
                        scratch.radial_all[range.clone()].fill(lb);
                        scratch.rho_all[range].fill(0.0);
                    } else {
                        scratch.active.extend(p.start..p.end);
                    }
                }
            }
            _ => scratch.active.extend(0..n as u32),
        }
    }
    acc.pressure.fill(0.0);
    if let FemurGeometry::Mesh(sdf, info) = femur {
        // The field's query is per point and cheap: one fused pass (place, sample, add)
        // with no intermediate arrays. Same order, same arithmetic as the batched path.
        let lat = info.lat;
        let all = which == Elements::All;
        for &i in &scratch.active {
            let i = i as usize;
            let (p, r) = acc.place(patella, i);
            let s = sdf.sample(p.x, p.y, lat * p.z);
            if all {
                scratch.radial_all[i] = s.trilinear;
                scratch.rho_all[i] = 0.0;
            }
            if s.gap < 0.0 {
                let normal = Vec3::new(s.normal[0], s.normal[1], lat * s.normal[2]);
                acc.add(
                    patella,
                    law,
                    i,
                    r,
                    SurfaceDistance { gap: s.gap, normal },
                    s.thickness,
                );
            }
        }
        return acc.finish();
    }
    let m = scratch.active.len();
    for v in [&mut scratch.px, &mut scratch.py, &mut scratch.pz] {
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
    for (j, &k) in b.hits.iter().enumerate() {
        let i = scratch.active[k as usize] as usize;
        let (_, r) = acc.place(patella, i);
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
        );
    }
    acc.finish()
}

/// The per-element sums of one contact evaluation, shared by the kernels.
pub(crate) struct Accumulator<'a> {
    m: [[f64; 3]; 3],
    t: Vec3,
    pub(crate) pressure: &'a mut [f64],
    jacobian: bool,
    out: ContactResult,
    /// Upper triangle of Σ w g gᵀ, and Σ r fᵀ, Σ f·r for the geometric term.
    k: [f64; 21],
    rf: [f64; 9],
    fr: f64,
    f: [f64; 3],
    mo: [f64; 3],
}

impl<'a> Accumulator<'a> {
    pub(crate) fn new(
        femur_from_patella: &Isometry3<f64>,
        patella: &PatellaMesh,
        pressure: &'a mut [f64],
        jacobian: bool,
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
            jacobian,
            out: ContactResult::default(),
            k: [0.0; 21],
            rf: [0.0; 9],
            fr: 0.0,
            f: [0.0; 3],
            mo: [0.0; 3],
        }
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
    /// `femoral_h` mm thick (the patella element carries its own layer thickness).
    #[inline]
    #[allow(clippy::needless_range_loop)] // the 6×6 upper triangle, indexed
    pub(crate) fn add(
        &mut self,
        patella: &PatellaMesh,
        law: &ContactLaw,
        i: usize,
        [rx, ry, rz]: [f64; 3],
        s: SurfaceDistance,
        femoral_h: f64,
    ) {
        let d = -s.gap;
        let (pr, dpr) = law.pressure_h(d, patella.thickness[i] + law.femoral_layer * femoral_h);
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
        if self.jacobian {
            let w = dpr * a;
            let g = [
                n.x,
                n.y,
                n.z,
                ry * n.z - rz * n.y,
                rz * n.x - rx * n.z,
                rx * n.y - ry * n.x,
            ];
            let mut idx = 0;
            for r in 0..6 {
                let wg = w * g[r];
                for c in r..6 {
                    self.k[idx] += wg * g[c];
                    idx += 1;
                }
            }
            let (r3, f3) = ([rx, ry, rz], [efx, efy, efz]);
            for r in 0..3 {
                for c in 0..3 {
                    self.rf[3 * r + c] += r3[r] * f3[c];
                }
            }
            self.fr += efx * rx + efy * ry + efz * rz;
        }
    }

    pub(crate) fn finish(self) -> ContactResult {
        let mut out = self.out;
        out.force = Vec3::new(self.f[0], self.f[1], self.f[2]);
        out.moment = Vec3::new(self.mo[0], self.mo[1], self.mo[2]);
        if self.jacobian {
            let mut j = Matrix6::zeros();
            let mut idx = 0;
            for r in 0..6 {
                for c in r..6 {
                    j[(r, c)] = -self.k[idx];
                    j[(c, r)] = -self.k[idx];
                    idx += 1;
                }
            }
            for r in 0..3 {
                for c in 0..3 {
                    j[(3 + r, 3 + c)] += self.rf[3 * r + c] - if r == c { self.fr } else { 0.0 };
                }
            }
            out.jacobian = j;
        }
        out
    }
}
