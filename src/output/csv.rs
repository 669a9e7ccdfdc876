//! frames.csv and stability.csv. Every column name carries its unit. Numbers are printed
//! with Rust's shortest round-trip formatting, so equal results give identical bytes.
//!
//! Written by hand rather than through the `csv` crate (which the sweep table uses): every
//! cell is a number or empty, never text, so there is nothing to quote, and the bytes are
//! decided here alone — the same for any thread count and any version of a dependency.

use std::fmt::Write;

use crate::experiment::{RunResult, StabilityRun};
use crate::model::Model;
use crate::step::FrameResult;

/// Column names of one frame, in order (after the run's own leading columns).
pub const FRAME_COLUMNS: &[&str] = &[
    "knee_flexion_deg",
    "knee_varus_deg",
    "tibial_rotation_deg",
    "tibia_coupled_adduction_deg",
    "tibia_coupled_rotation_deg",
    "tibia_anterior_mm",
    "tibia_proximal_mm",
    "tibia_lateral_mm",
    "quad_scale_n",
    "rf_force_n",
    "vi_force_n",
    "vl_force_n",
    "vlo_force_n",
    "vml_force_n",
    "vmo_force_n",
    "quadriceps_force_n",
    "pt_force_n",
    "mpfl_force_n",
    "lateral_retinaculum_force_n",
    "itb_patellar_force_n",
    "extensor_moment_nm",
    "pt_moment_arm_mm",
    "pf_force_n",
    "pf_force_bw",
    "pf_lateral_force_n",
    "lateral_share",
    "contact_area_mm2",
    "lateral_contact_area_mm2",
    "mean_pressure_mpa",
    "peak_pressure_mpa",
    "peak_lateral_pressure_mpa",
    "peak_medial_pressure_mpa",
    "medial_mean_pressure_mpa",
    "cop_anterior_mm",
    "cop_proximal_mm",
    "cop_lateral_mm",
    "lateral_shift_mm",
    "lateral_tilt_deg",
    "lateral_spin_deg",
    "patellar_flexion_deg",
    "patella_proximal_mm",
    "patella_anterior_mm",
    "bisect_offset",
    "holding_force_n",
    "status",
    "iterations",
    "residual_force_n",
    "residual_moment_nmm",
];

/// Leading columns of a gait run's frames.csv (then [`FRAME_COLUMNS`]). Hip adduction and
/// rotation are after the risk-factor mechanisms; the moments are the body's net moments;
/// `extensor_target_nm` is what the quadriceps was solved to supply.
pub const GAIT_COLUMNS: &[&str] = &[
    "frame",
    "cycle",
    "cycle_pct",
    "time_s",
    "stance",
    "hip_flexion_deg",
    "hip_adduction_deg",
    "hip_rotation_deg",
    "net_extensor_moment_nm",
    "hip_abductor_moment_nm",
    "extensor_target_nm",
    "itb_tension_n",
    "rf_passive_n",
    "bf_passive_n",
    "glute_med_deficit_nm",
    "tfl_force_n",
];

/// One number as a CSV cell: NaN — a value that does not apply, such as the centre of
/// pressure of a frame without contact — is an empty cell, as everywhere in kneetrack's
/// tables (pandas, polars and R read it as missing).
pub fn cell(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        x.to_string()
    }
}

/// The values of one frame, in [`FRAME_COLUMNS`] order.
pub fn frame_values(model: &Model, r: &FrameResult) -> Vec<String> {
    let c = &r.contact;
    let t = &r.tracking;
    let (rf, rm) = r.status.residuals();
    let num = [
        r.knee.flexion.to_degrees(),
        r.knee.varus.to_degrees(),
        r.knee.internal_rotation.to_degrees(),
        r.tibia_coupled_varus.to_degrees(),
        r.tibia_coupled_internal_rotation.to_degrees(),
        r.tibia_translation_mm.x,
        r.tibia_translation_mm.y,
        model.lat * r.tibia_translation_mm.z,
        r.quad_scale_n,
        r.head_forces_n[0],
        r.head_forces_n[1],
        r.head_forces_n[2],
        r.head_forces_n[3],
        r.head_forces_n[4],
        r.head_forces_n[5],
        r.quadriceps_force_n,
        r.patellar_tendon_n,
        r.mpfl_n,
        r.lateral_retinaculum_n,
        r.itb_patellar_n,
        r.extensor_moment_nmm / 1000.0,
        r.pt_moment_arm_mm,
        c.force_n,
        c.force_n / model.body_weight_n,
        c.lateral_force_n,
        c.lateral_share,
        c.area_mm2,
        c.lateral_area_mm2,
        c.mean_pressure_mpa,
        c.peak_pressure_mpa,
        c.peak_lateral_pressure_mpa,
        c.peak_medial_pressure_mpa,
        c.medial_mean_pressure_mpa,
        c.cop_mm[0],
        c.cop_mm[1],
        c.cop_mm[2],
        t.shift_mm,
        t.tilt.to_degrees(),
        t.spin.to_degrees(),
        t.flexion.to_degrees(),
        t.proximal_mm,
        t.anterior_mm,
        t.bisect_offset,
        r.holding_force_n,
    ];
    let mut v: Vec<String> = num.iter().map(|&x| cell(x)).collect();
    v.push(r.status.name().to_string());
    v.push(r.status.iterations().to_string());
    v.push(rf.to_string());
    v.push(rm.to_string());
    v
}

fn table(lead: &[&str], rows: impl Iterator<Item = (Vec<String>, Vec<String>)>) -> String {
    let mut s = String::new();
    let header: Vec<&str> = lead.iter().chain(FRAME_COLUMNS).copied().collect();
    s.push_str(&header.join(","));
    s.push('\n');
    for (l, v) in rows {
        let _ = writeln!(s, "{},{}", l.join(","), v.join(","));
    }
    s
}

/// frames.csv for a run: flexion runs have one row per angle (leading column `frame`);
/// stability runs have the neutral and displaced frame of every test (leading columns
/// `frame`, `test_flexion_deg`, `direction`, `state`).
pub fn frames_csv(model: &Model, run: &RunResult) -> String {
    match run {
        RunResult::Flexion(f) => table(
            &["frame"],
            f.frames
                .iter()
                .enumerate()
                .map(|(i, r)| (vec![i.to_string()], frame_values(model, r))),
        ),
        RunResult::Gait(g) => table(
            GAIT_COLUMNS,
            g.frames.iter().enumerate().map(|(i, f)| {
                let s = &f.sample;
                let d = &f.drive;
                let mut lead = vec![i.to_string(), f.cycle.to_string()];
                lead.extend(
                    [
                        s.cycle_pct,
                        s.time_s,
                        s.stance,
                        s.hip_flexion_deg,
                        d.hip_adduction_deg,
                        d.hip_rotation_deg,
                        s.extensor_moment_nm,
                        s.hip_abductor_moment_nm,
                        d.extensor_target_nm,
                        d.itb_tension_n,
                        d.rf_passive_n,
                        d.bf_passive_n,
                        d.glute_med.deficit_nm,
                        d.glute_med.tfl_force_n,
                    ]
                    .iter()
                    .map(|&x| cell(x)),
                );
                (lead, frame_values(model, &f.result))
            }),
        ),
        RunResult::Dynamic(d) => dynamic_csv(d),
        RunResult::Stability(s) => {
            let rows = s.rows.iter().flat_map(|row| {
                let dir = if row.direction > 0.0 {
                    "lateral"
                } else {
                    "medial"
                };
                [("neutral", &row.neutral), ("displaced", &row.displaced)].map(|(state, r)| {
                    (
                        vec![
                            row.flexion_deg.to_string(),
                            dir.to_string(),
                            state.to_string(),
                        ],
                        frame_values(model, r),
                    )
                })
            });
            table(
                &["frame", "test_flexion_deg", "direction", "state"],
                rows.enumerate().map(|(i, (mut l, v))| {
                    l.insert(0, i.to_string());
                    (l, v)
                }),
            )
        }
    }
}

/// Columns of a dynamic run's frames.csv (one row per output sample; units in the names).
pub const DYNAMIC_COLUMNS: &[&str] = &[
    "time_s",
    "knee_flexion_deg",
    "applied_force_n",
    "lateral_shift_mm",
    "lateral_tilt_deg",
    "patellar_flexion_deg",
    "speed_mm_s",
    "pf_force_n",
    "pf_lateral_force_n",
    "pt_force_n",
    "bone_contact_n",
    "kinetic_j",
    "ligament_elastic_j",
    "work_j",
    "dissipated_j",
    "quasi_static_lateral_shift_mm",
    "quasi_static_pf_force_n",
];

fn dynamic_csv(d: &crate::dynamics::DynamicRun) -> String {
    let mut s = DYNAMIC_COLUMNS.join(",");
    s.push('\n');
    for x in &d.samples {
        let v = [
            x.time_s,
            x.knee_flexion_deg,
            x.applied_n,
            x.shift_mm,
            x.tilt_deg,
            x.patellar_flexion_deg,
            x.speed_mm_s,
            x.pf_force_n,
            x.pf_lateral_n,
            x.patellar_tendon_n,
            x.bone_contact_n,
            x.kinetic_j,
            x.ligament_j,
            x.work_j,
            x.dissipated_j,
            x.quasi_static_shift_mm,
            x.quasi_static_pf_n,
        ];
        let cells: Vec<String> = v.iter().map(|&x| cell(x)).collect();
        let _ = writeln!(s, "{}", cells.join(","));
    }
    s
}

/// stability.csv: one row per angle and direction.
pub fn stability_csv(s: &StabilityRun) -> String {
    let mut out = String::from("flexion_deg,direction,restraining_force_n,displaced_status\n");
    for r in &s.rows {
        let dir = if r.direction > 0.0 {
            "lateral"
        } else {
            "medial"
        };
        let _ = writeln!(
            out,
            "{},{},{},{}",
            r.flexion_deg,
            dir,
            r.restraining_force_n,
            r.displaced.status.name()
        );
    }
    out
}
