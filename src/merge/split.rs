//! Partition files too large to merge within the memory budget are split again before anything is
//! merged: each by the next byte of its contacts' hash into as many files as it takes (a power of
//! two, at most 256), and those again, until every file fits or holds a single contact (whose rows
//! no hash can part). The hash spreads the rows of a 10 GB export over 256 partitions; this is
//! what lets a 100 GB one run in the same memory.
//!
//! A split reads the file front to back and appends each fragment to its new file unchanged, so
//! every file keeps its rows in input order, which is what lets later rows win.

use super::MergeError;
use super::decode::Cursor;
use super::encode::contact_hash;
use super::spool::{self, Spool};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

/// Files one split makes at most: one per value of a byte of the hash.
const FAN_OUT: usize = 256;
/// Bytes gathered per new file before they are appended to it.
const WRITE_BUFFER: usize = 64 << 10;
/// The partition files were made by the hash's lowest byte (see `Merger`); a split at level `n`
/// uses byte `n`, and there are eight.
const LEVELS: u32 = 8;

/// `files` (made by the hash's lowest byte) with every one larger than `limit` bytes replaced by
/// the files it splits into. The split files are removed.
pub fn split_large(spool: &Spool, files: Vec<PathBuf>, limit: u64) -> Result<Vec<PathBuf>, MergeError> {
    let mut work: Vec<(PathBuf, u32)> = files.into_iter().rev().map(|path| (path, 1)).collect();
    let mut done = Vec::new();
    while let Some((path, level)) = work.pop() {
        let size = std::fs::metadata(&path).map_err(|source| read_error(&path, source))?.len();
        if size <= limit || level >= LEVELS {
            done.push(path);
            continue;
        }
        let split = split(spool, &path, level, fan_out(size, limit))?;
        let _ = std::fs::remove_file(&path);
        if split.one_contact {
            tracing::debug!(
                "{}: {size} bytes of one contact's rows, over the {limit}-byte piece limit: merged whole",
                path.display()
            );
            done.extend(split.parts);
        } else {
            tracing::debug!(
                "{}: {size} bytes, over the {limit}-byte piece limit: split in {}",
                path.display(),
                split.parts.len()
            );
            work.extend(split.parts.into_iter().rev().map(|part| (part, level + 1)));
        }
    }
    Ok(done)
}

struct Split {
    /// The files written, in order of the hash byte.
    parts: Vec<PathBuf>,
    /// Every row was of one contact (so `parts` is one file, and no split can part them).
    one_contact: bool,
}

/// Files to split `size` bytes into so that each holds about half the limit: room for an uneven
/// hash, and few files (each costs a file, and opening it at every write).
fn fan_out(size: u64, limit: u64) -> usize {
    let wanted = size.div_ceil((limit / 2).max(1));
    usize::try_from(wanted).unwrap_or(FAN_OUT).clamp(2, FAN_OUT).next_power_of_two()
}

/// Splits one file into `fan_out` (a power of two) by byte `level` of its contacts' hash.
fn split(spool: &Spool, path: &Path, level: u32, fan_out: usize) -> Result<Split, MergeError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("part").to_string();
    let part_name = |index: usize| format!("{name}-{index:02x}");
    let mut buffers: Vec<Vec<u8>> = (0..fan_out).map(|_| Vec::new()).collect();
    let mut fragments = Fragments::open(spool, path)?;
    let mut first: Option<Vec<u8>> = None;
    let mut one_contact = true;
    while let Some((fragment, contact)) = fragments.next()? {
        match &first {
            None => first = Some(contact.to_vec()),
            Some(first) => one_contact &= first.as_slice() == contact,
        }
        let index = ((contact_hash(contact) >> (8 * level)) as usize) & (fan_out - 1);
        let buffer = &mut buffers[index];
        if !buffer.is_empty() && buffer.len() + fragment.len() > WRITE_BUFFER {
            spool.append(&part_name(index), buffer)?;
            buffer.clear();
        }
        buffer.extend_from_slice(fragment);
    }
    let mut parts = Vec::new();
    for (index, buffer) in buffers.iter().enumerate() {
        if !buffer.is_empty() {
            spool.append(&part_name(index), buffer)?;
        }
        let part = spool.path(&part_name(index));
        if spool.written(&part) > 0 {
            parts.push(part);
        }
    }
    Ok(Split { parts, one_contact })
}

fn read_error(path: &Path, source: io::Error) -> MergeError {
    MergeError::ReadBack { path: path.to_path_buf(), source }
}

/// A fragment's bytes, with its length prefix, and its contact's bytes.
type Fragment<'f> = (&'f [u8], &'f [u8]);

/// The fragments of a file, one at a time, each with its length prefix (the bytes to append to
/// another file as they are) and its contact. Frames are checked as they are read, and the file's
/// size at the end.
struct Fragments<'s> {
    spool: &'s Spool,
    path: &'s Path,
    reader: BufReader<std::fs::File>,
    /// The frame being read, and where the next fragment starts in it.
    frame: Vec<u8>,
    at: usize,
    /// Bytes of the file read so far.
    read: u64,
}

impl<'s> Fragments<'s> {
    fn open(spool: &'s Spool, path: &'s Path) -> Result<Fragments<'s>, MergeError> {
        let file = std::fs::File::open(path).map_err(|source| read_error(path, source))?;
        let reader = BufReader::with_capacity(1 << 20, file);
        Ok(Fragments { spool, path, reader, frame: Vec::new(), at: 0, read: 0 })
    }

    fn next(&mut self) -> Result<Option<Fragment<'_>>, MergeError> {
        while self.at >= self.frame.len() {
            self.frame.clear();
            let frame = spool::read_frame(&mut self.reader, self.read, &mut self.frame)
                .map_err(|source| read_error(self.path, source))?;
            let Some(size) = frame else {
                let written = self.spool.written(self.path);
                if self.read != written {
                    let what = format!("it holds {} bytes, {written} were written", self.read);
                    return Err(read_error(self.path, spool::damaged(what)));
                }
                return Ok(None);
            };
            self.read += size;
            self.at = 0;
        }
        let start = self.at;
        let mut cursor = Cursor::at(&self.frame, start);
        let contact = cursor.next_contact().map_err(|source| read_error(self.path, source))?;
        self.at = cursor.position();
        // The loop above left a fragment to read, so there is a contact.
        let contact = contact.unwrap_or_default();
        Ok(Some((&self.frame[start..self.at], contact)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Location, Row};
    use crate::merge::encode::{Keys, encode_row};
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn fragment(keys: &mut Keys, line: u64, contact: &str) -> Vec<u8> {
        let row = Row::new(Location { input: 0, line }, "i", contact, &[("K", &line.to_string())]);
        let mut out = Vec::new();
        encode_row(&row, keys, &mut out);
        out
    }

    /// Each contact's fragments, in file order, over all the files.
    fn by_contact(spool: &Spool, files: &[PathBuf]) -> HashMap<Vec<u8>, Vec<Vec<u8>>> {
        let mut seen: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
        for file in files {
            let mut fragments = Fragments::open(spool, file).unwrap();
            while let Some((fragment, contact)) = fragments.next().unwrap() {
                seen.entry(contact.to_vec()).or_default().push(fragment.to_vec());
            }
        }
        seen
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever the files and the limit: every fragment is kept once, each contact's fragments
        /// stay in order and in one file, and every file left over the limit is one contact's.
        #[test]
        fn splitting_keeps_every_row_in_order_and_each_contact_whole(
            files in proptest::collection::vec(proptest::collection::vec(0u16..400, 0..300), 1..4),
            one_big in any::<bool>(),
            limit in 0u64..3000,
        ) {
            let parent = tempfile::tempdir().unwrap();
            let spool = Spool::create(Some(parent.path())).unwrap();
            let mut keys = Keys::new(1 << 20);
            let mut paths = Vec::new();
            let mut line = 0;
            for (f, contacts) in files.iter().enumerate() {
                let name = format!("part-{f:03}");
                let mut bytes = Vec::new();
                for &c in contacts {
                    line += 1;
                    // Contacts of a file are distinct from other files' (as partitions are).
                    bytes.extend(fragment(&mut keys, line, &format!("c{f}-{c}")));
                }
                if one_big && f == 0 {
                    for _ in 0..200 {
                        line += 1;
                        bytes.extend(fragment(&mut keys, line, "the-big-one"));
                    }
                }
                if !bytes.is_empty() {
                    spool.append(&name, &bytes).unwrap();
                    paths.push(spool.path(&name));
                }
            }
            let before = by_contact(&spool, &paths);
            let after = split_large(&spool, paths.clone(), limit).unwrap();
            prop_assert_eq!(by_contact(&spool, &after), before);
            for file in &after {
                let size = std::fs::metadata(file).unwrap().len();
                let contacts = by_contact(&spool, std::slice::from_ref(file)).len();
                // Split at every level (`part-NNN` and a `-NN` per split): its contacts share every
                // hash bit the splits looked at. With a limit of a few bytes a split takes only a
                // few bits of each byte, so two contacts can share all of them (`[[303, 223]]` at
                // 24 bytes): the file is merged whole, as one contact's rows are.
                let splits = file.file_name().unwrap().to_string_lossy().matches('-').count() - 1;
                let deepest = splits as u32 >= LEVELS - 1;
                prop_assert!(size <= limit || contacts == 1 || deepest, "{} has {size} bytes of {contacts} contacts", file.display());
            }
            let mut contacts_in = HashMap::new();
            for file in &after {
                for contact in by_contact(&spool, std::slice::from_ref(file)).into_keys() {
                    prop_assert!(contacts_in.insert(contact, file.clone()).is_none(), "a contact in two files");
                }
            }
            // Split files are gone; only the files listed are left.
            let mut left: Vec<PathBuf> = std::fs::read_dir(spool.dir()).unwrap().map(|e| e.unwrap().path()).collect();
            left.sort();
            let mut listed = after.clone();
            listed.sort();
            prop_assert_eq!(left, listed);
        }
    }

    #[test]
    fn a_split_makes_files_of_about_half_the_limit() {
        assert_eq!(fan_out(4_000_000, 1 << 20), 8);
        assert_eq!(fan_out(1_048_577, 1 << 20), 4);
        assert_eq!(fan_out(10, 0), 16);
        assert_eq!(fan_out(u64::MAX, 1), FAN_OUT);
        assert_eq!(fan_out(1, 1 << 20), 2);
    }

    #[test]
    fn rows_cut_short_are_an_error_naming_the_file() {
        let parent = tempfile::tempdir().unwrap();
        let spool = Spool::create(Some(parent.path())).unwrap();
        let mut keys = Keys::new(1 << 20);
        let mut bytes = fragment(&mut keys, 1, "a");
        bytes.extend(fragment(&mut keys, 2, "b"));
        bytes.pop();
        spool.append("part-000", &bytes).unwrap();
        let err = split_large(&spool, vec![spool.path("part-000")], 0).err().unwrap();
        assert!(err.to_string().contains("part-000"), "{err}");
    }

    /// A cut where one frame ends leaves every frame whole: the size written finds it.
    #[test]
    fn a_file_cut_between_two_frames_is_an_error() {
        let parent = tempfile::tempdir().unwrap();
        let spool = Spool::create(Some(parent.path())).unwrap();
        let mut keys = Keys::new(1 << 20);
        let first = spool.append("part-000", &fragment(&mut keys, 1, "a")).unwrap();
        spool.append("part-000", &fragment(&mut keys, 2, "b")).unwrap();
        let path = spool.path("part-000");
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..first as usize]).unwrap();
        let err = split_large(&spool, vec![path], 0).err().unwrap();
        assert!(err.to_string().contains("were written"), "{err}");
    }
}
