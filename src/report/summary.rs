//! `summary.json`: the counts of a run, written to the run directory and printed on stdout (the
//! only thing a run prints there). Every input row and every contact is counted exactly once:
//! `rows = good rows + bad_rows` and `contacts = updated + failed + invalid + skipped + already_done`
//! (`already_done` is 0 unless the run was resumed).

use crate::input::Format;
use crate::send::ratelimit::Ceiling;
use serde::Serialize;

/// Per-contact tallies, kept by the report as outcomes arrive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub contacts: u64,
    pub updated: u64,
    pub failed: u64,
    pub invalid: u64,
    pub skipped: u64,
    /// Of `skipped`: contacts with no attributes at all (nothing to send, not retried).
    pub skipped_empty: u64,
    /// Finished in an earlier session of this run (`--resume`) with the same request.
    pub already_done: u64,
    /// Of `already_done`: refused for good back then (in errors.csv and retry.csv again).
    pub already_failed: u64,
}

impl Tally {
    pub fn done(&self) -> u64 {
        self.updated + self.failed + self.invalid + self.skipped + self.already_done
    }

    /// Contacts that are not updated and need a person or another run.
    pub fn not_updated(&self) -> u64 {
        self.failed + self.invalid + (self.skipped - self.skipped_empty) + self.already_failed
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub command: &'static str,
    pub inputs: Vec<String>,
    pub format: Option<Format>,
    pub rows: u64,
    pub bad_rows: u64,
    #[serde(flatten)]
    pub tally: Tally,
    /// `validate` only: contacts that would be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<u64>,
    pub requests: u64,
    pub throttled: u64,
    pub retries: u64,
    pub elapsed_s: f64,
    /// Updated contacts per second of sending.
    pub achieved_rate: f64,
    pub ceiling: Option<Ceiling>,
    pub exit_code: u8,
    /// Why the run stopped before the end, if it did.
    pub stopped: Option<String>,
    /// When the run stopped early: the command that goes on where it stopped.
    pub resume_command: Option<String>,
    pub run_dir: String,
    pub errors_file: String,
    pub retry_file: Option<String>,
    pub started_at: String,
    pub finished_at: String,
}

impl Summary {
    /// 0 every contact updated; 1 some not (retry file or error report says which); 2 and 3 are
    /// decided by how the run stopped.
    pub fn exit_code_for(&self) -> u8 {
        if self.tally.not_updated() > 0 || self.bad_rows > 0 { 1 } else { 0 }
    }
}
