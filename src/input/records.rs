//! Records with the line each starts on. Lines without a quote, nearly all of an export, are split
//! on commas found with masks of commas, line ends and quotes ([`scan`]); a line with a quote goes
//! to csv-core's parser, which reads it (and the lines its quotes hold) exactly as the csv crate
//! would. Blank lines, and the lone CR of a blank CRLF line (records split on LF), are skipped, as
//! the csv crate skips them.
//!
//! Why the split is safe: csv-core, at the start of a record, reads a line with no quote as the
//! bytes between its commas. Only a quote changes how a line is read, and those lines get
//! csv-core itself, started at a record's start like every record it reads.

use super::record::Record;
use super::scan;
use csv_core::ReadRecordResult;
use std::io::{self, Read};

/// What the reader starts with and reads at a time.
const BUFFER: usize = 256 * 1024;
const BOM: &[u8] = b"\xef\xbb\xbf";

/// A CSV reader (comma-separated, LF-terminated, quotes as the csv crate reads them, or taken
/// literally) that hands out each record that is not blank, with its line.
pub struct Records<R> {
    source: R,
    /// Bytes read and not yet handed out: `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The source has returned its end.
    at_end: bool,
    /// The line of `buf[start]`, and of the record being read.
    next_line: u64,
    record_line: u64,
    /// Whether the input's start has been looked at for a BOM.
    bom_checked: bool,
    /// The last byte of the input so far that is not a line end.
    last_text: u8,
    /// Quotes are read as quotes (else taken literally, and every line is split as it is).
    quoting: bool,
    core: csv_core::Reader,
    fields: Vec<u8>,
    ends: Vec<usize>,
}

impl<R: Read> Records<R> {
    pub fn new(source: R, quoting: bool) -> Records<R> {
        let mut core = csv_core::ReaderBuilder::new().terminator(csv_core::Terminator::Any(b'\n')).build();
        // csv-core drops a BOM from the first input it is given; the BOM is handled here (it
        // can only open the input), so that first input is a blank line it skips.
        let _ = core.read_record(b"\n", &mut [0; 1], &mut [0; 1]);
        Records {
            source,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            at_end: false,
            next_line: 1,
            record_line: 1,
            bom_checked: false,
            last_text: 0,
            quoting,
            core,
            fields: vec![0; 1024],
            ends: vec![0; 64],
        }
    }

    /// The next record that is not a blank line, and its line; `None` at the end. An error is
    /// the source's: nothing after it can be read.
    pub fn next(&mut self, record: &mut Record) -> io::Result<Option<u64>> {
        loop {
            if !self.read_record(record)? {
                return Ok(None);
            }
            if record.len() != 1 || !matches!(record.get(0), Some(b"" | b"\r")) {
                return Ok(Some(self.record_line));
            }
        }
    }

    /// Where reading stopped: the line of the record being read.
    pub fn line(&self) -> u64 {
        self.record_line
    }

    /// True when `record`, just read, may be an unclosed quote swallowing the rest of the input
    /// (the caller confirms that it is the last record): see [`super::unclosed`].
    pub fn may_be_unclosed(&self, record: &Record) -> bool {
        let last_field = record.iter().next_back().unwrap_or_default();
        self.at_end && self.start == self.end && self.last_text != b'"' && last_field.contains(&b'\n')
    }

    /// Reads one record, blank or not; false at the end of the input.
    fn read_record(&mut self, record: &mut Record) -> io::Result<bool> {
        self.record_line = self.next_line;
        if !self.bom_checked {
            while self.end - self.start < BOM.len() && !self.at_end {
                self.fill()?;
            }
            if self.buf[self.start..self.end].starts_with(BOM) {
                self.start += BOM.len();
            }
            self.bom_checked = true;
        }
        // The line's commas and end, reading more until it is all in the buffer (or the input
        // ends); a quote first means csv-core reads the record.
        let (mut scanned, mut field) = (0, 0);
        record.start_split();
        let len = loop {
            let rest = &self.buf[self.start + scanned..self.end];
            let mut line_end = None;
            for at in (0..rest.len()).step_by(scan::BLOCK) {
                let masks = scan::masks(rest, at);
                // What comes before the line's end, if it is in this block.
                let before_end = scan::below(masks.line_ends.trailing_zeros());
                if self.quoting && masks.quotes & before_end != 0 {
                    return self.read_quoted(record);
                }
                let mut commas = masks.commas & before_end;
                while commas != 0 {
                    let comma = scanned + at + commas.trailing_zeros() as usize;
                    record.push_span(field, comma);
                    field = comma + 1;
                    commas &= commas - 1;
                }
                if masks.line_ends != 0 {
                    line_end = Some(scanned + at + masks.line_ends.trailing_zeros() as usize);
                    break;
                }
            }
            if let Some(len) = line_end {
                break len;
            }
            scanned = self.end - self.start;
            if self.at_end {
                if scanned == 0 {
                    return Ok(false);
                }
                break scanned;
            }
            self.fill()?;
        };
        record.set_line(&self.buf[self.start..self.start + len]);
        self.start = (self.start + len + 1).min(self.end);
        self.next_line += 1;
        Ok(true)
    }

    /// Reads the record at `start`, a line with a quote, with csv-core.
    fn read_quoted(&mut self, record: &mut Record) -> io::Result<bool> {
        let (mut nfields, mut nends) = (0, 0);
        loop {
            let input = &self.buf[self.start..self.end];
            let (result, nin, nout, nend) =
                self.core.read_record(input, &mut self.fields[nfields..], &mut self.ends[nends..]);
            self.next_line += memchr::memchr_iter(b'\n', &input[..nin]).count() as u64;
            self.start += nin;
            nfields += nout;
            nends += nend;
            match result {
                ReadRecordResult::InputEmpty if !self.at_end => self.fill()?,
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => self.fields.resize(self.fields.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                ReadRecordResult::Record => break,
                ReadRecordResult::End => return Ok(false),
            }
        }
        record.clear();
        let mut from = 0;
        for &to in &self.ends[..nends] {
            record.push_field(&self.fields[from..to]);
            from = to;
        }
        Ok(true)
    }

    /// Reads more of the source after the bytes not yet handed out, which move to the front
    /// (and the buffer grows when they fill it: a line longer than the buffer).
    fn fill(&mut self) -> io::Result<()> {
        // (Only when there is something to gain: a long line read in small pieces would otherwise
        // be moved onto itself at every read.)
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                result => break result?,
            }
        };
        let read = &self.buf[self.end..self.end + n];
        if let Some(&last) = read.iter().rev().find(|b| !matches!(b, b'\r' | b'\n')) {
            self.last_text = last;
        }
        self.end += n;
        self.at_end = n == 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(text: &[u8]) -> Vec<(String, u64)> {
        let mut records = Records::new(text, true);
        let mut record = Record::default();
        let mut seen = Vec::new();
        while let Some(line) = records.next(&mut record).unwrap() {
            seen.push((String::from_utf8_lossy(record.get(0).unwrap()).trim_end().to_string(), line));
        }
        seen
    }

    fn expect(list: &[(&str, u64)]) -> Vec<(String, u64)> {
        list.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    }

    #[test]
    fn lines_after_blank_lines_are_right() {
        assert_eq!(lines(b"H\n\nc1\n\n\nc2\n"), expect(&[("H", 1), ("c1", 3), ("c2", 6)]));
        assert_eq!(lines(b"H\n\nc1\n\n\nc2"), expect(&[("H", 1), ("c1", 3), ("c2", 6)]));
        assert_eq!(lines(b"\xef\xbb\xbfH\n\nc1\n\n\nc2"), expect(&[("H", 1), ("c1", 3), ("c2", 6)]));
        assert_eq!(lines(b"\r\nH\r\n\r\nc1\r\n\r\n\nc2\r\n\r\n"), expect(&[("H", 2), ("c1", 4), ("c2", 7)]));
    }

    #[test]
    fn lines_count_line_ends_inside_quoted_values() {
        assert_eq!(lines(b"H\nc1,\"a\n\nb\"\n\nc2\n"), expect(&[("H", 1), ("c1", 2), ("c2", 6)]));
        assert_eq!(lines(b"H\nc1,\"a\r\nb\"\r\nc2\r\n"), expect(&[("H", 1), ("c1", 2), ("c2", 4)]));
    }

    /// A source that hands out a few bytes at a time, as a pipe may.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Every record as the csv crate reads it, with its line: one more than the line ends
    /// before its first byte. (The csv crate's own position of a record is where the blank lines
    /// or BOM before it began, so they are stepped over.)
    fn csv_crate_records(text: &[u8], quoting: bool) -> (Vec<Vec<Vec<u8>>>, Vec<u64>) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .quoting(quoting)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(text);
        let (mut out, mut lines) = (Vec::new(), Vec::new());
        let mut record = csv::ByteRecord::default();
        while reader.read_byte_record(&mut record).unwrap() {
            if record.len() != 1 || !matches!(&record[0], b"" | b"\r") {
                out.push(record.iter().map(<[u8]>::to_vec).collect());
                let mut start = record.position().unwrap().byte() as usize;
                if start == 0 && text.starts_with(BOM) {
                    start = BOM.len();
                }
                while text.get(start) == Some(&b'\n') {
                    start += 1;
                }
                lines.push(1 + memchr::memchr_iter(b'\n', &text[..start]).count() as u64);
            }
        }
        (out, lines)
    }

    fn our_records(text: &[u8], quoting: bool, chunk: usize) -> (Vec<Vec<Vec<u8>>>, Vec<u64>) {
        let mut records = Records::new(Trickle(text, chunk), quoting);
        let (mut out, mut lines) = (Vec::new(), Vec::new());
        let mut record = Record::default();
        while let Some(line) = records.next(&mut record).unwrap() {
            out.push(record.iter().map(<[u8]>::to_vec).collect());
            lines.push(line);
        }
        (out, lines)
    }

    proptest! {
        /// Any mix of plain and quoted fields, blank lines, CRs, a BOM and an unclosed quote reads
        /// as the csv crate reads it, on the same lines, whatever the size of the source's reads.
        #[test]
        fn records_are_the_csv_crates(
            parts in prop::collection::vec(prop::sample::select(
                vec!["a", "bc", ",", "\n", "\r", "\"", "\"\"", "x y", "\u{e9}", "\r\n", "\u{feff}"]), 0..40),
            bom in any::<bool>(),
            quoting in any::<bool>(),
            chunk in 1usize..20,
        ) {
            let mut text = if bom { BOM.to_vec() } else { Vec::new() };
            text.extend(parts.concat().into_bytes());
            prop_assert_eq!(our_records(&text, quoting, chunk), csv_crate_records(&text, quoting));
        }

        /// Any bytes at all, with the ones the reader looks for (and their neighbours one bit
        /// away, which its search may stop at too) frequent.
        #[test]
        fn any_bytes_read_as_the_csv_crate_reads_them(
            bytes in prop::collection::vec(prop_oneof![
                any::<u8>(),
                prop::sample::select(b",\n\"\r-#\x0b\x2d\x23\x00".to_vec()),
            ], 0..200),
            quoting in any::<bool>(),
            chunk in 1usize..64,
        ) {
            prop_assert_eq!(our_records(&bytes, quoting, chunk), csv_crate_records(&bytes, quoting));
        }
    }

    proptest! {
        /// Lines of several 64-byte blocks, with commas, quotes, CRs and line ends anywhere, read in
        /// pieces of any size around a block's, as the csv crate reads them. (Written in review.)
        #[test]
        fn long_lines_across_blocks_read_as_the_csv_crate_reads_them(
            parts in prop::collection::vec(prop_oneof![
                8 => "[a-z]{1,90}".prop_map(String::into_bytes),
                2 => prop::sample::select(vec![&b","[..], b"\n", b"\r\n", b"\"", b"\"\"", b"\xc3\xa9", b"\n\n"]).prop_map(<[u8]>::to_vec),
            ], 0..30),
            quoting in any::<bool>(),
            chunk in prop::sample::select(vec![1usize, 5, 63, 64, 65, 127, 128, 1000]),
        ) {
            let text = parts.concat();
            prop_assert_eq!(our_records(&text, quoting, chunk), csv_crate_records(&text, quoting));
        }
    }

    /// A line end, comma or quote at each offset around the blocks' edges.
    #[test]
    fn a_structural_byte_at_any_offset_reads_as_the_csv_crate_reads_it() {
        for len in 0..200 {
            for byte in [b',', b'\n', b'"'] {
                for chunk in [1, 7, 64, 1000] {
                    let mut text = vec![b'a'; len];
                    text.push(byte);
                    text.extend_from_slice(b"b,c\nd");
                    assert_eq!(our_records(&text, true, chunk), csv_crate_records(&text, true), "{len} {byte} {chunk}");
                }
            }
        }
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_read_whole() {
        let long = "v".repeat(BUFFER * 2 + 5);
        let text = format!("H,A\nc1,{long}\nc2,\"{long}\"\nc3,z");
        let (records, lines) = our_records(text.as_bytes(), true, 100_000);
        assert_eq!(lines, [1, 2, 3, 4]);
        assert_eq!(records[1][1].len(), long.len());
        assert_eq!(records[2][1].len(), long.len());
        assert_eq!(records[3], [b"c3".to_vec(), b"z".to_vec()]);
    }
}
