//! The merge's temporary files: a private directory (in `--temp-dir`, else the system's) that is
//! removed when the last handle to it is dropped, holding files of encoded rows that only ever
//! grow at their end. Each write opens, appends and closes, so no file handle is held between
//! writes however many partitions there are.

use super::MergeError;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Spool {
    dir: Arc<tempfile::TempDir>,
}

impl Spool {
    /// Creates the temporary directory.
    pub fn create(parent: Option<&Path>) -> Result<Spool, MergeError> {
        let shown = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let mut builder = tempfile::Builder::new();
        builder.prefix("connect-attrs-merge-");
        let dir = match parent {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .map_err(|source| MergeError::Spill { dir: shown, source })?;
        tracing::debug!("spilling to {}", dir.path().display());
        Ok(Spool { dir: Arc::new(dir) })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Appends `bytes` to the file `name`, creating it. A full disk is reported here, before
    /// anything is sent. (No fsync: the files die with the run.)
    pub fn append(&self, name: &str, bytes: &[u8]) -> Result<(), MergeError> {
        let write = || -> io::Result<()> {
            let mut file = OpenOptions::new().create(true).append(true).open(self.path(name))?;
            file.write_all(bytes)
        };
        write().map_err(|source| self.error(source))
    }

    /// Names the directory the user chose (the parent of ours), which is what they can fix.
    fn error(&self, source: io::Error) -> MergeError {
        let ours = self.dir.path();
        MergeError::Spill { dir: ours.parent().unwrap_or(ours).to_path_buf(), source }
    }
}

/// Reads `len` bytes at `offset` of `path`, or the whole file with `None`, into `bytes`
/// (emptied first; its capacity is reused).
pub fn read_into(path: &Path, range: Option<(u64, usize)>, bytes: &mut Vec<u8>) -> Result<(), MergeError> {
    bytes.clear();
    let mut read = || -> io::Result<()> {
        let mut file = File::open(path)?;
        match range {
            None => {
                file.read_to_end(bytes)?;
            }
            Some((offset, len)) => {
                use std::io::Seek;
                file.seek(io::SeekFrom::Start(offset))?;
                bytes.resize(len, 0);
                file.read_exact(bytes)?;
            }
        }
        Ok(())
    };
    read().map_err(|source| MergeError::ReadBack { path: path.to_path_buf(), source })
}

/// [`read_into`] a new buffer.
pub fn read(path: &Path, range: Option<(u64, usize)>) -> Result<Vec<u8>, MergeError> {
    let mut bytes = Vec::new();
    read_into(path, range, &mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_read_back_and_the_directory_goes_with_the_last_handle() {
        let parent = tempfile::tempdir().unwrap();
        let spool = Spool::create(Some(parent.path())).unwrap();
        spool.append("part", b"abc").unwrap();
        spool.append("part", b"def").unwrap();
        assert_eq!(read(&spool.path("part"), None).unwrap(), b"abcdef");
        assert_eq!(read(&spool.path("part"), Some((2, 3))).unwrap(), b"cde");
        let copy = spool.clone();
        drop(spool);
        assert!(copy.dir().exists());
        drop(copy);
        assert!(std::fs::read_dir(parent.path()).unwrap().next().is_none());
    }

    #[test]
    fn an_unusable_temp_dir_is_a_spill_error_naming_it() {
        let err = Spool::create(Some(Path::new("/dev/null/x"))).err().unwrap();
        assert!(err.to_string().contains("/dev/null/x"), "{err}");
    }
}
