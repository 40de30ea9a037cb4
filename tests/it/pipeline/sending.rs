//! Getting through a service that pushes back: a quota below `--rate`, and injected 500s, 503s
//! and dropped connections. Every valid contact must still end up delivered, exactly as merged.

use super::support::*;
use connect_attrs::emulator::Config;

#[test]
fn a_quota_below_the_rate_is_throttled_but_every_contact_gets_through() {
    let handle = emulator(Config { rate: Some(20.0), burst: Some(5), ..Config::default() });
    let scratch = Scratch::new();
    let text = simple_wide("inst", "q-", 150);
    scratch.write("in.csv", &text);
    let output = run(&scratch, &handle, &["--rate", "100", "--burst", "100"], &["in.csv"]);
    output.assert_code(0);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "updated"), 150, "{summary:#}");
    assert!(count(&summary, "throttled") > 0, "{summary:#}");
    assert_state(&handle, &expected_merge(&[&text], ""));
    let stats = handle.stats();
    assert_eq!(
        count(&summary, "throttled"),
        stats.throttled,
        "the client counts the throttles the service answered: {stats:?}"
    );
    assert_eq!(count(&summary, "requests"), stats.requests, "{stats:?}");
}

#[test]
fn injected_faults_are_retried_until_every_contact_is_delivered() {
    let handle = emulator(Config { fail_500: 0.2, fail_503: 0.1, drop: 0.1, seed: 42, ..Config::default() });
    let scratch = Scratch::new();
    let text = simple_wide("inst", "f-", 200);
    scratch.write("in.csv", &text);
    let output = run(&scratch, &handle, &["--max-attempts", "10"], &["in.csv"]);
    output.assert_code(0);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "updated"), 200, "{summary:#}");
    assert!(count(&summary, "retries") > 0, "{summary:#}");
    assert_eq!(
        count(&summary, "requests"),
        200 + count(&summary, "retries"),
        "every request is a first attempt or a retry: {summary:#}"
    );
    assert_state(&handle, &expected_merge(&[&text], ""));
    let stats = handle.stats();
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.accepted, 200, "{stats:?}");
}
