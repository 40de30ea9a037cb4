//! The bad-input corpus (`tests/data/bad-input/`, described in its README.md): every file through
//! `validate` and through `run` against the emulator, checked against `expected.json`.

use crate::pipeline::support::*;
use connect_attrs::emulator::{Config, Handle};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

const INSTANCE: &str = "inst";

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad-input")
}

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(corpus_dir().join("expected.json")).expect("expected.json");
    let manifest: Value = serde_json::from_str(&text).expect("expected.json is JSON");
    manifest["files"].as_array().expect("a files list").clone()
}

/// The two inputs too big to commit, written the same way every time.
fn generated(name: &str) -> Vec<u8> {
    match name {
        "field-1mb.csv" => format!(
            "InitialContactId,Tier,Note\nc1,Gold,short\nc-big,Silver,{}\nc3,Bronze,short\n",
            "x".repeat(1 << 20)
        )
        .into_bytes(),
        "columns-10000.csv" => {
            let keys: Vec<String> = (1..10_000).map(|i| format!("K{i:04}")).collect();
            let mut text = format!("InitialContactId,{}\n", keys.join(","));
            let sparse: Vec<&str> = (1..10_000).map(|i| if [1, 500, 9999].contains(&i) { "set" } else { "" }).collect();
            text.push_str(&format!("c-sparse,{}\n", sparse.join(",")));
            text.push_str(&format!("c-full,{}\n", vec!["v"; 9_999].join(",")));
            text.push_str("c-short,a,b\n");
            text.into_bytes()
        }
        other => panic!("expected.json names {other} as generated, but the test does not know how to make it"),
    }
}

fn input_of(entry: &Value) -> (String, Vec<u8>) {
    let name = entry["file"].as_str().expect("file").to_string();
    let bytes = if entry.get("generated").is_some() {
        generated(&name)
    } else {
        std::fs::read(corpus_dir().join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    (name, bytes)
}

fn number(entry: &Value, key: &str) -> u64 {
    entry[key].as_u64().unwrap_or_else(|| panic!("{}: no {key}", entry["file"]))
}

/// Everything that differs from the entry, as sentences (empty: as expected).
fn check_validate(entry: &Value, name: &str, bytes: &[u8]) -> Vec<String> {
    let scratch = Scratch::new();
    scratch.write(name, bytes);
    // --rate 10: the plan needs no quota lookup.
    let args = ["validate", "--json", "--rate", "10", "--instance-id", INSTANCE, "--run-dir", "run", name];
    let output = connect_attrs(scratch.path(), &args, None);
    let mut wrong = common(entry, name, &output);
    if entry.get("message").is_some() {
        return wrong;
    }
    // validate --json prints the plan; its `summary` is the summary.
    let summary = output.summary()["summary"].clone();
    assert_adds_up(&summary);
    for key in ["rows", "bad_rows", "contacts", "invalid"] {
        if count(&summary, key) != number(entry, key) {
            wrong.push(format!("validate: {key} is {}, expected {}", summary[key], entry[key]));
        }
    }
    let found: BTreeSet<(String, String)> =
        errors_csv(&scratch).into_iter().map(|row| (row.lines.clone(), row.error_type.clone())).collect();
    let rows = errors_csv(&scratch);
    let mut expected = BTreeSet::new();
    for error in entry["errors"].as_array().expect("errors") {
        let (lines, kind) = (error["lines"].as_str().unwrap_or(""), error["type"].as_str().unwrap_or(""));
        expected.insert((lines.to_string(), kind.to_string()));
        let part = error["message"].as_str().unwrap_or("");
        match rows.iter().find(|r| r.lines == lines && r.error_type == kind) {
            Some(row) if !row.message.contains(part) => {
                wrong.push(format!("errors.csv {lines} {kind}: message {:?} lacks {part:?}", row.message))
            }
            _ => {}
        }
        if kind == "MalformedRow" && !output.stderr.contains(&format!("{lines}: ")) {
            wrong.push(format!("stderr does not name {lines}"));
        }
    }
    if found != expected {
        wrong.push(format!("errors.csv holds {found:?}, expected {expected:?}"));
    }
    wrong
}

fn check_run(entry: &Value, name: &str, bytes: &[u8], handle: &Handle) -> Vec<String> {
    handle.reset();
    let scratch = Scratch::new();
    scratch.write(name, bytes);
    let output = run(&scratch, handle, &["--instance-id", INSTANCE], &[name]);
    let mut wrong = common(entry, name, &output);
    let stored: BTreeSet<String> =
        handle.state().instances.get(INSTANCE).map(|c| c.keys().cloned().collect()).unwrap_or_default();
    if entry.get("message").is_some() {
        if handle.stats().requests > 0 {
            wrong.push(format!("run: {} requests reached the emulator for a refused file", handle.stats().requests));
        }
        return wrong;
    }
    let summary = assert_summary_file(&scratch, &output);
    let want = match entry.get("updated").and_then(Value::as_array) {
        Some(ids) => {
            let ids: BTreeSet<String> = ids.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
            if stored != ids {
                wrong.push(format!("run: the emulator holds {stored:?}, expected {ids:?}"));
            }
            ids.len() as u64
        }
        None => number(entry, "updated_count"),
    };
    if count(&summary, "updated") != want || stored.len() as u64 != want {
        wrong.push(format!("run: {} updated ({} stored), expected {want}", summary["updated"], stored.len()));
    }
    wrong
}

/// The exit code, no panic, and for a refused file its `FILE:1:` message.
fn common(entry: &Value, name: &str, output: &Output) -> Vec<String> {
    let mut wrong = Vec::new();
    if output.code != number(entry, "exit") as i32 {
        wrong.push(format!("exit code {}, expected {}; stderr: {}", output.code, entry["exit"], tail(&output.stderr)));
    }
    if output.stderr.contains("panicked") {
        wrong.push(format!("panicked: {}", tail(&output.stderr)));
    }
    if let Some(message) = entry["message"].as_str() {
        assert!(message.starts_with(&format!("{name}:1: ")), "{name}: a whole-file message names FILE:1");
        if !output.stderr.contains(message) {
            wrong.push(format!("stderr lacks {message:?}: {}", tail(&output.stderr)));
        }
        if !output.stdout.is_empty() {
            wrong.push("a refused file printed a summary".into());
        }
    }
    wrong
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(600);
    text.get(start..).unwrap_or(text)
}

#[test]
fn every_committed_file_is_in_the_manifest_and_there_are_at_least_30() {
    let listed: BTreeSet<String> = manifest()
        .iter()
        .filter(|e| e.get("generated").is_none())
        .map(|e| e["file"].as_str().unwrap_or_default().to_string())
        .collect();
    let committed: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .expect("the corpus dir")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .filter(|name| !["expected.json", "README.md", ".gitattributes"].contains(&name.as_str()))
        .collect();
    assert_eq!(listed, committed, "expected.json and tests/data/bad-input/ must list the same files");
    assert!(manifest().len() >= 30, "the issue asks for at least 30 inputs");
}

#[test]
fn every_bad_input_has_its_expected_outcome_and_nothing_panics() {
    let handle = emulator(Config::default());
    let mut failures = Vec::new();
    for entry in manifest() {
        let (name, bytes) = input_of(&entry);
        let mut wrong = check_validate(&entry, &name, &bytes);
        wrong.extend(check_run(&entry, &name, &bytes, &handle).into_iter().map(|w| format!("run: {w}")));
        failures.extend(wrong.into_iter().map(|w| format!("{name}: {w}")));
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
