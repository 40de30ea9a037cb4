//! Quotes that are not closed properly. The csv crate reads a quote that is never closed as one
//! field running to the end of the input, and a quote "closed" by the next lone quote of the file,
//! however far away, as ending there: either way it silently swallows every line in between into
//! one value. This finds where a record's quotes break RFC 4180, on its bytes, so that the reader
//! can report the row and read the lines it swallowed again ([`super::records`]).
//!
//! The rule: a closing quote is followed by a comma, a line end or the end of the input (blanks
//! before them are let through: a space after a closing quote is a common slip, and loses
//! nothing). A quoted field that holds a line end and is "closed" by a quote followed by other
//! text was opened by mistake (a stray `"` in a note) and ended by a quote of some later row; a
//! quote that runs to the end of the input likewise. The same slip within one line (`"ab"cd`) is
//! left as the csv crate reads it (`abcd`): it swallows no line, so no row is lost, and csv-core
//! reads the rest of the line the same way whatever the slip.

use memchr::memchr;
use std::fmt;

/// Where the quotes of a record break the rule: offsets in its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The quote at `opened` is never closed: the record runs to the end of the input.
    Unclosed { opened: usize },
    /// The quote at `opened` is closed by the one at `closed`, which is followed by other text,
    /// and a line end lies between the two.
    ClosedBadly { opened: usize, closed: usize },
}

impl Fault {
    /// Where the quote opened.
    pub fn opened(self) -> usize {
        match self {
            Fault::Unclosed { opened } | Fault::ClosedBadly { opened, .. } => opened,
        }
    }
}

/// The first fault of `raw`, the bytes of one record as csv-core reads them (with its quotes, and
/// through its line end if it has one, which is its only line end outside quotes). It follows
/// csv-core's reading from quote to quote, the only bytes that change it: a quote opens a quoted
/// field only at a field's start (after a comma, or first), and is taken literally elsewhere (as
/// after a field closed badly within its line).
pub fn check(raw: &[u8]) -> Option<Fault> {
    // One search over the record, not one per field: most of its fields have no quote.
    let mut quotes = memchr::memchr_iter(b'"', raw);
    while let Some(opened) = quotes.next() {
        if opened > 0 && raw[opened - 1] != b',' {
            continue;
        }
        let closed = loop {
            let Some(quote) = quotes.next() else { return Some(Fault::Unclosed { opened }) };
            if raw.get(quote + 1) != Some(&b'"') {
                break quote;
            }
            // A doubled quote: a quote of the value.
            quotes.next();
        };
        if !ends_field(&raw[closed + 1..]) && memchr(b'\n', &raw[opened..closed]).is_some() {
            return Some(Fault::ClosedBadly { opened, closed });
        }
    }
    None
}

/// What follows a closing quote ends its field as RFC 4180 has it, blanks let through: a comma, a
/// line end (LF or CRLF) or the end of the input.
fn ends_field(after: &[u8]) -> bool {
    let blanks = after.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    matches!(&after[blanks..], [] | [b'\r'] | [b',' | b'\n', ..] | [b'\r', b'\n', ..])
}

/// A row skipped for its quotes, by the line its quote opened on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadQuote {
    /// The quote runs to the end of the input.
    Unclosed { line: u64 },
    /// The quote is closed on line `closed` by a quote followed by other text.
    ClosedBadly { line: u64, closed: u64 },
}

impl BadQuote {
    pub fn line(&self) -> u64 {
        match self {
            BadQuote::Unclosed { line } | BadQuote::ClosedBadly { line, .. } => *line,
        }
    }

    /// Why the row is skipped, and what becomes of the lines after it, for `errors.csv`.
    pub fn row_reason(&self) -> String {
        match self {
            BadQuote::Unclosed { .. } => {
                format!(
                    "{self}: this row is skipped, and the lines after it are read again with quotes taken literally"
                )
            }
            BadQuote::ClosedBadly { .. } => {
                format!("{self}; this row is skipped, and the lines after it are read again")
            }
        }
    }
}

impl fmt::Display for BadQuote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadQuote::Unclosed { .. } => write!(f, "a quote opened on this line is never closed"),
            BadQuote::ClosedBadly { closed, .. } => write!(
                f,
                "a quote opened on this line is never closed properly: the quote that ends it, on line {closed}, is followed by more text, not by a comma or the line's end"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rule byte by byte, as csv-core's states go: the model [`check`] is held to.
    fn model(raw: &[u8]) -> Option<Fault> {
        enum State {
            FieldStart,
            Plain,
            Quoted(usize),
            QuoteInQuoted(usize, usize),
        }
        let mut state = State::FieldStart;
        for (at, &byte) in raw.iter().enumerate() {
            state = match (state, byte) {
                (State::FieldStart, b'"') => State::Quoted(at),
                (State::FieldStart | State::Plain, b',') => State::FieldStart,
                (State::FieldStart | State::Plain, b'\n') => return None,
                (State::FieldStart | State::Plain, _) => State::Plain,
                (State::Quoted(opened), b'"') => State::QuoteInQuoted(opened, at),
                (State::Quoted(opened), _) => State::Quoted(opened),
                (State::QuoteInQuoted(opened, _), b'"') => State::Quoted(opened),
                (State::QuoteInQuoted(opened, closed), _) => {
                    let rest = &raw[at..];
                    let rest = &rest[rest.iter().take_while(|b| b" \t".contains(b)).count()..];
                    let fine =
                        rest.is_empty() || rest == b"\r" || rest.starts_with(b"\r\n") || b",\n".contains(&rest[0]);
                    if !fine && raw[opened..closed].contains(&b'\n') {
                        return Some(Fault::ClosedBadly { opened, closed });
                    }
                    match byte {
                        b',' => State::FieldStart,
                        b'\n' => return None,
                        _ => State::Plain,
                    }
                }
            }
        }
        match state {
            State::Quoted(opened) => Some(Fault::Unclosed { opened }),
            _ => None,
        }
    }

    /// The first record of `bytes` as csv-core reads it (after the blank lines it skips), as the
    /// reader hands records to [`check`].
    fn first_record(bytes: &[u8]) -> &[u8] {
        let bytes = &bytes[bytes.iter().take_while(|&&b| b == b'\n').count()..];
        let mut core = csv_core::ReaderBuilder::new().terminator(csv_core::Terminator::Any(b'\n')).build();
        let (_, read, _, _) = core.read_record(bytes, &mut [0; 1024], &mut [0; 256]);
        &bytes[..read]
    }

    proptest! {
        #[test]
        fn check_follows_the_rule_byte_by_byte(
            parts in prop::collection::vec(prop::sample::select(
                vec!["a", ",", "\n", "\r", "\"", "\"\"", " ", "\t", "\r\n"]), 0..40),
        ) {
            let bytes = parts.concat().into_bytes();
            let raw = first_record(&bytes);
            prop_assert_eq!(check(raw), model(raw));
        }
    }

    #[test]
    fn a_stray_quote_closed_by_a_later_rows_quote_is_a_fault_where_it_opened() {
        let raw = b"c1,\"27 inch monitor,1\nc2,desk,2\nc3,chair,3\nc4,\"lamp\",4\n";
        assert_eq!(check(raw), Some(Fault::ClosedBadly { opened: 3, closed: 46 }));
        assert_eq!(raw[46 + 1], b'l');
        // After an earlier two-line field that is closed properly.
        assert_eq!(check(b"c1,\"a\nb\",\"x\ny\"z\n"), Some(Fault::ClosedBadly { opened: 9, closed: 13 }));
    }

    #[test]
    fn quotes_closed_before_a_comma_a_line_end_or_the_end_are_no_fault() {
        for raw in [
            &b"c1,\"a\nb\"\n"[..],
            b"c1,\"a\nb\",x\n",
            b"c1,\"a\nb\"",
            b"c1,\"a\r\nb\"\r\n",
            b"c1,\"a\r\nb\"\r",
            b"c9,\"line1\nline2\" ",
            b"c9,\"line1\nline2\" \n",
            b"c9,\"line1\nline2\"\t ,x\n",
            b"c1,\"a\n\"\"b\"\"\"\n",
        ] {
            assert_eq!(check(raw), None, "{}", String::from_utf8_lossy(raw));
        }
    }

    /// The csv crate's reading is kept: no line is swallowed.
    #[test]
    fn a_quote_closed_badly_within_its_line_is_no_fault() {
        for raw in [&b"c1,\"ab\"cd,2\n"[..], b"c1,\"ab\"c\"d,\"e\nf\"\n", b"c1,\"x\"\ry\n", b"c1,x\"y,\"z\"\n"] {
            assert_eq!(check(raw), None, "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn a_quote_left_open_at_the_end_is_unclosed_even_after_a_doubled_quote() {
        assert_eq!(check(b"c2,\"open\nc3,z\nc4,w\n"), Some(Fault::Unclosed { opened: 3 }));
        assert_eq!(check(b"c1,\"a\nb\"\""), Some(Fault::Unclosed { opened: 3 }));
        assert_eq!(check(b"c1,\"x\r"), Some(Fault::Unclosed { opened: 3 }));
    }

    #[test]
    fn the_reasons_name_the_lines() {
        let bad = BadQuote::ClosedBadly { line: 2, closed: 5 };
        assert_eq!(bad.line(), 2);
        assert!(bad.row_reason().starts_with("a quote opened on this line is never closed properly: the quote that ends it, on line 5, is followed by more text"));
        assert!(bad.row_reason().ends_with("the lines after it are read again"));
        let open = BadQuote::Unclosed { line: 3 };
        assert_eq!(
            open.row_reason(),
            "a quote opened on this line is never closed: this row is skipped, and the lines after it are read again with quotes taken literally"
        );
    }
}
