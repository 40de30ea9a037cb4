//! Wide rows (their attributes read off the record's fields) against a model: through the reader,
//! the row's accessors, `Item::owned`, encoding and the merge, at the 64- and 128-column
//! boundaries, with CRLF, `--send-empty`, rows that are not text, several inputs and budgets.

use super::*;
use crate::input::{ColumnRules, Item, ReadOptions, read_reader};
use std::ops::ControlFlow;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn value(rng: &mut Rng) -> String {
    match rng.below(9) {
        0..=2 => String::new(),
        3 => "a".into(),
        4 => format!("v{}", rng.below(1000)),
        5 => "x,y".into(),
        6 => "say \"hi\"".into(),
        7 => "two\nlines".into(),
        _ => " sp ".into(),
    }
}

fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// A row as generated: contact, line, attributes (key, value) in column order, empties included.
type GenRow = (String, u64, Vec<(String, String)>);

struct Gen {
    text: Vec<u8>,
    rows: Vec<GenRow>,
}

/// One wide input: `n` attribute columns named K0.. (order shuffled), a contact column, a junk
/// column (excluded) that sometimes holds a non-UTF-8 byte (a Raw row).
fn generate(rng: &mut Rng, n: usize, crlf: bool, grouped: bool, junk_last: bool) -> Gen {
    let end = if crlf { "\r\n" } else { "\n" };
    let mut names: Vec<String> = (0..n).map(|i| format!("K{i}")).collect();
    for i in (1..names.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        names.swap(i, j);
    }
    let contact_at = rng.below(n as u64 + 1) as usize;
    let mut header: Vec<String> = names.clone();
    header.insert(contact_at, "InitialContactId".into());
    let junk_at = if junk_last { header.len() } else { rng.below(header.len() as u64 + 1) as usize };
    header.insert(junk_at, "Junk".into());
    let mut text = (header.join(",") + end).into_bytes();
    let mut rows = Vec::new();
    let count = 1 + rng.below(12) as usize;
    let mut contacts: Vec<u64> = (0..count).map(|_| rng.below(4)).collect();
    if grouped {
        contacts.sort();
    }
    let mut line = 2;
    for contact in contacts {
        let values: Vec<String> = (0..n).map(|_| value(rng)).collect();
        let mut fields: Vec<Vec<u8>> = values.iter().map(|v| quoted(v).into_bytes()).collect();
        fields.insert(contact_at, format!("c{contact}").into_bytes());
        let junk: Vec<u8> = match rng.below(4) {
            0 => b"\xff".to_vec(),
            1 => String::new().into_bytes(),
            _ => b"j".to_vec(),
        };
        fields.insert(junk_at, junk);
        let row = fields.join(&b","[..]);
        let newlines = row.iter().filter(|&&b| b == b'\n').count() as u64;
        text.extend_from_slice(&row);
        text.extend_from_slice(end.as_bytes());
        let attributes = names.iter().cloned().zip(values).collect();
        rows.push((format!("c{contact}"), line, attributes));
        line += 1 + newlines;
    }
    Gen { text, rows }
}

fn model(gens: &[Gen], send_empty: bool) -> Vec<Contact> {
    let mut contacts: BTreeMap<String, Contact> = BTreeMap::new();
    for (index, generated) in gens.iter().enumerate() {
        for (contact, line, attributes) in &generated.rows {
            let entry = contacts.entry(contact.clone()).or_insert_with(|| Contact {
                instance_id: "i".into(),
                contact_id: contact.clone(),
                ..Contact::default()
            });
            entry.lines.push(Location { input: index as u32, line: *line });
            for (k, v) in attributes {
                if send_empty || !v.is_empty() {
                    entry.attributes.insert(k.clone(), v.clone());
                }
            }
        }
    }
    contacts.into_values().collect()
}

fn read_options(send_empty: bool) -> ReadOptions {
    let columns = ColumnRules { exclude: vec!["Junk".into()], ..ColumnRules::default() };
    ReadOptions { default_instance: Some("i".into()), send_empty, columns, ..ReadOptions::default() }
}

fn merged(gens: &[Gen], send_empty: bool, options: MergeOptions) -> Vec<Contact> {
    let read = read_options(send_empty);
    let mut merger = Merger::new(options);
    for (index, generated) in gens.iter().enumerate() {
        read_reader(index as u32, "in.csv", std::io::Cursor::new(generated.text.clone()), &read, |item| {
            match item {
                Item::Row(row) => merger.add(row).unwrap(),
                Item::Bad(bad) => panic!("bad: {bad:?}"),
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    }
    let mut contacts: Vec<Contact> = merger.finish(&[]).unwrap().map(Result::unwrap).collect();
    contacts.sort_by(|a, b| a.contact_id.cmp(&b.contact_id));
    contacts
}

/// Each row as read, as cloned, and as the model has it; and encoded alone, merged.
fn check_rows(gens: &[Gen], send_empty: bool) {
    let read = read_options(send_empty);
    for (index, generated) in gens.iter().enumerate() {
        let mut at = 0;
        read_reader(index as u32, "in.csv", std::io::Cursor::new(generated.text.clone()), &read, |item| {
            let Item::Row(row) = item else { panic!("bad: {item:?}") };
            let want: Vec<(String, String)> =
                generated.rows[at].2.iter().filter(|(_, v)| send_empty || !v.is_empty()).cloned().collect();
            at += 1;
            let got: Vec<(String, String)> = row.attributes().map(|(k, v)| (k.into(), v.into())).collect();
            let mut sorted_want = want.clone();
            sorted_want.sort();
            let mut sorted_got = got.clone();
            sorted_got.sort();
            assert_eq!(sorted_got, sorted_want, "row {at} borrowed");
            assert_eq!(row.attribute_count(), want.len());
            assert!(row.most_attributes() >= want.len());
            let owned = row.clone();
            let cloned: Vec<(String, String)> = owned.attributes().map(|(k, v)| (k.into(), v.into())).collect();
            assert_eq!(cloned, got, "row {at} cloned");
            assert_eq!(&owned, row);
            let (record, own, spans) = owned.attribute_spans();
            let from_spans: Vec<Vec<u8>> = spans
                .map(|(_, span)| match span {
                    crate::input::Span::Record(s, e) => record[s..e].to_vec(),
                    crate::input::Span::Text(s, e) => own[s..e].to_vec(),
                })
                .collect();
            let raw: Vec<Vec<u8>> = owned.raw_attributes().map(|(_, v)| v.to_vec()).collect();
            assert_eq!(from_spans, raw);
            // Encoded alone, at limits that intern every key, some, none.
            for limit in [usize::MAX, 40, 0] {
                let mut keys = Keys::new(limit);
                let mut out = Vec::new();
                encode::encode(row, &mut keys, &mut out);
                encode::encode(&owned, &mut keys, &mut out);
                let contacts = combine::merge_rows(&out, &keys.names(), &[]).unwrap();
                let mut expect: BTreeMap<String, String> = BTreeMap::new();
                for (k, v) in &want {
                    expect.insert(k.clone(), v.clone());
                }
                assert_eq!(contacts[0].attributes, expect, "row {at} encoded, limit {limit}");
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(at, generated.rows.len());
    }
}

#[test]
fn wide_rows_at_the_column_boundaries_read_encode_and_merge_like_the_model() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let widths = [1usize, 2, 62, 63, 64, 65, 66, 126, 127, 128, 129, 140];
    for round in 0..16 {
        for &n in &widths {
            let crlf = rng.below(2) == 0;
            let grouped = rng.below(3) != 0;
            let send_empty = rng.below(2) == 0;
            let inputs = 1 + rng.below(3) as usize;
            let gens: Vec<Gen> = (0..inputs)
                .map(|_| {
                    let width = if rng.below(2) == 0 { n } else { widths[rng.below(widths.len() as u64) as usize] };
                    let junk_last = rng.below(4) == 0;
                    let crlf = crlf || rng.below(4) == 0;
                    generate(&mut rng, width, crlf, grouped, junk_last)
                })
                .collect();
            check_rows(&gens, send_empty);
            let expected = model(&gens, send_empty);
            assert_eq!(merged(&gens, send_empty, MergeOptions::unlimited()), expected, "round {round} n {n}");
            for budget in [0usize, 3000, 40_000] {
                let dir = tempfile::tempdir().unwrap();
                let options = MergeOptions { budget, temp_dir: Some(dir.path().to_path_buf()) };
                assert_eq!(merged(&gens, send_empty, options), expected, "round {round} n {n} budget {budget}");
            }
        }
    }
}

/// A contact of many wide rows with large values: its text is compacted while its columns'
/// places are kept by column.
#[test]
fn a_wide_contact_compacted_keeps_its_column_places() {
    let big = "v".repeat(100_000);
    let mut text = String::from("InitialContactId,A,B,C\r\n");
    for line in 0..40 {
        text.push_str(&format!("c,{big},{line},{}\r\n", if line % 3 == 0 { "" } else { "z" }));
    }
    text.push_str("d,,,last\r\n");
    for budget in [usize::MAX, 0] {
        let read = ReadOptions { default_instance: Some("i".into()), ..ReadOptions::default() };
        let mut merger = Merger::new(MergeOptions { budget, temp_dir: None });
        read_reader(0, "in.csv", std::io::Cursor::new(text.clone().into_bytes()), &read, |item| {
            let Item::Row(row) = item else { panic!() };
            merger.add(row).unwrap();
            ControlFlow::Continue(())
        })
        .unwrap();
        let contacts: Vec<Contact> = merger.finish(&[]).unwrap().map(Result::unwrap).collect();
        assert_eq!(contacts[0].attributes["B"], "39");
        assert_eq!(contacts[0].attributes["C"], "z");
        assert_eq!(contacts[0].attributes["A"], big);
        assert_eq!(contacts[1].attribute_pairs().collect::<Vec<_>>(), [("C", "last")]);
    }
}

/// `size_hint` is at least what encoding writes, a wide row's keys spelled out included (they
/// are the header's, not in the row's text). (Found in review: the hint left them out.)
#[test]
fn the_size_hint_covers_a_wide_rows_keys_spelled_out() {
    let names: Vec<String> = (0..10).map(|i| format!("K{i}{}", "x".repeat(200))).collect();
    let text = format!("InitialContactId,{}\nc,{}\n", names.join(","), ["v"; 10].join(","));
    let read = ReadOptions { default_instance: Some("i".into()), ..ReadOptions::default() };
    read_reader(0, "in.csv", std::io::Cursor::new(text.into_bytes()), &read, |item| {
        let Item::Row(row) = item else { panic!() };
        let mut out = Vec::new();
        encode::encode(row, &mut Keys::new(0), &mut out);
        assert!(out.len() <= encode::size_hint(row), "wrote {} bytes, hint {}", out.len(), encode::size_hint(row));
        ControlFlow::Continue(())
    })
    .unwrap();
}
