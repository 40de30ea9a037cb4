//! The local Amazon Connect: an HTTP/1.1 server on 127.0.0.1 that answers UpdateContactAttributes
//! (and the Service Quotas calls a client needs for `--rate auto`) as the real service does, with a
//! token-bucket quota and injected faults. This module owns the configuration and the in-process
//! entry point (`spawn` -> `Handle`); the submodules own one concern each.
//!
//! ```
//! use connect_attrs::emulator::{Config, spawn};
//!
//! // A quota of 5 requests/s; default credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY.
//! let emulator = spawn(Config { rate: Some(5.0), ..Config::default() })?;
//! assert!(emulator.url().starts_with("http://127.0.0.1:"));
//! assert_eq!(emulator.stats().requests, 0);
//! assert!(emulator.state().instances.is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod admin;
pub mod api;
pub mod cli;
pub mod faults;
pub mod patterns;
pub mod quota;
mod response;
pub mod server;
pub mod service_quotas;
pub mod sigv4;
pub mod stats;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

pub use server::{Emulator, serve};
pub use stats::Stats;
pub use store::{ContactState, State};

/// The AWS documentation's example access key, accepted when no `--credentials` is given.
pub const DEFAULT_ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
/// The AWS documentation's example secret key paired with [`DEFAULT_ACCESS_KEY_ID`].
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// One credential the emulator accepts. With a session token, requests must carry that token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// From this time on (by the emulator's clock) requests signed with it are answered 403
    /// ExpiredTokenException, as STS session credentials are once they expire.
    pub expires_at: Option<SystemTime>,
}

/// The same credential as the AWS SDKs hold it, for signing requests to the emulator in tests.
impl From<&Credential> for aws_credential_types::Credentials {
    fn from(credential: &Credential) -> Self {
        aws_credential_types::Credentials::new(
            &credential.access_key_id,
            &credential.secret_access_key,
            credential.session_token.clone(),
            None,
            "emulator-credential",
        )
    }
}

impl Credential {
    pub fn new(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Credential {
        Credential {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: session_token.map(str::to_owned),
            expires_at: None,
        }
    }

    /// The same credential, expired from `at` on.
    pub fn expiring_at(self, at: SystemTime) -> Credential {
        Credential { expires_at: Some(at), ..self }
    }
}

impl Default for Credential {
    fn default() -> Credential {
        Credential::new(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, None)
    }
}

/// The wall clock the signature check compares `X-Amz-Date` against. Injectable so tests can pin
/// it to a recorded request's time; the quota and the stats window use the monotonic clock.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(SystemTime::now))
    }

    pub fn fixed(at: SystemTime) -> Clock {
        Clock(Arc::new(move || at))
    }

    pub fn from_fn(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> SystemTime {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", sigv4::format_amz_date(self.now()))
    }
}

/// Everything the emulator does, resolved and checked (the CLI builds one from its flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// Accepted credentials; unknown access keys get UnrecognizedClientException.
    pub credentials: Vec<Credential>,
    /// The region the credential scope must name.
    pub region: String,
    /// Known instance ids; empty accepts any.
    pub instances: Vec<String>,
    /// Requests per second over all signed requests; `None` is unlimited.
    pub rate: Option<f64>,
    /// Bucket size; `None` is `max(1, ceil(rate))`.
    pub burst: Option<u32>,
    /// Added before every answer to a non-introspection request.
    pub latency: Duration,
    /// A uniformly random extra delay in `0..=jitter`.
    pub jitter: Duration,
    /// Fraction (0..1) of signed, admitted requests answered 500 InternalServiceException.
    pub fail_500: f64,
    /// Fraction answered 503 ServiceUnavailableException.
    pub fail_503: f64,
    /// Fraction whose connection is closed without an answer.
    pub drop: f64,
    /// Seeds the fault and jitter draws, so a sequential run is repeatable.
    pub seed: u64,
    /// Contact ids (with `*` wildcards) answered 404 ResourceNotFoundException.
    pub not_found: Vec<String>,
    /// Contact ids (with `*` wildcards) of contacts created before 2018-09-12: 400 InvalidRequestException.
    pub predates: Vec<String>,
    /// Answer every request (but `/_emulator/`) with this status and an HTML page, as a web server,
    /// load balancer or proxy that is not Amazon Connect does; `None`: be Connect.
    pub not_connect: Option<u16>,
    /// The clock signatures are checked against.
    pub clock: Clock,
    /// The port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            credentials: vec![Credential::default()],
            region: "us-east-1".to_owned(),
            instances: Vec::new(),
            rate: None,
            burst: None,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            fail_500: 0.0,
            fail_503: 0.0,
            drop: 0.0,
            seed: 0,
            not_found: Vec::new(),
            predates: Vec::new(),
            not_connect: None,
            clock: Clock::system(),
            port: 0,
        }
    }
}

impl Config {
    /// The bucket size: `--burst`, or one second's worth of `--rate` (at least 1).
    pub fn effective_burst(&self) -> Option<u32> {
        let rate = self.rate?;
        Some(self.burst.unwrap_or_else(|| (rate.ceil() as u32).max(1)))
    }
}

/// A running in-process emulator. Dropping it stops the server and joins its thread.
pub struct Handle {
    addr: SocketAddr,
    emulator: Arc<Emulator>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts an emulator on its own thread and tokio runtime; returns once it is listening.
pub fn spawn(config: Config) -> std::io::Result<Handle> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("connect-emulator")
        .enable_all()
        .build()?;
    let emulator = Arc::new(Emulator::new(config));
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let served = Arc::clone(&emulator);
    let thread = std::thread::Builder::new().name("connect-emulator".to_owned()).spawn(move || {
        runtime.block_on(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => server::serve_shared(served, listener, async move { _ = stop.await }).await,
                Err(error) => tracing::error!(%error, "emulator could not adopt its listener"),
            }
        });
        // Connection tasks still sleeping (latency) are cancelled, not awaited.
        runtime.shutdown_background();
    })?;
    Ok(Handle { addr, emulator, shutdown: Some(shutdown), thread: Some(thread) })
}

impl Handle {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The stored contacts, merged attributes and update counts.
    pub fn state(&self) -> State {
        self.emulator.state()
    }

    pub fn stats(&self) -> Stats {
        self.emulator.stats()
    }

    /// Forgets stored contacts and statistics.
    pub fn reset(&self) {
        self.emulator.reset();
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            _ = thread.join();
        }
    }
}
