//! A quote that is opened and never closed. The csv crate reads it as one field that runs to the
//! end of the input, silently swallowing every line after it into one value. This spots that case
//! and hands back the swallowed lines so they can be read again as rows.
//!
//! Why this is safe to spot: a field swallowed to the end of the input is necessarily the last
//! field of the last record, it holds a line end, and the input does not end in a quote (a closed
//! quoted last field ends in `"`, perhaps followed by line ends). Inside the swallowed text every
//! quote was doubled (a lone one would have closed the field), so the lines are read again with
//! quotes taken literally.

use super::record::Record;

/// The line the unclosed quote opened on, and the lines it swallowed (from the next line on).
pub fn swallowed(record: &Record, first_line: u64) -> (u64, &[u8]) {
    let fields = record.len();
    let newlines_before: usize =
        record.iter().take(fields.saturating_sub(1)).map(|f| f.iter().filter(|&&b| b == b'\n').count()).sum();
    let opened = first_line + newlines_before as u64;
    let last_field = record.get(fields.saturating_sub(1)).unwrap_or_default();
    let rest = match last_field.iter().position(|&b| b == b'\n') {
        Some(at) => &last_field[at + 1..],
        None => &[],
    };
    (opened, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::input::records::Records;

    fn last_record(text: &[u8]) -> (Record, Records<&[u8]>) {
        let mut records = Records::new(text, true);
        let (mut record, mut last) = (Record::default(), Record::default());
        while records.next(&mut record).unwrap().is_some() {
            last = record.clone();
        }
        (last, records)
    }

    #[test]
    fn an_unclosed_quote_is_spotted_and_its_lines_handed_back() {
        let (record, tail) = last_record(b"ContactId,A\nc1,x\nc2,\"open\nc3,z\nc4,w\n");
        assert!(tail.may_be_unclosed(&record));
        let (opened, rest) = swallowed(&record, 3);
        assert_eq!((opened, rest), (3, &b"c3,z\nc4,w\n"[..]));
    }

    #[test]
    fn closed_multi_line_quotes_are_left_alone() {
        for text in
            [&b"ContactId,A\nc1,\"two\nlines\"\n"[..], b"ContactId,A\nc1,\"two\nlines\"", b"C,A\nc1,\"a\nb\"\r\n\r\n"]
        {
            let (record, tail) = last_record(text);
            assert!(!tail.may_be_unclosed(&record), "{}", String::from_utf8_lossy(text));
        }
        // An unclosed quote on the last line swallows no line: it cannot be told from an unquoted
        // value, and no row is lost.
        let (record, tail) = last_record(b"ContactId,A\nc1,\"x\"\nc2,\"unclosed");
        assert!(!tail.may_be_unclosed(&record));
    }

    #[test]
    fn the_opening_line_counts_newlines_in_earlier_closed_fields() {
        let (record, _) = last_record(b"c1,\"a\nb\",\"open\nnext,row\n");
        assert_eq!(swallowed(&record, 1), (2, &b"next,row\n"[..]));
    }
}
