//! Running a sweep so that nothing is lost, and merging shards.
//!
//! * Every finished variant is appended to `sweep.csv.partial` as one complete line (one
//!   `write` per row, synced to disk every [`SYNC_EVERY`]); memory holds no rows.
//! * `--resume` reads the journal, drops a torn last line, and runs only the variants that
//!   are not in it, so a sweep killed at any moment finishes with every variant exactly once.
//! * When the slice is complete the journal is rewritten in variant order to `sweep.csv`
//!   (temporary file + rename: a crash never leaves a half-written table), then `sweep.svg`
//!   and the manifest `sweep.json`; the journal is removed last.
//! * `--shard i/n` runs the contiguous slice `[i·N/n, (i+1)·N/n)` into `DIR/shard-i-of-n`;
//!   [`merge`] joins the shards' tables in variant order and refuses gaps and doubles. The
//!   merged folder is byte-identical to an unsharded run.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::compile::Sweep;
use super::spec::Method;
use super::table::{self, Row};
use super::{plot, SweepError, MAX_VARIANTS};
use crate::experiment::{self, summarize};
use crate::output::write_atomic;

/// How often the journal is synced to disk while a sweep runs.
pub const SYNC_EVERY: Duration = Duration::from_secs(2);
/// Interval of the plain progress lines (not a terminal).
pub const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

const JOURNAL: &str = "sweep.csv.partial";
const TABLE: &str = "sweep.csv";
const MANIFEST: &str = "sweep.json";
const PLOT: &str = "sweep.svg";

/// A deterministic slice of a sweep: shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
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

/// Progress reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar on a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Plain periodic lines.
    Plain,
    /// Nothing.
    Off,
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
    /// Output folder (default: the sweep's).
    pub out_dir: Option<PathBuf>,
    pub progress: ProgressMode,
}

/// `sweep.json`: what a folder holds, so resume and merge can check they join like with like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// kneetrack version.
    pub kneetrack: String,
    /// Sweep name.
    pub sweep: String,
    /// Hash of the sweep and base scenario texts (hex).
    pub hash: String,
    pub method: Method,
    pub seed: u64,
    /// Variants in the whole sweep.
    pub variants: u64,
    /// Axis keys and their grid lengths.
    pub axes: Vec<AxisInfo>,
    /// Metric of sweep.svg.
    pub plot: String,
    /// Table columns.
    pub columns: Vec<String>,
    /// `i/n` for a shard, null for the whole sweep.
    pub shard: Option<String>,
    /// The slice held: variants `first..end`.
    pub first: u64,
    pub end: u64,
    /// Whether sweep.csv holds the whole slice.
    pub complete: bool,
    /// Failed variants in the slice (when complete).
    pub failed: Option<u64>,
}

/// An axis in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisInfo {
    pub key: String,
    /// Grid points (grid sweeps).
    pub len: Option<u64>,
}

impl Manifest {
    fn new(sweep: &Sweep, shard: Option<Shard>, range: &std::ops::Range<u64>) -> Self {
        Self {
            kneetrack: env!("CARGO_PKG_VERSION").into(),
            sweep: sweep.name.clone(),
            hash: format!("{:016x}", sweep.hash),
            method: sweep.method,
            seed: sweep.seed,
            variants: sweep.variants,
            axes: sweep
                .axes
                .iter()
                .map(|a| AxisInfo {
                    key: a.key.clone(),
                    len: (sweep.method == Method::Grid).then(|| a.len()),
                })
                .collect(),
            plot: sweep.plot_metric.clone(),
            columns: table::split(table::header(sweep).trim_end()),
            shard: shard.map(|s| format!("{}/{}", s.index, s.count)),
            first: range.start,
            end: range.end,
            complete: false,
            failed: None,
        }
    }

    fn write(&self, dir: &Path) -> Result<(), SweepError> {
        let mut text = serde_json::to_string_pretty(self).expect("manifest serialises");
        text.push('\n');
        write_atomic(&dir.join(MANIFEST), text.as_bytes()).map_err(|e| SweepError::Io {
            path: e.path,
            source: e.source,
        })
    }

    fn read(dir: &Path) -> Result<Option<Self>, SweepError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SweepError::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SweepError::Folder {
                dir: dir.into(),
                message: format!("{MANIFEST} is not a kneetrack sweep manifest: {e}"),
            })
    }

    fn header(&self) -> String {
        self.columns.join(",") + "\n"
    }
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
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SweepError + '_ {
    move |source| SweepError::Io {
        path: path.into(),
        source,
    }
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

fn human_bytes(b: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut x = b as f64;
    let mut u = 0;
    while x >= 1000.0 && u + 1 < units.len() {
        x /= 1000.0;
        u += 1;
    }
    format!("{x:.1} {}", units[u])
}

/// Refuses absurd sweeps unless allowed.
fn check_size(sweep: &Sweep, slice: u64, dir: &Path, allow: bool) -> Result<(), SweepError> {
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

/// A compact bit set over the slice.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: u64) -> Self {
        Bits(vec![0; n.div_ceil(64) as usize])
    }
    fn get(&self, i: u64) -> bool {
        self.0[(i / 64) as usize] >> (i % 64) & 1 == 1
    }
    fn set(&mut self, i: u64) {
        self.0[(i / 64) as usize] |= 1 << (i % 64);
    }
}

/// Reads a journal: marks finished variants, returns how many, and the byte length of its
/// valid prefix (everything after it is a torn line from a kill).
fn read_journal(
    path: &Path,
    header: &str,
    columns: usize,
    range: &std::ops::Range<u64>,
    done: &mut Bits,
) -> Result<(u64, u64), SweepError> {
    let f = File::open(path).map_err(io(path))?;
    let mut r = BufReader::new(f);
    let mut line = String::new();
    r.read_line(&mut line).map_err(io(path))?;
    if line != header {
        return Err(SweepError::Folder {
            dir: path.parent().unwrap_or(Path::new(".")).into(),
            message: format!("{JOURNAL} has other columns than this sweep: it belongs to another sweep; remove the folder or choose another --out"),
        });
    }
    let mut valid = line.len() as u64;
    let mut count = 0;
    loop {
        line.clear();
        let n = r.read_line(&mut line).map_err(io(path))?;
        if n == 0 {
            break;
        }
        match table::variant_of(&line, columns) {
            Some(v) if range.contains(&v) => {
                if !done.get(v - range.start) {
                    done.set(v - range.start);
                    count += 1;
                }
                valid += n as u64;
            }
            _ => break,
        }
    }
    Ok((count, valid))
}

/// Prints progress: a bar with rate and ETA on a terminal, plain lines otherwise.
struct Progress {
    mode: ProgressMode,
    tty: bool,
    total: u64,
    done: u64,
    failed: u64,
    start: Instant,
    last: Instant,
    label: String,
}

impl Progress {
    fn new(mode: ProgressMode, total: u64, label: String) -> Self {
        let now = Instant::now();
        Self {
            tty: mode == ProgressMode::Auto && std::io::stderr().is_terminal(),
            mode,
            total,
            done: 0,
            failed: 0,
            start: now,
            last: now,
            label,
        }
    }

    fn tick(&mut self, failed: bool) {
        self.done += 1;
        self.failed += failed as u64;
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            PLAIN_PROGRESS_EVERY
        };
        if self.last.elapsed() >= every || self.done == self.total {
            self.last = Instant::now();
            self.print();
        }
    }

    fn print(&self) {
        if self.mode == ProgressMode::Off {
            return;
        }
        let secs = self.start.elapsed().as_secs_f64();
        let rate = self.done as f64 / secs.max(1e-9);
        let left = (self.total - self.done) as f64 / rate.max(1e-12);
        let eta = if self.done == 0 {
            "--:--".to_string()
        } else {
            let s = left.round() as u64;
            format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        };
        let pct = 100.0 * self.done as f64 / self.total.max(1) as f64;
        let failed = if self.failed > 0 {
            format!(", {} failed", self.failed)
        } else {
            String::new()
        };
        if self.tty {
            let width = 30;
            let filled = ((pct / 100.0) * width as f64) as usize;
            eprint!(
                "\r{} [{}{}] {}/{} {pct:5.1}% {rate:.1} variants/s ETA {eta}{failed}   ",
                self.label,
                "#".repeat(filled),
                "-".repeat(width - filled),
                self.done,
                self.total
            );
            if self.done == self.total {
                eprintln!();
            }
        } else {
            eprintln!(
                "{}: {}/{} variants ({pct:.1}%), {rate:.2} variants/s, ETA {eta}{failed}",
                self.label, self.done, self.total
            );
        }
    }
}

/// Runs `f` on every index in `todo` with `threads` workers, sending results to `sink` on
/// the calling thread as they finish.
fn for_each_parallel(
    pool: &Pool,
    todo: &[std::ops::Range<u64>],
    skip: &Bits,
    first: u64,
    f: impl Fn(u64) -> Row + Sync,
    mut sink: impl FnMut(Row) -> Result<(), SweepError>,
) -> Result<(), SweepError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Row>(1024);
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
type Pool = rayon::ThreadPool;
#[cfg(not(feature = "parallel"))]
type Pool = ();

/// Starts the worker pool of `threads` workers (default: one per core). Done before the
/// sweep folder is touched, so a pool the machine cannot start is a clear error that leaves
/// nothing behind (no journal to block the next run).
fn start_pool(threads: Option<usize>) -> Result<Pool, SweepError> {
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

/// Runs a sweep (or one shard of it) into its folder. See the module doc.
pub fn run_sweep(sweep: &Sweep, opts: &RunOptions) -> Result<SweepReport, SweepError> {
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
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let manifest = Manifest::new(sweep, opts.shard, &range);
    let header = table::header(sweep);
    let columns = table::columns(sweep);
    let journal = dir.join(JOURNAL);
    let folder_err = |message: String| SweepError::Folder {
        dir: dir.clone(),
        message,
    };

    let mut done = Bits::new(slice);
    let mut resumed = 0;
    let existing = Manifest::read(&dir)?;
    if opts.resume {
        if let Some(m) = &existing {
            let mut expect = manifest.clone();
            expect.complete = m.complete;
            expect.failed = m.failed;
            if *m != expect {
                return Err(folder_err(format!(
                    "holds another sweep or slice ({} {}, variants {}..{}, hash {}); --resume needs the same sweep file, base scenario and --shard",
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
                });
            }
        }
    } else if journal.exists() {
        return Err(folder_err(format!(
            "holds an unfinished sweep ({JOURNAL}); add --resume to finish it, or remove the folder to start again"
        )));
    }

    let mut file = if opts.resume && journal.exists() {
        let (count, valid) = read_journal(&journal, &header, columns, &range, &mut done)?;
        resumed = count;
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .map_err(io(&journal))?;
        // Drop a torn last line before appending.
        f.set_len(valid).map_err(io(&journal))?;
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
        |i| run_variant(sweep, i),
        |row| {
            file.write_all(row.to_csv().as_bytes())
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

    let (files, failed) = finalize(&dir, &manifest, &journal)?;
    Ok(SweepReport {
        dir,
        slice,
        ran,
        resumed,
        failed,
        elapsed,
        files,
    })
}

/// Rewrites a complete journal in variant order into the table, writes the plot and the
/// manifest, then removes the journal.
fn finalize(
    dir: &Path,
    manifest: &Manifest,
    journal: &Path,
) -> Result<(Vec<PathBuf>, u64), SweepError> {
    let header = manifest.header();
    let columns = manifest.columns.len();
    let n = manifest.end - manifest.first;
    // Byte offset of each variant's row in the journal: 8 bytes per variant, no rows held.
    let mut offsets = vec![u64::MAX; n as usize];
    {
        let mut r = BufReader::new(File::open(journal).map_err(io(journal))?);
        let mut line = String::new();
        let mut at = r.read_line(&mut line).map_err(io(journal))? as u64;
        loop {
            line.clear();
            let k = r.read_line(&mut line).map_err(io(journal))?;
            if k == 0 {
                break;
            }
            if let Some(v) = table::variant_of(&line, columns) {
                let slot = &mut offsets[(v - manifest.first) as usize];
                if *slot == u64::MAX {
                    *slot = at;
                }
            }
            at += k as u64;
        }
    }
    if let Some(missing) = offsets.iter().position(|&o| o == u64::MAX) {
        return Err(SweepError::Folder {
            dir: dir.into(),
            message: format!(
                "variant {} is missing from the journal after the run; rerun with --resume",
                manifest.first + missing as u64
            ),
        });
    }
    let table_path = dir.join(TABLE);
    let mut failed = 0;
    let mut rows = Vec::new();
    let tmp = dir.join(format!(".{TABLE}.tmp"));
    {
        let mut src = BufReader::new(File::open(journal).map_err(io(journal))?);
        let mut out = BufWriter::new(File::create(&tmp).map_err(io(&tmp))?);
        out.write_all(header.as_bytes()).map_err(io(&tmp))?;
        let mut line = String::new();
        let mut pos = u64::MAX;
        for &o in &offsets {
            if o != pos {
                src.seek(SeekFrom::Start(o)).map_err(io(journal))?;
            }
            line.clear();
            let k = src.read_line(&mut line).map_err(io(journal))?;
            pos = o + k as u64;
            out.write_all(line.as_bytes()).map_err(io(&tmp))?;
            let cells = table::split(line.trim_end_matches('\n'));
            failed += (cells[columns - table::METRICS.len() - 2] == "failed") as u64;
            plot::collect(manifest, &cells, &mut rows);
        }
        let f = out.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, &table_path).map_err(io(&table_path))?;
    let svg_path = dir.join(PLOT);
    write_atomic(&svg_path, plot::render(manifest, &rows).as_bytes()).map_err(|e| {
        SweepError::Io {
            path: e.path,
            source: e.source,
        }
    })?;
    let mut m = manifest.clone();
    m.complete = true;
    m.failed = Some(failed);
    m.write(dir)?;
    std::fs::remove_file(journal).map_err(io(journal))?;
    Ok((vec![table_path, svg_path, dir.join(MANIFEST)], failed))
}

/// What a merge did.
#[derive(Debug, Clone)]
pub struct MergeReport {
    pub shards: usize,
    pub variants: u64,
    pub failed: u64,
    pub files: Vec<PathBuf>,
}

/// Joins shard folders into `out` (see the module doc). With no `shards` given, every
/// `out/shard-*-of-*` folder is used.
pub fn merge(out: &Path, shards: &[PathBuf]) -> Result<MergeReport, SweepError> {
    let mut dirs: Vec<PathBuf> = shards.to_vec();
    if dirs.is_empty() {
        let rd = std::fs::read_dir(out).map_err(io(out))?;
        for e in rd {
            let e = e.map_err(io(out))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("shard-") && e.path().is_dir() {
                dirs.push(e.path());
            }
        }
        dirs.sort();
    }
    if dirs.is_empty() {
        return Err(SweepError::Merge(format!(
            "no shard folders given and none named shard-*-of-* in {}",
            out.display()
        )));
    }
    let mut parts = Vec::new();
    for d in &dirs {
        let m = Manifest::read(d)?.ok_or_else(|| {
            SweepError::Merge(format!(
                "{} has no {MANIFEST}: not a sweep output",
                d.display()
            ))
        })?;
        if !m.complete || d.join(JOURNAL).exists() {
            return Err(SweepError::Merge(format!(
                "{} (shard {}) is unfinished: rerun it with --resume",
                d.display(),
                m.shard.as_deref().unwrap_or("whole")
            )));
        }
        parts.push((d.clone(), m));
    }
    let first = &parts[0].1;
    for (d, m) in &parts[1..] {
        if m.hash != first.hash || m.columns != first.columns || m.variants != first.variants {
            return Err(SweepError::Merge(format!(
                "{} comes from another sweep than {} (hash {} vs {})",
                d.display(),
                parts[0].0.display(),
                m.hash,
                first.hash
            )));
        }
    }
    let header = first.header();
    let columns = first.columns.len();
    // k-way merge of the sorted shard tables by variant: O(shards) memory.
    struct Reader {
        dir: PathBuf,
        r: BufReader<File>,
        line: String,
        variant: Option<u64>,
    }
    let mut readers = Vec::new();
    for (d, _) in &parts {
        let p = d.join(TABLE);
        let mut r = BufReader::new(File::open(&p).map_err(io(&p))?);
        let mut line = String::new();
        r.read_line(&mut line).map_err(io(&p))?;
        if line != header {
            return Err(SweepError::Merge(format!(
                "{}: unexpected header",
                p.display()
            )));
        }
        let mut rd = Reader {
            dir: d.clone(),
            r,
            line: String::new(),
            variant: None,
        };
        advance(&mut rd.r, &mut rd.line, &mut rd.variant, columns, &p)?;
        readers.push(rd);
    }
    fn advance(
        r: &mut BufReader<File>,
        line: &mut String,
        variant: &mut Option<u64>,
        columns: usize,
        p: &Path,
    ) -> Result<(), SweepError> {
        line.clear();
        let k = r.read_line(line).map_err(io(p))?;
        *variant = if k == 0 {
            None
        } else {
            Some(table::variant_of(line, columns).ok_or_else(|| {
                SweepError::Merge(format!(
                    "{}: a malformed row: {}",
                    p.display(),
                    line.trim_end()
                ))
            })?)
        };
        Ok(())
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut manifest = first.clone();
    manifest.shard = None;
    manifest.first = 0;
    manifest.end = first.variants;
    manifest.complete = false;
    manifest.failed = None;
    let tmp = out.join(format!(".{JOURNAL}.merge"));
    let mut expected = 0u64;
    {
        let mut w = BufWriter::new(File::create(&tmp).map_err(io(&tmp))?);
        w.write_all(header.as_bytes()).map_err(io(&tmp))?;
        while let Some((k, v)) = readers
            .iter()
            .enumerate()
            .filter_map(|(k, r)| r.variant.map(|v| (k, v)))
            .min_by_key(|&(k, v)| (v, k))
        {
            if v < expected {
                let holders: Vec<String> = readers
                    .iter()
                    .filter(|r| r.variant == Some(v))
                    .map(|r| r.dir.display().to_string())
                    .collect();
                let _ = std::fs::remove_file(&tmp);
                return Err(SweepError::Merge(format!(
                    "variant {v} appears twice (in {} and an earlier shard); merge each shard once",
                    holders.join(", ")
                )));
            }
            if v > expected {
                let _ = std::fs::remove_file(&tmp);
                return Err(SweepError::Merge(format!(
                    "variants {expected}..{v} are missing: no shard holds them (run the missing shards, then merge again)"
                )));
            }
            let rd = &mut readers[k];
            w.write_all(rd.line.as_bytes()).map_err(io(&tmp))?;
            let p = rd.dir.join(TABLE);
            advance(&mut rd.r, &mut rd.line, &mut rd.variant, columns, &p)?;
            expected += 1;
        }
        if expected < first.variants {
            drop(w);
            let _ = std::fs::remove_file(&tmp);
            return Err(SweepError::Merge(format!(
                "variants {expected}..{} are missing: no shard holds them (run the missing shards, then merge again)",
                first.variants
            )));
        }
        let f = w.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    // The merged journal is complete and sorted: finalize writes the table, plot, manifest.
    let journal = out.join(JOURNAL);
    std::fs::rename(&tmp, &journal).map_err(io(&journal))?;
    manifest.write(out)?;
    let (files, failed) = finalize(out, &manifest, &journal)?;
    Ok(MergeReport {
        shards: parts.len(),
        variants: first.variants,
        failed,
        files,
    })
}
