//! Checked triangle-mesh loading: STL (binary and ASCII), Wavefront OBJ and VTK XML
//! PolyData (`.vtp`, as OpenSim writes its geometry).
//!
//! [`load_mesh`] reads a file, [`parse_mesh`] parses bytes already in memory; both pick the
//! format from the file name's extension and return a cleaned [`TriMesh`] in millimetres
//! plus a [`MeshReport`] of what was found and fixed. A mesh is a contact surface or a bone
//! here, so the loader's job is to hand on a surface whose topology and orientation can be
//! trusted, and to say so when it cannot.
//!
//! # What is checked, and why
//!
//! * **The bytes parse.** Binary STL is told from ASCII STL by its length
//!   (84 + 50·n bytes for n triangles), not by the `solid` word, which some binary writers
//!   also put in their header; a truncated binary file is an error naming the expected and
//!   actual byte counts. Text formats name the line of any parse error.
//! * **Every coordinate is finite** (a NaN or ∞ vertex is an error naming the vertex and,
//!   for text formats, the line) **and every index is in range**.
//! * **Units.** The numbers are taken as metres or millimetres as declared ([`Units`]); with
//!   [`Units::Auto`] the largest bounding-box extent decides: a knee bone or cartilage
//!   surface is 20–500 mm long, i.e. 0.02–0.5 in metres or 20–500 in millimetres, so an
//!   extent below [`AUTO_METRES_BELOW`] (0.5) is metres, one of at least
//!   [`AUTO_MILLIMETRES_FROM`] (5.0) is millimetres, and anything between is refused as
//!   ambiguous (centimetre files fall there or are mistaken for millimetres: declare them).
//! * **Welding.** STL stores each triangle's three corners separately, so neighbouring
//!   triangles only share an edge once equal vertices are merged: vertices equal within
//!   1e-9 of the largest extent are welded (first occurrence wins; output order is the
//!   order of first use, identical on every run). Vertices no triangle uses are dropped.
//! * **Degenerate triangles** (a repeated vertex after welding, or an area below
//!   1e-12 × extent²) are dropped and counted; contact code divides by triangle areas and
//!   normals. A file with nothing left is an error.
//! * **Winding.** Each connected component (triangles joined by shared edges) is made
//!   consistently oriented: neighbours across a two-triangle edge must traverse it in
//!   opposite directions. A closed component is then turned so that its normals face
//!   outward (positive signed volume); an open sheet keeps the orientation most of its
//!   original triangles had, so a consistently wound sheet is never flipped.
//! * **Topology is reported, not enforced.** Boundary edges (used by one triangle),
//!   non-manifold edges (used by more than two), components and closedness are counted in
//!   the report. An open sheet is fine for an elastic-foundation contact surface, which
//!   needs a surface with a known facing side, not a volume (stock OpenSim's `ContactMesh`
//!   rejects open sheets, which is why cartilage meshes are often closed artificially);
//!   a bone used for volume or inside/outside queries should be closed, and callers that
//!   need that check [`MeshReport::closed`].
//!
//! STL's stored facet normals are ignored (the winding is the truth); how many disagree with
//! the winding is reported in [`MeshReport::stl_normals_disagreeing`].
//!
//! Nothing here panics on any byte sequence: every failure is a [`MeshError`] whose message
//! is one line starting with the file path.

mod clean;
mod obj;
mod stl;
mod vtp;

#[cfg(test)]
mod fixtures;

use std::path::Path;

/// With [`Units::Auto`], a largest bounding-box extent (in file units) below this is metres.
pub const AUTO_METRES_BELOW: f64 = 0.5;
/// With [`Units::Auto`], a largest bounding-box extent (in file units) at or above this is
/// millimetres; extents in `[AUTO_METRES_BELOW, AUTO_MILLIMETRES_FROM)` are ambiguous.
pub const AUTO_MILLIMETRES_FROM: f64 = 5.0;
/// Vertices closer than this fraction of the largest bounding-box extent are welded.
pub const WELD_TOLERANCE: f64 = 1e-9;
/// Triangles with area below this fraction of the largest extent squared are degenerate.
pub const DEGENERATE_AREA: f64 = 1e-12;

/// Length unit of the numbers in a mesh file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    /// The numbers are metres (OpenSim's convention); they are multiplied by 1000.
    Metres,
    /// The numbers are millimetres; they are kept.
    Millimetres,
    /// Decide from the largest bounding-box extent: below [`AUTO_METRES_BELOW`] metres, at
    /// or above [`AUTO_MILLIMETRES_FROM`] millimetres, otherwise an error.
    Auto,
}

/// A cleaned triangle mesh in millimetres, in the file's own frame.
///
/// Every triangle has three distinct vertices and a non-zero area; triangles are wound
/// consistently (right-hand rule gives the facing side; outward for closed components).
#[derive(Debug, Clone, Default)]
pub struct TriMesh {
    /// Vertex positions, mm, in the file's coordinate frame (no transform applied).
    pub vertices: Vec<[f64; 3]>,
    /// Triangles as indices into `vertices`, counter-clockwise seen from the facing side.
    pub triangles: Vec<[u32; 3]>,
}

/// What loading found and fixed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MeshReport {
    /// The file path (or name) as given to [`load_mesh`] / [`parse_mesh`].
    pub file: String,
    /// The format read: `"stl-binary"`, `"stl-ascii"`, `"obj"` or `"vtp"`.
    pub format: &'static str,
    /// What the file's numbers were taken to be (never [`Units::Auto`]).
    pub units: Units,
    /// True if [`Units::Auto`] decided `units`; false if the caller declared them.
    pub units_detected: bool,
    /// Triangles in the file (polygons counted after fan triangulation).
    pub triangles_read: usize,
    /// Triangles dropped: zero-area (below 1e-12 × extent²) or with a repeated vertex.
    pub degenerate_dropped: usize,
    /// Vertex occurrences merged into an identical (within 1e-9 of the largest extent)
    /// earlier vertex.
    pub duplicates_welded: usize,
    /// Triangles whose winding was reversed to agree with their neighbours (or to turn a
    /// closed component's normals outward).
    pub winding_fixed: usize,
    /// Edges used by exactly one triangle (the mesh is an open sheet if > 0).
    pub boundary_edges: usize,
    /// Edges used by more than two triangles.
    pub non_manifold_edges: usize,
    /// Connected components (triangles joined by shared edges).
    pub components: usize,
    /// `boundary_edges == 0 && non_manifold_edges == 0`: the surface encloses a volume.
    pub closed: bool,
    /// Bounding-box size of the cleaned mesh along the file frame's x, y, z, mm.
    pub extent_mm: [f64; 3],
    /// Total surface area, mm².
    pub area_mm2: f64,
    /// Signed enclosed volume, mm³, taken about the bounding-box centre: positive when a
    /// closed mesh's normals face outward (for an open sheet it depends on that centre
    /// and only its sign relative to the facing side is meaningful).
    pub signed_volume_mm3: f64,
    /// Area-weighted mean of the triangle unit normals, normalised (unitless, file frame):
    /// which way an open sheet faces. Zero if the normals cancel (as on a closed mesh,
    /// where it is numerically small and arbitrary).
    pub mean_normal: [f64; 3],
    /// STL only (0 otherwise): facets whose stored normal points against the normal given
    /// by the winding (dot product < 0; zero stored normals are not counted). The winding
    /// is used either way.
    pub stl_normals_disagreeing: usize,
}

/// Why a mesh could not be loaded. Every message is one line starting with the file path.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The extension is not `.stl`, `.obj` or `.vtp`.
    #[error("{file}: unknown mesh format {ext:?}; expected a .stl, .obj or .vtp file")]
    UnknownFormat {
        /// The file.
        file: String,
        /// Its extension (empty when it has none).
        ext: String,
    },
    /// A binary STL shorter than its triangle count says.
    #[error("{file}: binary STL truncated: {what} need {expected} bytes, file has {got}")]
    Truncated {
        /// The file.
        file: String,
        /// What needed the bytes, e.g. "1000 triangles".
        what: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes in the file.
        got: u64,
    },
    /// Malformed content; `line` (1-based) for text formats where known.
    #[error("{file}: {}{msg}", at_line(.line))]
    Parse {
        /// The file.
        file: String,
        /// 1-based line, for text formats where known.
        line: Option<usize>,
        /// What is wrong.
        msg: String,
    },
    /// A NaN or infinite coordinate. `vertex` is the 0-based vertex index in the file.
    #[error("{file}: {}vertex {vertex} has a non-finite coordinate ({value})", at_line(.line))]
    NonFinite {
        /// The file.
        file: String,
        /// 0-based vertex index in the file.
        vertex: usize,
        /// 1-based line, for text formats where known.
        line: Option<usize>,
        /// The coordinate read.
        value: f64,
    },
    /// A face refers to a vertex that does not exist.
    #[error("{file}: {}face {face} refers to vertex {index}, but there are {count} vertices{note}", at_line(.line))]
    BadIndex {
        /// The file.
        file: String,
        /// 1-based line, for text formats where known.
        line: Option<usize>,
        /// 0-based face (polygon) index in the file.
        face: usize,
        /// The index as written in the file.
        index: i64,
        /// Vertices available.
        count: usize,
        /// Format-specific hint on index conventions (may be empty).
        note: &'static str,
    },
    /// Nothing usable is left.
    #[error("{file}: no usable triangles: {why}")]
    Empty {
        /// The file.
        file: String,
        /// Why nothing is left (no triangles, all degenerate, …).
        why: String,
    },
    /// [`Units::Auto`] could not decide.
    #[error("{file}: cannot tell metres from millimetres (largest extent {} in file units); declare the units", short_num(.extent))]
    AmbiguousUnits {
        /// The file.
        file: String,
        /// Largest bounding-box extent, in file units.
        extent: f64,
    },
    /// A valid file using a feature this loader does not read.
    #[error("{file}: {what} is not supported")]
    Unsupported {
        /// The file.
        file: String,
        /// The feature (e.g. VTP appended data, or more than 4 billion vertices).
        what: String,
    },
}

fn at_line(line: &Option<usize>) -> String {
    match line {
        Some(l) => format!("line {l}: "),
        None => String::new(),
    }
}

/// A number with at most 4 decimals and no trailing zeros, for messages.
fn short_num(x: &f64) -> String {
    if !x.is_finite() || x.abs() >= 1e6 {
        return format!("{x}");
    }
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A token from a file, quoted and shortened for an error message (never multi-line).
pub(crate) fn quote(bytes: &[u8]) -> String {
    const MAX: usize = 24;
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    if bytes.len() > MAX {
        format!("{:?}…", s)
    } else {
        format!("{:?}", s)
    }
}

/// What a format parser hands to the cleaner: vertices in file units (all finite) and
/// triangles indexing them (all in range), in file order.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawMesh {
    pub vertices: Vec<[f64; 3]>,
    pub triangles: Vec<[u32; 3]>,
    pub format: &'static str,
    pub stl_normals_disagreeing: usize,
}

/// Read and clean the mesh at `path`; the format comes from the extension (`.stl`, `.obj`,
/// `.vtp`, any case). Coordinates are converted to millimetres per `units`.
pub fn load_mesh(path: &Path, units: Units) -> Result<(TriMesh, MeshReport), MeshError> {
    let file = path.display().to_string();
    let bytes = crate::input::read_bytes(
        path,
        crate::input::MAX_MODEL_BYTES,
        "mesh file (.stl, .obj, .vtp)",
    )
    .map_err(|source| MeshError::Io {
        file: file.clone(),
        source,
    })?;
    parse_mesh(&file, &bytes, units)
}

/// Parse and clean a mesh held in memory; `name` is used for the format (its extension,
/// any case) and in messages.
pub fn parse_mesh(
    name: &str,
    bytes: &[u8],
    units: Units,
) -> Result<(TriMesh, MeshReport), MeshError> {
    let ext = Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let raw = match ext.as_str() {
        "stl" => stl::parse(name, bytes)?,
        "obj" => obj::parse(name, bytes)?,
        "vtp" => vtp::parse(name, bytes)?,
        _ => {
            return Err(MeshError::UnknownFormat {
                file: name.to_string(),
                ext,
            })
        }
    };
    clean::clean(name, raw, units)
}

pub(crate) fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

impl TriMesh {
    fn corners(&self, t: usize) -> [[f64; 3]; 3] {
        let [a, b, c] = self.triangles[t];
        [
            self.vertices[a as usize],
            self.vertices[b as usize],
            self.vertices[c as usize],
        ]
    }

    /// Reverse every triangle's winding (turns the facing side over).
    pub fn flip(&mut self) {
        for t in &mut self.triangles {
            t.swap(1, 2);
        }
    }

    /// Unit normal of triangle `t` by the right-hand rule over its winding, file frame;
    /// `[0, 0, 0]` for a zero-area triangle. Panics if `t` is out of range.
    pub fn triangle_normal(&self, t: usize) -> [f64; 3] {
        let [a, b, c] = self.corners(t);
        let n = cross(sub(b, a), sub(c, a));
        let l = norm(n);
        if l > 0.0 {
            [n[0] / l, n[1] / l, n[2] / l]
        } else {
            [0.0; 3]
        }
    }

    /// Area of triangle `t`, mm². Panics if `t` is out of range.
    pub fn triangle_area(&self, t: usize) -> f64 {
        let [a, b, c] = self.corners(t);
        0.5 * norm(cross(sub(b, a), sub(c, a)))
    }

    /// Centroid of triangle `t`, mm, file frame. Panics if `t` is out of range.
    pub fn centroid(&self, t: usize) -> [f64; 3] {
        let [a, b, c] = self.corners(t);
        [
            (a[0] + b[0] + c[0]) / 3.0,
            (a[1] + b[1] + c[1]) / 3.0,
            (a[2] + b[2] + c[2]) / 3.0,
        ]
    }

    /// A copy with every vertex mapped through `f` (e.g. a rigid transform into a body
    /// frame); triangles are unchanged. A mirroring `f` reverses the facing side: call
    /// [`TriMesh::flip`] afterwards to restore it.
    pub fn transformed(&self, f: impl Fn([f64; 3]) -> [f64; 3]) -> TriMesh {
        TriMesh {
            vertices: self.vertices.iter().map(|&v| f(v)).collect(),
            triangles: self.triangles.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn every_format_gives_the_same_welded_tetrahedron_and_sheet() {
        for (name, mesh) in [("tet", tetrahedron()), ("sheet", square_sheet())] {
            let mut seen = Vec::new();
            for (file, bytes) in all_formats(name, &mesh) {
                let (m, r) = parse_mesh(&file, &bytes, Units::Millimetres)
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
                assert_eq!(m.vertices.len(), mesh.vertices.len(), "{file}");
                assert_eq!(m.triangles.len(), mesh.triangles.len(), "{file}");
                assert_eq!(r.degenerate_dropped, 0, "{file}");
                assert_eq!(r.winding_fixed, 0, "{file}");
                assert_eq!(r.components, 1, "{file}");
                seen.push((file, r));
            }
            let (_, first) = &seen[0];
            for (file, r) in &seen {
                assert_eq!(r.closed, first.closed, "{file}");
                assert_eq!(r.boundary_edges, first.boundary_edges, "{file}");
                assert!((r.area_mm2 - first.area_mm2).abs() < 1e-9, "{file}");
                assert!(
                    (r.signed_volume_mm3 - first.signed_volume_mm3).abs() < 1e-9,
                    "{file}"
                );
            }
        }
    }

    #[test]
    fn tetrahedron_report() {
        let (m, r) = parse_mesh("t.obj", &write_obj(&tetrahedron()), Units::Millimetres)
            .expect("tetrahedron parses");
        assert_eq!(r.format, "obj");
        assert!(r.closed);
        assert_eq!(r.boundary_edges, 0);
        assert_eq!(r.non_manifold_edges, 0);
        assert!((r.signed_volume_mm3 - 1000.0 / 6.0).abs() < 1e-9);
        assert_eq!(r.extent_mm, [10.0, 10.0, 10.0]);
        let area = 3.0 * 50.0 + 50.0 * 3f64.sqrt();
        assert!((r.area_mm2 - area).abs() < 1e-9);
        let total: f64 = (0..m.triangles.len()).map(|t| m.triangle_area(t)).sum();
        assert!((total - area).abs() < 1e-9);
    }

    #[test]
    fn sheet_report_and_trimesh_helpers() {
        let (mut m, r) = parse_mesh("s.stl", &write_stl_binary(&square_sheet()), Units::Auto)
            .expect("sheet parses");
        assert_eq!(r.format, "stl-binary");
        assert!(!r.closed);
        assert_eq!(r.boundary_edges, 4);
        assert_eq!(r.mean_normal, [0.0, 0.0, 1.0]);
        assert_eq!(r.units, Units::Millimetres);
        assert!(r.units_detected);
        assert_eq!(r.stl_normals_disagreeing, 0);
        assert_eq!(m.triangle_normal(0), [0.0, 0.0, 1.0]);
        assert!((m.triangle_area(0) - 50.0).abs() < 1e-12);
        let c = m.centroid(0);
        assert!(c[2] == 0.0 && c[0] > 0.0 && c[1] > 0.0);
        m.flip();
        assert_eq!(m.triangle_normal(1), [0.0, 0.0, -1.0]);
        let moved = m.transformed(|v| [v[0] + 1.0, v[1], v[2] + 2.0]);
        assert_eq!(moved.triangles, m.triangles);
        assert_eq!(moved.vertices[0][2], m.vertices[0][2] + 2.0);
    }

    #[test]
    fn unknown_extension_and_io_errors_name_the_file() {
        let e = parse_mesh("knee.ply", b"ply", Units::Auto).unwrap_err();
        assert!(matches!(e, MeshError::UnknownFormat { .. }));
        assert!(e.to_string().starts_with("knee.ply: "), "{e}");
        let e = load_mesh(Path::new("/nonexistent/knee.STL"), Units::Auto).unwrap_err();
        assert!(matches!(e, MeshError::Io { .. }));
        let msg = e.to_string();
        assert!(
            msg.starts_with("/nonexistent/knee.STL: cannot read"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn extension_is_case_insensitive() {
        let bytes = write_obj(&tetrahedron());
        let (_, r) = parse_mesh("DIR.v2/Tet.OBJ", &bytes, Units::Millimetres).expect("parses");
        assert_eq!(r.file, "DIR.v2/Tet.OBJ");
    }

    #[test]
    fn units_auto_detects_metres_and_millimetres() {
        let mm = tetrahedron(); // 10 mm
        let m = scaled(&mm, 0.01); // 0.1 (metres)
        let (tm, r) = parse_mesh("m.stl", &write_stl_binary(&m), Units::Auto).expect("metres");
        assert_eq!(r.units, Units::Metres);
        assert!(r.units_detected);
        for e in r.extent_mm {
            assert!((e - 100.0).abs() < 1e-4, "{e}");
        }
        assert!(tm.vertices.iter().any(|v| (v[0] - 100.0).abs() < 1e-4));
        let (_, r) = parse_mesh("mm.obj", &write_obj(&mm), Units::Auto).expect("mm");
        assert_eq!(r.units, Units::Millimetres);
        assert_eq!(r.extent_mm, [10.0; 3]);
        // Declared units are never "detected", whatever the size.
        let (_, r) = parse_mesh("m.obj", &write_obj(&mm), Units::Metres).expect("declared");
        assert_eq!(r.units, Units::Metres);
        assert!(!r.units_detected);
        assert_eq!(r.extent_mm, [10_000.0; 3]);
    }

    #[test]
    fn units_auto_refuses_ambiguous_sizes() {
        let m = scaled(&tetrahedron(), 0.12); // 1.2
        let e = parse_mesh("knee.obj", &write_obj(&m), Units::Auto).unwrap_err();
        assert!(matches!(e, MeshError::AmbiguousUnits { .. }));
        assert_eq!(
            e.to_string(),
            "knee.obj: cannot tell metres from millimetres (largest extent 1.2 in file units); \
             declare the units"
        );
        // Declaring the units accepts it.
        assert!(parse_mesh("knee.obj", &write_obj(&m), Units::Millimetres).is_ok());
    }

    #[test]
    fn units_serialise_lowercase() {
        assert_eq!(
            serde_json::to_string(&Units::Millimetres).expect("json"),
            "\"millimetres\""
        );
        let u: Units = serde_json::from_str("\"auto\"").expect("json");
        assert_eq!(u, Units::Auto);
    }

    #[test]
    fn garbage_never_panics_and_errors_are_one_line() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let tet = tetrahedron();
        let seeds: Vec<(String, Vec<u8>)> = all_formats("g", &tet)
            .into_iter()
            .chain(all_formats("h", &square_sheet()))
            .collect();
        for round in 0..400 {
            // Random bytes under every extension.
            let len = (rng.next() % 300) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            for name in ["r.stl", "r.obj", "r.vtp"] {
                check_no_panic(name, &bytes);
            }
            // Valid files, truncated or with bytes changed.
            let (name, good) = &seeds[round % seeds.len()];
            let mut bad = good.clone();
            match rng.next() % 3 {
                0 => bad.truncate((rng.next() as usize) % (good.len() + 1)),
                1 => {
                    for _ in 0..1 + rng.next() % 4 {
                        let i = (rng.next() as usize) % bad.len().max(1);
                        if let Some(b) = bad.get_mut(i) {
                            const SET: &[u8] = b"0123456789-+.eE/ \n<>=\"naif";
                            *b = SET[(rng.next() % SET.len() as u64) as usize];
                        }
                    }
                }
                _ => {
                    let i = (rng.next() as usize) % bad.len().max(1);
                    if let Some(b) = bad.get_mut(i) {
                        *b = rng.next() as u8;
                    }
                }
            }
            check_no_panic(name, &bad);
        }
    }

    fn check_no_panic(name: &str, bytes: &[u8]) {
        for units in [Units::Auto, Units::Millimetres] {
            let r = std::panic::catch_unwind(|| parse_mesh(name, bytes, units));
            match r {
                Err(_) => panic!("{name}: parser panicked on {bytes:?}"),
                Ok(Err(e)) => {
                    let msg = e.to_string();
                    assert!(msg.starts_with(&format!("{name}: ")), "{msg}");
                    assert!(!msg.contains('\n'), "{msg:?}");
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    #[test]
    fn lenhart_patella_cartilage_is_an_open_sheet_in_metres() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/lenhart2015/lenhart2015-R-patella-cartilage.stl");
        let (m, r) = load_mesh(&path, Units::Auto).expect("loads");
        assert_eq!(r.format, "stl-binary");
        assert_eq!(r.units, Units::Metres);
        assert!(r.units_detected);
        assert_eq!(r.triangles_read, 6052);
        assert_eq!(m.triangles.len(), 6052);
        assert_eq!(r.degenerate_dropped, 0);
        assert_eq!(r.winding_fixed, 0);
        assert_eq!(r.boundary_edges, 166);
        assert!(!r.closed);
        let largest = r.extent_mm.iter().cloned().fold(0.0, f64::max);
        assert!((20.0..500.0).contains(&largest), "{:?}", r.extent_mm);
    }

    #[test]
    fn lenhart_patella_bone_is_closed_and_outward() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/lenhart2015/lenhart2015-R-patella-bone.stl");
        let (m, r) = load_mesh(&path, Units::Auto).expect("loads");
        assert_eq!(r.units, Units::Metres);
        assert!(r.closed);
        assert_eq!(r.triangles_read, 17308);
        assert_eq!(m.triangles.len(), 17308);
        assert!(r.signed_volume_mm3 > 0.0);
    }

    /// Release timing of the largest shipped mesh:
    /// `cargo test --release --lib mesh::tests::femur_load_time -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn femur_load_time() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/lenhart2015/lenhart2015-R-femur-bone.stl");
        let mut best = f64::INFINITY;
        let mut report = None;
        for _ in 0..10 {
            let t0 = std::time::Instant::now();
            let (_, r) = load_mesh(&path, Units::Auto).expect("loads");
            best = best.min(t0.elapsed().as_secs_f64());
            report = Some(r);
        }
        println!(
            "femur bone: best of 10 loads {:.1} ms; {report:?}",
            best * 1e3
        );
    }
}
