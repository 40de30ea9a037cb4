//! Records with the right line numbers. The csv crate skips blank lines but then reports the next
//! record at the line (and byte) where the blank run began; its running line count is right at
//! the end of each record, so the line of a record is worked out from there. Blank lines of CRLF
//! files (a lone CR, since records are split on LF) are skipped here too.

use csv::ByteRecord;
use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// What the reader under the CSV parser has seen: how many bytes, whether it reached the end,
/// the last byte, and the last byte that was not a line end.
#[derive(Debug, Default)]
pub struct Tail {
    total: Cell<u64>,
    at_end: Cell<bool>,
    last: Cell<u8>,
    last_text: Cell<u8>,
}

impl Tail {
    /// True when `record`, just read, may be an unclosed quote swallowing the rest of the input
    /// (the caller confirms that it is the last record): see [`super::unclosed`].
    pub fn may_be_unclosed(&self, record: &ByteRecord) -> bool {
        let last_field = record.iter().next_back().unwrap_or_default();
        self.at_end.get() && self.last_text.get() != b'"' && last_field.contains(&b'\n')
    }

    /// True when a record ending at byte `end` is the input's last line, with no line end.
    fn unterminated_at(&self, end: u64) -> bool {
        self.at_end.get() && end == self.total.get() && self.last.get() != b'\n'
    }
}

/// Passes bytes through, keeping [`Tail`] up to date.
pub struct TailReader<R> {
    inner: R,
    tail: Rc<Tail>,
}

impl<R: Read> Read for TailReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let tail = &self.tail;
        if n == 0 && !buf.is_empty() {
            tail.at_end.set(true);
        }
        tail.total.set(tail.total.get() + n as u64);
        if let Some(&last) = buf[..n].last() {
            tail.last.set(last);
        }
        if let Some(&last) = buf[..n].iter().rev().find(|b| !matches!(b, b'\r' | b'\n')) {
            tail.last_text.set(last);
        }
        Ok(n)
    }
}

/// A CSV reader that hands out each record with the line it starts on.
pub struct Records<R> {
    csv: csv::Reader<TailReader<R>>,
    pub tail: Rc<Tail>,
}

impl<R: Read> Records<R> {
    pub fn new(builder: &csv::ReaderBuilder, inner: R) -> Records<R> {
        let tail = Rc::new(Tail::default());
        let csv = builder.from_reader(TailReader { inner, tail: tail.clone() });
        Records { csv, tail }
    }

    /// The next record that is not a blank line, and its line; `None` at the end.
    pub fn next(&mut self, record: &mut ByteRecord) -> csv::Result<Option<u64>> {
        loop {
            if !self.csv.read_byte_record(record)? {
                return Ok(None);
            }
            if record.len() != 1 || !matches!(&record[0], b"" | b"\r") {
                return Ok(Some(self.line_of(record)));
            }
        }
    }

    /// Where reading stopped: the line of a record that could not be read.
    pub fn line(&self) -> u64 {
        self.csv.position().line()
    }

    fn line_of(&self, record: &ByteRecord) -> u64 {
        let end = self.csv.position();
        // Line ends inside quoted values; most records have none, which one search tells.
        let bytes = record.as_slice();
        let inside = if memchr::memchr(b'\n', bytes).is_some() { memchr::memchr_iter(b'\n', bytes).count() } else { 0 };
        let terminator = u64::from(!self.tail.unterminated_at(end.byte()));
        let reported = record.position().map_or(1, |p| p.line());
        end.line().saturating_sub(inside as u64 + terminator).max(reported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8]) -> Vec<(String, u64)> {
        let mut builder = csv::ReaderBuilder::new();
        builder.has_headers(false).flexible(true).terminator(csv::Terminator::Any(b'\n'));
        let mut records = Records::new(&builder, text);
        let mut record = ByteRecord::new();
        let mut seen = Vec::new();
        while let Some(line) = records.next(&mut record).unwrap() {
            seen.push((String::from_utf8_lossy(&record[0]).trim_end().to_string(), line));
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
}
