//! Building the real knee's geometry once (what every model, cycle and sweep variant of that
//! geometry shares): reading the Lenhart 2015 model file and its meshes, measuring both
//! cartilage layers against their bones, and baking the femoral distance field.
//! Issue target: ≤ 2 s on this machine.

use criterion::{criterion_group, criterion_main, Criterion};
use kneetrack::anatomy::mesh_knee::build_knee;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("geometry");
    g.sample_size(10);
    g.bench_function("lenhart2015_build", |b| {
        b.iter(|| build_knee(None).expect("the shipped knee builds"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
