//! The merge's output: final contacts, from memory or from the temporary files.
//!
//! Pieces (partitions, or chunks of the grouped file) are merged a few at a time, one at a time on
//! each rayon thread, when the consumer asks for more: memory holds at most one piece's contacts
//! per thread when they are built (folded, only the accumulators of a few pieces each), and
//! sending can start as soon as the first few are merged. A partition file is deleted once
//! merged; the temporary directory goes when the iterator is dropped, whether it ran to its end
//! or not.

use super::combine::{ContactView, merge_file_each, merge_rows};
use super::encode::KeyNames;
use super::spool::Spool;
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

/// Pieces merged per rayon thread in one call of [`Contacts::next_folded`], at most: a call ends
/// with its slowest piece, and more pieces per call leave the threads less time waiting for it.
/// (Each thread merges one piece at a time, into a buffer of its own; what a call holds past that
/// is its accumulators, bounded by `call_bytes` of pieces.)
const FOLDED_PER_THREAD: usize = 4;
/// Contacts already built handed out per call of [`Contacts::next_folded`].
const BUILT_BATCH: usize = 4096;

pub struct Contacts {
    strategy: Strategy,
    keys: Arc<KeyNames>,
    set: Vec<(String, String)>,
    /// Contacts merged already: a small merge, or the rest of a batch the iterator built.
    built: std::vec::IntoIter<Contact>,
    pending: Pending,
    spool: Option<Spool>,
    known: Option<u64>,
    /// Bytes of pieces one call of [`Contacts::next_folded`] may take past one per thread (the
    /// contacts a fold builds, the rejected ones, live until the call returns).
    call_bytes: u64,
}

impl Contacts {
    fn new(strategy: Strategy, keys: Arc<KeyNames>, set: &[(String, String)], pending: Pending) -> Contacts {
        let built = Vec::new().into_iter();
        Contacts { strategy, keys, set: set.to_vec(), built, pending, spool: None, known: None, call_bytes: 0 }
    }

    /// Contacts already merged (with `--set` applied).
    pub(super) fn ready(contacts: Vec<Contact>, keys: Arc<KeyNames>, strategy: Strategy) -> Contacts {
        let known = Some(contacts.len() as u64);
        Contacts { built: contacts.into_iter(), known, ..Contacts::new(strategy, keys, &[], Pending::Nothing) }
    }

    /// Partition buffers that fit in memory. `in_order`: merge them all now and give the contacts
    /// in input order (the order of each one's first row).
    pub(super) fn partition_buffers(
        buffers: Vec<Vec<u8>>,
        keys: Arc<KeyNames>,
        set: &[(String, String)],
        in_order: bool,
        strategy: Strategy,
    ) -> Result<Contacts, MergeError> {
        if !in_order {
            return Ok(Contacts::new(strategy, keys, set, Pending::Buffers(buffers.into_iter())));
        }
        let merged: Result<Vec<Vec<Contact>>, _> = buffers.par_iter().map(|b| merge_rows(b, &keys, set)).collect();
        let merged = merged.map_err(MergeError::in_memory)?;
        let mut contacts: Vec<Contact> = merged.into_iter().flatten().collect();
        contacts.par_sort_unstable_by_key(|c| c.lines.first().copied());
        Ok(Contacts::ready(contacts, keys, strategy))
    }

    pub(super) fn partition_files(
        spool: Spool,
        paths: Vec<PathBuf>,
        keys: Arc<KeyNames>,
        set: &[(String, String)],
        strategy: Strategy,
    ) -> Contacts {
        Contacts { spool: Some(spool), ..Contacts::new(strategy, keys, set, Pending::Files(paths.into_iter())) }
    }

    pub(super) fn grouped_file(
        spool: Spool,
        name: &str,
        chunks: Vec<(u64, usize)>,
        keys: Arc<KeyNames>,
        set: &[(String, String)],
        contacts: u64,
        strategy: Strategy,
    ) -> Contacts {
        let pending = Pending::Chunks { path: spool.path(name), chunks: chunks.into_iter() };
        Contacts { spool: Some(spool), known: Some(contacts), ..Contacts::new(strategy, keys, set, pending) }
    }

    /// Lets one call of [`Contacts::next_folded`] take pieces of up to `bytes` in all (it takes
    /// one per thread whatever their size).
    pub(super) fn folding_at_most(self, bytes: u64) -> Contacts {
        Contacts { call_bytes: bytes, ..self }
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

    /// The next contacts, folded without building them: the next pieces are merged in parallel
    /// ([`FOLDED_PER_THREAD`] per rayon thread, one at a time on each), each piece's contacts
    /// folded into an accumulator from `init`, in input order within a piece. One accumulator per
    /// piece, in order; `None` when every contact has been handed out.
    pub fn next_folded<A: Send>(
        &mut self,
        init: impl Fn() -> A + Sync,
        fold: impl Fn(&mut A, &ContactView<'_>) + Sync,
    ) -> Result<Option<Vec<A>>, MergeError> {
        self.fold_pieces(FOLDED_PER_THREAD, init, fold)
    }

    /// [`Contacts::next_folded`] over `per_thread` pieces per rayon thread.
    fn fold_pieces<A: Send>(
        &mut self,
        per_thread: usize,
        init: impl Fn() -> A + Sync,
        fold: impl Fn(&mut A, &ContactView<'_>) + Sync,
    ) -> Result<Option<Vec<A>>, MergeError> {
        if self.built.len() > 0 {
            let mut acc = init();
            for contact in self.built.by_ref().take(BUILT_BATCH) {
                let mut pairs = Vec::new();
                fold(&mut acc, &ContactView::of(&contact, &mut pairs));
            }
            return Ok(Some(vec![acc]));
        }
        let threads = rayon::current_num_threads().max(2);
        // One piece per thread, and more while the call's pieces stay within `call_bytes`.
        let call_bytes = self.call_bytes;
        let count = |sizes: &mut dyn Iterator<Item = u64>| -> usize {
            let mut total = 0u64;
            let fits = |(i, size): &(usize, u64)| {
                total = total.saturating_add(*size);
                *i < threads || total <= call_bytes
            };
            sizes.take(threads * per_thread).enumerate().take_while(fits).count()
        };
        let (keys, set) = (&*self.keys, &self.set);
        // `distinct`: each fragment is a whole contact of its own (the grouped file).
        let piece = |data: &[u8], path: &Path, distinct: bool| -> Result<A, MergeError> {
            let mut acc = init();
            merge_file_each(data, keys, set, (path, distinct), |view| fold(&mut acc, view))?;
            Ok(acc)
        };
        let spool = self.spool.as_ref();
        let read = |path: &Path, range, rows: &mut Vec<u8>| match spool {
            Some(spool) => spool.read_into(path, range, rows),
            None => unreachable!("files are read only while their spool is kept"),
        };
        let folded: Result<Vec<A>, MergeError> = match &mut self.pending {
            Pending::Nothing => Ok(Vec::new()),
            Pending::Buffers(buffers) => {
                let pieces = count(&mut buffers.as_slice().iter().map(|b| b.len() as u64));
                let batch: Vec<Vec<u8>> = buffers.take(pieces).collect();
                batch.par_iter().map(|b| piece(b, Path::new(super::IN_MEMORY), false)).collect()
            }
            Pending::Files(paths) => {
                let written = |path: &PathBuf| spool.map_or(0, |spool| spool.written(path));
                let pieces = count(&mut paths.as_slice().iter().map(written));
                let batch: Vec<PathBuf> = paths.take(pieces).collect();
                batch
                    .par_iter()
                    .map(|path| {
                        with_buffer(|rows| {
                            read(path, None, rows)?;
                            // Give the disk space back as we go; the directory's removal catches failures.
                            let _ = std::fs::remove_file(path);
                            piece(rows, path, false)
                        })
                    })
                    .collect()
            }
            Pending::Chunks { path, chunks } => {
                let pieces = count(&mut chunks.as_slice().iter().map(|&(_, len)| len as u64));
                let batch: Vec<(u64, usize)> = chunks.take(pieces).collect();
                let path = &*path;
                batch
                    .par_iter()
                    .map(|&range| {
                        with_buffer(|rows| {
                            read(path, Some(range), rows)?;
                            piece(rows, path, true)
                        })
                    })
                    .collect()
            }
        };
        let folded = match folded {
            Ok(folded) => folded,
            Err(err) => {
                self.pending = Pending::Nothing;
                return Err(err);
            }
        };
        if folded.is_empty() {
            self.pending = Pending::Nothing;
            self.spool = None;
            return Ok(None);
        }
        Ok(Some(folded))
    }
}

thread_local! {
    /// Each merging thread reads its pieces into one buffer: no fresh pages per piece.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn with_buffer<T>(work: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => work(&mut buffer),
        // Reentered (rayon can run another piece while this thread waits): a buffer of its own.
        Err(_) => work(&mut Vec::new()),
    })
}

impl Iterator for Contacts {
    type Item = Result<Contact, MergeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(contact) = self.built.next() {
                return Some(Ok(contact));
            }
            // One piece per thread: the contacts of every piece in the call are built at once.
            match self.fold_pieces(1, Vec::new, |built, view| built.push(view.to_contact())) {
                Ok(Some(batch)) => self.built = batch.into_iter().flatten().collect::<Vec<_>>().into_iter(),
                Ok(None) => return None,
                Err(err) => return Some(Err(err)),
            }
        }
    }
}
