//! Appending partition buffers to their files on a thread of their own. Once a merge spills,
//! every row read goes to disk: the system calls, the copy into the page cache and the checksum
//! were a fifth of the reading thread's time, while the parsing thread had time to spare.
//!
//! Buffers are appended in the order they are queued, so each file's frames stay in input order.
//! At most a few wait (the caller says how many), so memory stays bounded. The first error stops
//! the thread; it is reported by the next [`Writer::write`], or by [`Writer::finish`], before
//! anything is sent.

use super::MergeError;
use super::spool::{Appender, Spool};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Files the thread keeps open: one per partition, or a quarter of the process's limit on open
/// files if that is fewer (macOS allows 256 by default, and the rest of the run opens files too).
fn open_files(descriptor_limit: u64) -> usize {
    usize::try_from(descriptor_limit / 4).unwrap_or(usize::MAX).clamp(1, super::PARTITIONS)
}

pub struct Writer {
    /// What errors of the thread itself (not of a write) name: the spool's directory.
    spool: Spool,
    queue: Option<mpsc::SyncSender<(String, Vec<u8>)>>,
    /// Written buffers, emptied, for the next rows.
    spare: mpsc::Receiver<Vec<u8>>,
    thread: Option<JoinHandle<Result<(), MergeError>>>,
}

impl Writer {
    /// A thread appending to `spool`'s files, with at most `queued` buffers waiting. Written
    /// buffers are handed back to be filled again, up to `queued` of them waiting; any more, and
    /// buffers larger than `spare_capacity` (a partition's first buffer, or one grown for a large
    /// row), are freed. (When the thread hands one back just after [`Writer::write`] looked for
    /// one, the caller starts a new buffer: unbounded, those would pile up waiting.)
    pub fn start(spool: Spool, spare_capacity: usize, queued: usize) -> Result<Writer, MergeError> {
        let (queue, queued_buffers) = mpsc::sync_channel::<(String, Vec<u8>)>(queued);
        let (give_back, spare) = mpsc::sync_channel(queued);
        let ours = spool.clone();
        let thread = std::thread::Builder::new()
            .name("spill".into())
            .spawn(move || {
                let mut appender = Appender::new(spool, open_files(crate::descriptors::soft_limit()));
                for (name, mut buffer) in queued_buffers {
                    appender.append(&name, &buffer)?;
                    if buffer.capacity() <= spare_capacity {
                        buffer.clear();
                        let _ = give_back.try_send(buffer);
                    }
                }
                Ok(())
            })
            .map_err(|source| ours.error(source))?;
        Ok(Writer { spool: ours, queue: Some(queue), spare, thread: Some(thread) })
    }

    /// Queues `buffer` to be appended to the file `name`; returns an empty buffer to fill next.
    pub fn write(&mut self, name: String, buffer: Vec<u8>) -> Result<Vec<u8>, MergeError> {
        let sent = self.queue.as_ref().is_some_and(|queue| queue.send((name, buffer)).is_ok());
        if !sent {
            // The thread stopped, which it does only on an error: that is the one to report.
            self.stop()?;
            let source = std::io::Error::other("the thread writing the temporary files stopped");
            return Err(self.spool.error(source));
        }
        Ok(self.spare.try_recv().unwrap_or_default())
    }

    /// Waits until every queued buffer is written.
    pub fn finish(mut self) -> Result<(), MergeError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), MergeError> {
        self.queue = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) if !std::thread::panicking() => std::panic::resume_unwind(panic),
            Some(Err(_)) => Ok(()),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    // Dropped without `finish` (an error elsewhere, or a stop): the few buffers queued are
    // written, and the thread's copy of the spool is gone before the directory's removal is due.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_held_open_are_a_quarter_of_the_limit_at_most() {
        assert_eq!(open_files(1024), super::super::PARTITIONS);
        assert_eq!(open_files(256), 64);
        assert_eq!(open_files(3), 1);
        assert_eq!(open_files(u64::MAX), super::super::PARTITIONS);
        assert!(open_files(crate::descriptors::soft_limit()) >= 1);
    }
}
