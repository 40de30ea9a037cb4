//! report: the single owner of a run's outputs. Every outcome and bad row goes through here, is
//! written as soon as it arrives (so a later failure cannot lose it), and is counted once.

mod earlier;
pub mod errors;
pub mod files;
pub mod journal;
pub mod lock;
pub mod metrics;
pub mod plan;
pub mod progress;
pub mod retry;
pub mod summary;

use crate::input::{BadRow, Format};
use crate::send::{Outcome, Skip, Status};
use earlier::Earlier;
use errors::ErrorReport;
pub use files::RunDirError;
use journal::Journal;
use lock::RunLock;
use progress::{Progress, Rates};
use retry::RetryWriter;
use std::path::{Path, PathBuf};
pub use summary::{Summary, Tally};

const SUMMARY_FILE: &str = "summary.json";

pub struct Report {
    dir: PathBuf,
    errors: ErrorReport,
    retry: RetryWriter,
    /// `run` only: finished contacts, for `--resume`.
    journal: Option<Journal>,
    /// `run` only: keeps other sessions of this run out until the process ends.
    lock: Option<RunLock>,
    /// `--resume` only: the earlier session's outputs, until this session has read its inputs.
    earlier: Option<Earlier>,
    tally: Tally,
    progress: Option<Progress>,
    findings: plan::Findings,
}

impl Report {
    /// Creates the run directory (private, new) and the error report in it; with a journal header,
    /// the journal too, and the run is locked (see [`lock`]).
    pub fn create(dir: &Path, inputs: Vec<String>, journal: Option<&journal::Header>) -> Result<Report, RunDirError> {
        files::create_run_dir(dir)?;
        let lock = journal.map(|_| RunLock::acquire(dir)).transpose()?;
        let journal = journal.map(|header| Journal::create(dir, header)).transpose()?;
        Ok(Report::open(dir, ErrorReport::create(dir, inputs)?, journal, lock, None))
    }

    /// Continues the run in `dir` (`--resume`), whose `lock` the caller took before reading the
    /// journal: the journal is kept and appended to; the error report, retry file and summary are
    /// written anew from the inputs and the journal, and replace the earlier session's only once
    /// the inputs have been read (see the `earlier` module).
    pub fn resume(dir: &Path, inputs: Vec<String>, lock: RunLock) -> Result<Report, RunDirError> {
        let journal = Journal::append(dir)?;
        let (earlier, errors) = Earlier::keep(dir, inputs)?;
        Ok(Report::open(dir, errors, Some(journal), Some(lock), Some(earlier)))
    }

    fn open(
        dir: &Path,
        errors: ErrorReport,
        journal: Option<Journal>,
        lock: Option<RunLock>,
        earlier: Option<Earlier>,
    ) -> Report {
        Report {
            dir: dir.to_path_buf(),
            errors,
            retry: RetryWriter::new(dir, None, false),
            journal,
            lock,
            earlier,
            tally: Tally::default(),
            progress: None,
            findings: plan::Findings::default(),
        }
    }

    /// The first outcome (or the end) comes once every input has been read: a resumed session's
    /// outputs take the earlier session's place now, not before.
    fn replace_earlier_outputs(&mut self) -> Result<(), RunDirError> {
        if let Some(earlier) = self.earlier.as_mut() {
            earlier.replace(&mut self.errors)?;
            self.earlier = None;
        }
        Ok(())
    }

    /// Writes the retry file so that the options the inputs were read with read it back as the
    /// same contacts: its contact id column named as the input's (`--contact-column`), and no
    /// empty cell that `--send-empty` would send.
    pub fn reading_back_with(mut self, read: &crate::input::ReadOptions) -> Report {
        self.retry = RetryWriter::new(&self.dir, read.contact_column.as_deref(), read.send_empty);
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Starts showing progress over `total` contacts.
    pub fn show_progress(&mut self, total: u64, quiet: bool) {
        self.progress = Some(Progress::new(total, quiet));
    }

    pub fn progress_bar(&self) -> Option<indicatif::ProgressBar> {
        self.progress.as_ref().and_then(|p| p.bar().cloned())
    }

    pub fn bad_row(&mut self, bad: &BadRow) -> Result<(), RunDirError> {
        let lines = self.errors.lines(&[bad.location]);
        tracing::warn!("{lines}: {}", bad.reason);
        self.findings.problem(errors::MALFORMED_ROW, || lines);
        self.errors.bad_row(bad)
    }

    pub fn outcome(&mut self, outcome: &Outcome) -> Result<(), RunDirError> {
        self.replace_earlier_outputs()?;
        self.tally.contacts += 1;
        self.findings.instance(&outcome.contact.instance_id);
        match &outcome.status {
            Status::Updated => self.tally.updated += 1,
            Status::Failed(_) => self.tally.failed += 1,
            Status::Invalid(invalid) => {
                self.tally.invalid += 1;
                self.findings.problem(invalid.rule(), || self.errors.lines(&outcome.contact.lines));
            }
            Status::Skipped(skip) => {
                self.tally.skipped += 1;
                if *skip == Skip::Empty {
                    self.tally.skipped_empty += 1;
                }
            }
            Status::AlreadyDone(failure) => {
                self.tally.already_done += 1;
                if failure.is_some() {
                    self.tally.already_failed += 1;
                }
            }
        }
        self.journal(outcome)?;
        self.errors.outcome(outcome)?;
        if outcome.retryable() {
            self.retry.add(&outcome.contact)?;
        }
        Ok(())
    }

    /// Records a contact finished in this session (updated, or refused for good) in the journal,
    /// with the digest of the body the sender built (the body is built again only for an
    /// outcome that came without one).
    fn journal(&mut self, outcome: &Outcome) -> Result<(), RunDirError> {
        let Some(journal) = self.journal.as_mut() else { return Ok(()) };
        let contact = &outcome.contact;
        let digest = || match outcome.digest {
            Some(digest) => digest.to_hex(),
            None => journal::digest(&crate::connect::request_body(contact)),
        };
        match &outcome.status {
            Status::Updated => journal.updated(&contact.instance_id, &contact.contact_id, &digest(), outcome.attempts),
            Status::Failed(failure) if failure.permanent => {
                journal.failed(&contact.instance_id, &contact.contact_id, &digest(), outcome.attempts, failure)
            }
            _ => Ok(()),
        }
    }

    /// Makes the journal durable if a second has passed (call regularly).
    pub fn sync_journal_if_due(&mut self) -> Result<(), RunDirError> {
        self.journal.as_mut().map_or(Ok(()), Journal::sync_if_due)
    }

    pub fn tick(&mut self, rates: Rates) {
        let tally = self.tally;
        if let Some(progress) = self.progress.as_mut() {
            progress.update(&tally, rates);
        }
    }

    /// Closes the error report, writes `retry.csv` in `format`, and returns the paths written.
    pub fn finish(mut self, format: Format) -> Result<Finished, RunDirError> {
        if let Some(progress) = &self.progress {
            progress.finish();
        }
        if let Some(journal) = self.journal.as_mut() {
            journal.sync()?;
        }
        self.replace_earlier_outputs()?;
        let retry_file = self.retry.finish(format)?;
        Ok(Finished {
            dir: self.dir.clone(),
            errors_file: self.dir.join(errors::ERRORS_FILE),
            retry_file,
            tally: self.tally,
            findings: self.findings,
            _lock: self.lock,
        })
    }
}

pub struct Finished {
    pub dir: PathBuf,
    pub errors_file: PathBuf,
    pub retry_file: Option<PathBuf>,
    pub tally: Tally,
    /// What is wrong with the inputs, for `validate`'s plan.
    pub findings: plan::Findings,
    /// Held on past the report, until the summary is written and the command ends.
    _lock: Option<RunLock>,
}

/// Writes `summary.json` (atomically) into the run directory.
pub fn write_summary(dir: &Path, summary: &Summary) -> Result<(), RunDirError> {
    let mut json = serde_json::to_vec_pretty(summary).unwrap_or_default();
    json.push(b'\n');
    files::replace_private(&dir.join(SUMMARY_FILE), &json)
}

/// Prints what a command reports on stdout. A stdout that cannot take it (a closed pipe, a full
/// disk under `>> summary.jsonl`) changes nothing the run did: it is said on stderr, the exit
/// code stays the run's, and the same report is in the run directory. (`println!` panicked.)
pub fn print_stdout(text: &str, dir: &Path) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        tracing::warn!("cannot print the summary on stdout ({err}); it is in {}", dir.join("summary.json").display());
    }
}
