//! The HTTP side: accept connections on 127.0.0.1, serve HTTP/1.1 with keep-alive through hyper,
//! and take each request through the checks in the order AWS applies them: signature (403),
//! quota (429), injected faults (drop/500/503), then the operation itself.

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::{TcpListener, TcpStream};

use super::api::{self, Directory};
use super::faults::{Fault, Faults, Fractions};
use super::patterns::Patterns;
use super::quota::Quota;
use super::response::{self, Body, Failure, JSON_11, REST_JSON};
use super::service_quotas;
use super::sigv4::{SignedRequest, Verifier};
use super::stats::{Outcome, Recorder, Stats};
use super::store::{State, Store};
use super::{Config, admin};
use crate::wire::{SIGNING_NAME, UPDATE_CONTACT_ATTRIBUTES_PATH, error_type};

/// Far above any valid UpdateContactAttributes body; a guard against runaway clients.
const MAX_BODY_BYTES: usize = 4 << 20;

/// Returned to hyper to close the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
pub struct Dropped;

/// The emulator's shared state: configuration, verifier, quota, faults, store and statistics.
pub struct Emulator {
    config: Config,
    verifier: Verifier,
    quota: Quota,
    faults: Faults,
    directory: Directory,
    store: Store,
    stats: Recorder,
}

/// How a request ended, before it is counted.
enum Answer {
    Accepted,
    Ok(Response<Body>),
    Failed(Failure, &'static str),
    Dropped,
}

impl Emulator {
    pub fn new(config: Config) -> Emulator {
        let fractions = Fractions { drop: config.drop, fail_500: config.fail_500, fail_503: config.fail_503 };
        Emulator {
            verifier: Verifier::new(&config.credentials, &config.region),
            quota: Quota::new(config.rate, config.effective_burst(), Instant::now()),
            faults: Faults::new(fractions, config.latency, config.jitter, config.seed),
            directory: Directory {
                instances: config.instances.iter().cloned().collect(),
                not_found: Patterns::new(&config.not_found),
                predates: Patterns::new(&config.predates),
            },
            store: Store::default(),
            stats: Recorder::default(),
            config,
        }
    }

    pub fn state(&self) -> State {
        self.store.snapshot()
    }

    pub fn stats(&self) -> Stats {
        self.stats.snapshot(self.store.len())
    }

    pub fn reset(&self) {
        self.store.clear();
        self.stats.reset();
    }

    /// Serves one request; `Err` tells hyper to close the connection without answering.
    pub async fn handle(&self, request: Request<Incoming>) -> Result<Response<Body>, Dropped> {
        let (parts, body) = request.into_parts();
        if parts.uri.path().starts_with(admin::PREFIX) {
            return Ok(admin::handle(self, &parts.method, parts.uri.path()));
        }
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            // The client went away or sent too much: nothing sensible to answer.
            Err(_) => return Err(Dropped),
        };
        if let Some(status) = self.config.not_connect {
            return Ok(self.not_connect(status));
        }
        let answer = self.answer(&parts, &body).await;
        self.respond(answer)
    }

    /// A web server or proxy in Connect's place answers (`Config::not_connect`).
    fn not_connect(&self, status: u16) -> Response<Body> {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
        self.stats.record(answered(status, None), Instant::now());
        response::html_page(status)
    }

    async fn answer(&self, parts: &Parts, body: &Bytes) -> Answer {
        let delay = self.faults.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok());
        let quotas_target = target.filter(|t| t.starts_with(service_quotas::TARGET_PREFIX));
        let (service, content_type) = match quotas_target {
            Some(_) => (service_quotas::SIGNING_NAME, JSON_11),
            None => (SIGNING_NAME, REST_JSON),
        };
        let signed = SignedRequest { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body };
        if let Err(refused) = self.verifier.verify(&signed, service, self.config.clock.now()) {
            let failure = Failure::new(StatusCode::FORBIDDEN, refused.error_type(), refused.to_string());
            return Answer::Failed(failure, content_type);
        }
        if !self.quota.admit(Instant::now()) {
            let failure = Failure::new(StatusCode::TOO_MANY_REQUESTS, error_type::THROTTLING, "Rate exceeded");
            return Answer::Failed(failure, content_type);
        }
        if let Some(fault) = self.faults.draw() {
            return fault_answer(fault, content_type);
        }
        match quotas_target {
            Some(target) => self.service_quotas(target, body),
            None => self.connect(parts, body),
        }
    }

    fn connect(&self, parts: &Parts, body: &[u8]) -> Answer {
        if parts.method != Method::POST || parts.uri.path() != UPDATE_CONTACT_ATTRIBUTES_PATH {
            let message = format!(
                "The emulator implements POST {UPDATE_CONTACT_ATTRIBUTES_PATH} only, not {} {}",
                parts.method,
                parts.uri.path()
            );
            return Answer::Failed(
                Failure::new(StatusCode::NOT_FOUND, "UnknownOperationException", message),
                REST_JSON,
            );
        }
        match api::update_contact_attributes(body, &self.directory, &self.store) {
            Ok(()) => Answer::Accepted,
            Err(failure) => Answer::Failed(failure, REST_JSON),
        }
    }

    fn service_quotas(&self, target: &str, body: &[u8]) -> Answer {
        match service_quotas::handle(target, body, self.config.rate, &self.config.region) {
            Ok(value) => Answer::Ok(response::json(StatusCode::OK, JSON_11, value.to_string())),
            Err(failure) => Answer::Failed(failure, JSON_11),
        }
    }

    /// Renders the answer and counts it.
    fn respond(&self, answer: Answer) -> Result<Response<Body>, Dropped> {
        let now = Instant::now();
        let (outcome, response) = match answer {
            Answer::Accepted => (Outcome::Accepted, Ok(response::json(StatusCode::OK, REST_JSON, &b"{}"[..]))),
            Answer::Ok(response) => (answered(response.status(), None), Ok(response)),
            Answer::Failed(failure, content_type) => {
                (answered(failure.status, Some(failure.error_type)), Ok(response::error(&failure, content_type)))
            }
            Answer::Dropped => (Outcome::Dropped, Err(Dropped)),
        };
        self.stats.record(outcome, now);
        response
    }
}

fn answered(status: StatusCode, error_type: Option<&'static str>) -> Outcome {
    Outcome::Answered { status: status.as_u16(), error_type }
}

fn fault_answer(fault: Fault, content_type: &'static str) -> Answer {
    let failure = match fault {
        Fault::Drop => return Answer::Dropped,
        Fault::Internal => Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_type::INTERNAL_SERVICE,
            "Internal service error (injected)",
        ),
        Fault::Unavailable => Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error_type::SERVICE_UNAVAILABLE,
            "Service unavailable (injected)",
        ),
    };
    Answer::Failed(failure, content_type)
}

/// Serves `config` on `listener` until `shutdown` completes.
pub async fn serve(config: Config, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    serve_shared(Arc::new(Emulator::new(config)), listener, shutdown).await;
}

pub(crate) async fn serve_shared(emulator: Arc<Emulator>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(Arc::clone(&emulator), stream));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
        }
    }
}

async fn connection(emulator: Arc<Emulator>, stream: TcpStream) {
    // Small answers on keep-alive connections: do not let Nagle hold them back.
    _ = stream.set_nodelay(true);
    let service = service_fn(move |request| {
        let emulator = Arc::clone(&emulator);
        async move { emulator.handle(request).await }
    });
    if let Err(error) = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await {
        tracing::debug!(%error, "connection ended");
    }
}
