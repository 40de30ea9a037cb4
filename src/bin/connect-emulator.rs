//! `connect-emulator`: the local Amazon Connect. Everything lives in `connect_attrs::emulator`.

use clap::Parser;
use connect_attrs::emulator::cli::{Args, run};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("connect-emulator: {error}");
            ExitCode::FAILURE
        }
    }
}
