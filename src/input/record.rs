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
}

/// A [`Record`] whose every field is UTF-8 text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextRecord {
    text: String,
    fields: Vec<(usize, usize)>,
    split: bool,
}

impl TextRecord {
    /// The record as text, or the record back when one of its fields is not UTF-8. (The whole
    /// is checked in one go; a field is then text when it starts and ends on a character.)
    pub fn from_record(record: Record) -> Result<TextRecord, Record> {
        let Record { bytes, fields, split } = record;
        let on_characters =
            |text: &str| fields.iter().all(|&(s, e)| text.is_char_boundary(s) && text.is_char_boundary(e));
        match String::from_utf8(bytes) {
            Ok(text) if split || on_characters(&text) => Ok(TextRecord { text, fields, split }),
            Ok(text) => Err(Record { bytes: text.into_bytes(), fields, split }),
            Err(err) => Err(Record { bytes: err.into_bytes(), fields, split }),
        }
    }

    pub fn into_record(self) -> Record {
        Record { bytes: self.text.into_bytes(), fields: self.fields, split: self.split }
    }

    /// Empties the record, keeping its buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.fields.clear();
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Where field `index` is in [`TextRecord::as_str`].
    pub fn span(&self, index: usize) -> Option<(usize, usize)> {
        self.fields.get(index).copied()
    }

    /// The text the fields are spans of.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Starts loading the record's text and field spans into this core's cache. A record comes
    /// from the parsing thread, so its memory is in the other core's cache: read cold, row making
    /// waited on it for about a third of its time.
    #[inline]
    pub fn prefetch(&self) {
        crate::prefetch::slice(self.text.as_bytes());
        crate::prefetch::items(&self.fields);
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
        let text = TextRecord::from_record(from_line).unwrap();
        let (start, end) = text.span(3).unwrap();
        assert_eq!((text.len(), &text.as_str()[start..end]), (4, "\u{e9}\r"));
        assert!(text.into_record().iter().eq(pushed.iter()));
    }

    #[test]
    fn a_field_that_is_not_text_gives_the_record_back() {
        let mut bad = Record::default();
        bad.push_field(b"ok");
        bad.push_field(b"\xff");
        assert_eq!(TextRecord::from_record(bad.clone()), Err(bad));
        // Text as a whole, but a character cut in two between fields.
        let mut cut = Record::default();
        cut.push_field(&"\u{e9}".as_bytes()[..1]);
        cut.push_field(&"\u{e9}".as_bytes()[1..]);
        assert_eq!(TextRecord::from_record(cut.clone()), Err(cut));
    }
}
