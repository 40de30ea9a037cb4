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
    assert_exit(&scratch, &output, 0);
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

/// Sends `n` contacts at `--rate R --burst R` to an emulator configured as `config`; checks that
/// every one arrived as merged and returns the achieved rate with the summary.
fn achieved_rate(config: Config, n: usize, rate: &str) -> (f64, serde_json::Value) {
    let handle = emulator(config);
    let scratch = Scratch::new();
    let text = simple_wide("inst", "paced-", n);
    scratch.write("in.csv", &text);
    let output = run(&scratch, &handle, &["--rate", rate, "--burst", rate], &["in.csv"]);
    assert_exit(&scratch, &output, 0);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "updated"), n as u64, "{summary:#}");
    assert_state(&handle, &expected_merge(&[&text], ""));
    (summary["achieved_rate"].as_f64().unwrap_or_default(), summary)
}

#[test]
fn a_slow_endpoint_gets_enough_requests_in_flight_to_reach_the_rate() {
    // Every answer takes 250 ms. At 40/s that needs ten in flight (Little's law); the four the
    // run would start with before its first answer reach 16/s at most.
    let latency = std::time::Duration::from_millis(250);
    let (rate, summary) = achieved_rate(Config { latency, ..Config::default() }, 200, "40");
    // Fully hidden, the run takes 200/40 = 5 s plus one latency: 38/s. With no more in flight
    // than at the start it would take 12.5 s. A loaded machine only adds a little to either.
    assert!(rate > 25.0, "achieved {rate:.1}/s: the latency was not hidden\n{summary:#}");
}

#[test]
fn a_jittery_endpoint_is_not_mistaken_for_a_queue() {
    // 50 ms to 200 ms per answer: a plain minimum would read the spread as a queue and hold the
    // run to a few requests in flight (about 30/s here). 100/s needs about 19 in flight.
    let latency = std::time::Duration::from_millis(50);
    let jitter = std::time::Duration::from_millis(150);
    let (rate, summary) = achieved_rate(Config { latency, jitter, ..Config::default() }, 400, "100");
    assert!(rate > 60.0, "achieved {rate:.1}/s: the jitter was taken for a queue\n{summary:#}");
}

/// The emulator draws faults from one seeded stream in arrival order. Near the end of a run the
/// unluckiest contact retries alone, so its last attempts take consecutive draws, and with a fixed
/// seed whether it fails is decided by the stream, not by chance (seed 42 fails it in about half
/// the runs at these fractions). This seed has no run of more than [`TAIL_RUN`] faults in the
/// draws where the tail of this run falls; the test checks it.
const SEED: u64 = 63;
const TAIL_RUN: usize = 4;
const TAIL: std::ops::Range<usize> = 150..800;

fn longest_fault_run(seed: u64, window: std::ops::Range<usize>) -> usize {
    use connect_attrs::emulator::faults::{Faults, Fractions};
    let fractions = Fractions { drop: 0.1, fail_500: 0.2, fail_503: 0.1 };
    let faults = Faults::new(fractions, std::time::Duration::ZERO, std::time::Duration::ZERO, seed);
    let (mut longest, mut run) = (0, 0);
    for i in 0..window.end {
        run = if faults.draw().is_some() { run + 1 } else { 0 };
        if window.contains(&i) {
            longest = longest.max(run);
        }
    }
    longest
}

#[test]
#[ignore = "helper: finds seeds for the fault test"]
fn find_seeds() {
    for seed in 0..2000 {
        if longest_fault_run(seed, TAIL) <= TAIL_RUN {
            println!("seed {seed}");
        }
    }
}

#[test]
fn injected_faults_are_retried_until_every_contact_is_delivered() {
    let handle = emulator(Config { fail_500: 0.2, fail_503: 0.1, drop: 0.1, seed: SEED, ..Config::default() });
    assert!(longest_fault_run(SEED, TAIL) <= TAIL_RUN, "pick another SEED");
    let scratch = Scratch::new();
    let text = simple_wide("inst", "f-", 200);
    scratch.write("in.csv", &text);
    let output = run(&scratch, &handle, &["--max-attempts", "10"], &["in.csv"]);
    let stats = handle.stats();
    assert!(
        output.code == 0,
        "exit {} with the service's stats {stats:?}\nerrors.csv:\n{}\nstdout:\n{}",
        output.code,
        std::fs::read_to_string(scratch.run_dir().join("errors.csv")).unwrap_or_default(),
        output.stdout
    );
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

/// A service that fails every request: once the run's retry budget is spent, contacts fail on
/// their first attempt whatever `--max-attempts` says. The run says so once, and each such row of
/// errors.csv says why (it used to show attempts 1 under `--max-attempts 5`, and nothing else).
#[test]
fn a_spent_retry_budget_is_said_once_and_in_each_failure_it_cuts_short() {
    let handle = emulator(Config { fail_503: 1.0, ..Config::default() });
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "budget-", 300));
    let output = run(&scratch, &handle, &["--concurrency", "8"], &["in.csv"]);
    assert_exit(&scratch, &output, 1);
    let warnings = output.stderr.matches("retry budget is spent").count();
    assert_eq!(warnings, 1, "{}", output.stderr);
    let rows = errors_csv(&scratch);
    assert_eq!(rows.len(), 300);
    let (cut_short, full): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.message.starts_with("retry budget spent"));
    assert!(cut_short.len() >= 250, "{} of 300 cut short", cut_short.len());
    assert!(
        cut_short.iter().all(|r| r.error_type == "ServiceUnavailableException" && r.attempts != "5"),
        "{cut_short:#?}"
    );
    assert!(full.iter().all(|r| r.attempts == "5"), "{full:#?}");
}

/// `--concurrency 100` needs 100 connections. Under a hard limit of 64 open files the run keeps to
/// 32 and says so, and every contact gets through; above the limit, it used to run out of files,
/// failing contacts and even the retry file.
#[cfg(unix)]
#[test]
fn a_concurrency_above_the_open_file_limit_is_lowered_and_nothing_fails() {
    let handle = emulator(Config { latency: std::time::Duration::from_millis(200), ..Config::default() });
    let scratch = Scratch::new();
    let text = simple_wide("inst", "files-", 300);
    scratch.write("in.csv", &text);
    let output = run_with_open_files(&scratch, &handle, &["--concurrency", "100"], &["in.csv"], 64, 64);
    assert_exit(&scratch, &output, 0);
    assert!(output.stderr.contains("--concurrency 100") && output.stderr.contains("using 32"), "{}", output.stderr);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "updated"), 300, "{summary:#}");
    assert_state(&handle, &expected_merge(&[&text], ""));
}

/// A soft limit of 64 under a higher hard one is raised at start, as Go programs do: the same run
/// needs no lowering.
#[cfg(unix)]
#[test]
fn a_low_soft_limit_on_open_files_is_raised_to_the_hard_one() {
    let Some(hard) = hard_open_files().map(|hard| hard.min(1_024)).filter(|&hard| hard >= 256) else {
        eprintln!("skipped: this process may not have 256 files open");
        return;
    };
    let handle = emulator(Config { latency: std::time::Duration::from_millis(200), ..Config::default() });
    let scratch = Scratch::new();
    let text = simple_wide("inst", "raised-", 300);
    scratch.write("in.csv", &text);
    let output = run_with_open_files(&scratch, &handle, &["--concurrency", "100"], &["in.csv"], 64, hard);
    assert_exit(&scratch, &output, 0);
    assert!(!output.stderr.contains("using 32"), "{}", output.stderr);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "updated"), 300, "{summary:#}");
}

/// This process's hard limit on open files.
#[cfg(unix)]
fn hard_open_files() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes one `rlimit` through the pointer, which points to one.
    #[allow(clippy::unnecessary_cast)]
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit.rlim_max as u64)
}
