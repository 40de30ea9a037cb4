//! Contacts that do not get through: invalid ones (never sent), malformed rows, and contacts the
//! service refuses. Each is reported with its input lines; the rest are still delivered; the
//! retry file holds exactly the valid contacts not updated and can be fed straight back.

use super::support::*;
use connect_attrs::emulator::Config;

#[test]
fn invalid_contacts_are_reported_with_their_rule_and_lines_and_never_sent() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let long_id = "x".repeat(257);
    let big = "b".repeat(20_000);
    let mut text = String::from("InstanceId,InitialContactId,Tier,Account.Status,Note\n");
    for i in 0..30 {
        // Good contacts leave the badly named column empty: that column alone rejects nobody.
        text.push_str(&csv_line(&["inst", &format!("ok-{i:02}"), "Gold", "", "fine"]));
    }
    text.push_str(&csv_line(&["inst", "bad-key", "Gold", "Closed", ""])); // line 32
    text.push_str(&csv_line(&["inst", &long_id, "Gold", "", ""])); // line 33
    text.push_str(&csv_line(&["inst", "too-big", &big, "", ""])); // line 34
    text.push_str(&csv_line(&["inst", "ok-00", "Platinum", "", ""])); // line 35
    text.push_str(&csv_line(&["inst", "too-big", "", "", &big])); // line 36
    scratch.write("in.csv", &text);

    let output = run(&scratch, &handle, &[], &["in.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "contacts"), 33, "{summary:#}");
    assert_eq!(count(&summary, "invalid"), 3, "{summary:#}");
    assert_eq!(count(&summary, "updated"), 30, "{summary:#}");
    assert_eq!(count(&summary, "failed"), 0, "{summary:#}");

    let mut expected = expected_merge(&[&text], "");
    for bad in ["bad-key", long_id.as_str(), "too-big"] {
        expected.remove(&("inst".to_string(), bad.to_string()));
    }
    assert_eq!(expected.len(), 30);
    assert_state(&handle, &expected);
    assert_eq!(handle.stats().requests, 30, "only the valid contacts are sent");

    let errors = errors_csv(&scratch);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    let key = error_of(&errors, "bad-key");
    assert_eq!(
        (key.error_type.as_str(), key.lines.as_str(), key.http_status.as_str()),
        ("KeyCharacters", "in.csv:32", "")
    );
    assert!(key.message.contains("Account.Status"), "{key:?}");
    assert_eq!(key.attempts, "0");
    let id = error_of(&errors, &long_id);
    assert_eq!((id.error_type.as_str(), id.lines.as_str()), ("ContactIdLength", "in.csv:33"));
    let size = error_of(&errors, "too-big");
    assert_eq!((size.error_type.as_str(), size.lines.as_str()), ("TotalSize", "in.csv:34;in.csv:36"));
    for row in &errors {
        assert_eq!(row.instance_id, "inst");
    }
    // Invalid contacts cannot be fixed by retrying: no retry file.
    assert!(summary["retry_file"].is_null(), "{summary:#}");
    assert!(!scratch.run_dir().join("retry.csv").exists());
}

#[test]
fn malformed_rows_are_reported_by_file_and_line_and_the_rest_is_delivered() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let mut good = String::from("InstanceId,InitialContactId,Tier,Note\n");
    let mut file: Vec<u8> = good.clone().into_bytes();
    // line 2..=11: good rows; the one on line 3 spans two physical lines (quoted newline)
    for i in 0..10 {
        let note = if i == 1 { "two\nlines".to_string() } else { format!("n{i}") };
        let line = csv_line(&["inst", &format!("g-{i}"), "Gold", &note]);
        good.push_str(&line);
        file.extend_from_slice(line.as_bytes());
    }
    // physical line 13: ragged (too few fields)
    file.extend_from_slice(b"inst,g-0,Silver\n");
    // physical line 14: invalid UTF-8 in a value of a contact that has good rows too
    file.extend_from_slice(b"inst,g-2,\xff\xfeSilver,x\n");
    // physical line 15: ragged (too many fields)
    file.extend_from_slice(b"inst,g-3,Silver,x,extra\n");
    // physical line 16: a good row after the bad ones still counts (and wins)
    let last = csv_line(&["inst", "g-4", "Platinum", ""]);
    good.push_str(&last);
    file.extend_from_slice(last.as_bytes());
    scratch.write("in.csv", &file);

    let output = run(&scratch, &handle, &[], &["in.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "rows"), 14, "{summary:#}");
    assert_eq!(count(&summary, "bad_rows"), 3, "{summary:#}");
    assert_eq!(count(&summary, "updated"), 10, "{summary:#}");
    let expected = expected_merge(&[&good], "");
    assert_eq!(expected[&("inst".into(), "g-4".into())]["Tier"], "Platinum");
    assert_state(&handle, &expected);

    let errors = errors_csv(&scratch);
    let malformed: Vec<(&str, &str)> = errors.iter().map(|r| (r.error_type.as_str(), r.lines.as_str())).collect();
    assert_eq!(
        malformed,
        [("MalformedRow", "in.csv:13"), ("MalformedRow", "in.csv:14"), ("MalformedRow", "in.csv:15")],
        "{errors:#?}"
    );
    assert!(errors[1].message.contains("UTF-8"), "{:?}", errors[1]);
}

/// `good` good contacts first (so the instance is known to exist), then the refused ones mixed
/// in with more good ones.
fn with_refused(good_first: usize) -> String {
    let mut text = simple_wide("inst", "ok-", good_first);
    let tail = ["gone-1", "ok-x1", "old-1", "gone-2", "ok-x2", "old-2", "gone-3", "ok-x3", "gone-4"];
    for (i, contact) in tail.iter().enumerate() {
        text.push_str(&csv_line(&["inst", contact, "Gold", &i.to_string(), "x, \"y\""]));
    }
    text
}

fn refusing() -> Config {
    Config { not_found: vec!["gone-*".into()], predates: vec!["old-*".into()], ..Config::default() }
}

#[test]
fn contacts_the_service_refuses_go_to_errors_and_the_retry_file() {
    let handle = emulator(refusing());
    let scratch = Scratch::new();
    let text = with_refused(40);
    scratch.write("in.csv", &text);
    let output = run(&scratch, &handle, &[], &["in.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "contacts"), 49, "{summary:#}");
    assert_eq!(count(&summary, "failed"), 6, "{summary:#}");
    assert_eq!(count(&summary, "updated"), 43, "{summary:#}");
    assert!(summary["stopped"].is_null(), "{summary:#}");

    let all = expected_merge(&[&text], "");
    let refused = |id: &(String, String)| id.1.starts_with("gone-") || id.1.starts_with("old-");
    let (rejected, delivered): (Contacts, Contacts) = all.clone().into_iter().partition(|(id, _)| refused(id));
    assert_state(&handle, &delivered);
    // A refusal is permanent: one request each, no retries.
    assert_eq!(handle.stats().requests, 49, "{:?}", handle.stats());
    assert_eq!(count(&summary, "retries"), 0, "{summary:#}");

    let errors = errors_csv(&scratch);
    assert_eq!(errors.len(), 6, "{errors:#?}");
    for row in &errors {
        let (status, error_type) = if row.initial_contact_id.starts_with("gone-") {
            ("404", "ResourceNotFoundException")
        } else {
            ("400", "InvalidRequestException")
        };
        assert_eq!(
            (row.http_status.as_str(), row.error_type.as_str(), row.attempts.as_str()),
            (status, error_type, "1"),
            "{row:?}"
        );
        assert!(!row.message.is_empty(), "{row:?}");
        assert!(row.lines.starts_with("in.csv:"), "{row:?}");
    }
    assert_eq!(error_of(&errors, "gone-1").lines, "in.csv:42");

    let retry = scratch.run_dir().join("retry.csv");
    let named = summary["retry_file"].as_str().expect("a retry file");
    assert_eq!(scratch.path().join(named).canonicalize().unwrap(), retry.canonicalize().unwrap(), "{summary:#}");
    // Wide in, wide out, with the merged attributes of exactly the refused contacts.
    let retry_text = std::fs::read_to_string(&retry).unwrap();
    assert!(retry_text.starts_with("InstanceId,InitialContactId,"), "{retry_text}");
    assert!(!retry_text.contains(",Key,Value"), "{retry_text}");
    assert_contacts_eq(&read_model_of(&retry), &rejected);
}

#[test]
fn the_retry_file_fed_back_as_input_sends_exactly_those_contacts_again() {
    // Run 1: no InstanceId column (--instance-id), four contacts not found.
    let first = emulator(Config { not_found: vec!["gone-*".into()], ..Config::default() });
    let scratch = Scratch::new();
    let mut text = String::from("InitialContactId,Tier,Note\n");
    for i in 0..30 {
        text.push_str(&csv_line(&[&format!("ok-{i:02}"), "Gold", "a"]));
    }
    for i in 0..4 {
        text.push_str(&csv_line(&[&format!("gone-{i}"), &format!("T{i}"), &format!("note, \"{i}\"\nline two")]));
        text.push_str(&csv_line(&[&format!("ok-{i:02}"), "Silver", ""]));
        // a later row overrides one key of the refused contact
        text.push_str(&csv_line(&[&format!("gone-{i}"), "", "final"]));
    }
    scratch.write("in.csv", &text);
    let output = run(&scratch, &first, &["--instance-id", "inst-1"], &["in.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "failed"), 4, "{summary:#}");
    let retry = summary["retry_file"].as_str().expect("a retry file").to_string();

    // Run 2: the retry file alone, against a service that has those contacts.
    let second = emulator(Config::default());
    let output = connect_attrs(
        scratch.path(),
        &run_args(&second, &["--run-dir", "run2"], &[&retry]).iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    );
    output.assert_code(0);
    let summary = output.summary();
    assert_adds_up(&summary);
    assert_eq!(count(&summary, "updated"), 4, "{summary:#}");
    let expected: Contacts =
        expected_merge(&[&text], "inst-1").into_iter().filter(|(id, _)| id.1.starts_with("gone-")).collect();
    assert_eq!(expected.len(), 4);
    assert_eq!(expected[&("inst-1".into(), "gone-2".into())]["Note"], "final");
    assert_state(&second, &expected);
    assert_each_updated_once(&second);
    assert_eq!(second.stats().requests, 4);
}

#[test]
fn a_long_retry_file_fed_back_sends_the_same_values() {
    let first = emulator(Config { not_found: vec!["gone-*".into()], ..Config::default() });
    let scratch = Scratch::new();
    let mut text = String::from("InstanceId,InitialContactId,Key,Value\n");
    for i in 0..30 {
        text.push_str(&csv_line(&["inst", &format!("ok-{i:02}"), "Tier", "Gold"]));
    }
    for i in 0..3 {
        let id = format!("gone-{i}");
        text.push_str(&csv_line(&["inst", &id, "Tier", "Silver"]));
        text.push_str(&csv_line(&["inst", &id, "Note", "a,b \"c\" é"]));
        text.push_str(&csv_line(&["inst", &id, "Tier", "Bronze"]));
    }
    scratch.write("in.csv", &text);
    let output = run(&scratch, &first, &[], &["in.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    let retry = summary["retry_file"].as_str().expect("a retry file").to_string();
    let retry_text = scratch.read(&retry);
    assert!(retry_text.starts_with("InstanceId,InitialContactId,Key,Value\n"), "long in, long out: {retry_text}");

    let second = emulator(Config::default());
    let args = run_args(&second, &["--run-dir", "run2"], &[&retry]);
    let output = connect_attrs(scratch.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), None);
    output.assert_code(0);
    assert_adds_up(&output.summary());
    let expected: Contacts =
        expected_merge(&[&text], "").into_iter().filter(|(id, _)| id.1.starts_with("gone-")).collect();
    assert_state(&second, &expected);
}

#[test]
fn with_send_empty_the_retry_file_keeps_empty_values_and_round_trips() {
    let first = emulator(Config { not_found: vec!["gone-*".into()], ..Config::default() });
    let scratch = Scratch::new();
    let mut text = simple_wide("inst", "ok-", 20);
    text.push_str(&csv_line(&["inst", "gone-1", "Gold", "", "n"]));
    text.push_str(&csv_line(&["inst", "gone-2", "Silver", "5", ""]));
    scratch.write("in.csv", &text);
    let output = run(&scratch, &first, &["--send-empty"], &["in.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    let all = expected_merge_with(&[&text], "", true);
    let delivered: Contacts = all.clone().into_iter().filter(|(id, _)| id.1.starts_with("ok-")).collect();
    assert_state(&first, &delivered);
    let retry = summary["retry_file"].as_str().expect("a retry file").to_string();
    let retried = expected_merge_with(&[&scratch.read(&retry)], "", true);
    let refused: Contacts = all.into_iter().filter(|(id, _)| id.1.starts_with("gone-")).collect();
    assert_contacts_eq(&retried, &refused);
    assert_eq!(refused[&("inst".into(), "gone-1".into())]["Score"], "");

    let second = emulator(Config::default());
    let args = run_args(&second, &["--run-dir", "run2", "--send-empty"], &[&retry]);
    let output = connect_attrs(scratch.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), None);
    output.assert_code(0);
    assert_adds_up(&output.summary());
    assert_state(&second, &refused);
}

/// The nightly job re-runs its own command line on the retry file: with `--contact-column` the
/// retry file must still be readable by it.
#[test]
fn the_retry_file_works_with_the_command_line_that_wrote_it() {
    let first = emulator(Config { not_found: vec!["gone-*".into()], ..Config::default() });
    let scratch = Scratch::new();
    let mut text = String::from("CallId,Tier\n");
    for i in 0..20 {
        text.push_str(&csv_line(&[&format!("ok-{i:02}"), "Gold"]));
    }
    text.push_str(&csv_line(&["gone-1", "Silver"]));
    scratch.write("in.csv", &text);
    let flags = ["--instance-id", "inst", "--contact-column", "CallId"];
    let output = run(&scratch, &first, &flags, &["in.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    let retry = summary["retry_file"].as_str().expect("a retry file").to_string();

    let second = emulator(Config::default());
    let mut again: Vec<&str> = flags.to_vec();
    again.extend(["--run-dir", "run2"]);
    let args = run_args(&second, &again, &[&retry]);
    let output = connect_attrs(scratch.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), None);
    output.assert_code(0);
    assert_adds_up(&output.summary());
    let expected: Contacts =
        [(("inst".to_string(), "gone-1".to_string()), [("Tier".into(), "Silver".into())].into())].into();
    assert_state(&second, &expected);
}

/// Every contact of `inputs` fails at a first service (503, one attempt); the retry file is then
/// sent, with the same `flags`, to a second. The second must hold exactly what the same run holds
/// at a service that takes everything, and each contact once.
fn assert_retry_round_trips(inputs: &[(&str, &str)], flags: &[&str]) -> String {
    let scratch = Scratch::new();
    let names: Vec<&str> = inputs.iter().map(|(name, _)| *name).collect();
    for (name, text) in inputs {
        scratch.write(name, text);
    }
    fn with<'a>(flags: &[&'a str], extra: &[&'a str], run_dir: &'a str) -> Vec<&'a str> {
        let mut flags = flags.to_vec();
        flags.extend(["--instance-id", "inst", "--run-dir", run_dir]);
        flags.extend(extra);
        flags
    }
    let reference = emulator(Config::default());
    run(&scratch, &reference, &with(flags, &[], "reference"), &names).assert_code(0);

    let failing = emulator(Config { fail_503: 1.0, ..Config::default() });
    let output = run(&scratch, &failing, &with(flags, &["--max-attempts", "1"], "first"), &names);
    output.assert_code(1);
    let retry = output.summary()["retry_file"].as_str().expect("a retry file").to_string();
    let retry_text = scratch.read(&retry);

    let second = emulator(Config::default());
    run(&scratch, &second, &with(flags, &[], "second"), &[&retry]).assert_code(0);
    assert_state(&second, &stored(&reference.state()));
    assert_each_updated_once(&second);
    retry_text
}

/// Keys `Name` and `Value` alone would make a wide retry file read as a long one.
#[test]
fn a_retry_file_whose_keys_look_like_a_long_header_stays_long() {
    let text = "InitialContactId,Name,Value,Tier\nc1,Smith,1200,\nc3,Brown,50,\n";
    let retry = assert_retry_round_trips(&[("in.csv", text)], &[]);
    assert!(retry.starts_with("InstanceId,InitialContactId,Key,Value\n"), "{retry}");
    // With a third key the header is wide beyond doubt.
    let text = "InitialContactId,Name,Value,Tier\nc1,Smith,1200,Gold\n";
    let retry = assert_retry_round_trips(&[("in.csv", text)], &[]);
    assert!(retry.starts_with("InstanceId,InitialContactId,Name,Tier,Value\n"), "{retry}");
}

/// With `--send-empty`, an empty cell is a value: a contact missing another's key stays long.
#[test]
fn with_send_empty_contacts_of_different_keys_keep_the_long_format() {
    let inputs = [("a.csv", "InitialContactId,A\nc1,x\n"), ("b.csv", "InitialContactId,B\nc2,y\n")];
    let retry = assert_retry_round_trips(&inputs, &["--send-empty"]);
    assert!(retry.starts_with("InstanceId,InitialContactId,Key,Value\n"), "{retry}");
    // Without it an empty cell is "not given": wide is the same contacts.
    let retry = assert_retry_round_trips(&inputs, &[]);
    assert!(retry.starts_with("InstanceId,InitialContactId,A,B\n"), "{retry}");
}

/// A key named like an id column would be a second id column in a wide header.
#[test]
fn keys_named_like_the_id_columns_keep_the_long_format() {
    let text = "InitialContactId,Tier\nc1,Gold\nc2,Silver\n";
    for flags in [&["--set", "InstanceId=legacy"][..], &["--rename", "Tier=InitialContactId"]] {
        let retry = assert_retry_round_trips(&[("in.csv", text)], flags);
        assert!(retry.starts_with("InstanceId,InitialContactId,Key,Value\n"), "{flags:?}: {retry}");
    }
    // Another of the contact column's names is an attribute once InitialContactId is there.
    let retry = assert_retry_round_trips(&[("in.csv", text)], &["--set", "contact_id=x"]);
    assert!(retry.starts_with("InstanceId,InitialContactId,Tier,contact_id\n"), "{retry}");
}
