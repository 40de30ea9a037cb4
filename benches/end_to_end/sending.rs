//! The sending scenarios of the end-to-end benchmark (P2-P5): the release `connect-attrs` against
//! the in-process emulator, each figure printed beside its reference from the same run (a boto3
//! client with adaptive retries against the same emulator configuration) and its target. P2 is
//! also printed beside two floors (`floor.rs`) run against the same emulator: what sending the
//! same request costs with connect-attrs's HTTP pool alone, and with bare sockets.

use crate::{floor, harness};
use connect_attrs::emulator::{self, Config, Handle};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const SCENARIOS: [&str; 4] = ["p2", "p3", "p4", "p5"];

struct Sizes {
    /// Contacts for the no-quota run (P2).
    unlimited: usize,
    /// Seconds the quota runs (P3-P5) last.
    seconds: f64,
    /// Whether figures are judged against their targets (not at smoke size).
    judged: bool,
}

/// Runs the chosen sending scenarios (all when `chosen` names none of them); `true` if every
/// judged target is met. The boto3 references run only at full size (they need PyPI).
pub fn run(chosen: &[String], smoke: bool) -> bool {
    let wanted = |name: &str| chosen.is_empty() || chosen.iter().any(|c| c == name);
    let sizes = if smoke {
        Sizes { unlimited: 300, seconds: 1.0, judged: false }
    } else {
        Sizes { unlimited: 20_000, seconds: 60.0, judged: true }
    };
    let work = harness::data_dir();
    let binary = harness::binary();
    let python = if smoke || !SCENARIOS.iter().any(|s| wanted(s)) { None } else { boto3_python(&work) };
    let python = python.as_deref();
    let mut met = true;
    if wanted("p2") {
        met &= p2(&sizes, &work, &binary, python);
    }
    if wanted("p3") {
        met &= p3(&sizes, &work, &binary);
    }
    if wanted("p4") {
        met &= p4(&sizes, &work, &binary, python);
    }
    if wanted("p5") {
        met &= p5(&sizes, &work, &binary, python);
    }
    met || !sizes.judged
}

/// One run of the client: wall time, its own CPU time, and its summary.
struct ClientRun {
    cpu_seconds: f64,
    summary: Value,
}

impl ClientRun {
    fn n(&self, key: &str) -> f64 {
        self.summary[key].as_f64().unwrap_or(0.0)
    }
}

fn p2(sizes: &Sizes, work: &Path, binary: &Path, python: Option<&Path>) -> bool {
    let handle = emulator(Config::default());
    let input = contacts_file(work, "p2.csv", sizes.unlimited);
    let run = client(binary, &handle, &["--rate", "1000000", "--burst", "1000000"], &input, work);
    let requests = run.n("requests");
    let per_request_us = run.cpu_seconds * 1e6 / requests.max(1.0);
    let rate = run.n("achieved_rate");
    let reference = python.map(|py| boto3_run(py, &handle, sizes.unlimited.min(5_000), 32));
    println!(
        "P2 no quota, {} contacts: {rate:.0} req/s, client CPU {per_request_us:.1} us/request (target <= 25 us: {}){}",
        sizes.unlimited,
        met(sizes, per_request_us <= 25.0),
        reference.map(|r| format!(" | boto3 32 threads: {:.0} req/s", r.rate)).unwrap_or_default()
    );
    let floors: Vec<String> = floor::KINDS
        .iter()
        .map(|kind| {
            let us = floor_run(kind, &handle, sizes.unlimited, FLOOR_CONCURRENCY);
            format!("{kind} {us:.1} us/request (connect-attrs {:.2}x)", per_request_us / us)
        })
        .collect();
    println!(
        "   floors, {FLOOR_CONCURRENCY} contacts' requests signed once and sent {} times in all, {FLOOR_CONCURRENCY} at a time: {}",
        sizes.unlimited,
        floors.join(", ")
    );
    per_request_us <= 25.0
}

fn p3(sizes: &Sizes, work: &Path, binary: &Path) -> bool {
    let handle = emulator(Config { rate: Some(50.0), burst: Some(50), ..Config::default() });
    let n = (50.0 * sizes.seconds) as usize + 50;
    let input = contacts_file(work, "p3.csv", n);
    let run = client(binary, &handle, &["--rate", "50", "--burst", "50"], &input, work);
    let (rate, throttled) = (run.n("achieved_rate"), percent(run.n("throttled"), run.n("requests")));
    println!(
        "P3 quota 50/s burst 50, --rate 50 --burst 50, {n} contacts: {rate:.2}/s (target >= 49: {}), {throttled:.2}% throttled (target <= 0.5%: {})",
        met(sizes, rate >= 49.0),
        met(sizes, throttled <= 0.5)
    );
    rate >= 49.0 && throttled <= 0.5
}

fn p4(sizes: &Sizes, work: &Path, binary: &Path, python: Option<&Path>) -> bool {
    let config = || Config { rate: Some(50.0), burst: Some(50), ..Config::default() };
    let handle = emulator(config());
    let n = (50.0 * sizes.seconds) as usize;
    let input = contacts_file(work, "p4.csv", n);
    let run = client(binary, &handle, &["--rate", "200"], &input, work);
    let (rate, throttled) = (run.n("achieved_rate"), percent(run.n("throttled"), run.n("requests")));
    let reference = python.map(|py| {
        let handle = emulator(config());
        let run = boto3_run(py, &handle, n, 32);
        format!(" | boto3 32 threads: {:.2}/s, {:.2}% throttled", run.rate, run.throttled_percent)
    });
    println!(
        "P4 quota 50/s unknown to us, --rate 200, {n} contacts: {rate:.2}/s (target >= 48.5: {}), {throttled:.2}% throttled (target <= 1%: {}){}",
        met(sizes, rate >= 48.5),
        met(sizes, throttled <= 1.0),
        reference.unwrap_or_default()
    );
    rate >= 48.5 && throttled <= 1.0
}

fn p5(sizes: &Sizes, work: &Path, binary: &Path, python: Option<&Path>) -> bool {
    let config =
        || Config { rate: Some(100.0), burst: Some(100), latency: Duration::from_millis(300), ..Config::default() };
    let handle = emulator(config());
    let n = (100.0 * sizes.seconds) as usize;
    let input = contacts_file(work, "p5.csv", n);
    let run = client(binary, &handle, &["--rate", "100", "--burst", "100"], &input, work);
    let rate = run.n("achieved_rate");
    let reference = python.map(|py| {
        let runs: Vec<String> = [8, 64]
            .iter()
            .map(|&threads| {
                let handle = emulator(config());
                let run = boto3_run(py, &handle, n.min(3_000), threads);
                format!("{threads} threads {:.1}/s ({:.1}% throttled)", run.rate, run.throttled_percent)
            })
            .collect();
        format!(" | boto3: {}", runs.join(", "))
    });
    println!(
        "P5 latency 300 ms, quota 100/s, default concurrency, {n} contacts: {rate:.2}/s (target >= 97: {}){}",
        met(sizes, rate >= 97.0),
        reference.unwrap_or_default()
    );
    rate >= 97.0
}

fn met(sizes: &Sizes, ok: bool) -> &'static str {
    match (sizes.judged, ok) {
        (false, _) => "smoke size, not judged",
        (true, true) => "met",
        (true, false) => "NOT MET",
    }
}

fn percent(part: f64, whole: f64) -> f64 {
    100.0 * part / whole.max(1.0)
}

fn emulator(config: Config) -> Handle {
    emulator::spawn(config).expect("the emulator starts")
}

/// A wide export of `n` distinct contacts with three attributes each.
fn contacts_file(work: &Path, name: &str, n: usize) -> PathBuf {
    let path = work.join(name);
    let mut text = String::from("InitialContactId,CustomerTier,OpenCases,LastOrderId\n");
    for i in 0..n {
        text.push_str(&format!("{i:08x}-1111-2222-3333-444444444444,Gold,{},ORD-{i}\n", i % 5));
    }
    std::fs::write(&path, text).expect("write the benchmark input");
    path
}

/// Requests in flight in the floor clients. More at a time make each a little cheaper (fewer
/// wake-ups per request): 32 gave a lower transport floor than 8 (22.5 against 24.5 us), where
/// `--concurrency auto` keeps about 8 on the wire against the emulator. So the floors are the
/// cheapest the transport gets, not the tool's own conditions.
const FLOOR_CONCURRENCY: usize = 32;

/// One floor client (`floor.rs`) as a child process: its CPU time per request.
fn floor_run(kind: &str, handle: &Handle, requests: usize, concurrency: usize) -> f64 {
    let this = std::env::current_exe().expect("the bench binary's path");
    let child = Command::new(this)
        .args(["--floor", kind, &handle.url(), &requests.to_string(), &concurrency.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the floor client starts");
    let (_, cpu_seconds, success) = wait_measured(child);
    assert!(success, "the {kind} floor client failed (an answer other than 200, or see its errors above)");
    cpu_seconds * 1e6 / requests.max(1) as f64
}

/// Runs the client to its end and measures its CPU time (user + system, from wait4).
fn client(binary: &Path, handle: &Handle, extra: &[&str], input: &Path, work: &Path) -> ClientRun {
    let run_dir = tempfile::tempdir_in(work).expect("run dir");
    let mut command = Command::new(binary);
    command
        .args(["-q", "run", "--endpoint-url", &handle.url(), "--instance-id", "bench-instance"])
        .args(["--run-dir", &run_dir.path().join("run").display().to_string()])
        .args(extra)
        .arg(input)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = command.spawn().expect("connect-attrs starts");
    let (stdout, cpu_seconds, _) = wait_measured(child);
    let summary: Value = serde_json::from_slice(&stdout).expect("summary JSON on stdout");
    ClientRun { cpu_seconds, summary }
}

/// The child's stdout, CPU time (user + system, from wait4) and whether it exited 0.
fn wait_measured(mut child: std::process::Child) -> (Vec<u8>, f64, bool) {
    use std::io::Read;
    let mut stdout = Vec::new();
    if let Some(mut pipe) = child.stdout.take() {
        let _ = pipe.read_to_end(&mut stdout);
    }
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for this child, which we spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 on connect-attrs");
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let success = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (stdout, seconds(usage.ru_utime) + seconds(usage.ru_stime), success)
}

struct BotoRun {
    rate: f64,
    throttled_percent: f64,
}

fn boto3_run(python: &Path, handle: &Handle, n: usize, threads: usize) -> BotoRun {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python/boto3_load.py");
    let output = Command::new(python)
        .arg(script)
        .args([handle.url(), n.to_string(), threads.to_string()])
        .output()
        .expect("python runs");
    assert!(output.status.success(), "boto3 load failed: {}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_slice(&output.stdout).expect("boto3 load prints JSON");
    let stats = handle.stats();
    BotoRun {
        rate: result["ok"].as_f64().unwrap_or(0.0) / result["seconds"].as_f64().unwrap_or(1.0),
        throttled_percent: percent(stats.throttled as f64, stats.requests as f64),
    }
}

/// A Python with boto3: `<work>/py-venv`, created and filled from PyPI on first use.
fn boto3_python(work: &Path) -> Option<PathBuf> {
    let venv = work.join("py-venv");
    let python = venv.join("bin/python");
    let has_boto3 =
        |python: &Path| Command::new(python).args(["-c", "import boto3"]).status().is_ok_and(|s| s.success());
    if has_boto3(&python) {
        return Some(python);
    }
    let created = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success());
    let installed = created
        && Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "boto3"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if installed && has_boto3(&python) {
        Some(python)
    } else {
        let _ = writeln!(std::io::stderr(), "boto3 could not be installed: the boto3 references are left out");
        None
    }
}
