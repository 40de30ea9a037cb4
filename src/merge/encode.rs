//! Rows as compact bytes: what the merge buffers, spills and reads back. A row is copied once,
//! into a byte buffer, and merged only when its contact is final; no per-value allocation.
//!
//! Layout of one row (lengths and numbers as varints of 6-bit digits, strings as raw UTF-8):
//! `input line len(instance) instance len(contact) contact count (key value)*`, where a key is
//! `id << 1` for an interned key ([`Keys`]) or `len << 1 | 1` followed by the key's bytes. The
//! bytes from `len(instance)` to the end of `contact` identify the contact: equal bytes, same
//! contact.
//!
//! A number is written a digit of 6 bits a byte, least significant first: `MORE | digit` while
//! more digits follow, the last digit alone. Every byte of a number is ASCII, so a buffer of
//! fragments is UTF-8 exactly when its strings are: the merge checks a whole piece at once
//! ([`super::decode::Cursor::with_text`]) rather than each row's strings one by one.

#[cfg(test)]
use super::decode::{Cursor, piece_text};
pub use super::keys::{Hasher, KeyNames, Keys, hasher};
use crate::input::{AttributeKey, Location, RawKey, Row};
use std::hash::BuildHasher;

/// Bits of a number each byte holds.
pub(super) const DIGIT_BITS: u32 = 6;
/// Set in every byte of a number but its last.
pub(super) const MORE: u8 = 0x40;
/// Numbers under this are one byte.
const ONE_BYTE: u64 = MORE as u64;

#[inline]
pub fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= ONE_BYTE {
        out.push((value as u8 & (MORE - 1)) | MORE);
        value >>= DIGIT_BITS;
    }
    out.push(value as u8);
}

#[inline]
fn put_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Appends `row` to `out` as a fragment of one line; returns the hash of its contact (which
/// partition it belongs to).
#[cfg(test)]
pub fn encode(row: &Row, keys: &mut Keys, out: &mut Vec<u8>) -> u64 {
    let start = out.len();
    encode_row(row, keys, out);
    let mut cursor = Cursor::at(out, start);
    let contact = cursor.next_contact().ok().flatten().expect("a row just encoded");
    contact_hash(contact)
}

/// Appends `row` to `out` as a fragment of one line.
#[cfg(test)]
pub fn encode_row(row: &Row, keys: &mut Keys, out: &mut Vec<u8>) {
    let mut contact = Vec::new();
    put_contact(keys, &row.instance_id, &row.contact_id, &mut contact);
    encode_row_of(&contact, row, keys, out);
}

/// [`encode_row`] with the row's contact already encoded (by [`put_contact`]): `contact`.
pub fn encode_row_of(contact: &[u8], row: &Row, keys: &mut Keys, out: &mut Vec<u8>) {
    let start = start_fragment(out);
    out.extend_from_slice(contact);
    put_varint(1, out);
    put_varint(u64::from(row.location.input), out);
    put_varint(row.location.line, out);
    match row.wide_attribute_spans() {
        // The count comes first: a byte is held for it (a count under 64 is one byte) and set
        // once the attributes are written, rather than walking them twice.
        Some(wide) if (row.most_attributes() as u64) < ONE_BYTE => {
            let at = out.len();
            out.push(0);
            let mut count = 0;
            let text = row.record_and_after();
            match keys.column_tags(row.location.input, row.most_attributes()) {
                // Every column's key has a one-byte number already: nearly every row.
                Some(tags) => {
                    for (column, span) in wide {
                        put_tagged(tags[column as usize], text, span, out);
                        count += 1;
                    }
                }
                None => {
                    for (column, (start, end)) in wide {
                        put_attribute(raw_key_of(keys, row, RawKey::Column(column)), &text[start..end], out);
                        count += 1;
                    }
                }
            }
            out[at] = count;
        }
        _ => {
            put_varint(row.attribute_count() as u64, out);
            for (key, value) in row.raw_attributes() {
                put_attribute(raw_key_of(keys, row, key), value, out);
            }
        }
    }
    end_fragment(out, start);
}

/// [`key_of`] for a key as [`Row::raw_attributes`] gives it: a header column already numbered is
/// looked up without its name.
#[inline]
pub fn raw_key_of<'r>(keys: &mut Keys, row: &'r Row, key: RawKey<'r>) -> EncodedKey<'r> {
    let input = row.location.input;
    match key {
        RawKey::Column(column) => match keys.known_column(input, column) {
            Some(id) => EncodedKey::Id(id),
            None => key_of(keys, input, AttributeKey { column: Some(column), name: row.column_name(column) }),
        },
        RawKey::Name(name) => key_of(keys, input, AttributeKey { column: None, name }),
    }
}

/// How a key of a row of input `input` is encoded: by number once interned, else spelled out.
pub fn key_of<'k>(keys: &mut Keys, input: u32, key: AttributeKey<'k>) -> EncodedKey<'k> {
    let id = match key.column {
        Some(column) => keys.column_id(input, column, key.name),
        None => keys.id(key.name),
    };
    match id {
        Some(id) => EncodedKey::Id(id),
        None => EncodedKey::Name(key.name.as_bytes()),
    }
}

/// The contact's part of a fragment: what [`contact_hash`] hashes. The instance is a number
/// (`id << 1`) or spelled out (`len << 1 | 1`, then its bytes), like a key; then the contact id.
pub fn put_contact(keys: &mut Keys, instance_id: &str, contact_id: &str, out: &mut Vec<u8>) {
    match keys.instance(instance_id) {
        Some(id) => put_varint(u64::from(id) << 1, out),
        None => {
            put_varint(((instance_id.len() as u64) << 1) | 1, out);
            out.extend_from_slice(instance_id.as_bytes());
        }
    }
    put_bytes(contact_id.as_bytes(), out);
}

/// At least the bytes [`encode`] writes for `row`, without walking its attributes: its values
/// and spelled-out keys are within the text [`Row::text_len`] counts, and each number takes at
/// most 10 bytes.
pub fn size_hint(row: &Row) -> usize {
    row.instance_id.len() + row.contact_id.len() + row.text_len() + 20 * row.most_attributes() + 64
}

/// Appends a fragment: the lines, contact and attributes of rows of one contact, merged.
pub fn encode_fragment<'a>(
    lines: &[Location],
    contact: &[u8],
    attributes: impl ExactSizeIterator<Item = (EncodedKey<'a>, &'a [u8])>,
    out: &mut Vec<u8>,
) {
    let start = start_fragment(out);
    out.extend_from_slice(contact);
    put_varint(lines.len() as u64, out);
    for location in lines {
        put_varint(u64::from(location.input), out);
        put_varint(location.line, out);
    }
    put_varint(attributes.len() as u64, out);
    for (key, value) in attributes {
        put_attribute(key, value, out);
    }
    end_fragment(out, start);
}

/// An attribute: its key, then its value. (Callgrind: a tenth of the reading thread's instructions
/// for unsorted input went to calls of the two, for bytes that are nearly always one each.)
#[inline(always)]
fn put_attribute(key: EncodedKey<'_>, value: &[u8], out: &mut Vec<u8>) {
    match key {
        // Nearly every attribute of an export: the key's number and the value's length are one
        // byte each, written in one go (the varints `put_key` and `put_bytes` write).
        EncodedKey::Id(id) if u64::from(id) << 1 < ONE_BYTE && (value.len() as u64) < ONE_BYTE => {
            out.extend_from_slice(&[(id << 1) as u8, value.len() as u8]);
            out.extend_from_slice(value);
        }
        key => {
            put_key(key, out);
            put_bytes(value, out);
        }
    }
}

/// Values of at most this many bytes are copied by [`put_tagged`] as one block.
const SHORT_VALUE: usize = 30;

/// [`put_attribute`] for a key numbered under 32 (its one-byte `tag`, `id << 1`) and the value
/// `text[start..end]`. A short value with enough text after it is written with its tag and length
/// as one block of fixed size, which runs past the value, and the buffer cut back to its end.
#[inline(always)]
fn put_tagged(tag: u8, text: &[u8], (start, end): (usize, usize), out: &mut Vec<u8>) {
    let len = end - start;
    match text.get(start..start + SHORT_VALUE) {
        Some(after) if len <= SHORT_VALUE => {
            // Straight from the text to the buffer: a block put together on the stack first was
            // read back before its stores had landed, a stall on every attribute.
            out.reserve(SHORT_VALUE + 2);
            out.extend_from_slice(&[tag, len as u8]);
            out.extend_from_slice(after);
            out.truncate(out.len() - (SHORT_VALUE - len));
        }
        _ => put_attribute(EncodedKey::Id(u32::from(tag >> 1)), &text[start..end], out),
    }
}

#[inline]
fn put_key(key: EncodedKey<'_>, out: &mut Vec<u8>) {
    match key {
        EncodedKey::Id(id) => put_varint(u64::from(id) << 1, out),
        EncodedKey::Name(name) => {
            put_varint(((name.len() as u64) << 1) | 1, out);
            out.extend_from_slice(name);
        }
    }
}

/// A fragment's length goes first, so a reader can step over it without decoding it. Two bytes
/// are kept for it (a varint need not be minimal); a longer fragment makes room at the end.
fn start_fragment(out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(&[MORE, 0]);
    out.len() - 2
}

fn end_fragment(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start - 2;
    if len < 1 << (2 * DIGIT_BITS) {
        out[start] = (len as u8 & (MORE - 1)) | MORE;
        out[start + 1] = (len >> DIGIT_BITS) as u8;
    } else {
        let mut prefix = Vec::new();
        put_varint(len as u64, &mut prefix);
        out.splice(start..start + 2, prefix);
    }
}

/// The hash [`encode`] returns, of an encoded row's contact bytes.
pub fn contact_hash(contact: &[u8]) -> u64 {
    hasher().hash_one(contact)
}

/// An attribute's key in an encoded row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodedKey<'a> {
    Id(u32),
    Name(&'a [u8]),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attribute_is_its_key_then_its_value_whatever_their_sizes() {
        for id in [0u32, 1, 63, 64, 200, 1 << 20] {
            for len in [0usize, 1, 127, 128, 300] {
                let value = vec![b'v'; len];
                for key in [EncodedKey::Id(id), EncodedKey::Name(b"Name")] {
                    let (mut one, mut apart) = (Vec::new(), Vec::new());
                    put_attribute(key, &value, &mut one);
                    put_key(key, &mut apart);
                    put_bytes(&value, &mut apart);
                    assert_eq!(one, apart, "{key:?}, {len} bytes");
                }
            }
        }
    }

    #[test]
    fn rows_round_trip_with_interned_and_spelled_out_keys() {
        // Room for the instance and "Tier", not for the long key.
        let mut keys = Keys::new(80);
        let location = Location { input: 3, line: 1 << 40 };
        let row = Row::new(location, "inst", "c1", &[("Tier", "Gold"), ("AVeryLongKeyName", "é,\n\""), ("Tier", "")]);
        let mut bytes = Vec::new();
        let hash = encode(&row, &mut keys, &mut bytes);
        encode(&Row::new(Location { input: 0, line: 2 }, "inst", "c2", &[]), &mut keys, &mut bytes);
        let mut cursor = Cursor::new(&bytes);
        let first = cursor.next_row().unwrap().unwrap();
        assert_eq!(first.locations().collect::<Vec<_>>(), [location]);
        assert_eq!(first.ids(&keys.names()).unwrap(), ("inst", "c1"));
        assert_eq!(contact_hash(first.contact), hash);
        let attributes: Vec<_> = first.attributes().map(Result::unwrap).collect();
        assert_eq!(
            attributes,
            [(EncodedKey::Id(0), "Gold"), (EncodedKey::Name(b"AVeryLongKeyName"), "é,\n\""), (EncodedKey::Id(0), ""),]
        );
        assert_eq!(keys.names().get(0), Some((Some(0), "Tier")));
        let second = cursor.next_row().unwrap().unwrap();
        assert_eq!(second.ids(&keys.names()).unwrap(), ("inst", "c2"));
        assert_ne!(second.contact, first.contact);
        assert!(cursor.next_row().unwrap().is_none());
    }

    #[test]
    fn a_long_row_makes_room_for_its_length() {
        let long = "x".repeat(20_000);
        let mut bytes = Vec::new();
        let mut keys = Keys::new(64);
        encode(&Row::new(Location::default(), "i", "c", &[("K", &long)]), &mut keys, &mut bytes);
        encode(&Row::new(Location::default(), "i", "d", &[]), &mut keys, &mut bytes);
        let mut cursor = Cursor::new(&bytes);
        let row = cursor.next_row().unwrap().unwrap();
        assert_eq!(row.attributes().next().unwrap().unwrap().1, long);
        assert_eq!(cursor.next_row().unwrap().unwrap().ids(&keys.names()).unwrap(), ("i", "d"));
    }

    /// Values are checked as UTF-8 for the whole row, then one by one when that fails (to name the
    /// bad one), with a short value and a long one (whose length takes two bytes).
    #[test]
    fn values_are_text_and_bad_bytes_are_an_error() {
        let long = "é".repeat(100);
        for value in ["añb", long.as_str()] {
            let mut bytes = Vec::new();
            encode(
                &Row::new(Location::default(), "i", "c", &[("K", value), ("L", "x")]),
                &mut Keys::new(64),
                &mut bytes,
            );
            let row = Cursor::new(&bytes).next_row().unwrap().unwrap();
            let values: Vec<_> = row.attributes().map(|a| a.unwrap().1).collect();
            assert_eq!(values, [value, "x"]);
            // The first byte of the first value's "é" or "ñ" (its second byte) broken.
            let at = bytes.windows(2).position(|w| w == [0xc3, 0xb1] || w == [0xc3, 0xa9]).unwrap();
            bytes[at] = 0xff;
            let row = Cursor::new(&bytes).next_row().unwrap().unwrap();
            let err = row.attributes().next().unwrap().unwrap_err();
            assert!(err.to_string().contains("not UTF-8"), "{err}");
        }
    }

    /// A value copied as a block (with text after it to spare) or exactly (without) is written
    /// as `put_attribute` writes it, at every length around the block's size and the one-byte
    /// length's limit.
    #[test]
    fn a_tagged_attribute_is_written_as_put_attribute_writes_it() {
        for len in [0usize, 1, 29, 30, 31, 127, 128, 300] {
            for after in [0usize, 1, 29, 30, 31, 400] {
                let text: Vec<u8> = (0..3 + len + after).map(|i| b'a' + (i % 26) as u8).collect();
                let span = (3, 3 + len);
                for tag in [0u8, 2, 62] {
                    let (mut tagged, mut plain) = (b"before".to_vec(), b"before".to_vec());
                    put_tagged(tag, &text, span, &mut tagged);
                    put_attribute(EncodedKey::Id(u32::from(tag >> 1)), &text[3..3 + len], &mut plain);
                    assert_eq!(tagged, plain, "{len} bytes, {after} after, tag {tag}");
                }
            }
        }
    }

    /// A column's one-byte tags exist only once every column asked for has a number under 32.
    #[test]
    fn column_tags_need_every_column_numbered_under_32() {
        let mut keys = Keys::new(usize::MAX);
        assert_eq!(keys.column_tags(0, 2), None);
        keys.column_id(0, 0, "A");
        assert_eq!(keys.column_tags(0, 2), None, "column 1 has no number yet");
        assert_eq!(keys.column_tags(0, 1), Some(&[0u8][..]));
        keys.column_id(0, 1, "B");
        assert_eq!(keys.column_tags(0, 2), Some(&[0u8, 2][..]));
        assert_eq!(keys.column_tags(1, 1), None, "another input numbers its own columns");
        for column in 0..40 {
            keys.column_id(2, column, &format!("K{column}"));
        }
        assert_eq!(keys.column_tags(2, 30).map(<[u8]>::len), Some(30));
        assert_eq!(keys.column_tags(2, 40), None, "the last columns are numbered 32 and up");
    }

    /// Attributes read straight off the bytes and those read the general way (a number of two
    /// bytes: a key numbered 32 or more, a value of 64 bytes or more; a key spelled out) come
    /// out in the row's order, and the walk stops when asked to.
    #[test]
    fn every_kind_of_attribute_is_walked_in_order() {
        let mut keys = Keys::new(usize::MAX);
        for i in 0..70 {
            keys.id(&format!("K{i}"));
        }
        let long = "l".repeat(200);
        let mut bytes = Vec::new();
        let attributes = [
            (key_of(&mut keys, 0, AttributeKey { column: None, name: "K1" }), "a"),
            (key_of(&mut keys, 0, AttributeKey { column: None, name: "K66" }), "b"),
            (EncodedKey::Name(b"Spelled"), "c"),
            (key_of(&mut keys, 0, AttributeKey { column: None, name: "K2" }), long.as_str()),
            (key_of(&mut keys, 0, AttributeKey { column: None, name: "K3" }), ""),
            (key_of(&mut keys, 0, AttributeKey { column: None, name: "K31" }), &long[..63]),
            (key_of(&mut keys, 0, AttributeKey { column: None, name: "K32" }), &long[..64]),
        ];
        let encoded = attributes.iter().map(|&(key, value)| (key, value.as_bytes()));
        encode_fragment(&[Location::default()], b"\x02\x01c", encoded, &mut bytes);
        let row = Cursor::new(&bytes).next_row().unwrap().unwrap();
        let mut walked = Vec::new();
        row.for_each_attribute(|key, value| {
            walked.push((key, value));
            Ok(true)
        })
        .unwrap();
        assert_eq!(walked, attributes);
        let mut first_two = Vec::new();
        row.for_each_attribute(|key, value| {
            first_two.push((key, value));
            Ok(first_two.len() < 2)
        })
        .unwrap();
        assert_eq!(first_two, attributes[..2]);
    }

    /// Every number is written in ASCII bytes (the largest line, a fragment too long for its two
    /// bytes, keys spelled out and numbered past one digit): a buffer of rows is text as a whole,
    /// and read with its text it gives the same rows.
    #[test]
    fn a_buffer_of_rows_is_text_as_a_whole() {
        let mut keys = Keys::new(64);
        for i in 0..40 {
            keys.id(&format!("K{i}"));
        }
        let long = "é".repeat(3000);
        let rows = [
            Row::new(Location { input: 7, line: u64::MAX }, "inst", "c1", &[("K39", "a"), ("SpelledOutKey", "b")]),
            Row::new(Location { input: 0, line: 1 << 40 }, "other instance", "c2", &[("K1", &long)]),
        ];
        let mut bytes = Vec::new();
        for row in &rows {
            encode(row, &mut keys, &mut bytes);
        }
        let text = piece_text(&bytes).expect("a buffer of rows is UTF-8");
        let mut cursor = Cursor::new(&bytes).with_text(Some(text));
        let names = keys.names();
        for row in &rows {
            let encoded = cursor.next_row().unwrap().unwrap();
            assert_eq!(encoded.locations().collect::<Vec<_>>(), [row.location]);
            assert_eq!(encoded.ids(&names).unwrap(), (row.instance_id.as_str(), row.contact_id.as_str()));
            let values: Vec<&str> = encoded.attributes().map(|a| a.unwrap().1).collect();
            assert_eq!(values, row.attributes().map(|(_, value)| value).collect::<Vec<_>>());
        }
        assert!(cursor.next_row().unwrap().is_none());
    }

    #[test]
    fn a_truncated_buffer_is_an_error_not_a_short_read() {
        let mut bytes = Vec::new();
        encode(&Row::new(Location::default(), "i", "c", &[("K", "value")]), &mut Keys::new(0), &mut bytes);
        bytes.pop();
        assert!(Cursor::new(&bytes).next_row().is_err());
    }
}
