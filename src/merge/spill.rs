//! The spilled strategy's files: contacts (merged from a run of rows, or a whole finished group)
//! written as fragments to one of [`PARTITIONS`] files chosen by a hash of (instance, contact),
//! in a private temporary directory that is removed when the last handle to it is dropped.
//!
//! A fragment carries its input lines, so line numbers stay exact. Fragments are only ever
//! appended in input order (a fragment holds rows read after those of every earlier fragment of
//! its contact), so merging a partition front to back, later fragments winning per key, gives the
//! same contact as merging every row in memory.

use super::memory::{MemoryMerge, apply_set};
use super::{Contact, MergeError};
use crate::input::Location;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Enough that one partition of a 10 GB export fits a 256 MiB budget, few enough to keep open.
pub const PARTITIONS: usize = 256;
const WRITE_BUFFER: usize = 16 * 1024;
/// Longer than any row could hold: a length past it means the file is corrupt.
const MAX_STRING: usize = 1 << 30;
/// What the open writers cost, counted against the budget.
pub const WRITERS_BYTES: usize = PARTITIONS * WRITE_BUFFER;

/// A 64-bit hash of a contact's key, the same throughout a run (`DefaultHasher::new` has fixed keys).
pub fn key_hash(instance_id: &str, contact_id: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    instance_id.hash(&mut hasher);
    contact_id.hash(&mut hasher);
    hasher.finish()
}

pub struct Spill {
    dir: tempfile::TempDir,
    /// One per partition, created on its first fragment.
    writers: Vec<Option<BufWriter<File>>>,
    scratch: Vec<u8>,
    fragments: u64,
}

impl Spill {
    /// Creates the temporary directory (in `parent`, else the system's) and its partition files.
    pub fn create(parent: Option<&Path>) -> Result<Spill, MergeError> {
        let shown = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let spill_error = |source| MergeError::Spill { dir: shown.clone(), source };
        let mut builder = tempfile::Builder::new();
        builder.prefix("connect-attrs-merge-");
        let dir = match parent {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .map_err(spill_error)?;
        tracing::debug!("spilling to {}", dir.path().display());
        Ok(Spill { dir, writers: (0..PARTITIONS).map(|_| None).collect(), scratch: Vec::new(), fragments: 0 })
    }

    /// Fragments written so far: an upper bound on the contacts in the files.
    pub fn fragments(&self) -> u64 {
        self.fragments
    }

    pub fn write(&mut self, contact: &Contact) -> Result<(), MergeError> {
        let partition = (key_hash(&contact.instance_id, &contact.contact_id) % PARTITIONS as u64) as usize;
        self.scratch.clear();
        encode(contact, &mut self.scratch);
        self.fragments += 1;
        let dir = self.dir.path();
        let writer = match &mut self.writers[partition] {
            Some(writer) => writer,
            slot => {
                let file = File::create(dir.join(partition_name(partition))).map_err(|e| spill_error(dir, e))?;
                slot.insert(BufWriter::with_capacity(WRITE_BUFFER, file))
            }
        };
        writer.write_all(&self.scratch).map_err(|e| spill_error(dir, e))
    }

    /// Flushes every file: a full disk shows up here at the latest, before anything is sent.
    /// (No fsync: the files die with the run, and space is reserved, so ENOSPC comes at write.)
    pub fn finish(mut self) -> Result<Partitions, MergeError> {
        let mut paths = Vec::new();
        for index in 0..self.writers.len() {
            if let Some(writer) = self.writers[index].take() {
                writer.into_inner().map_err(|err| spill_error(self.dir.path(), err.into_error()))?;
                paths.push(self.dir.path().join(partition_name(index)));
            }
        }
        Ok(Partitions { dir: Arc::new(self.dir), paths })
    }
}

/// Names the directory the user chose (the parent of ours), which is what they can fix.
fn spill_error(ours: &Path, source: io::Error) -> MergeError {
    MergeError::Spill { dir: ours.parent().unwrap_or(ours).to_path_buf(), source }
}

fn partition_name(index: usize) -> String {
    format!("part-{index:03}")
}

/// Written partition files; the directory goes away with the last clone of `dir`.
pub struct Partitions {
    pub dir: Arc<tempfile::TempDir>,
    pub paths: Vec<PathBuf>,
}

/// Reads one partition back, fragment by fragment, in the order written.
pub fn read_partition(path: &Path, mut each: impl FnMut(Contact)) -> Result<(), MergeError> {
    let file = File::open(path).map_err(|source| MergeError::ReadBack { path: path.to_path_buf(), source })?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    loop {
        match decode(&mut reader) {
            Ok(Some(contact)) => each(contact),
            Ok(None) => return Ok(()),
            Err(source) => return Err(MergeError::ReadBack { path: path.to_path_buf(), source }),
        }
    }
}

/// Merges one partition in memory: the final contacts of every key that hashes to it.
pub fn merge_partition(path: &Path, set: &[(String, String)]) -> Result<Vec<Contact>, MergeError> {
    let mut merge = MemoryMerge::new();
    read_partition(path, |fragment| merge.add_contact(fragment))?;
    Ok(merge.finish(set))
}

/// Reads a partition whose fragments are whole contacts (grouped input): no merging needed.
pub fn whole_contacts(path: &Path, set: &[(String, String)]) -> Result<Vec<Contact>, MergeError> {
    let mut contacts = Vec::new();
    read_partition(path, |mut contact| {
        apply_set(&mut contact, set);
        contacts.push(contact);
    })?;
    Ok(contacts)
}

fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_str(text: &str, out: &mut Vec<u8>) {
    put_varint(text.len() as u64, out);
    out.extend_from_slice(text.as_bytes());
}

/// lines, instance, contact, attributes: lengths as LEB128 varints, strings as raw UTF-8.
fn encode(contact: &Contact, out: &mut Vec<u8>) {
    put_varint(contact.lines.len() as u64, out);
    for location in &contact.lines {
        put_varint(u64::from(location.input), out);
        put_varint(location.line, out);
    }
    put_str(&contact.instance_id, out);
    put_str(&contact.contact_id, out);
    put_varint(contact.attributes.len() as u64, out);
    for (key, value) in &contact.attributes {
        put_str(key, out);
        put_str(value, out);
    }
}

fn get_varint(reader: &mut impl Read) -> io::Result<u64> {
    let (mut value, mut shift) = (0u64, 0);
    loop {
        let mut byte = [0u8];
        reader.read_exact(&mut byte)?;
        value |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] < 0x80 {
            return Ok(value);
        }
        shift += 7;
        if shift > 63 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt length"));
        }
    }
}

fn get_str(reader: &mut impl Read) -> io::Result<String> {
    let len = usize::try_from(get_varint(reader)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if len > MAX_STRING {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt string length"));
    }
    let mut bytes = vec![0; len];
    reader.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// One fragment, or `None` at a clean end of file.
fn decode(reader: &mut impl io::BufRead) -> io::Result<Option<Contact>> {
    if reader.fill_buf()?.is_empty() {
        return Ok(None);
    }
    let lines = get_varint(reader)?;
    let mut contact = Contact { lines: Vec::with_capacity(lines.min(1024) as usize), ..Contact::default() };
    for _ in 0..lines {
        let input = u32::try_from(get_varint(reader)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        contact.lines.push(Location { input, line: get_varint(reader)? });
    }
    contact.instance_id = get_str(reader)?;
    contact.contact_id = get_str(reader)?;
    for _ in 0..get_varint(reader)? {
        let key = get_str(reader)?;
        contact.attributes.insert(key, get_str(reader)?);
    }
    Ok(Some(contact))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_round_trip_and_later_ones_win() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::create(Some(dir.path())).unwrap();
        let contact = |line: u64, value: &str| Contact {
            instance_id: "i".into(),
            contact_id: "c1".into(),
            attributes: [("Tier".to_string(), value.to_string()), (format!("K{line}"), "é,\n\"".to_string())].into(),
            lines: vec![Location { input: 1, line }],
        };
        spill.write(&contact(2, "Silver")).unwrap();
        spill.write(&contact(300, "Gold")).unwrap();
        let partitions = spill.finish().unwrap();
        let merged: Vec<Contact> = partitions.paths.iter().flat_map(|p| merge_partition(p, &[]).unwrap()).collect();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].attributes["Tier"], "Gold");
        assert_eq!(merged[0].attributes["K2"], "é,\n\"");
        assert_eq!(merged[0].lines, [Location { input: 1, line: 2 }, Location { input: 1, line: 300 }]);
        let path = partitions.dir.path().to_path_buf();
        drop(partitions);
        assert!(!path.exists(), "the temporary directory is removed on drop");
    }

    #[test]
    fn an_unusable_temp_dir_is_a_spill_error_naming_it() {
        let err = Spill::create(Some(Path::new("/dev/null/x"))).err().unwrap();
        assert!(err.to_string().contains("/dev/null/x"), "{err}");
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_short_read() {
        let mut bytes = Vec::new();
        encode(&Contact { contact_id: "c".into(), ..Contact::default() }, &mut bytes);
        bytes.pop();
        assert!(decode(&mut &bytes[..]).is_err());
    }
}
