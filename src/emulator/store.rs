//! The emulator's stored contacts: merged attributes and update counts per (instance, contact),
//! sharded so concurrent requests for different contacts rarely wait on one another.

use serde::{Deserialize, Serialize};
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};

const SHARDS: usize = 16;

/// One stored contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactState {
    pub attributes: BTreeMap<String, String>,
    /// How many successful UpdateContactAttributes calls hit this contact.
    pub updates: u64,
}

/// Everything stored: instance -> contact -> state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub instances: BTreeMap<String, BTreeMap<String, ContactState>>,
}

impl State {
    pub fn contact(&self, instance: &str, contact: &str) -> Option<&ContactState> {
        self.instances.get(instance)?.get(contact)
    }
}

type Shard = HashMap<(String, String), ContactState>;

pub struct Store {
    hasher: RandomState,
    shards: Vec<Mutex<Shard>>,
}

impl Default for Store {
    fn default() -> Store {
        Store { hasher: RandomState::new(), shards: (0..SHARDS).map(|_| Mutex::default()).collect() }
    }
}

impl Store {
    /// Merges `attributes` into the contact if `check` accepts the merged map; the check runs
    /// under the shard's lock so two concurrent updates cannot together exceed a limit.
    pub fn merge<E>(
        &self,
        instance: &str,
        contact: &str,
        attributes: BTreeMap<String, String>,
        check: impl FnOnce(&BTreeMap<String, String>) -> Result<(), E>,
    ) -> Result<(), E> {
        let key = (instance.to_owned(), contact.to_owned());
        let mut shard = self.shard(&key);
        let mut merged = shard.get(&key).map(|c| c.attributes.clone()).unwrap_or_default();
        merged.extend(attributes);
        check(&merged)?;
        let entry = shard.entry(key).or_default();
        entry.attributes = merged;
        entry.updates += 1;
        Ok(())
    }

    pub fn snapshot(&self) -> State {
        let mut state = State::default();
        for shard in &self.shards {
            for ((instance, contact), stored) in lock(shard).iter() {
                state.instances.entry(instance.clone()).or_default().insert(contact.clone(), stored.clone());
            }
        }
        state
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            lock(shard).clear();
        }
    }

    fn shard(&self, key: &(String, String)) -> MutexGuard<'_, Shard> {
        let index = self.hasher.hash_one(key) as usize % SHARDS;
        lock(&self.shards[index])
    }
}

/// A panic while holding a shard cannot leave a map half-written (inserts are single calls), so a
/// poisoned lock is still safe to use.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn merge_keeps_old_keys_and_overwrites_new_ones() {
        let store = Store::default();
        store.merge("i", "c", attrs(&[("a", "1"), ("b", "2")]), |_| Ok::<_, ()>(())).unwrap();
        store.merge("i", "c", attrs(&[("b", "3")]), |_| Ok::<_, ()>(())).unwrap();
        let state = store.snapshot();
        let contact = state.contact("i", "c").unwrap();
        assert_eq!(contact.attributes, attrs(&[("a", "1"), ("b", "3")]));
        assert_eq!(contact.updates, 2);
    }

    #[test]
    fn a_refused_merge_changes_nothing() {
        let store = Store::default();
        store.merge("i", "c", attrs(&[("a", "1")]), |_| Ok::<_, ()>(())).unwrap();
        let refused =
            store.merge("i", "c", attrs(&[("b", "2")]), |merged| if merged.len() > 1 { Err(()) } else { Ok(()) });
        assert_eq!(refused, Err(()));
        assert_eq!(store.snapshot().contact("i", "c").unwrap().attributes, attrs(&[("a", "1")]));
        assert_eq!(store.len(), 1);
        store.clear();
        assert!(store.is_empty());
    }
}
