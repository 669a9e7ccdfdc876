//! From a parsed file to a checked [`TriMesh`]: units, welding, degenerate triangles,
//! consistent outward winding, and the topology counts of the [`MeshReport`].
//!
//! Steps, in order (each deterministic: the same file gives the same output every run):
//! 1. Units: the bounding box of the vertices the triangles use decides [`Units::Auto`];
//!    coordinates are converted to millimetres.
//! 2. Welding: vertices whose coordinates quantise to the same multiple of
//!    [`WELD_TOLERANCE`] × largest extent are one vertex (the first, in file order).
//! 3. Degenerate triangles (repeated vertex, or area < [`DEGENERATE_AREA`] × extent²) are
//!    dropped; vertices no remaining triangle uses are dropped.
//! 4. Edges are counted: used by one triangle (boundary), two (manifold) or more
//!    (non-manifold). Components are triangles joined by any shared edge.
//! 5. Winding: a breadth-first walk from each component's first triangle makes every
//!    neighbour across a manifold edge traverse that edge opposite to the triangle it was
//!    reached from (across a non-manifold edge the neighbour keeps its own winding). A
//!    closed component with negative signed volume is then flipped whole (normals
//!    outward); an open one is flipped whole if that leaves more of its triangles as the
//!    file wound them.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::{
    cross, dot, norm, sub, MeshError, MeshReport, RawMesh, TriMesh, Units, AUTO_METRES_BELOW,
    AUTO_MILLIMETRES_FROM, DEGENERATE_AREA, WELD_TOLERANCE,
};

/// FxHash-style hasher: the weld map is hashed ~10⁵ times per mesh and needs no DoS
/// resistance.
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(PartialEq, Eq)]
struct Key([u64; 3]);

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0[0]);
        state.write_u64(self.0[1]);
        state.write_u64(self.0[2]);
    }
}

fn bbox(points: impl Iterator<Item = [f64; 3]>) -> ([f64; 3], [f64; 3]) {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in points {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (lo, hi)
}

fn largest(e: [f64; 3]) -> f64 {
    e[0].max(e[1]).max(e[2])
}

/// Check and clean a parsed mesh; see the module docs for the steps.
pub(crate) fn clean(
    file: &str,
    raw: RawMesh,
    units: Units,
) -> Result<(TriMesh, MeshReport), MeshError> {
    let RawMesh {
        vertices,
        triangles,
        format,
        stl_normals_disagreeing,
    } = raw;
    let empty = |why: String| MeshError::Empty {
        file: file.to_string(),
        why,
    };
    let triangles_read = triangles.len();
    if triangles.is_empty() {
        return Err(empty("the file has no triangles".to_string()));
    }

    // Which vertices are used (parsers check indices; never index blindly anyway).
    let mut used = vec![false; vertices.len()];
    for (face, t) in triangles.iter().enumerate() {
        for &i in t {
            match used.get_mut(i as usize) {
                Some(u) => *u = true,
                None => {
                    return Err(MeshError::BadIndex {
                        file: file.to_string(),
                        line: None,
                        face,
                        index: i64::from(i),
                        count: vertices.len(),
                        note: "",
                    })
                }
            }
        }
    }
    let used_points = || {
        vertices
            .iter()
            .zip(&used)
            .filter(|(_, &u)| u)
            .map(|(v, _)| *v)
    };

    // 1. Units.
    let (lo, hi) = bbox(used_points());
    let extent_file = largest(sub(hi, lo));
    if !extent_file.is_finite() {
        return Err(MeshError::Parse {
            file: file.to_string(),
            line: None,
            msg: "coordinates span more than the floating-point range".to_string(),
        });
    }
    if extent_file <= 0.0 {
        return Err(empty("all vertices coincide".to_string()));
    }
    let (units, units_detected) = match units {
        Units::Metres => (Units::Metres, false),
        Units::Millimetres => (Units::Millimetres, false),
        Units::Auto if extent_file < AUTO_METRES_BELOW => (Units::Metres, true),
        Units::Auto if extent_file >= AUTO_MILLIMETRES_FROM => (Units::Millimetres, true),
        Units::Auto => {
            return Err(MeshError::AmbiguousUnits {
                file: file.to_string(),
                extent: extent_file,
            })
        }
    };
    let scale = if units == Units::Metres { 1000.0 } else { 1.0 };
    let extent = extent_file * scale;
    let max_abs = used_points()
        .flat_map(|p| p.map(f64::abs))
        .fold(0.0, f64::max)
        * scale;
    if !max_abs.is_finite() || !extent.is_finite() {
        return Err(MeshError::Parse {
            file: file.to_string(),
            line: None,
            msg: "coordinates overflow when converted to millimetres".to_string(),
        });
    }

    // 2. Weld.
    let tol = WELD_TOLERANCE * extent;
    let inv_tol = 1.0 / tol;
    let quantise = max_abs * inv_tol < 1e15;
    let key = |p: [f64; 3]| {
        Key(p.map(|x| {
            if quantise {
                // Round half away from zero without a libm call (no SSE4.1 baseline).
                let q = x * inv_tol;
                (if q >= 0.0 { q + 0.5 } else { q - 0.5 }) as i64 as u64
            } else if x == 0.0 {
                0 // +0 and −0 are one point
            } else {
                x.to_bits()
            }
        }))
    };
    let n_used = used.iter().filter(|&&u| u).count();
    let mut map: HashMap<Key, u32, BuildHasherDefault<FastHasher>> =
        HashMap::with_capacity_and_hasher(n_used / 6 + 16, Default::default());
    let mut remap = vec![u32::MAX; vertices.len()];
    let mut welded: Vec<[f64; 3]> = Vec::with_capacity(n_used);
    for (i, v) in vertices.iter().enumerate() {
        if !used[i] {
            continue;
        }
        let p = v.map(|x| x * scale);
        let next = u32::try_from(welded.len()).map_err(|_| MeshError::Unsupported {
            file: file.to_string(),
            what: "a mesh with more than 4 billion vertices".to_string(),
        })?;
        let id = *map.entry(key(p)).or_insert(next);
        if id == next {
            welded.push(p);
        }
        remap[i] = id;
    }
    let duplicates_welded = n_used - welded.len();
    drop(map);

    // 3. Degenerate triangles.
    let area_min = DEGENERATE_AREA * extent * extent;
    let mut tris: Vec<[u32; 3]> = Vec::with_capacity(triangles.len());
    for t in &triangles {
        let [a, b, c] = t.map(|i| remap[i as usize]);
        if a == b || b == c || a == c {
            continue;
        }
        let [pa, pb, pc] = [a, b, c].map(|i| welded[i as usize]);
        let area = 0.5 * norm(cross(sub(pb, pa), sub(pc, pa)));
        if area >= area_min {
            tris.push([a, b, c]);
        }
    }
    let degenerate_dropped = triangles.len() - tris.len();
    if tris.is_empty() {
        return Err(empty(format!(
            "all {triangles_read} triangles are degenerate (zero area or a repeated vertex)"
        )));
    }
    let vertices = compact(welded, &mut tris);

    // 4–5. Topology and winding.
    let topo = orient(&vertices, &mut tris);

    // Report.
    let (lo, hi) = bbox(vertices.iter().copied());
    let centre = [0, 1, 2].map(|k| 0.5 * (lo[k] + hi[k]));
    let mut area = 0.0;
    let mut volume = 0.0;
    let mut normal_sum = [0.0; 3];
    for t in &tris {
        let [a, b, c] = t.map(|i| sub(vertices[i as usize], centre));
        let n = cross(sub(b, a), sub(c, a));
        area += 0.5 * norm(n);
        volume += dot(a, cross(b, c)) / 6.0;
        for k in 0..3 {
            normal_sum[k] += n[k];
        }
    }
    let n_len = norm(normal_sum);
    let mean_normal = if 0.5 * n_len > 1e-9 * area {
        normal_sum.map(|x| x / n_len)
    } else {
        [0.0; 3]
    };
    let report = MeshReport {
        file: file.to_string(),
        format,
        units,
        units_detected,
        triangles_read,
        degenerate_dropped,
        duplicates_welded,
        winding_fixed: topo.fixed,
        boundary_edges: topo.boundary,
        non_manifold_edges: topo.non_manifold,
        components: topo.components,
        closed: topo.boundary == 0 && topo.non_manifold == 0,
        extent_mm: sub(hi, lo),
        area_mm2: area,
        signed_volume_mm3: volume,
        mean_normal,
        stl_normals_disagreeing,
    };
    Ok((
        TriMesh {
            vertices,
            triangles: tris,
        },
        report,
    ))
}

/// Drop vertices no triangle uses, keeping order; renumber the triangles.
fn compact(vertices: Vec<[f64; 3]>, tris: &mut [[u32; 3]]) -> Vec<[f64; 3]> {
    let mut new_id = vec![u32::MAX; vertices.len()];
    for t in tris.iter() {
        for &i in t {
            new_id[i as usize] = 0;
        }
    }
    let mut out = Vec::with_capacity(vertices.len());
    for (i, v) in vertices.into_iter().enumerate() {
        if new_id[i] == 0 {
            new_id[i] = out.len() as u32;
            out.push(v);
        }
    }
    for t in tris.iter_mut() {
        *t = t.map(|i| new_id[i as usize]);
    }
    out
}

struct Topology {
    boundary: usize,
    non_manifold: usize,
    components: usize,
    fixed: usize,
}

/// How a neighbour is reached in the winding walk.
#[derive(Clone, Copy)]
enum Link {
    /// Across a manifold edge; `same`: both triangles traverse it in the same direction
    /// as the file winds them (so one of them must be flipped).
    Manifold { same: bool },
    /// Across a non-manifold edge: connected, but no winding rule.
    NonManifold,
}

/// Count edges and components, and make each component's winding consistent (see the
/// module docs). Flips triangles in place.
fn orient(vertices: &[[f64; 3]], tris: &mut [[u32; 3]]) -> Topology {
    let nt = tris.len();
    // Half-edges bucketed by their lower vertex (a counting sort), each bucket sorted by
    // (higher vertex, triangle): equal undirected edges end up adjacent, in a fixed order.
    let nv = vertices.len();
    let mut bucket = vec![0u32; nv + 1];
    for tri in tris.iter() {
        for k in 0..3 {
            let lo = tri[k].min(tri[(k + 1) % 3]);
            bucket[lo as usize + 1] += 1;
        }
    }
    for i in 0..nv {
        bucket[i + 1] += bucket[i];
    }
    // (higher vertex, triangle, runs from lower to higher).
    let mut half: Vec<(u32, u32, bool)> = vec![(0, 0, false); 3 * nt];
    let mut fill = bucket.clone();
    for (t, tri) in tris.iter().enumerate() {
        for k in 0..3 {
            let (a, b) = (tri[k], tri[(k + 1) % 3]);
            let slot = &mut fill[a.min(b) as usize];
            half[*slot as usize] = (a.max(b), t as u32, a < b);
            *slot += 1;
        }
    }
    drop(fill);

    let mut boundary = 0;
    let mut non_manifold = 0;
    let mut open = vec![false; nt];
    let mut links: Vec<(u32, u32, Link)> = Vec::with_capacity(3 * nt / 2 + 1);
    for v in 0..nv {
        let edges = &mut half[bucket[v] as usize..bucket[v + 1] as usize];
        edges.sort_unstable_by_key(|h| (h.0, h.1));
        for group in edges.chunk_by(|x, y| x.0 == y.0) {
            match group {
                [(_, t, _)] => {
                    boundary += 1;
                    open[*t as usize] = true;
                }
                [(_, t, ft), (_, u, fu)] => {
                    links.push((*t, *u, Link::Manifold { same: ft == fu }));
                }
                _ => {
                    non_manifold += 1;
                    for (_, t, _) in group {
                        open[*t as usize] = true;
                    }
                    for w in group.windows(2) {
                        links.push((w[0].1, w[1].1, Link::NonManifold));
                    }
                }
            }
        }
    }
    drop(half);
    drop(bucket);

    // Adjacency in compressed rows.
    let mut start = vec![0u32; nt + 1];
    for &(t, u, _) in &links {
        start[t as usize + 1] += 1;
        start[u as usize + 1] += 1;
    }
    for i in 0..nt {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut adj = vec![(0u32, Link::NonManifold); 2 * links.len()];
    for &(t, u, l) in &links {
        adj[fill[t as usize] as usize] = (u, l);
        fill[t as usize] += 1;
        adj[fill[u as usize] as usize] = (t, l);
        fill[u as usize] += 1;
    }
    drop(links);

    // Breadth-first walk per component.
    let mut seen = vec![false; nt];
    let mut flip = vec![false; nt];
    let mut order: Vec<u32> = Vec::with_capacity(nt);
    let mut components = 0;
    let mut fixed = 0;
    for s in 0..nt {
        if seen[s] {
            continue;
        }
        components += 1;
        let first = order.len();
        seen[s] = true;
        order.push(s as u32);
        let mut head = first;
        while head < order.len() {
            let t = order[head] as usize;
            head += 1;
            for &(u, link) in &adj[start[t] as usize..start[t + 1] as usize] {
                let u = u as usize;
                if seen[u] {
                    continue;
                }
                seen[u] = true;
                flip[u] = match link {
                    Link::Manifold { same } => flip[t] ^ same,
                    Link::NonManifold => false,
                };
                order.push(u as u32);
            }
        }
        let members = &order[first..];
        let closed = members.iter().all(|&t| !open[t as usize]);
        let turn = if closed {
            // Signed volume with the walk's orientation, about the first vertex.
            let o = vertices[tris[s][0] as usize];
            let mut v = 0.0;
            for &t in members {
                let t = t as usize;
                let [a, b, c] = tris[t].map(|i| sub(vertices[i as usize], o));
                let six_v = dot(a, cross(b, c));
                v += if flip[t] { -six_v } else { six_v };
            }
            v < 0.0
        } else {
            let flipped = members.iter().filter(|&&t| flip[t as usize]).count();
            2 * flipped > members.len()
        };
        for &t in members {
            let t = t as usize;
            flip[t] ^= turn;
            if flip[t] {
                tris[t].swap(1, 2);
                fixed += 1;
            }
        }
    }
    Topology {
        boundary,
        non_manifold,
        components,
        fixed,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{parse_mesh, MeshError, Units};

    #[test]
    fn inward_tetrahedron_is_turned_outward() {
        let mut tet = tetrahedron();
        for t in &mut tet.triangles {
            t.swap(1, 2);
        }
        for (file, bytes) in all_formats("in", &tet) {
            let (m, r) = parse_mesh(&file, &bytes, Units::Millimetres).expect("parses");
            assert_eq!(r.winding_fixed, 4, "{file}");
            assert!(r.closed);
            assert!((r.signed_volume_mm3 - 1000.0 / 6.0).abs() < 1e-9, "{file}");
            // Slanted face points away from the origin.
            let slanted = (0..4)
                .find(|&t| m.centroid(t).iter().all(|&c| c > 0.0))
                .expect("slanted face");
            let n = m.triangle_normal(slanted);
            assert!(n.iter().all(|&c| c > 0.5), "{n:?}");
        }
    }

    #[test]
    fn one_inconsistent_face_of_a_closed_mesh_is_fixed() {
        let mut tet = tetrahedron();
        tet.triangles[0].swap(1, 2);
        let (_, r) = parse_mesh("t.obj", &write_obj(&tet), Units::Millimetres).expect("ok");
        assert_eq!(r.winding_fixed, 1);
        assert!(r.signed_volume_mm3 > 0.0);
    }

    #[test]
    fn sheet_keeps_majority_winding() {
        // Four triangles, one wound the other way: only that one is flipped, whatever
        // triangle the walk starts from.
        let mut grid = strip(4);
        grid.triangles[0].swap(1, 2);
        let (m, r) = parse_mesh("g.obj", &write_obj(&grid), Units::Millimetres).expect("ok");
        assert_eq!(r.winding_fixed, 1);
        assert_eq!(r.mean_normal, [0.0, 0.0, 1.0]);
        for t in 0..m.triangles.len() {
            assert_eq!(m.triangle_normal(t), [0.0, 0.0, 1.0]);
        }
        // A consistently wound downward sheet stays downward.
        let mut down = strip(4);
        for t in &mut down.triangles {
            t.swap(1, 2);
        }
        let (_, r) = parse_mesh("d.obj", &write_obj(&down), Units::Millimetres).expect("ok");
        assert_eq!(r.winding_fixed, 0);
        assert_eq!(r.mean_normal, [0.0, 0.0, -1.0]);
    }

    #[test]
    fn degenerate_triangles_are_dropped() {
        let mut sheet = square_sheet();
        // A zero-area sliver along an edge, and a repeated-vertex triangle.
        sheet.vertices.push([5.0, 0.0, 0.0]);
        sheet.triangles.push([0, 4, 1]);
        sheet.triangles.push([2, 2, 3]);
        for (file, bytes) in all_formats("deg", &sheet) {
            let (m, r) = parse_mesh(&file, &bytes, Units::Millimetres).expect("parses");
            assert_eq!(r.triangles_read, 4, "{file}");
            assert_eq!(r.degenerate_dropped, 2, "{file}");
            assert_eq!(m.triangles.len(), 2, "{file}");
            assert_eq!(m.vertices.len(), 4, "{file}: unused vertex dropped");
            assert_eq!(r.boundary_edges, 4, "{file}");
        }
        // Nothing left.
        let mut only = square_sheet();
        only.triangles = vec![[0, 1, 1]];
        let e = parse_mesh("z.obj", &write_obj(&only), Units::Millimetres).unwrap_err();
        assert!(matches!(e, MeshError::Empty { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "z.obj: no usable triangles: all 1 triangles are degenerate (zero area or a repeated vertex)"
        );
    }

    #[test]
    fn near_duplicates_weld_within_tolerance_only() {
        let mut sheet = square_sheet();
        // Triangle 1 gets its own copies of vertices 0 and 2: 1e-12 mm off (welded) and
        // 1e-3 mm off (kept apart).
        sheet.vertices.push([1e-12, 0.0, 0.0]);
        sheet.vertices.push([10.0, 10.001, 0.0]);
        sheet.triangles[1] = [4, 5, 3];
        let (m, r) = parse_mesh("w.obj", &write_obj(&sheet), Units::Millimetres).expect("ok");
        assert_eq!(r.duplicates_welded, 1);
        assert_eq!(m.vertices.len(), 5);
        assert_eq!(r.boundary_edges, 6);
    }

    #[test]
    fn components_and_non_manifold_edges() {
        // Two separate tetrahedra, and three triangles sharing one edge.
        let a = tetrahedron();
        let b = translated(&a, [100.0, 0.0, 0.0]);
        let two = merged(&a, &b);
        let (_, r) = parse_mesh("2.obj", &write_obj(&two), Units::Millimetres).expect("ok");
        assert_eq!(r.components, 2);
        assert!(r.closed);
        assert!((r.signed_volume_mm3 - 2000.0 / 6.0).abs() < 1e-6);
        let fin = Mesh {
            vertices: vec![
                [0.0, 0.0, 0.0],
                [10.0, 0.0, 0.0],
                [5.0, 10.0, 0.0],
                [5.0, -10.0, 0.0],
                [5.0, 0.0, 10.0],
            ],
            triangles: vec![[0, 1, 2], [1, 0, 3], [0, 1, 4]],
        };
        let (_, r) = parse_mesh("f.obj", &write_obj(&fin), Units::Millimetres).expect("ok");
        assert_eq!(r.non_manifold_edges, 1);
        assert_eq!(r.boundary_edges, 6);
        assert_eq!(r.components, 1);
        assert!(!r.closed);
    }

    #[test]
    fn output_is_deterministic() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/lenhart2015/lenhart2015-R-patella-cartilage.stl");
        let (a, ra) = super::super::load_mesh(&path, Units::Auto).expect("loads");
        let (b, rb) = super::super::load_mesh(&path, Units::Auto).expect("loads");
        assert_eq!(a.vertices, b.vertices);
        assert_eq!(a.triangles, b.triangles);
        assert_eq!(ra, rb);
    }
}
