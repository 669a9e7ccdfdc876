//! STL, binary and ASCII.
//!
//! Binary: an 80-byte header, a little-endian `u32` triangle count n, then n records of
//! 50 bytes (normal, three vertices as `f32` triples, a 2-byte attribute). Some writers
//! start the binary header with `solid`, so the format is decided by the length: a file of
//! exactly 84 + 50·n bytes is binary; otherwise a file that starts with `solid` and is all
//! text is ASCII; anything else is a binary file of the wrong length (an error naming the
//! expected and actual byte counts).
//!
//! ASCII: `solid name` / `facet normal nx ny nz` / `outer loop` / `vertex x y z` ×3 /
//! `endloop` / `endfacet` … `endsolid name`, one statement per line (keywords in any case,
//! several solids allowed). Errors name the line.
//!
//! Stored normals are not used: the winding decides the facing side. Facets whose stored
//! normal points against the winding's normal are counted for the report.

use super::{cross, dot, quote, sub, MeshError, RawMesh};

const HEADER: usize = 84;
const RECORD: u64 = 50;

/// Parse STL bytes (binary or ASCII) into file-unit vertices (three per facet, unwelded).
pub(crate) fn parse(file: &str, bytes: &[u8]) -> Result<RawMesh, MeshError> {
    let len = bytes.len() as u64;
    let count = bytes
        .get(80..HEADER)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes);
    if let Some(n) = count {
        if HEADER as u64 + RECORD * n as u64 == len {
            return parse_binary(file, bytes, n as usize);
        }
    }
    if looks_ascii(bytes) {
        return parse_ascii(file, bytes);
    }
    match count {
        None => Err(MeshError::Truncated {
            file: file.to_string(),
            what: "the header and triangle count".to_string(),
            expected: HEADER as u64,
            got: len,
        }),
        Some(n) => {
            let expected = HEADER as u64 + RECORD * n as u64;
            if expected > len {
                Err(MeshError::Truncated {
                    file: file.to_string(),
                    what: format!("{n} triangles"),
                    expected,
                    got: len,
                })
            } else {
                Err(MeshError::Parse {
                    file: file.to_string(),
                    line: None,
                    msg: format!(
                        "binary STL has {} bytes after its {n} triangles \
                         ({n} triangles need {expected} bytes, file has {len}), \
                         and it is not ASCII STL",
                        len - expected
                    ),
                })
            }
        }
    }
}

/// Starts with `solid` (after optional whitespace) and holds no control bytes other than
/// whitespace: binary float data practically always contains some.
fn looks_ascii(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let head = &bytes[start..];
    head.len() >= 5
        && head[..5].eq_ignore_ascii_case(b"solid")
        && bytes
            .iter()
            .all(|&b| b >= 0x20 || b == b'\n' || b == b'\r' || b == b'\t' || b == 0x0c)
}

fn f32_at(rec: &[u8], i: usize) -> f32 {
    let mut b = [0u8; 4];
    if let Some(s) = rec.get(4 * i..4 * i + 4) {
        b.copy_from_slice(s);
    }
    f32::from_le_bytes(b)
}

/// Does a stored normal point against the winding's normal?
fn disagrees(stored: [f64; 3], v: &[[f64; 3]]) -> bool {
    if v.len() < 3 || !stored.iter().all(|x| x.is_finite()) {
        return false;
    }
    let n = cross(sub(v[1], v[0]), sub(v[2], v[0]));
    dot(stored, n) < 0.0
}

fn parse_binary(file: &str, bytes: &[u8], n: usize) -> Result<RawMesh, MeshError> {
    let mut vertices = Vec::with_capacity(3 * n);
    let mut triangles = Vec::with_capacity(n);
    let mut disagreeing = 0;
    let body = bytes.get(HEADER..).unwrap_or(&[]);
    for (t, rec) in body.chunks_exact(RECORD as usize).enumerate().take(n) {
        let normal = [f32_at(rec, 0), f32_at(rec, 1), f32_at(rec, 2)].map(f64::from);
        for k in 0..3 {
            let v = [
                f32_at(rec, 3 + 3 * k),
                f32_at(rec, 4 + 3 * k),
                f32_at(rec, 5 + 3 * k),
            ]
            .map(f64::from);
            if let Some(&bad) = v.iter().find(|x| !x.is_finite()) {
                return Err(MeshError::NonFinite {
                    file: file.to_string(),
                    vertex: 3 * t + k,
                    line: None,
                    value: bad,
                });
            }
            vertices.push(v);
        }
        if disagrees(normal, &vertices[3 * t..]) {
            disagreeing += 1;
        }
        let i = index(file, 3 * t)?;
        triangles.push([i, i + 1, i + 2]);
    }
    Ok(RawMesh {
        vertices,
        triangles,
        format: "stl-binary",
        stl_normals_disagreeing: disagreeing,
    })
}

/// Vertex index as u32, or an error for files beyond 4 billion vertices.
fn index(file: &str, i: usize) -> Result<u32, MeshError> {
    u32::try_from(i + 2)
        .map(|_| i as u32)
        .map_err(|_| MeshError::Unsupported {
            file: file.to_string(),
            what: "a mesh with more than 4 billion vertices".to_string(),
        })
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    /// Before `solid` or after `endsolid`.
    Outside,
    /// Inside a solid, between facets.
    Solid,
    /// After `facet normal`, expecting `outer loop`.
    Facet,
    /// Inside `outer loop`: vertices, then `endloop`.
    Loop,
    /// After `endloop`, expecting `endfacet`.
    EndLoop,
}

fn parse_ascii(file: &str, bytes: &[u8]) -> Result<RawMesh, MeshError> {
    let err = |line: usize, msg: String| MeshError::Parse {
        file: file.to_string(),
        line: Some(line),
        msg,
    };
    let mut vertices: Vec<[f64; 3]> = Vec::new();
    let mut triangles = Vec::new();
    let mut disagreeing = 0;
    let mut state = State::Outside;
    let mut normal = [0.0; 3];
    let mut in_loop = 0usize;
    let mut last_line = 0;
    for (i, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let mut tokens = raw_line
            .split(|b| b.is_ascii_whitespace())
            .filter(|t| !t.is_empty());
        let Some(keyword) = tokens.next() else {
            continue;
        };
        last_line = line;
        let is = |k: &str| keyword.eq_ignore_ascii_case(k.as_bytes());
        let expected = match state {
            State::Outside => "solid",
            State::Solid => "facet or endsolid",
            State::Facet => "outer loop",
            State::Loop if in_loop < 3 => "vertex",
            State::Loop => "endloop",
            State::EndLoop => "endfacet",
        };
        let unexpected = || {
            err(
                line,
                format!("expected {expected}, found {}", quote(keyword)),
            )
        };
        match state {
            State::Outside if is("solid") => state = State::Solid,
            State::Solid if is("endsolid") => state = State::Outside,
            State::Solid if is("facet") => {
                if !tokens
                    .next()
                    .is_some_and(|t| t.eq_ignore_ascii_case(b"normal"))
                {
                    return Err(err(line, "expected \"facet normal nx ny nz\"".to_string()));
                }
                normal = numbers(tokens, "facet normal").map_err(|m| err(line, m))?;
                state = State::Facet;
            }
            State::Facet if is("outer") => {
                if !tokens
                    .next()
                    .is_some_and(|t| t.eq_ignore_ascii_case(b"loop"))
                {
                    return Err(err(line, "expected \"outer loop\"".to_string()));
                }
                end_of_line(&mut tokens).map_err(|m| err(line, m))?;
                in_loop = 0;
                state = State::Loop;
            }
            State::Loop if is("vertex") => {
                if in_loop == 3 {
                    return Err(err(
                        line,
                        "facet has more than 3 vertices; STL facets are triangles".to_string(),
                    ));
                }
                let v = numbers(tokens, "vertex").map_err(|m| err(line, m))?;
                if let Some(&bad) = v.iter().find(|x| !x.is_finite()) {
                    return Err(MeshError::NonFinite {
                        file: file.to_string(),
                        vertex: vertices.len(),
                        line: Some(line),
                        value: bad,
                    });
                }
                vertices.push(v);
                in_loop += 1;
            }
            State::Loop if is("endloop") => {
                end_of_line(&mut tokens).map_err(|m| err(line, m))?;
                if in_loop != 3 {
                    return Err(err(
                        line,
                        format!("facet has {in_loop} vertices; STL facets are triangles"),
                    ));
                }
                let first = vertices.len() - 3;
                if disagrees(normal, &vertices[first..]) {
                    disagreeing += 1;
                }
                let i = index(file, first)?;
                triangles.push([i, i + 1, i + 2]);
                state = State::EndLoop;
            }
            State::EndLoop if is("endfacet") => {
                end_of_line(&mut tokens).map_err(|m| err(line, m))?;
                state = State::Solid;
            }
            _ => return Err(unexpected()),
        }
    }
    match state {
        State::Outside | State::Solid => Ok(RawMesh {
            vertices,
            triangles,
            format: "stl-ascii",
            stl_normals_disagreeing: disagreeing,
        }),
        _ => Err(err(last_line, "file ends inside a facet".to_string())),
    }
}

/// Nothing more on the line.
fn end_of_line<'a>(tokens: &mut impl Iterator<Item = &'a [u8]>) -> Result<(), String> {
    match tokens.next() {
        Some(extra) => Err(format!("unexpected {} at end of line", quote(extra))),
        None => Ok(()),
    }
}

/// Exactly three numbers from the rest of a line.
fn numbers<'a>(mut tokens: impl Iterator<Item = &'a [u8]>, what: &str) -> Result<[f64; 3], String> {
    let mut out = [0.0; 3];
    for (k, slot) in out.iter_mut().enumerate() {
        let Some(t) = tokens.next() else {
            return Err(format!("{what} needs 3 numbers, found {k}"));
        };
        *slot = std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| format!("{what}: {} is not a number", quote(t)))?;
    }
    if let Some(t) = tokens.next() {
        return Err(format!("{what} needs 3 numbers, found more ({})", quote(t)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{parse_mesh, MeshError, Units};

    #[test]
    fn binary_and_ascii_agree() {
        let tet = tetrahedron();
        let (b, rb) =
            parse_mesh("t.stl", &write_stl_binary(&tet), Units::Millimetres).expect("binary");
        let (a, ra) =
            parse_mesh("t.stl", &write_stl_ascii(&tet), Units::Millimetres).expect("ascii");
        assert_eq!(rb.format, "stl-binary");
        assert_eq!(ra.format, "stl-ascii");
        assert_eq!(rb.triangles_read, 4);
        assert_eq!(rb.duplicates_welded, 12 - 4);
        assert_eq!(ra.duplicates_welded, 12 - 4);
        assert_eq!(a.vertices, b.vertices);
        assert_eq!(a.triangles, b.triangles);
        assert!(rb.closed && ra.closed);
        assert_eq!(rb.stl_normals_disagreeing, 0);
    }

    #[test]
    fn binary_with_solid_header_is_still_binary() {
        let mut bytes = write_stl_binary(&tetrahedron());
        bytes[..11].copy_from_slice(b"solid knee ");
        let (_, r) = parse_mesh("t.stl", &bytes, Units::Millimetres).expect("binary");
        assert_eq!(r.format, "stl-binary");
        assert_eq!(r.triangles_read, 4);
    }

    #[test]
    fn truncated_binary_names_byte_counts() {
        let mut bytes = write_stl_binary(&tetrahedron());
        bytes[80..84].copy_from_slice(&1000u32.to_le_bytes());
        bytes.resize(3000, 0);
        let e = parse_mesh("knee.stl", &bytes, Units::Auto).unwrap_err();
        assert!(matches!(
            e,
            MeshError::Truncated {
                expected: 50084,
                got: 3000,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "knee.stl: binary STL truncated: 1000 triangles need 50084 bytes, file has 3000"
        );
        // Cut mid-record, also with a "solid" header.
        let mut bytes = write_stl_binary(&tetrahedron());
        bytes[..5].copy_from_slice(b"solid");
        bytes.truncate(bytes.len() - 7);
        let e = parse_mesh("knee.stl", &bytes, Units::Auto).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("4 triangles need 284 bytes, file has 277"),
            "{e}"
        );
        let e = parse_mesh("knee.stl", &[0u8; 40], Units::Auto).unwrap_err();
        assert!(
            matches!(
                e,
                MeshError::Truncated {
                    expected: 84,
                    got: 40,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn nan_vertex_is_an_error() {
        let mut tet = tetrahedron();
        tet.vertices[2][1] = f64::NAN;
        let e = parse_mesh("k.stl", &write_stl_binary(&tet), Units::Auto).unwrap_err();
        // Vertex 2 is first used by facet 0, corner 1 (raw vertex index 1).
        assert!(
            matches!(
                e,
                MeshError::NonFinite {
                    vertex: 1,
                    line: None,
                    ..
                }
            ),
            "{e}"
        );
        let e = parse_mesh("k.stl", &write_stl_ascii(&tet), Units::Auto).unwrap_err();
        assert!(
            matches!(
                e,
                MeshError::NonFinite {
                    vertex: 1,
                    line: Some(5),
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("k.stl: line 5: vertex 1 has a non-finite"),
            "{e}"
        );
    }

    #[test]
    fn ascii_errors_name_the_line() {
        let text =
            "solid x\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n   vertex 1 0 zero\n";
        let e = parse_mesh("a.stl", text.as_bytes(), Units::Auto).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.stl: line 5: vertex: \"zero\" is not a number"
        );
        let text = "solid x\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n   endloop\n";
        let e = parse_mesh("a.stl", text.as_bytes(), Units::Auto).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.stl: line 5: facet has 1 vertices; STL facets are triangles"
        );
        let text = "solid x\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n";
        let e = parse_mesh("a.stl", text.as_bytes(), Units::Auto).unwrap_err();
        assert_eq!(e.to_string(), "a.stl: line 4: file ends inside a facet");
        let text = "solid x\n vertex 0 0 0\n";
        let e = parse_mesh("a.stl", text.as_bytes(), Units::Auto).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.stl: line 2: expected facet or endsolid, found \"vertex\""
        );
        let e = parse_mesh("a.stl", b"solid empty\nendsolid empty\n", Units::Auto).unwrap_err();
        assert!(matches!(e, MeshError::Empty { .. }), "{e}");
    }

    #[test]
    fn disagreeing_normals_are_counted_not_used() {
        let sheet = square_sheet();
        let mut bytes = write_stl_binary(&sheet);
        // Facet 1's stored normal: (0, 0, -1) against a +z winding.
        bytes[84 + 50 + 8..84 + 50 + 12].copy_from_slice(&(-1.0f32).to_le_bytes());
        let (m, r) = parse_mesh("s.stl", &bytes, Units::Millimetres).expect("parses");
        assert_eq!(r.stl_normals_disagreeing, 1);
        assert_eq!(r.winding_fixed, 0);
        assert_eq!(m.triangle_normal(1), [0.0, 0.0, 1.0]);
        let text = String::from_utf8(write_stl_ascii(&sheet))
            .expect("utf8")
            .replacen("facet normal 0 0 1", "facet normal 0 0 -1", 2);
        let (_, r) = parse_mesh("s.stl", text.as_bytes(), Units::Millimetres).expect("parses");
        assert_eq!(r.stl_normals_disagreeing, 2);
    }
}
