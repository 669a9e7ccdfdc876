//! Progress on stderr: a bar with rate and ETA on a terminal (`indicatif`), plain periodic
//! lines otherwise (CI, cluster logs — a bar's carriage returns would fill a log file),
//! nothing when asked.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Interval of the plain progress lines (not a terminal).
pub const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

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

/// Prints progress: a bar with rate and ETA on a terminal, plain lines otherwise.
pub struct Progress {
    mode: ProgressMode,
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    done: u64,
    failed: u64,
    start: Instant,
    last: Instant,
    label: String,
}

impl Progress {
    /// Progress over `total` variants, each line or the bar led by `label`.
    pub fn new(mode: ProgressMode, total: u64, label: String) -> Self {
        let now = Instant::now();
        let bar = (mode == ProgressMode::Auto && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {percent:>3}% {per_sec} ETA {eta} {msg}",
                )
                .expect("a valid template")
                .progress_chars("#>-"),
            );
            bar.set_prefix(label.clone());
            bar
        });
        Self {
            mode,
            bar,
            total,
            done: 0,
            failed: 0,
            start: now,
            last: now,
            label,
        }
    }

    /// One more variant finished (`failed`: as a failed row).
    pub fn tick(&mut self, failed: bool) {
        self.done += 1;
        self.failed += failed as u64;
        if let Some(bar) = &self.bar {
            if failed {
                bar.set_message(format!("{} failed", self.failed));
            }
            bar.inc(1);
            if self.done == self.total {
                bar.finish();
            }
            return;
        }
        if self.last.elapsed() >= PLAIN_PROGRESS_EVERY || self.done == self.total {
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
        eprintln!(
            "{}: {}/{} variants ({pct:.1}%), {rate:.2} variants/s, ETA {eta}{failed}",
            self.label, self.done, self.total
        );
    }
}
