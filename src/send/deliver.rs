//! One contact's way through: pace, send, classify, and then retry, give up or stop the run.
//! Throttled attempts do not spend the contact's `--max-attempts`: under throttling contacts wait,
//! they do not fail.

use super::stop::StopReason;
use super::{Context, Failure, Outcome, Sender, Skip, Status};
use crate::connect::classify::{Attempt, Class, Fatal, classify};
use crate::connect::{RequestDigest, request_body};
use crate::merge::Contact;
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// ResourceNotFound answers in a row, with no success at all, that mean the instance is unknown.
/// (A real instance whose first ten contacts all vanished is far less likely than a wrong id.)
const UNKNOWN_INSTANCE_AFTER: u32 = 10;

#[derive(Debug, Default)]
pub(super) struct InstanceHealth {
    successes: u64,
    not_found_in_a_row: u32,
}

pub(super) async fn deliver<S: Sender>(contact: Contact, context: &Context<S>) -> Outcome {
    let body = Bytes::from(request_body(&contact));
    let digest = RequestDigest::of(&body);
    let mut outcome = attempts(contact, body, context).await;
    outcome.digest = Some(digest);
    outcome
}

/// Sends `body` as often as it takes; the outcome without its digest.
async fn attempts<S: Sender>(contact: Contact, body: Bytes, context: &Context<S>) -> Outcome {
    let mut sent = 0u32;
    let mut counted = 0u32;
    loop {
        // Stopped: no new attempt. The contact goes to the retry file; a resume sends it.
        if context.stop.is_stopped() {
            return Outcome::new(contact, Status::Skipped(Skip::Stopped), sent);
        }
        tokio::select! {
            _ = context.rate.acquire() => {}
            _ = context.stop.stopped() => continue,
        }
        if sent > 0 {
            context.counters.retries.fetch_add(1, Ordering::Relaxed);
        }
        let started = Instant::now();
        let wire = OnTheWire::count(&context.on_the_wire);
        // An attempt under way finishes unless the run is aborted (grace over, second signal).
        // The send is boxed: its future is most of a contact's task, which tokio copies a few
        // times as it starts one (callgrind: 1.5K instructions a request less).
        let attempt = tokio::select! {
            attempt = Box::pin(context.sender.send(body.clone())) => attempt,
            _ = context.stop.aborted() => {
                return Outcome::new(contact, Status::Skipped(Skip::Stopped), sent + 1);
            }
        };
        let latency = started.elapsed();
        let on_the_wire = wire.sent_with;
        drop(wire);
        context.counters.requests.fetch_add(1, Ordering::Relaxed);
        sent += 1;
        let class = classify(&attempt);
        context.rate.on_answer(tokio::time::Instant::from_std(started), class == Class::Throttled);
        match class {
            Class::Success => {
                context.record_latency(latency, on_the_wire);
                context.budget.on_success();
                note_success(context, &contact.instance_id);
                return Outcome::new(contact, Status::Updated, sent);
            }
            Class::Throttled => {
                context.counters.throttled.fetch_add(1, Ordering::Relaxed);
            }
            Class::Transient => {
                counted += 1;
                let timeout = matches!(attempt, Attempt::Transport { timeout: true, .. });
                if counted >= context.retry.max_attempts {
                    return failed(contact, &attempt, sent);
                }
                if !context.budget.try_spend(timeout) {
                    return budget_spent(context, contact, &attempt, sent, counted);
                }
                // Waits without holding a slot: it is not a request in flight meanwhile.
                context.back_off(context.retry.delay(counted, rand::random::<f64>())).await;
            }
            Class::Permanent => {
                let instance = is_not_found(&attempt).then(|| note_not_found(context, &contact.instance_id));
                if instance == Some(Instance::Unknown) {
                    context.stop.stop(StopReason::Fatal(unknown_instance(&contact.instance_id)));
                }
                // Before the instance's first success, a not-found may be about the instance: not
                // refused for good, so the resume once the instance is right sends the contact.
                let for_good = instance.is_none_or(|instance| instance == Instance::Proven);
                let mut outcome = failed(contact, &attempt, sent);
                if let Status::Failed(failure) = &mut outcome.status {
                    failure.permanent = for_good;
                }
                return outcome;
            }
            Class::Fatal(kind) => {
                let message = fatal_message(kind, &attempt, &contact, context.sender.endpoint());
                context.stop.stop(StopReason::Fatal(message));
                // Not refused for good (not journalled): a resume once the cause is fixed sends it.
                return failed(contact, &attempt, sent);
            }
        }
    }
}

/// One request on the wire, counted from its send until its answer, or until its task is dropped.
struct OnTheWire<'a> {
    count: &'a AtomicUsize,
    /// How many were on the wire as it went out, itself included.
    sent_with: usize,
}

impl OnTheWire<'_> {
    fn count(count: &AtomicUsize) -> OnTheWire<'_> {
        let sent_with = count.fetch_add(1, Ordering::AcqRel) + 1;
        OnTheWire { count, sent_with }
    }
}

impl Drop for OnTheWire<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A ResourceNotFound answer that may be about the instance: one whose message names the contact
/// and not the instance ("Contact not found: ...") says nothing against the instance.
fn is_not_found(attempt: &Attempt) -> bool {
    let Attempt::Answered(answer) = attempt else { return false };
    let not_found = answer.status == 404 || answer.error_type.as_deref() == Some("ResourceNotFoundException");
    let message = answer.message.as_deref().unwrap_or("").to_ascii_lowercase();
    let only_the_contact = message.contains("contact") && !message.contains("instance");
    not_found && !only_the_contact
}

/// What a not-found answer that may be about the instance says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Instance {
    /// It has had a success: the answer is about the contact.
    Proven,
    /// No success yet: the answer may be about the instance.
    Unproven,
    /// `UNKNOWN_INSTANCE_AFTER` not-found answers in a row and no success: it does not exist here.
    Unknown,
}

fn note_success<S>(context: &Context<S>, instance: &str) {
    with_health(context, instance, |health| {
        health.successes += 1;
        health.not_found_in_a_row = 0;
    });
}

fn note_not_found<S>(context: &Context<S>, instance: &str) -> Instance {
    let verdict = with_health(context, instance, |health| {
        health.not_found_in_a_row += 1;
        if health.successes > 0 {
            Instance::Proven
        } else if health.not_found_in_a_row < UNKNOWN_INSTANCE_AFTER {
            Instance::Unproven
        } else {
            Instance::Unknown
        }
    });
    // (A poisoned lock: a task panicked. Say nothing against the instance.)
    verdict.unwrap_or(Instance::Unproven)
}

fn with_health<S, T>(context: &Context<S>, instance: &str, f: impl FnOnce(&mut InstanceHealth) -> T) -> Option<T> {
    let mut instances = context.instances.lock().ok()?;
    if !instances.contains_key(instance) {
        instances.insert(instance.to_string(), InstanceHealth::default());
    }
    instances.get_mut(instance).map(f)
}

/// A transient failure not retried because the run's retry budget is spent: the message says so
/// (errors.csv would otherwise show fewer attempts than `--max-attempts` and no reason), and the
/// run says once what it means.
fn budget_spent<S>(context: &Context<S>, contact: Contact, attempt: &Attempt, sent: u32, counted: u32) -> Outcome {
    if context.budget.first_time_out() {
        tracing::warn!(
            "the run's retry budget is spent: so many attempts failed (5xx, timeouts, dropped connections) that \
             contacts failing that way now fail at once, without the retries --max-attempts {} allows; errors.csv \
             says \"retry budget spent\" for them. The budget refills as contacts succeed (a retry for every {} \
             successes). If the endpoint was down or overloaded, send retry.csv again once it is healthy; a lower \
             --rate or --concurrency eases an overloaded one",
            context.retry.max_attempts,
            super::backoff::SUCCESSES_PER_RETRY,
        );
    }
    let mut failure = failure(attempt);
    let attempts = if counted == 1 { "attempt" } else { "attempts" };
    failure.message = format!(
        "retry budget spent: not retried after {counted} {attempts} of --max-attempts {}; last error: {}",
        context.retry.max_attempts, failure.message
    );
    Outcome::new(contact, Status::Failed(failure), sent)
}

fn failed(contact: Contact, attempt: &Attempt, sent: u32) -> Outcome {
    Outcome::new(contact, Status::Failed(failure(attempt)), sent)
}

pub(super) fn failure(attempt: &Attempt) -> Failure {
    match attempt {
        Attempt::Answered(answer) => Failure {
            error_type: answer.error_type.clone().unwrap_or_else(|| format!("HTTP{}", answer.status)),
            http_status: Some(answer.status),
            message: answer.message.clone().unwrap_or_default(),
            request_id: answer.request_id.clone(),
            permanent: false,
        },
        Attempt::Transport { message, timeout } => Failure {
            error_type: if *timeout { "Timeout" } else { "ConnectionError" }.to_string(),
            http_status: None,
            message: message.clone(),
            request_id: None,
            permanent: false,
        },
    }
}

fn unknown_instance(instance: &str) -> String {
    format!(
        "instance {instance:?} looks unknown: {UNKNOWN_INSTANCE_AFTER} requests in a row were answered ResourceNotFoundException and none succeeded. Check --instance-id (or the InstanceId column) and --region"
    )
}

fn fatal_message(kind: Fatal, attempt: &Attempt, contact: &Contact, endpoint: &str) -> String {
    let Failure { error_type, http_status, message, .. } = failure(attempt);
    let status = http_status.map(|s| format!("HTTP {s} ")).unwrap_or_default();
    let said = format!("{status}{error_type}: {message}");
    match kind {
        Fatal::Credentials => format!(
            "AWS refused the credentials ({said}). Check the access key and secret (environment, --profile), and that this machine's clock is right"
        ),
        Fatal::AccessDenied => format!(
            "access denied ({said}). The identity needs connect:UpdateContactAttributes on instance {:?}",
            contact.instance_id
        ),
        Fatal::ExpiredToken => {
            format!("the credentials expired and fetching new ones did not help ({said}). Renew the session and resume")
        }
        Fatal::InactiveRegion => format!(
            "instance {:?} is not active in this region ({said}). Run with --region set to the region where the instance is active",
            contact.instance_id
        ),
        Fatal::NotConnect => not_connect(http_status.unwrap_or_default(), endpoint),
    }
}

fn not_connect(status: u16, endpoint: &str) -> String {
    let what = if (300..400).contains(&status) {
        "a redirect, which Amazon Connect never sends"
    } else {
        "with no AWS error type (an HTML page?), which Amazon Connect never sends"
    };
    format!(
        "POST {endpoint} was answered HTTP {status}, {what}: a web server, load balancer or proxy \
         answered instead. Check --endpoint-url (and AWS_ENDPOINT_URL_CONNECT, AWS_ENDPOINT_URL) and \
         any proxy in between (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY), then resume"
    )
}

#[cfg(test)]
#[path = "deliver_tests.rs"]
mod tests;
