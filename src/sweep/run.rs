//! Running a sweep so that nothing is lost.
//!
//! * The folder is locked for the run ([`super::lock`]): a second sweep or `--resume` on
//!   it is refused.
//! * Every finished variant is appended to the journal `sweep.csv.partial` as one complete,
//!   checksummed line (one `write` per row, synced to disk every [`SYNC_EVERY`]); memory
//!   holds no rows ([`super::journal`]).
//! * `--resume` reads the journal, cuts a torn last line, reports (and runs again) the
//!   variants of corrupt or edited lines, and runs only the variants not in it, so a sweep
//!   killed at any moment finishes with every variant exactly once.
//! * When the slice is complete the journal is rewritten in variant order to `sweep.csv`
//!   (temporary file + rename: a crash never leaves a half-written table), then `sweep.svg`
//!   and the manifest `sweep.json`; the journal is removed last.
//! * `--shard i/n` runs the contiguous slice `[i·N/n, (i+1)·N/n)` into `DIR/shard-i-of-n`;
//!   [`super::merge()`] joins the shards.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::compile::Sweep;
use super::journal::{self, io, Bits, JOURNAL};
use super::lock::FolderLock;
use super::manifest::Manifest;
use super::pool::{for_each_parallel, start_pool};
use super::progress::{Progress, ProgressMode};
use super::table::{self, Row};
use super::{SweepError, MAX_VARIANTS};
use crate::experiment::{self, summarize};

/// How often the journal is synced to disk while a sweep runs.
pub const SYNC_EVERY: Duration = Duration::from_secs(2);

/// A deterministic slice of a sweep: shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0-based.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Shard {
    /// Parses `i/n` (0 ≤ i < n).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard {s}: expected i/n, e.g. 0/8"))?;
        let (index, count) = (
            i.trim()
                .parse::<u64>()
                .map_err(|_| format!("--shard {s}: `{i}` is not a number"))?,
            n.trim()
                .parse::<u64>()
                .map_err(|_| format!("--shard {s}: `{n}` is not a number"))?,
        );
        if count == 0 || index >= count {
            return Err(format!(
                "--shard {s}: the index must be 0 to {} (shards are numbered from 0)",
                count.saturating_sub(1)
            ));
        }
        Ok(Self { index, count })
    }

    /// The variants of this shard of a sweep of `n`.
    pub fn range(&self, n: u64) -> std::ops::Range<u64> {
        let at = |k: u64| (n as u128 * k as u128 / self.count as u128) as u64;
        at(self.index)..at(self.index + 1)
    }

    /// Folder name inside the sweep's output folder.
    pub fn dir_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

/// How to run a sweep.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
    /// Continue an interrupted run in the same folder.
    pub resume: bool,
    /// Run one shard only.
    pub shard: Option<Shard>,
    /// Allow more than [`MAX_VARIANTS`] variants or more output than the disk has room for.
    pub allow_huge: bool,
    /// Allow the sweep file's `output.dir` to be absolute or to leave the file's folder.
    pub allow_outside: bool,
    /// Output folder (default: the sweep's).
    pub out_dir: Option<PathBuf>,
    /// Progress reporting.
    pub progress: ProgressMode,
}

/// What a sweep run did.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// Output folder.
    pub dir: PathBuf,
    /// Variants in this run's slice.
    pub slice: u64,
    /// Variants run now.
    pub ran: u64,
    /// Variants found finished in the journal (resume).
    pub resumed: u64,
    /// Failed variants in the slice.
    pub failed: u64,
    /// Wall time of the variants run now.
    pub elapsed: Duration,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Journal lines that were not used (corrupt, edited, foreign), one message each;
    /// their variants were run again.
    pub bad_lines: Vec<String>,
}

/// Runs one variant: compile, run, summarise. A variant that cannot be compiled, or that
/// panics, becomes a failed row; the sweep goes on.
pub fn run_variant(sweep: &Sweep, i: u64) -> Row {
    let values = sweep.values(i);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let compiled = sweep.variant(i)?;
        let result = experiment::run(&compiled);
        Ok::<_, String>(summarize(&compiled.model, &result))
    }));
    match outcome {
        Ok(Ok(m)) => Row::ok(i, values, &m),
        Ok(Err(e)) => Row {
            variant: i,
            values,
            outcome: Err(e),
        },
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown".into());
            Row {
                variant: i,
                values,
                outcome: Err(format!("internal error (panic): {msg}")),
            }
        }
    }
}

/// Rough size of one table row, bytes: 14 per numeric cell, 24 per axis value.
fn row_bytes_estimate(sweep: &Sweep) -> u64 {
    (table::METRICS.len() as u64) * 14 + sweep.axes.len() as u64 * 24 + 24
}

/// Free bytes on the filesystem holding `dir` (its nearest existing ancestor).
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let mut p = dir.to_path_buf();
    while !p.exists() {
        p = p.parent()?.to_path_buf();
        if p.as_os_str().is_empty() {
            p = PathBuf::from(".");
        }
    }
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// Physical memory of the machine, bytes (`None` where unknown).
#[cfg(unix)]
fn physical_memory() -> Option<u64> {
    // SAFETY: sysconf only reads system configuration.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages > 0 && size > 0).then(|| pages as u64 * size as u64)
}

#[cfg(not(unix))]
fn physical_memory() -> Option<u64> {
    None
}

/// Bytes of bookkeeping one variant of a run's slice needs: a bit in the done set and an
/// 8-byte journal offset when the table is sorted.
const BOOKKEEPING_BYTES_PER_VARIANT: f64 = 8.125;

/// `b` bytes in human units.
pub fn human_bytes(b: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut x = b as f64;
    let mut u = 0;
    while x >= 1000.0 && u + 1 < units.len() {
        x /= 1000.0;
        u += 1;
    }
    format!("{x:.1} {}", units[u])
}

/// Refuses absurd sweeps: too many variants or too much output unless allowed, and — even
/// with `--allow-huge` — a slice whose bookkeeping would not fit in half the machine's
/// memory (it would abort allocating; shards each need their share only).
fn check_size(sweep: &Sweep, slice: u64, dir: &Path, allow: bool) -> Result<(), SweepError> {
    let memory = (slice as f64 * BOOKKEEPING_BYTES_PER_VARIANT) as u64;
    if let Some(phys) = physical_memory() {
        if memory > phys / 2 {
            let shards = (memory / (phys / 8).max(1)).max(2);
            return Err(SweepError::TooLarge(format!(
                "{}: {slice} variants in one run need about {} of memory for their bookkeeping; this machine has {}. Split it: --shard I/{shards} (and merge)",
                sweep.path.display(),
                human_bytes(memory),
                human_bytes(phys)
            )));
        }
    }
    if allow {
        return Ok(());
    }
    if sweep.variants > MAX_VARIANTS {
        return Err(SweepError::TooLarge(format!(
            "{}: {} variants is more than {MAX_VARIANTS}; at the sweep's own pace that is a very long run and about {} of tables. Pass --allow-huge if you mean it, or shrink the axes (or use latin_hypercube with fewer samples).",
            sweep.path.display(),
            if sweep.variants == u64::MAX { "over 18 quintillion".to_string() } else { sweep.variants.to_string() },
            human_bytes(sweep.variants.saturating_mul(row_bytes_estimate(sweep)))
        )));
    }
    // The journal and the sorted table both exist for a moment.
    let need = slice
        .saturating_mul(row_bytes_estimate(sweep))
        .saturating_mul(2);
    if let Some(free) = free_bytes(dir) {
        if need > free {
            return Err(SweepError::TooLarge(format!(
                "{}: the outputs would take about {} but {} has {} free. Pass --allow-huge to run anyway, or free space / choose another --out.",
                sweep.path.display(),
                human_bytes(need),
                dir.display(),
                human_bytes(free)
            )));
        }
    }
    Ok(())
}

/// Runs a sweep (or one shard of it) into its folder. See the module doc.
pub fn run_sweep(sweep: &Sweep, opts: &RunOptions) -> Result<SweepReport, SweepError> {
    if opts.out_dir.is_none() && !opts.allow_outside {
        if let Some(o) = &sweep.out_dir_outside {
            return Err(SweepError::Base(o.error()));
        }
    }
    let pool = start_pool(opts.threads)?;
    let range = opts
        .shard
        .map(|s| s.range(sweep.variants))
        .unwrap_or(0..sweep.variants);
    let mut dir = opts
        .out_dir
        .clone()
        .unwrap_or_else(|| sweep.out_dir.clone());
    if let Some(s) = opts.shard {
        dir = dir.join(s.dir_name());
    }
    let slice = range.end - range.start;
    check_size(sweep, slice, &dir, opts.allow_huge)?;
    let mut done = Bits::new(slice)?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let _lock = FolderLock::take(
        &dir,
        if opts.resume {
            "--resume"
        } else {
            "a new sweep"
        },
    )?;
    let manifest = Manifest::new(sweep, opts.shard, &range);
    let header = journal::header(&manifest.header());
    let journal = dir.join(JOURNAL);
    let folder_err = |message: String| SweepError::Folder {
        dir: dir.clone(),
        message,
    };

    let mut resumed = 0;
    let mut bad_lines = Vec::new();
    let existing = Manifest::read(&dir)?;
    if opts.resume {
        if let Some(m) = &existing {
            let mut expect = manifest.clone();
            expect.complete = m.complete;
            expect.failed = m.failed;
            if *m != expect {
                return Err(folder_err(format!(
                    "holds another sweep or slice ({} {}, variants {}..{}, hash {}); --resume needs the same sweep file, base scenario, data files and --shard",
                    m.sweep, m.shard.as_deref().unwrap_or("whole"), m.first, m.end, m.hash
                )));
            }
            if m.complete && !journal.exists() {
                return Ok(SweepReport {
                    dir,
                    slice,
                    ran: 0,
                    resumed: slice,
                    failed: m.failed.unwrap_or(0),
                    elapsed: Duration::ZERO,
                    files: Vec::new(),
                    bad_lines,
                });
            }
        }
    } else if journal.exists() {
        return Err(folder_err(format!(
            "holds an unfinished sweep ({JOURNAL}); add --resume to finish it, or remove the folder to start again"
        )));
    }

    let mut file = if opts.resume && journal.exists() {
        let found = journal::read_journal(&journal, sweep, &header, &range, &mut done)?;
        resumed = found.count;
        for b in &found.bad {
            eprintln!("warning: {b}");
        }
        bad_lines = found.bad;
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .map_err(io(&journal))?;
        // Drop a torn last line before appending.
        f.set_len(found.valid_len).map_err(io(&journal))?;
        f
    } else {
        manifest.write(&dir)?;
        let mut f = File::create(&journal).map_err(io(&journal))?;
        f.write_all(header.as_bytes()).map_err(io(&journal))?;
        f.sync_all().map_err(io(&journal))?;
        f
    };
    if existing.is_none() && opts.resume {
        manifest.write(&dir)?;
    }

    let label = match opts.shard {
        Some(s) => format!("{} shard {}/{}", sweep.name, s.index, s.count),
        None => sweep.name.clone(),
    };
    let mut progress = Progress::new(opts.progress, slice - resumed, label);
    let started = Instant::now();
    let mut last_sync = Instant::now();
    let mut ran = 0;
    for_each_parallel(
        &pool,
        std::slice::from_ref(&range),
        &done,
        range.start,
        |i| (run_variant(sweep, i), journal::inputs_hash(sweep, i)),
        |(row, inputs)| {
            file.write_all(journal::line(&row, inputs).as_bytes())
                .map_err(io(&journal))?;
            if last_sync.elapsed() >= SYNC_EVERY {
                file.sync_data().map_err(io(&journal))?;
                last_sync = Instant::now();
            }
            ran += 1;
            progress.tick(row.outcome.is_err());
            Ok(())
        },
    )?;
    file.sync_all().map_err(io(&journal))?;
    drop(file);
    let elapsed = started.elapsed();

    let (files, failed) = journal::sort_into_table(&dir, sweep, &manifest, &journal)?;
    Ok(SweepReport {
        dir,
        slice,
        ran,
        resumed,
        failed,
        elapsed,
        files,
        bad_lines,
    })
}
