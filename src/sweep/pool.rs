//! The worker pool: variants run in parallel (rayon), results come back to one writer
//! thread in the order they finish (the journal's order does not matter: the table is
//! sorted by variant at the end, so results are bit-identical for any thread count).

use super::journal::Bits;
use super::SweepError;

/// Runs `f` on every index in `todo` with `threads` workers, sending results to `sink` on
/// the calling thread as they finish.
pub fn for_each_parallel<T: Send>(
    pool: &Pool,
    todo: &[std::ops::Range<u64>],
    skip: &Bits,
    first: u64,
    f: impl Fn(u64) -> T + Sync,
    mut sink: impl FnMut(T) -> Result<(), SweepError>,
) -> Result<(), SweepError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<T>(1024);
    std::thread::scope(|s| {
        let f = &f;
        s.spawn(move || {
            let work = |i: u64| {
                if !skip.get(i - first) {
                    // A closed receiver means the writer failed; stop quietly.
                    let _ = tx.send(f(i));
                }
            };
            #[cfg(feature = "parallel")]
            {
                use rayon::prelude::*;
                pool.install(|| {
                    for r in todo {
                        r.clone().into_par_iter().for_each(work);
                    }
                });
            }
            #[cfg(not(feature = "parallel"))]
            {
                let _ = pool;
                for r in todo {
                    r.clone().for_each(|i| work(i));
                }
            }
        });
        for row in rx {
            sink(row)?;
        }
        Ok(())
    })
}

/// The sweep's worker pool (a unit without the `parallel` feature).
#[cfg(feature = "parallel")]
pub type Pool = rayon::ThreadPool;
#[cfg(not(feature = "parallel"))]
pub type Pool = ();

/// Starts the worker pool of `threads` workers (default: one per core). Done before the
/// sweep folder is touched, so a pool the machine cannot start is a clear error that leaves
/// nothing behind (no journal to block the next run).
pub fn start_pool(threads: Option<usize>) -> Result<Pool, SweepError> {
    #[cfg(feature = "parallel")]
    {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.unwrap_or(0))
            .build()
            .map_err(|e| SweepError::Threads {
                threads: threads.unwrap_or(0),
                message: e.to_string(),
            })
    }
    #[cfg(not(feature = "parallel"))]
    {
        let _ = threads;
        Ok(())
    }
}
