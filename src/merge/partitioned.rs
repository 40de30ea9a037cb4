//! Rows hash-partitioned by contact: held in one buffer per partition, in memory until the
//! budget is reached, then gathered in small buffers that a thread of their own appends to one
//! file per partition ([`super::writer`]).

use super::spool::Spool;
use super::writer::Writer;
use super::{Keys, MergeError, MergeOptions, PARTITIONS, partition_name, spool_of};

/// Rows hash-partitioned by contact: in memory, and in one file per partition once spilled.
pub struct Partitioned {
    pub buffers: Vec<Vec<u8>>,
    pub spilled: bool,
    pub rows: u64,
    /// Appends full buffers to their files, once something is spilled.
    writer: Option<Writer>,
    /// Rows encoded but not yet in their partitions' buffers (see [`Partitioned::stage`]).
    staged: Vec<u8>,
    /// Each staged row's partition and where it ends in `staged`.
    staged_rows: Vec<(u32, u32)>,
}

/// Rows are staged until they hold this many bytes, then placed in their partitions; a row that
/// may be larger skips the stage. (Tests get a few rows' worth, so their small inputs are placed
/// many times over, as a large one is.)
pub const STAGED: usize = if cfg!(test) { 1 << 10 } else { 128 << 10 };
/// Rows ahead of the one placed whose partition's buffer is prefetched.
const PLACE_AHEAD: usize = 8;

/// What one partition's buffer may hold: its part of three quarters of the budget (the rest is
/// for everything else), less what the key table holds.
pub fn share(options: &MergeOptions, keys: &Keys) -> usize {
    (options.budget / 4 * 3).saturating_sub(keys.bytes()) / PARTITIONS
}

/// What a partition's buffer holds once rows have gone to disk: it only gathers rows for the next
/// write to the file. Small, so the 256 of them stay in the processor's cache; a buffer as large as
/// the budget allows would only send every row through main memory once more.
pub const WRITE_BUFFER: usize = 64 << 10;
/// Buffers waiting for the writer, at most.
const QUEUED: usize = 16;

impl Partitioned {
    /// No rows yet: in memory until the first spill, or spilled from the start (`spilled`).
    pub fn new(spilled: bool) -> Partitioned {
        let buffers = (0..PARTITIONS).map(|_| Vec::new()).collect();
        Partitioned { buffers, spilled, rows: 0, writer: None, staged: Vec::new(), staged_rows: Vec::new() }
    }

    /// Where the next row is encoded: the rows are written one after the other, each then given
    /// its partition with [`Partitioned::staged_row`], and placed in their partitions' buffers
    /// together once they fill [`STAGED`] bytes. Written straight to its partition, each row
    /// went to the end of one of 256 buffers that had left the cache, and the processor waited
    /// for those lines on nearly every store; placed together, the buffers of the rows to come
    /// are loaded while a row is copied.
    pub fn stage(&mut self) -> &mut Vec<u8> {
        if self.staged.capacity() == 0 {
            self.staged.reserve_exact(STAGED + (4 << 10));
        }
        &mut self.staged
    }

    /// The row just encoded at the end of [`Partitioned::stage`] belongs to partition `index`.
    /// `true` when the staged rows are to be placed.
    pub fn staged_row(&mut self, index: usize) -> bool {
        self.staged_rows.push((index as u32, self.staged.len() as u32));
        self.staged.len() >= STAGED
    }

    /// Places the staged rows in their partitions' buffers, in order (see [`Partitioned::room`]).
    pub fn place_staged(
        &mut self,
        share: usize,
        spool: &mut Option<Spool>,
        options: &MergeOptions,
    ) -> Result<(), MergeError> {
        let (staged, rows) = (std::mem::take(&mut self.staged), std::mem::take(&mut self.staged_rows));
        let mut start = 0;
        for (at, &(index, end)) in rows.iter().enumerate() {
            if let Some(&(ahead, _)) = rows.get(at + PLACE_AHEAD) {
                crate::prefetch::spare(&self.buffers[ahead as usize]);
            }
            let row = &staged[start..end as usize];
            self.room(index as usize, row.len(), share, spool, options)?.extend_from_slice(row);
            start = end as usize;
        }
        (self.staged, self.staged_rows) = (staged, rows);
        self.staged.clear();
        self.staged_rows.clear();
        Ok(())
    }

    /// The buffer of partition `index`, with room for `len` more bytes. Until the first spill a
    /// buffer holds up to `share` bytes (rows merged in memory if they all fit). The first buffer
    /// to overflow sends them all to their files, and from then on each is appended to its file
    /// whenever it holds [`WRITE_BUFFER`] bytes.
    pub fn room<'p>(
        &'p mut self,
        index: usize,
        len: usize,
        share: usize,
        spool: &mut Option<Spool>,
        options: &MergeOptions,
    ) -> Result<&'p mut Vec<u8>, MergeError> {
        self.rows += 1;
        let limit = |spilled: bool| if spilled { WRITE_BUFFER.min(share) } else { share };
        let buffer = &self.buffers[index];
        let needed = buffer.len() + len;
        // (A row larger than the limit is held alone, so a buffer holds at most the limit or one row.)
        if needed <= buffer.capacity() && (needed <= limit(self.spilled) || buffer.is_empty()) {
            return Ok(&mut self.buffers[index]);
        }
        if needed > limit(self.spilled) && !buffer.is_empty() {
            let spool = spool_of(spool, options)?;
            if self.spilled {
                // (A buffer that grew for a row larger than the limit is freed once written.)
                let full = std::mem::take(&mut self.buffers[index]);
                self.buffers[index] = writer_of(&mut self.writer, spool)?.write(partition_name(index), full)?;
            } else {
                self.spill(spool)?;
            }
        }
        // The whole limit at once (up to a point): pages are only touched as rows fill them, and
        // a buffer that never moves leaves no freed copies behind for the allocator to hold.
        let buffer = &mut self.buffers[index];
        if buffer.len() + len > buffer.capacity() {
            let wanted = (4 << 20).max(2 * buffer.capacity()).min(limit(self.spilled));
            buffer.reserve_exact(wanted.max(buffer.len() + len) - buffer.len());
        }
        Ok(buffer)
    }

    /// Every row read is in its partition's file: the buffers are written, and the writer done.
    pub fn write_out(&mut self, spool: &Spool) -> Result<(), MergeError> {
        self.spill(spool)?;
        self.writer.take().map_or(Ok(()), Writer::finish)
    }

    /// Appends every buffer to its partition's file (queued to the writer) and frees it.
    fn spill(&mut self, spool: &Spool) -> Result<(), MergeError> {
        let writer = writer_of(&mut self.writer, spool)?;
        for (index, buffer) in self.buffers.iter_mut().enumerate() {
            if !buffer.is_empty() {
                writer.write(partition_name(index), std::mem::take(buffer))?;
            }
            *buffer = Vec::new();
        }
        self.spilled = true;
        Ok(())
    }
}

/// The writer of the partition files, started on first use.
fn writer_of<'w>(writer: &'w mut Option<Writer>, spool: &Spool) -> Result<&'w mut Writer, MergeError> {
    if writer.is_none() {
        *writer = Some(Writer::start(spool.clone(), WRITE_BUFFER, QUEUED)?);
    }
    Ok(writer.as_mut().expect("started above"))
}
