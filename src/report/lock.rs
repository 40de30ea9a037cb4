//! The run directory's lock: one session of a run at a time. Two sessions at once (two `--resume`
//! of one run, or a resume while the first run still sends) would each send every contact left,
//! twice over and at twice the quota, since neither sees what the other journals.
//!
//! `run` and `--resume` take an exclusive advisory lock on `run.lock` in the run directory and
//! hold it until the process ends; the operating system lets go of it however the process ends
//! (`kill -9` too), so there is never a stale lock to clear. The file holds the holder's process
//! id, for the message that refuses a second session.

use super::files::RunDirError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

pub const LOCK_FILE: &str = "run.lock";

/// Held for as long as the session uses the run directory; dropping it lets go of the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of the run in `dir` (creating `run.lock` if need be), or says who holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock, RunDirError> {
        let path = dir.join(LOCK_FILE);
        let mut file = open(&path).map_err(|source| RunDirError::File { path: path.clone(), source })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(RunDirError::Locked { path: dir.into(), holder: holder(&mut file) });
            }
            // A file system without locks (some network mounts): go on, but say what is not guarded.
            Err(TryLockError::Error(err)) => tracing::warn!(
                "cannot lock {} ({err}): nothing stops a second connect-attrs from using this run directory at the same time",
                path.display()
            ),
        }
        if let Err(err) = record_pid(&mut file) {
            tracing::debug!("cannot write the process id into {}: {err}", path.display());
        }
        Ok(RunLock { _file: file })
    }
}

/// Opens `run.lock` for reading and writing, owner-only. A symlink planted there is refused, not
/// followed: the file is emptied for the process id, and so would be the file it points to.
fn open(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

fn record_pid(file: &mut File) -> io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())?;
    file.flush()
}

/// The process id the holder wrote, if it did (it may not have yet).
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_session_is_refused_with_the_holders_pid_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let held = RunLock::acquire(dir.path()).unwrap();
        let refused = RunLock::acquire(dir.path()).unwrap_err();
        assert!(
            matches!(&refused, RunDirError::Locked { holder: Some(pid), .. } if *pid == std::process::id()),
            "{refused:?}"
        );
        let message = refused.to_string();
        assert!(message.contains(&dir.path().display().to_string()), "{message}");
        assert!(message.contains("another connect-attrs"), "{message}");
        assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
        drop(held);
        RunLock::acquire(dir.path()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_as_the_lock_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(LOCK_FILE)).unwrap();
        assert!(matches!(RunLock::acquire(dir.path()), Err(RunDirError::File { .. })));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
