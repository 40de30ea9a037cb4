//! Records with the line each starts on. Lines without a quote, nearly all of an export, are split
//! on commas found with masks of commas, line ends and quotes ([`scan`]); a line with a quote goes
//! to csv-core's parser, which reads it (and the lines its quotes hold) exactly as the csv crate
//! would. Blank lines, and the lone CR of a blank CRLF line (records split on LF), are skipped, as
//! the csv crate skips them; the CR of a CRLF line end is dropped from the record's last field,
//! where a CR that was inside quotes stays.
//!
//! Why the split is safe: csv-core, at the start of a record, reads a line with no quote as the
//! bytes between its commas. Only a quote changes how a line is read, and those lines get
//! csv-core itself, started at a record's start like every record it reads.
//!
//! One reading departs from the csv crate's: a quote that swallows lines, never closed or closed
//! by a quote followed by other text ([`unclosed`]). That record is not handed out: the line its
//! quote opened on is a [`BadQuote`], and reading starts again on the next line.

use super::record::Record;
use super::scan;
use super::unclosed::{self, BadQuote, Fault};
use csv_core::ReadRecordResult;
use std::io::{self, Read};

/// What the reader starts with and reads at a time.
const BUFFER: usize = 256 * 1024;
const BOM: &[u8] = b"\xef\xbb\xbf";

/// What [`Records::next`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A record (in the caller's `Record`) that starts on this line.
    Record(u64),
    /// A row whose quote swallows lines: skipped, and reading goes on at the line after the one
    /// its quote opened on.
    BadQuote(BadQuote),
}

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
    /// Quotes are read as quotes (else taken literally, and every line is split as it is).
    quoting: bool,
    core: csv_core::Reader,
    fields: Vec<u8>,
    ends: Vec<usize>,
}

/// csv-core's reader, for records split on LF. It drops a BOM from the first input it is given;
/// the BOM is handled here (it can only open the input), so that first input is a blank line it
/// skips.
fn csv_core_reader() -> csv_core::Reader {
    let mut core = csv_core::ReaderBuilder::new().terminator(csv_core::Terminator::Any(b'\n')).build();
    let _ = core.read_record(b"\n", &mut [0; 1], &mut [0; 1]);
    core
}

impl<R: Read> Records<R> {
    pub fn new(source: R, quoting: bool) -> Records<R> {
        Records {
            source,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            at_end: false,
            next_line: 1,
            record_line: 1,
            bom_checked: false,
            quoting,
            core: csv_core_reader(),
            fields: vec![0; 1024],
            ends: vec![0; 64],
        }
    }

    /// The next record that is not a blank line (or row skipped for its quotes); `None` at the
    /// end. An error is the source's: nothing after it can be read.
    pub fn next(&mut self, record: &mut Record) -> io::Result<Option<Next>> {
        loop {
            let next = self.read_record(record)?;
            // A blank line (its CR dropped as the line end's) is one empty field.
            let blank = matches!(next, Some(Next::Record(_))) && record.len() == 1 && record.get(0) == Some(b"");
            if !blank {
                return Ok(next);
            }
        }
    }

    /// Where reading stopped: the line of the record being read.
    pub fn line(&self) -> u64 {
        self.record_line
    }

    /// Reads one record, blank or not; `None` at the end of the input.
    fn read_record(&mut self, record: &mut Record) -> io::Result<Option<Next>> {
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
                    return Ok(None);
                }
                break scanned;
            }
            self.fill()?;
        };
        // With no quote, a CR that ends the line is the line end's.
        record.set_line(&self.buf[self.start..self.start + len]);
        record.drop_final_cr();
        self.start = (self.start + len + 1).min(self.end);
        self.next_line += 1;
        Ok(Some(Next::Record(self.record_line)))
    }

    /// Reads the record at `start`, a line with a quote, with csv-core.
    fn read_quoted(&mut self, record: &mut Record) -> io::Result<Option<Next>> {
        // The record's bytes stay in the buffer until it is read: its quotes are checked on them,
        // and reading may start again inside them.
        let (mut nfields, mut nends, mut read, mut newlines) = (0, 0, 0, 0);
        loop {
            let input = &self.buf[self.start + read..self.end];
            let (result, nin, nout, nend) =
                self.core.read_record(input, &mut self.fields[nfields..], &mut self.ends[nends..]);
            newlines += memchr::memchr_iter(b'\n', &input[..nin]).count();
            (read, nfields, nends) = (read + nin, nfields + nout, nends + nend);
            match result {
                ReadRecordResult::InputEmpty if !self.at_end => self.fill()?,
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => self.fields.resize(self.fields.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                ReadRecordResult::Record => break,
                ReadRecordResult::End => return Ok(None),
            }
        }
        let raw = &self.buf[self.start..self.start + read];
        let (line_end, at_end) = (raw.last() == Some(&b'\n'), self.at_end && self.start + read == self.end);
        // Only a record with a line end inside, or at the end of the input, can hold a line in a
        // quote or end inside one: a one-line record (nearly every quoted one) is not looked at.
        let fault = if newlines > usize::from(line_end) || at_end { unclosed::check(raw) } else { None };
        if let Some(fault) = fault.filter(|fault| memchr::memchr(b'\n', &raw[fault.opened()..]).is_some()) {
            return Ok(Some(Next::BadQuote(self.start_again(fault))));
        }
        // csv-core keeps the CR of a CRLF line end in the last field (it reads after a closing
        // quote as part of the field). It is the line end's when right before the LF, or when it
        // ends the input outside a quote; a CR before a closing quote is the value's.
        let final_cr = raw.ends_with(b"\r\n") || (!line_end && raw.ends_with(b"\r") && fault.is_none());
        self.start += read;
        self.next_line += newlines as u64;
        record.clear();
        let mut from = 0;
        for &to in &self.ends[..nends] {
            record.push_field(&self.fields[from..to]);
            from = to;
        }
        if final_cr {
            record.drop_final_cr();
        }
        Ok(Some(Next::Record(self.record_line)))
    }

    /// Drops the record at `start`, whose quote swallows lines (`fault`, at an offset from
    /// `start`), and starts reading again at the line after the one the quote opened on.
    fn start_again(&mut self, fault: Fault) -> BadQuote {
        let raw = &self.buf[self.start..self.end];
        let opened = fault.opened();
        let lines_to = |at: usize| memchr::memchr_iter(b'\n', &raw[..at]).count() as u64;
        let line = self.record_line + lines_to(opened);
        let next = memchr::memchr(b'\n', &raw[opened..]).map_or(raw.len(), |len| opened + len + 1);
        self.start += next;
        self.next_line = line + 1;
        // csv-core may have read to the end of the input, after which it reads nothing.
        self.core = csv_core_reader();
        match fault {
            Fault::ClosedBadly { closed, .. } => {
                BadQuote::ClosedBadly { line, closed: self.record_line + lines_to(closed) }
            }
            Fault::Unclosed { .. } => {
                // The rest of the input is what it swallowed, where every quote is doubled (a
                // lone one would have closed it): they are read as they lie.
                self.quoting = false;
                BadQuote::Unclosed { line }
            }
        }
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
        self.end += n;
        self.at_end = n == 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A record's fields and line, or a row skipped for its quotes.
    type Seen = Result<(Vec<Vec<u8>>, u64), BadQuote>;

    fn lines(text: &[u8]) -> Vec<(String, u64)> {
        let first = |(fields, line): (Vec<Vec<u8>>, u64)| (String::from_utf8_lossy(&fields[0]).into_owned(), line);
        our_records(text, true, 1000).into_iter().filter_map(Result::ok).map(first).collect()
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

    fn fields(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|field| field.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_stray_quote_is_one_bad_row_and_the_rows_it_swallowed_are_read_again_on_their_lines() {
        let text = b"Id,Product,Qty\nc1,\"27 inch monitor,1\nc2,desk,2\nc3,chair,3\nc4,\"lamp\",4\nc5,pen,5\n";
        let want = vec![
            Ok((fields(&["Id", "Product", "Qty"]), 1)),
            Err(BadQuote::ClosedBadly { line: 2, closed: 5 }),
            Ok((fields(&["c2", "desk", "2"]), 3)),
            Ok((fields(&["c3", "chair", "3"]), 4)),
            Ok((fields(&["c4", "lamp", "4"]), 5)),
            Ok((fields(&["c5", "pen", "5"]), 6)),
        ];
        for chunk in [1, 7, 1000] {
            assert_eq!(our_records(text, true, chunk), want, "{chunk}");
        }
        // Two of them, the second never closed: the lines after it are read with quotes as they lie.
        let text = b"H,N\nc1,ok\nc2,\"urgent\nc3,ok\nc4,\"urgent\nc5,\"\"q\"\"\n";
        let want = vec![
            Ok((fields(&["H", "N"]), 1)),
            Ok((fields(&["c1", "ok"]), 2)),
            Err(BadQuote::ClosedBadly { line: 3, closed: 5 }),
            Ok((fields(&["c3", "ok"]), 4)),
            Err(BadQuote::Unclosed { line: 5 }),
            Ok((fields(&["c5", "\"\"q\"\""]), 6)),
        ];
        assert_eq!(our_records(text, true, 1000), want);
    }

    #[test]
    fn a_closed_quote_followed_by_blanks_at_the_end_is_a_value() {
        for (text, value) in [
            (&b"Id,Note\nc1,ok\nc9,\"line1\nline2\" "[..], "line1\nline2 "),
            (b"Id,Note\nc1,ok\nc9,\"line1\nline2\" \n", "line1\nline2 "),
            (b"Id,Note\nc1,ok\nc9,\"line1\r\nline2\" \r\n", "line1\r\nline2 "),
        ] {
            assert_eq!(our_records(text, true, 1000)[2], Ok((fields(&["c9", value]), 3)));
        }
    }

    #[test]
    fn only_the_cr_of_a_line_end_is_dropped() {
        let last = |text: &[u8]| our_records(text, true, 1000).pop().and_then(Result::ok).map(|(f, _)| f);
        assert_eq!(last(b"c1,\"x\r\"\n"), Some(fields(&["c1", "x\r"])));
        assert_eq!(last(b"c1,\"x\r\""), Some(fields(&["c1", "x\r"])));
        assert_eq!(last(b"c1,\"x\r\"\r\n"), Some(fields(&["c1", "x\r"])));
        assert_eq!(last(b"c1,\"x\"\r\n"), Some(fields(&["c1", "x"])));
        assert_eq!(last(b"c1,\"x\"\r"), Some(fields(&["c1", "x"])));
        assert_eq!(last(b"c1,x\r\n"), Some(fields(&["c1", "x"])));
        assert_eq!(last(b"c1,x\r"), Some(fields(&["c1", "x"])));
        // A quote left open on the last line: its CR is inside it.
        assert_eq!(last(b"c1,\"x\r"), Some(fields(&["c1", "x\r"])));
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

    /// What the reader should hand out, from the csv crate's records, each with its line: one more
    /// than the line ends before its first byte. (The csv crate's own position of a record is where
    /// the blank lines or BOM before it began, so they are stepped over.) The CR of a CRLF line end
    /// is dropped from the last field. A record whose quote swallows a line ([`unclosed::check`]) is
    /// a bad quote, and the csv crate reads again from the line after the one the quote opened on
    /// (behind a blank line, which keeps it from taking a BOM there for the input's).
    fn expected(text: &[u8], mut quoting: bool) -> Vec<Seen> {
        let (mut input, mut line_base, mut seen) = (text.to_vec(), 0, Vec::new());
        let lines_to = |input: &[u8], at: usize| memchr::memchr_iter(b'\n', &input[..at]).count() as u64;
        'read: loop {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .quoting(quoting)
                .terminator(csv::Terminator::Any(b'\n'))
                .from_reader(&input[..]);
            let mut record = csv::ByteRecord::default();
            while reader.read_byte_record(&mut record).unwrap() {
                let mut start = record.position().unwrap().byte() as usize;
                if start == 0 && input.starts_with(BOM) {
                    start = BOM.len();
                }
                while input.get(start) == Some(&b'\n') {
                    start += 1;
                }
                let raw = &input[start..reader.position().byte() as usize];
                let fault = unclosed::check(raw).filter(|_| quoting);
                if let Some(fault) = fault.filter(|f| raw[f.opened()..].contains(&b'\n')) {
                    let opened = start + fault.opened();
                    let line = line_base + 1 + lines_to(&input, opened);
                    seen.push(Err(match fault {
                        Fault::Unclosed { .. } => BadQuote::Unclosed { line },
                        Fault::ClosedBadly { closed, .. } => {
                            BadQuote::ClosedBadly { line, closed: line_base + 1 + lines_to(&input, start + closed) }
                        }
                    }));
                    quoting &= matches!(fault, Fault::ClosedBadly { .. });
                    let next = opened + memchr::memchr(b'\n', &input[opened..]).unwrap_or(0) + 1;
                    (input, line_base) = ([b"\n", &input[next..]].concat(), line - 1);
                    continue 'read;
                }
                let mut fields: Vec<Vec<u8>> = record.iter().map(<[u8]>::to_vec).collect();
                let final_cr =
                    raw.ends_with(b"\r\n") || (!raw.ends_with(b"\n") && raw.ends_with(b"\r") && fault.is_none());
                if let Some(last) = fields.last_mut().filter(|_| final_cr) {
                    last.pop();
                }
                if fields != [b""] {
                    seen.push(Ok((fields, line_base + 1 + lines_to(&input, start))));
                }
            }
            return seen;
        }
    }

    fn our_records(text: &[u8], quoting: bool, chunk: usize) -> Vec<Seen> {
        let mut records = Records::new(Trickle(text, chunk), quoting);
        let (mut record, mut seen) = (Record::default(), Vec::new());
        while let Some(next) = records.next(&mut record).unwrap() {
            seen.push(match next {
                Next::Record(line) => Ok((record.iter().map(<[u8]>::to_vec).collect(), line)),
                Next::BadQuote(bad) => Err(bad),
            });
        }
        seen
    }

    proptest! {
        /// Any mix of plain and quoted fields, blank lines, CRs, blanks, a BOM and quotes closed
        /// badly or never reads as the csv crate reads it, on the same lines, but for the rows
        /// whose quotes swallow lines, whatever the size of the source's reads.
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
            prop_assert_eq!(our_records(&text, quoting, chunk), expected(&text, quoting));
        }

        /// Any bytes at all, with the ones the reader looks for (and their neighbours one bit
        /// away, which its search may stop at too) frequent.
        #[test]
        fn any_bytes_read_as_the_csv_crate_reads_them(
            bytes in prop::collection::vec(prop_oneof![
                any::<u8>(),
                prop::sample::select(b",\n\"\r-#\x0b\x2d\x23\x00 ".to_vec()),
            ], 0..200),
            quoting in any::<bool>(),
            chunk in 1usize..64,
        ) {
            prop_assert_eq!(our_records(&bytes, quoting, chunk), expected(&bytes, quoting));
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
            prop_assert_eq!(our_records(&text, quoting, chunk), expected(&text, quoting));
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
                    assert_eq!(our_records(&text, true, chunk), expected(&text, true), "{len} {byte} {chunk}");
                }
            }
        }
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_read_whole() {
        let long = "v".repeat(BUFFER * 2 + 5);
        let text = format!("H,A\nc1,{long}\nc2,\"{long}\"\nc3,\"{long}\n{long}\"x\nc4,z");
        let seen = our_records(text.as_bytes(), true, 100_000);
        let lines: Vec<Result<u64, BadQuote>> =
            seen.iter().map(|s| s.as_ref().map(|(_, line)| *line).map_err(Clone::clone)).collect();
        assert_eq!(lines, [Ok(1), Ok(2), Ok(3), Err(BadQuote::ClosedBadly { line: 4, closed: 5 }), Ok(5), Ok(6)]);
        let fields = |at: usize| seen[at].clone().unwrap().0;
        assert_eq!(fields(1)[1].len(), long.len());
        assert_eq!(fields(2)[1].len(), long.len());
        assert_eq!(fields(4), [format!("{long}\"x").into_bytes()]);
        assert_eq!(fields(5), [b"c4".to_vec(), b"z".to_vec()]);
    }
}
