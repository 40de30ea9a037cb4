//! Credentials that expire mid-run, from a `credential_process` in a temporary AWS config file:
//! short-lived ones are fetched again before they run out, one the service calls expired is
//! replaced and the run goes on, and a provider that keeps handing out an expired one stops the
//! run with exit 2 and a clear message.
//!
//! The emulator decides what is expired (`Credential::expiring_at`); the process decides what the
//! client believes (`Expiration`). Both are set relative to now, far from any boundary, so nothing
//! depends on timing.

use crate::pipeline::support::*;
use connect_attrs::emulator::{Config, Credential, Handle};
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const EXPIRED: (&str, &str, &str) = ("ASIAEXPIREDEXAMPLE", "expired/secret", "expired-token");
const FRESH: (&str, &str, &str) = ("ASIAFRESHEXAMPLE", "fresh/secret", "fresh-token");
const OTHER: (&str, &str, &str) = ("ASIAOTHEREXAMPLE", "other/secret", "other-token");

fn credential((id, secret, token): (&str, &str, &str)) -> Credential {
    Credential::new(id, secret, Some(token))
}

fn rfc3339_in(seconds: u64) -> String {
    OffsetDateTime::from(SystemTime::now() + Duration::from_secs(seconds)).format(&Rfc3339).unwrap()
}

fn process_json((id, secret, token): (&str, &str, &str), expiration: &str) -> String {
    format!(
        r#"{{"Version":1,"AccessKeyId":"{id}","SecretAccessKey":"{secret}","SessionToken":"{token}","Expiration":"{expiration}"}}"#
    )
}

/// Writes a credential_process script that prints `answers[n]` on its n-th call (the last one
/// from then on) and counts its calls in `calls`; and a config file with a profile using it.
fn provider(scratch: &Scratch, answers: &[String]) {
    let mut script = String::from("#!/bin/sh\nd=\"$(dirname \"$0\")\"\nn=$(cat \"$d/calls\" 2>/dev/null || echo 0)\n");
    script.push_str("n=$((n+1))\necho $n > \"$d/calls\"\ncase $n in\n");
    for (i, answer) in answers.iter().enumerate().take(answers.len() - 1) {
        script.push_str(&format!("  {}) echo '{answer}' ;;\n", i + 1));
    }
    script.push_str(&format!("  *) echo '{}' ;;\nesac\n", answers[answers.len() - 1]));
    let path = scratch.write("credentials.sh", script);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = format!("[profile hardening]\nregion = us-east-1\ncredential_process = {}\n", path.display());
    scratch.write("aws-config", config);
}

fn calls(scratch: &Scratch) -> u32 {
    scratch.read("calls").trim().parse().unwrap()
}

fn run_with_profile(scratch: &Scratch, handle: &Handle, contacts: usize) -> Output {
    scratch.write("in.csv", simple_wide("inst", "c-", contacts));
    let args = run_args(handle, &["--concurrency", "4"], &["in.csv"]);
    let config = scratch.path().join("aws-config");
    let env = [
        // Blank environment credentials are skipped: the profile's process is used.
        ("AWS_ACCESS_KEY_ID", ""),
        ("AWS_SECRET_ACCESS_KEY", ""),
        ("AWS_PROFILE", "hardening"),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
    ];
    connect_attrs_env(scratch.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), None, &env)
}

/// Two minutes to live: inside the five-minute margin, but the provider has nothing newer. They
/// are used while they last and asked for again every 30 s (unit tests in connect::credentials),
/// not before each request: a slow credential_process held sending to its pace.
#[test]
fn short_lived_credentials_are_used_while_they_last_not_fetched_for_each_request() {
    let handle = emulator(Config { credentials: vec![credential(FRESH), credential(OTHER)], ..Config::default() });
    let scratch = Scratch::new();
    let expiration = rfc3339_in(120);
    provider(&scratch, &[process_json(FRESH, &expiration), process_json(OTHER, &expiration)]);
    let output = run_with_profile(&scratch, &handle, 20);
    output.assert_code(0);
    assert_eq!(count(&assert_summary_file(&scratch, &output), "updated"), 20);
    assert!(calls(&scratch) <= 2, "fetched {} times for 20 requests", calls(&scratch));
}

#[test]
fn credentials_the_service_calls_expired_are_replaced_and_the_run_goes_on() {
    let expired = credential(EXPIRED).expiring_at(SystemTime::now() - Duration::from_secs(3600));
    let handle = emulator(Config { credentials: vec![expired, credential(FRESH)], ..Config::default() });
    let scratch = Scratch::new();
    // The client believes both last an hour: only the service's answer tells it otherwise.
    let hour = rfc3339_in(3600);
    provider(&scratch, &[process_json(EXPIRED, &hour), process_json(FRESH, &hour)]);
    let output = run_with_profile(&scratch, &handle, 40);
    output.assert_code(0);
    assert_eq!(count(&assert_summary_file(&scratch, &output), "updated"), 40);
    assert_eq!(handle.state().instances["inst"].len(), 40);
    assert_eq!(calls(&scratch), 2, "one fetch at the start, one refresh for every task that saw ExpiredToken");
    assert!(output.stderr.contains("the service says the credentials expired"), "{}", output.stderr);
}

#[test]
fn expired_again_after_a_refresh_stops_the_run_with_a_clear_message() {
    let expired = credential(EXPIRED).expiring_at(SystemTime::now() - Duration::from_secs(3600));
    let handle = emulator(Config { credentials: vec![expired], ..Config::default() });
    let scratch = Scratch::new();
    provider(&scratch, &[process_json(EXPIRED, &rfc3339_in(3600))]);
    let output = run_with_profile(&scratch, &handle, 200);
    output.assert_code(2);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "updated"), 0);
    let stopped = summary["stopped"].as_str().unwrap_or_default();
    assert!(stopped.contains("the credentials expired and fetching new ones did not help"), "{summary:#}");
    assert!(output.stderr.contains("the credentials expired and fetching new ones did not help"));
    assert!(handle.stats().requests < 30, "{} requests after the credentials expired", handle.stats().requests);
}
