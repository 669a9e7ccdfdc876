//! Stage 4 — report: patellar tracking (Bull et al. 2002) and contact metrics of the
//! solved frame, in anatomical signs (lateral positive for either knee).

use nalgebra::{Matrix3, Point3, Rotation3};
use serde::Serialize;

use super::kinematics::Joint;
use super::solve::Solution;
use super::{FrameInput, FrameResult};
use crate::math::{decompose_zxy, Vec3};
use crate::model::Model;

/// Patellar tracking relative to the femur (Bull, Katchburian & Amis 2002), anatomical.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Tracking {
    /// Medio-lateral position of the patella origin in the femur frame, lateral +, mm.
    pub shift_mm: f64,
    /// Tilt about the patellar long axis, lateral + (lateral facet toward the lateral
    /// trochlea), radians.
    pub tilt: f64,
    /// Spin about the floating AP axis, lateral + (inferior pole moving laterally), radians.
    pub spin: f64,
    /// Patellar flexion about the femoral ML axis, radians.
    pub flexion: f64,
    /// Proximo-distal position of the patella origin, proximal +, mm.
    pub proximal_mm: f64,
    /// Antero-posterior position of the patella origin, anterior +, mm.
    pub anterior_mm: f64,
    /// Bisect offset: fraction of the articular width lateral of the groove's deepest point.
    pub bisect_offset: f64,
}

/// Contact metrics of a frame.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ContactMetrics {
    /// Magnitude of the PF contact force, N.
    pub force_n: f64,
    /// Medio-lateral component of the force the patella exerts on the femur, lateral +, N.
    pub lateral_force_n: f64,
    /// Share of the normal load on the lateral facet (0…1; 0 without contact).
    pub lateral_share: f64,
    /// Contact area, mm².
    pub area_mm2: f64,
    /// Contact area on the lateral facet, mm².
    pub lateral_area_mm2: f64,
    /// Mean pressure over the contact area, MPa.
    pub mean_pressure_mpa: f64,
    /// Peak element pressure, MPa.
    pub peak_pressure_mpa: f64,
    /// Peak pressure on the lateral facet, MPa.
    pub peak_lateral_pressure_mpa: f64,
    /// Peak pressure on the medial facet, MPa.
    pub peak_medial_pressure_mpa: f64,
    /// Mean pressure over the medial facet's contact area, MPa.
    pub medial_mean_pressure_mpa: f64,
    /// Centre of pressure, patella frame, anatomical (x anterior, y proximal, z lateral), mm;
    /// NaN without contact (an empty cell in frames.csv).
    pub cop_mm: [f64; 3],
    /// Elements in contact.
    pub elements: usize,
}

/// Decomposes a patella pose into Bull tracking.
pub fn tracking(model: &Model, pose: &nalgebra::Isometry3<f64>) -> Tracking {
    let lat = model.lat;
    let m = Matrix3::from_diagonal(&Vec3::new(1.0, 1.0, lat));
    let r = pose.rotation.to_rotation_matrix();
    let r_anat = Rotation3::from_matrix_unchecked(m * r.matrix() * m);
    let (a, b, c) = decompose_zxy(&r_anat);
    let t = pose.translation.vector;
    let p = &model.patella;
    let border = pose * Point3::new(p.ridge_x, p.centre[0], lat * (p.centre[1] + 0.5 * p.width));
    Tracking {
        shift_mm: lat * t.z,
        tilt: -c,
        spin: -b,
        flexion: -a,
        proximal_mm: t.y,
        anterior_mm: t.x,
        bisect_offset: (lat * border.z - model.femur.groove_z()) / p.width,
    }
}

/// Builds the frame's result from the solution.
pub fn report(model: &Model, input: &FrameInput, joint: &Joint, sol: &Solution) -> FrameResult {
    let lat = model.lat;
    let c = &sol.contact;
    let t = &sol.tissues;
    let medial_area = c.area - c.lateral_area;
    let cop = c
        .centre_of_pressure()
        .map(|v| [v.x, v.y, lat * v.z])
        .unwrap_or([f64::NAN; 3]);
    let contact = ContactMetrics {
        force_n: c.force.norm(),
        lateral_force_n: -lat * c.force.z,
        lateral_share: if c.load > 0.0 {
            c.lateral_load / c.load
        } else {
            0.0
        },
        area_mm2: c.area,
        lateral_area_mm2: c.lateral_area,
        mean_pressure_mpa: c.mean_pressure(),
        peak_pressure_mpa: c.peak_pressure,
        peak_lateral_pressure_mpa: c.peak_lateral_pressure,
        peak_medial_pressure_mpa: c.peak_medial_pressure,
        medial_mean_pressure_mpa: if medial_area > 0.0 {
            (c.load - c.lateral_load) / medial_area
        } else {
            0.0
        },
        cop_mm: cop,
        elements: c.elements_in_contact,
    };
    let net_z = t.force.z + c.force.z;
    FrameResult {
        knee: input.knee,
        femur_from_patella: sol.pose,
        femur_from_tibia: joint.femur_from_tibia,
        tibia_coupled_varus: joint.coupled_varus,
        tibia_coupled_internal_rotation: joint.coupled_internal_rotation,
        tibia_translation_mm: joint.coupled_translation,
        pt_moment_arm_mm: if t.patellar_tendon_n > 0.0 {
            t.extensor_moment / t.patellar_tendon_n
        } else {
            f64::NAN
        },
        quad_scale_n: sol.scale,
        head_forces_n: t.heads_n,
        quadriceps_force_n: t.heads_n.iter().sum(),
        patellar_tendon_n: t.patellar_tendon_n,
        mpfl_n: t.mpfl_n,
        lateral_retinaculum_n: t.lateral_retinaculum_n,
        itb_patellar_n: t.itb_n,
        extensor_moment_nmm: t.extensor_moment,
        contact_force: c.force,
        contact,
        tracking: tracking(model, &sol.pose),
        holding_force_n: -lat * net_z,
        status: sol.status,
    }
}
