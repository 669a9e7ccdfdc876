//! The dynamic experiment's cost: a pulse-case run of 0.01 s simulated (500 steps of 20 µs:
//! forces from the quasi-static step's tissues and contact, then a rapier3d step with the
//! bone backstop), at 30° under 175 N, real and parametric knee, single thread. The setup
//! (walking the quasi-static patella to 30° and building the rapier world) is included, so
//! the real-time factor it implies is a lower bound. Issue target: real-time factor ≥ 1.

use criterion::{criterion_group, criterion_main, Criterion};
use kneetrack::dynamics::{run_dynamic, DynamicPlan, DynamicStatus};
use kneetrack::params::AnatomyModel;
use kneetrack::validation::knee_params;
use kneetrack::Model;

fn bench(c: &mut Criterion) {
    for knee in [AnatomyModel::Lenhart2015, AnatomyModel::Parametric] {
        let model = Model::new(&knee_params(knee)).unwrap();
        let mut plan = DynamicPlan::pulse(30f64.to_radians(), 175.0);
        plan.onset_s = 0.002;
        plan.pulse_s = 0.004;
        plan.duration_s = 0.01;
        let run = run_dynamic(&model, &plan);
        assert_eq!(run.status, DynamicStatus::Completed);
        println!(
            "{knee:?}: {} steps, {:.1} ms wall, real-time factor {:.3}",
            run.metrics.steps,
            run.wall_s * 1e3,
            plan.duration_s / run.wall_s
        );
        let mut g = c.benchmark_group(format!("dynamic_{knee:?}"));
        g.sample_size(10);
        g.bench_function("pulse_10ms_simulated", |b| {
            b.iter(|| run_dynamic(&model, &plan))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
