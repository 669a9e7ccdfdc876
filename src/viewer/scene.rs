//! The 3D scene: meshes from the solver's own geometry, tissue lines and force arrows, posed
//! every frame from the recording. On a mesh knee (the default Lenhart 2015 knee) these are
//! the model's bone meshes (femur and patella translucent, the tibia posed by
//! `femur_from_tibia`), the femoral cartilage, and the patella cartilage mesh whose triangles
//! are the contact elements, coloured per triangle by pressure. On the parametric knee they
//! are the analytic femoral surface, the patella's element grid and a schematic tibia. The
//! bone meshes are built once per knee (and kept across re-solves); a displayed frame only
//! poses bodies and rewrites the articular colours. Everything is built in the femur frame
//! (mm) under one root whose transform maps it to Bevy: femur X (anterior) → +Z, Y
//! (proximal) → +Y, Z (lateral for a right knee) → −X, so a right knee seen from the front
//! has its lateral side on the viewer's left, as in the clinic; 1 unit = 100 mm.

use std::f32::consts::FRAC_PI_2;

use std::sync::Arc;

use bevy::asset::RenderAssetUsages;
use bevy::mesh::{Indices, PrimitiveTopology, VertexAttributeValues};
use bevy::prelude::*;
use bevy::render::render_resource::Face;
use nalgebra::{Isometry3, Point3};

use super::{Playback, Session};
use crate::anatomy::mesh_knee::MeshKnee;
use crate::experiment::record::{RecordedFrame, Recording};
use crate::geometry::FemoralSurface;
use crate::math::Vec3 as V3;
use crate::mesh::TriMesh;
use crate::model::Model;
use crate::osim::KneeFrame;
use crate::output::svg::pressure_rgb;
use crate::tissues::Anchor;

/// Display offset of the parametric patella's articular surface, mm anterior (see
/// `articular_mesh`), and the least lift of a mesh knee's patella cartilage (see
/// `mesh_lift_mm`): the drawing must clear the femoral surface the elements overlap.
pub const ARTICULAR_LIFT_MM: f32 = 1.5;
/// Scene units per mm.
pub const UNITS_PER_MM: f32 = 0.01;
/// Tension at the top of the tissue colour scale, N (fixed, so colours compare across
/// frames and settings).
pub const TISSUE_SCALE_MAX_N: f64 = 2000.0;
/// PF contact-force arrow length per kN, mm.
pub const CONTACT_ARROW_MM_PER_KN: f64 = 15.0;
/// Lateral-force arrow length per kN, mm (longer: the lateral force is a fraction of the
/// total).
pub const LATERAL_ARROW_MM_PER_KN: f64 = 60.0;

pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<KneeMeshCache>()
            .add_systems(Startup, (setup_lights, build_scene))
            .add_systems(Update, (rebuild_scene, pose_scene).chain());
    }
}

/// Root of everything in the femur frame.
#[derive(Component)]
pub(crate) struct KneeRoot;

#[derive(Component)]
struct PatellaBody;

#[derive(Component)]
struct TibiaBody;

/// Tissue line `index` of the recording (`usize::MAX` = gluteus medius).
#[derive(Component)]
struct TissueSegment {
    index: usize,
}

#[derive(Component, Clone, Copy, PartialEq, Eq)]
enum Arrow {
    ContactShaft,
    ContactHead,
    LateralShaft,
    LateralHead,
}

/// Handles the per-frame update needs, and what it last showed.
#[derive(Resource)]
pub(crate) struct SceneHandles {
    articular: Handle<Mesh>,
    /// Vertices per contact element in `articular`: 1 on the parametric grid (one vertex per
    /// element), 3 on a mesh knee (unshared vertices: triangle i = element i).
    vertices_per_element: usize,
    /// Contact elements coloured.
    elements: usize,
    shown: Option<(usize, u64)>,
    /// Bumped when the recording changes.
    pub generation: u64,
}

/// The bone and cartilage meshes of the mesh knee last shown, built once and kept across
/// re-solves (a slider never changes a mesh knee's surfaces).
#[derive(Resource, Default)]
struct KneeMeshCache {
    knee: Option<(Arc<MeshKnee>, f64)>,
    /// Per display surface: its frame, its name, the mesh.
    surfaces: Vec<(KneeFrame, String, Handle<Mesh>)>,
}

/// Colour of a tissue tension on the fixed scale: grey when slack, to orange and red.
pub fn tissue_color(force_n: f64) -> Color {
    let t = (force_n / TISSUE_SCALE_MAX_N).clamp(0.0, 1.0) as f32;
    if force_n <= 0.5 {
        return Color::srgb(0.55, 0.55, 0.6);
    }
    Color::srgb(0.95, 0.75 - 0.6 * t, 0.25 - 0.2 * t)
}

/// Line radius for a tension, mm.
fn tissue_radius(force_n: f64) -> f32 {
    (0.5 + 1.6 * (force_n.max(0.0) / TISSUE_SCALE_MAX_N).sqrt().min(1.5)) as f32
}

pub(crate) fn to_vec3(v: &V3) -> Vec3 {
    Vec3::new(v.x as f32, v.y as f32, v.z as f32)
}

fn to_transform(iso: &Isometry3<f64>) -> Transform {
    let q = iso.rotation.quaternion();
    Transform {
        translation: to_vec3(&iso.translation.vector),
        rotation: Quat::from_xyzw(q.i as f32, q.j as f32, q.k as f32, q.w as f32),
        scale: Vec3::ONE,
    }
}

/// The root transform (femur frame mm → scene).
pub(crate) fn root_transform() -> Transform {
    Transform {
        translation: Vec3::ZERO,
        rotation: Quat::from_rotation_y(-FRAC_PI_2),
        scale: Vec3::splat(UNITS_PER_MM),
    }
}

/// A unit cylinder (radius 1, height 1 along Y) placed from `a` to `b` with `radius`.
fn segment(a: Vec3, b: Vec3, radius: f32) -> Transform {
    let d = b - a;
    let len = d.length().max(1e-3);
    Transform {
        translation: (a + b) * 0.5,
        rotation: Quat::from_rotation_arc(Vec3::Y, d / len),
        scale: Vec3::new(radius, len, radius),
    }
}

fn setup_lights(mut commands: Commands) {
    commands.insert_resource(GlobalAmbientLight {
        color: Color::WHITE,
        brightness: 350.0,
        ..default()
    });
    commands.spawn((
        DirectionalLight {
            illuminance: 9000.0,
            ..default()
        },
        Transform::from_xyz(2.0, 4.0, 5.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.spawn((
        DirectionalLight {
            illuminance: 3000.0,
            ..default()
        },
        Transform::from_xyz(-3.0, -1.0, -2.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
}

fn material(
    materials: &mut Assets<StandardMaterial>,
    color: Color,
    alpha: f32,
) -> Handle<StandardMaterial> {
    materials.add(StandardMaterial {
        base_color: color.with_alpha(alpha),
        alpha_mode: if alpha < 1.0 {
            AlphaMode::Blend
        } else {
            AlphaMode::Opaque
        },
        cull_mode: None,
        double_sided: true,
        perceptual_roughness: 0.7,
        ..default()
    })
}

/// A translucent closed bone: only its faces toward the viewer are drawn (the loader winds
/// closed meshes outward), so whatever is inside or behind it is washed by one layer, not two.
fn shell_material(
    materials: &mut Assets<StandardMaterial>,
    color: Color,
    alpha: f32,
) -> Handle<StandardMaterial> {
    materials.add(StandardMaterial {
        base_color: color.with_alpha(alpha),
        alpha_mode: AlphaMode::Blend,
        cull_mode: Some(Face::Back),
        perceptual_roughness: 0.7,
        ..default()
    })
}

/// The parametric femoral articular surface, tessellated from the solver's own surface.
fn femur_mesh(femur: &FemoralSurface, lat: f64) -> Mesh {
    let (t0, t1, nt) = (-40f64, 130f64, 86usize);
    let (u0, u1, nu) = (-32f64, 38f64, 71usize);
    let mut pos = Vec::with_capacity(nt * nu);
    for i in 0..nt {
        let th = (t0 + (t1 - t0) * i as f64 / (nt - 1) as f64).to_radians();
        for j in 0..nu {
            let u = u0 + (u1 - u0) * j as f64 / (nu - 1) as f64;
            let p = femur.point(th, u);
            pos.push([p.x as f32, p.y as f32, p.z as f32]);
        }
    }
    let mut idx = Vec::new();
    for i in 0..nt - 1 {
        for j in 0..nu - 1 {
            let a = (i * nu + j) as u32;
            let (b, c, d) = (a + 1, a + nu as u32, a + nu as u32 + 1);
            if lat > 0.0 {
                idx.extend_from_slice(&[a, b, c, b, d, c]);
            } else {
                idx.extend_from_slice(&[a, c, b, b, c, d]);
            }
        }
    }
    let mut m = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, pos)
    .with_inserted_indices(Indices::U32(idx));
    m.compute_normals();
    m
}

/// The patella's articular surface: a continuous mesh through the contact elements'
/// centroids (they lie on a regular grid in the patella's y–z plane), one vertex per
/// element coloured by its pressure.
fn articular_mesh(model: &Model, pressure: &[f64]) -> Mesh {
    let p = &model.patella;
    let s = p.element_size;
    let (ymin, zmin) = (0..p.len()).fold((f64::MAX, f64::MAX), |a, i| {
        (a.0.min(p.y[i]), a.1.min(p.z[i]))
    });
    let cell = |i: usize| {
        (
            ((p.y[i] - ymin) / s).round() as i64,
            ((p.z[i] - zmin) / s).round() as i64,
        )
    };
    let index: std::collections::HashMap<(i64, i64), u32> =
        (0..p.len()).map(|i| (cell(i), i as u32)).collect();
    // Drawn ARTICULAR_LIFT_MM anterior of the elements: the elements in contact overlap the
    // femoral surface by the cartilage deformation, which would hide them behind it.
    let pos: Vec<[f32; 3]> = (0..p.len())
        .map(|i| {
            [
                p.x[i] as f32 + ARTICULAR_LIFT_MM,
                p.y[i] as f32,
                p.z[i] as f32,
            ]
        })
        .collect();
    let mut idx = Vec::with_capacity(6 * p.len());
    for i in 0..p.len() {
        let (a, b) = cell(i);
        if let (Some(&q1), Some(&q2), Some(&q3)) = (
            index.get(&(a + 1, b)),
            index.get(&(a, b + 1)),
            index.get(&(a + 1, b + 1)),
        ) {
            idx.extend_from_slice(&[i as u32, q1, q3, i as u32, q3, q2]);
        }
    }
    let mut m = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, pos)
    .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, pressure_colors(pressure, p.len(), 1))
    .with_inserted_indices(Indices::U32(idx));
    m.compute_normals();
    m
}

/// A knee-frame surface of a mesh knee as a Bevy mesh (mm, in its frame). The loader winds
/// closed bones outward and the cartilage sheets toward their articular side; a left knee
/// (`lat` = −1) mirrors z, and its winding with it.
fn surface_mesh(m: &TriMesh, lat: f64) -> Mesh {
    let pos: Vec<[f32; 3]> = m
        .vertices
        .iter()
        .map(|v| [v[0] as f32, v[1] as f32, (lat * v[2]) as f32])
        .collect();
    let idx: Vec<u32> = m
        .triangles
        .iter()
        .flat_map(|t| if lat > 0.0 { *t } else { [t[0], t[2], t[1]] })
        .collect();
    let mut mesh = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, pos)
    .with_inserted_indices(Indices::U32(idx));
    mesh.compute_normals();
    mesh
}

/// How far a mesh knee's patella cartilage is drawn into the patella (away from the femur),
/// mm. Elements in contact overlap the femoral cartilage by the layers' deformation, which
/// on the real knee's thick, soft layers reaches about 4 mm at the pressure scale's top;
/// any part of the drawing left inside the femoral cartilage is washed out by it (seen
/// from the front, the translucent cartilage lies in front of it). A lift estimated from
/// the contact law and the mean layer thickness falls short where the layers are thicker
/// than the mean, so the lift is the deepest overlap in the recording itself, measured
/// with the solver's own femoral surface at the recorded poses (only elements under
/// pressure), plus half a millimetre; never less than [`ARTICULAR_LIFT_MM`]. Computed once
/// per recording (when the scene is built), not per displayed frame.
fn mesh_lift_mm(model: &Model, rec: &Recording) -> f32 {
    let pm = &model.patella;
    let mut deepest = 0f64;
    for f in &rec.frames {
        let pose = f.result.femur_from_patella;
        for (i, _) in f.pressure.iter().enumerate().filter(|(_, &p)| p > 0.0) {
            if i >= pm.len() {
                break;
            }
            let q = pose * Point3::new(pm.x[i], pm.y[i], pm.z[i]);
            deepest = deepest.max(-model.femur.distance(&q.coords).gap);
        }
    }
    ARTICULAR_LIFT_MM.max(deepest as f32 + 0.5)
}

/// The patella cartilage of a mesh knee (patella frame): its triangles are the contact
/// elements, each drawn with its own three vertices so it takes its element's pressure
/// colour. Every vertex is moved `lift` mm against its (area-weighted) normal — the
/// normals face the femur, so this is into the patella, toward anterior — as
/// `articular_mesh` lifts the parametric elements by [`ARTICULAR_LIFT_MM`]; along the normal
/// the lift clears an overlap of the same depth on the inclined facets too, and shared
/// vertices move together (no cracks). Winding as loaded (facing the femur).
fn mesh_articular(knee: &MeshKnee, lat: f64, lift: f32, pressure: &[f64]) -> Mesh {
    let v = &knee.patella_vertices;
    let tris = &knee.patella_triangles;
    let mut normal = vec![[0f64; 3]; v.len()];
    for t in tris {
        let [a, b, c] = t.map(|i| v[i as usize]);
        let (e1, e2) = (
            [b[0] - a[0], b[1] - a[1], b[2] - a[2]],
            [c[0] - a[0], c[1] - a[1], c[2] - a[2]],
        );
        // Twice the area times the unit normal: an area-weighted sum.
        let n = [
            e1[1] * e2[2] - e1[2] * e2[1],
            e1[2] * e2[0] - e1[0] * e2[2],
            e1[0] * e2[1] - e1[1] * e2[0],
        ];
        for &i in t {
            for k in 0..3 {
                normal[i as usize][k] += n[k];
            }
        }
    }
    let lifted: Vec<[f32; 3]> = v
        .iter()
        .zip(&normal)
        .map(|(p, n)| {
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            let s = if len > 0.0 { lift as f64 / len } else { 0.0 };
            [
                (p[0] - s * n[0]) as f32,
                (p[1] - s * n[1]) as f32,
                (lat * (p[2] - s * n[2])) as f32,
            ]
        })
        .collect();
    let n = tris.len();
    let mut pos = Vec::with_capacity(3 * n);
    for t in tris {
        let order = if lat > 0.0 { [0, 1, 2] } else { [0, 2, 1] };
        pos.extend(order.map(|k| lifted[t[k] as usize]));
    }
    let mut m = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, pos)
    .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, pressure_colors(pressure, n, 3));
    m.compute_flat_normals();
    m
}

/// Linear RGBA of a pressure on the fixed scale; out of contact = cartilage grey.
fn pressure_rgba(p: f64) -> [f32; 4] {
    let [r, g, b] = if p > 0.0 {
        pressure_rgb(p)
    } else {
        [150, 146, 140]
    };
    let lin = Color::srgb_u8(r, g, b).to_linear();
    [lin.red, lin.green, lin.blue, 1.0]
}

/// Vertex colours of `elements` elements, `per_element` vertices each, on the fixed pressure
/// scale (elements beyond `pressure` show out of contact).
fn pressure_colors(pressure: &[f64], elements: usize, per_element: usize) -> Vec<[f32; 4]> {
    let mut c = Vec::with_capacity(elements * per_element);
    fill_pressure_colors(&mut c, pressure, elements, per_element);
    c
}

/// [`pressure_colors`] into an existing buffer (the per-frame update: no allocation).
fn fill_pressure_colors(
    c: &mut Vec<[f32; 4]>,
    pressure: &[f64],
    elements: usize,
    per_element: usize,
) {
    c.clear();
    for i in 0..elements {
        let rgba = pressure_rgba(pressure.get(i).copied().unwrap_or(0.0));
        c.extend(std::iter::repeat_n(rgba, per_element));
    }
}

fn build_scene(
    mut commands: Commands,
    session: Res<Session>,
    mut cache: ResMut<KneeMeshCache>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    spawn_scene(
        &mut commands,
        &session,
        &mut cache,
        &mut meshes,
        &mut materials,
        0,
    );
}

/// The mesh knee's display surfaces as Bevy meshes, built on first use and reused while the
/// knee (and side) stays the same.
fn knee_surfaces(
    cache: &mut KneeMeshCache,
    knee: &Arc<MeshKnee>,
    lat: f64,
    meshes: &mut Assets<Mesh>,
) -> Vec<(KneeFrame, String, Handle<Mesh>)> {
    let same = matches!(&cache.knee, Some((k, l)) if Arc::ptr_eq(k, knee) && *l == lat);
    if !same {
        cache.surfaces = knee
            .surfaces
            .iter()
            .map(|s| {
                (
                    s.frame,
                    s.name.clone(),
                    meshes.add(surface_mesh(&s.mesh, lat)),
                )
            })
            .collect();
        cache.knee = Some((Arc::clone(knee), lat));
    }
    cache.surfaces.clone()
}

/// Spawns the whole scene for the current recording.
fn spawn_scene(
    commands: &mut Commands,
    session: &Session,
    cache: &mut KneeMeshCache,
    meshes: &mut Assets<Mesh>,
    materials: &mut Assets<StandardMaterial>,
    generation: u64,
) {
    let model = &session.current_compiled.model;
    let rec = &session.current;
    let bone = Color::srgb(0.86, 0.82, 0.74);
    let bone_mat = material(materials, bone, 1.0);
    let unit_cyl = meshes.add(Cylinder::new(1.0, 1.0));
    let unit_cone = meshes.add(Cone {
        radius: 1.0,
        height: 1.0,
    });
    let first = rec.frames.first().map(|f| f.pressure.as_slice());
    let n_elements = model.patella.len();
    // A mesh knee whose patella cartilage triangles are the contact elements (always, as
    // `Model::new` builds them; checked so a mismatch falls back to no mesh drawing).
    let knee = model
        .mesh
        .as_ref()
        .filter(|k| k.patella_triangles.len() == n_elements);
    let (articular, vertices_per_element) = match knee {
        Some(k) => (
            meshes.add(mesh_articular(
                k,
                model.lat,
                mesh_lift_mm(model, rec),
                first.unwrap_or(&[]),
            )),
            3,
        ),
        None => (
            meshes.add(articular_mesh(
                model,
                first.unwrap_or(&vec![0.0; n_elements]),
            )),
            1,
        ),
    };
    commands.insert_resource(SceneHandles {
        articular: articular.clone(),
        vertices_per_element,
        elements: n_elements,
        shown: None,
        generation,
    });
    let surfaces = match knee {
        Some(k) => knee_surfaces(cache, k, model.lat, meshes),
        None => Vec::new(),
    };
    let lat = model.lat as f32;
    let gz = (model.lat * model.femur.groove_z()) as f32;
    let tub = match model.patellar_tendon.anchor {
        Anchor::Tibia(p) => Some(p),
        Anchor::Femur(_) => None,
    };
    let articular_mat = materials.add(StandardMaterial {
        base_color: Color::WHITE,
        unlit: true,
        cull_mode: None,
        double_sided: true,
        ..default()
    });
    commands
        .spawn((KneeRoot, root_transform(), Visibility::default()))
        .with_children(|root| {
            if knee.is_some() {
                // The real knee: each surface in its frame. Femur bone and femoral cartilage
                // translucent (the patella's pressure shows through from behind), the patella
                // bone nearly clear (its cartilage shows through from the front), the tibia
                // opaque.
                let cartilage = Color::srgb(0.72, 0.78, 0.86);
                let femur_cart_mat = material(materials, cartilage, 0.45);
                let femur_bone_mat = shell_material(materials, bone, 0.35);
                let patella_bone_mat = shell_material(materials, bone, 0.06);
                let tibia_cart_mat = material(materials, cartilage, 1.0);
                let mut femur_parts = Vec::new();
                let mut tibia_parts = Vec::new();
                let mut patella_parts = Vec::new();
                for (frame, name, mesh) in &surfaces {
                    let is_cartilage = name.contains("cartilage");
                    let (list, mat) = match frame {
                        KneeFrame::Femur if is_cartilage => (&mut femur_parts, &femur_cart_mat),
                        KneeFrame::Femur => (&mut femur_parts, &femur_bone_mat),
                        KneeFrame::Tibia if is_cartilage => (&mut tibia_parts, &tibia_cart_mat),
                        KneeFrame::Tibia => (&mut tibia_parts, &bone_mat),
                        KneeFrame::Patella => (&mut patella_parts, &patella_bone_mat),
                    };
                    list.push((Mesh3d(mesh.clone()), MeshMaterial3d(mat.clone())));
                }
                for part in femur_parts {
                    root.spawn(part);
                }
                root.spawn((TibiaBody, Transform::default(), Visibility::default()))
                    .with_children(|t| {
                        for part in tibia_parts {
                            t.spawn(part);
                        }
                        if let Some(p) = tub {
                            t.spawn((
                                Mesh3d(meshes.add(Sphere::new(3.0))),
                                MeshMaterial3d(bone_mat.clone()),
                                Transform::from_translation(to_vec3(&p)),
                            ));
                        }
                    });
                root.spawn((PatellaBody, Transform::default(), Visibility::default()))
                    .with_children(|p| {
                        p.spawn((Mesh3d(articular.clone()), MeshMaterial3d(articular_mat)));
                        for part in patella_parts {
                            p.spawn(part);
                        }
                    });
            } else if let Some(femur) = model.femur.parametric() {
                // Femur: articular surface (translucent, so the patella's pressure shows
                // through) and a schematic shaft.
                let femur_mat = material(materials, bone, 0.45);
                root.spawn((
                    Mesh3d(meshes.add(femur_mesh(femur, model.lat))),
                    MeshMaterial3d(femur_mat.clone()),
                ));
                root.spawn((
                    Mesh3d(unit_cyl.clone()),
                    MeshMaterial3d(femur_mat.clone()),
                    Transform::from_xyz(-8.0, 120.0, gz).with_scale(Vec3::new(15.0, 190.0, 15.0)),
                ));
                // Tibia (schematic plateau and shaft, tuberosity at the tendon insertion).
                let r_distal = femur.radius(90f64.to_radians(), 15.0).0 as f32;
                root.spawn((TibiaBody, Transform::default(), Visibility::default()))
                    .with_children(|t| {
                        t.spawn((
                            Mesh3d(unit_cyl.clone()),
                            MeshMaterial3d(bone_mat.clone()),
                            Transform::from_xyz(-6.0, -r_distal - 7.0, gz)
                                .with_scale(Vec3::new(38.0, 10.0, 38.0)),
                        ));
                        t.spawn((
                            Mesh3d(unit_cyl.clone()),
                            MeshMaterial3d(bone_mat.clone()),
                            Transform::from_xyz(-6.0, -r_distal - 120.0, gz)
                                .with_scale(Vec3::new(16.0, 210.0, 16.0)),
                        ));
                        if let Some(p) = tub {
                            t.spawn((
                                Mesh3d(meshes.add(Sphere::new(5.0))),
                                MeshMaterial3d(bone_mat.clone()),
                                Transform::from_translation(to_vec3(&p)),
                            ));
                        }
                    });
                // Patella: articular surface coloured by pressure, translucent body.
                let pm = &model.patella;
                let thick = model.params.subject.patella_thickness_mm as f32;
                root.spawn((PatellaBody, Transform::default(), Visibility::default()))
                    .with_children(|p| {
                        p.spawn((Mesh3d(articular.clone()), MeshMaterial3d(articular_mat)));
                        p.spawn((
                            Mesh3d(meshes.add(Sphere::new(1.0))),
                            MeshMaterial3d(material(materials, bone, 0.1)),
                            Transform::from_xyz(
                                pm.ridge_x as f32 + 0.55 * thick,
                                pm.centre[0] as f32,
                                lat * pm.centre[1] as f32,
                            )
                            .with_scale(Vec3::new(
                                0.5 * thick,
                                0.5 * pm.height as f32 + 2.0,
                                0.5 * pm.width as f32 + 2.0,
                            )),
                        ));
                    });
            }
            // Tissue lines (+ the gluteus medius, schematic at the hip) and force arrows.
            let n_lines = rec.frames.first().map(|f| f.lines.len()).unwrap_or(0);
            for index in (0..n_lines).chain(std::iter::once(usize::MAX)) {
                root.spawn((
                    TissueSegment { index },
                    Mesh3d(unit_cyl.clone()),
                    MeshMaterial3d(material(materials, tissue_color(0.0), 1.0)),
                    Transform::default(),
                ));
            }
            // Arrow colours stay clear of the pressure scale's blues and greens.
            let contact = Color::srgb(1.0, 0.95, 0.65);
            let lateral = Color::srgb(1.0, 0.25, 0.6);
            for (kind, mesh, color) in [
                (Arrow::ContactShaft, &unit_cyl, contact),
                (Arrow::ContactHead, &unit_cone, contact),
                (Arrow::LateralShaft, &unit_cyl, lateral),
                (Arrow::LateralHead, &unit_cone, lateral),
            ] {
                root.spawn((
                    kind,
                    Mesh3d(mesh.clone()),
                    MeshMaterial3d(materials.add(StandardMaterial {
                        base_color: color,
                        unlit: true,
                        ..default()
                    })),
                    Transform::default(),
                ));
            }
        });
}

/// Rebuilds the scene after a re-solve (the geometry may have changed; a mesh knee's
/// surfaces come from the cache).
#[allow(clippy::too_many_arguments)] // a Bevy system's parameters
fn rebuild_scene(
    mut commands: Commands,
    mut session: ResMut<Session>,
    roots: Query<Entity, With<KneeRoot>>,
    mut cache: ResMut<KneeMeshCache>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    handles: Option<Res<SceneHandles>>,
) {
    if !session.geometry_changed {
        return;
    }
    session.geometry_changed = false;
    for r in &roots {
        commands.entity(r).despawn();
    }
    let generation = handles.map(|h| h.generation + 1).unwrap_or(0);
    spawn_scene(
        &mut commands,
        &session,
        &mut cache,
        &mut meshes,
        &mut materials,
        generation,
    );
}

/// The frame shown now.
pub(crate) fn current_frame<'a>(
    session: &'a Session,
    playback: &Playback,
) -> Option<(usize, &'a RecordedFrame)> {
    let n = session.current.frames.len();
    if n == 0 {
        return None;
    }
    let i = (playback.frame.round().max(0.0) as usize).min(n - 1);
    Some((i, &session.current.frames[i]))
}

/// Poses bodies, colours the pressure field and places lines and arrows for the frame.
#[allow(clippy::type_complexity, clippy::too_many_arguments)] // a Bevy system's parameters
fn pose_scene(
    session: Res<Session>,
    playback: Res<Playback>,
    handles: Option<ResMut<SceneHandles>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut patella: Query<
        &mut Transform,
        (
            With<PatellaBody>,
            Without<TibiaBody>,
            Without<TissueSegment>,
            Without<Arrow>,
        ),
    >,
    mut tibia: Query<
        &mut Transform,
        (
            With<TibiaBody>,
            Without<PatellaBody>,
            Without<TissueSegment>,
            Without<Arrow>,
        ),
    >,
    mut lines: Query<
        (
            &TissueSegment,
            &mut Transform,
            &MeshMaterial3d<StandardMaterial>,
        ),
        (Without<PatellaBody>, Without<TibiaBody>, Without<Arrow>),
    >,
    mut arrows: Query<
        (&Arrow, &mut Transform, &mut Visibility),
        (
            Without<PatellaBody>,
            Without<TibiaBody>,
            Without<TissueSegment>,
        ),
    >,
) {
    let Some(mut handles) = handles else { return };
    let Some((i, frame)) = current_frame(&session, &playback) else {
        return;
    };
    if handles.shown == Some((i, handles.generation)) {
        return;
    }
    handles.shown = Some((i, handles.generation));
    let model = &session.current_compiled.model;
    let r = &frame.result;
    for mut t in &mut patella {
        *t = to_transform(&r.femur_from_patella);
    }
    for mut t in &mut tibia {
        *t = to_transform(&r.femur_from_tibia);
    }
    // Only the articular colours change with the frame (bodies are posed by transform).
    let (n, per) = (handles.elements, handles.vertices_per_element);
    if let Some(mut mesh) = meshes.get_mut(&handles.articular) {
        match mesh.attribute_mut(Mesh::ATTRIBUTE_COLOR) {
            Some(VertexAttributeValues::Float32x4(c)) => {
                fill_pressure_colors(c, &frame.pressure, n, per)
            }
            _ => mesh.insert_attribute(
                Mesh::ATTRIBUTE_COLOR,
                pressure_colors(&frame.pressure, n, per),
            ),
        }
    }
    for (seg, mut t, mat) in &mut lines {
        let (a, b, f) = if seg.index == usize::MAX {
            // Gluteus medius: drawn at the top of the femoral shaft as a schematic of the
            // hip abductor (its force is what the gait mechanisms use).
            let lat = model.lat as f32;
            (
                Vec3::new(-5.0, 300.0, lat * 70.0),
                Vec3::new(-5.0, 215.0, lat * 25.0),
                frame.glute_med_n.unwrap_or(0.0),
            )
        } else {
            let l = &frame.lines[seg.index];
            (to_vec3(&l.patella), to_vec3(&l.far), l.force_n)
        };
        *t = segment(a, b, tissue_radius(f));
        if let Some(mut m) = materials.get_mut(&mat.0) {
            m.base_color = tissue_color(f);
        }
    }
    // Arrows from the centre of pressure: the contact force on the patella and the lateral
    // component of the force the patella exerts on the femur.
    let cop = r.contact.cop_mm;
    let have = cop.iter().all(|c| c.is_finite()) && r.contact.force_n > 1.0;
    let start = if have {
        let c = Point3::new(cop[0], cop[1], model.lat * cop[2]);
        to_vec3(&(r.femur_from_patella * c).coords)
    } else {
        Vec3::ZERO
    };
    let contact_dir = to_vec3(&r.contact_force).normalize_or_zero();
    let contact_len = (r.contact.force_n / 1000.0 * CONTACT_ARROW_MM_PER_KN) as f32;
    let lateral_dir = Vec3::new(
        0.0,
        0.0,
        (model.lat * r.contact.lateral_force_n.signum()) as f32,
    );
    let lateral_len = (r.contact.lateral_force_n.abs() / 1000.0 * LATERAL_ARROW_MM_PER_KN) as f32;
    for (kind, mut t, mut vis) in &mut arrows {
        let (dir, len) = match kind {
            Arrow::ContactShaft | Arrow::ContactHead => (contact_dir, contact_len),
            _ => (lateral_dir, lateral_len),
        };
        *vis = if have && len > 1.0 {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
        let head = 6.0f32.min(0.4 * len);
        let end = start + dir * len;
        *t = match kind {
            Arrow::ContactShaft | Arrow::LateralShaft => segment(start, end - dir * head, 1.2),
            _ => {
                let mut h = segment(end - dir * head, end, 3.0);
                h.scale = Vec3::new(3.0, head, 3.0);
                h
            }
        };
    }
}
