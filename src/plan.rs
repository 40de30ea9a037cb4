//! What the command line resolves to, checked once before the first row is read: inputs, read
//! options, run directory, endpoint, rate ceiling, concurrency and retries. Environment and clock
//! come in as parameters so tests can pin them.

use crate::cli::{ConcurrencyArg, InputArgs, RateArg, RunArgs};
use crate::connect::quotas;
use crate::error::Error;
use crate::input::{ColumnRules, InputSpec, ReadOptions};
use crate::merge::MergeOptions;
use crate::send::Concurrency;
use crate::send::backoff::RetryPolicy;
use crate::send::ratelimit::Ceiling;
use crate::validate;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Reading, merging and checking: shared by `run` and `validate`.
#[derive(Debug, Clone)]
pub struct InputPlan {
    pub inputs: Vec<InputSpec>,
    pub read: ReadOptions,
    pub set: Vec<(String, String)>,
    pub run_dir: PathBuf,
    pub merge: MergeOptions,
}

/// Sending, for `run`.
#[derive(Debug, Clone)]
pub struct SendPlan {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// From the flag or the environment; `None`: the regional endpoint, once the region is known.
    pub endpoint: Option<String>,
    pub allow_insecure_endpoint: bool,
    pub rate: RateArg,
    pub burst: Option<u32>,
    pub concurrency: Concurrency,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

pub fn input_plan(args: &InputArgs, timestamp: &str) -> Result<InputPlan, Error> {
    if args.inputs.iter().filter(|i| *i == "-").count() > 1 {
        return Err(Error::Usage("stdin (-) can be given only once as INPUT".into()));
    }
    for (key, value) in &args.set {
        validate::key_length(key)
            .and_then(|_| validate::key_characters(key))
            .and_then(|_| validate::value_length(key, value))
            .map_err(|e| Error::Usage(format!("--set {key}=...: {e}")))?;
    }
    let default_instance = match &args.instance_id {
        Some(id) => {
            let id = crate::arn::instance_id(id, None).map_err(|e| Error::Usage(format!("--instance-id: {e}")))?;
            validate::instance_id(&id).map_err(|e| Error::Usage(format!("--instance-id: {e}")))?;
            Some(id.into_owned())
        }
        None => None,
    };
    let columns = column_rules(&args.columns)?;
    let run_dir = args.run_dir.clone().unwrap_or_else(|| default_run_dir(Path::new("connect-attrs-runs"), timestamp));
    Ok(InputPlan {
        inputs: args.inputs.iter().map(|i| InputSpec::parse(i)).collect(),
        read: ReadOptions {
            format: args.format,
            contact_column: args.contact_column.clone(),
            default_instance,
            instance_required: true,
            send_empty: args.send_empty,
            allow_bare_ids: !args.set.is_empty(),
            columns,
            region: None,
            cancel: Default::default(),
        },
        set: args.set.clone(),
        run_dir,
        merge: MergeOptions {
            budget: usize::try_from(args.memory_limit).unwrap_or(usize::MAX),
            temp_dir: args.temp_dir.clone(),
        },
    })
}

/// `--rename`, `--columns`, `--exclude-columns`, `--sanitize-keys`; a rename to a key the API
/// refuses is a usage error.
/// `parent/<timestamp>`, or `<timestamp>-2`, `-3`... when a command started in the same second
/// (a `validate` and then its `run`) has it already: the timestamp has one-second resolution.
fn default_run_dir(parent: &Path, timestamp: &str) -> PathBuf {
    let first = parent.join(timestamp);
    if !first.exists() {
        return first;
    }
    let next = (2..1000).map(|n| parent.join(format!("{timestamp}-{n}"))).find(|dir| !dir.exists());
    next.unwrap_or(first)
}

fn column_rules(args: &crate::cli::ColumnArgs) -> Result<ColumnRules, Error> {
    for (from, to) in &args.rename {
        validate::key_length(to)
            .and_then(|_| validate::key_characters(to))
            .map_err(|e| Error::Usage(format!("--rename {from}={to}: {e}")))?;
    }
    Ok(ColumnRules {
        rename: args.rename.clone(),
        only: args.columns.clone(),
        exclude: args.exclude_columns.clone(),
        sanitize: args.sanitize_keys,
    })
}

/// Once the run's region is known: an instance ARN in `--instance-id` must be in it, and so must
/// those in the InstanceId column (checked as rows are read).
pub fn set_region(plan: &mut InputPlan, args: &InputArgs, region: &str) -> Result<(), Error> {
    if let Some(id) = &args.instance_id {
        crate::arn::instance_id(id, Some(region)).map_err(|e| Error::Usage(format!("--instance-id: {e}")))?;
    }
    plan.read.region = Some(region.to_string());
    Ok(())
}

pub fn send_plan(args: &RunArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<SendPlan, Error> {
    let endpoint = args
        .endpoint_url
        .clone()
        .or_else(|| env("AWS_ENDPOINT_URL_CONNECT"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .filter(|e| !e.is_empty());
    if let Some(endpoint) = &endpoint {
        check_endpoint(endpoint, args.allow_insecure_endpoint)?;
    }
    // `--rate auto` signs a call to Service Quotas (with the session token): the same rule.
    if args.rate == RateArg::Auto {
        check_endpoint(&quotas::endpoint("REGION", env), args.allow_insecure_endpoint)?;
    }
    Ok(SendPlan {
        region: args.region.clone(),
        profile: args.profile.clone(),
        endpoint,
        allow_insecure_endpoint: args.allow_insecure_endpoint,
        rate: args.rate,
        burst: args.burst,
        concurrency: concurrency(args.concurrency, crate::descriptors::soft_limit()),
        retry: RetryPolicy {
            max_attempts: args.max_attempts,
            base: Duration::from_millis(args.retry_base_ms),
            ..RetryPolicy::default()
        },
        timeout: Duration::from_secs(args.timeout),
    })
}

/// `--concurrency` for a process that may have `open_files` files open: a number above half of
/// them (each request in flight holds a connection) would run out of files mid-run, connections
/// and the run's own outputs alike, so it is lowered, with a warning. `auto` keeps to the same
/// half by itself.
fn concurrency(arg: ConcurrencyArg, open_files: u64) -> Concurrency {
    match arg {
        ConcurrencyArg::Auto => Concurrency::Auto,
        ConcurrencyArg::Fixed(n) => {
            let allowed = crate::descriptors::connections_allowed(open_files).max(1);
            if n > allowed {
                tracing::warn!(
                    "--concurrency {n} needs a connection, so an open file, per request in flight, and the \
                     limit on open files is {open_files}: using {allowed}; {}",
                    crate::descriptors::REMEDY
                );
            }
            Concurrency::Fixed(n.min(allowed))
        }
    }
}

/// The regional endpoint of Amazon Connect.
pub fn regional_endpoint(region: &str) -> String {
    format!("https://connect.{region}.amazonaws.com")
}

/// A ceiling from `--rate N [--burst B]`; without `--burst`, the documented ratio
/// (2/s burst 5, 10/s burst 15).
pub fn ceiling(rate: f64, burst: Option<u32>) -> Ceiling {
    let default_burst = (rate * 1.5).ceil().max(rate.ceil() + 3.0) as u32;
    Ceiling { rate, burst: burst.unwrap_or(default_burst) }
}

/// https anywhere; plain http only to this machine, or with `--allow-insecure-endpoint`.
pub fn check_endpoint(endpoint: &str, allow_insecure: bool) -> Result<(), Error> {
    let url =
        reqwest::Url::parse(endpoint).map_err(|e| Error::Usage(format!("endpoint {endpoint:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure || is_loopback(&url) => Ok(()),
        "http" => Err(Error::Usage(format!(
            "endpoint {endpoint} is plain http to another machine: contact data and signatures would cross the network unencrypted. Use https, or pass --allow-insecure-endpoint if you really mean it"
        ))),
        other => Err(Error::Usage(format!("endpoint {endpoint}: scheme {other:?} is not http or https"))),
    }
}

/// Whether `url`'s host is this machine: `localhost` or a loopback address (an IPv4-mapped one is
/// not taken for one).
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn run_args(extra: &[&str]) -> RunArgs {
        let mut argv = vec!["connect-attrs", "run"];
        argv.extend_from_slice(extra);
        argv.push("in.csv");
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_fixed_concurrency_keeps_to_half_the_open_files() {
        assert_eq!(concurrency(ConcurrencyArg::Fixed(400), 256), Concurrency::Fixed(128));
        assert_eq!(concurrency(ConcurrencyArg::Fixed(400), 1_024), Concurrency::Fixed(400));
        assert_eq!(concurrency(ConcurrencyArg::Fixed(4), 1), Concurrency::Fixed(1));
        assert_eq!(concurrency(ConcurrencyArg::Auto, 256), Concurrency::Auto);
    }

    #[test]
    fn endpoint_precedence_flag_then_service_env_then_global_env() {
        let env = |name: &str| match name {
            "AWS_ENDPOINT_URL_CONNECT" => Some("http://127.0.0.1:1".to_string()),
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:2".to_string()),
            _ => None,
        };
        let flag = send_plan(&run_args(&["--endpoint-url", "http://127.0.0.1:3"]), &env).unwrap();
        assert_eq!(flag.endpoint.as_deref(), Some("http://127.0.0.1:3"));
        assert_eq!(send_plan(&run_args(&[]), &env).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:1"));
        let global = |name: &str| (name == "AWS_ENDPOINT_URL").then(|| "http://localhost:2".to_string());
        assert_eq!(send_plan(&run_args(&[]), &global).unwrap().endpoint.as_deref(), Some("http://localhost:2"));
        assert_eq!(send_plan(&run_args(&[]), &|_| None).unwrap().endpoint, None);
        assert_eq!(regional_endpoint("eu-west-2"), "https://connect.eu-west-2.amazonaws.com");
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        assert!(check_endpoint("http://127.0.0.1:8080", false).is_ok());
        assert!(check_endpoint("http://[::1]:8080", false).is_ok());
        assert!(check_endpoint("http://localhost:8080", false).is_ok());
        assert!(check_endpoint("https://connect.us-east-1.amazonaws.com", false).is_ok());
        assert!(check_endpoint("http://connect.example.com", false).is_err());
        assert!(check_endpoint("http://connect.example.com", true).is_ok());
        assert!(check_endpoint("ftp://x", true).is_err());
    }

    #[test]
    fn the_service_quotas_endpoint_is_checked_too_when_the_rate_is_auto() {
        let remote =
            |name: &str| (name == "AWS_ENDPOINT_URL_SERVICE_QUOTAS").then(|| "http://quotas.example.com".into());
        let err = send_plan(&run_args(&[]), &remote).unwrap_err().to_string();
        assert!(err.contains("http://quotas.example.com is plain http"), "{err}");
        assert!(send_plan(&run_args(&["--rate", "10"]), &remote).is_ok());
        assert!(send_plan(&run_args(&["--allow-insecure-endpoint"]), &remote).is_ok());
    }

    #[test]
    fn default_burst_follows_the_documented_ratio() {
        assert_eq!(ceiling(2.0, None).burst, 5);
        assert_eq!(ceiling(10.0, None).burst, 15);
        assert_eq!(ceiling(50.0, Some(50)).burst, 50);
    }

    #[test]
    fn bad_set_keys_are_usage_errors() {
        let cli = Cli::try_parse_from(["connect-attrs", "validate", "--set", "Legal Review=true", "x.csv"]).unwrap();
        let Command::Validate(args) = cli.command else { unreachable!() };
        let err = input_plan(&args.input, "t").unwrap_err().to_string();
        assert!(err.contains("--set Legal Review"), "{err}");
    }

    fn validate_args(extra: &[&str]) -> crate::cli::ValidateArgs {
        let mut argv = vec!["connect-attrs", "validate"];
        argv.extend_from_slice(extra);
        argv.push("in.csv");
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Validate(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn column_flags_become_column_rules() {
        let args = validate_args(&[
            "--rename",
            "Customer Tier=CustomerTier",
            "--columns",
            "Customer Tier,Plan",
            "--exclude-columns",
            "Email",
            "--sanitize-keys",
        ]);
        let rules = input_plan(&args.input, "t").unwrap().read.columns;
        assert_eq!(rules.rename, [("Customer Tier".to_string(), "CustomerTier".to_string())]);
        assert_eq!(rules.only, Some(vec!["Customer Tier".to_string(), "Plan".to_string()]));
        assert_eq!(rules.exclude, ["Email"]);
        assert!(rules.sanitize);
        let bad = validate_args(&["--rename", "Tier=Customer Tier"]);
        let err = input_plan(&bad.input, "t").unwrap_err().to_string();
        assert!(err.contains("--rename Tier=Customer Tier"), "{err}");
    }

    #[test]
    fn instance_arn_gives_the_id_and_must_be_in_the_runs_region() {
        let arn = "arn:aws:connect:eu-west-2:123456789012:instance/inst-1";
        let args = validate_args(&["--instance-id", arn]);
        let mut plan = input_plan(&args.input, "t").unwrap();
        assert_eq!(plan.read.default_instance.as_deref(), Some("inst-1"));
        assert!(set_region(&mut plan, &args.input, "eu-west-2").is_ok());
        assert_eq!(plan.read.region.as_deref(), Some("eu-west-2"));
        let err = set_region(&mut plan, &args.input, "us-east-1").unwrap_err();
        assert!(matches!(&err, Error::Usage(m) if m.contains("eu-west-2") && m.contains("us-east-1")), "{err}");
        let malformed = validate_args(&["--instance-id", "arn:aws:connect:eu-west-2:1:queue/x"]);
        assert!(input_plan(&malformed.input, "t").is_err());
    }

    #[test]
    fn a_default_run_dir_taken_in_the_same_second_gets_a_suffix() {
        let parent = tempfile::tempdir().unwrap();
        let stamp = "20261127T000000Z";
        assert_eq!(default_run_dir(parent.path(), stamp), parent.path().join(stamp));
        std::fs::create_dir(parent.path().join(stamp)).unwrap();
        assert_eq!(default_run_dir(parent.path(), stamp), parent.path().join(format!("{stamp}-2")));
        std::fs::create_dir(parent.path().join(format!("{stamp}-2"))).unwrap();
        assert_eq!(default_run_dir(parent.path(), stamp), parent.path().join(format!("{stamp}-3")));
    }
}
