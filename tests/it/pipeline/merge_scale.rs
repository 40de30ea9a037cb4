//! The merge's promises end to end, at the default budget and at `--memory-limit 1`: several
//! inputs with different headers (wide with and without InstanceId, CRLF and gzip, long on
//! stdin), rows of a contact far apart and across inputs, `--set` and `--send-empty`, a bad row
//! in the middle. Both budgets give the same summary, the same errors.csv (lines exact, in input
//! order) and the state the model predicts; no temporary file is left behind.

use super::support::*;
use connect_attrs::emulator::Config;
use serde_json::Value;

/// Wide, with InstanceId; rows of 60 contacts in random order, some cells empty.
fn first(lcg: &mut Lcg) -> String {
    let mut text = String::from("InstanceId,InitialContactId,Tier,Score\n");
    for i in 0..400 {
        let contact = format!("s-{:03}", lcg.below(60));
        let tier = ["Gold", "", "Silver"][lcg.below(3) as usize];
        text.push_str(&csv_line(&["inst", &contact, tier, &i.to_string()]));
    }
    text
}

/// Wide, CRLF, no InstanceId column (the flag's instance), other columns in another order, a
/// value over two lines.
fn second(lcg: &mut Lcg) -> String {
    let mut text = String::from("Note,Tier,InitialContactId\r\n");
    for i in 0..300 {
        let contact = format!("s-{:03}", lcg.below(80));
        let note = if i % 7 == 0 { "two\nlines".to_string() } else { format!("n{i}") };
        let tier = ["", "Bronze"][lcg.below(2) as usize];
        text.push_str(&csv_line(&[&note, tier, &contact]).replace('\n', "\r\n").replace("two\r\nlines", "two\nlines"));
    }
    text
}

/// Long, read from stdin: one contact gets a key the API refuses, so it is in errors.csv.
fn third(lcg: &mut Lcg) -> String {
    let mut text = String::from("InitialContactId,Key,Value\n");
    for _ in 0..300 {
        let contact = format!("s-{:03}", lcg.below(90));
        let key = ["Tier", "Score", "Extra"][lcg.below(3) as usize];
        let value = ["", "long", "x"][lcg.below(3) as usize];
        text.push_str(&csv_line(&[&contact, key, value]));
    }
    text.push_str(&csv_line(&["s-005", "Bad Key", "y"]));
    text
}

/// The summary without the fields that differ from run to run.
fn counts(summary: &Value) -> Value {
    let mut summary = summary.clone();
    for key in ["elapsed_s", "achieved_rate", "started_at", "finished_at", "requests", "retries", "throttled"] {
        summary.as_object_mut().map(|o| o.remove(key));
    }
    summary
}

/// `name:line` of each row of `contact` in `text`: the line each record starts on.
fn lines_of(name: &str, text: &str, contact: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let (mut record, mut found) = (csv::StringRecord::new(), Vec::new());
    let mut line = 1;
    while reader.read_record(&mut record).unwrap() {
        if record.iter().any(|field| field == contact) {
            found.push(format!("{name}:{line}"));
        }
        // The next record starts after this one's line ends (values can hold line ends).
        line += 1 + record.iter().map(|field| field.matches('\n').count()).sum::<usize>();
    }
    found
}

#[test]
fn several_inputs_with_set_and_send_empty_give_the_same_result_at_any_memory_limit() {
    let mut lcg = Lcg::new(17);
    let (a, b, c) = (first(&mut lcg), second(&mut lcg), third(&mut lcg));
    // A ragged row in the middle of the first input: reported, and no other row is lost.
    let ragged_at = a.match_indices('\n').nth(200).unwrap().0 + 1;
    let a_with_bad = format!("{}inst,s-bad,Gold,1,extra\n{}", &a[..ragged_at], &a[ragged_at..]);
    let mut expected = expected_merge_with(&[&a, &b, &c], "inst", true);
    for attributes in expected.values_mut() {
        attributes.insert("Flag".into(), "y".into());
    }
    expected.remove(&("inst".to_string(), "s-005".to_string()));
    let mut results = Vec::new();
    for limit in [&[][..], &["--memory-limit", "1", "--temp-dir", "tmp"][..]] {
        let handle = emulator(Config::default());
        let scratch = Scratch::new();
        scratch.write("a.csv", &a_with_bad);
        scratch.write_gz("b.csv.gz", b.as_bytes());
        std::fs::create_dir(scratch.path().join("tmp")).unwrap();
        let mut extra = vec!["--instance-id", "inst", "--set", "Flag=y", "--send-empty"];
        extra.extend_from_slice(limit);
        let output = run_stdin(&scratch, &handle, &extra, &["a.csv", "b.csv.gz", "-"], Some(c.as_bytes()));
        output.assert_code(1);
        let summary = assert_summary_file(&scratch, &output);
        assert_eq!(count(&summary, "rows"), 400 + 1 + 300 + 301, "{summary:#}");
        assert_eq!(count(&summary, "bad_rows"), 1, "{summary:#}");
        assert_eq!(count(&summary, "invalid"), 1, "{summary:#}");
        assert_eq!(count(&summary, "contacts"), expected.len() as u64 + 1, "{summary:#}");
        assert!(std::fs::read_dir(scratch.path().join("tmp")).unwrap().next().is_none(), "temp files left behind");
        if !limit.is_empty() {
            assert!(output.stderr.contains("Spilled"), "the tiny budget spilled: {}", output.stderr);
        }
        assert_state(&handle, &expected);
        assert_each_updated_once(&handle);
        let mut errors = errors_csv(&scratch);
        errors.sort_by(|x, y| (&x.initial_contact_id, &x.lines).cmp(&(&y.initial_contact_id, &y.lines)));
        results.push((counts(&summary), errors));
    }
    assert_eq!(results[0], results[1], "default budget vs 1 byte");
    let bad = error_of(&results[1].1, "s-005");
    let expected_lines =
        [lines_of("a.csv", &a_with_bad, "s-005"), lines_of("b.csv.gz", &b, "s-005"), lines_of("stdin", &c, "s-005")]
            .concat();
    assert_eq!(bad.lines, expected_lines.join(";"), "every line, in input order");
    assert!(results[1].1.iter().any(|e| e.lines == "a.csv:202"), "the ragged row is reported: {:#?}", results[1].1);
}
