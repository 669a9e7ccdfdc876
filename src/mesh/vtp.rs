//! VTK XML PolyData (`.vtp`) as OpenSim writes its geometry.
//!
//! Read: `<VTKFile type="PolyData">` → `<PolyData>` → one or more
//! `<Piece NumberOfPoints=… NumberOfPolys=…>`, each with `<Points>` (one `DataArray`,
//! `NumberOfComponents="3"`) and `<Polys>` (`DataArray`s named `connectivity` and
//! `offsets`, the offsets being each polygon's end in `connectivity`). Polygons are
//! fan-triangulated from their first corner; pieces are concatenated.
//!
//! Data arrays may be `format="ascii"` (whitespace-separated numbers) or inline
//! `format="binary"`: base64 of a byte-count header (one `UInt32`, or `UInt64` when the
//! file says `header_type="UInt64"`) followed by the raw values in the file's
//! `byte_order`; the header may be encoded separately from the data or together with it.
//! Value types: `Float32`, `Float64`, `Int32`, `Int64`, `UInt32`, `UInt64`.
//!
//! Not read (a clear "not supported" error): `format="appended"` data, compressed binary
//! data (a `binary` array in a file with a `compressor` attribute), triangle strips.
//! A `compressor` attribute on a file whose arrays are all ascii is fine: it only applies
//! to binary data, and OpenSim's geometry files commonly declare `vtkZLibDataCompressor`
//! while writing ascii. Vertices, lines and point/cell data arrays are ignored.

use base64::Engine as _;
use roxmltree::{Document, Node};

use super::{quote, MeshError, RawMesh};

const NOTE: &str = " (VTP connectivity indices are 0-based within their Piece)";

struct Ctx<'a, 'f> {
    file: &'f str,
    text: &'a str,
    doc: &'a Document<'a>,
    big_endian: bool,
    header_u64: bool,
    compressor: Option<&'a str>,
}

impl Ctx<'_, '_> {
    fn line(&self, node: Node) -> usize {
        self.doc.text_pos_at(node.range().start).row as usize
    }

    fn err(&self, node: Node, msg: String) -> MeshError {
        MeshError::Parse {
            file: self.file.to_string(),
            line: Some(self.line(node)),
            msg,
        }
    }

    fn unsupported(&self, what: String) -> MeshError {
        MeshError::Unsupported {
            file: self.file.to_string(),
            what,
        }
    }

    /// Line of a slice of the document text, if it points into it (else `None`).
    fn line_of_slice(&self, s: &str) -> Option<usize> {
        let start = self.text.as_ptr() as usize;
        let p = s.as_ptr() as usize;
        if p >= start && p <= start + self.text.len() {
            Some(self.doc.text_pos_at(p - start).row as usize)
        } else {
            None
        }
    }

    fn count_attr(&self, node: Node, name: &str) -> Result<usize, MeshError> {
        match node.attribute(name) {
            None => Ok(0),
            Some(v) => v.trim().parse::<usize>().map_err(|_| {
                self.err(
                    node,
                    format!("{name}={} is not a count", quote(v.as_bytes())),
                )
            }),
        }
    }
}

/// Element children of `node` with the given tag name.
fn children<'a, 'i>(node: Node<'a, 'i>, tag: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == tag)
}

fn find_subslice(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Parse VTP bytes into file-unit vertices and fan-triangulated polygons.
pub(crate) fn parse(file: &str, bytes: &[u8]) -> Result<RawMesh, MeshError> {
    if find_subslice(bytes, b"<AppendedData") {
        return Err(MeshError::Unsupported {
            file: file.to_string(),
            what: "VTP appended data (<AppendedData>, format=\"appended\")".to_string(),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let upto = bytes.get(..e.valid_up_to()).unwrap_or(&[]);
        MeshError::Parse {
            file: file.to_string(),
            line: Some(1 + upto.iter().filter(|&&b| b == b'\n').count()),
            msg: "not UTF-8 text, so not a VTK XML file".to_string(),
        }
    })?;
    let doc = Document::parse(text).map_err(|e| MeshError::Parse {
        file: file.to_string(),
        line: Some(e.pos().row as usize),
        msg: format!("invalid XML: {e}"),
    })?;
    let root = doc.root_element();
    let mut ctx = Ctx {
        file,
        text,
        doc: &doc,
        big_endian: false,
        header_u64: false,
        compressor: None,
    };
    if root.tag_name().name() != "VTKFile" {
        return Err(ctx.err(
            root,
            format!(
                "not a VTK XML file (root element <{}>, expected <VTKFile>)",
                root.tag_name().name()
            ),
        ));
    }
    match root.attribute("type") {
        Some("PolyData") => {}
        Some(other) => {
            return Err(ctx.unsupported(format!(
                "VTK file type {} (only PolyData)",
                quote(other.as_bytes())
            )))
        }
        None => return Err(ctx.err(root, "<VTKFile> has no type attribute".to_string())),
    }
    // A compressor only applies to binary arrays: OpenSim's geometry files declare
    // vtkZLibDataCompressor while writing every array as ascii, and those read fine.
    ctx.compressor = root
        .attribute("compressor")
        .map(str::trim)
        .filter(|c| !c.is_empty());
    ctx.big_endian = match root.attribute("byte_order") {
        None | Some("LittleEndian") => false,
        Some("BigEndian") => true,
        Some(other) => {
            return Err(ctx.err(
                root,
                format!("unknown byte_order {}", quote(other.as_bytes())),
            ))
        }
    };
    ctx.header_u64 = match root.attribute("header_type") {
        None | Some("UInt32") => false,
        Some("UInt64") => true,
        Some(other) => {
            return Err(ctx.unsupported(format!(
                "header_type {} (only UInt32 and UInt64)",
                quote(other.as_bytes())
            )))
        }
    };
    let poly = children(root, "PolyData")
        .next()
        .ok_or_else(|| ctx.err(root, "<VTKFile> has no <PolyData> element".to_string()))?;

    let mut out = RawMesh {
        format: "vtp",
        ..RawMesh::default()
    };
    let mut face_base = 0usize;
    for piece in children(poly, "Piece") {
        read_piece(&ctx, piece, &mut out, &mut face_base)?;
    }
    Ok(out)
}

fn read_piece(
    ctx: &Ctx,
    piece: Node,
    out: &mut RawMesh,
    face_base: &mut usize,
) -> Result<(), MeshError> {
    if piece.attribute("NumberOfPoints").is_none() {
        return Err(ctx.err(piece, "<Piece> has no NumberOfPoints".to_string()));
    }
    let n_points = ctx.count_attr(piece, "NumberOfPoints")?;
    let n_polys = ctx.count_attr(piece, "NumberOfPolys")?;
    if ctx.count_attr(piece, "NumberOfStrips")? > 0 {
        return Err(ctx.unsupported("VTP triangle strips (<Strips>)".to_string()));
    }
    let base = out.vertices.len();

    // Points.
    if n_points > 0 {
        let points = children(piece, "Points")
            .next()
            .ok_or_else(|| ctx.err(piece, "<Piece> has no <Points>".to_string()))?;
        let array = children(points, "DataArray")
            .next()
            .ok_or_else(|| ctx.err(points, "<Points> has no <DataArray>".to_string()))?;
        match array.attribute("NumberOfComponents").map(str::trim) {
            Some("3") => {}
            other => {
                return Err(ctx.err(
                    array,
                    format!(
                        "points need NumberOfComponents=\"3\", found {}",
                        other.map_or("none".to_string(), |o| quote(o.as_bytes()))
                    ),
                ))
            }
        }
        let want = n_points
            .checked_mul(3)
            .ok_or_else(|| ctx.err(piece, format!("NumberOfPoints={n_points} is too large")))?;
        let values = read_array(ctx, array, want, "points")?;
        let coords = match values {
            Values::F(v) => v,
            Values::I(v) => v.into_iter().map(|x| x as f64).collect(),
        };
        if let Some(i) = coords.iter().position(|x| !x.is_finite()) {
            return Err(MeshError::NonFinite {
                file: ctx.file.to_string(),
                vertex: base + i / 3,
                line: Some(ascii_token_line(ctx, array, i).unwrap_or_else(|| ctx.line(array))),
                value: coords[i],
            });
        }
        out.vertices
            .extend(coords.chunks_exact(3).map(|c| [c[0], c[1], c[2]]));
    }

    // Polygons.
    if n_polys == 0 {
        return Ok(());
    }
    let polys = children(piece, "Polys")
        .next()
        .ok_or_else(|| ctx.err(piece, format!("<Piece> has {n_polys} polys but no <Polys>")))?;
    let named = |name: &str| {
        children(polys, "DataArray")
            .find(|a| a.attribute("Name") == Some(name))
            .ok_or_else(|| ctx.err(polys, format!("<Polys> has no DataArray named \"{name}\"")))
    };
    let offsets_node = named("offsets")?;
    let conn_node = named("connectivity")?;
    let offsets = ints(ctx, offsets_node, n_polys, "offsets")?;
    let last = offsets.last().copied().unwrap_or(0);
    let want_conn = usize::try_from(last)
        .map_err(|_| ctx.err(offsets_node, format!("offset {last} is out of range")))?;
    let conn = ints(ctx, conn_node, want_conn, "connectivity")?;
    let mut start = 0usize;
    for (p, &end) in offsets.iter().enumerate() {
        let end = usize::try_from(end)
            .ok()
            .filter(|&e| e >= start && e <= conn.len())
            .ok_or_else(|| {
                ctx.err(
                    offsets_node,
                    format!(
                        "offset {end} of polygon {p} is not between {start} and {}",
                        conn.len()
                    ),
                )
            })?;
        let corners = &conn[start..end];
        if corners.len() < 3 {
            return Err(ctx.err(
                conn_node,
                format!(
                    "polygon {p} has {} points; it needs at least 3",
                    corners.len()
                ),
            ));
        }
        let mut idx = [0u32; 3];
        let mut first = 0u32;
        for (k, &c) in corners.iter().enumerate() {
            let global = usize::try_from(c)
                .ok()
                .filter(|&c| c < n_points)
                .and_then(|c| u32::try_from(base + c).ok())
                .ok_or_else(|| MeshError::BadIndex {
                    file: ctx.file.to_string(),
                    line: Some(ctx.line(conn_node)),
                    face: *face_base + p,
                    index: c,
                    count: n_points,
                    note: NOTE,
                })?;
            match k {
                0 => first = global,
                1 => idx[2] = global,
                _ => {
                    idx = [first, idx[2], global];
                    out.triangles.push(idx);
                }
            }
        }
        start = end;
    }
    *face_base += offsets.len();
    Ok(())
}

enum Values {
    F(Vec<f64>),
    I(Vec<i64>),
}

#[derive(Clone, Copy)]
enum Kind {
    F32,
    F64,
    I32,
    I64,
    U32,
    U64,
}

impl Kind {
    fn size(self) -> usize {
        match self {
            Kind::F32 | Kind::I32 | Kind::U32 => 4,
            Kind::F64 | Kind::I64 | Kind::U64 => 8,
        }
    }
    fn is_float(self) -> bool {
        matches!(self, Kind::F32 | Kind::F64)
    }
}

fn ints(ctx: &Ctx, node: Node, want: usize, what: &str) -> Result<Vec<i64>, MeshError> {
    match read_array(ctx, node, want, what)? {
        Values::I(v) => Ok(v),
        Values::F(_) => Err(ctx.err(
            node,
            format!(
                "{what} must be an integer DataArray, not {}",
                node.attribute("type").unwrap_or("?")
            ),
        )),
    }
}

/// The text content of a DataArray (one text child borrowed, several joined).
fn array_text<'a>(node: Node<'a, '_>) -> std::borrow::Cow<'a, str> {
    let mut texts = node.children().filter(|c| c.is_text());
    match (texts.next(), texts.next()) {
        (None, _) => std::borrow::Cow::Borrowed(""),
        (Some(t), None) => std::borrow::Cow::Borrowed(t.text().unwrap_or("")),
        _ => std::borrow::Cow::Owned(
            node.children()
                .filter(|c| c.is_text())
                .filter_map(|c| c.text())
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

/// Line of the `i`-th number of an ASCII DataArray (for error messages).
fn ascii_token_line(ctx: &Ctx, node: Node, i: usize) -> Option<usize> {
    if node.attribute("format") != Some("ascii") {
        return None;
    }
    let text = node.children().find(|c| c.is_text())?.text()?;
    let token = text.split_ascii_whitespace().nth(i)?;
    ctx.line_of_slice(token)
}

/// Read exactly `want` values from a DataArray.
fn read_array(ctx: &Ctx, node: Node, want: usize, what: &str) -> Result<Values, MeshError> {
    let ty = node.attribute("type").unwrap_or("");
    let kind = match ty {
        "Float32" => Kind::F32,
        "Float64" => Kind::F64,
        "Int32" => Kind::I32,
        "Int64" => Kind::I64,
        "UInt32" => Kind::U32,
        "UInt64" => Kind::U64,
        _ => {
            return Err(ctx.unsupported(format!(
                "DataArray type {} for {what} (line {}; Float32, Float64, Int32, Int64, UInt32 and UInt64 are read)",
                quote(ty.as_bytes()),
                ctx.line(node)
            )))
        }
    };
    match node.attribute("format") {
        Some("ascii") => read_ascii(ctx, node, want, what, kind),
        Some("binary") => read_binary(ctx, node, want, what, kind),
        Some("appended") => Err(ctx.unsupported(format!(
            "VTP appended data (format=\"appended\", line {})",
            ctx.line(node)
        ))),
        other => Err(ctx.err(
            node,
            format!(
                "DataArray format {} (expected ascii or binary)",
                other.map_or("missing".to_string(), |o| quote(o.as_bytes()))
            ),
        )),
    }
}

fn read_ascii(
    ctx: &Ctx,
    node: Node,
    want: usize,
    what: &str,
    kind: Kind,
) -> Result<Values, MeshError> {
    let text = array_text(node);
    let tokens = text.split_ascii_whitespace();
    let bad = |t: &str| {
        let line = ctx.line_of_slice(t).unwrap_or_else(|| ctx.line(node));
        MeshError::Parse {
            file: ctx.file.to_string(),
            line: Some(line),
            msg: format!(
                "{what}: {} is not a valid {}",
                quote(t.as_bytes()),
                node.attribute("type").unwrap_or("")
            ),
        }
    };
    let values = if kind.is_float() {
        let mut v = Vec::with_capacity(want.min(1 << 24));
        for t in tokens {
            v.push(t.parse::<f64>().map_err(|_| bad(t))?);
        }
        Values::F(v)
    } else {
        let mut v = Vec::with_capacity(want.min(1 << 24));
        for t in tokens {
            let x = match kind {
                Kind::U32 | Kind::U64 => t.parse::<u64>().ok().and_then(|u| i64::try_from(u).ok()),
                _ => t.parse::<i64>().ok(),
            };
            v.push(x.ok_or_else(|| bad(t))?);
        }
        Values::I(v)
    };
    let got = match &values {
        Values::F(v) => v.len(),
        Values::I(v) => v.len(),
    };
    if got != want {
        return Err(ctx.err(node, format!("{what}: expected {want} values, found {got}")));
    }
    Ok(values)
}

/// Decode base64 that may be several padded chunks concatenated (VTK may encode the
/// byte-count header separately from the data).
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let mut chunk_start = 0;
    let mut i = 0;
    while i < clean.len() {
        let end = (i + 4).min(clean.len());
        i = end;
        if clean[end - 1] == b'=' || end == clean.len() {
            base64::engine::general_purpose::STANDARD
                .decode_vec(&clean[chunk_start..end], &mut out)
                .map_err(|e| e.to_string())?;
            chunk_start = end;
        }
    }
    Ok(out)
}

fn read_binary(
    ctx: &Ctx,
    node: Node,
    want: usize,
    what: &str,
    kind: Kind,
) -> Result<Values, MeshError> {
    if let Some(c) = ctx.compressor {
        return Err(ctx.unsupported(format!(
            "compressed binary VTP data (compressor={}, {what} on line {})",
            quote(c.as_bytes()),
            ctx.line(node)
        )));
    }
    let text = array_text(node);
    let bytes = decode_base64(&text).map_err(|e| {
        ctx.err(
            node,
            format!("{what}: invalid base64 in binary DataArray: {e}"),
        )
    })?;
    let hsize = if ctx.header_u64 { 8 } else { 4 };
    let header = bytes.get(..hsize).ok_or_else(|| {
        ctx.err(
            node,
            format!("{what}: binary DataArray is shorter than its {hsize}-byte header"),
        )
    })?;
    let nbytes = if ctx.header_u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(header);
        if ctx.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        }
    } else {
        let mut b = [0u8; 4];
        b.copy_from_slice(header);
        u64::from(if ctx.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let size = kind.size();
    let need = (want as u64).saturating_mul(size as u64);
    if nbytes != need {
        return Err(ctx.err(
            node,
            format!("{what}: binary DataArray holds {nbytes} bytes, expected {need} ({want} values of {} bytes)", size),
        ));
    }
    let data = bytes
        .get(hsize..)
        .and_then(|d| d.get(..need as usize))
        .ok_or_else(|| {
            ctx.err(
                node,
                format!(
                    "{what}: binary DataArray truncated: header says {nbytes} bytes, {} decoded",
                    bytes.len().saturating_sub(hsize)
                ),
            )
        })?;
    let be = ctx.big_endian;
    let chunks = data.chunks_exact(size);
    macro_rules! conv {
        ($t:ty, $n:literal) => {
            chunks.map(|c| {
                let mut b = [0u8; $n];
                b.copy_from_slice(c);
                if be {
                    <$t>::from_be_bytes(b)
                } else {
                    <$t>::from_le_bytes(b)
                }
            })
        };
    }
    Ok(match kind {
        Kind::F32 => Values::F(conv!(f32, 4).map(f64::from).collect()),
        Kind::F64 => Values::F(conv!(f64, 8).collect()),
        Kind::I32 => Values::I(conv!(i32, 4).map(i64::from).collect()),
        Kind::I64 => Values::I(conv!(i64, 8).collect()),
        Kind::U32 => Values::I(conv!(u32, 4).map(i64::from).collect()),
        Kind::U64 => {
            let v: Vec<u64> = conv!(u64, 8).collect();
            let mut out = Vec::with_capacity(v.len());
            for x in v {
                out.push(
                    i64::try_from(x)
                        .map_err(|_| ctx.err(node, format!("{what}: value {x} is out of range")))?,
                );
            }
            Values::I(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{parse_mesh, MeshError, Units};
    use super::decode_base64;
    use base64::Engine as _;

    #[test]
    fn ascii_and_binary_variants_agree() {
        let tet = tetrahedron();
        let variants = [
            ("ascii", write_vtp_ascii(&tet)),
            (
                "b64 u32 joined",
                write_vtp_binary(&tet, false, false, false),
            ),
            ("b64 u32 split", write_vtp_binary(&tet, false, true, false)),
            ("b64 u64 joined", write_vtp_binary(&tet, true, false, false)),
            (
                "b64 u64 split big-endian",
                write_vtp_binary(&tet, true, true, true),
            ),
        ];
        for (what, bytes) in variants {
            let (m, r) = parse_mesh("t.vtp", &bytes, Units::Millimetres)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(m.vertices, tet.vertices, "{what}");
            assert_eq!(m.triangles, tet.triangles, "{what}");
            assert!(r.closed, "{what}");
            assert_eq!(r.format, "vtp");
        }
    }

    #[test]
    fn quad_polygons_are_fan_triangulated() {
        let text = r#"<?xml version="1.0"?>
<VTKFile type="PolyData" version="0.1" byte_order="LittleEndian">
  <PolyData>
    <Piece NumberOfPoints="5" NumberOfVerts="0" NumberOfLines="0" NumberOfStrips="0" NumberOfPolys="2">
      <PointData Normals="Normals"><DataArray type="Float32" Name="Normals" NumberOfComponents="3" format="ascii">0 0 1 0 0 1 0 0 1 0 0 1 0 0 1</DataArray></PointData>
      <Points>
        <DataArray type="Float32" NumberOfComponents="3" format="ascii">
          0 0 0  10 0 0  10 10 0  0 10 0  20 0 0
        </DataArray>
      </Points>
      <Polys>
        <DataArray type="Int32" Name="connectivity" format="ascii">0 1 2 3 1 4 2</DataArray>
        <DataArray type="Int32" Name="offsets" format="ascii">4 7</DataArray>
      </Polys>
    </Piece>
  </PolyData>
</VTKFile>
"#;
        let (m, r) = parse_mesh("q.vtp", text.as_bytes(), Units::Millimetres).expect("parses");
        assert_eq!(r.triangles_read, 3);
        assert_eq!(m.triangles.len(), 3);
        assert_eq!(r.mean_normal, [0.0, 0.0, 1.0]);
        assert_eq!(r.boundary_edges, 5);
    }

    /// The layout OpenSim's geometry files use: a compressor declared on the file, every
    /// array ascii, empty vertex/strip arrays, point data before the points.
    #[test]
    fn opensim_style_ascii_with_compressor_attribute() {
        let text = r#"<?xml version="1.0"?>
<VTKFile type="PolyData" version="0.1" byte_order="LittleEndian" compressor="vtkZLibDataCompressor">
  <PolyData>
    <Piece NumberOfPoints="4" NumberOfVerts="0" NumberOfLines="0" NumberOfStrips="0" NumberOfPolys="1">
      <PointData Normals="Normals">
        <DataArray type="Float32" Name="Normals" NumberOfComponents="3" format="ascii">
          0 0 1 0 0 1 0 0 1 0 0 1
        </DataArray>
      </PointData>
      <CellData>
      </CellData>
      <Points>
        <DataArray type="Float32" Name="Array 01" NumberOfComponents="3" format="ascii" RangeMin="0.07" RangeMax="0.07">
          -0.05 -0.05 0 0.05 -0.05 0
          -0.05 0.05 0 0.05 0.05 0
        </DataArray>
      </Points>
      <Verts>
        <DataArray type="Int32" Name="connectivity" format="ascii" RangeMin="1e+299" RangeMax="-1e+299">
        </DataArray>
        <DataArray type="Int32" Name="offsets" format="ascii" RangeMin="1e+299" RangeMax="-1e+299">
        </DataArray>
      </Verts>
      <Strips>
        <DataArray type="Int32" Name="connectivity" format="ascii" RangeMin="1e+299" RangeMax="-1e+299">
        </DataArray>
        <DataArray type="Int32" Name="offsets" format="ascii" RangeMin="1e+299" RangeMax="-1e+299">
        </DataArray>
      </Strips>
      <Polys>
        <DataArray type="Int32" Name="connectivity" format="ascii" RangeMin="0" RangeMax="3">
          0 1 3 2
        </DataArray>
        <DataArray type="Int32" Name="offsets" format="ascii" RangeMin="4" RangeMax="4">
          4
        </DataArray>
      </Polys>
    </Piece>
  </PolyData>
</VTKFile>
"#;
        let (m, r) = parse_mesh("plane.vtp", text.as_bytes(), Units::Auto).expect("parses");
        assert_eq!(r.units, Units::Metres);
        assert_eq!(m.triangles.len(), 2);
        assert!((r.extent_mm[0] - 100.0).abs() < 1e-9 && r.extent_mm[2] == 0.0);
        assert_eq!(r.mean_normal, [0.0, 0.0, 1.0]);
        assert!((r.area_mm2 - 10_000.0).abs() < 1e-6);
    }

    #[test]
    fn base64_chunks() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let joined = b64.encode([1u8, 2, 3, 4, 5, 6, 7]);
        let split = format!("{}{}", b64.encode([1u8, 2, 3, 4]), b64.encode([5u8, 6, 7]));
        assert_eq!(
            decode_base64(&joined).expect("joined"),
            [1, 2, 3, 4, 5, 6, 7]
        );
        assert_eq!(decode_base64(&split).expect("split"), [1, 2, 3, 4, 5, 6, 7]);
        assert!(decode_base64("AB$=").is_err());
    }

    fn vtp_err(text: &str) -> MeshError {
        parse_mesh("k.vtp", text.as_bytes(), Units::Millimetres).unwrap_err()
    }

    #[test]
    fn unsupported_features_say_so() {
        let ascii = String::from_utf8(write_vtp_ascii(&tetrahedron())).expect("utf8");
        let e = vtp_err(&ascii.replacen("format=\"ascii\"", "format=\"appended\" offset=\"0\"", 1));
        assert!(matches!(e, MeshError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("not supported"), "{e}");
        let binary =
            String::from_utf8(write_vtp_binary(&tetrahedron(), false, false, false)).expect("utf8");
        let e = vtp_err(&binary.replacen(
            "byte_order=",
            "compressor=\"vtkZLibDataCompressor\" byte_order=",
            1,
        ));
        assert!(matches!(e, MeshError::Unsupported { .. }), "{e}");
        assert!(
            e.to_string().starts_with(
                "k.vtp: compressed binary VTP data (compressor=\"vtkZLibDataCompressor\", \
                 points on line 6)"
            ),
            "{e}"
        );
        assert!(e.to_string().ends_with("is not supported"), "{e}");
        let e = vtp_err(&ascii.replacen("type=\"PolyData\"", "type=\"UnstructuredGrid\"", 1));
        assert!(matches!(e, MeshError::Unsupported { .. }), "{e}");
        let e = vtp_err("<VTKFile type=\"PolyData\"><AppendedData encoding=\"raw\">_\u{1}</AppendedData></VTKFile>");
        assert!(matches!(e, MeshError::Unsupported { .. }), "{e}");
    }

    #[test]
    fn malformed_files_are_errors_with_lines() {
        let ascii = String::from_utf8(write_vtp_ascii(&tetrahedron())).expect("utf8");
        // Bad index.
        let e = vtp_err(&ascii.replacen(">0 2 1 ", ">0 2 9 ", 1));
        assert!(
            matches!(
                e,
                MeshError::BadIndex {
                    index: 9,
                    count: 4,
                    face: 0,
                    ..
                }
            ),
            "{e}"
        );
        // NaN point, named by vertex and line.
        let e = vtp_err(&ascii.replacen("10 0 0", "10 nan 0", 1));
        assert!(
            matches!(
                e,
                MeshError::NonFinite {
                    vertex: 1,
                    line: Some(8),
                    ..
                }
            ),
            "{e}"
        );
        // Wrong count.
        let e = vtp_err(&ascii.replacen("NumberOfPoints=\"4\"", "NumberOfPoints=\"5\"", 1));
        assert!(
            e.to_string().contains("expected 15 values, found 12"),
            "{e}"
        );
        // Broken XML.
        let e = vtp_err(&ascii[..ascii.len() / 2]);
        assert!(matches!(e, MeshError::Parse { line: Some(_), .. }), "{e}");
        assert!(!e.to_string().contains('\n'));
        // Not a VTK file.
        let e = vtp_err("<html/>");
        assert!(e.to_string().contains("not a VTK XML file"), "{e}");
        // Offsets out of order.
        let e = vtp_err(&ascii.replacen(">3 6 9 12<", ">3 9 6 12<", 1));
        assert!(e.to_string().contains("offset 6 of polygon 2"), "{e}");
    }

    #[test]
    fn binary_nan_and_bad_length() {
        let mut tet = tetrahedron();
        tet.vertices[3][2] = f64::INFINITY;
        let e = parse_mesh(
            "k.vtp",
            &write_vtp_binary(&tet, false, false, false),
            Units::Auto,
        )
        .unwrap_err();
        assert!(matches!(e, MeshError::NonFinite { vertex: 3, .. }), "{e}");
        let good =
            String::from_utf8(write_vtp_binary(&tetrahedron(), false, false, false)).expect("utf8");
        let e = vtp_err(&good.replacen("NumberOfPolys=\"4\"", "NumberOfPolys=\"3\"", 1));
        assert!(e.to_string().contains("binary DataArray holds"), "{e}");
    }
}
