//! Test meshes and writers for every supported format (tests only).

use base64::Engine as _;

/// A mesh as the tests write it: any vertices, any triangles (may be degenerate or wound
/// either way).
#[derive(Debug, Clone)]
pub struct Mesh {
    pub vertices: Vec<[f64; 3]>,
    pub triangles: Vec<[u32; 3]>,
}

/// A 10 mm right-corner tetrahedron wound outward (volume 1000/6 mm³).
pub fn tetrahedron() -> Mesh {
    Mesh {
        vertices: vec![
            [0.0, 0.0, 0.0],
            [10.0, 0.0, 0.0],
            [0.0, 10.0, 0.0],
            [0.0, 0.0, 10.0],
        ],
        triangles: vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
    }
}

/// A 10 mm square in z = 0 as two triangles facing +z.
pub fn square_sheet() -> Mesh {
    Mesh {
        vertices: vec![
            [0.0, 0.0, 0.0],
            [10.0, 0.0, 0.0],
            [10.0, 10.0, 0.0],
            [0.0, 10.0, 0.0],
        ],
        triangles: vec![[0, 1, 2], [0, 2, 3]],
    }
}

/// A strip of `n` triangles in z = 0 facing +z, each sharing an edge with the next.
pub fn strip(n: usize) -> Mesh {
    let quads = n.div_ceil(2);
    let mut vertices = Vec::new();
    for i in 0..=quads {
        vertices.push([10.0 * i as f64, 0.0, 0.0]);
        vertices.push([10.0 * i as f64, 10.0, 0.0]);
    }
    let mut triangles = Vec::new();
    for i in 0..quads as u32 {
        let (b0, t0, b1, t1) = (2 * i, 2 * i + 1, 2 * i + 2, 2 * i + 3);
        triangles.push([b0, b1, t1]);
        triangles.push([b0, t1, t0]);
    }
    triangles.truncate(n);
    Mesh {
        vertices,
        triangles,
    }
}

pub fn scaled(m: &Mesh, s: f64) -> Mesh {
    Mesh {
        vertices: m.vertices.iter().map(|v| v.map(|x| x * s)).collect(),
        triangles: m.triangles.clone(),
    }
}

pub fn translated(m: &Mesh, d: [f64; 3]) -> Mesh {
    Mesh {
        vertices: m
            .vertices
            .iter()
            .map(|v| [v[0] + d[0], v[1] + d[1], v[2] + d[2]])
            .collect(),
        triangles: m.triangles.clone(),
    }
}

pub fn merged(a: &Mesh, b: &Mesh) -> Mesh {
    let n = a.vertices.len() as u32;
    Mesh {
        vertices: a.vertices.iter().chain(&b.vertices).copied().collect(),
        triangles: a
            .triangles
            .iter()
            .copied()
            .chain(b.triangles.iter().map(|t| t.map(|i| i + n)))
            .collect(),
    }
}

fn corners(m: &Mesh, t: [u32; 3]) -> [[f64; 3]; 3] {
    t.map(|i| m.vertices[i as usize])
}

fn unit_normal(c: [[f64; 3]; 3]) -> [f64; 3] {
    let n = super::cross(super::sub(c[1], c[0]), super::sub(c[2], c[0]));
    let l = super::norm(n);
    if l > 0.0 {
        n.map(|x| x / l)
    } else {
        [0.0; 3]
    }
}

pub fn write_stl_binary(m: &Mesh) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"binary STL written by the kneetrack mesh tests");
    out.resize(80, b' ');
    out.extend_from_slice(&(m.triangles.len() as u32).to_le_bytes());
    for &t in &m.triangles {
        let c = corners(m, t);
        for x in unit_normal(c).iter().chain(c.iter().flatten()) {
            out.extend_from_slice(&(*x as f32).to_le_bytes());
        }
        out.extend_from_slice(&[0, 0]);
    }
    out
}

pub fn write_stl_ascii(m: &Mesh) -> Vec<u8> {
    let mut s = String::from("solid test mesh\n");
    for &t in &m.triangles {
        let c = corners(m, t);
        let n = unit_normal(c);
        s += &format!(
            "  facet normal {} {} {}\n    outer loop\n",
            n[0], n[1], n[2]
        );
        for v in c {
            s += &format!("      vertex {} {} {}\n", v[0], v[1], v[2]);
        }
        s += "    endloop\n  endfacet\n";
    }
    s += "endsolid test mesh\n";
    s.into_bytes()
}

/// OBJ with every corner syntax (`v`, `v/vt`, `v//vn`, `v/vt/vn`, negative).
pub fn write_obj(m: &Mesh) -> Vec<u8> {
    let mut s = String::from("# kneetrack test mesh\no test\n");
    for v in &m.vertices {
        s += &format!("v {} {} {}\n", v[0], v[1], v[2]);
    }
    s += "vt 0 0\nvn 0 0 1\ng faces\n";
    let nv = m.vertices.len() as i64;
    for (k, t) in m.triangles.iter().enumerate() {
        let refs: Vec<String> = t
            .iter()
            .map(|&i| {
                let one = i64::from(i) + 1;
                match k % 5 {
                    0 => format!("{one}"),
                    1 => format!("{one}/1"),
                    2 => format!("{one}//1"),
                    3 => format!("{one}/1/1"),
                    _ => format!("{}", one - nv - 1),
                }
            })
            .collect();
        s += &format!("f {}\n", refs.join(" "));
    }
    s.into_bytes()
}

fn vtp_head(m: &Mesh, extra: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n\
         <VTKFile type=\"PolyData\" version=\"0.1\" {extra}>\n  <PolyData>\n    \
         <Piece NumberOfPoints=\"{}\" NumberOfVerts=\"0\" NumberOfLines=\"0\" \
         NumberOfStrips=\"0\" NumberOfPolys=\"{}\">\n",
        m.vertices.len(),
        m.triangles.len()
    )
}

const VTP_TAIL: &str = "    </Piece>\n  </PolyData>\n</VTKFile>\n";

fn offsets(m: &Mesh) -> Vec<u64> {
    (1..=m.triangles.len() as u64).map(|i| 3 * i).collect()
}

/// VTP with ascii arrays; point k is on line 7 + k.
pub fn write_vtp_ascii(m: &Mesh) -> Vec<u8> {
    let mut s = vtp_head(m, "byte_order=\"LittleEndian\"");
    s += "      <Points>\n        \
          <DataArray type=\"Float32\" NumberOfComponents=\"3\" format=\"ascii\">\n";
    for v in &m.vertices {
        s += &format!("          {} {} {}\n", v[0], v[1], v[2]);
    }
    s += "        </DataArray>\n      </Points>\n      <Polys>\n";
    let conn: Vec<String> = m
        .triangles
        .iter()
        .flatten()
        .map(|i| i.to_string())
        .collect();
    let offs: Vec<String> = offsets(m).iter().map(|i| i.to_string()).collect();
    s += &format!(
        "        <DataArray type=\"Int32\" Name=\"connectivity\" format=\"ascii\">{}</DataArray>\n",
        conn.join(" ")
    );
    s += &format!(
        "        <DataArray type=\"Int32\" Name=\"offsets\" format=\"ascii\">{}</DataArray>\n",
        offs.join(" ")
    );
    s += "      </Polys>\n";
    s += VTP_TAIL;
    s.into_bytes()
}

/// VTP with inline base64 arrays. `header_u64`: UInt64 byte-count headers (and Float64
/// points, Int64 connectivity, UInt64 offsets; else Float32/Int32/UInt32). `split`: the
/// header base64-encoded separately from the data. `big_endian`: BigEndian byte order.
pub fn write_vtp_binary(m: &Mesh, header_u64: bool, split: bool, big_endian: bool) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let encode = |data: Vec<u8>| {
        let n = data.len() as u64;
        let header = match (header_u64, big_endian) {
            (true, false) => n.to_le_bytes().to_vec(),
            (true, true) => n.to_be_bytes().to_vec(),
            (false, false) => (n as u32).to_le_bytes().to_vec(),
            (false, true) => (n as u32).to_be_bytes().to_vec(),
        };
        if split {
            format!("{}{}", b64.encode(&header), b64.encode(&data))
        } else {
            b64.encode([header, data].concat())
        }
    };
    macro_rules! bytes {
        ($it:expr) => {
            $it.flat_map(|x| {
                if big_endian {
                    x.to_be_bytes().to_vec()
                } else {
                    x.to_le_bytes().to_vec()
                }
            })
            .collect::<Vec<u8>>()
        };
    }
    let coords = m.vertices.iter().flatten().copied();
    let conn = m.triangles.iter().flatten().copied();
    let (points, pt, connectivity, ct, offs, ot) = if header_u64 {
        (
            bytes!(coords),
            "Float64",
            bytes!(conn.map(i64::from)),
            "Int64",
            bytes!(offsets(m).into_iter()),
            "UInt64",
        )
    } else {
        (
            bytes!(coords.map(|x| x as f32)),
            "Float32",
            bytes!(conn.map(|i| i as i32)),
            "Int32",
            bytes!(offsets(m).into_iter().map(|o| o as u32)),
            "UInt32",
        )
    };
    let order = if big_endian {
        "BigEndian"
    } else {
        "LittleEndian"
    };
    let ht = if header_u64 { "UInt64" } else { "UInt32" };
    let mut s = vtp_head(m, &format!("byte_order=\"{order}\" header_type=\"{ht}\""));
    s += &format!(
        "      <Points>\n        <DataArray type=\"{pt}\" Name=\"Points\" NumberOfComponents=\"3\" \
         format=\"binary\">\n          {}\n        </DataArray>\n      </Points>\n",
        encode(points)
    );
    s += &format!(
        "      <Polys>\n        <DataArray type=\"{ct}\" Name=\"connectivity\" format=\"binary\">\
         {}</DataArray>\n        <DataArray type=\"{ot}\" Name=\"offsets\" format=\"binary\">\
         {}</DataArray>\n      </Polys>\n",
        encode(connectivity),
        encode(offs)
    );
    s += VTP_TAIL;
    s.into_bytes()
}

/// The mesh in every format: (file name, bytes).
pub fn all_formats(name: &str, m: &Mesh) -> Vec<(String, Vec<u8>)> {
    vec![
        (format!("{name}.stl"), write_stl_binary(m)),
        (format!("{name}-ascii.STL"), write_stl_ascii(m)),
        (format!("{name}.obj"), write_obj(m)),
        (format!("{name}.vtp"), write_vtp_ascii(m)),
        (
            format!("{name}-b64.vtp"),
            write_vtp_binary(m, false, false, false),
        ),
        (
            format!("{name}-b64-u64.vtp"),
            write_vtp_binary(m, true, true, false),
        ),
    ]
}

/// Deterministic xorshift generator for the garbage-input tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
