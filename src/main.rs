use clap::Parser;
use std::process::ExitCode;

/// Merging allocates and frees millions of small strings; glibc's allocator spends most of that
/// time consolidating free lists (measured: over a third of a spilled merge's CPU). The client's
/// requests gain too: glibc's malloc spent a fifth of their CPU (perf, 2 threads).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
