//! The parsed `.osim` XML: component paths, frames, bodies, joints and the joint tree.

use std::collections::HashMap;
use std::path::Path;

use nalgebra::Isometry3;
use roxmltree::{Document, Node};

use super::error::{one_line, OsimError};
use super::function::{OsimFunction, SimmSpline};
use super::transform::{child_in_parent_m, offset_m, AxisKind, TransformAxis};

/// A frame: the body it is fixed to and its pose in that body (m).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameRef {
    pub body: usize,
    pub body_from_frame: Isometry3<f64>,
}

pub(crate) struct Body {
    pub name: String,
}

pub(crate) struct Joint<'a, 'i> {
    pub name: String,
    /// XML tag: `CustomJoint`, `WeldJoint`, ...
    pub kind: String,
    pub node: Node<'a, 'i>,
    /// The joint's parent frame F.
    pub parent: FrameRef,
    /// The joint's child frame M.
    pub child: FrameRef,
}

/// Index over one model document.
pub(crate) struct Doc<'a, 'i> {
    xml: &'a Document<'i>,
    pub path: &'a Path,
    model: Node<'a, 'i>,
    /// Body, Ground and PhysicalOffsetFrame elements by absolute component path.
    frames: HashMap<String, Node<'a, 'i>>,
    pub bodies: Vec<Body>,
    body_by_path: HashMap<String, usize>,
    pub joints: Vec<Joint<'a, 'i>>,
    /// For each body, the joint whose child it is.
    parent_joint: Vec<Option<usize>>,
    /// Coordinate name → default value (OpenSim units).
    coordinates: HashMap<String, f64>,
    /// Union-find over WeldJoints: bodies with the same root are rigidly fixed together.
    weld_root: Vec<usize>,
}

const FRAME_TAGS: [&str; 3] = ["Body", "Ground", "PhysicalOffsetFrame"];

pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, tag: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == tag)
}

/// All text directly inside an element, trimmed.
pub(crate) fn text_of(node: Node) -> String {
    let mut s = String::new();
    for c in node.children().filter(|c| c.is_text()) {
        s.push_str(c.text().unwrap_or(""));
    }
    s.trim().to_string()
}

/// The comment just before a property element, if any (OpenSim writes each property's
/// description there).
pub(crate) fn comment_before(node: Node) -> Option<String> {
    let mut prev = node.prev_sibling();
    while let Some(p) = prev {
        if p.is_comment() {
            return p.text().map(str::to_string);
        }
        if p.is_element() {
            return None;
        }
        prev = p.prev_sibling();
    }
    None
}

impl<'a, 'i> Doc<'a, 'i> {
    pub fn new(xml: &'a Document<'i>, path: &'a Path) -> Result<Self, OsimError> {
        let root = xml.root_element();
        let model = if root.tag_name().name() == "OpenSimDocument" {
            if let Some(v) = root.attribute("Version") {
                let version: u32 = v.trim().parse().unwrap_or(0);
                if version < 40000 {
                    return Err(OsimError::Unsupported {
                        path: path.to_path_buf(),
                        element: format!("OpenSimDocument (line {})", line_of(xml, root)),
                        message: format!(
                            "Version=\"{}\" is the OpenSim 3 format; open and save the model in OpenSim 4 first",
                            one_line(v)
                        ),
                    });
                }
            }
            child(root, "Model").ok_or_else(|| OsimError::Missing {
                path: path.to_path_buf(),
                message: "no <Model> inside <OpenSimDocument>: not an OpenSim model".into(),
            })?
        } else if root.tag_name().name() == "Model" {
            root
        } else {
            return Err(OsimError::Missing {
                path: path.to_path_buf(),
                message: format!(
                    "the root element is <{}>, not <OpenSimDocument>: not an OpenSim model",
                    root.tag_name().name()
                ),
            });
        };
        let mut doc = Doc {
            xml,
            path,
            model,
            frames: HashMap::new(),
            bodies: Vec::new(),
            body_by_path: HashMap::new(),
            joints: Vec::new(),
            parent_joint: Vec::new(),
            coordinates: HashMap::new(),
            weld_root: Vec::new(),
        };
        doc.index()?;
        Ok(doc)
    }

    fn index(&mut self) -> Result<(), OsimError> {
        let model = self.model;
        // Frames and bodies.
        for n in model.descendants().filter(|n| n.is_element()) {
            let tag = n.tag_name().name();
            if !FRAME_TAGS.contains(&tag) || n.attribute("name").is_none() {
                continue;
            }
            let p = self.component_path(n);
            self.frames.entry(p.clone()).or_insert(n);
            if tag == "Body" || tag == "Ground" {
                self.body_by_path.insert(p, self.bodies.len());
                self.bodies.push(Body {
                    name: n.attribute("name").unwrap_or("").to_string(),
                });
            }
        }
        if !self.body_by_path.contains_key("/ground") {
            self.body_by_path
                .insert("/ground".into(), self.bodies.len());
            self.bodies.push(Body {
                name: "ground".into(),
            });
        }
        // Coordinates.
        for n in model
            .descendants()
            .filter(|n| n.is_element() && n.tag_name().name() == "Coordinate")
        {
            if let Some(name) = n.attribute("name") {
                let v = self.prop_f64(n, "default_value")?.unwrap_or(0.0);
                self.coordinates.insert(name.to_string(), v);
            }
        }
        // Joints.
        self.parent_joint = vec![None; self.bodies.len()];
        let joint_nodes: Vec<Node> = model
            .descendants()
            .filter(|n| {
                n.is_element()
                    && n.tag_name().name().ends_with("Joint")
                    && child(*n, "socket_child_frame").is_some()
            })
            .collect();
        for n in joint_nodes {
            let parent = self.resolve_socket(n, "socket_parent_frame")?;
            let child_frame = self.resolve_socket(n, "socket_child_frame")?;
            let j = self.joints.len();
            if let Some(other) = self.parent_joint[child_frame.body] {
                return Err(self.invalid(
                    n,
                    format!(
                        "body {} is already the child of {} `{}`; kneetrack reads tree-shaped models only",
                        self.bodies[child_frame.body].name, self.joints[other].kind, self.joints[other].name
                    ),
                ));
            }
            self.parent_joint[child_frame.body] = Some(j);
            self.joints.push(Joint {
                name: n.attribute("name").unwrap_or("").to_string(),
                kind: n.tag_name().name().to_string(),
                node: n,
                parent,
                child: child_frame,
            });
        }
        // Weld groups.
        self.weld_root = (0..self.bodies.len()).collect();
        for j in 0..self.joints.len() {
            if self.joints[j].kind == "WeldJoint" {
                let a = self.find_root(self.joints[j].parent.body);
                let b = self.find_root(self.joints[j].child.body);
                if a != b {
                    self.weld_root[b] = a;
                }
            }
        }
        Ok(())
    }

    fn find_root(&self, mut b: usize) -> usize {
        while self.weld_root[b] != b {
            b = self.weld_root[b];
        }
        b
    }

    /// True when the two bodies are joined by WeldJoints only.
    pub fn rigidly_fixed(&self, a: usize, b: usize) -> bool {
        self.find_root(a) == self.find_root(b)
    }

    // ---------------------------------------------------------------------------------
    // Messages

    pub fn line(&self, node: Node) -> u32 {
        line_of(self.xml, node)
    }

    /// `Type `name` in OwnerType `owner` (line N)`: the element, the top-level component
    /// (a member of some `<objects>` list) that holds it, and its line.
    pub fn describe(&self, node: Node) -> String {
        let own = match node.attribute("name") {
            Some(name) => format!("{} `{}`", node.tag_name().name(), name),
            None => format!("<{}>", node.tag_name().name()),
        };
        let top = node.ancestors().skip(1).find(|a| {
            a.is_element()
                && a.parent()
                    .is_some_and(|p| p.is_element() && p.tag_name().name() == "objects")
        });
        match top {
            Some(t) => format!(
                "{} in {} `{}` (line {})",
                own,
                t.tag_name().name(),
                t.attribute("name").unwrap_or(""),
                self.line(node)
            ),
            None => format!("{} (line {})", own, self.line(node)),
        }
    }

    pub fn invalid(&self, node: Node, message: impl Into<String>) -> OsimError {
        OsimError::Invalid {
            path: self.path.to_path_buf(),
            element: self.describe(node),
            message: message.into(),
        }
    }

    pub fn unsupported(&self, node: Node, message: impl Into<String>) -> OsimError {
        OsimError::Unsupported {
            path: self.path.to_path_buf(),
            element: self.describe(node),
            message: message.into(),
        }
    }

    pub fn missing(&self, message: impl Into<String>) -> OsimError {
        OsimError::Missing {
            path: self.path.to_path_buf(),
            message: message.into(),
        }
    }

    // ---------------------------------------------------------------------------------
    // Properties

    /// Numbers of property `tag` of `node`, `None` when the property is absent.
    pub fn prop_numbers(&self, node: Node, tag: &str) -> Result<Option<Vec<f64>>, OsimError> {
        let Some(p) = child(node, tag) else {
            return Ok(None);
        };
        let text = text_of(p);
        let mut out = Vec::new();
        for token in text.split_whitespace() {
            match token.parse::<f64>() {
                Ok(v) if v.is_finite() => out.push(v),
                _ => {
                    return Err(OsimError::BadNumber {
                        path: self.path.to_path_buf(),
                        element: self.describe(node),
                        property: tag.to_string(),
                        text: one_line(&text),
                    })
                }
            }
        }
        Ok(Some(out))
    }

    /// A single number, `None` when absent.
    pub fn prop_f64(&self, node: Node, tag: &str) -> Result<Option<f64>, OsimError> {
        match self.prop_numbers(node, tag)? {
            None => Ok(None),
            Some(v) if v.len() == 1 => Ok(Some(v[0])),
            Some(_) => Err(OsimError::BadNumber {
                path: self.path.to_path_buf(),
                element: self.describe(node),
                property: tag.to_string(),
                text: one_line(&text_of(child(node, tag).expect("present"))),
            }),
        }
    }

    pub fn prop_f64_or(&self, node: Node, tag: &str, default: f64) -> Result<f64, OsimError> {
        Ok(self.prop_f64(node, tag)?.unwrap_or(default))
    }

    /// Three numbers, `None` when absent.
    pub fn prop_vec3(&self, node: Node, tag: &str) -> Result<Option<[f64; 3]>, OsimError> {
        match self.prop_numbers(node, tag)? {
            None => Ok(None),
            Some(v) if v.len() == 3 => Ok(Some([v[0], v[1], v[2]])),
            Some(v) => Err(self.invalid(node, format!("<{tag}> needs 3 numbers, has {}", v.len()))),
        }
    }

    pub fn prop_vec3_or(
        &self,
        node: Node,
        tag: &str,
        default: [f64; 3],
    ) -> Result<[f64; 3], OsimError> {
        Ok(self.prop_vec3(node, tag)?.unwrap_or(default))
    }

    pub fn prop_bool_or(&self, node: Node, tag: &str, default: bool) -> Result<bool, OsimError> {
        let Some(p) = child(node, tag) else {
            return Ok(default);
        };
        match text_of(p).to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(self.invalid(
                node,
                format!("<{tag}> `{}` is neither true nor false", one_line(other)),
            )),
        }
    }

    pub fn prop_string(&self, node: Node, tag: &str) -> Option<String> {
        child(node, tag).map(text_of)
    }

    // ---------------------------------------------------------------------------------
    // Paths and frames

    /// Absolute component path (`/jointset/knee_r/femur_r_offset`): the names of the
    /// element and of its named ancestors below the `<Model>`.
    pub fn component_path(&self, node: Node) -> String {
        let mut names = Vec::new();
        for a in node.ancestors() {
            if a == self.model {
                break;
            }
            if a.is_element() {
                if let Some(name) = a.attribute("name") {
                    names.push(name);
                }
            }
        }
        names.reverse();
        format!("/{}", names.join("/"))
    }

    /// Resolves the frame named by socket property `socket` of `owner` (OpenSim 4 socket
    /// paths: absolute, or relative to the owner with `..`; a bare name that matches no
    /// path falls back to the one frame of that name, if there is exactly one).
    pub fn resolve_socket(&self, owner: Node<'a, 'i>, socket: &str) -> Result<FrameRef, OsimError> {
        let Some(p) = child(owner, socket) else {
            return Err(self.invalid(owner, format!("no <{socket}>")));
        };
        let text = text_of(p);
        self.resolve_frame(owner, socket, &text, 0)
    }

    /// The frame a `Body`, `Ground` or `PhysicalOffsetFrame` element is (for a component
    /// fixed to it, such as a wrap object in its `WrapObjectSet`).
    pub fn frame_of(&self, frame: Node<'a, 'i>) -> Result<FrameRef, OsimError> {
        let path = self.component_path(frame);
        self.resolve_frame(frame, "frame", &path, 0)
    }

    fn resolve_frame(
        &self,
        owner: Node<'a, 'i>,
        socket: &str,
        text: &str,
        depth: usize,
    ) -> Result<FrameRef, OsimError> {
        if depth > 64 {
            return Err(self.invalid(owner, "offset frames form a loop"));
        }
        let Some((path, node)) = self.find_frame(&self.component_path(owner), text) else {
            return Err(self.invalid(
                owner,
                format!(
                    "<{socket}> `{}` does not name a frame of the model (a Body, Ground or PhysicalOffsetFrame)",
                    one_line(text)
                ),
            ));
        };
        match node.tag_name().name() {
            "Body" | "Ground" => Ok(FrameRef {
                body: self.body_by_path[&path],
                body_from_frame: Isometry3::identity(),
            }),
            _ => {
                let parent_text = self.prop_string(node, "socket_parent").unwrap_or_default();
                let parent = self.resolve_frame(node, "socket_parent", &parent_text, depth + 1)?;
                let t = self.prop_vec3_or(node, "translation", [0.0; 3])?;
                let o = self.prop_vec3_or(node, "orientation", [0.0; 3])?;
                Ok(FrameRef {
                    body: parent.body,
                    body_from_frame: parent.body_from_frame * offset_m(t, o),
                })
            }
        }
    }

    fn find_frame(&self, owner_path: &str, text: &str) -> Option<(String, Node<'a, 'i>)> {
        if text.is_empty() {
            return None;
        }
        let joined = if text.starts_with('/') {
            text.to_string()
        } else {
            format!("{owner_path}/{text}")
        };
        let mut segments: Vec<&str> = Vec::new();
        for s in joined.split('/') {
            match s {
                "" | "." => {}
                ".." => {
                    segments.pop();
                }
                s => segments.push(s),
            }
        }
        let abs = format!("/{}", segments.join("/"));
        if let Some(n) = self.frames.get(&abs) {
            return Some((abs, *n));
        }
        // Legacy bare names: the unique frame with that name.
        if text.contains('/') {
            return None;
        }
        let mut found = self
            .frames
            .iter()
            .filter(|(p, _)| p.rsplit('/').next() == Some(text));
        let first = found.next()?;
        if found.next().is_some() {
            return None;
        }
        Some((first.0.clone(), *first.1))
    }

    // ---------------------------------------------------------------------------------
    // Joints

    /// Default value of a coordinate (OpenSim units), 0 when it has none.
    pub fn default_value(&self, coordinate: &str) -> f64 {
        self.coordinates.get(coordinate).copied().unwrap_or(0.0)
    }

    /// The joint's coordinates, in file order.
    pub fn joint_coordinates(&self, j: usize) -> Vec<String> {
        child(self.joints[j].node, "coordinates")
            .map(|c| {
                c.children()
                    .filter(|n| n.is_element() && n.tag_name().name() == "Coordinate")
                    .filter_map(|n| n.attribute("name").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The joint's transform axes (rotations first, then translations).
    pub fn joint_axes(&self, j: usize) -> Result<Vec<TransformAxis>, OsimError> {
        use AxisKind::{Rotation as R, Translation as T};
        let joint = &self.joints[j];
        let x = [1.0, 0.0, 0.0];
        let y = [0.0, 1.0, 0.0];
        let z = [0.0, 0.0, 1.0];
        let simple = |spec: &[(AxisKind, [f64; 3])]| -> Result<Vec<TransformAxis>, OsimError> {
            let coords = self.joint_coordinates(j);
            if coords.len() < spec.len() {
                return Err(self.invalid(
                    joint.node,
                    format!(
                        "a {} needs {} coordinates, has {}",
                        joint.kind,
                        spec.len(),
                        coords.len()
                    ),
                ));
            }
            let (mut nr, mut nt) = (0, 0);
            Ok(spec
                .iter()
                .zip(coords)
                .map(|((kind, axis), c)| {
                    let name = if *kind == R {
                        nr += 1;
                        format!("rotation{nr}")
                    } else {
                        nt += 1;
                        format!("translation{nt}")
                    };
                    TransformAxis {
                        name,
                        kind: *kind,
                        coordinate: Some(c),
                        axis: *axis,
                        function: OsimFunction::identity(),
                    }
                })
                .collect())
        };
        match joint.kind.as_str() {
            "WeldJoint" => Ok(Vec::new()),
            "CustomJoint" => self.spatial_transform(joint.node),
            "PinJoint" => simple(&[(R, z)]),
            "SliderJoint" => simple(&[(T, x)]),
            "UniversalJoint" => simple(&[(R, x), (R, y)]),
            "GimbalJoint" | "BallJoint" => simple(&[(R, x), (R, y), (R, z)]),
            "PlanarJoint" => simple(&[(R, z), (T, x), (T, y)]),
            "FreeJoint" => simple(&[(R, x), (R, y), (R, z), (T, x), (T, y), (T, z)]),
            other => Err(self.unsupported(
                joint.node,
                format!(
                    "joint type {other} is not supported (supported: CustomJoint, WeldJoint, PinJoint, \
                     SliderJoint, UniversalJoint, GimbalJoint, BallJoint, PlanarJoint, FreeJoint)"
                ),
            )),
        }
    }

    fn spatial_transform(&self, joint: Node<'a, 'i>) -> Result<Vec<TransformAxis>, OsimError> {
        let Some(st) = child(joint, "SpatialTransform") else {
            return Err(self.invalid(joint, "a CustomJoint needs a <SpatialTransform>"));
        };
        let mut axes = Vec::new();
        for ta in st
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "TransformAxis")
        {
            let name = ta.attribute("name").unwrap_or("").to_string();
            let kind = if name.starts_with("rotation") {
                AxisKind::Rotation
            } else if name.starts_with("translation") {
                AxisKind::Translation
            } else {
                return Err(self.invalid(
                    ta,
                    "a TransformAxis must be named rotation1..3 or translation1..3",
                ));
            };
            let coords: Vec<String> = self
                .prop_string(ta, "coordinates")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if coords.len() > 1 {
                return Err(self.unsupported(
                    ta,
                    format!(
                        "a function of several coordinates ({}) is not supported",
                        coords.join(", ")
                    ),
                ));
            }
            if let Some(c) = coords.first() {
                if !self.coordinates.contains_key(c) {
                    return Err(
                        self.invalid(ta, format!("coordinate `{c}` is not defined in the model"))
                    );
                }
            }
            let Some(axis) = self.prop_vec3(ta, "axis")? else {
                return Err(self.invalid(ta, "no <axis>"));
            };
            let norm = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
            if norm < 1e-12 {
                return Err(self.invalid(ta, "<axis> is the zero vector"));
            }
            let axis = [axis[0] / norm, axis[1] / norm, axis[2] / norm];
            let fnode = ta
                .children()
                .find(|c| c.is_element() && !matches!(c.tag_name().name(), "coordinates" | "axis"));
            let function = match fnode {
                Some(f) => self.function(f)?,
                None if coords.is_empty() => OsimFunction::Constant(0.0),
                None => OsimFunction::identity(),
            };
            axes.push(TransformAxis {
                name,
                kind,
                coordinate: coords.into_iter().next(),
                axis,
                function,
            });
        }
        // Simbody's order: rotation1..3, then translation1..3.
        axes.sort_by(|a, b| {
            let ka = (a.kind == AxisKind::Translation, a.name.clone());
            let kb = (b.kind == AxisKind::Translation, b.name.clone());
            ka.cmp(&kb)
        });
        Ok(axes)
    }

    /// A function element (`LinearFunction`, `Constant`, `SimmSpline`, ...).
    pub fn function(&self, f: Node<'a, 'i>) -> Result<OsimFunction, OsimError> {
        let tag = f.tag_name().name();
        let knots = |this: &Self| -> Result<(Vec<f64>, Vec<f64>), OsimError> {
            let x = this.prop_numbers(f, "x")?.unwrap_or_default();
            let y = this.prop_numbers(f, "y")?.unwrap_or_default();
            Ok((x, y))
        };
        match tag {
            "Constant" => Ok(OsimFunction::Constant(self.prop_f64_or(f, "value", 0.0)?)),
            "LinearFunction" => match self.prop_numbers(f, "coefficients")? {
                Some(c) if c.len() == 2 => Ok(OsimFunction::Linear {
                    slope: c[0],
                    intercept: c[1],
                }),
                Some(c) => Err(self.invalid(
                    f,
                    format!(
                        "<coefficients> needs 2 numbers [slope, intercept], has {}",
                        c.len()
                    ),
                )),
                None => Ok(OsimFunction::identity()),
            },
            "PolynomialFunction" => match self.prop_numbers(f, "coefficients")? {
                Some(c) if !c.is_empty() => Ok(OsimFunction::Polynomial(c)),
                _ => Err(self.invalid(f, "<coefficients> is missing or empty")),
            },
            "SimmSpline" => {
                let (x, y) = knots(self)?;
                SimmSpline::new(x, y)
                    .map(OsimFunction::SimmSpline)
                    .map_err(|m| self.invalid(f, m))
            }
            "PiecewiseLinearFunction" => {
                let (x, y) = knots(self)?;
                if x.len() != y.len() || x.len() < 2 {
                    return Err(self.invalid(
                        f,
                        format!(
                            "needs at least 2 knots and as many y as x ({} x, {} y)",
                            x.len(),
                            y.len()
                        ),
                    ));
                }
                if (1..x.len()).any(|i| x[i] <= x[i - 1]) {
                    return Err(self.invalid(f, "x values must increase"));
                }
                Ok(OsimFunction::PiecewiseLinear { x, y })
            }
            "MultiplierFunction" => {
                let scale = self.prop_f64_or(f, "scale", 1.0)?;
                let inner = match child(f, "function") {
                    Some(w) => w.children().find(|c| c.is_element()),
                    None => f
                        .children()
                        .find(|c| c.is_element() && c.tag_name().name() != "scale"),
                };
                let Some(inner) = inner else {
                    return Err(self.invalid(f, "a MultiplierFunction needs a <function>"));
                };
                Ok(OsimFunction::Multiplier {
                    scale,
                    function: Box::new(self.function(inner)?),
                })
            }
            "function" => match f.children().find(|c| c.is_element()) {
                Some(inner) => self.function(inner),
                None => Err(self.invalid(f, "an empty <function>")),
            },
            other => Err(self.unsupported(
                f,
                format!(
                    "function type {other} is not supported (supported: Constant, LinearFunction, \
                     PolynomialFunction, PiecewiseLinearFunction, SimmSpline, MultiplierFunction)"
                ),
            )),
        }
    }

    /// Parent body from child body of joint `j` with every coordinate at its default (m).
    fn parent_from_child(&self, j: usize) -> Result<Isometry3<f64>, OsimError> {
        let joint = &self.joints[j];
        let axes = self.joint_axes(j)?;
        let x_fm = child_in_parent_m(&axes, &|c| self.default_value(c));
        Ok(joint.parent.body_from_frame * x_fm * joint.child.body_from_frame.inverse())
    }

    /// `b` and its ancestors up the joint tree, `b` first.
    pub fn ancestors(&self, b: usize) -> Vec<usize> {
        let mut out = vec![b];
        let mut cur = b;
        while let Some(j) = self.parent_joint[cur] {
            cur = self.joints[j].parent.body;
            if out.contains(&cur) {
                break;
            }
            out.push(cur);
        }
        out
    }

    /// Pose of body `b` in body `a` (a_from_b, m) with every joint on the tree path between
    /// them at its default coordinates. Only the joints on that path are evaluated.
    pub fn relative(&self, a: usize, b: usize) -> Result<Isometry3<f64>, OsimError> {
        let up_a = self.ancestors(a);
        let up_b = self.ancestors(b);
        let Some(&lca) = up_a.iter().find(|x| up_b.contains(x)) else {
            return Err(self.missing(format!(
                "bodies {} and {} are not connected by joints",
                self.bodies[a].name, self.bodies[b].name
            )));
        };
        let down = |from: usize| -> Result<Isometry3<f64>, OsimError> {
            let mut x = Isometry3::identity();
            let mut cur = from;
            while cur != lca {
                let j = self.parent_joint[cur].expect("below the common ancestor");
                x = self.parent_from_child(j)? * x;
                cur = self.joints[j].parent.body;
            }
            Ok(x)
        };
        let lca_from_a = down(a)?;
        let lca_from_b = down(b)?;
        Ok(lca_from_a.inverse() * lca_from_b)
    }

    /// Elements with tag `tag` anywhere in the model.
    pub fn elements(&self, tag: &'static str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
        self.model
            .descendants()
            .filter(move |n| n.is_element() && n.tag_name().name() == tag)
    }

    /// Elements whose tag ends with `suffix` anywhere in the model.
    pub fn elements_ending(&self, suffix: &'static str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
        self.model
            .descendants()
            .filter(move |n| n.is_element() && n.tag_name().name().ends_with(suffix))
    }
}

fn line_of(xml: &Document, node: Node) -> u32 {
    xml.text_pos_at(node.range().start).row
}
