//! Scenario files: read (serde spec) → compile (validated model and run plan), with errors
//! that name the file, line, key, value and allowed range.

pub mod compile;
pub mod keys;
pub mod spec;

use std::path::{Path, PathBuf};

pub use compile::{
    compile, compile_shared, Compiled, DataFile, FlexionPlan, GaitPlan, OutputFolder, OutsideDir,
    RunPlan, Shared, StabilityPlan,
};
pub use spec::{Direction, Format, Kind, ScenarioSpec};

/// A scenario that cannot be used. Every variant names the file; the CLI exits with code 2.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read the scenario file: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        #[source]
        /// What the OS or the reader said.
        source: std::io::Error,
    },
    /// The file has no content.
    #[error(
        "{path}: the scenario file is empty (it needs at least a [scenario] section with a kind)"
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// TOML syntax, unknown key or wrong type.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, and what to do.
        message: String,
    },
    /// A number outside its allowed range (or not a finite number).
    #[error("{path}:{line}: {key} = {} is out of range: allowed {min} to {max}{unit}", show_number(*.value))]
    Range {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: usize,
        /// The dotted key.
        key: String,
        /// The value given.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
        /// Unit of the range, with a leading space (empty for none).
        unit: String,
    },
    /// An OpenSim file named by the scenario cannot be used (the message names that file
    /// and the column).
    #[error("{path}:{line}: {key}: {source}")]
    OpenSim {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: usize,
        /// The dotted key.
        key: String,
        #[source]
        /// What the OS or the reader said.
        source: Box<crate::gait::opensim::OpenSimError>,
    },
    /// Values that are each fine but do not fit together.
    #[error("{path}:{line}: {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: usize,
        /// The dotted key.
        key: String,
        /// What is wrong, and what to do.
        message: String,
    },
}

/// A number as a message shows it: plain, or in exponent form when it is very large or very
/// small (`1e308`, not 309 digits).
pub fn show_number(x: f64) -> String {
    if x.is_finite() && x != 0.0 && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Reads and parses a scenario file. Does not validate values (see [`compile()`]).
pub fn load(path: &Path) -> Result<(ScenarioSpec, String), ScenarioError> {
    let text = crate::input::read_text(path, crate::input::MAX_SCENARIO_BYTES, "scenario file")
        .map_err(|source| ScenarioError::Read {
            path: path.into(),
            source,
        })?;
    let spec = parse(path, &text)?;
    Ok((spec, text))
}

/// Parses scenario text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<ScenarioSpec, ScenarioError> {
    let meaningful = text.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#')
    });
    if !meaningful {
        return Err(ScenarioError::Empty { path: path.into() });
    }
    toml::from_str::<ScenarioSpec>(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        let message = e.message().trim().replace('\n', " ");
        let key = e.span().and_then(|s| key_at(text, s.start));
        let allowed = key
            .as_deref()
            .and_then(keys::bounds)
            .map(|(min, max, unit)| {
                let unit = if unit.is_empty() {
                    String::new()
                } else {
                    format!(" {unit}")
                };
                format!(" (allowed {min} to {max}{unit})")
            });
        let message = match key {
            Some(k) if !message.contains(&k) => format!("{k}: {message}"),
            _ => message,
        } + allowed.as_deref().unwrap_or("");
        ScenarioError::Parse {
            path: path.into(),
            line,
            column,
            message,
        }
    })
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map(|i| before.len() - i)
        .unwrap_or(before.len() + 1);
    (line, column)
}

/// The dotted key (`section.key`) written on the line containing `offset`, if any.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let (line, _) = line_col(text, offset);
    let mut section = String::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            section = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        }
        if i + 1 == line {
            let key = t.split('=').next()?.trim();
            if key.is_empty() || t.starts_with('[') || !t.contains('=') {
                return None;
            }
            return Some(if section.is_empty() {
                key.to_string()
            } else {
                format!("{section}.{key}")
            });
        }
    }
    None
}

/// 1-based line where `section.key` is written, or where `[section]` starts, or 1.
pub fn locate(text: &str, dotted: &str) -> usize {
    let (section, key) = dotted.split_once('.').unwrap_or(("", dotted));
    let mut current = String::new();
    let mut section_line = None;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            if current == section {
                section_line = Some(i + 1);
            }
            continue;
        }
        if current == section {
            if let Some(k) = t.split('=').next() {
                if t.contains('=') && k.trim() == key {
                    return i + 1;
                }
            }
        }
    }
    section_line.unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_keys_in_their_section() {
        let t =
            "[scenario]\nkind = \"flexion\"\n\n[subject]\nq_angle_deg = 20\n[muscles]\nvmo = 0.5\n";
        assert_eq!(locate(t, "subject.q_angle_deg"), 5);
        assert_eq!(locate(t, "muscles.vmo"), 7);
        assert_eq!(locate(t, "muscles.vl"), 6);
        assert_eq!(locate(t, "cartilage.poisson"), 1);
    }
}
