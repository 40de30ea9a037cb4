//! The in-memory strategy: every contact in a map, in order of first appearance, with a running
//! estimate of the bytes it holds so the caller can spill before the budget is exceeded.

use super::Contact;
use crate::input::Row;
use std::collections::HashMap;

/// Bytes a buffered contact costs besides its strings and slots: allocator headers of its ids,
/// the index's copy of the key and its line list, its B-tree's root. Measured roughly, rounded up.
const CONTACT_OVERHEAD: usize = 224;
/// A `Contact` in the list, and an entry of the index (key, slot, control byte, load factor).
const CONTACT_SLOT: usize = std::mem::size_of::<Contact>();
const INDEX_SLOT: usize = 2 * std::mem::size_of::<String>() + 16;
/// Bytes an attribute costs besides its key and value: its share of a B-tree node, two `String`
/// headers and two allocations.
const ATTRIBUTE_OVERHEAD: usize = 112;
const LINE: usize = std::mem::size_of::<crate::input::Location>();

#[derive(Debug, Default)]
pub struct MemoryMerge {
    index: HashMap<(String, String), usize>,
    contacts: Vec<Contact>,
    bytes: usize,
}

impl MemoryMerge {
    pub fn new() -> MemoryMerge {
        MemoryMerge::default()
    }

    /// Adds one row; rows must arrive in input order (inputs in the order given, lines ascending).
    pub fn add(&mut self, row: Row) {
        let (contact, bytes) = self.entry(row.instance_id, row.contact_id);
        *bytes += add_row(contact, row.location, row.attributes);
    }

    /// Adds a contact merged elsewhere from earlier rows (a spilled fragment, a finished group):
    /// its values win over what is already here and its lines come after.
    pub fn add_contact(&mut self, fragment: Contact) {
        let (contact, bytes) = self.entry(fragment.instance_id, fragment.contact_id);
        *bytes += fragment.lines.len() * LINE;
        contact.lines.extend(fragment.lines);
        for (name, value) in fragment.attributes {
            *bytes += set_owned_attribute(contact, name, value);
        }
    }

    fn entry(&mut self, instance_id: String, contact_id: String) -> (&mut Contact, &mut usize) {
        let key = (instance_id, contact_id);
        let slot = match self.index.get(&key) {
            Some(&slot) => slot,
            None => {
                let slot = self.contacts.len();
                self.bytes += CONTACT_OVERHEAD + 2 * (key.0.len() + key.1.len());
                self.contacts.push(Contact {
                    instance_id: key.0.clone(),
                    contact_id: key.1.clone(),
                    ..Contact::default()
                });
                self.index.insert(key, slot);
                slot
            }
        };
        (&mut self.contacts[slot], &mut self.bytes)
    }

    pub fn len(&self) -> usize {
        self.contacts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
    }

    /// The estimated heap bytes held, counting the spare capacity of the table and the list
    /// (both double as they grow).
    pub fn bytes(&self) -> usize {
        self.bytes + self.contacts.capacity() * CONTACT_SLOT + self.index.capacity() * INDEX_SLOT
    }

    /// Every contact, in order of first appearance, emptying the merge.
    pub fn take(&mut self) -> Vec<Contact> {
        self.index = HashMap::new();
        self.bytes = 0;
        std::mem::take(&mut self.contacts)
    }

    /// The final contacts, in order of first appearance, with `--set` applied.
    pub fn finish(mut self, set: &[(String, String)]) -> Vec<Contact> {
        let mut contacts = self.take();
        for contact in &mut contacts {
            apply_set(contact, set);
        }
        contacts
    }
}

/// Applies one row to a contact; returns the bytes it added.
pub fn add_row(
    contact: &mut Contact,
    location: crate::input::Location,
    attributes: Vec<(std::sync::Arc<str>, String)>,
) -> usize {
    contact.lines.push(location);
    let mut bytes = LINE;
    for (name, value) in attributes {
        bytes += set_attribute(contact, &name, value);
    }
    bytes
}

fn set_attribute(contact: &mut Contact, name: &str, value: String) -> usize {
    match contact.attributes.get_mut(name) {
        Some(existing) => {
            let grown = value.len().saturating_sub(existing.len());
            *existing = value;
            grown
        }
        None => {
            let bytes = ATTRIBUTE_OVERHEAD + name.len() + value.len();
            contact.attributes.insert(name.to_string(), value);
            bytes
        }
    }
}

/// `set_attribute` for a key that is already a `String`: no new allocation for it.
fn set_owned_attribute(contact: &mut Contact, name: String, value: String) -> usize {
    match contact.attributes.get_mut(&name) {
        Some(existing) => {
            let grown = value.len().saturating_sub(existing.len());
            *existing = value;
            grown
        }
        None => {
            let bytes = ATTRIBUTE_OVERHEAD + name.len() + value.len();
            contact.attributes.insert(name, value);
            bytes
        }
    }
}

/// The estimated heap bytes of one contact, as `MemoryMerge` counts them.
pub fn contact_bytes(contact: &Contact) -> usize {
    let attributes: usize = contact.attributes.iter().map(|(k, v)| ATTRIBUTE_OVERHEAD + k.len() + v.len()).sum();
    CONTACT_OVERHEAD + contact.instance_id.len() + contact.contact_id.len() + attributes + contact.lines.len() * LINE
}

/// `--set`: constant attributes that win over the file.
pub fn apply_set(contact: &mut Contact, set: &[(String, String)]) {
    for (key, value) in set {
        contact.attributes.insert(key.clone(), value.clone());
    }
}
