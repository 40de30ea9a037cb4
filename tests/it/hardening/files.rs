//! The run directory holds personal data: created 0700, every file in it 0600 (summary.json too,
//! written through a temporary file and a rename), and an output path someone else prepared, a
//! symlink to their directory or a symlink planted where an output goes, is refused, not followed.

use crate::pipeline::support::*;
use connect_attrs::emulator::Config;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).expect("metadata").permissions().mode() & 0o777
}

fn run_with_failures(scratch: &Scratch, run_dir: &str) -> Output {
    let handle = emulator(Config { not_found: vec!["c-0002".into(), "c-0013".into()], ..Config::default() });
    scratch.write("in.csv", simple_wide("inst", "c-", 30) + "inst,c-bad,ragged\n");
    run(scratch, &handle, &["--run-dir", run_dir, "--max-attempts", "1"], &["in.csv"])
}

#[test]
fn the_run_directory_is_0700_and_every_file_in_it_0600() {
    let scratch = Scratch::new();
    run_with_failures(&scratch, "runs/one").assert_code(1);
    let dir = scratch.path().join("runs/one");
    assert_eq!(mode(&dir), 0o700);
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    for name in ["errors.csv", "retry.csv", "summary.json"] {
        assert!(names.contains(&name.to_string()), "{name} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "no temporary file left: {names:?}");
    for name in &names {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
}

#[test]
fn an_empty_run_directory_made_beforehand_is_made_private() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("prepared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    run_with_failures(&scratch, "prepared").assert_code(1);
    assert_eq!(mode(&dir), 0o700);
}

#[test]
fn a_run_directory_that_is_a_symlink_is_refused_and_its_target_untouched() {
    let scratch = Scratch::new();
    let theirs = scratch.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    symlink(&theirs, scratch.path().join("run")).unwrap();
    let output = run_with_failures(&scratch, "run");
    output.assert_code(2);
    assert!(output.stderr.contains("is not a directory (or is a symlink)"), "{}", output.stderr);
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0, "nothing written through the link");
}

#[test]
fn a_symlink_planted_where_an_output_goes_is_refused_and_its_target_untouched() {
    let scratch = Scratch::new();
    let target = scratch.path().join("their-file");
    std::fs::write(&target, "keep").unwrap();
    std::fs::create_dir(scratch.path().join("run")).unwrap();
    symlink(&target, scratch.path().join("run/errors.csv")).unwrap();
    let output = run_with_failures(&scratch, "run");
    output.assert_code(2);
    assert!(output.stderr.contains("already holds a run (errors.csv)"), "{}", output.stderr);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
}
