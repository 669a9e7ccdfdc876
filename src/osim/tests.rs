//! Tests of the OpenSim reader: the Lenhart 2015 model, a small synthetic model that
//! exercises offset frames, relative socket paths and the rotation order, and the errors.

use super::*;
use nalgebra::{Rotation3, Vector3};

fn lenhart_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/lenhart2015/lenhart2015.osim")
}

fn lenhart_text() -> String {
    std::fs::read_to_string(lenhart_path()).unwrap()
}

fn lenhart() -> OsimKnee {
    load_osim(&lenhart_path(), Side::Right).unwrap()
}

fn close(a: [f64; 3], b: [f64; 3], tol: f64) -> bool {
    (0..3).all(|i| (a[i] - b[i]).abs() <= tol)
}

fn mean(points: &[[f64; 3]]) -> [f64; 3] {
    let n = points.len() as f64;
    std::array::from_fn(|i| points.iter().map(|p| p[i]).sum::<f64>() / n)
}

fn apply(x: &Isometry3<f64>, p: [f64; 3]) -> [f64; 3] {
    let q = x * Point3::new(p[0], p[1], p[2]);
    [q.x, q.y, q.z]
}

/// Removes the first element that starts with `start` up to and including the next `end`.
fn remove_element(text: &str, start: &str, end: &str) -> String {
    let i = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in the text"));
    let j = i + text[i..].find(end).unwrap() + end.len();
    format!("{}{}", &text[..i], &text[j..])
}

/// The error of a parse that must fail (without dumping a whole model when it does not).
fn expect_err(r: Result<OsimKnee, OsimError>) -> OsimError {
    match r {
        Ok(k) => panic!("expected an error, but {} parsed", k.path.display()),
        Err(e) => e,
    }
}

/// Every error message is one line that starts with the model path.
fn check_message(e: &OsimError, path: &Path) -> String {
    let m = e.to_string();
    assert!(!m.contains('\n'), "multi-line message: {m}");
    assert!(
        m.starts_with(&path.display().to_string()),
        "message does not start with the path: {m}"
    );
    m
}

// -------------------------------------------------------------------------------------
// Lenhart 2015

#[test]
fn lenhart_bodies_joints_and_coordinates() {
    let k = lenhart();
    assert_eq!(k.femur_body, "femur_distal_r");
    assert_eq!(k.tibia_body, "tibia_proximal_r");
    assert_eq!(k.patella_body, "patella_r");
    assert_eq!(k.knee_joint, "knee_r");
    assert_eq!(k.pf_joint, "pf_r");
    assert_eq!(
        k.coordinate_names,
        [
            "knee_flex_r",
            "knee_add_r",
            "knee_rot_r",
            "knee_tx_r",
            "knee_ty_r",
            "knee_tz_r"
        ]
        .map(String::from)
    );
    assert_eq!(k.default_coords, KneeCoords::default());
    assert_eq!(k.knee_transform.len(), 6);
    // Both joints' parent/child frames are the bodies themselves.
    for x in [
        k.femur_body_from_femur,
        k.tibia_body_from_tibia,
        k.patella_body_from_patella,
        k.femur_from_pf_parent,
    ] {
        assert!(x.translation.vector.norm() < 1e-12 && x.rotation.angle() < 1e-12);
    }
    // Positive knee_flex_r is a right-handed rotation about −Z (medial for a right knee):
    // the file's rotation1 is about +Z with slope −1.
    assert!(
        close(k.flexion_axis, [0.0, 0.0, -1.0], 1e-12),
        "{:?}",
        k.flexion_axis
    );
}

#[test]
fn lenhart_patella_default_pose() {
    let k = lenhart();
    let x = k.femur_from_patella_default;
    let t = x.translation.vector;
    assert!(close([t.x, t.y, t.z], [53.0, 5.0, 4.0], 1e-9), "{t:?}");
    assert!(x.rotation.angle() < 1e-12);
    // The same through the general function, at the defaults.
    let names: Vec<&str> = k.pf_coordinates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "pf_flex_r",
            "pf_rot_r",
            "pf_tilt_r",
            "pf_tx_r",
            "pf_ty_r",
            "pf_tz_r"
        ]
    );
    let y = k.femur_from_patella(&[]);
    assert!((y.translation.vector - t).norm() < 1e-12);
    // 10 mm more pf_tx moves the patella 10 mm along femoral X.
    let z = k.femur_from_patella(&[0.0, 0.0, 0.0, 63.0, 5.0, 4.0]);
    assert!((z.translation.vector.x - 63.0).abs() < 1e-9);
}

#[test]
fn lenhart_knee_kinematics() {
    let k = lenhart();
    // At zero coordinates the tibia frame coincides with the femur frame (both frames sit at
    // the knee centre in the file; the knee's translations are pure coordinates).
    let x0 = k.femur_from_tibia(&KneeCoords::default());
    assert!(x0.translation.vector.norm() < 1e-12 && x0.rotation.angle() < 1e-12);

    // Tibial tuberosity (mean PT tibial attachment) and a point on the shaft 300 mm distal.
    let pt_tibia = mean(
        &k.ligaments
            .iter()
            .filter(|l| l.name.starts_with("PT"))
            .map(|l| {
                l.points
                    .iter()
                    .find(|p| p.frame == PointFrame::Tibia)
                    .unwrap()
                    .location_mm
            })
            .collect::<Vec<_>>(),
    );
    let shaft = [0.0, -300.0, 0.0];
    let c90 = KneeCoords {
        flex_rad: 90f64.to_radians(),
        ..Default::default()
    };
    let x90 = k.femur_from_tibia(&c90);
    let tub = apply(&x90, pt_tibia);
    let sh = apply(&x90, shaft);
    // Rotation by −90° about Z: (x, y) → (y, −x).
    assert!(
        close(tub, [pt_tibia[1], -pt_tibia[0], pt_tibia[2]], 1e-9),
        "{tub:?}"
    );
    assert!(
        tub[0] < -40.0,
        "tuberosity should be posterior at 90°: {tub:?}"
    );
    assert!(
        close(sh, [-300.0, 0.0, 0.0], 1e-9),
        "shaft should point posteriorly at 90°: {sh:?}"
    );
    // The tibia frame's origin stays at the femur frame's origin (no translation coupled).
    assert!(x90.translation.vector.norm() < 1e-12);

    // Translations are along the femur frame's axes, in mm.
    let xt = k.femur_from_tibia(&KneeCoords {
        flex_rad: 1.0,
        tx_mm: 1.0,
        ty_mm: -2.0,
        tz_mm: 3.0,
        ..Default::default()
    });
    assert!((xt.translation.vector - Vector3::new(1.0, -2.0, 3.0)).norm() < 1e-12);
}

#[test]
fn lenhart_knee_rotation_order_is_body_fixed() {
    let k = lenhart();
    let (f, a, r) = (0.7, 0.1, -0.2);
    let x = k.femur_from_tibia(&KneeCoords {
        flex_rad: f,
        add_rad: a,
        rot_rad: r,
        ..Default::default()
    });
    let expected = Rotation3::from_axis_angle(&Vector3::z_axis(), -f)
        * Rotation3::from_axis_angle(&Vector3::x_axis(), a)
        * Rotation3::from_axis_angle(&Vector3::y_axis(), r);
    let got = x.rotation.to_rotation_matrix();
    assert!((got.matrix() - expected.matrix()).norm() < 1e-12);
}

#[test]
fn lenhart_contact_meshes() {
    let k = lenhart();
    let dir = lenhart_path().parent().unwrap().to_path_buf();
    let expected = [
        ("femur_cartilage", KneeFrame::Femur, "femur"),
        ("tibia_cartilage", KneeFrame::Tibia, "tibia"),
        ("patella_cartilage", KneeFrame::Patella, "patella"),
    ];
    assert_eq!(k.contact_meshes.len(), 3);
    for (name, frame, bone) in expected {
        let m = k.contact_mesh(name).unwrap();
        assert_eq!(m.frame, frame);
        assert_eq!(
            m.mesh_file,
            dir.join(format!("lenhart2015-R-{bone}-cartilage.stl"))
        );
        assert_eq!(
            m.back_file.as_deref(),
            Some(dir.join(format!("lenhart2015-R-{bone}-bone.stl")).as_path())
        );
        assert!(m.mesh_file.is_file() && m.back_file.as_ref().unwrap().is_file());
        assert!((m.modulus_mpa - 5.0).abs() < 1e-12);
        assert!((m.poisson - 0.45).abs() < 1e-12);
        assert!(m.variable_thickness);
        assert!((m.min_thickness_mm - 1.0).abs() < 1e-12);
        assert!((m.max_thickness_mm - 10.0).abs() < 1e-12);
        assert!((m.thickness_mm - 3.0).abs() < 1e-12);
        assert!(
            m.frame_from_mesh.translation.vector.norm() < 1e-12
                && m.frame_from_mesh.rotation.angle() < 1e-12
        );
    }
}

#[test]
#[allow(clippy::excessive_precision)] // numbers copied verbatim from the model file
fn lenhart_ligaments() {
    let k = lenhart();
    let mut names: Vec<String> = (1..=6).map(|i| format!("PT{i}")).collect();
    names.extend((1..=6).map(|i| format!("mPFL{i}")));
    names.extend((1..=8).map(|i| format!("lPFL{i}")));
    names.push("ITB1".into());
    for n in &names {
        let l = k.ligament(n).unwrap_or_else(|| panic!("no {n}"));
        assert!(l.linear_stiffness_n > 0.0, "{n}");
        assert!(
            (20.0..600.0).contains(&l.slack_length_mm),
            "{n}: {}",
            l.slack_length_mm
        );
        assert!((l.transition_strain - 0.06).abs() < 1e-12);
    }
    // All the file's bundles (76, all on the right knee) are kept.
    assert_eq!(
        k.ligaments.len(),
        lenhart_text().matches("<Blankevoort1991Ligament ").count()
    );
    assert_eq!(k.ligaments.len(), 76);
    for n in (1..=6).map(|i| format!("PT{i}")) {
        let l = k.ligament(&n).unwrap();
        let frames: Vec<PointFrame> = l.points.iter().map(|p| p.frame).collect();
        assert_eq!(frames, [PointFrame::Patella, PointFrame::Tibia], "{n}");
        assert_eq!(l.linear_stiffness_n, 3000.0);
        assert_eq!(l.wrap_objects, ["PatTen_r"]);
    }
    let pt1 = k.ligament("PT1").unwrap();
    assert!((pt1.slack_length_mm - 46.791699885026967).abs() < 1e-9);

    // Previously extracted attachment means.
    let pt_tibia = mean(
        &(1..=6)
            .map(|i| k.ligament(&format!("PT{i}")).unwrap().points[1].location_mm)
            .collect::<Vec<_>>(),
    );
    assert!(close(pt_tibia, [34.9, -48.2, 13.4], 0.1), "{pt_tibia:?}");
    let mpfl_femur = mean(
        &(1..=6)
            .map(|i| k.ligament(&format!("mPFL{i}")).unwrap().points[0].location_mm)
            .collect::<Vec<_>>(),
    );
    assert!(
        close(mpfl_femur, [14.9, 10.4, -38.7], 0.1),
        "{mpfl_femur:?}"
    );
    // mPFL medial (−Z for a right femur), lPFL lateral.
    let lpfl_femur = mean(
        &(1..=8)
            .map(|i| k.ligament(&format!("lPFL{i}")).unwrap().points[0].location_mm)
            .collect::<Vec<_>>(),
    );
    assert!(lpfl_femur[2] > 30.0);

    // ITB1: pelvis → femur_r → tibia_r, re-expressed through the hip (defaults, all 0) and
    // the two welds (femur_r origin is 374 mm above femur_distal_r; tibia_r 6 mm anterior
    // of tibia_proximal_r).
    let itb = k.ligament("ITB1").unwrap();
    let bodies: Vec<&str> = itb.points.iter().map(|p| p.body.as_str()).collect();
    assert_eq!(bodies, ["pelvis", "femur_r", "tibia_r"]);
    let frames: Vec<PointFrame> = itb.points.iter().map(|p| p.frame).collect();
    assert_eq!(
        frames,
        [PointFrame::Femur, PointFrame::Femur, PointFrame::Tibia]
    );
    // Numbers from the file (m): femur_distal_r origin in femur_r (femur_r_offset), tibia_r
    // origin in tibia_proximal_r (tibia_proximal_r_offset), hip centre in the pelvis
    // (pelvis_offset of hip_r), and the three ITB1 locations.
    let distal = [
        -0.0055513564376633642,
        -0.37418143637169787,
        -0.0011706232813375212,
    ];
    let tibia_r = [0.006, 0.0, 0.0];
    let hip = [
        -0.06729784863619219,
        -0.083241463212077774,
        0.092391637387735592,
    ];
    let p1 = [
        -0.083709741355701431,
        0.053026795268236573,
        0.11958534479385918,
    ];
    let p2 = [
        -0.0092521836279087083,
        -0.0043485263051170932,
        0.055513101767452243,
    ];
    let p3 = [
        0.010889281595096082,
        -0.031256271245183195,
        0.03488603177688189,
    ];
    let e1: [f64; 3] = std::array::from_fn(|i| (p1[i] - hip[i] - distal[i]) * 1000.0);
    let e2: [f64; 3] = std::array::from_fn(|i| (p2[i] - distal[i]) * 1000.0);
    let e3: [f64; 3] = std::array::from_fn(|i| (p3[i] + tibia_r[i]) * 1000.0);
    for (got, want) in itb.points.iter().zip([e1, e2, e3]) {
        assert!(close(got.location_mm, want, 1e-9), "{got:?} vs {want:?}");
    }
}

#[test]
fn lenhart_quadriceps() {
    let k = lenhart();
    let names: Vec<&str> = k.muscles.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["recfem_r", "tfl_r", "vasint_r", "vaslat_r", "vasmed_r"]
    );
    for (name, role, force) in [
        ("recfem_r", MuscleRole::RectusFemoris, 848.8),
        ("vasint_r", MuscleRole::VastusIntermedius, 1024.2),
        ("vaslat_r", MuscleRole::VastusLateralis, 2255.4),
        ("vasmed_r", MuscleRole::VastusMedialis, 1443.7),
    ] {
        let m = k.muscle(name).unwrap();
        assert_eq!(m.role, role);
        assert!((m.max_isometric_force_n - force).abs() < 1e-9, "{name}");
        assert!(
            m.points.iter().any(|p| p.frame == PointFrame::Patella),
            "{name}"
        );
        assert_eq!(m.points.first().unwrap().frame, PointFrame::Femur, "{name}");
        // Origins lie proximal to the knee (femur frame y > 100 mm).
        assert!(m.points[0].location_mm[1] > 100.0, "{name}");
    }
    let tfl = k.muscle("tfl_r").unwrap();
    assert_eq!(tfl.role, MuscleRole::TensorFasciaeLatae);
    assert_eq!(tfl.points.last().unwrap().frame, PointFrame::Tibia);
    // vasmed_r-P3 is stored in patella_r coordinates.
    let vm = k.muscle("vasmed_r").unwrap();
    assert!(close(
        vm.points[2].location_mm,
        [-0.394407, 15.6828, -9.3351],
        1e-9
    ));
}

#[test]
fn lenhart_wrap_cylinders() {
    let k = lenhart();
    let names: Vec<&str> = k.wrap_cylinders.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["KnExt_at_fem_r", "KnExt_vasint_at_fem_r", "Capsule_r"]
    );
    // femur_r → femur_distal_r is a weld through femur_r_offset, translation only (m).
    let femur_distal_in_femur_r = [
        -0.005_551_356_437_663_364,
        -0.374_181_436_371_697_9,
        -0.0011706232813375212,
    ];
    let knext_in_femur_r = [0.009_252_183_627_908_708, -0.3673116900279757, 0.0];
    let centre: [f64; 3] =
        std::array::from_fn(|i| (knext_in_femur_r[i] - femur_distal_in_femur_r[i]) * 1000.0);
    assert!(close(centre, [14.80, 6.87, 1.17], 0.01), "{centre:?}");
    for (name, radius) in [
        ("KnExt_at_fem_r", 25.906114158144384),
        ("KnExt_vasint_at_fem_r", 24.055_677_432_562_64),
    ] {
        let c = k.wrap_cylinder(name).unwrap();
        assert_eq!(c.frame, KneeFrame::Femur, "{name}");
        assert!(
            (c.radius_mm - radius).abs() < 1e-9,
            "{name}: {}",
            c.radius_mm
        );
        assert!((c.length_mm - 185.04367255817417).abs() < 1e-9, "{name}");
        assert_eq!(c.quadrant, "x", "{name}");
        let t = c.frame_from_cylinder.translation.vector;
        assert!(close([t.x, t.y, t.z], centre, 1e-9), "{name}: {t:?}");
        // Axis along the Femur frame's z (xyz_body_rotation 0 0 0, no rotation in the weld).
        let axis = c.frame_from_cylinder.rotation * Vector3::z();
        assert!((axis.z.abs() - 1.0).abs() < 1e-12, "{name}: {axis:?}");
        assert!(c.frame_from_cylinder.rotation.angle() < 1e-12, "{name}");
    }
    // The capsule cylinder sits directly on femur_distal_r (= the Femur frame).
    let cap = k.wrap_cylinder("Capsule_r").unwrap();
    assert_eq!(cap.frame, KneeFrame::Femur);
    let expected = to_mm(&transform::offset_m(
        [-0.004, -0.003, 0.0],
        [-0.0299066, 0.02, 0.331613],
    ));
    assert!((cap.frame_from_cylinder.to_homogeneous() - expected.to_homogeneous()).norm() < 1e-9);
    assert!((cap.radius_mm - 18.0).abs() < 1e-9 && (cap.length_mm - 500.0).abs() < 1e-9);
    assert_eq!(cap.quadrant, "all");

    assert_eq!(
        k.unsupported_wraps,
        [
            "PatTen_r (WrapEllipsoid)",
            "Med_Lig_r (WrapEllipsoid)",
            "Med_LigP_r (WrapEllipsoid)"
        ]
    );
}

#[test]
fn lenhart_every_kept_wrap_object_resolves() {
    let k = lenhart();
    let resolves = |w: &str| {
        k.wrap_cylinder(w).is_some()
            || k.unsupported_wraps
                .iter()
                .any(|u| u.split(" (").next() == Some(w))
    };
    for (name, wraps) in [
        ("recfem_r", vec!["KnExt_at_fem_r"]),
        ("vasint_r", vec!["KnExt_vasint_at_fem_r"]),
        ("vaslat_r", vec!["KnExt_at_fem_r"]),
        ("vasmed_r", vec!["KnExt_at_fem_r"]),
    ] {
        assert_eq!(k.muscle(name).unwrap().wrap_objects, wraps, "{name}");
    }
    for m in &k.muscles {
        for w in &m.wrap_objects {
            assert!(resolves(w), "{}: {w}", m.name);
        }
    }
    for l in &k.ligaments {
        for w in &l.wrap_objects {
            assert!(resolves(w), "{}: {w}", l.name);
        }
    }
    // Nothing listed that no kept path names.
    let named = |w: &str| {
        k.muscles
            .iter()
            .any(|m| m.wrap_objects.iter().any(|x| x == w))
            || k.ligaments
                .iter()
                .any(|l| l.wrap_objects.iter().any(|x| x == w))
    };
    for c in &k.wrap_cylinders {
        assert!(named(&c.name), "{}", c.name);
    }
    for u in &k.unsupported_wraps {
        assert!(named(u.split(" (").next().unwrap()), "{u}");
    }
}

#[test]
fn error_unknown_wrap_object_names_path_and_object() {
    let path = lenhart_path();
    let text = lenhart_text().replacen(
        "<wrap_object>KnExt_vasint_at_fem_r</wrap_object>",
        "<wrap_object>KnExt_vasint_at_femur_r</wrap_object>",
        1,
    );
    let e = expect_err(parse_osim(&text, &path, Side::Right));
    let m = check_message(&e, &path);
    assert!(matches!(e, OsimError::Invalid { .. }), "{m}");
    assert!(
        m.contains("vasint_r") && m.contains("KnExt_vasint_at_femur_r"),
        "{m}"
    );
}

#[test]
fn lenhart_left_knee_is_a_coupled_one_dof_knee() {
    let e = expect_err(load_osim(&lenhart_path(), Side::Left));
    let m = check_message(&e, &lenhart_path());
    assert!(matches!(e, OsimError::Unsupported { .. }), "{m}");
    assert!(
        m.contains("knee_l") && m.contains("6-DOF") && m.contains("knee_flex_l drives rotation1"),
        "{m}"
    );
}

// -------------------------------------------------------------------------------------
// Errors

#[test]
fn error_without_patella_body() {
    let path = lenhart_path();
    let text = remove_element(&lenhart_text(), "<Body name=\"patella_r\">", "</Body>");
    let e = expect_err(parse_osim(&text, &path, Side::Right));
    let m = check_message(&e, &path);
    assert!(m.contains("patella_r") && m.contains("pf_r"), "{m}");

    // Without the body and its joint: the missing patellofemoral joint is named.
    let text = remove_element(&text, "<CustomJoint name=\"pf_r\">", "</CustomJoint>");
    let e = expect_err(parse_osim(&text, &path, Side::Right));
    let m = check_message(&e, &path);
    assert!(matches!(e, OsimError::Missing { .. }), "{m}");
    assert!(
        m.ends_with(
            "no patellofemoral joint (a CustomJoint from the femur to a body named patella_r); \
             kneetrack needs the patella as its own body"
        ),
        "{m}"
    );
}

#[test]
fn error_without_knee_joint() {
    let path = lenhart_path();
    let text = remove_element(
        &lenhart_text(),
        "<CustomJoint name=\"knee_r\">",
        "</CustomJoint>",
    );
    let e = expect_err(parse_osim(&text, &path, Side::Right));
    let m = check_message(&e, &path);
    assert!(m.contains("no knee joint"), "{m}");
}

#[test]
fn error_missing_mesh_file() {
    let path = lenhart_path();
    // The contact mesh's file (the body's display Mesh names the same file earlier on).
    let text = lenhart_text();
    let cgs = text.find("<ContactGeometrySet").unwrap();
    let text = format!(
        "{}{}",
        &text[..cgs],
        text[cgs..].replacen(
            "<mesh_file>lenhart2015-R-patella-cartilage.stl</mesh_file>",
            "<mesh_file>no-such-patella.stl</mesh_file>",
            1
        )
    );
    let e = expect_err(parse_osim(&text, &path, Side::Right));
    let m = check_message(&e, &path);
    assert!(matches!(e, OsimError::MeshNotFound { .. }), "{m}");
    assert!(
        m.contains("Smith2018ContactMesh `patella_cartilage`") && m.contains("no-such-patella.stl"),
        "{m}"
    );
    assert!(
        m.contains("Geometry/no-such-patella.stl"),
        "should list the places searched: {m}"
    );
}

#[test]
fn error_malformed_xml_gives_line() {
    let path = lenhart_path();
    let text = lenhart_text().replacen("</Body>", "</Bdoy>", 1);
    let line = text[..text.find("</Bdoy>").unwrap()].lines().count() as u32;
    let e = expect_err(parse_osim(&text, &path, Side::Right));
    let m = check_message(&e, &path);
    match e {
        OsimError::Xml { line: l, .. } => assert_eq!(l, line, "{m}"),
        other => panic!("expected an XML error, got {other}"),
    }
    assert!(m.contains(&format!(":{line}:")), "{m}");
}

#[test]
fn error_bad_number_names_element_and_text() {
    let path = lenhart_path();
    let text = lenhart_text().replacen(
        "<slack_length>0.046791699885026967</slack_length>",
        "<slack_length>nan</slack_length>",
        1,
    );
    let e = expect_err(parse_osim(&text, &path, Side::Right));
    let m = check_message(&e, &path);
    assert!(matches!(e, OsimError::BadNumber { .. }), "{m}");
    assert!(
        m.contains("Blankevoort1991Ligament `PT1`")
            && m.contains("slack_length")
            && m.contains("`nan`"),
        "{m}"
    );

    let text = lenhart_text().replacen(
        "<default_value>0.052999999999999999</default_value>",
        "<default_value>5x</default_value>",
        1,
    );
    let m = check_message(&expect_err(parse_osim(&text, &path, Side::Right)), &path);
    assert!(
        m.contains("Coordinate `pf_tx_r`") && m.contains("`5x`"),
        "{m}"
    );
}

#[test]
fn error_moving_point_in_quadriceps() {
    let path = lenhart_path();
    let text = lenhart_text();
    let start = text.find("<PathPoint name=\"vasmed_r-P2\">").unwrap();
    let end = start + text[start..].find("</PathPoint>").unwrap();
    let text = format!(
        "{}<MovingPathPoint name=\"vasmed_r-P2\">{}</MovingPathPoint>{}",
        &text[..start],
        &text[start + "<PathPoint name=\"vasmed_r-P2\">".len()..end],
        &text[end + "</PathPoint>".len()..]
    );
    let e = expect_err(parse_osim(&text, &path, Side::Right));
    let m = check_message(&e, &path);
    assert!(matches!(e, OsimError::Unsupported { .. }), "{m}");
    assert!(
        m.contains("MovingPathPoint `vasmed_r-P2` in Millard2012EquilibriumMuscle `vasmed_r`"),
        "{m}"
    );
}

#[test]
fn error_unsupported_function_on_knee() {
    let path = lenhart_path();
    let text = lenhart_text();
    let knee = text.find("<CustomJoint name=\"knee_r\">").unwrap();
    let rel = text[knee..]
        .find("<coordinates>knee_add_r</coordinates>")
        .unwrap();
    let at = knee + rel;
    let f = at
        + text[at..]
            .find("<LinearFunction name=\"function\">")
            .unwrap();
    let f_end = f + text[f..].find("</LinearFunction>").unwrap() + "</LinearFunction>".len();
    let text = format!(
        "{}<GCVSpline name=\"function\"><degree>5</degree><x>0 1</x><y>0 1</y></GCVSpline>{}",
        &text[..f],
        &text[f_end..]
    );
    let e = expect_err(parse_osim(&text, &path, Side::Right));
    let m = check_message(&e, &path);
    assert!(matches!(e, OsimError::Unsupported { .. }), "{m}");
    assert!(
        m.contains("GCVSpline") && m.contains("CustomJoint `knee_r`"),
        "{m}"
    );
}

#[test]
fn error_missing_file_and_not_a_model() {
    let path = Path::new("/nonexistent/knee.osim");
    let e = expect_err(load_osim(path, Side::Right));
    check_message(&e, path);
    assert!(matches!(e, OsimError::Io { .. }));
    let e = expect_err(parse_osim("<svg/>", Path::new("x.osim"), Side::Right));
    let m = check_message(&e, Path::new("x.osim"));
    assert!(m.contains("not an OpenSim model"), "{m}");
    let e = expect_err(parse_osim(
        "<OpenSimDocument Version=\"30000\"><Model/></OpenSimDocument>",
        Path::new("x.osim"),
        Side::Right,
    ));
    let m = check_message(&e, Path::new("x.osim"));
    assert!(m.contains("OpenSim 3"), "{m}");
}

// -------------------------------------------------------------------------------------
// A small synthetic model: offset frames on both sides of the knee, relative socket paths,
// a rotated hip at its default, a patellofemoral joint on a different femoral frame.

const HIP: [f64; 3] = [-0.07, -0.08, 0.09];
const HIP_FLEX: f64 = 0.5;
const FEMUR_OFFSET: [f64; 3] = [0.0, -0.4, 0.0];
const FEMUR_OFFSET_ROT: [f64; 3] = [0.0, 0.0, 0.1];
const TIBIA_OFFSET: [f64; 3] = [0.0, 0.02, 0.0];

fn mini_model(mesh_dir: &Path, extra_forces: &str) -> String {
    let fmt3 = |v: [f64; 3]| format!("{} {} {}", v[0], v[1], v[2]);
    let coord = |name: &str, default: f64| {
        format!("<Coordinate name=\"{name}\"><default_value>{default}</default_value></Coordinate>")
    };
    let axis = |name: &str, coord: &str, axis: &str, function: &str| {
        format!(
            "<TransformAxis name=\"{name}\"><coordinates>{coord}</coordinates><axis>{axis}</axis>{function}</TransformAxis>"
        )
    };
    let linear = |a: f64, b: f64| {
        format!("<LinearFunction name=\"function\"><coefficients>{a} {b}</coefficients></LinearFunction>")
    };
    let mesh = |name: &str, frame: &str, file: &str, extra: &str| {
        format!(
            "<Smith2018ContactMesh name=\"{name}\"><socket_frame>{frame}</socket_frame>{extra}\
             <mesh_file>{}</mesh_file><elastic_modulus>6000000</elastic_modulus>\
             <use_variable_thickness>false</use_variable_thickness></Smith2018ContactMesh>",
            mesh_dir.join(file).display()
        )
    };
    let point = |name: &str, frame: &str, loc: [f64; 3]| {
        format!("<PathPoint name=\"{name}\"><socket_parent_frame>{frame}</socket_parent_frame><location>{}</location></PathPoint>", fmt3(loc))
    };
    let path = |points: &[String]| {
        format!("<GeometryPath name=\"geometrypath\"><PathPointSet><objects>{}</objects></PathPointSet></GeometryPath>", points.join(""))
    };
    let muscle = |name: &str, origin: String| {
        format!(
            "<Thelen2003Muscle name=\"{name}\">{}<max_isometric_force>500</max_isometric_force></Thelen2003Muscle>",
            path(&[origin, point(&format!("{name}-P2"), "/bodyset/patella_r", [0.0, 0.01, 0.0])])
        )
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="40000">
<Model name="mini">
  <Ground name="ground" />
  <BodySet name="bodyset"><objects>
    <Body name="pelvis" /><Body name="femur_r" /><Body name="tibia_r" /><Body name="patella_r" />
    <Body name="talus_r" />
  </objects></BodySet>
  <JointSet name="jointset"><objects>
    <WeldJoint name="ground_pelvis">
      <socket_parent_frame>/ground</socket_parent_frame>
      <socket_child_frame>/bodyset/pelvis</socket_child_frame>
    </WeldJoint>
    <PinJoint name="hip_r">
      <socket_parent_frame>pelvis_offset</socket_parent_frame>
      <socket_child_frame>/bodyset/femur_r</socket_child_frame>
      <coordinates>{hip_coord}</coordinates>
      <frames><PhysicalOffsetFrame name="pelvis_offset"><socket_parent>/bodyset/pelvis</socket_parent>
        <translation>{hip}</translation><orientation>0 0 0</orientation></PhysicalOffsetFrame></frames>
    </PinJoint>
    <CustomJoint name="knee_r">
      <socket_parent_frame>femur_offset</socket_parent_frame>
      <socket_child_frame>tibia_offset</socket_child_frame>
      <coordinates>{kc}</coordinates>
      <frames>
        <PhysicalOffsetFrame name="femur_offset"><socket_parent>../../../bodyset/femur_r</socket_parent>
          <translation>{femur_offset}</translation><orientation>{femur_rot}</orientation></PhysicalOffsetFrame>
        <PhysicalOffsetFrame name="tibia_offset"><socket_parent>/bodyset/tibia_r</socket_parent>
          <translation>{tibia_offset}</translation><orientation>0 0 0</orientation></PhysicalOffsetFrame>
      </frames>
      <SpatialTransform>{kaxes}</SpatialTransform>
    </CustomJoint>
    <CustomJoint name="pf_r">
      <socket_parent_frame>/bodyset/femur_r</socket_parent_frame>
      <socket_child_frame>/bodyset/patella_r</socket_child_frame>
      <coordinates>{pc}</coordinates>
      <SpatialTransform>{paxes}</SpatialTransform>
    </CustomJoint>
    <PinJoint name="ankle_r">
      <socket_parent_frame>/bodyset/tibia_r</socket_parent_frame>
      <socket_child_frame>/bodyset/talus_r</socket_child_frame>
      <coordinates>{ankle}</coordinates>
    </PinJoint>
  </objects></JointSet>
  <ForceSet name="forceset"><objects>
    <Blankevoort1991Ligament name="lig">{lig_path}
      <linear_stiffness>1000</linear_stiffness><slack_length>0.03</slack_length></Blankevoort1991Ligament>
    <Blankevoort1991Ligament name="old_units">{lig_path}
      <!--Slope of the linear portion of the force-strain curve of ligament. Units of force/length.-->
      <linear_stiffness>20000</linear_stiffness><slack_length>0.05</slack_length></Blankevoort1991Ligament>
    <Blankevoort1991Ligament name="ankle_lig">{ankle_path}
      <linear_stiffness>1</linear_stiffness><slack_length>0.05</slack_length></Blankevoort1991Ligament>
    {recfem}{vasint}{vaslat}{vasmed}{extra_forces}
  </objects></ForceSet>
  <ContactGeometrySet name="contactgeometryset"><objects>
    {femur_mesh}{patella_mesh}
  </objects></ContactGeometrySet>
</Model>
</OpenSimDocument>
"#,
        hip_coord = coord("hip_flex_r", HIP_FLEX),
        hip = fmt3(HIP),
        kc = [
            "knee_flex_r",
            "knee_add_r",
            "knee_rot_r",
            "knee_tx_r",
            "knee_ty_r",
            "knee_tz_r"
        ]
        .map(|c| coord(c, 0.0))
        .join(""),
        femur_offset = fmt3(FEMUR_OFFSET),
        femur_rot = fmt3(FEMUR_OFFSET_ROT),
        tibia_offset = fmt3(TIBIA_OFFSET),
        kaxes = [
            axis("rotation1", "knee_flex_r", "0 0 1", &linear(-1.0, 0.0)),
            axis("rotation2", "knee_add_r", "1 0 0", ""),
            axis("rotation3", "knee_rot_r", "0 1 0", &linear(1.0, 0.0)),
            axis("translation1", "knee_tx_r", "1 0 0", ""),
            axis("translation2", "knee_ty_r", "0 1 0", &linear(1.0, 0.0)),
            axis("translation3", "knee_tz_r", "0 0 1", &linear(1.0, 0.0)),
        ]
        .join(""),
        pc = [
            coord("pf_flex_r", 0.2),
            coord("pf_tx_r", 0.05),
            coord("pf_ty_r", -0.38)
        ]
        .join(""),
        paxes = [
            axis("rotation1", "pf_flex_r", "0 0 1", ""),
            axis("translation1", "pf_tx_r", "1 0 0", ""),
            axis("translation2", "pf_ty_r", "0 1 0", ""),
        ]
        .join(""),
        ankle = coord("ankle_angle_r", 0.0),
        lig_path = path(&[
            point("lig-P1", "/bodyset/femur_r", [0.01, -0.4, 0.0]),
            point(
                "lig-P2",
                "/jointset/knee_r/tibia_offset",
                [0.0, -0.02, 0.01]
            ),
        ]),
        ankle_path = path(&[
            point("ankle_lig-P1", "/bodyset/tibia_r", [0.0, -0.3, 0.0]),
            point("ankle_lig-P2", "/bodyset/talus_r", [0.0, 0.0, 0.0]),
        ]),
        recfem = muscle(
            "recfem_r",
            point("recfem_r-P1", "/bodyset/pelvis", [0.03, -0.04, 0.1])
        ),
        vasint = muscle(
            "vasint_r",
            point("vasint_r-P1", "/bodyset/femur_r", [0.03, -0.2, 0.03])
        ),
        vaslat = muscle(
            "vas_lat_r",
            point("vas_lat_r-P1", "/bodyset/femur_r", [0.0, -0.2, 0.03])
        ),
        vasmed = muscle(
            "vasmed_r",
            point("vasmed_r-P1", "/bodyset/femur_r", [0.01, -0.2, 0.02])
        ),
        femur_mesh = mesh(
            "femur_cartilage",
            "/bodyset/femur_r",
            "lenhart2015-R-femur-cartilage.stl",
            "<location>0.001 0.002 0.003</location><orientation>0.1 0.2 0.3</orientation>"
        ),
        patella_mesh = mesh(
            "patella_cartilage",
            "/bodyset/patella_r",
            "lenhart2015-R-patella-cartilage.stl",
            ""
        ),
    )
}

fn mini_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mini_test_model.osim")
}

fn mini_text() -> String {
    mini_model(lenhart_path().parent().unwrap(), "")
}

fn mini() -> Result<OsimKnee, OsimError> {
    parse_osim(&mini_text(), &mini_path(), Side::Right)
}

/// Femur frame from femur_r body, metres.
fn femur_from_femur_body() -> Isometry3<f64> {
    transform::offset_m(FEMUR_OFFSET, FEMUR_OFFSET_ROT).inverse()
}

#[test]
fn mini_offset_frames() {
    let k = mini().unwrap();
    assert_eq!(k.femur_body, "femur_r");
    assert_eq!(k.tibia_body, "tibia_r");
    let fb = k.femur_body_from_femur;
    assert!((fb.translation.vector - Vector3::new(0.0, -400.0, 0.0)).norm() < 1e-9);
    assert!((fb.rotation.angle() - 0.1).abs() < 1e-12);
    assert!(
        (k.tibia_body_from_tibia.translation.vector - Vector3::new(0.0, 20.0, 0.0)).norm() < 1e-9
    );

    // A femur_r point 10 mm anterior of the knee frame origin, seen from a frame turned 0.1
    // rad about Z.
    let lig = k.ligament("lig").unwrap();
    let p = lig.points[0].location_mm;
    assert_eq!(lig.points[0].frame, PointFrame::Femur);
    assert!(
        close(p, [10.0 * 0.1f64.cos(), -10.0 * 0.1f64.sin(), 0.0], 1e-9),
        "{p:?}"
    );
    // A point given directly in the knee's tibia offset frame stays as written.
    assert_eq!(lig.points[1].frame, PointFrame::Tibia);
    assert!(close(lig.points[1].location_mm, [0.0, -20.0, 10.0], 1e-9));
    assert_eq!(lig.points[1].body, "tibia_r");

    // The femur mesh: femur_r offset by location/orientation (body-fixed XYZ), then into the
    // Femur frame.
    let m = k.contact_mesh("femur_cartilage").unwrap();
    let expected = to_mm(
        &(femur_from_femur_body() * transform::offset_m([0.001, 0.002, 0.003], [0.1, 0.2, 0.3])),
    );
    assert!((m.frame_from_mesh.to_homogeneous() - expected.to_homogeneous()).norm() < 1e-9);
    let r = Rotation3::from_axis_angle(&Vector3::x_axis(), 0.1)
        * Rotation3::from_axis_angle(&Vector3::y_axis(), 0.2)
        * Rotation3::from_axis_angle(&Vector3::z_axis(), 0.3);
    let r_femur = Rotation3::from_axis_angle(&Vector3::z_axis(), -0.1) * r;
    assert!(
        (m.frame_from_mesh.rotation.to_rotation_matrix().matrix() - r_femur.matrix()).norm()
            < 1e-12
    );
    assert!((m.modulus_mpa - 6.0).abs() < 1e-12);
    assert_eq!(m.back_file, None);
    assert!((m.poisson - 0.5).abs() < 1e-12, "OpenSim-JAM default");
    assert!((m.thickness_mm - 5.0).abs() < 1e-12, "OpenSim-JAM default");
}

#[test]
fn mini_pelvis_point_through_the_rotated_hip() {
    let k = mini().unwrap();
    let recfem = k.muscle("recfem_r").unwrap();
    assert_eq!(recfem.points[0].body, "pelvis");
    assert_eq!(recfem.points[0].frame, PointFrame::Femur);
    // pelvis point → hip frame (pelvis_offset) → femur_r (PinJoint about Z at the default
    // 0.5 rad: femur_r = Rz(0.5) in the hip frame) → Femur frame.
    let p = Vector3::new(0.03, -0.04, 0.1) - Vector3::from(HIP);
    let in_femur_body = Rotation3::from_axis_angle(&Vector3::z_axis(), HIP_FLEX).inverse() * p;
    let q = femur_from_femur_body() * Point3::from(in_femur_body);
    assert!(close(
        recfem.points[0].location_mm,
        [q.x * 1000.0, q.y * 1000.0, q.z * 1000.0],
        1e-9
    ));
    assert_eq!(recfem.max_isometric_force_n, 500.0);
    // Thelen muscles and the `vas_lat` spelling are recognised.
    assert_eq!(
        k.muscle("vas_lat_r").unwrap().role,
        MuscleRole::VastusLateralis
    );
}

#[test]
fn mini_knee_and_patella() {
    let k = mini().unwrap();
    // A TransformAxis without a function is the identity; rotations are body-fixed.
    let c = KneeCoords {
        flex_rad: 0.4,
        add_rad: 0.05,
        rot_rad: 0.1,
        tx_mm: 2.0,
        ty_mm: 3.0,
        tz_mm: -1.0,
    };
    let x = k.femur_from_tibia(&c);
    let r = Rotation3::from_axis_angle(&Vector3::z_axis(), -0.4)
        * Rotation3::from_axis_angle(&Vector3::x_axis(), 0.05)
        * Rotation3::from_axis_angle(&Vector3::y_axis(), 0.1);
    assert!((x.rotation.to_rotation_matrix().matrix() - r.matrix()).norm() < 1e-12);
    assert!((x.translation.vector - Vector3::new(2.0, 3.0, -1.0)).norm() < 1e-12);

    // The pf joint hangs off femur_r, not off the knee's femur offset frame.
    let expected = to_mm(
        &(femur_from_femur_body()
            * Isometry3::from_parts(
                nalgebra::Translation3::new(0.05, -0.38, 0.0),
                UnitQuaternion::from_axis_angle(&Vector3::z_axis(), 0.2),
            )),
    );
    assert!(
        (k.femur_from_patella_default.to_homogeneous() - expected.to_homogeneous()).norm() < 1e-9
    );
    assert_eq!(k.pf_coordinates.len(), 3);
    assert_eq!(k.pf_coordinates[1].kind, AxisKind::Translation);
    assert!((k.pf_coordinates[1].default_value - 50.0).abs() < 1e-12);
}

#[test]
fn mini_ligament_units_and_foreign_bodies() {
    let k = mini().unwrap();
    let lig = k.ligament("lig").unwrap();
    assert_eq!(lig.linear_stiffness_n, 1000.0);
    assert!((lig.slack_length_mm - 30.0).abs() < 1e-12);
    // "Units of force/length": 20000 N/m × 0.05 m = 1000 N per unit strain.
    let old = k.ligament("old_units").unwrap();
    assert!((old.linear_stiffness_n - 1000.0).abs() < 1e-9);
}

#[test]
fn mini_ignores_ligaments_that_do_not_cross_the_knee() {
    let k = mini().unwrap();
    // ankle_lig runs tibia → talus: it does not cross the knee.
    assert!(k.ligament("ankle_lig").is_none());
    let names: Vec<&str> = k.ligaments.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["lig", "old_units"]);
}

#[test]
fn mini_errors() {
    let path = mini_path();
    let dir = lenhart_path().parent().unwrap().to_path_buf();
    // A ligament across the knee that continues to a body below the tibia cannot be placed.
    let bad = "<Blankevoort1991Ligament name=\"bad\"><GeometryPath name=\"geometrypath\"><PathPointSet><objects>\
        <PathPoint name=\"bad-P1\"><socket_parent_frame>/bodyset/femur_r</socket_parent_frame><location>0 -0.4 0</location></PathPoint>\
        <PathPoint name=\"bad-P2\"><socket_parent_frame>/bodyset/tibia_r</socket_parent_frame><location>0 -0.1 0</location></PathPoint>\
        <PathPoint name=\"bad-P3\"><socket_parent_frame>/bodyset/talus_r</socket_parent_frame><location>0 0 0</location></PathPoint>\
        </objects></PathPointSet></GeometryPath><linear_stiffness>1</linear_stiffness><slack_length>0.3</slack_length>\
        </Blankevoort1991Ligament>";
    let e = expect_err(parse_osim(&mini_model(&dir, bad), &path, Side::Right));
    let m = check_message(&e, &path);
    assert!(
        m.contains("PathPoint `bad-P3` in Blankevoort1991Ligament `bad`") && m.contains("talus_r"),
        "{m}"
    );

    // A dangling frame path names the socket and the path.
    let text = mini_text().replacen(
        "<socket_frame>/bodyset/patella_r</socket_frame>",
        "<socket_frame>/bodyset/patela_r</socket_frame>",
        1,
    );
    let m = check_message(&expect_err(parse_osim(&text, &path, Side::Right)), &path);
    assert!(
        m.contains("Smith2018ContactMesh `patella_cartilage`") && m.contains("/bodyset/patela_r"),
        "{m}"
    );

    // A missing quadriceps head.
    let text = mini_text().replace("vasmed_r", "gracilis_r");
    let m = check_message(&expect_err(parse_osim(&text, &path, Side::Right)), &path);
    assert!(m.contains("vastus medialis (vasmed_r)"), "{m}");

    // No patellar cartilage.
    let text = remove_element(
        &mini_text(),
        "<Smith2018ContactMesh name=\"patella_cartilage\">",
        "</Smith2018ContactMesh>",
    );
    let m = check_message(&expect_err(parse_osim(&text, &path, Side::Right)), &path);
    assert!(
        m.contains("no Smith2018ContactMesh on the right patella (patella_r)"),
        "{m}"
    );
}

/// A WrapCylinder element.
fn wrap_cylinder(name: &str, extra: &str) -> String {
    format!(
        "<WrapCylinder name=\"{name}\"><xyz_body_rotation>0.1 0.2 0.3</xyz_body_rotation>\
         <translation>0.01 -0.39 0.005</translation>{extra}<radius>0.02</radius>\
         <length>0.1</length></WrapCylinder>"
    )
}

/// The mini model with wrap objects on its bodies and a vastus that wraps over `wraps`.
fn mini_with_wraps(wraps: &[&str]) -> String {
    let wrap_set = |objects: String| {
        format!(
            "<WrapObjectSet name=\"wrapobjectset\"><objects>{objects}</objects></WrapObjectSet>"
        )
    };
    let femur = [
        wrap_cylinder("cyl_x", "<quadrant> +x </quadrant>"),
        wrap_cylinder("cyl_default", ""),
        wrap_cylinder("cyl_neg_y", "<quadrant>-Y</quadrant>"),
        wrap_cylinder("cyl_off", "<active>false</active><quadrant>x</quadrant>"),
        wrap_cylinder("cyl_z", "<quadrant>z</quadrant>"),
        "<WrapEllipsoid name=\"ell\"><dimensions>0.01 0.02 0.03</dimensions></WrapEllipsoid>"
            .to_string(),
    ]
    .join("");
    let tibia = wrap_cylinder("cyl_tibia", "<quadrant>-x</quadrant>");
    let pelvis = wrap_cylinder("cyl_pelvis", "<quadrant>y</quadrant>")
        + "<WrapSphere name=\"sph\"><radius>0.01</radius></WrapSphere>";
    let path_wraps: String = wraps
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!("<PathWrap name=\"pathwrap_{i}\"><wrap_object>{w}</wrap_object></PathWrap>")
        })
        .collect();
    let muscle = format!(
        "<Thelen2003Muscle name=\"vasmedobl_r\"><GeometryPath name=\"geometrypath\"><PathPointSet><objects>\
         <PathPoint name=\"p1\"><socket_parent_frame>/bodyset/femur_r</socket_parent_frame><location>0.01 -0.2 0.02</location></PathPoint>\
         <PathPoint name=\"p2\"><socket_parent_frame>/bodyset/patella_r</socket_parent_frame><location>0 0.01 0</location></PathPoint>\
         </objects></PathPointSet><PathWrapSet><objects>{path_wraps}</objects></PathWrapSet></GeometryPath></Thelen2003Muscle>"
    );
    mini_model(lenhart_path().parent().unwrap(), &muscle)
        .replacen(
            "<Body name=\"femur_r\" />",
            &format!("<Body name=\"femur_r\">{}</Body>", wrap_set(femur)),
            1,
        )
        .replacen(
            "<Body name=\"tibia_r\" />",
            &format!("<Body name=\"tibia_r\">{}</Body>", wrap_set(tibia)),
            1,
        )
        .replacen(
            "<Body name=\"pelvis\" />",
            &format!("<Body name=\"pelvis\">{}</Body>", wrap_set(pelvis)),
            1,
        )
}

#[test]
fn mini_wrap_cylinders() {
    let wraps = [
        "cyl_tibia",
        "cyl_x",
        "ell",
        "cyl_default",
        "cyl_neg_y",
        "cyl_off",
        "cyl_z",
        "cyl_x",
        "cyl_pelvis",
        "sph",
    ];
    let k = parse_osim(&mini_with_wraps(&wraps), &mini_path(), Side::Right).unwrap();
    assert_eq!(k.muscle("vasmedobl_r").unwrap().wrap_objects, wraps);
    // File order, each once: pelvis, femur, tibia bodies.
    let names: Vec<&str> = k.wrap_cylinders.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cyl_x", "cyl_default", "cyl_neg_y", "cyl_tibia"]);
    let quadrants: Vec<&str> = k
        .wrap_cylinders
        .iter()
        .map(|c| c.quadrant.as_str())
        .collect();
    assert_eq!(quadrants, ["x", "all", "-y", "-x"]);
    assert_eq!(
        k.unsupported_wraps,
        [
            "cyl_pelvis (WrapCylinder on pelvis, which is not fixed to the femur, tibia or patella)",
            "sph (WrapSphere)",
            "cyl_off (WrapCylinder, inactive)",
            "cyl_z (WrapCylinder, quadrant z along its axis)",
            "ell (WrapEllipsoid)",
        ]
    );

    // femur_r → Femur frame (the knee's rotated femur offset frame), then the cylinder's
    // translation and body-fixed XYZ rotation.
    let offset = transform::offset_m([0.01, -0.39, 0.005], [0.1, 0.2, 0.3]);
    let c = k.wrap_cylinder("cyl_x").unwrap();
    assert_eq!(c.frame, KneeFrame::Femur);
    let expected = to_mm(&(femur_from_femur_body() * offset));
    assert!((c.frame_from_cylinder.to_homogeneous() - expected.to_homogeneous()).norm() < 1e-9);
    let axis = c.frame_from_cylinder.rotation * Vector3::z();
    let r = Rotation3::from_axis_angle(&Vector3::z_axis(), -0.1)
        * Rotation3::from_axis_angle(&Vector3::x_axis(), 0.1)
        * Rotation3::from_axis_angle(&Vector3::y_axis(), 0.2)
        * Rotation3::from_axis_angle(&Vector3::z_axis(), 0.3);
    assert!((axis - r * Vector3::z()).norm() < 1e-12);
    assert!((c.radius_mm - 20.0).abs() < 1e-12 && (c.length_mm - 100.0).abs() < 1e-12);

    // tibia_r → Tibia frame (the knee's tibia offset frame, 20 mm up).
    let t = k.wrap_cylinder("cyl_tibia").unwrap();
    assert_eq!(t.frame, KneeFrame::Tibia);
    let expected = to_mm(&(transform::offset_m(TIBIA_OFFSET, [0.0; 3]).inverse() * offset));
    assert!((t.frame_from_cylinder.to_homogeneous() - expected.to_homogeneous()).norm() < 1e-9);

    // A wrap object owned by an offset frame (here the Tibia frame itself) is placed in it.
    let text = mini_with_wraps(&["cyl_in_offset"]).replacen(
        "<PhysicalOffsetFrame name=\"tibia_offset\">",
        &format!(
            "<PhysicalOffsetFrame name=\"tibia_offset\"><WrapObjectSet name=\"wrapobjectset\"><objects>{}</objects></WrapObjectSet>",
            wrap_cylinder("cyl_in_offset", "<quadrant>y</quadrant>")
        ),
        1,
    );
    let k = parse_osim(&text, &mini_path(), Side::Right).unwrap();
    let o = k.wrap_cylinder("cyl_in_offset").unwrap();
    assert_eq!(o.frame, KneeFrame::Tibia);
    assert_eq!(o.quadrant, "y");
    let expected = to_mm(&offset);
    assert!((o.frame_from_cylinder.to_homogeneous() - expected.to_homogeneous()).norm() < 1e-9);
}

#[test]
fn mini_wrap_errors() {
    let path = mini_path();
    // A name no wrap object has: the message names the path and the name.
    let e = expect_err(parse_osim(
        &mini_with_wraps(&["cyl_x", "no_such_wrap"]),
        &path,
        Side::Right,
    ));
    let m = check_message(&e, &path);
    assert!(
        m.contains("PathWrap `pathwrap_1` in Thelen2003Muscle `vasmedobl_r`")
            && m.contains("`no_such_wrap`"),
        "{m}"
    );
    // A quadrant OpenSim rejects.
    let text = mini_with_wraps(&["cyl_x"]).replacen(
        "<quadrant> +x </quadrant>",
        "<quadrant>xy</quadrant>",
        1,
    );
    let m = check_message(&expect_err(parse_osim(&text, &path, Side::Right)), &path);
    assert!(
        m.contains("WrapCylinder `cyl_x`") && m.contains("`xy`"),
        "{m}"
    );
    // A wrap object nothing names is not read at all.
    let text = mini_with_wraps(&["cyl_default"]).replacen(
        "<quadrant> +x </quadrant>",
        "<quadrant>xy</quadrant>",
        1,
    );
    let k = parse_osim(&text, &path, Side::Right).unwrap();
    assert_eq!(k.wrap_cylinders.len(), 1);
    assert!(k.unsupported_wraps.is_empty());
    // No wraps in the plain mini model.
    let k = mini().unwrap();
    assert!(k.wrap_cylinders.is_empty() && k.unsupported_wraps.is_empty());
}

/// `cargo test --lib osim::tests::print_lenhart_summary -- --ignored --nocapture`
#[test]
#[ignore = "prints the Lenhart numbers for a human"]
fn print_lenhart_summary() {
    let k = lenhart();
    let f3 = |p: [f64; 3]| format!("({:.2}, {:.2}, {:.2})", p[0], p[1], p[2]);
    let t = |x: &Isometry3<f64>| {
        let v = x.translation.vector;
        format!(
            "t = {} mm, rotation {:.6} rad about {:?}",
            f3([v.x, v.y, v.z]),
            x.rotation.angle(),
            x.rotation.axis().map(|a| [a.x, a.y, a.z])
        )
    };
    println!(
        "femur_from_patella_default: {}",
        t(&k.femur_from_patella_default)
    );
    println!(
        "femur_from_tibia(0): {}",
        t(&k.femur_from_tibia(&KneeCoords::default()))
    );
    println!("flexion_axis: {:?}", k.flexion_axis);
    for group in ["PT", "mPFL", "lPFL"] {
        let ligs: Vec<&LigamentSpec> = k
            .ligaments
            .iter()
            .filter(|l| {
                l.name.starts_with(group)
                    && l.name[group.len()..].chars().all(|c| c.is_ascii_digit())
            })
            .collect();
        let n = ligs.len() as f64;
        for (i, frame) in [PointFrame::Femur, PointFrame::Tibia, PointFrame::Patella]
            .iter()
            .enumerate()
        {
            let pts: Vec<[f64; 3]> = ligs
                .iter()
                .flat_map(|l| {
                    l.points
                        .iter()
                        .filter(|p| p.frame == *frame)
                        .map(|p| p.location_mm)
                })
                .collect();
            if !pts.is_empty() {
                println!(
                    "{group} ({} bundles) {:?} attachment mean {} [{i}]",
                    ligs.len(),
                    frame,
                    f3(mean(&pts))
                );
            }
        }
        let slack = ligs.iter().map(|l| l.slack_length_mm).sum::<f64>() / n;
        let stiff: Vec<f64> = ligs.iter().map(|l| l.linear_stiffness_n).collect();
        println!(
            "{group}: mean slack {slack:.2} mm, stiffness {:?} N/strain (sum {})",
            stiff,
            stiff.iter().sum::<f64>()
        );
    }
    let itb = k.ligament("ITB1").unwrap();
    for p in &itb.points {
        println!(
            "ITB1 {} on {} -> {:?} {}",
            p.name,
            p.body,
            p.frame,
            f3(p.location_mm)
        );
    }
    println!(
        "ITB1 k = {} N/strain, slack {:.2} mm",
        itb.linear_stiffness_n, itb.slack_length_mm
    );
    for c in &k.wrap_cylinders {
        let v = c.frame_from_cylinder.translation.vector;
        let axis = c.frame_from_cylinder.rotation * Vector3::z();
        println!(
            "wrap cylinder {} in {:?}: centre {}, axis {}, radius {:.3} mm, length {:.3} mm, quadrant {}",
            c.name,
            c.frame,
            f3([v.x, v.y, v.z]),
            f3([axis.x, axis.y, axis.z]),
            c.radius_mm,
            c.length_mm,
            c.quadrant
        );
    }
    println!("unsupported wraps: {:?}", k.unsupported_wraps);
    for m in &k.muscles {
        println!(
            "{} ({:?}) F_max = {} N, wraps {:?}",
            m.name, m.role, m.max_isometric_force_n, m.wrap_objects
        );
        for p in &m.points {
            println!(
                "    {} on {} -> {:?} {}",
                p.name,
                p.body,
                p.frame,
                f3(p.location_mm)
            );
        }
    }
}
