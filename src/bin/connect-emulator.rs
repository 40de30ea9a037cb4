//! `connect-emulator`: the local Amazon Connect. Everything lives in `connect_attrs::emulator`.

use clap::Parser;
use connect_attrs::emulator::cli::{Args, run};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // Logs (accept failures, dropped connections at debug) go to stderr; stdout is the address.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).try_init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("connect-emulator: {error}");
            ExitCode::FAILURE
        }
    }
}
