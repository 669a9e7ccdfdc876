//! One 100-frame running cycle (the built-in cycle at 3.5 m/s, default runner), single
//! thread: approach from rest to foot strike, then every frame warm-started from the one
//! before — what a viewer slider re-solves. DESIGN target: ≤ 10 ms.
//!
//! `viewer_resolve`: what the viewer's worker does when a slider moves (`viewer::live::
//! resolve`, which needs the `viewer` feature, so its two steps are repeated here): the
//! shipped `runner_baseline` scenario with the VMO slider moved, written out, compiled on
//! the session's shared geometry (built once, as the viewer's worker holds it) and recorded
//! (one 100-frame cycle with every frame's pressures and tissue lines).

use criterion::{criterion_group, criterion_main, Criterion};
use kneetrack::experiment::gait::{factors, run_cycle};
use kneetrack::experiment::record::record;
use kneetrack::gait::builtin::Conditions;
use kneetrack::params::AnatomyModel;
use kneetrack::scenario::{self, GaitPlan};
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
    let path = std::path::Path::new("scenarios/runner_baseline.toml");
    let (spec, _) = scenario::load(path).expect("shipped scenario");
    let mut g = c.benchmark_group("viewer_resolve");
    g.sample_size(10);
    let mut step = 0u32;
    let shared = scenario::Shared::new(1);
    g.bench_function("runner_baseline_vmo_slider", |b| {
        b.iter(|| {
            let mut s = spec.clone();
            step += 1;
            s.muscles.vmo = 1.0 - 0.01 * (step % 50) as f64;
            let text = toml::to_string(&s).expect("serialisable spec");
            let compiled =
                scenario::compile_shared(s, path, &text, &shared).expect("valid slider value");
            record(&compiled).expect("a gait scenario records")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
