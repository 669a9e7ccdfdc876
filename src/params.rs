//! Model parameters: plain `Default + serde` structs that mirror the scenario file's model
//! sections. Each default says where it comes from. Ranges are checked once, in
//! `scenario::compile`, against the key table ([`crate::scenario::keys::KEYS`]).

use serde::{Deserialize, Serialize};

/// Which knee. The model is built for a right knee; a left knee mirrors every point across
/// the sagittal plane (z → −z). Outputs stay anatomical (lateral positive) for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// A right knee (the model as built).
    #[default]
    Right,
    /// A left knee: the right knee mirrored across the sagittal plane.
    Left,
}

impl Side {
    /// +1 for a right knee, −1 for a left knee: the femur-frame Z of the lateral direction.
    pub fn lateral_sign(self) -> f64 {
        match self {
            Side::Right => 1.0,
            Side::Left => -1.0,
        }
    }
}

/// `[subject]`: anatomy of the knee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Subject {
    /// Body mass, kg (default 70: a typical recreational runner). Used for BW outputs.
    pub body_mass_kg: f64,
    /// Knee side (default right).
    pub side: Side,
    /// Frontal-plane Q-angle at full extension, degrees (default 14: the normal adult mean,
    /// e.g. Livingston 1998 reports 12–17°; the L model's inferred value is 14.6°).
    pub q_angle_deg: f64,
    /// Tibial tuberosity – trochlear groove distance, mm (default 11.6: the L model's
    /// tuberosity (z = 13.4) minus its groove (z = 1.8); normal 10–13, > 20 pathological,
    /// Dejour 1994).
    pub tt_tg_mm: f64,
    /// Insall–Salvati ratio, tendon length / patella height (default 1.20: L bone mesh,
    /// apex→tuberosity 41.4 mm / bone height 34.4 mm; alta > 1.2, Insall & Salvati 1971).
    pub insall_salvati: f64,
    /// Sulcus angle, degrees: the angle between the medial and lateral trochlear facet
    /// lines (default 138, Brattström 1964 normal; dysplastic > 145).
    pub sulcus_angle_deg: f64,
    /// Trochlear depth at mid-trochlea, mm: mean crest height minus groove floor (default
    /// 5.5; normal 5–6, dysplastic < 3–4, Pfirrmann 2000). It shallows proximally.
    pub trochlear_depth_mm: f64,
    /// Lateral trochlear inclination, degrees: the lateral facet's slope to the
    /// medio-lateral axis (default 20; dysplastic ≤ 11, Carrillon 2000).
    pub lateral_trochlear_inclination_deg: f64,
    /// Patella width, mm (default 44: L articular width 43.8).
    pub patella_width_mm: f64,
    /// Patella height, mm (default 34.4: L bone mesh).
    pub patella_height_mm: f64,
    /// Patella antero-posterior thickness including cartilage, mm (default 22, DESIGN.md).
    pub patella_thickness_mm: f64,
    /// Facet split: the fraction of the articular width lateral of the median ridge
    /// (default 0.58: L cartilage slices 0.55–0.62; the lateral facet is the larger one,
    /// DESIGN.md 55–60 %; Wiberg types II–III run higher).
    pub lateral_facet_fraction: f64,
}

impl Default for Subject {
    fn default() -> Self {
        Self {
            body_mass_kg: 70.0,
            side: Side::Right,
            q_angle_deg: 14.0,
            tt_tg_mm: 11.6,
            insall_salvati: 1.20,
            sulcus_angle_deg: 138.0,
            trochlear_depth_mm: 5.5,
            lateral_trochlear_inclination_deg: 20.0,
            patella_width_mm: 44.0,
            patella_height_mm: 34.4,
            patella_thickness_mm: 22.0,
            lateral_facet_fraction: 0.58,
        }
    }
}

/// Pressure–overlap law of the elastic foundation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ContactLawKind {
    /// p = k·d (Bei & Fregly 2004).
    #[default]
    Linear,
    /// p = −(1−ν)E/((1+ν)(1−2ν)) · ln(1 − d/h) (Blankevoort et al. 1991).
    Log,
}

/// Which knee geometry a model is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash)]
#[serde(rename_all = "lowercase")]
pub enum AnatomyModel {
    /// The Lenhart et al. (2015) knee: MRI-segmented cartilage and bone meshes of one
    /// healthy adult and the OpenSim-JAM model that places them (shipped under
    /// `assets/lenhart2015/`, Apache-2.0), loaded through the same reader as a user's
    /// `anatomy.osim`.
    #[default]
    Lenhart2015,
    /// The analytic trochlea and patella (shape studies: sulcus angle, depth, inclination,
    /// patella size and facets).
    Parametric,
}

/// How the tibia moves relative to the femur as the knee flexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Tibiofemoral {
    /// Secondary motion coupled to flexion: tibial internal rotation, adduction and
    /// translations of Walker et al. (1988) as encoded in Rajagopal et al. (2016)'s
    /// `walker_knee_r` (see `step::kinematics`).
    Coupled,
    /// A fixed flexion axis (the first design; for comparison).
    Hinge,
    /// The knee's own secondary motion (mesh knees with a tibial contact mesh; the default
    /// there): Walker et al. (1988)'s coupled internal rotation, and the adduction and the
    /// three translations solved at each flexion angle so the tibia sits in equilibrium
    /// between its cartilage contact with the femur and the model's tibiofemoral ligaments
    /// (see `anatomy::passive_tf`).
    Seated,
}

/// `[anatomy]`: which knee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Anatomy {
    /// Knee geometry (default `lenhart2015`).
    pub model: AnatomyModel,
    /// An OpenSim-JAM knee model (`.osim`, path relative to the scenario file) to use
    /// instead of the shipped Lenhart 2015 file; its meshes are found beside it or in its
    /// `Geometry/` folder. Implies a mesh knee.
    pub osim: Option<String>,
    /// Tibiofemoral motion (default: the anatomy's — `seated` on a mesh knee with a tibial
    /// contact mesh, `coupled` on one without, `hinge` on the
    /// parametric knee, which keeps the first design's fixed axis its results were
    /// calibrated with).
    pub tibiofemoral: Option<Tibiofemoral>,
}

/// `[cartilage]`: the elastic foundation.
///
/// Material and thickness default to the anatomy's own: on a mesh knee the model file's
/// contact meshes (Lenhart 2015 / Smith 2018: E = 5 MPa, ν = 0.45, each layer's thickness
/// measured per triangle to its bone mesh, clamped to 1–10 mm, both layers summed); on the
/// parametric knee the first design's constant layer (E = 10 MPa, ν = 0.45, 3 mm combined),
/// which its validated results were calibrated with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cartilage {
    /// Young's modulus, MPa (default: the anatomy's — 5 on the Lenhart 2015 knee, 10 on the
    /// parametric knee).
    pub modulus_mpa: Option<f64>,
    /// Poisson's ratio (default: the anatomy's — 0.45 for both, Lenhart 2015).
    pub poisson: Option<f64>,
    /// Combined cartilage thickness h of the foundation, mm: a constant that overrides the
    /// measured layer of a mesh knee (default: measured per element on a mesh knee; 3 on the
    /// parametric knee).
    pub thickness_mm: Option<f64>,
    /// Pressure law (default linear).
    pub law: ContactLawKind,
    /// Patella contact element size of the parametric knee, mm (default 1.0: about 1,040
    /// elements on the default articular surface, DESIGN.md §3). A mesh knee's elements are
    /// its cartilage triangles.
    pub element_size_mm: f64,
}

/// Parametric knee's cartilage modulus, MPa (the first design's value, after Lenhart 2015's
/// earlier model; its flexion-rig results were calibrated with it).
pub const PARAMETRIC_MODULUS_MPA: f64 = 10.0;
/// Parametric knee's combined layer thickness, mm (DESIGN.md first design).
pub const PARAMETRIC_THICKNESS_MM: f64 = 3.0;
/// Poisson's ratio of cartilage when the anatomy gives none (Lenhart 2015).
pub const DEFAULT_POISSON: f64 = 0.45;

impl Default for Cartilage {
    fn default() -> Self {
        Self {
            modulus_mpa: None,
            poisson: None,
            thickness_mm: None,
            law: ContactLawKind::Linear,
            element_size_mm: 1.0,
        }
    }
}

impl Cartilage {
    /// The keys of this section that default to the anatomy's own value when absent.
    pub const FROM_ANATOMY: [&'static str; 3] = [
        "cartilage.modulus_mpa",
        "cartilage.poisson",
        "cartilage.thickness_mm",
    ];
}

/// `[muscles]`: strength factors of the quadriceps heads (1 = normal, 0 = unloaded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Muscles {
    /// Rectus femoris.
    pub rf: f64,
    /// Vastus intermedius.
    pub vi: f64,
    /// Vastus lateralis, both its longus part and the oblique VLO.
    pub vl: f64,
    /// Vastus medialis longus.
    pub vml: f64,
    /// Vastus medialis obliquus (VMO weakness = `vmo < 1`).
    pub vmo: f64,
    /// Gluteus medius strength (gait only; weakness = `glute_med < 1`, see
    /// `gait::mechanisms::glute_med_deficit`).
    pub glute_med: f64,
    /// Rectus femoris tightness, 0 = normal … 1 = severe (gait only; see
    /// `gait::mechanisms::rf_passive_force`).
    pub rf_tightness: f64,
    /// Biceps femoris tightness, 0 = normal … 1 = severe (gait only; see
    /// `gait::mechanisms::bf_passive_force`).
    pub biceps_femoris_tightness: f64,
}

impl Default for Muscles {
    fn default() -> Self {
        Self {
            rf: 1.0,
            vi: 1.0,
            vl: 1.0,
            vml: 1.0,
            vmo: 1.0,
            glute_med: 1.0,
            rf_tightness: 0.0,
            biceps_femoris_tightness: 0.0,
        }
    }
}

impl Muscles {
    /// Strength factor of the head with the given name (`vlo` follows `vl`).
    pub fn factor(&self, head: &str) -> f64 {
        match head {
            "rf" => self.rf,
            "vi" => self.vi,
            "vl" | "vlo" => self.vl,
            "vml" => self.vml,
            "vmo" => self.vmo,
            _ => 1.0,
        }
    }
}

/// `[ligaments]`: stiffness scales (1 = normal, 0 = cut, > 1 = tight/stiff).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ligaments {
    /// Medial patellofemoral ligament.
    pub mpfl: f64,
    /// Lateral retinaculum / lateral patellofemoral ligament.
    pub lateral_retinaculum: f64,
    /// Patellar tendon (0 = ruptured: the solve then reports non-convergence).
    pub patellar_tendon: f64,
}

impl Default for Ligaments {
    fn default() -> Self {
        Self {
            mpfl: 1.0,
            lateral_retinaculum: 1.0,
            patellar_tendon: 1.0,
        }
    }
}

/// `[itb]`: iliotibial band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Itb {
    /// Static IT-band tension, N (default 0: cadaver flexion rigs leave the ITB unloaded;
    /// Kwak et al. 2000 and Merican & Amis 2009 load it with 30–100 N to study tightness).
    pub tension_n: f64,
    /// Fraction of the ITB tension that reaches the lateral patella through the
    /// iliopatellar band (default 0.2: a model assumption — Merican & Amis 2009 show the
    /// iliopatellar band transmits part of ITB tension to the patella; no direct
    /// measurement of the fraction exists).
    pub patellar_fraction: f64,
    /// Scale of the IT band's path stiffness (gait only; 1 = the default
    /// `gait::mechanisms::ITB_STIFFNESS_N_PER_MM`, > 1 = stiffer band).
    pub stiffness_scale: f64,
}

impl Default for Itb {
    fn default() -> Self {
        Self {
            tension_n: 0.0,
            patellar_fraction: 0.2,
            stiffness_scale: 1.0,
        }
    }
}

/// `[foot]`: the runner's foot (gait only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Foot {
    /// Extra rearfoot eversion in stance over a neutral foot, degrees (default 0; a
    /// pronating runner is +5…10°). See `gait::mechanisms::pronation_rotation`.
    pub pronation_deg: f64,
}

impl Default for Foot {
    fn default() -> Self {
        Self { pronation_deg: 0.0 }
    }
}

/// `[mechanisms]`: the coefficients that turn a runner's risk factors into knee mechanics
/// (gait only). Each is used by one named function in `gait::mechanisms`; the default says
/// where it comes from. Literature values are cited; values marked *assumption* have no
/// direct measurement and are stated so that users can change them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mechanisms {
    /// Share of the stance hip-abductor moment carried by the gluteus medius (default 0.65:
    /// its share of the abductor PCSA — gluteus medius, minimus and TFL — in Ward et al.
    /// 2009's cadaver series).
    pub glute_med_share: f64,
    /// Share of a gluteus-medius deficit that the TFL takes over, pulling on the IT band
    /// (default 0.3, *assumption*: TFL compensation for abductor weakness is described by
    /// Sahrmann 2002 and Fredericson 2000; its size is not measured).
    pub tfl_compensation: f64,
    /// TFL hip-abduction moment arm, mm (default 45, *assumption* in the 40–60 mm range of
    /// abductor moment arms in OpenSim hip models, Delp et al. 1990).
    pub tfl_moment_arm_mm: f64,
    /// Hip frontal-plane stiffness that resists an uncompensated abductor deficit,
    /// N·m per kg body mass per degree (default 0.1, *calibrated*: halving the gluteus
    /// medius then adds about 4° of stance hip adduction, the size of the difference between
    /// runners with patellofemoral pain and controls, Noehren et al. 2012, Willson & Davis
    /// 2008).
    pub hip_frontal_stiffness_nm_per_kg_deg: f64,
    /// Femoral internal rotation that comes with extra hip adduction, degrees per degree
    /// (default 1.0: runners with patellofemoral pain show both together in similar size,
    /// e.g. hip IR +6° (Wirtz et al. 2012) with adduction +4–5° (Noehren et al. 2012)).
    pub femoral_ir_per_adduction: f64,
    /// Fraction of extra femoral internal rotation that appears as relative tibial external
    /// rotation at the knee while the foot is planted (default 1.0: the planted foot holds
    /// the tibia and the femur rotates beneath the patella, Powers et al. 2003; zero in
    /// swing).
    pub rotation_transfer: f64,
    /// Tibial internal rotation per degree of extra rearfoot eversion (default 0.68, the
    /// coupling reported in PMC5987802).
    pub pronation_tibial_coupling: f64,
    /// Femoral internal rotation per degree of pronation-driven tibial internal rotation
    /// (default 1.0, *assumption*: the femur follows the tibia (Tiberio 1987's chain), so the
    /// knee itself does not rotate but the hip internally rotates; > 1 models Tiberio's
    /// compensatory femoral rotation, which rotates the tibia externally at the knee).
    pub pronation_femoral_follow: f64,
    /// IT-band lengthening per radian of hip adduction, mm (default 40, *assumption*: the
    /// band's hip-abduction moment arm in OpenSim hip models, Delp et al. 1990).
    pub itb_adduction_arm_mm: f64,
    /// IT-band lengthening per radian of hip internal rotation, mm (default 10,
    /// *assumption*: a small arm; hip adduction and internal rotation lengthen the band,
    /// Noehren et al. 2007, Hamill et al. 2008).
    pub itb_rotation_arm_mm: f64,
    /// Equivalent knee flexion at a neutral hip where a normal rectus femoris starts to carry
    /// passive tension, degrees (default 110, *assumption*: normal prone knee flexion (Ely's
    /// test) reaches 120–140° before the RF stops it).
    pub rf_slack_knee_deg: f64,
    /// How far full tightness (`muscles.rf_tightness = 1`) moves that onset, degrees
    /// (default 40, *assumption*: a clearly positive Ely test stops at 80–90°).
    pub rf_tightness_shift_deg: f64,
    /// Hip flexion with the knee straight where a normal biceps femoris starts to carry
    /// passive tension, degrees (default 35, *assumption*: passive hip resistance in a
    /// straight-leg raise rises from about 30–40°).
    pub bf_slack_hip_deg: f64,
    /// How far full tightness (`muscles.biceps_femoris_tightness = 1`) moves that onset,
    /// degrees (default 35, *assumption*: a severely tight hamstring stops a straight-leg
    /// raise at 40–50° instead of 80–90°).
    pub bf_tightness_shift_deg: f64,
    /// Knee rotational stiffness that resists the biceps femoris' external-rotation moment,
    /// N·m per degree (default 0.5, *assumption* of the order of the loaded knee's torsional
    /// stiffness, Shoemaker & Markolf 1982).
    pub knee_rotation_stiffness_nm_per_deg: f64,
    /// Smallest knee extensor moment the quadriceps supplies, N·m (default 2, *assumption*:
    /// in swing the net knee moment is flexor and the hamstrings carry it, but quadriceps
    /// EMG never falls to zero in running; the model keeps a small resting moment so the
    /// patella stays seated).
    pub quadriceps_floor_nm: f64,
}

impl Default for Mechanisms {
    fn default() -> Self {
        Self {
            glute_med_share: 0.65,
            tfl_compensation: 0.3,
            tfl_moment_arm_mm: 45.0,
            hip_frontal_stiffness_nm_per_kg_deg: 0.1,
            femoral_ir_per_adduction: 1.0,
            rotation_transfer: 1.0,
            pronation_tibial_coupling: 0.68,
            pronation_femoral_follow: 1.0,
            itb_adduction_arm_mm: 40.0,
            itb_rotation_arm_mm: 10.0,
            rf_slack_knee_deg: 110.0,
            rf_tightness_shift_deg: 40.0,
            bf_slack_hip_deg: 35.0,
            bf_tightness_shift_deg: 35.0,
            knee_rotation_stiffness_nm_per_deg: 0.5,
            quadriceps_floor_nm: 2.0,
        }
    }
}

/// `[solver]`: the per-frame damped Newton solve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Solver {
    /// Iteration limit per frame (default 60).
    pub max_iterations: u32,
    /// Converged when the net force on the patella is below this, N (default 0.05).
    pub force_tolerance_n: f64,
    /// … and the net moment (and the extensor-moment error) below this, N·mm (default 2).
    pub moment_tolerance_nmm: f64,
}

impl Default for Solver {
    fn default() -> Self {
        Self {
            max_iterations: 60,
            force_tolerance_n: 0.05,
            moment_tolerance_nmm: 2.0,
        }
    }
}

/// Everything that defines a knee: the sections a `Model` is compiled from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelParams {
    /// `[anatomy]`: which knee.
    pub anatomy: Anatomy,
    /// `[subject]`: the knee's anatomy.
    pub subject: Subject,
    /// `[cartilage]`: the elastic foundation.
    pub cartilage: Cartilage,
    /// `[muscles]`: quadriceps and hip strength factors, tightness.
    pub muscles: Muscles,
    /// `[ligaments]`: stiffness scales.
    pub ligaments: Ligaments,
    /// `[itb]`: the iliotibial band.
    pub itb: Itb,
    /// `[foot]`: the runner's foot.
    pub foot: Foot,
    /// `[mechanisms]`: the risk-factor coefficients.
    pub mechanisms: Mechanisms,
    /// `[solver]`: the per-frame solve.
    pub solver: Solver,
}

impl ModelParams {
    /// The value of a numeric key (`section.key`), for range checks and sweeps. To look up
    /// many keys, take [`Self::numerics`] once: this serialises the parameters on each call.
    pub fn numeric(&self, key: &str) -> Option<f64> {
        self.numerics().get(key)
    }

    /// Every numeric key's value, serialised once: a scenario's range checks look up each
    /// key of the table through it (one serialisation per compile, not one per key — a
    /// sweep compiles every variant).
    pub fn numerics(&self) -> Numerics<'_> {
        Numerics {
            params: self,
            json: serde_json::to_value(self).ok(),
        }
    }
}

/// The numeric values of a [`ModelParams`], by dotted key ([`ModelParams::numerics`]).
#[derive(Debug)]
pub struct Numerics<'a> {
    params: &'a ModelParams,
    json: Option<serde_json::Value>,
}

impl Numerics<'_> {
    /// The value of `section.key`: `None` for a key that is not a number of the model
    /// sections, or a [`Cartilage::FROM_ANATOMY`] key left unset (the anatomy's own value
    /// applies); NaN for a non-finite number (so the range check rejects it, key named).
    pub fn get(&self, key: &str) -> Option<f64> {
        let (section, field) = key.split_once('.')?;
        let json = self.json.as_ref()?;
        if Cartilage::FROM_ANATOMY.contains(&key) {
            let c = &self.params.cartilage;
            let v = match field {
                "modulus_mpa" => c.modulus_mpa,
                "poisson" => c.poisson,
                _ => c.thickness_mm,
            };
            // None when unset: the anatomy's own value applies.
            return v;
        }
        match json.get(section)?.get(field)? {
            // serde_json writes a non-finite float as null: report it as NaN so the range
            // check rejects it with the key named.
            serde_json::Value::Null => Some(f64::NAN),
            v => v.as_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::keys::{bounds, KEYS};

    /// Every numeric key of the model sections has a range in the key table and a value
    /// lookup, so a new parameter cannot reach the model unchecked.
    #[test]
    fn every_numeric_model_key_has_a_range() {
        let json = serde_json::to_value(ModelParams::default()).unwrap();
        let mut keys = Vec::new();
        for (section, fields) in json.as_object().unwrap() {
            for (key, value) in fields.as_object().unwrap() {
                let k = format!("{section}.{key}");
                if value.is_number() || Cartilage::FROM_ANATOMY.contains(&k.as_str()) {
                    keys.push(k);
                }
            }
        }
        assert!(keys.len() > 20);
        for k in &keys {
            assert!(bounds(k).is_some(), "{k} has no range");
            let mut p = ModelParams::default();
            p.cartilage.modulus_mpa = Some(5.0);
            p.cartilage.poisson = Some(0.45);
            p.cartilage.thickness_mm = Some(3.0);
            assert!(p.numeric(k).is_some(), "{k} has no value lookup");
        }
        let model_sections = json.as_object().unwrap();
        let ranged = KEYS
            .iter()
            .filter(|k| k.bounds().is_some() && model_sections.contains_key(k.section()))
            .count();
        assert_eq!(
            keys.len(),
            ranged,
            "a range names a key that does not exist"
        );
    }
}
