//! Regression tests of the hardening issue: the command line, all-or-nothing outputs and
//! their folder, `check` = `run`'s checks, input limits, sweep folder locks, verified
//! journals and the manifest hash over data files. Each test failed on the code before.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use super::{bin, opensim_scenario, read, shipped_opensim, sweep_cli, sweep_ok, tmp, VMO_Q_AXES};

/// A parametric flexion scenario (quick), `extra` appended.
fn quick(extra: &str) -> String {
    format!(
        "[scenario]\nkind = \"flexion\"\n[anatomy]\nmodel = \"parametric\"\n[flexion]\n\
         from_deg = 0\nto_deg = 60\nstep_deg = 20\n{extra}"
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2, one line, every fragment in it.
fn assert_input_error(o: &Output, fragments: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for f in fragments {
        assert!(err.contains(f), "`{f}` not in: {err}");
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// ------------------------------------------------------------------------ command line

/// Subcommands have their own --help, flags come in any order, shells get completions, a
/// bad flag is one line and exit 2, and no arguments prints the usage.
#[test]
fn the_command_line_has_help_any_order_and_completions() {
    let o = bin().args(["sweep", "--help"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    for f in ["--threads", "--resume", "--shard", "--allow-huge", "--out"] {
        assert!(out.contains(f), "{f}: {out}");
    }
    let o = bin().args(["completions", "bash"]).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("kneetrack"));
    let o = bin().output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("sweep"));

    let dir = tmp("cli-order");
    let file = dir.join("s.toml");
    std::fs::write(&file, quick("")).unwrap();
    let out = dir.join("out");
    let o = bin()
        .arg("run")
        .arg("--out")
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("frames.csv").exists());

    let o = bin().args(["check"]).output().unwrap();
    assert_input_error(&o, &["required", "<FILE>"]);
    let o = bin()
        .args(["run", "--frobnicate"])
        .arg(&file)
        .output()
        .unwrap();
    assert_input_error(&o, &["--frobnicate"]);
    let o = bin()
        .args(["sweep"])
        .arg(&file)
        .args(["--shard", "3/3"])
        .output()
        .unwrap();
    assert_input_error(&o, &["--shard 3/3", "0 to 2"]);
}

/// `--allow-huge` on an absurd grid is a clear error naming the memory it would need and
/// how to split it — not an abort allocating terabytes.
#[test]
fn an_absurd_grid_with_allow_huge_is_refused_not_aborted() {
    let dir = tmp("huge-grid");
    let axes: String = [
        "muscles.vmo",
        "muscles.vl",
        "muscles.vi",
        "muscles.rf",
        "muscles.vml",
        "subject.q_angle_deg",
    ]
    .iter()
    .map(|k| {
        let (a, b) = if k.starts_with("subject") {
            (8.0, 24.0)
        } else {
            (0.5, 1.0)
        };
        format!("[[sweep.axis]]\nkey = \"{k}\"\nfrom = {a:?}\nto = {b:?}\nsteps = 1000\n\n")
    })
    .collect();
    let file = super::sweep_files(&dir, &axes, "");
    let out = dir.join("out");
    let o = sweep_cli(&file, &["--allow-huge", "--out", out.to_str().unwrap()]);
    assert_input_error(&o, &["1000000000000000000 variants", "memory", "--shard"]);
    assert!(!out.exists(), "nothing written");
}

// ------------------------------------------------------------------------------ outputs

/// A relative output.dir resolves against the scenario's folder (not the working
/// directory); one that climbs out of it or is absolute is refused by `check` and `run`
/// (exit 2, nothing written) unless --allow-outside; --out always wins.
#[test]
fn output_dir_resolves_against_the_scenario_folder_and_stays_inside() {
    let dir = tmp("output-dir");
    let sub = dir.join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    let inside = sub.join("inside.toml");
    std::fs::write(&inside, quick("[output]\ndir = \"results\"\n")).unwrap();
    let o = bin()
        .current_dir(&dir)
        .arg("run")
        .arg(&inside)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(sub.join("results/frames.csv").exists());
    assert!(
        !dir.join("results").exists(),
        "resolved against the working directory"
    );

    let abs = dir.join("abs-target");
    for (name, value, fragment) in [
        ("climb", "../../x".to_string(), "climbs out"),
        ("absolute", abs.display().to_string(), "is absolute"),
    ] {
        let file = sub.join(format!("{name}.toml"));
        std::fs::write(&file, quick(&format!("[output]\ndir = \"{value}\"\n"))).unwrap();
        for cmd in ["check", "run"] {
            let o = bin()
                .current_dir(&dir)
                .arg(cmd)
                .arg(&file)
                .output()
                .unwrap();
            assert_input_error(
                &o,
                &[
                    &format!("{name}.toml:10"),
                    "output.dir",
                    fragment,
                    "--allow-outside",
                ],
            );
        }
        assert!(!dir.join("x").exists() && !abs.exists(), "{name}: written");
    }
    let o = bin()
        .current_dir(&dir)
        .arg("run")
        .arg(sub.join("climb.toml"))
        .arg("--allow-outside")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("x/frames.csv").exists());
    let o = bin()
        .current_dir(&dir)
        .arg("run")
        .arg(sub.join("absolute.toml"))
        .arg("--out")
        .arg(dir.join("given"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("given/frames.csv").exists() && !abs.exists());

    // A sweep file's output.dir likewise.
    std::fs::write(sub.join("base.toml"), quick("")).unwrap();
    let axis = "[[sweep.axis]]\nkey = \"muscles.vmo\"\nvalues = [0.5, 1.0]\n";
    let climb = sub.join("climb-sweep.toml");
    std::fs::write(
        &climb,
        format!("[sweep]\nbase = \"base.toml\"\n{axis}[output]\ndir = \"../../y\"\n"),
    )
    .unwrap();
    let o = bin()
        .current_dir(&dir)
        .arg("sweep")
        .arg(&climb)
        .output()
        .unwrap();
    assert_input_error(&o, &["climb-sweep.toml:7", "output.dir", "--allow-outside"]);
    assert!(!dir.join("y").exists());
    let inside = sub.join("inside-sweep.toml");
    std::fs::write(
        &inside,
        format!("[sweep]\nbase = \"base.toml\"\n{axis}[output]\ndir = \"swept\"\n"),
    )
    .unwrap();
    let o = bin()
        .current_dir(&dir)
        .arg("sweep")
        .arg(&inside)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(sub.join("swept/sweep.csv").exists());
}

/// A new run into a folder replaces the previous set whole: a file the new run does not
/// write (here summary.json) is gone, and no temporary file stays anywhere.
#[test]
fn a_new_run_never_leaves_an_old_runs_files_beside_its_own() {
    let dir = tmp("stale-outputs");
    let out = dir.join("out");
    let file = dir.join("s.toml");
    std::fs::write(&file, quick("[output]\nformats = [\"csv\", \"json\"]\n")).unwrap();
    let o = super::run_cli(&file, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("summary.json").exists());
    std::fs::write(&file, quick("[output]\nformats = [\"csv\"]\n")).unwrap();
    let o = super::run_cli(&file, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(entries(&out), vec![".kneetrack-outputs", "frames.csv"]);
    assert_eq!(entries(&dir), vec!["out", "s.toml"]);
}

/// A run killed at any moment leaves the output folder holding a complete set — the
/// previous one or the new one, never a mix or a part; the next run clears what the killed
/// one left in the parent folder.
#[test]
fn a_killed_run_never_leaves_a_partial_output_set() {
    let dir = tmp("killed-run");
    let out = dir.join("out");
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        "[scenario]\nkind = \"flexion\"\n[anatomy]\nmodel = \"parametric\"\n[flexion]\n\
         from_deg = 0\nto_deg = 120\nstep_deg = 0.5\n",
    )
    .unwrap();
    let t0 = Instant::now();
    let o = super::run_cli(&file, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let full = t0.elapsed();
    let set = entries(&out);
    assert!(set.len() >= 4, "{set:?}");
    let old = read(&out.join("frames.csv"));
    for fraction in [0.1, 0.4, 0.7, 0.85, 0.95, 1.0] {
        let mut child = bin()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(fraction));
        let _ = child.kill();
        child.wait().unwrap();
        assert_eq!(entries(&out), set, "after a kill at {fraction}");
        // The frames of this deterministic scenario are the same either way: the set is
        // whole and consistent.
        assert_eq!(read(&out.join("frames.csv")), old);
    }
    let o = super::run_cli(&file, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        entries(&dir),
        vec!["out", "s.toml"],
        "a killed run's leftovers stay"
    );
}

// ----------------------------------------------------------------- check = run's checks

/// `check` refuses what `run` refuses: NaN and ±1e308 in sections the scenario's kind does
/// not use, and names that cannot name a folder (NUL, 300 characters).
#[test]
fn check_refuses_what_run_refuses() {
    let dir = tmp("check-is-run");
    let long = "n".repeat(300);
    let cases = [
        (
            "gait_nan",
            quick("[gait]\nspeed_mps = nan\n"),
            vec![
                "gait_nan.toml:10",
                "gait.speed_mps = NaN",
                "allowed 1.5 to 8",
            ],
        ),
        (
            "dynamic_huge",
            quick("[dynamic]\ndt_s = 1e308\n"),
            vec!["dynamic.dt_s = 1e308", "allowed 0.000001 to 0.002"],
        ),
        (
            "stability_neg",
            quick("[stability]\nquadriceps_n = -1e308\n"),
            vec!["stability.quadriceps_n = -1e308"],
        ),
        (
            "starts_inf",
            quick("[gait]\ncycle_starts_s = [inf]\n"),
            vec!["gait.cycle_starts_s = inf"],
        ),
        (
            "nul",
            quick("").replace("[anatomy]", "name = \"a\\u0000b\"\n[anatomy]"),
            vec!["nul.toml:3", "scenario.name", "control character"],
        ),
        (
            "long",
            quick("").replace("[anatomy]", &format!("name = \"{long}\"\n[anatomy]")),
            vec![
                "long.toml:3",
                "scenario.name",
                "300 characters",
                "allowed 1 to 128",
            ],
        ),
    ];
    for (name, text, fragments) in cases {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = dir.join(format!("out-{name}"));
        let o = bin().arg("check").arg(&file).output().unwrap();
        assert_input_error(&o, &fragments);
        let o = super::run_cli(&file, &out);
        assert_input_error(&o, &fragments);
        assert!(!out.exists());
    }
}

/// A scenario or data file that is a device, a FIFO or far too large is a clear error at
/// once — not a hang or an out-of-memory abort.
#[test]
fn devices_fifos_and_huge_files_are_refused_at_once() {
    let dir = tmp("input-limits");
    let fifo = dir.join("fifo.toml");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let big = dir.join("big.toml");
    std::fs::write(
        &big,
        quick("")
            .into_bytes()
            .into_iter()
            .chain(std::iter::repeat_n(b'#', 2 << 20))
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    std::fs::write(
        dir.join("ik_zero.toml"),
        opensim_scenario("/dev/zero", None, ""),
    )
    .unwrap();
    std::fs::write(
        dir.join("osim_zero.toml"),
        "[scenario]\nkind = \"flexion\"\n[anatomy]\nosim = \"/dev/zero\"\n",
    )
    .unwrap();
    let cases: [(PathBuf, &[&str]); 5] = [
        (
            dir.join("osim_zero.toml"),
            &[
                "osim_zero.toml:4",
                "anatomy.osim",
                "/dev/zero",
                "not a regular file",
            ],
        ),
        (
            PathBuf::from("/dev/zero"),
            &["/dev/zero", "not a regular file"],
        ),
        (fifo, &["fifo.toml", "not a regular file"]),
        (big, &["big.toml", "at most 1048576 bytes"]),
        (
            dir.join("ik_zero.toml"),
            &[
                "ik_zero.toml:5",
                "gait.kinematics",
                "/dev/zero",
                "not a regular file",
            ],
        ),
    ];
    for (file, fragments) in cases {
        let mut child = bin()
            .arg("check")
            .arg(&file)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if t0.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("{}: hangs", file.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let o = child.wait_with_output().unwrap();
        assert_input_error(&o, fragments);
    }
}

// --------------------------------------------------------------------------- sweeps

/// A parametric sweep folder (quick variants): base.toml + sweep.toml over VMO × Q-angle.
fn quick_sweep(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("base.toml"), quick("quadriceps_n = 400\n")).unwrap();
    let file = dir.join("sweep.toml");
    std::fs::write(
        &file,
        format!("[sweep]\nbase = \"base.toml\"\n\n{VMO_Q_AXES}"),
    )
    .unwrap();
    file
}

/// While one process holds a sweep folder, a second sweep, `--resume` or merge on it is
/// refused with a clear message and changes nothing; a real second process is refused too.
#[test]
fn a_second_sweep_on_a_locked_folder_is_refused() {
    let dir = tmp("sweep-lock");
    let file = quick_sweep(&dir);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    {
        let _held = kneetrack::sweep::lock::FolderLock::take(&out, "test").unwrap();
        for extra in [&[][..], &["--resume"][..]] {
            let mut args = vec!["--out", out.to_str().unwrap()];
            args.extend_from_slice(extra);
            let o = sweep_cli(&file, &args);
            assert_input_error(&o, &["another kneetrack process", ".sweep.lock"]);
        }
        let o = bin().arg("merge").arg(&out).output().unwrap();
        assert_input_error(&o, &["another kneetrack process"]);
        assert_eq!(entries(&out), vec![".sweep.lock"]);
    }
    sweep_ok(&file, &["--out", out.to_str().unwrap()]);

    // Two real processes: the default (mesh) knee and 60 variants on one thread make the
    // first one slow enough.
    let slow = tmp("sweep-lock-slow");
    let axes = "[[sweep.axis]]\nkey = \"muscles.vmo\"\nfrom = 0.2\nto = 1.4\nsteps = 60\n";
    let sfile = super::sweep_files(&slow, axes, "");
    let sout = slow.join("out");
    let journal = sout.join("sweep.csv.partial");
    let mut first = bin()
        .arg("sweep")
        .arg(&sfile)
        .args(["--threads", "1", "--out", sout.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !journal.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the first sweep never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let o = sweep_cli(&sfile, &["--resume", "--out", sout.to_str().unwrap()]);
    let finished = first.try_wait().unwrap().is_some();
    if !finished {
        assert_input_error(&o, &["another kneetrack process"]);
    } else {
        eprintln!(
            "the first sweep finished before the second started: only the held-lock part ran"
        );
    }
    let _ = first.kill();
    first.wait().unwrap();
}

/// Writes a journal of the quick sweep's first `n` variants as an interrupted run leaves
/// it (computed in this process through the library).
fn partial_journal(file: &Path, out: &Path, n: u64) -> Vec<String> {
    use kneetrack::sweep::{journal, run::run_variant, Manifest};
    let sw = kneetrack::sweep::load_sweep(file).unwrap();
    std::fs::create_dir_all(out).unwrap();
    let m = Manifest::new(&sw, None, &(0..sw.variants));
    m.write(out).unwrap();
    let mut lines = vec![journal::header(&m.header())];
    for i in 0..n {
        lines.push(journal::line(
            &run_variant(&sw, i),
            journal::inputs_hash(&sw, i),
        ));
    }
    lines
}

/// A garbage line in the middle of the journal and a hand-edited row are reported and
/// their variants run again; every finished row after them is kept (only the two bad
/// ones and the missing ones run), and the table equals an uninterrupted run's.
#[test]
fn corrupt_journal_rows_are_reported_and_rerun_without_losing_finished_rows() {
    let dir = tmp("sweep-journal");
    let file = quick_sweep(&dir);
    let clean = dir.join("clean");
    sweep_ok(&file, &["--out", clean.to_str().unwrap()]);

    let out = dir.join("out");
    let mut lines = partial_journal(&file, &out, 8);
    lines[3] = "garbage in the middle\n".into();
    // A hand edit of row 4's first metric, checksum left as it was.
    let cells: Vec<&str> = lines[5].split(',').collect();
    let mut edited: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
    edited[4] = "1".into();
    lines[5] = edited.join(",");
    std::fs::write(out.join("sweep.csv.partial"), lines.concat()).unwrap();

    let o = sweep_ok(&file, &["--resume", "--out", out.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(err.contains("sweep.csv.partial:4: not a row"), "{err}");
    assert!(
        err.contains("sweep.csv.partial:6: its checksum does not match"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("6 variants run") && stdout.contains("6 already done"),
        "{stdout}"
    );
    assert_eq!(read(&out.join("sweep.csv")), read(&clean.join("sweep.csv")));
    assert_eq!(
        read(&out.join("sweep.json")),
        read(&clean.join("sweep.json"))
    );
}

/// The manifest hash covers the content of the data files a variant reads: after an edit
/// of the .mot, `--resume` on the folder is refused instead of mixing old and new rows.
#[test]
fn the_sweep_hash_covers_the_data_files() {
    let dir = tmp("sweep-data-hash");
    let ik = shipped_opensim("runner_ik.mot");
    std::fs::write(dir.join("ik.mot"), &ik).unwrap();
    std::fs::write(
        dir.join("base.toml"),
        opensim_scenario("ik.mot", None, "[anatomy]\nmodel = \"parametric\"\n"),
    )
    .unwrap();
    let file = dir.join("sweep.toml");
    std::fs::write(
        &file,
        "[sweep]\nbase = \"base.toml\"\n[[sweep.axis]]\nkey = \"muscles.vmo\"\nvalues = [1.0]\n",
    )
    .unwrap();
    let before = kneetrack::sweep::load_sweep(&file).unwrap().hash;
    assert!(ik.contains("\n0\t32\t4\t2\t-18\n"));
    std::fs::write(
        dir.join("ik.mot"),
        ik.replacen("\n0\t32\t4\t2\t-18\n", "\n0\t33\t4\t2\t-18\n", 1),
    )
    .unwrap();
    let after = kneetrack::sweep::load_sweep(&file).unwrap().hash;
    assert_ne!(before, after, "an edited .mot must change the sweep's hash");
    // The same text again: the same hash (content, not time stamps).
    std::fs::write(dir.join("ik.mot"), &ik).unwrap();
    assert_eq!(kneetrack::sweep::load_sweep(&file).unwrap().hash, before);
}
