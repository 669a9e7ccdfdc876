//! One warm frame solve: from the solved state at 30° (400 N quadriceps) to the next frame
//! 1° further, as in a finely sampled sweep or gait cycle; and the same with a prescribed
//! extensor moment (the quadriceps scale is solved too).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use kneetrack::experiment::approach;
use kneetrack::params::AnatomyModel;
use kneetrack::validation::knee_params;
use kneetrack::{step, Data, FrameInput, KneeAngles, Model, QuadLoad};

fn bench(c: &mut Criterion) {
    for knee_model in [AnatomyModel::Lenhart2015, AnatomyModel::Parametric] {
        let model = Model::new(&knee_params(knee_model)).unwrap();
        let knee = |deg: f64| KneeAngles {
            flexion: deg.to_radians(),
            ..Default::default()
        };
        let mut g = c.benchmark_group(format!("frame_solve_warm_{knee_model:?}"));
        for (name, load) in [
            ("quadriceps_400n", QuadLoad::Force(400.0)),
            ("extensor_moment_30nm", QuadLoad::ExtensorMoment(30_000.0)),
        ] {
            let mut warm = Data::new(&model);
            approach(&model, &mut warm, knee(30.0), load);
            step(&model, &FrameInput::new(knee(30.0), load), &mut warm);
            let next = FrameInput::new(knee(31.0), load);
            g.bench_function(name, |b| {
                b.iter_batched_ref(
                    || warm.clone(),
                    |d| step(&model, &next, d),
                    BatchSize::SmallInput,
                )
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
