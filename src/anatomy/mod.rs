//! Anatomical reference data, copied into the code with its sources so the project never
//! needs the design folder to build, run or test.
//!
//! Frame (all points here): the femur frame of a **right** knee at full extension, origin at
//! the Lenhart et al. (2015) knee-joint frame origin (the tibiofemoral flexion axis passes
//! through it along +Z), **+X anterior, +Y proximal, +Z lateral**, millimetres. It sits
//! 8.4 mm distal of the epicondylar midpoint proxy; we keep the flexion axis at the origin
//! rather than the epicondylar midpoint DESIGN.md mentions, so the knee moment is a moment
//! about an axis through the origin.
//!
//! Sources: "L" = Lenhart RL, Kaiser J, Smith CR, Thelen DG (2015) *Prediction and
//! validation of load-dependent behavior of the tibiofemoral and patellofemoral joints
//! during movement*, Ann Biomed Eng 43:2675–2685, OpenSim model `lenhart2015.osim`
//! (opensim-jam, Apache-2.0), points extracted with the OpenSim 4.6 API. Patella-frame
//! points are the femur-frame points minus the default patella origin [`PATELLA_ORIGIN`].

pub mod landmarks;
pub mod mesh_knee;
pub mod passive_tf;

use crate::math::Vec3;

/// Default patella body origin in the femur frame (L `patella_r`, pf_tx/ty/tz defaults
/// 53/5/4 mm, identity rotation). The patella frame has the femur's axes at this pose.
pub const PATELLA_ORIGIN: [f64; 3] = [53.0, 5.0, 4.0];

/// Patellar tendon, mean of the six L bundles' patellar attachments (femur frame).
pub const PT_PATELLA: [f64; 3] = [57.0, -6.9, 6.7];
/// Tibial tuberosity = mean of the six L PT tibial attachments (tibia frame, which equals
/// the femur frame at zero knee angles).
pub const TIBIAL_TUBEROSITY: [f64; 3] = [34.9, -48.2, 13.4];
/// Clinical tendon length from the L bone mesh: patellar apex → tuberosity, 41.4 mm; the
/// model's PT line joins attachment centroids and measures 47.3 mm at the default pose.
/// The fixed difference (the footprint centroid lies proximal of the apex) is added to the
/// Insall–Salvati tendon length to get the line's slack length.
pub const PT_LINE_MINUS_CLINICAL_MM: f64 = 47.3 - 41.3;

/// MPFL, mean of six L bundles: femoral attachment (adductor-tubercle region).
pub const MPFL_FEMUR: [f64; 3] = [14.9, 10.4, -38.7];
/// MPFL patellar attachment (superomedial patella), femur frame at the default pose.
pub const MPFL_PATELLA: [f64; 3] = [54.2, 4.2, -15.6];
/// MPFL slack length: mean of the six L bundle slack lengths (47.2, 48.9, 48.0, 45.4,
/// 45.8, 46.6 mm); the ligament is 1.9 % slack at full extension, as in L.
pub const MPFL_SLACK_MM: f64 = 46.98;

/// Lateral patellofemoral ligament / lateral retinaculum, mean of eight L `lPFL` bundles.
pub const LPFL_FEMUR: [f64; 3] = [21.3, 6.0, 35.0];
/// Lateral retinaculum patellar attachment (lateral patellar border).
pub const LPFL_PATELLA: [f64; 3] = [51.8, 7.1, 24.3];
/// Mean of the eight L `lPFL` slack lengths, mm (3.9 % slack at full extension).
pub const LPFL_SLACK_MM: f64 = 33.81;

/// Point where the iliopatellar band leaves the iliotibial band: the L `ITB1` path
/// (P2 over the trochanter → P3 Gerdy's tubercle) interpolated at y = 20 mm, just
/// proximal of the lateral epicondyle.
pub const ITB_PATELLAR_ANCHOR: [f64; 3] = [14.3, 20.0, 37.7];
/// Lateral patellar border where the iliopatellar band inserts (taken at the lPFL
/// patellar attachment, L).
pub const ITB_PATELLA: [f64; 3] = [51.8, 7.1, 24.3];

/// Groove (sulcus) medio-lateral position: L trochlear cartilage, θ = −30…30°, sulcus at
/// z = 1.5–2.5 mm (mean 1.8 mm, excluding the irregular −2.8 mm at θ = −10°).
pub const GROOVE_Z_MM: f64 = 1.8;

/// Sulcus radius from the flexion axis, `(θ°, r mm)`, θ measured from +X toward −Y.
/// θ = −30…30: L femoral cartilage (deepest groove point per half-plane). θ ≥ 40: the
/// intercondylar notch region, where L has no groove; the values continue the groove
/// floor under the condyles so that the condylar crests (floor + crest height) fall to the
/// L distal-condyle radius of about 23 mm at θ = 90° (lowest cartilage points y = −21…−23).
/// θ = −60, −45: the anterior femoral shaft above the trochlea (extrapolated, flat).
pub const SULCUS_RADIUS: [(f64, f64); 17] = [
    (-60.0, 38.0),
    (-45.0, 38.2),
    (-30.0, 38.6),
    (-20.0, 37.4),
    (-10.0, 38.3),
    (0.0, 38.1),
    (10.0, 35.3),
    (20.0, 31.3),
    (30.0, 26.3),
    (40.0, 22.5),
    (50.0, 20.0),
    (60.0, 18.5),
    (70.0, 17.6),
    (80.0, 17.1),
    (90.0, 17.0),
    (120.0, 17.0),
    (180.0, 17.0),
];

/// Relative trochlear height along the groove (≈1 at mid-trochlea, θ = 10°), from the L
/// cartilage depths 4.1, 4.4, 3.4, 4.9, 6.0, 6.2, 7.2 mm at θ = −30…30: a linear fit
/// 0.925 + 0.0085·θ°, clamped to [0.6, 1.2]. The cross-section's heights scale with it at
/// constant width, so the facets flatten proximally as the L sulcus angle does
/// (151° proximally, 133° distally). "Shallowing proximally", as DESIGN.md asks.
pub fn depth_scale(theta_deg: f64) -> (f64, f64) {
    let v = 0.925 + 0.0085 * theta_deg;
    if (0.6..=1.2).contains(&v) {
        (v, 0.0085_f64.to_degrees())
    } else {
        (v.clamp(0.6, 1.2), 0.0)
    }
}

/// Intercondylar notch: it opens distal of the trochlea (L: no groove for θ ≥ 40°, central
/// gap 5 mm at 40° widening to 16 mm at 90°). Depth and half-width ramp in with smoothsteps
/// over θ = 35…65° (depth, to [`NOTCH_DEPTH_MM`]) and 35…90° (half-width, see
/// [`NOTCH_HALF_WIDTH_MM`]); the profile across is `(1 − x²)²`, so the rim is smooth
/// cartilage rather than a sharp edge.
pub const NOTCH_START_DEG: f64 = 35.0;
/// Angle where the notch reaches full depth, degrees.
pub const NOTCH_FULL_DEPTH_DEG: f64 = 65.0;
/// Full notch depth below the groove floor, mm.
pub const NOTCH_DEPTH_MM: f64 = 8.0;
/// Notch half-width at its start and at θ = 90°, mm (the (1 − x²)² profile's visible gap is
/// about its half-width: L gaps 5 → 16 mm).
pub const NOTCH_HALF_WIDTH_MM: (f64, f64) = (4.0, 9.0);

/// Lenhart patella articular surface: width 43.8 mm, height 29.9 mm (0.87 of the 34.4 mm
/// bone height), spanning y = −8.3…21.6 mm in the femur frame and centred 1.0 mm medial of
/// the patella origin; the median ridge lies 0.58 of the width from the lateral border.
pub const PATELLA_ARTICULAR_HEIGHT_FRACTION: f64 = 0.87;
/// Centre of the articular outline in the patella frame (y, z), mm.
pub const PATELLA_ARTICULAR_CENTRE: [f64; 2] = [1.65, -1.0];
/// Reference patella dimensions (L bone mesh, thickness from DESIGN.md), mm: the patella
/// attachment points scale with the subject's patella size relative to these.
pub const PATELLA_REF_SIZE: [f64; 3] = [22.0, 34.4, 44.0];

/// Converts a femur-frame point at the default pose to the patella frame.
pub fn to_patella_frame(p: [f64; 3]) -> Vec3 {
    Vec3::new(
        p[0] - PATELLA_ORIGIN[0],
        p[1] - PATELLA_ORIGIN[1],
        p[2] - PATELLA_ORIGIN[2],
    )
}

/// One quadriceps head: name, PCSA share of the whole quadriceps, frontal-plane angle from
/// the femoral mechanical axis (+ lateral, degrees), sagittal angle (+ anterior, degrees),
/// patellar insertion (femur frame at the default pose) and the effective line length to
/// the origin or previous via point (mm).
#[derive(Debug, Clone, Copy)]
pub struct HeadRef {
    /// Short name (`rf`, `vi`, `vl`, `vlo`, `vml`, `vmo`).
    pub name: &'static str,
    /// PCSA share of the whole quadriceps (the six shares sum to 1).
    pub share: f64,
    /// Frontal-plane angle from the femoral mechanical axis, degrees (+ lateral).
    pub frontal_deg: f64,
    /// Sagittal-plane angle, degrees (+ anterior).
    pub sagittal_deg: f64,
    /// Patellar insertion, femur frame at the default pose, mm.
    pub insertion: [f64; 3],
    /// Effective line length to the origin or previous via point, mm.
    pub line_length_mm: f64,
}

/// Quadriceps heads.
///
/// * Shares: Farahmand, Senavongse & Amis (1998, J Orthop Res 16:136) PCSA fractions —
///   RF+VI 35 %, VL 40 %, VM 25 %, with the VMO about 29 % of the VM complex (DESIGN.md).
///   RF:VI is split 45:55 by the L maximum isometric forces (849 vs 1024 N); the VLO is
///   taken as a quarter of the VL (an assumption: no PCSA was given for it).
/// * Frontal angles (DESIGN.md §5, from the anatomical literature, e.g. Lieb & Perry 1968,
///   Farahmand 1998): VMO 50° medial, VML 22.5° medial (mid of 15–30°), VL 15° lateral,
///   VLO 35° lateral; RF +2.0° and VI +8.4° from the L lines of action. The Q-angle
///   placement (see `tissues`) keeps these angles relative to their resultant.
/// * Sagittal angles: L lines of action (recfem −2.1°, vasint −5.4°, vaslat −12.8°,
///   vasmed −9.1° used for VML and VMO, vaslat for VLO).
/// * Insertions: L patella path points (recfem, vasint, vaslat, vasmed). The VMO inserts on
///   the proximal third of the medial border and the VLO on the lateral border
///   (Panagiotopoulos et al. 2006); those two points are placed there (assumption).
/// * Line lengths: L distance from the patellar point to the previous path point (RF 399,
///   VI 161, VL 119, VM 98 mm); the short oblique heads use 60 mm (assumption).
pub const HEADS: [HeadRef; 6] = [
    HeadRef {
        name: "rf",
        share: 0.1575,
        frontal_deg: 2.0,
        sagittal_deg: -2.1,
        insertion: [56.5, 17.6, 4.8],
        line_length_mm: 399.0,
    },
    HeadRef {
        name: "vi",
        share: 0.1925,
        frontal_deg: 8.4,
        sagittal_deg: -5.4,
        insertion: [49.2, 23.1, 3.6],
        line_length_mm: 161.0,
    },
    HeadRef {
        name: "vl",
        share: 0.30,
        frontal_deg: 15.0,
        sagittal_deg: -12.8,
        insertion: [54.7, 20.1, 15.9],
        line_length_mm: 119.0,
    },
    HeadRef {
        name: "vlo",
        share: 0.10,
        frontal_deg: 35.0,
        sagittal_deg: -12.8,
        insertion: [52.0, 12.0, 21.0],
        line_length_mm: 60.0,
    },
    HeadRef {
        name: "vml",
        share: 0.1775,
        frontal_deg: -22.5,
        sagittal_deg: -9.1,
        insertion: [52.6, 20.7, -5.3],
        line_length_mm: 98.0,
    },
    HeadRef {
        name: "vmo",
        share: 0.0725,
        frontal_deg: -50.0,
        sagittal_deg: -9.1,
        insertion: [53.0, 14.0, -15.0],
        line_length_mm: 60.0,
    },
];

/// Standard gravity, m/s², for body weight.
pub const GRAVITY: f64 = 9.81;
