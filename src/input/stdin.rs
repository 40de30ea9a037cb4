//! Standard input, read so that a stop can end the reading even while the pipe has nothing to
//! give: a thread of its own waits in the read, and the reader hands on what it reads, looking
//! at the [`Cancel`] between waits. (A read of stdin cannot be interrupted; a thread left waiting
//! in one ends with the process.)

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// Set (by a signal's handler) to end reading early: reads then fail with [`stopped`]. A
/// [`Cancel::child`] is also cancelled by its parent, not the other way round: one input's reading
/// can end (its rows are no longer wanted) without ending the others'.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    own: Arc<AtomicBool>,
    parent: Option<Arc<AtomicBool>>,
}

impl Cancel {
    pub fn cancel(&self) {
        self.own.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.own.load(Ordering::Relaxed) || self.parent.as_ref().is_some_and(|p| p.load(Ordering::Relaxed))
    }

    /// A cancel of its own that this one's also ends. (One level: a child's child follows the
    /// child only.)
    pub fn child(&self) -> Cancel {
        Cancel { own: Arc::default(), parent: Some(self.own.clone()) }
    }
}

/// The error a cancelled read gives.
pub fn stopped() -> io::Error {
    io::Error::other("reading was stopped")
}

/// Bytes handed over per read: a pipe gives at most this much at a time anyway.
const CHUNK: usize = 256 << 10;
/// How often a waiting read looks at the cancel flag.
const POLL: Duration = Duration::from_millis(50);

/// A reader of `source` (stdin) on its own thread.
pub struct CancellableReader {
    chunks: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
    cancel: Cancel,
}

impl CancellableReader {
    pub fn new(mut source: impl Read + Send + 'static, cancel: Cancel) -> io::Result<CancellableReader> {
        tracing::debug!("reading stdin");
        let (send, chunks) = mpsc::sync_channel(4);
        std::thread::Builder::new().name("stdin".into()).spawn(move || {
            loop {
                let mut chunk = vec![0u8; CHUNK];
                let read = loop {
                    match source.read(&mut chunk) {
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other,
                    }
                };
                let done = !matches!(read, Ok(n) if n > 0);
                let sent = read.map(|n| {
                    chunk.truncate(n);
                    chunk
                });
                if send.send(sent).is_err() || done {
                    return;
                }
            }
        })?;
        Ok(CancellableReader { chunks, chunk: Vec::new(), at: 0, cancel })
    }
}

impl Read for CancellableReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            if self.cancel.is_cancelled() {
                return Err(stopped());
            }
            match self.chunks.recv_timeout(POLL) {
                Ok(Ok(chunk)) if chunk.is_empty() => return Ok(0),
                Ok(Ok(chunk)) => (self.chunk, self.at) = (chunk, 0),
                Ok(Err(err)) => return Err(err),
                Err(RecvTimeoutError::Timeout) => {}
                // The reading thread ends only after sending the end or an error: it died.
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the thread reading stdin ended early"));
                }
            }
        }
        let n = out.len().min(self.chunk.len() - self.at);
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A source that gives its bytes, then waits forever (a pipe whose writer went quiet).
    struct Stalls(io::Cursor<Vec<u8>>);

    impl Read for Stalls {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match self.0.read(out)? {
                0 => loop {
                    std::thread::park();
                },
                n => Ok(n),
            }
        }
    }

    #[test]
    fn everything_is_read_in_order_to_the_end() {
        let bytes: Vec<u8> = (0..CHUNK * 3 + 17).map(|i| (i % 251) as u8).collect();
        let mut reader = CancellableReader::new(io::Cursor::new(bytes.clone()), Cancel::default()).unwrap();
        let mut read = Vec::new();
        reader.read_to_end(&mut read).unwrap();
        assert_eq!(read, bytes);
    }

    /// A source slower than the cancel flag is looked at: reads wait for it, they do not end early.
    #[test]
    fn a_slow_source_is_read_to_its_end() {
        struct Slow(Vec<u8>);
        impl Read for Slow {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                std::thread::sleep(POLL * 3);
                let n = out.len().min(self.0.len()).min(3);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0.drain(..n);
                Ok(n)
            }
        }
        let mut reader = CancellableReader::new(Slow(b"a,b\n1,2\n".to_vec()), Cancel::default()).unwrap();
        let mut read = Vec::new();
        reader.read_to_end(&mut read).unwrap();
        assert_eq!(read, b"a,b\n1,2\n");
    }

    #[test]
    fn a_child_follows_its_parent_and_not_the_other_way() {
        let parent = Cancel::default();
        let (one, two) = (parent.child(), parent.child());
        one.cancel();
        assert!(one.is_cancelled() && !two.is_cancelled() && !parent.is_cancelled());
        parent.cancel();
        assert!(two.is_cancelled());
    }

    #[test]
    fn a_cancel_ends_a_read_that_waits_for_a_stalled_source() {
        let cancel = Cancel::default();
        let mut reader = CancellableReader::new(Stalls(io::Cursor::new(b"header\n".to_vec())), cancel.clone()).unwrap();
        let mut first = [0u8; 7];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"header\n");
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            cancel.cancel();
        });
        let started = Instant::now();
        let err = reader.read(&mut first).unwrap_err();
        assert_eq!(err.to_string(), stopped().to_string());
        assert!(started.elapsed() >= Duration::from_millis(150), "returned before the cancel");
        canceller.join().unwrap();
    }

    #[test]
    fn a_read_error_is_passed_on() {
        struct Fails;
        impl Read for Fails {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("broken pipe"))
            }
        }
        let mut reader = CancellableReader::new(Fails, Cancel::default()).unwrap();
        assert_eq!(reader.read(&mut [0u8; 4]).unwrap_err().to_string(), "broken pipe");
    }
}
