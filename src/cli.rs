//! What the user typed: clap definitions only. `plan` turns this into checked, resolved settings.

use crate::input::FormatChoice;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "connect-attrs",
    version,
    about = "Bulk-update Amazon Connect contact attributes from CRM-export CSVs",
    long_about = "Reads CRM-export CSVs (wide or long, plain, gzipped or stdin), merges every contact's rows, \
                  checks them against UpdateContactAttributes' limits, and sends them at the account's quota with \
                  retries. Every contact ends up updated, rejected with a reason (errors.csv), or in a retry file \
                  (retry.csv) that can be passed straight back as input."
)]
pub struct Cli {
    /// More logging: -v debug, -vv trace (secrets are never logged)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on stderr; no progress
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log line format on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Update the contacts in INPUT... (prints the summary JSON on stdout)
    Run(RunArgs),
    /// Read, merge and check INPUT... without sending anything; print the plan of the run
    Validate(ValidateArgs),
    /// Print a shell completion script on stdout (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
    /// Print a man page (roff) on stdout: connect-attrs(1), or connect-attrs-SUBCOMMAND(1)
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct InputArgs {
    /// CSV files to read: a path, a .gz path, or - for stdin. Rows of one contact may be in any of them
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// wide: one column per attribute; long: Key/Value rows; auto: decide by the header
    #[arg(long, value_enum, default_value_t = FormatChoice::Auto)]
    pub format: FormatChoice,
    /// Instance for rows without an InstanceId column or value
    #[arg(long, value_name = "ID")]
    pub instance_id: Option<String>,
    /// The column holding the contact id [default: InitialContactId, initial_contact_id, ContactId or contact_id]
    #[arg(long, value_name = "NAME")]
    pub contact_column: Option<String>,
    /// Send empty cells as empty values (by default an empty cell means "not given")
    #[arg(long)]
    pub send_empty: bool,
    /// Add KEY=VALUE to every contact (repeatable); with it, a file of bare contact ids is valid input
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Directory for this run's outputs [default: connect-attrs-runs/<UTC timestamp>]
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Memory for merging contacts; past it, rows are merged through temporary files. SIZE: 256MiB, 1GiB, 500MB, 64k (k, m, g: KiB, MiB, GiB) or bytes
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub memory_limit: u64,
    /// Directory for the merge's temporary files (removed at the end) [default: the system's, e.g. TMPDIR]
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
}

/// The heading of `run`'s own flags in its help (the column flags' heading would carry over).
const SENDING: &str = "Sending";

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// AWS region [default: AWS_REGION, then the profile's region]
    #[arg(long, help_heading = SENDING)]
    pub region: Option<String>,
    /// Profile from the shared AWS config and credentials files [default: AWS_PROFILE]
    #[arg(long, help_heading = SENDING)]
    pub profile: Option<String>,
    /// Service endpoint [default: AWS_ENDPOINT_URL_CONNECT, AWS_ENDPOINT_URL, then https://connect.REGION.amazonaws.com]
    #[arg(long, help_heading = SENDING, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Allow a plain-http endpoint that is not on this machine (loopback is always allowed)
    #[arg(long, help_heading = SENDING)]
    pub allow_insecure_endpoint: bool,
    /// Most requests per second: a number, or auto for the account's quota (Service Quotas)
    #[arg(long, help_heading = SENDING, default_value = "auto", value_parser = parse_rate)]
    pub rate: RateArg,
    /// Most requests at once above the rate [default: with --rate N, the documented ratio (burst 5 at 2/s, 15 at 10/s)]
    #[arg(long, help_heading = SENDING, value_parser = clap::value_parser!(u32).range(1..))]
    pub burst: Option<u32>,
    /// Requests in flight: a number, or auto to reach the rate at the observed latency (up to 1,024 and half the limit on open files)
    #[arg(long, help_heading = SENDING, default_value = "auto", value_parser = parse_concurrency)]
    pub concurrency: ConcurrencyArg,
    /// Attempts per contact, counting the first (throttled attempts do not count)
    #[arg(long, help_heading = SENDING, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Seconds to wait for one answer before the attempt counts as failed
    #[arg(long, help_heading = SENDING, default_value_t = 30, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// First retry delay in milliseconds (doubles each attempt, full jitter, capped at 20 s)
    #[arg(long, help_heading = SENDING, default_value_t = 1000, value_name = "MS", hide = true)]
    pub retry_base_ms: u64,
    /// Keep a Prometheus textfile-collector file here, rewritten every 10 s and at the end
    #[arg(long, help_heading = SENDING, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// Continue the run in RUN_DIR (same inputs, same options): contacts it finished are skipped
    #[arg(long, help_heading = SENDING, value_name = "RUN_DIR", conflicts_with = "run_dir")]
    pub resume: Option<PathBuf>,
    /// With --resume: go on even though the inputs, or where the run sends (endpoint, region, --instance-id), changed since it started
    #[arg(long, help_heading = SENDING, requires = "resume")]
    pub force: bool,
    /// Stop cleanly at this time: HH:MM[:SS] (UTC, its next occurrence) or RFC 3339
    #[arg(long, help_heading = SENDING, value_name = "TIME")]
    pub deadline: Option<String>,
    /// Stop cleanly after this long, such as 6h, 90m or 1h30m
    #[arg(long, help_heading = SENDING, value_name = "DURATION")]
    pub max_duration: Option<String>,
    /// Seconds that requests in flight get to finish once the run is stopping
    #[arg(long, help_heading = SENDING, default_value_t = 10, value_name = "SECONDS")]
    pub grace: u64,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

/// Which columns become attributes, and under which key.
#[derive(Debug, Args)]
#[command(next_help_heading = "Columns")]
pub struct ColumnArgs {
    /// Use column FROM as attribute TO (repeatable); in long files, the Key FROM
    #[arg(long, value_name = "FROM=TO", value_parser = parse_rename)]
    pub rename: Vec<(String, String)>,
    /// Only these columns become attributes (comma-separated, the export's names)
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// These columns never become attributes (comma-separated, the export's names)
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub exclude_columns: Vec<String>,
    /// Replace characters an attribute key cannot hold (anything but A-Z a-z 0-9 _ -) with _
    #[arg(long)]
    pub sanitize_keys: bool,
}

/// What `validate` needs to say how long the run will take.
#[derive(Debug, Args)]
#[command(next_help_heading = "Plan")]
pub struct PlanArgs {
    /// The ceiling the run will use: a number of requests per second, or auto for the account's quota
    #[arg(long, default_value = "auto", value_parser = parse_rate)]
    pub rate: RateArg,
    /// Burst of the ceiling [default: as run]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub burst: Option<u32>,
    /// AWS region, for the quota lookup and instance ARNs [default: AWS_REGION, then the profile's region]
    #[arg(long)]
    pub region: Option<String>,
    /// Profile from the shared AWS config and credentials files [default: AWS_PROFILE]
    #[arg(long)]
    pub profile: Option<String>,
    /// Allow a plain-http Service Quotas endpoint that is not on this machine, as run does
    #[arg(long)]
    pub allow_insecure_endpoint: bool,
    /// Warn when the run would take longer than this (e.g. 8h, 90m, 1h30m)
    #[arg(long, value_name = "DURATION", value_parser = crate::report::plan::parse_duration)]
    pub window: Option<std::time::Duration>,
    /// Print the plan as JSON (with the summary's counts under "summary") instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The subcommand whose page to print [default: the main page]
    #[arg(value_name = "SUBCOMMAND", value_parser = ["run", "validate", "completions"])]
    pub subcommand: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateArg {
    Auto,
    PerSecond(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcurrencyArg {
    Auto,
    Fixed(usize),
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// `256MiB`, `1GiB`, `500MB`, `64k`, `1048576`: binary units with `i` or a bare letter, decimal with `B`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits = trimmed.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits);
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(format!("unknown unit in {text:?}: use B, k, KiB, KB, m, MiB, MB, g, GiB or GB")),
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 && n * multiplier as f64 <= u64::MAX as f64 => {
            Ok((n * multiplier as f64) as u64)
        }
        _ => Err(format!("expected a size such as 256MiB, 1GiB, 500MB, 64k or a number of bytes; got {text:?}")),
    }
}

fn parse_rename(text: &str) -> Result<(String, String), String> {
    // A key cannot hold '=', so the last one separates the column from the key.
    match text.rsplit_once('=') {
        Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok((from.to_string(), to.to_string())),
        _ => Err(format!("expected COLUMN=KEY, got {text:?}")),
    }
}

fn parse_rate(text: &str) -> Result<RateArg, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(RateArg::Auto);
    }
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(RateArg::PerSecond(rate)),
        _ => Err(format!("expected a number of requests per second above 0, or auto; got {text:?}")),
    }
}

fn parse_concurrency(text: &str) -> Result<ConcurrencyArg, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(ConcurrencyArg::Auto);
    }
    match text.parse::<usize>() {
        Ok(n) if (1..=4096).contains(&n) => Ok(ConcurrencyArg::Fixed(n)),
        _ => Err(format!("expected 1 to 4096 or auto, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn set_and_rate_values() {
        assert_eq!(parse_key_value("LegalReview=true"), Ok(("LegalReview".into(), "true".into())));
        assert_eq!(parse_key_value("Note=a=b"), Ok(("Note".into(), "a=b".into())));
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("novalue").is_err());
        assert_eq!(parse_rate("auto"), Ok(RateArg::Auto));
        assert_eq!(parse_rate("2.5"), Ok(RateArg::PerSecond(2.5)));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("NaN").is_err());
        assert_eq!(parse_concurrency("16"), Ok(ConcurrencyArg::Fixed(16)));
        assert!(parse_concurrency("0").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("-1k").is_err());
    }

    #[test]
    fn run_parses_a_typical_command_line() {
        let cli = Cli::try_parse_from([
            "connect-attrs",
            "run",
            "--instance-id",
            "i-1",
            "--set",
            "LegalReview=true",
            "--rate",
            "10",
            "ids.csv",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else { panic!("not run") };
        assert_eq!(args.input.inputs, ["ids.csv"]);
        assert_eq!(args.rate, RateArg::PerSecond(10.0));
        assert_eq!(args.max_attempts, 5);
        assert_eq!(args.input.memory_limit, 256 << 20);
        assert_eq!(args.input.temp_dir, None);
    }
}
