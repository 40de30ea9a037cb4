//! `--memory-limit`: a budget too small for anything still gives the same summary, error report
//! and stored state as the default; its temporary files are gone after a normal end and after
//! SIGINT; a temp dir that cannot be written stops the run with exit 2 before anything is sent.

use super::support::*;
use connect_attrs::emulator::Config;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `n` rows over `contacts` contacts in random order (so a contact's rows are far apart), some
/// cells empty, and one contact made invalid by a value that only it has.
fn unsorted_export(rows: usize, contacts: u64, seed: u64) -> String {
    let mut lcg = Lcg::new(seed);
    let mut text = String::from("InstanceId,InitialContactId,Tier,Score,Note,Bad Key\n");
    for i in 0..rows {
        let contact = lcg.below(contacts);
        let tier = ["Gold", "Silver", "", "Bronze"][lcg.below(4) as usize];
        let score = if lcg.below(3) == 0 { String::new() } else { lcg.below(1000).to_string() };
        let bad = if contact == 7 { "x" } else { "" };
        text.push_str(&csv_line(&["inst", &format!("c-{contact:05}"), tier, &score, &format!("row {i}"), bad]));
    }
    text
}

fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true)
}

/// The summary without the fields that differ from run to run.
fn counts(summary: &Value) -> Value {
    let mut summary = summary.clone();
    for key in ["elapsed_s", "achieved_rate", "started_at", "finished_at", "requests", "retries", "throttled"] {
        summary.as_object_mut().map(|o| o.remove(key));
    }
    summary
}

fn sorted_errors(scratch: &Scratch) -> Vec<ErrorRow> {
    let mut rows = errors_csv(scratch);
    rows.sort_by(|a, b| (&a.initial_contact_id, &a.lines).cmp(&(&b.initial_contact_id, &b.lines)));
    rows
}

#[test]
fn a_tiny_memory_limit_gives_the_same_summary_errors_and_state_as_the_default() {
    let text = unsorted_export(3000, 400, 5);
    let mut results = Vec::new();
    for extra in [&[][..], &["--memory-limit", "1", "--temp-dir", "tmp"][..]] {
        let handle = emulator(Config::default());
        let scratch = Scratch::new();
        scratch.write("in.csv", &text);
        std::fs::create_dir(scratch.path().join("tmp")).unwrap();
        let output = run(&scratch, &handle, extra, &["in.csv"]);
        output.assert_code(1);
        let summary = assert_summary_file(&scratch, &output);
        assert_eq!(count(&summary, "invalid"), 1, "{summary:#}");
        assert!(empty(&scratch.path().join("tmp")), "temporary files left behind");
        if !extra.is_empty() {
            assert!(output.stderr.contains("Spilled"), "the tiny budget spilled: {}", output.stderr);
        }
        let mut expected = expected_merge(&[&text], "");
        expected.remove(&("inst".to_string(), "c-00007".to_string()));
        assert_state(&handle, &expected);
        assert_each_updated_once(&handle);
        results.push((counts(&summary), sorted_errors(&scratch)));
    }
    assert_eq!(results[0], results[1], "default budget vs 1 byte");
    let expected_lines: Vec<String> = (text.lines().enumerate())
        .filter(|(_, line)| line.contains(",c-00007,"))
        .map(|(index, _)| format!("in.csv:{}", index + 1))
        .collect();
    assert_eq!(error_of(&results[1].1, "c-00007").lines, expected_lines.join(";"), "exact lines, in input order");
}

#[test]
fn an_unwritable_temp_dir_is_exit_2_before_anything_is_sent() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("in.csv", unsorted_export(500, 100, 9));
    // A path under a regular file cannot be created, even by root (chmod would not stop root).
    scratch.write("not-a-dir", "");
    let output = run(&scratch, &handle, &["--memory-limit", "1", "--temp-dir", "not-a-dir/tmp"], &["in.csv"]);
    output.assert_code(2);
    assert!(output.stderr.contains("not-a-dir/tmp") && output.stderr.contains("--temp-dir"), "{}", output.stderr);
    assert_eq!(handle.stats().requests, 0, "nothing is sent");
}

/// The binary, started in the background with the test credentials.
fn spawn(scratch: &Scratch, args: &[String]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_connect-attrs"))
        .args(args)
        .current_dir(scratch.path())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", scratch.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", scratch.path().join("no-aws-credentials"))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_CONNECT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("connect-attrs starts")
}

#[test]
fn sigint_while_sending_spilled_contacts_removes_the_temporary_files() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("in.csv", unsorted_export(12_000, 8_000, 11));
    let tmp = scratch.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let extra = ["--memory-limit", "1", "--temp-dir", "tmp", "--rate", "5", "--burst", "1"];
    let child = spawn(&scratch, &run_args(&handle, &extra, &["in.csv"]));
    let deadline = Instant::now() + Duration::from_secs(120);
    while handle.stats().requests == 0 {
        assert!(Instant::now() < deadline, "no request in two minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!empty(&tmp), "partitions not merged yet are still on disk while sending");
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let output = child.wait_with_output().expect("connect-attrs ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "stopped early\nstderr:\n{stderr}");
    assert!(
        empty(&tmp),
        "temporary files left after SIGINT: {:?}",
        std::fs::read_dir(&tmp).unwrap().collect::<Vec<_>>()
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("summary JSON");
    assert_adds_up(&summary);
    assert!(count(&summary, "skipped") > 0, "{summary:#}");
}
