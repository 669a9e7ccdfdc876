//! Sweep throughput at 1 and 2 threads: 8 variants of the running baseline (VMO strength
//! 0.3…1.0), each a compile + one 100-frame cycle + summary, streamed to a table. The
//! scaling figure is throughput(2) / (2 × throughput(1)); DESIGN target ≥ 90 %.
//!
//! `sweep_variant_compile`: one variant's compile alone (axis values → scenario → model),
//! on the real knee and on the parametric knee, over an axis that does not touch geometry —
//! the per-variant overhead a 10,000-variant sweep pays beside its runs.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kneetrack::sweep::{load_sweep, run_sweep, ProgressMode, RunOptions};

/// Writes `<dir>/<name>.toml`: a sweep of `muscles.vmo` over `base` (a shipped scenario).
fn vmo_sweep(dir: &Path, name: &str, base: &str, steps: u64) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(base);
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "[sweep]\nbase = {:?}\n[[sweep.axis]]\nkey = \"muscles.vmo\"\nfrom = 0.3\nto = 1.0\nsteps = {steps}\n",
            base.display().to_string()
        ),
    )
    .unwrap();
    file
}

fn variant_compile(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("kneetrack-bench-variant-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut g = c.benchmark_group("sweep_variant_compile");
    for (knee, base) in [
        ("real_knee", "runner_baseline.toml"),
        ("parametric", "runner_parametric.toml"),
    ] {
        let sweep = load_sweep(&vmo_sweep(&dir, knee, base, 64)).unwrap();
        let mut i = 0;
        g.bench_function(knee, |b| {
            b.iter(|| {
                i = (i + 1) % sweep.variants;
                sweep.variant(i).unwrap()
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("kneetrack-bench-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sweep = load_sweep(&vmo_sweep(&dir, "sweep", "runner_baseline.toml", 8)).unwrap();
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

criterion_group!(benches, variant_compile, bench);
criterion_main!(benches);
