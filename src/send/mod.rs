//! send: getting valid contacts through. One dispatcher hands contacts to tasks while the number
//! in flight stays under the concurrency target; each task paces itself through the shared
//! [`RateControl`], retries as [`deliver`] decides, and reports one [`Outcome`] down a channel.
//!
//! A contact waiting out a retry's backoff (up to 20 s) is not in flight: it gives up its slot
//! while it waits and takes one again to retry, or a few transient errors would hold every slot
//! and send at a fraction of the rate. What bounds the contacts held at once (in flight, waiting to
//! retry) is the target plus [`BACKOFF_ROOM`], so a long outage cannot pull the input into memory.
//!
//! HTTP is behind the [`Sender`] seam: the real one signs and posts, a test one can answer from
//! memory, and everything above it runs the same either way.

pub mod backoff;
mod concurrency;
mod deliver;
#[cfg(test)]
mod fake;
pub mod outcome;
pub mod ratelimit;
pub mod stop;

pub use outcome::{Failure, Outcome, Skip, Status};

use crate::connect::classify::Attempt;
use crate::connect::http::HttpSender;
use crate::merge::Contact;
use backoff::{RetryBudget, RetryPolicy};
use bytes::Bytes;
use ratelimit::RateControl;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use stop::Stop;
use tokio::sync::{Notify, mpsc};

/// Sends one UpdateContactAttributes body and reports what came back.
pub trait Sender: Send + Sync + 'static {
    fn send(&self, body: Bytes) -> impl Future<Output = Attempt> + Send;

    /// Where the requests go, for messages about the endpoint itself.
    fn endpoint(&self) -> &str;
}

impl Sender for HttpSender {
    fn send(&self, body: Bytes) -> impl Future<Output = Attempt> + Send {
        self.post(body)
    }

    fn endpoint(&self) -> &str {
        self.url()
    }
}

/// How many requests may be in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    Fixed(usize),
    /// Enough to reach the rate at the observed latency (Little's law), and no more than the
    /// server takes without queueing: see [`concurrency`].
    Auto,
}

/// Counts shared by every task; read by the report for progress and the summary.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub retries: AtomicU64,
    /// Contacts holding a slot: waiting to be paced or on the wire (what `--concurrency` counts).
    pub in_flight: AtomicUsize,
    /// Contacts waiting out a retry's backoff: held, but not in flight.
    pub backing_off: AtomicUsize,
}

/// How many contacts may wait out a backoff beside the target in flight. They hold memory (a few
/// KB each), not connections. 500/s with one answer in ten failing keeps about 30 waiting (the
/// first backoff is half a second on average), 5,000/s about 300.
pub const BACKOFF_ROOM: usize = 1024;

impl Counters {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Everything the sending tasks share.
pub struct Context<S> {
    pub sender: S,
    pub rate: RateControl,
    pub retry: RetryPolicy,
    pub budget: RetryBudget,
    pub concurrency: Concurrency,
    pub counters: Arc<Counters>,
    pub stop: Arc<Stop>,
    instances: Mutex<HashMap<String, deliver::InstanceHealth>>,
    in_flight_limit: Mutex<concurrency::Limit>,
    /// Requests sent and not yet answered (`in_flight` also counts those waiting to be paced):
    /// how many were ahead of a request at the server, for `auto`'s latency floor.
    on_the_wire: AtomicUsize,
    /// A slot came free: a contact finished, or began a backoff.
    slot_freed: Notify,
    /// A contact finished: room to hold another (the dispatcher waits on this one).
    contact_done: Notify,
}

impl<S: Sender> Context<S> {
    pub fn new(
        sender: S,
        rate: RateControl,
        retry: RetryPolicy,
        concurrency: Concurrency,
        counters: Arc<Counters>,
        stop: Arc<Stop>,
    ) -> Context<S> {
        Context {
            sender,
            rate,
            retry,
            budget: RetryBudget::default(),
            concurrency,
            counters,
            stop,
            instances: Mutex::new(HashMap::new()),
            in_flight_limit: Mutex::new(match concurrency {
                // Each request in flight holds a connection, and so a file.
                Concurrency::Auto => {
                    concurrency::Limit::with_cap(concurrency::cap_for(crate::descriptors::soft_limit()))
                }
                Concurrency::Fixed(_) => concurrency::Limit::default(),
            }),
            on_the_wire: AtomicUsize::new(0),
            slot_freed: Notify::new(),
            contact_done: Notify::new(),
        }
    }

    /// The in-flight target now.
    pub fn concurrency_target(&self) -> usize {
        match self.concurrency {
            Concurrency::Fixed(n) => n.max(1),
            Concurrency::Auto => match self.in_flight_limit.lock() {
                Ok(limit) => limit.target(self.rate.current_rate()),
                Err(_) => 2,
            },
        }
    }

    /// An answer came back `latency` after its request went out with `on_the_wire` requests sent
    /// and not yet answered, itself included (for `auto` only).
    fn record_latency(&self, latency: std::time::Duration, on_the_wire: usize) {
        if self.concurrency != Concurrency::Auto {
            return;
        }
        let in_flight = self.counters.in_flight.load(Ordering::Relaxed);
        let now = std::time::Instant::now();
        let held = match self.in_flight_limit.lock() {
            Ok(mut limit) => {
                limit.on_answer(latency, on_the_wire, in_flight, now);
                limit.cap_notice(self.rate.current_rate(), now)
            }
            Err(_) => None,
        };
        if let Some(held) = held {
            let remedy = if held.cap < concurrency::AUTO_CAP {
                // (auto takes up to half the limit.)
                crate::descriptors::REMEDY
            } else {
                "pass --concurrency N to go past it"
            };
            tracing::warn!(
                "--concurrency auto is held at its cap of {} requests in flight: at the {:.1} ms of latency \
                 measured they carry {:.0}/s, under the {:.0}/s allowed: {remedy}",
                held.cap,
                held.latency.as_secs_f64() * 1e3,
                held.carries,
                held.rate
            );
        }
    }

    /// Waits until one more contact may be held: fewer than the target plus [`BACKOFF_ROOM`] are in
    /// flight or waiting out a backoff (or the run stopped).
    async fn wait_for_room(&self) {
        loop {
            let done = self.contact_done.notified();
            let held =
                self.counters.in_flight.load(Ordering::Acquire) + self.counters.backing_off.load(Ordering::Acquire);
            if held < self.concurrency_target() + BACKOFF_ROOM || self.stop.is_stopped() {
                return;
            }
            tokio::select! {
                _ = done => {}
                _ = self.stop.stopped() => {}
            }
        }
    }

    /// Takes a slot once fewer than the target are in flight; at once after a stop (no attempt
    /// follows then, and the slot is given back as the contact ends).
    async fn take_slot(&self) {
        loop {
            let freed = self.slot_freed.notified();
            let target = self.concurrency_target();
            let stopped = self.stop.is_stopped();
            let take = |n: usize| (n < target || stopped).then_some(n + 1);
            if self.counters.in_flight.fetch_update(Ordering::AcqRel, Ordering::Acquire, take).is_ok() {
                return;
            }
            tokio::select! {
                _ = freed => {}
                _ = self.stop.stopped() => {}
            }
        }
    }

    fn release_slot(&self) {
        self.counters.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.slot_freed.notify_one();
    }

    /// Waits `wait` before a retry without holding a slot (cut short by a stop), then takes one.
    async fn back_off(&self, wait: std::time::Duration) {
        self.counters.backing_off.fetch_add(1, Ordering::AcqRel);
        self.release_slot();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = self.stop.stopped() => {}
        }
        self.take_slot().await;
        self.counters.backing_off.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Sends every contact from `contacts` and reports each outcome; returns when all are accounted
/// for. After a stop, contacts not yet started are reported as skipped.
pub async fn send_all<S: Sender>(
    mut contacts: mpsc::Receiver<Contact>,
    context: Arc<Context<S>>,
    outcomes: std::sync::mpsc::Sender<Outcome>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    // Taken from the channel in batches: the feeder blocks on a full channel, and taking one
    // contact at a time woke its thread (a futex call each side) for every contact.
    let mut batch = Vec::with_capacity(RECEIVE_BATCH);
    while contacts.recv_many(&mut batch, RECEIVE_BATCH).await > 0 {
        for contact in batch.drain(..) {
            start(contact, &context, &outcomes, &mut tasks).await;
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Contacts taken from the feeder's channel at a time.
const RECEIVE_BATCH: usize = 256;

/// Starts one contact's delivery once there is room for it and a slot is free (or reports it
/// skipped after a stop).
async fn start<S: Sender>(
    contact: Contact,
    context: &Arc<Context<S>>,
    outcomes: &std::sync::mpsc::Sender<Outcome>,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    context.wait_for_room().await;
    context.take_slot().await;
    if context.stop.is_stopped() {
        context.release_slot();
        let _ = outcomes.send(Outcome::new(contact, Status::Skipped(Skip::Stopped), 0));
        return;
    }
    let (context, outcomes) = (context.clone(), outcomes.clone());
    tasks.spawn(async move {
        let outcome = deliver::deliver(contact, &context).await;
        context.release_slot();
        context.contact_done.notify_one();
        let _ = outcomes.send(outcome);
    });
    while tasks.try_join_next().is_some() {}
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
