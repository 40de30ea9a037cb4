//! How many requests `--concurrency auto` keeps in flight: enough to reach the rate at the latency
//! observed (Little's law), and never so many that they only wait in the server's queue.
//!
//! Little's law alone cannot see a queue: once the server is the bottleneck, every extra request
//! in flight adds its wait to the latency, and a longer latency asks for more in flight. So a
//! second bound, [`Limit`], compares the smoothed latency of successful answers with a floor: the
//! route's latency when none of our own requests wait at the server. Above one and a half times the
//! floor, requests are queueing and the bound is cut by a tenth, at most once per round trip. Below,
//! each answer that finds the bound reached grows it: by one per answer while the latency is within
//! a quarter of the floor (nothing queues: find the server's knee quickly), by one per round trip
//! above that (near the knee: creep up to it, so that the cut, which comes a round trip late, has
//! little to undo).
//!
//! The floor is measured as BBR measures its ProbeRTT: only answers to requests that went out with
//! at most `PROBE_LEVEL` (4) requests on the wire, themselves included, count. A request sent while
//! 32 others waited at the server has their wait in its latency, and a floor taken from every answer
//! (the tenth percentile of the last 128, until this design) let the bound settle at three times
//! the server's knee and more. A floor sample is due at the start and `PROBE_INTERVAL` (10 s) after
//! the last: the mean latency of at least four such answers, the first of them sent at least
//! `PROBE_TIME` (100 ms) before the last came back. While one is due and the bound is what limits
//! the target (no rate ceiling, or one that Little's law cannot reach under the bound), the target
//! is held at `PROBE_LEVEL` until the sample is in: a round trip to drain, then a round trip or
//! 100 ms, whichever is longer. When Little's law limits the target (a far endpoint: 100/s at
//! 300 ms needs 47), nothing is held back; its first requests, sent a few at a time while the
//! latency was still a guess, are its sample.
//!
//! The floor is the lowest sample of the last 10 to 20 s, so a route that got slower for good is
//! learned within two windows. A sample is a mean, not a low percentile, so the route's own jitter
//! is in the floor and the test for a queue needs no slack on top (it was twice the floor plus
//! 1 ms: six times the floor of a server that answers in 250 us). The 100 ms are for jitter too: a
//! mean of a few answers can be far below the route's, and the windowed minimum keeps the lowest.
//! In the tests' simulation, a server that serves 16 requests at a time for 1 ms each gets about 23
//! in flight (the old bound: 74), and a route of 5 ms plus an exponential 20 ms with no queue keeps
//! close to the cap (the old bound: 4). Against the bundled emulator (20,000 contacts, no quota, three
//! runs each), the old bound kept 97 to 116 requests on the wire on average, this one 7 to 9.

use std::time::{Duration, Instant};

/// The most requests `auto` keeps in flight, where the limit on open files allows: 1,000/s at
/// 650 ms, or 5,000/s at 130 ms, with Little's law's headroom.
pub const AUTO_CAP: usize = 1024;
/// The fewest `auto` falls back to when the server queues.
const FLOOR_LIMIT: usize = 4;
/// Where the queue bound starts.
const START_LIMIT: usize = 32;
/// Latency assumed before the first answer. Low, so the first requests to an unknown quota are few.
const INITIAL_LATENCY: Duration = Duration::from_millis(20);
/// The floor is the lowest sample over two windows of this length, so a route that got slower
/// for good is learned within `2 * FLOOR_WINDOW`.
const FLOOR_WINDOW: Duration = Duration::from_secs(10);
/// Requests queue when the smoothed latency exceeds `QUEUE_FACTOR * floor`.
const QUEUE_FACTOR: f64 = 1.5;
/// Below `FAST_GROWTH * floor` nothing queues and the bound grows by one per answer; above, by one
/// per round trip.
const FAST_GROWTH: f64 = 1.25;
/// A cut keeps this share of the bound.
const CUT: f64 = 0.9;
/// Requests sent with at most this many on the wire (themselves included) measure the floor.
const PROBE_LEVEL: usize = FLOOR_LIMIT;
/// A floor sample is the mean of at least `PROBE_ANSWERS` answers, the first sent at least
/// `PROBE_TIME` before the last came back.
const PROBE_ANSWERS: u32 = 4;
const PROBE_TIME: Duration = Duration::from_millis(100);
/// How long the cap must hold the rate back before a run says so.
const CAP_NOTICE: Duration = Duration::from_secs(10);
/// How often a floor sample is due.
const PROBE_INTERVAL: Duration = Duration::from_secs(10);

/// The in-flight target's state: the latency seen and the queue bound it implies.
#[derive(Debug)]
pub struct Limit {
    /// Smoothed latency of recent answers (exponential, a tenth per answer); `None` before any.
    smoothed: Option<Duration>,
    /// The answers gathered so far for the next floor sample.
    probe: Probe,
    floor: WindowedMin,
    /// The floor as last worked out; `None` until the first sample.
    current_floor: Option<Duration>,
    last_sample: Option<Instant>,
    /// A floor sample is due: none yet, or the last is `PROBE_INTERVAL` old. Kept, not worked out
    /// in `target`, which has no clock.
    sample_due: bool,
    last_cut: Option<Instant>,
    last_growth: Option<Instant>,
    limit: usize,
    /// The most in flight, whatever Little's law asks for.
    cap: usize,
    /// Since when the cap has held the rate back, without a break.
    held_since: Option<Instant>,
    /// Whether the cap was reported (`cap_notice`).
    cap_noticed: bool,
}

/// The cap for a process that may have `open_files` files open at once: the connections they
/// allow (Linux's usual 1,024 allows 512), within `FLOOR_LIMIT..=AUTO_CAP`.
pub fn cap_for(open_files: u64) -> usize {
    crate::descriptors::connections_allowed(open_files).clamp(FLOOR_LIMIT, AUTO_CAP)
}

impl Default for Limit {
    fn default() -> Limit {
        Limit::with_cap(AUTO_CAP)
    }
}

impl Limit {
    /// A target that never goes above `cap` (at least `FLOOR_LIMIT`).
    pub fn with_cap(cap: usize) -> Limit {
        let cap = cap.max(FLOOR_LIMIT);
        Limit {
            smoothed: None,
            probe: Probe::default(),
            floor: WindowedMin::default(),
            current_floor: None,
            last_sample: None,
            sample_due: true,
            last_cut: None,
            last_growth: None,
            limit: START_LIMIT.min(cap),
            cap,
            held_since: None,
            cap_noticed: false,
        }
    }

    /// A successful answer came back after `latency`, to a request that went out with `on_the_wire`
    /// requests sent and not yet answered (itself included); `in_flight` requests are out now
    /// (itself included, and those waiting to be paced). Failures and throttles are not fed in: a
    /// fast refusal or a timeout says nothing about how long the server takes to do the work.
    pub fn on_answer(&mut self, latency: Duration, on_the_wire: usize, in_flight: usize, now: Instant) {
        let smoothed = match self.smoothed {
            None => latency,
            Some(old) => (old * 9 + latency) / 10,
        };
        self.smoothed = Some(smoothed);
        if self.sample_due
            && on_the_wire <= PROBE_LEVEL
            && let Some(sample) = self.probe.add(latency, now)
        {
            self.current_floor = Some(self.floor.update(sample, now));
            self.last_sample = Some(now);
        }
        self.sample_due = self.last_sample.is_none_or(|at| now.saturating_duration_since(at) >= PROBE_INTERVAL);
        let Some(floor) = self.current_floor else { return };
        if smoothed > floor.mul_f64(QUEUE_FACTOR) {
            if self.last_cut.is_none_or(|cut| now.saturating_duration_since(cut) >= smoothed) {
                self.limit = ((self.limit as f64 * CUT) as usize).max(FLOOR_LIMIT);
                self.last_cut = Some(now);
            }
        } else if in_flight + 1 >= self.limit
            && (smoothed <= floor.mul_f64(FAST_GROWTH)
                || self.last_growth.is_none_or(|grown| now.saturating_duration_since(grown) >= smoothed))
        {
            self.limit = (self.limit + 1).min(self.cap);
            self.last_growth = Some(now);
        }
    }

    /// Smoothed latency of recent answers (an assumed one before the first).
    pub fn latency(&self) -> Duration {
        self.smoothed.unwrap_or(INITIAL_LATENCY)
    }

    /// The in-flight target for requests paced at `rate` per second (`None`: no ceiling at all).
    pub fn target(&self, rate: Option<f64>) -> usize {
        let settled = self.settled_target(rate);
        // The bound is what limits: hold back while the floor is measured.
        if self.sample_due && self.needed(rate) > self.limit { settled.min(PROBE_LEVEL) } else { settled }
    }

    /// The target when no floor sample is being taken.
    fn settled_target(&self, rate: Option<f64>) -> usize {
        self.needed(rate).min(self.limit).max(2)
    }

    /// What Little's law asks for, with half again for headroom, up to the cap.
    fn needed(&self, rate: Option<f64>) -> usize {
        match rate {
            None => self.cap,
            Some(rate) => self.littles_law(rate).min(self.cap),
        }
    }

    fn littles_law(&self, rate: f64) -> usize {
        let wanted = (rate * self.latency().as_secs_f64() * 1.5).ceil();
        // (A float cast saturates: an absurd rate asks for `usize::MAX`.)
        (wanted as usize).saturating_add(2)
    }

    /// When the cap is what holds the rate back: the target is the cap (not the queue bound, nor
    /// a floor sample's hold), and the cap's requests at the latency measured carry less than
    /// `rate` (`None` before the first answer or with no ceiling).
    fn held_by_cap(&self, rate: Option<f64>) -> Option<CapHeld> {
        let (rate, latency) = (rate?, self.smoothed?);
        if self.target(Some(rate)) < self.cap {
            return None;
        }
        let carries = self.cap as f64 / latency.as_secs_f64().max(1e-9);
        (carries < rate).then_some(CapHeld { cap: self.cap, latency, carries, rate })
    }

    /// Once in a run: the cap has held the rate back for `CAP_NOTICE` without a break (a slow
    /// first answer alone is not enough).
    pub fn cap_notice(&mut self, rate: Option<f64>, now: Instant) -> Option<CapHeld> {
        if self.cap_noticed {
            return None;
        }
        let Some(held) = self.held_by_cap(rate) else {
            self.held_since = None;
            return None;
        };
        let since = *self.held_since.get_or_insert(now);
        if now.saturating_duration_since(since) < CAP_NOTICE {
            return None;
        }
        self.cap_noticed = true;
        Some(held)
    }
}

/// The cap holding the rate back: what a run says about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapHeld {
    pub cap: usize,
    /// The smoothed latency of the answers.
    pub latency: Duration,
    /// Requests per second the cap's requests carry at that latency.
    pub carries: f64,
    /// The rate the ceiling allows now.
    pub rate: f64,
}

/// The answers gathered for one floor sample.
#[derive(Debug, Default)]
struct Probe {
    answers: u32,
    total: Duration,
    /// When the earliest of their requests went out.
    first_sent: Option<Instant>,
}

impl Probe {
    /// Adds one answer; once there are enough over a long enough time, returns their mean latency
    /// and starts afresh.
    fn add(&mut self, latency: Duration, now: Instant) -> Option<Duration> {
        let sent = now.checked_sub(latency).unwrap_or(now);
        // Answers gathered long before this one belong to an earlier probe.
        if self.first_sent.is_some_and(|first| sent.saturating_duration_since(first) > PROBE_INTERVAL) {
            *self = Probe::default();
        }
        let first = self.first_sent.map_or(sent, |first| first.min(sent));
        self.first_sent = Some(first);
        self.answers += 1;
        self.total += latency;
        if self.answers < PROBE_ANSWERS || now.saturating_duration_since(first) < PROBE_TIME {
            return None;
        }
        let mean = self.total / self.answers;
        *self = Probe::default();
        Some(mean)
    }
}

/// The lowest value over the current window and the one before it. Windows follow each other
/// back to back from the first sample, so nothing older than two windows counts, however long
/// the gap before the next sample (no success for a while: everything in backoff).
#[derive(Debug, Default)]
struct WindowedMin {
    /// When the current window began.
    started: Option<Instant>,
    current: Option<Duration>,
    previous: Option<Duration>,
}

impl WindowedMin {
    fn update(&mut self, sample: Duration, now: Instant) -> Duration {
        match self.started {
            Some(started) if now.saturating_duration_since(started) < FLOOR_WINDOW => {}
            // The next window: the current one becomes the previous.
            Some(started) if now.saturating_duration_since(started) < 2 * FLOOR_WINDOW => {
                self.started = Some(started + FLOOR_WINDOW);
                self.previous = self.current.take();
            }
            // The first sample, or both windows are over: start afresh.
            _ => {
                self.started = Some(now);
                self.previous = None;
                self.current = None;
            }
        }
        let current = self.current.map_or(sample, |c| c.min(sample));
        self.current = Some(current);
        self.previous.map_or(current, |p| p.min(current))
    }
}

#[cfg(test)]
#[path = "concurrency_tests.rs"]
mod tests;
