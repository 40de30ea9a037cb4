//! A Python virtual environment with boto3, shared by every test that needs a real AWS client.
//! Created once in `<target dir>/py-venv` (guarded by a file lock, so parallel test binaries do
//! not install twice); failing to create it fails the test rather than skipping it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// `$CARGO_TARGET_DIR`, or `target/` beside Cargo.toml.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
    }
}

/// The venv's python, with boto3 importable. Panics, naming the step, if that cannot be arranged.
pub fn python_with_boto3() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(prepare).clone()
}

fn prepare() -> PathBuf {
    let target = target_dir();
    std::fs::create_dir_all(&target).expect("create the target dir");
    let venv = target.join("py-venv");
    let python = venv.join("bin").join("python");
    let lock = std::fs::File::create(target.join("py-venv.lock")).expect("create py-venv.lock");
    lock.lock().expect("lock py-venv.lock");
    if !has_boto3(&python) {
        run(Command::new(system_python()).args(["-m", "venv"]).arg(&venv), "create the venv");
        let pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "boto3"];
        run(Command::new(&python).args(pip), "pip install boto3");
        assert!(has_boto3(&python), "boto3 was installed into {} but does not import", venv.display());
    }
    python
}

fn system_python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn has_boto3(python: &std::path::Path) -> bool {
    python.exists() && Command::new(python).args(["-c", "import boto3"]).output().is_ok_and(|o| o.status.success())
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
