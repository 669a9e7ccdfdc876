//! Sweep throughput at 1 and 2 threads: 8 variants of the running baseline (VMO strength
//! 0.3…1.0), each a compile + one 100-frame cycle + summary, streamed to a table. The
//! scaling figure is throughput(2) / (2 × throughput(1)); DESIGN target ≥ 90 %.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kneetrack::sweep::{load_sweep, run_sweep, ProgressMode, RunOptions};

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("kneetrack-bench-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/runner_baseline.toml");
    let file = dir.join("sweep.toml");
    std::fs::write(
        &file,
        format!(
            "[sweep]\nbase = {:?}\n[[sweep.axis]]\nkey = \"muscles.vmo\"\nfrom = 0.3\nto = 1.0\nsteps = 8\n",
            base.display().to_string()
        ),
    )
    .unwrap();
    let sweep = load_sweep(&file).unwrap();
    let mut g = c.benchmark_group("sweep_8_gait_variants");
    g.sample_size(10);
    g.throughput(Throughput::Elements(sweep.variants));
    for threads in [1usize, 2] {
        g.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| {
                let out = dir.join(format!("out{threads}"));
                let _ = std::fs::remove_dir_all(&out);
                run_sweep(
                    &sweep,
                    &RunOptions {
                        threads: Some(threads),
                        out_dir: Some(out),
                        progress: ProgressMode::Off,
                        ..Default::default()
                    },
                )
                .unwrap()
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
