//! Records on their way from the parsing thread to the one that makes rows, a thousand at a time.
//! A chunk holds its records' bytes back to back and each record's fields as spans of them.
//!
//! Why: handed over one by one, each record was memory of its own, written on one core and read
//! on the other, and given back to be written again: both threads spent much of their time waiting
//! for those lines to move between the cores' caches. A chunk is one buffer, written front to back
//! and read front to back, which the processor fetches ahead on both sides.
//!
//! Whether a record is text (UTF-8 with no NUL) is checked once for the whole chunk when it is
//! sealed. Only a chunk that fails is checked record by record; its records that are not text keep
//! their bytes apart, and their fields are then taken one by one to say what is wrong.

use super::BadRow;
use super::record::Record;

/// A chunk is handed over once it holds this many records, or this many bytes.
pub const RECORDS: usize = 1024;
const BYTES: usize = 128 * 1024;

/// The longest record a chunk holds: its bytes and fields are counted in 32 bits, and a record is
/// added to a chunk holding less than [`BYTES`] bytes and a few more fields (a field takes a byte
/// at least, or a comma), so half the range leaves room to spare.
pub const LONGEST_RECORD: usize = u32::MAX as usize / 2;

/// Records (and rows that could not be read), in input order.
#[derive(Debug, Default)]
pub struct Chunk {
    /// The text records' bytes, once the chunk is sealed: each line as it was read, commas and
    /// all (or, for a record with quotes, its fields with the quotes undone, back to back).
    text: String,
    /// Where those bytes go while records are added, before they are checked to be text.
    bytes: Vec<u8>,
    /// The bytes of the records that are not text.
    raw: Vec<u8>,
    /// Every record's fields, as spans of `text` (or of `raw`).
    fields: Vec<(u32, u32)>,
    entries: Vec<Entry>,
    bad: Vec<BadRow>,
}

/// One record of a chunk, or one row that could not be read.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub line: u64,
    /// Its fields are `fields[first..end]`; for a bad row, `first` is its place in `bad`.
    first: u32,
    end: u32,
    pub kind: Kind,
    /// Its fields are spans between the commas of its line (else csv-core's, back to back, so
    /// a field may end inside a character).
    split: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Its fields are spans of [`Chunk::text`].
    Text,
    /// Its fields are spans of [`Chunk::raw`]: a byte in it is not UTF-8, or is NUL.
    Raw,
    /// A row that could not be read: [`Chunk::bad`].
    Bad,
}

impl Chunk {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Full: time to hand it over.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= RECORDS || self.bytes.len() >= BYTES
    }

    /// Adds a record read from `line`. Its bytes must be at most [`LONGEST_RECORD`] long.
    pub fn push_record(&mut self, record: &Record, line: u64) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(record.as_bytes());
        let first = self.fields.len() as u32;
        self.fields.extend(record.spans().iter().map(|&(start, end)| ((base + start) as u32, (base + end) as u32)));
        let end = self.fields.len() as u32;
        self.entries.push(Entry { line, first, end, kind: Kind::Text, split: record.is_split() });
    }

    /// Adds a row that could not be read.
    pub fn push_bad(&mut self, bad: BadRow) {
        let first = self.bad.len() as u32;
        self.entries.push(Entry { line: bad.location.line, first, end: first, kind: Kind::Bad, split: false });
        self.bad.push(bad);
    }

    /// Checks which records are text, so the chunk can be handed over.
    pub fn seal(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        let text = match String::from_utf8(bytes) {
            Ok(text) if memchr::memchr(0, text.as_bytes()).is_none() && self.fields_on_characters(&text) => text,
            Ok(text) => self.sort_out(text.into_bytes()),
            Err(err) => self.sort_out(err.into_bytes()),
        };
        self.text = text;
    }

    /// Every record of `text` is text on its own: it starts and ends on a character (the text as a
    /// whole is, but a line ending in half a character and the next starting with the other half
    /// are not), and so does every field of a record with quotes (a split record's fields lie
    /// between commas).
    fn fields_on_characters(&self, text: &str) -> bool {
        let on_characters = |entry: &Entry| {
            let fields = &self.fields[entry.first as usize..entry.end as usize];
            let at = |offset: usize| text.is_char_boundary(offset);
            match (entry.split, extent(fields)) {
                (true, Some((start, end))) => at(start) && at(end),
                _ => fields.iter().all(|&(start, end)| at(start as usize) && at(end as usize)),
            }
        };
        self.entries.iter().filter(|entry| entry.kind == Kind::Text).all(on_characters)
    }

    /// Record by record: the text records' bytes to the text returned, the others' to `raw`.
    fn sort_out(&mut self, bytes: Vec<u8>) -> String {
        let mut text = String::with_capacity(bytes.len());
        for entry in self.entries.iter_mut().filter(|entry| entry.kind == Kind::Text) {
            let fields = &mut self.fields[entry.first as usize..entry.end as usize];
            let Some((start, end)) = extent(fields) else { continue };
            let record = &bytes[start..end];
            let as_text = std::str::from_utf8(record).ok().filter(|record| {
                !record.contains('\0')
                    && (entry.split
                        || fields.iter().all(|&(s, e)| {
                            record.is_char_boundary(s as usize - start) && record.is_char_boundary(e as usize - start)
                        }))
            });
            let base = match as_text {
                Some(record) => {
                    let base = text.len();
                    text.push_str(record);
                    base
                }
                None => {
                    entry.kind = Kind::Raw;
                    let base = self.raw.len();
                    self.raw.extend_from_slice(record);
                    base
                }
            };
            for (s, e) in fields.iter_mut() {
                (*s, *e) = ((*s as usize - start + base) as u32, (*e as usize - start + base) as u32);
            }
        }
        text
    }

    /// Empties the chunk for reuse, keeping its buffers.
    pub fn clear(&mut self) {
        self.bytes = std::mem::take(&mut self.text).into_bytes();
        self.bytes.clear();
        self.raw.clear();
        self.fields.clear();
        self.entries.clear();
        self.bad.clear();
    }

    pub fn entry(&self, at: usize) -> Entry {
        self.entries[at]
    }

    /// The fields of a record, as spans of the text (or of [`Chunk::raw`]); none for a bad row
    /// (whose `first` is its place among the bad rows, not among the fields).
    pub fn fields(&self, entry: Entry) -> &[(u32, u32)] {
        match entry.kind {
            Kind::Bad => &[],
            Kind::Text | Kind::Raw => &self.fields[entry.first as usize..entry.end as usize],
        }
    }

    /// The bytes of the records that are not text.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn bad(&self, entry: Entry) -> &BadRow {
        &self.bad[entry.first as usize]
    }

    /// Lends the chunk's text (to the row that borrows its values) in exchange for `other`: call
    /// again to have it back.
    pub fn swap_text(&mut self, other: &mut String) {
        std::mem::swap(&mut self.text, other);
    }
}

/// Where a record's bytes are, from its fields: from its first field's start to its last one's end.
pub fn extent(fields: &[(u32, u32)]) -> Option<(usize, usize)> {
    match (fields.first(), fields.last()) {
        (Some(&(start, _)), Some(&(_, end))) => Some((start as usize, end as usize)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Location;

    fn record(fields: &[&[u8]], split: bool) -> Record {
        let mut record = Record::default();
        if split {
            let line = fields.join(&b","[..]);
            record.start_split();
            let mut start = 0;
            for field in &fields[..fields.len() - 1] {
                record.push_span(start, start + field.len());
                start += field.len() + 1;
            }
            record.set_line(&line);
        } else {
            for field in fields {
                record.push_field(field);
            }
        }
        record
    }

    /// Each record's kind and fields, as the chunk gives them once sealed.
    fn sealed(records: &[Record]) -> Vec<(Kind, Vec<Vec<u8>>)> {
        let mut chunk = Chunk::default();
        for (line, record) in records.iter().enumerate() {
            chunk.push_record(record, line as u64 + 1);
        }
        chunk.seal();
        let text = std::mem::take(&mut chunk.text);
        (0..chunk.len())
            .map(|at| {
                let entry = chunk.entry(at);
                let from = if entry.kind == Kind::Text { text.as_bytes() } else { chunk.raw() };
                let fields = chunk.fields(entry).iter().map(|&(s, e)| from[s as usize..e as usize].to_vec()).collect();
                (entry.kind, fields)
            })
            .collect()
    }

    #[test]
    fn text_records_stay_text_and_the_others_are_set_apart_with_their_fields() {
        let good = record(&[b"c1", b"x y", b"\xc3\xa9"], true);
        let not_utf8 = record(&[b"c2", b"\xff", b"z"], true);
        let nul = record(&[b"c3", b"a\0b"], false);
        // Text as a whole, but a character cut in two between the fields of a quoted record.
        let cut = record(&[&b"\xc3\xa9"[..1], &b"\xc3\xa9"[1..]], false);
        let quoted = record(&[b"c4", b"\xc3\xa9,\n"], false);
        // Lines that are text only back to back: one ends in half a character, the next starts
        // with the other half.
        let (lead, follow) = (record(&[b"c5", b"x\xc3"], true), record(&[b"\xa9c6", b"y"], true));
        assert_eq!(sealed(&[lead, follow]).iter().map(|(kind, _)| *kind).collect::<Vec<_>>(), [Kind::Raw, Kind::Raw]);
        let all = [good.clone(), not_utf8.clone(), good.clone(), nul.clone(), cut.clone(), quoted.clone()];
        let fields = |record: &Record| record.iter().map(<[u8]>::to_vec).collect::<Vec<_>>();
        let want = vec![
            (Kind::Text, fields(&good)),
            (Kind::Raw, fields(&not_utf8)),
            (Kind::Text, fields(&good)),
            (Kind::Raw, fields(&nul)),
            (Kind::Raw, fields(&cut)),
            (Kind::Text, fields(&quoted)),
        ];
        assert_eq!(sealed(&all), want);
        // Each alone: a chunk that passes whole, and one that fails for each reason.
        for (record, want) in all.iter().zip(&want) {
            assert_eq!(sealed(std::slice::from_ref(record)), std::slice::from_ref(want));
        }
    }

    #[test]
    fn bad_rows_keep_their_place_and_a_cleared_chunk_starts_over() {
        let mut chunk = Chunk::default();
        chunk.push_record(&record(&[b"\xff"], true), 1);
        let bad = BadRow { location: Location { input: 0, line: 2 }, reason: "no".into() };
        chunk.push_bad(bad.clone());
        chunk.push_record(&record(&[b"ok"], true), 3);
        // Bad rows one after another, more than there are fields before them.
        for _ in 0..3 {
            chunk.push_bad(bad.clone());
        }
        chunk.seal();
        let kinds: Vec<(Kind, u64)> = (0..chunk.len()).map(|at| (chunk.entry(at).kind, chunk.entry(at).line)).collect();
        assert_eq!(
            kinds,
            [(Kind::Raw, 1), (Kind::Bad, 2), (Kind::Text, 3), (Kind::Bad, 2), (Kind::Bad, 2), (Kind::Bad, 2)]
        );
        assert_eq!(chunk.bad(chunk.entry(1)), &bad);
        assert_eq!(chunk.bad(chunk.entry(5)), &bad);
        assert!(
            (0..chunk.len()).all(|at| chunk.entry(at).kind != Kind::Bad || chunk.fields(chunk.entry(at)).is_empty())
        );
        chunk.clear();
        assert!(chunk.is_empty() && chunk.raw().is_empty());
        chunk.push_record(&record(&[b"again"], true), 9);
        chunk.seal();
        let mut text = String::new();
        chunk.swap_text(&mut text);
        let (start, end) = chunk.fields(chunk.entry(0))[0];
        assert_eq!((&text[start as usize..end as usize], chunk.entry(0).kind), ("again", Kind::Text));
    }
}
