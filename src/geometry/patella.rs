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
    /// Element size, mm (grid spacing).
    pub element_size: f64,
    /// Articular width (ML) and height (PD), mm.
    pub width: f64,
    pub height: f64,
    /// Articular outline centre (y, z_anatomical), patella frame, mm.
    pub centre: [f64; 2],
    /// Median ridge position, anatomical z (lateral +), patella frame, mm.
    pub ridge_z: f64,
    /// Posterior-most depth of the ridge, patella frame x, mm.
    pub ridge_x: f64,
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
            element_size,
            width,
            height: art_h,
            centre: [yc, zc],
            ridge_z,
            ridge_x,
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
            }
        }
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
        let m = PatellaMesh::new(44.0, 34.4, 22.0, 0.58, 1.0, 1.0);
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
