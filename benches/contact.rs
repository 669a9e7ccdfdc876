//! Contact evaluation at one pose, on the real knee (Lenhart 2015: 6,052 cartilage-triangle
//! elements against the femoral distance field) and the parametric knee (≈1,040 elements):
//! 30° flexion under a 400 N quadriceps load (a solved, loaded pose): the full kernel,
//! and the warm kernel (motion bounds) — the latter measured as reference + warm pair, so
//! subtract the full `wrench_and_jacobian` time for the warm evaluation alone.
//!
//! With `KNEETRACK_CONTACT_POSE` set to a file path, the real knee's bench pose and its
//! contact result are written there as JSON (femur_from_patella: row-major rotation and
//! translation in mm, both in the model file's body frames): `benches/opensim_ef.py` poses
//! OpenSim's patella with it, so both tools evaluate the same overlap.

use criterion::{criterion_group, criterion_main, Criterion};
use kneetrack::contact::{
    elastic_foundation_in, elastic_foundation_warm, ContactCache, ContactResult, ContactScratch,
};
use kneetrack::experiment::approach;
use kneetrack::params::AnatomyModel;
use kneetrack::validation::knee_params;
use kneetrack::{step, Data, FrameInput, KneeAngles, Model, QuadLoad};

fn bench(c: &mut Criterion) {
    for knee_model in [AnatomyModel::Lenhart2015, AnatomyModel::Parametric] {
        let model = Model::new(&knee_params(knee_model)).unwrap();
        let mut data = Data::new(&model);
        let knee = KneeAngles {
            flexion: 30f64.to_radians(),
            ..Default::default()
        };
        let load = QuadLoad::Force(400.0);
        approach(&model, &mut data, knee, load);
        let r = step(&model, &FrameInput::new(knee, load), &mut data);
        let pose = r.femur_from_patella;
        let n = model.patella.len();
        let mut g = c.benchmark_group(format!(
            "contact_{knee_model:?}_{n}_elements_{}_in_contact",
            r.contact.elements
        ));
        let mut scratch = ContactScratch::default();
        if let (AnatomyModel::Lenhart2015, Some(path)) =
            (knee_model, std::env::var_os("KNEETRACK_CONTACT_POSE"))
        {
            let c = elastic_foundation_in(
                &pose,
                &model.femur,
                &model.patella,
                &model.law,
                &mut scratch,
                &mut data.pressure,
                false,
            );
            let k = &model.knee;
            let layer = [
                model.lat,
                k.modulus_mpa,
                k.poisson,
                k.mean_patella_thickness_mm,
                k.mean_femur_thickness_mm,
            ];
            std::fs::write(&path, pose_json(&pose, n, &c, layer)).expect("KNEETRACK_CONTACT_POSE");
        }
        for (name, jacobian) in [("wrench", false), ("wrench_and_jacobian", true)] {
            g.bench_function(name, |b| {
                b.iter(|| {
                    elastic_foundation_in(
                        std::hint::black_box(&pose),
                        &model.femur,
                        &model.patella,
                        &model.law,
                        &mut scratch,
                        &mut data.pressure,
                        jacobian,
                    )
                })
            });
        }
        // Warm: the motion-bound reference was taken at a pose 0.02 mm and 0.001 rad away (a
        // late Newton iterate of the same frame); identical result, fewer elements evaluated.
        let mut reference = pose;
        reference.translation.vector.x += 0.02;
        reference.rotation =
            nalgebra::UnitQuaternion::from_scaled_axis(nalgebra::Vector3::new(0.0, 0.0, 0.001))
                * reference.rotation;
        g.bench_function("warm_wrench_and_jacobian", |b| {
            let mut cache = ContactCache::default();
            b.iter(|| {
                cache.clear();
                elastic_foundation_warm(
                    &reference,
                    &model.femur,
                    &model.patella,
                    &model.law,
                    &mut cache,
                    &mut data.pressure,
                    true,
                );
                elastic_foundation_warm(
                    std::hint::black_box(&pose),
                    &model.femur,
                    &model.patella,
                    &model.law,
                    &mut cache,
                    &mut data.pressure,
                    true,
                )
            })
        });
        g.finish();
    }
}

/// The bench pose and its contact result as JSON (see the module documentation).
fn pose_json(
    pose: &nalgebra::Isometry3<f64>,
    elements: usize,
    c: &ContactResult,
    [lat, modulus, poisson, patella_mm, femur_mm]: [f64; 5],
) -> String {
    let r = pose.rotation.to_rotation_matrix();
    let rows: Vec<String> = (0..3)
        .map(|i| format!("[{:?}, {:?}, {:?}]", r[(i, 0)], r[(i, 1)], r[(i, 2)]))
        .collect();
    let t = pose.translation.vector;
    format!(
        "{{\"rotation\": [{}], \"translation_mm\": [{:?}, {:?}, {:?}], \
         \"elements\": {elements}, \"lat\": {lat:?}, \"elements_in_contact\": {}, \
         \"force_n\": [{:?}, {:?}, {:?}], \"load_n\": {:?}, \
         \"area_mm2\": {:?}, \"peak_pressure_mpa\": {:?}, \"modulus_mpa\": {modulus:?}, \
         \"poisson\": {poisson:?}, \"mean_patella_thickness_mm\": {patella_mm:?}, \
         \"mean_femur_thickness_mm\": {femur_mm:?}}}\n",
        rows.join(", "),
        t.x,
        t.y,
        t.z,
        c.elements_in_contact,
        c.force.x,
        c.force.y,
        c.force.z,
        c.load,
        c.area,
        c.peak_pressure,
    )
}

criterion_group!(benches, bench);
criterion_main!(benches);
