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
use crate::geometry::{FemoralSurface, PatellaMesh};
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
#[allow(clippy::needless_range_loop)] // SoA element arrays indexed together
pub fn elastic_foundation(
    femur_from_patella: &Isometry3<f64>,
    femur: &FemoralSurface,
    patella: &PatellaMesh,
    law: &ContactLaw,
    pressure: &mut [f64],
    jacobian: bool,
) -> ContactResult {
    assert_eq!(
        pressure.len(),
        patella.len(),
        "pressure buffer must have one slot per element"
    );
    let rm = femur_from_patella.rotation.to_rotation_matrix();
    let m = rm.matrix();
    let t = femur_from_patella.translation.vector;
    let mut out = ContactResult::default();
    // Upper triangle of Σ w g gᵀ, and Σ r fᵀ, Σ f·r for the geometric term.
    let mut k = [0.0f64; 21];
    let mut rf = [0.0f64; 9];
    let mut fr = 0.0;
    let (mut fx, mut fy, mut fz) = (0.0, 0.0, 0.0);
    let (mut mx, mut my, mut mz) = (0.0, 0.0, 0.0);
    for i in 0..patella.len() {
        let (ex, ey, ez) = (patella.x[i], patella.y[i], patella.z[i]);
        let rx = m[(0, 0)] * ex + m[(0, 1)] * ey + m[(0, 2)] * ez;
        let ry = m[(1, 0)] * ex + m[(1, 1)] * ey + m[(1, 2)] * ez;
        let rz = m[(2, 0)] * ex + m[(2, 1)] * ey + m[(2, 2)] * ez;
        let p = Vec3::new(rx + t.x, ry + t.y, rz + t.z);
        let Some(s) = femur.contact(&p) else {
            pressure[i] = 0.0;
            continue;
        };
        let d = -s.gap;
        let (pr, dpr) = law.pressure(d);
        pressure[i] = pr;
        let a = patella.area[i];
        let load = pr * a;
        let n = s.normal;
        let (efx, efy, efz) = (load * n.x, load * n.y, load * n.z);
        fx += efx;
        fy += efy;
        fz += efz;
        mx += ry * efz - rz * efy;
        my += rz * efx - rx * efz;
        mz += rx * efy - ry * efx;
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
        out.cop_moment += Vec3::new(ex, ey, ez) * load;
        if jacobian {
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
                    k[idx] += wg * g[c];
                    idx += 1;
                }
            }
            let (r3, f3) = ([rx, ry, rz], [efx, efy, efz]);
            for r in 0..3 {
                for c in 0..3 {
                    rf[3 * r + c] += r3[r] * f3[c];
                }
            }
            fr += efx * rx + efy * ry + efz * rz;
        }
    }
    out.force = Vec3::new(fx, fy, fz);
    out.moment = Vec3::new(mx, my, mz);
    if jacobian {
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
    }
    out
}
