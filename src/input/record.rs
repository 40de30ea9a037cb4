//! One CSV record: its bytes and where each field lies in them. A line with no quote is kept as
//! it was read, commas and all, its fields spans between them; a record csv-core has read (quotes
//! undone) is its fields back to back. Either way a field is a span, so a record is filled with
//! one copy of its line and its fields are borrowed, never copied again.

/// A record's bytes and its fields, as spans of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    bytes: Vec<u8>,
    fields: Vec<(usize, usize)>,
    /// The fields are spans between commas of `bytes` (so each starts and ends on a character
    /// when `bytes` is UTF-8).
    split: bool,
}

impl Record {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.fields.get(index).map(|&(start, end)| &self.bytes[start..end])
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.fields.iter().map(|&(start, end)| &self.bytes[start..end])
    }

    /// Every byte the fields are taken from (and the commas between them, if it was split).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Where each field is in [`Record::as_bytes`].
    pub fn spans(&self) -> &[(usize, usize)] {
        &self.fields
    }

    /// The fields are spans between the commas of a line (else fields pushed back to back, so
    /// one may end inside a character).
    pub fn is_split(&self) -> bool {
        self.split
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
        self.split = false;
    }

    /// Adds a field after the others.
    pub fn push_field(&mut self, field: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(field);
        self.fields.push((start, self.bytes.len()));
    }

    /// Starts a record split from a line: fields are added with [`Record::push_span`] as its
    /// commas are found, and its bytes with [`Record::set_line`] once its end is.
    pub fn start_split(&mut self) {
        self.clear();
        self.split = true;
    }

    /// Adds the field `start..end` of the line being split.
    #[inline]
    pub fn push_span(&mut self, start: usize, end: usize) {
        self.fields.push((start, end));
    }

    /// The line being split, whole: its last field runs from the last comma to its end.
    pub fn set_line(&mut self, line: &[u8]) {
        let start = self.fields.last().map_or(0, |&(_, end)| end + 1);
        self.fields.push((start, line.len()));
        self.bytes.extend_from_slice(line);
    }

    /// Drops the CR that ends the last field, if any: the CR of a CRLF line end (records are split
    /// on LF), which only the reader can tell from a CR inside quotes.
    pub fn drop_final_cr(&mut self) {
        if let Some((start, end)) = self.fields.last_mut()
            && *end > *start
            && self.bytes[*end - 1] == b'\r'
        {
            *end -= 1;
            // The last field ends the bytes, split or not.
            self.bytes.truncate(*end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Record {
        let mut record = Record::default();
        record.start_split();
        let mut start = 0;
        for (comma, _) in line.match_indices(',') {
            record.push_span(start, comma);
            start = comma + 1;
        }
        record.set_line(line.as_bytes());
        record
    }

    #[test]
    fn a_split_line_and_pushed_fields_give_the_same_fields() {
        let mut pushed = Record::default();
        for field in ["c1", "", "x y", "\u{e9}\r"] {
            pushed.push_field(field.as_bytes());
        }
        let from_line = split("c1,,x y,\u{e9}\r");
        assert!(from_line.iter().eq(pushed.iter()));
        assert!(split("").iter().eq([b""]));
        assert_eq!(from_line.as_bytes(), "c1,,x y,\u{e9}\r".as_bytes());
        assert_eq!(from_line.spans()[3], (8, 11));
        assert!(from_line.is_split() && !pushed.is_split());
    }
}
