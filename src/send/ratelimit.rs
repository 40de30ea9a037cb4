//! The rate a run sends at: a fixed ceiling (`--rate`/`--burst`, a governor limiter that never
//! changes) and, under it, the AWS SDKs' adaptive client rate limiter: off until the first
//! throttle, then cut to `BETA` of the measured send rate and grown back along a cubic curve.
//!
//! The adaptive bucket hands out send times on a schedule (GCRA): each caller reserves its slot
//! and sleeps until then, so waiting callers never wake in a herd and the rate never drifts.
//! Callers wait on the ceiling one at a time, first come first served: governor's `until_ready`
//! gives every waiting caller a timer for the same next cell, so each cell woke them all and all
//! but one went back to sleep (at 5,000/s with some 700 waiting: 4 context switches a request).
//! The one waiting sleeps on tokio's timer, or on futures-timer's where the burst is too small to
//! absorb a millisecond of lateness (`needs_fine_timer`).

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The most we may send: `rate` requests per second with bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Ceiling {
    pub rate: f64,
    pub burst: u32,
}

const BETA: f64 = 0.7;
/// Throttled again within `NEAR` of the last throttled rate: cut by `BETA_NEAR`, level off at
/// `PLATEAU_NEAR` of the throttled rate, and grow away from it with the gentler `SCALE_NEAR`.
const NEAR: f64 = 0.8;
const BETA_NEAR: f64 = 0.9;
const PLATEAU_NEAR: f64 = 0.95;
const SCALE_NEAR: f64 = 0.04;
const SCALE: f64 = 0.4;
/// The send rate is the number of answers in this trailing window. (The SDKs smooth half-second
/// buckets starting from zero, which reads almost nothing in a run's first second: a throttle
/// there would cut the rate to the 0.5/s floor.)
const WINDOW: f64 = 1.0;
/// Shortest span a rate is computed over, so a burst of answers does not read as thousands/s.
const MIN_SPAN: f64 = 0.5;
const MIN_FILL_RATE: f64 = 0.5;
const MIN_CAPACITY: f64 = 1.0;

/// The SDKs' adaptive algorithm as a pure state machine over time in seconds.
#[derive(Debug, Clone)]
pub struct Adaptive {
    ceiling: Option<f64>,
    enabled: bool,
    fill_rate: f64,
    capacity: f64,
    /// GCRA theoretical arrival time of the next request.
    tat: f64,
    measured_rate: f64,
    /// Answer times in the trailing window, and the time of the very first answer.
    answers: std::collections::VecDeque<f64>,
    first_answer: Option<f64>,
    last_max_rate: f64,
    last_throttle: f64,
    k: f64,
    scale: f64,
}

impl Adaptive {
    pub fn new(ceiling: Option<f64>) -> Adaptive {
        Adaptive {
            ceiling,
            enabled: false,
            fill_rate: 0.0,
            capacity: 0.0,
            tat: 0.0,
            measured_rate: 0.0,
            answers: std::collections::VecDeque::new(),
            first_answer: None,
            last_max_rate: 0.0,
            last_throttle: 0.0,
            k: 0.0,
            scale: SCALE,
        }
    }

    /// The adaptive fill rate, once throttling has switched it on.
    pub fn rate(&self) -> Option<f64> {
        self.enabled.then_some(self.fill_rate)
    }

    /// Reserves the next send slot; returns how long to wait for it.
    pub fn reserve(&mut self, now: f64) -> f64 {
        if !self.enabled {
            return 0.0;
        }
        let interval = 1.0 / self.fill_rate;
        let tolerance = (self.capacity - 1.0).max(0.0) * interval;
        let base = self.tat.max(now);
        let send_at = (base - tolerance).max(now);
        self.tat = base + interval;
        send_at - now
    }

    /// Learns from one answer: `throttled` or not, to a request sent at `sent_at`.
    ///
    /// Unlike the SDKs, a throttle only cuts the rate if its request was sent after the last cut:
    /// the requests already in flight at the old rate are one congestion event, not many (as TCP
    /// reduces once per window). Otherwise a burst of in-flight throttles cuts the rate to the floor.
    pub fn on_answer(&mut self, now: f64, sent_at: f64, throttled: bool) {
        self.measure(now);
        if throttled && self.enabled && sent_at < self.last_throttle {
            return;
        }
        let calculated = if throttled {
            let rate = if self.enabled { self.measured_rate.min(self.fill_rate) } else { self.measured_rate };
            // Throttled again near the rate that was throttled before: the quota is about here, so
            // a small cut keeps the rate near it; far from it (or the first time), the SDKs' cut.
            // Then the curve levels off a little below that rate and leaves it slowly, so the
            // service's bucket refills while we hold there and probes are rare.
            let near = self.enabled && rate >= NEAR * self.last_max_rate;
            let (beta, plateau, scale) = if near { (BETA_NEAR, PLATEAU_NEAR, SCALE_NEAR) } else { (BETA, 1.0, SCALE) };
            self.last_max_rate = rate * plateau;
            self.scale = scale;
            self.k = ((self.last_max_rate - rate * beta).max(0.0) / scale).cbrt();
            self.last_throttle = now;
            self.enabled = true;
            rate * beta
        } else {
            if !self.enabled {
                return;
            }
            self.scale * (now - self.last_throttle - self.k).powi(3) + self.last_max_rate
        };
        let mut rate = calculated.min(2.0 * self.measured_rate);
        if let Some(ceiling) = self.ceiling {
            rate = rate.min(ceiling);
        }
        self.fill_rate = rate.max(MIN_FILL_RATE);
        self.capacity = rate.max(MIN_CAPACITY);
        if throttled {
            // The service's bucket is empty now; so is ours: no burst right after a cut.
            let interval = 1.0 / self.fill_rate;
            self.tat = self.tat.max(now + (self.capacity - 1.0).max(0.0) * interval);
        }
    }

    /// The send rate: answers over the trailing second (or since the first answer, if sooner).
    fn measure(&mut self, now: f64) {
        let first = *self.first_answer.get_or_insert(now);
        self.answers.push_back(now);
        while self.answers.front().is_some_and(|&t| t < now - WINDOW) {
            self.answers.pop_front();
        }
        let span = (now - first).clamp(MIN_SPAN, WINDOW);
        self.measured_rate = self.answers.len() as f64 / span;
    }
}

/// The ceiling and the adaptive rate together, shared by every request of a run.
pub struct RateControl {
    ceiling: Option<Ceiling>,
    limiter: Option<DefaultDirectRateLimiter>,
    /// The caller waiting on `limiter`; the others queue here, in arrival order.
    ceiling_turn: tokio::sync::Mutex<()>,
    /// Whether waits on `limiter` need a finer timer than tokio's (see [`needs_fine_timer`]).
    fine_timer: bool,
    /// Sleeps taken waiting on `limiter` (for tests: about one per request that had to wait).
    ceiling_sleeps: std::sync::atomic::AtomicU64,
    adaptive: Mutex<Adaptive>,
    start: Instant,
}

impl RateControl {
    /// `None`: no ceiling at all (the emulator without a quota, benchmarks).
    pub fn new(ceiling: Option<Ceiling>) -> RateControl {
        let limiter = ceiling.map(|c| RateLimiter::direct(quota(c)));
        RateControl {
            ceiling,
            limiter,
            ceiling_turn: tokio::sync::Mutex::new(()),
            fine_timer: ceiling.is_some_and(needs_fine_timer),
            ceiling_sleeps: std::sync::atomic::AtomicU64::new(0),
            adaptive: Mutex::new(Adaptive::new(ceiling.map(|c| c.rate))),
            start: Instant::now(),
        }
    }

    pub fn ceiling(&self) -> Option<Ceiling> {
        self.ceiling
    }

    /// The rate in force now: the adaptive rate once throttled, else the ceiling.
    pub fn current_rate(&self) -> Option<f64> {
        let adaptive = self.adaptive.lock().ok().and_then(|a| a.rate());
        adaptive.or(self.ceiling.map(|c| c.rate))
    }

    /// Waits until one more request may be sent.
    pub async fn acquire(&self) {
        let wait = match self.adaptive.lock() {
            Ok(mut adaptive) => adaptive.reserve(self.now()),
            Err(_) => 0.0,
        };
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
        if let Some(limiter) = &self.limiter {
            let _turn = self.ceiling_turn.lock().await;
            while let Err(not_until) = limiter.check() {
                self.ceiling_sleeps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // governor's clock is the real one: under tokio's paused time (tests) this loop
                // would spin, so a test with a ceiling must not pause time.
                let wait = not_until.wait_time_from(limiter.clock().now());
                if self.fine_timer {
                    futures_timer::Delay::new(wait).await;
                } else {
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Learns from one answer to a request sent at `sent_at`.
    pub fn on_answer(&self, sent_at: Instant, throttled: bool) {
        let now = self.now();
        let sent_at = sent_at.saturating_duration_since(self.start).as_secs_f64();
        if let Ok(mut adaptive) = self.adaptive.lock() {
            adaptive.on_answer(now, sent_at, throttled);
        }
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// Whether waits on the ceiling need futures-timer's thread (as governor's own `until_ready`
/// uses) rather than tokio's timer, which wakes on the next whole millisecond: a cell taken late
/// is lost unless the burst leaves room for the lateness (`--rate 1000 --burst 1` reached 476/s on
/// tokio's timer, 900/s on futures-timer). Where it does, tokio's timer is cheaper: no thread to
/// wake and be woken by for every request that waits.
fn needs_fine_timer(ceiling: Ceiling) -> bool {
    f64::from(ceiling.burst.saturating_sub(1)) / ceiling.rate.max(1e-3) < 0.002
}

/// A governor quota of exactly `rate`/s (fractions allowed) with an explicit burst.
fn quota(ceiling: Ceiling) -> Quota {
    let period = Duration::from_secs_f64(1.0 / ceiling.rate.max(1e-3));
    let burst = NonZeroU32::new(ceiling.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `Adaptive` a steady stream at `rate`/s for `seconds`, throttled when `throttle(t)`.
    fn drive(adaptive: &mut Adaptive, from: f64, seconds: f64, rate: f64, throttle: impl Fn(f64) -> bool) -> f64 {
        let mut t = from;
        while t < from + seconds {
            t += adaptive.reserve(t).max(1.0 / rate);
            adaptive.on_answer(t, t, throttle(t));
        }
        t
    }

    #[test]
    fn off_until_the_first_throttle() {
        let mut adaptive = Adaptive::new(Some(100.0));
        drive(&mut adaptive, 0.0, 5.0, 50.0, |_| false);
        assert_eq!(adaptive.rate(), None);
        assert_eq!(adaptive.reserve(10.0), 0.0);
    }

    #[test]
    fn a_throttle_cuts_to_beta_of_the_measured_rate() {
        let mut adaptive = Adaptive::new(None);
        let t = drive(&mut adaptive, 0.0, 5.0, 40.0, |_| false);
        adaptive.on_answer(t, t, true);
        let rate = adaptive.rate().unwrap();
        assert!((rate - 0.7 * 40.0).abs() < 3.0, "rate {rate}");
    }

    #[test]
    fn rate_climbs_back_along_the_cubic_and_never_exceeds_the_ceiling() {
        let mut adaptive = Adaptive::new(Some(45.0));
        let t = drive(&mut adaptive, 0.0, 5.0, 40.0, |_| false);
        adaptive.on_answer(t, t, true);
        let cut = adaptive.rate().unwrap();
        // Send as fast as the bucket allows, never throttled: the rate recovers but stays <= 45.
        let mut now = t;
        let mut highest: f64 = 0.0;
        for _ in 0..2_000 {
            now += adaptive.reserve(now).max(0.001);
            adaptive.on_answer(now, now, false);
            highest = highest.max(adaptive.rate().unwrap());
        }
        assert!(highest > cut * 1.2, "did not recover: cut {cut}, highest {highest}");
        assert!(highest <= 45.0, "above the ceiling: {highest}");
    }

    #[test]
    fn a_throttle_during_the_opening_burst_does_not_collapse_the_rate() {
        let mut adaptive = Adaptive::new(Some(20.0));
        for i in 0..30 {
            adaptive.on_answer(0.05 + f64::from(i) * 0.001, 0.05, false);
        }
        adaptive.on_answer(0.08, 0.07, true);
        // 31 answers over the 0.5 s minimum span: 62/s measured, 0.7 of it is above the ceiling.
        assert_eq!(adaptive.rate(), Some(20.0));
    }

    #[test]
    fn throttles_of_requests_sent_before_the_cut_do_not_cut_again() {
        let mut adaptive = Adaptive::new(None);
        let t = drive(&mut adaptive, 0.0, 3.0, 40.0, |_| false);
        adaptive.on_answer(t, t - 0.01, true);
        let cut = adaptive.rate().unwrap();
        // Nine more throttles of requests that were already in flight: one event.
        for i in 1..10 {
            adaptive.on_answer(t + 0.001 * f64::from(i), t - 0.005, true);
        }
        assert_eq!(adaptive.rate(), Some(cut));
        // A request sent after the cut and throttled too: a new event, a new cut.
        adaptive.on_answer(t + 0.5, t + 0.3, true);
        assert!(adaptive.rate().unwrap() < cut);
    }

    /// The service's quota as a token bucket, for the simulation below.
    struct Bucket {
        rate: f64,
        burst: f64,
        tokens: f64,
        at: f64,
    }

    impl Bucket {
        fn take(&mut self, now: f64) -> bool {
            self.tokens = (self.tokens + (now - self.at) * self.rate).min(self.burst);
            self.at = now;
            let ok = self.tokens >= 1.0;
            if ok {
                self.tokens -= 1.0;
            }
            ok
        }
    }

    /// A quota of 50/s burst 50 that we do not know, a ceiling of 200/s, 1 ms round trips, one
    /// request at a time: over 60 s the adaptive rate sends at >= 48.5/s with <= 1% throttled.
    #[test]
    fn simulated_unknown_quota_is_found_and_held_with_few_throttles() {
        let mut adaptive = Adaptive::new(Some(200.0));
        let mut quota = Bucket { rate: 50.0, burst: 50.0, tokens: 50.0, at: 0.0 };
        let (mut now, mut sent, mut accepted, mut throttled) = (0.0, 0u32, 0u32, 0u32);
        while now < 60.0 {
            now += adaptive.reserve(now).max(1.0 / 200.0);
            sent += 1;
            let ok = quota.take(now);
            if ok {
                accepted += 1
            } else {
                throttled += 1
            }
            adaptive.on_answer(now + 0.001, now, !ok);
        }
        let rate = f64::from(accepted) / now;
        let throttled_percent = 100.0 * f64::from(throttled) / f64::from(sent);
        assert!(rate >= 48.5, "accepted {rate:.2}/s");
        assert!(throttled_percent <= 1.0, "{throttled_percent:.2}% throttled");
    }

    #[test]
    fn fill_rate_never_drops_below_half_a_request_per_second() {
        let mut adaptive = Adaptive::new(None);
        drive(&mut adaptive, 0.0, 30.0, 10.0, |_| true);
        assert!(adaptive.rate().unwrap() >= 0.5);
        assert!(adaptive.rate().unwrap() < 1.0);
    }

    #[test]
    fn reservations_are_spaced_at_the_fill_rate() {
        let mut adaptive = Adaptive::new(None);
        let t = drive(&mut adaptive, 0.0, 3.0, 20.0, |_| false);
        adaptive.on_answer(t, t, true);
        let rate = adaptive.rate().unwrap();
        // Many callers at once right after the cut: no burst (the bucket is empty), one interval each.
        let waits: Vec<f64> = (0..40).map(|_| adaptive.reserve(t + 0.01)).collect();
        assert!(waits[0] < 1.0 / rate, "first wait {}", waits[0]);
        for pair in waits[1..].windows(2) {
            assert!((pair[1] - pair[0] - 1.0 / rate).abs() < 1e-9, "{pair:?} at {rate}/s");
        }
        // Later, after a quiet spell, the bucket has refilled: a burst of `capacity` goes at once.
        let later = t + 100.0;
        let burst = (0..40).take_while(|_| adaptive.reserve(later) == 0.0).count();
        assert_eq!(burst as f64, adaptive.capacity.floor());
    }

    #[test]
    fn the_governor_ceiling_allows_the_burst_then_the_rate() {
        use governor::clock::{Clock, FakeRelativeClock};
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(Ceiling { rate: 10.0, burst: 5 }), clock.clone());
        assert!((0..5).all(|_| limiter.check().is_ok()));
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_millis(100));
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
        // Fractional rates: 0.5/s is one every two seconds.
        let slow = RateLimiter::direct_with_clock(quota(Ceiling { rate: 0.5, burst: 1 }), clock.clone());
        assert!(slow.check().is_ok());
        clock.advance(Duration::from_millis(1_900));
        assert!(slow.check().is_err());
        clock.advance(Duration::from_millis(100));
        assert!(slow.check().is_ok());
        let _ = clock.now();
    }

    #[test]
    fn a_burst_that_cannot_absorb_a_late_millisecond_gets_the_fine_timer() {
        let fine = |rate, burst| needs_fine_timer(Ceiling { rate, burst });
        assert!(fine(1_000.0, 1));
        assert!(fine(2.0, 1));
        assert!(fine(1_000.0, 2));
        assert!(!fine(1_000.0, 3));
        assert!(!fine(50.0, 50));
        assert!(!fine(5_000.0, 7_500));
    }

    /// 200 callers waiting on a ceiling of 400/s at once: the rate holds, and each cell wakes one
    /// caller, not all of them (governor's `until_ready` slept some 100 times a request here).
    async fn callers_take_turns(ceiling: Ceiling) {
        let control = std::sync::Arc::new(RateControl::new(Some(ceiling)));
        let started = std::time::Instant::now();
        let callers: Vec<_> = (0..200)
            .map(|_| {
                let control = control.clone();
                tokio::spawn(async move {
                    for _ in 0..2 {
                        control.acquire().await;
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        // 400 cells at 400/s, the first at once: just under a second.
        assert!((0.95..2.0).contains(&elapsed), "{elapsed} s");
        let sleeps = control.ceiling_sleeps.load(std::sync::atomic::Ordering::Relaxed);
        assert!(sleeps <= 2 * 400, "{sleeps} sleeps for 400 requests");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_waiting_on_the_ceiling_take_turns_on_tokios_timer() {
        // A burst of 2 absorbs 2.5 ms of lateness: tokio's timer.
        assert!(!needs_fine_timer(Ceiling { rate: 400.0, burst: 2 }));
        callers_take_turns(Ceiling { rate: 400.0, burst: 2 }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_waiting_on_the_ceiling_take_turns_on_the_fine_timer() {
        assert!(needs_fine_timer(Ceiling { rate: 400.0, burst: 1 }));
        callers_take_turns(Ceiling { rate: 400.0, burst: 1 }).await;
    }
}
