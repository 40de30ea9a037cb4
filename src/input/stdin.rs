//! Standard input, read so that a stop can end the reading even while the pipe has nothing to
//! give: a thread of its own waits in the read, and the reader hands on what it reads, looking
//! at the [`Cancel`] between waits. (A read of stdin cannot be interrupted; a thread left waiting
//! in one ends with the process.)

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// Set (by a signal's handler) to end reading early: reads then fail with [`stopped`].
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
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
                Err(RecvTimeoutError::Disconnected) => return Ok(0),
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
