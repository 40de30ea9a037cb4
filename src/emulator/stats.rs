//! What the emulator has answered: counts by status and error type, throttles, signature
//! failures, drops, and the largest number of accepted updates in any 1-second window.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The statistics, as `GET /_emulator/stats` and `Handle::stats()` return them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every request except introspection.
    pub requests: u64,
    /// UpdateContactAttributes calls answered 200.
    pub accepted: u64,
    /// Answers by HTTP status ("200", "429", ...); dropped connections have none.
    pub by_status: BTreeMap<String, u64>,
    /// Error answers by `x-amzn-ErrorType`.
    pub by_error_type: BTreeMap<String, u64>,
    pub throttled: u64,
    pub signature_failures: u64,
    /// Connections closed without an answer.
    pub dropped: u64,
    /// The largest number of accepted updates in any 1-second sliding window.
    pub max_accepted_in_1s: u64,
    /// Stored contacts.
    pub contacts: u64,
}

/// How one request ended, as the recorder counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// Any other answer (including 200s of other operations).
    Answered {
        status: u16,
        error_type: Option<&'static str>,
    },
    Dropped,
}

#[derive(Default)]
struct Counts {
    requests: u64,
    accepted: u64,
    by_status: BTreeMap<u16, u64>,
    by_error_type: BTreeMap<&'static str, u64>,
    dropped: u64,
    max_accepted_in_1s: u64,
    /// Times of accepted updates within the last second.
    window: VecDeque<Instant>,
}

#[derive(Default)]
pub struct Recorder {
    counts: Mutex<Counts>,
}

const WINDOW: Duration = Duration::from_secs(1);

impl Recorder {
    pub fn record(&self, outcome: Outcome, at: Instant) {
        let mut counts = self.lock();
        counts.requests += 1;
        match outcome {
            Outcome::Accepted => counts.accept(at),
            Outcome::Answered { status, error_type } => {
                *counts.by_status.entry(status).or_default() += 1;
                if let Some(error_type) = error_type {
                    *counts.by_error_type.entry(error_type).or_default() += 1;
                }
            }
            Outcome::Dropped => counts.dropped += 1,
        }
    }

    pub fn snapshot(&self, contacts: usize) -> Stats {
        let counts = self.lock();
        let by_error_type: BTreeMap<String, u64> =
            counts.by_error_type.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        let of = |name: &str| by_error_type.get(name).copied().unwrap_or(0);
        Stats {
            requests: counts.requests,
            accepted: counts.accepted,
            by_status: counts.by_status.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            throttled: of(crate::wire::error_type::THROTTLING),
            signature_failures: counts.by_status.get(&403).copied().unwrap_or(0),
            by_error_type,
            dropped: counts.dropped,
            max_accepted_in_1s: counts.max_accepted_in_1s,
            contacts: contacts as u64,
        }
    }

    pub fn reset(&self) {
        *self.lock() = Counts::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Counters stay meaningful after a panic elsewhere; keep counting.
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Counts {
    fn accept(&mut self, at: Instant) {
        self.accepted += 1;
        *self.by_status.entry(200).or_default() += 1;
        // Requests finish out of order across connections; keep the deque sorted.
        let position = self.window.partition_point(|&t| t <= at);
        self.window.insert(position, at);
        let newest = self.window.back().copied().unwrap_or(at);
        // The window is (newest - 1s, newest]: the busiest window always ends at an accepted update.
        while self.window.front().is_some_and(|&t| t + WINDOW <= newest) {
            self.window.pop_front();
        }
        self.max_accepted_in_1s = self.max_accepted_in_1s.max(self.window.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_exactly() {
        let recorder = Recorder::default();
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // 3 at 0..200ms, 2 at 900ms, then 3 at 1150..1190ms: the busiest window is (190ms, 1190ms]
        // holding 200, 900, 900, 1150, 1170, 1190 = 6 (no whole second, nor fixed buckets, sees it).
        for at in [0, 100, 200, 900, 900, 1150, 1170, 1190] {
            recorder.record(Outcome::Accepted, ms(at));
        }
        assert_eq!(recorder.snapshot(0).max_accepted_in_1s, 6);
        recorder.reset();
        for at in [0, 1000, 2000, 3000] {
            recorder.record(Outcome::Accepted, ms(at));
        }
        let stats = recorder.snapshot(4);
        assert_eq!(stats.max_accepted_in_1s, 1);
        assert_eq!(stats.accepted, 4);
        assert_eq!(stats.contacts, 4);
    }

    #[test]
    fn errors_are_counted_by_status_and_type() {
        let recorder = Recorder::default();
        let now = Instant::now();
        let throttled = Outcome::Answered { status: 429, error_type: Some("ThrottlingException") };
        let refused = Outcome::Answered { status: 403, error_type: Some("InvalidSignatureException") };
        for outcome in [throttled, throttled, refused, Outcome::Dropped, Outcome::Accepted] {
            recorder.record(outcome, now);
        }
        let stats = recorder.snapshot(1);
        assert_eq!(stats.requests, 5);
        assert_eq!(stats.throttled, 2);
        assert_eq!(stats.signature_failures, 1);
        assert_eq!(stats.dropped, 1);
        assert_eq!(stats.by_status["429"], 2);
        assert_eq!(stats.by_status["200"], 1);
        assert_eq!(stats.by_error_type["ThrottlingException"], 2);
    }
}
