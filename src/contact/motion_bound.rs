//! Warm contact evaluation with motion bounds: the same result as
//! [`super::elastic_foundation()`], bit for bit, at a fraction of the cost when the patella
//! has moved little since a reference evaluation — the Newton iterations of one frame.
//!
//! A reference evaluation stores, per element, the radial excess `F = ρ − R(θ, u)` and ρ.
//! At a later pose each element has moved at most `|Δt| + 2·sin(φ/2)·|x_i|` (φ the angle of
//! the relative rotation, |x_i| the element's distance from the patella origin); an element
//! that [`FemurGeometry::surely_apart`] says cannot have reached the rejection band is
//! skipped — it contributes exactly nothing, as the full kernel would have found. Every
//! other element is evaluated exactly as in the full kernel, in the same order, so the
//! sums are identical. This is conservative advancement (Mirtich 1996) applied per element
//! with a Lipschitz bound of the implicit femoral surface: the parametric surface's own, or
//! on a mesh field the local bound of its distance's fall stored with each element
//! ([`crate::geometry::FemurSdf::reach`]).

use nalgebra::Isometry3;

use super::elastic_foundation::{evaluate, ContactResult, ContactScratch, Elements};
use super::law::ContactLaw;
use crate::geometry::{mesh_surely_apart, FemurGeometry, PatellaMesh};

/// A motion larger than this (mm, for the farthest element) refreshes the reference:
/// beyond it few elements could be skipped anyway. The mesh field's motion bounds
/// ([`crate::geometry::FemurSdf::reach`]) are taken for this span.
pub const REFRESH_BEYOND_MM: f64 = crate::geometry::femur_mesh::REACH_SPAN_MM;

/// Per-run state of the contact kernels (in `Data`): the motion-bound reference and the
/// evaluation scratch.
#[derive(Debug, Clone, Default)]
pub struct ContactCache {
    /// Pose of the reference evaluation (femur_from_patella); `None` until the first.
    reference: Option<Isometry3<f64>>,
    /// Radial excess F = ρ − R(θ, u) of each element at the reference, mm; shape (n,).
    radial: Vec<f64>,
    /// The geometry's second reference per element: on the parametric surface its distance
    /// from the femoral axis (mm), on a mesh field the field's motion bound there (per mm,
    /// [`crate::geometry::FemurSdf::reach`]); shape (n,).
    rho: Vec<f64>,
    /// Distance of each element from the patella origin, mm; shape (n,).
    lever: Vec<f64>,
    /// Largest of `lever`, mm.
    max_lever: f64,
    /// Per patch of the patella ([`crate::geometry::patches`]): the least `radial`, the
    /// largest `rho` (both at the reference; filled at its first reuse) and the largest
    /// `lever`; shape (patches,).
    patch_bounds: Vec<[f64; 3]>,
    /// Whether `patch_bounds` holds the current reference's values.
    patch_bounds_fresh: bool,
    /// Evaluation scratch.
    pub(crate) scratch: ContactScratch,
    /// Evaluations that refreshed the reference / that reused it (cost counters).
    pub refreshed: u64,
    /// Evaluations that reused the reference (a cost counter).
    pub reused: u64,
    /// Elements skipped over all reusing evaluations.
    pub skipped: u64,
}

impl ContactCache {
    /// Forgets the reference (the next evaluation refreshes it).
    pub fn clear(&mut self) {
        self.reference = None;
    }
}

/// [`super::elastic_foundation()`] with motion bounds from `cache` (see the module doc).
/// Identical results; `cache` is refreshed when the pose moved too far from its reference.
pub fn elastic_foundation_warm(
    femur_from_patella: &Isometry3<f64>,
    femur: &FemurGeometry,
    patella: &PatellaMesh,
    law: &ContactLaw,
    cache: &mut ContactCache,
    pressure: &mut [f64],
    jacobian: bool,
) -> ContactResult {
    let n = patella.len();
    if cache.lever.len() != n || cache.patch_bounds.len() != patella.patches.len() {
        cache.lever = (0..n)
            .map(|i| (patella.x[i].powi(2) + patella.y[i].powi(2) + patella.z[i].powi(2)).sqrt())
            .collect();
        cache.max_lever = cache.lever.iter().fold(0f64, |a, &b| a.max(b));
        cache.patch_bounds = patella
            .patches
            .iter()
            .map(|p| {
                let lever = cache.lever[p.start as usize..p.end as usize]
                    .iter()
                    .fold(0f64, |a, &b| a.max(b));
                [f64::INFINITY, 0.0, lever]
            })
            .collect();
        cache.patch_bounds_fresh = false;
        // The per-patch test lists the same elements as the per-element one only if the
        // patches tile the elements in order.
        debug_assert!(
            patella.patches.is_empty()
                || (patella.patches[0].start == 0
                    && patella.patches.windows(2).all(|w| w[0].end == w[1].start)
                    && patella.patches.last().map(|p| p.end as usize) == Some(n)),
            "patches must tile the elements in order"
        );
        cache.radial = vec![0.0; n];
        cache.rho = vec![0.0; n];
        cache.reference = None;
    }
    let motion = cache.reference.map(|r| {
        let dt = (femur_from_patella.translation.vector - r.translation.vector).norm();
        let angle = (femur_from_patella.rotation * r.rotation.inverse()).angle();
        (dt, 2.0 * (0.5 * angle).sin())
    });
    match motion {
        Some((dt, chord)) if dt + chord * cache.max_lever <= REFRESH_BEYOND_MM => {
            cache.reused += 1;
            let active = &mut cache.scratch.active;
            active.clear();
            match femur.motion_factor() {
                // On a mesh field, a patch whose bounds say apart is skipped whole: its
                // every element would be (the test is monotone), so the list is the same.
                Some(c) if !patella.patches.is_empty() => {
                    if !cache.patch_bounds_fresh {
                        for (b, p) in cache.patch_bounds.iter_mut().zip(&patella.patches) {
                            let range = p.start as usize..p.end as usize;
                            // A NaN (or a negative bound) makes the patch's bounds
                            // never skip: `min`/`max` would pass over it where the
                            // element's own test keeps the element.
                            b[0] =
                                cache.radial[range.clone()]
                                    .iter()
                                    .fold(f64::INFINITY, |a, &x| {
                                        if x.is_nan() {
                                            f64::NEG_INFINITY
                                        } else {
                                            a.min(x)
                                        }
                                    });
                            b[1] = cache.rho[range].iter().fold(0f64, |a, &x| {
                                if x >= 0.0 {
                                    a.max(x)
                                } else {
                                    f64::INFINITY
                                }
                            });
                        }
                        cache.patch_bounds_fresh = true;
                    }
                    for (b, p) in cache.patch_bounds.iter().zip(&patella.patches) {
                        if mesh_surely_apart(b[0], b[1], c, dt + chord * b[2]) {
                            continue;
                        }
                        // `surely_apart` without its dispatch per element.
                        let range = p.start as usize..p.end as usize;
                        let (radial, rho) =
                            (&cache.radial[range.clone()], &cache.rho[range.clone()]);
                        let lever = &cache.lever[range.clone()];
                        for (k, ((&radial, &rho), &lever)) in
                            radial.iter().zip(rho).zip(lever).enumerate()
                        {
                            if !mesh_surely_apart(radial, rho, c, dt + chord * lever) {
                                active.push((range.start + k) as u32);
                            }
                        }
                    }
                }
                _ => {
                    for i in 0..n {
                        let moved = dt + chord * cache.lever[i];
                        if !femur.surely_apart(cache.radial[i], cache.rho[i], moved) {
                            active.push(i as u32);
                        }
                    }
                }
            }
            cache.skipped += (n - active.len()) as u64;
            evaluate(
                femur_from_patella,
                femur,
                patella,
                law,
                &mut cache.scratch,
                Elements::Active,
                pressure,
                jacobian,
                false,
            )
        }
        _ => {
            cache.refreshed += 1;
            cache.reference = Some(*femur_from_patella);
            let result = evaluate(
                femur_from_patella,
                femur,
                patella,
                law,
                &mut cache.scratch,
                Elements::All,
                pressure,
                jacobian,
                false,
            );
            cache.radial.copy_from_slice(&cache.scratch.radial_all);
            cache.rho.copy_from_slice(&cache.scratch.rho_all);
            cache.patch_bounds_fresh = false;
            result
        }
    }
}
