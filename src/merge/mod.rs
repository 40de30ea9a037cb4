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
//!   and its contacts are yielded as soon as it is done ([`emit`]).
//!
//! Nothing is yielded before all input is read: a contact that looks finished may come back in
//! the last row, and a contact once sent or reported cannot be taken back.

mod emit;
mod grouped;
mod memory;
mod spill;
#[cfg(test)]
mod tests;

pub use emit::{Contacts, Strategy};
pub use memory::MemoryMerge;

use crate::input::{Location, Row};
use grouped::{Grouping, Verdict};
use memory::{add_row, contact_bytes};
use spill::Spill;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// Finished contacts held in memory while streaming, at most: enough that a small input never
/// touches the disk, small enough that a sorted export runs in a few tens of MB.
const GROUPED_BUFFER: usize = 8 << 20;

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

fn spill_hint(source: &std::io::Error) -> &'static str {
    match source.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            "The disk is full: free space there, pass --temp-dir DIR on a disk with room for about the size of the input, or raise --memory-limit"
        }
        _ => "Pass --temp-dir with a directory this user can write, or raise --memory-limit",
    }
}

enum State {
    Grouped { grouping: Grouping, open: Option<Contact>, done: Vec<Contact>, done_bytes: usize },
    Buffered(MemoryMerge),
}

pub struct Merger {
    options: MergeOptions,
    state: State,
    spill: Option<Spill>,
}

impl Merger {
    pub fn new(options: MergeOptions) -> Merger {
        let grouping = Grouping::new(options.budget / 16);
        let state = State::Grouped { grouping, open: None, done: Vec::new(), done_bytes: 0 };
        Merger { options, state, spill: None }
    }

    /// Adds one row; rows must arrive in input order (inputs in the order given, lines ascending).
    pub fn add(&mut self, row: Row) -> Result<(), MergeError> {
        let State::Grouped { grouping, open, done, done_bytes } = &mut self.state else {
            return self.add_buffered(row);
        };
        let verdict = match open {
            Some(contact) if contact.instance_id == row.instance_id && contact.contact_id == row.contact_id => {
                add_row(contact, row.location, row.attributes);
                return Ok(());
            }
            Some(contact) => {
                grouping.next_contact((&contact.instance_id, &contact.contact_id), (&row.instance_id, &row.contact_id))
            }
            None => Verdict::New,
        };
        if let Some(finished) = open.take() {
            *done_bytes += contact_bytes(&finished);
            done.push(finished);
        }
        if verdict == Verdict::Fallback {
            tracing::debug!(
                "line {}: contact {:?} is not grouped: merging in memory",
                row.location.line,
                row.contact_id
            );
            let mut merge = MemoryMerge::new();
            for contact in std::mem::take(done) {
                merge.add_contact(contact);
            }
            self.state = State::Buffered(merge);
            return self.add_buffered(row);
        }
        let mut contact = Contact { instance_id: row.instance_id, contact_id: row.contact_id, ..Contact::default() };
        add_row(&mut contact, row.location, row.attributes);
        *open = Some(contact);
        if *done_bytes > self.options.budget.min(GROUPED_BUFFER) {
            *done_bytes = 0;
            let done = std::mem::take(done);
            write_all(&mut self.spill, self.options.temp_dir.as_deref(), &done)?;
        }
        Ok(())
    }

    fn add_buffered(&mut self, row: Row) -> Result<(), MergeError> {
        let State::Buffered(merge) = &mut self.state else { unreachable!("called in the buffered state only") };
        merge.add(row);
        if merge.bytes() > self.options.budget.saturating_sub(spill::WRITERS_BYTES) {
            let contacts = merge.take();
            write_all(&mut self.spill, self.options.temp_dir.as_deref(), &contacts)?;
        }
        Ok(())
    }

    /// The strategy the rows have needed so far.
    pub fn strategy(&self) -> Strategy {
        match (&self.state, &self.spill) {
            (_, Some(spill)) => Strategy::Spilled { grouped: self.is_grouped(), fragments: spill.fragments() },
            (State::Grouped { .. }, None) => Strategy::Grouped,
            (State::Buffered(_), None) => Strategy::InMemory,
        }
    }

    fn is_grouped(&self) -> bool {
        matches!(self.state, State::Grouped { .. })
    }

    /// All input is read: every contact is final. Writes what is still buffered when some of it
    /// is already on disk, so a full disk is reported here, before anything is sent.
    pub fn finish(self, set: &[(String, String)]) -> Result<Contacts, MergeError> {
        let strategy = self.strategy();
        let Merger { state, mut spill, .. } = self;
        let contacts = match state {
            State::Grouped { open, mut done, .. } => {
                done.extend(open);
                done
            }
            State::Buffered(mut merge) => merge.take(),
        };
        match spill.take() {
            None => Ok(Contacts::in_memory(contacts, set, strategy)),
            Some(mut spill) => {
                for contact in &contacts {
                    spill.write(contact)?;
                }
                drop(contacts);
                let partitions = spill.finish()?;
                Ok(Contacts::partitions(partitions, set, strategy))
            }
        }
    }
}

/// Writes contacts to the partition files, creating them on first use.
fn write_all(spill: &mut Option<Spill>, temp_dir: Option<&Path>, contacts: &[Contact]) -> Result<(), MergeError> {
    let spill = match spill {
        Some(spill) => spill,
        None => spill.insert(Spill::create(temp_dir)?),
    };
    for contact in contacts {
        spill.write(contact)?;
    }
    Ok(())
}
