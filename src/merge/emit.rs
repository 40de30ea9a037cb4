//! The merge's output: final contacts, from memory or from the temporary files.
//!
//! Pieces (partitions, or chunks of the grouped file) are merged a few at a time, one per rayon
//! thread, when the consumer asks for more: memory holds at most that many pieces' contacts, and
//! sending can start as soon as the first few are merged. A partition file is deleted once
//! merged; the temporary directory goes when the iterator is dropped, whether it ran to its end
//! or not.

use super::combine::{merge_file_rows, merge_rows};
use super::spool::{self, Spool};
use super::{Contact, MergeError};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How the contacts were merged: for logs, tests and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Every contact's rows were adjacent; nothing went to disk.
    Grouped,
    /// Rows of a contact were apart; everything fit in memory.
    InMemory,
    /// Some rows went to disk. `grouped`: every contact's rows were adjacent, and `rows` counts
    /// contacts; otherwise `rows` counts the rows partitioned.
    Spilled { grouped: bool, rows: u64 },
}

/// Where the contacts not merged yet are.
enum Pending {
    Nothing,
    /// Partition buffers (the merge fit in memory).
    Buffers(std::vec::IntoIter<Vec<u8>>),
    /// Partition files.
    Files(std::vec::IntoIter<PathBuf>),
    /// Pieces (offset, length) of the grouped file, each whole contacts.
    Chunks {
        path: PathBuf,
        chunks: std::vec::IntoIter<(u64, usize)>,
    },
}

pub struct Contacts {
    strategy: Strategy,
    names: Arc<[Arc<str>]>,
    set: Vec<(String, String)>,
    ready: std::vec::IntoIter<Contact>,
    pending: Pending,
    spool: Option<Spool>,
    known: Option<u64>,
}

impl Contacts {
    fn new(strategy: Strategy, names: Arc<[Arc<str>]>, set: &[(String, String)], pending: Pending) -> Contacts {
        Contacts {
            strategy,
            names,
            set: set.to_vec(),
            ready: Vec::new().into_iter(),
            pending,
            spool: None,
            known: None,
        }
    }

    /// Contacts already merged (with `--set` applied).
    pub(super) fn ready(contacts: Vec<Contact>, strategy: Strategy) -> Contacts {
        let known = Some(contacts.len() as u64);
        Contacts {
            ready: contacts.into_iter(),
            known,
            ..Contacts::new(strategy, Arc::from(vec![]), &[], Pending::Nothing)
        }
    }

    /// Partition buffers that fit in memory. `in_order`: merge them all now and give the contacts
    /// in input order (the order of each one's first row).
    pub(super) fn partition_buffers(
        buffers: Vec<Vec<u8>>,
        names: Arc<[Arc<str>]>,
        set: &[(String, String)],
        in_order: bool,
        strategy: Strategy,
    ) -> Result<Contacts, MergeError> {
        if !in_order {
            return Ok(Contacts::new(strategy, names, set, Pending::Buffers(buffers.into_iter())));
        }
        let merged: Result<Vec<Vec<Contact>>, _> = buffers.par_iter().map(|b| merge_rows(b, &names, set)).collect();
        let merged = merged.map_err(|source| MergeError::ReadBack { path: "(memory)".into(), source })?;
        let mut contacts: Vec<Contact> = merged.into_iter().flatten().collect();
        contacts.par_sort_unstable_by_key(|c| c.lines.first().copied());
        Ok(Contacts::ready(contacts, strategy))
    }

    pub(super) fn partition_files(
        spool: Spool,
        paths: Vec<PathBuf>,
        names: Arc<[Arc<str>]>,
        set: &[(String, String)],
        strategy: Strategy,
    ) -> Contacts {
        Contacts { spool: Some(spool), ..Contacts::new(strategy, names, set, Pending::Files(paths.into_iter())) }
    }

    pub(super) fn grouped_file(
        spool: Spool,
        name: &str,
        chunks: Vec<(u64, usize)>,
        names: Arc<[Arc<str>]>,
        set: &[(String, String)],
        contacts: u64,
        strategy: Strategy,
    ) -> Contacts {
        let pending = Pending::Chunks { path: spool.path(name), chunks: chunks.into_iter() };
        Contacts { spool: Some(spool), known: Some(contacts), ..Contacts::new(strategy, names, set, pending) }
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The number of contacts, when known before merging the partitions.
    pub fn known_len(&self) -> Option<u64> {
        self.known
    }

    /// The temporary directory holding the partitions, while it exists.
    pub fn temp_dir(&self) -> Option<&Path> {
        self.spool.as_ref().map(Spool::dir)
    }

    /// Merges the next few pieces in parallel; `false` when there are none left.
    fn refill(&mut self) -> Result<bool, MergeError> {
        let width = rayon::current_num_threads().max(2);
        let (names, set) = (&self.names, &self.set);
        let merged: Vec<Vec<Contact>> = match &mut self.pending {
            Pending::Nothing => Vec::new(),
            Pending::Buffers(buffers) => {
                let batch: Vec<Vec<u8>> = buffers.take(width).collect();
                let merged: Result<Vec<_>, _> = batch.par_iter().map(|b| merge_rows(b, names, set)).collect();
                merged.map_err(|source| MergeError::ReadBack { path: "(memory)".into(), source })?
            }
            Pending::Files(paths) => {
                let batch: Vec<PathBuf> = paths.take(width).collect();
                let merged: Result<Vec<_>, _> = batch
                    .par_iter()
                    .map(|path| {
                        let rows = spool::read(path, None)?;
                        // Give the disk space back as we go; the directory's removal catches failures.
                        let _ = std::fs::remove_file(path);
                        merge_file_rows(&rows, names, set, path)
                    })
                    .collect();
                merged?
            }
            Pending::Chunks { path, chunks } => {
                let batch: Vec<(u64, usize)> = chunks.take(width).collect();
                let path = &*path;
                let merged: Result<Vec<_>, _> = batch
                    .par_iter()
                    .map(|&range| merge_file_rows(&spool::read(path, Some(range))?, names, set, path))
                    .collect();
                merged?
            }
        };
        if merged.is_empty() {
            self.pending = Pending::Nothing;
            self.spool = None;
            return Ok(false);
        }
        self.ready = merged.into_iter().flatten().collect::<Vec<_>>().into_iter();
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
                    self.pending = Pending::Nothing;
                    return Some(Err(err));
                }
            }
        }
    }
}
