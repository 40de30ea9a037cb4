//! `validate` prints the plan of the run: text by default, JSON with `--json`.

use crate::pipeline::support::*;
use connect_attrs::emulator::Config;
use serde_json::Value;

/// A file with 12 valid contacts in two instances, one invalid key and one ragged row.
fn export(scratch: &Scratch) {
    let mut text = String::from("InstanceId,InitialContactId,Tier,Score,Bad.Key\n");
    for i in 0..12 {
        let instance = if i % 2 == 0 { "inst-a" } else { "inst-b" };
        let score = if i == 5 { "x".repeat(100) } else { i.to_string() };
        text.push_str(&csv_line(&[instance, &format!("c-{i:02}"), "Gold", &score, ""]));
    }
    text.push_str("inst-a,c-bad,Gold,1,oops\n"); // line 14: KeyCharacters
    text.push_str("inst-a,ragged\n"); // line 15: MalformedRow
    scratch.write("export.csv", text);
}

fn validate(scratch: &Scratch, handle: &connect_attrs::emulator::Handle, extra: &[&str]) -> Output {
    let mut args = vec!["validate", "--run-dir", "run"];
    args.extend_from_slice(extra);
    args.push("export.csv");
    let env = [("AWS_ENDPOINT_URL", handle.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    connect_attrs_env(scratch.path(), &args, None, &env)
}

#[test]
fn validate_prints_the_plan_for_people() {
    let handle = emulator(Config { rate: Some(20.0), ..Config::default() });
    let scratch = Scratch::new();
    export(&scratch);
    let output = validate(&scratch, &handle, &[]);
    output.assert_code(1);
    let text = &output.stdout;
    for expected in [
        "inputs      export.csv\n",
        "rows        14 (1 malformed)\n",
        "contacts    13 in 2 instance(s): 12 to send, 1 invalid, 0 with nothing to send\n",
        "attributes  per contact: min 2, median 2, max 2\n",
        "largest     113 bytes (c-05 in inst-b; the limit is 32768)\n",
        "problem     KeyCharacters: 1 (first: export.csv:14)\n",
        "problem     MalformedRow: 1 (first: export.csv:15)\n",
        "ceiling     20/s burst 30 (the account's quota)\n",
        "duration    about 1s for 12 requests at 20/s\n",
    ] {
        assert!(text.contains(expected), "stdout should hold {expected:?}:\n{text}\nstderr:\n{}", output.stderr);
    }
    assert!(!text.contains("warning"), "{text}");
    // summary.json stays in the run directory; nothing was updated.
    let summary: Value = serde_json::from_str(&scratch.read("run/summary.json")).unwrap();
    assert_eq!(summary["valid"], 12);
    assert_eq!(handle.stats().accepted, 0);
}

#[test]
fn validate_json_with_rate_and_window_warns_when_the_night_is_too_short() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    export(&scratch);
    let output = validate(&scratch, &handle, &["--json", "--rate", "0.001", "--window", "2h"]);
    output.assert_code(1);
    let plan: Value = serde_json::from_str(&output.stdout).expect("stdout is the plan JSON");
    assert_eq!(plan["ceiling"]["source"], "flag");
    assert_eq!(plan["ceiling"]["rate"], 0.001);
    assert_eq!(plan["duration_s"], 12_000.0);
    assert_eq!(plan["window_s"], 7200.0);
    let warnings = plan["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{plan:#}");
    assert!(warnings[0].as_str().unwrap().contains("longer than the --window of 2h00m"), "{plan:#}");
    assert_eq!(plan["problems"]["KeyCharacters"]["first"][0], "export.csv:14");
    assert_eq!(plan["summary"]["invalid"], 1);
    assert_eq!(plan["summary"]["exit_code"], 1);
    let stored: Value = serde_json::from_str(&scratch.read("run/summary.json")).unwrap();
    assert_eq!(plan["summary"], stored);
    assert_eq!(handle.stats().requests, 0, "with --rate there is no quota lookup");
}

#[test]
fn validate_without_credentials_or_region_falls_back_and_says_so() {
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "c-", 4));
    let output = connect_attrs_env(
        scratch.path(),
        &["validate", "--json", "--run-dir", "run", "in.csv"],
        None,
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", ""), ("AWS_REGION", "")],
    );
    output.assert_code(0);
    let plan: Value = serde_json::from_str(&output.stdout).expect("stdout is the plan JSON");
    assert_eq!(plan["ceiling"]["source"], "fallback", "{plan:#}");
    assert_eq!(plan["ceiling"]["rate"], 2.0);
    assert!(plan["ceiling"]["note"].as_str().unwrap().contains("cannot read the account's quota"), "{plan:#}");
    assert_eq!(plan["summary"]["valid"], 4);
}
