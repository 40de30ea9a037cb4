//! Merging a buffer of encoded rows into final contacts: the rows of each contact, in input
//! order, later values winning per key. The buffer must hold every row of each contact it
//! names (a partition, or a run of grouped rows), so what comes out is final.
//!
//! Values are compared and chosen as borrowed bytes; only the winners are copied out, once.

use super::decode::{Cursor, Encoded, piece_text};
use super::encode::{EncodedKey, KeyNames, contact_hash};
use super::{Contact, MergeError};
use crate::input::Location;
use std::collections::HashMap;
use std::io;

/// One merged contact, borrowed from the merge's buffers: enough to check it, and to build the
/// [`Contact`] only when it is needed (to send it, or to report it).
#[derive(Debug, Clone, Copy)]
pub struct ContactView<'a> {
    pub instance_id: &'a str,
    pub contact_id: &'a str,
    /// Sorted by key, each key once, `--set` applied.
    pub attributes: &'a [(&'a str, &'a str)],
    /// Every input line that contributed, in input order.
    pub lines: &'a [Location],
    /// Every key is known to pass the key rules (checked once per distinct key).
    pub keys_checked: bool,
}

impl ContactView<'_> {
    pub fn to_contact(&self) -> Contact {
        Contact {
            instance_id: self.instance_id.to_string(),
            contact_id: self.contact_id.to_string(),
            attributes: self.attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            lines: self.lines.to_vec(),
        }
    }

    /// The view of a contact built earlier; `pairs` is scratch space for its attributes.
    pub fn of<'a>(contact: &'a Contact, pairs: &'a mut Vec<(&'a str, &'a str)>) -> ContactView<'a> {
        pairs.extend(contact.attribute_pairs());
        ContactView {
            instance_id: &contact.instance_id,
            contact_id: &contact.contact_id,
            attributes: pairs,
            lines: &contact.lines,
            keys_checked: false,
        }
    }
}

/// The final contacts of `data`, in order of first appearance, with `--set` applied.
pub fn merge_rows(data: &[u8], keys: &KeyNames, set: &[(String, String)]) -> io::Result<Vec<Contact>> {
    let mut contacts = Vec::new();
    merge_each(data, keys, set, |view| contacts.push(view.to_contact()))?;
    Ok(contacts)
}

/// Merges `data` and hands each final contact to `each`, in order of first appearance.
pub fn merge_each(
    data: &[u8],
    keys: &KeyNames,
    set: &[(String, String)],
    mut each: impl FnMut(&ContactView<'_>),
) -> io::Result<()> {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => merge_with(data, keys, set, &mut scratch, &mut each),
        // Reentered (rayon ran another piece on this thread while it waited): scratch of its own.
        Err(_) => merge_with(data, keys, set, &mut Scratch::default(), &mut each),
    })
}

/// The merge's working space, kept per thread so pieces after the first allocate nothing.
#[derive(Default)]
struct Scratch {
    /// Contacts seen: (start, length) of the contact's bytes in the piece, and its number.
    index: hashbrown::HashTable<(u32, u32, u32)>,
    /// Each row's contact number and start.
    rows: Vec<(u32, u32)>,
    /// Where each contact's rows start in `order`.
    starts: Vec<u32>,
    /// Row starts, grouped by contact.
    order: Vec<u32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

fn merge_with(
    data: &[u8],
    keys: &KeyNames,
    set: &[(String, String)],
    scratch: &mut Scratch,
    each: &mut impl FnMut(&ContactView<'_>),
) -> io::Result<()> {
    let Scratch { index, rows, starts, order } = scratch;
    let offset = |bytes: &[u8]| bytes.as_ptr() as usize - data.as_ptr() as usize;
    let bytes_of = |&(start, len, _): &(u32, u32, u32)| &data[start as usize..(start + len) as usize];
    let hash_of = |bytes: &[u8]| contact_hash(bytes);
    // Where each row starts, and its contact's number (in order of first appearance).
    index.clear();
    rows.clear();
    let mut cursor = Cursor::new(data);
    loop {
        let start = cursor.position();
        let Some(contact) = cursor.next_contact()? else { break };
        let hash = hash_of(contact);
        let next = index.len() as u32;
        let slot = match index.find(hash, |entry| bytes_of(entry) == contact) {
            Some(&(_, _, slot)) => slot,
            None => {
                let entry = (small(offset(contact))?, small(contact.len())?, next);
                index.insert_unique(hash, entry, |entry| hash_of(bytes_of(entry)));
                next
            }
        };
        rows.push((slot, small(start)?));
    }
    let contacts = index.len();
    // Rows grouped by contact, input order kept within each (a counting sort).
    starts.clear();
    starts.resize(contacts + 1, 0);
    for (slot, _) in rows.iter() {
        starts[*slot as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    order.clear();
    order.resize(rows.len(), 0);
    // `next` of each contact is kept in its `starts` slot while filling, then restored.
    for &(slot, start) in rows.iter() {
        order[starts[slot as usize] as usize] = start;
        starts[slot as usize] += 1;
    }
    for i in (1..starts.len()).rev() {
        starts[i] = starts[i - 1];
    }
    starts[0] = 0;
    // Checked for UTF-8 once, not row by row.
    let text = piece_text(data);
    let row_at = |&start: &u32| -> io::Result<Encoded<'_>> {
        Cursor::at(data, start as usize).with_text(text).next_row()?.ok_or_else(|| invalid("a row past the end"))
    };
    let mut contact = OneContact::new(keys, set);
    // The rows are read in `order`, jumping around a piece too large for the cache: each is
    // prefetched some rows ahead, or reading its first byte is a wait for memory.
    let mut ahead = order.iter();
    for &start in ahead.by_ref().take(ROWS_AHEAD) {
        crate::prefetch::slice(&data[start as usize..]);
    }
    for slot in 0..contacts {
        let of_contact = &order[starts[slot] as usize..starts[slot + 1] as usize];
        for &start in ahead.by_ref().take(of_contact.len()) {
            crate::prefetch::slice(&data[start as usize..]);
        }
        contact.emit(of_contact.iter().map(row_at), each)?;
    }
    Ok(())
}

/// How many rows ahead of the one merged the next is prefetched.
const ROWS_AHEAD: usize = 8;

/// [`merge_each`] for a piece in which each fragment is a whole contact and no two are the same
/// one (the grouped file: a contact that came back would have ended the streaming): each fragment
/// is merged on its own, in order, with no index of contacts.
pub fn merge_distinct_each(
    data: &[u8],
    keys: &KeyNames,
    set: &[(String, String)],
    mut each: impl FnMut(&ContactView<'_>),
) -> io::Result<()> {
    let mut contact = OneContact::new(keys, set);
    let mut cursor = Cursor::new(data).with_text(piece_text(data));
    while let Some(row) = cursor.next_row()? {
        contact.emit(std::iter::once(row).map(Ok), &mut each)?;
    }
    Ok(())
}

/// Merges the rows of one contact and hands it on, reusing its space from contact to contact.
/// `'d`: what it borrows (the piece's rows, the key names, `--set`) lives at least that long.
struct OneContact<'d> {
    keys: &'d KeyNames,
    set: RankedSet<'d>,
    /// Every key is numbered with a rank under [`FEW_KEYS`], `--set`'s too: [`OneContact::emit_few`]
    /// can take the contacts that spell no key out.
    few: bool,
    /// By key number, for [`OneContact::emit_few`]: the key's rank, whether it passes the key
    /// rules, and its name (looked up once per piece, not once per value).
    numbered: Vec<(u32, bool, &'d str)>,
    lines: Vec<Location>,
    winners: Winners<'d>,
    /// Per rank, the latest key and value, for [`OneContact::emit_few`].
    by_rank: Vec<(&'d str, &'d str)>,
    attributes: Vec<(&'d str, &'d str)>,
}

impl<'d> OneContact<'d> {
    fn new(keys: &'d KeyNames, set: &'d [(String, String)]) -> OneContact<'d> {
        let set = RankedSet::new(keys, set);
        let few = keys.count() <= FEW_KEYS && set.all_ranked;
        let numbered = if few { keys.numbered().collect() } else { Vec::new() };
        let (lines, winners, by_rank, attributes) = Default::default();
        OneContact { keys, set, few, numbered, lines, winners, by_rank, attributes }
    }

    /// The contact of `rows` (its rows in input order, at least one), merged, to `each`.
    fn emit(
        &mut self,
        rows: impl Iterator<Item = io::Result<Encoded<'d>>> + Clone,
        each: &mut impl FnMut(&ContactView<'_>),
    ) -> io::Result<()> {
        if self.few && self.emit_few(rows.clone(), each)? {
            return Ok(());
        }
        self.emit_any(rows, each)
    }

    /// [`OneContact::emit`] when every key is ranked under [`FEW_KEYS`]: each value goes straight
    /// to its key's rank, a later row's over an earlier one's, and the ranks set in a mask are the
    /// keys in order. No list of keys, no lookup of places. `false` (nothing given to `each`) when
    /// a row spells a key out.
    fn emit_few(
        &mut self,
        mut rows: impl Iterator<Item = io::Result<Encoded<'d>>>,
        each: &mut impl FnMut(&ContactView<'_>),
    ) -> io::Result<bool> {
        let (keys, numbered) = (self.keys, &self.numbered);
        let by_rank = &mut self.by_rank;
        by_rank.resize(FEW_KEYS, ("", ""));
        self.lines.clear();
        let first = rows.next().ok_or_else(|| invalid("a contact with no row"))??;
        let (instance_id, contact_id) = first.ids(keys)?;
        let (mut mask, mut checked) = (0u64, self.set.keys_valid);
        for row in std::iter::once(Ok(first)).chain(rows) {
            let row = row?;
            self.lines.extend(row.locations());
            let mut spelled_out = false;
            row.for_each_attribute(|key, value| {
                let EncodedKey::Id(id) = key else {
                    spelled_out = true;
                    return Ok(false);
                };
                let &(rank, valid, name) = numbered.get(id as usize).ok_or_else(|| invalid("an unknown key number"))?;
                checked &= valid;
                mask |= 1 << rank;
                by_rank[rank as usize] = (name, value);
                Ok(true)
            })?;
            if spelled_out {
                return Ok(false);
            }
        }
        for &(rank, name, value) in &self.set.entries {
            let rank = rank.unwrap_or_default();
            mask |= 1 << rank;
            by_rank[rank as usize] = (name, value);
        }
        self.attributes.clear();
        while mask != 0 {
            let rank = mask.trailing_zeros();
            mask &= mask - 1;
            self.attributes.push(by_rank[rank as usize]);
        }
        let (attributes, lines) = (&self.attributes, &self.lines);
        each(&ContactView { instance_id, contact_id, attributes, lines, keys_checked: checked });
        Ok(true)
    }

    /// [`OneContact::emit`] for any keys.
    fn emit_any(
        &mut self,
        mut rows: impl Iterator<Item = io::Result<Encoded<'d>>>,
        each: &mut impl FnMut(&ContactView<'_>),
    ) -> io::Result<()> {
        let (keys, winners) = (self.keys, &mut self.winners);
        self.lines.clear();
        let first = rows.next().ok_or_else(|| invalid("a contact with no row"))??;
        let (instance_id, contact_id) = first.ids(keys)?;
        for row in std::iter::once(Ok(first)).chain(rows) {
            let row = row?;
            self.lines.extend(row.locations());
            row.for_each_attribute(|key, value| {
                // Checked before `choose` sizes its table by the number (a damaged file).
                if let EncodedKey::Id(id) = key
                    && keys.get(id).is_none()
                {
                    return Err(invalid("an unknown key number"));
                }
                winners.choose(key, value);
                Ok(true)
            })?;
        }
        let mut chosen = winners.take(keys, &self.set)?;
        self.attributes.clear();
        self.attributes.extend(chosen.drain(..).map(|(_, k, v)| (k, v)));
        let (attributes, lines) = (&self.attributes, &self.lines);
        each(&ContactView { instance_id, contact_id, attributes, lines, keys_checked: false });
        winners.give_back(chosen);
        Ok(())
    }
}

/// A position in a piece, which is under 4 GiB.
fn small(at: usize) -> io::Result<u32> {
    u32::try_from(at).map_err(|_| invalid("a piece over 4 GiB"))
}

/// [`merge_each`] (or [`merge_distinct_each`] when `distinct`) with a read-back error naming the
/// file the rows came from.
pub fn merge_file_each(
    data: &[u8],
    keys: &KeyNames,
    set: &[(String, String)],
    (path, distinct): (&std::path::Path, bool),
    each: impl FnMut(&ContactView<'_>),
) -> Result<(), MergeError> {
    let merged = if distinct { merge_distinct_each(data, keys, set, each) } else { merge_each(data, keys, set, each) };
    merged.map_err(|source| MergeError::ReadBack { path: path.to_path_buf(), source })
}

/// An attribute as it is sorted: its key's rank among the interned keys (`None`: spelled out),
/// its key and its value.
type Ranked<'a> = (Option<u32>, &'a str, &'a str);

/// Scratch space to find each key's last value, reused from contact to contact.
#[derive(Default)]
struct Winners<'a> {
    by_id: Places,
    by_name: HashMap<&'a [u8], usize>,
    chosen: Vec<(EncodedKey<'a>, &'a str)>,
    spare: Vec<Ranked<'a>>,
}

/// Where each numbered key of a contact is in its list of keys, by number: 1 + the place, 0 for a
/// key the contact has not given (yet).
#[derive(Debug, Default)]
pub struct Places(Vec<u32>);

impl Places {
    /// The place of key `id`; `None` when it has none yet, and it is given `next`.
    #[inline]
    pub fn find_or_put(&mut self, id: u32, next: usize) -> Option<usize> {
        let id = id as usize;
        if self.0.len() <= id {
            self.0.resize(id + 1, 0);
        }
        match self.0[id] {
            0 => {
                self.0[id] = next as u32 + 1;
                None
            }
            place => Some(place as usize - 1),
        }
    }

    /// Key `id` has no place any more (the next contact starts).
    pub fn forget(&mut self, id: u32) {
        self.0[id as usize] = 0;
    }
}

/// With at most this many interned keys, a contact's keys are sorted by setting bits of a mask.
const FEW_KEYS: usize = 64;

impl<'a> Winners<'a> {
    fn choose(&mut self, key: EncodedKey<'a>, value: &'a str) {
        let at = match key {
            EncodedKey::Id(id) => self.by_id.find_or_put(id, self.chosen.len()),
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

    /// The contact's attributes sorted by key, `--set` winning; resets for the next contact.
    fn take(&mut self, keys: &'a KeyNames, set: &RankedSet<'a>) -> io::Result<Vec<Ranked<'a>>> {
        let mut sorted = std::mem::take(&mut self.spare);
        for (key, value) in self.chosen.drain(..) {
            let (rank, name) = match key {
                EncodedKey::Id(id) => {
                    self.by_id.forget(id);
                    keys.get(id).ok_or_else(|| invalid("an unknown key number"))?
                }
                EncodedKey::Name(bytes) => (None, text(bytes)?),
            };
            sorted.push((rank, name, value));
        }
        self.by_name.clear();
        // Stable: a `--set` value comes after the file's value for the same key, and wins.
        sorted.extend_from_slice(&set.entries);
        sorted.sort_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => a.1.cmp(b.1),
        });
        sorted.dedup_by(|later, earlier| {
            let same = later.1 == earlier.1;
            if same {
                *earlier = *later;
            }
            same
        });
        Ok(sorted)
    }

    fn give_back(&mut self, mut sorted: Vec<Ranked<'a>>) {
        sorted.clear();
        self.spare = sorted;
    }
}

/// `--set`'s keys and values with their ranks, and what [`Winners::take`] asks of them, worked
/// out once per piece rather than once per contact.
struct RankedSet<'a> {
    entries: Vec<Ranked<'a>>,
    /// Every key is a numbered one (has a rank).
    all_ranked: bool,
    /// Every key passes the key rules.
    keys_valid: bool,
}

impl<'a> RankedSet<'a> {
    fn new(keys: &KeyNames, set: &'a [(String, String)]) -> RankedSet<'a> {
        let entries: Vec<Ranked<'a>> = set.iter().map(|(k, v)| (keys.rank_of(k), k.as_str(), v.as_str())).collect();
        let all_ranked = entries.iter().all(|(rank, ..)| rank.is_some());
        let keys_valid = set.iter().all(|(k, _)| crate::validate::key(k).is_ok());
        RankedSet { entries, all_ranked, keys_valid }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("corrupt merge file: {what}"))
}

fn text(bytes: &[u8]) -> io::Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| invalid("text that is not UTF-8"))
}

#[cfg(test)]
#[path = "combine_tests.rs"]
mod tests;
