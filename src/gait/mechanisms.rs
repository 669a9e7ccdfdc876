//! The runner's risk factors as mechanisms: each a named function from a factor and the
//! frame's joint state to knee mechanics, with its source. Coefficients live in
//! [`Mechanisms`] (scenario section `[mechanisms]`) so users can see and change them.
//!
//! Per frame, [`drive`] applies them in this order:
//! 1. gluteus-medius deficit → extra hip adduction and femoral internal rotation, and TFL
//!    force on the IT band ([`glute_med_deficit`]);
//! 2. foot pronation → tibial internal rotation and the femur following it
//!    ([`pronation_rotation`]);
//! 3. extra femoral rotation under a planted foot → relative tibial external rotation at the
//!    knee, which moves the tuberosity laterally ([`knee_rotation`]);
//! 4. IT-band tension = baseline (tightness) + stiffness × path lengthening from hip
//!    adduction and internal rotation + TFL ([`itb_tension`]);
//! 5. passive rectus femoris and biceps femoris forces from their lengths
//!    ([`rf_passive_force`], [`bf_passive_force`]) and what they do at the knee.

use serde::Serialize;

use super::GaitSample;
use crate::params::{Foot, Itb, Mechanisms, Muscles};
use crate::step::{FrameInput, KneeAngles, QuadLoad};

/// IT-band path stiffness at `itb.stiffness_scale = 1`, N/mm: EA/L with the fascia lata's
/// tangent modulus ≈ 400 MPa (Butler et al. 1984), a cross-section of ≈ 25 mm² and a
/// hip-to-knee length of ≈ 450 mm (*assumption* for the area and length).
pub const ITB_STIFFNESS_N_PER_MM: f64 = 20.0;

/// Rectus femoris maximum isometric force, N (gait2392 / Delp et al. 1990 values as shipped
/// with OpenSim).
pub const RF_MAX_FORCE_N: f64 = 1169.0;
/// Rectus femoris optimal fibre length, mm (gait2392).
pub const RF_OPTIMAL_FIBRE_MM: f64 = 84.0;
/// Rectus femoris hip-flexion moment arm, mm (*approximate*: a mid-range value of the
/// gait2392 moment-arm curve).
pub const RF_HIP_ARM_MM: f64 = 40.0;
/// Rectus femoris knee-extension moment arm, mm (*approximate*, as above).
pub const RF_KNEE_ARM_MM: f64 = 40.0;
/// Biceps femoris long head maximum isometric force, N (gait2392).
pub const BF_MAX_FORCE_N: f64 = 896.0;
/// Biceps femoris long head optimal fibre length, mm (gait2392).
pub const BF_OPTIMAL_FIBRE_MM: f64 = 109.0;
/// Biceps femoris hip-extension moment arm, mm (*approximate*, gait2392).
pub const BF_HIP_ARM_MM: f64 = 60.0;
/// Biceps femoris knee-flexion moment arm, mm (*approximate*, gait2392).
pub const BF_KNEE_ARM_MM: f64 = 25.0;
/// Biceps femoris tibial external-rotation moment arm, mm (*assumption*: the biceps is the
/// main external rotator of the flexed knee; Buford et al. 1997 report rotation arms of
/// the order of 10 mm).
pub const BF_ROTATION_ARM_MM: f64 = 10.0;

/// Thelen (2003) passive force–length curve of muscle: force / F_max at a fibre stretch
/// `stretch` (in optimal fibre lengths beyond slack), with k_PE = 4 and ε₀ = 0.6.
pub fn thelen_passive(stretch: f64) -> f64 {
    const K_PE: f64 = 4.0;
    const E0: f64 = 0.6;
    if stretch <= 0.0 {
        0.0
    } else {
        ((K_PE * stretch / E0).exp() - 1.0) / (K_PE.exp() - 1.0)
    }
}

/// Result of [`glute_med_deficit`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct GluteMedEffect {
    /// Uncovered hip-abductor moment, N·m.
    pub deficit_nm: f64,
    /// Extra hip adduction, degrees.
    pub extra_adduction_deg: f64,
    /// Extra femoral internal rotation, degrees.
    pub extra_internal_rotation_deg: f64,
    /// TFL force added to the IT band, N.
    pub tfl_force_n: f64,
}

/// Gluteus-medius weakness. The gluteus medius carries `glute_med_share` of the stance
/// hip-abductor moment; a strength factor g < 1 leaves `(1 − g) × share × M_abd`
/// uncovered. The TFL takes `tfl_compensation` of it (its force, deficit / arm, pulls on
/// the IT band); the rest lets the pelvis drop — extra hip adduction through the hip's
/// frontal-plane stiffness — and the femur adducts and internally rotates together
/// (Powers 2010's dynamic-valgus chain; coefficients in [`Mechanisms`]).
pub fn glute_med_deficit(
    strength: f64,
    abductor_moment_nm: f64,
    body_mass_kg: f64,
    k: &Mechanisms,
) -> GluteMedEffect {
    let deficit = (1.0 - strength).max(0.0) * k.glute_med_share * abductor_moment_nm.max(0.0);
    let uncovered = (1.0 - k.tfl_compensation) * deficit;
    let add = uncovered / (k.hip_frontal_stiffness_nm_per_kg_deg * body_mass_kg);
    GluteMedEffect {
        deficit_nm: deficit,
        extra_adduction_deg: add,
        extra_internal_rotation_deg: k.femoral_ir_per_adduction * add,
        tfl_force_n: k.tfl_compensation * deficit / (k.tfl_moment_arm_mm / 1000.0),
    }
}

/// Gluteus medius force, N, for display: the share of the hip-abductor moment it carries at
/// strength `strength`, `strength × glute_med_share × M_abd`, over the abductor moment arm
/// (the same 40–60 mm range of Delp et al. 1990 as the TFL's; `tfl_moment_arm_mm`).
pub fn glute_med_force_n(strength: f64, abductor_moment_nm: f64, k: &Mechanisms) -> f64 {
    strength.max(0.0) * k.glute_med_share * abductor_moment_nm.max(0.0)
        / (k.tfl_moment_arm_mm / 1000.0)
}

/// Foot pronation: extra rearfoot eversion `pronation_deg` rotates the tibia internally by
/// `pronation_tibial_coupling` per degree (PMC5987802: 0.68) while the foot is planted, and
/// the femur follows by `pronation_femoral_follow` (Tiberio 1987's chain). Returns (tibial,
/// femoral) internal rotation in the lab, degrees.
pub fn pronation_rotation(pronation_deg: f64, stance: f64, k: &Mechanisms) -> (f64, f64) {
    let tibia = k.pronation_tibial_coupling * pronation_deg * stance;
    (tibia, k.pronation_femoral_follow * tibia)
}

/// Extra tibial internal rotation relative to the femur (degrees) from extra femoral
/// internal rotation driven at the hip (`hip_driven_ir_deg`) and the pronation-driven
/// rotations of tibia and femur. While the foot is planted (`stance`), the tibia stays with
/// the foot, so `rotation_transfer` of the hip-driven femoral rotation appears as relative
/// tibial *external* rotation (Powers et al. 2003: the femur rotates beneath the patella);
/// in swing the tibia turns with the femur.
pub fn knee_rotation(
    hip_driven_ir_deg: f64,
    pronation: (f64, f64),
    stance: f64,
    k: &Mechanisms,
) -> f64 {
    let (tibia, femur) = pronation;
    tibia - femur - k.rotation_transfer * stance * hip_driven_ir_deg
}

/// IT-band tension, N: the baseline (`itb.tension_n`, tightness) + stiffness × the band's
/// lengthening from hip adduction and internal rotation (Noehren et al. 2007, Hamill et al.
/// 2008: both lengthen and strain the band; arms in [`Mechanisms`]) + the TFL's force.
/// Only lengthening (positive) loads the band.
pub fn itb_tension(
    itb: &Itb,
    hip_adduction_deg: f64,
    hip_internal_rotation_deg: f64,
    tfl_force_n: f64,
    k: &Mechanisms,
) -> f64 {
    let lengthening = k.itb_adduction_arm_mm * hip_adduction_deg.to_radians()
        + k.itb_rotation_arm_mm * hip_internal_rotation_deg.to_radians();
    itb.tension_n
        + ITB_STIFFNESS_N_PER_MM * itb.stiffness_scale * lengthening.max(0.0)
        + tfl_force_n
}

/// Passive rectus femoris force, N. The RF lengthens with knee flexion and shortens with
/// hip flexion; it starts to carry tension at an equivalent knee flexion (hip neutral) of
/// `rf_slack_knee_deg`, which tightness lowers by up to `rf_tightness_shift_deg`. Force from
/// the Thelen (2003) passive curve with the gait2392 RF.
pub fn rf_passive_force(
    tightness: f64,
    knee_flexion_deg: f64,
    hip_flexion_deg: f64,
    k: &Mechanisms,
) -> f64 {
    let onset = k.rf_slack_knee_deg - tightness * k.rf_tightness_shift_deg;
    let stretch_mm = RF_KNEE_ARM_MM * (knee_flexion_deg - onset).to_radians()
        - RF_HIP_ARM_MM * hip_flexion_deg.to_radians();
    RF_MAX_FORCE_N * thelen_passive(stretch_mm / RF_OPTIMAL_FIBRE_MM)
}

/// Passive biceps femoris force, N. The BF lengthens with hip flexion and shortens with knee
/// flexion; it starts to carry tension at a hip flexion (knee straight) of
/// `bf_slack_hip_deg`, which tightness lowers by up to `bf_tightness_shift_deg`. Thelen
/// (2003) passive curve with the gait2392 biceps femoris long head.
pub fn bf_passive_force(
    tightness: f64,
    knee_flexion_deg: f64,
    hip_flexion_deg: f64,
    k: &Mechanisms,
) -> f64 {
    let onset = k.bf_slack_hip_deg - tightness * k.bf_tightness_shift_deg;
    let stretch_mm = BF_HIP_ARM_MM * (hip_flexion_deg - onset).to_radians()
        - BF_KNEE_ARM_MM * knee_flexion_deg.to_radians();
    BF_MAX_FORCE_N * thelen_passive(stretch_mm / BF_OPTIMAL_FIBRE_MM)
}

/// Everything the mechanisms did in one frame (reported in frames.csv).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Drive {
    /// Hip adduction after the mechanisms, degrees.
    pub hip_adduction_deg: f64,
    /// Hip (femoral) internal rotation after the mechanisms, degrees.
    pub hip_rotation_deg: f64,
    /// Gluteus medius effect.
    pub glute_med: GluteMedEffect,
    /// IT-band tension, N (the patella receives `itb.patellar_fraction` of it).
    pub itb_tension_n: f64,
    /// Passive rectus femoris force, N.
    pub rf_passive_n: f64,
    /// Passive biceps femoris force, N.
    pub bf_passive_n: f64,
    /// Knee extensor moment the quadriceps must supply, N·m.
    pub extensor_target_nm: f64,
}

/// Frame-level offsets a scenario may add in stance (the R4 "hip IR/adduction +5–6°" case).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StanceOffsets {
    /// Extra hip adduction in stance, degrees.
    pub hip_adduction_deg: f64,
    /// Extra hip internal rotation in stance, degrees.
    pub hip_rotation_deg: f64,
}

/// The runner's factors, borrowed from the model parameters.
#[derive(Debug, Clone, Copy)]
pub struct Factors<'a> {
    /// `[muscles]`: strength factors and tightness.
    pub muscles: &'a Muscles,
    /// `[itb]`: IT-band tension and stiffness.
    pub itb: &'a Itb,
    /// `[foot]`: pronation.
    pub foot: &'a Foot,
    /// `[mechanisms]`: the coefficients.
    pub mechanisms: &'a Mechanisms,
    /// Body mass, kg.
    pub body_mass_kg: f64,
    /// Extra stance hip adduction and rotation (`gait.stance_hip_*`).
    pub offsets: StanceOffsets,
}

/// Turns one gait sample into the frame input of `step` and a record of the mechanisms.
///
/// The quadriceps must supply the net knee extensor moment (at least
/// `quadriceps_floor_nm`), plus the knee-flexion moment of a passive biceps femoris (the
/// quadriceps works against it), plus the passive rectus femoris' knee-extension moment:
/// the passive RF's hip-flexion moment is held by the hamstrings, whose knee-flexion moment
/// cancels the RF's at the knee, so the active heads still supply the net moment and the
/// passive RF force adds PF compression on top.
pub fn drive(sample: &GaitSample, f: &Factors) -> (FrameInput, Drive) {
    let k = f.mechanisms;
    let w = sample.stance;
    let gm = glute_med_deficit(
        f.muscles.glute_med,
        sample.hip_abductor_moment_nm,
        f.body_mass_kg,
        k,
    );
    let hip_driven_ir = w * f.offsets.hip_rotation_deg + gm.extra_internal_rotation_deg;
    let pron = pronation_rotation(f.foot.pronation_deg, w, k);
    let hip_add =
        sample.hip_adduction_deg + w * f.offsets.hip_adduction_deg + gm.extra_adduction_deg;
    let hip_ir = sample.hip_rotation_deg + hip_driven_ir + pron.1;
    let itb = itb_tension(f.itb, hip_add, hip_ir, gm.tfl_force_n, k);
    let rf = rf_passive_force(
        f.muscles.rf_tightness,
        sample.knee_flexion_deg,
        sample.hip_flexion_deg,
        k,
    );
    let bf = bf_passive_force(
        f.muscles.biceps_femoris_tightness,
        sample.knee_flexion_deg,
        sample.hip_flexion_deg,
        k,
    );
    let bf_external_rotation_deg =
        bf * BF_ROTATION_ARM_MM / 1000.0 / k.knee_rotation_stiffness_nm_per_deg;
    let tibial_rotation = sample.tibial_rotation_deg + knee_rotation(hip_driven_ir, pron, w, k)
        - bf_external_rotation_deg;
    let target = sample.extensor_moment_nm.max(k.quadriceps_floor_nm)
        + bf * BF_KNEE_ARM_MM / 1000.0
        + rf * RF_KNEE_ARM_MM / 1000.0;
    let input = FrameInput {
        knee: KneeAngles {
            flexion: sample.knee_flexion_deg.to_radians(),
            varus: sample.knee_varus_deg.to_radians(),
            internal_rotation: tibial_rotation.to_radians(),
            secondary: sample.secondary,
        },
        load: QuadLoad::ExtensorMoment(target * 1000.0),
        shift_mm: None,
        itb_tension_n: Some(itb),
        rf_passive_n: rf,
    };
    (
        input,
        Drive {
            hip_adduction_deg: hip_add,
            hip_rotation_deg: hip_ir,
            glute_med: gm,
            itb_tension_n: itb,
            rf_passive_n: rf,
            bf_passive_n: bf,
            extensor_target_nm: target,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_strength_glute_med_has_no_effect() {
        let e = glute_med_deficit(1.0, 120.0, 70.0, &Mechanisms::default());
        assert_eq!(e, GluteMedEffect::default());
    }

    #[test]
    fn halving_glute_med_adds_about_four_degrees_of_adduction() {
        // 1.7 N·m/kg stance peak, 70 kg.
        let e = glute_med_deficit(0.5, 1.7 * 70.0, 70.0, &Mechanisms::default());
        assert!((3.0..5.0).contains(&e.extra_adduction_deg), "{e:?}");
        assert!(e.tfl_force_n > 0.0);
    }

    #[test]
    fn passive_forces_vanish_in_normal_running_posture_and_grow_with_tightness() {
        let k = Mechanisms::default();
        // Swing peak (110° knee, 25° hip) in a normal RF: slack.
        assert_eq!(rf_passive_force(0.0, 110.0, 25.0, &k), 0.0);
        assert!(rf_passive_force(1.0, 110.0, 25.0, &k) > 20.0);
        // Late swing (15° knee, 42° hip) in a normal BF: barely taut (about 1 N).
        assert!(bf_passive_force(0.0, 15.0, 42.0, &k) < 2.0);
        assert!(bf_passive_force(1.0, 15.0, 42.0, &k) > 50.0);
    }

    #[test]
    fn femoral_internal_rotation_in_stance_externally_rotates_the_tibia() {
        let k = Mechanisms::default();
        assert!(knee_rotation(6.0, (0.0, 0.0), 1.0, &k) < -5.9);
        assert_eq!(knee_rotation(6.0, (0.0, 0.0), 0.0, &k), 0.0);
    }

    #[test]
    fn thelen_curve_is_one_at_its_strain_scale() {
        assert!((thelen_passive(0.6) - 1.0).abs() < 1e-12);
        assert_eq!(thelen_passive(-0.1), 0.0);
    }
}
