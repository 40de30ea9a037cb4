//! The other shapes of a command line: `validate`, `--set` over a bare list of ids, usage
//! errors, and the privacy of the run directory.

use super::support::*;
use connect_attrs::emulator::Config;

fn validate(scratch: &Scratch, handle: &connect_attrs::emulator::Handle, input: &str) -> Output {
    // An endpoint in the environment must not tempt validate into sending anything.
    connect_attrs_env(
        scratch.path(),
        &["validate", "--json", "--run-dir", "run", input],
        None,
        &[("AWS_ENDPOINT_URL", &handle.url())],
    )
}

/// validate --json prints the plan, whose `summary` is run/summary.json.
fn validate_summary(scratch: &Scratch, output: &Output) -> serde_json::Value {
    let plan: serde_json::Value = serde_json::from_str(&output.stdout).expect("stdout is the plan JSON");
    let stored: serde_json::Value = serde_json::from_str(&scratch.read("run/summary.json")).expect("summary.json");
    assert_eq!(plan["summary"], stored, "the plan's summary and run/summary.json differ");
    assert_adds_up(&stored);
    stored
}

#[test]
fn validate_a_clean_file_exits_0_and_sends_nothing() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "v-", 25));
    let output = validate(&scratch, &handle, "in.csv");
    output.assert_code(0);
    let summary = validate_summary(&scratch, &output);
    assert_eq!(summary["command"], "validate");
    assert_eq!(count(&summary, "contacts"), 25, "{summary:#}");
    assert_eq!(count(&summary, "valid"), 25, "{summary:#}");
    assert_eq!(count(&summary, "requests"), 0, "{summary:#}");
    // The one request validate makes is the quota lookup, to plan the run's duration.
    assert_eq!(handle.stats().accepted, 0);
    assert!(errors_csv(&scratch).is_empty());
}

#[test]
fn validate_with_invalid_contacts_exits_1_writes_errors_and_sends_nothing() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let mut text = simple_wide("inst", "v-", 10);
    text.push_str(&csv_line(&["inst", &"y".repeat(300), "Gold", "1", "n"])); // line 12
    text.push_str("inst,ragged\n"); // line 13
    scratch.write("in.csv", &text);
    let output = validate(&scratch, &handle, "in.csv");
    output.assert_code(1);
    let summary = validate_summary(&scratch, &output);
    assert_eq!(count(&summary, "invalid"), 1, "{summary:#}");
    assert_eq!(count(&summary, "valid"), 10, "{summary:#}");
    assert_eq!(count(&summary, "bad_rows"), 1, "{summary:#}");
    assert_eq!(handle.stats().accepted, 0);
    let errors = errors_csv(&scratch);
    let kinds: Vec<(&str, &str)> = errors.iter().map(|r| (r.error_type.as_str(), r.lines.as_str())).collect();
    assert!(kinds.contains(&("ContactIdLength", "in.csv:12")), "{errors:#?}");
    assert!(kinds.contains(&("MalformedRow", "in.csv:13")), "{errors:#?}");
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

#[test]
fn set_flags_every_contact_of_a_bare_id_list() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let ids: Vec<String> = (0..40).map(|i| format!("{i:08x}-1111-2222-3333-444444444444")).collect();
    // No header: the first line is a contact id too. CRLF line ends, as Windows exports have.
    scratch.write("ids.txt", ids.join("\r\n") + "\r\n");
    let output = run(&scratch, &handle, &["--instance-id", "inst", "--set", "LegalReview=true"], &["ids.txt"]);
    output.assert_code(0);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "rows"), 40, "{summary:#}");
    assert_eq!(count(&summary, "updated"), 40, "{summary:#}");
    let expected: Contacts = ids
        .iter()
        .map(|id| (("inst".to_string(), id.clone()), [("LegalReview".to_string(), "true".to_string())].into()))
        .collect();
    assert_state(&handle, &expected);
}

/// A `;`-separated export, or a header that is no known name, is not a list of ids: each line
/// (the header's too) would be sent as an id. Nothing is sent, and the first line is named.
#[test]
fn set_refuses_a_one_column_file_whose_first_line_cannot_be_an_id() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("semicolons.csv", "InitialContactId;Reason\n6513270e-269e-0d37-f2a7-4de452e6b438;fraud\n");
    scratch.write("spaced.txt", "Contact ID\n6513270e-269e-0d37-f2a7-4de452e6b438\n");
    for (file, said) in [("semicolons.csv", "holds a ';'"), ("spaced.txt", "holds a space")] {
        let run_dir = format!("run-{file}");
        let flags = ["--instance-id", "inst", "--set", "LegalReview=true", "--run-dir", &run_dir];
        let output = run(&scratch, &handle, &flags, &[file]);
        output.assert_code(2);
        assert!(
            output.stderr.contains(&format!("{file}:1: with --set")) && output.stderr.contains(said),
            "{}",
            output.stderr
        );
    }
    assert_eq!(handle.stats().requests, 0);
}

#[test]
fn set_wins_over_the_input_and_adds_to_it() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = "InitialContactId,LegalReview,Tier\nc-1,false,Gold\nc-2,,Silver\n";
    scratch.write("in.csv", text);
    let output = run(&scratch, &handle, &["--instance-id", "inst", "--set", "LegalReview=true"], &["in.csv"]);
    output.assert_code(0);
    assert_summary_file(&scratch, &output);
    let mut expected = expected_merge(&[text], "inst");
    for attributes in expected.values_mut() {
        attributes.insert("LegalReview".into(), "true".into());
    }
    assert_state(&handle, &expected);
}

fn assert_usage_error(extra: &[&str], input: &str, said: &str) {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("in.csv", input);
    let mut args = run_args(&handle, extra, &["in.csv"]);
    if extra.contains(&"--endpoint-url") {
        // The endpoint under test replaces the emulator's (the first one in the arguments).
        let i = args.iter().position(|a| a == "--endpoint-url").unwrap();
        args.drain(i..i + 2);
    }
    let output = connect_attrs(scratch.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), None);
    output.assert_code(2);
    assert!(output.stderr.contains(said), "stderr should say {said:?}:\n{}", output.stderr);
    assert_eq!(handle.stats().requests, 0, "nothing is sent after a usage error");
}

#[test]
fn a_file_without_a_contact_column_is_a_usage_error() {
    assert_usage_error(&[], "Id,Tier\nc-1,Gold\n", "no contact id column");
}

#[test]
fn plain_http_to_another_machine_is_refused() {
    assert_usage_error(
        &["--endpoint-url", "http://example.com"],
        "InstanceId,InitialContactId,Tier\ni,c-1,Gold\n",
        "plain http",
    );
}

#[test]
fn a_set_key_the_api_refuses_is_a_usage_error() {
    assert_usage_error(
        &["--instance-id", "inst", "--set", "Bad Key=x"],
        "InitialContactId,Tier\nc-1,Gold\n",
        "--set Bad Key",
    );
}

#[cfg(unix)]
#[test]
fn the_run_dir_is_private_and_so_are_its_files() {
    use std::os::unix::fs::PermissionsExt;
    let handle = emulator(Config { not_found: vec!["gone-*".into()], ..Config::default() });
    let scratch = Scratch::new();
    let mut text = simple_wide("inst", "p-", 10);
    text.push_str(&csv_line(&["inst", "gone-1", "Gold", "1", "x"]));
    text.push_str(&csv_line(&["inst", "bad key?", "Gold", "1", "x"]));
    scratch.write("in.csv", &text);
    // An existing empty directory that is too open gets closed.
    let dir = scratch.run_dir();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = run(&scratch, &handle, &[], &["in.csv"]);
    output.assert_code(1);
    assert_summary_file(&scratch, &output);
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "run dir mode {:o}", mode(&dir));
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in ["errors.csv", "retry.csv", "summary.json"] {
        assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("partial")), "a half-written file was left: {names:?}");
    for name in &names {
        let path = dir.join(name);
        assert_eq!(mode(&path), 0o600, "{name} mode {:o}", mode(&path));
    }
}

#[test]
fn a_run_dir_that_holds_a_run_is_refused_before_anything_is_sent() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "r-", 5));
    run(&scratch, &handle, &[], &["in.csv"]).assert_code(0);
    let before = handle.stats().requests;
    let summary_before = scratch.read("run/summary.json");
    let output = run(&scratch, &handle, &[], &["in.csv"]);
    output.assert_code(2);
    assert!(output.stderr.contains("already holds a run"), "{}", output.stderr);
    assert_eq!(handle.stats().requests, before, "nothing sent by the refused run");
    assert_eq!(scratch.read("run/summary.json"), summary_before, "the first run's outputs are untouched");
}

#[test]
fn a_missing_input_file_is_an_input_error() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let args = run_args(&handle, &[], &["does-not-exist.csv"]);
    let output = connect_attrs(scratch.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), None);
    output.assert_code(2);
    assert!(output.stderr.contains("does-not-exist.csv"), "{}", output.stderr);
    assert_eq!(handle.stats().requests, 0);
}

/// A stdout that cannot take the report (a full disk under `>> summary.jsonl`, a closed pipe)
/// does not turn a good run into a crash: the exit code is the command's, stderr says where the
/// summary is.
#[cfg(target_os = "linux")]
#[test]
fn a_stdout_that_cannot_be_written_keeps_the_commands_exit_code() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("in.csv", "InitialContactId,Tier\nc-1,Gold\n");
    let sent = run_args(&handle, &["--instance-id", "inst", "--run-dir", "sent"], &["in.csv"]);
    let checked: Vec<String> =
        ["validate", "--instance-id", "inst", "--rate", "5", "--run-dir", "checked", "in.csv"].map(String::from).into();
    for args in [sent, checked] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let output = command(scratch.path(), &args, false, &[]).stdout(full).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.contains("cannot print the summary on stdout"), "{stderr}");
    }
    assert_eq!(handle.stats().accepted, 1);
    // A completion script that cannot be written is the command failing: exit 2, not a panic.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let output = command(scratch.path(), &["completions", "bash"], false, &[]).stdout(full).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
}
