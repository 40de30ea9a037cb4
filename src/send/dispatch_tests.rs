//! Unit tests of the dispatcher: what holds a slot, and how many contacts are held at once, on
//! tokio's paused clock against a scripted sender (backoffs of an hour cost nothing).

use super::fake::{self, Scripted};
use super::*;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

/// Sends `ids` through `send_all` and returns the outcomes in the order they came.
async fn send_ids(context: Arc<Context<Scripted>>, ids: &[String]) -> Vec<Outcome> {
    let (contact_tx, contact_rx) = mpsc::channel(ids.len().max(1));
    for id in ids {
        contact_tx.send(fake::contact(id)).await.expect("the channel has room for every contact");
    }
    drop(contact_tx);
    let (outcome_tx, outcome_rx) = std::sync::mpsc::channel();
    send_all(contact_rx, context, outcome_tx).await;
    outcome_rx.try_iter().collect()
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// A contact waiting out its backoff used to keep its slot: with one slot, the other contacts
/// waited for its retry. Now they go while it waits.
#[tokio::test(start_paused = true)]
async fn a_contact_waiting_to_retry_does_not_hold_a_slot() {
    let counters = Arc::new(Counters::default());
    let sender = Scripted::new(&counters, |request, _| match (request.contact_id, request.earlier) {
        ("slow", 0) => fake::error(503, "ServiceUnavailableException", "busy"),
        _ => fake::ok(),
    });
    let context = fake::context(sender, counters, Concurrency::Fixed(1), 5, HOUR);
    let mut contacts = vec!["slow".to_string()];
    contacts.extend(ids("c-", 9));
    let outcomes = send_ids(context, &contacts).await;
    let order: Vec<&str> = outcomes.iter().map(|o| o.contact.contact_id.as_str()).collect();
    assert_eq!(order.last(), Some(&"slow"), "the others went while it waited: {order:?}");
    assert!(outcomes.iter().all(|o| o.status == Status::Updated), "{outcomes:?}");
}

/// Every first attempt fails and waits an hour to retry: contacts held at once (in flight or
/// waiting) stop at the target plus `BACKOFF_ROOM`, and retries waking up never put more than the
/// target in flight.
#[tokio::test(start_paused = true)]
async fn the_contacts_held_at_once_are_bounded_and_retries_keep_to_the_target() {
    let (most_held, most_in_flight) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counters = Arc::new(Counters::default());
    let sender = Scripted::new(&counters, {
        let (most_held, most_in_flight) = (most_held.clone(), most_in_flight.clone());
        move |request, counters| {
            let in_flight = counters.in_flight.load(Ordering::Acquire);
            most_in_flight.fetch_max(in_flight, Ordering::AcqRel);
            most_held.fetch_max(in_flight + counters.backing_off.load(Ordering::Acquire), Ordering::AcqRel);
            if request.earlier == 0 { fake::error(503, "ServiceUnavailableException", "busy") } else { fake::ok() }
        }
    });
    // (A budget for every retry: the default one would fail most contacts at once.)
    let budget = RetryBudget::with_tokens(1 << 20);
    let context = fake::context_with(sender, counters, Concurrency::Fixed(2), 5, HOUR, budget);
    let outcomes = send_ids(context, &ids("c-", BACKOFF_ROOM + 100)).await;
    assert_eq!(outcomes.len(), BACKOFF_ROOM + 100);
    assert!(outcomes.iter().all(|o| o.status == Status::Updated));
    let most_held = most_held.load(Ordering::Acquire);
    assert!(most_held > BACKOFF_ROOM && most_held <= 2 + BACKOFF_ROOM, "{most_held} held at once");
    assert_eq!(most_in_flight.load(Ordering::Acquire), 2);
}
