//! One process per sweep folder: an exclusive lock (`File::try_lock`) on `.sweep.lock`,
//! held for the whole run or merge. A second sweep, `--resume` or merge on the same folder
//! is refused at once with a clear message instead of interleaving two journals. The OS
//! releases the lock when the process ends, however it ends, so a killed run never leaves
//! a folder locked.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::SweepError;

/// The lock file's name in a sweep folder (empty; it stays after the run).
pub const LOCK: &str = ".sweep.lock";

/// A held folder lock; released when dropped.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    /// The folder.
    pub dir: PathBuf,
}

impl FolderLock {
    /// Takes the lock of `dir` (which must exist), or refuses when another process holds it.
    pub fn take(dir: &Path, what: &str) -> Result<Self, SweepError> {
        let path = dir.join(LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| SweepError::Io {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Self {
                _file: file,
                dir: dir.into(),
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(SweepError::Folder {
                dir: dir.into(),
                message: format!(
                    "another kneetrack process is using this folder (it holds {LOCK}); {what} waits for it to finish — or choose another --out"
                ),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(SweepError::Io { path, source }),
        }
    }

    /// Whether another process holds `dir`'s lock now (a folder without one is free).
    pub fn busy(dir: &Path) -> bool {
        let Ok(file) = File::open(dir.join(LOCK)) else {
            return false;
        };
        matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
    }
}
