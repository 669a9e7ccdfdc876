//! The dynamic experiment's cost, single thread, at 30° under 175 N on the real and the
//! parametric knee: a pulse-case run of 0.1 s simulated with the default linearly implicit
//! midpoint rule (400 steps of 250 µs: a predicted, then Newton-corrected mean velocity from
//! the quasi-static step's tissues and contact with their Jacobian, then a rapier3d step with
//! the bone backstop), and 0.01 s with the explicit reference (500 steps of 20 µs). The setup
//! (walking the quasi-static patella to 30° and building the rapier world; the bone shapes
//! are built once per process, in the warm-up) is included in `…_Implicit` /
//! `…_Explicit`, so the real-time factors they imply are lower bounds; the
//! `…_loop` functions time the integration alone (the run's own wall clock around its time
//! loop, through `iter_custom`): simulated time over that is the real-time factor.
//! Issue target: real-time factor ≥ 1.

use criterion::{criterion_group, criterion_main, Criterion};
use kneetrack::dynamics::{run_dynamic, DynamicPlan, DynamicStatus, Integrator, EXPLICIT_DT_S};
use kneetrack::params::AnatomyModel;
use kneetrack::validation::knee_params;
use kneetrack::Model;

fn bench(c: &mut Criterion) {
    for knee in [AnatomyModel::Lenhart2015, AnatomyModel::Parametric] {
        let model = Model::new(&knee_params(knee)).unwrap();
        let mut g = c.benchmark_group(format!("dynamic_{knee:?}"));
        g.sample_size(10);
        for (integrator, duration) in [(Integrator::Implicit, 0.1), (Integrator::Explicit, 0.01)] {
            let mut plan = DynamicPlan::pulse(30f64.to_radians(), 175.0);
            plan.integrator = integrator;
            if integrator == Integrator::Explicit {
                plan.dt_s = EXPLICIT_DT_S;
            }
            plan.onset_s = 0.2 * duration;
            plan.pulse_s = 0.4 * duration;
            plan.duration_s = duration;
            let run = run_dynamic(&model, &plan);
            assert_eq!(run.status, DynamicStatus::Completed);
            println!(
                "{knee:?} {integrator:?}: {} steps, {:.1} ms wall, real-time factor {:.3}",
                run.metrics.steps,
                run.wall_s * 1e3,
                plan.duration_s / run.wall_s
            );
            let name = format!(
                "pulse_{}ms_simulated_{integrator:?}",
                (duration * 1e3).round()
            );
            g.bench_function(&name, |b| b.iter(|| run_dynamic(&model, &plan)));
            g.bench_function(format!("{name}_loop"), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            std::time::Duration::from_secs_f64(run_dynamic(&model, &plan).wall_s)
                        })
                        .sum()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
