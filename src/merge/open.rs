//! The contact being read in grouped input. Its rows are merged as they arrive (each key's
//! latest value, every line) and the contact is written out as one fragment when the next one
//! starts: no row is encoded, decoded and merged again.

use super::combine::Places;
use super::encode::{EncodedKey, Keys, encode_fragment, put_contact, raw_key_of};
use crate::input::{Location, RawKey, Row, Span as ValueSpan};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct OpenContact {
    /// The contact's bytes, as a fragment holds them.
    contact: Vec<u8>,
    /// Every line given so far; empty when no contact is open.
    lines: Vec<Location>,
    /// The values given so far, and the spelled-out keys, back to back.
    text: Vec<u8>,
    by_id: Places,
    /// Per spelled-out key (past the interning limit): its place in `chosen`.
    by_name: HashMap<Vec<u8>, usize>,
    /// Each key once, in order of first appearance, with the span of its latest value in `text`.
    chosen: Vec<(Slot, Span)>,
    /// A wide row's keys are its header's columns: once a column was seen in the contact, its
    /// place in `chosen` is kept by column, and its later values need no key looked up.
    columns: ColumnPlaces,
}

/// Places in `chosen` of the first [`FAST_COLUMNS`] header columns of input `input`; column `c`'s
/// is valid when bit `c` of `seen` is set.
#[derive(Debug, Default)]
struct ColumnPlaces {
    input: u32,
    seen: u64,
    places: Vec<u32>,
}

const FAST_COLUMNS: u32 = u64::BITS;

type Span = (usize, usize);

/// Past this many bytes of text, values that lost to later ones are dropped from it (a contact
/// with a million rows keeps its winners, not every value it was ever given).
const COMPACT_AT: usize = 1 << 20;

/// An attribute's key: interned, or spelled out in `text`.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Id(u32),
    Name(Span),
}

impl OpenContact {
    /// The open contact's bytes, as [`put_contact`] writes them; empty when none is open.
    pub fn contact(&self) -> &[u8] {
        &self.contact
    }

    /// Adds a row of the open contact (or opens one with it): later values win per key.
    pub fn add(&mut self, row: &Row, keys: &mut Keys) {
        if self.lines.is_empty() {
            put_contact(keys, &row.instance_id, &row.contact_id, &mut self.contact);
        }
        self.lines.push(row.location);
        // The record is copied whole, once, and its values are spans of the copy.
        let (record, own, spans) = row.attribute_spans();
        let base = self.text.len();
        self.text.extend_from_slice(record);
        if self.columns.input != row.location.input {
            // Another input numbers its columns its own way.
            self.columns.seen = 0;
            self.columns.input = row.location.input;
        }
        match row.wide_attribute_spans() {
            Some(wide) => {
                for (column, (start, end)) in wide {
                    self.put(keys, row, RawKey::Column(column), (base + start, base + end));
                }
            }
            None => {
                for (key, span) in spans {
                    let value = match span {
                        ValueSpan::Record(start, end) => (base + start, base + end),
                        ValueSpan::Text(start, end) => push(&mut self.text, &own[start..end]),
                    };
                    self.put(keys, row, key, value);
                }
            }
        }
        // `live_bytes` walks the keys: only once the text is large.
        if self.text.len() > COMPACT_AT && self.text.len() > 2 * self.live_bytes() {
            self.compact();
        }
    }

    /// Makes `value` the latest of `key`, a key of `row`: by column when the contact has seen the
    /// column already.
    #[inline(always)]
    fn put(&mut self, keys: &mut Keys, row: &Row, key: RawKey<'_>, value: Span) {
        match key {
            RawKey::Column(column) if column < FAST_COLUMNS => {
                let bit = 1u64 << column;
                if self.columns.seen & bit != 0 {
                    self.chosen[self.columns.places[column as usize] as usize].1 = value;
                } else {
                    let place = self.choose(raw_key_of(keys, row, key), value);
                    if self.columns.places.len() <= column as usize {
                        self.columns.places.resize(column as usize + 1, 0);
                    }
                    self.columns.places[column as usize] = place as u32;
                    self.columns.seen |= bit;
                }
            }
            _ => {
                self.choose(raw_key_of(keys, row, key), value);
            }
        }
    }

    /// Makes `value` the latest of `key`; returns the key's place in `chosen`.
    fn choose(&mut self, key: EncodedKey<'_>, value: Span) -> usize {
        let next = self.chosen.len();
        match key {
            EncodedKey::Id(id) => match self.by_id.find_or_put(id, next) {
                Some(place) => {
                    self.chosen[place].1 = value;
                    place
                }
                None => {
                    self.chosen.push((Slot::Id(id), value));
                    next
                }
            },
            EncodedKey::Name(name) => match self.by_name.get(name) {
                Some(&place) => {
                    self.chosen[place].1 = value;
                    place
                }
                None => {
                    self.by_name.insert(name.to_vec(), next);
                    let name = push(&mut self.text, name);
                    self.chosen.push((Slot::Name(name), value));
                    next
                }
            },
        }
    }

    /// Bytes of text still in use: the winning values and the spelled-out keys.
    fn live_bytes(&self) -> usize {
        let span = |(start, end): Span| end - start;
        self.chosen
            .iter()
            .map(|&(slot, value)| span(value) + if let Slot::Name(name) = slot { span(name) } else { 0 })
            .sum()
    }

    /// Copies what is still in use to a fresh text, leaving the values that lost behind.
    fn compact(&mut self) {
        let mut text = Vec::with_capacity(self.live_bytes());
        for (slot, value) in &mut self.chosen {
            if let Slot::Name(name) = slot {
                *name = push(&mut text, &self.text[name.0..name.1]);
            }
            *value = push(&mut text, &self.text[value.0..value.1]);
        }
        self.text = text;
    }

    /// Appends the open contact to `out` as one fragment, and closes it. Nothing when none is
    /// open.
    pub fn close(&mut self, out: &mut Vec<u8>) {
        if self.lines.is_empty() {
            return;
        }
        let text = &self.text;
        let attributes = self.chosen.iter().map(|&(slot, (start, end))| {
            let key = match slot {
                Slot::Id(id) => EncodedKey::Id(id),
                Slot::Name((from, to)) => EncodedKey::Name(&text[from..to]),
            };
            (key, &text[start..end])
        });
        encode_fragment(&self.lines, &self.contact, attributes, out);
        for &(slot, _) in &self.chosen {
            if let Slot::Id(id) = slot {
                self.by_id.forget(id);
            }
        }
        self.chosen.clear();
        self.columns.seen = 0;
        self.by_name.clear();
        self.text.clear();
        self.lines.clear();
        self.contact.clear();
    }
}

fn push(text: &mut Vec<u8>, bytes: &[u8]) -> Span {
    let start = text.len();
    text.extend_from_slice(bytes);
    (start, text.len())
}

#[cfg(test)]
mod tests {
    use super::super::combine::merge_rows;
    use super::super::encode::encode;
    use super::*;

    /// A contact given many rows keeps only its winning values: the text is compacted as it grows,
    /// and what comes out is unchanged.
    #[test]
    fn a_contact_of_many_rows_keeps_only_its_winners() {
        let big = "v".repeat(100_000);
        let mut keys = Keys::new(4);
        let (mut open, mut from_rows) = (OpenContact::default(), Vec::new());
        for line in 0..100 {
            let last = line.to_string();
            let row = Row::new(Location { input: 0, line }, "i", "c", &[("A", &big), ("LongKey", &last)]);
            open.add(&row, &mut keys);
            encode(&row, &mut keys, &mut from_rows);
            assert!(open.text.len() <= 2 * COMPACT_AT + 2 * big.len(), "line {line}: {} bytes", open.text.len());
        }
        let mut fragment = Vec::new();
        open.close(&mut fragment);
        let names = keys.names();
        let contacts = merge_rows(&fragment, &names, &[]).unwrap();
        assert_eq!(contacts, merge_rows(&from_rows, &names, &[]).unwrap());
        assert_eq!(contacts[0].attributes["LongKey"], "99");
        assert_eq!(contacts[0].lines.len(), 100);
    }

    /// Rows merged as they arrive and closed into one fragment merge like the rows themselves,
    /// with interned and spelled-out keys, and the open contact starts afresh after closing.
    #[test]
    fn a_closed_contact_merges_like_its_rows() {
        let at = |line| Location { input: 1, line };
        let rows = [
            Row::new(at(2), "i", "c", &[("T", "1"), ("Long", "a"), ("T", "1b")]),
            Row::new(at(5), "i", "c", &[("T", "2"), ("U", "x"), ("Long", "b")]),
        ];
        let next = Row::new(at(9), "i", "d", &[("U", "y")]);
        for limit in [0, 1, usize::MAX] {
            let (mut keys, mut from_rows) = (Keys::new(limit), Vec::new());
            for row in rows.iter().chain([&next]) {
                encode(row, &mut keys, &mut from_rows);
            }
            let (mut keys_open, mut fragments, mut open) = (Keys::new(limit), Vec::new(), OpenContact::default());
            for row in &rows {
                open.add(row, &mut keys_open);
            }
            open.close(&mut fragments);
            open.add(&next, &mut keys_open);
            open.close(&mut fragments);
            let expected = merge_rows(&from_rows, &keys.names(), &[]).unwrap();
            assert_eq!(merge_rows(&fragments, &keys_open.names(), &[]).unwrap(), expected, "limit {limit}");
            assert_eq!(expected[0].lines, [at(2), at(5)]);
            assert_eq!(expected[0].attribute_pairs().collect::<Vec<_>>(), [("Long", "b"), ("T", "2"), ("U", "x")]);
            assert_eq!(expected[1].attribute_pairs().collect::<Vec<_>>(), [("U", "y")]);
        }
    }

    /// Wide rows: a column's place is kept by column number within one input only. Here one
    /// contact's rows span two inputs whose headers order the columns differently, and a header
    /// wider than the 64 columns kept by number (and than the 127 attributes whose count
    /// `encode_row_of` writes after them); the closed contact merges like its rows.
    #[test]
    fn wide_rows_of_a_contact_across_inputs_merge_like_their_rows() {
        use crate::input::{Item, ReadOptions, read_reader};
        use std::ops::ControlFlow;
        let many: Vec<String> = (0..140).map(|i| format!("K{i}")).collect();
        let wide_header = format!("InitialContactId,{}", many.join(","));
        let wide_row = |v: &str| format!("c,{}", many.iter().map(|k| format!("{k}{v}")).collect::<Vec<_>>().join(","));
        let inputs = [
            "InitialContactId,A,B,C\nc,a1,b1,\nc,,b2,c2\n".to_string(),
            "InitialContactId,C,A,B\nc,c3,,b3\nc,,a4,\n".to_string(),
            format!("{wide_header}\n{}\n{}\n", wide_row("x"), wide_row("y")),
        ];
        let options = ReadOptions { default_instance: Some("i".into()), ..ReadOptions::default() };
        let mut rows = Vec::new();
        for (index, text) in inputs.iter().enumerate() {
            let name = format!("in{index}.csv");
            let read = read_reader(index as u32, &name, std::io::Cursor::new(text.clone()), &options, |item| {
                if let Item::Row(row) = item {
                    rows.push(row.clone());
                }
                ControlFlow::Continue(())
            });
            read.unwrap();
        }
        assert_eq!(rows.len(), 6);
        for limit in [0, 2, usize::MAX] {
            let (mut keys, mut from_rows) = (Keys::new(limit), Vec::new());
            let (mut keys_open, mut open, mut fragment) = (Keys::new(limit), OpenContact::default(), Vec::new());
            for row in &rows {
                encode(row, &mut keys, &mut from_rows);
                open.add(row, &mut keys_open);
            }
            open.close(&mut fragment);
            let merged = merge_rows(&fragment, &keys_open.names(), &[]).unwrap();
            assert_eq!(merged, merge_rows(&from_rows, &keys.names(), &[]).unwrap(), "limit {limit}");
            let got: std::collections::BTreeMap<_, _> = merged[0].attribute_pairs().collect();
            assert_eq!((got["A"], got["B"], got["C"]), ("a4", "b3", "c3"), "limit {limit}");
            assert_eq!((got["K0"], got["K63"], got["K64"], got["K139"]), ("K0y", "K63y", "K64y", "K139y"));
            assert_eq!(got.len(), 143);
        }
    }
}
