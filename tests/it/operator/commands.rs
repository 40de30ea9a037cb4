//! The commands around the job: completions, man pages, and JSON logs for log shippers.

use crate::pipeline::support::*;
use connect_attrs::emulator::Config;

#[test]
fn completions_for_each_shell_mention_the_commands() {
    let scratch = Scratch::new();
    for shell in ["bash", "zsh", "fish"] {
        let output = connect_attrs(scratch.path(), &["completions", shell], None);
        output.assert_code(0);
        assert!(output.stdout.contains("run") && output.stdout.contains("validate"), "{shell}: {}", output.stdout);
    }
    connect_attrs(scratch.path(), &["completions", "tcsh"], None).assert_code(2);
}

#[test]
fn man_prints_roff_pages() {
    let scratch = Scratch::new();
    let page = connect_attrs(scratch.path(), &["man"], None);
    page.assert_code(0);
    assert!(page.stdout.contains(".TH connect-attrs 1") && page.stdout.contains("run"), "{}", page.stdout);
    let run_page = connect_attrs(scratch.path(), &["man", "run"], None);
    run_page.assert_code(0);
    assert!(run_page.stdout.contains("metrics\\-file"), "{}", run_page.stdout);
}

#[test]
fn log_format_json_makes_every_stderr_line_json() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let mut text = simple_wide("inst", "j-", 5);
    text.push_str("inst,ragged\n");
    scratch.write("in.csv", text);
    let mut args = vec!["--log-format".to_string(), "json".to_string()];
    args.extend(run_args(&handle, &[], &["in.csv"]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = connect_attrs(scratch.path(), &args, None);
    output.assert_code(1);
    let lines: Vec<&str> = output.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{}", output.stderr);
    for line in lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        assert!(value["level"].is_string() && value["fields"]["message"].is_string(), "{line}");
    }
    assert!(output.stderr.contains("malformed"), "{}", output.stderr);
}
