//! The merge fed by the real reader: several CSV inputs with different headers (wide with the
//! columns in any order, long, LF and CRLF, values quoted over two lines, an InstanceId column or
//! not), `--send-empty`, `--set` on a key the files also give, at any budget; checked against a
//! model that reads the generated rows, not the CSV. Wide rows name their keys by column, which
//! the merge's key table maps per input: the tests in `tests.rs` only build rows by name.

use super::*;
use crate::input::{Item, ReadOptions, read_reader};
use proptest::prelude::{Just, ProptestConfig, Strategy, any, prop_assert, prop_assert_eq, proptest};
use std::ops::ControlFlow;

/// The last one is too long for the key table at a small budget: spelled out in each row.
const KEYS: [&str; 5] = ["Tier", "Score", "Note", "Region", "AnAttributeNameLongEnoughNotToBeInternedAtSmallBudgets"];

fn value(index: u8) -> String {
    match index {
        0 => String::new(),
        1 => "a".into(),
        2 => "b".into(),
        3 => "x,y".into(),
        4 => "say \"hi\"".into(),
        5 => "two\nlines".into(),
        _ => "v".repeat(300),
    }
}

#[derive(Debug, Clone)]
struct Input {
    long: bool,
    crlf: bool,
    instance_column: bool,
    /// Wide: the attribute columns, as indexes into `KEYS`, in header order.
    columns: Vec<usize>,
    /// Wide: the contact column's place among them.
    contact_at: usize,
    /// (instance: 0 is an empty cell, contact, value indexes: per column (wide), key and value (long)).
    rows: Vec<(u8, u8, Vec<u8>)>,
}

fn input(grouped: bool) -> impl Strategy<Value = Input> {
    let columns = proptest::sample::subsequence((0..KEYS.len()).collect::<Vec<_>>(), 1..=KEYS.len());
    let row = (0u8..3, 0u8..25, proptest::collection::vec(0u8..7, KEYS.len()));
    (any::<(bool, bool, bool)>(), columns, 0usize..=KEYS.len(), proptest::collection::vec(row, 0..60)).prop_map(
        move |((long, crlf, instance_column), mut columns, contact_at, mut rows)| {
            columns.reverse();
            if grouped {
                rows.sort_by_key(|(instance, contact, _)| (*instance, *contact));
            }
            let contact_at = contact_at.min(columns.len());
            Input { long, crlf, instance_column, columns, contact_at, rows }
        },
    )
}

fn instance(input: &Input, instance: u8) -> String {
    match (input.instance_column, instance) {
        (true, 0) | (false, _) => "dflt".into(),
        (true, n) => format!("inst-{n}"),
    }
}

/// The attributes of one generated row, in column order, empty values included.
fn attributes(input: &Input, values: &[u8]) -> Vec<(String, String)> {
    if input.long {
        vec![(KEYS[values[0] as usize % KEYS.len()].to_string(), value(values[1]))]
    } else {
        input.columns.iter().zip(values).map(|(&key, &v)| (KEYS[key].to_string(), value(v))).collect()
    }
}

fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// The CSV text of an input, and the line each row starts on.
fn render(input: &Input) -> (String, Vec<u64>) {
    let end = if input.crlf { "\r\n" } else { "\n" };
    let mut header: Vec<String> = if input.long {
        vec!["InitialContactId".into(), "Key".into(), "Value".into()]
    } else {
        let mut header: Vec<String> = input.columns.iter().map(|&k| KEYS[k].to_string()).collect();
        header.insert(input.contact_at, "InitialContactId".into());
        header
    };
    if input.instance_column {
        header.insert(0, "InstanceId".into());
    }
    let mut text = header.join(",") + end;
    let (mut line, mut lines) = (2, Vec::new());
    for (instance, contact, values) in &input.rows {
        let mut fields: Vec<String> = if input.long {
            let (key, value) = attributes(input, values).remove(0);
            vec![format!("c{contact}"), key, quoted(&value)]
        } else {
            let mut fields: Vec<String> = attributes(input, values).iter().map(|(_, v)| quoted(v)).collect();
            fields.insert(input.contact_at, format!("c{contact}"));
            fields
        };
        if input.instance_column {
            fields.insert(0, if *instance == 0 { String::new() } else { format!("inst-{instance}") });
        }
        let row = fields.join(",");
        lines.push(line);
        line += 1 + row.matches('\n').count() as u64;
        text.push_str(&row);
        text.push_str(end);
    }
    (text, lines)
}

/// Every contact, sorted, the obvious way.
fn model(inputs: &[Input], send_empty: bool, set: &[(String, String)]) -> Vec<Contact> {
    let mut contacts: BTreeMap<(String, String), Contact> = BTreeMap::new();
    for (index, input) in inputs.iter().enumerate() {
        let (_, lines) = render(input);
        for ((instance_index, contact, values), line) in input.rows.iter().zip(lines) {
            let (instance, contact) = (instance(input, *instance_index), format!("c{contact}"));
            let entry = contacts.entry((instance.clone(), contact.clone())).or_insert_with(|| Contact {
                instance_id: instance,
                contact_id: contact,
                ..Contact::default()
            });
            entry.lines.push(Location { input: index as u32, line });
            for (key, value) in attributes(input, values) {
                if send_empty || !value.is_empty() {
                    entry.attributes.insert(key, value);
                }
            }
        }
    }
    for contact in contacts.values_mut() {
        contact.attributes.extend(set.iter().cloned());
    }
    contacts.into_values().collect()
}

/// Reads every input with the real reader into one `Merger`; the contacts, sorted.
fn read_and_merge(inputs: &[Input], send_empty: bool, options: MergeOptions, set: &[(String, String)]) -> Vec<Contact> {
    let read = ReadOptions { default_instance: Some("dflt".into()), send_empty, ..ReadOptions::default() };
    let mut merger = Merger::new(options);
    for (index, input) in inputs.iter().enumerate() {
        let (text, _) = render(input);
        let info = read_reader(index as u32, "in.csv", std::io::Cursor::new(text.into_bytes()), &read, |item| {
            match item {
                Item::Row(row) => merger.add(row).unwrap(),
                Item::Bad(bad) => panic!("a generated row is bad: {bad:?}"),
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(info.rows, input.rows.len() as u64);
    }
    let mut contacts: Vec<Contact> = merger.finish(set).unwrap().map(Result::unwrap).collect();
    contacts.sort_by(|a, b| (&a.instance_id, &a.contact_id).cmp(&(&b.instance_id, &b.contact_id)));
    contacts
}

fn inputs() -> impl Strategy<Value = Vec<Input>> {
    any::<bool>().prop_flat_map(|grouped| proptest::collection::vec(input(grouped), 1..4))
}

fn set() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::sample::select(vec![vec![], vec![("Tier", "set")], vec![(KEYS[4], "set"), ("Flag", "y")]])
        .prop_map(|set| set.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn read_then_merged_at_any_budget_gives_the_model(
        inputs in inputs(),
        send_empty in any::<bool>(),
        set in set(),
        budget in proptest::prop_oneof![Just(0usize), 0usize..4000, 4000usize..40_000],
    ) {
        let expected = model(&inputs, send_empty, &set);
        prop_assert_eq!(&read_and_merge(&inputs, send_empty, MergeOptions::unlimited(), &set), &expected);
        let dir = tempfile::tempdir().unwrap();
        let options = MergeOptions { budget, temp_dir: Some(dir.path().to_path_buf()) };
        prop_assert_eq!(&read_and_merge(&inputs, send_empty, options, &set), &expected);
        prop_assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "temp files left behind");
    }
}
