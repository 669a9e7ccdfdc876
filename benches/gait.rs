//! One 100-frame running cycle (the built-in cycle at 3.5 m/s, default runner), single
//! thread: approach from rest to foot strike, then every frame warm-started from the one
//! before — what a viewer slider re-solves. DESIGN target: ≤ 10 ms.

use criterion::{criterion_group, criterion_main, Criterion};
use kneetrack::experiment::gait::{factors, run_cycle};
use kneetrack::gait::builtin::Conditions;
use kneetrack::params::AnatomyModel;
use kneetrack::scenario::GaitPlan;
use kneetrack::validation::knee_params;
use kneetrack::{Data, Model};

fn bench(c: &mut Criterion) {
    for knee in [AnatomyModel::Lenhart2015, AnatomyModel::Parametric] {
        let model = Model::new(&knee_params(knee)).unwrap();
        let cond = Conditions {
            speed_mps: 3.5,
            step_rate_change_pct: 0.0,
            slope_pct: 0.0,
            body_mass_kg: 70.0,
        };
        let plan = GaitPlan::builtin(&cond, 100, 1);
        let f = factors(&model, &plan);
        let mut data = Data::new(&model);
        let (frames, _) = run_cycle(&model, &f, 0, &plan.cycles[0], &mut data);
        assert!(frames.iter().all(|fr| fr.result.status.converged()));
        println!(
            "{knee:?} gait cycle: {} frames, {} contact evaluations per cycle",
            frames.len(),
            data.contact_evaluations
        );
        let mut g = c.benchmark_group(format!("gait_cycle_{knee:?}"));
        g.sample_size(10);
        g.bench_function("builtin_100_frames", |b| {
            b.iter(|| {
                let mut d = Data::new(&model);
                run_cycle(&model, &f, 0, &plan.cycles[0], &mut d)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
