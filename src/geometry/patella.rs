//! Parametric patella articular surface, meshed into elastic-foundation elements.
//!
//! Patella frame: origin at the L patella body origin, axes parallel to the femur frame at
//! the default (extended) pose: +x anterior, +y proximal, +z lateral (right knee). The
//! articular surface faces posteriorly; it is the height field
//! `x(y, z) = −t/2 + F(z − z_ridge) + (y − y_c)²/(2·R_sag)`, where `t` is the patella
//! thickness, `F` rises anteriorly from the median ridge along a lateral and a medial facet
//! line (rounded at the ridge) and `R_sag` is the mild proximo-distal convexity.
//! Elements sit on a square grid of the element size inside the elliptical articular
//! outline (L: 29.9 × 43.8 mm, centred as in [`anatomy::PATELLA_ARTICULAR_CENTRE`]).

use super::patches::{bounding_ball, Patch};
use crate::anatomy;
use crate::math::smooth_max;

/// Patellar lateral facet inclination to the ML axis, degrees. The L cartilage slices give
/// chords of 22–28° on curved facets; flat model facets must nearly conform to the default
/// trochlear facets (20° lateral, 22° medial) to reproduce measured contact areas (Besier
/// 2005), so the default is 1° steeper than the default trochlea.
pub const LATERAL_FACET_DEG: f64 = 21.0;
/// Patellar medial facet inclination, degrees (see [`LATERAL_FACET_DEG`]).
pub const MEDIAL_FACET_DEG: f64 = 23.0;
/// Rounding of the median ridge (hyperbola parameter), mm. Blunter than the default sulcus
/// so the ridge does not bottom out in a normal groove.
pub const RIDGE_ROUNDING_MM: f64 = 1.0;
/// Proximo-distal radius of the articular surface's convexity, mm (nearly flat).
pub const SAGITTAL_RADIUS_MM: f64 = -60.0;

/// Contact elements of the patella, structure-of-arrays for the vectoriser.
#[derive(Debug, Clone)]
pub struct PatellaMesh {
    /// Element centroid x (anterior), patella frame, mm; shape (n,).
    pub x: Vec<f64>,
    /// Element centroid y (proximal), patella frame, mm; shape (n,).
    pub y: Vec<f64>,
    /// Element centroid z (lateral for a right knee), patella frame, mm; shape (n,).
    pub z: Vec<f64>,
    /// Element surface area, mm²; shape (n,).
    pub area: Vec<f64>,
    /// 1.0 for lateral-facet elements, 0.0 for medial; shape (n,).
    pub lateral: Vec<f64>,
    /// Cartilage layer thickness carried by each element, mm; shape (n,). On a mesh knee the
    /// patellar layer measured to the bone (the femoral layer is added at the contact point);
    /// on the parametric knee the whole combined layer (`cartilage.thickness_mm`).
    pub thickness: Vec<f64>,
    /// Element size, mm (grid spacing).
    pub element_size: f64,
    /// Articular width (ML) and height (PD), mm.
    pub width: f64,
    /// Articular height (proximo-distal), mm.
    pub height: f64,
    /// Articular outline centre (y, z_anatomical), patella frame, mm.
    pub centre: [f64; 2],
    /// Median ridge position, anatomical z (lateral +), patella frame, mm.
    pub ridge_z: f64,
    /// Posterior-most depth of the ridge, patella frame x, mm.
    pub ridge_x: f64,
    /// Spatially compact groups of consecutive elements with a bounding ball each, for the
    /// contact kernel's group rejection (see [`super::patches`]); empty when the elements
    /// are not grouped (the parametric grid, whose surface query rejects by its own bound).
    pub patches: Vec<Patch>,
}

impl PatellaMesh {
    /// Meshes the articular surface of a patella of the given size (mm) whose median ridge
    /// lies `lateral_facet_fraction` of the width from the lateral border; `lat` is +1 for a
    /// right knee and −1 for a left knee (z mirrored).
    pub fn new(
        width: f64,
        height: f64,
        thickness: f64,
        lateral_facet_fraction: f64,
        element_size: f64,
        layer_mm: f64,
        lat: f64,
    ) -> Self {
        let art_h = anatomy::PATELLA_ARTICULAR_HEIGHT_FRACTION * height;
        let [yc0, zc0] = anatomy::PATELLA_ARTICULAR_CENTRE;
        let (yc, zc) = (
            yc0 * height / anatomy::PATELLA_REF_SIZE[1],
            zc0 * width / anatomy::PATELLA_REF_SIZE[2],
        );
        let ridge_z = zc + 0.5 * width - lateral_facet_fraction * width;
        let ridge_x = -0.5 * thickness;
        let (tl, tm) = (
            LATERAL_FACET_DEG.to_radians().tan(),
            MEDIAL_FACET_DEG.to_radians().tan(),
        );
        let (a, b) = (0.5 * art_h, 0.5 * width);
        let ny = (art_h / element_size).ceil() as i64;
        let nz = (width / element_size).ceil() as i64;
        let mut m = PatellaMesh {
            x: vec![],
            y: vec![],
            z: vec![],
            area: vec![],
            lateral: vec![],
            thickness: vec![],
            element_size,
            width,
            height: art_h,
            centre: [yc, zc],
            ridge_z,
            ridge_x,
            patches: Vec::new(),
        };
        for iy in 0..ny {
            let dy = -a + (iy as f64 + 0.5) * element_size;
            for iz in 0..nz {
                let dz = -b + (iz as f64 + 0.5) * element_size;
                if (dy / a).powi(2) + (dz / b).powi(2) > 1.0 {
                    continue;
                }
                let (y, z) = (yc + dy, zc + dz);
                let v = z - ridge_z;
                let (f, wl, wm) = smooth_max(tl * v, -tm * v, RIDGE_ROUNDING_MM);
                let fz = wl * tl - wm * tm;
                let fy = dy / SAGITTAL_RADIUS_MM;
                let x = ridge_x + f + dy * dy / (2.0 * SAGITTAL_RADIUS_MM);
                m.x.push(x);
                m.y.push(y);
                m.z.push(lat * z);
                m.area
                    .push(element_size * element_size * (1.0 + fz * fz + fy * fy).sqrt());
                m.lateral.push(if v > 0.0 { 1.0 } else { 0.0 });
                m.thickness.push(layer_mm);
            }
        }
        m
    }

    /// Contact elements from a patella cartilage mesh: one per triangle (centroid, area),
    /// in the patella frame (mm; the mesh's normals face the femur), with each triangle's
    /// measured patellar layer thickness (mm). The median ridge is found on the mesh: in
    /// 2 mm proximo-distal bands of the central articular surface, the medio-lateral position
    /// of the most posterior point; its median over the bands is the ridge. Elements lateral
    /// of it form the lateral facet. `lat` is +1 for a right knee, −1 for a left (the mesh is
    /// already mirrored).
    pub fn from_triangles(
        vertices: &[[f64; 3]],
        triangles: &[[u32; 3]],
        thickness_mm: &[f64],
        lat: f64,
        patch_ranges: &[[u32; 2]],
    ) -> Self {
        let mut m = PatellaMesh {
            x: vec![],
            y: vec![],
            z: vec![],
            area: vec![],
            lateral: vec![],
            thickness: thickness_mm.to_vec(),
            element_size: 0.0,
            width: 0.0,
            height: 0.0,
            centre: [0.0; 2],
            ridge_z: 0.0,
            ridge_x: 0.0,
            patches: Vec::new(),
        };
        for t in triangles {
            let p = t.map(|i| vertices[i as usize]);
            let c: [f64; 3] = std::array::from_fn(|k| (p[0][k] + p[1][k] + p[2][k]) / 3.0);
            let (a, b) = (
                [p[1][0] - p[0][0], p[1][1] - p[0][1], p[1][2] - p[0][2]],
                [p[2][0] - p[0][0], p[2][1] - p[0][1], p[2][2] - p[0][2]],
            );
            let n = [
                a[1] * b[2] - a[2] * b[1],
                a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0],
            ];
            m.x.push(c[0]);
            m.y.push(c[1]);
            m.z.push(c[2]);
            m.area
                .push(0.5 * (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt());
        }
        let n = m.x.len();
        let fold = |v: &[f64]| {
            v.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                })
        };
        let (y0, y1) = fold(&m.y);
        let za: Vec<f64> = m.z.iter().map(|z| lat * z).collect();
        let (z0, z1) = fold(&za);
        m.width = z1 - z0;
        m.height = y1 - y0;
        m.centre = [0.5 * (y0 + y1), 0.5 * (z0 + z1)];
        m.element_size = (m.total_area() / n.max(1) as f64).sqrt();
        // Median ridge: per 2 mm band in the central 60 % of the height, the most posterior
        // element among those in the central 60 % of the width.
        let mut ridge: Vec<(f64, f64)> = Vec::new();
        let bands = ((0.6 * m.height) / 2.0).floor().max(1.0) as usize;
        for b in 0..bands {
            let ya = m.centre[0] - 0.3 * m.height + 2.0 * b as f64;
            let best = (0..n)
                .filter(|&i| m.y[i] >= ya && m.y[i] < ya + 2.0)
                .filter(|&i| (za[i] - m.centre[1]).abs() < 0.3 * m.width)
                .min_by(|&i, &j| m.x[i].total_cmp(&m.x[j]));
            if let Some(i) = best {
                ridge.push((za[i], m.x[i]));
            }
        }
        ridge.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (rz, rx) = ridge
            .get(ridge.len() / 2)
            .copied()
            .unwrap_or((m.centre[1], fold(&m.x).0));
        m.ridge_z = rz;
        m.ridge_x = rx;
        m.lateral = za.iter().map(|&z| if z > rz { 1.0 } else { 0.0 }).collect();
        let centroids: Vec<[f64; 3]> = (0..n).map(|i| [m.x[i], m.y[i], m.z[i]]).collect();
        m.patches = patch_ranges
            .iter()
            .filter(|r| r[0] < r[1] && r[1] as usize <= n)
            .map(|r| {
                let (centre, radius) = bounding_ball(&centroids, (r[0] as usize)..(r[1] as usize));
                Patch {
                    start: r[0],
                    end: r[1],
                    centre,
                    radius,
                }
            })
            .collect();
        m
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// True when the mesh has no elements.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Total articular area, mm².
    pub fn total_area(&self) -> f64 {
        self.area.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mesh_has_about_a_thousand_elements_and_the_lenhart_area() {
        let m = PatellaMesh::new(44.0, 34.4, 22.0, 0.58, 1.0, 3.0, 1.0);
        assert!((1000..=2000).contains(&m.len()), "{}", m.len());
        // L articular surface area 1418 mm²; the model outline is an ellipse of the same
        // width and height, so somewhat smaller.
        let a = m.total_area();
        assert!(a > 950.0 && a < 1418.0, "{a}");
        let lat_share = m
            .lateral
            .iter()
            .zip(&m.area)
            .map(|(l, a)| l * a)
            .sum::<f64>()
            / a;
        assert!(
            lat_share > 0.5 && lat_share < 0.7,
            "lateral facet {lat_share}"
        );
    }
}
