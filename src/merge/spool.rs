//! The merge's temporary files: a private directory (in `--temp-dir`, else the system's) that is
//! removed when the last handle to it is dropped, holding files of encoded rows that only ever
//! grow at their end. [`Spool::append`] opens, appends and closes; the thread that spills the
//! partitions writes through an [`Appender`], which keeps its files open between writes.
//!
//! Each write is one frame: the length of what was written and the CRC-32 of the length and the
//! bytes, then the bytes. A frame holds whole rows. Reading checks every frame, so rows that the disk or the file system
//! changed or cut short between writing and reading back stop the run with an error; they never
//! become other attribute values.

use super::MergeError;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Spool {
    dir: Arc<tempfile::TempDir>,
    /// The bytes written to each file: a file found shorter or longer when read back was damaged
    /// (a cut between two frames leaves every frame whole).
    written: Arc<Mutex<HashMap<PathBuf, u64>>>,
}

impl Spool {
    /// Creates the temporary directory.
    pub fn create(parent: Option<&Path>) -> Result<Spool, MergeError> {
        let shown = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let mut builder = tempfile::Builder::new();
        builder.prefix("connect-attrs-merge-");
        // The files hold the export's personal data, in a directory every user can list (/tmp):
        // only this user may enter the directory or read them, as in the run directory.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let dir = match parent {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .map_err(|source| MergeError::Spill { dir: shown, source })?;
        tracing::debug!("spilling to {}", dir.path().display());
        Ok(Spool { dir: Arc::new(dir), written: Arc::default() })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Appends `bytes` (whole rows) to the file `name` as one frame, creating the file; returns the
    /// bytes the file grew by. A full disk is reported here, before anything is sent. (No fsync:
    /// the files die with the run.)
    pub fn append(&self, name: &str, bytes: &[u8]) -> Result<u64, MergeError> {
        let write = || write_frame(&mut self.open_append(name)?, bytes);
        write().map_err(|source| self.error(source))?;
        Ok(self.note_written(name, bytes.len()))
    }

    fn open_append(&self, name: &str) -> io::Result<File> {
        let mut options = OpenOptions::new();
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.create(true).append(true).open(self.path(name))
    }

    /// Counts a frame of `len` bytes appended to the file `name`; returns what the file grew by.
    fn note_written(&self, name: &str, len: usize) -> u64 {
        let grew = frame_len(len);
        if let Ok(mut written) = self.written.lock() {
            *written.entry(self.path(name)).or_default() += grew;
        }
        grew
    }

    /// The bytes written to the file at `path` so far.
    pub fn written(&self, path: &Path) -> u64 {
        self.written.lock().ok().and_then(|written| written.get(path).copied()).unwrap_or(0)
    }

    /// Reads the frames in `len` bytes at `offset` of `path`, or in the whole file with `None`,
    /// into `bytes` (emptied first; its capacity is reused): what they hold, checked.
    pub fn read_into(&self, path: &Path, range: Option<(u64, usize)>, bytes: &mut Vec<u8>) -> Result<(), MergeError> {
        bytes.clear();
        let read = |bytes: &mut Vec<u8>| -> io::Result<()> {
            let mut file = File::open(path)?;
            let (start, len) = match range {
                None => {
                    let (size, written) = (file.metadata()?.len(), self.written(path));
                    if size != written {
                        return Err(damaged(format!("it holds {size} bytes, {written} were written")));
                    }
                    (0, size)
                }
                Some((offset, len)) => {
                    use std::io::Seek;
                    file.seek(io::SeekFrom::Start(offset))?;
                    (offset, len as u64)
                }
            };
            bytes.reserve(len as usize);
            let (mut reader, mut at) = (file.take(len), start);
            while let Some(size) = read_frame(&mut reader, at, bytes)? {
                at += size;
            }
            if at != start + len {
                return Err(damaged(format!("it ends at byte {at}, before byte {}", start + len)));
            }
            Ok(())
        };
        read(bytes).map_err(|source| MergeError::ReadBack { path: path.to_path_buf(), source })
    }

    /// [`Spool::read_into`] a new buffer.
    pub fn read(&self, path: &Path, range: Option<(u64, usize)>) -> Result<Vec<u8>, MergeError> {
        let mut bytes = Vec::new();
        self.read_into(path, range, &mut bytes)?;
        Ok(bytes)
    }

    /// Names the directory the user chose (the parent of ours), which is what they can fix.
    pub fn error(&self, source: io::Error) -> MergeError {
        let ours = self.dir.path();
        MergeError::Spill { dir: ours.parent().unwrap_or(ours).to_path_buf(), source }
    }
}

/// Appends frames as [`Spool::append`] does, but keeps the files open between writes: opening a
/// file (created in append mode) took about 34 us on ext4, a third of the spilling thread's time.
/// At most `limit` files are held. Past that, or when opening fails while some are held (the
/// process may be out of file descriptors), the held ones are closed first.
pub struct Appender {
    spool: Spool,
    open: HashMap<String, File>,
    limit: usize,
}

impl Appender {
    pub fn new(spool: Spool, limit: usize) -> Appender {
        Appender { spool, open: HashMap::new(), limit: limit.max(1) }
    }

    /// [`Spool::append`], through a file kept open.
    pub fn append(&mut self, name: &str, bytes: &[u8]) -> Result<u64, MergeError> {
        let written = self.file(name).and_then(|file| write_frame(file, bytes));
        written.map_err(|source| self.spool.error(source))?;
        Ok(self.spool.note_written(name, bytes.len()))
    }

    fn file(&mut self, name: &str) -> io::Result<&mut File> {
        if !self.open.contains_key(name) {
            if self.open.len() >= self.limit {
                self.open.clear();
            }
            let file = match self.spool.open_append(name) {
                Err(_) if !self.open.is_empty() => {
                    self.open.clear();
                    self.spool.open_append(name)?
                }
                opened => opened?,
            };
            self.open.insert(name.to_string(), file);
        }
        Ok(self.open.get_mut(name).expect("opened above"))
    }
}

/// Writes `bytes` as one frame, header and bytes in one system call where the file takes them.
fn write_frame(file: &mut File, bytes: &[u8]) -> io::Result<()> {
    let header = frame_header(bytes);
    let wrote = loop {
        match file.write_vectored(&[io::IoSlice::new(&header), io::IoSlice::new(bytes)]) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            wrote => break wrote?,
        }
    };
    if wrote < FRAME_HEADER {
        file.write_all(&header[wrote..])?;
        file.write_all(bytes)
    } else {
        file.write_all(&bytes[wrote - FRAME_HEADER..])
    }
}

/// A frame's header: the length of its bytes (u64) and the CRC-32 (u32) of [`checksum`],
/// little-endian.
const FRAME_HEADER: usize = 12;

/// What appending `len` bytes as one frame adds to a file.
pub fn frame_len(len: usize) -> u64 {
    (FRAME_HEADER + len) as u64
}

fn frame_header(bytes: &[u8]) -> [u8; FRAME_HEADER] {
    let len = bytes.len() as u64;
    let mut header = [0u8; FRAME_HEADER];
    header[..8].copy_from_slice(&len.to_le_bytes());
    header[8..].copy_from_slice(&checksum(len, bytes).to_le_bytes());
    header
}

/// A frame's CRC-32: of its length, then its bytes. (The length counts: an empty frame's CRC of
/// its bytes alone would be 0, so zeroed blocks on disk would read as empty frames.)
fn checksum(len: u64, bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len.to_le_bytes());
    hasher.update(bytes);
    hasher.finalize()
}

/// The frame that starts at the beginning of `bytes`: (its length, its CRC-32), if a header is there.
fn parse_header(bytes: &[u8]) -> Option<(u64, u32)> {
    let header = bytes.get(..FRAME_HEADER)?;
    let len = u64::from_le_bytes(header[..8].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(header[8..].try_into().expect("4 bytes"));
    Some((len, crc))
}

pub fn damaged(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("the temporary file was damaged on disk: {what}"))
}

/// Reads one frame from `reader`, appends what it holds to `out` and checks it; returns the
/// frame's size in the file, `None` at the end of the input. `at` is where the frame starts, for
/// the error.
pub fn read_frame(reader: &mut impl Read, at: u64, out: &mut Vec<u8>) -> io::Result<Option<u64>> {
    let mut header = [0u8; FRAME_HEADER];
    let mut filled = 0;
    while filled < FRAME_HEADER {
        match reader.read(&mut header[filled..])? {
            0 if filled == 0 => return Ok(None),
            0 => return Err(damaged(format!("cut short at byte {at}"))),
            n => filled += n,
        }
    }
    let (len, crc) = parse_header(&header).expect("a whole header");
    // Read as it comes (no zeroing first): a damaged length must not allocate more than the file holds.
    let start = out.len();
    let got = reader.take(len).read_to_end(out)?;
    if got as u64 != len {
        return Err(damaged(format!("the frame at byte {at} runs past the end")));
    }
    if checksum(len, &out[start..]) != crc {
        return Err(damaged(format!("the checksum of the frame at byte {at} does not match")));
    }
    Ok(Some(FRAME_HEADER as u64 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_read_back_and_the_directory_goes_with_the_last_handle() {
        let parent = tempfile::tempdir().unwrap();
        let spool = Spool::create(Some(parent.path())).unwrap();
        assert_eq!(spool.append("part", b"abc").unwrap(), 15);
        assert_eq!(spool.append("part", b"def").unwrap(), 15);
        assert_eq!(spool.read(&spool.path("part"), None).unwrap(), b"abcdef");
        assert_eq!(spool.read(&spool.path("part"), Some((15, 15))).unwrap(), b"def");
        let mut file = File::open(spool.path("part")).unwrap();
        let mut frames = Vec::new();
        assert_eq!(read_frame(&mut file, 0, &mut frames).unwrap(), Some(15));
        assert_eq!(frames, b"abc");
        assert_eq!(read_frame(&mut file, 15, &mut frames).unwrap(), Some(15));
        assert_eq!(frames, b"abcdef");
        assert_eq!(read_frame(&mut file, 30, &mut frames).unwrap(), None);
        let copy = spool.clone();
        drop(spool);
        assert!(copy.dir().exists());
        drop(copy);
        assert!(std::fs::read_dir(parent.path()).unwrap().next().is_none());
    }

    /// Any change to a file of frames, a byte changed or the file cut short anywhere, is an
    /// error when it is read back, whichever way it is read.
    #[test]
    fn every_damaged_byte_and_every_cut_is_found() {
        let parent = tempfile::tempdir().unwrap();
        let spool = Spool::create(Some(parent.path())).unwrap();
        spool.append("part", b"InstanceId,Gold").unwrap();
        spool.append("part", b"").unwrap();
        spool.append("part", &[0x80; 300]).unwrap();
        let path = spool.path("part");
        let good = std::fs::read(&path).unwrap();
        let read_both = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            let whole = spool.read(&path, None);
            // Frame by frame, then the size, as a split reads a file.
            let mut frames = Vec::new();
            let mut reader = bytes;
            let by_frame = loop {
                match read_frame(&mut reader, 0, &mut frames) {
                    Ok(Some(_)) => {}
                    Ok(None) if bytes.len() as u64 == spool.written(&path) => break Ok(frames),
                    Ok(None) => break Err(damaged("short".into())),
                    Err(err) => break Err(err),
                }
            };
            (whole.map_err(|e| e.to_string()), by_frame.map_err(|e| e.to_string()))
        };
        let (whole, by_frame) = read_both(&good);
        assert_eq!(whole.unwrap(), by_frame.unwrap());
        for at in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                let (whole, by_frame) = read_both(&bad);
                assert!(whole.is_err() && by_frame.is_err(), "byte {at} ^ {flip:#x} went unnoticed");
                assert!(whole.unwrap_err().contains("damaged"));
            }
        }
        for cut in 1..good.len() {
            let (whole, by_frame) = read_both(&good[..cut]);
            assert!(whole.is_err() && by_frame.is_err(), "a cut at {cut} went unnoticed");
        }
    }

    /// Zeroed blocks (a common way for a disk to lose data) are not empty frames.
    #[test]
    fn zeroed_frames_are_found() {
        let parent = tempfile::tempdir().unwrap();
        let spool = Spool::create(Some(parent.path())).unwrap();
        let first = spool.append("part", b"first").unwrap();
        let second = spool.append("part", &[7u8; 24]).unwrap();
        let path = spool.path("part");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[first as usize..].fill(0);
        std::fs::write(&path, &bytes).unwrap();
        assert!(spool.read(&path, None).is_err());
        assert!(spool.read(&path, Some((first, second as usize))).is_err());
    }

    /// Frames appended through an `Appender` holding fewer files than it writes to are the bytes
    /// `Spool::append` writes, file by file, and count as written.
    #[test]
    fn an_appender_writes_what_append_writes_whatever_it_holds_open() {
        let parent = tempfile::tempdir().unwrap();
        let (ours, theirs) = (Spool::create(Some(parent.path())).unwrap(), Spool::create(Some(parent.path())).unwrap());
        let mut appender = Appender::new(ours.clone(), 2);
        for round in 0..4u8 {
            for part in ["a", "b", "c", "d", "e"] {
                let bytes = vec![round; usize::from(round) * 1000 + part.len()];
                assert_eq!(appender.append(part, &bytes).unwrap(), theirs.append(part, &bytes).unwrap());
            }
            assert!(appender.open.len() <= 2);
        }
        drop(appender);
        for part in ["a", "b", "c", "d", "e"] {
            let (path, expected) = (ours.path(part), std::fs::read(theirs.path(part)).unwrap());
            assert_eq!(std::fs::read(&path).unwrap(), expected, "{part}");
            assert_eq!(ours.written(&path), expected.len() as u64);
            assert_eq!(ours.read(&path, None).unwrap(), theirs.read(&theirs.path(part), None).unwrap());
        }
    }

    #[test]
    fn an_unusable_temp_dir_is_a_spill_error_naming_it() {
        let err = Spool::create(Some(Path::new("/dev/null/x"))).err().unwrap();
        assert!(err.to_string().contains("/dev/null/x"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn only_this_user_can_read_the_spilled_rows() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let spool = Spool::create(Some(parent.path())).unwrap();
        spool.append("part-000", b"c-1,Gold\n").unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(spool.dir()), 0o700);
        assert_eq!(mode(&spool.path("part-000")), 0o600);
    }
}
