//! Unit tests of one contact's way through: what each class of answer does to the contact, the
//! instance's health and the run, against a scripted sender.

use super::super::fake::{self, Request, Scripted};
use super::super::{Concurrency, Counters};
use super::*;
use crate::connect::classify::{self, Answer};
use std::sync::Arc;
use std::time::Duration;

fn not_found(message: &str) -> Attempt {
    Attempt::Answered(Answer {
        status: 404,
        error_type: Some("ResourceNotFoundException".into()),
        message: Some(message.into()),
        request_id: None,
    })
}

#[test]
fn only_not_found_answers_that_may_be_about_the_instance_count_against_it() {
    assert!(is_not_found(&not_found("Instance not found: i-1")));
    assert!(is_not_found(&not_found("")));
    assert!(is_not_found(&not_found("Contact c-1 not found in instance i-1")));
    assert!(!is_not_found(&not_found("Contact not found: c-1")));
    assert!(!is_not_found(&Attempt::Transport { message: "reset".into(), timeout: false }));
}

fn context_for(script: impl Fn(Request<'_>) -> Attempt + Send + Sync + 'static) -> Arc<Context<Scripted>> {
    let counters = Arc::new(Counters::default());
    let sender = Scripted::new(&counters, move |request, _| script(request));
    fake::context(sender, counters, Concurrency::Fixed(1), 5, Duration::ZERO)
}

/// One contact's delivery, holding a slot as the dispatcher's tasks do.
async fn deliver_one(contact: Contact, context: &Context<Scripted>) -> Outcome {
    context.take_slot().await;
    let outcome = deliver(contact, context).await;
    context.release_slot();
    outcome
}

fn failure_of(outcome: &Outcome) -> &Failure {
    match &outcome.status {
        Status::Failed(failure) => failure,
        other => panic!("not failed: {other:?}"),
    }
}

fn stopped_for(context: &Context<Scripted>) -> String {
    match context.stop.reason() {
        Some(StopReason::Fatal(message)) => message,
        other => panic!("not stopped for a systemic failure: {other:?}"),
    }
}

/// A page from a web server (a proxy, a load balancer's maintenance page) stops the run, even
/// after successes: it is about the endpoint, not the contact.
#[tokio::test]
async fn an_answer_that_is_not_from_connect_stops_the_run_and_refuses_nothing_for_good() {
    let context = context_for(|request| match request.contact_id {
        "before" => fake::ok(),
        _ => Attempt::Answered(classify::answer(405, |_| None, b"<html><h1>405 Not Allowed</h1></html>")),
    });
    assert_eq!(deliver_one(fake::contact("before"), &context).await.status, Status::Updated);
    let outcome = deliver_one(fake::contact("c-1"), &context).await;
    assert!(!failure_of(&outcome).permanent, "{outcome:?}");
    let message = stopped_for(&context);
    assert!(message.contains("HTTP 405") && message.contains(fake::ENDPOINT), "{message}");
    assert!(message.contains("--endpoint-url") && message.contains("proxy"), "{message}");
}

#[tokio::test]
async fn a_not_found_before_the_instances_first_success_is_not_refused_for_good() {
    let context = context_for(|request| match request.contact_id {
        "ok" => fake::ok(),
        _ => not_found("Instance not found: i-1"),
    });
    let before = deliver_one(fake::contact("before"), &context).await;
    assert!(!failure_of(&before).permanent, "may be about the instance: {before:?}");
    assert_eq!(deliver_one(fake::contact("ok"), &context).await.status, Status::Updated);
    let after = deliver_one(fake::contact("after"), &context).await;
    assert!(failure_of(&after).permanent, "the instance answered, so this is about the contact: {after:?}");
    assert!(!context.stop.is_stopped());
}

#[tokio::test]
async fn not_found_answers_before_an_unknown_instance_verdict_are_not_refused_for_good() {
    let context = context_for(|_| not_found("Instance not found: i-1"));
    for n in 1..=UNKNOWN_INSTANCE_AFTER {
        let outcome = deliver_one(fake::contact(&format!("c-{n}")), &context).await;
        assert!(!failure_of(&outcome).permanent, "{outcome:?}");
        assert_eq!(context.stop.is_stopped(), n == UNKNOWN_INSTANCE_AFTER, "after {n}");
    }
    assert!(stopped_for(&context).contains("looks unknown"));
}

#[tokio::test]
async fn a_not_found_that_names_only_the_contact_is_refused_for_good_at_once() {
    let context = context_for(|_| not_found("Contact not found: c-1"));
    let outcome = deliver_one(fake::contact("c-1"), &context).await;
    assert!(failure_of(&outcome).permanent, "{outcome:?}");
}

/// With the run's retry budget spent, a transient failure is not retried whatever
/// `--max-attempts` says: the failure's message says why (errors.csv showed attempts 1 under
/// `--max-attempts 5` and only the last error).
#[tokio::test]
async fn a_failure_not_retried_for_want_of_budget_says_so() {
    let context = context_for(|_| fake::error(503, "ServiceUnavailableException", "Service unavailable"));
    let first = deliver_one(fake::contact("c-1"), &context).await;
    assert_eq!(failure_of(&first).message, "Service unavailable", "five attempts, within the budget");
    // 500 tokens at 5 a retry: 100 retries in all, the first contact took 4.
    let mut last = first;
    for n in 2..=30 {
        last = deliver_one(fake::contact(&format!("c-{n}")), &context).await;
    }
    let failure = failure_of(&last);
    assert_eq!(last.attempts, 1, "{last:?}");
    assert_eq!(failure.error_type, "ServiceUnavailableException");
    assert_eq!(
        failure.message,
        "retry budget spent: not retried after 1 attempt of --max-attempts 5; last error: Service unavailable"
    );
    assert!(!failure.permanent);
    assert!(!context.budget.first_time_out(), "the run has already said the budget ran out");
}
