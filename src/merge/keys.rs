//! Numbers for what rows repeat: attribute keys, and instance ids. Wide files have a handful of
//! keys used on every row, and nearly every row names the same instance; an encoded row names them
//! by number, and the tables are built once. Past `limit` bytes of names (a long file with
//! millions of distinct keys) new names are written out in full instead.

use std::collections::HashMap;
use std::sync::Arc;

/// One fixed hasher for the whole run: partitions are chosen by it, so it must not change.
pub type Hasher = foldhash::fast::FixedState;

pub fn hasher() -> Hasher {
    foldhash::fast::FixedState::with_seed(0x636f_6e6e_6563_7421)
}

/// Names by number and numbers by name.
#[derive(Debug, Clone)]
struct Numbered {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32, Hasher>,
}

impl Numbered {
    fn new() -> Numbered {
        Numbered { names: Vec::new(), ids: HashMap::with_hasher(hasher()) }
    }

    /// The number of `name`, given one if `bytes` (what every table holds) stays within `limit`;
    /// `None` past it. A name not numbered when first seen never is, so each has one encoding.
    fn number(&mut self, name: &str, bytes: &mut usize, limit: usize) -> Option<u32> {
        if let Some(&id) = self.ids.get(name) {
            return Some(id);
        }
        if *bytes + name.len() > limit {
            return None;
        }
        let id = self.names.len() as u32;
        let name: Arc<str> = Arc::from(name);
        *bytes += 2 * name.len() + 64;
        self.names.push(name.clone());
        self.ids.insert(name, id);
        Some(id)
    }
}

/// The numbers given while rows are read.
#[derive(Debug)]
pub struct Keys {
    keys: Numbered,
    /// For each input, the id of each of its attribute columns, once seen.
    columns: Vec<Vec<Option<u32>>>,
    /// For each input, once every one of its attribute columns has an id under 32: the byte an
    /// encoded row names each by (see [`Keys::column_tags`]).
    tags: Vec<Vec<u8>>,
    instances: Numbered,
    /// The number of the instance of the row before (usually the next row's too).
    last_instance: Option<u32>,
    bytes: usize,
    limit: usize,
}

impl Keys {
    pub fn new(limit: usize) -> Keys {
        let (keys, instances) = (Numbered::new(), Numbered::new());
        let (columns, tags) = Default::default();
        Keys { keys, columns, tags, instances, last_instance: None, bytes: 0, limit }
    }

    /// Bytes the tables hold, counted against the budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The names, by number, for decoding.
    pub fn names(&self) -> Arc<KeyNames> {
        let names = &self.keys.names;
        let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
        by_name.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
        let mut ranks = vec![0; names.len()];
        for (rank, &id) in by_name.iter().enumerate() {
            ranks[id as usize] = rank as u32;
        }
        let valid = names.iter().map(|name| crate::validate::key(name).is_ok()).collect();
        Arc::new(KeyNames { keys: self.keys.clone(), ranks, valid, instances: self.instances.names.clone() })
    }

    /// The number of instance id `name`; `None` past the limit (it is then spelled out).
    pub fn instance(&mut self, name: &str) -> Option<u32> {
        if let Some(last) = self.last_instance
            && *self.instances.names[last as usize] == *name
        {
            return Some(last);
        }
        let id = self.instances.number(name, &mut self.bytes, self.limit)?;
        self.last_instance = Some(id);
        Some(id)
    }

    /// The number of key `name`; `None` past the limit (it is then spelled out).
    pub fn id(&mut self, name: &str) -> Option<u32> {
        self.keys.number(name, &mut self.bytes, self.limit)
    }

    /// The number of a header column of input `input` once it has one.
    #[inline]
    pub fn known_column(&self, input: u32, column: u32) -> Option<u32> {
        *self.columns.get(input as usize)?.get(column as usize)?
    }

    /// The first `count` attribute columns of input `input` as an encoded row names them, one
    /// byte each (`id << 1`, a one-digit number), once each has an id under 32; `None` until
    /// then, or ever when one has a larger id or none (past the limit). A wide row's keys are
    /// then written without looking up each column.
    #[inline]
    pub fn column_tags(&mut self, input: u32, count: usize) -> Option<&[u8]> {
        let input = input as usize;
        if self.tags.get(input).is_none_or(|tags| tags.len() < count) {
            let ids = self.columns.get(input)?.get(..count)?;
            if !ids.iter().all(|id| id.is_some_and(|id| id < 32)) {
                return None;
            }
            if self.tags.len() <= input {
                self.tags.resize_with(input + 1, Vec::new);
            }
            self.tags[input] = ids.iter().flatten().map(|&id| (id << 1) as u8).collect();
        }
        self.tags[input].get(..count)
    }

    /// The number of the key of header column `column` of input `input`, named `name`.
    pub fn column_id(&mut self, input: u32, column: u32, name: &str) -> Option<u32> {
        if let Some(id) = self.known_column(input, column) {
            return Some(id);
        }
        let id = self.id(name)?;
        let (input, column) = (input as usize, column as usize);
        if self.columns.len() <= input {
            self.columns.resize_with(input + 1, Vec::new);
        }
        let ids = &mut self.columns[input];
        if ids.len() <= column {
            ids.resize(column + 1, None);
        }
        ids[column] = Some(id);
        Some(id)
    }
}

/// The numbered names, read-only once every row is read: keys and instances by number, and each
/// key's rank in the order of the names (so sorting by rank is sorting by name).
#[derive(Debug)]
pub struct KeyNames {
    keys: Numbered,
    ranks: Vec<u32>,
    /// Per key: whether it passes the key rules ([`crate::validate::key`]).
    valid: Vec<bool>,
    instances: Vec<Arc<str>>,
}

impl KeyNames {
    /// The rank and name of key `id`.
    pub fn get(&self, id: u32) -> Option<(Option<u32>, &str)> {
        let name = self.keys.names.get(id as usize)?;
        Some((Some(self.ranks[id as usize]), name))
    }

    /// Every key, by number: its rank, whether it passes the key rules, and its name.
    pub fn numbered(&self) -> impl Iterator<Item = (u32, bool, &str)> {
        let ranked = self.keys.names.iter().zip(&self.ranks).zip(&self.valid);
        ranked.map(|((name, &rank), &valid)| (rank, valid, &**name))
    }

    /// How many keys are numbered.
    pub fn count(&self) -> usize {
        self.keys.names.len()
    }

    /// The rank of a key given by name (`--set`), if it is numbered.
    pub fn rank_of(&self, name: &str) -> Option<u32> {
        self.keys.ids.get(name).map(|&id| self.ranks[id as usize])
    }

    /// Instance id number `id`.
    pub fn instance(&self, id: usize) -> Option<&str> {
        self.instances.get(id).map(|name| &**name)
    }
}
