//! Quota and injected trouble over HTTP: 429 throttling, 500, 503, dropped connections, latency,
//! seeded repeatability, and the 1-second window of accepted requests.

use connect_attrs::emulator::{Config, Credential};
use serde_json::json;
use std::time::{Duration, Instant};

use super::{Client, signed_update, start, update, update_body};

fn body(contact: &str) -> Vec<u8> {
    update_body("i", contact, json!({"a": "1"}))
}

#[test]
fn the_quota_answers_429_rate_exceeded_after_the_burst() {
    // A rate so low that no token comes back during the test: exactly the burst is admitted.
    let (handle, mut client) = start(Config { rate: Some(0.01), burst: Some(3), ..Config::default() });
    let statuses: Vec<u16> = (0..6).map(|i| update(&handle, &mut client, &body(&format!("c{i}"))).status).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    let throttled = update(&handle, &mut client, &body("c9"));
    assert_eq!(throttled.assert_error(429, "ThrottlingException"), "Rate exceeded");
    let stats = handle.stats();
    assert_eq!((stats.accepted, stats.throttled), (3, 4));
    // Requests failing the signature are refused before they take a token.
    let wrong = Credential::new("AKIDEXAMPLE", "wrong", None);
    let refused = client.post("/contact/attributes", &signed_update(&handle, &wrong, &body("c"))).unwrap();
    assert_eq!(refused.status, 403);
}

#[test]
fn the_quota_refills_at_its_rate() {
    let (handle, mut client) = start(Config { rate: Some(20.0), burst: Some(1), ..Config::default() });
    assert_eq!(update(&handle, &mut client, &body("a")).status, 200);
    // 20/s: five more tokens take 250 ms from the first update (a little less from `started`,
    // which is one round trip later). Count by time, not by attempts: a busy machine sends fewer.
    let started = Instant::now();
    let mut accepted = 0;
    while accepted < 5 {
        if update(&handle, &mut client, &body("b")).status == 200 {
            accepted += 1;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the bucket never refilled");
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(handle.stats().throttled > 0);
}

#[test]
fn injected_500_and_503() {
    let (handle, mut client) = start(Config { fail_500: 1.0, ..Config::default() });
    update(&handle, &mut client, &body("c")).assert_error(500, "InternalServiceException");
    let (handle_503, mut client_503) = start(Config { fail_503: 1.0, ..Config::default() });
    update(&handle_503, &mut client_503, &body("c")).assert_error(503, "ServiceUnavailableException");
    assert!(handle.state().instances.is_empty() && handle_503.state().instances.is_empty());
    assert_eq!(handle.stats().by_status["500"], 1);
}

#[test]
fn dropped_requests_close_the_connection_without_an_answer() {
    let (handle, mut client) = start(Config { drop: 1.0, ..Config::default() });
    let signed = signed_update(&handle, &Credential::default(), &body("c"));
    let result = client.post("/contact/attributes", &signed);
    assert!(result.is_err(), "expected no answer, got {result:?}");
    let stats = handle.stats();
    assert_eq!((stats.dropped, stats.requests), (1, 1));
    assert!(stats.by_status.is_empty());
    assert!(handle.state().instances.is_empty());
}

#[test]
fn faults_repeat_with_the_same_seed() {
    let run = |seed| {
        let config = Config { fail_500: 0.3, fail_503: 0.3, seed, ..Config::default() };
        let (handle, mut client) = start(config);
        (0..40).map(|i| update(&handle, &mut client, &body(&format!("c{i}"))).status).collect::<Vec<_>>()
    };
    let first = run(42);
    assert_eq!(first, run(42));
    assert!(first.contains(&200) && first.contains(&500) && first.contains(&503), "{first:?}");
    assert_ne!(first, run(43));
}

#[test]
fn latency_and_jitter_delay_every_answer() {
    let config = Config { latency: Duration::from_millis(150), jitter: Duration::from_millis(50), ..Config::default() };
    let (handle, mut client) = start(config);
    for contact in ["a", "b", "c"] {
        let started = Instant::now();
        assert_eq!(update(&handle, &mut client, &body(contact)).status, 200);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(150), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
}

#[test]
fn the_busiest_second_is_counted_across_connections() {
    let (handle, mut client) = start(Config::default());
    let mut other = Client::connect(handle.port());
    for i in 0..10 {
        let client = if i % 2 == 0 { &mut client } else { &mut other };
        assert_eq!(update(&handle, client, &body(&format!("c{i}"))).status, 200);
    }
    let stats = handle.stats();
    assert_eq!((stats.accepted, stats.max_accepted_in_1s, stats.contacts), (10, 10, 10));
}
