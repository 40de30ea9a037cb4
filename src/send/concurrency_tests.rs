//! Unit tests of `auto`'s in-flight target: one per behaviour, fed by hand, and a simulated server
//! for how the bound settles.

use super::*;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

const MS: Duration = Duration::from_millis(1);

/// Feeds `n` answers of `latency`, `step` apart, each with as many in flight (and on the wire
/// when it was sent) as the target allows; returns the time of the last.
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
        limit.on_answer(latency, in_flight, in_flight, now);
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
    // 5,000/s at 200 ms asks for 1,502.
    answers(&mut limit, Some(5_000.0), 200 * MS, 2_000, Instant::now());
    assert_eq!(limit.target(Some(5_000.0)), AUTO_CAP);
    // 1,000/s at 300 ms (452) is under the cap: the old cap of 256 held it to about 850/s.
    let mut limit = Limit::default();
    answers(&mut limit, Some(1_000.0), 300 * MS, 1_000, Instant::now());
    assert_eq!(limit.target(Some(1_000.0)), 452);
}

#[test]
fn the_cap_is_half_the_limit_on_open_files() {
    assert_eq!(cap_for(1_024), 512);
    assert_eq!(cap_for(256), 128);
    assert_eq!(cap_for(1 << 20), AUTO_CAP);
    assert_eq!(cap_for(3), FLOOR_LIMIT);
    let mut limit = Limit::with_cap(cap_for(256));
    answers(&mut limit, Some(1_000.0), 300 * MS, 1_000, Instant::now());
    assert_eq!(limit.target(Some(1_000.0)), 128);
    assert_eq!(limit.target(None), 128);
}

/// Feeds one answer of `latency` a millisecond for `n` ms, as many in flight as the target allows
/// at `rate(i)`, and returns when (ms from the start) and what `cap_notice` reported.
fn notices(limit: &mut Limit, latency: Duration, n: u32, rate: impl Fn(u32) -> Option<f64>) -> Vec<(u32, CapHeld)> {
    let start = Instant::now();
    let mut found = Vec::new();
    for i in 0..n {
        let now = start + MS * (i + 1);
        let in_flight = limit.target(rate(i));
        limit.on_answer(latency, in_flight, in_flight, now);
        if let Some(held) = limit.cap_notice(rate(i), now) {
            found.push((i + 1, held));
        }
    }
    found
}

#[test]
fn a_cap_that_holds_the_rate_back_is_reported_once_after_ten_seconds() {
    let mut limit = Limit::with_cap(128);
    assert_eq!(limit.cap_notice(Some(1_000.0), Instant::now()), None, "no answer yet: the latency is a guess");
    // 1,000/s at 300 ms: 128 in flight carry 427/s. The floor sample comes first (the target is
    // held at 4 for it), then the bound grows to the cap, and ten seconds later the notice.
    let found = notices(&mut limit, 300 * MS, 30_000, |_| Some(1_000.0));
    assert_eq!(found.len(), 1, "{found:?}");
    let (at, held) = found[0];
    assert_eq!((held.cap, held.latency, held.carries.round(), held.rate), (128, 300 * MS, 427.0, 1_000.0));
    // The bound reaches the cap within the first half second.
    assert!((10_000..10_500).contains(&at), "{at}");
}

#[test]
fn a_cap_that_lets_go_or_carries_the_rate_is_not_reported() {
    // Every nine seconds the rate falls for 10 ms (throttling) to what the cap carries.
    let found =
        notices(&mut Limit::with_cap(128), 300 * MS, 30_000, |i| Some(if i % 9_000 < 8_990 { 1_000.0 } else { 400.0 }));
    assert_eq!(found, []);
    // 128 in flight at 300 ms carry 427/s: 400/s is held back by nothing, though Little's law
    // with its headroom asks for 182.
    assert_eq!(notices(&mut Limit::with_cap(128), 300 * MS, 30_000, |_| Some(400.0)), []);
    // With no ceiling the queue bound, not the cap, decides.
    assert_eq!(notices(&mut Limit::with_cap(128), 300 * MS, 30_000, |_| None), []);
}

/// A server that queues (16 at a time, 1 ms each) under a ceiling far above what it serves:
/// Little's law asks for more than the cap, but the queue bound holds the target far below it,
/// and more open files would not help. The far route beside it shows the simulation reports.
#[test]
fn a_queue_bound_below_the_cap_is_not_reported() {
    let queueing = Server { slots: 16, service: |_| MS, network: Duration::ZERO };
    let run =
        simulate(&mut Limit::with_cap(128), &queueing, Some(1_000_000.0), (2 * SECOND, 20 * SECOND), Limit::target);
    assert_eq!(run.cap_notices, 0, "{run:?}");
    assert!(run.mean_in_flight < 64.0, "{run:?}");
    let far = Server { slots: usize::MAX, service: |_| MS, network: 300 * MS };
    let run = simulate(&mut Limit::with_cap(128), &far, Some(1_000.0), (2 * SECOND, 20 * SECOND), Limit::target);
    assert_eq!(run.cap_notices, 1, "{run:?}");
}

#[test]
fn a_queueing_server_gets_fewer_requests_down_to_the_floor() {
    let mut limit = Limit::default();
    let start = Instant::now();
    // Unloaded, answers take 200 us (the first 100 ms of them, 4 in flight, are the floor); then
    // a queue builds and they take 5 ms.
    let now = answers(&mut limit, None, Duration::from_micros(200), 150, start);
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
        let in_flight = limit.target(None);
        limit.on_answer(latency, in_flight, in_flight, now);
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
        let in_flight = long_tailed.target(Some(500.0));
        long_tailed.on_answer(tail, in_flight, in_flight, now);
        // 2% of answers at 4 ms, the rest 30 to 40 ms.
        let fast = if i % 50 == 0 { 4 * MS } else { Duration::from_secs_f64(0.030 + 0.010 * uniform()) };
        let in_flight = few_fast.target(Some(500.0));
        few_fast.on_answer(fast, in_flight, in_flight, now);
        // 50 ms plus up to 150 ms.
        let spread = Duration::from_secs_f64(0.050 + 0.150 * uniform());
        let in_flight = wide.target(Some(100.0));
        wide.on_answer(spread, in_flight, in_flight, now);
    }
    // Little's law with headroom: 500/s x ~33 ms x 1.5, 500/s x ~35 ms x 1.5, 100/s x 125 ms x 1.5.
    assert!(long_tailed.target(Some(500.0)) > 20, "{:?}", long_tailed);
    assert!(few_fast.target(Some(500.0)) > 20, "{:?}", few_fast);
    assert!(wide.target(Some(100.0)) > 15, "{:?}", wide);
}

/// Over a floor of 10 ms: within a quarter of it nothing queues and the bound grows by one per
/// answer; up to half again (near the knee) by one per round trip; beyond that it is cut.
#[test]
fn the_bound_grows_fast_then_slowly_then_is_cut_as_the_latency_rises() {
    let mut limit = Limit::default();
    // No rate ceiling: the first 100 ms of answers, with 4 on the wire, measure the floor.
    let mut now = Instant::now();
    for _ in 0..100 {
        now += MS;
        limit.on_answer(10 * MS, PROBE_LEVEL, PROBE_LEVEL, now);
    }
    assert_eq!(limit.current_floor, Some(10 * MS));
    let now = answers(&mut limit, None, 12 * MS, 10, now);
    assert_eq!(limit.target(None), START_LIMIT + 10);
    // 100 answers over 100 ms at 14 ms: about one per round trip (the first few, while the smoothed
    // latency is still within a quarter of the floor, one each).
    let now = answers(&mut limit, None, 14 * MS, 100, now);
    let grown = limit.target(None) - (START_LIMIT + 10);
    assert!((7..=15).contains(&grown), "{grown}");
    let before = limit.target(None);
    answers(&mut limit, None, 16 * MS, 100, now);
    assert!(limit.target(None) < before, "{limit:?}");
}

#[test]
fn without_answers_at_the_limit_the_bound_does_not_grow() {
    let mut limit = Limit::default();
    let mut now = Instant::now();
    for _ in 0..1_000 {
        now += MS;
        limit.on_answer(MS, 3, 3, now);
    }
    assert_eq!(limit.target(None), START_LIMIT);
}

#[test]
fn a_slower_route_is_learned_after_two_windows() {
    let mut limit = Limit::default();
    let start = Instant::now();
    answers(&mut limit, None, Duration::from_micros(200), 150, start);
    // From now on every answer takes 20 ms: at first that reads as a queue (cut once per
    // round trip: answers 5 ms apart, 1.5 s of them)...
    let later = answers_every(&mut limit, None, 20 * MS, 300, start + MS * 200, 5 * MS);
    assert_eq!(limit.target(None), FLOOR_LIMIT);
    // ...until the 200 us floor has aged out of both windows (answers every 100 ms for 40 s):
    // then it grows again. (The bound, not the target: every 10 s the target is held at the probe
    // level while the floor is measured again, as it is for the last of these answers.)
    answers_every(&mut limit, None, 20 * MS, 400, later, 100 * MS);
    assert!(limit.settled_target(None) > START_LIMIT, "{:?}", limit);
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
    // With no rate ceiling the bound limits, and the first requests measure the floor.
    assert_eq!(limit.target(None), PROBE_LEVEL);
    assert_eq!(limit.settled_target(None), START_LIMIT);
}

const US: Duration = Duration::from_micros(1);
const SECOND: Duration = Duration::from_secs(1);

/// A server `network` away that works on `slots` requests at a time, first come first served, each
/// for `service(t)`, `t` being when it was sent (from the start of the run).
struct Server {
    slots: usize,
    service: fn(Duration) -> Duration,
    network: Duration,
}

/// What a simulated run did between its warm-up and its end.
#[derive(Debug)]
struct Run {
    answered: usize,
    /// Requests out (those waiting for their pace included), averaged over time.
    mean_in_flight: f64,
    /// How often `cap_notice` reported, over the whole run.
    cap_notices: usize,
}

/// `send_all`'s loop against `server`, event by event: a request is started while fewer than
/// `target` are out, goes out at its slot of `rate` (if any), and its answer reaches `on_answer`
/// with the counts the real loop passes.
fn simulate(
    limit: &mut Limit,
    server: &Server,
    rate: Option<f64>,
    (warm_up, end): (Duration, Duration),
    target: fn(&Limit, Option<f64>) -> usize,
) -> Run {
    let start = Instant::now();
    let pace = rate.map(|rate| Duration::from_secs_f64(1.0 / rate));
    let (mut now, mut next_pace) = (Duration::ZERO, Duration::ZERO);
    let (mut in_flight, mut on_the_wire) = (0, 0);
    // When each request started and not yet sent goes out; when each busy slot of the server
    // frees; each answer's arrival, when its request was sent and with how many on the wire.
    let mut paced = VecDeque::new();
    let mut busy = BinaryHeap::new();
    let mut answers = BinaryHeap::new();
    let mut run = Run { answered: 0, mean_in_flight: 0.0, cap_notices: 0 };
    loop {
        while in_flight < target(limit, rate) {
            in_flight += 1;
            let at = match pace {
                Some(pace) => {
                    let at = next_pace.max(now);
                    next_pace = at + pace;
                    at
                }
                None => now,
            };
            paced.push_back(at);
        }
        let next_send = paced.front().copied();
        let next_answer = answers.peek().map(|Reverse((at, _, _))| *at);
        let next = next_send.into_iter().chain(next_answer).min().unwrap_or(end).min(end);
        run.mean_in_flight += in_flight as f64 * next.saturating_sub(now.max(warm_up)).as_secs_f64();
        now = next;
        if now == end {
            break;
        }
        if next_send == Some(now) {
            paced.pop_front();
            on_the_wire += 1;
            let arrives = now + server.network / 2;
            let free = if busy.len() < server.slots { None } else { busy.pop().map(|Reverse(free)| free) };
            let done = arrives.max(free.unwrap_or(arrives)) + (server.service)(now);
            busy.push(Reverse(done));
            answers.push(Reverse((done + server.network / 2, now, on_the_wire)));
        } else if let Some(Reverse((_, sent, sent_with))) = answers.pop() {
            limit.on_answer(now - sent, sent_with, in_flight, start + now);
            run.cap_notices += usize::from(limit.cap_notice(rate, start + now).is_some());
            (in_flight, on_the_wire) = (in_flight - 1, on_the_wire - 1);
            run.answered += usize::from(now > warm_up);
        }
    }
    run.mean_in_flight /= (end - warm_up).as_secs_f64();
    run
}

/// A server that works on 16 requests at a time, 1 ms each, and no rate ceiling: its knee is 16 in
/// flight. A floor taken from every answer (the first of them queued behind 32) let the bound
/// settle at about 74 in flight here; a clean floor with the old test for a queue (twice the floor
/// and 1 ms) at about 74 too.
#[test]
fn with_no_rate_ceiling_the_bound_stays_near_the_servers_knee() {
    let server = Server { slots: 16, service: |_| MS, network: Duration::ZERO };
    let run = simulate(&mut Limit::default(), &server, None, (SECOND, 12 * SECOND), Limit::target);
    assert!(run.mean_in_flight <= 2.0 * 16.0, "{run:?}");
    // ...and the server stays busy: 16 answers per ms, less the probe at 10 s.
    assert!(run.answered as f64 >= 0.98 * 16_000.0 * 11.0, "{run:?}");
}

/// 100/s at 300 ms: Little's law asks for 47 in flight, the bound never limits, and nothing is held
/// back to measure the floor.
#[test]
fn measuring_the_floor_costs_a_far_endpoint_nothing() {
    let server = Server { slots: usize::MAX, service: |_| Duration::ZERO, network: 300 * MS };
    let mut limit = Limit::default();
    let first_ten_seconds = (Duration::ZERO, 10 * SECOND);
    let probed = simulate(&mut limit, &server, Some(100.0), first_ten_seconds, Limit::target);
    let unprobed = simulate(&mut Limit::default(), &server, Some(100.0), first_ten_seconds, Limit::settled_target);
    assert!(probed.answered as f64 >= 0.99 * unprobed.answered as f64, "{probed:?} {unprobed:?}");
    assert_eq!(limit.target(Some(100.0)), 47);
}

/// The same server as above, at 200 us a request for the first second and 20 ms after: the old floor
/// is forgotten within two windows, and then the bound settles near the knee again.
#[test]
fn a_route_whose_floor_rises_is_learned() {
    let server =
        Server { slots: 16, service: |sent| if sent < SECOND { 200 * US } else { 20 * MS }, network: Duration::ZERO };
    let run = simulate(&mut Limit::default(), &server, None, (31 * SECOND, 41 * SECOND), Limit::target);
    assert!(run.mean_in_flight <= 2.0 * 16.0, "{run:?}");
    // 16 answers per 20 ms.
    assert!(run.answered as f64 >= 0.98 * 800.0 * 10.0, "{run:?}");
}

/// No queue at all, but latencies that vary by more than their mean: 5 ms plus an exponential
/// part of 20 ms. A floor sample of a few answers is often far below the mean, and a floor that
/// low reads the route as a queue: the old floor held 4 in flight here, samples of 10 ms of answers
/// about 6; samples of 100 ms keep it near the cap.
#[test]
fn a_route_that_varies_by_more_than_its_mean_is_not_a_queue() {
    fn jittery(_: Duration) -> Duration {
        thread_local!(static SEED: std::cell::Cell<u64> = const { std::cell::Cell::new(12345) });
        let seed = SEED.get().wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        SEED.set(seed);
        let uniform = (seed >> 11) as f64 / (1u64 << 53) as f64;
        5 * MS + (20 * MS).mul_f64(-(1.0 - uniform).ln())
    }
    let server = Server { slots: usize::MAX, service: jittery, network: Duration::ZERO };
    let run = simulate(&mut Limit::default(), &server, None, (2 * SECOND, 12 * SECOND), Limit::target);
    assert!(run.mean_in_flight >= 0.8 * AUTO_CAP as f64, "{run:?}");
}
