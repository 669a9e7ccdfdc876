//! Merging shard folders: the shards' tables are joined in variant order (a k-way merge,
//! O(shards) memory) straight into the merged table; a gap or a double is refused, naming
//! the variants. The merged folder is byte-identical to an unsharded run.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::journal::{io, publish, JOURNAL, TABLE};
use super::lock::FolderLock;
use super::manifest::{Manifest, MANIFEST};
use super::{table, SweepError};

/// What a merge did.
#[derive(Debug, Clone)]
pub struct MergeReport {
    /// Shard folders merged.
    pub shards: usize,
    /// Variants in the merged table.
    pub variants: u64,
    /// Failed variants among them.
    pub failed: u64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Joins shard folders into `out` (see the module doc). With no `shards` given, every
/// `out/shard-*-of-*` folder is used.
pub fn merge(out: &Path, shards: &[PathBuf]) -> Result<MergeReport, SweepError> {
    // One process per folder: a sweep or merge running on `out` refuses this one.
    let mut lock = if out.is_dir() {
        Some(FolderLock::take(out, "merge")?)
    } else {
        None
    };
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
        if FolderLock::busy(d) {
            return Err(SweepError::Merge(format!(
                "{} is in use by a running sweep: merge when it has finished",
                d.display()
            )));
        }
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
    if lock.is_none() {
        std::fs::create_dir_all(out).map_err(io(out))?;
        lock = Some(FolderLock::take(out, "merge")?);
    }
    let _lock = lock;
    let mut manifest = first.clone();
    manifest.shard = None;
    manifest.first = 0;
    manifest.end = first.variants;
    manifest.complete = false;
    manifest.failed = None;
    let mut expected = 0u64;
    let total = first.variants;
    let merged = std::iter::from_fn(|| {
        let next = readers
            .iter()
            .enumerate()
            .filter_map(|(k, r)| r.variant.map(|v| (k, v)))
            .min_by_key(|&(k, v)| (v, k));
        let Some((k, v)) = next else {
            return (expected < total).then(|| {
                let e = SweepError::Merge(format!(
                    "variants {expected}..{total} are missing: no shard holds them (run the missing shards, then merge again)"
                ));
                expected = total;
                Err(e)
            });
        };
        if v < expected {
            let holders: Vec<String> = readers
                .iter()
                .filter(|r| r.variant == Some(v))
                .map(|r| r.dir.display().to_string())
                .collect();
            return Some(Err(SweepError::Merge(format!(
                "variant {v} appears twice (in {} and an earlier shard); merge each shard once",
                holders.join(", ")
            ))));
        }
        if v > expected {
            return Some(Err(SweepError::Merge(format!(
                "variants {expected}..{v} are missing: no shard holds them (run the missing shards, then merge again)"
            ))));
        }
        let rd = &mut readers[k];
        let line = std::mem::take(&mut rd.line);
        let p = rd.dir.join(TABLE);
        if let Err(e) = advance(&mut rd.r, &mut rd.line, &mut rd.variant, columns, &p) {
            return Some(Err(e));
        }
        expected += 1;
        Some(Ok(line))
    });
    let mut plot_rows = Vec::new();
    let mut failed = 0;
    // The table is written through a temporary file: a refused merge leaves nothing.
    let files = publish(out, &manifest, merged, &mut plot_rows, &mut failed)?;
    Ok(MergeReport {
        shards: parts.len(),
        variants: first.variants,
        failed,
        files,
    })
}
