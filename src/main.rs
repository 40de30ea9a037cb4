use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = connect_attrs::cli::Cli::parse();
    match connect_attrs::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // Logging is set up by then; the message names the flag, file or fix.
            tracing::error!("{err}");
            ExitCode::from(err.exit_code())
        }
    }
}
