//! The `connect-emulator` command line: what the user typed (`Args`), what it resolves to
//! (`Config`, checked once), and `run`, which the binary's `main` calls.

use clap::Parser;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Config, Credential};

/// A local Amazon Connect that answers UpdateContactAttributes (and the Service Quotas calls for
/// its rate) as the real service does, for tests and rehearsals.
#[derive(Debug, Parser)]
#[command(name = "connect-emulator", version)]
pub struct Args {
    /// Port on 127.0.0.1 (0 picks a free one; the first stdout line says which).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Accepted credential `AKID:SECRET[:SESSION_TOKEN]` (repeatable; default the AWS documentation
    /// example pair AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY).
    #[arg(long = "credentials", value_name = "AKID:SECRET[:TOKEN]")]
    pub credentials: Vec<String>,
    /// The region the signature's credential scope must name.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// A known instance id (repeatable; default: accept any).
    #[arg(long = "instance", value_name = "ID")]
    pub instances: Vec<String>,
    /// Quota: requests per second over all signed requests (default: unlimited).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Quota bucket size (default: max(1, ceil(rate))).
    #[arg(long, requires = "rate")]
    pub burst: Option<u32>,
    /// Delay added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// A random extra delay of 0..=N milliseconds.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Fraction (0..1) of requests answered 500 InternalServiceException.
    #[arg(long, default_value_t = 0.0)]
    pub fail_500: f64,
    /// Fraction (0..1) of requests answered 503 ServiceUnavailableException.
    #[arg(long, default_value_t = 0.0)]
    pub fail_503: f64,
    /// Fraction (0..1) of requests whose connection is closed without an answer.
    #[arg(long, default_value_t = 0.0)]
    pub drop: f64,
    /// Seed for fault and jitter draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Contact id or pattern (`*` wildcards) answered 404 ResourceNotFoundException (repeatable).
    #[arg(long = "not-found", value_name = "PATTERN")]
    pub not_found: Vec<String>,
    /// File of contact ids or patterns, one a line, answered 404.
    #[arg(long = "not-found-file", value_name = "FILE")]
    pub not_found_files: Vec<PathBuf>,
    /// Contact id or pattern of contacts created before 2018-09-12: 400 InvalidRequestException.
    #[arg(long = "predates", value_name = "PATTERN")]
    pub predates: Vec<String>,
    /// File of contact ids or patterns, one a line, that predate 2018-09-12.
    #[arg(long = "predates-file", value_name = "FILE")]
    pub predates_files: Vec<PathBuf>,
    /// Be something else than Connect: answer every request with this status (300-599) and an
    /// HTML page, as a web server, load balancer or proxy does.
    #[arg(long, value_name = "STATUS", value_parser = clap::value_parser!(u16).range(300..600))]
    pub not_connect: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("--credentials {0:?}: expected AKID:SECRET or AKID:SECRET:SESSION_TOKEN")]
    Credential(String),
    #[error("--{flag} {value}: must be a fraction between 0 and 1")]
    Fraction { flag: &'static str, value: f64 },
    #[error("--fail-500, --fail-503 and --drop add up to {0}: together they must be at most 1")]
    FractionSum(f64),
    #[error("--rate {0}: must be a positive number of requests per second")]
    Rate(f64),
    #[error("--burst 0: the bucket must hold at least one request")]
    Burst,
    #[error("cannot read {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on 127.0.0.1:{port}: {source} (try --port 0)")]
    Bind { port: u16, source: std::io::Error },
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
}

impl Args {
    /// Resolves and checks the flags.
    pub fn into_config(self) -> Result<Config, CliError> {
        let credentials = match self.credentials.is_empty() {
            true => vec![Credential::default()],
            false => self.credentials.iter().map(|c| parse_credential(c)).collect::<Result<_, _>>()?,
        };
        for (flag, value) in [("fail-500", self.fail_500), ("fail-503", self.fail_503), ("drop", self.drop)] {
            if !(0.0..=1.0).contains(&value) {
                return Err(CliError::Fraction { flag, value });
            }
        }
        let sum = self.fail_500 + self.fail_503 + self.drop;
        if sum > 1.0 {
            return Err(CliError::FractionSum(sum));
        }
        if let Some(rate) = self.rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(CliError::Rate(rate));
        }
        if self.burst == Some(0) {
            return Err(CliError::Burst);
        }
        Ok(Config {
            credentials,
            region: self.region,
            instances: self.instances,
            rate: self.rate,
            burst: self.burst,
            latency: Duration::from_millis(self.latency_ms),
            jitter: Duration::from_millis(self.jitter_ms),
            fail_500: self.fail_500,
            fail_503: self.fail_503,
            drop: self.drop,
            seed: self.seed,
            not_found: with_files(self.not_found, &self.not_found_files)?,
            predates: with_files(self.predates, &self.predates_files)?,
            not_connect: self.not_connect,
            clock: super::Clock::system(),
            port: self.port,
        })
    }
}

pub fn parse_credential(text: &str) -> Result<Credential, CliError> {
    let mut parts = text.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(id), Some(secret), token) if !id.is_empty() && !secret.is_empty() && token != Some("") => {
            Ok(Credential::new(id, secret, token))
        }
        _ => Err(CliError::Credential(text.to_owned())),
    }
}

fn with_files(mut patterns: Vec<String>, files: &[PathBuf]) -> Result<Vec<String>, CliError> {
    for path in files {
        patterns.extend(read_lines(path)?);
    }
    Ok(patterns)
}

/// One id or pattern a line; blank lines and `#` comments are skipped.
fn read_lines(path: &Path) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::File { path: path.to_owned(), source })?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect())
}

/// Binds, prints `listening on http://127.0.0.1:PORT` as the first stdout line, and serves until
/// SIGINT or SIGTERM.
pub async fn run(args: Args) -> Result<(), CliError> {
    let config = args.into_config()?;
    let port = config.port;
    let listener =
        tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|source| CliError::Bind { port, source })?;
    let addr = listener.local_addr().map_err(|source| CliError::Bind { port, source })?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{addr}").and_then(|()| stdout.flush()).map_err(CliError::Stdout)?;
    drop(stdout);
    super::serve(config, listener, shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => _ = tokio::signal::ctrl_c().await,
        }
    }
    #[cfg(not(unix))]
    {
        _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn config(args: &[&str]) -> Result<Config, CliError> {
        Args::try_parse_from(std::iter::once("connect-emulator").chain(args.iter().copied())).unwrap().into_config()
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_match_config_default() {
        let resolved = config(&[]).unwrap();
        let default = Config::default();
        assert_eq!(resolved.credentials, default.credentials);
        assert_eq!(resolved.region, "us-east-1");
        assert_eq!((resolved.rate, resolved.port, resolved.drop), (None, 0, 0.0));
    }

    #[test]
    fn credentials_with_and_without_token() {
        let resolved = config(&["--credentials", "AK:SE", "--credentials", "AS:SE/+x:TOKEN=="]).unwrap();
        assert_eq!(resolved.credentials[0], Credential::new("AK", "SE", None));
        assert_eq!(resolved.credentials[1], Credential::new("AS", "SE/+x", Some("TOKEN==")));
        assert!(matches!(config(&["--credentials", "AKONLY"]), Err(CliError::Credential(_))));
        assert!(matches!(config(&["--credentials", "AK:"]), Err(CliError::Credential(_))));
    }

    #[test]
    fn fractions_and_rates_are_checked() {
        assert!(matches!(config(&["--drop", "1.5"]), Err(CliError::Fraction { flag: "drop", .. })));
        assert!(matches!(config(&["--drop", "0.6", "--fail-500", "0.6"]), Err(CliError::FractionSum(_))));
        assert!(matches!(config(&["--rate", "0"]), Err(CliError::Rate(_))));
        assert!(matches!(config(&["--rate", "5", "--burst", "0"]), Err(CliError::Burst)));
        let resolved = config(&["--rate", "2.5", "--latency-ms", "30", "--jitter-ms", "5"]).unwrap();
        assert_eq!(resolved.effective_burst(), Some(3));
        assert_eq!(resolved.latency, Duration::from_millis(30));
    }

    #[test]
    fn pattern_files_add_to_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gone.txt");
        std::fs::write(&file, "# ids\nc-1\n\n  old-*  \n").unwrap();
        let resolved = config(&["--not-found", "x", "--not-found-file", file.to_str().unwrap()]).unwrap();
        assert_eq!(resolved.not_found, ["x", "c-1", "old-*"]);
        let missing = config(&["--predates-file", "/nonexistent/ids.txt"]);
        assert!(matches!(missing, Err(CliError::File { .. })));
    }

    #[test]
    fn not_connect_takes_a_redirect_or_error_status() {
        assert_eq!(config(&["--not-connect", "405"]).unwrap().not_connect, Some(405));
        assert_eq!(config(&[]).unwrap().not_connect, None);
        let parsed = Args::try_parse_from(["connect-emulator", "--not-connect", "200"]);
        assert!(parsed.is_err());
    }
}
