//! `--metrics-file PATH`: the run's numbers in the Prometheus textfile-collector format (for
//! node_exporter's `--collector.textfile.directory`), rewritten every [`WRITE_EVERY`] while the
//! run goes and once at its end. Each write goes to a temporary file that is then renamed over
//! the old one, so the collector never reads half a file.
//!
//! Rendering is a pure function of a [`Snapshot`]; the caller passes the clock in.

use super::files::{RunDirError, replace_private};
use super::summary::Tally;
use crate::send::{Counters, Outcome, Status};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const WRITE_EVERY: Duration = Duration::from_secs(10);

/// Everything one write of the file shows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Snapshot {
    pub tally: Tally,
    /// Contacts in this run, done or not.
    pub total: u64,
    pub requests: u64,
    pub throttled: u64,
    pub retries: u64,
    /// Seconds since sending started.
    pub duration_s: f64,
    /// Updated contacts per second of sending.
    pub achieved_rate: f64,
    /// Unix time of the last contact updated, if any.
    pub last_success: Option<f64>,
    /// Unix time of this write.
    pub now: f64,
    /// The exit code, once the run is over.
    pub exit_code: Option<u8>,
}

impl Snapshot {
    /// The numbers of a run that has been sending for `sending`.
    pub fn of(tally: Tally, total: u64, counters: &Counters, sending: Duration, last_success: Option<f64>) -> Snapshot {
        let duration_s = sending.as_secs_f64();
        Snapshot {
            tally,
            total,
            requests: Counters::get(&counters.requests),
            throttled: Counters::get(&counters.throttled),
            retries: Counters::get(&counters.retries),
            duration_s: (duration_s * 1000.0).round() / 1000.0,
            achieved_rate: ((tally.updated as f64 / duration_s.max(1e-3)) * 1000.0).round() / 1000.0,
            last_success,
            now: unix_seconds(SystemTime::now()),
            exit_code: None,
        }
    }
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// The metrics hold counts, no personal data, and node_exporter reads them as a user of its own:
/// `0644`, where the run directory's files are `0600`.
fn readable_by_all(path: &std::path::Path) -> Result<(), RunDirError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(path, mode).map_err(|source| RunDirError::File { path: path.into(), source })?;
    }
    Ok(())
}

/// The file's text.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let t = &s.tally;
    let outcomes = [
        ("{outcome=\"updated\"}", t.updated as f64),
        ("{outcome=\"failed\"}", t.failed as f64),
        ("{outcome=\"invalid\"}", t.invalid as f64),
        ("{outcome=\"skipped\"}", t.skipped as f64),
        // Finished by an earlier session of a resumed run: updated, or refused for good. Without
        // these the outcomes of a resume added up to less than its contacts, and its refused
        // contacts were in none.
        ("{outcome=\"updated_before\"}", t.already_done.saturating_sub(t.already_failed) as f64),
        ("{outcome=\"failed_before\"}", t.already_failed as f64),
        ("{outcome=\"pending\"}", s.total.saturating_sub(t.done()) as f64),
    ];
    metric(
        &mut out,
        "connect_attrs_contacts",
        "gauge",
        "Contacts of this run by outcome (pending: not done yet).",
        &outcomes,
    );
    let counter = |out: &mut String, name: &str, help: &str, value: u64| {
        metric(out, name, "counter", help, &[("", value as f64)]);
    };
    counter(&mut out, "connect_attrs_requests_total", "UpdateContactAttributes requests sent.", s.requests);
    counter(&mut out, "connect_attrs_throttled_total", "Requests answered with throttling.", s.throttled);
    counter(&mut out, "connect_attrs_retries_total", "Requests that were retries of a contact.", s.retries);
    metric(&mut out, "connect_attrs_duration_seconds", "gauge", "Seconds spent sending so far.", &[("", s.duration_s)]);
    let rate = [("", s.achieved_rate)];
    metric(&mut out, "connect_attrs_achieved_rate", "gauge", "Contacts updated per second of sending.", &rate);
    if let Some(at) = s.last_success {
        let help = "Unix time of the last contact updated.";
        metric(&mut out, "connect_attrs_last_success_timestamp_seconds", "gauge", help, &[("", at)]);
    }
    let running = [("", if s.exit_code.is_some() { 0.0 } else { 1.0 })];
    metric(&mut out, "connect_attrs_running", "gauge", "1 while the run goes, 0 once it has ended.", &running);
    if let Some(code) = s.exit_code {
        let help = "Exit code of the run: 0 all updated, 1 some not, 2 error, 3 stopped early.";
        metric(&mut out, "connect_attrs_exit_code", "gauge", help, &[("", code as f64)]);
    }
    metric(&mut out, "connect_attrs_last_write_timestamp_seconds", "gauge", "Unix time of this write.", &[("", s.now)]);
    out
}

pub fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH).map_or(0.0, |d| (d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// The metrics file of a run (or none, without `--metrics-file`).
#[derive(Debug)]
pub struct MetricsFile {
    path: Option<PathBuf>,
    last_write: Option<Instant>,
    last_success: Option<f64>,
    warned: bool,
}

impl MetricsFile {
    pub fn new(path: Option<&Path>) -> MetricsFile {
        MetricsFile { path: path.map(Path::to_path_buf), last_write: None, last_success: None, warned: false }
    }

    /// Notes the time of each update, for `connect_attrs_last_success_timestamp_seconds`.
    pub fn observe(&mut self, outcome: &Outcome, now: SystemTime) {
        if outcome.status == Status::Updated {
            self.last_success = Some(unix_seconds(now));
        }
    }

    pub fn last_success(&self) -> Option<f64> {
        self.last_success
    }

    /// Whether a write is due at `now` (the first one always is).
    pub fn due(&self, now: Instant) -> bool {
        self.path.is_some() && self.last_write.is_none_or(|last| now.duration_since(last) >= WRITE_EVERY)
    }

    /// Writes the file now; an error is returned (the first write, and the last, should stop on it).
    pub fn write(&mut self, snapshot: &Snapshot, now: Instant) -> Result<(), RunDirError> {
        let Some(path) = &self.path else { return Ok(()) };
        self.last_write = Some(now);
        replace_private(path, render(snapshot).as_bytes())?;
        readable_by_all(path)
    }

    /// A write during the run: a failure is a warning (once), not a reason to stop sending.
    pub fn write_during_run(&mut self, snapshot: &Snapshot, now: Instant) {
        if let Err(err) = self.write(snapshot, now)
            && !self.warned
        {
            self.warned = true;
            tracing::warn!("--metrics-file: {err}; the run goes on");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            tally: Tally {
                contacts: 7,
                updated: 4,
                failed: 1,
                invalid: 1,
                skipped: 1,
                skipped_empty: 1,
                ..Tally::default()
            },
            total: 10,
            requests: 9,
            throttled: 2,
            retries: 3,
            duration_s: 2.5,
            achieved_rate: 1.6,
            last_success: Some(1_764_040_500.25),
            now: 1_764_040_501.0,
            exit_code: None,
        }
    }

    #[test]
    fn a_resumed_runs_outcomes_add_up_to_its_contacts() {
        let tally =
            Tally { contacts: 10, updated: 3, failed: 1, already_done: 6, already_failed: 2, ..Tally::default() };
        let text = render(&Snapshot { tally, total: 10, ..snapshot() });
        let value = |outcome: &str| {
            let line = format!("connect_attrs_contacts{{outcome=\"{outcome}\"}} ");
            text.lines().find_map(|l| l.strip_prefix(&line)).map(|v| v.parse::<f64>().unwrap())
        };
        assert_eq!((value("updated_before"), value("failed_before")), (Some(4.0), Some(2.0)));
        let outcomes = ["updated", "failed", "invalid", "skipped", "updated_before", "failed_before", "pending"];
        assert_eq!(outcomes.iter().map(|o| value(o).unwrap()).sum::<f64>(), 10.0);
    }

    #[test]
    fn the_text_is_the_textfile_format() {
        let expected = "\
# HELP connect_attrs_contacts Contacts of this run by outcome (pending: not done yet).
# TYPE connect_attrs_contacts gauge
connect_attrs_contacts{outcome=\"updated\"} 4
connect_attrs_contacts{outcome=\"failed\"} 1
connect_attrs_contacts{outcome=\"invalid\"} 1
connect_attrs_contacts{outcome=\"skipped\"} 1
connect_attrs_contacts{outcome=\"updated_before\"} 0
connect_attrs_contacts{outcome=\"failed_before\"} 0
connect_attrs_contacts{outcome=\"pending\"} 3
# HELP connect_attrs_requests_total UpdateContactAttributes requests sent.
# TYPE connect_attrs_requests_total counter
connect_attrs_requests_total 9
# HELP connect_attrs_throttled_total Requests answered with throttling.
# TYPE connect_attrs_throttled_total counter
connect_attrs_throttled_total 2
# HELP connect_attrs_retries_total Requests that were retries of a contact.
# TYPE connect_attrs_retries_total counter
connect_attrs_retries_total 3
# HELP connect_attrs_duration_seconds Seconds spent sending so far.
# TYPE connect_attrs_duration_seconds gauge
connect_attrs_duration_seconds 2.5
# HELP connect_attrs_achieved_rate Contacts updated per second of sending.
# TYPE connect_attrs_achieved_rate gauge
connect_attrs_achieved_rate 1.6
# HELP connect_attrs_last_success_timestamp_seconds Unix time of the last contact updated.
# TYPE connect_attrs_last_success_timestamp_seconds gauge
connect_attrs_last_success_timestamp_seconds 1764040500.25
# HELP connect_attrs_running 1 while the run goes, 0 once it has ended.
# TYPE connect_attrs_running gauge
connect_attrs_running 1
# HELP connect_attrs_last_write_timestamp_seconds Unix time of this write.
# TYPE connect_attrs_last_write_timestamp_seconds gauge
connect_attrs_last_write_timestamp_seconds 1764040501
";
        assert_eq!(render(&snapshot()), expected);
    }

    #[test]
    fn the_end_says_the_exit_code_and_no_success_means_no_timestamp() {
        let text = render(&Snapshot { exit_code: Some(1), last_success: None, ..snapshot() });
        assert!(text.contains("\nconnect_attrs_running 0\n"), "{text}");
        assert!(text.contains("\nconnect_attrs_exit_code 1\n"), "{text}");
        assert!(!text.contains("last_success"), "{text}");
    }

    #[test]
    fn writes_are_due_every_ten_seconds_and_replace_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect_attrs.prom");
        let mut file = MetricsFile::new(Some(&path));
        let start = Instant::now();
        assert!(file.due(start));
        file.write(&snapshot(), start).unwrap();
        assert!(!file.due(start + Duration::from_secs(9)));
        assert!(file.due(start + WRITE_EVERY));
        file.write(&Snapshot { exit_code: Some(0), ..snapshot() }, start + WRITE_EVERY).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("connect_attrs_exit_code 0"));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["connect_attrs.prom"], "no temporary file is left behind");
        assert!(!MetricsFile::new(None).due(start));
    }

    #[test]
    fn only_updates_set_the_last_success() {
        use crate::merge::Contact;
        use crate::send::Skip;
        let mut file = MetricsFile::new(None);
        let at = UNIX_EPOCH + Duration::from_secs(100);
        let outcome = |status| Outcome::new(Contact::default(), status, 1);
        file.observe(&outcome(Status::Skipped(Skip::Stopped)), at);
        assert_eq!(file.last_success(), None);
        file.observe(&outcome(Status::Updated), at);
        assert_eq!(file.last_success(), Some(100.0));
    }

    #[cfg(unix)]
    #[test]
    fn node_exporter_running_as_another_user_can_read_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect_attrs.prom");
        let mut file = MetricsFile::new(Some(&path));
        file.write(&snapshot(), Instant::now()).unwrap();
        file.write(&snapshot(), Instant::now()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
    }
}
