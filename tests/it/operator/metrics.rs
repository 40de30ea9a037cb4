//! `--metrics-file`: the Prometheus textfile after a run.

use crate::pipeline::support::*;
use connect_attrs::emulator::Config;
use std::collections::BTreeMap;

/// `name{labels}` -> value, checking that every sample has HELP and TYPE lines before it.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut described = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ").or_else(|| line.strip_prefix("# TYPE ")) {
            described.push(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(described.iter().filter(|d| *d == name).count() == 2, "{name} lacks HELP or TYPE:\n{text}");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number in {line:?}"));
        samples.insert(series.to_string(), value);
    }
    samples
}

#[test]
fn a_run_leaves_a_metrics_file_that_matches_its_summary() {
    let handle = emulator(Config { not_found: vec!["gone-*".into()], ..Config::default() });
    let scratch = Scratch::new();
    let mut text = simple_wide("inst", "m-", 30);
    text.push_str(&csv_line(&["inst", "gone-1", "Gold", "1", "x"]));
    scratch.write("in.csv", &text);
    let output = run(&scratch, &handle, &["--metrics-file", "node/connect_attrs.prom"], &["in.csv"]);
    // The directory of the metrics file must exist: create it and run again.
    output.assert_code(2);
    assert!(output.stderr.contains("connect_attrs"), "{}", output.stderr);
    std::fs::create_dir(scratch.path().join("node")).unwrap();
    std::fs::remove_dir_all(scratch.run_dir()).ok();
    let output = run(&scratch, &handle, &["--metrics-file", "node/connect_attrs.prom"], &["in.csv"]);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    let metrics = parse(&scratch.read("node/connect_attrs.prom"));
    let get = |series: &str| *metrics.get(series).unwrap_or_else(|| panic!("no {series} in {metrics:#?}"));
    assert_eq!(get("connect_attrs_contacts{outcome=\"updated\"}"), 30.0);
    assert_eq!(get("connect_attrs_contacts{outcome=\"failed\"}"), 1.0);
    assert_eq!(get("connect_attrs_contacts{outcome=\"pending\"}"), 0.0);
    assert_eq!(get("connect_attrs_requests_total"), count(&summary, "requests") as f64);
    assert_eq!(get("connect_attrs_throttled_total"), 0.0);
    assert_eq!(get("connect_attrs_retries_total"), count(&summary, "retries") as f64);
    assert_eq!(get("connect_attrs_exit_code"), 1.0);
    assert_eq!(get("connect_attrs_running"), 0.0);
    assert!(get("connect_attrs_duration_seconds") >= 0.0);
    assert!(get("connect_attrs_achieved_rate") > 0.0);
    assert!(get("connect_attrs_last_success_timestamp_seconds") > 1.7e9);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(scratch.path().join("node/connect_attrs.prom")).unwrap().permissions().mode();
        // Counts only: node_exporter, a user of its own, reads it.
        assert_eq!(mode & 0o777, 0o644);
    }
    let leftovers: Vec<_> =
        std::fs::read_dir(scratch.path().join("node")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["connect_attrs.prom"]);
}
