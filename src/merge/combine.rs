//! Merging a buffer of encoded rows into final contacts: the rows of each contact, in input
//! order, later values winning per key. The buffer must hold every row of each contact it
//! names (a partition, or a run of grouped rows), so what comes out is final.
//!
//! Values are compared and chosen as borrowed bytes; only the winners are copied out, once.

use super::encode::{Cursor, Encoded, EncodedKey, Hasher, hasher};
use super::{Contact, MergeError};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::Arc;

/// The final contacts of `data`, in order of first appearance, with `--set` applied.
pub fn merge_rows(data: &[u8], names: &[Arc<str>], set: &[(String, String)]) -> io::Result<Vec<Contact>> {
    // Every row, numbered by its contact (contacts numbered in order of first appearance).
    let mut index: HashMap<&[u8], u32, Hasher> = HashMap::with_hasher(hasher());
    let mut rows: Vec<(u32, Encoded)> = Vec::new();
    let mut cursor = Cursor::new(data);
    while let Some(row) = cursor.next_row()? {
        let next = index.len() as u32;
        let slot = *index.entry(row.contact).or_insert(next);
        rows.push((slot, row));
    }
    let contacts = index.len();
    drop(index);
    // Rows grouped by contact, input order kept within each (a counting sort).
    let mut starts = vec![0u32; contacts + 1];
    for (slot, _) in &rows {
        starts[*slot as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut order = vec![0u32; rows.len()];
    let mut next = starts.clone();
    for (i, (slot, _)) in rows.iter().enumerate() {
        order[next[*slot as usize] as usize] = i as u32;
        next[*slot as usize] += 1;
    }
    let mut winners = Winners::default();
    let mut merged = Vec::with_capacity(contacts);
    for slot in 0..contacts {
        let of_contact = &order[starts[slot] as usize..starts[slot + 1] as usize];
        merged.push(winners.contact(of_contact.iter().map(|&i| &rows[i as usize].1), names, set)?);
    }
    Ok(merged)
}

/// [`merge_rows`] with a read-back error naming the file the rows came from.
pub fn merge_file_rows(
    data: &[u8],
    names: &[Arc<str>],
    set: &[(String, String)],
    path: &std::path::Path,
) -> Result<Vec<Contact>, MergeError> {
    merge_rows(data, names, set).map_err(|source| MergeError::ReadBack { path: path.to_path_buf(), source })
}

/// Scratch space to find each key's last value, reused from contact to contact.
#[derive(Default)]
struct Winners<'a> {
    /// Per interned key id: 1 + its position in `chosen`, 0 when not seen in this contact.
    by_id: Vec<u32>,
    by_name: HashMap<&'a [u8], usize>,
    chosen: Vec<(EncodedKey<'a>, &'a [u8])>,
}

impl<'a> Winners<'a> {
    fn contact(
        &mut self,
        rows: impl Iterator<Item = &'a Encoded<'a>>,
        names: &[Arc<str>],
        set: &[(String, String)],
    ) -> io::Result<Contact> {
        let mut lines = Vec::new();
        let mut ids = None;
        for row in rows {
            ids.get_or_insert_with(|| row.ids());
            lines.push(row.location);
            for (key, value) in row.attributes() {
                self.choose(key, value);
            }
        }
        let (instance_id, contact_id) = ids.unwrap_or_default();
        let mut attributes = Vec::with_capacity(self.chosen.len());
        for (key, value) in self.chosen.drain(..) {
            let name = match key {
                EncodedKey::Id(id) => {
                    self.by_id[id as usize] = 0;
                    let name = names.get(id as usize).ok_or_else(|| invalid("an unknown key number"))?;
                    name.to_string()
                }
                EncodedKey::Name(bytes) => text(bytes)?.to_string(),
            };
            attributes.push((name, text(value)?.to_string()));
        }
        self.by_name.clear();
        let mut attributes = BTreeMap::from_iter(attributes);
        for (key, value) in set {
            attributes.insert(key.clone(), value.clone());
        }
        Ok(Contact { instance_id: instance_id.to_string(), contact_id: contact_id.to_string(), attributes, lines })
    }

    fn choose(&mut self, key: EncodedKey<'a>, value: &'a [u8]) {
        let at = match key {
            EncodedKey::Id(id) => {
                let id = id as usize;
                if self.by_id.len() <= id {
                    self.by_id.resize(id + 1, 0);
                }
                match self.by_id[id] {
                    0 => {
                        self.by_id[id] = self.chosen.len() as u32 + 1;
                        None
                    }
                    at => Some(at as usize - 1),
                }
            }
            EncodedKey::Name(name) => match self.by_name.get(name) {
                Some(&at) => Some(at),
                None => {
                    self.by_name.insert(name, self.chosen.len());
                    None
                }
            },
        };
        match at {
            Some(at) => self.chosen[at].1 = value,
            None => self.chosen.push((key, value)),
        }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("corrupt merge file: {what}"))
}

fn text(bytes: &[u8]) -> io::Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| invalid("text that is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::super::encode::{Keys, encode};
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

    #[test]
    fn spelled_out_keys_merge_like_interned_ones() {
        let mut keys = Keys::new(0);
        let mut data = Vec::new();
        encode(&Row::new(Location::default(), "i", "c", &[("K", "1"), ("L", "2")]), &mut keys, &mut data);
        encode(&Row::new(Location::default(), "i", "c", &[("K", "3")]), &mut keys, &mut data);
        let contacts = merge_rows(&data, &keys.names(), &[]).unwrap();
        assert_eq!(contacts[0].attribute_pairs().collect::<Vec<_>>(), [("K", "3"), ("L", "2")]);
    }
}
