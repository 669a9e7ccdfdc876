//! `kneetrack` command line: run, check and validate scenarios.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kneetrack::experiment::{self, summarize};
use kneetrack::scenario::{self, ScenarioError};
use kneetrack::sweep::{self, RunOptions, Shard, SweepError};
use kneetrack::{output, validation};

const USAGE: &str = "\
kneetrack — patellofemoral contact and patellar tracking simulator

USAGE:
    kneetrack run FILE [--out DIR]   run a scenario and write frames.csv, summary.json, plots
    kneetrack check FILE             validate a scenario file without running it
    kneetrack cycle FILE --out DIR   write a gait scenario's cycles (joint angles, moments) as
                                     OpenSim ik.mot and id.sto (gait2392 sign convention)
    kneetrack sweep FILE [--threads N] [--resume] [--shard I/N] [--out DIR] [--allow-huge]
                                     run a parameter sweep: one row per variant in DIR/sweep.csv
                                     (streamed as variants finish; --resume finishes a killed
                                     run; --shard runs slice I of N, 0-based, into
                                     DIR/shard-I-of-N), plus sweep.svg and sweep.json
    kneetrack merge DIR [SHARD_DIR...]
                                     join shard folders (default DIR/shard-*) into DIR, checking
                                     that no variant is missing or doubled
    kneetrack view FILE [--screenshot OUT.png] [--at 40%] [--set KEY=VALUE ...]
                                     interactive 3D viewer (build with --features viewer);
                                     --screenshot renders one frame, writes the PNG, exits;
                                     --set moves a factor slider (re-solved live)
    kneetrack validate [--anatomy lenhart2015|parametric] [--strict]
                                     run the published validation cases on a knee (default
                                     the Lenhart 2015 mesh knee) and print the table
                                     (--strict: exit 1 when a case fails)
    kneetrack --help | --version

Exit codes: 0 success, 1 failure while running or writing, 2 bad scenario or usage.
Scenario keys are documented in README.md (section \"Scenario reference\").";

enum Failure {
    /// Bad input: exit code 2.
    Input(String),
    /// Anything else: exit code 1.
    Run(anyhow::Error),
}

impl From<SweepError> for Failure {
    fn from(e: SweepError) -> Self {
        if e.is_input() {
            Failure::Input(e.to_string())
        } else {
            Failure::Run(anyhow::Error::new(e))
        }
    }
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Self {
        Failure::Input(e.to_string())
    }
}

/// Upper bound of `sweep --threads`, per available core.
const MAX_THREADS_PER_CORE: usize = 4;

fn main() -> ExitCode {
    // Arguments as the OS gives them: one that is not UTF-8 (a file name in another
    // encoding) is a clear input error, not a panic inside `std::env::args`.
    let mut args = Vec::new();
    for (i, a) in std::env::args_os().skip(1).enumerate() {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(raw) => {
                eprintln!(
                    "error: argument {} ({}) is not valid UTF-8; kneetrack takes UTF-8 file names and values",
                    i + 1,
                    raw.to_string_lossy()
                );
                return ExitCode::from(2);
            }
        }
    }
    match dispatch(&args) {
        Ok(code) => code,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn dispatch(args: &[String]) -> Result<ExitCode, Failure> {
    let usage = |m: &str| Failure::Input(format!("{m}\n\n{USAGE}"));
    match args.first().map(String::as_str) {
        None | Some("-h") | Some("--help") | Some("help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some("-V") | Some("--version") => {
            println!("kneetrack {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Some("check") => {
            let [_, file] = args else {
                return Err(usage("check takes exactly one FILE"));
            };
            let c = scenario::compile::load_and_compile(&PathBuf::from(file))?;
            println!(
                "{file}: ok ({:?}, {} contact elements, Q-angle {:.1}° with this tuberosity)",
                c.spec.scenario.kind,
                c.model.patella.len(),
                c.model.q_angle_effective_deg
            );
            print_trochlea(&c.model);
            Ok(ExitCode::SUCCESS)
        }
        Some("run") => {
            let (file, out) = match args {
                [_, f] => (f, None),
                [_, f, flag, d] if flag == "--out" => (f, Some(PathBuf::from(d))),
                _ => return Err(usage("run takes FILE and optionally --out DIR")),
            };
            run(file, out)
        }
        Some("cycle") => {
            let [_, file, flag, dir] = args else {
                return Err(usage("cycle takes FILE --out DIR"));
            };
            if flag != "--out" {
                return Err(usage("cycle takes FILE --out DIR"));
            }
            export_cycle(file, &PathBuf::from(dir))
        }
        Some("sweep") => run_sweep(&args[1..]).map_err(|e| match e {
            Failure::Input(m) if m.starts_with("usage:") => usage(&m[6..]),
            other => other,
        }),
        Some("merge") => {
            let [_, dir, shards @ ..] = args else {
                return Err(usage("merge takes DIR and optionally the shard folders"));
            };
            let shards: Vec<PathBuf> = shards.iter().map(PathBuf::from).collect();
            let r = sweep::merge(&PathBuf::from(dir), &shards)?;
            println!(
                "merged {} shards: {} variants ({} failed)",
                r.shards, r.variants, r.failed
            );
            for p in r.files {
                println!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some("view") => view(&args[1..]).map_err(|e| match e {
            Failure::Input(m) if m.starts_with("usage:") => usage(&m[6..]),
            other => other,
        }),
        Some("validate") => {
            let mut strict = false;
            let mut anatomy = kneetrack::params::AnatomyModel::Lenhart2015;
            let mut rest = args[1..].iter();
            while let Some(a) = rest.next() {
                match a.as_str() {
                    "--strict" => strict = true,
                    "--anatomy" => {
                        anatomy = match rest.next().map(String::as_str) {
                            Some("lenhart2015") => kneetrack::params::AnatomyModel::Lenhart2015,
                            Some("parametric") => kneetrack::params::AnatomyModel::Parametric,
                            other => {
                                return Err(usage(&format!(
                                    "validate --anatomy takes lenhart2015 or parametric, not {}",
                                    other.unwrap_or("nothing")
                                )))
                            }
                        }
                    }
                    other => {
                        return Err(usage(&format!(
                            "validate takes --anatomy KNEE and --strict, not `{other}`"
                        )))
                    }
                }
            }
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
        Some(other) => Err(usage(&format!("unknown command `{other}`"))),
    }
}

fn export_cycle(file: &str, dir: &std::path::Path) -> Result<ExitCode, Failure> {
    let compiled = scenario::compile::load_and_compile(&PathBuf::from(file))?;
    let scenario::RunPlan::Gait(plan) = &compiled.plan else {
        return Err(Failure::Input(format!(
            "{file}: `cycle` needs a gait scenario (scenario.kind = \"gait\")"
        )));
    };
    let (mot, sto) = kneetrack::gait::opensim::cycles_to_opensim(&plan.cycles, compiled.model.side);
    let io = |e| Failure::Run(anyhow::Error::new(e));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating {}", dir.display()))
        .map_err(Failure::Run)?;
    for (name, text) in [("ik.mot", mot), ("id.sto", sto)] {
        let path = dir.join(name);
        output::write_atomic(&path, text.as_bytes()).map_err(io)?;
        println!("wrote {}", path.display());
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

fn run(file: &str, out: Option<PathBuf>) -> Result<ExitCode, Failure> {
    let compiled = scenario::compile::load_and_compile(&PathBuf::from(file))?;
    let dir = out.unwrap_or_else(|| compiled.out_dir.clone());
    let started = std::time::Instant::now();
    let result = experiment::run(&compiled);
    let elapsed = started.elapsed();
    let written = output::write_outputs(&compiled, &result, &dir)
        .context("writing outputs")
        .map_err(Failure::Run)?;
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

fn run_sweep(args: &[String]) -> Result<ExitCode, Failure> {
    let bad = |m: String| Failure::Input(format!("usage: {m}"));
    let mut file = None;
    let mut opts = RunOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| bad(format!("{flag} needs a value")))
        };
        match a.as_str() {
            "--threads" => {
                let v = value("--threads")?;
                // More workers than a few per core only costs memory and switches for this
                // CPU-bound work; far more than that is a typo the pool may fail to start.
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                let max = MAX_THREADS_PER_CORE * cores;
                let n: usize = v
                    .parse()
                    .ok()
                    .filter(|&n| (1..=max).contains(&n))
                    .ok_or_else(|| {
                        bad(format!(
                            "--threads {v}: allowed 1 to {max} ({MAX_THREADS_PER_CORE} per core on this machine's {cores})"
                        ))
                    })?;
                opts.threads = Some(n);
            }
            "--shard" => opts.shard = Some(Shard::parse(&value("--shard")?).map_err(bad)?),
            "--out" => opts.out_dir = Some(PathBuf::from(value("--out")?)),
            "--resume" => opts.resume = true,
            "--allow-huge" => opts.allow_huge = true,
            f if f.starts_with('-') => return Err(bad(format!("sweep: unknown option {f}"))),
            f if file.is_none() => file = Some(PathBuf::from(f)),
            f => return Err(bad(format!("sweep takes one FILE (got another: {f})"))),
        }
    }
    let file = file.ok_or_else(|| bad("sweep takes a FILE".into()))?;
    let sw = sweep::load_sweep(&file)?;
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

/// Parses `40%` or `0.4` as a fraction of the cycle.
fn parse_at(s: &str) -> Option<f64> {
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => s.trim().parse::<f64>().ok()?,
    };
    (0.0..=1.0).contains(&v).then_some(v)
}

fn view(args: &[String]) -> Result<ExitCode, Failure> {
    let bad = |m: String| Failure::Input(format!("usage: {m}"));
    let mut file = None;
    let mut screenshot = None;
    let mut at = None;
    let mut set = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--screenshot" => {
                screenshot =
                    Some(PathBuf::from(it.next().ok_or_else(|| {
                        bad("--screenshot needs a PNG path".into())
                    })?))
            }
            "--at" => {
                let v = it.next().ok_or_else(|| bad("--at needs a value".into()))?;
                at = Some(parse_at(v).ok_or_else(|| {
                    bad(format!(
                        "--at {v}: give a fraction of the cycle, 0% to 100% (or 0 to 1)"
                    ))
                })?);
            }
            "--set" => {
                let v = it
                    .next()
                    .ok_or_else(|| bad("--set needs KEY=VALUE".into()))?;
                let (k, x) = v
                    .split_once('=')
                    .and_then(|(k, x)| Some((k.trim().to_string(), x.trim().parse::<f64>().ok()?)))
                    .ok_or_else(|| {
                        bad(format!(
                            "--set {v}: expected KEY=NUMBER, e.g. muscles.vmo=0.5"
                        ))
                    })?;
                set.push((k, x));
            }
            f if f.starts_with('-') => return Err(bad(format!("view: unknown option {f}"))),
            f if file.is_none() => file = Some(PathBuf::from(f)),
            f => return Err(bad(format!("view takes one FILE (got another: {f})"))),
        }
    }
    let file = file.ok_or_else(|| bad("view takes a scenario FILE".into()))?;
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
        .map_err(Failure::Input)?;
        Ok(ExitCode::SUCCESS)
    }
    #[cfg(not(feature = "viewer"))]
    {
        let _ = (file, screenshot, at, set);
        Err(Failure::Input(
            "this kneetrack was built without the viewer: cargo run --release --features viewer -- view FILE".into(),
        ))
    }
}
