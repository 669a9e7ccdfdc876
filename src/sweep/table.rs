//! The sweep table: one CSV row per variant — `variant`, the axis values, `status`, the
//! summary metrics, `error` — that pandas (`read_csv`), polars and R (`read.csv`) read as is:
//! a plain header, `.` decimals, empty cells for metrics a run kind does not have, and the
//! error text quoted.

use crate::experiment::Metrics;

/// Formats an axis value for messages and CSV cells.
pub fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(x) => format!("{x}"),
        toml::Value::Integer(x) => format!("{x}"),
        toml::Value::Boolean(b) => format!("{b}"),
        other => other.to_string(),
    }
}

/// A metric column and how to read it from a run's summary.
pub type MetricColumn = (&'static str, fn(&Metrics) -> Option<f64>);

/// Summary metrics in the sweep table (names as in summary.json).
pub const METRICS: &[MetricColumn] = &[
    ("peak_pf_force_n", |m| Some(m.peak_pf_force_n)),
    ("peak_pf_force_bw", |m| Some(m.peak_pf_force_bw)),
    ("peak_lateral_force_n", |m| Some(m.peak_lateral_force_n)),
    ("lateral_share_at_peak", |m| Some(m.lateral_share_at_peak)),
    ("peak_pressure_mpa", |m| Some(m.peak_pressure_mpa)),
    ("mean_pressure_at_peak_mpa", |m| {
        Some(m.mean_pressure_at_peak_mpa)
    }),
    ("contact_area_at_peak_mm2", |m| {
        Some(m.contact_area_at_peak_mm2)
    }),
    ("max_lateral_shift_mm", |m| Some(m.max_lateral_shift_mm)),
    ("max_lateral_tilt_deg", |m| Some(m.max_lateral_tilt_deg)),
    ("peak_knee_flexion_stance_deg", |m| {
        m.peak_knee_flexion_stance_deg
    }),
    ("peak_extensor_moment_nm_per_kg", |m| {
        Some(m.peak_extensor_moment_nm_per_kg)
    }),
    ("peak_pt_force_bw", |m| Some(m.peak_pt_force_bw)),
    ("impulse_per_step_bw_s", |m| m.impulse_per_step_bw_s),
    ("steps_per_km", |m| m.steps_per_km),
    ("load_per_km_bw_s", |m| m.load_per_km_bw_s),
    ("frames_converged", |m| Some(m.frames_converged as f64)),
    ("frames_total", |m| Some(m.frames_total as f64)),
];

/// One finished variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Variant index, 0-based, in the whole sweep.
    pub variant: u64,
    /// Axis values, in axis order.
    pub values: Vec<toml::Value>,
    /// The metrics in [`METRICS`] order, or why the variant failed.
    pub outcome: Result<Vec<Option<f64>>, String>,
}

impl Row {
    /// The row of a run's metrics.
    pub fn ok(variant: u64, values: Vec<toml::Value>, m: &Metrics) -> Self {
        Self {
            variant,
            values,
            outcome: Ok(METRICS.iter().map(|(_, f)| f(m)).collect()),
        }
    }

    /// One CSV line, newline included.
    pub fn to_csv(&self) -> String {
        let mut cells = vec![self.variant.to_string()];
        cells.extend(self.values.iter().map(|v| one_line(&show(v))));
        match &self.outcome {
            Ok(metrics) => {
                cells.push("ok".into());
                // Numbers are formatted here, not by a serializer: `{x}` is Rust's shortest
                // round-trip form, the same on every machine and thread count, so tables
                // compare byte for byte.
                cells.extend(
                    metrics
                        .iter()
                        .map(|m| m.map(|x| format!("{x}")).unwrap_or_default()),
                );
                cells.push(String::new());
            }
            Err(e) => {
                cells.push("failed".into());
                cells.extend(METRICS.iter().map(|_| String::new()));
                cells.push(one_line(e));
            }
        }
        record(&cells)
    }
}

/// The header line of a sweep's table (axis keys in axis order), newline included.
pub fn header<'a>(axis_keys: impl IntoIterator<Item = &'a str>) -> String {
    let mut cols = vec!["variant".to_string()];
    cols.extend(axis_keys.into_iter().map(str::to_string));
    cols.push("status".into());
    cols.extend(METRICS.iter().map(|m| m.0.to_string()));
    cols.push("error".into());
    record(&cols)
}

/// Number of columns of a sweep's table with `axes` axes.
pub fn columns(axes: usize) -> usize {
    axes + METRICS.len() + 3
}

/// Newlines become spaces so a row is one line (the journal and resume work by lines).
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// One CSV record (RFC 4180 quoting where needed, by the `csv` crate), newline included.
fn record(cells: &[String]) -> String {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    w.write_record(cells).expect("writing to memory");
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("cells are UTF-8")
}

/// Splits one CSV line (without its newline) into cells, undoing the quoting.
pub fn split(line: &str) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    match r.records().next() {
        Some(Ok(rec)) => rec.iter().map(str::to_string).collect(),
        _ => vec![String::new()],
    }
}

/// The variant index of a complete table line (it ends in a newline and has `columns`
/// cells), or `None` for a torn or foreign line.
pub fn variant_of(line: &str, columns: usize) -> Option<u64> {
    let body = line.strip_suffix('\n')?;
    let cells = split(body);
    if cells.len() != columns {
        return None;
    }
    let status = &cells[columns - METRICS.len() - 2];
    if status != "ok" && status != "failed" {
        return None;
    }
    cells[0].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_split_with_quoted_errors() {
        let r = Row {
            variant: 12,
            values: vec![toml::Value::Float(0.5), toml::Value::String("a,b".into())],
            outcome: Err("bad \"value\", really\nbad".into()),
        };
        let line = r.to_csv();
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let cells = split(line.trim_end_matches('\n'));
        assert_eq!(cells.len(), 2 + METRICS.len() + 3);
        assert_eq!(cells[2], "a,b");
        assert_eq!(cells.last().unwrap(), "bad \"value\", really bad");
        assert_eq!(variant_of(&line, cells.len()), Some(12));
        // a torn line (no newline, or cut short) is not a row
        assert_eq!(variant_of(&line[..line.len() - 1], cells.len()), None);
        assert_eq!(variant_of("12,0.5,\"a\n", cells.len()), None);
    }
}
