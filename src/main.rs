//! `kneetrack` command line: run, check and validate scenarios, sweeps and merges.
//!
//! The command line is declared with clap (derive): every subcommand has its own `--help`,
//! flags come in any order, and arguments are read as the OS gives them (`OsString`), so a
//! file name in any encoding is a file name, never a panic. Every failure is mapped to its
//! exit code in one place, [`exit_code`]: 0 success, 1 a failure while running or writing,
//! 2 bad input (scenario, sweep, data file or command line) — one line on stderr.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use kneetrack::experiment::{self, summarize};
use kneetrack::scenario::{self, ScenarioError};
use kneetrack::sweep::{self, RunOptions, Shard, SweepError};
use kneetrack::{output, validation};

/// kneetrack — patellofemoral contact and patellar tracking simulator.
#[derive(Debug, Parser)]
#[command(
    name = "kneetrack",
    version,
    about = "kneetrack — patellofemoral contact and patellar tracking simulator",
    after_help = "Exit codes: 0 success, 1 failure while running or writing, 2 bad scenario or usage.\n\
                  Scenario keys: `kneetrack keys` (and README.md, section \"Scenario reference\")."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario and write frames.csv, summary.json, plots (all or nothing).
    Run {
        /// The scenario file (TOML).
        file: PathBuf,
        /// Output folder (default: the scenario's output.dir, else out/<name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Allow the scenario's output.dir to be absolute or to leave the scenario's folder.
        #[arg(long)]
        allow_outside: bool,
    },
    /// Validate a scenario file (every check `run` makes) without running or writing.
    Check {
        /// The scenario file (TOML).
        file: PathBuf,
        /// Accept an output.dir that is absolute or leaves the scenario's folder.
        #[arg(long)]
        allow_outside: bool,
    },
    /// Write a gait scenario's cycles (joint angles, moments) as OpenSim ik.mot and id.sto
    /// (gait2392 sign convention).
    Cycle {
        /// A gait scenario file.
        file: PathBuf,
        /// Output folder.
        #[arg(long, value_name = "DIR", required = true)]
        out: PathBuf,
    },
    /// Run a parameter sweep: one row per variant in DIR/sweep.csv (streamed as variants
    /// finish), plus sweep.svg and sweep.json.
    Sweep {
        /// The sweep file (TOML).
        file: PathBuf,
        /// Worker threads (default one per core; 1 to 4 per core).
        #[arg(long, value_name = "N", value_parser = parse_threads)]
        threads: Option<usize>,
        /// Finish a killed run in the same folder.
        #[arg(long)]
        resume: bool,
        /// Run slice I of N (0-based) into DIR/shard-I-of-N.
        #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
        shard: Option<Shard>,
        /// Output folder (default: the sweep's output.dir, else out/<name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Allow more than 10,000,000 variants or more output than the disk has room for.
        #[arg(long)]
        allow_huge: bool,
        /// Allow the sweep's output.dir to be absolute or to leave the sweep file's folder.
        #[arg(long)]
        allow_outside: bool,
    },
    /// Join shard folders (default DIR/shard-*) into DIR, checking that no variant is
    /// missing or doubled.
    Merge {
        /// The sweep's output folder.
        dir: PathBuf,
        /// Shard folders (default: every DIR/shard-*-of-*).
        shards: Vec<PathBuf>,
    },
    /// Interactive 3D viewer (build with --features viewer).
    View {
        /// The scenario file.
        file: PathBuf,
        /// Render one frame, write the PNG, exit.
        #[arg(long, value_name = "OUT.png")]
        screenshot: Option<PathBuf>,
        /// Where in the cycle: 0% to 100% (or 0 to 1).
        #[arg(long, value_name = "FRACTION", value_parser = parse_at)]
        at: Option<f64>,
        /// Move a factor slider, e.g. muscles.vmo=0.5 (re-solved live); repeatable.
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_set)]
        set: Vec<(String, f64)>,
    },
    /// Print every scenario key: default, range, unit and meaning (the README's scenario
    /// reference is this table's markdown).
    Keys {
        /// Only these sections (`gait`) or keys (`gait.speed_mps`); default every key.
        #[arg(value_name = "SECTION|KEY")]
        only: Vec<String>,
        /// Print the markdown table the README holds, instead of aligned text.
        #[arg(long)]
        markdown: bool,
    },
    /// Run the published validation cases on a knee and print the table.
    Validate {
        /// The knee.
        #[arg(long, value_enum, default_value_t = Anatomy::Lenhart2015)]
        anatomy: Anatomy,
        /// Exit 1 when a case fails.
        #[arg(long)]
        strict: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `validate --anatomy`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Anatomy {
    Lenhart2015,
    Parametric,
}

/// Upper bound of `sweep --threads`, per available core.
const MAX_THREADS_PER_CORE: usize = 4;

/// `--threads N`: 1 to [`MAX_THREADS_PER_CORE`] per core. More workers than a few per core
/// only cost memory and switches for this CPU-bound work; far more is a typo the pool may
/// fail to start.
fn parse_threads(v: &str) -> Result<usize, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max = MAX_THREADS_PER_CORE * cores;
    v.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            format!(
                "--threads {v}: allowed 1 to {max} ({MAX_THREADS_PER_CORE} per core on this machine's {cores})"
            )
        })
}

/// `--at 40%` or `--at 0.4`: a fraction of the cycle.
fn parse_at(s: &str) -> Result<f64, String> {
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok().map(|x| x / 100.0),
        None => s.trim().parse::<f64>().ok(),
    };
    v.filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| format!("--at {s}: give a fraction of the cycle, 0% to 100% (or 0 to 1)"))
}

/// `--set KEY=NUMBER`.
fn parse_set(v: &str) -> Result<(String, f64), String> {
    v.split_once('=')
        .and_then(|(k, x)| Some((k.trim().to_string(), x.trim().parse::<f64>().ok()?)))
        .filter(|(k, x)| !k.is_empty() && x.is_finite())
        .ok_or_else(|| format!("--set {v}: expected KEY=NUMBER, e.g. muscles.vmo=0.5"))
}

/// A command line that cannot be used beyond what clap checks (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

/// The exit code of a failure: the one place where error types meet exit codes. Bad input
/// of any kind is 2; anything else (a run or a write that failed) is 1.
fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<UsageError>() || cause.is::<ScenarioError>() {
            return 2;
        }
        if let Some(s) = cause.downcast_ref::<SweepError>() {
            return if s.is_input() { 2 } else { 1 };
        }
        if let Some(o) = cause.downcast_ref::<output::OutputError>() {
            return if o.is_input() { 2 } else { 1 };
        }
    }
    1
}

fn main() -> ExitCode {
    run_cli(std::env::args_os().collect())
}

/// Parses the command line and runs it; prints the one-line error and returns the exit
/// code.
fn run_cli(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help, --version: the text on stdout, success.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // clap's message names the argument and the problem (sometimes over two lines,
            // e.g. the missing argument's name); the usage and hint lines after it are
            // replaced by a pointer to --help, so the error stays one line.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("{} (see kneetrack --help)", message.join(" "));
            return ExitCode::from(2);
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = exit_code(&e);
            if code == 2 {
                // Input errors are written to be one line: the file, line, key, value, range.
                eprintln!("error: {e}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(code)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let Some(command) = cli.command else {
        Cli::command().print_help()?;
        return Ok(ExitCode::SUCCESS);
    };
    match command {
        Command::Check {
            file,
            allow_outside,
        } => {
            let c = scenario::compile::load_and_compile(&file)?;
            c.check_out_dir(allow_outside)?;
            println!(
                "{}: ok ({:?}, {} contact elements, Q-angle {:.1}° with this tuberosity)",
                file.display(),
                c.spec.scenario.kind,
                c.model.patella.len(),
                c.model.q_angle_effective_deg
            );
            print_trochlea(&c.model);
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            file,
            out,
            allow_outside,
        } => run(&file, out, allow_outside),
        Command::Cycle { file, out } => export_cycle(&file, &out),
        Command::Sweep {
            file,
            threads,
            resume,
            shard,
            out,
            allow_huge,
            allow_outside,
        } => run_sweep(
            &file,
            RunOptions {
                threads,
                resume,
                shard,
                allow_huge,
                allow_outside,
                out_dir: out,
                ..RunOptions::default()
            },
        ),
        Command::Merge { dir, shards } => {
            let r = sweep::merge(&dir, &shards)?;
            println!(
                "merged {} shards: {} variants ({} failed)",
                r.shards, r.variants, r.failed
            );
            for p in r.files {
                println!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::View {
            file,
            screenshot,
            at,
            set,
        } => view(file, screenshot, at, set),
        Command::Keys { only, markdown } => {
            let keys = scenario::keys::select(&only).map_err(UsageError)?;
            let table = if markdown {
                scenario::keys::markdown(&keys)
            } else {
                scenario::keys::text_table(&keys)
            };
            // `kneetrack keys | head` closes the pipe early: that is not a failure.
            match std::io::Write::write_all(&mut std::io::stdout().lock(), table.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(e).context("writing the key table")?
                }
                _ => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { anatomy, strict } => {
            let anatomy = match anatomy {
                Anatomy::Lenhart2015 => kneetrack::params::AnatomyModel::Lenhart2015,
                Anatomy::Parametric => kneetrack::params::AnatomyModel::Parametric,
            };
            let table = validation::run_all(anatomy);
            println!("knee: {anatomy:?}");
            print!("{}", validation::format_table_for(anatomy, &table));
            let failed = table.iter().filter(|r| !r.pass).count();
            println!("\n{} of {} rows pass.", table.len() - failed, table.len());
            Ok(if strict && failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "kneetrack",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn export_cycle(file: &Path, dir: &Path) -> anyhow::Result<ExitCode> {
    let compiled = scenario::compile::load_and_compile(file)?;
    let scenario::RunPlan::Gait(plan) = &compiled.plan else {
        return Err(UsageError(format!(
            "{}: `cycle` needs a gait scenario (scenario.kind = \"gait\")",
            file.display()
        ))
        .into());
    };
    let (mot, sto) = kneetrack::gait::opensim::cycles_to_opensim(&plan.cycles, compiled.model.side);
    let files = vec![
        ("ik.mot".to_string(), mot.into_bytes()),
        ("id.sto".to_string(), sto.into_bytes()),
    ];
    for p in output::write_set(dir, files)? {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// One line on a morphed mesh trochlea: what was asked and what the morph realises.
fn print_trochlea(model: &kneetrack::Model) {
    let Some(t) = &model.knee.trochlea else {
        return;
    };
    if let (Some(key), Some(value)) = (t.requested_key, t.requested_value) {
        let (n, r) = (&t.native, &t.realised);
        println!(
            "trochlear morph ({key} = {value}, amplitude {:.2} mm): sulcus angle {:.1}° → {:.1}°, depth {:.2} → {:.2} mm, lateral inclination {:.1}° → {:.1}° (mid-trochlea section)",
            t.morph_amplitude_mm,
            n.sulcus_angle_deg,
            r.sulcus_angle_deg,
            n.depth_mm,
            r.depth_mm,
            n.lateral_inclination_deg,
            r.lateral_inclination_deg
        );
    }
}

fn run(file: &Path, out: Option<PathBuf>, allow_outside: bool) -> anyhow::Result<ExitCode> {
    let compiled = scenario::compile::load_and_compile(file)?;
    // `--out` always wins; otherwise the scenario's folder must be allowed.
    let dir = match out {
        Some(d) => d,
        None => {
            compiled.check_out_dir(allow_outside)?;
            compiled.out_dir.clone()
        }
    };
    // A folder that cannot take the outputs is refused before the run, not after it.
    output::check_target(&dir)?;
    let started = std::time::Instant::now();
    let result = experiment::run(&compiled);
    let elapsed = started.elapsed();
    let written = output::write_outputs(&compiled, &result, &dir).context("writing outputs")?;
    let m = summarize(&compiled.model, &result);
    print_trochlea(&compiled.model);
    for (i, r) in result.all_frames().iter().enumerate() {
        if !r.status.converged() {
            let (f, mo) = r.status.residuals();
            eprintln!(
                "warning: frame {i} ({:.1}° flexion) did not converge: {} after {} iterations, residual {f:.3} N / {mo:.2} N·mm",
                r.knee.flexion.to_degrees(),
                r.status.name(),
                r.status.iterations()
            );
        }
    }
    if let experiment::RunResult::Dynamic(d) = &result {
        let simulated = d.samples.last().map_or(0.0, |s| s.time_s);
        let dm = &d.metrics;
        println!(
            "{}: dynamic {:?}, {:.3} s simulated in {} steps of {} s, {:.1} s wall (real-time factor {:.3}); {:?}; peak displacement {:.2} mm, peak PF force {:.0} N",
            compiled.name,
            d.plan.case,
            simulated,
            dm.steps,
            dm.dt_s,
            d.wall_s,
            simulated / d.wall_s.max(1e-9),
            d.status,
            dm.peak_displacement_mm,
            m.peak_pf_force_n
        );
        if let Some(s) = dm.implicit.filter(|s| s.unconverged > 0) {
            eprintln!(
                "warning: {} of {} implicit steps did not reach the step tolerance in {} iterations (they went on with the last iterate)",
                s.unconverged,
                s.steps,
                kneetrack::dynamics::IMPLICIT_MAX_ITERATIONS
            );
        }
        if let Some(f) = dm.dislocation_force_n {
            println!("  dislocation force {f:.0} N (patella centre past the crest)");
        }
        if let (Some(r), Some(t)) = (dm.relocated, dm.settle_time_s) {
            println!(
                "  relocated: {r}; settled {:.1} ms after the pulse",
                t * 1e3
            );
        }
    } else {
        println!(
            "{}: {} frames ({} converged) in {:.1} ms; peak PF force {:.0} N ({:.2} BW), peak pressure {:.2} MPa, max lateral shift {:.2} mm",
            compiled.name,
            m.frames_total,
            m.frames_converged,
            elapsed.as_secs_f64() * 1e3,
            m.peak_pf_force_n,
            m.peak_pf_force_bw,
            m.peak_pressure_mpa,
            m.max_lateral_shift_mm
        );
    }
    if let Some(rows) = &m.restraining_force_n {
        for r in rows {
            println!(
                "  {:>5.1}° {:>7}: restraining force {:.1} N",
                r.flexion_deg,
                if r.direction > 0.0 {
                    "lateral"
                } else {
                    "medial"
                },
                r.restraining_force_n
            );
        }
    }
    for p in written {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn run_sweep(file: &Path, opts: RunOptions) -> anyhow::Result<ExitCode> {
    let sw = sweep::load_sweep(file)?;
    let r = sweep::run_sweep(&sw, &opts)?;
    let rate = r.ran as f64 / r.elapsed.as_secs_f64().max(1e-9);
    if r.ran == 0 && r.resumed == r.slice {
        println!(
            "{}: already complete ({} variants)",
            r.dir.display(),
            r.slice
        );
    } else {
        println!(
            "{}: {} variants run in {:.1} s ({rate:.1} variants/s){}, {} failed",
            sw.name,
            r.ran,
            r.elapsed.as_secs_f64(),
            if r.resumed > 0 {
                format!(", {} already done", r.resumed)
            } else {
                String::new()
            },
            r.failed
        );
    }
    if r.failed > 0 {
        eprintln!(
            "warning: {} variants failed; their rows say why (status = failed, error column)",
            r.failed
        );
    }
    for p in r.files {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn view(
    file: PathBuf,
    screenshot: Option<PathBuf>,
    at: Option<f64>,
    set: Vec<(String, f64)>,
) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "viewer")]
    {
        // Check the file first so a bad scenario gets the usual one-line error and exit 2.
        scenario::compile::load_and_compile(&file)?;
        kneetrack::viewer::view(
            file,
            kneetrack::viewer::ViewOptions {
                screenshot,
                at,
                set,
            },
        )
        .map_err(UsageError)?;
        Ok(ExitCode::SUCCESS)
    }
    #[cfg(not(feature = "viewer"))]
    {
        let _ = (file, screenshot, at, set);
        Err(UsageError(
            "this kneetrack was built without the viewer: cargo run --release --features viewer -- view FILE".into(),
        )
        .into())
    }
}
