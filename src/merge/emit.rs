//! The merge's output: final contacts, from memory or from the partition files.
//!
//! Partitions are merged a few at a time, one per rayon thread, when the consumer asks for more:
//! memory holds at most that many partitions' contacts, and sending can start as soon as the
//! first few are merged. Each partition file is deleted once merged; the temporary directory goes
//! when the iterator is dropped, whether it ran to its end or not.

use super::memory::apply_set;
use super::spill::{Partitions, merge_partition, whole_contacts};
use super::{Contact, MergeError};
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// How the contacts were merged: for logs, tests and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Every contact's rows were adjacent; nothing went to disk.
    Grouped,
    InMemory,
    /// Some contacts went to disk; `grouped` when they were whole (no merging needed).
    Spilled {
        grouped: bool,
        fragments: u64,
    },
}

pub struct Contacts {
    strategy: Strategy,
    set: Vec<(String, String)>,
    ready: std::vec::IntoIter<Contact>,
    /// Partition files not merged yet, and the directory that holds them.
    pending: std::vec::IntoIter<PathBuf>,
    dir: Option<Arc<tempfile::TempDir>>,
    known: Option<u64>,
}

impl Contacts {
    pub(super) fn in_memory(contacts: Vec<Contact>, set: &[(String, String)], strategy: Strategy) -> Contacts {
        let mut contacts = contacts;
        for contact in &mut contacts {
            apply_set(contact, set);
        }
        Contacts {
            strategy,
            set: Vec::new(),
            known: Some(contacts.len() as u64),
            ready: contacts.into_iter(),
            pending: Vec::new().into_iter(),
            dir: None,
        }
    }

    pub(super) fn partitions(partitions: Partitions, set: &[(String, String)], strategy: Strategy) -> Contacts {
        // Whole contacts (grouped input) are one fragment each: their count is known.
        let known = match strategy {
            Strategy::Spilled { grouped: true, fragments } => Some(fragments),
            _ => None,
        };
        Contacts {
            strategy,
            set: set.to_vec(),
            ready: Vec::new().into_iter(),
            pending: partitions.paths.into_iter(),
            dir: Some(partitions.dir),
            known,
        }
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The number of contacts, when known before merging the partitions.
    pub fn known_len(&self) -> Option<u64> {
        self.known
    }

    /// The temporary directory holding the partitions, while it exists.
    pub fn temp_dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref().map(tempfile::TempDir::path)
    }

    /// Merges the next few partitions in parallel.
    fn refill(&mut self) -> Result<bool, MergeError> {
        let batch: Vec<PathBuf> = self.pending.by_ref().take(rayon::current_num_threads().max(1)).collect();
        if batch.is_empty() {
            self.dir = None;
            return Ok(false);
        }
        let whole = matches!(self.strategy, Strategy::Spilled { grouped: true, .. });
        let set = &self.set;
        let merged: Result<Vec<Vec<Contact>>, MergeError> = batch
            .par_iter()
            .map(|path| {
                let contacts = if whole { whole_contacts(path, set) } else { merge_partition(path, set) };
                // Give the disk space back as we go; the directory's removal catches failures.
                let _ = std::fs::remove_file(path);
                contacts
            })
            .collect();
        self.ready = merged?.into_iter().flatten().collect::<Vec<_>>().into_iter();
        Ok(true)
    }
}

impl Iterator for Contacts {
    type Item = Result<Contact, MergeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(contact) = self.ready.next() {
                return Some(Ok(contact));
            }
            match self.refill() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(err) => {
                    self.pending = Vec::new().into_iter();
                    return Some(Err(err));
                }
            }
        }
    }
}
