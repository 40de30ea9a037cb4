//! A real AWS client against the emulator: boto3 (installed from PyPI into the target dir's venv)
//! updates a contact and reads back 200, is refused 403 with a wrong secret, and reads the quota.

use connect_attrs::emulator::{Config, spawn};
use std::process::Command;

use crate::support_python::python_with_boto3;

#[test]
fn boto3_updates_a_contact_and_a_wrong_secret_is_refused() {
    let python = python_with_boto3();
    let handle = spawn(Config { rate: Some(25.0), ..Config::default() }).expect("emulator starts");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/boto3_smoke.py");
    let output = Command::new(python)
        .arg(script)
        .args([handle.url().as_str(), "inst-boto3", "contact-boto3"])
        // Nothing from the developer's own AWS setup may leak in, and nothing may reach AWS.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "boto3 smoke failed ({}):\n{stdout}\n{stderr}", output.status);
    assert_eq!(stdout.trim(), "ok rate=25.0");
    let state = handle.state();
    let contact = state.contact("inst-boto3", "contact-boto3").expect("stored by boto3");
    assert_eq!(contact.attributes["Tier"], "gold");
    assert_eq!(contact.updates, 1);
    let stats = handle.stats();
    assert_eq!((stats.accepted, stats.signature_failures), (1, 1));
}
