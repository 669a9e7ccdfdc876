//! Stage 2 — tissues: forces of the quadriceps heads, patellar tendon, MPFL, lateral
//! retinaculum and iliopatellar band on the patella at a trial pose, with their Jacobian.
//!
//! For a line from patella point p (r = p − t from the patella origin) toward anchor o with
//! tension T(L): f = T·u, u = (o − p)/L. With K = T'·u uᵀ + (T/L)(I − u uᵀ),
//! `∂f/∂(δt, δω) = [−K, K[r]×]` and `∂m/∂(δt, δω) = [−[r]×K, [f]×[r]× + [r]×K[r]×]`.

use nalgebra::{Isometry3, Matrix6, Point3, Vector6};

use super::kinematics::Joint;
use super::FrameInput;
use crate::geometry::wrap::wrap_path;
use crate::math::{skew, Mat3, Vec3};
use crate::model::Model;
use crate::tissues::{Anchor, Ligament};

/// Tissue loads on the patella at one pose.
#[derive(Debug, Clone, Default)]
pub struct TissueLoads {
    /// Net tissue force on the patella, femur frame, N.
    pub force: Vec3,
    /// Net tissue moment about the patella origin, femur frame, N·mm.
    pub moment: Vec3,
    /// ∂(force, moment)/∂(δt, δω), with a wrapped head's line turning as a straight line
    /// to its tangent point would (the first segment's length as its lever).
    pub jacobian: Matrix6<f64>,
    /// What the wrapped heads add to `jacobian` for the exact derivative: the tangent
    /// point slides round the cylinder and the helix's rise is shared by the whole path,
    /// so the line turns less along the cylinder axis than a straight one (same units).
    /// The quasi-static solve adds it with the contact's surface terms near equilibrium;
    /// the dynamic integrators keep the straight-line lever (with the exact term the
    /// implicit rule's undamped energy check gained 0.2 % over a second instead of losing
    /// 0.9 %: its stop test then accepts a less converged midpoint).
    pub wrap_jacobian: Matrix6<f64>,
    /// ∂(force, moment)/∂(quadriceps scale), per N of scale.
    pub d_quad_scale: Vector6<f64>,
    /// Head tensions (rf, vi, vl, vlo, vml, vmo), N.
    pub heads_n: [f64; 6],
    /// Patellar tendon tension, N.
    pub patellar_tendon_n: f64,
    /// MPFL tension, N.
    pub mpfl_n: f64,
    /// Lateral retinaculum tension, N.
    pub lateral_retinaculum_n: f64,
    /// Iliopatellar band tension, N.
    pub itb_n: f64,
    /// Knee extensor moment of the patellar tendon on the tibia about the flexion axis, N·mm.
    pub extensor_moment: f64,
    /// ∂(extensor moment)/∂(δt, δω).
    pub d_extensor_moment: Vector6<f64>,
}

struct Line {
    f: Vec3,
    /// ∂f/∂(δt, δω), 3×6.
    df: nalgebra::Matrix3x6<f64>,
}

/// Adds a line's wrench and Jacobian; returns its force and force Jacobian.
fn add_line(
    acc: &mut TissueLoads,
    r: &Vec3,
    u: &Vec3,
    len: f64,
    tension: f64,
    dtension: f64,
) -> Line {
    let f = u * tension;
    let uu = u * u.transpose();
    let k: Mat3 = uu * dtension + (Mat3::identity() - uu) * (tension / len);
    let rx = skew(r);
    let kr = k * rx;
    let mut df = nalgebra::Matrix3x6::zeros();
    df.fixed_view_mut::<3, 3>(0, 0).copy_from(&(-k));
    df.fixed_view_mut::<3, 3>(0, 3).copy_from(&kr);
    acc.force += f;
    acc.moment += r.cross(&f);
    let j = &mut acc.jacobian;
    j.fixed_view_mut::<3, 6>(0, 0).add_assign(&df);
    let dm_dt = -rx * k;
    let dm_dw = skew(&f) * rx + rx * kr;
    j.fixed_view_mut::<3, 3>(3, 0).add_assign(&dm_dt);
    j.fixed_view_mut::<3, 3>(3, 3).add_assign(&dm_dw);
    Line { f, df }
}

/// The part of a line's wrench Jacobian that its stiffness `k` = −∂f/∂x (N/mm, x the
/// patella-side point at lever `r`) gives: rows force and moment, columns (δt, δω).
fn stiffness_terms(r: &Vec3, k: &Mat3) -> Matrix6<f64> {
    let rx = skew(r);
    let mut j = Matrix6::zeros();
    j.fixed_view_mut::<3, 3>(0, 0).copy_from(&(-k));
    j.fixed_view_mut::<3, 3>(0, 3).copy_from(&(k * rx));
    j.fixed_view_mut::<3, 3>(3, 0).copy_from(&(-rx * k));
    j.fixed_view_mut::<3, 3>(3, 3).copy_from(&(rx * k * rx));
    j
}

use std::ops::AddAssign;

fn ligament(
    acc: &mut TissueLoads,
    pose: &Isometry3<f64>,
    lig: &Ligament,
    anchor: &Vec3,
) -> (f64, Line) {
    let p = pose * Point3::from(lig.patella);
    let r = p.coords - pose.translation.vector;
    let d = anchor - p.coords;
    let len = d.norm();
    let (t, dt) = lig.tension(len);
    (t, add_line(acc, &r, &(d / len), len, t, dt))
}

/// Evaluates every tissue at `pose` (femur_from_patella) with quadriceps scale `scale` (N)
/// and the frame's IT-band and passive rectus femoris forces.
pub fn tissues(
    model: &Model,
    input: &FrameInput,
    joint: &Joint,
    pose: &Isometry3<f64>,
    scale: f64,
) -> TissueLoads {
    let mut acc = TissueLoads::default();
    let t = pose.translation.vector;
    for (i, h) in model.heads.iter().enumerate() {
        let p = pose * Point3::from(h.insertion);
        let r = p.coords - t;
        let passive = if i == 0 { input.rf_passive_n } else { 0.0 };
        let tension = scale * h.weight + passive;
        acc.heads_n[i] = tension;
        let (u, len) = match &h.wrap {
            Some(c) => {
                let s = wrap_path(&p.coords, &h.origin, c);
                let u = s.direction;
                // The exact turning (the tension is the head's share of the load: no
                // length term): K = −T ∂u/∂x, less the straight-line K of `add_line`.
                let straight = (Mat3::identity() - u * u.transpose()) * (tension / s.segment_mm);
                acc.wrap_jacobian += stiffness_terms(&r, &(-s.d_direction * tension - straight));
                (u, s.segment_mm)
            }
            None => {
                let d = h.origin - p.coords;
                let len = d.norm();
                (d / len, len)
            }
        };
        add_line(&mut acc, &r, &u, len, tension, 0.0);
        acc.d_quad_scale
            .fixed_rows_mut::<3>(0)
            .add_assign(&(u * h.weight));
        acc.d_quad_scale
            .fixed_rows_mut::<3>(3)
            .add_assign(&(r.cross(&u) * h.weight));
    }
    let femur_anchor = |a: &Anchor| match a {
        Anchor::Femur(p) => *p,
        Anchor::Tibia(p) => (joint.femur_from_tibia * Point3::from(*p)).coords,
    };
    let (pt, line) = ligament(&mut acc, pose, &model.patellar_tendon, &joint.tuberosity);
    acc.patellar_tendon_n = pt;
    // Force on the tibia is −f at the tuberosity; the extensor moment is the negative of
    // its generalised force on the flexion coordinate: M = f · ∂x_tub/∂θ (virtual work; on
    // the hinge this is ẑ·(tub × (−f)) about the flexion axis).
    let v = joint.tuberosity_rate;
    acc.extensor_moment = v.dot(&line.f);
    acc.d_extensor_moment = line.df.transpose() * v;
    let mpfl_anchor = femur_anchor(&model.mpfl.anchor);
    acc.mpfl_n = ligament(&mut acc, pose, &model.mpfl, &mpfl_anchor).0;
    let lr_anchor = femur_anchor(&model.lateral_retinaculum.anchor);
    acc.lateral_retinaculum_n = ligament(&mut acc, pose, &model.lateral_retinaculum, &lr_anchor).0;
    let band = &model.itb_band;
    let band_tension = input
        .itb_tension_n
        .map_or(band.tension_n, |t| t * model.params.itb.patellar_fraction);
    if band_tension > 0.0 {
        let p = pose * Point3::from(band.patella);
        let d = band.anchor - p.coords;
        let len = d.norm();
        add_line(
            &mut acc,
            &(p.coords - t),
            &(d / len),
            len,
            band_tension,
            0.0,
        );
    }
    acc.itb_n = band_tension;
    acc
}

/// One tissue drawn as a straight line, for viewers and plots.
#[derive(Debug, Clone, PartialEq)]
pub struct TissueLine {
    /// Display name.
    pub name: &'static str,
    /// Attachment on the patella, femur frame, mm.
    pub patella: Vec3,
    /// The other end (origin, anchor or tuberosity), femur frame, mm.
    pub far: Vec3,
    /// Tension, N.
    pub force_n: f64,
}

/// Every patellar tissue of a solved frame as a line with its tension: the six quadriceps
/// heads, the patellar tendon, MPFL, lateral retinaculum and the IT band's iliopatellar
/// fibres. Geometry from the model at the frame's pose, tensions from the result.
pub fn tissue_lines(model: &Model, r: &crate::step::FrameResult) -> Vec<TissueLine> {
    const HEADS: [&str; 6] = ["RF", "VI", "VL", "VLO", "VML", "VMO"];
    let pose = &r.femur_from_patella;
    let joint = super::kinematics::kinematics(model, &r.knee);
    let on_patella = |p: &Vec3| (pose * Point3::from(*p)).coords;
    let far = |a: &Anchor| match a {
        Anchor::Femur(p) => *p,
        Anchor::Tibia(p) => (joint.femur_from_tibia * Point3::from(*p)).coords,
    };
    let mut lines: Vec<TissueLine> = model
        .heads
        .iter()
        .enumerate()
        .map(|(i, h)| TissueLine {
            name: HEADS[i],
            patella: on_patella(&h.insertion),
            far: h.origin,
            force_n: r.head_forces_n[i],
        })
        .collect();
    lines.push(TissueLine {
        name: "patellar tendon",
        patella: on_patella(&model.patellar_tendon.patella),
        far: joint.tuberosity,
        force_n: r.patellar_tendon_n,
    });
    lines.push(TissueLine {
        name: "MPFL",
        patella: on_patella(&model.mpfl.patella),
        far: far(&model.mpfl.anchor),
        force_n: r.mpfl_n,
    });
    lines.push(TissueLine {
        name: "lateral retinaculum",
        patella: on_patella(&model.lateral_retinaculum.patella),
        far: far(&model.lateral_retinaculum.anchor),
        force_n: r.lateral_retinaculum_n,
    });
    lines.push(TissueLine {
        name: "IT band (iliopatellar)",
        patella: on_patella(&model.itb_band.patella),
        far: model.itb_band.anchor,
        force_n: r.itb_patellar_n,
    });
    lines
}
