//! Failures of the whole run, not of one contact: refused credentials and an unknown instance.
//! The run stops after a few requests with one clear message and exit 2; every contact is still
//! accounted for, and those not updated are in the retry file.

use super::support::*;
use connect_attrs::emulator::Config;

const CONTACTS: usize = 500;

fn assert_everything_in_the_retry_file(scratch: &Scratch, summary: &serde_json::Value, text: &str) {
    let not_updated = count(summary, "contacts") - count(summary, "updated");
    assert!(not_updated > 0);
    assert_eq!(count(summary, "failed") + count(summary, "skipped"), not_updated, "{summary:#}");
    let retry = summary["retry_file"].as_str().unwrap_or_else(|| panic!("a retry file: {summary:#}"));
    let retried = read_model_of(&scratch.path().join(retry));
    assert_eq!(retried.len() as u64, not_updated, "{summary:#}");
    let all = expected_merge(&[text], "");
    for (id, attributes) in &retried {
        assert_eq!(Some(attributes), all.get(id), "{id:?}");
    }
}

#[test]
fn refused_credentials_stop_the_run_after_a_few_requests() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = simple_wide("inst", "cred-", CONTACTS);
    scratch.write("in.csv", &text);
    let args = run_args(&handle, &["--concurrency", "4"], &["in.csv"]);
    let output = connect_attrs_env(
        scratch.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
        &[("AWS_SECRET_ACCESS_KEY", "not-the-right-secret")],
    );
    output.assert_code(2);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "exit_code"), 2);
    assert_eq!(count(&summary, "contacts"), CONTACTS as u64, "{summary:#}");
    assert_eq!(count(&summary, "updated"), 0, "{summary:#}");
    let stopped = summary["stopped"].as_str().unwrap_or_default();
    assert!(stopped.contains("credentials"), "{summary:#}");
    let requests = handle.stats().requests;
    assert!(requests < 30, "{requests} requests after the first refusal");
    assert!(handle.state().instances.is_empty());
    assert!(output.stderr.contains("credentials"), "{}", output.stderr);
    assert_everything_in_the_retry_file(&scratch, &summary, &text);
}

#[test]
fn an_unknown_instance_stops_the_run_after_a_few_requests() {
    let handle = emulator(Config { instances: vec!["known".into()], ..Config::default() });
    let scratch = Scratch::new();
    let text = simple_wide("unknown-instance", "u-", 300);
    scratch.write("in.csv", &text);
    let output = run(&scratch, &handle, &["--concurrency", "4"], &["in.csv"]);
    output.assert_code(2);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "contacts"), 300, "{summary:#}");
    let stopped = summary["stopped"].as_str().unwrap_or_default();
    assert!(stopped.contains("unknown-instance"), "{summary:#}");
    let requests = handle.stats().requests;
    assert!(requests < 30, "{requests} requests for an unknown instance");
    assert!(handle.state().instances.is_empty());
    assert_everything_in_the_retry_file(&scratch, &summary, &text);
}
