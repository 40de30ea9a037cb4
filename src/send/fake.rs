//! For the send tests: a [`Sender`] that answers from a script instead of the network, and a
//! [`Context`] around it with no rate ceiling.

use super::backoff::{RetryBudget, RetryPolicy};
use super::ratelimit::RateControl;
use super::stop::Stop;
use super::{Concurrency, Context, Counters, Sender};
use crate::connect::classify::{Answer, Attempt};
use crate::merge::Contact;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ENDPOINT: &str = "http://fake.invalid/contact/attributes";

/// What a script sees of a request.
pub struct Request<'a> {
    /// The contact it is for.
    pub contact_id: &'a str,
    /// How many requests that contact sent before this one.
    pub earlier: u32,
}

type Script = dyn Fn(Request<'_>, &Counters) -> Attempt + Send + Sync;

/// Answers each request as its script says.
pub struct Scripted {
    script: Box<Script>,
    /// The context's counters, as the script sees them while a request is out.
    counters: Arc<Counters>,
    /// Requests so far, by contact.
    requests: Mutex<HashMap<String, u32>>,
}

impl Scripted {
    pub fn new(
        counters: &Arc<Counters>,
        script: impl Fn(Request<'_>, &Counters) -> Attempt + Send + Sync + 'static,
    ) -> Scripted {
        Scripted { script: Box::new(script), counters: counters.clone(), requests: Mutex::new(HashMap::new()) }
    }
}

impl Sender for Scripted {
    fn send(&self, body: Bytes) -> impl Future<Output = Attempt> + Send {
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let contact_id = json["InitialContactId"].as_str().unwrap_or_default();
        let earlier = match self.requests.lock() {
            Ok(mut requests) => {
                let count = requests.entry(contact_id.to_string()).or_default();
                *count += 1;
                *count - 1
            }
            Err(_) => 0,
        };
        std::future::ready((self.script)(Request { contact_id, earlier }, &self.counters))
    }

    fn endpoint(&self) -> &str {
        ENDPOINT
    }
}

/// A context around `sender`, sharing its `counters`: no rate ceiling, `max_attempts`, and
/// backoffs of up to `backoff` (full jitter).
pub fn context(
    sender: Scripted,
    counters: Arc<Counters>,
    concurrency: Concurrency,
    max_attempts: u32,
    backoff: Duration,
) -> Arc<Context<Scripted>> {
    context_with(sender, counters, concurrency, max_attempts, backoff, RetryBudget::default())
}

/// [`context`] with a retry budget of its own.
pub fn context_with(
    sender: Scripted,
    counters: Arc<Counters>,
    concurrency: Concurrency,
    max_attempts: u32,
    backoff: Duration,
    budget: RetryBudget,
) -> Arc<Context<Scripted>> {
    let retry = RetryPolicy { max_attempts, base: backoff, cap: backoff };
    let stop = Arc::new(Stop::default());
    let context = Context::new(sender, RateControl::new(None), retry, concurrency, counters, stop);
    Arc::new(Context { budget, ..context })
}

pub fn contact(id: &str) -> Contact {
    Contact {
        instance_id: "i-1".into(),
        contact_id: id.into(),
        attributes: BTreeMap::from([("Tier".to_string(), "Gold".to_string())]),
        lines: Vec::new(),
    }
}

pub fn ok() -> Attempt {
    Attempt::Answered(Answer { status: 200, ..Answer::default() })
}

pub fn error(status: u16, error_type: &str, message: &str) -> Attempt {
    Attempt::Answered(Answer {
        status,
        error_type: Some(error_type.into()),
        message: Some(message.into()),
        request_id: None,
    })
}
