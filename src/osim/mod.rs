//! Reads an OpenSim 4 knee model of the OpenSim-JAM kind (`.osim`): the tibiofemoral and
//! patellofemoral joints, the cartilage contact meshes, the ligaments and the quadriceps
//! paths, re-expressed in kneetrack's three knee frames and in mm.
//!
//! The reference model is the Lenhart et al. (2015) knee as distributed with OpenSim-JAM
//! (`assets/lenhart2015/lenhart2015.osim`, meshes beside it): a 6-DOF tibiofemoral joint
//! `knee_r` (`femur_distal_r` → `tibia_proximal_r`), a 6-DOF patellofemoral joint `pf_r`
//! (`femur_distal_r` → `patella_r`), three `Smith2018ContactMesh` cartilage surfaces and
//! `Blankevoort1991Ligament` bundles.
//!
//! # What is read
//! * `BodySet/objects/Body`, `Ground`, and every `PhysicalOffsetFrame` (a joint's `frames`,
//!   a body's `components`): `socket_parent`, `translation` (m), `orientation` (rad,
//!   body-fixed X-Y-Z: R = Rx·Ry·Rz). Socket paths are resolved as OpenSim 4 does: absolute
//!   (`/bodyset/femur_distal_r`, `/jointset/knee_r/femur_r_offset`) or relative to the
//!   component that owns the socket (`femur_r_offset`, `..`); a bare name that matches no
//!   path falls back to the one frame of that name.
//! * `JointSet/objects/*Joint`: `socket_parent_frame`, `socket_child_frame`, the
//!   `Coordinate`s' `default_value`, and for a `CustomJoint` the `SpatialTransform`
//!   (see [`TransformAxis`] for the convention, which is Simbody's
//!   `MobilizedBody::FunctionBased`: rotations rotation1·rotation2·rotation3 about axes that
//!   move with the previous rotations, translations along axes fixed in the parent frame).
//!   Functions: `LinearFunction`, `Constant`, `SimmSpline`, `MultiplierFunction`,
//!   `PolynomialFunction`, `PiecewiseLinearFunction` ([`OsimFunction`]); a TransformAxis that
//!   names a coordinate but no function is the identity. Weld, Pin, Slider, Universal,
//!   Gimbal, Ball, Planar and Free joints are understood too (needed only between the
//!   pelvis and the femur, at default coordinates).
//! * `ContactGeometrySet/objects/Smith2018ContactMesh` on the femur, tibia and patella
//!   (Smith et al. 2018): frame, `location`, `orientation`, `mesh_file`, `elastic_modulus`,
//!   `poissons_ratio`, `thickness`, `use_variable_thickness`, `mesh_back_file`,
//!   `min_thickness`, `max_thickness` (OpenSim-JAM's defaults when a property is absent).
//!   Mesh files are looked for as OpenSim does: an absolute path as given; a relative one in
//!   the model file's folder, then in its `Geometry/` subfolder.
//! * `ForceSet/objects/Blankevoort1991Ligament` (Blankevoort & Huiskes 1991, as implemented
//!   in OpenSim-JAM, Smith et al. 2016) that cross the knee or patellofemoral joint: path
//!   points, `linear_stiffness`, `slack_length`, `transition_strain`.
//! * `ForceSet/objects/*Muscle` named like the quadriceps (`recfem`, `vasint`, `vaslat`,
//!   `vasmed` and variants such as `vasmedobl`) and the tensor fasciae latae (`tfl`), with
//!   the side suffix: path points and `max_isometric_force`.
//! * The wrap objects the kept paths name (`GeometryPath/PathWrapSet/objects/PathWrap/
//!   wrap_object`), looked up by name in the `WrapObjectSet` of every Body, Ground and
//!   PhysicalOffsetFrame (the first in file order, as OpenSim takes the first frame that has
//!   one). A `WrapCylinder` (`translation` m and `xyz_body_rotation` rad, body-fixed X-Y-Z,
//!   in the owning frame; `radius`, `length` m; `quadrant`; `active`) on a body rigidly fixed
//!   to the femur, tibia or patella becomes a [`WrapCylinderSpec`]; any other wrap object a
//!   kept path names (an ellipsoid, sphere or torus, a cylinder elsewhere, an inactive one)
//!   is listed in [`OsimKnee::unsupported_wraps`]. A name that no wrap object has is an error.
//!
//! Everything else (other limbs, other muscles, wrap objects no kept path names, markers,
//! controllers) is ignored. The PathWraps' `method` and `range` are not read (Lenhart uses
//! the defaults: hybrid, the whole path). Path points are given as read; wrapping them over
//! the cylinders is the caller's business.
//!
//! # Frames (all lengths mm)
//! * **Femur** ([`KneeFrame::Femur`]) = the knee joint's parent frame (Lenhart: the body
//!   `femur_distal_r`; OpenSim axes X anterior, Y superior, Z to the right).
//! * **Tibia** = the knee joint's child frame (Lenhart: `tibia_proximal_r`).
//! * **Patella** = the patellofemoral joint's child frame (Lenhart: `patella_r`).
//!
//! Bodies welded (WeldJoint) to one of these are re-expressed in it (Lenhart: `femur_r`
//! points go to the Femur frame, `tibia_r` points to the Tibia frame). Points on bodies
//! proximal to the femur (pelvis, ground) are expressed in the Femur frame with the hip and
//! every joint in between at its default coordinates (Lenhart: all hip angles 0).
//!
//! # Sources
//! * Lenhart R.L., Kaiser J., Smith C.R., Thelen D.G. (2015) Prediction and validation of
//!   load-dependent behavior of the tibiofemoral and patellofemoral joints during movement.
//!   Ann Biomed Eng 43(11):2675–2685.
//! * Smith C.R., Won Choi K., Negrut D., Thelen D.G. (2018) Efficient computation of
//!   cartilage contact pressures within dynamic simulations of movement. Comput Methods
//!   Biomech Biomed Eng Imaging Vis 6(5):491–498 (`Smith2018ContactMesh`).
//! * Blankevoort L., Huiskes R. (1991) Ligament-bone interaction in a three-dimensional
//!   model of the knee. J Biomech Eng 113(3):263–269 (`Blankevoort1991Ligament`).
//! * OpenSim 4 file conventions (Seth et al. 2018, PLoS Comput Biol 14(7):e1006223);
//!   Simbody `MobilizedBody::FunctionBased`; OpenSim `SimmSpline`.

mod document;
mod error;
mod function;
mod transform;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nalgebra::{Isometry3, Point3, UnitQuaternion, Vector3};

pub use crate::params::Side;
pub use error::OsimError;
pub use function::{OsimFunction, SimmSpline};
pub use transform::{AxisKind, TransformAxis};

use document::{child, comment_before, Doc, FrameRef};
use roxmltree::Node;
use transform::{child_in_parent_m, offset_m, to_mm};

/// The frames the knee is described in (all lengths mm); see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KneeFrame {
    /// The knee joint's parent frame (Lenhart: body `femur_distal_r`).
    Femur,
    /// The knee joint's child frame (Lenhart: body `tibia_proximal_r`).
    Tibia,
    /// The patellofemoral joint's child frame (Lenhart: body `patella_r`).
    Patella,
}

/// Where a path point is fixed: the same three frames. Points on bodies welded to the femur
/// or tibia are re-expressed in the Femur or Tibia frame; points on the pelvis (or any body
/// proximal to the femur) are expressed in the Femur frame with the hip, and every joint
/// between, at its default coordinates.
pub type PointFrame = KneeFrame;

/// Tibiofemoral joint coordinates by role. Values are the model's own coordinates (its sign
/// conventions) in kneetrack units.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KneeCoords {
    /// Flexion coordinate (the one driving the rotation axis closest to the femoral
    /// medio-lateral Z), rad. Lenhart `knee_flex_r`: positive = flexion.
    pub flex_rad: f64,
    /// Ab/adduction coordinate (rotation axis closest to X), rad. Lenhart `knee_add_r`.
    pub add_rad: f64,
    /// Internal/external rotation coordinate (rotation axis closest to Y), rad.
    /// Lenhart `knee_rot_r`.
    pub rot_rad: f64,
    /// Translation coordinate along the axis closest to the femoral X (anterior), mm.
    pub tx_mm: f64,
    /// Translation coordinate along the axis closest to Y (superior), mm.
    pub ty_mm: f64,
    /// Translation coordinate along the axis closest to Z (medio-lateral), mm.
    pub tz_mm: f64,
}

/// A joint coordinate.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordinateSpec {
    /// Name in the model (`pf_flex_r`).
    pub name: String,
    /// Rotation (value in rad) if it drives a rotation axis, else translation (value in mm).
    pub kind: AxisKind,
    /// The model's `default_value`, rad or mm.
    pub default_value: f64,
}

/// A `Smith2018ContactMesh` (Smith et al. 2018) on the femur, tibia or patella.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactMesh {
    /// Component name (`femur_cartilage`).
    pub name: String,
    /// The knee frame it moves with.
    pub frame: KneeFrame,
    /// The articular-surface mesh (`mesh_file`), resolved to an existing file.
    pub mesh_file: PathBuf,
    /// The bone-side mesh (`mesh_back_file`), resolved; `None` when the model gives none (or,
    /// when `variable_thickness` is off, when the file is not found: it is then unused).
    pub back_file: Option<PathBuf>,
    /// Pose of the mesh file's coordinates in `frame`, mm: a vertex v (metres in the file)
    /// is at `frame_from_mesh * (1000·v)` in `frame`. Includes the socket frame's offset and
    /// the mesh's `location`/`orientation`.
    pub frame_from_mesh: Isometry3<f64>,
    /// Elastic modulus of the cartilage layer, MPa (`elastic_modulus`, Pa in the file).
    pub modulus_mpa: f64,
    /// Poisson's ratio (`poissons_ratio`).
    pub poisson: f64,
    /// Uniform layer thickness, mm (`thickness`); unused by OpenSim-JAM when
    /// `variable_thickness` is on.
    pub thickness_mm: f64,
    /// `use_variable_thickness`: the thickness of each triangle is the distance along its
    /// inward normal to `back_file`, limited to [`min_thickness_mm`](Self::min_thickness_mm),
    /// [`max_thickness_mm`](Self::max_thickness_mm) (OpenSim-JAM sets a ray that misses,
    /// or a distance above the maximum, to the minimum).
    pub variable_thickness: bool,
    /// `min_thickness`, mm.
    pub min_thickness_mm: f64,
    /// `max_thickness`, mm.
    pub max_thickness_mm: f64,
}

/// A path point re-expressed in a knee frame.
#[derive(Debug, Clone, PartialEq)]
pub struct PathPointSpec {
    /// The path point's name in the model (`PT1-P1`).
    pub name: String,
    /// The body it is fixed to in the model (`femur_r`, `pelvis`).
    pub body: String,
    /// The knee frame [`location_mm`](Self::location_mm) is expressed in.
    pub frame: PointFrame,
    /// Position in `frame`, mm.
    pub location_mm: [f64; 3],
}

/// A `Blankevoort1991Ligament` bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct LigamentSpec {
    /// Name (`PT1`, `mPFL3`, `ITB1`).
    pub name: String,
    /// Path points in order, origin first.
    pub points: Vec<PathPointSpec>,
    /// Slope of the linear region of the force–strain curve, N per unit strain
    /// (`linear_stiffness`; converted from N/m × slack length if the file's property
    /// comment says force/length, as one OpenSim-JAM version wrote it).
    pub linear_stiffness_n: f64,
    /// Length at which the bundle starts to carry load, mm (`slack_length`).
    pub slack_length_mm: f64,
    /// Strain at which the quadratic toe region becomes linear (`transition_strain`,
    /// OpenSim-JAM default 0.06).
    pub transition_strain: f64,
    /// Names of the wrap objects the path wraps over in the model, in order. Each is in
    /// [`OsimKnee::wrap_cylinders`] or [`OsimKnee::unsupported_wraps`].
    pub wrap_objects: Vec<String>,
}

/// Which muscle a [`MusclePath`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MuscleRole {
    /// Rectus femoris (`recfem`, `rectfem`, …).
    RectusFemoris,
    /// Vastus intermedius (`vasint`, …).
    VastusIntermedius,
    /// Vastus lateralis (`vaslat`, …).
    VastusLateralis,
    /// Vastus medialis (`vasmed`, …).
    VastusMedialis,
    /// Tensor fasciae latae (`tfl`, `tenfaslat`, …).
    TensorFasciaeLatae,
}

/// A quadriceps head or the tensor fasciae latae.
#[derive(Debug, Clone, PartialEq)]
pub struct MusclePath {
    /// Name in the model (`vasmed_r`).
    pub name: String,
    /// Which muscle it is, from its name.
    pub role: MuscleRole,
    /// Path points in order, origin first.
    pub points: Vec<PathPointSpec>,
    /// `max_isometric_force`, N (OpenSim's default 1000 N when absent).
    pub max_isometric_force_n: f64,
    /// Names of the wrap objects the path wraps over in the model, in order. Each is in
    /// [`OsimKnee::wrap_cylinders`] or [`OsimKnee::unsupported_wraps`].
    pub wrap_objects: Vec<String>,
}

/// A wrap cylinder a kept path wraps over (OpenSim `WrapCylinder`), expressed in a knee frame.
#[derive(Debug, Clone, PartialEq)]
pub struct WrapCylinderSpec {
    /// Name in the model (`KnExt_at_fem_r`).
    pub name: String,
    /// The knee frame the cylinder is fixed in (bodies rigidly welded to the femur → Femur, etc.).
    pub frame: KneeFrame,
    /// Pose of the cylinder in that frame (mm): its local z is the cylinder axis, origin at its centre.
    pub frame_from_cylinder: Isometry3<f64>,
    /// `radius`, mm.
    pub radius_mm: f64,
    /// `length`, mm: the cylinder runs from z = −length/2 to +length/2 in its own axes.
    pub length_mm: f64,
    /// OpenSim quadrant: "all", "x", "-x", "y", "-y" (the side of the cylinder a path may wrap on, in the cylinder's local axes).
    /// Normalised from the file's spelling (`+x`, `X`, surrounding blanks; absent = "all").
    pub quadrant: String,
}

/// What kneetrack reads from an OpenSim knee model. Lengths mm, angles rad.
#[derive(Debug, Clone)]
pub struct OsimKnee {
    /// The model file.
    pub path: PathBuf,
    /// Which knee was read.
    pub side: Side,
    /// Body of the Femur frame (Lenhart: `femur_distal_r`).
    pub femur_body: String,
    /// Body of the Tibia frame (`tibia_proximal_r`).
    pub tibia_body: String,
    /// Body of the Patella frame (`patella_r`).
    pub patella_body: String,
    /// The tibiofemoral joint (`knee_r`).
    pub knee_joint: String,
    /// The patellofemoral joint (`pf_r`).
    pub pf_joint: String,
    /// Femur frame in its body, mm (identity when the joint's parent frame is the body).
    pub femur_body_from_femur: Isometry3<f64>,
    /// Tibia frame in its body, mm.
    pub tibia_body_from_tibia: Isometry3<f64>,
    /// Patella frame in its body, mm.
    pub patella_body_from_patella: Isometry3<f64>,
    /// The knee joint's spatial transform, Tibia in Femur: rotations (in order) then
    /// translations, functions in OpenSim units. Evaluate with
    /// [`femur_from_tibia`](Self::femur_from_tibia).
    pub knee_transform: Vec<TransformAxis>,
    /// The knee coordinates by role: flexion, adduction, rotation, tx, ty, tz (Lenhart:
    /// `knee_flex_r`, `knee_add_r`, `knee_rot_r`, `knee_tx_r`, `knee_ty_r`, `knee_tz_r`).
    pub coordinate_names: [String; 6],
    /// The knee coordinates' default values.
    pub default_coords: KneeCoords,
    /// Unit flexion axis in the Femur frame, signed so that increasing the flexion
    /// coordinate rotates the Tibia frame positively (right hand) about it relative to the
    /// Femur frame: the flexion TransformAxis's axis, carried through the rotations listed
    /// before it at their default values, times the sign of d(angle)/d(flexion) at the
    /// default flexion. Exact for any pose when flexion is `rotation1` (Lenhart: (0, 0, −1),
    /// i.e. medial for a right knee, because `knee_flex_r` enters with slope −1 about +Z).
    pub flexion_axis: [f64; 3],
    /// The patellofemoral joint's spatial transform, Patella (its child frame) in its
    /// parent frame, OpenSim units.
    pub pf_transform: Vec<TransformAxis>,
    /// The patellofemoral coordinates (those its transform uses), in the joint's order.
    pub pf_coordinates: Vec<CoordinateSpec>,
    /// The patellofemoral joint's parent frame in the Femur frame, mm (identity for Lenhart).
    pub femur_from_pf_parent: Isometry3<f64>,
    /// Patella frame in the Femur frame at the patellofemoral coordinates' defaults, mm
    /// (Lenhart: translation (53, 5, 4) mm, no rotation).
    pub femur_from_patella_default: Isometry3<f64>,
    /// Every `Smith2018ContactMesh` on the femur, tibia or patella (or bodies welded to
    /// them), in file order.
    pub contact_meshes: Vec<ContactMesh>,
    /// Every `Blankevoort1991Ligament` that crosses the knee or patellofemoral joint (path
    /// points on at least two of the Femur, Tibia and Patella frames, pelvis points counting
    /// as Femur), in file order. Ligaments of other joints or limbs are ignored.
    pub ligaments: Vec<LigamentSpec>,
    /// The quadriceps heads and the tensor fasciae latae of this side, in file order.
    pub muscles: Vec<MusclePath>,
    /// The active `WrapCylinder`s named by the kept ligaments and muscles that are fixed to
    /// the Femur, Tibia or Patella frame, each once, in file order (Lenhart: `KnExt_at_fem_r`,
    /// `KnExt_vasint_at_fem_r`, `Capsule_r`).
    pub wrap_cylinders: Vec<WrapCylinderSpec>,
    /// The other wrap objects the kept paths name, each once, in file order, as
    /// `name (type)` — `Med_Lig_r (WrapEllipsoid)` — or, for a cylinder that is not kept,
    /// `name (WrapCylinder, reason)`: on a body not fixed to a knee frame, inactive, or with
    /// a quadrant along its axis (`z`, `-z`).
    pub unsupported_wraps: Vec<String>,
}

impl OsimKnee {
    /// Pose of the Tibia frame in the Femur frame (mm) at the given knee coordinates: the
    /// knee joint's spatial transform with each role's coordinate set from `coords`.
    pub fn femur_from_tibia(&self, coords: &KneeCoords) -> Isometry3<f64> {
        let values = [
            coords.flex_rad,
            coords.add_rad,
            coords.rot_rad,
            coords.tx_mm / 1000.0,
            coords.ty_mm / 1000.0,
            coords.tz_mm / 1000.0,
        ];
        let value_of = |c: &str| {
            self.coordinate_names
                .iter()
                .position(|n| n == c)
                .map(|i| values[i])
                .unwrap_or(0.0)
        };
        to_mm(&child_in_parent_m(&self.knee_transform, &value_of))
    }

    /// Pose of the Patella frame in the Femur frame (mm) with the patellofemoral coordinates
    /// set to `values` (kneetrack units: rad or mm, in [`pf_coordinates`](Self::pf_coordinates)
    /// order; missing trailing values take their defaults).
    pub fn femur_from_patella(&self, values: &[f64]) -> Isometry3<f64> {
        let value_of = |c: &str| match self.pf_coordinates.iter().position(|s| s.name == c) {
            Some(i) => {
                let spec = &self.pf_coordinates[i];
                let v = values.get(i).copied().unwrap_or(spec.default_value);
                match spec.kind {
                    AxisKind::Rotation => v,
                    AxisKind::Translation => v / 1000.0,
                }
            }
            None => 0.0,
        };
        let x_fm = to_mm(&child_in_parent_m(&self.pf_transform, &value_of));
        self.femur_from_pf_parent * x_fm
    }

    /// The ligament with this name.
    pub fn ligament(&self, name: &str) -> Option<&LigamentSpec> {
        self.ligaments.iter().find(|l| l.name == name)
    }

    /// The muscle with this name.
    pub fn muscle(&self, name: &str) -> Option<&MusclePath> {
        self.muscles.iter().find(|m| m.name == name)
    }

    /// The contact mesh with this name.
    pub fn contact_mesh(&self, name: &str) -> Option<&ContactMesh> {
        self.contact_meshes.iter().find(|m| m.name == name)
    }

    /// The wrap cylinder with this name.
    pub fn wrap_cylinder(&self, name: &str) -> Option<&WrapCylinderSpec> {
        self.wrap_cylinders.iter().find(|c| c.name == name)
    }
}

/// Reads and parses an `.osim` file; see [`parse_osim`].
pub fn load_osim(path: &Path, side: Side) -> Result<OsimKnee, OsimError> {
    let text = crate::input::read_text(path, crate::input::MAX_MODEL_BYTES, "model file (.osim)")
        .map_err(|source| OsimError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_osim(&text, path, side)
}

/// Parses the text of an `.osim` file for the `side` knee. `path` names the file in messages
/// and anchors the search for mesh files (its folder, then its `Geometry/` subfolder).
pub fn parse_osim(text: &str, path: &Path, side: Side) -> Result<OsimKnee, OsimError> {
    let xml = roxmltree::Document::parse(text).map_err(|e| {
        let pos = e.pos();
        let message = e.to_string();
        let message = message
            .strip_suffix(&format!(" at {pos}"))
            .map(str::to_string)
            .unwrap_or(message);
        OsimError::Xml {
            path: path.to_path_buf(),
            line: pos.row,
            column: pos.col,
            message,
        }
    })?;
    let doc = Doc::new(&xml, path)?;
    build(&doc, side)
}

// -------------------------------------------------------------------------------------
// Assembly

/// The three knee frames and how to express a body's points in them.
struct Frames<'d, 'a, 'i> {
    doc: &'d Doc<'a, 'i>,
    femur: FrameRef,
    tibia: FrameRef,
    patella: FrameRef,
    /// Bodies proximal to the femur (its ancestors and bodies welded to them).
    proximal: Vec<bool>,
}

impl Frames<'_, '_, '_> {
    /// The knee frame a body is rigidly part of (cheap: no joint evaluated).
    fn rigid_frame(&self, body: usize) -> Option<KneeFrame> {
        if self.doc.rigidly_fixed(body, self.femur.body) {
            Some(KneeFrame::Femur)
        } else if self.doc.rigidly_fixed(body, self.tibia.body) {
            Some(KneeFrame::Tibia)
        } else if self.doc.rigidly_fixed(body, self.patella.body) {
            Some(KneeFrame::Patella)
        } else {
            None
        }
    }

    /// The knee frame a point on this body would be expressed in, if any (cheap).
    fn point_frame(&self, body: usize) -> Option<KneeFrame> {
        self.rigid_frame(body)
            .or_else(|| self.proximal[body].then_some(KneeFrame::Femur))
    }

    fn frame_ref(&self, f: KneeFrame) -> FrameRef {
        match f {
            KneeFrame::Femur => self.femur,
            KneeFrame::Tibia => self.tibia,
            KneeFrame::Patella => self.patella,
        }
    }

    /// Knee frame from body (m) for a body rigidly part of a knee frame.
    fn rigid(&self, body: usize) -> Result<Option<(KneeFrame, Isometry3<f64>)>, OsimError> {
        let Some(f) = self.rigid_frame(body) else {
            return Ok(None);
        };
        let r = self.frame_ref(f);
        let x = r.body_from_frame.inverse() * self.doc.relative(r.body, body)?;
        Ok(Some((f, x)))
    }

    /// Like [`rigid`](Self::rigid), and bodies proximal to the femur in the Femur frame at
    /// default coordinates.
    fn for_point(&self, body: usize) -> Result<Option<(KneeFrame, Isometry3<f64>)>, OsimError> {
        if let Some(r) = self.rigid(body)? {
            return Ok(Some(r));
        }
        if self.proximal[body] {
            let x =
                self.femur.body_from_frame.inverse() * self.doc.relative(self.femur.body, body)?;
            return Ok(Some((KneeFrame::Femur, x)));
        }
        Ok(None)
    }
}

/// A path point as read: its body and location in that body (m).
struct RawPoint<'a, 'i> {
    node: Node<'a, 'i>,
    body: usize,
    location_m: Point3<f64>,
}

fn build(doc: &Doc, side: Side) -> Result<OsimKnee, OsimError> {
    let suffix = match side {
        Side::Right => "_r",
        Side::Left => "_l",
    };
    let knee_j = find_knee(doc, suffix)?;
    let knee = &doc.joints[knee_j];
    if knee.kind != "CustomJoint" {
        return Err(doc.unsupported(
            knee.node,
            format!(
                "kneetrack needs the knee as a 6-DOF CustomJoint (flexion, adduction, rotation and three \
                 translations); this knee is a {}",
                knee.kind
            ),
        ));
    }
    let femur = knee.parent;
    let tibia = knee.child;
    if doc.rigidly_fixed(femur.body, tibia.body) {
        return Err(doc.invalid(knee.node, "the femur and tibia are welded together"));
    }
    let pf_j = find_pf(doc, suffix, femur.body)?;
    let pf = &doc.joints[pf_j];
    let patella = pf.child;
    if !doc.rigidly_fixed(pf.parent.body, femur.body) {
        return Err(doc.invalid(
            pf.node,
            format!(
                "the patellofemoral joint's parent frame is on body {}, which is not rigidly fixed to the \
                 knee's femur ({}); kneetrack needs the patella to move relative to the femur",
                doc.bodies[pf.parent.body].name, doc.bodies[femur.body].name
            ),
        ));
    }
    if doc.rigidly_fixed(patella.body, femur.body) || doc.rigidly_fixed(patella.body, tibia.body) {
        return Err(doc.invalid(
            pf.node,
            format!(
                "the patella ({}) is welded to the femur or tibia; kneetrack needs the patella as its own body",
                doc.bodies[patella.body].name
            ),
        ));
    }

    // Knee transform and coordinate roles.
    let knee_transform = doc.joint_axes(knee_j)?;
    let roles = knee_roles(doc, knee_j, &knee_transform)?;
    let coordinate_names: [String; 6] = std::array::from_fn(|i| {
        knee_transform[roles[i]]
            .coordinate
            .clone()
            .expect("checked")
    });
    let d = |i: usize| doc.default_value(&coordinate_names[i]);
    let default_coords = KneeCoords {
        flex_rad: d(0),
        add_rad: d(1),
        rot_rad: d(2),
        tx_mm: d(3) * 1000.0,
        ty_mm: d(4) * 1000.0,
        tz_mm: d(5) * 1000.0,
    };
    let flexion_axis = flexion_axis(doc, knee_j, &knee_transform, roles[0])?;

    // Patellofemoral joint.
    let pf_transform = doc.joint_axes(pf_j)?;
    let pf_coordinates = joint_coordinate_specs(doc, pf_j, &pf_transform);
    let femur_from_pf_parent_m = femur.body_from_frame.inverse()
        * doc.relative(femur.body, pf.parent.body)?
        * pf.parent.body_from_frame;
    let pf_default = child_in_parent_m(&pf_transform, &|c| doc.default_value(c));
    let femur_from_patella_default = to_mm(&(femur_from_pf_parent_m * pf_default));

    // Bodies proximal to the femur.
    let ancestors = doc.ancestors(femur.body);
    let proximal: Vec<bool> = (0..doc.bodies.len())
        .map(|b| {
            !doc.rigidly_fixed(b, femur.body) && ancestors.iter().any(|&a| doc.rigidly_fixed(a, b))
        })
        .collect();
    let frames = Frames {
        doc,
        femur,
        tibia,
        patella,
        proximal,
    };

    let contact_meshes = read_contact_meshes(doc, &frames, side)?;
    let mut wrap_uses = Vec::new();
    let ligaments = read_ligaments(doc, &frames, &mut wrap_uses)?;
    let muscles = read_muscles(doc, &frames, suffix, &mut wrap_uses)?;
    let (wrap_cylinders, unsupported_wraps) = read_wrap_cylinders(doc, &frames, &wrap_uses)?;

    Ok(OsimKnee {
        path: doc.path.to_path_buf(),
        side,
        femur_body: doc.bodies[femur.body].name.clone(),
        tibia_body: doc.bodies[tibia.body].name.clone(),
        patella_body: doc.bodies[patella.body].name.clone(),
        knee_joint: knee.name.clone(),
        pf_joint: pf.name.clone(),
        femur_body_from_femur: to_mm(&femur.body_from_frame),
        tibia_body_from_tibia: to_mm(&tibia.body_from_frame),
        patella_body_from_patella: to_mm(&patella.body_from_frame),
        knee_transform,
        coordinate_names,
        default_coords,
        flexion_axis,
        pf_transform,
        pf_coordinates,
        femur_from_pf_parent: to_mm(&femur_from_pf_parent_m),
        femur_from_patella_default,
        contact_meshes,
        ligaments,
        muscles,
        wrap_cylinders,
        unsupported_wraps,
    })
}

fn body_name<'d>(doc: &'d Doc, body: usize) -> &'d str {
    &doc.bodies[body].name
}

/// The tibiofemoral joint: `knee_r`, or the one CustomJoint from a femur body to a tibia body.
fn find_knee(doc: &Doc, suffix: &str) -> Result<usize, OsimError> {
    let wanted = format!("knee{suffix}");
    if let Some(j) = doc.joints.iter().position(|j| j.name == wanted) {
        return Ok(j);
    }
    let candidates: Vec<usize> = (0..doc.joints.len())
        .filter(|&j| {
            let joint = &doc.joints[j];
            let p = body_name(doc, joint.parent.body).to_ascii_lowercase();
            let c = body_name(doc, joint.child.body).to_ascii_lowercase();
            joint.kind == "CustomJoint"
                && p.contains("femur")
                && c.contains("tibia")
                && (p.ends_with(suffix) || c.ends_with(suffix))
        })
        .collect();
    match candidates.as_slice() {
        [j] => Ok(*j),
        [] => Err(doc.missing(format!(
            "no knee joint (a joint named {wanted}, or a CustomJoint from a femur*{suffix} body to a tibia*{suffix} body)"
        ))),
        many => Err(doc.missing(format!(
            "several candidate knee joints ({}); name the one to use {wanted}",
            many.iter().map(|&j| doc.joints[j].name.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The patellofemoral joint: `pf_r` / `patellofemoral_r`, or the one joint from the femur to
/// a body named like `patella_r`.
fn find_pf(doc: &Doc, suffix: &str, femur_body: usize) -> Result<usize, OsimError> {
    let names = [format!("pf{suffix}"), format!("patellofemoral{suffix}")];
    if let Some(j) = doc.joints.iter().position(|j| names.contains(&j.name)) {
        return Ok(j);
    }
    let candidates: Vec<usize> = (0..doc.joints.len())
        .filter(|&j| {
            let joint = &doc.joints[j];
            let c = body_name(doc, joint.child.body).to_ascii_lowercase();
            joint.kind != "WeldJoint"
                && c.contains("patella")
                && c.ends_with(suffix)
                && doc.rigidly_fixed(joint.parent.body, femur_body)
        })
        .collect();
    match candidates.as_slice() {
        [j] => Ok(*j),
        [] => Err(doc.missing(format!(
            "no patellofemoral joint (a CustomJoint from the femur to a body named patella{suffix}); \
             kneetrack needs the patella as its own body"
        ))),
        many => Err(doc.missing(format!(
            "several candidate patellofemoral joints ({}); name the one to use pf{suffix}",
            many.iter().map(|&j| doc.joints[j].name.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Indices into `axes` of the flexion, adduction, rotation, tx, ty, tz axes.
fn knee_roles(doc: &Doc, knee_j: usize, axes: &[TransformAxis]) -> Result<[usize; 6], OsimError> {
    let joint = &doc.joints[knee_j];
    let need =
        "kneetrack needs a 6-DOF knee whose flexion, adduction, rotation and three translations \
                each have their own coordinate";
    let mut rot: Vec<usize> = (0..axes.len())
        .filter(|&i| axes[i].kind == AxisKind::Rotation)
        .collect();
    let mut trans: Vec<usize> = (0..axes.len())
        .filter(|&i| axes[i].kind == AxisKind::Translation)
        .collect();
    if rot.len() != 3 || trans.len() != 3 {
        return Err(doc.unsupported(
            joint.node,
            format!(
                "{need}; this SpatialTransform has {} rotation and {} translation axes",
                rot.len(),
                trans.len()
            ),
        ));
    }
    let pick = |from: &mut Vec<usize>, dir: usize| -> usize {
        let best = (0..from.len())
            .max_by(|&a, &b| {
                axes[from[a]].axis[dir]
                    .abs()
                    .total_cmp(&axes[from[b]].axis[dir].abs())
            })
            .expect("non-empty");
        from.remove(best)
    };
    let flex = pick(&mut rot, 2);
    let add = pick(&mut rot, 0);
    let rotn = rot[0];
    let tx = pick(&mut trans, 0);
    let ty = pick(&mut trans, 1);
    let tz = trans[0];
    let roles = [flex, add, rotn, tx, ty, tz];
    let mut seen: Vec<&str> = Vec::new();
    let mut ok = true;
    for &i in &roles {
        match axes[i].coordinate.as_deref() {
            Some(c) if !axes[i].function.is_constant() && !seen.contains(&c) => seen.push(c),
            _ => ok = false,
        }
    }
    if ok {
        return Ok(roles);
    }
    // Explain what drives what.
    let coords = doc.joint_coordinates(knee_j);
    let mut parts: Vec<String> = coords
        .iter()
        .map(|c| {
            let driven: Vec<&str> = axes
                .iter()
                .filter(|a| {
                    a.coordinate.as_deref() == Some(c.as_str()) && !a.function.is_constant()
                })
                .map(|a| a.name.as_str())
                .collect();
            if driven.is_empty() {
                format!("{c} drives nothing")
            } else {
                format!("{c} drives {}", driven.join(", "))
            }
        })
        .collect();
    let fixed: Vec<&str> = axes
        .iter()
        .filter(|a| a.coordinate.is_none() || a.function.is_constant())
        .map(|a| a.name.as_str())
        .collect();
    if !fixed.is_empty() {
        parts.push(format!("{} constant", fixed.join(", ")));
    }
    Err(doc.unsupported(
        joint.node,
        format!(
            "{need}; it has {} coordinate(s): {} (a coupled knee)",
            coords.len(),
            parts.join("; ")
        ),
    ))
}

fn flexion_axis(
    doc: &Doc,
    knee_j: usize,
    axes: &[TransformAxis],
    flex: usize,
) -> Result<[f64; 3], OsimError> {
    let mut before = UnitQuaternion::identity();
    for a in axes
        .iter()
        .take(flex)
        .filter(|a| a.kind == AxisKind::Rotation)
    {
        let angle = a.value(&|c| doc.default_value(c));
        before *= UnitQuaternion::from_axis_angle(
            &nalgebra::Unit::new_normalize(Vector3::from(a.axis)),
            angle,
        );
    }
    let axis = &axes[flex];
    let q0 = doc.default_value(axis.coordinate.as_deref().unwrap_or(""));
    let mut slope = axis.function.slope(q0);
    if slope == 0.0 {
        slope = axis.function.value(q0 + 1e-3) - axis.function.value(q0 - 1e-3);
    }
    if slope == 0.0 {
        return Err(doc.invalid(
            doc.joints[knee_j].node,
            format!(
                "the flexion function of {} is flat at the default flexion",
                axis.name
            ),
        ));
    }
    let v = before * Vector3::from(axis.axis) * slope.signum();
    Ok([v.x, v.y, v.z])
}

/// The coordinates a joint's transform uses, in the joint's order, with their kinds.
fn joint_coordinate_specs(doc: &Doc, j: usize, axes: &[TransformAxis]) -> Vec<CoordinateSpec> {
    let mut names: Vec<String> = doc
        .joint_coordinates(j)
        .into_iter()
        .filter(|c| {
            axes.iter()
                .any(|a| a.coordinate.as_deref() == Some(c.as_str()))
        })
        .collect();
    for a in axes {
        if let Some(c) = &a.coordinate {
            if !names.contains(c) {
                names.push(c.clone());
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let rotational = axes.iter().any(|a| {
                a.kind == AxisKind::Rotation && a.coordinate.as_deref() == Some(name.as_str())
            });
            let v = doc.default_value(&name);
            let (kind, default_value) = if rotational {
                (AxisKind::Rotation, v)
            } else {
                (AxisKind::Translation, v * 1000.0)
            };
            CoordinateSpec {
                name,
                kind,
                default_value,
            }
        })
        .collect()
}

fn model_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Finds a mesh file as OpenSim does: absolute as given; relative in the model's folder,
/// then in its `Geometry/` subfolder.
fn find_mesh(doc: &Doc, node: Node, property: &str, file: &str) -> Result<PathBuf, OsimError> {
    let p = Path::new(file);
    let candidates: Vec<PathBuf> = if p.is_absolute() {
        vec![p.to_path_buf()]
    } else {
        let dir = model_dir(doc.path);
        vec![dir.join(p), dir.join("Geometry").join(p)]
    };
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Ok(found.clone());
    }
    Err(OsimError::MeshNotFound {
        path: doc.path.to_path_buf(),
        element: doc.describe(node),
        property: property.to_string(),
        file: error::one_line(file),
        searched: candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn read_contact_meshes(
    doc: &Doc,
    frames: &Frames,
    side: Side,
) -> Result<Vec<ContactMesh>, OsimError> {
    let mut out = Vec::new();
    for m in doc.elements("Smith2018ContactMesh") {
        let frame = doc.resolve_socket(m, "socket_frame")?;
        let Some((kf, frame_from_body)) = frames.rigid(frame.body)? else {
            continue;
        };
        let name = m.attribute("name").unwrap_or("").to_string();
        let location = doc.prop_vec3_or(m, "location", [0.0; 3])?;
        let orientation = doc.prop_vec3_or(m, "orientation", [0.0; 3])?;
        let scale = doc.prop_vec3_or(m, "scale_factors", [1.0; 3])?;
        if scale.iter().any(|s| (s - 1.0).abs() > 1e-12) {
            return Err(doc.unsupported(
                m,
                format!("scale_factors {:?} are not supported (only 1 1 1); scale the mesh file instead", scale),
            ));
        }
        let frame_from_mesh =
            to_mm(&(frame_from_body * frame.body_from_frame * offset_m(location, orientation)));
        let mesh_name = doc.prop_string(m, "mesh_file").unwrap_or_default();
        if mesh_name.is_empty() {
            return Err(doc.invalid(m, "<mesh_file> is empty"));
        }
        let mesh_file = find_mesh(doc, m, "mesh_file", &mesh_name)?;
        let variable_thickness = doc.prop_bool_or(m, "use_variable_thickness", false)?;
        let back_name = doc
            .prop_string(m, "mesh_back_file")
            .filter(|s| !s.is_empty());
        let back_file = match (back_name, variable_thickness) {
            (Some(b), true) => Some(find_mesh(doc, m, "mesh_back_file", &b)?),
            (Some(b), false) => find_mesh(doc, m, "mesh_back_file", &b).ok(),
            (None, true) => {
                return Err(doc.invalid(
                    m,
                    "use_variable_thickness is true but <mesh_back_file> is empty",
                ));
            }
            (None, false) => None,
        };
        // OpenSim-JAM defaults (Smith2018ContactMesh::constructProperties).
        let modulus_pa = doc.prop_f64_or(m, "elastic_modulus", 1.0e6)?;
        let poisson = doc.prop_f64_or(m, "poissons_ratio", 0.5)?;
        let thickness = doc.prop_f64_or(m, "thickness", 0.005)?;
        let min_thickness = doc.prop_f64_or(m, "min_thickness", 0.001)?;
        let max_thickness = doc.prop_f64_or(m, "max_thickness", 0.01)?;
        if modulus_pa <= 0.0 {
            return Err(doc.invalid(
                m,
                format!("elastic_modulus {modulus_pa} Pa must be positive"),
            ));
        }
        if !(0.0..=0.5).contains(&poisson) {
            return Err(doc.invalid(m, format!("poissons_ratio {poisson} must be in [0, 0.5]")));
        }
        if thickness <= 0.0 || min_thickness <= 0.0 || max_thickness < min_thickness {
            return Err(doc.invalid(
                m,
                format!(
                    "thickness {thickness} m, min_thickness {min_thickness} m, max_thickness {max_thickness} m: \
                     thicknesses must be positive and min ≤ max"
                ),
            ));
        }
        out.push(ContactMesh {
            name,
            frame: kf,
            mesh_file,
            back_file,
            frame_from_mesh,
            modulus_mpa: modulus_pa / 1.0e6,
            poisson,
            thickness_mm: thickness * 1000.0,
            variable_thickness,
            min_thickness_mm: min_thickness * 1000.0,
            max_thickness_mm: max_thickness * 1000.0,
        });
    }
    for (frame, what, body) in [
        (KneeFrame::Femur, "femoral", frames.femur.body),
        (KneeFrame::Patella, "patellar", frames.patella.body),
    ] {
        if !out.iter().any(|m| m.frame == frame) {
            let side_name = match side {
                Side::Right => "right",
                Side::Left => "left",
            };
            return Err(doc.missing(format!(
                "no Smith2018ContactMesh on the {side_name} {} ({}); kneetrack needs the {what} cartilage surface",
                match frame {
                    KneeFrame::Femur => "femur",
                    KneeFrame::Tibia => "tibia",
                    KneeFrame::Patella => "patella",
                },
                doc.bodies[body].name
            )));
        }
    }
    Ok(out)
}

/// The path points of a ligament or muscle, each as read or as the reason it cannot be.
fn raw_points<'a, 'i>(
    doc: &Doc<'a, 'i>,
    owner: Node<'a, 'i>,
) -> Vec<Result<RawPoint<'a, 'i>, OsimError>> {
    let Some(gp) = child(owner, "GeometryPath") else {
        return vec![Err(doc.unsupported(
            owner,
            "no <GeometryPath> (only point-based paths are supported)",
        ))];
    };
    let Some(objects) = child(gp, "PathPointSet").and_then(|s| child(s, "objects")) else {
        return vec![Err(
            doc.invalid(owner, "no <PathPointSet> in its <GeometryPath>")
        )];
    };
    objects
        .children()
        .filter(|n| n.is_element())
        .map(|pt| match pt.tag_name().name() {
            "PathPoint" => {
                let frame = doc.resolve_socket(pt, "socket_parent_frame")?;
                let Some(loc) = doc.prop_vec3(pt, "location")? else {
                    return Err(doc.invalid(pt, "no <location>"));
                };
                Ok(RawPoint {
                    node: pt,
                    body: frame.body,
                    location_m: frame.body_from_frame * Point3::new(loc[0], loc[1], loc[2]),
                })
            }
            other => Err(doc.unsupported(
                pt,
                format!("{other} (a point that moves or switches with a coordinate) is not supported; kneetrack needs fixed PathPoints"),
            )),
        })
        .collect()
}

/// Expresses all points of a kept path in the knee frames.
fn express_points(
    doc: &Doc,
    frames: &Frames,
    raw: Vec<Result<RawPoint, OsimError>>,
) -> Result<Vec<PathPointSpec>, OsimError> {
    let mut out = Vec::new();
    for r in raw {
        let p = r?;
        let Some((frame, frame_from_body)) = frames.for_point(p.body)? else {
            return Err(doc.unsupported(
                p.node,
                format!(
                    "the point is on body {}, which is neither fixed to the femur ({}), tibia ({}) or patella ({}) \
                     nor proximal to the femur",
                    doc.bodies[p.body].name,
                    doc.bodies[frames.femur.body].name,
                    doc.bodies[frames.tibia.body].name,
                    doc.bodies[frames.patella.body].name
                ),
            ));
        };
        let q = frame_from_body * p.location_m;
        out.push(PathPointSpec {
            name: p.node.attribute("name").unwrap_or("").to_string(),
            body: doc.bodies[p.body].name.clone(),
            frame,
            location_mm: [q.x * 1000.0, q.y * 1000.0, q.z * 1000.0],
        });
    }
    Ok(out)
}

/// A path's `PathWrap` elements that name a wrap object, with that name, in order.
fn path_wraps<'a, 'i>(owner: Node<'a, 'i>) -> Vec<(String, Node<'a, 'i>)> {
    child(owner, "GeometryPath")
        .and_then(|gp| child(gp, "PathWrapSet"))
        .and_then(|s| child(s, "objects"))
        .map(|objs| {
            objs.children()
                .filter(|n| n.is_element())
                .filter_map(|w| child(w, "wrap_object").map(|o| (document::text_of(o), w)))
                .filter(|(s, _)| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The names of a kept path's wrap objects; records its PathWraps in `uses`.
fn wrap_objects<'a, 'i>(
    owner: Node<'a, 'i>,
    uses: &mut Vec<(String, Node<'a, 'i>)>,
) -> Vec<String> {
    let wraps = path_wraps(owner);
    let names = wraps.iter().map(|(n, _)| n.clone()).collect();
    uses.extend(wraps);
    names
}

/// OpenSim's quadrant names (`WrapObject::extendFinalizeFromProperties`, which also takes
/// upper case and a leading `+`), normalised; `None` when not one of them.
fn normalise_quadrant(text: &str) -> Option<&'static str> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "" | "all" | "unassigned" => "all",
        "x" | "+x" => "x",
        "-x" => "-x",
        "y" | "+y" => "y",
        "-y" => "-y",
        "z" | "+z" => "z",
        "-z" => "-z",
        _ => return None,
    })
}

/// Resolves the wrap objects named by the kept paths (`uses`: each PathWrap and the name it
/// gives): the kept cylinders and the `name (type)` list of the others, both in file order.
fn read_wrap_cylinders<'a, 'i>(
    doc: &Doc<'a, 'i>,
    frames: &Frames,
    uses: &[(String, Node<'a, 'i>)],
) -> Result<(Vec<WrapCylinderSpec>, Vec<String>), OsimError> {
    // Every wrap object of the model by name, with the frame element that owns it; the first
    // in file order wins (OpenSim takes the first PhysicalFrame that has one of that name).
    let mut index: HashMap<&str, (Node<'a, 'i>, Node<'a, 'i>)> = HashMap::new();
    for set in doc.elements("WrapObjectSet") {
        let Some(owner) = set.parent().filter(|p| {
            matches!(
                p.tag_name().name(),
                "Body" | "Ground" | "PhysicalOffsetFrame"
            )
        }) else {
            continue;
        };
        let Some(objects) = child(set, "objects") else {
            continue;
        };
        for w in objects.children().filter(|n| n.is_element()) {
            if let Some(name) = w.attribute("name") {
                index.entry(name).or_insert((w, owner));
            }
        }
    }

    let mut named: Vec<(Node<'a, 'i>, Node<'a, 'i>)> = Vec::new();
    for (name, path_wrap) in uses {
        let Some(&(w, owner)) = index.get(name.as_str()) else {
            return Err(doc.invalid(
                *path_wrap,
                format!(
                    "<wrap_object> `{}` is not a wrap object of the model (no WrapObjectSet of a Body, \
                     Ground or PhysicalOffsetFrame has one of that name)",
                    error::one_line(name)
                ),
            ));
        };
        if !named.iter().any(|(n, _)| *n == w) {
            named.push((w, owner));
        }
    }
    named.sort_by_key(|(w, _)| w.range().start);

    let mut cylinders = Vec::new();
    let mut others = Vec::new();
    for (w, owner) in named {
        let name = w.attribute("name").unwrap_or("").to_string();
        let kind = w.tag_name().name();
        if kind != "WrapCylinder" {
            others.push(format!("{name} ({kind})"));
            continue;
        }
        if !doc.prop_bool_or(w, "active", true)? {
            others.push(format!("{name} (WrapCylinder, inactive)"));
            continue;
        }
        let frame = doc.frame_of(owner)?;
        let Some((kf, frame_from_body)) = frames.rigid(frame.body)? else {
            others.push(format!(
                "{name} (WrapCylinder on {}, which is not fixed to the femur, tibia or patella)",
                doc.bodies[frame.body].name
            ));
            continue;
        };
        let quadrant_text = doc.prop_string(w, "quadrant").unwrap_or_default();
        let Some(quadrant) = normalise_quadrant(&quadrant_text) else {
            return Err(doc.invalid(
                w,
                format!(
                    "<quadrant> `{}` is not one of all, x, -x, y, -y, z, -z",
                    error::one_line(&quadrant_text)
                ),
            ));
        };
        if matches!(quadrant, "z" | "-z") {
            others.push(format!(
                "{name} (WrapCylinder, quadrant {quadrant} along its axis)"
            ));
            continue;
        }
        // OpenSim's defaults (WrapObject, WrapCylinder::constructProperties).
        let translation = doc.prop_vec3_or(w, "translation", [0.0; 3])?;
        let rotation = doc.prop_vec3_or(w, "xyz_body_rotation", [0.0; 3])?;
        let radius = doc.prop_f64_or(w, "radius", 1.0)?;
        let length = doc.prop_f64_or(w, "length", 1.0)?;
        if radius <= 0.0 {
            return Err(doc.invalid(w, format!("radius {radius} m must be positive")));
        }
        if length < 0.0 {
            return Err(doc.invalid(w, format!("length {length} m must not be negative")));
        }
        let frame_from_cylinder =
            to_mm(&(frame_from_body * frame.body_from_frame * offset_m(translation, rotation)));
        cylinders.push(WrapCylinderSpec {
            name,
            frame: kf,
            frame_from_cylinder,
            radius_mm: radius * 1000.0,
            length_mm: length * 1000.0,
            quadrant: quadrant.to_string(),
        });
    }
    Ok((cylinders, others))
}

fn read_ligaments<'a, 'i>(
    doc: &Doc<'a, 'i>,
    frames: &Frames,
    wrap_uses: &mut Vec<(String, Node<'a, 'i>)>,
) -> Result<Vec<LigamentSpec>, OsimError> {
    let mut out = Vec::new();
    for lig in doc.elements("Blankevoort1991Ligament") {
        let raw = raw_points(doc, lig);
        // Kept when it crosses the knee or patellofemoral joint: points on at least two of
        // the three knee frames (pelvis points count as Femur). Others (another limb's, an
        // ankle ligament) exert nothing across the knee and are ignored.
        let mut spanned: Vec<KneeFrame> = raw
            .iter()
            .filter_map(|r| r.as_ref().ok().and_then(|p| frames.point_frame(p.body)))
            .collect();
        spanned.sort_by_key(|f| *f as u8);
        spanned.dedup();
        if spanned.len() < 2 {
            continue;
        }
        let points = express_points(doc, frames, raw)?;
        if points.len() < 2 {
            return Err(doc.invalid(
                lig,
                format!(
                    "a ligament path needs at least 2 points, has {}",
                    points.len()
                ),
            ));
        }
        let slack_m = doc.prop_f64_or(lig, "slack_length", 0.0)?;
        if slack_m <= 0.0 {
            return Err(doc.invalid(lig, format!("slack_length {slack_m} m must be positive")));
        }
        let stiffness = doc.prop_f64_or(lig, "linear_stiffness", 0.0)?;
        if stiffness < 0.0 {
            return Err(doc.invalid(
                lig,
                format!("linear_stiffness {stiffness} must not be negative"),
            ));
        }
        // One OpenSim-JAM version stored N/m ("Units of force/length"); the released one
        // (and the Lenhart file) stores N per unit strain ("Units of force/strain (N)").
        let per_length = child(lig, "linear_stiffness")
            .and_then(comment_before)
            .is_some_and(|c| c.to_ascii_lowercase().contains("force/length"));
        let linear_stiffness_n = if per_length {
            stiffness * slack_m
        } else {
            stiffness
        };
        let transition_strain = doc.prop_f64_or(lig, "transition_strain", 0.06)?;
        if transition_strain <= 0.0 {
            return Err(doc.invalid(
                lig,
                format!("transition_strain {transition_strain} must be positive"),
            ));
        }
        out.push(LigamentSpec {
            name: lig.attribute("name").unwrap_or("").to_string(),
            points,
            linear_stiffness_n,
            slack_length_mm: slack_m * 1000.0,
            transition_strain,
            wrap_objects: wrap_objects(lig, wrap_uses),
        });
    }
    Ok(out)
}

/// The role of a muscle from its name (`vasmed_r` → vastus medialis), for this side.
fn muscle_role(name: &str, suffix: &str) -> Option<MuscleRole> {
    let base = name.strip_suffix(suffix)?;
    let norm: String = base
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    const PREFIXES: [(&str, MuscleRole); 12] = [
        ("recfem", MuscleRole::RectusFemoris),
        ("rectfem", MuscleRole::RectusFemoris),
        ("rectusfem", MuscleRole::RectusFemoris),
        ("vasint", MuscleRole::VastusIntermedius),
        ("vastusint", MuscleRole::VastusIntermedius),
        ("vaslat", MuscleRole::VastusLateralis),
        ("vastuslat", MuscleRole::VastusLateralis),
        ("vasmed", MuscleRole::VastusMedialis),
        ("vastusmed", MuscleRole::VastusMedialis),
        ("tfl", MuscleRole::TensorFasciaeLatae),
        ("tensorfasc", MuscleRole::TensorFasciaeLatae),
        ("tenfaslat", MuscleRole::TensorFasciaeLatae),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| norm.starts_with(p))
        .map(|&(_, r)| r)
}

fn read_muscles<'a, 'i>(
    doc: &Doc<'a, 'i>,
    frames: &Frames,
    suffix: &str,
    wrap_uses: &mut Vec<(String, Node<'a, 'i>)>,
) -> Result<Vec<MusclePath>, OsimError> {
    let mut out = Vec::new();
    for m in doc.elements_ending("Muscle") {
        if m.parent().is_none_or(|p| p.tag_name().name() != "objects") {
            continue;
        }
        let name = m.attribute("name").unwrap_or("");
        let Some(role) = muscle_role(name, suffix) else {
            continue;
        };
        let points = express_points(doc, frames, raw_points(doc, m))?;
        if points.len() < 2 {
            return Err(doc.invalid(
                m,
                format!(
                    "a muscle path needs at least 2 points, has {}",
                    points.len()
                ),
            ));
        }
        if role != MuscleRole::TensorFasciaeLatae
            && !points.iter().any(|p| p.frame == KneeFrame::Patella)
        {
            return Err(doc.unsupported(
                m,
                "no path point on the patella; kneetrack needs each quadriceps head to insert on the patella",
            ));
        }
        let max_isometric_force_n = doc.prop_f64_or(m, "max_isometric_force", 1000.0)?;
        if max_isometric_force_n <= 0.0 {
            return Err(doc.invalid(
                m,
                format!("max_isometric_force {max_isometric_force_n} N must be positive"),
            ));
        }
        out.push(MusclePath {
            name: name.to_string(),
            role,
            points,
            max_isometric_force_n,
            wrap_objects: wrap_objects(m, wrap_uses),
        });
    }
    for (role, what) in [
        (MuscleRole::RectusFemoris, "rectus femoris (recfem"),
        (MuscleRole::VastusIntermedius, "vastus intermedius (vasint"),
        (MuscleRole::VastusLateralis, "vastus lateralis (vaslat"),
        (MuscleRole::VastusMedialis, "vastus medialis (vasmed"),
    ] {
        if !out.iter().any(|m| m.role == role) {
            return Err(doc.missing(format!(
                "no {what}{suffix}) muscle; kneetrack needs all four quadriceps heads"
            )));
        }
    }
    Ok(out)
}
