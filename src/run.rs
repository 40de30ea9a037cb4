//! The two commands wired together: read -> merge -> validate -> send -> report. Each stage is
//! its own module; this file only connects them and decides the exit code.

use crate::cli::{Cli, Command, RateArg, RunArgs, ValidateArgs};
use crate::connect::credentials::{self, CredentialCache};
use crate::connect::http::HttpSender;
use crate::connect::quotas;
use crate::error::{Error, exit};
use crate::input::{self, Format, Item};
use crate::merge::{Contact, Contacts, Merger};
use crate::plan::{self, InputPlan, SendPlan};
use crate::report::progress::Rates;
use crate::report::{self, Report, Summary, Tally};
use crate::send::ratelimit::{Ceiling, RateControl};
use crate::send::stop::{Stop, StopReason};
use crate::send::{self, Context, Counters, Outcome, Skip, Status};
use crate::{logging, validate};
use rayon::prelude::*;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Runs one command; `Ok` holds the exit code of a command that got to write its summary.
pub fn run(cli: Cli) -> Result<u8, Error> {
    logging::init(cli.verbose, cli.quiet, cli.log_format);
    let clock = Clock::start();
    match &cli.command {
        Command::Validate(args) => validate_command(args, &clock),
        Command::Run(args) => run_command(args, cli.quiet, &clock),
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

/// Reads every input and merges it. Contacts become final only here, after the last row: a
/// spill failure or a signal stops the command before anything is sent.
fn prepare(plan: &InputPlan, stop: &Stop) -> Result<Prepared, Error> {
    let names = plan.inputs.iter().map(|i| i.name.clone()).collect();
    let mut report = Report::create(&plan.run_dir, names)?;
    let mut merger = Merger::new(plan.merge.clone());
    let (mut rows, mut bad_rows, mut format) = (0, 0, None);
    let mut failure: Option<Error> = None;
    for (index, spec) in plan.inputs.iter().enumerate() {
        let info = input::read_input(index as u32, spec, &plan.read, |item| {
            let result = match item {
                Item::Row(row) => merger.add(row).map_err(Error::from),
                Item::Bad(bad) => report.bad_row(&bad).map_err(Error::from),
            };
            if let Err(err) = result {
                failure.get_or_insert(err);
            }
            match (&failure, stop.is_stopped()) {
                (None, false) => ControlFlow::Continue(()),
                _ => ControlFlow::Break(()),
            }
        })?;
        tracing::info!("{}: {} rows ({:?}), {} malformed", spec.name, info.rows, info.format, info.bad_rows);
        rows += info.rows;
        bad_rows += info.bad_rows;
        format.get_or_insert(info.format);
        if let Some(err) = failure {
            return Err(err);
        }
        interrupted(stop, "while reading the input")?;
    }
    let contacts = merger.finish(&plan.set)?;
    tracing::info!("merged: {:?}", contacts.strategy());
    Ok(Prepared { report, contacts, rows, bad_rows, format })
}

/// A signal before sending began is an error: nothing was sent, the same command can run again.
fn interrupted(stop: &Stop, when: &str) -> Result<(), Error> {
    match stop.reason() {
        Some(StopReason::Requested(why)) | Some(StopReason::Fatal(why)) => {
            Err(Error::Interrupted(format!("{why} {when}: nothing was sent; run the same command again")))
        }
        None => Ok(()),
    }
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
    let status = match validate::contact(&contact.instance_id, &contact.contact_id, contact.attribute_pairs()) {
        Err(invalid) => Status::Invalid(invalid),
        Ok(()) if contact.attributes.is_empty() => Status::Skipped(Skip::Empty),
        Ok(()) => return Ok(contact),
    };
    Err(Box::new(Outcome { contact, status, attempts: 0 }))
}

/// Stops the command on SIGINT/SIGTERM; a small runtime of its own for `validate`.
fn watch_signals() -> Result<(tokio::runtime::Runtime, Arc<Stop>), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let stop = Arc::new(Stop::default());
    runtime.spawn(stop_on_signal(stop.clone()));
    Ok((runtime, stop))
}

fn validate_command(args: &ValidateArgs, clock: &Clock) -> Result<u8, Error> {
    let plan = plan::input_plan(&args.input, &clock.stamp())?;
    let (_signals, stop) = watch_signals()?;
    let Prepared { mut report, mut contacts, rows, bad_rows, format } = prepare(&plan, &stop)?;
    let mut valid = 0u64;
    loop {
        let batch = next_checked(&mut contacts)?;
        if batch.is_empty() {
            break;
        }
        for result in batch {
            match result {
                Ok(_) => valid += 1,
                Err(outcome) => report.outcome(&outcome)?,
            }
        }
        interrupted(&stop, "while checking")?;
    }
    drop(contacts);
    let finished = report.finish(format.unwrap_or(Format::Wide))?;
    let mut tally = finished.tally;
    tally.contacts += valid;
    let code = if tally.invalid > 0 || bad_rows > 0 { exit::SOME_NOT_UPDATED } else { exit::OK };
    let summary = Summary {
        command: "validate",
        valid: Some(valid),
        ..summary(&plan, &finished, tally, rows, bad_rows, format, clock)
    };
    emit(&finished.dir, Summary { exit_code: code, ..summary })?;
    Ok(code)
}

/// Feeds checked contacts to the sender and rejected ones straight to the report, on a thread of
/// its own (merging partitions is CPU work). Ends when every contact is handed on; the merge's
/// temporary files are gone by then.
fn feed(
    mut contacts: Contacts,
    contact_tx: tokio::sync::mpsc::Sender<Contact>,
    outcome_tx: std::sync::mpsc::Sender<Outcome>,
    stop: Arc<Stop>,
) {
    loop {
        let batch = match next_checked(&mut contacts) {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => batch,
            Err(err) => {
                stop.stop(StopReason::Fatal(err.to_string()));
                break;
            }
        };
        for result in batch {
            let sent = match result {
                Ok(contact) => contact_tx.blocking_send(contact).is_ok(),
                Err(outcome) => outcome_tx.send(*outcome).is_ok(),
            };
            if !sent {
                return;
            }
        }
    }
    drop(contacts);
}

fn run_command(args: &RunArgs, quiet: bool, clock: &Clock) -> Result<u8, Error> {
    let input_plan = plan::input_plan(&args.input, &clock.stamp())?;
    let send_plan = plan::send_plan(args, &|name| std::env::var(name).ok())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let stop = Arc::new(Stop::default());
    runtime.spawn(stop_on_signal(stop.clone()));
    let target = runtime.block_on(resolve_target(&send_plan))?;
    let Prepared { mut report, contacts, rows, bad_rows, format } = prepare(&input_plan, &stop)?;

    let counters = Arc::new(Counters::default());
    let sender = HttpSender::new(&target.endpoint, &target.region, target.credentials.clone(), send_plan.timeout)
        .map_err(|e| Error::Config(format!("cannot set up the HTTP client: {e}")))?;
    let rate = RateControl::new(target.ceiling);
    let context =
        Arc::new(Context::new(sender, rate, send_plan.retry, send_plan.concurrency, counters.clone(), stop.clone()));
    // Grouped or in-memory merges know their count; a spilled one knows an upper bound.
    let (known, to_send) = match contacts.known_len() {
        Some(n) => ("", n),
        None => ("at most ", rows - bad_rows),
    };
    tracing::info!(
        "sending {known}{to_send} contacts to {} ({}), {}",
        target.endpoint,
        target.region,
        describe_ceiling(target.ceiling)
    );

    let total = report.tally().contacts + to_send;
    report.show_progress(total, quiet);
    logging::set_bar(report.progress_bar());
    let (contact_tx, contact_rx) = tokio::sync::mpsc::channel(1024);
    let (outcome_tx, outcome_rx) = std::sync::mpsc::channel();
    let sending = Instant::now();
    let feeder = {
        let (outcome_tx, stop) = (outcome_tx.clone(), stop.clone());
        std::thread::Builder::new().name("feed".into()).spawn(move || feed(contacts, contact_tx, outcome_tx, stop))?
    };
    runtime.spawn(send::send_all(contact_rx, context.clone(), outcome_tx));

    let mut write_error = None;
    loop {
        match outcome_rx.recv_timeout(Duration::from_millis(250)) {
            Ok(outcome) => {
                if let Err(err) = report.outcome(&outcome) {
                    stop.stop(StopReason::Fatal(format!("cannot write the run's outputs: {err}")));
                    write_error.get_or_insert(err);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        report.tick(Rates {
            requests: Counters::get(&counters.requests),
            throttled: Counters::get(&counters.throttled),
            current_rate: context.rate.current_rate(),
            ceiling: target.ceiling.map(|c| c.rate),
        });
    }
    // The loop ends when every sender of outcomes is gone, the feeder's included.
    let _ = feeder.join();
    let send_seconds = sending.elapsed().as_secs_f64();
    logging::set_bar(None);
    let finished = report.finish(format.unwrap_or(Format::Wide))?;
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
            tracing::warn!("stopped early ({why}): contacts not sent are in the retry file");
            summary.stopped = Some(why);
            exit::STOPPED
        }
        None => summary.exit_code_for(),
    };
    emit(&finished.dir, Summary { exit_code: code, ..summary })?;
    match write_error {
        Some(err) => Err(err.into()),
        None => Ok(code),
    }
}

/// Where and how fast to send, resolved from the plan and the AWS default chain.
struct Target {
    region: String,
    endpoint: String,
    credentials: Arc<CredentialCache>,
    ceiling: Option<Ceiling>,
}

async fn resolve_target(plan: &SendPlan) -> Result<Target, Error> {
    let (region, provider) = credentials::default_chain(plan.profile.as_deref(), plan.region.as_deref()).await;
    let region = region.ok_or_else(|| {
        Error::Config("no AWS region: pass --region, set AWS_REGION, or give the profile a region".into())
    })?;
    let provider = provider.ok_or_else(|| Error::Config("no AWS credentials provider could be set up".into()))?;
    let credentials = Arc::new(CredentialCache::new(provider));
    // Fail before reading a million rows if there are no credentials at all.
    credentials.get(std::time::SystemTime::now()).await?;
    let endpoint = plan.endpoint.clone().unwrap_or_else(|| plan::regional_endpoint(&region));
    plan::check_endpoint(&endpoint, plan.allow_insecure_endpoint)?;
    let ceiling = match plan.rate {
        RateArg::PerSecond(rate) => plan::ceiling(rate, plan.burst),
        RateArg::Auto => quota_ceiling(&region, &credentials, plan.burst).await,
    };
    Ok(Target { region, endpoint, credentials, ceiling: Some(ceiling) })
}

/// `--rate auto`: the account's quota, or 2/s burst 5 with a warning when it cannot be read.
async fn quota_ceiling(region: &str, credentials: &CredentialCache, burst: Option<u32>) -> Ceiling {
    let endpoint = quotas::endpoint(region, &|name| std::env::var(name).ok());
    match quotas::update_contact_attributes_rate(&endpoint, region, credentials).await {
        Ok(rate) => {
            let ceiling = plan::ceiling(rate, burst);
            tracing::info!("the account's quota {:?} is {rate}/s: using burst {}", quotas::QUOTA_NAME, ceiling.burst);
            ceiling
        }
        Err(err) => {
            tracing::warn!(
                "cannot read the account's quota ({err}): sending at 2/s burst 5. Pass --rate N --burst B with your account's quota for UpdateContactAttributes to go faster"
            );
            plan::ceiling(2.0, Some(burst.unwrap_or(5)))
        }
    }
}

fn describe_ceiling(ceiling: Option<Ceiling>) -> String {
    match ceiling {
        Some(c) => format!("at most {}/s, burst {}", c.rate, c.burst),
        None => "with no rate ceiling".to_string(),
    }
}

/// SIGINT or SIGTERM: stop taking new contacts, let those in flight finish.
async fn stop_on_signal(stop: Arc<Stop>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        else {
            return;
        };
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::warn!("{name}: finishing the requests in flight, then stopping");
        stop.stop(StopReason::Requested(format!("{name} received")));
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.stop(StopReason::Requested("Ctrl-C".into()));
        }
    }
}

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
    println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
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
