//! The two commands wired together: read -> merge -> validate -> send -> report. Each stage is
//! its own module; this file only connects them and decides the exit code.

use crate::cli::{Cli, Command, RunArgs, ValidateArgs};
use crate::connect::http::HttpSender;
use crate::error::{Error, exit};
use crate::input::{self, Format, InputSpec, Item};
use crate::merge::{Contact, ContactView, Contacts, Merger};
use crate::plan::{self, InputPlan};
use crate::report::metrics::{MetricsFile, Snapshot};
use crate::report::progress::Rates;
use crate::report::{self, Report, Summary, Tally};
use crate::send::ratelimit::RateControl;
use crate::send::stop::{Stop, StopReason};
use crate::send::{self, Context, Counters, Outcome, Skip, Status};
use crate::{ceiling, completions, logging, validate};
use crate::{resume, shutdown, target};
use rayon::prelude::*;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::mpsc::TryRecvError;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How often the report takes the outcomes that arrived.
const REPORT_EVERY: Duration = Duration::from_millis(20);

/// Runs one command; `Ok` holds the exit code of a command that got to write its summary.
pub fn run(cli: Cli) -> Result<u8, Error> {
    logging::init(cli.verbose, cli.quiet, cli.log_format);
    let open_files = crate::descriptors::raise_soft_limit();
    tracing::debug!(open_files, "limit on open files");
    let clock = Clock::start();
    match &cli.command {
        Command::Validate(args) => validate_command(args, &clock),
        Command::Run(args) => run_command(args, cli.quiet, &clock),
        Command::Completions(args) => {
            // Written whole, then printed: clap_complete panics on a stdout it cannot write.
            let mut script = Vec::new();
            completions::completions(args.shell, &mut script);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
            Ok(exit::OK)
        }
        Command::Man(args) => {
            completions::man(args.subcommand.as_deref(), &mut std::io::stdout())?;
            Ok(exit::OK)
        }
    }
}

struct Clock {
    started_at: OffsetDateTime,
    started: Instant,
}

impl Clock {
    fn start() -> Clock {
        Clock { started_at: OffsetDateTime::now_utc(), started: Instant::now() }
    }

    /// `20261125T031500Z`: the default run directory's name.
    fn stamp(&self) -> String {
        let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        self.started_at.format(&format).unwrap_or_else(|_| "run".into())
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// What reading and merging produced: final contacts (not yet checked), and the counts of what
/// was read.
struct Prepared {
    report: Report,
    contacts: Contacts,
    rows: u64,
    bad_rows: u64,
    format: Option<Format>,
}

/// Reads every input and merges it. Contacts become final only here, after the last row, so a
/// spill failure (exit 2) comes before anything is sent. `abort`: a stop that ends reading early.
fn prepare(plan: &InputPlan, mut report: Report, abort: Option<&Stop>) -> Result<Prepared, Error> {
    let mut merger = Merger::new(plan.merge.clone());
    merger.expect_input_bytes(InputSpec::known_bytes(&plan.inputs));
    let (mut rows, mut bad_rows, mut format) = (0, 0, None);
    let mut failure: Option<Error> = None;
    let stopped = || abort.is_some_and(|stop| stop.is_stopped());
    for (index, spec) in plan.inputs.iter().enumerate() {
        let read = input::read_input(index as u32, spec, &plan.read, |item| {
            let result = match item {
                Item::Row(row) => merger.add(row).map_err(Error::from),
                Item::Bad(bad) => report.bad_row(&bad).map_err(Error::from),
            };
            if let Err(err) = result {
                failure.get_or_insert(err);
            }
            if failure.is_some() || stopped() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        });
        let info = match read {
            // A read that waited (stdin) was ended by the stop.
            Err(_) if plan.read.cancel.is_cancelled() => {
                return Err(Error::Interrupted("stopped while reading the inputs: nothing was sent".into()));
            }
            read => read?,
        };
        tracing::info!("{}: {} rows ({:?}), {} malformed", spec.name, info.rows, info.format, info.bad_rows);
        rows += info.rows;
        bad_rows += info.bad_rows;
        format.get_or_insert(info.format);
        if let Some(err) = failure {
            return Err(err);
        }
        if stopped() {
            return Err(Error::Interrupted("stopped while reading the inputs: nothing was sent".into()));
        }
    }
    let contacts = merger.finish(&plan.set)?;
    tracing::info!("merged: {:?}", contacts.strategy());
    Ok(Prepared { report, contacts, rows, bad_rows, format })
}

/// Contacts checked per batch: enough for rayon to pay, few enough to keep memory flat.
const CHECK_BATCH: usize = 4096;

/// The next batch of final contacts, each checked (in parallel): `Ok` to send, or the outcome
/// that says why not. Empty at the end.
fn next_checked(contacts: &mut Contacts) -> Result<Vec<Result<Contact, Box<Outcome>>>, Error> {
    let batch = contacts.by_ref().take(CHECK_BATCH).collect::<Result<Vec<Contact>, _>>()?;
    Ok(batch.into_par_iter().map(check).collect())
}

/// A contact worth sending, or the outcome that says why not.
fn check(contact: Contact) -> Result<Contact, Box<Outcome>> {
    match not_to_send(&ContactView::of(&contact, &mut Vec::new())) {
        None => Ok(contact),
        Some(status) => Err(Box::new(Outcome::new(contact, status, 0))),
    }
}

/// Why a contact is not to be sent (invalid, or nothing to set), if it is not.
fn not_to_send(contact: &ContactView<'_>) -> Option<Status> {
    let attributes = contact.attributes.iter().copied();
    match validate::contact_with_keys_checked(contact.instance_id, contact.contact_id, attributes, contact.keys_checked)
    {
        Err(invalid) => Some(Status::Invalid(invalid)),
        Ok(()) if contact.attributes.is_empty() => Some(Status::Skipped(Skip::Empty)),
        Ok(()) => None,
    }
}

/// What checking a piece of the merge found: the plan's figures for the contacts to send, and
/// the outcome of each contact not to be sent (only those are built).
#[derive(Default)]
struct Checked {
    to_send: report::plan::ToSend,
    rejected: Vec<Outcome>,
}

fn validate_command(args: &ValidateArgs, clock: &Clock) -> Result<u8, Error> {
    let mut plan = plan::input_plan(&args.input, &clock.stamp())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (ceiling, region) = runtime.block_on(ceiling::for_plan(&args.plan, &|name| std::env::var(name).ok()));
    if let Some(region) = &region {
        plan::set_region(&mut plan, &args.input, region)?;
    }
    let report = Report::create(&plan.run_dir, input_names(&plan), None)?;
    // A signal ends the command early, with the merge's temporary files removed on the way out.
    let signals = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let stop = Arc::new(Stop::default());
    signals.spawn(shutdown::watch(stop.clone(), None, Duration::ZERO));
    signals.spawn(shutdown::cancel_reading(stop.clone(), false, plan.read.cancel.clone()));
    let started = Instant::now();
    let Prepared { mut report, mut contacts, rows, bad_rows, format } = prepare(&plan, report, Some(&stop))?;
    tracing::debug!("read and partitioned in {:.2?}", started.elapsed());
    let mut to_send = report::plan::ToSend::default();
    let check = |checked: &mut Checked, contact: &ContactView<'_>| match not_to_send(contact) {
        None => checked.to_send.add(contact),
        Some(status) => checked.rejected.push(Outcome::new(contact.to_contact(), status, 0)),
    };
    while let Some(pieces) = contacts.next_folded(Checked::default, check)? {
        for piece in pieces {
            to_send.absorb(piece.to_send);
            for outcome in &piece.rejected {
                report.outcome(outcome)?;
            }
        }
        if stop.is_stopped() {
            return Err(Error::Interrupted("stopped while checking the inputs".into()));
        }
    }
    tracing::debug!("merged and checked in {:.2?} in all", started.elapsed());
    drop(contacts);
    let valid = to_send.count();
    let finished = report.finish(format.unwrap_or(Format::Wide))?;
    let mut tally = finished.tally;
    tally.contacts += valid;
    let code = if tally.invalid > 0 || bad_rows > 0 { exit::SOME_NOT_UPDATED } else { exit::OK };
    let summary = Summary {
        command: "validate",
        valid: Some(valid),
        exit_code: code,
        ..summary(&plan, &finished, tally, rows, bad_rows, format, clock)
    };
    report::write_summary(&finished.dir, &summary)?;
    // stdout: the plan for people, or with --json the same plan (summary included) as JSON.
    let plan = report::plan::build_from(summary, to_send, finished.findings, ceiling, args.plan.window);
    let text = if args.plan.json {
        serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n"
    } else {
        report::plan::render(&plan)
    };
    report::print_stdout(&text, &finished.dir);
    Ok(code)
}

fn run_command(args: &RunArgs, quiet: bool, clock: &Clock) -> Result<u8, Error> {
    let mut input_plan = plan::input_plan(&args.input, &clock.stamp())?;
    let send_plan = plan::send_plan(args, &|name| std::env::var(name).ok())?;
    let stop_after = stop_after(args, clock)?;
    // One worker for sending: a second one only bounced request and connection tasks between
    // threads (futex wake-ups), and the feeder and the report have threads of their own.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    // Signals and the time limit from now on. A stop while the credentials and the quota are
    // looked up (10 s and more against a network that drops packets) ends the command at once:
    // nothing was read or sent. (Before, SIGTERM killed it there with 143 and no word.)
    let stop = Arc::new(Stop::default());
    runtime.spawn(shutdown::watch(stop.clone(), stop_after, Duration::from_secs(args.grace)));
    let resolved = runtime.block_on(async {
        tokio::select! {
            target = target::resolve(&send_plan) => Some(target),
            _ = stop.stopped() => None,
        }
    });
    let Some(target) = resolved else {
        tracing::warn!("stopped before anything was read or sent");
        return Ok(exit::STOPPED);
    };
    let target = target?;
    plan::set_region(&mut input_plan, &args.input, &target.region)?;
    // The metrics file is written first now, so a path that cannot be written stops the run early.
    let mut metrics = MetricsFile::new(args.metrics_file.as_deref());
    let first = Snapshot::of(Tally::default(), 0, &Counters::default(), Duration::ZERO, None);
    metrics.write(&first, Instant::now()).map_err(|e| Error::Config(format!("--metrics-file: {e}")))?;
    let (report, finished_before) = resume::open_report(args, &mut input_plan, &target)?;
    let report = report.reading_back_with(&input_plan.read);
    // A stop reads on (every contact then goes to the retry file); a second signal ends reading,
    // even a read of stdin that waits.
    runtime.spawn(shutdown::cancel_reading(stop.clone(), true, input_plan.read.cancel.clone()));
    let Prepared { mut report, contacts, rows, bad_rows, format } = prepare(&input_plan, report, None)?;
    if stop.is_stopped() {
        // The feeder reports every contact as stopped: they all go to the retry file.
        tracing::warn!("stopped while reading the inputs: nothing was sent");
    }

    let counters = Arc::new(Counters::default());
    let sender = HttpSender::new(&target.endpoint, &target.region, target.credentials.clone(), send_plan.timeout)
        .map_err(|e| Error::Config(e.to_string()))?;
    let rate = RateControl::new(target.ceiling);
    let context =
        Arc::new(Context::new(sender, rate, send_plan.retry, send_plan.concurrency, counters.clone(), stop.clone()));
    // Grouped or in-memory merges know their count; a spilled one knows an upper bound.
    let (known, to_send) = match contacts.known_len() {
        Some(n) => ("", n),
        None => ("at most ", rows - bad_rows),
    };
    tracing::info!(
        "sending {known}{to_send} contacts{} to {} ({}), {}",
        resume::finished_note(&finished_before),
        target.endpoint,
        target.region,
        target::describe_ceiling(target.ceiling)
    );

    let total = report.tally().contacts + to_send;
    report.show_progress(total, quiet);
    logging::set_bar(report.progress_bar());
    let (contact_tx, contact_rx) = tokio::sync::mpsc::channel(1024);
    let (outcome_tx, outcome_rx) = std::sync::mpsc::channel();
    let sending = Instant::now();
    let feeder = {
        let (outcome_tx, stop) = (outcome_tx.clone(), stop.clone());
        let feed = move || feed(contacts, finished_before, contact_tx, outcome_tx, stop);
        std::thread::Builder::new().name("feed".into()).spawn(feed)?
    };
    runtime.spawn(send::send_all(contact_rx, context.clone(), outcome_tx));

    let mut write_error = None;
    loop {
        // Drain what arrived, then look again in a moment: a blocking receive would wake this
        // thread once per outcome, which cost more CPU than the outcome itself.
        let mut disconnected = false;
        loop {
            match outcome_rx.try_recv() {
                Ok(outcome) => {
                    metrics.observe(&outcome, std::time::SystemTime::now());
                    if let Err(err) = report.outcome(&outcome) {
                        stop.stop(StopReason::Fatal(format!("cannot write the run's outputs: {err}")));
                        write_error.get_or_insert(err);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    disconnected = true;
                    break;
                }
            }
        }
        if let Err(err) = report.sync_journal_if_due() {
            stop.stop(StopReason::Fatal(format!("cannot write the journal: {err}")));
            write_error.get_or_insert(err);
        }
        report.tick(Rates {
            requests: Counters::get(&counters.requests),
            throttled: Counters::get(&counters.throttled),
            current_rate: context.rate.current_rate(),
            ceiling: target.ceiling.map(|c| c.rate),
        });
        if metrics.due(Instant::now()) {
            let snapshot = Snapshot::of(report.tally(), total, &counters, sending.elapsed(), metrics.last_success());
            metrics.write_during_run(&snapshot, Instant::now());
        }
        if disconnected {
            break;
        }
        std::thread::sleep(REPORT_EVERY);
    }
    // The loop ends when every sender of outcomes is gone, the feeder's included.
    let left_unread = feeder.join().is_ok_and(|unread| unread.0);
    let send_seconds = sending.elapsed().as_secs_f64();
    logging::set_bar(None);
    let dir = report.dir().to_path_buf();
    let resume_command =
        || resume::resume_command(&std::env::args().collect::<Vec<_>>(), args, &dir, OffsetDateTime::now_utc());
    let finished = report.finish(format.unwrap_or(Format::Wide)).inspect_err(|_| {
        // The journal is synced before the retry file is written: a resume rebuilds the rest.
        let command = resume_command();
        tracing::warn!("the run's outputs could not be finished, but --resume picks up from its journal: {command}");
    })?;
    let mut summary = summary(&input_plan, &finished, finished.tally, rows, bad_rows, format, clock);
    summary.requests = Counters::get(&counters.requests);
    summary.throttled = Counters::get(&counters.throttled);
    summary.retries = Counters::get(&counters.retries);
    summary.achieved_rate = finished.tally.updated as f64 / send_seconds.max(1e-3);
    summary.ceiling = target.ceiling;
    let code = match stop.reason() {
        Some(StopReason::Fatal(message)) => {
            tracing::error!("stopped: {message}");
            summary.stopped = Some(message);
            exit::ERROR
        }
        Some(StopReason::Requested(why)) => {
            summary.stopped = Some(why);
            exit::STOPPED
        }
        None => summary.exit_code_for(),
    };
    let last = Snapshot::of(finished.tally, total, &counters, sending.elapsed(), metrics.last_success());
    if let Err(err) = metrics.write(&Snapshot { exit_code: Some(code), ..last }, Instant::now()) {
        tracing::error!("--metrics-file: {err}");
    }
    if summary.stopped.is_some() {
        let command = resume_command();
        // A write that failed may have been the retry file's own; each outcome is journalled first.
        let kept = if left_unread {
            "contacts the merge had not read back yet are in no output file, the retry file included: only --resume sends them"
        } else if write_error.is_some() {
            "the retry file may be incomplete, but --resume picks up from the run's journal"
        } else {
            "contacts not sent are in the retry file"
        };
        tracing::warn!("{kept}; to go on where this run stopped: {command}");
        summary.resume_command = Some(command);
    }
    emit(&finished.dir, Summary { exit_code: code, ..summary })?;
    match write_error {
        Some(err) => Err(err.into()),
        None => Ok(code),
    }
}

fn input_names(plan: &InputPlan) -> Vec<String> {
    plan.inputs.iter().map(|i| i.name.clone()).collect()
}

/// How long until `--deadline` or `--max-duration`, whichever comes first.
fn stop_after(args: &RunArgs, clock: &Clock) -> Result<Option<shutdown::TimeLimit>, Error> {
    shutdown::time_limit(args.deadline.as_deref(), args.max_duration.as_deref(), clock.started_at)
        .map_err(|e| Error::Usage(e.to_string()))
}

/// Feeds checked contacts to the sender, and contacts that are not to be sent (invalid, empty,
/// finished in an earlier session) straight to the report, on a thread of its own (merging
/// partitions is CPU work). Every contact is accounted for: once the sender is gone, the rest are
/// reported as stopped. Ends when all are handed on; the merge's temporary files go with it.
fn feed(
    mut contacts: Contacts,
    before: resume::FinishedBefore,
    contact_tx: tokio::sync::mpsc::Sender<Contact>,
    outcome_tx: std::sync::mpsc::Sender<Outcome>,
    stop: Arc<Stop>,
) -> LeftUnread {
    loop {
        let batch = match next_checked(&mut contacts) {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => batch,
            Err(err) => {
                stop.stop(StopReason::Fatal(err.to_string()));
                return LeftUnread(true);
            }
        };
        for result in batch {
            let outcome = match result.map(|contact| resume::finished_before(contact, &before)) {
                Ok(Ok(contact)) => match contact_tx.blocking_send(contact) {
                    Ok(()) => continue,
                    Err(unsent) => Outcome::new(unsent.0, Status::Skipped(Skip::Stopped), 0),
                },
                Ok(Err(done)) | Err(done) => *done,
            };
            if outcome_tx.send(outcome).is_err() {
                return LeftUnread(false);
            }
        }
    }
    drop(contacts);
    LeftUnread(false)
}

/// Whether the merge failed (its temporary files gone or damaged) before every contact was read
/// back: those contacts are in no output file, and only a resume, which reads the inputs again,
/// sends them.
struct LeftUnread(bool);

fn summary(
    plan: &InputPlan,
    finished: &report::Finished,
    tally: Tally,
    rows: u64,
    bad_rows: u64,
    format: Option<Format>,
    clock: &Clock,
) -> Summary {
    Summary {
        command: "run",
        inputs: plan.inputs.iter().map(|i| i.name.clone()).collect(),
        format,
        rows,
        bad_rows,
        tally,
        valid: None,
        requests: 0,
        throttled: 0,
        retries: 0,
        elapsed_s: (clock.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        achieved_rate: 0.0,
        ceiling: None,
        exit_code: 0,
        stopped: None,
        resume_command: None,
        run_dir: finished.dir.display().to_string(),
        errors_file: finished.errors_file.display().to_string(),
        retry_file: finished.retry_file.as_ref().map(|p| p.display().to_string()),
        started_at: rfc3339(clock.started_at),
        finished_at: rfc3339(OffsetDateTime::now_utc()),
    }
}

/// Writes `summary.json` and prints the same JSON on stdout.
fn emit(dir: &std::path::Path, summary: Summary) -> Result<(), Error> {
    report::write_summary(dir, &summary)?;
    // One line: the cookbook appends each night's summary to a JSON Lines file (summary.json
    // in the run directory is the indented copy).
    report::print_stdout(&(serde_json::to_string(&summary).unwrap_or_default() + "\n"), dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn check_sorts_contacts_into_send_invalid_and_empty() {
        let contact = |instance: &str, attrs: &[(&str, &str)]| Contact {
            instance_id: instance.into(),
            contact_id: "c".into(),
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            lines: vec![],
        };
        assert!(check(contact("i", &[("A", "1")])).is_ok());
        let invalid = check(contact("", &[("A", "1")])).unwrap_err();
        assert!(matches!(invalid.status, Status::Invalid(_)));
        let empty = check(contact("i", &[])).unwrap_err();
        assert_eq!(empty.status, Status::Skipped(Skip::Empty));
    }
}
