//! The error report, `errors.csv`: one row per contact that was not updated for a reason worth
//! reading (invalid, refused, failed) and one per malformed input row, written as each arrives.

use super::files::{RunDirError, create_private};
use crate::input::{BadRow, Location};
use crate::send::{Outcome, Status};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

pub const ERRORS_FILE: &str = "errors.csv";
const HEADER: [&str; 7] =
    ["instance_id", "initial_contact_id", "lines", "error_type", "http_status", "message", "attempts"];
/// The error type of a row that could not be read.
pub const MALFORMED_ROW: &str = "MalformedRow";

pub struct ErrorReport {
    path: PathBuf,
    writer: csv::Writer<File>,
    /// Input names, indexed by `Location::input`, for `file:line`.
    inputs: Vec<String>,
    rows: u64,
}

impl ErrorReport {
    pub fn create(dir: &Path, inputs: Vec<String>) -> Result<ErrorReport, RunDirError> {
        ErrorReport::create_at(dir.join(ERRORS_FILE), inputs)
    }

    /// An error report at `path` (a resumed session's, until it replaces the earlier one).
    pub fn create_at(path: PathBuf, inputs: Vec<String>) -> Result<ErrorReport, RunDirError> {
        let mut writer = csv::Writer::from_writer(create_private(&path)?);
        writer.write_record(HEADER).map_err(|e| RunDirError::File { path: path.clone(), source: e.into() })?;
        let mut report = ErrorReport { path, writer, inputs, rows: 0 };
        report.flush()?;
        Ok(report)
    }

    /// Moves the report to `path` (over what is there); it goes on being written there.
    pub fn rename(&mut self, path: PathBuf) -> Result<(), RunDirError> {
        self.flush()?;
        std::fs::rename(&self.path, &path).map_err(|source| RunDirError::File { path: path.clone(), source })?;
        self.path = path;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn bad_row(&mut self, bad: &BadRow) -> Result<(), RunDirError> {
        let lines = self.lines(&[bad.location]);
        self.write(["", "", &lines, MALFORMED_ROW, "", &bad.reason, "0"])
    }

    /// Writes the outcome if it is one the report holds (invalid or failed).
    pub fn outcome(&mut self, outcome: &Outcome) -> Result<(), RunDirError> {
        let (error_type, status, message) = match &outcome.status {
            Status::Invalid(invalid) => (invalid.rule().to_string(), String::new(), invalid.to_string()),
            Status::Failed(failure) | Status::AlreadyDone(Some(failure)) => {
                let status = failure.http_status.map(|s| s.to_string()).unwrap_or_default();
                let mut message = failure.message.clone();
                if let Some(id) = &failure.request_id {
                    message.push_str(&format!(" (request id {id})"));
                }
                (failure.error_type.clone(), status, message)
            }
            Status::Updated | Status::Skipped(_) | Status::AlreadyDone(None) => return Ok(()),
        };
        let contact = &outcome.contact;
        let lines = self.lines(&contact.lines);
        let attempts = outcome.attempts.to_string();
        self.write([&contact.instance_id, &contact.contact_id, &lines, &error_type, &status, &message, &attempts])
    }

    /// `export.csv:12;export.csv:9031`
    pub fn lines(&self, locations: &[Location]) -> String {
        let mut text = String::new();
        for location in locations {
            if !text.is_empty() {
                text.push(';');
            }
            let name = self.inputs.get(location.input as usize).map_or("?", String::as_str);
            text.push_str(&format!("{name}:{}", location.line));
        }
        text
    }

    fn write(&mut self, record: [&str; 7]) -> Result<(), RunDirError> {
        self.writer
            .write_record(record)
            .map_err(|e| RunDirError::File { path: self.path.clone(), source: e.into() })?;
        self.rows += 1;
        self.flush()
    }

    fn flush(&mut self) -> Result<(), RunDirError> {
        self.writer.flush().map_err(|source: io::Error| RunDirError::File { path: self.path.clone(), source })
    }
}
