//! The merge on arbitrary rows against a model: for each (instance, contact), in input order, the
//! last value of each key wins; every row's line is kept; `--set` wins over the rows.
#![no_main]

use connect_attrs::input::{Location, Row};
use connect_attrs::merge::{MergeOptions, Merger};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

type Model = BTreeMap<(String, String), (BTreeMap<String, String>, Vec<Location>)>;

fuzz_target!(|input: (Vec<(u8, u8, Vec<(u8, String)>)>, Vec<(u8, String)>)| {
    let (rows, set) = input;
    let key = |k: u8| format!("K{}", k % 8);
    let set: Vec<(String, String)> = set.into_iter().map(|(k, v)| (key(k), v)).collect();
    let mut merger = Merger::new(MergeOptions::unlimited());
    let mut model = Model::new();
    for (line, (instance, contact, attributes)) in rows.into_iter().enumerate() {
        let location = Location { input: 0, line: line as u64 + 2 };
        let id = (format!("i{}", instance % 2), format!("c{}", contact % 16));
        let attributes: Vec<(String, String)> = attributes.into_iter().map(|(k, v)| (key(k), v)).collect();
        let entry = model.entry(id.clone()).or_default();
        entry.1.push(location);
        for (k, v) in &attributes {
            entry.0.insert(k.to_string(), v.clone());
        }
        let pairs: Vec<(&str, &str)> = attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        merger.add(&Row::new(location, &id.0, &id.1, &pairs)).unwrap();
    }
    for (attributes, _) in model.values_mut() {
        for (k, v) in &set {
            attributes.insert(k.clone(), v.clone());
        }
    }
    let contacts: Vec<_> = merger.finish(&set).unwrap().map(Result::unwrap).collect();
    assert_eq!(contacts.len(), model.len());
    for contact in contacts {
        let (attributes, lines) = &model[&(contact.instance_id.clone(), contact.contact_id.clone())];
        assert_eq!(&contact.attributes, attributes);
        assert_eq!(&contact.lines, lines);
    }
});
