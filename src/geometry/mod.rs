//! Geometry of the patellofemoral joint: the femoral articular surface — parametric (an
//! analytic distance) or a real cartilage mesh (a baked signed-distance field) — and the
//! patella's contact elements.

pub mod femur;
pub mod femur_mesh;
pub mod patches;
pub mod patella;
pub mod trochlear_morph;
pub mod wrap;

use std::sync::Arc;

pub use femur::{BatchBuffers, FemoralSurface, SurfaceDistance, TrochleaError};
pub use femur_mesh::{FemurSdf, FieldDerivative, FieldSample};
pub use patella::PatellaMesh;
pub use trochlear_morph::{TrochleaMeasures, TrochleaReport, TrochlearKey, TrochlearMorph};

use crate::geometry::femur_mesh::REACH_SPAN_MM;
use crate::math::Vec3;

/// The femoral articular surface a model contacts against.
#[derive(Debug, Clone)]
pub enum FemurGeometry {
    /// The analytic trochlea and condyles (shape studies; `anatomy.model = "parametric"`),
    /// shared by every model of that geometry (its baked profile tables are not copied).
    Parametric(Arc<FemoralSurface>),
    /// A cartilage mesh's signed-distance field, shared by every model of that geometry.
    Mesh(Arc<FemurSdf>, MeshFemurInfo),
    /// The same field with its trochlear groove morphed at query time (a trochlear key on a
    /// mesh knee; [`trochlear_morph`]). A variant of its own, so the plain field's paths
    /// stay exactly as they are; the contact kernel reaches it through
    /// [`Self::contact_batch`].
    MeshMorphed(Arc<FemurSdf>, MeshFemurInfo, Arc<TrochlearMorph>),
}

/// Landmarks measured on a mesh femur when it is loaded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshFemurInfo {
    /// +1 right knee, −1 left: the field is the right knee's; a left knee queries it at
    /// (x, y, −z) and mirrors the normal.
    pub lat: f64,
    /// Medio-lateral position of the trochlear groove's deepest points, anatomical (lateral
    /// +), femur frame, mm (for the bisect offset).
    pub groove_z: f64,
}

impl FemurGeometry {
    /// Groove medio-lateral position, anatomical (lateral +), femur frame, mm.
    pub fn groove_z(&self) -> f64 {
        match self {
            FemurGeometry::Parametric(s) => s.groove_z,
            FemurGeometry::Mesh(_, info) | FemurGeometry::MeshMorphed(_, info, _) => info.groove_z,
        }
    }

    /// The parametric surface, if this is one.
    pub fn parametric(&self) -> Option<&FemoralSurface> {
        match self {
            FemurGeometry::Parametric(s) => Some(s.as_ref()),
            FemurGeometry::Mesh(..) | FemurGeometry::MeshMorphed(..) => None,
        }
    }

    /// The contact query for many femur-frame points (mm): fills `buf.radial` (a per-point
    /// excess used by the motion bounds), `buf.rho`, and the points in contact (`hits`,
    /// increasing) with their gap (mm, negative), outward normal and the femoral layer
    /// thickness there (`hit_h`, mm; 0 for the parametric surface, whose whole layer is
    /// carried by the patella elements).
    pub fn contact_batch(&self, px: &[f64], py: &[f64], pz: &[f64], buf: &mut BatchBuffers) {
        match self {
            FemurGeometry::Parametric(s) => {
                s.contact_batch(px, py, pz, buf);
                buf.hit_h.clear();
                buf.hit_h.resize(buf.hits.len(), 0.0);
                buf.hit_cell.clear();
            }
            FemurGeometry::Mesh(sdf, info) => mesh_batch(
                info,
                |x, y, z| {
                    let (s, cell) = sdf.sample_in_cell(x, y, z);
                    (s, cell, sdf.reach(x, y, z, 0.0, REACH_SPAN_MM))
                },
                px,
                py,
                pz,
                buf,
            ),
            FemurGeometry::MeshMorphed(sdf, info, morph) => mesh_batch(
                info,
                |x, y, z| {
                    let (s, cell, [wx, wy, wz]) = morph.sample_warped(sdf, x, y, z);
                    let motion = morph.warp_lipschitz * REACH_SPAN_MM;
                    (s, cell, sdf.reach(wx, wy, wz, 0.0, motion))
                },
                px,
                py,
                pz,
                buf,
            ),
        }
    }

    /// Signed distance (mm, negative = overlap) and outward normal at a femur-frame point:
    /// the same surface the contact kernel sees (for references, plots and checks).
    pub fn distance(&self, p: &Vec3) -> SurfaceDistance {
        match self {
            FemurGeometry::Parametric(s) => s.distance(p),
            FemurGeometry::Mesh(sdf, info) => {
                mesh_distance(info, sdf.sample(p.x, p.y, info.lat * p.z))
            }
            FemurGeometry::MeshMorphed(sdf, info, m) => {
                mesh_distance(info, m.sample(sdf, p.x, p.y, info.lat * p.z))
            }
        }
    }

    /// Whether a point with the stored `radial`/`rho` of [`Self::contact_batch`] surely has
    /// no contact after moving at most `moved` mm (the warm kernel's skip test).
    #[inline]
    pub fn surely_apart(&self, radial: f64, rho: f64, moved: f64) -> bool {
        match self {
            FemurGeometry::Parametric(s) => s.surely_apart(radial, rho, moved),
            // `radial` is the plain trilinear distance (or a lower bound of it) and `rho` the
            // field's motion bound there ([`FemurSdf::reach`]: after the motion the distance
            // is at least `radial − rho·moved` or beyond the early-out; 0 where nothing near
            // can come within the early-out, +∞ where no bound holds); a point whose
            // trilinear distance stays at or beyond the early-out is reported with it
            // (> 0: no hit). An infinite bound never skips (∞·0 is NaN: false).
            FemurGeometry::Mesh(..) => mesh_surely_apart(radial, rho, 1.0, moved),
            // `radial` is the trilinear distance at the warped point and `rho` the bound
            // there for the warped point's motion, which is at most `warp_lipschitz` × the
            // point's.
            FemurGeometry::MeshMorphed(_, _, m) => {
                mesh_surely_apart(radial, rho, m.warp_lipschitz, moved)
            }
        }
    }

    /// On a mesh field, the factor by which [`Self::surely_apart`] multiplies an element's
    /// motion (1, or the morph's warp Lipschitz bound): its test `radial − ρ·c·moved >
    /// early-out` is monotone in each argument where ρ, c and the motion are ≥ 0 and
    /// nothing is NaN (rounding is monotone too), so the least `radial`, the largest ρ and
    /// the largest motion of a group of elements bound every element of the group (the
    /// warm kernel's test per patch, which refuses to skip a group holding a NaN or a
    /// negative ρ). `None` on the parametric surface, whose test is not monotone.
    #[inline]
    pub fn motion_factor(&self) -> Option<f64> {
        match self {
            FemurGeometry::Parametric(_) => None,
            FemurGeometry::Mesh(..) => Some(1.0),
            FemurGeometry::MeshMorphed(_, _, m) => Some(m.warp_lipschitz),
        }
    }
}

/// [`FemurGeometry::surely_apart`] on a mesh field whose motions are multiplied by `c`
/// ([`FemurGeometry::motion_factor`]): `radial − ρ·c·moved > early-out` (c = 1 leaves ρ
/// as it is, bit for bit). A NaN never says apart.
#[inline(always)]
pub fn mesh_surely_apart(radial: f64, rho: f64, c: f64, moved: f64) -> bool {
    radial - rho * c * moved > crate::geometry::femur_mesh::EARLY_OUT_MM
}

/// The batched query over a mesh field (plain or morphed), one point at a time.
fn mesh_batch(
    info: &MeshFemurInfo,
    sample: impl Fn(
        f64,
        f64,
        f64,
    ) -> (
        FieldSample,
        Option<crate::geometry::femur_mesh::FieldCell>,
        f64,
    ),
    px: &[f64],
    py: &[f64],
    pz: &[f64],
    buf: &mut BatchBuffers,
) {
    let lat = info.lat;
    let m = px.len();
    buf.radial.resize(m, 0.0);
    buf.rho.resize(m, 0.0);
    buf.hits.clear();
    buf.hit_gap.clear();
    buf.hit_normal.clear();
    buf.hit_h.clear();
    buf.hit_cell.clear();
    for k in 0..m {
        let (s, cell, reach) = sample(px[k], py[k], lat * pz[k]);
        buf.radial[k] = s.trilinear;
        buf.rho[k] = reach;
        if s.gap < 0.0 {
            buf.hits.push(k as u32);
            buf.hit_gap.push(s.gap);
            buf.hit_normal
                .push(Vec3::new(s.normal[0], s.normal[1], lat * s.normal[2]));
            buf.hit_h.push(s.thickness);
            buf.hit_cell.push(cell);
        }
    }
}

/// A field sample as a femur-frame distance (the normal mirrored back for a left knee).
fn mesh_distance(info: &MeshFemurInfo, s: FieldSample) -> SurfaceDistance {
    SurfaceDistance {
        gap: s.gap,
        normal: Vec3::new(s.normal[0], s.normal[1], info.lat * s.normal[2]),
    }
}
