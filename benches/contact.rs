//! Contact evaluation at one pose: the default knee at 30° flexion under a 400 N
//! quadriceps load (a solved, loaded pose), default mesh (≈1,040 elements).

use criterion::{criterion_group, criterion_main, Criterion};
use kneetrack::contact::elastic_foundation;
use kneetrack::experiment::approach;
use kneetrack::{step, Data, FrameInput, KneeAngles, Model, ModelParams, QuadLoad};

fn bench(c: &mut Criterion) {
    let model = Model::new(&ModelParams::default()).unwrap();
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
        "contact_{n}_elements_{}_in_contact",
        r.contact.elements
    ));
    for (name, jacobian) in [("wrench", false), ("wrench_and_jacobian", true)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                elastic_foundation(
                    std::hint::black_box(&pose),
                    &model.femur,
                    &model.patella,
                    &model.law,
                    &mut data.pressure,
                    jacobian,
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
