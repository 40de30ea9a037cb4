//! The ceiling `validate` plans with: `--rate N`, else the account's quota from Service Quotas,
//! else the fallback `run` would use (2/s burst 5). Never fails: `validate` must work without AWS
//! credentials or a region, and then says which assumption it made.

use crate::cli::{PlanArgs, RateArg};
use crate::connect::credentials::{self, CredentialCache};
use crate::connect::quotas;
use crate::plan;
use crate::report::plan::{CeilingSource, PlannedCeiling};
use std::time::SystemTime;

/// What `run --rate auto` falls back to when it cannot read the quota.
pub const FALLBACK_RATE: f64 = 2.0;
pub const FALLBACK_BURST: u32 = 5;

/// The planned ceiling, and the run's region when one could be found.
pub async fn for_plan(args: &PlanArgs, env: &dyn Fn(&str) -> Option<String>) -> (PlannedCeiling, Option<String>) {
    let (region, provider) = match args.rate {
        // With --rate N no lookup is needed; the region only matters for instance ARNs.
        RateArg::PerSecond(_) => (args.region.clone().or_else(|| env("AWS_REGION")), None),
        RateArg::Auto => credentials::default_chain(args.profile.as_deref(), args.region.as_deref()).await,
    };
    let ceiling = match args.rate {
        RateArg::PerSecond(rate) => {
            let c = plan::ceiling(rate, args.burst);
            PlannedCeiling { rate: c.rate, burst: c.burst, source: CeilingSource::Flag, note: None }
        }
        RateArg::Auto => match quota(region.as_deref(), provider, env, args.allow_insecure_endpoint).await {
            Ok(rate) => {
                let c = plan::ceiling(rate, args.burst);
                PlannedCeiling { rate: c.rate, burst: c.burst, source: CeilingSource::Quota, note: None }
            }
            Err(why) => fallback(&why, args.burst),
        },
    };
    (ceiling, region)
}

fn fallback(why: &str, burst: Option<u32>) -> PlannedCeiling {
    PlannedCeiling {
        rate: FALLBACK_RATE,
        burst: burst.unwrap_or(FALLBACK_BURST),
        source: CeilingSource::Fallback,
        note: Some(format!(
            "cannot read the account's quota ({why}): planning at the fallback {FALLBACK_RATE}/s that run --rate auto would use; pass --rate N with your account's quota"
        )),
    }
}

async fn quota(
    region: Option<&str>,
    provider: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    env: &dyn Fn(&str) -> Option<String>,
    allow_insecure: bool,
) -> Result<f64, String> {
    let region = region.ok_or("no AWS region: pass --region or set AWS_REGION")?;
    let provider = provider.ok_or("no AWS credentials provider")?;
    let credentials = CredentialCache::new(provider);
    // The credential chain explains each provider on its own line: the first says enough here.
    credentials
        .get(SystemTime::now())
        .await
        .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())?;
    let endpoint = quotas::endpoint(region, env);
    // The call is signed (with any session token): never in clear text off this machine.
    crate::plan::check_endpoint(&endpoint, allow_insecure).map_err(|e| e.to_string())?;
    quotas::update_contact_attributes_rate(&endpoint, region, &credentials).await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn args(extra: &[&str]) -> PlanArgs {
        let mut argv = vec!["connect-attrs", "validate"];
        argv.extend_from_slice(extra);
        argv.push("in.csv");
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Validate(args) => args.plan,
            _ => unreachable!(),
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
    }

    #[test]
    fn rate_flag_needs_no_lookup() {
        let (ceiling, region) = block_on(for_plan(&args(&["--rate", "10", "--region", "eu-west-2"]), &|_| None));
        assert_eq!(ceiling, PlannedCeiling { rate: 10.0, burst: 15, source: CeilingSource::Flag, note: None });
        assert_eq!(region.as_deref(), Some("eu-west-2"));
    }

    #[test]
    fn without_a_region_the_plan_falls_back_with_a_note() {
        let ceiling = fallback("no AWS region: pass --region or set AWS_REGION", None);
        assert_eq!((ceiling.rate, ceiling.burst, ceiling.source), (2.0, 5, CeilingSource::Fallback));
        assert!(ceiling.note.unwrap().contains("no AWS region"));
        let err = block_on(quota(None, None, &|_| None, false)).unwrap_err();
        assert!(err.contains("--region"), "{err}");
    }
}
