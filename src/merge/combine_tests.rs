//! The merge's tests of combining rows into contacts: winners, order, keys and damaged pieces.

use super::super::encode::{Keys, encode, encode_fragment};
use super::*;
use crate::input::{Location, Row};

#[test]
fn later_rows_win_and_lines_are_kept_in_order() {
    let mut keys = Keys::new(usize::MAX);
    let mut data = Vec::new();
    let at = |line| Location { input: 0, line };
    encode(&Row::new(at(2), "i", "c1", &[("Tier", "Silver"), ("Status", "Open")]), &mut keys, &mut data);
    encode(&Row::new(at(3), "i", "c2", &[("Tier", "Bronze")]), &mut keys, &mut data);
    encode(&Row::new(at(4), "j", "c1", &[("Tier", "Other")]), &mut keys, &mut data);
    encode(&Row::new(at(9), "i", "c1", &[("Tier", "Gold")]), &mut keys, &mut data);
    let set = [("Flag".to_string(), "y".to_string())];
    let contacts = merge_rows(&data, &keys.names(), &set).unwrap();
    let seen: Vec<_> = contacts.iter().map(|c| (c.instance_id.as_str(), c.contact_id.as_str())).collect();
    assert_eq!(seen, [("i", "c1"), ("i", "c2"), ("j", "c1")]);
    assert_eq!(contacts[0].attributes["Tier"], "Gold");
    assert_eq!(contacts[0].attributes["Status"], "Open");
    assert_eq!(contacts[0].attributes["Flag"], "y");
    assert_eq!(contacts[0].lines, [at(2), at(9)]);
}

/// A damaged file can hold any number where a key's number goes: it is refused, not used to
/// size the table of keys seen (`u32::MAX` would ask for 16 GiB).
#[test]
fn an_unknown_key_number_is_an_error() {
    let mut keys = Keys::new(usize::MAX);
    let mut row = Vec::new();
    encode(&Row::new(Location::default(), "i", "c", &[("K", "1")]), &mut keys, &mut row);
    let contact = Cursor::new(&row).next_row().unwrap().unwrap().contact;
    let mut data = Vec::new();
    encode_fragment(&[Location::default()], contact, [(EncodedKey::Id(u32::MAX), &b"v"[..])].into_iter(), &mut data);
    let err = merge_rows(&data, &keys.names(), &[]).unwrap_err();
    assert!(err.to_string().contains("unknown key number"), "{err}");
}

/// Sorting by mask (at most 64 interned keys) and by comparing (more keys, or a spelled-out
/// one) give the same order, and `--set` wins over the file in both.
#[test]
fn few_and_many_keys_sort_alike_with_set_winning() {
    let set = [("Tier".to_string(), "Set".to_string()), ("Aa".to_string(), "first".to_string())];
    let merged = |extra_keys: usize, limit: usize| {
        let mut keys = Keys::new(limit);
        let mut data = Vec::new();
        let filler: Vec<String> = (0..extra_keys).map(|i| format!("K{i:03}")).collect();
        let filler: Vec<(&str, &str)> = filler.iter().map(|k| (k.as_str(), "f")).collect();
        encode(&Row::new(Location::default(), "i", "x", &filler), &mut keys, &mut data);
        let rows = [("Zed", "1"), ("Tier", "Gold"), ("Aa", "2"), ("Mid", "3")];
        encode(&Row::new(Location { input: 0, line: 2 }, "i", "c", &rows), &mut keys, &mut data);
        let contacts = merge_rows(&data, &keys.names(), &set).unwrap();
        contacts.into_iter().find(|c| c.contact_id == "c").unwrap()
    };
    let few = merged(0, usize::MAX);
    assert_eq!(
        few.attribute_pairs().collect::<Vec<_>>(),
        [("Aa", "first"), ("Mid", "3"), ("Tier", "Set"), ("Zed", "1")]
    );
    assert_eq!(merged(100, usize::MAX), few);
    assert_eq!(merged(0, 0), few);
}

/// A contact's keys are marked checked only when every one passes the key rules, so a bad
/// key is still found by validation.
#[test]
fn keys_are_checked_once_and_a_bad_one_is_left_to_validation() {
    let mut keys = Keys::new(usize::MAX);
    let mut data = Vec::new();
    encode(&Row::new(Location::default(), "i", "good", &[("Tier", "1")]), &mut keys, &mut data);
    encode(&Row::new(Location::default(), "i", "bad", &[("Tier", "1"), ("Bad Key", "2")]), &mut keys, &mut data);
    let mut seen = Vec::new();
    merge_each(&data, &keys.names(), &[], |view| seen.push((view.contact_id.to_string(), view.keys_checked))).unwrap();
    assert_eq!(seen, [("good".to_string(), true), ("bad".to_string(), false)]);
    let mut seen = Vec::new();
    let set = [("Also Bad".to_string(), "x".to_string())];
    merge_each(&data, &keys.names(), &set, |view| seen.push(view.keys_checked)).unwrap();
    assert_eq!(seen, [false, false]);
}

/// Fragments that are each a whole contact of their own (the grouped file) merge the same
/// fragment by fragment as through the index of contacts.
#[test]
fn distinct_fragments_merge_like_any_piece() {
    let mut keys = Keys::new(usize::MAX);
    let mut data = Vec::new();
    let at = |line| Location { input: 0, line };
    encode(&Row::new(at(2), "i", "c2", &[("Tier", "Gold"), ("Tier", "Silver")]), &mut keys, &mut data);
    encode(&Row::new(at(3), "i", "c1", &[("Open", "1")]), &mut keys, &mut data);
    encode(&Row::new(at(4), "j", "c2", &[]), &mut keys, &mut data);
    let (names, set) = (keys.names(), [("Flag".to_string(), "y".to_string())]);
    let mut distinct = Vec::new();
    merge_distinct_each(&data, &names, &set, |view| distinct.push(view.to_contact())).unwrap();
    assert_eq!(distinct, merge_rows(&data, &names, &set).unwrap());
    assert_eq!(distinct[0].attributes["Tier"], "Silver");
    assert_eq!(distinct.len(), 3);
}

#[test]
fn spelled_out_keys_merge_like_interned_ones() {
    let mut keys = Keys::new(0);
    let mut data = Vec::new();
    encode(&Row::new(Location::default(), "i", "c", &[("K", "1"), ("L", "2")]), &mut keys, &mut data);
    encode(&Row::new(Location::default(), "i", "c", &[("K", "3")]), &mut keys, &mut data);
    let contacts = merge_rows(&data, &keys.names(), &[]).unwrap();
    assert_eq!(contacts[0].attribute_pairs().collect::<Vec<_>>(), [("K", "3"), ("L", "2")]);
}
