//! `--resume RUN_DIR`: what a resumed run must check and say. The inputs must be the ones the
//! journal recorded (name, size, modification time, a hash of the header and first block), and it
//! must send where the run did (endpoint, region, `--instance-id`), unless `--force`; a contact an
//! earlier session finished with the same request is not sent again; and a run that stops early
//! prints the exact command that resumes it.

use crate::cli::RunArgs;
use crate::connect::request_body;
use crate::error::Error;
use crate::input::InputSpec;
use crate::merge::Contact;
use crate::plan::InputPlan;
use crate::report::Report;
use crate::report::journal::{self, Header, InputFingerprint, TargetFingerprint};
use crate::report::lock::RunLock;
use crate::send::{Outcome, Status};
use crate::target::Target;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const HEAD_BYTES: u64 = 64 * 1024;

/// A new run directory with a journal, or (`--resume`) the old one with what it finished; either
/// way, for a session that sends to `target`.
pub fn open_report(args: &RunArgs, plan: &mut InputPlan, target: &Target) -> Result<(Report, FinishedBefore), Error> {
    let names: Vec<String> = plan.inputs.iter().map(|i| i.name.clone()).collect();
    let sends_to = target_fingerprint(&target.endpoint, &target.region, plan.read.default_instance.as_deref());
    let now = Header { target: Some(sends_to), ..fingerprint(&plan.inputs) };
    let Some(dir) = &args.resume else {
        let report = Report::create(&plan.run_dir, names, Some(&now))?;
        return Ok((report, FinishedBefore::new()));
    };
    let cannot_resume = |e: journal::LoadError| Error::Usage(format!("cannot resume: {e}"));
    // A directory without a journal is no run: refuse it before a lock file is put in it.
    journal::check_exists(dir).map_err(cannot_resume)?;
    // Locked before the journal is read: a session still running adds to it until it ends.
    let lock = RunLock::acquire(dir)?;
    let loaded = journal::load(dir).map_err(cannot_resume)?;
    let found = loaded.header.as_ref().map(|recorded| mismatches(recorded, &now)).unwrap_or_default();
    if !found.is_empty() {
        let why = found.iter().map(Mismatch::to_string).collect::<Vec<_>>().join("; ");
        if !args.force {
            let fix = found.iter().map(Mismatch::fix).collect::<Vec<_>>().join(" ");
            return Err(Error::Usage(format!("cannot resume {}: {why}. {fix}", dir.display())));
        }
        tracing::warn!("resuming although {why} (--force)");
    }
    tracing::info!("resuming {}: {} contacts finished before", dir.display(), loaded.finished.len());
    plan.run_dir = dir.clone();
    Ok((Report::resume(dir, names, lock)?, loaded.finished))
}

/// What earlier sessions of a resumed run finished, by instance and contact id.
pub type FinishedBefore = HashMap<(String, String), journal::Finished>;

/// What a resume's "sending N contacts" line adds: N holds the contacts earlier sessions finished,
/// which are not sent again.
pub fn finished_note(before: &FinishedBefore) -> String {
    match before.len() {
        0 => String::new(),
        n => format!(", less the {n} earlier sessions finished,"),
    }
}

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
    Header { version: 1, inputs: inputs.iter().map(fingerprint_one).collect(), target: None }
}

/// What the journal records of where a run sends: the endpoint as a URL normalized (scheme and
/// host in lower case, no default port, a path of at least `/`), without any user or password in
/// it; the region; `--instance-id`.
pub fn target_fingerprint(endpoint: &str, region: &str, instance: Option<&str>) -> TargetFingerprint {
    let endpoint = match url::Url::parse(endpoint) {
        Ok(mut url) => {
            // Fails only for URLs that cannot have them: then there are none to remove.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) => endpoint.to_string(),
    };
    TargetFingerprint { endpoint, region: region.to_string(), instance: instance.map(str::to_string) }
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

/// Why a resume would not go on as the run started, and how to go on all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The inputs are not the ones the run read: which, and what differs.
    Inputs(String),
    /// The run read stdin, whose content cannot be checked.
    Stdin,
    /// It would send elsewhere: each of endpoint, region and `--instance-id` that changed.
    Target(Vec<String>),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Inputs(why) => f.write_str(why),
            Mismatch::Stdin => f.write_str("the run read stdin, whose content cannot be checked"),
            Mismatch::Target(changes) => write!(f, "it would send elsewhere than the run did: {}", changes.join("; ")),
        }
    }
}

impl Mismatch {
    fn fix(&self) -> &'static str {
        match self {
            Mismatch::Inputs(_) => {
                "Resume with the inputs the run started with, or pass --force (contacts whose request changed are then sent again)."
            }
            Mismatch::Stdin => "A run that read stdin resumes only with the same data fed to stdin again, and --force.",
            Mismatch::Target(_) => {
                "Resume with the endpoint, region and --instance-id the run started with, or pass --force to send the contacts left to this target (those the journal holds are not sent again)."
            }
        }
    }
}

/// Why a resume does not match the journal's header (where it sends, then what it reads); empty
/// when it does.
pub fn mismatches(recorded: &Header, now: &Header) -> Vec<Mismatch> {
    let target = target_mismatch(recorded.target.as_ref(), now.target.as_ref());
    target.into_iter().chain(input_mismatch(recorded, now)).collect()
}

/// Each of endpoint, region and `--instance-id` that changed, as "was X, now Y".
fn target_mismatch(recorded: Option<&TargetFingerprint>, now: Option<&TargetFingerprint>) -> Option<Mismatch> {
    let (Some(was), Some(now)) = (recorded, now) else {
        tracing::debug!(
            "the journal does not record where the run sent (an older connect-attrs wrote it): not checked"
        );
        return None;
    };
    let fields = [
        ("the endpoint", Some(&was.endpoint), Some(&now.endpoint)),
        ("the region", Some(&was.region), Some(&now.region)),
        ("the default instance (--instance-id)", was.instance.as_ref(), now.instance.as_ref()),
    ];
    let show = |value: Option<&String>| value.map_or("none", String::as_str).to_string();
    let changes: Vec<String> = fields
        .into_iter()
        .filter(|(_, was, now)| was != now)
        .map(|(what, was, now)| format!("{what} was {}, now {}", show(was), show(now)))
        .collect();
    (!changes.is_empty()).then_some(Mismatch::Target(changes))
}

/// Why the inputs of a resume do not match the journal's, or `None` when they do.
fn input_mismatch(recorded: &Header, now: &Header) -> Option<Mismatch> {
    let names = |h: &Header| h.inputs.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    if names(recorded) != names(now) {
        let why = format!("the run read {:?}, this resume reads {:?}", names(recorded), names(now));
        return Some(Mismatch::Inputs(why));
    }
    for (was, is) in recorded.inputs.iter().zip(&now.inputs) {
        if was.path_less() {
            return Some(Mismatch::Stdin);
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
        return Some(Mismatch::Inputs(format!("{} changed since the run started ({what} differs)", was.name)));
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

/// The command line that resumes this run (`argv`, parsed as `args`) at `now`: the same
/// arguments, with `--resume DIR` instead of any `--run-dir`/`--resume`, quoted for a POSIX shell,
/// and changed where the same arguments would be refused. A run that read stdin gets `--force` (its
/// content cannot be checked), and an RFC 3339 `--deadline` that has passed is left out (a relative
/// one, `HH:MM` or `--max-duration`, means the same the next night and stays). Each change is said
/// in a warning, as the command is printed.
pub fn resume_command(argv: &[String], args: &RunArgs, run_dir: &Path, now: OffsetDateTime) -> String {
    let stdin = args.input.inputs.iter().any(|input| input == "-");
    if stdin {
        tracing::warn!(
            "this run read stdin, whose content cannot be checked: it can be resumed only by feeding the same data to stdin again, with --force (the resume command has it)"
        );
    }
    let passed = args.deadline.as_deref().filter(|deadline| has_passed(deadline, now));
    if let Some(deadline) = passed {
        tracing::warn!(
            "--deadline {deadline} has passed: the resume command leaves it out (add a --deadline or --max-duration to bound the resume)"
        );
    }
    command_line(argv, run_dir, stdin && !args.force, passed.is_some())
}

/// Whether `deadline` is an RFC 3339 moment at or before `now` (not a time of day, which comes
/// round again).
fn has_passed(deadline: &str, now: OffsetDateTime) -> bool {
    OffsetDateTime::parse(deadline, &Rfc3339).is_ok_and(|at| at <= now)
}

/// [`resume_command`]'s line: `--force` added after `--resume DIR` if `force`, `--deadline` and
/// its value left out if `drop_deadline`.
fn command_line(argv: &[String], run_dir: &Path, force: bool, drop_deadline: bool) -> String {
    let with_value = |arg: &str| arg == "--run-dir" || arg == "--resume" || (drop_deadline && arg == "--deadline");
    let joined = |arg: &str| {
        arg.starts_with("--run-dir=")
            || arg.starts_with("--resume=")
            || (drop_deadline && arg.starts_with("--deadline="))
    };
    let mut out: Vec<String> = Vec::new();
    let mut skip_next = false;
    let mut inserted = false;
    for (i, arg) in argv.iter().enumerate() {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if with_value(arg) {
            skip_next = true;
            continue;
        }
        if joined(arg) {
            continue;
        }
        out.push(quote(arg));
        if !inserted && arg == "run" && i > 0 {
            out.extend(["--resume".to_string(), quote(&run_dir.display().to_string())]);
            out.extend(force.then(|| "--force".to_string()));
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
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use std::io::Write;
    use time::macros::datetime;

    #[test]
    fn same_file_matches_and_a_changed_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, "ContactId,A\nc1,x\n").unwrap();
        let spec = InputSpec::parse(path.to_str().unwrap());
        let before = fingerprint(std::slice::from_ref(&spec));
        assert_eq!(mismatches(&before, &fingerprint(std::slice::from_ref(&spec))), []);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"c2,y\n").unwrap();
        let found = mismatches(&before, &fingerprint(&[spec]));
        assert!(matches!(&found[..], [Mismatch::Inputs(why)] if why.contains("changed since the run started")));
    }

    #[test]
    fn different_inputs_and_stdin_are_mismatches() {
        let a = fingerprint(&[InputSpec::parse("a.csv")]);
        let b = fingerprint(&[InputSpec::parse("b.csv")]);
        assert!(matches!(&mismatches(&a, &b)[..], [Mismatch::Inputs(why)] if why.contains("a.csv")));
        let stdin = fingerprint(&[InputSpec::parse("-")]);
        assert_eq!(mismatches(&stdin, &stdin), [Mismatch::Stdin]);
        assert_eq!(Mismatch::Stdin.to_string(), "the run read stdin, whose content cannot be checked");
        assert!(Mismatch::Stdin.fix().contains("the same data fed to stdin again, and --force"));
    }

    fn sending_to(endpoint: &str, region: &str, instance: Option<&str>) -> Header {
        Header { target: Some(target_fingerprint(endpoint, region, instance)), ..fingerprint(&[]) }
    }

    #[test]
    fn a_resume_that_sends_elsewhere_names_each_change() {
        let run = sending_to("https://connect.us-east-1.amazonaws.com", "us-east-1", Some("i-1"));
        let same = sending_to("HTTPS://Connect.us-east-1.amazonaws.com:443/", "us-east-1", Some("i-1"));
        assert_eq!(mismatches(&run, &same), []);
        let elsewhere = sending_to("http://127.0.0.1:8999", "eu-west-2", None);
        let found = mismatches(&run, &elsewhere);
        assert_eq!(
            found.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["it would send elsewhere than the run did: \
              the endpoint was https://connect.us-east-1.amazonaws.com/, now http://127.0.0.1:8999/; \
              the region was us-east-1, now eu-west-2; \
              the default instance (--instance-id) was i-1, now none"]
        );
        assert!(found[0].fix().contains("--force"));
    }

    /// A journal written before the target was recorded resumes wherever this session sends.
    #[test]
    fn a_journal_without_a_target_matches_any() {
        let old = fingerprint(&[]);
        assert_eq!(mismatches(&old, &sending_to("http://127.0.0.1:1", "eu-west-2", Some("i-9"))), []);
    }

    #[test]
    fn the_recorded_endpoint_holds_no_credentials() {
        let target = target_fingerprint("https://user:secret@connect.example.com/", "us-east-1", None);
        assert_eq!(target.endpoint, "https://connect.example.com/");
    }

    /// The resume command of `argv` at 2026-11-26 05:00 UTC.
    fn resume_command_of(argv: &[&str]) -> String {
        let Command::Run(args) = Cli::try_parse_from(argv).unwrap().command else { unreachable!() };
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        resume_command(&argv, &args, Path::new("runs/2026"), datetime!(2026-11-26 05:00 UTC))
    }

    #[test]
    fn resume_command_replaces_the_run_dir_and_quotes() {
        assert_eq!(
            resume_command_of(&["connect-attrs", "run", "--run-dir", "old", "--set", "Note=it's here", "in put.csv"]),
            "connect-attrs run --resume runs/2026 --set 'Note=it'\\''s here' 'in put.csv'"
        );
    }

    /// A resume of a stdin run is refused without --force: the command has it (once).
    #[test]
    fn resume_command_of_a_stdin_run_has_force() {
        assert_eq!(
            resume_command_of(&["connect-attrs", "run", "--instance-id", "i-1", "-"]),
            "connect-attrs run --resume runs/2026 --force --instance-id i-1 -"
        );
        assert_eq!(
            resume_command_of(&["connect-attrs", "run", "--resume", "runs/2026", "--force", "-"]),
            "connect-attrs run --resume runs/2026 --force -"
        );
        assert_eq!(
            resume_command_of(&["connect-attrs", "run", "in.csv"]),
            "connect-attrs run --resume runs/2026 in.csv"
        );
    }

    /// An RFC 3339 deadline that has passed would have the resume refused: it is left out. One to
    /// come, a time of day and --max-duration stay.
    #[test]
    fn resume_command_leaves_out_a_deadline_that_has_passed() {
        let command = |extra: &[&str]| {
            let mut argv = vec!["connect-attrs", "run", "--run-dir", "old"];
            argv.extend(extra);
            argv.push("in.csv");
            resume_command_of(&argv)
        };
        let bare = "connect-attrs run --resume runs/2026 in.csv";
        assert_eq!(command(&["--deadline", "2026-11-26T04:59:00Z"]), bare);
        assert_eq!(command(&["--deadline=2026-11-26T06:00:00+01:00"]), bare);
        let to_come = "connect-attrs run --resume runs/2026 --deadline 2026-11-26T05:01:00Z in.csv";
        assert_eq!(command(&["--deadline", "2026-11-26T05:01:00Z"]), to_come);
        let relative = "connect-attrs run --resume runs/2026 --deadline 06:00 --max-duration 6h in.csv";
        assert_eq!(command(&["--deadline", "06:00", "--max-duration", "6h"]), relative);
    }
}
