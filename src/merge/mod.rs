//! merge: rows -> contacts. Rows of one contact may be anywhere in any input; later rows win per
//! key. A contact is final only when every row has been read, so nothing is sent before then.
//!
//! [`Merger`] takes rows in input order and, once every input is read, yields the final contacts
//! as an iterator, in bounded memory (`--memory-limit`). Three strategies behind it:
//! - **grouped** (streaming): while each contact's rows are adjacent (see [`grouped`]), a finished
//!   contact costs no memory: it waits in a small buffer, then in the partition files, until the
//!   end of input proves it final. Constant memory for an input sorted by contact.
//! - **in memory**: a map of every contact, used when rows of a contact are apart and everything
//!   fits the budget.
//! - **spilled**: when the map reaches the budget its contacts are written to hash partitions
//!   ([`spill`]) and the map starts again; at the end each partition is merged on its own (rayon)
//!   and its contacts are yielded as soon as it is done ([`emit`]); a partition too large for
//!   the budget is first split again by more of the hash ([`split`]).
//!
//! Nothing is yielded before all input is read: a contact that looks finished may come back in
//! the last row, and a contact once sent or reported cannot be taken back.

mod combine;
mod decode;
mod emit;
mod encode;
mod grouped;
mod keys;
mod open;
mod partitioned;
#[cfg(test)]
mod read_tests;
mod split;
mod spool;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod wide_tests;
mod writer;

pub use combine::ContactView;
pub use emit::{Contacts, Strategy};

use crate::input::{Location, Row};
use decode::Cursor;
use encode::{Keys, contact_hash};
use grouped::{Grouping, Verdict};
use open::OpenContact;
use partitioned::{Partitioned, share};
use spool::Spool;
use std::collections::BTreeMap;
use std::path::PathBuf;
use writer::Writer;

/// One contact with everything the inputs say about it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub instance_id: String,
    pub contact_id: String,
    /// Merged attributes: for each key, the value of the last row that gave it.
    pub attributes: BTreeMap<String, String>,
    /// Every input line that contributed, in input order.
    pub lines: Vec<Location>,
}

impl Contact {
    pub fn attribute_pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Constant attributes from `--set`, applied to every contact after merging (they win).
pub type SetAttributes = Vec<(String, String)>;

/// Grouped rows held in memory before they go to disk, at most: enough that a small input never
/// touches the disk, small enough that a sorted export runs in a few tens of MB. Also the size of
/// the pieces the grouped file is read back in.
const GROUPED_CHUNK: usize = 2 << 20;
/// Room past a chunk in a grouped buffer: the contact that fills it is added whole.
const GROUPED_SLACK: usize = 64 << 10;
/// Inputs this many times larger than the budget are written to disk from the start (see
/// [`Merger::expect_input_bytes`]). (Encoded rows can be several times smaller than their CSV.)
const TOO_LARGE: u64 = 4;
/// Hash partitions of a spilled merge: one partition of a 10 GB export fits a 256 MiB budget.
const PARTITIONS: usize = 256;
/// A merge that fits in memory and holds at most this much comes out in input order; a larger
/// one comes out partition by partition, so the merged contacts never all exist at once.
const IN_ORDER_BYTES: usize = 16 << 20;

/// The largest partition file merged as it is: the merge holds a file and about half as much
/// again while merging it, two or more at a time (one per rayon thread), within the budget. A
/// larger file is split again first ([`split`]).
fn piece_limit(options: &MergeOptions) -> u64 {
    let width = rayon::current_num_threads().max(2);
    (options.budget / (2 * width)).max(MIN_PIECE) as u64
}

/// The smallest piece limit, whatever the budget: below it, splitting costs more than it saves.
/// (Tests use tiny budgets and inputs; they get a tiny floor, so they split.)
const MIN_PIECE: usize = if cfg!(test) { 1 << 10 } else { 1 << 20 };

/// `--memory-limit` and `--temp-dir`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOptions {
    /// Estimated bytes of merged contacts held in memory before spilling.
    pub budget: usize,
    /// Where the partition files go; `None`: the system's temporary directory.
    pub temp_dir: Option<PathBuf>,
}

impl MergeOptions {
    pub const DEFAULT_BUDGET: usize = 256 << 20;

    /// No limit: everything stays in memory (tests, and the reference the property test uses).
    pub fn unlimited() -> MergeOptions {
        MergeOptions { budget: usize::MAX, temp_dir: None }
    }
}

impl Default for MergeOptions {
    fn default() -> MergeOptions {
        MergeOptions { budget: MergeOptions::DEFAULT_BUDGET, temp_dir: None }
    }
}

/// Spilling failed: the run stops with exit 2 before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("cannot write the merge's temporary files in {}: {source}. {}", dir.display(), spill_hint(source))]
    Spill { dir: PathBuf, source: std::io::Error },
    #[error("cannot read back the merge's temporary file {}: {source}", path.display())]
    ReadBack { path: PathBuf, source: std::io::Error },
}

/// What read-back errors call buffers that never went to disk.
const IN_MEMORY: &str = "(memory)";

impl MergeError {
    /// Rows held in memory could not be decoded.
    fn in_memory(source: std::io::Error) -> MergeError {
        MergeError::ReadBack { path: IN_MEMORY.into(), source }
    }
}

fn spill_hint(source: &std::io::Error) -> &'static str {
    match source.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            "The disk is full: free space there, pass --temp-dir DIR on a disk with room for about the size of the input, or raise --memory-limit"
        }
        _ => "Pass --temp-dir with a directory this user can write, or raise --memory-limit",
    }
}

pub struct Merger {
    options: MergeOptions,
    /// The inputs are known to be far larger than the budget: rows that are not grouped go to
    /// disk from the start, not into memory they could never all fit in first.
    too_large: bool,
    keys: Keys,
    /// The temporary directory, once something was written.
    spool: Option<Spool>,
    state: State,
    scratch: Vec<u8>,
}

enum State {
    Grouped(Grouped),
    Partitioned(Partitioned),
}

/// Rows so far grouped by contact: kept in input order, in one buffer and then one file.
struct Grouped {
    grouping: Grouping,
    /// The contact of the previous row, `None` before the first.
    open: Option<(String, String)>,
    /// The contact being read, merged so far, until the next one starts.
    open_contact: Box<OpenContact>,
    /// Contacts finished, each merged into one fragment.
    buffer: Vec<u8>,
    /// Pieces of the file `grouped`, (offset, length), each one frame of whole contacts.
    chunks: Vec<(u64, usize)>,
    written: u64,
    contacts: u64,
    /// Appends the full buffers to the file on a thread of its own (the copy into the page cache
    /// was the largest part of the reading thread's time not spent on rows); `None` until the first
    /// write, and again after each wait for it to finish.
    writer: Option<Writer>,
}

const GROUPED_FILE: &str = "grouped";

fn partition_name(index: usize) -> String {
    format!("part-{index:03}")
}

impl Merger {
    pub fn new(options: MergeOptions) -> Merger {
        let grouping = Grouping::new(options.budget / 64);
        let grouped = Grouped {
            grouping,
            open: None,
            open_contact: Box::default(),
            buffer: Vec::new(),
            chunks: Vec::new(),
            written: 0,
            contacts: 0,
            writer: None,
        };
        let keys = Keys::new(options.budget / 16);
        let too_large = false;
        Merger { options, too_large, keys, spool: None, state: State::Grouped(grouped), scratch: Vec::new() }
    }

    /// The inputs hold at least `bytes` (their files' sizes: a compressed file only grows). Past
    /// [`TOO_LARGE`] times the budget, rows that are not grouped skip the in-memory stage: filling
    /// that much memory first only to write it all out costs time (every page is new) for nothing.
    /// The merge is the same either way.
    pub fn expect_input_bytes(&mut self, bytes: u64) {
        self.too_large = bytes > (self.options.budget as u64).saturating_mul(TOO_LARGE);
    }

    /// Adds one row; rows must arrive in input order (inputs in the order given, lines ascending).
    pub fn add(&mut self, row: &Row) -> Result<(), MergeError> {
        match &mut self.state {
            State::Grouped(grouped) => {
                let same = grouped.open.as_ref().is_some_and(|(i, c)| *i == row.instance_id && *c == row.contact_id);
                if !same {
                    let verdict = grouped.verdict(row, &mut self.keys, self.spool.as_ref(), &mut self.scratch)?;
                    if verdict == Verdict::Fallback {
                        tracing::debug!(
                            "line {}: contact {:?} is not grouped: merging by partition",
                            row.location.line,
                            row.contact_id
                        );
                        self.fall_back()?;
                        return self.add(row);
                    }
                    // The previous contact's rows, merged, join the whole contacts before it,
                    // which may go to disk.
                    grouped.close_open();
                    let chunk = self.options.budget.min(GROUPED_CHUNK);
                    if !grouped.buffer.is_empty() && grouped.buffer.len() >= chunk {
                        grouped.write_buffer(spool_of(&mut self.spool, &self.options)?, chunk)?;
                    }
                    if grouped.buffer.capacity() == 0 {
                        // Room for a chunk and then some, so the buffer never moves (see above).
                        grouped.buffer.reserve_exact(chunk + GROUPED_SLACK);
                    }
                    let (instance, contact) = grouped.open.get_or_insert_with(Default::default);
                    instance.clone_from(&row.instance_id);
                    contact.clone_from(&row.contact_id);
                    grouped.contacts += 1;
                }
                grouped.open_contact.add(row, &mut self.keys);
                Ok(())
            }
            State::Partitioned(_) => {
                // The partition comes from the contact alone; the row is encoded in place.
                self.scratch.clear();
                encode::put_contact(&mut self.keys, &row.instance_id, &row.contact_id, &mut self.scratch);
                let index = (contact_hash(&self.scratch) % PARTITIONS as u64) as usize;
                let hint = encode::size_hint(row);
                if hint > partitioned::STAGED {
                    // A row larger than the stage goes straight to its partition (after the rows
                    // before it), so it is never held twice.
                    self.place_staged()?;
                    let share = share(&self.options, &self.keys);
                    let State::Partitioned(partitioned) = &mut self.state else { unreachable!("matched above") };
                    let buffer = partitioned.room(index, hint, share, &mut self.spool, &self.options)?;
                    encode::encode_row_of(&self.scratch, row, &mut self.keys, buffer);
                    return Ok(());
                }
                let State::Partitioned(partitioned) = &mut self.state else { unreachable!("matched above") };
                encode::encode_row_of(&self.scratch, row, &mut self.keys, partitioned.stage());
                if partitioned.staged_row(index) {
                    self.place_staged()?;
                }
                Ok(())
            }
        }
    }

    /// Places the rows staged by [`Merger::add`] in their partitions.
    fn place_staged(&mut self) -> Result<(), MergeError> {
        let share = share(&self.options, &self.keys);
        let State::Partitioned(partitioned) = &mut self.state else { return Ok(()) };
        partitioned.place_staged(share, &mut self.spool, &self.options)
    }

    /// Adds one encoded row to its partition.
    fn add_encoded(&mut self, hash: u64, row: &[u8]) -> Result<(), MergeError> {
        let State::Partitioned(partitioned) = &mut self.state else { unreachable!("partitioned only") };
        let index = (hash % PARTITIONS as u64) as usize;
        let share = share(&self.options, &self.keys);
        partitioned.room(index, row.len(), share, &mut self.spool, &self.options)?.extend_from_slice(row);
        Ok(())
    }

    /// The input is not grouped after all: every row so far goes to its partition, in order.
    fn fall_back(&mut self) -> Result<(), MergeError> {
        let partitioned = Partitioned::new(self.too_large);
        let State::Grouped(mut grouped) = std::mem::replace(&mut self.state, State::Partitioned(partitioned)) else {
            unreachable!("falls back from grouped only")
        };
        grouped.close_open();
        grouped.written_out()?;
        for &(offset, len) in &grouped.chunks {
            let spool = self.spool.clone().expect("chunks are in the spool");
            let chunk = spool.read(&spool.path(GROUPED_FILE), Some((offset, len)))?;
            self.add_rows(&chunk, &spool.path(GROUPED_FILE))?;
        }
        if let Some(spool) = &self.spool {
            let _ = std::fs::remove_file(spool.path(GROUPED_FILE));
        }
        self.add_rows(&grouped.buffer, std::path::Path::new(IN_MEMORY))
    }

    /// Adds encoded rows (a piece of the grouped buffer or file) to their partitions.
    fn add_rows(&mut self, rows: &[u8], source: &std::path::Path) -> Result<(), MergeError> {
        let mut cursor = Cursor::new(rows);
        loop {
            let start = cursor.position();
            let row = cursor.next_row().map_err(|e| MergeError::ReadBack { path: source.to_path_buf(), source: e })?;
            let Some(row) = row else { return Ok(()) };
            self.add_encoded(contact_hash(row.contact), &rows[start..cursor.position()])?;
        }
    }

    /// The strategy the rows have needed so far.
    pub fn strategy(&self) -> Strategy {
        match &self.state {
            State::Grouped(grouped) if grouped.chunks.is_empty() => Strategy::Grouped,
            State::Grouped(grouped) => Strategy::Spilled { grouped: true, rows: grouped.contacts },
            // (Spilled from the start, see `expect_input_bytes`, yet nothing written: in memory.)
            State::Partitioned(partitioned) if partitioned.spilled && self.spool.is_some() => {
                Strategy::Spilled { grouped: false, rows: partitioned.rows }
            }
            State::Partitioned(_) => Strategy::InMemory,
        }
    }

    /// All input is read: every contact is final. Writes what is still buffered when some of it
    /// is already on disk, so a full disk is reported here, before anything is sent.
    pub fn finish(mut self, set: &[(String, String)]) -> Result<Contacts, MergeError> {
        if let State::Grouped(grouped) = &mut self.state {
            grouped.close_open();
        }
        self.place_staged()?;
        let strategy = self.strategy();
        let names = self.keys.names();
        // A fold holds at most what one piece per thread could (see `piece_limit`).
        let call_bytes = self.options.budget as u64 / 2;
        let contacts = match self.state {
            State::Grouped(grouped) if grouped.chunks.is_empty() => {
                let contacts = combine::merge_rows(&grouped.buffer, &names, set).map_err(MergeError::in_memory)?;
                Ok(Contacts::ready(contacts, names, strategy))
            }
            State::Grouped(mut grouped) => {
                let spool = self.spool.take().expect("chunks are in the spool");
                grouped.written_out()?;
                if !grouped.buffer.is_empty() {
                    let grew = spool.append(GROUPED_FILE, &grouped.buffer)?;
                    grouped.chunks.push((grouped.written, grew as usize));
                }
                drop(grouped.buffer);
                Ok(Contacts::grouped_file(spool, GROUPED_FILE, grouped.chunks, names, set, grouped.contacts, strategy))
            }
            State::Partitioned(mut partitioned) => match self.spool.take() {
                Some(spool) if partitioned.spilled => {
                    partitioned.write_out(&spool)?;
                    let paths =
                        // Every file something was written to: one gone since is an error when it
                        // is read, not a partition skipped.
                        (0..PARTITIONS).map(|i| spool.path(&partition_name(i))).filter(|p| spool.written(p) > 0).collect();
                    let paths = split::split_large(&spool, paths, piece_limit(&self.options))?;
                    Ok(Contacts::partition_files(spool, paths, names, set, strategy))
                }
                _ => {
                    let in_order = partitioned.buffers.iter().map(Vec::len).sum::<usize>() <= IN_ORDER_BYTES;
                    let buffers = partitioned.buffers.into_iter().filter(|b| !b.is_empty()).collect();
                    Contacts::partition_buffers(buffers, names, set, in_order, strategy)
                }
            },
        };
        Ok(contacts?.folding_at_most(call_bytes))
    }
}

impl Grouped {
    /// Whether the input is still grouped now that a row of another contact than the open one
    /// arrived. Sorted input is proved so by order alone; the first time the order breaks, every
    /// contact finished so far is read back (from the buffer and the file) to be tracked.
    fn verdict(
        &mut self,
        row: &Row,
        keys: &mut Keys,
        spool: Option<&Spool>,
        scratch: &mut Vec<u8>,
    ) -> Result<Verdict, MergeError> {
        let Some((instance, contact)) = &self.open else { return Ok(Verdict::New) };
        if self.grouping.in_order((instance, contact), (&row.instance_id, &row.contact_id)) {
            return Ok(Verdict::New);
        }
        if !self.grouping.tracking() {
            self.grouping.start_tracking();
            if !self.track_finished(spool)? {
                return Ok(Verdict::Fallback);
            }
        }
        scratch.clear();
        encode::put_contact(keys, &row.instance_id, &row.contact_id, scratch);
        Ok(self.grouping.next_unsorted(contact_hash(self.open_contact.contact()), contact_hash(scratch)))
    }

    /// Gives every contact written out so far (the open one is not) to the grouping to remember,
    /// from the file and then the buffer; `false` when they are too many to remember.
    fn track_finished(&mut self, spool: Option<&Spool>) -> Result<bool, MergeError> {
        self.written_out()?;
        let grouping = &mut self.grouping;
        let mut remember = |fragments: &[u8]| -> std::io::Result<bool> {
            let mut cursor = Cursor::new(fragments);
            while let Some(contact) = cursor.next_contact()? {
                if !grouping.remember(contact_hash(contact)) {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        if let Some(spool) = spool {
            let path = spool.path(GROUPED_FILE);
            for &chunk in &self.chunks {
                let fragments = spool.read(&path, Some(chunk))?;
                if !remember(&fragments).map_err(|source| MergeError::ReadBack { path: path.clone(), source })? {
                    return Ok(false);
                }
            }
        }
        remember(&self.buffer).map_err(MergeError::in_memory)
    }

    /// Queues the buffer (a chunk of whole contacts) to be appended to the grouped file, and takes
    /// an empty one (of a chunk's size and then some) in its place.
    fn write_buffer(&mut self, spool: &Spool, chunk: usize) -> Result<(), MergeError> {
        let grew = spool::frame_len(self.buffer.len());
        self.chunks.push((self.written, grew as usize));
        self.written += grew;
        let full = std::mem::take(&mut self.buffer);
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => self.writer.insert(Writer::start(spool.clone(), chunk + GROUPED_SLACK, 1)?),
        };
        self.buffer = writer.write(GROUPED_FILE.to_string(), full)?;
        Ok(())
    }

    /// Waits until every buffer queued is in the file (before it is read back).
    fn written_out(&mut self) -> Result<(), MergeError> {
        self.writer.take().map_or(Ok(()), Writer::finish)
    }

    /// Writes the open contact, its rows merged into one fragment, after the finished ones: less
    /// to write, read back and merge later than its rows.
    fn close_open(&mut self) {
        self.open_contact.close(&mut self.buffer);
    }
}

/// The temporary directory, created on first use.
fn spool_of<'s>(spool: &'s mut Option<Spool>, options: &MergeOptions) -> Result<&'s Spool, MergeError> {
    match spool {
        Some(spool) => Ok(spool),
        None => Ok(spool.insert(Spool::create(options.temp_dir.as_deref())?)),
    }
}
