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
//! - otherwise a set of the 64-bit hashes of finished contacts answers. It is filled only when
//!   the order first breaks, with every contact finished until then (read back by the merge).
//!   A hash collision only ever says "seen" for a new contact, which causes a needless (but
//!   correct) fallback. The set is bounded: past its share of the budget the merge falls back.

use super::encode::Hasher;
use std::collections::HashSet;

/// Bytes per slot of the hash set, with its control byte and load factor, rounded up.
const SLOT_BYTES: usize = 12;

#[derive(Debug)]
pub struct Grouping {
    /// Every key so far strictly greater than the one before.
    sorted: bool,
    /// Hashes of finished contacts (of their encoded bytes, see `encode::contact_hash`), kept
    /// only once the input is found not sorted: while it is, order alone proves a contact new.
    seen: HashSet<u64, Hasher>,
    /// The set holds every finished contact (it was filled when the order first broke).
    tracking: bool,
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
        Grouping { sorted: true, seen: HashSet::with_hasher(super::keys::hasher()), tracking: false, seen_limit }
    }

    /// The contact `previous` is finished and a row of `next` arrived: `true` when the order
    /// alone proves `next` new (every key so far larger than the one before, and `next` too).
    /// Once `false`, always `false`.
    pub fn in_order(&mut self, previous: (&str, &str), next: (&str, &str)) -> bool {
        self.sorted = self.sorted && next > previous;
        self.sorted
    }

    /// Whether the set holds every finished contact. Until the order first breaks it holds none:
    /// each contact finished so far must then be given to [`Grouping::remember`], once
    /// [`Grouping::start_tracking`] was called.
    pub fn tracking(&self) -> bool {
        self.tracking
    }

    pub fn start_tracking(&mut self) {
        self.tracking = true;
    }

    /// Out of order, with the set tracking: the contact hashed `previous` is finished, and a row of
    /// the one hashed `next` arrived.
    pub fn next_unsorted(&mut self, previous: u64, next: u64) -> Verdict {
        if !self.remember(previous) || self.seen.contains(&next) {
            return Verdict::Fallback;
        }
        Verdict::New
    }

    /// Records a finished contact; `false` when the set would outgrow its share of the budget (a
    /// contact's return could then go unnoticed).
    pub fn remember(&mut self, hash: u64) -> bool {
        if self.seen.len() == self.seen.capacity() {
            // Growing allocates the doubled table while the old one still exists.
            let after = (self.seen.capacity().max(8) * 3) * SLOT_BYTES;
            if after > self.seen_limit {
                self.seen = HashSet::default();
                return false;
            }
        }
        self.seen.insert(hash);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_keys_need_no_set() {
        let mut grouping = Grouping::new(0);
        assert!(grouping.in_order(("i", "a"), ("i", "b")));
        assert!(grouping.in_order(("i", "b"), ("i", "c")));
        assert!(grouping.seen.is_empty() && !grouping.tracking());
        // Out of order: for good, and the finished contacts must be tracked from then on.
        assert!(!grouping.in_order(("i", "c"), ("i", "bb")));
        assert!(!grouping.in_order(("i", "bb"), ("i", "d")));
        assert!(!grouping.tracking());
    }

    #[test]
    fn unsorted_input_streams_until_a_contact_comes_back() {
        let mut grouping = Grouping::new(1 << 20);
        grouping.start_tracking();
        assert!(grouping.tracking());
        assert!(grouping.remember(1) && grouping.remember(2));
        assert_eq!(grouping.next_unsorted(3, 4), Verdict::New);
        assert_eq!(grouping.next_unsorted(4, 5), Verdict::New);
        assert_eq!(grouping.next_unsorted(5, 2), Verdict::Fallback, "2 was finished before tracking began");
        let mut grouping = Grouping::new(1 << 20);
        grouping.start_tracking();
        assert_eq!(grouping.next_unsorted(7, 7), Verdict::Fallback, "the contact just finished");
    }

    #[test]
    fn a_set_over_its_share_falls_back() {
        assert!(!Grouping::new(0).remember(1));
        let mut grouping = Grouping::new(0);
        grouping.start_tracking();
        assert_eq!(grouping.next_unsorted(1, 2), Verdict::Fallback);
        let mut grouping = Grouping::new(1 << 20);
        assert!(!(0..100_000).all(|hash| grouping.remember(hash)));
    }
}
