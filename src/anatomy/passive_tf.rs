//! The knee's own passive tibiofemoral motion: at each flexion angle, the tibia's five
//! secondary coordinates (adduction, internal rotation, three translations — the
//! OpenSim-JAM `knee_r` joint's `knee_add`, `knee_rot`, `knee_tx/ty/tz`) that put the tibia
//! in equilibrium between its articular contact with the femur and the model's own
//! tibiofemoral ligaments, under a small seating load along the tibia.
//!
//! **Why.** A coupling table (Walker et al. 1988 as encoded in Rajagopal et al. 2016) is a
//! function of flexion measured on other knees in other frames: applied about the Lenhart
//! femur origin, its translations shorten the patellar tendon's lever by 4–5 mm at 30–60°
//! and drive the femoral condyles 5 mm into the tibial plateau by 90°. Lenhart et al. (2015)
//! obtained the knee's secondary motion instead from the model itself (COMAK: contact and
//! ligaments in equilibrium at each flexion angle). This module does the passive part of
//! that: the femoral cartilage's distance field (the same one the patella meets) against
//! the tibial cartilage's triangles as elastic-foundation elements (the same kernel, the
//! same law, both measured layers), and every `Blankevoort1991Ligament` of the model that
//! joins the femur and the tibia (ACL, PCL, MCL, LCL, posterior capsule, popliteofibular
//! ligament: Blankevoort & Huiskes 1991 force–strain curves with the model's stiffness,
//! slack length and transition strain; straight paths through their via points — the
//! model's wrap ellipsoids are not used).
//!
//! **What it leaves out.** Muscle forces (the quadriceps pulling the tibia forward through
//! the patellar tendon, the hamstrings pulling it back) move the real knee's secondary
//! coordinates by a few millimetres under load; COMAK solves them with the muscles. Here
//! the envelope is solved once per geometry, unloaded but for [`SEATING_LOAD_N`], and
//! shared by every frame (the tracking solve runs on it, as it runs on a measured table).
//!
//! **Why the rotation is Walker's.** Solved free, the internal rotation is decided by a few
//! tens of N·mm: over 0–60° the model's tibiofemoral ligaments carry under 20 N each in
//! this unloaded state (the knee's rotational laxity), the IT band's bundle dominates, and
//! the tibia settles 10° *externally* rotated at 30° — the opposite of the screw-home motion
//! every passive-flexion study reports. So the rotation is prescribed from Walker et al.
//! (1988) (as Rajagopal 2016 encodes it) and the other four coordinates are solved.
//!
//! Units: mm, rad, N; right-knee frames (a left knee mirrors the result as the coupling's).

use nalgebra::{Isometry3, Matrix5, Point3, Translation3, UnitQuaternion, Vector5, Vector6};
use serde::Serialize;

use crate::contact::{elastic_foundation_in, ContactLaw, ContactScratch};
use crate::geometry::{FemurGeometry, PatellaMesh};
use crate::math::{rot_x, rot_y, rot_z, Vec3};
use crate::osim::{KneeFrame, LigamentSpec};

/// Compressive load along the tibia's long axis that seats the condyles, N. About one tenth
/// of body weight: the shank's own weight held against the femur in a supine passive-flexion
/// test is of this order (Lenhart 2015's passive flexion kept gravity on); small beside the
/// ligaments' tensions, so the envelope is the unloaded knee's, but enough to make contact
/// the thing that decides the proximo-distal position.
pub const SEATING_LOAD_N: f64 = 100.0;
/// Flexion angles at which the envelope is solved: 0° to 120° in steps of this, degrees.
pub const STEP_DEG: f64 = 5.0;
/// Deepest flexion of the envelope, degrees (the Walker table's range; beyond it the last
/// row is held).
pub const MAX_FLEXION_DEG: f64 = 120.0;
/// Length that puts rotations on the scale of translations in the solve (rad × this = mm;
/// N·mm / this = N): about the plateau's half-width.
const ROT_SCALE_MM: f64 = 20.0;
/// Convergence: every scaled generalised force below this, N (a fraction of a per cent of
/// the seating load and the ligaments' tensions).
const TOLERANCE_N: f64 = 0.05;
/// Newton iterations allowed per angle.
const MAX_ITERATIONS: usize = 80;

/// One tibiofemoral ligament bundle as a polyline on the femur and tibia frames.
#[derive(Debug, Clone, PartialEq)]
pub struct TfLigament {
    /// Bundle name in the model (`ACLam1`).
    pub name: String,
    /// Path points in order: which frame (femur or tibia) and where in it, mm.
    pub points: Vec<(KneeFrame, Vec3)>,
    /// Linear stiffness, N per unit strain.
    pub stiffness_n: f64,
    /// Slack length, mm.
    pub slack_mm: f64,
    /// Transition strain of the toe region.
    pub transition_strain: f64,
}

impl TfLigament {
    /// The bundle of a model ligament when it joins only the femur and the tibia.
    pub fn from_spec(spec: &LigamentSpec) -> Option<Self> {
        let frames = || spec.points.iter().map(|p| p.frame);
        let tf = frames().all(|f| f != KneeFrame::Patella)
            && frames().any(|f| f == KneeFrame::Femur)
            && frames().any(|f| f == KneeFrame::Tibia);
        tf.then(|| TfLigament {
            name: spec.name.clone(),
            points: spec
                .points
                .iter()
                .map(|p| (p.frame, Vec3::from(p.location_mm)))
                .collect(),
            stiffness_n: spec.linear_stiffness_n,
            slack_mm: spec.slack_length_mm,
            transition_strain: spec.transition_strain,
        })
    }

    /// Tension (N) at length `l` (mm): OpenSim-JAM's Blankevoort1991Ligament (quadratic
    /// toe region to the transition strain, linear beyond; no damping in a static solve).
    pub fn tension(&self, l: f64) -> f64 {
        let e = (l - self.slack_mm) / self.slack_mm;
        let et = self.transition_strain;
        if e <= 0.0 {
            0.0
        } else if e < et {
            0.5 * self.stiffness_n * e * e / et
        } else {
            self.stiffness_n * (e - 0.5 * et)
        }
    }
}

/// Pose of the tibia in the femur frame at flexion `flex` and secondary coordinates
/// `q = (adduction, internal rotation, tx, ty, tz)` (rad, rad, mm, mm, mm): the Lenhart
/// `knee_r` transform `T(t) · Rz(−flex) · Rx(add) · Ry(rot)` (right knee).
pub fn tibia_pose(flex: f64, q: &[f64; 5]) -> Isometry3<f64> {
    let r = rot_z(-flex) * rot_x(q[0]) * rot_y(q[1]);
    Isometry3::from_parts(
        Translation3::new(q[2], q[3], q[4]),
        UnitQuaternion::from_rotation_matrix(&r),
    )
}

/// Outcome of one angle's solve (non-convergence is reported, not an error).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EnvelopeRow {
    /// Knee flexion, rad.
    pub flexion_rad: f64,
    /// Secondary coordinates (adduction rad, internal rotation rad, tx, ty, tz mm), right knee.
    pub coords: [f64; 5],
    /// Largest scaled generalised force left, N.
    pub residual_n: f64,
    /// Newton iterations used.
    pub iterations: usize,
    /// Whether the residual fell below the tolerance.
    pub converged: bool,
    /// Tibiofemoral contact force, N.
    pub contact_force_n: f64,
    /// Sum of the ligament tensions, N.
    pub ligament_tension_n: f64,
}

/// The solved envelope: rows at every [`STEP_DEG`] from 0 to [`MAX_FLEXION_DEG`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassiveEnvelope {
    /// One row per flexion angle, increasing from 0.
    pub rows: Vec<EnvelopeRow>,
}

impl PassiveEnvelope {
    /// The secondary coordinates at flexion `x` (rad): piecewise-cubic Hermite with centred
    /// slopes (C¹, so the tendon's lever — a derivative of the tuberosity path — is
    /// continuous), held at the end rows outside the table.
    pub fn at(&self, x: f64) -> [f64; 5] {
        let t = &self.rows;
        if t.len() == 1 {
            return t[0].coords;
        }
        std::array::from_fn(|c| {
            crate::math::hermite_centred(t.len(), |i| t[i].flexion_rad, |i| t[i].coords[c], x)
        })
    }

    /// Whether every row converged.
    pub fn converged(&self) -> bool {
        self.rows.iter().all(|r| r.converged)
    }
}

/// The bodies and laws of the tibiofemoral joint.
#[derive(Clone, Copy)]
pub struct TfJoint<'a> {
    /// The femoral cartilage (right knee).
    pub femur: &'a FemurGeometry,
    /// The tibial cartilage's triangles as elements (tibia frame, mm, measured layer).
    pub tibia: &'a PatellaMesh,
    /// The pressure law (combined layer: element + femoral thickness).
    pub law: &'a ContactLaw,
    /// The tibiofemoral ligament bundles.
    pub ligaments: &'a [TfLigament],
    /// Seating load along the tibia's long axis, N.
    pub seating_load_n: f64,
}

struct Eval {
    /// Scaled generalised forces (N).
    q: Vector5<f64>,
    /// Scaled stiffness ∂q/∂coords (N per scaled unit), contact part analytic, the rest by
    /// finite differences.
    k: Matrix5<f64>,
    contact_n: f64,
    ligament_n: f64,
}

impl TfJoint<'_> {
    /// Wrench on the tibia from the ligaments and the seating load: force (femur frame, N)
    /// and moment about the tibia origin (N·mm), and the tension sum.
    fn soft_wrench(&self, pose: &Isometry3<f64>) -> (Vec3, Vec3, f64) {
        let origin = pose.translation.vector;
        let mut f = Vec3::zeros();
        let mut m = Vec3::zeros();
        let mut total = 0.0;
        let mut pts: Vec<Vec3> = Vec::with_capacity(8);
        for lig in self.ligaments {
            pts.clear();
            pts.extend(lig.points.iter().map(|(fr, p)| match fr {
                KneeFrame::Tibia => (pose * Point3::from(*p)).coords,
                _ => *p,
            }));
            let l: f64 = pts.windows(2).map(|w| (w[1] - w[0]).norm()).sum();
            let t = lig.tension(l);
            if t == 0.0 {
                continue;
            }
            total += t;
            for (k, (fr, _)) in lig.points.iter().enumerate() {
                if *fr != KneeFrame::Tibia {
                    continue;
                }
                let mut fk = Vec3::zeros();
                if k > 0 {
                    fk += (pts[k - 1] - pts[k]).normalize() * t;
                }
                if k + 1 < pts.len() {
                    fk += (pts[k + 1] - pts[k]).normalize() * t;
                }
                f += fk;
                m += (pts[k] - origin).cross(&fk);
            }
        }
        // Seating load: pushes the tibia proximally along its own long axis, at its origin.
        let axis = pose.rotation * Vec3::y();
        f += axis * self.seating_load_n;
        (f, m, total)
    }

    /// Columns: the twist (origin velocity mm, angular velocity rad, femur frame) of each
    /// secondary coordinate, with rotations scaled to mm by [`ROT_SCALE_MM`].
    fn twists(flex: f64, q: &[f64; 5]) -> [Vector6<f64>; 5] {
        const H: f64 = 1e-6;
        std::array::from_fn(|j| {
            let scale = if j < 2 { ROT_SCALE_MM } else { 1.0 };
            let h = H * scale.max(1.0);
            let (mut qp, mut qm) = (*q, *q);
            qp[j] += h / scale;
            qm[j] -= h / scale;
            let (pp, pm) = (tibia_pose(flex, &qp), tibia_pose(flex, &qm));
            let v = (pp.translation.vector - pm.translation.vector) / (2.0 * h);
            let w = (pp.rotation * pm.rotation.inverse()).scaled_axis() / (2.0 * h);
            Vector6::new(v.x, v.y, v.z, w.x, w.y, w.z)
        })
    }

    fn generalised(tw: &[Vector6<f64>; 5], f: &Vec3, m: &Vec3) -> Vector5<f64> {
        let w = Vector6::new(f.x, f.y, f.z, m.x, m.y, m.z);
        Vector5::from_fn(|j, _| w.dot(&tw[j]))
    }

    fn evaluate(
        &self,
        flex: f64,
        q: &[f64; 5],
        scratch: &mut ContactScratch,
        pressure: &mut [f64],
    ) -> Eval {
        let pose = tibia_pose(flex, q);
        let c = elastic_foundation_in(
            &pose, self.femur, self.tibia, self.law, scratch, pressure, true,
        );
        let tw = Self::twists(flex, q);
        let (sf, sm, tension) = self.soft_wrench(&pose);
        let gq = Self::generalised(&tw, &(c.force + sf), &(c.moment + sm));
        // Contact stiffness mapped to the coordinates: Tᵀ K T (the change of the twists
        // with the coordinates is left out: small next to the foundation's stiffness).
        let mut k = Matrix5::zeros();
        for a in 0..5 {
            let ka = c.jacobian * tw[a];
            for b in 0..5 {
                k[(b, a)] = tw[b].dot(&ka);
            }
        }
        // Ligaments and load by central differences (cheap: a few dozen lines).
        for a in 0..5 {
            let scale = if a < 2 { ROT_SCALE_MM } else { 1.0 };
            let h = 1e-4;
            let (mut qp, mut qm) = (*q, *q);
            qp[a] += h / scale;
            qm[a] -= h / scale;
            let (fp, mp, _) = self.soft_wrench(&tibia_pose(flex, &qp));
            let (fm, mm, _) = self.soft_wrench(&tibia_pose(flex, &qm));
            let gp = Self::generalised(&Self::twists(flex, &qp), &fp, &mp);
            let gm = Self::generalised(&Self::twists(flex, &qm), &fm, &mm);
            let col = (gp - gm) / (2.0 * h);
            for b in 0..5 {
                k[(b, a)] += col[b];
            }
        }
        let mut scaled = gq;
        for j in 0..2 {
            scaled[j] /= ROT_SCALE_MM;
            for b in 0..5 {
                k[(j, b)] /= ROT_SCALE_MM;
            }
        }
        Eval {
            q: scaled,
            k,
            contact_n: c.force.norm(),
            ligament_n: tension,
        }
    }

    /// Solves one flexion angle from `start`: damped Newton (Levenberg–Marquardt with a
    /// backtracking acceptance on the residual norm).
    /// Coordinates with `free[j] = false` keep their `start` value.
    pub fn solve_at(&self, flex: f64, start: [f64; 5], free: [bool; 5]) -> EnvelopeRow {
        let mut scratch = ContactScratch::default();
        let mut pressure = vec![0.0; self.tibia.len()];
        let mut q = start;
        let mut e = self.evaluate(flex, &q, &mut scratch, &mut pressure);
        let mut lambda = 1e-3;
        let mut it = 0;
        let masked = |v: &Vector5<f64>| Vector5::from_fn(|j, _| if free[j] { v[j] } else { 0.0 });
        let norm = |v: &Vector5<f64>| masked(v).amax();
        while norm(&e.q) > TOLERANCE_N && it < MAX_ITERATIONS {
            it += 1;
            let mut accepted = false;
            for _ in 0..12 {
                // The forces fall as the tibia moves along a coordinate (−K is the stiffness).
                // A prescribed coordinate's row and column are the identity's (no step).
                let mut a = -e.k;
                for j in 0..5 {
                    if !free[j] {
                        for b in 0..5 {
                            a[(j, b)] = 0.0;
                            a[(b, j)] = 0.0;
                        }
                        a[(j, j)] = 1.0;
                    }
                }
                let diag = Matrix5::from_diagonal(&a.diagonal().map(|d| d.abs().max(1e-3)));
                let Some(dx) = (a + diag * lambda).lu().solve(&masked(&e.q)) else {
                    lambda *= 10.0;
                    continue;
                };
                // Limit a step to 1 mm (or 1/20 rad scaled): the foundation is stiff.
                let big = dx.amax();
                let dx = if big > 1.0 { dx / big } else { dx };
                let mut qn = q;
                for j in 0..5 {
                    qn[j] += dx[j] / if j < 2 { ROT_SCALE_MM } else { 1.0 };
                }
                let en = self.evaluate(flex, &qn, &mut scratch, &mut pressure);
                if masked(&en.q).norm() < masked(&e.q).norm() {
                    q = qn;
                    e = en;
                    lambda = (lambda * 0.3).max(1e-9);
                    accepted = true;
                    break;
                }
                lambda *= 10.0;
            }
            if !accepted {
                break;
            }
        }
        EnvelopeRow {
            flexion_rad: flex,
            coords: q,
            residual_n: norm(&e.q),
            iterations: it,
            converged: norm(&e.q) <= TOLERANCE_N,
            contact_force_n: e.contact_n,
            ligament_tension_n: e.ligament_n,
        }
    }

    /// Solves every angle from 0° to [`MAX_FLEXION_DEG`], each from the last one's answer
    /// (the first from `start`, the model's default coordinates). With `rotation`, the
    /// internal rotation is prescribed as that function of flexion (rad → rad) and the
    /// other four coordinates are solved.
    pub fn envelope(
        &self,
        start: [f64; 5],
        rotation: Option<&dyn Fn(f64) -> f64>,
    ) -> PassiveEnvelope {
        let n = (MAX_FLEXION_DEG / STEP_DEG).round() as usize;
        let mut rows = Vec::with_capacity(n + 1);
        let mut q = start;
        for i in 0..=n {
            let flex = (i as f64 * STEP_DEG).to_radians();
            let free = match rotation {
                Some(r) => {
                    q[1] = r(flex);
                    [true, false, true, true, true]
                }
                None => [true; 5],
            };
            let row = self.solve_at(flex, q, free);
            q = row.coords;
            rows.push(row);
        }
        PassiveEnvelope { rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::mesh_knee::mesh_knee;

    #[test]
    fn ligament_law_is_opensim_jams_blankevoort_curve() {
        let l = TfLigament {
            name: "x".into(),
            points: vec![],
            stiffness_n: 1000.0,
            slack_mm: 50.0,
            transition_strain: 0.06,
        };
        assert_eq!(l.tension(49.0), 0.0);
        // toe region: ½ k ε² / ε_t
        assert!((l.tension(51.0) - 0.5 * 1000.0 * 0.02 * 0.02 / 0.06).abs() < 1e-9);
        // continuous at the transition and linear beyond
        let at = l.tension(53.0);
        assert!((at - 1000.0 * 0.03).abs() < 1e-9, "{at}");
        assert!((l.tension(55.0) - 1000.0 * (0.1 - 0.03)).abs() < 1e-9);
    }

    /// The Lenhart knee's seated envelope: every angle in equilibrium, the condyles resting
    /// on the plateau (contact carries the seating load and the ligaments at every angle),
    /// and the femur rolling back on the tibia with flexion (the tibia moves anteriorly in
    /// its own frame, Lenhart 2015 / Li 2004 report several mm by 90°).
    #[test]
    fn lenhart_envelope_converges_seats_and_rolls_back() {
        let k = mesh_knee(None).unwrap();
        let env = k.passive_envelope().unwrap();
        assert_eq!(env.rows.len(), 25);
        assert!(
            env.converged(),
            "{:?}",
            env.rows.iter().filter(|r| !r.converged).collect::<Vec<_>>()
        );
        let anterior = |r: &EnvelopeRow| {
            // The tibia origin's translation along the tibia's own anterior axis.
            let pose = tibia_pose(r.flexion_rad, &r.coords);
            (pose.rotation * Vec3::x()).dot(&pose.translation.vector)
        };
        for r in &env.rows {
            assert!(r.contact_force_n >= SEATING_LOAD_N * 0.9, "{r:?}");
            // Walker's rotation is prescribed exactly.
            let w = crate::step::kinematics::walker_coupling(r.flexion_rad)[1];
            assert!((r.coords[1] - w).abs() < 1e-12);
        }
        let (a0, a90) = (anterior(&env.rows[0]), anterior(&env.rows[18]));
        assert!(a90 - a0 > 3.0, "rollback {a0:.2} → {a90:.2} mm");
        // Interpolation passes through the rows.
        for r in &env.rows {
            let q = env.at(r.flexion_rad);
            assert!(q.iter().zip(r.coords).all(|(a, b)| (a - b).abs() < 1e-9));
        }
    }
}
