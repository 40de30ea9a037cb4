//! How many requests `--concurrency auto` keeps in flight: enough to reach the rate at the latency
//! observed (Little's law), and never so many that they only wait in the server's queue.
//!
//! Little's law alone cannot see a queue: once the server is the bottleneck, every extra request
//! in flight adds its wait to the latency, and a longer latency asks for more in flight. So a
//! second bound, [`Limit`], watches the latency of successful answers against a floor: the lowest
//! tenth percentile of recent answers seen over the last 10 to 20 s (a percentile, so a few lucky
//! fast answers do not lower it). While answers come back near that floor it lets the number in
//! flight grow; when the smoothed latency stands well above it, requests are queueing and it cuts
//! the bound by a tenth, at most once per round trip. A far endpoint has a high floor, not a
//! queue, so it is never held back; nor is a jittery one, whose tenth percentile stays within
//! half of its mean.

use std::time::{Duration, Instant};

/// The most requests `auto` keeps in flight.
pub const AUTO_CAP: usize = 256;
/// The fewest `auto` falls back to when the server queues.
const FLOOR_LIMIT: usize = 4;
/// Where the queue bound starts (it grows by one per answer while there is no queue).
const START_LIMIT: usize = 32;
/// Latency assumed before the first answer. Low, so the first requests to an unknown quota are few.
const INITIAL_LATENCY: Duration = Duration::from_millis(20);
/// The lowest latency is remembered over two windows of this length, so a route that got slower
/// for good is learned within `2 * FLOOR_WINDOW`.
const FLOOR_WINDOW: Duration = Duration::from_secs(10);
/// Requests queue when the smoothed latency exceeds `QUEUE_FACTOR * floor + QUEUE_SLACK`. The
/// slack keeps a network's ordinary jitter from reading as a queue on a fast route.
const QUEUE_FACTOR: f64 = 2.0;
const QUEUE_SLACK: Duration = Duration::from_millis(1);
/// The floor's samples: the tenth percentile of the last `RECENT` answers, taken every `EVERY`.
const RECENT: usize = 128;
const EVERY: usize = 32;
/// A cut keeps this share of the bound.
const CUT: f64 = 0.9;

/// The in-flight target's state: the latency seen and the queue bound it implies.
#[derive(Debug)]
pub struct Limit {
    /// Smoothed latency of recent answers (exponential, a tenth per answer); `None` before any.
    smoothed: Option<Duration>,
    /// The last `RECENT` latencies (a ring), and how many answers there have been.
    recent: Vec<Duration>,
    answers: usize,
    floor: WindowedMin,
    /// The floor as last worked out; `None` until `EVERY` answers came back.
    current_floor: Option<Duration>,
    last_cut: Option<Instant>,
    limit: usize,
}

impl Default for Limit {
    fn default() -> Limit {
        Limit {
            smoothed: None,
            recent: Vec::with_capacity(RECENT),
            answers: 0,
            floor: WindowedMin::default(),
            current_floor: None,
            last_cut: None,
            limit: START_LIMIT,
        }
    }
}

impl Limit {
    /// A successful answer came back after `latency`, with `in_flight` requests out (itself
    /// included). Failures and throttles are not fed in: a fast refusal or a timeout says nothing
    /// about how long the server takes to do the work.
    pub fn on_answer(&mut self, latency: Duration, in_flight: usize, now: Instant) {
        let smoothed = match self.smoothed {
            None => latency,
            Some(old) => (old * 9 + latency) / 10,
        };
        self.smoothed = Some(smoothed);
        if self.recent.len() < RECENT {
            self.recent.push(latency);
        } else {
            self.recent[self.answers % RECENT] = latency;
        }
        self.answers += 1;
        if self.answers.is_multiple_of(EVERY) {
            let mut sorted = self.recent.clone();
            let tenth = sorted.len() / 10;
            let (_, low, _) = sorted.select_nth_unstable(tenth);
            self.current_floor = Some(self.floor.update(*low, now));
        }
        let Some(floor) = self.current_floor else { return };
        if smoothed.as_secs_f64() > QUEUE_FACTOR * floor.as_secs_f64() + QUEUE_SLACK.as_secs_f64() {
            if self.last_cut.is_none_or(|cut| now.saturating_duration_since(cut) >= smoothed) {
                self.limit = ((self.limit as f64 * CUT) as usize).max(FLOOR_LIMIT);
                self.last_cut = Some(now);
            }
        } else if in_flight + 1 >= self.limit {
            self.limit = (self.limit + 1).min(AUTO_CAP);
        }
    }

    /// Smoothed latency of recent answers (an assumed one before the first).
    pub fn latency(&self) -> Duration {
        self.smoothed.unwrap_or(INITIAL_LATENCY)
    }

    /// The in-flight target for requests paced at `rate` per second (`None`: no ceiling at all).
    pub fn target(&self, rate: Option<f64>) -> usize {
        let needed = match rate {
            None => AUTO_CAP,
            Some(rate) => (rate * self.latency().as_secs_f64() * 1.5).ceil() as usize + 2,
        };
        needed.min(self.limit).clamp(2, AUTO_CAP)
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
