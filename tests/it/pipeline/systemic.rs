//! Failures of the whole run, not of one contact: refused credentials, an unknown instance, an
//! endpoint that is not Connect. The run stops after a few requests with one clear message and
//! exit 2; every contact is still accounted for, those not updated are in the retry file, and the
//! resume once the cause is fixed sends them.

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
    // The not-found answers before the verdict were about the instance too: none is refused for
    // good, so once the instance is right (here: the emulator knows it) the resume sends them all.
    assert_eq!(journalled_as_refused(&scratch), 0, "refused for good before the verdict");
    let port = handle.port();
    drop(handle);
    resume_on(port, &scratch, &text, &["--concurrency", "4"]);
}

fn journalled_as_refused(scratch: &Scratch) -> usize {
    scratch.read("run/journal.jsonl").lines().filter(|line| line.contains(r#""s":"failed""#)).count()
}

/// The resume of a stopped run, against a healthy emulator on the port the first run used (the
/// same `--endpoint-url`): every contact the first run did not update is sent, once.
fn resume_on(port: u16, scratch: &Scratch, text: &str, extra: &[&str]) {
    let handle = emulator(Config { port, ..Config::default() });
    let mut args = run_args(&handle, extra, &["in.csv"]);
    let run_dir = args.iter().position(|a| a == "--run-dir").expect("run_args names the run dir");
    args[run_dir] = "--resume".into();
    let output = connect_attrs(scratch.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert_exit(scratch, &output, 0);
    let summary = assert_summary_file(scratch, &output);
    assert_eq!(count(&summary, "failed"), 0, "{summary:#}");
    assert_eq!(count(&summary, "already_done") + count(&summary, "updated"), 300, "{summary:#}");
    assert_eq!(count(&summary, "updated"), handle.stats().accepted, "{summary:#}");
    assert_each_updated_once(&handle);
    assert_state(&handle, &expected_merge(&[text], ""));
}

/// A web server, load balancer or proxy where Connect should be: a redirect, or a 4xx with an HTML
/// page and no AWS error type, is the same for every contact. It used to fail each contact for
/// good, through the whole input, exit 1, and the resume after the fix sent nothing.
#[test]
fn an_endpoint_that_is_not_connect_stops_the_run_and_the_resume_sends_everything() {
    for status in [401, 405, 301] {
        let handle = emulator(Config { not_connect: Some(status), ..Config::default() });
        let scratch = Scratch::new();
        let text = simple_wide("inst", "nc-", 300);
        scratch.write("in.csv", &text);
        let output = run(&scratch, &handle, &["--concurrency", "4"], &["in.csv"]);
        assert_exit(&scratch, &output, 2);
        let summary = assert_summary_file(&scratch, &output);
        let stopped = summary["stopped"].as_str().unwrap_or_default();
        assert!(stopped.contains(&format!("HTTP {status}")), "{summary:#}");
        assert!(stopped.contains(&handle.url()) && stopped.contains("--endpoint-url"), "{summary:#}");
        let requests = handle.stats().requests;
        assert!(requests < 30, "{requests} requests to an endpoint that is not Connect");
        assert_everything_in_the_retry_file(&scratch, &summary, &text);
        assert_eq!(journalled_as_refused(&scratch), 0, "no contact is refused for good by a web server");
        let port = handle.port();
        drop(handle);
        resume_on(port, &scratch, &text, &["--concurrency", "4"]);
    }
}
