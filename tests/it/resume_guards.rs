//! What keeps a resume from sending a contact twice or losing the earlier session's outputs: one
//! session of a run at a time (the run directory's lock), a journal that a crash cut short
//! mid-line appended to on a line of its own, a refused resume that leaves the run as it was, a
//! resume that would send elsewhere than the run did; and a printed resume command that works.

use crate::pipeline::support::{Output, Scratch, connect_attrs, emulator, spawn_connect_attrs};
use crate::resume::{INSTANCE, args, first_run_under_way};
use connect_attrs::emulator::{Config, Handle};
use std::io::Write;
use std::time::Duration;

/// `run` of `wide.csv` in `scratch` (`--run-dir run`), or `--resume run` of it, then `extra`.
fn session(scratch: &Scratch, handle: &Handle, first: bool, extra: &[&str]) -> Output {
    session_on(scratch, handle, first, INSTANCE, extra)
}

/// [`session`] with `--instance-id instance`.
fn session_on(scratch: &Scratch, handle: &Handle, first: bool, instance: &str, extra: &[&str]) -> Output {
    let url = handle.url();
    let run = if first { "--run-dir" } else { "--resume" };
    let mut args = vec!["run", "--endpoint-url", &url, run, "run", "--rate", "1000", "--instance-id", instance];
    args.extend(extra);
    args.push("wide.csv");
    connect_attrs(scratch.path(), &args, None)
}

/// `n` contacts `c-0`.. with a Tier.
fn wide(scratch: &Scratch, n: usize) {
    let rows: String = (0..n).map(|i| format!("c-{i},T{}\n", i % 3)).collect();
    scratch.write("wide.csv", format!("InitialContactId,Tier\n{rows}"));
}

/// A resume started while the first run still sends is refused at once (exit 2), naming the run
/// directory and the first run's process; the first run goes on to its end, no contact sent twice.
#[test]
fn a_resume_while_the_run_still_sends_is_refused_and_sends_nothing() {
    let (scratch, handle, child) = first_run_under_way();
    let resumed = args(&handle, 1);
    let resumed: Vec<&str> = resumed.iter().map(String::as_str).collect();
    let refused = connect_attrs(scratch.path(), &resumed, None);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let expected = format!("the run directory run is in use by another connect-attrs (pid {})", child.id());
    assert!(refused.stderr.contains(&expected), "{}", refused.stderr);
    assert!(refused.stdout.is_empty(), "no summary for a refused resume: {}", refused.stdout);

    let first = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "the first run ends with its refused contacts: {stderr}");
    for contacts in handle.state().instances.values() {
        assert!(contacts.values().all(|c| c.updates == 1), "a contact was sent twice");
    }
    assert!(scratch.path().join("run/retry.csv").is_file(), "the first run's outputs are whole");
}

/// A `kill -9` cut the journal's last line in half. The resume sends that contact again (its
/// line is lost: "a kill -9 loses at most the last second"), and the resume after it sends
/// nothing: the first resume's entry went on a line of its own, not onto the fragment.
#[test]
fn a_journal_torn_mid_line_costs_one_resend_not_one_per_resume() {
    let scratch = Scratch::new();
    wide(&scratch, 20);
    let handle = emulator(Config::default());
    session(&scratch, &handle, true, &[]).assert_code(0);
    let journal = scratch.path().join("run/journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let last = text.trim_end().rsplit('\n').next().unwrap().to_string();
    std::fs::write(&journal, &text[..text.len() - 1 - last.len() / 2]).unwrap();

    let first = session(&scratch, &handle, false, &[]);
    let summary = first.assert_code(0).summary();
    assert_eq!((summary["updated"].as_u64(), summary["already_done"].as_u64()), (Some(1), Some(19)), "{summary}");
    let second = session(&scratch, &handle, false, &[]);
    let summary = second.assert_code(0).summary();
    assert_eq!((summary["updated"].as_u64(), summary["already_done"].as_u64()), (Some(0), Some(20)), "{summary}");
    let updates: Vec<u64> = handle.state().instances[INSTANCE].values().map(|c| c.updates).collect();
    assert_eq!(updates.iter().filter(|&&n| n == 2).count(), 1, "only the torn line's contact twice: {updates:?}");
    assert!(updates.iter().all(|&n| n <= 2), "{updates:?}");
}

/// The run directory's files and their contents, but for the lock's (the pid of its last holder).
fn run_dir_files(scratch: &Scratch) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(scratch.run_dir())
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let text = if name == "run.lock" { String::new() } else { std::fs::read_to_string(entry.path()).unwrap() };
            (name, text)
        })
        .collect();
    files.sort();
    files
}

/// A resume refused on its options once it has started reading (a typo in `--columns`: exit 2,
/// nothing sent) leaves the run directory as it was: the earlier session's retry.csv, summary.json
/// and errors.csv with it. The resume that follows, without the typo, writes them anew.
#[test]
fn a_resume_refused_on_its_options_leaves_the_earlier_outputs() {
    let scratch = Scratch::new();
    scratch.write("wide.csv", "InitialContactId,Tier\nc-1,Gold\ngone-1,Silver\nc-2,Bronze\n");
    let handle = emulator(Config { not_found: vec!["gone-*".into()], ..Config::default() });
    session(&scratch, &handle, true, &[]).assert_code(1);
    let before = run_dir_files(&scratch);
    let names: Vec<&str> = before.iter().map(|(name, _)| name.as_str()).collect();
    assert!(names.contains(&"retry.csv") && names.contains(&"summary.json"), "{names:?}");

    let refused = session(&scratch, &handle, false, &["--columns", "Tir"]);
    refused.assert_code(2);
    assert!(refused.stderr.contains("Tir"), "{}", refused.stderr);
    assert_eq!(run_dir_files(&scratch), before, "the refused resume changed the run directory");
    assert_eq!(handle.stats().requests, 3, "nothing sent by the refused resume");

    let summary = session(&scratch, &handle, false, &[]).assert_code(1).summary();
    assert_eq!((summary["already_done"].as_u64(), summary["already_failed"].as_u64()), (Some(3), Some(1)));
    assert!(scratch.read("run/retry.csv").contains("gone-1"));
    assert!(scratch.read("run/errors.csv").contains("gone-1"));
}

/// A resume that would send elsewhere than the run did (another endpoint and region, or another
/// `--instance-id`) is refused with exit 2, naming each change; it used to count every journalled
/// contact as done, send nothing and exit 0. With `--force` it goes on, and the contacts the
/// journal holds are not sent again.
#[test]
fn a_resume_that_would_send_elsewhere_is_refused_unless_forced() {
    let scratch = Scratch::new();
    wide(&scratch, 5);
    let handle = emulator(Config::default());
    session(&scratch, &handle, true, &[]).assert_code(0);
    let other = emulator(Config { region: "eu-west-2".into(), ..Config::default() });

    let refused = session(&scratch, &other, false, &["--region", "eu-west-2"]);
    refused.assert_code(2);
    let endpoint = format!("the endpoint was {}/, now {}/", handle.url(), other.url());
    assert!(refused.stderr.contains(&endpoint), "{}", refused.stderr);
    assert!(refused.stderr.contains("the region was us-east-1, now eu-west-2"), "{}", refused.stderr);
    let refused = session_on(&scratch, &handle, false, "inst-other", &[]);
    refused.assert_code(2);
    let instance = format!("the default instance (--instance-id) was {INSTANCE}, now inst-other");
    assert!(refused.stderr.contains(&instance), "{}", refused.stderr);
    assert_eq!((handle.stats().requests, other.stats().requests), (5, 0), "nothing sent by a refused resume");

    let forced = session(&scratch, &other, false, &["--region", "eu-west-2", "--force"]);
    let summary = forced.assert_code(0).summary();
    assert!(forced.stderr.contains("resuming although it would send elsewhere"), "{}", forced.stderr);
    assert_eq!((summary["already_done"].as_u64(), summary["updated"].as_u64()), (Some(5), Some(0)), "{summary}");
    assert_eq!(other.stats().requests, 0);
}

/// A run that read stdin, stopped by SIGTERM: its resume command has `--force` (a resume of stdin
/// is refused without it) and says why, and run with the same data on stdin it finishes the job,
/// no contact sent twice.
#[test]
fn the_resume_command_of_a_stdin_run_resumes_it() {
    let scratch = Scratch::new();
    let rows: String = (0..3000).map(|i| format!("c-{i},T{}\n", i % 7)).collect();
    let data = format!("InitialContactId,Tier\n{rows}");
    let handle = emulator(Config::default());
    let url = handle.url();
    let first = ["run", "--endpoint-url", &url, "--run-dir", "run", "--rate", "400", "--burst", "50"];
    let first: Vec<&str> = first.iter().copied().chain(["--instance-id", INSTANCE, "-"]).collect();
    let mut child = spawn_connect_attrs(scratch.path(), &first, true, &[]);
    child.stdin.take().unwrap().write_all(data.as_bytes()).unwrap();
    while handle.stats().accepted < 300 {
        assert!(child.try_wait().ok().flatten().is_none(), "the run ended before 300 contacts were accepted");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let stopped = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("resumed only by feeding the same data to stdin again, with --force"), "{stderr}");

    let summary: serde_json::Value = serde_json::from_slice(&stopped.stdout).unwrap();
    let command = summary["resume_command"].as_str().unwrap();
    assert!(command.contains(" --resume run --force ") && !command.contains('\''), "{command}");
    let argv: Vec<&str> = command.split(' ').collect();
    assert_eq!(argv[0], env!("CARGO_BIN_EXE_connect-attrs"));
    let resumed = connect_attrs(scratch.path(), &argv[1..], Some(data.as_bytes()));
    let summary = resumed.assert_code(0).summary();
    assert_eq!(summary["contacts"].as_u64(), Some(3000), "{summary}");
    let contacts = &handle.state().instances[INSTANCE];
    assert_eq!(contacts.len(), 3000);
    assert!(contacts.values().all(|c| c.updates == 1), "a contact was sent twice");
}
