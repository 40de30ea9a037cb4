//! The hot loop over one input: open (plain, gzip by its magic bytes, or stdin), read the header,
//! then one reused `ByteRecord` per row, decoded only where the layout says a field is needed.

use super::columns::LongKeys;
use super::header::{self, Layout};
use super::records::Records;
use super::unclosed;
use super::{BadRow, InputError, InputInfo, InputSpec, Item, Location, ReadOptions, Row};
use csv::{ByteRecord, StringRecord};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::sync::{Arc, mpsc};

const BUFFER: usize = 256 * 1024;

/// Records handed from the parsing thread to the one that makes rows, per message.
const BATCH: usize = 512;
/// Messages in flight between them: enough to ride out a slow row, little memory.
const IN_FLIGHT: usize = 8;

/// Opens an input: the file, or stdin for `-`.
pub fn open(spec: &InputSpec) -> Result<Box<dyn Read + Send>, InputError> {
    match &spec.path {
        None => Ok(Box::new(io::stdin())),
        Some(path) => {
            Ok(Box::new(File::open(path).map_err(|source| InputError::Open { name: spec.name.clone(), source })?))
        }
    }
}

/// Decompresses `raw` when it starts with the gzip magic bytes (whatever the input's name).
fn decode(name: &str, raw: impl Read + Send + 'static) -> Result<Box<dyn Read>, InputError> {
    let mut buffered = BufReader::with_capacity(BUFFER, raw);
    let head = buffered.fill_buf().map_err(|source| InputError::Open { name: name.to_string(), source })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(BUFFER, MultiGzDecoder::new(buffered))))
    } else {
        Ok(Box::new(buffered))
    }
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
    read_reader(index, &spec.name, open(spec)?, options, sink)
}

/// What the parsing thread tells the row-making one, in input order.
enum Event {
    /// The header was read: how rows are laid out, or why the input cannot be used.
    Layout(Result<Layout, InputError>),
    /// Boxed: rows travel between threads and back by pointer.
    Row(Box<Row>),
    Bad(BadRow),
}

/// [`read_input`] over any reader (plain or gzip bytes); `name` is what messages call it.
///
/// Two threads share the work: one parses CSV (decompressing first if need be) and hands records
/// over in batches; this one turns them into rows and runs the sink. Records go back for reuse.
pub fn read_reader(
    index: u32,
    name: &str,
    raw: impl Read + Send + 'static,
    options: &ReadOptions,
    mut sink: impl FnMut(Item<'_>) -> ControlFlow<()>,
) -> Result<InputInfo, InputError> {
    std::thread::scope(|scope| {
        let (events, received) = mpsc::sync_channel::<Vec<Event>>(IN_FLIGHT);
        let (give_back, spares) = mpsc::channel::<Vec<Box<Row>>>();
        std::thread::Builder::new()
            .name("parse".into())
            .spawn_scoped(scope, move || parse(index, name, raw, options, &Sender::new(events, spares)))
            .map_err(|source| InputError::Open { name: name.to_string(), source })?;
        let layout = match received.recv().ok().and_then(|first| first.into_iter().next()) {
            Some(Event::Layout(layout)) => layout?,
            _ => return Err(InputError::Empty { name: name.to_string() }),
        };
        let mut info = InputInfo { format: layout.format(), rows: 0, bad_rows: 0 };
        for mut batch in received {
            let mut used = Vec::with_capacity(batch.len());
            for event in batch.drain(..) {
                info.rows += 1;
                let flow = match event {
                    Event::Row(row) => {
                        let flow = sink(Item::Row(&row));
                        used.push(row);
                        flow
                    }
                    Event::Bad(bad) => {
                        info.bad_rows += 1;
                        sink(Item::Bad(bad))
                    }
                    Event::Layout(_) => ControlFlow::Continue(()),
                };
                if flow.is_break() {
                    // Dropping the receiver stops the parsing thread at its next batch.
                    return Ok(info);
                }
            }
            let _ = give_back.send(used);
        }
        Ok(info)
    })
}

/// The parsing thread's end of the channels: batches events, reuses rows given back.
#[allow(clippy::vec_box, reason = "rows go back and forth by pointer, not by copying a Row")]
struct Sender {
    events: mpsc::SyncSender<Vec<Event>>,
    spares: mpsc::Receiver<Vec<Box<Row>>>,
    batch: std::cell::RefCell<Vec<Event>>,
    spare: std::cell::RefCell<Vec<Box<Row>>>,
}

#[allow(clippy::vec_box, reason = "rows go back and forth by pointer, not by copying a Row")]
impl Sender {
    fn new(events: mpsc::SyncSender<Vec<Event>>, spares: mpsc::Receiver<Vec<Box<Row>>>) -> Sender {
        Sender {
            events,
            spares,
            batch: std::cell::RefCell::new(Vec::with_capacity(BATCH)),
            spare: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Queues an event; `Break` when the other thread has stopped listening.
    /// Queues an event; a batch goes when full (or before the next read, see [`Flushing`]).
    fn emit(&self, event: Event) -> ControlFlow<()> {
        let mut batch = self.batch.borrow_mut();
        batch.push(event);
        if batch.len() < BATCH {
            return ControlFlow::Continue(());
        }
        let full = std::mem::replace(&mut *batch, Vec::with_capacity(BATCH));
        drop(batch);
        self.send(full)
    }

    fn send(&self, batch: Vec<Event>) -> ControlFlow<()> {
        if self.events.send(batch).is_err() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    }

    /// A row given back for reuse, if there is one.
    fn spare_row(&self) -> Option<Box<Row>> {
        let mut spare = self.spare.borrow_mut();
        if spare.is_empty() {
            spare.extend(self.spares.try_iter().flatten());
        }
        spare.pop()
    }

    fn flush(&self) {
        let rest = std::mem::take(&mut *self.batch.borrow_mut());
        if !rest.is_empty() {
            let _ = self.send(rest);
        }
    }
}

/// Hands the rows parsed so far over before each read of the input, which may wait (a slow
/// pipe): rows already read never wait for a full batch.
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
    let mut record = ByteRecord::new();
    let mut records = match decode(name, raw) {
        Ok(decoded) => Records::new(&builder(true), Flushing { inner: decoded, out }),
        Err(err) => return out.send(vec![Event::Layout(Err(err))]),
    };
    let header = match records.next(&mut record) {
        Ok(Some(_)) => header_names(name, &record),
        Ok(None) => Err(InputError::Empty { name: name.to_string() }),
        Err(err) => Err(InputError::Unreadable { name: name.to_string(), line: 1, source: io::Error::other(err) }),
    };
    let layout = match header.and_then(|header| header::layout(name, &header, options)) {
        Ok(layout) => layout,
        Err(err) => return out.send(vec![Event::Layout(Err(err))]),
    };
    // On its own, so the other thread knows the format before the first batch.
    out.send(vec![Event::Layout(Ok(layout.clone()))])?;
    let mut rows = RowMaker::new(name, &layout, options);
    let at = |line: u64| Location { input: index, line };
    // Hands the row of a record over (the record stays for reuse).
    macro_rules! emit_record {
        ($line:expr, $record:expr) => {
            out.emit(rows.event(&mut $record, at($line), out.spare_row()))
        };
    }
    if layout == Layout::BareIds {
        emit_record!(1, record)?;
    }
    let mut ahead = ByteRecord::new();
    // A row read ahead (below) and not yet handled is in `record`, with its line.
    let mut pending = None;
    loop {
        let line = match pending.take() {
            Some(line) => line,
            None => match records.next(&mut record) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(err) => {
                    let (bad, fatal) = read_error(&err, records.line(), index);
                    out.emit(Event::Bad(bad))?;
                    if fatal {
                        break;
                    }
                    continue;
                }
            },
        };
        if records.tail.may_be_unclosed(&record) {
            match records.next(&mut ahead) {
                Ok(None) => {
                    let (opened, rest) = unclosed::swallowed(&record, line);
                    let reason = "a quote opened on this line is never closed: this row is skipped, and the lines after it are read again with quotes taken literally";
                    out.emit(Event::Bad(BadRow { location: at(opened), reason: reason.to_string() }))?;
                    let mut again = Records::new(&builder(false), rest);
                    while let Ok(Some(line)) = again.next(&mut ahead) {
                        emit_record!(opened + line, ahead)?;
                    }
                    break;
                }
                Ok(Some(next)) => pending = Some(next),
                Err(err) => {
                    emit_record!(line, record)?;
                    let (bad, fatal) = read_error(&err, records.line(), index);
                    out.emit(Event::Bad(bad))?;
                    if fatal {
                        break;
                    }
                    continue;
                }
            }
        }
        emit_record!(line, record)?;
        if pending.is_some() {
            std::mem::swap(&mut record, &mut ahead);
        }
    }
    ControlFlow::Continue(())
}

/// The one CSV configuration: flexible (a ragged row is reported, not fatal), no header handling.
fn builder(quoting: bool) -> csv::ReaderBuilder {
    let mut builder = csv::ReaderBuilder::new();
    builder
        .has_headers(false)
        .flexible(true)
        .quoting(quoting)
        // With the default CRLF terminator the csv crate reports the line of a record that
        // follows a CRLF one line early; split on LF alone and drop the CR in `field`.
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(BUFFER);
    builder
}

/// A row that could not be read, and whether reading can go on after it.
fn read_error(err: &csv::Error, line: u64, index: u32) -> (BadRow, bool) {
    let fatal = matches!(err.kind(), csv::ErrorKind::Io(_));
    let reason = if fatal {
        format!("cannot read past this line, the rest of the input is lost: {err}")
    } else {
        format!("malformed CSV: {err}")
    };
    (BadRow { location: Location { input: index, line }, reason }, fatal)
}

fn header_names(name: &str, record: &ByteRecord) -> Result<Vec<String>, InputError> {
    let fields: Vec<&[u8]> = record.iter().map(without_cr).collect();
    header::check_text(name, &fields)?;
    let mut names: Vec<String> = fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    if let Some(first) = names.first_mut()
        && let Some(stripped) = first.strip_prefix('\u{feff}')
    {
        *first = stripped.to_string();
    }
    Ok(names)
}

/// Turns records into rows, reusing one `Row` (and a spare record) for all of them.
struct RowMaker<'a> {
    name: &'a str,
    layout: &'a Layout,
    options: &'a ReadOptions,
    keys: LongKeys<'a>,
    row: Box<Row>,
    /// Swapped in while a record is borrowed as text, so that costs no allocation.
    spare: Option<ByteRecord>,
}

impl<'a> RowMaker<'a> {
    fn new(name: &'a str, layout: &'a Layout, options: &'a ReadOptions) -> RowMaker<'a> {
        let columns: Arc<[Arc<str>]> = match layout {
            Layout::Wide { attributes, .. } => attributes.iter().map(|(_, key)| key.clone()).collect(),
            Layout::Long { .. } | Layout::BareIds => Arc::from(Vec::new()),
        };
        let row = Box::new(Row { columns, ..Row::default() });
        RowMaker { name, layout, options, keys: LongKeys::new(&options.columns), row, spare: Some(ByteRecord::new()) }
    }

    /// The row of `record` to hand over (`spare` takes its place for the next record), or why
    /// it is bad.
    fn event(&mut self, record: &mut ByteRecord, location: Location, spare: Option<Box<Row>>) -> Event {
        match self.item(record, location) {
            Item::Bad(bad) => Event::Bad(bad),
            Item::Row(_) => {
                let fresh =
                    spare.unwrap_or_else(|| Box::new(Row { columns: self.row.columns.clone(), ..Row::default() }));
                Event::Row(std::mem::replace(&mut self.row, fresh))
            }
        }
    }

    /// The row of `record` (left as it was), or why it is bad.
    fn item(&mut self, record: &mut ByteRecord, location: Location) -> Item<'_> {
        let width = match self.layout {
            Layout::Wide { width, .. } | Layout::Long { width, .. } => *width,
            Layout::BareIds => 1,
        };
        let result = if record.len() != width {
            Err(format!("has {} fields, the header has {width}", record.len()))
        } else if clean(record) {
            // UTF-8 checked once for the whole record, then its fields borrowed as text.
            let spare = self.spare.take().unwrap_or_default();
            let bytes = std::mem::replace(record, spare);
            match StringRecord::from_byte_record(bytes) {
                Ok(text) => {
                    let (last, base) = (width - 1, text.as_slice().as_ptr() as usize);
                    let get = |i, _: &str| {
                        let field = text.get(i).unwrap_or_default();
                        let field = if i == last { field.strip_suffix('\r').unwrap_or(field) } else { field };
                        Ok((field, Some(field.as_ptr() as usize - base)))
                    };
                    let result = self.fill(location, get);
                    // The record becomes the row's (its values are spans of it); the row's old
                    // one is kept for the next record.
                    let old = std::mem::replace(&mut self.row.record, text);
                    self.spare = Some(old.into_byte_record());
                    result
                }
                Err(err) => {
                    self.spare = Some(std::mem::replace(record, err.into_byte_record()));
                    self.fill(location, |i, column| Ok((field(record, i, column)?, None)))
                }
            }
        } else {
            self.fill(location, |i, column| Ok((field(record, i, column)?, None)))
        };
        match result {
            Ok(()) => Item::Row(&self.row),
            Err(reason) => Item::Bad(BadRow { location, reason }),
        }
    }

    /// Fills the row from the fields `get` gives (by index; the column's name is for messages),
    /// each with its offset in the row's record when it is borrowed from there.
    fn fill<'r>(
        &mut self,
        location: Location,
        get: impl Fn(usize, &str) -> Result<(&'r str, Option<usize>), String>,
    ) -> Result<(), String> {
        let (layout, options, row) = (self.layout, self.options, &mut *self.row);
        let (contact, instance) = match layout {
            Layout::Wide { contact, instance, .. } | Layout::Long { contact, instance, .. } => (*contact, *instance),
            Layout::BareIds => (0, None),
        };
        row.clear();
        row.location = location;
        row.contact_id.push_str(get(contact, "contact id")?.0.trim());
        match instance.map(|i| get(i, "InstanceId")).transpose()?.map(|(id, _)| id.trim()) {
            Some(id) if !id.is_empty() => row
                .instance_id
                .push_str(&crate::arn::instance_id(id, options.region.as_deref()).map_err(|e| e.to_string())?),
            _ => row.instance_id.push_str(options.default_instance.as_deref().unwrap_or_default()),
        }
        match layout {
            Layout::Wide { attributes: columns, .. } => {
                for (column, (i, name)) in columns.iter().enumerate() {
                    let (value, at) = get(*i, name)?;
                    if !value.is_empty() || options.send_empty {
                        row.push_column(column, value, at);
                    }
                }
            }
            Layout::Long { key, value, .. } => {
                let (value, at) = get(*value, "Value")?;
                if (!value.is_empty() || options.send_empty)
                    && let Some(key) = self.keys.key(self.name, get(*key, "Key")?.0)?
                {
                    row.push_named(&key, value, at);
                }
            }
            Layout::BareIds => {}
        }
        Ok(())
    }
}

/// A record with no NUL byte: the common case (UTF-8 is checked once per record as it is
/// borrowed as text; a record that fails either check is taken field by field for the message).
fn clean(record: &ByteRecord) -> bool {
    memchr::memchr(0, record.as_slice()).is_none()
}

/// Drops the CR of a CRLF line end, left on the last field because records split on LF.
fn without_cr(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

fn field<'r>(record: &'r ByteRecord, index: usize, column: &str) -> Result<&'r str, String> {
    let bytes = record.get(index).unwrap_or_default();
    let bytes = if index + 1 == record.len() { without_cr(bytes) } else { bytes };
    let text = std::str::from_utf8(bytes)
        .map_err(|err| format!("invalid UTF-8 in column {column:?} after {} bytes", err.valid_up_to()))?;
    match text.find('\0') {
        // A NUL is never data in an export: a UTF-16 or damaged file. Not passed on to Connect.
        Some(at) => Err(format!("a NUL byte in column {column:?} after {at} bytes")),
        None => Ok(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{FormatChoice, OwnedItem as Item};
    use std::io::Write;

    fn read(text: &[u8], options: &ReadOptions) -> (Result<InputInfo, InputError>, Vec<Item>) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text).unwrap();
        let spec = InputSpec { name: "in.csv".into(), path: Some(file.path().to_path_buf()) };
        let mut items = Vec::new();
        let result = read_input(0, &spec, options, |item| {
            items.push(item.owned());
            ControlFlow::Continue(())
        });
        (result, items)
    }

    type Seen = (u64, String, String, Vec<(String, String)>);

    fn rows(items: &[Item]) -> Vec<Seen> {
        items
            .iter()
            .filter_map(|item| match item {
                Item::Row(r) => Some((
                    r.location.line,
                    r.instance_id.clone(),
                    r.contact_id.clone(),
                    r.attributes().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                )),
                Item::Bad(_) => None,
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn wide_rows_skip_empty_cells_and_keep_line_numbers() {
        let text = b"\xef\xbb\xbfInstanceId,InitialContactId,Tier,Status\r\ni1,c1,Gold,\r\n,c2,,\"Open\"\r\n";
        let options = ReadOptions { default_instance: Some("dflt".into()), ..Default::default() };
        let (info, items) = read(text, &options);
        let info = info.unwrap();
        assert_eq!((info.rows, info.bad_rows), (2, 0));
        assert_eq!(
            rows(&items),
            vec![
                (2, "i1".into(), "c1".into(), pairs(&[("Tier", "Gold")])),
                (3, "dflt".into(), "c2".into(), pairs(&[("Status", "Open")])),
            ]
        );
    }

    #[test]
    fn send_empty_keeps_empty_cells() {
        let options = ReadOptions { send_empty: true, default_instance: Some("i".into()), ..Default::default() };
        let (_, items) = read(b"ContactId,A,B\nc1,,x\n", &options);
        assert_eq!(rows(&items)[0].3, pairs(&[("A", ""), ("B", "x")]));
    }

    #[test]
    fn long_rows() {
        let (_, items) = read(b"contact_id,Key,Value\nc1,Tier,Gold\nc1,Empty,\n", &ReadOptions::default());
        assert_eq!(
            rows(&items),
            vec![(2, "".into(), "c1".into(), pairs(&[("Tier", "Gold")])), (3, "".into(), "c1".into(), vec![])]
        );
    }

    #[test]
    fn ragged_and_non_utf8_rows_are_bad_and_reading_goes_on() {
        let text = b"ContactId,A\nc1,x\nc2,x,extra\nc3,\xff\xfe\nc4,\"quoted, comma\"\n";
        let (info, items) = read(text, &ReadOptions::default());
        assert_eq!(info.unwrap().bad_rows, 2);
        let bad: Vec<(u64, &str)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Bad(b) => Some((b.location.line, b.reason.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(bad[0], (3, "has 3 fields, the header has 2"));
        assert_eq!(bad[1].0, 4);
        assert!(bad[1].1.contains("invalid UTF-8 in column \"A\""), "{}", bad[1].1);
        let good: Vec<String> = rows(&items).into_iter().map(|r| r.2).collect();
        assert_eq!(good, ["c1", "c4"]);
    }

    #[test]
    fn gzip_is_detected_by_content() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"ContactId,A\nc1,x\n").unwrap();
        let (info, items) = read(&encoder.finish().unwrap(), &ReadOptions::default());
        assert_eq!(info.unwrap().rows, 1);
        assert_eq!(rows(&items)[0].2, "c1");
    }

    #[test]
    fn truncated_gzip_keeps_rows_before_the_cut() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for i in 0..20_000 {
            writeln!(encoder, "{}", if i == 0 { "ContactId,A".to_string() } else { format!("c{i},value{i}") }).unwrap();
        }
        let full = encoder.finish().unwrap();
        let (info, items) = read(&full[..full.len() / 2], &ReadOptions::default());
        let info = info.unwrap();
        assert_eq!(info.bad_rows, 1);
        assert!(info.rows > 100, "{info:?}");
        assert!(matches!(items.last(), Some(Item::Bad(b)) if b.reason.contains("rest of the input is lost")));
    }

    #[test]
    fn empty_file_is_an_error_header_only_is_not() {
        assert!(matches!(read(b"", &ReadOptions::default()).0, Err(InputError::Empty { .. })));
        assert_eq!(read(b"ContactId,A\n", &ReadOptions::default()).0.unwrap().rows, 0);
    }

    fn bad(items: &[Item]) -> Vec<(u64, String)> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Bad(b) => Some((b.location.line, b.reason.clone())),
                Item::Row(_) => None,
            })
            .collect()
    }

    #[test]
    fn an_unclosed_quote_is_one_bad_row_and_the_lines_it_swallowed_are_read_again() {
        let text = b"ContactId,A\nc1,x\nc2,\"open\nc3,z\r\nc4,w\n";
        let (info, items) = read(text, &ReadOptions::default());
        assert_eq!(info.unwrap().bad_rows, 1);
        let bad = bad(&items);
        assert_eq!(bad[0].0, 3);
        assert!(bad[0].1.contains("never closed"), "{}", bad[0].1);
        let good: Vec<Seen> = rows(&items);
        assert_eq!(
            good,
            [
                (2, "".into(), "c1".into(), pairs(&[("A", "x")])),
                (4, "".into(), "c3".into(), pairs(&[("A", "z")])),
                (5, "".into(), "c4".into(), pairs(&[("A", "w")]))
            ]
        );
    }

    #[test]
    fn closed_multi_line_values_stay_values() {
        let (info, items) = read(b"ContactId,A\nc1,\"two\nlines\"\nc2,\"x\ny\"\n", &ReadOptions::default());
        assert_eq!(info.unwrap().bad_rows, 0);
        assert_eq!(rows(&items)[1], (4, "".into(), "c2".into(), pairs(&[("A", "x\ny")])));
    }

    #[test]
    fn blank_crlf_lines_are_skipped_like_blank_lf_lines() {
        let (info, items) = read(b"\r\nContactId,A\r\n\r\nc1,x\r\n\r\n\nc2,y\r\n\r\n", &ReadOptions::default());
        assert_eq!(info.unwrap().bad_rows, 0);
        let good: Vec<(u64, String)> = rows(&items).into_iter().map(|r| (r.0, r.2)).collect();
        assert_eq!(good, [(4, "c1".to_string()), (7, "c2".to_string())]);
        assert!(matches!(read(b"\r\n\r\n", &ReadOptions::default()).0, Err(InputError::Empty { .. })));
    }

    #[test]
    fn nul_bytes_in_a_field_make_the_row_bad() {
        let (info, items) = read(b"ContactId,A\nc1,a\0b\nc2,x\n", &ReadOptions::default());
        assert_eq!(info.unwrap().bad_rows, 1);
        assert_eq!(bad(&items), [(2, "a NUL byte in column \"A\" after 1 bytes".to_string())]);
        assert_eq!(rows(&items)[0].2, "c2");
    }

    #[test]
    fn a_header_that_cannot_be_read_names_line_1() {
        let err = read(b"\x1f\x8bnot gzip at all", &ReadOptions::default()).0.unwrap_err().to_string();
        assert!(err.starts_with("in.csv:1: cannot read"), "{err}");
        let err = read(b"\xff\xfeC\0o\0", &ReadOptions::default()).0.unwrap_err().to_string();
        assert!(err.starts_with("in.csv:1: the header is not CSV text"), "{err}");
        let err = read(b"ContactId,A\rc1,x\rc2,y\r", &ReadOptions::default()).0.unwrap_err().to_string();
        assert!(err.starts_with("in.csv:1: the header holds a carriage return"), "{err}");
        assert!(
            read(b"", &ReadOptions::default()).0.unwrap_err().to_string().starts_with("in.csv:1: the file is empty")
        );
    }

    /// More rows than the batches in flight hold, so the parsing thread is blocked on a full
    /// channel when the sink stops: it must be let go, not waited for.
    #[test]
    fn a_sink_that_stops_early_does_not_wait_for_the_rest_of_the_input() {
        let mut text = String::from("ContactId,A\n");
        for i in 0..BATCH * (IN_FLIGHT + 4) {
            text.push_str(&format!("c{i},x\n"));
        }
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = 0;
            let info = read_reader(0, "in.csv", io::Cursor::new(text.into_bytes()), &ReadOptions::default(), |_| {
                seen += 1;
                if seen == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            });
            let _ = done.send((seen, info.map(|info| info.rows).ok()));
        });
        // A safety net, not a timing assertion: a deadlock fails the test instead of hanging it.
        let outcome = finished.recv_timeout(std::time::Duration::from_secs(120)).expect("read_reader returned");
        assert_eq!(outcome, (3, Some(3)));
    }

    /// A source that gives a few rows, then nothing for a long while (a slow pipe): the rows
    /// already read reach the sink without waiting for a full batch or the end of the input.
    #[test]
    fn rows_from_a_stalled_source_reach_the_sink_before_it_resumes() {
        struct Stalling {
            head: io::Cursor<Vec<u8>>,
            stalled: bool,
        }
        impl Read for Stalling {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.head.read(buf)?;
                if n > 0 || self.stalled {
                    return Ok(n);
                }
                self.stalled = true;
                std::thread::sleep(std::time::Duration::from_secs(20));
                Ok(0)
            }
        }
        let source = Stalling { head: io::Cursor::new(b"ContactId,A\nc1,x\nc2,y\n".to_vec()), stalled: false };
        let (seen, rows) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = read_reader(0, "pipe", source, &ReadOptions::default(), |item| {
                let _ = seen.send(matches!(item.owned(), Item::Row(_)));
                ControlFlow::Continue(())
            });
        });
        // A safety net, not a timing assertion: only a batch held back for the stall fails.
        let first = rows.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(first, Ok(true), "the first row waited for the stalled source");
    }

    #[test]
    fn bare_id_list_reads_the_first_line_as_data() {
        let options = ReadOptions { allow_bare_ids: true, format: FormatChoice::Auto, ..Default::default() };
        let (_, items) = read(b"id-1\nid-2\n", &options);
        let ids: Vec<(u64, String)> = rows(&items).into_iter().map(|r| (r.0, r.2)).collect();
        assert_eq!(ids, [(1, "id-1".to_string()), (2, "id-2".to_string())]);
    }
}
