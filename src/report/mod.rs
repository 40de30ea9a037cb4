//! report: the single owner of a run's outputs. Every outcome and bad row goes through here, is
//! written as soon as it arrives (so a later failure cannot lose it), and is counted once.

pub mod errors;
pub mod files;
pub mod metrics;
pub mod plan;
pub mod progress;
pub mod retry;
pub mod summary;

use crate::input::{BadRow, Format};
use crate::send::{Outcome, Skip, Status};
use errors::ErrorReport;
pub use files::RunDirError;
use progress::{Progress, Rates};
use retry::RetryWriter;
use std::path::{Path, PathBuf};
pub use summary::{Summary, Tally};

pub struct Report {
    dir: PathBuf,
    errors: ErrorReport,
    retry: RetryWriter,
    tally: Tally,
    progress: Option<Progress>,
    findings: plan::Findings,
}

impl Report {
    /// Creates the run directory (private, new) and the error report in it.
    pub fn create(dir: &Path, inputs: Vec<String>) -> Result<Report, RunDirError> {
        files::create_run_dir(dir)?;
        Ok(Report {
            dir: dir.to_path_buf(),
            errors: ErrorReport::create(dir, inputs)?,
            retry: RetryWriter::new(dir),
            tally: Tally::default(),
            progress: None,
            findings: plan::Findings::default(),
        })
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
        }
        self.errors.outcome(outcome)?;
        if outcome.retryable() {
            self.retry.add(&outcome.contact)?;
        }
        Ok(())
    }

    pub fn tick(&mut self, rates: Rates) {
        let tally = self.tally;
        if let Some(progress) = self.progress.as_mut() {
            progress.update(&tally, rates);
        }
    }

    /// Closes the error report, writes `retry.csv` in `format`, and returns the paths written.
    pub fn finish(self, format: Format) -> Result<Finished, RunDirError> {
        if let Some(progress) = &self.progress {
            progress.finish();
        }
        let retry_file = self.retry.finish(format)?;
        Ok(Finished {
            dir: self.dir.clone(),
            errors_file: self.dir.join(errors::ERRORS_FILE),
            retry_file,
            tally: self.tally,
            findings: self.findings,
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
}

/// Writes `summary.json` (atomically) into the run directory.
pub fn write_summary(dir: &Path, summary: &Summary) -> Result<(), RunDirError> {
    let mut json = serde_json::to_vec_pretty(summary).unwrap_or_default();
    json.push(b'\n');
    files::replace_private(&dir.join("summary.json"), &json)
}
