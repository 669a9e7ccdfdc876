//! Wavefront OBJ: only geometry is read.
//!
//! `v x y z [w | r g b]` lines give vertices (extra numbers ignored); `f` lines give
//! polygons of three or more corners written as `v`, `v/vt`, `v//vn` or `v/vt/vn`, where
//! only `v` is used: 1-based, or negative to count back from the latest vertex (−1 is the
//! vertex just defined). Polygons are fan-triangulated from their first corner. Every other
//! statement (`vt`, `vn`, `g`, `o`, `s`, `usemtl`, `mtllib`, `l`, `p`, comments …) is
//! ignored. Errors name the line.

use super::{quote, MeshError, RawMesh};

const NOTE: &str = " (OBJ indices are 1-based; negative ones count back from the latest vertex)";

/// Parse OBJ bytes into file-unit vertices and fan-triangulated faces.
pub(crate) fn parse(file: &str, bytes: &[u8]) -> Result<RawMesh, MeshError> {
    let err = |line: usize, msg: String| MeshError::Parse {
        file: file.to_string(),
        line: Some(line),
        msg,
    };
    let mut vertices: Vec<[f64; 3]> = Vec::new();
    let mut triangles: Vec<[u32; 3]> = Vec::new();
    let mut corners: Vec<u32> = Vec::new();
    let mut face = 0usize;
    // Positive indices may point at vertices defined later; the largest is checked at the end.
    let mut largest: Option<(i64, usize, usize)> = None; // (index, line, face)
    for (i, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let content = match raw_line.iter().position(|&b| b == b'#') {
            Some(p) => &raw_line[..p],
            None => raw_line,
        };
        let mut tokens = content
            .split(|b| b.is_ascii_whitespace())
            .filter(|t| !t.is_empty());
        match tokens.next() {
            Some(b"v") => {
                let mut v = [0.0; 3];
                for (k, slot) in v.iter_mut().enumerate() {
                    let t = tokens.next().ok_or_else(|| {
                        err(line, format!("vertex needs 3 coordinates, found {k}"))
                    })?;
                    *slot = std::str::from_utf8(t)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                        .ok_or_else(|| err(line, format!("{} is not a number", quote(t))))?;
                }
                if let Some(&bad) = v.iter().find(|x| !x.is_finite()) {
                    return Err(MeshError::NonFinite {
                        file: file.to_string(),
                        vertex: vertices.len(),
                        line: Some(line),
                        value: bad,
                    });
                }
                vertices.push(v);
            }
            Some(b"f") => {
                corners.clear();
                for t in tokens {
                    let v = t.split(|&b| b == b'/').next().unwrap_or(t);
                    let idx = std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                        .ok_or_else(|| {
                            err(
                                line,
                                format!("face corner {} is not a vertex index", quote(t)),
                            )
                        })?;
                    let bad = || MeshError::BadIndex {
                        file: file.to_string(),
                        line: Some(line),
                        face,
                        index: idx,
                        count: vertices.len(),
                        note: NOTE,
                    };
                    let zero_based = match idx {
                        0 => return Err(bad()),
                        i if i > 0 => {
                            if largest.is_none_or(|(l, _, _)| i > l) {
                                largest = Some((i, line, face));
                            }
                            i - 1
                        }
                        i => {
                            let j = vertices.len() as i64 + i;
                            if j < 0 {
                                return Err(bad());
                            }
                            j
                        }
                    };
                    let c = u32::try_from(zero_based).map_err(|_| bad())?;
                    corners.push(c);
                }
                if corners.len() < 3 {
                    return Err(err(
                        line,
                        format!("face has {} corners; it needs at least 3", corners.len()),
                    ));
                }
                for k in 1..corners.len() - 1 {
                    triangles.push([corners[0], corners[k], corners[k + 1]]);
                }
                face += 1;
            }
            _ => {}
        }
    }
    if let Some((index, line, face)) = largest {
        if index > vertices.len() as i64 {
            return Err(MeshError::BadIndex {
                file: file.to_string(),
                line: Some(line),
                face,
                index,
                count: vertices.len(),
                note: NOTE,
            });
        }
    }
    Ok(RawMesh {
        vertices,
        triangles,
        format: "obj",
        stl_normals_disagreeing: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{parse_mesh, MeshError, Units};

    fn parse(text: &str) -> Result<(super::super::TriMesh, super::super::MeshReport), MeshError> {
        parse_mesh("m.obj", text.as_bytes(), Units::Millimetres)
    }

    #[test]
    fn all_corner_syntaxes_negative_indices_and_polygons() {
        let text = "# a 10 mm square and a triangle\n\
                    mtllib x.mtl\no square\n\
                    v 0 0 0\nv 10 0 0 1.0\nv 10 10 0 0.5 0.5 0.5\nv 0 10 0\n\
                    vt 0 0\nvn 0 0 1\ns off\nusemtl skin\n\
                    f 1/1 2//1 3/1/1 -1\n\
                    v 0 0 10\n\
                    f -5 -1 -4   # comment after a face\n\
                    l 1 2\n";
        let (m, r) = parse(text).expect("parses");
        assert_eq!(r.triangles_read, 3);
        assert_eq!(m.triangles.len(), 3);
        assert_eq!(m.vertices.len(), 5);
        assert_eq!(r.components, 1);
    }

    #[test]
    fn bad_indices_are_errors() {
        let e = parse("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n").unwrap_err();
        assert!(
            matches!(
                e,
                MeshError::BadIndex {
                    index: 4,
                    count: 3,
                    line: Some(4),
                    face: 0,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("m.obj: line 4: face 0 refers to vertex 4, but there are 3 vertices"),
            "{e}"
        );
        let e = parse("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 0\n").unwrap_err();
        assert!(matches!(e, MeshError::BadIndex { index: 0, .. }), "{e}");
        let e = parse("v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -4\n").unwrap_err();
        assert!(matches!(e, MeshError::BadIndex { index: -4, .. }), "{e}");
        let e = parse("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 x\n").unwrap_err();
        assert!(matches!(e, MeshError::Parse { line: Some(4), .. }), "{e}");
        let e = parse("v 0 0 0\nv 1 0 0\nf 1 2\n").unwrap_err();
        assert!(matches!(e, MeshError::Parse { line: Some(3), .. }), "{e}");
        let e = parse("v 0 0 0\nf 1 2 99999999999\n").unwrap_err();
        assert!(matches!(e, MeshError::BadIndex { .. }), "{e}");
    }

    #[test]
    fn forward_references_are_allowed() {
        let (m, _) = parse("f 1 2 3\nv 0 0 0\nv 10 0 0\nv 0 10 0\n").expect("parses");
        assert_eq!(m.triangles.len(), 1);
    }

    #[test]
    fn nan_and_malformed_vertices() {
        let e = parse("v 0 0 0\nv 1 nan 0\nv 0 1 0\nf 1 2 3\n").unwrap_err();
        assert!(
            matches!(
                e,
                MeshError::NonFinite {
                    vertex: 1,
                    line: Some(2),
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "m.obj: line 2: vertex 1 has a non-finite coordinate (NaN)"
        );
        let e = parse("v 0 0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "m.obj: line 1: vertex needs 3 coordinates, found 2"
        );
        let e = parse("v 0 0 1e999\nv 0 0 0\nv 0 1 0\nf 1 2 3\n").unwrap_err();
        assert!(matches!(e, MeshError::NonFinite { vertex: 0, .. }), "{e}");
    }

    #[test]
    fn no_faces_is_empty() {
        let e = parse("v 0 0 0\nv 1 0 0\n").unwrap_err();
        assert!(matches!(e, MeshError::Empty { .. }), "{e}");
    }

    #[test]
    fn flipped_triangle_in_sheet_is_fixed_and_counted() {
        let mut sheet = square_sheet();
        sheet.triangles[1].swap(1, 2);
        let (m, r) = parse_mesh("s.obj", &write_obj(&sheet), Units::Millimetres).expect("ok");
        assert_eq!(r.winding_fixed, 1);
        assert_eq!(m.triangle_normal(0), [0.0, 0.0, 1.0]);
        assert_eq!(m.triangle_normal(1), [0.0, 0.0, 1.0]);
    }
}
