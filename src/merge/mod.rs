//! merge: rows -> contacts. Rows of one contact may be anywhere in any input; later rows win per
//! key. A contact is final only when every row has been read, so nothing is sent before then.
//!
//! `MemoryMerge` keeps every contact in a map, in order of first appearance. (Bounded memory and
//! spilling to disk slot in behind the same `add` / `finish` shape.)

use crate::input::{Location, Row};
use std::collections::{BTreeMap, HashMap};

/// One contact with everything the inputs say about it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub instance_id: String,
    pub contact_id: String,
    /// Merged attributes: for each key, the value of the last row that gave it.
    pub attributes: BTreeMap<String, String>,
    /// Every input line that contributed, in input order.
    pub lines: Vec<Location>,
}

impl Contact {
    pub fn attribute_pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Constant attributes from `--set`, applied to every contact after merging (they win).
pub type SetAttributes = Vec<(String, String)>;

#[derive(Debug, Default)]
pub struct MemoryMerge {
    index: HashMap<(String, String), usize>,
    contacts: Vec<Contact>,
}

impl MemoryMerge {
    pub fn new() -> MemoryMerge {
        MemoryMerge::default()
    }

    /// Adds one row; rows must arrive in input order (inputs in the order given, lines ascending).
    pub fn add(&mut self, row: Row) {
        let key = (row.instance_id, row.contact_id);
        let slot = match self.index.get(&key) {
            Some(&slot) => slot,
            None => {
                let slot = self.contacts.len();
                self.contacts.push(Contact {
                    instance_id: key.0.clone(),
                    contact_id: key.1.clone(),
                    ..Contact::default()
                });
                self.index.insert(key, slot);
                slot
            }
        };
        let contact = &mut self.contacts[slot];
        contact.lines.push(row.location);
        for (name, value) in row.attributes {
            match contact.attributes.get_mut(&*name) {
                Some(existing) => *existing = value,
                None => {
                    contact.attributes.insert(name.to_string(), value);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.contacts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
    }

    /// The final contacts, in order of first appearance, with `--set` applied.
    pub fn finish(self, set: &[(String, String)]) -> Vec<Contact> {
        let mut contacts = self.contacts;
        if !set.is_empty() {
            for contact in &mut contacts {
                for (key, value) in set {
                    contact.attributes.insert(key.clone(), value.clone());
                }
            }
        }
        contacts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn row(input: u32, line: u64, contact: &str, attrs: &[(&str, &str)]) -> Row {
        Row {
            location: Location { input, line },
            instance_id: "i".into(),
            contact_id: contact.into(),
            attributes: attrs.iter().map(|(k, v)| (Arc::from(*k), v.to_string())).collect(),
        }
    }

    #[test]
    fn later_rows_win_per_key_across_inputs() {
        let mut merge = MemoryMerge::new();
        merge.add(row(0, 2, "c1", &[("Tier", "Silver"), ("Status", "Open")]));
        merge.add(row(0, 3, "c2", &[("Tier", "Bronze")]));
        merge.add(row(1, 9, "c1", &[("Tier", "Gold")]));
        let contacts = merge.finish(&[]);
        assert_eq!(contacts.len(), 2);
        assert_eq!(contacts[0].contact_id, "c1");
        assert_eq!(contacts[0].attributes["Tier"], "Gold");
        assert_eq!(contacts[0].attributes["Status"], "Open");
        assert_eq!(contacts[0].lines, [Location { input: 0, line: 2 }, Location { input: 1, line: 9 }]);
    }

    #[test]
    fn same_contact_in_two_instances_is_two_contacts() {
        let mut merge = MemoryMerge::new();
        merge.add(row(0, 2, "c1", &[("A", "1")]));
        let mut other = row(0, 3, "c1", &[("A", "2")]);
        other.instance_id = "j".into();
        merge.add(other);
        assert_eq!(merge.len(), 2);
    }

    #[test]
    fn set_attributes_win_over_the_file() {
        let mut merge = MemoryMerge::new();
        merge.add(row(0, 2, "c1", &[("LegalReview", "false")]));
        merge.add(row(0, 3, "c2", &[]));
        let contacts = merge.finish(&[("LegalReview".into(), "true".into())]);
        assert!(contacts.iter().all(|c| c.attributes["LegalReview"] == "true"));
    }
}
