//! A resumed session's outputs replace the earlier session's only once it has read its inputs. A
//! resume refused on its options or inputs (exit 2, nothing sent: a typo in `--columns`, an input
//! that has become unreadable) leaves the run directory as it found it; it used to have deleted
//! the earlier `retry.csv` and `summary.json` already, the only list of the contacts not sent.
//!
//! Until then the session's error report (malformed rows come while reading) is written beside
//! the earlier one, to `errors.partial.csv`, and is removed if the session ends before replacing.

use super::SUMMARY_FILE;
use super::errors::{ERRORS_FILE, ErrorReport};
use super::files::{RunDirError, remove_if_present};
use super::retry::{PARTIAL_FILE, RETRY_FILE};
use std::path::{Path, PathBuf};

/// A resumed session's error report until it replaces the earlier one.
pub const PENDING_ERRORS_FILE: &str = "errors.partial.csv";

/// The earlier session's outputs, still in place.
pub struct Earlier {
    dir: PathBuf,
    replaced: bool,
}

impl Earlier {
    /// Keeps the earlier outputs of the run in `dir` and opens this session's error report beside
    /// them. The run is locked: a pending report already there is one a killed resume left.
    pub fn keep(dir: &Path, inputs: Vec<String>) -> Result<(Earlier, ErrorReport), RunDirError> {
        let pending = dir.join(PENDING_ERRORS_FILE);
        remove_if_present(&pending)?;
        let errors = ErrorReport::create_at(pending, inputs)?;
        Ok((Earlier { dir: dir.to_path_buf(), replaced: false }, errors))
    }

    /// Replaces the earlier outputs with this session's: its retry file and summary go (and what a
    /// killed session left half written), and `errors` takes the place of its `errors.csv`.
    pub fn replace(&mut self, errors: &mut ErrorReport) -> Result<(), RunDirError> {
        // summary.tmp: the temporary file of a summary being written (`files::replace_private`).
        for stale in [RETRY_FILE, PARTIAL_FILE, SUMMARY_FILE, "summary.tmp"] {
            remove_if_present(&self.dir.join(stale))?;
        }
        errors.rename(self.dir.join(ERRORS_FILE))?;
        self.replaced = true;
        Ok(())
    }
}

impl Drop for Earlier {
    /// A session that ends before it replaces anything (refused, nothing sent) leaves nothing of
    /// its own behind.
    fn drop(&mut self) {
        if !self.replaced {
            let _ = std::fs::remove_file(self.dir.join(PENDING_ERRORS_FILE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{BadRow, Format, Location};
    use crate::report::Report;
    use crate::report::journal::{Header, Journal};
    use crate::report::lock::RunLock;

    const EARLIER: [(&str, &str); 3] =
        [(ERRORS_FILE, "earlier errors\n"), (RETRY_FILE, "earlier retry\n"), (SUMMARY_FILE, "{\"earlier\":1}\n")];

    /// A run directory whose earlier session left its outputs, and a resume of it that has read a
    /// malformed row.
    fn resumed_after_a_bad_row() -> (tempfile::TempDir, Report) {
        let dir = tempfile::tempdir().unwrap();
        Journal::create(dir.path(), &Header { version: 1, inputs: vec![], target: None }).unwrap();
        for (name, text) in EARLIER {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let lock = RunLock::acquire(dir.path()).unwrap();
        let mut report = Report::resume(dir.path(), vec!["in.csv".into()], lock).unwrap();
        let bad = BadRow { location: Location { input: 0, line: 3 }, reason: "ragged".into() };
        report.bad_row(&bad).unwrap();
        (dir, report)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    /// Refused on its inputs after it opened its report: the earlier outputs are as they were.
    #[test]
    fn a_resume_that_ends_before_its_first_outcome_leaves_the_earlier_outputs() {
        let (dir, report) = resumed_after_a_bad_row();
        drop(report);
        for (name, text) in EARLIER {
            assert_eq!(std::fs::read_to_string(dir.path().join(name)).unwrap(), text, "{name}");
        }
        assert_eq!(names(dir.path()), ["errors.csv", "journal.jsonl", "retry.csv", "run.lock", "summary.json"]);
    }

    #[test]
    fn a_resume_that_gets_to_the_end_replaces_the_earlier_outputs() {
        let (dir, report) = resumed_after_a_bad_row();
        let finished = report.finish(Format::Wide).unwrap();
        let errors = std::fs::read_to_string(&finished.errors_file).unwrap();
        assert!(errors.contains("in.csv:3") && !errors.contains("earlier"), "{errors}");
        assert_eq!(names(dir.path()), ["errors.csv", "journal.jsonl", "run.lock"]);
    }
}
