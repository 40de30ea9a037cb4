//! For the send tests: a [`Sender`] that answers from a script instead of the network, and a
//! [`Context`] around it with no rate ceiling.

use super::backoff::RetryPolicy;
use super::ratelimit::RateControl;
use super::stop::Stop;
use super::{Concurrency, Context, Counters, Sender};
use crate::connect::classify::{Answer, Attempt};
use crate::merge::Contact;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub const ENDPOINT: &str = "http://fake.invalid/contact/attributes";

/// What a script sees of a request.
pub struct Request<'a> {
    /// The contact it is for.
    pub contact_id: &'a str,
}

type Script = dyn Fn(Request<'_>) -> Attempt + Send + Sync;

/// Answers each request as its script says.
pub struct Scripted {
    script: Box<Script>,
}

impl Scripted {
    pub fn new(script: impl Fn(Request<'_>) -> Attempt + Send + Sync + 'static) -> Scripted {
        Scripted { script: Box::new(script) }
    }
}

impl Sender for Scripted {
    fn send(&self, body: Bytes) -> impl Future<Output = Attempt> + Send {
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let contact_id = json["InitialContactId"].as_str().unwrap_or_default();
        std::future::ready((self.script)(Request { contact_id }))
    }

    fn endpoint(&self) -> &str {
        ENDPOINT
    }
}

/// A context around `sender`: no rate ceiling, `max_attempts`, and backoffs of up to `backoff`
/// (full jitter).
pub fn context(
    sender: Scripted,
    concurrency: Concurrency,
    max_attempts: u32,
    backoff: Duration,
) -> Arc<Context<Scripted>> {
    let retry = RetryPolicy { max_attempts, base: backoff, cap: backoff };
    let (counters, stop) = (Arc::new(Counters::default()), Arc::new(Stop::default()));
    Arc::new(Context::new(sender, RateControl::new(None), retry, concurrency, counters, stop))
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
