//! The run directory and its files. They hold personal data: the directory is created 0700 and
//! each file 0600, and a file is only ever created new, so a symlink planted where an output
//! should go is refused instead of followed.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("cannot create the run directory {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("the run directory {path} already holds a run ({found}): pass a new --run-dir")]
    InUse { path: PathBuf, found: String },
    #[error("{path} is not a directory (or is a symlink): pass another --run-dir")]
    NotADirectory { path: PathBuf },
    #[error("cannot create {path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error(
        "the run directory {path} is in use by another connect-attrs{}: two sessions of one run would send its contacts twice. Wait for it to end (or stop it), then resume",
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Locked { path: PathBuf, holder: Option<u32> },
}

/// Creates `path` (and its parents) for a new run; an existing empty directory is fine.
pub fn create_run_dir(path: &Path) -> Result<(), RunDirError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|source| RunDirError::Create { path: path.into(), source })?;
    }
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_dir() => return Err(RunDirError::NotADirectory { path: path.into() }),
        Ok(_) => {
            let mut entries = fs::read_dir(path).map_err(|source| RunDirError::Create { path: path.into(), source })?;
            if let Some(Ok(entry)) = entries.next() {
                let found = entry.file_name().to_string_lossy().into_owned();
                return Err(RunDirError::InUse { path: path.into(), found });
            }
        }
        Err(_) => private_dir(path).map_err(|source| RunDirError::Create { path: path.into(), source })?,
    }
    restrict_dir(path).map_err(|source| RunDirError::Create { path: path.into(), source })
}

#[cfg(unix)]
fn private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().mode(0o700).create(path)
}

#[cfg(not(unix))]
fn private_dir(path: &Path) -> io::Result<()> {
    fs::create_dir(path)
}

#[cfg(unix)]
fn restrict_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn restrict_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Creates a new file readable by its owner only; fails if anything (a symlink too) is there.
pub fn create_private(path: &Path) -> Result<File, RunDirError> {
    create_new_private(path, false)
}

/// [`create_private`] opened for append (`O_APPEND`): each write lands at the end of the file as
/// it is then, so a line some other writer added is never written over.
pub fn create_private_append(path: &Path) -> Result<File, RunDirError> {
    create_new_private(path, true)
}

fn create_new_private(path: &Path, append: bool) -> Result<File, RunDirError> {
    let mut options = OpenOptions::new();
    options.write(true).append(append).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|source| RunDirError::File { path: path.into(), source })
}

/// Removes the file at `path` if there is one.
pub fn remove_if_present(path: &Path) -> Result<(), RunDirError> {
    match fs::remove_file(path) {
        Err(source) if source.kind() != io::ErrorKind::NotFound => Err(RunDirError::File { path: path.into(), source }),
        _ => Ok(()),
    }
}

/// Writes `contents` to `path` through a temporary file and a rename, so readers never see half.
pub fn replace_private(path: &Path, contents: &[u8]) -> Result<(), RunDirError> {
    use std::io::Write;
    let temporary = path.with_extension("tmp");
    let _ = fs::remove_file(&temporary);
    let mut file = create_private(&temporary)?;
    let wrote = file.write_all(contents).and_then(|_| file.sync_all());
    wrote.and_then(|_| fs::rename(&temporary, path)).map_err(|source| RunDirError::File { path: path.into(), source })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn run_dir_is_private_and_must_be_new() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("runs/one");
        create_run_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let file = create_private(&dir.join("errors.csv")).unwrap();
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        assert!(matches!(create_run_dir(&dir), Err(RunDirError::InUse { .. })));
    }

    #[test]
    fn planted_symlinks_are_refused() {
        let scratch = tempfile::tempdir().unwrap();
        let target = scratch.path().join("elsewhere");
        fs::write(&target, "keep").unwrap();
        let link = scratch.path().join("errors.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(create_private(&link).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        let dir_link = scratch.path().join("run");
        std::os::unix::fs::symlink(scratch.path(), &dir_link).unwrap();
        assert!(matches!(create_run_dir(&dir_link), Err(RunDirError::NotADirectory { .. })));
    }
}
