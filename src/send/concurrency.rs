//! How many requests `--concurrency auto` keeps in flight: enough to reach the rate at the latency
//! observed (Little's law), and never so many that they only wait in the server's queue.
//!
//! Little's law alone cannot see a queue: once the server is the bottleneck, every extra request
//! in flight adds its wait to the latency, and a longer latency asks for more in flight. So a
//! second bound, [`Limit`], watches the latency against the lowest one seen lately (the round trip
//! of a request that did not queue). While answers come back near that floor it lets the number
//! in flight grow; when the latency stands well above it, requests are queueing and it shrinks.
//! A far endpoint has a high floor, not a queue, so it is never held back.

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

/// The in-flight target's state: the latency seen and the queue bound it implies.
#[derive(Debug)]
pub struct Limit {
    /// Smoothed latency of recent answers (exponential, a tenth per answer); `None` before any.
    smoothed: Option<Duration>,
    floor: WindowedMin,
    limit: usize,
}

impl Default for Limit {
    fn default() -> Limit {
        Limit { smoothed: None, floor: WindowedMin::default(), limit: START_LIMIT }
    }
}

impl Limit {
    /// An answer came back after `latency`, with `in_flight` requests out (itself included).
    pub fn on_answer(&mut self, latency: Duration, in_flight: usize, now: Instant) {
        let smoothed = match self.smoothed {
            None => latency,
            Some(old) => (old * 9 + latency) / 10,
        };
        self.smoothed = Some(smoothed);
        let floor = self.floor.update(latency, now);
        if smoothed.as_secs_f64() > QUEUE_FACTOR * floor.as_secs_f64() + QUEUE_SLACK.as_secs_f64() {
            self.limit = self.limit.saturating_sub(1).max(FLOOR_LIMIT);
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

/// The lowest value over the current window and the one before it.
#[derive(Debug, Default)]
struct WindowedMin {
    started: Option<Instant>,
    current: Option<Duration>,
    previous: Option<Duration>,
}

impl WindowedMin {
    fn update(&mut self, sample: Duration, now: Instant) -> Duration {
        match self.started {
            Some(started) if now.saturating_duration_since(started) < FLOOR_WINDOW => {}
            _ => {
                self.started = Some(now);
                self.previous = self.current.take();
            }
        }
        let current = self.current.map_or(sample, |c| c.min(sample));
        self.current = Some(current);
        self.previous.map_or(current, |p| p.min(current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Feeds `n` answers of `latency`, `step` apart, each with as many in flight as the target
    /// allows; returns the time of the last.
    fn answers_every(
        limit: &mut Limit,
        rate: Option<f64>,
        latency: Duration,
        n: usize,
        start: Instant,
        step: Duration,
    ) -> Instant {
        let mut now = start;
        for _ in 0..n {
            now += step;
            let in_flight = limit.target(rate);
            limit.on_answer(latency, in_flight, now);
        }
        now
    }

    fn answers(limit: &mut Limit, rate: Option<f64>, latency: Duration, n: usize, start: Instant) -> Instant {
        answers_every(limit, rate, latency, n, start, MS)
    }

    #[test]
    fn a_far_endpoint_gets_what_littles_law_asks_for() {
        let mut limit = Limit::default();
        answers(&mut limit, Some(100.0), 300 * MS, 500, Instant::now());
        // 100/s at 300 ms: 30 in flight, with half again for headroom.
        assert_eq!(limit.target(Some(100.0)), 47);
        // The queue bound stays just above what is used.
        assert_eq!(limit.target(None), 49);
    }

    #[test]
    fn far_and_fast_grows_up_to_the_cap_and_no_further() {
        let mut limit = Limit::default();
        answers(&mut limit, Some(5_000.0), 80 * MS, 1_000, Instant::now());
        assert_eq!(limit.target(Some(5_000.0)), AUTO_CAP);
    }

    #[test]
    fn a_queueing_server_gets_fewer_requests_down_to_the_floor() {
        let mut limit = Limit::default();
        let start = Instant::now();
        // Unloaded, answers take 200 us; then a queue builds and they take 5 ms.
        let now = answers(&mut limit, None, Duration::from_micros(200), 50, start);
        let before = limit.target(None);
        answers(&mut limit, None, 5 * MS, 500, now);
        assert!(before > START_LIMIT, "{before}");
        assert_eq!(limit.target(None), FLOOR_LIMIT);
    }

    #[test]
    fn jitter_on_a_fast_route_is_not_a_queue() {
        let mut limit = Limit::default();
        let mut now = Instant::now();
        // 300 us to 1.1 ms: twice the floor plus the slack is 1.6 ms.
        for i in 0..2_000u64 {
            now += MS;
            let latency = Duration::from_micros(300 + (i * 7919) % 800);
            limit.on_answer(latency, limit.target(None), now);
        }
        assert_eq!(limit.target(None), AUTO_CAP);
    }

    #[test]
    fn without_answers_at_the_limit_the_bound_does_not_grow() {
        let mut limit = Limit::default();
        let mut now = Instant::now();
        for _ in 0..1_000 {
            now += MS;
            limit.on_answer(MS, 3, now);
        }
        assert_eq!(limit.target(None), START_LIMIT);
    }

    #[test]
    fn a_slower_route_is_learned_after_two_windows() {
        let mut limit = Limit::default();
        let start = Instant::now();
        answers(&mut limit, None, Duration::from_micros(200), 50, start);
        // From now on every answer takes 20 ms: at first that reads as a queue...
        let later = answers(&mut limit, None, 20 * MS, 100, start + MS * 100);
        assert_eq!(limit.target(None), FLOOR_LIMIT);
        // ...until the 200 us floor has aged out of both windows (answers every 100 ms for 25 s):
        // then it grows again.
        answers_every(&mut limit, None, 20 * MS, 250, later, 100 * MS);
        assert!(limit.target(None) > START_LIMIT, "{}", limit.target(None));
    }

    #[test]
    fn before_any_answer_the_target_assumes_a_short_latency() {
        let limit = Limit::default();
        // 50/s at the assumed 20 ms: 1.5 in flight, with headroom 2 + 2.
        assert_eq!(limit.target(Some(50.0)), 4);
        assert_eq!(limit.target(Some(0.1)), 3);
        assert_eq!(limit.target(None), START_LIMIT);
    }
}
