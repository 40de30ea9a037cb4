//! Fuzz-style properties of the reader that run in every `cargo test` (no nightly needed; the
//! cargo-fuzz targets in `fuzz/` go further): arbitrary bytes never panic and are all accounted
//! for, and a well-formed file (quotes, commas, line ends inside values, CRLF, blank lines) reads
//! back exactly, each row at its line.

use connect_attrs::input::{OwnedItem as Item, ReadOptions, read_reader};
use proptest::prelude::*;
use std::io::Cursor;

fn read(bytes: Vec<u8>, options: &ReadOptions) -> (Result<connect_attrs::input::InputInfo, String>, Vec<Item>) {
    let mut items = Vec::new();
    let result = read_reader(0, "prop.csv", Cursor::new(bytes), options, |item| {
        items.push(item.owned());
        std::ops::ControlFlow::Continue(())
    });
    (result.map_err(|e| e.to_string()), items)
}

fn line(item: &Item) -> u64 {
    match item {
        Item::Row(row) => row.location.line,
        Item::Bad(bad) => bad.location.line,
    }
}

/// Bytes that look enough like CSV to reach past the header.
fn csv_ish() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"ContactId,A,B\n".to_vec()),
        Just(b"c1,x,y\n".to_vec()),
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just(b"\xef\xbb\xbf".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(pieces, 0..40).prop_map(|p| [b"ContactId,A,B\n".to_vec(), p.concat()].concat())
}

fn check_accounting(bytes: Vec<u8>, options: &ReadOptions) {
    let (result, items) = read(bytes, options);
    if let Ok(info) = result {
        let bad = items.iter().filter(|i| matches!(i, Item::Bad(_))).count() as u64;
        assert_eq!((info.rows, info.bad_rows), (items.len() as u64, bad));
        let lines: Vec<u64> = items.iter().map(line).collect();
        assert!(lines.iter().all(|&l| l >= 1), "{lines:?}");
        assert!(lines.windows(2).all(|w| w[0] <= w[1]), "lines go backwards: {lines:?}");
    }
}

/// A value: any text but NUL (refused) and CR (a CR ending the last field is taken for the
/// CR of a CRLF line end), with the characters CSV has to quote well represented.
fn value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![Just('"'), Just(','), Just('\n'), Just(' '), any::<char>()];
    proptest::collection::vec(piece, 0..10)
        .prop_map(|chars| chars.into_iter().filter(|c| !matches!(c, '\0' | '\r')).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_every_row_is_counted(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        check_accounting(bytes, &ReadOptions::default());
    }

    #[test]
    fn csv_like_bytes_never_panic_and_every_row_is_counted(bytes in csv_ish(), send_empty: bool, bare: bool) {
        let options = ReadOptions { send_empty, allow_bare_ids: bare, ..ReadOptions::default() };
        check_accounting(bytes, &options);
    }

    #[test]
    fn a_well_formed_file_reads_back_exactly_at_the_right_lines(
        rows in proptest::collection::vec(("[a-z0-9]{1,8}", value(), value(), 0..3usize), 0..20),
        crlf: bool,
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("InitialContactId,A,B{end}");
        let mut expected = Vec::new();
        let mut next_line = 2u64;
        for (contact, a, b, blanks) in &rows {
            for _ in 0..*blanks {
                text.push_str(end);
                next_line += 1;
            }
            let quoted = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
            text.push_str(&format!("{contact},{},{}{end}", quoted(a), quoted(b)));
            expected.push((next_line, contact.clone(), a.clone(), b.clone()));
            next_line += 1 + (a.matches('\n').count() + b.matches('\n').count()) as u64;
        }
        let options = ReadOptions { send_empty: true, ..ReadOptions::default() };
        let (result, items) = read(text.into_bytes(), &options);
        prop_assert_eq!(result.map(|i| i.bad_rows), Ok(0));
        let got: Vec<(u64, String, String, String)> = items
            .iter()
            .filter_map(|item| match item {
                Item::Row(row) => Some((
                    row.location.line,
                    row.contact_id.clone(),
                    row.attributes().next().unwrap().1.to_string(),
                    row.attributes().nth(1).unwrap().1.to_string(),
                )),
                Item::Bad(_) => None,
            })
            .collect();
        prop_assert_eq!(got, expected);
    }
}
