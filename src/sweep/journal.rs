//! The journal `sweep.csv.partial`: one line per finished variant, appended as variants
//! finish, verified when read back.
//!
//! Each line is the variant's table row followed by two cells: `inputs`, a hash of the
//! sweep's hash, the variant index and its axis values (the inputs the row was computed
//! from), and `check`, an FNV-1a 64 checksum of everything before it. Reading it back
//! ([`read_journal`] on `--resume`, [`sort_into_table`] at the end), a line is used only
//! when its checksum and inputs hash are right:
//!
//! * a torn last line (a kill mid-write) is cut off before appending;
//! * a corrupt or hand-edited line anywhere else is reported and its variant run again —
//!   the rows after it are kept (nothing finished is dropped), and the bad line is never
//!   copied into `sweep.csv`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::compile::{fnv1a, Sweep};
use super::manifest::Manifest;
use super::table::{self, Row};
use super::{plot, SweepError};
use crate::output::write_atomic;

/// File name of the journal in a sweep folder.
pub const JOURNAL: &str = "sweep.csv.partial";
/// File name of the finished table.
pub const TABLE: &str = "sweep.csv";
/// File name of the plot.
pub const PLOT: &str = "sweep.svg";

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> SweepError + '_ {
    move |source| SweepError::Io {
        path: path.into(),
        source,
    }
}

/// The journal's header: the table's header plus `inputs,check`.
pub fn header(table_header: &str) -> String {
    format!("{},inputs,check\n", table_header.trim_end())
}

/// Hash of the inputs of variant `i`: the sweep's hash, the index and the axis values.
pub fn inputs_hash(sweep: &Sweep, i: u64) -> u64 {
    let values: Vec<String> = sweep.values(i).iter().map(table::show).collect();
    fnv1a(&[
        &sweep.hash.to_le_bytes(),
        &i.to_le_bytes(),
        values.join("\u{1f}").as_bytes(),
    ])
}

/// The journal line of a row (newline included).
pub fn line(row: &Row, inputs: u64) -> String {
    let csv = row.to_csv();
    let head = format!("{},{inputs:016x}", csv.trim_end_matches('\n'));
    let check = fnv1a(&[head.as_bytes()]);
    format!("{head},{check:016x}\n")
}

/// Why a journal line is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bad {
    /// No newline: the last line of a killed write.
    Torn,
    /// The checksum does not match the line (corrupted or edited).
    Checksum,
    /// The row does not have the table's shape.
    Malformed,
    /// A variant outside this slice.
    Foreign(u64),
    /// The row was computed from other inputs than this variant's.
    Inputs(u64),
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bad::Torn => write!(f, "torn (no end of line)"),
            Bad::Checksum => write!(f, "its checksum does not match (corrupted or edited)"),
            Bad::Malformed => write!(f, "not a row of this sweep's table"),
            Bad::Foreign(v) => write!(f, "variant {v} is not in this slice"),
            Bad::Inputs(v) => write!(
                f,
                "variant {v} was computed from other inputs than this sweep's"
            ),
        }
    }
}

/// Checks one journal line; returns the variant and the table row (newline included).
pub fn verify(
    line: &str,
    columns: usize,
    range: &std::ops::Range<u64>,
    inputs: impl Fn(u64) -> u64,
) -> Result<(u64, String), Bad> {
    let body = line.strip_suffix('\n').ok_or(Bad::Torn)?;
    let (head, check) = body.rsplit_once(',').ok_or(Bad::Malformed)?;
    if u64::from_str_radix(check, 16).ok() != Some(fnv1a(&[head.as_bytes()])) || check.len() != 16 {
        return Err(Bad::Checksum);
    }
    let (row, got) = head.rsplit_once(',').ok_or(Bad::Malformed)?;
    let row = format!("{row}\n");
    let v = table::variant_of(&row, columns).ok_or(Bad::Malformed)?;
    if !range.contains(&v) {
        return Err(Bad::Foreign(v));
    }
    if u64::from_str_radix(got, 16).ok() != Some(inputs(v)) {
        return Err(Bad::Inputs(v));
    }
    Ok((v, row))
}

/// A compact bit set over a slice; its memory is reserved fallibly, so a slice too large
/// for the machine is an error, not an abort.
pub struct Bits(Vec<u64>);

impl Bits {
    /// `n` clear bits.
    pub fn new(n: u64) -> Result<Self, SweepError> {
        let words = n.div_ceil(64);
        let mut v = Vec::new();
        usize::try_from(words)
            .ok()
            .and_then(|w| v.try_reserve_exact(w).ok())
            .ok_or_else(|| {
                SweepError::TooLarge(format!(
                    "{n} variants in one run need {} of memory for their bookkeeping, more than this machine can give; split the sweep with --shard I/N",
                    super::run::human_bytes(words.saturating_mul(8))
                ))
            })?;
        v.resize(words as usize, 0);
        Ok(Bits(v))
    }
    /// Whether bit `i` is set.
    pub fn get(&self, i: u64) -> bool {
        self.0[(i / 64) as usize] >> (i % 64) & 1 == 1
    }
    /// Sets bit `i`.
    pub fn set(&mut self, i: u64) {
        self.0[(i / 64) as usize] |= 1 << (i % 64);
    }
}

/// What [`read_journal`] found.
pub struct Found {
    /// Distinct finished variants.
    pub count: u64,
    /// Byte length of the journal up to its last complete line (a torn tail is cut here).
    pub valid_len: u64,
    /// One message per line that is not used (line number, why); their variants run again.
    pub bad: Vec<String>,
}

/// Reads a journal on `--resume`: marks the verified variants in `done` (see the module
/// doc).
pub fn read_journal(
    path: &Path,
    sweep: &Sweep,
    header: &str,
    range: &std::ops::Range<u64>,
    done: &mut Bits,
) -> Result<Found, SweepError> {
    let columns = table::columns(sweep.axes.len());
    let mut r = BufReader::new(File::open(path).map_err(io(path))?);
    let mut line = String::new();
    r.read_line(&mut line).map_err(io(path))?;
    if line != header {
        return Err(SweepError::Folder {
            dir: path.parent().unwrap_or(Path::new(".")).into(),
            message: format!("{JOURNAL} has other columns than this sweep: it belongs to another sweep (or an older kneetrack); remove the folder or choose another --out"),
        });
    }
    let mut found = Found {
        count: 0,
        valid_len: line.len() as u64,
        bad: Vec::new(),
    };
    let mut number = 1;
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        let n = r.read_until(b'\n', &mut bytes).map_err(io(path))?;
        if n == 0 {
            break;
        }
        number += 1;
        let text = String::from_utf8_lossy(&bytes);
        match verify(&text, columns, range, |v| inputs_hash(sweep, v)) {
            Ok((v, _)) => {
                if !done.get(v - range.start) {
                    done.set(v - range.start);
                    found.count += 1;
                }
            }
            Err(Bad::Torn) => break,
            Err(why) => found.bad.push(format!(
                "{}:{number}: {why}; the line is skipped and its variant run again",
                path.display()
            )),
        }
        found.valid_len += n as u64;
    }
    Ok(found)
}

/// Rewrites a complete journal in variant order into the table (verified lines only, the
/// first of each variant), writes the plot and the complete manifest, then removes the
/// journal. Returns the files written and the failed count.
pub fn sort_into_table(
    dir: &Path,
    sweep: &Sweep,
    manifest: &Manifest,
    journal: &Path,
) -> Result<(Vec<PathBuf>, u64), SweepError> {
    let columns = manifest.columns.len();
    let range = manifest.first..manifest.end;
    let n = range.end - range.start;
    // Byte offset of each variant's row in the journal: 8 bytes per variant, no rows held.
    let mut offsets = Vec::new();
    usize::try_from(n)
        .ok()
        .and_then(|n| offsets.try_reserve_exact(n).ok())
        .ok_or_else(|| {
            SweepError::TooLarge(format!(
                "{n} variants in one run need more memory than this machine can give to sort the table; split the sweep with --shard I/N"
            ))
        })?;
    offsets.resize(n as usize, u64::MAX);
    {
        let mut r = BufReader::new(File::open(journal).map_err(io(journal))?);
        let mut bytes = Vec::new();
        let mut at = r.read_until(b'\n', &mut bytes).map_err(io(journal))? as u64;
        loop {
            bytes.clear();
            let k = r.read_until(b'\n', &mut bytes).map_err(io(journal))?;
            if k == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Ok((v, _)) = verify(&text, columns, &range, |v| inputs_hash(sweep, v)) {
                let slot = &mut offsets[(v - range.start) as usize];
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
                range.start + missing as u64
            ),
        });
    }
    let mut src = BufReader::new(File::open(journal).map_err(io(journal))?);
    let mut rows = Vec::new();
    let mut failed = 0;
    let mut pos = u64::MAX;
    let mut bytes = Vec::new();
    let body = offsets.iter().map(|&o| {
        if o != pos {
            src.seek(SeekFrom::Start(o)).map_err(io(journal))?;
        }
        bytes.clear();
        let k = src.read_until(b'\n', &mut bytes).map_err(io(journal))?;
        pos = o + k as u64;
        let text = String::from_utf8_lossy(&bytes);
        let (_, row) =
            verify(&text, columns, &range, |v| inputs_hash(sweep, v)).map_err(|why| {
                SweepError::Folder {
                    dir: dir.into(),
                    message: format!("{JOURNAL} changed while the table was written ({why})"),
                }
            })?;
        Ok(row)
    });
    let files = publish(dir, manifest, body, &mut rows, &mut failed)?;
    std::fs::remove_file(journal).map_err(io(journal))?;
    Ok((files, failed))
}

/// Writes the table (header, then `rows` in order) through a uniquely named temporary file,
/// then the plot, then the complete manifest. Returns the files written.
pub fn publish(
    dir: &Path,
    manifest: &Manifest,
    rows: impl Iterator<Item = Result<String, SweepError>>,
    plot_rows: &mut Vec<plot::PlotRow>,
    failed: &mut u64,
) -> Result<Vec<PathBuf>, SweepError> {
    let columns = manifest.columns.len();
    let table_path = dir.join(TABLE);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{TABLE}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    {
        let mut out = BufWriter::new(tmp.as_file());
        out.write_all(manifest.header().as_bytes())
            .map_err(io(tmp.path()))?;
        for row in rows {
            let row = row?;
            out.write_all(row.as_bytes()).map_err(io(tmp.path()))?;
            let cells = table::split(row.trim_end_matches('\n'));
            *failed += (cells[columns - table::METRICS.len() - 2] == "failed") as u64;
            plot::collect(manifest, &cells, plot_rows);
        }
        out.flush().map_err(io(tmp.path()))?;
    }
    tmp.as_file().sync_all().map_err(io(tmp.path()))?;
    tmp.persist(&table_path)
        .map_err(|e| io(&table_path)(e.error))?;
    let svg_path = dir.join(PLOT);
    write_atomic(&svg_path, plot::render(manifest, plot_rows).as_bytes())?;
    let mut m = manifest.clone();
    m.complete = true;
    m.failed = Some(*failed);
    m.write(dir)?;
    Ok(vec![
        table_path,
        svg_path,
        dir.join(super::manifest::MANIFEST),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_verify_and_any_edit_is_caught() {
        let r = Row {
            variant: 3,
            values: vec![toml::Value::Float(0.5)],
            outcome: Err("bad, \"really\"".into()),
        };
        let l = line(&r, 42);
        let cols = 1 + table::METRICS.len() + 3;
        let (v, row) = verify(&l, cols, &(0..10), |_| 42).unwrap();
        assert_eq!((v, row), (3, r.to_csv()));
        assert_eq!(
            verify(&l[..l.len() - 1], cols, &(0..10), |_| 42),
            Err(Bad::Torn)
        );
        let edited = l.replacen("0.5", "0.6", 1);
        assert_eq!(verify(&edited, cols, &(0..10), |_| 42), Err(Bad::Checksum));
        assert_eq!(verify(&l, cols, &(0..10), |_| 7), Err(Bad::Inputs(3)));
        assert_eq!(verify(&l, cols, &(5..10), |_| 42), Err(Bad::Foreign(3)));
        assert_eq!(
            verify("garbage\n", cols, &(0..10), |_| 42),
            Err(Bad::Malformed)
        );
    }
}
