//! The rapier3d world of a dynamic run: the femur fixed, the tibia kinematic (posed each
//! substep by the kinematics stage), the patella a dynamic rigid body. World frame = the
//! femur frame, in metres (rapier's SI units; kneetrack's mm and N·mm are converted at this
//! boundary). Gravity is off: the patella's weight (~0.3 N) is small beside its tissues'
//! forces and its direction depends on the posture a scenario does not state.
//!
//! Bone-on-bone contact uses rapier's own collision pipeline on the bone meshes (patella
//! against femur and tibia; frictionless and inelastic, as wet bone and cartilage are), so a
//! patella pushed over the lateral condyle rides over it. The cartilage pair is not given to
//! rapier: the elastic foundation (the same kernel as the quasi-static solve) carries it.

use nalgebra::{Isometry3, Matrix3, Matrix6, Point3, Translation3, UnitQuaternion, Vector6};
use rapier3d_f64::prelude::*;

use crate::anatomy::mesh_knee::MeshKnee;
use crate::math::Vec3;
use crate::mesh::TriMesh as KneeMesh;
use crate::model::Model;
use crate::osim::KneeFrame;

/// Millimetres per metre.
const MM: f64 = 1000.0;

/// Mass properties of a body of uniform density bounded by a closed mesh (body frame, mm):
/// mass (kg), centre of mass (mm) and inertia tensor about it (kg·mm²), by the divergence
/// theorem over signed tetrahedra from the origin (Mirtich 1996 / Eberly's polyhedral mass
/// properties). The mesh must be closed and outward-wound (a bone mesh as loaded is).
pub fn mesh_mass_properties(
    vertices: &[[f64; 3]],
    triangles: &[[u32; 3]],
    density_kg_m3: f64,
) -> (f64, Vec3, Matrix3<f64>) {
    let rho = density_kg_m3 * 1e-9; // kg/mm³
    let mut vol = 0.0;
    let mut first = Vec3::zeros();
    // Second moments ∫ x_i x_j dV.
    let mut second = Matrix3::zeros();
    for t in triangles {
        let [a, b, c] = t.map(|i| Vec3::from(vertices[i as usize]));
        let v = a.dot(&b.cross(&c)) / 6.0;
        vol += v;
        first += v * (a + b + c) / 4.0;
        // ∫ over the tetrahedron (0, a, b, c) of x xᵀ = v/20 (Σ p pᵀ + (Σ p)(Σ p)ᵀ).
        let s = a + b + c;
        second += v / 20.0
            * (a * a.transpose() + b * b.transpose() + c * c.transpose() + s * s.transpose());
    }
    let com = first / vol;
    let mass = rho * vol;
    // Inertia about the origin: I = tr(S) 1 − S (times ρ); then to the centre of mass.
    let s = second * rho;
    let i_origin = Matrix3::identity() * s.trace() - s;
    let i_com = i_origin - mass * (Matrix3::identity() * com.dot(&com) - com * com.transpose());
    (mass, com, i_com)
}

fn to_vector(v: &Vec3) -> Vector {
    Vector::new(v.x, v.y, v.z)
}

fn from_vector(v: Vector) -> Vec3 {
    Vec3::new(v.x, v.y, v.z)
}

/// An isometry of the femur frame (mm) as a rapier pose (m).
pub fn to_pose(iso: &Isometry3<f64>) -> Pose {
    let q = iso.rotation.quaternion();
    let t = iso.translation.vector / MM;
    Pose::from_parts(
        Vector::new(t.x, t.y, t.z),
        Rotation::from_xyzw(q.i, q.j, q.k, q.w),
    )
}

/// A rapier pose (m) as an isometry of the femur frame (mm).
pub fn from_pose(p: &Pose) -> Isometry3<f64> {
    let r = p.rotation;
    Isometry3::from_parts(
        Translation3::from(from_vector(p.translation) * MM),
        UnitQuaternion::new_normalize(nalgebra::Quaternion::new(r.w, r.x, r.y, r.z)),
    )
}

/// The world and the handles of its three bodies.
pub struct KneeWorld {
    /// The rapier world (bodies, colliders, pipeline).
    pub world: PhysicsWorld,
    /// The patella: a dynamic body.
    pub patella: RigidBodyHandle,
    /// The tibia: a kinematic body posed every step.
    pub tibia: RigidBodyHandle,
    /// The patella's bone collider, if the knee has bone meshes.
    pub patella_collider: Option<ColliderHandle>,
    /// Patella mass (kg), centre of mass in the patella frame (mm), inertia about it (kg·mm²).
    pub mass_kg: f64,
    /// Patella centre of mass, patella frame, mm.
    pub com_mm: Vec3,
    /// Patella inertia tensor about its centre of mass, patella frame axes, kg·mm².
    pub inertia_kg_mm2: Matrix3<f64>,
}

/// Cell of the vertex clustering that coarsens the femur and tibia bone meshes for rapier's
/// contact search, mm. The bone contact is a backstop behind 4–5 mm of cartilage (or, past
/// the cartilage rim, behind the elastic foundation's own bone field); 1.5 mm of detail is
/// ample, and the 64,000-triangle femur falls to about a tenth (rapier's step: 0.45 ms →
/// see the closing figures in the README).
pub const COLLISION_CELL_MM: f64 = 3.0;

/// Vertex clustering (Rossignac & Borrel 1993): every vertex moves to the mean of the
/// vertices in its grid cell; triangles that collapse, and duplicates, are dropped.
/// Deterministic (cells are numbered in vertex order).
pub fn cluster(
    vertices: &[[f64; 3]],
    triangles: &[[u32; 3]],
    cell: f64,
) -> (Vec<[f64; 3]>, Vec<[u32; 3]>) {
    use std::collections::HashMap;
    let mut index: HashMap<[i64; 3], u32> = HashMap::new();
    let mut sum: Vec<([f64; 3], f64)> = Vec::new();
    let map: Vec<u32> = vertices
        .iter()
        .map(|p| {
            let key = p.map(|x| (x / cell).floor() as i64);
            let i = *index.entry(key).or_insert_with(|| {
                sum.push(([0.0; 3], 0.0));
                (sum.len() - 1) as u32
            });
            let s = &mut sum[i as usize];
            for k in 0..3 {
                s.0[k] += p[k];
            }
            s.1 += 1.0;
            i
        })
        .collect();
    let verts = sum.iter().map(|(s, n)| s.map(|x| x / n)).collect();
    let mut seen = std::collections::HashSet::new();
    let tris = triangles
        .iter()
        .map(|t| t.map(|i| map[i as usize]))
        .filter(|t| t[0] != t[1] && t[1] != t[2] && t[0] != t[2])
        .filter(|t| {
            let mut k = *t;
            k.sort_unstable();
            seen.insert(k)
        })
        .collect();
    (verts, tris)
}

/// How far the patella's collision hull may fall inside the convex hull of its (clustered)
/// bone mesh, mm. Rapier's contact search against a convex shape calls the shape's support
/// map many times per candidate femur triangle (GJK), and a convex polyhedron's support map
/// scans all its vertices: the full hull of the Lenhart patella has 308, and that scan was
/// the largest part of a rapier step. Half a millimetre is a third of what the 3 mm vertex
/// clustering already moves the surface, for a backstop behind 4–5 mm of cartilage; the
/// simplified hull keeps 83 vertices, and a moving patella's rapier step fell from 27 to
/// 12 µs (measured at 30° flexion, one core).
pub const HULL_TOLERANCE_MM: f64 = 0.5;

/// The convex hull of `points`, simplified greedily (the way incremental hull algorithms
/// grow, Clarkson & Shor 1989): start from the extreme points along the three axes, then
/// add the vertex of the full hull that lies farthest outside the current hull until none
/// lies more than `tolerance` outside any face plane. Deterministic (a fixed order, first
/// of equals). Returns the chosen vertices (a subset of the full hull's).
/// Input without a hull (fewer than three points) is returned as given (the collider's own
/// hull then fails as it would have without this step); a hull without volume (points on
/// one plane, where face planes cannot measure how far a point lies outside) is returned
/// whole.
pub fn simplified_hull(points: &[Vector], tolerance: f64) -> Vec<Vector> {
    use rapier3d_f64::parry::transformation::try_convex_hull;
    let Ok((full, faces)) = try_convex_hull(points) else {
        return points.to_vec();
    };
    // Volume and area of the full hull (divergence theorem over its faces): a hull thinner
    // than the tolerance has no volume to simplify.
    let (mut volume, mut area) = (0.0, 0.0);
    for f in &faces {
        let (a, b, c) = (
            full[f[0] as usize],
            full[f[1] as usize],
            full[f[2] as usize],
        );
        volume += a.dot(b.cross(c)) / 6.0;
        area += 0.5 * (b - a).cross(c - a).length();
    }
    if full.len() <= 4 || volume.abs() <= 0.5 * tolerance * area {
        return full;
    }
    // The chosen vertices (indices into `full`, in the order chosen) and which are.
    let (mut chosen, mut taken) = (Vec::new(), vec![false; full.len()]);
    for axis in 0..3 {
        let key = |i: &usize| full[*i][axis];
        let lo = (0..full.len()).min_by(|a, b| key(a).total_cmp(&key(b)));
        let hi = (0..full.len()).max_by(|a, b| key(a).total_cmp(&key(b)));
        for i in [lo, hi].into_iter().flatten() {
            if !std::mem::replace(&mut taken[i], true) {
                chosen.push(i);
            }
        }
    }
    loop {
        let pts: Vec<Vector> = chosen.iter().map(|&i| full[i]).collect();
        // (A hull of the chosen points fails only on an internal error: then add the next
        // vertex of the full hull not yet chosen.)
        let Ok((hv, hf)) = try_convex_hull(&pts) else {
            match (0..full.len()).find(|&i| !taken[i]) {
                Some(i) => {
                    taken[i] = true;
                    chosen.push(i);
                    continue;
                }
                None => return full,
            }
        };
        // Outward face planes (unit normal, offset); degenerate faces carry no plane.
        let planes: Vec<(Vector, f64)> = hf
            .iter()
            .filter_map(|f| {
                let (a, b, c) = (hv[f[0] as usize], hv[f[1] as usize], hv[f[2] as usize]);
                let n = (b - a).cross(c - a);
                let len = n.length();
                (len > 0.0).then(|| (n / len, (n / len).dot(a)))
            })
            .collect();
        let mut worst = (tolerance, None);
        for (i, p) in full.iter().enumerate() {
            let out = planes
                .iter()
                .fold(f64::NEG_INFINITY, |m, (n, d)| m.max(n.dot(*p) - d));
            if out > worst.0 && !taken[i] {
                worst = (out, Some(i));
            }
        }
        match worst.1 {
            Some(i) => {
                taken[i] = true;
                chosen.push(i);
            }
            None => return pts,
        }
        if chosen.len() == full.len() {
            return full;
        }
    }
}

/// Collision groups: femur, tibia and patella bones; only the patella meets the others.
const FEMUR: Group = Group::GROUP_1;
const TIBIA: Group = Group::GROUP_2;
const PATELLA: Group = Group::GROUP_3;

/// A bone's shape for rapier: the femur and tibia as their triangle meshes; the moving
/// patella as the convex hull of its bone mesh (`convex`): parry's mesh-against-mesh contact
/// search on the 64,000-triangle femur and 17,000-triangle patella took over a minute per
/// step here, convex-against-mesh is the fast path, and the patella bone is nearly convex
/// (the hull fills the shallow concavity of its facets, which the cartilage covers anyway).
/// World units (m), mirrored for a left knee (`lat` = −1).
fn bone_shape(m: &KneeMesh, lat: f64, convex: bool) -> Option<SharedShape> {
    let (verts, tris) = cluster(&m.vertices, &m.triangles, COLLISION_CELL_MM);
    // Only the side's sign counts (the cache has one slot per side).
    let mirror = if lat < 0.0 { -1.0 } else { 1.0 };
    // A left knee mirrors z: flip the winding so the mesh stays outward-wound.
    let v: Vec<Vector> = verts
        .iter()
        .map(|p| Vector::new(p[0] / MM, p[1] / MM, mirror * p[2] / MM))
        .collect();
    let t: Vec<[u32; 3]> = tris
        .iter()
        .map(|t| if lat < 0.0 { [t[0], t[2], t[1]] } else { *t })
        .collect();
    if convex {
        SharedShape::convex_hull(&simplified_hull(&v, HULL_TOLERANCE_MM / MM))
    } else {
        SharedShape::trimesh(v, t).ok()
    }
}

/// The bone shapes of a mesh knee for rapier's contact search (femur, tibia, patella; `None`
/// where the knee has no such bone mesh). Building them — clustering, the hull
/// simplification and the triangle meshes' bounding-volume hierarchies — takes ~20 ms, so
/// it happens once per knee and side (cached in the [`MeshKnee`]) and every dynamic run of
/// that knee shares them (shapes are reference-counted).
#[derive(Clone, Default)]
pub struct BoneShapes {
    /// The femur bone mesh, clustered (a triangle mesh; femur frame, m).
    pub femur: Option<SharedShape>,
    /// The tibia bone mesh, clustered (a triangle mesh; tibia frame, m).
    pub tibia: Option<SharedShape>,
    /// The patella bone's simplified convex hull (patella frame, m).
    pub patella: Option<SharedShape>,
}

impl std::fmt::Debug for BoneShapes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoneShapes")
            .field("femur", &self.femur.is_some())
            .field("tibia", &self.tibia.is_some())
            .field("patella", &self.patella.is_some())
            .finish()
    }
}

/// The cached [`BoneShapes`] of `knee` for side `lat` (+1 right, −1 left).
pub fn bone_shapes(knee: &MeshKnee, lat: f64) -> &BoneShapes {
    knee.bone_shapes[usize::from(lat < 0.0)].get_or_init(|| {
        let shape = |name, frame, convex| {
            knee.surface(name, frame)
                .and_then(|m| bone_shape(m, lat, convex))
        };
        BoneShapes {
            femur: shape("femur", KneeFrame::Femur, false),
            tibia: shape("tibia", KneeFrame::Tibia, false),
            patella: shape("patella", KneeFrame::Patella, true),
        }
    })
}

/// A bone collider: frictionless and inelastic (wet bone and cartilage), massless (the
/// patella's mass comes from its mesh), in the collision group `member` meeting `filter`.
fn collider(shape: &SharedShape, member: Group, filter: Group) -> Collider {
    ColliderBuilder::new(shape.clone())
        .density(0.0)
        .friction(0.0)
        .restitution(0.0)
        .collision_groups(InteractionGroups::new(
            member,
            filter,
            InteractionTestMode::And,
        ))
        .build()
}

impl KneeWorld {
    /// Builds the world for `model` with the patella at `femur_from_patella` and the tibia at
    /// `femur_from_tibia`, time step `dt_s`, body damping (1/s) and bone density (kg/m³);
    /// without `bone_contact` no collider is made.
    pub fn new(
        model: &Model,
        femur_from_patella: &Isometry3<f64>,
        femur_from_tibia: &Isometry3<f64>,
        dt_s: f64,
        linear_damping: f64,
        angular_damping: f64,
        density_kg_m3: f64,
        bone_contact: bool,
    ) -> Self {
        let mut world = PhysicsWorld::new();
        world.gravity = Vector::ZERO;
        world.integration_parameters.dt = dt_s;
        // One solver iteration = one substep: rapier then integrates the patella by
        // symplectic Euler under kneetrack's forces, evaluated at the step's start. Its
        // default four substeps hold those forces while the position moves within the step,
        // which is not symplectic: an undamped patella on its tendon gained 15 % energy in
        // one second. (One iteration also resolves the bone backstop's contacts less
        // exactly; it only acts when a patella rides off its cartilage.)
        world.integration_parameters.num_solver_iterations = 1;
        // Rapier's distances (contact prediction 0.02, slop 0.005, corrective speed 3.0) are
        // scaled by the world's typical length, 1 m by default: a 20 mm prediction band made
        // the narrow phase test the patella against every femur triangle within 20 mm. A
        // patella is ~40 mm across and moves < 0.1 mm per step: 1 cm as the unit gives a
        // 0.2 mm prediction band, a 0.05 mm slop and 3 cm/s of penetration recovery (rapier's
        // step 0.2 → 0.1 ms here).
        world.integration_parameters.length_unit = 0.01;
        // No silent speed cap (rapier clamps at 400 length units/s, 4 m/s at this unit): a
        // runaway patella must show as one, and `run_dynamic` stops it with a status.
        world.integration_parameters.normalized_max_linear_velocity = Real::MAX;
        let lat = model.lat;
        // Mass properties: the patella bone mesh, or (parametric knee) a box of the patella's
        // width, height and thickness.
        let patella_bone = model
            .mesh
            .as_ref()
            .and_then(|k| k.surface("patella", KneeFrame::Patella));
        let (mass_kg, com_mm, inertia_kg_mm2) = match patella_bone {
            Some(m) => {
                let mirrored: Vec<[f64; 3]> = m
                    .vertices
                    .iter()
                    .map(|p| [p[0], p[1], lat * p[2]])
                    .collect();
                let tris: Vec<[u32; 3]> = m
                    .triangles
                    .iter()
                    .map(|t| if lat < 0.0 { [t[0], t[2], t[1]] } else { *t })
                    .collect();
                mesh_mass_properties(&mirrored, &tris, density_kg_m3)
            }
            None => {
                let s = &model.params.subject;
                let (w, h, d) = (
                    s.patella_width_mm,
                    s.patella_height_mm,
                    s.patella_thickness_mm,
                );
                let mass = density_kg_m3 * 1e-9 * w * h * d;
                let i = Matrix3::from_diagonal(&Vec3::new(
                    mass * (h * h + w * w) / 12.0,
                    mass * (d * d + w * w) / 12.0,
                    mass * (d * d + h * h) / 12.0,
                ));
                // The box sits anterior of the articular surface.
                (mass, Vec3::new(d / 2.0, 0.0, 0.0), i)
            }
        };
        let eig = inertia_kg_mm2.symmetric_eigen();
        let frame = UnitQuaternion::from_matrix(&eig.eigenvectors);
        let frame = if eig.eigenvectors.determinant() < 0.0 {
            UnitQuaternion::from_matrix(&(-eig.eigenvectors))
        } else {
            frame
        };
        let q = frame.quaternion();
        let props = MassProperties::with_principal_inertia_frame(
            to_vector(&(com_mm / MM)),
            mass_kg,
            to_vector(&(eig.eigenvalues / (MM * MM))),
            Rotation::from_xyzw(q.i, q.j, q.k, q.w),
        );
        let femur = world.bodies.insert(RigidBodyBuilder::fixed().build());
        let tibia = world.bodies.insert(
            RigidBodyBuilder::kinematic_position_based()
                .pose(to_pose(femur_from_tibia))
                .build(),
        );
        let patella = world.bodies.insert(
            RigidBodyBuilder::dynamic()
                .pose(to_pose(femur_from_patella))
                .additional_mass_properties(props)
                .linear_damping(linear_damping)
                .angular_damping(angular_damping)
                // The patella's inertia is far from isotropic: keep the gyroscopic term.
                .gyroscopic_forces_enabled(true)
                .can_sleep(false)
                .build(),
        );
        let none = BoneShapes::default();
        let shapes = match (&model.mesh, bone_contact) {
            (Some(knee), true) => bone_shapes(knee, lat),
            _ => &none,
        };
        let mut insert = |shape: &Option<SharedShape>, member, filter, body| {
            shape.as_ref().map(|s| {
                world.colliders.insert_with_parent(
                    collider(s, member, filter),
                    body,
                    &mut world.bodies,
                )
            })
        };
        insert(&shapes.femur, FEMUR, PATELLA, femur);
        insert(&shapes.tibia, TIBIA, PATELLA, tibia);
        let patella_collider = insert(&shapes.patella, PATELLA, FEMUR | TIBIA, patella);
        Self {
            world,
            patella,
            tibia,
            patella_collider,
            mass_kg,
            com_mm,
            inertia_kg_mm2,
        }
    }

    /// The patella pose (femur frame, mm).
    pub fn patella_pose(&self) -> Isometry3<f64> {
        from_pose(self.world.bodies[self.patella].position())
    }

    /// The patella's linear velocity of its frame origin (mm/s) and angular velocity (rad/s),
    /// femur frame.
    pub fn patella_velocity(&self) -> (Vec3, Vec3) {
        let b = &self.world.bodies[self.patella];
        let w = from_vector(b.angvel());
        let v_com = from_vector(b.linvel()) * MM;
        let pose = self.patella_pose();
        let com = pose * Point3::from(self.com_mm);
        // v_origin = v_com + ω × (origin − com)
        let v = v_com + w.cross(&(pose.translation.vector - com.coords));
        (v, w)
    }

    /// Sets the patella's velocity: its frame origin's (mm/s) and the angular velocity
    /// (rad/s), femur frame — the inverse of [`Self::patella_velocity`].
    pub fn set_patella_velocity(&mut self, v_origin: &Vec3, omega: &Vec3) {
        let pose = self.patella_pose();
        let com = pose * Point3::from(self.com_mm);
        // v_com = v_origin + ω × (com − origin)
        let v_com = v_origin + omega.cross(&(com.coords - pose.translation.vector));
        let b = &mut self.world.bodies[self.patella];
        b.set_linvel(to_vector(&(v_com / MM)), true);
        b.set_angvel(to_vector(omega), true);
    }

    /// The patella's mass matrix in kneetrack's generalised velocity — its frame origin's
    /// velocity (mm/s) and the angular velocity (rad/s), femur frame — at its current pose,
    /// in N·s²/mm (so that `M·ξ̇` is the force, N, and the moment about the origin, N·mm):
    ///
    /// ```text
    /// M = [ m·1        −m·[r]×          ]     r = centre of mass − origin (femur frame)
    ///     [ m·[r]×     I_c − m·[r]×[r]× ]     I_c = R·I_body·Rᵀ about the centre of mass
    /// ```
    ///
    /// (½ ξᵀ M ξ is the kinetic energy; the factor 1/1000 turns kg·mm/s² into N.)
    pub fn mass_matrix(&self) -> Matrix6<f64> {
        let pose = self.patella_pose();
        let rot = pose.rotation.to_rotation_matrix();
        let r = rot * self.com_mm;
        let rx = r.cross_matrix();
        let m = self.mass_kg;
        let i_c = rot.matrix() * self.inertia_kg_mm2 * rot.matrix().transpose();
        let mut out = Matrix6::zeros();
        out.fixed_view_mut::<3, 3>(0, 0)
            .copy_from(&(Matrix3::identity() * m));
        out.fixed_view_mut::<3, 3>(0, 3).copy_from(&(-m * rx));
        out.fixed_view_mut::<3, 3>(3, 0).copy_from(&(m * rx));
        out.fixed_view_mut::<3, 3>(3, 3)
            .copy_from(&(i_c - m * rx * rx));
        out / MM
    }

    /// The generalised velocity (origin mm/s, rad/s) as one vector.
    pub fn patella_twist(&self) -> Vector6<f64> {
        let (v, w) = self.patella_velocity();
        Vector6::new(v.x, v.y, v.z, w.x, w.y, w.z)
    }

    /// Kinetic energy of the patella, J.
    pub fn kinetic_energy(&self) -> f64 {
        self.world.bodies[self.patella].kinetic_energy()
    }

    /// Poses the tibia for the next step.
    pub fn set_tibia(&mut self, femur_from_tibia: &Isometry3<f64>) {
        self.world.bodies[self.tibia].set_next_kinematic_position(to_pose(femur_from_tibia));
    }

    /// Replaces the patella's external load: force (N, femur frame) at its origin and moment
    /// about its origin (N·mm).
    pub fn set_patella_load(&mut self, force: &Vec3, moment_nmm: &Vec3) {
        let pose = self.patella_pose();
        let com = pose * Point3::from(self.com_mm);
        // Moment about the centre of mass, N·m: M_origin + (origin − com) × F.
        let arm_m = (pose.translation.vector - com.coords) / MM;
        let torque = moment_nmm / MM + arm_m.cross(force);
        let b = &mut self.world.bodies[self.patella];
        b.reset_forces(false);
        b.reset_torques(false);
        b.add_force(to_vector(force), true);
        b.add_torque(to_vector(&torque), true);
    }

    /// Total normal force of rapier's bone contacts on the patella in the last step, N.
    pub fn bone_contact_n(&self) -> f64 {
        let Some(c) = self.patella_collider else {
            return 0.0;
        };
        let dt = self.world.integration_parameters.dt;
        self.world
            .narrow_phase
            .contact_pairs_with(c)
            .map(|p| p.total_impulse_magnitude() / dt)
            .sum()
    }

    /// Advances one time step.
    pub fn step(&mut self) {
        self.world.step();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The simplified hull keeps a subset of the full hull's vertices, far fewer of them,
    /// and no vertex of the full hull lies more than the tolerance outside it.
    #[test]
    fn simplified_hull_stays_within_its_tolerance() {
        // 2,000 points on an ellipsoid of 20 × 15 × 10 (a patella's size), golden spiral.
        let n = 2000;
        let pts: Vec<Vector> = (0..n)
            .map(|i| {
                let z = 1.0 - 2.0 * (i as f64 + 0.5) / n as f64;
                let r = (1.0 - z * z).sqrt();
                let phi = i as f64 * std::f64::consts::PI * (3.0 - 5f64.sqrt());
                Vector::new(20.0 * r * phi.cos(), 15.0 * r * phi.sin(), 10.0 * z)
            })
            .collect();
        let (full, _) = rapier3d_f64::parry::transformation::convex_hull(&pts);
        let tol = 0.5;
        let simple = simplified_hull(&pts, tol);
        assert!(
            simple.len() * 4 < full.len(),
            "{} of {}",
            simple.len(),
            full.len()
        );
        assert!(simple.iter().all(|p| full.contains(p)));
        let (hv, hf) = rapier3d_f64::parry::transformation::convex_hull(&simple);
        let worst = full
            .iter()
            .map(|p| {
                hf.iter()
                    .filter_map(|f| {
                        let (a, b, c) = (hv[f[0] as usize], hv[f[1] as usize], hv[f[2] as usize]);
                        let n = (b - a).cross(c - a);
                        (n.length() > 0.0).then(|| n.normalize().dot(*p - a))
                    })
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(worst <= tol, "{worst}");
    }

    /// Degenerate input (too few points, all on one plane) gives no panic.
    #[test]
    fn simplified_hull_survives_degenerate_input() {
        let flat: Vec<Vector> = (0..20)
            .map(|i| Vector::new((i % 5) as f64, (i / 5) as f64, 0.0))
            .collect();
        // On one plane the hull is kept whole: a 12-gon of radius 100 keeps its 12 corners.
        let circle: Vec<Vector> = (0..12)
            .map(|i| {
                let a = i as f64 * std::f64::consts::TAU / 12.0;
                Vector::new(100.0 * a.cos(), 100.0 * a.sin(), 0.0)
            })
            .collect();
        assert_eq!(simplified_hull(&circle, 0.5).len(), 12);
        assert!(!simplified_hull(&flat, 0.5).is_empty());
        assert_eq!(simplified_hull(&flat[..2], 0.5).len(), 2);
        assert!(SharedShape::convex_hull(&simplified_hull(&flat[..2], 0.5)).is_none());
    }

    /// A cube's mass properties come out exact (and independent of where it sits).
    #[test]
    fn cube_mass_properties_are_exact() {
        let v: Vec<[f64; 3]> = (0..8)
            .map(|i| {
                [
                    10.0 + 20.0 * (i & 1) as f64,
                    -5.0 + 20.0 * ((i >> 1) & 1) as f64,
                    3.0 + 20.0 * ((i >> 2) & 1) as f64,
                ]
            })
            .collect();
        // Outward-wound faces of the cube (two triangles each).
        let quads = [
            [0, 2, 3, 1],
            [4, 5, 7, 6],
            [0, 1, 5, 4],
            [2, 6, 7, 3],
            [0, 4, 6, 2],
            [1, 3, 7, 5],
        ];
        let t: Vec<[u32; 3]> = quads
            .iter()
            .flat_map(|q| [[q[0], q[1], q[2]], [q[0], q[2], q[3]]])
            .collect();
        let (m, com, i) = mesh_mass_properties(&v, &t, 1000.0);
        assert!((m - 8000.0 * 1e-6).abs() < 1e-12, "{m}");
        assert!((com - Vec3::new(20.0, 5.0, 13.0)).norm() < 1e-9, "{com}");
        let expect = m * (20.0 * 20.0 + 20.0 * 20.0) / 12.0;
        for k in 0..3 {
            assert!((i[(k, k)] - expect).abs() < 1e-9 * expect, "{i}");
        }
        assert!(i[(0, 1)].abs() < 1e-9 * expect);
    }
}
