//! The integration-test binary: contact accuracy against an exact reference, the solve's
//! Jacobian, physical invariants (property tests), scenario errors and outputs, thread-count
//! determinism, and the published validation cases.

use std::path::{Path, PathBuf};
use std::process::Command;

use kneetrack::contact::elastic_foundation;
use kneetrack::experiment::{self, RunResult};
use kneetrack::geometry::FemurGeometry;
use kneetrack::math::{rot_vec, Vec3};
use kneetrack::params::Side;
use kneetrack::scenario;
use kneetrack::step::kinematics::kinematics;
use kneetrack::step::tissues::tissues;
use kneetrack::validation;
use kneetrack::{step, Data, FrameInput, FrameResult, KneeAngles, Model, ModelParams, QuadLoad};
use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion};
use proptest::prelude::*;

/// Counts the heap allocations of each thread, so a test can check that a code path makes
/// none (the test threads run in parallel; each sees only its own count).
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn count_allocation() {
    // `try_with`: a thread being torn down may still free and allocate.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        count_allocation();
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Heap allocations this thread made while running `f`.
fn allocations_in<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.with(|c| c.get());
    let out = f();
    (out, ALLOCATIONS.with(|c| c.get()) - before)
}

/// A warm frame solve allocates nothing (issue "speed to the limit"): on both knees, a 1°
/// step under a prescribed force and under a prescribed extensor moment (the quadriceps
/// scale unknown), and a held medio-lateral shift (the stability test's layout).
#[test]
fn a_warm_frame_solve_makes_no_heap_allocation() {
    for params in [ModelParams::default(), parametric()] {
        for load in [QuadLoad::Force(400.0), QuadLoad::ExtensorMoment(30_000.0)] {
            let (m, mut d, _) = solved(&params, 30.0, load);
            let (r, n) = allocations_in(|| step(&m, &FrameInput::new(knee(31.0), load), &mut d));
            assert!(r.status.converged(), "{:?}", r.status);
            assert_eq!(
                n, 0,
                "{:?}, {load:?}: {n} allocations",
                params.anatomy.model
            );
            let mut held = FrameInput::new(knee(31.0), QuadLoad::Force(175.0));
            held.shift_mm = Some(r.tracking.shift_mm + 2.0);
            let (r, n) = allocations_in(|| step(&m, &held, &mut d));
            assert!(r.status.iterations() > 0);
            assert_eq!(
                n, 0,
                "{:?}, held shift: {n} allocations",
                params.anatomy.model
            );
        }
    }
}
#[path = "kneetrack/fuzz.rs"]
mod fuzz;
#[path = "kneetrack/hardening.rs"]
mod hardening;
#[path = "kneetrack/readme.rs"]
mod readme;

/// The parametric knee's parameters (the analytic trochlea and patella).
fn parametric() -> ModelParams {
    let mut p = ModelParams::default();
    p.anatomy.model = kneetrack::params::AnatomyModel::Parametric;
    p
}

fn knee(deg: f64) -> KneeAngles {
    KneeAngles {
        flexion: deg.to_radians(),
        ..Default::default()
    }
}

/// Solves a short flexion approach to `deg` and returns the last frame and its Data.
fn solved(params: &ModelParams, deg: f64, load: QuadLoad) -> (Model, Data, FrameResult) {
    let m = Model::new(params).unwrap();
    let mut d = Data::new(&m);
    experiment::approach(&m, &mut d, knee(deg), load);
    let r = step(&m, &FrameInput::new(knee(deg), load), &mut d);
    (m, d, r)
}

/// Zero quadriceps load over a fine sweep of angles (0.123–79.6° in 0.5° steps, each
/// walked to from the model file's pose as a run would): contact at most 1 N. It fails at
/// 6 of the 160 angles (47.6, 52.6, 62.6, 64.6, 66.1, 74.6°: 5–110 N). Without load the
/// problem is ill-posed: nothing holds the patella proximally (the heads are forces
/// without a length; the model has no passive quadriceps), so on the walk it can slide down
/// the groove and round the condyles while every residual stays below the tolerance, and
/// at some angles it ends wedged between the femur and its tendon. The property test above
/// checks its 24 fixed angles, which pass; this one states the gap until a passive
/// quadriceps closes it.
#[test]
#[ignore = "known gap: an unloaded patella can slide into a wedged pose (see the doc)"]
fn zero_load_holds_over_a_fine_sweep_of_angles() {
    let wedged: Vec<String> = (0..160)
        .map(|i| 0.5 * i as f64 + 0.123)
        .filter_map(|deg| {
            let (_, _, r) = solved(&ModelParams::default(), deg, QuadLoad::Force(0.0));
            (r.contact.force_n > 1.0 || !r.status.converged())
                .then(|| format!("{deg:.1}°: {:.0} N", r.contact.force_n))
        })
        .collect();
    assert!(wedged.is_empty(), "wedged at {wedged:?}");
}

// ---------------------------------------------------------------- contact vs exact reference

/// Exact reference: the femoral surface tessellated finely (0.2° × 0.2 mm) and queried with
/// parry3d's BVH point projection; the sign comes from the oriented triangle normal.
struct Reference {
    mesh: parry3d::shape::TriMesh,
}

impl Reference {
    fn new(model: &Model) -> Self {
        use parry3d::math::Vector;
        let (nt, nu) = (600usize, 330usize);
        let (t0, t1, u0, u1) = (-40f64.to_radians(), 80f64.to_radians(), -30.0, 36.0);
        let mut v = Vec::with_capacity(nt * nu);
        for i in 0..nt {
            let th = t0 + (t1 - t0) * i as f64 / (nt - 1) as f64;
            for j in 0..nu {
                let u = u0 + (u1 - u0) * j as f64 / (nu - 1) as f64;
                let p = model.femur.parametric().unwrap().point(th, u);
                v.push(Vector::new(p.x as f32, p.y as f32, p.z as f32));
            }
        }
        let mut idx = Vec::new();
        for i in 0..nt - 1 {
            for j in 0..nu - 1 {
                let a = (i * nu + j) as u32;
                let (b, c, d) = (a + 1, a + nu as u32, a + nu as u32 + 1);
                idx.push([a, c, b]);
                idx.push([b, c, d]);
            }
        }
        let mesh = parry3d::shape::TriMesh::new(v, idx).unwrap();
        Reference { mesh }
    }

    /// Signed distance, positive outside (away from the flexion axis).
    fn signed_distance(&self, p: &Vec3) -> f64 {
        use parry3d::query::PointQueryWithLocation;
        let q = parry3d::math::Vector::new(p.x as f32, p.y as f32, p.z as f32);
        let (proj, (tri, _)) = self.mesh.project_local_point_and_get_location(q, false);
        let d = q - proj.point;
        let mut n = self.mesh.triangle(tri).normal().unwrap();
        // orient the normal away from the flexion axis (outward)
        let c = proj.point;
        if n.x * c.x + n.y * c.y < 0.0 {
            n = -n;
        }
        let dist = d.length() as f64;
        if d.dot(n) >= 0.0 {
            dist
        } else {
            -dist
        }
    }
}

/// The fast analytic distance agrees with the exact point-to-surface distance for every
/// point in or at the edge of contact (from 1.5 mm inside to 0.05 mm outside), within
/// 0.01 mm + 2 % of the depth, on the trochlea, the condyles and in the intercondylar notch.
/// Farther out only the sign matters (no pressure), and it agrees.
#[test]
fn contact_distance_matches_exact_reference() {
    let model = Model::new(&parametric()).unwrap();
    let reference = Reference::new(&model);
    let femur = model.femur.parametric().unwrap();
    let mut rng = 12345u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut worst: f64 = 0.0;
    for _ in 0..3000 {
        let th = (-25.0 + 95.0 * next()).to_radians();
        let u = -20.0 + 42.0 * next();
        let depth = -1.5 + 3.0 * next();
        let s = femur.point(th, u);
        let n = femur.distance(&s).normal;
        let p = s + n * depth;
        let fast = femur.distance(&p).gap;
        let exact = reference.signed_distance(&p);
        if fast >= kneetrack::geometry::femur::REFINE_BELOW_MM {
            assert!(
                exact > 0.0,
                "outside point reported inside: fast {fast:.4} exact {exact:.4}"
            );
            assert!(femur.contact(&p).is_none());
            continue;
        }
        assert_eq!(femur.contact(&p).is_some(), fast < 0.0);
        let err = (fast - exact).abs();
        let tol = 0.01 + 0.02 * exact.abs();
        worst = worst.max(err / tol);
        assert!(
            err <= tol,
            "θ {:.1}° u {u:.2} depth {depth:.3}: fast {fast:.4} exact {exact:.4}",
            th.to_degrees()
        );
    }
    eprintln!("worst error / tolerance: {worst:.3}");
}

/// The field's patch bound, which lets the contact kernel reject a whole patch of elements,
/// is a true lower bound: at poses around a loaded one (and far from it), no element of a
/// patch has a plain trilinear distance below its patch's bound; and it rejects patches.
#[test]
fn mesh_patch_bound_is_a_lower_bound_of_every_element() {
    let (m, _, r) = solved(&ModelParams::default(), 30.0, QuadLoad::Force(400.0));
    let FemurGeometry::Mesh(sdf, info) = &m.femur else {
        panic!("the default knee is a mesh knee");
    };
    assert!(!m.patella.patches.is_empty());
    let (mut rejected, mut tested) = (0usize, 0usize);
    for (dx, dy, dz, w) in [
        (0.0, 0.0, 0.0, 0.0),
        (0.7, -1.3, 0.4, 0.02),
        (-1.5, 2.0, -0.8, -0.05),
        (3.0, 0.5, 1.5, 0.1),
        (12.0, -6.0, 4.0, 0.3),
    ] {
        let pose = Isometry3::from_parts(
            Translation3::from(r.femur_from_patella.translation.vector + Vec3::new(dx, dy, dz)),
            UnitQuaternion::from_scaled_axis(Vec3::new(0.3 * w, -0.5 * w, w))
                * r.femur_from_patella.rotation,
        );
        for p in &m.patella.patches {
            let c = pose * Point3::from(Vec3::new(p.centre[0], p.centre[1], p.centre[2]));
            let lb = sdf.patch_lower_bound(c.x, c.y, info.lat * c.z, p.radius);
            tested += 1;
            if lb >= kneetrack::geometry::femur_mesh::EARLY_OUT_MM {
                rejected += 1;
            }
            for i in p.start as usize..p.end as usize {
                let q = pose * Point3::new(m.patella.x[i], m.patella.y[i], m.patella.z[i]);
                let d = sdf.sample(q.x, q.y, info.lat * q.z).trilinear;
                assert!(
                    d >= lb,
                    "element {i}: trilinear {d} below its patch bound {lb}"
                );
            }
        }
    }
    assert!(
        rejected > tested / 4,
        "{rejected} of {tested} patches rejected"
    );
}

/// The real knee's femoral distance field agrees with the exact point-to-mesh distance
/// (parry3d's projection on the Lenhart 2015 femoral cartilage, signed by the closest
/// triangle's normal) within 0.01 mm + 2 % of the depth, for points from 1.5 mm inside to
/// 0.05 mm outside the articular surface (in and near contact). Points whose closest point
/// lies on the sheet's open rim are off the cartilage and excluded (the field calls them
/// outside, as the ray-cast contact of an open sheet does).
#[test]
fn mesh_contact_distance_matches_exact_reference() {
    use parry3d::query::PointQueryWithLocation;
    use parry3d::shape::TrianglePointLocation;
    let model = Model::new(&ModelParams::default()).unwrap();
    let knee = model
        .mesh
        .as_ref()
        .expect("the default knee is a mesh knee");
    let cart = &knee
        .surfaces
        .iter()
        .find(|s| s.name == "femoral cartilage")
        .unwrap()
        .mesh;
    let v: Vec<parry3d::math::Vector> = cart
        .vertices
        .iter()
        .map(|p| parry3d::math::Vector::new(p[0] as f32, p[1] as f32, p[2] as f32))
        .collect();
    let exact = parry3d::shape::TriMesh::new(v, cart.triangles.clone()).unwrap();
    let mut rng = 777u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    // The sheet's open rim: the field blends the cartilage with the bone behind the rim, and
    // its nodes within one grid cell (0.45 mm × √3) of a point decide the point's value, so
    // points whose foot on the surface lies that close to the rim are not compared.
    let mut edges = std::collections::HashMap::new();
    for t in &cart.triangles {
        for k in 0..3 {
            let (a, b) = (t[k].min(t[(k + 1) % 3]), t[k].max(t[(k + 1) % 3]));
            *edges.entry((a, b)).or_insert(0) += 1;
        }
    }
    let rim: Vec<(Vec3, Vec3)> = edges
        .iter()
        .filter(|(_, &n)| n == 1)
        .map(|(&(a, b), _)| {
            (
                Vec3::from(cart.vertices[a as usize]),
                Vec3::from(cart.vertices[b as usize]),
            )
        })
        .collect();
    let near_rim = |p: &Vec3| {
        rim.iter().any(|(a, b)| {
            let ab = b - a;
            let t = ((p - a).dot(&ab) / ab.norm_squared()).clamp(0.0, 1.0);
            (a + ab * t - p).norm() < 1.0
        })
    };
    let (mut worst, mut checked) = (0f64, 0);
    while checked < 3000 {
        let t = (next() * cart.triangles.len() as f64) as usize % cart.triangles.len();
        let (a, b) = (next(), next());
        let (a, b) = if a + b > 1.0 {
            (1.0 - a, 1.0 - b)
        } else {
            (a, b)
        };
        let tri = cart.triangles[t].map(|i| Vec3::from(cart.vertices[i as usize]));
        let s0 = tri[0] + (tri[1] - tri[0]) * a + (tri[2] - tri[0]) * b;
        let n = Vec3::from(cart.triangle_normal(t));
        let depth = -1.5 + 1.55 * next();
        let p = s0 + n * depth;
        if near_rim(&s0) {
            continue;
        }
        let q = parry3d::math::Vector::new(p.x as f32, p.y as f32, p.z as f32);
        let (proj, (ct, loc)) = exact.project_local_point_and_get_location(q, false);
        if !matches!(loc, TrianglePointLocation::OnFace(..)) {
            continue; // edges and vertices: the sign needs pseudo-normals (and may be the rim)
        }
        let cn = Vec3::from(cart.triangle_normal(ct as usize));
        let d = Vec3::new(
            p.x - proj.point.x as f64,
            p.y - proj.point.y as f64,
            p.z - proj.point.z as f64,
        );
        let e = if d.dot(&cn) >= 0.0 {
            d.norm()
        } else {
            -d.norm()
        };
        let fast = model.femur.distance(&p).gap;
        let err = (fast - e).abs();
        let tol = 0.01 + 0.02 * e.abs();
        worst = worst.max(err / tol);
        assert!(err <= tol, "point {p:?}: field {fast:.4} exact {e:.4}");
        checked += 1;
    }
    eprintln!("worst error / tolerance: {worst:.3}");
}

// ---------------------------------------------------------------- Jacobian

/// The analytic Jacobian of the net wrench (tissues + contact) matches central finite
/// differences, per column within a fraction of its largest entry:
/// * the mesh knee at 60° under 3,000 N (a running-peak load, where the surface terms
///   matter most: without the normal's turning the error was 8–50 %): 1 % (measured
///   0.2 %), right and left (the mirrored field's derivatives);
/// * the mesh knee at 90° under 400 N: 5 % (measured 4 %: central differences of the
///   cell-wise interpolated field, whose derivatives jump between cells);
/// * the parametric knee at 30° under 400 N: 10 % (its surface-curvature term is
///   neglected).
///
/// The mesh knee is not checked at 20–45° under 400 N: there its solved VI line lies on
/// the edge of its wrap cylinder, where the line's direction has a kink (continuous,
/// one-sided derivatives) that central differences straddle.
#[test]
fn jacobian_matches_finite_differences() {
    let mut left = ModelParams::default();
    left.subject.side = kneetrack::params::Side::Left;
    for (params, angle, load, tolerance) in [
        (parametric(), 30.0, 400.0, 0.10),
        (ModelParams::default(), 60.0, 3000.0, 0.01),
        (left, 60.0, 3000.0, 0.01),
        (ModelParams::default(), 90.0, 400.0, 0.05),
    ] {
        let (m, mut d, r) = solved(&params, angle, QuadLoad::Force(load));
        let joint = kinematics(&m, &r.knee);
        let pose = r.femur_from_patella;
        let wrench = |p: &Isometry3<f64>, d: &mut Data| {
            let input = FrameInput::new(r.knee, QuadLoad::Force(r.quad_scale_n));
            let t = tissues(&m, &input, &joint, p, r.quad_scale_n);
            let c = elastic_foundation(p, &m.femur, &m.patella, &m.law, &mut d.pressure, true);
            (
                t.force + c.force,
                t.moment + c.moment,
                t.jacobian + t.wrap_jacobian + c.jacobian + c.surface_jacobian,
            )
        };
        let (_, _, jac) = wrench(&pose, &mut d);
        for k in 0..6 {
            let h = if k < 3 { 1e-4 } else { 1e-6 };
            let mut e = Vec3::zeros();
            e[k % 3] = h;
            let shifted = |sign: f64| {
                if k < 3 {
                    Isometry3::from_parts(
                        Translation3::from(pose.translation.vector + e * sign),
                        pose.rotation,
                    )
                } else {
                    let q = UnitQuaternion::from_rotation_matrix(&rot_vec(&(e * sign)));
                    Isometry3::from_parts(pose.translation, q * pose.rotation)
                }
            };
            let (fp, mp, _) = wrench(&shifted(1.0), &mut d);
            let (fm, mm, _) = wrench(&shifted(-1.0), &mut d);
            let col: Vec<f64> = (0..3)
                .map(|i| (fp[i] - fm[i]) / (2.0 * h))
                .chain((0..3).map(|i| (mp[i] - mm[i]) / (2.0 * h)))
                .collect();
            for (rows, scale) in [(0..3, 1.0), (3..6, 1.0 / 20.0)] {
                let big = rows.clone().map(|i| col[i].abs()).fold(0.0, f64::max) * scale;
                for i in rows {
                    let err = (jac[(i, k)] - col[i]).abs() * scale;
                    assert!(
                        err <= tolerance * big + 1e-6,
                        "{angle}°: J[{i},{k}] analytic {:.3} vs fd {:.3} (largest {big:.1})",
                        jac[(i, k)],
                        col[i]
                    );
                }
            }
        }
    }
}

/// Mesh convergence: halving the element size (1 → 0.5 mm, 1,036 → ~4,100 elements)
/// changes the solved PF force by < 1 % and the contact area and peak pressure by < 5 %.
#[test]
fn results_converge_with_mesh_refinement() {
    let at = |size: f64| {
        let mut p = parametric();
        p.cartilage.element_size_mm = size;
        solved(&p, 30.0, QuadLoad::Force(400.0)).2
    };
    let (coarse, fine) = (at(1.0), at(0.5));
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
    assert!(
        rel(coarse.contact.force_n, fine.contact.force_n) < 0.01,
        "{} vs {}",
        coarse.contact.force_n,
        fine.contact.force_n
    );
    assert!(
        rel(coarse.contact.area_mm2, fine.contact.area_mm2) < 0.05,
        "{} vs {}",
        coarse.contact.area_mm2,
        fine.contact.area_mm2
    );
    assert!(
        rel(
            coarse.contact.peak_pressure_mpa,
            fine.contact.peak_pressure_mpa
        ) < 0.05,
        "{} vs {}",
        coarse.contact.peak_pressure_mpa,
        fine.contact.peak_pressure_mpa
    );
}

/// The warm kernel matches the full kernel far from equilibrium too: random walks of small
/// steps from poses up to 3 mm and 0.1 rad off the solved 90° pose (deep overlap, elements
/// over the cartilage's rim, where the stored field falls faster than √3 per mm). With a
/// global √3 gradient bound the warm kernel skipped elements in contact here (2 of these
/// 400 steps); the field's local bounds (`FemurSdf::reach`) keep it exact. The same on the
/// morphed trochlea (a sulcus angle on the real knee), whose bounds allow for the warp; both
/// walks must actually skip elements, or they would not test the bounds.
#[test]
fn warm_contact_matches_the_full_kernel_far_from_equilibrium() {
    let mut morphed = ModelParams::default();
    morphed.subject.sulcus_angle_deg = 150.0;
    for params in [ModelParams::default(), morphed] {
        warm_matches_full_off_pose(&params);
    }
}

fn warm_matches_full_off_pose(params: &ModelParams) {
    let (m, d, r) = solved(params, 90.0, QuadLoad::Force(400.0));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut u = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let (mut wp, mut fp) = (d.pressure.clone(), d.pressure.clone());
    let mut skipped = 0;
    for walk in 0..40 {
        let mut cache = kneetrack::contact::ContactCache::default();
        let big = 3.0 * walk as f64 / 40.0;
        let mut pose = Isometry3::from_parts(
            Translation3::from(
                r.femur_from_patella.translation.vector
                    + Vec3::new(big * u(), big * u(), big * u()),
            ),
            UnitQuaternion::from_scaled_axis(Vec3::new(0.1 * u(), 0.1 * u(), 0.1 * u()))
                * r.femur_from_patella.rotation,
        );
        for step in 0..10 {
            pose = Isometry3::from_parts(
                Translation3::from(
                    pose.translation.vector + Vec3::new(0.15 * u(), 0.15 * u(), 0.15 * u()),
                ),
                UnitQuaternion::from_scaled_axis(Vec3::new(0.004 * u(), 0.004 * u(), 0.004 * u()))
                    * pose.rotation,
            );
            let w = kneetrack::contact::elastic_foundation_warm(
                &pose, &m.femur, &m.patella, &m.law, &mut cache, &mut wp, false,
            );
            let f = elastic_foundation(&pose, &m.femur, &m.patella, &m.law, &mut fp, false);
            assert_eq!(w.force, f.force, "walk {walk} step {step}");
            assert_eq!(wp, fp, "walk {walk} step {step}");
        }
        skipped += cache.skipped;
    }
    assert!(
        skipped > 100_000,
        "{skipped} elements skipped over the walks"
    );
}

// ---------------------------------------------------------------- invariants

proptest! {
    // A fixed seed: the same cases on every run and machine (CI is reproducible); widen the
    // search locally with PROPTEST_CASES.
    #![proptest_config(ProptestConfig {
        cases: 24,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x6b6e_6565),
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// The warm kernel (motion bounds) gives the full kernel's result bit for bit along a
    /// walk of small and large pose changes from a loaded pose: skipped elements are only
    /// ever ones the full kernel finds apart.
    #[test]
    fn warm_contact_is_bit_identical_to_the_full_kernel(steps in proptest::collection::vec((-0.4f64..0.4, -0.4f64..0.4, -0.4f64..0.4, -0.01f64..0.01), 1..12)) {
        let (m, mut d, r) = solved(&ModelParams::default(), 30.0, QuadLoad::Force(400.0));
        let mut cache = kneetrack::contact::ContactCache::default();
        let mut pose = r.femur_from_patella;
        let mut warm_pressure = d.pressure.clone();
        for (dx, dy, dz, w) in steps {
            pose = Isometry3::from_parts(
                Translation3::from(pose.translation.vector + Vec3::new(dx, dy, dz)),
                UnitQuaternion::from_scaled_axis(Vec3::new(0.3 * w, -0.5 * w, w)) * pose.rotation,
            );
            let cold = elastic_foundation(&pose, &m.femur, &m.patella, &m.law, &mut d.pressure, true);
            let warm = kneetrack::contact::elastic_foundation_warm(&pose, &m.femur, &m.patella, &m.law, &mut cache, &mut warm_pressure, true);
            prop_assert_eq!(cold.force, warm.force);
            prop_assert_eq!(cold.moment, warm.moment);
            prop_assert_eq!(cold.jacobian, warm.jacobian);
            prop_assert_eq!(cold.surface_jacobian, warm.surface_jacobian);
            prop_assert_eq!(&d.pressure, &warm_pressure);
            prop_assert_eq!(cold.elements_in_contact, warm.elements_in_contact);
        }
        // a tiny move reuses the reference and skips elements, still identically
        cache.clear();
        kneetrack::contact::elastic_foundation_warm(&pose, &m.femur, &m.patella, &m.law, &mut cache, &mut warm_pressure, true);
        let before = cache.skipped;
        pose.translation.vector.x += 0.01;
        let cold = elastic_foundation(&pose, &m.femur, &m.patella, &m.law, &mut d.pressure, true);
        let warm = kneetrack::contact::elastic_foundation_warm(&pose, &m.femur, &m.patella, &m.law, &mut cache, &mut warm_pressure, true);
        prop_assert!(cache.skipped > before + 100, "{} skipped", cache.skipped - before);
        prop_assert_eq!(cold.force, warm.force);
        prop_assert_eq!(cold.jacobian, warm.jacobian);
        prop_assert_eq!(cold.surface_jacobian, warm.surface_jacobian);
    }

    /// Newton's third law on contact: the reaction on the femur (every element's −p·A·n
    /// applied at its femoral surface point, p + gap·n) balances the patella's contact wrench
    /// in force and in moment about any point.
    #[test]
    fn contact_obeys_newtons_third_law(dx in -1.5f64..0.5, dy in -3.0f64..3.0, dz in -4.0f64..4.0, w in -0.1f64..0.1, about in -50.0f64..50.0) {
        let (m, mut d, r) = solved(&ModelParams::default(), 30.0, QuadLoad::Force(400.0));
        let pose = Isometry3::from_parts(
            Translation3::from(r.femur_from_patella.translation.vector + Vec3::new(dx, dy, dz)),
            UnitQuaternion::from_rotation_matrix(&rot_vec(&Vec3::new(w, -w, 0.5 * w))) * r.femur_from_patella.rotation,
        );
        let c = elastic_foundation(&pose, &m.femur, &m.patella, &m.law, &mut d.pressure, false);
        let o = Vec3::new(about, -about, 0.3 * about);
        let (mut f_fem, mut m_fem) = (Vec3::zeros(), Vec3::zeros());
        for i in 0..m.patella.len() {
            if d.pressure[i] <= 0.0 { continue; }
            let p = pose * nalgebra::Point3::new(m.patella.x[i], m.patella.y[i], m.patella.z[i]);
            let s = m.femur.distance(&p.coords);
            let fi = -s.normal * d.pressure[i] * m.patella.area[i];
            let at = p.coords - s.normal * s.gap;
            f_fem += fi;
            m_fem += (at - o).cross(&fi);
        }
        let t = pose.translation.vector;
        let m_pat_about_o = c.moment + (t - o).cross(&c.force);
        let scale = 1.0 + c.force.norm();
        prop_assert!((c.force + f_fem).norm() <= 1e-9 * scale);
        prop_assert!((m_pat_about_o + m_fem).norm() <= 1e-6 * scale * 100.0);
    }

    /// Zero quadriceps load (and no ITB tension) gives zero contact force from extension to
    /// 80°. (From about 85°, the patellar tendon alone drags the patella onto the condyles,
    /// as in passive deep flexion, so the invariant does not hold there.) A known gap: see
    /// `zero_load_holds_over_a_fine_sweep_of_angles` (ignored) for the angles where the walk
    /// to the angle ends wedged.
    #[test]
    fn zero_quadriceps_load_gives_zero_contact_force(deg in 0.0f64..80.0) {
        let (m, _, r) = solved(&ModelParams::default(), deg, QuadLoad::Force(0.0));
        prop_assert!(r.status.converged(), "{:?}", r.status);
        // Without load, any pose where nothing is stretched is an equilibrium; flexing the
        // knee drags the patella along the groove by its tendon, so the solve may stop on a
        // touch balanced by the tendon at the very start of its toe region. That stays below
        // 1 N, against 10²–10³ N for loaded frames; any real load path would exceed it.
        let _ = &m;
        prop_assert!(r.contact.force_n <= 1.0, "contact {} N at {deg}°", r.contact.force_n);
        prop_assert!(r.quadriceps_force_n == 0.0);
    }

    /// A mirrored left knee gives the mirrored result: anatomical outputs equal, femur-frame
    /// vectors mirrored across the sagittal plane.
    #[test]
    fn left_knee_mirrors_right(deg in 0.0f64..90.0, q in 6.0f64..24.0, vmo in 0.0f64..1.5, tt in 5.0f64..20.0) {
        let mut p = ModelParams::default();
        p.subject.q_angle_deg = q;
        p.subject.tt_tg_mm = tt;
        p.muscles.vmo = vmo;
        let (_, _, right) = solved(&p, deg, QuadLoad::Force(400.0));
        p.subject.side = Side::Left;
        let (_, _, left) = solved(&p, deg, QuadLoad::Force(400.0));
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * (1.0 + a.abs());
        prop_assert!(close(right.contact.force_n, left.contact.force_n));
        prop_assert!(close(right.contact.lateral_force_n, left.contact.lateral_force_n));
        prop_assert!(close(right.contact.lateral_share, left.contact.lateral_share));
        prop_assert!(close(right.tracking.shift_mm, left.tracking.shift_mm));
        prop_assert!(close(right.tracking.tilt, left.tracking.tilt));
        prop_assert!(close(right.tracking.spin, left.tracking.spin));
        let (a, b) = (right.femur_from_patella.translation.vector, left.femur_from_patella.translation.vector);
        prop_assert!(close(a.x, b.x) && close(a.y, b.y) && close(a.z, -b.z));
        prop_assert!(close(right.contact_force.z, -left.contact_force.z));
    }

    /// At convergence the patella is in equilibrium and reproduces a prescribed moment.
    #[test]
    fn converged_frames_are_in_equilibrium(deg in 0.0f64..90.0, moment_nm in 5.0f64..60.0) {
        let load = QuadLoad::ExtensorMoment(moment_nm * 1000.0);
        let (m, _, r) = solved(&ModelParams::default(), deg, load);
        prop_assert!(r.status.converged(), "{:?}", r.status);
        let (fres, mres) = r.status.residuals();
        prop_assert!(fres <= m.params.solver.force_tolerance_n && mres <= m.params.solver.moment_tolerance_nmm);
        prop_assert!((r.extensor_moment_nmm - moment_nm * 1000.0).abs() <= m.params.solver.moment_tolerance_nmm);
    }
}

// ---------------------------------------------------------------- scenario files and the CLI

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kneetrack"))
}

/// `kneetrack run FILE --out DIR`, waited for.
fn run_cli(file: &Path, out: &Path) -> std::process::Output {
    bin()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kneetrack-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Each malformed file gets a one-line error naming the file (and the key or line where
/// there is one), exit code 2, and no output folder.
#[test]
fn malformed_scenarios_get_a_clear_error_and_exit_code_2() {
    let dir = tmp("malformed");
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        ("unknown_key", Some("[scenario]\nkind = \"flexion\"\n[subject]\nq_angel_deg = 20\n"), &["unknown_key.toml:4", "q_angel_deg"]),
        ("wrong_type", Some("[scenario]\nkind = \"flexion\"\n[muscles]\nvmo = \"weak\"\n"), &["wrong_type.toml:4", "muscles.vmo", "invalid type", "\"weak\"", "allowed 0 to 3"]),
        ("out_of_range", Some("[scenario]\nkind = \"flexion\"\n[subject]\nq_angle_deg = 95\n"), &["out_of_range.toml:4", "subject.q_angle_deg = 95", "allowed -10 to 40 degrees"]),
        ("not_a_number", Some("[scenario]\nkind = \"flexion\"\n\n[cartilage]\nmodulus_mpa = nan\n"), &["not_a_number.toml:5", "cartilage.modulus_mpa = NaN", "allowed 0.5 to 100 MPa"]),
        ("empty", Some("\n# nothing here\n"), &["empty.toml", "empty"]),
        ("missing", None, &["missing.toml", "cannot read"]),
        ("bad_kind", Some("[scenario]\nkind = \"swim\"\n"), &["bad_kind.toml:2", "flexion", "stability"]),
        ("too_deep", Some("[scenario]\nkind = \"flexion\"\n[anatomy]\nmodel = \"parametric\"\n[subject]\nsulcus_angle_deg = 155\ntrochlear_depth_mm = 6\n"), &["too_deep.toml:7", "subject.trochlear_depth_mm", "allowed"]),
        ("trochlea_on_mesh", Some("[scenario]\nkind = \"flexion\"\n[subject]\nsulcus_angle_deg = 175\n"), &["trochlea_on_mesh.toml:4", "subject.sulcus_angle_deg = 175", "reaches", "parametric"]),
        ("trochlea_keys_on_mesh", Some("[scenario]\nkind = \"flexion\"\n[subject]\nsulcus_angle_deg = 150\ntrochlear_depth_mm = 3\n"), &["trochlea_keys_on_mesh.toml:5", "subject.trochlear_depth_mm", "one trochlear key", "parametric"]),
        ("patella_on_mesh", Some("[scenario]\nkind = \"flexion\"\n[subject]\npatella_width_mm = 50\n"), &["patella_on_mesh.toml:4", "subject.patella_width_mm", "parametric"]),
        ("missing_osim", Some("[scenario]\nkind = \"flexion\"\n[anatomy]\nosim = \"nowhere/knee.osim\"\n"), &["missing_osim.toml:4", "anatomy.osim", "knee.osim", "cannot read"]),
        ("osim_and_parametric", Some("[anatomy]\nmodel = \"parametric\"\nosim = \"knee.osim\"\n"), &["osim_and_parametric.toml:3", "anatomy.osim", "parametric"]),
    ];
    for (name, text, expect) in cases {
        let file = dir.join(format!("{name}.toml"));
        if let Some(t) = text {
            std::fs::write(&file, t).unwrap();
        }
        let out_dir = dir.join(format!("out-{name}"));
        for cmd in ["check", "run"] {
            let mut c = bin();
            c.arg(cmd).arg(&file);
            if cmd == "run" {
                c.arg("--out").arg(&out_dir);
            }
            let o = c.output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{name} {cmd}: {err}");
            assert_eq!(
                err.trim_end().lines().count(),
                1,
                "{name}: one line expected, got: {err}"
            );
            for e in *expect {
                assert!(err.contains(e), "{name}: `{e}` missing from: {err}");
            }
        }
        assert!(
            !out_dir.exists(),
            "{name}: output folder created for a bad file"
        );
    }
}

/// A knee model folder in a temp dir: the shipped model file (edited by `edit`) and its
/// meshes (edited by `mesh`), for the malformed-model tests.
fn knee_folder(
    name: &str,
    edit: impl Fn(String) -> String,
    mesh: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/lenhart2015");
    let dir = tmp(name);
    let text = std::fs::read_to_string(src.join("lenhart2015.osim")).unwrap();
    std::fs::write(dir.join("knee.osim"), edit(text)).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let path = e.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        if file.ends_with(".stl") {
            if let Some(bytes) = mesh(&file, std::fs::read(&path).unwrap()) {
                std::fs::write(dir.join(&file), bytes).unwrap();
            }
        }
    }
    std::fs::write(
        dir.join("knee.toml"),
        "[scenario]\nkind = \"flexion\"\n[anatomy]\nosim = \"knee.osim\"\n[flexion]\nangles_deg = [30.0]\n",
    )
    .unwrap();
    dir
}

/// Maps every vertex coordinate of a binary STL.
fn stl_map(bytes: Vec<u8>, f: impl Fn(usize, f32) -> f32) -> Vec<u8> {
    let mut b = bytes;
    let n = u32::from_le_bytes(b[80..84].try_into().unwrap()) as usize;
    for t in 0..n {
        for k in 0..9 {
            let at = 84 + 50 * t + 12 + 4 * k;
            let v = f32::from_le_bytes(b[at..at + 4].try_into().unwrap());
            b[at..at + 4].copy_from_slice(&f(t * 9 + k, v).to_le_bytes());
        }
    }
    b
}

/// Malformed knee models and meshes given through `anatomy.osim` each get one line naming
/// the file and what is wrong, exit 2, nothing written.
#[test]
fn malformed_knee_models_get_a_clear_error() {
    let same = |t: String| t;
    let keep = |_: &str, b: Vec<u8>| Some(b);
    let femur_cart = "lenhart2015-R-femur-cartilage.stl";
    let cases: Vec<(&str, PathBuf, &[&str])> = vec![
        (
            "truncated_stl",
            knee_folder("knee-truncated", same, |f, b| {
                Some(if f == femur_cart {
                    b[..b.len() - 1000].to_vec()
                } else {
                    b
                })
            }),
            &["femur-cartilage.stl", "truncated"],
        ),
        (
            "nan_vertex",
            knee_folder("knee-nan", same, |f, b| {
                Some(if f == femur_cart {
                    stl_map(b, |i, v| if i == 40 { f32::NAN } else { v })
                } else {
                    b
                })
            }),
            &["femur-cartilage.stl", "NaN"],
        ),
        (
            "millimetres",
            knee_folder("knee-mm", same, |f, b| {
                Some(if f == femur_cart {
                    stl_map(b, |_, v| v * 1000.0)
                } else {
                    b
                })
            }),
            &["femur-cartilage.stl", "metres"],
        ),
        (
            "missing_mesh",
            knee_folder("knee-missing", same, |f, b| (f != femur_cart).then_some(b)),
            &["femur-cartilage.stl", "Geometry"],
        ),
        (
            "no_patella",
            knee_folder(
                "knee-nopatella",
                |t| {
                    let a = t.find("<Body name=\"patella_r\">").unwrap();
                    let b = a + t[a..].find("</Body>").unwrap() + "</Body>".len();
                    format!("{}{}", &t[..a], &t[b..])
                },
                keep,
            ),
            &["knee.osim", "patella"],
        ),
    ];
    for (name, dir, expect) in cases {
        let file = dir.join("knee.toml");
        let out_dir = dir.join("out");
        let o = bin()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{name}: one line expected, got: {err}"
        );
        assert!(
            err.contains("anatomy.osim"),
            "{name}: the key is named: {err}"
        );
        for e in expect {
            assert!(err.contains(e), "{name}: `{e}` missing from: {err}");
        }
        assert!(!out_dir.exists(), "{name}: output written for a bad model");
    }
}

/// The shipped model file loaded as a user's (`anatomy.osim`) gives exactly the built-in
/// default knee's frames.
#[test]
fn lenhart_osim_through_anatomy_osim_equals_the_default_knee() {
    let dir = knee_folder("knee-same", |t| t, |_, b| Some(b));
    let base = "[scenario]\nkind = \"flexion\"\n[flexion]\nangles_deg = [0.0, 30.0, 60.0]\nquadriceps_n = 400.0\n";
    std::fs::write(dir.join("default.toml"), base).unwrap();
    std::fs::write(
        dir.join("user.toml"),
        format!("{base}[anatomy]\nosim = \"knee.osim\"\n"),
    )
    .unwrap();
    let run = |name: &str| {
        let out = dir.join(format!("out-{name}"));
        let o = bin()
            .arg("run")
            .arg(dir.join(format!("{name}.toml")))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out.join("frames.csv")).unwrap()
    };
    assert_eq!(run("default"), run("user"));
}

fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

/// Shipped scenarios with frames the solver does not converge yet: (name, frames, why). The
/// count is exact, so a fix or a regression fails the test until this list is updated.
const KNOWN_UNCONVERGED: &[(&str, usize, &str)] = &[];

/// Every shipped scenario compiles, runs with every frame converged (except the known
/// list above), and writes its files.
#[test]
fn shipped_scenarios_run_and_write_outputs() {
    let list = scenarios();
    assert!(list.len() >= 8, "shipped scenarios: {list:?}");
    for path in list {
        let c = scenario::compile::load_and_compile(&path).unwrap_or_else(|e| panic!("{e}"));
        let run = experiment::run(&c);
        let m = experiment::summarize(&c.model, &run);
        let expected_unconverged = KNOWN_UNCONVERGED
            .iter()
            .find(|(n, _, _)| *n == c.name)
            .map_or(0, |k| k.1);
        assert_eq!(
            m.frames_total - m.frames_converged,
            expected_unconverged,
            "{}: unconverged frames",
            path.display()
        );
        let dir = tmp(&c.name);
        let written = kneetrack::output::write_outputs(&c, &run, &dir).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.contains(&"frames.csv".into()) && names.contains(&"summary.json".into()),
            "{names:?}"
        );
        match run {
            RunResult::Flexion(_) => assert!(["tracking.svg", "forces.svg", "pressure_map.svg"]
                .iter()
                .all(|n| names.contains(&n.to_string()))),
            RunResult::Stability(_) => assert!(
                names.contains(&"restraint.svg".into()) && names.contains(&"stability.csv".into())
            ),
            RunResult::Gait(_) => assert!([
                "gait_forces.svg",
                "gait_tracking.svg",
                "pressure_map.svg",
                "results.sto"
            ]
            .iter()
            .all(|n| names.contains(&n.to_string()))),
            RunResult::Dynamic(ref d) => {
                assert!(["dynamic_motion.svg", "dynamic_energy.svg"]
                    .iter()
                    .all(|n| names.contains(&n.to_string())));
                assert!(
                    !matches!(
                        d.status,
                        kneetrack::dynamics::DynamicStatus::Unstable { .. }
                    ),
                    "{}: {:?}",
                    c.name,
                    d.status
                );
            }
        }
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
        for key in [
            "peak_pf_force_n",
            "peak_pf_force_bw",
            "lateral_share_at_peak",
            "frames_converged",
            "frames_total",
        ] {
            assert!(json["metrics"].get(key).is_some(), "{key} missing");
        }
        assert!(!std::fs::read_dir(&dir).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")));
    }
}

/// The README's first command works: the binary runs the baseline and writes its files.
#[test]
fn cli_runs_the_baseline_scenario() {
    let out = tmp("cli-baseline");
    let scen = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline_flexion.toml");
    let o = run_cli(&scen, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "frames.csv",
        "summary.json",
        "tracking.svg",
        "forces.svg",
        "pressure_map.svg",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains("pf_force_n")
            && header.contains("lateral_shift_mm")
            && header.contains("status")
    );
    assert_eq!(csv.lines().count(), 1 + 10, "0…90° in 10° steps");
}

// ---------------------------------------------------------------- determinism

fn render_with_threads(path: &Path, threads: usize) -> Vec<(String, Vec<u8>)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let c = scenario::compile::load_and_compile(path).unwrap();
        let run = experiment::run(&c);
        kneetrack::output::render(&c, &run)
    })
}

/// Same scenario, 1 and 2 threads: bit-identical output files. The stability experiment,
/// the gait cycles (two in `runner_opensim`) and the validation table run in parallel.
#[test]
fn outputs_are_identical_for_any_thread_count() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for name in [
        "stability_lateral.toml",
        "baseline_flexion.toml",
        "runner_opensim.toml",
    ] {
        assert_eq!(
            render_with_threads(&root.join(name), 1),
            render_with_threads(&root.join(name), 2),
            "{name}"
        );
    }
    let table = |n: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap();
        pool.install(|| {
            validation::format_table(&validation::run_all(
                kneetrack::params::AnatomyModel::Lenhart2015,
            ))
        })
    };
    assert_eq!(table(1), table(2));
}

// ---------------------------------------------------------------- dynamics

/// A short dynamic gait run (its quasi-static cycles run in parallel, then one thread
/// integrates): bit-identical output files for 1 and 2 threads.
#[test]
fn dynamic_outputs_are_identical_for_any_thread_count() {
    let dir = tmp("dyn-threads");
    let f = dir.join("dyn.toml");
    std::fs::write(
        &f,
        "[scenario]\nkind = \"dynamic\"\n[gait]\nframes_per_cycle = 20\ncycles = 2\n[dynamic]\ncase = \"gait\"\ndt_s = 1e-5\nduration_s = 0.01\noutput_hz = 2000\n",
    )
    .unwrap();
    let one = render_with_threads(&f, 1);
    assert!(one.iter().any(|(n, b)| n == "frames.csv" && b.len() > 100));
    assert_eq!(one, render_with_threads(&f, 2));
}

/// Through the CLI: a 100 N, 10 ms lateral push moves the quadriceps-loaded patella more
/// than a millimetre, it comes back, and the run writes its files.
#[test]
fn dynamic_pulse_relocates_and_writes_its_files() {
    let dir = tmp("dyn-pulse");
    let f = dir.join("pulse.toml");
    std::fs::write(
        &f,
        "[scenario]\nkind = \"dynamic\"\n[dynamic]\ncase = \"pulse\"\nflexion_deg = 30\nforce_n = 100\nonset_s = 0.005\npulse_s = 0.01\nduration_s = 0.05\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = run_cli(&f, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for name in [
        "frames.csv",
        "summary.json",
        "dynamic_motion.svg",
        "dynamic_energy.svg",
    ] {
        assert!(out.join(name).exists(), "{name}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let m = &json["metrics"]["dynamic"];
    assert!(m["peak_displacement_mm"].as_f64().unwrap() > 1.0, "{m}");
    assert_eq!(m["relocated"], serde_json::Value::Bool(true), "{m}");
    assert_eq!(json["metrics"]["dynamic_status"]["status"], "completed");
}

/// Bad dynamic keys get the one-line range error, exit 2.
#[test]
fn bad_dynamic_keys_are_rejected() {
    let dir = tmp("dyn-bad");
    for (body, needle) in [
        ("dt_s = 0.5", "dynamic.dt_s = 0.5 is out of range"),
        ("direction = \"both\"", "dynamic.direction"),
        ("dt_s = 1e-6\nduration_s = 10", "steps; at most"),
        ("output_hz = 1e6", "dynamic.output_hz"),
    ] {
        let f = dir.join("bad.toml");
        std::fs::write(
            &f,
            format!("[scenario]\nkind = \"dynamic\"\n[dynamic]\n{body}\n"),
        )
        .unwrap();
        let o = bin().arg("check").arg(&f).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{body}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(needle) && err.contains("bad.toml"),
            "{body}: {err}"
        );
    }
}

// ---------------------------------------------------------------- validation cases

/// The table and its known gaps agree: every failing row has a recorded reason and every
/// recorded reason belongs to a failing row. A model change that fixes or breaks a row
/// fails here until the gap list (and the row test's `ignore`) is updated.
#[test]
fn known_gaps_are_exactly_the_failing_rows() {
    use kneetrack::params::AnatomyModel;
    for anatomy in [AnatomyModel::Lenhart2015, AnatomyModel::Parametric] {
        for row in validation::run_all(anatomy) {
            assert_eq!(
                row.pass,
                validation::known_gap(anatomy, row.id).is_none(),
                "{anatomy:?} {}: pass = {}, simulated {}",
                row.id,
                row.pass,
                row.simulated
            );
        }
    }
}

fn check_row(id: &str) {
    let case = &id[..2];
    let rows = validation::run_case(kneetrack::params::AnatomyModel::Lenhart2015, case);
    let row = rows
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no row {id}"));
    assert!(
        row.pass,
        "{id} {}: published {}, simulated {}, tolerance {}",
        row.what, row.published, row.simulated, row.tolerance
    );
}

macro_rules! validation_rows {
    ($($name:ident => $id:literal $(, ignore = $why:literal)?;)*) => {$(
        #[test]
        $(#[ignore = $why])?
        fn $name() {
            check_row($id);
        }
    )*};
}

validation_rows! {
    f1a_peak_pf_force_at_60_to_90 => "F1a";
    f1b_force_at_20_below_60_percent => "F1b";
    f2a_q_plus_10_raises_peak_pressure => "F2a", ignore = "known gap L_Q_PRESSURE: +17.8 %: lateral share 0.72 → 0.91, lateral mean pressure +23 %, on a field already peaked at the normal Q";
    f2b_q_plus_10_shifts_laterally => "F2b";
    f3a_q_minus_10_lowers_lateral_share => "F3a";
    f3b_q_minus_10_raises_peak_pressure => "F3b", ignore = "known gap L_Q_PRESSURE: +6.1 %: the medial peak rises 25 % but stays below the lateral facet's edge element";
    f3c_peak_pressure_u_shaped_in_q => "F3c";
    f4a_vmo_unloaded_lateral_shift => "F4a";
    f4b_vmo_unloaded_lateral_tilt => "F4b";
    f4c_vmo_unloaded_lateral_share_rises => "F4c";
    f4d_vmo_unloaded_medial_pressure_falls => "F4d";
    f4e_vmo_unloaded_shift_largest_early => "F4e";
    f5a_vmo_half_lateral_share => "F5a", ignore = "known gap L_VMO: lateral share moves 3-4 pp, not 5-15";
    f5b_vmo_half_lateral_pressure => "F5b";
    f6a_contact_area_magnitudes => "F6a", ignore = "known gap L_AREA: areas 51-69 % of Besier's";
    f6b_contact_area_peaks_near_60 => "F6b", ignore = "known gap L_AREA_PEAK: largest at 30°, rising again toward 120° with the wrapped quadriceps";
    f6c_lateral_area_exceeds_medial => "F6c";
    f7a_medial_then_lateral_shift => "F7a";
    f7b_lateral_shift_gain_30_to_90 => "F7b", ignore = "known gap L_KINEMATICS: +0.9 mm 30-90°";
    f7c_lateral_tilt_fall_30_to_90 => "F7c", ignore = "known gap L_KINEMATICS: tilt rises 1.7° 30-90°";
    f7d_patellar_flexion_lags => "F7d", ignore = "known gap L_PATELLAR_FLEXION: 11.6° of patellar flexion at extension; from there it lags at every angle";
    f7e_pt_quadriceps_ratio => "F7e";
    f8a_itb_tension_shifts_laterally => "F8a";
    f8b_itb_tension_tilts_laterally => "F8b";
    f8c_itb_tension_raises_lateral_share => "F8c";
    f8d_itb_tension_lowers_lateral_restraint => "F8d", ignore = "known gap L_ITB_RESTRAINT: the iliopatellar line presses the displaced patella onto the lateral facet (+2 %)";
    m1a_pt_moment_arm_30_to_60 => "M1a";
    m1b_pt_moment_arm_smaller_at_the_ends => "M1b";
    m2a_pt_quadriceps_ratio_30_to_60 => "M2a", ignore = "known gap L_PT_RATIO: 0.74-0.50 at 30-60°";
    m2b_pt_quadriceps_ratio_90 => "M2b";
    s1_lateral_restraint => "S1", ignore = "known gap L_RESTRAINT: lateral restraint 165-240 N";
    s2_vmo_relaxed_restraint => "S2", ignore = "known gap L_VMO_STABILITY: relaxing a 12.7 N VMO changes restraint −5 %";
    s3_flat_lateral_trochlea_restraint => "S3", ignore = "known gap L_FLAT_TROCHLEA: LTI 2° is beyond the mesh knee's trochlear morph";
    r1a_running_peak_pf_force => "R1a";
    r1b_running_mean_pressure => "R1b";
    r1c_running_peak_pressure => "R1c", ignore = "known gap L_RUNNING_PRESSURE: 13.4 MPa, following the PF force";
    r1d_running_peak_at_40_to_50 => "R1d";
    r1e_running_extensor_moment => "R1e";
    r1f_running_pt_force => "R1f";
    r2a_foot_strike_angle => "R2a";
    r2b_stance_peak => "R2b";
    r2c_swing_peak => "R2c";
    r2d_cadence => "R2d";
    r3a_step_rate_knee_peak => "R3a";
    r3b_step_rate_moment => "R3b";
    r3c_step_rate_pf_force => "R3c";
    r3d_step_rate_mean_pressure => "R3d";
    r3e_step_rate_contact_area => "R3e";
    r3f_step_rate_tracking_unchanged => "R3f";
    r3g_slower_step_rate_pf_force => "R3g";
    r4a_hip_ir_adduction_shift => "R4a";
    r4b_hip_ir_adduction_share => "R4b";
    r4c_hip_ir_adduction_force => "R4c";
}

// ---------------------------------------------------------------- running gait

/// A gait run's (peak lateral PF force N, cycle-mean lateral PF force N, max lateral shift
/// mm), over converged frames.
fn lateral_force(path: &Path) -> (f64, f64, f64) {
    let c = scenario::compile::load_and_compile(path).unwrap_or_else(|e| panic!("{e}"));
    let run = experiment::run(&c);
    let RunResult::Gait(g) = &run else {
        panic!("{} is not a gait scenario", path.display())
    };
    // Every stance frame converged (swing frames may be known-unconverged; see
    // KNOWN_UNCONVERGED) and only converged frames are compared.
    assert!(g
        .frames
        .iter()
        .filter(|f| f.sample.stance > 0.0)
        .all(|f| f.result.status.converged()));
    let lat: Vec<f64> = g
        .frames
        .iter()
        .filter(|f| f.result.status.converged())
        .map(|f| f.result.contact.lateral_force_n)
        .collect();
    let shift = g
        .frames
        .iter()
        .filter(|f| f.result.status.converged())
        .map(|f| f.result.tracking.shift_mm)
        .fold(f64::NEG_INFINITY, f64::max);
    (
        lat.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        lat.iter().sum::<f64>() / lat.len() as f64,
        shift,
    )
}

fn baseline_runner() -> (f64, f64, f64) {
    static BASE: std::sync::OnceLock<(f64, f64, f64)> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        lateral_force(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/runner_baseline.toml"))
    })
}

/// Smallest change counted as a move, N: twice the solver's force tolerance, so a change
/// is never numerical noise.
const MOVE_N: f64 = 0.1;

/// Which lateral-force measure a mechanism acts on, and the predicted sign.
enum Predicts {
    /// Stance peak rises / falls.
    PeakUp,
    PeakDown,
    /// Cycle mean rises (mechanisms acting outside the stance peak, e.g. in swing).
    MeanUp,
    /// The groove restrains less, against the parametric runner (the trochlear shape acts
    /// on the parametric knee): stance peak falls and the patella shifts further laterally.
    RestraintDownParametric,
}

fn check_factor(file: &str, predicts: Predicts) {
    let (bp, bm, bs) = match predicts {
        Predicts::RestraintDownParametric => lateral_force(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/runner_parametric.toml"),
        ),
        _ => baseline_runner(),
    };
    let (p, m, sh) = lateral_force(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(file),
    );
    let ok = match predicts {
        Predicts::PeakUp => p > bp + MOVE_N,
        Predicts::PeakDown => p < bp - MOVE_N,
        Predicts::MeanUp => m > bm + MOVE_N,
        Predicts::RestraintDownParametric => p < bp - MOVE_N && sh > bs + 0.1,
    };
    assert!(
        ok,
        "{file}: peak lateral force {bp:.2} -> {p:.2} N, cycle mean {bm:.2} -> {m:.2} N, \
         max lateral shift {bs:.2} -> {sh:.2} mm"
    );
}

macro_rules! risk_factors {
    ($($name:ident => $file:literal, $p:ident $(, ignore = $why:literal)?;)*) => {$(
        #[test]
        $(#[ignore = $why])?
        fn $name() {
            check_factor($file, Predicts::$p);
        }
    )*};
}

// Each risk-factor scenario moves lateral PF force the way its mechanism (README, "Running
// gait: risk factors") predicts.
risk_factors! {
    vmo_weakness_raises_lateral_force => "runner_vmo_weak.toml", PeakUp;
    glute_med_weakness_raises_lateral_force => "runner_glute_med_weak.toml", PeakUp;
    itb_tightness_raises_lateral_force => "runner_itb_tight.toml", PeakUp;
    wide_q_angle_raises_lateral_force => "runner_q_angle_wide.toml", PeakUp;
    high_tt_tg_raises_lateral_force => "runner_high_tt_tg.toml", PeakUp;
    pronation_raises_lateral_force => "runner_pronation.toml", PeakUp;
    rf_tightness_raises_swing_lateral_force => "runner_rf_tight.toml", MeanUp, ignore = "real knee: the passive RF force raises the cycle-mean lateral force by 0.06 N (parametric knee: above 0.1 N); the swing-phase mechanism is nearly silent on the Lenhart knee";
    bf_tightness_raises_lateral_force => "runner_bf_tight.toml", MeanUp;
    patella_alta_lowers_lateral_force => "runner_patella_alta.toml", PeakDown, ignore = "real knee: alta raises the peak lateral force (245 -> 305 N) — the high patella meets the proximal trochlea's steeper lateral facet; the parametric knee's prediction (falls) does not hold on the Lenhart knee";
    shallow_trochlea_restrains_less => "runner_shallow_trochlea.toml", RestraintDownParametric;
    higher_step_rate_lowers_lateral_force => "runner_step_rate_plus10.toml", PeakDown;
    downhill_raises_lateral_force => "runner_downhill.toml", PeakUp;
}

/// The shipped OpenSim pair (made from the built-in cycle at 3.2 m/s in gait2392's
/// convention) imports back to the built-in cycle: knee sign detected, moments from the
/// ID file, angles within resampling error.
#[test]
fn opensim_pair_imports_back_to_the_builtin_cycle() {
    use kneetrack::gait::builtin::{builtin_cycle, Conditions};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/runner_opensim.toml");
    let c = scenario::compile::load_and_compile(&path).unwrap_or_else(|e| panic!("{e}"));
    let scenario::RunPlan::Gait(plan) = &c.plan else {
        panic!("not gait")
    };
    assert_eq!(plan.cycles.len(), 2);
    assert_eq!(
        plan.provenance.knee_sign_convention.as_deref(),
        Some("flexion_negative (detected)")
    );
    assert!(plan
        .provenance
        .extensor_moment_source
        .starts_with("inverse dynamics"));
    let reference = builtin_cycle(
        &Conditions {
            speed_mps: 3.2,
            step_rate_change_pct: 0.0,
            slope_pct: 0.0,
            body_mass_kg: 70.0,
        },
        100,
        0.0,
    );
    for cycle in &plan.cycles {
        for (a, b) in cycle.samples.iter().zip(&reference.samples) {
            assert!((a.cycle_pct - b.cycle_pct).abs() < 1e-9);
            assert!(
                (a.knee_flexion_deg - b.knee_flexion_deg).abs() < 1.5,
                "{} %: {} vs {}",
                a.cycle_pct,
                a.knee_flexion_deg,
                b.knee_flexion_deg
            );
            assert!((a.extensor_moment_nm - b.extensor_moment_nm).abs() < 8.0);
            assert!((a.hip_adduction_deg - b.hip_adduction_deg).abs() < 0.5);
        }
    }
}

/// Without an ID file the extensor moment is estimated and the summary says so; with no
/// cycle times the foot strikes are detected.
#[test]
fn opensim_kinematics_alone_estimates_the_moment_and_detects_cycles() {
    let dir = tmp("opensim-ik-only");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/data/runner_ik.mot");
    std::fs::copy(&data, dir.join("ik.mot")).unwrap();
    let file = dir.join("ik_only.toml");
    std::fs::write(
        &file,
        "[scenario]\nkind = \"gait\"\n[gait]\nkinematics = \"ik.mot\"\ncycles = 1\nframes_per_cycle = 40\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = run_cli(&file, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let source = json["metrics"]["gait"]["extensor_moment_source"]
        .as_str()
        .unwrap();
    assert!(source.starts_with("estimated"), "{source}");
    let c = scenario::compile::load_and_compile(&file).unwrap();
    let scenario::RunPlan::Gait(plan) = &c.plan else {
        panic!()
    };
    // Detected strikes: the late-swing minimum, within 6 % of a cycle of the true strike.
    let start = plan.cycles[0].samples[0].time_s;
    let d = plan.cycles[0].duration_s;
    let phase = (start / d).fract();
    assert!(
        !(0.06..=0.94).contains(&phase),
        "detected start at {phase} of a cycle"
    );
    assert!(out.join("results.sto").exists());
}

/// Malformed OpenSim files: one-line error naming the scenario key, the data file and the
/// column or line; exit code 2; nothing written.
#[test]
fn malformed_opensim_files_are_rejected() {
    let dir = tmp("opensim-bad");
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/data/runner_ik.mot"),
    )
    .unwrap();
    let no_hip_rotation = good.replace("hip_rotation_r", "hip_rot_r");
    let mut lines: Vec<&str> = good.lines().collect();
    lines.swap(10, 11);
    let non_monotonic = lines.join("\n");
    let no_header = good.replacen("endheader", "end", 1);
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "missing_column",
            &no_hip_rotation,
            &["missing_column.mot", "hip_rotation_r", "gait.kinematics"],
        ),
        (
            "non_monotonic",
            &non_monotonic,
            &["non_monotonic.mot:12", "time must increase"],
        ),
        ("no_header", &no_header, &["no_header.mot", "endheader"]),
    ];
    for (name, text, expect) in cases {
        std::fs::write(dir.join(format!("{name}.mot")), text).unwrap();
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(
            &file,
            format!("[scenario]\nkind = \"gait\"\n[gait]\nkinematics = \"{name}.mot\"\n"),
        )
        .unwrap();
        let out = dir.join(format!("out-{name}"));
        let o = run_cli(&file, &out);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        for e in *expect {
            assert!(err.contains(e), "{name}: `{e}` not in: {err}");
        }
        assert!(!out.exists());
    }
}

// ---------------------------------------------------------------- sweeps

/// A quick flexion base (3 frames) and a sweep over it with `axes` (TOML) in `dir`.
fn sweep_files(dir: &Path, axes: &str, sweep_extra: &str) -> PathBuf {
    std::fs::write(
        dir.join("base.toml"),
        "[scenario]\nkind = \"flexion\"\n[flexion]\nfrom_deg = 20\nto_deg = 60\nstep_deg = 20\nquadriceps_n = 400\n",
    )
    .unwrap();
    let file = dir.join("sweep.toml");
    std::fs::write(
        &file,
        format!("[sweep]\nbase = \"base.toml\"\n{sweep_extra}\n{axes}"),
    )
    .unwrap();
    file
}

const VMO_Q_AXES: &str = "[[sweep.axis]]\nkey = \"muscles.vmo\"\nvalues = [0.25, 0.5, 1.0]\n\n[[sweep.axis]]\nkey = \"subject.q_angle_deg\"\nfrom = 10.0\nto = 22.0\nsteps = 4\n";

fn sweep_cli(file: &Path, extra: &[&str]) -> std::process::Output {
    bin().arg("sweep").arg(file).args(extra).output().unwrap()
}

/// [`sweep_cli`] that must succeed.
fn sweep_ok(file: &Path, extra: &[&str]) -> std::process::Output {
    let o = sweep_cli(file, extra);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Same sweep with 1 and 2 threads: byte-identical table, plot and manifest; one row per
/// variant, in order, axis values as given.
#[test]
fn sweep_is_bit_identical_for_one_and_two_threads() {
    let dir = tmp("sweep-threads");
    let file = sweep_files(&dir, VMO_Q_AXES, "");
    let mut outs = Vec::new();
    for t in ["1", "2"] {
        let out = dir.join(format!("t{t}"));
        sweep_ok(&file, &["--threads", t, "--out", out.to_str().unwrap()]);
        outs.push(out);
    }
    for f in ["sweep.csv", "sweep.svg", "sweep.json"] {
        assert_eq!(
            read(&outs[0].join(f)),
            read(&outs[1].join(f)),
            "{f} differs"
        );
    }
    let csv = read(&outs[0].join("sweep.csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 12);
    assert!(lines[0].starts_with("variant,muscles.vmo,subject.q_angle_deg,status,peak_pf_force_n"));
    assert!(lines[1].starts_with("0,0.25,10,ok,"), "{}", lines[1]);
    assert!(lines[12].starts_with("11,1,22,ok,"), "{}", lines[12]);
    assert!(!outs[0].join("sweep.csv.partial").exists());
    // the table agrees with running the variant as a scenario
    let base = scenario::compile::load_and_compile(&dir.join("base.toml")).unwrap();
    let mut spec = base.spec.clone();
    spec.muscles.vmo = 0.25;
    spec.subject.q_angle_deg = 10.0;
    let text = toml::to_string(&spec).unwrap();
    let c = scenario::compile(spec, &dir.join("base.toml"), &text).unwrap();
    let m = experiment::summarize(&c.model, &experiment::run(&c));
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells[4].parse::<f64>().unwrap(), m.peak_pf_force_n);
}

/// A sweep killed while it runs (and a torn last line, as a kill mid-write leaves) is
/// finished by `--resume` with every variant exactly once, identical to an uninterrupted run.
#[test]
fn killed_sweep_resumes_to_the_same_table() {
    let dir = tmp("sweep-kill");
    let axes = "[[sweep.axis]]\nkey = \"muscles.vmo\"\nfrom = 0.2\nto = 1.4\nsteps = 60\n";
    let file = sweep_files(&dir, axes, "");
    let clean = dir.join("clean");
    sweep_ok(&file, &["--out", clean.to_str().unwrap()]);

    let out = dir.join("killed");
    let journal = out.join("sweep.csv.partial");
    let mut child = bin()
        .arg("sweep")
        .arg(&file)
        .args(["--threads", "1", "--out", out.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    loop {
        let rows = std::fs::read_to_string(&journal)
            .map(|s| s.lines().count().saturating_sub(1))
            .unwrap_or(0);
        if rows >= 5 {
            break;
        }
        assert!(t0.elapsed().as_secs() < 120, "the sweep never wrote rows");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !out.join("sweep.csv").exists(),
        "the sweep finished before the kill"
    );
    let before = read(&journal);
    let done = before.lines().count() - 1;
    assert!(done < 60, "{done} rows");
    // a kill in the middle of a write leaves a torn line
    let mut torn = before.clone();
    torn.push_str("59,1.4,ok,12");
    std::fs::write(&journal, torn).unwrap();

    // without --resume the folder is refused, nothing lost
    let o = sweep_cli(&file, &["--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));
    assert!(read(&journal).starts_with(&before));

    let o = sweep_ok(&file, &["--resume", "--out", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!("{} variants run", 60 - done)),
        "{stdout}"
    );
    assert_eq!(read(&out.join("sweep.csv")), read(&clean.join("sweep.csv")));
    assert_eq!(
        read(&out.join("sweep.json")),
        read(&clean.join("sweep.json"))
    );
    // resuming a finished sweep does nothing
    let o = sweep_cli(&file, &["--resume", "--out", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("already complete"));
}

/// Shards 0..3 of 3 merged give the unsharded folder byte for byte; a missing or doubled
/// shard is refused with the variants named.
#[test]
fn shards_merge_to_the_unsharded_output() {
    let dir = tmp("sweep-shards");
    let file = sweep_files(&dir, VMO_Q_AXES, "");
    let whole = dir.join("whole");
    assert!(sweep_cli(&file, &["--out", whole.to_str().unwrap()])
        .status
        .success());
    let sharded = dir.join("sharded");
    for i in 0..3 {
        let s = format!("{i}/3");
        sweep_ok(&file, &["--shard", &s, "--out", sharded.to_str().unwrap()]);
    }
    let shard_rows = read(&sharded.join("shard-1-of-3/sweep.csv"))
        .lines()
        .count()
        - 1;
    assert_eq!(shard_rows, 4);
    let o = bin().arg("merge").arg(&sharded).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["sweep.csv", "sweep.svg", "sweep.json"] {
        assert_eq!(read(&whole.join(f)), read(&sharded.join(f)), "{f} differs");
    }
    // missing shard
    let o = bin()
        .arg("merge")
        .arg(dir.join("m1"))
        .arg(sharded.join("shard-0-of-3"))
        .arg(sharded.join("shard-2-of-3"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("variants 4..8 are missing"));
    // doubled shard
    let o = bin()
        .arg("merge")
        .arg(dir.join("m2"))
        .args(["0", "1", "1", "2"].map(|i| sharded.join(format!("shard-{i}-of-3"))))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("variant 4 appears twice"));
}

/// Bad sweeps: an unknown key, an empty axis, a value out of range, and a sweep of more
/// than ten million variants each get a one-line error naming the file and line, exit 2.
#[test]
fn bad_sweeps_get_clear_errors() {
    let dir = tmp("sweep-bad");
    let cases: &[(&str, &str, &[&str])] = &[
        ("[[sweep.axis]]\nkey = \"muscles.vmoo\"\nvalues = [1.0]\n", "", &["sweep.toml:5", "muscles.vmoo", "unknown field"]),
        ("[[sweep.axis]]\nkey = \"muscles.vmo\"\nvalues = []\n", "", &["sweep.toml:5", "empty"]),
        ("[[sweep.axis]]\nkey = \"subject.q_angle_deg\"\nfrom = 10.0\nto = 60.0\nsteps = 3\n", "", &["sweep.toml:5", "subject.q_angle_deg = 60", "allowed -10 to 40 degrees"]),
        ("[[sweep.axis]]\nkey = \"muscles.vmo\"\nfrom = 0.5\nto = 1.0\n", "", &["sweep.toml:5", "needs steps"]),
        ("[[sweep.axis]]\nkey = \"muscles.vmo\"\nfrom = 0.5\nto = 1.0\n\n[[sweep.axis]]\nkey = \"muscles.vl\"\nfrom = 0.5\nto = 1.0\n", "method = \"random\"\nsamples = 20000000", &["20000000 variants", "more than 10000000", "--allow-huge"]),
        ("", "", &["no axes"]),
    ];
    for (axes, extra, needles) in cases {
        let file = sweep_files(&dir, axes, extra);
        let o = sweep_cli(&file, &["--out", dir.join("out").to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{axes}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{axes}: `{n}` not in {err}");
        }
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

/// A variant that cannot be built (a groove too deep for its facet angles) is a failed row
/// with its error; the others run.
#[test]
fn failed_variants_are_recorded_and_the_sweep_goes_on() {
    let dir = tmp("sweep-fail");
    let axes = "[[sweep.axis]]\nkey = \"subject.sulcus_angle_deg\"\nvalues = [138.0, 150.0]\n\n[[sweep.axis]]\nkey = \"subject.trochlear_depth_mm\"\nvalues = [3.0, 5.5]\n";
    let file = sweep_files(&dir, axes, "");
    // Trochlear shape acts on the parametric knee.
    std::fs::write(
        dir.join("base.toml"),
        "[scenario]\nkind = \"flexion\"\n[anatomy]\nmodel = \"parametric\"\n[flexion]\nfrom_deg = 20\nto_deg = 60\nstep_deg = 20\nquadriceps_n = 400\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = sweep_ok(&file, &["--out", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 failed"));
    let csv = read(&out.join("sweep.csv"));
    let failed: Vec<&str> = csv.lines().filter(|l| l.contains(",failed,")).collect();
    assert_eq!(failed.len(), 1, "{csv}");
    assert!(failed[0].starts_with("3,150,5.5,failed,"), "{}", failed[0]);
    assert!(failed[0].contains("does not fit these facet angles"));
    assert_eq!(csv.lines().filter(|l| l.contains(",ok,")).count(), 3);
}

/// Latin hypercube: each axis's strata used once, within the range, reproducible by seed.
#[test]
fn latin_hypercube_sweep_covers_each_axis_evenly() {
    let dir = tmp("sweep-lhs");
    let axes = "[[sweep.axis]]\nkey = \"muscles.vmo\"\nfrom = 0.2\nto = 1.0\n\n[[sweep.axis]]\nkey = \"itb.tension_n\"\nfrom = 0.0\nto = 200.0\n";
    let file = sweep_files(
        &dir,
        axes,
        "method = \"latin_hypercube\"\nsamples = 8\nseed = 3",
    );
    let sw = kneetrack::sweep::load_sweep(&file).unwrap();
    assert_eq!(sw.variants, 8);
    for (k, (lo, hi)) in [(0.2, 1.0), (0.0, 200.0)].into_iter().enumerate() {
        let mut strata: Vec<usize> = (0..8)
            .map(|i| {
                let v = sw.values(i)[k].as_float().unwrap();
                assert!((lo..hi).contains(&v));
                ((v - lo) / (hi - lo) * 8.0) as usize
            })
            .collect();
        strata.sort_unstable();
        assert_eq!(strata, (0..8).collect::<Vec<_>>());
    }
    assert_eq!(
        kneetrack::sweep::load_sweep(&file).unwrap().values(5),
        sw.values(5)
    );
}

/// The four shipped sweeps compile against their base scenario and their first variant runs.
#[test]
fn shipped_sweeps_compile_and_their_first_variant_runs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "itb_glute_med.toml",
            "step_rate_speed.toml",
            "trochlea_tt_tg.toml",
            "vmo_q_angle.toml"
        ]
    );
    for n in names {
        let sw = kneetrack::sweep::load_sweep(&dir.join(&n)).unwrap();
        assert!(sw.variants >= 16, "{n}");
        let row = kneetrack::sweep::run::run_variant(&sw, 0);
        let m = row.outcome.unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(m[15], m[16], "{n}: every frame converges");
    }
}

/// Everything a compiled scenario holds, exactly (floats through their Debug text, which
/// round-trips): spec, plan, name, folder, formats, data files and the model — parameters,
/// knee description, law, tissues, rest pose, patella elements, seated envelope and femoral
/// surface (a mesh field by identity: the process builds one per knee).
fn compiled_fingerprint(c: &scenario::Compiled) -> String {
    let m = &c.model;
    let femur = match &m.femur {
        FemurGeometry::Parametric(s) => format!("parametric {s:?}"),
        FemurGeometry::Mesh(sdf, info) => format!("mesh {:p} {info:?}", sdf.as_ref()),
        FemurGeometry::MeshMorphed(sdf, info, morph) => {
            format!("morphed {:p} {info:?} {morph:?}", sdf.as_ref())
        }
    };
    let mesh = m.mesh.as_ref().map(|k| format!("{:p}", k.as_ref()));
    format!(
        "{:?}\n{:?}\n{} {:?} {:?} {:?}\n{:?}\n{:?}\n{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}\n{:?}\n{:?}\n{femur}\n{mesh:?}",
        c.spec,
        c.plan,
        c.name,
        c.out_dir,
        c.formats,
        c.data_files,
        m.params,
        m.knee,
        m.side,
        m.lat,
        m.body_weight_n,
        m.law,
        m.tibiofemoral,
        m.heads,
        m.patellar_tendon,
        m.mpfl,
        m.lateral_retinaculum,
        m.itb_band,
        m.patella_rest,
        m.patella_seated,
        m.q_angle_effective_deg,
        m.hash,
        m.envelope,
        m.patella,
    )
}

/// A sweep file in `dir` over the shipped scenario `base` with `axes` (TOML).
fn sweep_over_shipped(dir: &Path, name: &str, base: &str, axes: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(base);
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!("[sweep]\nbase = {:?}\n{axes}", base.display().to_string()),
    )
    .unwrap();
    file
}

/// A variant compiled from the base parsed once, on the sweep's shared geometry and data
/// files, is exactly the variant compiled the long way (its table written out as a scenario
/// file and read back, everything built afresh): every shipped sweep, an OpenSim base, a
/// sampled sweep and a variant that fails (same message). One run per shipped sweep through
/// both paths gives bit-identical metrics.
#[test]
fn sweep_variants_compile_as_their_scenario_files_do() {
    let dir = tmp("sweep-typed");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps");
    let mut files: Vec<PathBuf> = [
        "itb_glute_med.toml",
        "step_rate_speed.toml",
        "trochlea_tt_tg.toml",
        "vmo_q_angle.toml",
    ]
    .iter()
    .map(|n| shipped.join(n))
    .collect();
    files.push(sweep_over_shipped(
        &dir,
        "opensim",
        "runner_opensim.toml",
        "[[sweep.axis]]\nkey = \"muscles.vmo\"\nvalues = [0.5, 1.0]\n\n[[sweep.axis]]\nkey = \"gait.stance_hip_adduction_deg\"\nvalues = [0.0, 3.0]\n",
    ));
    files.push(sweep_over_shipped(
        &dir,
        "lhs",
        "runner_baseline.toml",
        "method = \"latin_hypercube\"\nsamples = 6\nseed = 7\n\n[[sweep.axis]]\nkey = \"muscles.vmo\"\nfrom = 0.2\nto = 1.0\n\n[[sweep.axis]]\nkey = \"gait.cycles\"\nfrom = 1.0\nto = 3.0\n",
    ));
    for file in &files {
        let sw = kneetrack::sweep::load_sweep(file).unwrap();
        let n = sw.variants;
        for i in [0, 1, n / 2, n - 1] {
            let fast = sw.variant(i).unwrap();
            let slow = sw.variant_via_text(i).unwrap();
            assert_eq!(
                compiled_fingerprint(&fast),
                compiled_fingerprint(&slow),
                "{}: variant {i}",
                file.display()
            );
        }
        if file.starts_with(&shipped) {
            let metrics = |c: &scenario::Compiled| {
                format!("{:?}", experiment::summarize(&c.model, &experiment::run(c)))
            };
            assert_eq!(
                metrics(&sw.variant(1).unwrap()),
                metrics(&sw.variant_via_text(1).unwrap()),
                "{}",
                file.display()
            );
        }
    }
    // A variant that cannot be built fails with the same message either way.
    let file = sweep_files(
        &dir,
        "[[sweep.axis]]\nkey = \"subject.sulcus_angle_deg\"\nvalues = [138.0, 150.0]\n\n[[sweep.axis]]\nkey = \"subject.trochlear_depth_mm\"\nvalues = [3.0, 5.5]\n",
        "",
    );
    std::fs::write(
        dir.join("base.toml"),
        "[scenario]\nkind = \"flexion\"\n[anatomy]\nmodel = \"parametric\"\n[flexion]\nfrom_deg = 20\nto_deg = 60\nstep_deg = 20\n",
    )
    .unwrap();
    let sw = kneetrack::sweep::load_sweep(&file).unwrap();
    let (fast, slow) = (
        sw.variant(3).unwrap_err(),
        sw.variant_via_text(3).unwrap_err(),
    );
    assert!(fast.contains("does not fit these facet angles"), "{fast}");
    assert_eq!(fast, slow);
}

/// Variants that differ only in keys that do not touch geometry share the base's geometry:
/// the same patella elements and femoral surface (`Arc`s), built once for the whole sweep.
/// An axis over a geometry key builds each distinct geometry once, whatever the other axes.
#[test]
fn sweep_variants_share_one_geometry_unless_an_axis_changes_it() {
    use std::sync::Arc;
    let dir = tmp("sweep-shared");
    let femur_ptr = |m: &Model| match &m.femur {
        FemurGeometry::Parametric(s) => Arc::as_ptr(s) as *const u8,
        FemurGeometry::Mesh(sdf, _) | FemurGeometry::MeshMorphed(sdf, _, _) => {
            Arc::as_ptr(sdf) as *const u8
        }
    };
    for base in ["runner_baseline.toml", "runner_parametric.toml"] {
        let file = sweep_over_shipped(
            &dir,
            "plain",
            base,
            "[[sweep.axis]]\nkey = \"muscles.vmo\"\nfrom = 0.3\nto = 1.0\nsteps = 6\n\n[[sweep.axis]]\nkey = \"subject.q_angle_deg\"\nvalues = [10.0, 20.0]\n\n[[sweep.axis]]\nkey = \"cartilage.modulus_mpa\"\nvalues = [4.0, 6.0]\n",
        );
        let sw = kneetrack::sweep::load_sweep(&file).unwrap();
        assert!(sw
            .axes
            .iter()
            .all(|a| !kneetrack::sweep::compile::touches_geometry(&a.key)));
        let base_model = &sw.base.model;
        for i in 0..sw.variants {
            let v = sw.variant(i).unwrap();
            assert!(
                Arc::ptr_eq(&v.model.patella, &base_model.patella),
                "{base} {i}"
            );
            assert_eq!(femur_ptr(&v.model), femur_ptr(base_model), "{base} {i}");
        }
        assert_eq!(sw.shared().geometry.builds(), 1, "{base}");
    }
    // Trochlear depth (a geometry key of the parametric knee) × VMO: one geometry per depth.
    let file = sweep_over_shipped(
        &dir,
        "depth",
        "runner_parametric.toml",
        "[[sweep.axis]]\nkey = \"subject.trochlear_depth_mm\"\nvalues = [3.5, 4.5, 5.5]\n\n[[sweep.axis]]\nkey = \"muscles.vmo\"\nvalues = [0.5, 0.75, 1.0]\n",
    );
    let sw = kneetrack::sweep::load_sweep(&file).unwrap();
    assert!(kneetrack::sweep::compile::touches_geometry(&sw.axes[0].key));
    let variants: Vec<_> = (0..sw.variants).map(|i| sw.variant(i).unwrap()).collect();
    for (i, v) in variants.iter().enumerate() {
        let same_depth = &variants[i - i % 3].model;
        assert!(Arc::ptr_eq(&v.model.patella, &same_depth.patella), "{i}");
        assert_eq!(femur_ptr(&v.model), femur_ptr(same_depth), "{i}");
    }
    assert!(!Arc::ptr_eq(
        &variants[0].model.patella,
        &variants[3].model.patella
    ));
    // The base's depth is 5.5: its geometry serves the last three variants.
    assert_eq!(femur_ptr(&variants[8].model), femur_ptr(&sw.base.model));
    assert_eq!(sw.shared().geometry.builds(), 3);
}

/// The viewer's recording of a dynamic run (what it plays): one frame per output sample, in
/// time, with the patella moving under the pulse, a pressure field per frame and the
/// integrated (not solved) status — the same samples `run` writes.
#[test]
fn dynamic_runs_are_recorded_for_the_viewer() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/dynamic_pulse.toml");
    let compiled = kneetrack::scenario::compile::load_and_compile(&path).unwrap();
    let rec = kneetrack::experiment::record::record(&compiled).unwrap();
    let kneetrack::experiment::RunResult::Dynamic(run) = kneetrack::experiment::run(&compiled)
    else {
        panic!("a dynamic scenario")
    };
    assert_eq!(rec.frames.len(), run.samples.len());
    assert_eq!(rec.x_label, "time, ms");
    for (f, s) in rec.frames.iter().zip(&run.samples) {
        assert_eq!(f.x, s.time_s * 1e3);
        assert_eq!(f.result.tracking.shift_mm, s.shift_mm);
        assert_eq!(f.result.contact.force_n, s.pf_force_n);
        assert_eq!(f.pressure.len(), compiled.model.patella.len());
        assert_eq!(f.result.status.name(), "integrated");
    }
    let shift: Vec<f64> = rec
        .frames
        .iter()
        .map(|f| f.result.tracking.shift_mm)
        .collect();
    let (lo, hi) = shift
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert!(hi - lo > 3.0, "the pulse moves the patella: {lo} … {hi} mm");
    assert!(rec
        .frames
        .iter()
        .any(|f| f.pressure.iter().any(|&p| p > 0.0)));
}

// ---------------------------------------------------------------- viewer (feature `viewer`)

/// Runs the viewer's headless path on the running baseline at 20 % with `extra` arguments;
/// returns its standard output. Needs an X display.
#[cfg(feature = "viewer")]
fn view_screenshot(png_path: &Path, extra: &[&str]) -> String {
    view_scenario_screenshot("runner_baseline.toml", "20%", png_path, extra)
}

/// Runs the viewer's headless path on a shipped scenario at `at`; returns its standard
/// output.
#[cfg(feature = "viewer")]
fn view_scenario_screenshot(scenario: &str, at: &str, png_path: &Path, extra: &[&str]) -> String {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the viewer test needs an X display: run it under xvfb-run (see .ci/run)"
    );
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(scenario);
    let o = bin()
        .arg("view")
        .arg(&scenario)
        .arg("--screenshot")
        .arg(png_path)
        .args(["--at", at])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

/// The headless path renders the running baseline at 20 % of the cycle (mid-stance): the
/// PNG is not blank, and around the patella's screen position (printed by the viewer)
/// there are pixels of the pressure colour scale. Needs an X display: CI runs it under
/// `xvfb-run` with Mesa's software Vulkan.
#[cfg(feature = "viewer")]
#[test]
fn viewer_screenshot_shows_the_knee_with_pressure_colours() {
    let dir = tmp("viewer");
    let png_path = dir.join("shot.png");
    let stdout = view_screenshot(&png_path, &[]);
    assert_pressure_colours_near_the_patella(&stdout, &png_path);
}

/// The viewer plays a dynamic run: the shipped pulse at 25 % of its 150 ms (the patella
/// pushed laterally mid-pulse) renders the knee with the pressure colours on the patella.
#[cfg(feature = "viewer")]
#[test]
fn viewer_plays_a_dynamic_run() {
    let dir = tmp("viewer-dynamic");
    let png_path = dir.join("pulse.png");
    let stdout = view_scenario_screenshot("dynamic_pulse.toml", "25%", &png_path, &[]);
    assert_pressure_colours_near_the_patella(&stdout, &png_path);
}

#[cfg(feature = "viewer")]
fn assert_pressure_colours_near_the_patella(stdout: &str, png_path: &Path) {
    let (px, py) = stdout
        .lines()
        .find_map(|l| {
            let mut it = l.strip_prefix("patella_px ")?.split_whitespace();
            Some((
                it.next()?.parse::<f64>().ok()?,
                it.next()?.parse::<f64>().ok()?,
            ))
        })
        .expect("the viewer prints the patella's screen position");
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let ch = info.color_type.samples();
    let pixel = |x: usize, y: usize| {
        let i = (y * w + x) * ch;
        (buf[i] as f64, buf[i + 1] as f64, buf[i + 2] as f64)
    };
    // Not blank: the luminance varies.
    let lum: Vec<f64> = (0..h)
        .step_by(4)
        .flat_map(|y| (0..w).step_by(4).map(move |x| (x, y)))
        .map(|(x, y)| {
            let (r, g, b) = pixel(x, y);
            0.299 * r + 0.587 * g + 0.114 * b
        })
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let sd = (lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64).sqrt();
    assert!(sd > 15.0, "the image is nearly uniform (sd {sd:.1})");
    // Pressure colours near the patella: the scale's saturated blues and greens, which
    // nothing else near the patella has (bones are beige, tissue lines orange to red, the
    // arrows pale yellow and pink, the background dark grey).
    let (cx, cy) = (px.round() as i64, py.round() as i64);
    assert!(
        cx >= 0 && cy >= 0 && (cx as usize) < w && (cy as usize) < h,
        "patella off screen at {px}, {py}"
    );
    let mut coloured = 0;
    for y in (cy - 60).max(0)..(cy + 60).min(h as i64) {
        for x in (cx - 60).max(0)..(cx + 60).min(w as i64) {
            let (r, g, b) = pixel(x as usize, y as usize);
            let (mx, mn) = (r.max(g).max(b), r.min(g).min(b));
            if mx > 90.0 && (mx - mn) / mx > 0.45 && (b > r + 20.0 || g > r + 20.0) {
                coloured += 1;
            }
        }
    }
    assert!(
        coloured >= 40,
        "only {coloured} pressure-coloured pixels around the patella at ({px}, {py})"
    );
}

/// Moving a slider (here from the command line, through the same live path) re-solves the
/// cycle on the worker thread and the readout changes the way the CLI says it should: a
/// weak VMO raises the runner's peak lateral force (as `runner_vmo_weak`).
#[cfg(feature = "viewer")]
#[test]
fn viewer_slider_re_solves_the_cycle() {
    let dir = tmp("viewer-slider");
    let stdout = view_screenshot(&dir.join("weak_vmo.png"), &["--set", "muscles.vmo=0.5"]);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("peak_lateral_force_n "))
        .expect("the viewer prints its readout");
    let nums: Vec<f64> = line
        .split([' ', ';'])
        .filter_map(|w| w.parse().ok())
        .collect();
    let (now, base) = (nums[0], nums[1]);
    assert!(now > base * 1.05, "weak VMO: {now} N vs baseline {base} N");
    assert!(
        stdout.lines().any(|l| l.starts_with("resolve_ms ")),
        "{stdout}"
    );
    // A key that is not a slider is refused before a window opens.
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/runner_baseline.toml");
    let o = bin()
        .arg("view")
        .arg(&scenario)
        .args(["--set", "muscles.vmoo=0.5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a viewer slider"));
}

// ---------------------------------------------------------------- measured secondary motion

/// The shipped IK file with the OpenSim-JAM secondary coordinates of a right knee appended,
/// smooth in time (period `T` = the shipped cycle): adduction 2 sin(ωt)°, internal rotation
/// 4 + 3 cos(ωt)°, translations (2 sin(ωt), −1 + 0.5 cos(ωt), sin(2ωt)) mm, written in
/// metres. Returns the text and the analytic coordinates (deg, deg, mm, mm, mm) at time t.
const JAM_T: f64 = 0.69224;
fn jam_coords(t: f64) -> [f64; 5] {
    let w = 2.0 * std::f64::consts::PI / JAM_T;
    [
        2.0 * (w * t).sin(),
        4.0 + 3.0 * (w * t).cos(),
        2.0 * (w * t).sin(),
        -1.0 + 0.5 * (w * t).cos(),
        (2.0 * w * t).sin(),
    ]
}
fn ik_with_jam_columns(tx_scale: f64) -> String {
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/data/runner_ik.mot"),
    )
    .unwrap();
    let mut out = String::new();
    let mut data = false;
    for l in good.lines() {
        if l.starts_with("time") {
            out.push_str(l);
            out.push_str("\tknee_add_r\tknee_rot_r\tknee_tx_r\tknee_ty_r\tknee_tz_r\n");
            data = true;
        } else if data && !l.trim().is_empty() {
            let t: f64 = l.split_whitespace().next().unwrap().parse().unwrap();
            let c = jam_coords(t);
            out.push_str(&format!(
                "{l}\t{}\t{}\t{}\t{}\t{}\n",
                c[0],
                c[1],
                tx_scale * c[2] / 1000.0,
                c[3] / 1000.0,
                c[4] / 1000.0
            ));
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// A one-cycle gait scenario on `ik` with 6° of extra stance hip internal rotation (a
/// mechanism that rotates the tibia externally at the knee under the planted foot), 20
/// frames.
fn jam_gait_scenario(dir: &Path, name: &str, ik: &str) -> PathBuf {
    std::fs::write(dir.join(format!("{name}.mot")), ik).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "[scenario]\nkind = \"gait\"\n[gait]\nstance_hip_rotation_deg = 6\nspeed_mps = 3.2\n\
             kinematics = \"{name}.mot\"\ncycle_starts_s = [0.0, {JAM_T}]\ncycles = 1\n\
             frames_per_cycle = 20\n"
        ),
    )
    .unwrap();
    file
}

/// An IK file with `knee_add_r` … `knee_tz_r` drives the tibia: the secondary motion of
/// every frame is the file's (within linear resampling), the tibia pose is the OpenSim-JAM
/// joint's at those coordinates with the hip-driven mechanism's tibial rotation added on
/// top, the summary names the measured source, and the run differs from the coupled one.
#[test]
fn gait_secondary_columns_drive_the_tibia() {
    use kneetrack::math::{rot_x, rot_y, rot_z};
    let dir = tmp("jam-gait");
    let measured = jam_gait_scenario(&dir, "jam", &ik_with_jam_columns(1.0));
    let plain = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/data/runner_ik.mot"),
    )
    .unwrap();
    let coupled = jam_gait_scenario(&dir, "plain", &plain);
    let run = |file: &Path| {
        let c = scenario::compile::load_and_compile(file).unwrap_or_else(|e| panic!("{e}"));
        let RunResult::Gait(g) = experiment::run(&c) else {
            panic!()
        };
        g
    };
    let (m, c) = (run(&measured), run(&coupled));
    assert!(m.provenance.secondary_motion.starts_with(
        "measured: knee_add_r, knee_rot_r, knee_tx_r, knee_ty_r, knee_tz_r from jam.mot"
    ));
    assert!(c
        .provenance
        .secondary_motion
        .contains("seated (Walker 1988 rotation"));
    let mut max_rotation_change = 0f64;
    let mut mechanism_seen = false;
    for (fm, fc) in m.frames.iter().zip(&c.frames) {
        let r = &fm.result;
        let want = jam_coords(fm.sample.time_s);
        // Linear resampling of a smooth curve sampled every 11.5 ms: < 0.003° / mm.
        assert!(
            (r.tibia_coupled_varus.to_degrees() - want[0]).abs() < 0.01,
            "{want:?}"
        );
        assert!((r.tibia_coupled_internal_rotation.to_degrees() - want[1]).abs() < 0.01);
        let t = r.tibia_translation_mm;
        assert!(
            (t - Vec3::new(want[2], want[3], want[4])).norm() < 0.01,
            "{t} {want:?}"
        );
        // Pose: the measured coordinates, the mechanisms' rotation added on top.
        let k = r.knee;
        mechanism_seen |= k.internal_rotation < -5f64.to_radians();
        let rot = rot_z(-k.flexion)
            * rot_x(k.varus + r.tibia_coupled_varus)
            * rot_y(k.internal_rotation + r.tibia_coupled_internal_rotation);
        assert!(
            (r.femur_from_tibia.rotation.to_rotation_matrix().matrix() - rot.matrix()).norm()
                < 1e-9
        );
        assert!((r.femur_from_tibia.translation.vector - t).norm() < 1e-12);
        // Same body motion and mechanisms, other secondary motion.
        assert_eq!(
            fm.result.knee.internal_rotation,
            fc.result.knee.internal_rotation
        );
        max_rotation_change = max_rotation_change.max(
            (r.tibia_coupled_internal_rotation - fc.result.tibia_coupled_internal_rotation)
                .abs()
                .to_degrees(),
        );
    }
    assert!(
        mechanism_seen,
        "the hip-driven mechanism rotated no frame's tibia"
    );
    assert!(max_rotation_change > 3.0, "{max_rotation_change}");
    // The patella sees the different tibia: the tendon's pull moves.
    let differs = m.frames.iter().zip(&c.frames).any(|(a, b)| {
        (a.result.contact.lateral_force_n - b.result.contact.lateral_force_n).abs() > 1.0
    });
    assert!(differs);
}

/// The frames.csv columns of `name`, by header.
fn csv_column(csv: &str, name: &str) -> Vec<f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("{name}"));
    lines
        .map(|l| l.split(',').nth(i).unwrap().parse().unwrap())
        .collect()
}

/// A passive-flexion secondary file: knee_flex_r 0…`max`° every 15°, internal rotation
/// 0.25°/°, adduction 0.02°/°, anterior translation −0.05 mm/° (linear: interpolation is
/// exact).
fn passive_secondary(max: usize) -> String {
    let mut s = String::from(
        "passive\nversion=1\ninDegrees=yes\nendheader\ntime\tknee_flex_r\tknee_add_r\tknee_rot_r\tknee_tx_r\n",
    );
    for (i, a) in (0..=max).step_by(15).enumerate() {
        let a = a as f64;
        s.push_str(&format!(
            "{}\t{a}\t{}\t{}\t{}\n",
            i as f64 * 0.1,
            0.02 * a,
            0.25 * a,
            -0.05e-3 * a
        ));
    }
    s
}

/// `flexion.secondary_kinematics` gives the secondary coordinates per angle: the file's
/// (interpolated) where it has them, the coupling's elsewhere, `varus_deg` on top.
#[test]
fn flexion_secondary_kinematics_file_drives_the_tibia() {
    let dir = tmp("jam-flexion");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/passive.mot"), passive_secondary(90)).unwrap();
    let body = "[scenario]\nkind = \"flexion\"\n[flexion]\nangles_deg = [10, 35, 60]\nquadriceps_n = 400\nvarus_deg = 2\n";
    let with = dir.join("with.toml");
    std::fs::write(
        &with,
        format!("{body}secondary_kinematics = \"data/passive.mot\"\n"),
    )
    .unwrap();
    let without = dir.join("without.toml");
    std::fs::write(&without, body).unwrap();
    let csv = |file: &Path, out: &str| {
        let out = dir.join(out);
        let o = run_cli(file, &out);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out.join("frames.csv")).unwrap()
    };
    let (m, c) = (csv(&with, "out-with"), csv(&without, "out-without"));
    let angles = [10.0, 35.0, 60.0];
    let col = |csv: &str, n: &str| csv_column(csv, n);
    for (i, a) in angles.iter().enumerate() {
        assert!((col(&m, "tibia_coupled_rotation_deg")[i] - 0.25 * a).abs() < 1e-9);
        assert!((col(&m, "tibia_coupled_adduction_deg")[i] - 0.02 * a).abs() < 1e-9);
        assert!((col(&m, "tibia_anterior_mm")[i] + 0.05 * a).abs() < 1e-9);
        assert_eq!(col(&m, "knee_varus_deg")[i], 2.0);
        // Not in the file: the coupling's, as without it.
        assert_eq!(
            col(&m, "tibia_proximal_mm")[i],
            col(&c, "tibia_proximal_mm")[i]
        );
        assert_eq!(
            col(&m, "tibia_lateral_mm")[i],
            col(&c, "tibia_lateral_mm")[i]
        );
    }
    assert!(col(&c, "tibia_proximal_mm")[2].abs() > 1.0);
    // The coupling's rotation differs from the file's (Walker: 13.2° at 60°, the file 15°).
    assert!((col(&c, "tibia_coupled_rotation_deg")[2] - 0.25 * 60.0).abs() > 1.0);
}

/// Secondary-motion data that cannot be used: one line naming the scenario key, the data
/// file and what is wrong (column, line, value, allowed range); exit 2; nothing written.
#[test]
fn unusable_secondary_motion_data_are_rejected() {
    let dir = tmp("jam-bad");
    std::fs::write(dir.join("passive.mot"), passive_secondary(45)).unwrap();
    let flexion = |angles: &str| {
        format!(
            "[scenario]\nkind = \"flexion\"\n[flexion]\nangles_deg = {angles}\nsecondary_kinematics = \"passive.mot\"\n"
        )
    };
    let good = ik_with_jam_columns(1.0);
    let nan = {
        let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
        let i = lines.iter().position(|l| l.starts_with("time")).unwrap() + 3;
        let mut v: Vec<String> = lines[i].split('\t').map(str::to_string).collect();
        let n = v.len();
        v[n - 4] = "NaN".into();
        lines[i] = v.join("\t");
        lines.join("\n")
    };
    let gait = |name: &str| {
        format!(
            "[scenario]\nkind = \"gait\"\n[gait]\nkinematics = \"{name}.mot\"\ncycle_starts_s = [0.0, {JAM_T}]\n"
        )
    };
    let cases: Vec<(&str, String, Option<String>, Vec<&str>)> = vec![
        (
            "outside",
            flexion("[0, 30, 60]"),
            None,
            vec![
                "flexion.secondary_kinematics",
                "passive.mot",
                "60°",
                "knee_flex_r",
                "0° to 45°",
            ],
        ),
        (
            "missing_file",
            flexion("[0, 30]").replace("passive.mot", "nope.mot"),
            None,
            vec!["flexion.secondary_kinematics", "nope.mot", "cannot read"],
        ),
        (
            "millimetres",
            gait("millimetres"),
            Some(ik_with_jam_columns(1000.0)),
            vec![
                "gait.kinematics",
                "millimetres.mot:",
                "knee_tx_r",
                "-30 to 30 mm",
                "metres",
            ],
        ),
        (
            "nan",
            gait("nan"),
            Some(nan),
            vec!["gait.kinematics", "nan.mot:", "knee_rot_r", "finite"],
        ),
        (
            "twice",
            gait("twice"),
            Some(good.replacen("knee_tz_r", "knee_rotation_r", 1)),
            vec![
                "gait.kinematics",
                "twice.mot",
                "knee_rotation_r",
                "knee_rot_r",
            ],
        ),
    ];
    for (name, toml, mot, expect) in cases {
        if let Some(mot) = mot {
            std::fs::write(dir.join(format!("{name}.mot")), mot).unwrap();
        }
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, toml).unwrap();
        let out = dir.join(format!("out-{name}"));
        let o = run_cli(&file, &out);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        for e in expect {
            assert!(err.contains(e), "{name}: `{e}` not in: {err}");
        }
        assert!(!out.exists());
    }
}

// ---------------------------------------------------------------- trochlear morph (mesh knee)

/// The morph machinery with nothing to do (zero amplitude) gives bit-identical frames to the
/// plain field; the default knee (no trochlear key) gets no morph at all.
#[test]
fn trochlear_morph_off_gives_identical_results() {
    use kneetrack::geometry::TrochlearMorph;
    let plain = Model::new(&ModelParams::default()).unwrap();
    let FemurGeometry::Mesh(sdf, info) = &plain.femur else {
        panic!("the default knee has no morph")
    };
    let mut zero = plain.clone();
    zero.femur = FemurGeometry::MeshMorphed(
        sdf.clone(),
        *info,
        std::sync::Arc::new(TrochlearMorph::new(0.0, info.groove_z)),
    );
    for deg in [0.0, 30.0, 60.0, 90.0] {
        let frame = |m: &Model| {
            let mut d = Data::new(m);
            experiment::approach(m, &mut d, knee(deg), QuadLoad::Force(400.0));
            step(
                m,
                &FrameInput::new(knee(deg), QuadLoad::Force(400.0)),
                &mut d,
            )
        };
        let (a, b) = (frame(&plain), frame(&zero));
        assert!(a.status.converged(), "{deg}°");
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{deg}°");
    }
}

/// A flatter trochlea on the real knee (sulcus angle 138 → 150°, dysplastic: Dejour 1994;
/// the morph flattens the lateral facet to an LTI of 10°, Carrillon 2000)
/// lets the patella sit further lateral at 20–30° of flexion under a 400 N quadriceps, as
/// clinically (lateral tracking with dysplasia); the requested angle is realised.
#[test]
fn flat_trochlea_on_the_mesh_knee_shifts_the_patella_laterally() {
    let mut flat = ModelParams::default();
    flat.subject.sulcus_angle_deg = 150.0;
    let m = Model::new(&flat).unwrap();
    let t = m.knee.trochlea.clone().unwrap();
    assert!((t.realised.sulcus_angle_deg - 150.0).abs() < 0.05, "{t:?}");
    assert!(
        t.realised.lateral_inclination_deg < 11.0 && t.realised.depth_mm < t.native.depth_mm,
        "{t:?}"
    );
    for deg in [20.0, 30.0] {
        let (_, _, n) = solved(&ModelParams::default(), deg, QuadLoad::Force(400.0));
        let (_, _, f) = solved(&flat, deg, QuadLoad::Force(400.0));
        assert!(n.status.converged() && f.status.converged(), "{deg}°");
        println!(
            "{deg}°: lateral shift {:.2} -> {:.2} mm, lateral force {:.1} -> {:.1} N, lateral share {:.3} -> {:.3}, tilt {:.2} -> {:.2}°",
            n.tracking.shift_mm,
            f.tracking.shift_mm,
            n.contact.lateral_force_n,
            f.contact.lateral_force_n,
            n.contact.lateral_share,
            f.contact.lateral_share,
            n.tracking.tilt.to_degrees(),
            f.tracking.tilt.to_degrees(),
        );
        assert!(f.tracking.tilt > n.tracking.tilt, "{deg}°: lateral tilt");
        assert!(
            f.tracking.shift_mm > n.tracking.shift_mm + 0.2,
            "{deg}°: lateral shift {} -> {}",
            n.tracking.shift_mm,
            f.tracking.shift_mm
        );
    }
}

/// Command-line arguments are read as the OS gives them: a file name that is not UTF-8 is
/// a file name (checked like any other, never a panic inside `std::env::args`); a worker
/// count far beyond the machine is an input error (exit 2, one line) and the sweep folder
/// is not touched.
#[test]
fn unusable_command_line_arguments_are_input_errors() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tmp("non-utf8");
    let name = std::ffi::OsStr::from_bytes(b"\xff.toml");
    std::fs::write(
        dir.join(name),
        "[scenario]\nkind = \"flexion\"\n[anatomy]\nmodel = \"parametric\"\n",
    )
    .unwrap();
    let o = bin().arg("check").arg(dir.join(name)).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // A missing one is the usual one-line read error.
    let o = bin()
        .arg("check")
        .arg(dir.join(std::ffi::OsStr::from_bytes(b"\xfe.toml")))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot read") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let dir = tmp("sweep-threads-bound");
    let file = sweep_files(&dir, VMO_Q_AXES, "");
    let out = dir.join("out");
    let o = sweep_cli(
        &file,
        &["--threads", "2000", "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--threads 2000: allowed 1 to"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!out.exists(), "nothing written");
}

/// The tibia never passes through the femoral cartilage: over 0–120° of flexion, with the
/// default seated secondary motion, every tibial bone vertex stays outside the femoral
/// cartilage surface (the tibial cartilage lies between them, so a touching joint leaves a
/// gap of its thickness).
#[test]
#[ignore = "known gap: seated, the least gap is +0.3 … +1.5 mm over 0–90° but falls to +0.1 at 100° and −0.2 mm at 120°: Walker's prescribed internal rotation (15°) stretches the Lenhart ligaments to ~1.7 kN at 120°, which presses the condyles through the thin rim of the tibial layer"]
fn seated_tibia_stays_clear_of_the_femoral_cartilage() {
    let m = Model::new(&ModelParams::default()).unwrap();
    let FemurGeometry::Mesh(sdf, info) = &m.femur else {
        panic!("the default knee is a mesh knee");
    };
    let knee = m.mesh.as_ref().unwrap();
    let tibia = &knee
        .surfaces
        .iter()
        .find(|s| s.name == "tibia")
        .expect("the Lenhart knee has a tibia bone")
        .mesh;
    let mut gaps = Vec::new();
    for deg in (0..=120).step_by(10) {
        let angles = KneeAngles {
            flexion: (deg as f64).to_radians(),
            ..Default::default()
        };
        let pose = kinematics(&m, &angles).femur_from_tibia;
        let worst = tibia
            .vertices
            .iter()
            .map(|v| {
                let p = pose * Point3::new(v[0], v[1], v[2]);
                sdf.sample(p.x, p.y, info.lat * p.z).trilinear
            })
            .fold(f64::INFINITY, f64::min);
        gaps.push((deg, worst));
    }
    println!("least tibia-to-femoral-cartilage gap, mm: {gaps:.2?}");
    for (deg, g) in gaps {
        assert!(
            g >= 0.0,
            "{deg}°: the tibia is {:.2} mm inside the femoral cartilage",
            -g
        );
    }
}

// ---------------------------------------------------------------- hostile OpenSim data

/// The shipped IK / ID pair's text.
fn shipped_opensim(file: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/data")
            .join(file),
    )
    .unwrap()
}

/// A two-cycle gait scenario on `ik` (and `id`), the shipped pair's cycle starts unless
/// `extra` sets them, 20 frames per cycle.
fn opensim_scenario(ik: &str, id: Option<&str>, extra: &str) -> String {
    let id = id.map_or(String::new(), |f| format!("kinetics = \"{f}\"\n"));
    let starts = if extra.contains("cycle_starts_s") {
        ""
    } else {
        "cycle_starts_s = [0.0, 0.69224, 1.38448]\n"
    };
    format!(
        "[scenario]\nkind = \"gait\"\n[gait]\nspeed_mps = 3.2\nkinematics = \"{ik}\"\n{id}\
         {starts}cycles = 2\nframes_per_cycle = 20\n{extra}"
    )
}

/// Each case (name, scenario text, data files to write, expected fragments) must fail
/// `check` and `run` alike: exit 2, one line containing every fragment, nothing written.
fn assert_rejected(dir: &Path, cases: &[(&str, String, Vec<(&str, String)>, Vec<&str>)]) {
    for (name, toml, files, expect) in cases {
        for (f, text) in files {
            std::fs::write(dir.join(f), text).unwrap();
        }
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, toml).unwrap();
        let out = dir.join(format!("out-{name}"));
        for cmd in ["check", "run"] {
            let mut c = bin();
            c.arg(cmd).arg(&file);
            if cmd == "run" {
                c.arg("--out").arg(&out);
            }
            let o = c.output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{name} {cmd}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{name} {cmd}: {err}");
            for e in expect {
                assert!(err.contains(e), "{name} {cmd}: `{e}` not in: {err}");
            }
        }
        assert!(!out.exists(), "{name}: output written");
    }
}

/// `check` passes the scenario (what `run` accepts).
fn assert_checks(file: &Path) {
    let o = bin().arg("check").arg(file).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// An ID (or IK) file that starts or ends inside the cycles used is refused, naming the
/// file, its time range and the range needed — never extrapolated with its end values.
/// Cycles the file does cover are fine.
#[test]
fn kinetics_not_covering_the_cycles_are_rejected() {
    let dir = tmp("opensim-coverage");
    let ik = shipped_opensim("runner_ik.mot");
    std::fs::write(dir.join("ik.mot"), &ik).unwrap();
    let id = shipped_opensim("runner_id.sto");
    let lines: Vec<&str> = id.lines().collect();
    let label = lines.iter().position(|l| l.starts_with("time")).unwrap();
    // Ends at row 102 (1.17681 s), inside the second cycle (0.69224…1.38448 s).
    let short = lines[..label + 104].join("\n");
    // Starts at row 10 (0.11537 s), inside the first cycle.
    let late = [&lines[..=label], &lines[label + 11..]].concat().join("\n");
    let cases = vec![
        (
            "short",
            opensim_scenario("ik.mot", Some("short.sto"), ""),
            vec![("short.sto", short.clone())],
            vec![
                "short.toml:6",
                "gait.kinetics",
                "short.sto",
                "cover 0 s to 1.1768",
                "need 0 s to 1.38448 s",
                "never extrapolated",
            ],
        ),
        (
            "late",
            opensim_scenario("ik.mot", Some("late.sto"), ""),
            vec![("late.sto", late)],
            vec![
                "gait.kinetics",
                "late.sto",
                "cover 0.1153",
                "need 0 s to 1.38448 s",
            ],
        ),
    ];
    assert_rejected(&dir, &cases);
    // One cycle (0…0.69224 s) is inside the short file.
    let one = dir.join("one.toml");
    std::fs::write(
        &one,
        opensim_scenario("ik.mot", Some("short.sto"), "").replace("cycles = 2", "cycles = 1"),
    )
    .unwrap();
    assert_checks(&one);
}

/// Cycle starts must be finite, inside the file, increasing and a plausible stride apart
/// (0.4–2.0 s); each error names the scenario line and key, the data file, the start and
/// the allowed range.
#[test]
fn implausible_cycle_starts_are_rejected() {
    let dir = tmp("opensim-starts");
    std::fs::write(dir.join("ik.mot"), shipped_opensim("runner_ik.mot")).unwrap();
    let case = |name: &'static str, starts: &str, expect: Vec<&'static str>| {
        (
            name,
            opensim_scenario("ik.mot", None, &format!("cycle_starts_s = {starts}\n")),
            vec![],
            expect,
        )
    };
    let cases = vec![
        case(
            "nan",
            "[nan, 1.0]",
            vec![
                "nan.toml:8",
                "gait.cycle_starts_s",
                "ik.mot",
                "#0 = NaN s",
                "finite",
                "0 to 2.065186039803865 s",
            ],
        ),
        case(
            "tiny",
            "[0.0, 1e-300]",
            vec![
                "gait.cycle_starts_s",
                "#1 = 1e-300 s",
                "1e-300 s cycle",
                "allowed 0.4 to 2 s",
            ],
        ),
        case(
            "backwards",
            "[1.0, 0.5]",
            vec!["gait.cycle_starts_s", "#1 = 0.5 s", "does not come after"],
        ),
        case(
            "outside",
            "[0.0, 0.69224, 3.0]",
            vec!["gait.cycle_starts_s", "#2 = 3 s", "outside the file"],
        ),
        case(
            "steps",
            "[0.0, 0.34612, 0.69224]",
            vec!["gait.cycle_starts_s", "#1 = 0.34612 s", "0.4 to 2 s"],
        ),
        case(
            "one",
            "[0.5]",
            vec!["gait.cycle_starts_s", "1 cycle start(s) given"],
        ),
    ];
    assert_rejected(&dir, &cases);
}

/// `inDegrees` other than `yes` / `no` (as OpenSim writes them) is an error naming the file
/// and header line, in the IK and the ID file alike — never read as radians.
#[test]
fn in_degrees_other_than_yes_or_no_is_rejected() {
    let dir = tmp("opensim-indegrees");
    let ik = shipped_opensim("runner_ik.mot");
    let id = shipped_opensim("runner_id.sto");
    std::fs::write(dir.join("ik.mot"), &ik).unwrap();
    let cases = vec![
        (
            "maybe",
            opensim_scenario("maybe.mot", None, ""),
            vec![("maybe.mot", ik.replace("inDegrees=yes", "inDegrees=maybe"))],
            vec![
                "gait.kinematics",
                "maybe.mot:5",
                "inDegrees=maybe",
                "`yes`",
                "`no`",
            ],
        ),
        (
            "capital",
            opensim_scenario("capital.mot", None, ""),
            vec![("capital.mot", ik.replace("inDegrees=yes", "inDegrees=Yes"))],
            vec!["capital.mot:5", "inDegrees=Yes", "lower case"],
        ),
        (
            "kinetics",
            opensim_scenario("ik.mot", Some("kinetics.sto"), ""),
            vec![("kinetics.sto", id.replace("inDegrees=no", "inDegrees="))],
            vec!["gait.kinetics", "kinetics.sto:5", "inDegrees="],
        ),
    ];
    assert_rejected(&dir, &cases);
}

/// A knee sign that makes the knee hyperextended for most of the file is refused with the
/// sign to set; joint angles beyond plausible ranges (here radians read as degrees, and one
/// bad hip value) are errors naming the file, line, column, value and range.
#[test]
fn wrong_knee_sign_and_implausible_angles_are_rejected() {
    let dir = tmp("opensim-angles");
    let ik = shipped_opensim("runner_ik.mot");
    std::fs::write(dir.join("ik.mot"), &ik).unwrap();
    assert!(ik.contains("\n0\t32\t4\t2\t-18\n"));
    let cases = vec![
        (
            "sign",
            opensim_scenario("ik.mot", None, "knee_sign = \"flexion_positive\"\n"),
            vec![],
            vec![
                "sign.toml:9",
                "gait.knee_sign",
                "ik.mot",
                "knee_angle_r",
                "flexion_positive (given)",
                "hyperextension",
                "set gait.knee_sign = \"flexion_negative\"",
            ],
        ),
        (
            "radians",
            opensim_scenario("radians.mot", None, ""),
            vec![("radians.mot", ik.replace("inDegrees=yes", "inDegrees=no"))],
            vec![
                "gait.kinematics",
                "radians.mot:8",
                "knee_angle_r",
                "allowed -20 to 160°",
                "inDegrees=no",
            ],
        ),
        (
            "hip",
            opensim_scenario("hip.mot", None, ""),
            vec![("hip.mot", ik.replacen("\n0\t32\t", "\n0\t200\t", 1))],
            vec![
                "hip.mot:8",
                "hip_flexion_r",
                "= 200°",
                "allowed -50 to 150°",
            ],
        ),
    ];
    assert_rejected(&dir, &cases);
    // The right sign, given, is accepted.
    let ok = dir.join("ok.toml");
    std::fs::write(
        &ok,
        opensim_scenario("ik.mot", None, "knee_sign = \"flexion_negative\"\n"),
    )
    .unwrap();
    assert_checks(&ok);
}

/// Frames without patellofemoral contact have no centre of pressure: frames.csv leaves the
/// cells empty (not `NaN`), and summary.json holds numbers only.
#[test]
fn frames_without_contact_leave_the_centre_of_pressure_empty() {
    let dir = tmp("no-contact");
    let file = dir.join("slack.toml");
    std::fs::write(
        &file,
        "[scenario]\nkind = \"flexion\"\n[anatomy]\nmodel = \"parametric\"\n[flexion]\n\
         angles_deg = [-5, 0, 30]\nquadriceps_n = 0\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = run_cli(&file, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    assert!(!csv.to_lowercase().contains("nan"), "{csv}");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let contact = col("contact_area_mm2");
    let mut empty = 0;
    for r in &rows {
        assert_eq!(r.len(), header.len());
        let area: f64 = r[contact].parse().unwrap();
        for c in ["cop_anterior_mm", "cop_proximal_mm", "cop_lateral_mm"] {
            let v = r[col(c)];
            if area == 0.0 {
                assert_eq!(v, "", "{c} without contact");
                empty += 1;
            } else {
                assert!(v.parse::<f64>().unwrap().is_finite(), "{c} = {v}");
            }
        }
    }
    assert!(empty > 0 && empty < 3 * rows.len(), "{csv}");
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for k in [
        "peak_pf_force_n",
        "lateral_share_at_peak",
        "contact_area_at_peak_mm2",
        "max_lateral_shift_mm",
    ] {
        assert!(
            json["metrics"][k].as_f64().is_some_and(f64::is_finite),
            "{k}: {text}"
        );
    }
}
