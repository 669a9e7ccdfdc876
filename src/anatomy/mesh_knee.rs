//! A knee built from meshes: an OpenSim-JAM model file (`.osim`) and the cartilage and bone
//! meshes it names, turned into what the contact kernel needs — the femoral cartilage's
//! signed-distance field, the patella cartilage's contact elements, and each layer's
//! thickness measured against its bone. The shipped Lenhart et al. (2015) knee takes the same
//! path as a user's model.
//!
//! Built once per (model file, side) in a process and shared (`Arc`) by every model, frame,
//! cycle and sweep variant that uses it: building bakes a distance field (about 1.6 s on
//! the reference machine), which no variant repeats.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use parry3d::math::Vector as PVec;
use parry3d::query::{Ray, RayCast};
use parry3d::shape::TriMesh as ParryMesh;
use serde::Serialize;

use super::passive_tf::{PassiveEnvelope, TfJoint, TfLigament, SEATING_LOAD_N};
use crate::contact::ContactLaw;
use crate::geometry::{patches, FemurGeometry, FemurSdf, MeshFemurInfo, PatellaMesh};
use crate::mesh::{self, MeshReport, TriMesh, Units};
use crate::osim::{self, ContactMesh, KneeFrame, OsimKnee};
use crate::params::ContactLawKind;
use crate::params::Side;

/// The shipped Lenhart 2015 model file's path in the source tree.
pub const LENHART2015_OSIM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/lenhart2015/lenhart2015.osim"
);

/// The shipped files, compiled into the binary so the default knee works from any folder
/// (the same bytes as `assets/lenhart2015/`; their hashes are reported in summary.json).
const EMBEDDED: [(&str, &[u8]); 7] = [
    (
        "lenhart2015.osim",
        include_bytes!("../../assets/lenhart2015/lenhart2015.osim"),
    ),
    (
        "lenhart2015-R-femur-cartilage.stl",
        include_bytes!("../../assets/lenhart2015/lenhart2015-R-femur-cartilage.stl"),
    ),
    (
        "lenhart2015-R-femur-bone.stl",
        include_bytes!("../../assets/lenhart2015/lenhart2015-R-femur-bone.stl"),
    ),
    (
        "lenhart2015-R-patella-cartilage.stl",
        include_bytes!("../../assets/lenhart2015/lenhart2015-R-patella-cartilage.stl"),
    ),
    (
        "lenhart2015-R-patella-bone.stl",
        include_bytes!("../../assets/lenhart2015/lenhart2015-R-patella-bone.stl"),
    ),
    (
        "lenhart2015-R-tibia-cartilage.stl",
        include_bytes!("../../assets/lenhart2015/lenhart2015-R-tibia-cartilage.stl"),
    ),
    (
        "lenhart2015-R-tibia-bone.stl",
        include_bytes!("../../assets/lenhart2015/lenhart2015-R-tibia-bone.stl"),
    ),
];

/// Why a mesh knee could not be built: one line naming the file and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct KneeError(pub String);

/// One input file and its content hash (FNV-1a 64, hex), for the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileHash {
    /// The file, as read.
    pub file: String,
    /// FNV-1a 64 of its content, 16 hex digits.
    pub fnv1a64: String,
}

/// A bone or cartilage surface for display, in its knee frame (mm).
#[derive(Debug, Clone)]
pub struct Surface {
    /// What it shows, for the viewer (`femur`, `patella`, `tibia`, `femoral cartilage`).
    pub name: String,
    /// The body frame the vertices are given in.
    pub frame: KneeFrame,
    /// Vertices (mm, in `frame`) and triangles.
    pub mesh: TriMesh,
}

/// Everything built from the model file and its meshes. Immutable, shared.
#[derive(Debug)]
pub struct MeshKnee {
    /// The model file as given.
    pub osim_path: PathBuf,
    /// The parsed model (right-knee frames; a left knee mirrors at use).
    pub osim: OsimKnee,
    /// Femoral cartilage distance field (femur frame).
    pub femur: Arc<FemurSdf>,
    /// Patella cartilage vertices (patella frame, mm).
    pub patella_vertices: Vec<[f64; 3]>,
    /// Patella cartilage triangles (indices into `patella_vertices`, normals facing the
    /// femur), stored in patch order (see [`crate::geometry::patches`]), not the file's:
    /// element i of the contact kernel is triangle i here.
    pub patella_triangles: Vec<[u32; 3]>,
    /// Each triangle's patellar layer thickness, mm (one per `patella_triangles`).
    pub patella_thickness_mm: Vec<f64>,
    /// The element patches: contiguous ranges of `patella_triangles`, [start, end).
    pub patella_patches: Vec<[u32; 2]>,
    /// Trochlear groove medio-lateral position (right knee, femur frame), mm.
    pub groove_z: f64,
    /// Contact modulus from the model file (the patella mesh's, averaged with the femur's as
    /// Smith 2018 does), MPa.
    pub modulus_mpa: f64,
    /// Contact Poisson's ratio from the model file, averaged the same way.
    pub poisson: f64,
    /// Area-weighted mean patellar layer thickness, mm.
    pub mean_patella_thickness_mm: f64,
    /// Area-weighted mean femoral layer thickness, mm.
    pub mean_femur_thickness_mm: f64,
    /// Bone and cartilage surfaces for the viewer.
    pub surfaces: Vec<Surface>,
    /// Input files and their hashes.
    pub files: Vec<FileHash>,
    /// What loading each mesh found and fixed.
    pub reports: Vec<MeshReport>,
    /// Wall time of the build (load, thickness, distance field), s.
    pub build_seconds: f64,
    /// The tibial cartilage's contact elements (tibia frame, patch order, measured layer)
    /// and its material, when the model has a tibial contact mesh with a bone behind it.
    pub tibia: Option<TibiaContact>,
    /// The knee's passive tibiofemoral envelope, solved on first use (see
    /// [`super::passive_tf`]).
    envelope: OnceLock<Result<PassiveEnvelope, String>>,
    /// The bones' shapes for a dynamic run's rapier world, right and left knee, built on
    /// first use ([`crate::dynamics::world::bone_shapes`]).
    pub(crate) bone_shapes: [OnceLock<crate::dynamics::world::BoneShapes>; 2],
}

/// The tibial side of the tibiofemoral joint: what [`super::passive_tf`] needs.
#[derive(Debug, Clone)]
pub struct TibiaContact {
    /// Cartilage vertices (tibia frame, mm).
    pub vertices: Vec<[f64; 3]>,
    /// Cartilage triangles (indices into `vertices`), in patch order.
    pub triangles: Vec<[u32; 3]>,
    /// Per triangle: tibial layer thickness measured to the tibia bone, mm.
    pub thickness_mm: Vec<f64>,
    /// Element patches (ranges of `triangles`).
    pub patches: Vec<[u32; 2]>,
    /// Modulus, MPa: the tibial mesh's averaged with the femoral's.
    pub modulus_mpa: f64,
    /// Poisson's ratio, averaged the same way.
    pub poisson: f64,
    /// The ligament bundles joining femur and tibia.
    pub ligaments: Vec<TfLigament>,
}

impl MeshKnee {
    /// The surface mesh called `name` in `frame` (see [`Surface`]), if the knee has one.
    pub fn surface(&self, name: &str, frame: KneeFrame) -> Option<&TriMesh> {
        self.surfaces
            .iter()
            .find(|s| s.name == name && s.frame == frame)
            .map(|s| &s.mesh)
    }

    /// The knee's passive tibiofemoral envelope (right knee), solved on first use and
    /// shared; an error when the model has no tibial contact mesh with its bone.
    pub fn passive_envelope(&self) -> Result<&PassiveEnvelope, String> {
        self.envelope
            .get_or_init(|| {
                let t = self.tibia.as_ref().ok_or_else(|| {
                    format!(
                        "{}: the passive tibiofemoral motion needs a Smith2018ContactMesh on the tibia with a mesh_back_file (its bone)",
                        self.osim_path.display()
                    )
                })?;
                let elements =
                    PatellaMesh::from_triangles(&t.vertices, &t.triangles, &t.thickness_mm, 1.0, &t.patches);
                let law = ContactLaw::new(ContactLawKind::Linear, t.modulus_mpa, t.poisson, 1.0, 1.0);
                let femur = FemurGeometry::Mesh(
                    Arc::clone(&self.femur),
                    MeshFemurInfo {
                        lat: 1.0,
                        groove_z: self.groove_z,
                    },
                );
                let joint = TfJoint {
                    femur: &femur,
                    tibia: &elements,
                    law: &law,
                    ligaments: &t.ligaments,
                    seating_load_n: SEATING_LOAD_N,
                };
                let d = self.osim.default_coords;
                // The rotation is Walker's (see the module doc of `passive_tf`).
                let walker = |x: f64| crate::step::kinematics::walker_coupling(x)[1];
                Ok(joint.envelope(
                    [d.add_rad, d.rot_rad, d.tx_mm, d.ty_mm, d.tz_mm],
                    Some(&walker),
                ))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// FNV-1a 64-bit hash (stable across runs and machines; for file identities).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, KneeError> {
    // Bounded: a model or mesh named by a scenario may be a FIFO, a device or gigabytes.
    match crate::input::read_bytes(path, crate::input::MAX_MODEL_BYTES, "model or mesh file") {
        Ok(b) => Ok(b),
        Err(e) => {
            // The shipped knee's files are compiled in: use them when the source tree is gone.
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let builtin_dir = Path::new(LENHART2015_OSIM).parent();
            match EMBEDDED.iter().find(|(n, _)| *n == name) {
                Some((_, b)) if path.parent() == builtin_dir => Ok(b.to_vec()),
                _ => Err(KneeError(format!("{}: cannot read: {e}", path.display()))),
            }
        }
    }
}

/// Loads a mesh the model file names. OpenSim meshes are in metres; a mesh whose extent says
/// millimetres is refused rather than scaled silently.
fn load_model_mesh(
    path: &Path,
    files: &mut Vec<FileHash>,
) -> Result<(TriMesh, MeshReport), KneeError> {
    let bytes = read_bytes(path)?;
    files.push(FileHash {
        file: path.display().to_string(),
        fnv1a64: format!("{:016x}", fnv1a64(&bytes)),
    });
    let (m, report) = mesh::parse_mesh(&path.display().to_string(), &bytes, Units::Auto)
        .map_err(|e| KneeError(e.to_string()))?;
    if report.units != Units::Metres {
        return Err(KneeError(format!(
            "{}: the mesh spans {:.0} mm as metres would make it {:.0} m; OpenSim model meshes are in metres — rescale the file",
            path.display(),
            report.extent_mm.iter().fold(0f64, |a, &b| a.max(b)),
            report.extent_mm.iter().fold(0f64, |a, &b| a.max(b)),
        )));
    }
    Ok((m, report))
}

fn parry(m: &TriMesh) -> Result<ParryMesh, KneeError> {
    let v = m
        .vertices
        .iter()
        .map(|p| PVec::new(p[0] as f32, p[1] as f32, p[2] as f32))
        .collect();
    ParryMesh::new(v, m.triangles.clone()).map_err(|e| KneeError(format!("mesh: {e:?}")))
}

/// Per-triangle layer thickness of a cartilage sheet over its bone (Smith et al. 2018's
/// variable thickness): the distance from the triangle centroid along the inward normal to
/// the bone mesh, clamped to [min, max] mm. A ray that misses the bone within 2·max takes the
/// nearest bone distance instead (clamped likewise). Returns the thicknesses and whether the
/// sheet had to be flipped so its normals face away from the bone (the articular side).
fn layer_thickness(
    cart: &mut TriMesh,
    bone: &TriMesh,
    min: f64,
    max: f64,
) -> Result<(Vec<f64>, bool), KneeError> {
    let b = parry(bone)?;
    let probe = |m: &TriMesh, sign: f32| -> usize {
        (0..m.triangles.len())
            .step_by(7)
            .filter(|&t| {
                let c = m.centroid(t);
                let n = m.triangle_normal(t);
                let o = PVec::new(c[0] as f32, c[1] as f32, c[2] as f32);
                let d = PVec::new(n[0] as f32, n[1] as f32, n[2] as f32) * sign;
                b.cast_local_ray(&Ray::new(o, d), (2.0 * max) as f32, false)
                    .is_some()
            })
            .count()
    };
    let flipped = probe(cart, 1.0) > probe(cart, -1.0);
    if flipped {
        cart.flip();
    }
    let th = (0..cart.triangles.len())
        .map(|t| {
            let c = cart.centroid(t);
            let n = cart.triangle_normal(t);
            let o = PVec::new(c[0] as f32, c[1] as f32, c[2] as f32);
            let d = PVec::new(-n[0] as f32, -n[1] as f32, -n[2] as f32);
            let h = match b.cast_local_ray(&Ray::new(o, d), (2.0 * max) as f32, false) {
                Some(toi) => toi as f64,
                None => {
                    use parry3d::query::PointQuery;
                    let p = b.project_local_point(o, false);
                    (p.point - o).length() as f64
                }
            };
            h.clamp(min, max)
        })
        .collect();
    Ok((th, flipped))
}

fn area_mean(m: &TriMesh, v: &[f64]) -> f64 {
    let (mut s, mut a) = (0.0, 0.0);
    for (t, x) in v.iter().enumerate() {
        let w = m.triangle_area(t);
        s += w * x;
        a += w;
    }
    s / a.max(1e-12)
}

/// Trochlear groove position: in the anterior trochlea (femur-frame x > 20 mm, 0 < y < 25 mm),
/// per 2.5 mm proximo-distal band, the most posterior cartilage vertex within 15 mm of the
/// midline; the median of their medio-lateral positions (mm).
fn groove_z(m: &TriMesh) -> f64 {
    let mut zs = Vec::new();
    for band in 0..10 {
        let y0 = band as f64 * 2.5;
        let best = m
            .vertices
            .iter()
            .filter(|p| p[0] > 20.0 && p[1] >= y0 && p[1] < y0 + 2.5 && p[2].abs() < 15.0)
            .min_by(|a, b| a[0].total_cmp(&b[0]));
        if let Some(p) = best {
            zs.push(p[2]);
        }
    }
    zs.sort_by(f64::total_cmp);
    zs.get(zs.len() / 2).copied().unwrap_or(0.0)
}

fn find_mesh<'a>(
    k: &'a OsimKnee,
    frame: KneeFrame,
    path: &Path,
) -> Result<&'a ContactMesh, KneeError> {
    k.contact_meshes
        .iter()
        .find(|c| c.frame == frame)
        .ok_or_else(|| {
            KneeError(format!(
                "{}: no Smith2018ContactMesh on the {} body; kneetrack needs the {} cartilage as a contact mesh",
                path.display(),
                match frame {
                    KneeFrame::Femur => "femur",
                    KneeFrame::Tibia => "tibia",
                    KneeFrame::Patella => "patella",
                },
                match frame {
                    KneeFrame::Femur => "femoral",
                    KneeFrame::Tibia => "tibial",
                    KneeFrame::Patella => "patellar",
                }
            ))
        })
}

/// Loads a contact mesh with its layer thickness, in its knee frame (mm).
fn contact_surface(
    c: &ContactMesh,
    files: &mut Vec<FileHash>,
    reports: &mut Vec<MeshReport>,
) -> Result<(TriMesh, Vec<f64>, Option<TriMesh>), KneeError> {
    let (m, r) = load_model_mesh(&c.mesh_file, files)?;
    reports.push(r);
    let to_frame = |p: [f64; 3]| {
        let q = c.frame_from_mesh * nalgebra::Point3::new(p[0], p[1], p[2]);
        [q.x, q.y, q.z]
    };
    let mut m = m.transformed(to_frame);
    let (th, back) = match (&c.back_file, c.variable_thickness) {
        (Some(bf), true) => {
            let (b, r) = load_model_mesh(bf, files)?;
            reports.push(r);
            let b = b.transformed(to_frame);
            let (th, _flipped) =
                layer_thickness(&mut m, &b, c.min_thickness_mm, c.max_thickness_mm)?;
            (th, Some(b))
        }
        _ => (vec![c.thickness_mm; m.triangles.len()], None),
    };
    Ok((m, th, back))
}

/// Runs `a` and `b` (in parallel with the `parallel` feature).
fn join<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    #[cfg(feature = "parallel")]
    {
        rayon::join(a, b)
    }
    #[cfg(not(feature = "parallel"))]
    {
        (a(), b())
    }
}

fn build(path: &Path, text: &str) -> Result<MeshKnee, KneeError> {
    let t0 = std::time::Instant::now();
    let osim = osim::parse_osim(text, path, Side::Right).map_err(|e| KneeError(e.to_string()))?;
    let mut files = vec![FileHash {
        file: path.display().to_string(),
        fnv1a64: format!("{:016x}", fnv1a64(text.as_bytes())),
    }];
    let mut reports = Vec::new();
    let fc = find_mesh(&osim, KneeFrame::Femur, path)?.clone();
    let pc = find_mesh(&osim, KneeFrame::Patella, path)?.clone();
    let tc = osim
        .contact_meshes
        .iter()
        .find(|c| c.frame == KneeFrame::Tibia)
        .filter(|c| c.back_file.is_some())
        .cloned();
    // The femoral surface (the largest, and the field's input) loads alongside the patellar
    // and tibial ones; their file hashes and reports are kept in that order.
    let load = |c: &ContactMesh| {
        let (mut files, mut reports) = (Vec::new(), Vec::new());
        contact_surface(c, &mut files, &mut reports).map(|s| (s, files, reports))
    };
    let (femur_surface, others) = join(
        || load(&fc),
        || Ok::<_, KneeError>((load(&pc)?, tc.as_ref().map(load).transpose()?)),
    );
    let ((fm, fth, fbone), ff, fr) = femur_surface?;
    let (((pm, pth, pbone), pf, pr), tibia_surface) = others?;
    files.extend(ff.into_iter().chain(pf));
    reports.extend(fr.into_iter().chain(pr));
    let mut surfaces = Vec::new();
    // Display surfaces: the bones, and the tibial cartilage when the model has one.
    if let Some(b) = fbone {
        surfaces.push(Surface {
            name: "femur".into(),
            frame: KneeFrame::Femur,
            mesh: b,
        });
    }
    if let Some(b) = pbone {
        surfaces.push(Surface {
            name: "patella".into(),
            frame: KneeFrame::Patella,
            mesh: b,
        });
    }
    let mut tibia = None;
    if let (Some(tc), Some(((tm, tth, tbone), tf, tr))) = (tc, tibia_surface) {
        files.extend(tf);
        reports.extend(tr);
        {
            if let Some(b) = tbone {
                surfaces.push(Surface {
                    name: "tibia".into(),
                    frame: KneeFrame::Tibia,
                    mesh: b,
                });
            }
            let (tm, tth, tpatches) = patch_order(tm, tth);
            tibia = Some(TibiaContact {
                vertices: tm.vertices,
                triangles: tm.triangles,
                thickness_mm: tth,
                patches: tpatches,
                modulus_mpa: 0.5 * (fc.modulus_mpa + tc.modulus_mpa),
                poisson: 0.5 * (fc.poisson + tc.poisson),
                ligaments: osim
                    .ligaments
                    .iter()
                    .filter_map(TfLigament::from_spec)
                    .collect(),
            });
        }
    }
    surfaces.push(Surface {
        name: "femoral cartilage".into(),
        frame: KneeFrame::Femur,
        mesh: fm.clone(),
    });
    let bone = surfaces
        .iter()
        .find(|s| s.name == "femur")
        .map(|s| (s.mesh.vertices.as_slice(), s.mesh.triangles.as_slice()));
    let femur = Arc::new(FemurSdf::new(&fm.vertices, &fm.triangles, &fth, bone));
    let (pm, pth, patella_patches) = patch_order(pm, pth);
    let mean_patella = area_mean(&pm, &pth);
    let mean_femur = area_mean(&fm, &fth);
    Ok(MeshKnee {
        osim_path: path.to_path_buf(),
        groove_z: groove_z(&fm),
        modulus_mpa: 0.5 * (fc.modulus_mpa + pc.modulus_mpa),
        poisson: 0.5 * (fc.poisson + pc.poisson),
        mean_patella_thickness_mm: mean_patella,
        mean_femur_thickness_mm: mean_femur,
        patella_vertices: pm.vertices,
        patella_triangles: pm.triangles,
        patella_thickness_mm: pth,
        patella_patches,
        femur,
        osim,
        surfaces,
        files,
        reports,
        build_seconds: t0.elapsed().as_secs_f64(),
        tibia,
        envelope: OnceLock::new(),
        bone_shapes: Default::default(),
    })
}

/// Reorders the patella cartilage's triangles (and their thicknesses) into the k-d patch
/// order of their centroids, returning the patch ranges.
fn patch_order(mut m: TriMesh, th: Vec<f64>) -> (TriMesh, Vec<f64>, Vec<[u32; 2]>) {
    let centroids: Vec<[f64; 3]> = (0..m.triangles.len()).map(|t| m.centroid(t)).collect();
    let (order, ranges) = patches::kd_order(
        &centroids,
        patches::PATCH_MAX_ELEMENTS,
        patches::PATCH_MAX_RADIUS_MM,
    );
    m.triangles = order.iter().map(|&i| m.triangles[i as usize]).collect();
    let th = order.iter().map(|&i| th[i as usize]).collect();
    (m, th, ranges)
}

/// Builds the knee of model file `path` (`None` = the shipped Lenhart 2015 knee) without
/// the process cache (benches; everything else goes through [`mesh_knee`]).
pub fn build_knee(path: Option<&Path>) -> Result<MeshKnee, KneeError> {
    let (path, text) = read_model(path)?;
    build(&path, &text)
}

/// The model file's path (`None` = the shipped one) and text.
fn read_model(path: Option<&Path>) -> Result<(PathBuf, String), KneeError> {
    let path: PathBuf = path.map_or_else(|| PathBuf::from(LENHART2015_OSIM), Path::to_path_buf);
    let bytes = read_bytes(&path)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        KneeError(format!(
            "{}: not UTF-8 text (an .osim file is XML)",
            path.display()
        ))
    })?;
    Ok((path, text))
}

type Cache = Mutex<HashMap<(String, u64), Arc<MeshKnee>>>;

/// The knee of model file `path` (`None` = the shipped Lenhart 2015 knee), built on first
/// use in this process and shared afterwards. Right-knee frames; `Model` mirrors a left knee.
pub fn mesh_knee(path: Option<&Path>) -> Result<Arc<MeshKnee>, KneeError> {
    let (path, text) = read_model(path)?;
    let key = (path.display().to_string(), fnv1a64(text.as_bytes()));
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    // Hold the lock while building: a second thread asking for the same knee waits for it
    // instead of building it twice.
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = map.get(&key) {
        return Ok(Arc::clone(k));
    }
    let knee = Arc::new(build(&path, &text)?);
    map.insert(key, Arc::clone(&knee));
    Ok(knee)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped knee builds from its model file: both layers measured within the clamp
    /// and near the published 2–3 mm per layer, the patella elements are its 6,052
    /// cartilage triangles, and the field is exact where it is defined.
    #[test]
    fn lenhart_knee_builds_with_measured_layers() {
        let k = mesh_knee(None).unwrap();
        eprintln!(
            "build {:.2} s, blocks {}, {:.1} MB, patella {:.2} mm, femur {:.2} mm, groove {:.2}",
            k.build_seconds,
            k.femur.blocks_present,
            k.femur.bytes() as f64 / 1e6,
            k.mean_patella_thickness_mm,
            k.mean_femur_thickness_mm,
            k.groove_z
        );
        assert_eq!(k.patella_triangles.len(), 6052);
        assert!((1.5..4.5).contains(&k.mean_patella_thickness_mm));
        assert!((1.0..4.0).contains(&k.mean_femur_thickness_mm));
        assert!(k
            .patella_thickness_mm
            .iter()
            .all(|h| (1.0..=10.0).contains(h)));
        assert!((k.modulus_mpa - 5.0).abs() < 1e-9 && (k.poisson - 0.45).abs() < 1e-9);
        // a second request shares the same build
        assert!(Arc::ptr_eq(&k, &mesh_knee(None).unwrap()));
    }
}
