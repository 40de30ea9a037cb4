//! The hot loop over one input: open (plain, gzip by its magic bytes, or stdin), read the header,
//! then every record on a parsing thread that hands them in chunks to the caller's thread, which
//! makes the rows ([`super::rows`]) and runs the sink.

use super::chunk::{self, Chunk};
use super::gzip;
use super::header::{self, Layout};
use super::record::Record;
use super::records::{Next, Records};
use super::rows::RowMaker;
use super::stdin::{Cancel, CancellableReader};
use super::{BadRow, InputError, InputInfo, InputSpec, Item, Location, ReadOptions};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::sync::mpsc;

/// What is read of an input to tell gzip from text. (A `BufReader` reads past its buffer without
/// copying once it is empty and a read asks for at least this much.)
const PEEK: usize = 16 * 1024;

/// Chunks in flight between the parsing thread and the row-making one: enough to ride out a
/// slow row, little memory.
const IN_FLIGHT: usize = 8;

/// Opens an input: the file, or stdin for `-` (read so that `cancel` can end a read that waits).
pub fn open(spec: &InputSpec, cancel: &Cancel) -> Result<Box<dyn Read + Send>, InputError> {
    match &spec.path {
        None => match CancellableReader::new(io::stdin(), cancel.clone()) {
            Ok(reader) => Ok(Box::new(reader)),
            Err(source) => Err(InputError::Open { name: spec.name.clone(), source }),
        },
        Some(path) => {
            Ok(Box::new(File::open(path).map_err(|source| InputError::Open { name: spec.name.clone(), source })?))
        }
    }
}

/// Decompresses `raw` when it starts with the gzip magic bytes (whatever the input's name).
///
/// No buffer of its own past the first bytes: the records reader reads in large blocks, and a
/// `BufReader` as large as its reads would copy every byte once more on the way.
fn decode(name: &str, raw: impl Read + Send + 'static) -> Result<Box<dyn Read>, InputError> {
    let mut buffered = BufReader::with_capacity(PEEK, raw);
    let head = buffered.fill_buf().map_err(|source| InputError::Open { name: name.to_string(), source })?;
    if head.starts_with(&[0x1f, 0x8b]) { Ok(Box::new(gzip::Members::new(buffered))) } else { Ok(Box::new(buffered)) }
}

/// Reads one input to its end, handing every row (good or bad) to `sink` in input order. The sink
/// can stop reading early (a signal, a spill error) by returning `ControlFlow::Break`: the counts
/// then cover the rows read so far.
pub fn read_input(
    index: u32,
    spec: &InputSpec,
    options: &ReadOptions,
    sink: impl FnMut(Item<'_>) -> ControlFlow<()>,
) -> Result<InputInfo, InputError> {
    // Reading this input has a cancel of its own: `read_reader` ends it when the sink stops, so
    // a parsing thread waiting on stdin lets go.
    let options = ReadOptions { cancel: options.cancel.child(), ..options.clone() };
    read_reader(index, &spec.name, open(spec, &options.cancel)?, &options, sink)
}

/// What the parsing thread tells the row-making one, in input order.
enum Message {
    /// The header was read: how rows are laid out, or why the input cannot be used.
    Layout(Result<Layout, InputError>),
    /// Records as parsed, and rows that could not be read. (Chunks go back to be filled again:
    /// once reading is under way, nothing is allocated for a record.)
    Chunk(Chunk),
    /// Nothing read from the input can be trusted (damaged gzip data): the input fails whole.
    Failed(InputError),
}

/// [`read_input`] over any reader (plain or gzip bytes); `name` is what messages call it.
///
/// Two threads share the work: one parses CSV (decompressing first if need be) and hands records
/// over in chunks; this one turns them into rows and runs the sink. Chunks go back for reuse.
/// Rows are made here, not on the parsing thread: that one has the CSV to parse, and a row made
/// where the sink reads it stays in this core's cache.
pub fn read_reader(
    index: u32,
    name: &str,
    raw: impl Read + Send + 'static,
    options: &ReadOptions,
    mut sink: impl FnMut(Item<'_>) -> ControlFlow<()>,
) -> Result<InputInfo, InputError> {
    std::thread::scope(|scope| {
        let (messages, received) = mpsc::sync_channel::<Message>(IN_FLIGHT);
        let (give_back, spares) = mpsc::channel::<Chunk>();
        std::thread::Builder::new()
            .name("parse".into())
            .spawn_scoped(scope, move || parse(index, name, raw, options, &Sender::new(messages, spares)))
            .map_err(|source| InputError::Open { name: name.to_string(), source })?;
        let layout = match received.recv() {
            Ok(Message::Layout(layout)) => layout?,
            _ => return Err(InputError::Empty { name: name.to_string() }),
        };
        let mut info = InputInfo { format: layout.format(), rows: 0, bad_rows: 0 };
        let mut rows = RowMaker::new(index, name, &layout, options);
        for message in received {
            let mut chunk = match message {
                Message::Chunk(chunk) => chunk,
                Message::Failed(err) => return Err(err),
                Message::Layout(_) => continue,
            };
            rows.start_chunk(&mut chunk);
            let mut flow = ControlFlow::Continue(());
            for at in 0..chunk.len() {
                info.rows += 1;
                let item = rows.item(&chunk, at);
                info.bad_rows += u64::from(matches!(item, Item::Bad(_)));
                flow = sink(item);
                if flow.is_break() {
                    break;
                }
            }
            rows.end_chunk(&mut chunk);
            if flow.is_break() {
                // Dropping the receiver stops the parsing thread at its next chunk; the cancel
                // stops it in a read of stdin that waits.
                options.cancel.cancel();
                return Ok(info);
            }
            let _ = give_back.send(chunk);
        }
        if options.cancel.is_cancelled() {
            return Err(InputError::Stopped { name: name.to_string() });
        }
        Ok(info)
    })
}

/// The parsing thread's end of the channels: fills a chunk, and reuses the chunks given back.
struct Sender {
    messages: mpsc::SyncSender<Message>,
    given_back: mpsc::Receiver<Chunk>,
    chunk: std::cell::RefCell<Chunk>,
}

impl Sender {
    fn new(messages: mpsc::SyncSender<Message>, given_back: mpsc::Receiver<Chunk>) -> Sender {
        Sender { messages, given_back, chunk: Default::default() }
    }

    /// Adds a record; the chunk goes when full (or before the next read, see [`Flushing`]).
    /// `Break` when the other thread has stopped listening.
    fn record(&self, record: &Record, location: Location) -> ControlFlow<()> {
        if record.as_bytes().len() > chunk::LONGEST_RECORD {
            let reason = format!("the record is longer than {} bytes, the most a row can be", chunk::LONGEST_RECORD);
            return self.bad(BadRow { location, reason });
        }
        self.add(|chunk| chunk.push_record(record, location.line))
    }

    /// Adds a row that could not be read.
    fn bad(&self, bad: BadRow) -> ControlFlow<()> {
        self.add(|chunk| chunk.push_bad(bad))
    }

    /// Adds to the chunk with `push`, and sends it if that filled it.
    fn add(&self, push: impl FnOnce(&mut Chunk)) -> ControlFlow<()> {
        let full = {
            let mut chunk = self.chunk.borrow_mut();
            push(&mut chunk);
            chunk.is_full()
        };
        if full { self.send_chunk() } else { ControlFlow::Continue(()) }
    }

    fn send(&self, message: Message) -> ControlFlow<()> {
        if self.messages.send(message).is_err() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    }

    fn flush(&self) {
        if !self.chunk.borrow().is_empty() {
            let _ = self.send_chunk();
        }
    }

    /// Seals and sends the chunk, putting one given back (or a new one) in its place.
    fn send_chunk(&self) -> ControlFlow<()> {
        let mut next = self.given_back.try_recv().unwrap_or_default();
        next.clear();
        let mut full = std::mem::replace(&mut *self.chunk.borrow_mut(), next);
        full.seal();
        self.send(Message::Chunk(full))
    }
}

/// Hands the rows parsed so far over before each read of the input, which may wait (a slow
/// pipe): rows already read never wait for a full chunk.
struct Flushing<'s, R> {
    inner: R,
    out: &'s Sender,
}

impl<R: Read> Read for Flushing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.out.flush();
        self.inner.read(buf)
    }
}

/// The parsing thread: the header, then every record (and every record that cannot be read),
/// handed over in input order.
fn parse(index: u32, name: &str, raw: impl Read + Send + 'static, options: &ReadOptions, out: &Sender) {
    let _ = parse_records(index, name, raw, options, out);
    out.flush();
}

fn parse_records(
    index: u32,
    name: &str,
    raw: impl Read + Send + 'static,
    options: &ReadOptions,
    out: &Sender,
) -> ControlFlow<()> {
    let mut record = Record::default();
    let mut records = match decode(name, raw) {
        Ok(decoded) => Records::new(Flushing { inner: decoded, out }, true),
        Err(err) => return out.send(Message::Layout(Err(err))),
    };
    // The first line that is not blank: the header (or, for a bare list of ids, the first id).
    let (first_line, header) = match records.next(&mut record) {
        Ok(Some(Next::Record(line))) => (line, header_names(name, &record)),
        // Its names would hold the rows its quote swallows (and no row of it can be skipped).
        Ok(Some(Next::BadQuote(bad))) => {
            let source = io::Error::new(io::ErrorKind::InvalidData, bad.to_string());
            (bad.line(), Err(InputError::Unreadable { name: name.to_string(), line: bad.line(), source }))
        }
        Ok(None) => (1, Err(InputError::Empty { name: name.to_string() })),
        Err(err) => (1, Err(InputError::Unreadable { name: name.to_string(), line: 1, source: err })),
    };
    let layout = match header.and_then(|header| header::layout(name, &header, options)) {
        Ok(layout) => layout,
        Err(err) => return out.send(Message::Layout(Err(err))),
    };
    // On its own, so the other thread knows the format before the first chunk.
    out.send(Message::Layout(Ok(layout.clone())))?;
    let at = |line: u64| Location { input: index, line };
    if layout == Layout::BareIds {
        out.record(&record, at(first_line))?;
    }
    loop {
        match records.next(&mut record) {
            Ok(Some(Next::Record(line))) => out.record(&record, at(line))?,
            Ok(Some(Next::BadQuote(bad))) => out.bad(BadRow { location: at(bad.line()), reason: bad.row_reason() })?,
            Ok(None) => break,
            // A stop ended the read: no row is malformed, reading just ends (and says so).
            Err(_) if options.cancel.is_cancelled() => break,
            Err(err) if gzip::is_damaged(&err) => {
                let line = records.line();
                return out.send(Message::Failed(InputError::Damaged { name: name.to_string(), line, source: err }));
            }
            Err(err) => {
                out.bad(read_error(&err, records.line(), index))?;
                break;
            }
        }
    }
    ControlFlow::Continue(())
}

/// A row that could not be read: the source failed, and nothing after it can be read.
fn read_error(err: &io::Error, line: u64, index: u32) -> BadRow {
    let reason = format!("cannot read past this line, the rest of the input is lost: {err}");
    BadRow { location: Location { input: index, line }, reason }
}

fn header_names(name: &str, record: &Record) -> Result<Vec<String>, InputError> {
    let fields: Vec<&[u8]> = record.iter().collect();
    header::check_text(name, &fields)?;
    let mut names: Vec<String> = fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    if let Some(first) = names.first_mut()
        && let Some(stripped) = first.strip_prefix('\u{feff}')
    {
        *first = stripped.to_string();
    }
    Ok(names)
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
