//! Logs go to stderr through tracing (stdout holds only the summary JSON). While a progress bar is
//! on screen, each log line is written with the bar suspended so the two never garble.

use crate::cli::LogFormat;
use indicatif::ProgressBar;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;

static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Installs the subscriber once; `RUST_LOG` overrides the level chosen by -q/-v.
pub fn init(verbose: u8, quiet: bool, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directives(verbose, quiet)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| BarAwareStderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(io::stderr().is_terminal()).with_target(false).try_init(),
    };
}

/// What is logged unless `RUST_LOG` says otherwise: our crate at the chosen level, dependencies'
/// warnings. Not the AWS SDK's credential-chain warnings below `-v`: a provider that finds nothing
/// logs a long debug dump (the instance metadata service's HTTP answer, say), and the line that
/// matters, what to do without credentials, is ours.
fn directives(verbose: u8, quiet: bool) -> String {
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let sdk = if verbose == 0 { ",aws_config=error" } else { "" };
    format!("warn{sdk},connect_attrs={level}")
}

/// Log lines from now on are printed around `bar` (None: no bar any more).
pub fn set_bar(bar: Option<ProgressBar>) {
    if let Ok(mut slot) = BAR.lock() {
        *slot = bar;
    }
}

struct BarAwareStderr;

impl Write for BarAwareStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let bar = BAR.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) => bar.suspend(|| io::stderr().write_all(buf)).map(|_| buf.len()),
            None => io::stderr().write_all(buf).map(|_| buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdks_credential_chain_warnings_show_only_with_verbose() {
        assert_eq!(directives(0, false), "warn,aws_config=error,connect_attrs=info");
        assert_eq!(directives(0, true), "warn,aws_config=error,connect_attrs=warn");
        assert_eq!(directives(1, false), "warn,connect_attrs=debug");
        assert_eq!(directives(2, false), "warn,connect_attrs=trace");
        for (verbose, quiet) in [(0, false), (0, true), (1, false), (3, false)] {
            assert!(EnvFilter::try_new(directives(verbose, quiet)).is_ok());
        }
    }
}
