//! Every way in: wide, long, gzip, stdin, several inputs. The emulator must end up holding exactly
//! the merge of the input (later rows win per key, empty cells not given), each contact sent once.

use super::support::*;
use connect_attrs::emulator::Config;

/// A wide file where each contact has three rows far apart, with overrides, empty cells, two
/// instances sharing a contact id, and values that need quoting.
fn scattered_wide(contacts: usize) -> String {
    let mut rng = Lcg::new(1);
    let mut text = String::from("InstanceId,InitialContactId,Tier,Score,Note,Flag\n");
    for pass in 0..3 {
        for i in 0..contacts {
            let instance = if i % 2 == 0 { "inst-a" } else { "inst-b" };
            // contact ids repeat across the two instances: (inst-a, c-0000) and (inst-b, c-0000)
            let contact = format!("c-{:04}", i / 2);
            let mut cell = |value: String| {
                if rng.below(3) == 0 { String::new() } else { value }
            };
            let tier = cell(format!("tier-{pass}-{i}"));
            let score = cell(format!("{}", pass * 100 + i));
            let note = cell(format!("pass {pass}, \"quoted\"\nsecond line é ✓"));
            let flag = if pass == 2 { cell("yes".into()) } else { String::new() };
            text.push_str(&csv_line(&[instance, &contact, &tier, &score, &note, &flag]));
        }
    }
    text
}

#[test]
fn wide_rows_far_apart_merge_with_later_rows_winning() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = scattered_wide(120);
    scratch.write("in.csv", &text);
    let output = run(&scratch, &handle, &[], &["in.csv"]);
    output.assert_code(0);
    let summary = assert_summary_file(&scratch, &output);
    let expected = expected_merge(&[&text], "");
    assert_eq!(count(&summary, "rows"), 360, "{summary:#}");
    assert_eq!(count(&summary, "bad_rows"), 0);
    assert_eq!(count(&summary, "contacts"), 120);
    assert_eq!(count(&summary, "updated"), expected.len() as u64, "{summary:#}");
    assert_state(&handle, &expected);
    assert_each_updated_once(&handle);
    assert!(summary["retry_file"].is_null(), "{summary:#}");
    assert!(!scratch.run_dir().join("retry.csv").exists());
}

fn long_text() -> String {
    let mut rng = Lcg::new(2);
    let mut text = String::from("InstanceId,InitialContactId,Key,Value\n");
    for row in 0..600 {
        let contact = format!("long-{:03}", rng.below(80));
        let key = ["Tier", "Score", "Note", "Region"][rng.below(4) as usize];
        let value = match rng.below(5) {
            0 => String::new(),
            _ => format!("v{row}, \"x\""),
        };
        text.push_str(&csv_line(&["inst", &contact, key, &value]));
    }
    // Only empty values: nothing to send, skipped as empty, exit still 0.
    text.push_str(&csv_line(&["inst", "long-only-empty", "Tier", ""]));
    text
}

#[test]
fn long_format_merges_key_value_rows() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = long_text();
    scratch.write("in.csv", &text);
    let output = run(&scratch, &handle, &[], &["in.csv"]);
    output.assert_code(0);
    let summary = assert_summary_file(&scratch, &output);
    let expected = expected_merge(&[&text], "");
    assert_eq!(summary["format"], "long", "{summary:#}");
    assert_eq!(count(&summary, "rows"), 601);
    assert_eq!(count(&summary, "updated"), expected.len() as u64);
    assert_eq!(count(&summary, "skipped_empty"), 1, "{summary:#}");
    assert_state(&handle, &expected);
    assert_each_updated_once(&handle);
    assert!(handle.state().contact("inst", "long-only-empty").is_none(), "a contact with nothing to set is not sent");
}

#[test]
fn gzipped_input_is_read_like_plain() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = scattered_wide(60);
    scratch.write_gz("export.csv.gz", text.as_bytes());
    let output = run(&scratch, &handle, &[], &["export.csv.gz"]);
    output.assert_code(0);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "rows"), 180, "{summary:#}");
    assert_state(&handle, &expected_merge(&[&text], ""));
    assert_each_updated_once(&handle);
}

#[test]
fn stdin_input_is_read_and_named_stdin_in_the_error_report() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let good = simple_wide("inst", "s-", 50);
    // One ragged row on line 4 of stdin.
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(3, "inst,ragged-row");
    let text = lines.join("\n") + "\n";
    let output = run_stdin(&scratch, &handle, &[], &["-"], Some(text.as_bytes()));
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "bad_rows"), 1, "{summary:#}");
    assert_eq!(count(&summary, "updated"), 50, "{summary:#}");
    assert_state(&handle, &expected_merge(&[&good], ""));
    let errors = errors_csv(&scratch);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].error_type, "MalformedRow");
    assert_eq!(errors[0].lines, "stdin:4");
}

#[test]
fn gzipped_stdin_is_read_too() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = simple_wide("inst", "z-", 40);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, text.as_bytes()).unwrap();
    let gz = encoder.finish().unwrap();
    let output = run_stdin(&scratch, &handle, &[], &["-"], Some(&gz));
    output.assert_code(0);
    assert_summary_file(&scratch, &output);
    assert_state(&handle, &expected_merge(&[&text], ""));
}

#[test]
fn several_inputs_merge_and_the_later_input_wins() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let mut wide = String::from("InitialContactId,Tier,Score\n");
    let mut long = String::from("InitialContactId,Key,Value\n");
    for i in 0..40 {
        wide.push_str(&csv_line(&[&format!("m-{i:02}"), "from-wide", &i.to_string()]));
        if i % 2 == 0 {
            long.push_str(&csv_line(&[&format!("m-{i:02}"), "Tier", "from-long"]));
            long.push_str(&csv_line(&[&format!("m-{i:02}"), "Extra", "only-long"]));
        }
    }
    // A contact only in the second input, and an invalid one split across both inputs.
    long.push_str(&csv_line(&["m-new", "Tier", "new"]));
    wide.push_str(&csv_line(&["m-bad", "x", "1"]));
    long.push_str(&csv_line(&["m-bad", "Bad Key", "y"]));
    scratch.write("a.csv", &wide);
    scratch.write("b.csv", &long);
    let output = run(&scratch, &handle, &["--instance-id", "inst"], &["a.csv", "b.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "rows"), 41 + 42, "{summary:#}");
    assert_eq!(count(&summary, "contacts"), 42, "{summary:#}");
    assert_eq!(count(&summary, "invalid"), 1, "{summary:#}");
    let mut expected = expected_merge(&[&wide, &long], "inst");
    expected.remove(&("inst".to_string(), "m-bad".to_string()));
    assert_eq!(expected[&("inst".into(), "m-00".into())]["Tier"], "from-long");
    assert_eq!(expected[&("inst".into(), "m-01".into())]["Tier"], "from-wide");
    assert_state(&handle, &expected);
    assert_each_updated_once(&handle);
    let errors = errors_csv(&scratch);
    let bad = error_of(&errors, "m-bad");
    assert_eq!(bad.error_type, "KeyCharacters");
    assert_eq!(bad.lines, "a.csv:42;b.csv:43", "{bad:?}");
}

#[test]
fn crlf_files_keep_physical_line_numbers_and_lose_no_carriage_returns_into_values() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = "InstanceId,InitialContactId,Tier,Note\r\n\
                inst,cr-1,Gold,\"two\r\nlines\"\r\n\
                inst,cr-2,Silver,plain\r\n\
                inst,cr-3,Bronze\r\n\
                inst,cr-4,,\"quoted last\"\r\n\
                inst,cr-5,Gold,\r\n";
    // line 1 header; cr-1 on lines 2-3; cr-2 line 4; ragged line 5; cr-4 line 6; cr-5 line 7
    scratch.write("in.csv", text);
    let output = run(&scratch, &handle, &[], &["in.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "bad_rows"), 1, "{summary:#}");
    let errors = errors_csv(&scratch);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].lines, "in.csv:5", "{errors:#?}");
    let state = handle.state();
    let attrs = |c: &str| state.contact("inst", c).map(|s| s.attributes.clone()).unwrap_or_default();
    assert_eq!(attrs("cr-1")["Note"], "two\r\nlines");
    assert_eq!(attrs("cr-2")["Note"], "plain");
    assert_eq!(attrs("cr-4")["Note"], "quoted last");
    assert!(!attrs("cr-4").contains_key("Tier"));
    assert_eq!(attrs("cr-5").get("Note"), None, "an empty last cell is not given: {:?}", attrs("cr-5"));
    assert_eq!(attrs("cr-5")["Tier"], "Gold");
}

#[test]
fn a_byte_order_mark_before_the_header_is_not_part_of_the_contact_column() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = simple_wide("inst", "bom-", 10);
    scratch.write_gz("in.csv.gz", format!("\u{feff}{text}").as_bytes());
    let output = run(&scratch, &handle, &[], &["in.csv.gz"]);
    output.assert_code(0);
    assert_summary_file(&scratch, &output);
    assert_state(&handle, &expected_merge(&[&text], ""));
}

#[test]
fn a_truncated_gzip_input_is_not_a_clean_run() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = simple_wide("inst", "gz-", 5000);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, text.as_bytes()).unwrap();
    let gz = encoder.finish().unwrap();
    scratch.write("in.csv.gz", &gz[..gz.len() / 2]);
    let output = run(&scratch, &handle, &[], &["in.csv.gz"]);
    assert_ne!(output.code, 0, "half a file must not look like a clean run\n{}", output.stderr);
    if let Ok(summary) = serde_json::from_str::<serde_json::Value>(&output.stdout) {
        assert_adds_up(&summary);
        let errors = errors_csv(&scratch);
        assert!(errors.iter().any(|r| r.lines.starts_with("in.csv.gz:")), "{errors:#?}");
    }
}

#[test]
fn a_file_with_nothing_to_send_finishes_cleanly() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("header-only.csv", "InstanceId,InitialContactId,Tier\n");
    let output = run(&scratch, &handle, &[], &["header-only.csv"]);
    output.assert_code(0);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "contacts"), 0, "{summary:#}");
    assert_eq!(handle.stats().requests, 0);

    let scratch = Scratch::new();
    scratch.write("all-invalid.csv", "InstanceId,InitialContactId,Bad Key\ninst,c-1,x\n");
    let output = run(&scratch, &handle, &[], &["all-invalid.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "invalid"), 1, "{summary:#}");
    assert_eq!(handle.stats().requests, 0);
}

#[test]
fn rows_without_an_instance_cell_use_the_instance_id_flag() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = "InstanceId,InitialContactId,Tier\n,c-1,Gold\nother,c-1,Silver\n,c-2,Bronze\n,c-1,Platinum\n";
    scratch.write("in.csv", text);
    let output = run(&scratch, &handle, &["--instance-id", "default"], &["in.csv"]);
    output.assert_code(0);
    assert_summary_file(&scratch, &output);
    assert_state(&handle, &expected_merge(&[text], "default"));
}
