//! The streaming strategy's bookkeeping: is the input still grouped by contact?
//!
//! Rows are grouped when every contact's rows are adjacent. That can only be known for sure at
//! the end, so this watches optimistically: when the contact changes, the previous one is
//! *probably* finished. A contact that comes back after another one started ends the streaming:
//! the merge falls back to the in-memory/spilled strategy, which is correct for any order.
//!
//! Two cheap tests decide whether a new contact might be coming back:
//! - while the keys have been strictly increasing (input sorted by contact) a larger key is new,
//!   whatever came before: constant memory, no set needed;
//! - otherwise a set of the 64-bit hashes of finished contacts answers. A hash collision only ever
//!   says "seen" for a new contact, which causes a needless (but correct) fallback. The set is
//!   bounded: past its share of the budget it is dropped while the input is sorted (the order
//!   check suffices), and otherwise the merge falls back.

use super::encode::{Hasher, hasher};
use std::collections::HashSet;
use std::hash::BuildHasher;

/// A 64-bit hash of a contact's key.
fn key_hash(instance_id: &str, contact_id: &str) -> u64 {
    hasher().hash_one((instance_id, contact_id))
}

/// Bytes per slot of the hash set, with its control byte and load factor, rounded up.
const SLOT_BYTES: usize = 12;

#[derive(Debug)]
pub struct Grouping {
    /// Every key so far strictly greater than the one before.
    sorted: bool,
    /// Hashes of finished contacts; `None` once dropped for its size.
    seen: Option<HashSet<u64, Hasher>>,
    seen_limit: usize,
}

/// What to do with a row whose contact differs from the previous row's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A contact not seen before: the previous one is final (as far as anyone can tell yet).
    New,
    /// It may have been seen (or the proof is too expensive to keep): stop streaming.
    Fallback,
}

impl Grouping {
    pub fn new(seen_limit: usize) -> Grouping {
        Grouping { sorted: true, seen: Some(HashSet::with_hasher(hasher())), seen_limit }
    }

    /// The contact `previous` is finished and a row of `next` arrived.
    pub fn next_contact(&mut self, previous: (&str, &str), next: (&str, &str)) -> Verdict {
        if !self.remember(key_hash(previous.0, previous.1)) {
            return Verdict::Fallback;
        }
        if self.sorted && next > previous {
            return Verdict::New;
        }
        self.sorted = false;
        match &self.seen {
            Some(seen) if !seen.contains(&key_hash(next.0, next.1)) => Verdict::New,
            _ => Verdict::Fallback,
        }
    }

    /// Records a finished contact; `false` when it can no longer be tracked and the input is not
    /// sorted, so a later return could go unnoticed.
    fn remember(&mut self, hash: u64) -> bool {
        let Some(seen) = &mut self.seen else { return self.sorted };
        if seen.len() == seen.capacity() {
            // Growing allocates the doubled table while the old one still exists.
            let after = (seen.capacity().max(8) * 3) * SLOT_BYTES;
            if after > self.seen_limit {
                self.seen = None;
                return self.sorted;
            }
        }
        seen.insert(hash);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_keys_need_no_set() {
        let mut grouping = Grouping::new(0);
        assert_eq!(grouping.next_contact(("i", "a"), ("i", "b")), Verdict::New);
        assert_eq!(grouping.next_contact(("i", "b"), ("i", "c")), Verdict::New);
        assert!(grouping.seen.is_none(), "the set did not fit and is not needed");
        // Out of order with no set to prove the contact is new: fall back.
        assert_eq!(grouping.next_contact(("i", "c"), ("i", "bb")), Verdict::Fallback);
    }

    #[test]
    fn grouped_but_unsorted_streams_until_a_contact_comes_back() {
        let mut grouping = Grouping::new(1 << 20);
        assert_eq!(grouping.next_contact(("i", "c"), ("i", "a")), Verdict::New);
        assert_eq!(grouping.next_contact(("i", "a"), ("i", "b")), Verdict::New);
        assert_eq!(grouping.next_contact(("i", "b"), ("i", "c")), Verdict::Fallback);
    }

    #[test]
    fn a_full_set_on_unsorted_input_falls_back() {
        let mut grouping = Grouping::new(0);
        assert_eq!(grouping.next_contact(("i", "b"), ("i", "a")), Verdict::Fallback);
    }
}
