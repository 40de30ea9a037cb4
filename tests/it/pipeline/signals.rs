//! Stopping on request: SIGTERM while sending stops intake, lets the requests in flight finish,
//! writes everything not updated to the retry file, and exits 3.

use super::support::*;
use connect_attrs::emulator::Config;
use std::io::{BufRead, BufReader, Read};

#[cfg(unix)]
#[test]
fn sigterm_while_sending_saves_the_rest_in_the_retry_file_and_exits_3() {
    // Slow enough that the run is far from done when the signal arrives.
    let handle = emulator(Config { latency: std::time::Duration::from_millis(50), ..Config::default() });
    let scratch = Scratch::new();
    let text = simple_wide("inst", "t-", 300);
    scratch.write("in.csv", &text);
    let args = run_args(&handle, &["--rate", "10", "--burst", "1"], &["in.csv"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = spawn_connect_attrs(scratch.path(), &args, false, &[]);
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr pipe"));
    // Wait for the event, not for time: the log line that says sending has begun.
    let seen = read_until(&mut stderr, "sending 300 contacts");
    // The signal handler is installed as sending starts, just after that line; the first answer
    // the service gives proves sending is under way. (The watchdog in `finish` bounds this loop.)
    while handle.stats().accepted == 0 {
        assert!(child.try_wait().expect("poll the child").is_none(), "connect-attrs ended before sending");
        std::thread::yield_now();
    }
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(killed.is_ok_and(|s| s.success()));
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    let output = finish(child, &args, String::new());
    let stderr = seen + &rest.join().unwrap() + &output.stderr;
    let output = Output { stderr, ..output };
    output.assert_code(3);
    let summary = assert_summary_file(&scratch, &output);
    assert_eq!(count(&summary, "contacts"), 300, "{summary:#}");
    assert!(summary["stopped"].as_str().is_some_and(|s| s.contains("SIGTERM")), "{summary:#}");
    let updated = count(&summary, "updated");
    assert!(count(&summary, "skipped") > 0, "{summary:#}");

    // What the service holds and what the retry file holds split the input between them.
    let all = expected_merge(&[&text], "");
    let delivered = stored(&handle.state());
    assert_eq!(delivered.len() as u64, updated, "the summary counts what the service holds");
    let retry = summary["retry_file"].as_str().unwrap_or_else(|| panic!("a retry file: {summary:#}"));
    let retried = read_model_of(&scratch.path().join(retry));
    assert_eq!(retried.len() as u64, 300 - updated, "{summary:#}");
    for (id, attributes) in delivered.iter().chain(&retried) {
        assert_eq!(Some(attributes), all.get(id), "{id:?}");
    }
    for id in retried.keys() {
        assert!(!delivered.contains_key(id), "{id:?} is both updated and in the retry file");
    }
}

/// Starts `args` reading stdin that gives a header and a few rows and then nothing more (a
/// stalled pipe); returns once reading is under way, with the pipe still open, and what stderr
/// said so far.
#[cfg(unix)]
fn spawn_on_a_stalled_pipe(
    scratch: &Scratch,
    args: &[&str],
) -> (std::process::Child, std::process::ChildStdin, Stderr) {
    use std::io::Write;
    let mut child = spawn_connect_attrs(scratch.path(), args, true, &[]);
    let mut stdin = child.stdin.take().expect("stdin pipe");
    stdin.write_all(simple_wide("inst", "p-", 5).as_bytes()).expect("write stdin");
    stdin.flush().expect("flush stdin");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr pipe"));
    let seen = read_until(&mut stderr, "reading stdin");
    // The signal handler is installed before reading starts; this leaves its task time to run.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    (child, stdin, Stderr { seen, rest })
}

/// What a child's stderr said before and after a point.
#[cfg(unix)]
struct Stderr {
    seen: String,
    rest: std::thread::JoinHandle<String>,
}

#[cfg(unix)]
impl Stderr {
    /// `output` with everything its stderr said.
    fn into(self, output: Output) -> Output {
        Output { stderr: self.seen + &self.rest.join().unwrap_or_default(), ..output }
    }
}

#[cfg(unix)]
fn signal(child: &std::process::Child, name: &str) {
    let sent = std::process::Command::new("kill").args([name, &child.id().to_string()]).status();
    assert!(sent.is_ok_and(|s| s.success()));
}

/// `validate -` on a pipe that has gone quiet: SIGINT ends it at once (exit 3), temp dir gone.
/// (The read of stdin used to wait for more input before the signal was looked at.)
#[cfg(unix)]
#[test]
fn sigint_ends_validate_reading_a_stalled_stdin() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.path().join("tmp")).unwrap();
    let args = ["-v", "validate", "--run-dir", "run", "--memory-limit", "1", "--temp-dir", "tmp", "-"];
    let (child, stdin, stderr) = spawn_on_a_stalled_pipe(&scratch, &args);
    signal(&child, "-INT");
    let started = std::time::Instant::now();
    let output = stderr.into(finish(child, &args, String::new()));
    drop(stdin);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
    output.assert_code(3);
    assert!(output.stderr.contains("stopped while reading"), "{}", output.stderr);
    assert!(std::fs::read_dir(scratch.path().join("tmp")).unwrap().next().is_none(), "temporary files left");
    assert_no_row_reported_malformed(&scratch, &output);
}

/// A stop ends reading; it does not make the row it interrupted malformed.
#[cfg(unix)]
fn assert_no_row_reported_malformed(scratch: &Scratch, output: &Output) {
    assert!(!output.stderr.contains("cannot read past this line"), "{}", output.stderr);
    let errors = std::fs::read_to_string(scratch.path().join("run/errors.csv")).unwrap_or_default();
    assert!(!errors.contains("MalformedRow"), "{errors}");
}

/// An error while a stalled stdin is read (here the temp dir cannot be created) is reported at
/// once, exit 2, without waiting for more input or a signal.
#[cfg(unix)]
#[test]
fn an_error_while_reading_a_stalled_stdin_is_reported_at_once() {
    let scratch = Scratch::new();
    scratch.write("not-a-dir", "");
    let args = ["-v", "validate", "--run-dir", "run", "--memory-limit", "1", "--temp-dir", "not-a-dir/tmp", "-"];
    let (child, stdin, stderr) = spawn_on_a_stalled_pipe(&scratch, &args);
    let started = std::time::Instant::now();
    let output = stderr.into(finish(child, &args, String::new()));
    drop(stdin);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
    output.assert_code(2);
    assert!(output.stderr.contains("not-a-dir/tmp"), "{}", output.stderr);
}

/// `run -` on a pipe that has gone quiet: a first SIGINT lets reading go on (so every contact
/// could reach the retry file), a second ends it: exit 3, nothing sent.
#[cfg(unix)]
#[test]
fn a_second_sigint_ends_run_reading_a_stalled_stdin() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let args = run_args(&handle, &["--instance-id", "inst"], &["-"]);
    let args: Vec<&str> = std::iter::once("-v").chain(args.iter().map(String::as_str)).collect();
    let (child, stdin, stderr) = spawn_on_a_stalled_pipe(&scratch, &args);
    signal(&child, "-INT");
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&child, "-INT");
    let output = stderr.into(finish(child, &args, String::new()));
    drop(stdin);
    output.assert_code(3);
    assert!(output.stderr.contains("stopped while reading the inputs: nothing was sent"), "{}", output.stderr);
    assert_eq!(handle.stats().requests, 0, "nothing is sent");
    assert_no_row_reported_malformed(&scratch, &output);
    // The run did not go on to the sending phase: no retry file claims to hold what is left.
    let retry = std::fs::read_to_string(scratch.path().join("run/retry.csv")).unwrap_or_default();
    assert!(retry.lines().count() <= 1, "{retry}");
}

/// Reads `stderr` up to the first line holding `needle`; returns what it read.
fn read_until(stderr: &mut impl BufRead, needle: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let read = stderr.read_line(&mut line).expect("read stderr");
        seen.push_str(&line);
        assert!(read > 0, "connect-attrs ended before saying {needle:?}:\n{seen}");
        if line.contains(needle) {
            return seen;
        }
    }
}

/// SIGTERM while the account's quota is looked up (a Service Quotas endpoint that never answers):
/// the command ends at once with exit 3 and says nothing was read or sent, where the signal used
/// to kill it (exit 143, no word).
#[cfg(unix)]
#[test]
fn sigterm_during_the_quota_lookup_exits_3_at_once() {
    let handle = emulator(Config::default());
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let quotas = format!("http://{}", silent.local_addr().unwrap());
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "c-", 5));
    let args = ["run", "--endpoint-url", &handle.url(), "--instance-id", "inst", "--rate", "auto", "in.csv"];
    let env = [("AWS_ENDPOINT_URL_SERVICE_QUOTAS", quotas.as_str())];
    let child = spawn_connect_attrs(scratch.path(), &args, false, &env);
    // The lookup has begun once its connection is accepted; the handler is in place before it.
    let (_held, _) = silent.accept().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(killed.is_ok_and(|s| s.success()));
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("stopped before anything was read or sent"), "{stderr}");
    assert_eq!(handle.stats().requests, 0);
}
