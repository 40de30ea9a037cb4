//! Crash-safe runs: a run killed with SIGKILL at random moments and resumed each time ends with
//! exactly the merged input stored, no contact sent more than 1 + kills times, and retry.csv and
//! errors.csv holding exactly the contacts that failed. Also: SIGTERM stops cleanly (exit 3) and a
//! resume with changed inputs is refused.

use crate::pipeline::support::{
    Lcg, Scratch, assert_contacts_eq, connect_attrs, emulator, errors_csv, expected_merge, read_model_of,
    spawn_connect_attrs, stored,
};
use connect_attrs::emulator::{Config, Handle};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

pub(crate) const INSTANCE: &str = "inst-kill";

pub(crate) fn args(handle: &Handle, session: usize) -> Vec<String> {
    args_with(handle, session, &[])
}

fn args_with(handle: &Handle, session: usize, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["run".into(), "--endpoint-url".into(), handle.url()];
    if session == 0 {
        args.extend(["--run-dir".into(), "run".into()]);
    } else {
        args.extend(["--resume".into(), "run".into()]);
    }
    let rest =
        ["--rate", "400", "--burst", "50", "--instance-id", INSTANCE, "--retry-base-ms", "20", "wide.csv", "long.csv"];
    args.extend(extra.iter().chain(rest.iter()).map(|s| s.to_string()));
    args
}

/// 3,000 contacts over two inputs; every 97th contact is one the service says does not exist.
pub(crate) fn inputs(scratch: &Scratch) -> BTreeSet<String> {
    let mut wide = String::from("InitialContactId,Tier,Score\n");
    let mut long = String::from("InitialContactId,Key,Value\n");
    let mut gone = BTreeSet::new();
    for i in 0..3000 {
        let id = if i % 97 == 50 { format!("gone-{i}") } else { format!("c-{i}") };
        if id.starts_with("gone") {
            gone.insert(id.clone());
        }
        wide.push_str(&format!("{id},T{},{}\n", i % 7, i * 3));
        if i % 3 == 0 {
            long.push_str(&format!("{id},Tier,L{}\n{id},Extra,x{i}\n", i % 5));
        }
    }
    scratch.write("wide.csv", wide);
    scratch.write("long.csv", long);
    gone
}

/// Waits (polling the emulator, not the clock) until `accepted` reaches `at`, or the child ends.
fn kill_when_accepted(handle: &Handle, child: &mut std::process::Child, at: u64) -> bool {
    loop {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        if handle.stats().accepted >= at {
            let _ = child.kill();
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn killed_runs_resume_until_done_without_losing_or_repeating_contacts() {
    killed_runs_resume_until_done(&[]);
}

/// The same with a budget so small the merge spills to partition files in every session.
#[test]
fn killed_runs_with_spilled_merges_resume_until_done() {
    killed_runs_resume_until_done(&["--memory-limit", "64KiB"]);
}

fn killed_runs_resume_until_done(extra: &[&str]) {
    let scratch = Scratch::new();
    let gone = inputs(&scratch);
    let handle = emulator(Config { not_found: vec!["gone-*".into()], ..Config::default() });
    let mut random = Lcg::new(20261125);
    let mut kill_points: Vec<u64> = (0..3).map(|_| 200 + random.below(2400)).collect();
    kill_points.sort_unstable();

    let mut kills: u64 = 0;
    for (session, point) in kill_points.iter().enumerate() {
        let args = args_with(&handle, session, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = spawn_connect_attrs(scratch.path(), &args, false, &[]);
        if kill_when_accepted(&handle, &mut child, *point) {
            kills += 1;
        }
    }
    let last = args_with(&handle, kill_points.len(), extra);
    let last: Vec<&str> = last.iter().map(String::as_str).collect();
    let output = connect_attrs(scratch.path(), &last, None);
    assert_eq!(output.code, 1, "the final resume ends with the refused contacts: {}", output.stderr);
    assert!(kills >= 2, "only {kills} kills landed");

    // The service holds exactly the merged input of every contact that exists.
    let mut expected = expected_merge(&[&scratch.read("wide.csv"), &scratch.read("long.csv")], INSTANCE);
    expected.retain(|(_, contact), _| !gone.contains(contact));
    assert_contacts_eq(&stored(&handle.state()), &expected);
    for contacts in handle.state().instances.values() {
        for (id, contact) in contacts {
            assert!(contact.updates <= 1 + kills, "{id} was updated {} times after {kills} kills", contact.updates);
        }
    }

    // The retry file and the error report hold exactly the contacts that failed.
    let retried: BTreeSet<String> =
        read_model_of(&scratch.path().join("run/retry.csv")).into_keys().map(|(_, c)| c).collect();
    assert_eq!(retried, gone);
    let reported: BTreeSet<String> = errors_csv(&scratch).into_iter().map(|row| row.initial_contact_id).collect();
    assert_eq!(reported, gone);

    let summary: Value = output.summary();
    let n = |key: &str| summary[key].as_u64().unwrap_or_else(|| panic!("no {key} in {summary}"));
    assert_eq!(n("contacts"), 3000);
    assert_eq!(n("contacts"), n("updated") + n("failed") + n("invalid") + n("skipped") + n("already_done"));
    assert!(n("already_done") > 0, "{summary}");
}

/// The inputs written, a first run started against an emulator where `gone-*` contacts are not
/// found, and 300 contacts accepted: a run in the middle of sending.
pub(crate) fn first_run_under_way() -> (Scratch, Handle, std::process::Child) {
    let scratch = Scratch::new();
    inputs(&scratch);
    let handle = emulator(Config { not_found: vec!["gone-*".into()], ..Config::default() });
    let first = args(&handle, 0);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let mut child = spawn_connect_attrs(scratch.path(), &first, false, &[]);
    while handle.stats().accepted < 300 {
        assert!(child.try_wait().ok().flatten().is_none(), "the run ended before 300 contacts were accepted");
        std::thread::sleep(Duration::from_millis(2));
    }
    (scratch, handle, child)
}

#[test]
fn sigterm_stops_cleanly_and_the_resume_command_finishes_the_job() {
    let (scratch, handle, child) = first_run_under_way();
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let command = summary["resume_command"].as_str().unwrap().to_string();
    assert!(command.contains("--resume run"), "{command}");
    assert!(summary["skipped"].as_u64().unwrap() > 0);
    // Stopped cleanly: every contact in the journal, the retry file or the error report.
    let retry = read_model_of(&scratch.path().join("run/retry.csv"));
    assert_eq!(retry.len() as u64, summary["skipped"].as_u64().unwrap() + summary["failed"].as_u64().unwrap());

    let resumed = args(&handle, 1);
    let resumed: Vec<&str> = resumed.iter().map(String::as_str).collect();
    let output = connect_attrs(scratch.path(), &resumed, None);
    assert_eq!(output.code, 1, "{}", output.stderr);
    // The count it announces says how many of them earlier sessions finished.
    assert!(output.stderr.contains("sending 3000 contacts, less the "), "{}", output.stderr);
    for contacts in handle.state().instances.values() {
        assert!(contacts.values().all(|c| c.updates == 1), "a contact was sent twice after a clean stop");
    }
}

/// The retry file cannot be written at the end (a directory stands in its way): the run fails,
/// says how to resume, and the resume, once the way is clear, finishes the job with no contact sent
/// twice.
#[test]
fn a_run_whose_outputs_cannot_be_finished_says_how_to_resume() {
    let (scratch, handle, child) = first_run_under_way();
    let blocker = scratch.path().join("run/retry.csv");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), "").unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("retry.csv") && stderr.contains("--resume run"), "{stderr}");

    std::fs::remove_dir_all(&blocker).unwrap();
    let resumed = args(&handle, 1);
    let resumed: Vec<&str> = resumed.iter().map(String::as_str).collect();
    let output = connect_attrs(scratch.path(), &resumed, None);
    assert_eq!(output.code, 1, "{}", output.stderr);
    assert!(scratch.path().join("run/retry.csv").is_file());
    let summary: Value = output.summary();
    assert_eq!(summary["contacts"].as_u64(), Some(3000), "{summary}");
    for contacts in handle.state().instances.values() {
        assert!(contacts.values().all(|c| c.updates == 1), "a contact was sent twice");
    }
}

#[test]
fn resume_with_changed_inputs_is_refused_unless_forced() {
    let scratch = Scratch::new();
    scratch.write("wide.csv", "InitialContactId,Tier\nc-1,Gold\n");
    scratch.write("long.csv", "InitialContactId,Key,Value\nc-2,Tier,Silver\n");
    let handle = emulator(Config::default());
    let first = args(&handle, 0);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    assert_eq!(connect_attrs(scratch.path(), &first, None).code, 0);

    scratch.write("wide.csv", "InitialContactId,Tier\nc-1,Platinum\n");
    let resumed = args(&handle, 1);
    let mut resumed: Vec<&str> = resumed.iter().map(String::as_str).collect();
    let refused = connect_attrs(scratch.path(), &resumed, None);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("wide.csv changed since the run started"), "{}", refused.stderr);
    assert_eq!(handle.stats().requests, 2, "nothing sent by the refused resume");

    resumed.insert(1, "--force");
    let forced = connect_attrs(scratch.path(), &resumed, None);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let summary = forced.summary();
    // c-2's request is unchanged: done before. c-1 changed: sent again.
    assert_eq!((summary["already_done"].as_u64(), summary["updated"].as_u64()), (Some(1), Some(1)));
    assert_eq!(handle.state().contact(INSTANCE, "c-1").unwrap().attributes["Tier"], "Platinum");
}

/// A write fails while the run is sending: a directory stands where the retry file's first entry
/// goes, and the contacts the service refuses come last. The run stops, does not claim the retry
/// file holds what was not sent, and names the resume; the resume, once the way is clear, finishes
/// the job with no contact sent twice and the refused contacts in retry.csv.
#[test]
fn a_write_that_fails_mid_run_points_to_the_journal_and_the_resume_finishes() {
    let scratch = Scratch::new();
    let mut wide = String::from("InitialContactId,Tier\n");
    let gone: BTreeSet<String> = (0..5).map(|i| format!("gone-{i}")).collect();
    for i in 0..2000 {
        wide.push_str(&format!("c-{i},T{}\n", i % 7));
    }
    for id in &gone {
        wide.push_str(&format!("{id},T0\n"));
    }
    scratch.write("wide.csv", wide);
    let handle = emulator(Config { not_found: vec!["gone-*".into()], ..Config::default() });
    let flags = ["--rate", "400", "--burst", "50"];
    let child = first_session_until_accepted(&scratch, &handle, &flags, 300);
    // Small merges go out in input order: no contact has failed yet, so no retry entry is written.
    let blocker = scratch.path().join("run/retry.partial.csv");
    assert!(!blocker.exists(), "a retry entry was written before the refused contacts were sent");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), "").unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("retry.partial.csv"), "the failed write is named: {stderr}");
    assert!(stderr.contains("journal") && stderr.contains("--resume run"), "{stderr}");
    assert!(!stderr.contains("contacts not sent are in the retry file"), "{stderr}");

    std::fs::remove_dir_all(&blocker).unwrap();
    let resumed = session_args(&handle, false, &flags);
    let resumed: Vec<&str> = resumed.iter().map(String::as_str).collect();
    let output = connect_attrs(scratch.path(), &resumed, None);
    assert_eq!(output.code, 1, "the refused contacts fail: {}", output.stderr);
    let mut expected = expected_merge(&[&scratch.read("wide.csv")], INSTANCE);
    expected.retain(|(_, contact), _| !gone.contains(contact));
    assert_contacts_eq(&stored(&handle.state()), &expected);
    for contacts in handle.state().instances.values() {
        assert!(contacts.values().all(|c| c.updates == 1), "a contact was sent twice");
    }
    let retried: BTreeSet<String> =
        read_model_of(&scratch.path().join("run/retry.csv")).into_keys().map(|(_, c)| c).collect();
    assert_eq!(retried, gone);
}

/// The merge's temporary files vanish while the run sends (a /tmp cleaner): the contacts not yet
/// read back are in no output file. The run stops (exit 2), says only --resume sends them and not
/// that the retry file holds them; the resume, which reads the inputs again, finishes the job with
/// no contact sent twice.
#[test]
fn temporary_files_lost_while_sending_point_to_the_resume_which_finishes() {
    let scratch = Scratch::new();
    let mut wide = String::from("InitialContactId,Tier,Note\n");
    let mut random = Lcg::new(7);
    let mut ids: Vec<u64> = (0..20_000).collect();
    for i in (1..ids.len()).rev() {
        ids.swap(i, random.below(i as u64 + 1) as usize);
    }
    for id in ids {
        wide.push_str(&format!("c-{id},T{},{}\n", id % 7, "n".repeat(20)));
    }
    scratch.write("wide.csv", wide);
    std::fs::create_dir(scratch.path().join("tmpd")).unwrap();
    let handle = emulator(Config::default());
    let flags = ["--rate", "4000", "--memory-limit", "1MiB", "--temp-dir", "tmpd"];
    let child = first_session_until_accepted(&scratch, &handle, &flags, 300);
    for entry in std::fs::read_dir(scratch.path().join("tmpd")).unwrap() {
        let path = entry.unwrap().path();
        let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("only --resume sends them") && stderr.contains("--resume run"), "{stderr}");
    assert!(!stderr.contains("contacts not sent are in the retry file"), "{stderr}");

    let resumed = session_args(&handle, false, &flags);
    let resumed: Vec<&str> = resumed.iter().map(String::as_str).collect();
    let output = connect_attrs(scratch.path(), &resumed, None);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert_contacts_eq(&stored(&handle.state()), &expected_merge(&[&scratch.read("wide.csv")], INSTANCE));
    for contacts in handle.state().instances.values() {
        assert!(contacts.values().all(|c| c.updates == 1), "a contact was sent twice");
    }
}

/// `run` of wide.csv into `run` (a first session) or `--resume run`, with `flags`.
fn session_args(handle: &Handle, first: bool, flags: &[&str]) -> Vec<String> {
    let run = if first { "--run-dir" } else { "--resume" };
    let mut args = vec!["run".to_string(), "--endpoint-url".into(), handle.url(), run.into(), "run".into()];
    args.extend(flags.iter().chain(&["--instance-id", INSTANCE, "wide.csv"]).map(|s| s.to_string()));
    args
}

/// Starts the first session of wide.csv with `flags` and returns once the service has accepted
/// `accepted` contacts: a run in the middle of sending.
fn first_session_until_accepted(
    scratch: &Scratch,
    handle: &Handle,
    flags: &[&str],
    accepted: u64,
) -> std::process::Child {
    let first = session_args(handle, true, flags);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let child = spawn_connect_attrs(scratch.path(), &first, false, &[]);
    while handle.stats().accepted < accepted {
        std::thread::sleep(Duration::from_millis(2));
    }
    child
}
