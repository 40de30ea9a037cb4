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
        let now = answers(&mut limit, None, Duration::from_micros(200), 64, start);
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

    /// Latencies that only look like a queue to a plain minimum: a long tail, and a few answers
    /// far faster than the rest. At 500/s both need far more than four in flight.
    #[test]
    fn a_jittery_or_long_tailed_route_is_not_a_queue() {
        let mut seed = 12345u64;
        let mut uniform = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut long_tailed = Limit::default();
        let mut few_fast = Limit::default();
        let mut wide = Limit::default();
        let mut now = Instant::now();
        for i in 0..5_000 {
            now += MS;
            // 10 ms plus a log-normal part (median 20 ms), as API latencies often look.
            let normal = (-2.0 * uniform().max(1e-12).ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
            let tail = Duration::from_secs_f64(0.010 + 0.020 * (0.5 * normal).exp());
            long_tailed.on_answer(tail, long_tailed.target(Some(500.0)), now);
            // 2% of answers at 4 ms, the rest 30 to 40 ms.
            let fast = if i % 50 == 0 { 4 * MS } else { Duration::from_secs_f64(0.030 + 0.010 * uniform()) };
            few_fast.on_answer(fast, few_fast.target(Some(500.0)), now);
            // 50 ms plus up to 150 ms.
            let spread = Duration::from_secs_f64(0.050 + 0.150 * uniform());
            wide.on_answer(spread, wide.target(Some(100.0)), now);
        }
        // Little's law with headroom: 500/s x ~33 ms x 1.5, 500/s x ~35 ms x 1.5, 100/s x 125 ms x 1.5.
        assert!(long_tailed.target(Some(500.0)) > 20, "{:?}", long_tailed);
        assert!(few_fast.target(Some(500.0)) > 20, "{:?}", few_fast);
        assert!(wide.target(Some(100.0)) > 15, "{:?}", wide);
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
        answers(&mut limit, None, Duration::from_micros(200), 64, start);
        // From now on every answer takes 20 ms: at first that reads as a queue (cut once per
        // round trip: answers 5 ms apart, 1.5 s of them)...
        let later = answers_every(&mut limit, None, 20 * MS, 300, start + MS * 100, 5 * MS);
        assert_eq!(limit.target(None), FLOOR_LIMIT);
        // ...until the 200 us floor has aged out of both windows (answers every 100 ms for 40 s):
        // then it grows again.
        answers_every(&mut limit, None, 20 * MS, 400, later, 100 * MS);
        assert!(limit.target(None) > START_LIMIT, "{}", limit.target(None));
    }

    /// Nothing older than two windows (20 s) counts, even when no sample came for longer than
    /// that (everything in backoff): the old floor does not survive one more window.
    #[test]
    fn the_floor_forgets_samples_older_than_two_windows_after_a_silence() {
        let mut floor = WindowedMin::default();
        let start = Instant::now();
        assert_eq!(floor.update(Duration::from_micros(200), start), Duration::from_micros(200));
        assert_eq!(floor.update(20 * MS, start + Duration::from_secs(25)), 20 * MS);
    }

    /// Windows follow each other back to back: a sample counts for 10 to 20 s, whenever the
    /// samples after it came.
    #[test]
    fn a_sample_counts_for_two_windows_at_most() {
        let mut floor = WindowedMin::default();
        let start = Instant::now();
        floor.update(Duration::from_micros(200), start);
        assert_eq!(floor.update(20 * MS, start + Duration::from_secs(15)), Duration::from_micros(200));
        assert_eq!(floor.update(20 * MS, start + Duration::from_secs(21)), 20 * MS);
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
