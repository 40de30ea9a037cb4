//! `--resume RUN_DIR`: what a resumed run must check and say. The inputs must be the ones the
//! journal recorded (name, size, modification time, a hash of the header and first block), unless
//! `--force`; a contact an earlier session finished with the same request is not sent again; and
//! a run that stops early prints the exact command that resumes it.

use crate::cli::RunArgs;
use crate::connect::request_body;
use crate::error::Error;
use crate::input::InputSpec;
use crate::merge::Contact;
use crate::plan::InputPlan;
use crate::report::Report;
use crate::report::journal::{self, Header, InputFingerprint};
use crate::report::lock::RunLock;
use crate::send::{Outcome, Status};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;

const HEAD_BYTES: u64 = 64 * 1024;

/// A new run directory with a journal, or (`--resume`) the old one with what it finished.
pub fn open_report(args: &RunArgs, plan: &mut InputPlan) -> Result<(Report, FinishedBefore), Error> {
    let names: Vec<String> = plan.inputs.iter().map(|i| i.name.clone()).collect();
    let Some(dir) = &args.resume else {
        let report = Report::create(&plan.run_dir, names, Some(&fingerprint(&plan.inputs)))?;
        return Ok((report, FinishedBefore::new()));
    };
    let cannot_resume = |e: journal::LoadError| Error::Usage(format!("cannot resume: {e}"));
    // A directory without a journal is no run: refuse it before a lock file is put in it.
    journal::check_exists(dir).map_err(cannot_resume)?;
    // Locked before the journal is read: a session still running adds to it until it ends.
    let lock = RunLock::acquire(dir)?;
    let loaded = journal::load(dir).map_err(cannot_resume)?;
    let now = fingerprint(&plan.inputs);
    if let Some(why) = loaded.header.as_ref().and_then(|recorded| mismatch(recorded, &now)) {
        if !args.force {
            return Err(Error::Usage(format!(
                "cannot resume {}: {why}. Resume with the inputs the run started with, or pass --force (contacts whose request changed are then sent again)",
                dir.display()
            )));
        }
        tracing::warn!("resuming although {why} (--force)");
    }
    tracing::info!("resuming {}: {} contacts finished before", dir.display(), loaded.finished.len());
    plan.run_dir = dir.clone();
    Ok((Report::resume(dir, names, lock)?, loaded.finished))
}

/// What earlier sessions of a resumed run finished, by instance and contact id.
pub type FinishedBefore = HashMap<(String, String), journal::Finished>;

/// A contact finished in an earlier session with the same request is reported as such, not sent.
pub fn finished_before(contact: Contact, before: &FinishedBefore) -> Result<Contact, Box<Outcome>> {
    if before.is_empty() {
        return Ok(contact);
    }
    match before.get(&(contact.instance_id.clone(), contact.contact_id.clone())) {
        Some(done) if done.digest == journal::digest(&request_body(&contact)) => {
            let status = Status::AlreadyDone(done.failure.clone());
            Err(Box::new(Outcome::new(contact, status, done.attempts)))
        }
        _ => Ok(contact),
    }
}

/// What the journal records of the inputs of a run (stdin: its name only).
pub fn fingerprint(inputs: &[InputSpec]) -> Header {
    Header { version: 1, inputs: inputs.iter().map(fingerprint_one).collect() }
}

fn fingerprint_one(spec: &InputSpec) -> InputFingerprint {
    let mut print = InputFingerprint { name: spec.name.clone(), size: None, modified_ns: None, head_sha256: None };
    let Some(path) = &spec.path else { return print };
    if let Ok(meta) = std::fs::metadata(path) {
        print.size = Some(meta.len());
        print.modified_ns = meta.modified().ok().and_then(|m| m.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_nanos());
    }
    print.head_sha256 = head_hash(path);
    print
}

fn head_hash(path: &Path) -> Option<String> {
    let mut head = Vec::new();
    File::open(path).ok()?.take(HEAD_BYTES).read_to_end(&mut head).ok()?;
    Some(hex::encode(Sha256::digest(&head)))
}

/// Why the inputs of a resume do not match the journal's, or `None` when they do.
pub fn mismatch(recorded: &Header, now: &Header) -> Option<String> {
    let names = |h: &Header| h.inputs.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    if names(recorded) != names(now) {
        return Some(format!("the run read {:?}, this resume reads {:?}", names(recorded), names(now)));
    }
    for (was, is) in recorded.inputs.iter().zip(&now.inputs) {
        if was.path_less() {
            return Some(format!("{} was stdin: its content cannot be checked", was.name));
        }
        let what = if was.size != is.size {
            "its size"
        } else if was.modified_ns != is.modified_ns {
            "its modification time"
        } else if was.head_sha256 != is.head_sha256 {
            "its first 64 KiB"
        } else {
            continue;
        };
        return Some(format!("{} changed since the run started ({what} differs)", was.name));
    }
    None
}

trait PathLess {
    fn path_less(&self) -> bool;
}

impl PathLess for InputFingerprint {
    fn path_less(&self) -> bool {
        self.size.is_none() && self.head_sha256.is_none()
    }
}

/// The command line that resumes this run: the same arguments, with `--resume DIR` instead of any
/// `--run-dir`/`--resume`, quoted for a POSIX shell.
pub fn resume_command(args: &[String], run_dir: &Path) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut skip_next = false;
    let mut inserted = false;
    for (i, arg) in args.iter().enumerate() {
        if skip_next {
            skip_next = false;
            continue;
        }
        if arg == "--run-dir" || arg == "--resume" {
            skip_next = true;
            continue;
        }
        if arg.starts_with("--run-dir=") || arg.starts_with("--resume=") {
            continue;
        }
        out.push(quote(arg));
        if !inserted && arg == "run" && i > 0 {
            out.push("--resume".into());
            out.push(quote(&run_dir.display().to_string()));
            inserted = true;
        }
    }
    out.join(" ")
}

fn quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', "'\\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn same_file_matches_and_a_changed_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, "ContactId,A\nc1,x\n").unwrap();
        let spec = InputSpec::parse(path.to_str().unwrap());
        let before = fingerprint(std::slice::from_ref(&spec));
        assert_eq!(mismatch(&before, &fingerprint(std::slice::from_ref(&spec))), None);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"c2,y\n").unwrap();
        let why = mismatch(&before, &fingerprint(&[spec])).unwrap();
        assert!(why.contains("changed since the run started"), "{why}");
    }

    #[test]
    fn different_inputs_and_stdin_are_mismatches() {
        let a = fingerprint(&[InputSpec::parse("a.csv")]);
        let b = fingerprint(&[InputSpec::parse("b.csv")]);
        assert!(mismatch(&a, &b).unwrap().contains("a.csv"));
        let stdin = fingerprint(&[InputSpec::parse("-")]);
        assert!(mismatch(&stdin, &stdin).unwrap().contains("stdin"));
    }

    #[test]
    fn resume_command_replaces_the_run_dir_and_quotes() {
        let args: Vec<String> = ["connect-attrs", "run", "--run-dir", "old", "--set", "Note=it's here", "in put.csv"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            resume_command(&args, Path::new("runs/2026")),
            "connect-attrs run --resume runs/2026 --set 'Note=it'\\''s here' 'in put.csv'"
        );
    }
}
