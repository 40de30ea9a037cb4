//! The `connect-emulator` binary: first stdout line, flags, and a signed request end to end.

use connect_attrs::emulator::Credential;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::SystemTime;

use super::{Client, Signer, update_body};

/// Kills the child on drop, so a failing assertion does not leave a server running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        _ = self.0.kill();
        _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> (Running, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_connect-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start connect-emulator");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).expect("first line");
    let port = first
        .trim()
        .strip_prefix("listening on http://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    (running, port)
}

#[test]
fn the_binary_prints_its_address_first_and_serves_signed_requests() {
    let (_running, port) =
        start(&["--port", "0", "--credentials", "AKIDBIN:binsecret", "--instance", "inst", "--rate", "100"]);
    let host = format!("127.0.0.1:{port}");
    let credential = Credential::new("AKIDBIN", "binsecret", None);
    let signer = Signer { credential: &credential, region: "us-east-1", service: "connect", time: SystemTime::now() };
    let mut client = Client::connect(port);
    let body = update_body("inst", "c-1", json!({"a": "1"}));
    let signed = signer.sign(&host, "/contact/attributes", &[("content-type", "application/json")], &body);
    assert_eq!(client.post("/contact/attributes", &signed).unwrap().status, 200);
    let other = update_body("other", "c-1", json!({"a": "1"}));
    let signed = signer.sign(&host, "/contact/attributes", &[("content-type", "application/json")], &other);
    client.post("/contact/attributes", &signed).unwrap().assert_error(404, "ResourceNotFoundException");
    let state = client.get("/_emulator/state");
    assert_eq!(state.json()["instances"]["inst"]["c-1"]["attributes"]["a"], "1");
}

#[test]
fn the_binary_refuses_bad_flags_naming_the_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_connect-emulator"))
        .args(["--drop", "2"])
        .output()
        .expect("run connect-emulator");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--drop"));
}

#[test]
fn the_binary_exits_cleanly_on_sigterm() {
    let (mut running, port) = start(&[]);
    let mut client = Client::connect(port);
    assert_eq!(client.get("/_emulator/stats").status, 200);
    let pid = running.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", pid.as_str()]).status().expect("run kill");
    assert!(killed.success());
    let status = running.0.wait().expect("wait for the emulator");
    assert!(status.success(), "{status}");
}
