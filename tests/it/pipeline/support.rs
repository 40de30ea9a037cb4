//! What every pipeline test needs: an emulator, a scratch directory, the real `connect-attrs`
//! binary run in it, its outputs parsed, and an independent model of what the emulator should
//! hold afterwards (for each contact, in input order, the last non-empty value of each key).

use connect_attrs::emulator::{Config, Handle, State, spawn};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const ACCESS_KEY: &str = "AKIDEXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// A child that has not finished by then is hung: kill it so the test fails instead of hanging.
/// A safety net only; no test asserts anything about time.
const HUNG_AFTER: Duration = Duration::from_secs(300);

/// (instance, contact) -> attributes.
pub type Contacts = BTreeMap<(String, String), BTreeMap<String, String>>;

pub fn emulator(config: Config) -> Handle {
    spawn(config).expect("the emulator starts")
}

/// A scratch directory the binary runs in; inputs are written here, the run dir is `run/`.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().expect("a scratch dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write an input");
        path
    }

    pub fn write_gz(&self, name: &str, contents: &[u8]) -> PathBuf {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(contents).unwrap();
        self.write(name, encoder.finish().unwrap())
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    pub fn read(&self, relative: &str) -> String {
        let path = self.dir.path().join(relative);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }
}

/// Asserts the exit code; a failure shows stdout, stderr and the run's errors.csv.
pub fn assert_exit(scratch: &Scratch, output: &Output, code: i32) {
    let errors = std::fs::read_to_string(scratch.run_dir().join("errors.csv")).unwrap_or_default();
    assert_eq!(
        output.code, code,
        "exit code\nstdout:\n{}\nstderr:\n{}\nerrors.csv:\n{errors}",
        output.stdout, output.stderr
    );
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout parsed: it must be exactly the summary JSON.
    pub fn summary(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not the summary JSON ({e})\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }

    pub fn assert_code(&self, code: i32) -> &Output {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// Runs `connect-attrs ARGS...` in `dir` with the example credentials and nothing of the
/// caller's AWS environment; `stdin` is piped in when given.
pub fn connect_attrs(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    connect_attrs_env(dir, args, stdin, &[])
}

pub fn connect_attrs_env(dir: &Path, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Output {
    let mut child = spawn_connect_attrs(dir, args, stdin.is_some(), env);
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            // The binary may stop reading early (an error); that is its business.
            let _ = pipe.write_all(&bytes);
        })
    });
    let output = finish(child, args, String::new());
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    output
}

/// Starts the binary with the example credentials and nothing of the caller's AWS environment.
pub fn spawn_connect_attrs(dir: &Path, args: &[&str], piped_stdin: bool, env: &[(&str, &str)]) -> Child {
    command(dir, args, piped_stdin, env).spawn().expect("connect-attrs starts")
}

/// Runs the binary as [`run`] does, with its limit on open files set to `soft` and `hard` first.
#[cfg(unix)]
pub fn run_with_open_files(
    scratch: &Scratch,
    handle: &Handle,
    extra: &[&str],
    inputs: &[&str],
    soft: u64,
    hard: u64,
) -> Output {
    use std::os::unix::process::CommandExt;
    let args = run_args(handle, extra, inputs);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = command(scratch.path(), &args, false, &[]);
    // SAFETY: between fork and exec the closure only calls setrlimit, a bare system call wrapper
    // (no allocation, no lock), on a struct it owns.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    finish(command.spawn().expect("connect-attrs starts"), &args, String::new())
}

pub fn command(dir: &Path, args: &[&str], piped_stdin: bool, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connect-attrs"));
    command
        .args(args)
        .current_dir(dir)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials"))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_CONNECT")
        .env_remove("RUST_LOG")
        .stdin(if piped_stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Waits for the child (killing it if it hangs) and collects its output; `stderr_seen` is what
/// the caller already read from its stderr.
pub fn finish(mut child: Child, args: &[&str], stderr_seen: String) -> Output {
    let (done, finished) = mpsc::channel::<()>();
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(HUNG_AFTER) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            return true;
        }
        false
    });
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("connect-attrs runs");
    let _ = done.send(());
    let hung = watchdog.join().unwrap_or(false);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = stderr_seen + &String::from_utf8_lossy(&output.stderr);
    assert!(!hung, "connect-attrs {args:?} hung and was killed\nstderr:\n{stderr}");
    Output { code: output.status.code().unwrap_or(-1), stdout, stderr }
}

/// `run --endpoint-url URL --run-dir run --rate 1000 --burst 1000 --retry-base-ms 20`, then
/// `extra`, then `inputs`.
pub fn run_args(handle: &Handle, extra: &[&str], inputs: &[&str]) -> Vec<String> {
    let mut args: Vec<String> =
        ["run", "--endpoint-url", &handle.url(), "--retry-base-ms", "20"].iter().map(|s| s.to_string()).collect();
    let has = |flag: &str| extra.contains(&flag);
    if !has("--run-dir") {
        args.extend(["--run-dir".into(), "run".into()]);
    }
    if !has("--rate") {
        args.extend(["--rate".into(), "1000".into()]);
    }
    if !has("--burst") {
        args.extend(["--burst".into(), "1000".into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(inputs.iter().map(|s| s.to_string()));
    args
}

/// Runs the binary against `handle` in `scratch` (see [`run_args`]).
pub fn run(scratch: &Scratch, handle: &Handle, extra: &[&str], inputs: &[&str]) -> Output {
    run_stdin(scratch, handle, extra, inputs, None)
}

pub fn run_stdin(scratch: &Scratch, handle: &Handle, extra: &[&str], inputs: &[&str], stdin: Option<&[u8]>) -> Output {
    let args = run_args(handle, extra, inputs);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    connect_attrs(scratch.path(), &args, stdin)
}

pub fn count(summary: &Value, key: &str) -> u64 {
    summary[key].as_u64().unwrap_or_else(|| panic!("summary has no count {key:?}: {summary:#}"))
}

/// Every contact is accounted for exactly once, and the summary agrees with its own exit code.
pub fn assert_adds_up(summary: &Value) {
    let [contacts, updated, failed, invalid, skipped, skipped_empty] =
        ["contacts", "updated", "failed", "invalid", "skipped", "skipped_empty"].map(|key| count(summary, key));
    // validate sends nothing: the contacts it would send are `valid`.
    let delivered = if summary["command"] == "validate" {
        assert_eq!(updated, 0, "validate updates nothing: {summary:#}");
        count(summary, "valid")
    } else {
        updated
    };
    assert_eq!(
        contacts,
        delivered + failed + invalid + skipped,
        "contacts == updated (or valid) + failed + invalid + skipped: {summary:#}"
    );
    assert!(skipped_empty <= skipped, "{summary:#}");
    assert!(count(summary, "bad_rows") <= count(summary, "rows"), "{summary:#}");
}

/// Also checks that summary.json in the run dir is what was printed.
pub fn assert_summary_file(scratch: &Scratch, output: &Output) -> Value {
    let printed = output.summary();
    let stored: Value = serde_json::from_str(&scratch.read("run/summary.json")).expect("summary.json is JSON");
    assert_eq!(printed, stored, "stdout and run/summary.json differ");
    assert_adds_up(&printed);
    printed
}

// ---- the model -------------------------------------------------------------------------------

/// The merged attributes of `inputs` (CSV texts, in order), computed without the product's code:
/// contact id column `InitialContactId`, optional `InstanceId` column (else `default_instance`),
/// long when the header has `Key` and `Value`, else wide; empty values are not given; later rows
/// win per key. Contacts left with no attributes are not sent, so they are not in the result.
pub fn expected_merge(inputs: &[&str], default_instance: &str) -> Contacts {
    expected_merge_with(inputs, default_instance, false)
}

/// [`expected_merge`]; with `send_empty`, an empty cell is an empty value (`--send-empty`).
pub fn expected_merge_with(inputs: &[&str], default_instance: &str, send_empty: bool) -> Contacts {
    let mut merged = Contacts::new();
    for text in inputs {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let column = |name: &str| header.iter().position(|h| h == name);
        let contact = column("InitialContactId").expect("model: InitialContactId column");
        let instance_column = column("InstanceId");
        let long = column("Key").zip(column("Value"));
        for record in reader.records() {
            let record = record.expect("model: well-formed CSV");
            let instance = instance_column
                .map(|i| record[i].to_string())
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| default_instance.to_string());
            let entry = merged.entry((instance, record[contact].to_string())).or_default();
            match long {
                Some((key, value)) => {
                    if send_empty || !record[value].is_empty() {
                        entry.insert(record[key].to_string(), record[value].to_string());
                    }
                }
                None => {
                    for (i, name) in header.iter().enumerate() {
                        if i != contact && Some(i) != instance_column && (send_empty || !record[i].is_empty()) {
                            entry.insert(name.clone(), record[i].to_string());
                        }
                    }
                }
            }
        }
    }
    merged.retain(|_, attributes| !attributes.is_empty());
    merged
}

/// The emulator's stored attributes in the model's shape.
pub fn stored(state: &State) -> Contacts {
    let mut contacts = Contacts::new();
    for (instance, stored) in &state.instances {
        for (contact, state) in stored {
            contacts.insert((instance.clone(), contact.clone()), state.attributes.clone());
        }
    }
    contacts
}

/// Compares contact by contact and value by value, so a failure names what differs.
pub fn assert_contacts_eq(actual: &Contacts, expected: &Contacts) {
    let actual_ids: BTreeSet<_> = actual.keys().collect();
    let expected_ids: BTreeSet<_> = expected.keys().collect();
    let missing: Vec<_> = expected_ids.difference(&actual_ids).take(10).collect();
    let extra: Vec<_> = actual_ids.difference(&expected_ids).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "contacts differ: {} expected, {} found; missing (first 10) {missing:?}; unexpected (first 10) {extra:?}",
        expected.len(),
        actual.len()
    );
    for (id, want) in expected {
        let got = &actual[id];
        for (key, value) in want {
            assert_eq!(got.get(key), Some(value), "contact {id:?} key {key:?}: full stored {got:?}");
        }
        let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        assert!(extra.is_empty(), "contact {id:?} has unexpected keys {extra:?}");
    }
}

/// Asserts the emulator holds exactly `expected`, and that each contact was updated once.
pub fn assert_state(handle: &Handle, expected: &Contacts) {
    let state = handle.state();
    assert_contacts_eq(&stored(&state), expected);
}

pub fn assert_each_updated_once(handle: &Handle) {
    let state = handle.state();
    for (instance, contacts) in &state.instances {
        for (contact, stored) in contacts {
            assert_eq!(
                stored.updates, 1,
                "{instance}/{contact} was updated {} times: a contact is sent once, after merging",
                stored.updates
            );
        }
    }
}

/// `id -> attributes` of one CSV the binary wrote (retry.csv), read with the model.
pub fn read_model_of(path: &Path) -> Contacts {
    let text = std::fs::read_to_string(path).expect("read the file");
    expected_merge(&[&text], "")
}

// ---- errors.csv --------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRow {
    pub instance_id: String,
    pub initial_contact_id: String,
    pub lines: String,
    pub error_type: String,
    pub http_status: String,
    pub message: String,
    pub attempts: String,
}

pub fn errors_csv(scratch: &Scratch) -> Vec<ErrorRow> {
    let text = scratch.read("run/errors.csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        ["instance_id", "initial_contact_id", "lines", "error_type", "http_status", "message", "attempts"],
        "errors.csv header"
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("errors.csv is well-formed CSV");
            ErrorRow {
                instance_id: r[0].into(),
                initial_contact_id: r[1].into(),
                lines: r[2].into(),
                error_type: r[3].into(),
                http_status: r[4].into(),
                message: r[5].into(),
                attempts: r[6].into(),
            }
        })
        .collect()
}

/// The one errors.csv row of `contact`.
pub fn error_of<'a>(rows: &'a [ErrorRow], contact: &str) -> &'a ErrorRow {
    let found: Vec<&ErrorRow> = rows.iter().filter(|r| r.initial_contact_id == contact).collect();
    assert_eq!(found.len(), 1, "errors.csv rows for {contact:?}: {rows:#?}");
    found[0]
}

// ---- input builders ----------------------------------------------------------------------------

/// A CSV field, quoted when it needs to be.
pub fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

pub fn csv_line(fields: &[&str]) -> String {
    let fields: Vec<String> = fields.iter().map(|f| field(f)).collect();
    format!("{}\n", fields.join(","))
}

/// A small deterministic generator, so inputs are varied but the same every run.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed.wrapping_mul(6364136223846793005).wrapping_add(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A wide file of `n` contacts `c-0000..` on `instance`, columns Tier, Score, Note.
pub fn simple_wide(instance: &str, prefix: &str, n: usize) -> String {
    let mut text = String::from("InstanceId,InitialContactId,Tier,Score,Note\n");
    for i in 0..n {
        text.push_str(&csv_line(&[
            instance,
            &format!("{prefix}{i:04}"),
            ["Gold", "Silver", "Bronze"][i % 3],
            &(i * 7).to_string(),
            &format!("note {i}, with a comma"),
        ]));
    }
    text
}
