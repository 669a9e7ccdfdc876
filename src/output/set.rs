//! All-or-nothing output sets.
//!
//! A run's files are written into a fresh temporary folder beside the target (unique name,
//! `tempfile`), each file and the folder synced, and only then moved into place:
//!
//! * the target does not exist (or is empty): one `rename` of the whole folder;
//! * the target holds only kneetrack outputs (the files its last run listed in
//!   [`LISTING`], or the names kneetrack writes): the folders are swapped in one step
//!   (`renameat2(RENAME_EXCHANGE)` on Linux; two renames elsewhere) and the old one removed —
//!   no file of the previous run stays beside the new ones;
//! * the target also holds files of the user's (e.g. `cycle --out data`): each new file is
//!   renamed in (each rename atomic), then the previous run's listed files that the new set
//!   does not have are removed; the user's files are never touched.
//!
//! A failure before the move (rendering, a full disk, a kill) leaves the previous outputs
//! as they were; the temporary folder is removed on failure, and one left by a killed
//! process (its pid is in the name) is removed by the next write beside it.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::OutputError;

/// The file in an output folder listing what the last run wrote there (one name a line).
pub const LISTING: &str = ".kneetrack-outputs";

/// File names kneetrack writes into an output folder (runs and `cycle`), so a folder of an
/// earlier version without a listing is still recognised as kneetrack's.
pub const KNOWN_OUTPUTS: &[&str] = &[
    "frames.csv",
    "stability.csv",
    "summary.json",
    "results.sto",
    "ik.mot",
    "id.sto",
];

fn io(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.into(),
        source,
    }
}

/// Whether a file name could have been written by kneetrack into an output folder.
fn known(name: &str) -> bool {
    KNOWN_OUTPUTS.contains(&name) || name.ends_with(".svg") || name == LISTING
}

/// Refuses a target that cannot take an output set (an existing file, or a path whose
/// parent is a file), before anything runs.
pub fn check_target(dir: &Path) -> Result<(), OutputError> {
    let target = |message: String| OutputError::Target {
        path: dir.into(),
        message,
    };
    if dir.as_os_str().is_empty() {
        return Err(target("is empty: name an output folder".into()));
    }
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(target(
            "exists and is not a folder: choose a folder for the outputs".into(),
        )),
        _ => {
            for a in dir.ancestors().skip(1) {
                if let Ok(m) = std::fs::metadata(a) {
                    if !m.is_dir() && !a.as_os_str().is_empty() {
                        return Err(target(format!("{} is not a folder", a.display())));
                    }
                    break;
                }
            }
            Ok(())
        }
    }
}

/// The folder that holds `dir` (created if needed), and `dir`'s own name.
fn parent_and_name(dir: &Path) -> Result<(PathBuf, String), OutputError> {
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().map_err(io(dir))?.join(dir)
    };
    // `a/b/.` and `a/b/..` have no file name of their own: resolve them lexically first.
    let mut clean = PathBuf::new();
    for c in dir.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                clean.pop();
            }
            c => clean.push(c),
        }
    }
    let name = clean
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| OutputError::Target {
            path: dir.clone(),
            message: "is not a folder that can be replaced (the file system root?)".into(),
        })?;
    let parent = clean.parent().unwrap_or(Path::new("/")).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    Ok((parent, name))
}

/// Prefix of this process's temporary folders beside `name`.
fn tmp_prefix(name: &str) -> String {
    format!(".{name}.kneetrack-tmp-")
}

/// Whether process `pid` is alive (unknown platforms: assume it is).
fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks that the process exists.
        let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Removes temporary folders beside `name` left by killed kneetrack processes.
fn sweep_stale(parent: &Path, name: &str) {
    let prefix = tmp_prefix(name);
    let Ok(rd) = std::fs::read_dir(parent) else {
        return;
    };
    for e in rd.flatten() {
        let f = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = f.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !alive(pid) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Syncs a folder's entry table (Unix; a no-op elsewhere).
fn sync_dir(dir: &Path) -> Result<(), OutputError> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Swaps two paths atomically where the OS can (Linux `RENAME_EXCHANGE`). `Ok(false)`: not
/// supported here (the caller falls back to two renames).
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
        let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
        // SAFETY: two valid NUL-terminated paths; renameat2 reads them only.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOSYS) | Some(libc::EINVAL) => Ok(false),
            _ => Err(e),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

/// The names listed in a folder's [`LISTING`] (empty when there is none).
fn listing(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(LISTING))
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Writes `files` (name, contents) as one set into `dir`, all or nothing (see the module
/// doc). Returns the paths written, in the order given.
pub fn write_set(
    dir: &Path,
    files: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<Vec<PathBuf>, OutputError> {
    write_set_from(dir, files.into_iter().map(Ok))
}

/// [`write_set`] over files that may fail to render: the first error stops the set, removes
/// the temporary folder and leaves `dir` as it was.
pub fn write_set_from(
    dir: &Path,
    files: impl IntoIterator<Item = Result<(String, Vec<u8>), OutputError>>,
) -> Result<Vec<PathBuf>, OutputError> {
    check_target(dir)?;
    let (parent, name) = parent_and_name(dir)?;
    sweep_stale(&parent, &name);
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{}{}-", tmp_prefix(&name), std::process::id()))
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    let mut names = Vec::new();
    for f in files {
        let (file, bytes) = f?;
        if file.is_empty() || file.contains(['/', '\\']) || file == LISTING {
            return Err(OutputError::Target {
                path: dir.join(&file),
                message: "is not a plain output file name".into(),
            });
        }
        let p = tmp.path().join(&file);
        let mut w = std::fs::File::create(&p).map_err(io(&p))?;
        w.write_all(&bytes).map_err(io(&p))?;
        w.sync_all().map_err(io(&p))?;
        names.push(file);
    }
    let list = tmp.path().join(LISTING);
    let mut text = names.join("\n");
    text.push('\n');
    std::fs::write(&list, text)
        .and_then(|_| std::fs::File::open(&list)?.sync_all())
        .map_err(io(&list))?;
    sync_dir(tmp.path())?;

    let target = parent.join(&name);
    let entries: Option<Vec<String>> = match std::fs::read_dir(&target) {
        Ok(rd) => Some(
            rd.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()
                .map_err(io(&target))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&target)(e)),
    };
    let previous = listing(&target);
    match entries {
        None => {
            let kept = tmp.keep();
            std::fs::rename(&kept, &target).map_err(|e| {
                let _ = std::fs::remove_dir_all(&kept);
                io(&target)(e)
            })?;
        }
        Some(entries)
            if entries
                .iter()
                .all(|e| known(e) || previous.iter().any(|p| p == e)) =>
        {
            // The folder is kneetrack's alone: swap it whole for the new one.
            let kept = tmp.keep();
            if exchange(&kept, &target).map_err(io(&target))? {
                let _ = std::fs::remove_dir_all(&kept);
            } else {
                let old = PathBuf::from(format!("{}.old", kept.display()));
                std::fs::rename(&target, &old).map_err(io(&target))?;
                if let Err(e) = std::fs::rename(&kept, &target) {
                    let _ = std::fs::rename(&old, &target);
                    let _ = std::fs::remove_dir_all(&kept);
                    return Err(io(&target)(e));
                }
                let _ = std::fs::remove_dir_all(&old);
            }
        }
        Some(_) => {
            // The user's files live here too: move each new file in, then drop what the
            // previous run wrote that this one did not.
            for n in names.iter().map(String::as_str).chain([LISTING]) {
                let to = target.join(n);
                std::fs::rename(tmp.path().join(n), &to).map_err(io(&to))?;
            }
            for p in &previous {
                if !names.contains(p) && p != LISTING && !p.contains(['/', '\\']) && !p.is_empty() {
                    let _ = std::fs::remove_file(target.join(p));
                }
            }
            drop(tmp);
        }
    }
    sync_dir(&target)?;
    sync_dir(&parent)?;
    Ok(names.iter().map(|n| dir.join(n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kneetrack-set-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn files(names: &[&str], tag: &str) -> Vec<(String, Vec<u8>)> {
        names
            .iter()
            .map(|n| (n.to_string(), format!("{n} {tag}").into_bytes()))
            .collect()
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// A set that fails while rendering leaves the previous outputs untouched and no stray
    /// file or folder anywhere.
    #[test]
    fn a_failing_set_leaves_the_previous_outputs_untouched() {
        let root = scratch("fail");
        let out = root.join("out");
        write_set(
            &out,
            files(&["frames.csv", "summary.json", "results.sto"], "old"),
        )
        .unwrap();
        let before = entries(&out);
        let failing = files(&["frames.csv", "summary.json"], "new")
            .into_iter()
            .map(Ok)
            .chain([Err(OutputError::Target {
                path: out.join("plot.svg"),
                message: "rendering failed".into(),
            })]);
        assert!(write_set_from(&out, failing).is_err());
        assert_eq!(entries(&out), before);
        assert_eq!(
            std::fs::read_to_string(out.join("frames.csv")).unwrap(),
            "frames.csv old"
        );
        assert_eq!(
            entries(&root),
            vec!["out".to_string()],
            "no stray temp folder"
        );
    }

    /// A new set replaces the old one whole: a file of the previous run that the new run
    /// does not write is gone; a folder with the user's own files keeps them.
    #[test]
    fn stale_outputs_are_never_mixed_in_and_user_files_stay() {
        let root = scratch("stale");
        let out = root.join("out");
        write_set(&out, files(&["frames.csv", "results.sto"], "a")).unwrap();
        write_set(&out, files(&["frames.csv"], "b")).unwrap();
        assert_eq!(
            entries(&out),
            vec![LISTING.to_string(), "frames.csv".into()]
        );
        assert_eq!(entries(&root), vec!["out".to_string()]);

        let data = root.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("mine.txt"), "keep").unwrap();
        write_set(&data, files(&["ik.mot", "id.sto"], "a")).unwrap();
        write_set(&data, files(&["ik.mot"], "b")).unwrap();
        assert_eq!(
            entries(&data),
            vec![LISTING.to_string(), "ik.mot".into(), "mine.txt".into()]
        );
        assert_eq!(entries(&root), vec!["data".to_string(), "out".into()]);
    }

    /// A temporary folder left by a killed process (dead pid in its name) is removed by the
    /// next write beside it; a target that is a file is refused before anything is written.
    #[test]
    fn leftovers_of_killed_runs_are_cleaned_and_files_are_refused() {
        let root = scratch("stray");
        // pid 0x7fff_fff0 is far above any pid_max.
        let stray = root.join(format!("{}{}-abc", tmp_prefix("out"), 0x7fff_fff0u32));
        std::fs::create_dir_all(&stray).unwrap();
        write_set(&root.join("out"), files(&["frames.csv"], "a")).unwrap();
        assert!(!stray.exists());
        std::fs::write(root.join("file"), "x").unwrap();
        let e = write_set(&root.join("file"), files(&["frames.csv"], "a")).unwrap_err();
        assert!(
            e.is_input() && e.to_string().contains("not a folder"),
            "{e}"
        );
    }
}
